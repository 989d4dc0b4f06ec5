-- proxy/log-queries.sql: review questions over a ddbguard access log, in SQLite (the sqlite3 CLI, 3.38+).
--
-- Load one or more logs (readfile() is a sqlite3 CLI function), then run the whole file for a report:
--
--   sqlite3 review.db \
--     -cmd ".parameter set :log \"'/var/log/ddbguard/access.log'\"" \
--     -cmd ".parameter set :from '2026-01-01T00:00:00.000Z'" -cmd ".parameter set :to '2026-02-01T00:00:00.000Z'" \
--     -cmd ".mode box" ".read proxy/audit/log-queries.sql"
--
-- Each "-- query: NAME" block below is one statement, usable on its own (tests/e2e/test_log_sqlite.py runs
-- them one by one on a generated log and checks exact counts). Lines are loaded whole into log(line);
-- the calls view keeps call records only (digest and chainStart lines have no eventVersion).
-- Field meanings: proxy/audit/ACCESS_LOG.md.

-- query: load
CREATE TABLE IF NOT EXISTS log(line TEXT NOT NULL);
-- query: load-file
-- The file's JSON lines, joined into one JSON array, split by json_each: one row per line.
INSERT INTO log(line)
SELECT value FROM json_each('[' || rtrim(replace(trim(CAST(readfile(:log) AS TEXT), char(10)), char(10), ','), ',')
                            || ']');
-- query: view
CREATE VIEW IF NOT EXISTS calls AS
SELECT log.rowid                                           AS line_no, -- load order: file order
       json_extract(line, '$.eventTime')                   AS time,
       json_extract(line, '$.eventID')                     AS event_id,
       json_extract(line, '$.eventName')                   AS action,
       coalesce(json_extract(line, '$.guard.identity'), '(none)') AS identity,
       json_extract(line, '$.userIdentity.accessKeyId')    AS access_key,
       json_extract(line, '$.sourceIPAddress')             AS source_ip,
       json_extract(line, '$.requestParameters.tableName') AS table_name,
       json_extract(line, '$.guard.decision')              AS decision,
       json_extract(line, '$.guard.policy')                AS policy,
       json_extract(line, '$.guard.statement')             AS statement,
       json_extract(line, '$.errorCode')                   AS error_code,
       json_extract(line, '$.guard.reason')                AS reason,
       json_extract(line, '$.guard.status')                AS status,
       line
FROM log
WHERE json_extract(line, '$.eventVersion') IS NOT NULL;

-- query: calls-by-identity-action-table
-- Every call counted once; "errors" are upstream failures (decision error) and errors DynamoDB answered.
SELECT identity, coalesce(action, '(unknown)') AS action, coalesce(table_name, '-') AS table_name,
       count(*)                                                           AS calls,
       sum(decision = 'allow')                                            AS allowed,
       sum(decision = 'deny')                                             AS denied,
       sum(decision = 'reject')                                           AS rejected,
       sum(decision = 'error' OR (decision = 'allow' AND error_code IS NOT NULL)) AS errors
FROM calls
GROUP BY 1, 2, 3
ORDER BY calls DESC, 1, 2, 3;

-- query: calls-by-resource
-- Per resource ARN (a BatchGetItem over two tables counts once for each).
SELECT json_extract(r.value, '$.ARN') AS arn, json_extract(r.value, '$.type') AS type,
       count(*) AS calls, sum(c.decision = 'deny') AS denied
FROM calls AS c, json_each(c.line, '$.resources') AS r
GROUP BY 1, 2
ORDER BY calls DESC, 1;

-- query: top-denied-statements
-- Explicit denies name the policy statement; implicit ones (no Allow matched) have none.
SELECT coalesce(policy || '/' || coalesce(statement, '(no Sid)'), '(implicit deny: no statement allowed it)')
           AS statement,
       count(*) AS denials, count(DISTINCT identity) AS identities
FROM calls
WHERE decision = 'deny'
GROUP BY 1
ORDER BY denials DESC, 1;

-- query: first-seen-identities
-- Identities whose first call in the whole log falls in [:from, :to).
SELECT identity, min(time) AS first_seen, count(*) AS calls
FROM calls
GROUP BY identity
HAVING min(time) >= :from AND min(time) < :to
ORDER BY first_seen, identity;

-- query: first-seen-tables
-- Tables first named in [:from, :to), and by whom first.
SELECT table_name, min(time) AS first_seen,
       (SELECT c2.identity FROM calls AS c2 WHERE c2.table_name = c.table_name ORDER BY c2.line_no LIMIT 1)
           AS first_identity
FROM calls AS c
WHERE table_name IS NOT NULL
GROUP BY table_name
HAVING min(time) >= :from AND min(time) < :to
ORDER BY first_seen, table_name;

-- query: denials-with-reasons
SELECT time, identity, action, coalesce(table_name, '-') AS table_name, error_code,
       coalesce(policy || '/' || coalesce(statement, '(no Sid)'), '-') AS statement, reason
FROM calls
WHERE decision IN ('deny', 'reject')
ORDER BY line_no;

-- query: shadow-denials
-- Shadow mode (config/README.md): calls that were allowed but would have been denied with every "Mode":
-- "shadow" enforced, and the statement that would have denied them (none: nothing would have allowed it).
-- Read this for a week before switching a policy in shadow to enforce; `ddbguard-log denials --shadow` too.
SELECT time, identity, action, coalesce(table_name, '-') AS table_name,
       json_extract(line, '$.guard.shadow.effect') AS would_be,
       coalesce(json_extract(line, '$.guard.shadow.policy') || '/' ||
                coalesce(json_extract(line, '$.guard.shadow.statement'), '(no Sid)'), '-') AS statement,
       json_extract(line, '$.guard.shadow.resource') AS resource
FROM calls
WHERE json_extract(line, '$.guard.shadow') IS NOT NULL
ORDER BY line_no;

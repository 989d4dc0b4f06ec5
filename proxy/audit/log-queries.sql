-- proxy/audit/log-queries.sql: review questions over a ddbguard access log, in SQLite (the sqlite3 CLI, 3.38+).
--
-- The one place these questions are answered: `ddbguard-log summary | denials | report` embeds this file at
-- build time and runs the same blocks over the same table (it loads the lines itself instead of readfile()).
--
-- Load one or more logs (readfile() is a sqlite3 CLI function), then run the whole file for a report:
--
--   sqlite3 review.db \
--     -cmd ".parameter set :log \"'/var/log/ddbguard/access.log'\"" \
--     -cmd ".parameter set :from \"'2026-01-01T00:00:00.000Z'\"" -cmd ".parameter set :to \"'2026-02-01'\"" \
--     -cmd ".mode box" ".read proxy/audit/log-queries.sql"
--
-- Each "-- query: NAME" block below is one statement, usable on its own (tests/e2e/test_log_sqlite.py runs
-- them one by one on a generated log and checks exact counts, and checks ddbguard-log gives the same
-- answers). Lines are loaded whole into log(line); the calls table keeps call records only (digest,
-- notice and chainStart lines have no eventVersion). Field meanings: proxy/audit/ACCESS_LOG.md.
--
-- The window: queries count calls with :from <= eventTime < :to (ISO 8601 UTC with milliseconds, as the
-- log writes it); an unset parameter leaves that side open. Quote values twice as above: the CLI strips
-- one level of quotes and would evaluate 2026-02-01 as arithmetic. "errors" are upstream failures (decision
-- error) and errors DynamoDB answered to an allowed call (errorCode set), so an allowed call that
-- DynamoDB refused counts as allowed and as an error.

-- query: load
CREATE TABLE IF NOT EXISTS log(line TEXT NOT NULL);
-- query: load-file
-- The file's JSON lines, joined into one JSON array, split by json_each: one row per line.
INSERT INTO log(line)
SELECT value FROM json_each('[' || rtrim(replace(trim(CAST(readfile(:log) AS TEXT), char(10)), char(10), ','), ',')
                            || ']');
-- query: view
-- One row per call record with the fields the questions use, extracted once: a table, not a view, so
-- each line's JSON is parsed once however many questions follow. Load every file before this block.
CREATE TABLE IF NOT EXISTS calls AS
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
       json_extract(line, '$.guard.sourceCountry')         AS country,
       json_extract(line, '$.resources[0].ARN')            AS resource,
       json_extract(line, '$.resources')                   AS resources, -- JSON text of the array
       json_extract(line, '$.errorMessage')                AS error_message
FROM log
WHERE json_extract(line, '$.eventVersion') IS NOT NULL;

-- query: totals
-- Calls in the window, by decision, and the first and last of them.
SELECT count(*)                                                           AS calls,
       coalesce(sum(decision = 'allow'), 0)                               AS allowed,
       coalesce(sum(decision = 'deny'), 0)                                AS denied,
       coalesce(sum(decision = 'reject'), 0)                              AS rejected,
       coalesce(sum(decision = 'error' OR (decision = 'allow' AND error_code IS NOT NULL)), 0) AS errors,
       min(time)                                                          AS first,
       max(time)                                                          AS last
FROM calls
WHERE time >= coalesce(:from, '') AND time < coalesce(:to, '9999');

-- query: calls-by
-- The same counts per identity, action, table and country (one row per dimension and value), most calls
-- first. A call without a table or a country counts under '-'.
SELECT dimension, name, count(*) AS calls,
       sum(decision = 'allow')                                            AS allowed,
       sum(decision = 'deny')                                             AS denied,
       sum(decision = 'reject')                                           AS rejected,
       sum(decision = 'error' OR (decision = 'allow' AND error_code IS NOT NULL)) AS errors
FROM (SELECT 'identity' AS dimension, identity AS name, decision, error_code, time FROM calls
      UNION ALL SELECT 'action', coalesce(action, '-'), decision, error_code, time FROM calls
      UNION ALL SELECT 'table', coalesce(table_name, '-'), decision, error_code, time FROM calls
      UNION ALL SELECT 'country', coalesce(country, '-'), decision, error_code, time FROM calls)
WHERE time >= coalesce(:from, '') AND time < coalesce(:to, '9999')
GROUP BY 1, 2
ORDER BY 1, calls DESC, 2;

-- query: calls-by-identity-action-table
-- Every call counted once; "errors" are upstream failures (decision error) and errors DynamoDB answered.
SELECT identity, coalesce(action, '(unknown)') AS action, coalesce(table_name, '-') AS table_name,
       count(*)                                                           AS calls,
       sum(decision = 'allow')                                            AS allowed,
       sum(decision = 'deny')                                             AS denied,
       sum(decision = 'reject')                                           AS rejected,
       sum(decision = 'error' OR (decision = 'allow' AND error_code IS NOT NULL)) AS errors
FROM calls
WHERE time >= coalesce(:from, '') AND time < coalesce(:to, '9999')
GROUP BY 1, 2, 3
ORDER BY calls DESC, 1, 2, 3;

-- query: calls-by-resource
-- Per resource ARN (a BatchGetItem over two tables counts once for each).
SELECT json_extract(r.value, '$.ARN') AS arn, json_extract(r.value, '$.type') AS type,
       count(*) AS calls, sum(c.decision = 'deny') AS denied
FROM calls AS c, json_each(c.resources) AS r
WHERE c.time >= coalesce(:from, '') AND c.time < coalesce(:to, '9999')
GROUP BY 1, 2
ORDER BY calls DESC, 1;

-- query: top-denied-statements
-- Explicit denies name the policy statement; implicit ones (no Allow matched) have none.
SELECT coalesce(policy || '/' || coalesce(statement, '(no Sid)'), '(implicit deny: no statement allowed it)')
           AS statement,
       count(*) AS denials, count(DISTINCT identity) AS identities
FROM calls
WHERE decision = 'deny' AND time >= coalesce(:from, '') AND time < coalesce(:to, '9999')
GROUP BY 1
ORDER BY denials DESC, 1;

-- query: first-seen-identities
-- Identities whose first call in the whole log falls in [:from, :to); calls counts the whole log.
SELECT identity, min(time) AS first_seen, count(*) AS calls
FROM calls
GROUP BY identity
HAVING min(time) >= coalesce(:from, '') AND min(time) < coalesce(:to, '9999')
ORDER BY first_seen, identity;

-- query: first-seen-tables
-- Tables first named in [:from, :to), and by whom first.
WITH firsts AS (
         -- SQLite takes a bare column from the row that holds the min(): the identity of the first call
         SELECT table_name, min(line_no) AS first_line, identity AS first_identity
         FROM calls WHERE table_name IS NOT NULL GROUP BY table_name),
     seen AS (SELECT table_name, min(time) AS first_seen FROM calls WHERE table_name IS NOT NULL GROUP BY table_name)
SELECT s.table_name AS table_name, s.first_seen AS first_seen, f.first_identity AS first_identity
FROM seen AS s JOIN firsts AS f USING (table_name)
WHERE s.first_seen >= coalesce(:from, '') AND s.first_seen < coalesce(:to, '9999')
ORDER BY s.first_seen, s.table_name;

-- query: denials-with-reasons
-- Denied and rejected calls in load order; resource is the first resource ARN the call named.
SELECT time, decision, identity, coalesce(action, '-') AS action, coalesce(table_name, '-') AS table_name,
       coalesce(resource, '-') AS resource, error_code,
       coalesce(policy || '/' || coalesce(statement, '(no Sid)'), '-') AS statement,
       coalesce(reason, error_message, error_code) AS reason
FROM calls
WHERE decision IN ('deny', 'reject') AND time >= coalesce(:from, '') AND time < coalesce(:to, '9999')
ORDER BY line_no;

-- query: calls-over-time
-- The window's calls per bucket of :step_ms milliseconds starting at :start_ms (Unix ms), with the counts
-- above: the chart of `ddbguard-log report`. Buckets without calls have no row.
SELECT (CAST(strftime('%s', time) AS INTEGER) * 1000 + CAST(substr(time, 21, 3) AS INTEGER) - :start_ms)
           / :step_ms                                                     AS bucket,
       count(*)                                                           AS calls,
       sum(decision = 'allow')                                            AS allowed,
       sum(decision = 'deny')                                             AS denied,
       sum(decision = 'reject')                                           AS rejected,
       sum(decision = 'error' OR (decision = 'allow' AND error_code IS NOT NULL)) AS errors
FROM calls
WHERE time >= coalesce(:from, '') AND time < coalesce(:to, '9999')
GROUP BY 1
ORDER BY 1;

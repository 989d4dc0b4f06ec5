"""proxy/audit/log-queries.sql: the review recipes for SQLite (sqlite3 CLI), run one by one on a log generated
here by a fresh guard, with exact expected answers; and ddbguard-log (which embeds the same file) giving the
same answers as the CLI, on that log and on a synthetic one with every kind of line."""
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from guardlib import DDBGUARD_BIN, READER_KEY, ROOT, table_arn

SQL = ROOT / "proxy" / "audit" / "log-queries.sql"
FAR = "2999-01-01T00:00:00.000Z"


def queries():
    blocks, name = {}, None
    for line in SQL.read_text().splitlines():
        m = re.match(r"^-- query: (\S+)\s*$", line)
        if m:
            name = m.group(1)
            blocks[name] = ""
        elif name is not None:
            blocks[name] += line + "\n"
    return blocks


def sqlite(db, sql, **params):
    cmds = []
    for k, v in params.items():
        cmds += ["-cmd", ".parameter set :%s \"'%s'\"" % (k, v)]
    out = subprocess.run(["sqlite3", "-bail", "-json", *cmds, str(db)], input=sql, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else []


def utc_ms_now():
    """Now in the access log's eventTime format (2026-01-01T00:00:00.000Z), from one clock reading."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + ".%03dZ" % (ns // 10**6 % 1000)


@pytest.fixture(scope="module")
def review(make_guard, dynalite, tables, tmp_path_factory):
    """A guard whose whole log is the traffic below, loaded into a SQLite database."""
    g = make_guard("sqlite-review", dynalite.url)
    app, reader = g.boto(), g.boto(key=READER_KEY)
    for _ in range(3):
        app.get_item(TableName="users", Key={"pk": {"S": "u1"}})
    for i in range(2):
        app.put_item(TableName="orders", Item={"pk": {"S": "sq%d" % i}, "sk": {"S": "x"}})
    for _ in range(2):
        with pytest.raises(ClientError):
            app.execute_statement(Statement="SELECT * FROM orders WHERE pk = 'x'")
    with pytest.raises(ClientError):
        app.get_item(TableName="secrets", Key={"pk": {"S": "s1"}})
    with pytest.raises(ClientError):
        app.put_item(TableName="users", Item={"pk": {"S": "u1"}}, ConditionExpression="attribute_not_exists(pk)")
    last = max(g.record(call)["eventTime"] for call in g.calls)  # every record of phase one, by request id
    # eventTime has millisecond resolution: phase two starts once the clock has passed phase one's last.
    while utc_ms_now() <= last:
        time.sleep(0.001)
    reader.get_item(TableName="users", Key={"pk": {"S": "u1"}})
    reader_from = g.record(eventName="GetItem")["eventTime"]
    assert reader_from > last
    with pytest.raises(ClientError):
        reader.put_item(TableName="users", Item={"pk": {"S": "u2"}})
    head, body = g.request_bytes("GetItem", b"{not json")
    assert g.raw(head, body).status == 400
    recs = [g.record(call) for call in g.calls]
    # 12 call records and no other; digest lines (written on a timer too) are not calls
    assert len(recs) == 12 and len([r for r in g.log.records() if "eventVersion" in r]) == 12
    db = tmp_path_factory.mktemp("sqlite-review") / "review.db"
    q = queries()
    sqlite(db, q["load"] + q["load-file"] + q["view"], log=g.log.path)
    return db, q, reader_from, g.log.path


def test_load_keeps_every_call(review):
    db, q, _, _ = review
    assert sqlite(db, "SELECT count(*) AS n FROM calls")[0]["n"] == 12


def test_calls_by_identity_action_table(review):
    db, q, _, _ = review
    rows = [tuple(r.values()) for r in sqlite(db, q["calls-by-identity-action-table"])]
    assert rows == [
        ("app", "GetItem", "users", 3, 3, 0, 0, 0),
        ("app", "ExecuteStatement", "orders", 2, 0, 2, 0, 0),
        ("app", "PutItem", "orders", 2, 2, 0, 0, 0),
        ("(none)", "GetItem", "-", 1, 0, 0, 1, 0),
        ("app", "GetItem", "secrets", 1, 0, 1, 0, 0),
        ("app", "PutItem", "users", 1, 1, 0, 0, 1),
        ("reader", "GetItem", "users", 1, 1, 0, 0, 0),
        ("reader", "PutItem", "users", 1, 0, 1, 0, 0),
    ]


def test_calls_by_resource(review):
    db, q, _, _ = review
    rows = [(r["arn"], r["calls"], r["denied"]) for r in sqlite(db, q["calls-by-resource"])]
    assert rows == [(table_arn("users"), 6, 1), (table_arn("orders"), 4, 2), (table_arn("secrets"), 1, 1)]


def test_top_denied_statements(review):
    db, q, _, _ = review
    rows = [tuple(r.values()) for r in sqlite(db, q["top-denied-statements"])]
    assert rows == [("(implicit deny: no statement allowed it)", 2, 2), ("guardrails/DenyPartiQL", 2, 1)]


def test_first_seen_identities_in_a_window(review):
    db, q, reader_from, _ = review
    everyone = sqlite(db, q["first-seen-identities"], **{"from": "2000-01-01T00:00:00.000Z", "to": FAR})
    assert [(r["identity"], r["calls"]) for r in everyone] == [("app", 9), ("reader", 2), ("(none)", 1)]
    late = sqlite(db, q["first-seen-identities"], **{"from": reader_from, "to": FAR})
    assert [r["identity"] for r in late] == ["reader", "(none)"]
    assert sqlite(db, q["first-seen-identities"], **{"from": FAR, "to": FAR}) == []


def test_first_seen_tables_in_a_window(review):
    db, q, reader_from, _ = review
    rows = sqlite(db, q["first-seen-tables"], **{"from": "2000-01-01T00:00:00.000Z", "to": FAR})
    assert [(r["table_name"], r["first_identity"]) for r in rows] == [
        ("users", "app"), ("orders", "app"), ("secrets", "app")]
    assert sqlite(db, q["first-seen-tables"], **{"from": reader_from, "to": FAR}) == []


def test_denials_with_reasons(review):
    db, q, _, _ = review
    rows = sqlite(db, q["denials-with-reasons"])
    assert [(r["identity"], r["action"], r["table_name"], r["error_code"], r["statement"]) for r in rows] == [
        ("app", "ExecuteStatement", "orders", "AccessDeniedException", "guardrails/DenyPartiQL"),
        ("app", "ExecuteStatement", "orders", "AccessDeniedException", "guardrails/DenyPartiQL"),
        ("app", "GetItem", "secrets", "AccessDeniedException", "-"),
        ("reader", "PutItem", "users", "AccessDeniedException", "-"),
        ("(none)", "GetItem", "-", "SerializationException", "-"),
    ]
    assert all(r["reason"] for r in rows)
    assert "DenyPartiQL" in rows[0]["reason"] and table_arn("secrets") in rows[2]["reason"]


def test_the_whole_file_runs_as_a_report(review, tmp_path):
    """The documented one-shot use: load, then every query, in one sqlite3 run."""
    _, _, _, log_path = review
    out = subprocess.run(
        ["sqlite3", "-bail", "-cmd", ".parameter set :log \"'%s'\"" % log_path,
         "-cmd", ".parameter set :from \"'2000-01-01'\"", "-cmd", ".parameter set :to \"'2999-01-01'\"",
         "-cmd", ".mode box", str(tmp_path / "report.db"), ".read %s" % SQL],
        capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "DenyPartiQL" in out.stdout and "secrets" in out.stdout


# ---- ddbguard-log runs these same queries: both must give the same answers ----------------------------

LOG_BIN = Path(os.environ.get("DDBGUARD_LOG_BIN", Path(DDBGUARD_BIN).parent / "ddbguard-log"))
COUNTS = ("calls", "allowed", "denied", "rejected", "errors")
DIMENSIONS = {"identity": "byIdentity", "action": "byAction", "table": "byTable", "country": "byCountry"}


def cli_answers(log_path, tmp_path, since=None, until=None):
    """The sqlite3 CLI running log-queries.sql over the file, as its header documents."""
    db = tmp_path / ("cli-%s-%s.db" % (since, until))
    q = queries()
    sqlite(db, q["load"] + q["load-file"] + q["view"], log=log_path)
    window = {k: v for k, v in (("from", since), ("to", until)) if v is not None}
    return {name: sqlite(db, q[name], **window) for name in
            ("totals", "calls-by", "top-denied-statements", "first-seen-identities", "first-seen-tables",
             "denials-with-reasons")}


def tool_answers(log_path, since=None, until=None):
    args = (["--since", since] if since else []) + (["--until", until] if until else [])
    out = []
    for cmd in ("summary", "denials"):
        p = subprocess.run([str(LOG_BIN), cmd, "--json", *args, str(log_path)], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, (cmd, p.stderr)
        out.append(p.stdout)
    return json.loads(out[0]), [json.loads(l) for l in out[1].splitlines()]


def assert_same_answers(log_path, tmp_path, since=None, until=None):
    """Every question ddbguard-log answers, compared with the CLI's answer to the same query."""
    cli = cli_answers(log_path, tmp_path, since, until)
    summary, denials = tool_answers(log_path, since, until)
    t = cli["totals"][0]
    assert summary["totals"] == {k: t[k] for k in COUNTS}
    assert (summary["window"]["first"], summary["window"]["last"]) == (t["first"], t["last"])
    for dim, key in DIMENSIONS.items():
        want = [dict(name=r["name"], **{k: r[k] for k in COUNTS}) for r in cli["calls-by"] if r["dimension"] == dim]
        assert summary[key] == want, dim
    assert summary["deniedStatements"] == [
        {"key": r["statement"], "count": r["denials"], "identities": r["identities"]}
        for r in cli["top-denied-statements"]]
    assert summary["firstSeen"]["identities"] == [
        {"name": r["identity"], "first": r["first_seen"], "calls": r["calls"]} for r in cli["first-seen-identities"]]
    assert summary["firstSeen"]["tables"] == [
        {"name": r["table_name"], "first": r["first_seen"], "firstIdentity": r["first_identity"]}
        for r in cli["first-seen-tables"]]
    assert [(d["eventTime"], d["decision"], d["identity"], d["action"], d["resource"], d["statement"], d["reason"])
            for d in denials] == [
        (r["time"], r["decision"], r["identity"], r["action"], r["resource"], r["statement"], r["reason"])
        for r in cli["denials-with-reasons"]]
    return summary, denials


def test_tool_and_cli_agree_on_real_traffic(review, tmp_path):
    """The guard's own log: allows, denials (explicit and implicit), a rejected call, and an allowed call
    DynamoDB answered with ConditionalCheckFailedException."""
    _, _, reader_from, log_path = review
    summary, denials = assert_same_answers(log_path, tmp_path)
    assert summary["totals"] == {"calls": 12, "allowed": 7, "denied": 4, "rejected": 1, "errors": 1}
    assert len(denials) == 5
    assert_same_answers(log_path, tmp_path, since=reader_from)


def synthetic_log(path):
    """Every kind of line: allowed; allowed but DynamoDB answered an error; an upstream failure (decision
    error); explicit and implicit denials; a rejected call with no identity; digest, notice and chainStart
    lines; and a later call that names a new table."""
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/"

    def call(t, name, decision, identity=None, table=None, error=None, policy=None, sid=None, country=None):
        guard = {"decision": decision, "status": 200 if decision == "allow" else 400}
        if identity:
            guard["identity"] = identity
        if policy:
            guard["policy"], guard["statement"] = policy, sid
        if country:
            guard["sourceCountry"] = country
        if decision in ("deny", "reject"):
            guard["reason"] = "why %s %s" % (decision, name)
        rec = {"eventVersion": "1.09", "eventTime": "2026-05-01T%s.000Z" % t, "eventName": name,
               "requestParameters": {"tableName": table} if table else None,
               "resources": [{"type": "AWS::DynamoDB::Table", "ARN": arn + table}] if table else [],
               "guard": guard}
        if error:
            rec["errorCode"], rec["errorMessage"] = error, "message for " + error
        return json.dumps(rec)

    lines = [
        call("10:00:00", "GetItem", "allow", "app", "orders", country="DE"),
        json.dumps({"ddbguardDigest": {"records": 1}, "chain": {"seq": 2}}),
        json.dumps({"ddbguardNotice": {"eventTime": "2026-05-01T10:00:30.000Z", "kind": "failOpen",
                                       "message": "fail_open is true"}}),
        call("10:01:00", "PutItem", "allow", "app", "orders", error="ConditionalCheckFailedException"),
        call("10:02:00", "GetItem", "error", "app", "orders", error="ServiceUnavailableException"),
        call("10:03:00", "Scan", "deny", "reader", "secrets", "AccessDeniedException", "guardrails", "DenyScan"),
        call("10:04:00", "PutItem", "deny", "reader", "orders", "AccessDeniedException"),
        call("10:05:00", "GetItem", "reject", error="SerializationException"),
        json.dumps({"chainStart": {"reason": "the last line did not verify"}}),
        call("11:00:00", "GetItem", "allow", "reader", "users", country="US"),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_tool_and_cli_agree_on_every_kind_of_line(tmp_path):
    # not named access*.log: test_zz_log_schema validates those as the writer's own output
    log = synthetic_log(tmp_path / "synthetic-review.log")
    summary, denials = assert_same_answers(log, tmp_path)
    # Counted by hand: 7 calls; errors are the upstream failure and the allowed call DynamoDB refused (the
    # C review counted only the first, so it said 1 while log-queries.sql said 2).
    assert summary["totals"] == {"calls": 7, "allowed": 3, "denied": 2, "rejected": 1, "errors": 2}
    assert summary["input"] == {"files": 1, "records": 7, "digests": 1, "malformed": 0, "truncated": 0}
    assert [(e["name"], e["calls"], e["errors"]) for e in summary["byIdentity"]] == [
        ("app", 3, 2), ("reader", 3, 0), ("(none)", 1, 0)]
    assert [(e["key"], e["count"]) for e in summary["deniedStatements"]] == [
        ("(implicit deny: no statement allowed it)", 1), ("guardrails/DenyScan", 1)]
    assert [(d["decision"], d["action"], d["statement"]) for d in denials] == [
        ("deny", "Scan", "guardrails/DenyScan"), ("deny", "PutItem", "-"), ("reject", "GetItem", "-")]
    later, _ = assert_same_answers(log, tmp_path, since="2026-05-01T10:30:00.000Z")
    assert later["totals"]["calls"] == 1
    assert [t["name"] for t in later["firstSeen"]["tables"]] == ["users"]
    assert later["firstSeen"]["identities"] == []
    early, _ = assert_same_answers(log, tmp_path, since="2026-05-01T10:01:00.000Z", until="2026-05-01T10:04:00.000Z")
    assert early["totals"] == {"calls": 3, "allowed": 1, "denied": 1, "rejected": 0, "errors": 2}

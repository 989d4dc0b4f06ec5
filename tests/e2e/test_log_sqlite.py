"""proxy/log-queries.sql: the review recipes for SQLite (sqlite3 CLI), run one by one on a log generated
here by a fresh guard, with exact expected answers."""
import json
import re
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from guardlib import READER_KEY, ROOT, table_arn

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
    assert len(recs) == 12 and len(g.log.records()) == 12
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
         "-cmd", ".parameter set :from '2000-01-01'", "-cmd", ".parameter set :to '2999-01-01'",
         "-cmd", ".mode box", str(tmp_path / "report.db"), ".read %s" % SQL],
        capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "DenyPartiQL" in out.stdout and "secrets" in out.stdout

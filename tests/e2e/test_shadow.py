"""Shadow mode: "Mode": "shadow" on a policy or statement, "mode": "shadow" on an identity. A call only
something in shadow would deny is forwarded and logged as allow with guard.shadow; enforcing Denies (the
baseline-style guardrails) keep denying; `ddbguard-log denials --shadow`, the SQL recipe and `explain` show
the would-be verdicts."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from guardlib import DDBGUARD_BIN, ROOT, table_arn

LOG_BIN = Path(os.environ.get("DDBGUARD_LOG_BIN", Path(DDBGUARD_BIN).parent / "ddbguard-log"))
TRIAL_KEY = "AKIATRIAL00000000001"
MIXED_KEY = "AKIAMIXED00000000001"
DRY_KEY = "AKIADRYRUN0000000001"


def shadow_config(cfg):
    cfg["policies"]["new-allow-list"] = {
        "Version": "2012-10-17", "Mode": "shadow",
        "Statement": [{"Sid": "UsersOnly", "Effect": "Allow", "Action": "dynamodb:GetItem",
                       "Resource": table_arn("users")}]}
    cfg["policies"]["mixed"] = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ItemsEverywhere", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
             "Resource": "*"},
            {"Sid": "NoUserWrites", "Effect": "Deny", "Mode": "shadow", "Action": "dynamodb:PutItem",
             "Resource": table_arn("users")}]}
    cfg["identities"] += [
        # guardrails (explicit Denies) enforce; the new allow-list is on trial.
        {"name": "trial", "access_key_ids": [TRIAL_KEY], "policies": ["guardrails", "new-allow-list"]},
        {"name": "mixed", "access_key_ids": [MIXED_KEY], "policies": ["mixed"]},
        {"name": "dry", "mode": "shadow", "access_key_ids": [DRY_KEY], "policies": ["read-only", "guardrails"]},
    ]


@pytest.fixture(scope="module")
def sg(make_guard, dynalite, tables):
    return make_guard("shadow", dynalite.url, mutate=shadow_config)


def test_shadow_allow_list_forwards_what_it_would_deny_and_logs_it(sg):
    c = sg.boto(key=TRIAL_KEY)
    mark = sg.log.mark()
    r = c.get_item(TableName="users", Key={"pk": {"S": "u1"}})  # the allow-list allows it
    rec = sg.log.one(mark, requestID=r["ResponseMetadata"]["RequestId"])
    g = rec["guard"]
    assert g["decision"] == "allow" and "shadow" not in g and g["policy"] == "new-allow-list", rec
    assert g["statement"] == "UsersOnly"
    mark = sg.log.mark()
    r = c.get_item(TableName="orders", Key={"pk": {"S": "o1"}, "sk": {"S": "x"}})  # it would not
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    rec = sg.log.one(mark, requestID=r["ResponseMetadata"]["RequestId"])
    g = rec["guard"]
    assert g["decision"] == "allow" and "policy" not in g, rec
    assert g["shadow"] == {"decision": "deny", "effect": "implicit-deny", "resource": table_arn("orders")}, g


def test_enforcing_denies_keep_denying_next_to_a_shadow_allow_list(sg):
    c = sg.boto(key=TRIAL_KEY)
    mark = sg.log.mark()
    with pytest.raises(ClientError) as e:
        c.execute_statement(Statement='SELECT * FROM "users"')
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    rec = sg.log.one(mark, eventName="ExecuteStatement")
    assert rec["guard"]["decision"] == "deny" and rec["guard"]["policy"] == "guardrails", rec
    assert rec["guard"]["statement"] == "DenyPartiQL" and "shadow" not in rec["guard"]


def test_shadow_deny_statement_is_logged_not_enforced(sg, direct):
    c = sg.boto(key=MIXED_KEY)
    mark = sg.log.mark()
    r = c.put_item(TableName="users", Item={"pk": {"S": "shadow-put"}})
    rec = sg.log.one(mark, requestID=r["ResponseMetadata"]["RequestId"])
    g = rec["guard"]
    assert g["decision"] == "allow" and g["policy"] == "mixed" and g["statement"] == "ItemsEverywhere", rec
    assert g["shadow"] == {"decision": "deny", "effect": "explicit-deny", "policy": "mixed",
                           "statement": "NoUserWrites", "resource": table_arn("users")}, g
    assert "Item" in direct.get_item(TableName="users", Key={"pk": {"S": "shadow-put"}})


def test_identity_in_shadow_mode_is_a_dry_run(sg):
    c = sg.boto(key=DRY_KEY)
    mark = sg.log.mark()
    r = c.put_item(TableName="orders", Item={"pk": {"S": "dry"}, "sk": {"S": "1"}})  # read-only would deny
    rec = sg.log.one(mark, requestID=r["ResponseMetadata"]["RequestId"])
    assert rec["guard"]["decision"] == "allow" and rec["guard"]["shadow"]["effect"] == "implicit-deny", rec
    mark = sg.log.mark()
    # Even the guardrails are a dry run here: the call reaches dynalite (which does not know PartiQL).
    with pytest.raises(ClientError) as e:
        c.execute_statement(Statement='SELECT * FROM "users"')
    assert e.value.response["Error"]["Code"] == "UnknownOperationException"
    rec = sg.log.one(mark, eventName="ExecuteStatement")
    assert rec["guard"]["decision"] == "allow" and rec["guard"]["upstream"]["status"] == 400, rec
    assert rec["guard"]["shadow"]["policy"] == "guardrails" and rec["guard"]["shadow"]["statement"] == "DenyPartiQL"


def test_denials_shadow_lists_exactly_the_would_be_denials(sg):
    test_shadow_allow_list_forwards_what_it_would_deny_and_logs_it(sg)
    recs = [r for r in sg.log.records() if "shadow" in r.get("guard", {})]
    out = subprocess.run([str(LOG_BIN), "denials", "--shadow", "--json", str(sg.log.path)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == len(recs) and len(rows) >= 2, (rows, recs)
    for row, rec in zip(rows, recs):
        assert row["eventTime"] == rec["eventTime"] and row["identity"] == rec["guard"]["identity"]
        assert row["wouldBe"] == rec["guard"]["shadow"]["effect"]
        assert row["policy"] == rec["guard"]["shadow"].get("policy")
    text = subprocess.run([str(LOG_BIN), "denials", "--shadow", str(sg.log.path)], capture_output=True,
                          text=True, timeout=30).stdout
    assert "implicit-deny" in text and "WOULD" in text
    # Plain `denials` does not list them: they were allowed.
    plain = subprocess.run([str(LOG_BIN), "denials", "--json", str(sg.log.path)], capture_output=True,
                           text=True, timeout=30).stdout
    assert all(json.loads(line)["decision"] in ("deny", "reject") for line in plain.splitlines())


def test_sql_recipe_lists_the_same_would_be_denials(sg, tmp_path):
    sql = (ROOT / "proxy" / "audit" / "log-queries.sql").read_text()
    blocks = dict(re.findall(r"^-- query: (\S+)\n(.*?)(?=^-- query: |\Z)", sql, re.S | re.M))
    script = blocks["load"] + blocks["load-file"] + blocks["view"] + blocks["shadow-denials"]
    out = subprocess.run(["sqlite3", "-bail", "-json", "-cmd", ".parameter set :log \"'%s'\"" % sg.log.path,
                          str(tmp_path / "r.db")], input=script, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    want = [r for r in sg.log.records() if "shadow" in r.get("guard", {})]
    assert len(rows) == len(want) > 0
    assert {r["would_be"] for r in rows} <= {"implicit-deny", "explicit-deny"}


def test_explain_shows_the_enforced_and_the_shadow_verdict(sg):
    req = json.dumps({"target": "DynamoDB_20120810.GetItem", "access_key_id": TRIAL_KEY,
                      "body": {"TableName": "orders", "Key": {"pk": {"S": "a"}, "sk": {"S": "b"}}}})
    r = subprocess.run([str(DDBGUARD_BIN), "explain", "-c", str(sg.config_path)], input=req,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr  # allowed: that is what the gateway does
    assert "decision: allow (shadow mode" in r.stdout, r.stdout
    assert "shadow decision (every Mode shadow enforced): implicit deny" in r.stdout, r.stdout
    assert "[shadow]" in r.stdout
    req = json.dumps({"target": "DynamoDB_20120810.PutItem", "access_key_id": MIXED_KEY,
                      "body": {"TableName": "users", "Item": {"pk": {"S": "a"}}}})
    r = subprocess.run([str(DDBGUARD_BIN), "explain", "-c", str(sg.config_path)], input=req,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "decision: allow (dynamodb:PutItem" in r.stdout, r.stdout
    assert re.search(r"shadow decision \(every Mode shadow enforced\): explicit deny .*NoUserWrites", r.stdout)


def test_check_refuses_an_unknown_mode(sg, tmp_path):
    cfg = json.loads(sg.config_path.read_text())
    cfg["policies"]["mixed"]["Statement"][1]["Mode"] = "audit"
    cfg["identities"][-1]["mode"] = "dry"
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(cfg))
    r = subprocess.run([str(DDBGUARD_BIN), "--check", "-c", str(p)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert 'Statement[1].Mode: expected "enforce" or "shadow"' in r.stderr, r.stderr
    assert re.search(r'identities\[4\]\.mode: expected "enforce" or "shadow"', r.stderr), r.stderr

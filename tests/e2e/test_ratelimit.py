"""Rate limits: token buckets per identity (narrowed to actions and tables) and per source address. Over the
limit a call gets DynamoDB's ThrottlingException (HTTP 400), its record says decision "throttle" with the rule,
and boto3's retry mode backs off and gets through. Counts, not timing: every rate here refills slowly
(one token per ten seconds) unless the test waits for a refill through boto3's own retries."""
import subprocess

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from guardlib import APP_KEY, DDBGUARD_BIN, READER_KEY, REGION, SECRET

GET_USERS = b'{"TableName":"users","Key":{"pk":{"S":"u1"}}}'
PUT_ORDERS = b'{"TableName":"orders","Item":{"pk":{"S":"rl"},"sk":{"S":"1"}}}'
PUT_USERS = b'{"TableName":"users","Item":{"pk":{"S":"rl"}}}'


def limits(cfg):
    cfg["rate_limits"] = [
        # app's writes to orders: one per ten seconds
        {"name": "app-order-writes", "identity": "app", "actions": ["dynamodb:Put*", "dynamodb:UpdateItem"],
         "tables": ["orders"], "rate": 0.1, "burst": 1},
        # every identity separately: reader gets 3 at once, then one per ten seconds
        {"name": "per-identity", "rate": 0.1, "burst": 3},
    ]


@pytest.fixture(scope="module")
def rg(make_guard, dynalite, tables):
    return make_guard("ratelimit", dynalite.url, mutate=limits)


def throttled(resp):
    return resp.status == 400 and resp.json()["__type"] == "com.amazon.coral.availability#ThrottlingException"


def test_narrowed_bucket_throttles_only_its_actions_and_tables(rg):
    mark = rg.log.mark()
    first = rg.raw(*rg.request_bytes("PutItem", PUT_ORDERS))
    assert first.status == 200, first
    second = rg.raw(*rg.request_bytes("PutItem", PUT_ORDERS))
    assert throttled(second), second
    assert "app-order-writes" in second.json()["message"]
    # Not narrowed to these: other table, other action. (app is not under per-identity's 3? it is: 2 left.)
    assert rg.raw(*rg.request_bytes("PutItem", PUT_USERS)).status == 200
    assert rg.raw(*rg.request_bytes("GetItem", b'{"TableName":"orders","Key":{"pk":{"S":"a"},"sk":{"S":"b"}}}')).status == 200
    recs = rg.log.wait(mark, n=4)
    rec = [r for r in recs if r["guard"]["decision"] == "throttle"]
    assert len(rec) == 1, recs
    g = rec[0]["guard"]
    assert rec[0]["errorCode"] == "ThrottlingException" and rec[0]["eventName"] == "PutItem"
    assert g["rateLimit"] == {"name": "app-order-writes", "per": "identity", "rate": 0.1, "burst": 1}, g
    assert g["status"] == 400 and "upstream" not in g and g["identity"] == "app"
    # The app used its three per-identity tokens (the throttled call gave its back): the next one is throttled
    # by per-identity, and the reader, another identity, still has its own.
    r = rg.raw(*rg.request_bytes("GetItem", GET_USERS))
    assert throttled(r) and "per-identity" in r.json()["message"], r
    assert rg.raw(*rg.request_bytes("GetItem", GET_USERS, key=READER_KEY)).status == 200


def test_per_source_address(make_guard, dynalite, tables):
    g = make_guard("ratelimit-src", dynalite.url, mutate=lambda cfg: cfg.__setitem__("rate_limits", [
        {"name": "per-client", "per": "source_address", "rate": 0.1, "burst": 2}]))
    mark = g.log.mark()
    got = [g.raw(*g.request_bytes("GetItem", GET_USERS, key=k)).status for k in (APP_KEY, READER_KEY, READER_KEY)]
    assert got[:2] == [200, 200] and got[2] == 400, got  # one bucket for 127.0.0.1, whichever identity
    rec = g.log.one(mark, decision="throttle")
    assert rec["guard"]["rateLimit"]["per"] == "sourceAddress" and rec["guard"]["identity"] == "reader", rec


def test_boto3_backs_off_and_gets_through(make_guard, dynalite, tables):
    # Two calls per second, burst 1: boto3's standard retry mode retries ThrottlingException with backoff
    # until a token is back. Exact accounting: every throttled attempt is one throttle record of this client
    # (user agent), the call's RetryAttempts is their number, and there is exactly one allow per call.
    g = make_guard("ratelimit-boto", dynalite.url, mutate=lambda cfg: cfg.__setitem__("rate_limits", [
        {"name": "app-2ps", "identity": "app", "rate": 2, "burst": 1}]))
    c = boto3.session.Session().client(
        "dynamodb", endpoint_url=g.url, region_name=REGION, verify=g.ca, aws_access_key_id=APP_KEY,
        aws_secret_access_key=SECRET,
        config=Config(retries={"total_max_attempts": 12, "mode": "standard"}, user_agent_extra="rl-retry-test"))
    mark = g.log.mark()
    retries = []
    for _ in range(6):
        r = c.get_item(TableName="users", Key={"pk": {"S": "u1"}})
        assert r["Item"]["pk"]["S"] == "u1"
        retries.append(r["ResponseMetadata"]["RetryAttempts"])
        if sum(retries) >= 2:
            break
    assert sum(retries) >= 1, retries  # six back-to-back calls at two per second: some were throttled
    allows = g.log.wait(mark, n=len(retries), decision="allow")
    throttles = [r for r in g.log.records(mark) if r.get("guard", {}).get("decision") == "throttle"]
    assert len(allows) == len(retries)
    assert len(throttles) == sum(retries), (retries, len(throttles))
    assert all("rl-retry-test" in t["userAgent"] and t["guard"]["rateLimit"]["name"] == "app-2ps"
               for t in throttles)


def test_check_reports_rate_limit_errors(config_template, tmp_path):
    cfg = config_template()
    cfg["rate_limits"] = [
        {"name": "x", "identity": "nobody", "actions": ["dynamodb:Fly"], "rate": 0},
        {"name": "x", "per": "table", "rate": 1, "burst": 1.5, "colour": "red"}]
    p = tmp_path / "rl.json"
    import json
    p.write_text(json.dumps(cfg))
    r = subprocess.run([str(DDBGUARD_BIN), "--check", "-c", str(p)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    for want in ("$.rate_limits[0].identity: no identity is named \"nobody\"",
                 "$.rate_limits[0].actions[0]: expected a \"dynamodb:<Operation>\" pattern",
                 "$.rate_limits[0].rate: expected calls per second",
                 "$.rate_limits[1].name: duplicate rate limit name \"x\"",
                 "$.rate_limits[1].per: expected \"identity\" or \"source_address\"",
                 "$.rate_limits[1].burst: expected an integer",
                 "$.rate_limits[1].colour: unknown key"):
        assert want in r.stderr, (want, r.stderr)

"""Gateway-issued keys: ddbguard verifies the SigV4 signature itself (issue 12, part 3), and the default
identity's cross-account guard (part 2). Clients: boto3, /usr/bin/aws, and raw requests signed by botocore
with a wrong secret, a tampered body, a stale or future date, a session token, another region. Every refusal
is checked in the access log: the identity claimed and why."""
import base64
import datetime
import json
import os
import subprocess

import boto3
import botocore.auth
from botocore.config import Config
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from guardlib import ACCOUNT, AWS_BIN, DDBGUARD_BIN, JSON_CT, REGION, TARGET, table_arn

ISSUED_KEY = "AKIAGWISSUED00000001"
ISSUED_SECRET = "gw-issued-secret-0123456789abcdefghijklmn"


def key_for_account(account, prefix="AKIA"):
    """An access key id of the post-2019 format that encodes `account` (as AWS's do)."""
    bits = (1 << 47) | (int(account) << 7) | 0x15
    n = bits << 2
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    head = "".join(alphabet[(n >> (5 * (9 - i))) & 31] for i in range(10))
    return prefix + head + "QQQQQQ"


def test_key_encoding_helper_matches_the_public_decoder():
    # The decoder from the public write-ups (base32, first 6 bytes, mask 0x7fffffffff80, >> 7).
    def decode(k):
        z = int.from_bytes(base64.b32decode(k[4:])[:6], "big")
        return "%012d" % ((z & 0x7fffffffff80) >> 7)
    assert decode("ASIAY34FZKBOKMUTVV7A") == "609629065308"
    assert decode(key_for_account(ACCOUNT)) == ACCOUNT


@pytest.fixture(scope="module")
def vguard(make_guard, dynalite, tables, work):
    secret_file = work / "issued" / "app.secret"
    secret_file.parent.mkdir(exist_ok=True)
    secret_file.write_text(ISSUED_SECRET + "\n")
    os.chmod(secret_file, 0o600)

    def mutate(cfg):
        cfg["identities"].append({"name": "signed-app", "policies": ["app-rw", "guardrails"],
                                  "issued_keys": [{"access_key_id": ISSUED_KEY, "secret_file": str(secret_file)}]})
        cfg["identities"].append({"name": "default", "policies": ["read-only"]})
    return make_guard("sigv4", dynalite.url, mutate=mutate)


def signed(g, op, body, key=ISSUED_KEY, secret=ISSUED_SECRET, region=REGION, token=None):
    req = AWSRequest(method="POST", url=g.url + "/", data=body,
                     headers={"Content-Type": JSON_CT, "X-Amz-Target": TARGET + op})
    SigV4Auth(Credentials(key, secret, token), "dynamodb", region).add_auth(req)
    headers = [("Host", "localhost:%d" % g.port)] + list(req.headers.items())
    headers.append(("Content-Length", str(len(body))))
    return ("POST / HTTP/1.1\r\n" + "".join("%s: %s\r\n" % kv for kv in headers) + "\r\n").encode()


GET = json.dumps({"TableName": "orders", "Key": {"pk": {"S": "v"}, "sk": {"S": "1"}}}).encode()


def refused(g, head, body, code):
    mark = g.log.mark()
    resp = g.raw(head, body)
    assert resp.status == 400, resp
    assert resp.json()["__type"].endswith("#" + code), resp
    rec = g.log.one(mark, eventName="GetItem")
    assert rec["errorCode"] == code
    assert rec["guard"]["decision"] == "reject"
    return rec, resp


def test_boto3_with_an_issued_key(vguard):
    c = boto3.session.Session().client(
        "dynamodb", endpoint_url=vguard.url, region_name=REGION, verify=vguard.ca,
        aws_access_key_id=ISSUED_KEY, aws_secret_access_key=ISSUED_SECRET,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    mark = vguard.log.mark()
    c.put_item(TableName="orders", Item={"pk": {"S": "v"}, "sk": {"S": "1"}})
    rec = vguard.log.one(mark, eventName="PutItem")
    assert rec["guard"]["decision"] == "allow"
    ui = rec["userIdentity"]
    assert ui["accessKeyId"] == ISSUED_KEY
    assert ui["ddbguard"] == {"identity": "signed-app", "matchedBy": ["issued-key"], "proof": "signature",
                              "signedBy": "client"}


def test_aws_cli_with_an_issued_key(vguard):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(vguard.dir), "AWS_CA_BUNDLE": vguard.ca,
           "AWS_ACCESS_KEY_ID": ISSUED_KEY, "AWS_SECRET_ACCESS_KEY": ISSUED_SECRET,
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1"}
    mark = vguard.log.mark()
    r = subprocess.run([AWS_BIN, "dynamodb", "get-item", "--table-name", "orders", "--key",
                        '{"pk":{"S":"v"},"sk":{"S":"1"}}', "--endpoint-url", vguard.url, "--region", REGION],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rec = vguard.log.one(mark, eventName="GetItem")
    assert rec["userIdentity"]["ddbguard"]["proof"] == "signature"
    # and with the wrong secret the CLI sees InvalidSignatureException
    env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret-0000000000000000000000000"
    r = subprocess.run([AWS_BIN, "dynamodb", "get-item", "--table-name", "orders", "--key",
                        '{"pk":{"S":"v"},"sk":{"S":"1"}}', "--endpoint-url", vguard.url, "--region", REGION],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "InvalidSignatureException" in r.stderr, r.stderr


def test_wrong_secret(vguard):
    rec, resp = refused(vguard, signed(vguard, "GetItem", GET, secret="x" * 40), GET, "InvalidSignatureException")
    assert rec["userIdentity"]["ddbguard"]["identity"] is None
    assert rec["userIdentity"]["ddbguard"]["claimedIdentity"] == "signed-app"
    assert "does not match the signature you provided" in rec["guard"]["reason"]
    assert ISSUED_SECRET not in json.dumps(rec) and ISSUED_SECRET not in resp.body.decode()


def test_tampered_body(vguard):
    head = signed(vguard, "GetItem", GET)
    tampered = GET.replace(b'"v"', b'"w"')
    assert len(tampered) == len(GET)
    rec, _ = refused(vguard, head, tampered, "InvalidSignatureException")
    assert rec["userIdentity"]["ddbguard"]["claimedIdentity"] == "signed-app"


def _signed_at(monkeypatch, vguard, delta):
    real = datetime.datetime

    class Shifted(real):
        @classmethod
        def utcnow(cls):
            return real.utcnow() + delta
    monkeypatch.setattr(botocore.auth.datetime, "datetime", Shifted)
    try:
        return signed(vguard, "GetItem", GET)
    finally:
        monkeypatch.setattr(botocore.auth.datetime, "datetime", real)


def test_stale_date_and_replay_outside_the_window(vguard, monkeypatch):
    # A request signed 16 minutes ago (a captured one replayed now): outside AWS's 15-minute window.
    head = _signed_at(monkeypatch, vguard, datetime.timedelta(minutes=-16))
    rec, resp = refused(vguard, head, GET, "InvalidSignatureException")
    assert "Signature expired" in rec["guard"]["reason"]
    # The same from 16 minutes in the future.
    head = _signed_at(monkeypatch, vguard, datetime.timedelta(minutes=16))
    refused(vguard, head, GET, "InvalidSignatureException")
    # Inside the window the same bytes verify again: SigV4 has no nonce (as with AWS itself).
    head = _signed_at(monkeypatch, vguard, datetime.timedelta(minutes=-5))
    for _ in range(2):
        assert vguard.raw(head, GET).status == 200


def test_mismatched_region(vguard):
    mark = vguard.log.mark()
    resp = vguard.raw(signed(vguard, "GetItem", GET, region="us-west-2"), GET)
    assert resp.status == 400 and b"region" in resp.body
    rec = vguard.log.one(mark, eventName="GetItem")
    assert rec["guard"]["decision"] == "reject" and "us-west-2" in rec["guard"]["reason"]


def test_issued_key_with_a_session_token(vguard):
    rec, _ = refused(vguard, signed(vguard, "GetItem", GET, token="FQoGZXIvYXdzEXAMPLE"), GET,
                     "UnrecognizedClientException")
    assert rec["userIdentity"]["ddbguard"]["claimedIdentity"] == "signed-app"


# ---- part 2: no silent cross-account path through "default" ----

def test_default_refuses_a_foreign_account_key_on_bare_names(vguard):
    foreign = "ASIAY34FZKBOKMUTVV7A"  # encodes 609629065308
    mark = vguard.log.mark()
    resp = vguard.raw(signed(vguard, "GetItem", GET, key=foreign, secret="s" * 40), GET)
    assert resp.status == 400 and b"AccessDeniedException" in resp.body
    rec = vguard.log.one(mark, eventName="GetItem")
    assert rec["userIdentity"]["ddbguard"]["identity"] == "default"
    assert rec["userIdentity"]["accountId"] == "609629065308"
    assert "belongs to AWS account 609629065308" in rec["guard"]["reason"]
    # by ARN the call is DynamoDB's to authorize in our account: the policy decides
    by_arn = json.dumps({"TableName": table_arn("orders"), "Key": {"pk": {"S": "v"}, "sk": {"S": "1"}}}).encode()
    mark = vguard.log.mark()
    vguard.raw(signed(vguard, "GetItem", by_arn, key=foreign, secret="s" * 40), by_arn)
    # (dynalite itself does not take ARNs as table names; what matters is that the gateway forwarded it)
    assert vguard.log.one(mark, eventName="GetItem")["guard"]["decision"] == "allow"


def test_default_refuses_keys_that_say_no_account(vguard):
    mark = vguard.log.mark()
    resp = vguard.raw(signed(vguard, "GetItem", GET, key="AKIAIOSFODNN7EXAMPLE", secret="s" * 40), GET)
    assert resp.status == 400 and b"AccessDeniedException" in resp.body
    assert "does not encode one" in vguard.log.one(mark, eventName="GetItem")["guard"]["reason"]


def test_default_accepts_a_key_of_our_account(vguard):
    ours = key_for_account(ACCOUNT)
    mark = vguard.log.mark()
    assert vguard.raw(signed(vguard, "GetItem", GET, key=ours, secret="s" * 40), GET).status == 200
    rec = vguard.log.one(mark, eventName="GetItem")
    assert rec["userIdentity"]["accountId"] == ACCOUNT
    assert rec["userIdentity"]["ddbguard"]["matchedBy"] == ["default"]


def test_accept_risk_in_so_many_words(make_guard, dynalite, tables):
    def mutate(cfg):
        cfg["identities"].append({"name": "default", "policies": ["read-only"],
                                  "accept_risk": "unverified keys may act on same-named tables in other AWS accounts"})
    g = make_guard("risk", dynalite.url, mutate=mutate)
    assert g.raw(signed(g, "GetItem", GET, key="AKIAIOSFODNN7EXAMPLE", secret="s" * 40), GET).status == 200
    # a key that says another account stays refused
    assert g.raw(signed(g, "GetItem", GET, key="ASIAY34FZKBOKMUTVV7A", secret="s" * 40), GET).status == 400


def test_check_warns_about_foreign_credentials(config_template, tmp_path):
    cfg = config_template()
    cfg["identities"].append({"name": "default", "policies": ["read-only"]})
    cfg["identities"][1]["access_key_ids"].append("ASIAY34FZKBOKMUTVV7A")
    p = tmp_path / "c.json"
    p.write_text(json.dumps(cfg))
    r = subprocess.run([str(DDBGUARD_BIN), "--check", "-c", str(p)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert ('$.identities[2]: warning: identity "default" accepts access keys of any AWS account' in r.stderr), r.stderr
    assert ('access key id ASIAY34FZKBOKMUTVV7A of identity "reader" belongs to AWS account 609629065308, not '
            + ACCOUNT) in r.stderr, r.stderr
    # a secret file readable by others is refused
    sf = tmp_path / "s"
    sf.write_text("x" * 40)
    os.chmod(sf, 0o644)
    cfg["identities"].append({"name": "gw", "policies": ["read-only"],
                              "issued_keys": [{"access_key_id": "AKIAGW00000000000009", "secret_file": str(sf)}]})
    p.write_text(json.dumps(cfg))
    r = subprocess.run([str(DDBGUARD_BIN), "--check", "-c", str(p)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "readable or writable by others" in r.stderr, r.stderr
    assert "x" * 40 not in r.stderr

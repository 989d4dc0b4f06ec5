"""The credential broker (issue 12, parts 4-5): applications hold gateway-issued keys or a client certificate;
ddbguard verifies them, drops their authentication and signs upstream with its own AWS credentials from
IMDSv2 (or the environment / a credentials file), assuming a role per identity through STS.

Stand-ins (tests/e2e/awsstandins.py): IMDSv2, STS (TLS, verifies its callers' signatures) and a verifying
upstream in front of dynalite that recomputes every forwarded call's signature with the credentials the
gateway should hold, and refuses anything else. STS credentials live a few seconds, so renewals happen
while the tests run."""
import json
import os
import subprocess
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from awsstandins import Imds, Keyring, Sts, VerifyingUpstream
from guardlib import ACCOUNT, AWS_BIN, DDBGUARD_BIN, REGION, free_port

ROLE_ACCOUNT = "210987654321"
ROLE_ARN = "arn:aws:iam::%s:role/orders-app" % ROLE_ACCOUNT
APP_KEY = "AKIAGWORDERS00000001"
APP_SECRET = "issued-orders-secret-9f8e7d6c5b4a39281706"
SPIFFE = "spiffe://example.org/ns/prod/sa/mesh-orders"
STS_LIFETIME = 6  # seconds: the broker renews at half-life, so renewals happen mid-run


@pytest.fixture(scope="module")
def aws(certs, dynalite):
    ring = Keyring()
    imds = Imds(ring)
    sts = Sts(ring, certs.server_crt, certs.server_key, ROLE_ACCOUNT, lifetime=STS_LIFETIME)
    up = VerifyingUpstream(ring, certs.server_crt, certs.server_key, dynalite.port, certs.ca)
    yield type("Aws", (), {"ring": ring, "imds": imds, "sts": sts, "up": up})
    for s in (imds, sts, up):
        s.stop()


@pytest.fixture(scope="module")
def bguard(make_guard, aws, tables, certs, work):
    from test_identity import mint_client_cert
    d = work / "broker"
    d.mkdir(exist_ok=True)
    (d / "orders.secret").write_text(APP_SECRET + "\n")
    os.chmod(d / "orders.secret", 0o600)
    mtls_port = free_port()
    role_policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "RoleAccountItems", "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
        "Resource": ["arn:aws:dynamodb:%s:%s:table/orders" % (REGION, ROLE_ACCOUNT)]}]}

    def mutate(cfg):
        main = cfg["listeners"][0]
        cfg["listeners"].append({"name": "mtls", "address": "127.0.0.1", "port": mtls_port,
                                 "tls": dict(main["tls"], client_ca=str(certs.ca))})
        cfg["policies"]["role-account"] = role_policy
        cfg["credentials"] = {"sources": ["environment", "imds"], "imds_endpoint": aws.imds.url,
                              "sts_endpoint": aws.sts.url, "ca_file": str(certs.ca), "timeout_ms": 5000}
        cfg["identities"] = [
            {"name": "orders-app", "listeners": ["main"], "policies": ["role-account"],
             "issued_keys": [{"access_key_id": APP_KEY, "secret_file": str(d / "orders.secret")}],
             "broker": {"role_arn": ROLE_ARN}, "tags": {"team": "orders", "env": "test"}},
            {"name": "mesh-orders", "client_certificate": {"uris": [SPIFFE]}, "policies": ["app-rw"],
             "broker": {}},
        ]
    g = make_guard("broker", "https://localhost:%d" % aws.up.port, mutate=mutate)
    g.mtls_port = mtls_port
    g.cert = mint_client_cert(certs, work, "mesh-orders", "/CN=mesh-orders", "URI:" + SPIFFE)
    return g


def app_client(g, key=APP_KEY, secret=APP_SECRET, port=None, cert=None):
    return boto3.session.Session().client(
        "dynamodb", endpoint_url="https://localhost:%d" % (port or g.port), region_name=REGION, verify=g.ca,
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, client_cert=cert))


def test_boto3_with_an_issued_key_is_signed_with_the_role(bguard, aws):
    before = len(aws.up.accepted)
    mark = bguard.log.mark()
    c = app_client(bguard)
    c.put_item(TableName="orders", Item={"pk": {"S": "broker#1"}, "sk": {"S": "a"}})
    got = c.get_item(TableName="orders", Key={"pk": {"S": "broker#1"}, "sk": {"S": "a"}})
    assert got["Item"]["sk"] == {"S": "a"}
    rec = bguard.log.one(mark, eventName="PutItem")
    ui = rec["userIdentity"]
    assert ui["type"] == "AssumedRole"
    assert ui["arn"] == "arn:aws:sts::%s:assumed-role/orders-app/orders-app" % ROLE_ACCOUNT
    assert ui["accountId"] == ROLE_ACCOUNT
    assert ui["accessKeyId"] == APP_KEY
    assert ui["ddbguard"] == {"identity": "orders-app", "matchedBy": ["issued-key", "listener"],
                              "proof": "signature", "signedBy": "broker"}
    # ARNs are evaluated in the role's account
    assert rec["resources"][0]["ARN"] == "arn:aws:dynamodb:%s:%s:table/orders" % (REGION, ROLE_ACCOUNT)
    assert rec["recipientAccountId"] == ROLE_ACCOUNT
    # upstream saw STS credentials, never the issued key
    fwd = aws.up.accepted[before:]
    assert len(fwd) == 2 and all(k.startswith("ASIASTS") for k, _ in fwd), fwd
    role, session, tags, signer, _ = aws.sts.calls[0]
    assert (role, session, tags) == (ROLE_ARN, "orders-app", {"team": "orders", "env": "test"})
    assert signer.startswith("ASIAIMDS")  # AssumeRole signed with the instance role's credentials
    assert aws.imds.token_puts >= 1 and aws.imds.v1_attempts == 0


def test_aws_cli_with_an_issued_key(bguard, aws):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(bguard.dir), "AWS_CA_BUNDLE": bguard.ca,
           "AWS_ACCESS_KEY_ID": APP_KEY, "AWS_SECRET_ACCESS_KEY": APP_SECRET, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": "",
           "AWS_MAX_ATTEMPTS": "1"}
    before = len(aws.up.accepted)
    r = subprocess.run([AWS_BIN, "dynamodb", "query", "--table-name", "orders", "--key-condition-expression",
                        "pk = :p", "--expression-attribute-values", '{":p":{"S":"broker#1"}}',
                        "--endpoint-url", bguard.url, "--region", REGION, "--output", "json"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Count"] >= 1
    assert len(aws.up.accepted) == before + 1


def test_boto3_with_a_client_certificate_uses_the_gateway_credentials(bguard, aws):
    before = len(aws.up.accepted)
    mark = bguard.log.mark()
    c = app_client(bguard, key="AKIANOTHING000000000", secret="whatever", port=bguard.mtls_port, cert=bguard.cert)
    c.put_item(TableName="orders", Item={"pk": {"S": "mesh#1"}, "sk": {"S": "b"}})
    rec = bguard.log.one(mark, eventName="PutItem")
    assert rec["userIdentity"]["ddbguard"]["identity"] == "mesh-orders"
    assert rec["userIdentity"]["ddbguard"]["proof"] == "client-certificate"
    assert rec["userIdentity"]["ddbguard"]["signedBy"] == "broker"
    assert rec["resources"][0]["ARN"].split(":")[4] == ACCOUNT  # base credentials: the config's account
    assert aws.up.accepted[before][0].startswith("ASIAIMDS")


def test_the_role_is_renewed_mid_run(bguard, aws):
    """STS credentials live STS_LIFETIME seconds: keep calling until the broker has assumed the role again;
    every call in between is accepted by the verifying upstream."""
    c = app_client(bguard)
    first = len(aws.sts.calls)
    refused = len(aws.up.refused)
    deadline = time.monotonic() + 60
    calls = 0
    while len(aws.sts.calls) < first + 2 and time.monotonic() < deadline:
        c.get_item(TableName="orders", Key={"pk": {"S": "broker#1"}, "sk": {"S": "a"}})
        calls += 1
        time.sleep(0.2)
    assert len(aws.sts.calls) >= first + 2, "no renewal within 60 s"
    c.get_item(TableName="orders", Key={"pk": {"S": "broker#1"}, "sk": {"S": "a"}})
    assert len(aws.up.refused) == refused, aws.up.refused[refused:]
    keys = {k for k, _ in aws.up.accepted if k.startswith("ASIASTS")}
    assert len(keys) >= 2


def test_refused_calls_never_reach_the_upstream(bguard, aws):
    before = len(aws.up.accepted) + len(aws.up.refused)
    mark = bguard.log.mark()
    with pytest.raises(ClientError) as e:
        app_client(bguard, secret="wrong-secret-000000000000000000000000000").get_item(
            TableName="orders", Key={"pk": {"S": "x"}, "sk": {"S": "y"}})
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    # By its request id: an earlier test's record may still land after `mark` (the writer is asynchronous).
    rec = bguard.log.by_request_id(e.value.response["ResponseMetadata"]["RequestId"], eventName="GetItem")
    assert rec["userIdentity"]["ddbguard"]["claimedIdentity"] == "orders-app"
    assert len(aws.up.accepted) + len(aws.up.refused) == before


def test_no_secret_in_logs_or_errors(bguard, aws):
    texts = [bguard.log.path.read_text(), bguard.stderr(), bguard.config_path.read_text()]
    for s in aws.ring.secrets() + [APP_SECRET]:
        for t in texts:
            assert s not in t


def test_explain_shows_the_broker_without_secrets(bguard, aws, tmp_path):
    req = tmp_path / "call.json"
    req.write_text(json.dumps({"target": "DynamoDB_20120810.GetItem", "access_key_id": APP_KEY,
                               "listener": "main",
                               "body": {"TableName": "orders", "Key": {"pk": {"S": "a"}, "sk": {"S": "b"}}}}))
    r = subprocess.run([str(DDBGUARD_BIN), "explain", "-c", str(bguard.config_path), "--request", str(req)],
                       capture_output=True, text=True, timeout=30)
    assert APP_SECRET not in r.stdout + r.stderr
    assert "signed upstream by: the credential broker, with the role " + ROLE_ARN in r.stdout, r.stdout
    assert "arn:aws:dynamodb:%s:%s:table/orders" % (REGION, ROLE_ACCOUNT) in r.stdout, r.stdout
    assert r.returncode == 0, r.stdout


def test_shared_credentials_file_source(make_guard, aws, tables, certs, work):
    """Base credentials from a credentials file and profile; no role: the upstream sees that key."""
    d = work / "broker-file"
    d.mkdir(exist_ok=True)
    (d / "k").write_text(APP_SECRET)
    os.chmod(d / "k", 0o600)
    (d / "credentials").write_text("[default]\naws_access_key_id = AKIAWRONGPROFILE0001\n"
                                   "aws_secret_access_key = nope\n\n[gateway]\n"
                                   "aws_access_key_id = AKIAGATEWAYFILE00001\n"
                                   "aws_secret_access_key = file-secret-abcdefghijklmnopqrstuvwxyz01\n")
    aws.ring.add("AKIAGATEWAYFILE00001", "file-secret-abcdefghijklmnopqrstuvwxyz01", who="file")

    def mutate(cfg):
        cfg["credentials"] = {"sources": ["shared_file"], "shared_file": str(d / "credentials"),
                              "profile": "gateway"}
        cfg["identities"] = [{"name": "app", "policies": ["app-rw"], "broker": {},
                              "issued_keys": [{"access_key_id": APP_KEY, "secret_file": str(d / "k")}]}]
    g = make_guard("broker-file", "https://localhost:%d" % aws.up.port, mutate=mutate)
    before = len(aws.up.accepted)
    mark = g.log.mark()
    app_client(g).get_item(TableName="orders", Key={"pk": {"S": "broker#1"}, "sk": {"S": "a"}})
    assert aws.up.accepted[before][0] == "AKIAGATEWAYFILE00001"
    rec = g.log.one(mark, eventName="GetItem")
    assert rec["userIdentity"]["ddbguard"]["signedBy"] == "broker"
    assert "nope" not in g.stderr() and "file-secret" not in g.stderr()


def test_no_credentials_answers_503_and_is_logged(make_guard, aws, tables, certs, work):
    d = work / "broker-none"
    d.mkdir(exist_ok=True)
    (d / "k").write_text(APP_SECRET)
    os.chmod(d / "k", 0o600)

    def mutate(cfg):
        cfg["credentials"] = {"sources": ["shared_file"], "shared_file": str(d / "missing")}
        cfg["identities"] = [{"name": "app", "policies": ["app-rw"], "broker": {},
                              "issued_keys": [{"access_key_id": APP_KEY, "secret_file": str(d / "k")}]}]
    g = make_guard("broker-none", "https://localhost:%d" % aws.up.port, mutate=mutate)
    before = len(aws.up.accepted)
    mark = g.log.mark()
    with pytest.raises(ClientError) as e:
        app_client(g).get_item(TableName="orders", Key={"pk": {"S": "x"}, "sk": {"S": "y"}})
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    rec = g.log.one(mark, eventName="GetItem")
    assert rec["guard"]["decision"] == "error" and "no valid AWS credentials" in rec["guard"]["reason"]
    assert len(aws.up.accepted) == before


DDB = "dynamodb.us-east-1.amazonaws.com"


def test_egress_mode(aws, certs, dynalite, tables, work):
    """HTTPS_PROXY to an egress listener: the tunnel's calls are brokered too; Host stays the endpoint's."""
    from guardlib import Guard, ROOT
    d = work / "broker-egress"
    d.mkdir(exist_ok=True)
    subprocess.run([str(ROOT / "certs" / "mkgatewayca.sh"), str(d / "gw")], check=True, capture_output=True)
    subprocess.run([str(ROOT / "certs" / "mkcerts.sh"), "--san", "DNS:" + DDB, str(d / "up")], check=True,
                   capture_output=True)
    (d / "k").write_text(APP_SECRET)
    os.chmod(d / "k", 0o600)
    up = VerifyingUpstream(aws.ring, d / "up" / "server.crt", d / "up" / "server.key", dynalite.port, certs.ca)
    from conftest import policies
    cfg = {
        "account_id": ACCOUNT,
        "listeners": [{"name": "egress", "kind": "egress", "address": "127.0.0.1", "port": free_port()}],
        "upstream": {"ca_file": str(d / "up" / "ca.crt"), "connect_timeout_ms": 2000, "response_timeout_ms": 5000},
        "egress": {"ca_cert": str(d / "gw" / "gateway-ca.crt"), "ca_key": str(d / "gw" / "gateway-ca.key"),
                   "regions": [REGION], "routes": [{"host": DDB, "to": "127.0.0.1:%d" % up.port}]},
        "access_log": {"path": str(d / "access.log")},
        "policies": policies(),
        "credentials": {"sources": ["imds"], "imds_endpoint": aws.imds.url},
        "identities": [{"name": "egress-app", "policies": ["app-rw"], "broker": {},
                        "issued_keys": [{"access_key_id": APP_KEY, "secret_file": str(d / "k")}]}],
    }
    g = Guard(work, "broker-egress", cfg, d / "gw" / "gateway-ca.crt")
    g.start()
    try:
        c = boto3.session.Session().client(
            "dynamodb", region_name=REGION, verify=str(d / "gw" / "gateway-ca.crt"),
            aws_access_key_id=APP_KEY, aws_secret_access_key=APP_SECRET,
            config=Config(proxies={"https": "http://127.0.0.1:%d" % g.port},
                          retries={"total_max_attempts": 1, "mode": "standard"}))
        mark = g.log.mark()
        c.get_item(TableName="orders", Key={"pk": {"S": "broker#1"}, "sk": {"S": "a"}})
        rec = g.log.one(mark, eventName="GetItem")
        assert rec["guard"]["mode"] == "egress" and rec["guard"]["decision"] == "allow"
        assert rec["userIdentity"]["ddbguard"]["signedBy"] == "broker"
        assert len(up.accepted) == 1 and up.accepted[0][0].startswith("ASIAIMDS"), (up.accepted, up.refused)
        # a wrong secret inside the tunnel is refused before anything leaves
        bad = boto3.session.Session().client(
            "dynamodb", region_name=REGION, verify=str(d / "gw" / "gateway-ca.crt"),
            aws_access_key_id=APP_KEY, aws_secret_access_key="not-it-000000000000000000000000000000000",
            config=Config(proxies={"https": "http://127.0.0.1:%d" % g.port},
                          retries={"total_max_attempts": 1, "mode": "standard"}))
        with pytest.raises(ClientError) as e:
            bad.get_item(TableName="orders", Key={"pk": {"S": "broker#1"}, "sk": {"S": "a"}})
        assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert len(up.accepted) == 1 and not up.refused
    finally:
        assert g.stop() == 0, g.stderr()
        up.stop()


def test_check_accepts_the_broker_example(tmp_path, certs):
    from guardlib import ROOT
    cfg = json.loads((ROOT / "config" / "examples" / "broker.json").read_text())
    for listener in cfg["listeners"]:
        listener["tls"].update(cert=str(certs.server_crt), key=str(certs.server_key))
        if "client_ca" in listener["tls"]:
            listener["tls"]["client_ca"] = str(certs.ca)
    cfg["access_log"] = {"path": str(tmp_path / "access.log")}
    secret = tmp_path / "orders.key"
    secret.write_text("x" * 40)
    os.chmod(secret, 0o600)
    cfg["identities"][0]["issued_keys"][0]["secret_file"] = str(secret)
    p = tmp_path / "broker.json"
    p.write_text(json.dumps(cfg))
    r = subprocess.run([str(DDBGUARD_BIN), "--check", "-c", str(p)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr, r.stderr  # brokered identities let no foreign credentials through


def test_environment_source_comes_first(make_guard, aws, tables, certs, work, monkeypatch):
    """sources ["environment", "imds"] with the variables set: the environment's key signs, IMDS is not asked."""
    d = work / "broker-env"
    d.mkdir(exist_ok=True)
    (d / "k").write_text(APP_SECRET)
    os.chmod(d / "k", 0o600)
    aws.ring.add("AKIAGATEWAYENV000001", "env-secret-abcdefghijklmnopqrstuvwxyz0123", who="env")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAGATEWAYENV000001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-abcdefghijklmnopqrstuvwxyz0123")
    puts = aws.imds.token_puts

    def mutate(cfg):
        cfg["credentials"] = {"sources": ["environment", "imds"], "imds_endpoint": aws.imds.url}
        cfg["identities"] = [{"name": "app", "policies": ["app-rw"], "broker": {},
                              "issued_keys": [{"access_key_id": APP_KEY, "secret_file": str(d / "k")}]}]
    g = make_guard("broker-env", "https://localhost:%d" % aws.up.port, mutate=mutate)  # inherits the variables
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    before = len(aws.up.accepted)
    app_client(g).get_item(TableName="orders", Key={"pk": {"S": "broker#1"}, "sk": {"S": "a"}})
    assert aws.up.accepted[before][0] == "AKIAGATEWAYENV000001"
    assert aws.imds.token_puts == puts
    assert "env-secret" not in g.stderr()

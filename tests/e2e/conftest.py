"""Session fixtures for the ddbguard end-to-end suite.

One dev CA (certs/mkcerts.sh) signs dynalite's and every ddbguard listener's certificate; a second,
untrusted "rogue" CA signs the certificate of a rogue dynalite. dynalite runs over TLS on a kernel-chosen
loopback port, tables are created directly on it, and the main ddbguard instance (tests' `guard`) sits in
front with the policies below. Everything lives in one pytest tmp dir; every process is stopped by PID.
"""
import copy
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config

from guardlib import (ACCOUNT, APP_KEY, MAX_BODY, READER_KEY, REGION, ROOT, SECRET, Dynalite, Guard, free_port,
                      table_arn)
import guardlib
from recorder import RecordingUpstream




@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """A private base temp directory unless --basetemp is given: /tmp/pytest-of-USER keeps only the three
    newest runs' directories and deletes the others, so with several suites running at once as one user a
    run loses its certificates, configs and logs mid-run (spurious failures under load)."""
    if not config.option.basetemp:
        config.option.basetemp = tempfile.mkdtemp(prefix="ddbguard-e2e-")
        config._ddbguard_private_basetemp = config.option.basetemp


def pytest_unconfigure(config):
    """The private directory goes when everything passed; after a failure it stays for the logs."""
    path = getattr(config, "_ddbguard_private_basetemp", None)
    if path and getattr(config, "_ddbguard_exitstatus", 1) == 0:
        shutil.rmtree(path, ignore_errors=True)


def pytest_sessionfinish(session, exitstatus):
    session.config._ddbguard_exitstatus = exitstatus


def policies():
    item_rw = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
               "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem",
               "dynamodb:TransactGetItems", "dynamodb:TransactWriteItems"]
    return {
        "app-rw": {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "ItemReadWrite", "Effect": "Allow", "Action": item_rw,
                 "Resource": [table_arn("orders"), table_arn("orders", "index", "*"), table_arn("users")]},
                {"Sid": "TableAdmin", "Effect": "Allow",
                 "Action": ["dynamodb:CreateTable", "dynamodb:DescribeTable"],
                 "Resource": [table_arn("orders"), table_arn("users")]},
                {"Sid": "StreamsList", "Effect": "Allow", "Action": "dynamodb:ListStreams", "Resource": "*"},
            ],
        },
        "read-only": {
            "Version": "2012-10-17",
            "Statement": [
                # The table only, not its indexes: IAM treats table/orders/index/x as another resource.
                {"Sid": "ReadOrdersUsers", "Effect": "Allow",
                 "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
                            "dynamodb:DescribeTable"],
                 "Resource": [table_arn("orders"), table_arn("users")]},
            ],
        },
        "guardrails": {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "DenyExport", "Effect": "Deny", "Action": "dynamodb:ExportTableToPointInTime",
                 "Resource": "*"},
                {"Sid": "DenyPartiQL", "Effect": "Deny",
                 "Action": ["dynamodb:ExecuteStatement", "dynamodb:BatchExecuteStatement",
                            "dynamodb:ExecuteTransaction"],
                 "Resource": "*"},
            ],
        },
    }


def make_config(work, certs, name, upstream_url, **upstream):
    """A complete ddbguard config for instance `name` (TLS listener on a free loopback port)."""
    (Path(work) / name).mkdir(parents=True, exist_ok=True)  # its access log's directory (--check wants it)
    return {
        "account_id": ACCOUNT,
        "listeners": [{"name": "main", "address": "127.0.0.1", "port": free_port(),
                       "tls": {"cert": str(certs.server_crt), "key": str(certs.server_key)}}],
        "upstream": dict({"dynamodb": upstream_url, "region": REGION, "ca_file": str(certs.ca),
                          "connect_timeout_ms": 2000, "response_timeout_ms": 5000}, **upstream),
        "limits": {"max_body_bytes": MAX_BODY},
        "access_log": {"path": str(Path(work) / name / "access.log")},
        "policies": policies(),
        "identities": [
            {"name": "app", "access_key_ids": [APP_KEY], "policies": ["app-rw", "guardrails"]},
            {"name": "reader", "access_key_ids": [READER_KEY], "policies": ["read-only", "guardrails"]},
        ],
        # The tests run as root (here and in CI); ddbguard refuses root without a "user" unless told.
        **({"allow_root": True} if os.geteuid() == 0 else {}),
    }


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("ddbguard-e2e")


@pytest.fixture(scope="session")
def certs(work):
    mk = str(ROOT / "certs" / "mkcerts.sh")
    for args in ([str(work / "certs")], ["--rogue", str(work / "rogue")]):
        subprocess.run([mk, *args], check=True, capture_output=True, timeout=60)
    return SimpleNamespace(
        ca=work / "certs" / "ca.crt", server_crt=work / "certs" / "server.crt",
        server_key=work / "certs" / "server.key",
        rogue_ca=work / "rogue" / "ca.crt", rogue_crt=work / "rogue" / "server.crt",
        rogue_key=work / "rogue" / "server.key")


@pytest.fixture(scope="session")
def dynalite(work, certs):
    d = Dynalite(work, certs.server_crt, certs.server_key).start()
    yield d
    d.stop()


@pytest.fixture(scope="session")
def rogue_dynalite(work, certs):
    """A dynalite whose certificate comes from a CA ddbguard does not trust (SAN localhost all the same)."""
    d = Dynalite(work, certs.rogue_crt, certs.rogue_key, name="rogue-dynalite").start()
    yield d
    d.stop()


@pytest.fixture(scope="session")
def direct(dynalite, certs):
    """boto3 straight to dynalite (no ddbguard): for setup and for checking what really got written."""
    return boto3.session.Session().client(
        "dynamodb", endpoint_url=dynalite.url, region_name=REGION, verify=str(certs.ca),
        aws_access_key_id="AKIADIRECTSETUP00001", aws_secret_access_key=SECRET,
        config=Config(retries={"total_max_attempts": 2, "mode": "standard"}))


@pytest.fixture(scope="session")
def tables(direct):
    s = {"AttributeType": "S"}
    direct.create_table(
        TableName="orders", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[dict(s, AttributeName="pk"), dict(s, AttributeName="sk"),
                              dict(s, AttributeName="status")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "by-status", "Projection": {"ProjectionType": "ALL"},
            "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}]}])
    for name in ("users", "secrets"):
        direct.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[dict(s, AttributeName="pk")],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    direct.put_item(TableName="users", Item={"pk": {"S": "u1"}, "name": {"S": "Ada"}})
    direct.put_item(TableName="secrets", Item={"pk": {"S": "s1"}, "v": {"S": "classified"}})
    return ["orders", "users", "secrets"]


@pytest.fixture(scope="session")
def recording_upstream(dynalite, certs):
    """The recording upstream (tests/e2e/recorder.py) in front of the session's dynalite: every guard made
    by make_guard(name, dynalite.url) really talks to this, so a test can prove what reached DynamoDB."""
    r = RecordingUpstream(certs.server_crt, certs.server_key, certs.ca, dynalite.port).start()
    yield r
    r.stop()


@pytest.fixture(scope="session")
def make_guard(work, certs, dynalite, recording_upstream):
    """Starts extra ddbguard instances (stopped at the end of the session): make_guard(name, url, **up).
    A guard whose upstream is dynalite.url goes through the recording upstream (g.recorder) unless
    record=False; every other url (fake, rogue upstreams) is used as given."""
    started = []

    def make(name, upstream_url, mutate=None, record=True, **upstream):
        recorder = None
        if record and upstream_url == dynalite.url:
            upstream_url, recorder = recording_upstream.url, recording_upstream
        cfg = make_config(work, certs, name, upstream_url, **upstream)
        if mutate:
            mutate(cfg)
        g = Guard(work, name, cfg, certs.ca)
        g.recorder = recorder
        started.append(g)
        return g.start()

    yield make
    # Every instance must exit 0 on SIGTERM after the whole suite's traffic; a crash shows up here.
    bad = [(g.name, rc, g.stderr()[-1500:]) for g in started for rc in [g.stop()] if rc != 0]
    assert not bad, "ddbguard instances that did not exit 0 on SIGTERM: %r" % bad


@pytest.fixture(scope="session")
def guard(make_guard, dynalite, tables):
    """The main instance, in front of the real dynalite."""
    return make_guard("main", dynalite.url)


@pytest.fixture
def log(guard):
    return guard.log


@pytest.fixture
def config_template(work, certs, dynalite):
    return lambda name="check": copy.deepcopy(make_config(work, certs, name, dynalite.url))


@pytest.fixture(autouse=True)
def refused_calls_never_reach_the_upstream():
    """After every test: each call a Guard's clients made during it that the gateway answered itself with
    a 4xx (its x-amzn-RequestId was not relayed from dynalite) must have left no byte at the recording
    upstream. Tests also say so explicitly (g.assert_not_forwarded()); this catches the calls they forget.
    Calls with no response (connection closed) or no marker are left to the tests' explicit checks."""
    before = {id(g): len(g.calls) for g in guardlib.ALL_GUARDS}
    yield
    for g in list(guardlib.ALL_GUARDS):
        if g.recorder is None:
            continue
        for call in g.calls[before.get(id(g), 0):]:
            if (call.status is not None and 400 <= call.status < 500 and call.markers and call.request_id
                    and not g.recorder.relayed(call.request_id)):
                g.assert_not_forwarded(call)

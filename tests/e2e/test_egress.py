"""Egress gateway mode: clients set HTTPS_PROXY to ddbguard and CONNECT to the real DynamoDB endpoint names.

Only DynamoDB endpoint names of the configured regions and accounts are tunnelled (port 443 only); inside the
tunnel ddbguard terminates TLS with a certificate minted from its gateway CA (certs/mkgatewayca.sh) for exactly
the CONNECT name, checks SNI and Host against it, applies the same policies as the reverse proxy, and forwards
to the endpoint (here: routes to TLS dynalites on loopback whose certificates carry the AWS names).

Each test checks what the client saw and the access-log record. Everything runs on loopback; no name is ever
resolved through DNS (routes send every name a request goes to; the other names are only CONNECTed to).
"""
import datetime
import json
import re
import socket
import ssl
import subprocess
import time
from types import SimpleNamespace

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from guardlib import (ACCOUNT, APP_KEY, AWS_BIN, REGION, ROOT, SECRET, Dynalite, Guard, free_port,
                      read_response)
from recorder import RecordingUpstream

DDB = "dynamodb.us-east-1.amazonaws.com"
FIPS = "dynamodb-fips.us-east-1.amazonaws.com"
STREAMS = "streams.dynamodb.us-east-1.amazonaws.com"
ACCOUNT_EP = "%s.ddb.us-east-1.amazonaws.com" % ACCOUNT
OTHER_ACCOUNT = "210987654321"
OTHER_ACCOUNT_EP = "%s.ddb.us-east-1.amazonaws.com" % OTHER_ACCOUNT
CERT_VALIDITY_S = 3600
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, timeout=60, **kw)


# --------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def ework(tmp_path_factory):
    return tmp_path_factory.mktemp("egress")


@pytest.fixture(scope="module")
def ecerts(ework):
    """Gateway CA (mkgatewayca.sh); an upstream CA whose server cert carries the AWS names; a rogue CA whose
    server cert carries the FIPS name (so only its chain is wrong)."""
    mk = ROOT / "certs" / "mkcerts.sh"
    run(ROOT / "certs" / "mkgatewayca.sh", ework / "gw")
    run(mk, "--san", ",".join("DNS:" + n for n in (DDB, STREAMS, OTHER_ACCOUNT_EP)), ework / "up")
    run(mk, "--rogue", "--san", "DNS:" + FIPS, ework / "rogue")
    return SimpleNamespace(
        gw_ca=ework / "gw" / "gateway-ca.crt", gw_key=ework / "gw" / "gateway-ca.key",
        up_ca=ework / "up" / "ca.crt", up_crt=ework / "up" / "server.crt", up_key=ework / "up" / "server.key",
        rogue_crt=ework / "rogue" / "server.crt", rogue_key=ework / "rogue" / "server.key")


@pytest.fixture(scope="module")
def good_dynalite(ework, ecerts):
    d = Dynalite(ework, ecerts.up_crt, ecerts.up_key, name="egress-dynalite").start()
    s = {"AttributeType": "S"}
    boto3.session.Session().client(
        "dynamodb", endpoint_url=d.url, region_name=REGION, verify=str(ecerts.up_ca),
        aws_access_key_id="AKIADIRECTSETUP00001", aws_secret_access_key=SECRET,
    ).create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
                   AttributeDefinitions=[dict(s, AttributeName="pk")],
                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    yield d
    d.stop()


@pytest.fixture(scope="module")
def erecorder(ecerts, good_dynalite):
    """The recording upstream between the gateway's routes and good_dynalite (it presents the AWS names)."""
    r = RecordingUpstream(ecerts.up_crt, ecerts.up_key, ecerts.up_ca, good_dynalite.port, target_host="127.0.0.1",
                          sni=DDB, name="egress-recorder").start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def wrong_cert_dynalite(ework, ecerts):
    d = Dynalite(ework, ecerts.rogue_crt, ecerts.rogue_key, name="egress-wrong-cert-dynalite").start()
    yield d
    d.stop()


def egress_config(ework, ecerts, good, wrong):
    orders = lambda acct: "arn:aws:dynamodb:*:%s:table/orders" % acct
    return {
        "account_id": ACCOUNT,
        "listeners": [{"name": "egress", "kind": "egress", "address": "127.0.0.1", "port": free_port()}],
        "upstream": {"ca_file": str(ecerts.up_ca), "connect_timeout_ms": 2000, "response_timeout_ms": 5000},
        "egress": {
            "ca_cert": str(ecerts.gw_ca), "ca_key": str(ecerts.gw_key), "regions": [REGION],
            "account_ids": [ACCOUNT, OTHER_ACCOUNT],
            "routes": [{"host": DDB, "to": "127.0.0.1:%d" % good.port},
                       {"host": STREAMS, "to": "127.0.0.1:%d" % good.port},
                       {"host": OTHER_ACCOUNT_EP, "to": "127.0.0.1:%d" % good.port},
                       {"host": FIPS, "to": "127.0.0.1:%d" % wrong.port}],
            "cert_validity_s": CERT_VALIDITY_S,
        },
        "access_log": {"path": str(ework / "guard" / "access.log")},
        "policies": {
            "app": {"Version": "2012-10-17", "Statement": [
                {"Sid": "Orders", "Effect": "Allow",
                 "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DescribeTable"],
                 "Resource": [orders(ACCOUNT)]},
                {"Sid": "Streams", "Effect": "Allow", "Action": "dynamodb:ListStreams", "Resource": "*"}]},
            "guardrails": {"Version": "2012-10-17", "Statement": [
                {"Sid": "NoExport", "Effect": "Deny", "Action": "dynamodb:ExportTableToPointInTime",
                 "Resource": "*"},
                {"Sid": "NoPartiQL", "Effect": "Deny", "Action": "dynamodb:ExecuteStatement", "Resource": "*"}]},
        },
        "identities": [{"name": "app", "access_key_ids": [APP_KEY], "policies": ["app", "guardrails"]}],
    }


@pytest.fixture(scope="module")
def eguard(ework, ecerts, erecorder, wrong_cert_dynalite):
    # Routes to the recorder: every byte the gateway sends to "DynamoDB" is kept (g.assert_not_forwarded()).
    g = Guard(ework, "guard", egress_config(ework, ecerts, erecorder, wrong_cert_dynalite), ecerts.gw_ca)
    g.recorder = erecorder
    g.start()
    yield g
    g.stop()


@pytest.fixture
def elog(eguard):
    return eguard.log


# --------------------------------------------------------------------------------------------- helpers
def proxy_url(g):
    return "http://127.0.0.1:%d" % g.port


def boto(g, ca, endpoint=None, service="dynamodb"):
    return g.journal(boto3.session.Session().client(
        service, region_name=REGION, endpoint_url=endpoint, verify=str(ca),
        aws_access_key_id=APP_KEY, aws_secret_access_key=SECRET,
        config=Config(proxies={"https": proxy_url(g)}, retries={"total_max_attempts": 1, "mode": "standard"},
                      connect_timeout=30, read_timeout=60)))  # hang guards


def cli(g, ca, *args):
    env = {
        "PATH": "/usr/bin:/bin", "HOME": str(g.dir), "LANG": "C.UTF-8",
        "HTTPS_PROXY": proxy_url(g), "AWS_CA_BUNDLE": str(ca),
        "AWS_ACCESS_KEY_ID": APP_KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
    }
    return g.run_cli([AWS_BIN, "dynamodb", *args, "--region", REGION, "--output", "json",
                      "--cli-connect-timeout", "30", "--cli-read-timeout", "60"], env)


def connect(g, target, raw_request=None):
    """Opens a plain connection to the egress listener and sends CONNECT target (or raw_request).
    Returns (socket, status, head bytes); the socket is left open for a tunnel."""
    s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    s.sendall(raw_request or ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
    head = b""
    while b"\r\n\r\n" not in head:  # byte by byte: nothing after the head may be consumed (TLS follows)
        ch = s.recv(1)
        if not ch:
            break
        head += ch
    assert head.startswith(b"HTTP/1.1 "), head
    return s, int(head.split()[1]), head


NO_SNI = object()


def tunnel_tls(g, name, ca=None, server_hostname=None):
    """CONNECT name:443, then TLS inside the tunnel with SNI server_hostname (default: name; NO_SNI: none).
    ca None: no verification (the gateway decides)."""
    s, status, head = connect(g, name + ":443")
    assert status == 200, head
    if ca is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=str(ca))
    try:
        if server_hostname is NO_SNI:
            return ctx.wrap_socket(s)
        return ctx.wrap_socket(s, server_hostname=server_hostname or name)
    except BaseException:
        s.close()
        raise


def check_tunnel_fields(rec, target, upstream=None):
    """The egress fields every record of a call inside a tunnel carries."""
    g = rec["guard"]
    assert g["mode"] == "egress", rec
    assert g["listener"] == "egress", rec
    assert g["connectTarget"] == target, rec
    assert rec["awsRegion"] == REGION
    tls = rec["tlsDetails"]
    assert tls["tlsVersion"] in ("TLSv1.2", "TLSv1.3"), rec
    assert tls["cipherSuite"], rec
    assert tls["clientProvidedHostHeader"].split(":")[0].lower() == target, rec
    if upstream is not None:
        assert g["upstream"]["address"] == "127.0.0.1:%d" % upstream.port, rec
        assert g["upstream"]["url"] == "https://" + target, rec


# --------------------------------------------------------------------------------------------- gateway CA
def test_gateway_ca_name_constraints_are_honoured_by_openssl(ecerts, ework):
    text = run("openssl", "x509", "-in", ecerts.gw_ca, "-noout", "-text").stdout
    assert "CA:TRUE, pathlen:0" in text and "Certificate Sign" in text
    assert "X509v3 Name Constraints: critical" in text
    assert "DNS:amazonaws.com\n" in text and "DNS:amazonaws.com.cn" in text
    assert oct(ecerts.gw_key.stat().st_mode & 0o777) == "0o600"
    d = ework / "nc"
    d.mkdir()
    for name, ok in ((DDB, True), ("foo.amazonaws.com.cn", True), ("example.com", False),
                     ("evilamazonaws.com", False)):
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", d / "k")
        run("openssl", "req", "-new", "-key", d / "k", "-subj", "/CN=" + name, "-out", d / "csr")
        (d / "ext").write_text("basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:%s\n"
                               "extendedKeyUsage=serverAuth\n" % name)
        run("openssl", "x509", "-req", "-in", d / "csr", "-CA", ecerts.gw_ca, "-CAkey", ecerts.gw_key,
            "-set_serial", "1", "-days", "1", "-extfile", d / "ext", "-out", d / "crt")
        v = subprocess.run(["openssl", "verify", "-CAfile", str(ecerts.gw_ca), str(d / "crt")],
                           capture_output=True, text=True, timeout=30)
        assert (v.returncode == 0) == ok, (name, v.stdout, v.stderr)
        if not ok:
            assert "permitted subtree violation" in v.stdout + v.stderr, (name, v.stdout, v.stderr)


def test_mkgatewayca_is_idempotent(ecerts):
    before = ecerts.gw_ca.read_bytes()
    out = run(ROOT / "certs" / "mkgatewayca.sh", ecerts.gw_ca.parent).stdout
    assert "already has" in out
    assert ecerts.gw_ca.read_bytes() == before


# --------------------------------------------------------------------------------------------- allowed calls
def test_aws_cli_put_and_get_through_the_tunnel(eguard, elog, ecerts, good_dynalite, erecorder):
    put = cli(eguard, ecerts.gw_ca, "put-item", "--table-name", "orders",
              "--item", '{"pk": {"S": "cli-1"}, "v": {"S": "from the CLI"}}')
    assert put.returncode == 0, put.stderr
    got = cli(eguard, ecerts.gw_ca, "get-item", "--table-name", "orders", "--key", '{"pk": {"S": "cli-1"}}')
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["Item"] == {"pk": {"S": "cli-1"}, "v": {"S": "from the CLI"}}
    for op in ("PutItem", "GetItem"):
        rec = eguard.record(eventName=op)
        assert rec["guard"]["decision"] == "allow", rec
        assert rec["guard"]["status"] == 200 and rec["guard"]["upstream"]["status"] == 200, rec
        assert rec["guard"]["identity"] == "app"
        assert rec["userAgent"].startswith("aws-cli/2"), rec
        assert rec["resources"] == [{"accountId": ACCOUNT, "type": "AWS::DynamoDB::Table",
                                     "ARN": "arn:aws:dynamodb:us-east-1:%s:table/orders" % ACCOUNT}], rec
        assert rec["recipientAccountId"] == ACCOUNT
        check_tunnel_fields(rec, DDB, erecorder)


def test_boto3_put_and_get_through_the_tunnel(eguard, elog, ecerts, good_dynalite, erecorder):
    c = boto(eguard, ecerts.gw_ca)
    c.put_item(TableName="orders", Item={"pk": {"S": "boto-1"}, "n": {"N": "42"}})
    item = c.get_item(TableName="orders", Key={"pk": {"S": "boto-1"}})["Item"]
    assert item == {"pk": {"S": "boto-1"}, "n": {"N": "42"}}
    for op in ("PutItem", "GetItem"):
        rec = eguard.record(eventName=op)
        assert rec["guard"]["decision"] == "allow" and rec["guard"]["status"] == 200, rec
        assert rec["userAgent"].startswith("Boto3/"), rec
        check_tunnel_fields(rec, DDB, erecorder)


def test_streams_name_is_its_own_route_and_serves_streams_only(eguard, elog, ecerts, good_dynalite, erecorder):
    # dynalite implements no Streams operation: its 400 proves the call was forwarded over the streams route.
    with pytest.raises(ClientError) as e:
        boto(eguard, ecerts.gw_ca, service="dynamodbstreams").list_streams()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    rec = eguard.record(eventName="ListStreams")
    assert rec["guard"]["decision"] == "allow" and rec["guard"]["upstream"]["status"] == 400, rec
    check_tunnel_fields(rec, STREAMS, erecorder)
    # A DynamoDB call to the Streams name is not rerouted to a DynamoDB endpoint.
    with pytest.raises(ClientError) as e:
        boto(eguard, ecerts.gw_ca, endpoint="https://" + STREAMS).get_item(
            TableName="orders", Key={"pk": {"S": "boto-1"}})
    assert e.value.response["Error"]["Code"] == "ValidationException", e.value.response
    rec = eguard.record(eventName="GetItem")
    assert rec["guard"]["decision"] == "reject" and "upstream" not in rec["guard"], rec
    assert STREAMS in rec["guard"]["reason"]
    check_tunnel_fields(rec, STREAMS)
    eguard.assert_not_forwarded()


def test_account_endpoint_builds_arns_with_its_own_account(eguard, elog, ecerts, good_dynalite, erecorder):
    """<account>.ddb.<region> names make the ARNs of that account: the policy allows only ACCOUNT's tables."""
    with pytest.raises(ClientError) as e:
        boto(eguard, ecerts.gw_ca, endpoint="https://" + OTHER_ACCOUNT_EP).get_item(
            TableName="orders", Key={"pk": {"S": "boto-1"}})
    assert e.value.response["Error"]["Code"] == "AccessDeniedException", e.value.response
    rec = eguard.record(eventName="GetItem")
    assert rec["guard"]["decision"] == "deny", rec
    assert rec["recipientAccountId"] == OTHER_ACCOUNT
    assert rec["resources"][0]["ARN"] == "arn:aws:dynamodb:us-east-1:%s:table/orders" % OTHER_ACCOUNT, rec
    check_tunnel_fields(rec, OTHER_ACCOUNT_EP)
    eguard.assert_not_forwarded()


@pytest.mark.parametrize("op,kwargs,event,sid", [
    ("export_table_to_point_in_time",
     dict(TableArn="arn:aws:dynamodb:us-east-1:%s:table/orders" % ACCOUNT, S3Bucket="exfil"),
     "ExportTableToPointInTime", "NoExport"),
    ("execute_statement", dict(Statement='SELECT * FROM "orders"'), "ExecuteStatement", "NoPartiQL"),
])
def test_denied_call_inside_the_tunnel(eguard, elog, ecerts, op, kwargs, event, sid):
    with pytest.raises(ClientError) as e:
        getattr(boto(eguard, ecerts.gw_ca), op)(**kwargs)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException", e.value.response
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    rec = eguard.record(eventName=event)
    assert rec["guard"]["decision"] == "deny", rec
    assert rec["guard"]["statement"] == sid and rec["guard"]["policy"] == "guardrails", rec
    assert rec["errorCode"] == "AccessDeniedException" and "upstream" not in rec["guard"], rec
    check_tunnel_fields(rec, DDB)
    eguard.assert_not_forwarded()


# --------------------------------------------------------------------------------------------- refused CONNECTs
REFUSED = [
    ("s3.amazonaws.com:443", "s3.amazonaws.com"),
    ("example.com:443", "example.com"),
    ("127.0.0.1:443", "127.0.0.1"),
    (DDB + ":8443", DDB),
    (DDB + ":80", DDB),
    ("dynamodb.eu-west-1.amazonaws.com:443", "dynamodb.eu-west-1.amazonaws.com"),
    ("999999999999.ddb.us-east-1.amazonaws.com:443", "999999999999.ddb.us-east-1.amazonaws.com"),
    ("dynamodb.cn-north-1.amazonaws.com:443", "dynamodb.cn-north-1.amazonaws.com"),
    ("dynamodb.us-east-1.amazonaws.com.evil.example:443", "dynamodb.us-east-1.amazonaws.com.evil.example"),
    ("a.dynamodb.us-east-1.amazonaws.com:443", "a.dynamodb.us-east-1.amazonaws.com"),
    # IPv6 literals are refused like IPv4 ones (403), not as malformed
    ("[::1]:443", "[::1]"),
    ("[0:0:0:0:0:ffff:7f00:1]:443", "[0:0:0:0:0:ffff:7f00:1]"),
    # VPC endpoint names are tunnelled only when the config lists them
    ("vpce-made-up.dynamodb.us-east-1.vpce.amazonaws.com:443", "vpce-made-up.dynamodb.us-east-1.vpce.amazonaws.com"),
    # not DNS names: a 64-octet label, an empty label (refused by policy with 403, never a 502 at minting)
    ("a" * 64 + ".dynamodb.us-east-1.amazonaws.com:443", "a" * 64 + ".dynamodb.us-east-1.amazonaws.com"),
    (ACCOUNT + ".ddb..us-east-1.amazonaws.com:443", ACCOUNT + ".ddb..us-east-1.amazonaws.com"),
]


@pytest.mark.parametrize("target,host", REFUSED, ids=[t for t, _ in REFUSED])
def test_connect_to_anything_else_is_refused(eguard, elog, erecorder, target, host):
    since = erecorder.mark()
    s, status, head = connect(eguard, target)
    with s:
        resp = read_response_after_head(s, head)
    assert status == 403, head
    assert resp.header("Connection") == "close"
    assert resp.json()["__type"].endswith("#AccessDeniedException"), resp
    # SDKs show only "Failed to connect to proxy URL": the status line and body say who refused and where to look.
    status_line = (head.decode(errors="replace") if isinstance(head, bytes) else str(head)).split("\r\n")[0]
    assert "Forbidden by ddbguard (see its access log)" in status_line, status_line
    assert "access log" in resp.json()["message"] and resp.header("x-amzn-RequestId") in resp.json()["message"], resp
    erecorder.assert_quiet_since(since, "CONNECT %s" % target)
    rec = elog.by_request_id(resp.header("x-amzn-RequestId"), decision="deny")
    assert rec["guard"]["mode"] == "egress" and rec["guard"]["listener"] == "egress", rec
    assert rec["guard"]["connectTarget"] == host, rec
    assert rec["guard"]["status"] == 403 and rec["errorCode"] == "AccessDeniedException", rec
    assert host in rec["guard"]["reason"], rec
    assert "upstream" not in rec["guard"] and "tlsDetails" not in rec, rec


def test_plain_proxy_request_is_refused(eguard, elog, erecorder):
    since = erecorder.mark()
    s, status, head = connect(eguard, None, b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
    with s:
        resp = read_response_after_head(s, head)
    assert status == 403, head
    assert resp.json()["__type"].endswith("#AccessDeniedException"), resp
    erecorder.assert_quiet_since(since, "a plain proxy request")
    rec = elog.by_request_id(resp.header("x-amzn-RequestId"), decision="deny")
    assert rec["guard"]["mode"] == "egress" and rec["guard"]["status"] == 403, rec
    assert "only tunnels CONNECT" in rec["guard"]["reason"], rec
    assert rec["guard"]["connectTarget"] == "http://example.com/", rec


def test_name_longer_than_dns_allows_is_refused_with_403(eguard, elog):
    host = ".".join(["a" * 60] * 4) + ".dynamodb.us-east-1.amazonaws.com"  # 277 octets
    s, status, head = connect(eguard, host + ":443")
    with s:
        resp = read_response_after_head(s, head)
    assert status == 403, head
    assert resp.json()["__type"].endswith("#AccessDeniedException"), resp
    rec = elog.by_request_id(resp.header("x-amzn-RequestId"), decision="deny")
    assert host.startswith(rec["guard"]["connectTarget"]), rec  # the log keeps the first 253 octets
    assert "253" in rec["guard"]["reason"], rec


def test_vpc_endpoint_names_cannot_evict_the_regional_names(ework, ecerts, good_dynalite, wrong_cert_dynalite):
    """max_cached_certs bounds listed VPC endpoint names only; the regional, FIPS, Streams and account-based
    names keep their own slots, and a made-up VPC endpoint name is refused without taking one."""
    vpce1, vpce2 = ("vpce-0a1b2c3d4e5f6a7b8-%s.dynamodb.us-east-1.vpce.amazonaws.com" % x for x in ("one", "two"))
    cfg = egress_config(ework, ecerts, good_dynalite, wrong_cert_dynalite)
    cfg["listeners"][0]["port"] = free_port()
    cfg["access_log"]["path"] = str(ework / "slots" / "access.log")
    cfg["egress"]["max_cached_certs"] = 1
    cfg["egress"]["vpc_endpoints"] = [vpce1]
    cfg["egress"]["routes"].append({"host": vpce2, "to": "127.0.0.1:%d" % good_dynalite.port})  # listed by a route
    g = Guard(ework, "slots", cfg, ecerts.gw_ca).start()
    try:
        held = tunnel_tls(g, vpce1, ca=ecerts.gw_ca)  # takes the one VPC endpoint slot and keeps it
        with held:
            s, status, head = connect(g, vpce2 + ":443")
            s.close()
            assert status == 502, head  # listed, but every VPC endpoint slot has an open tunnel
            for name in (DDB, STREAMS, ACCOUNT_EP, OTHER_ACCOUNT_EP):
                with tunnel_tls(g, name, ca=ecerts.gw_ca) as t:
                    assert t.version() == "TLSv1.3"
            s, status, head = connect(g, "vpce-made-up.dynamodb.us-east-1.vpce.amazonaws.com:443")
            with s:
                resp = read_response_after_head(s, head)
            assert status == 403, head
            rec = g.log.by_request_id(resp.header("x-amzn-RequestId"), decision="deny")
            assert "egress.vpc_endpoints" in rec["guard"]["reason"], rec
    finally:
        assert g.stop() == 0


@pytest.mark.parametrize("target", ["[::1]", "[::1]:", "[zz::1]:443", DDB, DDB + ":", DDB + ":443x",
                                    "user@" + DDB + ":443"])
def test_malformed_connect_is_rejected(eguard, elog, erecorder, target):
    since = erecorder.mark()
    s, status, head = connect(eguard, target)
    with s:
        resp = read_response_after_head(s, head)
    assert status == 400 and resp.header("Connection") == "close", head
    erecorder.assert_quiet_since(since, "CONNECT %s" % target)
    rec = elog.by_request_id(resp.header("x-amzn-RequestId"), decision="reject")
    assert rec["guard"]["mode"] == "egress" and rec["guard"]["status"] == 400, rec
    assert rec["guard"]["connectTarget"] == target, rec


def read_response_after_head(s, head):
    """read_response() for a socket whose head was already consumed by connect()."""
    class Replay:
        def __init__(self):
            self.pending = head

        def recv(self, n):
            if self.pending:
                data, self.pending = self.pending, b""
                return data
            return s.recv(n)
    return read_response(Replay())


# --------------------------------------------------------------------------------------------- tunnel TLS
def test_account_endpoint_gets_a_minted_certificate_for_exactly_its_name(eguard, elog, ecerts):
    mark = elog.mark()
    with tunnel_tls(eguard, ACCOUNT_EP, ca=ecerts.gw_ca) as t:  # verifies chain and host name
        der = t.getpeercert(binary_form=True)
    cert = x509.load_der_x509_certificate(der)
    ca = x509.load_pem_x509_certificate(ecerts.gw_ca.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [ACCOUNT_EP]
    assert len(list(san)) == 1
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ACCOUNT_EP
    assert cert.issuer == ca.subject
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca is False
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    lifetime = (cert.not_valid_after - cert.not_valid_before).total_seconds()
    assert lifetime <= CERT_VALIDITY_S + 300, lifetime
    now = datetime.datetime.utcnow()
    assert cert.not_valid_before <= now <= cert.not_valid_after
    # An allowed CONNECT with no call in it is not a call: nothing is logged, and certainly no refusal.
    assert [r for r in elog.records(mark) if r["guard"]["decision"] != "allow"] == []


def test_minted_certificate_is_cached_per_name(eguard, ecerts):
    ders = []
    for _ in range(2):
        with tunnel_tls(eguard, DDB, ca=ecerts.gw_ca) as t:
            ders.append(t.getpeercert(binary_form=True))
    assert ders[0] == ders[1]
    with tunnel_tls(eguard, FIPS, ca=ecerts.gw_ca) as t:
        assert t.getpeercert(binary_form=True) != ders[0]


@pytest.mark.parametrize("sni", ["other.example", STREAMS, NO_SNI], ids=["other", "another-endpoint", "no-sni"])
def test_sni_must_match_the_connect_target(eguard, elog, erecorder, sni):
    # No response, so no request id: the record is waited for by what only this refusal's record says.
    mark = elog.mark()
    since = erecorder.mark()
    with pytest.raises(ssl.SSLError) as e:
        tunnel_tls(eguard, DDB, server_hostname=sni).close()
    assert "UNRECOGNIZED_NAME" in str(e.value).upper(), e.value  # the alert reaches the client
    erecorder.assert_quiet_since(since, "a tunnel with SNI %r" % sni)
    rec = elog.wait(mark, decision="reject", connectTarget=DDB)[0]
    assert "TLS handshake with the client failed" in rec["guard"]["reason"], rec
    assert rec["guard"]["connectTarget"] == DDB and rec["guard"]["mode"] == "egress", rec
    assert "upstream" not in rec["guard"], rec


def test_client_that_does_not_trust_the_gateway_ca_fails_closed(eguard, elog, good_dynalite, erecorder):
    mark = elog.mark()
    r = cli(eguard, SYSTEM_BUNDLE, "get-item", "--table-name", "orders", "--key", '{"pk": {"S": "cli-1"}}')
    assert r.returncode != 0
    assert "SSL validation failed" in r.stderr or "CERTIFICATE_VERIFY_FAILED" in r.stderr, r.stderr
    assert "Item" not in r.stdout
    eguard.assert_not_forwarded(eguard.last_call(), "cli-1")
    rec = elog.wait(mark, decision="reject", connectTarget=DDB)[0]
    assert "TLS handshake with the client failed" in rec["guard"]["reason"], rec
    assert "unknown ca" in rec["guard"]["reason"].lower(), rec
    assert rec["guard"]["connectTarget"] == DDB, rec
    # (digest lines have no eventName: only call records count)
    assert [r for r in elog.records(mark) if r.get("eventName") is not None] == [], "a call got through"


def test_upstream_with_wrong_certificate_gives_502(eguard, elog, ecerts, wrong_cert_dynalite):
    with pytest.raises(ClientError) as e:
        boto(eguard, ecerts.gw_ca, endpoint="https://" + FIPS).get_item(
            TableName="orders", Key={"pk": {"S": "boto-1"}})
    resp = e.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 502, resp
    assert resp["Error"]["Code"] == "ServiceUnavailableException", resp
    rec = eguard.record(eventName="GetItem")
    assert rec["guard"]["decision"] == "error" and rec["guard"]["status"] == 502, rec
    assert "certificate verif" in rec["guard"]["reason"], rec
    assert rec["errorCode"] == "ServiceUnavailableException"
    check_tunnel_fields(rec, FIPS, wrong_cert_dynalite)
    assert rec["guard"]["upstream"].get("status") in (None, 0), rec


def signed_head(host, op, body, extra=""):
    """A SigV4-signed request head for `host` (as botocore would sign it), plus `extra` header lines."""
    req = AWSRequest(method="POST", url="https://%s/" % host, data=body,
                     headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810." + op})
    SigV4Auth(Credentials(APP_KEY, SECRET), "dynamodb", REGION).add_auth(req)
    head = "POST / HTTP/1.1\r\nHost: %s\r\n" % host + "".join("%s: %s\r\n" % kv for kv in req.headers.items())
    return (head + extra + "Content-Length: %d\r\n\r\n" % len(body)).encode()


def test_last_response_before_close_reaches_the_client(eguard, elog, ecerts, good_dynalite, erecorder):
    """Connection: close inside the tunnel: the answer is flushed through TLS before the tunnel closes."""
    boto(eguard, ecerts.gw_ca).put_item(TableName="orders", Item={"pk": {"S": "close-1"}, "v": {"S": "x" * 3000}})
    body = b'{"TableName": "orders", "Key": {"pk": {"S": "close-1"}}}'
    with tunnel_tls(eguard, DDB, ca=ecerts.gw_ca) as t:
        t.sendall(signed_head(DDB, "GetItem", body, "Connection: close\r\n") + body)
        resp = read_response(t)
    assert resp.status == 200, resp
    assert resp.json()["Item"]["v"]["S"] == "x" * 3000
    rec = elog.by_request_id(resp.header("x-amzn-RequestId"), eventName="GetItem")
    assert rec["guard"]["decision"] == "allow", rec
    check_tunnel_fields(rec, DDB, erecorder)


def test_host_header_must_match_the_connect_target(eguard, elog, ecerts, erecorder):
    body = b'{"TableName": "orders", "Key": {"pk": {"S": "boto-1"}}}'
    since = erecorder.mark()
    head = signed_head("dynamodb.eu-west-1.amazonaws.com", "GetItem", body)  # validly signed
    with tunnel_tls(eguard, DDB, ca=ecerts.gw_ca) as t:
        t.sendall(head + body)
        resp = read_response(t)
    assert resp.status == 400, resp
    assert resp.header("Connection") == "close"
    erecorder.assert_not_forwarded(re.search(rb"Signature=[0-9a-f]{64}", head).group(0), b"eu-west-1",
                                   since=since, what="a call whose Host is not the CONNECT target")
    rec = elog.by_request_id(resp.header("x-amzn-RequestId"), decision="reject")
    assert "Host does not match the CONNECT target" in rec["guard"]["reason"], rec
    assert rec["guard"]["status"] == 400 and "upstream" not in rec["guard"], rec
    assert rec["guard"]["connectTarget"] == DDB
    assert rec["tlsDetails"]["clientProvidedHostHeader"] == "dynamodb.eu-west-1.amazonaws.com", rec


def test_large_last_response_to_a_slow_reader_is_not_cut(eguard, elog, ecerts, good_dynalite, erecorder):
    """Connection: close after a response larger than the TLS filter's 256 KiB watermark, read slowly through
    a tiny receive window, arrives whole (a cut response makes SDKs retry writes that already happened).
    On loopback the kernel's send buffer takes the whole ~390 KB, so this guards the close path in general;
    the lingering close (conn_close_when_sent) matters on real links, where it cannot take it all."""
    boto(eguard, ecerts.gw_ca).put_item(TableName="orders", Item={"pk": {"S": "slow-1"}, "v": {"S": "y" * 390000}})
    body = b'{"TableName": "orders", "Key": {"pk": {"S": "slow-1"}}}'
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    raw.settimeout(10)
    raw.connect(("127.0.0.1", eguard.port))
    raw.sendall(("CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" % (DDB, DDB)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += raw.recv(1)
    assert head.startswith(b"HTTP/1.1 200"), head
    t = ssl.create_default_context(cafile=str(ecerts.gw_ca)).wrap_socket(raw, server_hostname=DDB)
    t.sendall(signed_head(DDB, "GetItem", body, "Connection: close\r\n") + body)
    time.sleep(1.0)  # the gateway finishes and closes meanwhile; the bytes wait in buffers
    data = b""
    while True:
        chunk = t.recv(4096)
        if not chunk:
            break
        data += chunk
        time.sleep(0.0005)
    t.close()
    resp_head, _, resp_body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", resp_head).group(1))
    assert len(resp_body) == length, (len(resp_body), length)
    assert resp_head.startswith(b"HTTP/1.1 200"), (resp_head, resp_body[:300])
    assert json.loads(resp_body)["Item"]["v"]["S"] == "y" * 390000
    rid = re.search(rb"(?i)\r\nx-amzn-requestid: *(\S+)", resp_head).group(1).decode()
    assert elog.by_request_id(rid, eventName="GetItem")["guard"]["decision"] == "allow"

"""Identities by client certificate, source address and listener (issue 12, part 1), with the access-log
record saying which identity matched and by what. One ddbguard with two TLS listeners: "main" (no client
certificates) and "mtls" (tls.client_ca = the test CA, certificates optional)."""
import json
import socket
import ssl
import subprocess

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from guardlib import APP_KEY, REGION, SECRET, free_port, read_response

SPIFFE = "spiffe://example.org/ns/prod/sa/orders"


def mint_client_cert(certs, work, name, subject, san=None):
    """A client certificate signed by the test CA (or certs.rogue_* when name starts with 'rogue')."""
    d = work / "clientcerts"
    d.mkdir(exist_ok=True)
    key, csr, crt, ext = (d / (name + s) for s in (".key", ".csr", ".crt", ".ext"))
    ca_dir = work / ("rogue" if name.startswith("rogue") else "certs")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr)],
                   check=True, capture_output=True)
    ext.write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=clientAuth\n" + ("subjectAltName=%s\n" % san if san else ""))
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_dir / "ca.crt"),
                    "-CAkey", str(ca_dir / "ca.key"), "-set_serial", "0x" + name.encode().hex()[:30],
                    "-days", "2", "-extfile", str(ext), "-out", str(crt)], check=True, capture_output=True)
    return str(crt), str(key)


@pytest.fixture(scope="module")
def idguard(make_guard, dynalite, tables, certs, work):
    mtls_port = free_port()

    def mutate(cfg):
        main = cfg["listeners"][0]
        cfg["listeners"].append({"name": "mtls", "address": "127.0.0.1", "port": mtls_port,
                                 "tls": dict(main["tls"], client_ca=str(certs.ca), client_cert="optional")})
        cfg["identities"] = [
            # app and batch could both match a call on "main" but for their source ranges
            {"name": "app", "access_key_ids": [APP_KEY], "listeners": ["main"],
             "source_cidrs": ["127.0.0.1/32", "::1/128"], "policies": ["app-rw", "guardrails"]},
            # Passthrough by certificate: the client's own key signs, so (part 2) bare table names need
            # a key of our account, or the risk accepted in so many words, as here.
            {"name": "orders-svc", "client_certificate": {"uris": [SPIFFE]},
             "accept_risk": "unverified keys may act on same-named tables in other AWS accounts",
             "policies": ["app-rw", "guardrails"]},
            {"name": "batch-from-127-0-0-2", "source_cidrs": ["127.0.0.2/32", "::2/128"],
             "listeners": ["main"], "policies": ["read-only"]},
        ]
    g = make_guard("identity", dynalite.url, mutate=mutate)
    g.mtls_port = mtls_port
    return g


def boto_mtls(g, certs, cert=None, key=APP_KEY):
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=15,
                 client_cert=cert)
    return boto3.session.Session().client(
        "dynamodb", endpoint_url="https://localhost:%d" % g.mtls_port, region_name=REGION, verify=str(certs.ca),
        aws_access_key_id=key, aws_secret_access_key=SECRET, config=cfg)


def test_spiffe_certificate_names_the_caller(idguard, certs, work):
    cert = mint_client_cert(certs, work, "orders", "/O=example/CN=orders", "URI:" + SPIFFE)
    mark = idguard.log.mark()
    # Any access key: the certificate, not the key, says who this is.
    boto_mtls(idguard, certs, cert, key="AKIAWHATEVER00000001").put_item(
        TableName="orders", Item={"pk": {"S": "id#1"}, "sk": {"S": "cert"}})
    rec = idguard.log.one(mark, eventName="PutItem")
    assert rec["guard"]["decision"] == "allow"
    ui = rec["userIdentity"]["ddbguard"]
    assert ui["identity"] == "orders-svc"
    assert ui["matchedBy"] == ["client-certificate"]
    assert ui["proof"] == "client-certificate"
    assert ui["clientCertificate"]["uris"] == [SPIFFE]
    assert ui["clientCertificate"]["subject"] == "CN=orders,O=example"
    assert rec["guard"]["identityMatch"] == "certificate"


def test_other_certificate_matches_nothing(idguard, certs, work):
    cert = mint_client_cert(certs, work, "billing", "/CN=billing", "URI:spiffe://example.org/ns/prod/sa/billing")
    mark = idguard.log.mark()
    with pytest.raises(ClientError) as e:
        boto_mtls(idguard, certs, cert).put_item(TableName="orders", Item={"pk": {"S": "x"}, "sk": {"S": "y"}})
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    rec = idguard.log.one(mark, eventName="PutItem")
    assert rec["userIdentity"]["ddbguard"]["identity"] is None
    assert rec["userIdentity"]["ddbguard"]["clientCertificate"]["uris"] == ["spiffe://example.org/ns/prod/sa/billing"]


def test_no_certificate_on_the_mtls_listener(idguard, certs):
    """app's key is only good on "main": on "mtls" without a certificate nobody matches."""
    mark = idguard.log.mark()
    with pytest.raises(ClientError) as e:
        boto_mtls(idguard, certs).get_item(TableName="orders", Key={"pk": {"S": "a"}, "sk": {"S": "b"}})
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    rec = idguard.log.one(mark, eventName="GetItem")
    assert "clientCertificate" not in rec["userIdentity"]["ddbguard"]
    # and on main it is app
    mark = idguard.log.mark()
    idguard.boto().get_item(TableName="orders", Key={"pk": {"S": "a"}, "sk": {"S": "b"}})
    rec = idguard.log.one(mark, eventName="GetItem")
    assert rec["userIdentity"]["ddbguard"]["identity"] == "app"
    assert rec["userIdentity"]["ddbguard"]["matchedBy"] == ["access-key", "source-address", "listener"]


def test_untrusted_certificate_fails_the_handshake(idguard, certs, work):
    cert = mint_client_cert(certs, work, "rogue-orders", "/CN=orders", "URI:" + SPIFFE)
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    ctx.load_cert_chain(*cert)
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        with socket.create_connection(("127.0.0.1", idguard.mtls_port), timeout=5) as tcp:
            with ctx.wrap_socket(tcp, server_hostname="localhost") as s:
                s.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n")
                s.recv(100)


def _raw_from(g, src, op, body):
    from test_sigv4_verify import key_for_account
    from guardlib import ACCOUNT
    # batch pins no key: a key that encodes our account may name tables without one (part 2)
    head, body = g.request_bytes(op, body, key=key_for_account(ACCOUNT))
    ctx = ssl.create_default_context(cafile=g.ca)
    with socket.create_connection(("127.0.0.1", g.port), timeout=5, source_address=(src, 0)) as tcp:
        with ctx.wrap_socket(tcp, server_hostname="localhost") as s:
            s.sendall(head + body)
            return read_response(s)


def test_source_range_names_the_caller(idguard):
    body = json.dumps({"TableName": "users", "Key": {"pk": {"S": "u1"}}}).encode()
    mark = idguard.log.mark()
    resp = _raw_from(idguard, "127.0.0.2", "GetItem", body)
    assert resp.status == 200, resp
    rec = idguard.log.one(mark, eventName="GetItem")
    assert rec["sourceIPAddress"] == "127.0.0.2"
    assert rec["userIdentity"]["ddbguard"]["identity"] == "batch-from-127-0-0-2"
    assert rec["userIdentity"]["ddbguard"]["matchedBy"] == ["source-address", "listener"]
    assert rec["userIdentity"]["ddbguard"]["proof"] == "network"
    # the same call from 127.0.0.3: nobody
    mark = idguard.log.mark()
    resp = _raw_from(idguard, "127.0.0.3", "GetItem", body)
    assert resp.status == 400 and b"AccessDeniedException" in resp.body
    assert idguard.log.one(mark, eventName="GetItem")["userIdentity"]["ddbguard"]["identity"] is None


def _check(tmp_path, cfg):
    from guardlib import DDBGUARD_BIN
    p = tmp_path / "c.json"
    p.write_text(json.dumps(cfg))
    return subprocess.run([str(DDBGUARD_BIN), "--check", "-c", str(p)], capture_output=True, text=True, timeout=30)


def test_check_refuses_overlapping_identities(config_template, tmp_path, certs):
    cfg = config_template()
    cfg["listeners"][0]["tls"]["client_ca"] = str(certs.ca)
    cfg["identities"].append({"name": "by-cert", "client_certificate": {"subjects": ["CN=x"]},
                              "policies": ["read-only"]})
    r = _check(tmp_path, cfg)
    assert r.returncode == 1
    assert ('$.identities[2]: identities "app" (identities[0]) and "by-cert" could both match one call'
            in r.stderr), r.stderr
    # Told apart by listener: valid.
    cfg["listeners"].append(dict(cfg["listeners"][0], name="mtls", port=free_port()))
    cfg["listeners"][0]["tls"] = {k: v for k, v in cfg["listeners"][0]["tls"].items() if k != "client_ca"}
    cfg["identities"][2]["listeners"] = ["mtls"]
    for i in (0, 1):
        cfg["identities"][i]["listeners"] = ["main"]
    r = _check(tmp_path, cfg)
    assert r.returncode == 0, r.stderr
    # A certificate identity where no listener asks for one can never match.
    del cfg["listeners"][1]["tls"]["client_ca"]
    r = _check(tmp_path, cfg)
    assert r.returncode == 1 and "does not ask for client certificates" in r.stderr, r.stderr

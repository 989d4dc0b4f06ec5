"""certs/mkgatewayca.sh REGION...: the egress CA constrained to the DynamoDB names of those regions.

A stolen key of a CA constrained to all of amazonaws.com could impersonate STS, S3 or KMS to every client
that trusts it; narrowed to DynamoDB endpoint names it cannot, and the gateway still works with it."""
import json
import socket
import ssl
import subprocess

import pytest

from guardlib import ACCOUNT, APP_KEY, REGION, ROOT, Guard, free_port


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def narrow_ca(tmp_path_factory):
    d = tmp_path_factory.mktemp("narrow-ca")
    out = run(ROOT / "certs" / "mkgatewayca.sh", d, REGION).stdout
    assert "constrained to the DynamoDB endpoint names of %s" % REGION in out, out
    return d / "gateway-ca.crt", d / "gateway-ca.key", d


def leaf(ca, key, d, name):
    run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", d / "k")
    run("openssl", "req", "-new", "-key", d / "k", "-subj", "/CN=" + name, "-out", d / "csr")
    (d / "ext").write_text("basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:%s\n"
                           "extendedKeyUsage=serverAuth\n" % name)
    run("openssl", "x509", "-req", "-in", d / "csr", "-CA", ca, "-CAkey", key, "-set_serial", "1", "-days", "1",
        "-extfile", d / "ext", "-out", d / "crt")
    return subprocess.run(["openssl", "verify", "-CAfile", str(ca), str(d / "crt")], capture_output=True, text=True,
                          timeout=30)


DYNAMODB_NAMES = ["dynamodb.%s.amazonaws.com", "streams.dynamodb.%s.amazonaws.com",
                  "dynamodb-fips.%s.amazonaws.com", ACCOUNT + ".ddb.%s.amazonaws.com",
                  "vpce-0a1b2c3d4e5f-abcdefgh.dynamodb.%s.vpce.amazonaws.com"]
OTHER_NAMES = ["sts.amazonaws.com", "sts.%s.amazonaws.com", "s3.%s.amazonaws.com", "kms.%s.amazonaws.com",
               "dynamodb.eu-central-1.amazonaws.com", "evil-dynamodb.%s.amazonaws.com", "example.com"]


def test_constraints_name_only_dynamodb_endpoints(narrow_ca):
    ca, _, _ = narrow_ca
    text = run("openssl", "x509", "-in", ca, "-noout", "-ext", "nameConstraints").stdout
    assert "critical" in text
    permitted = text.split("Permitted:")[1].split("Excluded:")[0].split()
    assert permitted == ["DNS:" + (n % REGION).split(".", 1)[1] if n.startswith(("vpce", ACCOUNT)) else
                         "DNS:" + n % REGION for n in DYNAMODB_NAMES], text
    assert "DNS:amazonaws.com\n" not in text


@pytest.mark.parametrize("name", DYNAMODB_NAMES)
def test_a_dynamodb_name_verifies(narrow_ca, tmp_path, name):
    ca, key, _ = narrow_ca
    v = leaf(ca, key, tmp_path, name % REGION)
    assert v.returncode == 0, (name, v.stdout, v.stderr)


@pytest.mark.parametrize("name", OTHER_NAMES)
def test_any_other_name_fails_verification(narrow_ca, tmp_path, name):
    ca, key, _ = narrow_ca
    v = leaf(ca, key, tmp_path, name % REGION if "%s" in name else name)
    assert v.returncode != 0 and "permitted subtree violation" in v.stdout + v.stderr, (name, v.stdout, v.stderr)


def test_a_typo_region_is_refused(tmp_path):
    r = subprocess.run([str(ROOT / "certs" / "mkgatewayca.sh"), str(tmp_path / "x"), "us-east1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "'us-east1' is not a region name" in r.stderr, r.stderr
    assert not (tmp_path / "x" / "gateway-ca.key").exists()


def test_the_gateway_mints_verifiable_certificates_from_the_narrowed_ca(narrow_ca, tmp_path):
    ca, key, _ = narrow_ca
    cfg = {
        "account_id": ACCOUNT,
        "listeners": [{"name": "egress", "kind": "egress", "address": "127.0.0.1", "port": free_port()}],
        "egress": {"ca_cert": str(ca), "ca_key": str(key), "regions": [REGION]},
        "access_log": {"path": str(tmp_path / "gw" / "access.log")},
        "policies": {"p": {"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]}},
        "identities": [{"name": "app", "access_key_ids": [APP_KEY], "policies": ["p"]}],
    }
    g = Guard(tmp_path, "gw", cfg, ca).start()
    try:
        name = "dynamodb.%s.amazonaws.com" % REGION
        s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
        s.sendall(("CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" % (name, name)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
        assert head.startswith(b"HTTP/1.1 200"), head
        ctx = ssl.create_default_context(cafile=str(ca))   # OpenSSL checks the CA's name constraints
        with ctx.wrap_socket(s, server_hostname=name) as t:
            assert t.getpeercert()["subjectAltName"] == (("DNS", name),)
    finally:
        g.stop()

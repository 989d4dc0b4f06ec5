"""`ddbguard explain` (a policy simulator) and the --check policy lints."""
import json
import subprocess

import pytest

from conftest import make_config
from guardlib import APP_KEY, DDBGUARD_BIN, READER_KEY, REGION, table_arn


def config(tmp_path, certs, mutate=None):
    cfg = make_config(tmp_path, certs, "explain", "https://127.0.0.1:1")
    if mutate is not None:
        mutate(cfg)
    path = tmp_path / "ddbguard.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


def explain(cfg_path, request, *args):
    r = subprocess.run([str(DDBGUARD_BIN), "explain", "-c", str(cfg_path), *args], input=request,
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def described(target, key=APP_KEY, body=None, **extra):
    return json.dumps(dict({"target": "DynamoDB_20120810." + target, "access_key_id": key,
                            "body": body if body is not None else {}}, **extra))


def raw_http(target, key, body, crlf=True):
    body = json.dumps(body)
    head = ["POST / HTTP/1.1", "Host: dynamodb.%s.amazonaws.com" % REGION,
            "X-Amz-Target: DynamoDB_20120810." + target,
            "Content-Type: application/x-amz-json-1.0",
            "Authorization: AWS4-HMAC-SHA256 Credential=%s/20260101/%s/dynamodb/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=%s" % (key, REGION, "0" * 64),
            "X-Amz-Date: 20260101T000000Z",
            "Content-Length: %d" % len(body)]
    eol = "\r\n" if crlf else "\n"
    return eol.join(head) + eol + eol + body


def test_allowed_call(tmp_path, certs):
    rc, out, err = explain(config(tmp_path, certs), described("GetItem", body={"TableName": "orders"}))
    assert rc == 0, out + err
    assert "decision: allow" in out
    assert "identity: app (matched by access key %s)" % APP_KEY in out
    assert "action: dynamodb:GetItem (read)" in out
    assert table_arn("orders") in out
    assert ("app-rw / Statement[0] (Sid ItemReadWrite) Allow: action matches, resource %s matches, "
            "no Condition → ALLOWS" % table_arn("orders")) in out
    assert "guardrails / Statement[0] (Sid DenyExport) Deny: action does not match → does not apply" in out


def test_raw_http_request_crlf_and_lf(tmp_path, certs):
    cfg = config(tmp_path, certs)
    for crlf in (True, False):
        req = tmp_path / "req.http"
        req.write_bytes(raw_http("GetItem", READER_KEY, {"TableName": "users", "Key": {"id": {"S": "1"}}},
                                 crlf=crlf).encode() + b"\n")
        rc, out, err = explain(cfg, "", "--request", str(req))
        assert rc == 0, out + err
        assert "identity: reader (matched by access key %s)" % READER_KEY in out
        assert "read-only / Statement[0] (Sid ReadOrdersUsers) Allow: action matches" in out


def test_explicit_deny_names_the_statement(tmp_path, certs):
    rc, out, err = explain(config(tmp_path, certs),
                           described("ExecuteStatement", body={"Statement": "SELECT * FROM orders"}))
    assert rc == 1, out + err
    assert "decision: explicit deny (dynamodb:ExecuteStatement on %s, by guardrails / Statement[1] " \
           "(Sid DenyPartiQL))" % table_arn("orders") in out
    assert "also authorized as: dynamodb:PartiQLSelect" in out
    assert "guardrails / Statement[1] (Sid DenyPartiQL) Deny dynamodb:ExecuteStatement: action matches" in out


def test_implicit_deny(tmp_path, certs):
    rc, out, err = explain(config(tmp_path, certs),
                           described("PutItem", key=READER_KEY, body={"TableName": "orders", "Item": {}}))
    assert rc == 1, out + err
    assert "decision: implicit deny (no statement allows dynamodb:PutItem on %s)" % table_arn("orders") in out
    assert "read-only / Statement[0] (Sid ReadOrdersUsers) Allow: action does not match → does not apply" in out


def test_condition_key_value_is_shown(tmp_path, certs):
    def mutate(cfg):
        cfg["policies"]["guardrails"]["Statement"].append(
            {"Sid": "OfficeOnly", "Effect": "Deny", "Action": "*", "Resource": "*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})

    cfg = config(tmp_path, certs, mutate)
    rc, out, err = explain(cfg, described("GetItem", body={"TableName": "orders"}, source_ip="192.0.2.7"))
    assert rc == 1, out + err
    assert "decision: explicit deny" in out and "(Sid OfficeOnly)" in out
    assert 'aws:SourceIp = "192.0.2.7"' in out
    assert "Condition true → DENIES" in out
    rc, out, err = explain(cfg, described("GetItem", body={"TableName": "orders"}, source_ip="10.1.2.3"))
    assert rc == 0, out + err
    assert "Condition false → does not apply" in out


def test_refused_and_usage(tmp_path, certs):
    cfg = config(tmp_path, certs)
    rc, out, _ = explain(cfg, described("NoSuchOperation"))
    assert rc == 1 and "decision: refused (UnknownOperationException)" in out
    rc, out, _ = explain(cfg, described("GetItem", key="AKIAUNKNOWN0000000000", body={"TableName": "orders"}))
    assert rc == 1 and "no ddbguard identity matches access key AKIAUNKNOWN0000000000" in out
    rc, _, err = explain(cfg, '{"target": "DynamoDB_20120810.GetItem", "bogus": 1}')
    assert rc == 2 and 'unknown key "bogus"' in err
    rc, _, err = explain(tmp_path / "missing.json", described("GetItem"))
    assert rc == 2
    r = subprocess.run([str(DDBGUARD_BIN), "explain"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage" in r.stderr


def test_check_lints_policies(tmp_path, certs):
    def mutate(cfg):
        cfg["policies"]["wide"] = {"Statement": [
            {"Sid": "Everything", "Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
            {"Sid": "Orders", "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table_arn("orders")},
            {"Sid": "NoOrders", "Effect": "Deny", "Action": "dynamodb:Get*", "Resource": table_arn("orders*")},
        ]}
        cfg["identities"][1]["policies"].append("wide")

    path = config(tmp_path, certs, mutate)
    r = subprocess.run([str(DDBGUARD_BIN), "--check", "-c", str(path)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    warnings = [line for line in r.stderr.splitlines() if ": warning: " in line]
    assert any(line.startswith("%s: $.policies.wide.Statement[0]: warning: " % path) and "admin actions" in line
               and "dynamodb:DeleteTable" in line for line in warnings), r.stderr
    assert any("$.policies.wide.Statement[0]: warning: " in line and "PartiQL or export" in line
               for line in warnings), r.stderr
    assert any("$.policies.wide.Statement[1]: warning: Allow statement (Sid Orders) is unreachable" in line
               and "Statement[2] (Sid NoOrders)" in line for line in warnings), r.stderr
    assert len(warnings) == 3, r.stderr
    # The shipped test policies lint clean.
    r = subprocess.run([str(DDBGUARD_BIN), "--check", "-c", str(config(tmp_path, certs))], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and ": warning: " not in r.stderr, r.stderr


@pytest.mark.parametrize("op,body,key", [
    ("GetItem", b'{"TableName":"users","Key":{"pk":{"S":"u1"}}}', APP_KEY),        # allowed
    ("GetItem", b'{"TableName":"secrets","Key":{"pk":{"S":"u1"}}}', APP_KEY),      # implicit deny
    ("ExportTableToPointInTime",
     b'{"TableArn":"arn:aws:dynamodb:us-east-1:123456789012:table/users","S3Bucket":"b"}', APP_KEY),  # explicit
    ("GetItem", b'{"TableName":"users","TableName":"x"}', APP_KEY),                # duplicate key: refused
    ("NoSuchOperation", b'{}', APP_KEY),                                           # unknown action: refused
    ("GetItem", b'{"TableName":"users","Key":{"pk":{"S":"u1"}}}', "AKIAUNKNOWN0000000000"),  # no identity
])
def test_explain_agrees_with_the_gateway(guard, op, body, key):
    # The simulator runs the gateway's own request_decide(): on the same bytes it must reach the same verdict.
    head, body = guard.request_bytes(op, body, key=key)
    live = guard.raw(head, body)
    rec = guard.record()
    rc, out, err = explain(guard.config_path, (head + body).decode())
    assert rc == (0 if rec["guard"]["decision"] == "allow" else 1), (rec, out, err)
    first = out.splitlines()[0]
    g = rec["guard"]
    if g["decision"] == "allow":
        assert live.status == 200 and first.startswith("decision: allow"), out
    elif g["decision"] == "deny" and g.get("statement"):
        assert first.startswith("decision: explicit deny") and g["statement"] in first, (rec, out)
    elif g["decision"] == "deny":
        assert first.startswith("decision: implicit deny"), (rec, out)
    else:
        assert first.startswith("decision: refused") and rec["errorCode"] in first, (rec, out)

"""Malformed requests, sent raw over TLS: each gets HTTP 400 with a DynamoDB-shaped JSON error, a
"reject" access-log record, and the gateway goes on serving."""
import json
import re

import pytest

from guardlib import JSON_CT, MAX_BODY

GET_USER = json.dumps({"TableName": "users", "Key": {"pk": {"S": "u1"}}}).encode()
TYPES = {
    "com.amazon.coral.service#SerializationException",
    "com.amazon.coral.service#UnknownOperationException",
    "com.amazon.coral.validate#ValidationException",
    "com.amazon.coral.service#IncompleteSignatureException",
}
SER = "com.amazon.coral.service#SerializationException"
UNKNOWN_OP = "com.amazon.coral.service#UnknownOperationException"
BAD_SIG = "com.amazon.coral.service#IncompleteSignatureException"


def chunked(body):
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


# name -> (function(guard) -> (head bytes, body bytes), expected __type or None for "any of TYPES")
CASES = {
    "duplicate X-Amz-Target": (
        lambda g: g.request_bytes("GetItem", GET_USER, extra=[("X-Amz-Target", "DynamoDB_20120810.DeleteTable")]),
        None),
    "Content-Length and Transfer-Encoding": (
        lambda g: (g.request_bytes("GetItem", GET_USER, extra=[("Transfer-Encoding", "chunked")])[0],
                   chunked(GET_USER)),
        SER),
    "bad chunk size": (
        lambda g: (g.request_bytes("GetItem", GET_USER, extra=[("Transfer-Encoding", "chunked")], length=False)[0],
                   b"zz\r\n" + GET_USER + b"\r\n0\r\n\r\n"),
        SER),
    "two different Content-Length": (
        lambda g: g.request_bytes("GetItem", GET_USER, extra=[("Content-Length", str(len(GET_USER) + 1))]),
        SER),
    "space before header colon": (
        lambda g: (g.request_bytes("GetItem", GET_USER)[0].replace(b"X-Amz-Target:", b"X-Amz-Target :"), GET_USER),
        SER),
    "body larger than max_body_bytes": (
        lambda g: g.request_bytes("PutItem", json.dumps(
            {"TableName": "users", "Item": {"pk": {"S": "big"}, "v": {"S": "x" * (MAX_BODY + 100)}}}).encode()),
        None),
    "unknown operation": (lambda g: g.request_bytes("FrobnicateTable", GET_USER), UNKNOWN_OP),
    "legacy DynamoDB_20111205 prefix": (
        lambda g: g.request_bytes("GetItem", GET_USER, prefix="DynamoDB_20111205."), UNKNOWN_OP),
    "invalid JSON": (lambda g: g.request_bytes("GetItem", b'{"TableName": "users", "Key": '), SER),
    "duplicate JSON key": (
        lambda g: g.request_bytes(
            "GetItem", b'{"TableName":"users","TableName":"secrets","Key":{"pk":{"S":"s1"}}}'),
        SER),
    "garbage Authorization": (
        lambda g: g.request_bytes("GetItem", GET_USER, drop=("authorization",),
                                  extra=[("Authorization", "AWS4-HMAC-SHA256 garbage")]),
        BAD_SIG),
    "no Authorization": (lambda g: g.request_bytes("GetItem", GET_USER, drop=("authorization",)), None),
}


def test_raw_client_control(guard, log):
    """The raw client itself is sound: a correctly signed request gets the item, and the recording
    upstream sees it (so its "nothing arrived" below is not vacuous)."""
    r = guard.raw(*guard.request_bytes("GetItem", GET_USER))
    assert r.status == 200, r
    assert r.json()["Item"]["name"] == {"S": "Ada"}
    assert guard.record(eventName="GetItem")["guard"]["decision"] == "allow"
    guard.assert_forwarded()


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_request_is_rejected(guard, log, case):
    build, want_type = CASES[case]
    head, body = build(guard)
    r = guard.raw(head, body)
    assert r.status == 400, r
    assert r.header("Content-Type") == JSON_CT, r
    err = r.json()
    assert err["__type"] in TYPES, err
    if want_type:
        assert err["__type"] == want_type, err
    assert err.get("message"), err
    guard.assert_not_forwarded()  # nothing of it reached dynalite (its test id and signature)

    rec = guard.record()  # the one record with this response's request id
    assert rec["guard"]["decision"] == "reject", rec
    assert rec["guard"]["status"] == 400
    assert rec["errorCode"] == err["__type"].split("#", 1)[1]
    assert "upstream" not in rec["guard"] or "status" not in rec["guard"]["upstream"], "rejected call went upstream"

    # ... and the gateway keeps serving.
    item = guard.boto().get_item(TableName="users", Key={"pk": {"S": "u1"}})["Item"]
    assert item["name"] == {"S": "Ada"}


def test_trickled_request_gets_408_and_a_record(make_guard, dynalite):
    # client_timeout_ms bounds each gap between reads; request_timeout_ms bounds the whole request, so a
    # client sending one byte at a time (well within the per-read timeout) is still cut off.
    import socket
    import ssl
    import time

    def limits(cfg):
        cfg["limits"]["request_timeout_ms"] = 800
    g = make_guard("slowloris", dynalite.url, mutate=limits)
    head, body = g.request_bytes("GetItem", b'{"TableName":"users","Key":{"pk":{"S":"u1"}}}')
    ctx = ssl.create_default_context(cafile=g.ca)
    sent = 0
    with socket.create_connection(("127.0.0.1", g.port), timeout=5) as tcp:
        with ctx.wrap_socket(tcp, server_hostname="localhost") as s:
            got = b""
            # The whole head, a byte every 50 ms (far below client_timeout_ms): ~40 s, fifty times
            # request_timeout_ms, so on any machine the timeout, not the end of the head, ends this.
            for b in head:
                try:
                    s.sendall(bytes([b]))
                    sent += 1
                except OSError:
                    break
                time.sleep(0.05)  # the trickle itself (the client under test), not a wait for a result
                s.setblocking(False)
                try:
                    got += s.recv(4096)
                except (BlockingIOError, ssl.SSLWantReadError):
                    pass
                s.setblocking(True)
                if got:
                    break
            s.settimeout(30)
            while b"\r\n\r\n" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
    assert got.startswith(b"HTTP/1.1 408 "), got[:200]
    assert b"RequestTimeoutException" in got or b"Connection: close" in got
    assert sent < len(head), "the whole head went through before the request timeout cut it off"
    g.recorder.assert_not_forwarded(re.search(rb"[0-9a-f]{32}", head[head.find(b"X-Ddbguard-Test-Id"):]).group(0))
    rid = re.search(rb"(?i)\r\nx-amzn-requestid: *(\S+)", got).group(1).decode()
    rec = g.log.by_request_id(rid)
    assert rec["guard"]["decision"] == "reject", rec
    assert rec["errorCode"] == "RequestTimeoutException", rec
    assert rec["guard"]["status"] == 408

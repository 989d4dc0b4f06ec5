"""Hostile and broken peers (issue 9): refusal records say what the request gave whatever stage refused it,
the in-flight body budget answers ThrottlingException, and a client or upstream that dies or stalls mid-call
ends with the right status or a clean close, a log record, and no other client's call failing."""
import json
import socket
import ssl
import threading
import time

import pytest

from guardlib import APP_KEY, FakeUpstream, JSON_CT, MAX_BODY, read_response

GET_USER = json.dumps({"TableName": "users", "Key": {"pk": {"S": "u1"}}}).encode()
THROTTLED = "com.amazon.coral.availability#ThrottlingException"


def tls_conn(g, timeout=5):
    ctx = ssl.create_default_context(cafile=g.ca)
    tcp = socket.create_connection(("127.0.0.1", g.port), timeout=timeout)
    return ctx.wrap_socket(tcp, server_hostname="localhost")


def with_ua(g, op, body, ua, **kw):
    extra = list(kw.pop("extra", ())) + [("User-Agent", ua)]
    return g.request_bytes(op, body, extra=extra, **kw)


def expect_record(g, mark, ua, event="GetItem", resp=None, **want):
    """The record of the call with this (unique) User-Agent: by its x-amzn-RequestId when the client got a
    response, else the record carrying that User-Agent (a call that never got one)."""
    if resp is not None:
        rec = g.log.by_request_id(resp.header("x-amzn-RequestId"))
    else:
        rec = g.log.wait(mark, userAgent=ua)[0]
    assert rec["eventName"] == event, rec
    assert rec["userAgent"] == ua, rec
    assert rec["sourceIPAddress"] == "127.0.0.1", rec
    for k, v in want.items():
        got = rec["guard"].get(k) if k in ("decision", "status") else rec.get(k)
        assert got == v, (k, rec)
    return rec


@pytest.fixture(scope="module")
def hostile(make_guard, dynalite, tables):
    """A gateway with a short request timeout and an in-flight budget of one max-size body."""
    def mutate(cfg):
        cfg["limits"].update(request_timeout_ms=1500, max_bodies_in_flight_bytes=MAX_BODY)
    return make_guard("hostile", dynalite.url, mutate=mutate)


@pytest.fixture(scope="module")
def budgeted(make_guard, dynalite, tables):
    """The same budget with a long request timeout: the holder below must not be cut off by the clock while
    the test waits for its reservation on a loaded machine."""
    def mutate(cfg):
        cfg["limits"].update(request_timeout_ms=120000, max_bodies_in_flight_bytes=MAX_BODY)
    return make_guard("budgeted", dynalite.url, mutate=mutate)


# ---- refusal records are complete, whatever stage refused ----------------------------------------
STAGES = {
    # HTTP parser: a required header missing (the case of the issue)
    "no Authorization": lambda g, ua: with_ua(g, "GetItem", GET_USER, ua, drop=("authorization",)),
    # HTTP parser: framing
    "two different Content-Length": lambda g, ua: with_ua(
        g, "GetItem", GET_USER, ua, extra=[("Content-Length", str(len(GET_USER) + 1))]),
    # signature stage
    "garbage Authorization": lambda g, ua: with_ua(
        g, "GetItem", GET_USER, ua, drop=("authorization",), extra=[("Authorization", "AWS4-HMAC-SHA256 x")]),
    # JSON stage
    "invalid JSON": lambda g, ua: with_ua(g, "GetItem", b'{"TableName": ', ua),
    # parse-memory budget (JSON stage): a flat array of tiny numbers
    "flat array of tiny numbers": lambda g, ua: with_ua(
        g, "GetItem", b'{"TableName":"users","Key":{"pk":{"S":"u1"}},"X":[' + b"0," * 30000 + b"0]}", ua),
    # inspection stage
    "invalid member": lambda g, ua: with_ua(g, "GetItem", b'{"TableName": 7, "Key": {}}', ua),
    # policy stage
    "denied table": lambda g, ua: with_ua(
        g, "GetItem", json.dumps({"TableName": "secrets", "Key": {"pk": {"S": "s1"}}}).encode(), ua),
    # body over limits.max_body_bytes
    "body over max_body_bytes": lambda g, ua: with_ua(g, "GetItem", b" " * (MAX_BODY + 1), ua),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_refusal_record_carries_event_name_user_agent_and_source(hostile, stage):
    ua = "hostile-e2e/%s" % stage.replace(" ", "-")
    mark = hostile.log.mark()
    r = hostile.raw(*STAGES[stage](hostile, ua))
    assert r.status == 400, r
    hostile.assert_not_forwarded()
    rec = expect_record(hostile, mark, ua, resp=r)
    assert rec["guard"]["decision"] in ("reject", "deny"), rec
    assert rec["errorCode"] == r.json()["__type"].split("#")[1], (rec, r)
    assert rec["requestID"] == r.header("x-amzn-RequestId"), rec


def test_refusal_record_of_a_head_over_the_limit(hostile):
    ua = "hostile-e2e/head-too-large"
    head, body = with_ua(hostile, "GetItem", GET_USER, ua)
    head = head[:-2] + b"X-Padding: " + b"p" * 20000 + b"\r\n\r\n"  # over the default 16 KiB
    mark = hostile.log.mark()
    r = hostile.raw(head, body)
    assert r.status == 400, r
    hostile.assert_not_forwarded()
    expect_record(hostile, mark, ua, resp=r, decision="reject", status=400)


def test_refusal_record_of_a_request_that_timed_out(hostile):
    ua = "hostile-e2e/too-slow"
    head, body = with_ua(hostile, "PutItem", b'{"TableName":"users","Item":{"pk":{"S":"slow"}}}', ua)
    mark = hostile.log.mark()
    with tls_conn(hostile) as s:
        s.sendall(head + body[:5])  # the rest never comes
        r = read_response(s)
    assert r.status == 408, r
    expect_record(hostile, mark, ua, event="PutItem", resp=r, decision="reject", status=408)


def test_refusal_record_of_a_head_cut_short(hostile):
    ua = "hostile-e2e/head-cut-short"
    head, _ = with_ua(hostile, "GetItem", GET_USER, ua)
    mark = hostile.log.mark()
    with tls_conn(hostile) as s:
        s.sendall(head[:-2])  # no empty line: the head never ends
        time.sleep(0.1)
    rec = expect_record(hostile, mark, ua, decision="reject")
    assert "before the request was complete" in rec["errorMessage"], rec


# ---- client gone mid-body ------------------------------------------------------------------------
def test_client_gone_mid_body_is_logged_and_others_are_served(hostile):
    ua = "hostile-e2e/gone-mid-body"
    body = json.dumps({"TableName": "users", "Item": {"pk": {"S": "gone"}, "v": {"S": "x" * 5000}}}).encode()
    head, _ = with_ua(hostile, "PutItem", body, ua)
    mark = hostile.log.mark()
    s = tls_conn(hostile)
    s.sendall(head + body[:1000])
    # Another client's calls go through while that body is half there.
    c = hostile.boto()
    for _ in range(3):
        assert c.get_item(TableName="users", Key={"pk": {"S": "u1"}})["Item"]["name"]["S"] == "Ada"
    s.close()
    rec = expect_record(hostile, mark, ua, event="PutItem", decision="reject")
    assert "closed before the request was complete" in rec["errorMessage"], rec
    assert rec["guard"].get("status") in (None, 0), rec
    # The half body was never forwarded, and its budget is back: a max-size-ish call passes again.
    assert c.get_item(TableName="users", Key={"pk": {"S": "gone"}}).get("Item") is None


def wait_until_throttled(g, ua):
    """Returns the first throttled response once the holder's reservation has been read by the gateway
    (a condition, not a sleep: the holder's head may take a while to be read on a loaded machine)."""
    body = json.dumps({"TableName": "users", "Item": {"pk": {"S": "t"}, "v": {"S": "y" * 2000}}}).encode()
    deadline = time.monotonic() + 30
    while True:
        r = g.raw(*with_ua(g, "PutItem", body, ua))
        if r.status == 400 and r.json().get("__type") == THROTTLED or time.monotonic() > deadline:
            return r
        time.sleep(0.05)


# ---- the in-flight body budget -------------------------------------------------------------------
def test_bodies_in_flight_over_the_budget_get_throttling_exception(budgeted):
    holder_ua, ua = "hostile-e2e/holder", "hostile-e2e/throttled"
    big = json.dumps({"TableName": "users", "Item": {"pk": {"S": "h"}, "v": {"S": "x" * (MAX_BODY - 200)}}}).encode()
    head, _ = with_ua(budgeted, "PutItem", big, holder_ua)
    mark = budgeted.log.mark()
    holder = tls_conn(budgeted)
    holder.sendall(head + big[:100])  # reserves its whole Content-Length, most of the budget
    r = wait_until_throttled(budgeted, ua)
    assert r.status == 400, r
    assert r.json()["__type"] == THROTTLED, r
    assert r.header("Connection") == "close", r
    budgeted.assert_not_forwarded()
    rec = expect_record(budgeted, mark, ua, event="PutItem", resp=r, decision="reject", status=400,
                        errorCode="ThrottlingException")
    assert "max_bodies_in_flight_bytes" in rec["errorMessage"], rec
    # A small call (its body fits what is left) is still served meanwhile.
    assert budgeted.boto().get_item(TableName="users", Key={"pk": {"S": "u1"}})["Item"]
    # The holder finishes its body: its call succeeds, the budget comes back, the retried call passes.
    holder.sendall(big[100:])
    assert read_response(holder).status == 200
    holder.close()
    budgeted.boto().put_item(TableName="users", Item={"pk": {"S": "t"}, "v": {"S": "y" * 2000}})


def test_sdk_sees_throttling_exception(budgeted):
    """boto3 reads the shape as ThrottlingException (the code its retry policy retries)."""
    from botocore.exceptions import ClientError
    big = json.dumps({"TableName": "users", "Item": {"pk": {"S": "h2"}, "v": {"S": "x" * (MAX_BODY - 200)}}}).encode()
    head, _ = with_ua(budgeted, "PutItem", big, "hostile-e2e/holder2")
    holder = tls_conn(budgeted)
    holder.sendall(head)
    try:
        assert wait_until_throttled(budgeted, "hostile-e2e/probe2").status == 400
        with pytest.raises(ClientError) as e:
            budgeted.boto().put_item(TableName="users", Item={"pk": {"S": "t2"}, "v": {"S": "y" * 3000}})
        assert e.value.response["Error"]["Code"] == "ThrottlingException", e.value.response
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    finally:
        holder.close()


# ---- upstream reset mid-response, upstream stall -----------------------------------------------------
@pytest.fixture
def split_upstream(certs):
    """A fake upstream that misbehaves only for calls naming the key "victim"; others get 200."""
    made = []

    def make(bad_mode):
        made.append(FakeUpstream(certs.server_crt, certs.server_key,
                                 lambda body: bad_mode if b'"victim"' in body else "ok"))
        return made[-1]

    yield make
    for f in made:
        f.stop()


def victim_and_bystanders(g, bystander_calls=10):
    """Starts the victim call in a thread, runs bystander GetItems meanwhile; returns (victim outcome, errors)."""
    out = {}
    ua = "hostile-e2e/victim-%s" % g.name

    def victim():
        try:
            with tls_conn(g, timeout=15) as s:
                # Connection: close, so the read below ends whether a 5xx or a cut response comes.
                head, body = with_ua(g, "GetItem", b'{"TableName":"users","Key":{"pk":{"S":"victim"}}}', ua,
                                     extra=[("Connection", "close")])
                s.sendall(head + body)
                buf = b""
                while True:
                    try:
                        chunk = s.recv(65536)
                    except (ConnectionResetError, ssl.SSLError) as e:
                        out["error"] = repr(e)
                        break
                    if not chunk:
                        break
                    buf += chunk
                out["raw"] = buf
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            out["exception"] = repr(e)

    mark = g.log.mark()
    t = threading.Thread(target=victim)
    t.start()
    errors = []
    c = g.boto()
    for _ in range(bystander_calls):
        try:
            c.get_item(TableName="users", Key={"pk": {"S": "u1"}})
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
    t.join(20)
    assert not t.is_alive()
    rec = g.log.wait(mark, userAgent=ua, timeout=10)[0]
    return out, rec, errors


def test_upstream_reset_mid_response(make_guard, split_upstream):
    up = split_upstream("reset")
    g = make_guard("up-reset", up.url)
    out, rec, errors = victim_and_bystanders(g)
    assert "exception" not in out, out
    # Part of the response may have reached the client; then the connection is cut, never completed.
    raw = out.get("raw", b"")
    if raw.startswith(b"HTTP/1.1 200"):
        assert len(raw.partition(b"\r\n\r\n")[2]) < 100, raw
    else:
        assert raw.startswith(b"HTTP/1.1 502") or raw == b"", raw
    assert rec["guard"]["decision"] == "error", rec
    assert rec["eventName"] == "GetItem", rec
    assert not errors, errors


def test_upstream_stall_mid_response(make_guard, split_upstream):
    up = split_upstream("stall")
    g = make_guard("up-stall", up.url, response_timeout_ms=1000)
    out, rec, errors = victim_and_bystanders(g)
    assert "exception" not in out, out
    raw = out.get("raw", b"")
    # The head went out, the body never completes: the gateway closes the connection after the timeout.
    if raw.startswith(b"HTTP/1.1 200"):
        assert len(raw.partition(b"\r\n\r\n")[2]) < 100, raw
    else:
        assert raw.startswith(b"HTTP/1.1 504"), raw
    assert rec["guard"]["decision"] == "error", rec
    assert "within 1000 ms" in rec["errorMessage"], rec
    assert not errors, errors


# ---- large bodies are parsed off the event loop (proxy/offload.h) ----------------------------------
@pytest.fixture(scope="module")
def roomy(make_guard, dynalite, tables):
    def mutate(cfg):
        cfg["limits"].update(max_body_bytes=4 << 20, max_bodies_in_flight_bytes=16 << 20)
    return make_guard("roomy", dynalite.url, mutate=mutate)


def test_large_bodies_are_decided_like_small_ones(roomy):
    """Bodies of 256 KiB and more are parsed on the parse thread; the decision and the record are the
    same as for small ones: allowed and forwarded, refused as JSON, denied by policy."""
    c = roomy.boto()
    big_value = "v" * (300 << 10)
    c.put_item(TableName="users", Item={"pk": {"S": "large"}, "v": {"S": big_value}})
    rec = roomy.record(eventName="PutItem")
    assert rec["guard"]["decision"] == "allow", rec
    assert c.get_item(TableName="users", Key={"pk": {"S": "large"}})["Item"]["v"]["S"] == big_value

    flat = b'{"TableName":"users","Key":{"pk":{"S":"u1"}},"X":[' + b"0," * (512 << 10) + b"0]}"
    r = roomy.raw(*roomy.request_bytes("GetItem", flat))
    assert r.status == 400 and r.json()["__type"].endswith("#SerializationException"), r
    assert "too many JSON values" in r.json()["message"], r
    roomy.assert_not_forwarded()
    rec = roomy.log.by_request_id(r.header("x-amzn-RequestId"), decision="reject")
    assert rec["eventName"] == "GetItem", rec

    dense = (b'{"TableName":"secrets","Item":{"pk":{"S":"s9"},"a":{"L":[' + b'{"S":""},' * (200 << 10)
             + b'{"S":""}]}}}')
    r = roomy.raw(*roomy.request_bytes("PutItem", dense))
    assert r.status == 400 and r.json()["__type"].endswith("#AccessDeniedException"), r
    roomy.assert_not_forwarded()
    rec = roomy.log.by_request_id(r.header("x-amzn-RequestId"), decision="deny")
    assert rec["requestParameters"]["tableName"] == "secrets", rec
    # The same connection goes on after an off-loop decision: keep-alive, pipelined small call.
    head, body = roomy.request_bytes("GetItem", GET_USER)
    with tls_conn(roomy) as s:
        h2, b2 = roomy.request_bytes("PutItem", dense)
        s.sendall(h2 + b2 + head + body)
        first = read_response(s)
        second = read_response(s)
    assert first.status == 400 and second.status == 200, (first, second)

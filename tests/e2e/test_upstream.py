"""Upstream failures: the client gets 502/504 ServiceUnavailableException quickly (never a hang, never a
pass-through of an unverified upstream), and the access log records an "error"."""
import signal
import socket
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from guardlib import RECORD_TIMEOUT, Dynalite, FakeUpstream, free_port, listening

GET = dict(TableName="users", Key={"pk": {"S": "u1"}})


@pytest.fixture(scope="module")
def blackhole():
    """A loopback port whose kernel backlog completes TCP handshakes, but nobody ever speaks TLS."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture(scope="module")
def misnamed_dynalite(work, certs):
    """dynalite with a certificate from the trusted CA, but for another host name."""
    d = work / "misnamed"
    d.mkdir(exist_ok=True)
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=DNS:not-localhost.example\nextendedKeyUsage=serverAuth\n")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True, timeout=30)
    run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(d / "key"))
    run("openssl", "req", "-new", "-key", str(d / "key"), "-subj", "/CN=not-localhost.example",
        "-out", str(d / "csr"))
    run("openssl", "x509", "-req", "-in", str(d / "csr"), "-CA", str(certs.ca),
        "-CAkey", str(certs.ca).replace("ca.crt", "ca.key"), "-set_serial", "7", "-days", "2",
        "-extfile", str(ext), "-out", str(d / "crt"))
    dyn = Dynalite(work, d / "crt", d / "key", name="misnamed-dynalite").start()
    yield dyn
    dyn.stop()


@pytest.fixture
def fake_upstream(certs):
    made = []

    def make(mode):
        made.append(FakeUpstream(certs.server_crt, certs.server_key, mode))
        return made[-1]

    yield make
    for f in made:
        f.stop()


def expect_unavailable(guard, status, timeout_ms=None):
    """The gateway, not the client, gives up: a 502/504 answer (the client's own read timeout is 60 s, so
    an answer proves the gateway's timeout fired). timeout_ms: the configured upstream timeout that should
    have fired; the record's durationMs must be at least that (a lower bound: load makes timers late, never
    early). No upper bound on how long it took: that is what load breaks."""
    with pytest.raises(ClientError) as e:
        guard.boto().get_item(**GET)
    resp = e.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == status, resp
    assert resp["Error"]["Code"] == "ServiceUnavailableException", resp
    rec = guard.record(eventName="GetItem")
    if timeout_ms is not None:
        assert rec["guard"]["durationMs"] >= timeout_ms * 0.99, rec
    assert rec["guard"]["decision"] == "error", rec
    assert rec["guard"]["status"] == status
    assert rec["errorCode"] == "ServiceUnavailableException"
    assert rec["guard"]["upstream"]["url"]
    assert rec["guard"]["identity"] == "app"
    # Callers never see internal addresses; the log keeps them for the operator.
    port = guard.config["upstream"]["dynamodb"].rsplit(":", 1)[1]
    msg = resp["Error"]["Message"]
    for internal in (port, "127.0.0.1", "localhost", "[::1]"):
        assert internal not in msg, msg
    assert "request id" in msg and resp["ResponseMetadata"]["RequestId"], resp
    assert port in rec["errorMessage"], rec
    return rec


def test_upstream_connection_refused_gives_502(make_guard):
    g = make_guard("down", "https://localhost:%d" % free_port(), connect_timeout_ms=1000)
    expect_unavailable(g, 502)
    expect_unavailable(g, 502)  # and again: nothing is stuck in the pool


def test_upstream_that_never_answers_gives_504(make_guard, blackhole):
    g = make_guard("blackhole", "https://localhost:%d" % blackhole, connect_timeout_ms=1000,
                   response_timeout_ms=1000)
    expect_unavailable(g, 504)


def test_upstream_certificate_from_untrusted_ca_gives_502(make_guard, rogue_dynalite):
    g = make_guard("rogue", rogue_dynalite.url)
    rec = expect_unavailable(g, 502)
    assert "upstream" in rec["guard"] and rec["guard"]["upstream"].get("status") in (None, 0)


def test_upstream_certificate_for_another_name_gives_502(make_guard, misnamed_dynalite):
    g = make_guard("misnamed", misnamed_dynalite.url)
    rec = expect_unavailable(g, 502)
    assert rec["guard"]["upstream"].get("status") in (None, 0)


def test_upstream_closing_without_an_answer_gives_502(make_guard, fake_upstream):
    up = fake_upstream("close")
    expect_unavailable(make_guard("up-close", up.url), 502)


def test_upstream_answering_garbage_gives_502(make_guard, fake_upstream):
    up = fake_upstream("garbage")
    expect_unavailable(make_guard("up-garbage", up.url), 502)


def test_upstream_silent_after_the_request_gives_504(make_guard, fake_upstream):
    up = fake_upstream("silent")
    g = make_guard("up-silent", up.url, response_timeout_ms=1000)
    expect_unavailable(g, 504)


def test_truncated_upstream_response_never_looks_complete(make_guard, fake_upstream):
    # A response cut short must not reach the client as a complete one: either a 502, or the
    # announced length is not delivered and the connection is closed.
    up = fake_upstream("truncate")
    g = make_guard("up-truncate", up.url)
    r = g.raw(*g.request_bytes("GetItem", b'{"TableName":"users","Key":{"pk":{"S":"u1"}}}'))
    if r.status != 502:
        assert r.status == 200 and len(r.body) < int(r.header("Content-Length")), r
    rec = g.record(eventName="GetItem")
    assert rec["guard"]["decision"] == "error", rec


def test_sigterm_lets_the_call_in_flight_finish(make_guard, fake_upstream):
    # A rolling restart must not cut calls: after SIGTERM the listener closes at once, the call
    # already forwarded still gets its answer, then the process exits 0 on its own.
    import threading
    up = fake_upstream("held")  # answers when the test releases it: no race with a fixed delay
    g = make_guard("drain", up.url)
    result = {}

    def call():
        result["r"] = g.raw(*g.request_bytes("GetItem", b'{"TableName":"users","Key":{"pk":{"S":"u1"}}}'),
                            timeout=10)

    t = threading.Thread(target=call)
    t.start()
    deadline = time.monotonic() + RECORD_TIMEOUT
    while up.requests == 0 and time.monotonic() < deadline:  # the call has reached the upstream
        time.sleep(0.02)
    assert up.requests == 1
    g.proc.send_signal(signal.SIGTERM)
    while listening(g.port) and time.monotonic() < deadline:  # the listener closes (not: 0.2 s passes)
        time.sleep(0.01)
    with pytest.raises(OSError):  # no new connections while draining
        socket.create_connection(("127.0.0.1", g.port), timeout=1).close()
    assert t.is_alive() and "r" not in result, "the call was not in flight while the listener closed"
    up.release.set()
    t.join(RECORD_TIMEOUT)
    assert result["r"].status == 200 and result["r"].body == b"{}", result
    assert g.proc.wait(RECORD_TIMEOUT) == 0
    rec = g.record(eventName="GetItem")
    assert rec["guard"]["decision"] == "allow" and rec["guard"]["status"] == 200, rec
    assert "draining" in g.stderr()

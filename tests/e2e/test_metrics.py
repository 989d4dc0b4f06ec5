"""GET /metrics (Prometheus text format, parsed with Debian's python3-prometheus-client) after a known
sequence of calls: exact counter values. GET /readyz: listeners, upstream, log."""
import http.client
import json
import signal
import ssl
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from guardlib import APP_KEY, READER_KEY, free_port

GET_USERS = b'{"TableName":"users","Key":{"pk":{"S":"u1"}}}'
GET_SECRETS = b'{"TableName":"secrets","Key":{"pk":{"S":"s1"}}}'
GET_ORDERS = b'{"TableName":"orders","Key":{"pk":{"S":"a"},"sk":{"S":"b"}}}'


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, text


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def readyz(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def mg(make_guard, dynalite, tables):
    admin = free_port()

    def mutate(cfg):
        cfg["admin"] = {"address": "127.0.0.1", "port": admin}
        cfg["tables"] = {"users": {"partition_key": "pk"}}  # only users becomes a table label
        cfg["rate_limits"] = [{"name": "reader-limit", "identity": "reader", "rate": 0.1, "burst": 2}]

    g = make_guard("metrics", dynalite.url, mutate=mutate)
    g.admin = admin
    return g


def test_counters_after_a_known_sequence(mg):
    before, _ = scrape(mg.admin)
    assert value(before, "ddbguard_calls_total", identity="app", action="GetItem", table="users", decision="allow",
                 status_class="2xx") == 0
    statuses = []
    for _ in range(3):
        statuses.append(mg.raw(*mg.request_bytes("GetItem", GET_USERS)).status)           # allow, users
    statuses.append(mg.raw(*mg.request_bytes("GetItem", GET_ORDERS)).status)              # allow, orders (unlisted)
    statuses.append(mg.raw(*mg.request_bytes("GetItem", GET_SECRETS)).status)             # deny
    statuses.append(mg.raw(*mg.request_bytes("GetItem", b'{"TableName":')).status)        # reject: bad JSON
    for _ in range(3):
        statuses.append(mg.raw(*mg.request_bytes("GetItem", GET_USERS, key=READER_KEY)).status)  # 2 ok, 1 throttled
    assert statuses == [200, 200, 200, 200, 400, 400, 200, 200, 400], statuses
    last = mg.log.wait(0, n=9)[-1]  # every record is written, so every call is counted
    assert last["guard"]["decision"] == "throttle"
    s, text = scrape(mg.admin)
    assert text.count("# TYPE ddbguard_calls_total counter") == 1
    calls = lambda **kw: value(s, "ddbguard_calls_total", **kw)  # noqa: E731
    assert calls(identity="app", action="GetItem", table="users", decision="allow", status_class="2xx") == 3
    assert calls(identity="app", action="GetItem", table="-", decision="allow", status_class="2xx") == 1
    assert calls(identity="app", action="GetItem", table="-", decision="deny", status_class="4xx") == 1
    assert calls(identity="(none)", action="GetItem", table="-", decision="reject", status_class="4xx") == 1
    assert calls(identity="reader", action="GetItem", table="users", decision="allow", status_class="2xx") == 2
    assert calls(identity="reader", action="GetItem", table="users", decision="throttle", status_class="4xx") == 1
    assert sum(v for (n, _), v in s.items() if n == "ddbguard_calls_total") == 9
    # No label for a table the config does not list.
    assert not any(dict(lab).get("table") in ("orders", "secrets") for (n, lab), _ in s.items())
    assert value(s, "ddbguard_refusals_total", reason="denied") == 1
    assert value(s, "ddbguard_refusals_total", reason="bad_json") == 1
    assert value(s, "ddbguard_refusals_total", reason="rate_limited") == 1
    assert value(s, "ddbguard_throttled_calls_total", limit="reader-limit") == 1
    assert value(s, "ddbguard_call_duration_seconds_count") == 9
    assert value(s, "ddbguard_call_duration_seconds_bucket", le="+Inf") == 9
    assert value(s, "ddbguard_upstream_duration_seconds_count") == 6  # the forwarded ones
    assert value(s, "ddbguard_connections_total", listener="main") == 9  # one raw TLS connection each
    assert value(s, "ddbguard_tls_handshakes_total", listener="main", result="ok") == 9
    assert value(s, "ddbguard_upstream_errors_total", kind="connect") == 0
    assert value(s, "ddbguard_upstream_calls_in_flight") == 0
    assert value(s, "ddbguard_upstream_idle_connections", upstream="dynamodb") >= 1
    assert value(s, "ddbguard_listeners") == 1
    assert value(s, "ddbguard_access_log_write_errors_total") == 0
    digests = mg.log.path.read_bytes().count(b'{"ddbguardDigest":')  # every file starts with one
    assert value(s, "ddbguard_access_log_digests_total") == digests >= 1
    assert value(s, "ddbguard_access_log_healthy") == 1
    assert value(s, "ddbguard_access_log_buffer_bytes") > 0
    version = last["guard"]["policyVersion"]
    assert value(s, "ddbguard_config_info", version=version) == 1


def test_open_connections_and_reloads(mg, certs):
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    held = http.client.HTTPSConnection("localhost", mg.port, context=ctx, timeout=10)
    head, body = mg.request_bytes("GetItem", GET_USERS)
    hdrs = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if line)
    held.request("POST", "/", body=body, headers=hdrs)
    assert held.getresponse().read() is not None
    # The earlier connections are closed by their clients; wait until the gateway has seen every close.
    deadline = time.monotonic() + 10
    while value(scrape(mg.admin)[0], "ddbguard_open_connections", listener="main") != 1:
        assert time.monotonic() < deadline, scrape(mg.admin)[1]
        time.sleep(0.05)
    held.close()
    mark = mg.log.mark()
    mg.proc.send_signal(signal.SIGHUP)  # the same file: accepted
    mg.log.wait(mark, n=1, timeout=10)
    cfg = json.loads(mg.config_path.read_text())
    cfg["identities"][0]["policies"].append("missing-policy")
    mg.config_path.write_text(json.dumps(cfg))
    mark = mg.log.mark()
    mg.proc.send_signal(signal.SIGHUP)  # refused
    mg.log.wait(mark, n=1, timeout=10)
    s, _ = scrape(mg.admin)
    assert value(s, "ddbguard_config_reloads_total", outcome="accepted") == 1
    assert value(s, "ddbguard_config_reloads_total", outcome="refused") == 1
    mg.config_path.write_text(json.dumps(mg.config, indent=2))


def test_readyz(mg, make_guard, certs):
    assert readyz(mg.admin) == (200, {"ready": True, "listeners": True, "upstream": True, "log": True})
    # An upstream nobody answers on: not ready after the first failed exchange.
    admin = free_port()
    dead = free_port()
    g = make_guard("metrics-dead", "https://localhost:%d" % dead,
                   mutate=lambda cfg: cfg.__setitem__("admin", {"address": "127.0.0.1", "port": admin}))
    assert readyz(admin)[0] == 200  # nothing tried yet
    r = g.raw(*g.request_bytes("GetItem", GET_USERS, key=APP_KEY))
    assert r.status == 502
    code, body = readyz(admin)
    assert code == 503 and body == {"ready": False, "listeners": True, "upstream": False, "log": True}, body
    s, _ = scrape(admin)
    # A refused TCP connect under a TLS bufferevent is reported by upstream.c as a TLS failure.
    errors = {dict(lab)["kind"]: v for (n, lab), v in s.items() if n == "ddbguard_upstream_errors_total"}
    assert sum(errors.values()) == 1 and set(errors) <= {"connect", "tls"}, errors
    assert value(s, "ddbguard_refusals_total", reason="upstream_failed") == 1

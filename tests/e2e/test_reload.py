"""SIGHUP reload: new config for calls that start after it, old config for calls in flight, refusals logged,
listeners opened and closed, every record attributed to the config version that decided it."""
import http.client
import json
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from guardlib import APP_KEY, DDBGUARD_BIN, FakeUpstream, free_port, listening, table_arn

GET_USERS = b'{"TableName":"users","Key":{"pk":{"S":"u1"}}}'


def with_sid(sid):
    """A mutate() for make_guard: the app identity's GetItem Allow on users is statement `sid`."""
    def mutate(cfg):
        st = cfg["policies"]["app-rw"]["Statement"]
        st[:] = [x for x in st if not x["Sid"].startswith("Version")]
        st.insert(0, {
            "Sid": sid, "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table_arn("users")})
    return mutate


def rewrite(g, mutate):
    """Writes g's config file again from its start-up config with `mutate` applied (not g.config itself)."""
    cfg = json.loads(json.dumps(g.config))
    mutate(cfg)
    g.config_path.write_text(json.dumps(cfg, indent=2))
    return cfg


def notices(g, since=0):
    return [r["ddbguardNotice"] for r in g.log.records(since)
            if r.get("ddbguardNotice", {}).get("kind") == "configReload"]


def reload(g, since, n_before):
    """Sends SIGHUP and waits for the configReload notice it writes (the n_before+1-th after `since`)."""
    g.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ns = notices(g, since)
        if len(ns) > n_before:
            return ns[n_before]
        time.sleep(0.01)
    raise AssertionError("no configReload notice after SIGHUP: %s" % g.stderr())


def sid_of(rec):
    return rec["guard"].get("statement")


def test_twenty_reloads_under_load_no_failed_call_and_exact_attribution(make_guard, dynalite, tables):
    g = make_guard("reload-load", dynalite.url, mutate=with_sid("VersionA"))
    mark = g.log.mark()
    ca = g.boto()
    first = ca.get_item(TableName="users", Key={"pk": {"S": "u1"}})
    start_rec = g.log.one(mark, requestID=first["ResponseMetadata"]["RequestId"])
    version_sid = {start_rec["guard"]["policyVersion"]: "VersionA"}
    assert sid_of(start_rec) == "VersionA"

    # phase: (epoch, stable). epoch = reloads whose notice has been seen; stable = no SIGHUP pending.
    state = {"epoch": 0, "stable": True, "stop": False}
    lock = threading.Lock()
    calls, failures = [], []

    def client():
        c = g.boto()
        while not state["stop"]:
            with lock:
                before = (state["epoch"], state["stable"])
            try:
                r = c.get_item(TableName="users", Key={"pk": {"S": "u1"}})
                with lock:
                    after = (state["epoch"], state["stable"])
                calls.append((r["ResponseMetadata"]["RequestId"], before, after))
            except Exception as e:  # noqa: BLE001 - any failure is what this test looks for
                failures.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(2)]
    for t in threads:
        t.start()
    epoch_version = {0: start_rec["guard"]["policyVersion"]}
    try:
        for i in range(1, 21):
            deadline = time.monotonic() + 30
            while sum(1 for _, b, a in calls if b == a == (i - 1, True)) < 3:  # calls wholly inside each epoch
                assert time.monotonic() < deadline and not failures, failures[:3]
                time.sleep(0.005)
            sid = "VersionB" if i % 2 else "VersionA"
            with lock:
                state["stable"] = False
            rewrite(g, with_sid(sid))
            n = reload(g, mark, i - 1)
            assert n["outcome"] == "accepted", n
            assert n["oldVersion"] == epoch_version[i - 1], (n, epoch_version)
            epoch_version[i] = n["newVersion"]
            version_sid.setdefault(n["newVersion"], sid)
            assert version_sid[n["newVersion"]] == sid  # A and B each have one version
            with lock:
                state["epoch"], state["stable"] = i, True
        while sum(1 for _, b, a in calls if b == a == (20, True)) < 3:
            time.sleep(0.005)
    finally:
        state["stop"] = True
        for t in threads:
            t.join(20)
    assert not failures, failures[:5]
    assert len(version_sid) == 2, version_sid
    g.log.wait(mark, requestID=calls[-1][0])
    deadline = time.monotonic() + 10
    while True:
        by_id = {r["requestID"]: r for r in g.log.records(mark) if "eventName" in r}
        if all(rid in by_id for rid, _, _ in calls) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert all(rid in by_id for rid, _, _ in calls)
    strict = 0
    for rid, before, after in calls:
        rec = by_id[rid]
        v = rec["guard"]["policyVersion"]
        # The version that decided the call is the one whose statement decided it.
        assert sid_of(rec) == version_sid[v], rec
        if before == after and before[1]:
            # Started and ended with no reload pending: exactly the version in force.
            assert v == epoch_version[before[0]], (rid, before, v, epoch_version)
            strict += 1
        else:
            # Overlapped a reload: the version before it or the one it installed, nothing else.
            assert v in (epoch_version[before[0]], epoch_version.get(before[0] + 1)), (rid, before, after, v)
    assert strict >= 63, strict
    assert g.proc.poll() is None


def test_call_in_flight_finishes_under_the_config_it_started_with(make_guard, certs):
    up = FakeUpstream(certs.server_crt, certs.server_key, "slow", delay=1.5)
    try:
        g = make_guard("reload-inflight", up.url, mutate=with_sid("VersionA"))
        mark = g.log.mark()
        result = {}

        def call():
            result["r"] = g.raw(*g.request_bytes("GetItem", GET_USERS), timeout=10)

        t = threading.Thread(target=call)
        t.start()
        deadline = time.monotonic() + 5
        while up.requests == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert up.requests == 1  # forwarded under A, upstream still answering
        # B does not allow GetItem at all: a call deciding under B would be denied.
        rewrite(g, lambda cfg: cfg["policies"]["app-rw"].__setitem__("Statement", [
            {"Sid": "OnlyPut", "Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*"}]))
        n = reload(g, mark, 0)
        assert n["outcome"] == "accepted"
        t.join(10)
        assert result["r"].status == 200, result
        rec = g.log.one(mark, eventName="GetItem", decision="allow")
        assert rec["guard"]["policyVersion"] == n["oldVersion"] and sid_of(rec) == "VersionA", rec
        # A call that starts now is decided by B.
        mark2 = g.log.mark()
        r = g.raw(*g.request_bytes("GetItem", GET_USERS))
        assert r.status == 400 and b"AccessDeniedException" in r.body
        rec = g.log.one(mark2, eventName="GetItem")
        assert rec["guard"]["decision"] == "deny" and rec["guard"]["policyVersion"] == n["newVersion"], rec
    finally:
        up.stop()


def test_invalid_config_is_refused_with_check_errors_and_old_one_keeps_serving(make_guard, dynalite, tables):
    g = make_guard("reload-bad", dynalite.url, mutate=with_sid("VersionA"))
    mark = g.log.mark()

    def break_it(cfg):
        cfg["identities"][0]["policies"].append("no-such-policy")
        cfg["limits"]["max_body_bytes"] = "big"

    rewrite(g, break_it)
    check = subprocess.run([str(DDBGUARD_BIN), "--check", "-c", str(g.config_path)], capture_output=True,
                           text=True, timeout=30)
    assert check.returncode == 1
    errors = [line for line in check.stderr.splitlines() if "$." in line]
    assert len(errors) >= 2, check.stderr
    n = reload(g, mark, 0)
    assert n["outcome"] == "refused" and n["oldVersion"] != n["newVersion"], n
    assert "no-such-policy" in n["message"] and "max_body_bytes" in n["message"], n
    err = g.stderr()
    for line in errors:
        assert line in err, (line, err)  # the same lines --check prints
    # The old config still decides, under its version.
    r = g.boto().get_item(TableName="users", Key={"pk": {"S": "u1"}})
    rec = g.log.one(mark, requestID=r["ResponseMetadata"]["RequestId"])
    assert rec["guard"]["policyVersion"] == n["oldVersion"] and sid_of(rec) == "VersionA", rec
    # A change that needs a restart is refused too, and says which key.
    rewrite(g, lambda cfg: cfg["upstream"].__setitem__("response_timeout_ms", 4000))
    n2 = reload(g, mark, 1)
    assert n2["outcome"] == "refused" and "needs a restart" in n2["message"], n2
    assert n2["oldVersion"] == n["oldVersion"]


def test_listeners_added_and_removed_open_connections_keep_working(make_guard, dynalite, tables, certs):
    g = make_guard("reload-listeners", dynalite.url)
    old_port, new_port = g.port, free_port()
    mark = g.log.mark()
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    kept = http.client.HTTPSConnection("localhost", old_port, context=ctx, timeout=10)

    def post(conn, port):
        head, body = g.request_bytes("GetItem", GET_USERS)
        hdrs = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if line)
        hdrs["Host"] = "localhost:%d" % port
        conn.request("POST", "/", body=body, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.read()

    assert post(kept, old_port)[0] == 200

    def move(cfg):
        cfg["listeners"][0]["port"] = new_port
        cfg["listeners"][0]["name"] = "moved"

    rewrite(g, move)
    n = reload(g, mark, 0)
    assert n["outcome"] == "accepted", n
    assert listening(new_port) and not listening(old_port)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", old_port), timeout=1).close()
    # The connection accepted by the closed listener still works, logged under its listener's name.
    m2 = g.log.mark()
    assert post(kept, old_port)[0] == 200
    rec = g.log.one(m2, eventName="GetItem")
    assert rec["guard"]["listener"] == "main" and rec["guard"]["policyVersion"] == n["newVersion"], rec
    fresh = http.client.HTTPSConnection("localhost", new_port, context=ctx, timeout=10)
    assert post(fresh, new_port)[0] == 200
    rec = g.log.wait(m2, n=2, eventName="GetItem")[1]
    assert rec["guard"]["listener"] == "moved", rec
    kept.close()
    fresh.close()
    g.port = new_port  # for make_guard's clean stop

"""Access logs a reviewer can trust: a full disk stops calls (fail closed) until records can be written
again, /healthz says so, nothing allowed goes unlogged, and the chain verifies across the outage."""
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import jsonschema
import pytest
from botocore.exceptions import ClientError

from guardlib import DDBGUARD_BIN, RECORD_TIMEOUT, ROOT, free_port

LOGTOOL = DDBGUARD_BIN.with_name("ddbguard-log")
TMPFS_BYTES = 128 * 1024


@pytest.fixture
def tmpfs(work, request):
    """A tiny tmpfs for the access log; unmounted in teardown even when the test fails."""
    d = work / ("tmpfs-" + request.node.name)
    d.mkdir(exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % TMPFS_BYTES, "tmpfs", str(d)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        # Not a skip: these are the only real full-disk tests; tests/run.sh runs as root (CI does too).
        pytest.fail("cannot mount a tmpfs for the full-disk test (uid %d; run tests/run.sh as root): %s"
                    % (os.getuid(), p.stderr.strip()))
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


def fill(d):
    """Fills the file system with a filler file until ENOSPC; returns its path."""
    filler = d / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"x" * 4096)
        except OSError:
            pass
        try:
            while True:
                f.write(b"x")
        except OSError:
            pass
    return filler


def healthz(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def wait_health(port, want, timeout=RECORD_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        code, body = healthz(port)
        if code == want or time.monotonic() > deadline:
            return code, body
        time.sleep(0.05)


def start(make_guard, dynalite, d, name, fail_open=False, **access_log):
    admin_port = free_port()

    def mutate(cfg):
        cfg["access_log"] = {"path": str(d / "access.log"), "buffer_bytes": 65536, "fail_open": fail_open}
        cfg["access_log"].update(access_log)
        cfg["admin"] = {"address": "127.0.0.1", "port": admin_port}

    g = make_guard(name, dynalite.url, mutate=mutate)
    return g, admin_port


def get(c):
    """One GetItem; returns (requestId, None) or (None, error code)."""
    try:
        r = c.get_item(TableName="users", Key={"pk": {"S": "u1"}})
        return r["ResponseMetadata"]["RequestId"], None
    except ClientError as e:
        return None, (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"],
                      e.response["Error"]["Message"])


def records(path):
    """Every line, each checked against proxy/audit/access-log.schema.json (this log is gone after unmount)."""
    v = jsonschema.Draft202012Validator(json.loads((ROOT / "proxy" / "audit" / "access-log.schema.json").read_text()))
    recs = [json.loads(ln) for ln in path.read_bytes().split(b"\n")[:-1]]
    for r in recs:
        v.validate(r)
    return recs


def test_full_disk_fails_closed_then_recovers(make_guard, dynalite, tables, tmpfs):
    g, admin = start(make_guard, dynalite, tmpfs, "durable-closed")
    c = g.boto()
    assert healthz(admin) == (200, {"status": "ok", "log": "ok"})
    allowed = []
    rid, err = get(c)
    assert err is None
    allowed.append(rid)
    g.log.by_request_id(rid)  # its record is in the file before the disk fills
    filler = fill(tmpfs)
    # The call that finds out is still allowed (its record waits in the buffer); then calls stop as soon as
    # the writer has failed (however long that takes on a loaded machine).
    errs = []
    deadline = time.monotonic() + RECORD_TIMEOUT
    while time.monotonic() < deadline:
        rid, err = get(c)
        if err is None:
            allowed.append(rid)
        else:
            errs.append(err)
            if len(errs) >= 5:
                break
        time.sleep(0.05)
    assert len(errs) >= 5, errs
    for code, status, msg in errs:
        assert (code, status) == ("ServiceUnavailableException", 503)
        assert "access log cannot be written" in msg
    # Refused because they could not be logged: none of them reached dynalite either.
    refused_calls = [call for call in g.calls if call.status == 503]
    assert len(refused_calls) == len(errs)
    for call in refused_calls:
        g.assert_not_forwarded(call)
    code, body = healthz(admin)
    assert code == 503 and body["status"] == "degraded" and body["log"] == "unwritable", body
    assert body["reason"] == os.strerror(28) and body["since"].endswith("Z")
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/other" % admin, timeout=5)
        raise AssertionError("expected 404")
    except urllib.error.HTTPError as e:
        assert e.code == 404

    filler.unlink()
    code, body = wait_health(admin, 200)
    assert (code, body) == (200, {"status": "ok", "log": "ok"})
    rid, err = get(c)
    assert err is None, err
    allowed.append(rid)
    assert g.stop() == 0  # drains the buffer

    log = tmpfs / "access.log"
    p = subprocess.run([str(LOGTOOL), "verify", str(log)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    recs = records(log)
    ids = [r.get("requestID") for r in recs if r.get("guard", {}).get("decision") == "allow"]
    assert sorted(ids) == sorted(allowed)  # every allowed call once, none twice
    refused = [r for r in recs if r.get("errorCode") == "ServiceUnavailableException"]
    assert len(refused) == len(errs)  # the buffer had room for every refusal too
    assert all(r["guard"]["status"] == 503 and r["guard"]["decision"] == "error" for r in refused)
    rec = [r for r in recs if "logRecovery" in r.get("guard", {})]
    assert len(rec) == 1, rec
    assert rec[0]["guard"]["logRecovery"]["droppedRecords"] == 0
    assert rec[0]["guard"]["logRecovery"]["unwritableSinceMs"] > 0
    assert rec[0]["requestID"] == allowed[-1]


def test_fail_open_keeps_calls_flowing(make_guard, dynalite, tables, tmpfs):
    g, admin = start(make_guard, dynalite, tmpfs, "durable-open", fail_open=True)
    c = g.boto()
    assert "fail_open is true" in g.stderr()
    rid, err = get(c)
    assert err is None, err
    g.log.by_request_id(rid)  # the fail-open notice and this record are in the file before the disk fills
    filler = fill(tmpfs)
    for _ in range(9):
        rid, err = get(c)
        assert err is None, err
    code, body = wait_health(admin, 503)
    assert code == 503 and body["log"] == "unwritable" and body.get("failOpen") is True, body
    filler.unlink()
    assert wait_health(admin, 200)[0] == 200
    assert get(c)[1] is None
    assert g.stop() == 0
    log = tmpfs / "access.log"
    p = subprocess.run([str(LOGTOOL), "verify", str(log)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    recs = records(log)
    notice = [r for r in recs if "ddbguardNotice" in r][0]["ddbguardNotice"]
    assert notice["kind"] == "failOpen" and "fail_open" in notice["message"]
    assert len([r for r in recs if r.get("eventName") == "GetItem"]) == 11


def test_every_call_full_disk_refuses_before_forwarding(make_guard, dynalite, tables, tmpfs):
    """access_log.sync "every_call": space for the records in flight is reserved ahead of the file, so when
    the disk fills, no success is ever answered without its record in the file, and as soon as the
    reservation cannot be renewed the next call is refused before it reaches the upstream."""
    g, admin = start(make_guard, dynalite, tmpfs, "durable-every-call", sync="every_call")
    c = g.boto()
    log = tmpfs / "access.log"

    def in_file(rid):  # read now, without waiting: every_call answers only after the record is written
        return any(r.get("requestID") == rid for r in records(log))

    rid, err = get(c)
    assert err is None and in_file(rid), err
    filler = fill(tmpfs)
    allowed, refused = [rid], None
    for _ in range(200):  # bounded: the reservation past the end of the file is at most buffer_bytes
        rid, err = get(c)
        if err is not None:
            refused = (err, g.last_call())
            break
        assert in_file(rid), "a success was answered before its record was in the file"
        allowed.append(rid)
    assert refused is not None, "calls never stopped on a full disk"
    (code, status, msg), call = refused
    assert (code, status) == ("ServiceUnavailableException", 503) and "access log cannot be written" in msg
    g.assert_not_forwarded(call)  # refused before forwarding, not answered after the fact
    code, body = healthz(admin)
    assert code == 503 and body["log"] == "unwritable" and body["reason"] == os.strerror(28), body

    filler.unlink()
    assert wait_health(admin, 200)[0] == 200
    rid, err = get(c)
    assert err is None and in_file(rid), err
    allowed.append(rid)
    assert g.stop() == 0
    p = subprocess.run([str(LOGTOOL), "verify", str(log)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "(final: closed cleanly)" in p.stdout, p.stdout + p.stderr
    ids = [r.get("requestID") for r in records(log) if r.get("guard", {}).get("decision") == "allow"]
    assert sorted(ids) == sorted(allowed)

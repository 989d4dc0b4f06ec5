"""A log that cannot be cut short unnoticed (issue 9): digests form their own chain, come every interval even
without traffic and once more, marked final, at a clean shutdown; `ddbguard-log verify` checks the digest
chain and the log's end (--at, --margin); access_log.sync "every_call" releases a response only once its
record is in the file. What a reviewer can and cannot conclude: proxy/audit/ACCESS_LOG.md."""
import calendar
import hashlib
import json
import subprocess
import threading
import time

import pytest

from guardlib import DDBGUARD_BIN, RECORD_TIMEOUT, ROOT

LOGTOOL = DDBGUARD_BIN.parent / "ddbguard-log"
ZEROS = "0" * 64
DIGEST = b'{"ddbguardDigest":'
WAIT_DIGESTS = 120  # generous bound for timer digests on a loaded machine; nothing asserts how soon they come


@pytest.fixture(scope="module")
def logkey(work):
    out = work / "logkey-end"
    subprocess.run([str(ROOT / "certs" / "mklogkey.sh"), str(out)], check=True, capture_output=True, timeout=30)
    return out


def start(make_guard, dynalite, name, logkey=None, **access_log):
    def mutate(cfg):
        if logkey is not None:
            cfg["access_log"]["signing_key"] = str(logkey / "log-signing.key")
        cfg["access_log"].update(access_log)
    return make_guard(name, dynalite.url, mutate=mutate)


def lines_of(path):
    return path.read_bytes().split(b"\n")[:-1]


def digests(lines):
    return [json.loads(ln)["ddbguardDigest"] for ln in lines if ln.startswith(DIGEST)]


def records(lines):
    return [ln for ln in lines if not ln.startswith(DIGEST)]


def wait_for(path, pred, timeout=WAIT_DIGESTS):
    """Reads the file until pred(lines) holds (bounded); returns the lines. The caller asserts pred."""
    deadline = time.monotonic() + timeout
    while True:
        lines = lines_of(path) if path.exists() else []
        if pred(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def verify(*files, pubkey=None, at=None, margin=None):
    args = [str(LOGTOOL), "verify"]
    if pubkey is not None:
        args += ["--pubkey", str(pubkey / "log-signing.pub")]
    if at is not None:
        args += ["--at", at]
    if margin is not None:
        args += ["--margin", str(margin)]
    p = subprocess.run(args + [str(f) for f in files], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def write(work, name, lines):
    p = work / name
    p.write_bytes(b"\n".join(lines) + b"\n")
    return p


def calls(g, n):
    c = g.boto()
    return [c.get_item(TableName="users", Key={"pk": {"S": "u1"}})["ResponseMetadata"]["RequestId"]
            for _ in range(n)]


# ---- an independent Python implementation of the documented construction (proxy/audit/logchain.h) ----

def seal(body, seq, prev):
    """body: a record's JSON object text without the chain member. Returns the chained line."""
    assert body.endswith(b"}")
    p = body[:-1] + b","
    h = hashlib.sha256(p + str(seq).encode() + prev.encode()).hexdigest()
    return p + b'"chain":{"seq":%d,"prev":"%s","hash":"%s"}}' % (seq, prev.encode(), h.encode()), h


def digest_message(d):
    return ("ddbguard-digest-v2\n%d\n%d\n%s\n%s\n%d\n%s\n%s" % (
        d["digestSeq"], d["seq"], d["hash"], d["time"], d["interval"], d["prevDigest"], d["end"] or "-")).encode()


def rewrite_chain(lines, edit_at, edit, redo_digests):
    """Edits record line edit_at, then recomputes every record hash after it (and, if redo_digests, every
    digest: hash, prevDigest; signatures cannot be redone without the key, so they are dropped)."""
    out, prev, dprev = [], None, ZEROS
    for i, ln in enumerate(lines):
        if ln.startswith(DIGEST):
            d = json.loads(ln)["ddbguardDigest"]
            if redo_digests:
                d["hash"] = prev or ZEROS
                d["prevDigest"] = dprev
                d["keyId"] = d["signature"] = None
                ln = json.dumps({"ddbguardDigest": d}, separators=(",", ":")).encode()
            dprev = hashlib.sha256(digest_message(d)).hexdigest()
            out.append(ln)
            continue
        c = json.loads(ln)["chain"]
        body = ln[:ln.rindex(b',"chain":{"seq":')] + b"}"
        if i == edit_at:
            body = edit(body)
        if i >= edit_at:
            ln, h = seal(body, c["seq"], prev if prev is not None else c["prev"])
        else:
            h = c["hash"]
        prev = h
        out.append(ln)
    return out


# ---- periodic digests, with no traffic at all ----

@pytest.fixture(scope="module")
def idle_log(make_guard, dynalite, tables, logkey, work):
    g = start(make_guard, dynalite, "idle-digests", logkey, digest_every_seconds=1)
    lines = wait_for(g.log.path, lambda ls: len(digests(ls)) >= 5)
    assert g.stop() == 0
    return g, lines_of(g.log.path), lines


def test_periodic_digests_without_traffic(idle_log, logkey, work):
    g, lines, seen = idle_log
    assert len(digests(seen)) >= 5, seen  # they came while no call arrived
    assert records(lines) == []
    ds = digests(lines)
    for i, d in enumerate(ds):
        assert d["digestSeq"] == i + 1 and d["seq"] == 0 and d["hash"] == ZEROS and d["interval"] == 1
        assert d["prevDigest"] == (ZEROS if i == 0 else hashlib.sha256(digest_message(ds[i - 1])).hexdigest())
        assert d["keyId"] and d["signature"]
    assert ds[-1]["end"] == "final" and all(d["end"] is None for d in ds[:-1])
    rc, out = verify(g.log.path, pubkey=logkey)
    assert rc == 0 and "(final: closed cleanly)" in out, out


def test_deleted_digest_is_caught(idle_log, logkey, work):
    _, lines, _ = idle_log
    p = write(work, "digest-deleted.log", lines[:2] + lines[3:])
    for key in (logkey, None):
        rc, out = verify(p, pubkey=key)
        assert rc == 1 and "%s:3:" % p in out and "deleted: digests 3..3 are missing" in out, out


def test_reordered_digests_are_caught(idle_log, logkey, work):
    _, lines, _ = idle_log
    p = write(work, "digest-swapped.log", lines[:1] + [lines[2], lines[1]] + lines[3:])
    for key in (logkey, None):
        rc, out = verify(p, pubkey=key)
        assert rc == 1 and "%s:2:" % p in out and "reordered: digest 2 comes later" in out, out


def test_replaced_digest_is_caught(idle_log, logkey, work):
    _, lines, _ = idle_log
    d = json.loads(lines[1])
    d["ddbguardDigest"]["interval"] = 3600  # an edit that keeps the line well formed: "no digest due for an hour"
    p = write(work, "digest-replaced.log", lines[:1] + [json.dumps(d, separators=(",", ":")).encode()] + lines[2:])
    rc, out = verify(p, pubkey=logkey)
    assert rc == 1 and "%s:2:" % p in out and "bad signature" in out, out
    # Without the key the signature says nothing, but the next digest no longer links to it.
    rc, out = verify(p)
    assert rc == 1 and "%s:3:" % p in out and "replaced: its prevDigest" in out, out


# ---- the end of the log ----

def test_final_digest_at_sigterm_and_records_after_it(make_guard, dynalite, tables, logkey, work):
    g = start(make_guard, dynalite, "final-digest", logkey)
    ids = calls(g, 3)
    for rid in ids:
        g.log.by_request_id(rid)
    assert g.stop() == 0
    lines = lines_of(g.log.path)
    last = json.loads(lines[-1])["ddbguardDigest"]
    assert last["end"] == "final"
    assert last["seq"] == json.loads(records(lines)[-1])["chain"]["seq"] == 3
    rc, out = verify(g.log.path, pubkey=logkey)
    assert rc == 0 and out.startswith("OK: 3 records") and "(final: closed cleanly)" in out, out
    # A record appended after the final digest, correctly chained: the log was closed, so it is refused.
    c = json.loads(records(lines)[-1])["chain"]
    body = records(lines)[-1][:records(lines)[-1].rindex(b',"chain":{"seq":')] + b"}"
    forged, _ = seal(body.replace(ids[-1].encode(), b"FORGED"), c["seq"] + 1, c["hash"])
    p = write(work, "after-final.log", lines + [forged])
    for key in (logkey, None):
        rc, out = verify(p, pubkey=key)
        assert rc == 1 and "records follow the final digest" in out, out


def test_cut_tail_is_caught(make_guard, dynalite, tables, logkey, work):
    """The tail cut off at a digest: the gap between the last digest left and the time the reviewer gives
    (here: when the gateway really stopped, from the complete file) exceeds the interval."""
    g = start(make_guard, dynalite, "cut-tail", logkey, digest_every_seconds=1)
    calls(g, 2)
    lines = wait_for(g.log.path, lambda ls: len(records(ls)) >= 2)
    t0 = json.loads(records(lines)[-1])["eventTime"][:19] + "Z"
    # Wait (bounded, by reading the file) until a periodic digest is at least 3 s younger than the records.
    lines = wait_for(g.log.path, lambda ls: any(d["time"] >= shifted(t0, 3) for d in digests(ls)))
    assert any(d["time"] >= shifted(t0, 3) for d in digests(lines)), lines
    calls(g, 1)
    assert g.stop() == 0
    full = lines_of(g.log.path)
    stopped = digests(full)[-1]["time"]
    rc, out = verify(g.log.path, pubkey=logkey, at=stopped, margin=0)
    assert rc == 0, out
    # Cut right after the second record: its digests, the third record and the final digest are gone.
    second = [i for i, ln in enumerate(full) if not ln.startswith(DIGEST)][1]
    p = write(work, "cut.log", full[:second + 1])
    rc, out = verify(p, pubkey=logkey, at=stopped, margin=0)
    assert rc == 1 and "truncated: the last digest is at" in out, out
    # Without --at the reviewer's "now" is the reference: the same cut is caught once an interval has passed.
    rc, out = verify(p, pubkey=logkey, at=shifted(stopped, 60))
    assert rc == 1 and "truncated" in out, out


def shifted(iso, seconds):
    t = calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t + seconds))


def test_rewritten_unsigned_chain(make_guard, dynalite, tables, logkey, work):
    """Without a signing key: a record edited and the record chain recomputed is caught by the digests
    after it; an attacker who recomputes the digests too is not (ACCESS_LOG.md says so), except by a
    reviewer who expects signatures."""
    g = start(make_guard, dynalite, "unsigned", digest_every_records=2)
    calls(g, 5)
    assert g.stop() == 0
    lines = lines_of(g.log.path)
    rc, out = verify(g.log.path)
    assert rc == 0, out
    first = [i for i, ln in enumerate(lines) if not ln.startswith(DIGEST)][0]

    def edit(body):
        assert b'"tableName":"users"' in body
        return body.replace(b'"tableName":"users"', b'"tableName":"orders"')
    p = write(work, "rechained.log", rewrite_chain(lines, first, edit, redo_digests=False))
    rc, out = verify(p)
    assert rc == 1 and "digest mismatch: its hash is not that of record" in out, out
    p = write(work, "rewritten.log", rewrite_chain(lines, first, edit, redo_digests=True))
    rc, out = verify(p)
    assert rc == 0, out  # the documented limit of an unsigned log
    rc, out = verify(p, pubkey=logkey)
    assert rc == 1 and "the digest is not signed" in out, out


# ---- access_log.sync "every_call" ----

def test_every_call_record_is_in_the_file_before_the_response(make_guard, dynalite, tables, logkey):
    g = start(make_guard, dynalite, "every-call", logkey, sync="every_call")
    errors = []

    def client(n):
        c = g.boto()
        for i in range(n):
            try:
                r = c.put_item(TableName="users", Item={"pk": {"S": "ec-%d" % i}, "note": {"S": "x" * 100}})
                rid = r["ResponseMetadata"]["RequestId"]
                # No waiting: the record must already be in the file when the response arrives.
                if not any(rec.get("requestID") == rid for rec in g.log.records()):
                    errors.append("no record for %s when its response arrived" % rid)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(15,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(RECORD_TIMEOUT)
    assert not errors, errors[:5]
    assert len([r for r in g.log.records() if r.get("eventName") == "PutItem"]) == 60
    assert g.stop() == 0
    rc, out = verify(g.log.path, pubkey=logkey)
    assert rc == 0 and "(final: closed cleanly)" in out, out

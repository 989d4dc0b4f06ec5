"""The access log's hash chain, signed digests, rotation and `ddbguard-log verify` (proxy/audit/logchain.h)."""
import hashlib
import json
import random
import shutil
import signal
import subprocess
import time

import pytest

from guardlib import DDBGUARD_BIN, RECORD_TIMEOUT, ROOT

LOGTOOL = DDBGUARD_BIN.parent / "ddbguard-log"
ZEROS = "0" * 64


@pytest.fixture(scope="module")
def logkey(work):
    out = work / "logkey"
    subprocess.run([str(ROOT / "certs" / "mklogkey.sh"), str(out)], check=True, capture_output=True, timeout=30)
    assert (out / "log-signing.key").stat().st_mode & 0o077 == 0
    return out


def start_chained(make_guard, dynalite, logkey, name, **access_log):
    def mutate(cfg):
        cfg["access_log"].update({"signing_key": str(logkey / "log-signing.key"), "digest_every_records": 3,
                                  "digest_every_seconds": 3600}, **access_log)
    return make_guard(name, dynalite.url, mutate=mutate)


def calls(g, n):
    c = g.boto()
    for _ in range(n):
        c.get_item(TableName="users", Key={"pk": {"S": "u1"}})


def wait_lines(path, pred, timeout=RECORD_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_bytes().split(b"\n")[:-1] if path.exists() else []
        if pred(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def records(lines):
    return [ln for ln in lines if not ln.startswith(b'{"ddbguardDigest":')]


def verify(logkey, *files, pubkey=True):
    args = [str(LOGTOOL), "verify"] + (["--pubkey", str(logkey / "log-signing.pub")] if pubkey else [])
    p = subprocess.run(args + [str(f) for f in files], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def py_chain_hash(line):
    """Independent re-implementation of the documented construction."""
    i = line.rindex(b',"chain":{"seq":') + 1
    c = json.loads(line)["chain"]
    return c, hashlib.sha256(line[:i] + str(c["seq"]).encode() + c["prev"].encode()).hexdigest()


@pytest.fixture(scope="module")
def chained(make_guard, dynalite, tables, logkey, work):
    g = start_chained(make_guard, dynalite, logkey, "chain")
    calls(g, 7)
    lines = wait_lines(g.log.path, lambda ls: len(records(ls)) >= 7 and ls[-1].startswith(b'{"ddbguardDigest":'))
    snap = work / "chain-snapshot.log"
    snap.write_bytes(b"\n".join(lines) + b"\n")
    return g, snap


def test_python_reimplementation_matches(chained):
    _, snap = chained
    prev = None
    lines = snap.read_bytes().split(b"\n")[:-1]
    recs = records(lines)
    assert len(recs) == 7 and len(lines) - len(recs) == 3  # digests at the start and after records 3 and 6
    for ln in recs:
        c, h = py_chain_hash(ln)
        assert c["hash"] == h
        assert list(json.loads(ln))[-1] == "chain"
        if prev is not None:
            assert c["seq"] == prev["seq"] + 1 and c["prev"] == prev["hash"]
        prev = c
    assert json.loads(recs[0])["chain"]["prev"] == ZEROS and json.loads(recs[0])["chain"]["seq"] == 1
    d0 = json.loads(lines[0])["ddbguardDigest"]
    assert d0["seq"] == 0 and d0["hash"] == ZEROS and d0["digestSeq"] == 1 and d0["prevDigest"] == ZEROS
    d = json.loads(lines[4])["ddbguardDigest"]
    assert d["seq"] == 3 and d["hash"] == json.loads(lines[3])["chain"]["hash"] and d["digestSeq"] == 2


def test_verify_ok(chained, logkey):
    _, snap = chained
    rc, out = verify(logkey, snap)
    assert rc == 0 and out.startswith("OK: 7 records, 3 digests, 3 signatures verified"), out
    rc, out = verify(logkey, snap, pubkey=False)
    assert rc == 0 and "3 not checked" in out, out


def tampered(work, snap, name, fn):
    lines = snap.read_bytes().split(b"\n")[:-1]
    lines = fn(lines)
    p = work / name
    p.write_bytes(b"\n".join(lines) + b"\n")
    return p


def test_edited_record_is_named(chained, logkey, work):
    _, snap = chained

    def edit(lines):
        assert b'"tableName":"users"' in lines[5]
        lines[5] = lines[5].replace(b'"tableName":"users"', b'"tableName":"orders"')
        return lines
    p = tampered(work, snap, "edited.log", edit)
    rc, out = verify(logkey, p)
    assert rc == 1 and "%s:6: seq 4: edited" % p in out, out


def test_deleted_record_is_caught(chained, logkey, work):
    _, snap = chained
    p = tampered(work, snap, "deleted.log", lambda ls: ls[:2] + ls[3:])  # record seq 2
    rc, out = verify(logkey, p)
    assert rc == 1 and "%s:3: seq 3: deleted before" % p in out, out


def test_swapped_records_are_caught(chained, logkey, work):
    _, snap = chained
    p = tampered(work, snap, "swapped.log", lambda ls: ls[:2] + [ls[3], ls[2]] + ls[4:])
    rc, out = verify(logkey, p)
    assert rc == 1 and "%s:3: seq 3: reordered" % p in out, out


def test_tampered_digest_signature_is_caught(chained, logkey, work):
    _, snap = chained

    def tamper(lines):
        d = json.loads(lines[4])
        s = d["ddbguardDigest"]["signature"]
        d["ddbguardDigest"]["signature"] = ("B" if s[0] == "A" else "A") + s[1:]
        lines[4] = json.dumps(d, separators=(",", ":")).encode()
        return lines
    p = tampered(work, snap, "badsig.log", tamper)
    rc, out = verify(logkey, p)
    assert rc == 1 and "%s:5: seq 3: bad signature" % p in out, out
    # Without the key the signature is not checked, but the digest still has to match its record.
    assert verify(logkey, p, pubkey=False)[0] == 0


def test_sigusr1_reopen_continues_chain(chained, logkey, work):
    g, _ = chained
    old = g.log.path.with_name("access.log.renamed")
    g.log.path.rename(old)
    g.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + RECORD_TIMEOUT
    while not g.log.path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    calls(g, 4)
    new = wait_lines(g.log.path, lambda ls: len(records(ls)) >= 4)
    assert len(records(new)) == 4
    assert new[0].startswith(b'{"ddbguardDigest":')  # the new file starts with one
    first = json.loads(records(new)[0])["chain"]
    old_lines = old.read_bytes().split(b"\n")[:-1]
    assert old_lines[-1].startswith(b'{"ddbguardDigest":')  # the old file ends with a digest
    assert first["prev"] == json.loads(records(old_lines)[-1])["chain"]["hash"]
    rc, out = verify(logkey, old, g.log.path)
    assert rc == 0 and out.startswith("OK: %d records" % (len(records(old_lines)) + 4)), out
    # Out of order, the link across files breaks.
    assert verify(logkey, g.log.path, old)[0] == 1


def test_restart_continues_chain(make_guard, dynalite, tables, logkey):
    g = start_chained(make_guard, dynalite, logkey, "restart")
    calls(g, 2)
    wait_lines(g.log.path, lambda ls: len(records(ls)) >= 2)
    assert g.stop() == 0
    g2 = start_chained(make_guard, dynalite, logkey, "restart")
    calls(g2, 2)
    lines = wait_lines(g2.log.path, lambda ls: len(records(ls)) >= 4)
    assert [json.loads(r)["chain"]["seq"] for r in records(lines)] == [1, 2, 3, 4]
    rc, out = verify(logkey, g2.log.path)
    assert rc == 0 and out.startswith("OK: 4 records"), out


def test_broken_tail_starts_new_chain(make_guard, dynalite, tables, logkey):
    g = start_chained(make_guard, dynalite, logkey, "brokentail")
    calls(g, 1)
    wait_lines(g.log.path, lambda ls: len(records(ls)) >= 1)
    assert g.stop() == 0
    with open(g.log.path, "ab") as f:
        f.write(b'{"not":"a chained record"}\n')
    g2 = start_chained(make_guard, dynalite, logkey, "brokentail")
    calls(g2, 1)
    lines = wait_lines(g2.log.path, lambda ls: len(records(ls)) >= 4)
    marker = json.loads(records(lines)[2])
    assert marker["chainStart"]["reason"] and marker["chain"]["seq"] == 1 and marker["chain"]["prev"] == ZEROS
    rc, out = verify(logkey, g2.log.path)
    assert rc == 1 and "edited: not a chained record" in out, out  # the junk line comes first


def test_max_bytes_rotation(make_guard, dynalite, tables, logkey):
    g = start_chained(make_guard, dynalite, logkey, "rotate", max_bytes=4096)
    n = 14
    calls(g, n)
    deadline = time.monotonic() + RECORD_TIMEOUT
    while time.monotonic() < deadline:
        files = sorted(g.log.path.parent.glob("access.log*"))
        total = sum(len(records(f.read_bytes().split(b"\n")[:-1])) for f in files)
        if total >= n:
            break
        time.sleep(0.05)
    assert total == n  # nothing lost or duplicated
    rotated = [f for f in files if f != g.log.path]
    assert len(rotated) >= 2, files
    for f in rotated:  # each rotated file ends with a digest of its last record
        assert f.read_bytes().split(b"\n")[-2].startswith(b'{"ddbguardDigest":')
    shuffled = files[:]
    random.Random(1).shuffle(shuffled)
    rc, out = verify(logkey, *shuffled)  # the tool orders PATH.<time>.<seq> names itself
    assert rc == 0 and out.startswith("OK: %d records" % n), out


def test_verify_usage():
    assert subprocess.run([str(LOGTOOL)], capture_output=True).returncode == 2
    assert subprocess.run([str(LOGTOOL), "verify"], capture_output=True).returncode == 2
    assert subprocess.run([str(LOGTOOL), "verify", "/nonexistent"], capture_output=True).returncode == 2

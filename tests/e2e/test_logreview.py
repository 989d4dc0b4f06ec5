"""ddbguard-log summary / denials / report over a log made by real calls through a gateway of its own.

Needs the ddbguard-log binary next to DDBGUARD_BIN (or DDBGUARD_LOG_BIN); the report is rendered in
headless Chromium (/usr/bin/chromium) and the screenshot checked to be a real picture.
"""
import json
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from guardlib import DDBGUARD_BIN, READER_KEY

LOG_BIN = Path(os.environ.get("DDBGUARD_LOG_BIN", Path(DDBGUARD_BIN).parent / "ddbguard-log"))
CHROMIUM = "/usr/bin/chromium"
GET_USER = {"TableName": "users", "Key": {"pk": {"S": "u1"}}}


def run(*args, check=True):
    p = subprocess.run([str(LOG_BIN), *map(str, args)], capture_output=True, text=True, timeout=60)
    if check:
        assert p.returncode == 0, (args, p.returncode, p.stderr)
    return p


@pytest.fixture(scope="module")
def review_log(make_guard, dynalite, tables):
    """app: 3 allowed, 2 denied (implicit; guardrails/DenyPartiQL), 1 rejected; reader: 2 allowed, 1 denied."""
    # Not skips: ddbguard-log is built with ddbguard (meson.build), so its absence is a failure.
    assert LOG_BIN.is_file(), "%s is not built (ninja -C build)" % LOG_BIN
    probe = run("summary", "--help", check=False)
    assert "summary [--since" in probe.stderr, ("ddbguard-log has no summary subcommand", probe.stderr)
    g = make_guard("logreview", dynalite.url)
    app, reader = g.boto(), g.boto(key=READER_KEY)
    for _ in range(3):
        app.get_item(**GET_USER)
    for _ in range(2):
        reader.get_item(**GET_USER)
    for client, call in ((app, lambda c: c.put_item(TableName="secrets", Item={"pk": {"S": "x"}})),
                         (app, lambda c: c.execute_statement(Statement='SELECT * FROM "users"')),
                         (reader, lambda c: c.put_item(TableName="users", Item={"pk": {"S": "x"}}))):
        with pytest.raises(ClientError):
            call(client)
    r = g.raw(*g.request_bytes("GetItem", b'{"TableName": "users", "Key": '))
    assert r.status == 400
    recs = [g.record(call) for call in g.calls]  # each call's record, by request id
    # 9 call records and no other; digest lines (written on a timer too) are not calls
    calls = [r for r in g.log.records() if "eventVersion" in r]
    assert len(recs) == 9 and len(calls) == 9, recs
    return g.log.path


def test_summary_counts(review_log):
    s = json.loads(run("summary", "--json", review_log).stdout)
    assert s["totals"] == {"calls": 9, "allowed": 5, "denied": 3, "rejected": 1, "errors": 0}
    by_id = {e["name"]: e for e in s["byIdentity"]}
    assert by_id["app"]["allowed"] == 3 and by_id["app"]["denied"] == 2
    assert by_id["reader"]["allowed"] == 2 and by_id["reader"]["denied"] == 1
    assert {e["name"]: e["calls"] for e in s["byAction"]}["GetItem"] == 6  # 5 allowed + the rejected one
    assert {e["name"]: e["denied"] for e in s["byTable"]}["secrets"] == 1
    stmts = {e["key"]: e["count"] for e in s["deniedStatements"]}
    assert stmts.get("guardrails/DenyPartiQL") == 1, stmts
    assert sum(stmts.values()) == 3
    assert s["input"]["malformed"] == 0 and s["input"]["truncated"] == 0


def test_summary_text_is_aligned(review_log):
    out = run("summary", review_log).stdout
    lines = out.splitlines()
    i = lines.index("by identity")
    header, rows = lines[i + 1], [l for l in lines[i + 2:i + 4]]
    assert header.split() == ["IDENTITY", "CALLS", "ALLOWED", "DENIED", "REJECTED", "ERRORS"]
    # right-aligned numbers: every row ends where the header does
    assert all(len(r) == len(header) for r in rows), (header, rows)


def test_window_excludes_everything_before(review_log):
    s = json.loads(run("summary", "--json", "--since", "2999-01-01", review_log).stdout)
    assert s["totals"]["calls"] == 0
    s = json.loads(run("summary", "--json", "--since", "1h", review_log).stdout)
    assert s["totals"]["calls"] == 9


def test_denials_one_line_each(review_log):
    out = run("denials", review_log).stdout.splitlines()
    assert out[0].split()[:4] == ["TIME", "DECISION", "IDENTITY", "ACTION"]
    rows = out[1:]
    assert len(rows) == 4
    assert sum(" deny " in r for r in rows) == 3 and sum(" reject " in r for r in rows) == 1
    assert any("guardrails/DenyPartiQL" in r and "ExecuteStatement" in r for r in rows)
    assert any("reader" in r and "table/users" in r for r in rows)
    js = [json.loads(l) for l in run("denials", "--json", review_log).stdout.splitlines()]
    assert [d["decision"] for d in js].count("deny") == 3


def test_truncated_last_line_is_reported(review_log, tmp_path):
    p = tmp_path / "cut.log"
    p.write_bytes(review_log.read_bytes() + b'{"eventTime":"2026-')
    r = run("summary", "--json", p)
    assert "truncated last line" in r.stderr
    assert json.loads(r.stdout)["totals"]["calls"] == 9


def test_unknown_subcommand_and_option(review_log):
    for args in (["frobnicate", review_log], ["summary", "--frob", review_log], ["report", review_log]):
        r = run(*args, check=False)
        assert r.returncode == 2 and "usage:" in r.stderr, (args, r.returncode, r.stderr)


def png_info(data):
    """(width, height, distinct filtered scanline bytes over a sample) of an 8-bit PNG, without PIL."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    return w, h, len(set(raw[:: max(1, len(raw) // 200000)]))


def test_report_renders_in_chromium(review_log, tmp_path):
    html = tmp_path / "report.html"
    run("report", "--out", html, review_log)
    text = html.read_text()
    assert "<svg" in text and "<script" not in text and "http://" not in text and "https://" not in text
    assert "guardrails/DenyPartiQL" in text
    # tests/run.sh installs chromium: a missing one is a failure, not a skip.
    assert Path(CHROMIUM).exists(), "chromium is not installed (/usr/bin/chromium; apt-get install chromium)"
    png = tmp_path / "report.png"
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                    "--user-data-dir=%s" % profile, "--screenshot=%s" % png, "--window-size=1280,2000",
                    html.as_uri()], capture_output=True, timeout=90)
    data = png.read_bytes()
    assert len(data) > 10 * 1024, len(data)
    w, h, variety = png_info(data)
    assert (w, h) == (1280, 2000)
    assert variety > 20, "screenshot looks blank (%d distinct byte values)" % variety
    if os.environ.get("DDBGUARD_REPORT_PNG"):
        shutil.copy(png, os.environ["DDBGUARD_REPORT_PNG"])

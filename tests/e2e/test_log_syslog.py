"""access_log.syslog: every record also goes out as an RFC 5424 message (proxy/audit/syslog_sink.h), byte for byte the
line the file gets, so existing shippers can collect it."""
import json
import re
import socket

import pytest

# <PRI>1 TIMESTAMP HOSTNAME APP PROCID MSGID SD BOM MSG (RFC 5424 section 6)
RFC5424 = re.compile(rb"^<134>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ ddbguard \d+ access - \xef\xbb\xbf(\{.*\})$",
                     re.S)


@pytest.fixture(scope="module")
def receiver():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(60)  # a guard against a hang only; records arrive as soon as the writer sends them
    yield s
    s.close()


def test_records_reach_syslog_as_rfc5424(make_guard, dynalite, tables, receiver):
    port = receiver.getsockname()[1]

    def install(cfg):
        cfg["access_log"]["syslog"] = "udp:127.0.0.1:%d" % port
    g = make_guard("syslog", dynalite.url, mutate=install)
    g.boto().get_item(TableName="users", Key={"pk": {"S": "u1"}})
    rec = g.record(eventName="GetItem")
    while True:  # skip any start-up record (e.g. a chain marker) until the call's record
        data, _ = receiver.recvfrom(65536)
        m = RFC5424.match(data)
        assert m, data[:200]
        sent = json.loads(m.group(1))
        if sent.get("eventName") == "GetItem":
            break
    assert sent == rec  # the same sealed record the file holds, chain link included
    assert sent["chain"]["hash"] == rec["chain"]["hash"]


def test_records_go_to_stdout_for_containers(work, certs, dynalite, tables):
    # access_log.path "-": the same records on standard output, through the same writer thread.
    import subprocess
    import time
    from conftest import make_config
    from guardlib import DDBGUARD_BIN, RECORD_TIMEOUT, Guard, listening, stop_process

    cfg = make_config(work, certs, "stdout", dynalite.url)
    cfg["access_log"] = {"path": "-"}
    g = Guard(work, "stdout", cfg, certs.ca)
    g.config_path.write_text(json.dumps(cfg))
    out_path = g.dir / "stdout.jsonl"
    with open(out_path, "wb") as out:
        g.proc = subprocess.Popen([str(DDBGUARD_BIN), "-c", str(g.config_path)], stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=open(g.stderr_path, "ab"))
        deadline = time.monotonic() + RECORD_TIMEOUT
        while time.monotonic() < deadline and g.proc.poll() is None and not listening(g.port):
            time.sleep(0.02)  # polling for the listener (no probe connection: it would be logged)
        try:
            g.boto().get_item(TableName="users", Key={"pk": {"S": "u1"}})
        finally:
            assert stop_process(g.proc) == 0, g.stderr()
    records = [json.loads(line) for line in out_path.read_text().splitlines() if line.startswith("{\"eventVersion\"")]
    assert [r["eventName"] for r in records if r["eventName"] == "GetItem"] == ["GetItem"], records
    assert records[-1]["guard"]["decision"] == "allow" and "chain" in records[-1]

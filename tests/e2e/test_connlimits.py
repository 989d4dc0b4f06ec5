"""Connection-level hostile load (issue 9): every phase of a connection is bounded by time, not bytes; one
source cannot take every slot; running out of file descriptors pauses accepting instead of spinning; 10k idle
connections cost little and give their memory back.

Each hostile connection comes from its own loopback address (127.0.0.x), so its access-log record is found by
sourceIPAddress, never by waiting a fixed time. Timeouts are configured short; nothing asserts on wall-clock
durations: loops are bounded by bytes sent, and the log record or the close is what is waited for.
"""
import json
import os
import resource
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest

from conftest import make_config
from guardlib import DDBGUARD_BIN, Guard, free_port, listening, stop_process

GET_USER = b'{"TableName":"users","Key":{"pk":{"S":"u1"}}}'


def connect_from(src, port, timeout=5):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def closed_by_peer(s):
    """True once the server has closed (EOF or reset); reads and discards anything else it sent."""
    s.setblocking(False)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    except OSError:
        return True
    finally:
        s.setblocking(True)


def client_hello(ca):
    """The bytes of a real TLS ClientHello for "localhost" (from an SSLObject over memory BIOs)."""
    ctx = ssl.create_default_context(cafile=ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


class MemTLS:
    """TLS over a raw socket whose encrypted bytes we send ourselves (so a record can be trickled)."""

    def __init__(self, sock, ca):
        self.sock = sock
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ssl.create_default_context(cafile=ca).wrap_bio(self.inc, self.out, server_hostname="localhost")
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.sock.sendall(self.out.read())
                data = self.sock.recv(65536)
                assert data, "server closed during the handshake"
                self.inc.write(data)
        self.sock.sendall(self.out.read())

    def seal(self, data):
        """The TLS record bytes carrying `data` (not sent)."""
        self.obj.write(data)
        return self.out.read()

    def poll(self):
        """Without blocking: (decrypted bytes so far, whether the server closed)."""
        got, eof = b"", False
        self.sock.setblocking(False)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    eof = True
                    break
                self.inc.write(data)
        except BlockingIOError:
            pass
        except OSError:
            eof = True
        finally:
            self.sock.setblocking(True)
        try:
            while True:
                got += self.obj.read(65536)
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError, ssl.SSLError):
            pass
        return got, eof

    def read_all(self):
        """Decrypts what the server sends until it closes."""
        got = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            self.inc.write(data)
            try:
                while True:
                    got += self.obj.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError, ssl.SSLError):
                pass
        return got


def records_from(g, mark, ip):
    return [r for r in g.log.records(mark) if r.get("sourceIPAddress") == ip]


def wait_record(g, mark, ip, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        recs = records_from(g, mark, ip)
        if recs:
            return recs
        time.sleep(0.02)
    raise AssertionError("no access-log record from %s after line %d: %s" % (ip, mark, g.log.records(mark)[-5:]))


def served(g):
    item = g.boto().get_item(TableName="users", Key={"pk": {"S": "u1"}})["Item"]
    return item["name"] == {"S": "Ada"}


# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def slowg(make_guard, dynalite, tables):
    def limits(cfg):
        cfg["limits"].update({"handshake_timeout_ms": 600, "request_timeout_ms": 600,
                              "client_timeout_ms": 60000})
    return make_guard("conn-slow", dynalite.url, mutate=limits)


def test_clienthello_trickled_a_byte_at_a_time_is_closed_and_logged(slowg):
    hello = client_hello(slowg.ca)
    mark = slowg.log.mark()
    s = connect_from("127.0.0.2", slowg.port)
    closed = False
    try:
        # Each byte well inside client_timeout_ms; the handshake as a whole gets handshake_timeout_ms.
        for i, b in enumerate(hello[:-1]):
            try:
                s.sendall(bytes([b]))
            except OSError:
                closed = True
                break
            if i == 2:
                assert served(slowg)  # a well-behaved client is served meanwhile
            time.sleep(0.05)
            if closed_by_peer(s):
                closed = True
                break
    finally:
        s.close()
    assert closed, "the server waited for a whole ClientHello sent at 20 bytes/s (%d bytes)" % len(hello)
    rec = wait_record(slowg, mark, "127.0.0.2")[0]
    assert rec["guard"]["decision"] == "reject", rec
    assert rec["errorCode"] == "RequestTimeoutException", rec
    assert "TLS handshake" in rec["guard"]["reason"] and "600 ms" in rec["guard"]["reason"], rec
    assert rec["guard"]["status"] == 0, rec


def test_record_trickled_after_the_handshake_gets_408_and_a_record(slowg):
    mark = slowg.log.mark()
    s = connect_from("127.0.0.3", slowg.port)
    try:
        t = MemTLS(s, slowg.ca)
        head, body = slowg.request_bytes("GetItem", GET_USER)
        wire = t.seal(head + body)
        closed, got = False, b""
        # Raw bytes of one record, none of which can decrypt before the last: the clock starts at the first.
        for b in wire[:-1]:
            try:
                s.sendall(bytes([b]))
            except OSError:
                closed = True
                break
            time.sleep(0.05)
            data, eof = t.poll()
            got += data
            if data or eof:
                closed = True
                break
        assert closed, "the server waited for a %d-byte record sent at 20 bytes/s" % len(wire)
        got += t.read_all()
    finally:
        s.close()
    assert got.startswith(b"HTTP/1.1 408 "), got[:200]
    rec = wait_record(slowg, mark, "127.0.0.3")[0]
    assert rec["guard"]["status"] == 408 and rec["errorCode"] == "RequestTimeoutException", rec
    assert served(slowg)


def test_silent_connection_after_handshake_is_closed_by_the_idle_timeout_and_logged(make_guard, dynalite, tables):
    def limits(cfg):
        cfg["limits"].update({"client_timeout_ms": 500})
    g = make_guard("conn-idle", dynalite.url, mutate=limits)
    mark = g.log.mark()
    s = connect_from("127.0.0.4", g.port, timeout=30)
    try:
        MemTLS(s, g.ca).read_all()  # session tickets, then the close once the server gives up
    finally:
        s.close()
    rec = wait_record(g, mark, "127.0.0.4")[0]
    assert "without sending a request" in rec["guard"]["reason"], rec
    # A keep-alive connection that carried calls ends silently: the boto client's calls leave only their own.
    assert served(g)


# ---------------------------------------------------------------------------------------------------
def tls_connect(src, port, ca):
    s = connect_from(src, port)
    return ssl.create_default_context(cafile=ca).wrap_socket(s, server_hostname="localhost")


def test_per_source_cap(make_guard, dynalite, tables):
    def limits(cfg):
        cfg["limits"].update({"max_connections_per_source": 3})
    g = make_guard("conn-cap", dynalite.url, mutate=limits)
    held = [tls_connect("127.0.0.5", g.port, g.ca) for _ in range(3)]
    try:
        with pytest.raises((ssl.SSLError, OSError)):
            tls_connect("127.0.0.5", g.port, g.ca)  # closed by the server at accept: the handshake fails
        other = tls_connect("127.0.0.6", g.port, g.ca)  # another source has its own count
        other.close()
        assert served(g)  # from 127.0.0.1
    finally:
        for s in held[1:]:
            s.close()
    # One of the capped source's connections is still open: it still works.
    h = held[0]
    h.sendall(b"".join(g.request_bytes("GetItem", GET_USER)))
    assert h.recv(12).startswith(b"HTTP/1.1 200")
    h.close()
    # Slots come back once the server has seen the closes: a new connection from .5 is accepted again.
    for _ in range(100):
        try:
            tls_connect("127.0.0.5", g.port, g.ca).close()
            break
        except (ssl.SSLError, OSError):
            time.sleep(0.05)
    else:
        raise AssertionError("source 127.0.0.5 never got a slot back")
    assert "max_connections_per_source (3)" in g.stderr()


def healthz(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=5) as r:
        return r.status


def test_connection_flood_past_the_limit(make_guard, dynalite, tables):
    admin = free_port()

    def limits(cfg):
        cfg["limits"].update({"max_connections": 20, "max_connections_per_source": 0})
        cfg["admin"] = {"address": "127.0.0.1", "port": admin}
    g = make_guard("conn-flood", dynalite.url, mutate=limits)
    held = [tls_connect("127.0.0.7", g.port, g.ca) for _ in range(20)]
    flood = []
    try:
        for _ in range(200):
            try:
                flood.append(connect_from("127.0.0.8", g.port))
            except OSError:
                pass
        assert healthz(admin) == 200  # the admin listener is not a client slot
        # Every connection past the limit is closed by the server, none is left hanging.
        for s in flood:
            s.settimeout(10)
            try:
                assert s.recv(1) == b""
            except ConnectionResetError:
                pass
        assert healthz(admin) == 200
    finally:
        for s in flood:
            s.close()
        for s in held:
            s.close()
    for _ in range(100):  # the server notices the closes in its own time
        try:
            if served(g):
                break
        except Exception:
            time.sleep(0.05)
    else:
        raise AssertionError("not served after the flood")
    assert "limits.max_connections (20) reached" in g.stderr()


# ---------------------------------------------------------------------------------------------------
def proc_cpu_ticks(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_out_of_file_descriptors_pauses_accepting(make_guard, dynalite, tables):
    def limits(cfg):
        cfg["limits"].update({"max_connections": 100, "max_connections_per_source": 0})
    g = make_guard("conn-emfile", dynalite.url, mutate=limits)
    assert served(g)
    pid = g.proc.pid
    # Lower the running process's limit to what it holds now: every accept fails with EMFILE.
    subprocess.run(["prlimit", "--pid", str(pid), "--nofile=%d:%d" % (open_fds(pid), 20000)], check=True)
    before_warn = g.stderr().count("accept failed")
    ticks0 = proc_cpu_ticks(pid)
    waiting = [connect_from("127.0.0.9", g.port) for _ in range(20)]  # sit in the kernel backlog
    hz = os.sysconf("SC_CLK_TCK")
    window = 2.0
    time.sleep(window)  # an observation window, not a wait for an event: CPU is counted over it
    ticks = proc_cpu_ticks(pid) - ticks0
    warnings = g.stderr().count("accept failed") - before_warn
    # A spin takes most of a core (window * hz ticks); pausing 100 ms between tries takes almost none.
    assert ticks < 0.2 * window * hz, "used %d CPU ticks in %.1f s at EMFILE" % (ticks, window)
    assert 1 <= warnings <= window + 2, "%d warnings in %.1f s" % (warnings, window)
    assert "pausing accepts" in g.stderr()
    subprocess.run(["prlimit", "--pid", str(pid), "--nofile=20000:20000"], check=True)
    # Accepting resumes by itself: the waiting connections are taken and served.
    s = ssl.create_default_context(cafile=g.ca).wrap_socket(waiting[0], server_hostname="localhost")
    s.sendall(b"".join(g.request_bytes("GetItem", GET_USER)))
    assert s.recv(12).startswith(b"HTTP/1.1 200")
    s.close()
    for w in waiting[1:]:
        w.close()
    assert served(g)


def run_guard(cfg, workdir, name, prefix):
    g = Guard(workdir, name, cfg, cfg["upstream"]["ca_file"])
    g.config_path.write_text(json.dumps(cfg))
    return subprocess.run([*prefix, str(DDBGUARD_BIN), "-c", str(g.config_path)], capture_output=True, text=True,
                          timeout=30)


def test_refuses_to_start_when_connections_cannot_have_descriptors(work, certs, dynalite):
    cfg = make_config(work, certs, "conn-nofile", dynalite.url)
    cfg["limits"]["max_connections"] = 4096
    r = run_guard(cfg, work, "conn-nofile", ["prlimit", "--nofile=512:512"])
    assert r.returncode != 0
    assert "limits.max_connections 4096" in r.stderr and "RLIMIT_NOFILE allows 512" in r.stderr, r.stderr


def test_soft_descriptor_limit_is_raised_to_the_hard_one(work, certs, dynalite):
    cfg = make_config(work, certs, "conn-raise", dynalite.url)
    cfg["limits"]["max_connections"] = 1000
    g = Guard(work, "conn-raise", cfg, certs.ca)
    g.config_path.write_text(json.dumps(cfg))
    proc = subprocess.Popen(["prlimit", "--nofile=256:8192", str(DDBGUARD_BIN), "-c", str(g.config_path)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            if listening(g.port) or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read()
        limits = open("/proc/%d/limits" % proc.pid).read()
        line = [ln for ln in limits.splitlines() if ln.startswith("Max open files")][0]
        assert line.split()[3:5] == ["8192", "8192"], line
    finally:
        assert stop_process(proc) == 0
# ---------------------------------------------------------------------------------------------------
def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_ten_thousand_idle_connections(work, certs, dynalite, tables):
    # ddbguard needs two descriptors per allowed connection (client + upstream) plus its pools and reserve; a
    # container whose hard RLIMIT_NOFILE cannot be raised (20000 here) gets a little under 10k.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    n, sources = min(10000, (hard - 400) // 2), 10
    port = free_port()
    cfg = make_config(work, certs, "conn-10k", dynalite.url)
    cfg["listeners"].append({"name": "plain", "address": "127.0.0.1", "port": port})
    cfg["limits"].update({"max_connections": n + 50})  # per source: the default cap (1024) > n / sources
    g = Guard(work, "conn-10k", cfg, certs.ca)
    g.config_path.write_text(json.dumps(cfg))
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this process holds the client side
    g.proc = subprocess.Popen([str(DDBGUARD_BIN), "-c", str(g.config_path)], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=open(g.stderr_path, "ab"))
    try:
        for _ in range(200):
            if listening(port) and listening(g.port):
                break
            time.sleep(0.05)
        pid = g.proc.pid
        assert served(g)
        fds0 = open_fds(pid)
        results = []
        for cycle in range(2):
            base = rss_kb(pid)
            conns = []
            for i in range(n):
                conns.append(connect_from("127.0.1.%d" % (1 + i % sources), port))
            # Every one of them accepted (an fd each in the server), then a call on one of them works.
            for _ in range(1200):  # hang guards (60 s), not time bounds
                if open_fds(pid) >= fds0 + n - 5:
                    break
                time.sleep(0.05)
            assert open_fds(pid) >= fds0 + n - 5
            assert served(g)
            full = rss_kb(pid)
            for s in conns:
                s.close()
            for _ in range(1200):  # hang guards (60 s), not time bounds
                if open_fds(pid) <= fds0 + 2:
                    break
                time.sleep(0.05)
            # The server gives freed heap back about a second after a large drop in connections: poll for it.
            for _ in range(200):
                after = rss_kb(pid)
                if after <= results[0][0] * 1.10 + 1024 if results else after <= base * 1.10 + 1024:
                    break
                time.sleep(0.05)
            results.append((base, full, after))
        print("RSS kB (baseline, with %d idle, after close) per cycle: %s; per idle connection: %.2f kB" % (
            n, results, (results[0][1] - results[0][0]) / n))
        base0 = results[0][0]
        if os.environ.get("DDBGUARD_SANITIZED"):
            # ASan keeps freed memory in quarantine and adds shadow memory: RSS says nothing about ddbguard's
            # own footprint there. The run still proves every connection was accepted and served, and
            # LeakSanitizer checks at exit that the closed connections left nothing behind.
            return
        for base, full, after in results:
            assert after <= base0 * 1.10 + 1024, results  # back within 10% of the first baseline
        assert (results[0][1] - results[0][0]) / n < 8, results  # well under 8 kB per idle plain connection
    finally:
        assert stop_process(g.proc) == 0

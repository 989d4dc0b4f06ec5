"""The write-first plain-HTTP path (proxy/sockio.c) end to end: a plain listener in front of a plain upstream,
keep-alive, pipelining, a response larger than the socket buffers read by a slow client (write interest only
on EAGAIN, backpressure to the upstream)."""
import json
import socket
import threading
import time

import pytest

from conftest import make_config
from guardlib import Guard, free_port, listening

GET_USER = b'{"TableName":"users","Key":{"pk":{"S":"u1"}}}'
BIG = 8 * 1024 * 1024  # more than the kernel buffers of both sockets hold: the gateway meets EAGAIN


class PlainUpstream:
    """A keep-alive plain-HTTP upstream: answers each request with a small JSON item, or BIG bytes when the
    body asks for table "big"."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self.conns = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            threading.Thread(target=self._handle, args=(c,), daemon=True).start()

    def _handle(self, c):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = c.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                n = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        n = int(v)
                while len(buf) < n:
                    buf += c.recv(65536)
                body, buf = buf[:n], buf[n:]
                self.requests += 1
                if b'"big"' in body:
                    payload = b'{"Item":{"pk":{"S":"' + b"x" * (BIG - 24) + b'"}}}'
                else:
                    payload = b'{"Item":{"pk":{"S":"u1"},"name":{"S":"Ada"}}}'
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
                          b"x-amzn-RequestId: PLAIN%d\r\nContent-Length: %d\r\n\r\n" % (self.requests, len(payload))
                          + payload)
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.sock.close()


def read_response(s, buf=b""):
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, "closed before a response head: %r" % buf[:200]
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    n = int([ln.split(b":", 1)[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length:")][0])
    while len(rest) < n:
        chunk = s.recv(1 << 20)
        assert chunk, "closed in a response body"
        rest += chunk
    return head, rest[:n], rest[n:]


@pytest.fixture
def plain(work, certs):
    started = []

    def start(name):
        up = PlainUpstream()
        cfg = make_config(work, certs, name, "http://127.0.0.1:%d" % up.port)
        cfg["upstream"].pop("ca_file", None)
        port = free_port()
        cfg["listeners"].append({"name": "plain", "address": "127.0.0.1", "port": port})
        g = Guard(work, name, cfg, certs.ca).start()
        for _ in range(200):
            if listening(port):
                break
            time.sleep(0.01)
        started.append((g, up))
        return g, up, port

    yield start
    for g, up in started:
        assert g.stop() == 0, g.stderr()
        up.stop()


def test_keep_alive_and_pipelining(plain):
    g, up, port = plain("plain-ka")
    mark = g.log.mark()
    req = b"".join(g.request_bytes("GetItem", GET_USER))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        rest = b""
        for _ in range(50):
            s.sendall(req)
            head, body, rest = read_response(s, rest)
            assert head.startswith(b"HTTP/1.1 200"), head
            assert json.loads(body)["Item"]["name"] == {"S": "Ada"}
        s.sendall(req * 3)  # three pipelined calls in one segment: three answers, in order
        ids = []
        for _ in range(3):
            head, body, rest = read_response(s, rest)
            ids.append([ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"x-amzn-requestid")][0])
        assert ids == sorted(ids, key=lambda x: int(x.split(b"PLAIN")[1])), ids
    recs = g.log.wait(mark, n=53, eventName="GetItem")
    assert all(r["guard"]["decision"] == "allow" for r in recs)
    assert up.conns <= 2, "the upstream connection was not reused: %d connections" % up.conns


def test_large_response_to_a_slow_reader(plain):
    g, up, port = plain("plain-big")
    body = b'{"TableName":"users","Key":{"pk":{"S":"big"}}}'
    mark = g.log.mark()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(b"".join(g.request_bytes("GetItem", body)))
        while up.requests == 0:
            time.sleep(0.01)
        # A slow reader: the gateway's writes meet EAGAIN, it waits for room and pauses the upstream.
        buf = b""
        for _ in range(64):
            buf += s.recv(16384)
            time.sleep(0.002)
        head, got, _ = read_response(s, buf)
        assert head.startswith(b"HTTP/1.1 200"), head
        assert len(got) == BIG and got.endswith(b'"}}}'), len(got)
        s.sendall(b"".join(g.request_bytes("GetItem", GET_USER)))  # and the connection is still good
        head, got, _ = read_response(s)
        assert head.startswith(b"HTTP/1.1 200"), head
    rec = g.log.wait(mark, n=2, eventName="GetItem")[0]
    assert rec["guard"]["status"] == 200 and rec["guard"]["bytesOut"] > BIG, rec


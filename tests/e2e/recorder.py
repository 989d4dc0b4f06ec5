"""A recording upstream: a TLS-terminating relay between ddbguard and dynalite that keeps every byte
ddbguard sent, so a test can prove from outside the gateway that a denied call never reached DynamoDB.

    ddbguard --TLS--> RecordingUpstream (dev-CA certificate, SAN localhost) --TLS--> dynalite

Every accepted connection is relayed byte for byte to a new TLS connection to dynalite; the bytes ddbguard
sent are kept per connection (the evidence: `marker in bytes`, no parsing needed) and also cut into requests
(Content-Length or chunked framing) for tests that want to look at them. The x-amzn-RequestId of every
response dynalite sent back is kept too: a response to the client whose request id is not among them was
made up by the gateway itself (a refusal), which is how the automatic check in conftest.py finds them.

Standard library only (run by Debian's /usr/bin/python3).
"""
import re
import select
import socket
import ssl
import threading
import time

# Waits below are for a condition, never for a fixed time; this only bounds a hung test.
SETTLE_TIMEOUT = 60
_RID = re.compile(rb"^x-amzn-requestid:[ \t]*(\S+)", re.I)


class _Conn:
    def __init__(self, cid):
        self.id = cid
        self.sent = bytearray()      # every byte ddbguard sent on this connection
        self.pending = bytearray()   # bytes of a request not yet complete
        self.resp_line = bytearray()
        self.handshaking = True
        self.closed = False

    def busy(self):
        return not self.closed and (self.handshaking or bool(self.pending))


class Mark:
    """A point in the recording: bytes per connection and the number of complete requests."""

    def __init__(self, sent, nreq):
        self.sent, self.nreq = sent, nreq


class RecordingUpstream:
    def __init__(self, cert, key, ca, target_port, target_host="localhost", name="recorder", sni=None):
        self.name = name
        self.target = (target_host, target_port)
        self.sni = sni or target_host
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_ctx.load_cert_chain(str(cert), str(key))
        self.client_ctx = ssl.create_default_context(cafile=str(ca))
        self.lock = threading.Lock()
        self.conns = []
        self.requests = []           # (connection id, raw request bytes), in completion order
        self.relayed_ids = set()     # x-amzn-RequestId of every response dynalite sent back
        self.accept_rounds = 0       # times the accept loop found its backlog empty
        self.errors = []
        self.stopping = False
        self.sock = None
        self.port = None
        self.base = Mark({}, 0)

    # ---- lifecycle ----
    def start(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept_loop, name=self.name, daemon=True).start()
        return self

    @property
    def url(self):
        return "https://localhost:%d" % self.port

    def stop(self):
        self.stopping = True
        if self.sock is not None:
            self.sock.close()

    # ---- queries ----
    def mark(self):
        with self.lock:
            return Mark({c.id: len(c.sent) for c in self.conns}, len(self.requests))

    def reset(self):
        """Later queries without an explicit mark look only at what arrives from now on."""
        self.base = self.mark()

    def received(self, since=None):
        """Complete requests (raw bytes) ddbguard sent after `since` (default: the last reset())."""
        since = since or self.base
        with self.lock:
            return [raw for _, raw in self.requests[since.nreq:]]

    def sent_bytes(self, since=None):
        """Everything ddbguard sent after `since`, one bytes object per connection (requests complete
        or not: a request cut short still counts as having reached the upstream)."""
        since = since or self.base
        with self.lock:
            return [bytes(c.sent[since.sent.get(c.id, 0):]) for c in self.conns]

    def relayed(self, request_id):
        """Whether dynalite answered a request with this x-amzn-RequestId through this relay."""
        with self.lock:
            return request_id in self.relayed_ids

    def settle(self, timeout=SETTLE_TIMEOUT):
        """Waits until the relay is quiet: the accept backlog was seen empty twice after this call began
        and no connection is in its TLS handshake or holds part of a request. A call the gateway has
        started to forward (its connect is queued, or its bytes are on the way) is then recorded."""
        deadline = time.monotonic() + timeout
        with self.lock:
            r0 = self.accept_rounds
        while True:
            with self.lock:
                busy = [c.id for c in self.conns if c.busy()]
                quiet = not busy and self.accept_rounds >= r0 + 2
            if quiet:
                return
            if time.monotonic() > deadline:
                raise AssertionError("recording upstream %s never went quiet (busy connections %r)" % (
                    self.name, busy))
            time.sleep(0.005)

    def assert_quiet_since(self, since, what="the refused call"):
        """Fails if ddbguard sent anything at all after `since` (for refusals with no bytes of their own
        to look for, e.g. a refused CONNECT)."""
        self.settle()
        sent = [d for d in self.sent_bytes(since) if d]
        assert not sent, "FORWARDED: %s: ddbguard sent bytes to %s: %r" % (what, self.name, sent[0][:1500])

    def assert_not_forwarded(self, *markers, since=None, what="the refused call"):
        """Fails if any of `markers` (bytes or str) is in anything ddbguard sent after `since`."""
        markers = [m.encode() if isinstance(m, str) else bytes(m) for m in markers if m]
        assert markers, "assert_not_forwarded needs at least one non-empty marker"
        self.settle()
        for data in self.sent_bytes(since):
            for m in markers:
                at = data.find(m)
                if at >= 0:
                    start = data.rfind(b"POST ", 0, at)
                    raise AssertionError(
                        "FORWARDED: %s reached the upstream (marker %r found in what ddbguard sent "
                        "to %s): %r" % (what, m, self.name, data[max(start, 0):at + 200][:1500]))

    # ---- relay ----
    def _accept_loop(self):
        cid = 0
        while not self.stopping:
            try:
                ready = select.select([self.sock], [], [], 0.02)[0]
            except (OSError, ValueError):
                return
            if not ready:
                with self.lock:
                    self.accept_rounds += 1
                continue
            try:
                c, _ = self.sock.accept()
            except OSError:
                if self.stopping:
                    return
                continue
            cid += 1
            conn = _Conn(cid)
            with self.lock:
                self.conns.append(conn)
            threading.Thread(target=self._relay, args=(conn, c), daemon=True).start()

    def _relay(self, conn, raw):
        a = b = None
        try:
            raw.settimeout(30)
            a = self.server_ctx.wrap_socket(raw, server_side=True)
            b = self.client_ctx.wrap_socket(socket.create_connection(self.target, timeout=30),
                                            server_hostname=self.sni)
            with self.lock:
                conn.handshaking = False
            a.setblocking(False)
            b.setblocking(False)
            while not self.stopping:
                ready = [s for s in (a, b) if s.pending()] or select.select([a, b], [], [], 1.0)[0]
                for s in ready:
                    try:
                        data = s.recv(65536)
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        continue
                    if not data:
                        return
                    if s is a:
                        self._from_gateway(conn, data)
                        _send_all(b, data)
                    else:
                        self._from_upstream(conn, data)
                        _send_all(a, data)
        except (OSError, ssl.SSLError, ValueError) as e:
            with self.lock:
                self.errors.append("connection %d: %s" % (conn.id, e))
        finally:
            with self.lock:
                conn.closed = True
                conn.handshaking = False
            for s in (a, b, raw):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass

    def _from_gateway(self, conn, data):
        with self.lock:
            conn.sent += data
            conn.pending += data
            while True:
                n = _request_length(conn.pending)
                if n is None:
                    break
                self.requests.append((conn.id, bytes(conn.pending[:n])))
                del conn.pending[:n]

    def _from_upstream(self, conn, data):
        with self.lock:
            conn.resp_line += data
            while True:
                i = conn.resp_line.find(b"\r\n")
                if i < 0:
                    break
                m = _RID.match(conn.resp_line[:i])
                if m:
                    self.relayed_ids.add(m.group(1).decode("latin-1"))
                del conn.resp_line[:i + 2]
            if len(conn.resp_line) > 1 << 20:   # a long body without CRLF: nothing we look for
                del conn.resp_line[:-4096]


def _send_all(s, data):
    view = memoryview(data)
    while view:
        try:
            n = s.send(view)
            view = view[n:]
        except ssl.SSLWantWriteError:
            select.select([], [s], [], 5)
        except ssl.SSLWantReadError:
            select.select([s], [], [], 5)


def _request_length(buf):
    """Length of the first complete request in buf, or None. Content-Length or chunked framing."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head_len = end + 4
    length, chunked = 0, False
    for line in bytes(buf[:end]).split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        k = k.strip().lower()
        if k == b"content-length":
            try:
                length = int(v.strip())
            except ValueError:
                length = 0
        elif k == b"transfer-encoding" and b"chunked" in v.lower():
            chunked = True
    if not chunked:
        return head_len + length if len(buf) >= head_len + length else None
    pos = head_len
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        try:
            size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
        except ValueError:
            return len(buf)   # unparseable: take everything so far as one request
        pos = eol + 2
        if size == 0:
            fin = buf.find(b"\r\n\r\n", pos - 2)
            return fin + 4 if fin >= 0 else None
        pos += size + 2
        if pos > len(buf):
            return None

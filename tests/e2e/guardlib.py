"""Helpers for the ddbguard end-to-end tests: processes, clients, raw HTTP, the access log.

Run by Debian's /usr/bin/python3 (python3-pytest, python3-boto3); see conftest.py for the fixtures.
"""
import json
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parents[2]
DDBGUARD_BIN = Path(os.environ.get("DDBGUARD_BIN", ROOT / "build" / "ddbguard"))
AWS_BIN = "/usr/bin/aws"  # Debian's aws-cli v2; `aws` on PATH may be another one
ACCOUNT = "123456789012"
REGION = "us-east-1"
APP_KEY = "AKIAAPP0000000000001"
READER_KEY = "AKIAREADER0000000001"
UNKNOWN_KEY = "AKIAUNKNOWN000000001"
SECRET = "e2e-secret-not-checked-by-anyone"
JSON_CT = "application/x-amz-json-1.0"
TARGET = "DynamoDB_20120810."
MAX_BODY = 65536  # limits.max_body_bytes of the test configs: small keeps the oversized-body test cheap
# How long a wait for a condition (an access-log record, a quiet upstream) may take before the test fails.
# Only a guard against a hung test: nothing is asserted about how long it took, so load cannot break it.
RECORD_TIMEOUT = 60
# The aws CLI spends seconds of CPU starting up (it loads the whole service model): on a machine running
# several suites at once a call took over 60 s. A hang guard only, like RECORD_TIMEOUT.
CLI_TIMEOUT = 300
TEST_ID_HEADER = "X-Ddbguard-Test-Id"  # a unique id in every request a Guard client sends (signed)

# Keep every AWS client in this process away from the user's files and instance metadata.
os.environ.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                  AWS_EC2_METADATA_DISABLED="true")
for _v in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
           "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
    os.environ.pop(_v, None)


def table_arn(name, *rest):
    return "/".join(["arn:aws:dynamodb:%s:%s:table/%s" % (REGION, ACCOUNT, name), *rest])


def free_port():
    """A loopback port that was free a moment ago (the race with other users is accepted)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Whether something listens on TCP `port`, read from /proc/net without connecting: a probe
    connection would show up in ddbguard's access log as a failed TLS handshake."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except FileNotFoundError:
            pass
    return False


def stop_process(proc, sig=signal.SIGTERM, timeout=30):
    """Sends sig, waits up to timeout; kills on expiry. Returns the exit status (None if it was killed)."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        return None


# ---------------------------------------------------------------------------------------------------
class Dynalite:
    """deploy/dynalite/serve.js over TLS on a kernel-chosen loopback port."""

    def __init__(self, workdir, cert, key, name="dynalite"):
        self.log_path = Path(workdir) / (name + ".log")
        self.cert, self.key, self.name = cert, key, name
        self.proc = None
        self.port = None

    def start(self, timeout=60):
        serve = ROOT / "deploy" / "dynalite" / "serve.js"
        if not (ROOT / "deploy" / "dynalite" / "node_modules" / "dynalite").is_dir():
            raise RuntimeError("deploy/dynalite/node_modules is missing: run `npm ci` in deploy/dynalite")
        self.proc = subprocess.Popen(
            ["node", str(serve), "--port", "0", "--table-ms", "0",
             "--tls-key", str(self.key), "--tls-cert", str(self.cert)],
            stdout=subprocess.PIPE, stderr=open(self.log_path, "wb"), stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline and b"\n" not in line:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
        text = line.decode(errors="replace")
        if not text.startswith("listening on "):
            self.stop()
            raise RuntimeError("%s did not start: %r %s" % (self.name, text, self.log_path.read_text()))
        self.port = int(text.split()[2].rsplit(":", 1)[1])
        return self

    @property
    def url(self):
        return "https://localhost:%d" % self.port

    def stop(self):
        if self.proc is not None:
            rc = stop_process(self.proc, timeout=5)
            self.proc.stdout.close()
            return rc
        return None


# ---------------------------------------------------------------------------------------------------
class AccessLog:
    """The JSON-lines access log. Tests take mark() before a call and look only at later records."""

    def __init__(self, path):
        self.path = Path(path)

    def _lines(self):
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        # Only complete lines: a record being written has no newline yet.
        return data.split(b"\n")[:-1]

    def mark(self):
        return len(self._lines())

    def records(self, since=0):
        # Digest lines (written every digest_every_seconds even without calls) are not records.
        return [json.loads(line) for line in self._lines()[since:] if not line.startswith(b'{"ddbguardDigest":')]

    def wait(self, since, n=1, timeout=None, **match):
        """Waits until at least n records after `since` match (eventName=..., decision=... for guard),
        returns all the matching ones in order. Fails with what was seen on timeout. Only for events that
        have no response (a failed TLS handshake): a call's record is found by request id (by_request_id,
        Guard.record), never as "the next matching line"."""
        timeout = timeout or RECORD_TIMEOUT
        deadline = time.monotonic() + timeout
        while True:
            recs = [r for r in self.records(since) if _matches(r, match)]
            if len(recs) >= n or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert len(recs) >= n, "expected %d access-log record(s) matching %r after line %d, got: %s" % (
            n, match, since, json.dumps(self.records(since), indent=1)[:4000])
        return recs

    def by_request_id(self, request_id, timeout=None, **match):
        """The one record of the call answered with x-amzn-RequestId `request_id`: waits for that record
        (not for "the next line"), fails if it never comes, if two records carry it, or if a field in
        `match` (eventName=..., decision=...) differs."""
        assert request_id, "the response had no x-amzn-RequestId to find its record by"
        deadline = time.monotonic() + (timeout or RECORD_TIMEOUT)
        while True:
            recs = [r for r in self.records() if r.get("requestID") == request_id]
            if recs or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert len(recs) == 1, "expected one access-log record with requestID %s in %s, got %d: %s" % (
            request_id, self.path, len(recs), json.dumps(recs, indent=1)[:4000])
        rec = recs[0]
        assert _matches(rec, match), "record %s does not match %r: %s" % (request_id, match, rec)
        return rec

    def one(self, since, **match):
        """Deprecated (races the writer: a late record of an earlier call can match): use Guard.record()
        or by_request_id(). Exactly one matching record after `since`."""
        recs = self.wait(since, **match)
        assert len(recs) == 1, "expected one record matching %r, got %d: %s" % (match, len(recs), recs)
        return recs[0]


def _matches(rec, match):
    for k, v in match.items():
        if k == "decision" or (k not in rec and k in (rec.get("guard") or {})):
            got = (rec.get("guard") or {}).get(k)   # decision, connectTarget, ...: fields of "guard"
        else:
            got = rec.get(k)
        if got != v:
            return False
    return True


# ---------------------------------------------------------------------------------------------------
class Response:
    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def header(self, name):
        vals = [v for k, v in self.headers if k.lower() == name.lower()]
        return vals[0] if vals else None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %s %r %r>" % (self.status, self.headers, self.body[:300])


class Guard:
    """One ddbguard process with its own config file, stderr file and access log."""

    def __init__(self, workdir, name, config, ca):
        self.dir = Path(workdir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.config = config
        self.ca = str(ca)
        self.config_path = self.dir / "ddbguard.json"
        self.stderr_path = self.dir / "stderr.log"
        self.log = AccessLog(config["access_log"]["path"])
        self.port = config["listeners"][0]["port"]
        self.proc = None
        self.calls = []          # every call made through this Guard's clients (boto, cli, raw): Call
        self.recorder = None     # the RecordingUpstream in front of its upstream, if any (make_guard)
        ALL_GUARDS.append(self)

    @property
    def url(self):
        return "https://localhost:%d" % self.port

    def start(self, timeout=RECORD_TIMEOUT):
        if not DDBGUARD_BIN.exists():
            raise RuntimeError("%s does not exist; build it (ninja -C build)" % DDBGUARD_BIN)
        if os.geteuid() == 0 and "user" not in self.config:
            self.config.setdefault("allow_root", True)  # tests run as root; ddbguard refuses it unless told
        self.config_path.write_text(json.dumps(self.config, indent=2))
        self.proc = subprocess.Popen([str(DDBGUARD_BIN), "-c", str(self.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.stderr_path, "ab"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("ddbguard %s exited with %s during start-up: %s" % (
                    self.name, self.proc.returncode, self.stderr()))
            if listening(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("ddbguard %s did not listen on %d within %ss: %s" % (
            self.name, self.port, timeout, self.stderr()))

    def stop(self, sig=signal.SIGTERM, timeout=30):
        return stop_process(self.proc, sig, timeout) if self.proc else None

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    # ---- what the calls were and what came back: the way to their records and to the upstream ----
    def last_call(self):
        assert self.calls, "no call was made through ddbguard %s's clients" % self.name
        return self.calls[-1]

    def record(self, call=None, **match):
        """The access-log record of `call` (default: the last call made through this Guard's clients, or
        the last one of operation eventName=... if given), found by the x-amzn-RequestId of its response.
        `match`: eventName=..., decision=... (checked on the record)."""
        if call is None and match.get("eventName"):
            ops = [c for c in self.calls if c.op == match["eventName"]]
            call = ops[-1] if ops else None
        call = call or self.last_call()
        assert call.request_id, "%s got no x-amzn-RequestId, so its record cannot be found: %r" % (call.via, call)
        return self.log.by_request_id(call.request_id, **match)

    def assert_not_forwarded(self, call=None, *extra_markers):
        """Proves from outside the gateway that nothing of `call` (default: the last one) reached the
        upstream: none of its unique bytes (test-id header, SigV4 signature, extra markers) is in what
        ddbguard sent to the recording upstream. Needs a Guard made by make_guard in front of dynalite."""
        call = call or self.last_call()
        assert self.recorder is not None, (
            "ddbguard %s has no recording upstream: make it with make_guard(name, dynalite.url)" % self.name)
        markers = list(call.markers) + list(extra_markers)
        assert markers, "nothing unique identifies %r at the upstream: add a marker" % (call,)
        self.recorder.assert_not_forwarded(*markers, since=call.upstream_mark, what="%s (%s)" % (call.via, call))

    def assert_forwarded(self, call=None):
        """The opposite, for allowed calls: the upstream recording holds `call`'s bytes."""
        call = call or self.last_call()
        assert self.recorder is not None and call.markers, (self.name, call)
        self.recorder.settle()
        sent = self.recorder.sent_bytes(call.upstream_mark)
        assert any(call.markers[0].encode() in d for d in sent), "%r did not reach the upstream" % (call,)

    def _new_call(self, via, op=None):
        c = Call(via, self.recorder.mark() if self.recorder else None)
        c.op = op
        self.calls.append(c)
        return c

    # ---- clients ----
    def boto(self, key=APP_KEY, service="dynamodb"):
        client = boto3.session.Session().client(
            service, endpoint_url=self.url, region_name=REGION, verify=self.ca,
            aws_access_key_id=key, aws_secret_access_key=SECRET,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                          connect_timeout=30, read_timeout=60))  # hang guards, not speed checks
        return self.journal(client)

    def journal(self, client):
        """Makes every call of a boto3 client carry a unique signed X-Ddbguard-Test-Id and land in
        self.calls with its response's request id. Guard.boto() does it; use it on clients built
        another way (egress tests build theirs with a proxy). Returns the client."""
        client.meta.events.register("before-sign", _tag_request)
        client.meta.events.register("before-send", lambda request, **kw: self._boto_sent(request))
        client.meta.events.register("after-call", lambda http_response, context=None, **kw:
                                    self._boto_answered(http_response, context))
        return client

    def _boto_sent(self, request):
        h = {k: (v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        c = self._new_call("boto3 %s" % h.get("X-Amz-Target"), (h.get("X-Amz-Target") or "").rsplit(".", 1)[-1])
        c.markers += [h[TEST_ID_HEADER]] if h.get(TEST_ID_HEADER) else []
        c.markers += _signature(h.get("Authorization"))
        return None

    def _boto_answered(self, http_response, context):
        # The call this answer belongs to, by the test id before-sign put in the request's context (not
        # "the last call": clients of one Guard may run in several threads).
        tid = (context or {}).get(TEST_ID_HEADER)
        c = next((c for c in reversed(self.calls) if tid and c.markers[:1] == [tid]), None)
        if c is None and tid is None and self.calls:
            c = self.calls[-1]
        if c is not None:
            c.status = http_response.status_code
            c.request_id = http_response.headers.get("x-amzn-RequestId")

    def cli(self, *args, key=APP_KEY, home=None, timeout=CLI_TIMEOUT):
        """Runs /usr/bin/aws dynamodb ARGS against this gateway; returns CompletedProcess (text). With
        --debug, whose lines are taken out of stderr again: they give the call's signature and request
        id for self.calls."""
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(home or self.dir),
            "LANG": "C.UTF-8",
            "AWS_CA_BUNDLE": self.ca,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_PAGER": "",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_RETRY_MODE": "standard",
        }
        return self.run_cli([AWS_BIN, "dynamodb", *args, "--endpoint-url", self.url, "--region", REGION,
                             "--output", "json", "--cli-connect-timeout", "30", "--cli-read-timeout", "60"],
                            env, timeout)

    def run_cli(self, argv, env, timeout=CLI_TIMEOUT):
        """Runs an aws CLI command line (argv[0] the binary, argv[1] the service) with --debug added and
        journals the call in self.calls; the debug lines are taken out of the returned stderr."""
        op = argv[2] if len(argv) > 2 else ""
        call = self._new_call("aws %s %s" % (argv[1], op), "".join(w.capitalize() for w in op.split("-")))
        r = subprocess.run(list(argv) + ["--debug"], env=env, capture_output=True, text=True, timeout=timeout)
        debug, r.stderr = _split_cli_debug(r.stderr)
        call.markers += _signature(" ".join(re.findall(r"Signature=[0-9a-f]{64}", debug)[-1:]))
        rids = re.findall(r"'x-amzn-RequestId': '([^']+)'", debug, re.I)
        call.request_id = rids[-1] if rids else None
        codes = re.findall(r'"POST / HTTP/1.1" (\d{3})', debug)
        call.status = int(codes[-1]) if codes else None
        return r

    def signed_headers(self, op, body, key=APP_KEY, prefix=TARGET):
        """Real SigV4 headers for a POST of `body` (bytes) with X-Amz-Target prefix+op, and a unique
        X-Ddbguard-Test-Id (signed too, so two identical calls in one second differ)."""
        req = AWSRequest(method="POST", url=self.url + "/", data=body,
                         headers={"Content-Type": JSON_CT, "X-Amz-Target": prefix + op,
                                  TEST_ID_HEADER: uuid.uuid4().hex})
        SigV4Auth(Credentials(key, SECRET), "dynamodb", REGION).add_auth(req)
        return [("Host", "localhost:%d" % self.port)] + [(k, v) for k, v in req.headers.items()]

    def request_bytes(self, op, body, key=APP_KEY, prefix=TARGET, extra=(), drop=(), length=True):
        """A complete signed request as bytes; `extra` headers are appended, `drop` names removed."""
        headers = [(k, v) for k, v in self.signed_headers(op, body, key, prefix) if k.lower() not in drop]
        headers += list(extra)
        if length:
            headers.append(("Content-Length", str(len(body))))
        head = "POST / HTTP/1.1\r\n" + "".join("%s: %s\r\n" % kv for kv in headers) + "\r\n"
        return head.encode(), body

    def raw(self, head, body=b"", timeout=30):
        """Sends head+body over a fresh TLS connection (verifying the test CA), reads one response."""
        target = re.findall(r"(?im)^x-amz-target:[ \t]*\S*?\.?(\w+)\s*$", head.decode("latin-1"))
        call = self._new_call("raw " + head.split(b"\r\n", 1)[0].decode("latin-1")[:60],
                              target[0] if len(target) == 1 else None)
        call.markers += _raw_markers(head)
        resp = self._raw(head, body, timeout)
        call.status, call.request_id = resp.status, resp.header("x-amzn-RequestId")
        return resp

    def _raw(self, head, body, timeout):
        ctx = ssl.create_default_context(cafile=self.ca)
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as tcp:
            with ctx.wrap_socket(tcp, server_hostname="localhost") as s:
                early = b""
                try:
                    s.sendall(head)
                    # The gateway may answer (400) and close before the body is all sent, e.g. when
                    # Content-Length is over the limit: stop sending as soon as an answer is there.
                    for off in range(0, len(body), 16384):
                        early = _poll_read(s)
                        if early:
                            break
                        s.sendall(body[off:off + 16384])
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass
                return read_response(s, early)


ALL_GUARDS = []  # every Guard of this session, for the automatic not-forwarded check in conftest.py


class Call:
    """One call made through a Guard's clients: what identifies its bytes at the upstream (markers),
    the upstream recording's mark when it started, and the response's status and x-amzn-RequestId."""

    def __init__(self, via, upstream_mark):
        self.via, self.upstream_mark = via, upstream_mark
        self.markers = []
        self.status = self.request_id = self.op = None

    def __repr__(self):
        return "<Call %s status=%s requestId=%s markers=%r>" % (self.via, self.status, self.request_id,
                                                                 self.markers)


def _tag_request(request, **kwargs):
    tid = uuid.uuid4().hex
    request.headers[TEST_ID_HEADER] = tid
    request.context[TEST_ID_HEADER] = tid  # the same dict after-call gets: pairs the answer with its call


def _signature(auth):
    m = re.search(r"Signature=([0-9a-f]{64})", auth or "")
    return [m.group(1)] if m else []


def _raw_markers(head):
    text = head.decode("latin-1")
    found = re.findall(r"(?im)^%s:[ \t]*([0-9a-f]{32})\s*$" % TEST_ID_HEADER, text)
    return found + _signature(text)


_CLI_DEBUG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - ")


def _split_cli_debug(stderr):
    """(debug text, the rest): --debug lines start with a timestamp and may run on over more lines;
    the CLI's own message comes after them, from its first blank line on."""
    lines = stderr.split("\n")
    last = max((i for i, l in enumerate(lines) if _CLI_DEBUG_LINE.match(l)), default=-1)
    if last < 0:
        return "", stderr
    end = last + 1
    while end < len(lines) and lines[end] != "":
        end += 1
    return "\n".join(lines[:end]), "\n".join(lines[end:]).lstrip("\n")


def _poll_read(s):
    """Application data already sent by the peer, without blocking (TLS 1.3 session tickets make the
    socket readable with no data for us)."""
    if not select.select([s], [], [], 0)[0]:
        return b""
    s.setblocking(False)
    try:
        return s.recv(65536)
    except (ssl.SSLWantReadError, BlockingIOError):
        return b""
    finally:
        s.settimeout(30)


def read_response(s, buf=b""):
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("connection closed before a complete response head: %r" % buf)
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
    assert version == "HTTP/1.1", lines[0]
    headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
    resp = Response(int(status), reason, headers, b"")
    cl = resp.header("Content-Length")
    if cl is not None:
        n = int(cl)
        while len(rest) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        resp.body = rest[:n]
    else:
        while True:
            try:
                chunk = s.recv(65536)
            except (ssl.SSLError, ConnectionResetError):
                break
            if not chunk:
                break
            rest += chunk
        resp.body = rest
    return resp


# ---------------------------------------------------------------------------------------------------
class FakeUpstream:
    """A misbehaving TLS upstream on a loopback port, for failure scenarios. For every connection it
    reads one request (head and Content-Length body), then acts by `mode`:
      "truncate": 200 with Content-Length 100 and only part of the body, then closes
      "garbage":  a response line that is not HTTP, then closes
      "close":    closes without answering
      "silent":   never answers (keeps the connection open until stop())
      "slow":     answers 200 with a small JSON body after `delay` seconds
      "held":     answers 200 with a small JSON body once the test calls release.set()
      "ok":       answers 200 {"Item": {}} at once (Connection: close)
      "reset":    200 with Content-Length 100 and part of the body, then a TCP reset (SO_LINGER 0)
      "stall":    200 with Content-Length 100 and part of the body, then nothing (held until stop())
    `mode` may also be a function of the request body returning one of these, per request.
    """

    def __init__(self, cert, key, mode, delay=1.5):
        import threading
        self.mode = mode
        self.delay = delay
        self.release = threading.Event()  # "held" mode answers when this is set
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self.held = []
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "https://localhost:%d" % self.port

    def _serve(self):
        import threading
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(c,), daemon=True).start()

    def _handle(self, c):
        try:
            c.settimeout(10)
            s = self.ctx.wrap_socket(c, server_side=True)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, _, body = buf.partition(b"\r\n\r\n")
            n = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v)
            while len(body) < n:
                chunk = s.recv(65536)
                if not chunk:
                    return
                body += chunk
            self.requests += 1
            mode = self.mode(body) if callable(self.mode) else self.mode
            partial = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
                       b"x-amzn-RequestId: FAKE\r\nContent-Length: 100\r\n\r\n{\"Item\": {\"pk\"")
            if mode == "ok":
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
                          b"x-amzn-RequestId: OK\r\nConnection: close\r\nContent-Length: 11\r\n\r\n"
                          b"{\"Item\":{}}")
            if mode == "reset":
                import struct
                s.sendall(partial)
                time.sleep(0.2)  # the partial response is relayed before the reset
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()  # the fd, without a TLS close_notify: the kernel sends RST
                return
            if mode == "stall":
                s.sendall(partial)
                self.held.append(s)
                return
            if mode == "truncate":
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
                          b"x-amzn-RequestId: FAKE\r\nContent-Length: 100\r\n\r\n{\"Item\": {\"pk\"")
            elif mode == "garbage":
                s.sendall(b"SPDY/9 700 What\r\n\r\n")
            elif mode == "silent":
                self.held.append(s)
                return
            elif mode in ("slow", "held"):
                if mode == "slow":
                    time.sleep(self.delay)
                else:
                    self.release.wait(RECORD_TIMEOUT)
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
                          b"x-amzn-RequestId: SLOW\r\nContent-Length: 2\r\n\r\n{}")
            s.close()
        except (OSError, ssl.SSLError):
            pass

    def stop(self):
        self.stopping = True
        self.sock.close()
        for s in self.held:
            try:
                s.close()
            except OSError:
                pass

"""Local stand-ins for what the credential broker talks to (issue 12), Python stdlib only:

- Imds: EC2 instance metadata, IMDSv2 only (PUT /latest/api/token, then GETs with the token header);
- Sts: sts:AssumeRole over TLS; verifies the request's SigV4 signature (service "sts") with credentials it was
  told about, issues session credentials with a short, configurable lifetime and remembers them;
- VerifyingUpstream: a TLS server in front of dynalite that recomputes every request's SigV4 signature
  (service "dynamodb") with the credentials the gateway should sign with (a Keyring) and refuses any call whose
  signature, session token or expiry is wrong; accepted calls are forwarded to dynalite.

The SigV4 code here is written independently of ddbguard's (from the AWS General Reference), so a shared
misreading would not go unnoticed. Everything listens on 127.0.0.1 only.
"""
import datetime
import hashlib
import hmac
import http.client
import json
import secrets
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_check(method, headers, body, authz, secret, region, service, now=None, skew=900):
    """Returns None if `authz` (an Authorization value) is a valid SigV4 signature of the request by `secret`,
    else a reason. `headers` is a list of (name, value) as received."""
    try:
        alg, rest = authz.split(" ", 1)
        params = dict(p.strip().split("=", 1) for p in rest.split(","))
        akid, date, reg, svc, term = params["Credential"].split("/")
        signed = params["SignedHeaders"].split(";")
        sig = params["Signature"]
    except (ValueError, KeyError):
        return "malformed Authorization"
    if alg != "AWS4-HMAC-SHA256" or term != "aws4_request":
        return "not SigV4"
    if reg != region or svc != service:
        return "scope %s/%s, expected %s/%s" % (reg, svc, region, service)
    if "host" not in signed or "x-amz-date" not in signed:
        return "host and x-amz-date must be signed"
    by_name = {}
    for k, v in headers:
        by_name.setdefault(k.lower(), []).append(" ".join(v.strip().split()))
    if any(h not in by_name for h in signed):
        return "a signed header is missing"
    amz_date = by_name["x-amz-date"][0]
    t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    if abs((now or time.time()) - t.timestamp()) > skew or amz_date[:8] != date:
        return "stale or mismatched date"
    creq = "\n".join([method, "/", "", "".join("%s:%s\n" % (h, ",".join(by_name[h])) for h in signed),
                      ";".join(signed), hashlib.sha256(body).hexdigest()])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, "%s/%s/%s/aws4_request" % (date, reg, svc),
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = _hmac(("AWS4" + secret).encode(), date)
    for part in (reg, svc, "aws4_request"):
        k = _hmac(k, part)
    if not hmac.compare_digest(hmac.new(k, sts.encode(), hashlib.sha256).hexdigest(), sig):
        return "signature mismatch"
    return None


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Keyring:
    """Credentials that may sign: akid -> (secret, token or None, expiry epoch or None, who)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.keys = {}

    def add(self, akid, secret, token=None, expiry=None, who=""):
        with self.lock:
            self.keys[akid] = (secret, token, expiry, who)

    def get(self, akid):
        with self.lock:
            return self.keys.get(akid)

    def secrets(self):
        with self.lock:
            return [s for s, t, _, _ in self.keys.values()] + [t for _, t, _, _ in self.keys.values() if t]


def _authorize(keyring, method, headers, body, region, service):
    authz = dict((k.lower(), v) for k, v in headers).get("authorization")
    if authz is None:
        return None, "no Authorization"
    akid = authz.split("Credential=", 1)[-1].split("/", 1)[0]
    entry = keyring.get(akid)
    if entry is None:
        return akid, "unknown access key %s" % akid
    secret, token, expiry, who = entry
    sent_token = dict((k.lower(), v) for k, v in headers).get("x-amz-security-token")
    if token != sent_token:
        return akid, "session token missing or wrong"
    if expiry is not None and time.time() > expiry:
        return akid, "credentials expired"
    why = sigv4_check(method, headers, body, authz, secret, region, service)
    return akid, why


class _Server:
    def __init__(self, handler_cls, tls_cert=None, tls_key=None):
        outer = self

        class H(handler_cls):
            server_obj = outer

            def log_message(self, *a):
                pass
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        if tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls_cert), str(tls_key))
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _Base(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def reply(self, status, body, ctype="text/plain", extra=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


class Imds(_Server):
    """IMDSv2: tokens from PUT, credentials for one role, rotated every `lifetime` seconds."""

    ROLE = "gateway-instance-role"

    def __init__(self, keyring, lifetime=3600):
        self.keyring, self.lifetime = keyring, lifetime
        self.tokens = set()
        self.token_puts = 0
        self.cred_gets = 0
        self.v1_attempts = 0
        self.current = None
        super().__init__(self._handler())

    def _creds(self):
        now = time.time()
        if self.current is None or now > self.current["exp"] - self.lifetime / 2:
            akid = "ASIAIMDS%012d" % (self.cred_gets + 1)
            self.current = {"akid": akid, "secret": secrets.token_urlsafe(30), "token": secrets.token_urlsafe(60),
                            "exp": now + self.lifetime}
            self.keyring.add(akid, self.current["secret"], self.current["token"], self.current["exp"], "imds")
        return self.current

    def _handler(self):
        imds = self

        class H(_Base):
            def do_PUT(self):
                self.body()
                if self.path != "/latest/api/token" or not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self.reply(400, "bad token request")
                tok = secrets.token_urlsafe(24)
                imds.tokens.add(tok)
                imds.token_puts += 1
                self.reply(200, tok)

            def do_GET(self):
                if self.headers.get("X-aws-ec2-metadata-token") not in imds.tokens:
                    imds.v1_attempts += 1
                    return self.reply(401, "")
                base = "/latest/meta-data/iam/security-credentials/"
                if self.path == base:
                    return self.reply(200, Imds.ROLE)
                if self.path == base + Imds.ROLE:
                    imds.cred_gets += 1
                    c = imds._creds()
                    return self.reply(200, json.dumps({
                        "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": c["akid"],
                        "SecretAccessKey": c["secret"], "Token": c["token"], "Expiration": iso(c["exp"]),
                        "LastUpdated": iso(time.time())}), "application/json")
                self.reply(404, "")
        return H

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port


class Sts(_Server):
    """sts:AssumeRole over TLS. Every request must be signed (service sts) by a key in `keyring`; issued session
    credentials last `lifetime` seconds and are added to `keyring` so the upstream accepts them."""

    def __init__(self, keyring, cert, key, account, lifetime=3600, region="us-east-1"):
        self.keyring, self.lifetime, self.account, self.region = keyring, lifetime, account, region
        self.calls = []  # (RoleArn, RoleSessionName, tags, signer akid)
        self.refused = []
        self.lock = threading.Lock()
        super().__init__(self._handler(), cert, key)

    def _handler(self):
        sts = self

        class H(_Base):
            def do_POST(self):
                body = self.body()
                akid, why = _authorize(sts.keyring, "POST", list(self.headers.items()), body, sts.region, "sts")
                form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
                one = {k: v[0] for k, v in form.items()}
                if why is None and (one.get("Action") != "AssumeRole" or one.get("Version") != "2011-06-15"):
                    why = "not AssumeRole"
                if why is not None:
                    with sts.lock:
                        sts.refused.append((akid, why))
                    return self.reply(403, "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code>"
                                      "<Message>%s</Message></Error></ErrorResponse>" % why, "text/xml")
                tags = {}
                i = 1
                while "Tags.member.%d.Key" % i in one:
                    tags[one["Tags.member.%d.Key" % i]] = one.get("Tags.member.%d.Value" % i, "")
                    i += 1
                role, session = one["RoleArn"], one["RoleSessionName"]
                with sts.lock:
                    sts.calls.append((role, session, tags, akid, one.get("DurationSeconds")))
                    n = len(sts.calls)
                new = "ASIASTS%013d" % n
                secret, token, exp = secrets.token_urlsafe(30), secrets.token_urlsafe(80), time.time() + sts.lifetime
                arn = "arn:aws:sts::%s:assumed-role/%s/%s" % (sts.account, role.rsplit("/", 1)[1], session)
                sts.keyring.add(new, secret, token, exp, arn)
                self.reply(200, (
                    '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
                    "<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>"
                    "<SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>"
                    "<AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:%s</AssumedRoleId><Arn>%s</Arn></AssumedRoleUser>"
                    "</AssumeRoleResult><ResponseMetadata><RequestId>r-%d</RequestId></ResponseMetadata>"
                    "</AssumeRoleResponse>") % (new, secret, token, iso(exp), session, arn, n), "text/xml")
        return H

    @property
    def url(self):
        return "https://localhost:%d" % self.port


class VerifyingUpstream(_Server):
    """Refuses (400 InvalidSignatureException) any call not signed by a key of `keyring` for dynamodb in
    `region`; forwards the others to dynalite and relays its answer."""

    def __init__(self, keyring, cert, key, dynalite_port, ca, region="us-east-1"):
        self.keyring, self.region, self.dynalite_port, self.ca = keyring, region, dynalite_port, str(ca)
        self.accepted = []  # (akid, X-Amz-Target)
        self.refused = []   # (akid, why)
        self.lock = threading.Lock()
        super().__init__(self._handler(), cert, key)

    def _handler(self):
        up = self

        class H(_Base):
            def do_POST(self):
                body = self.body()
                headers = list(self.headers.items())
                akid, why = _authorize(up.keyring, "POST", headers, body, up.region, "dynamodb")
                target = self.headers.get("X-Amz-Target", "")
                if why is not None:
                    with up.lock:
                        up.refused.append((akid, why))
                    return self.reply(400, json.dumps({
                        "__type": "com.amazon.coral.service#InvalidSignatureException", "message": why}),
                        "application/x-amz-json-1.0")
                with up.lock:
                    up.accepted.append((akid, target))
                ctx = ssl.create_default_context(cafile=up.ca)
                c = http.client.HTTPSConnection("localhost", up.dynalite_port, context=ctx, timeout=10)
                fwd = {k: v for k, v in headers if k.lower() in ("content-type", "x-amz-target", "authorization",
                                                                   "x-amz-date")}
                c.request("POST", "/", body=body, headers=fwd)
                r = c.getresponse()
                data = r.read()
                extra = [(k, v) for k, v in r.getheaders() if k.lower() in ("x-amzn-requestid", "x-amz-crc32")]
                c.close()
                self.reply(r.status, data, r.getheader("Content-Type", "application/x-amz-json-1.0"), extra)
        return H

    @property
    def url(self):
        return "https://localhost:%d" % self.port

#!/usr/bin/python3
"""How long one worst-case 16 MiB request body holds up other callers (issue 9). Not a test: it prints.

    /usr/bin/python3 tests/bench/bigbody.py [--rounds 3] [--bin build/ddbguard]

Starts dynalite (TLS, loopback) and ddbguard in front of it (limits.max_body_bytes 16 MiB), then for each
body shape: one connection sends the 16 MiB body while another connection runs small GetItem calls back to
back on a keep-alive connection. It reports the big call's answer and time, and the small calls' latency
while the big one was in flight (max and p99) next to the same calls' latency with nothing else going on.
The delay a big body causes is "max during" minus "p50 alone". Machine noise matters: run it on a quiet
machine and compare rows from one run.
"""
import argparse
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
import guardlib  # noqa: E402
from guardlib import ACCOUNT, APP_KEY, REGION, ROOT, SECRET, Dynalite, Guard, free_port, read_response  # noqa: E402

MIB = 1 << 20
SIZE = 16 * MIB


def body_of(prefix, unit, suffix, size=SIZE):
    n = (size - len(prefix) - len(suffix)) // len(unit)
    return prefix + unit * n + suffix


def shapes():
    put = b'{"TableName":"users","Item":{"pk":{"S":"big"},"a":{"L":['
    nest = b'{"M":{"a":' * 13 + b'{"S":""}' + b"}}" * 13
    return {
        # refused by the JSON recognizer (no DynamoDB request has it): nothing is built
        "flat array of tiny numbers": (b'{"TableName":"users","Key":{"pk":{"S":"u1"}},"X":[',
                                       b"0,", b"0]}"),
        # the densest shapes DynamoDB accepts: built whole, inspected, then denied by policy (PutItem is
        # not allowed here, so nothing reaches dynalite and only the gateway's work is measured)
        "list of {\"S\":\"\"} (16x)": (put, b'{"S":""},', b'{"S":""}]}}}'),
        "deeply nested maps": (put, nest + b",", nest + b"]}}}"),
        "many one-char strings (18x)": (b'{"TableName":"users","Item":{"pk":{"S":"big"},"a":{"SS":[',
                                        b'"a",', b'"a"]}}}'),
    }


def tls_conn(port, ca, timeout=60):
    ctx = ssl.create_default_context(cafile=ca)
    tcp = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(tcp, server_hostname="localhost")


def small_calls(g, stop, lat):
    """GetItem back to back on one keep-alive connection until stop is set; appends latencies (s)."""
    head, body = g.request_bytes("GetItem", b'{"TableName":"users","Key":{"pk":{"S":"u1"}}}')
    with tls_conn(g.port, g.ca) as s:
        while not stop.is_set():
            t0 = time.perf_counter()
            s.sendall(head + body)
            r = read_response(s)
            lat.append(time.perf_counter() - t0)
            assert r.status == 200, r


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bin", default=str(ROOT / "build" / "ddbguard"))
    args = ap.parse_args()
    guardlib.DDBGUARD_BIN = Path(args.bin)
    work = Path(tempfile.mkdtemp(prefix="ddbguard-bigbody-"))
    subprocess.run([str(ROOT / "certs" / "mkcerts.sh"), str(work / "certs")], check=True, capture_output=True)
    crt, key, ca = work / "certs" / "server.crt", work / "certs" / "server.key", work / "certs" / "ca.crt"
    dyn = Dynalite(work, crt, key).start()
    g = None
    try:
        import boto3
        direct = boto3.client("dynamodb", endpoint_url=dyn.url, region_name=REGION, verify=str(ca),
                              aws_access_key_id="AKIADIRECT0000000001", aws_secret_access_key=SECRET)
        direct.create_table(TableName="users", BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        direct.put_item(TableName="users", Item={"pk": {"S": "u1"}})
        cfg = {
            "account_id": ACCOUNT,
            "listeners": [{"name": "main", "address": "127.0.0.1", "port": free_port(),
                           "tls": {"cert": str(crt), "key": str(key)}}],
            # idle upstream connections closed before node's 5 s keep-alive timeout closes them
            "upstream": {"dynamodb": dyn.url, "region": REGION, "ca_file": str(ca),
                         "response_timeout_ms": 60000, "idle_timeout_ms": 2000},
            "limits": {"max_body_bytes": SIZE + MIB, "request_timeout_ms": 120000},
            "access_log": {"path": str(work / "access.log")},
            "policies": {"p": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": "*"}]}},
            "identities": [{"name": "app", "access_key_ids": [APP_KEY], "policies": ["p"]}],
        }
        g = Guard(work, "guard", cfg, ca).start()
        print("ddbguard %s, body %d MiB, %d rounds per shape" % (args.bin, SIZE // MIB, args.rounds))
        alone = []
        stop = threading.Event()
        t = threading.Thread(target=small_calls, args=(g, stop, alone))
        t.start()
        time.sleep(3)
        stop.set()
        t.join()
        print("small GetItem alone: %d calls, p50 %.2f ms, p99 %.2f ms, max %.2f ms" % (
            len(alone), pct(alone, .5) * 1e3, pct(alone, .99) * 1e3, max(alone) * 1e3))
        print("%-30s %6s %9s %9s %9s %9s" % ("shape", "status", "big ms", "p99 ms", "max ms", "calls"))
        for name, (prefix, unit, suffix) in shapes().items():
            body = body_of(prefix, unit, suffix)
            head, body = g.request_bytes("PutItem", body)
            for _ in range(args.rounds):
                lat, stop = [], threading.Event()
                t = threading.Thread(target=small_calls, args=(g, stop, lat))
                t.start()
                time.sleep(0.5)
                n0 = len(lat)
                t0 = time.perf_counter()
                with tls_conn(g.port, g.ca) as s:
                    s.sendall(head + body)
                    r = read_response(s)
                big = time.perf_counter() - t0
                during = lat[n0:]
                stop.set()
                t.join()
                print("%-30s %6d %9.1f %9.2f %9.2f %9d" % (name, r.status, big * 1e3, pct(during, .99) * 1e3,
                                                          max(during, default=float("nan")) * 1e3, len(during)))
        rss = int(next(line.split()[1] for line in open("/proc/%d/status" % g.proc.pid)
                       if line.startswith("VmHWM")))
        print("ddbguard peak RSS (VmHWM): %.0f MiB" % (rss / 1024))
        # CPU by thread: the event loop's share vs the parse thread's (proxy/offload.c)
        tick = os.sysconf("SC_CLK_TCK")
        for tid in sorted(os.listdir("/proc/%d/task" % g.proc.pid)):
            stat = open("/proc/%d/task/%s/stat" % (g.proc.pid, tid)).read()
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            f = stat[stat.rindex(")") + 2:].split()
            print("thread %-16s cpu %.2f s" % (name, (int(f[11]) + int(f[12])) / tick))
    finally:
        if g:
            g.stop()
        dyn.stop()


if __name__ == "__main__":
    main()

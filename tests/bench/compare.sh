#!/usr/bin/env bash
# tests/bench/compare.sh [tls|http|both]
#
# Runs ddbguard side by side with nginx and HAProxy on the same loopback load
# (tests/bench/harness: wrk -t1 -c32, one worker per proxy, a GetItem-shaped POST,
# an nginx stub upstream on 127.0.0.1:18000) and prints req/s, p50, p99 and
# CPU-us/request for every proxy, then ddbguard's ratios to each.
#
# ddbguard runs with the same policy work it does in production: it parses
# the request, resolves identity, parses and inspects the JSON body,
# evaluates policy, forwards, and writes one access-log record per call
# (to a file, like the nginx and HAProxy rows).
#
# Env: DURATION, ROUNDS, CONNS (passed to the harness), BENCH_WORK (work dir),
#      DDBGUARD (binary, default build/ddbguard).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HARNESS="$ROOT/tests/bench/harness"   # copied in; see its PROVENANCE.txt
MODE="${1:-both}"
DDBGUARD="${DDBGUARD:-$ROOT/build/ddbguard}"
case "$MODE" in tls|http|both) ;; *) echo "usage: $0 [tls|http|both]"; exit 2;; esac
[[ -x "$HARNESS/compare.sh" ]] || { echo "benchmark harness not found at $HARNESS"; exit 2; }
for t in nginx haproxy wrk curl; do
  command -v "$t" >/dev/null || { echo "missing $t: apt-get install nginx haproxy wrk curl"; exit 2; }
done
if [[ ! -x "$DDBGUARD" ]]; then
  (cd "$ROOT" && { [[ -d build ]] || meson setup build; } && ninja -C build) || exit 2
fi

WORK="${BENCH_WORK:-$(mktemp -d -t ddbguard-bench.XXXXXX)}"
mkdir -p "$WORK/ddbguard"
"$HARNESS/gen-cert.sh" "$WORK/ddbguard/certs" >/dev/null || exit 2
CERTDIR="$WORK/ddbguard/certs"
CONF="$WORK/ddbguard/ddbguard.json"
cat > "$CONF" <<JSON
{
  "account_id": "123456789012",
  "listeners": [
    { "name": "bench-http", "address": "127.0.0.1", "port": 18090 },
    { "name": "bench-tls", "address": "127.0.0.1", "port": 18453,
      "tls": { "cert": "$CERTDIR/server.crt", "key": "$CERTDIR/server.key" } }
  ],
  "upstream": { "dynamodb": "http://127.0.0.1:18000", "region": "us-east-1", "max_idle_connections": 128 },
  "access_log": { "path": "$WORK/ddbguard/access.log" },
  "policies": {
    "orders-read": { "Version": "2012-10-17", "Statement": [
      { "Sid": "ReadOrders", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
        "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/orders" },
      { "Sid": "NoExport", "Effect": "Deny", "Action": "dynamodb:ExportTableToPointInTime", "Resource": "*" } ] }
  },
  "identities": [ { "name": "bench", "access_key_ids": ["AKIDEXAMPLE"], "policies": ["orders-read"] } ]
}
JSON
[[ -s "$CERTDIR/server.crt" ]] || { echo "unexpected cert names in $CERTDIR: $(ls "$CERTDIR")"; exit 2; }

"$DDBGUARD" $([[ $(id -u) == 0 ]] && echo --allow-root) -c "$CONF" 2>"$WORK/ddbguard/stderr.log" & DG_PID=$!
trap 'kill -TERM $DG_PID 2>/dev/null; wait $DG_PID 2>/dev/null' EXIT
for _ in $(seq 50); do ss -Hltn "sport = :18453" | grep -q . && break; sleep 0.1; done
kill -0 $DG_PID 2>/dev/null || { echo "ddbguard did not start:"; cat "$WORK/ddbguard/stderr.log"; exit 1; }

run_one() {  # $1 = name, $2 = url
  local out="$WORK/compare-$1.txt"
  BENCH_WORK="$WORK/harness-$1" EXTRA_NAME="$1" EXTRA_PIDS="$DG_PID" \
    "$HARNESS/compare.sh" "$2" | tee "$out"
  ratios "$1" "$out"
}

# Ratios from the harness table (target req/s per-round spread p50 p99 rps/dir p50x p99x CPU errs bg%):
# ddbguard against nginx and HAProxy on the same scheme. req/s above 1 and CPU below 1 favour ddbguard.
ratios() {
  local name="$1" file="$2" scheme
  [[ "$name" == *tls* ]] && scheme=tls || scheme=http
  awk -v me="$name" -v scheme="$scheme" '
    $1 == me || $1 == "nginx-" scheme || $1 == "haproxy-" scheme {
      rps[$1] = $2; p50[$1] = $5; p99[$1] = $6; cpu[$1] = $10; seen[$1] = 1 }
    END {
      if (!(me in seen)) { print "no result row for " me; exit 1 }
      printf "\n== %s ratios (req/s: higher is better; p50, p99, CPU-us/req: lower is better)\n", me
      for (o in seen) if (o != me && rps[o] > 0)
        printf "   vs %-13s req/s x%.2f   p50 x%.2f   p99 x%.2f   CPU-us/req x%.2f\n", o,
          rps[me] / rps[o], p50[me] / p50[o], p99[me] / p99[o], (cpu[o] > 0 ? cpu[me] / cpu[o] : 0)
    }' "$file"
}

[[ "$MODE" == http || "$MODE" == both ]] && run_one ddbguard-http http://127.0.0.1:18090/
[[ "$MODE" == tls || "$MODE" == both ]] && run_one ddbguard-tls https://127.0.0.1:18453/
echo "== ddbguard access log: $(wc -l < "$WORK/ddbguard/access.log") records in $WORK/ddbguard/access.log"

#!/usr/bin/env bash
# tests/bench/syscalls.sh [http|tls|both]
#
# System calls per forwarded keep-alive call, counted (not timed), for ddbguard, nginx and HAProxy on the
# same load: the shared harness's stub upstream and proxies (../shared/bench), wrk -t1 -c32 with its
# GetItem POST. For each target, `perf stat -e 'syscalls:sys_enter_*'` is attached to the proxy's
# processes (every thread) while wrk runs; the counts are divided by the requests wrk completed. Counts do
# not move with machine load the way req/s does, so one short run per target is enough.
#
# Prints one row per target (total syscalls per call) and the per-syscall breakdown (>= 0.05 per call).
# Env: DURATION (default 4 s per target), CONNS (32), SHARED (../shared), DDBGUARD (build-release/ddbguard,
#      built with --buildtype=release if missing), BENCH_WORK (work dir), WORKERS (ddbguard "workers", if set).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
MODE="${1:-both}"
DURATION="${DURATION:-4}"
CONNS="${CONNS:-32}"
DDBGUARD="${DDBGUARD:-$ROOT/build-release/ddbguard}"
case "$MODE" in tls|http|both) ;; *) echo "usage: $0 [http|tls|both]"; exit 2;; esac
for t in nginx haproxy wrk perf; do
  command -v "$t" >/dev/null || [[ -x /usr/sbin/$t ]] || { echo "missing $t"; exit 2; }
done
export PATH="$PATH:/usr/sbin"
[[ -x "$SHARED/bench/run.sh" ]] || { echo "benchmark harness not found at $SHARED/bench"; exit 2; }
if [[ ! -x "$DDBGUARD" ]]; then
  (cd "$ROOT" && { [[ -d build-release ]] || meson setup build-release --buildtype=release -Dtests=disabled; } \
    && ninja -C build-release ddbguard) >/dev/null || exit 2
  DDBGUARD="$ROOT/build-release/ddbguard"
fi

WORK="${BENCH_WORK:-$(mktemp -d -t ddbguard-syscalls.XXXXXX)}"
mkdir -p "$WORK/conf" "$WORK/run/logs" "$WORK/run/stub" "$WORK/run/nginx-proxy" "$WORK/ddbguard" || exit 2
for f in stub-nginx.conf proxy-nginx.conf haproxy.cfg; do
  sed "s|@WORK@|$WORK|g" "$SHARED/bench/conf/$f" > "$WORK/conf/$f" || exit 2
done
"$SHARED/bench/gen-cert.sh" "$WORK/certs" >/dev/null || exit 2
CERTDIR="$WORK/certs"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done; }
trap cleanup EXIT INT TERM

cat > "$WORK/ddbguard/ddbguard.json" <<JSON
{
  "account_id": "123456789012",
  "listeners": [
    { "name": "bench-http", "address": "127.0.0.1", "port": 18090 },
    { "name": "bench-tls", "address": "127.0.0.1", "port": 18453,
      "tls": { "cert": "$CERTDIR/server.crt", "key": "$CERTDIR/server.key" } }
  ],
  ${WORKERS:+"workers": $WORKERS,}
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

nginx -p "$WORK/" -e "$WORK/run/logs/stub.error.log" -c "$WORK/conf/stub-nginx.conf" & PIDS+=($!)
nginx -p "$WORK/" -e "$WORK/run/logs/nginx-proxy.error.log" -c "$WORK/conf/proxy-nginx.conf" & NGX=$!; PIDS+=($NGX)
haproxy -db -f "$WORK/conf/haproxy.cfg" >>"$WORK/run/logs/haproxy.access.log" 2>"$WORK/run/logs/haproxy.error.log" &
HAP=$!; PIDS+=($HAP)
"$DDBGUARD" -c "$WORK/ddbguard/ddbguard.json" 2>"$WORK/ddbguard/stderr.log" & DG=$!; PIDS+=($DG)
for port in 18000 18080 18443 18081 18444 18090 18453; do
  for _ in $(seq 100); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.05; done
done
kill -0 $DG 2>/dev/null || { echo "ddbguard did not start:"; cat "$WORK/ddbguard/stderr.log"; exit 1; }

# The processes to count: the proxy and its children (nginx's worker).
pids_of() { local p=$1; echo "$p $(pgrep -P "$p" | tr '\n' ' ')"; }

count() {  # $1 name, $2 url, $3 pid
  local name=$1 url=$2 pids out perfout reqs
  pids="$(pids_of "$3" | xargs | tr ' ' ',')"
  "$SHARED/bench/run.sh" "$url" 1 "$CONNS" >/dev/null 2>&1  # warm-up: connections, pools, TLS handshakes
  perfout="$WORK/perf-$name.txt"
  # perf counts the proxy's threads for exactly as long as the wrk run lasts.
  out="$(perf stat -x, -e 'syscalls:sys_enter_*' -p "$pids" -o "$perfout" -- \
    "$SHARED/bench/run.sh" "$url" "$DURATION" "$CONNS" 2>&1)"
  reqs="$(grep -oE 'requests=[0-9]+' <<<"$out" | head -1 | cut -d= -f2)"
  [[ -n "$reqs" && "$reqs" -gt 0 ]] || { echo "$name: no requests: $out"; return; }
  awk -F, -v name="$name" -v reqs="$reqs" '
    $3 ~ /syscalls:sys_enter_/ && $1 ~ /^[0-9]+$/ && $1 > 0 {
      sc = $3; sub(/syscalls:sys_enter_/, "", sc); n[sc] = $1; total += $1 }
    END {
      printf "%-14s %8.2f syscalls/call  (%d calls)  ", name, total / reqs, reqs
      for (s in n) if (n[s] / reqs >= 0.05) printf " %s=%.2f", s, n[s] / reqs
      printf "\n" }' "$perfout"
}

echo "== syscalls per forwarded keep-alive call (perf stat, wrk -t1 -c$CONNS, ${DURATION}s per target)"
if [[ "$MODE" != tls ]]; then
  count ddbguard-http http://127.0.0.1:18090/ $DG
  count nginx-http http://127.0.0.1:18080/ $NGX
  count haproxy-http http://127.0.0.1:18081/ $HAP
fi
if [[ "$MODE" != http ]]; then
  count ddbguard-tls https://127.0.0.1:18453/ $DG
  count nginx-tls https://127.0.0.1:18443/ $NGX
  count haproxy-tls https://127.0.0.1:18444/ $HAP
fi
echo "== work dir: $WORK"

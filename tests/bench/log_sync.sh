#!/usr/bin/env bash
# tests/bench/log_sync.sh: what access_log.sync costs.
#
# Runs three ddbguard instances (plain HTTP, one worker each) that differ only in access_log.sync
# ("none", "interval", "every_call"), in front of the harness's nginx stub upstream (tests/bench/harness,
# 127.0.0.1:18000), and measures them in turns (ABCABC...) with the harness's wrk run (-t1, CONNS
# connections, keep-alive GetItem POST): req/s, p50, p99, CPU us per request (ddbguard's user+sys from
# /proc), and from each instance's own count at exit, records per fdatasync (group commit).
# Loopback only. Env: DURATION (s, default 8), ROUNDS (default 2), CONNS (default 32),
# DDBGUARD (default build/ddbguard), BENCH_WORK.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HARNESS="$ROOT/tests/bench/harness"   # copied in; see its PROVENANCE.txt
DDBGUARD="${DDBGUARD:-$ROOT/build/ddbguard}"
DURATION="${DURATION:-8}"; ROUNDS="${ROUNDS:-2}"; CONNS="${CONNS:-32}"
for t in nginx wrk; do command -v "$t" >/dev/null || { echo "missing $t: apt-get install nginx wrk"; exit 2; }; done
[[ -x "$HARNESS/run.sh" ]] || { echo "benchmark harness not found at $HARNESS"; exit 2; }
[[ -x "$DDBGUARD" ]] || { echo "build ddbguard first ($DDBGUARD)"; exit 2; }
WORK="${BENCH_WORK:-$(mktemp -d -t ddbguard-logsync.XXXXXX)}"
mkdir -p "$WORK/conf" "$WORK/run/logs" "$WORK/run/stub"
sed "s|@WORK@|$WORK|g" "$HARNESS/conf/stub-nginx.conf" > "$WORK/conf/stub-nginx.conf"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done; }
trap cleanup EXIT INT TERM
nginx -p "$WORK/" -e "$WORK/run/logs/stub.error.log" -c "$WORK/conf/stub-nginx.conf" & PIDS+=($!)

MODES=(none interval every_call)
declare -A PORT PID
port=18190
for m in "${MODES[@]}"; do
  PORT[$m]=$port
  cat > "$WORK/$m.json" <<JSON
{
  "account_id": "123456789012",
  "listeners": [ { "name": "bench-$m", "address": "127.0.0.1", "port": $port } ],
  "upstream": { "dynamodb": "http://127.0.0.1:18000", "region": "us-east-1", "max_idle_connections": 128 },
  "access_log": { "path": "$WORK/$m.access.log", "sync": "$m" },
  "policies": {
    "orders-read": { "Version": "2012-10-17", "Statement": [
      { "Sid": "ReadOrders", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
        "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/orders" } ] }
  },
  "identities": [ { "name": "bench", "access_key_ids": ["AKIDEXAMPLE"], "policies": ["orders-read"] } ]
}
JSON
  "$DDBGUARD" -c "$WORK/$m.json" 2>"$WORK/$m.stderr" & PID[$m]=$!; PIDS+=(${PID[$m]})
  port=$((port + 1))
done
for m in "${MODES[@]}"; do
  for _ in $(seq 50); do ss -Hltn "sport = :${PORT[$m]}" | grep -q . && break; sleep 0.1; done
done
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime, clock ticks
TCK=$(getconf CLK_TCK)
declare -A RPS P50 P99 CPU N
for r in $(seq "$ROUNDS"); do
  for m in "${MODES[@]}"; do
    c0=$(cpu "${PID[$m]}")
    res=$("$HARNESS/run.sh" "http://127.0.0.1:${PORT[$m]}/" "$DURATION" "$CONNS" | grep '^RESULT ')
    c1=$(cpu "${PID[$m]}")
    get() { sed -E "s/.*[ ]$1=([^ ]+).*/\1/" <<<"$res"; }
    reqs=$(get requests)
    RPS[$m]="${RPS[$m]:-} $(get rps)"; P50[$m]="${P50[$m]:-} $(get p50_us)"; P99[$m]="${P99[$m]:-} $(get p99_us)"
    CPU[$m]="${CPU[$m]:-} $(awk -v c=$((c1 - c0)) -v t="$TCK" -v n="$reqs" 'BEGIN{printf "%.1f", c / t * 1e6 / n}')"
    echo "round $r $m: $(get rps) req/s"
  done
done
for m in "${MODES[@]}"; do kill -TERM "${PID[$m]}"; wait "${PID[$m]}" 2>/dev/null; done
mean() { awk '{s=0; for(i=1;i<=NF;i++) s+=$i; printf "%.1f", s/NF}' <<<"$1"; }
echo
printf '%-11s %9s %8s %8s %10s %18s %16s\n' sync req/s p50_ms p99_ms CPU_us/req records/fdatasync records/wake-up
for m in "${MODES[@]}"; do
  line=$(grep -o '[0-9]* records, [0-9]* fdatasync, [0-9]* writer wake-ups' "$WORK/$m.stderr" | tail -1)
  recs=$(awk '{print $1}' <<<"$line"); syncs=$(awk '{print $3}' <<<"$line"); wakes=$(awk '{print $5}' <<<"$line")
  printf '%-11s %9.0f %8.3f %8.3f %10s %18s %16s\n' "$m" "$(mean "${RPS[$m]}")" \
    "$(awk "BEGIN{print $(mean "${P50[$m]}")/1000}")" "$(awk "BEGIN{print $(mean "${P99[$m]}")/1000}")" \
    "$(mean "${CPU[$m]}")" "$( [[ "${syncs:-0}" -gt 0 ]] && awk "BEGIN{printf \"%.1f\", $recs/$syncs}" || echo "-")" \
    "$( [[ "${wakes:-0}" -gt 0 ]] && awk "BEGIN{printf \"%.1f\", $recs/$wakes}" || echo "-")"
done
echo "(work dir: $WORK)"

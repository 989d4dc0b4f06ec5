#!/usr/bin/env bash
# tests/bench/egress.sh [N]
#
# What an egress tunnel's TLS handshake costs ddbguard, on loopback, with no upstream at all: N sequential
#   openssl s_client -proxy 127.0.0.1:P -connect NAME:443 -servername NAME -CAfile gateway-ca.crt </dev/null
# each of which must end with "Verify return code: 0 (ok)", for
#   warm  the same allowed name N times (its certificate minted once, before the loop), and
#   cold  N distinct allowed names vpce-<i>.dynamodb.us-east-1.vpce.amazonaws.com, each minted on first use
#         (route set-up, certificate signing, a new SSL_CTX),
# and reports ddbguard's CPU per handshake from /proc/<pid>/stat (utime+stime, CLK_TCK ticks) and, where the
# kernel has it, /proc/<pid>/schedstat (nanoseconds; CLK_TCK ticks are 10 ms, coarse against ~100 ms totals).
# mint overhead = cold - warm. A warm CONNECT also includes parsing the CONNECT request and writing 200.
#
# If nginx is installed, the same warm loop runs against nginx (master_process off: one process does the
# work) terminating TLS on loopback with a P-256 certificate for the same name from the same CA, for a
# side-by-side ratio (nginx is connected to directly, no CONNECT).
#
# Env: DDBGUARD (binary, default build/ddbguard), BENCH_WORK (work dir, default a new temp dir).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DDBGUARD="${DDBGUARD:-$ROOT/build/ddbguard}"
N="${1:-300}"
NAME="dynamodb.us-east-1.amazonaws.com"
[[ "$N" =~ ^[1-9][0-9]*$ && "$N" -le 5000 ]] || { echo "usage: $0 [N (1..5000), default 300]" >&2; exit 2; }
for t in openssl python3; do
	command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }
done
[[ -x "$DDBGUARD" ]] || { echo "$DDBGUARD not found: build it (meson setup build && ninja -C build) or set DDBGUARD" >&2; exit 2; }

WORK="${BENCH_WORK:-$(mktemp -d -t ddbguard-egress-bench.XXXXXX)}"
mkdir -p "$WORK" || exit 2
CLK_TCK="$(getconf CLK_TCK)"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # PORT PID
	local _
	for _ in $(seq 100); do
		kill -0 "$2" 2>/dev/null || return 1
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# CPU of PID so far: "<ticks> <ns>" (ns 0 when schedstat is missing). stat fields after "comm)": utime 12th, stime 13th.
cpu_of() {
	local rest ticks ns=0
	rest="$(sed 's/^.*) //' "/proc/$1/stat")"
	ticks="$(awk '{print $12 + $13}' <<<"$rest")"
	[[ -r "/proc/$1/schedstat" ]] && ns="$(awk '{print $1}' "/proc/$1/schedstat")"
	echo "$ticks $ns"
}

# ---- gateway CA, ddbguard -------------------------------------------------------------------------------
"$ROOT/certs/mkgatewayca.sh" "$WORK/gw" >/dev/null || exit 2
CA="$WORK/gw/gateway-ca.crt"
PORT="$(free_port)"
# VPC endpoint names are tunnelled only when listed: list the N names the cold run mints for.
VPCES="$(for ((i = 0; i < N; i++)); do printf '%s"vpce-%d.dynamodb.us-east-1.vpce.amazonaws.com"' "${i:+,}" "$i"; done)"
VPCES="${VPCES#,}"
cat >"$WORK/ddbguard.json" <<JSON
{
  "account_id": "123456789012",
  "listeners": [ { "name": "egress", "kind": "egress", "address": "127.0.0.1", "port": $PORT } ],
  "upstream": {},
  "egress": { "ca_cert": "$CA", "ca_key": "$WORK/gw/gateway-ca.key", "regions": ["us-east-1"],
              "vpc_endpoints": [ $VPCES ], "max_cached_certs": $((N + 16)) },
  "access_log": { "path": "$WORK/access.log" },
  "policies": { "none": { "Version": "2012-10-17", "Statement": [
    { "Effect": "Deny", "Action": "dynamodb:*", "Resource": "*" } ] } },
  "identities": [ { "name": "default", "policies": ["none"] } ]
}
JSON
"$DDBGUARD" $([[ $(id -u) == 0 ]] && echo --allow-root) -c "$WORK/ddbguard.json" 2>"$WORK/ddbguard.stderr" &
DG=$!
PIDS+=("$DG")
wait_port "$PORT" "$DG" || { echo "ddbguard did not start:"; cat "$WORK/ddbguard.stderr"; exit 1; }

# handshakes LABEL PID CONNECT_ARGS...: N s_client runs; NAMEFN prints the name for run i.
same_name() { echo "$NAME"; }
vpce_name() { echo "vpce-$1.dynamodb.us-east-1.vpce.amazonaws.com"; }
RESULT=()
handshakes() {
	local label="$1" pid="$2" namefn="$3" mode="$4" i name before after t0 t1 ok=0
	read -r -a before <<<"$(cpu_of "$pid")"
	t0="$(date +%s%N)"
	for ((i = 0; i < N; i++)); do
		name="$($namefn "$i")"
		if [[ "$mode" == proxy ]]; then
			set -- -proxy "127.0.0.1:$PORT" -connect "$name:443"
		else
			set -- -connect "127.0.0.1:$NGINX_PORT"
		fi
		openssl s_client "$@" -servername "$name" -CAfile "$CA" -verify_hostname "$name" </dev/null \
			>"$WORK/s_client.out" 2>&1
		grep -q "Verify return code: 0 (ok)" "$WORK/s_client.out" && ok=$((ok + 1))
	done
	t1="$(date +%s%N)"
	read -r -a after <<<"$(cpu_of "$pid")"
	if ((ok != N)); then
		echo "$label: only $ok of $N handshakes verified; last output:" >&2
		cat "$WORK/s_client.out" >&2
		exit 1
	fi
	RESULT=("$label" "$(((after[0] - before[0]) * 1000000 / CLK_TCK / N))"
		"$(((after[1] - before[1]) / 1000 / N))" "$(((t1 - t0) / 1000 / N))")
}

# Mint the warm name's certificate first, then measure.
openssl s_client -proxy "127.0.0.1:$PORT" -connect "$NAME:443" -servername "$NAME" -CAfile "$CA" </dev/null \
	>"$WORK/s_client.out" 2>&1
grep -q "Verify return code: 0 (ok)" "$WORK/s_client.out" || { cat "$WORK/s_client.out"; exit 1; }

ROWS=()
handshakes "ddbguard warm (cached cert)" "$DG" same_name proxy
ROWS+=("${RESULT[@]}")
WARM=("${RESULT[@]}")
handshakes "ddbguard cold (mint per name)" "$DG" vpce_name proxy
ROWS+=("${RESULT[@]}")
COLD=("${RESULT[@]}")
ROWS+=("mint overhead (cold - warm)" "$((COLD[1] - WARM[1]))" "$((COLD[2] - WARM[2]))" "$((COLD[3] - WARM[3]))")

# ---- nginx -----------------------------------------------------------------------------------------------
NGINX="$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null)"
if [[ -n "$NGINX" ]]; then
	NG="$WORK/nginx"
	mkdir -p "$NG/logs"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$NG/leaf.key" 2>/dev/null
	openssl req -new -key "$NG/leaf.key" -subj "/CN=$NAME" -out "$NG/leaf.csr" 2>/dev/null
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n' \
		"$NAME" >"$NG/leaf.ext"
	openssl x509 -req -in "$NG/leaf.csr" -CA "$CA" -CAkey "$WORK/gw/gateway-ca.key" -set_serial 2 -days 2 \
		-extfile "$NG/leaf.ext" -out "$NG/leaf.crt" 2>/dev/null || { echo "cannot sign the nginx cert"; exit 1; }
	NGINX_PORT="$(free_port)"
	cat >"$NG/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $NG/tmp_body;
    proxy_temp_path $NG/tmp_proxy;
    fastcgi_temp_path $NG/tmp_fastcgi;
    uwsgi_temp_path $NG/tmp_uwsgi;
    scgi_temp_path $NG/tmp_scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        server_name $NAME;
        ssl_certificate $NG/leaf.crt;
        ssl_certificate_key $NG/leaf.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { return 200; }
    }
}
CONF
	"$NGINX" -p "$NG" -e "$NG/logs/error.log" -c "$NG/nginx.conf" 2>"$NG/stderr" &
	NX=$!
	PIDS+=("$NX")
	if wait_port "$NGINX_PORT" "$NX"; then
		handshakes "nginx warm (same cert)" "$NX" same_name direct
		ROWS+=("${RESULT[@]}")
		NGX=("${RESULT[@]}")
	else
		echo "nginx did not start: $(cat "$NG/stderr" "$NG/logs/error.log" 2>/dev/null)" >&2
	fi
fi

# ---- report ----------------------------------------------------------------------------------------------
echo "egress handshake cost, N=$N sequential openssl s_client handshakes each, CLK_TCK=$CLK_TCK"
echo "ddbguard: $DDBGUARD ($(openssl version | cut -d' ' -f1-2)); work dir $WORK"
printf '%-32s %18s %22s %16s\n' "case" "CPU us/hs (stat)" "CPU us/hs (schedstat)" "wall us/hs"
for ((i = 0; i < ${#ROWS[@]}; i += 4)); do
	printf '%-32s %18s %22s %16s\n' "${ROWS[i]}" "${ROWS[i + 1]}" "${ROWS[i + 2]}" "${ROWS[i + 3]}"
done
if [[ -n "${NGX[*]:-}" ]] && ((NGX[2] > 0)); then
	awk -v w="${WARM[2]}" -v c="${COLD[2]}" -v n="${NGX[2]}" \
		'BEGIN { printf "ratio ddbguard/nginx (schedstat): warm %.2fx, cold %.2fx\n", w / n, c / n }'
fi
echo "(wall time includes starting an openssl process per handshake)"

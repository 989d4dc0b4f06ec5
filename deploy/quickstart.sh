#!/usr/bin/env bash
# deploy/quickstart.sh — one command from a fresh Debian 12 checkout to a running ddbguard.
#
#   1. installs the missing build and run dependencies (apt, through sudo when not root)
#   2. installs dynalite (a local in-memory DynamoDB) with `npm ci` in deploy/dynalite
#   3. builds ddbguard and ddbguard-log with meson/ninja into build/
#   4. makes development certificates in certs/dev/ (certs/mkcerts.sh)
#   5. starts dynalite over TLS on 127.0.0.1:$DYNALITE_PORT (loopback only)
#   6. starts ddbguard with config/examples/quickstart.json on https://localhost:$DDBGUARD_PORT
#   7. creates the table "demo" through ddbguard and prints aws CLI commands to try
# Ctrl-C stops everything it started. Logs and the rendered config go to run/ (gitignored).
# Re-running it is safe: packages, dynalite, the build and the certificates are only made when missing.
#
# Env: DYNALITE_PORT (default 8000), DDBGUARD_PORT (default 8443), SKIP_INSTALL=1 (no apt/npm),
#      BUILD_DIR (default build/), RUN_DIR (default run/: logs, access log, rendered config).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DYNALITE_PORT="${DYNALITE_PORT:-8000}"
DDBGUARD_PORT="${DDBGUARD_PORT:-8443}"
BUILD="${BUILD_DIR:-$ROOT/build}"
RUN="${RUN_DIR:-$ROOT/run}"
CERTS="$ROOT/certs/dev"
ACCESS_KEY=AKIAQUICKSTART000001   # the "quickstart" identity in config/examples/quickstart.json
ENDPOINT="https://localhost:$DDBGUARD_PORT"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\nquickstart: %s\n' "$*" >&2; exit 1; }

for p in "$DYNALITE_PORT" "$DDBGUARD_PORT"; do
	if ! [[ "$p" =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then die "bad port '$p'"; fi
done
[[ "$DYNALITE_PORT" != "$DDBGUARD_PORT" ]] || die "DYNALITE_PORT and DDBGUARD_PORT must differ"

# ---- 1. packages -------------------------------------------------------------------------------
if [[ "${SKIP_INSTALL:-0}" != 1 ]]; then
	step "checking system packages"
	"$ROOT/deploy/ensure-packages.sh" meson ninja-build pkg-config gcc libevent-dev libssl-dev \
		libcjson-dev libmaxminddb-dev libsqlite3-dev libsystemd-dev openssl awscli python3 iproute2 node ||
		die "could not install the packages above"
fi
AWS=/usr/bin/aws
[[ -x "$AWS" ]] || AWS="$(command -v aws)" || die "no aws CLI found (apt-get install awscli)"
PY=/usr/bin/python3
[[ -x "$PY" ]] || PY="$(command -v python3)" || die "no python3 found"

# ---- 2. dynalite -------------------------------------------------------------------------------
if [[ ! -d "$ROOT/deploy/dynalite/node_modules/dynalite" ]]; then
	[[ "${SKIP_INSTALL:-0}" != 1 ]] || die "deploy/dynalite/node_modules is missing (run npm ci there)"
	step "installing dynalite (npm ci in deploy/dynalite)"
	(cd "$ROOT/deploy/dynalite" && npm ci --no-audit --no-fund) || die "npm ci failed"
fi

# ---- 3. build ----------------------------------------------------------------------------------
step "building ddbguard (meson + ninja in $BUILD)"
if [[ ! -f "$BUILD/build.ninja" ]]; then
	meson setup "$BUILD" "$ROOT" || die "meson setup failed"
fi
ninja -C "$BUILD" ddbguard ddbguard-log || die "build failed"
DDBGUARD="$BUILD/ddbguard"
[[ -x "$DDBGUARD" ]] || die "build did not produce $DDBGUARD"

# ---- 4. certificates ---------------------------------------------------------------------------
step "development certificates in certs/dev/"
"$ROOT/certs/mkcerts.sh" "$CERTS" || die "mkcerts failed"

# ---- 5/6. config, ports ------------------------------------------------------------------------
mkdir -p "$RUN" || die "cannot create $RUN"
RUN="$(cd "$RUN" && pwd)"
CONFIG="$RUN/quickstart.json"
step "rendering config/examples/quickstart.json -> $CONFIG"
# The example's relative paths are relative to config/examples/; the copy gets them absolute, the
# chosen ports, and its access log in $RUN.
"$PY" - "$ROOT/config/examples/quickstart.json" "$CONFIG" "$DYNALITE_PORT" "$DDBGUARD_PORT" \
	"$RUN/access.log" <<'EOF' || die "cannot render the config"
import json, os, sys
src, dst, up_port, port, access_log = sys.argv[1:]
base = os.path.dirname(os.path.abspath(src))
absolute = lambda p: os.path.normpath(os.path.join(base, p))
with open(src) as f:
    cfg = json.load(f)
listener = cfg["listeners"][0]
listener["port"] = int(port)
listener["tls"] = {k: absolute(v) for k, v in listener["tls"].items()}
cfg["upstream"]["dynamodb"] = "https://localhost:%s" % up_port
cfg["upstream"]["ca_file"] = absolute(cfg["upstream"]["ca_file"])
cfg["access_log"] = {"path": access_log}
with open(dst, "w") as f:
    json.dump(cfg, f, indent=2)
    f.write("\n")
EOF
"$DDBGUARD" --check -c "$CONFIG" || die "ddbguard --check rejected $CONFIG"

port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
for p in "$DYNALITE_PORT" "$DDBGUARD_PORT"; do
	port_busy "$p" && die "port $p is already in use; stop what owns it or set DYNALITE_PORT / DDBGUARD_PORT"
done

# ---- process management: PIDs we started, stopped on exit --------------------------------------
PIDS=()
cleanup() {
	trap - EXIT INT TERM
	((${#PIDS[@]})) || return 0
	step "stopping ddbguard and dynalite (PIDs ${PIDS[*]})"
	kill -TERM "${PIDS[@]}" 2>/dev/null
	for _ in $(seq 50); do
		alive=0
		for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		((alive)) || break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null && { echo "PID $p ignored SIGTERM, killing it"; kill -KILL "$p" 2>/dev/null; }
	done
	wait "${PIDS[@]}" 2>/dev/null
	echo "stopped."
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for LOGFILE PID PORT WHAT: until PORT accepts, PID dies, or 15 s pass
wait_for() {
	for _ in $(seq 150); do
		kill -0 "$2" 2>/dev/null || { cat "$1" >&2; die "$4 exited during start-up (log above: $1)"; }
		port_busy "$3" && return 0
		sleep 0.1
	done
	cat "$1" >&2
	die "$4 did not listen on port $3 within 15 s (log: $1)"
}

step "starting dynalite over TLS on https://127.0.0.1:$DYNALITE_PORT (log: $RUN/dynalite.log)"
node "$ROOT/deploy/dynalite/serve.js" --port "$DYNALITE_PORT" \
	--tls-key "$CERTS/server.key" --tls-cert "$CERTS/server.crt" >"$RUN/dynalite.log" 2>&1 &
DYNALITE_PID=$!
PIDS+=("$DYNALITE_PID")
wait_for "$RUN/dynalite.log" "$DYNALITE_PID" "$DYNALITE_PORT" dynalite

step "starting ddbguard on $ENDPOINT (diagnostics: $RUN/ddbguard.log, access log: $RUN/access.log)"
# A development run in the foreground: as root it keeps root (--allow-root); a service drops to its
# own user instead (README, "Running as a service").
ALLOW_ROOT=()
[[ "$(id -u)" == 0 ]] && ALLOW_ROOT=(--allow-root)
"$DDBGUARD" "${ALLOW_ROOT[@]}" -c "$CONFIG" >>"$RUN/ddbguard.log" 2>&1 &
DDBGUARD_PID=$!
PIDS+=("$DDBGUARD_PID")
wait_for "$RUN/ddbguard.log" "$DDBGUARD_PID" "$DDBGUARD_PORT" ddbguard

# ---- 7. demo table, through ddbguard -----------------------------------------------------------
export AWS_CA_BUNDLE="$CERTS/ca.crt" AWS_ACCESS_KEY_ID="$ACCESS_KEY" AWS_SECRET_ACCESS_KEY=quickstart-secret \
	AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
aws_q() { "$AWS" --endpoint-url "$ENDPOINT" --cli-read-timeout 10 --cli-connect-timeout 5 dynamodb "$@"; }

step "creating table 'demo' through ddbguard (CreateTable is allowed for the quickstart identity)"
aws_q create-table --table-name demo \
	--attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
	--key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
	--billing-mode PAY_PER_REQUEST --query 'TableDescription.TableName' --output text >/dev/null ||
	die "create-table through ddbguard failed (see $RUN/ddbguard.log and $RUN/access.log)"
for _ in $(seq 50); do
	[[ "$(aws_q describe-table --table-name demo --query Table.TableStatus --output text 2>/dev/null)" == ACTIVE ]] && break
	sleep 0.2
done
aws_q put-item --table-name demo --item '{"pk":{"S":"user#1"},"sk":{"S":"profile"},"name":{"S":"Ada"}}' ||
	die "put-item through ddbguard failed (see $RUN/access.log)"
echo "table demo is ACTIVE, with one item (pk user#1, sk profile)"

Q="'"
cat <<EOF

$(step "ddbguard is running on $ENDPOINT in front of dynalite on https://127.0.0.1:$DYNALITE_PORT")

In another terminal, set up the quickstart identity (its policy: config/examples/quickstart.json):

  cd $ROOT
  export AWS_CA_BUNDLE=\$PWD/certs/dev/ca.crt AWS_ACCESS_KEY_ID=$ACCESS_KEY AWS_SECRET_ACCESS_KEY=anything AWS_DEFAULT_REGION=us-east-1

Allowed (item reads and writes on table demo):

  aws dynamodb put-item --endpoint-url $ENDPOINT --table-name demo --item ${Q}{"pk":{"S":"user#2"},"sk":{"S":"profile"},"name":{"S":"Grace"}}${Q}
  aws dynamodb get-item --endpoint-url $ENDPOINT --table-name demo --key ${Q}{"pk":{"S":"user#1"},"sk":{"S":"profile"}}${Q}
  aws dynamodb query --endpoint-url $ENDPOINT --table-name demo --key-condition-expression "pk = :p" --expression-attribute-values ${Q}{":p":{"S":"user#1"}}${Q}

Denied with AccessDeniedException (explicit Deny statements NoExport and NoPartiQL):

  aws dynamodb export-table-to-point-in-time --endpoint-url $ENDPOINT --table-arn arn:aws:dynamodb:us-east-1:123456789012:table/demo --s3-bucket any-bucket
  aws dynamodb execute-statement --endpoint-url $ENDPOINT --statement ${Q}SELECT * FROM "demo"${Q}

Denied because no policy allows it (another table; an unknown access key):

  aws dynamodb scan --endpoint-url $ENDPOINT --table-name secrets
  AWS_ACCESS_KEY_ID=AKIAUNKNOWN000000001 aws dynamodb scan --endpoint-url $ENDPOINT --table-name demo

Every call leaves one JSON line (never item values) in the access log:

  tail -f $RUN/access.log

ddbguard diagnostics: $RUN/ddbguard.log   dynalite: $RUN/dynalite.log
Press Ctrl-C to stop ddbguard and dynalite.
EOF

# Stay in the foreground until Ctrl-C or until one of the two servers exits on its own. On Ctrl-C the
# terminal signals the servers too; they exit 0, and bash then skips its own INT trap (it treats a child
# that handled SIGINT as the one that dealt with it), so a clean exit of either one means "stop".
wait -n "${PIDS[@]}"
rc=$?
((rc == 0)) && exit 0
if kill -0 "$DDBGUARD_PID" 2>/dev/null; then
	echo "quickstart: dynalite exited (status $rc); see $RUN/dynalite.log" >&2
else
	echo "quickstart: ddbguard exited (status $rc); see $RUN/ddbguard.log" >&2
fi
exit 1

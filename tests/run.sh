#!/usr/bin/env bash
# tests/run.sh — the test command: installs what is missing, builds, runs every test, and prints
# one summary line "N passed, N failed, N skipped" as the very last line (exit 1 if anything failed).
#
#   1. apt packages (only when missing; apt-get update only then), npm ci for dynalite if needed
#   2. meson setup (if needed) + ninja in build/
#   3. filters/dynamodb/gen_catalog.py --check   (1 test: the generated catalog matches the model)
#   4. every unit-test binary build/tests/unit/test_*  (cmocka summaries are added up)
#   5. the end-to-end suite tests/e2e with Debian's /usr/bin/python3 -m pytest (JUnit XML is added up)
#
# Env: BUILD_DIR (default build/), SKIP_INSTALL=1, UNIT_TIMEOUT (s, per binary, default 45),
#      E2E_TIMEOUT (s, default 300), PYTEST_ARGS (extra pytest arguments, e.g. "-k deny -x").
# No `set -e`: a failing step is counted and the script goes on, so the summary is always printed.
set -u

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
BUILD="${BUILD_DIR:-$ROOT/build}"
UNIT_TIMEOUT="${UNIT_TIMEOUT:-45}"
E2E_TIMEOUT="${E2E_TIMEOUT:-300}"
PY=/usr/bin/python3   # Debian's, with python3-pytest and python3-boto3 (python3 on PATH may be another)
export PYTHONDONTWRITEBYTECODE=1

passed=0 failed=0 skipped=0
failures=()
start_all=$SECONDS
LOGDIR="$(mktemp -d -t ddbguard-tests.XXXXXX)" || exit 2

step() { printf '\n== %s\n' "$*"; }
# count NAME PASSED FAILED SKIPPED
count() {
	passed=$((passed + $2)) failed=$((failed + $3)) skipped=$((skipped + $4))
	(($3 == 0)) || failures+=("$1 ($3)")
}
summary() {
	if ((${#failures[@]})); then
		printf '\nfailed: %s\n' "${failures[*]}"
		echo "logs: $LOGDIR"
	fi
	echo "total time: $((SECONDS - start_all)) s"
	echo "$passed passed, $failed failed, $skipped skipped"
	((failed == 0))
	exit
}

# ---- 1. dependencies ---------------------------------------------------------------------------
if [[ "${SKIP_INSTALL:-0}" != 1 ]]; then
	step "dependencies"
	if ! "$ROOT/deploy/ensure-packages.sh" meson ninja-build pkg-config gcc libevent-dev libssl-dev \
		libcjson-dev libmaxminddb-dev libsystemd-dev systemd man-db groff-base openssl awscli libcmocka-dev python3 python3-pytest python3-boto3 \
		python3-cryptography python3-jsonschema sqlite3 mmdb-bin libmaxmind-db-writer-perl iproute2 node chromium; then
		count install 0 1 0
	fi
	if [[ ! -d deploy/dynalite/node_modules/dynalite ]]; then
		echo "npm ci in deploy/dynalite"
		(cd deploy/dynalite && npm ci --no-audit --no-fund) || count "npm ci" 0 1 0
	fi
fi

# ---- 2. build ----------------------------------------------------------------------------------
step "build ($BUILD)"
built=1
if [[ -f "$BUILD/build.ninja" ]]; then
	meson configure "$BUILD" -Dtests=enabled >/dev/null || built=0
else
	meson setup "$BUILD" "$ROOT" -Dtests=enabled || built=0
fi
configured=$built
if ((built)); then
	# -k 0: build every target that can be built, so one broken file does not hide the other tests.
	ninja -C "$BUILD" -k 0 || built=0
fi
((built)) || { echo "BUILD FAILED"; count build 0 1 0; }
# fresh TARGET: the target exists and is up to date (a failed build leaves older binaries behind).
fresh() { [[ -x "$BUILD/$1" ]] && ninja -C "$BUILD" -n "$1" 2>/dev/null | grep -q 'no work to do'; }

# ---- 3. catalog drift check --------------------------------------------------------------------
step "filters/dynamodb/gen_catalog.py --check"
if [[ -f filters/dynamodb/gen_catalog.py ]] && "$PY" filters/dynamodb/gen_catalog.py --check; then
	count gen_catalog 1 0 0
else
	count gen_catalog 0 1 0
fi

# ---- 4. unit tests -----------------------------------------------------------------------------
step "unit tests ($BUILD/tests/unit/test_*)"
if ((configured)); then
	nunit=0
	for t in "$BUILD"/tests/unit/test_*; do
		[[ -f "$t" && -x "$t" ]] || continue
		nunit=$((nunit + 1))
		name="$(basename "$t")"
		if ! fresh "tests/unit/$name"; then
			echo "$name: not rebuilt (build failed), counted as failed"
			count "$name" 0 1 0
			continue
		fi
		out="$LOGDIR/$name.log"
		t0=$SECONDS
		CMOCKA_MESSAGE_OUTPUT=STDOUT timeout -k 5 "$UNIT_TIMEOUT" "$t" >"$out" 2>&1
		rc=$?
		# cmocka prints one summary per group: "[  PASSED  ] N test(s)." "[  FAILED  ] N test(s)..."
		read -r p f s < <(awk '
			/^\[  PASSED  \] [0-9]+ test\(s\)/ { p += $4 }
			/^\[  FAILED  \] [0-9]+ test\(s\)/ { f += $4 }
			/^\[  SKIPPED \] [0-9]+ test\(s\)/ { s += $4 }
			/^\[  (PASSED|FAILED|SKIPPED) *\] [0-9]+ test\(s\)/ { seen = 1 }
			END { if (!seen) p = f = s = -1; print p + 0, f + 0, s + 0 }' "$out")
		note=""
		if ((p < 0)); then
			p=0 f=1 s=0 note=" (no cmocka summary, exit $rc)"
		elif ((rc != 0 && f == 0)); then
			f=1 note=" (exit $rc after its summary)"   # crashed or leaked a failure past cmocka
		fi
		((rc == 124 || rc == 137)) && note="$note (timed out after ${UNIT_TIMEOUT} s)"
		printf '%-32s %3d passed, %d failed, %d skipped  %ds%s\n' "$name" "$p" "$f" "$s" $((SECONDS - t0)) "$note"
		if ((f)); then
			grep -E '^\[  (FAILED|ERROR) *\]|^\[ +ERROR|error:|Assertion|Sanitizer' "$out" | head -20 | sed 's/^/    /'
			tail -n 5 "$out" | sed 's/^/    | /'
		fi
		count "$name" "$p" "$f" "$s"
	done
	((nunit || !built)) || { echo "no unit-test binaries found (is libcmocka-dev installed?)"; count unit-tests 0 1 0; }
else
	echo "skipped: meson setup failed"
fi

# ---- 5. end-to-end -----------------------------------------------------------------------------
step "end-to-end (tests/e2e, $PY -m pytest)"
if ((configured)) && fresh ddbguard; then
	xml="$LOGDIR/e2e-junit.xml"
	DDBGUARD_BIN="$BUILD/ddbguard" timeout -k 10 "$E2E_TIMEOUT" \
		"$PY" -m pytest tests/e2e -q -p no:cacheprovider --junitxml="$xml" ${PYTEST_ARGS:-}
	rc=$?
	# JUnit XML: passed = tests - failures - errors - skipped, summed over every <testsuite>.
	read -r p f s < <("$PY" - "$xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print(-1, -1, -1); sys.exit()
suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
p = f = s = 0
for ts in suites:
    n, fl, er, sk = (int(ts.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    p += n - fl - er - sk; f += fl + er; s += sk
print(p, f, s)
EOF
	)
	note=""
	if ((p < 0)); then
		p=0 f=1 s=0 note="no JUnit XML (pytest exit $rc)"
	elif ((rc == 5)); then
		f=$((f + 1)) note="no tests collected (pytest exit 5)"
	elif ((rc != 0 && f == 0)); then
		f=1 note="pytest exit $rc"   # interrupted, internal error, usage error, timeout
	fi
	[[ -n "$note" ]] && echo "e2e: $note"
	count e2e "$p" "$f" "$s"
else
	echo "skipped: $BUILD/ddbguard was not built"
	count e2e 0 1 0
fi

summary

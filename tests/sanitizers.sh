# tests/sanitizers.sh — step 7 of tests/run.sh, sourced by it (uses its step, count, count_skips, LOGDIR, PY,
# ROOT, UNIT_TIMEOUT, E2E_TIMEOUT, PYTEST_ARGS). Skips follow run.sh's rule: allowed only when listed in
# tests/allowed-skips.txt (IDs "asan:unit:BINARY:TEST", "asan:e2e:FILE::TEST", "asan:all").
#   - an ASan+UBSan build with clang in ASAN_BUILD_DIR (default build-asan/), every UBSan finding fatal,
#     with the libFuzzer targets in the same build;
#   - every unit-test binary and the end-to-end suite against it (named "asan:..." in the summary); a
#     sanitizer report (including a leak at exit) fails the binary, or the ddbguard instance's exit status
#     fails the e2e test that stops it;
#   - each fuzz target replays its checked-in corpus tests/fuzz/corpus/<name> (one test per target).
# SKIP_ASAN=1 leaves it all out (one skip, "asan:all"). The long campaign is tests/fuzz/campaign.sh.

ASAN_BUILD="${ASAN_BUILD_DIR:-$ROOT/build-asan}"
# UBSan findings are fatal. Clang (not gcc) warns about tables that name some fields of a row and leave
# the rest zero; that is the house style for tables, so that one warning is off in this build.
ASAN_C_ARGS="-fno-sanitize-recover=all -Wno-missing-field-initializers"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# asan_cmocka_counts FILE -> "passed failed skipped" (-1s when there is no cmocka summary)
asan_cmocka_counts() {
	awk '
		/^\[  PASSED  \] [0-9]+ test\(s\)/ { p += $4 }
		/^\[  FAILED  \] [0-9]+ test\(s\)/ { f += $4 }
		/^\[  SKIPPED \] [0-9]+ test\(s\)/ { s += $4 }
		/^\[  (PASSED|FAILED|SKIPPED) *\] [0-9]+ test\(s\)/ { seen = 1 }
		END { if (!seen) p = f = s = -1; print p + 0, f + 0, s + 0 }' "$1"
}

# asan_junit_counts FILE -> "passed failed skipped" (-1s when unreadable)
asan_junit_counts() {
	"$PY" - "$1" <<'EOF'
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
}

asan_units() {
	local t name out t0 rc p f s note sk
	step "sanitizers: unit tests ($ASAN_BUILD/tests/unit/test_*)"
	for t in "$ASAN_BUILD"/tests/unit/test_*; do
		[[ -f "$t" && -x "$t" ]] || continue
		name="asan:$(basename "$t")"
		out="$LOGDIR/$(basename "$t").asan.log"
		t0=$SECONDS
		CMOCKA_MESSAGE_OUTPUT=STDOUT timeout -k 5 $((UNIT_TIMEOUT * 3)) "$t" >"$out" 2>&1
		rc=$?
		read -r p f s < <(asan_cmocka_counts "$out")
		note=""
		if ((p < 0)); then
			p=0 f=1 s=0 note=" (no cmocka summary, exit $rc)"
		elif ((rc != 0 && f == 0)); then
			f=1 note=" (exit $rc after its summary: a sanitizer report?)"
		fi
		printf '%-38s %3d passed, %d failed, %d skipped  %ds%s\n' "$name" "$p" "$f" "$s" $((SECONDS - t0)) "$note"
		if ((f)); then
			grep -E '^\[  (FAILED|ERROR) *\]|Sanitizer|runtime error' "$out" | head -20 | sed 's/^/    /'
		fi
		count "$name" "$p" "$f" 0
		mapfile -t sk < <(awk '/^\[  SKIPPED \] [A-Za-z_]/ && !/test\(s\)/ { print "asan:unit:'"$(basename "$t")"':" $4 }' "$out" | sort -u)
		((s == ${#sk[@]})) || sk+=("asan:unit:$(basename "$t"):(unnamed skip)")
		((${#sk[@]})) && count_skips "$name" "${sk[@]}"
	done
}

asan_e2e() {
	local xml="$LOGDIR/e2e-asan-junit.xml" rc p f s sk
	step "sanitizers: end-to-end against $ASAN_BUILD/ddbguard"
	# shellcheck disable=SC2086 # PYTEST_ARGS is a list of words
	DDBGUARD_SANITIZED=1 DDBGUARD_BIN="$ASAN_BUILD/ddbguard" timeout -k 10 $((E2E_TIMEOUT * 2)) \
		"$PY" -m pytest tests/e2e -q -p no:cacheprovider --junitxml="$xml" ${PYTEST_ARGS:-}
	rc=$?
	read -r p f s < <(asan_junit_counts "$xml")
	if ((p < 0)); then
		p=0 f=1 s=0
		echo "asan e2e: no JUnit XML (pytest exit $rc)"
	elif ((rc == 5)); then
		f=$((f + 1))
		echo "asan e2e: no tests collected (pytest exit 5)"
	elif ((rc != 0 && f == 0)); then
		f=1
		echo "asan e2e: pytest exit $rc"
	fi
	count asan:e2e "$p" "$f" 0
	mapfile -t sk < <("$PY" - "$xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    sys.exit()
for tc in root.iter("testcase"):
    if tc.find("skipped") is not None:
        print("asan:e2e:%s.py::%s" % (tc.get("classname", "").rsplit(".", 1)[-1], tc.get("name")))
EOF
	)
	((s <= 0 || s == ${#sk[@]})) || sk+=("asan:e2e:(unnamed skip)")
	((${#sk[@]})) && count_skips asan:e2e "${sk[@]}"
}

asan_fuzz_corpora() {
	local t name corpus out t0 rc n
	step "fuzz targets over their checked-in corpora (tests/fuzz/corpus/*)"
	for t in "$ASAN_BUILD"/tests/fuzz/fuzz_*; do
		[[ -f "$t" && -x "$t" ]] || continue
		name="$(basename "$t")"
		corpus="tests/fuzz/corpus/${name#fuzz_}"
		out="$LOGDIR/$name.corpus.log"
		if [[ ! -d "$corpus" || -z "$(ls -A "$corpus" 2>/dev/null)" ]]; then
			echo "$name: no corpus in $corpus"
			count "$name" 0 1 0
			continue
		fi
		t0=$SECONDS
		# Files, not the directory: each input runs once; nothing is fuzzed or written.
		timeout -k 5 120 "$t" -timeout=10 "$corpus"/* >"$out" 2>&1
		rc=$?
		n=$(grep -c '^Executed ' "$out")
		printf '%-38s %4d corpus files, exit %d  %ds\n' "$name" "$n" "$rc" $((SECONDS - t0))
		if ((rc != 0)); then
			grep -E 'ERROR|Sanitizer|runtime error|Running' "$out" | tail -5 | sed 's/^/    /'
			count "$name" 0 1 0
		else
			count "$name" 1 0 0
		fi
	done
}

if [[ "${SKIP_ASAN:-0}" == 1 ]]; then
	step "sanitizers: not run (SKIP_ASAN=1)"
	count_skips asan "asan:all"
elif ! command -v clang >/dev/null; then
	step "sanitizers"
	echo "clang is not installed (apt-get install clang libclang-rt-14-dev)"
	count asan-build 0 1 0
else
	step "sanitizers: ASan+UBSan build ($ASAN_BUILD, clang)"
	asan_ok=1
	if [[ ! -f "$ASAN_BUILD/build.ninja" ]]; then
		CC=clang meson setup "$ASAN_BUILD" "$ROOT" -Dtests=enabled -Dfuzz=true \
			-Db_sanitize=address,undefined -Db_lundef=false -Dc_args="$ASAN_C_ARGS" || asan_ok=0
	else
		meson configure "$ASAN_BUILD" -Dc_args="$ASAN_C_ARGS" >/dev/null || asan_ok=0
	fi
	if ((asan_ok)) && ninja -C "$ASAN_BUILD" -k 0; then
		asan_units
		asan_e2e
		asan_fuzz_corpora
	else
		echo "ASAN BUILD FAILED"
		count asan-build 0 1 0
	fi
fi

#!/usr/bin/env bash
# tests/fuzz/campaign.sh — a long fuzz campaign over every libFuzzer target (not part of tests/run.sh,
# which only replays the checked-in corpora).
#
#   tests/fuzz/campaign.sh [SECONDS_PER_TARGET (default 600)] [TARGET...]   (targets: http json partiql config)
#
# Builds the ASan+UBSan fuzz build (BUILD_DIR, default build-asan/, clang) if needed, then runs each
# target at low priority (nice) for the given time, starting from tests/fuzz/corpus/<name> plus whatever
# earlier campaigns found (OUT/corpus-<name>, kept between runs). Every crash, leak or sanitizer report is
# written to OUT/crashes/<name>-*; turn each into a corpus file (tests/fuzz/corpus/<name>/) once fixed.
# Prints per target: executions, corpus size, crashes. Exit status 1 if any target crashed.
# Env: BUILD_DIR, OUT (default /tmp/ddbguard-fuzz), JOBS (parallel workers per target, default 1).
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build-asan}"
OUT="${OUT:-/tmp/ddbguard-fuzz}"
SECS="${1:-600}"
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(http json partiql config)
JOBS="${JOBS:-1}"

if [[ ! -f "$BUILD/build.ninja" ]]; then
	CC=clang meson setup "$BUILD" "$ROOT" -Dtests=enabled -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dc_args=-fno-sanitize-recover=all || exit 2
fi
nice ninja -C "$BUILD" || exit 2
mkdir -p "$OUT/crashes"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

crashed=0
printf '%-10s %12s %8s %8s\n' target executions corpus crashes
for name in "${TARGETS[@]}"; do
	bin="$BUILD/tests/fuzz/fuzz_$name"
	[[ -x "$bin" ]] || { echo "$name: $bin not built"; crashed=1; continue; }
	mkdir -p "$OUT/corpus-$name"
	dict=()
	[[ -f "$ROOT/tests/fuzz/$name.dict" ]] && dict=(-dict="$ROOT/tests/fuzz/$name.dict")
	par=()
	((JOBS > 1)) && par=(-jobs="$JOBS" -workers="$JOBS")
	before=$(find "$OUT/crashes" -name "$name-*" | wc -l)
	log="$OUT/$name.log"
	# The first directory is the writable one: the checked-in seeds stay read-only.
	nice -n 19 "$bin" "$OUT/corpus-$name" "$ROOT/tests/fuzz/corpus/$name" "${dict[@]}" \
		-max_total_time="$SECS" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$OUT/crashes/$name-" "${par[@]}" >"$log" 2>&1
	execs=$(awk '/stat::number_of_executed_units/ { n += $2 } END { print n + 0 }' "$log")
	after=$(find "$OUT/crashes" -name "$name-*" | wc -l)
	printf '%-10s %12s %8s %8s\n' "$name" "$execs" "$(find "$OUT/corpus-$name" -type f | wc -l)" $((after - before))
	((after > before)) && crashed=1
done
ls "$OUT/crashes" 2>/dev/null | sed 's/^/crash: /'
exit $crashed

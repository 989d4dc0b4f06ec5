#!/bin/sh
# Instructions per access-log record (formatting, chain, writer hand-off and write), counted by callgrind
# over tests/bench/record_bench: runs N and 2N records and prints (Ir(2N) - Ir(N)) / N for the calling
# thread (the event loop's share) and for all threads, which cancels start-up and shutdown. Counts, not
# time: stable on a busy machine.
# Usage: tests/bench/record_cost.sh [BUILD_DIR] [N]
set -eu
BUILD=${1:-build}
N=${2:-5000}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'; }
run() {
	rm -f "$T/r.log"
	valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$T/cg.$1" \
		"$BUILD/tests/bench/record_bench" "$1" "$T/r.log" >/dev/null 2>&1
	main=$(total "$T/cg.$1-01")
	all=0
	for f in "$T/cg.$1"-*; do all=$((all + $(total "$f"))); done
	echo "$main $all"
}
set -- $(run "$N") $(run $((2 * N)))
echo "instructions per record: event loop $(( ($3 - $1) / N )), all threads $(( ($4 - $2) / N ))" \
	"(callgrind, $N vs $((2 * N)) records)"

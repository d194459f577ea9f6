#!/bin/sh
# run-fuzz.sh SECONDS [BUILD_DIR]
#
# Builds the libFuzzer target fsm_fuzzer with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in BUILD_DIR (default /tmp/psb-fuzz-build),
# then fuzzes for SECONDS on a copy of tests/fuzz/corpus/fsm (the
# committed seeds stay untouched). Exits non-zero if the fuzzer found a
# crash, i.e. a broken FSM invariant; the reproducer is left in
# BUILD_DIR/fuzz-artifacts and can be replayed with
#   BUILD_DIR/tests/fuzz/fsm_fuzzer FILE   (or fsm_fuzz_replay FILE)
# New corpus entries are kept in BUILD_DIR/fuzz-corpus for inspection.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]
then
	echo "usage: $0 SECONDS [BUILD_DIR]" >&2
	exit 2
fi
secs=$1
build=${2:-/tmp/psb-fuzz-build}
root=$(cd "$(dirname "$0")/.." && pwd)

case $secs in
'' | *[!0-9]*)
	echo "run-fuzz: SECONDS must be a number" >&2
	exit 2
	;;
esac

CC=clang cmake -S "$root" -B "$build" -DPSB_FUZZ=ON \
	-DPSB_SANITIZER=address,undefined -DPSB_TESTS=ON >/dev/null
if ! grep -q '^CMAKE_C_COMPILER_ID:.*Clang' "$build/CMakeCache.txt" &&
	! grep -q 'CMAKE_C_COMPILER:FILEPATH=.*clang' "$build/CMakeCache.txt"
then
	echo "run-fuzz: $build is configured with a compiler other than" \
		"clang; use another BUILD_DIR" >&2
	exit 1
fi
cmake --build "$build" --target fsm_fuzzer -j"$(nproc 2>/dev/null || echo 2)"

corpus="$build/fuzz-corpus"
artifacts="$build/fuzz-artifacts"
rm -rf "$corpus" "$artifacts"
mkdir -p "$corpus" "$artifacts"
cp "$root"/tests/fuzz/corpus/fsm/* "$corpus"/

rc=0
"$build/tests/fuzz/fsm_fuzzer" -max_total_time="$secs" -timeout=10 \
	-print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" ||
	rc=$?
if [ "$rc" -ne 0 ]; then
	echo "run-fuzz: fsm_fuzzer found a crash (exit $rc):" >&2
	ls -l "$artifacts" >&2
	exit 1
fi
echo "run-fuzz: no crash in ${secs}s; corpus in $corpus"

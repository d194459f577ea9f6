#!/bin/sh
# run-fuzz.sh SECONDS [BUILD_DIR]
#
# Builds the libFuzzer targets fsm_fuzzer and codec_fuzzer with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer in BUILD_DIR (default
# /tmp/psb-fuzz-build), then runs each for SECONDS/2 on a copy of its
# corpus, tests/fuzz/corpus/<name> (the committed seeds stay untouched).
# Exits non-zero if either fuzzer found a crash, i.e. a broken FSM or
# codec invariant; the reproducer is left in BUILD_DIR/fuzz-artifacts/
# <name> and can be replayed with
#   BUILD_DIR/tests/fuzz/<name>_fuzzer FILE   (or <name>_fuzz_replay FILE)
# New corpus entries are kept in BUILD_DIR/fuzz-corpus/<name>.
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
cmake --build "$build" --target fsm_fuzzer codec_fuzzer \
	-j"$(nproc 2>/dev/null || echo 2)"

# Each fuzzer gets half the time (at least a second); both always run, so
# one crash does not hide the other's.
half=$((secs / 2))
[ "$half" -ge 1 ] || half=1
failed=""
for name in fsm codec; do
	corpus="$build/fuzz-corpus/$name"
	artifacts="$build/fuzz-artifacts/$name"
	rm -rf "$corpus" "$artifacts"
	mkdir -p "$corpus" "$artifacts"
	cp "$root"/tests/fuzz/corpus/"$name"/* "$corpus"/

	rc=0
	"$build/tests/fuzz/${name}_fuzzer" -max_total_time="$half" \
		-timeout=10 -print_final_stats=1 \
		-artifact_prefix="$artifacts/" "$corpus" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "run-fuzz: ${name}_fuzzer found a crash (exit $rc):" >&2
		ls -l "$artifacts" >&2
		failed="$failed $name"
	fi
done
if [ -n "$failed" ]; then
	echo "run-fuzz: crashes in:$failed" >&2
	exit 1
fi
echo "run-fuzz: no crash in ${half}s per fuzzer; corpora in" \
	"$build/fuzz-corpus"

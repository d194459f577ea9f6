#!/bin/sh
# run-fuzz.sh SECONDS [BUILD_DIR]
#
# Builds the libFuzzer targets (tests/fuzz/<name>_fuzz.c: fsm, codec,
# podconfig, image, ctrd, store, request) with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer in BUILD_DIR (default
# /tmp/psb-fuzz-build), then runs each for an equal share of SECONDS
# (at least a second) on a copy of its corpus, tests/fuzz/corpus/<name>
# (the committed seeds stay untouched), with tests/fuzz/<name>.dict when
# there is one. Exits non-zero if a fuzzer found a crash, i.e. a broken
# invariant; the reproducer is left in BUILD_DIR/fuzz-artifacts/<name>
# and can be replayed with
#   BUILD_DIR/tests/fuzz/<name>_fuzzer FILE   (or <name>_fuzz_replay FILE)
# New corpus entries are kept in BUILD_DIR/fuzz-corpus/<name>.
# PSB_FUZZ_TARGETS="ctrd store" runs only those. PSB_FUZZ_KNOWN_BUGS=1
# lets the targets send the inputs of product bugs they found that are not
# fixed yet (each target's "known bugs" comment), to check a fix.
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
names=${PSB_FUZZ_TARGETS:-fsm codec podconfig image ctrd store request}
targets=""
count=0
for name in $names; do
	targets="$targets ${name}_fuzzer"
	count=$((count + 1))
done
# shellcheck disable=SC2086 # one word per target
cmake --build "$build" --target $targets -j"$(nproc 2>/dev/null || echo 2)"

# Each fuzzer gets an equal share of the time (at least a second); all
# always run, so one crash does not hide another's.
share=$((secs / count))
[ "$share" -ge 1 ] || share=1
failed=""
for name in $names; do
	corpus="$build/fuzz-corpus/$name"
	artifacts="$build/fuzz-artifacts/$name"
	rm -rf "$corpus" "$artifacts"
	mkdir -p "$corpus" "$artifacts"
	cp "$root"/tests/fuzz/corpus/"$name"/* "$corpus"/

	dict=""
	if [ -f "$root/tests/fuzz/$name.dict" ]; then
		dict="-dict=$root/tests/fuzz/$name.dict"
	fi

	rc=0
	# shellcheck disable=SC2086 # $dict is one word or none
	"$build/tests/fuzz/${name}_fuzzer" -max_total_time="$share" \
		-timeout=10 -print_final_stats=1 $dict \
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
echo "run-fuzz: no crash in ${share}s per fuzzer ($count fuzzers);" \
	"corpora in $build/fuzz-corpus"

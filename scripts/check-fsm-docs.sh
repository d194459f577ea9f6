#!/bin/sh
# check-fsm-docs.sh BUILD_DIR
#
# Builds psb-fsmdoc in BUILD_DIR (configuring it first if needed),
# generates the state machine docs into a temporary directory and diffs
# them against the committed docs/fsm.md and docs/fsm.dot. Exits non-zero
# if either is out of date (DESIGN.md §3: the docs are generated from the
# table, never written by hand).
set -eu

if [ $# -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
build=$1
root=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$root" -B "$build" >/dev/null
fi
cmake --build "$build" --target psb-fsmdoc >/dev/null

tool="$build/tools/psb-fsmdoc"
if [ ! -x "$tool" ]; then
	# Multi-config generators put it one level deeper.
	tool=$(find "$build/tools" -type f -name psb-fsmdoc -perm -u+x |
		head -n 1)
fi
if [ -z "$tool" ] || [ ! -x "$tool" ]; then
	echo "check-fsm-docs: psb-fsmdoc not found in $build" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
"$tool" --markdown "$tmp/fsm.md" --dot "$tmp/fsm.dot"

rc=0
for f in fsm.md fsm.dot; do
	if ! diff -u "$root/docs/$f" "$tmp/$f" >"$tmp/$f.diff" 2>&1; then
		cat "$tmp/$f.diff" >&2
		echo "docs/$f is out of date:" \
			"run cmake --build $build --target fsm-docs" >&2
		rc=1
	fi
done
exit $rc

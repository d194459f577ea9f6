#!/usr/bin/env bash
# The seeded simulation of the daemon core (tests/sim/sim.c): replay one
# seed with its trace, or run many.
#
#   scripts/sim.sh SEED [ARGS...]    replay SEED: its whole trace (the same
#                                    bytes on every replay), then ok or FAIL
#   scripts/sim.sh --nightly [FIRST] 10,000 seeds from FIRST (default: today
#                                    as YYYYMMDD0000, new seeds every day),
#                                    split over the CPUs
#   scripts/sim.sh --random SECONDS  random seeds for that long
#
# ARGS go to psb_sim: --strict (known bugs fail the seed), --log debug (the
# daemon's own log on stderr, in order with the trace), --keep (keep the
# database and world file), --steps K (as the failing run had, if not the
# default). PSB_SIM_BUILD picks the build directory (default: build; it is
# configured on first use, and psb_sim built if out of date), e.g.
# PSB_SIM_BUILD=build/ci-asan for a sanitized run.
set -euo pipefail

cd "$(dirname "$0")/.."
build=${PSB_SIM_BUILD:-build}
jobs=$(nproc 2>/dev/null || echo 2)

usage() {
	sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[[ $# -ge 1 ]] || usage
if [[ ! -f $build/CMakeCache.txt ]]; then
	cmake -S . -B "$build" >/dev/null
fi
cmake --build "$build" --target psb_sim -j"$jobs" >/dev/null
sim=$build/tests/sim/psb_sim

case $1 in
--nightly)
	first=${2:-$(date +%Y%m%d)0000}
	[[ $first =~ ^[0-9]+$ ]] || usage
	total=10000
	per=$(((total + jobs - 1) / jobs))
	logs=$(mktemp -d "${TMPDIR:-/tmp}/psb-sim-nightly.XXXXXX")
	echo "sim: seeds $first-$((first + total - 1)) on $jobs CPUs" \
		"(logs in $logs)"
	pids=()
	for ((j = 0; j < jobs; j++)); do
		lo=$((first + j * per))
		hi=$((lo + per - 1))
		((hi <= first + total - 1)) || hi=$((first + total - 1))
		((lo <= hi)) || break
		"$sim" --seeds "$lo-$hi" >"$logs/$j.log" 2>&1 &
		pids+=($!)
	done
	rc=0
	for pid in "${pids[@]}"; do
		wait "$pid" || rc=1
	done
	cat "$logs"/*.log | grep -E '^(FAIL|  replay|psb_sim)' || true
	exit $rc
	;;
--random)
	[[ ${2:-} =~ ^[0-9]+$ ]] || usage
	exec "$sim" --time-box "$2" "${@:3}"
	;;
-*) usage ;;
*)
	[[ $1 =~ ^[0-9]+$ ]] || usage
	exec "$sim" --seed "$1" --trace "${@:2}"
	;;
esac

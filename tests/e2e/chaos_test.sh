#!/usr/bin/env bash
# e2e: containerd chaos (issue 12, item 4).
#
#   chaos_test.sh PODSANDBOXD PODSANDBOXCTL IMAGE_TAR IMAGE_NAME POD_CONFIG
#
# A private containerd, podsandboxd on it with short deadlines. Four live
# sandboxes, and two clients churning runs, stops and removes of their own
# ids, while containerd is killed (-9) and started again 10 times at random
# moments (PSB_CHAOS_SEED makes the moments repeatable; the seed is
# printed), and the pause of a live sandbox is killed twice while
# containerd is down. Then:
# - every sandbox converges to its true state: nothing stays STARTING,
#   STOPPING, DELETING or UNKNOWN; READY has a live pause, EXITED none;
#   each killed pause is EXITED with 137 (no exit is missed);
# - containerd SIGSTOPped for longer than every deadline while a run and a
#   stop are asked, then resumed: both settle;
# - everything removed: no task, container, snapshot, rootfs or shm mount,
#   netns pin or pause process of ours is left, and the daemon, up all
#   along, exits 0 on SIGTERM.
# Exits 77 (skip) with the reason when containerd cannot run here.
set -u

# shellcheck source=tests/e2e/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh" "$@"
pfx=chs
rt_opts=resync_ms=2000
seed=${PSB_CHAOS_SEED:-$(date +%s)}
RANDOM=$seed
echo "# PSB_CHAOS_SEED=$seed"
e2e_begin psbchaos

start_ctrd() { bash "$harness" start "$dir" >/dev/null 2>&1; }

# settled ID: its state is one a sandbox rests in, and true: READY has a
# live pause, EXITED none.
settled() {
	local st pid
	st=$(field "$1" state)
	pid=$(field "$1" pid)
	case $st in
	CREATED) return 0 ;;
	READY) is_pause "$pid" ;;
	EXITED) [[ -z $pid || $pid == 0 ]] || ! is_pause "$pid" ;;
	*) return 1 ;;
	esac
}

all_settled() {
	local id
	for id in $(ctl_ ls -q 2>/dev/null); do
		settled "$id" || return 1
	done
}

unsettled() {
	local id
	for id in $(ctl_ ls -q 2>/dev/null); do
		settled "$id" || echo "$id=$(field "$id" state)"
	done
}

# churn W SECONDS: runs, stops and removes of W's own ids until the time
# is up; errors are expected while containerd is away.
churn() {
	local w=$1 end n=0 id
	end=$(($(now_ms) + $2 * 1000))
	while (($(now_ms) < end)); do
		id=$pfx-w$w-$((n++))
		ctl_ run "$pod_config" --id "$id" >/dev/null 2>&1
		if ((RANDOM % 2)); then
			ctl_ stop "$id" --timeout 2 >/dev/null 2>&1
		fi
		if ((RANDOM % 3)); then
			ctl_ rm "$id" >/dev/null 2>&1
		fi
	done
	echo "$n" >"$dir/churn-$w"
}

check "podsandboxd starts with short deadlines" \
	"start_daemon '$dir/daemon.log' --start-timeout-ms 3000 --stop-timeout-ms 1000 --delete-timeout-ms 2000 --retry-max 3 --reprobe-ms 300 --probe-timeout-ms 1000"
for i in 1 2 3 4; do
	ctl_ run "$pod_config" --id "$pfx-live-$i" >/dev/null 2>&1
done
check "four live sandboxes run" \
	"[ \"\$(ctl_ ls 2>/dev/null | grep -c ' READY ')\" = 4 ]"
killed=()

t0=$(now_ms)
churn 1 25 &
c1=$!
churn 2 25 &
c2=$!
for round in $(seq 1 10); do
	sleep "0.$((RANDOM % 9 + 1))"
	kill_ctrd KILL || bad "round $round: containerd killed"
	if ((round == 3 || round == 7)); then
		id=$pfx-live-$((round == 3 ? 1 : 2))
		pid=$(ctl_ status -o json "$id" 2>/dev/null |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["pid"])' 2>/dev/null)
		if is_pause "$pid"; then
			kill -9 "$pid"
			killed+=("$id")
			echo "# round $round: killed the pause of $id (pid $pid) while containerd is down"
		fi
	fi
	sleep "0.$((RANDOM % 9 + 1))"
	start_ctrd || bad "round $round: containerd starts again"
done
echo "# 10 containerd kills in $(($(now_ms) - t0)) ms"
wait "$c1" "$c2"
echo "# churn: $(cat "$dir/churn-1" 2>/dev/null) + $(cat "$dir/churn-2" 2>/dev/null) sandboxes"
check "the daemon stayed up" "alive '$dpid'"
check "every sandbox converges to its true state within 60 s" \
	"wait_for 60 all_settled"
u=$(unsettled)
[[ -n $u ]] && echo "# unsettled: $u"
for id in "${killed[@]}"; do
	check "$id, whose pause was killed while containerd was down, is EXITED 137" \
		"[ \"\$(field $id state)\" = EXITED ] && [ \"\$(ctl_ wait $id 2>&1)\" = 137 ]"
done
check "the other live sandboxes are READY" \
	"[ \"\$(field $pfx-live-3 state)\" = READY ] && [ \"\$(field $pfx-live-4 state)\" = READY ]"

# containerd frozen for longer than every deadline.
pid=$(cat "$dir/containerd.pid")
kill -STOP "$pid"
ctl_ run "$pod_config" --id "$pfx-frozen" >"$dir/run-frozen" 2>&1 &
r=$!
ctl_ stop "$pfx-live-3" --timeout 4 >"$dir/stop-frozen" 2>&1 &
s=$!
sleep 6
kill -CONT "$pid"
wait "$r" "$s"
sed 's/^/# frozen run: /' "$dir/run-frozen"
sed 's/^/# frozen stop: /' "$dir/stop-frozen"
check "after SIGSTOP (6 s) and SIGCONT, everything settles within 60 s" \
	"wait_for 60 all_settled"
wait_state "$pfx-live-3" EXITED 30
out=$(ctl_ wait "$pfx-live-3" 2>&1)
echo "# $pfx-live-3: $(field "$pfx-live-3" state), wait: $out"
check "... the frozen stop is carried out: $pfx-live-3 EXITED 137" \
	"[ \"\$(field $pfx-live-3 state)\" = EXITED ] && [ '$out' = 137 ]"

for id in $(ctl_ ls -q 2>/dev/null); do
	ctl_ rm "$id" >/dev/null 2>&1
done
check "every sandbox is removed" \
	"wait_for 60 eval '[ -z \"\$(ctl_ ls -q 2>/dev/null)\" ] || { for i in \$(ctl_ ls -q 2>/dev/null); do ctl_ rm \$i >/dev/null 2>&1; done; false; }'"
check "no task, container, snapshot, rootfs or shm mount or pause is left" \
	"wait_for 30 nothing_left"
check "no netns pin is left" "[ -z \"\$(ls -A '$dir/pins' 2>/dev/null)\" ]"
check "the daemon ran throughout" "alive '$dpid'"
stop_daemon
check "it exits 0 on SIGTERM" "[ $status -eq 0 ]"
e2e_end

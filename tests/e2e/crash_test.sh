#!/usr/bin/env bash
# e2e: kill -9 of podsandboxd in the middle of an operation; after a
# restart on the same database every sandbox converges.
#
#   crash_test.sh PODSANDBOXD PODSANDBOXCTL IMAGE_TAR IMAGE_NAME POD_CONFIG
#
# One private containerd (lib.sh) for the whole test; the daemon is
# started many times on the same --db. A crash point is a test-only
# failpoint (PSB_FAILPOINT=METHOD[:N], base/failpoint.h, docs/testing.md):
# the daemon raises SIGKILL once the N-th unary gRPC call to METHOD has
# been answered by containerd and before the daemon takes note of it.
#
# For each crash point: the operation's CLI call fails, the daemon dies of
# SIGKILL (137) at that point, a daemon without the failpoint is started,
# and within 15 s the sandbox is in a state that matches containerd:
#   READY     <=> a RUNNING task whose pid is status' pid, a /pause process
#   EXITED, CREATED <=> no running task
#   NOT_FOUND (interrupted shutdown) <=> no task, container, snapshot or
#             rootfs mount with its id
# and never UNKNOWN, STARTING, STOPPING or DELETING. Then the sandbox is
# still usable (start, stop, wait = 137, rm) and nothing of ours is left.
#
# 1. start (run):  Containers/Create, Snapshots/Prepare, Tasks/Create ->
#                  CREATED; Tasks/Start -> READY with the started pid.
# 2. stop:         Tasks/Kill -> EXITED, wait prints 137.
# 3. shutdown (rm of a READY sandbox): Tasks/Kill (the stop's), Tasks/Kill:2
#                  (the delete's), Tasks/Delete (the exit's reap),
#                  Tasks/Delete:2 (the delete's), Containers/Delete,
#                  Snapshots/Remove -> NOT_FOUND and nothing left.
# 4. kill -9 from outside with a READY, an EXITED and a CREATED sandbox,
#    and a fourth READY one whose pause is killed while the daemon is
#    down: the three come back with the same state and pid, the fourth
#    EXITED with 137. The restarted daemon runs a short periodic resync
#    (containerd backend resync_ms=$resync_ms; 10 s by default), and only
#    a periodic resync reaps the fourth one's exited task (recovery leaves
#    it to the resync): once that task is gone a resync has run, and the
#    READY one must still be READY (not taken for a vanished task).
# 5. random: run/stop/rm churn in the background, kill -9 at a random
#    moment, restart: every listed sandbox converges and can be removed,
#    and containerd has no container of ours without a row (orphans are
#    reaped at start-up).
# PSB_CRASH_ONLY=REGEX runs only the cases whose name matches (e.g.
# "stop|shutdown"); PSB_CRASH_ROUNDS sets the random rounds (3).
# Exits 77 (skip) with the reason when containerd cannot run here.
set -u

# shellcheck source=tests/e2e/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh" "$@"
converge_s=15
# The periodic resync of the daemon restarted in case 4 (ms).
resync_ms=300
random_rounds=${PSB_CRASH_ROUNDS:-3}
pfx=cr
nlog=0
log=
case_fail=0
case_logs=()
# A failure also marks the current case (end_case shows its logs).
bad() {
	echo "FAIL - $1"
	fail=$((fail + 1))
	case_fail=1
}

e2e_begin psbcr

# start_d [FAILPOINT]: start_daemon with PSB_FAILPOINT set when given; its
# log is $log, a new file per start.
start_d() {
	nlog=$((nlog + 1))
	log="$dir/daemon$nlog.log"
	case_logs+=("$log")
	PSB_FAILPOINT=${1:-} start_daemon "$log"
}

# daemon_gone SECONDS: wait for the daemon to end; $status is its wait
# status (137 = SIGKILL), or "alive" if it did not end in time.
daemon_gone() {
	local i
	status=alive
	for ((i = 0; i < $1 * 20; i++)); do
		if ! kill -0 "$dpid" 2>/dev/null; then
			# (2>/dev/null: no "Killed" job report from bash)
			wait "$dpid" 2>/dev/null
			status=$?
			dpid=
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# stop_d: SIGTERM, and the daemon must exit 0.
stop_d() {
	kill -TERM "$dpid"
	daemon_gone 10 || kill_daemon
	check "the daemon exits 0 on SIGTERM ($status)" "[ '$status' = 0 ]"
}

# state_of ID: the state in Status, NOT_FOUND, or "?" (no answer).
state_of() {
	local out
	out=$(ctl_ status -o json "$1" 2>&1)
	if [[ $out == *NOT_FOUND* ]]; then
		echo NOT_FOUND
		return
	fi
	python3 -c '
import json, sys
try:
    print(json.loads(sys.argv[1])["status"]["state"])
except Exception:
    print("?")' "$out"
}

# task_of ID: "PID STATUS" of ID's task in containerd, "" if none.
task_of() {
	ctr_ tasks ls 2>/dev/null | awk -v id="$1" '$1 == id {print $2, $3}'
}

task_not_running() {
	[[ $(task_of "$1") != *RUNNING* ]]
}

mounted() {
	grep -q "$dir/state/io.containerd.runtime.v2.task/$ns/$1/rootfs" \
		/proc/self/mountinfo
}

# none_of ID: containerd has no task, container, snapshot or mount of ID.
none_of() {
	[[ -z $(task_of "$1") ]] &&
		! ctr_ containers ls -q 2>/dev/null | grep -qx "$1" &&
		! ctr_ snapshots ls 2>/dev/null | awk '{print $1}' | grep -qx "$1" &&
		! mounted "$1"
}

# consistent ID: the sandbox's state matches containerd (see the top);
# $why says what was seen.
consistent() {
	local st pid task
	st=$(state_of "$1")
	task=$(task_of "$1")
	why="state $st, task '${task:-none}'"
	case $st in
	READY)
		pid=$(field "$1" pid)
		why+=", pid $pid"
		[[ $task == "$pid RUNNING" ]] && is_pause "$pid"
		;;
	EXITED | CREATED)
		[[ $task != *RUNNING* ]]
		;;
	NOT_FOUND)
		none_of "$1"
		;;
	*)
		return 1
		;;
	esac
}

# converges ID SECONDS: consistent() within SECONDS; $conv_state is the
# state it settled in (or the last one seen).
converges() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		if consistent "$1"; then
			conv_state=${why%%,*}
			conv_state=${conv_state#state }
			return 0
		fi
		sleep 0.2
	done
	conv_state=${why%%,*}
	conv_state=${conv_state#state }
	return 1
}

# check_converges ID: converges, reported with what was seen.
check_converges() {
	if converges "$1" "$converge_s"; then
		ok "$1 converges within ${converge_s} s ($why)"
	else
		bad "$1 converges within ${converge_s} s ($why)"
	fi
}

all_gone() {
	check "nothing of ours is left in containerd, no pause process" \
		nothing_left
}

# run_case NAME FUNC ARGS...: one case, unless PSB_CRASH_ONLY (an
# extended regex) is set and does not match NAME.
run_case() {
	local name=$1
	shift
	if [[ -n ${PSB_CRASH_ONLY:-} ]] &&
		! grep -qE "$PSB_CRASH_ONLY" <<<"$name"; then
		return
	fi
	begin_case "$name"
	"$@"
}

# begin_case NAME / end_case: per-case bookkeeping; a failed case shows
# its daemon logs (lines about its sandboxes, warnings, the failpoint).
begin_case() {
	echo "# --- $1"
	case_t0=$SECONDS
	case_fail=0
	case_logs=()
	[[ -n $log ]] && case_logs+=("$log")
}
end_case() {
	local f
	echo "# ($((SECONDS - case_t0)) s)"
	((case_fail)) || return 0
	for f in "${case_logs[@]}"; do
		[[ -f $f ]] || continue
		echo "# --- $f (filtered):"
		grep -E "$1|FAILPOINT|warn|error|recover" "$f" | tail -n 40 |
			cut -c1-300 | sed 's/^/#   /'
	done
	sweep
}

# sweep: after a failed case, remove every sandbox and whatever the
# daemon left in containerd, so that the next case starts clean. A task
# whose container is gone can only be deleted once a container with its
# id exists again.
sweep() {
	local id
	for id in $(ctl_ ls -q 2>/dev/null); do
		ctl_ rm "$id" >/dev/null 2>&1
	done
	for id in $(ctr_ tasks ls -q 2>/dev/null); do
		echo "# sweep: task $id ($(task_of "$id"))"
		ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1
		wait_for 5 task_not_running "$id"
		if ! ctr_ tasks delete -f "$id" >/dev/null 2>&1; then
			ctr_ snapshots rm "$id" >/dev/null 2>&1
			ctr_ containers create "$image" "$id" >/dev/null 2>&1
			ctr_ tasks delete -f "$id" >/dev/null 2>&1
		fi
	done
	for id in $(ctr_ containers ls -q 2>/dev/null); do
		echo "# sweep: container $id"
		ctr_ containers rm "$id" >/dev/null 2>&1
	done
	for id in $(ctr_ snapshots ls 2>/dev/null |
		awk 'NR > 1 && $3 == "Active" {print $1}'); do
		echo "# sweep: snapshot $id"
		ctr_ snapshots rm "$id" >/dev/null 2>&1
	done
	nothing_left || echo "# sweep: something is still left"
}

# crashed POINT: the daemon died of SIGKILL at POINT.
crashed() {
	daemon_gone 20
	check "the daemon died by SIGKILL (wait status $status)" \
		"[ '$status' = 137 ]"
	check "... at the failpoint $1" \
		"grep -q 'TEST FAILPOINT $1.* reached' '$log'"
}

restart() {
	[[ -n $dpid ]] && kill_daemon
	check "podsandboxd restarts on the same database" start_d
}

# finish ID: a settled sandbox is still usable: started again if
# CREATED, then stopped (wait = 137) and removed, and nothing of it left.
# all_gone then checks that nothing at all of ours is left.
finish() {
	local id=$1 st out pid
	st=$(state_of "$id")
	if [[ $st == CREATED ]]; then
		out=$(ctl_ start "$id" 2>&1)
		check "start $id again succeeds: $out" "[ $? -eq 0 ]"
		st=$(state_of "$id")
		pid=$(field "$id" pid)
		check "... READY with a /pause pid (state $st, pid '$pid')" \
			"[ '$st' = READY ] && is_pause '$pid'"
	fi
	if [[ $st == READY || $st == EXITED ]]; then
		out=$(ctl_ stop "$id" 2>&1)
		check "stop $id succeeds: $out" "[ $? -eq 0 ]"
		out=$(ctl_ wait "$id" 2>&1)
		check "wait $id prints 137 (got '$out')" "[ '$out' = 137 ]"
	fi
	if [[ $st != NOT_FOUND ]]; then
		out=$(ctl_ rm "$id" 2>&1)
		check "rm $id succeeds: $out" "[ $? -eq 0 ]"
	fi
	check "$id is gone from the daemon" \
		"[ \"\$(state_of '$id')\" = NOT_FOUND ]"
	check "containerd has nothing of $id" "none_of '$id'"
}

# 1. Crashes during start (create + start through `run`).
start_case() {
	local point=$1 want=$2 id=$3 out rc
	check "podsandboxd starts with PSB_FAILPOINT=$point" \
		"start_d '$point'"
	check "the failpoint is announced at start-up" \
		"grep -q 'warn.*TEST FAILPOINT ARMED' '$log'"
	out=$(ctl_ run "$pod_config" --id "$id" 2>&1)
	rc=$?
	check "run $id fails: the daemon died ($rc)" "[ $rc -ne 0 ]"
	crashed "$point"
	restart
	check_converges "$id"
	check "... to $want (got $conv_state)" "[ '$conv_state' = '$want' ]"
	finish "$id"
	all_gone
	end_case "$id"
	stop_d
}
for p in Containers/Create:CREATED:cc Snapshots/Prepare:CREATED:sp \
	Tasks/Create:CREATED:tc Tasks/Start:READY:ts; do
	IFS=: read -r point want tag <<<"$p"
	run_case "start, crash after $point" start_case "$point" "$want" \
		"$pfx-st-$tag"
done

# 2. A crash during stop.
stop_case() {
	local id=$pfx-stop out pid
	check "podsandboxd starts with PSB_FAILPOINT=Tasks/Kill" \
		"start_d Tasks/Kill"
	check "run $id succeeds" \
		"ctl_ run '$pod_config' --id '$id' >/dev/null 2>&1"
	pid=$(field "$id" pid)
	# The exit (seen by pidfd or the event stream) may be committed, and
	# Stop answered, before Tasks.Kill's answer is read: either outcome.
	out=$(ctl_ stop "$id" 2>&1)
	echo "# stop $id exited $? before the crash: $out"
	crashed Tasks/Kill
	restart
	check_converges "$id"
	check "... to EXITED (got $conv_state)" "[ '$conv_state' = EXITED ]"
	check "the pause process $pid is gone" "! is_pause '$pid'"
	finish "$id"
	all_gone
	end_case "$id"
	stop_d
}
run_case "stop, crash after Tasks/Kill" stop_case

# 3. Crashes during shutdown (rm of a READY sandbox).
shutdown_case() {
	local point=$1 id=$2 out
	check "podsandboxd starts with PSB_FAILPOINT=$point" \
		"start_d '$point'"
	check "run $id succeeds" \
		"ctl_ run '$pod_config' --id '$id' >/dev/null 2>&1"
	out=$(ctl_ rm "$id" 2>&1)
	check "rm $id fails: the daemon died" "[ $? -ne 0 ]"
	crashed "$point"
	restart
	check_converges "$id"
	check "... and is gone: the shutdown completed (got $conv_state)" \
		"[ '$conv_state' = NOT_FOUND ]"
	finish "$id"
	all_gone
	end_case "$id"
	stop_d
}
for p in Tasks/Kill:k1 Tasks/Kill:2:k2 Tasks/Delete:d1 Tasks/Delete:2:d2 \
	Containers/Delete:cd Snapshots/Remove:sr; do
	point=${p%:*}
	run_case "shutdown, crash after $point" shutdown_case "$point" \
		"$pfx-sd-${p##*:}"
done

# 4. kill -9 from outside with sandboxes in several states.
multi_case() {
	local a=$pfx-m-ready b=$pfx-m-exited c=$pfx-m-created d=$pfx-m-died
	local apid bexit dpause id
	check "podsandboxd starts" start_d
	check "run $a succeeds" "ctl_ run '$pod_config' --id '$a' >/dev/null 2>&1"
	check "run $b succeeds" "ctl_ run '$pod_config' --id '$b' >/dev/null 2>&1"
	check "stop $b succeeds" "ctl_ stop '$b' >/dev/null 2>&1"
	check "create $c succeeds" \
		"ctl_ create '$pod_config' --id '$c' >/dev/null 2>&1"
	check "run $d succeeds" "ctl_ run '$pod_config' --id '$d' >/dev/null 2>&1"
	apid=$(field "$a" pid)
	bexit=$(field "$b" exitStatus)
	dpause=$(field "$d" pid)
	check "$a READY ($(state_of "$a")), $b EXITED ($(state_of "$b")), $c CREATED ($(state_of "$c")), $d READY ($(state_of "$d"))" \
		"[ \"\$(state_of $a)/\$(state_of $b)/\$(state_of $c)/\$(state_of $d)\" = READY/EXITED/CREATED/READY ]"
	kill_daemon
	check "kill -9 ends the daemon (wait status $status)" "[ '$status' = 137 ]"
	# While the daemon is down: nobody hears of this exit but containerd.
	kill -KILL "$dpause"
	check "the pause of $d ($dpause) is killed, containerd has its task STOPPED" \
		"wait_for 10 eval '[[ \$(task_of $d) == *STOPPED ]]'"
	rt_opts=resync_ms=$resync_ms
	restart
	rt_opts=
	for id in "$a" "$b" "$c" "$d"; do
		check_converges "$id"
	done
	check "$a is READY with the same pid $apid ($(state_of "$a"), $(field "$a" pid))" \
		"[ \"\$(state_of $a)\" = READY ] && [ \"\$(field $a pid)\" = '$apid' ] && is_pause '$apid'"
	check "$b is EXITED with the same exit status $bexit" \
		"[ \"\$(state_of $b)\" = EXITED ] && [ \"\$(field $b exitStatus)\" = '$bexit' ]"
	check "$c is CREATED" "[ \"\$(state_of $c)\" = CREATED ]"
	check "$d is EXITED with 137, found at the restart" \
		"[ \"\$(state_of $d)\" = EXITED ] && [ \"\$(field $d exitStatus)\" = 137 ]"
	# The periodic resync reaps $d's exited task; by then it has looked at
	# $a's task too, and must not have taken it for a vanished one.
	check "a periodic resync ran: it reaped the exited task of $d" \
		"wait_for $((resync_ms * 20 / 1000 + 5)) eval '[[ -z \$(task_of $d) ]]'"
	check "$a is still READY after a periodic resync ($(state_of "$a"), $(task_of "$a"))" \
		"[ \"\$(state_of $a)\" = READY ] && consistent '$a'"
	for id in "$a" "$b" "$c" "$d"; do
		finish "$id"
	done
	all_gone
	end_case "$pfx-m-"
	stop_d
}
run_case "kill -9 with READY, EXITED and CREATED sandboxes" multi_case

# 5. Random: churn in the background, kill -9 at a random moment. The
# churn stops at the first call that finds no daemon, and takes no new
# call once $dir/churn.stop exists (made before the kill, so that no call
# of it reaches the restarted daemon).
churn() {
	local r=$1 i=0 id
	while [[ ! -e $dir/churn.stop ]]; do
		i=$((i + 1))
		id=$pfx-r$r-$i
		if ((RANDOM % 5 == 0)); then
			churn_ctl create "$pod_config" --id "$id" || return
			continue
		fi
		churn_ctl run "$pod_config" --id "$id" || return
		if ((RANDOM % 3 != 0)); then
			churn_ctl stop "$id" || return
		fi
		if ((RANDOM % 4 != 0)); then
			churn_ctl rm "$id" || return
		fi
	done
}
# churn_ctl ARGS: false once the daemon is unreachable or churn stops.
churn_ctl() {
	[[ -e $dir/churn.stop ]] && return 1
	timeout 10 "$ctl" --timeout 5000 --socket "ipc://$dir/api.sock" \
		"$@" >/dev/null 2>&1
	(($? != 3))
}
random_case() {
	local r=$1 cpid delay ids id orphans out
	check "podsandboxd starts" start_d
	rm -f "$dir/churn.stop"
	churn "$r" &
	cpid=$!
	delay=$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.3 + (r % 200) / 100 }')
	sleep "$delay"
	touch "$dir/churn.stop"
	kill_daemon
	check "kill -9 after $delay s ends the daemon ($status)" \
		"[ '$status' = 137 ]"
	wait "$cpid"
	restart
	mapfile -t ids < <(ctl_ ls -q 2>/dev/null)
	echo "# round $r: ${#ids[@]} sandboxes after the restart"
	for id in "${ids[@]}"; do
		check_converges "$id"
	done
	# Containers of ours without a row are reaped at start-up.
	orphans=
	for _ in $(seq 1 50); do
		orphans=$(comm -23 <(ctr_ containers ls -q 2>/dev/null | sort) \
			<(printf '%s\n' "${ids[@]}" | sort) | tr '\n' ' ')
		[[ -z ${orphans// /} ]] && break
		sleep 0.2
	done
	check "containerd has no container of ours without a row (${orphans:-none})" \
		"[ -z '${orphans// /}' ]"
	for id in "${ids[@]}"; do
		out=$(ctl_ rm "$id" 2>&1)
		check "rm $id succeeds: $out" "[ $? -eq 0 ]"
	done
	check "nothing of ours is left in containerd, no pause process" \
		"wait_for 10 nothing_left"
	end_case "$pfx-r$r-"
	stop_d
}
for r in $(seq 1 "$random_rounds"); do
	run_case "random round $r" random_case "$r"
done

bash "$harness" stop "$dir" >/dev/null 2>&1
started=0
check "no pause process of ours is left" "[ -z \"\$(pause_pids)\" ]"
e2e_end

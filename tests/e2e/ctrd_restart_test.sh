#!/usr/bin/env bash
# e2e: containerd down or restarted while podsandboxd runs (issue 4, items
# 7 and 8).
#
#   ctrd_restart_test.sh PODSANDBOXD PODSANDBOXCTL IMAGE_TAR IMAGE_NAME POD_CONFIG
#
# A private containerd (containerd.sh), the pause image imported into
# namespace "podsandbox", podsandboxd --runtime=containerd on it. Only the
# containerd process is killed (its shims and pause processes live on), and
# containerd.sh start brings it back on the same directory:
# 1. three sandboxes READY, containerd killed (TERM). While it is down:
#    status answers READY from memory at once, run fails fast with
#    UNAVAILABLE, a stop is held while the kill is retried (its answer
#    bounded by --timeout: DEADLINE_EXCEEDED) and the pause stays alive;
#    kill -9 of a pause process.
#    After the restart the stop is carried out without another request:
#    EXITED with 137.
#    containerd stays down longer than the shim re-sends its exit event,
#    so only the resync can find that exit. After the restart: the killed
#    one is EXITED with 137, the others keep their state and pid, the
#    missed-exit counter went up, run works; stop + rm of everything leaves
#    no task, container, snapshot or pause process.
# 2. containerd restarted at once with sandboxes READY: they stay READY
#    with the same pids through a full resync period; the exit watch works
#    again (kill -9 -> EXITED 137); stop, wait and rm work.
# 3. as 1 with SIGKILL for containerd and a short outage.
# The daemon runs throughout and exits 0 on SIGTERM at the end.
# Exits 77 (skip) with the reason when containerd cannot run here.
set -u

# shellcheck source=tests/e2e/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh" "$@"
pfx=rst
# podsandboxd's periodic Tasks.List resync (runtime option resync_ms).
resync_s=10
rt_opts=resync_ms=$((resync_s * 1000))
# containerd-shim-runc-v2 re-sends an event containerd did not take after
# 1, 3, 6, 10 and 15 s, then drops it.
republish_s=15
e2e_begin psbrst

missed() {
	ctl_ version -o json 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["missedExits"])' 2>/dev/null
}

daemon_alive() { [[ -n $dpid ]] && kill -0 "$dpid" 2>/dev/null; }

# run_ready ID: run ID; it is READY with a live /pause pid, printed.
run_ready() {
	local out rc pid
	out=$(ctl_ run "$pod_config" --id "$1" 2>&1)
	rc=$?
	pid=$(field "$1" pid)
	if ((rc != 0)) || [[ $(field "$1" state) != READY ]] ||
		! [[ $pid =~ ^[0-9]+$ ]] || ! is_pause "$pid"; then
		echo "# run $1: rc $rc: $out" >&2
		return 1
	fi
	echo "$pid"
}

# status_fast ID: status answers READY within 2 s; prints the ms taken.
status_fast() {
	local t0 t1 st
	t0=$(now_ms)
	st=$(field "$1" state)
	t1=$(now_ms)
	echo "# status $1 while containerd is down: $st in $((t1 - t0)) ms"
	[[ $st == READY ]] && ((t1 - t0 < 2000))
}

# run_down ID: run while containerd is down fails within 5 s, with
# UNAVAILABLE and containerd named, and leaves ID CREATED (nothing ran).
run_down() {
	local t0 t1 rc out
	t0=$(now_ms)
	out=$(ctl_ run "$pod_config" --id "$1" 2>&1)
	rc=$?
	t1=$(now_ms)
	echo "# run $1 while containerd is down: exit $rc in $((t1 - t0)) ms: $out"
	# The CLI exits 3 for UNAVAILABLE (also used when the daemon itself
	# cannot be reached); 1 is any other API error.
	((rc == 1 || rc == 3)) && ((t1 - t0 < 5000)) &&
		grep -q 'UNAVAILABLE.*containerd' <<<"$out" &&
		[[ $(field "$1" state) == CREATED ]]
}

# converge ID STATE SECONDS: poll until ID is in STATE; prints ms taken.
converge() {
	local t0 i
	t0=$(now_ms)
	for ((i = 0; i < $3 * 10; i++)); do
		if [[ $(field "$1" state) == "$2" ]]; then
			echo "$(($(now_ms) - t0))"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# stays ID STATE PID SECONDS: ID is STATE with PID at every look.
stays() {
	local i end
	end=$(($(now_ms) + $4 * 1000))
	while (($(now_ms) < end)); do
		[[ $(field "$1" state) == "$2" && $(field "$1" pid) == "$3" ]] ||
			return 1
		alive "$3" || return 1
		sleep 0.5
	done
}

# stop_rm ID: stop; wait prints 137; rm.
stop_rm() {
	ctl_ stop "$1" >/dev/null 2>&1 &&
		[[ $(ctl_ wait "$1" 2>&1) == 137 ]] &&
		ctl_ rm "$1" >/dev/null 2>&1
}

check "podsandboxd starts on containerd" "start_daemon '$dir/daemon.log'"

# 1. containerd down (TERM) with three live sandboxes.
a=$pfx-a b=$pfx-b c=$pfx-c
pa=$(run_ready "$a")
check "$a runs (pid '$pa')" "[ -n '$pa' ]"
pb=$(run_ready "$b")
check "$b runs (pid '$pb')" "[ -n '$pb' ]"
pc=$(run_ready "$c")
check "$c runs (pid '$pc')" "[ -n '$pc' ]"
m0=$(missed)
check "version reports the missed-exit counter ('$m0')" "[[ '$m0' =~ ^[0-9]+$ ]]"
shims=$(pgrep -f "containerd-shim.* -address $dir/containerd.sock" | wc -l)

check "containerd is killed (TERM) and gone" "kill_ctrd TERM"
check "... its shims and pause processes live on" \
	"is_pause '$pa' && is_pause '$pb' && is_pause '$pc' && [ \"\$(pgrep -f 'containerd-shim.* -address $dir/containerd.sock' | wc -l)\" = '$shims' ]"
check "status of $a answers READY from memory within 2 s" "status_fast $a"
check "status of $b answers READY from memory within 2 s" "status_fast $b"
check "status of $c answers READY from memory within 2 s" "status_fast $c"
check "verbose status answers from memory too" \
	"ctl_ status -v -o json $a 2>/dev/null | grep -q '\"processStatus\": \"running\"'"
check "ls answers from memory: three READY" \
	"[ \"\$(ctl_ ls 2>/dev/null | grep -c ' READY ')\" = 3 ]"
check "run fails fast with UNAVAILABLE and leaves a CREATED sandbox" \
	"run_down $pfx-d"
# Stop cannot send the kill: the kill is tried again after each backoff,
# the request is answered when its timeout runs out, and the stop is not
# forgotten (the sandbox stays STOPPING, later UNKNOWN with the stop
# still wanted); its pause is untouched meanwhile.
t0=$(now_ms)
out=$(ctl_ stop "$b" --timeout 1 2>&1)
rc=$?
t1=$(now_ms)
echo "# stop $b while containerd is down: exit $rc in $((t1 - t0)) ms: $out"
check "stop of $b is answered DEADLINE_EXCEEDED after its 1 s timeout" \
	"((rc == 1)) && ((t1 - t0 < 3000)) && grep -q 'DEADLINE_EXCEEDED' <<<\"\$out\""
check "... $b is STOPPING (not flapping through UNKNOWN), its pause alive" \
	"[ \"\$(field $b state)\" = STOPPING ] && is_pause '$pb'"
kill -9 "$pc"
tk=$(now_ms)
check "the pause process of $c is killed while containerd is down" \
	"! is_pause '$pc'"
# Outlast the shim's re-sends of the exit event and the pidfd watch's
# Tasks.Get: only the resync can tell this exit now.
while (($(now_ms) - tk < (republish_s + 2) * 1000)); do
	sleep 0.5
done
check "status still answers, for $a: READY" "status_fast $a"
check "the daemon is still running" daemon_alive

t0=$(now_ms)
check "containerd starts again on the same directory" \
	"bash '$harness' start '$dir'"
ms=$(converge "$c" EXITED 20)
check "$c is EXITED within 20 s of the restart (after ${ms:-?} ms)" "[ -n '$ms' ]"
echo "# restart to $c EXITED: ${ms:-never} ms"
out=$(ctl_ wait "$c" 2>&1)
check "wait $c prints 137 (got '$out')" "[ '$out' = 137 ]"
m1=$(missed)
check "the missed-exit counter went up ($m0 -> $m1)" \
	"[[ '$m1' =~ ^[0-9]+$ ]] && ((m1 > m0))"
check "the resync found it (daemon log)" \
	"grep -q '\[sandbox=$c\] containerd: exit found by resync' '$dir/daemon.log'"
check "$c's exited task was reaped" "! ctr_ tasks ls 2>/dev/null | grep -q '^$c '"
check "$a stays READY with pid $pa" "stays $a READY '$pa' 2"
check "the stop of $b is carried out once containerd is back: EXITED" \
	"converge $b EXITED 15 >/dev/null"
out=$(ctl_ wait "$b" 2>&1)
check "wait $b prints 137 (got '$out')" "[ '$out' = 137 ]"
check "... its pause is gone" "! is_pause '$pb'"
check "no sandbox was reported exited but $c and the stopped $b" \
	"! grep -Eq '\[sandbox=$a\] .*(vanished|exit found by resync|exited with status)' '$dir/daemon.log'"
pe=$(run_ready "$pfx-e")
check "run after the restart succeeds (pid '$pe')" "[ -n '$pe' ]"
echo "# restart to a successful run: $(($(now_ms) - t0)) ms"
check "stop + wait 137 + rm of $b" "stop_rm $b"
check "stop + wait 137 + rm of $a" "stop_rm $a"
check "stop + wait 137 + rm of $pfx-e" "stop_rm $pfx-e"
check "rm of the exited $c" "ctl_ rm $c >/dev/null 2>&1"
check "rm of the never-started $pfx-d" "ctl_ rm $pfx-d >/dev/null 2>&1"
check "no sandbox is left" "[ -z \"\$(ctl_ ls -q 2>/dev/null)\" ]"
check "no task, container or snapshot is left" nothing_left
check "no pause process of ours is left" "[ -z \"\$(pause_pids)\" ]"

# 2. containerd restarted at once; nothing changes meanwhile.
f=$pfx-f g=$pfx-g
pf=$(run_ready "$f")
check "$f runs (pid '$pf')" "[ -n '$pf' ]"
pg=$(run_ready "$g")
check "$g runs (pid '$pg')" "[ -n '$pg' ]"
check "containerd is killed (TERM) and started again at once" \
	"kill_ctrd TERM && bash '$harness' start '$dir'"
# A full resync period and then some: a resync that misread containerd's
# answer would end them.
check "$f stays READY with pid $pf for $((resync_s + 3)) s" \
	"stays $f READY '$pf' $((resync_s + 3))"
check "$g is READY with pid $pg" "stays $g READY '$pg' 1"
check "no exit was reported" \
	"! grep -Eq '\[sandbox=($f|$g)\] .*(vanished|exit found by resync|exited with status)' '$dir/daemon.log'"
kill -9 "$pg"
ms=$(converge "$g" EXITED 10)
check "kill -9 of $g's pause after the restart: EXITED within 10 s (${ms:-?} ms)" \
	"[ -n '$ms' ]"
out=$(ctl_ wait "$g" 2>&1)
check "wait $g prints 137 (got '$out')" "[ '$out' = 137 ]"
check "stop + wait 137 + rm of $f" "stop_rm $f"
check "rm of $g" "ctl_ rm $g >/dev/null 2>&1"
check "nothing is left after the quick restart" nothing_left
check "no pause process of ours is left" "[ -z \"\$(pause_pids)\" ]"

# 3. containerd killed with SIGKILL (its sockets stay behind); a short
# outage, so the exit may come from the pidfd watch, the shim's re-sent
# event or the resync: whichever, it is reported once, with 137.
h=$pfx-h i=$pfx-i
ph=$(run_ready "$h")
check "$h runs (pid '$ph')" "[ -n '$ph' ]"
pi=$(run_ready "$i")
check "$i runs (pid '$pi')" "[ -n '$pi' ]"
m0=$(missed)
check "containerd is killed (SIGKILL) and gone" "kill_ctrd KILL"
check "... its pause processes live on" "is_pause '$ph' && is_pause '$pi'"
check "status of $h answers READY from memory within 2 s" "status_fast $h"
check "run fails fast with UNAVAILABLE (SIGKILL)" "run_down $pfx-j"
kill -9 "$pi"
sleep 2
check "containerd starts again after SIGKILL" "bash '$harness' start '$dir'"
ms=$(converge "$i" EXITED 20)
check "$i is EXITED within 20 s of the restart (${ms:-?} ms)" "[ -n '$ms' ]"
echo "# SIGKILL restart to $i EXITED: ${ms:-never} ms"
out=$(ctl_ wait "$i" 2>&1)
check "wait $i prints 137 (got '$out')" "[ '$out' = 137 ]"
check "its exit was reported once" \
	"[ \"\$(ctl_ history $i 2>/dev/null | grep -c TASK_EXIT)\" = 1 ]"
m1=$(missed)
echo "# missed-exit counter $m0 -> $m1"
if grep -q "\[sandbox=$i\] containerd: exit found by resync" "$dir/daemon.log"; then
	check "the resync found it and counted it" "((m1 == m0 + 1))"
else
	check "found by the event or pidfd: not counted as missed" "((m1 == m0))"
fi
check "$h stays READY with pid $ph" "stays $h READY '$ph' 2"
pk=$(run_ready "$pfx-k")
check "run after the SIGKILL restart succeeds (pid '$pk')" "[ -n '$pk' ]"
check "stop + wait 137 + rm of $h" "stop_rm $h"
check "stop + wait 137 + rm of $pfx-k" "stop_rm $pfx-k"
check "rm of $i and of the never-started $pfx-j" \
	"ctl_ rm $i $pfx-j >/dev/null 2>&1"
check "no sandbox is left" "[ -z \"\$(ctl_ ls -q 2>/dev/null)\" ]"
check "nothing is left after the SIGKILL restart" nothing_left
check "no pause process of ours is left" "[ -z \"\$(pause_pids)\" ]"

check "the daemon ran throughout" daemon_alive
kill -TERM "$dpid"
wait "$dpid"
status=$?
dpid=
check "the daemon exits 0 on SIGTERM (got $status)" "[ $status -eq 0 ]"
check "the daemon log has no failed assertion or sanitizer report" \
	"! grep -Eq 'Assertion .* failed|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:' '$dir/daemon.log'"

bash "$harness" stop "$dir" >/dev/null 2>&1
started=0
check "no pause process of ours is left at the end" "[ -z \"\$(pause_pids)\" ]"
e2e_end

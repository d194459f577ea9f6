#!/usr/bin/env bash
# e2e: recovery at start-up on a real containerd (issue 4 item 6).
#
#   recovery_test.sh PODSANDBOXD PODSANDBOXCTL IMAGE_TAR IMAGE_NAME POD_CONFIG
#
# 1. Orphans: containers of ours with no sandbox row (a lost database) are
#    removed at start-up with their task, snapshot and pause process; a
#    sandbox created at once with an orphan's id starts after the removal.
# 2. containerd frozen (SIGSTOP) while podsandboxd starts: every sandbox
#    gets its own probe deadline and becomes UNKNOWN, start-up is not held,
#    Status answers; after SIGCONT they are READY again with the same pids.
# 3. containerd down while podsandboxd starts: UNKNOWN at once (fail fast),
#    Run fails with UNAVAILABLE; once containerd is back, the re-probe
#    finds the sandboxes READY, the orphans are removed, and everything
#    works.
# Exits 77 (skip) with the reason when containerd cannot run here.
set -u

# shellcheck source=tests/e2e/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh" "$@"
e2e_begin psbrc

ctrd_pid() { cat "$dir/containerd.pid"; }
forget_db() { rm -f "$dir/db" "$dir/db-wal" "$dir/db-shm"; }
containers() { ctr_ containers ls -q 2>/dev/null | sort | tr '\n' ' '; }

check "podsandboxd starts" "start_daemon '$dir/daemon1.log'"

# 1. Orphans after a lost database.
check "run orph-1 succeeds" \
	"ctl_ run '$pod_config' --id orph-1 >'$dir/out' 2>&1"
check "run orph-2 succeeds" \
	"ctl_ run '$pod_config' --id orph-2 >'$dir/out' 2>&1"
check "stop orph-2 succeeds (an exited task's container stays)" \
	"ctl_ stop orph-2 >/dev/null 2>&1"
check "run orph-3 succeeds" \
	"ctl_ run '$pod_config' --id orph-3 >'$dir/out' 2>&1"
p1=$(field orph-1 pid)
p3=$(field orph-3 pid)
stop_daemon
check "the daemon exits 0 on SIGTERM" "[ $status -eq 0 ]"
forget_db
check "containerd still has the three containers" \
	"[ \"\$(containers)\" = 'orph-1 orph-2 orph-3 ' ]"
check "podsandboxd starts on an empty database" \
	"start_daemon '$dir/daemon2.log'"
# orph-3 is created again at once: its start waits for the removal.
out=$(ctl_ run "$pod_config" --id orph-3 2>&1)
rc=$?
check "run orph-3 again right after start-up succeeds: $out" "[ $rc -eq 0 ]"
check "the orphans orph-1 and orph-2 are removed within 10 s" \
	"wait_for 10 eval '[ \"\$(containers)\" = \"orph-3 \" ]'"
check "... the start-up log names them" \
	"grep -q 'sandbox=orph-1.*orphan' '$dir/daemon2.log' && grep -q 'sandbox=orph-2.*orphan' '$dir/daemon2.log'"
check "orph-1's pause process ($p1) is gone" "! is_pause '$p1'"
check "the old orph-3 pause ($p3) is gone" "! is_pause '$p3'"
p3b=$(field orph-3 pid)
check "the new orph-3 is READY with a new live pause ($p3b)" \
	"[ \"\$(field orph-3 state)\" = READY ] && is_pause '$p3b' && [ '$p3b' != '$p3' ]"
check "runc keeps its state under the test's runc root" \
	"[ -f '$dir/runc/$ns/orph-3/state.json' ]"
check "status -v shows the runtime options" \
	"ctl_ status -v -o json orph-3 | grep -q '\"root\": *\"$dir/runc\"'"
check "one pause process of ours runs (orph-3's; got $(pause_pids))" \
	"[ \"\$(pause_pids)\" = '$p3b' ]"
check "rm orph-3 succeeds" "ctl_ rm orph-3 >/dev/null 2>&1"
check "nothing is left after the orphans" nothing_left
stop_daemon

# 2. containerd frozen while the daemon starts.
check "podsandboxd starts again" "start_daemon '$dir/daemon3.log'"
for id in frz-1 frz-2; do
	check "run $id succeeds" \
		"ctl_ run '$pod_config' --id $id >'$dir/out' 2>&1"
done
f1=$(field frz-1 pid)
f2=$(field frz-2 pid)
stop_daemon
kill -STOP "$(ctrd_pid)"
t0=$(date +%s%N)
check "podsandboxd starts while containerd is frozen" \
	"start_daemon '$dir/daemon4.log' --probe-timeout-ms=500"
check "frz-1 and frz-2 become UNKNOWN after their probe deadline" \
	"wait_state frz-1 UNKNOWN 5 && wait_state frz-2 UNKNOWN 5"
t1=$(date +%s%N)
echo "# frozen containerd: UNKNOWN $(((t1 - t0) / 1000000)) ms after the start"
check "... recovery finished without containerd" \
	"grep -q 'recovery: every sandbox resolved' '$dir/daemon4.log'"
check "... the log says the runtime did not answer in time" \
	"grep -q 'sandbox=frz-1.*did not answer within 500 ms' '$dir/daemon4.log'"
t0=$(date +%s%N)
check "status answers within 1 s meanwhile" \
	"timeout 1 $ctl --socket ipc://$dir/api.sock status frz-1 >/dev/null 2>&1"
kill -CONT "$(ctrd_pid)"
check "after SIGCONT both are READY again within 10 s" \
	"wait_state frz-1 READY 10 && wait_state frz-2 READY 10"
check "... with the same pause pids" \
	"[ \"\$(field frz-1 pid)\" = '$f1' ] && [ \"\$(field frz-2 pid)\" = '$f2' ]"
check "stop frz-1 works" "ctl_ stop frz-1 >/dev/null 2>&1"
out=$(ctl_ wait frz-1 2>&1)
check "wait frz-1 prints 137 (got '$out')" "[ '$out' = 137 ]"
stop_daemon

# 3. containerd down while the daemon starts. An orphan (our label, no
# row) waits for containerd to come back.
check "an orphan container is made with ctr" \
	"ctr_ containers create --label io.podsandboxd.sandbox-id=orph-late '$image' orph-late >/dev/null"
kill -TERM "$(ctrd_pid)"
wait_for 10 eval '! kill -0 "$(ctrd_pid)" 2>/dev/null'
check "containerd is down, the pause of frz-2 lives on ($f2)" \
	"! kill -0 \$(ctrd_pid) 2>/dev/null && is_pause '$f2'"
check "podsandboxd starts while containerd is down" \
	"start_daemon '$dir/daemon5.log' --reprobe-ms=200"
check "frz-2 is UNKNOWN within 2 s" "wait_state frz-2 UNKNOWN 2"
check "frz-1 stays EXITED (the recorded exit stands)" \
	"[ \"\$(field frz-1 state)\" = EXITED ]"
t0=$(date +%s%N)
ctl_ run "$pod_config" --id down-1 >"$dir/run-down" 2>&1
rc=$?
t1=$(date +%s%N)
check "run while containerd is down fails in $(((t1 - t0) / 1000000)) ms" \
	"[ $rc -ne 0 ] && ((t1 - t0 < 5000000000))"
check "... with UNAVAILABLE" "grep -q UNAVAILABLE '$dir/run-down'"
sed 's/^/# /' "$dir/run-down"
check "containerd starts again" "bash '$harness' start '$dir' >/dev/null"
check "frz-2 is READY again within 10 s, same pid" \
	"wait_state frz-2 READY 10 && [ \"\$(field frz-2 pid)\" = '$f2' ]"
check "the orphan is removed once containerd is back" \
	"wait_for 10 eval '! ctr_ containers ls -q 2>/dev/null | grep -qx orph-late'"
check "... the log says the orphans were looked for later" \
	"grep -q 'orphans cannot be looked for yet' '$dir/daemon5.log' && grep -q 'sandbox=orph-late.*orphan' '$dir/daemon5.log'"
check "run down-1 again succeeds" \
	"ctl_ rm down-1 >/dev/null 2>&1; ctl_ run '$pod_config' --id down-1 >'$dir/out' 2>&1"
for id in frz-1 frz-2 down-1; do
	check "rm $id succeeds" "ctl_ rm $id >/dev/null 2>&1"
done
check "nothing is left" nothing_left
stop_daemon
check "the daemon exits 0 on SIGTERM" "[ $status -eq 0 ]"
e2e_end

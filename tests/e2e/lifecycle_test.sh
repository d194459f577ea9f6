#!/usr/bin/env bash
# e2e: the sandbox lifecycle through podsandboxctl on a real containerd.
#
#   lifecycle_test.sh PODSANDBOXD PODSANDBOXCTL IMAGE_TAR IMAGE_NAME POD_CONFIG
#
# A private containerd (containerd.sh), the pause image imported into
# namespace "podsandbox", podsandboxd --runtime=containerd on it:
# 1. run -> READY with a live /pause pid; stop -> wait prints 137; rm ->
#    no task, container, snapshot or pause process left.
# 2. run, kill -9 of the pause process -> EXITED within 5 s, wait prints
#    137; rm.
# 3. a daemon configured with a missing image: run fails with
#    FAILED_PRECONDITION and the import hint.
# Exits 77 (skip) with the reason when containerd cannot run here.
set -u

daemon=$1 ctl=$2 tar_file=$3 image=$4 pod_config=$5
here=$(cd "$(dirname "$0")" && pwd)
harness="$here/../../scripts/containerd.sh"
ns=podsandbox

pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL - $1"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

for f in "$daemon" "$ctl" "$tar_file" "$pod_config"; do
	if [[ ! -e $f ]]; then
		echo "FAIL - $f is missing (build the default target)"
		exit 1
	fi
done
if ! reason=$(bash "$harness" check); then
	echo "SKIP - $reason"
	exit 77
fi

base=${PSB_TEST_TMPDIR:-/tmp}
((${#base} > 60)) && base=/tmp
while read -r old; do
	echo "# removing $old, left by an earlier run"
	bash "$harness" stop "$old" || true
	rm -rf "$old"
done < <(find "$base" -maxdepth 1 -name 'psblc-*' -mmin +15)
dir=$(mktemp -d "$base/psblc-XXXXXX")
started=0
dpid=
cleanup() {
	if [[ -n $dpid ]]; then
		kill -TERM "$dpid" 2>/dev/null
		wait "$dpid" 2>/dev/null
	fi
	if ((started)); then
		bash "$harness" stop "$dir" || true
	fi
	if ((fail != 0)); then
		for f in "$dir"/daemon*.log "$dir/containerd.log"; do
			[[ -f $f ]] || continue
			echo "--- last lines of $f"
			tail -n 30 "$f"
		done
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

ctr_() {
	ctr --address "$dir/containerd.sock" --connect-timeout 2s -n "$ns" "$@"
}
ctl_() {
	timeout 30 "$ctl" --timeout 20000 --socket "ipc://$dir/api.sock" \
		--events-socket "ipc://$dir/ev.sock" "$@"
}

# start_daemon IMAGE LOG: podsandboxd on the private containerd.
start_daemon() {
	"$daemon" --runtime=containerd \
		--runtime-options "address=$dir/containerd.sock,namespace=$ns,image=$1,image_archive=$tar_file" \
		--db "$dir/db" --state-dir "$dir/run" \
		--socket "ipc://$dir/api.sock" \
		--events-socket "ipc://$dir/ev.sock" \
		--log-level=debug >"$2" 2>&1 &
	dpid=$!
	for _ in $(seq 1 100); do
		grep -q "ready" "$2" 2>/dev/null && return 0
		kill -0 "$dpid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

stop_daemon() {
	kill -TERM "$dpid"
	wait "$dpid"
	status=$?
	dpid=
}

# field ID KEY: a top-level key of `status -v -o json` (or nested .info).
field() {
	ctl_ status -v -o json "$1" 2>/dev/null |
		python3 -c '
import json, sys
j, k = json.load(sys.stdin), sys.argv[1]
for o in (j, j.get("status") or {}, j.get("info") or {}):
    if isinstance(o, dict) and o.get(k) not in (None, ""):
        print(o[k])
        break
' "$2" 2>/dev/null
}

is_pause() {
	[[ -r /proc/$1/cmdline ]] &&
		[[ $(tr '\0' ' ' <"/proc/$1/cmdline") == "/pause"* ]]
}

nothing_left() {
	[[ -z $(ctr_ tasks ls -q 2>&1) ]] &&
		[[ -z $(ctr_ containers ls -q 2>&1) ]] &&
		[[ -z $(ctr_ snapshots ls 2>/dev/null | awk 'NR > 1 && $3 == "Active"') ]]
}

# wait_state ID STATE SECONDS
wait_state() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[[ $(field "$1" state) == "$2" ]] && return 0
		sleep 0.1
	done
	return 1
}

if ! bash "$harness" start "$dir"; then
	bad "the private containerd starts"
	exit 1
fi
started=1
name=$(bash "$harness" import "$dir" "$tar_file" "$ns" 2>"$dir/import.log")
check "the pause image is imported as $image" "[ '$name' = '$image' ]"

check "podsandboxd starts on containerd" \
	"start_daemon '$image' '$dir/daemon1.log'"

# 1. The full lifecycle.
t0=$(date +%s%N)
out=$(ctl_ run "$pod_config" --id e2e-1 2>&1)
rc=$?
t1=$(date +%s%N)
check "run e2e-1 succeeds ($(((t1 - t0) / 1000000)) ms): $out" "[ $rc -eq 0 ]"
ctl_ status -v -o json e2e-1 >"$dir/status1.json" 2>&1
state=$(field e2e-1 state)
pid=$(field e2e-1 pid)
check "status says READY (got '$state')" "[ '$state' = READY ]"
check "the pid is a live /pause process (pid '$pid')" \
	"[[ '$pid' =~ ^[0-9]+$ ]] && ((pid > 0)) && is_pause '$pid'"
check "containerd runs the task" \
	"ctr_ tasks ls 2>/dev/null | grep -q 'e2e-1.*RUNNING'"
check "the container has our labels" \
	"ctr_ containers info e2e-1 2>/dev/null | grep -q 'io.podsandboxd.sandbox-id'"
# Verbose Status shows the seed's SandboxInfo keys as containerd has them.
info_ok=$(python3 -c '
import json, sys
i = json.load(open(sys.argv[1]))["info"]
ok = (i["image"] == sys.argv[2] and i["snapshotter"] == "overlayfs"
      and i["snapshotKey"] == "e2e-1"
      and i["runtimeType"] == "io.containerd.runc.v2"
      and i["runtimeSpec"]["process"]["args"] == ["/pause"]
      and i["processStatus"] == "running")
print("yes" if ok else "no")' "$dir/status1.json" "$image" 2>/dev/null)
check "status -v shows image, snapshot, runtime type and spec" \
	"[ '$info_ok' = yes ]"
check "version reports the runtime's missed-exit counter" \
	"ctl_ version -o json 2>/dev/null | python3 -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if j[\"runtime\"] == \"containerd\" and isinstance(j[\"missedExits\"], int) else 1)'"
check "stop succeeds" "ctl_ stop e2e-1 >'$dir/stop1' 2>&1"
out=$(ctl_ wait e2e-1 2>&1)
check "wait prints 137 (got '$out')" "[ '$out' = 137 ]"
check "rm succeeds" "ctl_ rm e2e-1 >'$dir/rm1' 2>&1"
check "no task, container or snapshot is left" nothing_left
check "no pause process is left" "[[ -z '$pid' ]] || ! is_pause '$pid'"

# 2. kill -9 of the pause process.
out=$(ctl_ run "$pod_config" --id e2e-2 2>&1)
rc=$?
check "run e2e-2 succeeds: $out" "[ $rc -eq 0 ]"
pid=$(field e2e-2 pid)
check "e2e-2 has a /pause pid ('$pid')" \
	"[[ '$pid' =~ ^[0-9]+$ ]] && is_pause '$pid'"
t0=$(date +%s%N)
[[ $pid =~ ^[0-9]+$ ]] && kill -9 "$pid"
check "EXITED within 5 s of kill -9" "wait_state e2e-2 EXITED 5"
t1=$(date +%s%N)
echo "# kill -9 to EXITED: $(((t1 - t0) / 1000000)) ms"
out=$(ctl_ wait e2e-2 2>&1)
check "wait prints 137 (got '$out')" "[ '$out' = 137 ]"
check "the exited task was reaped" \
	"! ctr_ tasks ls 2>/dev/null | grep -q e2e-2"
# The pidfd sees the exit first; its Tasks.Get and the event stream's
# TaskExit race to claim it, and one TASK_EXIT reaches the controller.
check "the exit of pid $pid was seen by its pidfd" \
	"grep -q '\[sandbox=e2e-2\] containerd: exit of pid $pid seen by pidfd' '$dir/daemon1.log'"
check "the history of e2e-2 has exactly one TASK_EXIT" \
	"[ \"\$(ctl_ history e2e-2 2>/dev/null | grep -c TASK_EXIT)\" = 1 ]"
check "rm e2e-2 succeeds" "ctl_ rm e2e-2 >'$dir/rm2' 2>&1"
check "nothing is left after e2e-2" nothing_left
check "the backend reported one exit of e2e-2 (no duplicate TASK_EXIT)" \
	"[ \"\$(grep -c '\[sandbox=e2e-2\] containerd: pause task (pid [0-9]*) exited with status' '$dir/daemon1.log')\" = 1 ] && ! grep -q '\[sandbox=e2e-2\] TASK_EXIT ignored' '$dir/daemon1.log'"
check "the daemon keeps no pidfd once its sandboxes are gone" \
	"ls -l /proc/$dpid/fd >'$dir/fds2' && ! grep -q pidfd '$dir/fds2'"

# Leftovers of an earlier attempt (as a crash between steps leaves them):
# a container AND a snapshot already named like the sandbox. Start removes
# each once and goes on.
ctr_ containers create "$image" e2e-stale >/dev/null 2>&1
check "a stale container and snapshot exist before the start" \
	"ctr_ containers ls -q 2>/dev/null | grep -qx e2e-stale && ctr_ snapshots ls 2>/dev/null | grep -q '^e2e-stale '"
check "run over the leftovers succeeds" \
	"ctl_ run '$pod_config' --id e2e-stale >'$dir/run-stale' 2>&1"
check "... and the sandbox runs" "[ \"\$(field e2e-stale state)\" = READY ]"
check "rm e2e-stale succeeds" "ctl_ rm e2e-stale >/dev/null 2>&1"
check "nothing is left after the leftovers" nothing_left

# Churn: sandboxes started right after others were removed. containerd's
# garbage collector once took a freshly prepared snapshot before its task
# mounted it (the container now comes first and holds it).
churn_ok=1
for i in $(seq 1 20); do
	if ! ctl_ run "$pod_config" --id "churn-$i" >/dev/null 2>&1 ||
		! ctl_ stop "churn-$i" >/dev/null 2>&1 ||
		! ctl_ rm "churn-$i" >/dev/null 2>&1; then
		churn_ok=0
		break
	fi
done
check "20 run+stop+rm cycles back to back all succeed" "[ $churn_ok -eq 1 ]"
check "nothing is left after the churn" nothing_left

stop_daemon
check "the daemon exits 0 on SIGTERM" "[ $status -eq 0 ]"

# 3. A missing sandbox image.
check "podsandboxd starts with a missing image" \
	"start_daemon localhost/none:0 '$dir/daemon2.log'"
for _ in $(seq 1 50); do
	grep -q 'localhost/none:0.*import it with' "$dir/daemon2.log" && break
	sleep 0.1
done
check "... and says at start-up that the image is missing, how to import it" \
	"grep -q 'error.*sandbox image \"localhost/none:0\" is not in containerd namespace.*import it with' '$dir/daemon2.log'"
ctl_ run "$pod_config" --id e2e-3 >"$dir/run3" 2>&1
rc=$?
check "run with a missing image exits 1 (got $rc)" "[ $rc -eq 1 ]"
check "... with FAILED_PRECONDITION" "grep -q FAILED_PRECONDITION '$dir/run3'"
check "... and the import hint" \
	"grep -q 'images import' '$dir/run3' && grep -q 'localhost/none:0' '$dir/run3'"
sed 's/^/# /' "$dir/run3"
ctl_ rm e2e-3 >/dev/null 2>&1
check "nothing is left after the failed start" nothing_left
stop_daemon
check "the second daemon exits 0 on SIGTERM" "[ $status -eq 0 ]"

bash "$harness" stop "$dir" >/dev/null 2>&1
started=0
# Pause processes whose root is under our containerd's state.
ours() {
	local p
	for p in $(pgrep -x pause); do
		[[ $(readlink "/proc/$p/root" 2>/dev/null) == "$dir"/* ]] &&
			echo "$p"
	done
}
check "no pause process of ours is left" "[ -z \"\$(ours)\" ]"

echo "# $pass passed, $fail failed"
((fail == 0))

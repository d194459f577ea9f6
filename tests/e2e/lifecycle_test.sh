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
# Along the way: the sandbox files of e2e-1 (hostname, hosts, resolv.conf
# from dns_config in the pod, its 64 MiB shm tmpfs; their paths in status
# -v; gone after rm; IPC NODE: the host's /dev/shm), the sample pod (no seccomp field) runs its pause process
# without a seccomp filter, a RuntimeDefault pod with one (Seccomp: 2),
# and a Localhost pod whose profile file is missing fails to start with
# INVALID_ARGUMENT and leaves nothing behind.
# Exits 77 (skip) with the reason when containerd cannot run here.
set -u

# shellcheck source=tests/e2e/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh" "$@"
e2e_begin psblc

check "podsandboxd starts on containerd" "start_daemon '$dir/daemon1.log'"

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
# No seccomp field: no filter of ours (the mode is what we run under, 0
# unless this test itself runs under a filter).
own_mode=$(awk '/^Seccomp:/ {print $2}' /proc/self/status)
mode=$(awk '/^Seccomp:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
check "without a seccomp field the pause runs unfiltered (Seccomp: '$mode')" \
	"[ -n '$mode' ] && [ '$mode' = '$own_mode' ]"
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
# Sandbox files: the sample pod has a hostname and a dns_config.
sbf=$dir/sandboxes/e2e-1
shm=$dir/sandbox-state/e2e-1/shm
check "hostname, hosts and resolv.conf are under the sandbox root" \
	"[ \"\$(cat '$sbf/hostname')\" = nginx ] && cmp -s /etc/hosts '$sbf/hosts' && [ -f '$sbf/resolv.conf' ]"
check "the pod's resolv.conf has the servers, searches and options" \
	"[ \"\$(cat '/proc/$pid/root/etc/resolv.conf')\" = \"\$(printf 'search example.com\nnameserver 8.8.8.8\nnameserver 1.1.1.1\noptions ndots:5')\" ]"
check "the pod's /dev/shm is a 64 MiB tmpfs" \
	"awk '\$5 == \"/dev/shm\"' '/proc/$pid/mountinfo' | grep -q ' - tmpfs shm .*size=65536k'"
check "... mounted on the host at $shm" \
	"grep -F ' $shm ' /proc/self/mountinfo | grep -q ' - tmpfs shm .*size=65536k'"
files_ok=$(python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))["info"]["sandboxFiles"]
r, s = sys.argv[2], sys.argv[3]
ok = f == {"root": r, "state": s, "hostname": r + "/hostname",
           "hosts": r + "/hosts", "resolvConf": r + "/resolv.conf",
           "shm": s + "/shm"}
print("yes" if ok else "no")' "$dir/status1.json" "$sbf" \
	"$dir/sandbox-state/e2e-1" 2>/dev/null)
check "status -v shows the sandbox file paths" "[ '$files_ok' = yes ]"
check "version reports the runtime's missed-exit counter" \
	"ctl_ version -o json 2>/dev/null | python3 -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if j[\"runtime\"] == \"containerd\" and isinstance(j[\"missedExits\"], int) else 1)'"
check "stop succeeds" "ctl_ stop e2e-1 >'$dir/stop1' 2>&1"
out=$(ctl_ wait e2e-1 2>&1)
check "wait prints 137 (got '$out')" "[ '$out' = 137 ]"
shm_gone() { ! grep -qF " $shm " /proc/self/mountinfo; }
check "after stop the shm of e2e-1 is unmounted (within 5 s)" "wait_for 5 shm_gone"
check "... and its files stay until rm" "[ -f '$sbf/resolv.conf' ] && [ -d '$dir/sandbox-state/e2e-1' ]"
check "rm succeeds" "ctl_ rm e2e-1 >'$dir/rm1' 2>&1"
check "no task, container or snapshot is left" nothing_left
check "no pause process is left" "[[ -z '$pid' ]] || ! is_pause '$pid'"
check "the sandbox dirs of e2e-1 are gone" \
	"[ ! -e '$sbf' ] && [ ! -e '$dir/sandbox-state/e2e-1' ]"
check "no shm mount of e2e-1 is left on the host" \
	"! grep -qF ' $shm ' /proc/self/mountinfo"

# A task bundle containerd left behind (killed between making it and
# starting the shim; containerd 1.6 never removes it and Tasks.Create of
# the id fails with "file exists" for ever): the daemon recognises its own
# id's bundle, removes it and creates the task again. One with a shim's
# address file is not a leftover: refused, named, left alone.
bundles=$dir/state/io.containerd.runtime.v2.task/podsandbox
mkdir -p "$bundles/e2e-bundle/rootfs" "$bundles/e2e-busy"
touch "$bundles/e2e-bundle/config.json" "$bundles/e2e-busy/address"
out=$(ctl_ run "$pod_config" --id e2e-bundle 2>&1)
rc=$?
check "run over a leftover task bundle succeeds: $out" "[ $rc -eq 0 ]"
check "... READY, and the daemon said why" \
	"[ \"\$(field e2e-bundle state)\" = READY ] && grep -q 'e2e-bundle.*task bundle .* of an earlier attempt' '$dir/daemon1.log'"
check "rm e2e-bundle succeeds, nothing left" \
	"ctl_ rm e2e-bundle >/dev/null 2>&1 && nothing_left"
ctl_ run "$pod_config" --id e2e-busy >"$dir/run-busy" 2>&1
rc=$?
check "a bundle with a shim's address is refused (rc $rc), naming it" \
	"[ $rc -ne 0 ] && grep -q 'e2e-busy has a shim' '$dir/run-busy'"
check "... and left alone" "[ -f '$bundles/e2e-busy/address' ]"
rm -rf "$bundles/e2e-busy"
ctl_ rm e2e-busy >/dev/null 2>&1
check "nothing is left after the refused bundle" nothing_left

# Seccomp: RuntimeDefault (profile_type 0, as crictl's JSON has it) puts
# the pause process under a filter; a missing Localhost profile fails.
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
c["linux"]["security_context"]["seccomp"] = {"profile_type": 0}
json.dump(c, open(sys.argv[2], "w"))
c["linux"]["security_context"]["seccomp"] = {
    "profile_type": 2, "localhost_ref": sys.argv[4]}
json.dump(c, open(sys.argv[3], "w"))' "$pod_config" "$dir/pod-seccomp.json" \
	"$dir/pod-seccomp-missing.json" "$dir/no-such-profile.json"
out=$(ctl_ run "$dir/pod-seccomp.json" --id e2e-sc 2>&1)
rc=$?
check "run e2e-sc (RuntimeDefault seccomp) succeeds: $out" "[ $rc -eq 0 ]"
check "... and it is READY" "[ \"\$(field e2e-sc state)\" = READY ]"
pid=$(field e2e-sc pid)
mode=$(awk '/^Seccomp:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
check "the RuntimeDefault pause runs under a seccomp filter (Seccomp: '$mode')" \
	"[ '$mode' = 2 ]"
check "rm e2e-sc succeeds" "ctl_ rm e2e-sc >'$dir/rm-sc' 2>&1"
check "nothing is left after e2e-sc" nothing_left
check "no pause process of e2e-sc is left" "[[ -z '$pid' ]] || ! is_pause '$pid'"
ctl_ run "$dir/pod-seccomp-missing.json" --id e2e-scm >"$dir/run-scm" 2>&1
rc=$?
check "run with a missing Localhost profile fails (rc $rc)" "[ $rc -ne 0 ]"
check "... with INVALID_ARGUMENT naming the profile" \
	"grep -q INVALID_ARGUMENT '$dir/run-scm' && grep -q 'no-such-profile.json' '$dir/run-scm'"
sed 's/^/# /' "$dir/run-scm"
ctl_ rm e2e-scm >/dev/null 2>&1
check "nothing is left after the failed seccomp start" nothing_left

# IPC NODE: no shm tmpfs of ours; the pause gets the host's /dev/shm.
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
c["linux"]["security_context"]["namespace_options"]["ipc"] = "NODE"
c["linux"].pop("sysctls", None)  # runc refuses kernel.shm_* in the host ipc ns
json.dump(c, open(sys.argv[2], "w"))' "$pod_config" "$dir/pod-ipc-node.json"
out=$(ctl_ run "$dir/pod-ipc-node.json" --id e2e-ipc 2>&1)
rc=$?
check "run e2e-ipc (IPC NODE) succeeds: $out" "[ $rc -eq 0 ]"
check "... with no shm mount of its own" \
	"[ ! -e '$dir/sandbox-state/e2e-ipc/shm' ] && ! grep -qF ' $dir/sandbox-state/e2e-ipc/' /proc/self/mountinfo"
check "... and status -v says its shm is the host's /dev/shm" \
	"ctl_ status -v -o json e2e-ipc 2>/dev/null | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"info\"][\"sandboxFiles\"][\"shm\"] == \"/dev/shm\" else 1)'"
check "rm e2e-ipc succeeds" "ctl_ rm e2e-ipc >/dev/null 2>&1"
check "nothing is left after e2e-ipc" nothing_left
check "the host's /dev/shm is still mounted" \
	"awk '\$5 == \"/dev/shm\"' /proc/self/mountinfo | grep -q ."

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
	"image=localhost/none:0 start_daemon '$dir/daemon2.log'"
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
check "no pause process of ours is left" "[ -z \"\$(pause_pids)\" ]"
e2e_end

# tests/e2e/lib.sh - what every end-to-end test shares. Source it with the
# test's arguments (PODSANDBOXD PODSANDBOXCTL IMAGE_TAR IMAGE_NAME
# POD_CONFIG: $daemon, $ctl, $tar_file, $image, $pod_config), then call
# e2e_begin PREFIX: it checks the files and tools (exit 77 = skip), makes
# the temp dir ($dir), starts a private containerd (scripts/containerd.sh) with the
# pause image imported into namespace $ns, and installs a cleanup trap
# that stops the daemon and containerd and sweeps what they left.
# shellcheck shell=bash

daemon=$1 ctl=$2 tar_file=$3 image=$4 pod_config=$5
e2e_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
harness="$e2e_here/../../scripts/containerd.sh"
ns=podsandbox

pass=0
fail=0
rt_opts=${rt_opts:-}
daemon_wrap=() # a command the daemon runs under (nsenter into a test netns)
dpid=
started=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL - $1"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

e2e_cleanup() {
	if [[ -n $dpid ]]; then
		kill -TERM "$dpid" 2>/dev/null
		wait "$dpid" 2>/dev/null
	fi
	if ((started)); then
		bash "$harness" stop "$dir" || true
	fi
	if declare -F e2e_cleanup_extra >/dev/null; then
		e2e_cleanup_extra
	fi
	if ((fail != 0)); then
		for f in "$dir"/daemon*.log "$dir/containerd.log"; do
			[[ -f $f ]] || continue
			echo "--- last lines of $f"
			tail -n 40 "$f"
		done
	fi
	# A shm tmpfs a failed test left: unmounted, so rm -rf can go.
	findmnt -rn -o TARGET | grep -F "$dir/sandbox-state/" |
		xargs -r -n1 umount -l 2>/dev/null
	if [[ -n ${PSB_E2E_KEEP:-} ]]; then
		echo "# kept $dir (PSB_E2E_KEEP)"
	else
		rm -rf "$dir"
	fi
}

# e2e_begin PREFIX: see above.
e2e_begin() {
	local f reason old base name
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
	done < <(find "$base" -maxdepth 1 -name "$1-*" -mmin +15)
	dir=$(mktemp -d "$base/$1-XXXXXX")
	trap e2e_cleanup EXIT
	if ! bash "$harness" start "$dir"; then
		bad "the private containerd starts"
		exit 1
	fi
	started=1
	name=$(bash "$harness" import "$dir" "$tar_file" "$ns" 2>"$dir/import.log")
	check "the pause image is imported as $image" "[ '$name' = '$image' ]"
}

ctr_() {
	ctr --address "$dir/containerd.sock" --connect-timeout 2s -n "$ns" "$@"
}

# ctl_ ARGS...: podsandboxctl on our daemon. A daemon that died (a crash
# the test did not cause) answers nothing: say so at once rather than
# wait out the call's timeout in every poll.
ctl_() {
	if [[ -n $dpid ]] && ! alive "$dpid"; then
		echo "podsandboxctl: podsandboxd (pid $dpid) is not running" >&2
		return 3
	fi
	timeout 30 "$ctl" --timeout 20000 --socket "ipc://$dir/api.sock" \
		--events-socket "ipc://$dir/ev.sock" "$@"
}

# start_daemon LOG [FLAGS...]: podsandboxd on the private containerd, its
# database in $dir/db, its sandbox files in $dir/sandboxes and
# $dir/sandbox-state, $rt_opts added to its runtime options; returns once
# it says "ready" (5 s at most).
start_daemon() {
	local log=$1 i
	shift
	"${daemon_wrap[@]}" "$daemon" --runtime=containerd \
		--runtime-options "address=$dir/containerd.sock,namespace=$ns,image=$image,image_archive=$tar_file,runc_root=$dir/runc,sandbox_root=$dir/sandboxes,sandbox_state=$dir/sandbox-state,netns_dir=$dir/pins${rt_opts:+,$rt_opts}" \
		--db "$dir/db" --state-dir "$dir/run" \
		--socket "ipc://$dir/api.sock" \
		--events-socket "ipc://$dir/ev.sock" \
		--log-level=debug "$@" >"$log" 2>&1 &
	dpid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q "ready" "$log" 2>/dev/null && return 0
		kill -0 "$dpid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# stop_daemon: SIGTERM, and its exit status in $status.
stop_daemon() {
	kill -TERM "$dpid"
	wait "$dpid"
	status=$?
	dpid=
}

# kill_daemon: kill -9, and its wait status in $status (137).
kill_daemon() {
	kill -KILL "$dpid"
	wait "$dpid" 2>/dev/null
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

# alive PID: exists and is not a zombie (a dead pause whose shim has gone
# may never be reaped).
alive() {
	local st
	[[ $1 =~ ^[0-9]+$ ]] || return 1
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z ]]
}

is_pause() {
	alive "$1" &&
		[[ $(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) == "/pause"* ]]
}

# pause_pids: pause processes whose root file system is a snapshot of our
# containerd (its overlay options name $dir; /proc/PID/root only says "/").
pause_pids() {
	local p
	for p in $(pgrep -x pause); do
		grep -qF "upperdir=$dir/" "/proc/$p/mountinfo" 2>/dev/null &&
			echo "$p"
	done
}

nothing_left() {
	[[ -z $(ctr_ tasks ls -q 2>&1) ]] &&
		[[ -z $(ctr_ containers ls -q 2>&1) ]] &&
		[[ -z $(ctr_ snapshots ls 2>/dev/null | awk 'NR > 1 && $3 == "Active"') ]] &&
		[[ -z $(pause_pids) ]] &&
		[[ -z $(findmnt -rn -o TARGET | grep -F "$dir/" | grep -v '/shm$' | grep rootfs) ]] &&
		no_sandbox_files
}

# no_sandbox_files: no sandbox directory and no shm mount of ours.
no_sandbox_files() {
	[[ -z $(find "$dir/sandboxes" "$dir/sandbox-state" -mindepth 1 2>/dev/null) ]] &&
		! grep -qF " $dir/sandbox-state/" /proc/self/mountinfo
}

# now_ms: milliseconds since the epoch.
now_ms() { date +%s%3N; }

# kill_ctrd SIGNAL: kill our containerd alone (not its shims) and wait
# until it has gone.
kill_ctrd() {
	local pid i
	pid=$(cat "$dir/containerd.pid") || return 1
	kill "-$1" "$pid" 2>/dev/null || return 1
	for ((i = 0; i < 100; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	return 1
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

# wait_for SECONDS COMMAND...: until COMMAND succeeds (polled every 0.1 s).
wait_for() {
	local i n=$(($1 * 10))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

e2e_end() {
	echo "# $pass passed, $fail failed"
	((fail == 0))
}

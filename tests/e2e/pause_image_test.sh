#!/usr/bin/env bash
# e2e: the bundled pause image on a private containerd.
#
#   pause_image_test.sh IMAGE_TAR IMAGE_NAME PAUSE_BIN OCI_PACK MACHINE
#
# 1. The pause binary alone, as PID 1 of a new pid namespace: it reaps a
#    re-parented child and exits 0 on a SIGTERM sent from inside the
#    namespace (the kernel drops signals to a namespace's init that has no
#    handler). The archive is reproducible (packing again gives the same
#    bytes) and well formed.
# 2. A private containerd (containerd.sh): import the archive into
#    namespace "podsandbox", check the image is listed under its name, run
#    it with ctr, stop it with SIGTERM and SIGINT (exit status 0 each) and
#    with SIGKILL (137, so the status checks can fail), delete task,
#    container and image, and check that no task, container, snapshot,
#    mount, cgroup, runc state, shim, shim socket or pause process of ours
#    is left, before and after containerd is stopped.
# Exits 77 (skip) with the reason when containerd cannot run here.
set -u

tar_file=$1 image=$2 pause_bin=$3 oci_pack=$4 machine=$5
here=$(cd "$(dirname "$0")" && pwd)
harness="$here/../../scripts/containerd.sh"
ns=podsandbox

pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL - $1"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

if [[ ! -f $tar_file ]]; then
	echo "FAIL - $tar_file is missing (build the pause-image target)"
	exit 1
fi
if ! reason=$(bash "$harness" check); then
	echo "SKIP - $reason"
	exit 77
fi

# The socket paths must fit in sun_path: fall back to /tmp if the build
# tree is deep.
base=${PSB_TEST_TMPDIR:-/tmp}
((${#base} > 60)) && base=/tmp
# A run killed by ctest's timeout cannot clean up after itself: the next
# run stops and removes what such a run left (older than any timeout).
while read -r old; do
	echo "# removing $old, left by an earlier run"
	bash "$harness" stop "$old" || true
	rm -rf "$old"
done < <(find "$base" -maxdepth 1 -name 'psbe2e-*' -mmin +15)
dir=$(mktemp -d "$base/psbe2e-XXXXXX")
run=${dir##*-}
started=0
events_pid=
cleanup() {
	[[ -n $events_pid ]] && kill "$events_pid" 2>/dev/null
	if ((started)); then
		bash "$harness" stop "$dir" || true
	fi
	if ((fail != 0)) && [[ -f $dir/containerd.log ]]; then
		echo "--- last lines of $dir/containerd.log"
		tail -n 30 "$dir/containerd.log"
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

ctr_() {
	ctr --address "$dir/containerd.sock" --connect-timeout 2s -n "$ns" "$@"
}

# wait_gone PID: wait (bounded, 5 s) until PID has exited.
wait_gone() {
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -d /proc/$1 ]] || return 0
		sleep 0.1
	done
	return 1
}

# --- 1. the binary and the archive -----------------------------------------

"$pause_bin" --version >"$dir/version" 2>&1
check "pause --version exits 0 and names the version" \
	"[ $? -eq 0 ] && grep -q '^pause (podsandboxd) ' '$dir/version'"
check "pause is statically linked" \
	"! LC_ALL=C readelf -d '$pause_bin' 2>/dev/null | grep -q NEEDED"

# As PID 1: sh starts two children and execs pause, which inherits them.
# Each child waits on its own FIFO, so the test decides when what happens:
# the first (cat) exits when its FIFO is written, and must then be reaped
# (a non-reaping init leaves it a zombie); the second then sends SIGTERM
# to PID 1 from inside the namespace.
mkfifo "$dir/child.fifo" "$dir/term.fifo"
# shellcheck disable=SC2016 # $0 and $1 are expanded by the inner sh
unshare --pid --fork sh -c \
	'cat "$1/child.fifo" >/dev/null & (read -r _ <"$1/term.fifo"; kill -TERM 1) & exec "$0"' \
	"$pause_bin" "$dir" >"$dir/pid1.out" 2>&1 &
upid=$!
# fifo_write FIFO: open FIFO for writing and close it (bounded: 5 s for
# its reader to open it).
fifo_write() {
	timeout 5 sh -c 'echo >"$0"' "$1"
}
# pid1_up: pause runs as the child of unshare, with the cat among its
# children ($p1, $cat_pid).
pid1_up() {
	p1=$(pgrep -P "$upid" -x pause) && cat_pid=$(pgrep -P "$p1" -x cat)
}
p1= cat_pid=
wait_for_cmd() {
	local i
	for ((i = 0; i < 50; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
wait_for_cmd pid1_up
check "pause runs as PID 1 of a new pid namespace" \
	"[ -n '$p1' ] && grep -q '^NSpid:.*[[:space:]]1\$' /proc/$p1/status"
fifo_write "$dir/child.fifo"
check "pause reaped its exited child (pid ${cat_pid:-none})" \
	"[ -n '$cat_pid' ] && wait_gone '$cat_pid'"
zombies=$(pgrep -c -r Z -P "${p1:-0}")
check "... no zombie among its children (zombies: $zombies)" \
	"[ '$zombies' = 0 ]"
fifo_write "$dir/term.fifo"
wait "$upid"
check "SIGTERM from inside the namespace: pause exits 0" "[ $? -eq 0 ]"
check "pause printed nothing" "[ ! -s '$dir/pid1.out' ]"

"$oci_pack" --binary "$pause_bin" --name "$image" --arch "$machine" \
	--output "$dir/again.tar"
check "packing again gives the same bytes (reproducible)" \
	"cmp -s '$tar_file' '$dir/again.tar'"
check "the archive is an OCI layout (oci-layout, index.json, 3 blobs)" \
	"[ \"\$(tar -tf '$tar_file' | grep -cE '^blobs/sha256/[0-9a-f]{64}\$')\" = 3 ] &&
	 tar -xOf '$tar_file' oci-layout | grep -q imageLayoutVersion &&
	 tar -xOf '$tar_file' index.json |
		grep -qF '\"org.opencontainers.image.ref.name\":\"$image\"'"
for b in $(tar -tf "$tar_file" | grep -E '^blobs/sha256/.{64}$'); do
	sum=$(tar -xOf "$tar_file" "$b" | sha256sum | cut -c1-64)
	check "blob ${b#blobs/sha256/} matches its digest" "[ '$sum' = '${b##*/}' ]"
done

# --- 2. on a private containerd --------------------------------------------

started=1
if ! bash "$harness" start "$dir"; then
	bad "the private containerd starts"
	exit 1
fi
ok "the private containerd starts and answers on $dir/containerd.sock"

# Exit statuses come from containerd's /tasks/exit events (ctr 1.6's task
# delete only warns about a non-zero status and still exits 0).
ctr_ events >"$dir/events.log" 2>&1 &
events_pid=$!

name=$(bash "$harness" import "$dir" "$tar_file" "$ns" 2>"$dir/import.log")
check "ctr images import lists the image as $image" "[ '$name' = '$image' ]"
# containerd never acknowledges a subscription: poke it (a namespace label
# update) until the stream shows the event, so no exit can be missed.
events_live() {
	local i
	for ((i = 0; i < 50; i++)); do
		ctr --address "$dir/containerd.sock" namespaces label "$ns" \
			psb-e2e-probe="$i" >/dev/null 2>&1
		grep -qF /namespaces/update "$dir/events.log" && break
		sleep 0.1
	done
	ctr --address "$dir/containerd.sock" namespaces label "$ns" \
		psb-e2e-probe= >/dev/null 2>&1
	grep -qF /namespaces/update "$dir/events.log"
}
check "the event stream is live" events_live
check "the image's platform is linux and its manifest checks out" \
	"ctr_ images check | grep -F '$image' | grep -q complete"

# wait_event TEXT: wait (bounded, 5 s) for an event line containing TEXT.
wait_event() {
	local i
	for ((i = 0; i < 50; i++)); do
		grep -qF "$1" "$dir/events.log" && return 0
		sleep 0.1
	done
	return 1
}

# exit_status ID: the exit_status of ID's /tasks/exit event (the JSON
# omits a zero status); empty if there is no such event.
exit_status() {
	wait_event "/tasks/exit {\"container_id\":\"$1\"" || return 0
	grep -F "/tasks/exit {\"container_id\":\"$1\"" "$dir/events.log" |
		sed -n 's/.*"exit_status":\([0-9]*\).*/\1/p;t;s/.*/0/p' |
		head -n 1
}

# run_pause ID: start a pause task; its pid goes to $task_pid.
run_pause() {
	task_pid=
	ctr_ run -d --null-io --runtime io.containerd.runc.v2 \
		--runc-root "$dir/runc" --cgroup "/$1" \
		"$image" "$1" >>"$dir/ctr.log" 2>&1 || return 1
	task_pid=$(ctr_ task ls | awk -v id="$1" '$1 == id {print $2}')
	[[ -n $task_pid ]]
}

# stop_pause ID SIGNAL WANT: signal the task, check its exit status, delete
# it and the container.
stop_pause() {
	local id=$1 sig=$2 want=$3 st i
	ctr_ task kill -s "$sig" "$id"
	check "$sig: pause pid $task_pid exits" "wait_gone $task_pid"
	for ((i = 0; i < 50; i++)); do
		st=$(ctr_ task ls | awk -v id="$id" '$1 == id {print $3}')
		[[ $st == STOPPED ]] && break
		sleep 0.1
	done
	check "$sig: containerd reports the task STOPPED" "[ '$st' = STOPPED ]"
	st=$(exit_status "$id")
	check "$sig: containerd's TaskExit has exit status $want (got ${st:-none})" \
		"[ '$st' = '$want' ]"
	ctr_ task delete "$id" 2>>"$dir/ctr.log"
	check "$sig: task deleted" "[ $? -eq 0 ]"
	ctr_ container delete "$id"
	check "$sig: task and container deleted" \
		"! ctr_ task ls -q | grep -qxF '$id' &&
		 ! ctr_ container ls -q | grep -qxF '$id'"
}

ids=()
for sig in SIGTERM SIGINT SIGKILL; do
	id="psb-e2e-$run-${sig,,}"
	ids+=("$id")
	if ! run_pause "$id"; then
		bad "ctr run $id"
		cat "$dir/ctr.log"
		continue
	fi
	ok "ctr run: pause task $id runs (pid $task_pid)"
	# runc's init may still be on its way to exec /pause when ctr run
	# returns (seen on a loaded machine): give it 2 s.
	for ((i = 0; i < 20; i++)); do
		[[ "$(tr '\0' ' ' <"/proc/$task_pid/cmdline" 2>/dev/null)" == '/pause ' ]] && break
		sleep 0.1
	done
	check "$id: the process is /pause, running" \
		"[ \"\$(cat /proc/$task_pid/cmdline | tr '\\0' ' ')\" = '/pause ' ] &&
		 ! grep -q '^State:.*Z' /proc/$task_pid/status"
	check "$id: it is in its own cgroup /$id" \
		"grep -q ':/$id\$' /proc/$task_pid/cgroup"
	check "$id: its rootfs is mounted under $dir" \
		"findmnt -rn -o TARGET | grep -qF '$dir/state/' "
	want=0
	[[ $sig == SIGKILL ]] && want=137
	stop_pause "$id" "$sig" "$want"
done

# Nothing of ours is left while containerd still runs ...
ctr_ images rm --sync "$image" >/dev/null
check "no task left" "[ -z \"\$(ctr_ task ls -q)\" ]"
check "no container left" "[ -z \"\$(ctr_ container ls -q)\" ]"
check "no snapshot left (image removed, gc ran)" \
	"[ -z \"\$(ctr_ snapshot ls | tail -n +2)\" ]"
check "no mount under $dir" "! findmnt -rn -o TARGET | grep -qF '$dir/'"

kill "$events_pid" 2>/dev/null
wait "$events_pid" 2>/dev/null
bash "$harness" stop "$dir"
check "containerd stops" "[ $? -eq 0 ] && [ ! -f '$dir/containerd.pid' ]"
started=0

# ... nor after it stopped.
check "no process refers to $dir (containerd, shims)" \
	"! grep -lsF '$dir/' /proc/[0-9]*/cmdline"
for id in "${ids[@]}"; do
	hash=$(printf '%s' "$dir/containerd.sock/$ns/$id" | sha256sum | cut -c1-64)
	check "$id: no shim socket /run/containerd/s/${hash:0:12}..." \
		"[ ! -e /run/containerd/s/$hash ]"
	check "$id: no cgroup left" \
		"! ls -d /sys/fs/cgroup/*/$id >/dev/null 2>&1"
	check "$id: no runc state left" "[ ! -e '$dir/runc/$ns/$id' ]"
done
# Ours are the pause processes in a /psb-e2e-$run-* cgroup.
ours=()
for p in $(pgrep -x pause); do
	grep -qsF ":/psb-e2e-$run-" "/proc/$p/cgroup" && ours+=("$p")
done
check "no pause process of ours left" "[ ${#ours[@]} -eq 0 ]"
check "no mount under $dir after stop" \
	"! findmnt -rn -o TARGET | grep -qF '$dir/'"

echo "# $pass passed, $fail failed"
((fail == 0))

#!/usr/bin/env bash
# podsandboxd - the database's filesystem full, or made read-only by the
# kernel (issue 12, item 5).
#
#   storage_test.sh PODSANDBOXD PODSANDBOXCTL POD_CONFIG
#
# As root, in a private mount namespace of its own (nothing is mounted on
# the host; the loop device is released with the mount), on the scripted
# runtime with a world file outside the failing filesystem:
# 1. Disk full: the database on a 1 MiB tmpfs that a filler file fills
#    while sandboxes run. Run, Stop and Shutdown answer UNAVAILABLE ("could
#    not persist the change, nothing was done"), and nothing is half done:
#    a refused run leaves no sandbox, a refused stop or rm leaves the
#    sandbox READY; Status and List keep answering. Once the filler is
#    gone the same daemon (no restart) carries on: run, stop, rm.
# 2. Read-only: the database on an ext4 image mounted errors=remount-ro,
#    which the kernel turns read-only (trigger_fs_error, what it does on a
#    disk error). Changes answer UNAVAILABLE, reads answer, the daemon
#    exits 0 on SIGTERM. ext4 refuses to go read-write again without a
#    fsck, so: unmount, e2fsck, mount, start again: every sandbox that was
#    acknowledged is there, in the state it was acknowledged in.
# Exits 77 (skip) when not root.
set -u
if [ "$(id -u)" != 0 ]; then
	echo "skip: needs root (mounts a tmpfs and a loop image)"
	exit 77
fi
if [ -z "${PSB_STORAGE_NS:-}" ]; then
	exec env PSB_STORAGE_NS=1 unshare -m --propagation private \
		bash "$0" "$@"
fi
bin=$1
ctl=$2
pod=$3
dir=$(mktemp -d "${PSB_TEST_TMPDIR:-/tmp}/psbtest-storage-XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	umount "$dir/full" "$dir/ro" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL - $1"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

# start_daemon DB WORLD LOG
start_daemon() {
	"$bin" --runtime=scripted --runtime-options "world=$2" --db "$1" \
		--state-dir "$dir/run" --socket "ipc://$dir/api.sock" \
		--events-socket "ipc://$dir/ev.sock" --log-level=info \
		>"$3" 2>&1 &
	pid=$!
	for _ in $(seq 1 200); do
		grep -q "ready" "$3" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
stop_daemon() {
	kill -TERM "$pid"
	wait "$pid"
	status=$?
	pid=
}
c() { "$ctl" --socket "ipc://$dir/api.sock" --timeout 10000 "$@"; }
state() { c status -o json "$1" 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["state"])' 2>/dev/null; }
# refused CMD...: exit 3 (UNAVAILABLE) saying nothing was done.
refused() {
	local out rc
	out=$(c "$@" 2>&1)
	rc=$?
	[ $rc -eq 3 ] && grep -q 'could not persist the change, nothing was done' <<<"$out"
}

# ---- 1. disk full ----
mkdir -p "$dir/full" "$dir/run"
check "a 1 MiB tmpfs for the database" \
	"mount -t tmpfs -o size=1m tmpfs '$dir/full'"
check "the daemon starts with its database there" \
	"start_daemon '$dir/full/db' '$dir/world1' '$dir/log1'"
dpid=$pid
check "run ok-1, ok-2, st-1" \
	"c run --id ok-1 '$pod' >/dev/null && c run --id ok-2 '$pod' >/dev/null && c run --id st-1 '$pod' >/dev/null"
dd if=/dev/zero of="$dir/full/filler" bs=4k >/dev/null 2>&1
check "the filesystem is full" "[ \"\$(df --output=avail -k '$dir/full' | tail -1 | tr -d ' ')\" = 0 ]"
check "run f-1 is refused: UNAVAILABLE, nothing done" "refused run --id f-1 '$pod'"
check "... f-1 does not exist" "! c status f-1 >/dev/null 2>&1"
check "stop st-1 is refused" "refused stop st-1"
check "... st-1 is still READY" "[ \"\$(state st-1)\" = READY ]"
check "rm ok-2 is refused" "refused rm ok-2"
check "... ok-2 is still READY" "[ \"\$(state ok-2)\" = READY ]"
check "status and ls answer: three READY" \
	"[ \"\$(c ls 2>/dev/null | grep -c ' READY ')\" = 3 ]"
check "the daemon logged why" "grep -q 'database or disk is full' '$dir/log1'"
rm -f "$dir/full/filler"
check "space is back: run f-2 succeeds (no restart)" \
	"c run --id f-2 '$pod' >/dev/null && [ \"\$(state f-2)\" = READY ]"
check "... stop st-1 succeeds: EXITED" \
	"c stop st-1 >/dev/null && [ \"\$(state st-1)\" = EXITED ]"
check "... rm ok-2 succeeds" "c rm ok-2 >/dev/null && ! c status ok-2 >/dev/null 2>&1"
check "... the same daemon" "[ '$pid' = '$dpid' ] && kill -0 '$pid'"
stop_daemon
check "it exits 0 on SIGTERM" "[ $status -eq 0 ]"
check "restarted: ok-1 READY, st-1 EXITED, f-2 READY, no ok-2 or f-1" \
	"start_daemon '$dir/full/db' '$dir/world1' '$dir/log1b' && [ \"\$(state ok-1)\" = READY ] && [ \"\$(state st-1)\" = EXITED ] && [ \"\$(state f-2)\" = READY ] && ! c status ok-2 >/dev/null 2>&1 && ! c status f-1 >/dev/null 2>&1"
stop_daemon
umount "$dir/full"

# ---- 2. read-only ----
mkdir -p "$dir/ro"
truncate -s 16M "$dir/img"
check "an ext4 image mounted errors=remount-ro" \
	"mkfs.ext4 -q -F '$dir/img' && mount -o loop,errors=remount-ro '$dir/img' '$dir/ro'"
dev=$(basename "$(findmnt -n -o SOURCE "$dir/ro")")
check "the daemon starts with its database there" \
	"start_daemon '$dir/ro/db' '$dir/world2' '$dir/log2'"
check "run r-1, r-2; stop r-2" \
	"c run --id r-1 '$pod' >/dev/null && c run --id r-2 '$pod' >/dev/null && c stop r-2 >/dev/null"
check "the kernel makes the filesystem read-only (as on a disk error)" \
	"echo 1 >/sys/fs/ext4/$dev/trigger_fs_error && ! touch '$dir/ro/probe' 2>/dev/null"
check "run r-3 is refused: UNAVAILABLE, nothing done" "refused run --id r-3 '$pod'"
check "stop r-1 is refused; r-1 still READY" \
	"refused stop r-1 && [ \"\$(state r-1)\" = READY ]"
check "status and ls answer" \
	"[ \"\$(state r-2)\" = EXITED ] && [ \"\$(c ls -q 2>/dev/null | wc -l)\" = 2 ]"
stop_daemon
check "it exits 0 on SIGTERM" "[ $status -eq 0 ]"
umount "$dir/ro"
e2fsck -fy "$dir/img" >"$dir/fsck" 2>&1
check "e2fsck repairs the image (exit $?)" "[ $? -le 1 ]"
check "mounted again, the daemon starts on the same database" \
	"mount -o loop '$dir/img' '$dir/ro' && start_daemon '$dir/ro/db' '$dir/world2' '$dir/log2b'"
check "r-1 READY, r-2 EXITED, no r-3" \
	"[ \"\$(state r-1)\" = READY ] && [ \"\$(state r-2)\" = EXITED ] && ! c status r-3 >/dev/null 2>&1"
check "... and it takes changes again: rm r-1, r-2" \
	"c rm r-1 >/dev/null && c rm r-2 >/dev/null && [ -z \"\$(c ls -q 2>/dev/null)\" ]"
stop_daemon

echo "# $pass passed, $fail failed"
[ "$fail" -eq 0 ]

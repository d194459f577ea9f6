#!/usr/bin/env bash
# containerd.sh - a private containerd: for the end-to-end tests, and for
# scripts/run.sh when no containerd answers on the configured socket.
#
#   containerd.sh start DIR                 config + start + wait until it answers
#   containerd.sh stop DIR                  stop it and sweep what it left
#   containerd.sh import DIR TAR NS [NAME]  ctr images import, check the name
#   containerd.sh check                     exit 0 if containerd can run here
#
# Everything lives under DIR: config.toml, root/, state/, containerd.sock
# (+ .ttrpc), containerd.log, containerd.pid, and runc/ (tests pass
# `--runc-root DIR/runc`; the shim adds /NS so runc's state stays here too). The system
# containerd (/run/containerd, /var/lib/containerd) is never used. One
# exception is built into containerd 1.6: a shim's socket is always
# /run/containerd/s/<sha256 of "DIR/containerd.sock/NS/ID">; the path is
# unique to this instance, the shim removes it when it exits normally, and
# `stop` removes any that a killed shim left behind.
#
# `check` prints why containerd cannot run (not root, a binary missing)
# and exits 77, so that a test can skip with the reason.
set -euo pipefail

# PSB_CTRD_LOG_LEVEL (default info) is containerd's log level: debug shows
# when each snapshot, shim, task create and start happened
# (docs/performance.md uses it to split a start into its steps).
PSB_CTRD_START_TIMEOUT=${PSB_CTRD_START_TIMEOUT:-10}
PSB_CTRD_STOP_TIMEOUT=${PSB_CTRD_STOP_TIMEOUT:-10}

die() {
	echo "containerd.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '4,7s/^# //p' "$0" >&2
	exit 2
}

# absdir DIR: DIR as an absolute path (it must exist).
absdir() {
	(cd "$1" && pwd -P)
}

# ctr_at DIR ARGS...: ctr against DIR's containerd, never waiting long to
# connect (ctr's default dial timeout is 10 s).
ctr_at() {
	local dir=$1
	shift
	ctr --address "$dir/containerd.sock" --connect-timeout 2s "$@"
}

# alive PID: the process exists and is not a zombie.
alive() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z ]]
}

cmd_check() {
	local b
	if ((EUID != 0)); then
		echo "containerd.sh: not root (containerd and runc need root)"
		exit 77
	fi
	for b in containerd ctr runc containerd-shim-runc-v2; do
		if ! command -v "$b" >/dev/null 2>&1; then
			echo "containerd.sh: $b not found" \
				"(scripts/install-deps.sh installs it)"
			exit 77
		fi
	done
	if ! grep -qw overlay /proc/filesystems && ! modprobe -q overlay; then
		echo "containerd.sh: no overlay filesystem (snapshotter)"
		exit 77
	fi
}

write_config() {
	local dir=$1
	# oom_score = 0: containerd leaves its own oom_score_adj alone
	# (lowering it needs CAP_SYS_RESOURCE). The opt plugin would otherwise
	# create /opt/containerd. CRI is off: it would adopt nothing of ours
	# anyway, but it wants CNI config, and it is not what we test.
	cat >"$dir/config.toml" <<EOF
# Private containerd for podsandboxd's end-to-end tests (containerd.sh).
version = 2
root = "$dir/root"
state = "$dir/state"
oom_score = 0
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$dir/containerd.sock"

[ttrpc]
  address = "$dir/containerd.sock.ttrpc"

[debug]
  address = ""
  level = "${PSB_CTRD_LOG_LEVEL:-info}"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
EOF
}

cmd_start() {
	local dir pid i
	mkdir -p "$1"
	dir=$(absdir "$1")
	# sun_path holds 108 bytes; ".ttrpc" is the longest suffix.
	if ((${#dir} + 25 > 107)); then
		die "$dir is too long for a unix socket path"
	fi
	if [[ -f $dir/containerd.pid ]] && alive "$(cat "$dir/containerd.pid")"
	then
		die "a containerd already runs for $dir" \
			"(pid $(cat "$dir/containerd.pid"))"
	fi
	mkdir -p "$dir/root" "$dir/state" "$dir/opt" "$dir/runc"
	rm -f "$dir/containerd.sock" "$dir/containerd.sock.ttrpc"
	write_config "$dir"

	containerd --config "$dir/config.toml" </dev/null \
		>>"$dir/containerd.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/containerd.pid"

	for ((i = 0; i < PSB_CTRD_START_TIMEOUT * 10; i++)); do
		if ! alive "$pid"; then
			tail -n 20 "$dir/containerd.log" >&2 || true
			rm -f "$dir/containerd.pid"
			die "containerd exited during start-up" \
				"(log: $dir/containerd.log)"
		fi
		if [[ -S $dir/containerd.sock ]] &&
			ctr_at "$dir" version >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	tail -n 20 "$dir/containerd.log" >&2 || true
	cmd_stop "$dir"
	die "containerd did not answer within ${PSB_CTRD_START_TIMEOUT} s"
}

# shim_pids DIR: the shims serving DIR's containerd. A shim's command line
# is "containerd-shim-runc-v2 -namespace NS -id ID -address SOCK".
shim_pids() {
	local sock="$1/containerd.sock" p args
	for p in /proc/[0-9]*; do
		# A process may exit during the scan: stderr goes first, so that
		# the failed input redirection is silenced too.
		args=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		case $args in
		*containerd-shim*" -address $sock "*) echo "${p#/proc/}" ;;
		esac
	done
}

# kill_wait SIGNAL PIDS...: send SIGNAL, wait (bounded) for them to go.
kill_wait() {
	local sig=$1 i p left
	shift
	kill "-$sig" "$@" 2>/dev/null || true
	for ((i = 0; i < PSB_CTRD_STOP_TIMEOUT * 10; i++)); do
		left=0
		for p in "$@"; do
			alive "$p" && left=1
		done
		((left == 0)) && return 0
		sleep 0.1
	done
	return 1
}

# sweep DIR: after containerd has gone, remove what a crashed or killed
# test may have left: runc containers (their pause processes and cgroups),
# shims, shim sockets, and mounts under DIR.
sweep() {
	local dir=$1 st ns id addr pids m
	for st in "$dir"/runc/*/*/state.json; do
		[[ -f $st ]] || continue
		ns=$(basename "$(dirname "$(dirname "$st")")")
		id=$(basename "$(dirname "$st")")
		echo "containerd.sh: removing leftover container $ns/$id" >&2
		runc --root "$dir/runc/$ns" delete --force "$id" 2>/dev/null ||
			true
		rm -f "/run/containerd/s/$(printf '%s' \
			"$dir/containerd.sock/$ns/$id" | sha256sum | cut -c1-64)"
	done
	mapfile -t pids < <(shim_pids "$dir")
	if ((${#pids[@]} != 0)); then
		echo "containerd.sh: killing leftover shims ${pids[*]}" >&2
		kill_wait TERM "${pids[@]}" || kill_wait KILL "${pids[@]}" ||
			echo "containerd.sh: shims ${pids[*]} did not exit" >&2
	fi
	for addr in "$dir"/state/io.containerd.runtime.v2.task/*/*/address; do
		[[ -f $addr ]] || continue
		m=$(sed 's|^unix://||' "$addr")
		case $m in /run/containerd/s/*) rm -f "$m" ;; esac
	done
	# Deepest first; lazy as a last resort so stop never hangs.
	while read -r m; do
		echo "containerd.sh: unmounting leftover $m" >&2
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done < <(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r || true)
}

cmd_stop() {
	local dir pid
	[[ -d $1 ]] || return 0
	dir=$(absdir "$1")
	if [[ -f $dir/containerd.pid ]]; then
		pid=$(cat "$dir/containerd.pid")
		if alive "$pid"; then
			kill_wait TERM "$pid" || kill_wait KILL "$pid" ||
				die "containerd (pid $pid) did not exit"
		fi
		rm -f "$dir/containerd.pid"
	fi
	sweep "$dir"
}

# image_names TAR: the names in an OCI archive's index.json annotations.
image_names() {
	tar -xOf "$1" index.json | python3 -c '
import json, sys
for m in json.load(sys.stdin).get("manifests", []):
    a = m.get("annotations") or {}
    n = a.get("io.containerd.image.name") or \
        a.get("org.opencontainers.image.ref.name")
    if n:
        print(n)'
}

cmd_import() {
	local dir tar=$2 ns=$3 name=${4:-} names
	dir=$(absdir "$1")
	[[ -f $tar ]] || die "$tar: no such file"
	if [[ -z $name ]]; then
		names=$(image_names "$tar") || die "$tar: cannot read index.json"
		name=$(head -n 1 <<<"$names")
		[[ -n $name ]] || die "$tar: no image name in index.json"
	fi
	# The archive names its image (io.containerd.image.name), so no
	# --base-name is needed; the default platform is unpacked into the
	# default snapshotter, ready for a container.
	ctr_at "$dir" -n "$ns" images import "$tar" >&2
	if ! ctr_at "$dir" -n "$ns" images ls -q | grep -qxF "$name"; then
		die "$name is not listed in namespace $ns after the import"
	fi
	echo "$name"
}

(($# >= 1)) || usage
case $1 in
check) (($# == 1)) || usage && cmd_check ;;
start) (($# == 2)) || usage && cmd_start "$2" ;;
stop) (($# == 2)) || usage && cmd_stop "$2" ;;
import) (($# == 4 || $# == 5)) || usage && cmd_import "${@:2}" ;;
*) usage ;;
esac

#!/usr/bin/env bash
# The run command (README): install the dependencies, build podsandboxd,
# podsandboxctl and the pause image, make sure a containerd answers, import
# the pause image into the daemon's namespace, and run the daemon in the
# foreground (Ctrl-C stops it).
#
# containerd: the one answering on $PSB_CONTAINERD_SOCKET (default
# /run/containerd/containerd.sock) is used. If none answers, a private one
# is started under /run/podsandboxd/containerd (its own config, socket,
# root and state; CRI plugin off) in a session of its own, so it outlives
# the daemon and the next run reuses it; stop it with
#   bash scripts/containerd.sh stop /run/podsandboxd/containerd
# The database is $PSB_DB (default /var/lib/podsandboxd/podsandboxd.db),
# the sandbox files under $PSB_SANDBOX_ROOT and $PSB_SANDBOX_STATE
# (default /var/lib/podsandboxd/sandboxes, /run/podsandboxd/sandboxes).
# $PSB_RUNTIME_OPTIONS (comma-separated) is added to the containerd
# runtime options, e.g. cni_conf_dir=... for pod networks (README).
# Extra arguments go to podsandboxd.
set -euo pipefail

cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs" --target podsandboxd podsandboxctl pause-image

ns=podsandbox
extra=
sock=${PSB_CONTAINERD_SOCKET:-/run/containerd/containerd.sock}
answers() { ctr --address "$1" --connect-timeout 2s version >/dev/null 2>&1; }
if ! answers "$sock"; then
	private=/run/podsandboxd/containerd
	sock=$private/containerd.sock
	if ! answers "$sock"; then
		echo "run.sh: no containerd answers; starting a private one" \
			"under $private" >&2
		setsid bash scripts/containerd.sh start "$private"
	fi
	# The private instance's runc state stays under it too (the sweep
	# of `containerd.sh stop` looks there).
	extra=",runc_root=$private/runc"
fi
archive=$PWD/build/tools/pause/pause-image.tar
ctr --address "$sock" -n "$ns" images import "$archive" >/dev/null

exec build/core/podsandboxd --runtime=containerd \
	--runtime-options "address=$sock,namespace=$ns,image_archive=$archive,sandbox_root=${PSB_SANDBOX_ROOT:-/var/lib/podsandboxd/sandboxes},sandbox_state=${PSB_SANDBOX_STATE:-/run/podsandboxd/sandboxes}$extra${PSB_RUNTIME_OPTIONS:+,$PSB_RUNTIME_OPTIONS}" \
	--db "${PSB_DB:-/var/lib/podsandboxd/podsandboxd.db}" "$@"

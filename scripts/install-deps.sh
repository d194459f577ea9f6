#!/usr/bin/env bash
# Install every Debian package podsandboxd needs to build, test and run.
#
# Idempotent: when everything is already installed it only says so (and
# needs no root). Otherwise it must run as root: it runs `apt-get update`
# and installs the missing packages without prompting. Any failure stops
# the script with a non-zero exit status.
set -euo pipefail

PACKAGES=(
	build-essential cmake pkg-config git
	clang clang-format libclang-rt-14-dev
	libev-dev libnng-dev nng-utils
	libprotobuf-c-dev protobuf-c-compiler
	libsqlite3-dev sqlite3
	libcmocka-dev libjansson-dev
	# integration.soak_valgrind runs the daemon under memcheck.
	valgrind
	graphviz python3 ca-certificates
	# The containerd runtime: gRPC over nghttp2, containerd's API .proto
	# files (compiled by protoc-c at build time) and their imports, and
	# containerd + runc themselves for the end-to-end tests.
	libnghttp2-dev golang-github-containerd-containerd-dev
	golang-github-gogo-protobuf-dev golang-github-gogo-googleapis-dev
	libprotobuf-dev containerd runc
	# Pod networks: the CNI plugins (bridge, host-local, portmap,
	# loopback in /usr/lib/cni), iptables for bridge/portmap, and what the
	# network e2e test uses (ip, nsenter/unshare, ping).
	containernetworking-plugins iptables iproute2 util-linux iputils-ping
	# The RuntimeDefault seccomp profile of the pause container
	# (/usr/share/containers/seccomp.json, runtime/containerd/spec.h).
	golang-github-containers-common
)

die() {
	echo "install-deps: error: $*" >&2
	exit 1
}

installed() {
	local status
	status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
	[[ "$status" == "install ok installed" ]]
}

missing=()
for p in "${PACKAGES[@]}"; do
	installed "$p" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "install-deps: all ${#PACKAGES[@]} packages already installed"
	exit 0
fi

echo "install-deps: installing: ${missing[*]}"
if [[ "$(id -u)" != 0 ]]; then
	die "missing packages (${missing[*]}); run this script as root"
fi
command -v apt-get >/dev/null || die "apt-get not found (Debian 12 is required)"

export DEBIAN_FRONTEND=noninteractive
apt-get update </dev/null || die "apt-get update failed"
apt-get install -y --no-install-recommends "${missing[@]}" </dev/null ||
	die "apt-get install failed"

still=()
for p in "${missing[@]}"; do
	installed "$p" || still+=("$p")
done
if ((${#still[@]} != 0)); then
	die "still not installed after apt-get: ${still[*]}"
fi
echo "install-deps: installed ${#missing[@]} package(s)"

#!/usr/bin/env bash
# The run command (README): install the dependencies, build podsandboxd in
# build/ (RelWithDebInfo) and run it in the foreground; stop it with
# Ctrl-C or SIGTERM. Extra arguments are passed to podsandboxd.
#
# The containerd backend is not built yet, so this runs the daemon with the
# scripted test-double runtime (the daemon logs a loud warning): no pause
# containers are started. The database is $PSB_DB, by default the real
# path /var/lib/podsandboxd/podsandboxd.db (run as root).
set -euo pipefail

cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs" --target podsandboxd podsandboxctl

exec build/core/podsandboxd --runtime=scripted \
	--db "${PSB_DB:-/var/lib/podsandboxd/podsandboxd.db}" "$@"

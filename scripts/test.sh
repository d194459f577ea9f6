#!/usr/bin/env bash
# The test command (README): install the dependencies, build the tree in
# build/ with gcc and -Werror, and run every registered test with ctest.
# Extra arguments go to ctest (e.g. -L unit, -R config).
set -euo pipefail

cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
CC=${CC:-gcc} cmake -S . -B build -DPSB_WERROR=ON
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure --no-tests=error -j2 "$@"

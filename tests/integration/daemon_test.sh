#!/usr/bin/env bash
# podsandboxd - the real daemon binary: flags, start-up, recovery of a
# persisted database, refusal of a second daemon and of a corrupt
# database (left untouched), and a clean exit 0 on SIGTERM and SIGINT.
# Usage: daemon_test.sh PATH/TO/podsandboxd
set -u
bin=$1
dir=$(mktemp -d "${PSB_TEST_TMPDIR:-/tmp}/psbtest-daemon-XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL - $1"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

# start_daemon DB LOG: run podsandboxd in the background until "ready".
start_daemon() {
	"$bin" --runtime=scripted --db "$1" --state-dir "$dir/run" \
		--log-level=debug >"$2" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do
		grep -q "ready" "$2" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# stop_daemon SIGNAL: send it and wait; the exit status goes to $status.
stop_daemon() {
	kill "-$1" "$pid"
	wait "$pid"
	status=$?
	pid=
}

"$bin" --help >"$dir/help" 2>&1
check "--help exits 0" "[ $? -eq 0 ]"
for flag in --db --state-dir --runtime --log-level --log-format --sync \
	--journal-keep --start-timeout-ms --stop-timeout-ms --config; do
	check "--help lists $flag" "grep -q -- '$flag' '$dir/help'"
done
"$bin" --version >"$dir/version" 2>&1
check "--version prints the version" "grep -q '^podsandboxd ' '$dir/version'"
"$bin" --bogus >"$dir/bogus" 2>&1
check "an unknown flag exits 2" "[ $? -eq 2 ]"
"$bin" --stop-timeout-ms=12x >"$dir/badnum" 2>&1
check "a bad number exits 2 naming the flag" \
	"[ $? -eq 2 ] && grep -q 'stop-timeout-ms' '$dir/badnum'"
# containerd is connected lazily: with none at the address the daemon
# still starts (nothing to recover), and exits 0 on SIGTERM.
"$bin" --runtime=containerd --runtime-options "address=$dir/none.sock" \
	--db "$dir/c.db" --state-dir "$dir/runc" >"$dir/ctrd" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	grep -q "ready" "$dir/ctrd" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
check "the containerd runtime starts without a containerd" \
	"grep -q 'ready' '$dir/ctrd' && grep -q 'none.sock' '$dir/ctrd'"
stop_daemon TERM
check "... and exits 0 on SIGTERM" "[ $status -eq 0 ]"

db=$dir/db/podsandboxd.db
check "the daemon starts with the scripted runtime" \
	"start_daemon '$db' '$dir/log1'"
check "the test double is announced loudly" \
	"grep -q 'TEST DOUBLE' '$dir/log1'"
check "the database directory is private" \
	"[ \"\$(stat -c %a '$dir/db')\" = 700 ]"
"$bin" --runtime=scripted --db "$db" --state-dir "$dir/run" >"$dir/second" 2>&1
check "a second daemon on the same database is refused" \
	"[ $? -eq 1 ] && grep -q 'another podsandboxd' '$dir/second'"
stop_daemon TERM
check "SIGTERM exits 0" "[ $status -eq 0 ]"

# A persisted sandbox is recovered at the next start.
sqlite3 "$db" "INSERT INTO sandboxes(id, state, generation, exit_status, \
labels) VALUES ('sb-1', 'READY', 1, -1, '{}')"
check "a restart recovers the persisted sandbox" \
	"start_daemon '$db' '$dir/log2' && grep -q 'loaded 1 sandboxes' '$dir/log2'"
# The scripted world is empty after a restart: the task is gone.
for _ in $(seq 1 50); do
	[ "$(sqlite3 "$db" "SELECT state FROM sandboxes WHERE id='sb-1'")" = EXITED ] && break
	sleep 0.05
done
check "recovery resolved it through the runtime (task gone -> EXITED)" \
	"[ \"\$(sqlite3 '$db' \"SELECT state || ':' || exit_status FROM sandboxes WHERE id='sb-1'\")\" = EXITED:255 ]"
stop_daemon INT
check "SIGINT exits 0" "[ $status -eq 0 ]"

head -c 8192 /dev/urandom >"$dir/corrupt.db"
sum=$(sha256sum <"$dir/corrupt.db")
"$bin" --runtime=scripted --db "$dir/corrupt.db" --state-dir "$dir/run" \
	>"$dir/corrupt" 2>&1
check "a corrupt database is refused" \
	"[ $? -eq 1 ] && grep -q 'corrupt' '$dir/corrupt'"
check "the corrupt database is left untouched" \
	"[ \"\$(sha256sum <'$dir/corrupt.db')\" = '$sum' ]"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

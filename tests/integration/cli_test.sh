#!/usr/bin/env bash
# podsandboxctl against the real podsandboxd (scripted runtime, private
# ipc sockets): the lifecycle verbs, their output (tables and -o json),
# error messages and exit codes (1 API error, 2 usage, 3 unreachable).
# Usage: cli_test.sh PATH/TO/podsandboxctl PATH/TO/podsandboxd [CONFIG.json]
set -u
ctl=$1
daemon=$2
here=$(cd "$(dirname "$0")" && pwd)
config=${3:-$here/../data/pod-config.json}
# ipc paths are limited to ~100 bytes: keep the directory short.
dir=$(mktemp -d /tmp/psbcli-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() {
	echo "FAIL - $1"
	fail=$((fail + 1))
	for f in out err; do
		[ -s "$dir/$f" ] && sed "s/^/    $f: /" "$dir/$f"
	done
}
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

api=ipc://$dir/api.sock
ev=ipc://$dir/ev.sock
# c ARGS...: run podsandboxctl on our sockets; stdout/stderr to files, the
# exit status to $rc.
c() {
	"$ctl" --socket "$api" --events-socket "$ev" --timeout 5000 "$@" \
		>"$dir/out" 2>"$dir/err"
	rc=$?
}
json_ok() { python3 -m json.tool "$dir/out" >/dev/null 2>&1; }
# jget EXPR: evaluate a python expression on the JSON output `j`.
jget() {
	python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($1)" \
		"$dir/out" 2>/dev/null
}

# ---- without a daemon ----
"$ctl" --help >"$dir/out" 2>&1
check "--help exits 0 and lists verbs and exit codes" \
	"[ $? -eq 0 ] && grep -q 'events' '$dir/out' && grep -q 'UNAVAILABLE' '$dir/out'"
"$ctl" help run >"$dir/out" 2>&1
check "help run describes --id and --runtime" \
	"[ $? -eq 0 ] && grep -q -- '--id' '$dir/out' && grep -q -- '--runtime' '$dir/out'"
"$ctl" help create >"$dir/out" 2>&1
check "help create describes --netns (caller's netns, network POD only)" \
	"[ $? -eq 0 ] && grep -q -- '--netns PATH' '$dir/out' && grep -q 'network POD' '$dir/out'"
"$ctl" run --help >"$dir/out" 2>&1
check "run --help shows --netns in its usage line" \
	"[ $? -eq 0 ] && grep -q '^Usage: .* run CONFIG.json .*\[--netns PATH\]' '$dir/out'"
c create "$config" --netns
check "--netns without a value is a usage error (2)" \
	"[ $rc -eq 2 ] && grep -q -- '--netns needs a value' '$dir/err'"
"$ctl" ls --help >"$dir/out" 2>&1
check "ls --help describes --label" "[ $? -eq 0 ] && grep -q -- '--label' '$dir/out'"
"$ctl" --version >"$dir/out" 2>&1
check "--version" "[ $? -eq 0 ] && grep -q '^podsandboxctl ' '$dir/out'"
c frobnicate
check "unknown verb is a usage error (2)" "[ $rc -eq 2 ]"
c ls --bogus
check "unknown option is a usage error (2)" "[ $rc -eq 2 ] && grep -q 'bogus' '$dir/err'"
c status
check "missing argument is a usage error (2)" "[ $rc -eq 2 ]"
c -o yaml ls
check "bad --output is a usage error (2)" "[ $rc -eq 2 ]"
"$ctl" --socket "ipc://$dir/nothing.sock" --timeout 300 version \
	>"$dir/out" 2>"$dir/err"
rc=$?
check "unreachable daemon exits 3 with UNAVAILABLE" \
	"[ $rc -eq 3 ] && grep -q '^podsandboxctl: UNAVAILABLE: ' '$dir/err'"
echo '{"metadata": {"nmae": "x"}}' >"$dir/bad.json"
c create "$dir/bad.json"
check "a bad pod config exits 1 naming the key" \
	"[ $rc -eq 1 ] && grep -q 'INVALID_ARGUMENT.*nmae' '$dir/err'"

# ---- the daemon ----
"$daemon" --runtime=scripted --db "$dir/db" --state-dir "$dir/run" \
	--socket "$api" --events-socket "$ev" --log-level=debug \
	>"$dir/daemon.log" 2>&1 &
pid=$!
up=1
for _ in $(seq 1 100); do
	"$ctl" --socket "$api" --timeout 200 version >/dev/null 2>&1 && {
		up=0
		break
	}
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
check "podsandboxd serves the API" "[ $up -eq 0 ]"
if [ $up -ne 0 ]; then
	sed 's/^/    daemon: /' "$dir/daemon.log" | tail -20
	echo "# $pass passed, $fail failed (daemon did not come up)"
	exit 1
fi

c version
check "version shows both versions and the test double" \
	"[ $rc -eq 0 ] && grep -q '^Client version: ' '$dir/out' && grep -q '^Daemon version: ' '$dir/out' && grep -q 'TEST DOUBLE' '$dir/out'"
c -o json version
check "version -o json" "[ $rc -eq 0 ] && json_ok && [ \"\$(jget 'j[\"runtimeIsTestDouble\"]')\" = True ]"
c platform
check "platform" "[ $rc -eq 0 ] && grep -q '^OS: linux' '$dir/out'"

c run "$config"
id=$(cat "$dir/out")
check "run prints a 32-hex id" "[ $rc -eq 0 ] && [[ '$id' =~ ^[0-9a-f]{32}$ ]]"
c run "$config" --id cli-test-2
check "run --id" "[ $rc -eq 0 ] && [ \"\$(cat '$dir/out')\" = cli-test-2 ]"

c ls
check "ls shows a table with both sandboxes" \
	"[ $rc -eq 0 ] && head -1 '$dir/out' | grep -q '^SANDBOX ID *CREATED *STATE *NAME *NAMESPACE' && grep -q \"^${id:0:13} \" '$dir/out' && grep -q 'READY *nginx-sandbox *default' '$dir/out' && [ \$(wc -l <'$dir/out') -eq 3 ]"
c ls -q
check "ls -q prints full ids" "[ $rc -eq 0 ] && grep -qx '$id' '$dir/out'"
c ls --label app=nginx --state ready -o json
check "ls --label --state -o json" \
	"[ $rc -eq 0 ] && json_ok && [ \"\$(jget 'len(j[\"items\"])')\" = 2 ]"
c ls --label app=nope -q
check "ls --label filters" "[ $rc -eq 0 ] && [ ! -s '$dir/out' ]"

c status "$id"
check "status" "[ $rc -eq 0 ] && grep -q '^State: READY' '$dir/out' && grep -q '^Name: nginx-sandbox' '$dir/out'"
check "status without a pod network shows no IP lines" \
	"! grep -q '^IP: ' '$dir/out' && ! grep -q '^Additional IPs: ' '$dir/out'"
c -o json status -v "$id"
check "status -v -o json has info.sandboxMetadata and info.config.metadata.name" \
	"[ $rc -eq 0 ] && json_ok && [ \"\$(jget 'j[\"info\"][\"config\"][\"metadata\"][\"name\"]')\" = nginx-sandbox ] && [ -n \"\$(jget 'j[\"info\"][\"sandboxMetadata\"]')\" ]"
check "status -o json without a pod network: ip \"\", additionalIps [], info.netNamespaceClosed" \
	"[ \"\$(jget 'repr((j[\"status\"][\"ip\"], j[\"status\"][\"additionalIps\"], type(j[\"info\"][\"netNamespaceClosed\"]).__name__))')\" = \"('', [], 'bool')\" ]"
c inspect -v "$id"
check "inspect -v prints the info JSON" "[ $rc -eq 0 ] && grep -q '\"sandboxMetadata\"' '$dir/out'"

c stop "$id"
check "stop" "[ $rc -eq 0 ] && grep -q \"Stopped sandbox $id\" '$dir/out'"
c wait "$id" --timeout 5000
check "wait prints exit status 137" "[ $rc -eq 0 ] && [ \"\$(cat '$dir/out')\" = 137 ]"
c -o json wait "$id"
check "wait -o json" "[ $rc -eq 0 ] && json_ok && [ \"\$(jget 'j[\"exitStatus\"]')\" = 137 ]"

c history "$id"
check "history shows a table" \
	"[ $rc -eq 0 ] && head -1 '$dir/out' | grep -q '^SEQ *TIME *FROM *EVENT *TO' && grep -q 'STOPPING' '$dir/out' && grep -q 'EXITED *137' '$dir/out'"
c -o json history "$id"
check "history lists STARTING, READY, STOPPING, EXITED in order" \
	"[ $rc -eq 0 ] && json_ok && [ \"\$(jget '\" \".join(e[\"to\"] for e in j[\"events\"] if e[\"to\"] in (\"STARTING\",\"READY\",\"STOPPING\",\"EXITED\"))')\" = 'STARTING READY STOPPING EXITED' ]"
c events --since 0
check "events --since 0 lists the transitions" \
	"[ $rc -eq 0 ] && head -1 '$dir/out' | grep -q '^SEQ' && grep -q 'STOPPING' '$dir/out' && grep -q 'EXITED' '$dir/out'"
c -o json events --since 0
check "events -o json" "[ $rc -eq 0 ] && json_ok && [ \"\$(jget 'len(j[\"events\"]) >= 6')\" = True ]"

# events --follow: live transitions arrive, Ctrl-C (SIGINT) stops it.
# The follower replays the journal once, as it starts; after that only the
# PUB stream makes it print (a live event, or the gap before one, filled
# from the journal). So once its replay has printed the newest event,
# what it prints about a later action came live: these checks fail if
# live delivery is broken, the replay cannot make them pass.
# shown FILE REGEX [TRIES]: FILE has a line matching REGEX within TRIES
# (100) polls of 0.05 s.
shown() {
	local i
	for ((i = 0; i < ${3:-100}; i++)); do
		grep -q -- "$2" "$1" && return 0
		sleep 0.05
	done
	return 1
}
c -o json events --since 0
last=$(jget 'j["events"][-1]["seq"]')
"$ctl" --socket "$api" --events-socket "$ev" events --follow --since 0 \
	>"$dir/follow" 2>"$dir/follow.err" &
fpid=$!
check "events --follow replays the journal up to the newest seq ($last)" \
	"[[ '$last' =~ ^[0-9]+\$ ]] && shown '$dir/follow' '^$last '"
# PUB drops what is published before the follower's pipe is up, and the
# follower cannot tell when it is: create probe sandboxes until one shows.
probes=()
live=1
for k in $(seq 1 10); do
	c create "$config" --id "cli-probe-$k"
	probes+=("cli-probe-$k")
	if shown "$dir/follow" "cli-probe-$k " 20; then
		live=0
		break
	fi
done
check "events --follow gets live events (${#probes[@]} probe(s))" \
	"[ $live -eq 0 ]"
c stop cli-test-2
check "... the transitions of a stop after its replay arrive live" \
	"shown '$dir/follow' 'cli-test-2.*STOPPING' && shown '$dir/follow' 'cli-test-2.*EXITED'"
kill -INT $fpid
wait $fpid
frc=$?
check "events --follow shows replayed and live events, stops on SIGINT" \
	"[ $frc -eq 0 ] && grep -q \"${id:0:13}.*EXITED\" '$dir/follow' && grep -q 'cli-test-2.*EXITED' '$dir/follow'"
c rm "${probes[@]}"
check "rm of the probe sandboxes" \
	"[ $rc -eq 0 ] && [ \$(grep -c '^Removed sandbox' '$dir/out') -eq ${#probes[@]} ]"

# --netns: a netns the caller made, judged by the daemon; part of the
# config a retried create must repeat.
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); j["linux"]["security_context"]["namespace_options"]["network"]="POD"; json.dump(j,open(sys.argv[2],"w"))' \
	"$config" "$dir/podnet.json"
c create "$config" --id cli-netns --netns /run/netns/cli-test
check "create --netns with a network NODE config exits 1 (INVALID_ARGUMENT)" \
	"[ $rc -eq 1 ] && grep -q '^podsandboxctl: INVALID_ARGUMENT: create.netns_path: netns_path is for network POD pods' '$dir/err'"
c create "$dir/podnet.json" --id cli-netns --netns run/netns/cli-test
check "create --netns with a relative path exits 1 naming create.netns_path" \
	"[ $rc -eq 1 ] && grep -q '^podsandboxctl: INVALID_ARGUMENT: create.netns_path: .*not an absolute path' '$dir/err'"
c create "$dir/podnet.json" --id cli-netns --netns /run/netns/../etc
check "create --netns with a '..' component exits 1" \
	"[ $rc -eq 1 ] && grep -q 'INVALID_ARGUMENT: create.netns_path: .*\.\.' '$dir/err'"
c create "$dir/podnet.json" --id cli-netns --netns /run/netns/cli-test
check "create --netns PATH with a network POD config" \
	"[ $rc -eq 0 ] && [ \"\$(cat '$dir/out')\" = cli-netns ]"
c create "$dir/podnet.json" --id cli-netns --netns /run/netns/cli-test
check "... retried with the same --netns is idempotent" "[ $rc -eq 0 ]"
c create "$dir/podnet.json" --id cli-netns --netns /run/netns/other
check "... retried with another --netns is ALREADY_EXISTS" \
	"[ $rc -eq 1 ] && grep -q '^podsandboxctl: ALREADY_EXISTS: ' '$dir/err'"
c create "$dir/podnet.json" --id cli-netns
check "... retried without --netns is ALREADY_EXISTS" \
	"[ $rc -eq 1 ] && grep -q '^podsandboxctl: ALREADY_EXISTS: ' '$dir/err'"
c rm cli-netns
check "rm of the --netns sandbox" "[ $rc -eq 0 ]"

c rm "$id" cli-test-2
check "rm removes several" "[ $rc -eq 0 ] && [ \$(grep -c '^Removed sandbox' '$dir/out') -eq 2 ]"
c status "$id"
check "status of a removed sandbox exits 1 with NOT_FOUND" \
	"[ $rc -eq 1 ] && grep -q '^podsandboxctl: NOT_FOUND: ' '$dir/err'"
c rm -f "$id"
check "rm of a removed sandbox succeeds (idempotent)" "[ $rc -eq 0 ]"
c start nosuchsandbox
check "start of an unknown sandbox exits 1" "[ $rc -eq 1 ] && grep -q '^podsandboxctl: NOT_FOUND: ' '$dir/err'"
c ls -o json
check "ls -o json of nothing" "[ $rc -eq 0 ] && json_ok && [ \"\$(jget 'len(j[\"items\"])')\" = 0 ]"

kill -TERM "$pid"
wait "$pid"
pid=
echo "# $pass passed, $fail failed"
[ "$fail" -eq 0 ]

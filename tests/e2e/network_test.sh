#!/usr/bin/env bash
# tests/e2e/network_test.sh - pod networks end to end (DESIGN.md §7): the
# daemon pins a netns per pod and runs Debian's CNI plugins (bridge,
# host-local, portmap, loopback) on it.
#
# Nothing touches the host's network: the daemon runs in a network
# namespace this test creates (its "host side": the bridge, the veths'
# host ends and portmap's iptables rules live there), the pins and the
# host-local reservations live under the test's temp dir, and the cleanup
# removes the namespace. Checks: two pods get distinct IPs and reach each
# other, the host side reaches them and a port mapping reaches a listener
# in a pod; dns_config, hostname and shm show in the pod; kill -9 of the
# daemon after each network step (failpoints) converges with the same IPs
# and leaks nothing; broken configs and plugins fail Start with an error
# naming the plugin, and leak nothing; Stop and rm leave nothing behind.
# shellcheck shell=bash
set -u
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

for t in ip nsenter unshare iptables ping python3; do
	if ! command -v "$t" >/dev/null; then
		echo "FAIL - $t is missing (scripts/install-deps.sh)"
		exit 1
	fi
done
cni_bin=/usr/lib/cni
for p in bridge host-local portmap loopback; do
	if [[ ! -x $cni_bin/$p ]]; then
		echo "FAIL - CNI plugin $cni_bin/$p is missing" \
			"(containernetworking-plugins; scripts/install-deps.sh)"
		exit 1
	fi
done

e2e_begin psb-e2e-net

# ---- the test's host side --------------------------------------------------

nsdir=$dir/ns
hostns=$nsdir/host
pins=$dir/pins
mkdir -p "$nsdir" "$dir/cni" "$dir/ipam" "$dir/fakebin"
mount --bind "$nsdir" "$nsdir"
mount --make-private "$nsdir"
touch "$hostns"
unshare --net="$hostns" true
hns() { nsenter --net="$hostns" "$@"; }
hns ip link set lo up

e2e_cleanup_extra() {
	local m
	# Pins the daemon left (a failed test), then the test's own.
	for m in $(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r); do
		umount -l "$m" 2>/dev/null
	done
}

cat >"$dir/cni/10-psb-e2e.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "psb-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "psb-e2e0",
      "isGateway": true,
      "ipMasq": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$dir/ipam",
        "ranges": [[{"subnet": "10.89.0.0/24"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
EOF

daemon_wrap=(nsenter --net="$hostns")
base_opts="netns_dir=$pins,cni_conf_dir=$dir/cni,cni_bin_dirs=$cni_bin,cni_timeout_ms=3000"
rt_opts=$base_opts

# pod_json NAME HOSTPORT: a pod-network config with a port mapping.
pod_json() {
	cat <<EOF
{
  "metadata": {"name": "$1", "namespace": "e2e", "uid": "uid-$1"},
  "hostname": "$1-host",
  "dns_config": {"servers": ["10.89.0.53"], "searches": ["e2e.example"],
                 "options": ["ndots:3"]},
  "port_mappings": [{"protocol": "TCP", "container_port": 8080,
                     "host_port": $2}],
  "labels": {"test": "network"},
  "linux": {"security_context": {"namespace_options": {"network": "POD",
            "pid": "CONTAINER", "ipc": "POD"}}}
}
EOF
}
pod_json net-a 18080 >"$dir/pod-a.json"
pod_json net-b 18081 >"$dir/pod-b.json"

# ip_of ID: the pod's primary IP from `status -o json`.
ip_of() {
	field "$1" ip
}
# info ID PYEXPR: a value of `status -v -o json`'s info (i is the info).
info() {
	ctl_ status -v -o json "$1" 2>/dev/null | python3 -c '
import json, sys
i = json.load(sys.stdin)["info"]
print(eval(sys.argv[1]))' "$2" 2>/dev/null
}

# Nothing of any pod network left: no pin, no veth on the host side, no
# host-local reservation, no portmap rule.
no_network_left() {
	local left
	left=$(
		find "$pins" -mindepth 1 2>/dev/null
		grep -F " $pins/" /proc/self/mountinfo | awk '{print "mount " $5}'
		hns ip -o link show type veth 2>/dev/null
		find "$dir/ipam" -type f ! -name lock ! -name 'last_reserved_ip*' 2>/dev/null
		hns iptables -t nat -S 2>/dev/null | grep -- '--dport 1808'
	)
	[[ -z $left ]] && return 0
	echo "# left behind: $left" | head -n 8
	return 1
}

check "podsandboxd starts in the test's network namespace" \
	"start_daemon '$dir/daemon1.log'"

# ---- two pods --------------------------------------------------------------

if out=$(ctl_ run "$dir/pod-a.json" --id net-a 2>&1); then
	ok "run net-a (network POD) succeeds"
else
	bad "run net-a (network POD) succeeds: $out"
fi
ctl_ run "$dir/pod-b.json" --id net-b >"$dir/run-b" 2>&1
check "run net-b succeeds" "[ \"\$(field net-b state)\" = READY ]"
ip_a=$(ip_of net-a)
ip_b=$(ip_of net-b)
check "net-a has an IP in 10.89.0.0/24 ($ip_a)" "[[ '$ip_a' == 10.89.0.* ]]"
check "net-b has another ($ip_b)" "[[ '$ip_b' == 10.89.0.* && '$ip_b' != '$ip_a' ]]"
ctl_ status net-a >"$dir/status-a" 2>&1
check "status shows the IP" "grep -q '$ip_a' '$dir/status-a'"
pin_a=$(info net-a 'i["runtimeSpec"]["linux"]["namespaces"][[n["type"] for n in i["runtimeSpec"]["linux"]["namespaces"]].index("network")]["path"]')
pin_b=$(info net-b 'i["runtimeSpec"]["linux"]["namespaces"][[n["type"] for n in i["runtimeSpec"]["linux"]["namespaces"]].index("network")]["path"]')
check "the pause joins a netns pinned under the netns dir ($pin_a)" \
	"[[ '$pin_a' == '$pins'/psb-* ]] && grep -qF ' $pin_a ' /proc/self/mountinfo"
check "status -v has the CNI result with eth0" \
	"[ \"\$(info net-a 'i[\"cniResult\"][\"interfaces\"][[x[\"name\"] for x in i[\"cniResult\"][\"interfaces\"]].index(\"eth0\")][\"sandbox\"]')\" = '$pin_a' ]"
check "netNamespaceClosed is false while it runs" \
	"[ \"\$(info net-a 'i[\"netNamespaceClosed\"]')\" = False ]"
pid_a=$(field net-a pid)
check "the pause's netns is the pin" \
	"[ \"\$(stat -L -c %i /proc/$pid_a/ns/net)\" = \"\$(stat -L -c %i '$pin_a')\" ]"

check "pod a reaches pod b (ping)" \
	"nsenter --net='$pin_a' ping -c 1 -W 2 '$ip_b' >/dev/null"
check "the host side reaches pod a (ping)" \
	"hns ping -c 1 -W 2 '$ip_a' >/dev/null"

# A listener inside pod a, reached through the port mapping 18080 -> 8080.
nsenter --net="$pin_a" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(1); s.settimeout(20)
c, _ = s.accept(); c.sendall(b"hello from pod a\n"); c.close()' &
lpid=$!
# The listener may take a moment to start: connect until it answers (10 s).
got=$(hns python3 -c '
import socket, sys, time
end = time.time() + 10
while True:
    try:
        c = socket.create_connection((sys.argv[1], 18080), timeout=5)
        break
    except OSError:
        if time.time() > end:
            raise
        time.sleep(0.1)
print(c.recv(100).decode().strip())' 10.89.0.1 2>&1)
check "the port mapping reaches the listener in the pod ($got)" \
	"[ '$got' = 'hello from pod a' ]"
kill "$lpid" 2>/dev/null
wait "$lpid" 2>/dev/null

check "dns_config is the pod's resolv.conf" \
	"grep -q 'nameserver 10.89.0.53' /proc/$pid_a/root/etc/resolv.conf &&
	 grep -q 'search e2e.example' /proc/$pid_a/root/etc/resolv.conf"
check "the hostname is the pod's UTS name" \
	"[ \"\$(nsenter --uts -t $pid_a hostname)\" = net-a-host ]"
check "shm is a 64 MiB tmpfs" \
	"awk '\$5 == \"/dev/shm\"' '/proc/$pid_a/mountinfo' | grep -q ' - tmpfs shm .*size=65536k'"

# ---- kill -9 and restart: the same IPs --------------------------------------

kill_daemon
check "podsandboxd restarts" "start_daemon '$dir/daemon2.log'"
check "net-a is READY after the restart" "wait_state net-a READY 10"
check "... with the same IP" "[ \"\$(ip_of net-a)\" = '$ip_a' ]"
check "... and the same pin" "grep -qF ' $pin_a ' /proc/self/mountinfo"
check "pod a still reaches pod b" \
	"nsenter --net='$pin_a' ping -c 1 -W 2 '$ip_b' >/dev/null"

# ---- stop and rm -------------------------------------------------------------

check "stop net-a succeeds" "ctl_ stop net-a >'$dir/stop-a' 2>&1"
check "the pin of net-a is gone after stop" \
	"! grep -qF ' $pin_a ' /proc/self/mountinfo && [ ! -e '$pin_a' ]"
check "net-a has no IP after stop" "[ -z \"\$(ip_of net-a)\" ]"
check "netNamespaceClosed after stop" \
	"[ \"\$(info net-a 'i[\"netNamespaceClosed\"]')\" = True ]"
check "its host-local reservation is released" \
	"! grep -rqs net-a '$dir/ipam'"
check "rm net-a succeeds" "ctl_ rm net-a >/dev/null 2>&1"
# rm of a running pod: stop (network down) then remove.
check "rm net-b (running) succeeds" "ctl_ rm net-b >/dev/null 2>&1"
check "nothing is left (containerd, files, network)" \
	"nothing_left && no_network_left"

# ---- the pause dies on its own: the network stays until Stop ----------------

ctl_ run "$dir/pod-a.json" --id net-c >/dev/null 2>&1
pid_c=$(field net-c pid)
pin_c=$(info net-c 'i["runtimeSpec"]["linux"]["namespaces"][[n["type"] for n in i["runtimeSpec"]["linux"]["namespaces"]].index("network")]["path"]')
kill -9 "$pid_c"
check "net-c is EXITED after its pause was killed" "wait_state net-c EXITED 10"
check "... and keeps its netns and IP until Stop" \
	"grep -qF ' $pin_c ' /proc/self/mountinfo && [ -n \"\$(ip_of net-c)\" ]"
check "stop of the exited net-c tears the network down" \
	"ctl_ stop net-c >/dev/null 2>&1 && ! grep -qF ' $pin_c ' /proc/self/mountinfo"
check "rm net-c" "ctl_ rm net-c >/dev/null 2>&1"
check "nothing is left after net-c" "nothing_left && no_network_left"

# ---- a netns the caller made -------------------------------------------------
# The pause joins it; the daemon neither makes nor removes a netns and runs
# no CNI (the caller's job, as containerd's CRI does with a controller).

caller=$nsdir/caller
touch "$caller"
unshare --net="$caller" true
check "run with --netns (the caller's) succeeds" \
	"ctl_ run '$dir/pod-a.json' --id net-caller --netns '$caller' >'$dir/run-caller' 2>&1"
pid_k=$(field net-caller pid)
check "its pause is in the caller's netns" \
	"[ \"\$(stat -L -c %i /proc/$pid_k/ns/net)\" = \"\$(stat -L -c %i '$caller')\" ]"
check "no CNI ran: no IP, no veth, no pin of ours" \
	"[ -z \"\$(ip_of net-caller)\" ] && [ -z \"\$(hns ip -o link show type veth)\" ] && [ -z \"\$(find '$pins' -mindepth 1)\" ]"
check "stop and rm leave the caller's netns alone" \
	"ctl_ stop net-caller >/dev/null 2>&1 && ctl_ rm net-caller >/dev/null 2>&1 && grep -qF ' $caller ' /proc/self/mountinfo"
check "nothing else is left" "nothing_left && no_network_left"
umount "$caller"

# ---- kill -9 after each network step ---------------------------------------
# net/<Step> failpoints (base/failpoint.h): the daemon dies right after the
# step, before it takes note; a restart must finish or undo it.

for point in net/Plan net/NetnsCreate net/CniAdd net/Result; do
	id=net-crash-${point#net/}
	id=${id,,}
	kill_daemon 2>/dev/null
	PSB_FAILPOINT=$point start_daemon "$dir/daemon-$id.log"
	ctl_ run "$dir/pod-a.json" --id "$id" >"$dir/run-$id" 2>&1
	wait "$dpid" 2>/dev/null
	status=$?
	dpid=
	check "$point: the daemon died at the failpoint ($status)" \
		"[ $status -eq 137 ] && grep -q 'FAILPOINT' '$dir/daemon-$id.log'"
	check "$point: podsandboxd restarts" \
		"start_daemon '$dir/daemon-$id-2.log'"
	# The start was cut short: recovery leaves it CREATED (rolled back)
	# or READY; a new Start must work either way.
	for ((i = 0; i < 100; i++)); do
		st=$(field "$id" state)
		[[ $st =~ ^(CREATED|READY|UNKNOWN|EXITED)$ ]] && break
		sleep 0.1
	done
	if [[ $st != READY ]]; then
		ctl_ start "$id" >"$dir/start-$id" 2>&1
	fi
	check "$point: $id ends READY with an IP" \
		"[ \"\$(field $id state)\" = READY ] && [[ \"\$(ip_of $id)\" == 10.89.0.* ]]"
	check "$point: rm $id" "ctl_ rm $id >/dev/null 2>&1"
	check "$point: nothing is left" "nothing_left && no_network_left"
done
for point in net/CniDel net/NetnsRemove; do
	id=net-crash-${point#net/}
	id=${id,,}
	ctl_ run "$dir/pod-a.json" --id "$id" >/dev/null 2>&1
	ip1=$(ip_of "$id")
	kill_daemon
	PSB_FAILPOINT=$point start_daemon "$dir/daemon-$id.log"
	ctl_ stop "$id" >/dev/null 2>&1
	wait "$dpid" 2>/dev/null
	status=$?
	dpid=
	check "$point: the daemon died at the failpoint ($status)" \
		"[ $status -eq 137 ]"
	check "$point: podsandboxd restarts" \
		"start_daemon '$dir/daemon-$id-2.log'"
	check "$point: stop finishes after the restart" \
		"ctl_ stop $id >/dev/null 2>&1 && [ \"\$(field $id state)\" = EXITED ]"
	check "$point: rm $id" "ctl_ rm $id >/dev/null 2>&1"
	check "$point: nothing is left" "nothing_left && no_network_left"
done

# ---- a netns pin lost (as after a reboot) ----------------------------------

ctl_ run "$dir/pod-a.json" --id net-lost >/dev/null 2>&1
pin_l=$(info net-lost 'i["runtimeSpec"]["linux"]["namespaces"][[n["type"] for n in i["runtimeSpec"]["linux"]["namespaces"]].index("network")]["path"]')
pid_l=$(field net-lost pid)
kill_daemon
kill -9 "$pid_l"
umount -l "$pin_l" && rm -f "$pin_l"
check "podsandboxd restarts without the pin" "start_daemon '$dir/daemon-lost.log'"
check "net-lost is EXITED" "wait_state net-lost EXITED 10"
check "netNamespaceClosed is true" \
	"[ \"\$(info net-lost 'i[\"netNamespaceClosed\"]')\" = True ]"
check "stop still succeeds (DEL with no netns)" "ctl_ stop net-lost >/dev/null 2>&1"
check "rm net-lost" "ctl_ rm net-lost >/dev/null 2>&1"
check "its IP is released too" "nothing_left && no_network_left"

# ---- broken configs and plugins --------------------------------------------

# broken NAME CONFLIST-TEXT WANT: Start fails naming the reason; nothing
# is left.
broken() {
	local name=$1 want=$3 out
	rm -f "$dir/cni"/*
	printf '%s\n' "$2" >"$dir/cni/10-$name.conflist"
	stop_daemon
	start_daemon "$dir/daemon-$name.log"
	out=$(ctl_ run "$dir/pod-b.json" --id "net-$name" 2>&1)
	check "$name: start fails ($out)" \
		"[ \"\$(field net-$name state)\" != READY ] && grep -q -- '$want' <<<\"\$out\""
	ctl_ rm "net-$name" >/dev/null 2>&1
	check "$name: nothing is left" "nothing_left && no_network_left"
}
cat >"$dir/fakebin/psb-hang" <<'EOF'
#!/bin/sh
sleep 600
EOF
cat >"$dir/fakebin/psb-garbage" <<'EOF'
#!/bin/sh
echo 'this is not JSON'
EOF
chmod +x "$dir/fakebin"/*
rt_opts="$base_opts,cni_bin_dirs=$cni_bin:$dir/fakebin"
bridge='{"type": "bridge", "bridge": "psb-e2e0", "isGateway": true, "ipam": {"type": "host-local", "dataDir": "'$dir'/ipam", "ranges": [[{"subnet": "10.89.0.0/24"}]]}}'
broken no-list '{"cniVersion": "1.0.0", "name": "x", "plugins": [' \
	'no valid CNI network config.*10-no-list.conflist'
broken missing '{"cniVersion": "1.0.0", "name": "m", "plugins": [{"type": "psb-nonesuch"}]}' \
	'psb-nonesuch'
broken hang '{"cniVersion": "1.0.0", "name": "h", "plugins": ['"$bridge"', {"type": "psb-hang"}]}' \
	'psb-hang.*timed out'
broken garbage '{"cniVersion": "1.0.0", "name": "g", "plugins": ['"$bridge"', {"type": "psb-garbage"}]}' \
	'psb-garbage.*not JSON'

stop_daemon
check "podsandboxd exits 0 on SIGTERM" "[ $status -eq 0 ]"
e2e_end

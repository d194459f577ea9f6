//
// podsandboxd - containerd backend: the pod network of a sandbox (DESIGN.md
// §7, reference §2.3 step 4): a network namespace the daemon pins
// (runtime/net/netns.h) and the CNI plugins run on it
// (runtime/net/cni.h). Loop thread only.
//
// A pod whose config asks for network POD gets one; NODE keeps the host's
// network and none is made. Every step's intent is recorded with the
// sandbox before the step runs, and its result after
// (psb_runtime_record), in the resources' "network" member:
//   {"netns": PIN, "name": NET, "conflist": {...}, "ifname": "eth0",
//    "result": {...}, "ips": ["10.88.0.2", ...]}
// so that recovery and every later operation know what to undo: CNI DEL
// runs with the list the ADD ran with and its stored result, and with an
// empty netns path once the pin is gone (a reboot; reference §7).
//
// The steps, as the start chain (start.c) and the teardown (teardown.c)
// call them:
//   start:    [tear down a network left by an earlier attempt] → load the
//             conflist → record the plan → create the netns → CNI ADD →
//             record the result → the container, with the netns path
//   teardown: CNI DEL (reverse order) → remove the netns
//   net_down: the teardown's two steps alone (Stop), then NET_DOWN_OK
//

#ifndef PSB_RUNTIME_CONTAINERD_NETWORK_H
#define PSB_RUNTIME_CONTAINERD_NETWORK_H

#include <jansson.h>
#include <stdbool.h>

#include "runtime/containerd/ctrd.h"
#include "runtime/net/cni.h"
#include "runtime/net/netns.h"

#define CTRD_NETNS_DIR    "/run/netns"
#define CTRD_CNI_CONF_DIR "/etc/cni/net.d"
#define CTRD_CNI_BIN_DIRS "/opt/cni/bin:/usr/lib/cni"

// What one sandbox's pod network is, and what of it is in flight. Every
// string is malloc'd and owned.
typedef struct ctrd_net {
	char           *netns;    // the pin (planned or made), or NULL
	char           *name;     // the CNI network's name
	char           *conflist; // the list the ADD ran with (JSON), or NULL
	char           *ifname;   // "eth0"
	char           *result;   // the ADD's result (JSON), or NULL
	char          **ips;      // from the result, IPv4 first
	int             nips;
	psb_netns_op_t *nsop;  // in flight, or NULL
	psb_cni_op_t   *cniop; // in flight, or NULL
} ctrd_net_t;

// ctrd_net_release cancels what is in flight (no callback follows) and
// frees n's strings; n can be used again.
void ctrd_net_release(ctrd_net_t *n);

// ctrd_net_recorded fills n from a resources JSON's "network" member
// (NULL or none: n stays empty); true when there was one.
bool ctrd_net_recorded(ctrd_net_t *n, const char *resources);

// ctrd_net_json is n as the resources' "network" member (a new
// reference), or NULL when n is empty.
json_t *ctrd_net_json(const ctrd_net_t *n);

// ctrd_net_pod: the pod config (crictl JSON) asks for a pod network
// (namespace_options.network POD, the default).
bool ctrd_net_pod(const json_t *config);

// ctrd_net_start runs the network steps of a start on o (its config,
// o->net), then calls next(o); a failure ends the start through
// ctrd_start_fail (rolled back by the teardown). Marks o->made with
// CTRD_MADE_NETNS / CTRD_MADE_CNI before each step.
void ctrd_net_start(ctrd_op_t *o, void (*next)(ctrd_op_t *o));

// The teardown's steps (teardown.c), with a gRPC call's shape: cb runs
// later with PSB_GRPC_OK, or another status and a message naming the
// plugin or the path. ctrd_net_needs_*: whether there is anything to do.
bool ctrd_net_needs_del(const ctrd_op_t *o);
bool ctrd_net_needs_netns(const ctrd_op_t *o);
int  ctrd_net_call_del(ctrd_op_t *o, psb_grpc_unary_cb cb);
int  ctrd_net_call_remove(ctrd_op_t *o, psb_grpc_unary_cb cb);

// ctrd_net_down is the ops table's rt_net_down.
int ctrd_net_down(void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err);

#endif // PSB_RUNTIME_CONTAINERD_NETWORK_H

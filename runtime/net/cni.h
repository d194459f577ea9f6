//
// podsandboxd - CNI: loading a network config list and running its plugins
// (CNI spec 1.0.0; 0.3.x and 0.4.0 lists work too).
//
// A network is a config list (a .conflist, or a single .conf turned into
// a list of one). psb_cni_add runs its plugins in order with the ADD
// command, each one getting the previous one's result; psb_cni_del runs
// them in reverse with DEL. Each plugin is a child process spawned with
// posix_spawn (the daemon has other threads), fed its config on stdin and
// watched on the loop: its pipes and a pidfd through ev_io, a deadline
// through ev_timer. Nothing here blocks the loop but the small reads of
// config files in psb_cni_load and the stat of plugin binaries.
//
// The process must ignore SIGPIPE (podsandboxd does, in core/main.c): a
// plugin that exits without reading all of its stdin makes our write fail
// with EPIPE, which is handled, and would otherwise raise the signal.
//
// Reaping is by pid (waitpid on the pidfd's wake-up): nothing else in the
// process may reap children it did not spawn (no waitpid(-1), no
// SIGCHLD set to SIG_IGN, and so no libev default loop, whose SIGCHLD
// watcher reaps them all).
//
// All functions: loop thread only, except the pure ones marked "any
// thread".
//

#ifndef PSB_RUNTIME_NET_CNI_H
#define PSB_RUNTIME_NET_CNI_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct ev_loop;

typedef struct psb_cni_net psb_cni_net_t; // one loaded network config list
typedef struct psb_cni_op  psb_cni_op_t;  // an ADD or a DEL in flight

#define PSB_CNI_TIMEOUT_MS 30000u     // psb_cni_opts_t.timeout_ms 0
#define PSB_CNI_OUTPUT_CAP (1u << 20) // psb_cni_opts_t.output_cap 0
#define PSB_CNI_PATH_ENV \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PSB_CNI_IFNAME   "eth0"
#define PSB_CNI_CONF_MAX (1u << 20) // a config file larger is refused

// ---- network config lists --------------------------------------------------

// psb_cni_load loads a network from the directory conf_dir (borrowed; e.g.
// /etc/cni/net.d). Its files named *.conflist, *.conf and *.json are tried
// in strcmp order of their names; each is a list, or a single plugin
// config when it has no "plugins" (psb_cni_parse). With name NULL the
// first valid file wins; otherwise the first valid one whose "name" is
// name (borrowed). Invalid files are skipped with a warning log naming the
// file and the reason. On success *out is a new network the caller owns
// (psb_cni_net_free). On failure *out is untouched and err says why:
// PSB_ENOENT when the directory cannot be read or holds no valid network
// (of that name); the message names the directory and the name.
int psb_cni_load(const char *conf_dir, const char *name, psb_cni_net_t **out,
        psb_error_t *err);

// psb_cni_parse parses text (borrowed, NUL-terminated), a config list or a
// single plugin config (then a list of one plugin with the config's name
// and cniVersion), and checks it: "name" a string of the spec's form
// ([a-zA-Z0-9][a-zA-Z0-9_.-]*); "cniVersion" one of 0.3.0, 0.3.1, 0.4.0,
// 1.0.0, 1.1.0 (a list with only "cniVersions" gets the highest of those
// it names); "plugins" a non-empty array of objects, each with a string
// "type" that is a plain file name (not empty, no '/', not "." or "..").
// origin (borrowed; a file name) starts every message. On success *out is
// a new network owned by the caller; on failure *out is untouched and err
// is PSB_EINVAL with the reason. Pure; any thread.
int psb_cni_parse(const char *text, const char *origin, psb_cni_net_t **out,
        psb_error_t *err);

// psb_cni_net_name is the network's "name"; borrowed from net.
const char *psb_cni_net_name(const psb_cni_net_t *net);

// psb_cni_net_version is the cniVersion plugins are run with; borrowed.
const char *psb_cni_net_version(const psb_cni_net_t *net);

// psb_cni_net_plugins is the number of plugins in the list (at least 1).
size_t psb_cni_net_plugins(const psb_cni_net_t *net);

// psb_cni_net_json is the list as compact JSON (a single .conf already
// turned into a list), to persist with a sandbox and psb_cni_parse back
// for its DEL: the DEL then runs the plugins its ADD ran, even when the
// files changed meanwhile. Malloc'd; the caller frees it. Any thread.
char *psb_cni_net_json(const psb_cni_net_t *net);

// psb_cni_net_free frees net. NULL is a no-op. Operations in flight keep
// what they need, so a net may be freed once psb_cni_add/del returned.
void psb_cni_net_free(psb_cni_net_t *net);

// ---- running the plugins ---------------------------------------------------

// How plugins are run. Borrowed for the call (an operation copies it).
typedef struct psb_cni_opts {
	const char *bin_dirs; // colon-separated plugin directories, e.g.
	                      // "/opt/cni/bin:/usr/lib/cni"; required.
	                      // Also the plugins' CNI_PATH.
	uint32_t timeout_ms;  // per plugin run (0 = PSB_CNI_TIMEOUT_MS)
	size_t   output_cap;  // bytes of stdout and of stderr kept (0 =
	                      // PSB_CNI_OUTPUT_CAP); a plugin printing more
	                      // is killed and its run fails
	const char *path_env; // the plugins' PATH (NULL = PSB_CNI_PATH_ENV);
	                      // bridge and portmap find iptables on it
} psb_cni_opts_t;

// The attachment a command is about. Borrowed for the call.
typedef struct psb_cni_args {
	const char *container_id;  // CNI_CONTAINERID; required
	const char *netns;         // CNI_NETNS; required for ADD; "" (or
	                           // NULL) for a DEL whose netns is gone
	const char *ifname;        // CNI_IFNAME (NULL = PSB_CNI_IFNAME)
	const char *pod_namespace; // K8S_POD_NAMESPACE in CNI_ARGS (NULL="")
	const char *pod_name;      // K8S_POD_NAME (NULL = "")
	const char *pod_uid;       // K8S_POD_UID (NULL = "")
	// The JSON object text of every capability the runtime offers, by
	// its conventional key: {"portMappings": [{"hostPort": 8080,
	// "containerPort": 80, "protocol": "tcp", "hostIP": ""}],
	// "bandwidth": {...}, "dns": {...}, "cgroupPath": "..."}. Each
	// plugin gets as "runtimeConfig" only the keys its "capabilities"
	// object sets to true (none: no "runtimeConfig" is added). NULL =
	// no capabilities.
	const char *runtime_config;
	// DEL: the result its ADD returned (JSON object text), passed to
	// every plugin as "prevResult" (lists of cniVersion 0.4.0 or later;
	// 0.3.x had no prevResult on DEL), or NULL. Text that is not a JSON
	// object is left out with a warning: a DEL must still run.
	const char *prev_result;
} psb_cni_args_t;

// The outcome of an operation: rc 0 on success, with result the ADD's
// final result (the last plugin's, as compact JSON; NULL for a DEL);
// otherwise a psb_err with err saying which plugin failed, in which
// command, and why (PSB_ETIMEDOUT for a plugin killed at its deadline,
// PSB_ENOENT for a plugin binary not found, PSB_ERUNTIME for the rest).
// result and err are borrowed for the call. The operation is freed before
// the call: cb may start new operations, and must not cancel this one.
typedef void (*psb_cni_done_cb)(
        void *arg, int rc, const char *result, const psb_error_t *err);

// psb_cni_add starts ADD on the network net for args, on loop, with opts
// (all borrowed for the call). The plugins run one at a time in list
// order; each gets on stdin its config object plus the list's "name" and
// "cniVersion", "prevResult" (the previous plugin's result; not for the
// first plugin) and "runtimeConfig" (see psb_cni_args_t). The first
// failure ends the ADD; whatever the earlier plugins made stays, and the
// caller undoes it with psb_cni_del. The environment of a plugin is
// CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH, CNI_ARGS
// ("IgnoreUnknown=1;K8S_POD_NAMESPACE=..;K8S_POD_NAME=..;
// K8S_POD_INFRA_CONTAINER_ID=<container_id>;K8S_POD_UID=..") and PATH,
// nothing of the daemon's own; its other file descriptors are closed.
//
// Returns 0 once the ADD is under way: then cb(arg, ...) runs exactly
// once, later, on the loop (never from inside this call), unless the
// operation is cancelled; *op (if op is not NULL) is the handle for
// psb_cni_cancel, valid until cb runs. Returns PSB_EINVAL (err filled, cb
// never runs) when the arguments are unusable: no container id, no netns,
// no bin_dirs, a ';' or '=' in a CNI_ARGS value, or runtime_config that is
// not a JSON object.
int psb_cni_add(struct ev_loop *loop, const psb_cni_opts_t *opts,
        const psb_cni_net_t *net, const psb_cni_args_t *args,
        psb_cni_done_cb cb, void *arg, psb_cni_op_t **op, psb_error_t *err);

// psb_cni_del starts DEL: as psb_cni_add, but the plugins run in reverse
// order, each with the same "prevResult" (args->prev_result), and a
// failing plugin (a missing binary too) does not stop the others: cb gets
// the first failure once all have run, and the later ones are logged. The
// netns may be "" (gone already). rc 0 means every plugin succeeded.
int psb_cni_del(struct ev_loop *loop, const psb_cni_opts_t *opts,
        const psb_cni_net_t *net, const psb_cni_args_t *args,
        psb_cni_done_cb cb, void *arg, psb_cni_op_t **op, psb_error_t *err);

// psb_cni_cancel abandons op: its cb never runs, and it is freed. A plugin
// running is killed (SIGKILL, with anything it spawned into its process
// group) and reaped: at once when it is gone already, else when the loop
// next sees it exit (the loop keeps a watcher until then). What the
// plugins did is not undone. op must be pending: not after or inside its
// cb. NULL is a no-op.
void psb_cni_cancel(psb_cni_op_t *op);

// ---- results ---------------------------------------------------------------

// psb_cni_result_ips finds the pod IPs of an ADD result (borrowed JSON
// text, of cniVersion 0.3.0 to 1.1.0): the addresses of the "ips" entries
// whose "interface" index names an interface called ifname (NULL =
// PSB_CNI_IFNAME) with a "sandbox" set; an entry without an index, or a
// result without "interfaces", counts as the pod's. Addresses are given
// without their prefix length, IPv4 ones first, then IPv6 ones, each in
// result order (the CRI's primary pod IP is the first). Returns the count
// and sets *ips to a malloc'd array of malloc'd strings (NULL when the
// count is 0; free with psb_cni_ips_free); -1 when result is not a JSON
// object (*ips NULL). Pure; any thread.
int psb_cni_result_ips(const char *result, const char *ifname, char ***ips);

// psb_cni_ips_free frees n strings of ips and the array. NULL is a no-op.
void psb_cni_ips_free(char **ips, int n);

#endif // PSB_RUNTIME_NET_CNI_H

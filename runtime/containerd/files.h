//
// podsandboxd - containerd backend: a sandbox's files
// (reference/containerd-podsandbox.md §2.2): under <sandbox_root>/<id>/
// the hostname, hosts and resolv.conf a container runtime layer mounts
// into the pod's containers, and under <sandbox_state>/<id>/ the pod's
// shm, a 64 MiB tmpfs (the host's /dev/shm for IPC NODE). The pause spec
// binds shm and resolv.conf (spec.h).
//
// The text builders are pure; the rest does file system calls and
// mount(2) on the calling thread. They are few small files and one mount,
// as containerd does them inline in its Start.
//

#ifndef PSB_RUNTIME_CONTAINERD_FILES_H
#define PSB_RUNTIME_CONTAINERD_FILES_H

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"

#define CTRD_SANDBOX_ROOT  "/var/lib/podsandboxd/sandboxes"
#define CTRD_SANDBOX_STATE "/run/podsandboxd/sandboxes"

// The paths of one sandbox's files; every string is malloc'd and owned by
// the struct (ctrd_files_release).
typedef struct ctrd_files {
	char *root;        // <sandbox_root>/<id>
	char *state;       // <sandbox_state>/<id>
	char *hostname;    // <root>/hostname
	char *hosts;       // <root>/hosts
	char *resolv_conf; // <root>/resolv.conf
	char *shm;         // <state>/shm
	bool  ipc_node;    // set by ctrd_files_create: shm is the host's
} ctrd_files_t;

// ctrd_files_resolv_text builds resolv.conf from the pod config's
// dns_config (crictl JSON; borrowed, may be NULL): "search a b\n",
// "nameserver X\n" per server, "options o1 o2\n", each line only when its
// list is not empty. Returns a malloc'd string, "" when there is nothing
// (the caller then copies the host's file).
char *ctrd_files_resolv_text(const json_t *config);

// ctrd_files_hostname_text is the config's hostname, else host (borrowed),
// plus "\n"; malloc'd.
char *ctrd_files_hostname_text(const json_t *config, const char *host);

// ctrd_files_ipc_node is true when the config's IPC namespace mode is
// NODE (2 or "NODE").
bool ctrd_files_ipc_node(const json_t *config);

// ctrd_files_paths fills f with the paths of sandbox id under root and
// state (all borrowed). Never fails.
void ctrd_files_paths(
        ctrd_files_t *f, const char *root, const char *state, const char *id);

// ctrd_files_recorded sets f's directories to those recorded in the
// resources JSON (borrowed, may be NULL; its "sandboxFiles"), so that a
// teardown after a change of sandbox_root or sandbox_state still finds
// them. False (f untouched) when resources records none.
bool ctrd_files_recorded(ctrd_files_t *f, const char *resources);

// ctrd_files_release frees f's strings (f itself is the caller's).
void ctrd_files_release(ctrd_files_t *f);

// ctrd_files_create makes the files of the pod config_json (borrowed)
// at f's paths and mounts its shm. It can run again on what an earlier
// attempt left (files are rewritten, a stale shm mount is replaced). On
// failure err is set, a negative code returned, and whatever was made is
// left for ctrd_files_remove.
int ctrd_files_create(
        ctrd_files_t *f, const char *config_json, psb_error_t *err);

// ctrd_files_remove unmounts f's shm and removes both directories.
// Idempotent: what is gone already is success. On failure err is set and
// a negative code returned.
int ctrd_files_remove(const ctrd_files_t *f, psb_error_t *err);

// ctrd_files_unmount unmounts f's shm only (Stop: the pause has exited);
// the directories stay for Shutdown. Not mounted is success.
int ctrd_files_unmount(const ctrd_files_t *f, psb_error_t *err);

// ctrd_files_json is what the resources JSON records: {root, state,
// hostname, hosts, resolvConf, shm}; a new reference.
json_t *ctrd_files_json(const ctrd_files_t *f);

#endif // PSB_RUNTIME_CONTAINERD_FILES_H

//
// podsandboxd - the pause container's OCI runtime spec (DESIGN.md §6,
// reference/containerd-podsandbox.md §2.5).
//
// psb_spec_build is a pure function but for the seccomp profile: it reads
// no global state, and its only I/O is reading the RuntimeDefault or
// Localhost profile file and asking the kernel (uname, prctl) about the
// host that profile is filtered for. Everything else the spec depends on
// (the pod config, the pause image's config, the sandbox file paths, the
// daemon's own oom_score_adj, whether the daemon runs in a user
// namespace) is passed in by the caller, so the same input and profile
// file give the same bytes and every rule is unit-testable; tests can
// fix the host too (host_machine, host_kernel_release).
//
// What follows containerd 1.7.9's sbserver exactly, and where it differs:
//
// - ociVersion is "1.1.0", the runtime-spec release that runc 1.1+ and
//   crun implement; containerd 1.6 wrote "1.0.2-dev", which describes the
//   same fields we emit.
// - Key order follows the runtime-spec Go structs (ociVersion, process,
//   root, hostname, mounts, annotations, linux); map-valued fields
//   (annotations, sysctl) are sorted by key, so output is byte-identical
//   for equal inputs whatever the order of the pod config's maps.
// - cgroupsPath: "<parent>/<id>" with the pod's cgroup_parent, else with
//   default_cgroup_parent ("/podsandbox" when NULL, mirroring containerd's
//   "/<namespace>/<id>" for our containerd namespace). A parent whose last
//   element ends in ".slice" gives the systemd form
//   "<slice>:podsandbox:<id>" (containerd writes "cri-containerd" there).
//   disable_cgroup omits cgroupsPath and cpu.shares.
// - hostname is left out for host-network pods: without a private UTS
//   namespace runc refuses any hostname ("unable to set hostname without
//   a private UTS namespace"); kubelet sends none for them anyway.
// - /dev/shm: shm_path is bind-mounted read-only (rule 7). With ipc NODE
//   and shm_path NULL the host's /dev/shm is bound. With a pod IPC
//   namespace and shm_path NULL (a caller without sandbox files; the
//   containerd backend always passes its files.h shm) the base spec's
//   private 64 MiB tmpfs /dev/shm is kept. resolv_conf_path NULL
//   means no /etc/resolv.conf mount.
// - netns_path NULL with a pod network namespace gives a namespace entry
//   without a path: runc creates a fresh, unconnected netns.
// - oomScoreAdj is max(oom_score_adj, daemon_oom_score_adj): a process
//   without CAP_SYS_RESOURCE cannot lower its children's value below its
//   own, so containerd's restrict_oom_score_adj is always on here.
// - Seccomp (the late option): security_context.seccomp, else the
//   deprecated seccomp_profile_path ("runtime/default", "docker/default",
//   "unconfined", "localhost/<path>"; anything else is "invalid
//   profile"). Absent (no seccomp field, empty path) and Unconfined run
//   the pause process without seccomp, as does any privileged sandbox.
//   RuntimeDefault loads the profile at seccomp_default_path (NULL:
//   PSB_SECCOMP_DEFAULT_PROFILE, the default profile of Debian's
//   golang-github-containers-common; containerd compiles its own in).
//   Localhost loads localhost_ref (or the deprecated path) with a
//   leading "localhost/" stripped; it must be an absolute path (containerd
//   would resolve a relative one against its working directory). The
//   profile is filtered for the host and the pause process's capability
//   set as seccomp.h says. A kernel without seccomp is PSB_ENOTSUP
//   ("seccomp is not supported").
// - User: run_as_user / run_as_group, else the image's User. Only numeric
//   "uid[:gid]" users are accepted: resolving names needs the image's
//   /etc/passwd, which a pure function cannot read (PSB_ENOTSUP). A uid
//   without a gid gets gid 0 (containerd would look the uid up in the
//   image's passwd first).
// - SELinux: the level is always validated (rule 8). Labels are written
//   only when selinux_enabled: the process label is selinux_process_label
//   (default "system_u:system_r:container_t:s0") with user, role, type and
//   level replaced by the pod's selinux_options; the mount label is
//   selinux_mount_label (default "system_u:object_r:container_file_t:s0")
//   with user and level replaced. No unique MCS level is reserved (unlike
//   go-selinux's InitLabels). Privileged sandboxes get no labels.
// - Annotation passthrough patterns use fnmatch(3) with FNM_PATHNAME, the
//   closest libc match for Go's path.Match; a malformed pattern matches
//   nothing.
//

#ifndef PSB_RUNTIME_CONTAINERD_SPEC_H
#define PSB_RUNTIME_CONTAINERD_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "runtime/containerd/seccomp.h" // PSB_SECCOMP_DEFAULT_PROFILE

// The parts of the pause image's config the spec reads. Arrays are
// borrowed; a NULL array needs a zero count.
typedef struct psb_spec_image {
	const char *const *entrypoint;
	size_t             n_entrypoint;
	const char *const *cmd;
	size_t             n_cmd;
	const char *const *env; // "KEY=value"
	size_t             n_env;
	const char        *working_dir; // NULL or "" → "/"
	const char        *user;        // NULL or "" → 0:0
} psb_spec_image_t;

// Everything psb_spec_build reads. All pointers are borrowed for the call.
// Initialise with psb_spec_input_init, then set what applies.
typedef struct psb_spec_input {
	const char *sandbox_id; // required

	// The pod config with crictl's JSON names (transport/config_json.c):
	// config if not NULL, else config_text parsed as JSON, else an empty
	// config. Keys this builder does not read are ignored.
	json_t     *config;
	const char *config_text;

	psb_spec_image_t image;

	const char *root_path;             // NULL → "rootfs"
	const char *netns_path;            // NULL: see the header comment
	const char *resolv_conf_path;      // NULL: no resolv.conf mount
	const char *shm_path;              // NULL: see the header comment
	const char *default_cgroup_parent; // NULL → "/podsandbox"

	int oom_score_adj;        // target; default -998
	int daemon_oom_score_adj; // the daemon's own value; default -1000

	// Runtime handler's pod_annotations globs (rule 14); may be empty.
	const char *const *annotation_patterns;
	size_t             n_annotation_patterns;

	bool        disable_cgroup;            // default false
	bool        enable_unprivileged_ports; // default true
	bool        enable_unprivileged_icmp;  // default true
	bool        in_user_namespace;     // daemon runs in a userns: no ICMP
	bool        selinux_enabled;       // default false
	const char *selinux_process_label; // NULL → container_t default
	const char *selinux_mount_label;   // NULL → container_file_t default

	// RuntimeDefault seccomp profile; NULL → PSB_SECCOMP_DEFAULT_PROFILE.
	const char *seccomp_default_path;
	// ... already parsed (psb_seccomp_profile_load), so that a Start reads
	// no file; NULL → read seccomp_default_path when a pod asks for it.
	const struct json_t *seccomp_default;
	// The host a seccomp profile is filtered for: uname's machine
	// ("x86_64") and release ("6.1.0-18-amd64"); NULL → uname(2).
	const char *host_machine;
	const char *host_kernel_release;
} psb_spec_input_t;

// psb_spec_input_init zeroes in and sets the defaults: oom_score_adj -998,
// daemon_oom_score_adj -1000 (no clamp), enable_unprivileged_ports and
// enable_unprivileged_icmp true. The last two are containerd 2.0's
// defaults (1.7 defaulted both to false); Kubernetes recommends them, and
// they only ever apply inside the pod's own network namespace.
void psb_spec_input_init(psb_spec_input_t *in);

// psb_spec_build builds the pause container's OCI spec as JSON text.
// On success *json_out is a malloc'd NUL-terminated string owned by the
// caller (free()) and 0 is returned. On failure *json_out is untouched,
// err is filled and a negative code returned: PSB_EINVAL for bad input
// (the message names the pod-config field, e.g.
// "linux.security_context.selinux_options.level: ..."; or "invalid empty
// entrypoint and cmd"; or a bad seccomp profile file), PSB_ENOTSUP for
// what is documented above as not supported. Pure but for reading the
// seccomp profile (see above); callable from any thread.
int psb_spec_build(
        const psb_spec_input_t *in, char **json_out, psb_error_t *err);

#endif // PSB_RUNTIME_CONTAINERD_SPEC_H

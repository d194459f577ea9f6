//
// podsandboxd - seccomp profiles for the pause container: loading a
// profile file and converting it, filtered for the host, into the OCI
// spec's linux.seccomp (DESIGN.md §6, reference/containerd-podsandbox.md
// §2.5). Which profile a pod asks for is the spec builder's business
// (spec.h); this is what happens to the profile file once chosen.
//
// Internal to the containerd backend (psb_spec and psb_ctrd). Pure but for
// reading the profile file and asking the kernel (uname, prctl) about the
// host; callable from any thread.
//
// The files are in the containers/docker seccomp.json format and become
// linux.seccomp as containerd's and Podman's loaders do:
// - architectures is the host's archMap entry (architecture +
//   subArchitectures);
// - a syscalls entry is kept, in order, when its includes (arches: the
//   host's GOARCH is listed; caps: all are in the confined process's
//   capability set; minKernel: the host kernel is at least that
//   major.minor) and excludes (arches, caps: none matches) let it
//   through; an unparsable minKernel drops the entry (Go's code ignores
//   excludes.minKernel, and so do we);
// - only defaultAction, defaultErrnoRet, architectures and each entry's
//   names, action, errnoRet and args are kept; "name" (the format's older
//   single-name spelling) is read as names.
// Only a regular file of at most 1 MiB is read: a Localhost path comes
// from the client, and a FIFO must not block the caller. A missing,
// unreadable or malformed file is PSB_EINVAL, and the message names the
// profile and its path: `Localhost seccomp profile "/p.json": ...`.
//

#ifndef PSB_RUNTIME_CONTAINERD_SECCOMP_H
#define PSB_RUNTIME_CONTAINERD_SECCOMP_H

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"

// The RuntimeDefault seccomp profile, from Debian's
// golang-github-containers-common (scripts/install-deps.sh); containerd
// compiles its own in.
#ifndef PSB_SECCOMP_DEFAULT_PROFILE
#define PSB_SECCOMP_DEFAULT_PROFILE "/usr/share/containers/seccomp.json"
#endif

// What a profile is filtered for: the host and the process it confines.
// Strings are borrowed for the call.
typedef struct psb_seccomp_target {
	// uname's machine ("x86_64") and release ("6.1.0-18-amd64");
	// NULL → uname(2). Tests fix them.
	const char *machine;
	const char *kernel_release;
	// The confined process's capabilities ("CAP_KILL"), NULL-terminated:
	// what an entry's includes.caps / excludes.caps are matched against.
	const char *const *caps;
} psb_seccomp_target_t;

// psb_seccomp_profile_load reads and parses the seccomp profile file at
// path (NULL → PSB_SECCOMP_DEFAULT_PROFILE), to be passed to
// psb_seccomp_convert (or psb_spec_input_t.seccomp_default) later; the
// caller json_decref()s *out. A missing, unreadable or malformed file is
// PSB_EINVAL naming the path (*out is then NULL). Blocking file I/O: the
// backend calls it once at start-up.
int psb_seccomp_profile_load(
        const char *path, struct json_t **out, psb_error_t *err);

// psb_seccomp_convert converts a profile into linux.seccomp for target.
// The profile is loaded (borrowed: a reference is taken, it is never
// changed) or, when loaded is NULL, read from the file at path. what
// ("RuntimeDefault", "Localhost") and path name the profile in messages.
// On success *out is a new JSON object owned by the caller and 0 is
// returned; on failure *out is untouched, err is filled and PSB_EINVAL
// returned.
int psb_seccomp_convert(const char *what, const char *path,
        const struct json_t *loaded, const psb_seccomp_target_t *target,
        struct json_t **out, psb_error_t *err);

// psb_seccomp_supported is true when the kernel was built with seccomp
// (CONFIG_SECCOMP), the same test as libseccomp's and containerd's.
bool psb_seccomp_supported(void);

#endif // PSB_RUNTIME_CONTAINERD_SECCOMP_H

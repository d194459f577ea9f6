//
// podsandboxd - what the pause spec's builder (spec.c) and its security
// options (spec_security.c: the seccomp profile and the SELinux labels)
// share: the builder's context and its pod-config readers. Nothing outside
// runtime/containerd/spec*.c includes this.
//
// The builder keeps one sticky error in its context: the first failure
// wins, later steps see rv != 0 and skip their work, and the half-built
// document is dropped at the end. That keeps each rule a short function
// instead of a chain of "if (rv != 0) goto fail".
//

#ifndef PSB_RUNTIME_CONTAINERD_SPEC_INT_H
#define PSB_RUNTIME_CONTAINERD_SPEC_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"
#include "runtime/containerd/spec.h"

#define SP_SC "linux.security_context."

typedef struct sp {
	const psb_spec_input_t *in;
	json_t                 *cfg; // a reference we own
	psb_error_t            *err;
	int                     rv; // first failure, sticky
	int                     net_mode, pid_mode, ipc_mode;
	bool                    privileged;
	char                   *process_label; // rule 8, NULL = none
	char                   *mount_label;
	json_t                 *seccomp; // linux.seccomp, NULL = none
} sp_t;

// sp_caps is the base spec's capability set (NULL-terminated): the pause
// process gets it, and its seccomp profile is filtered for it.
extern const char *const sp_caps[];

// sp_fail records the first failure (psb_error_make into sp->err) and
// returns sp->rv; once one is recorded, later calls change nothing.
int sp_fail(sp_t *sp, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

// sp_get finds a dotted path ("linux.security_context.privileged") in
// the config. *out is NULL when any part is absent or JSON null. A value of
// another type than want fails; JSON_TRUE stands for either boolean and
// JSON_NULL for any type. Returns 0, or the sticky error (sp->rv) when
// this lookup fails.
int sp_get(sp_t *sp, const char *path, json_type want, json_t **out);

// sp_cfg_str returns the string at path (borrowed from the config), ""
// when absent or on error.
const char *sp_cfg_str(sp_t *sp, const char *path);

// sp_cfg_enum reads an enum given by name ("NODE") or by number (the
// index into names, n of them, at most 4); 0 when absent or on error.
int sp_cfg_enum(sp_t *sp, const char *path, const char *const *names, int n);

// sp_seccomp resolves the late seccomp option into sp->seccomp (NULL:
// none); needs sp->privileged.
void sp_seccomp(sp_t *sp);

// sp_selinux validates the pod's SELinux level (rule 8) and, when the
// daemon enables SELinux, sets sp->process_label and sp->mount_label;
// needs sp->privileged.
void sp_selinux(sp_t *sp);

#endif // PSB_RUNTIME_CONTAINERD_SPEC_INT_H

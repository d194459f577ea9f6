//
// podsandboxd - the pause spec's security options (spec.h, spec_int.h),
// worked out before the document is built: which seccomp profile, loaded
// and filtered for the host, and the SELinux process and mount labels.
//

#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "runtime/containerd/seccomp.h"
#include "runtime/containerd/spec.h"
#include "runtime/containerd/spec_int.h"

// Rule 8: go-selinux's level syntax, at most 4 digits per category.
#define SP_CAT         "c[0-9]{1,4}(\\.c[0-9]{1,4})?"
#define SP_LEVEL_REGEX "^s[0-9](-s[0-9])?(:" SP_CAT "(," SP_CAT ")*)?$"
#define SP_DEF_PROCESS "system_u:system_r:container_t:s0"
#define SP_DEF_MOUNT   "system_u:object_r:container_file_t:s0"

// The late seccomp option: which profile, then the profile itself into
// sp->seccomp (reference §2.5 "Late options"; spec.h).
void
sp_seccomp(sp_t *sp)
{
	enum { NONE = -1, RUNTIME_DEFAULT, UNCONFINED, LOCALHOST };
	json_t       *sec;
	int           type = NONE;
	const char   *ref = "", *field = SP_SC "seccomp.localhost_ref";
	const char   *what, *path;
	const json_t *loaded = NULL;
	int           rv;

	if (sp_get(sp, SP_SC "seccomp", JSON_OBJECT, &sec) != 0) {
		return;
	}
	if (sec != NULL) {
		type = sp_cfg_enum(sp, SP_SC "seccomp.profile_type",
		        (const char *const[]) {
		                "RuntimeDefault", "Unconfined", "Localhost"},
		        3);
		ref  = sp_cfg_str(sp, SP_SC "seccomp.localhost_ref");
	} else {
		const char *p = sp_cfg_str(sp, SP_SC "seccomp_profile_path");

		if (strcmp(p, "runtime/default") == 0 ||
		        strcmp(p, "docker/default") == 0) {
			type = RUNTIME_DEFAULT;
		} else if (strcmp(p, "unconfined") == 0) {
			type = UNCONFINED;
		} else if (strncmp(p, "localhost/", 10) == 0) {
			type  = LOCALHOST;
			ref   = p;
			field = SP_SC "seccomp_profile_path";
		} else if (*p != '\0') {
			sp_fail(sp, PSB_EINVAL,
			        SP_SC "seccomp_profile_path: invalid profile "
			              "\"%.64s\"",
			        p);
		}
	}
	if (sp->rv != 0 || sp->privileged) {
		return;
	}
	if (type != LOCALHOST && *ref != '\0') {
		sp_fail(sp, PSB_EINVAL,
		        SP_SC "seccomp.localhost_ref: only "
		              "valid with profile_type Localhost");
		return;
	}
	if (type == NONE || type == UNCONFINED) {
		return;
	}
	if (!psb_seccomp_supported()) {
		sp_fail(sp, PSB_ENOTSUP, "seccomp is not supported");
		return;
	}
	if (type == RUNTIME_DEFAULT) {
		what = "RuntimeDefault";
		path = sp->in->seccomp_default_path != NULL
		               ? sp->in->seccomp_default_path
		               : PSB_SECCOMP_DEFAULT_PROFILE;
		// Loaded once by the caller: no file I/O per sandbox.
		loaded = sp->in->seccomp_default;
	} else {
		what = "Localhost";
		path = strncmp(ref, "localhost/", 10) == 0 ? ref + 10 : ref;
		if (path[0] != '/') {
			sp_fail(sp, PSB_EINVAL,
			        "%s: \"%.200s\" is not an absolute path",
			        field, path);
			return;
		}
	}
	// Filtered for the pause process: its capabilities are sp_caps.
	rv = psb_seccomp_convert(what, path, loaded,
	        &(psb_seccomp_target_t) {
	                .machine        = sp->in->host_machine,
	                .kernel_release = sp->in->host_kernel_release,
	                .caps           = sp_caps,
	        },
	        &sp->seccomp, sp->err);
	if (rv != 0) {
		sp->rv = rv; // sp->err is filled: sp->rv was 0 until now
	}
}

static bool
sp_level_ok(const char *level)
{
	regex_t re;
	bool    ok;

	if (regcomp(&re, SP_LEVEL_REGEX, REG_EXTENDED | REG_NOSUB) != 0) {
		psb_oom(); // a constant pattern: only OOM can fail here
	}
	ok = regexec(&re, level, 0, NULL, 0) == 0;
	regfree(&re);
	return (ok);
}

// sp_label replaces the non-empty fields of over[] (user, role, type,
// level) in base "user:role:type:level".
static char *
sp_label(sp_t *sp, const char *base, const char *const over[4])
{
	const char *part[4];
	int         len[4];
	const char *c = base;

	for (int i = 0; i < 3; i++) {
		const char *colon = strchr(c, ':');

		if (colon == NULL) {
			sp_fail(sp, PSB_EINVAL,
			        "invalid SELinux label \"%.64s\"", base);
			return (NULL);
		}
		part[i] = c;
		len[i]  = (int)(colon - c);
		c       = colon + 1;
	}
	part[3] = c;
	len[3]  = (int)strlen(c);
	for (int i = 0; i < 4; i++) {
		if (over[i] != NULL && *over[i] != '\0') {
			part[i] = over[i];
			len[i]  = (int)strlen(over[i]);
		}
	}
	return (xasprintf("%.*s:%.*s:%.*s:%.*s", len[0], part[0], len[1],
	        part[1], len[2], part[2], len[3], part[3]));
}

// Rule 8.
void
sp_selinux(sp_t *sp)
{
	static const char *const fields[] = {"user", "role", "type", "level"};
	const char              *o[4], *level;
	const char              *in_p = sp->in->selinux_process_label;
	const char              *in_m = sp->in->selinux_mount_label;
	char                     path[96];

	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), SP_SC "selinux_options.%s",
		        fields[i]);
		o[i] = sp_cfg_str(sp, path);
	}
	level = o[3];
	if (*level != '\0' && !sp_level_ok(level)) {
		sp_fail(sp, PSB_EINVAL,
		        SP_SC "selinux_options.level: "
		              "invalid "
		              "SELinux level \"%.64s\"",
		        level);
	}
	if (sp->rv != 0 || !sp->in->selinux_enabled || sp->privileged) {
		return;
	}
	sp->process_label = sp_label(sp, in_p ? in_p : SP_DEF_PROCESS, o);
	o[1] = o[2]     = NULL; // the mount label keeps its role and type
	sp->mount_label = sp_label(sp, in_m ? in_m : SP_DEF_MOUNT, o);
}

//
// podsandboxd - the runtime interface: backend registry and dispatch
// (see runtime.h, DESIGN.md §6, STYLE.md practice 15).
//

#include "runtime/runtime.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/goarch.h"
#include "base/log.h"
#include "runtime/containerd/backend.h"
#include "runtime/scripted.h"

struct psb_runtime {
	const psb_runtime_ops_t *ops;
	void                    *impl;
	struct ev_loop          *loop;
	psb_rt_sink_cb           sink_cb;
	void                    *sink_arg;
	psb_rt_record_sink_cb    record_cb;
	void                    *record_arg;
	const char              *name; // static: the backend's rt_name
};

// The backends this build has. The core never #ifdefs on a backend: a
// new one is one line here.
static const struct {
	const char              *name;
	const psb_runtime_ops_t *ops;
} rt_backends[] = {
        {"scripted", &psb_scripted_ops},
        {"containerd", &psb_containerd_ops},
};

// rt_known_names returns "a, b, c" for the messages (caller frees).
static char *
rt_known_names(void)
{
	size_t len = 1;
	char  *s;

	for (size_t i = 0; i < PSB_NELEM(rt_backends); i++) {
		len += strlen(rt_backends[i].name) + 2;
	}
	s    = xmalloc(len);
	s[0] = '\0';
	for (size_t i = 0; i < PSB_NELEM(rt_backends); i++) {
		if (i > 0) {
			strncat(s, ", ", len - strlen(s) - 1);
		}
		strncat(s, rt_backends[i].name, len - strlen(s) - 1);
	}
	return (s);
}

int
psb_runtime_open(const char *name, struct ev_loop *loop, const char *options,
        psb_runtime_t **out, psb_error_t *err)
{
	const psb_runtime_ops_t *ops = NULL;
	psb_runtime_t           *rt;
	int                      rv;

	if (name == NULL || loop == NULL || out == NULL) {
		return (psb_error_make(err, PSB_EINVAL,
		        "runtime open: name, loop and out are required"));
	}
	for (size_t i = 0; i < PSB_NELEM(rt_backends); i++) {
		if (strcmp(rt_backends[i].name, name) == 0) {
			ops = rt_backends[i].ops;
			break;
		}
	}
	if (ops == NULL) {
		_cleanup_free_ char *known = rt_known_names();

		return (psb_error_make(err, PSB_ENOENT,
		        "unknown runtime backend \"%s\" (known: %s)", name,
		        known));
	}

	rt       = xcalloc(1, sizeof(*rt));
	rt->ops  = ops;
	rt->loop = loop;
	rt->name = ops->rt_name;
	if ((rv = ops->rt_init(rt, options, &rt->impl, err)) != 0) {
		free(rt);
		return (rv);
	}
	// The daemon announces a test double loudly (core/main.c); a
	// library call only notes which backend opened.
	psb_log(PSB_LOG_DEBUG, "runtime backend \"%s\" opened%s", rt->name,
	        ops->rt_is_test_double ? " (test double)" : "");
	*out = rt;
	return (0);
}

void
psb_runtime_close(psb_runtime_t *rt)
{
	if (rt == NULL) {
		return;
	}
	// The backend stops every watcher it owns here, so nothing can
	// reach the sink (or rt) afterwards.
	rt->ops->rt_fini(rt->impl);
	free(rt);
}

void
psb_runtime_set_sink(psb_runtime_t *rt, psb_rt_sink_cb cb, void *arg)
{
	rt->sink_cb  = cb;
	rt->sink_arg = arg;
}

void
psb_runtime_set_recorder(
        psb_runtime_t *rt, psb_rt_record_sink_cb cb, void *arg)
{
	rt->record_cb  = cb;
	rt->record_arg = arg;
}

int
psb_runtime_record(psb_runtime_t *rt, const psb_rt_record_t *rec)
{
	if (rt->record_cb == NULL) {
		return (PSB_ENOTSUP);
	}
	return (rt->record_cb(rt->record_arg, rec));
}

void
psb_runtime_emit(psb_runtime_t *rt, const psb_rt_event_t *ev)
{
	if (rt->sink_cb != NULL) {
		rt->sink_cb(rt->sink_arg, ev);
	} else {
		psb_log_sb(PSB_LOG_DEBUG, ev->sandbox_id,
		        "runtime event %s dropped: no sink",
		        psb_event_name(ev->event));
	}
}

struct ev_loop *
psb_runtime_loop(psb_runtime_t *rt)
{
	return (rt->loop);
}

const char *
psb_runtime_name(const psb_runtime_t *rt)
{
	return (rt->name);
}

bool
psb_runtime_is_test_double(const psb_runtime_t *rt)
{
	return (rt->ops->rt_is_test_double);
}

void *
psb_runtime_impl(psb_runtime_t *rt)
{
	return (rt->impl);
}

int
psb_runtime_start(
        psb_runtime_t *rt, const psb_rt_sandbox_t *sb, psb_error_t *err)
{
	return (rt->ops->rt_start(rt->impl, sb, err));
}

int
psb_runtime_kill(
        psb_runtime_t *rt, const psb_rt_sandbox_t *sb, psb_error_t *err)
{
	return (rt->ops->rt_kill(rt->impl, sb, err));
}

int
psb_runtime_delete(
        psb_runtime_t *rt, const psb_rt_sandbox_t *sb, psb_error_t *err)
{
	return (rt->ops->rt_delete(rt->impl, sb, err));
}

int
psb_runtime_net_down(
        psb_runtime_t *rt, const psb_rt_sandbox_t *sb, psb_error_t *err)
{
	if (rt->ops->rt_net_down == NULL) {
		return (psb_error_make(err, PSB_ENOTSUP,
		        "sandbox %s: runtime \"%s\" makes no pod networks",
		        sb->id, rt->name));
	}
	return (rt->ops->rt_net_down(rt->impl, sb, err));
}

int
psb_runtime_probe(psb_runtime_t *rt, const psb_rt_sandbox_t *sbs, size_t n,
        psb_error_t *err)
{
	return (rt->ops->rt_probe(rt->impl, sbs, n, false, err));
}

int
psb_runtime_probe_all(psb_runtime_t *rt, const psb_rt_sandbox_t *sbs, size_t n,
        psb_error_t *err)
{
	return (rt->ops->rt_probe(rt->impl, sbs, n, true, err));
}

int
psb_runtime_pod_config(
        const psb_rt_sandbox_t *sb, struct json_t **out, psb_error_t *err)
{
	json_t *cfg = NULL;

	if (sb->config_json != NULL) {
		cfg = json_loads(sb->config_json, 0, NULL);
	}
	if (!json_is_object(cfg)) {
		json_decref(cfg);
		return (psb_error_make(err, PSB_EINVAL,
		        "sandbox %s: its stored pod config is missing or "
		        "unreadable",
		        sb->id));
	}
	if (out != NULL) {
		*out = cfg;
	} else {
		json_decref(cfg);
	}
	return (0);
}

int
psb_runtime_platform(psb_runtime_t *rt, psb_platform_t *out)
{
	return (rt->ops->rt_platform(rt->impl, out));
}

uint64_t
psb_runtime_missed_exits(psb_runtime_t *rt)
{
	return (rt->ops->rt_missed_exits != NULL
	                ? rt->ops->rt_missed_exits(rt->impl)
	                : 0);
}

int
psb_runtime_host_platform(psb_platform_t *out)
{
	const char *arch;
	const char *variant;

	memset(out, 0, sizeof(*out));
	psb_host_goarch(&arch, &variant);
	if (arch[0] == '\0') {
		return (PSB_ERUNTIME);
	}
	snprintf(out->os, sizeof(out->os), "%s", "linux");
	// uname's machine may be longer than the field: cut it, quietly.
	snprintf(out->arch, sizeof(out->arch), "%.*s",
	        (int)sizeof(out->arch) - 1, arch);
	snprintf(out->variant, sizeof(out->variant), "%s", variant);
	return (0);
}

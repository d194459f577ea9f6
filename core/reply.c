//
// podsandboxd - requests and replies of the controller: token slots,
// held requests (with their timeouts) and the views a reply shows. Every
// reply is built from the sandbox as committed (see controller.c).
//

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "core/controller_int.h"
#include "runtime/net/netns.h"

//
// Requests: slots give O(1) token lookup without exposing pointers.
//

ctl_req_t *
ctl_req_new(psb_controller_t *c, const psb_request_t *r, psb_reply_cb cb,
        void *arg)
{
	ctl_req_t *req = xcalloc(1, sizeof(*req));
	uint32_t   slot;

	if (c->nfree == 0) {
		uint32_t n = c->nslots ? c->nslots * 2 : 64;

		c->slots      = xrealloc(c->slots, n * sizeof(*c->slots));
		c->free_slots = xrealloc(c->free_slots, n * sizeof(uint32_t));
		for (uint32_t i = n; i > c->nslots; i--) {
			c->slots[i - 1]           = NULL;
			c->free_slots[c->nfree++] = i - 1;
		}
		c->nslots = n;
	}
	slot            = c->free_slots[--c->nfree];
	c->slots[slot]  = req;
	req->slot       = slot;
	req->token      = ((uint64_t)++c->req_seq << 32) | slot;
	req->method     = r->method;
	req->cb         = cb;
	req->arg        = arg;
	req->timeout_ms = r->timeout_ms;
	req->verbose    = r->verbose;
	req->ctl        = c;
	if (r->sandbox_id != NULL) {
		snprintf(req->id, sizeof(req->id), "%s", r->sandbox_id);
	}
	if (r->state_filter != NULL) {
		req->state_filter = xstrdup(r->state_filter);
	}
	if (r->label_selector != NULL) {
		req->label_selector = xstrdup(r->label_selector);
	}
	req->since = r->since;
	req->limit = r->limit;
	c->nreqs++;
	return (req);
}

static void
req_unhold(ctl_req_t *req)
{
	psb_controller_t *c = req->ctl;

	if (!psb_list_node_active(&req->node)) {
		return;
	}
	psb_list_remove(req->sb != NULL ? &req->sb->held : &c->gated, req);
	req->sb    = NULL;
	req->gated = false;
	ev_timer_stop(c->loop, &req->timer);
}

void
ctl_req_free(ctl_req_t *req)
{
	psb_controller_t *c = req->ctl;

	// Answered exactly once: its slot still points at it.
	PSB_ASSERT(req->slot < c->nslots && c->slots[req->slot] == req);
	PSB_ASSERT(c->nreqs > 0);
	req_unhold(req);
	c->slots[req->slot]       = NULL;
	c->free_slots[c->nfree++] = req->slot;
	c->nreqs--;
	free(req->state_filter);
	free(req->label_selector);
	free(req);
}

//
// Views and replies.
//

static const char *
process_status(psb_state_t st)
{
	switch (st) {
	case PSB_ST_READY:
	case PSB_ST_STOPPING: return ("running");
	case PSB_ST_STARTING: return ("created");
	case PSB_ST_EXITED: return ("stopped");
	case PSB_ST_UNKNOWN: return ("unknown");
	default: return ("deleted");
	}
}

static json_t *
json_or_null(const char *text)
{
	json_t *j = text != NULL ? json_loads(text, 0, NULL) : NULL;

	return (j != NULL ? j : json_null());
}

static const char *
res_str(json_t *res, const char *key)
{
	const char *v = json_string_value(json_object_get(res, key));

	return (v != NULL ? v : "");
}

// sb_info builds the verbose Status "info" JSON with the seed's
// SandboxInfo keys. What only the runtime knows (image, snapshot, spec,
// CNI result) comes from the resources it recorded; absent means null.
static char *
sb_info(const psb_controller_t *c, const psb_sandbox_t *sb)
{
	json_t     *res = json_or_null(sb->rec.resources);
	json_t     *net = json_object_get(res, PSB_RT_NETWORK);
	const char *pin = json_string_value(json_object_get(net, "netns"));
	json_t     *md;
	json_t     *o;
	char       *s = NULL;
	// containerd's netNamespaceClosed: the pod's netns is gone (removed
	// by Stop, or its pin lost to a reboot). A host-network pod has none.
	const char *theirs =
	        json_string_value(json_object_get(res, "callerNetns"));
	bool closed = pin != NULL ? !psb_netns_pinned(pin)
	              : theirs != NULL
	                      ? !psb_netns_pinned(theirs)
	                      : json_object_get(res, "closedNetns") != NULL;

	md = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:s?}", "ID",
	        sb->id, "State", psb_state_name(sb->rec.state), "Generation",
	        (json_int_t)sb->rec.generation, "CreatedAt",
	        (json_int_t)sb->rec.created_at, "ExitedAt",
	        (json_int_t)sb->rec.exited_at, "ExitStatus",
	        (json_int_t)sb->rec.exit_status, "Labels",
	        json_or_null(sb->labels), "LastError", sb->rec.last_error);
	o  = json_pack("{s:I, s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:O?, s:o?, "
	                "s:O?, s:O?, s:O?, s:o?}",
	         "pid", (json_int_t)sb->rec.pid, "processStatus",
	         process_status(sb->rec.state), "netNamespaceClosed", closed,
	         "image", res_str(res, "image"), "snapshotKey",
	         res_str(res, "snapshotKey"), "snapshotter",
	         res_str(res, "snapshotter"), "runtimeHandler",
                sb->runtime_handler ? sb->runtime_handler : "", "runtimeType",
                res_str(res, "runtimeType")[0] != '\0'
	                 ? res_str(res, "runtimeType")
	                 : psb_runtime_name(c->rt),
	         "runtimeOptions", json_object_get(res, "runtimeOptions"),
	         "config", json_or_null(sb->config_json), "runtimeSpec",
	         json_object_get(res, "runtimeSpec"), "cniResult",
	         json_object_get(net, "result"), "sandboxFiles",
	         json_object_get(res, "sandboxFiles"), "sandboxMetadata", md);
	if (o != NULL) {
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
	}
	json_decref(res);
	return (s);
}

void
ctl_sb_view(const psb_sandbox_t *sb, psb_sandbox_view_t *v)
{
	memset(v, 0, sizeof(*v));
	if (sb == NULL) {
		return;
	}
	v->id              = sb->id;
	v->state           = sb->rec.state;
	v->generation      = sb->rec.generation;
	v->pid             = sb->rec.pid;
	v->created_at      = sb->rec.created_at;
	v->started_at      = sb->rec.started_at;
	v->exited_at       = sb->rec.exited_at;
	v->exit_status     = sb->rec.exit_status;
	v->labels          = sb->labels;
	v->runtime_handler = sb->runtime_handler;
	v->config          = sb->config;
	v->config_len      = sb->config_len;
	if (sb->rec.nips > 0) {
		v->ip               = sb->rec.ips[0];
		v->additional_ips   = (const char *const *)sb->rec.ips + 1;
		v->n_additional_ips = sb->rec.nips - 1;
	}
}

typedef struct list_acc {
	psb_sandbox_view_t *v;
	size_t              n;
	const char         *filter;
	json_t             *selector; // labels that must all match, or NULL
} list_acc_t;

static int
list_add(void *arg, void *value)
{
	list_acc_t    *acc = arg;
	psb_sandbox_t *sb  = value;

	if ((acc->filter == NULL ||
	            strcmp(acc->filter, psb_state_name(sb->rec.state)) == 0) &&
	        psb_json_labels_match(acc->selector, sb->labels)) {
		ctl_sb_view(sb, &acc->v[acc->n++]);
	}
	return (0);
}

// The journal as replies show it: transitions whose strings live in the
// collector until the reply callback returns.
typedef struct journal_acc {
	psb_transition_t *v;
	char (*ids)[PSB_ID_MAX + 1];
	size_t n;
	size_t cap;
} journal_acc_t;

static int
journal_add(void *arg, const psb_store_journal_t *j)
{
	journal_acc_t    *acc = arg;
	psb_transition_t *t;
	json_t           *d;

	if (acc->n == acc->cap) {
		acc->cap = acc->cap ? acc->cap * 2 : 64;
		acc->v   = xrealloc(acc->v, acc->cap * sizeof(*acc->v));
		acc->ids = xrealloc(acc->ids, acc->cap * sizeof(*acc->ids));
	}
	t = &acc->v[acc->n];
	snprintf(acc->ids[acc->n], sizeof(acc->ids[0]), "%s",
	        j->sandbox_id ? j->sandbox_id : "");
	memset(t, 0, sizeof(*t));
	t->seq         = j->seq;
	t->time        = j->time;
	t->from        = j->from;
	t->event       = j->event;
	t->to          = j->to;
	t->exit_status = -1;
	d = j->detail != NULL ? json_loads(j->detail, 0, NULL) : NULL;
	if (json_is_integer(json_object_get(d, "exit_status"))) {
		t->exit_status = (int32_t)json_integer_value(
		        json_object_get(d, "exit_status"));
	}
	t->generation =
	        (uint64_t)json_integer_value(json_object_get(d, "generation"));
	json_decref(d);
	acc->n++;
	return (0);
}

static void
journal_fix_ids(journal_acc_t *acc)
{
	// The array may have moved while it grew: point ids at the end.
	for (size_t i = 0; i < acc->n; i++) {
		acc->v[i].sandbox_id = acc->ids[i];
	}
}

// reply_journal fills an EVENTS or HISTORY reply from the store. It runs
// after the tick's commit, so it shows committed transitions only.
static int
reply_journal(psb_controller_t *c, ctl_req_t *req, psb_reply_t *reply,
        journal_acc_t *acc, const char **msg)
{
	psb_error_t err = PSB_ERROR_INIT;
	int         rv;

	if (req->method == PSB_M_HISTORY) {
		rv = psb_store_journal_read(
		        c->store, 0, req->id, 0, journal_add, acc, &err);
		if (rv == 0 && acc->n == 0 &&
		        psb_map_get(c->sandboxes, req->id) == NULL) {
			*msg = "no history for this sandbox";
			return (PSB_ENOENT);
		}
	} else {
		uint32_t limit = req->limit == 0 || req->limit > PSB_EVENTS_MAX
		                         ? PSB_EVENTS_MAX
		                         : req->limit;

		rv = psb_store_journal_bounds(c->store, &reply->oldest_seq,
		        &reply->newest_seq, &err);
		if (rv == 0) {
			rv = psb_store_journal_read(c->store, req->since, NULL,
			        limit + 1, journal_add, acc, &err);
		}
		if (rv == 0 && acc->n > limit) {
			acc->n      = limit;
			reply->more = true;
		}
		// Entries after `since` that retention already dropped.
		reply->truncated = reply->oldest_seq > req->since + 1;
	}
	if (rv != 0) {
		psb_log(PSB_LOG_ERROR, "reading the journal: %s",
		        psb_error_message(&err));
		psb_error_release(&err);
		*msg = "could not read the journal";
		return (PSB_EUNAVAIL);
	}
	journal_fix_ids(acc);
	reply->events     = acc->v;
	reply->events_len = acc->n;
	return (0);
}

// ctl_reply answers req (exactly once) and frees it.
void
ctl_reply(psb_controller_t *c, ctl_req_t *req, int code, const char *msg,
        const psb_sandbox_t *sb)
{
	psb_reply_t   reply;
	char         *info = NULL;
	list_acc_t    acc  = {NULL, 0, NULL, NULL};
	journal_acc_t jacc = {NULL, NULL, 0, 0};

	memset(&reply, 0, sizeof(reply));
	reply.method = req->method;
	if (req->canceled) {
		code = PSB_ECANCELED;
		msg  = "request canceled";
	}
	reply.code    = code;
	reply.message = code != 0 ? (msg ? msg : psb_strerror(code)) : NULL;
	if (code == 0) {
		ctl_sb_view(sb, &reply.sandbox);
		if (req->method == PSB_M_STATUS && req->verbose && sb) {
			info               = sb_info(c, sb);
			reply.sandbox.info = info;
		}
		if (req->method == PSB_M_PLATFORM) {
			int rv = psb_runtime_platform(c->rt, &reply.platform);

			if (rv != 0) {
				reply.code    = rv;
				reply.message = "runtime could not tell the "
				                "platform";
			}
		}
		if (req->method == PSB_M_LIST) {
			acc.v      = xcalloc(psb_map_size(c->sandboxes) + 1,
			             sizeof(*acc.v));
			acc.filter = req->state_filter;
			acc.selector =
			        req->label_selector
			                ? json_loads(
			                          req->label_selector, 0, NULL)
			                : NULL;
			psb_map_each(c->sandboxes, list_add, &acc);
			json_decref(acc.selector);
			qsort(acc.v, acc.n, sizeof(*acc.v), psb_view_cmp);
			reply.list     = acc.v;
			reply.list_len = acc.n;
		}
		if (req->method == PSB_M_EVENTS ||
		        req->method == PSB_M_HISTORY) {
			reply.code = reply_journal(
			        c, req, &reply, &jacc, &reply.message);
		}
		if (req->method == PSB_M_VERSION) {
			reply.version.runtime = psb_runtime_name(c->rt);
			reply.version.runtime_is_test_double =
			        psb_runtime_is_test_double(c->rt);
			reply.version.sandboxes = psb_map_size(c->sandboxes);
			reply.version.commit_failures = c->commit_failures;
			reply.version.newest_seq      = c->last_seq;
			reply.version.missed_exits =
			        psb_runtime_missed_exits(c->rt);
		}
	}
	if (req->cb != NULL) {
		req->cb(req->arg, &reply);
	}
	free(info);
	free(acc.v);
	free(jacc.v);
	free(jacc.ids);
	ctl_req_free(req);
}

void
ctl_resolve(psb_controller_t *c, psb_sandbox_t *sb, psb_method_t m, int code,
        const char *msg)
{
	ctl_req_t *req = psb_list_first(&sb->held);

	while (req != NULL) {
		ctl_req_t *next = psb_list_next(&sb->held, req);

		if (req->method == m) {
			ctl_reply(c, req, code, msg, sb);
		}
		req = next;
	}
}

static void
ctl_hold_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ctl_req_t *req = (ctl_req_t *)((char *)w - offsetof(ctl_req_t, timer));
	char      *msg = xasprintf("sandbox %s: %s did not complete within "
	                                "%u ms",
	             req->id, psb_method_name(req->method), req->timeout_ms);

	ctl_reply(req->ctl, req, PSB_ETIMEDOUT, msg, NULL);
	free(msg);
}

void
ctl_hold(psb_controller_t *c, ctl_req_t *req, psb_sandbox_t *sb)
{
	req->sb    = sb;
	req->gated = sb == NULL;
	psb_list_append(sb != NULL ? &sb->held : &c->gated, req);
	if (req->timeout_ms > 0) {
		ev_timer_init(&req->timer, ctl_hold_timeout_cb,
		        req->timeout_ms / 1000.0, 0.);
		ev_timer_start(c->loop, &req->timer);
	}
}

bool
ctl_still_held(const psb_controller_t *c, const ctl_req_t *req,
        const psb_sandbox_t *sb)
{
	switch (req->method) {
	case PSB_M_STATUS: return (sb != NULL && sb->awaiting_probe);
	case PSB_M_LIST: return (c->awaiting_probe > 0);
	default: return (true);
	}
}

void
ctl_release_gated(psb_controller_t *c, int code, const char *msg)
{
	ctl_req_t *req;

	while ((req = psb_list_first(&c->gated)) != NULL) {
		ctl_reply(c, req, code, msg, NULL);
	}
}

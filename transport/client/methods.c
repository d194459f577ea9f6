//
// libpodsandbox - the method table, and how each result becomes the public
// struct the caller passed (and how that struct is released).
//
// A row says which Request oneof member a method fills, which Response
// oneof member must come back, whether a sandbox id is required, and
// which conversion fills the caller's `out`. unary.c does the rest.
//

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client_int.h"

#define REQ(x) PODSANDBOX__V1__REQUEST__METHOD_##x
#define RES(x) PODSANDBOX__V1__RESPONSE__RESULT_##x

// mt_map_json renders protobuf-c map entries (all map entries share the
// key/value layout) as a JSON object text.
static char *
mt_map_json(size_t n, void *const *entries)
{
	json_t *obj = json_object();
	char   *s;
	for (size_t i = 0; i < n; i++) {
		const Podsandbox__V1__ControllerStatus__LabelsEntry *e =
		        entries[i];
		json_object_set_new(obj, e->key, json_string(e->value));
	}
	s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	return (s != NULL ? s : psb_client_xstrdup("{}"));
}

static void
mt_instance(const ProtobufCMessage *result, void *out)
{
	const Podsandbox__V1__ControllerInstance *in = (const void *)result;
	psb_instance_t                           *o  = out;

	memset(o, 0, sizeof(*o));
	psb_client_copy(o->sandbox_id, sizeof(o->sandbox_id), in->sandbox_id);
	o->pid         = in->pid;
	o->created_at  = in->created_at;
	o->labels_json = mt_map_json(in->n_labels, (void *)in->labels);
}

static void
mt_exit(const ProtobufCMessage *result, void *out)
{
	const Podsandbox__V1__ExitStatus *ex = (const void *)result;
	psb_exit_t                       *o  = out;

	o->exit_status = ex->exit_status;
	o->exited_at   = ex->exited_at;
}

// mt_network fills the pod network's IPs (all absent without one).
static void
mt_network(const Podsandbox__V1__PodSandboxNetworkStatus *net,
        psb_sandbox_status_t                             *o)
{
	size_t n = 0;

	if (net == NULL) {
		return;
	}
	if (net->ip != NULL && net->ip[0] != '\0') {
		o->ip = psb_client_xstrdup(net->ip);
	}
	if (net->n_additional_ips == 0) {
		return;
	}
	o->additional_ips = psb_client_xmalloc(
	        net->n_additional_ips * sizeof(*o->additional_ips));
	for (size_t i = 0; i < net->n_additional_ips; i++) {
		const Podsandbox__V1__PodIP *p = net->additional_ips[i];

		if (p != NULL && p->ip != NULL && p->ip[0] != '\0') {
			o->additional_ips[n++] = psb_client_xstrdup(p->ip);
		}
	}
	o->n_additional_ips = n;
	if (n == 0) {
		free(o->additional_ips);
		o->additional_ips = NULL;
	}
}

static void
mt_status(const ProtobufCMessage *result, void *out)
{
	const Podsandbox__V1__ControllerStatus *s = (const void *)result;
	psb_sandbox_status_t                   *o = out;

	memset(o, 0, sizeof(*o));
	psb_client_copy(o->sandbox_id, sizeof(o->sandbox_id), s->sandbox_id);
	psb_client_copy(o->state, sizeof(o->state), s->state);
	o->pid             = s->pid;
	o->generation      = s->generation;
	o->created_at      = s->created_at;
	o->started_at      = s->started_at;
	o->exited_at       = s->exited_at;
	o->exit_status     = s->exit_status;
	o->labels_json     = mt_map_json(s->n_labels, (void *)s->labels);
	o->runtime_handler = psb_client_xstrdup(s->runtime_handler);
	o->name            = psb_client_xstrdup(
	                   s->metadata != NULL ? s->metadata->name : "");
	o->namespace_ = psb_client_xstrdup(
	        s->metadata != NULL ? s->metadata->namespace_ : "");
	for (size_t i = 0; i < s->n_info; i++) {
		if (strcmp(s->info[i]->key, "info") == 0) {
			o->info_json = psb_client_xstrdup(s->info[i]->value);
		}
	}
	mt_network(s->network, o);
}

static void
mt_list(const ProtobufCMessage *result, void *out)
{
	const Podsandbox__V1__ListResponse *l = (const void *)result;
	const psb_client_list_out_t        *o = out;
	psb_sandbox_status_t               *v =
	        psb_client_xmalloc(l->n_sandboxes * sizeof(*v));

	for (size_t i = 0; i < l->n_sandboxes; i++) {
		mt_status(&l->sandboxes[i]->base, &v[i]);
	}
	*o->v = v;
	*o->n = l->n_sandboxes;
}

static void
mt_platform(const ProtobufCMessage *result, void *out)
{
	const Podsandbox__V1__Platform *p = (const void *)result;
	psb_platform_info_t            *o = out;

	psb_client_copy(o->os, sizeof(o->os), p->os);
	psb_client_copy(
	        o->architecture, sizeof(o->architecture), p->architecture);
	psb_client_copy(o->variant, sizeof(o->variant), p->variant);
}

static void
mt_version(const ProtobufCMessage *result, void *out)
{
	const Podsandbox__V1__VersionResponse *v = (const void *)result;
	psb_daemon_version_t                  *o = out;

	memset(o, 0, sizeof(*o));
	psb_client_copy(o->version, sizeof(o->version), v->version);
	psb_client_copy(o->runtime, sizeof(o->runtime), v->runtime);
	o->api_version            = v->api_version;
	o->runtime_is_test_double = v->runtime_is_test_double;
	o->sandboxes              = v->sandboxes;
	o->commit_failures        = v->commit_failures;
	o->newest_seq             = v->newest_seq;
	o->missed_exits           = v->missed_exits;
}

void
psb_client_event_from_pb(const Podsandbox__V1__Event *e, psb_event_t *o)
{
	memset(o, 0, sizeof(*o));
	o->seq = e->seq;
	psb_client_copy(o->sandbox_id, sizeof(o->sandbox_id), e->sandbox_id);
	psb_client_copy(o->from, sizeof(o->from), e->from_state);
	psb_client_copy(o->event, sizeof(o->event), e->event);
	psb_client_copy(o->to, sizeof(o->to), e->to_state);
	o->time        = e->time;
	o->exit_status = e->exit_status;
	o->generation  = e->generation;
}

// mt_events_into fills o with n events (Events and History both carry a
// list of Event).
static void
mt_events_into(size_t n, Podsandbox__V1__Event *const *ev, psb_event_list_t *o)
{
	memset(o, 0, sizeof(*o));
	o->events = psb_client_xmalloc(n * sizeof(*o->events));
	o->n      = n;
	for (size_t i = 0; i < n; i++) {
		psb_client_event_from_pb(ev[i], &o->events[i]);
	}
}

static void
mt_events(const ProtobufCMessage *result, void *out)
{
	const Podsandbox__V1__EventsResponse *r = (const void *)result;
	psb_event_list_t                     *o = out;

	mt_events_into(r->n_events, r->events, o);
	o->oldest_seq = r->oldest_seq;
	o->newest_seq = r->newest_seq;
	o->truncated  = r->truncated;
	o->more       = r->more;
}

static void
mt_history(const ProtobufCMessage *result, void *out)
{
	const Podsandbox__V1__HistoryResponse *r = (const void *)result;

	mt_events_into(r->n_events, r->events, out);
}

// What each `body` of api/methods.def becomes in the public structs.
#define MT_EMPTY    NULL
#define MT_INSTANCE mt_instance
#define MT_EXIT     mt_exit
#define MT_STATUS   mt_status
#define MT_PLATFORM mt_platform
#define MT_LIST     mt_list
#define MT_EVENTS   mt_events
#define MT_HISTORY  mt_history
#define MT_VERSION  mt_version
#define ID          true
#define NOID        false

// Generated from api/methods.def: request case, result case, id, and
// the conversion of the body.
const psb_client_method_t psb_client_methods[PSB_CM_COUNT] = {
#define PSB_METHOD(e, name, req, res, body, id, ev) \
	[PSB_CM_##e] = {REQ(e), RES(res), id, MT_##body},
#include "api/methods.def"
#undef PSB_METHOD
};

// ---- releasing what the conversions allocated ----

PSB_PUBLIC void
psb_instance_free(psb_instance_t *x)
{
	if (x != NULL) {
		free(x->labels_json);
		x->labels_json = NULL;
	}
}

PSB_PUBLIC void
psb_sandbox_status_free(psb_sandbox_status_t *x)
{
	if (x == NULL) {
		return;
	}
	free(x->labels_json);
	free(x->runtime_handler);
	free(x->name);
	free(x->namespace_);
	free(x->info_json);
	free(x->ip);
	for (size_t i = 0; i < x->n_additional_ips; i++) {
		free(x->additional_ips[i]);
	}
	free(x->additional_ips);
	x->labels_json      = NULL;
	x->runtime_handler  = NULL;
	x->name             = NULL;
	x->namespace_       = NULL;
	x->info_json        = NULL;
	x->ip               = NULL;
	x->additional_ips   = NULL;
	x->n_additional_ips = 0;
}

PSB_PUBLIC void
psb_sandbox_status_list_free(psb_sandbox_status_t *v, size_t n)
{
	if (v == NULL) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		psb_sandbox_status_free(&v[i]);
	}
	free(v);
}

PSB_PUBLIC void
psb_event_list_free(psb_event_list_t *l)
{
	if (l != NULL) {
		free(l->events);
		l->events = NULL;
		l->n      = 0;
	}
}

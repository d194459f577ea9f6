//
// libpodsandbox - the synchronous calls of podsandbox.h.
//
// Each call fills only what is particular to its method (its request
// fields, its client-side deadline) and leaves the id check, the Request
// oneof, the round trip, the status and the conversion of the result to
// psb_client_unary and the method's row in the table.
//

#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "client_int.h"

// ca_plain is a call whose request carries nothing but (maybe) the id,
// bounded by the client's timeout.
static int
ca_plain(psb_client_t *c, psb_client_mid m, const char *id, void *out,
        psb_client_error_t *err)
{
	return (psb_client_unary(
	        c, m, id, NULL, psb_client_timeout_ms(c), out, err));
}

PSB_PUBLIC int
psb_client_create(psb_client_t *c, const char *id, const void *config,
        size_t config_len, const char *runtime_handler,
        psb_client_error_t *err)
{
	return (psb_client_create_netns(
	        c, id, config, config_len, runtime_handler, NULL, err));
}

PSB_PUBLIC int
psb_client_create_netns(psb_client_t *c, const char *id, const void *config,
        size_t config_len, const char *runtime_handler, const char *netns_path,
        psb_client_error_t *err)
{
	Podsandbox__V1__CreateRequest cr =
	        PODSANDBOX__V1__CREATE_REQUEST__INIT;
	int rv;

	// Checked here too, before the config, so that an empty id is the
	// first thing reported.
	if ((rv = psb_client_check_id(id, err)) != 0) {
		return (rv);
	}
	cr.config = podsandbox__v1__pod_sandbox_config__unpack(
	        NULL, config_len, config);
	if (cr.config == NULL) {
		return (psb_client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "config is not an encoded PodSandboxConfig"));
	}
	cr.runtime_handler =
	        (char *)(runtime_handler != NULL ? runtime_handler : "");
	// The daemon judges the path (absolute, no "..", network POD only).
	cr.netns_path = (char *)(netns_path != NULL ? netns_path : "");

	rv = psb_client_unary(c, PSB_CM_CREATE, id, &cr.base,
	        psb_client_timeout_ms(c), NULL, err);
	podsandbox__v1__pod_sandbox_config__free_unpacked(cr.config, NULL);
	return (rv);
}

PSB_PUBLIC int
psb_client_start(psb_client_t *c, const char *id, psb_instance_t *out,
        psb_client_error_t *err)
{
	return (ca_plain(c, PSB_CM_START, id, out, err));
}

PSB_PUBLIC int
psb_client_stop(psb_client_t *c, const char *id, uint32_t timeout_secs,
        psb_client_error_t *err)
{
	Podsandbox__V1__StopRequest sr = PODSANDBOX__V1__STOP_REQUEST__INIT;
	int64_t want = (int64_t)timeout_secs * 1000 + PSB_CLIENT_GRACE_MS;
	int     tmo  = psb_client_timeout_ms(c);

	// The daemon answers at timeout_secs itself; do not give up first.
	if (tmo > 0 && timeout_secs > 0 && want > tmo) {
		tmo = want > INT32_MAX ? 0 : (int)want;
	}
	sr.timeout_secs = timeout_secs;
	return (psb_client_unary(
	        c, PSB_CM_STOP, id, &sr.base, tmo, NULL, err));
}

PSB_PUBLIC int
psb_client_shutdown(psb_client_t *c, const char *id, psb_client_error_t *err)
{
	return (ca_plain(c, PSB_CM_SHUTDOWN, id, NULL, err));
}

int
psb_client_wait_request(
        psb_client_t *c, int timeout_ms, Podsandbox__V1__WaitRequest *wr)
{
	if (timeout_ms == 0) {
		timeout_ms = psb_client_timeout_ms(c);
	}
	if (timeout_ms <= 0) {
		wr->timeout_ms = 0;
		return (0);
	}
	wr->timeout_ms = (uint32_t)timeout_ms;
	return (timeout_ms > INT32_MAX - PSB_CLIENT_GRACE_MS
	                ? 0
	                : timeout_ms + PSB_CLIENT_GRACE_MS);
}

PSB_PUBLIC int
psb_client_wait(psb_client_t *c, const char *id, int timeout_ms,
        psb_exit_t *out, psb_client_error_t *err)
{
	Podsandbox__V1__WaitRequest wr = PODSANDBOX__V1__WAIT_REQUEST__INIT;
	int tmo = psb_client_wait_request(c, timeout_ms, &wr);

	return (psb_client_unary(c, PSB_CM_WAIT, id, &wr.base, tmo, out, err));
}

PSB_PUBLIC int
psb_client_status(psb_client_t *c, const char *id, bool verbose,
        psb_sandbox_status_t *out, psb_client_error_t *err)
{
	Podsandbox__V1__StatusRequest sr =
	        PODSANDBOX__V1__STATUS_REQUEST__INIT;

	sr.verbose = verbose;
	return (psb_client_unary(c, PSB_CM_STATUS, id, &sr.base,
	        psb_client_timeout_ms(c), out, err));
}

// ca_selector parses a JSON object of string labels into lr's map entries
// (store and ptrs, k entries each, borrowing the strings from obj).
static int
ca_selector(json_t *obj, Podsandbox__V1__ListRequest *lr,
        Podsandbox__V1__ListRequest__LabelSelectorEntry  *store,
        Podsandbox__V1__ListRequest__LabelSelectorEntry **ptrs,
        psb_client_error_t                               *err)
{
	const char *key;
	json_t     *val;
	size_t      i = 0;

	json_object_foreach(obj, key, val)
	{
		if (!json_is_string(val)) {
			return (psb_client_fail(err, PSB_CODE_INVALID_ARGUMENT,
			        "label selector: %s: expected a string", key));
		}
		ptrs[i] = &store[i];
		podsandbox__v1__list_request__label_selector_entry__init(
		        ptrs[i]);
		ptrs[i]->key   = (char *)key;
		ptrs[i]->value = (char *)json_string_value(val);
		i++;
	}
	lr->n_label_selector = i;
	lr->label_selector   = ptrs;
	return (0);
}

PSB_PUBLIC int
psb_client_list(psb_client_t *c, const char *state, const char *selector_json,
        psb_sandbox_status_t **out, size_t *n, psb_client_error_t *err)
{
	Podsandbox__V1__ListRequest lr = PODSANDBOX__V1__LIST_REQUEST__INIT;
	Podsandbox__V1__ListRequest__LabelSelectorEntry  *store = NULL;
	Podsandbox__V1__ListRequest__LabelSelectorEntry **ptrs  = NULL;
	psb_client_list_out_t                             lo    = {out, n};
	json_t                                           *sel   = NULL;
	int                                               rv    = 0;

	if (selector_json != NULL && *selector_json != '\0') {
		sel = json_loads(selector_json, 0, NULL);
		if (sel == NULL || !json_is_object(sel)) {
			json_decref(sel);
			return (psb_client_fail(err, PSB_CODE_INVALID_ARGUMENT,
			        "label selector: expected a JSON object"));
		}
		store = psb_client_xmalloc(
		        json_object_size(sel) * sizeof(*store));
		ptrs = psb_client_xmalloc(
		        json_object_size(sel) * sizeof(*ptrs));
		rv = ca_selector(sel, &lr, store, ptrs, err);
	}
	if (rv == 0) {
		lr.state = (char *)(state != NULL ? state : "");
		rv       = psb_client_unary(c, PSB_CM_LIST, NULL, &lr.base,
		              psb_client_timeout_ms(c), &lo, err);
	}
	free(ptrs);
	free(store);
	json_decref(sel);
	return (rv);
}

PSB_PUBLIC int
psb_client_platform(
        psb_client_t *c, psb_platform_info_t *out, psb_client_error_t *err)
{
	return (ca_plain(c, PSB_CM_PLATFORM, NULL, out, err));
}

PSB_PUBLIC int
psb_client_version(
        psb_client_t *c, psb_daemon_version_t *out, psb_client_error_t *err)
{
	return (ca_plain(c, PSB_CM_VERSION, NULL, out, err));
}

int
psb_client_events_ms(psb_client_t *c, uint64_t since, uint32_t limit,
        int timeout_ms, psb_event_list_t *out, psb_client_error_t *err)
{
	Podsandbox__V1__EventsRequest er =
	        PODSANDBOX__V1__EVENTS_REQUEST__INIT;

	er.since = since;
	er.limit = limit;
	return (psb_client_unary(
	        c, PSB_CM_EVENTS, NULL, &er.base, timeout_ms, out, err));
}

PSB_PUBLIC int
psb_client_events(psb_client_t *c, uint64_t since, uint32_t limit,
        psb_event_list_t *out, psb_client_error_t *err)
{
	return (psb_client_events_ms(
	        c, since, limit, psb_client_timeout_ms(c), out, err));
}

PSB_PUBLIC int
psb_client_history(psb_client_t *c, const char *id, psb_event_list_t *out,
        psb_client_error_t *err)
{
	return (ca_plain(c, PSB_CM_HISTORY, id, out, err));
}

//
// podsandboxd - the wire codec: podsandbox.v1 Request/Response/Event <->
// psb_request_t / psb_reply_t / psb_transition_t (DESIGN.md §5, §8).
//
// Everything a client sends is checked here, before it reaches the
// controller, and every error names the field path as the client wrote
// it ("create.config.port_mappings[1].host_ip"). The controller checks
// ids again (it is also reachable without this codec); the two messages
// differ only in the method prefix.
//
// Encoding builds Response messages on the stack with the protobuf-c INIT
// macros; everything they point to is either borrowed from the reply or
// recorded in a small scratch list that is released after packing.
//

#include "transport/codec.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/ident.h"
#include "fsm/fsm.h"
#include "podsandbox.pb-c.h"
#include "transport/config_json.h"
#include "transport/pbwire.h"
#include "transport/podconfig.h"

#define CD_STOP_SECS_MAX (UINT32_MAX / 1000u)
#define CD_PATH_MAX      256
// The longest netns_path (PATH_MAX less its terminator).
#define CD_NETNS_MAX 4095
// Shorter names for the generated oneof case constants.
#define CD_M(c)      PODSANDBOX__V1__REQUEST__METHOD_##c
#define CD_R(c)      PODSANDBOX__V1__RESPONSE__RESULT_##c
#define CD_LABELS(m) (&podsandbox__v1__##m##__labels_entry__descriptor)
#define CD_ID_RULE                                               \
	"1-76 characters: letters and digits, joined by single " \
	"'.', '_' or '-'"

struct psb_codec_request {
	Podsandbox__V1__Request *msg;    // every string req points into
	uint8_t                 *config; // CREATE: re-packed config
	char                    *labels; // CREATE: labels JSON
	char *config_json;               // CREATE: the config as crictl JSON
	char *label_selector;            // LIST
};

// What each oneof case of Request becomes (api/methods.def).
typedef struct cd_method {
	const char  *name; // the oneof field name, prefix of error paths
	psb_method_t method;
	bool         needs_id;
} cd_method_t;

#define ID   true
#define NOID false
static const cd_method_t cd_methods[] = {
#define PSB_METHOD(e, n, req, res, body, id, ev) \
	[CD_M(e)] = {#req, PSB_M_##e, id},
#include "api/methods.def"
#undef PSB_METHOD
};
#undef ID
#undef NOID

static int
cd_check_id(const char *method, const char *id, psb_error_t *err)
{
	char q[PSB_PODCONFIG_QUOTE_MAX + 1];

	if (id == NULL || id[0] == '\0') {
		return (psb_error_make(
		        err, PSB_EINVAL, "%s.sandbox_id: required", method));
	}
	if (strlen(id) > PSB_ID_MAX) {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s.sandbox_id: \"%s...\" is too long (%zu "
		        "characters, at most %d)",
		        method, psb_podconfig_quote(q, 33, id), strlen(id),
		        PSB_ID_MAX));
	}
	if (!psb_id_valid(id)) {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s.sandbox_id: \"%s\" is not a valid id (" CD_ID_RULE
		        ")",
		        method, psb_podconfig_quote(q, sizeof(q), id)));
	}
	return (0);
}

// Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF). protobuf-c
// does not check proto3 strings; jansson, the store and every client do.
static bool
cd_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		unsigned c = *p, n, cp;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, cp = c & 0x07;
		} else {
			return (false);
		}
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80) {
				return (false);
			}
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 &&
		            (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		        (n == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
			return (false);
		}
		p += n + 1;
	}
	return (true);
}

// cd_check_message walks every field of m: strings must be UTF-8 and
// enums known values, so whatever passes can be shown as JSON and its
// enums by name. path is the field path so far (modified, restored).
static int
cd_check_message(
        const ProtobufCMessage *m, char *path, size_t len, psb_error_t *err)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned f = 0; f < d->n_fields; f++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[f];
		const char *mem = (const char *)m + fd->offset;
		size_t      n   = 1;
		size_t      size;
		int         w;

		if (fd->type != PROTOBUF_C_TYPE_STRING &&
		        fd->type != PROTOBUF_C_TYPE_ENUM &&
		        fd->type != PROTOBUF_C_TYPE_MESSAGE) {
			continue;
		}
		size = fd->type == PROTOBUF_C_TYPE_ENUM ? sizeof(int)
		                                        : sizeof(void *);
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			n   = *(const size_t *)((const char *)m +
                                              fd->quantifier_offset);
			mem = *(const char *const *)mem;
		} else if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		           *(const uint32_t *)((const char *)m +
		                               fd->quantifier_offset) !=
		                   fd->id) {
			continue; // another member of the oneof is set
		}
		for (size_t i = 0; i < n; i++) {
			const void *slot = mem + i * size;

			w = fd->label == PROTOBUF_C_LABEL_REPEATED
			            ? snprintf(path + len, CD_PATH_MAX - len,
			                      "%s%s[%zu]", len ? "." : "",
			                      fd->name, i)
			            : snprintf(path + len, CD_PATH_MAX - len,
			                      "%s%s", len ? "." : "",
			                      fd->name);
			if (w < 0 || (size_t)w >= CD_PATH_MAX - len) {
				w = 0; // too deep to name; checks go on
			}
			if (fd->type == PROTOBUF_C_TYPE_STRING) {
				const char *s = *(const char *const *)slot;

				if (s != NULL && !cd_utf8_valid(s)) {
					return (psb_error_make(err, PSB_EINVAL,
					        "%s: not valid UTF-8", path));
				}
			} else if (fd->type == PROTOBUF_C_TYPE_ENUM) {
				int e = *(const int *)slot;

				if (protobuf_c_enum_descriptor_get_value(
				            fd->descriptor, e) == NULL) {
					return (psb_error_make(err, PSB_EINVAL,
					        "%s: unknown value %d", path,
					        e));
				}
			} else if (*(ProtobufCMessage *const *)slot != NULL) {
				int rv = cd_check_message(
				        *(ProtobufCMessage *const *)slot, path,
				        len + (size_t)w, err);

				if (rv != 0) {
					return (rv);
				}
			}
			path[len] = '\0';
		}
	}
	return (0);
}

// cd_map_json turns string map entries into compact JSON text with
// sorted keys (stable bytes for the store and for comparing configs).
static char *
cd_map_json(size_t n, void *const *entries)
{
	json_t *o = json_object();
	char   *s;

	for (size_t i = 0; i < n; i++) {
		const Podsandbox__V1__PodSandboxConfig__LabelsEntry *e =
		        entries[i];

		// Already UTF-8 checked; a later duplicate key wins, as
		// proto3 map semantics say.
		json_object_set_new(o, e->key,
		        json_string(e->value != NULL ? e->value : ""));
	}
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (s == NULL) {
		psb_oom(); // the input was validated: only memory can fail
	}
	return (s);
}

// cd_config_json renders a config as the crictl JSON that core stores,
// shows in verbose Status and hands the runtime (snake_case keys, sorted:
// stable text for stable bytes).
static char *
cd_config_json(const Podsandbox__V1__PodSandboxConfig *cfg)
{
	json_t *j    = psb_pbjson_config_to_json(cfg);
	char   *text = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)
	                         : NULL;

	json_decref(j);
	if (text == NULL) {
		psb_oom(); // the config was validated: only memory can fail
	}
	return (text);
}

// cd_network_node: the config asks for the host's network namespace.
static bool
cd_network_node(const Podsandbox__V1__PodSandboxConfig *cfg)
{
	const Podsandbox__V1__LinuxPodSandboxConfig       *l = cfg->linux;
	const Podsandbox__V1__LinuxSandboxSecurityContext *sc =
	        l != NULL ? l->security_context : NULL;

	return (sc != NULL && sc->namespace_options != NULL &&
	        sc->namespace_options->network ==
	                PODSANDBOX__V1__NAMESPACE_MODE__NODE);
}

// cd_check_netns: a netns the caller made is an absolute path the daemon
// hands on as it is (so no ".." component), for a network POD pod only.
// Empty is none. NUL bytes were refused with the wire bytes.
static int
cd_check_netns(const Podsandbox__V1__CreateRequest *cr, psb_error_t *err)
{
	char        q[PSB_PODCONFIG_QUOTE_MAX + 1];
	const char *p = cr->netns_path;
	size_t      n = strlen(p);

	if (n == 0) {
		return (0);
	}
	if (n > CD_NETNS_MAX) {
		return (psb_error_make(err, PSB_EINVAL,
		        "create.netns_path: %zu bytes, at most %d", n,
		        CD_NETNS_MAX));
	}
	if (p[0] != '/') {
		return (psb_error_make(err, PSB_EINVAL,
		        "create.netns_path: \"%s\" is not an absolute path",
		        psb_podconfig_quote(q, sizeof(q), p)));
	}
	if (strstr(p, "/../") != NULL ||
	        (n >= 3 && strcmp(p + n - 3, "/..") == 0)) {
		return (psb_error_make(err, PSB_EINVAL,
		        "create.netns_path: \"%s\" has a \"..\" component",
		        psb_podconfig_quote(q, sizeof(q), p)));
	}
	if (cd_network_node(cr->config)) {
		return (psb_error_make(err, PSB_EINVAL,
		        "create.netns_path: netns_path is for network POD "
		        "pods (create.config.linux.security_context."
		        "namespace_options.network is NODE)"));
	}
	return (0);
}

static int
cd_decode_create(Podsandbox__V1__CreateRequest *cr, psb_request_t *req,
        psb_codec_request_t *h, psb_error_t *err)
{
	Podsandbox__V1__PodSandboxConfig *back;
	psb_podconfig_counts_t            counts;
	size_t                            len;
	int                               rv;

	if (cr->config == NULL) {
		return (psb_error_make(
		        err, PSB_EINVAL, "create.config: required"));
	}
	if ((rv = psb_podconfig_check(cr->config, err)) != 0 ||
	        (rv = psb_podconfig_check_handler(cr->runtime_handler, err)) !=
	                0 ||
	        (rv = cd_check_netns(cr, err)) != 0) {
		return (rv);
	}
	// Re-packed from the validated message rather than sliced out of
	// the request, so the stored bytes are exactly what was checked (a
	// singular field repeated on the wire keeps only the value checked),
	// and with its maps in canonical order, so that a retried Create
	// compares equal whatever order the client's serializer chose.
	psb_podconfig_canonicalize(cr->config, &counts);
	len = podsandbox__v1__pod_sandbox_config__get_packed_size(cr->config);
	h->config = xmalloc(len ? len : 1);
	podsandbox__v1__pod_sandbox_config__pack(cr->config, h->config);
	h->labels = cd_map_json(
	        cr->config->n_labels, (void *const *)cr->config->labels);
	h->config_json = cd_config_json(cr->config);
	psb_podconfig_restore(cr->config, &counts);
	// Never store bytes that cannot be read back (unknown fields are
	// kept and re-packed as they came).
	back = podsandbox__v1__pod_sandbox_config__unpack(
	        NULL, len, h->config);
	if (back == NULL) {
		return (psb_error_make(err, PSB_EINVAL,
		        "create.config: malformed (an unknown field does not "
		        "survive re-encoding)"));
	}
	podsandbox__v1__pod_sandbox_config__free_unpacked(back, NULL);
	req->config      = h->config;
	req->config_len  = len;
	req->labels      = h->labels;
	req->config_json = h->config_json;
	req->runtime_handler =
	        cr->runtime_handler[0] != '\0' ? cr->runtime_handler : NULL;
	req->netns_path = cr->netns_path[0] != '\0' ? cr->netns_path : NULL;
	return (0);
}

static int
cd_decode_list(const Podsandbox__V1__ListRequest *lr, psb_request_t *req,
        psb_codec_request_t *h, psb_error_t *err)
{
	char q[PSB_PODCONFIG_QUOTE_MAX + 1];
	int  rv;

	if (lr->state[0] != '\0') {
		if (psb_state_parse(lr->state) < 0) {
			return (psb_error_make(err, PSB_EINVAL,
			        "list.state: unknown state \"%s\"",
			        psb_podconfig_quote(q, sizeof(q), lr->state)));
		}
		req->state_filter = lr->state;
	}
	if (lr->n_label_selector > 0) {
		if ((rv = psb_podconfig_check_keys("list.label_selector",
		             lr->n_label_selector,
		             (void *const *)lr->label_selector, err)) != 0) {
			return (rv);
		}
		h->label_selector   = cd_map_json(lr->n_label_selector,
		          (void *const *)lr->label_selector);
		req->label_selector = h->label_selector;
	}
	return (0);
}

// cd_id_of returns the sandbox_id of the method's submessage (every one
// that has it keeps it as field 1), or NULL.
static const char *
cd_id_of(const Podsandbox__V1__Request *msg)
{
	const ProtobufCMessage *sub = (const ProtobufCMessage *)msg->create;
	const ProtobufCFieldDescriptor *fd;

	if (sub == NULL) {
		return (NULL);
	}
	fd = protobuf_c_message_descriptor_get_field_by_name(
	        sub->descriptor, "sandbox_id");
	return (fd != NULL ? *(const char *const *)((const char *)sub +
	                                            fd->offset)
	                   : NULL);
}

static int
cd_decode_method(const Podsandbox__V1__Request *msg, psb_request_t *req,
        psb_codec_request_t *h, psb_error_t *err)
{
	const cd_method_t *m  = &cd_methods[msg->method_case];
	const char        *id = cd_id_of(msg);
	int                rv;

	req->method = m->method;
	if (m->needs_id) {
		if ((rv = cd_check_id(m->name, id, err)) != 0) {
			return (rv);
		}
		req->sandbox_id = id;
	} else if (id != NULL && psb_id_valid(id)) {
		req->sandbox_id = id; // Platform: ignored, as in containerd
	}
	switch (msg->method_case) {
	case CD_M(CREATE): return (cd_decode_create(msg->create, req, h, err));
	case CD_M(STOP):
		// The wire has seconds (CRI), the controller milliseconds;
		// uint32 ms still covers 49 days.
		req->timeout_ms = msg->stop->timeout_secs > CD_STOP_SECS_MAX
		                          ? UINT32_MAX
		                          : msg->stop->timeout_secs * 1000u;
		return (0);
	case CD_M(WAIT): req->timeout_ms = msg->wait->timeout_ms; return (0);
	case CD_M(STATUS): req->verbose = msg->status->verbose; return (0);
	case CD_M(LIST): return (cd_decode_list(msg->list, req, h, err));
	case CD_M(EVENTS):
		// 0 means "as many as allowed"; more than allowed is not an
		// error either: the reply says "more" and the client pages.
		req->since = msg->events->since;
		req->limit = msg->events->limit;
		if (req->limit == 0 || req->limit > PSB_EVENTS_MAX) {
			req->limit = PSB_EVENTS_MAX;
		}
		return (0);
	default: return (0);
	}
}

int
psb_codec_decode_request(const void *buf, size_t len, psb_request_t *req,
        psb_codec_request_t **holder, psb_error_t *err)
{
	Podsandbox__V1__Request *msg;
	psb_codec_request_t     *h;
	char                     path[CD_PATH_MAX];
	size_t                   plen;
	int                      rv;

	if (buf == NULL && len > 0) {
		return (psb_error_make(
		        err, PSB_EINVAL, "malformed request: no buffer"));
	}
	msg = podsandbox__v1__request__unpack(NULL, len, buf);
	if (msg == NULL) {
		return (psb_error_make(err, PSB_EINVAL,
		        "malformed request: not a podsandbox.v1.Request"));
	}
	if (msg->method_case == PODSANDBOX__V1__REQUEST__METHOD__NOT_SET ||
	        (size_t)msg->method_case >= PSB_NELEM(cd_methods) ||
	        cd_methods[msg->method_case].name == NULL) {
		podsandbox__v1__request__free_unpacked(msg, NULL);
		return (psb_error_make(
		        err, PSB_EINVAL, "request has no method"));
	}
	// What protobuf-c does not see: NUL inside strings, field number 0
	// behind a multi-byte tag.
	if ((rv = psb_pbwire_check(&podsandbox__v1__request__descriptor, buf,
	             len, "", err)) != 0) {
		podsandbox__v1__request__free_unpacked(msg, NULL);
		return (rv);
	}
	h      = xcalloc(1, sizeof(*h));
	h->msg = msg;
	memset(req, 0, sizeof(*req));
	plen = (size_t)snprintf(
	        path, sizeof(path), "%s", cd_methods[msg->method_case].name);
	if ((rv = cd_check_message((const ProtobufCMessage *)msg->create, path,
	             plen, err)) != 0 ||
	        (rv = cd_decode_method(msg, req, h, err)) != 0) {
		psb_codec_request_free(h);
		memset(req, 0, sizeof(*req));
		return (rv);
	}
	*holder = h;
	return (0);
}

void
psb_codec_request_free(psb_codec_request_t *h)
{
	if (h == NULL) {
		return;
	}
	podsandbox__v1__request__free_unpacked(h->msg, NULL);
	free(h->config);
	free(h->labels);
	free(h->config_json);
	free(h->label_selector);
	free(h);
}

char *
psb_codec_config_json(const void *bytes, size_t len)
{
	Podsandbox__V1__PodSandboxConfig *cfg;
	char                             *text;

	if (bytes == NULL || len == 0) {
		return (NULL);
	}
	cfg = podsandbox__v1__pod_sandbox_config__unpack(NULL, len, bytes);
	if (cfg == NULL) {
		return (NULL);
	}
	text = cd_config_json(cfg);
	podsandbox__v1__pod_sandbox_config__free_unpacked(cfg, NULL);
	return (text);
}

int
psb_codec_api_code(int e)
{
	switch (e) {
	case PSB_OK: return (PODSANDBOX__V1__CODE__OK);
	case PSB_EINVAL: return (PODSANDBOX__V1__CODE__INVALID_ARGUMENT);
	case PSB_ENOENT: return (PODSANDBOX__V1__CODE__NOT_FOUND);
	case PSB_EEXIST: return (PODSANDBOX__V1__CODE__ALREADY_EXISTS);
	case PSB_ESTATE: return (PODSANDBOX__V1__CODE__FAILED_PRECONDITION);
	case PSB_ETIMEDOUT: return (PODSANDBOX__V1__CODE__DEADLINE_EXCEEDED);
	case PSB_EUNAVAIL: return (PODSANDBOX__V1__CODE__UNAVAILABLE);
	case PSB_EPERM: return (PODSANDBOX__V1__CODE__PERMISSION_DENIED);
	case PSB_ENOSPC: return (PODSANDBOX__V1__CODE__RESOURCE_EXHAUSTED);
	case PSB_ENOTSUP: return (PODSANDBOX__V1__CODE__UNIMPLEMENTED);
	// A dropped request is what gRPC calls CANCELLED; the client did
	// not get an answer, which is not a daemon fault.
	case PSB_ECANCELED: return (PODSANDBOX__V1__CODE__CANCELLED);
	// The database is locked by another process: retrying may work.
	case PSB_EBUSY: return (PODSANDBOX__V1__CODE__UNAVAILABLE);
	default: return (PODSANDBOX__V1__CODE__INTERNAL);
	}
}

// ---- encoding ----

// cd_scratch records what an encoding allocated, released after packing:
// the Response itself only borrows.
typedef struct cd_item {
	void (*fn)(void *);
	void *p;
} cd_item_t;

typedef struct cd_scratch {
	cd_item_t *items;
	size_t     n, cap;
} cd_scratch_t;

static void
cd_json_decref(void *p)
{
	json_decref(p);
}

static void
cd_config_free(void *p)
{
	psb_pbjson_config_free(p);
}

static void *
cd_keep(cd_scratch_t *s, void (*fn)(void *), void *p)
{
	if (s->n == s->cap) {
		s->cap   = s->cap ? 2 * s->cap : 16;
		s->items = xrealloc(s->items, s->cap * sizeof(*s->items));
	}
	s->items[s->n].fn  = fn;
	s->items[s->n++].p = p;
	return (p);
}

static void *
cd_alloc(cd_scratch_t *s, size_t nmemb, size_t size)
{
	return (cd_keep(s, free, xcalloc(nmemb ? nmemb : 1, size)));
}

static void
cd_scratch_release(cd_scratch_t *s)
{
	// Newest first: a JSON text may point into an older json_t.
	while (s->n > 0) {
		s->n--;
		s->items[s->n].fn(s->items[s->n].p);
	}
	free(s->items);
}

// cd_str returns s for a message field: protobuf-c never writes through
// it, and packs NULL or "" as absent.
static char *
cd_str(const char *s)
{
	return ((char *)(s != NULL ? s : ""));
}

// CD_FIXED copies a char array field that may fill its array without a
// terminator.
#define CD_FIXED(s, a) ((char *)cd_keep((s), free, xstrndup((a), sizeof(a))))

// cd_map builds map entries of entry type ed from a JSON object text
// (view labels). Entries borrow the parsed JSON, kept in s. Text that is
// not a JSON object gives an empty map: a reply must not fail because a
// stored row is odd. Returns the entry array (any entry pointer type).
static void *
cd_map(cd_scratch_t *s, const ProtobufCMessageDescriptor *ed, const char *text,
        size_t *n)
{
	json_t     *o;
	const char *key;
	json_t     *v;
	void      **arr;

	*n = 0;
	if (text == NULL || (o = json_loads(text, 0, NULL)) == NULL) {
		return (NULL);
	}
	cd_keep(s, cd_json_decref, o);
	if (!json_is_object(o) || json_object_size(o) == 0) {
		return (NULL);
	}
	arr = cd_alloc(s, json_object_size(o), sizeof(void *));
	json_object_foreach(o, key, v)
	{
		ProtobufCMessage *e;

		if (!json_is_string(v)) {
			continue;
		}
		e = cd_alloc(s, 1, ed->sizeof_message);
		ed->message_init(e);
		*(char **)((char *)e + ed->fields[0].offset) = cd_str(key);
		*(char **)((char *)e + ed->fields[1].offset) =
		        cd_str(json_string_value(v));
		arr[(*n)++] = e;
	}
	return (arr);
}

// cd_network is the view's pod network as CRI's PodSandboxNetworkStatus,
// or NULL (field absent) without one. The IPs are borrowed from the view.
static Podsandbox__V1__PodSandboxNetworkStatus *
cd_network(cd_scratch_t *s, const psb_sandbox_view_t *v)
{
	Podsandbox__V1__PodSandboxNetworkStatus *net;
	Podsandbox__V1__PodIP                   *ips;
	size_t                                   n = v->n_additional_ips;

	if (v->ip == NULL) {
		return (NULL);
	}
	net = cd_alloc(s, 1, sizeof(*net));
	podsandbox__v1__pod_sandbox_network_status__init(net);
	net->ip             = cd_str(v->ip);
	ips                 = cd_alloc(s, n, sizeof(*ips));
	net->additional_ips = cd_alloc(s, n, sizeof(*net->additional_ips));
	for (size_t i = 0; i < n; i++) {
		podsandbox__v1__pod_ip__init(&ips[i]);
		ips[i].ip              = cd_str(v->additional_ips[i]);
		net->additional_ips[i] = &ips[i];
	}
	net->n_additional_ips = n;
	return (net);
}

static Podsandbox__V1__ControllerStatus *
cd_status(cd_scratch_t *s, const psb_sandbox_view_t *v, bool with_info)
{
	Podsandbox__V1__ControllerStatus *cs  = cd_alloc(s, 1, sizeof(*cs));
	Podsandbox__V1__PodSandboxConfig *cfg = NULL;

	podsandbox__v1__controller_status__init(cs);
	cs->sandbox_id      = cd_str(v->id);
	cs->pid             = v->pid;
	cs->state           = cd_str(psb_state_name(v->state));
	cs->created_at      = v->created_at;
	cs->exited_at       = v->exited_at;
	cs->generation      = v->generation;
	cs->exit_status     = v->exit_status;
	cs->runtime_handler = cd_str(v->runtime_handler);
	cs->started_at      = v->started_at;
	cs->network         = cd_network(s, v);
	cs->labels          = cd_map(
	                 s, CD_LABELS(controller_status), v->labels, &cs->n_labels);
	if (v->config != NULL && v->config_len > 0) {
		// A row that does not decode still shows everything else.
		cfg = podsandbox__v1__pod_sandbox_config__unpack(
		        NULL, v->config_len, v->config);
	}
	if (cfg != NULL) {
		cd_keep(s, cd_config_free, cfg);
		cs->metadata = cfg->metadata;
	}
	if (with_info && v->info != NULL) {
		Podsandbox__V1__ControllerStatus__InfoEntry *e =
		        cd_alloc(s, 1, sizeof(*e));

		podsandbox__v1__controller_status__info_entry__init(e);
		e->key      = "info";
		e->value    = cd_str(v->info);
		cs->info    = cd_alloc(s, 1, sizeof(*cs->info));
		cs->info[0] = e;
		cs->n_info  = 1;
	}
	return (cs);
}

static void
cd_event(Podsandbox__V1__Event *ev, const psb_transition_t *t)
{
	podsandbox__v1__event__init(ev);
	ev->seq         = t->seq;
	ev->sandbox_id  = cd_str(t->sandbox_id);
	ev->from_state  = cd_str(psb_state_name(t->from));
	ev->event       = cd_str(psb_event_name(t->event));
	ev->to_state    = cd_str(psb_state_name(t->to));
	ev->time        = t->time;
	ev->exit_status = t->exit_status;
	ev->generation  = t->generation;
}

static Podsandbox__V1__Event **
cd_events(cd_scratch_t *s, const psb_transition_t *ts, size_t n)
{
	Podsandbox__V1__Event  *evs = cd_alloc(s, n, sizeof(*evs));
	Podsandbox__V1__Event **arr = cd_alloc(s, n, sizeof(*arr));

	for (size_t i = 0; i < n; i++) {
		cd_event(&evs[i], &ts[i]);
		arr[i] = &evs[i];
	}
	return (arr);
}

static void
cd_pack(const void *m, void **buf, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(m);

	*buf = xmalloc(n ? n : 1);
	*len = protobuf_c_message_pack(m, *buf);
}

// Result messages live here; each cd_body_* fills one and returns it.
typedef struct cd_results {
	Podsandbox__V1__Empty              empty;
	Podsandbox__V1__ControllerInstance inst;
	Podsandbox__V1__Platform           plat;
	Podsandbox__V1__ExitStatus         exit;
	Podsandbox__V1__ListResponse       list;
	Podsandbox__V1__EventsResponse     events;
	Podsandbox__V1__HistoryResponse    history;
	Podsandbox__V1__VersionResponse    version;
} cd_results_t;

#define CD_BODY(b)                \
	static void *cd_body_##b( \
	        cd_scratch_t *s, const psb_reply_t *r, cd_results_t *x)

CD_BODY(EMPTY)
{
	(void)s, (void)r;
	return (&x->empty);
}

CD_BODY(INSTANCE)
{
	const psb_sandbox_view_t *v = &r->sandbox;

	x->inst.sandbox_id = cd_str(v->id);
	x->inst.pid        = v->pid;
	x->inst.created_at = v->created_at;
	x->inst.labels = cd_map(s, CD_LABELS(controller_instance), v->labels,
	        &x->inst.n_labels);
	return (&x->inst);
}

CD_BODY(PLATFORM)
{
	x->plat.os           = CD_FIXED(s, r->platform.os);
	x->plat.architecture = CD_FIXED(s, r->platform.arch);
	x->plat.variant      = CD_FIXED(s, r->platform.variant);
	return (&x->plat);
}

CD_BODY(EXIT)
{
	(void)s;
	// ExitStatus is uint32 in containerd's API: -1 ("none recorded")
	// shows as 4294967295, as a Go uint32(-1) would.
	x->exit.exit_status = (uint32_t)r->sandbox.exit_status;
	x->exit.exited_at   = r->sandbox.exited_at;
	return (&x->exit);
}

CD_BODY(STATUS)
{
	(void)x;
	return (cd_status(s, &r->sandbox, true));
}

CD_BODY(LIST)
{
	x->list.sandboxes = cd_alloc(s, r->list_len, sizeof(void *));
	for (size_t i = 0; i < r->list_len; i++) {
		x->list.sandboxes[i] = cd_status(s, &r->list[i], false);
	}
	x->list.n_sandboxes = r->list_len;
	return (&x->list);
}

CD_BODY(EVENTS)
{
	x->events.events     = cd_events(s, r->events, r->events_len);
	x->events.n_events   = r->events_len;
	x->events.oldest_seq = r->oldest_seq;
	x->events.newest_seq = r->newest_seq;
	x->events.truncated  = r->truncated;
	x->events.more       = r->more;
	return (&x->events);
}

CD_BODY(HISTORY)
{
	x->history.events   = cd_events(s, r->events, r->events_len);
	x->history.n_events = r->events_len;
	return (&x->history);
}

CD_BODY(VERSION)
{
	(void)s;
	x->version.version                = PSB_VERSION;
	x->version.api_version            = PSB_API_VERSION;
	x->version.runtime                = cd_str(r->version.runtime);
	x->version.runtime_is_test_double = r->version.runtime_is_test_double;
	x->version.sandboxes              = r->version.sandboxes;
	x->version.commit_failures        = r->version.commit_failures;
	x->version.newest_seq             = r->version.newest_seq;
	x->version.missed_exits           = r->version.missed_exits;
	return (&x->version);
}

// Where each method's answer goes (api/methods.def).
static const struct {
	Podsandbox__V1__Response__ResultCase result;
	void *(*body)(cd_scratch_t *, const psb_reply_t *, cd_results_t *);
} cd_answers[PSB_M_COUNT] = {
#define PSB_METHOD(e, n, req, res, b, id, ev) \
	[PSB_M_##e] = {PODSANDBOX__V1__RESPONSE__RESULT_##res, cd_body_##b},
#include "api/methods.def"
#undef PSB_METHOD
};

static int
cd_result(cd_scratch_t *s, const psb_reply_t *r, cd_results_t *x,
        Podsandbox__V1__Response *resp)
{
	if ((unsigned)r->method >= PSB_M_COUNT) {
		return (PSB_EINTERNAL);
	}
	resp->result_case = cd_answers[r->method].result;
	// Every member of the result oneof is a message pointer in one
	// union: any of them carries the body.
	resp->create = cd_answers[r->method].body(s, r, x);
	return (0);
}

int
psb_codec_encode_reply(const psb_reply_t *r, void **buf, size_t *len)
{
	Podsandbox__V1__Response  resp   = PODSANDBOX__V1__RESPONSE__INIT;
	Podsandbox__V1__RpcStatus status = PODSANDBOX__V1__RPC_STATUS__INIT;
	cd_results_t              x      = {
	                          .empty = PODSANDBOX__V1__EMPTY__INIT,
	                          .inst = PODSANDBOX__V1__CONTROLLER_INSTANCE__INIT,
	                          .plat = PODSANDBOX__V1__PLATFORM__INIT,
	                          .exit = PODSANDBOX__V1__EXIT_STATUS__INIT,
	                          .list = PODSANDBOX__V1__LIST_RESPONSE__INIT,
	                          .events  = PODSANDBOX__V1__EVENTS_RESPONSE__INIT,
	                          .history = PODSANDBOX__V1__HISTORY_RESPONSE__INIT,
	                          .version = PODSANDBOX__V1__VERSION_RESPONSE__INIT,
        };
	cd_scratch_t s  = {NULL, 0, 0};
	int          rv = 0;

	status.code    = (Podsandbox__V1__Code)psb_codec_api_code(r->code);
	status.message = cd_str(r->message);
	resp.status    = &status;
	if (r->code == 0) {
		rv = cd_result(&s, r, &x, &resp);
	}
	if (rv == 0) {
		cd_pack(&resp, buf, len);
	}
	cd_scratch_release(&s);
	return (rv);
}

int
psb_codec_encode_error(int code, const char *message, void **buf, size_t *len)
{
	Podsandbox__V1__Response  resp   = PODSANDBOX__V1__RESPONSE__INIT;
	Podsandbox__V1__RpcStatus status = PODSANDBOX__V1__RPC_STATUS__INIT;

	status.code = (Podsandbox__V1__Code)psb_codec_api_code(code);
	// An error without text still says what kind of error it is.
	status.message =
	        cd_str(message != NULL ? message : psb_strerror(code));
	resp.status = &status;
	cd_pack(&resp, buf, len);
	return (0);
}

int
psb_codec_encode_event(const psb_transition_t *t, void **buf, size_t *len)
{
	Podsandbox__V1__Event ev;

	cd_event(&ev, t);
	cd_pack(&ev, buf, len);
	return (0);
}

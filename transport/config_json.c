//
// podsandboxd - CRI PodSandboxConfig <-> JSON with crictl's pod-config
// names.
//
// The proto field names are crictl's JSON names (snake_case), so both
// directions walk the protobuf-c descriptors instead of hand-writing one
// function per message: a field added to podsandbox.proto is picked up
// here without code changes, and the two directions cannot drift apart.
//
// Memory follows protobuf-c's own conventions (system allocator, strings
// other than protobuf_c_empty_string owned by the message), so one
// protobuf_c_message_free_unpacked releases a message built here, a
// message unpacked from the wire, and every half-built message on an
// error path alike.
//
// This file is linked into the client library too, so it uses only libc,
// protobuf-c and jansson (not base).
//

#include "transport/config_json.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// A key path for error messages ("linux.security_context.seccomp").
// Truncation of absurdly deep or long paths only shortens the message.
typedef struct cj_path {
	char   buf[512];
	size_t len;
} cj_path_t;

static void *
cj_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL) {
		abort(); // OOM policy: abort, never return half a config
	}
	return (p);
}

static char *
cj_strdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL) {
		abort();
	}
	return (p);
}

// cj_path_push appends ".name" (or "name" at the root) and returns the
// old length for cj_path_pop.
static size_t
cj_path_push(cj_path_t *p, const char *name)
{
	size_t old = p->len;
	int    n;

	n = snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "%s%s",
	        p->len ? "." : "", name);
	if (n > 0) {
		p->len += (size_t)n;
		if (p->len >= sizeof(p->buf)) {
			p->len = sizeof(p->buf) - 1;
		}
	}
	return (old);
}

static size_t
cj_path_index(cj_path_t *p, size_t i)
{
	size_t old = p->len;
	int    n;

	n = snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "[%zu]", i);
	if (n > 0) {
		p->len += (size_t)n;
		if (p->len >= sizeof(p->buf)) {
			p->len = sizeof(p->buf) - 1;
		}
	}
	return (old);
}

static void
cj_path_pop(cj_path_t *p, size_t old)
{
	p->len      = old;
	p->buf[old] = '\0';
}

static int cj_fail(char **errmsg, const cj_path_t *p, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

// cj_fail sets *errmsg to "<path>: <message>" and returns -1.
static int
cj_fail(char **errmsg, const cj_path_t *p, const char *fmt, ...)
{
	char    msg[512];
	char   *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (errmsg == NULL) {
		return (-1);
	}
	if (asprintf(&s, "%s: %s", p->len ? p->buf : "pod config", msg) < 0) {
		abort();
	}
	free(*errmsg);
	*errmsg = s;
	return (-1);
}

// A map<K, V> field is a repeated message whose entry type protoc names
// "<Field>Entry" with fields key = 1 and value = 2.
static bool
cj_is_map(const ProtobufCFieldDescriptor *fd)
{
	const ProtobufCMessageDescriptor *d = fd->descriptor;
	size_t                            n;

	if (fd->label != PROTOBUF_C_LABEL_REPEATED ||
	        fd->type != PROTOBUF_C_TYPE_MESSAGE || d->n_fields != 2) {
		return (false);
	}
	n = strlen(d->short_name);
	return (n > 5 && strcmp(d->short_name + n - 5, "Entry") == 0 &&
	        strcmp(d->fields[0].name, "key") == 0 &&
	        strcmp(d->fields[1].name, "value") == 0);
}

static const char *
cj_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return ("an object");
	case JSON_ARRAY: return ("an array");
	case JSON_STRING: return ("a string");
	case JSON_INTEGER: return ("an integer");
	case JSON_REAL: return ("a number with a fraction");
	case JSON_TRUE:
	case JSON_FALSE: return ("a boolean");
	case JSON_NULL: return ("null");
	}
	return ("something else");
}

// cj_enum_fail lists the accepted names: the error is the documentation a
// user reading a crictl config needs.
static int
cj_enum_fail(char **errmsg, const cj_path_t *p,
        const ProtobufCEnumDescriptor *ed, const json_t *v)
{
	char   list[256] = "";
	size_t len       = 0;
	int    lo = 0, hi = 0;

	for (unsigned i = 0; i < ed->n_values; i++) {
		int n = snprintf(list + len, sizeof(list) - len, "%s%s",
		        i ? ", " : "", ed->values[i].name);

		if (n > 0 && len + (size_t)n < sizeof(list)) {
			len += (size_t)n;
		}
		if (i == 0 || ed->values[i].value < lo) {
			lo = ed->values[i].value;
		}
		if (i == 0 || ed->values[i].value > hi) {
			hi = ed->values[i].value;
		}
	}
	if (json_is_string(v)) {
		return (cj_fail(errmsg, p,
		        "unknown value \"%.64s\": expected "
		        "one of %s (or %d-%d)",
		        json_string_value(v), list, lo, hi));
	}
	return (cj_fail(errmsg, p, "expected one of %s (or %d-%d), not %s",
	        list, lo, hi,
	        json_is_integer(v) ? "that number" : cj_type_name(v)));
}

static int cj_message_from_json(const ProtobufCMessageDescriptor *d,
        json_t *obj, ProtobufCMessage **out, cj_path_t *p, char **errmsg);

// cj_int_from_json reads an integer within [lo, hi].
static int
cj_int_from_json(json_t *v, json_int_t lo, json_int_t hi, json_int_t *out,
        cj_path_t *p, char **errmsg)
{
	json_int_t x;

	if (!json_is_integer(v)) {
		return (cj_fail(errmsg, p, "expected an integer, not %s",
		        cj_type_name(v)));
	}
	x = json_integer_value(v);
	if (x < lo || x > hi) {
		return (cj_fail(errmsg, p,
		        "%lld is out of range (%lld to %lld)", (long long)x,
		        (long long)lo, (long long)hi));
	}
	*out = x;
	return (0);
}

// cj_scalar_from_json stores one value of fd's type at slot (a singular
// field, an element of a repeated field, or a map entry's value).
static int
cj_scalar_from_json(const ProtobufCFieldDescriptor *fd, json_t *v, void *slot,
        cj_path_t *p, char **errmsg)
{
	json_int_t x;

	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (cj_int_from_json(v, INT32_MIN, INT32_MAX, &x, p, errmsg) !=
		        0) {
			return (-1);
		}
		*(int32_t *)slot = (int32_t)x;
		return (0);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (cj_int_from_json(v, 0, UINT32_MAX, &x, p, errmsg) != 0) {
			return (-1);
		}
		*(uint32_t *)slot = (uint32_t)x;
		return (0);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (cj_int_from_json(v, INT64_MIN, INT64_MAX, &x, p, errmsg) !=
		        0) {
			return (-1);
		}
		*(int64_t *)slot = (int64_t)x;
		return (0);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (cj_int_from_json(v, 0, INT64_MAX, &x, p, errmsg) != 0) {
			return (-1);
		}
		*(uint64_t *)slot = (uint64_t)x;
		return (0);
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v)) {
			return (cj_fail(errmsg, p,
			        "expected a boolean, not %s",
			        cj_type_name(v)));
		}
		*(protobuf_c_boolean *)slot = json_is_true(v);
		return (0);
	case PROTOBUF_C_TYPE_STRING:
		if (!json_is_string(v)) {
			return (cj_fail(errmsg, p, "expected a string, not %s",
			        cj_type_name(v)));
		}
		*(char **)slot = cj_strdup(json_string_value(v));
		return (0);
	case PROTOBUF_C_TYPE_ENUM: {
		// crictl configs carry enums as numbers (Go's encoding/json);
		// people write the names. Both are accepted, only known
		// values are.
		const ProtobufCEnumDescriptor *ed = fd->descriptor;
		const ProtobufCEnumValue      *ev = NULL;

		if (json_is_string(v)) {
			ev = protobuf_c_enum_descriptor_get_value_by_name(
			        ed, json_string_value(v));
		} else if (json_is_integer(v) &&
		           json_integer_value(v) >= INT32_MIN &&
		           json_integer_value(v) <= INT32_MAX) {
			ev = protobuf_c_enum_descriptor_get_value(
			        ed, (int)json_integer_value(v));
		}
		if (ev == NULL) {
			return (cj_enum_fail(errmsg, p, ed, v));
		}
		*(int *)slot = ev->value;
		return (0);
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		return (cj_message_from_json(fd->descriptor, v,
		        (ProtobufCMessage **)slot, p, errmsg));
	default:
		// float, double, bytes: not in the CRI subset we carry.
		return (cj_fail(errmsg, p, "unsupported field type"));
	}
}

// Size of one element of a repeated field of fd's type.
static size_t
cj_elem_size(const ProtobufCFieldDescriptor *fd)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: return (sizeof(int64_t));
	case PROTOBUF_C_TYPE_BOOL: return (sizeof(protobuf_c_boolean));
	case PROTOBUF_C_TYPE_ENUM: return (sizeof(int));
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE: return (sizeof(void *));
	default: return (sizeof(int32_t));
	}
}

// cj_map_from_json fills a map field from a JSON object. The count is
// raised after each entry is complete, so an error leaves a message that
// protobuf_c_message_free_unpacked can release.
static int
cj_map_from_json(ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd,
        json_t *v, cj_path_t *p, char **errmsg)
{
	const ProtobufCMessageDescriptor *ed = fd->descriptor;
	size_t     *n   = (size_t *)((char *)m + fd->quantifier_offset);
	void     ***arr = (void ***)((char *)m + fd->offset);
	const char *key;
	json_t     *val;

	if (!json_is_object(v)) {
		return (cj_fail(errmsg, p, "expected an object, not %s",
		        cj_type_name(v)));
	}
	*arr = cj_calloc(json_object_size(v), sizeof(void *));
	json_object_foreach(v, key, val)
	{
		ProtobufCMessage *e   = cj_calloc(1, ed->sizeof_message);
		size_t            old = cj_path_push(p, key);

		ed->message_init(e);
		(*arr)[(*n)++]                               = e;
		*(char **)((char *)e + ed->fields[0].offset) = cj_strdup(key);
		if (cj_scalar_from_json(&ed->fields[1], val,
		            (char *)e + ed->fields[1].offset, p,
		            errmsg) != 0) {
			return (-1);
		}
		cj_path_pop(p, old);
	}
	return (0);
}

static int
cj_repeated_from_json(ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd,
        json_t *v, cj_path_t *p, char **errmsg)
{
	size_t *n    = (size_t *)((char *)m + fd->quantifier_offset);
	char  **arr  = (char **)((char *)m + fd->offset);
	size_t  size = cj_elem_size(fd);
	json_t *el;
	size_t  i;

	if (!json_is_array(v)) {
		return (cj_fail(errmsg, p, "expected an array, not %s",
		        cj_type_name(v)));
	}
	*arr = cj_calloc(json_array_size(v), size);
	json_array_foreach(v, i, el)
	{
		size_t old = cj_path_index(p, i);

		if (cj_scalar_from_json(fd, el, *arr + i * size, p, errmsg) !=
		        0) {
			// Count the failed slot too: it is NULL/zero or a
			// half-built message, and both are freed with the
			// rest.
			*n = i + 1;
			return (-1);
		}
		*n = i + 1;
		cj_path_pop(p, old);
	}
	return (0);
}

// cj_unknown_key explains camelCase keys: crictl's Go structs accept
// only the proto names, and so does this parser.
static int
cj_unknown_key(const ProtobufCMessageDescriptor *d, const char *key,
        cj_path_t *p, char **errmsg)
{
	char   snake[128];
	size_t j = 0;

	cj_path_push(p, key);
	for (const char *c = key; *c != '\0' && j + 2 < sizeof(snake); c++) {
		if (*c >= 'A' && *c <= 'Z') {
			snake[j++] = '_';
			snake[j++] = (char)(*c - 'A' + 'a');
		} else {
			snake[j++] = *c;
		}
	}
	snake[j] = '\0';
	if (strcmp(snake, key) != 0 &&
	        protobuf_c_message_descriptor_get_field_by_name(d, snake) !=
	                NULL) {
		return (cj_fail(errmsg, p,
		        "unknown key %s (keys are snake_case: use %s)", p->buf,
		        snake));
	}
	return (cj_fail(errmsg, p, "unknown key %s", p->buf));
}

static int
cj_message_from_json(const ProtobufCMessageDescriptor *d, json_t *obj,
        ProtobufCMessage **out, cj_path_t *p, char **errmsg)
{
	ProtobufCMessage *m;
	const char       *key;
	json_t           *v;

	if (!json_is_object(obj)) {
		return (cj_fail(errmsg, p, "expected an object, not %s",
		        cj_type_name(obj)));
	}
	m = cj_calloc(1, d->sizeof_message);
	d->message_init(m);
	*out = m; // owned by the parent from here on, even on error
	json_object_foreach(obj, key, v)
	{
		const ProtobufCFieldDescriptor *fd =
		        protobuf_c_message_descriptor_get_field_by_name(
		                d, key);
		size_t old;
		int    rv;

		if (fd == NULL) {
			return (cj_unknown_key(d, key, p, errmsg));
		}
		if (json_is_null(v)) {
			continue; // Go's encoding/json: null leaves it unset
		}
		old = cj_path_push(p, key);
		if (cj_is_map(fd)) {
			rv = cj_map_from_json(m, fd, v, p, errmsg);
		} else if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			rv = cj_repeated_from_json(m, fd, v, p, errmsg);
		} else {
			rv = cj_scalar_from_json(
			        fd, v, (char *)m + fd->offset, p, errmsg);
		}
		if (rv != 0) {
			return (-1);
		}
		cj_path_pop(p, old);
	}
	return (0);
}

Podsandbox__V1__PodSandboxConfig *
psb_pbjson_config_from_json(json_t *obj, char **errmsg)
{
	ProtobufCMessage *m = NULL;
	cj_path_t         p = {.len = 0};

	p.buf[0] = '\0';
	if (cj_message_from_json(
	            &podsandbox__v1__pod_sandbox_config__descriptor, obj, &m,
	            &p, errmsg) != 0) {
		if (m != NULL) {
			protobuf_c_message_free_unpacked(m, NULL);
		}
		return (NULL);
	}
	return ((Podsandbox__V1__PodSandboxConfig *)m);
}

void
psb_pbjson_config_free(Podsandbox__V1__PodSandboxConfig *cfg)
{
	if (cfg != NULL) {
		protobuf_c_message_free_unpacked(&cfg->base, NULL);
	}
}

// ---- to JSON ----

static json_t *cj_message_to_json(const ProtobufCMessage *m);

// cj_scalar_to_json returns the JSON for the value at slot, or NULL when
// it is the proto3 default (omitted) or cannot be shown (a string that
// is not UTF-8). keep_zero is set for repeated elements and map values,
// where position or key makes a zero meaningful.
static json_t *
cj_scalar_to_json(
        const ProtobufCFieldDescriptor *fd, const void *slot, bool keep_zero)
{
	json_int_t x;

	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: x = *(const int32_t *)slot; break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: x = *(const uint32_t *)slot; break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: x = *(const int64_t *)slot; break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		// JSON integers are signed 64-bit in jansson.
		x = (json_int_t)(*(const uint64_t *)slot & INT64_MAX);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		return (*(const protobuf_c_boolean *)slot || keep_zero
		                ? json_boolean(
		                          *(const protobuf_c_boolean *)slot)
		                : NULL);
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(const char *const *)slot;

		if (s == NULL || (*s == '\0' && !keep_zero)) {
			return (NULL);
		}
		return (json_string(s)); // NULL if not UTF-8
	}
	case PROTOBUF_C_TYPE_ENUM: {
		int                       e  = *(const int *)slot;
		const ProtobufCEnumValue *ev = NULL;

		if (e == 0 && !keep_zero) {
			return (NULL);
		}
		ev = protobuf_c_enum_descriptor_get_value(fd->descriptor, e);
		return (ev != NULL ? json_string(ev->name) : json_integer(e));
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub =
		        *(const ProtobufCMessage *const *)slot;

		return (sub != NULL ? cj_message_to_json(sub) : NULL);
	}
	default: return (NULL);
	}
	return (x != 0 || keep_zero ? json_integer(x) : NULL);
}

typedef struct cj_entry {
	const char *key;
	const void *entry;
} cj_entry_t;

static int
cj_entry_cmp(const void *a, const void *b)
{
	return (strcmp(
	        ((const cj_entry_t *)a)->key, ((const cj_entry_t *)b)->key));
}

// cj_map_to_json emits a map with sorted keys: the wire order of map
// entries is not meaningful, and sorted output makes to_json stable.
static json_t *
cj_map_to_json(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd)
{
	const ProtobufCMessageDescriptor *ed = fd->descriptor;
	size_t n = *(const size_t *)((const char *)m + fd->quantifier_offset);
	const void *const *arr =
	        *(const void *const *const *)((const char *)m + fd->offset);
	cj_entry_t *ents;
	json_t     *obj;

	if (n == 0) {
		return (NULL);
	}
	ents = cj_calloc(n, sizeof(*ents));
	for (size_t i = 0; i < n; i++) {
		const char *k = *(const char *const *)((const char *)arr[i] +
		                                       ed->fields[0].offset);

		ents[i].key   = k != NULL ? k : "";
		ents[i].entry = arr[i];
	}
	qsort(ents, n, sizeof(*ents), cj_entry_cmp);
	obj = json_object();
	for (size_t i = 0; i < n; i++) {
		json_t *v = cj_scalar_to_json(&ed->fields[1],
		        (const char *)ents[i].entry + ed->fields[1].offset,
		        true);

		// Duplicate keys on the wire: the last one wins, as in
		// proto3; a key that is not UTF-8 is dropped.
		if (v != NULL) {
			json_object_set_new(obj, ents[i].key, v);
		}
	}
	free(ents);
	return (obj);
}

static json_t *
cj_repeated_to_json(
        const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd)
{
	size_t n = *(const size_t *)((const char *)m + fd->quantifier_offset);
	const char *arr = *(const char *const *)((const char *)m + fd->offset);
	size_t      size = cj_elem_size(fd);
	json_t     *a;

	if (n == 0) {
		return (NULL);
	}
	a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *v = cj_scalar_to_json(fd, arr + i * size, true);

		json_array_append_new(a, v != NULL ? v : json_null());
	}
	return (a);
}

static json_t *
cj_message_to_json(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d   = m->descriptor;
	json_t                           *obj = json_object();

	// Field number order: stable, and the order crictl's examples use.
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		json_t                         *v;

		if (cj_is_map(fd)) {
			v = cj_map_to_json(m, fd);
		} else if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			v = cj_repeated_to_json(m, fd);
		} else {
			// Int64Value exists to tell 0 (root) from unset.
			v = cj_scalar_to_json(fd, (const char *)m + fd->offset,
			        d == &podsandbox__v1__int64_value__descriptor);
		}
		if (v != NULL) {
			json_object_set_new(obj, fd->name, v);
		}
	}
	return (obj);
}

json_t *
psb_pbjson_config_to_json(const Podsandbox__V1__PodSandboxConfig *cfg)
{
	if (cfg == NULL) {
		return (json_object());
	}
	return (cj_message_to_json(&cfg->base));
}

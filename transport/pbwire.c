//
// podsandboxd - checks on a message's wire bytes (see pbwire.h).
//
// The walk follows the protobuf encoding: a varint tag (field number << 3 |
// wire type), then a varint, 8 bytes, 4 bytes or a length and that many
// bytes. Length-delimited fields are looked up in the descriptor: strings
// are searched for NUL, messages walked in turn; anything else (bytes,
// packed scalars, unknown fields) is skipped. Every read is bounds-checked
// against the enclosing length, so bytes that protobuf-c would refuse are
// refused here too rather than read past.
//

#include "transport/pbwire.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

// Deeper than any message of the API; protobuf-c itself stops at 64.
#define PW_DEPTH_MAX 32
// Repeated fields are indexed in paths for messages with up to this many
// fields (every message of the API); beyond it the index is left out.
#define PW_FIELDS_MAX 32

typedef struct pw {
	char         path[PSB_PBWIRE_PATH_MAX];
	psb_error_t *err;
} pw_t;

// pw_varint reads a varint at *p (at most 10 bytes, none past end).
static bool
pw_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		x |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v = x;
			return (true);
		}
	}
	return (false);
}

// pw_name appends ".name" or ".name[i]" to w->path at len; returns the new
// length (len itself when the path would not fit: the error then names
// the enclosing message).
static size_t
pw_name(pw_t *w, size_t len, const ProtobufCFieldDescriptor *fd, long index)
{
	int n;

	n = index >= 0 ? snprintf(w->path + len, sizeof(w->path) - len,
	                         "%s%s[%ld]", len ? "." : "", fd->name, index)
	               : snprintf(w->path + len, sizeof(w->path) - len, "%s%s",
	                         len ? "." : "", fd->name);
	if (n < 0 || (size_t)n >= sizeof(w->path) - len) {
		w->path[len] = '\0';
		return (len);
	}
	return (len + (size_t)n);
}

static int
pw_fail(pw_t *w, const char *what)
{
	return (psb_error_make(w->err, PSB_EINVAL, "%s%s%s",
	        w->path[0] != '\0' ? w->path : "",
	        w->path[0] != '\0' ? ": " : "", what));
}

static int
pw_message(pw_t *w, const ProtobufCMessageDescriptor *d, const uint8_t *p,
        const uint8_t *end, size_t len, int depth)
{
	// Occurrences so far of each repeated field, by descriptor index.
	long seen[PW_FIELDS_MAX] = {0};

	if (depth > PW_DEPTH_MAX) {
		return (pw_fail(w, "nested too deeply"));
	}
	while (p < end) {
		const ProtobufCFieldDescriptor *fd;
		uint64_t                        tag, n;
		size_t                          sub;
		long                            index = -1;
		int                             rv;

		if (!pw_varint(&p, end, &tag)) {
			return (pw_fail(w, "malformed (truncated tag)"));
		}
		if ((tag >> 3) == 0) {
			// protobuf-c refuses this in a one-byte tag only.
			return (pw_fail(w, "malformed (field number 0)"));
		}
		switch (tag & 7) {
		case 0:
			if (!pw_varint(&p, end, &n)) {
				return (pw_fail(w, "malformed (truncated "
				                   "varint)"));
			}
			continue;
		case 1:
		case 5:
			n = (tag & 7) == 1 ? 8 : 4;
			if ((uint64_t)(end - p) < n) {
				return (pw_fail(w, "malformed (truncated "
				                   "fixed-size field)"));
			}
			p += n;
			continue;
		case 2: break;
		default:
			return (pw_fail(
			        w, "malformed (group or bad wire type)"));
		}
		if (!pw_varint(&p, end, &n) || (uint64_t)(end - p) < n) {
			return (pw_fail(w, "malformed (truncated field)"));
		}
		fd = tag >> 3 <= UINT32_MAX
		             ? protobuf_c_message_descriptor_get_field(
		                       d, (unsigned)(tag >> 3))
		             : NULL;
		if (fd != NULL &&
		        (fd->type == PROTOBUF_C_TYPE_STRING ||
		                fd->type == PROTOBUF_C_TYPE_MESSAGE)) {
			size_t i = (size_t)(fd - d->fields);

			if (fd->label == PROTOBUF_C_LABEL_REPEATED &&
			        i < PW_FIELDS_MAX) {
				index = seen[i]++;
			}
			sub = pw_name(w, len, fd, index);
			if (fd->type == PROTOBUF_C_TYPE_STRING &&
			        memchr(p, 0, (size_t)n) != NULL) {
				return (pw_fail(w, "contains a NUL byte"));
			}
			if (fd->type == PROTOBUF_C_TYPE_MESSAGE &&
			        (rv = pw_message(w, fd->descriptor, p, p + n,
			                 sub, depth + 1)) != 0) {
				return (rv);
			}
			w->path[len] = '\0';
		}
		p += n;
	}
	return (0);
}

int
psb_pbwire_check(const ProtobufCMessageDescriptor *d, const void *buf,
        size_t len, const char *prefix, psb_error_t *err)
{
	pw_t           w;
	const uint8_t *p = buf;
	int            n;

	if (len == 0) {
		return (0);
	}
	if (p == NULL) {
		return (psb_error_make(
		        err, PSB_EINVAL, "malformed: no bytes"));
	}
	w.err = err;
	n     = snprintf(w.path, sizeof(w.path), "%s", prefix ? prefix : "");
	if (n < 0 || (size_t)n >= sizeof(w.path)) {
		n         = 0;
		w.path[0] = '\0';
	}
	return (pw_message(&w, d, p, p + len, (size_t)n, 0));
}

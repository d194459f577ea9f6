//
// libpodsandbox - one request and its answer.
//
// Every call goes through here the same way, driven by its row of the
// method table (methods.c): the Request is built from the row, sent on a
// context of its own with the send and the receive on one aio bounded by
// a single deadline, and the Response is checked against the row and
// converted by it. The per-method code in calls.c only fills the fields
// that are particular to its method.
//

#include <stdlib.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "client_int.h"

typedef Podsandbox__V1__Request  pb_request;
typedef Podsandbox__V1__Response pb_response;

// un_oneof returns where msg keeps the message-typed field number `field`
// (a oneof member). protobuf-c lays a oneof of messages out as a union of
// pointers and records each member's offset in the descriptor, so the
// method table can name a member by its case number alone.
static ProtobufCMessage **
un_oneof(ProtobufCMessage *msg, unsigned field)
{
	const ProtobufCFieldDescriptor *f =
	        protobuf_c_message_descriptor_get_field(
	                msg->descriptor, field);

	return ((ProtobufCMessage **)(void *)((char *)msg + f->offset));
}

int
psb_client_check_id(const char *id, psb_client_error_t *err)
{
	if (id == NULL || *id == '\0') {
		return (psb_client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "sandbox id is empty"));
	}
	return (0);
}

int
psb_client_encode(psb_client_mid m, const char *id, ProtobufCMessage *sub,
        nng_msg **msg, psb_client_error_t *err)
{
	const psb_client_method_t *row = &psb_client_methods[m];
	pb_request                 req = PODSANDBOX__V1__REQUEST__INIT;
	ProtobufCMessage          *own = NULL;
	size_t                     len;
	int                        rv;

	if (row->needs_id && (rv = psb_client_check_id(id, err)) != 0) {
		return (rv);
	}
	if (sub == NULL) {
		// Nothing particular to send: an empty request of the type
		// the oneof member holds, as its descriptor says.
		const ProtobufCMessageDescriptor *d =
		        protobuf_c_message_descriptor_get_field(
		                req.base.descriptor, row->method)
		                ->descriptor;
		own = psb_client_xmalloc(d->sizeof_message);
		protobuf_c_message_init(d, own);
		sub = own;
	}
	if (row->needs_id) {
		// Every request of a method that names a sandbox has a string
		// sandbox_id (the table and the .proto agree; a row that did
		// not would crash every call of its method at once).
		const ProtobufCFieldDescriptor *f =
		        protobuf_c_message_descriptor_get_field_by_name(
		                sub->descriptor, "sandbox_id");
		*(char **)(void *)((char *)sub + f->offset) = (char *)id;
	}
	req.method_case                   = row->method;
	*un_oneof(&req.base, row->method) = sub;
	len = podsandbox__v1__request__get_packed_size(&req);
	if ((rv = nng_msg_alloc(msg, len)) != 0) {
		rv = psb_client_fail(err, PSB_CODE_RESOURCE_EXHAUSTED,
		        "cannot allocate a %zu byte request", len);
	} else {
		podsandbox__v1__request__pack(&req, nng_msg_body(*msg));
	}
	free(own);
	return (rv);
}

int
psb_client_decode(const psb_client_t *c, psb_client_mid m, nng_msg *msg,
        void *out, psb_client_error_t *err)
{
	const psb_client_method_t *row  = &psb_client_methods[m];
	pb_response               *resp = podsandbox__v1__response__unpack(
	                      NULL, nng_msg_len(msg), nng_msg_body(msg));
	int rv = 0;

	nng_msg_free(msg);
	if (resp == NULL) {
		return (psb_client_fail(err, PSB_CODE_INTERNAL,
		        "malformed response from %s", c->url));
	}
	if (resp->status != NULL &&
	        resp->status->code != PODSANDBOX__V1__CODE__OK) {
		int         code = (int)resp->status->code;
		const char *text = resp->status->message;
		if (code < 0 || code > PSB_CODE_UNAUTHENTICATED) {
			code = PSB_CODE_UNKNOWN;
		}
		rv = psb_client_fail(err, code, "%s",
		        text != NULL && *text != '\0' ? text
		                                      : psb_code_name(code));
	} else if ((unsigned)resp->result_case != row->result) {
		rv = psb_client_fail(err, PSB_CODE_INTERNAL,
		        "unexpected response from %s (result %d, want %d)",
		        c->url, (int)resp->result_case, (int)row->result);
	} else if (row->convert != NULL && out != NULL) {
		row->convert(*un_oneof(&resp->base, row->result), out);
	}
	podsandbox__v1__response__free_unpacked(resp, NULL);
	return (rv);
}

int
psb_client_transport_error(const psb_client_t *c, int rv, bool sent,
        int timeout_ms, psb_client_error_t *err)
{
	switch (rv) {
	case NNG_ETIMEDOUT:
		if (!sent) {
			// REQ hands a request to a pipe only once connected:
			// a send that times out never reached any daemon.
			return (psb_client_fail(err, PSB_CODE_UNAVAILABLE,
			        "podsandboxd is not reachable at %s "
			        "(no connection within %d ms)",
			        c->url, timeout_ms));
		}
		return (psb_client_fail(err, PSB_CODE_DEADLINE_EXCEEDED,
		        "no answer from %s within %d ms", c->url, timeout_ms));
	case NNG_ECONNREFUSED:
	case NNG_ECLOSED:
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_ENOENT:
		if (rv == NNG_ECLOSED) {
			return (psb_client_fail(err, PSB_CODE_CANCELLED,
			        "client for %s closed", c->url));
		}
		return (psb_client_fail(err, PSB_CODE_UNAVAILABLE,
		        "podsandboxd is not reachable at %s (%s)", c->url,
		        nng_strerror(rv)));
	case NNG_ECANCELED:
		return (psb_client_fail(err, PSB_CODE_CANCELLED,
		        "call to %s cancelled", c->url));
	case NNG_ENOMEM:
		return (psb_client_fail(err, PSB_CODE_RESOURCE_EXHAUSTED,
		        "out of memory talking to %s", c->url));
	case NNG_EMSGSIZE:
		return (psb_client_fail(err, PSB_CODE_RESOURCE_EXHAUSTED,
		        "message too large for %s", c->url));
	default:
		return (psb_client_fail(err, PSB_CODE_UNKNOWN,
		        "talking to %s: %s", c->url, nng_strerror(rv)));
	}
}

// un_round_trip sends m (taken) and waits for the answer into *reply,
// all within timeout_ms; see psb_client_unary.
static int
un_round_trip(psb_client_t *c, nng_msg *m, int timeout_ms, nng_msg **reply,
        psb_client_error_t *err)
{
	nng_ctx      ctx;
	nng_aio     *aio;
	nng_duration left;
	nng_time     deadline = 0;
	bool         sent     = false;
	int          send_ms  = timeout_ms;
	int          rv;

	if (send_ms <= 0) {
		send_ms = psb_client_timeout_ms(c);
	}
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		nng_msg_free(m);
		return (psb_client_transport_error(
		        c, rv, false, send_ms, err));
	}
	if ((rv = nng_ctx_open(&ctx, c->sock)) != 0) {
		nng_msg_free(m);
		nng_aio_free(aio);
		return (psb_client_transport_error(
		        c, rv, false, send_ms, err));
	}
	if (timeout_ms > 0) {
		deadline = nng_clock() + (nng_time)timeout_ms;
	}
	nng_aio_set_timeout(
	        aio, send_ms > 0 ? send_ms : NNG_DURATION_INFINITE);
	nng_aio_set_msg(aio, m);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		// A failed send leaves the message with us.
		nng_msg_free(nng_aio_get_msg(aio));
		goto fail;
	}
	sent = true;
	left = NNG_DURATION_INFINITE;
	if (timeout_ms > 0) {
		nng_time now = nng_clock();
		left = now >= deadline ? 1 : (nng_duration)(deadline - now);
	}
	nng_aio_set_timeout(aio, left);
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		goto fail;
	}
	*reply = nng_aio_get_msg(aio);
	nng_ctx_close(ctx);
	nng_aio_free(aio);
	return (0);

fail:
	nng_ctx_close(ctx);
	nng_aio_free(aio);
	return (psb_client_transport_error(
	        c, rv, sent, sent ? timeout_ms : send_ms, err));
}

int
psb_client_unary(psb_client_t *c, psb_client_mid m, const char *id,
        ProtobufCMessage *sub, int timeout_ms, void *out,
        psb_client_error_t *err)
{
	nng_msg *msg;
	nng_msg *reply = NULL;
	int      rv;

	if ((rv = psb_client_encode(m, id, sub, &msg, err)) != 0 ||
	        (rv = un_round_trip(c, msg, timeout_ms, &reply, err)) != 0) {
		return (rv);
	}
	return (psb_client_decode(c, m, reply, out, err));
}

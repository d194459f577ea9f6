//
// podsandboxd - the wire codec (DESIGN.md §5, STYLE.md practice 16).
//
// The only daemon code that includes the protobuf-c generated header:
// requests are decoded and validated into psb_request_t, replies and
// events are encoded from psb_reply_t / psb_transition_t. Nothing past
// transport sees a protobuf-c type.
//
// Pure functions of their arguments; any thread.
//

#ifndef PSB_TRANSPORT_CODEC_H
#define PSB_TRANSPORT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "base/error.h"

typedef struct psb_codec_request psb_codec_request_t;

// psb_codec_decode_request unpacks one Request and validates it: garbage,
// truncated messages, no method set, a missing or malformed sandbox id
// (containerd identifier rules, <= 76 chars), and invalid pod configs are
// PSB_EINVAL with a message naming the field ("create.config.metadata.
// name: required"). On success req points into *holder (owned by the
// caller, freed with psb_codec_request_free): for Create, config/
// config_len is the re-encoded PodSandboxConfig in canonical form,
// config_json the same config as crictl JSON, labels its labels as a
// JSON object; for List, label_selector is a JSON object or NULL.
int  psb_codec_decode_request(const void *buf, size_t len, psb_request_t *req,
         psb_codec_request_t **holder, psb_error_t *err);
void psb_codec_request_free(psb_codec_request_t *holder);

// psb_codec_encode_reply packs a Response for reply (status from
// reply->code; the result for reply->method). *buf is malloc'd, owned by
// the caller. Returns 0, or PSB_EINTERNAL if the reply cannot be
// encoded.
int psb_codec_encode_reply(const psb_reply_t *reply, void **buf, size_t *len);

// psb_codec_encode_error packs a Response carrying only an error status
// (for failures before a request reaches the controller: bad bytes,
// permission denied, too large).
int psb_codec_encode_error(
        int code, const char *message, void **buf, size_t *len);

// psb_codec_encode_event packs one Event (the PUB message).
int psb_codec_encode_event(const psb_transition_t *t, void **buf, size_t *len);

// psb_codec_config_json renders stored PodSandboxConfig bytes as the
// crictl JSON a Create renders (snake_case keys, sorted): for rows stored
// before the JSON was kept beside the bytes (main.c fills them in at
// start-up). Returns malloc'd text owned by the caller, or NULL if there
// are no bytes or they do not decode.
char *psb_codec_config_json(const void *bytes, size_t len);

// psb_codec_api_code maps a psb_err to the API's Code value: the one
// place where domain errors become gRPC/errdefs codes
// (docs/error-handling.md).
int psb_codec_api_code(int psb_err);

#endif // PSB_TRANSPORT_CODEC_H

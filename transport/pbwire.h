//
// podsandboxd - checks on a message's wire bytes that protobuf-c's
// decoder does not make (DESIGN.md §8).
//
// protobuf-c copies a string field up to its first NUL and drops the rest,
// so "acc-victim\0x" would act on "acc-victim"; and it accepts field
// number 0 when the tag is written in more than one byte. Both are only
// visible in the bytes, so this walks them beside the decoded message.
//
// Pure; any thread.
//

#ifndef PSB_TRANSPORT_PBWIRE_H
#define PSB_TRANSPORT_PBWIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

// The longest field path pbwire writes into an error message.
#define PSB_PBWIRE_PATH_MAX 256

// psb_pbwire_check walks the encoded message buf/len of type d (and every
// known submessage in it, map entries included) and fails with PSB_EINVAL
// on: a string field whose bytes contain NUL ("create.config.labels[0].
// value: contains a NUL byte"), a tag with field number 0, in any
// encoding, a group (proto3 has none), or bytes that do not parse. prefix
// (borrowed, may be "") starts every path in a message. err is set only
// on failure.
int psb_pbwire_check(const ProtobufCMessageDescriptor *d, const void *buf,
        size_t len, const char *prefix, psb_error_t *err);

#endif // PSB_TRANSPORT_PBWIRE_H

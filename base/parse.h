//
// podsandboxd - strict number parsing (STYLE.md practice 7: nothing that
// comes from outside aborts or is taken on trust).
//
// strtoul and friends accept a sign ("-1" is ULONG_MAX), leading spaces
// and trailing garbage unless every caller remembers the checks; atoi has
// no error at all. Every decimal number read from an option, a label, an
// environment variable or a header goes through psb_parse_uint instead.
//

#ifndef PSB_BASE_PARSE_H
#define PSB_BASE_PARSE_H

#include <stddef.h>
#include <stdint.h>

// psb_parse_uint parses the len bytes at s (borrowed; no NUL needed) as a
// decimal number of at most max. Only the digits 0-9 are accepted: no
// sign, no spaces, no "0x", not empty. Leading zeros are fine. On success
// *out is set and 0 returned; on failure (bad syntax, a value above max,
// or s NULL) PSB_EINVAL is returned and *out is left alone. Pure; any
// thread.
int psb_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out);

#endif // PSB_BASE_PARSE_H

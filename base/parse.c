//
// podsandboxd - strict number parsing (see parse.h).
//

#include "base/parse.h"

#include "base/error.h"

int
psb_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || len == 0) {
		return (PSB_EINVAL);
	}
	for (size_t i = 0; i < len; i++) {
		uint64_t d;

		if (s[i] < '0' || s[i] > '9') {
			return (PSB_EINVAL);
		}
		d = (uint64_t)(s[i] - '0');
		// v * 10 + d > max, written so that it cannot overflow.
		if (d > max || v > (max - d) / 10) {
			return (PSB_EINVAL);
		}
		v = v * 10 + d;
	}
	*out = v;
	return (0);
}

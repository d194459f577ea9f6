//
// podsandboxd - containerd's identifier rule (ident.h).
//

#include "base/ident.h"

#include <stddef.h>

bool
psb_id_valid(const char *s)
{
	bool   after_sep = true; // must start with a letter or digit
	size_t n         = 0;

	if (s == NULL) {
		return (false);
	}
	for (; s[n] != '\0'; n++) {
		char c = s[n];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9')) {
			after_sep = false;
		} else if ((c == '.' || c == '_' || c == '-') && !after_sep) {
			after_sep = true;
		} else {
			return (false);
		}
		if (n >= PSB_ID_MAX) {
			return (false);
		}
	}
	return (n > 0 && !after_sep);
}

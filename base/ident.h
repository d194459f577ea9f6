//
// podsandboxd - sandbox ids: containerd's identifier rule, in one place.
//

#ifndef PSB_BASE_IDENT_H
#define PSB_BASE_IDENT_H

#include <stdbool.h>

// The longest id (containerd's identifiers.Validate).
#define PSB_ID_MAX 76

// psb_id_valid: s is 1-PSB_ID_MAX letters and digits joined by single
// '.', '_' or '-' (^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$). NULL is not.
bool psb_id_valid(const char *s);

#endif // PSB_BASE_IDENT_H

//
// podsandboxd - building JSON with jansson under the OOM policy (STYLE.md
// practice 7): jansson's constructors and setters fail only when memory
// runs out (or on text that is not UTF-8, which callers check first), so
// these abort through psb_oom instead of returning an error nobody can
// act on.
//

#ifndef PSB_BASE_JSON_H
#define PSB_BASE_JSON_H

#include <jansson.h>
#include <stdbool.h>

// psb_json_set sets obj[key] = v, taking v (which may be the NULL of a
// failed constructor: that is the out-of-memory case too).
void psb_json_set(json_t *obj, const char *key, json_t *v);

// psb_json_append appends v to arr, taking v.
void psb_json_append(json_t *arr, json_t *v);

// psb_json_labels_match is true when every key of selector (an object, or
// NULL for none) has an equal value in labels (JSON object text, or NULL).
bool psb_json_labels_match(json_t *selector, const char *labels);

#endif // PSB_BASE_JSON_H

//
// podsandboxd - jansson under the OOM policy (json.h).
//

#include "base/json.h"

#include "base/alloc.h"

void
psb_json_set(json_t *obj, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(obj, key, v) != 0) {
		psb_oom();
	}
}

void
psb_json_append(json_t *arr, json_t *v)
{
	if (v == NULL || json_array_append_new(arr, v) != 0) {
		psb_oom();
	}
}

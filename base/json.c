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

bool
psb_json_labels_match(json_t *selector, const char *labels)
{
	json_t     *have;
	const char *key;
	json_t     *want;
	bool        ok = true;

	if (selector == NULL || json_object_size(selector) == 0) {
		return (true);
	}
	have = labels != NULL ? json_loads(labels, 0, NULL) : NULL;
	json_object_foreach(selector, key, want)
	{
		json_t *v = json_object_get(have, key);

		if (v == NULL || !json_equal(v, want)) {
			ok = false;
			break;
		}
	}
	json_decref(have);
	return (ok);
}

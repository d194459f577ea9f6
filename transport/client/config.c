//
// libpodsandbox - a crictl pod config JSON document to the protobuf bytes
// psb_client_create sends. The JSON mapping itself is shared with the
// daemon (transport/config_json.c), so both read a config the same way.
//

#include <stdlib.h>

#include <jansson.h>

#include "client_int.h"
#include "transport/config_json.h"

PSB_PUBLIC int
psb_config_from_json(
        const char *json, void **bytes, size_t *len, psb_client_error_t *err)
{
	Podsandbox__V1__PodSandboxConfig *cfg;
	json_error_t                      jerr;
	json_t                           *root;
	char                             *msg = NULL;
	size_t                            n;

	root = json_loads(json != NULL ? json : "", 0, &jerr);
	if (root == NULL) {
		return (psb_client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "pod config: line %d column %d: %s", jerr.line,
		        jerr.column, jerr.text));
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return (psb_client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "pod config: expected a JSON object"));
	}
	cfg = psb_pbjson_config_from_json(root, &msg);
	json_decref(root);
	if (cfg == NULL) {
		int rv = psb_client_fail(err, PSB_CODE_INVALID_ARGUMENT,
		        "pod config: %s", msg != NULL ? msg : "invalid");
		free(msg);
		return (rv);
	}
	free(msg);
	n      = podsandbox__v1__pod_sandbox_config__get_packed_size(cfg);
	*bytes = psb_client_xmalloc(n);
	podsandbox__v1__pod_sandbox_config__pack(cfg, *bytes);
	*len = n;
	psb_pbjson_config_free(cfg);
	return (0);
}

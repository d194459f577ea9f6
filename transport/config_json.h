//
// podsandboxd - CRI PodSandboxConfig <-> JSON (crictl's pod-config JSON
// names). Shared by the daemon's codec (verbose Status shows the config)
// and the client library (podsandboxctl reads crictl pod configs). Only
// transport/ includes this header: it exposes protobuf-c types.
//

#ifndef PSB_TRANSPORT_CONFIG_JSON_H
#define PSB_TRANSPORT_CONFIG_JSON_H

#include <jansson.h>

#include "podsandbox.pb-c.h"

// psb_pbjson_config_from_json builds a PodSandboxConfig from a JSON
// object. Unknown keys and wrong types fail: *errmsg (malloc'd) names the
// key path ("linux.security_context.namespace_options.network: expected
// one of POD, CONTAINER, NODE, TARGET"). The result is freed with
// psb_pbjson_config_free.
Podsandbox__V1__PodSandboxConfig *psb_pbjson_config_from_json(
        json_t *obj, char **errmsg);
void psb_pbjson_config_free(Podsandbox__V1__PodSandboxConfig *cfg);

// psb_pbjson_config_to_json returns a new JSON object (crictl names) for
// cfg; never NULL for a valid cfg.
json_t *psb_pbjson_config_to_json(const Podsandbox__V1__PodSandboxConfig *cfg);

#endif // PSB_TRANSPORT_CONFIG_JSON_H

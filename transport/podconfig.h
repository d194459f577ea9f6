//
// podsandboxd - the rules a pod config must meet at Create, and its
// canonical form (DESIGN.md §5, §8; docs/api.md "Pod config rules").
//
// Only transport/ includes this header: it exposes protobuf-c types.
// Pure functions of their arguments; any thread.
//

#ifndef PSB_TRANSPORT_PODCONFIG_H
#define PSB_TRANSPORT_PODCONFIG_H

#include <stddef.h>

#include "base/error.h"
#include "podsandbox.pb-c.h"

// Bytes of a bad value echoed in an error message.
#define PSB_PODCONFIG_QUOTE_MAX 80

// psb_podconfig_quote copies at most PSB_PODCONFIG_QUOTE_MAX bytes of s
// into buf (size bytes) for an error message, control characters and '"'
// replaced by '?': the message is echoed to the client and may be logged,
// so a request must not be able to forge log lines. Returns buf.
const char *psb_podconfig_quote(char *buf, size_t size, const char *s);

// psb_podconfig_check applies CRI's rules for a RunPodSandbox config plus
// the bounds the daemon needs (required metadata, addresses, ports, map
// keys, sysctl names, resources, ids, hostname, paths, encoded size) to
// a config whose strings are already known to be UTF-8 without NUL.
// Fails with PSB_EINVAL and a message naming the field path
// ("create.config.linux.sysctls: ..."); err is set only on failure.
int psb_podconfig_check(
        const Podsandbox__V1__PodSandboxConfig *c, psb_error_t *err);

// psb_podconfig_check_handler: a runtime handler name is empty or 1-64
// letters, digits, '.', '_' and '-' (it ends up in logs and paths).
int psb_podconfig_check_handler(const char *h, psb_error_t *err);

// psb_podconfig_check_keys refuses an empty key among the n entries of a
// string map (any map entry type: they are all {base, key, value});
// path names the map in the message.
int psb_podconfig_check_keys(
        const char *path, size_t n, void *const *entries, psb_error_t *err);

// psb_podconfig_canonicalize puts c's maps (labels, annotations, sysctls)
// in canonical form, so that the same config packs to the same bytes in
// whatever order a client's serializer wrote the entries: sorted by key,
// and of entries with the same key only the last one sent kept (proto3
// map semantics). The dropped entries stay allocated after the kept
// ones, so protobuf-c's free_unpacked still frees them: call
// psb_podconfig_restore(c, &saved) after packing. Modifies c in place.
typedef struct psb_podconfig_counts {
	size_t labels, annotations, sysctls;
} psb_podconfig_counts_t;

void psb_podconfig_canonicalize(
        Podsandbox__V1__PodSandboxConfig *c, psb_podconfig_counts_t *saved);
void psb_podconfig_restore(Podsandbox__V1__PodSandboxConfig *c,
        const psb_podconfig_counts_t                        *saved);

#endif // PSB_TRANSPORT_PODCONFIG_H

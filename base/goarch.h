//
// podsandboxd - machine names as OCI platforms (and containerd) spell
// them: uname's "x86_64" is Go's GOARCH "amd64", "armv7l" is "arm" with
// variant "v7". One table for the runtimes' Platform, the image resolver
// and the pause image packer.
//

#ifndef PSB_BASE_GOARCH_H
#define PSB_BASE_GOARCH_H

#include <stdbool.h>

// A platform as OCI and containerd name it (GOOS, GOARCH, variant).
typedef struct psb_platform {
	char os[32];
	char arch[32];
	char variant[32];
} psb_platform_t;

// psb_goarch maps a uname machine name to GOARCH (*arch) and variant
// (*variant, "" if none), both static. An unknown name maps to itself
// with no variant, and the function returns false.
bool psb_goarch(const char *machine, const char **arch, const char **variant);

// psb_host_goarch does the same for this host (uname(2)); false if uname
// fails or the machine is unknown (*arch is then the raw name or "").
bool psb_host_goarch(const char **arch, const char **variant);

#endif // PSB_BASE_GOARCH_H

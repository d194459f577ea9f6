//
// podsandboxd - uname machine names to GOARCH (see goarch.h).
//

#include "base/goarch.h"

#include <string.h>
#include <sys/utsname.h>

#include "base/cleanup.h"

static const struct {
	const char *machine;
	const char *arch;
	const char *variant;
} goarch_map[] = {
        {"x86_64", "amd64", ""},
        {"amd64", "amd64", ""},
        {"aarch64", "arm64", ""},
        {"arm64", "arm64", ""},
        {"i386", "386", ""},
        {"i486", "386", ""},
        {"i586", "386", ""},
        {"i686", "386", ""},
        {"armv7l", "arm", "v7"},
        {"armv7", "arm", "v7"},
        {"armv6l", "arm", "v6"},
        {"ppc64le", "ppc64le", ""},
        {"s390x", "s390x", ""},
        {"riscv64", "riscv64", ""},
        {"mips64el", "mips64le", ""},
        {"loongarch64", "loong64", ""},
};

bool
psb_goarch(const char *machine, const char **arch, const char **variant)
{
	for (size_t i = 0; i < PSB_NELEM(goarch_map); i++) {
		if (strcmp(machine, goarch_map[i].machine) == 0) {
			*arch    = goarch_map[i].arch;
			*variant = goarch_map[i].variant;
			return (true);
		}
	}
	*arch    = machine;
	*variant = "";
	return (false);
}

bool
psb_host_goarch(const char **arch, const char **variant)
{
	// The host does not change: ask the kernel once.
	static struct utsname u;

	if (u.machine[0] == '\0' && uname(&u) != 0) {
		*arch    = "";
		*variant = "";
		return (false);
	}
	return (psb_goarch(u.machine, arch, variant));
}

//
// podsandboxd - seccomp profiles for the pause container (see seccomp.h).
//
// Like spec.c, the converter keeps one sticky error in its context: the
// first failure wins and later steps see rv != 0 and skip their work.
//

#include "runtime/containerd/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/goarch.h"
#include "base/json.h"
#include "base/parse.h"

#define SC_PROFILE_MAX (1024 * 1024) // bytes of a seccomp profile file

// Go's GOARCH (base/goarch.h) to libseccomp's name for the native
// architecture, the key of a profile's archMap.
static const struct {
	const char *goarch, *scmp;
} sc_scmp_arches[] = {
        {"amd64", "SCMP_ARCH_X86_64"},
        {"386", "SCMP_ARCH_X86"},
        {"arm64", "SCMP_ARCH_AARCH64"},
        {"arm", "SCMP_ARCH_ARM"},
        {"mips", "SCMP_ARCH_MIPS"},
        {"mipsle", "SCMP_ARCH_MIPSEL"},
        {"mips64", "SCMP_ARCH_MIPS64"},
        {"mips64le", "SCMP_ARCH_MIPSEL64"},
        {"ppc64", "SCMP_ARCH_PPC64"},
        {"ppc64le", "SCMP_ARCH_PPC64LE"},
        {"s390x", "SCMP_ARCH_S390X"},
        {"riscv64", "SCMP_ARCH_RISCV64"},
        {"loong64", "SCMP_ARCH_LOONGARCH64"},
};

// What a profile entry's includes/excludes are matched against.
typedef struct sc_host {
	struct utsname u;              // what goarch may point into
	const char    *goarch;         // "amd64"
	const char    *scmp;           // "SCMP_ARCH_X86_64", "" if unknown
	int            kmajor, kminor; // -1: unknown
} sc_host_t;

// The profile being converted: what the messages name, and the error.
typedef struct sc {
	const char                 *path;
	const char                 *what; // "RuntimeDefault" or "Localhost"
	const psb_seccomp_target_t *target;
	psb_error_t                *err;
	int                         rv; // first failure, sticky
} sc_t;

static int sc_fail(sc_t *sc, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static int
sc_fail(sc_t *sc, const char *fmt, ...)
{
	char    msg[256];
	va_list ap;

	if (sc->rv != 0) {
		return (sc->rv);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sc->rv = psb_error_make(sc->err, PSB_EINVAL,
	        "%s seccomp profile \"%.200s\": %s", sc->what, sc->path, msg);
	return (sc->rv);
}

// ---- JSON building (jansson fails only on OOM) ----

// ---- the host ----

// sc_kernel_version parses the "major.minor" that starts s (a uname
// release "6.1.0-18-amd64" or a minKernel "4.8").
static bool
sc_kernel_version(const char *s, int *major, int *minor)
{
	size_t   na = strspn(s, "0123456789");
	size_t   nb = s[na] == '.' ? strspn(s + na + 1, "0123456789") : 0;
	uint64_t a, b;

	if (psb_parse_uint(s, na, 100000, &a) != 0 ||
	        psb_parse_uint(s + na + 1, nb, 100000, &b) != 0) {
		return (false);
	}
	*major = (int)a;
	*minor = (int)b;
	return (true);
}

static void
sc_host(const sc_t *sc, sc_host_t *h)
{
	struct utsname *u       = &h->u;
	const char     *machine = sc->target->machine;
	const char     *release = sc->target->kernel_release;
	const char     *variant;

	// No cached buffer: psb_spec_build may run on any thread, and
	// uname(2) is cheap next to reading the profile.
	memset(u, 0, sizeof(*u));
	if ((machine == NULL || release == NULL) && uname(u) != 0) {
		memset(u, 0, sizeof(*u));
	}
	psb_goarch(
	        machine != NULL ? machine : u->machine, &h->goarch, &variant);
	h->scmp = "";
	for (size_t i = 0; i < PSB_NELEM(sc_scmp_arches); i++) {
		if (strcmp(h->goarch, sc_scmp_arches[i].goarch) == 0) {
			h->scmp = sc_scmp_arches[i].scmp;
		}
	}
	if (!sc_kernel_version(release != NULL ? release : u->release,
	            &h->kmajor, &h->kminor)) {
		h->kmajor = h->kminor = -1;
	}
}

// ---- the profile ----

// sc_str_array checks that v (absent is fine) is an array of strings.
static bool
sc_str_array(json_t *v)
{
	size_t  i;
	json_t *s;

	if (v == NULL) {
		return (true);
	}
	if (!json_is_array(v)) {
		return (false);
	}
	json_array_foreach(v, i, s)
	{
		if (!json_is_string(s)) {
			return (false);
		}
	}
	return (true);
}

static bool
sc_has(json_t *arr, const char *s)
{
	size_t  i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		if (strcmp(json_string_value(v), s) == 0) {
			return (true);
		}
	}
	return (false);
}

static bool
sc_is_cap(const sc_t *sc, const char *cap)
{
	for (size_t i = 0; sc->target->caps[i] != NULL; i++) {
		if (strcmp(sc->target->caps[i], cap) == 0) {
			return (true);
		}
	}
	return (false);
}

// sc_filter_ok reads one "includes" (incl) or "excludes" object of entry
// i and says whether it lets the entry through on this host: includes
// need every listed cap and the host's arch (when lists are given) and a
// kernel at least minKernel; excludes need none of the caps nor the arch.
static bool
sc_filter_ok(sc_t *sc, const sc_host_t *h, json_t *f, bool incl, size_t i)
{
	const char *name = incl ? "includes" : "excludes";
	json_t     *arches, *caps, *mk, *c;
	size_t      j;
	int         major, minor;

	if (f == NULL || json_is_null(f)) {
		return (true);
	}
	arches = json_object_get(f, "arches");
	caps   = json_object_get(f, "caps");
	mk     = json_object_get(f, "minKernel");
	if (!json_is_object(f) || !sc_str_array(arches) ||
	        !sc_str_array(caps) ||
	        (mk != NULL && !json_is_null(mk) && !json_is_string(mk))) {
		sc_fail(sc,
		        "syscalls[%zu].%s: expected an object with string "
		        "arrays arches and caps",
		        i, name);
		return (false);
	}
	if (json_array_size(arches) > 0 && sc_has(arches, h->goarch) != incl) {
		return (false);
	}
	json_array_foreach(caps, j, c)
	{
		if (sc_is_cap(sc, json_string_value(c)) != incl) {
			return (false);
		}
	}
	// Go's seccomp code ignores excludes.minKernel; so do we.
	if (incl && json_is_string(mk) && *json_string_value(mk) != '\0') {
		if (!sc_kernel_version(
		            json_string_value(mk), &major, &minor) ||
		        h->kmajor < 0) {
			return (false); // cannot tell: leave the rule out
		}
		if (h->kmajor < major ||
		        (h->kmajor == major && h->kminor < minor)) {
			return (false);
		}
	}
	return (true);
}

// sc_arg copies one args[] element in runtime-spec's key order.
static json_t *
sc_arg(sc_t *sc, json_t *a, size_t i)
{
	json_t *idx = json_object_get(a, "index");
	json_t *v1  = json_object_get(a, "value");
	json_t *v2  = json_object_get(a, "valueTwo");
	json_t *op  = json_object_get(a, "op");
	json_t *out;

	if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
	        (v1 != NULL && !json_is_integer(v1)) ||
	        (v2 != NULL && !json_is_integer(v2)) || !json_is_string(op)) {
		sc_fail(sc,
		        "syscalls[%zu].args: each needs an index, integer "
		        "value and valueTwo, and an op",
		        i);
		return (NULL);
	}
	out = json_object();
	psb_json_set(out, "index", json_incref(idx));
	psb_json_set(
	        out, "value", v1 != NULL ? json_incref(v1) : json_integer(0));
	psb_json_set(out, "valueTwo",
	        v2 != NULL ? json_incref(v2) : json_integer(0));
	psb_json_set(out, "op", json_incref(op));
	return (out);
}

// sc_syscall converts syscalls[i]; NULL when this host leaves it out or
// on error (sc->rv set). "name" is the profile format's older
// single-name spelling.
static json_t *
sc_syscall(sc_t *sc, const sc_host_t *h, json_t *e, size_t i)
{
	json_t *names, *action, *eret, *args, *out, *a, *oa;
	size_t  j;

	if (!json_is_object(e)) {
		sc_fail(sc, "syscalls[%zu]: expected an object", i);
		return (NULL);
	}
	names  = json_object_get(e, "names");
	action = json_object_get(e, "action");
	eret   = json_object_get(e, "errnoRet");
	args   = json_object_get(e, "args");
	if (names == NULL && json_is_string(json_object_get(e, "name"))) {
		names = json_pack("[O]", json_object_get(e, "name"));
	} else if (!sc_str_array(names) || json_array_size(names) == 0) {
		sc_fail(sc,
		        "syscalls[%zu].names: expected a non-empty "
		        "array of strings",
		        i);
		return (NULL);
	} else {
		json_incref(names);
	}
	if (!json_is_string(action) ||
	        (eret != NULL && !json_is_null(eret) &&
	                !json_is_integer(eret)) ||
	        (args != NULL && !json_is_null(args) &&
	                !json_is_array(args))) {
		sc_fail(sc,
		        "syscalls[%zu]: needs a string action, an integer "
		        "errnoRet and an array args",
		        i);
		json_decref(names);
		return (NULL);
	}
	if (!sc_filter_ok(sc, h, json_object_get(e, "includes"), true, i) ||
	        !sc_filter_ok(
	                sc, h, json_object_get(e, "excludes"), false, i)) {
		json_decref(names);
		return (NULL);
	}
	out = json_object();
	psb_json_set(out, "names", names);
	psb_json_set(out, "action", json_incref(action));
	if (json_is_integer(eret)) {
		psb_json_set(out, "errnoRet", json_incref(eret));
	}
	if (json_array_size(args) > 0) {
		oa = json_array();
		json_array_foreach(args, j, a)
		{
			json_t *arg = sc_arg(sc, a, i);

			if (arg == NULL) {
				break;
			}
			psb_json_append(oa, arg);
		}
		psb_json_set(out, "args", oa);
	}
	return (out);
}

// sc_architectures gives the archMap entry of the host: its architecture
// and subArchitectures; NULL when the map has no entry for it.
static json_t *
sc_architectures(sc_t *sc, const sc_host_t *h, json_t *map)
{
	size_t  i;
	json_t *m, *arch, *subs, *out;

	json_array_foreach(map, i, m)
	{
		arch = json_object_get(m, "architecture");
		subs = json_object_get(m, "subArchitectures");
		if (!json_is_string(arch) || !sc_str_array(subs)) {
			sc_fail(sc,
			        "archMap[%zu]: expected an "
			        "architecture and subArchitectures",
			        i);
			return (NULL);
		}
		if (strcmp(json_string_value(arch), h->scmp) == 0) {
			out = json_pack("[O]", arch);
			if (subs != NULL) {
				json_array_extend(out, subs);
			}
			return (out);
		}
	}
	return (NULL);
}

// sc_read_profile parses the file at sc->path. Only a regular file of at
// most SC_PROFILE_MAX bytes is read: a Localhost path comes from the
// client, and a FIFO or a device must not block the caller's thread.
static int
sc_read_profile(sc_t *sc, json_t **out)
{
	_cleanup_close_ int  fd  = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat          st;
	size_t               n = 0;
	ssize_t              r;
	json_error_t         je;

	fd = open(sc->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0) {
		return (sc_fail(sc, "%s", strerror(errno)));
	}
	if (!S_ISREG(st.st_mode)) {
		return (sc_fail(sc, "not a regular file"));
	}
	if (st.st_size > SC_PROFILE_MAX) {
		return (sc_fail(sc, "larger than %d bytes", SC_PROFILE_MAX));
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (n <= (size_t)st.st_size &&
	        (r = read(fd, buf + n, (size_t)st.st_size + 1 - n)) != 0) {
		if (r < 0 && errno != EINTR) {
			return (sc_fail(sc, "%s", strerror(errno)));
		}
		n += r > 0 ? (size_t)r : 0;
	}
	if (n > (size_t)st.st_size) {
		return (sc_fail(sc, "changed while being read"));
	}
	*out = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je);
	if (*out == NULL) {
		return (sc_fail(sc, "%s (line %d, column %d)", je.text,
		        je.line, je.column));
	}
	return (0);
}

// sc_profile converts a profile in the containers/docker seccomp.json
// format into runtime-spec's linux.seccomp; NULL on error. The profile is
// loaded (borrowed; a reference is taken), or else read from sc->path.
static json_t *
sc_profile(sc_t *sc, json_t *loaded)
{
	json_t   *p, *out = NULL, *da, *der, *map, *calls, *arches, *e;
	sc_host_t h;
	size_t    i;

	if (loaded != NULL) {
		p = json_incref(loaded);
	} else if (sc_read_profile(sc, &p) != 0) {
		return (NULL);
	}
	da    = json_object_get(p, "defaultAction");
	der   = json_object_get(p, "defaultErrnoRet");
	map   = json_object_get(p, "archMap");
	calls = json_object_get(p, "syscalls");
	if (!json_is_object(p) || !json_is_string(da) ||
	        (der != NULL && !json_is_null(der) && !json_is_integer(der)) ||
	        (map != NULL && !json_is_null(map) && !json_is_array(map)) ||
	        (calls != NULL && !json_is_null(calls) &&
	                !json_is_array(calls))) {
		sc_fail(sc, "expected an object with a string "
		            "defaultAction, an integer defaultErrnoRet "
		            "and arrays archMap and syscalls");
		json_decref(p);
		return (NULL);
	}
	sc_host(sc, &h);
	out = json_object();
	psb_json_set(out, "defaultAction", json_incref(da));
	if (json_is_integer(der)) {
		psb_json_set(out, "defaultErrnoRet", json_incref(der));
	}
	if ((arches = sc_architectures(sc, &h, map)) != NULL) {
		psb_json_set(out, "architectures", arches);
	}
	if (json_array_size(calls) > 0) {
		json_t *oc = json_array();

		json_array_foreach(calls, i, e)
		{
			json_t *c = sc_syscall(sc, &h, e, i);

			if (sc->rv != 0) {
				json_decref(c);
				break;
			}
			if (c != NULL) {
				psb_json_append(oc, c);
			}
		}
		psb_json_set(out, "syscalls", oc);
	}
	json_decref(p);
	if (sc->rv != 0) {
		json_decref(out);
		return (NULL);
	}
	return (out);
}

// ---- the interface ----

bool
psb_seccomp_supported(void)
{
	// The kernel knows PR_GET_SECCOMP when it was built with
	// CONFIG_SECCOMP (the same test as libseccomp's and containerd's).
	return (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 || errno != EINVAL);
}

int
psb_seccomp_profile_load(
        const char *path, struct json_t **out, psb_error_t *err)
{
	sc_t sc = {.what = "RuntimeDefault", .err = err};

	sc.path = path != NULL ? path : PSB_SECCOMP_DEFAULT_PROFILE;
	*out    = NULL;
	return (sc_read_profile(&sc, out));
}

int
psb_seccomp_convert(const char *what, const char *path,
        const struct json_t *loaded, const psb_seccomp_target_t *target,
        struct json_t **out, psb_error_t *err)
{
	sc_t sc = {.what = what, .path = path, .target = target, .err = err};
	json_t *j;

	// Only a reference is taken on loaded, which is never changed: it
	// may be shared by every Start (the backend loads it once).
	j = sc_profile(&sc, (json_t *)loaded);
	if (j == NULL) {
		return (sc.rv);
	}
	*out = j;
	return (0);
}

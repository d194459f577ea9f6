//
// podsandboxd - what the fuzz targets share: the invariant check that
// libFuzzer (and fuzz_main.c's replay) reports as a crash, and a private
// scratch directory for targets that need files or sockets.
//

#ifndef PSB_TESTS_FUZZ_UTIL_H
#define PSB_TESTS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// FZ_CHECK aborts with the failed condition: a broken invariant.
#define FZ_CHECK(cond)                                                 \
	do {                                                           \
		if (!(cond)) {                                         \
			fprintf(stderr,                                \
			        "fuzz: %s:%d: invariant broken: %s\n", \
			        __FILE__, __LINE__, #cond);            \
			abort();                                       \
		}                                                      \
	} while (0)

// FZ_NOTE says which way an input went, when PSB_FUZZ_VERBOSE is set in
// the environment (for writing seeds: a replay shows what each one
// reaches).
#define FZ_NOTE(...)                                             \
	do {                                                     \
		if (getenv("PSB_FUZZ_VERBOSE") != NULL) {        \
			fprintf(stderr, "  note: " __VA_ARGS__); \
		}                                                \
	} while (0)

// fz_scratch returns a directory made once per process under /dev/shm
// (a database's fsyncs cost nothing there) when it can be written, else
// under $PSB_TEST_TMPDIR (ctest sets it to the build tree) or /tmp. The
// caller's atexit handler removes it (it knows what it put there). Short
// enough for a unix socket path below it.
static inline const char *
fz_scratch(const char *tag)
{
	static char dir[160];
	const char *base = getenv("PSB_TEST_TMPDIR");

	if (dir[0] != '\0') {
		return (dir);
	}
	if (base == NULL || base[0] == '\0' || strlen(base) > 60) {
		base = "/tmp";
	}
	if (access("/dev/shm", W_OK | X_OK) == 0) {
		base = "/dev/shm";
	}
	snprintf(dir, sizeof(dir), "%s/psbfz-%s-XXXXXX", base, tag);
	if (mkdtemp(dir) == NULL) {
		perror("fuzz: mkdtemp");
		abort();
	}
	return (dir);
}

#endif // PSB_TESTS_FUZZ_UTIL_H

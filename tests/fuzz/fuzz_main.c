//
// podsandboxd - replays fuzz inputs without libFuzzer (like systemd's
// fuzz-main.c), so every build runs the corpus as an ordinary test.
//
// Usage: <fuzzer>_replay FILE|DIR...  Each file, and each regular file
// directly inside each directory (in name order), is passed to
// LLVMFuzzerTestOneInput once. An invariant the fuzzer checks aborts the
// process, which fails the test.
//

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// fz_read_file reads all of path into a malloc'ed buffer (*len bytes).
static uint8_t *
fz_read_file(const char *path, size_t *len)
{
	FILE    *f = fopen(path, "rb");
	uint8_t *buf;
	long     n;

	if (f == NULL) {
		return (NULL);
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	        fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return (NULL);
	}
	// One spare byte so an empty file still gets a non-NULL buffer.
	if ((buf = malloc((size_t)n + 1)) == NULL) {
		abort();
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return (NULL);
	}
	fclose(f);
	*len = (size_t)n;
	return (buf);
}

static int
fz_run_file(const char *path)
{
	size_t   len = 0;
	uint8_t *buf = fz_read_file(path, &len);

	if (buf == NULL) {
		fprintf(stderr, "fuzz-main: %s: %s\n", path, strerror(errno));
		return (-1);
	}
	printf("%s (%zu bytes)\n", path, len);
	fflush(stdout);
	(void)LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return (0);
}

static int
fz_run_dir(const char *dir, int *count)
{
	struct dirent **names;
	int             n, rv = 0;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "fuzz-main: %s: %s\n", dir, strerror(errno));
		return (-1);
	}
	for (int i = 0; i < n; i++) {
		char        path[4096];
		struct stat st;

		if (names[i]->d_name[0] != '.' &&
		        snprintf(path, sizeof(path), "%s/%s", dir,
		                names[i]->d_name) < (int)sizeof(path) &&
		        stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (fz_run_file(path) != 0) {
				rv = -1;
			}
			(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return (rv);
}

int
main(int argc, char **argv)
{
	int count = 0, rv = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return (2);
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "fuzz-main: %s: %s\n", argv[i],
			        strerror(errno));
			rv = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (fz_run_dir(argv[i], &count) != 0) {
				rv = 1;
			}
		} else {
			if (fz_run_file(argv[i]) != 0) {
				rv = 1;
			}
			count++;
		}
	}
	if (count == 0) {
		fprintf(stderr, "fuzz-main: no inputs\n");
		rv = 1;
	}
	printf("fuzz-main: %d input(s) replayed\n", count);
	return (rv);
}

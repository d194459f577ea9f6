//
// podsandboxd - a crash failpoint for tests (failpoint.h). TEST ONLY.
//

#include "base/failpoint.h"

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/parse.h"

#define FP_METHOD_MAX 128

static struct {
	bool          armed;
	char          method[FP_METHOD_MAX];
	unsigned long want; // the N-th match crashes
	unsigned long seen;
} fp;

void
psb_failpoint_init(void)
{
	const char *env = getenv("PSB_FAILPOINT");
	const char *colon;
	size_t      len;
	uint64_t    n = 1;

	memset(&fp, 0, sizeof(fp));
	if (env == NULL || env[0] == '\0') {
		return;
	}
	colon = strrchr(env, ':');
	len   = colon != NULL ? (size_t)(colon - env) : strlen(env);
	if (colon != NULL) {
		if (psb_parse_uint(colon + 1, strlen(colon + 1), ULONG_MAX,
		            &n) != 0 ||
		        n == 0) {
			psb_log(PSB_LOG_ERROR,
			        "PSB_FAILPOINT=%s: the count must be a number "
			        ">= 1; no failpoint armed",
			        env);
			return;
		}
	}
	if (len == 0 || len >= sizeof(fp.method)) {
		psb_log(PSB_LOG_ERROR,
		        "PSB_FAILPOINT=%s: want METHOD[:N]; no failpoint "
		        "armed",
		        env);
		return;
	}
	memcpy(fp.method, env, len);
	fp.want  = (unsigned long)n;
	fp.armed = true;
	psb_log(PSB_LOG_WARN,
	        "TEST FAILPOINT ARMED (PSB_FAILPOINT=%s): this daemon kills "
	        "itself with SIGKILL on response %lu of a gRPC call to "
	        "*%s; never set it outside tests",
	        env, fp.want, fp.method);
}

// fp_matches: path ends in the method, at a '/' or '.' boundary, so that
// "Tasks/Start" matches ".v1.Tasks/Start" but not ".v1.SubTasks/Start".
static bool
fp_matches(const char *path)
{
	size_t pl = strlen(path);
	size_t ml = strlen(fp.method);

	if (pl < ml || strcmp(path + pl - ml, fp.method) != 0) {
		return (false);
	}
	return (pl == ml || path[pl - ml - 1] == '/' ||
	        path[pl - ml - 1] == '.');
}

bool
psb_failpoint_armed(void)
{
	return (fp.armed);
}

bool
psb_failpoint_hit(const char *path)
{
	if (!fp.armed || path == NULL || !fp_matches(path)) {
		return (false);
	}
	return (++fp.seen == fp.want);
}

void
psb_failpoint_check(const char *path)
{
	if (!psb_failpoint_hit(path)) {
		return;
	}
	psb_log(PSB_LOG_WARN,
	        "TEST FAILPOINT %s:%lu reached (%s answered): raising SIGKILL",
	        fp.method, fp.want, path);
	raise(SIGKILL);
}

//
// podsandboxd - a failed PSB_ASSERT (assert.h).
//

#include "base/assert.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

_Noreturn void
psb_assert_fail(const char *cond, const char *file, int line, const char *func)
{
	char buf[512];
	int  n = snprintf(buf, sizeof(buf),
	         "podsandboxd: %s:%d: %s: assertion `%s' failed\n", file, line,
	         func, cond);

	if (n > 0) {
		(void)!write(STDERR_FILENO, buf,
		        (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	}
	abort();
}

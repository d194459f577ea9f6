//
// podsandboxd - allocation that aborts on OOM (STYLE.md practice 7).
//

#include "base/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Noreturn void
psb_oom(void)
{
	static const char msg[] = "podsandboxd: out of memory\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n != 0 ? n : 1);

	if (p == NULL) {
		psb_oom();
	}
	return (p);
}

void *
xcalloc(size_t nmemb, size_t n)
{
	void *p = calloc(nmemb != 0 ? nmemb : 1, n != 0 ? n : 1);

	if (p == NULL) {
		psb_oom();
	}
	return (p);
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n != 0 ? n : 1);

	if (q == NULL) {
		psb_oom();
	}
	return (q);
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL) {
		psb_oom();
	}
	return (p);
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL) {
		psb_oom();
	}
	return (p);
}

void *
xmemdup(const void *p, size_t n)
{
	void *q = xmalloc(n);

	if (n != 0) {
		memcpy(q, p, n);
	}
	return (q);
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char   *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		psb_oom();
	}
	va_end(ap);
	return (s);
}

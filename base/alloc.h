//
// podsandboxd - allocation that aborts on out-of-memory (STYLE.md
// practice 7). Never used for anything a client controls the size of
// without a prior bound check.
//

#ifndef PSB_BASE_ALLOC_H
#define PSB_BASE_ALLOC_H

#include <stddef.h>

// psb_oom writes "podsandboxd: out of memory" and aborts: the one path
// for every allocation failure, ours and jansson's (the daemon hands
// jansson xmalloc, so a NULL from jansson is never an out-of-memory).
_Noreturn void psb_oom(void);

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);

// xasprintf returns a newly allocated formatted string; aborts on OOM.
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif // PSB_BASE_ALLOC_H

//
// podsandboxd - scope-bound cleanup for locals (STYLE.md practice 6, after
// crun and systemd). Hand ownership on with TAKE_PTR / TAKE_FD.
//

#ifndef PSB_BASE_CLEANUP_H
#define PSB_BASE_CLEANUP_H

#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void
psb_freep(void *p)
{
	free(*(void **)p);
}

static inline void
psb_closep(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
	}
}

#define _cleanup_free_  _cleanup_(psb_freep)
#define _cleanup_close_ _cleanup_(psb_closep)

#define TAKE_PTR(p)                            \
	({                                     \
		__typeof__(p) psb_tmp_ = (p);  \
		(p)                    = NULL; \
		psb_tmp_;                      \
	})

#define TAKE_FD(fd)                    \
	({                             \
		int psb_tmpfd_ = (fd); \
		(fd)           = -1;   \
		psb_tmpfd_;            \
	})

#define PSB_NELEM(a) (sizeof(a) / sizeof((a)[0]))

#endif // PSB_BASE_CLEANUP_H

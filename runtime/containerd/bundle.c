//
// podsandboxd - a task bundle containerd left behind (see bundle.h).
//

#include "runtime/containerd/bundle.h"

#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "runtime/net/worker.h"

#define BUNDLE_DIR "/io.containerd.runtime.v2.task/"

struct ctrd_bundle_job {
	char          *path;
	ctrd_bundle_cb cb;
	void          *arg;
	bool           canceled;
	int            rc;
	char           why[512];
};

char *
ctrd_stale_bundle(const char *message, const char *ns, const char *id)
{
	const char *p, *end;
	char       *path, *tail;
	size_t      n;

	if (message == NULL || ns == NULL || id == NULL ||
	        (p = strstr(message, "mkdir /")) == NULL ||
	        (end = strstr(p, ": file exists")) == NULL) {
		return (NULL);
	}
	p += strlen("mkdir ");
	path = xstrndup(p, (size_t)(end - p));
	tail = xasprintf(BUNDLE_DIR "%s/%s", ns, id);
	n    = strlen(path);
	if (n <= strlen(tail) || strcmp(path + n - strlen(tail), tail) != 0 ||
	        strstr(path, "/./") != NULL || strstr(path, "/../") != NULL ||
	        strchr(id, '/') != NULL || strchr(ns, '/') != NULL) {
		free(path);
		path = NULL;
	}
	free(tail);
	return (path);
}

static int
bundle_rm(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return (remove(p) != 0 && errno != ENOENT ? -1 : 0);
}

static void
bundle_work(void *arg)
{
	ctrd_bundle_job_t *j = arg;
	struct stat        st;
	char               sub[4096];

	j->rc = 0;
	if (lstat(j->path, &st) != 0) {
		if (errno != ENOENT) {
			j->rc = PSB_ERUNTIME;
			snprintf(j->why, sizeof(j->why), "%s: %s", j->path,
			        strerror(errno));
		}
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		j->rc = PSB_ERUNTIME;
		snprintf(j->why, sizeof(j->why), "%s is not a directory",
		        j->path);
		return;
	}
	snprintf(sub, sizeof(sub), "%s/address", j->path);
	if (access(sub, F_OK) == 0) {
		j->rc = PSB_EBUSY;
		snprintf(j->why, sizeof(j->why),
		        "%s has a shim's address: not a leftover", j->path);
		return;
	}
	snprintf(sub, sizeof(sub), "%s/rootfs", j->path);
	if (umount2(sub, MNT_DETACH | UMOUNT_NOFOLLOW) != 0 &&
	        errno != EINVAL && errno != ENOENT) {
		j->rc = PSB_ERUNTIME;
		snprintf(j->why, sizeof(j->why),
		        "unmounting %.400s/rootfs: %s", j->path,
		        strerror(errno));
		return;
	}
	if (nftw(j->path, bundle_rm, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) !=
	        0) {
		j->rc = PSB_ERUNTIME;
		snprintf(j->why, sizeof(j->why), "removing %s: %s", j->path,
		        strerror(errno));
	}
}

static void
bundle_done(void *arg)
{
	ctrd_bundle_job_t *j = arg;

	if (!j->canceled && j->cb != NULL) {
		j->cb(j->arg, j->rc, j->rc != 0 ? j->why : NULL);
	}
	free(j->path);
	free(j);
}

int
ctrd_bundle_remove(psb_worker_pool_t *pool, const char *path,
        ctrd_bundle_cb cb, void *arg, ctrd_bundle_job_t **job)
{
	ctrd_bundle_job_t *j = xcalloc(1, sizeof(*j));
	int                rc;

	j->path = xstrdup(path);
	j->cb   = cb;
	j->arg  = arg;
	// What done reports if the pool completes it without the work.
	j->rc = PSB_ECANCELED;
	snprintf(j->why, sizeof(j->why), "%s: not removed (shutting down)",
	        path);
	if ((rc = psb_worker_submit(pool, bundle_work, bundle_done, j)) != 0) {
		free(j->path);
		free(j);
		return (rc);
	}
	if (job != NULL) {
		*job = j;
	}
	return (0);
}

void
ctrd_bundle_cancel(ctrd_bundle_job_t *job)
{
	job->canceled = true;
}

//
// podsandboxd - API and events socket setup: where a socket may live,
// its file mode before anyone can connect, and who may connect (see
// server_int.h; DESIGN.md §8).
//

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/log.h"
#include "transport/server_int.h"

bool
srv_peer_allowed(const psb_server_t *s, uint64_t uid, uint64_t gid)
{
	for (size_t i = 0; i < s->n_uids; i++) {
		if (s->allow_uids[i] == uid) {
			return (true);
		}
	}
	for (size_t i = 0; i < s->n_gids; i++) {
		if (s->allow_gids[i] == gid) {
			return (true);
		}
	}
	return (false);
}

// srv_check_dir makes sure the socket's directory exists, belongs to us
// and is writable by nobody else: whoever can write there can replace
// the socket with their own and read every client's requests.
static int
srv_check_dir(const char *url, const char *path, psb_error_t *err)
{
	_cleanup_free_ char *dir   = xstrdup(path);
	char                *slash = strrchr(dir, '/');
	struct stat          st;

	if (slash == NULL) {
		free(dir);
		dir = xstrdup(".");
	} else if (slash == dir) {
		slash[1] = '\0';
	} else {
		*slash = '\0';
		for (char *c = dir + 1; *c != '\0'; c++) {
			if (*c != '/') {
				continue;
			}
			*c = '\0';
			if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
				return (psb_error_sys(err, PSB_EPERM, errno,
				        "%s: cannot create directory %s", url,
				        dir));
			}
			*c = '/';
		}
		if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
			return (psb_error_sys(err, PSB_EPERM, errno,
			        "%s: cannot create directory %s", url, dir));
		}
	}
	if (stat(dir, &st) != 0) {
		return (psb_error_sys(
		        err, PSB_EINVAL, errno, "%s: %s", url, dir));
	}
	if (!S_ISDIR(st.st_mode)) {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: %s is not a directory", url, dir));
	}
	if (st.st_uid != geteuid()) {
		return (psb_error_make(err, PSB_EPERM,
		        "%s: socket directory %s is owned by uid %u, not by "
		        "podsandboxd's uid %u; fix: chown %u %s (or choose "
		        "another directory)",
		        url, dir, (unsigned)st.st_uid, (unsigned)geteuid(),
		        (unsigned)geteuid(), dir));
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		return (psb_error_make(err, PSB_EPERM,
		        "%s: socket directory %s is writable by %s (mode "
		        "%04o); fix: chmod go-w %s",
		        url, dir,
		        (st.st_mode & S_IWGRP) && (st.st_mode & S_IWOTH)
		                ? "group and others"
		        : (st.st_mode & S_IWGRP) ? "group"
		                                 : "others",
		        (unsigned)(st.st_mode & 07777), dir));
	}
	return (0);
}

// srv_listen checks url, then creates and starts a listener on sock with
// the ipc file mode applied before listen(2) (nng chmods between bind and
// listen, so no client can connect through a wider mode).
int
srv_listen(nng_socket sock, const char *url, uint32_t mode, bool allow_tcp,
        nng_listener *out, bool *is_tcp, psb_error_t *err)
{
	struct sockaddr_un sun;
	const char        *path;
	int                rv;

	*is_tcp = strncmp(url, "tcp", 3) == 0 ||
	          strncmp(url, "inproc://", 9) == 0;
	if (strncmp(url, "ipc://", 6) == 0) {
		path = url + 6;
		if (path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
			return (psb_error_make(err, PSB_EINVAL,
			        "%s: the socket path must be 1..%zu bytes",
			        url, sizeof(sun.sun_path) - 1));
		}
		if ((rv = srv_check_dir(url, path, err)) != 0) {
			return (rv);
		}
	} else if (strncmp(url, "tcp", 3) == 0 && strstr(url, "://") != NULL) {
		if (!allow_tcp) {
			return (psb_error_make(err, PSB_EPERM,
			        "%s: tcp is refused: tcp peers cannot be "
			        "authenticated (pass --allow-tcp to accept "
			        "every tcp peer)",
			        url));
		}
	} else if (strncmp(url, "inproc://", 9) != 0) {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: unsupported URL (use ipc://PATH)", url));
	}
	if ((rv = nng_listener_create(out, sock, url)) != 0) {
		return (psb_error_make(
		        err, PSB_EINVAL, "%s: %s", url, nng_strerror(rv)));
	}
	if (strncmp(url, "ipc://", 6) == 0 &&
	        (rv = nng_listener_set_int(
	                 *out, NNG_OPT_IPC_PERMISSIONS, (int)mode)) != 0) {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: cannot set the socket mode %04o: %s", url,
		        (unsigned)mode, nng_strerror(rv)));
	}
	if ((rv = nng_listener_start(*out, 0)) != 0) {
		if (rv == NNG_EADDRINUSE) {
			return (psb_error_make(err, PSB_EBUSY,
			        "%s: another process is listening there "
			        "(another podsandboxd?)",
			        url));
		}
		return (psb_error_make(err,
		        rv == NNG_EPERM ? PSB_EPERM : PSB_EINVAL,
		        "%s: cannot listen: %s", url, nng_strerror(rv)));
	}
	return (0);
}

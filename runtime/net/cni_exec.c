//
// podsandboxd - CNI: running one plugin process on the loop (cni_int.h).
//
// posix_spawn, not fork: the daemon has other threads (nng's), and a fork
// copies only the caller, with whatever locks the others held. The child
// gets pipes as 0/1/2 and nothing else (closefrom in the spawn), default
// signal dispositions, an empty mask, and a process group of its own, so
// that a kill at the deadline also takes what it spawned (iptables).
//
// Its exit is seen through a pidfd (ev_io), not SIGCHLD: the daemon's loop
// is not libev's default loop, so ev_child cannot be used, and a SIGCHLD
// handler would be process-wide. Without pidfds (old kernels, seccomp) a
// timer polls waitpid instead.
//

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/log.h"
#include "runtime/net/cni_int.h"

#define EXEC_POLL_S  0.01  // waitpid poll period without a pidfd
#define EXEC_READ_SZ 16384 // bytes read per read(2)

typedef struct exec_buf {
	char  *p; // NUL-terminated
	size_t len;
	size_t size;
	int    fd; // our end, -1 once closed
	ev_io  w;
} exec_buf_t;

struct cni_exec {
	struct ev_loop *loop;
	pid_t           pid;
	int             pidfd; // -1: polled instead
	bool            reaped;
	int             status;
	ev_io           pid_w;
	ev_timer        poll_w;
	ev_timer        timeout_w;
	uint32_t        timeout_ms;
	bool            timed_out;
	size_t          cap;
	const char     *overflow;
	// stdin: what is left to write
	int         in_fd;
	ev_io       in_w;
	char       *input;
	size_t      input_len;
	size_t      input_off;
	exec_buf_t  out;
	exec_buf_t  err;
	cni_exec_cb cb; // NULL once cancelled
	void       *arg;
};

// ---- file descriptors ------------------------------------------------------

// exec_fd_high moves *fd to 3 or above: the spawn dup2s the child's ends
// onto 0, 1 and 2, which must not be one of them already (a daemon started
// with a standard descriptor closed).
static int
exec_fd_high(int *fd)
{
	int nfd;

	if (*fd > 2) {
		return (0);
	}
	if ((nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		return (-1);
	}
	close(*fd);
	*fd = nfd;
	return (0);
}

// exec_pipe makes a close-on-exec pipe with both ends above 2 and our end
// (p[mine]) non-blocking.
static int
exec_pipe(int p[2], int mine)
{
	if (pipe2(p, O_CLOEXEC) != 0) {
		return (-1);
	}
	if (exec_fd_high(&p[0]) != 0 || exec_fd_high(&p[1]) != 0 ||
	        fcntl(p[mine], F_SETFL, O_NONBLOCK) != 0) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		errno = e;
		return (-1);
	}
	return (0);
}

static void
exec_close(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

// ---- the end ---------------------------------------------------------------

static void
exec_free(cni_exec_t *x)
{
	ev_io_stop(x->loop, &x->pid_w);
	ev_timer_stop(x->loop, &x->poll_w);
	ev_timer_stop(x->loop, &x->timeout_w);
	ev_io_stop(x->loop, &x->in_w);
	ev_io_stop(x->loop, &x->out.w);
	ev_io_stop(x->loop, &x->err.w);
	exec_close(&x->pidfd);
	exec_close(&x->in_fd);
	exec_close(&x->out.fd);
	exec_close(&x->err.fd);
	free(x->input);
	free(x->out.p);
	free(x->err.p);
	free(x);
}

// exec_kill kills the child and its process group. Only while the child
// is not reaped: until then its pid (and group id) cannot be reused.
static void
exec_kill(cni_exec_t *x)
{
	if (x->reaped) {
		return;
	}
	if (kill(-x->pid, SIGKILL) != 0) {
		kill(x->pid, SIGKILL);
	}
}

static void
exec_stop_stdin(cni_exec_t *x)
{
	ev_io_stop(x->loop, &x->in_w);
	exec_close(&x->in_fd);
}

static void
exec_stop_read(cni_exec_t *x, exec_buf_t *b)
{
	ev_io_stop(x->loop, &b->w);
	exec_close(&b->fd);
}

// exec_read reads once from b; false when there is nothing more to read
// now (would block, EOF, an error, or the cap passed: then the child is
// killed and the stream closed).
static bool
exec_read(cni_exec_t *x, exec_buf_t *b)
{
	char    tmp[EXEC_READ_SZ];
	ssize_t n;

	if (b->fd < 0) {
		return (false);
	}
	n = read(b->fd, tmp, sizeof(tmp));
	if (n < 0 && errno == EINTR) {
		return (true);
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		return (false);
	}
	if (n <= 0) {
		exec_stop_read(x, b); // EOF, or an error: nothing more comes
		return (false);
	}
	if (b->len + (size_t)n > x->cap) {
		if (x->overflow == NULL) {
			x->overflow = b == &x->out ? "stdout" : "stderr";
		}
		exec_kill(x);
		exec_stop_read(x, b);
		return (false);
	}
	if (b->len + (size_t)n + 1 > b->size) {
		while (b->len + (size_t)n + 1 > b->size) {
			b->size *= 2;
		}
		b->p = xrealloc(b->p, b->size);
	}
	memcpy(b->p + b->len, tmp, (size_t)n);
	b->len += (size_t)n;
	b->p[b->len] = '\0';
	return (true);
}

// exec_finish runs once the child is reaped: what it wrote before it
// exited is in the pipes, so they are drained, not waited on to EOF (a
// grandchild may hold them open).
static void
exec_finish(cni_exec_t *x)
{
	cni_exec_result_t r;

	exec_stop_stdin(x);
	if (x->cb == NULL) {
		exec_free(x); // cancelled: nobody wants the output
		return;
	}
	while (exec_read(x, &x->out)) { }
	while (exec_read(x, &x->err)) { }
	r.status    = x->status;
	r.timed_out = x->timed_out;
	r.overflow  = x->overflow;
	r.out       = x->out.p;
	r.out_len   = x->out.len;
	r.errout    = x->err.p;
	r.err_len   = x->err.len;
	x->cb(x->arg, &r);
	exec_free(x);
}

// exec_reap reaps the child if it has exited; true then.
static bool
exec_reap(cni_exec_t *x)
{
	int   status = 0;
	pid_t r;

	do {
		r = waitpid(x->pid, &status, WNOHANG);
	} while (r < 0 && errno == EINTR);
	if (r == 0) {
		return (false);
	}
	if (r < 0) {
		// ECHILD: someone reaped it behind our back.
		psb_log(PSB_LOG_WARN,
		        "cni: waitpid(%d): %s: the plugin's exit status is "
		        "lost",
		        (int)x->pid, strerror(errno));
		status = -1;
	}
	x->reaped = true;
	x->status = status;
	ev_io_stop(x->loop, &x->pid_w);
	ev_timer_stop(x->loop, &x->poll_w);
	ev_timer_stop(x->loop, &x->timeout_w);
	exec_close(&x->pidfd);
	return (true);
}

// ---- watchers --------------------------------------------------------------

static void
exec_pid_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	cni_exec_t *x = w->data;

	(void)loop;
	(void)revents;
	if (exec_reap(x)) {
		exec_finish(x);
	}
}

static void
exec_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	cni_exec_t *x = w->data;

	(void)loop;
	(void)revents;
	if (exec_reap(x)) {
		exec_finish(x);
	}
}

static void
exec_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	cni_exec_t *x = w->data;

	(void)loop;
	(void)revents;
	psb_log(PSB_LOG_DEBUG, "cni: pid %d outlived %u ms: killing it",
	        (int)x->pid, (unsigned)x->timeout_ms);
	x->timed_out = true;
	exec_kill(x);
}

static void
exec_in_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	cni_exec_t *x = w->data;
	ssize_t     n;

	(void)loop;
	(void)revents;
	n = write(x->in_fd, x->input + x->input_off,
	        x->input_len - x->input_off);
	if (n < 0 &&
	        (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		return;
	}
	if (n < 0) {
		// EPIPE: the plugin does not read its stdin (or exited).
		// Its exit status tells whether that was wrong.
		psb_log(PSB_LOG_DEBUG, "cni: writing stdin of pid %d: %s",
		        (int)x->pid, strerror(errno));
		exec_stop_stdin(x);
		return;
	}
	x->input_off += (size_t)n;
	if (x->input_off == x->input_len) {
		exec_stop_stdin(x); // EOF: the plugin reads to the end
	}
}

static void
exec_out_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	cni_exec_t *x = w->data;

	(void)loop;
	(void)revents;
	exec_read(x, w == &x->out.w ? &x->out : &x->err);
}

// ---- the start -------------------------------------------------------------

// exec_spawn spawns path on the child's ends of the pipes.
static int
exec_spawn(const char *path, char *const envp[], int in, int out, int err,
        pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t          attr;
	sigset_t                   none, all;
	char                      *argv[] = {(char *)path, NULL};
	int                        rc;

	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
		return (rc);
	}
	if ((rc = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return (rc);
	}
	if ((rc = posix_spawn_file_actions_adddup2(&fa, in, 0)) == 0 &&
	        (rc = posix_spawn_file_actions_adddup2(&fa, out, 1)) == 0 &&
	        (rc = posix_spawn_file_actions_adddup2(&fa, err, 2)) == 0 &&
	        // Descriptors another thread opened without O_CLOEXEC.
	        (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
	        (rc = posix_spawnattr_setflags(&attr,
	                 POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	                         POSIX_SPAWN_SETPGROUP)) == 0 &&
	        (rc = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
	        (rc = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
	        (rc = posix_spawnattr_setpgroup(&attr, 0)) == 0) {
		rc = posix_spawn(pid, path, &fa, &attr, argv, envp);
	}
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return (rc);
}

static void
exec_buf_init(cni_exec_t *x, exec_buf_t *b, int fd)
{
	b->size = 4096;
	b->p    = xmalloc(b->size);
	b->p[0] = '\0';
	b->fd   = fd;
	ev_io_init(&b->w, exec_out_cb, fd, EV_READ);
	b->w.data = x;
	ev_io_start(x->loop, &b->w);
}

int
cni_exec_start(struct ev_loop *loop, const char *path, char *const envp[],
        const char *input, size_t input_len, uint32_t timeout_ms, size_t cap,
        cni_exec_cb cb, void *arg, cni_exec_t **out, psb_error_t *err)
{
	int         in[2], o[2], e[2];
	int         rc;
	cni_exec_t *x;

	if (exec_pipe(in, 1) != 0) {
		return (psb_error_sys(err, PSB_ERUNTIME, errno, "pipe"));
	}
	if (exec_pipe(o, 0) != 0) {
		rc = errno;
		close(in[0]);
		close(in[1]);
		return (psb_error_sys(err, PSB_ERUNTIME, rc, "pipe"));
	}
	if (exec_pipe(e, 0) != 0) {
		rc = errno;
		close(in[0]);
		close(in[1]);
		close(o[0]);
		close(o[1]);
		return (psb_error_sys(err, PSB_ERUNTIME, rc, "pipe"));
	}
	x        = xcalloc(1, sizeof(*x));
	x->loop  = loop;
	x->pidfd = -1;
	x->in_fd = in[1];
	x->cap   = cap;
	rc       = exec_spawn(path, envp, in[0], o[1], e[1], &x->pid);
	// The child's ends are the child's now (or nobody's).
	close(in[0]);
	close(o[1]);
	close(e[1]);
	if (rc != 0) {
		close(in[1]);
		close(o[0]);
		close(e[0]);
		free(x);
		return (psb_error_sys(
		        err, PSB_ERUNTIME, rc, "spawning %s", path));
	}
	x->timeout_ms = timeout_ms;
	x->cb         = cb;
	x->arg        = arg;
	x->input      = xmemdup(input, input_len + 1);
	x->input_len  = input_len;
	exec_buf_init(x, &x->out, o[0]);
	exec_buf_init(x, &x->err, e[0]);
	ev_io_init(&x->in_w, exec_in_cb, x->in_fd, EV_WRITE);
	x->in_w.data = x;
	if (input_len > 0) {
		ev_io_start(loop, &x->in_w);
	} else {
		exec_close(&x->in_fd);
	}
	// The deadline counts from now, not from the loop's cached time
	// (the callback that starts a plugin may have run long).
	ev_now_update(loop);
	ev_timer_init(&x->timeout_w, exec_timeout_cb, timeout_ms / 1000.0, 0.);
	x->timeout_w.data = x;
	ev_timer_start(loop, &x->timeout_w);
	// A pidfd names this very process: no pid reuse can fool it.
#ifdef SYS_pidfd_open
	x->pidfd = (int)syscall(SYS_pidfd_open, x->pid, 0);
#endif
	ev_io_init(&x->pid_w, exec_pid_cb, x->pidfd, EV_READ);
	x->pid_w.data = x;
	ev_timer_init(&x->poll_w, exec_poll_cb, EXEC_POLL_S, EXEC_POLL_S);
	x->poll_w.data = x;
	if (x->pidfd >= 0) {
		ev_io_start(loop, &x->pid_w);
	} else {
		ev_timer_start(loop, &x->poll_w);
	}
	psb_log(PSB_LOG_DEBUG, "cni: spawned %s as pid %d", path, (int)x->pid);
	*out = x;
	return (0);
}

pid_t
cni_exec_pid(const cni_exec_t *x)
{
	return (x->pid);
}

void
cni_exec_cancel(cni_exec_t *x)
{
	x->cb = NULL;
	exec_kill(x);
	// Only the reaping is left: no output, no deadline.
	ev_timer_stop(x->loop, &x->timeout_w);
	exec_stop_stdin(x);
	exec_stop_read(x, &x->out);
	exec_stop_read(x, &x->err);
	if (x->reaped || exec_reap(x)) {
		exec_free(x);
	}
	// Else the pidfd (or the poll) reaps it later and frees x
	// (exec_finish without a cb).
}

/*
 * pause - the process of a pod sandbox's pause container.
 *
 * It holds the sandbox's namespaces open and does nothing else: it prints
 * nothing, reaps every child that is re-parented to it, and exits 0 on
 * SIGTERM or SIGINT. `pause --version` prints the version and exits 0.
 *
 * It runs as PID 1 of the sandbox's pid namespace. The kernel drops any
 * signal sent to a namespace's init whose disposition is SIG_DFL, so a
 * pause without handlers could only be SIGKILLed. Here SIGTERM, SIGINT and
 * SIGCHLD get (empty) handlers and are blocked, and the main loop takes
 * them synchronously with sigwaitinfo(): nothing runs in signal context,
 * and a signal that arrives between two waits stays pending instead of
 * being lost. It is linked statically so that the image is one file.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PSB_VERSION
#define PSB_VERSION "unknown"
#endif

static void
pause_noop_cb(int sig)
{
	(void)sig;
}

/* Reap every child that has exited; never blocks. */
static void
pause_reap(void)
{
	for (;;) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);
		if (pid > 0) {
			continue;
		}
		if (pid < 0 && errno == EINTR) {
			continue;
		}
		return; /* 0: children left but running; ECHILD: none */
	}
}

int
main(int argc, char **argv)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGCHLD};
	struct sigaction sa;
	sigset_t         set;

	if (argc > 1) {
		if (strcmp(argv[1], "--version") == 0) {
			printf("pause (podsandboxd) %s\n", PSB_VERSION);
			return 0;
		}
		/* Any other argument is an error, but pause stays silent:
		 * its output would end up in nobody's log. */
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pause_noop_cb;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaddset(&set, sigs[i]);
		if (sigaction(sigs[i], &sa, NULL) < 0) {
			return 1;
		}
	}
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		return 1;
	}
	/* Children may have been inherited before the mask was set. */
	pause_reap();

	for (;;) {
		int sig = sigwaitinfo(&set, NULL);
		if (sig < 0) {
			if (errno == EINTR) {
				continue;
			}
			return 1;
		}
		if (sig == SIGCHLD) {
			pause_reap();
			continue;
		}
		return 0; /* SIGTERM or SIGINT */
	}
}

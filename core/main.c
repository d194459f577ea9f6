//
// podsandboxd - the daemon's entry point: configuration, start-up order,
// the libev loop, and a clean shutdown on SIGTERM/SIGINT.
//
// Start-up order matters: the store is opened (and its lock taken) before
// the runtime is touched, so a second daemon on the same database fails
// before it can disturb the first one's pause containers.
//

#include <errno.h>
#include <ev.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/error.h"
#include "base/failpoint.h"
#include "base/log.h"
#include "core/config.h"
#include "core/controller.h"
#include "persistence/store.h"
#include "runtime/runtime.h"
#include "transport/codec.h"
#include "transport/server.h"

_Static_assert(PSB_CONFIG_MAX_IDS == PSB_MAX_IDS, "id list sizes differ");

#define EXIT_USAGE 2

// dir_errcode maps a mkdir errno to the closest domain code.
static int
dir_errcode(int e)
{
	return (e == EACCES || e == EPERM || e == EROFS ? PSB_EPERM
	                                                : PSB_EINTERNAL);
}

typedef struct daemon_state {
	struct ev_loop   *loop;
	psb_controller_t *ctl;
	psb_server_t     *server;
	ev_signal         sigterm;
	ev_signal         sigint;
	bool              stopping;
} daemon_state;

// mkdir_p creates path and its missing parents. Parents get 0755 (they are
// usually system directories such as /var/lib); the last one gets mode.
// An existing directory is left as it is.
static int
mkdir_p(const char *path, mode_t mode, psb_error_t *err)
{
	_cleanup_free_ char *p = xstrdup(path);
	struct stat          st;

	for (char *s = p + 1; *s != '\0'; s++) {
		if (*s != '/') {
			continue;
		}
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			return (psb_error_sys(err, dir_errcode(errno), errno,
			        "cannot create directory %s", p));
		}
		*s = '/';
	}
	if (mkdir(p, mode) != 0 && errno != EEXIST) {
		return (psb_error_sys(err, dir_errcode(errno), errno,
		        "cannot create directory %s", p));
	}
	if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
		return (psb_error_make(
		        err, PSB_EINVAL, "%s is not a directory", p));
	}
	return (0);
}

// make_db_dir creates the directory that holds the database file.
static int
make_db_dir(const char *db_path, psb_error_t *err)
{
	_cleanup_free_ char *dir   = xstrdup(db_path);
	char                *slash = strrchr(dir, '/');

	if (slash == NULL) {
		return (0); // relative name in the working directory
	}
	if (slash == dir) {
		return (0); // a file in /
	}
	*slash = '\0';
	return (mkdir_p(dir, 0700, err));
}

static void
recovered_cb(void *arg)
{
	daemon_state *d = arg;

	psb_log(PSB_LOG_INFO, "recovered %zu sandboxes",
	        psb_controller_count(d->ctl));
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	daemon_state *d = w->data;

	if (d->stopping) {
		return;
	}
	d->stopping = true;
	psb_log(PSB_LOG_INFO, "%s received, shutting down",
	        w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
	// Stop receiving first, so nothing new reaches the controller; drain
	// then commits the current tick and answers every held request
	// (UNAVAILABLE) before it returns. Those replies are already with
	// nng; psb_server_free waits for them to be written before it
	// closes the socket, so the loop may stop right after this.
	psb_server_stop(d->server);
	psb_controller_drain(d->ctl);
	ev_signal_stop(loop, &d->sigterm);
	ev_signal_stop(loop, &d->sigint);
	ev_break(loop, EVBREAK_ALL);
}

static void
warn_test_double(const char *name)
{
	psb_log(PSB_LOG_WARN,
	        "**************************************************"
	        "**********");
	psb_log(PSB_LOG_WARN,
	        "WARNING: runtime \"%s\" is the scripted TEST DOUBLE.", name);
	psb_log(PSB_LOG_WARN,
	        "WARNING: no pause containers run and no network "
	        "namespaces");
	psb_log(PSB_LOG_WARN,
	        "WARNING: are made: sandboxes exist only in this daemon's");
	psb_log(PSB_LOG_WARN,
	        "WARNING: database. Do not use this on a real node.");
	psb_log(PSB_LOG_WARN,
	        "**************************************************"
	        "**********");
}

static char *
render_config(void *arg, const void *config, size_t len)
{
	(void)arg;
	return (psb_codec_config_json(config, len));
}

// fill_config_json gives rows written before the pod config was kept as
// JSON (schema 3) their JSON, rendered by transport: core never decodes
// protobuf, so this is the one place that can.
static int
fill_config_json(psb_store_t *store, psb_error_t *err)
{
	size_t n;
	int    rv = psb_store_fill_config_json(
	           store, render_config, NULL, &n, err);

	if (rv == 0 && n > 0) {
		psb_log(PSB_LOG_INFO,
		        "store: kept the pod config of %zu older sandboxes as "
		        "JSON",
		        n);
	}
	return (rv);
}

// open_store opens the database (and brings older rows up to date) and
// turns the errors an operator can act on into plain sentences.
static int
open_store(const psb_config_t *cfg, psb_store_t **out)
{
	psb_store_options_t opts;
	psb_error_t         err = PSB_ERROR_INIT;
	int                 rv;

	psb_config_store_opts(cfg, &opts);
	if ((rv = psb_store_open(cfg->db_path, &opts, out, &err)) == 0) {
		if ((rv = fill_config_json(*out, &err)) == 0) {
			return (0);
		}
		psb_store_close(*out);
		*out = NULL;
	}
	switch (rv) {
	case PSB_EBUSY:
		psb_log(PSB_LOG_ERROR,
		        "cannot open database %s: another podsandboxd is "
		        "running (%s)",
		        cfg->db_path, psb_error_message(&err));
		break;
	case PSB_ECORRUPT:
		psb_log(PSB_LOG_ERROR,
		        "database %s is corrupt; it was left untouched (%s)",
		        cfg->db_path, psb_error_message(&err));
		break;
	case PSB_ENOTSUP:
		psb_log(PSB_LOG_ERROR,
		        "database %s was written by a newer podsandboxd; it "
		        "was left untouched (%s)",
		        cfg->db_path, psb_error_message(&err));
		break;
	default:
		psb_log(PSB_LOG_ERROR, "cannot open database %s: %s",
		        cfg->db_path, psb_error_message(&err));
		break;
	}
	psb_error_release(&err);
	return (rv);
}

// The dispatcher calls, typed for psb_dispatch_t (calling the controller
// through a cast function pointer would be undefined behaviour).
static uint64_t
ctl_submit(void *ctl, const psb_request_t *req, psb_reply_cb cb, void *arg)
{
	return (psb_controller_submit(ctl, req, cb, arg));
}

static void
ctl_cancel(void *ctl, uint64_t token)
{
	psb_controller_cancel(ctl, token);
}

// On nng's threads: plain Status and List from the committed board.
static bool
ctl_read(void *ctl, const psb_request_t *req, psb_reply_cb cb, void *arg)
{
	return (psb_controller_read(ctl, req, cb, arg));
}

// start_server opens the API and events sockets with the controller as the
// dispatcher and the server as the controller's publisher.
static int
start_server(const psb_config_t *cfg, daemon_state *d, psb_error_t *err)
{
	psb_dispatch_t    dispatch = {0};
	psb_server_opts_t opts     = {0};
	int               rv;

	dispatch.submit  = ctl_submit;
	dispatch.cancel  = ctl_cancel;
	dispatch.read    = ctl_read;
	dispatch.arg     = d->ctl;
	opts.api_url     = cfg->api_url;
	opts.events_url  = cfg->events_url;
	opts.socket_mode = cfg->socket_mode;
	memcpy(opts.allow_uids, cfg->allow_uids.v, sizeof(opts.allow_uids));
	opts.n_allow_uids = cfg->allow_uids.n;
	memcpy(opts.allow_gids, cfg->allow_gids.v, sizeof(opts.allow_gids));
	opts.n_allow_gids  = cfg->allow_gids.n;
	opts.max_msg_bytes = cfg->max_message_bytes;
	opts.contexts      = cfg->api_contexts;
	opts.allow_tcp     = cfg->allow_tcp;
	if ((rv = psb_server_start(
	             d->loop, &dispatch, &opts, &d->server, err)) != 0) {
		return (rv);
	}
	psb_controller_set_publisher(d->ctl, psb_server_publish, d->server);
	return (0);
}

// run starts everything on the default loop, serves until a signal, and
// tears down in the reverse order. Returns the exit status.
static int
run(const psb_config_t *cfg)
{
	psb_store_t          *store = NULL;
	psb_runtime_t        *rt    = NULL;
	psb_controller_opts_t copts;
	psb_error_t           err    = PSB_ERROR_INIT;
	daemon_state          d      = {0};
	int                   status = EXIT_FAILURE;

	psb_failpoint_init(); // test only: PSB_FAILPOINT (docs/testing.md)
	if (make_db_dir(cfg->db_path, &err) != 0 ||
	        mkdir_p(cfg->state_dir, 0700, &err) != 0) {
		psb_log(PSB_LOG_ERROR, "%s", psb_error_message(&err));
		psb_error_release(&err);
		return (EXIT_FAILURE);
	}
	if (open_store(cfg, &store) != 0) {
		return (EXIT_FAILURE);
	}
	// Not libev's default loop: that one reaps every child on SIGCHLD
	// (waitpid(-1)), which would take the CNI plugins' exit statuses
	// from runtime/net/cni_exec.c, which reaps its children by pid.
	if ((d.loop = ev_loop_new(EVFLAG_AUTO)) == NULL) {
		psb_log(PSB_LOG_ERROR, "cannot initialise the event loop");
		goto out;
	}
	if (psb_runtime_open(cfg->runtime, d.loop, cfg->runtime_options, &rt,
	            &err) != 0) {
		psb_log(PSB_LOG_ERROR, "cannot open runtime %s: %s",
		        cfg->runtime, psb_error_message(&err));
		goto out;
	}
	if (psb_runtime_is_test_double(rt)) {
		warn_test_double(psb_runtime_name(rt));
	}
	psb_config_controller_opts(cfg, &copts);
	if (psb_controller_new(d.loop, store, rt, &copts, &d.ctl, &err) != 0) {
		psb_log(PSB_LOG_ERROR, "cannot create the controller: %s",
		        psb_error_message(&err));
		goto out;
	}
	if (psb_controller_recover(d.ctl, recovered_cb, &d, &err) != 0) {
		psb_log(PSB_LOG_ERROR, "recovery failed: %s",
		        psb_error_message(&err));
		goto out;
	}

	if (start_server(cfg, &d, &err) != 0) {
		psb_log(PSB_LOG_ERROR, "cannot start the API: %s",
		        psb_error_message(&err));
		goto out;
	}

	ev_signal_init(&d.sigterm, signal_cb, SIGTERM);
	ev_signal_init(&d.sigint, signal_cb, SIGINT);
	d.sigterm.data = &d;
	d.sigint.data  = &d;
	ev_signal_start(d.loop, &d.sigterm);
	ev_signal_start(d.loop, &d.sigint);

	psb_log(PSB_LOG_INFO, "podsandboxd %s ready (db=%s, runtime=%s)",
	        PSB_VERSION, cfg->db_path, psb_runtime_name(rt));
	psb_log(PSB_LOG_INFO, "API on %s, events on %s", cfg->api_url,
	        cfg->events_url);
	ev_run(d.loop, 0);
	psb_log(PSB_LOG_INFO, "podsandboxd stopped");
	status = EXIT_SUCCESS;

out:
	psb_error_release(&err);
	if (d.loop != NULL) {
		ev_signal_stop(d.loop, &d.sigterm);
		ev_signal_stop(d.loop, &d.sigint);
	}
	// The controller must not publish into a freed server; the server
	// goes first so that no reply is sent after the controller is gone.
	if (d.ctl != NULL) {
		psb_controller_set_publisher(d.ctl, NULL, NULL);
	}
	psb_server_free(d.server);
	psb_controller_free(d.ctl);
	psb_runtime_close(rt);
	psb_store_close(store);
	if (d.loop != NULL) {
		ev_loop_destroy(d.loop);
	}
	return (status);
}

int
main(int argc, char **argv)
{
	psb_config_t cfg;
	psb_error_t  err = PSB_ERROR_INIT;
	int          status;

	// A client that goes away mid-reply must not kill the daemon.
	signal(SIGPIPE, SIG_IGN);
	// Out of memory inside jansson takes the same path as ours.
	json_set_alloc_funcs(xmalloc, free);

	if (psb_config_parse(&cfg, argc, argv, &err) != 0) {
		fprintf(stderr, "podsandboxd: %s\n", psb_error_message(&err));
		fprintf(stderr, "Try 'podsandboxd --help'.\n");
		psb_error_release(&err);
		psb_config_free(&cfg);
		return (EXIT_USAGE);
	}
	if (cfg.show_help) {
		psb_config_usage(stdout);
		psb_config_free(&cfg);
		return (EXIT_SUCCESS);
	}
	if (cfg.show_version) {
		printf("podsandboxd %s\n", PSB_VERSION);
		psb_config_free(&cfg);
		return (EXIT_SUCCESS);
	}
	psb_log_setup(cfg.log_level, cfg.log_format, STDERR_FILENO);
	status = run(&cfg);
	psb_config_free(&cfg);
	return (status);
}

//
// podsandboxctl - the verbs. Each parses its own options (getopt_long,
// argv[0] = the verb), makes its calls and prints a table or, with
// -o json, a JSON document with stable camelCase keys.
//

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "podsandboxctl.h"

#define CTL_OUTPUT_OPT                                 \
	{                                              \
		"output", required_argument, NULL, 'o' \
	}
#define CTL_END_OPT              \
	{                        \
		NULL, 0, NULL, 0 \
	}

// ctl_getopt wraps getopt_long with the handling every verb shares:
// -o/--output, and unknown options or missing values as usage errors.
// Returns the option, -1 at the end, or '?' after printing the error
// (*rc = CTL_EXIT_USAGE).
static int
ctl_getopt(ctl_t *ctl, int argc, char **argv, const char *shortopts,
        const struct option *opts, int *rc)
{
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, opts, NULL)) == 'o') {
		if (!ctl_parse_output(ctl, optarg)) {
			*rc = ctl_usage(argv[0],
			        "--output: expected table or json, got '%s'",
			        optarg);
			return ('?');
		}
	}
	if (opt == ':') {
		*rc = ctl_usage(argv[0], "%s needs a value", argv[optind - 1]);
		return ('?');
	}
	if (opt == '?') {
		*rc = ctl_usage(
		        argv[0], "unknown option '%s'", argv[optind - 1]);
	}
	return (opt);
}

// ctl_args checks the number of positional arguments left.
static bool
ctl_args(int argc, char **argv, int min, int max, int *rc)
{
	int n = argc - optind;
	if (n < min) {
		*rc = ctl_usage(argv[0], "missing argument");
		return (false);
	}
	if (max >= 0 && n > max) {
		*rc = ctl_usage(argv[0], "unexpected argument '%s'",
		        argv[optind + max]);
		return (false);
	}
	return (true);
}

static char *
ctl_read_file(const char *path, psb_client_error_t *err)
{
	FILE  *f = fopen(path, "r");
	char  *buf;
	size_t len = 0;
	size_t cap = 4096;

	if (f == NULL) {
		err->code = PSB_CODE_INVALID_ARGUMENT;
		snprintf(err->message, sizeof(err->message), "%s: %s", path,
		        strerror(errno));
		return (NULL);
	}
	if ((buf = malloc(cap)) == NULL) {
		abort();
	}
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0) {
			break;
		}
		if (cap - len - 1 == 0 &&
		        (buf = realloc(buf, cap *= 2)) == NULL) {
			abort();
		}
	}
	fclose(f);
	buf[len] = '\0';
	return (buf);
}

// ctl_new_id returns 32 random hex digits (static storage).
static const char *
ctl_new_id(void)
{
	static char   id[33];
	unsigned char b[16];
	int           fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
		perror("podsandboxctl: /dev/urandom");
		exit(CTL_EXIT_API);
	}
	close(fd);
	for (size_t i = 0; i < sizeof(b); i++) {
		snprintf(id + 2 * i, 3, "%02x", b[i]);
	}
	return (id);
}

// ---- create / run / start ----

static int
ctl_create_common(ctl_t *ctl, int argc, char **argv, bool start)
{
	static const struct option opts[] = {
	        {"id", required_argument, NULL, 'i'},
	        {"runtime", required_argument, NULL, 'r'},
	        CTL_OUTPUT_OPT,
	        CTL_END_OPT,
	};
	const char        *id = NULL, *runtime = "";
	psb_client_error_t err;
	psb_instance_t     inst;
	psb_client_t      *c;
	char              *text;
	void              *cfg;
	size_t             len;
	int                rc = 0, opt;

	while ((opt = ctl_getopt(ctl, argc, argv, ":o:", opts, &rc)) != -1) {
		switch (opt) {
		case 'i': id = optarg; break;
		case 'r': runtime = optarg; break;
		default: return (rc);
		}
	}
	if (!ctl_args(argc, argv, 1, 1, &rc)) {
		return (rc);
	}
	if ((text = ctl_read_file(argv[optind], &err)) == NULL) {
		return (ctl_api_error(&err));
	}
	rc = psb_config_from_json(text, &cfg, &len, &err);
	free(text);
	if (rc != 0) {
		return (ctl_api_error(&err));
	}
	if (id == NULL) {
		id = ctl_new_id();
	}
	if ((c = ctl_client(ctl, &rc)) == NULL) {
		free(cfg);
		return (rc);
	}
	rc = psb_client_create(c, id, cfg, len, runtime, &err);
	free(cfg);
	if (rc != 0) {
		return (ctl_api_error(&err));
	}
	if (start && psb_client_start(c, id, &inst, &err) != 0) {
		fprintf(stderr,
		        "podsandboxctl: sandbox %s was created but "
		        "did not start\n",
		        id);
		return (ctl_api_error(&err));
	}
	if (ctl->json) {
		json_t *j = json_pack("{s:s}", "id", id);
		if (start) {
			json_object_set_new(j, "pid", json_integer(inst.pid));
			json_object_set_new(
			        j, "createdAt", json_integer(inst.created_at));
			json_object_set_new(
			        j, "labels", ctl_json_parse(inst.labels_json));
		}
		ctl_print_json(j);
	} else {
		puts(id);
	}
	if (start) {
		psb_instance_free(&inst);
	}
	return (CTL_EXIT_OK);
}

static int
ctl_run(ctl_t *ctl, int argc, char **argv)
{
	return (ctl_create_common(ctl, argc, argv, true));
}

static int
ctl_create(ctl_t *ctl, int argc, char **argv)
{
	return (ctl_create_common(ctl, argc, argv, false));
}

static int
ctl_start(ctl_t *ctl, int argc, char **argv)
{
	static const struct option opts[] = {CTL_OUTPUT_OPT, CTL_END_OPT};
	psb_client_error_t         err;
	psb_instance_t             inst;
	psb_client_t              *c;
	int                        rc = 0;

	if (ctl_getopt(ctl, argc, argv, ":o:", opts, &rc) != -1) {
		return (rc);
	}
	if (!ctl_args(argc, argv, 1, 1, &rc) ||
	        (c = ctl_client(ctl, &rc)) == NULL) {
		return (rc);
	}
	if (psb_client_start(c, argv[optind], &inst, &err) != 0) {
		return (ctl_api_error(&err));
	}
	if (ctl->json) {
		ctl_print_json(json_pack("{s:s,s:I,s:I,s:o}", "id",
		        inst.sandbox_id, "pid", (json_int_t)inst.pid,
		        "createdAt", (json_int_t)inst.created_at, "labels",
		        ctl_json_parse(inst.labels_json)));
	} else {
		puts(inst.sandbox_id);
	}
	psb_instance_free(&inst);
	return (CTL_EXIT_OK);
}

// ---- stop / rm ----

static int
ctl_stop(ctl_t *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"timeout", required_argument, NULL, 't'},
	        CTL_OUTPUT_OPT,
	        CTL_END_OPT,
	};
	psb_client_error_t err;
	psb_client_t      *c;
	uint64_t           secs = 0;
	int                rc   = 0, opt;

	while ((opt = ctl_getopt(ctl, argc, argv, ":o:t:", opts, &rc)) != -1) {
		if (opt != 't') {
			return (rc);
		}
		if (!ctl_parse_u64(optarg, &secs) || secs > UINT32_MAX) {
			return (ctl_usage(argv[0],
			        "--timeout: expected seconds, got '%s'",
			        optarg));
		}
	}
	if (!ctl_args(argc, argv, 1, 1, &rc) ||
	        (c = ctl_client(ctl, &rc)) == NULL) {
		return (rc);
	}
	if (psb_client_stop(c, argv[optind], (uint32_t)secs, &err) != 0) {
		return (ctl_api_error(&err));
	}
	if (ctl->json) {
		ctl_print_json(json_pack(
		        "{s:s,s:b}", "id", argv[optind], "stopped", 1));
	} else {
		printf("Stopped sandbox %s\n", argv[optind]);
	}
	return (CTL_EXIT_OK);
}

static int
ctl_rm(ctl_t *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"force", no_argument, NULL, 'f'},
	        CTL_OUTPUT_OPT,
	        CTL_END_OPT,
	};
	psb_client_error_t err;
	psb_client_t      *c;
	json_t            *removed = json_array();
	int                rc = 0, worst = CTL_EXIT_OK, opt;

	// -f is accepted for crictl compatibility: Shutdown always stops a
	// running sandbox first.
	while ((opt = ctl_getopt(ctl, argc, argv, ":o:f", opts, &rc)) != -1) {
		if (opt != 'f') {
			json_decref(removed);
			return (rc);
		}
	}
	if (!ctl_args(argc, argv, 1, -1, &rc) ||
	        (c = ctl_client(ctl, &rc)) == NULL) {
		json_decref(removed);
		return (rc);
	}
	for (int i = optind; i < argc; i++) {
		if (psb_client_shutdown(c, argv[i], &err) != 0) {
			rc = ctl_api_error(&err);
			if (rc > worst) {
				worst = rc;
			}
			continue;
		}
		if (ctl->json) {
			json_array_append_new(removed, json_string(argv[i]));
		} else {
			printf("Removed sandbox %s\n", argv[i]);
		}
	}
	if (ctl->json) {
		ctl_print_json(json_pack("{s:o}", "removed", removed));
	} else {
		json_decref(removed);
	}
	return (worst);
}

// ---- status / ls ----

static json_t *
ctl_status_json(const psb_sandbox_status_t *s)
{
	return (json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:i,s:s,s:o}",
	        "id", s->sandbox_id, "name", s->name, "namespace",
	        s->namespace_, "state", s->state, "pid", (json_int_t)s->pid,
	        "generation", (json_int_t)s->generation, "createdAt",
	        (json_int_t)s->created_at, "startedAt",
	        (json_int_t)s->started_at, "exitedAt",
	        (json_int_t)s->exited_at, "exitStatus", (int)s->exit_status,
	        "runtimeHandler", s->runtime_handler, "labels",
	        ctl_json_parse(s->labels_json)));
}

static void
ctl_status_human(const psb_sandbox_status_t *s)
{
	char        a[64], b[64];
	json_t     *labels = ctl_json_parse(s->labels_json);
	const char *k;
	json_t     *val;

	printf("ID: %s\n", s->sandbox_id);
	printf("Name: %s\n", s->name);
	printf("Namespace: %s\n", s->namespace_);
	printf("State: %s\n", s->state);
	printf("Pid: %u\n", s->pid);
	printf("Generation: %llu\n", (unsigned long long)s->generation);
	printf("Runtime: %s\n", *s->runtime_handler != '\0'
	                                ? s->runtime_handler
	                                : "(default)");
	printf("Created: %s (%s)\n", ctl_time_iso(s->created_at, a, sizeof(a)),
	        ctl_time_ago(s->created_at, b, sizeof(b)));
	if (s->started_at > 0) {
		printf("Started: %s\n",
		        ctl_time_iso(s->started_at, a, sizeof(a)));
	}
	if (s->exit_status >= 0) {
		printf("Exited: %s\n",
		        ctl_time_iso(s->exited_at, a, sizeof(a)));
		printf("Exit status: %d\n", s->exit_status);
	}
	printf("Labels:\n");
	json_object_foreach(labels, k, val)
	{
		printf("    %s -> %s\n", k, json_string_value(val));
	}
	json_decref(labels);
}

static int
ctl_status(ctl_t *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"verbose", no_argument, NULL, 'v'},
	        CTL_OUTPUT_OPT,
	        CTL_END_OPT,
	};
	psb_client_error_t   err;
	psb_sandbox_status_t s;
	psb_client_t        *c;
	bool                 verbose = false;
	int                  rc      = 0, opt;

	while ((opt = ctl_getopt(ctl, argc, argv, ":o:v", opts, &rc)) != -1) {
		if (opt != 'v') {
			return (rc);
		}
		verbose = true;
	}
	if (!ctl_args(argc, argv, 1, 1, &rc) ||
	        (c = ctl_client(ctl, &rc)) == NULL) {
		return (rc);
	}
	if (psb_client_status(c, argv[optind], verbose, &s, &err) != 0) {
		return (ctl_api_error(&err));
	}
	if (ctl->json) {
		// crictl inspectp's shape: {"status": ..., "info": ...}.
		json_t *j = json_pack("{s:o}", "status", ctl_status_json(&s));
		if (s.info_json != NULL) {
			json_object_set_new(
			        j, "info", ctl_json_parse(s.info_json));
		}
		ctl_print_json(j);
	} else {
		ctl_status_human(&s);
		if (s.info_json != NULL) {
			json_t *info   = ctl_json_parse(s.info_json);
			char   *pretty = json_dumps(
			          info, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			printf("Info:\n%s\n", pretty != NULL ? pretty : "{}");
			free(pretty);
			json_decref(info);
		}
	}
	psb_sandbox_status_free(&s);
	return (CTL_EXIT_OK);
}

static int
ctl_ls(ctl_t *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"state", required_argument, NULL, 's'},
	        {"label", required_argument, NULL, 'l'},
	        {"quiet", no_argument, NULL, 'q'},
	        {"no-trunc", no_argument, NULL, 'n'},
	        CTL_OUTPUT_OPT,
	        CTL_END_OPT,
	};
	static const char *const hdr[] = {"SANDBOX ID", "CREATED", "STATE",
	        "NAME", "NAMESPACE", "RUNTIME"};
	psb_client_error_t       err;
	psb_sandbox_status_t    *v = NULL;
	psb_client_t            *c;
	json_t                  *sel = json_object();
	char                    *selector, state[32] = "";
	bool                     quiet = false, no_trunc = false;
	size_t                   n  = 0;
	int                      rc = 0, opt;

	while ((opt = ctl_getopt(ctl, argc, argv, ":o:q", opts, &rc)) != -1) {
		char *eq;
		switch (opt) {
		case 's':
			snprintf(state, sizeof(state), "%s", optarg);
			for (char *p = state; *p != '\0'; p++) {
				*p = (char)toupper((unsigned char)*p);
			}
			break;
		case 'l':
			if ((eq = strchr(optarg, '=')) == NULL ||
			        eq == optarg) {
				json_decref(sel);
				return (ctl_usage(argv[0],
				        "--label: expected KEY=VALUE, got "
				        "'%s'",
				        optarg));
			}
			*eq = '\0';
			json_object_set_new(sel, optarg, json_string(eq + 1));
			break;
		case 'q': quiet = true; break;
		case 'n': no_trunc = true; break;
		default: json_decref(sel); return (rc);
		}
	}
	if (!ctl_args(argc, argv, 0, 0, &rc) ||
	        (c = ctl_client(ctl, &rc)) == NULL) {
		json_decref(sel);
		return (rc);
	}
	selector = json_dumps(sel, JSON_COMPACT);
	json_decref(sel);
	rc = psb_client_list(c, state, selector, &v, &n, &err);
	free(selector);
	if (rc != 0) {
		return (ctl_api_error(&err));
	}
	if (ctl->json) {
		json_t *items = json_array();
		for (size_t i = 0; i < n; i++) {
			json_array_append_new(items, ctl_status_json(&v[i]));
		}
		ctl_print_json(json_pack("{s:o}", "items", items));
	} else if (quiet) {
		for (size_t i = 0; i < n; i++) {
			puts(v[i].sandbox_id);
		}
	} else {
		ctl_table_t *t = ctl_table_new(6, hdr);
		for (size_t i = 0; i < n; i++) {
			char        ago[64];
			const char *row[] = {
			        ctl_trunc_id(v[i].sandbox_id, no_trunc),
			        ctl_time_ago(
			                v[i].created_at, ago, sizeof(ago)),
			        v[i].state,
			        v[i].name,
			        v[i].namespace_,
			        *v[i].runtime_handler != '\0'
			                ? v[i].runtime_handler
			                : "(default)",
			};
			ctl_table_add(t, row);
		}
		ctl_table_print(t);
	}
	psb_sandbox_status_list_free(v, n);
	return (CTL_EXIT_OK);
}

// ---- wait ----

static int
ctl_wait(ctl_t *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"timeout", required_argument, NULL, 't'},
	        CTL_OUTPUT_OPT,
	        CTL_END_OPT,
	};
	psb_client_error_t err;
	psb_client_t      *c;
	psb_exit_t         ex;
	uint64_t           ms = 0;
	int                rc = 0, opt;

	while ((opt = ctl_getopt(ctl, argc, argv, ":o:t:", opts, &rc)) != -1) {
		if (opt != 't') {
			return (rc);
		}
		if (!ctl_parse_u64(optarg, &ms) || ms > INT32_MAX - 2000) {
			return (ctl_usage(argv[0],
			        "--timeout: expected milliseconds, got '%s'",
			        optarg));
		}
	}
	if (!ctl_args(argc, argv, 1, 1, &rc) ||
	        (c = ctl_client(ctl, &rc)) == NULL) {
		return (rc);
	}
	// Without --timeout, wait for as long as the sandbox runs.
	if (psb_client_wait(
	            c, argv[optind], ms > 0 ? (int)ms : -1, &ex, &err) != 0) {
		return (ctl_api_error(&err));
	}
	if (ctl->json) {
		ctl_print_json(json_pack("{s:s,s:I,s:I}", "id", argv[optind],
		        "exitStatus", (json_int_t)ex.exit_status, "exitedAt",
		        (json_int_t)ex.exited_at));
	} else {
		printf("%u\n", ex.exit_status);
	}
	return (CTL_EXIT_OK);
}

// ---- events / history ----

static json_t *
ctl_event_json(const psb_event_t *e)
{
	return (json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:i,s:I}", "seq",
	        (json_int_t)e->seq, "id", e->sandbox_id, "from", e->from,
	        "event", e->event, "to", e->to, "time", (json_int_t)e->time,
	        "exitStatus", (int)e->exit_status, "generation",
	        (json_int_t)e->generation));
}

static void
ctl_event_row(ctl_table_t *t, const psb_event_t *e, bool with_id)
{
	char        seq[24], tm[64], ex[16] = "";
	const char *row[7];
	size_t      k = 0;

	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)e->seq);
	if (e->exit_status >= 0) {
		snprintf(ex, sizeof(ex), "%d", e->exit_status);
	}
	row[k++] = seq;
	row[k++] = ctl_time_iso(e->time, tm, sizeof(tm));
	if (with_id) {
		row[k++] = ctl_trunc_id(e->sandbox_id, false);
	}
	row[k++] = e->from;
	row[k++] = e->event;
	row[k++] = e->to;
	row[k++] = ex;
	ctl_table_add(t, row);
}

static volatile sig_atomic_t ctl_follow_json;

static void
ctl_follow_cb(void *arg, const psb_event_t *e, int code)
{
	char tm[64];

	(void)arg;
	if (e == NULL) {
		fprintf(stderr,
		        "podsandboxctl: %s: events were pruned from the "
		        "journal before they could be delivered\n",
		        psb_code_name(code));
		return;
	}
	if (ctl_follow_json) {
		json_t *j = ctl_event_json(e);
		char   *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(j);
		printf("%s\n", s != NULL ? s : "{}");
		free(s);
	} else {
		printf("%-6llu %s %-13.13s %-9s --%s--> %s",
		        (unsigned long long)e->seq,
		        ctl_time_iso(e->time, tm, sizeof(tm)), e->sandbox_id,
		        e->from, e->event, e->to);
		if (e->exit_status >= 0) {
			printf(" (exit %d)", e->exit_status);
		}
		putchar('\n');
	}
	fflush(stdout);
}

static int
ctl_follow(ctl_t *ctl, psb_client_t *c, uint64_t since)
{
	psb_client_error_t  err;
	psb_subscription_t *sub;
	sigset_t            set;
	int                 sig;

	// Block the stop signals before the subscription thread exists so
	// that it inherits the mask and sigwait() here receives them.
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	ctl_follow_json = ctl->json;
	if (psb_client_subscribe(c, ctl->events_socket, since, ctl_follow_cb,
	            NULL, &sub, &err) != 0) {
		return (ctl_api_error(&err));
	}
	sigwait(&set, &sig);
	psb_subscription_close(sub);
	return (CTL_EXIT_OK);
}

static int
ctl_events(ctl_t *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"since", required_argument, NULL, 's'},
	        {"follow", no_argument, NULL, 'f'},
	        CTL_OUTPUT_OPT,
	        CTL_END_OPT,
	};
	static const char *const hdr[] = {
	        "SEQ", "TIME", "SANDBOX ID", "FROM", "EVENT", "TO", "EXIT"};
	psb_client_error_t err;
	psb_client_t      *c;
	ctl_table_t       *t      = NULL;
	json_t            *events = NULL;
	uint64_t           since  = 0;
	bool               follow = false, truncated = false;
	int                rc = 0, opt;

	while ((opt = ctl_getopt(ctl, argc, argv, ":o:f", opts, &rc)) != -1) {
		if (opt == 'f') {
			follow = true;
		} else if (opt == 's') {
			if (!ctl_parse_u64(optarg, &since)) {
				return (ctl_usage(argv[0],
				        "--since: expected a sequence number, "
				        "got '%s'",
				        optarg));
			}
		} else {
			return (rc);
		}
	}
	if (!ctl_args(argc, argv, 0, 0, &rc) ||
	        (c = ctl_client(ctl, &rc)) == NULL) {
		return (rc);
	}
	if (follow) {
		return (ctl_follow(ctl, c, since));
	}
	if (ctl->json) {
		events = json_array();
	} else {
		t = ctl_table_new(7, hdr);
	}
	for (;;) {
		psb_event_list_t l;
		if (psb_client_events(c, since, 0, &l, &err) != 0) {
			json_decref(events);
			if (t != NULL) {
				ctl_table_print(t);
			}
			return (ctl_api_error(&err));
		}
		truncated = truncated || l.truncated;
		for (size_t i = 0; i < l.n; i++) {
			if (events != NULL) {
				json_array_append_new(
				        events, ctl_event_json(&l.events[i]));
			} else {
				ctl_event_row(t, &l.events[i], true);
			}
			since = l.events[i].seq;
		}
		bool more = l.more && l.n > 0;
		psb_event_list_free(&l);
		if (!more) {
			break;
		}
	}
	if (events != NULL) {
		ctl_print_json(json_pack("{s:o,s:b}", "events", events,
		        "truncated", truncated));
	} else {
		ctl_table_print(t);
	}
	if (truncated) {
		fprintf(stderr, "podsandboxctl: warning: older events were "
		                "pruned from the journal\n");
	}
	return (CTL_EXIT_OK);
}

static int
ctl_history(ctl_t *ctl, int argc, char **argv)
{
	static const struct option opts[] = {CTL_OUTPUT_OPT, CTL_END_OPT};
	static const char *const   hdr[]  = {
	           "SEQ", "TIME", "FROM", "EVENT", "TO", "EXIT"};
	psb_client_error_t err;
	psb_event_list_t   l;
	psb_client_t      *c;
	int                rc = 0;

	if (ctl_getopt(ctl, argc, argv, ":o:", opts, &rc) != -1) {
		return (rc);
	}
	if (!ctl_args(argc, argv, 1, 1, &rc) ||
	        (c = ctl_client(ctl, &rc)) == NULL) {
		return (rc);
	}
	if (psb_client_history(c, argv[optind], &l, &err) != 0) {
		return (ctl_api_error(&err));
	}
	if (ctl->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < l.n; i++) {
			json_array_append_new(a, ctl_event_json(&l.events[i]));
		}
		ctl_print_json(json_pack(
		        "{s:s,s:o}", "id", argv[optind], "events", a));
	} else {
		ctl_table_t *t = ctl_table_new(6, hdr);
		for (size_t i = 0; i < l.n; i++) {
			ctl_event_row(t, &l.events[i], false);
		}
		ctl_table_print(t);
	}
	psb_event_list_free(&l);
	return (CTL_EXIT_OK);
}

// ---- platform / version ----

static int
ctl_platform(ctl_t *ctl, int argc, char **argv)
{
	static const struct option opts[] = {CTL_OUTPUT_OPT, CTL_END_OPT};
	psb_client_error_t         err;
	psb_platform_info_t        p;
	psb_client_t              *c;
	int                        rc = 0;

	if (ctl_getopt(ctl, argc, argv, ":o:", opts, &rc) != -1) {
		return (rc);
	}
	if (!ctl_args(argc, argv, 0, 0, &rc) ||
	        (c = ctl_client(ctl, &rc)) == NULL) {
		return (rc);
	}
	if (psb_client_platform(c, &p, &err) != 0) {
		return (ctl_api_error(&err));
	}
	if (ctl->json) {
		ctl_print_json(json_pack("{s:s,s:s,s:s}", "os", p.os,
		        "architecture", p.architecture, "variant", p.variant));
	} else {
		printf("OS: %s\nArchitecture: %s\nVariant: %s\n", p.os,
		        p.architecture, p.variant);
	}
	return (CTL_EXIT_OK);
}

static int
ctl_version(ctl_t *ctl, int argc, char **argv)
{
	static const struct option opts[] = {CTL_OUTPUT_OPT, CTL_END_OPT};
	psb_client_error_t         err;
	psb_daemon_version_t       v;
	psb_client_t              *c;
	int                        rc = 0;

	if (ctl_getopt(ctl, argc, argv, ":o:", opts, &rc) != -1) {
		return (rc);
	}
	if (!ctl_args(argc, argv, 0, 0, &rc) ||
	        (c = ctl_client(ctl, &rc)) == NULL) {
		return (rc);
	}
	if (psb_client_version(c, &v, &err) != 0) {
		if (!ctl->json) {
			printf("Client version: %s\n", PSB_VERSION);
		}
		return (ctl_api_error(&err));
	}
	if (ctl->json) {
		ctl_print_json(json_pack(
		        "{s:s,s:s,s:I,s:s,s:b,s:I,s:I,s:I,s:I}",
		        "clientVersion", PSB_VERSION, "daemonVersion",
		        v.version, "apiVersion", (json_int_t)v.api_version,
		        "runtime", v.runtime, "runtimeIsTestDouble",
		        v.runtime_is_test_double, "sandboxes",
		        (json_int_t)v.sandboxes, "newestSeq",
		        (json_int_t)v.newest_seq, "commitFailures",
		        (json_int_t)v.commit_failures, "missedExits",
		        (json_int_t)v.missed_exits));
	} else {
		printf("Client version: %s\n", PSB_VERSION);
		printf("Daemon version: %s\n", v.version);
		printf("API version: %u\n", v.api_version);
		printf("Runtime: %s%s\n", v.runtime,
		        v.runtime_is_test_double ? " (TEST DOUBLE)" : "");
		printf("Sandboxes: %llu\n", (unsigned long long)v.sandboxes);
		printf("Newest event: %llu\n",
		        (unsigned long long)v.newest_seq);
		printf("Commit failures: %llu\n",
		        (unsigned long long)v.commit_failures);
		printf("Exits found by resync: %llu\n",
		        (unsigned long long)v.missed_exits);
	}
	return (CTL_EXIT_OK);
}

const ctl_verb_t ctl_verbs[] = {
        {"run", ctl_run, "CONFIG.json [--id ID] [--runtime HANDLER]",
                "Create and start a sandbox from a crictl pod config; "
                "prints its id",
                "  --id ID              sandbox id (default: 32 random hex "
                "digits)\n"
                "  --runtime HANDLER    runtime handler (default: the "
                "daemon's)\n"},
        {"create", ctl_create, "CONFIG.json [--id ID] [--runtime HANDLER]",
                "Create a sandbox without starting it; prints its id",
                "  --id ID              sandbox id (default: 32 random hex "
                "digits)\n"
                "  --runtime HANDLER    runtime handler (default: the "
                "daemon's)\n"},
        {"start", ctl_start, "ID", "Start a created sandbox", NULL},
        {"stop", ctl_stop, "ID [--timeout SECS]", "Stop a sandbox",
                "  -t, --timeout SECS   answer DEADLINE_EXCEEDED after SECS "
                "(the stop goes on)\n"},
        {"rm", ctl_rm, "[-f] ID...",
                "Remove sandboxes (a running one is stopped first)",
                "  -f, --force          accepted for crictl compatibility\n"},
        {"status", ctl_status, "[-v] ID", "Show a sandbox's status",
                "  -v, --verbose        add the daemon's info JSON\n"},
        {"inspect", ctl_status, "[-v] ID", "Same as status",
                "  -v, --verbose        add the daemon's info JSON\n"},
        {"ls", ctl_ls, "[--state S] [--label K=V]... [-q]", "List sandboxes",
                "  --state STATE        only sandboxes in STATE (READY, "
                "EXITED, ...)\n"
                "  --label KEY=VALUE    only sandboxes with this label "
                "(repeatable)\n"
                "  -q, --quiet          print full ids only\n"
                "  --no-trunc           do not truncate ids\n"},
        {"wait", ctl_wait, "ID [--timeout MS]",
                "Wait for a sandbox to exit; prints its exit status",
                "  -t, --timeout MS     give up after MS milliseconds "
                "(default: wait for ever)\n"},
        {"events", ctl_events, "[--since SEQ] [--follow]",
                "Print the event journal, one line per transition",
                "  --since SEQ          only events after SEQ (default 0)\n"
                "  -f, --follow         then keep printing live events "
                "until Ctrl-C\n"},
        {"history", ctl_history, "ID", "Print one sandbox's transitions",
                NULL},
        {"platform", ctl_platform, "", "Print the daemon's platform", NULL},
        {"version", ctl_version, "",
                "Print client and daemon versions and the runtime", NULL},
        {NULL, NULL, NULL, NULL, NULL},
};

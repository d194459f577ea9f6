//
// podsandboxctl - the verbs that only show what the daemon knows: status
// (and inspect), ls, events (and events --follow), history, platform and
// version. Tables and text by default, -o json for scripts.
//

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podsandboxctl.h"

// ---- status / ls ----

int
ctl_status(ctl_t *ctl, const ctl_opts_t *o, char **args, int nargs)
{
	psb_client_error_t   err;
	psb_sandbox_status_t s;

	if (psb_client_status(ctl->c, args[0], o->verbose, &s, &err) != 0) {
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

// ctl_ls_table prints sandboxes as crictl pods does, plus the pod's
// primary IP last (empty without a pod network).
static void
ctl_ls_table(const psb_sandbox_status_t *v, size_t n, bool no_trunc)
{
	static const char *const hdr[] = {"SANDBOX ID", "CREATED", "STATE",
	        "NAME", "NAMESPACE", "RUNTIME", "IP"};
	ctl_table_t             *t     = ctl_table_new(7, hdr);

	for (size_t i = 0; i < n; i++) {
		char        ago[64];
		const char *row[] = {
		        ctl_trunc_id(v[i].sandbox_id, no_trunc),
		        ctl_time_ago(v[i].created_at, ago, sizeof(ago)),
		        v[i].state,
		        v[i].name,
		        v[i].namespace_,
		        *v[i].runtime_handler != '\0' ? v[i].runtime_handler
		                                      : "(default)",
		        v[i].ip,
		};
		ctl_table_add(t, row);
	}
	ctl_table_print(t);
}

int
ctl_ls(ctl_t *ctl, const ctl_opts_t *o, char **args, int nargs)
{
	psb_client_error_t    err;
	psb_sandbox_status_t *v = NULL;
	char                 *selector;
	size_t                n = 0;
	int                   rc;

	// Always a selector, "{}" for none.
	selector = o->labels != NULL ? json_dumps(o->labels, JSON_COMPACT)
	                             : strdup("{}");
	rc       = psb_client_list(ctl->c, o->state, selector, &v, &n, &err);
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
	} else if (o->quiet) {
		for (size_t i = 0; i < n; i++) {
			puts(v[i].sandbox_id);
		}
	} else {
		ctl_ls_table(v, n, o->no_trunc);
	}
	psb_sandbox_status_list_free(v, n);
	return (CTL_EXIT_OK);
}

// ---- events / history ----

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
ctl_follow(ctl_t *ctl, uint64_t since)
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
	if (psb_client_subscribe(ctl->c, ctl->events_socket, since,
	            ctl_follow_cb, NULL, &sub, &err) != 0) {
		return (ctl_api_error(&err));
	}
	sigwait(&set, &sig);
	psb_subscription_close(sub);
	return (CTL_EXIT_OK);
}

int
ctl_events(ctl_t *ctl, const ctl_opts_t *o, char **args, int nargs)
{
	psb_client_error_t err;
	ctl_events_t       out;
	uint64_t           since     = o->since;
	bool               truncated = false, more;

	if (o->follow) {
		return (ctl_follow(ctl, since));
	}
	// Page through the journal: `more` says the daemon stopped at its
	// limit, so ask again from the last seq received.
	ctl_events_init(&out, ctl->json, true);
	do {
		psb_event_list_t l;
		if (psb_client_events(ctl->c, since, 0, &l, &err) != 0) {
			json_decref(out.json);
			if (out.table != NULL) {
				ctl_table_print(out.table);
			}
			return (ctl_api_error(&err));
		}
		truncated = truncated || l.truncated;
		ctl_events_add(&out, &l);
		if (l.n > 0) {
			since = l.events[l.n - 1].seq;
		}
		more = l.more && l.n > 0;
		psb_event_list_free(&l);
	} while (more);
	if (out.json != NULL) {
		ctl_print_json(json_pack("{s:o,s:b}", "events", out.json,
		        "truncated", truncated));
	} else {
		ctl_table_print(out.table);
	}
	if (truncated) {
		fprintf(stderr, "podsandboxctl: warning: older events were "
		                "pruned from the journal\n");
	}
	return (CTL_EXIT_OK);
}

int
ctl_history(ctl_t *ctl, const ctl_opts_t *o, char **args, int nargs)
{
	psb_client_error_t err;
	psb_event_list_t   l;
	ctl_events_t       out;

	if (psb_client_history(ctl->c, args[0], &l, &err) != 0) {
		return (ctl_api_error(&err));
	}
	ctl_events_init(&out, ctl->json, false);
	ctl_events_add(&out, &l);
	psb_event_list_free(&l);
	if (out.json != NULL) {
		ctl_print_json(json_pack(
		        "{s:s,s:o}", "id", args[0], "events", out.json));
	} else {
		ctl_table_print(out.table);
	}
	return (CTL_EXIT_OK);
}

// ---- platform / version ----

int
ctl_platform(ctl_t *ctl, const ctl_opts_t *o, char **args, int nargs)
{
	psb_client_error_t  err;
	psb_platform_info_t p;

	if (psb_client_platform(ctl->c, &p, &err) != 0) {
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

int
ctl_version(ctl_t *ctl, const ctl_opts_t *o, char **args, int nargs)
{
	psb_client_error_t   err;
	psb_daemon_version_t v;

	// The client's own version is worth printing even when the daemon
	// does not answer.
	if (!ctl->json) {
		printf("Client version: %s\n", PSB_VERSION);
	}
	if (psb_client_version(ctl->c, &v, &err) != 0) {
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
		return (CTL_EXIT_OK);
	}
	printf("Daemon version: %s\n", v.version);
	printf("API version: %u\n", v.api_version);
	printf("Runtime: %s%s\n", v.runtime,
	        v.runtime_is_test_double ? " (TEST DOUBLE)" : "");
	printf("Sandboxes: %llu\n", (unsigned long long)v.sandboxes);
	printf("Newest event: %llu\n", (unsigned long long)v.newest_seq);
	printf("Commit failures: %llu\n",
	        (unsigned long long)v.commit_failures);
	printf("Exits found by resync: %llu\n",
	        (unsigned long long)v.missed_exits);
	return (CTL_EXIT_OK);
}

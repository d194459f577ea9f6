//
// podsandboxctl - output: JSON, times, aligned tables, and how a sandbox
// status and an event look in a table, as text and as JSON. The JSON keys
// are camelCase and stable (scripts read them); the tables follow
// crictl's.
//

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podsandboxctl.h"

void
ctl_print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s != NULL) {
		puts(s);
		free(s);
	}
	json_decref(j);
}

json_t *
ctl_json_parse(const char *text)
{
	json_t *j = text != NULL ? json_loads(text, 0, NULL) : NULL;
	return (j != NULL ? j : json_object());
}

const char *
ctl_time_iso(int64_t ns, char *buf, size_t size)
{
	time_t    t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (ns <= 0) {
		snprintf(buf, size, "-");
		return (buf);
	}
	gmtime_r(&t, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	        tm.tm_min, tm.tm_sec, (int)((ns / 1000000) % 1000));
	return (buf);
}

// ctl_time_ago follows crictl's (docker go-units) HumanDuration wording.
const char *
ctl_time_ago(int64_t ns, char *buf, size_t size)
{
	struct timespec now;
	int64_t         s;

	if (ns <= 0) {
		snprintf(buf, size, "-");
		return (buf);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	s = (int64_t)now.tv_sec - ns / 1000000000;
	if (s < 1) {
		snprintf(buf, size, "Less than a second ago");
	} else if (s == 1) {
		snprintf(buf, size, "1 second ago");
	} else if (s < 60) {
		snprintf(buf, size, "%lld seconds ago", (long long)s);
	} else if (s < 120) {
		snprintf(buf, size, "About a minute ago");
	} else if (s < 3600) {
		snprintf(buf, size, "%lld minutes ago", (long long)(s / 60));
	} else if (s < 7200) {
		snprintf(buf, size, "About an hour ago");
	} else if (s < 48 * 3600) {
		snprintf(buf, size, "%lld hours ago", (long long)(s / 3600));
	} else if (s < 14 * 86400) {
		snprintf(buf, size, "%lld days ago", (long long)(s / 86400));
	} else if (s < 60 * 86400) {
		snprintf(buf, size, "%lld weeks ago",
		        (long long)(s / (7 * 86400)));
	} else if (s < 2 * 365 * 86400) {
		snprintf(buf, size, "%lld months ago",
		        (long long)(s / (30 * 86400)));
	} else {
		snprintf(buf, size, "%lld years ago",
		        (long long)(s / (365 * 86400)));
	}
	return (buf);
}

const char *
ctl_trunc_id(const char *id, bool no_trunc)
{
	static char slots[4][16];
	static int  next;
	char       *b;

	if (no_trunc) {
		return (id);
	}
	b    = slots[next];
	next = (next + 1) % 4;
	snprintf(b, sizeof(slots[0]), "%.13s", id);
	return (b);
}

struct ctl_table {
	size_t  ncols;
	size_t  nrows;
	size_t  cap;
	char  **cells; // nrows * ncols, row 0 = headers
	size_t *width;
};

ctl_table_t *
ctl_table_new(size_t ncols, const char *const *headers)
{
	ctl_table_t *t = calloc(1, sizeof(*t));
	if (t == NULL || (t->width = calloc(ncols, sizeof(size_t))) == NULL) {
		abort();
	}
	t->ncols = ncols;
	ctl_table_add(t, headers);
	return (t);
}

void
ctl_table_add(ctl_table_t *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap == 0 ? 16 : t->cap * 2;
		t->cells =
		        realloc(t->cells, t->cap * t->ncols * sizeof(char *));
		if (t->cells == NULL) {
			abort();
		}
	}
	for (size_t i = 0; i < t->ncols; i++) {
		char *s = strdup(cells[i] != NULL ? cells[i] : "");
		if (s == NULL) {
			abort();
		}
		t->cells[t->nrows * t->ncols + i] = s;
		if (strlen(s) > t->width[i]) {
			t->width[i] = strlen(s);
		}
	}
	t->nrows++;
}

void
ctl_table_print(ctl_table_t *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		// Pad only up to the last non-empty cell: no trailing blanks.
		size_t last = 0;
		for (size_t i = 0; i < t->ncols; i++) {
			if (*t->cells[r * t->ncols + i] != '\0') {
				last = i;
			}
		}
		for (size_t i = 0; i < t->ncols; i++) {
			char *s = t->cells[r * t->ncols + i];
			if (i < last) {
				printf("%-*s   ", (int)t->width[i], s);
			} else if (i == last) {
				fputs(s, stdout);
			}
			free(s);
		}
		putchar('\n');
	}
	free(t->cells);
	free(t->width);
	free(t);
}

// ---- sandboxes and events ----

// The pod network's IPs as crictl shows them: "ip" is "" and
// "additionalIps" [] without a pod network.
json_t *
ctl_status_json(const psb_sandbox_status_t *s)
{
	json_t *more = json_array();

	for (size_t i = 0; i < s->n_additional_ips; i++) {
		json_array_append_new(more, json_string(s->additional_ips[i]));
	}
	return (json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:i,s:s,s:o,"
	                  "s:s,s:o}",
	        "id", s->sandbox_id, "name", s->name, "namespace",
	        s->namespace_, "state", s->state, "pid", (json_int_t)s->pid,
	        "generation", (json_int_t)s->generation, "createdAt",
	        (json_int_t)s->created_at, "startedAt",
	        (json_int_t)s->started_at, "exitedAt",
	        (json_int_t)s->exited_at, "exitStatus", (int)s->exit_status,
	        "runtimeHandler", s->runtime_handler, "labels",
	        ctl_json_parse(s->labels_json), "ip",
	        s->ip != NULL ? s->ip : "", "additionalIps", more));
}

void
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
	if (s->ip != NULL) {
		printf("IP: %s\n", s->ip);
	}
	if (s->n_additional_ips > 0) {
		printf("Additional IPs: ");
		for (size_t i = 0; i < s->n_additional_ips; i++) {
			printf("%s%s", i > 0 ? ", " : "",
			        s->additional_ips[i]);
		}
		putchar('\n');
	}
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

json_t *
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

void
ctl_events_init(ctl_events_t *o, bool json, bool with_id)
{
	const char *hdr[7];
	size_t      k = 0;

	memset(o, 0, sizeof(*o));
	o->with_id = with_id;
	if (json) {
		o->json = json_array();
		return;
	}
	hdr[k++] = "SEQ";
	hdr[k++] = "TIME";
	if (with_id) {
		hdr[k++] = "SANDBOX ID";
	}
	hdr[k++] = "FROM";
	hdr[k++] = "EVENT";
	hdr[k++] = "TO";
	hdr[k++] = "EXIT";
	o->table = ctl_table_new(k, hdr);
}

void
ctl_events_add(ctl_events_t *o, const psb_event_list_t *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (o->json != NULL) {
			json_array_append_new(
			        o->json, ctl_event_json(&l->events[i]));
		} else {
			ctl_event_row(o->table, &l->events[i], o->with_id);
		}
	}
}

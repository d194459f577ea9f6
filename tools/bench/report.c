//
// psb-bench - the JSON report of --json FILE: every suite run is a result,
// gathered in memory and written once at the end (see bench.h for the
// document's form). Main thread only.
//

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct strbuf {
	char  *p;
	size_t len;
	size_t cap;
} strbuf_t;

static struct {
	strbuf_t results; // the closed results, comma-separated
	strbuf_t head;    // the open result's runtime fields
	strbuf_t params;  // ... its parameters, comma-separated
	strbuf_t figures; // ... its figures
	strbuf_t notes;   // ... its notes
	char     suite[32];
	char     skipped[256];
	bool     open;
} rep;

static void sb_add(strbuf_t *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
sb_add(strbuf_t *b, const char *fmt, ...)
{
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return;
	}
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 256) + (size_t)n;
		char  *p   = realloc(b->p, cap);

		if (p == NULL) {
			fprintf(stderr, "psb-bench: out of memory\n");
			exit(1);
		}
		b->p   = p;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

// sb_sep adds ", " unless b is empty.
static void
sb_sep(strbuf_t *b)
{
	if (b->len > 0) {
		sb_add(b, ", ");
	}
}

// sb_str adds s as a JSON string.
static void
sb_str(strbuf_t *b, const char *s)
{
	sb_add(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			sb_add(b, "\\%c", *p);
		} else if (*p < 0x20) {
			sb_add(b, "\\u%04x", *p);
		} else {
			sb_add(b, "%c", *p);
		}
	}
	sb_add(b, "\"");
}

static void
sb_reset(strbuf_t *b)
{
	b->len = 0;
	if (b->p != NULL) {
		b->p[0] = '\0';
	}
}

static const char *
sb_text(const strbuf_t *b)
{
	return (b->p != NULL ? b->p : "");
}

void
report_begin(const char *suite)
{
	snprintf(rep.suite, sizeof(rep.suite), "%s", suite);
	rep.skipped[0] = '\0';
	sb_reset(&rep.head);
	sb_reset(&rep.params);
	sb_reset(&rep.figures);
	sb_reset(&rep.notes);
	rep.open = true;
}

void
report_runtime(const psb_daemon_version_t *v)
{
	if (!rep.open) {
		return;
	}
	sb_reset(&rep.head);
	sb_add(&rep.head, ", \"runtime\": ");
	sb_str(&rep.head, v->runtime);
	sb_add(&rep.head, ", \"runtime_is_test_double\": %s",
	        v->runtime_is_test_double ? "true" : "false");
	sb_add(&rep.head, ", \"daemon_version\": ");
	sb_str(&rep.head, v->version);
}

void
report_param_int(const char *key, long value)
{
	sb_sep(&rep.params);
	sb_str(&rep.params, key);
	sb_add(&rep.params, ": %ld", value);
}

void
report_param_str(const char *key, const char *value)
{
	sb_sep(&rep.params);
	sb_str(&rep.params, key);
	sb_add(&rep.params, ": ");
	if (value == NULL) {
		sb_add(&rep.params, "null");
	} else {
		sb_str(&rep.params, value);
	}
}

void
report_param_ints(const char *key, const int *v, size_t n)
{
	sb_sep(&rep.params);
	sb_str(&rep.params, key);
	sb_add(&rep.params, ": [");
	for (size_t i = 0; i < n; i++) {
		sb_add(&rep.params, "%s%d", i > 0 ? ", " : "", v[i]);
	}
	sb_add(&rep.params, "]");
}

static void
fig_begin(const char *name, int clients, const char *unit)
{
	sb_add(&rep.figures,
	        "%s\n      {\"name\": ", rep.figures.len > 0 ? "," : "");
	sb_str(&rep.figures, name);
	if (clients >= 0) {
		sb_add(&rep.figures, ", \"clients\": %d", clients);
	}
	sb_add(&rep.figures, ", \"unit\": ");
	sb_str(&rep.figures, unit);
}

static void
fig_num(const char *key, int64_t ns, double scale)
{
	if (ns < 0) {
		sb_add(&rep.figures, ", \"%s\": null", key);
	} else {
		sb_add(&rep.figures, ", \"%s\": %.3f", key,
		        (double)ns / scale);
	}
}

void
report_dist(const char *name, int clients, const char *unit, double scale,
        const int64_t *v, size_t n)
{
	fig_begin(name, clients, unit);
	sb_add(&rep.figures, ", \"samples\": %zu", n);
	fig_num("median", n > 0 ? pct(v, n, 50) : -1, scale);
	fig_num("p90", pct(v, n, 90), scale);
	fig_num("p99", pct(v, n, 99), scale);
	fig_num("max", n > 0 ? v[n - 1] : -1, scale);
	sb_add(&rep.figures, "}");
}

void
report_value(const char *name, int clients, const char *unit, double v)
{
	fig_begin(name, clients, unit);
	sb_add(&rep.figures, ", \"value\": %.3f}", v);
}

void
report_note(const char *fmt, ...)
{
	char    buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sb_sep(&rep.notes);
	sb_str(&rep.notes, buf);
}

void
report_skip(const char *why)
{
	snprintf(rep.skipped, sizeof(rep.skipped), "%s", why);
}

void
report_end(int rv)
{
	strbuf_t *r = &rep.results;

	if (!rep.open) {
		return;
	}
	rep.open = false;
	sb_add(r, "%s\n    {\"suite\": ", r->len > 0 ? "," : "");
	sb_str(r, rep.suite);
	sb_add(r, ", \"status\": \"%s\"",
	        rv != 0                  ? "failed"
	        : rep.skipped[0] != '\0' ? "skipped"
	                                 : "ok");
	if (rep.skipped[0] != '\0') {
		sb_add(r, ", \"skipped\": ");
		sb_str(r, rep.skipped);
	}
	sb_add(r, "%s,\n     \"parameters\": {%s},\n     \"figures\": [%s]",
	        sb_text(&rep.head), sb_text(&rep.params),
	        sb_text(&rep.figures));
	if (rep.notes.len > 0) {
		sb_add(r, ",\n     \"notes\": [%s]", sb_text(&rep.notes));
	}
	sb_add(r, "}");
}

int
report_write(FILE *f, const char *path, const char *url)
{
	strbuf_t doc = {NULL, 0, 0};
	int      rv  = 0;

	sb_add(&doc, "{\"tool\": \"psb-bench\", \"format\": 1, \"socket\": ");
	sb_str(&doc, url);
	sb_add(&doc, ",\n  \"results\": [%s\n  ]}\n", sb_text(&rep.results));
	if (fwrite(doc.p, 1, doc.len, f) != doc.len) {
		rv = -1;
	}
	if (fclose(f) != 0) {
		rv = -1;
	}
	if (rv != 0) {
		fprintf(stderr, "psb-bench: cannot write %s: %s\n", path,
		        strerror(errno));
	}
	free(doc.p);
	return (rv);
}

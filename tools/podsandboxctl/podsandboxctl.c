//
// podsandboxctl - the command-line client of podsandboxd (crictl-like
// verbs over libpodsandbox). This file: global options, help, exit codes
// and the output helpers shared by the verbs in verbs.c.
//

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podsandboxctl.h"

#define CTL_DEFAULT_TIMEOUT_MS 10000

static const char ctl_global_help[] =
        "Usage: podsandboxctl [GLOBAL OPTIONS] VERB [ARGS...]\n"
        "\n"
        "Controls pod sandboxes through podsandboxd.\n"
        "\n"
        "Global options:\n"
        "  --socket URL         API socket (env PODSANDBOX_SOCKET; default\n"
        "                       " PSB_CLIENT_DEFAULT_URL ")\n"
        "  --events-socket URL  event socket for 'events --follow' (env\n"
        "                       PODSANDBOX_EVENTS_SOCKET; default\n"
        "                       " PSB_CLIENT_DEFAULT_EVENTS_URL ")\n"
        "  --timeout MS         give up on a call after MS milliseconds\n"
        "                       (default 10000; 0 = no limit)\n"
        "  -o, --output FORMAT  table (default) or json; also accepted\n"
        "                       after the verb\n"
        "  -h, --help           this help; 'podsandboxctl help VERB' for "
        "a verb\n"
        "  --version            print the client version\n";

static const char ctl_exit_help[] =
        "\n"
        "Exit status:\n"
        "  0  success\n"
        "  1  the call failed (any API error, or a bad pod config file)\n"
        "  2  usage error (bad command line)\n"
        "  3  UNAVAILABLE: podsandboxd, or containerd behind it, is not\n"
        "     reachable; worth retrying\n"
        "\n"
        "Errors go to stderr as 'podsandboxctl: CODE: message'.\n";

static void
ctl_help_all(FILE *f)
{
	fputs(ctl_global_help, f);
	fputs("\nVerbs:\n", f);
	for (const ctl_verb_t *v = ctl_verbs; v->name != NULL; v++) {
		fprintf(f, "  %-9s %s\n", v->name, v->summary);
	}
	fputs(ctl_exit_help, f);
}

static const ctl_verb_t *
ctl_find_verb(const char *name)
{
	for (const ctl_verb_t *v = ctl_verbs; v->name != NULL; v++) {
		if (strcmp(v->name, name) == 0) {
			return (v);
		}
	}
	return (NULL);
}

static void
ctl_help_verb(const ctl_verb_t *v, FILE *f)
{
	fprintf(f, "Usage: podsandboxctl [GLOBAL OPTIONS] %s%s%s\n\n%s\n",
	        v->name, *v->args != '\0' ? " " : "", v->args, v->summary);
	fputs("\nOptions:\n", f);
	if (v->help != NULL) {
		fputs(v->help, f);
	}
	fputs("  -o, --output FORMAT  table (default) or json\n"
	      "  -h, --help           this help\n",
	        f);
	fputs(ctl_exit_help, f);
}

static int
ctl_help_cmd(int argc, char **argv)
{
	const ctl_verb_t *v;

	if (argc < 2) {
		ctl_help_all(stdout);
		return (CTL_EXIT_OK);
	}
	if ((v = ctl_find_verb(argv[1])) == NULL) {
		return (ctl_usage(NULL, "unknown verb '%s'", argv[1]));
	}
	ctl_help_verb(v, stdout);
	return (CTL_EXIT_OK);
}

// ---- shared helpers ----

psb_client_t *
ctl_client(ctl_t *ctl, int *rc)
{
	psb_client_error_t err;

	if (ctl->c != NULL) {
		return (ctl->c);
	}
	if (psb_client_open(ctl->socket, &ctl->c, &err) != 0) {
		*rc = ctl_api_error(&err);
		return (NULL);
	}
	psb_client_set_timeout(ctl->c, ctl->timeout_ms);
	return (ctl->c);
}

int
ctl_api_error(const psb_client_error_t *err)
{
	fprintf(stderr, "podsandboxctl: %s: %s\n", psb_code_name(err->code),
	        err->message);
	return (err->code == PSB_CODE_UNAVAILABLE ? CTL_EXIT_UNAVAILABLE
	                                          : CTL_EXIT_API);
}

int
ctl_usage(const char *verb, const char *fmt, ...)
{
	va_list ap;

	fputs("podsandboxctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun 'podsandboxctl help%s%s' for usage.\n",
	        verb != NULL ? " " : "", verb != NULL ? verb : "");
	return (CTL_EXIT_USAGE);
}

bool
ctl_parse_output(ctl_t *ctl, const char *value)
{
	if (strcmp(value, "json") == 0) {
		ctl->json = true;
	} else if (strcmp(value, "table") == 0) {
		ctl->json = false;
	} else {
		return (false);
	}
	return (true);
}

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

bool
ctl_parse_u64(const char *s, uint64_t *out)
{
	char              *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9') {
		return (false);
	}
	errno = 0;
	v     = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		return (false);
	}
	*out = v;
	return (true);
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

// ---- main ----

int
main(int argc, char **argv)
{
	enum { OPT_SOCKET = 256, OPT_EVENTS, OPT_TIMEOUT, OPT_VERSION };
	static const struct option opts[] = {
	        {"socket", required_argument, NULL, OPT_SOCKET},
	        {"events-socket", required_argument, NULL, OPT_EVENTS},
	        {"timeout", required_argument, NULL, OPT_TIMEOUT},
	        {"output", required_argument, NULL, 'o'},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, OPT_VERSION},
	        {NULL, 0, NULL, 0},
	};
	ctl_t             ctl = {0};
	const ctl_verb_t *v;
	uint64_t          n;
	int               opt;
	int               rc;

	ctl.socket        = getenv("PODSANDBOX_SOCKET");
	ctl.events_socket = getenv("PODSANDBOX_EVENTS_SOCKET");
	ctl.timeout_ms    = CTL_DEFAULT_TIMEOUT_MS;
	opterr            = 0;
	// "+": stop at the verb; its options are parsed by the verb.
	while ((opt = getopt_long(argc, argv, "+:o:h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_SOCKET: ctl.socket = optarg; break;
		case OPT_EVENTS: ctl.events_socket = optarg; break;
		case OPT_TIMEOUT:
			if (!ctl_parse_u64(optarg, &n) || n > INT32_MAX) {
				return (ctl_usage(NULL,
				        "--timeout: expected milliseconds, "
				        "got "
				        "'%s'",
				        optarg));
			}
			ctl.timeout_ms = (int)n;
			break;
		case 'o':
			if (!ctl_parse_output(&ctl, optarg)) {
				return (ctl_usage(NULL,
				        "--output: expected table or json, "
				        "got "
				        "'%s'",
				        optarg));
			}
			break;
		case 'h': ctl_help_all(stdout); return (CTL_EXIT_OK);
		case OPT_VERSION:
			printf("podsandboxctl %s\n", PSB_VERSION);
			return (CTL_EXIT_OK);
		case ':':
			return (ctl_usage(
			        NULL, "%s needs a value", argv[optind - 1]));
		default:
			return (ctl_usage(NULL, "unknown option '%s'",
			        argv[optind - 1]));
		}
	}
	if (optind >= argc) {
		return (ctl_usage(NULL, "no verb given"));
	}
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "help") == 0) {
		return (ctl_help_cmd(argc, argv));
	}
	if ((v = ctl_find_verb(argv[0])) == NULL) {
		return (ctl_usage(NULL, "unknown verb '%s'", argv[0]));
	}
	// -h anywhere among the verb's arguments is its help.
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		        strcmp(argv[i], "--help") == 0) {
			ctl_help_verb(v, stdout);
			return (CTL_EXIT_OK);
		}
	}
	// 0, not 1: glibc then re-reads the optstring (the verbs permute
	// options after their arguments; the global parse did not).
	optind = 0;
	rc     = v->fn(&ctl, argc, argv);
	psb_client_close(ctl.c);
	return (rc);
}

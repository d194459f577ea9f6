//
// podsandboxctl - the command-line client of podsandboxd (crictl-like
// verbs over libpodsandbox). This file: the global options, help, and how
// errors become messages and exit codes.
//

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
ctl_opt_output(ctl_t *ctl, const char *verb, const char *value, int *rc)
{
	if (strcmp(value, "json") == 0) {
		ctl->json = true;
	} else if (strcmp(value, "table") == 0) {
		ctl->json = false;
	} else {
		*rc = ctl_usage(verb,
		        "--output: expected table or json, got '%s'", value);
		return (false);
	}
	return (true);
}

static bool
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

bool
ctl_opt_number(const char *verb, const char *opt, const char *value,
        const char *what, uint64_t max, uint64_t *out, int *rc)
{
	if (ctl_parse_u64(value, out) && *out <= max) {
		return (true);
	}
	*rc = ctl_usage(verb, "%s: expected %s, got '%s'", opt, what, value);
	return (false);
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
			if (!ctl_opt_number(NULL, "--timeout", optarg,
			            "milliseconds", INT32_MAX, &n, &rc)) {
				return (rc);
			}
			ctl.timeout_ms = (int)n;
			break;
		case 'o':
			if (!ctl_opt_output(&ctl, NULL, optarg, &rc)) {
				return (rc);
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
	rc = ctl_verb_main(&ctl, v, argc, argv);
	psb_client_close(ctl.c);
	return (rc);
}

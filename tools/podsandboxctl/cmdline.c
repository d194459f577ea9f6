//
// podsandboxctl - the verbs' command lines: the verb table (what each verb
// takes, and its help) and the one parser that reads every verb's options
// and arguments from it, so that a verb's function starts with its values
// checked and the client open.
//

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podsandboxctl.h"

#define OPT(field) offsetof(ctl_opts_t, field)

// The most options a verb declares (the parser's arrays are this big).
#define CTL_MAX_OPTS 8

static const ctl_optdef_t cl_create_opts[] = {
        {"id", 0, CTL_OPT_STRING, OPT(id), 0, NULL},
        {"runtime", 0, CTL_OPT_STRING, OPT(runtime), 0, NULL},
        {"netns", 0, CTL_OPT_STRING, OPT(netns), 0, NULL},
        {NULL, 0, 0, 0, 0, NULL},
};

static const ctl_optdef_t cl_status_opts[] = {
        {"verbose", 'v', CTL_OPT_FLAG, OPT(verbose), 0, NULL},
        {NULL, 0, 0, 0, 0, NULL},
};

// Help lines that two rows share.
#define CL_CREATE_HELP                                                        \
	"  --id ID              sandbox id (default: 32 random hex digits)\n" \
	"  --runtime HANDLER    runtime handler (default: the daemon's)\n"    \
	"  --netns PATH         join this network namespace, made by the\n"   \
	"                       caller (an absolute path; network POD pods\n" \
	"                       only): the daemon then neither makes nor\n"   \
	"                       removes one and runs no CNI (default: the\n"  \
	"                       daemon makes the pod's own)\n"
#define CL_STATUS_HELP "  -v, --verbose        add the daemon's info JSON\n"

// In the order `podsandboxctl help` lists them. min_args/max_args bound
// the positional arguments (-1: any number).
const ctl_verb_t ctl_verbs[] = {
        {
                .name     = "run",
                .fn       = ctl_run,
                .opts     = cl_create_opts,
                .min_args = 1,
                .max_args = 1,
                // The config file is read (and judged) first.
                .own_client = true,
                .args       = "CONFIG.json [--id ID] [--runtime HANDLER] "
                              "[--netns PATH]",
                .summary    = "Create and start a sandbox from a crictl pod "
                              "config; prints its id",
                .help       = CL_CREATE_HELP,
        },
        {
                .name       = "create",
                .fn         = ctl_create,
                .opts       = cl_create_opts,
                .min_args   = 1,
                .max_args   = 1,
                .own_client = true,
                .args       = "CONFIG.json [--id ID] [--runtime HANDLER] "
                              "[--netns PATH]",
                .summary    = "Create a sandbox without starting it; prints "
                              "its id",
                .help       = CL_CREATE_HELP,
        },
        {
                .name     = "start",
                .fn       = ctl_start,
                .min_args = 1,
                .max_args = 1,
                .args     = "ID",
                .summary  = "Start a created sandbox",
        },
        {
                .name = "stop",
                .fn   = ctl_stop,
                .opts =
                        (const ctl_optdef_t[]) {
                                {"timeout", 't', CTL_OPT_NUMBER, OPT(timeout),
                                        UINT32_MAX, "seconds"},
                                {NULL, 0, 0, 0, 0, NULL},
                        },
                .min_args = 1,
                .max_args = 1,
                .args     = "ID [--timeout SECS]",
                .summary  = "Stop a sandbox",
                .help     = "  -t, --timeout SECS   answer "
                            "DEADLINE_EXCEEDED after SECS (the stop goes "
                            "on)\n",
        },
        {
                .name = "rm",
                .fn   = ctl_rm,
                // -f for crictl's sake: Shutdown always stops a running
                // sandbox first.
                .opts =
                        (const ctl_optdef_t[]) {
                                {"force", 'f', CTL_OPT_FLAG, OPT(force), 0,
                                        NULL},
                                {NULL, 0, 0, 0, 0, NULL},
                        },
                .min_args = 1,
                .max_args = -1,
                .args     = "[-f] ID...",
                .summary  = "Remove sandboxes (a running one is stopped "
                            "first)",
                .help     = "  -f, --force          accepted for crictl "
                            "compatibility\n",
        },
        {
                .name     = "status",
                .fn       = ctl_status,
                .opts     = cl_status_opts,
                .min_args = 1,
                .max_args = 1,
                .args     = "[-v] ID",
                .summary  = "Show a sandbox's status",
                .help     = CL_STATUS_HELP,
        },
        {
                .name     = "inspect",
                .fn       = ctl_status,
                .opts     = cl_status_opts,
                .min_args = 1,
                .max_args = 1,
                .args     = "[-v] ID",
                .summary  = "Same as status",
                .help     = CL_STATUS_HELP,
        },
        {
                .name = "ls",
                .fn   = ctl_ls,
                .opts =
                        (const ctl_optdef_t[]) {
                                {"state", 0, CTL_OPT_STATE, 0, 0, NULL},
                                {"label", 0, CTL_OPT_LABEL, 0, 0, NULL},
                                {"quiet", 'q', CTL_OPT_FLAG, OPT(quiet), 0,
                                        NULL},
                                {"no-trunc", 0, CTL_OPT_FLAG, OPT(no_trunc), 0,
                                        NULL},
                                {NULL, 0, 0, 0, 0, NULL},
                        },
                .args    = "[--state S] [--label K=V]... [-q]",
                .summary = "List sandboxes",
                .help    = "  --state STATE        only sandboxes in STATE "
                           "(READY, EXITED, ...)\n"
                           "  --label KEY=VALUE    only sandboxes with this "
                           "label (repeatable)\n"
                           "  -q, --quiet          print full ids only\n"
                           "  --no-trunc           do not truncate ids\n",
        },
        {
                .name = "wait",
                .fn   = ctl_wait,
                .opts =
                        (const ctl_optdef_t[]) {
                                {"timeout", 't', CTL_OPT_NUMBER, OPT(timeout),
                                        INT32_MAX - 2000, "milliseconds"},
                                {NULL, 0, 0, 0, 0, NULL},
                        },
                .min_args = 1,
                .max_args = 1,
                .args     = "ID [--timeout MS]",
                .summary  = "Wait for a sandbox to exit; prints its exit "
                            "status",
                .help     = "  -t, --timeout MS     give up after MS "
                            "milliseconds (default: wait for ever)\n",
        },
        {
                .name = "events",
                .fn   = ctl_events,
                .opts =
                        (const ctl_optdef_t[]) {
                                {"since", 0, CTL_OPT_NUMBER, OPT(since),
                                        UINT64_MAX, "a sequence number"},
                                {"follow", 'f', CTL_OPT_FLAG, OPT(follow), 0,
                                        NULL},
                                {NULL, 0, 0, 0, 0, NULL},
                        },
                .args    = "[--since SEQ] [--follow]",
                .summary = "Print the event journal, one line per "
                           "transition",
                .help    = "  --since SEQ          only events after SEQ "
                           "(default 0)\n"
                           "  -f, --follow         then keep printing live "
                           "events until Ctrl-C\n",
        },
        {
                .name     = "history",
                .fn       = ctl_history,
                .min_args = 1,
                .max_args = 1,
                .args     = "ID",
                .summary  = "Print one sandbox's transitions",
        },
        {
                .name    = "platform",
                .fn      = ctl_platform,
                .args    = "",
                .summary = "Print the daemon's platform",
        },
        {
                .name    = "version",
                .fn      = ctl_version,
                .args    = "",
                .summary = "Print client and daemon versions and the "
                           "runtime",
        },
        {.name = NULL},
};

// cl_set stores the value of option d in *o; false after the usage error
// (*rc).
static bool
cl_set(const char *verb, const ctl_optdef_t *d, char *value, ctl_opts_t *o,
        int *rc)
{
	char *field = (char *)o + d->off;
	char  name[40];
	char *eq;

	snprintf(name, sizeof(name), "--%s", d->name);
	switch (d->kind) {
	case CTL_OPT_FLAG: *(bool *)(void *)field = true; break;
	case CTL_OPT_STRING: *(const char **)(void *)field = value; break;
	case CTL_OPT_NUMBER:
		return (ctl_opt_number(verb, name, value, d->what, d->max,
		        (uint64_t *)(void *)field, rc));
	case CTL_OPT_STATE:
		snprintf(o->state, sizeof(o->state), "%s", value);
		for (char *p = o->state; *p != '\0'; p++) {
			*p = (char)toupper((unsigned char)*p);
		}
		break;
	case CTL_OPT_LABEL:
		if ((eq = strchr(value, '=')) == NULL || eq == value) {
			*rc = ctl_usage(verb,
			        "%s: expected KEY=VALUE, got '%s'", name,
			        value);
			return (false);
		}
		*eq = '\0';
		if (o->labels == NULL) {
			o->labels = json_object();
		}
		json_object_set_new(o->labels, value, json_string(eq + 1));
		break;
	}
	return (true);
}

// cl_find returns the option getopt_long reported as opt (see cl_parse).
static const ctl_optdef_t *
cl_find(const ctl_verb_t *v, int opt)
{
	const ctl_optdef_t *d = v->opts;

	if (opt >= 256) {
		return (&d[opt - 256]);
	}
	while (d->letter != opt) {
		d++; // getopt_long reports only the letters we gave it
	}
	return (d);
}

// cl_parse reads v's options into *o and leaves optind at the first
// positional argument. The getopt tables are made from v->opts: long
// options report 256 + their index, short ones their letter.
static bool
cl_parse(ctl_t *ctl, const ctl_verb_t *v, int argc, char **argv, ctl_opts_t *o,
        int *rc)
{
	struct option       longopts[CTL_MAX_OPTS + 2];
	char                shortopts[2 * CTL_MAX_OPTS + 4] = ":o:";
	const ctl_optdef_t *d;
	size_t              n = 0, k = strlen(shortopts);
	int                 opt;

	for (d = v->opts; d != NULL && d->name != NULL; d++, n++) {
		bool flag = d->kind == CTL_OPT_FLAG;
		if (n == CTL_MAX_OPTS) {
			abort(); // a row declares more than the arrays hold
		}
		longopts[n] = (struct option) {d->name,
		        flag ? no_argument : required_argument, NULL,
		        256 + (int)n};
		if (d->letter != 0) {
			shortopts[k++] = d->letter;
			if (!flag) {
				shortopts[k++] = ':';
			}
		}
	}
	longopts[n++] =
	        (struct option) {"output", required_argument, NULL, 'o'};
	longopts[n]  = (struct option) {NULL, 0, NULL, 0};
	shortopts[k] = '\0';
	// 0, not 1: glibc then re-reads the optstring (the verbs permute
	// options after their arguments; the global parse did not).
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) !=
	        -1) {
		if (opt == 'o') {
			if (!ctl_opt_output(ctl, argv[0], optarg, rc)) {
				return (false);
			}
			continue;
		}
		if (opt == ':') {
			*rc = ctl_usage(
			        argv[0], "%s needs a value", argv[optind - 1]);
			return (false);
		}
		if (opt == '?') {
			*rc = ctl_usage(argv[0], "unknown option '%s'",
			        argv[optind - 1]);
			return (false);
		}
		if (!cl_set(argv[0], cl_find(v, opt), optarg, o, rc)) {
			return (false);
		}
	}
	return (true);
}

int
ctl_verb_main(ctl_t *ctl, const ctl_verb_t *v, int argc, char **argv)
{
	ctl_opts_t o = {0};
	int        rc;
	int        n;

	if (!cl_parse(ctl, v, argc, argv, &o, &rc)) {
		goto out;
	}
	n = argc - optind;
	if (n < v->min_args) {
		rc = ctl_usage(argv[0], "missing argument");
	} else if (v->max_args >= 0 && n > v->max_args) {
		rc = ctl_usage(argv[0], "unexpected argument '%s'",
		        argv[optind + v->max_args]);
	} else if (v->own_client || ctl_client(ctl, &rc) != NULL) {
		rc = v->fn(ctl, &o, argv + optind, n);
	}
out:
	json_decref(o.labels);
	return (rc);
}

//
// podsandboxctl - shared between the CLI's files: the driver
// (podsandboxctl.c: global options, help, errors), the verb table and
// its command-line parser (cmdline.c), the output (output.c) and the verbs
// (verbs.c: the sandbox lifecycle; show.c: what the daemon knows).
//

#ifndef PSB_PODSANDBOXCTL_H
#define PSB_PODSANDBOXCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "podsandbox.h"

// Exit codes (documented in --help).
enum {
	CTL_EXIT_OK          = 0,
	CTL_EXIT_API         = 1, // the call failed (any API code)
	CTL_EXIT_USAGE       = 2, // bad command line
	CTL_EXIT_UNAVAILABLE = 3, // podsandboxd not reachable
};

typedef struct ctl {
	const char   *socket;        // API URL
	const char   *events_socket; // PUB URL
	int           timeout_ms;
	bool          json;
	psb_client_t *c; // opened by ctl_client()
} ctl_t;

// What the options after a verb set. Each verb reads the fields of the
// options its row in the verb table declares; the rest stay zero.
typedef struct ctl_opts {
	const char *id;        // run, create: --id
	const char *runtime;   // run, create: --runtime
	const char *netns;     // run, create: --netns
	uint64_t    timeout;   // stop: --timeout SECS; wait: --timeout MS
	uint64_t    since;     // events: --since
	bool        verbose;   // status: -v
	bool        force;     // rm: -f (accepted, changes nothing)
	bool        quiet;     // ls: -q
	bool        no_trunc;  // ls: --no-trunc
	bool        follow;    // events: -f
	char        state[32]; // ls: --state, upper-cased
	json_t     *labels;    // ls: --label KEY=VALUE..., or NULL
} ctl_opts_t;

// How an option's value is stored.
typedef enum ctl_optkind {
	CTL_OPT_FLAG,   // no value; sets a bool
	CTL_OPT_STRING, // sets a const char * (borrowed from argv)
	CTL_OPT_NUMBER, // a decimal number up to max, into a uint64_t
	CTL_OPT_STATE,  // a state name into ctl_opts.state, upper-cased
	CTL_OPT_LABEL,  // KEY=VALUE added to ctl_opts.labels
} ctl_optkind_t;

typedef struct ctl_optdef {
	const char   *name;   // the long name, without "--"
	char          letter; // the short option, or 0 for none
	ctl_optkind_t kind;
	size_t        off;  // FLAG, STRING, NUMBER: offsetof(ctl_opts_t, ...)
	uint64_t      max;  // NUMBER: the largest value
	const char   *what; // NUMBER: what the value is, for the usage error
} ctl_optdef_t;

// A verb gets its positional arguments (args[0..nargs-1], within the
// row's bounds), its options, and ctl->c already open unless the row says
// own_client; it returns an exit code.
typedef int ctl_verb_fn(
        ctl_t *ctl, const ctl_opts_t *o, char **args, int nargs);

typedef struct ctl_verb {
	const char         *name;
	ctl_verb_fn        *fn;
	const ctl_optdef_t *opts; // ends with a NULL name; NULL: none
	int                 min_args;
	int                 max_args;   // -1: any number
	bool                own_client; // the verb calls ctl_client itself
	const char         *args;       // "CONFIG.json [--id ID] ..."
	const char         *summary;    // one line
	const char         *help;       // option lines, or NULL
} ctl_verb_t;

extern const ctl_verb_t ctl_verbs[];

// ctl_verb_main parses v's options and arguments (argv[0] = the verb's
// name), opens the client and runs the verb. Returns the exit code.
int ctl_verb_main(ctl_t *ctl, const ctl_verb_t *v, int argc, char **argv);

// The verbs: verbs.c changes sandboxes, show.c shows them.
ctl_verb_fn ctl_run, ctl_create, ctl_start, ctl_stop, ctl_rm, ctl_wait;
ctl_verb_fn ctl_status, ctl_ls, ctl_events, ctl_history, ctl_platform,
        ctl_version;

// ---- the driver (podsandboxctl.c) ----

// ctl_client opens the client on first use; NULL after printing the
// error (*rc then holds the exit code).
psb_client_t *ctl_client(ctl_t *ctl, int *rc);

// ctl_api_error prints "podsandboxctl: CODE: message" and returns the
// exit code for it.
int ctl_api_error(const psb_client_error_t *err);

// ctl_usage prints "podsandboxctl: <msg>" and a pointer to the verb's
// help (verb NULL: the global help), and returns CTL_EXIT_USAGE.
int ctl_usage(const char *verb, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

// ctl_opt_output handles -o/--output VALUE (before or after the verb);
// false after the usage error (*rc).
bool ctl_opt_output(ctl_t *ctl, const char *verb, const char *value, int *rc);

// ctl_opt_number parses the decimal VALUE of option `opt` (at most max;
// `what` it is goes in the error); false after the usage error (*rc).
bool ctl_opt_number(const char *verb, const char *opt, const char *value,
        const char *what, uint64_t max, uint64_t *out, int *rc);

// ---- output (output.c) ----

// ctl_print_json prints j (taken) indented, with a newline.
void ctl_print_json(json_t *j);

// ctl_json_parse parses a JSON text (NULL/invalid → empty object).
json_t *ctl_json_parse(const char *text);

// Time helpers: ago() → "3 minutes ago" into buf; iso() → RFC 3339.
const char *ctl_time_ago(int64_t ns, char *buf, size_t size);
const char *ctl_time_iso(int64_t ns, char *buf, size_t size);

// A table with aligned columns (crictl style: 3 spaces between columns).
typedef struct ctl_table ctl_table_t;
ctl_table_t *ctl_table_new(size_t ncols, const char *const *headers);
void         ctl_table_add(ctl_table_t *t, const char *const *cells);
void         ctl_table_print(ctl_table_t *t); // and free

// ctl_trunc_id returns id cut to 13 characters (static storage, one of 4
// rotating slots) unless no_trunc.
const char *ctl_trunc_id(const char *id, bool no_trunc);

// A sandbox status as JSON (new reference), and as "Key: value" lines.
json_t *ctl_status_json(const psb_sandbox_status_t *s);
void    ctl_status_human(const psb_sandbox_status_t *s);

// An event as JSON (new reference).
json_t *ctl_event_json(const psb_event_t *e);

// An event listing being filled, page by page: with -o json a JSON array
// (json), else a table (table) with a SANDBOX ID column if with_id. The
// caller prints or releases whichever is set.
typedef struct ctl_events {
	json_t      *json;
	ctl_table_t *table;
	bool         with_id;
} ctl_events_t;
void ctl_events_init(ctl_events_t *o, bool json, bool with_id);
void ctl_events_add(ctl_events_t *o, const psb_event_list_t *l);

#endif // PSB_PODSANDBOXCTL_H

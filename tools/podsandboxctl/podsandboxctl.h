//
// podsandboxctl - shared between the CLI's driver (podsandboxctl.c: global
// options, help, output helpers) and its verbs (verbs.c).
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

// A verb gets argv with argv[0] = the verb name and returns an exit code.
typedef struct ctl_verb {
	const char *name;
	int (*fn)(ctl_t *ctl, int argc, char **argv);
	const char *args;    // "CONFIG.json [--id ID] ..."
	const char *summary; // one line
	const char *help;    // option lines, or NULL
} ctl_verb_t;

extern const ctl_verb_t ctl_verbs[];

// ctl_client opens the client on first use; NULL after printing the
// error (*rc then holds the exit code).
psb_client_t *ctl_client(ctl_t *ctl, int *rc);

// ctl_api_error prints "podsandboxctl: CODE: message" and returns the
// exit code for it.
int ctl_api_error(const psb_client_error_t *err);

// ctl_usage prints "podsandboxctl: <msg>" and a pointer to the verb's
// help, and returns CTL_EXIT_USAGE.
int ctl_usage(const char *verb, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

// ctl_parse_output handles -o/--output VALUE shared by every verb.
bool ctl_parse_output(ctl_t *ctl, const char *value);

// ctl_print_json prints j (taken) indented, with a newline.
void ctl_print_json(json_t *j);

// ctl_json_or_empty parses a JSON text (NULL/invalid → empty object).
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

// ctl_parse_u64 parses a decimal number; false if it is not one.
bool ctl_parse_u64(const char *s, uint64_t *out);

#endif // PSB_PODSANDBOXCTL_H

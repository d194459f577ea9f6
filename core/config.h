//
// podsandboxd - daemon configuration (defaults, JSON file, flags).
//
// The order of precedence is: built-in defaults, then the JSON object in
// the file named by --config, then the command-line flags. The file uses
// the field names below as keys ("db_path", "start_timeout_ms", ...); an
// unknown key or a value of the wrong type is an error, never ignored.
//
// All functions: main thread, before the loop runs.
//

#ifndef PSB_CORE_CONFIG_H
#define PSB_CORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "base/log.h"
#include "core/controller.h"
#include "persistence/store.h"

// Defaults. psb_config_usage prints these, so --help cannot drift.
#define PSB_CONFIG_DEFAULT_DB           "/var/lib/podsandboxd/podsandboxd.db"
#define PSB_CONFIG_DEFAULT_STATE_DIR    "/run/podsandboxd"
#define PSB_CONFIG_DEFAULT_RUNTIME      "containerd"
#define PSB_CONFIG_DEFAULT_JOURNAL_KEEP 100000
#define PSB_CONFIG_DEFAULT_START_MS     60000
#define PSB_CONFIG_DEFAULT_STOP_MS      2000
#define PSB_CONFIG_DEFAULT_DELETE_MS    10000
#define PSB_CONFIG_DEFAULT_RETRY_MAX    5
#define PSB_CONFIG_DEFAULT_REPROBE_MS   1000
#define PSB_CONFIG_DEFAULT_PROBE_MS     10000
// The API and events sockets default to these names in state_dir (with
// the default state_dir: ipc:///run/podsandboxd/podsandboxd.sock and
// ipc:///run/podsandboxd/events.sock).
#define PSB_CONFIG_API_SOCKET           "podsandboxd.sock"
#define PSB_CONFIG_EVENTS_SOCKET        "events.sock"
#define PSB_CONFIG_DEFAULT_SOCKET_MODE  0660
#define PSB_CONFIG_DEFAULT_MAX_MSG      1048576
#define PSB_CONFIG_DEFAULT_API_CONTEXTS 16
#define PSB_CONFIG_MAX_IDS              16 // --allow-uid / --allow-gid

// A list of numeric user or group ids.
typedef struct psb_config_ids {
	uint32_t v[PSB_CONFIG_MAX_IDS];
	size_t   n;
} psb_config_ids_t;

// The daemon's configuration. Every string is owned by the config (freed
// by psb_config_free); runtime_options may be NULL.
typedef struct psb_config {
	char            *db_path;         // sqlite database file
	char            *state_dir;       // runtime state (sockets, netns)
	char            *runtime;         // runtime backend name
	char            *runtime_options; // backend-specific string, or NULL
	psb_log_level    log_level;
	psb_log_format   log_format;
	bool             sync_full;    // "full" (true) or "normal" (false)
	uint64_t         journal_keep; // newest journal entries kept (0 = all)
	uint32_t         start_timeout_ms;
	uint32_t         stop_timeout_ms;
	uint32_t         delete_timeout_ms;
	uint32_t         retry_max;
	uint32_t         reprobe_ms;
	uint32_t         probe_timeout_ms;
	char            *api_url;    // REP socket URL (never NULL after parse)
	char            *events_url; // PUB socket URL (never NULL after parse)
	uint32_t         socket_mode;       // ipc socket file mode (0..0777)
	psb_config_ids_t allow_uids;        // peers allowed besides root
	psb_config_ids_t allow_gids;        // ... or by primary group
	uint32_t         max_message_bytes; // larger requests are refused
	bool             allow_tcp; // tcp:// socket URLs are refused without
	uint32_t         api_contexts; // receiving contexts on the API socket
	bool             show_help;    // -h/--help was given: print usage
	bool             show_version; // -V/--version was given
} psb_config_t;

// psb_config_parse fills cfg from the defaults, then the --config file (if
// any), then the flags in argv (argv[0] is the program name; getopt may
// reorder argv's pointers). If -h/--help or -V/--version is given it sets
// cfg->show_help / cfg->show_version and returns 0 without reading the
// file or checking other values: the caller prints and exits. Unless set,
// api_url and events_url are derived from the final state_dir
// ("ipc://<state_dir>/podsandboxd.sock", ".../events.sock"). A repeated
// --allow-uid/--allow-gid adds to the list; the first one on the command
// line replaces the file's list.
// Errors: PSB_EINVAL (unknown flag or key, bad number, bad value, wrong
// JSON type, unreadable file), with a message that names the flag or the
// key. cfg is always left valid for psb_config_free, on failure too.
int psb_config_parse(
        psb_config_t *cfg, int argc, char **argv, psb_error_t *err);

// psb_config_usage prints the --help text (every flag and its default).
void psb_config_usage(FILE *f);

// psb_config_free releases cfg's strings and leaves it zeroed. NULL is a
// no-op.
void psb_config_free(psb_config_t *cfg);

// psb_config_controller_opts fills *out from cfg (fields the config does
// not carry keep PSB_CONTROLLER_OPTS_DEFAULT values).
void psb_config_controller_opts(
        const psb_config_t *cfg, psb_controller_opts_t *out);

// psb_config_store_opts fills *out from cfg.
void psb_config_store_opts(const psb_config_t *cfg, psb_store_options_t *out);

#endif // PSB_CORE_CONFIG_H

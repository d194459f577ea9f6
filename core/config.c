//
// podsandboxd - daemon configuration (see config.h).
//
// One table describes every setting: its JSON key, its flag, its kind and
// its range. Parsing the file, parsing the flags and printing --help all
// walk that table, so the three cannot disagree.
//

#include "core/config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/parse.h"

typedef enum cfg_kind {
	CFG_PATH,   // non-empty string
	CFG_OPTSTR, // string or null/empty (= NULL)
	CFG_LEVEL,  // error|warn|info|debug
	CFG_FORMAT, // text|json
	CFG_SYNC,   // full|normal
	CFG_U64,    // whole number in [min, max]
	CFG_U32,    // whole number in [min, max] (max <= UINT32_MAX)
	CFG_URL,    // string or null/empty (= derived from state_dir)
	CFG_MODE,   // octal permission string ("0660"), <= max
	CFG_IDS,    // list of ids in [min, max]: repeated flag, JSON array
	CFG_BOOL,   // flag without a value; JSON true/false
} cfg_kind;

typedef struct cfg_key {
	const char *key;  // JSON key
	const char *flag; // long flag without "--"
	const char *arg;  // argument name in --help
	const char *help;
	cfg_kind    kind;
	size_t      off;
	uint64_t    min;
	uint64_t    max;
} cfg_key;

#define CFG_MS_MAX 86400000 // one day

static const cfg_key cfg_keys[] = {
        {"db_path", "db", "PATH",
                "sqlite database file (its directory is created, mode 0700)",
                CFG_PATH, offsetof(psb_config_t, db_path), 0, 0},
        {"state_dir", "state-dir", "DIR",
                "directory for runtime state (created, mode 0700)", CFG_PATH,
                offsetof(psb_config_t, state_dir), 0, 0},
        {"runtime", "runtime", "NAME",
                "runtime backend (\"scripted\" is a test double)", CFG_PATH,
                offsetof(psb_config_t, runtime), 0, 0},
        {"runtime_options", "runtime-options", "STRING",
                "backend-specific options string", CFG_OPTSTR,
                offsetof(psb_config_t, runtime_options), 0, 0},
        {"log_level", "log-level", "LEVEL", "error, warn, info or debug",
                CFG_LEVEL, offsetof(psb_config_t, log_level), 0, 0},
        {"log_format", "log-format", "FORMAT",
                "text, or json (one object per line)", CFG_FORMAT,
                offsetof(psb_config_t, log_format), 0, 0},
        {"sync", "sync", "MODE", "sqlite synchronous mode: full or normal",
                CFG_SYNC, offsetof(psb_config_t, sync_full), 0, 0},
        {"journal_keep", "journal-keep", "N",
                "newest journal entries kept (0 = keep all)", CFG_U64,
                offsetof(psb_config_t, journal_keep), 0, UINT32_MAX},
        {"start_timeout_ms", "start-timeout-ms", "MS",
                "deadline for starting a sandbox", CFG_U32,
                offsetof(psb_config_t, start_timeout_ms), 1, CFG_MS_MAX},
        {"stop_timeout_ms", "stop-timeout-ms", "MS",
                "deadline for each stop (kill) attempt", CFG_U32,
                offsetof(psb_config_t, stop_timeout_ms), 1, CFG_MS_MAX},
        {"delete_timeout_ms", "delete-timeout-ms", "MS",
                "deadline for each delete attempt", CFG_U32,
                offsetof(psb_config_t, delete_timeout_ms), 1, CFG_MS_MAX},
        {"retry_max", "retry-max", "N", "re-kill / re-delete attempts",
                CFG_U32, offsetof(psb_config_t, retry_max), 0, 1000},
        {"reprobe_ms", "reprobe-ms", "MS",
                "retry interval when recovery cannot reach the runtime",
                CFG_U32, offsetof(psb_config_t, reprobe_ms), 10, 3600000},
        {"probe_timeout_ms", "probe-timeout-ms", "MS",
                "recovery: a sandbox the runtime has not answered for "
                "by then is UNKNOWN (and asked again)",
                CFG_U32, offsetof(psb_config_t, probe_timeout_ms), 10,
                CFG_MS_MAX},
        {"api_url", "socket", "URL",
                "API (REP) socket: ipc://PATH, or tcp:// with --allow-tcp",
                CFG_URL, offsetof(psb_config_t, api_url), 0, 0},
        {"events_url", "events-socket", "URL",
                "events (PUB) socket: ipc://PATH, or tcp:// with "
                "--allow-tcp",
                CFG_URL, offsetof(psb_config_t, events_url), 0, 0},
        {"socket_mode", "socket-mode", "OCTAL",
                "file mode of the ipc sockets (the directory must also "
                "let a client in)",
                CFG_MODE, offsetof(psb_config_t, socket_mode), 0, 0777},
        {"allow_uids", "allow-uid", "UID",
                "also allow this peer uid on the API (repeatable, up to "
                "16; root is always allowed)",
                CFG_IDS, offsetof(psb_config_t, allow_uids), 0,
                UINT32_MAX - 1},
        {"allow_gids", "allow-gid", "GID",
                "also allow peers whose primary gid is this (repeatable, "
                "up to 16)",
                CFG_IDS, offsetof(psb_config_t, allow_gids), 0,
                UINT32_MAX - 1},
        {"max_message_bytes", "max-message-bytes", "N",
                "largest request accepted (larger: RESOURCE_EXHAUSTED; "
                "over 4 times this, the connection is dropped unanswered)",
                CFG_U32, offsetof(psb_config_t, max_message_bytes), 1024,
                67108864},
        {"allow_tcp", "allow-tcp", NULL,
                "accept tcp:// socket URLs (tcp peers are not "
                "authenticated: every tcp peer is allowed)",
                CFG_BOOL, offsetof(psb_config_t, allow_tcp), 0, 0},
        {"api_contexts", "api-contexts", "N",
                "API requests received concurrently (held requests do "
                "not count)",
                CFG_U32, offsetof(psb_config_t, api_contexts), 1, 1024},
};

#define CFG_NKEYS  PSB_NELEM(cfg_keys)
#define CFG_OPT_ID 256 // getopt val of cfg_keys[i] is CFG_OPT_ID + i
#define OPT_CONFIG 'c'

static const char *format_names[] = {"text", "json"};

static void *
cfg_field(psb_config_t *cfg, const cfg_key *k)
{
	return ((char *)cfg + k->off);
}

static void
cfg_defaults(psb_config_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->db_path           = xstrdup(PSB_CONFIG_DEFAULT_DB);
	cfg->state_dir         = xstrdup(PSB_CONFIG_DEFAULT_STATE_DIR);
	cfg->runtime           = xstrdup(PSB_CONFIG_DEFAULT_RUNTIME);
	cfg->runtime_options   = NULL;
	cfg->log_level         = PSB_LOG_INFO;
	cfg->log_format        = PSB_LOG_TEXT;
	cfg->sync_full         = true;
	cfg->journal_keep      = PSB_CONFIG_DEFAULT_JOURNAL_KEEP;
	cfg->start_timeout_ms  = PSB_CONFIG_DEFAULT_START_MS;
	cfg->stop_timeout_ms   = PSB_CONFIG_DEFAULT_STOP_MS;
	cfg->delete_timeout_ms = PSB_CONFIG_DEFAULT_DELETE_MS;
	cfg->retry_max         = PSB_CONFIG_DEFAULT_RETRY_MAX;
	cfg->reprobe_ms        = PSB_CONFIG_DEFAULT_REPROBE_MS;
	cfg->probe_timeout_ms  = PSB_CONFIG_DEFAULT_PROBE_MS;
	cfg->socket_mode       = PSB_CONFIG_DEFAULT_SOCKET_MODE;
	cfg->max_message_bytes = PSB_CONFIG_DEFAULT_MAX_MSG;
	cfg->api_contexts      = PSB_CONFIG_DEFAULT_API_CONTEXTS;
}

// cfg_url_file names the socket file a NULL URL setting defaults to.
static const char *
cfg_url_file(const cfg_key *k)
{
	return (k->off == offsetof(psb_config_t, api_url)
	                ? PSB_CONFIG_API_SOCKET
	                : PSB_CONFIG_EVENTS_SOCKET);
}

// cfg_derive_urls fills the socket URLs not set, from the final state_dir.
static void
cfg_derive_urls(psb_config_t *cfg)
{
	for (size_t i = 0; i < PSB_NELEM(cfg_keys); i++) {
		char **sp = cfg_field(cfg, &cfg_keys[i]);

		if (cfg_keys[i].kind == CFG_URL && *sp == NULL) {
			*sp = xasprintf("ipc://%s/%s", cfg->state_dir,
			        cfg_url_file(&cfg_keys[i]));
		}
	}
}

// cfg_parse_uint: plain decimal digits only (base/parse.h).
static int
cfg_parse_uint(const char *s, uint64_t *out)
{
	return (s == NULL ? -1
	                  : psb_parse_uint(s, strlen(s), UINT64_MAX, out));
}

static int
cfg_set_number(psb_config_t *cfg, const cfg_key *k, uint64_t v,
        const char *text, const char *where, psb_error_t *err)
{
	if (v < k->min || v > k->max) {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: %s is out of range (%" PRIu64 "..%" PRIu64 ")",
		        where, text, k->min, k->max));
	}
	if (k->kind == CFG_U64) {
		*(uint64_t *)cfg_field(cfg, k) = v;
	} else {
		*(uint32_t *)cfg_field(cfg, k) = (uint32_t)v;
	}
	return (0);
}

// cfg_set_mode parses an octal permission mode ("0660", "660").
static int
cfg_set_mode(psb_config_t *cfg, const cfg_key *k, const char *val,
        const char *where, psb_error_t *err)
{
	uint64_t v = 0;

	if (val[0] == '\0' || strlen(val) > 4 ||
	        strspn(val, "01234567") != strlen(val) ||
	        (v = strtoull(val, NULL, 8)) > k->max) {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: '%s' is not an octal file mode in 0000..0777",
		        where, val));
	}
	*(uint32_t *)cfg_field(cfg, k) = (uint32_t)v;
	return (0);
}

// cfg_add_id appends v to the id list of setting k.
static int
cfg_add_id(psb_config_t *cfg, const cfg_key *k, uint64_t v, const char *text,
        const char *where, psb_error_t *err)
{
	psb_config_ids_t *ids = cfg_field(cfg, k);

	if (v < k->min || v > k->max) {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: %s is out of range (%" PRIu64 "..%" PRIu64 ")",
		        where, text, k->min, k->max));
	}
	if (ids->n == PSB_CONFIG_MAX_IDS) {
		return (psb_error_make(err, PSB_EINVAL, "%s: at most %d ids",
		        where, PSB_CONFIG_MAX_IDS));
	}
	ids->v[ids->n++] = (uint32_t)v;
	return (0);
}

// cfg_set_string applies a textual value (from a flag or a JSON string) to
// setting k; where names the source in error messages.
static int
cfg_set_string(psb_config_t *cfg, const cfg_key *k, const char *val,
        const char *where, psb_error_t *err)
{
	char   **sp;
	uint64_t v;
	int      level;

	switch (k->kind) {
	case CFG_PATH:
		if (val[0] == '\0') {
			return (psb_error_make(err, PSB_EINVAL,
			        "%s: must not be empty", where));
		}
		sp = cfg_field(cfg, k);
		free(*sp);
		*sp = xstrdup(val);
		return (0);
	case CFG_OPTSTR:
	case CFG_URL:
		sp = cfg_field(cfg, k);
		free(*sp);
		*sp = val[0] != '\0' ? xstrdup(val) : NULL;
		return (0);
	case CFG_MODE: return (cfg_set_mode(cfg, k, val, where, err));
	case CFG_IDS:
		if (cfg_parse_uint(val, &v) != 0) {
			return (psb_error_make(err, PSB_EINVAL,
			        "%s: '%s' is not a numeric id", where, val));
		}
		return (cfg_add_id(cfg, k, v, val, where, err));
	case CFG_BOOL: *(bool *)cfg_field(cfg, k) = true; return (0);
	case CFG_LEVEL:
		if ((level = psb_log_level_parse(val)) < 0) {
			return (psb_error_make(err, PSB_EINVAL,
			        "%s: '%s' is not one of error, warn, info, "
			        "debug",
			        where, val));
		}
		cfg->log_level = (psb_log_level)level;
		return (0);
	case CFG_FORMAT:
		for (size_t i = 0; i < PSB_NELEM(format_names); i++) {
			if (strcmp(val, format_names[i]) == 0) {
				cfg->log_format = (psb_log_format)i;
				return (0);
			}
		}
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: '%s' is not one of text, json", where, val));
	case CFG_SYNC:
		if (strcmp(val, "full") == 0 || strcmp(val, "normal") == 0) {
			cfg->sync_full = strcmp(val, "full") == 0;
			return (0);
		}
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: '%s' is not one of full, normal", where, val));
	case CFG_U64:
	case CFG_U32:
		if (cfg_parse_uint(val, &v) != 0) {
			return (psb_error_make(err, PSB_EINVAL,
			        "%s: '%s' is not a whole number in "
			        "%" PRIu64 "..%" PRIu64,
			        where, val, k->min, k->max));
		}
		return (cfg_set_number(cfg, k, v, val, where, err));
	}
	return (psb_error_make(err, PSB_EINTERNAL, "%s: bad kind", where));
}

// cfg_set_json_ids replaces an id list with a JSON array of numbers.
static int
cfg_set_json_ids(psb_config_t *cfg, const cfg_key *k, json_t *val,
        const char *where, psb_error_t *err)
{
	psb_config_ids_t *ids = cfg_field(cfg, k);
	size_t            i;
	json_t           *e;
	char              text[32];
	int               rv;

	if (!json_is_array(val)) {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: must be an array of numeric ids", where));
	}
	ids->n = 0;
	json_array_foreach(val, i, e)
	{
		if (!json_is_integer(e) || json_integer_value(e) < 0) {
			return (psb_error_make(err, PSB_EINVAL,
			        "%s: element %zu is not a numeric id", where,
			        i));
		}
		snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
		        json_integer_value(e));
		rv = cfg_add_id(cfg, k, (uint64_t)json_integer_value(e), text,
		        where, err);
		if (rv != 0) {
			return (rv);
		}
	}
	return (0);
}

static int
cfg_set_json(psb_config_t *cfg, const cfg_key *k, json_t *val,
        const char *where, psb_error_t *err)
{
	char       text[32];
	json_int_t n;

	switch (k->kind) {
	case CFG_U64:
	case CFG_U32:
		if (!json_is_integer(val)) {
			return (psb_error_make(err, PSB_EINVAL,
			        "%s: must be a whole number", where));
		}
		n = json_integer_value(val);
		snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, n);
		if (n < 0) {
			return (psb_error_make(err, PSB_EINVAL,
			        "%s: %s is out of range (%" PRIu64 "..%" PRIu64
			        ")",
			        where, text, k->min, k->max));
		}
		return (cfg_set_number(cfg, k, (uint64_t)n, text, where, err));
	case CFG_OPTSTR:
	case CFG_URL:
		if (json_is_null(val)) {
			return (cfg_set_string(cfg, k, "", where, err));
		}
		break;
	case CFG_BOOL:
		if (!json_is_boolean(val)) {
			return (psb_error_make(err, PSB_EINVAL,
			        "%s: must be true or false", where));
		}
		*(bool *)cfg_field(cfg, k) = json_is_true(val);
		return (0);
	case CFG_IDS: return (cfg_set_json_ids(cfg, k, val, where, err));
	default: break;
	}
	if (!json_is_string(val)) {
		return (psb_error_make(
		        err, PSB_EINVAL, "%s: must be a string", where));
	}
	if (strlen(json_string_value(val)) != json_string_length(val)) {
		return (psb_error_make(
		        err, PSB_EINVAL, "%s: contains a NUL byte", where));
	}
	return (cfg_set_string(cfg, k, json_string_value(val), where, err));
}

static int
cfg_load_file(psb_config_t *cfg, const char *path, psb_error_t *err)
{
	json_error_t jerr;
	json_t      *root;
	const char  *key;
	json_t      *val;
	int          rv = 0;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		return (psb_error_make(err, PSB_EINVAL,
		        "config file %s: %s (line %d)", path, jerr.text,
		        jerr.line));
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return (psb_error_make(err, PSB_EINVAL,
		        "config file %s: must hold a JSON object", path));
	}
	json_object_foreach(root, key, val)
	{
		const cfg_key *k = NULL;
		char           where[512];

		for (size_t i = 0; i < CFG_NKEYS; i++) {
			if (strcmp(key, cfg_keys[i].key) == 0) {
				k = &cfg_keys[i];
				break;
			}
		}
		if (k == NULL) {
			rv = psb_error_make(err, PSB_EINVAL,
			        "config file %s: unknown key \"%s\"", path,
			        key);
			break;
		}
		snprintf(where, sizeof(where), "config file %s: key \"%s\"",
		        path, key);
		if ((rv = cfg_set_json(cfg, k, val, where, err)) != 0) {
			break;
		}
	}
	json_decref(root);
	return (rv);
}

typedef struct cfg_flag {
	int         id; // index into cfg_keys
	const char *arg;
} cfg_flag;

int
psb_config_parse(psb_config_t *cfg, int argc, char **argv, psb_error_t *err)
{
	struct option            longopts[CFG_NKEYS + 4];
	_cleanup_free_ cfg_flag *flags               = NULL;
	size_t                   nflags              = 0;
	const char              *config              = NULL;
	bool                     ids_seen[CFG_NKEYS] = {false};
	int                      c;
	int                      rv;

	cfg_defaults(cfg);
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		longopts[i] = (struct option) {cfg_keys[i].flag,
		        cfg_keys[i].kind == CFG_BOOL ? no_argument
		                                     : required_argument,
		        NULL, CFG_OPT_ID + (int)i};
	}
	longopts[CFG_NKEYS] = (struct option) {
	        "config", required_argument, NULL, OPT_CONFIG};
	longopts[CFG_NKEYS + 1] =
	        (struct option) {"help", no_argument, NULL, 'h'};
	longopts[CFG_NKEYS + 2] =
	        (struct option) {"version", no_argument, NULL, 'V'};
	longopts[CFG_NKEYS + 3] = (struct option) {NULL, 0, NULL, 0};

	// First collect the flags; they are applied after the file so that
	// a flag overrides the file whatever their order on the line.
	flags  = xcalloc((size_t)argc + 1, sizeof(*flags));
	optind = 0; // glibc: full re-initialisation (tests parse often)
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': cfg->show_help = true; break;
		case 'V': cfg->show_version = true; break;
		case OPT_CONFIG: config = optarg; break;
		case ':':
			return (psb_error_make(err, PSB_EINVAL,
			        "option %s needs a value", argv[optind - 1]));
		case '?':
			// A long option's text is argv[optind - 1]; a short
			// one may sit inside a cluster ("-hx"), so name it.
			if (strncmp(argv[optind - 1], "--", 2) == 0) {
				return (psb_error_make(err, PSB_EINVAL,
				        "unknown option %s",
				        argv[optind - 1]));
			}
			return (psb_error_make(err, PSB_EINVAL,
			        "unknown option -%c", optopt));
		default:
			flags[nflags++] = (cfg_flag) {c - CFG_OPT_ID, optarg};
			break;
		}
	}
	if (cfg->show_help || cfg->show_version) {
		return (0);
	}
	if (optind < argc) {
		return (psb_error_make(err, PSB_EINVAL,
		        "unexpected argument '%s'", argv[optind]));
	}
	if (config != NULL && (rv = cfg_load_file(cfg, config, err)) != 0) {
		return (rv);
	}
	for (size_t i = 0; i < nflags; i++) {
		const cfg_key *k = &cfg_keys[flags[i].id];
		char           where[64];

		// The first --allow-uid/--allow-gid replaces the file's list;
		// the next ones add to it.
		if (k->kind == CFG_IDS && !ids_seen[flags[i].id]) {
			((psb_config_ids_t *)cfg_field(cfg, k))->n = 0;
			ids_seen[flags[i].id]                      = true;
		}
		snprintf(where, sizeof(where), "--%s", k->flag);
		rv = cfg_set_string(cfg, k, flags[i].arg, where, err);
		if (rv != 0) {
			return (rv);
		}
	}
	cfg_derive_urls(cfg);
	return (0);
}

static void
cfg_value_text(psb_config_t *cfg, const cfg_key *k, char *buf, size_t len)
{
	const char *s = NULL;

	switch (k->kind) {
	case CFG_PATH:
	case CFG_OPTSTR: s = *(char **)cfg_field(cfg, k); break;
	case CFG_URL:
		snprintf(buf, len, "ipc://STATE_DIR/%s (ipc://%s/%s)",
		        cfg_url_file(k), cfg->state_dir, cfg_url_file(k));
		return;
	case CFG_MODE:
		snprintf(buf, len, "%04" PRIo32,
		        *(uint32_t *)cfg_field(cfg, k));
		return;
	case CFG_IDS:
		s = k->off == offsetof(psb_config_t, allow_uids)
		            ? "none (root only)"
		            : "none";
		break;
	case CFG_BOOL: s = *(bool *)cfg_field(cfg, k) ? "on" : "off"; break;
	case CFG_LEVEL: s = psb_log_level_name(cfg->log_level); break;
	case CFG_FORMAT: s = format_names[cfg->log_format]; break;
	case CFG_SYNC: s = cfg->sync_full ? "full" : "normal"; break;
	case CFG_U64:
		snprintf(buf, len, "%" PRIu64, *(uint64_t *)cfg_field(cfg, k));
		return;
	case CFG_U32:
		snprintf(buf, len, "%" PRIu32, *(uint32_t *)cfg_field(cfg, k));
		return;
	}
	snprintf(buf, len, "%s", s != NULL ? s : "none");
}

void
psb_config_usage(FILE *f)
{
	psb_config_t defaults;

	cfg_defaults(&defaults);
	fprintf(f, "Usage: podsandboxd [OPTION]...\n"
	           "Run the podsandboxd pod-sandbox controller daemon.\n"
	           "\n"
	           "Settings come from the defaults below, then from the JSON "
	           "object in\n"
	           "--config FILE (keys as shown in parentheses), then from "
	           "the flags.\n"
	           "\n"
	           "  --config FILE\n"
	           "        read settings from the JSON object in FILE\n"
	           "        default: none\n");
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const cfg_key *k = &cfg_keys[i];
		char           def[128];

		cfg_value_text(&defaults, k, def, sizeof(def));
		fprintf(f, "  --%s%s%s (%s)\n        %s\n        ", k->flag,
		        k->arg ? " " : "", k->arg ? k->arg : "", k->key,
		        k->help);
		if (k->kind == CFG_U64 || k->kind == CFG_U32) {
			fprintf(f, "range %" PRIu64 "..%" PRIu64 ", ", k->min,
			        k->max);
		}
		fprintf(f, "default: %s\n", def);
	}
	fprintf(f, "  -h, --help\n"
	           "        print this help and exit\n"
	           "  -V, --version\n"
	           "        print the version and exit\n"
	           "\n"
	           "SIGTERM or SIGINT stops the daemon cleanly.\n");
	psb_config_free(&defaults);
}

void
psb_config_free(psb_config_t *cfg)
{
	if (cfg == NULL) {
		return;
	}
	free(cfg->db_path);
	free(cfg->state_dir);
	free(cfg->runtime);
	free(cfg->runtime_options);
	free(cfg->api_url);
	free(cfg->events_url);
	memset(cfg, 0, sizeof(*cfg));
}

void
psb_config_controller_opts(const psb_config_t *cfg, psb_controller_opts_t *out)
{
	psb_controller_opts_t defaults = PSB_CONTROLLER_OPTS_DEFAULT;

	*out                   = defaults;
	out->start_timeout_ms  = cfg->start_timeout_ms;
	out->stop_timeout_ms   = cfg->stop_timeout_ms;
	out->delete_timeout_ms = cfg->delete_timeout_ms;
	out->retry_max         = cfg->retry_max;
	out->reprobe_ms        = cfg->reprobe_ms;
	out->probe_timeout_ms  = cfg->probe_timeout_ms;
}

void
psb_config_store_opts(const psb_config_t *cfg, psb_store_options_t *out)
{
	psb_store_options_t defaults = PSB_STORE_OPTIONS_DEFAULT;

	*out              = defaults;
	out->sync_full    = cfg->sync_full;
	out->journal_keep = cfg->journal_keep;
}

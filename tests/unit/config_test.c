//
// podsandboxd - unit tests of core/config (defaults, file, flags, errors).
//

#include "tests/harness/testing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

// parse runs psb_config_parse on a copy of argv (getopt reorders it).
static int
parse(psb_config_t *cfg, int argc, const char *const *argv, psb_error_t *err)
{
	char *copy[48];

	assert_true(argc < 48);
	for (int i = 0; i < argc; i++) {
		copy[i] = (char *)argv[i];
	}
	copy[argc] = NULL;
	return (psb_config_parse(cfg, argc, copy, err));
}

// write_config writes text into a fresh file and returns its path.
static const char *
write_config(const char *name, const char *text)
{
	const char *path;
	FILE       *f;

	psb_test_tmpdir(name);
	path = psb_test_path("config.json");
	f    = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return (path);
}

// expect_einval parses argv, expects PSB_EINVAL and a message holding
// needle.
static void
expect_einval(int argc, const char *const *argv, const char *needle)
{
	psb_config_t cfg;
	psb_error_t  err = PSB_ERROR_INIT;

	assert_int_equal(parse(&cfg, argc, argv, &err), PSB_EINVAL);
	assert_int_equal(err.code, PSB_EINVAL);
	assert_non_null(err.msg);
	if (strstr(err.msg, needle) == NULL) {
		fail_msg("message \"%s\" does not name \"%s\"", err.msg,
		        needle);
	}
	psb_error_release(&err);
	psb_config_free(&cfg);
}

// expect_file_einval writes text as a config file and expects it to be
// refused with a message holding needle.
static void
expect_file_einval(const char *name, const char *text, const char *needle)
{
	const char *argv[] = {"podsandboxd", "--config", NULL};

	argv[2] = write_config(name, text);
	expect_einval(ARGC(argv), argv, needle);
}

static void
test_defaults(void **state)
{
	const char  *argv[] = {"podsandboxd"};
	psb_config_t cfg;
	psb_error_t  err = PSB_ERROR_INIT;

	assert_int_equal(parse(&cfg, ARGC(argv), argv, &err), 0);
	assert_null(err.msg);
	assert_string_equal(
	        cfg.db_path, "/var/lib/podsandboxd/podsandboxd.db");
	assert_string_equal(cfg.state_dir, "/run/podsandboxd");
	assert_string_equal(cfg.runtime, "containerd");
	assert_null(cfg.runtime_options);
	assert_int_equal(cfg.log_level, PSB_LOG_INFO);
	assert_int_equal(cfg.log_format, PSB_LOG_TEXT);
	assert_true(cfg.sync_full);
	assert_int_equal(cfg.journal_keep, 100000);
	assert_int_equal(cfg.start_timeout_ms, 60000);
	assert_int_equal(cfg.stop_timeout_ms, 2000);
	assert_int_equal(cfg.delete_timeout_ms, 10000);
	assert_int_equal(cfg.retry_max, 5);
	assert_int_equal(cfg.reprobe_ms, 1000);
	assert_string_equal(
	        cfg.api_url, "ipc:///run/podsandboxd/podsandboxd.sock");
	assert_string_equal(
	        cfg.events_url, "ipc:///run/podsandboxd/events.sock");
	assert_int_equal(cfg.socket_mode, 0660);
	assert_int_equal(cfg.allow_uids.n, 0);
	assert_int_equal(cfg.allow_gids.n, 0);
	assert_int_equal(cfg.max_message_bytes, 1048576);
	assert_false(cfg.allow_tcp);
	assert_int_equal(cfg.api_contexts, 16);
	assert_false(cfg.show_help);
	assert_false(cfg.show_version);
	psb_config_free(&cfg);
}

static void
test_file_parse(void **state)
{
	const char  *path   = write_config("config-file",
	           "{\"db_path\": \"/x/y.db\", \"state_dir\": \"/x/run\",\n"
	              " \"runtime\": \"scripted\", \"runtime_options\": \"a=b\",\n"
	              " \"log_level\": \"debug\", \"log_format\": \"json\",\n"
	              " \"sync\": \"normal\", \"journal_keep\": 0,\n"
	              " \"start_timeout_ms\": 1, \"stop_timeout_ms\": 3,\n"
	              " \"delete_timeout_ms\": 86400000, \"retry_max\": 0,\n"
	              " \"reprobe_ms\": 10}\n");
	const char  *argv[] = {"podsandboxd", "--config", path};
	psb_config_t cfg;
	psb_error_t  err = PSB_ERROR_INIT;

	assert_int_equal(parse(&cfg, ARGC(argv), argv, &err), 0);
	assert_string_equal(cfg.db_path, "/x/y.db");
	assert_string_equal(cfg.state_dir, "/x/run");
	assert_string_equal(cfg.runtime, "scripted");
	assert_string_equal(cfg.runtime_options, "a=b");
	assert_int_equal(cfg.log_level, PSB_LOG_DEBUG);
	assert_int_equal(cfg.log_format, PSB_LOG_JSON);
	assert_false(cfg.sync_full);
	assert_int_equal(cfg.journal_keep, 0);
	assert_int_equal(cfg.start_timeout_ms, 1);
	assert_int_equal(cfg.stop_timeout_ms, 3);
	assert_int_equal(cfg.delete_timeout_ms, 86400000);
	assert_int_equal(cfg.retry_max, 0);
	assert_int_equal(cfg.reprobe_ms, 10);
	psb_config_free(&cfg);
}

static void
test_flags_override_file(void **state)
{
	const char *path = write_config("config-override",
	        "{\"db_path\": \"/file.db\", \"retry_max\": 7,"
	        " \"sync\": \"normal\", \"runtime_options\": \"x\"}");
	// The flags come before --config on purpose: flags win regardless.
	const char           *argv[] = {"podsandboxd", "--db", "/flag.db",
	                  "--retry-max=9", "--runtime-options=", "--config", path,
	                  "--log-level", "warn", "--stop-timeout-ms", "250"};
	psb_config_t          cfg;
	psb_error_t           err = PSB_ERROR_INIT;
	psb_controller_opts_t copts;
	psb_store_options_t   sopts;

	assert_int_equal(parse(&cfg, ARGC(argv), argv, &err), 0);
	assert_string_equal(cfg.db_path, "/flag.db");
	assert_int_equal(cfg.retry_max, 9);
	assert_null(cfg.runtime_options); // empty flag clears the file's
	assert_false(cfg.sync_full);      // from the file
	assert_int_equal(cfg.log_level, PSB_LOG_WARN);
	assert_int_equal(cfg.stop_timeout_ms, 250);

	psb_config_controller_opts(&cfg, &copts);
	assert_int_equal(copts.start_timeout_ms, 60000);
	assert_int_equal(copts.stop_timeout_ms, 250);
	assert_int_equal(copts.delete_timeout_ms, 10000);
	assert_int_equal(copts.retry_max, 9);
	assert_int_equal(copts.reprobe_ms, 1000);
	assert_int_equal(copts.backoff_ms, 100);
	psb_config_store_opts(&cfg, &sopts);
	assert_false(sopts.sync_full);
	assert_int_equal(sopts.journal_keep, 100000);
	psb_config_free(&cfg);
}

// The socket URLs follow --state-dir unless given.
static void
test_api_defaults_follow_state_dir(void **state)
{
	const char  *argv[] = {"podsandboxd", "--state-dir", "/x/run",
	         "--events-socket", "ipc:///e/ev.sock"};
	psb_config_t cfg;
	psb_error_t  err = PSB_ERROR_INIT;

	assert_int_equal(parse(&cfg, ARGC(argv), argv, &err), 0);
	assert_string_equal(cfg.api_url, "ipc:///x/run/podsandboxd.sock");
	assert_string_equal(cfg.events_url, "ipc:///e/ev.sock");
	psb_config_free(&cfg);
}

static void
test_api_flags(void **state)
{
	const char  *argv[] = {"podsandboxd", "--socket", "ipc:///a/api.sock",
	         "--events-socket=tcp://127.0.0.1:7000", "--socket-mode",
	         "0600", "--allow-uid", "1000", "--allow-uid=65534",
	         "--allow-gid", "5", "--max-message-bytes", "1024",
	         "--allow-tcp", "--api-contexts", "1024"};
	psb_config_t cfg;
	psb_error_t  err = PSB_ERROR_INIT;

	assert_int_equal(parse(&cfg, ARGC(argv), argv, &err), 0);
	assert_string_equal(cfg.api_url, "ipc:///a/api.sock");
	assert_string_equal(cfg.events_url, "tcp://127.0.0.1:7000");
	assert_int_equal(cfg.socket_mode, 0600);
	assert_int_equal(cfg.allow_uids.n, 2);
	assert_int_equal(cfg.allow_uids.v[0], 1000);
	assert_int_equal(cfg.allow_uids.v[1], 65534);
	assert_int_equal(cfg.allow_gids.n, 1);
	assert_int_equal(cfg.allow_gids.v[0], 5);
	assert_int_equal(cfg.max_message_bytes, 1024);
	assert_true(cfg.allow_tcp);
	assert_int_equal(cfg.api_contexts, 1024);
	psb_config_free(&cfg);
}

// The file sets the lists; the first flag replaces the file's list.
static void
test_api_file(void **state)
{
	const char  *path   = write_config("config-api",
	           "{\"api_url\": \"ipc:///f/api.sock\", \"events_url\": null,"
	              " \"socket_mode\": \"660\", \"allow_uids\": [1, 2, 3],"
	              " \"allow_gids\": [7], \"max_message_bytes\": 67108864,"
	              " \"allow_tcp\": true, \"api_contexts\": 1}");
	const char  *argv[] = {"podsandboxd", "--config", path, "--allow-uid",
	         "9", "--socket-mode", "0"};
	psb_config_t cfg;
	psb_error_t  err = PSB_ERROR_INIT;

	assert_int_equal(parse(&cfg, ARGC(argv), argv, &err), 0);
	assert_string_equal(cfg.api_url, "ipc:///f/api.sock");
	assert_string_equal(
	        cfg.events_url, "ipc:///run/podsandboxd/events.sock");
	assert_int_equal(cfg.socket_mode, 0);
	assert_int_equal(cfg.allow_uids.n, 1);
	assert_int_equal(cfg.allow_uids.v[0], 9);
	assert_int_equal(cfg.allow_gids.n, 1);
	assert_int_equal(cfg.allow_gids.v[0], 7);
	assert_int_equal(cfg.max_message_bytes, 67108864);
	assert_true(cfg.allow_tcp);
	assert_int_equal(cfg.api_contexts, 1);
	psb_config_free(&cfg);
}

static void
test_api_bad(void **state)
{
	const char *mode9[]  = {"podsandboxd", "--socket-mode", "0999"};
	const char *mode4[]  = {"podsandboxd", "--socket-mode", "1777"};
	const char *modex[]  = {"podsandboxd", "--socket-mode", "rw"};
	const char *uidx[]   = {"podsandboxd", "--allow-uid", "root"};
	const char *uidneg[] = {"podsandboxd", "--allow-gid", "-1"};
	const char *small[]  = {"podsandboxd", "--max-message-bytes", "1023"};
	const char *big[] = {"podsandboxd", "--max-message-bytes", "67108865"};
	const char *ctx0[]   = {"podsandboxd", "--api-contexts", "0"};
	const char *ctxbig[] = {"podsandboxd", "--api-contexts", "1025"};
	const char *many[2 + 2 * 17];

	expect_einval(ARGC(mode9), mode9, "--socket-mode: '0999'");
	expect_einval(ARGC(mode4), mode4, "--socket-mode: '1777'");
	expect_einval(ARGC(modex), modex, "--socket-mode");
	expect_einval(ARGC(uidx), uidx, "--allow-uid: 'root'");
	expect_einval(ARGC(uidneg), uidneg, "--allow-gid");
	expect_einval(ARGC(small), small,
	        "--max-message-bytes: 1023 is out of range");
	expect_einval(ARGC(big), big, "--max-message-bytes");
	expect_einval(ARGC(ctx0), ctx0, "--api-contexts: 0 is out of range");
	expect_einval(ARGC(ctxbig), ctxbig, "--api-contexts");
	many[0] = "podsandboxd";
	for (int i = 0; i < 17; i++) {
		many[1 + 2 * i] = "--allow-uid";
		many[2 + 2 * i] = "7";
	}
	expect_einval(1 + 2 * 17, many, "--allow-uid: at most 16");
	expect_file_einval("cfg-tcp", "{\"allow_tcp\": \"yes\"}",
	        "\"allow_tcp\": must be true or false");
	expect_file_einval("cfg-uids", "{\"allow_uids\": 0}",
	        "\"allow_uids\": must be an array");
	expect_file_einval("cfg-uids2", "{\"allow_uids\": [0, \"x\"]}",
	        "\"allow_uids\": element 1");
	expect_file_einval("cfg-mode", "{\"socket_mode\": 432}",
	        "\"socket_mode\": must be a string");
}

static void
test_unknown_key(void **state)
{
	expect_file_einval(
	        "cfg-unknown", "{\"db\": \"/typo.db\"}", "unknown key \"db\"");
}

static void
test_bad_file(void **state)
{
	const char *missing[] = {
	        "podsandboxd", "--config", "/nonexistent/x.json"};

	expect_file_einval("cfg-type", "{\"retry_max\": \"5\"}",
	        "\"retry_max\": must be a whole number");
	expect_file_einval("cfg-real", "{\"retry_max\": 5.0}",
	        "\"retry_max\": must be a whole number");
	expect_file_einval(
	        "cfg-bool", "{\"sync\": true}", "\"sync\": must be a string");
	expect_file_einval("cfg-str", "{\"db_path\": 3}",
	        "\"db_path\": must be a string");
	expect_file_einval("cfg-neg", "{\"journal_keep\": -1}",
	        "\"journal_keep\": -1 is out of range");
	expect_file_einval("cfg-range", "{\"reprobe_ms\": 5}",
	        "\"reprobe_ms\": 5 is out of range");
	expect_file_einval("cfg-array", "[1, 2]", "must hold a JSON object");
	expect_file_einval("cfg-syntax", "{\"sync\": ", "config file");
	expect_file_einval("cfg-dup",
	        "{\"sync\": \"full\", \"sync\": \"full\"}", "config file");
	expect_einval(ARGC(missing), missing, "/nonexistent/x.json");
}

static void
test_bad_number(void **state)
{
	const char *garbage[] = {"podsandboxd", "--journal-keep", "12x"};
	const char *empty[]   = {"podsandboxd", "--retry-max="};
	const char *zero[]    = {"podsandboxd", "--start-timeout-ms", "0"};
	const char *neg[]     = {"podsandboxd", "--stop-timeout-ms", "-5"};
	const char *space[]   = {"podsandboxd", "--stop-timeout-ms", " 5"};
	const char *big[] = {"podsandboxd", "--delete-timeout-ms", "86400001"};
	const char *huge[] = {
	        "podsandboxd", "--journal-keep", "99999999999999999999999"};
	const char *retry[] = {"podsandboxd", "--retry-max", "1001"};
	const char *hex[]   = {"podsandboxd", "--reprobe-ms", "0x10"};

	expect_einval(ARGC(garbage), garbage, "--journal-keep");
	expect_einval(ARGC(empty), empty, "--retry-max");
	expect_einval(
	        ARGC(zero), zero, "--start-timeout-ms: 0 is out of range");
	expect_einval(ARGC(neg), neg, "--stop-timeout-ms");
	expect_einval(ARGC(space), space, "--stop-timeout-ms");
	expect_einval(ARGC(big), big, "--delete-timeout-ms");
	expect_einval(ARGC(huge), huge, "--journal-keep");
	expect_einval(ARGC(retry), retry, "--retry-max: 1001 is out of range");
	expect_einval(ARGC(hex), hex, "--reprobe-ms");
}

static void
test_bad_enum(void **state)
{
	const char *level[]  = {"podsandboxd", "--log-level", "loud"};
	const char *format[] = {"podsandboxd", "--log-format=xml"};
	const char *sync[]   = {"podsandboxd", "--sync", "fast"};
	const char *empty[]  = {"podsandboxd", "--db", ""};

	expect_einval(ARGC(level), level, "--log-level: 'loud'");
	expect_einval(ARGC(format), format, "--log-format: 'xml'");
	expect_einval(ARGC(sync), sync, "--sync: 'fast'");
	expect_file_einval("cfg-enum", "{\"log_level\": \"Info\"}",
	        "\"log_level\": 'Info' is not one of");
	expect_einval(ARGC(empty), empty, "--db: must not be empty");
}

static void
test_bad_flags(void **state)
{
	const char *unknown[] = {"podsandboxd", "--bogus"};
	const char *shortu[]  = {"podsandboxd", "-x"};
	const char *noval[]   = {"podsandboxd", "--db"};
	const char *extra[]   = {"podsandboxd", "stray"};

	expect_einval(ARGC(unknown), unknown, "--bogus");
	expect_einval(ARGC(shortu), shortu, "-x");
	expect_einval(ARGC(noval), noval, "--db");
	expect_einval(ARGC(extra), extra, "'stray'");
}

static void
test_help_version(void **state)
{
	// --help wins even over a config file that does not exist.
	const char *help[] = {
	        "podsandboxd", "--config", "/nonexistent/x.json", "--help"};
	const char  *shorth[]  = {"podsandboxd", "-h"};
	const char  *version[] = {"podsandboxd", "-V"};
	const char  *longv[]   = {"podsandboxd", "--version"};
	psb_config_t cfg;
	psb_error_t  err = PSB_ERROR_INIT;

	assert_int_equal(parse(&cfg, ARGC(help), help, &err), 0);
	assert_true(cfg.show_help);
	assert_false(cfg.show_version);
	psb_config_free(&cfg);
	assert_int_equal(parse(&cfg, ARGC(shorth), shorth, &err), 0);
	assert_true(cfg.show_help);
	psb_config_free(&cfg);
	assert_int_equal(parse(&cfg, ARGC(version), version, &err), 0);
	assert_true(cfg.show_version);
	assert_false(cfg.show_help);
	psb_config_free(&cfg);
	assert_int_equal(parse(&cfg, ARGC(longv), longv, &err), 0);
	assert_true(cfg.show_version);
	psb_config_free(&cfg);
	assert_null(err.msg);
}

// The usage text names every flag and file key with its default.
static void
test_usage(void **state)
{
	static const char *needles[] = {"--config FILE", "--db PATH (db_path)",
	        "/var/lib/podsandboxd/podsandboxd.db", "--state-dir",
	        "/run/podsandboxd", "--runtime NAME", "default: containerd",
	        "--runtime-options", "--log-level", "default: info",
	        "--log-format", "default: text", "--sync", "default: full",
	        "--journal-keep", "default: 100000", "--start-timeout-ms",
	        "default: 60000", "--stop-timeout-ms", "default: 2000",
	        "--delete-timeout-ms", "default: 10000", "--retry-max",
	        "default: 5", "--reprobe-ms", "default: 1000",
	        "--socket URL (api_url)",
	        "ipc:///run/podsandboxd/podsandboxd.sock",
	        "--events-socket URL", "ipc:///run/podsandboxd/events.sock",
	        "--socket-mode OCTAL (socket_mode)", "default: 0660",
	        "--allow-uid UID (allow_uids)", "default: none (root only)",
	        "--allow-gid GID", "--max-message-bytes N",
	        "range 1024..67108864, default: 1048576",
	        "--allow-tcp (allow_tcp)", "default: off", "--api-contexts N",
	        "range 1..1024, default: 16", "--help", "--version"};
	char              *text      = NULL;
	size_t             len       = 0;
	FILE              *f         = open_memstream(&text, &len);

	assert_non_null(f);
	psb_config_usage(f);
	assert_int_equal(fclose(f), 0);
	for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++) {
		if (strstr(text, needles[i]) == NULL) {
			fail_msg("usage lacks \"%s\"", needles[i]);
		}
	}
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_file_parse),
	        cmocka_unit_test(test_flags_override_file),
	        cmocka_unit_test(test_api_defaults_follow_state_dir),
	        cmocka_unit_test(test_api_flags),
	        cmocka_unit_test(test_api_file),
	        cmocka_unit_test(test_api_bad),
	        cmocka_unit_test(test_unknown_key),
	        cmocka_unit_test(test_bad_file),
	        cmocka_unit_test(test_bad_number),
	        cmocka_unit_test(test_bad_enum),
	        cmocka_unit_test(test_bad_flags),
	        cmocka_unit_test(test_help_version),
	        cmocka_unit_test(test_usage),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}

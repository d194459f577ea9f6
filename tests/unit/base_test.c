//
// podsandboxd - base: errors, the map, logging, time, number parsing.
//

#include "tests/harness/testing.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/ident.h"
#include "base/json.h"
#include "base/log.h"
#include "base/map.h"
#include "base/parse.h"

static void
test_error_codes(void **state)
{
	assert_string_equal(psb_strerror(PSB_OK), "success");
	assert_string_equal(psb_errname(PSB_ENOENT), "PSB_ENOENT");
	assert_string_equal(psb_strerror(PSB_ENOENT), "not found");
	for (int c = PSB_ERR_FIRST_ + 1; c < PSB_ERR_LAST_; c++) {
		assert_true(c < 0);
		assert_string_not_equal(psb_errname(c), "PSB_E?");
		assert_string_not_equal(psb_strerror(c), "unknown error");
	}
	assert_string_equal(psb_errname(12345), "PSB_E?");
	assert_string_equal(psb_strerror(-1), "unknown error");
}

static void
test_error_make_wrap(void **state)
{
	psb_error_t err = PSB_ERROR_INIT;

	assert_int_equal(
	        psb_error_make(&err, PSB_EINVAL, "bad %s", "id"), PSB_EINVAL);
	assert_string_equal(psb_error_message(&err), "bad id");
	assert_int_equal(
	        psb_error_wrap(&err, "while creating %s", "x"), PSB_EINVAL);
	assert_string_equal(
	        psb_error_message(&err), "while creating x: bad id");
	assert_int_equal(
	        psb_error_sys(&err, PSB_ESTORE, ENOSPC, "writing %s", "db"),
	        PSB_ESTORE);
	assert_int_equal(err.sys_errno, ENOSPC);
	assert_non_null(strstr(err.msg, "writing db: "));
	assert_non_null(strstr(err.msg, strerror(ENOSPC)));
	psb_error_release(&err);
	assert_null(err.msg);
	assert_int_equal(err.code, 0);
	// No message: the code's text. NULL err: only the code comes back.
	err.code = PSB_ETIMEDOUT;
	assert_string_equal(psb_error_message(&err), "deadline exceeded");
	assert_int_equal(psb_error_make(NULL, PSB_EBUSY, "x"), PSB_EBUSY);
}

static int
count_cb(void *arg, void *value)
{
	(*(int *)arg)++;
	return (0);
}

static void
test_map(void **state)
{
	enum { N = 20000 };
	psb_map_t *m    = psb_map_new();
	char     **keys = xcalloc(N, sizeof(char *));
	int        n    = 0;

	for (int i = 0; i < N; i++) {
		keys[i] = xasprintf("key-%d", i);
		assert_null(psb_map_put(m, keys[i], keys[i]));
	}
	assert_int_equal(psb_map_size(m), N);
	for (int i = 0; i < N; i++) {
		assert_ptr_equal(psb_map_get(m, keys[i]), keys[i]);
	}
	assert_null(psb_map_get(m, "nope"));
	// Replace returns the old value.
	assert_ptr_equal(psb_map_put(m, keys[7], keys[8]), keys[7]);
	assert_ptr_equal(psb_map_get(m, keys[7]), keys[8]);
	psb_map_put(m, keys[7], keys[7]);
	for (int i = 0; i < N; i += 2) {
		assert_ptr_equal(psb_map_del(m, keys[i]), keys[i]);
	}
	assert_null(psb_map_del(m, keys[0]));
	assert_int_equal(psb_map_size(m), N / 2);
	psb_map_each(m, count_cb, &n);
	assert_int_equal(n, N / 2);
	for (int i = 1; i < N; i += 2) {
		assert_ptr_equal(psb_map_get(m, keys[i]), keys[i]);
	}
	psb_map_free(m);
	for (int i = 0; i < N; i++) {
		free(keys[i]);
	}
	free(keys);
}

static char *
read_all(int fd)
{
	static char buf[8192];
	ssize_t     n = read(fd, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	return (buf);
}

static void
test_log_text_and_json(void **state)
{
	int          p[2];
	char        *out;
	json_t      *j;
	json_error_t jerr;

	assert_int_equal(pipe(p), 0);
	psb_log_setup(PSB_LOG_INFO, PSB_LOG_TEXT, p[1]);
	psb_log_sb(PSB_LOG_INFO, "sb-1", "hello %d", 42);
	psb_log(PSB_LOG_DEBUG, "filtered out");
	out = read_all(p[0]);
	assert_non_null(strstr(out, "[sandbox=sb-1] hello 42\n"));
	assert_null(strstr(out, "filtered"));

	psb_log_setup(PSB_LOG_DEBUG, PSB_LOG_JSON, p[1]);
	psb_log_sb(PSB_LOG_WARN, "sb-2", "quote \" and\nnewline");
	out = read_all(p[0]);
	assert_int_equal(out[strlen(out) - 1], '\n');
	j = json_loads(out, 0, &jerr);
	assert_non_null(j);
	assert_string_equal(
	        json_string_value(json_object_get(j, "sandbox")), "sb-2");
	assert_string_equal(
	        json_string_value(json_object_get(j, "level")), "warn");
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
	        "quote \" and\nnewline");
	json_decref(j);
	psb_log_setup(PSB_LOG_INFO, PSB_LOG_TEXT, STDERR_FILENO);
	close(p[0]);
	close(p[1]);

	assert_int_equal(psb_log_level_parse("debug"), PSB_LOG_DEBUG);
	assert_int_equal(psb_log_level_parse("warning"), PSB_LOG_WARN);
	assert_int_equal(psb_log_level_parse("loud"), -1);
}

static void
test_time(void **state)
{
	char    buf[40];
	int64_t a = psb_mono_ns();
	int64_t b = psb_mono_ns();

	assert_true(b >= a);
	assert_true(psb_now_ns() > (int64_t)1600000000 * 1000000000);
	psb_time_format((int64_t)1795870195 * 1000000000 + 907964684, buf,
	        sizeof(buf));
	assert_string_equal(buf, "2026-11-28T12:49:55.907Z");
}

// parse_ok parses the C string s with max and returns the value.
static uint64_t
parse_ok(const char *s, uint64_t max)
{
	uint64_t v = 12345;

	assert_int_equal(psb_parse_uint(s, strlen(s), max, &v), 0);
	return (v);
}

static void
parse_bad(const char *s, uint64_t max)
{
	uint64_t v = 12345;

	assert_int_equal(psb_parse_uint(s, strlen(s), max, &v), PSB_EINVAL);
	assert_int_equal(v, 12345); // untouched on failure
}

static void
test_parse_uint(void **state)
{
	uint64_t v = 0;

	assert_int_equal(parse_ok("0", 0), 0);
	assert_int_equal(parse_ok("007", 10), 7);
	assert_int_equal(parse_ok("10000", UINT32_MAX), 10000);
	assert_int_equal(parse_ok("4294967295", UINT32_MAX), UINT32_MAX);
	assert_true(
	        parse_ok("18446744073709551615", UINT64_MAX) == UINT64_MAX);
	assert_int_equal(parse_ok("3600000", 3600000), 3600000);
	// Only digits: what strtoul would take is refused.
	parse_bad("", UINT64_MAX);
	parse_bad("-1", UINT64_MAX);
	parse_bad("+1", UINT64_MAX);
	parse_bad(" 1", UINT64_MAX);
	parse_bad("1 ", UINT64_MAX);
	parse_bad("0x10", UINT64_MAX);
	parse_bad("1e3", UINT64_MAX);
	parse_bad("12a", UINT64_MAX);
	// Bounded by max, overflow-checked.
	parse_bad("1", 0);
	parse_bad("11", 10);
	parse_bad("3600001", 3600000);
	parse_bad("4294967296", UINT32_MAX);
	parse_bad("18446744073709551616", UINT64_MAX);
	parse_bad("99999999999999999999999", UINT64_MAX);
	// len bounds the text: no NUL needed, nothing read past it.
	assert_int_equal(psb_parse_uint("12345", 2, 100, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(psb_parse_uint("7-", 2, 100, &v), PSB_EINVAL);
	assert_int_equal(psb_parse_uint(NULL, 0, 100, &v), PSB_EINVAL);
	assert_int_equal(psb_parse_uint("1", 0, 100, &v), PSB_EINVAL);
}

// containerd's identifier rule, the one validator the codec, the
// controller and recovery share.
static void
test_id_valid(void **state)
{
	static const char *const good[] = {"a", "A9", "a.b-c_d", "0", "x-1.y"};
	static const char *const bad[] = {"", "-a", "a-", "a..b", "a/b", "a b",
	        "a\nb", "../x", "\xc3\xa9", ".", "a._b"};
	char                     id[PSB_ID_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(psb_id_valid(good[i]));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(psb_id_valid(bad[i]));
	}
	assert_false(psb_id_valid(NULL));
	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	assert_false(psb_id_valid(id)); // 77 characters
	id[PSB_ID_MAX] = '\0';
	assert_true(psb_id_valid(id)); // 76
}

static void
test_json_helpers(void **state)
{
	json_t *o = json_object(), *a = json_array();

	(void)state;
	psb_json_append(a, json_integer(1));
	psb_json_set(o, "a", a);
	assert_int_equal(json_array_size(json_object_get(o, "a")), 1);
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_error_codes),
	        cmocka_unit_test(test_error_make_wrap),
	        cmocka_unit_test(test_map),
	        cmocka_unit_test(test_log_text_and_json),
	        cmocka_unit_test(test_time),
	        cmocka_unit_test(test_parse_uint),
	        cmocka_unit_test(test_id_valid),
	        cmocka_unit_test(test_json_helpers),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}

//
// podsandboxd - helpers shared by the tests (the psb_testing library).
//

#ifndef PSB_TESTS_TESTING_H
#define PSB_TESTS_TESTING_H

// cmocka needs these before its header.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>

struct ev_loop;

// ---- running the tests: a skip is exit 77 ----
//
// cmocka's skip() marks a test skipped, but cmocka_run_group_tests()
// returns only the number of failures, so a binary whose tests skip exits
// 0 and neither ctest (SKIP_RETURN_CODE 77) nor CI (which fails on a skip)
// would know. Every cmocka test's main() ends instead in
//
//	return (psb_test_run_group(tests, group_setup, group_teardown));
//
// which returns 1 if a test failed or a fixture broke, else 77
// (PSB_TEST_SKIP) if any test skipped, else 0. One skip makes the whole
// binary a skip: what it did not test is missing all the same, and its
// output still shows which tests passed. One group per binary.
//
// skip() is the harness's own (below): it counts the skip, then lets cmocka
// skip the test. cmocka_run_group_tests() is redirected to
// psb_test_run_group() (at the end of this file), so a main() written with
// cmocka's name cannot exit 0 on a skip either.
#define PSB_TEST_SKIP 77

#undef skip
#define skip() psb_test_skip_(__FILE__, __LINE__)
_Noreturn void psb_test_skip_(const char *file, int line);

#define psb_test_run_group(tests, group_setup, group_teardown)     \
	psb_test_run_group_(#tests, (tests),                       \
	        sizeof(tests) / sizeof((tests)[0]), (group_setup), \
	        (group_teardown))
int psb_test_run_group_(const char *name, const struct CMUnitTest *tests,
        size_t n, CMFixtureFunction group_setup,
        CMFixtureFunction group_teardown);

// psb_test_tmpdir creates a fresh directory for one test and returns its
// path (static storage until the next call). It lives under
// $PSB_TEST_TMPDIR (set by ctest to the build tree) or /tmp.
const char *psb_test_tmpdir(const char *name);

// psb_test_path joins the last tmpdir with a file name (static storage,
// 4 slots rotate).
const char *psb_test_path(const char *file);

// psb_test_run_until runs loop until pred(arg) is true or timeout_ms
// passes; returns pred's final value.
bool psb_test_run_until(struct ev_loop *loop, bool (*pred)(void *), void *arg,
        unsigned timeout_ms);

// psb_test_run_for runs loop for ms milliseconds.
void psb_test_run_for(struct ev_loop *loop, unsigned ms);

// psb_test_loop_is_clean is true if no active watcher keeps loop alive
// (libuv's MAKE_VALGRIND_HAPPY idea): the loop returns at once.
bool psb_test_loop_is_clean(struct ev_loop *loop);

// psb_test_timeout_multiplier reads PSB_TEST_TIMEOUT_MULTIPLIER (>= 1).
unsigned psb_test_timeout_multiplier(void);

// cmocka's runners return 0 when tests skip: a main() that still calls
// them by cmocka's names gets psb_test_run_group() all the same.
#undef cmocka_run_group_tests
#define cmocka_run_group_tests(tests, group_setup, group_teardown) \
	psb_test_run_group(tests, group_setup, group_teardown)
#undef cmocka_run_group_tests_name
#define cmocka_run_group_tests_name(name, tests, group_setup, group_teardown) \
	psb_test_run_group_((name), (tests),                                  \
	        sizeof(tests) / sizeof((tests)[0]), (group_setup),            \
	        (group_teardown))

#endif // PSB_TESTS_TESTING_H

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

#endif // PSB_TESTS_TESTING_H

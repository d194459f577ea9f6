//
// podsandboxd - unit tests of the test harness itself (tests/harness): a
// skip() makes the binary exit 77, a failure 1, whatever else ran.
//
// The groups under test run in a child (this binary again, with the
// group's name as argument), whose exit status is what ctest would see.
//

#include "tests/harness/testing.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

// ---- the groups a child runs ----

static void
t_pass(void **state)
{
	(void)state;
	assert_true(true);
}

static void
t_skip(void **state)
{
	(void)state;
	skip();
}

static void
t_fail(void **state)
{
	(void)state;
	fail_msg("this failure is expected (harness self-test)");
}

static int
setup_skip(void **state)
{
	(void)state;
	skip();
}

// child_run runs the group called name; -1 if there is none.
static int
child_run(const char *name)
{
	const struct CMUnitTest pass[] = {
	        cmocka_unit_test(t_pass), cmocka_unit_test(t_pass)};
	const struct CMUnitTest all_skip[]  = {cmocka_unit_test(t_skip)};
	const struct CMUnitTest some_skip[] = {cmocka_unit_test(t_pass),
	        cmocka_unit_test(t_skip), cmocka_unit_test(t_pass)};
	const struct CMUnitTest fail_skip[] = {
	        cmocka_unit_test(t_skip), cmocka_unit_test(t_fail)};
	const struct CMUnitTest fail_only[]   = {cmocka_unit_test(t_fail)};
	const struct CMUnitTest setup_skips[] = {
	        cmocka_unit_test_setup(t_pass, setup_skip)};

	if (strcmp(name, "pass") == 0) {
		return (psb_test_run_group(pass, NULL, NULL));
	}
	if (strcmp(name, "all_skip") == 0) {
		return (psb_test_run_group(all_skip, NULL, NULL));
	}
	if (strcmp(name, "some_skip") == 0) {
		return (psb_test_run_group(some_skip, NULL, NULL));
	}
	if (strcmp(name, "fail_skip") == 0) {
		return (psb_test_run_group(fail_skip, NULL, NULL));
	}
	if (strcmp(name, "fail_only") == 0) {
		return (psb_test_run_group(fail_only, NULL, NULL));
	}
	if (strcmp(name, "setup_skips") == 0) {
		return (psb_test_run_group(setup_skips, NULL, NULL));
	}
	return (-1);
}

// ---- the tests: each runs one group in a child ----

static const char *self;

// child_status runs `self group` with its output in a file and returns
// its exit status (-1 if it did not exit normally).
static int
child_status(const char *group)
{
	const char *out = psb_test_path(group);
	pid_t       pid;
	int         st;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(
		        out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
			_exit(126);
		}
		execl(self, self, group, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	print_message("# %s: %s\n", group,
	        WIFEXITED(st) ? "exited" : "did not exit");
	return (WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void
test_pass_exits_0(void **state)
{
	(void)state;
	psb_test_tmpdir("harness");
	assert_int_equal(child_status("pass"), 0);
}

static void
test_all_skipped_exits_77(void **state)
{
	(void)state;
	psb_test_tmpdir("harness");
	assert_int_equal(child_status("all_skip"), PSB_TEST_SKIP);
}

static void
test_one_skip_among_passes_exits_77(void **state)
{
	(void)state;
	psb_test_tmpdir("harness");
	assert_int_equal(child_status("some_skip"), PSB_TEST_SKIP);
}

static void
test_failure_beats_skip(void **state)
{
	(void)state;
	psb_test_tmpdir("harness");
	assert_int_equal(child_status("fail_skip"), 1);
	assert_int_equal(child_status("fail_only"), 1);
}

// cmocka counts a skip in a test's setup as a broken fixture: a failure.
static void
test_skip_in_setup_fails(void **state)
{
	(void)state;
	psb_test_tmpdir("harness");
	assert_int_equal(child_status("setup_skips"), 1);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pass_exits_0),
	        cmocka_unit_test(test_all_skipped_exits_77),
	        cmocka_unit_test(test_one_skip_among_passes_exits_77),
	        cmocka_unit_test(test_failure_beats_skip),
	        cmocka_unit_test(test_skip_in_setup_fails),
	};

	if (argc == 2) {
		return (child_run(argv[1]));
	}
	self = "/proc/self/exe";
	return (psb_test_run_group(tests, NULL, NULL));
}

//
// podsandboxd - the test-only crash failpoint (base/failpoint.h): which
// values arm it, which gRPC paths it counts, and that only the N-th hit
// fires. (psb_failpoint_check's SIGKILL is exercised by e2e.crash.)
//

#include "tests/harness/testing.h"

#include <stdlib.h>

#include "base/failpoint.h"

#define KILL   "/containerd.services.tasks.v1.Tasks/Kill"
#define START  "/containerd.services.tasks.v1.Tasks/Start"
#define CREATE "/containerd.services.containers.v1.Containers/Create"

static void
arm(const char *value)
{
	if (value != NULL) {
		setenv("PSB_FAILPOINT", value, 1);
	} else {
		unsetenv("PSB_FAILPOINT");
	}
	psb_failpoint_init();
}

static void
test_unarmed(void **state)
{
	(void)state;
	arm(NULL);
	assert_false(psb_failpoint_armed());
	assert_false(psb_failpoint_hit(KILL));
	arm("");
	assert_false(psb_failpoint_hit(KILL));
	assert_false(psb_failpoint_hit(NULL));
}

static void
test_first_hit(void **state)
{
	(void)state;
	arm("Tasks/Kill");
	assert_true(psb_failpoint_armed());
	assert_false(psb_failpoint_hit(START)); // another method: not counted
	assert_true(psb_failpoint_hit(KILL));
	assert_false(psb_failpoint_hit(KILL)); // once only
}

static void
test_nth_hit(void **state)
{
	(void)state;
	arm("Tasks/Kill:3");
	assert_false(psb_failpoint_hit(KILL));
	assert_false(psb_failpoint_hit(CREATE));
	assert_false(psb_failpoint_hit(KILL));
	assert_true(psb_failpoint_hit(KILL));
	assert_false(psb_failpoint_hit(KILL));
}

static void
test_boundaries(void **state)
{
	(void)state;
	// The method matches at a '/' or '.' boundary only.
	arm("Kill");
	assert_true(psb_failpoint_hit(KILL));
	arm("asks/Kill");
	assert_false(psb_failpoint_hit(KILL));
	arm("v1.Tasks/Kill");
	assert_true(psb_failpoint_hit(KILL));
	arm(KILL);
	assert_true(psb_failpoint_hit(KILL));
	arm("Tasks/Kill/");
	assert_false(psb_failpoint_hit(KILL));
}

static void
test_malformed_arms_nothing(void **state)
{
	const char *bad[] = {":2", "Tasks/Kill:", "Tasks/Kill:0",
	        "Tasks/Kill:x", "Tasks/Kill:-1", "Tasks/Kill:2x",
	        "Tasks/Kill:99999999999999999999999", "Tasks/Kill: 2",
	        "Tasks/Kill:+2"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		arm(bad[i]);
		// Armed or not, a value that parsed would count this hit.
		if (psb_failpoint_hit(KILL) || psb_failpoint_armed()) {
			fail_msg("PSB_FAILPOINT=%s armed", bad[i]);
		}
	}
	unsetenv("PSB_FAILPOINT");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_unarmed),
	        cmocka_unit_test(test_first_hit),
	        cmocka_unit_test(test_nth_hit),
	        cmocka_unit_test(test_boundaries),
	        cmocka_unit_test(test_malformed_arms_nothing),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}

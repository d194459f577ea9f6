//
// podsandboxd - a crash failpoint for tests (docs/testing.md). TEST ONLY.
//
// PSB_FAILPOINT=METHOD[:N] in the daemon's environment arms one point: the
// N-th (default 1st) unary gRPC response whose path ends in "/METHOD" or
// ".METHOD" (e.g. "Tasks/Start" matches
// "/containerd.services.tasks.v1.Tasks/Start") kills the daemon with
// SIGKILL once its status is known, before its callback runs. containerd
// has then done the step, and the daemon has not taken note of it: the
// crash-recovery e2e test (tests/e2e/crash_test.sh) restarts the daemon
// on the same database and checks that every sandbox converges.
//
// Unset or empty, nothing is armed and psb_failpoint_check costs a call
// and a branch. Loop thread only.
//

#ifndef PSB_BASE_FAILPOINT_H
#define PSB_BASE_FAILPOINT_H

#include <stdbool.h>

// psb_failpoint_init reads PSB_FAILPOINT once and, when it is set, logs a
// warning that the daemon will kill itself. A malformed value (bad count)
// is logged as an error and arms nothing. Call it once at start-up, after
// logging is set up and before any gRPC call.
void psb_failpoint_init(void);

// psb_failpoint_armed is true when psb_failpoint_init armed a point.
bool psb_failpoint_armed(void);

// psb_failpoint_hit counts a completed unary call of path (borrowed) and
// returns true exactly when it is the armed one. False when nothing is
// armed or path does not match.
bool psb_failpoint_hit(const char *path);

// psb_failpoint_check is psb_failpoint_hit that acts on a hit: it logs
// the point and raises SIGKILL, so it does not return then.
void psb_failpoint_check(const char *path);

#endif // PSB_BASE_FAILPOINT_H

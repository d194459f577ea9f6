//
// podsandboxd - a controller on a real loop with the scripted runtime,
// shared by controller_test.c and recovery_test.c. Compiled once, in the
// psb_testing library (tests/unit/ctl_fixture.c).
//
// fx_new + fx_start make the store, the scripted runtime and the
// controller; requests go in with fx_req/fx_submit and come back in an
// fx_call_t; fx_free stops everything and asserts that the loop is clean.
//

#ifndef PSB_TESTS_CTL_FIXTURE_H
#define PSB_TESTS_CTL_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/controller.h"
#include "runtime/scripted.h"
#include "tests/harness/testing.h"

#define FX_MAX_CALLS 4096
#define FX_MAX_PUBS  1024

// One request and, once done, its reply (copied out of the callback).
typedef struct fx_call {
	bool        done;
	int         code;
	char        msg[256];
	psb_state_t state;
	uint32_t    pid;
	int32_t     exit_status;
	uint64_t    generation;
	char        ip[64]; // the primary pod IP ("" without)
	size_t      list_len;
	char        info[4096];
	bool        row_committed; // seen from a second connection at reply
	bool        board;         // asked of the board (fx_read)
	size_t      events_len;
	uint64_t    ev_seq[64];
	psb_state_t ev_to[64];
	int32_t     ev_exit[64];
	uint64_t    ev_gen[64];
	uint64_t    oldest_seq;
	uint64_t    newest_seq;
	bool        truncated;
	bool        more;
	psb_version_info_t version;
	char               runtime[32];
	struct fx         *fx;
} fx_call_t;

typedef struct fx {
	struct ev_loop       *loop;
	psb_store_t          *store;
	psb_runtime_t        *rt;
	psb_controller_t     *c;
	psb_controller_opts_t opts;
	char                  db[600];
	fx_call_t             calls[FX_MAX_CALLS];
	int                   ncalls;
	psb_transition_t      pubs[FX_MAX_PUBS]; // what was published
	char                  pub_ids[FX_MAX_PUBS][PSB_ID_MAX + 1];
	bool                  pub_committed[FX_MAX_PUBS]; // durable by then
	int                   npubs;
	bool                  recovered;
	uint64_t              journal_keep; // 0 = the store's default
	const char           *rt_options;   // the scripted runtime's, or NULL
	// Every successful reply that shows a sandbox is checked against
	// the board (psb_controller_read) at that moment: the same state,
	// generation and exit. How many agreed, and how many the board
	// declined (recovery had not confirmed the sandbox yet).
	int board_agreed;
	int board_declined;
} fx_t;

// fx_new allocates a fixture with the default controller options and a
// fresh test directory (psb_test_tmpdir(name)) holding its database path.
fx_t *fx_new(const char *name);

// fx_start builds store + scripted runtime + controller over db (the
// fixture's path when db is NULL) and starts recovery; the loop and the
// runtime are made on the first start and kept by later ones.
void fx_start(fx_t *fx, const char *db);

// fx_is_recovered is a psb_test_run_until predicate (arg: the fx_t).
bool fx_is_recovered(void *arg);

// fx_stop_controller simulates a daemon going away: the controller and the
// store go, the runtime (the "world") and the loop stay for an fx_start
// over the same database.
void fx_stop_controller(fx_t *fx);

// fx_free stops whatever runs, asserts the loop is clean (STYLE.md practice
// 20) and frees the fixture.
void fx_free(fx_t *fx);

// fx_row_committed looks for id's row from a second connection: true if it
// is durable.
bool fx_row_committed(fx_t *fx, const char *id);

// fx_reply_cb is the psb_controller_submit callback (arg: an fx_call_t).
void fx_reply_cb(void *arg, const psb_reply_t *r);

// fx_read asks the board (psb_controller_read) for m of id: the call is
// done if the board answered, not done if it declined.
fx_call_t *fx_read(fx_t *fx, psb_method_t m, const char *id);

// fx_submit submits req; fx_req a request of method m for id (a Create
// carries a small config and labels). Neither runs the loop.
fx_call_t *fx_submit(fx_t *fx, psb_request_t *req);
fx_call_t *fx_req(fx_t *fx, psb_method_t m, const char *id);

// fx_call_done is a psb_test_run_until predicate (arg: an fx_call_t).
bool fx_call_done(void *arg);

// fx_wait runs the loop until call is answered (asserted, 5 s at most).
fx_call_t *fx_wait(fx_t *fx, fx_call_t *call);

// fx_do submits and waits.
fx_call_t *fx_do(fx_t *fx, psb_method_t m, const char *id);

// fx_state returns id's state by a Status round trip (NONE if missing).
psb_state_t fx_state(fx_t *fx, const char *id);

// fx_until polls id's state with Status round trips until it is want
// (or about 5 s pass).
bool fx_until(fx_t *fx, const char *id, psb_state_t want);

// fx_count_pubs counts the published transitions of id to state to.
int fx_count_pubs(const fx_t *fx, const char *id, psb_state_t to);

#endif // PSB_TESTS_CTL_FIXTURE_H

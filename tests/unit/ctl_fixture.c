//
// podsandboxd - a controller on a real loop with the scripted runtime,
// shared by controller_test.c and recovery_test.c (see ctl_fixture.h).
//

#include "tests/unit/ctl_fixture.h"

#include <ev.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// A second connection proves what is durable: the journal's newest seq.
static uint64_t
fx_committed_seq(const fx_t *fx)
{
	sqlite3      *db;
	sqlite3_stmt *st;
	uint64_t      seq = 0;

	if (sqlite3_open_v2(fx->db, &db, SQLITE_OPEN_READONLY, NULL) != 0) {
		sqlite3_close(db);
		return (0);
	}
	if (sqlite3_prepare_v2(db, "SELECT max(seq) FROM journal", -1, &st,
	            NULL) == SQLITE_OK &&
	        sqlite3_step(st) == SQLITE_ROW) {
		seq = (uint64_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return (seq);
}

static void
fx_publish_cb(void *arg, const psb_transition_t *t)
{
	fx_t *fx = arg;

	if (fx->npubs < FX_MAX_PUBS) {
		fx->pubs[fx->npubs] = *t;
		snprintf(fx->pub_ids[fx->npubs], sizeof(fx->pub_ids[0]), "%s",
		        t->sandbox_id);
		fx->pub_committed[fx->npubs] = fx_committed_seq(fx) >= t->seq;
		fx->pubs[fx->npubs].sandbox_id = fx->pub_ids[fx->npubs];
		fx->npubs++;
	}
}

static void
fx_recovered_cb(void *arg)
{
	((fx_t *)arg)->recovered = true;
}

void
fx_start(fx_t *fx, const char *db)
{
	psb_store_options_t so  = PSB_STORE_OPTIONS_DEFAULT;
	psb_error_t         err = PSB_ERROR_INIT;

	if (fx->journal_keep != 0) {
		so.journal_keep = fx->journal_keep;
	}
	if (db != NULL) {
		snprintf(fx->db, sizeof(fx->db), "%s", db);
	}
	if (fx->loop == NULL) {
		fx->loop = ev_loop_new(EVFLAG_AUTO);
	}
	assert_int_equal(psb_store_open(fx->db, &so, &fx->store, &err), 0);
	if (fx->rt == NULL) {
		assert_int_equal(psb_runtime_open("scripted", fx->loop,
		                         fx->rt_options, &fx->rt, &err),
		        0);
	}
	assert_int_equal(psb_controller_new(fx->loop, fx->store, fx->rt,
	                         &fx->opts, &fx->c, &err),
	        0);
	psb_controller_set_publisher(fx->c, fx_publish_cb, fx);
	fx->recovered = false;
	assert_int_equal(
	        psb_controller_recover(fx->c, fx_recovered_cb, fx, &err), 0);
}

bool
fx_is_recovered(void *arg)
{
	return (((fx_t *)arg)->recovered);
}

fx_t *
fx_new(const char *name)
{
	static const psb_controller_opts_t d  = PSB_CONTROLLER_OPTS_DEFAULT;
	fx_t                              *fx = calloc(1, sizeof(*fx));

	fx->opts = d;
	psb_test_tmpdir(name);
	snprintf(fx->db, sizeof(fx->db), "%s", psb_test_path("psb.db"));
	return (fx);
}

void
fx_stop_controller(fx_t *fx)
{
	psb_controller_free(fx->c);
	fx->c = NULL;
	psb_store_close(fx->store);
	fx->store = NULL;
}

void
fx_free(fx_t *fx)
{
	if (fx->c != NULL) {
		fx_stop_controller(fx);
	}
	psb_runtime_close(fx->rt);
	assert_true(psb_test_loop_is_clean(fx->loop));
	ev_loop_destroy(fx->loop);
	free(fx);
}

bool
fx_row_committed(fx_t *fx, const char *id)
{
	sqlite3      *db;
	sqlite3_stmt *st;
	bool          found = false;

	if (sqlite3_open_v2(fx->db, &db, SQLITE_OPEN_READONLY, NULL) != 0) {
		sqlite3_close(db);
		return (false);
	}
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sandboxes WHERE id = ?", -1,
	            &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		found = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return (found);
}

static void fx_check_board(fx_t *fx, const psb_sandbox_view_t *v);

void
fx_reply_cb(void *arg, const psb_reply_t *r)
{
	fx_call_t *call = arg;

	call->done        = true;
	call->code        = r->code;
	call->state       = r->sandbox.state;
	call->pid         = r->sandbox.pid;
	call->exit_status = r->sandbox.exit_status;
	snprintf(call->ip, sizeof(call->ip), "%s",
	        r->sandbox.ip != NULL ? r->sandbox.ip : "");
	call->generation = r->sandbox.generation;
	call->list_len   = r->list_len;
	call->events_len = r->events_len;
	for (size_t i = 0; i < r->events_len && i < 64; i++) {
		call->ev_seq[i]  = r->events[i].seq;
		call->ev_to[i]   = r->events[i].to;
		call->ev_exit[i] = r->events[i].exit_status;
		call->ev_gen[i]  = r->events[i].generation;
		assert_string_equal(r->events[i].sandbox_id,
		        r->events[0].sandbox_id[0] ? r->events[i].sandbox_id
		                                   : "");
	}
	call->oldest_seq = r->oldest_seq;
	call->newest_seq = r->newest_seq;
	call->truncated  = r->truncated;
	call->more       = r->more;
	call->version    = r->version;
	if (r->version.runtime != NULL) {
		snprintf(call->runtime, sizeof(call->runtime), "%s",
		        r->version.runtime);
		call->version.runtime = call->runtime;
	}
	snprintf(call->msg, sizeof(call->msg), "%s",
	        r->message ? r->message : "");
	snprintf(call->info, sizeof(call->info), "%s",
	        r->sandbox.info ? r->sandbox.info : "");
	if (r->sandbox.id != NULL && r->code == 0) {
		call->row_committed =
		        fx_row_committed(call->fx, r->sandbox.id);
		if (!call->board) {
			fx_check_board(call->fx, &r->sandbox);
		}
	}
}

// fx_check_board: a reply leaves after its commit, and the board shows
// every commit before any of its replies leave.
static void
fx_check_board(fx_t *fx, const psb_sandbox_view_t *v)
{
	fx_call_t *b = fx_read(fx, PSB_M_STATUS, v->id);

	fx->ncalls--; // fx_read's call slot is not kept
	if (v->state == PSB_ST_NONE) {
		assert_false(b->done);
		return;
	}
	if (!b->done) {
		fx->board_declined++;
		return;
	}
	assert_int_equal(b->state, v->state);
	assert_int_equal(b->generation, v->generation);
	assert_int_equal(b->exit_status, v->exit_status);
	assert_int_equal(b->pid, v->pid);
	fx->board_agreed++;
}

fx_call_t *
fx_read(fx_t *fx, psb_method_t m, const char *id)
{
	fx_call_t    *call = &fx->calls[fx->ncalls++];
	psb_request_t req  = {0};

	assert_true(fx->ncalls < FX_MAX_CALLS);
	memset(call, 0, sizeof(*call));
	call->fx       = fx;
	call->board    = true;
	req.method     = m;
	req.sandbox_id = id;
	psb_controller_read(fx->c, &req, fx_reply_cb, call);
	return (call);
}

fx_call_t *
fx_submit(fx_t *fx, psb_request_t *req)
{
	fx_call_t *call = &fx->calls[fx->ncalls++];

	assert_true(fx->ncalls < FX_MAX_CALLS);
	memset(call, 0, sizeof(*call));
	call->fx = fx;
	psb_controller_submit(fx->c, req, fx_reply_cb, call);
	return (call);
}

fx_call_t *
fx_req(fx_t *fx, psb_method_t m, const char *id)
{
	psb_request_t req = {0};

	req.method     = m;
	req.sandbox_id = id;
	if (m == PSB_M_CREATE) {
		req.config      = "cfg-A";
		req.config_len  = 5;
		req.config_json = "{\"metadata\":{\"name\":\"a\"}}";
		req.labels      = "{\"app\":\"test\"}";
	}
	return (fx_submit(fx, &req));
}

bool
fx_call_done(void *arg)
{
	return (((fx_call_t *)arg)->done);
}

fx_call_t *
fx_wait(fx_t *fx, fx_call_t *call)
{
	assert_true(psb_test_run_until(fx->loop, fx_call_done, call, 5000));
	return (call);
}

fx_call_t *
fx_do(fx_t *fx, psb_method_t m, const char *id)
{
	return (fx_wait(fx, fx_req(fx, m, id)));
}

psb_state_t
fx_state(fx_t *fx, const char *id)
{
	fx_call_t *c = fx_do(fx, PSB_M_STATUS, id);

	return (c->code == PSB_ENOENT ? PSB_ST_NONE : c->state);
}

// The loop runs between polls, never inside a predicate.
bool
fx_until(fx_t *fx, const char *id, psb_state_t want)
{
	for (int i = 0; i < 1000; i++) {
		if (fx_state(fx, id) == want) {
			return (true);
		}
		psb_test_run_for(fx->loop, 5);
	}
	return (false);
}

int
fx_count_pubs(const fx_t *fx, const char *id, psb_state_t to)
{
	int n = 0;

	for (int i = 0; i < fx->npubs; i++) {
		if (strcmp(fx->pub_ids[i], id) == 0 && fx->pubs[i].to == to) {
			n++;
		}
	}
	return (n);
}

//
// podsandboxd - the board (core/board.c): what readers on other threads
// see while the loop pins and takes down records.
//

#include "tests/harness/testing.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/board.h"

typedef struct read_out {
	bool        called;
	int         code;
	psb_state_t state;
	uint64_t    generation;
	uint32_t    pid;
	int64_t     started_at;
	char        id[PSB_ID_MAX + 1];
	char        labels[64];
	char        ip[64];
	size_t      n_extra;
	size_t      list_len;
	char        first[PSB_ID_MAX + 1];
} read_out;

static void
read_cb(void *arg, const psb_reply_t *r)
{
	read_out *o = arg;

	o->called     = true;
	o->code       = r->code;
	o->list_len   = r->list_len;
	o->state      = r->sandbox.state;
	o->generation = r->sandbox.generation;
	o->pid        = r->sandbox.pid;
	o->started_at = r->sandbox.started_at;
	o->n_extra    = r->sandbox.n_additional_ips;
	snprintf(o->id, sizeof(o->id), "%s",
	        r->sandbox.id ? r->sandbox.id : "");
	snprintf(o->labels, sizeof(o->labels), "%s",
	        r->sandbox.labels ? r->sandbox.labels : "");
	snprintf(o->ip, sizeof(o->ip), "%s",
	        r->sandbox.ip ? r->sandbox.ip : "");
	if (r->list_len > 0) {
		snprintf(o->first, sizeof(o->first), "%s", r->list[0].id);
	}
}

static psb_sandbox_view_t
view(const char *id, psb_state_t st, uint64_t gen)
{
	psb_sandbox_view_t v = {0};

	v.id              = id;
	v.state           = st;
	v.generation      = gen;
	v.pid             = (uint32_t)gen;
	v.started_at      = (int64_t)gen;
	v.exit_status     = -1;
	v.labels          = "{\"app\":\"web\"}";
	v.runtime_handler = "";
	v.config          = "cfg";
	v.config_len      = 3;
	return (v);
}

static bool
status(psb_board_t *b, const char *id, bool verbose, read_out *o)
{
	psb_request_t req = {0};

	memset(o, 0, sizeof(*o));
	req.method     = PSB_M_STATUS;
	req.sandbox_id = id;
	req.verbose    = verbose;
	return (psb_board_read(b, &req, read_cb, o));
}

static bool
list(psb_board_t *b, const char *filter, const char *selector, read_out *o)
{
	psb_request_t req = {0};

	memset(o, 0, sizeof(*o));
	req.method         = PSB_M_LIST;
	req.state_filter   = filter;
	req.label_selector = selector;
	return (psb_board_read(b, &req, read_cb, o));
}

static void
test_answers_and_declines(void **state)
{
	psb_board_t       *b       = psb_board_new();
	psb_sandbox_view_t v       = view("sb-b", PSB_ST_READY, 2);
	const char        *extra[] = {"fd00::2"};
	psb_request_t      other   = {0};
	read_out           o;
	char               id[16];

	(void)state;
	v.ip               = "10.0.0.2";
	v.additional_ips   = extra;
	v.n_additional_ips = 1;
	psb_board_put(b, &v, true);
	// The board keeps its own copy: the caller's strings may go.
	snprintf(id, sizeof(id), "sb-a");
	v = view(id, PSB_ST_CREATED, 1);
	psb_board_put(b, &v, true);
	memset(id, 0, sizeof(id));

	assert_true(status(b, "sb-b", false, &o));
	assert_true(o.called);
	assert_int_equal(o.code, 0);
	assert_int_equal(o.state, PSB_ST_READY);
	assert_int_equal(o.generation, 2);
	assert_string_equal(o.labels, "{\"app\":\"web\"}");
	assert_string_equal(o.ip, "10.0.0.2");
	assert_int_equal(o.n_extra, 1);
	assert_true(status(b, "sb-a", false, &o));
	assert_string_equal(o.id, "sb-a");

	// Declined, cb not called: verbose, unknown ids, other methods.
	assert_false(status(b, "sb-b", true, &o));
	assert_false(o.called);
	assert_false(status(b, "sb-zz", false, &o));
	assert_false(o.called);
	other.method     = PSB_M_WAIT;
	other.sandbox_id = "sb-b";
	assert_false(psb_board_read(b, &other, read_cb, &o));
	assert_false(psb_board_read(NULL, &other, read_cb, &o));

	// List: sorted by id; filters; what the loop must refuse, declined.
	assert_true(list(b, NULL, NULL, &o));
	assert_int_equal(o.list_len, 2);
	assert_string_equal(o.first, "sb-a");
	assert_true(list(b, "READY", NULL, &o));
	assert_int_equal(o.list_len, 1);
	assert_string_equal(o.first, "sb-b");
	assert_true(list(b, NULL, "{\"app\":\"web\"}", &o));
	assert_int_equal(o.list_len, 2);
	assert_true(list(b, NULL, "{\"app\":\"db\"}", &o));
	assert_int_equal(o.list_len, 0);
	assert_false(list(b, "RUNNING", NULL, &o));
	assert_false(list(b, NULL, "[1]", &o));
	assert_false(o.called);

	// Unconfirmed (recovery): that Status and every List wait for the
	// loop; a replaced record shows its new state.
	v = view("sb-a", PSB_ST_READY, 3);
	psb_board_put(b, &v, false);
	assert_false(status(b, "sb-a", false, &o));
	psb_board_set_listable(b, false);
	assert_false(list(b, NULL, NULL, &o));
	psb_board_put(b, &v, true);
	psb_board_set_listable(b, true);
	assert_true(status(b, "sb-a", false, &o));
	assert_int_equal(o.state, PSB_ST_READY);
	assert_int_equal(o.generation, 3);

	psb_board_del(b, "sb-a");
	psb_board_del(b, "sb-a"); // absent: no-op
	assert_false(status(b, "sb-a", false, &o));
	assert_true(list(b, NULL, NULL, &o));
	assert_int_equal(o.list_len, 1);
	psb_board_close(b);
	assert_false(status(b, "sb-b", false, &o));
	assert_false(list(b, NULL, NULL, &o));
	psb_board_free(b);
}

// ---- readers on threads while the loop rewrites ----

#define NIDS 8

typedef struct race {
	psb_board_t *b;
	atomic_bool  stop;
	atomic_long  reads;
	atomic_long  torn; // a record whose fields disagree
} race_t;

static void *
reader_main(void *arg)
{
	race_t  *r = arg;
	read_out o;
	char     id[16];
	unsigned n = 0;

	while (!atomic_load(&r->stop)) {
		snprintf(id, sizeof(id), "sb-%u", n++ % NIDS);
		if (status(r->b, id, false, &o)) {
			// Every pinned record has pid == started_at == gen.
			if (strcmp(o.id, id) != 0 ||
			        o.pid != (uint32_t)o.generation ||
			        o.started_at != (int64_t)o.generation ||
			        strcmp(o.labels, "{\"app\":\"web\"}") != 0) {
				atomic_fetch_add(&r->torn, 1);
			}
			atomic_fetch_add(&r->reads, 1);
		}
		if (n % 64 == 0 && list(r->b, NULL, NULL, &o) &&
		        o.list_len > NIDS) {
			atomic_fetch_add(&r->torn, 1);
		}
	}
	return (NULL);
}

static void
test_readers_during_writes(void **state)
{
	race_t    r = {0};
	pthread_t t[4];
	char      id[16];

	(void)state;
	r.b = psb_board_new();
	for (int i = 0; i < 4; i++) {
		assert_int_equal(
		        pthread_create(&t[i], NULL, reader_main, &r), 0);
	}
	// The loop's part: pin, replace and take down, over and over.
	// At least 20,000 rewrites, and on until the readers got 1,000
	// answers (threads may start late), within a bound.
	for (uint64_t gen = 1; gen <= 20000 || (atomic_load(&r.reads) < 1000 &&
	                                               gen < 20000000);
	        gen++) {
		psb_sandbox_view_t v;

		snprintf(id, sizeof(id), "sb-%u", (unsigned)(gen % NIDS));
		if (gen % 7 == 0) {
			psb_board_del(r.b, id);
		} else {
			v = view(id, PSB_ST_READY, gen);
			psb_board_put(r.b, &v, true);
		}
	}
	atomic_store(&r.stop, true);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
	}
	assert_int_equal(atomic_load(&r.torn), 0);
	assert_true(atomic_load(&r.reads) >= 1000);
	psb_board_free(r.b); // ASan: every record freed
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_answers_and_declines),
	        cmocka_unit_test(test_readers_during_writes),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}

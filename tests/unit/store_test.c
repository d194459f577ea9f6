//
// podsandboxd - unit tests of the sqlite store (persistence/store.h).
//
// Each test works in its own directory. A second, raw sqlite3 connection
// plays the outside observer: what it sees is what a crash would keep.
//

#include "tests/harness/testing.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "persistence/store.h"

// ---- helpers ------------------------------------------------------------

static psb_store_t *
open_store(const char *path, bool sync_full, uint64_t keep)
{
	psb_store_options_t opts = {sync_full, keep};
	psb_error_t         err  = PSB_ERROR_INIT;
	psb_store_t        *s    = NULL;
	int                 rv   = psb_store_open(path, &opts, &s, &err);

	if (rv != 0) {
		print_error("open %s: %s\n", path, psb_error_message(&err));
	}
	assert_int_equal(rv, 0);
	assert_non_null(s);
	return (s);
}

static int
open_err(const char *path, psb_error_t *err)
{
	psb_store_options_t opts = PSB_STORE_OPTIONS_DEFAULT;
	psb_store_t        *s    = NULL;
	int                 rv   = psb_store_open(path, &opts, &s, err);

	if (rv == 0) {
		psb_store_close(s);
	} else {
		assert_null(s);
	}
	return (rv);
}

static void
commit_ok(psb_store_t *s)
{
	psb_error_t err = PSB_ERROR_INIT;
	int         rv  = psb_store_commit(s, &err);

	if (rv != 0) {
		print_error("commit: %s\n", psb_error_message(&err));
	}
	assert_int_equal(rv, 0);
	assert_false(psb_store_in_tick(s));
}

static psb_store_row_t
mkrow(const char *id, psb_state_t state)
{
	psb_store_row_t r;

	memset(&r, 0, sizeof(r));
	r.id          = id;
	r.state       = state;
	r.exit_status = -1;
	return (r);
}

static void
put_ok(psb_store_t *s, const psb_store_row_t *r)
{
	psb_error_t err = PSB_ERROR_INIT;

	assert_int_equal(psb_store_put(s, r, &err), 0);
	assert_true(psb_store_in_tick(s));
}

static uint64_t
append_ok(psb_store_t *s, const char *id, psb_state_t from, psb_event_t ev,
        psb_state_t to, const char *detail)
{
	psb_store_journal_t e   = {0, id, 1000, from, ev, to, detail};
	psb_error_t         err = PSB_ERROR_INIT;

	assert_int_equal(psb_store_journal_append(s, &e, &err), 0);
	assert_true(e.seq > 0);
	return (e.seq);
}

static sqlite3 *
raw_open(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	return (db);
}

static void
raw_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		print_error("sql %s: %s\n", sql, msg);
		sqlite3_free(msg);
		fail();
	}
}

// raw_text runs a one-value query; the result is static storage.
static const char *
raw_text(sqlite3 *db, const char *sql)
{
	static char   buf[256];
	sqlite3_stmt *st = NULL;

	assert_int_equal(
	        sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	buf[0] = '\0';
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
		snprintf(buf, sizeof(buf), "%s", sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return (buf);
}

static long long
raw_int(sqlite3 *db, const char *sql)
{
	return (atoll(raw_text(db, sql)));
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long  n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return (buf);
}

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void
assert_file_is(const char *path, const char *want, size_t want_len)
{
	size_t len;
	char  *got = read_file(path, &len);

	assert_int_equal(len, want_len);
	assert_memory_equal(got, want, len);
	free(got);
}

static char *
dup_or_null(const char *s)
{
	return (s != NULL ? strdup(s) : NULL);
}

// Deep copies of what a load callback saw (its pointers are borrowed).
typedef struct rows {
	int             n;
	psb_store_row_t r[64];
} rows_t;

static int
rows_cb(void *arg, const psb_store_row_t *row)
{
	rows_t          *rs = arg;
	psb_store_row_t *c  = &rs->r[rs->n++];

	assert_true(rs->n <= 64);
	*c                 = *row;
	c->id              = dup_or_null(row->id);
	c->runtime_handler = dup_or_null(row->runtime_handler);
	c->netns_path      = dup_or_null(row->netns_path);
	c->cni_result      = dup_or_null(row->cni_result);
	c->labels          = dup_or_null(row->labels);
	c->resources       = dup_or_null(row->resources);
	c->config_json     = dup_or_null(row->config_json);
	if (row->config != NULL) {
		void *p = malloc(row->config_len + 1);

		memcpy(p, row->config, row->config_len);
		c->config = p;
	}
	return (0);
}

static void
rows_free(rows_t *rs)
{
	for (int i = 0; i < rs->n; i++) {
		psb_store_row_t *c = &rs->r[i];

		free((void *)c->id);
		free((void *)c->runtime_handler);
		free((void *)c->netns_path);
		free((void *)c->cni_result);
		free((void *)c->labels);
		free((void *)c->resources);
		free((void *)c->config_json);
		free((void *)c->config);
	}
	rs->n = 0;
}

static void
load_ok(psb_store_t *s, rows_t *rs)
{
	psb_error_t err = PSB_ERROR_INIT;

	rows_free(rs);
	assert_int_equal(psb_store_load_all(s, rows_cb, rs, &err), 0);
}

typedef struct entries {
	int                 n;
	psb_store_journal_t e[64];
} entries_t;

static int
entries_cb(void *arg, const psb_store_journal_t *e)
{
	entries_t           *es = arg;
	psb_store_journal_t *c  = &es->e[es->n++];

	assert_true(es->n <= 64);
	*c            = *e;
	c->sandbox_id = dup_or_null(e->sandbox_id);
	c->detail     = dup_or_null(e->detail);
	return (0);
}

static void
entries_free(entries_t *es)
{
	for (int i = 0; i < es->n; i++) {
		free((void *)es->e[i].sandbox_id);
		free((void *)es->e[i].detail);
	}
	es->n = 0;
}

static void
read_ok(psb_store_t *s, uint64_t since, const char *id, size_t limit,
        entries_t *es)
{
	psb_error_t err = PSB_ERROR_INIT;

	entries_free(es);
	assert_int_equal(psb_store_journal_read(
	                         s, since, id, limit, entries_cb, es, &err),
	        0);
}

static void
assert_contains(const char *hay, const char *needle)
{
	if (hay == NULL || strstr(hay, needle) == NULL) {
		print_error("\"%s\" does not contain \"%s\"\n",
		        hay != NULL ? hay : "(null)", needle);
		fail();
	}
}

// ---- opening, round trips -------------------------------------------------

static void
test_open_fresh(void **state)
{
	const char  *dir = psb_test_tmpdir("store-fresh");
	const char  *db  = psb_test_path("s.db");
	psb_store_t *s   = open_store(db, true, 0);
	uint64_t     n = 99, lo = 99, hi = 99;
	struct stat  st;
	sqlite3     *raw;

	(void)dir;
	assert_false(psb_store_in_tick(s));
	assert_int_equal(psb_store_count(s, &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_int_equal(psb_store_journal_bounds(s, &lo, &hi, NULL), 0);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, 0);
	// Committing without a tick is a no-op.
	commit_ok(s);

	raw = raw_open(db);
	assert_int_equal(
	        raw_int(raw, "PRAGMA user_version"), PSB_STORE_SCHEMA_VERSION);
	assert_string_equal(raw_text(raw, "PRAGMA journal_mode"), "wal");
	assert_int_equal(raw_int(raw, "SELECT count(*) FROM pragma_table_info("
	                              "'sandboxes') WHERE name = 'resources'"),
	        1);
	sqlite3_close(raw);

	assert_int_equal(stat(psb_test_path("s.db.lock"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	psb_store_close(s);
	psb_store_close(NULL);
}

static void
test_empty_file_is_new(void **state)
{
	psb_test_tmpdir("store-empty");
	const char  *db = psb_test_path("s.db");
	psb_store_t *s;
	sqlite3     *raw;

	write_file(db, "", 0);
	s = open_store(db, true, 0);
	psb_store_close(s);
	raw = raw_open(db);
	assert_int_equal(
	        raw_int(raw, "PRAGMA user_version"), PSB_STORE_SCHEMA_VERSION);
	sqlite3_close(raw);
}

static void
test_roundtrip(void **state)
{
	psb_test_tmpdir("store-roundtrip");
	const char       *db     = psb_test_path("s.db");
	psb_store_t      *s      = open_store(db, true, 0);
	static const char blob[] = {'p', 0, 'b', 0, 0, (char)0xff, 1, 0};
	psb_store_row_t   full   = mkrow("b-full", PSB_ST_EXITED);
	psb_store_row_t   bare   = mkrow("a-bare", PSB_ST_CREATED);
	rows_t            rs     = {0};
	uint64_t          n;

	full.generation      = UINT64_MAX - 1;
	full.config          = blob;
	full.config_len      = sizeof(blob);
	full.runtime_handler = "runc";
	full.netns_path      = "/run/podsandboxd/netns/b";
	full.cni_result      = "{\"ips\":[\"10.0.0.2\"]}";
	full.labels          = "{\"app\":\"x\"}";
	full.resources       = "{\"cpu\":2}";
	full.config_json     = "{\"hostname\":\"h\"}";
	full.pid             = UINT32_MAX;
	full.created_at      = 1700000000000000001;
	full.started_at      = -5;
	full.exited_at       = INT64_MAX;
	full.exit_status     = 137;
	full.updated_at      = 42;
	put_ok(s, &full);
	put_ok(s, &bare);
	commit_ok(s);
	psb_store_close(s);

	// Reopen: what is read back comes from disk, not from a cache.
	s = open_store(db, true, 0);
	assert_int_equal(psb_store_count(s, &n, NULL), 0);
	assert_int_equal(n, 2);
	load_ok(s, &rs);
	assert_int_equal(rs.n, 2);
	// Id order, not insertion order.
	assert_string_equal(rs.r[0].id, "a-bare");
	assert_int_equal(rs.r[0].state, PSB_ST_CREATED);
	assert_null(rs.r[0].config);
	assert_int_equal(rs.r[0].config_len, 0);
	assert_null(rs.r[0].runtime_handler);
	assert_null(rs.r[0].netns_path);
	assert_null(rs.r[0].cni_result);
	assert_null(rs.r[0].labels);
	assert_null(rs.r[0].resources);
	assert_null(rs.r[0].config_json);
	assert_int_equal(rs.r[0].exit_status, -1);
	assert_int_equal(rs.r[0].pid, 0);

	assert_string_equal(rs.r[1].id, "b-full");
	assert_int_equal(rs.r[1].state, PSB_ST_EXITED);
	assert_true(rs.r[1].generation == UINT64_MAX - 1);
	assert_int_equal(rs.r[1].config_len, sizeof(blob));
	assert_memory_equal(rs.r[1].config, blob, sizeof(blob));
	assert_string_equal(rs.r[1].runtime_handler, full.runtime_handler);
	assert_string_equal(rs.r[1].netns_path, full.netns_path);
	assert_string_equal(rs.r[1].cni_result, full.cni_result);
	assert_string_equal(rs.r[1].labels, full.labels);
	assert_string_equal(rs.r[1].resources, full.resources);
	assert_string_equal(rs.r[1].config_json, full.config_json);
	assert_true(rs.r[1].pid == UINT32_MAX);
	assert_true(rs.r[1].created_at == full.created_at);
	assert_true(rs.r[1].started_at == -5);
	assert_true(rs.r[1].exited_at == INT64_MAX);
	assert_int_equal(rs.r[1].exit_status, 137);
	assert_true(rs.r[1].updated_at == 42);
	rows_free(&rs);
	psb_store_close(s);
}

static int
stop_cb(void *arg, const psb_store_row_t *row)
{
	(*(int *)arg)++;
	return (7);
}

static void
test_put_replaces_and_remove(void **state)
{
	psb_test_tmpdir("store-replace");
	psb_store_t    *s   = open_store(psb_test_path("s.db"), true, 0);
	psb_store_row_t a   = mkrow("a", PSB_ST_CREATED);
	psb_store_row_t b   = mkrow("b", PSB_ST_CREATED);
	rows_t          rs  = {0};
	psb_error_t     err = PSB_ERROR_INIT;
	uint64_t        n;
	int             calls = 0;

	a.labels = "{\"v\":1}";
	put_ok(s, &a);
	put_ok(s, &b);
	commit_ok(s);

	a.state  = PSB_ST_READY;
	a.pid    = 4242;
	a.labels = NULL;
	put_ok(s, &a);
	commit_ok(s);
	assert_int_equal(psb_store_count(s, &n, NULL), 0);
	assert_int_equal(n, 2);
	load_ok(s, &rs);
	assert_int_equal(rs.r[0].state, PSB_ST_READY);
	assert_int_equal(rs.r[0].pid, 4242);
	// Replaced as a whole: the old labels are gone.
	assert_null(rs.r[0].labels);

	// A callback's non-zero return stops the scan and is returned.
	assert_int_equal(psb_store_load_all(s, stop_cb, &calls, &err), 7);
	assert_int_equal(calls, 1);

	assert_int_equal(psb_store_remove(s, "a", &err), 0);
	assert_int_equal(psb_store_remove(s, "never-existed", &err), 0);
	commit_ok(s);
	load_ok(s, &rs);
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.r[0].id, "b");
	rows_free(&rs);
	psb_store_close(s);
}

static void
test_invalid_args(void **state)
{
	psb_test_tmpdir("store-invalid");
	psb_store_t        *s = open_store(psb_test_path("s.db"), true, 0);
	psb_store_row_t     r = mkrow(NULL, PSB_ST_READY);
	psb_store_journal_t e = {
	        0, "x", 0, PSB_ST_NONE, PSB_EVENT_COUNT, PSB_ST_CREATED, NULL};
	psb_error_t err = PSB_ERROR_INIT;

	assert_int_equal(psb_store_put(s, &r, &err), PSB_EINVAL);
	r.id    = "x";
	r.state = PSB_STATE_COUNT;
	assert_int_equal(psb_store_put(s, &r, &err), PSB_EINVAL);
	assert_int_equal(psb_store_journal_append(s, &e, &err), PSB_EINVAL);
	assert_int_equal(psb_store_remove(s, NULL, &err), PSB_EINVAL);
	// Rejected before any transaction was opened.
	assert_false(psb_store_in_tick(s));
	assert_int_equal(psb_store_open(NULL, NULL, NULL, &err), PSB_EINVAL);
	psb_error_release(&err);
	psb_store_close(s);
}

// ---- journal
// ----------------------------------------------------------------

static int
journal_stop_cb(void *arg, const psb_store_journal_t *e)
{
	(*(int *)arg)++;
	return (-3);
}

static void
test_journal(void **state)
{
	psb_test_tmpdir("store-journal");
	psb_store_t *s  = open_store(psb_test_path("s.db"), true, 0);
	entries_t    es = {0};
	uint64_t     seq[5], lo, hi;
	int          calls = 0;

	seq[0] = append_ok(s, "a", PSB_ST_NONE, PSB_EV_CREATE, PSB_ST_CREATED,
	        "{\"n\":0}");
	seq[1] = append_ok(
	        s, "b", PSB_ST_NONE, PSB_EV_CREATE, PSB_ST_CREATED, NULL);
	seq[2] = append_ok(
	        s, "a", PSB_ST_CREATED, PSB_EV_START, PSB_ST_STARTING, NULL);
	commit_ok(s);
	seq[3] = append_ok(s, "a", PSB_ST_STARTING, PSB_EV_START_OK,
	        PSB_ST_READY, "{\"pid\":7}");
	seq[4] = append_ok(s, "b", PSB_ST_CREATED, PSB_EV_SHUTDOWN,
	        PSB_ST_DELETING, NULL);
	commit_ok(s);
	for (int i = 1; i < 5; i++) {
		assert_true(seq[i] == seq[i - 1] + 1);
	}
	assert_int_equal(seq[0], 1);

	read_ok(s, 0, NULL, 0, &es);
	assert_int_equal(es.n, 5);
	for (int i = 0; i < 5; i++) {
		assert_true(es.e[i].seq == seq[i]);
	}
	assert_string_equal(es.e[3].sandbox_id, "a");
	assert_int_equal(es.e[3].from, PSB_ST_STARTING);
	assert_int_equal(es.e[3].event, PSB_EV_START_OK);
	assert_int_equal(es.e[3].to, PSB_ST_READY);
	assert_string_equal(es.e[3].detail, "{\"pid\":7}");
	assert_true(es.e[3].time == 1000);
	assert_null(es.e[1].detail);

	read_ok(s, seq[1], NULL, 0, &es);
	assert_int_equal(es.n, 3);
	assert_true(es.e[0].seq == seq[2]);

	read_ok(s, 0, "a", 0, &es);
	assert_int_equal(es.n, 3);
	assert_true(es.e[0].seq == seq[0] && es.e[1].seq == seq[2] &&
	            es.e[2].seq == seq[3]);
	read_ok(s, seq[0], "b", 0, &es);
	assert_int_equal(es.n, 2);
	assert_int_equal(es.e[1].event, PSB_EV_SHUTDOWN);
	read_ok(s, 0, "nobody", 0, &es);
	assert_int_equal(es.n, 0);

	read_ok(s, 0, NULL, 2, &es);
	assert_int_equal(es.n, 2);
	assert_true(es.e[1].seq == seq[1]);
	read_ok(s, 1, "a", 1, &es);
	assert_int_equal(es.n, 1);
	assert_true(es.e[0].seq == seq[2]);
	read_ok(s, seq[4], NULL, 0, &es);
	assert_int_equal(es.n, 0);

	assert_int_equal(psb_store_journal_read(
	                         s, 0, NULL, 0, journal_stop_cb, &calls, NULL),
	        -3);
	assert_int_equal(calls, 1);

	assert_int_equal(psb_store_journal_bounds(s, &lo, &hi, NULL), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 5);
	entries_free(&es);
	psb_store_close(s);
}

// ---- group commit and failures ---------------------------------------------

static void
test_group_commit(void **state)
{
	psb_test_tmpdir("store-group");
	const char     *db = psb_test_path("s.db");
	psb_store_t    *s  = open_store(db, true, 0);
	sqlite3        *raw;
	psb_store_row_t a = mkrow("a", PSB_ST_CREATED);
	psb_store_row_t b = mkrow("b", PSB_ST_CREATED);
	uint64_t        n, lo, hi;

	raw = raw_open(db);
	put_ok(s, &a);
	append_ok(s, "a", PSB_ST_NONE, PSB_EV_CREATE, PSB_ST_CREATED, NULL);
	// Our own connection sees the tick; nobody else does yet.
	assert_int_equal(psb_store_count(s, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(raw_int(raw, "SELECT count(*) FROM sandboxes"), 0);
	assert_int_equal(raw_int(raw, "SELECT count(*) FROM journal"), 0);
	commit_ok(s);
	assert_int_equal(raw_int(raw, "SELECT count(*) FROM sandboxes"), 1);
	assert_int_equal(raw_int(raw, "SELECT count(*) FROM journal"), 1);

	put_ok(s, &b);
	assert_int_equal(psb_store_remove(s, "a", NULL), 0);
	append_ok(s, "b", PSB_ST_NONE, PSB_EV_CREATE, PSB_ST_CREATED, NULL);
	psb_store_rollback(s);
	assert_false(psb_store_in_tick(s));
	psb_store_rollback(s); // no tick: no-op
	assert_string_equal(
	        raw_text(raw, "SELECT group_concat(id) FROM sandboxes"), "a");
	assert_int_equal(psb_store_count(s, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(psb_store_journal_bounds(s, &lo, &hi, NULL), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 1);

	// Closing with a tick open rolls it back.
	put_ok(s, &b);
	psb_store_close(s);
	assert_int_equal(raw_int(raw, "SELECT count(*) FROM sandboxes"), 1);
	sqlite3_close(raw);
}

static void
test_injected_commit_failure(void **state)
{
	psb_test_tmpdir("store-inject");
	psb_store_t    *s   = open_store(psb_test_path("s.db"), true, 0);
	psb_store_row_t a   = mkrow("a", PSB_ST_CREATED);
	psb_error_t     err = PSB_ERROR_INIT;
	uint64_t        n, lo, hi;

	psb_store_fail_commits(s, 2);
	for (int i = 0; i < 2; i++) {
		put_ok(s, &a);
		append_ok(s, "a", PSB_ST_NONE, PSB_EV_CREATE, PSB_ST_CREATED,
		        NULL);
		assert_int_equal(psb_store_commit(s, &err), PSB_ESTORE);
		assert_contains(err.msg, "injected commit failure");
		assert_false(psb_store_in_tick(s));
		assert_int_equal(psb_store_count(s, &n, NULL), 0);
		assert_int_equal(n, 0);
		assert_int_equal(
		        psb_store_journal_bounds(s, &lo, &hi, NULL), 0);
		assert_int_equal(hi, 0);
	}
	put_ok(s, &a);
	commit_ok(s);
	assert_int_equal(psb_store_count(s, &n, NULL), 0);
	assert_int_equal(n, 1);
	psb_error_release(&err);
	psb_store_close(s);
}

// io_child fills the disk (RLIMIT_FSIZE) until a tick cannot be stored.
// It reports the number of committed ticks on fd and exits 0, or exits
// with the number of the check that failed.
#define IO_ROWS 4
#define IO_BLOB (64 * 1024)

static int
io_count_prefix_cb(void *arg, const psb_store_row_t *row)
{
	int *counts = arg;
	int  tick;

	if (sscanf(row->id, "t%d-", &tick) == 1 && tick >= 0 && tick < 100) {
		counts[tick]++;
	}
	return (0);
}

static int
io_child(const char *path, int fd)
{
	psb_store_options_t opts = PSB_STORE_OPTIONS_DEFAULT;
	psb_error_t         err  = PSB_ERROR_INIT;
	psb_store_t        *s;
	struct rlimit       saved, rl;
	static char         blob[IO_BLOB];
	int                 tick, rv, counts[100] = {0};
	bool                failed = false;
	uint64_t            n;

	if (psb_store_open(path, &opts, &s, &err) != 0) {
		return (10);
	}
	for (size_t i = 0; i < sizeof(blob); i++) {
		blob[i] = (char)(i * 7919 + 13);
	}
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &saved);
	rl          = saved;
	rl.rlim_cur = 1024 * 1024;
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0) {
		return (11);
	}
	for (tick = 0; tick < 100; tick++) {
		for (int k = 0; k < IO_ROWS; k++) {
			char            id[32];
			psb_store_row_t r = mkrow(id, PSB_ST_READY);

			snprintf(id, sizeof(id), "t%03d-%d", tick, k);
			r.config     = blob;
			r.config_len = sizeof(blob);
			// A spill of the page cache may already fail here;
			// then the tick is refused at commit.
			if ((rv = psb_store_put(s, &r, &err)) != 0) {
				if (rv != PSB_ESTORE) {
					return (12);
				}
				break;
			}
		}
		if ((rv = psb_store_commit(s, &err)) != 0) {
			if (rv != PSB_ESTORE || err.msg == NULL) {
				return (13);
			}
			failed = true;
			break;
		}
	}
	if (!failed || tick == 0) {
		return (14);
	}
	if (psb_store_in_tick(s)) {
		return (15);
	}
	// Nothing of the failed tick, everything of the ones before.
	if (psb_store_load_all(s, io_count_prefix_cb, counts, &err) != 0) {
		return (16);
	}
	for (int t = 0; t <= tick; t++) {
		if (counts[t] != (t < tick ? IO_ROWS : 0)) {
			return (17);
		}
	}
	// With room again the same store carries on.
	setrlimit(RLIMIT_FSIZE, &saved);
	{
		psb_store_row_t r = mkrow("after", PSB_ST_CREATED);

		if (psb_store_put(s, &r, &err) != 0 ||
		        psb_store_commit(s, &err) != 0) {
			return (18);
		}
	}
	if (psb_store_count(s, &n, &err) != 0 ||
	        n != (uint64_t)tick * IO_ROWS + 1) {
		return (19);
	}
	psb_store_close(s);
	if (write(fd, &tick, sizeof(tick)) != sizeof(tick)) {
		return (20);
	}
	return (0);
}

static void
test_real_io_failure(void **state)
{
	psb_test_tmpdir("store-io");
	const char  *db = psb_test_path("s.db");
	int          fds[2], status, tick = -1, counts[100] = {0};
	pid_t        pid;
	psb_store_t *s;
	uint64_t     n;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(io_child(db, fds[1]));
	}
	close(fds[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0) {
		print_error("io child failed check %d\n", WEXITSTATUS(status));
	}
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(read(fds[0], &tick, sizeof(tick)), sizeof(tick));
	close(fds[0]);
	assert_true(tick > 0);

	// A fresh open (quick_check included) agrees with the child.
	s = open_store(db, true, 0);
	assert_int_equal(
	        psb_store_load_all(s, io_count_prefix_cb, counts, NULL), 0);
	for (int t = 0; t <= tick; t++) {
		assert_int_equal(counts[t], t < tick ? IO_ROWS : 0);
	}
	assert_int_equal(psb_store_count(s, &n, NULL), 0);
	assert_int_equal(n, (uint64_t)tick * IO_ROWS + 1);
	psb_store_close(s);
}

// ---- schema versions
// ----------------------------------------------------------

static void
test_migrate_from_v1(void **state)
{
	psb_test_tmpdir("store-v1");
	const char  *db  = psb_test_path("s.db");
	sqlite3     *raw = raw_open(db);
	psb_store_t *s;
	rows_t       rs = {0};
	entries_t    es = {0};
	uint64_t     seq;

	// The version 1 schema, as the first release wrote it.
	raw_exec(raw,
	        "CREATE TABLE sandboxes (id TEXT PRIMARY KEY, state TEXT NOT "
	        "NULL, generation INTEGER, config BLOB, runtime_handler TEXT, "
	        "netns_path TEXT, cni_result TEXT, pid INTEGER, created_at "
	        "INTEGER, started_at INTEGER, exited_at INTEGER, exit_status "
	        "INTEGER, labels TEXT, updated_at INTEGER) WITHOUT ROWID;"
	        "CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
	        "sandbox_id TEXT NOT NULL, time INTEGER, from_state TEXT, "
	        "event TEXT, to_state TEXT);"
	        "CREATE INDEX journal_by_sandbox ON journal (sandbox_id, seq);"
	        "INSERT INTO sandboxes VALUES ('p1', 'READY', 3, x'00ff00', "
	        "'runc', '/run/ns/p1', '{}', 42, 10, 11, NULL, NULL, "
	        "'{\"a\":\"b\"}', 12);"
	        "INSERT INTO sandboxes VALUES ('p2', 'EXITED', 1, NULL, NULL, "
	        "NULL, NULL, 0, 20, 21, 22, 0, NULL, 23);"
	        "INSERT INTO journal (sandbox_id, time, from_state, event, "
	        "to_state) VALUES ('p1', 5, 'NONE', 'CREATE', 'CREATED');"
	        "INSERT INTO journal (sandbox_id, time, from_state, event, "
	        "to_state) VALUES ('p1', 6, 'CREATED', 'START', 'STARTING');"
	        "PRAGMA user_version = 1;");
	sqlite3_close(raw);

	s = open_store(db, true, 0);
	load_ok(s, &rs);
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.r[0].id, "p1");
	assert_int_equal(rs.r[0].state, PSB_ST_READY);
	assert_int_equal(rs.r[0].generation, 3);
	assert_int_equal(rs.r[0].config_len, 3);
	assert_memory_equal(rs.r[0].config, "\0\xff\0", 3);
	assert_string_equal(rs.r[0].runtime_handler, "runc");
	assert_string_equal(rs.r[0].labels, "{\"a\":\"b\"}");
	assert_int_equal(rs.r[0].pid, 42);
	assert_int_equal(rs.r[0].exit_status, -1);
	assert_null(rs.r[0].resources);
	assert_int_equal(rs.r[1].state, PSB_ST_EXITED);
	assert_int_equal(rs.r[1].exit_status, 0);
	assert_true(rs.r[1].exited_at == 22);
	assert_null(rs.r[1].resources);

	read_ok(s, 0, NULL, 0, &es);
	assert_int_equal(es.n, 2);
	assert_int_equal(es.e[1].event, PSB_EV_START);
	assert_null(es.e[1].detail);
	// The sequence carries on from the old entries; detail is stored.
	seq = append_ok(s, "p1", PSB_ST_STARTING, PSB_EV_START_OK,
	        PSB_ST_READY, "{\"pid\":42}");
	assert_int_equal(seq, 3);
	commit_ok(s);
	read_ok(s, 2, NULL, 0, &es);
	assert_int_equal(es.n, 1);
	assert_string_equal(es.e[0].detail, "{\"pid\":42}");
	psb_store_close(s);

	raw = raw_open(db);
	assert_int_equal(
	        raw_int(raw, "PRAGMA user_version"), PSB_STORE_SCHEMA_VERSION);
	assert_string_equal(raw_text(raw, "PRAGMA journal_mode"), "wal");
	assert_int_equal(raw_int(raw, "SELECT count(*) FROM pragma_table_info("
	                              "'journal') WHERE name = 'detail'"),
	        1);
	assert_int_equal(
	        raw_int(raw, "SELECT count(*) FROM pragma_table_info("
	                     "'sandboxes') WHERE name = 'config_json'"),
	        1);
	sqlite3_close(raw);
	rows_free(&rs);
	entries_free(&es);
}

// render stands in for the codec: "{\"len\":N}" for N bytes, and no
// JSON for bytes that "do not decode" (those starting with 0xff).
static char *
render_len(void *arg, const void *config, size_t len)
{
	char *out = NULL;

	(*(int *)arg)++;
	if (len > 0 && ((const unsigned char *)config)[0] == 0xff) {
		return (NULL);
	}
	assert_true(asprintf(&out, "{\"len\":%zu}", len) > 0);
	return (out);
}

// Rows of schema 3 and older have no config_json: the first start of a
// newer daemon fills it from the config bytes (once: a second start has
// nothing to do), leaves a row whose bytes do not decode without, and
// never touches a row without config or one that has its JSON.
static void
test_fill_config_json(void **state)
{
	psb_test_tmpdir("store-fill");
	const char     *db  = psb_test_path("s.db");
	psb_store_t    *s   = open_store(db, true, 0);
	psb_store_row_t a   = mkrow("a-old", PSB_ST_READY);
	psb_store_row_t b   = mkrow("b-bad", PSB_ST_CREATED);
	psb_store_row_t c   = mkrow("c-new", PSB_ST_CREATED);
	psb_store_row_t d   = mkrow("d-none", PSB_ST_CREATED);
	psb_error_t     err = PSB_ERROR_INIT;
	rows_t          rs  = {0};
	size_t          n;
	int             calls = 0;

	a.config      = "abc";
	a.config_len  = 3;
	b.config      = "\xff";
	b.config_len  = 1;
	c.config      = "xy";
	c.config_len  = 2;
	c.config_json = "{\"kept\":1}";
	put_ok(s, &a);
	put_ok(s, &b);
	put_ok(s, &c);
	put_ok(s, &d);
	commit_ok(s);
	assert_int_equal(
	        psb_store_fill_config_json(s, render_len, &calls, &n, &err),
	        0);
	assert_int_equal(n, 1);
	assert_int_equal(calls, 2);         // a and b: the others need nothing
	assert_false(psb_store_in_tick(s)); // committed
	psb_store_close(s);

	s = open_store(db, true, 0);
	load_ok(s, &rs);
	assert_string_equal(rs.r[0].config_json, "{\"len\":3}");
	assert_null(rs.r[1].config_json);
	assert_string_equal(rs.r[2].config_json, "{\"kept\":1}");
	assert_null(rs.r[3].config_json);
	assert_int_equal(rs.r[0].state, PSB_ST_READY); // the rest as it was
	calls = 0;
	assert_int_equal(
	        psb_store_fill_config_json(s, render_len, &calls, &n, &err),
	        0);
	assert_int_equal(n, 0);
	assert_int_equal(calls, 1); // only the one that does not decode
	rows_free(&rs);
	psb_store_close(s);
}

static void
test_newer_version_refused(void **state)
{
	psb_test_tmpdir("store-newer");
	const char *db  = psb_test_path("s.db");
	sqlite3    *raw = raw_open(db);
	psb_error_t err = PSB_ERROR_INIT;
	size_t      len;
	char       *before;

	raw_exec(raw, "CREATE TABLE future (x); INSERT INTO future VALUES (1);"
	              "PRAGMA user_version = 99;");
	sqlite3_close(raw);
	before = read_file(db, &len);

	assert_int_equal(open_err(db, &err), PSB_ENOTSUP);
	assert_contains(err.msg, "99");
	assert_contains(err.msg, "version 4");
	assert_contains(err.msg, db);
	assert_file_is(db, before, len);
	// Refusing does not take the lock with it.
	assert_int_equal(open_err(db, &err), PSB_ENOTSUP);
	assert_file_is(db, before, len);
	free(before);
	psb_error_release(&err);
}

// ---- the lock
// -------------------------------------------------------------------

static void
test_busy_same_process(void **state)
{
	psb_test_tmpdir("store-busy");
	const char  *db  = psb_test_path("s.db");
	psb_store_t *s   = open_store(db, true, 0);
	psb_error_t  err = PSB_ERROR_INIT;
	char         want[64];

	assert_int_equal(open_err(db, &err), PSB_EBUSY);
	snprintf(want, sizeof(want), "(pid %ld)", (long)getpid());
	assert_contains(err.msg, want);
	assert_contains(err.msg, db);
	assert_contains(err.msg, "in use by another podsandboxd");
	psb_store_close(s);
	// Released on close.
	assert_int_equal(open_err(db, &err), 0);
	psb_error_release(&err);
}

static void
test_busy_forked_child(void **state)
{
	psb_test_tmpdir("store-busy-fork");
	const char *db = psb_test_path("s.db");
	int         up[2], down[2], status;
	char        c = 0, want[64];
	pid_t       pid;
	psb_error_t err = PSB_ERROR_INIT;

	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		psb_store_options_t opts = PSB_STORE_OPTIONS_DEFAULT;
		psb_store_t        *s;
		char                ok;

		close(up[0]);
		close(down[1]);
		ok = psb_store_open(db, &opts, &s, NULL) == 0 ? 'y' : 'n';
		if (write(up[1], &ok, 1) != 1 || read(down[0], &ok, 1) != 1) {
			_exit(2);
		}
		psb_store_close(s);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	assert_int_equal(read(up[0], &c, 1), 1);
	assert_int_equal(c, 'y');

	assert_int_equal(open_err(db, &err), PSB_EBUSY);
	snprintf(want, sizeof(want), "(pid %ld)", (long)pid);
	assert_contains(err.msg, want);

	assert_int_equal(write(down[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(up[0]);
	close(down[1]);
	assert_int_equal(open_err(db, &err), 0);
	psb_error_release(&err);
}

// ---- damaged files
// -----------------------------------------------------------

static void
assert_corrupt_untouched(const char *db)
{
	psb_error_t err = PSB_ERROR_INIT;
	size_t      len;
	char       *before = read_file(db, &len);

	assert_int_equal(open_err(db, &err), PSB_ECORRUPT);
	assert_contains(err.msg, db);
	assert_contains(err.msg, "left untouched");
	assert_file_is(db, before, len);
	// And again: a refused open leaves nothing behind that changes it.
	assert_int_equal(open_err(db, &err), PSB_ECORRUPT);
	assert_file_is(db, before, len);
	free(before);
	psb_error_release(&err);
}

static void
test_corrupt_random_bytes(void **state)
{
	psb_test_tmpdir("store-corrupt-random");
	const char *db = psb_test_path("s.db");
	char        junk[8192];
	uint32_t    x = 12345;

	for (size_t i = 0; i < sizeof(junk); i++) {
		x       = x * 1103515245 + 12345;
		junk[i] = (char)(x >> 16);
	}
	write_file(db, junk, sizeof(junk));
	assert_corrupt_untouched(db);
	// Caught before sqlite could create its side files next to it.
	assert_int_equal(access(psb_test_path("s.db-wal"), F_OK), -1);

	// Short, and a header that is only almost right.
	write_file(db, "SQLite", 6);
	assert_corrupt_untouched(db);
	write_file(db, "SQLite format 4\0", 16);
	assert_corrupt_untouched(db);
}

// make_db writes a closed, checkpointed database with n rows of 1 KiB.
static void
make_db(const char *db, int n)
{
	psb_store_t *s = open_store(db, true, 0);
	static char  blob[1024];

	memset(blob, 'z', sizeof(blob));
	for (int i = 0; i < n; i++) {
		char            id[16];
		psb_store_row_t r = mkrow(id, PSB_ST_READY);

		snprintf(id, sizeof(id), "sb%04d", i);
		r.config     = blob;
		r.config_len = sizeof(blob);
		put_ok(s, &r);
	}
	commit_ok(s);
	psb_store_close(s);
}

static void
test_corrupt_truncated_and_damaged(void **state)
{
	psb_test_tmpdir("store-corrupt-trunc");
	const char *db = psb_test_path("s.db");
	size_t      len;
	char       *good;

	make_db(db, 200);
	good = read_file(db, &len);
	assert_true(len > 16 * 4096);

	// Truncated to its first half.
	assert_int_equal(truncate(db, (off_t)(len / 2 / 4096 * 4096)), 0);
	assert_corrupt_untouched(db);

	// Whole length, but pages in the middle overwritten.
	memset(good + 8 * 4096, 0x5a, 4 * 4096);
	write_file(db, good, len);
	assert_corrupt_untouched(db);
	free(good);
}

static void
test_unknown_state_loaded_as_unknown(void **state)
{
	psb_test_tmpdir("store-unknown");
	const char     *db  = psb_test_path("s.db");
	const char     *log = psb_test_path("log.txt");
	psb_store_t    *s   = open_store(db, true, 0);
	psb_store_row_t r   = mkrow("frozen-one", PSB_ST_READY);
	psb_log_level   old = psb_log_threshold;
	rows_t          rs  = {0};
	entries_t       es  = {0};
	sqlite3        *raw;
	size_t          len;
	char           *text;
	int             fd;

	r.pid = 9;
	put_ok(s, &r);
	append_ok(s, "frozen-one", PSB_ST_NONE, PSB_EV_CREATE, PSB_ST_CREATED,
	        NULL);
	commit_ok(s);
	psb_store_close(s);

	// A newer build's state and event names.
	raw = raw_open(db);
	raw_exec(raw,
	        "UPDATE sandboxes SET state = 'FROZEN';"
	        "UPDATE journal SET from_state = 'THAWING', event = 'MELT';");
	sqlite3_close(raw);

	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	psb_log_setup(PSB_LOG_WARN, PSB_LOG_TEXT, fd);
	s = open_store(db, true, 0);
	load_ok(s, &rs);
	read_ok(s, 0, NULL, 0, &es);
	psb_store_close(s);
	psb_log_setup(old, PSB_LOG_TEXT, STDERR_FILENO);
	close(fd);

	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.r[0].id, "frozen-one");
	assert_int_equal(rs.r[0].state, PSB_ST_UNKNOWN);
	assert_int_equal(rs.r[0].pid, 9);
	assert_int_equal(es.n, 1);
	assert_int_equal(es.e[0].from, PSB_ST_UNKNOWN);
	assert_int_equal(es.e[0].event, PSB_EVENT_COUNT);
	assert_int_equal(es.e[0].to, PSB_ST_CREATED);

	text      = read_file(log, &len);
	text      = realloc(text, len + 1);
	text[len] = '\0';
	assert_contains(text, "frozen-one");
	assert_contains(text, "FROZEN");
	assert_contains(text, "MELT");
	free(text);
	rows_free(&rs);
	entries_free(&es);
}

// ---- retention, options
// ---------------------------------------------------------

static void
test_retention(void **state)
{
	psb_test_tmpdir("store-retention");
	const char  *db   = psb_test_path("s.db");
	psb_store_t *s    = open_store(db, true, 10);
	uint64_t     last = 0, lo, hi, prev_lo = 0, seq;
	entries_t    es = {0};
	sqlite3     *raw;

	for (int i = 0; i < 600; i++) {
		seq = append_ok(s, i % 2 ? "a" : "b", PSB_ST_READY,
		        PSB_EV_STOP, PSB_ST_STOPPING, NULL);
		assert_true(seq == last + 1);
		last = seq;
		commit_ok(s);
		assert_int_equal(
		        psb_store_journal_bounds(s, &lo, &hi, NULL), 0);
		assert_true(hi == seq);
		assert_true(lo >= prev_lo && lo >= 1 && lo <= hi);
		// At least journal_keep newest entries are kept.
		assert_true(hi - lo + 1 >= 10 || lo == 1);
		prev_lo = lo;
	}
	assert_true(lo > 1);
	// Bounded: well under one pruning period of growth.
	assert_true(hi - lo + 1 < 10 + 256);

	read_ok(s, 0, NULL, 0, &es);
	assert_true((uint64_t)es.n == hi - lo + 1);
	assert_true(es.e[0].seq == lo && es.e[es.n - 1].seq == hi);
	psb_store_close(s);

	// Seqs are never reused, across restarts and when all is gone.
	raw = raw_open(db);
	raw_exec(raw, "DELETE FROM journal");
	sqlite3_close(raw);
	s = open_store(db, true, 0);
	assert_int_equal(psb_store_journal_bounds(s, &lo, &hi, NULL), 0);
	assert_int_equal(hi, 600);
	assert_int_equal(lo, 601);
	seq = append_ok(
	        s, "a", PSB_ST_READY, PSB_EV_STOP, PSB_ST_STOPPING, NULL);
	assert_int_equal(seq, 601);
	commit_ok(s);
	assert_int_equal(psb_store_journal_bounds(s, &lo, &hi, NULL), 0);
	assert_int_equal(lo, 601);
	assert_int_equal(hi, 601);
	entries_free(&es);
	psb_store_close(s);
}

static void
test_keep_zero_keeps_all(void **state)
{
	psb_test_tmpdir("store-keep0");
	psb_store_t *s = open_store(psb_test_path("s.db"), true, 0);
	uint64_t     lo, hi;

	for (int i = 0; i < 300; i++) {
		append_ok(s, "a", PSB_ST_READY, PSB_EV_STOP, PSB_ST_STOPPING,
		        NULL);
		commit_ok(s);
	}
	assert_int_equal(psb_store_journal_bounds(s, &lo, &hi, NULL), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 300);
	psb_store_close(s);
}

// PRAGMA synchronous is a setting of one connection, not of the file: a
// second connection cannot see what the store asked for. So the store's
// own connection is caught as sqlite opens it (an automatic extension runs
// on every connection opened while it is registered; the store opens one),
// and asked.
static sqlite3 *caught_db;
static int      caught_n;

static int
catch_connection(
        sqlite3 *db, char **errmsg, const struct sqlite3_api_routines *api)
{
	(void)errmsg;
	(void)api;
	caught_db = db;
	caught_n++;
	return (SQLITE_OK);
}

// open_caught opens path like open_store, or with NULL options if opts is
// NULL, and returns the store's PRAGMA synchronous (1 NORMAL, 2 FULL).
static long long
open_caught(
        const char *path, const psb_store_options_t *opts, psb_store_t **out)
{
	psb_error_t err = PSB_ERROR_INIT;
	int         rv;

	caught_db = NULL;
	caught_n  = 0;
	assert_int_equal(
	        sqlite3_auto_extension((void (*)(void))catch_connection),
	        SQLITE_OK);
	rv = psb_store_open(path, opts, out, &err);
	sqlite3_cancel_auto_extension((void (*)(void))catch_connection);
	if (rv != 0) {
		print_error("open %s: %s\n", path, psb_error_message(&err));
	}
	assert_int_equal(rv, 0);
	assert_int_equal(caught_n, 1);
	assert_non_null(caught_db);
	return (raw_int(caught_db, "PRAGMA synchronous"));
}

static void
test_sync_normal(void **state)
{
	psb_test_tmpdir("store-normal");
	const char         *db       = psb_test_path("s.db");
	psb_store_options_t normal   = {false, 100};
	psb_store_options_t full     = {true, 0};
	psb_store_options_t defaults = PSB_STORE_OPTIONS_DEFAULT;
	psb_store_t        *s        = NULL;
	psb_store_row_t     r        = mkrow("n", PSB_ST_CREATED);
	sqlite3            *raw;
	uint64_t            n;

	// sync_full = false: NORMAL (1) on the store's connection.
	assert_int_equal(open_caught(db, &normal, &s), 1);
	put_ok(s, &r);
	append_ok(s, "n", PSB_ST_NONE, PSB_EV_CREATE, PSB_ST_CREATED, NULL);
	commit_ok(s);
	raw = raw_open(db);
	assert_int_equal(raw_int(raw, "SELECT count(*) FROM sandboxes"), 1);
	assert_string_equal(raw_text(raw, "PRAGMA journal_mode"), "wal");
	sqlite3_close(raw);
	// Still NORMAL after a commit (nothing resets it).
	assert_int_equal(raw_int(caught_db, "PRAGMA synchronous"), 1);
	psb_store_close(s);

	// sync_full = true: FULL (2), on the same file.
	assert_int_equal(open_caught(db, &full, &s), 2);
	assert_int_equal(psb_store_count(s, &n, NULL), 0);
	assert_int_equal(n, 1);
	psb_store_close(s);
	// NULL options mean the defaults: FULL.
	assert_true(defaults.sync_full);
	assert_int_equal(open_caught(db, NULL, &s), 2);
	psb_store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_open_fresh),
	        cmocka_unit_test(test_empty_file_is_new),
	        cmocka_unit_test(test_roundtrip),
	        cmocka_unit_test(test_put_replaces_and_remove),
	        cmocka_unit_test(test_invalid_args),
	        cmocka_unit_test(test_journal),
	        cmocka_unit_test(test_group_commit),
	        cmocka_unit_test(test_injected_commit_failure),
	        cmocka_unit_test(test_real_io_failure),
	        cmocka_unit_test(test_migrate_from_v1),
	        cmocka_unit_test(test_fill_config_json),
	        cmocka_unit_test(test_newer_version_refused),
	        cmocka_unit_test(test_busy_same_process),
	        cmocka_unit_test(test_busy_forked_child),
	        cmocka_unit_test(test_corrupt_random_bytes),
	        cmocka_unit_test(test_corrupt_truncated_and_damaged),
	        cmocka_unit_test(test_unknown_state_loaded_as_unknown),
	        cmocka_unit_test(test_retention),
	        cmocka_unit_test(test_keep_zero_keeps_all),
	        cmocka_unit_test(test_sync_normal),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}

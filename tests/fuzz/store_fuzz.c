//
// podsandboxd - a database with corrupt rows against the store's loader
// and the recovery that believes it (persistence/store.c, core/recovery.c;
// STYLE.md practice 7: what comes from disk returns an error, never a
// crash).
//
// Each input builds a real sqlite file in a scratch directory, with the
// schema of a version the store knows (or an older one, to migrate), and
// rows whose every column is whatever the input says: any sqlite type,
// huge text, text that is no JSON, NULLs, numbers out of range, unknown
// state names. Then, as podsandboxd starts:
//
//   psb_store_open              -> a store, or PSB_ECORRUPT/ENOTSUP/ESTORE
//   psb_store_load_all          -> every row, ids in order
//   psb_store_fill_config_json  -> rows without config_json get one
//   psb_controller_recover      -> on the scripted runtime; must finish
//   List, Status (verbose), Events, History, Version, Stop, Shutdown
//                               -> one reply each, and every reply encodes
//                                  (psb_codec_encode_reply) and decodes
//
// Input: byte 0 (bits 0-1: schema version 4, 1, 2, 3; bit 2: a bad
// user_version from byte 1; bit 3: the scripted world has a running task
// for each sandbox; bit 4: the store is opened a second time after
// recovery, as a restart would), byte 1, then rows. A row starts with a
// byte: below 0xc0 a sandbox row (17 columns), else a journal row (7
// columns). A column is a selector byte and its bytes:
//   sel & 7:  0 NULL   1 INTEGER (8 bytes)   2 REAL (8 bytes)
//             3 TEXT (length byte + bytes)   4 BLOB (length byte + bytes)
//             5 the column's dictionary value sel >> 3 (fz_good)
//             6 TEXT of (sel >> 3) + 1 KiB of one byte
//             7 INTEGER (sel >> 3) - 16
// A row cut short by the end of the input takes dictionary values.
//

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "core/controller.h"
#include "fuzz_util.h"
#include "persistence/store.h"
#include "podsandbox.pb-c.h"
#include "runtime/scripted.h"
#include "transport/codec.h"

#define FZ_ROWS    24
#define FZ_IDS     32
#define FZ_LOOP_MS 300 // a recovery on the scripted runtime takes < 1 ms

typedef struct fz_in {
	const uint8_t *p;
	size_t         n;
} fz_in_t;

static uint8_t
fz_take(fz_in_t *in, bool *ok)
{
	if (in->n == 0) {
		*ok = false;
		return (0);
	}
	in->n--;
	return (*in->p++);
}

// ---- the columns' dictionaries ---------------------------------------------

#define FZ_CONFIG_PB       \
	"\x0a\x09\x0a\x01" \
	"a\x12\x01u\x1a\x01n"

static const char *const fz_sb_cols[] = {"id", "state", "generation", "config",
        "runtime_handler", "netns_path", "cni_result", "pid", "created_at",
        "started_at", "exited_at", "exit_status", "labels", "updated_at",
        "resources", "want", "config_json"};

static const char *const fz_j_cols[] = {"seq", "sandbox_id", "time",
        "from_state", "event", "to_state", "detail"};

// A value per column that a real row could hold, and a few that it could
// not: (type, text) where type is 'i' (integer), 't' (text), 'b' (blob).
typedef struct fz_good {
	char        type;
	const char *v;
} fz_good_t;

static const fz_good_t fz_good_id[]     = {{'t', "sb-1"}, {'t', "sb-2"},
            {'t', "a"}, {'t', "A_b.c-9"}, {'t', ""}, {'t', "bad id!"},
            {'b', "sb-1"}, {'t', "sb-1\xff"}};
static const fz_good_t fz_good_state[]  = {{'t', "READY"}, {'t', "CREATED"},
         {'t', "STARTING"}, {'t', "STOPPING"}, {'t', "EXITED"},
         {'t', "DELETING"}, {'t', "UNKNOWN"}, {'t', "NONE"}, {'t', "BOGUS"},
         {'t', "ready"}, {'i', "3"}};
static const fz_good_t fz_good_int[]    = {{'i', "1"}, {'i', "0"},
           {'i', "4294967295"}, {'i', "-1"}, {'i', "9223372036854775807"},
           {'i', "-9223372036854775808"}, {'i', "1700000000000000000"},
           {'i', "137"}, {'i', "2147483648"}, {'t', "12abc"}};
static const fz_good_t fz_good_config[] = {
        {'b', FZ_CONFIG_PB}, {'b', "\xff\xff\xff"}, {'t', "cfg-A"}, {'b', ""}};
static const fz_good_t fz_good_text[]      = {{'t', "runc"}, {'t', ""},
             {'t', "/var/run/netns/fz"}, {'t', "relative/path"},
             {'t', "{\"ips\":[]}"}, {'t', "x\ny"}};
static const fz_good_t fz_good_labels[]    = {{'t', "{\"app\":\"x\"}"},
           {'t', "{}"}, {'t', "[]"}, {'t', "not json"}, {'t', "{\"a\":1}"},
           {'t', "{\"a\":{\"b\":null}}"}, {'t', "\"str\""}};
static const fz_good_t fz_good_resources[] = {
        {'t', "{\"network\":{\"netns\":\"/nonexistent/fz/netns\","
              "\"ips\":[\"10.0.0.1\",\"fd00::1\",7]}}"},
        {'t', "{\"network\":1}"}, {'t', "{\"network\":{\"ips\":\"x\"}}"},
        {'t', "{\"callerNetns\":\"/nonexistent/fz\",\"image\":\"i\"}"},
        {'t', "{\"closedNetns\":true,\"runtimeSpec\":{\"a\":[]}}"},
        {'t', "garbage"}, {'t', "{}"}};
static const fz_good_t fz_good_config_json[] = {
        {'t', "{\"metadata\":{\"name\":\"a\",\"uid\":\"u\","
              "\"namespace\":\"n\"}}"},
        {'t', "null"}, {'t', "["}, {'t', "{\"linux\":7}"}, {'t', "{}"}};
static const fz_good_t fz_good_event[]  = {{'t', "CREATE"}, {'t', "START"},
         {'t', "START_OK"}, {'t', "TASK_EXIT"}, {'t', "NOPE"}, {'i', "1"}};
static const fz_good_t fz_good_detail[] = {{'t', "{\"exit_status\":3}"},
        {'t', "{\"exit_status\":\"x\"}"}, {'t', "[1]"}, {'t', "}"}};

#define FZ_DICT(a)              \
	{                       \
		a, PSB_NELEM(a) \
	}
typedef struct fz_dict {
	const fz_good_t *v;
	size_t           n;
} fz_dict_t;

static const fz_dict_t fz_sb_dict[] = {FZ_DICT(fz_good_id),
        FZ_DICT(fz_good_state), FZ_DICT(fz_good_int), FZ_DICT(fz_good_config),
        FZ_DICT(fz_good_text), FZ_DICT(fz_good_text), FZ_DICT(fz_good_text),
        FZ_DICT(fz_good_int), FZ_DICT(fz_good_int), FZ_DICT(fz_good_int),
        FZ_DICT(fz_good_int), FZ_DICT(fz_good_int), FZ_DICT(fz_good_labels),
        FZ_DICT(fz_good_int), FZ_DICT(fz_good_resources), FZ_DICT(fz_good_int),
        FZ_DICT(fz_good_config_json)};
static const fz_dict_t fz_j_dict[]  = {FZ_DICT(fz_good_int),
         FZ_DICT(fz_good_id), FZ_DICT(fz_good_int), FZ_DICT(fz_good_state),
         FZ_DICT(fz_good_event), FZ_DICT(fz_good_state),
         FZ_DICT(fz_good_detail)};

_Static_assert(PSB_NELEM(fz_sb_dict) == PSB_NELEM(fz_sb_cols), "columns");
_Static_assert(PSB_NELEM(fz_j_dict) == PSB_NELEM(fz_j_cols), "columns");

// ---- building the database
// --------------------------------------------------

static char fz_db[300];

static void
fz_bind_good(sqlite3_stmt *st, int i, const fz_good_t *g)
{
	switch (g->type) {
	case 'i': sqlite3_bind_int64(st, i, strtoll(g->v, NULL, 10)); break;
	case 'b':
		sqlite3_bind_blob(
		        st, i, g->v, (int)strlen(g->v), SQLITE_STATIC);
		break;
	default: sqlite3_bind_text(st, i, g->v, -1, SQLITE_STATIC); break;
	}
}

// fz_bind binds parameter i from the input (see the file comment).
static void
fz_bind(sqlite3_stmt *st, int i, const fz_dict_t *dict, fz_in_t *in, int rowno)
{
	bool     ok  = true;
	uint8_t  sel = fz_take(in, &ok);
	uint8_t  n;
	uint64_t v = 0;
	double   d;
	char    *big;

	if (!ok) {
		// Cut short: a plausible value, ids kept apart by the row.
		fz_bind_good(st, i, &dict->v[(size_t)rowno % dict->n]);
		return;
	}
	switch (sel & 7) {
	case 0: sqlite3_bind_null(st, i); break;
	case 1:
	case 2:
		for (int k = 0; k < 8; k++) {
			v |= (uint64_t)fz_take(in, &ok) << (8 * k);
		}
		if ((sel & 7) == 1) {
			sqlite3_bind_int64(st, i, (sqlite3_int64)v);
		} else {
			memcpy(&d, &v, sizeof(d));
			sqlite3_bind_double(st, i, d);
		}
		break;
	case 3:
	case 4:
		n = fz_take(in, &ok);
		n = n < in->n ? n : (uint8_t)in->n;
		if ((sel & 7) == 3) {
			sqlite3_bind_text(st, i, (const char *)in->p, n,
			        SQLITE_TRANSIENT);
		} else {
			sqlite3_bind_blob(st, i, in->p, n, SQLITE_TRANSIENT);
		}
		in->p += n;
		in->n -= n;
		break;
	case 5:
		fz_bind_good(st, i, &dict->v[(size_t)(sel >> 3) % dict->n]);
		break;
	case 6:
		n   = fz_take(in, &ok);
		big = malloc(((size_t)(sel >> 3) + 1) * 1024);
		FZ_CHECK(big != NULL);
		memset(big, n, ((size_t)(sel >> 3) + 1) * 1024);
		sqlite3_bind_text(
		        st, i, big, (int)((sel >> 3) + 1) * 1024, free);
		break;
	default: sqlite3_bind_int64(st, i, (int)(sel >> 3) - 16); break;
	}
}

// The schema of versions 1 to 3, as store.c's migrations leave them.
static const char *const fz_old_schema[] = {
        "CREATE TABLE sandboxes (id TEXT PRIMARY KEY, state TEXT NOT NULL,"
        " generation INTEGER, config BLOB, runtime_handler TEXT,"
        " netns_path TEXT, cni_result TEXT, pid INTEGER, created_at "
        "INTEGER, started_at INTEGER, exited_at INTEGER, exit_status "
        "INTEGER, labels TEXT, updated_at INTEGER) WITHOUT ROWID;"
        "CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " sandbox_id TEXT NOT NULL, time INTEGER, from_state TEXT,"
        " event TEXT, to_state TEXT);"
        "CREATE INDEX journal_by_sandbox ON journal (sandbox_id, seq);",
        // Parenthesised: one element of two statements.
        ("ALTER TABLE sandboxes ADD COLUMN resources TEXT;"
         "ALTER TABLE journal ADD COLUMN detail TEXT;"),
        "ALTER TABLE sandboxes ADD COLUMN want INTEGER NOT NULL DEFAULT 0;",
};

static void
fz_unlink_db(void)
{
	static const char *const sfx[] = {
	        "", "-wal", "-shm", ".lock", "-journal"};
	char p[340];

	for (size_t i = 0; i < PSB_NELEM(sfx); i++) {
		snprintf(p, sizeof(p), "%s%s", fz_db, sfx[i]);
		if (unlink(p) != 0 && errno != ENOENT) {
			perror(p);
		}
	}
}

// fz_insert inserts one row of table (ncols of cols) from the input; a
// column that the old schema lacks is left out.
static void
fz_insert(sqlite3 *db, const char *table, const char *const *cols,
        const fz_dict_t *dict, size_t ncols, int version, fz_in_t *in,
        int rowno)
{
	char          sql[600], names[400] = "", qs[100] = "";
	bool          use[32];
	sqlite3_stmt *st;
	size_t        used = 0;
	int           k    = 0;

	FZ_CHECK(ncols <= PSB_NELEM(use));
	for (size_t i = 0; i < ncols; i++) {
		bool missing =
		        (version < 2 &&
		                (strcmp(cols[i], "resources") == 0 ||
		                        strcmp(cols[i], "detail") == 0)) ||
		        (version < 3 && strcmp(cols[i], "want") == 0) ||
		        (version < 4 && strcmp(cols[i], "config_json") == 0);

		use[i] = !missing;
		if (missing) {
			continue;
		}
		used += (size_t)snprintf(names + used, sizeof(names) - used,
		        "%s%s", k ? "," : "", cols[i]);
		snprintf(qs + strlen(qs), sizeof(qs) - strlen(qs), "%s?",
		        k ? "," : "");
		k++;
	}
	snprintf(sql, sizeof(sql),
	        "INSERT OR REPLACE INTO %s (%s) VALUES (%s)", table, names,
	        qs);
	FZ_CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
	k = 0;
	for (size_t i = 0; i < ncols; i++) {
		if (use[i]) {
			fz_bind(st, ++k, &dict[i], in, rowno);
		}
	}
	// NOT NULL and the like may refuse it.
	if (sqlite3_step(st) != SQLITE_DONE) {
		FZ_NOTE("insert into %s: %s\n", table, sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
}

static void
fz_build(const uint8_t *data, size_t size, int *version)
{
	psb_store_t *s   = NULL;
	psb_error_t  err = PSB_ERROR_INIT;
	sqlite3     *db;
	fz_in_t      in = {data + 2, size - 2};
	char         sql[80];

	*version = (data[0] & 3) == 0 ? 4 : data[0] & 3;
	fz_unlink_db();
	if (*version == 4) {
		psb_store_options_t so = PSB_STORE_OPTIONS_DEFAULT;

		so.sync_full = false;
		FZ_CHECK(psb_store_open(fz_db, &so, &s, &err) == 0);
		psb_store_close(s);
	}
	FZ_CHECK(sqlite3_open(fz_db, &db) == SQLITE_OK);
	for (int v = 1; v <= 3 && *version < 4; v++) {
		if (v <= *version) {
			FZ_CHECK(sqlite3_exec(db, fz_old_schema[v - 1], NULL,
			                 NULL, NULL) == SQLITE_OK);
		}
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	        (data[0] & 4) ? (int)(int8_t)data[1] : *version);
	FZ_CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (int row = 0; row < FZ_ROWS && in.n > 0; row++) {
		bool    ok   = true;
		uint8_t kind = fz_take(&in, &ok);

		if (kind < 0xc0) {
			fz_insert(db, "sandboxes", fz_sb_cols, fz_sb_dict,
			        PSB_NELEM(fz_sb_cols), *version, &in, row);
		} else {
			fz_insert(db, "journal", fz_j_cols, fz_j_dict,
			        PSB_NELEM(fz_j_cols), *version, &in, row);
		}
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	FZ_CHECK(sqlite3_close(db) == SQLITE_OK);
}

// ---- loading
// ------------------------------------------------------------------

typedef struct fz_load {
	int  rows;
	char ids[FZ_IDS][PSB_ID_MAX + 2];
	int  nids; // the valid ones, as recovery keeps them
	char last[300];
} fz_load_t;

static int
fz_row_cb(void *arg, const psb_store_row_t *row)
{
	fz_load_t *l = arg;

	l->rows++;
	FZ_NOTE("row %s %s gen %llu want %u\n",
	        row->id != NULL ? row->id : "(null)",
	        psb_state_name(row->state),
	        (unsigned long long)row->generation, row->want);
	FZ_CHECK(row->state < PSB_STATE_COUNT);
	FZ_CHECK(row->config_len == 0 || row->config != NULL);
	// In id order (BINARY collation of what sqlite holds: a text and a
	// blob id compare apart, so this is checked on text ids only).
	if (row->id != NULL) {
		(void)strlen(row->id);
		if (psb_id_valid(row->id) && l->nids < FZ_IDS) {
			snprintf(l->ids[l->nids++], sizeof(l->ids[0]), "%s",
			        row->id);
		}
	}
	return (0);
}

static char *
fz_render(void *arg, const void *config, size_t len)
{
	(void)arg;
	return (psb_codec_config_json(config, len));
}

static int
fz_journal_cb(void *arg, const psb_store_journal_t *e)
{
	uint64_t *last = arg;

	FZ_CHECK(e->seq > *last); // oldest first, never the same twice
	FZ_CHECK(e->from < PSB_STATE_COUNT && e->to < PSB_STATE_COUNT);
	FZ_CHECK(e->event <= PSB_EVENT_COUNT);
	*last = e->seq;
	return (0);
}

// ---- the controller over it
// -------------------------------------------------

typedef struct fz_call {
	int          replies;
	psb_method_t method;
	int          code;
} fz_call_t;

static void
fz_reply_cb(void *arg, const psb_reply_t *r)
{
	fz_call_t *c   = arg;
	void      *buf = NULL;
	size_t     len = 0;
	int        rv;

	c->replies++;
	c->code = r->code;
	FZ_CHECK(r->method == c->method);
	rv = psb_codec_encode_reply(r, &buf, &len);
	if (rv == 0) {
		Podsandbox__V1__Response *resp =
		        podsandbox__v1__response__unpack(NULL, len, buf);

		FZ_CHECK(resp != NULL);
		podsandbox__v1__response__free_unpacked(resp, NULL);
	} else {
		FZ_NOTE("%s reply not encoded (%d)\n",
		        psb_method_name(r->method), rv);
		FZ_CHECK(rv == PSB_EINTERNAL);
	}
	free(buf);
}

static void
fz_recovered_cb(void *arg)
{
	*(bool *)arg = true;
}

static void
fz_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

// fz_run_until runs the loop until *flag or the calls are answered.
static bool
fz_run_until(
        struct ev_loop *loop, const bool *flag, const fz_call_t *calls, int n)
{
	ev_timer  tick;
	ev_tstamp end = ev_time() + FZ_LOOP_MS / 1000.0;
	bool      done;

	ev_timer_init(&tick, fz_tick_cb, 0.001, 0.001);
	ev_timer_start(loop, &tick);
	for (;;) {
		done = flag == NULL || *flag;
		for (int i = 0; i < n; i++) {
			done = done && calls[i].replies > 0;
		}
		if (done || ev_time() > end) {
			break;
		}
		ev_run(loop, EVRUN_ONCE);
	}
	ev_timer_stop(loop, &tick);
	return (done);
}

static void
fz_submit(psb_controller_t *c, fz_call_t *call, psb_method_t m, const char *id,
        bool verbose)
{
	psb_request_t req = {0};

	req.method     = m;
	req.sandbox_id = id;
	req.verbose    = verbose;
	req.timeout_ms = 1;
	call->method   = m;
	// A plain Status or List is answered from the board when it can be.
	if (!psb_controller_read(c, &req, fz_reply_cb, call)) {
		(void)psb_controller_submit(c, &req, fz_reply_cb, call);
	}
}

static struct ev_loop *fz_loop;
static psb_runtime_t  *fz_rt; // the scripted world of one input

static void
fz_serve(psb_store_t *store, const fz_load_t *l, uint8_t flags)
{
	static const psb_controller_opts_t opts = {200, 20, 50, 1, 1, 5, 50};
	psb_controller_t                  *c    = NULL;
	psb_error_t                        err  = PSB_ERROR_INIT;
	fz_call_t                          calls[FZ_IDS * 3 + 4];
	bool                               recovered = false;
	int                                n         = 0;

	for (int i = 0; i < l->nids; i++) {
		psb_scripted_set_task(fz_rt, l->ids[i], 1,
		        (flags & 8) ? PSB_FAKE_RUNNING : PSB_FAKE_NONE,
		        (flags & 8) ? 4242 : 0, -1);
	}
	FZ_CHECK(psb_controller_new(fz_loop, store, fz_rt, &opts, &c, &err) ==
	         0);
	if (psb_controller_recover(c, fz_recovered_cb, &recovered, &err) !=
	        0) {
		FZ_NOTE("recover: %s\n", err.msg);
		FZ_CHECK(err.msg != NULL);
		psb_error_release(&err);
		psb_controller_free(c);
		return;
	}
	if (!fz_run_until(fz_loop, &recovered, NULL, 0)) {
		fprintf(stderr,
		        "store_fuzz: recovery of %d sandboxes did not "
		        "finish\n",
		        l->nids);
		abort();
	}
	FZ_CHECK(psb_controller_count(c) <= (size_t)l->nids);
	memset(calls, 0, sizeof(calls));
	fz_submit(c, &calls[n++], PSB_M_LIST, NULL, false);
	fz_submit(c, &calls[n++], PSB_M_EVENTS, NULL, false);
	fz_submit(c, &calls[n++], PSB_M_VERSION, NULL, false);
	for (int i = 0; i < l->nids; i++) {
		fz_submit(c, &calls[n++], PSB_M_STATUS, l->ids[i], true);
		fz_submit(c, &calls[n++], PSB_M_HISTORY, l->ids[i], false);
		fz_submit(c, &calls[n++],
		        i % 2 == 0 ? PSB_M_STOP : PSB_M_SHUTDOWN, l->ids[i],
		        false);
	}
	(void)fz_run_until(fz_loop, NULL, calls, n);
	psb_controller_drain(c);
	(void)fz_run_until(fz_loop, NULL, calls, n);
	psb_controller_free(c); // answers what is left: ECANCELED
	for (int i = 0; i < n; i++) {
		FZ_CHECK(calls[i].replies == 1);
	}
}

static void
fz_cleanup(void)
{
	fz_unlink_db();
	rmdir(fz_scratch("store"));
}

static void
fz_init(void)
{
	int fd;

	if (fz_loop != NULL) {
		return;
	}
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (getenv("PSB_FUZZ_VERBOSE") == NULL) {
		psb_log_setup(PSB_LOG_ERROR, PSB_LOG_TEXT, fd >= 0 ? fd : 2);
	} else {
		psb_log_setup(PSB_LOG_DEBUG, PSB_LOG_TEXT, 2);
		if (fd >= 0) {
			close(fd);
		}
	}
	snprintf(fz_db, sizeof(fz_db), "%s/s.db", fz_scratch("store"));
	fz_loop = ev_loop_new(EVFLAG_AUTO);
	FZ_CHECK(fz_loop != NULL);
	atexit(fz_cleanup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	psb_store_options_t so  = PSB_STORE_OPTIONS_DEFAULT;
	psb_store_t        *s   = NULL;
	psb_error_t         err = PSB_ERROR_INIT;
	fz_load_t           l;
	uint64_t            seq = 0, oldest, newest, count;
	size_t              filled;
	int                 version, rv;

	if (size < 2) {
		return (0);
	}
	fz_init();
	fz_build(data, size, &version);
	FZ_CHECK(psb_runtime_open("scripted", fz_loop, NULL, &fz_rt, &err) ==
	         0);
	so.sync_full = false;
	rv           = psb_store_open(fz_db, &so, &s, &err);
	if (rv != 0) {
		FZ_NOTE("open: %s\n", err.msg);
		FZ_CHECK(rv == PSB_ECORRUPT || rv == PSB_ENOTSUP ||
		         rv == PSB_ESTORE);
		FZ_CHECK(err.code == rv && err.msg != NULL);
		psb_error_release(&err);
		psb_runtime_close(fz_rt);
		return (0);
	}
	memset(&l, 0, sizeof(l));
	FZ_CHECK(psb_store_load_all(s, fz_row_cb, &l, &err) == 0);
	FZ_CHECK(psb_store_count(s, &count, &err) == 0);
	FZ_CHECK(count == (uint64_t)l.rows);
	FZ_CHECK(psb_store_fill_config_json(
	                 s, fz_render, NULL, &filled, &err) == 0);
	FZ_CHECK(psb_store_journal_read(
	                 s, 0, NULL, 0, fz_journal_cb, &seq, &err) == 0);
	FZ_CHECK(psb_store_journal_bounds(s, &oldest, &newest, &err) == 0);
	FZ_NOTE("%d rows (%d valid ids), %zu filled, journal %llu..%llu\n",
	        l.rows, l.nids, filled, (unsigned long long)oldest,
	        (unsigned long long)newest);
	fz_serve(s, &l, data[0]);
	if (data[0] & 16) {
		// A restart over what the first run committed.
		psb_store_close(s);
		FZ_CHECK(psb_store_open(fz_db, &so, &s, &err) == 0);
		fz_serve(s, &l, data[0]);
	}
	psb_store_close(s);
	psb_runtime_close(fz_rt);
	return (0);
}

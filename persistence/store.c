//
// podsandboxd - the sqlite store (see store.h, DESIGN.md §4).
//
// The one rule that shapes this file: anything that comes from disk may be
// wrong, and an existing database is never deleted, truncated or recreated.
// Opening checks the file in an order that writes nothing until it is known
// to be ours and readable: lock, header bytes, user_version, quick_check;
// only then WAL mode and migrations.
//

#include "persistence/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/log.h"

// Prune the journal at least once per this many commits that appended.
#define STORE_PRUNE_EVERY 256

// Our flock keeps other daemons out, so a lock can only be held by a
// foreign reader (the sqlite3 shell, a backup); the loop thread must not
// stall long on one.
#define STORE_BUSY_MS 100

#define STORE_SB_COLS                                                  \
	"id, state, generation, config, runtime_handler, netns_path, " \
	"cni_result, labels, resources, pid, created_at, started_at, " \
	"exited_at, exit_status, updated_at, want, config_json"
#define STORE_J_COLS \
	"seq, sandbox_id, time, from_state, event, to_state, detail"

enum store_stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_PUT,
	ST_REMOVE,
	ST_APPEND,
	ST_LOAD,
	ST_READ_ALL,
	ST_READ_SB,
	ST_MIN_SEQ,
	ST_LAST_SEQ,
	ST_PRUNE,
	ST_COUNT,
	ST_SET_CONFIG_JSON,
	ST_NSTMTS
};

static const char *const store_sql[ST_NSTMTS] = {
        // IMMEDIATE takes the write lock up front, so a tick never fails
        // half-way with SQLITE_BUSY on a read-to-write upgrade.
        [ST_BEGIN]    = "BEGIN IMMEDIATE",
        [ST_COMMIT]   = "COMMIT",
        [ST_ROLLBACK] = "ROLLBACK",
        [ST_PUT]      = "INSERT OR REPLACE INTO sandboxes (" STORE_SB_COLS
                   ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                   "?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        [ST_REMOVE] = "DELETE FROM sandboxes WHERE id = ?1",
        [ST_APPEND] =
                "INSERT INTO journal (sandbox_id, time, from_state, "
                "event, to_state, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        [ST_LOAD] = "SELECT " STORE_SB_COLS " FROM sandboxes ORDER BY id",
        // Two statements rather than "(?2 IS NULL OR ...)", so that the
        // per-sandbox read uses the (sandbox_id, seq) index.
        [ST_READ_ALL] = "SELECT " STORE_J_COLS " FROM journal WHERE seq > ?1 "
                        "ORDER BY seq LIMIT ?2",
        [ST_READ_SB]  = "SELECT " STORE_J_COLS " FROM journal WHERE seq > ?1 "
                        "AND sandbox_id = ?3 ORDER BY seq LIMIT ?2",
        [ST_MIN_SEQ]  = "SELECT min(seq) FROM journal",
        // sqlite_sequence remembers the largest seq ever handed out, also
        // after the newest entries were pruned, so "newest" never goes back.
        [ST_LAST_SEQ] =
                "SELECT seq FROM sqlite_sequence WHERE name = 'journal'",
        [ST_PRUNE] = "DELETE FROM journal WHERE seq <= "
                     "(SELECT max(seq) FROM journal) - ?1",
        // The rows psb_store_load_all loads: a text id without a NUL.
        [ST_COUNT] = "SELECT count(*) FROM sandboxes WHERE typeof(id) = "
                     "'text' AND instr(CAST(id AS BLOB), x'00') = 0",
        [ST_SET_CONFIG_JSON] =
                "UPDATE sandboxes SET config_json = ?2 WHERE id = ?1",
};

// Forward migrations: step i brings the schema to version i + 1. A fresh
// database runs all of them, so the upgrade path is exercised on every
// first start, not only on the rare machine that still has an old file.
static const char *const store_migrations[] = {
        // Version 1.
        "CREATE TABLE sandboxes ("
        " id TEXT PRIMARY KEY, state TEXT NOT NULL, generation INTEGER,"
        " config BLOB, runtime_handler TEXT, netns_path TEXT,"
        " cni_result TEXT, pid INTEGER, created_at INTEGER,"
        " started_at INTEGER, exited_at INTEGER, exit_status INTEGER,"
        " labels TEXT, updated_at INTEGER) WITHOUT ROWID;"
        "CREATE TABLE journal ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " sandbox_id TEXT NOT NULL, time INTEGER, from_state TEXT,"
        " event TEXT, to_state TEXT);"
        "CREATE INDEX journal_by_sandbox ON journal (sandbox_id, seq);",
        // Version 2 (parenthesised: one element of two statements).
        ("ALTER TABLE sandboxes ADD COLUMN resources TEXT;"
         "ALTER TABLE journal ADD COLUMN detail TEXT;"),
        // Version 3.
        "ALTER TABLE sandboxes ADD COLUMN want INTEGER NOT NULL DEFAULT 0;",
        // Version 4: the config rendered once at Create, so that core
        // never decodes protobuf (older rows: psb_store_fill_config_json).
        "ALTER TABLE sandboxes ADD COLUMN config_json TEXT;",
};

_Static_assert(PSB_NELEM(store_migrations) == PSB_STORE_SCHEMA_VERSION,
        "one migration step per schema version");

struct psb_store {
	sqlite3      *db;
	char         *path;
	int           lock_fd;
	uint64_t      keep;
	int           fail_commits;
	bool          tick_failed; // a write of the open tick failed
	uint64_t      since_prune_commits;
	uint64_t      since_prune_appends;
	sqlite3_stmt *stmts[ST_NSTMTS];
};

// store_code maps an sqlite result code to ours: damage is ECORRUPT (the
// operator has to look at the file), anything else ESTORE.
static int
store_code(int rc)
{
	rc &= 0xff;
	return (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? PSB_ECORRUPT
	                                                    : PSB_ESTORE);
}

// store_fail fills err with "store <path>: <what>: <sqlite's message>".
static int
store_fail(psb_store_t *s, psb_error_t *err, int rc, const char *what)
{
	return (psb_error_make(err, store_code(rc), "store %s: %s: %s",
	        s->path, what,
	        s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc)));
}

// store_corrupt reports damage. The advice matters: we never repair or
// replace the file ourselves.
static int
store_corrupt(
        psb_store_t *s, psb_error_t *err, const char *why, const char *detail)
{
	return (psb_error_make(err, PSB_ECORRUPT,
	        "store %s: %s%s; the file was left untouched (move it away "
	        "to start with an empty store)",
	        s->path, why, detail));
}

// store_check_seq refuses a journal whose sequence numbers are nearly
// used up (a damaged or hand-edited file: a daemon appends a few per
// transition): with none left every journal append fails, and with it
// every transaction.
#define STORE_SEQ_MAX (INT64_C(1) << 62)

static int
store_check_seq(psb_store_t *s, psb_error_t *err)
{
	sqlite3_stmt *st  = NULL;
	int64_t       max = 0;
	char          detail[64];
	int           rc;

	rc = sqlite3_prepare_v2(s->db,
	        "SELECT max(coalesce((SELECT max(seq) FROM journal), 0), "
	        "coalesce((SELECT seq FROM sqlite_sequence WHERE name = "
	        "'journal'), 0))",
	        -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		max = sqlite3_column_int64(st, 0);
		rc  = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK) {
		return (store_fail(s, err, rc, "cannot read the journal"));
	}
	if (max >= STORE_SEQ_MAX) {
		snprintf(detail, sizeof(detail), "%lld", (long long)max);
		return (store_corrupt(s, err,
		        "the journal's sequence numbers are used up: seq ",
		        detail));
	}
	return (0);
}

// store_done resets a statement after use: a statement left mid-scan
// would keep a read snapshot open and block COMMIT/ROLLBACK and
// checkpoints. Bindings are cleared so no borrowed pointer outlives the
// call that bound it.
static void
store_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

// store_run steps a cached statement once and returns sqlite's result
// code. out (if not NULL) gets the first column of the first row, 0 for
// NULL or no row.
static int
store_run(psb_store_t *s, enum store_stmt which, uint64_t *out)
{
	sqlite3_stmt *st = s->stmts[which];
	int           rc = sqlite3_step(st);

	if (out != NULL) {
		*out = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0)
		                        : 0;
	}
	if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		rc = SQLITE_OK;
	} else {
		// The step's error code is also returned by reset; the
		// connection's message stays until the next API call.
		rc = sqlite3_reset(st);
		rc = rc == SQLITE_OK ? SQLITE_ERROR : rc;
	}
	store_done(st);
	return (rc);
}

// store_pragma runs a one-value pragma at open time, before the cached
// statements exist. *text (NULL or a previous result) gets the value.
static int
store_pragma(sqlite3 *db, const char *sql, char **text)
{
	sqlite3_stmt *st = NULL;
	const char   *t  = NULL;
	int           rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		t  = (const char *)sqlite3_column_text(st, 0);
		rc = SQLITE_DONE;
	}
	free(*text);
	*text = xstrdup(t != NULL ? t : "");
	sqlite3_finalize(st);
	return (rc == SQLITE_DONE ? SQLITE_OK : rc);
}

// store_lock takes "<path>.lock". flock, not sqlite's own locking, is the
// guard against a second daemon: sqlite would let two writers take turns,
// and two controllers of the same sandboxes must never run at once.
static int
store_lock(psb_store_t *s, psb_error_t *err)
{
	_cleanup_free_ char *lpath = xasprintf("%s.lock", s->path);
	char                 buf[32];
	int                  fd, n;

	fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		return (psb_error_sys(err, PSB_ESTORE, errno,
		        "store %s: cannot open lock file %s", s->path, lpath));
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int     e = errno;
		ssize_t r;

		if (e != EWOULDBLOCK) {
			close(fd);
			return (psb_error_sys(err, PSB_ESTORE, e,
			        "store %s: cannot lock %s", s->path, lpath));
		}
		// The holder may not have written its pid yet; say so
		// rather than guess.
		r = pread(fd, buf, sizeof(buf) - 1, 0);
		close(fd);
		buf[r > 0 ? r : 0] = '\0';
		if (strtol(buf, NULL, 10) <= 0) {
			snprintf(buf, sizeof(buf), "unknown");
		}
		buf[strcspn(buf, "\n")] = '\0';
		return (psb_error_make(err, PSB_EBUSY,
		        "database %s is in use by another podsandboxd "
		        "(pid %s)",
		        s->path, buf));
	}
	s->lock_fd = fd;
	// The pid only feeds the message above, so failing to record it is
	// not worth refusing to start over.
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, n, 0) != n) {
		psb_log(PSB_LOG_WARN, "store %s: cannot write pid to %s: %s",
		        s->path, lpath, strerror(errno));
	}
	return (0);
}

// store_check_header reads the magic ourselves: handed a foreign file,
// sqlite in WAL mode could create side files or write before it notices.
// An empty file is what a crash during the very first open leaves, and
// sqlite treats it as a new database, so we do too.
static int
store_check_header(psb_store_t *s, psb_error_t *err)
{
	static const char   magic[16] = "SQLite format 3";
	char                hdr[16];
	struct stat         st;
	ssize_t             n;
	_cleanup_close_ int fd =
	        open(s->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		if (errno == ENOENT) {
			return (0);
		}
		return (psb_error_sys(err, PSB_ESTORE, errno,
		        "store %s: cannot open", s->path));
	}
	if (fstat(fd, &st) == 0 && st.st_size == 0 && S_ISREG(st.st_mode)) {
		return (0);
	}
	// A directory fails here with EISDIR.
	if ((n = pread(fd, hdr, sizeof(hdr), 0)) < 0) {
		return (psb_error_sys(err, PSB_ESTORE, errno,
		        "store %s: cannot read", s->path));
	}
	if (n != (ssize_t)sizeof(hdr) ||
	        memcmp(hdr, magic, sizeof(hdr)) != 0) {
		return (store_corrupt(s, err, "not an sqlite database", ""));
	}
	return (0);
}

// store_connect opens the connection and vets the file, read-only, before
// anything may write to it.
static int
store_connect(psb_store_t *s, const psb_store_options_t *opts,
        int64_t *version, psb_error_t *err)
{
	_cleanup_free_ char *text = NULL;
	int                  rc;

	rc = sqlite3_open_v2(s->path, &s->db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		return (store_fail(s, err, rc, "cannot open"));
	}
	// Until the file has passed the checks below, closing must not
	// checkpoint a WAL left by someone else into it.
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);

	// The first statement reads page 1: a damaged header shows here.
	// quick_check is O(file size) but skips index cross-checks; a
	// start-up that is a little slower beats serving from a damaged file.
	rc       = store_pragma(s->db, "PRAGMA user_version", &text);
	*version = strtoll(text, NULL, 10);
	if (rc == SQLITE_OK && *version > PSB_STORE_SCHEMA_VERSION) {
		return (psb_error_make(err, PSB_ENOTSUP,
		        "store %s: schema version %lld was written by a newer "
		        "podsandboxd; this build knows up to version %d; the "
		        "file was left untouched",
		        s->path, (long long)*version,
		        PSB_STORE_SCHEMA_VERSION));
	}
	if (rc == SQLITE_OK && *version < 0) {
		return (store_corrupt(s, err, "negative schema version", ""));
	}
	if (rc == SQLITE_OK) {
		rc = store_pragma(s->db, "PRAGMA quick_check", &text);
	}
	if (rc != SQLITE_OK && store_code(rc) != PSB_ECORRUPT) {
		return (store_fail(s, err, rc, "cannot read"));
	}
	if (rc != SQLITE_OK || strcmp(text, "ok") != 0) {
		return (store_corrupt(s, err, "integrity check failed: ",
		        rc != SQLITE_OK ? sqlite3_errmsg(s->db) : text));
	}

	// The vetted file may now be written: WAL is a property of the file.
	// Normal locking (the default, said explicitly) lets a reader such as
	// the sqlite3 shell look in while we run; our flock is the guard.
	rc = store_pragma(s->db, "PRAGMA locking_mode = NORMAL", &text);
	if (rc == SQLITE_OK) {
		rc = store_pragma(s->db, "PRAGMA journal_mode = WAL", &text);
	}
	if (rc == SQLITE_OK && strcmp(text, "wal") != 0) {
		return (psb_error_make(err, PSB_ESTORE,
		        "store %s: cannot enable WAL (journal mode is %s)",
		        s->path, text));
	}
	if (rc == SQLITE_OK) {
		rc = store_pragma(s->db,
		        opts->sync_full ? "PRAGMA synchronous = FULL"
		                        : "PRAGMA synchronous = NORMAL",
		        &text);
	}
	return (rc == SQLITE_OK ? 0 : store_fail(s, err, rc, "cannot set up"));
}

// store_migrate runs each missing step in one transaction with its
// user_version bump, so a crash leaves the file at a whole version.
static int
store_migrate(psb_store_t *s, int64_t version, psb_error_t *err)
{
	for (int v = (int)version + 1; v <= PSB_STORE_SCHEMA_VERSION; v++) {
		_cleanup_free_ char *sql =
		        xasprintf("BEGIN IMMEDIATE; %s"
		                  " PRAGMA user_version = %d;"
		                  " COMMIT;",
		                store_migrations[v - 1], v);
		int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

		if (rc != SQLITE_OK) {
			_cleanup_free_ char *msg =
			        xstrdup(sqlite3_errmsg(s->db));

			if (!sqlite3_get_autocommit(s->db)) {
				sqlite3_exec(
				        s->db, "ROLLBACK", NULL, NULL, NULL);
			}
			return (psb_error_make(err, store_code(rc),
			        "store %s: migration to schema version %d "
			        "failed: %s",
			        s->path, v, msg));
		}
	}
	if (version > 0 && version < PSB_STORE_SCHEMA_VERSION) {
		psb_log(PSB_LOG_INFO,
		        "store %s: schema migrated from version %d to %d",
		        s->path, (int)version, PSB_STORE_SCHEMA_VERSION);
	}
	return (0);
}

static int
store_prepare(psb_store_t *s, psb_error_t *err)
{
	for (int i = 0; i < ST_NSTMTS; i++) {
		int rc = sqlite3_prepare_v3(s->db, store_sql[i], -1,
		        SQLITE_PREPARE_PERSISTENT, &s->stmts[i], NULL);

		if (rc != SQLITE_OK) {
			return (store_fail(s, err, rc, store_sql[i]));
		}
	}
	return (0);
}

static void
store_free(psb_store_t *s)
{
	for (int i = 0; i < ST_NSTMTS; i++) {
		sqlite3_finalize(s->stmts[i]);
	}
	// Close the database before releasing the lock, so the next owner
	// never races our final checkpoint.
	if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK) {
		psb_log(PSB_LOG_ERROR, "store %s: close: %s", s->path,
		        sqlite3_errmsg(s->db));
	}
	if (s->lock_fd >= 0) {
		close(s->lock_fd);
	}
	free(s->path);
	free(s);
}

int
psb_store_open(const char *path, const psb_store_options_t *opts,
        psb_store_t **out, psb_error_t *err)
{
	psb_store_options_t defaults = PSB_STORE_OPTIONS_DEFAULT;
	psb_store_t        *s;
	int64_t             version = 0;
	int                 rv;

	if (path == NULL || path[0] == '\0' || out == NULL) {
		return (psb_error_make(
		        err, PSB_EINVAL, "store: no database path"));
	}
	if (opts == NULL) {
		opts = &defaults;
	}
	s          = xcalloc(1, sizeof(*s));
	s->path    = xstrdup(path);
	s->lock_fd = -1;
	s->keep    = opts->journal_keep;
	if ((rv = store_lock(s, err)) != 0 ||
	        (rv = store_check_header(s, err)) != 0 ||
	        (rv = store_connect(s, opts, &version, err)) != 0 ||
	        (rv = store_migrate(s, version, err)) != 0 ||
	        (rv = store_check_seq(s, err)) != 0 ||
	        (rv = store_prepare(s, err)) != 0) {
		store_free(s);
		return (rv);
	}
	// Vetted and ours: a clean close may fold the WAL back in again.
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
	*out = s;
	return (0);
}

// store_abort ends the tick, rolling back whatever sqlite still holds.
// After some I/O errors sqlite has already rolled back by itself, which
// is why the transaction state is asked of sqlite, not remembered.
static void
store_abort(psb_store_t *s)
{
	s->tick_failed = false;
	if (!sqlite3_get_autocommit(s->db) &&
	        store_run(s, ST_ROLLBACK, NULL) != SQLITE_OK) {
		psb_log(PSB_LOG_ERROR, "store %s: rollback: %s", s->path,
		        sqlite3_errmsg(s->db));
	}
}

void
psb_store_close(psb_store_t *s)
{
	if (s == NULL) {
		return;
	}
	store_abort(s);
	store_free(s);
}

// store_tick_fail ends a tick whose write or commit failed, rolling back
// everything of it. After a failed write, the rest of the tick's writes are
// refused until commit or rollback (refuse_rest): sqlite may have rolled
// back by itself already (SQLITE_FULL, SQLITE_IOERR), and a lazily begun
// new transaction would then let the commit store a tick's tail without
// its head.
static int
store_tick_fail(psb_store_t *s, psb_error_t *err, int rc, bool refuse_rest,
        const char *what, const char *id)
{
	_cleanup_free_ char *msg = xstrdup(sqlite3_errmsg(s->db));

	store_abort(s);
	s->tick_failed = refuse_rest;
	return (psb_error_make(err, store_code(rc),
	        "store %s: %s %s: %s; the tick was rolled back", s->path, what,
	        id, msg));
}

// store_write runs one bound write statement in the tick, opening the
// tick's transaction lazily on its first write.
static int
store_write(psb_store_t *s, enum store_stmt which, psb_error_t *err,
        const char *what, const char *id)
{
	int rc = SQLITE_OK;

	if (s->tick_failed) {
		store_done(s->stmts[which]);
		return (psb_error_make(err, PSB_ESTORE,
		        "store %s: %s %s: refused, a write earlier in this "
		        "tick failed",
		        s->path, what, id));
	}
	if (sqlite3_get_autocommit(s->db)) {
		rc = store_run(s, ST_BEGIN, NULL);
	}
	if (rc == SQLITE_OK) {
		rc = store_run(s, which, NULL);
	} else {
		store_done(s->stmts[which]);
	}
	return (rc == SQLITE_OK ? 0
	                        : store_tick_fail(s, err, rc, true, what, id));
}

static void
store_bind_text(sqlite3_stmt *st, int i, const char *t)
{
	// SQLITE_STATIC: the statement is stepped and its bindings cleared
	// before we return, while the caller's strings are still alive.
	sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
}

int
psb_store_put(psb_store_t *s, const psb_store_row_t *row, psb_error_t *err)
{
	sqlite3_stmt *st = s->stmts[ST_PUT];

	if (row == NULL || row->id == NULL ||
	        (unsigned)row->state >= PSB_STATE_COUNT ||
	        (row->config == NULL && row->config_len != 0)) {
		return (psb_error_make(err, PSB_EINVAL,
		        "store %s: put: invalid row for sandbox %s", s->path,
		        row != NULL && row->id != NULL ? row->id : "(null)"));
	}
	store_bind_text(st, 1, row->id);
	store_bind_text(st, 2, psb_state_name(row->state));
	sqlite3_bind_int64(st, 3, (sqlite3_int64)row->generation);
	if (row->config != NULL) {
		sqlite3_bind_blob64(
		        st, 4, row->config, row->config_len, SQLITE_STATIC);
	}
	store_bind_text(st, 5, row->runtime_handler);
	store_bind_text(st, 6, row->netns_path);
	store_bind_text(st, 7, row->cni_result);
	store_bind_text(st, 8, row->labels);
	store_bind_text(st, 9, row->resources);
	sqlite3_bind_int64(st, 10, row->pid);
	sqlite3_bind_int64(st, 11, row->created_at);
	sqlite3_bind_int64(st, 12, row->started_at);
	sqlite3_bind_int64(st, 13, row->exited_at);
	// Not exited is NULL on disk, so queries need no magic number.
	if (row->exit_status >= 0) {
		sqlite3_bind_int(st, 14, row->exit_status);
	}
	sqlite3_bind_int64(st, 15, row->updated_at);
	sqlite3_bind_int64(st, 16, row->want);
	store_bind_text(st, 17, row->config_json);
	return (store_write(s, ST_PUT, err, "put sandbox", row->id));
}

int
psb_store_remove(psb_store_t *s, const char *id, psb_error_t *err)
{
	if (id == NULL) {
		return (psb_error_make(
		        err, PSB_EINVAL, "store %s: remove: no id", s->path));
	}
	store_bind_text(s->stmts[ST_REMOVE], 1, id);
	return (store_write(s, ST_REMOVE, err, "remove sandbox", id));
}

int
psb_store_journal_append(
        psb_store_t *s, psb_store_journal_t *e, psb_error_t *err)
{
	sqlite3_stmt *st = s->stmts[ST_APPEND];
	int           rv;

	if (e == NULL || e->sandbox_id == NULL ||
	        (unsigned)e->from >= PSB_STATE_COUNT ||
	        (unsigned)e->to >= PSB_STATE_COUNT ||
	        (unsigned)e->event >= PSB_EVENT_COUNT) {
		return (psb_error_make(err, PSB_EINVAL,
		        "store %s: invalid journal entry for sandbox %s",
		        s->path,
		        e != NULL && e->sandbox_id != NULL ? e->sandbox_id
		                                           : "(null)"));
	}
	store_bind_text(st, 1, e->sandbox_id);
	sqlite3_bind_int64(st, 2, e->time);
	store_bind_text(st, 3, psb_state_name(e->from));
	store_bind_text(st, 4, psb_event_name(e->event));
	store_bind_text(st, 5, psb_state_name(e->to));
	store_bind_text(st, 6, e->detail);
	if ((rv = store_write(s, ST_APPEND, err, "journal sandbox",
	             e->sandbox_id)) != 0) {
		return (rv);
	}
	e->seq = (uint64_t)sqlite3_last_insert_rowid(s->db);
	s->since_prune_appends++;
	return (0);
}

bool
psb_store_in_tick(const psb_store_t *s)
{
	return (s != NULL &&
	        (s->tick_failed || !sqlite3_get_autocommit(s->db)));
}

static int64_t
store_clamp(uint64_t v)
{
	return (v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

int
psb_store_commit(psb_store_t *s, psb_error_t *err)
{
	bool prune;
	int  rc;

	if (s->tick_failed) {
		store_abort(s);
		return (psb_error_make(err, PSB_ESTORE,
		        "store %s: commit: a write of this tick failed; the "
		        "tick was rolled back",
		        s->path));
	}
	if (sqlite3_get_autocommit(s->db)) {
		return (0);
	}
	if (s->fail_commits > 0) {
		s->fail_commits--;
		store_abort(s);
		return (psb_error_make(err, PSB_ESTORE,
		        "store %s: injected commit failure", s->path));
	}
	// Pruning rides in a tick that appended anyway, and runs more often
	// than every STORE_PRUNE_EVERY commits when appends are dense, so the
	// journal stays below about twice journal_keep.
	s->since_prune_commits++;
	prune = s->keep > 0 && s->since_prune_appends > 0 &&
	        (s->since_prune_commits >= STORE_PRUNE_EVERY ||
	                s->since_prune_appends >= s->keep);
	rc = SQLITE_OK;
	if (prune) {
		sqlite3_bind_int64(
		        s->stmts[ST_PRUNE], 1, store_clamp(s->keep));
		rc = store_run(s, ST_PRUNE, NULL);
	}
	if (rc == SQLITE_OK) {
		rc = store_run(s, ST_COMMIT, NULL);
	}
	if (rc != SQLITE_OK) {
		return (store_tick_fail(s, err, rc, false, "commit",
		        prune ? "(with journal pruning)" : "(tick)"));
	}
	if (prune) {
		s->since_prune_commits = 0;
		s->since_prune_appends = 0;
	}
	return (0);
}

void
psb_store_rollback(psb_store_t *s)
{
	if (s != NULL) {
		store_abort(s);
	}
}

#define STORE_TEXT(st, i) ((const char *)sqlite3_column_text((st), (i)))

// store_state parses a persisted state name. A name this build does not
// know (a downgrade, a hand edit) must not hide the sandbox from recovery,
// so it becomes UNKNOWN, which only Stop and Shutdown move on.
static psb_state_t
store_state(psb_store_t *s, const char *id, const char *name)
{
	int st = psb_state_parse(name);

	if (st < 0) {
		psb_log_sb(PSB_LOG_WARN, id,
		        "store %s: unknown state \"%s\" loaded as UNKNOWN",
		        s->path, name != NULL ? name : "(null)");
		return (PSB_ST_UNKNOWN);
	}
	return ((psb_state_t)st);
}

// store_scan_end finishes a scan: a callback's stop (rv) wins over an
// error, and the statement is reset either way.
static int
store_scan_end(psb_store_t *s, sqlite3_stmt *st, int rc, int rv,
        psb_error_t *err, const char *what)
{
	if (rv == 0 && rc != SQLITE_DONE) {
		rv = store_fail(s, err, sqlite3_reset(st), what);
	}
	store_done(st);
	return (rv);
}

int
psb_store_load_all(
        psb_store_t *s, psb_store_row_cb cb, void *arg, psb_error_t *err)
{
	sqlite3_stmt *st = s->stmts[ST_LOAD];
	int           rc, rv = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		psb_store_row_t row;

		// An id that is not plain text (a blob, or text with a NUL
		// inside) would read as another id cut at the NUL: two rows
		// could load as one sandbox. Not one of ours: left alone.
		if (sqlite3_column_type(st, 0) != SQLITE_TEXT ||
		        strlen(STORE_TEXT(st, 0)) !=
		                (size_t)sqlite3_column_bytes(st, 0)) {
			psb_log(PSB_LOG_WARN,
			        "store %s: skipping a row whose id is not "
			        "plain text",
			        s->path);
			continue;
		}
		row.id         = STORE_TEXT(st, 0);
		row.state      = store_state(s, row.id, STORE_TEXT(st, 1));
		row.generation = (uint64_t)sqlite3_column_int64(st, 2);
		// column_blob before column_bytes, as sqlite documents; NULL
		// and an empty blob both read as (NULL, 0).
		row.config          = sqlite3_column_blob(st, 3);
		row.config_len      = (size_t)sqlite3_column_bytes(st, 3);
		row.runtime_handler = STORE_TEXT(st, 4);
		row.netns_path      = STORE_TEXT(st, 5);
		row.cni_result      = STORE_TEXT(st, 6);
		row.labels          = STORE_TEXT(st, 7);
		row.resources       = STORE_TEXT(st, 8);
		row.pid             = (uint32_t)sqlite3_column_int64(st, 9);
		row.created_at      = sqlite3_column_int64(st, 10);
		row.started_at      = sqlite3_column_int64(st, 11);
		row.exited_at       = sqlite3_column_int64(st, 12);
		row.exit_status = sqlite3_column_type(st, 13) == SQLITE_NULL
		                          ? -1
		                          : sqlite3_column_int(st, 13);
		row.updated_at  = sqlite3_column_int64(st, 14);
		row.want        = (uint32_t)sqlite3_column_int64(st, 15);
		row.config_json = STORE_TEXT(st, 16);
		if ((rv = cb(arg, &row)) != 0) {
			break;
		}
	}
	return (store_scan_end(s, st, rc, rv, err, "load sandboxes"));
}

typedef struct store_fill {
	psb_store_config_json_cb render;
	void                    *arg;
	char                   **ids; // rows to fill, with their JSON
	char                   **json;
	size_t                   n, cap;
} store_fill_t;

static int
store_fill_collect(void *arg, const psb_store_row_t *row)
{
	store_fill_t *f = arg;
	char         *json;

	if (row->config_json != NULL || row->config_len == 0) {
		return (0);
	}
	if ((json = f->render(f->arg, row->config, row->config_len)) == NULL) {
		psb_log_sb(PSB_LOG_WARN, row->id,
		        "store: the stored pod config does not decode; the "
		        "sandbox cannot be started again");
		return (0);
	}
	if (f->n == f->cap) {
		f->cap  = f->cap ? 2 * f->cap : 16;
		f->ids  = xrealloc(f->ids, f->cap * sizeof(*f->ids));
		f->json = xrealloc(f->json, f->cap * sizeof(*f->json));
	}
	f->ids[f->n]    = xstrdup(row->id);
	f->json[f->n++] = json;
	return (0);
}

int
psb_store_fill_config_json(psb_store_t *s, psb_store_config_json_cb render,
        void *arg, size_t *filled, psb_error_t *err)
{
	store_fill_t f  = {render, arg, NULL, NULL, 0, 0};
	int          rv = psb_store_load_all(s, store_fill_collect, &f, err);

	for (size_t i = 0; rv == 0 && i < f.n; i++) {
		sqlite3_stmt *st = s->stmts[ST_SET_CONFIG_JSON];

		store_bind_text(st, 1, f.ids[i]);
		store_bind_text(st, 2, f.json[i]);
		rv = store_write(
		        s, ST_SET_CONFIG_JSON, err, "fill config", f.ids[i]);
	}
	if (rv == 0 && f.n > 0) {
		rv = psb_store_commit(s, err);
	} else if (rv != 0) {
		psb_store_rollback(s);
	}
	for (size_t i = 0; i < f.n; i++) {
		free(f.ids[i]);
		free(f.json[i]);
	}
	free(f.ids);
	free(f.json);
	*filled = rv == 0 ? f.n : 0;
	return (rv);
}

int
psb_store_journal_read(psb_store_t *s, uint64_t since, const char *sandbox_id,
        size_t limit, psb_store_journal_cb cb, void *arg, psb_error_t *err)
{
	sqlite3_stmt *st =
	        s->stmts[sandbox_id != NULL ? ST_READ_SB : ST_READ_ALL];
	int rc, rv = 0;

	sqlite3_bind_int64(st, 1, store_clamp(since));
	sqlite3_bind_int64(st, 2, limit == 0 ? -1 : store_clamp(limit));
	if (sandbox_id != NULL) {
		store_bind_text(st, 3, sandbox_id);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		psb_store_journal_t e;
		const char         *id = STORE_TEXT(st, 1), *name;
		int                 ev;

		e.seq        = (uint64_t)sqlite3_column_int64(st, 0);
		e.sandbox_id = id;
		e.time       = sqlite3_column_int64(st, 2);
		e.from       = store_state(s, id, STORE_TEXT(st, 3));
		e.to         = store_state(s, id, STORE_TEXT(st, 5));
		e.detail     = STORE_TEXT(st, 6);
		// There is no UNKNOWN event; PSB_EVENT_COUNT is the one value
		// that psb_event_name() prints as "?" without a table hole.
		if ((ev = psb_event_parse(name = STORE_TEXT(st, 4))) < 0) {
			psb_log_sb(PSB_LOG_WARN, id,
			        "store %s: unknown event \"%s\" in journal",
			        s->path, name != NULL ? name : "(null)");
			ev = PSB_EVENT_COUNT;
		}
		e.event = (psb_event_t)ev;
		if ((rv = cb(arg, &e)) != 0) {
			break;
		}
	}
	return (store_scan_end(s, st, rc, rv, err, "read journal"));
}

int
psb_store_journal_bounds(
        psb_store_t *s, uint64_t *oldest, uint64_t *newest, psb_error_t *err)
{
	uint64_t lo, hi;
	int      rc;

	if ((rc = store_run(s, ST_MIN_SEQ, &lo)) != SQLITE_OK ||
	        (rc = store_run(s, ST_LAST_SEQ, &hi)) != SQLITE_OK) {
		return (store_fail(s, err, rc, "journal bounds"));
	}
	// Everything pruned (or deleted by hand): the next entry will be
	// hi + 1, and an empty range reads as oldest > newest.
	if (lo == 0 && hi > 0) {
		lo = hi + 1;
	}
	*oldest = lo;
	*newest = hi;
	return (0);
}

int
psb_store_count(psb_store_t *s, uint64_t *n, psb_error_t *err)
{
	int rc;

	if ((rc = store_run(s, ST_COUNT, n)) != SQLITE_OK) {
		return (store_fail(s, err, rc, "count sandboxes"));
	}
	return (0);
}

void
psb_store_fail_commits(psb_store_t *s, int count)
{
	s->fail_commits = count > 0 ? count : 0;
}

//
// podsandboxd - the sqlite store (DESIGN.md §4).
//
// One connection, used only on the loop thread. WAL mode, synchronous=FULL
// by default. Writes of one loop tick share one transaction (group commit):
// psb_store_put/psb_store_remove/psb_store_journal_append open it lazily,
// psb_store_commit ends it. Nothing written in a tick is durable, or
// visible to a reader on another connection, before the commit returns 0.
//
// Schema (PRAGMA user_version, forward migrations in store.c):
//   sandboxes(id PRIMARY KEY, state, generation, config, runtime_handler,
//             netns_path, cni_result, pid, created_at, started_at,
//             exited_at, exit_status, labels, resources, updated_at)
//   journal(seq INTEGER PRIMARY KEY AUTOINCREMENT, sandbox_id, time,
//           from_state, event, to_state, detail)
// seq never goes backwards and is never reused, even after pruning.
//

#ifndef PSB_PERSISTENCE_STORE_H
#define PSB_PERSISTENCE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "fsm/fsm.h"

// The schema version this build writes. Version 1 had no `resources`
// column and no journal `detail`, version 2 no `want`; psb_store_open
// migrates it forward.
#define PSB_STORE_SCHEMA_VERSION 4

typedef struct psb_store psb_store_t;

typedef struct psb_store_options {
	bool     sync_full;    // synchronous=FULL (default true) or NORMAL
	uint64_t journal_keep; // keep at least this many newest entries
	                       // (0 = keep everything)
} psb_store_options_t;

#define PSB_STORE_OPTIONS_DEFAULT \
	{                         \
		true, 100000      \
	}

// A sandbox row. Strings and blobs are borrowed: psb_store_put copies what
// it needs; rows handed to a load callback live until the callback returns.
// NULL strings are stored as NULL. exit_status is -1 while not exited.
typedef struct psb_store_row {
	const char *id;
	psb_state_t state;
	uint64_t    generation;
	const void *config; // CRI PodSandboxConfig protobuf bytes
	size_t      config_len;
	const char *config_json; // the same config as crictl JSON (or NULL)
	const char *runtime_handler;
	const char *netns_path;
	const char *cni_result; // JSON text
	const char *labels;     // JSON object text
	const char *resources;  // JSON object text recorded by the runtime
	uint32_t    pid;
	int64_t     created_at; // ns since epoch; 0 = unset
	int64_t     started_at;
	int64_t     exited_at;
	int32_t     exit_status;
	int64_t     updated_at;
	// Requests that arrived while an operation ran and still wait for
	// it to settle (the controller's PSB_G_WANT_STOP | _SHUTDOWN bits):
	// a Shutdown interrupted by a crash is carried out after it.
	uint32_t want;
} psb_store_row_t;

// A journal entry: one committed transition. Strings borrowed as above.
typedef struct psb_store_journal {
	uint64_t    seq; // assigned by psb_store_journal_append
	const char *sandbox_id;
	int64_t     time; // ns since epoch
	psb_state_t from;
	psb_event_t event;
	psb_state_t to;
	const char *detail; // JSON object text or NULL
} psb_store_journal_t;

// psb_store_open opens (creating if missing) the database at path and
// takes an exclusive lock on "<path>.lock" for the life of the store.
// Errors (the file is never modified or overwritten on any of them):
//   PSB_EBUSY     another process holds the lock ("in use by pid N");
//   PSB_ECORRUPT  not a database, or integrity check failed;
//   PSB_ENOTSUP   written by a newer schema version than this build knows;
//   PSB_ESTORE    any other sqlite or I/O failure.
// On success *out is owned by the caller (psb_store_close).
int psb_store_open(const char *path, const psb_store_options_t *opts,
        psb_store_t **out, psb_error_t *err);

// psb_store_close rolls back an uncommitted tick, closes the database and
// releases the lock. NULL is a no-op.
void psb_store_close(psb_store_t *s);

// psb_store_put inserts or replaces row in the current tick's transaction.
int psb_store_put(
        psb_store_t *s, const psb_store_row_t *row, psb_error_t *err);

// psb_store_remove deletes the row with id (missing id is not an error).
int psb_store_remove(psb_store_t *s, const char *id, psb_error_t *err);

// psb_store_journal_append appends e in the current tick's transaction and
// sets e->seq. Seqs are assigned in call order.
int psb_store_journal_append(
        psb_store_t *s, psb_store_journal_t *e, psb_error_t *err);

// psb_store_in_tick is true while a transaction is open.
bool psb_store_in_tick(const psb_store_t *s);

// psb_store_commit commits the tick (no-op without one). On failure the
// transaction is rolled back, nothing of the tick is stored, and the store
// stays usable. Old journal entries beyond journal_keep are pruned in the
// same transaction from time to time.
int psb_store_commit(psb_store_t *s, psb_error_t *err);

// psb_store_rollback abandons the tick (no-op without one).
void psb_store_rollback(psb_store_t *s);

// psb_store_fill_config_json gives every row stored without config_json
// (schema version 3 and older) the JSON that render returns for its
// config bytes (malloc'd by render, freed here; NULL = the bytes do not
// decode: the row is logged and left without, so that its Start fails
// with a clear error). Runs outside a tick and commits; *filled is the
// number of rows changed.
typedef char *(*psb_store_config_json_cb)(
        void *arg, const void *config, size_t len);
int psb_store_fill_config_json(psb_store_t *s, psb_store_config_json_cb render,
        void *arg, size_t *filled, psb_error_t *err);

// psb_store_load_all calls cb once per row, in id order. A non-zero return
// from cb stops the scan and is returned. A row whose state name is not
// known is reported with state PSB_ST_UNKNOWN (and logged), never skipped.
typedef int (*psb_store_row_cb)(void *arg, const psb_store_row_t *row);
int psb_store_load_all(
        psb_store_t *s, psb_store_row_cb cb, void *arg, psb_error_t *err);

// psb_store_journal_read calls cb for entries with seq > since, oldest
// first, at most limit (0 = no limit), only for sandbox_id if not NULL.
typedef int (*psb_store_journal_cb)(void *arg, const psb_store_journal_t *e);
int psb_store_journal_read(psb_store_t *s, uint64_t since,
        const char *sandbox_id, size_t limit, psb_store_journal_cb cb,
        void *arg, psb_error_t *err);

// psb_store_journal_bounds gives the oldest retained and the newest seq
// (0, 0 when the journal is empty and nothing was ever appended; after
// pruning, oldest > 1).
int psb_store_journal_bounds(
        psb_store_t *s, uint64_t *oldest, uint64_t *newest, psb_error_t *err);

// psb_store_count returns the number of sandbox rows psb_store_load_all
// loads (a row whose id is not plain text is not one).
int psb_store_count(psb_store_t *s, uint64_t *n, psb_error_t *err);

// Test hook: make the next `count` commits fail with PSB_ESTORE after
// sqlite has really rolled the transaction back (models an I/O error).
void psb_store_fail_commits(psb_store_t *s, int count);

#endif // PSB_PERSISTENCE_STORE_H

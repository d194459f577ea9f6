//
// podsandboxd - crash safety of the store: kill -9 at random moments.
//
// A child runs ticks as the daemon would: a few rows and journal entries,
// then commit, then an acknowledgement on a pipe (standing for the reply
// that may only leave after the commit). Some ticks stay open for a while,
// so kills land inside transactions too. The parent kills it at a random
// point and reopens the store. Every acknowledged tick must be there, and
// every tick that is there must be whole.
//
// Each tick t writes k rows with generation = t and pid = k, one journal
// entry per row with time = t, and sets the row "counter" to generation t;
// so completeness can be checked from the data alone. Ticks are numbered
// round * TICK_BASE + n, n = 1, 2, ...
//
// PSB_CRASH_SEED=<n> replays a run (the seed is printed).
//

#include "tests/harness/testing.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "persistence/store.h"

#define ROUNDS    5
#define TICK_BASE 1000000
#define MAX_N     4096 // ticks per round the child may run
#define MAX_ROWS  4

static uint64_t
rnd(uint64_t *x)
{
	// xorshift64*: small, seedable, the same on every libc.
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return ((*x * 2685821657736338717ULL) >> 32); // the good bits
}

// mix spreads a seed over all bits (splitmix64) so that nearby seeds give
// unrelated runs; xorshift must not start from 0.
static uint64_t
mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL + 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return ((z ^ (z >> 31)) | 1);
}

// child_run never returns on success: it is killed. Exit codes name the
// step that failed.
static int
child_run(const char *path, int round, uint64_t seed, int fd)
{
	psb_store_options_t opts = {true, 0}; // synchronous=FULL, keep all
	psb_store_t        *s;
	psb_error_t         err = PSB_ERROR_INIT;
	uint64_t            x   = mix(seed * 31 + (uint64_t)round);

	if (psb_store_open(path, &opts, &s, &err) != 0) {
		fprintf(stderr, "child: open: %s\n", psb_error_message(&err));
		return (2);
	}
	for (int n = 1; n < MAX_N; n++) {
		int64_t tick = (int64_t)round * TICK_BASE + n;
		int     k    = 1 + (int)(rnd(&x) % MAX_ROWS);

		for (int i = 0; i < k; i++) {
			char                id[48];
			char                detail[64];
			psb_store_row_t     r;
			psb_store_journal_t e = {0, id, tick, PSB_ST_CREATED,
			        PSB_EV_START, PSB_ST_STARTING, detail};

			snprintf(id, sizeof(id), "t%lld-%d", (long long)tick,
			        i);
			snprintf(detail, sizeof(detail), "{\"k\":%d}", k);
			memset(&r, 0, sizeof(r));
			r.id          = id;
			r.state       = PSB_ST_STARTING;
			r.generation  = (uint64_t)tick;
			r.pid         = (uint32_t)k;
			r.labels      = detail;
			r.exit_status = -1;
			if (psb_store_put(s, &r, &err) != 0 ||
			        psb_store_journal_append(s, &e, &err) != 0) {
				return (3);
			}
			// Hold the tick open now and then: a kill here
			// must lose the whole tick, not its tail.
			if (rnd(&x) % 8 == 0) {
				usleep((useconds_t)(rnd(&x) % 1500));
			}
		}
		{
			psb_store_row_t c;

			memset(&c, 0, sizeof(c));
			c.id          = "counter";
			c.state       = PSB_ST_READY;
			c.generation  = (uint64_t)tick;
			c.exit_status = -1;
			if (psb_store_put(s, &c, &err) != 0) {
				return (4);
			}
		}
		if (psb_store_commit(s, &err) != 0) {
			fprintf(stderr, "child: commit: %s\n",
			        psb_error_message(&err));
			return (5);
		}
		if (write(fd, &tick, sizeof(tick)) != sizeof(tick)) {
			return (6);
		}
	}
	pause(); // out of ticks: wait for the kill
	return (7);
}

// What the parent found in the store.
typedef struct found {
	int      rows[ROUNDS][MAX_N];
	int      jrows[ROUNDS][MAX_N];
	int      want[ROUNDS][MAX_N];
	int64_t  counter; // generation of "counter", -1 if absent
	uint64_t last_seq;
	int64_t  last_tick;
	uint64_t entries;
	bool     bad;
} found_t;

static bool
tick_split(int64_t tick, int *round, int *n)
{
	*round = (int)(tick / TICK_BASE);
	*n     = (int)(tick % TICK_BASE);
	return (*round >= 0 && *round<ROUNDS && * n> 0 && *n < MAX_N);
}

static int
rows_cb(void *arg, const psb_store_row_t *row)
{
	found_t *f = arg;
	int      round, n;

	if (strcmp(row->id, "counter") == 0) {
		f->counter = (int64_t)row->generation;
		return (0);
	}
	if (!tick_split((int64_t)row->generation, &round, &n) ||
	        row->state != PSB_ST_STARTING) {
		print_error("bad row %s\n", row->id);
		f->bad = true;
		return (0);
	}
	f->rows[round][n]++;
	if (f->want[round][n] != 0 && f->want[round][n] != (int)row->pid) {
		f->bad = true;
	}
	f->want[round][n] = (int)row->pid;
	return (0);
}

static int
journal_cb(void *arg, const psb_store_journal_t *e)
{
	found_t *f = arg;
	int      round, n;

	// Seqs ascend, and follow commit order: ticks never go back.
	if (e->seq <= f->last_seq || e->time < f->last_tick ||
	        !tick_split(e->time, &round, &n)) {
		print_error("journal out of order at seq %llu\n",
		        (unsigned long long)e->seq);
		f->bad = true;
		return (0);
	}
	f->last_seq  = e->seq;
	f->last_tick = e->time;
	f->entries++;
	f->jrows[round][n]++;
	return (0);
}

// verify checks the store after round `upto` was killed; acked[r] is the
// number of ticks round r acknowledged. Returns the newest seq.
static uint64_t
verify(const char *path, int upto, const int *acked, uint64_t prev_newest)
{
	static found_t f;
	psb_store_t   *s   = NULL;
	psb_error_t    err = PSB_ERROR_INIT;
	uint64_t       lo, hi;
	int64_t        last = -1;
	sqlite3       *raw;
	sqlite3_stmt  *st;
	int            rv;

	memset(&f, 0, sizeof(f));
	f.counter = -1;
	rv        = psb_store_open(path, NULL, &s, &err);
	if (rv != 0) {
		print_error("reopen: %s\n", psb_error_message(&err));
	}
	assert_int_equal(rv, 0);
	assert_int_equal(psb_store_load_all(s, rows_cb, &f, NULL), 0);
	assert_int_equal(
	        psb_store_journal_read(s, 0, NULL, 0, journal_cb, &f, NULL),
	        0);
	assert_int_equal(psb_store_journal_bounds(s, &lo, &hi, NULL), 0);
	psb_store_close(s);
	assert_false(f.bad);

	for (int r = 0; r <= upto; r++) {
		int present = 0;

		for (int n = 1; n < MAX_N; n++) {
			// All or nothing, rows and journal alike.
			assert_int_equal(f.rows[r][n], f.want[r][n]);
			assert_int_equal(f.jrows[r][n], f.rows[r][n]);
			if (f.rows[r][n] > 0) {
				// Ticks commit in order: no holes.
				assert_int_equal(present, n - 1);
				present = n;
				last    = (int64_t)r * TICK_BASE + n;
			}
		}
		// Every acknowledged tick is there; at most one more was
		// committed without its acknowledgement getting out.
		assert_true(present >= acked[r]);
		assert_true(present <= acked[r] + 1);
	}
	// The counter row was replaced by the newest committed tick.
	assert_true(f.counter == last);
	// Nothing pruned (keep = 0): seqs 1..newest, none missing.
	assert_true(hi >= prev_newest);
	assert_true(f.entries == hi);
	assert_true(hi == 0 ? lo == 0 : lo == 1);
	assert_true(f.last_seq == hi);

	// The full check, from a connection of our own.
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(
	                         raw, "PRAGMA integrity_check", -1, &st, NULL),
	        SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(raw);
	return (hi);
}

static void
test_kill_during_ticks(void **state)
{
	const char *env  = getenv("PSB_CRASH_SEED");
	uint64_t    seed = env != NULL ? strtoull(env, NULL, 0) : 0x5eed2026;
	uint64_t    x = mix(seed), newest = 0;
	int         acked[ROUNDS] = {0};
	const char *path;

	psb_test_tmpdir("store-crash");
	path = psb_test_path("s.db");
	print_message("store_crash_test: PSB_CRASH_SEED=%llu\n",
	        (unsigned long long)seed);

	for (int r = 0; r < ROUNDS; r++) {
		int     fds[2], status;
		pid_t   pid;
		int64_t tick;
		// Round 0 dies early, often while the schema is created.
		int target = r == 0 ? 0 : 1 + (int)(rnd(&x) % 300);
		int delay  = (int)(rnd(&x) % (r == 0 ? 20000 : 3000));

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			_exit(child_run(path, r, seed, fds[1]));
		}
		close(fds[1]);
		while (acked[r] < target) {
			if (read(fds[0], &tick, sizeof(tick)) !=
			        sizeof(tick)) {
				break; // the child died on its own
			}
			assert_true(
			        tick == (int64_t)r * TICK_BASE + acked[r] + 1);
			acked[r]++;
		}
		usleep((useconds_t)delay);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status)) {
			print_error(
			        "child exited with %d\n", WEXITSTATUS(status));
		}
		assert_true(WIFSIGNALED(status));
		// Acknowledgements already in the pipe count too.
		while (read(fds[0], &tick, sizeof(tick)) == sizeof(tick)) {
			assert_true(
			        tick == (int64_t)r * TICK_BASE + acked[r] + 1);
			acked[r]++;
		}
		close(fds[0]);
		newest = verify(path, r, acked, newest);
		print_message("round %d: killed after %d acknowledged ticks "
		              "(+%d us), journal newest %llu\n",
		        r, acked[r], delay, (unsigned long long)newest);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_kill_during_ticks),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}

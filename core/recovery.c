//
// podsandboxd - recovery at start-up (DESIGN.md §6, STYLE.md practice 14).
//
// Believe observation over records: every persisted sandbox is loaded as
// it was committed, then the runtime is asked what really exists, and its
// answers come back as ordinary FSM events (FOUND_RUNNING, FOUND_EXITED,
// FOUND_NOTHING, RUNTIME_UNREACHABLE). In-flight states (STARTING,
// STOPPING, DELETING) are resolved by the table like any other event, so
// recovery adds no transition logic of its own. A sandbox whose runtime
// cannot be asked becomes UNKNOWN and is asked again every reprobe_ms; one
// bad sandbox never blocks the others or start-up: every sandbox asked
// has its own deadline (probe_timeout_ms), after which it counts as
// unreachable (a late answer is still believed). The first probe is
// complete (every sandbox we have): the runtime removes its orphans.
//

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/controller_int.h"

typedef struct load_acc {
	psb_controller_t *c;
	size_t            n;
} load_acc_t;

static int
recovery_load_row(void *arg, const psb_store_row_t *row)
{
	load_acc_t    *acc = arg;
	psb_sandbox_t *sb;

	if (!psb_id_valid(row->id)) {
		psb_log(PSB_LOG_WARN, "recovery: skipping a row with an "
		                      "invalid id");
		return (0);
	}
	if (row->state == PSB_ST_NONE) {
		psb_log_sb(PSB_LOG_WARN, row->id,
		        "recovery: row in state NONE, loading it as UNKNOWN");
	}
	sb = ctl_sandbox_load(acc->c, row);
	if (sb->rec.state == PSB_ST_NONE) {
		sb->rec.state = PSB_ST_UNKNOWN;
	}
	sb->awaiting_probe = true;
	acc->n++;
	return (0);
}

typedef struct probe_acc {
	psb_rt_sandbox_t *v;
	size_t            n;
	bool              only_reprobe;
} probe_acc_t;

static int
recovery_collect(void *arg, void *value)
{
	probe_acc_t      *acc = arg;
	psb_sandbox_t    *sb  = value;
	psb_controller_t *c   = sb->ctl;

	if (acc->only_reprobe) {
		if (!sb->reprobe) {
			return (0);
		}
		sb->reprobe = false; // set again if still unreachable
	}
	ctl_rt_sandbox(sb, &acc->v[acc->n++]);
	sb->probe_gen = sb->rec.generation;
	if (!sb->probing) {
		sb->probing = true;
		sb->probe_due =
		        ev_now(c->loop) + c->opts.probe_timeout_ms / 1e3;
		c->nprobing++;
	}
	return (0);
}

// probe_answered: sb's probe is in (or sb goes). The timer stays armed
// for the earliest deadline until no probe is out: recomputing it over
// every sandbox at each answer made a recovery of N sandboxes O(N^2)
// (77 % of a 10,000-sandbox restart). Firing early only rescans.
static void
probe_answered(psb_controller_t *c, psb_sandbox_t *sb)
{
	if (!sb->probing) {
		return;
	}
	sb->probing = false;
	if (c->nprobing > 0 && --c->nprobing == 0) {
		ev_timer_stop(c->loop, &c->probe_timer);
	}
}

// probe_arm sets the probe timer to the earliest deadline of a sandbox
// still waiting for its answer.
static int
probe_earliest(void *arg, void *value)
{
	ev_tstamp     *min = arg;
	psb_sandbox_t *sb  = value;

	if (sb->probing && (*min == 0 || sb->probe_due < *min)) {
		*min = sb->probe_due;
	}
	return (0);
}

static void
probe_arm(psb_controller_t *c)
{
	ev_tstamp min = 0;

	psb_map_each(c->sandboxes, probe_earliest, &min);
	ev_timer_stop(c->loop, &c->probe_timer);
	if (min != 0) {
		ev_tstamp in = min - ev_now(c->loop);

		ev_timer_set(&c->probe_timer, in > 0 ? in : 0., 0.);
		ev_timer_start(c->loop, &c->probe_timer);
	}
}

// recovery_unreachable queues RUNTIME_UNREACHABLE for one sandbox: an
// answer recovery itself gives when the runtime gave none (the call was
// refused, or its deadline passed). Queued like a runtime's event, but
// by core: psb_runtime_emit is the backends' way in.
static void
recovery_unreachable(psb_controller_t *c, const char *id, uint64_t generation,
        int code, const char *message)
{
	ctl_event_t *e = xcalloc(1, sizeof(*e));

	e->ev = PSB_EV_RUNTIME_UNREACHABLE;
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->generation = generation;
	e->code       = code;
	e->message    = message != NULL ? xstrdup(message) : NULL;
	ctl_enqueue(c, e);
}

static void
recovery_probe(psb_controller_t *c, bool only_reprobe)
{
	probe_acc_t acc;
	psb_error_t err = PSB_ERROR_INIT;
	int         rv;

	acc.v = xcalloc(psb_map_size(c->sandboxes) + 1, sizeof(*acc.v));
	acc.n = 0;
	acc.only_reprobe = only_reprobe;
	psb_map_each(c->sandboxes, recovery_collect, &acc);
	if (acc.n > 0 || !only_reprobe) {
		rv = only_reprobe
		             ? psb_runtime_probe(c->rt, acc.v, acc.n, &err)
		             : psb_runtime_probe_all(
		                       c->rt, acc.v, acc.n, &err);
		probe_arm(c);
		if (rv != 0) {
			// Could not even ask: every one of them is
			// unreachable for now.
			for (size_t i = 0; i < acc.n; i++) {
				recovery_unreachable(c, acc.v[i].id,
				        acc.v[i].generation, rv,
				        psb_error_message(&err));
			}
		}
	}
	psb_error_release(&err);
	free(acc.v);
}

static void
recovery_done(void *arg)
{
	psb_controller_t *c = arg;

	psb_log(PSB_LOG_INFO, "recovery: every sandbox resolved (%zu)",
	        psb_map_size(c->sandboxes));
	psb_board_set_listable(c->board, true);
	ctl_release_gated(c, 0, NULL);
	if (c->recover_done_cb != NULL) {
		c->recover_done_cb(c->recover_done_arg);
	}
}

int
psb_controller_recover(psb_controller_t *c, void (*done_cb)(void *), void *arg,
        psb_error_t *err)
{
	load_acc_t acc = {c, 0};
	uint64_t   oldest;
	int        rv;

	c->recover_done_cb  = done_cb;
	c->recover_done_arg = arg;
	rv = psb_store_load_all(c->store, recovery_load_row, &acc, err);
	if (rv != 0) {
		return (psb_error_wrap(err, "while loading sandboxes"));
	}
	rv = psb_store_journal_bounds(c->store, &oldest, &c->last_seq, err);
	if (rv != 0) {
		return (psb_error_wrap(err, "while reading the journal"));
	}
	c->awaiting_probe = acc.n;
	psb_board_set_listable(c->board, acc.n == 0);
	psb_log(PSB_LOG_INFO,
	        "recovery: loaded %zu sandboxes, asking runtime "
	        "%s",
	        acc.n, psb_runtime_name(c->rt));
	recovery_probe(c, false); // with none: orphans only
	if (acc.n == 0) {
		ctl_out_call(c, recovery_done, c);
	}
	return (0);
}

void
ctl_recovery_note(psb_controller_t *c, psb_sandbox_t *sb, psb_event_t ev)
{
	// Still UNKNOWN after an answer about an older generation (ignored
	// as stale): asked again too.
	if (ev == PSB_EV_RUNTIME_UNREACHABLE ||
	        sb->rec.state == PSB_ST_UNKNOWN) {
		sb->reprobe = true;
		if (!ev_is_active(&c->reprobe_timer)) {
			ev_timer_again(c->loop, &c->reprobe_timer);
		}
		if (ev == PSB_EV_RUNTIME_UNREACHABLE) {
			psb_log_sb(PSB_LOG_WARN, sb->id,
			        "runtime unreachable; asking again every %u "
			        "ms",
			        c->opts.reprobe_ms);
		}
	} else {
		sb->reprobe = false;
	}
	probe_answered(c, sb);
	if (sb->awaiting_probe) {
		// Its Status requests waited for this answer (committed
		// by now: notes run after the commit).
		ctl_recovery_forget(c, sb);
		// Removed in this very tick: off the board, and its held
		// Status requests are answered NOT_FOUND with the removal.
		if (!sb->gone) {
			ctl_board_pin(c, sb);
			ctl_resolve(c, sb, PSB_M_STATUS, 0, NULL);
		}
	}
}

void
ctl_recovery_forget(psb_controller_t *c, psb_sandbox_t *sb)
{
	probe_answered(c, sb);
	if (!sb->awaiting_probe) {
		return;
	}
	sb->awaiting_probe = false;
	if (c->awaiting_probe > 0 && --c->awaiting_probe == 0) {
		recovery_done(c);
	}
}

void
ctl_unknown_note(psb_controller_t *c, psb_sandbox_t *sb)
{
	if (sb->rec.state != PSB_ST_UNKNOWN || sb->reprobe) {
		return;
	}
	sb->reprobe = true;
	if (!ev_is_active(&c->reprobe_timer)) {
		ev_timer_again(c->loop, &c->reprobe_timer);
	}
	psb_log_sb(PSB_LOG_INFO, sb->id,
	        "state unknown; asking the runtime again every %u ms",
	        c->opts.reprobe_ms);
}

static int
recovery_any_reprobe(void *arg, void *value)
{
	return (((psb_sandbox_t *)value)->reprobe ? 1 : 0);
}

void
ctl_reprobe_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	psb_controller_t *c = w->data;

	if (psb_map_each(c->sandboxes, recovery_any_reprobe, NULL) == 0) {
		ev_timer_stop(loop, w);
		return;
	}
	recovery_probe(c, true);
}

typedef struct overdue_acc {
	ev_tstamp    now;
	const char **ids;
	uint64_t    *gens;
	size_t       n;
} overdue_acc_t;

static int
probe_overdue(void *arg, void *value)
{
	overdue_acc_t *acc = arg;
	psb_sandbox_t *sb  = value;

	if (sb->probing && sb->probe_due <= acc->now + 1e-3) {
		acc->ids[acc->n]  = sb->id;
		acc->gens[acc->n] = sb->probe_gen; // what was asked
		acc->n++;
	}
	return (0);
}

void
ctl_probe_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	psb_controller_t *c     = w->data;
	size_t            total = psb_map_size(c->sandboxes);
	overdue_acc_t     acc   = {0};

	(void)revents;
	acc.now  = ev_now(loop);
	acc.ids  = xcalloc(total + 1, sizeof(*acc.ids));
	acc.gens = xcalloc(total + 1, sizeof(*acc.gens));
	psb_map_each(c->sandboxes, probe_overdue, &acc);
	for (size_t i = 0; i < acc.n; i++) {
		psb_log_sb(PSB_LOG_WARN, acc.ids[i],
		        "recovery: the runtime did not answer within %u ms",
		        c->opts.probe_timeout_ms);
		recovery_unreachable(c, acc.ids[i], acc.gens[i], PSB_ETIMEDOUT,
		        "the runtime did not answer the probe in time");
	}
	free(acc.ids);
	free(acc.gens);
	probe_arm(c);
}

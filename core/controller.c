//
// podsandboxd - the sandbox controller (see controller.h): one event
// through the FSM (ctl_process), its MOVE rule applied to the sandbox's
// record, the row and journal entry written into the tick's transaction,
// and its effects put in the outbox. The tick around it (queues, commit,
// flush, undo) is core/tick.c; replies and held requests core/reply.c;
// recovery core/recovery.c.
//

#include "core/controller.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "base/log.h"
#include "core/controller_int.h"

static void ctl_rt_sink(void *arg, const psb_rt_event_t *rev);

// The actions that start a runtime operation.
#define CTL_A_RT \
	(PSB_A_RT_START | PSB_A_RT_KILL | PSB_A_RT_DELETE | PSB_A_RT_NET_DOWN)

//
// Stepping one event.
//

static uint32_t
ctl_guards(const psb_controller_t *c, const psb_sandbox_t *sb,
        const ctl_event_t *e)
{
	uint32_t g = 0;

	if (sb == NULL) {
		return (e->rolled_back ? PSB_G_ROLLED_BACK : 0);
	}
	switch (e->ev) {
	case PSB_EV_START_OK:
	case PSB_EV_START_FAILED:
	case PSB_EV_TASK_EXIT:
	case PSB_EV_KILL_FAILED:
	case PSB_EV_DELETE_OK:
	case PSB_EV_DELETE_FAILED:
	case PSB_EV_NET_DOWN_OK:
	case PSB_EV_NET_DOWN_FAILED:
		if (e->generation != sb->rec.generation) {
			g |= PSB_G_STALE;
		}
		break;
	case PSB_EV_DEADLINE:
		if (e->epoch != sb->timer_epoch) {
			g |= PSB_G_STALE;
		}
		break;
	case PSB_EV_FOUND_NOTHING:
	case PSB_EV_RUNTIME_UNREACHABLE:
		// These carry the generation the probe asked about: older than
		// the sandbox's (a Start made a new one since), they are not
		// about what runs now. (FOUND_RUNNING/EXITED carry the found
		// task's own generation, which may be an older leftover's.)
		if (e->generation < sb->rec.generation) {
			g |= PSB_G_STALE;
		}
		break;
	case PSB_EV_CREATE:
		if (e->config_len == sb->config_len &&
		        (e->config_len == 0 || memcmp(e->config, sb->config,
		                                       e->config_len) == 0) &&
		        strcmp(e->runtime_handler ? e->runtime_handler : "",
		                sb->runtime_handler ? sb->runtime_handler
		                                    : "") == 0 &&
		        strcmp(e->netns_path ? e->netns_path : "",
		                sb->netns_path ? sb->netns_path : "") == 0) {
			g |= PSB_G_SAME_CONFIG;
		}
		break;
	default: break;
	}
	if (e->rolled_back) {
		g |= PSB_G_ROLLED_BACK;
	}
	g |= sb->rec.want & (PSB_G_WANT_STOP | PSB_G_WANT_SHUTDOWN);
	if (sb->rec.attempts < c->opts.retry_max) {
		g |= PSB_G_RETRY_LEFT;
	}
	if (sb->rec.exit_status >= 0) {
		g |= PSB_G_EXIT_RECORDED;
	}
	if (sb->rec.net_up) {
		g |= PSB_G_NET_UP;
	}
	return (g);
}

static char *
reject_msg(const char *id, psb_state_t st, int code)
{
	switch (code) {
	case PSB_ENOENT: return (xasprintf("sandbox %s not found", id));
	case PSB_EEXIST:
		return (xasprintf("sandbox %s already exists with a different "
		                  "config",
		        id));
	default:
		return (xasprintf("sandbox %s is %s", id, psb_state_name(st)));
	}
}

// err_msg says why held requests fail on a MOVE with an *_ERR action.
static char *
err_msg(const psb_controller_t *c, const psb_sandbox_t *sb,
        const ctl_event_t *e, psb_state_t from)
{
	switch (e->ev) {
	case PSB_EV_TASK_EXIT:
		return (xasprintf("sandbox %s exited during start (status %d)",
		        sb->id, e->exit_status));
	case PSB_EV_DEADLINE:
		if (from == PSB_ST_STARTING) {
			return (xasprintf("sandbox %s did not start within %u "
			                  "ms",
			        sb->id, c->opts.start_timeout_ms));
		}
		return (xasprintf(
		        "sandbox %s: %s gave up after %u attempts%s%s", sb->id,
		        from == PSB_ST_DELETING ? "shutdown" : "stop",
		        sb->snap.attempts + 1, sb->rec.last_error ? ": " : "",
		        sb->rec.last_error ? sb->rec.last_error : ""));
	default:
		return (xasprintf("sandbox %s: %s", sb->id,
		        e->message ? e->message : psb_strerror(e->code)));
	}
}

static void
ctl_journal(psb_controller_t *c, psb_sandbox_t *sb, const ctl_event_t *e,
        psb_state_t from, psb_state_t to)
{
	psb_store_journal_t j;
	psb_error_t         err = PSB_ERROR_INIT;
	json_t             *d   = json_object();
	char               *detail;
	ctl_out_t          *o;
	// What the transition carries, decided once: the journal entry
	// (read back by Events and History) and the published event must
	// be the same event. An exit status belongs to the transition that
	// records it, not to every later one of the sandbox.
	int32_t exit_status = to == PSB_ST_EXITED || e->ev == PSB_EV_TASK_EXIT
	                              ? sb->rec.exit_status
	                              : -1;

	if (sb->rec.pid != 0) {
		json_object_set_new(d, "pid", json_integer(sb->rec.pid));
	}
	if (exit_status >= 0) {
		json_object_set_new(
		        d, "exit_status", json_integer(exit_status));
	}
	if (e->message != NULL) {
		json_object_set_new(d, "error", json_string(e->message));
	}
	json_object_set_new(d, "generation", json_integer(sb->rec.generation));
	detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(d);
	memset(&j, 0, sizeof(j));
	j.sandbox_id = sb->id;
	j.time       = sb->rec.updated_at;
	j.from       = from;
	j.event      = (psb_event_t)e->ev;
	j.to         = to;
	j.detail     = detail;
	if (psb_store_journal_append(c->store, &j, &err) != 0) {
		ctl_tick_fail(c, &err);
	}
	free(detail);
	o = out_add(c, OB_PUBLISH, sb);
	if (j.seq > c->last_seq) {
		c->last_seq = j.seq;
	}
	o->tr.seq         = j.seq;
	o->tr.time        = j.time;
	o->tr.from        = from;
	o->tr.event       = (psb_event_t)e->ev;
	o->tr.to          = to;
	o->tr.exit_status = exit_status;
	o->tr.generation  = sb->rec.generation;
}

// apply_insert makes the sandbox of a CREATE (its strings taken from e).
static psb_sandbox_t *
apply_insert(psb_controller_t *c, ctl_event_t *e, int64_t now)
{
	psb_sandbox_t *sb = ctl_sb_alloc(c, e->id);

	sb->config          = TAKE_PTR(e->config);
	sb->config_len      = e->config_len;
	sb->config_json     = TAKE_PTR(e->config_json);
	sb->labels          = TAKE_PTR(e->labels);
	sb->runtime_handler = TAKE_PTR(e->runtime_handler);
	sb->netns_path      = TAKE_PTR(e->netns_path);
	sb->rec.created_at  = now;
	sb->new_in_tick     = true;
	sb->rec.state       = PSB_ST_NONE;
	// Generations of a re-created id must not repeat those of the
	// removed one, or a late event of the old sandbox would pass for the
	// new one's. The journal's seq is never reused and grows with every
	// start, so it is a safe base.
	sb->rec.generation = c->last_seq;
	psb_map_put(c->sandboxes, sb->id, sb);
	return (sb);
}

// apply_record changes sb's record as the rule's actions say; returns
// whether the row must be written.
static bool
apply_record(psb_controller_t *c, psb_sandbox_t *sb, const ctl_event_t *e,
        const psb_fsm_rule_t *rule, int64_t now)
{
	uint32_t    a     = rule->actions;
	bool        rt    = (a & CTL_A_RT) != 0;
	psb_state_t from  = sb->rec.state;
	uint32_t    want  = sb->rec.want;
	bool        dirty = (a & (PSB_A_INSERT | PSB_A_NEW_GENERATION |
                                  PSB_A_RECORD_PID | PSB_A_RECORD_EXIT)) != 0;

	(void)c;
	if (a & PSB_A_NEW_GENERATION) {
		sb->rec.generation++;
		sb->rec.pid         = 0;
		sb->rec.started_at  = 0;
		sb->rec.exited_at   = 0;
		sb->rec.exit_status = -1;
		ctl_set_str(&sb->rec.last_error, NULL);
	}
	if (a & PSB_A_RECORD_PID) {
		sb->rec.pid        = e->pid;
		sb->rec.started_at = now;
	}
	if (a & PSB_A_RECORD_EXIT) {
		bool known = e->ev == PSB_EV_TASK_EXIT ||
		             e->ev == PSB_EV_FOUND_EXITED;

		sb->rec.exit_status =
		        known ? e->exit_status : PSB_EXIT_UNKNOWN;
		sb->rec.exited_at = known && e->exited_at ? e->exited_at : now;
		sb->rec.pid       = 0;
	}
	if (a & PSB_A_SET_WANT_STOP) {
		sb->rec.want |= PSB_G_WANT_STOP;
	}
	if (a & PSB_A_SET_WANT_SHUTDOWN) {
		sb->rec.want |= PSB_G_WANT_SHUTDOWN;
	}
	if (a & PSB_A_CLEAR_WANT) {
		sb->rec.want = 0;
	}
	// A wanted Stop/Shutdown is persisted with the row, so that a crash
	// before it is carried out does not forget it.
	if (sb->rec.want != want) {
		dirty = true;
	}
	if (e->resources != NULL && e->req == NULL) {
		ctl_rec_set_resources(&sb->rec, e->resources);
		dirty = true;
	}
	if (e->req == NULL && e->code != 0 && e->message != NULL) {
		ctl_set_str(&sb->rec.last_error, e->message);
	}
	sb->rec.state = rule->next;
	if (rule->next != from) {
		sb->rec.attempts = 0;
		sb->rearm        = true;
		sb->backoff      = false;
		sb->timer_epoch++;
		dirty = true;
	} else if (a & PSB_A_BACKOFF) {
		// A retry with a new runtime operation gets the state's full
		// deadline; a failure waits the backoff before the retry.
		if (rt) {
			sb->rec.attempts++;
		}
		sb->rearm   = true;
		sb->backoff = !rt;
		sb->timer_epoch++;
	} else if (rt && psb_state_has_deadline(rule->next)) {
		sb->rearm   = true;
		sb->backoff = false;
		sb->timer_epoch++;
	}
	if (dirty) {
		sb->rec.updated_at = now;
	}
	return (dirty);
}

// apply_effects puts what the rule makes visible in the outbox: replies,
// resolved held requests, woken waiters, the runtime operation. All of
// it leaves after the commit.
static void
apply_effects(psb_controller_t *c, psb_sandbox_t *sb, ctl_event_t *e,
        const psb_fsm_rule_t *rule, psb_state_t from)
{
	static const struct {
		uint32_t     done, err;
		psb_method_t m;
	} ends[] = {
	        {PSB_A_START_DONE, PSB_A_START_ERR, PSB_M_START},
	        {PSB_A_STOP_DONE, PSB_A_STOP_ERR, PSB_M_STOP},
	        {PSB_A_SHUTDOWN_DONE, PSB_A_SHUTDOWN_ERR, PSB_M_SHUTDOWN},
	};
	uint32_t a    = rule->actions;
	int      code = rule->code != 0 ? rule->code
	                : e->code != 0  ? e->code
	                                : PSB_ERUNTIME;

	if (e->req != NULL && (a & PSB_A_REPLY)) {
		out_reply(c, TAKE_PTR(e->req), 0, NULL, sb);
	}
	if (e->req != NULL && (a & PSB_A_PARK)) {
		out_reply(c, TAKE_PTR(e->req), 0, NULL, sb)->kind = OB_PARK;
	}
	for (size_t i = 0; i < PSB_NELEM(ends); i++) {
		if (a & ends[i].done) {
			out_resolve(c, sb, ends[i].m, 0, NULL);
		}
	}
	for (size_t i = 0; i < PSB_NELEM(ends); i++) {
		if (a & ends[i].err) {
			out_resolve(c, sb, ends[i].m, code,
			        err_msg(c, sb, e, from));
		}
	}
	if (a & PSB_A_WAKE_WAITERS) {
		out_add(c, OB_WAKE, sb);
	}
	if (a & CTL_A_RT) {
		ctl_out_t *o  = out_add(c, OB_RT, sb);
		o->op         = (a & PSB_A_RT_START)      ? RT_START
		                : (a & PSB_A_RT_KILL)     ? RT_KILL
		                : (a & PSB_A_RT_NET_DOWN) ? RT_NET_DOWN
		                                          : RT_DELETE;
		o->generation = sb->rec.generation;
	}
}

// ctl_apply carries out a MOVE rule: the record changes, the row and the
// journal entry go into this tick's transaction, the effects into the
// outbox.
static void
ctl_apply(psb_controller_t *c, psb_sandbox_t *sb, ctl_event_t *e,
        const psb_fsm_rule_t *rule)
{
	psb_state_t from = sb != NULL ? sb->rec.state : PSB_ST_NONE;
	uint32_t    a    = rule->actions;
	psb_error_t err  = PSB_ERROR_INIT;
	int64_t     now  = psb_now_ns();
	bool        dirty;

	if (sb == NULL) {
		if ((a & PSB_A_INSERT) == 0) {
			// NONE -> NONE (Shutdown of a missing id).
			if (e->req != NULL && (a & PSB_A_REPLY)) {
				out_reply(c, TAKE_PTR(e->req), 0, NULL, NULL);
			}
			return;
		}
		sb = apply_insert(c, e, now);
	}
	ctl_sb_touch(c, sb);
	dirty = apply_record(c, sb, e, rule, now);

	// Row and journal go into this tick's transaction.
	if (a & PSB_A_REMOVE) {
		if (psb_store_remove(c->store, sb->id, &err) != 0) {
			ctl_tick_fail(c, &err);
		}
		psb_map_del(c->sandboxes, sb->id);
		sb->gone = true;
	} else if (dirty) {
		psb_store_row_t row;

		ctl_sb_row(sb, &row);
		if (psb_store_put(c->store, &row, &err) != 0) {
			ctl_tick_fail(c, &err);
		}
	}
	if (rule->next != from) {
		char acts[512];

		ctl_journal(c, sb, e, from, rule->next);
		psb_log_sb(PSB_LOG_DEBUG, sb->id, "%s --%s--> %s [%s]",
		        psb_state_name(from),
		        psb_event_name((psb_event_t)e->ev),
		        psb_state_name(rule->next),
		        psb_fsm_actions_str(a, ",", acts, sizeof(acts)));
	}
	apply_effects(c, sb, e, rule, from);
}

// ctl_read answers the read-only methods; they never change state, but
// their replies still leave through the outbox so that they see (and
// follow) every transition queued before them.
static void
ctl_read(psb_controller_t *c, ctl_event_t *e)
{
	ctl_req_t     *req = TAKE_PTR(e->req);
	psb_sandbox_t *sb  = psb_map_get(c->sandboxes, req->id);

	switch (req->method) {
	case PSB_M_LIST:
		// Held, like Status, until recovery has heard about every
		// loaded sandbox once.
		out_reply(c, req, 0, NULL, NULL)->kind =
		        c->awaiting_probe > 0 ? OB_PARK : OB_REPLY;
		return;
	case PSB_M_PLATFORM:
	case PSB_M_EVENTS:
	case PSB_M_HISTORY:
	case PSB_M_VERSION: out_reply(c, req, 0, NULL, NULL); return;
	case PSB_M_STATUS:
		if (sb == NULL) {
			out_reply(c, req, PSB_ENOENT,
			        reject_msg(req->id, PSB_ST_NONE, PSB_ENOENT),
			        NULL);
		} else {
			// A loaded row is what was true before the restart:
			// held until the runtime's first answer about it.
			out_reply(c, req, 0, NULL, sb)->kind =
			        sb->awaiting_probe ? OB_PARK : OB_REPLY;
		}
		return;
	case PSB_M_WAIT:
		if (sb == NULL) {
			out_reply(c, req, PSB_ENOENT,
			        reject_msg(req->id, PSB_ST_NONE, PSB_ENOENT),
			        NULL);
		} else if (sb->rec.exit_status >= 0) {
			// This generation's exit is recorded (EXITED, or a
			// later failed shutdown): the answer is known.
			out_reply(c, req, 0, NULL, sb);
		} else {
			out_reply(c, req, 0, NULL, sb)->kind = OB_PARK;
		}
		return;
	default:
		out_reply(c, req, PSB_EINTERNAL, xstrdup("not a read"), NULL);
		return;
	}
}

// ctl_record writes a runtime record (psb_rt_record_t) into the row in
// this tick's transaction; the runtime hears back after the commit
// (OB_RECORDED), or from ctl_undo if the commit fails. A record for a
// sandbox that is gone or has moved to another generation is refused
// (PSB_ESTALE), also only after the tick. It is not a transition: the
// state stays, nothing is journalled.
static void
ctl_record(psb_controller_t *c, ctl_event_t *e)
{
	psb_sandbox_t  *sb  = psb_map_get(c->sandboxes, e->id);
	ctl_out_t      *o   = out_add(c, OB_RECORDED, NULL);
	psb_error_t     err = PSB_ERROR_INIT;
	psb_store_row_t row;

	o->record_done = e->record_done;
	o->arg         = e->record_arg;
	if (sb == NULL || sb->rec.generation != e->generation ||
	        e->resources == NULL) {
		o->code = PSB_ESTALE;
		return;
	}
	ctl_sb_touch(c, sb);
	ctl_rec_set_resources(&sb->rec, e->resources);
	sb->rec.updated_at = psb_now_ns();
	ctl_sb_row(sb, &row);
	if (psb_store_put(c->store, &row, &err) != 0) {
		ctl_tick_fail(c, &err);
	}
}

// ctl_record_sink is the runtime's recorder (psb_runtime_set_recorder).
static int
ctl_record_sink(void *arg, const psb_rt_record_t *rec)
{
	psb_controller_t *c = arg;
	ctl_event_t      *e;

	if (rec->sandbox_id == NULL || !psb_id_valid(rec->sandbox_id) ||
	        rec->done == NULL) {
		return (PSB_EINVAL);
	}
	e     = xcalloc(1, sizeof(*e));
	e->ev = CTL_EV_RECORD;
	snprintf(e->id, sizeof(e->id), "%s", rec->sandbox_id);
	e->generation  = rec->generation;
	e->resources   = rec->resources ? xstrdup(rec->resources) : NULL;
	e->record_done = rec->done;
	e->record_arg  = rec->done_arg;
	ctl_enqueue(c, e);
	return (0);
}

void
ctl_process(psb_controller_t *c, ctl_event_t *e)
{
	psb_sandbox_t   *sb;
	psb_fsm_result_t res;
	psb_state_t      st;
	psb_fsm_kind_t   kind;

	if (e->req != NULL && (e->preset != 0 || c->draining)) {
		int code = e->preset != 0 ? e->preset : PSB_EUNAVAIL;

		out_reply(c, TAKE_PTR(e->req), code,
		        xstrdup(e->message ? e->message
		                           : "podsandboxd is shutting down"),
		        NULL);
		return;
	}
	if (e->ev == CTL_EV_RECORD) {
		ctl_record(c, e);
		return;
	}
	if (e->ev < 0) {
		ctl_read(c, e);
		return;
	}
	sb   = psb_map_get(c->sandboxes, e->id);
	st   = sb != NULL ? sb->rec.state : PSB_ST_NONE;
	kind = psb_fsm_step(
	        st, (psb_event_t)e->ev, ctl_guards(c, sb, e), &res);
	switch (kind) {
	case PSB_FSM_MOVE: ctl_apply(c, sb, e, &res.rule); break;
	case PSB_FSM_REJECT:
		psb_log_sb(PSB_LOG_DEBUG, e->id, "%s rejected in %s: %s",
		        psb_event_name((psb_event_t)e->ev), psb_state_name(st),
		        psb_errname(res.rule.code));
		if (e->req != NULL) {
			out_reply(c, TAKE_PTR(e->req), res.rule.code,
			        reject_msg(e->id, st, res.rule.code), NULL);
		}
		break;
	default:
		psb_log_sb(PSB_LOG_DEBUG, e->id, "%s ignored in %s (gen %llu)",
		        psb_event_name((psb_event_t)e->ev), psb_state_name(st),
		        (unsigned long long)e->generation);
		if (e->req != NULL) { // API events are never ignored
			out_reply(c, TAKE_PTR(e->req), PSB_EINTERNAL,
			        xstrdup("event ignored"), NULL);
		}
		break;
	}
	if (sb == NULL) {
		sb = psb_map_get(c->sandboxes, e->id);
	}
	if (sb != NULL &&
	        psb_event_source((psb_event_t)e->ev) == PSB_SRC_RECOVERY) {
		ctl_out_t *o = out_add(c, OB_RECOVERED, sb);

		o->event = (psb_event_t)e->ev;
	}
}

//
// After the commit.
//

void
ctl_run_rt(psb_controller_t *c, ctl_out_t *o)
{
	psb_rt_sandbox_t rs;
	psb_rt_event_t   fail;
	psb_error_t      err = PSB_ERROR_INIT;
	int              rv;

	ctl_rt_sandbox(o->sb, &rs);
	rs.generation = o->generation;
	// The runtime builds the OCI spec (and the CNI arguments) from the
	// config's crictl JSON, rendered once at Create (it never sees
	// protobuf).
	rs.config_json = o->sb->config_json;
	switch (o->op) {
	case RT_START: rv = psb_runtime_start(c->rt, &rs, &err); break;
	case RT_KILL: rv = psb_runtime_kill(c->rt, &rs, &err); break;
	case RT_NET_DOWN: rv = psb_runtime_net_down(c->rt, &rs, &err); break;
	default: rv = psb_runtime_delete(c->rt, &rs, &err); break;
	}
	if (rv == 0) {
		return;
	}
	// The operation could not even begin: report it as its failure.
	memset(&fail, 0, sizeof(fail));
	fail.event       = o->op == RT_START      ? PSB_EV_START_FAILED
	                   : o->op == RT_KILL     ? PSB_EV_KILL_FAILED
	                   : o->op == RT_NET_DOWN ? PSB_EV_NET_DOWN_FAILED
	                                          : PSB_EV_DELETE_FAILED;
	fail.sandbox_id  = o->sb->id;
	fail.generation  = o->generation;
	fail.rolled_back = true;
	fail.code        = rv;
	fail.message     = psb_error_message(&err); // why it refused
	ctl_rt_sink(c, &fail);
	psb_error_release(&err);
}

void
ctl_sync_timer(psb_controller_t *c, psb_sandbox_t *sb)
{
	uint32_t ms;

	if (!psb_state_has_deadline(sb->rec.state)) {
		ev_timer_stop(c->loop, &sb->deadline);
		return;
	}
	if (!sb->rearm && ev_is_active(&sb->deadline)) {
		return;
	}
	if (sb->backoff) {
		uint32_t cap =
		        c->opts.backoff_ms > 1000 ? c->opts.backoff_ms : 1000;
		uint32_t sh = sb->rec.attempts < 16 ? sb->rec.attempts : 16;

		ms = c->opts.backoff_ms << sh;
		ms = ms > cap ? cap : ms;
	} else if (sb->rec.state == PSB_ST_STARTING) {
		ms = c->opts.start_timeout_ms;
	} else if (sb->rec.state == PSB_ST_STOPPING) {
		ms = c->opts.stop_timeout_ms;
	} else {
		ms = c->opts.delete_timeout_ms;
	}
	ev_timer_stop(c->loop, &sb->deadline);
	ev_timer_set(&sb->deadline, ms / 1000.0, 0.);
	sb->deadline.data = sb;
	ev_timer_start(c->loop, &sb->deadline);
}

void
ctl_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	psb_sandbox_t *sb = w->data;
	ctl_event_t   *e  = xcalloc(1, sizeof(*e));

	e->ev = PSB_EV_DEADLINE;
	snprintf(e->id, sizeof(e->id), "%s", sb->id);
	e->generation = sb->rec.generation;
	e->epoch      = sb->timer_epoch;
	ctl_enqueue(sb->ctl, e);
}

static void
ctl_rt_sink(void *arg, const psb_rt_event_t *rev)
{
	psb_controller_t *c = arg;
	ctl_event_t      *e;

	if (rev->sandbox_id == NULL || strlen(rev->sandbox_id) > PSB_ID_MAX ||
	        psb_event_source(rev->event) == PSB_SRC_API ||
	        rev->event == PSB_EV_DEADLINE) {
		psb_log(PSB_LOG_WARN, "runtime reported a malformed event");
		return;
	}
	e     = xcalloc(1, sizeof(*e));
	e->ev = rev->event;
	snprintf(e->id, sizeof(e->id), "%s", rev->sandbox_id);
	e->generation  = rev->generation;
	e->pid         = rev->pid;
	e->exit_status = rev->exit_status;
	e->exited_at   = rev->exited_at;
	e->rolled_back = rev->rolled_back;
	e->code        = rev->code;
	e->message     = rev->message ? xstrdup(rev->message) : NULL;
	e->resources   = rev->resources ? xstrdup(rev->resources) : NULL;
	ctl_enqueue(c, e);
}

//
// Public API.
//

int
psb_controller_new(struct ev_loop *loop, psb_store_t *store, psb_runtime_t *rt,
        const psb_controller_opts_t *opts, psb_controller_t **out,
        psb_error_t *err)
{
	static const psb_controller_opts_t defaults =
	        PSB_CONTROLLER_OPTS_DEFAULT;
	psb_controller_t *c;

	if (loop == NULL || store == NULL || rt == NULL || out == NULL) {
		return (psb_error_make(err, PSB_EINVAL,
		        "controller needs a loop, a store and a runtime"));
	}
	c            = xcalloc(1, sizeof(*c));
	c->loop      = loop;
	c->store     = store;
	c->rt        = rt;
	c->opts      = opts != NULL ? *opts : defaults;
	c->sandboxes = psb_map_new();
	c->board     = psb_board_new();
	if (c->opts.retry_max == 0) {
		c->opts.retry_max = 1;
	}
	ctl_tick_init(c);
	ev_timer_init(&c->reprobe_timer, ctl_reprobe_cb, 0.,
	        c->opts.reprobe_ms / 1000.0);
	c->reprobe_timer.data = c;
	ev_timer_init(&c->probe_timer, ctl_probe_timer_cb, 0., 0.);
	c->probe_timer.data = c;
	if (c->opts.probe_timeout_ms == 0) {
		c->opts.probe_timeout_ms = defaults.probe_timeout_ms;
	}
	psb_runtime_set_sink(rt, ctl_rt_sink, c);
	psb_runtime_set_recorder(rt, ctl_record_sink, c);
	*out = c;
	return (0);
}

void
psb_controller_set_publisher(psb_controller_t *c, psb_publish_cb cb, void *arg)
{
	c->publish_cb  = cb;
	c->publish_arg = arg;
}

// The FSM event of each mutating method; -1: a read (ctl_read).
static const int ctl_method_events[PSB_M_COUNT] = {
#define PSB_EV_READ                              -1
#define PSB_METHOD(e, n, req, res, body, id, ev) [PSB_M_##e] = PSB_EV_##ev,
#include "api/methods.def"
#undef PSB_METHOD
#undef PSB_EV_READ
};

uint64_t
psb_controller_submit(psb_controller_t *c, const psb_request_t *r,
        psb_reply_cb cb, void *arg)
{
	ctl_req_t   *req   = ctl_req_new(c, r, cb, arg);
	ctl_event_t *e     = xcalloc(1, sizeof(*e));
	uint64_t     token = req->token;

	e->req = req;
	snprintf(e->id, sizeof(e->id), "%s", req->id);
	e->ev = (unsigned)r->method < PSB_M_COUNT
	                ? ctl_method_events[r->method]
	                : -1;
	if ((unsigned)r->method >= PSB_M_COUNT) {
		e->preset  = PSB_EINVAL;
		e->message = xstrdup("unknown method");
	}
	if (psb_method_needs_id(r->method) && e->preset == 0 &&
	        !psb_id_valid(r->sandbox_id)) {
		e->preset  = PSB_EINVAL;
		e->message = xasprintf("sandbox_id: \"%.80s\" is not a valid "
		                       "id (1-%d characters: letters and "
		                       "digits, joined by single '.', '_' or "
		                       "'-')",
		        r->sandbox_id ? r->sandbox_id : "", PSB_ID_MAX);
	}
	if (r->method == PSB_M_LIST && r->state_filter != NULL &&
	        psb_state_parse(r->state_filter) < 0) {
		e->preset  = PSB_EINVAL;
		e->message = xasprintf("state filter: unknown state \"%.40s\"",
		        r->state_filter);
	}
	if (r->method == PSB_M_LIST && r->label_selector != NULL &&
	        e->preset == 0) {
		json_t *j = json_loads(r->label_selector, 0, NULL);

		if (!json_is_object(j)) {
			e->preset = PSB_EINVAL;
			e->message =
			        xstrdup("label selector: not a JSON object");
		}
		json_decref(j);
	}
	if (r->method == PSB_M_CREATE && e->preset == 0) {
		e->config_len = r->config_len;
		e->config = r->config_len ? xmemdup(r->config, r->config_len)
		                          : NULL;
		e->labels = r->labels ? xstrdup(r->labels) : NULL;
		e->config_json =
		        r->config_json ? xstrdup(r->config_json) : NULL;
		e->runtime_handler = r->runtime_handler
		                             ? xstrdup(r->runtime_handler)
		                             : NULL;
		e->netns_path =
		        r->netns_path != NULL && r->netns_path[0] != '\0'
		                ? xstrdup(r->netns_path)
		                : NULL;
		if (e->labels != NULL) {
			json_t *j = json_loads(e->labels, 0, NULL);

			if (!json_is_object(j)) {
				e->preset = PSB_EINVAL;
				e->message =
				        xstrdup("labels: not a JSON object");
			}
			json_decref(j);
		}
	}
	ctl_enqueue(c, e);
	return (token);
}

void
psb_controller_cancel(psb_controller_t *c, uint64_t token)
{
	uint32_t   slot = (uint32_t)token;
	ctl_req_t *req;

	if (slot >= c->nslots || (req = c->slots[slot]) == NULL ||
	        req->token != token) {
		return;
	}
	if (req->sb != NULL || req->gated) {
		ctl_reply(c, req, PSB_ECANCELED, NULL, NULL);
	} else {
		req->canceled = true; // answered when its tick completes
	}
}

static int
ctl_abort_held(void *arg, void *value)
{
	psb_sandbox_t *sb   = value;
	int            code = *(int *)arg;
	ctl_req_t     *req;

	while ((req = psb_list_first(&sb->held)) != NULL) {
		ctl_reply(sb->ctl, req, code,
		        code == PSB_EUNAVAIL ? "podsandboxd is shutting down"
		                             : NULL,
		        NULL);
	}
	return (0);
}

void
psb_controller_drain(psb_controller_t *c)
{
	int code = PSB_EUNAVAIL;

	c->draining = true;
	psb_board_close(c->board);
	ctl_tick(c);
	psb_map_each(c->sandboxes, ctl_abort_held, &code);
	ctl_release_gated(c, code, "podsandboxd is shutting down");
}

static int
ctl_free_sb(void *arg, void *value)
{
	ctl_sb_free(value);
	return (0);
}

void
psb_controller_free(psb_controller_t *c)
{
	int code = PSB_ECANCELED;

	if (c == NULL) {
		return;
	}
	c->draining = true;
	ctl_tick(c);
	psb_map_each(c->sandboxes, ctl_abort_held, &code);
	ctl_release_gated(c, code, NULL);
	ctl_tick_fini(c);
	ev_timer_stop(c->loop, &c->reprobe_timer);
	ev_timer_stop(c->loop, &c->probe_timer);
	psb_runtime_set_sink(c->rt, NULL, NULL);
	psb_runtime_set_recorder(c->rt, NULL, NULL);
	psb_map_each(c->sandboxes, ctl_free_sb, NULL);
	psb_map_free(c->sandboxes);
	psb_board_free(c->board);
	free(c->slots);
	free(c->free_slots);
	free(c);
}

size_t
psb_controller_count(const psb_controller_t *c)
{
	return (psb_map_size(c->sandboxes));
}

bool
psb_controller_idle(const psb_controller_t *c)
{
	return (ctl_tick_idle(c));
}

uint64_t
psb_controller_commit_failures(const psb_controller_t *c)
{
	return (c->commit_failures);
}

bool
psb_controller_read(psb_controller_t *c, const psb_request_t *req,
        psb_reply_cb cb, void *arg)
{
	return (psb_board_read(c->board, req, cb, arg));
}

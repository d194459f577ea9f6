//
// podsandboxd - the controller's loop tick: queued events in, one store
// transaction, the outbox out (DESIGN.md §2, STYLE.md practice 13).
//
// Flow of one tick:
//   1. Requests, runtime outcomes and timer expiries are queued as events
//      (ctl_enqueue; never handled inside the call that reports them).
//   2. ctl_tick (from ev_prepare, i.e. before the loop sleeps, or from an
//      ev_idle kick) hands each queued event to ctl_process, which steps
//      it through the FSM, writes rows and journal entries into the
//      store's open transaction and appends every externally visible
//      effect to the outbox (out_add).
//   3. The transaction commits. Only then is the outbox flushed: replies,
//      held requests, runtime operations, published transitions, timers.
//   4. If the commit fails, touched sandboxes get their snapshots back,
//      the tick's requests fail with PSB_EUNAVAIL and its internal events
//      are queued again after a delay: the failure loses nothing.
//
// Loop thread only.
//

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "core/controller_int.h"

void
ctl_tick_init(psb_controller_t *c)
{
	PSB_LIST_INIT(&c->in, ctl_event_t, node);
	PSB_LIST_INIT(&c->done, ctl_event_t, node);
	PSB_LIST_INIT(&c->retry, ctl_event_t, node);
	PSB_LIST_INIT(&c->out, ctl_out_t, node);
	PSB_LIST_INIT(&c->touched, psb_sandbox_t, touched_node);
	PSB_LIST_INIT(&c->gated, ctl_req_t, node);
	ev_prepare_init(&c->prepare, ctl_prepare_cb);
	c->prepare.data = c;
	ev_prepare_start(c->loop, &c->prepare);
	// The prepare watcher alone must not keep the loop alive.
	ev_unref(c->loop);
	ev_idle_init(&c->idle, ctl_idle_cb);
	c->idle.data = c;
	ev_timer_init(&c->retry_timer, ctl_retry_cb, 0., 0.);
	c->retry_timer.data = c;
}

void
ctl_tick_fini(psb_controller_t *c)
{
	ctl_event_t *e;

	ev_ref(c->loop);
	ev_prepare_stop(c->loop, &c->prepare);
	ev_idle_stop(c->loop, &c->idle);
	ev_timer_stop(c->loop, &c->retry_timer);
	while ((e = psb_list_take(&c->retry)) != NULL) {
		ctl_event_free(e);
	}
}

bool
ctl_tick_idle(const psb_controller_t *c)
{
	return (psb_list_empty(&c->in) && psb_list_empty(&c->out) &&
	        psb_list_empty(&c->retry) && !psb_store_in_tick(c->store));
}

void
ctl_event_free(ctl_event_t *e)
{
	free(e->message);
	free(e->resources);
	free(e->config);
	free(e->config_json);
	free(e->labels);
	free(e->runtime_handler);
	free(e->netns_path);
	free(e);
}

void
ctl_enqueue(psb_controller_t *c, ctl_event_t *e)
{
	psb_list_append(&c->in, e);
	ctl_kick(c);
}

void
ctl_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	psb_controller_t *c = w->data;

	(void)revents;
	ev_idle_stop(loop, w);
	ctl_tick(c);
}

// ctl_kick makes sure the loop does not sleep before the next tick runs:
// work queued by a watcher that runs after our ev_prepare would otherwise
// wait for unrelated I/O. An active ev_idle keeps the loop from blocking.
void
ctl_kick(psb_controller_t *c)
{
	if (!c->in_tick && !ev_is_active(&c->idle)) {
		ev_idle_start(c->loop, &c->idle);
	}
}

//
// The outbox.
//

ctl_out_t *
out_add(psb_controller_t *c, ob_kind_t kind, psb_sandbox_t *sb)
{
	ctl_out_t *o = xcalloc(1, sizeof(*o));

	o->kind = kind;
	o->sb   = sb;
	psb_list_append(&c->out, o);
	return (o);
}

ctl_out_t *
out_reply(psb_controller_t *c, ctl_req_t *req, int code, char *msg,
        psb_sandbox_t *sb)
{
	ctl_out_t *o = out_add(c, OB_REPLY, sb);

	o->req  = req;
	o->code = code;
	o->msg  = msg; // taken
	return (o);
}

void
out_resolve(psb_controller_t *c, psb_sandbox_t *sb, psb_method_t m, int code,
        char *msg)
{
	ctl_out_t *o = out_add(c, OB_RESOLVE, sb);

	o->method = m;
	o->code   = code;
	o->msg    = msg; // taken
}

void
ctl_out_call(psb_controller_t *c, void (*fn)(void *), void *arg)
{
	ctl_out_t *o = out_add(c, OB_CALL, NULL);

	o->fn  = fn;
	o->arg = arg;
	ctl_kick(c);
}

static void
ctl_out_free(ctl_out_t *o)
{
	free(o->msg);
	free(o);
}

static void
ctl_out_run(psb_controller_t *c, ctl_out_t *o)
{
	switch (o->kind) {
	case OB_REPLY: ctl_reply(c, o->req, o->code, o->msg, o->sb); break;
	case OB_PARK:
		if (o->req->canceled) {
			ctl_reply(c, o->req, PSB_ECANCELED, NULL, NULL);
		} else if (!ctl_still_held(c, o->req, o->sb)) {
			// Settled earlier in this outbox.
			ctl_reply(c, o->req, 0, NULL, o->sb);
		} else {
			ctl_hold(c, o->req, o->sb);
		}
		break;
	case OB_RESOLVE:
		ctl_resolve(c, o->sb, o->method, o->code, o->msg);
		break;
	case OB_WAKE: ctl_resolve(c, o->sb, PSB_M_WAIT, 0, NULL); break;
	case OB_RT: ctl_run_rt(c, o); break;
	case OB_PUBLISH:
		o->tr.sandbox_id = o->sb->id;
		if (c->publish_cb != NULL) {
			c->publish_cb(c->publish_arg, &o->tr);
		}
		break;
	case OB_RECOVERED: ctl_recovery_note(c, o->sb, o->event); break;
	case OB_CALL: o->fn(o->arg); break;
	case OB_RECORDED: o->record_done(o->arg, o->code); break;
	}
}

static void
ctl_flush(psb_controller_t *c)
{
	psb_list_t     out, touched;
	ctl_out_t     *o;
	psb_sandbox_t *sb;

	// Persist before you acknowledge: nothing leaves with the tick's
	// transaction still open.
	PSB_ASSERT(!psb_store_in_tick(c->store));
	// Detach first: callbacks may queue work for the next round.
	PSB_LIST_INIT(&out, ctl_out_t, node);
	PSB_LIST_INIT(&touched, psb_sandbox_t, touched_node);
	psb_list_move_all(&out, &c->out);
	psb_list_move_all(&touched, &c->touched);

	// The board shows the commit before any reply of it leaves. A
	// removed id goes first: a new sandbox may have taken it.
	PSB_LIST_FOREACH(&touched, sb)
	{
		if (sb->gone) {
			psb_board_del(c->board, sb->id);
		}
	}
	PSB_LIST_FOREACH(&touched, sb)
	{
		if (!sb->gone) {
			ctl_board_pin(c, sb);
		}
	}

	while ((o = psb_list_take(&out)) != NULL) {
		ctl_out_run(c, o);
		ctl_out_free(o);
	}

	// Timers follow the committed states; removed sandboxes go.
	while ((sb = psb_list_take(&touched)) != NULL) {
		sb->touched     = false;
		sb->new_in_tick = false;
		ctl_rec_free(&sb->snap);
		if (sb->gone) {
			ctl_req_t *req;

			while ((req = psb_list_first(&sb->held)) != NULL) {
				ctl_reply(c, req, PSB_ENOENT,
				        "sandbox was removed", NULL);
			}
			ctl_recovery_forget(c, sb);
			ctl_sb_free(sb);
		} else {
			ctl_sync_timer(c, sb);
			sb->rearm   = false;
			sb->backoff = false;
			ctl_unknown_note(c, sb);
		}
	}
}

// ctl_undo_sandboxes puts every sandbox the failed tick touched back as
// it was. New sandboxes go first, so that a removed one with the same id
// can take its place again.
static void
ctl_undo_sandboxes(psb_controller_t *c)
{
	psb_sandbox_t *sb;

	PSB_LIST_FOREACH(&c->touched, sb)
	{
		if (sb->new_in_tick && !sb->gone) {
			psb_map_del(c->sandboxes, sb->id);
		}
	}
	while ((sb = psb_list_take(&c->touched)) != NULL) {
		if (sb->new_in_tick) {
			sb->touched = false; // snap freed here
			ctl_rec_free(&sb->snap);
			ctl_sb_free(sb);
			continue;
		}
		ctl_rec_free(&sb->rec);
		sb->rec = sb->snap;
		// A deadline of the state put back is current again: its
		// retried DEADLINE must not be taken for a stale one.
		sb->timer_epoch = sb->snap_epoch;
		sb->touched     = false;
		memset(&sb->snap, 0, sizeof(sb->snap));
		sb->rearm = sb->backoff = false;
		if (sb->gone) {
			sb->gone = false;
			psb_map_put(c->sandboxes, sb->id, sb);
		}
	}
}

// ctl_undo puts the world back as it was before the failed tick.
static void
ctl_undo(psb_controller_t *c, const char *why)
{
	ctl_out_t   *o;
	ctl_event_t *e;

	while ((o = psb_list_take(&c->out)) != NULL) {
		if (o->req != NULL) {
			char *msg = xasprintf("could not persist the change, "
			                      "nothing was done: %s",
			        why);

			ctl_reply(c, o->req, PSB_EUNAVAIL, msg, NULL);
			free(msg);
		}
		ctl_out_free(o);
	}
	ctl_undo_sandboxes(c);
	// Internal events are tried again later; requests were answered;
	// a runtime record was not made, and its operation hears so.
	while ((e = psb_list_take(&c->done)) != NULL) {
		if (e->ev == CTL_EV_RECORD) {
			e->record_done(e->record_arg, PSB_EUNAVAIL);
			ctl_event_free(e);
		} else if (e->ev >= 0 && e->preset == 0 &&
		           psb_event_source((psb_event_t)e->ev) !=
		                   PSB_SRC_API) {
			psb_list_append(&c->retry, e);
		} else {
			ctl_event_free(e);
		}
	}
	if (!psb_list_empty(&c->retry) && !ev_is_active(&c->retry_timer)) {
		c->retry_delay_ms =
		        c->retry_delay_ms ? c->retry_delay_ms * 2 : 50;
		if (c->retry_delay_ms > 1000) {
			c->retry_delay_ms = 1000;
		}
		ev_timer_set(&c->retry_timer, c->retry_delay_ms / 1000.0, 0.);
		ev_timer_start(c->loop, &c->retry_timer);
	}
}

void
ctl_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	psb_controller_t *c = w->data;

	(void)loop, (void)revents;
	psb_list_move_all(&c->in, &c->retry);
	ctl_kick(c);
}

void
ctl_tick(psb_controller_t *c)
{
	ctl_event_t *e;

	if (c->in_tick) {
		return;
	}
	c->in_tick = true;
	while (!psb_list_empty(&c->in) || !psb_list_empty(&c->out) ||
	        psb_store_in_tick(c->store)) {
		psb_error_t err = PSB_ERROR_INIT;
		int         rv;

		uint64_t last_seq = c->last_seq; // put back if the tick fails

		while ((e = psb_list_take(&c->in)) != NULL) {
			ctl_process(c, e);
			psb_list_append(&c->done, e);
		}
		if (c->tick_error) {
			psb_store_rollback(c->store);
			rv = PSB_ESTORE;
			psb_error_make(&err, rv, "%s", c->tick_error_msg);
		} else {
			rv = psb_store_commit(c->store, &err);
		}
		if (rv != 0) {
			c->commit_failures++;
			psb_log(PSB_LOG_ERROR, "store commit failed: %s",
			        psb_error_message(&err));
			// The journal's seqs (and the generations drawn from
			// them) of the rolled-back tick were never written.
			c->last_seq = last_seq;
			ctl_undo(c, psb_error_message(&err));
		} else {
			c->retry_delay_ms = 0;
			while ((e = psb_list_take(&c->done)) != NULL) {
				ctl_event_free(e);
			}
			ctl_flush(c);
		}
		psb_error_release(&err);
		free(c->tick_error_msg);
		c->tick_error_msg = NULL;
		c->tick_error     = false;
	}
	c->in_tick = false;
}

void
ctl_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop, (void)revents;
	ctl_tick(w->data);
}

//
// podsandboxd - the scripted runtime: a TEST DOUBLE (see scripted.h).
//
// The world is a small array of fake tasks. Each operation becomes a
// pending op with its own one-shot ev_timer; the outcome is worked out
// from the world when the timer fires, not when the call is made, so a
// test can change the world (psb_scripted_set_task, _exit) while an
// operation is in flight, as a real runtime's world changes under it.
//

#include "runtime/scripted.h"

#include <ev.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "base/ident.h"
#include "base/list.h"
#include "base/log.h"
#include "base/parse.h"

#define SCR_PID_BASE  40000
#define SCR_NETNS     "/scripted/netns/" // fake pins (network=1)
#define SCR_MAGIC     0x53435254u        // "SCRT"
#define SCR_KILLED    137                // 128 + SIGKILL
#define SCR_KIND_EXIT PSB_RTOP_COUNT

typedef struct scr_task {
	char            id[PSB_ID_MAX + 1];
	uint64_t        generation;
	psb_fake_task_t state;
	uint32_t        pid;
	int32_t         exit_status;
	int64_t         exited_at;
} scr_task_t;

typedef struct scr_rule {
	psb_list_node_t  node; // on s->rules
	psb_rt_op_t      op;
	char            *id; // NULL: any sandbox
	psb_script_how_t how;
	uint32_t         delay_ms;
	int              times; // < 0: for ever
} scr_rule_t;

typedef struct scripted scripted_t;

// One operation in flight (one per sandbox for a probe). A hung op has
// no timer running until psb_scripted_release.
typedef struct scr_op {
	ev_timer         timer;
	psb_list_node_t  node; // on s->ops
	scripted_t      *s;
	int              kind; // psb_rt_op_t or SCR_KIND_EXIT
	psb_script_how_t how;
	bool             hung;
	char             id[PSB_ID_MAX + 1];
	uint64_t         generation;
	uint32_t         pid;       // SCR_KIND_EXIT only
	int32_t          status;    // SCR_KIND_EXIT only
	int64_t          exited_at; // SCR_KIND_EXIT only
	uint32_t         delay_ms;  // a network start, once recorded
} scr_op_t;

struct scripted {
	uint32_t        magic;
	psb_runtime_t  *rt;
	struct ev_loop *loop;
	scr_task_t     *tasks;
	size_t          ntasks;
	size_t          cap;
	psb_list_t      rules; // scr_rule_t, newest first
	psb_list_t      ops;   // scr_op_t pending, newest first
	uint32_t        next_pid;
	uint64_t        calls[PSB_RTOP_COUNT];
	char           *world_path; // option world=PATH, or NULL
	bool            network;    // option network=1
};

static scripted_t *
scr_get(psb_runtime_t *rt)
{
	scripted_t *s = psb_runtime_impl(rt);

	if (s == NULL || s->magic != SCR_MAGIC) {
		// A programming error in a test, not bad input.
		psb_log(PSB_LOG_ERROR, "psb_scripted_* on a %s runtime",
		        psb_runtime_name(rt));
		abort();
	}
	return (s);
}

static bool
scr_id_ok(const char *id)
{
	return (psb_id_valid(
	        id)); // the same rule as the daemon and containerd
}

// ---- the world ----------------------------------------------------------

static scr_task_t *
scr_task_find(scripted_t *s, const char *id)
{
	for (size_t i = 0; i < s->ntasks; i++) {
		if (strcmp(s->tasks[i].id, id) == 0) {
			return (&s->tasks[i]);
		}
	}
	return (NULL);
}

// scr_task_put returns the task of id, adding it if needed. The pointer
// is valid until the world changes.
static scr_task_t *
scr_task_put(scripted_t *s, const char *id)
{
	scr_task_t *t = scr_task_find(s, id);

	if (t != NULL) {
		return (t);
	}
	if (s->ntasks == s->cap) {
		s->cap   = s->cap == 0 ? 8 : s->cap * 2;
		s->tasks = xrealloc(s->tasks, s->cap * sizeof(*s->tasks));
	}
	t = &s->tasks[s->ntasks++];
	memset(t, 0, sizeof(*t));
	memcpy(t->id, id, strlen(id) + 1);
	return (t);
}

static void
scr_task_remove(scripted_t *s, const char *id)
{
	scr_task_t *t = scr_task_find(s, id);

	if (t != NULL) {
		*t = s->tasks[--s->ntasks];
	}
}

// ---- the world on disk ---------------------------------------------------
//
// With the option world=PATH the world outlives the process, so that a
// daemon killed with kill -9 and started again finds the fake tasks it
// left, as it would find real ones in containerd. The file is rewritten
// (write + rename) after every change. This is a test double: the small
// synchronous write on the loop thread is accepted here, never in a real
// backend.

static const char *const scr_state_names[] = {"none", "running", "exited"};

static void
scr_world_save(scripted_t *s)
{
	json_t              *tasks;
	json_t              *doc;
	_cleanup_free_ char *tmp = NULL;

	if (s->world_path == NULL) {
		return;
	}
	tasks = json_array();
	for (size_t i = 0; i < s->ntasks; i++) {
		const scr_task_t *t = &s->tasks[i];

		json_array_append_new(tasks,
		        json_pack("{s:s, s:I, s:s, s:I, s:i, s:I}", "id",
		                t->id, "generation", (json_int_t)t->generation,
		                "state", scr_state_names[t->state], "pid",
		                (json_int_t)t->pid, "exit_status",
		                (int)t->exit_status, "exited_at",
		                (json_int_t)t->exited_at));
	}
	doc = json_pack("{s:I, s:o}", "next_pid", (json_int_t)s->next_pid,
	        "tasks", tasks);
	tmp = xasprintf("%s.tmp", s->world_path);
	if (json_dump_file(doc, tmp, JSON_COMPACT) != 0 ||
	        rename(tmp, s->world_path) != 0) {
		psb_log(PSB_LOG_ERROR, "scripted: cannot save the world to %s",
		        s->world_path);
	}
	json_decref(doc);
}

static int
scr_world_load(scripted_t *s, psb_error_t *err)
{
	json_error_t jerr;
	json_t      *doc = json_load_file(s->world_path, 0, &jerr);
	json_t      *t;
	size_t       i;

	if (doc == NULL) {
		if (access(s->world_path, F_OK) != 0) {
			return (0); // a new world
		}
		return (psb_error_make(err, PSB_EINVAL,
		        "scripted runtime: world %s: %s", s->world_path,
		        jerr.text));
	}
	s->next_pid =
	        (uint32_t)json_integer_value(json_object_get(doc, "next_pid"));
	json_array_foreach(json_object_get(doc, "tasks"), i, t)
	{
		const char *id = json_string_value(json_object_get(t, "id"));
		const char *state =
		        json_string_value(json_object_get(t, "state"));
		scr_task_t *task;

		if (!scr_id_ok(id) || state == NULL) {
			continue;
		}
		task             = scr_task_put(s, id);
		task->generation = (uint64_t)json_integer_value(
		        json_object_get(t, "generation"));
		task->state = strcmp(state, "running") == 0  ? PSB_FAKE_RUNNING
		              : strcmp(state, "exited") == 0 ? PSB_FAKE_EXITED
		                                             : PSB_FAKE_NONE;
		task->pid   = (uint32_t)json_integer_value(
		          json_object_get(t, "pid"));
		task->exit_status = (int32_t)json_integer_value(
		        json_object_get(t, "exit_status"));
		task->exited_at = (int64_t)json_integer_value(
		        json_object_get(t, "exited_at"));
	}
	json_decref(doc);
	return (0);
}

// ---- rules --------------------------------------------------------------

// scr_match picks the newest rule for (op, id), uses it up once, and
// returns how and delay; no rule means OK after 0 ms.
static psb_script_how_t
scr_match(scripted_t *s, psb_rt_op_t op, const char *id, uint32_t *delay_ms)
{
	scr_rule_t *r;

	*delay_ms = 0;
	PSB_LIST_FOREACH(&s->rules, r)
	{
		if (r->op == op && (r->id == NULL || strcmp(r->id, id) == 0)) {
			psb_script_how_t how = r->how;

			*delay_ms = r->delay_ms;
			if (r->times > 0 && --r->times == 0) {
				psb_list_remove(&s->rules, r);
				free(r->id);
				free(r);
			}
			return (how);
		}
	}
	return (PSB_SCRIPT_OK);
}

static void
scr_rules_clear(scripted_t *s)
{
	scr_rule_t *r;

	while ((r = psb_list_take(&s->rules)) != NULL) {
		free(r->id);
		free(r);
	}
}

// ---- pending operations -------------------------------------------------

static void scr_op_cb(struct ev_loop *loop, ev_timer *w, int revents);

static void
scr_op_arm(scr_op_t *op, uint32_t delay_ms)
{
	op->hung = false;
	ev_timer_init(&op->timer, scr_op_cb, delay_ms / 1000.0, 0.);
	op->timer.data = op;
	ev_timer_start(op->s->loop, &op->timer);
}

static scr_op_t *
scr_op_new(scripted_t *s, int kind, const char *id, uint64_t generation)
{
	scr_op_t *op = xcalloc(1, sizeof(*op));

	op->s          = s;
	op->kind       = kind;
	op->generation = generation;
	memcpy(op->id, id, strlen(id) + 1);
	psb_list_prepend(&s->ops, op);
	return (op);
}

static void
scr_op_unlink(scr_op_t *op)
{
	psb_list_remove(&op->s->ops, op);
}

// scr_recorded goes on with a network start once its plan is committed.
static void
scr_recorded(void *arg, int rc)
{
	scr_op_t *op = arg;

	if (rc != 0) {
		// Not recorded: the start must not go on; fail it, rolled
		// back.
		op->how = PSB_SCRIPT_FAIL;
	}
	if (op->how == PSB_SCRIPT_HANG) {
		op->hung = true;
		return;
	}
	scr_op_arm(op, op->delay_ms);
}

// scr_queue starts op for sandbox (id, generation) as the rules say.
static void
scr_queue(scripted_t *s, psb_rt_op_t kind, const char *id, uint64_t gen)
{
	uint32_t         delay_ms;
	psb_script_how_t how = scr_match(s, kind, id, &delay_ms);
	scr_op_t        *op  = scr_op_new(s, (int)kind, id, gen);

	op->how = how;
	if (kind == PSB_RTOP_START && s->network) {
		_cleanup_free_ char *plan = xasprintf(
		        "{\"network\":{\"netns\":\"" SCR_NETNS "%s\","
		        "\"ips\":[]}}",
		        id);
		psb_rt_record_t rec = {
		        .sandbox_id = id,
		        .generation = gen,
		        .resources  = plan,
		        .done       = scr_recorded,
		        .done_arg   = op,
		};

		op->delay_ms = delay_ms;
		if (psb_runtime_record(s->rt, &rec) == 0) {
			return; // scr_recorded goes on
		}
		op->how = how = PSB_SCRIPT_FAIL;
	}
	if (how == PSB_SCRIPT_HANG) {
		op->hung = true;
		psb_log_sb(
		        PSB_LOG_DEBUG, id, "scripted: op %d hangs", (int)kind);
		return;
	}
	scr_op_arm(op, delay_ms);
}

static int
scr_fail_code(psb_script_how_t how)
{
	return (how == PSB_SCRIPT_UNREACHABLE ? PSB_EUNAVAIL : PSB_ERUNTIME);
}

static void
scr_done_start(scripted_t *s, scr_op_t *op, psb_rt_event_t *ev, char **res)
{
	scr_task_t *t;

	if (op->how == PSB_SCRIPT_OK) {
		t              = scr_task_put(s, op->id);
		t->state       = PSB_FAKE_RUNNING;
		t->pid         = SCR_PID_BASE + ++s->next_pid;
		t->generation  = op->generation;
		t->exit_status = 0;
		t->exited_at   = 0;
		ev->event      = PSB_EV_START_OK;
		ev->pid        = t->pid;
		if (s->network) {
			*res = xasprintf("{\"network\":{\"netns\":\"" SCR_NETNS
			                 "%s\",\"ips\":[\"10.88.%u.%u\"]}}",
			        op->id, (t->pid >> 8) & 255u, t->pid & 255u);
			ev->resources = *res;
		}
		return;
	}
	ev->event       = PSB_EV_START_FAILED;
	ev->code        = scr_fail_code(op->how);
	ev->rolled_back = op->how != PSB_SCRIPT_FAIL_DIRTY;
	ev->message     = op->how == PSB_SCRIPT_UNREACHABLE
	                          ? "scripted runtime unreachable"
	                          : "scripted start failure";
	if (!ev->rolled_back) {
		// A start that failed half-way leaves a container behind.
		*res          = xasprintf("{\"container\":\"%s\"}", op->id);
		ev->resources = *res;
	}
}

static void
scr_done_kill(scripted_t *s, scr_op_t *op, psb_rt_event_t *ev)
{
	scr_task_t *t;

	if (op->how == PSB_SCRIPT_UNREACHABLE) {
		// As the containerd backend reports a kill it could not send.
		ev->event   = PSB_EV_RUNTIME_UNREACHABLE;
		ev->code    = PSB_EUNAVAIL;
		ev->message = "scripted runtime unreachable";
		return;
	}
	if (op->how != PSB_SCRIPT_OK) {
		ev->event   = PSB_EV_KILL_FAILED;
		ev->code    = scr_fail_code(op->how);
		ev->message = "scripted kill failure";
		return;
	}
	ev->event = PSB_EV_TASK_EXIT;
	t         = scr_task_find(s, op->id);
	if (t == NULL || t->state == PSB_FAKE_NONE) {
		ev->exit_status = PSB_EXIT_UNKNOWN;
		ev->exited_at   = psb_now_ns();
		return;
	}
	if (t->state == PSB_FAKE_RUNNING) {
		t->state       = PSB_FAKE_EXITED;
		t->exit_status = SCR_KILLED;
		t->exited_at   = psb_now_ns();
	}
	ev->pid         = t->pid;
	ev->exit_status = t->exit_status;
	ev->exited_at   = t->exited_at;
}

static void
scr_done_delete(scripted_t *s, scr_op_t *op, psb_rt_event_t *ev)
{
	if (op->how == PSB_SCRIPT_UNREACHABLE) {
		ev->event   = PSB_EV_RUNTIME_UNREACHABLE;
		ev->code    = PSB_EUNAVAIL;
		ev->message = "scripted runtime unreachable";
		return;
	}
	if (op->how != PSB_SCRIPT_OK) {
		ev->event   = PSB_EV_DELETE_FAILED;
		ev->code    = scr_fail_code(op->how);
		ev->message = "scripted delete failure";
		return;
	}
	scr_task_remove(s, op->id);
	ev->event = PSB_EV_DELETE_OK;
}

static void
scr_done_net_down(scr_op_t *op, psb_rt_event_t *ev, char **res)
{
	if (op->how != PSB_SCRIPT_OK) {
		ev->event   = PSB_EV_NET_DOWN_FAILED;
		ev->code    = scr_fail_code(op->how);
		ev->message = "scripted network teardown failure";
		return;
	}
	ev->event = PSB_EV_NET_DOWN_OK;
	*res      = xasprintf("{\"closedNetns\":\"" SCR_NETNS "%s\"}", op->id);
	ev->resources = *res;
}

static void
scr_done_probe(scripted_t *s, scr_op_t *op, psb_rt_event_t *ev)
{
	scr_task_t *t;

	if (op->how != PSB_SCRIPT_OK) {
		ev->event   = PSB_EV_RUNTIME_UNREACHABLE;
		ev->code    = PSB_EUNAVAIL;
		ev->message = "scripted runtime unreachable";
		return;
	}
	t = scr_task_find(s, op->id);
	if (t == NULL || t->state == PSB_FAKE_NONE) {
		ev->event       = PSB_EV_FOUND_NOTHING;
		ev->exit_status = PSB_EXIT_UNKNOWN;
		return;
	}
	// What was found is reported with the generation that started it.
	ev->generation = t->generation;
	ev->pid        = t->pid;
	if (t->state == PSB_FAKE_RUNNING) {
		ev->event = PSB_EV_FOUND_RUNNING;
	} else {
		ev->event       = PSB_EV_FOUND_EXITED;
		ev->exit_status = t->exit_status;
		ev->exited_at   = t->exited_at;
	}
}

static void
scr_op_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	scr_op_t            *op  = w->data;
	scripted_t          *s   = op->s;
	_cleanup_free_ char *res = NULL;
	psb_rt_event_t       ev  = {0};

	(void)revents;
	ev_timer_stop(loop, w);
	scr_op_unlink(op);
	ev.sandbox_id = op->id;
	ev.generation = op->generation;
	switch (op->kind) {
	case PSB_RTOP_START: scr_done_start(s, op, &ev, &res); break;
	case PSB_RTOP_KILL: scr_done_kill(s, op, &ev); break;
	case PSB_RTOP_DELETE: scr_done_delete(s, op, &ev); break;
	case PSB_RTOP_PROBE: scr_done_probe(s, op, &ev); break;
	case PSB_RTOP_NET_DOWN: scr_done_net_down(op, &ev, &res); break;
	default:
		ev.event       = PSB_EV_TASK_EXIT;
		ev.pid         = op->pid;
		ev.exit_status = op->status;
		ev.exited_at   = op->exited_at;
		break;
	}
	psb_log_sb(PSB_LOG_DEBUG, op->id, "scripted: %s",
	        psb_event_name(ev.event));
	scr_world_save(s);
	// The sink may close the runtime: touch neither s nor the world
	// after this. op is already unlinked, so it is ours to free.
	psb_runtime_emit(s->rt, &ev);
	free(op);
}

// ---- the ops table ------------------------------------------------------

// scr_rule_add puts a rule in front of s's rules (newer rules first).
static void
scr_rule_add(scripted_t *s, psb_rt_op_t op, const char *id,
        psb_script_how_t how, uint32_t delay_ms, int times)
{
	scr_rule_t *r = xcalloc(1, sizeof(*r));

	r->op       = op;
	r->id       = id != NULL ? xstrdup(id) : NULL;
	r->how      = how;
	r->delay_ms = delay_ms;
	r->times    = times < 0 ? -1 : times;
	psb_list_prepend(&s->rules, r);
}

// scr_option applies one "key=value" of the options string (len bytes
// at opt): world=PATH, probe_delay_ms=N (every probe answers N ms late,
// so that a daemon's answers during recovery can be tested end to end).
static int
scr_option(scripted_t *s, const char *opt, size_t len, psb_error_t *err)
{
	uint64_t ms;

	if (len > 6 && strncmp(opt, "world=", 6) == 0 &&
	        s->world_path == NULL) {
		s->world_path = xstrndup(opt + 6, len - 6);
		return (0);
	}
	if (len == 9 && strncmp(opt, "network=1", 9) == 0) {
		s->network = true;
		return (0);
	}
	if (len > 15 && strncmp(opt, "probe_delay_ms=", 15) == 0 &&
	        psb_parse_uint(opt + 15, len - 15, 3600000, &ms) == 0) {
		scr_rule_add(s, PSB_RTOP_PROBE, NULL, PSB_SCRIPT_OK,
		        (uint32_t)ms, -1);
		return (0);
	}
	return (psb_error_make(err, PSB_EINVAL,
	        "scripted runtime: bad option \"%.*s\" (known: world=PATH, "
	        "probe_delay_ms=0-3600000, network=1)",
	        (int)len, opt));
}

static int
scr_init(psb_runtime_t *rt, const char *options, void **impl, psb_error_t *err)
{
	scripted_t *s;
	const char *o  = options != NULL ? options : "";
	int         rv = 0;

	s        = xcalloc(1, sizeof(*s));
	s->magic = SCR_MAGIC;
	s->rt    = rt;
	s->loop  = psb_runtime_loop(rt);
	PSB_LIST_INIT(&s->rules, scr_rule_t, node);
	PSB_LIST_INIT(&s->ops, scr_op_t, node);
	while (rv == 0 && *o != '\0') {
		size_t n = strcspn(o, ",");

		rv = scr_option(s, o, n, err);
		o += n + (o[n] == ',');
	}
	if (rv == 0 && s->world_path != NULL) {
		rv = scr_world_load(s, err);
	}
	if (rv != 0) {
		scr_rules_clear(s);
		free(s->world_path);
		free(s->tasks);
		free(s);
		return (rv);
	}
	*impl = s;
	return (0);
}

static void
scr_fini(void *impl)
{
	scripted_t *s = impl;
	scr_op_t   *op;

	// Abandon what is pending: no timer may fire after close.
	while ((op = psb_list_take(&s->ops)) != NULL) {
		if (!op->hung) {
			ev_timer_stop(s->loop, &op->timer);
		}
		free(op);
	}
	scr_rules_clear(s);
	free(s->tasks);
	free(s->world_path);
	s->magic = 0;
	free(s);
}

// scr_refuse_id is the double's id rule for every operation (containerd's
// identifier limit), said the way a real backend says it.
static int
scr_refuse_id(const char *op, const char *id, psb_error_t *err)
{
	if (scr_id_ok(id)) {
		return (0);
	}
	return (psb_error_make(err, PSB_EINVAL,
	        "scripted runtime: %s: sandbox id \"%.*s\" is not a valid id "
	        "(at most %d characters)",
	        op, 32, id != NULL ? id : "", PSB_ID_MAX));
}

static int
scr_start(void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err)
{
	scripted_t *s = impl;
	int         rv;

	s->calls[PSB_RTOP_START]++;
	if ((rv = scr_refuse_id("start", sb != NULL ? sb->id : NULL, err)) !=
	                0 ||
	        (rv = psb_runtime_pod_config(sb, NULL, err)) != 0) {
		return (rv);
	}
	scr_queue(s, PSB_RTOP_START, sb->id, sb->generation);
	return (0);
}

static int
scr_kill(void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err)
{
	scripted_t *s = impl;
	int         rv;

	s->calls[PSB_RTOP_KILL]++;
	if ((rv = scr_refuse_id("kill", sb != NULL ? sb->id : NULL, err)) !=
	        0) {
		return (rv);
	}
	scr_queue(s, PSB_RTOP_KILL, sb->id, sb->generation);
	return (0);
}

static int
scr_delete(void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err)
{
	scripted_t *s = impl;
	int         rv;

	s->calls[PSB_RTOP_DELETE]++;
	if ((rv = scr_refuse_id("delete", sb != NULL ? sb->id : NULL, err)) !=
	        0) {
		return (rv);
	}
	scr_queue(s, PSB_RTOP_DELETE, sb->id, sb->generation);
	return (0);
}

static int
scr_net_down(void *impl, const psb_rt_sandbox_t *sb, psb_error_t *err)
{
	scripted_t *s = impl;
	int         rv;

	s->calls[PSB_RTOP_NET_DOWN]++;
	if ((rv = scr_refuse_id(
	             "net_down", sb != NULL ? sb->id : NULL, err)) != 0) {
		return (rv);
	}
	if (!s->network) {
		return (psb_error_make(err, PSB_ENOTSUP,
		        "scripted runtime: net_down without network=1"));
	}
	scr_queue(s, PSB_RTOP_NET_DOWN, sb->id, sb->generation);
	return (0);
}

static int
scr_probe(void *impl, const psb_rt_sandbox_t *sbs, size_t n, bool complete,
        psb_error_t *err)
{
	scripted_t *s = impl;
	int         rv;

	(void)complete; // the double keeps nothing of its own to reap

	s->calls[PSB_RTOP_PROBE]++;
	if (sbs == NULL && n > 0) {
		return (psb_error_make(err, PSB_EINVAL,
		        "scripted runtime: probe: %zu sandboxes and no array",
		        n));
	}
	// All or nothing: check every id before queueing any.
	for (size_t i = 0; i < n; i++) {
		if ((rv = scr_refuse_id("probe", sbs[i].id, err)) != 0) {
			return (rv);
		}
	}
	for (size_t i = 0; i < n; i++) {
		scr_queue(s, PSB_RTOP_PROBE, sbs[i].id, sbs[i].generation);
	}
	return (0);
}

static int
scr_platform(void *impl, psb_platform_t *out)
{
	(void)impl;
	return (psb_runtime_host_platform(out));
}

const psb_runtime_ops_t psb_scripted_ops = {
        .rt_name           = "scripted",
        .rt_init           = scr_init,
        .rt_fini           = scr_fini,
        .rt_start          = scr_start,
        .rt_kill           = scr_kill,
        .rt_delete         = scr_delete,
        .rt_net_down       = scr_net_down,
        .rt_probe          = scr_probe,
        .rt_platform       = scr_platform,
        .rt_is_test_double = true,
};

// ---- test controls ------------------------------------------------------

void
psb_scripted_script(psb_runtime_t *rt, psb_rt_op_t op, const char *id,
        psb_script_how_t how, uint32_t delay_ms, int times)
{
	if (times == 0 || (unsigned)op >= PSB_RTOP_COUNT) {
		return;
	}
	scr_rule_add(scr_get(rt), op, id, how, delay_ms, times);
}

void
psb_scripted_clear(psb_runtime_t *rt)
{
	scr_rules_clear(scr_get(rt));
}

int
psb_scripted_exit(psb_runtime_t *rt, const char *id, int32_t status)
{
	scripted_t *s = scr_get(rt);
	scr_task_t *t;
	scr_op_t   *op;

	if (!scr_id_ok(id) || (t = scr_task_find(s, id)) == NULL ||
	        t->state != PSB_FAKE_RUNNING) {
		return (PSB_ENOENT);
	}
	// The world changes now; the news travels like any other event.
	t->state       = PSB_FAKE_EXITED;
	t->exit_status = status;
	t->exited_at   = psb_now_ns();
	op             = scr_op_new(s, SCR_KIND_EXIT, id, t->generation);
	op->how        = PSB_SCRIPT_OK;
	op->pid        = t->pid;
	op->status     = status;
	op->exited_at  = t->exited_at;
	scr_world_save(s);
	scr_op_arm(op, 0);
	return (0);
}

void
psb_scripted_set_task(psb_runtime_t *rt, const char *id, uint64_t generation,
        psb_fake_task_t state, uint32_t pid, int32_t exit_status)
{
	scripted_t *s = scr_get(rt);
	scr_task_t *t;

	if (!scr_id_ok(id)) {
		psb_log(PSB_LOG_ERROR, "scripted: bad sandbox id");
		abort();
	}
	if (state == PSB_FAKE_NONE) {
		scr_task_remove(s, id);
		scr_world_save(s);
		return;
	}
	t              = scr_task_put(s, id);
	t->generation  = generation;
	t->state       = state;
	t->pid         = pid;
	t->exit_status = state == PSB_FAKE_EXITED ? exit_status : 0;
	t->exited_at   = state == PSB_FAKE_EXITED ? psb_now_ns() : 0;
	scr_world_save(s);
}

psb_fake_task_t
psb_scripted_task(
        psb_runtime_t *rt, const char *id, uint32_t *pid, int32_t *exit_status)
{
	scripted_t *s = scr_get(rt);
	scr_task_t *t = scr_id_ok(id) ? scr_task_find(s, id) : NULL;

	if (pid != NULL) {
		*pid = t != NULL ? t->pid : 0;
	}
	if (exit_status != NULL) {
		*exit_status = t != NULL ? t->exit_status : 0;
	}
	return (t != NULL ? t->state : PSB_FAKE_NONE);
}

uint64_t
psb_scripted_calls(psb_runtime_t *rt, psb_rt_op_t op)
{
	scripted_t *s = scr_get(rt);

	return ((unsigned)op < PSB_RTOP_COUNT ? s->calls[op] : 0);
}

uint32_t
psb_scripted_hung(psb_runtime_t *rt)
{
	scripted_t *s = scr_get(rt);
	scr_op_t   *op;
	uint32_t    n = 0;

	PSB_LIST_FOREACH(&s->ops, op)
	{
		n += op->hung ? 1 : 0;
	}
	return (n);
}

uint32_t
psb_scripted_release(psb_runtime_t *rt, psb_script_how_t how)
{
	scripted_t *s = scr_get(rt);
	scr_op_t   *op;
	uint32_t    n = 0;

	if (how == PSB_SCRIPT_HANG) {
		return (0); // releasing into another hang is no release
	}
	PSB_LIST_FOREACH(&s->ops, op)
	{
		if (op->hung) {
			op->how = how;
			scr_op_arm(op, 0);
			n++;
		}
	}
	return (n);
}

//
// podsandboxd - controller internals shared by controller.c and
// recovery.c. Nothing outside core/ includes this.
//

#ifndef PSB_CORE_CONTROLLER_INT_H
#define PSB_CORE_CONTROLLER_INT_H

#include <ev.h>

#include "base/list.h"
#include "base/map.h"
#include "core/board.h"
#include "core/controller.h"

typedef struct ctl_req     ctl_req_t;
typedef struct ctl_event   ctl_event_t;
typedef struct ctl_out     ctl_out_t;
typedef struct psb_sandbox psb_sandbox_t;

// A request from submit until its reply.
struct ctl_req {
	uint64_t          token;
	uint32_t          slot;
	psb_method_t      method;
	char              id[PSB_ID_MAX + 1];
	psb_reply_cb      cb;
	void             *arg;
	uint32_t          timeout_ms;
	bool              verbose;
	bool              canceled;
	bool              gated; // held on the controller (List in recovery)
	char             *state_filter;
	char             *label_selector; // LIST: JSON object text
	uint64_t          since;          // EVENTS
	uint32_t          limit;          // EVENTS
	psb_sandbox_t    *sb;             // while held on sb->held
	psb_list_node_t   node;  // on sb->held or the controller's gated
	ev_timer          timer; // held-request timeout
	psb_controller_t *ctl;
};

// The persisted, FSM-relevant record of a sandbox. Copied whole at the
// first touch of a tick so that a failed commit can put it back.
typedef struct sb_rec {
	psb_state_t state;
	uint64_t    generation;
	uint32_t    pid;
	int64_t     created_at;
	int64_t     started_at;
	int64_t     exited_at;
	int32_t     exit_status;
	int64_t     updated_at;
	uint32_t    want;      // PSB_G_WANT_STOP | PSB_G_WANT_SHUTDOWN
	uint32_t    attempts;  // retries in the current state
	char       *resources; // owned; JSON recorded by the runtime
	bool        net_up;    // resources name a pod network (NET_UP)
	char      **ips;       // its IPs, primary first (owned), or NULL
	size_t      nips;
	char       *last_error;
} sb_rec_t;

// An event queued for the next tick (tick.c): a request, a runtime
// outcome, a timer.
struct ctl_event {
	int        ev; // psb_event_t, CTL_EV_READ or CTL_EV_RECORD
	char       id[PSB_ID_MAX + 1];
	uint64_t   generation;
	uint32_t   epoch; // DEADLINE: the timer epoch it was armed in
	uint32_t   pid;
	int32_t    exit_status;
	int64_t    exited_at;
	bool       rolled_back;
	int        code;
	char      *message;
	char      *resources;
	void      *config; // CREATE
	size_t     config_len;
	char      *config_json;
	char      *labels;
	char      *runtime_handler;
	char      *netns_path; // CREATE: the caller's netns, or NULL
	int        preset;     // a request refused before the FSM (validation)
	ctl_req_t *req;
	// CTL_EV_RECORD: the runtime's callback once the record committed.
	psb_rt_recorded_cb record_done;
	void              *record_arg;
	psb_list_node_t    node; // on the controller's in/done/retry queue
};

typedef enum ob_kind {
	OB_REPLY,     // answer req now
	OB_PARK,      // hold req on sb
	OB_RESOLVE,   // answer sb's held requests of `method`
	OB_WAKE,      // answer sb's held Waits with the exit
	OB_RT,        // start a runtime operation
	OB_PUBLISH,   // publish a committed transition
	OB_RECOVERED, // recovery bookkeeping for sb
	OB_CALL,      // call fn(arg)
	OB_RECORDED,  // a runtime record committed: record_done(arg, 0)
} ob_kind_t;

typedef enum rt_op { RT_START, RT_KILL, RT_DELETE, RT_NET_DOWN } rt_op_t;

// ctl_event_t.ev values that are not FSM events.
#define CTL_EV_READ   (-1) // a read-only request (ctl_read)
#define CTL_EV_RECORD (-2) // a runtime record (psb_rt_record_t)

// One externally visible effect of a tick, carried out after its commit.
struct ctl_out {
	ob_kind_t        kind;
	ctl_req_t       *req;
	psb_sandbox_t   *sb;
	psb_method_t     method;
	int              code;
	char            *msg;
	rt_op_t          op;
	uint64_t         generation;
	psb_event_t      event;
	psb_transition_t tr;
	void (*fn)(void *);
	void              *arg;
	psb_rt_recorded_cb record_done;
	psb_list_node_t    node; // on the outbox
};

struct psb_sandbox {
	char     id[PSB_ID_MAX + 1];
	sb_rec_t rec;
	// Immutable after creation.
	void  *config;
	size_t config_len;
	char  *config_json; // the config as crictl JSON (Create renders it)
	char  *labels;
	char  *runtime_handler;
	char  *netns_path; // a netns the caller made, or NULL

	// Tick bookkeeping.
	bool            touched;     // snapshot taken this tick
	bool            new_in_tick; // inserted this tick
	bool            gone;        // removed this tick
	bool            rearm;       // deadline timer must be re-armed
	bool            backoff;     // ... with the backoff delay
	sb_rec_t        snap;
	uint32_t        snap_epoch;   // timer_epoch at the snapshot
	psb_list_node_t touched_node; // on the controller's touched

	// Recovery.
	bool      awaiting_probe; // first answer not in yet
	bool      reprobe;        // runtime was unreachable: ask again
	bool      probing;        // asked; no answer yet
	ev_tstamp probe_due;      // ... and unreachable if none by then
	uint64_t  probe_gen;      // the generation the probe asked about

	ev_timer   deadline;
	uint32_t   timer_epoch;
	psb_list_t held; // held requests (Start/Stop/Shutdown/Wait), FIFO
	psb_controller_t *ctl;
};

struct psb_controller {
	struct ev_loop       *loop;
	psb_store_t          *store;
	psb_runtime_t        *rt;
	psb_controller_opts_t opts;

	psb_map_t *sandboxes; // id -> psb_sandbox_t

	// Inbound events (requests, runtime outcomes, timers), FIFO.
	psb_list_t in;
	// Events of the current tick, kept until its commit decides.
	psb_list_t done;
	// Internal events of failed ticks, retried after a delay.
	psb_list_t retry;
	ev_timer   retry_timer;
	uint32_t   retry_delay_ms;

	psb_list_t out;        // the outbox of the current tick
	psb_list_t touched;    // sandboxes touched this tick
	bool       tick_error; // a store write failed this tick
	char      *tick_error_msg;

	// Request slots: token = (seq << 32) | slot index.
	ctl_req_t **slots;
	uint32_t    nslots;
	uint32_t   *free_slots;
	uint32_t    nfree;
	uint32_t    req_seq;
	size_t      nreqs; // live requests

	ev_prepare prepare;
	ev_idle    idle; // kicks a tick when work is queued late
	ev_timer   reprobe_timer;
	ev_timer   probe_timer; // the earliest probe_due
	bool       in_tick;
	bool       draining;

	psb_publish_cb publish_cb;
	void          *publish_arg;
	void (*recover_done_cb)(void *);
	void  *recover_done_arg;
	size_t awaiting_probe; // loaded sandboxes not yet probed once
	size_t nprobing;       // sandboxes whose probe is out (probing)
	// Requests held until awaiting_probe drops to 0 (List), FIFO.
	psb_list_t gated;
	uint64_t   commit_failures;
	uint64_t   last_seq; // newest journal seq seen (generation base)
	// Every committed sandbox, for readers on other threads (board.h).
	psb_board_t *board;
};

// tick.c: the loop tick, its queues and the outbox.
void       ctl_tick_init(psb_controller_t *c);
void       ctl_tick_fini(psb_controller_t *c);
bool       ctl_tick_idle(const psb_controller_t *c);
void       ctl_tick(psb_controller_t *c);
void       ctl_enqueue(psb_controller_t *c, ctl_event_t *e); // taken
void       ctl_event_free(ctl_event_t *e);
ctl_out_t *out_add(psb_controller_t *c, ob_kind_t kind, psb_sandbox_t *sb);
// out_reply and out_resolve take msg (malloc'd or NULL).
ctl_out_t *out_reply(psb_controller_t *c, ctl_req_t *req, int code, char *msg,
        psb_sandbox_t *sb);
void       out_resolve(psb_controller_t *c, psb_sandbox_t *sb, psb_method_t m,
              int code, char *msg);
void       ctl_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents);
void       ctl_idle_cb(struct ev_loop *loop, ev_idle *w, int revents);
void       ctl_retry_cb(struct ev_loop *loop, ev_timer *w, int revents);

// controller.c, for tick.c: one event through the FSM; a runtime
// operation of the outbox; a sandbox's deadline timer after the commit;
// freeing.
void ctl_process(psb_controller_t *c, ctl_event_t *e);
void ctl_run_rt(psb_controller_t *c, ctl_out_t *o);
void ctl_sync_timer(psb_controller_t *c, psb_sandbox_t *sb);
void ctl_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents);

// sandbox.c: records and sandboxes.
void ctl_rec_free(sb_rec_t *r);
void ctl_rec_copy(sb_rec_t *dst, const sb_rec_t *src);
void ctl_set_str(char **dst, const char *src); // a copy of src, or NULL
// ctl_rec_set_resources records what the runtime reported, whether it
// names a pod network (the NET_UP guard) and the network's IPs: parsed
// once here, so that neither guards nor Status ever parse.
void           ctl_rec_set_resources(sb_rec_t *r, const char *resources);
psb_sandbox_t *ctl_sb_alloc(psb_controller_t *c, const char *id);
void           ctl_sb_free(psb_sandbox_t *sb);
// ctl_sb_touch snapshots sb at its first change in a tick (undo).
void ctl_sb_touch(psb_controller_t *c, psb_sandbox_t *sb);
void ctl_sb_row(const psb_sandbox_t *sb, psb_store_row_t *row);
// ctl_board_pin puts sb as committed on the board (board.h).
void ctl_board_pin(psb_controller_t *c, const psb_sandbox_t *sb);

// reply.c: sb as a reply shows it (NULL: all zero); v borrows from sb.
void ctl_sb_view(const psb_sandbox_t *sb, psb_sandbox_view_t *v);
// ctl_tick_fail marks the tick failed (its transaction is rolled back).
void ctl_tick_fail(psb_controller_t *c, psb_error_t *err);

// recovery.c: called for every processed recovery event (FOUND_* or
// RUNTIME_UNREACHABLE) after its step, and by the reprobe timer.
void ctl_recovery_note(psb_controller_t *c, psb_sandbox_t *sb, psb_event_t ev);
void ctl_reprobe_cb(struct ev_loop *loop, ev_timer *w, int revents);

// ctl_unknown_note (recovery.c), after every committed tick for each
// changed sandbox: one in UNKNOWN, however it got there (a stop that ran
// out of retries while the runtime was away, a start that could not roll
// back), is asked about again every reprobe_ms until it is known.
void ctl_unknown_note(psb_controller_t *c, psb_sandbox_t *sb);
// ctl_recovery_forget (recovery.c): sb is being freed; if its first probe
// was still awaited, recovery stops waiting for it.
void ctl_recovery_forget(psb_controller_t *c, psb_sandbox_t *sb);
void ctl_probe_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

// sandbox.c helpers used by recovery.c too.
psb_sandbox_t *ctl_sandbox_load(
        psb_controller_t *c, const psb_store_row_t *row);
void ctl_rt_sandbox(const psb_sandbox_t *sb, psb_rt_sandbox_t *out);
void ctl_out_call(psb_controller_t *c, void (*fn)(void *), void *arg);
void ctl_kick(psb_controller_t *c);

// reply.c: request slots, held requests and replies.
ctl_req_t *ctl_req_new(psb_controller_t *c, const psb_request_t *r,
        psb_reply_cb cb, void *arg);
void       ctl_req_free(ctl_req_t *req);
// ctl_reply answers req exactly once (with PSB_ECANCELED if it was
// cancelled) and frees it; sb (may be NULL) is shown in the reply.
void ctl_reply(psb_controller_t *c, ctl_req_t *req, int code, const char *msg,
        const psb_sandbox_t *sb);
// ctl_hold keeps req on sb until a resolve, its timeout or a cancel; with
// sb NULL, on the controller until ctl_release_gated.
void ctl_hold(psb_controller_t *c, ctl_req_t *req, psb_sandbox_t *sb);
// ctl_still_held: whether a read parked in this tick must still wait
// (Wait: always; Status: sb not yet probed since the restart; List: some
// loaded sandbox not yet probed).
bool ctl_still_held(const psb_controller_t *c, const ctl_req_t *req,
        const psb_sandbox_t *sb);
// ctl_release_gated answers every request held on the controller.
void ctl_release_gated(psb_controller_t *c, int code, const char *msg);
// ctl_resolve answers sb's held requests of method m.
void ctl_resolve(psb_controller_t *c, psb_sandbox_t *sb, psb_method_t m,
        int code, const char *msg);

#endif // PSB_CORE_CONTROLLER_INT_H

//
// podsandboxd - what the API server (server.c), the event publisher
// (publisher.c) and the socket setup (listen.c) share. Nothing outside
// transport/ includes this.
//

#ifndef PSB_TRANSPORT_SERVER_INT_H
#define PSB_TRANSPORT_SERVER_INT_H

#include <ev.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/list.h"
#include "transport/server.h"

#define SRV_DEFAULT_MODE     0660
#define SRV_DEFAULT_CONTEXTS 16
#define SRV_RECV_SLACK       4 // RECVMAXSZ = SRV_RECV_SLACK * max_msg_bytes
#define SRV_REFUSED_LOG_NS   (10 * 1000000000LL)
#define SRV_DEAD_PIPES       256
#define SRV_PUB_QUEUE        1024 // messages queued per subscriber
#define SRV_FLUSH_MS \
	1000 // psb_server_free waits this long for
	     // replies already handed to nng

typedef enum slot_state {
	SLOT_RECV,
	SLOT_HELD,
	SLOT_SEND,
	SLOT_IDLE,
} slot_state;

typedef struct srv_slot srv_slot;

struct srv_slot {
	psb_server_t *srv; // NULL once orphaned by psb_server_free
	nng_ctx       ctx;
	nng_aio      *aio;
	slot_state    state;
	uint32_t      pipe_id;   // HELD: the request's pipe
	uint64_t      token;     // HELD: the dispatcher's token
	bool          pipe_gone; // HELD: its pipe was removed
	// A quick reply is being sent (server.c, "the quick way"): the loop
	// still counts the slot as receiving. nng's threads only.
	bool            quick;
	psb_list_node_t node;  // on the server's all
	psb_list_node_t qnode; // on the completion queue or the idle stack
};

struct psb_server {
	struct ev_loop *loop;
	psb_dispatch_t  dispatch;
	nng_socket      rep;
	nng_socket      pub;
	nng_listener    rep_l;
	nng_listener    pub_l;
	bool            rep_open;
	bool            pub_open;
	bool            rep_nocred; // tcp/inproc: no peer credentials
	bool            pub_nocred; // the same for the events socket
	// Refused subscribers, counted on nng's threads: a refused dialer
	// retries every ~100 ms, so its refusals are logged once a period.
	atomic_uint_fast64_t pub_refused;
	atomic_int_fast64_t  pub_warn_due; // psb_mono_ns of the next log line
	size_t               max_msg;
	uint32_t             contexts;
	uint32_t             allow_uids[PSB_MAX_IDS + 2];
	size_t               n_uids;
	uint32_t             allow_gids[PSB_MAX_IDS];
	size_t               n_gids;
	bool                 stopped;   // no new requests are dispatched
	atomic_bool          quick_off; // stopped, as nng's threads see it
	atomic_uint          nquick;    // quick replies being sent
	bool                 closing;   // psb_server_free is running
	ev_async             async;
	psb_list_t           all;  // every slot
	psb_list_t           idle; // parked slots, a stack
	uint32_t             nrecv, nsend, nheld, nidle;
	uint32_t             dead[SRV_DEAD_PIPES]; // recently removed pipes
	size_t               dead_next;
	pthread_mutex_t      mtx;   // guards everything below
	pthread_cond_t       cv;    // signalled on every completion
	psb_list_t           queue; // completed aios, FIFO
	uint32_t            *gone;
	size_t               n_gone, cap_gone;
	bool                 pipes_off; // stop queueing pipe events

	// The listeners' watchdog (watchdog.c): its thread and what it
	// needs to listen again.
	pthread_t            watch_thread;
	bool                 watch_running;
	bool                 watch_stop; // guarded by watch_mtx
	pthread_mutex_t      watch_mtx;  // also held while it restarts
	pthread_cond_t       watch_cv;
	char                *watch_api; // the URLs, copied
	char                *watch_events;
	uint32_t             watch_mode;
	bool                 watch_allow_tcp;
	atomic_uint_fast64_t listener_restarts;
};

// srv_peer_allowed: uid or gid is on the allow-list (root and the
// daemon's own user always are). Reads only fields fixed before the
// listeners start: any thread.
bool srv_peer_allowed(const psb_server_t *s, uint64_t uid, uint64_t gid);

// srv_watch_start starts the listeners' watchdog (watchdog.c): a thread
// that dials the API and events URLs once a second and, when a listener
// has stopped completing handshakes (nng issue #1518), closes it and
// listens again. srv_watch_stop stops and joins it (and is a no-op when
// it was never started); psb_server_free calls it first.
int  srv_watch_start(psb_server_t *s, const char *api, const char *events,
         uint32_t mode, bool allow_tcp, psb_error_t *err);
void srv_watch_stop(psb_server_t *s);

// srv_listen checks url (ipc: its directory's owner and mode; tcp: only
// with allow_tcp), then creates and starts a listener on sock with the
// ipc file mode set before listen(2). *no_cred tells whether the peers
// of this URL carry no credentials (tcp, inproc). Errors name the URL.
int srv_listen(nng_socket sock, const char *url, uint32_t mode, bool allow_tcp,
        nng_listener *out, bool *no_cred, psb_error_t *err);

// srv_open_pub opens the events socket with its subscriber check
// (publisher.c).
int srv_open_pub(psb_server_t *s, const psb_server_opts_t *o, const char *url,
        uint32_t mode, psb_error_t *err);

#endif // PSB_TRANSPORT_SERVER_INT_H

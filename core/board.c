//
// podsandboxd - the board (see board.h).
//
// A record is one sandbox's view, immutable once pinned, freed when its
// last reference goes: the board holds one while the record is pinned,
// each reader one while it answers. The parts that never change in a
// sandbox's life (config, labels, handler) are shared between a
// sandbox's successive records, so a transition copies only the small
// part. The map from id to record is guarded by a writer-preferring
// rwlock held only to look up and take references.
//

#include "core/board.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/error.h"
#include "base/json.h"
#include "base/map.h"

// What does not change in a sandbox's life.
typedef struct board_fixed {
	atomic_uint refs;
	char       *labels;
	char       *runtime_handler;
	void       *config;
	size_t      config_len;
} board_fixed_t;

typedef struct board_rec {
	atomic_uint        refs;
	bool               confirmed;
	char               id[PSB_ID_MAX + 1];
	board_fixed_t     *fixed;
	psb_sandbox_view_t view; // strings point into this record and fixed
	char             **ips;  // primary first
	size_t             nips;
} board_rec_t;

struct psb_board {
	pthread_rwlock_t lock; // guards map and the two flags
	psb_map_t       *map;  // id -> board_rec_t
	bool             listable;
	bool             closed;
};

static char *
dup_or_null(const char *s)
{
	return (s != NULL ? xstrdup(s) : NULL);
}

static void
fixed_unref(board_fixed_t *f)
{
	if (f == NULL || atomic_fetch_sub(&f->refs, 1) != 1) {
		return;
	}
	free(f->labels);
	free(f->runtime_handler);
	free(f->config);
	free(f);
}

static bool
fixed_same(const board_fixed_t *f, const psb_sandbox_view_t *v)
{
	return (f->config_len == v->config_len &&
	        (v->config_len == 0 ||
	                memcmp(f->config, v->config, v->config_len) == 0) &&
	        ((f->labels == NULL && v->labels == NULL) ||
	                (f->labels != NULL && v->labels != NULL &&
	                        strcmp(f->labels, v->labels) == 0)) &&
	        ((f->runtime_handler == NULL && v->runtime_handler == NULL) ||
	                (f->runtime_handler != NULL &&
	                        v->runtime_handler != NULL &&
	                        strcmp(f->runtime_handler,
	                                v->runtime_handler) == 0)));
}

static board_fixed_t *
fixed_new(const psb_sandbox_view_t *v)
{
	board_fixed_t *f = xcalloc(1, sizeof(*f));

	atomic_init(&f->refs, 1);
	f->labels          = dup_or_null(v->labels);
	f->runtime_handler = dup_or_null(v->runtime_handler);
	f->config_len      = v->config_len;
	f->config = v->config_len ? xmemdup(v->config, v->config_len) : NULL;
	return (f);
}

static void
rec_ref(board_rec_t *r)
{
	atomic_fetch_add(&r->refs, 1);
}

static void
rec_unref(board_rec_t *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1) {
		return;
	}
	for (size_t i = 0; i < r->nips; i++) {
		free(r->ips[i]);
	}
	free(r->ips);
	fixed_unref(r->fixed);
	free(r);
}

psb_board_t *
psb_board_new(void)
{
	psb_board_t         *b = xcalloc(1, sizeof(*b));
	pthread_rwlockattr_t attr;

	// A steady stream of readers must not keep the loop from pinning.
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(
	        &attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&b->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	b->map      = psb_map_new();
	b->listable = true;
	return (b);
}

static int
board_drop(void *arg, void *value)
{
	(void)arg;
	rec_unref(value);
	return (0);
}

void
psb_board_free(psb_board_t *b)
{
	if (b == NULL) {
		return;
	}
	psb_map_each(b->map, board_drop, NULL);
	psb_map_free(b->map);
	pthread_rwlock_destroy(&b->lock);
	free(b);
}

void
psb_board_put(psb_board_t *b, const psb_sandbox_view_t *v, bool confirmed)
{
	board_rec_t *r = xcalloc(1, sizeof(*r));
	board_rec_t *old;

	PSB_ASSERT(v->id != NULL && strlen(v->id) <= PSB_ID_MAX);
	atomic_init(&r->refs, 1);
	r->confirmed = confirmed;
	snprintf(r->id, sizeof(r->id), "%s", v->id);
	// Only the loop writes the map, so it may look without the lock.
	old = psb_map_get(b->map, v->id);
	if (old != NULL && fixed_same(old->fixed, v)) {
		r->fixed = old->fixed;
		atomic_fetch_add(&r->fixed->refs, 1);
	} else {
		r->fixed = fixed_new(v);
	}
	r->nips = v->ip != NULL ? 1 + v->n_additional_ips : 0;
	if (r->nips > 0) {
		r->ips    = xcalloc(r->nips, sizeof(*r->ips));
		r->ips[0] = xstrdup(v->ip);
		for (size_t i = 1; i < r->nips; i++) {
			r->ips[i] = xstrdup(v->additional_ips[i - 1]);
		}
	}
	r->view                 = *v;
	r->view.id              = r->id;
	r->view.labels          = r->fixed->labels;
	r->view.runtime_handler = r->fixed->runtime_handler;
	r->view.config          = r->fixed->config;
	r->view.config_len      = r->fixed->config_len;
	r->view.info            = NULL;
	r->view.ip              = r->nips > 0 ? r->ips[0] : NULL;
	r->view.additional_ips =
	        r->nips > 1 ? (const char *const *)r->ips + 1 : NULL;
	r->view.n_additional_ips = r->nips > 1 ? r->nips - 1 : 0;

	pthread_rwlock_wrlock(&b->lock);
	old = psb_map_put(b->map, r->id, r);
	pthread_rwlock_unlock(&b->lock);
	rec_unref(old);
}

void
psb_board_del(psb_board_t *b, const char *id)
{
	board_rec_t *old;

	if (psb_map_get(b->map, id) == NULL) {
		return;
	}
	pthread_rwlock_wrlock(&b->lock);
	old = psb_map_del(b->map, id);
	pthread_rwlock_unlock(&b->lock);
	rec_unref(old);
}

void
psb_board_set_listable(psb_board_t *b, bool listable)
{
	if (b->listable == listable) {
		return;
	}
	pthread_rwlock_wrlock(&b->lock);
	b->listable = listable;
	pthread_rwlock_unlock(&b->lock);
}

void
psb_board_close(psb_board_t *b)
{
	if (b->closed) {
		return;
	}
	pthread_rwlock_wrlock(&b->lock);
	b->closed = true;
	pthread_rwlock_unlock(&b->lock);
}

static bool
board_status(psb_board_t *b, const psb_request_t *req, psb_reply_cb cb,
        void *cb_arg)
{
	board_rec_t *r = NULL;
	psb_reply_t  reply;

	if (req->verbose || req->sandbox_id == NULL) {
		return (false);
	}
	pthread_rwlock_rdlock(&b->lock);
	if (!b->closed) {
		r = psb_map_get(b->map, req->sandbox_id);
	}
	if (r != NULL && r->confirmed) {
		rec_ref(r);
	} else {
		r = NULL;
	}
	pthread_rwlock_unlock(&b->lock);
	if (r == NULL) {
		return (false); // the loop knows why (or holds it)
	}
	memset(&reply, 0, sizeof(reply));
	reply.method  = PSB_M_STATUS;
	reply.sandbox = r->view;
	cb(cb_arg, &reply);
	rec_unref(r);
	return (true);
}

typedef struct list_acc {
	board_rec_t **recs;
	size_t        n;
} list_acc_t;

static int
list_take(void *arg, void *value)
{
	list_acc_t  *acc = arg;
	board_rec_t *r   = value;

	rec_ref(r);
	acc->recs[acc->n++] = r;
	return (0);
}

static bool
board_list(psb_board_t *b, const psb_request_t *req, psb_reply_cb cb,
        void *cb_arg)
{
	list_acc_t          acc = {NULL, 0};
	psb_sandbox_view_t *views;
	size_t              nv = 0;
	json_t             *selector;
	psb_reply_t         reply;

	// A selector the loop would refuse is the loop's to answer.
	selector = req->label_selector != NULL
	                   ? json_loads(req->label_selector, 0, NULL)
	                   : NULL;
	if (req->label_selector != NULL && !json_is_object(selector)) {
		json_decref(selector);
		return (false);
	}
	pthread_rwlock_rdlock(&b->lock);
	if (b->closed || !b->listable) {
		pthread_rwlock_unlock(&b->lock);
		json_decref(selector);
		return (false);
	}
	acc.recs = xcalloc(psb_map_size(b->map) + 1, sizeof(*acc.recs));
	psb_map_each(b->map, list_take, &acc);
	pthread_rwlock_unlock(&b->lock);

	views = xcalloc(acc.n + 1, sizeof(*views));
	for (size_t i = 0; i < acc.n; i++) {
		const psb_sandbox_view_t *v = &acc.recs[i]->view;

		if ((req->state_filter == NULL ||
		            strcmp(req->state_filter,
		                    psb_state_name(v->state)) == 0) &&
		        psb_json_labels_match(selector, v->labels)) {
			views[nv++] = *v;
		}
	}
	json_decref(selector);
	qsort(views, nv, sizeof(*views), psb_view_cmp);
	memset(&reply, 0, sizeof(reply));
	reply.method   = PSB_M_LIST;
	reply.list     = views;
	reply.list_len = nv;
	cb(cb_arg, &reply);
	free(views);
	for (size_t i = 0; i < acc.n; i++) {
		rec_unref(acc.recs[i]);
	}
	free(acc.recs);
	return (true);
}

bool
psb_board_read(psb_board_t *b, const psb_request_t *req, psb_reply_cb cb,
        void *cb_arg)
{
	if (b == NULL) {
		return (false);
	}
	switch (req->method) {
	case PSB_M_STATUS: return (board_status(b, req, cb, cb_arg));
	case PSB_M_LIST:
		// An unknown state name is the loop's to refuse.
		if (req->state_filter != NULL &&
		        psb_state_parse(req->state_filter) < 0) {
			return (false);
		}
		return (board_list(b, req, cb, cb_arg));
	default: return (false);
	}
}

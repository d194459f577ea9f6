//
// podsandboxd - the board: what every sandbox looks like as committed,
// published by the loop for readers on other threads (issue 11).
//
// The loop thread owns every sandbox. After each commit it pins an
// immutable copy of each changed sandbox's view on the board, before any
// reply of that tick leaves, and takes removed ones down. The API
// server's threads answer plain Status and List from the board without
// waking the loop (a round trip through the loop costs more than the
// whole answer; docs/performance.md). A reader takes a reference to the
// records it shows, so the loop may replace them at any time.
//
// What the board cannot answer, it declines and the request
// takes the loop's way, which has the whole answer: an id not on the
// board, a sandbox whose state recovery has not yet confirmed, a List
// while any is unconfirmed, verbose Status, every other method, and
// everything once the board is closed.
//
// psb_board_read: any thread. Everything else: the loop thread.
//

#ifndef PSB_CORE_BOARD_H
#define PSB_CORE_BOARD_H

#include <stdbool.h>

#include "api/api.h"

typedef struct psb_board psb_board_t;

psb_board_t *psb_board_new(void);

// psb_board_free frees the board; no reader may be in psb_board_read.
void psb_board_free(psb_board_t *b);

// psb_board_put pins a copy of v (and everything it points to). confirmed
// false: the state is the stored one, not yet confirmed by the runtime
// after a restart; readers decline it.
void psb_board_put(
        psb_board_t *b, const psb_sandbox_view_t *v, bool confirmed);

// psb_board_del takes id down (no-op if absent).
void psb_board_del(psb_board_t *b, const char *id);

// psb_board_set_listable: false while List must wait (recovery).
void psb_board_set_listable(psb_board_t *b, bool listable);

// psb_board_close makes every later read decline. Idempotent.
void psb_board_close(psb_board_t *b);

// psb_board_read answers req from the board by calling cb exactly once,
// on the calling thread, and returns true; or declines: returns false
// without calling cb. A NULL board declines.
bool psb_board_read(psb_board_t *b, const psb_request_t *req, psb_reply_cb cb,
        void *cb_arg);

#endif // PSB_CORE_BOARD_H

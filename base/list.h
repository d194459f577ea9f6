//
// podsandboxd - one intrusive doubly-linked list for everyone (the shape
// of nng's nni_list).
//
// An item carries a psb_list_node_t; the list knows at which offset, so
// its functions take and return the items themselves. A node that is not
// on a list is "unlinked" (psb_list_node_active is false): removing it
// again, or from a list it is not on, is a programming error caught by
// PSB_ASSERT. No allocation; O(1) everything but psb_list_count.
//
// Not thread-safe: a list belongs to one thread (the loop) or is guarded
// by its owner's lock.
//

#ifndef PSB_BASE_LIST_H
#define PSB_BASE_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct psb_list_node {
	struct psb_list_node *next;
	struct psb_list_node *prev;
} psb_list_node_t;

typedef struct psb_list {
	psb_list_node_t head; // sentinel
	size_t          offset;
} psb_list_t;

// PSB_LIST_INIT(list, type, field) makes list an empty list of items of
// type whose node is field.
#define PSB_LIST_INIT(list, type, field) \
	psb_list_init_offset((list), offsetof(type, field))

void psb_list_init_offset(psb_list_t *list, size_t offset);

// psb_list_node_init marks a node unlinked (zeroed memory is too).
void psb_list_node_init(psb_list_node_t *node);
bool psb_list_node_active(const psb_list_node_t *node);

bool   psb_list_empty(const psb_list_t *list);
size_t psb_list_count(const psb_list_t *list);

// First/last/next/prev return an item, or NULL at the end.
void *psb_list_first(const psb_list_t *list);
void *psb_list_last(const psb_list_t *list);
void *psb_list_next(const psb_list_t *list, void *item);
void *psb_list_prev(const psb_list_t *list, void *item);

// Append/prepend link an unlinked item at the end/front.
void psb_list_append(psb_list_t *list, void *item);
void psb_list_prepend(psb_list_t *list, void *item);

// psb_list_remove unlinks item from list (it must be on it).
void psb_list_remove(psb_list_t *list, void *item);

// psb_list_take unlinks and returns the first item, or NULL: the FIFO pop.
void *psb_list_take(psb_list_t *list);

// psb_list_move_all appends every item of from to to, in order, in O(1);
// from is left empty.
void psb_list_move_all(psb_list_t *to, psb_list_t *from);

// PSB_LIST_FOREACH(list, item) walks the items; item must not be removed
// inside (use psb_list_next before removing, or psb_list_take).
#define PSB_LIST_FOREACH(list, item)                           \
	for ((item)    = psb_list_first(list); (item) != NULL; \
	        (item) = psb_list_next((list), (item)))

#endif // PSB_BASE_LIST_H

//
// podsandboxd - the intrusive list (list.h).
//

#include "base/list.h"

#include "base/assert.h"

#define NODE(l, item) ((psb_list_node_t *)((char *)(item) + (l)->offset))
#define ITEM(l, node) ((void *)((char *)(node) - (l)->offset))

void
psb_list_init_offset(psb_list_t *list, size_t offset)
{
	list->head.next = &list->head;
	list->head.prev = &list->head;
	list->offset    = offset;
}

void
psb_list_node_init(psb_list_node_t *node)
{
	node->next = node->prev = NULL;
}

bool
psb_list_node_active(const psb_list_node_t *node)
{
	return (node->next != NULL);
}

bool
psb_list_empty(const psb_list_t *list)
{
	return (list->head.next == &list->head);
}

size_t
psb_list_count(const psb_list_t *list)
{
	size_t n = 0;

	for (const psb_list_node_t *p = list->head.next; p != &list->head;
	        p                     = p->next) {
		n++;
	}
	return (n);
}

void *
psb_list_first(const psb_list_t *list)
{
	return (psb_list_empty(list) ? NULL : ITEM(list, list->head.next));
}

void *
psb_list_last(const psb_list_t *list)
{
	return (psb_list_empty(list) ? NULL : ITEM(list, list->head.prev));
}

void *
psb_list_next(const psb_list_t *list, void *item)
{
	psb_list_node_t *n = NODE(list, item)->next;

	return (n == &list->head ? NULL : ITEM(list, n));
}

void *
psb_list_prev(const psb_list_t *list, void *item)
{
	psb_list_node_t *n = NODE(list, item)->prev;

	return (n == &list->head ? NULL : ITEM(list, n));
}

static void
list_link(psb_list_node_t *node, psb_list_node_t *prev, psb_list_node_t *next)
{
	PSB_ASSERT(!psb_list_node_active(node));
	node->prev = prev;
	node->next = next;
	prev->next = node;
	next->prev = node;
}

void
psb_list_append(psb_list_t *list, void *item)
{
	list_link(NODE(list, item), list->head.prev, &list->head);
}

void
psb_list_prepend(psb_list_t *list, void *item)
{
	list_link(NODE(list, item), &list->head, list->head.next);
}

void
psb_list_remove(psb_list_t *list, void *item)
{
	psb_list_node_t *n = NODE(list, item);

	PSB_ASSERT(psb_list_node_active(n));
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = NULL;
}

void *
psb_list_take(psb_list_t *list)
{
	void *item = psb_list_first(list);

	if (item != NULL) {
		psb_list_remove(list, item);
	}
	return (item);
}

void
psb_list_move_all(psb_list_t *to, psb_list_t *from)
{
	psb_list_node_t *first = from->head.next, *last = from->head.prev;

	PSB_ASSERT(to->offset == from->offset);
	if (psb_list_empty(from)) {
		return;
	}
	// Splice: O(1) whatever the length.
	first->prev         = to->head.prev;
	to->head.prev->next = first;
	last->next          = &to->head;
	to->head.prev       = last;
	from->head.next = from->head.prev = &from->head;
}

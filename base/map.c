//
// podsandboxd - string-keyed hash map (see map.h).
//

#include "base/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

typedef struct map_entry {
	const char       *key;
	void             *value;
	uint32_t          hash;
	struct map_entry *next;
} map_entry_t;

struct psb_map {
	map_entry_t **buckets;
	size_t        nbuckets; // power of two
	size_t        size;
};

static uint32_t
map_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0') {
		h ^= (uint8_t)*s++;
		h *= 16777619u;
	}
	return (h);
}

psb_map_t *
psb_map_new(void)
{
	psb_map_t *m = xcalloc(1, sizeof(*m));

	m->nbuckets = 64;
	m->buckets  = xcalloc(m->nbuckets, sizeof(*m->buckets));
	return (m);
}

void
psb_map_free(psb_map_t *m)
{
	if (m == NULL) {
		return;
	}
	for (size_t i = 0; i < m->nbuckets; i++) {
		map_entry_t *e = m->buckets[i];

		while (e != NULL) {
			map_entry_t *next = e->next;

			free(e);
			e = next;
		}
	}
	free(m->buckets);
	free(m);
}

static map_entry_t **
map_find(const psb_map_t *m, const char *key, uint32_t h)
{
	map_entry_t **pp = &m->buckets[h & (m->nbuckets - 1)];

	while (*pp != NULL &&
	        ((*pp)->hash != h || strcmp((*pp)->key, key) != 0)) {
		pp = &(*pp)->next;
	}
	return (pp);
}

void *
psb_map_get(const psb_map_t *m, const char *key)
{
	map_entry_t **pp = map_find(m, key, map_hash(key));

	return (*pp != NULL ? (*pp)->value : NULL);
}

static void
map_grow(psb_map_t *m)
{
	size_t        n  = m->nbuckets * 2;
	map_entry_t **nb = xcalloc(n, sizeof(*nb));

	for (size_t i = 0; i < m->nbuckets; i++) {
		map_entry_t *e = m->buckets[i];

		while (e != NULL) {
			map_entry_t *next = e->next;

			e->next               = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
			e                     = next;
		}
	}
	free(m->buckets);
	m->buckets  = nb;
	m->nbuckets = n;
}

void *
psb_map_put(psb_map_t *m, const char *key, void *value)
{
	uint32_t      h  = map_hash(key);
	map_entry_t **pp = map_find(m, key, h);
	map_entry_t  *e;

	if (*pp != NULL) {
		void *old = (*pp)->value;

		(*pp)->key   = key;
		(*pp)->value = value;
		return (old);
	}
	e        = xmalloc(sizeof(*e));
	e->key   = key;
	e->value = value;
	e->hash  = h;
	e->next  = NULL;
	*pp      = e;
	if (++m->size > m->nbuckets) {
		map_grow(m);
	}
	return (NULL);
}

void *
psb_map_del(psb_map_t *m, const char *key)
{
	map_entry_t **pp = map_find(m, key, map_hash(key));
	map_entry_t  *e  = *pp;
	void         *v;

	if (e == NULL) {
		return (NULL);
	}
	*pp = e->next;
	v   = e->value;
	free(e);
	m->size--;
	return (v);
}

size_t
psb_map_size(const psb_map_t *m)
{
	return (m->size);
}

int
psb_map_each(const psb_map_t *m, int (*fn)(void *, void *), void *arg)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		for (map_entry_t *e = m->buckets[i]; e != NULL; e = e->next) {
			int rv = fn(arg, e->value);

			if (rv != 0) {
				return (rv);
			}
		}
	}
	return (0);
}

//
// podsandboxd - a string-keyed hash map (chained, FNV-1a, power-of-two
// buckets). Keys are borrowed: the caller keeps each key alive and
// unchanged while its entry is in the map (typically the key is a field of
// the value). Not thread-safe.
//

#ifndef PSB_BASE_MAP_H
#define PSB_BASE_MAP_H

#include <stddef.h>

typedef struct psb_map psb_map_t;

// psb_map_new returns an empty map (aborts on OOM).
psb_map_t *psb_map_new(void);

// psb_map_free frees the map, not the values. NULL is a no-op.
void psb_map_free(psb_map_t *m);

// psb_map_get returns the value for key, or NULL.
void *psb_map_get(const psb_map_t *m, const char *key);

// psb_map_put adds key -> value, replacing (and returning) an older value
// for the same key; returns NULL if the key was new.
void *psb_map_put(psb_map_t *m, const char *key, void *value);

// psb_map_del removes key and returns its value (NULL if absent).
void *psb_map_del(psb_map_t *m, const char *key);

size_t psb_map_size(const psb_map_t *m);

// psb_map_each calls fn for every entry in unspecified order; fn must not
// change the map. A non-zero return stops the walk and is returned.
int psb_map_each(
        const psb_map_t *m, int (*fn)(void *arg, void *value), void *arg);

#endif // PSB_BASE_MAP_H

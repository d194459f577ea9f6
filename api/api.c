//
// podsandboxd - what api/methods.def says about each method.
//

#include "api/api.h"

#include <string.h>

#define ID   true
#define NOID false

static const struct {
	const char *name;
	bool        needs_id;
} api_methods[PSB_M_COUNT] = {
#define PSB_METHOD(e, n, req, res, body, id, ev) [PSB_M_##e] = {n, id},
#include "api/methods.def"
#undef PSB_METHOD
};

const char *
psb_method_name(psb_method_t m)
{
	return ((unsigned)m < PSB_M_COUNT ? api_methods[m].name : "?");
}

bool
psb_method_needs_id(psb_method_t m)
{
	return ((unsigned)m < PSB_M_COUNT && api_methods[m].needs_id);
}

int
psb_view_cmp(const void *a, const void *b)
{
	return (strcmp(((const psb_sandbox_view_t *)a)->id,
	        ((const psb_sandbox_view_t *)b)->id));
}

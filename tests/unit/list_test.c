//
// podsandboxd - unit tests of base/list (the one intrusive list).
//

#include "tests/harness/testing.h"

#include "base/list.h"

typedef struct item {
	int             v;
	psb_list_node_t node;
} item_t;

static int
values(psb_list_t *l, int *out, int max)
{
	item_t *it;
	int     n = 0;

	PSB_LIST_FOREACH(l, it)
	{
		if (n < max) {
			out[n] = it->v;
		}
		n++;
	}
	return (n);
}

static void
test_fifo_and_remove(void **state)
{
	psb_list_t l;
	item_t     it[4] = {{1, {0}}, {2, {0}}, {3, {0}}, {4, {0}}};
	int        v[8];

	(void)state;
	PSB_LIST_INIT(&l, item_t, node);
	assert_true(psb_list_empty(&l));
	assert_null(psb_list_first(&l));
	assert_null(psb_list_take(&l));
	for (int i = 0; i < 3; i++) {
		assert_false(psb_list_node_active(&it[i].node));
		psb_list_append(&l, &it[i]);
		assert_true(psb_list_node_active(&it[i].node));
	}
	psb_list_prepend(&l, &it[3]);
	assert_int_equal(psb_list_count(&l), 4);
	assert_int_equal(values(&l, v, 8), 4);
	assert_int_equal(v[0], 4);
	assert_int_equal(v[1], 1);
	assert_int_equal(v[3], 3);
	assert_ptr_equal(psb_list_last(&l), &it[2]);
	assert_ptr_equal(psb_list_prev(&l, &it[0]), &it[3]);
	assert_null(psb_list_prev(&l, &it[3]));
	assert_null(psb_list_next(&l, &it[2]));
	// Remove from the middle, then pop in order.
	psb_list_remove(&l, &it[0]);
	assert_false(psb_list_node_active(&it[0].node));
	assert_ptr_equal(psb_list_take(&l), &it[3]);
	assert_ptr_equal(psb_list_take(&l), &it[1]);
	assert_ptr_equal(psb_list_take(&l), &it[2]);
	assert_true(psb_list_empty(&l));
	// An item can go on again once it is off.
	psb_list_append(&l, &it[0]);
	assert_ptr_equal(psb_list_first(&l), &it[0]);
}

static void
test_move_all(void **state)
{
	psb_list_t a, b;
	item_t     it[3] = {{1, {0}}, {2, {0}}, {3, {0}}};
	int        v[4];

	(void)state;
	PSB_LIST_INIT(&a, item_t, node);
	PSB_LIST_INIT(&b, item_t, node);
	psb_list_append(&a, &it[0]);
	psb_list_append(&b, &it[1]);
	psb_list_append(&b, &it[2]);
	psb_list_move_all(&a, &b);
	assert_true(psb_list_empty(&b));
	assert_int_equal(values(&a, v, 4), 3);
	assert_int_equal(v[0], 1);
	assert_int_equal(v[2], 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fifo_and_remove),
	        cmocka_unit_test(test_move_all),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}

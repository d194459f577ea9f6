//
// podsandboxd - the containerd backend's sandbox files: the text builders
// and the paths (runtime/containerd/files.h).
//

#include "tests/harness/testing.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/containerd/files.h"

static json_t *
cfg(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return (j);
}

static void
test_resolv_full(void **state)
{
	json_t *c = cfg("{\"dns_config\": {\"servers\": [\"10.0.0.10\", "
	                "\"fd00::a\"], \"searches\": [\"ns.svc.local\", "
	                "\"svc.local\"], \"options\": [\"ndots:5\", "
	                "\"edns0\"]}}");
	char   *t = ctrd_files_resolv_text(c);

	(void)state;
	assert_string_equal(t, "search ns.svc.local svc.local\n"
	                       "nameserver 10.0.0.10\n"
	                       "nameserver fd00::a\n"
	                       "options ndots:5 edns0\n");
	free(t);
	json_decref(c);
}

static void
test_resolv_partial(void **state)
{
	json_t *c = cfg("{\"dns_config\": {\"servers\": [\"1.1.1.1\"], "
	                "\"searches\": []}}");
	char   *t = ctrd_files_resolv_text(c);

	(void)state;
	assert_string_equal(t, "nameserver 1.1.1.1\n");
	free(t);
	json_decref(c);
	c = cfg("{\"dns_config\": {\"options\": [\"ndots:2\"]}}");
	t = ctrd_files_resolv_text(c);
	assert_string_equal(t, "options ndots:2\n");
	free(t);
	json_decref(c);
}

// Nothing to write: the caller copies the host's resolv.conf.
static void
test_resolv_empty(void **state)
{
	json_t *c = cfg("{\"dns_config\": {\"servers\": [], \"searches\": "
	                "[], \"options\": []}}");
	char   *t = ctrd_files_resolv_text(c);

	(void)state;
	assert_string_equal(t, "");
	free(t);
	json_decref(c);
	t = ctrd_files_resolv_text(NULL);
	assert_string_equal(t, "");
	free(t);
}

static void
test_hostname(void **state)
{
	json_t *c = cfg("{\"hostname\": \"web-0\"}");
	char   *t = ctrd_files_hostname_text(c, "node1");

	(void)state;
	assert_string_equal(t, "web-0\n");
	free(t);
	json_decref(c);
	c = cfg("{\"hostname\": \"\"}");
	t = ctrd_files_hostname_text(c, "node1");
	assert_string_equal(t, "node1\n");
	free(t);
	json_decref(c);
	t = ctrd_files_hostname_text(NULL, "node1");
	assert_string_equal(t, "node1\n");
	free(t);
}

static void
test_ipc_node(void **state)
{
	const char *node[] = {
	        "{\"linux\": {\"security_context\": {\"namespace_options\": "
	        "{\"ipc\": 2}}}}",
	        "{\"linux\": {\"security_context\": {\"namespace_options\": "
	        "{\"ipc\": \"NODE\"}}}}",
	};
	const char *pod[] = {
	        "{}",
	        "{\"linux\": {\"security_context\": {\"namespace_options\": "
	        "{\"ipc\": 0, \"network\": 2}}}}",
	        "{\"linux\": {\"security_context\": {\"namespace_options\": "
	        "{\"ipc\": \"POD\"}}}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(node) / sizeof(node[0]); i++) {
		json_t *c = cfg(node[i]);

		assert_true(ctrd_files_ipc_node(c));
		json_decref(c);
	}
	for (size_t i = 0; i < sizeof(pod) / sizeof(pod[0]); i++) {
		json_t *c = cfg(pod[i]);

		assert_false(ctrd_files_ipc_node(c));
		json_decref(c);
	}
	assert_false(ctrd_files_ipc_node(NULL));
}

static void
test_paths(void **state)
{
	ctrd_files_t f = {0};
	json_t      *j;
	char        *s;

	(void)state;
	ctrd_files_paths(&f, "/r", "/s", "sb1");
	assert_string_equal(f.root, "/r/sb1");
	assert_string_equal(f.state, "/s/sb1");
	assert_string_equal(f.hostname, "/r/sb1/hostname");
	assert_string_equal(f.hosts, "/r/sb1/hosts");
	assert_string_equal(f.resolv_conf, "/r/sb1/resolv.conf");
	assert_string_equal(f.shm, "/s/sb1/shm");
	j = ctrd_files_json(&f);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s,
	        "{\"hostname\":\"/r/sb1/hostname\",\"hosts\":\"/r/sb1/hosts\","
	        "\"resolvConf\":\"/r/sb1/resolv.conf\",\"root\":\"/r/sb1\","
	        "\"shm\":\"/s/sb1/shm\",\"state\":\"/s/sb1\"}");
	free(s);
	json_decref(j);
	ctrd_files_release(&f);
}

// A teardown takes the recorded directories, and derives shm from them
// even when the record names the host's /dev/shm (IPC NODE).
static void
test_recorded(void **state)
{
	ctrd_files_t f = {0};

	(void)state;
	ctrd_files_paths(&f, "/r", "/s", "sb1");
	assert_false(ctrd_files_recorded(&f, NULL));
	assert_false(ctrd_files_recorded(&f, "{\"image\": \"x\"}"));
	assert_false(ctrd_files_recorded(&f, "not json"));
	assert_string_equal(f.root, "/r/sb1");
	assert_true(ctrd_files_recorded(&f,
	        "{\"sandboxFiles\": {\"root\": \"/old/sb1\", \"state\": "
	        "\"/olds/sb1\", \"shm\": \"/dev/shm\"}}"));
	assert_string_equal(f.root, "/old/sb1");
	assert_string_equal(f.resolv_conf, "/old/sb1/resolv.conf");
	assert_string_equal(f.shm, "/olds/sb1/shm");
	ctrd_files_release(&f);
	ctrd_files_release(&f); // released twice: harmless
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_resolv_full),
	        cmocka_unit_test(test_resolv_partial),
	        cmocka_unit_test(test_resolv_empty),
	        cmocka_unit_test(test_hostname),
	        cmocka_unit_test(test_ipc_node),
	        cmocka_unit_test(test_paths),
	        cmocka_unit_test(test_recorded),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}

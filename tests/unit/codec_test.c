//
// podsandboxd - unit tests of transport/codec and transport/config_json:
// requests encoded here with protobuf-c, as any client would, decoded and
// checked; replies encoded by the codec and unpacked here.
//

#include "tests/harness/testing.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "podsandbox.pb-c.h"
#include "transport/codec.h"
#include "transport/config_json.h"
#include "transport/podconfig.h"

// Shorter spellings of generated names.
#define INIT(t) PODSANDBOX__V1__##t##__INIT
#define REQ(c)  PODSANDBOX__V1__REQUEST__METHOD_##c
#define RES(c)  PODSANDBOX__V1__RESPONSE__RESULT_##c
#define CODE(c) PODSANDBOX__V1__CODE__##c

// A crictl pod config using every field the schema carries.
static const char crictl_example[] =
        "{'metadata':{'name':'nginx-sandbox',"
        "'uid':'hdishd83djaidwnduwk28bcsb','namespace':'default',"
        "'attempt':1},'hostname':'nginx','log_directory':'/tmp/logs',"
        "'dns_config':{'servers':['8.8.8.8','::1'],"
        "'searches':['svc.cluster.local'],'options':['ndots:5']},"
        "'port_mappings':[{'protocol':'UDP','container_port':53,"
        "'host_port':5353,'host_ip':'127.0.0.1'},{'container_port':80}],"
        "'labels':{'tier':'web','app':'nginx'},'annotations':{'note':'x'},"
        "'linux':{'cgroup_parent':'pods.slice',"
        "'security_context':{'namespace_options':{'network':'NODE',"
        "'pid':'CONTAINER','ipc':'TARGET','target_id':'c1'},"
        "'selinux_options':{'user':'system_u','role':'system_r',"
        "'type':'spc_t','level':'s0:c1,c2'},'run_as_user':{'value':0},"
        "'readonly_rootfs':true,'supplemental_groups':[5,0,65534],"
        "'privileged':true,'seccomp_profile_path':'runtime/default',"
        "'run_as_group':{'value':1000},'seccomp':{'profile_type':'Localhost',"
        "'localhost_ref':'p.json'},'apparmor':{'profile_type':'Unconfined'}},"
        "'sysctls':{'net.ipv4.ip_forward':'1'},"
        "'resources':{'cpu_period':100000,'cpu_quota':50000,'cpu_shares':512,"
        "'memory_limit_in_bytes':268435456}}}";

// The smallest config CRI accepts, for tests that add one field.
#define MD "'metadata':{'name':'n','namespace':'ns','uid':'u'}"

// ---- helpers ----

typedef Podsandbox__V1__Request                         pb_req_t;
typedef Podsandbox__V1__Response                        pb_resp_t;
typedef Podsandbox__V1__PodSandboxConfig                pb_config_t;
typedef Podsandbox__V1__ListRequest__LabelSelectorEntry pb_sel_t;

// json_of parses test JSON written with ' for " (no apostrophes in the
// data), which keeps the literals readable.
static json_t *
json_of(const char *text)
{
	char   *t = strdup(text);
	json_t *j;

	assert_non_null(t);
	for (char *c = t; *c != '\0'; c++) {
		*c = *c == '\'' ? '"' : *c;
	}
	j = json_loads(t, 0, NULL);
	free(t);
	return (j);
}

static pb_config_t *
config_of(const char *text, char **errmsg)
{
	json_t      *j = json_of(text);
	pb_config_t *c;

	if (j == NULL) {
		fail_msg("test JSON does not parse: %s", text);
	}
	c = psb_pbjson_config_from_json(j, errmsg);
	json_decref(j);
	return (c);
}

static void
assert_names(const char *msg, const char *needle)
{
	if (msg == NULL || strstr(msg, needle) == NULL) {
		fail_msg("message \"%s\" does not name \"%s\"", msg, needle);
	}
}

// dump_of renders c with psb_pbjson_config_to_json as compact text.
static char *
dump_of(const pb_config_t *c)
{
	json_t *j = psb_pbjson_config_to_json(c);
	char   *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	assert_non_null(s);
	return (s);
}

static uint8_t *
pack_req(const pb_req_t *r, size_t *len)
{
	uint8_t *buf;

	*len = podsandbox__v1__request__get_packed_size(r);
	buf  = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(podsandbox__v1__request__pack(r, buf), *len);
	return (buf);
}

// The holder of the last successful decode, freed by the next one (and
// by decode_done), so each check is one line.
static psb_codec_request_t *last_holder;

static void
decode_done(void)
{
	psb_codec_request_free(last_holder);
	last_holder = NULL;
}

static void
decode_ok(const pb_req_t *r, psb_request_t *req)
{
	psb_error_t err = PSB_ERROR_INIT;
	size_t      len;
	uint8_t    *buf = pack_req(r, &len);

	decode_done();
	if (psb_codec_decode_request(buf, len, req, &last_holder, &err) != 0) {
		fail_msg("decode failed: %s", psb_error_message(&err));
	}
	assert_non_null(last_holder);
	free(buf);
}

static void
expect_bytes_einval(const void *buf, size_t len, const char *needle)
{
	psb_codec_request_t *h = NULL;
	psb_request_t        req;
	psb_error_t          err = PSB_ERROR_INIT;

	assert_int_equal(psb_codec_decode_request(buf, len, &req, &h, &err),
	        PSB_EINVAL);
	assert_null(h);
	assert_int_equal(err.code, PSB_EINVAL);
	assert_names(err.msg, needle);
	psb_error_release(&err);
}

static void
expect_einval(const pb_req_t *r, const char *needle)
{
	size_t   len;
	uint8_t *buf = pack_req(r, &len);

	expect_bytes_einval(buf, len, needle);
	free(buf);
}

// with_create runs fn on a Create request for config (JSON; NULL = no
// config) with the given id and runtime handler.
static void
with_create(const char *config, const char *id, const char *handler,
        void (*fn)(const pb_req_t *r, const void *arg), const void *arg)
{
	pb_req_t                      r      = INIT(REQUEST);
	Podsandbox__V1__CreateRequest cr     = INIT(CREATE_REQUEST);
	pb_config_t                  *c      = NULL;
	char                         *errmsg = NULL;

	if (config != NULL && (c = config_of(config, &errmsg)) == NULL) {
		fail_msg("fixture config: %s", errmsg);
	}
	cr.sandbox_id      = (char *)id;
	cr.runtime_handler = (char *)handler;
	cr.config          = c;
	r.method_case      = REQ(CREATE);
	r.create           = &cr;
	fn(&r, arg);
	psb_pbjson_config_free(c);
}

static void
einval_cb(const pb_req_t *r, const void *needle)
{
	expect_einval(r, needle);
}

static void
expect_create_einval(const char *config, const char *needle)
{
	with_create(config, "sb-1", "runc", einval_cb, needle);
}

// ---- decode: every method ----

// sub_req points r at a fresh submessage for method case mc (static
// storage, initialised from its descriptor) with sandbox_id = id if the
// method has one, and returns the submessage.
static void *
sub_req(pb_req_t *r, int mc, const char *id)
{
	static union {
		char        bytes[256];
		max_align_t align;
	} store;
	const ProtobufCFieldDescriptor *fd =
	        protobuf_c_message_descriptor_get_field(
	                &podsandbox__v1__request__descriptor, (unsigned)mc);
	const ProtobufCMessageDescriptor *d = fd->descriptor;
	ProtobufCMessage                 *m = (ProtobufCMessage *)&store;

	assert_true(d->sizeof_message <= sizeof(store));
	d->message_init(m);
	fd = protobuf_c_message_descriptor_get_field_by_name(d, "sandbox_id");
	if (fd != NULL && id != NULL) {
		*(const char **)((char *)m + fd->offset) = id;
	}
	r->method_case = (Podsandbox__V1__Request__MethodCase)mc;
	r->create      = (void *)m; // every member of the oneof is a pointer
	return (m);
}

static void
test_decode_methods(void **state)
{
	static const struct {
		int          mc;
		psb_method_t m;
		const char  *id;
	} cases[] = {
	        {REQ(START), PSB_M_START, "a.b-c_d9"},
	        {REQ(PLATFORM), PSB_M_PLATFORM, NULL}, // id ignored
	        {REQ(PLATFORM), PSB_M_PLATFORM, "p1"},
	        {REQ(STOP), PSB_M_STOP, "s1"},
	        {REQ(WAIT), PSB_M_WAIT, "w1"},
	        {REQ(STATUS), PSB_M_STATUS, "st1"},
	        {REQ(SHUTDOWN), PSB_M_SHUTDOWN, "sh1"},
	        {REQ(HISTORY), PSB_M_HISTORY, "h1"},
	        {REQ(LIST), PSB_M_LIST, NULL},
	        {REQ(EVENTS), PSB_M_EVENTS, NULL},
	        {REQ(VERSION), PSB_M_VERSION, NULL},
	};
	pb_req_t                       r = INIT(REQUEST);
	psb_request_t                  req;
	Podsandbox__V1__StopRequest   *stop;
	Podsandbox__V1__WaitRequest   *wait;
	Podsandbox__V1__StatusRequest *st;
	pb_sel_t  e1    = INIT(LIST_REQUEST__LABEL_SELECTOR_ENTRY);
	pb_sel_t  e2    = INIT(LIST_REQUEST__LABEL_SELECTOR_ENTRY);
	pb_sel_t *sel[] = {&e1, &e2};
	Podsandbox__V1__ListRequest   *lr;
	Podsandbox__V1__EventsRequest *ev;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sub_req(&r, cases[i].mc, cases[i].id);
		decode_ok(&r, &req);
		assert_int_equal(req.method, cases[i].m);
		if (cases[i].id != NULL) {
			assert_string_equal(req.sandbox_id, cases[i].id);
		} else {
			assert_null(req.sandbox_id);
		}
		assert_null(req.config);
		assert_false(req.verbose);
	}
	stop               = sub_req(&r, REQ(STOP), "s1");
	stop->timeout_secs = 5;
	decode_ok(&r, &req);
	assert_int_equal(req.timeout_ms, 5000);
	stop->timeout_secs = UINT32_MAX; // capped, not wrapped
	decode_ok(&r, &req);
	assert_int_equal(req.timeout_ms, UINT32_MAX);
	wait             = sub_req(&r, REQ(WAIT), "w1");
	wait->timeout_ms = 1234;
	decode_ok(&r, &req);
	assert_int_equal(req.timeout_ms, 1234);
	st          = sub_req(&r, REQ(STATUS), "st1");
	st->verbose = 1;
	decode_ok(&r, &req);
	assert_true(req.verbose);
	lr                   = sub_req(&r, REQ(LIST), NULL);
	lr->state            = "READY";
	e1.key               = "tier";
	e1.value             = "web";
	e2.key               = "app";
	e2.value             = "shop";
	lr->label_selector   = sel;
	lr->n_label_selector = 2;
	decode_ok(&r, &req);
	assert_string_equal(req.state_filter, "READY");
	assert_string_equal(
	        req.label_selector, "{\"app\":\"shop\",\"tier\":\"web\"}");

	ev        = sub_req(&r, REQ(EVENTS), NULL);
	ev->since = 7;
	decode_ok(&r, &req);
	assert_int_equal(req.since, 7);
	assert_int_equal(req.limit, PSB_EVENTS_MAX); // 0 = the maximum
	ev->limit = 5;
	decode_ok(&r, &req);
	assert_int_equal(req.limit, 5);
	ev->limit = PSB_EVENTS_MAX + 1; // clamped; the reply says "more"
	decode_ok(&r, &req);
	assert_int_equal(req.limit, PSB_EVENTS_MAX);
	decode_done();
}

// create_ok_cb decodes r and checks that the config was re-encoded to
// exactly what protobuf-c packs for it in canonical form (maps sorted).
static void
create_ok_cb(const pb_req_t *r, const void *arg)
{
	psb_request_t         *req = (psb_request_t *)arg;
	pb_config_t           *c   = r->create->config;
	psb_podconfig_counts_t counts;
	size_t                 len;
	uint8_t               *buf;

	psb_podconfig_canonicalize(c, &counts);
	len = podsandbox__v1__pod_sandbox_config__get_packed_size(c);
	buf = malloc(len + 1);
	assert_non_null(buf);
	podsandbox__v1__pod_sandbox_config__pack(c, buf);
	psb_podconfig_restore(c, &counts);
	decode_ok(r, req);
	assert_int_equal(req->config_len, len);
	assert_memory_equal(req->config, buf, len);
	free(buf);
}

// Create: the config is re-encoded and decodes to the same values; the
// labels become sorted JSON; the handler passes through.
static void
test_decode_create(void **state)
{
	psb_request_t req = {0};

	with_create(crictl_example, "sb-1", "runc", create_ok_cb, &req);
	assert_int_equal(req.method, PSB_M_CREATE);
	assert_string_equal(req.sandbox_id, "sb-1");
	assert_string_equal(req.runtime_handler, "runc");
	assert_string_equal(
	        req.labels, "{\"app\":\"nginx\",\"tier\":\"web\"}");
	// The config as crictl JSON, rendered once here for core and the
	// runtime: the same as psb_codec_config_json of the stored bytes.
	{
		char *again =
		        psb_codec_config_json(req.config, req.config_len);

		assert_non_null(req.config_json);
		assert_non_null(again);
		assert_string_equal(req.config_json, again);
		assert_non_null(
		        strstr(req.config_json, "\"metadata\":{\"attempt\":1,"
		                                "\"name\":\"nginx-sandbox\""));
		free(again);
	}
	// No labels: still a JSON object; no handler: NULL (the default).
	with_create("{" MD "}", "sb-2", "", create_ok_cb, &req);
	assert_string_equal(req.labels, "{}");
	assert_null(req.runtime_handler);
	decode_done();
}

// ---- decode: every validation error names its field ----

static void
test_decode_bad_bytes(void **state)
{
	static const uint8_t garbage[]   = {0xff, 0xff, 0xff, 0xff, 0x0f};
	static const uint8_t unknown[]   = {0xf8, 0x06, 0x01}; // field 99
	pb_req_t             r           = INIT(REQUEST);
	Podsandbox__V1__CreateRequest cr = INIT(CREATE_REQUEST);
	pb_config_t                  *c  = config_of(crictl_example, NULL);
	size_t                        len;
	uint8_t                      *buf;

	expect_bytes_einval(garbage, sizeof(garbage), "malformed request");
	expect_bytes_einval("", 0, "request has no method");
	expect_bytes_einval(NULL, 3, "malformed request");
	expect_bytes_einval(unknown, sizeof(unknown), "request has no method");
	cr.sandbox_id = "sb";
	cr.config     = c;
	r.method_case = REQ(CREATE);
	r.create      = &cr;
	buf           = pack_req(&r, &len);
	for (size_t cut = 1; cut < len; cut += 7) {
		expect_bytes_einval(buf, cut, "malformed request");
	}
	free(buf);
	psb_pbjson_config_free(c);
}

static void
test_decode_bad_ids(void **state)
{
	static const char *const bad[] = {
	        "-a", "a-", "a..b", "a/b", "a b", "a\nb", "../x", "é"};
	pb_req_t                      r = INIT(REQUEST);
	Podsandbox__V1__StartRequest *s = sub_req(&r, REQ(START), NULL);
	char                          longid[PSB_ID_MAX + 2];
	psb_request_t                 req;

	expect_einval(&r, "start.sandbox_id: required");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s->sandbox_id = (char *)bad[i];
		expect_einval(&r, "start.sandbox_id: \"");
	}
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	s->sandbox_id              = longid;
	expect_einval(&r, "start.sandbox_id: \"aaa");
	expect_einval(&r, "too long (77 characters, at most 76)");
	longid[PSB_ID_MAX] = '\0'; // exactly the limit is fine
	decode_ok(&r, &req);
	decode_done();
	sub_req(&r, REQ(HISTORY), NULL);
	expect_einval(&r, "history.sandbox_id: required");
	with_create(
	        "{" MD "}", "", "", einval_cb, "create.sandbox_id: required");
	with_create(
	        "{" MD "}", "a_", "", einval_cb, "create.sandbox_id: \"a_\"");
}

static void
test_decode_bad_config(void **state)
{
	with_create(NULL, "sb", "", einval_cb, "create.config: required");
	expect_create_einval("{}", "create.config.metadata: required");
	expect_create_einval("{'metadata':{'namespace':'a','uid':'b'}}",
	        "create.config.metadata.name: required");
	expect_create_einval("{'metadata':{'name':'a','uid':'b'}}",
	        "create.config.metadata.namespace: required");
	expect_create_einval("{'metadata':{'name':'a','namespace':'b'}}",
	        "create.config.metadata.uid: required");
	expect_create_einval("{" MD ",'port_mappings':[{},{'container_port':"
	                     "70000}]}",
	        "create.config.port_mappings[1].container_port: 70000 is out "
	        "of range");
	expect_create_einval("{" MD ",'port_mappings':[{'host_port':-1}]}",
	        "create.config.port_mappings[0].host_port: -1");
	expect_create_einval("{" MD ",'port_mappings':[{'host_ip':"
	                     "'300.1.1.1'}]}",
	        "create.config.port_mappings[0].host_ip: \"300.1.1.1\" is "
	        "not");
	expect_create_einval("{" MD ",'dns_config':{'servers':['1.1.1.1',"
	                     "'dns.example']}}",
	        "create.config.dns_config.servers[1]: \"dns.example\"");
	expect_create_einval("{" MD ",'labels':{'':'x'}}",
	        "create.config.labels: empty key");
	expect_create_einval("{" MD ",'annotations':{'':'x'}}",
	        "create.config.annotations: empty key");
	expect_create_einval("{" MD ",'linux':{'sysctls':{'':'1'}}}",
	        "create.config.linux.sysctls: empty key");
}

// Values config_json cannot produce, put into an unpacked config.
static void
wire_only_cb(const pb_req_t *r, const void *arg)
{
	pb_config_t *c        = r->create->config;
	char         bad[]    = {'h', (char)0xc3, 'x', 0};
	char         suro[]   = "\xed\xa0\x80";
	char        *hostname = c->hostname;
	char        *value    = c->labels[1]->value;

	c->port_mappings[0]->protocol = 9; // an unknown enum number
	expect_einval(r, "create.config.port_mappings[0].protocol: unknown "
	                 "value 9");
	c->port_mappings[0]->protocol = 0;
	c->hostname                   = bad;
	expect_einval(r, "create.config.hostname: not valid UTF-8");
	c->hostname = suro; // a UTF-16 surrogate is not UTF-8 either
	expect_einval(r, "create.config.hostname: not valid UTF-8");
	c->hostname         = hostname;
	c->labels[1]->value = bad;
	expect_einval(r, "create.config.labels[1].value: not valid UTF-8");
	c->labels[1]->value = value;
}

static void
test_decode_limits(void **state)
{
	pb_req_t                     r = INIT(REQUEST);
	Podsandbox__V1__ListRequest *lr;
	pb_sel_t  e     = INIT(LIST_REQUEST__LABEL_SELECTOR_ENTRY);
	pb_sel_t *sel[] = {&e};
	char      handler[66];
	size_t    bigsz = 600 * 1024, n;
	char     *big   = malloc(bigsz + 128);

	with_create(crictl_example, "sb", "", wire_only_cb, NULL);
	with_create("{" MD "}", "sb", "run c", einval_cb,
	        "create.runtime_handler: \"run c\" has a character");
	with_create("{" MD "}", "sb", "runc;rm", einval_cb,
	        "create.runtime_handler");
	memset(handler, 'r', sizeof(handler) - 1);
	handler[sizeof(handler) - 1] = '\0';
	with_create("{" MD "}", "sb", handler, einval_cb,
	        "create.runtime_handler: 65 characters, at most 64");

	assert_non_null(big);
	n = (size_t)snprintf(big, 128, "{" MD ",\"annotations\":{\"a\":\"");
	memset(big + n, 'x', bigsz);
	memcpy(big + n + bigsz, "\"}}", 4);
	expect_create_einval(big, "create.config: ");
	free(big);

	lr        = sub_req(&r, REQ(LIST), NULL);
	lr->state = "RUNNING";
	expect_einval(&r, "list.state: unknown state \"RUNNING\"");
	lr->state            = "";
	lr->label_selector   = sel;
	lr->n_label_selector = 1;
	expect_einval(&r, "list.label_selector: empty key");
}

// The rules of docs/api.md "Pod config rules" that are not about types.
static void
test_decode_config_rules(void **state)
{
	static const char *const bad_sysctls[] = {"net/../../x",
	        "kernel.shm max", "net..ipv4", ".net", "net.", "Net.ipv4",
	        "net.ipv4.-x", "a*b"};
	char                     big[400];

	for (size_t i = 0; i < PSB_NELEM(bad_sysctls); i++) {
		snprintf(big, sizeof(big),
		        "{" MD ",'linux':{'sysctls':{'%s':'1'}}}",
		        bad_sysctls[i]);
		expect_create_einval(big, "create.config.linux.sysctls: \"");
	}
	expect_create_einval("{" MD ",'linux':{'resources':{"
	                     "'memory_limit_in_bytes':-1}}}",
	        "create.config.linux.resources.memory_limit_in_bytes: -1 is "
	        "negative");
	expect_create_einval("{" MD
	                     ",'linux':{'resources':{'cpu_shares':-2}}}",
	        "create.config.linux.resources.cpu_shares: -2 is out of "
	        "range");
	expect_create_einval("{" MD
	                     ",'linux':{'resources':{'cpu_shares':262145}}}",
	        "cpu_shares: 262145");
	expect_create_einval("{" MD
	                     ",'linux':{'resources':{'cpu_period':10}}}",
	        "create.config.linux.resources.cpu_period: 10 is out of "
	        "range");
	expect_create_einval("{" MD ",'linux':{'resources':{'cpu_quota':-2}}}",
	        "create.config.linux.resources.cpu_quota: -2");
	expect_create_einval("{" MD ",'linux':{'security_context':{"
	                     "'run_as_user':{'value':-1}}}}",
	        "create.config.linux.security_context.run_as_user: -1 is out "
	        "of range (0-4294967294)");
	expect_create_einval("{" MD ",'linux':{'security_context':{"
	                     "'run_as_group':{'value':4294967295}}}}",
	        "security_context.run_as_group: 4294967295");
	expect_create_einval("{" MD ",'linux':{'security_context':{"
	                     "'supplemental_groups':[1,-5]}}}",
	        "create.config.linux.security_context.supplemental_groups[1]: "
	        "-5 is out of range");
	memset(big, 'h', 300);
	memcpy(big, "{" MD ",'hostname':'", strlen("{" MD ",'hostname':'"));
	memcpy(big + 300, "'}", 3);
	expect_create_einval(big, "create.config.hostname: 2");
	expect_create_einval("{" MD ",'hostname':'web_1'}",
	        "create.config.hostname: \"web_1\" is not a host name");
	expect_create_einval(
	        "{" MD ",'hostname':'-web'}", "hostname: \"-web\"");
	expect_create_einval(
	        "{" MD ",'hostname':'a..b'}", "hostname: \"a..b\"");
	expect_create_einval("{" MD ",'log_directory':'relative/logs'}",
	        "create.config.log_directory: \"relative/logs\" is not an "
	        "absolute path");
	expect_create_einval("{" MD ",'log_directory':'/var/log/../../etc'}",
	        "create.config.log_directory: \"/var/log/../../etc\" has a "
	        "\"..\" component");
	expect_create_einval("{" MD ",'linux':{'cgroup_parent':'/a/../..'}}",
	        "create.config.linux.cgroup_parent: \"/a/../..\" has a");
	expect_create_einval("{" MD ",'linux':{'security_context':{'seccomp':{"
	                     "'profile_type':'Localhost','localhost_ref':"
	                     "'/etc/../x.json'}}}}",
	        "security_context.seccomp.localhost_ref: \"/etc/../x.json\"");
	expect_create_einval("{" MD ",'linux':{'security_context':{"
	                     "'seccomp_profile_path':'localhost/../x'}}}",
	        "security_context.seccomp_profile_path");
	// What the rules allow.
	with_create(
	        "{" MD ",'hostname':'Web-1.example','log_directory':"
	        "'/var/log/pods/x..y','linux':{'cgroup_parent':"
	        "'kubepods.slice','sysctls':{'net.ipv4.ip_forward':'1',"
	        "'net.ipv4.conf.eth0/100.forwarding':'0',"
	        "'kernel.shm_rmid_forced':'1'},'resources':{'cpu_quota':-1,"
	        "'cpu_period':100000,'cpu_shares':2,"
	        "'memory_limit_in_bytes':0},'security_context':{"
	        "'run_as_user':{'value':4294967294},"
	        "'supplemental_groups':[0]}}}",
	        "sb", "", create_ok_cb, &(psb_request_t) {0});
	decode_done();
}

// patch_nul packs r, then turns the first 'X' that follows marker (a
// unique string in the message) into a NUL byte: protobuf-c cannot pack
// a string with one, any other client can.
static uint8_t *
patch_nul(const pb_req_t *r, const char *marker, size_t *len)
{
	uint8_t *buf = pack_req(r, len);
	size_t   m   = strlen(marker);

	for (size_t i = 0; i + m <= *len; i++) {
		if (memcmp(buf + i, marker, m) == 0) {
			uint8_t *x = memchr(buf + i, 'X', m);

			assert_non_null(x);
			*x = 0;
			return (buf);
		}
	}
	fail_msg("marker %s not in the message", marker);
	return (NULL);
}

static void
nul_cb(const pb_req_t *r, const void *arg)
{
	const char *const *cs = arg; // {marker, expected message}
	size_t             len;
	uint8_t           *buf = patch_nul(r, cs[0], &len);

	expect_bytes_einval(buf, len, cs[1]);
	free(buf);
}

// A NUL inside any string field is refused, naming the field: protobuf-c
// would cut the string there ("acc-victim\0x" would act on acc-victim).
static void
test_decode_nul(void **state)
{
	static const struct {
		int         mc;
		const char *prefix;
	} methods[] = {
	        {REQ(START), "start"},
	        {REQ(STOP), "stop"},
	        {REQ(WAIT), "wait"},
	        {REQ(STATUS), "status"},
	        {REQ(SHUTDOWN), "shutdown"},
	        {REQ(HISTORY), "history"},
	        {REQ(PLATFORM), "platform"},
	};
	pb_req_t r = INIT(REQUEST);
	char     want[80];
	size_t   len;
	uint8_t *buf;

	for (size_t i = 0; i < PSB_NELEM(methods); i++) {
		sub_req(&r, methods[i].mc, "acc-victimXx");
		buf = patch_nul(&r, "acc-victimXx", &len);
		snprintf(want, sizeof(want),
		        "%s.sandbox_id: contains a NUL byte",
		        methods[i].prefix);
		expect_bytes_einval(buf, len, want);
		free(buf);
	}
	with_create("{" MD "}", "acc-victimXx", "", nul_cb,
	        (const char *[]) {
	                "acc-victimXx", "create.sandbox_id: contains a NUL"});
	with_create("{" MD "}", "sb", "runcXx", nul_cb,
	        (const char *[]) {
	                "runcXx", "create.runtime_handler: contains"});
	with_create("{'metadata':{'name':'nXme','namespace':'ns','uid':'u'}}",
	        "sb", "", nul_cb,
	        (const char *[]) {"nXme",
	                "create.config.metadata.name: contains a NUL"});
	with_create("{" MD ",'labels':{'a':'1','app':'ngXinx'}}", "sb", "",
	        nul_cb,
	        (const char *[]) {"ngXinx",
	                "create.config.labels[1].value: contains a NUL byte"});
	with_create("{" MD ",'annotations':{'kXy':'v'}}", "sb", "", nul_cb,
	        (const char *[]) {
	                "kXy", "create.config.annotations[0].key: contains"});
	with_create("{" MD ",'dns_config':{'searches':['a','bXc']}}", "sb", "",
	        nul_cb,
	        (const char *[]) {"bXc",
	                "create.config.dns_config.searches[1]: contains"});
	with_create("{" MD ",'linux':{'cgroup_parent':'/pXds'}}", "sb", "",
	        nul_cb,
	        (const char *[]) {"/pXds",
	                "create.config.linux.cgroup_parent: contains"});
	with_create("{" MD ",'log_directory':'/logsX'}", "sb", "", nul_cb,
	        (const char *[]) {
	                "/logsX", "create.config.log_directory: contains"});
}

// ---- decode: netns_path ----

// netns_einval_cb sets the Create's netns_path to arg[0] and expects
// INVALID_ARGUMENT naming arg[1].
static void
netns_einval_cb(const pb_req_t *r, const void *arg)
{
	const char *const *cs = arg; // {netns_path, expected message}

	r->create->netns_path = (char *)cs[0];
	expect_einval(r, cs[1]);
}

// netns_ok_cb decodes with netns_path arg (the config as create_ok_cb).
static psb_request_t netns_req;

static void
netns_ok_cb(const pb_req_t *r, const void *arg)
{
	r->create->netns_path = (char *)arg;
	create_ok_cb(r, &netns_req);
}

static void
netns_nul_cb(const pb_req_t *r, const void *arg)
{
	r->create->netns_path = "/run/netns/Xx";
	nul_cb(r, arg);
}

// A netns the caller made: an absolute path without "..", at most 4095
// bytes, for network POD pods only; empty is none (NULL).
static void
test_decode_netns(void **state)
{
	static const char pod_net[] =
	        "{" MD ",'linux':{'security_context':{'namespace_options':"
	        "{'network':'POD','pid':'CONTAINER'}}}}";
	static const char node_net[] =
	        "{" MD ",'linux':{'security_context':{'namespace_options':"
	        "{'network':'NODE'}}}}";
	static const char *const dotdot[] = {"/run/netns/../x",
	        "/run/netns/..", "/..", "/../run/netns/x", "/a/../../b"};
	char                     q[160];
	char                    *longp = malloc(4097);

	// Set, with a config that names network POD, or none (POD).
	with_create(pod_net, "sb", "", netns_ok_cb, "/var/run/netns/cni-1");
	assert_string_equal(netns_req.netns_path, "/var/run/netns/cni-1");
	with_create("{" MD "}", "sb", "runc", netns_ok_cb, "/run/netns/a..b");
	assert_string_equal(netns_req.netns_path, "/run/netns/a..b");
	assert_string_equal(netns_req.runtime_handler, "runc");
	with_create(
	        "{" MD "}", "sb", "", netns_ok_cb, "/run/netns/..x/.../x..");
	assert_string_equal(netns_req.netns_path, "/run/netns/..x/.../x..");
	// Empty is none; so is a NODE pod without one.
	with_create(pod_net, "sb", "", netns_ok_cb, "");
	assert_null(netns_req.netns_path);
	with_create(node_net, "sb", "", netns_ok_cb, "");
	assert_null(netns_req.netns_path);
	decode_done();

	with_create("{" MD "}", "sb", "", netns_einval_cb,
	        (const char *[]) {"run/netns/x",
	                "create.netns_path: \"run/netns/x\" is not an "
	                "absolute path"});
	with_create("{" MD "}", "sb", "", netns_einval_cb,
	        (const char *[]) {
	                "netns-1", "create.netns_path: \"netns-1\""});
	for (size_t i = 0; i < PSB_NELEM(dotdot); i++) {
		snprintf(q, sizeof(q),
		        "create.netns_path: \"%s\" has a \"..\" component",
		        dotdot[i]);
		with_create("{" MD "}", "sb", "", netns_einval_cb,
		        (const char *[]) {dotdot[i], q});
	}
	// At most 4095 bytes.
	assert_non_null(longp);
	memset(longp, 'n', 4096);
	longp[0]    = '/';
	longp[4096] = '\0';
	with_create("{" MD "}", "sb", "", netns_einval_cb,
	        (const char *[]) {
	                longp, "create.netns_path: 4096 bytes, at most 4095"});
	longp[4095] = '\0';
	with_create("{" MD "}", "sb", "", netns_ok_cb, longp);
	assert_int_equal(strlen(netns_req.netns_path), 4095);
	decode_done();
	free(longp);
	// Only for a pod network the daemon would otherwise make.
	with_create(node_net, "sb", "", netns_einval_cb,
	        (const char *[]) {"/var/run/netns/cni-1",
	                "create.netns_path: netns_path is for network POD "
	                "pods"});
	with_create(crictl_example, "sb", "", netns_einval_cb,
	        (const char *[]) {"/var/run/netns/cni-1",
	                "netns_path is for network POD pods"});
	// The wire check covers it like every string field.
	with_create("{" MD "}", "sb", "", netns_nul_cb,
	        (const char *[]) {
	                "/run/netns/Xx", "create.netns_path: contains a NUL"});
}

// Field number 0 is refused in every encoding of its tag, at any depth:
// protobuf-c refuses it only in a one-byte tag.
static void
test_decode_field_zero(void **state)
{
	static const uint8_t overlong[] = {0x82, 0x00, 0x01, 'x'};
	static const uint8_t onebyte[]  = {0x02, 0x01, 'x'};
	static const uint8_t varint0[]  = {0x80, 0x80, 0x00, 0x05};
	pb_req_t             r          = INIT(REQUEST);
	psb_request_t        req;
	uint8_t              buf[64];
	size_t               len;
	uint8_t             *status;
	const uint8_t *const heads[] = {overlong, onebyte, varint0};
	const size_t         hlens[] = {
	                sizeof(overlong), sizeof(onebyte), sizeof(varint0)};

	sub_req(&r, REQ(STATUS), "sb-1");
	status = pack_req(&r, &len);
	assert_true(len + 8 <= sizeof(buf));
	for (size_t i = 0; i < PSB_NELEM(heads); i++) {
		memcpy(buf, heads[i], hlens[i]);
		memcpy(buf + hlens[i], status, len);
		expect_bytes_einval(buf, hlens[i] + len, "malformed");
		// and after the method, too
		memcpy(buf, status, len);
		memcpy(buf + len, heads[i], hlens[i]);
		expect_bytes_einval(buf, hlens[i] + len, "malformed");
	}
	// Inside the status submessage: 0a LEN [0a 04 "sb-1"] + overlong.
	memcpy(buf, status, len);
	memcpy(buf + len, overlong, sizeof(overlong));
	buf[1] = (uint8_t)(buf[1] + sizeof(overlong));
	expect_bytes_einval(buf, len + sizeof(overlong),
	        "status: malformed (field number 0)");
	decode_ok(&r, &req); // the same request without it is fine
	decode_done();
	free(status);
}

static void
canon_cb(const pb_req_t *r, const void *arg)
{
	psb_request_t req;
	uint8_t     **out = (uint8_t **)arg;

	decode_ok(r, &req);
	out[0] = malloc(req.config_len + 1);
	assert_non_null(out[0]);
	memcpy(out[0], req.config, req.config_len);
	out[1] = (uint8_t *)(uintptr_t)req.config_len;
	decode_done();
}

// canon returns the stored bytes of config (and their length in *len).
static uint8_t *
canon(const char *config, size_t *len)
{
	uint8_t *out[2] = {NULL, NULL};

	with_create(config, "sb", "", canon_cb, out);
	*len = (size_t)(uintptr_t)out[1];
	return (out[0]);
}

// The same config in another map order, or with a key repeated (the last
// one counts, as in proto3), is stored as the same bytes: Create's
// "same config" does not depend on a client's serializer.
static void
test_create_canonical_maps(void **state)
{
	static const char *const same[] = {
	        "{" MD ",'labels':{'c':'3','a':'1','b':'2'},'annotations':"
	        "{'y':'2','x':'1'},'linux':{'sysctls':{'net.b':'2',"
	        "'net.a':'1'}}}",
	        "{" MD ",'labels':{'b':'2','c':'3','a':'1'},'annotations':"
	        "{'x':'1','y':'2'},'linux':{'sysctls':{'net.a':'1',"
	        "'net.b':'2'}}}",
	};
	size_t       la, lb, lc;
	uint8_t     *a = canon(same[0], &la);
	uint8_t     *b = canon(same[1], &lb);
	uint8_t     *c = canon("{" MD ",'labels':{'a':'1','b':'2','c':'4'},"
	                           "'annotations':{'x':'1','y':'2'},'linux':{"
	                           "'sysctls':{'net.a':'1','net.b':'2'}}}",
	            &lc);
	pb_config_t *back;

	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	assert_true(la != lc || memcmp(a, c, la) != 0);
	back = podsandbox__v1__pod_sandbox_config__unpack(NULL, la, a);
	assert_non_null(back);
	assert_int_equal(back->n_labels, 3);
	assert_string_equal(back->labels[0]->key, "a");
	assert_string_equal(back->labels[2]->key, "c");
	podsandbox__v1__pod_sandbox_config__free_unpacked(back, NULL);
	free(a);
	free(b);
	free(c);
}

// A key sent twice: the last value is kept (and the first freed).
static void
dup_cb(const pb_req_t *r, const void *arg)
{
	pb_config_t                                  *cfg = r->create->config;
	Podsandbox__V1__PodSandboxConfig__LabelsEntry e1 =
	        INIT(POD_SANDBOX_CONFIG__LABELS_ENTRY);
	Podsandbox__V1__PodSandboxConfig__LabelsEntry e2 =
	        INIT(POD_SANDBOX_CONFIG__LABELS_ENTRY);
	Podsandbox__V1__PodSandboxConfig__LabelsEntry *v[] = {&e1, &e2};
	psb_request_t                                  req;
	pb_config_t                                   *back;

	(void)arg;
	e1.key        = "app";
	e1.value      = "first";
	e2.key        = "app";
	e2.value      = "last";
	cfg->labels   = v;
	cfg->n_labels = 2;
	decode_ok(r, &req);
	assert_string_equal(req.labels, "{\"app\":\"last\"}");
	back = podsandbox__v1__pod_sandbox_config__unpack(
	        NULL, req.config_len, req.config);
	assert_non_null(back);
	assert_int_equal(back->n_labels, 1);
	assert_string_equal(back->labels[0]->value, "last");
	podsandbox__v1__pod_sandbox_config__free_unpacked(back, NULL);
	decode_done();
	cfg->labels   = NULL;
	cfg->n_labels = 0;
}

static void
test_create_duplicate_key(void **state)
{
	with_create("{" MD "}", "sb", "", dup_cb, NULL);
}

// ---- encode ----

// The response of the last encode, freed by the next one (and by
// encode_done).
static pb_resp_t *last_resp;

static void
encode_done(void)
{
	if (last_resp != NULL) {
		podsandbox__v1__response__free_unpacked(last_resp, NULL);
	}
	last_resp = NULL;
}

// unpack_resp unpacks buf (freed) as a client would; the response is
// kept until the next encode or encode_done.
static pb_resp_t *
unpack_resp(void *buf, size_t len)
{
	encode_done();
	last_resp = podsandbox__v1__response__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(last_resp);
	assert_non_null(last_resp->status);
	return (last_resp);
}

// encode packs r with the codec.
static pb_resp_t *
encode(const psb_reply_t *r)
{
	void  *buf = NULL;
	size_t len = 0;

	assert_int_equal(psb_codec_encode_reply(r, &buf, &len), 0);
	return (unpack_resp(buf, len));
}

static psb_reply_t *
reply_init(psb_reply_t *r, psb_method_t m)
{
	memset(r, 0, sizeof(*r));
	r->method = m;
	return (r);
}

static void
test_encode_simple_replies(void **state)
{
	psb_reply_t r;
	pb_resp_t  *resp;
	void       *buf;
	size_t      len;

	resp = encode(reply_init(&r, PSB_M_CREATE));
	assert_int_equal(resp->status->code, CODE(OK));
	assert_int_equal(resp->result_case, RES(CREATE));
	resp = encode(reply_init(&r, PSB_M_STOP));
	assert_int_equal(resp->result_case, RES(STOP));
	resp = encode(reply_init(&r, PSB_M_SHUTDOWN));
	assert_int_equal(resp->result_case, RES(SHUTDOWN));

	// An error reply carries the status only.
	reply_init(&r, PSB_M_START);
	r.code    = PSB_ENOENT;
	r.message = "sandbox x not found";
	resp      = encode(&r);
	assert_int_equal(resp->status->code, CODE(NOT_FOUND));
	assert_string_equal(resp->status->message, "sandbox x not found");
	assert_int_equal(resp->result_case, RES(_NOT_SET));

	reply_init(&r, PSB_M_START);
	r.sandbox = (psb_sandbox_view_t) {.id = "sb1",
	        .pid                          = 42,
	        .created_at                   = 1000,
	        .labels                       = "{\"a\":\"1\",\"b\":\"2\"}"};
	resp      = encode(&r);
	assert_int_equal(resp->result_case, RES(START));
	assert_string_equal(resp->start->sandbox_id, "sb1");
	assert_int_equal(resp->start->pid, 42);
	assert_int_equal(resp->start->created_at, 1000);
	assert_int_equal(resp->start->n_labels, 2);
	assert_string_equal(resp->start->labels[0]->key, "a");
	assert_string_equal(resp->start->labels[1]->value, "2");

	reply_init(&r, PSB_M_PLATFORM);
	snprintf(r.platform.os, sizeof(r.platform.os), "linux");
	snprintf(r.platform.arch, sizeof(r.platform.arch), "amd64");
	resp = encode(&r);
	assert_int_equal(resp->result_case, RES(PLATFORM));
	assert_string_equal(resp->platform->os, "linux");
	assert_string_equal(resp->platform->architecture, "amd64");
	assert_string_equal(resp->platform->variant, "");

	reply_init(&r, PSB_M_WAIT);
	r.sandbox = (psb_sandbox_view_t) {.exit_status = 137, .exited_at = 99};
	resp      = encode(&r);
	assert_int_equal(resp->result_case, RES(WAIT));
	assert_int_equal(resp->wait->exit_status, 137);
	assert_int_equal(resp->wait->exited_at, 99);

	reply_init(&r, PSB_M_VERSION);
	r.version = (psb_version_info_t) {"scripted", true, 3, 1, 77, 5};
	resp      = encode(&r);
	assert_string_equal(resp->version->version, PSB_VERSION);
	assert_int_equal(resp->version->api_version, PSB_API_VERSION);
	assert_string_equal(resp->version->runtime, "scripted");
	assert_true(resp->version->runtime_is_test_double);
	assert_int_equal(resp->version->sandboxes, 3);
	assert_int_equal(resp->version->commit_failures, 1);
	assert_int_equal(resp->version->newest_seq, 77);
	assert_int_equal(resp->version->missed_exits, 5);

	reply_init(&r, PSB_M_COUNT); // no such method: nothing to encode
	buf = NULL;
	assert_int_equal(
	        psb_codec_encode_reply(&r, &buf, &len), PSB_EINTERNAL);
	assert_null(buf);
	encode_done();
}

static uint8_t *
fixture_config(size_t *len)
{
	pb_config_t *c = config_of(crictl_example, NULL);
	uint8_t     *buf;

	assert_non_null(c);
	*len = podsandbox__v1__pod_sandbox_config__get_packed_size(c);
	buf  = malloc(*len);
	assert_non_null(buf);
	podsandbox__v1__pod_sandbox_config__pack(c, buf);
	psb_pbjson_config_free(c);
	return (buf);
}

// The runtime's view of a stored config: crictl JSON, never pb types.
static void
test_config_json_for_runtime(void **state)
{
	size_t   len;
	uint8_t *buf = fixture_config(&len);
	char    *text;
	json_t  *j;

	(void)state;
	text = psb_codec_config_json(buf, len);
	assert_non_null(text);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_non_null(
	        json_object_get(json_object_get(j, "metadata"), "name"));
	json_decref(j);
	free(text);
	assert_null(psb_codec_config_json(NULL, 0)); // no config: none
	assert_null(psb_codec_config_json("\xff\xff\xff", 3));
	free(buf);
}

static void
test_encode_status(void **state)
{
	psb_reply_t                       r;
	pb_resp_t                        *resp;
	Podsandbox__V1__ControllerStatus *cs;
	size_t                            clen;
	uint8_t                          *cfg = fixture_config(&clen);
	json_t                           *info, *md;
	static const char *const more_ips[] = {"fd00::7", "10.89.0.7"};

	reply_init(&r, PSB_M_STATUS);
	r.sandbox = (psb_sandbox_view_t) {
	        .id               = "sb1",
	        .state            = PSB_ST_READY,
	        .generation       = 4,
	        .pid              = 42,
	        .created_at       = 10,
	        .started_at       = 11,
	        .exited_at        = 0,
	        .exit_status      = -1,
	        .labels           = "{\"app\":\"web\"}",
	        .runtime_handler  = "runc",
	        .config           = cfg,
	        .config_len       = clen,
	        .info             = "{\"pid\":42,\"config\":{\"metadata\":{"
	                            "\"name\":\"nginx-sandbox\"}},"
	                            "\"runtimeType\":\"x\"}",
	        .ip               = "10.88.0.7",
	        .additional_ips   = more_ips,
	        .n_additional_ips = 2,
	};
	resp = encode(&r);
	assert_int_equal(resp->result_case, RES(SANDBOX_STATUS));
	cs = resp->sandbox_status;
	assert_string_equal(cs->sandbox_id, "sb1");
	assert_string_equal(cs->state, "READY");
	assert_int_equal(cs->generation, 4);
	assert_int_equal(cs->pid, 42);
	assert_int_equal(cs->created_at, 10);
	assert_int_equal(cs->started_at, 11);
	assert_int_equal(cs->exit_status, -1);
	assert_string_equal(cs->runtime_handler, "runc");
	assert_int_equal(cs->n_labels, 1);
	assert_string_equal(cs->labels[0]->key, "app");
	assert_non_null(cs->metadata);
	assert_string_equal(cs->metadata->name, "nginx-sandbox");
	assert_string_equal(cs->metadata->uid, "hdishd83djaidwnduwk28bcsb");
	assert_int_equal(cs->n_info, 1);
	assert_string_equal(cs->info[0]->key, "info");
	info = json_loads(cs->info[0]->value, 0, NULL);
	assert_non_null(info);
	assert_int_equal(json_integer_value(json_object_get(info, "pid")), 42);
	md = json_object_get(json_object_get(info, "config"), "metadata");
	assert_string_equal(json_string_value(json_object_get(md, "name")),
	        "nginx-sandbox");
	// The controller's info goes out as it is.
	assert_string_equal(cs->info[0]->value, r.sandbox.info);
	json_decref(info);
	// The pod network, as CRI's PodSandboxNetworkStatus.
	assert_non_null(cs->network);
	assert_string_equal(cs->network->ip, "10.88.0.7");
	assert_int_equal(cs->network->n_additional_ips, 2);
	assert_string_equal(cs->network->additional_ips[0]->ip, "fd00::7");
	assert_string_equal(cs->network->additional_ips[1]->ip, "10.89.0.7");

	// One IP only: no additional ones.
	r.sandbox.additional_ips   = NULL;
	r.sandbox.n_additional_ips = 0;
	resp                       = encode(&r);
	cs                         = resp->sandbox_status;
	assert_non_null(cs->network);
	assert_string_equal(cs->network->ip, "10.88.0.7");
	assert_int_equal(cs->network->n_additional_ips, 0);

	// No pod network: the field is absent.
	r.sandbox.ip = NULL;
	resp         = encode(&r);
	assert_null(resp->sandbox_status->network);

	// Not verbose: no info; a config that does not decode: no metadata.
	r.sandbox.info       = NULL;
	r.sandbox.config     = "\xff\xff";
	r.sandbox.config_len = 2;
	resp                 = encode(&r);
	assert_int_equal(resp->sandbox_status->n_info, 0);
	assert_null(resp->sandbox_status->metadata);
	free(cfg);
	encode_done();
}

static void
check_event(const Podsandbox__V1__Event *e, uint64_t seq, const char *from,
        const char *event, const char *to, int32_t exit_status)
{
	assert_int_equal(e->seq, seq);
	assert_string_equal(e->from_state, from);
	assert_string_equal(e->event, event);
	assert_string_equal(e->to_state, to);
	assert_int_equal(e->exit_status, exit_status);
}

static void
test_encode_list_events(void **state)
{
	static const char *const more_ips[] = {"fd00::8"};
	psb_sandbox_view_t       views[3];
	psb_transition_t         ts[2];
	psb_reply_t              r;
	pb_resp_t               *resp;
	const Podsandbox__V1__PodSandboxNetworkStatus *net;

	memset(views, 0, sizeof(views));
	views[0] = (psb_sandbox_view_t) {.id = "a",
	        .state                       = PSB_ST_CREATED,
	        .info = "{\"pid\":0}"}; // List never shows info
	views[1] = (psb_sandbox_view_t) {
	        .id = "b", .state = PSB_ST_EXITED, .exit_status = 1};
	views[2] = (psb_sandbox_view_t) {.id = "c",
	        .state                       = PSB_ST_READY,
	        .ip                          = "10.88.0.8",
	        .additional_ips              = more_ips,
	        .n_additional_ips            = 1};
	reply_init(&r, PSB_M_LIST);
	r.list     = views;
	r.list_len = 3;
	resp       = encode(&r);
	assert_int_equal(resp->list->n_sandboxes, 3);
	assert_string_equal(resp->list->sandboxes[0]->state, "CREATED");
	assert_int_equal(resp->list->sandboxes[0]->n_info, 0);
	assert_null(resp->list->sandboxes[0]->network); // no pod network
	assert_string_equal(resp->list->sandboxes[1]->sandbox_id, "b");
	assert_int_equal(resp->list->sandboxes[1]->exit_status, 1);
	// The pod network goes out in List as in Status.
	net = resp->list->sandboxes[2]->network;
	assert_non_null(net);
	assert_string_equal(net->ip, "10.88.0.8");
	assert_int_equal(net->n_additional_ips, 1);
	assert_string_equal(net->additional_ips[0]->ip, "fd00::8");

	ts[0] = (psb_transition_t) {1, "a", 100, PSB_ST_NONE, PSB_EV_CREATE,
	        PSB_ST_CREATED, -1, 0};
	ts[1] = (psb_transition_t) {2, "a", 200, PSB_ST_READY,
	        PSB_EV_TASK_EXIT, PSB_ST_EXITED, 137, 1};
	reply_init(&r, PSB_M_EVENTS);
	r.events     = ts;
	r.events_len = 2;
	r.oldest_seq = 1;
	r.newest_seq = 9;
	r.truncated  = true;
	r.more       = true;
	resp         = encode(&r);
	assert_int_equal(resp->events->n_events, 2);
	assert_int_equal(resp->events->oldest_seq, 1);
	assert_int_equal(resp->events->newest_seq, 9);
	assert_true(resp->events->truncated);
	assert_true(resp->events->more);
	check_event(
	        resp->events->events[0], 1, "NONE", "CREATE", "CREATED", -1);
	check_event(resp->events->events[1], 2, "READY", "TASK_EXIT", "EXITED",
	        137);
	assert_int_equal(resp->events->events[1]->generation, 1);

	r.method = PSB_M_HISTORY;
	resp     = encode(&r);
	assert_int_equal(resp->history->n_events, 2);
	check_event(resp->history->events[1], 2, "READY", "TASK_EXIT",
	        "EXITED", 137);
	encode_done();
}

// encode_err is encode for psb_codec_encode_error.
static pb_resp_t *
encode_err(int code, const char *message)
{
	void  *buf = NULL;
	size_t len = 0;

	assert_int_equal(psb_codec_encode_error(code, message, &buf, &len), 0);
	return (unpack_resp(buf, len));
}

// The one psb_err -> API code table (docs/error-handling.md §3).
// clang-format off
static const int codes[][2] = {
	{PSB_OK, CODE(OK)}, {PSB_EINVAL, CODE(INVALID_ARGUMENT)},
	{PSB_ENOENT, CODE(NOT_FOUND)}, {PSB_EEXIST, CODE(ALREADY_EXISTS)},
	{PSB_ESTATE, CODE(FAILED_PRECONDITION)},
	{PSB_ETIMEDOUT, CODE(DEADLINE_EXCEEDED)},
	{PSB_EUNAVAIL, CODE(UNAVAILABLE)}, {PSB_EPERM, CODE(PERMISSION_DENIED)},
	{PSB_ENOSPC, CODE(RESOURCE_EXHAUSTED)},
	{PSB_ENOTSUP, CODE(UNIMPLEMENTED)}, {PSB_ECANCELED, CODE(CANCELLED)},
	{PSB_EBUSY, CODE(UNAVAILABLE)}, {PSB_ERUNTIME, CODE(INTERNAL)},
	{PSB_ESTORE, CODE(INTERNAL)}, {PSB_ECORRUPT, CODE(INTERNAL)},
	{PSB_EPROTO, CODE(INTERNAL)}, {PSB_ESTALE, CODE(INTERNAL)},
	{PSB_EINTERNAL, CODE(INTERNAL)}, {12345, CODE(INTERNAL)},
};
// clang-format on

static void
test_encode_error_event(void **state)
{
	void                  *buf;
	size_t                 len;
	pb_resp_t             *resp;
	Podsandbox__V1__Event *ev;
	psb_transition_t t = {5, "sb1", 123, PSB_ST_STOPPING, PSB_EV_TASK_EXIT,
	        PSB_ST_EXITED, 0, 2};

	resp = encode_err(PSB_EPERM, "peer uid 1000 not allowed");
	assert_int_equal(resp->status->code, CODE(PERMISSION_DENIED));
	assert_string_equal(
	        resp->status->message, "peer uid 1000 not allowed");
	assert_int_equal(resp->result_case, RES(_NOT_SET));
	// Without a message the code's default text is sent.
	resp = encode_err(PSB_ENOSPC, NULL);
	assert_int_equal(resp->status->code, CODE(RESOURCE_EXHAUSTED));
	assert_string_equal(resp->status->message, psb_strerror(PSB_ENOSPC));
	encode_done();

	assert_int_equal(psb_codec_encode_event(&t, &buf, &len), 0);
	ev = podsandbox__v1__event__unpack(NULL, len, buf);
	assert_non_null(ev);
	check_event(ev, 5, "STOPPING", "TASK_EXIT", "EXITED", 0);
	assert_string_equal(ev->sandbox_id, "sb1");
	assert_int_equal(ev->time, 123);
	assert_int_equal(ev->generation, 2);
	podsandbox__v1__event__free_unpacked(ev, NULL);
	free(buf);

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		if (psb_codec_api_code(codes[i][0]) != codes[i][1]) {
			fail_msg("%s -> %d, want %d", psb_errname(codes[i][0]),
			        psb_codec_api_code(codes[i][0]), codes[i][1]);
		}
	}
}

// ---- config_json ----

static void
test_config_json_roundtrip(void **state)
{
	json_t      *orig   = json_of(crictl_example);
	char        *errmsg = NULL, *s1, *s2;
	pb_config_t *c, *c2;
	json_t      *back;
	uint8_t     *buf;
	size_t       len;

	if ((c = psb_pbjson_config_from_json(orig, &errmsg)) == NULL) {
		fail_msg("from_json: %s", errmsg);
	}
	assert_int_equal(
	        c->linux->security_context->supplemental_groups[2], 65534);
	back = psb_pbjson_config_to_json(c);
	if (!json_equal(orig, back)) {
		fail_msg("round trip differs:\n%s\n%s",
		        json_dumps(orig, JSON_SORT_KEYS),
		        json_dumps(back, JSON_SORT_KEYS));
	}
	json_decref(back);
	json_decref(orig);
	// Through the wire format and back gives the same JSON text: the
	// output order is stable.
	buf = fixture_config(&len);
	c2  = podsandbox__v1__pod_sandbox_config__unpack(NULL, len, buf);
	assert_non_null(c2);
	s1 = dump_of(c);
	s2 = dump_of(c2);
	assert_string_equal(s1, s2);
	free(s1);
	free(s2);
	free(buf);
	psb_pbjson_config_free(c2);
	psb_pbjson_config_free(c);

	// Zero values are omitted, present messages kept; null = unset.
	c = config_of("{'hostname':'','linux':null,'dns_config':{},"
	              "'port_mappings':[{'protocol':'TCP'}]}",
	        &errmsg);
	assert_non_null(c);
	s1 = dump_of(c);
	assert_string_equal(s1, "{\"dns_config\":{},\"port_mappings\":[{}]}");
	free(s1);
	psb_pbjson_config_free(c);
	s1 = dump_of(NULL);
	assert_string_equal(s1, "{}");
	free(s1);
}

static void
expect_json_error(const char *text, const char *needle)
{
	char *errmsg = NULL;

	assert_null(config_of(text, &errmsg));
	assert_names(errmsg, needle);
	free(errmsg);
}

static void
test_config_json_errors(void **state)
{
	expect_json_error("{'linux':{'securityContext':{}}}",
	        "unknown key linux.securityContext");
	expect_json_error(
	        "{'linux':{'securityContext':{}}}", "use security_context");
	expect_json_error("{'metadata':{'name':5}}",
	        "metadata.name: expected a string, not an integer");
	expect_json_error("{'port_mappings':[{},{'container_port':'80'}]}",
	        "port_mappings[1].container_port: expected an integer");
	expect_json_error("{'port_mappings':[{'host_port':4294967296}]}",
	        "port_mappings[0].host_port: 4294967296 is out of range");
	expect_json_error("{'port_mappings':{}}",
	        "port_mappings: expected an array, not an object");
	expect_json_error(
	        "{'labels':{'app':1}}", "labels.app: expected a string");
	expect_json_error("{'linux':{'security_context':{"
	                  "'supplemental_groups':[1,'x']}}}",
	        "linux.security_context.supplemental_groups[1]: expected an "
	        "integer");
	expect_json_error("{'linux':{'security_context':{"
	                  "'privileged':'yes'}}}",
	        "linux.security_context.privileged: expected a boolean");
	expect_json_error("{'metadata':{'attempt':1.5}}",
	        "metadata.attempt: expected an integer, not a number");
	expect_json_error("{'metadata':{'attempt':-1}}",
	        "metadata.attempt: -1 is out of range");
	expect_json_error("[]", "pod config: expected an object");
	expect_json_error("{'metadata':'x'}", "metadata: expected an object");
}

static void
test_config_json_enums(void **state)
{
	char        *errmsg = NULL;
	pb_config_t *a, *b;
	char        *s, *s2;

	a = config_of("{'linux':{'security_context':{'namespace_options':"
	              "{'network':'NODE','pid':1,'ipc':0},"
	              "'seccomp':{'profile_type':2}}},"
	              "'port_mappings':[{'protocol':'SCTP'}]}",
	        &errmsg);
	b = config_of("{'linux':{'security_context':{'namespace_options':"
	              "{'network':2,'pid':'CONTAINER','ipc':'POD'},"
	              "'seccomp':{'profile_type':'Localhost'}}},"
	              "'port_mappings':[{'protocol':2}]}",
	        &errmsg);
	assert_non_null(a);
	assert_non_null(b);
	// Names and numbers give the same message, shown by name, in field
	// number order.
	s = dump_of(a);
	assert_string_equal(s,
	        "{\"port_mappings\":[{\"protocol\":\"SCTP\"}],\"linux\":{"
	        "\"security_context\":{\"namespace_options\":{\"network\":"
	        "\"NODE\",\"pid\":\"CONTAINER\"},\"seccomp\":{"
	        "\"profile_type\":\"Localhost\"}}}}");
	s2 = dump_of(b);
	assert_string_equal(s, s2);
	free(s);
	free(s2);
	psb_pbjson_config_free(a);
	psb_pbjson_config_free(b);

	expect_json_error("{'linux':{'security_context':{"
	                  "'namespace_options':{'network':'HOST'}}}}",
	        "linux.security_context.namespace_options.network: unknown "
	        "value \"HOST\": expected one of POD, CONTAINER, NODE, TARGET "
	        "(or 0-3)");
	expect_json_error("{'linux':{'security_context':{"
	                  "'namespace_options':{'pid':7}}}}",
	        "namespace_options.pid: expected one of POD");
	expect_json_error("{'port_mappings':[{'protocol':'tcp'}]}",
	        "port_mappings[0].protocol: unknown value \"tcp\"");
	expect_json_error("{'linux':{'security_context':{'seccomp':"
	                  "{'profile_type':true}}}}",
	        "expected one of RuntimeDefault, Unconfined, Localhost (or "
	        "0-2), not a boolean");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_decode_methods),
	        cmocka_unit_test(test_decode_create),
	        cmocka_unit_test(test_decode_bad_bytes),
	        cmocka_unit_test(test_decode_bad_ids),
	        cmocka_unit_test(test_decode_bad_config),
	        cmocka_unit_test(test_decode_limits),
	        cmocka_unit_test(test_decode_config_rules),
	        cmocka_unit_test(test_decode_nul),
	        cmocka_unit_test(test_decode_netns),
	        cmocka_unit_test(test_decode_field_zero),
	        cmocka_unit_test(test_create_canonical_maps),
	        cmocka_unit_test(test_create_duplicate_key),
	        cmocka_unit_test(test_encode_simple_replies),
	        cmocka_unit_test(test_encode_status),
	        cmocka_unit_test(test_encode_list_events),
	        cmocka_unit_test(test_encode_error_event),
	        cmocka_unit_test(test_config_json_roundtrip),
	        cmocka_unit_test(test_config_json_errors),
	        cmocka_unit_test(test_config_json_enums),
	        cmocka_unit_test(test_config_json_for_runtime),
	};

	return (psb_test_run_group(tests, NULL, NULL));
}

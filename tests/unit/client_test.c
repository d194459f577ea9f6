//
// podsandboxd - unit tests of libpodsandbox: psb_config_from_json,
// psb_code_name, and every call against a tiny in-test nng REP server
// (plus a PUB socket) that answers canned protobuf-c Responses.
//

#include "tests/harness/testing.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>

#include "podsandbox.h"
#include "podsandbox.pb-c.h"

typedef Podsandbox__V1__Request  pb_request;
typedef Podsandbox__V1__Response pb_response;
typedef Podsandbox__V1__Event    pb_event;

// ---- the test server ----

typedef struct srv srv_t;
// A handler answers req with srv_reply() or not at all (a daemon that
// holds the request).
typedef void (*srv_handler)(srv_t *s, const pb_request *req);

struct srv {
	char            dir[64];
	char            url[128];
	char            ev_url[128];
	nng_socket      rep;
	nng_socket      pub;
	pthread_t       thread;
	atomic_bool     stop;
	srv_handler     handler;
	atomic_int      n_requests;
	atomic_int      pub_pipes;
	atomic_bool     events0_answered;
	pthread_mutex_t mtx;
	uint8_t        *last; // the last request, packed
	size_t          last_len;
};

static void
srv_reply(srv_t *s, const pb_response *resp)
{
	size_t   len = podsandbox__v1__response__get_packed_size(resp);
	nng_msg *m;

	assert_int_equal(nng_msg_alloc(&m, len), 0);
	podsandbox__v1__response__pack(resp, nng_msg_body(m));
	assert_int_equal(nng_sendmsg(s->rep, m, 0), 0);
}

static void
srv_reply_error(srv_t *s, Podsandbox__V1__Code code, const char *msg)
{
	Podsandbox__V1__RpcStatus st   = PODSANDBOX__V1__RPC_STATUS__INIT;
	pb_response               resp = PODSANDBOX__V1__RESPONSE__INIT;

	st.code     = code;
	st.message  = (char *)msg;
	resp.status = &st;
	srv_reply(s, &resp);
}

static void *
srv_thread(void *arg)
{
	srv_t *s = arg;

	while (!atomic_load(&s->stop)) {
		nng_msg    *m;
		pb_request *req;
		int         rv = nng_recvmsg(s->rep, &m, 0);
		if (rv == NNG_ETIMEDOUT) {
			continue;
		}
		if (rv != 0) {
			break;
		}
		pthread_mutex_lock(&s->mtx);
		free(s->last);
		s->last_len = nng_msg_len(m);
		s->last     = malloc(s->last_len + 1);
		memcpy(s->last, nng_msg_body(m), s->last_len);
		pthread_mutex_unlock(&s->mtx);
		req = podsandbox__v1__request__unpack(
		        NULL, nng_msg_len(m), nng_msg_body(m));
		nng_msg_free(m);
		atomic_fetch_add(&s->n_requests, 1);
		if (req == NULL) {
			srv_reply_error(s,
			        PODSANDBOX__V1__CODE__INVALID_ARGUMENT,
			        "malformed");
			continue;
		}
		s->handler(s, req);
		podsandbox__v1__request__free_unpacked(req, NULL);
	}
	return (NULL);
}

static void
srv_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	srv_t *s = arg;
	(void)p;
	atomic_fetch_add(&s->pub_pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

static srv_t *
srv_start(srv_handler h)
{
	srv_t *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	snprintf(s->dir, sizeof(s->dir), "/tmp/psbcli-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->url, sizeof(s->url), "ipc://%s/api.sock", s->dir);
	snprintf(s->ev_url, sizeof(s->ev_url), "ipc://%s/ev.sock", s->dir);
	s->handler = h;
	pthread_mutex_init(&s->mtx, NULL);
	assert_int_equal(nng_rep0_open(&s->rep), 0);
	assert_int_equal(nng_socket_set_ms(s->rep, NNG_OPT_RECVTIMEO, 50), 0);
	assert_int_equal(nng_listen(s->rep, s->url, NULL, 0), 0);
	assert_int_equal(nng_pub0_open(&s->pub), 0);
	assert_int_equal(
	        nng_pipe_notify(s->pub, NNG_PIPE_EV_ADD_POST, srv_pipe_cb, s),
	        0);
	assert_int_equal(
	        nng_pipe_notify(s->pub, NNG_PIPE_EV_REM_POST, srv_pipe_cb, s),
	        0);
	assert_int_equal(nng_listen(s->pub, s->ev_url, NULL, 0), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, srv_thread, s), 0);
	return (s);
}

static void
srv_stop(srv_t *s)
{
	char path[192];

	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	// Let the pipes of the client just closed finish tearing down first:
	// nng 1.5.2 can panic (pthread_mutex_lock: Invalid argument) when a
	// listening socket closes while its peer's ipc pipe is still closing
	// (nanomsg/nng#2110 shows the same with 1.10.1).
	nng_msleep(100);
	nng_close(s->rep);
	nng_close(s->pub);
	snprintf(path, sizeof(path), "%s/api.sock", s->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ev.sock", s->dir);
	unlink(path);
	rmdir(s->dir);
	free(s->last);
	pthread_mutex_destroy(&s->mtx);
	free(s);
}

// srv_last returns the last request received (free_unpacked it).
static pb_request *
srv_last(srv_t *s)
{
	pb_request *r;
	pthread_mutex_lock(&s->mtx);
	r = podsandbox__v1__request__unpack(NULL, s->last_len, s->last);
	pthread_mutex_unlock(&s->mtx);
	assert_non_null(r);
	return (r);
}

static void
srv_publish(srv_t *s, uint64_t seq)
{
	pb_event e = PODSANDBOX__V1__EVENT__INIT;
	uint8_t  buf[256];
	size_t   len;

	e.seq         = seq;
	e.sandbox_id  = "sb1";
	e.from_state  = "CREATED";
	e.event       = "START";
	e.to_state    = "STARTING";
	e.time        = (int64_t)seq * 1000;
	e.exit_status = -1;
	e.generation  = 1;
	len           = podsandbox__v1__event__pack(&e, buf);
	assert_int_equal(nng_send(s->pub, buf, len, 0), 0);
}

// wait_until polls flag for up to ms milliseconds.
static bool
wait_until(atomic_int *v, int want, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (atomic_load(v) >= want) {
			return (true);
		}
		nng_msleep(10);
	}
	return (atomic_load(v) >= want);
}

// ---- the canned daemon ----

#define T_CREATED 1700000000000000000LL

static void
canned_events(srv_t *s, const Podsandbox__V1__EventsRequest *er)
{
	Podsandbox__V1__EventsResponse eresp =
	        PODSANDBOX__V1__EVENTS_RESPONSE__INIT;
	pb_response resp   = PODSANDBOX__V1__RESPONSE__INIT;
	pb_event    e3     = PODSANDBOX__V1__EVENT__INIT;
	pb_event   *list[] = {&e3};

	resp.result_case = PODSANDBOX__V1__RESPONSE__RESULT_EVENTS;
	resp.events      = &eresp;
	eresp.newest_seq = 4;
	eresp.oldest_seq = 1;
	if (er->since == 2) {
		e3.seq         = 3;
		e3.sandbox_id  = "sb1";
		e3.from_state  = "STARTING";
		e3.event       = "START_OK";
		e3.to_state    = "READY";
		e3.exit_status = -1;
		eresp.n_events = 1;
		eresp.events   = list;
	} else if (er->since == 0) {
		eresp.newest_seq = 0;
		eresp.oldest_seq = 0;
	}
	srv_reply(s, &resp);
	if (er->since == 0) {
		atomic_store(&s->events0_answered, true);
	}
}

static void
canned_status(srv_t *s, const Podsandbox__V1__StatusRequest *sr)
{
	Podsandbox__V1__ControllerStatus cs =
	        PODSANDBOX__V1__CONTROLLER_STATUS__INIT;
	Podsandbox__V1__PodSandboxMetadata md =
	        PODSANDBOX__V1__POD_SANDBOX_METADATA__INIT;
	Podsandbox__V1__ControllerStatus__LabelsEntry l1 =
	        PODSANDBOX__V1__CONTROLLER_STATUS__LABELS_ENTRY__INIT;
	Podsandbox__V1__ControllerStatus__InfoEntry i1 =
	        PODSANDBOX__V1__CONTROLLER_STATUS__INFO_ENTRY__INIT;
	Podsandbox__V1__ControllerStatus__LabelsEntry *labels[] = {&l1};
	Podsandbox__V1__ControllerStatus__InfoEntry   *info[]   = {&i1};
	Podsandbox__V1__PodSandboxNetworkStatus        net =
	        PODSANDBOX__V1__POD_SANDBOX_NETWORK_STATUS__INIT;
	Podsandbox__V1__PodIP  ip6    = PODSANDBOX__V1__POD_IP__INIT;
	Podsandbox__V1__PodIP  ip4    = PODSANDBOX__V1__POD_IP__INIT;
	Podsandbox__V1__PodIP *more[] = {&ip6, &ip4};
	pb_response            resp   = PODSANDBOX__V1__RESPONSE__INIT;

	md.name            = "web";
	md.namespace_      = "default";
	l1.key             = "app";
	l1.value           = "web";
	i1.key             = "info";
	i1.value           = "{\"pid\":4242}";
	cs.sandbox_id      = sr->sandbox_id;
	cs.pid             = 4242;
	cs.state           = "READY";
	cs.created_at      = T_CREATED;
	cs.started_at      = T_CREATED + 1;
	cs.generation      = 3;
	cs.exit_status     = -1;
	cs.n_labels        = 1;
	cs.labels          = labels;
	cs.runtime_handler = "runc";
	cs.metadata        = &md;

	net.ip               = "10.88.0.7";
	ip6.ip               = "fd00::7";
	ip4.ip               = "10.89.0.7";
	net.n_additional_ips = 2;
	net.additional_ips   = more;
	cs.network           = &net;
	if (sr->verbose) {
		cs.n_info = 1;
		cs.info   = info;
	}
	resp.result_case    = PODSANDBOX__V1__RESPONSE__RESULT_SANDBOX_STATUS;
	resp.sandbox_status = &cs;
	srv_reply(s, &resp);
}

static void
canned_list(srv_t *s)
{
	Podsandbox__V1__ControllerStatus a =
	        PODSANDBOX__V1__CONTROLLER_STATUS__INIT;
	Podsandbox__V1__ControllerStatus b =
	        PODSANDBOX__V1__CONTROLLER_STATUS__INIT;
	Podsandbox__V1__ControllerStatus *v[] = {&a, &b};
	Podsandbox__V1__ListResponse lr = PODSANDBOX__V1__LIST_RESPONSE__INIT;
	Podsandbox__V1__PodSandboxNetworkStatus net =
	        PODSANDBOX__V1__POD_SANDBOX_NETWORK_STATUS__INIT;
	pb_response resp = PODSANDBOX__V1__RESPONSE__INIT;

	a.sandbox_id     = "aaa";
	a.state          = "READY";
	a.exit_status    = -1;
	net.ip           = "10.88.0.9";
	a.network        = &net;
	b.sandbox_id     = "bbb";
	b.state          = "EXITED";
	b.exit_status    = 137;
	lr.n_sandboxes   = 2;
	lr.sandboxes     = v;
	resp.result_case = PODSANDBOX__V1__RESPONSE__RESULT_LIST;
	resp.list        = &lr;
	srv_reply(s, &resp);
}

static void
canned_history(srv_t *s)
{
	static const char *const to[] = {
	        "STARTING", "READY", "STOPPING", "EXITED"};
	pb_event                        e[4];
	pb_event                       *v[4];
	Podsandbox__V1__HistoryResponse hr =
	        PODSANDBOX__V1__HISTORY_RESPONSE__INIT;
	pb_response resp = PODSANDBOX__V1__RESPONSE__INIT;

	for (int i = 0; i < 4; i++) {
		podsandbox__v1__event__init(&e[i]);
		e[i].seq         = (uint64_t)i + 10;
		e[i].sandbox_id  = "sb1";
		e[i].to_state    = (char *)to[i];
		e[i].exit_status = i == 3 ? 137 : -1;
		v[i]             = &e[i];
	}
	hr.n_events      = 4;
	hr.events        = v;
	resp.result_case = PODSANDBOX__V1__RESPONSE__RESULT_HISTORY;
	resp.history     = &hr;
	srv_reply(s, &resp);
}

static void
canned(srv_t *s, const pb_request *req)
{
	pb_response           resp  = PODSANDBOX__V1__RESPONSE__INIT;
	Podsandbox__V1__Empty empty = PODSANDBOX__V1__EMPTY__INIT;
	Podsandbox__V1__ControllerInstance ci =
	        PODSANDBOX__V1__CONTROLLER_INSTANCE__INIT;
	Podsandbox__V1__ControllerInstance__LabelsEntry l1 =
	        PODSANDBOX__V1__CONTROLLER_INSTANCE__LABELS_ENTRY__INIT;
	Podsandbox__V1__ControllerInstance__LabelsEntry *labels[] = {&l1};
	Podsandbox__V1__ExitStatus      ex = PODSANDBOX__V1__EXIT_STATUS__INIT;
	Podsandbox__V1__Platform        pl = PODSANDBOX__V1__PLATFORM__INIT;
	Podsandbox__V1__VersionResponse vr =
	        PODSANDBOX__V1__VERSION_RESPONSE__INIT;
	const char *id = "";

	switch (req->method_case) {
	case PODSANDBOX__V1__REQUEST__METHOD_CREATE:
		id = req->create->sandbox_id;
		break;
	case PODSANDBOX__V1__REQUEST__METHOD_WAIT:
		id = req->wait->sandbox_id;
		break;
	case PODSANDBOX__V1__REQUEST__METHOD_STATUS:
		id = req->status->sandbox_id;
		break;
	default: break;
	}
	if (strcmp(id, "missing") == 0) {
		srv_reply_error(s, PODSANDBOX__V1__CODE__NOT_FOUND,
		        "sandbox missing not found");
		return;
	}
	if (strcmp(id, "slow") == 0) {
		return; // hold it: never answered
	}
	if (strcmp(id, "wrong") == 0) {
		resp.result_case = PODSANDBOX__V1__RESPONSE__RESULT_CREATE;
		resp.create      = &empty;
		srv_reply(s, &resp);
		return;
	}
	if (strcmp(id, "garbage") == 0) {
		assert_int_equal(nng_send(s->rep, "\xff\xff\xff", 3, 0), 0);
		return;
	}
	switch (req->method_case) {
	case PODSANDBOX__V1__REQUEST__METHOD_CREATE:
		if (strcmp(id, "exists") == 0) {
			srv_reply_error(s,
			        PODSANDBOX__V1__CODE__ALREADY_EXISTS,
			        "sandbox exists has another config");
			return;
		}
		resp.result_case = PODSANDBOX__V1__RESPONSE__RESULT_CREATE;
		resp.create      = &empty;
		break;
	case PODSANDBOX__V1__REQUEST__METHOD_START:
		l1.key           = "app";
		l1.value         = "web";
		ci.sandbox_id    = req->start->sandbox_id;
		ci.pid           = 4242;
		ci.created_at    = T_CREATED;
		ci.n_labels      = 1;
		ci.labels        = labels;
		resp.result_case = PODSANDBOX__V1__RESPONSE__RESULT_START;
		resp.start       = &ci;
		break;
	case PODSANDBOX__V1__REQUEST__METHOD_STOP:
		resp.result_case = PODSANDBOX__V1__RESPONSE__RESULT_STOP;
		resp.stop        = &empty;
		break;
	case PODSANDBOX__V1__REQUEST__METHOD_SHUTDOWN:
		resp.result_case = PODSANDBOX__V1__RESPONSE__RESULT_SHUTDOWN;
		resp.shutdown    = &empty;
		break;
	case PODSANDBOX__V1__REQUEST__METHOD_WAIT:
		ex.exit_status   = 137;
		ex.exited_at     = T_CREATED + 5;
		resp.result_case = PODSANDBOX__V1__RESPONSE__RESULT_WAIT;
		resp.wait        = &ex;
		break;
	case PODSANDBOX__V1__REQUEST__METHOD_STATUS:
		canned_status(s, req->status);
		return;
	case PODSANDBOX__V1__REQUEST__METHOD_LIST: canned_list(s); return;
	case PODSANDBOX__V1__REQUEST__METHOD_EVENTS:
		canned_events(s, req->events);
		return;
	case PODSANDBOX__V1__REQUEST__METHOD_HISTORY:
		canned_history(s);
		return;
	case PODSANDBOX__V1__REQUEST__METHOD_PLATFORM:
		pl.os            = "linux";
		pl.architecture  = "amd64";
		resp.result_case = PODSANDBOX__V1__RESPONSE__RESULT_PLATFORM;
		resp.platform    = &pl;
		break;
	case PODSANDBOX__V1__REQUEST__METHOD_VERSION:
		vr.version                = "9.8.7";
		vr.api_version            = 1;
		vr.runtime                = "scripted";
		vr.runtime_is_test_double = true;
		vr.sandboxes              = 2;
		vr.commit_failures        = 1;
		vr.newest_seq             = 4;
		resp.result_case = PODSANDBOX__V1__RESPONSE__RESULT_VERSION;
		resp.version     = &vr;
		break;
	default:
		srv_reply_error(s, PODSANDBOX__V1__CODE__UNIMPLEMENTED, "");
		return;
	}
	srv_reply(s, &resp);
}

static psb_client_t *
open_client(const srv_t *s)
{
	psb_client_t      *c;
	psb_client_error_t err;
	assert_int_equal(psb_client_open(s->url, &c, &err), 0);
	psb_client_set_timeout(c, 5000);
	return (c);
}

// ---- psb_config_from_json / psb_code_name ----

static char *
read_data(const char *name)
{
	char  path[512];
	FILE *f;
	char *buf = calloc(1, 65536);

	snprintf(path, sizeof(path), "%s/%s", PSB_TEST_DATA, name);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_true(fread(buf, 1, 65535, f) > 0);
	fclose(f);
	return (buf);
}

static void
test_config_from_json(void **state)
{
	Podsandbox__V1__PodSandboxConfig *cfg;
	psb_client_error_t                err;
	char                             *json = read_data("pod-config.json");
	void                             *bytes;
	size_t                            len;

	(void)state;
	assert_int_equal(psb_config_from_json(json, &bytes, &len, &err), 0);
	free(json);
	cfg = podsandbox__v1__pod_sandbox_config__unpack(NULL, len, bytes);
	free(bytes);
	assert_non_null(cfg);
	assert_string_equal(cfg->metadata->name, "nginx-sandbox");
	assert_string_equal(cfg->metadata->namespace_, "default");
	assert_string_equal(cfg->metadata->uid, "hdishd83djaidwnduwk28bcsb");
	assert_int_equal(cfg->metadata->attempt, 1);
	assert_string_equal(cfg->hostname, "nginx");
	assert_string_equal(cfg->log_directory, "/tmp/nginx-sandbox");
	assert_int_equal(cfg->dns_config->n_servers, 2);
	assert_string_equal(cfg->dns_config->servers[1], "1.1.1.1");
	assert_string_equal(cfg->dns_config->options[0], "ndots:5");
	assert_int_equal(cfg->n_port_mappings, 1);
	assert_int_equal(cfg->port_mappings[0]->container_port, 80);
	assert_int_equal(cfg->port_mappings[0]->host_port, 8080);
	assert_string_equal(cfg->port_mappings[0]->host_ip, "127.0.0.1");
	assert_int_equal(cfg->n_labels, 2);
	assert_int_equal(cfg->n_annotations, 1);
	assert_string_equal(cfg->linux->cgroup_parent, "/podsandbox");
	assert_int_equal(
	        cfg->linux->security_context->namespace_options->network,
	        PODSANDBOX__V1__NAMESPACE_MODE__NODE);
	assert_int_equal(cfg->linux->security_context->namespace_options->pid,
	        PODSANDBOX__V1__NAMESPACE_MODE__CONTAINER);
	assert_int_equal(cfg->linux->n_sysctls, 1);
	podsandbox__v1__pod_sandbox_config__free_unpacked(cfg, NULL);
}

static void
expect_bad_config(const char *json, const char *needle)
{
	psb_client_error_t err;
	void              *bytes = NULL;
	size_t             len   = 0;

	memset(&err, 0, sizeof(err));
	assert_int_equal(psb_config_from_json(json, &bytes, &len, &err),
	        -PSB_CODE_INVALID_ARGUMENT);
	assert_int_equal(err.code, PSB_CODE_INVALID_ARGUMENT);
	if (strstr(err.message, needle) == NULL) {
		fail_msg("'%s' does not name '%s'", err.message, needle);
	}
	assert_null(bytes);
}

static void
test_config_errors(void **state)
{
	(void)state;
	expect_bad_config("{\"metadta\": {}}", "metadta");
	expect_bad_config("{\"hostname\": 5}", "hostname");
	expect_bad_config("{\"metadata\": {\"attempt\": \"one\"}}", "attempt");
	expect_bad_config("{\"linux\": {\"security_context\": "
	                  "{\"namespace_options\": {\"network\": \"HOST\"}}}}",
	        "namespace_options.network");
	expect_bad_config("{\"hostname\": ", "line 1");
	expect_bad_config("[1, 2]", "object");
	expect_bad_config("", "pod config");
}

static void
test_code_name(void **state)
{
	(void)state;
	assert_string_equal(psb_code_name(0), "OK");
	assert_string_equal(psb_code_name(PSB_CODE_NOT_FOUND), "NOT_FOUND");
	assert_string_equal(
	        psb_code_name(-PSB_CODE_UNAVAILABLE), "UNAVAILABLE");
	assert_string_equal(
	        psb_code_name(PSB_CODE_UNAUTHENTICATED), "UNAUTHENTICATED");
	assert_string_equal(psb_code_name(PSB_CODE_FAILED_PRECONDITION),
	        "FAILED_PRECONDITION");
	assert_string_equal(psb_code_name(99), "UNKNOWN");
}

// ---- the calls ----

static void
test_calls_decode(void **state)
{
	srv_t                *s = srv_start(canned);
	psb_client_t         *c = open_client(s);
	psb_client_error_t    err;
	psb_instance_t        inst;
	psb_exit_t            ex;
	psb_sandbox_status_t  st;
	psb_sandbox_status_t *v;
	psb_platform_info_t   pl;
	psb_daemon_version_t  ver;
	psb_event_list_t      l;
	pb_request           *req;
	char                 *json = read_data("pod-config.json");
	void                 *cfg;
	size_t                len, n;

	(void)state;
	assert_int_equal(psb_config_from_json(json, &cfg, &len, &err), 0);
	free(json);
	assert_int_equal(
	        psb_client_create(c, "sb1", cfg, len, "runc", &err), 0);
	req = srv_last(s);
	assert_int_equal(
	        req->method_case, PODSANDBOX__V1__REQUEST__METHOD_CREATE);
	assert_string_equal(req->create->sandbox_id, "sb1");
	assert_string_equal(req->create->runtime_handler, "runc");
	assert_string_equal(req->create->netns_path, ""); // none
	assert_string_equal(
	        req->create->config->metadata->name, "nginx-sandbox");
	podsandbox__v1__request__free_unpacked(req, NULL);
	// The caller's netns goes in netns_path; NULL is none.
	assert_int_equal(psb_client_create_netns(c, "sb1", cfg, len, NULL,
	                         "/var/run/netns/cni-1", &err),
	        0);
	req = srv_last(s);
	assert_string_equal(req->create->sandbox_id, "sb1");
	assert_string_equal(req->create->runtime_handler, "");
	assert_string_equal(req->create->netns_path, "/var/run/netns/cni-1");
	assert_string_equal(
	        req->create->config->metadata->name, "nginx-sandbox");
	podsandbox__v1__request__free_unpacked(req, NULL);
	assert_int_equal(psb_client_create_netns(
	                         c, "sb1", cfg, len, "runc", NULL, &err),
	        0);
	req = srv_last(s);
	assert_string_equal(req->create->netns_path, "");
	podsandbox__v1__request__free_unpacked(req, NULL);
	free(cfg);

	assert_int_equal(psb_client_start(c, "sb1", &inst, &err), 0);
	assert_string_equal(inst.sandbox_id, "sb1");
	assert_int_equal(inst.pid, 4242);
	assert_int_equal(inst.created_at, T_CREATED);
	assert_string_equal(inst.labels_json, "{\"app\":\"web\"}");
	psb_instance_free(&inst);

	assert_int_equal(psb_client_stop(c, "sb1", 7, &err), 0);
	req = srv_last(s);
	assert_int_equal(req->stop->timeout_secs, 7);
	podsandbox__v1__request__free_unpacked(req, NULL);

	assert_int_equal(psb_client_wait(c, "sb1", 3000, &ex, &err), 0);
	assert_int_equal(ex.exit_status, 137);
	assert_int_equal(ex.exited_at, T_CREATED + 5);
	req = srv_last(s);
	assert_int_equal(req->wait->timeout_ms, 3000);
	podsandbox__v1__request__free_unpacked(req, NULL);
	assert_int_equal(psb_client_wait(c, "sb1", -1, &ex, &err), 0);
	req = srv_last(s);
	assert_int_equal(req->wait->timeout_ms, 0);
	podsandbox__v1__request__free_unpacked(req, NULL);
	assert_int_equal(psb_client_wait(c, "sb1", 0, &ex, &err), 0);
	req = srv_last(s);
	assert_int_equal(req->wait->timeout_ms, 5000); // the client's
	podsandbox__v1__request__free_unpacked(req, NULL);

	assert_int_equal(psb_client_status(c, "sb1", false, &st, &err), 0);
	assert_string_equal(st.sandbox_id, "sb1");
	assert_string_equal(st.state, "READY");
	assert_int_equal(st.pid, 4242);
	assert_int_equal(st.generation, 3);
	assert_int_equal(st.created_at, T_CREATED);
	assert_int_equal(st.started_at, T_CREATED + 1);
	assert_int_equal(st.exit_status, -1);
	assert_string_equal(st.labels_json, "{\"app\":\"web\"}");
	assert_string_equal(st.runtime_handler, "runc");
	assert_string_equal(st.name, "web");
	assert_string_equal(st.namespace_, "default");
	assert_null(st.info_json);
	assert_string_equal(st.ip, "10.88.0.7");
	assert_int_equal(st.n_additional_ips, 2);
	assert_string_equal(st.additional_ips[0], "fd00::7");
	assert_string_equal(st.additional_ips[1], "10.89.0.7");
	psb_sandbox_status_free(&st);
	assert_null(st.ip);
	assert_null(st.additional_ips);
	assert_int_equal(st.n_additional_ips, 0);
	assert_int_equal(psb_client_status(c, "sb1", true, &st, &err), 0);
	assert_string_equal(st.info_json, "{\"pid\":4242}");
	psb_sandbox_status_free(&st);

	assert_int_equal(
	        psb_client_list(c, "READY", "{\"app\":\"web\"}", &v, &n, &err),
	        0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].sandbox_id, "aaa");
	assert_string_equal(v[1].state, "EXITED");
	assert_int_equal(v[1].exit_status, 137);
	assert_string_equal(v[1].labels_json, "{}");
	assert_string_equal(v[1].name, "");
	assert_string_equal(v[0].ip, "10.88.0.9");
	assert_int_equal(v[0].n_additional_ips, 0);
	assert_null(v[0].additional_ips);
	assert_null(v[1].ip); // no pod network
	assert_int_equal(v[1].n_additional_ips, 0);
	psb_sandbox_status_list_free(v, n);
	req = srv_last(s);
	assert_string_equal(req->list->state, "READY");
	assert_int_equal(req->list->n_label_selector, 1);
	assert_string_equal(req->list->label_selector[0]->key, "app");
	assert_string_equal(req->list->label_selector[0]->value, "web");
	podsandbox__v1__request__free_unpacked(req, NULL);
	assert_int_equal(psb_client_list(c, NULL, "[1]", &v, &n, &err),
	        -PSB_CODE_INVALID_ARGUMENT);

	assert_int_equal(psb_client_shutdown(c, "sb1", &err), 0);

	assert_int_equal(psb_client_platform(c, &pl, &err), 0);
	assert_string_equal(pl.os, "linux");
	assert_string_equal(pl.architecture, "amd64");
	assert_string_equal(pl.variant, "");

	assert_int_equal(psb_client_version(c, &ver, &err), 0);
	assert_string_equal(ver.version, "9.8.7");
	assert_string_equal(ver.runtime, "scripted");
	assert_true(ver.runtime_is_test_double);
	assert_int_equal(ver.api_version, 1);
	assert_int_equal(ver.sandboxes, 2);
	assert_int_equal(ver.commit_failures, 1);
	assert_int_equal(ver.newest_seq, 4);

	assert_int_equal(psb_client_events(c, 2, 10, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.events[0].seq, 3);
	assert_string_equal(l.events[0].to, "READY");
	assert_int_equal(l.newest_seq, 4);
	assert_false(l.truncated);
	assert_false(l.more);
	psb_event_list_free(&l);
	req = srv_last(s);
	assert_int_equal(req->events->limit, 10);
	podsandbox__v1__request__free_unpacked(req, NULL);

	assert_int_equal(psb_client_history(c, "sb1", &l, &err), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.events[0].to, "STARTING");
	assert_string_equal(l.events[3].to, "EXITED");
	assert_int_equal(l.events[3].exit_status, 137);
	psb_event_list_free(&l);

	psb_client_close(c);
	srv_stop(s);
}

static void
test_call_errors(void **state)
{
	srv_t               *s = srv_start(canned);
	psb_client_t        *c = open_client(s);
	psb_client_error_t   err;
	psb_sandbox_status_t st;
	nng_time             t0;
	uint8_t              cfg[1] = {0xff};

	(void)state;
	memset(&err, 0, sizeof(err));
	assert_int_equal(psb_client_status(c, "missing", false, &st, &err),
	        -PSB_CODE_NOT_FOUND);
	assert_int_equal(err.code, PSB_CODE_NOT_FOUND);
	assert_string_equal(err.message, "sandbox missing not found");

	assert_int_equal(psb_client_create(c, "exists", "", 0, NULL, &err),
	        -PSB_CODE_ALREADY_EXISTS);
	assert_string_equal(err.message, "sandbox exists has another config");
	assert_int_equal(psb_client_create(c, "sb1", cfg, 1, NULL, &err),
	        -PSB_CODE_INVALID_ARGUMENT);
	assert_int_equal(psb_client_start(c, "", NULL, &err),
	        -PSB_CODE_INVALID_ARGUMENT);

	assert_int_equal(psb_client_status(c, "wrong", false, &st, &err),
	        -PSB_CODE_INTERNAL);
	assert_int_equal(psb_client_status(c, "garbage", false, &st, &err),
	        -PSB_CODE_INTERNAL);
	assert_non_null(strstr(err.message, "malformed"));

	// A daemon that holds the request: DEADLINE_EXCEEDED at the timeout.
	psb_client_set_timeout(c, 300);
	t0 = nng_clock();
	assert_int_equal(psb_client_status(c, "slow", false, &st, &err),
	        -PSB_CODE_DEADLINE_EXCEEDED);
	assert_true(nng_clock() - t0 >= 290);
	assert_non_null(strstr(err.message, "no answer from"));
	assert_non_null(strstr(err.message, "within 300 ms"));
	// Wait gets the grace period on top of its own timeout.
	t0 = nng_clock();
	assert_int_equal(psb_client_wait(c, "slow", 200, NULL, &err),
	        -PSB_CODE_DEADLINE_EXCEEDED);
	assert_true(nng_clock() - t0 >= 1150);
	// And the client still works afterwards.
	psb_client_set_timeout(c, 5000);
	assert_int_equal(psb_client_status(c, "sb1", false, &st, &err), 0);
	psb_sandbox_status_free(&st);
	psb_client_close(c);
	srv_stop(s);
}

static void
test_unreachable(void **state)
{
	psb_client_t       *c;
	psb_client_error_t  err;
	psb_platform_info_t pl;

	(void)state;
	assert_int_equal(
	        psb_client_open(
	                "ipc:///tmp/psbcli-nonexistent/x.sock", &c, &err),
	        0);
	psb_client_set_timeout(c, 200);
	memset(&err, 0, sizeof(err));
	assert_int_equal(
	        psb_client_platform(c, &pl, &err), -PSB_CODE_UNAVAILABLE);
	assert_int_equal(err.code, PSB_CODE_UNAVAILABLE);
	assert_non_null(
	        strstr(err.message, "podsandboxd is not reachable at "
	                            "ipc:///tmp/psbcli-nonexistent/x.sock"));
	// A Wait for ever still gives up waiting for the connection.
	assert_int_equal(psb_client_wait(c, "sb1", -1, NULL, &err),
	        -PSB_CODE_UNAVAILABLE);
	psb_client_close(c);

	assert_int_equal(psb_client_open("bogus://x", &c, &err),
	        -PSB_CODE_INVALID_ARGUMENT);
}

// ---- wait_async ----

typedef struct async_result {
	atomic_int done;
	int        code;
	uint32_t   status;
	char       msg[512];
} async_result;

static void
async_cb(void *arg, int code, const psb_exit_t *ex, const char *msg)
{
	async_result *r = arg;
	r->code         = code;
	if (ex != NULL) {
		r->status = ex->exit_status;
	}
	snprintf(r->msg, sizeof(r->msg), "%s", msg != NULL ? msg : "");
	atomic_store(&r->done, 1);
}

static void
test_wait_async(void **state)
{
	srv_t             *s = srv_start(canned);
	psb_client_t      *c = open_client(s);
	psb_client_error_t err;
	async_result       ok = {0}, missing = {0}, held = {0};

	(void)state;
	assert_int_equal(
	        psb_client_wait_async(c, "sb1", async_cb, &ok, &err), 0);
	assert_true(wait_until(&ok.done, 1, 5000));
	assert_int_equal(ok.code, 0);
	assert_int_equal(ok.status, 137);

	assert_int_equal(
	        psb_client_wait_async(c, "missing", async_cb, &missing, &err),
	        0);
	assert_true(wait_until(&missing.done, 1, 5000));
	assert_int_equal(missing.code, PSB_CODE_NOT_FOUND);
	assert_string_equal(missing.msg, "sandbox missing not found");

	// A held Wait: closing the client cancels it, the callback still
	// runs once, and close returns only after it.
	assert_int_equal(
	        psb_client_wait_async(c, "slow", async_cb, &held, &err), 0);
	assert_true(wait_until(&s->n_requests, 3, 5000));
	psb_client_close(c);
	assert_int_equal(atomic_load(&held.done), 1);
	assert_int_equal(held.code, PSB_CODE_CANCELLED);
	srv_stop(s);
}

// ---- subscription ----

typedef struct sub_result {
	pthread_mutex_t mtx;
	atomic_int      n;
	uint64_t        seq[16];
	int             code[16];
} sub_result;

static void
sub_cb(void *arg, const psb_event_t *ev, int code)
{
	sub_result *r = arg;
	int         i;

	pthread_mutex_lock(&r->mtx);
	i = atomic_load(&r->n);
	if (i < 16) {
		r->seq[i]  = ev != NULL ? ev->seq : 0;
		r->code[i] = code;
	}
	atomic_store(&r->n, i + 1);
	pthread_mutex_unlock(&r->mtx);
}

static void
test_subscribe_fills_gap(void **state)
{
	srv_t              *s = srv_start(canned);
	psb_client_t       *c = open_client(s);
	psb_client_error_t  err;
	psb_subscription_t *sub;
	sub_result          r = {.mtx = PTHREAD_MUTEX_INITIALIZER};
	pb_request         *req;

	(void)state;
	assert_int_equal(
	        psb_client_subscribe(c, s->ev_url, 0, sub_cb, &r, &sub, &err),
	        0);
	assert_true(wait_until(&s->pub_pipes, 1, 5000));
	for (int i = 0; i < 500 && !atomic_load(&s->events0_answered); i++) {
		nng_msleep(10);
	}
	assert_true(atomic_load(&s->events0_answered));
	srv_publish(s, 1);
	srv_publish(s, 2);
	srv_publish(s, 4);
	srv_publish(s, 2); // stale: dropped
	// One pipe delivers in order: the stale 2 would arrive before 5, so
	// once 5 is in, a stale delivery would show as the fifth callback.
	srv_publish(s, 5);
	assert_true(wait_until(&r.n, 5, 5000));
	psb_subscription_close(sub);
	assert_int_equal(atomic_load(&r.n), 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(r.seq[i], (uint64_t)i + 1);
		assert_int_equal(r.code[i], 0);
	}
	req = srv_last(s);
	assert_int_equal(
	        req->method_case, PODSANDBOX__V1__REQUEST__METHOD_EVENTS);
	assert_int_equal(req->events->since, 2);
	podsandbox__v1__request__free_unpacked(req, NULL);
	psb_client_close(c);
	srv_stop(s);
}

// A journal that has pruned what the subscriber asks for.
static void
truncated_handler(srv_t *s, const pb_request *req)
{
	Podsandbox__V1__EventsResponse eresp =
	        PODSANDBOX__V1__EVENTS_RESPONSE__INIT;
	pb_response resp = PODSANDBOX__V1__RESPONSE__INIT;
	pb_event    e[2];
	pb_event   *v[2] = {&e[0], &e[1]};

	if (req->method_case != PODSANDBOX__V1__REQUEST__METHOD_EVENTS) {
		srv_reply_error(s, PODSANDBOX__V1__CODE__UNIMPLEMENTED, "x");
		return;
	}
	for (int i = 0; i < 2; i++) {
		podsandbox__v1__event__init(&e[i]);
		e[i].seq = (uint64_t)i + 5;
	}
	if (req->events->since < 5) {
		eresp.truncated = true;
		eresp.n_events  = 2;
		eresp.events    = v;
	}
	eresp.oldest_seq = 5;
	eresp.newest_seq = 6;
	resp.result_case = PODSANDBOX__V1__RESPONSE__RESULT_EVENTS;
	resp.events      = &eresp;
	srv_reply(s, &resp);
}

static void
test_subscribe_data_loss(void **state)
{
	srv_t              *s = srv_start(truncated_handler);
	psb_client_t       *c = open_client(s);
	psb_client_error_t  err;
	psb_subscription_t *sub;
	sub_result          r = {.mtx = PTHREAD_MUTEX_INITIALIZER};

	(void)state;
	assert_int_equal(
	        psb_client_subscribe(c, s->ev_url, 1, sub_cb, &r, &sub, &err),
	        0);
	assert_true(wait_until(&r.n, 3, 5000));
	assert_true(wait_until(&s->pub_pipes, 1, 5000));
	srv_publish(s, 6); // already replayed
	srv_publish(s, 7);
	assert_true(wait_until(&r.n, 4, 5000));
	psb_subscription_close(sub);
	assert_int_equal(atomic_load(&r.n), 4);
	assert_int_equal(r.seq[0], 0);
	assert_int_equal(r.code[0], PSB_CODE_DATA_LOSS);
	assert_int_equal(r.seq[1], 5);
	assert_int_equal(r.seq[2], 6);
	assert_int_equal(r.seq[3], 7);
	psb_client_close(c);
	srv_stop(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_config_from_json),
	        cmocka_unit_test(test_config_errors),
	        cmocka_unit_test(test_code_name),
	        cmocka_unit_test(test_calls_decode),
	        cmocka_unit_test(test_call_errors),
	        cmocka_unit_test(test_unreachable),
	        cmocka_unit_test(test_wait_async),
	        cmocka_unit_test(test_subscribe_fills_gap),
	        cmocka_unit_test(test_subscribe_data_loss),
	};
	// PSB_TEST_FILTER=test_wait_async* runs a subset (cmocka pattern).
	if (getenv("PSB_TEST_FILTER") != NULL) {
		cmocka_set_test_filter(getenv("PSB_TEST_FILTER"));
	}
	return (psb_test_run_group(tests, NULL, NULL));
}

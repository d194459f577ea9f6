//
// podsandboxd - the rules a pod config must meet at Create, and its
// canonical form (see podconfig.h). The rules are listed for clients in
// docs/api.md ("Pod config rules"); keep the two together.
//
// Every message names the field path as the client wrote it
// ("create.config.port_mappings[1].host_ip") and quotes at most
// PSB_PODCONFIG_QUOTE_MAX bytes of the bad value.
//

#include "transport/podconfig.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

// An encoded PodSandboxConfig larger than this is refused: it is stored
// per sandbox and shown by Status, and Kubernetes bounds annotations
// alone to 256 KiB. Half of the server's default message cap.
#define PC_CONFIG_MAX  (512 * 1024)
#define PC_HANDLER_MAX 64
// The kernel's nodename holds 64 bytes; Kubernetes wants RFC 1123 labels
// of at most 63.
#define PC_HOSTNAME_MAX 63
// Kubernetes' sysctl name rule (validation.IsValidSysctlName).
#define PC_SYSCTL_MAX 253
#define PC_PATH_MAX   4096
// cgroup v1 cpu.shares and CFS period bounds (microseconds).
#define PC_SHARES_MAX 262144
#define PC_PERIOD_MIN 1000
#define PC_PERIOD_MAX 1000000
#define PC_ID_MAX     4294967294LL // (uid_t)-1 means "no change"
#define CFG           "create.config."
#define LNX           CFG "linux."
#define SC            LNX "security_context."

typedef Podsandbox__V1__PodSandboxConfig__LabelsEntry pc_entry_t;

const char *
psb_podconfig_quote(char *buf, size_t size, const char *s)
{
	size_t i;

	for (i = 0;
	        s[i] != '\0' && i + 1 < size && i < PSB_PODCONFIG_QUOTE_MAX;
	        i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = (c < 0x20 || c == 0x7f || c == '"') ? '?' : (char)c;
	}
	buf[i] = '\0';
	return (buf);
}

static bool
pc_alnum(char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	        (c >= '0' && c <= '9'));
}

static bool
pc_ip_valid(const char *s)
{
	unsigned char addr[16];

	return (inet_pton(AF_INET, s, addr) == 1 ||
	        inet_pton(AF_INET6, s, addr) == 1);
}

int
psb_podconfig_check_keys(
        const char *path, size_t n, void *const *entries, psb_error_t *err)
{
	for (size_t i = 0; i < n; i++) {
		const pc_entry_t *e = entries[i];

		if (e->key == NULL || e->key[0] == '\0') {
			return (psb_error_make(
			        err, PSB_EINVAL, "%s: empty key", path));
		}
	}
	return (0);
}

static int
pc_ports(const Podsandbox__V1__PodSandboxConfig *c, psb_error_t *err)
{
	char q[PSB_PODCONFIG_QUOTE_MAX + 1];

	for (size_t i = 0; i < c->n_port_mappings; i++) {
		const Podsandbox__V1__PortMapping *pm = c->port_mappings[i];
		const int32_t ports[] = {pm->container_port, pm->host_port};

		for (int k = 0; k < 2; k++) {
			if (ports[k] < 0 || ports[k] > 65535) {
				return (psb_error_make(err, PSB_EINVAL,
				        CFG "port_mappings[%zu].%s: %d is out "
				            "of range (0-65535)",
				        i, k ? "host_port" : "container_port",
				        ports[k]));
			}
		}
		if (pm->host_ip != NULL && pm->host_ip[0] != '\0' &&
		        !pc_ip_valid(pm->host_ip)) {
			return (psb_error_make(err, PSB_EINVAL,
			        CFG "port_mappings[%zu].host_ip: \"%s\" is "
			            "not an IPv4 or IPv6 address",
			        i,
			        psb_podconfig_quote(
			                q, sizeof(q), pm->host_ip)));
		}
	}
	return (0);
}

// pc_label checks one RFC 1123 label (or sysctl segment): starts and ends
// with a letter or digit, and in between also the characters of inner.
static bool
pc_label(const char *s, size_t n, const char *inner)
{
	if (n == 0 || !pc_alnum(s[0]) || !pc_alnum(s[n - 1])) {
		return (false);
	}
	for (size_t i = 1; i + 1 < n; i++) {
		if (!pc_alnum(s[i]) && strchr(inner, s[i]) == NULL) {
			return (false);
		}
	}
	return (true);
}

// pc_dotted checks labels separated by any of seps (at least one label).
static bool
pc_dotted(const char *s, const char *seps, const char *inner)
{
	for (;;) {
		size_t n = strcspn(s, seps);

		if (!pc_label(s, n, inner)) {
			return (false);
		}
		if (s[n] == '\0') {
			return (true);
		}
		s += n + 1;
	}
}

static int
pc_hostname(const char *h, psb_error_t *err)
{
	char   q[PSB_PODCONFIG_QUOTE_MAX + 1];
	size_t n = strlen(h);

	if (n == 0) {
		return (0); // the host's name, or the runtime's choice
	}
	if (n > PC_HOSTNAME_MAX) {
		return (psb_error_make(err, PSB_EINVAL,
		        CFG "hostname: %zu characters, at most %d", n,
		        PC_HOSTNAME_MAX));
	}
	if (!pc_dotted(h, ".", "-")) {
		return (psb_error_make(err, PSB_EINVAL,
		        CFG "hostname: \"%s\" is not a host name (RFC 1123 "
		            "labels of letters, digits and '-', joined by "
		            "'.')",
		        psb_podconfig_quote(q, sizeof(q), h)));
	}
	return (0);
}

// pc_path: the node paths a config names are used as they are, so they
// may not climb out of where they point with "..". absolute: must start
// with '/'.
static int
pc_path(const char *field, const char *p, bool absolute, psb_error_t *err)
{
	char   q[PSB_PODCONFIG_QUOTE_MAX + 1];
	size_t n = strlen(p);

	if (n == 0) {
		return (0);
	}
	if (n > PC_PATH_MAX) {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: %zu bytes, at most %d", field, n, PC_PATH_MAX));
	}
	if (absolute && p[0] != '/') {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: \"%s\" is not an absolute path", field,
		        psb_podconfig_quote(q, sizeof(q), p)));
	}
	for (const char *s = p; *s != '\0';) {
		size_t c = strcspn(s, "/");

		if (c == 2 && s[0] == '.' && s[1] == '.') {
			return (psb_error_make(err, PSB_EINVAL,
			        "%s: \"%s\" has a \"..\" component", field,
			        psb_podconfig_quote(q, sizeof(q), p)));
		}
		s += c + (s[c] == '/');
	}
	return (0);
}

static int
pc_sysctls(const Podsandbox__V1__LinuxPodSandboxConfig *l, psb_error_t *err)
{
	char q[PSB_PODCONFIG_QUOTE_MAX + 1];
	int  rv;

	if ((rv = psb_podconfig_check_keys(LNX "sysctls", l->n_sysctls,
	             (void *const *)l->sysctls, err)) != 0) {
		return (rv);
	}
	for (size_t i = 0; i < l->n_sysctls; i++) {
		const char *k = l->sysctls[i]->key;

		// Segments of lower-case letters, digits, '-' and '_',
		// joined by '.' or '/': nothing that can leave /proc/sys.
		if (strlen(k) > PC_SYSCTL_MAX || !pc_dotted(k, "./", "-_") ||
		        strpbrk(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != NULL) {
			return (psb_error_make(err, PSB_EINVAL,
			        LNX "sysctls: \"%s\" is not a sysctl name "
			            "(lower-case letters, digits, '-' and "
			            "'_', in segments joined by '.' or '/', "
			            "at most %d characters)",
			        psb_podconfig_quote(q, sizeof(q), k),
			        PC_SYSCTL_MAX));
		}
	}
	return (0);
}

static int
pc_resources(
        const Podsandbox__V1__LinuxContainerResources *r, psb_error_t *err)
{
	if (r == NULL) {
		return (0);
	}
	if (r->memory_limit_in_bytes < 0) {
		return (psb_error_make(err, PSB_EINVAL,
		        LNX "resources.memory_limit_in_bytes: %lld is "
		            "negative",
		        (long long)r->memory_limit_in_bytes));
	}
	if (r->cpu_shares < 0 || r->cpu_shares > PC_SHARES_MAX) {
		return (psb_error_make(err, PSB_EINVAL,
		        LNX "resources.cpu_shares: %lld is out of range "
		            "(0-%d)",
		        (long long)r->cpu_shares, PC_SHARES_MAX));
	}
	if (r->cpu_period != 0 && (r->cpu_period < PC_PERIOD_MIN ||
	                                  r->cpu_period > PC_PERIOD_MAX)) {
		return (psb_error_make(err, PSB_EINVAL,
		        LNX "resources.cpu_period: %lld is out of range (0, "
		            "or %d-%d microseconds)",
		        (long long)r->cpu_period, PC_PERIOD_MIN,
		        PC_PERIOD_MAX));
	}
	if (r->cpu_quota < -1) {
		return (psb_error_make(err, PSB_EINVAL,
		        LNX "resources.cpu_quota: %lld is out of range (-1 "
		            "for no limit, or more)",
		        (long long)r->cpu_quota));
	}
	return (0);
}

static int
pc_id(const char *field, const Podsandbox__V1__Int64Value *v, psb_error_t *err)
{
	if (v != NULL && (v->value < 0 || v->value > PC_ID_MAX)) {
		return (psb_error_make(err, PSB_EINVAL,
		        "%s: %lld is out of range (0-%lld)", field,
		        (long long)v->value, PC_ID_MAX));
	}
	return (0);
}

static int
pc_security(const Podsandbox__V1__LinuxSandboxSecurityContext *sc,
        psb_error_t                                           *err)
{
	int rv;

	if (sc == NULL) {
		return (0);
	}
	if ((rv = pc_id(SC "run_as_user", sc->run_as_user, err)) != 0 ||
	        (rv = pc_id(SC "run_as_group", sc->run_as_group, err)) != 0) {
		return (rv);
	}
	for (size_t i = 0; i < sc->n_supplemental_groups; i++) {
		int64_t g = sc->supplemental_groups[i];

		if (g < 0 || g > PC_ID_MAX) {
			return (psb_error_make(err, PSB_EINVAL,
			        SC "supplemental_groups[%zu]: %lld is out of "
			           "range (0-%lld)",
			        i, (long long)g, PC_ID_MAX));
		}
	}
	if ((rv = pc_path(SC "seccomp_profile_path", sc->seccomp_profile_path,
	             false, err)) != 0 ||
	        (sc->seccomp != NULL &&
	                (rv = pc_path(SC "seccomp.localhost_ref",
	                         sc->seccomp->localhost_ref, false, err)) !=
	                        0) ||
	        (sc->apparmor != NULL &&
	                (rv = pc_path(SC "apparmor.localhost_ref",
	                         sc->apparmor->localhost_ref, false, err)) !=
	                        0)) {
		return (rv);
	}
	return (0);
}

static int
pc_linux(const Podsandbox__V1__LinuxPodSandboxConfig *l, psb_error_t *err)
{
	int rv;

	if (l == NULL) {
		return (0);
	}
	if ((rv = pc_sysctls(l, err)) != 0 ||
	        (rv = pc_resources(l->resources, err)) != 0 ||
	        (rv = pc_security(l->security_context, err)) != 0 ||
	        (rv = pc_path(LNX "cgroup_parent", l->cgroup_parent, false,
	                 err)) != 0) {
		return (rv);
	}
	return (0);
}

static int
pc_metadata(const Podsandbox__V1__PodSandboxMetadata *md, psb_error_t *err)
{
	if (md == NULL) {
		return (psb_error_make(
		        err, PSB_EINVAL, CFG "metadata: required"));
	}
	if (md->name == NULL || md->name[0] == '\0') {
		return (psb_error_make(
		        err, PSB_EINVAL, CFG "metadata.name: required"));
	}
	if (md->namespace_ == NULL || md->namespace_[0] == '\0') {
		return (psb_error_make(
		        err, PSB_EINVAL, CFG "metadata.namespace: required"));
	}
	if (md->uid == NULL || md->uid[0] == '\0') {
		return (psb_error_make(
		        err, PSB_EINVAL, CFG "metadata.uid: required"));
	}
	return (0);
}

int
psb_podconfig_check(
        const Podsandbox__V1__PodSandboxConfig *c, psb_error_t *err)
{
	const Podsandbox__V1__DNSConfig *dns = c->dns_config;
	char                             q[PSB_PODCONFIG_QUOTE_MAX + 1];
	size_t                           size;
	int                              rv;

	if ((rv = pc_metadata(c->metadata, err)) != 0 ||
	        (rv = pc_hostname(c->hostname, err)) != 0 ||
	        (rv = pc_path(CFG "log_directory", c->log_directory, true,
	                 err)) != 0 ||
	        (rv = pc_ports(c, err)) != 0) {
		return (rv);
	}
	for (size_t i = 0; dns != NULL && i < dns->n_servers; i++) {
		if (!pc_ip_valid(dns->servers[i])) {
			return (psb_error_make(err, PSB_EINVAL,
			        CFG
			        "dns_config.servers[%zu]: \"%s\" is not an "
			        "IPv4 or IPv6 address",
			        i,
			        psb_podconfig_quote(
			                q, sizeof(q), dns->servers[i])));
		}
	}
	if ((rv = psb_podconfig_check_keys(CFG "labels", c->n_labels,
	             (void *const *)c->labels, err)) != 0 ||
	        (rv = psb_podconfig_check_keys(CFG "annotations",
	                 c->n_annotations, (void *const *)c->annotations,
	                 err)) != 0 ||
	        (rv = pc_linux(c->linux, err)) != 0) {
		return (rv);
	}
	size = podsandbox__v1__pod_sandbox_config__get_packed_size(c);
	if (size > PC_CONFIG_MAX) {
		return (psb_error_make(err, PSB_EINVAL,
		        "create.config: %zu bytes encoded, more than the "
		        "limit of %d",
		        size, PC_CONFIG_MAX));
	}
	return (0);
}

int
psb_podconfig_check_handler(const char *h, psb_error_t *err)
{
	char   q[PSB_PODCONFIG_QUOTE_MAX + 1];
	size_t n = strlen(h);

	for (size_t i = 0; i < n; i++) {
		if (!pc_alnum(h[i]) && h[i] != '.' && h[i] != '_' &&
		        h[i] != '-') {
			return (psb_error_make(err, PSB_EINVAL,
			        "create.runtime_handler: \"%s\" has a "
			        "character other than letters, digits, '.', "
			        "'_' and '-'",
			        psb_podconfig_quote(q, sizeof(q), h)));
		}
	}
	if (n > PC_HANDLER_MAX) {
		return (psb_error_make(err, PSB_EINVAL,
		        "create.runtime_handler: %zu characters, at most %d",
		        n, PC_HANDLER_MAX));
	}
	return (0);
}

//
// Canonical form.
//

typedef struct pc_slot {
	pc_entry_t *e;
	size_t      order; // position on the wire
} pc_slot_t;

static int
pc_slot_cmp(const void *a, const void *b)
{
	const pc_slot_t *x = a, *y = b;
	int              c = strcmp(x->e->key, y->e->key);

	if (c != 0) {
		return (c);
	}
	return (x->order < y->order ? -1 : x->order > y->order);
}

// pc_canonical sorts the n entries by key (then by wire order) and moves
// the last of each key to the front, in order; returns how many are kept.
static size_t
pc_canonical(size_t n, void **entries)
{
	pc_slot_t *v;
	size_t     kept = 0, dropped;

	if (n < 2) {
		return (n);
	}
	v = xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i].e     = entries[i];
		v[i].order = i;
	}
	qsort(v, n, sizeof(*v), pc_slot_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i + 1 == n || strcmp(v[i].e->key, v[i + 1].e->key) != 0) {
			entries[kept++] = v[i].e;
		}
	}
	dropped = kept;
	for (size_t i = 0; i + 1 < n; i++) {
		if (strcmp(v[i].e->key, v[i + 1].e->key) == 0) {
			entries[dropped++] = v[i].e;
		}
	}
	free(v);
	return (kept);
}

void
psb_podconfig_canonicalize(
        Podsandbox__V1__PodSandboxConfig *c, psb_podconfig_counts_t *saved)
{
	saved->labels      = c->n_labels;
	saved->annotations = c->n_annotations;
	saved->sysctls     = c->linux != NULL ? c->linux->n_sysctls : 0;
	c->n_labels        = pc_canonical(c->n_labels, (void **)c->labels);
	c->n_annotations =
	        pc_canonical(c->n_annotations, (void **)c->annotations);
	if (c->linux != NULL) {
		c->linux->n_sysctls = pc_canonical(
		        c->linux->n_sysctls, (void **)c->linux->sysctls);
	}
}

void
psb_podconfig_restore(Podsandbox__V1__PodSandboxConfig *c,
        const psb_podconfig_counts_t                   *saved)
{
	c->n_labels      = saved->labels;
	c->n_annotations = saved->annotations;
	if (c->linux != NULL) {
		c->linux->n_sysctls = saved->sysctls;
	}
}

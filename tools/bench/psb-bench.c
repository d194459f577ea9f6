//
// psb-bench - measures podsandboxd through its public client library.
//
//   psb-bench SUITE [OPTION]...   (see usage() or --help for the options)
//
// "status": C client threads (each with its own libpodsandbox client and
// REQ socket) send Status for one sandbox M times each, back to back; by
// default one run with 1 client and one with 16. Then one client sends
// List M' times over the bench's N sandboxes bench-l-<pid>-<i> (created
// for it, not started, removed after). Each run prints the round-trip
// median, p90, p99 and max, the throughput, and, with --daemon-pid, the
// daemon's CPU time per call (utime + stime from /proc). The sandbox
// "bench-status" is created first if missing (and then removed again).
//
// "lifecycle": K warm-up sandboxes (default 2, not counted), then N
// sandboxes one after the other (default 20): Create+Start, Status, Stop
// and Shutdown latency (median, p90, p99, max), then N more, each with a
// kill -9 of its pause pid and the time until Status shows EXITED (polled
// every 0.2 ms). The kill -9 round is skipped when the daemon's runtime
// is a test double, whose pids are not processes (and under `all`, where
// the exit suite measures it).
//
// "concurrency": N sandboxes (default 50) with C in flight (default 8):
// C threads, each with its own client, take sandbox indexes from a shared
// counter. Phase 1 creates and starts all N, phase 2 (once phase 1 is
// over) stops and shuts all N down. For each phase: pods/s (N over the
// phase's wall time), the latency per sandbox (median, p90, p99, max)
// and, with --daemon-pid, the daemon's CPU time per sandbox. On an error
// the sandboxes created so far are still shut down, and the exit status
// is 1.
//
// "exit": N sandboxes (default 20) started, then for each a kill -9 of its
// pause pid: the time until Status says EXITED and until the EXITED event
// arrives through a subscription (psb_client_subscribe). Skipped on a
// test double.
//
// "memory": the daemon's VmRSS before and after N sandboxes (default 1000
// on a test double, 100 otherwise) are created and started: KiB per
// sandbox.
//
// "recovery": N sandboxes (default 10000 on a test double, 100 otherwise)
// created and started, then a kill -9 of the daemon, which the bench
// starts again with the same command line, environment and working
// directory (read from /proc before the kill), detached; the time from
// the restart until Version answers and until every sandbox answers
// Status with its true state: READY, or EXITED on a scripted test double
// that keeps its fake tasks in memory only (no world=PATH).
//
// "soak": N full lifecycles (default 10000 on a test double, 1000
// otherwise) with C in flight (default 4), in rounds of K (default N/20);
// after each round, on a quiet daemon, a sample of its VmRSS, open fds,
// db + wal size, retained journal and sandbox count. After a warm-up of
// the first 10 %, the verdict (see usage()) says whether they stayed flat;
// exit status 3 if not. Not part of `all`: it is long, and wants a daemon
// with a small --journal-keep.
//
// "all": memory, recovery and exit on one pool of sandboxes (memory's,
// topped up by recovery, its first 20 killed by exit), then status,
// lifecycle (without its kill -9 round) and concurrency; each with its
// defaults.
//
// Percentiles are nearest-rank; a p90 or p99 that cannot be told from the
// max (fewer than 10 or 100 samples) is shown as "-" (null in JSON).
//
// Timing is what a client sees, so it includes nng's ipc transport. It is
// a tool, not a test: nothing here asserts a figure.
//

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: psb-bench SUITE [OPTION]...\n"
	        "\n"
	        "  status       C clients send M Status calls each (default: "
	        "a run with 1\n"
	        "               client, then one with 16; M 10000) for the "
	        "sandbox\n"
	        "               \"bench-status\" (created if missing, then "
	        "removed again);\n"
	        "               then 1 client sends M List calls (default "
	        "1000) over the\n"
	        "               bench's --list sandboxes (created, not "
	        "started, removed\n"
	        "               after). Round trip median, p90, p99, max in "
	        "us, calls/s.\n"
	        "  lifecycle    K warm-up sandboxes (default 2, not counted), "
	        "then N\n"
	        "               sandboxes (default 20) one after the other: "
	        "Create+Start,\n"
	        "               Status, Stop and Shutdown latency; then N "
	        "more, each with a\n"
	        "               kill -9 of its pause pid until Status says "
	        "EXITED (skipped\n"
	        "               when the daemon's runtime is a test double: "
	        "its pids are not\n"
	        "               processes).\n"
	        "  concurrency  N sandboxes (default 50), C in flight "
	        "(default 8, or N if\n"
	        "               fewer; C <= N), one client each: phase 1 "
	        "Create+Start of\n"
	        "               all, then phase 2 Stop+Shutdown of all. Per "
	        "phase: pods/s\n"
	        "               (N / the phase's wall time) and the latency "
	        "per sandbox.\n"
	        "               On an error what was created is still shut "
	        "down and no\n"
	        "               figures are printed.\n"
	        "  exit         N sandboxes (default 20) started, then one "
	        "after the other a\n"
	        "               kill -9 of its pause pid: the time until "
	        "Status says EXITED\n"
	        "               (polled every 0.2 ms) and until the EXITED "
	        "event arrives on\n"
	        "               the events socket. Skipped on a test double. "
	        "Then removed.\n"
	        "  memory       The daemon's VmRSS (/proc/PID/status) "
	        "before and after N\n"
	        "               sandboxes (default 1000 on a test double, "
	        "100 otherwise) are\n"
	        "               created and started: KiB per sandbox. Then "
	        "removed. Needs\n"
	        "               --daemon-pid. Freed memory is reused first: "
	        "on a daemon that\n"
	        "               once held more (peak VmHWM), the figure is "
	        "low (it says so).\n"
	        "  recovery     N sandboxes (default 10000 on a test double, "
	        "100 otherwise)\n"
	        "               created and started, then kill -9 of the "
	        "daemon (pid checked\n"
	        "               to be podsandboxd); the bench starts it "
	        "again (its command\n"
	        "               line, environment and working directory "
	        "from /proc, in a new\n"
	        "               session, output to --daemon-log) and reports "
	        "the time from the\n"
	        "               restart until Version answers and until "
	        "every sandbox answers\n"
	        "               Status with its true state, and prints the "
	        "new daemon's pid;\n"
	        "               then the sandboxes are stopped and removed. "
	        "Needs\n"
	        "               --daemon-pid. The true state is READY; on "
	        "the scripted test\n"
	        "               double it is EXITED, its fake tasks dying "
	        "with it, unless it\n"
	        "               runs with --runtime-options world=PATH "
	        "(READY; but it then\n"
	        "               rewrites that file after every operation, "
	        "which grows as N^2).\n"
	        "  soak         N full lifecycles (default 10000 on a test "
	        "double, 1000\n"
	        "               otherwise), C in flight (default 4), one "
	        "client each:\n"
	        "               Create, Start, Status (must say READY), "
	        "Stop, Shutdown; in\n"
	        "               rounds of K (--every, default N/20). After "
	        "each round, with\n"
	        "               none of the bench's sandboxes left, a "
	        "sample: the daemon's\n"
	        "               VmRSS and open fds (/proc/PID/status, "
	        "/proc/PID/fd; with\n"
	        "               --daemon-pid), the sizes of the db and its "
	        "-wal (--db, or\n"
	        "               the daemon's own --db), journal entries "
	        "retained (Events)\n"
	        "               and sandboxes (Version). Flat: VmRSS max - "
	        "min <=\n"
	        "               --rss-slack from N/10 lifecycles on (the "
	        "first 10 %% are\n"
	        "               warm-up); open fds (the lowest of 4 "
	        "readings in 75 ms)\n"
	        "               all equal from the first round on; for the "
	        "db and the -wal\n"
	        "               each, the largest size after N/2 <= the "
	        "largest from N/10\n"
	        "               to N/2 + 10 %% + 64 KiB; sandboxes and "
	        "commit failures the\n"
	        "               same at every sample, the first included. "
	        "Exit status 3\n"
	        "               if not flat. Start the daemon with a "
	        "--journal-keep well\n"
	        "               below the journal entries N/10 lifecycles "
	        "make (7 a\n"
	        "               lifecycle on the scripted runtime), and N "
	        "large enough\n"
	        "               (1000 or more) that the first checkpoint "
	        "(at 4 MiB of\n"
	        "               -wal) comes before N/2; or the db still "
	        "grows when the\n"
	        "               verdict looks.\n"
	        "  all          Every suite with its defaults, reusing "
	        "sandboxes: memory,\n"
	        "               recovery (memory's sandboxes and more), exit "
	        "(the first 20\n"
	        "               of them), then status, lifecycle (without "
	        "its kill -9 round:\n"
	        "               exit measures that) and concurrency. Needs "
	        "--daemon-pid;\n"
	        "               exit status 1 if any suite failed.\n"
	        "\n"
	        "  --requests N      status: Status calls per client and "
	        "List calls; soak:\n"
	        "                    lifecycles; the others: sandboxes\n"
	        "  --clients C       status: clients (1-%d), one run; "
	        "concurrency, soak: in\n"
	        "                    flight;\n"
	        "                    recovery: clients asking Status after "
	        "the restart\n"
	        "                    (default 16). Each client has its own "
	        "socket.\n"
	        "  --every K         soak: a sample every K lifecycles "
	        "(default N/20; at\n"
	        "                    most N/4)\n"
	        "  --db PATH         soak: the daemon's database (default: "
	        "the --db of\n"
	        "                    /proc/PID/cmdline, relative to its "
	        "cwd)\n"
	        "  --rss-slack KIB   soak: the VmRSS spread allowed after "
	        "warm-up (default\n"
	        "                    the larger of 2048 KiB and 10 %% of "
	        "the lowest VmRSS)\n"
	        "  --warmup K        lifecycle: uncounted sandboxes first (0 "
	        "for none)\n"
	        "  --list N          status: List over N sandboxes of the "
	        "bench's (default\n"
	        "                    100; 0 for no List run)\n"
	        "  --config FILE     lifecycle, concurrency, exit, memory, "
	        "recovery, soak,\n"
	        "                    all: pod config JSON, crictl's form\n"
	        "  --network host|pod  the same suites, without --config: "
	        "the built-in pod\n"
	        "                    config's network, namespace_options."
	        "network NODE (host,\n"
	        "                    the default) or POD (needs the "
	        "daemon's CNI set up)\n"
	        "  --socket URL      API URL (default %s)\n"
	        "  --events-socket URL  exit, all: the events (PUB) URL\n"
	        "                    (default %s)\n"
	        "  --daemon-pid PID  podsandboxd's pid. status, concurrency: "
	        "also report its\n"
	        "                    CPU time per call or per sandbox (utime "
	        "+ stime of\n"
	        "                    /proc/PID/stat: podsandboxd's own, not "
	        "containerd's or a\n"
	        "                    shim's); soak: sample its VmRSS and "
	        "fds; memory,\n"
	        "                    recovery, all: required\n"
	        "  --daemon-log FILE  recovery, all: where the restarted "
	        "daemon's stdout and\n"
	        "                    stderr go (appended; default /dev/null)\n"
	        "  --json FILE       also write the results as one JSON "
	        "document: per suite\n"
	        "                    run its status, runtime, parameters and "
	        "figures (median,\n"
	        "                    p90, p99, max or a value, with units)\n"
	        "\n"
	        "Latencies are in ms (status: us), as a client sees them, "
	        "nng's ipc\n"
	        "included. Percentiles are nearest-rank; p90 and p99 show "
	        "\"-\" below 10 and\n"
	        "100 samples (they would be the max). Sandbox ids: "
	        "bench-<pid>-<i>\n"
	        "(lifecycle), bench-c-<pid>-<i> (concurrency), "
	        "bench-l-<pid>-<i> (status),\n"
	        "bench-x-, bench-m-, bench-r-, bench-s-<pid>-<i> (exit, "
	        "memory, recovery,\n"
	        "soak; under all, memory's are reused).\n"
	        "Exit status: 0 done, 1 a call failed, 2 a usage "
	        "error, 3 soak: not flat.\n",
	        MAX_CLIENTS, PSB_CLIENT_DEFAULT_URL,
	        PSB_CLIENT_DEFAULT_EVENTS_URL);
}

static int usage_error(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

// usage_error prints "psb-bench: <msg>" and a pointer to --help; returns
// the usage exit status, 2.
static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("psb-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nRun 'psb-bench --help' for usage.\n", stderr);
	return (2);
}

// parse_num reads a whole decimal number from min to max into *out.
static bool
parse_num(const char *s, long min, long max, long *out)
{
	char *end;
	long  v;

	if (*s < '0' || *s > '9') {
		return (false);
	}
	errno = 0;
	v     = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		return (false);
	}
	*out = v;
	return (true);
}

enum {
	OPT_CLIENTS    = 1 << 0,
	OPT_REQUESTS   = 1 << 1,
	OPT_SOCKET     = 1 << 2,
	OPT_PID        = 1 << 3,
	OPT_CONFIG     = 1 << 4,
	OPT_WARMUP     = 1 << 5,
	OPT_JSON       = 1 << 6,
	OPT_NETWORK    = 1 << 7,
	OPT_LIST       = 1 << 8,
	OPT_EVENTS     = 1 << 9,
	OPT_DAEMON_LOG = 1 << 10,
	OPT_EVERY      = 1 << 11,
	OPT_DB         = 1 << 12,
	OPT_RSS_SLACK  = 1 << 13,
};

// Long-only options.
enum {
	LONG_JSON = 256,
	LONG_NETWORK,
	LONG_LIST,
	LONG_EVENTS,
	LONG_DAEMON_LOG,
	LONG_EVERY,
	LONG_DB,
	LONG_RSS_SLACK,
};

#define OPT_ALL_SUITES (OPT_SOCKET | OPT_JSON)
#define OPT_POD        (OPT_CONFIG | OPT_NETWORK)

static const struct {
	const char *name;
	int         allowed; // options besides OPT_ALL_SUITES
	bool        need_pid;
} suites[] = {
        {"status", OPT_CLIENTS | OPT_REQUESTS | OPT_PID | OPT_LIST, false},
        {"lifecycle", OPT_REQUESTS | OPT_WARMUP | OPT_POD, false},
        {"concurrency", OPT_CLIENTS | OPT_REQUESTS | OPT_PID | OPT_POD, false},
        {"exit", OPT_REQUESTS | OPT_EVENTS | OPT_POD, false},
        {"memory", OPT_REQUESTS | OPT_PID | OPT_POD, true},
        {"recovery",
                OPT_CLIENTS | OPT_REQUESTS | OPT_PID | OPT_DAEMON_LOG |
                        OPT_POD,
                true},
        {"soak",
                OPT_CLIENTS | OPT_REQUESTS | OPT_PID | OPT_EVERY | OPT_DB |
                        OPT_RSS_SLACK | OPT_POD,
                false},
        {"all", OPT_PID | OPT_EVENTS | OPT_DAEMON_LOG | OPT_POD, true},
};

#define SUITE_NAMES \
	"status, lifecycle, concurrency, exit, memory, recovery, soak or all"

// run_one runs a suite as one result of the report.
static int
run_one(const char *suite, bench_opts_t *o, bench_pool_t *pool)
{
	int rv;

	report_begin(suite);
	if (strcmp(suite, "status") == 0) {
		rv = bench_status(o);
	} else if (strcmp(suite, "lifecycle") == 0) {
		rv = bench_lifecycle(o, !o->in_all);
	} else if (strcmp(suite, "concurrency") == 0) {
		rv = bench_concurrency(o);
	} else if (strcmp(suite, "exit") == 0) {
		rv = bench_exit(o, pool);
	} else if (strcmp(suite, "memory") == 0) {
		rv = bench_memory(o, pool);
	} else if (strcmp(suite, "soak") == 0) {
		rv = bench_soak(o);
	} else {
		rv = bench_recovery(o, pool);
	}
	report_end(rv);
	fflush(stdout);
	return (rv);
}

// run_all: memory, recovery and exit share one pool (removed after exit);
// memory goes first, so that its baseline is a daemon that has not yet
// grown its heap for the others. Every suite runs even if one failed.
static int
run_all(bench_opts_t *o)
{
	static const char *const order[] = {"memory", "recovery", "exit",
	        "status", "lifecycle", "concurrency"};
	bench_pool_t             pool;
	int                      failed = 0;

	memset(&pool, 0, sizeof(pool));
	o->in_all = true;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		bool shares = i < 3;

		if (i > 0) {
			printf("\n");
		}
		if (run_one(order[i], o, shares ? &pool : NULL) != 0) {
			fprintf(stderr, "psb-bench: all: %s failed\n",
			        order[i]);
			failed++;
		}
		if (i == 2 && pool.cfg != NULL &&
		        pool_clear(o->url, &pool) != 0) {
			failed++;
		}
	}
	printf("\nall: %d of 6 suites failed; the daemon's pid is now %ld\n",
	        failed, o->daemon_pid);
	return (failed > 0 ? 1 : 0);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"clients", required_argument, NULL, 'c'},
	        {"requests", required_argument, NULL, 'n'},
	        {"socket", required_argument, NULL, 's'},
	        {"daemon-pid", required_argument, NULL, 'p'},
	        {"config", required_argument, NULL, 'f'},
	        {"warmup", required_argument, NULL, 'w'},
	        {"json", required_argument, NULL, LONG_JSON},
	        {"network", required_argument, NULL, LONG_NETWORK},
	        {"list", required_argument, NULL, LONG_LIST},
	        {"events-socket", required_argument, NULL, LONG_EVENTS},
	        {"daemon-log", required_argument, NULL, LONG_DAEMON_LOG},
	        {"every", required_argument, NULL, LONG_EVERY},
	        {"db", required_argument, NULL, LONG_DB},
	        {"rss-slack", required_argument, NULL, LONG_RSS_SLACK},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	static const struct {
		const char *name;
		int         mask;
	} names[] = {
	        {"--clients", OPT_CLIENTS},
	        {"--requests", OPT_REQUESTS},
	        {"--socket", OPT_SOCKET},
	        {"--daemon-pid", OPT_PID},
	        {"--config", OPT_CONFIG},
	        {"--warmup", OPT_WARMUP},
	        {"--json", OPT_JSON},
	        {"--network", OPT_NETWORK},
	        {"--list", OPT_LIST},
	        {"--events-socket", OPT_EVENTS},
	        {"--daemon-log", OPT_DAEMON_LOG},
	        {"--every", OPT_EVERY},
	        {"--db", OPT_DB},
	        {"--rss-slack", OPT_RSS_SLACK},
	};
	bench_opts_t o = {
	        .url        = PSB_CLIENT_DEFAULT_URL,
	        .events_url = PSB_CLIENT_DEFAULT_EVENTS_URL,
	        .network    = "host",
	        .daemon_log = "/dev/null",
	        .warmup     = 2,
	        .list       = 100,
	};
	const char *json  = NULL;
	FILE       *jf    = NULL;
	long        num   = 0;
	int         given = 0;
	int         allowed;
	const char *suite;
	size_t      si;
	int         ch;
	int         rv;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:n:s:p:f:w:h", opts, NULL)) !=
	        -1) {
		switch (ch) {
		case 'c':
			if (!parse_num(optarg, 1, MAX_CLIENTS, &num)) {
				return (usage_error("--clients: expected a "
				                    "number from 1 to %d, got "
				                    "'%s'",
				        MAX_CLIENTS, optarg));
			}
			o.clients = (int)num;
			given |= OPT_CLIENTS;
			break;
		case 'n':
			if (!parse_num(optarg, 1, MAX_REQUESTS, &num)) {
				return (usage_error("--requests: expected a "
				                    "number from 1 to %d, got "
				                    "'%s'",
				        MAX_REQUESTS, optarg));
			}
			o.requests = (int)num;
			given |= OPT_REQUESTS;
			break;
		case 'w':
			if (!parse_num(optarg, 0, MAX_WARMUP, &num)) {
				return (usage_error("--warmup: expected a "
				                    "number from 0 to %d, got "
				                    "'%s'",
				        MAX_WARMUP, optarg));
			}
			o.warmup = (int)num;
			given |= OPT_WARMUP;
			break;
		case LONG_LIST:
			if (!parse_num(optarg, 0, MAX_REQUESTS, &num)) {
				return (usage_error("--list: expected a "
				                    "number from 0 to %d, got "
				                    "'%s'",
				        MAX_REQUESTS, optarg));
			}
			o.list = (int)num;
			given |= OPT_LIST;
			break;
		case LONG_EVERY:
			if (!parse_num(optarg, 1, MAX_REQUESTS, &num)) {
				return (usage_error("--every: expected a "
				                    "number from 1 to %d, got "
				                    "'%s'",
				        MAX_REQUESTS, optarg));
			}
			o.every = (int)num;
			given |= OPT_EVERY;
			break;
		case LONG_DB:
			o.db_path = optarg;
			given |= OPT_DB;
			break;
		case LONG_RSS_SLACK:
			if (!parse_num(optarg, 1, INT_MAX, &o.rss_slack)) {
				return (usage_error("--rss-slack: expected a "
				                    "number of KiB, got '%s'",
				        optarg));
			}
			given |= OPT_RSS_SLACK;
			break;
		case 'p':
			if (!parse_num(optarg, 1, INT_MAX, &o.daemon_pid)) {
				return (usage_error("--daemon-pid: expected a "
				                    "process id, got '%s'",
				        optarg));
			}
			given |= OPT_PID;
			break;
		case 's':
			o.url = optarg;
			given |= OPT_SOCKET;
			break;
		case LONG_EVENTS:
			o.events_url = optarg;
			given |= OPT_EVENTS;
			break;
		case 'f':
			o.config_path = optarg;
			given |= OPT_CONFIG;
			break;
		case LONG_NETWORK:
			if (strcmp(optarg, "host") != 0 &&
			        strcmp(optarg, "pod") != 0) {
				return (usage_error("--network: expected host "
				                    "or pod, got '%s'",
				        optarg));
			}
			o.network = optarg;
			given |= OPT_NETWORK;
			break;
		case LONG_DAEMON_LOG:
			o.daemon_log = optarg;
			given |= OPT_DAEMON_LOG;
			break;
		case LONG_JSON:
			json = optarg;
			given |= OPT_JSON;
			break;
		case 'h': usage(stdout); return (0);
		case ':':
			return (usage_error(
			        "%s: missing argument", argv[optind - 1]));
		default:
			if (optopt != 0) {
				return (usage_error(
				        "unknown option '-%c'", optopt));
			}
			return (usage_error(
			        "unknown option '%s'", argv[optind - 1]));
		}
	}
	if (optind == argc) {
		return (usage_error("no suite given (" SUITE_NAMES ")"));
	}
	if (optind < argc - 1) {
		return (usage_error(
		        "unexpected argument '%s'", argv[optind + 1]));
	}
	suite = argv[optind];
	for (si = 0; si < sizeof(suites) / sizeof(suites[0]); si++) {
		if (strcmp(suite, suites[si].name) == 0) {
			break;
		}
	}
	if (si == sizeof(suites) / sizeof(suites[0])) {
		return (usage_error(
		        "unknown suite '%s' (" SUITE_NAMES ")", suite));
	}
	allowed = suites[si].allowed | OPT_ALL_SUITES;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((given & names[i].mask) != 0 &&
		        (allowed & names[i].mask) == 0) {
			return (usage_error("%s does not apply to %s",
			        names[i].name, suite));
		}
	}
	if ((given & OPT_CONFIG) != 0 && (given & OPT_NETWORK) != 0) {
		return (usage_error("--network chooses the built-in pod "
		                    "config: not with --config"));
	}
	if (suites[si].need_pid && o.daemon_pid == 0) {
		return (usage_error("%s needs --daemon-pid", suite));
	}
	if (o.daemon_pid > 0 && cpu_ns(o.daemon_pid) < 0) {
		return (usage_error("--daemon-pid: cannot read /proc/%ld/stat",
		        o.daemon_pid));
	}
	if (strcmp(suite, "concurrency") == 0) {
		int n = o.requests > 0 ? o.requests : 50;

		if (o.clients > n) {
			return (usage_error("concurrency: --clients %d is "
			                    "more than the %d sandboxes "
			                    "(--requests)",
			        o.clients, n));
		}
	}
	// Opened now, so that a FILE that cannot be written stops the run
	// before it starts; written at the end, whatever happened.
	if (json != NULL && (jf = fopen(json, "we")) == NULL) {
		return (usage_error(
		        "--json: cannot write %s: %s", json, strerror(errno)));
	}
	if (strcmp(suite, "all") == 0) {
		rv = run_all(&o);
	} else {
		rv = run_one(suite, &o, NULL);
	}
	if (jf != NULL && report_write(jf, json, o.url) != 0) {
		rv = 1;
	}
	return (rv);
}

/*
 * ddbguard: a least-privilege gateway for Amazon DynamoDB.
 *
 *   ddbguard -c FILE            run in the foreground (SIGHUP: reload FILE)
 *   ddbguard --check -c FILE    validate FILE and everything it names, print every error, exit 0/1
 *   ddbguard --version          versions of ddbguard and the libraries it runs on
 *
 * The daemon's start-up, daemon_main(); the program's main() is
 * proxy/tools/ddbguard.c, which also dispatches `ddbguard explain`.
 */
#include "proxy/offload.h"
#include "proxy/main.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <maxminddb.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include "config/config.h"
#include "filters/dynamodb/catalog.h"
#include "filters/policy/geoip.h"
#include "filters/policy/identity.h"
#include "filters/dynamodb/json.h"
#include "filters/policy/policy.h"
#include "proxy/audit/accesslog.h"
#include "proxy/admin.h"
#include "proxy/broker.h"
#include "proxy/conn.h"
#include "proxy/egress.h"
#include "proxy/listener.h"
#include "filters/base/log.h"
#include "proxy/metrics.h"
#include "proxy/reload.h"
#include "proxy/preflight.h"
#include "proxy/runtime.h"
#include "proxy/service.h"
#include "proxy/sourcecap.h"
#include "proxy/tls.h"
#include "proxy/upstream.h"


struct daemon {
	struct runtime rt;
	struct reload_target reload; /* listeners, upstream TLS context; SIGHUP replaces them */
	struct snapshot *base;	     /* the start-up config: upstream pools and egress point into it */
	struct event *sighup;
	struct event *sigterm, *sigint;
	struct event *sigusr1;	    /* reopen the access log */
	struct admin *admin;	    /* GET /healthz; NULL without config "admin" */
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: ddbguard [-v] [--allow-root] -c FILE      run the gateway in the foreground\n"
		   "       ddbguard --check -c FILE                  check FILE and everything it names, exit 0/1\n"
		   "       ddbguard explain -c FILE [--request FILE]  why a call would be allowed or denied\n"
		   "       ddbguard --version | --help\n"
		   "\n"
		   "  -c, --config FILE  configuration file (ddbguard.json(5), config/README.md)\n"
		   "      --check        validate the configuration as the daemon would load it: syntax, policies,\n"
		   "                     every certificate and key (and that each pair matches), every file it\n"
		   "                     reads, the access-log directory writable by the run-as user; prints each\n"
		   "                     error with its JSON path and lint warnings; exit 0 valid, 1 invalid\n"
		   "      --allow-root   keep running as root when the config names no \"user\" (else refused)\n"
		   "  -v, --verbose      debug diagnostics on stderr\n"
		   "  -V, --version      print the versions of ddbguard, libevent, OpenSSL, cJSON, libmaxminddb\n"
		   "  -h, --help         this text\n"
		   "\n"
		   "subcommands:\n"
		   "  explain            run the gateway's decision on one request (a raw HTTP request or JSON) and\n"
		   "                     print the verdict, identity, resources, condition keys and each statement's\n"
		   "                     outcome; \"ddbguard explain --help\" for its options\n"
		   "\n"
		   "signals: SIGTERM/SIGINT drain and stop (twice: stop now), SIGUSR1 reopen the access log.\n"
		   "Access-log tools are in ddbguard-log(1): verify, summary, denials, report.\n");
}

static void
version(void)
{
	printf("ddbguard %s\n"
	       "libevent %s\n"
	       "%s\n"
	       "cJSON %s\n"
	       "libmaxminddb %s\n",
	    DDBGUARD_VERSION, event_get_version(), OpenSSL_version(OPENSSL_VERSION), cJSON_Version(),
	    MMDB_lib_version());
}

/* A policy_lint_fn for --check: "FILE: $.path: warning: ...". */
static void
check_warning(void *arg, const char *json_path, const char *msg)
{
	fprintf(stderr, "%s: %s: warning: %s\n", (const char *)arg, json_path, msg);
}

static struct config *
load_config(const char *path)
{
	struct diag *d = diag_new(path);
	struct config *c;
	size_t i;

	if (d == NULL)
		fatalx("out of memory");
	c = config_load(path, d);
	for (i = 0; i < diag_count(d); i++)
		fprintf(stderr, "%s\n", diag_message(d, i));
	if (c == NULL && diag_count(d) > 0)
		fprintf(stderr, "%s: %zu error%s\n", path, diag_count(d), diag_count(d) == 1 ? "" : "s");
	diag_free(d);
	return c;
}

static struct evdns_base *
dns_new(struct event_base *base)
{
	struct evdns_base *dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);

	if (dns != NULL)
		return dns;
	/* No usable resolv.conf (containers): /etc/hosts and numeric addresses still work. */
	log_warnx("no DNS servers configured; upstream names resolve from /etc/hosts only");
	if ((dns = evdns_base_new(base, 0)) != NULL)
		evdns_base_load_hosts(dns, NULL);
	return dns;
}

/*
 * Descriptors beyond connections: listeners, admin, access log and its
 * rotation, DNS, the event loop's own (epoll, signal pipe), certificates and
 * the config read at start, GeoIP files.
 */
#define FD_RESERVE 64

/*
 * Raises the soft RLIMIT_NOFILE to the hard limit and refuses to start when
 * the connections the config allows cannot all have a descriptor: every
 * client connection, one upstream connection per call in flight (at most one
 * per client connection), the idle upstream pools, and FD_RESERVE. Running
 * out later would fail calls at random instead.
 * XXX: egress keeps a pool per endpoint name in use; only one pool's idle
 * connections are counted (the rest close after upstream.idle_timeout_ms).
 */
static uint64_t
fd_limit_raise(const struct config *cfg)
{
	struct rlimit rl;
	uint64_t pools = (cfg->upstream.dynamodb.host != NULL) + cfg->upstream.has_streams + cfg->egress.enabled;
	uint64_t need = 2 * (uint64_t)cfg->limits.max_connections + pools * cfg->upstream.max_idle_connections +
	    FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		fatalx("getrlimit(RLIMIT_NOFILE) failed");
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = { .rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max };
		FILE *f;
		unsigned long long nr_open;

		/* An unlimited hard limit cannot be the soft one: the kernel caps it at fs.nr_open. */
		if (want.rlim_cur == RLIM_INFINITY && (f = fopen("/proc/sys/fs/nr_open", "r")) != NULL) {
			if (fscanf(f, "%llu", &nr_open) == 1)
				want.rlim_cur = (rlim_t)nr_open;
			fclose(f);
		}
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl.rlim_cur = want.rlim_cur;
		else
			log_warn("cannot raise the soft RLIMIT_NOFILE from %llu to %llu", (unsigned long long)rl.rlim_cur,
			    (unsigned long long)want.rlim_cur);
	}
	if (rl.rlim_cur != RLIM_INFINITY && need > (uint64_t)rl.rlim_cur)
		fatalx("limits.max_connections %u needs %llu file descriptors (2 per connection: client and upstream, "
		       "+ %llu for idle upstream pools, + %d reserved) but RLIMIT_NOFILE allows %llu (hard limit %llu); "
		       "raise the limit (systemd: LimitNOFILE=) or lower limits.max_connections",
		    cfg->limits.max_connections, (unsigned long long)need,
		    (unsigned long long)(pools * cfg->upstream.max_idle_connections), FD_RESERVE,
		    (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
	log_debug("file descriptors: need %llu, RLIMIT_NOFILE %llu", (unsigned long long)need,
	    (unsigned long long)rl.rlim_cur);
	return need;
}

/* The most descriptor slots fd_slots_reserve() sets up (about 48 bytes each). */
static void
fd_slots_quiet(int severity, const char *msg)
{
	/* The expected EBADF of each reservation; nothing else logs meanwhile. */
}

#define FD_SLOTS_MAX 262144

/*
 * libevent allocates a small per-descriptor record the first time a
 * descriptor number is watched and keeps it until the event loop is freed.
 * Allocated lazily, those records land between the connections' own blocks
 * and pin every heap page after a burst of connections closes (RSS would
 * never come back down). Setting them all up at start keeps them together:
 * an event_add on a descriptor number that is not open allocates the record,
 * then fails (EBADF) without registering anything.
 */
static void
fd_slots_reserve(struct event_base *base, uint64_t nfds)
{
	struct event *ev;
	int fd;

	if (nfds > FD_SLOTS_MAX)
		nfds = FD_SLOTS_MAX;
	event_set_log_callback(fd_slots_quiet);
	for (fd = (int)nfds - 1; fd >= 0; fd--) {
		if (fcntl(fd, F_GETFD) != -1)
			continue; /* open: watched for real when used */
		if ((ev = event_new(base, fd, EV_READ, NULL, NULL)) == NULL)
			return;
		(void)event_add(ev, NULL);
		event_free(ev);
	}
	event_set_log_callback(NULL);
}

/* The longest a graceful stop waits for calls in flight. */
#define DRAIN_GRACE_MS 5000

static void
close_listeners(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->reload.nlisteners; i++)
		listener_free(d->reload.listeners[i]);
	d->reload.nlisteners = 0;
}

/*
 * First SIGTERM/SIGINT: stop accepting and let calls in flight finish (up to
 * the upstream response timeout plus a grace period), so a rolling restart
 * loses nothing. A second signal stops at once.
 */
static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	uint32_t wait_ms = d->rt.cfg->upstream.response_timeout_ms + DRAIN_GRACE_MS;
	struct timeval tv = { .tv_sec = wait_ms / 1000, .tv_usec = (wait_ms % 1000) * 1000 };

	if (d->rt.draining) {
		log_info("signal %d again: stopping now", (int)sig);
		event_base_loopbreak(d->rt.base);
		return;
	}
	service_notify_stopping();
	log_info("signal %d: draining %u connection%s (at most %u ms)", (int)sig, d->rt.nconns,
	    d->rt.nconns == 1 ? "" : "s", wait_ms);
	close_listeners(d);
	event_base_loopexit(d->rt.base, &tv);
	conn_drain_all(&d->rt);
}

/* SIGUSR1: the operator renamed the access log (logrotate "create" mode); reopen it, the chain continues. */
static void
on_sigusr1(evutil_socket_t sig, short what, void *arg)
{
	accesslog_reopen(((struct daemon *)arg)->rt.alog);
}

/* sd_notify around a reload (proxy/service.h): RELOADING=1, then READY=1 whatever the outcome. */
static void
reload_notify(const char *state)
{
	if (strcmp(state, "RELOADING=1") == 0)
		service_notify_reloading();
	else
		service_notify_ready("serving");
}

/* SIGHUP: re-read the config and everything it names (proxy/reload.h). Ignored while draining. */
static void
on_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	if (!d->rt.draining)
		reload_run(&d->reload);
}

/* GET /metrics: counters from every thread's shard, plus what only the daemon can read. */
static void
daemon_metrics(void *arg, struct evbuffer *out)
{
	struct daemon *d = arg;
	struct accesslog_stats ls;
	struct metrics_state st = { 0 };

	accesslog_stats(d->rt.alog, &ls);
	st.listeners = d->rt.draining ? 0 : (unsigned)d->reload.nlisteners;
	st.upstream_idle_dynamodb = upstream_pool_idle(d->rt.reverse.dynamodb);
	st.upstream_idle_streams = upstream_pool_idle(d->rt.reverse.streams);
	st.has_streams = d->rt.reverse.streams != NULL;
	st.has_egress = d->rt.egress != NULL;
	st.egress_cached_certs = egress_cached_certs(d->rt.egress);
	st.log_queued_bytes = ls.queued_bytes;
	st.log_buffer_bytes = ls.buffer_bytes;
	st.log_write_errors = ls.write_errors;
	st.log_digests = ls.digests;
	st.log_healthy = ls.healthy;
	st.reloads_accepted = atomic_load(&reload_stats.accepted);
	st.reloads_refused = atomic_load(&reload_stats.refused);
	st.config_version = d->rt.snap != NULL ? d->rt.snap->version : NULL;
	metrics_render(out, &st);
}

/*
 * GET /readyz: ready to take calls. Listeners accepting (not draining), the
 * upstream's most recent exchange did not fail (or none happened yet), and
 * the access log writable (or access_log.fail_open).
 */
static bool
daemon_ready(void *arg, struct evbuffer *out)
{
	struct daemon *d = arg;
	bool listeners = !d->rt.draining && d->reload.nlisteners > 0;
	bool upstream = metrics_upstream_ok();
	bool log = accesslog_accepting(d->rt.alog);
	bool ready = listeners && upstream && log;

	evbuffer_add_printf(out, "{\"ready\":%s,\"listeners\":%s,\"upstream\":%s,\"log\":%s}\n",
	    ready ? "true" : "false", listeners ? "true" : "false", upstream ? "true" : "false", log ? "true" : "false");
	return ready;
}

static void
daemon_start(struct daemon *d, const char *path, struct config *loaded, uint64_t nfds)
{
	struct runtime *rt = &d->rt;
	const struct config *cfg;
	const struct upstream_config *u;
	char err[512];
	size_t i;

	/* The config is a snapshot from the start (SIGHUP publishes the next); the daemon keeps this one for its pools. */
	if ((d->base = snapshot_new(path, loaded, err, sizeof(err))) == NULL)
		fatalx("cannot start: %s", err);
	snapshot_ref(d->base);
	snapshot_publish(d->base);
	snapshot_runtime_sync(rt);
	cfg = d->base->cfg;
	u = &cfg->upstream;
	log_info("config %s version %s", path, d->base->version);
	d->reload.rt = rt;
	d->reload.path = path;
	d->reload.notify = reload_notify;
	TAILQ_INIT(&rt->conns);
	if ((rt->sources = sourcecap_new(cfg->limits.max_connections_per_source)) == NULL)
		fatalx("out of memory");
	if ((rt->base = event_base_new()) == NULL || (rt->dns = dns_new(rt->base)) == NULL)
		fatalx("cannot initialise libevent");
	fd_slots_reserve(rt->base, nfds);
	rt->offload = offload_new(rt->base); /* NULL: large bodies are parsed on the loop (warned) */
	if ((d->reload.upstream_tls = tls_client_ctx_new(u->ca_file)) == NULL)
		fatalx("cannot set up upstream TLS (upstream.ca_file)");
	if (u->dynamodb.host != NULL) {
		rt->reverse.dynamodb = upstream_pool_new(rt->base, rt->dns, u->dynamodb.tls ? d->reload.upstream_tls : NULL,
		    &u->dynamodb, u, &rt->response_limits);
		if (rt->reverse.dynamodb == NULL)
			fatalx("out of memory");
		log_info("upstream %s, region %s, account %s", u->dynamodb.text, u->region, cfg->account_id);
	}
	if (u->has_streams && (rt->reverse.streams = upstream_pool_new(rt->base, rt->dns,
				   u->streams.tls ? d->reload.upstream_tls : NULL, &u->streams, u, &rt->response_limits)) == NULL)
		fatalx("out of memory");
	if (cfg->egress.enabled && (rt->egress = egress_new(rt, cfg, d->reload.upstream_tls)) == NULL)
		fatalx("cannot set up egress (egress.ca_cert, egress.ca_key)");
	if ((rt->alog = accesslog_open(cfg->access_log.path)) == NULL)
		fatalx("cannot open the access log %s", cfg->access_log.path);
	if (!accesslog_configure(rt->alog, &cfg->access_log))
		fatalx("cannot set up the access log (access_log.signing_key)");
	/* Before listening: the first calls find credentials fetched (or are refused with 503 until they are). */
	if (broker_needed(cfg) && ((rt->broker = broker_new(cfg)) == NULL || !broker_start(rt->broker)))
		fatalx("cannot start the credential broker");
	if ((d->reload.listeners = calloc(cfg->nlisteners ? cfg->nlisteners : 1, sizeof(*d->reload.listeners))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < cfg->nlisteners; i++) {
		if ((d->reload.listeners[i] = listener_new(rt, &cfg->listeners[i])) == NULL)
			fatalx("cannot start listener %s", cfg->listeners[i].name);
		listener_set_owner(d->reload.listeners[i], d->base);
		d->reload.nlisteners++;
	}
	if (cfg->admin.address != NULL && (d->admin = admin_new(rt->base, &cfg->admin, rt->alog)) == NULL)
		fatalx("cannot start the admin endpoint %s port %u", cfg->admin.address, (unsigned)cfg->admin.port);
	admin_set_hooks(d->admin, daemon_metrics, daemon_ready, d);
	d->sigterm = evsignal_new(rt->base, SIGTERM, on_signal, d);
	d->sigint = evsignal_new(rt->base, SIGINT, on_signal, d);
	if (d->sigterm == NULL || d->sigint == NULL || evsignal_add(d->sigterm, NULL) < 0 ||
	    evsignal_add(d->sigint, NULL) < 0)
		fatalx("cannot install signal handlers");
	d->sighup = evsignal_new(rt->base, SIGHUP, on_sighup, d);
	if (d->sighup == NULL || evsignal_add(d->sighup, NULL) < 0)
		fatalx("cannot install the SIGHUP handler");
	d->sigusr1 = evsignal_new(rt->base, SIGUSR1, on_sigusr1, d);
	if (d->sigusr1 == NULL || evsignal_add(d->sigusr1, NULL) < 0)
		fatalx("cannot install the SIGUSR1 handler");
}

static void
daemon_stop(struct daemon *d)
{
	close_listeners(d);
	free(d->reload.listeners);
	event_free(d->sighup);
	event_free(d->sigterm);
	event_free(d->sigint);
	event_free(d->sigusr1);
	admin_free(d->admin);
	/* Connections still open after the drain deadline are closed by the kernel at exit. */
	upstream_pool_free(d->rt.reverse.dynamodb);
	upstream_pool_free(d->rt.reverse.streams);
	egress_free(d->rt.egress);
	accesslog_close(d->rt.alog); /* drains what is queued, waiting a bounded time */
	broker_free(d->rt.broker);
	sourcecap_free(d->rt.sources);
	conn_spare_free(&d->rt);
	offload_free(d->rt.offload);
	SSL_CTX_free(d->reload.upstream_tls);
	for (size_t i = 0; i < d->reload.nretired_tls; i++)
		SSL_CTX_free(d->reload.retired_tls[i]);
	free(d->reload.retired_tls);
	snapshot_unref(d->rt.snap);
	snapshot_unref(d->base);
	snapshot_shutdown();
	evdns_base_free(d->rt.dns, 0);
	event_base_free(d->rt.base);
}

int
daemon_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "allow-root", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	bool check = false, allow_root = false;
	struct daemon d = { 0 };
	char err[512];
	struct config *cfg;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:vhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'k': check = true; break;
		case 'v': log_set_level(LOG_LEVEL_DEBUG); break;
		case 'h': usage(stdout); return 0;
		case 'V': version(); return 0;
		case 'R': allow_root = true; break;
		default: usage(stderr); return 2;
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	json_init();
	tls_init();
	if ((cfg = load_config(path)) == NULL)
		return 1;
	if (check) {
		/* "valid" means it will start: certificates, keys, files, directories, the run-as user. */
		struct diag *pd = diag_new(path);
		size_t i, nerr;

		if (pd == NULL)
			fatalx("out of memory");
		preflight_check(cfg, pd);
		for (i = 0, nerr = diag_count(pd); i < nerr; i++)
			fprintf(stderr, "%s\n", diag_message(pd, i));
		diag_free(pd);
		if (nerr > 0) {
			fprintf(stderr, "%s: %zu error%s\n", path, nerr, nerr == 1 ? "" : "s");
			config_free(cfg);
			return 1;
		}
		/* Lint warnings: valid, so the exit status stays 0. */
		policy_set_lint(cfg->policies, check_warning, (void *)path);
		identity_set_lint(cfg->identities, cfg->account_id, check_warning, (void *)path);
		printf("%s: valid\n", path);
		config_free(cfg);
		return 0;
	}
	/* Refused before anything is bound: root with no "user" to drop to, unless told to keep it. */
	if (geteuid() == 0 && cfg->user == NULL && !cfg->allow_root && !allow_root)
		fatalx("refusing to run as root: set \"user\" (and \"group\") in %s to drop privileges after "
		       "binding, or \"allow_root\": true (--allow-root) to keep root", path);
	signal(SIGPIPE, SIG_IGN);
	daemon_start(&d, path, cfg, fd_limit_raise(cfg)); /* takes cfg (it lives on in the start-up snapshot) */
	/* Ports are bound and root-only files read: hand the access log over, then give up root for good. */
	if (!service_chown_for_user(cfg, cfg->access_log.path, err, sizeof(err)) ||
	    !service_drop_privileges(cfg, allow_root, err, sizeof(err)))
		fatalx("%s", err);
	service_notify_ready("serving");
	event_base_dispatch(d.rt.base);
	service_notify_stopping();
	daemon_stop(&d);
	log_info("stopped after %llu calls", (unsigned long long)d.rt.nrequests);
	return 0;
}

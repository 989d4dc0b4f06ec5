#include "proxy/reload.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/base/log.h"
#include "proxy/audit/accesslog.h"
#include "proxy/audit/logchain.h"
#include "proxy/egress.h"
#include "proxy/listener.h"
#include "proxy/preflight.h"
#include "proxy/runtime.h"
#include "proxy/tls.h"
#include "proxy/upstream.h"

/* --- SIGHUP ---------------------------------------------------------- */

static bool
str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
strv_eq(char **a, size_t na, char **b, size_t nb)
{
	size_t i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (!str_eq(a[i], b[i]))
			return false;
	return true;
}

static bool
egress_eq(const struct egress_config *a, const struct egress_config *b)
{
	size_t i;

	if (a->enabled != b->enabled || !str_eq(a->ca_cert, b->ca_cert) || !str_eq(a->ca_key, b->ca_key) ||
	    !strv_eq(a->regions, a->nregions, b->regions, b->nregions) ||
	    !strv_eq(a->account_ids, a->naccount_ids, b->account_ids, b->naccount_ids) || a->nroutes != b->nroutes ||
	    a->cert_validity_s != b->cert_validity_s || a->max_cached_certs != b->max_cached_certs)
		return false;
	for (i = 0; i < a->nroutes; i++)
		if (!str_eq(a->routes[i].host, b->routes[i].host) || !str_eq(a->routes[i].to_host, b->routes[i].to_host) ||
		    a->routes[i].to_port != b->routes[i].to_port)
			return false;
	return true;
}

/*
 * What the running daemon built once at start-up and a reload does not
 * rebuild (upstream pools, the egress CA and its certificate cache, the log
 * file and writer, the admin socket). Returns the first key that differs, or
 * NULL. A change there is refused rather than silently ignored.
 */
static const char *
restart_only_change(const struct config *o, const struct config *n)
{
	const struct upstream_config *ou = &o->upstream, *nu = &n->upstream;

	if (!str_eq(o->account_id, n->account_id))
		return "account_id";
	if (!str_eq(ou->dynamodb.text, nu->dynamodb.text) || !str_eq(ou->streams.text, nu->streams.text))
		return "upstream.dynamodb/upstream.streams";
	if (!str_eq(ou->region, nu->region))
		return "upstream.region";
	if (!str_eq(ou->host_header, nu->host_header))
		return "upstream.host_header";
	if (ou->connect_timeout_ms != nu->connect_timeout_ms || ou->response_timeout_ms != nu->response_timeout_ms ||
	    ou->idle_timeout_ms != nu->idle_timeout_ms || ou->max_idle_connections != nu->max_idle_connections)
		return "upstream timeouts and max_idle_connections";
	if ((ou->ca_file == NULL) != (nu->ca_file == NULL))
		return "upstream.ca_file (between the system store and a file)";
	if (!egress_eq(&o->egress, &n->egress))
		return "egress";
	if (!str_eq(o->access_log.path, n->access_log.path) || !str_eq(o->access_log.syslog, n->access_log.syslog) ||
	    o->access_log.buffer_bytes != n->access_log.buffer_bytes || o->access_log.fail_open != n->access_log.fail_open ||
	    o->access_log.max_bytes != n->access_log.max_bytes ||
	    o->access_log.digest_every_records != n->access_log.digest_every_records ||
	    o->access_log.digest_every_seconds != n->access_log.digest_every_seconds)
		return "access_log (other than signing_key)";
	if (o->access_log.signing_key != NULL && n->access_log.signing_key == NULL)
		return "access_log.signing_key (removing it)";
	if (!str_eq(o->admin.address, n->admin.address) || o->admin.port != n->admin.port)
		return "admin";
	if (o->limits.max_connections_per_source != n->limits.max_connections_per_source)
		return "limits.max_connections_per_source";
	if (!str_eq(o->user, n->user) || !str_eq(o->group, n->group) || o->allow_root != n->allow_root)
		return "user/group/allow_root";
	return NULL;
}

/* What reload_run builds off to the side before anything changes. */
struct reload_plan {
	struct snapshot *snap;
	SSL_CTX *upstream_tls;	     /* new context when upstream.ca_file changed; NULL: keep */
	struct listener **next;	     /* the listener set after the reload, in config order */
	bool *kept;		     /* next[i] is an old listener (updated in place) */
	SSL_CTX **next_tls;	     /* for kept TLS listeners: the new context */
	size_t n;
};

static void
plan_discard(struct reload_plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (p->next != NULL && !p->kept[i])
			listener_free(p->next[i]);
		if (p->next_tls != NULL)
			SSL_CTX_free(p->next_tls[i]);
	}
	free(p->next);
	free(p->kept);
	free(p->next_tls);
	SSL_CTX_free(p->upstream_tls);
	snapshot_unref(p->snap);
}

/* Appends "; msg" to `buf` (bounded). */
static void
append(char *buf, size_t len, const char *msg)
{
	size_t used = strlen(buf);

	if (used + 3 < len)
		snprintf(buf + used, len - used, "%s%s", used ? "; " : "", msg);
}

/*
 * Builds the new snapshot and everything it names. On failure `why` says
 * what (as --check would) and nothing running has changed.
 */
static bool
plan_build(struct reload_target *t, struct reload_plan *p, char *why, size_t whylen)
{
	const struct config *old = t->rt->cfg, *cfg;
	struct diag *d = diag_new(t->path);
	struct config *loaded;
	const char *what;
	char err[512], oldv[SNAPSHOT_VERSION_HEX + 1], newv[SNAPSHOT_VERSION_HEX + 1];
	size_t i, j;

	if (d == NULL) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	loaded = config_load(t->path, d);
	for (i = 0; i < diag_count(d); i++) {
		log_warnx("reload: %s", diag_message(d, i)); /* the lines --check prints */
		if (i < 3)
			append(why, whylen, diag_message(d, i));
	}
	if (loaded == NULL) {
		snprintf(err, sizeof(err), "%s: %zu error%s", t->path, diag_count(d), diag_count(d) == 1 ? "" : "s");
		log_warnx("reload: %s", err);
		append(why, whylen, err);
		diag_free(d);
		return false;
	}
	diag_free(d);
	/* What --check verifies beyond syntax (certificates and keys load and match, files readable ...), same lines. */
	if ((d = diag_new(t->path)) == NULL) {
		config_free(loaded);
		snprintf(why, whylen, "out of memory");
		return false;
	}
	preflight_check(loaded, d);
	for (i = 0; i < diag_count(d); i++) {
		log_warnx("reload: %s", diag_message(d, i));
		if (i < 3)
			append(why, whylen, diag_message(d, i));
	}
	if (diag_count(d) > 0) {
		snprintf(err, sizeof(err), "%s: %zu error%s", t->path, diag_count(d), diag_count(d) == 1 ? "" : "s");
		log_warnx("reload: %s", err);
		append(why, whylen, err);
		diag_free(d);
		config_free(loaded);
		return false;
	}
	diag_free(d);
	if ((what = restart_only_change(old, loaded)) != NULL) {
		snprintf(err, sizeof(err), "%s: %s changed; that needs a restart (the running config is kept)", t->path,
		    what);
		append(why, whylen, err);
		config_free(loaded);
		return false;
	}
	if ((p->snap = snapshot_new(t->path, loaded, err, sizeof(err))) == NULL) {
		append(why, whylen, err);
		return false;
	}
	cfg = p->snap->cfg;
	/* upstream.ca_file: a new context only when its bytes (or path) changed. */
	config_version(old->upstream.ca_file, NULL, oldv);
	config_version(cfg->upstream.ca_file, NULL, newv);
	if (cfg->upstream.ca_file != NULL && strcmp(oldv, newv) != 0 &&
	    (p->upstream_tls = tls_client_ctx_new(cfg->upstream.ca_file)) == NULL) {
		snprintf(err, sizeof(err), "upstream.ca_file: cannot load %s", cfg->upstream.ca_file);
		append(why, whylen, err);
		return false;
	}
	if (cfg->access_log.signing_key != NULL) {
		struct logchain *probe = logchain_new();
		bool ok = probe != NULL && logchain_load_key(probe, cfg->access_log.signing_key, err, sizeof(err));

		logchain_free(probe);
		if (!ok) {
			append(why, whylen, "access_log.signing_key: ");
			strncat(why, err, whylen - strlen(why) - 1);
			return false;
		}
	}
	p->n = cfg->nlisteners;
	p->next = calloc(p->n ? p->n : 1, sizeof(*p->next));
	p->kept = calloc(p->n ? p->n : 1, sizeof(*p->kept));
	p->next_tls = calloc(p->n ? p->n : 1, sizeof(*p->next_tls));
	if (p->next == NULL || p->kept == NULL || p->next_tls == NULL) {
		append(why, whylen, "out of memory");
		return false;
	}
	for (i = 0; i < p->n; i++) {
		const struct listener_config *lc = &cfg->listeners[i];

		for (j = 0; j < t->nlisteners; j++)
			if (t->listeners[j] != NULL && listener_same_socket(t->listeners[j], lc))
				break;
		if (j < t->nlisteners) {
			/* Same socket: keep it (open connections and the accept queue stay); new certificate. */
			if (lc->tls_cert != NULL && (p->next_tls[i] = tls_server_ctx_new(lc->tls_cert, lc->tls_key)) == NULL) {
				snprintf(err, sizeof(err), "listeners[%zu] (%s): cannot load its TLS certificate or key", i,
				    lc->name);
				append(why, whylen, err);
				return false;
			}
			p->next[i] = t->listeners[j];
			p->kept[i] = true;
			continue;
		}
		if ((p->next[i] = listener_new(t->rt, lc)) == NULL) {
			snprintf(err, sizeof(err), "listeners[%zu] (%s): cannot listen on %s port %u or load its certificate",
			    i, lc->name, lc->address, (unsigned)lc->port);
			append(why, whylen, err);
			return false;
		}
		listener_set_owner(p->next[i], p->snap);
	}
	return true;
}

static void
plan_commit(struct reload_target *t, struct reload_plan *p)
{
	struct runtime *rt = t->rt;
	char err[512];
	size_t i, j;

	/* Listeners not in the new config close; their open connections keep their own reference. */
	for (j = 0; j < t->nlisteners; j++) {
		bool still = false;

		for (i = 0; i < p->n; i++)
			still = still || (p->kept[i] && p->next[i] == t->listeners[j]);
		if (!still) {
			log_info("reload: listener %s closed", listener_config_of(t->listeners[j])->name);
			listener_free(t->listeners[j]);
		}
	}
	for (i = 0; i < p->n; i++)
		if (p->kept[i]) {
			listener_update(p->next[i], &p->snap->cfg->listeners[i], p->snap, p->next_tls[i]);
			p->next_tls[i] = NULL;
		}
	free(t->listeners);
	t->listeners = p->next;
	t->nlisteners = p->n;
	p->next = NULL;
	if (p->upstream_tls != NULL) {
		SSL_CTX **r = realloc(t->retired_tls, (t->nretired_tls + 1) * sizeof(*r));

		if (r != NULL) {
			/* Pools and egress routes may still hand the old context to new SSLs until they switch. */
			t->retired_tls = r;
			t->retired_tls[t->nretired_tls++] = t->upstream_tls;
			t->upstream_tls = p->upstream_tls;
			p->upstream_tls = NULL;
			upstream_pool_set_tls(rt->reverse.dynamodb, t->upstream_tls);
			upstream_pool_set_tls(rt->reverse.streams, t->upstream_tls);
			egress_set_upstream_tls(rt->egress, t->upstream_tls);
		}
	}
	if (p->snap->cfg->access_log.signing_key != NULL &&
	    !accesslog_set_signing_key(rt->alog, p->snap->cfg->access_log.signing_key, err, sizeof(err)))
		log_warnx("reload: access_log.signing_key: %s (digests keep the previous key)", err);
	snapshot_publish(p->snap);
	p->snap = NULL;
	snapshot_runtime_sync(rt);
}

bool
reload_run(struct reload_target *t)
{
	struct reload_plan plan = { 0 };
	char why[1024] = "", oldv[SNAPSHOT_VERSION_HEX + 1], newv[SNAPSHOT_VERSION_HEX + 1], msg[1200];
	bool ok;

	if (t->notify != NULL)
		t->notify("RELOADING=1");
	snprintf(oldv, sizeof(oldv), "%s", t->rt->snap ? t->rt->snap->version : "");
	ok = plan_build(t, &plan, why, sizeof(why));
	if (plan.snap != NULL)
		snprintf(newv, sizeof(newv), "%s", plan.snap->version);
	else
		config_version(t->path, NULL, newv); /* did not load: the file's bytes only */
	if (ok) {
		plan_commit(t, &plan);
		atomic_fetch_add(&reload_stats.accepted, 1);
		snprintf(msg, sizeof(msg), "%s reloaded: version %s replaces %s", t->path, newv, oldv);
		log_info("%s", msg);
	} else {
		atomic_fetch_add(&reload_stats.refused, 1);
		snprintf(msg, sizeof(msg), "%s refused, version %s stays in force: %s", t->path, oldv, why);
		log_warnx("reload: %s", msg);
	}
	plan_discard(&plan);
	if (!accesslog_notice_reload(t->rt->alog, ok, oldv, newv, msg))
		log_warnx("reload: could not queue the configReload notice");
	if (t->notify != NULL)
		t->notify("READY=1");
	return ok;
}

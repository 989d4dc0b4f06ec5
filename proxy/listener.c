#include "proxy/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "proxy/conn.h"
#include "filters/base/log.h"
#include "proxy/snapshot.h"
#include "proxy/runtime.h"
#include "proxy/sourcecap.h"
#include "proxy/tls.h"

#define LISTENER_BACKLOG 1024
/*
 * Out of file descriptors (EMFILE, ENFILE) or kernel memory: accepting again
 * at once fails the same way and spins (the listening socket stays
 * readable). Pause this long, like nginx's accept pause.
 */
#define LISTENER_PAUSE_MS 100

struct listener {
	struct runtime *rt;
	const struct listener_config *lc;
	SSL_CTX *tls; /* owned; NULL for plain HTTP */
	struct snapshot *owner; /* reference; holds lc */
	struct evconnlistener *evl;
	struct event *resume; /* re-enables accepting after a pause (owned) */
	time_t last_full_warning;
	time_t last_source_warning;
	time_t last_error_warning;
	uint64_t refused_full, refused_source, accept_errors; /* since the last warning of each kind */
};

static void
listener_accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	time_t now;

	struct sourcecap_entry *source;
	bool capped;

	if (l->rt->nconns >= l->rt->cfg->limits.max_connections) {
		close(fd);
		l->refused_full++;
		now = time(NULL);
		if (now != l->last_full_warning) {
			l->last_full_warning = now;
			log_warnx("listener %s: limits.max_connections (%u) reached; refused %llu connection%s",
			    l->lc->name, l->rt->cfg->limits.max_connections, (unsigned long long)l->refused_full,
			    l->refused_full == 1 ? "" : "s");
			l->refused_full = 0;
		}
		return;
	}
	if ((source = sourcecap_take(l->rt->sources, sa, &capped)) == NULL) {
		close(fd);
		l->refused_source++;
		now = time(NULL);
		if (now != l->last_source_warning) {
			char ip[INET6_ADDRSTRLEN] = "?";

			if (sa->sa_family == AF_INET)
				inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
			else if (sa->sa_family == AF_INET6)
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
			l->last_source_warning = now;
			if (capped)
				log_warnx("listener %s: %s has limits.max_connections_per_source (%u) connections; "
					  "refused %llu connection%s", l->lc->name, ip,
				    l->rt->cfg->limits.max_connections_per_source,
				    (unsigned long long)l->refused_source, l->refused_source == 1 ? "" : "s");
			else
				log_warnx("listener %s: out of memory counting connections from %s", l->lc->name, ip);
			l->refused_source = 0;
		}
		return;
	}
	conn_accept(l->rt, l->lc, l->owner, l->tls, fd, sa, (socklen_t)salen, source);
}

static void
listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	if (!l->rt->draining)
		evconnlistener_enable(l->evl);
}

static void
listener_error_cb(struct evconnlistener *evl, void *arg)
{
	struct listener *l = arg;
	struct timeval pause = { .tv_sec = 0, .tv_usec = LISTENER_PAUSE_MS * 1000 };
	int err = errno;
	time_t now = time(NULL);
	bool exhausted = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;

	l->accept_errors++;
	/* At most one warning a second, saying how many accepts failed since the last one. */
	if (now != l->last_error_warning) {
		l->last_error_warning = now;
		errno = err;
		log_warn("listener %s: accept failed %llu time%s%s", l->lc->name, (unsigned long long)l->accept_errors,
		    l->accept_errors == 1 ? "" : "s",
		    exhausted ? "; pausing accepts (out of file descriptors or memory)" : "");
		l->accept_errors = 0;
	}
	/*
	 * The pending connection stays in the backlog; once connections close the
	 * next try succeeds. Any other error pauses too: none is worth a spin.
	 */
	if (l->resume != NULL && evconnlistener_disable(l->evl) == 0 && evtimer_add(l->resume, &pause) != 0)
		evconnlistener_enable(l->evl);
}

static socklen_t
listener_sockaddr(const struct listener_config *lc, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, lc->address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(lc->port);
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, lc->address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(lc->port);
		return sizeof(*sin6);
	}
	return 0;
}

struct listener *
listener_new(struct runtime *rt, const struct listener_config *lc)
{
	struct sockaddr_storage ss;
	socklen_t sslen = listener_sockaddr(lc, &ss);
	struct listener *l = calloc(1, sizeof(*l));

	if (l == NULL || sslen == 0) {
		free(l);
		return NULL;
	}
	l->rt = rt;
	l->lc = lc;
	if (lc->tls_cert != NULL && (l->tls = tls_server_ctx_new(lc->tls_cert, lc->tls_key)) == NULL) {
		log_warnx("listener %s: cannot load its TLS certificate or key", lc->name);
		goto fail;
	}
	if (l->tls != NULL && lc->client_ca != NULL &&
	    !tls_server_verify_clients(l->tls, lc->client_ca, lc->client_cert_required)) {
		log_warnx("listener %s: cannot load tls.client_ca %s", lc->name, lc->client_ca);
		goto fail;
	}
	l->evl = evconnlistener_new_bind(rt->base, listener_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, LISTENER_BACKLOG,
	    (struct sockaddr *)&ss, (int)sslen);
	if (l->evl == NULL) {
		log_warn("listener %s: cannot listen on %s port %u", lc->name, lc->address, lc->port);
		goto fail;
	}
	evconnlistener_set_error_cb(l->evl, listener_error_cb);
	if ((l->resume = evtimer_new(rt->base, listener_resume_cb, l)) == NULL)
		goto fail;
	log_info("listener %s: %s on %s%s%s:%u", lc->name,
	    lc->kind == LISTENER_EGRESS ? "egress (HTTP CONNECT)" : l->tls ? "https" : "http (plain, local use only)",
	    strchr(lc->address, ':') ? "[" : "", lc->address, strchr(lc->address, ':') ? "]" : "", lc->port);
	return l;
fail:
	listener_free(l);
	return NULL;
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	if (l->evl != NULL)
		evconnlistener_free(l->evl);
	if (l->resume != NULL)
		event_free(l->resume);
	SSL_CTX_free(l->tls);
	snapshot_unref(l->owner);
	free(l);
}

void
listener_set_owner(struct listener *l, struct snapshot *owner)
{
	if (owner != NULL)
		snapshot_ref(owner);
	snapshot_unref(l->owner);
	l->owner = owner;
}

bool
listener_same_socket(const struct listener *l, const struct listener_config *lc)
{
	return l->lc->kind == lc->kind && l->lc->port == lc->port && strcmp(l->lc->address, lc->address) == 0 &&
	    (l->lc->tls_cert == NULL) == (lc->tls_cert == NULL);
}

void
listener_update(struct listener *l, const struct listener_config *lc, struct snapshot *owner, SSL_CTX *tls)
{
	/* Connections already accepted keep their own SSL (which holds the old context) and lc (their own reference). */
	SSL_CTX_free(l->tls);
	l->tls = tls;
	l->lc = lc;
	listener_set_owner(l, owner);
}

const struct listener_config *
listener_config_of(const struct listener *l)
{
	return l->lc;
}

#include "proxy/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/listener.h>
#include <openssl/ssl.h>

#include "proxy/conn.h"
#include "filters/base/log.h"
#include "proxy/runtime.h"
#include "proxy/tls.h"

#define LISTENER_BACKLOG 1024

struct listener {
	struct runtime *rt;
	const struct listener_config *lc;
	SSL_CTX *tls; /* owned; NULL for plain HTTP */
	struct evconnlistener *evl;
	time_t last_full_warning;
};

static void
listener_accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	time_t now;

	if (l->rt->nconns >= l->rt->cfg->limits.max_connections) {
		close(fd);
		now = time(NULL);
		if (now != l->last_full_warning) {
			l->last_full_warning = now;
			log_warnx("listener %s: limits.max_connections (%u) reached; refusing connections",
			    l->lc->name, l->rt->cfg->limits.max_connections);
		}
		return;
	}
	conn_accept(l->rt, l->lc, l->tls, fd, sa, (socklen_t)salen);
}

static void
listener_error_cb(struct evconnlistener *evl, void *arg)
{
	struct listener *l = arg;

	/* EMFILE and friends: keep the listener; the next accept may succeed once connections close. */
	log_warn("listener %s: accept", l->lc->name);
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
	SSL_CTX_free(l->tls);
	free(l);
}

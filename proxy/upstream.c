#include "proxy/upstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>

#include "filters/base/log.h"
#include "proxy/sockio.h"
#include "proxy/tls.h"

#define UPSTREAM_MAX_HEAD 16384	 /* DynamoDB response heads are a few hundred bytes */
#define UPSTREAM_MAX_ADDRS 8
#define UPSTREAM_DNS_TTL_NS (30ull * 1000000000ull) /* evdns does not hand us the record TTL */

enum upconn_state {
	UC_NEW,	       /* waiting for the deferred start */
	UC_RESOLVING,  /* waiting for the pool's DNS answer */
	UC_CONNECTING, /* TCP connect + TLS handshake */
	UC_WAIT_HEAD,  /* request written (or being written), waiting for the status line */
	UC_BODY_LENGTH,
	UC_BODY_CHUNKED,
	UC_IDLE,       /* in the pool */
};

/* struct upstream_call is an upconn that carries a call; the name is the public view of it. */
struct upstream_call {
	struct upstream_pool *pool;
	struct bufferevent *bev;
	struct sockio *io; /* plain upstream, once connected: write-first I/O over bev's buffers (owned) */
	enum upconn_state state;
	TAILQ_ENTRY(upstream_call) link; /* idle or resolving list */
	bool in_list;

	struct sockaddr_storage addrs[UPSTREAM_MAX_ADDRS];
	socklen_t addrlens[UPSTREAM_MAX_ADDRS];
	int naddrs, addr_idx;
	int last_errno;

	struct event *kick; /* deferred start, so callbacks never run inside upstream_call_start */

	/* the current exchange */
	struct evbuffer *pending; /* request bytes waiting for the connection */
	struct evbuffer *client_out;
	const struct upstream_callbacks *cb;
	void *cb_arg;
	size_t head_scan;
	char head[UPSTREAM_MAX_HEAD];
	struct http_message resp;
	uint64_t remaining;
	struct http_chunked chunked;
	struct upstream_report report;
	bool paused;
	size_t client_limit; /* pause relaying above this many bytes in client_out */
	char *capture; /* upstream_call_capture(): the caller's buffer, NULL when not asked */
	size_t capture_cap;
};

TAILQ_HEAD(upconn_list, upstream_call);

struct upstream_pool {
	struct event_base *base;
	struct evdns_base *dns;
	SSL_CTX *tls;
	const struct upstream_url *url;
	const struct upstream_config *cfg;
	const struct http_limits *limits;

	struct upconn_list idle;
	unsigned nidle;
	struct upconn_list resolving;

	struct sockaddr_storage addrs[UPSTREAM_MAX_ADDRS];
	socklen_t addrlens[UPSTREAM_MAX_ADDRS];
	int naddrs;
	uint64_t addrs_expire_ns;
	struct evdns_getaddrinfo_request *dns_req;
};

static void uc_readcb(struct bufferevent *bev, void *arg);
static void uc_eventcb(struct bufferevent *bev, short what, void *arg);
static void uc_connect_next(struct upstream_call *uc);

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timeval
ms_to_tv(uint32_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return tv;
}

struct upstream_pool *
upstream_pool_new(struct event_base *base, struct evdns_base *dns, SSL_CTX *tls, const struct upstream_url *url,
    const struct upstream_config *cfg, const struct http_limits *limits)
{
	struct upstream_pool *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->base = base;
	p->dns = dns;
	p->tls = tls;
	p->url = url;
	p->cfg = cfg;
	p->limits = limits;
	TAILQ_INIT(&p->idle);
	TAILQ_INIT(&p->resolving);
	return p;
}

const char *
upstream_pool_url(const struct upstream_pool *p)
{
	return p->url->text;
}

static void
uc_list_remove(struct upstream_call *uc)
{
	if (!uc->in_list)
		return;
	if (uc->state == UC_IDLE) {
		TAILQ_REMOVE(&uc->pool->idle, uc, link);
		uc->pool->nidle--;
	} else {
		TAILQ_REMOVE(&uc->pool->resolving, uc, link);
	}
	uc->in_list = false;
}

/* Timeouts and read interest, through sockio once a plain connection has it. */
static void
uc_set_timeouts(struct upstream_call *uc, const struct timeval *r, const struct timeval *w)
{
	if (uc->io != NULL)
		sockio_set_timeouts(uc->io, r, w);
	else
		bufferevent_set_timeouts(uc->bev, r, w);
}

static void
uc_read_set(struct upstream_call *uc, bool on)
{
	if (uc->io != NULL) {
		if (on)
			sockio_read_enable(uc->io);
		else
			sockio_read_disable(uc->io);
	} else if (on) {
		bufferevent_enable(uc->bev, EV_READ);
	} else {
		bufferevent_disable(uc->bev, EV_READ);
	}
}

/* Queues `request` on the connection: sockio writes it at the end of this loop pass. */
static void
uc_send(struct upstream_call *uc, struct evbuffer *request)
{
	bufferevent_write_buffer(uc->bev, request);
	if (uc->io == NULL)
		bufferevent_enable(uc->bev, EV_READ | EV_WRITE);
	else
		sockio_read_enable(uc->io);
}

static void
uc_free(struct upstream_call *uc)
{
	uc_list_remove(uc);
	sockio_free(uc->io);
	uc->io = NULL;
	if (uc->bev != NULL)
		bufferevent_free(uc->bev);
	if (uc->kick != NULL)
		event_free(uc->kick);
	if (uc->pending != NULL)
		evbuffer_free(uc->pending);
	free(uc);
}

void
upstream_pool_free(struct upstream_pool *p)
{
	struct upstream_call *uc;

	if (p == NULL)
		return;
	while ((uc = TAILQ_FIRST(&p->idle)) != NULL)
		uc_free(uc);
	while ((uc = TAILQ_FIRST(&p->resolving)) != NULL)
		uc_free(uc);
	if (p->dns_req != NULL)
		evdns_getaddrinfo_cancel(p->dns_req);
	free(p);
}

/* --- ending an exchange ---------------------------------------------- */

/* Detaches the call, returns the connection to the pool or closes it, then reports. */
static void
uc_finish(struct upstream_call *uc, enum upstream_result result, bool reusable)
{
	struct upstream_report report = uc->report;
	const struct upstream_callbacks *cb = uc->cb;
	void *arg = uc->cb_arg;
	struct upstream_pool *p = uc->pool;

	report.result = result;
	uc->cb = NULL;
	uc->cb_arg = NULL;
	uc->client_out = NULL;
	uc->paused = false;
	uc->capture = NULL;
	if (reusable && uc->bev != NULL && evbuffer_get_length(bufferevent_get_input(uc->bev)) == 0 &&
	    p->nidle < p->cfg->max_idle_connections) {
		struct timeval idle = ms_to_tv(p->cfg->idle_timeout_ms);

		uc->state = UC_IDLE;
		uc_set_timeouts(uc, &idle, NULL);
		uc_read_set(uc, true);
		/* Most recently used first: it is the one least likely to have been closed by the server. */
		TAILQ_INSERT_HEAD(&p->idle, uc, link);
		uc->in_list = true;
		p->nidle++;
	} else {
		uc_free(uc);
	}
	if (cb != NULL)
		cb->on_done(arg, &report);
}

static void
uc_fail(struct upstream_call *uc, enum upstream_result result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
uc_fail(struct upstream_call *uc, enum upstream_result result, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(uc->report.detail, sizeof(uc->report.detail), fmt, ap);
	va_end(ap);
	uc_finish(uc, result, false);
}

/* --- connecting ------------------------------------------------------ */

static void
uc_describe_peer(struct upstream_call *uc)
{
	const struct sockaddr *sa = (const struct sockaddr *)&uc->addrs[uc->addr_idx];
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
	snprintf(uc->report.peer, sizeof(uc->report.peer), sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
	    uc->pool->url->port);
}

static bool
uc_new_bev(struct upstream_call *uc)
{
	struct upstream_pool *p = uc->pool;
	int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
	struct timeval ct = ms_to_tv(p->cfg->connect_timeout_ms);

	sockio_free(uc->io);
	uc->io = NULL;
	if (uc->bev != NULL) {
		bufferevent_free(uc->bev);
		uc->bev = NULL;
	}
	if (p->tls != NULL) {
		SSL *ssl = tls_client_new(p->tls, p->url->tls_name ? p->url->tls_name : p->url->host);

		if (ssl == NULL)
			return false;
		uc->bev = bufferevent_openssl_socket_new(p->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, opts);
		if (uc->bev == NULL) {
			SSL_free(ssl);
			return false;
		}
	} else if ((uc->bev = bufferevent_socket_new(p->base, -1, opts)) == NULL) {
		return false;
	}
	bufferevent_setcb(uc->bev, uc_readcb, NULL, uc_eventcb, uc);
	bufferevent_set_timeouts(uc->bev, &ct, &ct);
	return true;
}

static void
uc_set_nodelay(struct upstream_call *uc)
{
	int one = 1;
	evutil_socket_t fd = bufferevent_getfd(uc->bev);

	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Tries the next resolved address; fails the call when none is left. */
static void
uc_connect_next(struct upstream_call *uc)
{
	const struct upstream_url *u = uc->pool->url;

	while (uc->addr_idx < uc->naddrs) {
		if (!uc_new_bev(uc)) {
			uc_fail(uc, UPSTREAM_CONNECT_FAILED, "out of memory creating the upstream connection");
			return;
		}
		uc_describe_peer(uc);
		uc->state = UC_CONNECTING;
		if (bufferevent_socket_connect(uc->bev, (struct sockaddr *)&uc->addrs[uc->addr_idx],
			(int)uc->addrlens[uc->addr_idx]) == 0)
			return;
		uc->last_errno = errno;
		uc->addr_idx++;
	}
	uc_fail(uc, UPSTREAM_CONNECT_FAILED, "cannot connect to %s port %u: %s", u->host, u->port,
	    uc->last_errno ? strerror(uc->last_errno) : "no address");
}

static void
uc_take_addrs(struct upstream_call *uc)
{
	struct upstream_pool *p = uc->pool;

	memcpy(uc->addrs, p->addrs, sizeof(p->addrs));
	memcpy(uc->addrlens, p->addrlens, sizeof(p->addrlens));
	uc->naddrs = p->naddrs;
	uc->addr_idx = 0;
}

static void
pool_dns_cb(int err, struct evutil_addrinfo *res, void *arg)
{
	struct upstream_pool *p = arg;
	struct upstream_call *uc;
	struct evutil_addrinfo *ai;

	p->dns_req = NULL;
	if (err == EVUTIL_EAI_CANCEL)
		return;
	p->naddrs = 0;
	for (ai = res; err == 0 && ai != NULL && p->naddrs < UPSTREAM_MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(p->addrs[0]))
			continue;
		memcpy(&p->addrs[p->naddrs], ai->ai_addr, ai->ai_addrlen);
		p->addrlens[p->naddrs++] = (socklen_t)ai->ai_addrlen;
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);
	p->addrs_expire_ns = p->naddrs > 0 ? mono_ns() + UPSTREAM_DNS_TTL_NS : 0;
	while ((uc = TAILQ_FIRST(&p->resolving)) != NULL) {
		uc_list_remove(uc);
		if (p->naddrs == 0) {
			uc_fail(uc, UPSTREAM_CONNECT_FAILED, "cannot resolve %s: %s", p->url->host,
			    err ? evutil_gai_strerror(err) : "no address");
			continue;
		}
		uc_take_addrs(uc);
		uc_connect_next(uc);
	}
}

static void
pool_resolve(struct upstream_pool *p)
{
	struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
		.ai_protocol = IPPROTO_TCP, .ai_flags = EVUTIL_AI_ADDRCONFIG };
	char port[8];

	if (p->dns_req != NULL)
		return; /* one query serves every connection waiting for it */
	snprintf(port, sizeof(port), "%u", p->url->port);
	/* May call pool_dns_cb before returning (numeric hosts, /etc/hosts); that is fine here. */
	p->dns_req = evdns_getaddrinfo(p->dns, p->url->host, port, &hints, pool_dns_cb, p);
}

static void
uc_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_call *uc = arg;
	struct upstream_pool *p = uc->pool;

	if (p->naddrs > 0 && mono_ns() < p->addrs_expire_ns) {
		uc_take_addrs(uc);
		uc_connect_next(uc);
		return;
	}
	uc->state = UC_RESOLVING;
	TAILQ_INSERT_TAIL(&p->resolving, uc, link);
	uc->in_list = true;
	pool_resolve(p);
}

static void
uc_connected(struct upstream_call *uc)
{
	struct timeval rt = ms_to_tv(uc->pool->cfg->response_timeout_ms);

	uc_set_nodelay(uc);
	uc->state = UC_WAIT_HEAD;
	/* Plain HTTP: from here on sockio writes first and reads without FIONREAD; else the bufferevent's own. */
	if (uc->pool->tls == NULL)
		uc->io = sockio_new(uc->bev, uc_readcb, NULL, uc_eventcb, uc, 0);
	uc_set_timeouts(uc, &rt, &rt);
	uc_send(uc, uc->pending);
}

/* --- the exchange ---------------------------------------------------- */

struct upstream_call *
upstream_call_start(struct upstream_pool *p, struct evbuffer *request, struct evbuffer *client_out,
    const struct upstream_callbacks *cb, void *arg)
{
	struct upstream_call *uc = TAILQ_FIRST(&p->idle);
	struct timeval rt = ms_to_tv(p->cfg->response_timeout_ms);

	if (uc != NULL) {
		uc_list_remove(uc);
	} else {
		if ((uc = calloc(1, sizeof(*uc))) == NULL)
			return NULL;
		uc->pool = p;
		uc->kick = event_new(p->base, -1, 0, uc_kick_cb, uc);
		uc->pending = evbuffer_new();
		if (uc->kick == NULL || uc->pending == NULL) {
			uc_free(uc);
			return NULL;
		}
	}
	memset(&uc->report, 0, sizeof(uc->report));
	uc->client_out = client_out;
	uc->client_limit = UPSTREAM_CLIENT_HIGH_WATER;
	uc->cb = cb;
	uc->cb_arg = arg;
	uc->head_scan = 0;
	uc->paused = false;
	uc->capture = NULL;
	uc->capture_cap = 0;
	if (uc->bev != NULL) { /* reused: send now; answers arrive through the callbacks */
		uc->state = UC_WAIT_HEAD;
		uc_describe_peer(uc);
		uc_set_timeouts(uc, &rt, &rt);
		uc_send(uc, request);
		return uc;
	}
	uc->state = UC_NEW;
	evbuffer_add_buffer(uc->pending, request);
	event_active(uc->kick, EV_TIMEOUT, 0);
	return uc;
}

void
upstream_call_capture(struct upstream_call *uc, char *buf, size_t cap)
{
	uc->capture = buf;
	uc->capture_cap = cap < UPSTREAM_CAPTURE_MAX ? cap : UPSTREAM_CAPTURE_MAX;
}

void
upstream_call_abort(struct upstream_call *uc)
{
	if (uc == NULL)
		return;
	uc->cb = NULL;
	uc_free(uc); /* the response state is unknown: the connection cannot be reused */
}

static void
uc_maybe_pause(struct upstream_call *uc)
{
	if (evbuffer_get_length(uc->client_out) > uc->client_limit) {
		uc->paused = true;
		uc_read_set(uc, false);
	}
}

void
upstream_call_set_client_limit(struct upstream_call *uc, size_t bytes)
{
	uc->client_limit = bytes;
}

void
upstream_call_resume(struct upstream_call *uc)
{
	if (uc == NULL || !uc->paused)
		return;
	uc->paused = false;
	uc_read_set(uc, true);
	uc_readcb(uc->bev, uc);
}

static void
uc_note_headers(struct upstream_call *uc)
{
	size_t len;
	const char *v = http_get(&uc->resp, HTTP_HDR_X_AMZN_REQUESTID, &len);

	uc->report.status = uc->resp.status;
	if (v != NULL) {
		if (len >= sizeof(uc->report.request_id))
			len = sizeof(uc->report.request_id) - 1;
		memcpy(uc->report.request_id, v, len);
		uc->report.request_id[len] = '\0';
	}
}

/* Returns false when the exchange ended (the call may be gone). */
static bool
uc_read_head(struct upstream_call *uc, struct evbuffer *in)
{
	struct http_error err = { 0 };
	ev_ssize_t n = http_find_head_end(in, UPSTREAM_MAX_HEAD, &uc->head_scan);

	if (n == 0)
		return false;
	if (n < 0) {
		uc_fail(uc, UPSTREAM_BAD_RESPONSE, "response head too large or not terminated by CRLF CRLF");
		return false;
	}
	evbuffer_remove(in, uc->head, (size_t)n);
	uc->head_scan = 0;
	if (http_parse_response(uc->head, (size_t)n, uc->pool->limits, &uc->resp, &err) != HTTP_OK) {
		uc_fail(uc, UPSTREAM_BAD_RESPONSE, "response refused: %s%s%s", err.reason, err.field[0] ? ": " : "",
		    err.field);
		return false;
	}
	if (uc->resp.status == 100)
		return true; /* interim; the real head follows */
	if (uc->resp.status < 200) {
		uc_fail(uc, UPSTREAM_BAD_RESPONSE, "unexpected interim status %d", uc->resp.status);
		return false;
	}
	uc_note_headers(uc);
	uc->report.response_started = true;
	uc->cb->on_head(uc->cb_arg, &uc->resp);
	if (uc->resp.chunked) {
		http_chunked_init(&uc->chunked);
		uc->state = UC_BODY_CHUNKED;
	} else if (uc->resp.has_content_length) {
		uc->remaining = uc->resp.content_length;
		uc->state = UC_BODY_LENGTH;
	} else { /* 204/304: no body */
		uc_finish(uc, UPSTREAM_OK, uc->resp.keep_alive);
		return false;
	}
	return true;
}

static bool
uc_read_length_body(struct upstream_call *uc, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in);
	size_t take = avail < uc->remaining ? avail : (size_t)uc->remaining;

	/* A whole small error body: keep a copy for the log before it moves on (never for successes). */
	if (uc->resp.status >= 400 && uc->report.body_bytes == 0 && take == uc->remaining &&
	    take <= sizeof(uc->report.error_body))
		uc->report.error_body_len = evbuffer_copyout(in, uc->report.error_body, take) == (ev_ssize_t)take ? take : 0;

	/* A 2xx body the caller asked for: copied piece by piece, kept only if it fits whole. */
	if (uc->capture != NULL && uc->resp.status >= 200 && uc->resp.status < 300 && take > 0 &&
	    uc->resp.content_length <= uc->capture_cap) {
		if (evbuffer_copyout(in, uc->capture + uc->report.body_bytes, take) != (ev_ssize_t)take)
			uc->capture = NULL;
		else if (take == uc->remaining)
			uc->report.capture_len = (size_t)uc->resp.content_length;
	}

	if (take > 0) {
		evbuffer_remove_buffer(in, uc->client_out, take);
		uc->remaining -= take;
		uc->report.body_bytes += take;
	}
	if (uc->remaining == 0) {
		uc_finish(uc, UPSTREAM_OK, uc->resp.keep_alive);
		return false;
	}
	uc_maybe_pause(uc);
	return false;
}

static bool
uc_read_chunked_body(struct upstream_call *uc, struct evbuffer *in)
{
	struct http_error err = { 0 };
	enum http_chunked_status st = http_chunked_relay(&uc->chunked, in, uc->client_out, &err);

	uc->report.body_bytes = uc->chunked.body_bytes;
	/* Checked whatever the status: a whole over-limit body can arrive in one read. */
	if (uc->chunked.body_bytes > uc->pool->limits->max_body_bytes) {
		uc_fail(uc, UPSTREAM_BAD_RESPONSE, "response body larger than limits.max_response_bytes");
		return false;
	}
	switch (st) {
	case HTTP_CHUNKED_DONE:
		uc_finish(uc, UPSTREAM_OK, uc->resp.keep_alive);
		return false;
	case HTTP_CHUNKED_ERROR:
		uc_fail(uc, UPSTREAM_BAD_RESPONSE, "chunked response refused: %s", err.reason);
		return false;
	case HTTP_CHUNKED_MORE:
		break;
	}
	uc_maybe_pause(uc);
	return false;
}

static void
uc_readcb(struct bufferevent *bev, void *arg)
{
	struct upstream_call *uc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	bool more = true;

	while (more && !uc->paused) {
		switch (uc->state) {
		case UC_IDLE:
			/* A server speaking unprompted on an idle connection: drop it. */
			uc_free(uc);
			return;
		case UC_WAIT_HEAD:
			more = uc_read_head(uc, in);
			break;
		case UC_BODY_LENGTH:
			more = uc_read_length_body(uc, in);
			break;
		case UC_BODY_CHUNKED:
			more = uc_read_chunked_body(uc, in);
			break;
		default:
			return;
		}
	}
}

static void
uc_connect_event(struct upstream_call *uc, short what)
{
	unsigned long ssl_err = 0;
	SSL *ssl;
	char why[160];

	if (what & BEV_EVENT_CONNECTED) {
		uc_connected(uc);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		uc_fail(uc, UPSTREAM_TIMEOUT, "connect to %s timed out after %u ms", uc->report.peer,
		    uc->pool->cfg->connect_timeout_ms);
		return;
	}
	ssl = uc->pool->tls ? bufferevent_openssl_get_ssl(uc->bev) : NULL;
	if (ssl != NULL)
		ssl_err = bufferevent_get_openssl_error(uc->bev);
	if (ssl != NULL && (ssl_err != 0 || SSL_get_verify_result(ssl) != X509_V_OK)) {
		tls_describe_error(ssl, ssl_err, why, sizeof(why));
		ERR_clear_error();
		uc_fail(uc, UPSTREAM_TLS_FAILED, "%s: %s", uc->report.peer, why);
		return;
	}
	/* Plain connect failure: another address of the same name may work. */
	uc->last_errno = EVUTIL_SOCKET_ERROR();
	uc->addr_idx++;
	uc_connect_next(uc);
}

static void
uc_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream_call *uc = arg;
	unsigned long ssl_err;
	char why[160];

	switch (uc->state) {
	case UC_CONNECTING:
		uc_connect_event(uc, what);
		return;
	case UC_IDLE:
		uc_free(uc); /* closed by the server or idle too long */
		return;
	case UC_WAIT_HEAD:
	case UC_BODY_LENGTH:
	case UC_BODY_CHUNKED:
		break;
	default:
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		uc_fail(uc, UPSTREAM_TIMEOUT, "no response from %s within %u ms", uc->report.peer,
		    uc->pool->cfg->response_timeout_ms);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		uc_fail(uc, UPSTREAM_TRUNCATED, "%s closed the connection %s", uc->report.peer,
		    uc->state == UC_WAIT_HEAD ? "before responding" : "in the middle of the response body");
		return;
	}
	ssl_err = uc->pool->tls ? bufferevent_get_openssl_error(bev) : 0;
	if (ssl_err != 0) {
		tls_describe_error(NULL, ssl_err, why, sizeof(why));
		ERR_clear_error();
	} else {
		snprintf(why, sizeof(why), "%s", strerror(EVUTIL_SOCKET_ERROR()));
	}
	uc_fail(uc, UPSTREAM_TRUNCATED, "connection to %s failed %s: %s", uc->report.peer,
	    uc->state == UC_WAIT_HEAD ? "before the response" : "during the response body", why);
}

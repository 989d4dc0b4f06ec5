#include "proxy/conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "filters/policy/condkeys.h"
#include "proxy/audit/accesslog.h"
#include "proxy/egress.h"
#include "filters/base/log.h"
#include "proxy/inflight.h"
#include "proxy/offload.h"
#include "proxy/snapshot.h"
#include "proxy/metrics.h"
#include "proxy/request.h"
#include "proxy/broker.h"
#include "proxy/runtime.h"
#include "proxy/tls.h"
#include "proxy/sockio.h"
#include "proxy/sourcecap.h"
#include "proxy/upstream.h"

/* Pipelined responses waiting for a slow reader beyond this stop further reading. */
#define CONN_OUTPUT_HIGH_WATER (1u << 20)
#define CONN_ARENA_BYTES (64u << 10)
/* Encrypted bytes allowed to wait under an egress tunnel's TLS filter. */
#define CONN_TUNNEL_WIRE_HIGH_WATER (256u << 10)

enum conn_state {
	CS_CONNECT,  /* egress listener: waiting for the CONNECT request */
	CS_HEAD,     /* waiting for (the rest of) a request head */
	CS_BODY,     /* head parsed, waiting for the body */
	CS_UPSTREAM, /* forwarded; reading from the client is paused */
	CS_LOGWAIT,  /* access_log.sync "every_call": the response waits in `held` for its record */
	CS_PARSING,  /* a large body is parsed on the runtime's parse thread; reading is off */
	CS_CLOSING,  /* flushing the last response, then close */
};

/*
 * What a call needs and an idle connection does not: request buffers, parse
 * results, the JSON arena, condition-key scratch. Taken from the worker's
 * pool (rt->spare_work) when a request's first byte is read, given back when
 * the call is over and nothing more is buffered, so an idle keep-alive
 * connection holds only struct conn and its bufferevent.
 */
struct conn_work {
	struct conn_work *next_spare; /* in rt->spare_work */
	char *head;		      /* the current request head, max_header_bytes */
	char *fwd_head;		      /* the head we send upstream, built per call */
	size_t fwd_head_cap;
	struct http_message msg;
	struct request req;
	struct inspect_result inspect;
	struct condkeys_request *keys; /* condition-key scratch, allocated on first use */
	struct json_arena *arena;      /* body tree and inspector strings for the current call */
	struct evbuffer *upstream_request;
	char *capture; /* UPSTREAM_CAPTURE_MAX, allocated on the first call that asks for ConsumedCapacity */
};

/* Spare conn_work kept per worker beyond those in use; the rest are freed (memory follows the work). */
#define CONN_SPARE_WORK_MAX 64
/*
 * When this many connections closed since the peak (or half of a peak of at
 * least CONN_TRIM_MIN_PEAK), hand the freed heap back to the kernel
 * (malloc_trim) a second later: small blocks freed in the middle of the heap
 * are otherwise kept by the allocator for ever, and RSS would stay at its
 * high-water mark after a burst of connections.
 */
#define CONN_TRIM_AFTER_CLOSES 1024
#define CONN_TRIM_MIN_PEAK 256
#define CONN_TRIM_DELAY_MS 1000
/* Each close pushes the trim back (one trim after a burst), but never beyond this since the first. */
#define CONN_TRIM_MAX_WAIT_MS 5000

struct conn {
	TAILQ_ENTRY(conn) link; /* in rt->conns */
	struct runtime *rt;
	const struct listener_config *lc;
	struct snapshot *lc_owner; /* reference: the config lc lives in (reload) */
	bool counted;		   /* in ddbguard_open_connections */
	struct bufferevent *bev;
	struct sockio *io; /* plain reverse listener: write-first I/O over bev's buffers (owned); NULL: bev's own */
	char client_ip[INET6_ADDRSTRLEN];
	enum conn_state state;
	bool read_paused; /* CONN_OUTPUT_HIGH_WATER reached */
	const struct route *route; /* NULL until an egress tunnel is set up */
	bool route_held;	   /* egress: the route is held until egress_release() in conn_free */
	SSL *ssl;		   /* the client side's TLS, owned by bev; NULL on plain HTTP */
	struct bufferevent *tunnel_plain; /* egress: the plain connection under the TLS filter, owned by bev */
	struct event *linger;		  /* closing a tunnel: waits for tunnel_plain to drain (owned) */
	uint64_t linger_deadline_ns;
	bool handshake_pending;	   /* TLS accepted but not finished: a failure is worth a log record */

	size_t head_scan;
	struct conn_work *w; /* the call's memory, from the worker's pool while a call is on; NULL when idle */
	struct upstream_call *call;
	bool close_after; /* the client asked for Connection: close */
	struct event *deadline; /* limits.request_timeout_ms from a request's first byte to its last, or
				   limits.handshake_timeout_ms while handshake_pending */
	bool deadline_armed;
	/* who is calling, for identities by certificate and network (issue 12) */
	struct identity_addr addr;
	struct tls_peer *peer;	      /* the verified client certificate's names (owned); NULL: none */
	struct identity_cert peer_cert; /* points into `peer` */
	bool peer_checked;
	struct broker_signature *sig; /* brokered calls' upstream signature, allocated on first use (owned) */
	struct evbuffer *held;		/* every_call: the response until its record is durable (owned) */
	struct accesslog_wait logwait; /* every_call: the record's completion, while CS_LOGWAIT */
	struct offload_job parse; /* CS_PARSING: the body's parse on the parse thread */
	bool gone;		  /* freed while CS_PARSING: conn_parsed finishes the job */
	uint64_t inflight; /* this call's share of limits.max_bodies_in_flight_bytes, given back by conn_log */
	struct sourcecap_entry *source; /* this connection's count in rt->sources (given back in conn_free) */
	uint64_t wire_in;	/* raw bytes read under TLS (BIO callback): did a failed handshake get anything? */
	uint64_t wire_first_ns; /* first raw byte seen while a call was in flight: the next request's clock */
	uint64_t ncalls;	/* calls answered on this connection */
};

static void conn_process(struct conn *c);
static bool conn_begin_call(struct conn *c);
static void conn_release_work(struct conn *c);
static void conn_coalesce_tls(struct conn *c);

/* Read interest on or off, through sockio when the connection has it. */
static void
conn_read_set(struct conn *c, bool on)
{
	if (c->io != NULL) {
		if (on)
			sockio_read_enable(c->io);
		else
			sockio_read_disable(c->io);
	} else if (on) {
		bufferevent_enable(c->bev, EV_READ);
	} else {
		bufferevent_disable(c->bev, EV_READ);
	}
}
static void conn_note_partial_head(struct conn *c, struct evbuffer *in);
static void conn_arm_deadline(struct conn *c);
static void conn_disarm_deadline(struct conn *c);
static void conn_set_read_limit(struct conn *c);

static void
conn_work_free(struct conn_work *w)
{
	if (w == NULL)
		return;
	if (w->upstream_request != NULL)
		evbuffer_free(w->upstream_request);
	json_arena_free(w->arena);
	free(w->head);
	free(w->fwd_head);
	free(w->keys);
	free(w->capture);
	snapshot_unref(w->req.snap); /* a spare work keeps its last call's snapshot until reused (reload.h) */
	free(w);
}

/* A spare conn_work from the worker's pool, or a new one. NULL when out of memory. */
static struct conn_work *
conn_work_take(struct runtime *rt)
{
	struct conn_work *w = rt->spare_work;

	if (w != NULL) {
		rt->spare_work = w->next_spare;
		rt->nspare_work--;
		w->next_spare = NULL;
		return w;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->head = malloc(rt->cfg->limits.max_header_bytes);
	w->arena = json_arena_new(CONN_ARENA_BYTES);
	w->upstream_request = evbuffer_new();
	if (w->head == NULL || w->arena == NULL || w->upstream_request == NULL) {
		conn_work_free(w);
		return NULL;
	}
	w->req.inspect = &w->inspect;
	return w;
}

/* Gives the connection's call memory back to the pool (or frees it when the pool is full). */
static void
conn_release_work(struct conn *c)
{
	struct conn_work *w = c->w;
	struct runtime *rt = c->rt;

	if (w == NULL)
		return;
	c->w = NULL;
	evbuffer_drain(w->upstream_request, evbuffer_get_length(w->upstream_request));
	if (rt->nspare_work >= CONN_SPARE_WORK_MAX) {
		conn_work_free(w);
		return;
	}
	w->next_spare = rt->spare_work;
	rt->spare_work = w;
	rt->nspare_work++;
}

static void
conn_trim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runtime *rt = arg;

	int released = malloc_trim(0);

	log_debug("%u connections open (peak %u): heap trimmed%s", rt->nconns, rt->conn_peak,
	    released ? "" : " (nothing to release)");
	rt->conn_peak = rt->nconns;
	rt->trim_first_ns = 0;
}

/* Called as a connection goes: schedules a trim after a large drop from the peak. */
static void
conn_note_close(struct runtime *rt)
{
	struct timeval tv = { .tv_sec = CONN_TRIM_DELAY_MS / 1000, .tv_usec = (CONN_TRIM_DELAY_MS % 1000) * 1000 };

	uint32_t drop = rt->conn_peak - rt->nconns;

	if (rt->draining || (drop < CONN_TRIM_AFTER_CLOSES && (rt->conn_peak < CONN_TRIM_MIN_PEAK ||
								  drop < rt->conn_peak / 2)))
		return;
	if (rt->trim_timer == NULL && (rt->trim_timer = evtimer_new(rt->base, conn_trim_cb, rt)) == NULL)
		return;
	if (rt->trim_first_ns == 0)
		rt->trim_first_ns = request_now_ns();
	else if (request_now_ns() - rt->trim_first_ns > (uint64_t)CONN_TRIM_MAX_WAIT_MS * 1000000u)
		return; /* pending, and pushed back long enough */
	evtimer_add(rt->trim_timer, &tv);
}

void
conn_spare_free(struct runtime *rt)
{
	struct conn_work *w;

	if (rt->trim_timer != NULL) {
		event_free(rt->trim_timer);
		rt->trim_timer = NULL;
	}
	while ((w = rt->spare_work) != NULL) {
		rt->spare_work = w->next_spare;
		conn_work_free(w);
	}
	rt->nspare_work = 0;
}

/*
 * A TLS filter's write callback fires once its bytes are encrypted into the
 * plain bufferevent below it, not once they are on the wire, and freeing the
 * filter frees that bufferevent with whatever it still holds: the last
 * response before a close, or the alert of a failed handshake. An orderly
 * close lingers until that bufferevent drains (conn_close_when_sent); this is
 * the last resort for abrupt frees: push what the socket takes now.
 */
static void
conn_flush_tunnel(struct bufferevent *plain)
{
	struct evbuffer *out = bufferevent_get_output(plain);
	evutil_socket_t fd = bufferevent_getfd(plain);

	/* The socket bufferevent keeps the front of its output frozen except inside its own write callback. */
	evbuffer_unfreeze(out, 1);
	while (fd >= 0 && evbuffer_get_length(out) > 0 && evbuffer_write(out, fd) > 0)
		;
}

static void
conn_free(struct conn *c)
{
	if (c->state == CS_PARSING) {
		/* The parse thread still reads the body and writes the arena: conn_parsed frees. */
		c->gone = true;
		if (c->io != NULL)
			sockio_read_disable(c->io);
		else
			bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	log_debug("client %s: closing in state %d", c->client_ip, (int)c->state);
	if (c->call != NULL) {
		upstream_call_abort(c->call);
		metrics_count(METRIC_UPSTREAM_IN_FLIGHT, NULL, -1);
	}
	if (c->counted)
		metrics_count(METRIC_OPEN_CONNECTIONS, c->lc->name, -1);
	accesslog_wait_cancel(&c->logwait);
	if (c->held != NULL)
		evbuffer_free(c->held);
	if (c->route_held)
		egress_release(c->rt->egress, c->route);
	if (c->tunnel_plain != NULL)
		conn_flush_tunnel(c->tunnel_plain);
	if (c->ssl != NULL && SSL_get_rbio(c->ssl) != NULL)
		BIO_set_callback_ex(SSL_get_rbio(c->ssl), NULL); /* no callback into a freed conn */
	sockio_free(c->io);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->deadline != NULL)
		event_free(c->deadline);
	if (c->linger != NULL)
		event_free(c->linger);
	inflight_release(c->inflight);
	conn_release_work(c);
	sourcecap_give(c->rt->sources, c->source);
	snapshot_unref(c->lc_owner);
	free(c->peer);
	if (c->sig != NULL)
		OPENSSL_cleanse(c->sig, sizeof(*c->sig));
	free(c->sig);
	TAILQ_REMOVE(&c->rt->conns, c, link);
	if (--c->rt->nconns == 0 && c->rt->draining)
		event_base_loopexit(c->rt->base, NULL);
	conn_note_close(c->rt);
	free(c);
}

/*
 * The call's record is built: its body budget and its tree and strings go back
 * now, not at the next call, so an idle connection holds no parse memory.
 */
static void
conn_call_done(struct conn *c)
{
	inflight_release(c->inflight);
	c->inflight = 0;
	c->w->req.body = NULL;
	c->w->req.consumed_capacity = NULL;
	json_arena_release(c->w->arena);
}

static void
conn_log(struct conn *c)
{
	c->ncalls++;
	c->rt->nrequests++;
	request_log(c->rt, &c->w->req);
	conn_call_done(c);
}

#define CONN_LINGER_POLL_MS 10

static void conn_linger_cb(evutil_socket_t fd, short what, void *arg);

/*
 * Frees the connection once everything queued for the client is on its way:
 * the client-side output is empty and, under an egress tunnel's TLS filter,
 * so is the plain connection's (the filter reports bytes as written when they
 * are only encrypted into it). Polls for the latter, bounded by
 * client_timeout_ms. Returns false if `c` was freed now.
 */
static bool
conn_close_when_sent(struct conn *c)
{
	struct timeval poll = { .tv_sec = 0, .tv_usec = CONN_LINGER_POLL_MS * 1000 };

	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return true; /* conn_writecb comes back when it drains */
	if (c->tunnel_plain != NULL && evbuffer_get_length(bufferevent_get_output(c->tunnel_plain)) > 0) {
		if (c->linger == NULL) {
			c->linger_deadline_ns = request_now_ns() + (uint64_t)c->rt->cfg->limits.client_timeout_ms * 1000000u;
			c->linger = evtimer_new(c->rt->base, conn_linger_cb, c);
		}
		if (c->linger != NULL && evtimer_add(c->linger, &poll) == 0)
			return true;
	}
	conn_free(c);
	return false;
}

static void
conn_linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (request_now_ns() >= c->linger_deadline_ns) {
		conn_free(c); /* a reader this slow has had client_timeout_ms */
		return;
	}
	conn_close_when_sent(c);
}

/* Sends what is queued, then closes. Returns false if `c` is already gone. */
static bool
conn_close_after_flush(struct conn *c)
{
	c->state = CS_CLOSING;
	conn_read_set(c, false);
	return conn_close_when_sent(c);
}

static void
conn_next_call(struct conn *c)
{
	if (c->close_after || c->rt->draining) {
		conn_close_after_flush(c);
		return;
	}
	c->state = CS_HEAD;
	/*
	 * Bytes of the next request that came in (or sit undecrypted in the TLS
	 * layer) while this call was in flight started its clock already.
	 */
	if (c->wire_first_ns != 0 || (c->ssl != NULL && SSL_has_pending(c->ssl)))
		conn_arm_deadline(c);
	conn_process(c);
}

/*
 * Answers the refusal recorded in c->w->req, logs it, and closes if `must_close`
 * or the client asked. Returns true if the connection can read its next call.
 */
static bool
conn_answer_refusal(struct conn *c, bool must_close)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t before = evbuffer_get_length(out);
	bool close = must_close || c->close_after;

	request_write_refusal(&c->w->req, out, close);
	c->w->req.bytes_out += evbuffer_get_length(out) - before;
	conn_log(c);
	if (close) {
		c->close_after = true;
		conn_close_after_flush(c);
		return false;
	}
	c->state = CS_HEAD;
	return true;
}

/* --- forwarding ------------------------------------------------------ */

static bool
fwd_reserve(struct conn *c, size_t need)
{
	char *p;
	size_t cap = c->w->fwd_head_cap ? c->w->fwd_head_cap : 1024;

	if (need <= c->w->fwd_head_cap)
		return true;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(c->w->fwd_head, cap)) == NULL)
		return false;
	c->w->fwd_head = p;
	c->w->fwd_head_cap = cap;
	return true;
}

/*
 * The request head we send upstream: every end-to-end field as received (the
 * client signed them), minus hop-by-hop fields and Expect, with Host replaced
 * only when upstream.host_header says so. Built in one reused buffer and
 * added to the upstream request with a single copy.
 */
static bool
conn_build_forward_head(struct conn *c)
{
	static const char line[] = "POST / HTTP/1.1\r\n";
	const struct broker_signature *sig = c->w->req.upstream_sig;
	const char *host_override = sig != NULL ? c->w->req.upstream_host : c->rt->cfg->upstream.host_header;
	size_t i, len = 0, need = sizeof(line) + 2 + (host_override ? strlen(host_override) + 8 : 0) +
	    (sig != NULL ? sig->len : 0);

	for (i = 0; i < c->w->msg.nheaders; i++)
		need += c->w->msg.headers[i].name_len + c->w->msg.headers[i].value_len + 4;
	if (!fwd_reserve(c, need))
		return false;
	memcpy(c->w->fwd_head, line, sizeof(line) - 1);
	len = sizeof(line) - 1;
	for (i = 0; i < c->w->msg.nheaders; i++) {
		const struct http_header *h = &c->w->msg.headers[i];
		const char *v = h->value;
		size_t vlen = h->value_len;

		if (http_hdr_is_hop_by_hop(h->id) || h->id == HTTP_HDR_EXPECT)
			continue;
		/* Brokered: the client's authentication goes no further; ours is added below. */
		if (sig != NULL && (h->id == HTTP_HDR_AUTHORIZATION || h->id == HTTP_HDR_X_AMZ_DATE ||
		    h->id == HTTP_HDR_X_AMZ_SECURITY_TOKEN ||
		    (h->name_len == 20 && strncasecmp(h->name, "x-amz-content-sha256", 20) == 0)))
			continue;
		if (h->id == HTTP_HDR_HOST && host_override != NULL) {
			v = host_override;
			vlen = strlen(host_override);
		}
		memcpy(c->w->fwd_head + len, h->name, h->name_len);
		len += h->name_len;
		c->w->fwd_head[len++] = ':';
		c->w->fwd_head[len++] = ' ';
		memcpy(c->w->fwd_head + len, v, vlen);
		len += vlen;
		c->w->fwd_head[len++] = '\r';
		c->w->fwd_head[len++] = '\n';
	}
	if (sig != NULL) {
		memcpy(c->w->fwd_head + len, sig->headers, sig->len);
		len += sig->len;
	}
	c->w->fwd_head[len++] = '\r';
	c->w->fwd_head[len++] = '\n';
	return evbuffer_add(c->w->upstream_request, c->w->fwd_head, len) == 0;
}

static void conn_upstream_head(void *arg, const struct http_message *resp);
static void conn_upstream_done(void *arg, const struct upstream_report *rep);

static const struct upstream_callbacks conn_upstream_cbs = {
	.on_head = conn_upstream_head,
	.on_done = conn_upstream_done,
};

/* Where the response being relayed goes: the client, or `held` (every_call). */
static struct evbuffer *
conn_response_out(struct conn *c)
{
	return c->held != NULL ? c->held : bufferevent_get_output(c->bev);
}

static void
conn_forward(struct conn *c, struct evbuffer *in, size_t body_len)
{
	struct upstream_pool *pool = request_pool(&c->w->req);

	evbuffer_drain(c->w->upstream_request, evbuffer_get_length(c->w->upstream_request));
	if (!conn_build_forward_head(c) || evbuffer_remove_buffer(in, c->w->upstream_request, body_len) !=
									(int)body_len) {
		request_refuse(&c->w->req, REFUSE_UPSTREAM_FAILED, "out of memory while forwarding");
		conn_answer_refusal(c, true);
		return;
	}
	c->w->req.upstream_url = upstream_pool_url(pool);
	c->w->req.upstream_start_ns = request_now_ns();
	/*
	 * Reading stays on while the upstream answers: a client that goes away is
	 * noticed at once, and not toggling the read event saves two epoll_ctl
	 * calls per request. Pipelined bytes wait in the input buffer, bounded by
	 * the read high-water mark set at accept.
	 */
	c->state = CS_UPSTREAM;
	/*
	 * access_log.sync "every_call": the response is relayed into `held`
	 * and released only once the call's record is durable (conn_log_done),
	 * so no client sees a success whose record a power loss could erase.
	 */
	if (accesslog_sync_mode(c->rt->alog) == ACCESSLOG_SYNC_EVERY_CALL && c->held == NULL &&
	    (c->held = evbuffer_new()) == NULL) {
		request_refuse(&c->w->req, REFUSE_UPSTREAM_FAILED, "out of memory while forwarding");
		conn_answer_refusal(c, true);
		return;
	}
	c->call = upstream_call_start(pool, c->w->upstream_request, conn_response_out(c), &conn_upstream_cbs, c);
	if (c->call != NULL)
		metrics_count(METRIC_UPSTREAM_IN_FLIGHT, NULL, 1);
	if (c->call == NULL) {
		request_refuse(&c->w->req, REFUSE_UPSTREAM_FAILED, "out of memory while forwarding");
		conn_answer_refusal(c, true);
		return;
	}
	if (c->held != NULL) /* nothing drains `held` until the end: room for the largest answer allowed */
		upstream_call_set_client_limit(c->call, c->rt->response_limits.max_header_bytes +
		    (size_t)c->rt->response_limits.max_body_bytes);
	/* The answer's ConsumedCapacity, for the log; without the buffer the record just lacks it. */
	if (request_wants_capacity(&c->w->req) &&
	    (c->w->capture != NULL || (c->w->capture = malloc(UPSTREAM_CAPTURE_MAX)) != NULL))
		upstream_call_capture(c->call, c->w->capture, UPSTREAM_CAPTURE_MAX);
}

/* The response head the client sees: the upstream's, minus hop-by-hop fields except the framing we relay. */
static void
conn_upstream_head(void *arg, const struct http_message *resp)
{
	struct conn *c = arg;
	struct evbuffer *out = conn_response_out(c);
	size_t before = evbuffer_get_length(out), i;

	evbuffer_add_printf(out, "HTTP/1.1 %d %.*s\r\n", resp->status, (int)resp->reason_len, resp->reason);
	for (i = 0; i < resp->nheaders; i++) {
		const struct http_header *h = &resp->headers[i];

		if (http_hdr_is_hop_by_hop(h->id) && h->id != HTTP_HDR_TRANSFER_ENCODING)
			continue;
		evbuffer_add(out, h->name, h->name_len);
		evbuffer_add(out, ": ", 2);
		evbuffer_add(out, h->value, h->value_len);
		evbuffer_add(out, "\r\n", 2);
	}
	if (c->close_after)
		evbuffer_add(out, "Connection: close\r\n", 19);
	evbuffer_add(out, "\r\n", 2);
	c->w->req.status = resp->status;
	c->w->req.upstream_status = resp->status;
	c->w->req.bytes_out += evbuffer_get_length(out) - before;
}

/*
 * errorCode for an error DynamoDB answered: the "__type" of its body, after
 * the '#'. Only the type: messages can quote request values, which the log
 * never carries.
 */
static void
conn_note_upstream_error(struct request *r, const struct upstream_report *rep)
{
	static const struct json_opts opts = { .max_depth = 4 };
	struct json_error jerr;
	const cJSON *type;
	const char *hash;
	cJSON *body;

	snprintf(r->error_code, sizeof(r->error_code), "HTTP%d", rep->status);
	if (rep->error_body_len == 0 ||
	    (body = json_parse_strict(rep->error_body, rep->error_body_len, &opts, &jerr)) == NULL)
		return;
	type = cJSON_GetObjectItemCaseSensitive(body, "__type");
	if (cJSON_IsString(type) && type->valuestring[0] != '\0') {
		hash = strrchr(type->valuestring, '#');
		snprintf(r->error_code, sizeof(r->error_code), "%s", hash ? hash + 1 : type->valuestring);
	}
	cJSON_Delete(body);
}

/*
 * guard.consumedCapacity: the ConsumedCapacity member of a captured 2xx
 * answer, parsed into the call's arena (the log reads it; only its table
 * names and numbers are written, never the items next to it).
 */
static void
conn_note_capacity(struct conn *c, const struct upstream_report *rep)
{
	struct json_error jerr;
	const cJSON *root = json_arena_parse(c->w->arena, c->w->capture, rep->capture_len, &c->rt->body_json, &jerr);
	const cJSON *cc = root ? cJSON_GetObjectItemCaseSensitive(root, "ConsumedCapacity") : NULL;

	if (cJSON_IsObject(cc) || cJSON_IsArray(cc))
		c->w->req.consumed_capacity = cc;
}

/* ddbguard_upstream_errors_total and /readyz's "upstream reachable". */
static void
conn_count_upstream(enum upstream_result res)
{
	static const char *const kind[] = {
		[UPSTREAM_CONNECT_FAILED] = "connect",
		[UPSTREAM_TLS_FAILED] = "tls",
		[UPSTREAM_TIMEOUT] = "timeout",
		[UPSTREAM_BAD_RESPONSE] = "bad_response",
		[UPSTREAM_TRUNCATED] = "truncated",
	};

	metrics_upstream_seen(res == UPSTREAM_OK);
	if (res != UPSTREAM_OK && (size_t)res < sizeof(kind) / sizeof(kind[0]) && kind[res] != NULL)
		metrics_count(METRIC_UPSTREAM_ERRORS, kind[res], 1);
}

/* every_call: the record is durable (or failed): release the held response, or close without it. */
static void
conn_log_done(struct accesslog_wait *w, bool durable)
{
	struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, logwait));

	if (!durable) {
		log_warnx("client %s: response withheld and connection closed: the call's access-log record could "
			  "not be made durable",
		    c->client_ip);
		conn_free(c);
		return;
	}
	evbuffer_add_buffer(bufferevent_get_output(c->bev), c->held);
	conn_coalesce_tls(c);
	conn_next_call(c);
}

static void
conn_log_then_release(struct conn *c)
{
	c->rt->nrequests++;
	c->logwait.done = conn_log_done;
	enum accesslog_queued q = request_log_wait(c->rt, &c->w->req, &c->logwait);

	conn_call_done(c);
	switch (q) {
	case ACCESSLOG_WAITING:
		c->state = CS_LOGWAIT;
		return;
	case ACCESSLOG_QUEUED: /* not every_call after all: nothing to wait for */
		evbuffer_add_buffer(bufferevent_get_output(c->bev), c->held);
		conn_coalesce_tls(c);
		conn_next_call(c);
		return;
	case ACCESSLOG_DROPPED:
		log_warnx("client %s: response withheld and connection closed: the access log buffer is full",
		    c->client_ip);
		conn_free(c);
		return;
	}
}

/* The most plaintext one TLS record carries (RFC 8446 5.1). */
#define CONN_TLS_RECORD_MAX 16384

/*
 * TLS: bufferevent_openssl makes one SSL_write, hence one record and one
 * write(2), per chain of the output buffer; a response's head and body are
 * separate chains. Joined, a response that fits a record goes out as one.
 */
static void
conn_coalesce_tls(struct conn *c)
{
	struct evbuffer *out;
	size_t len;

	if (c->ssl == NULL)
		return;
	out = bufferevent_get_output(c->bev);
	len = evbuffer_get_length(out);
	if (len > 0 && len <= CONN_TLS_RECORD_MAX && evbuffer_get_contiguous_space(out) < len)
		evbuffer_pullup(out, -1);
}

static void
conn_upstream_done(void *arg, const struct upstream_report *rep)
{
	struct conn *c = arg;
	struct request *r = &c->w->req;

	c->call = NULL;
	metrics_count(METRIC_UPSTREAM_IN_FLIGHT, NULL, -1);
	conn_count_upstream(rep->result);
	r->upstream_end_ns = request_now_ns();
	r->upstream_status = rep->status;
	snprintf(r->upstream_peer, sizeof(r->upstream_peer), "%s", rep->peer);
	if (rep->request_id[0] != '\0')
		snprintf(r->request_id, sizeof(r->request_id), "%s", rep->request_id);
	r->bytes_out += rep->body_bytes;
	if (rep->result == UPSTREAM_OK && rep->status >= 400)
		conn_note_upstream_error(r, rep);
	if (rep->result == UPSTREAM_OK && rep->capture_len > 0)
		conn_note_capacity(c, rep);
	if (rep->result == UPSTREAM_OK && c->held != NULL) {
		conn_log_then_release(c);
		return;
	}
	if (rep->result == UPSTREAM_OK) {
		conn_coalesce_tls(c);
		conn_log(c);
		conn_next_call(c);
		return;
	}
	if (c->held != NULL) /* a failed call's partial answer is never released */
		evbuffer_drain(c->held, evbuffer_get_length(c->held));
	request_refuse(r, rep->result == UPSTREAM_TIMEOUT ? REFUSE_UPSTREAM_TIMEOUT : REFUSE_UPSTREAM_FAILED,
	    "upstream %s (%s): %s", r->upstream_url, rep->peer[0] ? rep->peer : "no address", rep->detail);
	log_warnx("%s", r->reason);
	if (!rep->response_started) {
		/* Nothing reached the client yet: a clean, retryable 5xx, and the connection stays usable. */
		if (conn_answer_refusal(c, false))
			conn_next_call(c);
		return;
	}
	/* Part of the response is out: the only honest signal left is to cut the connection. */
	conn_log(c);
	conn_free(c);
}

/* --- reading requests ------------------------------------------------ */

/*
 * client_timeout_ms bounds the gap between reads; this bounds the whole
 * request, so a client that trickles a byte at a time cannot hold a
 * connection (and its buffers) for ever. A timer, not a syscall, per request.
 */
static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	c->deadline_armed = false;
	if (c->handshake_pending) {
		if (!conn_begin_call(c)) {
			conn_free(c);
			return;
		}
		request_refuse(&c->w->req, REFUSE_TOO_SLOW, "the TLS handshake (%s) did not finish within %u ms",
		    c->route && c->route->connect_host ? "egress tunnel" : "listener",
		    c->rt->cfg->limits.handshake_timeout_ms);
		c->w->req.status = 0; /* nothing can be said over a connection without TLS */
		c->w->req.bytes_in = c->wire_in;
		conn_log(c);
		conn_free(c);
		return;
	}
	if (c->state != CS_HEAD && c->state != CS_BODY && c->state != CS_CONNECT)
		return;
	if (c->state != CS_BODY) {
		if (!conn_begin_call(c)) {
			conn_free(c);
			return;
		}
		conn_note_partial_head(c, bufferevent_get_input(c->bev));
	}
	request_refuse(&c->w->req, REFUSE_TOO_SLOW, "the request did not arrive whole within %u ms",
	    c->rt->cfg->limits.request_timeout_ms);
	conn_answer_refusal(c, true);
}

static void
conn_arm_timer(struct conn *c, uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	if (c->deadline == NULL && (c->deadline = evtimer_new(c->rt->base, conn_deadline_cb, c)) == NULL)
		return; /* out of memory: client_timeout_ms still bounds each read */
	if (evtimer_add(c->deadline, &tv) == 0)
		c->deadline_armed = true;
}

/*
 * The request clock: request_timeout_ms from the request's first byte on the
 * wire (wire_first_ns when it came in during the previous call), encrypted
 * or not.
 */
static void
conn_arm_deadline(struct conn *c)
{
	uint64_t ms = c->rt->cfg->limits.request_timeout_ms, spent;

	if (c->wire_first_ns != 0) {
		spent = (request_now_ns() - c->wire_first_ns) / 1000000u;
		ms = spent < ms ? ms - spent : 1;
		c->wire_first_ns = 0;
	}
	conn_arm_timer(c, ms);
}

static void
conn_disarm_deadline(struct conn *c)
{
	if (c->deadline_armed) {
		evtimer_del(c->deadline);
		c->deadline_armed = false;
	}
}

/*
 * Once per connection, after the handshake: the names of the client
 * certificate a listener with tls.client_ca verified. A certificate with more
 * names than we keep matches no identity (it is as if none was sent).
 */
static void
conn_note_peer(struct conn *c)
{
	struct tls_peer *p;

	if (c->peer_checked || c->lc->client_ca == NULL || c->route == NULL || c->route->connect_host != NULL)
		return;
	c->peer_checked = true;
	if ((p = malloc(sizeof(*p))) == NULL)
		return;
	if (!tls_peer_names(c->ssl, p) || p->truncated) {
		free(p);
		return;
	}
	c->peer = p;
	c->peer_cert = (struct identity_cert){ p->subject[0] ? p->subject : NULL, p->dns_p, p->ndns, p->uris_p,
		p->nuris };
}

/*
 * Raw bytes arrived under TLS (a BIO callback, before any of them decrypt):
 * this, not decrypted data, starts a request's clock, so a client that
 * trickles a record a byte at a time is bounded like a plain one.
 */
static void
conn_wire_bytes(struct conn *c, size_t n)
{
	c->wire_in += n;
	if (c->handshake_pending)
		return; /* handshake_timeout_ms runs */
	switch (c->state) {
	case CS_HEAD:
	case CS_CONNECT:
		if (!c->deadline_armed)
			conn_arm_deadline(c);
		break;
	case CS_UPSTREAM:
	case CS_CLOSING:
	case CS_LOGWAIT:
	case CS_PARSING:
		if (c->wire_first_ns == 0)
			c->wire_first_ns = request_now_ns();
		break;
	case CS_BODY:
		break; /* the request being read is on the clock */
	}
}

static long
conn_wire_cb(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret, size_t *processed)
{
	struct conn *c = (struct conn *)BIO_get_callback_arg(b);

	if (c != NULL && oper == (BIO_CB_READ | BIO_CB_RETURN) && ret > 0 && processed != NULL && *processed > 0)
		conn_wire_bytes(c, *processed);
	return ret;
}

/* Watches the raw side of the client's TLS and starts handshake_timeout_ms. */
static void
conn_watch_tls(struct conn *c)
{
	BIO *rbio = SSL_get_rbio(c->ssl);

	if (rbio != NULL) {
		BIO_set_callback_arg(rbio, (char *)c);
		BIO_set_callback_ex(rbio, conn_wire_cb);
	}
	c->handshake_pending = true;
	conn_disarm_deadline(c);
	conn_arm_timer(c, c->rt->cfg->limits.handshake_timeout_ms);
}


/*
 * Starts a call record, taking the call's memory from the pool if the
 * connection has none. Returns false when out of memory: the caller closes
 * the connection (conn_free), there is nothing to log it with.
 */
static bool
conn_begin_call(struct conn *c)
{
	if (c->w == NULL && (c->w = conn_work_take(c->rt)) == NULL) {
		log_warnx("client %s: out of memory for a call; closing the connection", c->client_ip);
		return false;
	}
	request_begin(&c->w->req, c->lc, c->client_ip, c->route);
	snapshot_call_begin(c->rt, &c->w->req.snap); /* the config this call is decided and logged by */
	json_arena_reset(c->w->arena);
	if (c->ssl != NULL && SSL_is_init_finished(c->ssl)) {
		c->w->req.tls_version = SSL_get_version(c->ssl);
		c->w->req.tls_cipher = SSL_get_cipher_name(c->ssl);
		conn_note_peer(c);
	}
	c->w->req.client_addr = c->addr.family != 0 ? &c->addr : NULL;
	c->w->req.peer_cert = c->peer != NULL ? &c->peer_cert : NULL;
	return true;
}

/*
 * A head that never parsed (too large, cut short, timed out): the log still
 * says what it named. Looks at most max_header_bytes into the input, which
 * stays as it is until the record is written.
 */
static void
conn_note_partial_head(struct conn *c, struct evbuffer *in)
{
	size_t n = evbuffer_get_length(in);
	const char *p;

	if (n > c->rt->cfg->limits.max_header_bytes)
		n = c->rt->cfg->limits.max_header_bytes;
	if (n > 0 && (p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n)) != NULL)
		request_note_raw_head(&c->w->req, p, n);
}

/* RFC 9110 7.2: inside a tunnel the Host must name the endpoint the tunnel was opened to. */
static bool
conn_host_matches_tunnel(const struct conn *c)
{
	const char *want = c->route->connect_host, *host;
	size_t wlen = strlen(want), len;

	host = http_get(&c->w->msg, HTTP_HDR_HOST, &len);
	if (host == NULL || len < wlen || strncasecmp(host, want, wlen) != 0)
		return false;
	return len == wlen || (len == wlen + 4 && memcmp(host + wlen, ":443", 4) == 0);
}

/* Returns true when a head was parsed and the connection moved to CS_BODY. */
static bool
conn_read_head(struct conn *c, struct evbuffer *in)
{
	const struct limits_config *lim = &c->rt->cfg->limits;
	struct http_error err = { 0 };
	ev_ssize_t n;

	if (evbuffer_get_length(in) == 0)
		return false;
	n = http_find_head_end(in, lim->max_header_bytes, &c->head_scan);
	if (n == 0)
		return false;
	if (!conn_begin_call(c)) {
		conn_free(c);
		return false;
	}
	c->head_scan = 0;
	if (n < 0) {
		conn_note_partial_head(c, in);
		request_refuse(&c->w->req, REFUSE_BAD_HTTP,
		    "request head is larger than limits.max_header_bytes (%u) or not terminated by CRLF CRLF",
		    lim->max_header_bytes);
		conn_answer_refusal(c, true);
		return false;
	}
	evbuffer_remove(in, c->w->head, (size_t)n);
	c->w->req.bytes_in = (uint64_t)n;
	if (http_parse_request(c->w->head, (size_t)n, &c->rt->request_limits, &c->w->msg, &err) != HTTP_OK) {
		request_note_raw_head(&c->w->req, c->w->head, (size_t)n);
		request_refuse(&c->w->req, REFUSE_BAD_HTTP, "%s%s%s", err.reason, err.field[0] ? ": " : "", err.field);
		conn_answer_refusal(c, true); /* framing is in doubt: never read past it */
		return false;
	}
	c->w->req.http = &c->w->msg;
	request_note_target(&c->w->req);
	c->close_after = !c->w->msg.keep_alive;
	if (c->route->connect_host != NULL && !conn_host_matches_tunnel(c)) {
		request_refuse(&c->w->req, REFUSE_BAD_HTTP, "Host does not match the CONNECT target %s",
		    c->route->connect_host);
		conn_answer_refusal(c, true);
		return false;
	}
	/* Before any of the body is buffered: the budget bounds what bodies can hold, not what they did. */
	if (c->w->msg.content_length > 0 &&
	    !inflight_reserve(c->w->msg.content_length, c->rt->cfg->limits.max_bodies_in_flight_bytes)) {
		request_refuse(&c->w->req, REFUSE_THROTTLED,
		    "Rate of requests exceeds the allowed throughput. (ddbguard: request bodies in flight are at "
		    "limits.max_bodies_in_flight_bytes)");
		conn_answer_refusal(c, true); /* the body is never read */
		return false;
	}
	c->inflight = c->w->msg.content_length;
	if (c->w->msg.expect_continue)
		evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
	c->state = CS_BODY;
	return true;
}

/* --- egress tunnels ------------------------------------------------- */

/*
 * Answers 200 and continues the connection as TLS with a certificate for the
 * CONNECT host: the filter reads the client's handshake from the plain
 * connection, which it now owns.
 */
static bool
conn_open_tunnel(struct conn *c, const struct route *route)
{
	SSL *ssl = egress_tunnel_ssl(c->rt->egress, route);
	struct bufferevent *tls;

	if (ssl == NULL)
		return false;
	evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 200 Connection established\r\n\r\n", 39);
	tls = bufferevent_openssl_filter_new(c->rt->base, c->bev, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		SSL_free(ssl);
		return false;
	}
	/*
	 * The filter stops encrypting into the plain connection once this much
	 * waits there (libevent's BIO honours the high-water mark), so a slow
	 * tunnel client pushes back on the relay instead of growing a buffer.
	 */
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, CONN_TUNNEL_WIRE_HIGH_WATER);
	c->tunnel_plain = c->bev;
	c->bev = tls;
	c->ssl = ssl;
	c->route = route;
	c->state = CS_HEAD;
	conn_watch_tls(c);
	return true;
}

static void conn_readcb(struct bufferevent *bev, void *arg);
static void conn_writecb(struct bufferevent *bev, void *arg);
static void conn_eventcb(struct bufferevent *bev, short what, void *arg);

/* Egress listener: one CONNECT, decided by the endpoint allow-list. Returns true once tunnelled. */
static bool
conn_read_connect(struct conn *c, struct evbuffer *in)
{
	const struct limits_config *lim = &c->rt->cfg->limits;
	struct http_error err = { 0 };
	const struct route *route = NULL;
	char why[200];
	ev_ssize_t n;

	if (evbuffer_get_length(in) == 0 || (n = http_find_head_end(in, lim->max_header_bytes, &c->head_scan)) == 0)
		return false;
	if (!conn_begin_call(c)) {
		conn_free(c);
		return false;
	}
	c->head_scan = 0;
	if (n < 0) {
		conn_note_partial_head(c, in);
		request_refuse(&c->w->req, REFUSE_BAD_HTTP, "request head too large or not terminated by CRLF CRLF");
		conn_answer_refusal(c, true);
		return false;
	}
	evbuffer_remove(in, c->w->head, (size_t)n);
	c->w->req.bytes_in = (uint64_t)n;
	if (http_parse_connect(c->w->head, (size_t)n, &c->rt->request_limits, &c->w->msg, &err) != HTTP_OK) {
		request_note_raw_head(&c->w->req, c->w->head, (size_t)n);
		/* A proxy request for anything else (GET http://..., CONNECT elsewhere) is a way out we do not offer. */
		bool not_connect = (size_t)n < 8 || memcmp(c->w->head, "CONNECT ", 8) != 0;
		const char *end = c->w->head + n, *t = memchr(c->w->head, ' ', (size_t)n), *te;

		/* The log says what was asked for: the request-target as sent (the log writer escapes it). */
		if (t != NULL) {
			for (te = ++t; te < end && *te != ' ' && *te != '\r' && *te != '\n'; te++)
				;
			if (te > t) {
				c->w->req.connect_target = t;
				c->w->req.connect_target_len = (size_t)(te - t);
			}
		}

		request_refuse(&c->w->req, not_connect ? REFUSE_TUNNEL_DENIED : REFUSE_BAD_HTTP, "%s%s%s",
		    not_connect ? "this gateway only tunnels CONNECT to DynamoDB endpoints" : err.reason,
		    !not_connect && err.field[0] ? ": " : "", not_connect ? "" : err.field);
		conn_answer_refusal(c, true);
		return false;
	}
	conn_disarm_deadline(c);
	c->w->req.http = &c->w->msg;
	c->w->req.connect_target = c->w->msg.connect_host;
	c->w->req.connect_target_len = c->w->msg.connect_host_len;
	switch (egress_resolve(c->rt->egress, c->w->msg.connect_host, c->w->msg.connect_host_len, c->w->msg.connect_port,
	    &route, why, sizeof(why))) {
	case EGRESS_REFUSED:
		metrics_count(METRIC_EGRESS_TUNNELS, "refused", 1);
		request_refuse(&c->w->req, REFUSE_TUNNEL_DENIED, "%s", why);
		conn_answer_refusal(c, true);
		return false;
	case EGRESS_FAILED:
		metrics_count(METRIC_EGRESS_TUNNELS, "failed", 1);
		request_refuse(&c->w->req, REFUSE_UPSTREAM_FAILED, "%s", why);
		conn_answer_refusal(c, true);
		return false;
	case EGRESS_ALLOWED:
		metrics_count(METRIC_EGRESS_TUNNELS, "allowed", 1);
		c->route = route; /* held from here: conn_free releases it */
		c->route_held = true;
		break;
	}
	if (!conn_open_tunnel(c, route)) {
		request_refuse(&c->w->req, REFUSE_UPSTREAM_FAILED, "cannot set up TLS for the tunnel to %s",
		    route->connect_host);
		conn_answer_refusal(c, true);
		return false;
	}
	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	conn_set_read_limit(c);
	{
		struct timeval tv = { .tv_sec = lim->client_timeout_ms / 1000,
			.tv_usec = (lim->client_timeout_ms % 1000) * 1000 };

		bufferevent_set_timeouts(c->bev, &tv, &tv);
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	conn_release_work(c); /* the tunnel waits for its handshake holding no call memory */
	return false; /* the tunnel's first request arrives through the new bufferevent */
}

#ifdef DDBGUARD_FAULT_FORWARD_DENIED
/*
 * FAULT INJECTION, test builds only (meson -Dfault_injection=true; meson.build
 * refuses it in a release build). It plants the one bug the end-to-end suite
 * must catch from outside the gateway: a call denied by policy is answered
 * AccessDenied, and its log record says "deny", but it is sent upstream all
 * the same (the answer is thrown away). tests/run.sh builds this variant and
 * checks that the denial tests fail against it.
 */
struct fault_call {
	struct evbuffer *req, *sink; /* owned; freed in fault_done */
};

static void
fault_head(void *arg, const struct http_message *resp)
{
	(void)arg;
	(void)resp;
}

static void
fault_done(void *arg, const struct upstream_report *rep)
{
	struct fault_call *f = arg;

	(void)rep;
	evbuffer_free(f->req);
	evbuffer_free(f->sink);
	free(f);
}

static const struct upstream_callbacks fault_cbs = { .on_head = fault_head, .on_done = fault_done };

static void
conn_fault_forward_denied(struct conn *c, const char *body, size_t body_len)
{
	struct upstream_pool *pool = request_pool(&c->w->req);
	struct fault_call *f;

	if (c->w->req.refusal != REFUSE_DENIED || pool == NULL || (f = calloc(1, sizeof(*f))) == NULL)
		return;
	f->req = evbuffer_new();
	f->sink = evbuffer_new();
	evbuffer_drain(c->w->upstream_request, evbuffer_get_length(c->w->upstream_request));
	if (f->req != NULL && f->sink != NULL && conn_build_forward_head(c) &&
	    evbuffer_add_buffer(f->req, c->w->upstream_request) == 0 && evbuffer_add(f->req, body, body_len) == 0 &&
	    upstream_call_start(pool, f->req, f->sink, &fault_cbs, f) != NULL)
		return;
	if (f->req != NULL)
		evbuffer_free(f->req);
	if (f->sink != NULL)
		evbuffer_free(f->sink);
	free(f);
}
#endif

static void conn_parsed(struct offload_job *job);

/*
 * Hands the body to the runtime's parse thread. Reading stops until the parse
 * is done: libevent may move the bytes of an input chain it appends to, and
 * the thread is reading them. False when there is no parse thread.
 */
static bool
conn_parse_offloaded(struct conn *c, const char *body, size_t len)
{
	c->parse.arena = c->w->arena;
	c->parse.body = body;
	c->parse.len = len;
	c->parse.opts = &c->rt->body_json;
	c->parse.done = conn_parsed;
	if (!offload_submit(c->rt->offload, &c->parse))
		return false;
	c->state = CS_PARSING;
	conn_read_set(c, false);
	return true;
}

/* On the loop, once the parse thread is done with the body: the decision goes on where it stopped. */
static void
conn_parsed(struct offload_job *job)
{
	struct conn *c = (struct conn *)((char *)job - offsetof(struct conn, parse));

	c->state = CS_BODY;
	c->w->req.has_parsed = true;
	c->w->req.parsed = job->root;
	c->w->req.parse_err = job->err;
	if (c->gone) {
		request_refuse(&c->w->req, REFUSE_BAD_HTTP, "client connection closed while its request was decided");
		c->w->req.status = 0;
		conn_log(c);
		conn_free(c);
		return;
	}
	if (!c->read_paused)
		conn_read_set(c, true);
	conn_process(c);
}

/* Brokered calls: the broker's signature, into the connection's buffer (allocated on first use). */
static bool
conn_sign(struct conn *c, const char *body, size_t len)
{
	if (!c->w->req.brokered)
		return true;
	if (c->sig == NULL)
		c->sig = malloc(sizeof(*c->sig));
	return request_sign_upstream(c->rt, &c->w->req, c->sig, body, len);
}

/* Returns true when the call was answered here and the next one may be read. */
static bool
conn_read_body(struct conn *c, struct evbuffer *in)
{
	size_t len = (size_t)c->w->msg.content_length;
	const char *body = "";

	if (evbuffer_get_length(in) < len)
		return false;
	conn_disarm_deadline(c); /* the whole request is here */
	c->wire_first_ns = 0;
	if (len > 0 && (body = (const char *)evbuffer_pullup(in, (ev_ssize_t)len)) == NULL) {
		request_refuse(&c->w->req, REFUSE_BAD_HTTP, "out of memory reading the body");
		conn_answer_refusal(c, true);
		return false;
	}
	/* Large bodies are parsed off the loop; the decision resumes in conn_parsed with the tree. */
	if (len >= OFFLOAD_MIN_BYTES && !c->w->req.has_parsed && conn_parse_offloaded(c, body, len))
		return false;
	c->w->req.bytes_in += len;
	/* Condition-key scratch: once per connection, on its first call with a body, then reused. */
	if (c->w->keys == NULL)
		c->w->keys = malloc(sizeof(*c->w->keys));
	c->w->req.keys = c->w->keys;
	if (request_decide(c->rt, &c->w->req, body, len, c->w->arena) && conn_sign(c, body, len)) {
		conn_forward(c, in, len);
		return false;
	}
#ifdef DDBGUARD_FAULT_FORWARD_DENIED
	conn_fault_forward_denied(c, body, len);
#endif
	evbuffer_drain(in, len);
	return conn_answer_refusal(c, false);
}

static void
conn_process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->io != NULL)
		sockio_read_check(c->io); /* reading resumes once a full input buffer was drained */
	if (c->state == CS_CONNECT) {
		if (!c->deadline_armed && evbuffer_get_length(in) > 0)
			conn_arm_deadline(c);
		conn_read_connect(c, in);
		return;
	}
	for (;;) {
		if (evbuffer_get_length(out) > CONN_OUTPUT_HIGH_WATER) {
			c->read_paused = true;
			conn_read_set(c, false);
			return;
		}
		if (c->state == CS_HEAD && evbuffer_get_length(in) == 0) {
			conn_release_work(c); /* between calls: the connection holds no call memory */
			return;
		}
		if (c->state == CS_HEAD && !c->deadline_armed)
			conn_arm_deadline(c);
		if (c->state == CS_HEAD && !conn_read_head(c, in))
			return;
		if (c->state != CS_BODY || !conn_read_body(c, in))
			return;
	}
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == CS_UPSTREAM || c->state == CS_CLOSING || c->state == CS_LOGWAIT || c->state == CS_PARSING)
		return; /* the next request is read once this one's response is out */
	conn_process(c);
}

static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	switch (c->state) {
	case CS_CLOSING:
		conn_close_when_sent(c);
		return;
	case CS_UPSTREAM:
		upstream_call_resume(c->call);
		return;
	case CS_LOGWAIT:
	case CS_PARSING:
		return;
	default:
		if (c->read_paused) {
			c->read_paused = false;
			conn_read_set(c, true);
			conn_process(c);
		}
	}
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	bool partial_head;
	const char *how = (what & BEV_EVENT_TIMEOUT) ? "timed out" : "closed";

	if (what & BEV_EVENT_CONNECTED) {
		if (c->handshake_pending)
			metrics_add(METRIC_TLS_HANDSHAKES, c->lc->name, "ok", NULL, 1);
		c->handshake_pending = false; /* TLS is up; the request comes through readcb */
		conn_disarm_deadline(c);
		/* The first request's bytes may have come with the handshake's last flight. */
		if ((c->ssl != NULL && SSL_has_pending(c->ssl)) || evbuffer_get_length(bufferevent_get_input(bev)) > 0)
			conn_arm_deadline(c);
		return;
	}
	if (c->state == CS_PARSING) { /* logged and freed when the parse is done (conn_parsed) */
		conn_free(c);
		return;
	}
	/*
	 * A handshake that failed on TLS grounds (say, the client does not trust
	 * our certificate) is logged; a bare connect-and-close (a health check)
	 * is not a call and is not.
	 */
	if (c->handshake_pending) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char tmp[160];

		ERR_clear_error();
		/* Nothing but a close (a port probe) is not a call: like HAProxy's dontlognull. */
		if (c->wire_in == 0 && !(what & BEV_EVENT_TIMEOUT) &&
		    (e == 0 || ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
			conn_free(c);
			return;
		}
		if (what & BEV_EVENT_TIMEOUT)
			snprintf(tmp, sizeof(tmp), "no bytes for limits.client_timeout_ms");
		else if (e == 0 || ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			snprintf(tmp, sizeof(tmp), "the client closed the connection");
		else
			ERR_error_string_n(e, tmp, sizeof(tmp));
		metrics_add(METRIC_TLS_HANDSHAKES, c->lc->name, "failed", NULL, 1);
		if (!conn_begin_call(c)) {
			conn_free(c);
			return;
		}
		request_refuse(&c->w->req, (what & BEV_EVENT_TIMEOUT) ? REFUSE_TOO_SLOW : REFUSE_BAD_HTTP,
		    "TLS handshake with the client failed (%s): %s",
		    c->route && c->route->connect_host ? "egress tunnel" : "listener", tmp);
		c->w->req.status = 0;
		c->w->req.bytes_in = c->wire_in;
		conn_log(c);
		conn_free(c);
		return;
	}
	log_debug("client %s: connection event 0x%x in state %d", c->client_ip, what, (int)c->state);
	/*
	 * EOF while the upstream answers may be a half-close (RFC 9112 9.6): the
	 * response still goes out, then the connection closes. A full close
	 * shows up as a write error then.
	 */
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && (c->state == CS_UPSTREAM || c->state == CS_LOGWAIT)) {
		c->close_after = true;
		conn_read_set(c, false);
		return;
	}
	partial_head = c->state == CS_HEAD && evbuffer_get_length(bufferevent_get_input(bev)) > 0;
	if (partial_head) {
		if (!conn_begin_call(c)) {
			conn_free(c);
			return;
		}
		conn_note_partial_head(c, bufferevent_get_input(bev));
	}
	if (partial_head || c->state == CS_BODY) {
		request_refuse(&c->w->req, REFUSE_BAD_HTTP, "client connection %s before the request was complete", how);
		c->w->req.status = 0;
		conn_log(c);
	} else if (c->state == CS_UPSTREAM) {
		snprintf(c->w->req.reason, sizeof(c->w->req.reason), "client connection %s before the response was sent",
		    how);
		conn_log(c);
	} else if ((what & BEV_EVENT_TIMEOUT) && c->state == CS_HEAD && c->ncalls == 0) {
		/*
		 * A connection that never sent a request held a slot for
		 * client_timeout_ms: worth a record. The normal end of an idle
		 * keep-alive connection after its calls is not.
		 */
		if (!conn_begin_call(c)) {
			conn_free(c);
			return;
		}
		request_refuse(&c->w->req, REFUSE_TOO_SLOW, "client connection idle for limits.client_timeout_ms (%u ms) "
		    "without sending a request", c->rt->cfg->limits.client_timeout_ms);
		c->w->req.status = 0;
		conn_log(c);
	}
	conn_free(c);
}

/* --- accepting ------------------------------------------------------- */

static void
conn_describe_peer(struct conn *c, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->client_ip, sizeof(c->client_ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, c->client_ip,
		    sizeof(c->client_ip));
	else
		snprintf(c->client_ip, sizeof(c->client_ip), "unknown");
}

/* Input is bounded by one whole request: what a pipelining client can park here. */
static void
conn_set_read_limit(struct conn *c)
{
	const struct limits_config *lim = &c->rt->cfg->limits;

	bufferevent_setwatermark(c->bev, EV_READ, 0, (size_t)lim->max_header_bytes + (size_t)lim->max_body_bytes);
}

static struct bufferevent *
conn_new_bev(struct runtime *rt, SSL_CTX *tls, evutil_socket_t fd)
{
	SSL *ssl;
	struct bufferevent *bev;

	if (tls == NULL)
		return bufferevent_socket_new(rt->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if ((ssl = SSL_new(tls)) == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(rt->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		SSL_free(ssl);
	return bev;
}

void
conn_accept(struct runtime *rt, const struct listener_config *lc, struct snapshot *owner, SSL_CTX *tls,
    evutil_socket_t fd, const struct sockaddr *sa, socklen_t salen, struct sourcecap_entry *source)
{
	const struct limits_config *lim = &rt->cfg->limits;
	struct timeval tv = { .tv_sec = lim->client_timeout_ms / 1000,
		.tv_usec = (lim->client_timeout_ms % 1000) * 1000 };
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (c == NULL)
		goto fail;
	if (++rt->nconns > rt->conn_peak)
		rt->conn_peak = rt->nconns;
	TAILQ_INSERT_TAIL(&rt->conns, c, link);
	c->source = source;
	c->rt = rt;
	c->lc = lc;
	if ((c->lc_owner = owner) != NULL)
		snapshot_ref(owner);
	if (lc->kind == LISTENER_EGRESS) {
		c->state = CS_CONNECT;
	} else {
		c->state = CS_HEAD;
		c->route = &rt->reverse;
	}
	conn_describe_peer(c, sa);
	identity_addr_parse(c->client_ip, &c->addr);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c->bev = conn_new_bev(rt, tls, fd)) == NULL)
		goto fail_conn;
	if (tls != NULL) {
		c->ssl = bufferevent_openssl_get_ssl(c->bev);
		conn_watch_tls(c);
	}
	/*
	 * Plain reverse connections: sockio writes first and reads without
	 * FIONREAD (see sockio.h). TLS and egress connections keep the
	 * bufferevent's own I/O (the TLS filter of a tunnel drives the plain
	 * connection under it).
	 */
	if (tls == NULL && lc->kind != LISTENER_EGRESS &&
	    (c->io = sockio_new(c->bev, conn_readcb, conn_writecb, conn_eventcb, c,
		 (size_t)lim->max_header_bytes + (size_t)lim->max_body_bytes)) != NULL) {
		sockio_set_timeouts(c->io, &tv, &tv);
		return;
	}
	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	conn_set_read_limit(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	metrics_count(METRIC_CONNECTIONS, lc->name, 1);
	metrics_count(METRIC_OPEN_CONNECTIONS, lc->name, 1);
	c->counted = true;
	return;
fail_conn:
	log_warnx("out of memory accepting a connection from %s", c->client_ip);
	if (c->bev == NULL)
		close(fd);
	conn_free(c);
	return;
fail:
	close(fd);
	sourcecap_give(rt->sources, source);
	log_warnx("out of memory accepting a connection");
}

void
conn_drain_all(struct runtime *rt)
{
	struct conn *c, *next;

	rt->draining = true;
	if (rt->nconns == 0) {
		event_base_loopexit(rt->base, NULL);
		return;
	}
	for (c = TAILQ_FIRST(&rt->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		/* Between calls with no request started: close once the last response is out. */
		if ((c->state == CS_HEAD || c->state == CS_CONNECT) &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0 && !c->handshake_pending)
			conn_close_after_flush(c);
		else
			c->close_after = true; /* conn_next_call closes it after the call in flight */
	}
}

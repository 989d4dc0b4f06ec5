/*
 * conn: one client connection and the calls it carries, in order.
 *
 * Reads a request head (strict parser), waits for the whole body, runs the
 * decide stages, then either forwards through the upstream pool or answers
 * the refusal itself, and writes one access-log record per call. Keep-alive
 * and pipelining are supported; one call is in flight at a time, so
 * responses go out in request order.
 */
#ifndef DDBGUARD_PROXY_CONN_H
#define DDBGUARD_PROXY_CONN_H

#include <sys/socket.h>

#include <event2/util.h>
#include <openssl/ssl.h>

#include "config/config.h"

struct runtime;
struct sourcecap_entry;

/*
 * Takes ownership of `fd`: on failure it is closed. `tls` NULL for a plain
 * listener. `lc` must outlive the connection. Takes over `source` (the
 * connection's count in rt->sources, from sourcecap_take): given back when
 * the connection closes, or at once on failure.
 */
void conn_accept(struct runtime *rt, const struct listener_config *lc, SSL_CTX *tls, evutil_socket_t fd,
    const struct sockaddr *sa, socklen_t salen, struct sourcecap_entry *source);

/*
 * Starts a graceful stop: idle connections close now, busy ones after the
 * call in flight; the event loop is asked to exit when the last one is gone.
 */
void conn_drain_all(struct runtime *rt);

/* Frees the worker's spare call memory (rt->spare_work) and trim timer; at shutdown, after the event loop. */
void conn_spare_free(struct runtime *rt);

#endif

/*
 * runtime: the state one event loop (one worker) shares between its
 * listeners, connections and upstream pools. Built once from the loaded
 * config by main.c; read-only on the request path except for counters.
 *
 * Internal to proxy/: later workers (one per core) each get their own
 * runtime over the same immutable config.
 */
#ifndef DDBGUARD_PROXY_RUNTIME_H
#define DDBGUARD_PROXY_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "filters/inspect.h"
#include "filters/json.h"
#include "proxy/http.h"

struct event_base;
struct evdns_base;
struct upstream_pool;
struct accesslog;

struct runtime {
	struct event_base *base;
	struct evdns_base *dns;
	const struct config *cfg;

	struct upstream_pool *dynamodb; /* owned */
	struct upstream_pool *streams;	/* owned; NULL when no Streams endpoint is configured */
	struct accesslog *alog;		/* owned */

	/* Precomputed once from cfg so the hot path does not rebuild them. */
	struct inspect_scope scope;
	struct json_opts body_json;
	struct http_limits request_limits;
	struct http_limits response_limits;

	uint32_t nconns;
	uint64_t nrequests;
};

#endif

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
#include <sys/queue.h>

#include "config/config.h"
#include "filters/dynamodb/inspect.h"
#include "filters/dynamodb/json.h"
#include "proxy/http.h"

struct event_base;
struct event;
struct evdns_base;
struct upstream_pool;
struct accesslog;
struct egress;
struct geoip;
struct broker;
struct conn;
struct snapshot;
struct conn_work;
struct sourcecap;
TAILQ_HEAD(conn_list, conn);

/*
 * Where a connection's calls go and whose names they use. The reverse
 * listener has one route (the configured endpoints); every egress tunnel
 * gets the route of the endpoint it CONNECTed to.
 */
struct route {
	struct inspect_scope scope;
	struct upstream_pool *dynamodb; /* for DynamoDB operations; NULL: refused */
	struct upstream_pool *streams;	/* for Streams operations; NULL: refused */
	const char *connect_host;	/* egress: the endpoint name tunnelled to; NULL for reverse */
	const char *upstream_addr;	/* egress: where the route sends it ("host:port"), for logs */
};

struct runtime {
	struct event_base *base;
	struct evdns_base *dns;
	const struct config *cfg; /* rt->snap's (reload.h: picked up at each call start) */
	struct snapshot *snap;	  /* reference; NULL in explain */
	uint64_t snap_gen;

	struct route reverse;	/* pools owned; dynamodb NULL when there is no reverse listener */
	struct egress *egress;	/* owned; NULL when there is no egress listener */
	struct accesslog *alog; /* owned */
	struct geoip *geoip;	/* rt->snap's; NULL without config "geoip" */
	struct broker *broker;	/* the process's credential broker (owned by main, shared by workers); NULL: none */
	bool explain;		/* ddbguard explain: nothing is verified or signed, only decided */
	struct offload *offload; /* owned; parses large bodies off this loop (proxy/offload.h); NULL: inline */

	/* Precomputed once from cfg so the hot path does not rebuild them. */
	struct json_opts body_json;
	struct http_limits request_limits;
	struct http_limits response_limits;

	struct sourcecap *sources; /* owned: client connections per source address (max_connections_per_source) */
	struct conn_list conns; /* every open client connection, for draining */
	struct conn_work *spare_work; /* call memory not in use (conn.c's pool, at most CONN_SPARE_WORK_MAX) */
	uint32_t nspare_work;
	uint32_t conn_peak;	    /* most connections open since the last heap trim (conn.c) */
	struct event *trim_timer;   /* conn.c: malloc_trim after many connections closed (owned) */
	uint64_t trim_first_ns;	    /* when the pending trim was first scheduled; 0: none pending */
	uint32_t nconns;
	uint64_t nrequests;
	bool draining;		/* SIGTERM: no new calls; exit when the last connection closes */
};

/*
 * Fills what the hot path reads from `cfg` once (scope of the reverse route,
 * JSON and HTTP limits). The daemon and `ddbguard explain` both start here,
 * so the simulator decides with exactly the daemon's settings.
 */
void runtime_prepare(struct runtime *rt, const struct config *cfg);

#endif

/*
 * metrics: counters, gauges and histograms for GET /metrics (Prometheus text
 * exposition format 0.0.4), every name prefixed ddbguard_.
 *
 * Hot path: each thread (event loop, later one per worker) writes its own
 * shard, allocated on its first use and never freed: a hash table of
 * (metric, label indices) -> value plus two fixed histograms. A shard has
 * one writer, so an update is a relaxed load and store (no lock, no
 * read-modify-write); a new series is published with a release store of its
 * key. The scrape (admin endpoint, any thread) sums every shard. Label values
 * are interned once into a process-wide table of METRICS_MAX_LABELS strings
 * (readers lock-free, inserts under a mutex); past that, "(other)".
 *
 * Cardinality is bounded by the config: identities, listeners, rate limits and
 * table names (a table appears as a label only when config "tables" lists it),
 * plus fixed sets (actions of the catalog, decisions, refusal reasons).
 */
#ifndef DDBGUARD_PROXY_METRICS_H
#define DDBGUARD_PROXY_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define METRICS_MAX_LABELS 4096 /* distinct label values, process-wide */
#define METRICS_SHARD_SLOTS 16384 /* series per thread */

/* Series with up to three label values (see the table in metrics.c for names and label names). */
enum metric {
	METRIC_REFUSALS,	     /* reason */
	METRIC_THROTTLED,	     /* limit */
	METRIC_CONNECTIONS,	     /* listener: accepted */
	METRIC_OPEN_CONNECTIONS,     /* listener (gauge) */
	METRIC_TLS_HANDSHAKES,	     /* listener, result */
	METRIC_UPSTREAM_ERRORS,	     /* kind */
	METRIC_UPSTREAM_IN_FLIGHT,   /* (gauge) */
	METRIC_EGRESS_TUNNELS,	     /* result */
	METRIC_EGRESS_CERTS_MINTED,  /* - */
	METRIC__COUNT
};

/* Adds n (a gauge: may be negative) to the series of `m` with labels l1..l3 (NULL: fewer labels). */
void metrics_add(enum metric m, const char *l1, const char *l2, const char *l3, int64_t n);
static inline void
metrics_count(enum metric m, const char *l1, int64_t n)
{
	metrics_add(m, l1, NULL, NULL, n);
}

/* One call, at its access-log record. */
struct metrics_call {
	const char *identity; /* NULL: "(none)" */
	const char *action;   /* eventName; NULL: "(unknown)" */
	const char *table;    /* a table config "tables" lists, or NULL ("-") */
	const char *decision; /* guard.decision */
	int status;	      /* sent to the client; 0: none */
	double duration_s;
	double upstream_s; /* < 0: not forwarded */
	const char *refusal;	/* refusal reason (METRIC_REFUSALS); NULL: none */
	const char *rate_limit; /* throttled by this rule; NULL: not throttled */
};
void metrics_call(const struct metrics_call *c);

/* The upstream answered (ok) or a connection/exchange failed: for /readyz. Thread-safe. */
void metrics_upstream_seen(bool ok);
/* false when the most recent upstream exchange failed (none succeeded since); true before any. */
bool metrics_upstream_ok(void);

/* What the scrape reads from the running daemon rather than from counters. */
struct metrics_state {
	unsigned listeners;		    /* listeners accepting */
	unsigned upstream_idle_dynamodb;    /* idle pooled connections */
	unsigned upstream_idle_streams;
	bool has_streams;
	size_t egress_cached_certs;
	bool has_egress;
	uint64_t log_queued_bytes, log_buffer_bytes, log_write_errors, log_digests;
	bool log_healthy;
	uint64_t reloads_accepted, reloads_refused;
	const char *config_version;
};

/* Appends the whole exposition to `out`. */
void metrics_render(struct evbuffer *out, const struct metrics_state *st);

#endif

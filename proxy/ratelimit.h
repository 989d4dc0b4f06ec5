/*
 * ratelimit: token buckets of config "rate_limits" (config/README.md#rate-limits).
 *
 * Each rule is a GCRA ("generic cell rate algorithm", the token bucket as one
 * timestamp): a bucket holds the theoretical arrival time `tat` of its next
 * call; a call at `now` is allowed if max(tat, now) + T - now <= burst * T
 * (T = 1 s / rate) and then moves tat there. One atomic compare-and-swap per
 * bucket, so limits hold across worker threads without a lock.
 *
 * Buckets live in a fixed table per rule (RATELIMIT_SLOTS, linear probing):
 * one per identity, or per source address. When every probed slot is busy
 * with another active key, the call shares a bucket: it can only be throttled
 * sooner, never later. State belongs to the config snapshot: a reload starts
 * with full buckets.
 */
#ifndef DDBGUARD_PROXY_RATELIMIT_H
#define DDBGUARD_PROXY_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "filters/dynamodb/catalog.h"
#include "filters/dynamodb/inspect.h"

#define RATELIMIT_SLOTS 4096 /* per rule; a power of two */
#define RATELIMIT_PROBES 8
#define RATELIMIT_MAX_RULES 256 /* config.c CFG_RATE_LIMITS_MAX */

struct ratelimit;

/* `rules` must outlive the result (they live in the same config). NULL: out of memory, or n == 0. */
struct ratelimit *ratelimit_new(const struct rate_limit_config *rules, size_t n);
void ratelimit_free(struct ratelimit *rl); /* accepts NULL */

/*
 * Takes a token from every bucket the call falls under (rules whose identity,
 * actions and tables match). Returns NULL when allowed, or the first rule
 * whose bucket is empty (then no token is kept from any bucket). `identity`
 * NULL: rules per identity do not apply. Accepts rl NULL. Thread-safe.
 */
const struct rate_limit_config *ratelimit_take(struct ratelimit *rl, const char *identity, const char *source_ip,
    const struct catalog_action *action, const struct inspect_result *res, uint64_t now_ns);

#endif

/*
 * snapshot: the config a call is decided by (SIGHUP: proxy/reload.h).
 *
 * A snapshot is one loaded config with what is built from it (GeoIP
 * databases) and its version: the first 16 hex digits of SHA-256 over the
 * config file and every file it names. Snapshots are immutable and
 * refcounted. One is "current"; a call takes the current one when it starts
 * (conn_begin_call -> snapshot_call_begin) and keeps it until the next call
 * on its connection starts or the connection closes, so a reload never
 * changes the rules under a call in flight.
 *
 * Threads: the current pointer is published under a mutex together with a
 * generation counter (an atomic). Each runtime (one per worker) holds its own
 * reference in rt->snap and compares the generation at every call start (one
 * acquire load); only when it changed does it take the mutex and swap. So the
 * hot path is one atomic load, and a worker picks up a reload at its next
 * call. References are atomic counts; the last release frees, on whichever
 * thread that is.
 */
#ifndef DDBGUARD_PROXY_SNAPSHOT_H
#define DDBGUARD_PROXY_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct runtime;
struct geoip;

#define SNAPSHOT_VERSION_HEX 16

struct snapshot {
	atomic_uint refs;
	uint64_t generation;
	struct config *cfg;   /* owned */
	struct geoip *geoip;  /* owned; NULL without config "geoip" */
	struct ratelimit *rl; /* owned; NULL without config "rate_limits" */
	char version[SNAPSHOT_VERSION_HEX + 1];
};

/*
 * The version of the config `cfg` loaded from `path` (cfg NULL: the file
 * did not load; then only its bytes count). A named file that cannot be read
 * counts as the string "missing".
 */
void config_version(const char *path, const struct config *cfg, char out[SNAPSHOT_VERSION_HEX + 1]);

/* Takes ownership of `cfg` (freed on failure too). NULL with `err` on failure (GeoIP). */
struct snapshot *snapshot_new(const char *path, struct config *cfg, char *err, size_t errlen);
void snapshot_ref(struct snapshot *s);
void snapshot_unref(struct snapshot *s); /* accepts NULL; the last one frees */

/* Makes `s` current, taking over the caller's reference. Thread-safe. */
void snapshot_publish(struct snapshot *s);
/* The current snapshot with a new reference (NULL before the first publish). Thread-safe. */
struct snapshot *snapshot_current(void);
/* Drops the process-wide reference (at exit). */
void snapshot_shutdown(void);

/*
 * At a call's start: brings rt up to the current snapshot if a reload
 * happened (rt->snap, rt->cfg, rt->geoip, limits) and makes *call (the
 * request's snap) the one the call is decided and logged by. *call is
 * released by the next call's start or by snapshot_unref() when the
 * connection closes.
 */
void snapshot_call_begin(struct runtime *rt, struct snapshot **call);
/* The same pickup without a call (the main loop right after a reload). */
void snapshot_runtime_sync(struct runtime *rt);

/* Outcome counters for metrics (reload_run counts). */
struct reload_stats {
	atomic_uint_fast64_t accepted, refused;
};
extern struct reload_stats reload_stats;

#endif

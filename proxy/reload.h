/*
 * reload: the config a call is decided by, and SIGHUP.
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
 *
 * reload_run() does the SIGHUP work on the main loop: loads and checks the new
 * config off to the side (the same errors --check prints), builds everything
 * it names (listener TLS contexts, new listeners, upstream CA, GeoIP, the log
 * signing key), and only if all of that worked publishes it. Either way it
 * writes a chained {"ddbguardNotice": {"kind": "configReload", ...}}.
 */
#ifndef DDBGUARD_PROXY_RELOAD_H
#define DDBGUARD_PROXY_RELOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config/config.h"

struct runtime;
struct request;
struct listener;
struct geoip;

#define SNAPSHOT_VERSION_HEX 16

struct snapshot {
	atomic_uint refs;
	uint64_t generation;
	struct config *cfg;   /* owned */
	struct geoip *geoip;  /* owned; NULL without config "geoip" */
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
 * happened (rt->snap, rt->cfg, rt->geoip, limits) and makes r->snap the one
 * the call is decided and logged by. r->snap is released by the next call's
 * start or by snapshot_unref() when the connection closes.
 */
void snapshot_call_begin(struct runtime *rt, struct request *r);
/* The same pickup without a call (the main loop right after a reload). */
void snapshot_runtime_sync(struct runtime *rt);

/* What SIGHUP changes in the running daemon; main.c owns these. */
struct reload_target {
	struct runtime *rt;
	const char *path;
	struct listener **listeners; /* realloc'd by reload_run */
	size_t nlisteners;
	SSL_CTX *upstream_tls;	     /* current upstream context; replaced when the CA changes */
	SSL_CTX **retired_tls;	     /* superseded upstream contexts, freed at exit (pools may hold them) */
	size_t nretired_tls;
	/* sd_notify hook (helper "service"): "RELOADING=1" before, "READY=1" after. NULL: none. */
	void (*notify)(const char *state);
};

/* Outcome counters for metrics. */
struct reload_stats {
	atomic_uint_fast64_t accepted, refused;
};
extern struct reload_stats reload_stats;

/* SIGHUP. Returns true if the new config is in force. */
bool reload_run(struct reload_target *t);

#endif

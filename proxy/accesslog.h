/*
 * accesslog: one JSON line per call, allowed, denied, rejected or failed.
 *
 * Field names follow CloudTrail's DynamoDB data-event records where one
 * exists; ddbguard's own facts are under "guard". Item values are never
 * written: only names of tables and other resources.
 *
 * XXX: writes are synchronous write(2)s of one whole line (O_APPEND, so
 * lines never interleave); a slow disk stalls the event loop. A bounded
 * background writer, rotation and fail-closed-on-log-failure come next.
 */
#ifndef DDBGUARD_PROXY_ACCESSLOG_H
#define DDBGUARD_PROXY_ACCESSLOG_H

#include <stdbool.h>

struct accesslog;
struct access_log_config;
struct request;
struct runtime;

/* `path` "-" is standard output. Returns NULL (and logs why) on failure. */
struct accesslog *accesslog_open(const char *path);
void accesslog_close(struct accesslog *a); /* accepts NULL */

/*
 * Applies access_log.signing_key, digest_every_* and max_bytes (see
 * proxy/logchain.h for the chain and digest format). Returns false (and logs
 * why) if the signing key cannot be loaded.
 */
bool accesslog_configure(struct accesslog *a, const struct access_log_config *cfg);
/* SIGUSR1: the operator renamed the file; end it with a digest and reopen the path. The chain continues. */
void accesslog_reopen(struct accesslog *a);
/* Timer: writes a digest if records are uncovered and digest_every_seconds has passed. Accepts NULL. */
void accesslog_tick(struct accesslog *a);

/* Formats and writes r's record. Never fails the call: a write error is logged (rate-limited). */
void accesslog_write(struct accesslog *a, const struct runtime *rt, const struct request *r);

#endif

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
struct request;
struct runtime;

/* `path` "-" is standard output. Returns NULL (and logs why) on failure. */
struct accesslog *accesslog_open(const char *path);
void accesslog_close(struct accesslog *a); /* accepts NULL */

/* Formats and writes r's record. Never fails the call: a write error is logged (rate-limited). */
void accesslog_write(struct accesslog *a, const struct runtime *rt, const struct request *r);

#endif

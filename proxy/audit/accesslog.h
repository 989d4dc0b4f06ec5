/*
 * accesslog: one JSON line per call, allowed, denied, rejected or failed.
 *
 * Field names follow CloudTrail's DynamoDB data-event records where one
 * exists; ddbguard's own facts are under "guard". Item values are never
 * written: only names of tables and other resources.
 *
 * The event loop formats and chains each line and queues it in a bounded
 * buffer (access_log.buffer_bytes); one writer thread appends it with
 * write(2), so a slow disk never stalls the loop. Rotation (SIGUSR1,
 * max_bytes) is queued between records and done by the writer, in order.
 * A failed write is retried, never dropped; while it fails the log is
 * unhealthy and, unless access_log.fail_open, calls are refused
 * (accesslog_accepting()). Records that do not fit the buffer are counted
 * and reported on the first record after recovery (guard.logRecovery).
 */
#ifndef DDBGUARD_PROXY_ACCESSLOG_H
#define DDBGUARD_PROXY_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct accesslog;
struct access_log_config;
struct request;
struct runtime;

/* `path` "-" is standard output. Returns NULL (and logs why) on failure. */
struct accesslog *accesslog_open(const char *path);
void accesslog_close(struct accesslog *a); /* accepts NULL */

/*
 * Applies access_log.signing_key, buffer_bytes, fail_open (which it logs, and
 * records as a {"ddbguardNotice": ...} line), digest_every_* and max_bytes (see
 * proxy/audit/logchain.h for the chain and digest format). Starts the writer thread. Returns false (and
 * logs why) if the signing key cannot be loaded or the thread cannot start.
 */
bool accesslog_configure(struct accesslog *a, const struct access_log_config *cfg);
/*
 * SIGHUP: a chained {"ddbguardNotice": {"kind": "configReload", "outcome":
 * "accepted"|"refused", "oldVersion", "newVersion", "message"}}. False if it could not be queued.
 */
bool accesslog_notice_reload(struct accesslog *a, bool accepted, const char *old_version, const char *new_version,
    const char *message);
/* SIGHUP: digests from now on are signed with the Ed25519 key at `path`. False (with `err`) if it does not load. */
bool accesslog_set_signing_key(struct accesslog *a, const char *path, char *err, size_t errlen);

/* SIGUSR1: the operator renamed the file; queue a digest and a reopen (done by the writer between records). */
void accesslog_reopen(struct accesslog *a);
/* Timer: writes a digest if records are uncovered and digest_every_seconds has passed. Accepts NULL. */
void accesslog_tick(struct accesslog *a);

/*
 * Formats r's record and queues it for the writer. Never fails the call: a
 * record that does not fit the buffer is counted (rate-limited diagnostic) and
 * reported by the first record after recovery.
 */
void accesslog_write(struct accesslog *a, const struct runtime *rt, const struct request *r);

/* Last write succeeded and the buffer is below its high-water mark (3/4). Atomic loads only; accepts NULL. */
bool accesslog_healthy(const struct accesslog *a);
/* May a call be forwarded? healthy, or access_log.fail_open. Checked once per call; accepts NULL. */
bool accesslog_accepting(const struct accesslog *a);

struct accesslog_health {
	bool ok;
	bool fail_open;
	int64_t since_ms; /* Unix ms the log became unwritable; 0 when ok */
	char reason[128]; /* strerror() of the failing write, or why the buffer counts as full */
};
/* For the admin endpoint. Accepts NULL (ok). */
void accesslog_health(struct accesslog *a, struct accesslog_health *h);

/* Waits until everything queued is written, at most timeout_ms. Returns false on timeout. */
bool accesslog_flush(struct accesslog *a, uint32_t timeout_ms);

/* Tests only: every write(2) fails with `err` (0: stop failing). */
void accesslog_test_fail_writes(struct accesslog *a, int err);

#endif

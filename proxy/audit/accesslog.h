/*
 * accesslog: one JSON line per call, allowed, denied, rejected or failed.
 *
 * Field names follow CloudTrail's DynamoDB data-event records where one
 * exists; ddbguard's own facts are under "guard". Item values are never
 * written: only names of tables and other resources.
 *
 * An event loop (any worker thread) formats each line and queues it in a
 * bounded buffer (access_log.buffer_bytes); one writer thread chains the
 * lines in the order they reached it (SHA-256, proxy/audit/logchain.h),
 * appends them with write(2), writes the digests (every
 * digest_every_records records, every digest_every_seconds even when idle,
 * a final one at close), rotates (SIGUSR1, max_bytes) between records and
 * fsyncs as access_log.sync says:
 *   "none"        never (the page cache decides; a power loss loses what it held);
 *   "interval"    at most every sync_interval_ms (the default: 1000 ms);
 *   "every_call"  after every batch, and an allowed call's response is held
 *                 until its record is durable (accesslog_write_wait()); one
 *                 fdatasync covers every record queued meanwhile (group commit).
 * A slow disk never stalls an event loop.
 * A failed write is retried, never dropped; while it fails the log is
 * unhealthy and, unless access_log.fail_open, calls are refused
 * (accesslog_accepting()). Records that do not fit the buffer are counted
 * and reported on the first record after recovery (guard.logRecovery).
 */
#ifndef DDBGUARD_PROXY_ACCESSLOG_H
#define DDBGUARD_PROXY_ACCESSLOG_H

#include <stdbool.h>
#include <stdint.h>

#include <sys/queue.h>

struct accesslog;
struct accesslog_waitq;
struct access_log_config;
struct event_base;
struct request;
struct runtime;

enum accesslog_sync {
	ACCESSLOG_SYNC_NONE,
	ACCESSLOG_SYNC_INTERVAL,
	ACCESSLOG_SYNC_EVERY_CALL,
};

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
/* SIGUSR1: the operator renamed the file; queue a reopen (the writer digests the old file first). */
void accesslog_reopen(struct accesslog *a);
/* access_log.sync; ACCESSLOG_SYNC_NONE for NULL. */
enum accesslog_sync accesslog_sync_mode(const struct accesslog *a);

/*
 * Formats r's record and queues it for the writer. Never fails the call: a
 * record that does not fit the buffer is counted (rate-limited diagnostic) and
 * reported by the first record after recovery.
 */
void accesslog_write(struct accesslog *a, const struct runtime *rt, const struct request *r);

/*
 * Waiting for a record to be durable (access_log.sync "every_call").
 *
 * The caller embeds a struct accesslog_wait in the object that holds the
 * response (a connection) and sets `done`. accesslog_write_wait() queues the
 * record like accesslog_write() and, if it returns true, calls w->done
 * exactly once, later, on the event loop `base` it was called from: with
 * durable=true once the record is written and fdatasync'd, or false when the
 * write or the sync failed (the record may still reach the file later).
 * Until then the caller keeps `w` alive, or calls accesslog_wait_cancel() on
 * that same loop (then done is not called). It returns false (done is never
 * called) when the record could not be queued, or when sync is not
 * "every_call" (nothing to wait for).
 *
 * Threads: any number of event loops may call these, each with its own
 * base; the writer wakes each loop through an eventfd read by an event on
 * that base, so libevent needs no thread support. Each base is registered
 * on its first use (at most ACCESSLOG_MAX_LOOPS); accesslog_close() frees
 * those events, so it must run before event_base_free() of any base used
 * here, or call accesslog_loop_detach() first.
 */
#define ACCESSLOG_MAX_LOOPS 64
struct accesslog_wait {
	void (*done)(struct accesslog_wait *w, bool durable);
	/* private */
	TAILQ_ENTRY(accesslog_wait) link;
	struct accesslog_waitq *q;
	uint64_t ticket;
};
bool accesslog_write_wait(struct accesslog *a, struct event_base *base, const struct runtime *rt,
    const struct request *r, struct accesslog_wait *w);
void accesslog_wait_cancel(struct accesslog_wait *w); /* accepts a wait that is not queued */
/* Frees what accesslog_write_wait() registered on base (pending waits are dropped, not called). */
void accesslog_loop_detach(struct accesslog *a, struct event_base *base);

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

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
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "filters/dynamodb/inspect.h"

struct accesslog;
struct accesslog_waitq;
struct access_log_config;
struct event_base;

enum accesslog_sync {
	ACCESSLOG_SYNC_NONE,
	ACCESSLOG_SYNC_INTERVAL,
	ACCESSLOG_SYNC_EVERY_CALL,
};

/*
 * What the log records about one call: a narrow description the daemon fills
 * (proxy/request.c, request_log()), so this module reads neither the
 * connection nor the policy engine. Every pointer is borrowed for the
 * duration of accesslog_write() only; NULL means "absent" (written as null or
 * left out, as ACCESS_LOG.md says). `*_len` strings are not NUL-terminated.
 */
struct accesslog_call {
	/* when */
	struct timespec wall_start; /* eventTime: CLOCK_REALTIME when the call began */
	double duration_ms;	    /* guard.durationMs: begin to the moment the record is made */

	/* what: the operation (names and facts from the catalog, not the catalog itself) */
	const char *event_name;	  /* eventName ("GetItem"); NULL when the target named no known action */
	const char *action_class; /* guard.class ("read", "write", "admin"); NULL with event_name */
	bool read_only;		  /* readOnly */
	bool management;	  /* managementEvent, eventCategory "Management" */
	const char *target;	  /* raw X-Amz-Target, logged (<= 128 bytes) when no action matched */
	size_t target_len;
	const char *region;  /* awsRegion */
	const char *account; /* recipientAccountId */

	/* who, from where, how */
	const char *client_ip;	      /* sourceIPAddress */
	const char *user_agent;	      /* userAgent (<= 512 bytes logged) */
	size_t user_agent_len;
	const char *access_key_id;    /* userIdentity.accessKeyId; NULL: no SigV4 credential */
	const char *identity;	      /* guard.identity: the ddbguard identity's name */
	const char *identity_match;   /* guard.identityMatch ("access-key" ...); only with access_key_id */
	/* userIdentity: who signed upstream, and how the caller was proved (issue 12) */
	const char *signer_type;      /* userIdentity.type; NULL: "Unknown" */
	const char *signer_account;   /* userIdentity.accountId; NULL or "": unknown */
	const char *signer_arn;	      /* userIdentity.arn; NULL or "": unknown */
	const char *claimed_identity; /* .ddbguard.claimedIdentity: an issued key whose signature failed */
	const char *matched_by[6];    /* .ddbguard.matchedBy */
	size_t nmatched_by;
	const char *proof;	      /* .ddbguard.proof; NULL: "none" */
	bool brokered;		      /* .ddbguard.signedBy "broker" (else "client") */
	bool has_cert;		      /* .ddbguard.clientCertificate */
	const char *cert_subject;
	const char *const *cert_dns;
	size_t ncert_dns;
	const char *const *cert_uris;
	size_t ncert_uris;
	const char *source_country;   /* guard.sourceCountry; NULL or "": unknown or no geoip */
	const char *source_asn;	      /* guard.sourceASN; NULL or "" likewise */
	const char *listener;	      /* guard.listener: the configured listener's name */
	bool egress;		      /* guard.mode "egress" (else "reverse") */
	const char *connect_target;   /* guard.connectTarget (<= 253 bytes logged); egress only */
	size_t connect_target_len;
	const char *tls_version;      /* tlsDetails; NULL on a plain listener */
	const char *tls_cipher;
	const char *host;	      /* tlsDetails.clientProvidedHostHeader */
	size_t host_len;

	/* which resources (the inspector's reading) and which names in the body */
	const struct inspect_result *inspect; /* resources, requestParameters.tableName, .statement */
	const cJSON *body;		      /* member names and enum values only, never a value */
	const char *const *attributes;	      /* requestParameters.attributes: dynamodb:Attributes */
	size_t nattributes;

	/* the decision */
	const char *decision;  /* guard.decision ("allow", "deny", "reject", "error") */
	const char *reason;    /* guard.reason and errorMessage; NULL or "": none */
	const char *policy;    /* guard.policy: the deciding statement's policy; NULL: none decided */
	const char *statement; /* guard.statement: its Sid (NULL: none) */
	const char *policy_version; /* guard.policyVersion: the config snapshot's (proxy/reload.h); NULL: none */
	/* guard.shadow (shadow mode): allowed, but with everything enforced it would be denied by these; effect NULL: none */
	const char *shadow_effect; /* "explicit-deny" or "implicit-deny" */
	const char *shadow_policy, *shadow_statement, *shadow_resource;
	/* guard.rateLimit (decision "throttle"): the rule that applied; name NULL: none */
	const char *rate_limit_name;
	const char *rate_limit_per; /* "identity" or "sourceAddress" */
	double rate_limit_rate;
	uint32_t rate_limit_burst;
	int status;	       /* guard.status: sent to the client; 0 if none was */
	const char *error_code; /* errorCode; NULL or "": none */
	const char *request_id; /* requestID */

	/* the upstream, when the call was forwarded */
	const char *upstream_url;	 /* guard.upstream; NULL: not forwarded */
	const char *upstream_peer;	 /* guard.upstream.address; NULL or "": none */
	int upstream_status;		 /* 0: no answer */
	const char *upstream_error_type; /* guard.upstream.errorType; NULL: none */
	double upstream_duration_ms;	 /* <= 0: not measured */
	uint64_t bytes_in, bytes_out;
	const cJSON *consumed_capacity; /* ConsumedCapacity of the answer (object or array); NULL: none */
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
/*
 * SIGHUP: a chained {"ddbguardNotice": {"kind": "configReload", "outcome":
 * "accepted"|"refused", "oldVersion", "newVersion", "message"}}. False if it could not be queued.
 */
bool accesslog_notice_reload(struct accesslog *a, bool accepted, const char *old_version, const char *new_version,
    const char *message);
/* SIGHUP: digests from now on are signed with the Ed25519 key at `path`. False (with `err`) if it does not load. */
bool accesslog_set_signing_key(struct accesslog *a, const char *path, char *err, size_t errlen);

/* SIGUSR1: the operator renamed the file; queue a reopen (the writer digests the old file first). */
void accesslog_reopen(struct accesslog *a);
/* access_log.sync; ACCESSLOG_SYNC_NONE for NULL. */
enum accesslog_sync accesslog_sync_mode(const struct accesslog *a);

/*
 * Formats the record of `call` and queues it for the writer. Never fails the
 * call: a record that does not fit the buffer is counted (rate-limited
 * diagnostic) and reported by the first record after recovery.
 */
void accesslog_write(struct accesslog *a, const struct accesslog_call *call);
/*
 * Each thread that writes records formats them in a buffer of its own
 * (thread-local, no lock). A worker thread calls this before it exits to
 * free it; accesslog_close() frees the calling thread's.
 */
void accesslog_thread_release(void);

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
 * that same loop (then done is not called). Returns ACCESSLOG_WAITING when
 * done will be called; ACCESSLOG_QUEUED when sync is not "every_call" (the
 * record is queued as by accesslog_write(), nothing to wait for);
 * ACCESSLOG_DROPPED when the record could not be queued (the buffer is full):
 * with "every_call" the caller must then not release the response either.
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
enum accesslog_queued { ACCESSLOG_QUEUED, ACCESSLOG_WAITING, ACCESSLOG_DROPPED };
enum accesslog_queued accesslog_write_wait(struct accesslog *a, struct event_base *base,
    const struct accesslog_call *call, struct accesslog_wait *w);
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

/* For GET /metrics: queue fill, failed writes, digests. Accepts NULL (all zero). */
struct accesslog_stats {
	uint64_t queued_bytes, buffer_bytes; /* records waiting for the writer / access_log.buffer_bytes */
	uint64_t write_errors;		     /* failed write(2) calls (each retried) */
	uint64_t digests;		     /* signed digests queued */
	bool healthy;			     /* accesslog_healthy() */
};
void accesslog_stats(struct accesslog *a, struct accesslog_stats *st);

#endif

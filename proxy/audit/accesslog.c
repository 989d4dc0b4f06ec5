#include "proxy/audit/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config/config.h"
#include "proxy/audit/ids.h"
#include "proxy/audit/jsonw.h"
#include "filters/base/log.h"
#include "proxy/audit/syslog_sink.h"
#include "proxy/audit/logchain.h"

/*
 * Threads. Event loops (one per worker) format each line and append it,
 * unchained, to a bounded byte ring; one writer thread drains the ring. The
 * writer owns the chain: it seals each line (SHA-256) in the order lines
 * reached the ring, so hashing costs the event loops nothing and several
 * loops share one chain. It also owns digests, rotation and fsync: between
 * records it writes a digest every digest_every_records records and every
 * digest_every_seconds (a timer: also when idle), rotates at max_bytes,
 * reopens on SIGUSR1 (a marker entry in the ring, so exactly between the
 * records before and after it), and writes a final digest at close.
 *
 * A failing write(2) (ENOSPC, EACCES, EIO ...) keeps its bytes and is
 * retried every ACCESSLOG_RETRY_MS; meanwhile the log is "unhealthy" and,
 * unless access_log.fail_open, calls are refused (request_decide()).
 *
 * Durability (access_log.sync). Every data entry gets a ticket (its number
 * in queue order). After a batch is written (and, for "every_call",
 * fdatasync'd) the writer publishes the batch's last ticket as durable and
 * wakes each event loop that waits (an eventfd per loop), which completes
 * its waits in ticket order. In "every_call" mode the writer also keeps
 * ACCESSLOG_RESERVE bytes allocated past the end of the file
 * (fallocate(FALLOC_FL_KEEP_SIZE)): when it cannot renew that reservation
 * the log turns unhealthy while the records already accepted still fit, so
 * a full disk refuses the next call before it is forwarded instead of
 * losing the record of a call that succeeded.
 */
#define ACCESSLOG_LINGER_MS 1 /* how long the writer waits for more records before sleeping */
#define ACCESSLOG_RETRY_MS 200	     /* between attempts to write after a failure */
#define ACCESSLOG_DRAIN_MS 3000	     /* the longest a graceful stop waits for the ring to drain */
#define ACCESSLOG_BATCH_BYTES 65536  /* the writer takes up to this much from the ring per batch */
#define ACCESSLOG_DEFAULT_BUFFER 4194304
#define ACCESSLOG_HIGH_WATER(cap) ((cap) / 4 * 3) /* above it the log counts as unhealthy */

enum entry_type {
	ENTRY_DATA,   /* a record to chain and append */
	ENTRY_REOPEN, /* SIGUSR1: digest the old file, open the path again */
};

struct entry_hdr {
	uint32_t len;  /* payload bytes that follow */
	uint32_t type; /* enum entry_type */
};

/* One event loop that waits for durable records: its waits in ticket order, and how the writer wakes it. */
TAILQ_HEAD(accesslog_wait_list, accesslog_wait);
struct accesslog_waitq {
	struct accesslog *a;
	struct event_base *base;
	struct event *ev; /* EV_READ on efd, on base */
	int efd;	  /* eventfd the writer writes to */
	struct accesslog_wait_list waits; /* loop thread only */
	_Atomic bool has_waits;		  /* the writer needs to wake this loop */
	_Atomic bool notified;		  /* an eventfd write is pending */
};

struct accesslog {
	/* Set before the writer starts, read-only after. */
	bool owns_fd;
	char *path;	/* owned; NULL for standard output */
	bool fail_open;
	enum accesslog_sync sync;
	uint32_t sync_interval_ms;
	uint64_t max_bytes; /* 0: no size rotation */
	uint32_t digest_every_records, digest_every_seconds;
	size_t reserve; /* every_call: bytes kept allocated past the end of the file; 0: none */

	/* Any event loop; atomics. */
	_Atomic uint64_t dropped;	    /* records the full ring refused since the log became unhealthy */
	_Atomic int64_t degraded_since_ms; /* when a loop first saw the log unhealthy; 0: healthy */
	_Atomic int64_t last_drop_complaint;

	/* Writer thread only (and open/close, before and after it runs). */
	int fd;
	struct jsonw w;		/* open/close: the chainStart marker and a final digest without a writer */
	struct jsonw out;	/* the batch being sealed */
	struct logchain *chain; /* owned: every record is chained (proxy/audit/logchain.h) */
	uint64_t bytes;		/* size of the current file */
	uint64_t digest_seq;	/* last record covered by a digest */
	int64_t digest_ms;	/* CLOCK_MONOTONIC ms of the last digest (or the start) */
	int64_t sync_ms;	/* CLOCK_MONOTONIC ms of the last fdatasync */
	bool unsynced;		/* bytes written since the last fdatasync */
	uint64_t reserved_to;	/* the file offset up to which space is reserved */
	bool rotate_failed;	/* the writer could not rename: stop size rotation */
	uint64_t nsyncs, nwritten; /* fdatasyncs and records written, reported at close */
	time_t last_complaint, last_syslog_complaint;
	struct syslog_sink *syslog; /* owned; NULL without access_log.syslog; used by the writer */
	char *wbuf; /* a batch copied out of the ring; `cap` bytes */

	/* Shared: the ring and its state under `mu`. */
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* writer: work or stop; monotonic clock */
	pthread_cond_t drained; /* the ring emptied or the writer ended */
	pthread_t thread;
	bool started, stopping, abandon, writer_done;
	bool writer_idle; /* under mu: the writer waits for a signal, not lingering */
	char *ring; /* owned */
	size_t cap, head, tail;
	uint64_t queued_ticket; /* under mu: tickets handed out (data entries queued) */
	uint64_t taken_ticket;	/* under mu: the last ticket the writer took from the ring */
	uint64_t nwakeups;	/* under mu: signals to a sleeping writer (reported at close) */
	_Atomic size_t used;
	_Atomic uint64_t write_errors; /* failed write(2) calls of the writer (metrics) */
	_Atomic uint64_t digests;      /* signed digests written (metrics) */
	pthread_mutex_t key_mu;	       /* guards pending_key */
	char *pending_key;	       /* SIGHUP: the writer loads this signing key before its next digest */
	_Atomic bool write_ok;	   /* the last write(2) or fdatasync succeeded */
	_Atomic bool space_ok;	   /* every_call: the reservation past the end of the file holds */
	_Atomic int inject_errno;  /* tests: fail every write(2) with this */
	_Atomic uint64_t durable_ticket; /* every data entry up to this ticket is written (and synced) */
	_Atomic uint64_t failed_ticket;	 /* entries up to this ticket failed to write or sync */
	int fail_errno;		   /* under mu: why the log is unwritable */
	int64_t fail_since_ms;	   /* under mu: since when (Unix ms) */

	/* Event loops that wait; append-only, nwaitq published with release order. */
	struct accesslog_waitq *waitq[ACCESSLOG_MAX_LOOPS];
	_Atomic size_t nwaitq;
};

/* What the first record after an unwritable spell reports (guard.logRecovery). */
struct accesslog_recovery {
	bool present;
	uint64_t dropped;
	int64_t since_ms;
};

static bool write_all(struct accesslog *a, const char *buf, size_t len);

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Syslog drops are counted by the sink; say so at most once a second. The file record stands either way. */
static void
syslog_complain(struct accesslog *a)
{
	time_t now = time(NULL);

	if (now == a->last_syslog_complaint)
		return;
	a->last_syslog_complaint = now;
	log_warnx("access log: syslog could not take a record (%llu dropped so far)",
	    (unsigned long long)syslog_sink_dropped(a->syslog));
}

/* Opens (creating) path for append; *size gets its size. */
static int
open_path(const char *path, uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -1;
	*size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return fd;
}

/*
 * Continues the chain from the file's last record, or starts a new one with a
 * chainStart marker when that record is missing or does not verify. Runs at
 * open, before the writer thread exists, so it writes directly.
 */
static bool
chain_resume(struct accesslog *a)
{
	char why[160];
	bool partial;

	switch (logchain_resume_fd(a->chain, a->fd, &partial, why, sizeof(why))) {
	case LOGCHAIN_RESUME_EMPTY:
		return true;
	case LOGCHAIN_RESUME_CONTINUE:
		log_info("access log %s: continuing the hash chain at seq %llu", a->path,
		    (unsigned long long)logchain_seq(a->chain) + 1);
		return true;
	case LOGCHAIN_RESUME_ERROR:
		log_warnx("access log %s: %s", a->path, why);
		return false;
	case LOGCHAIN_RESUME_BROKEN:
		break;
	}
	log_warnx("access log %s: %s; starting a new hash chain", a->path, why);
	if (partial && !write_all(a, "\n", 1))
		return false;
	jsonw_reset(&a->w);
	jsonw_object_begin(&a->w, NULL);
	jsonw_object_begin(&a->w, "chainStart");
	jsonw_string(&a->w, "reason", why);
	jsonw_object_end(&a->w);
	jsonw_object_end(&a->w);
	jsonw_raw(&a->w, "\n", 1);
	if (!logchain_seal(a->chain, &a->w) || !write_all(a, a->w.buf, a->w.len))
		return false;
	logchain_commit(a->chain);
	return true;
}

struct accesslog *
accesslog_open(const char *path)
{
	struct accesslog *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	jsonw_init(&a->w);
	jsonw_init(&a->out);
	a->fd = -1;
	pthread_mutex_init(&a->key_mu, NULL);
	a->digest_every_records = 1000;
	a->digest_every_seconds = 60;
	a->sync = ACCESSLOG_SYNC_INTERVAL;
	a->sync_interval_ms = 1000;
	atomic_init(&a->used, 0);
	atomic_init(&a->write_ok, true);
	atomic_init(&a->space_ok, true);
	atomic_init(&a->inject_errno, 0);
	atomic_init(&a->dropped, 0);
	atomic_init(&a->degraded_since_ms, 0);
	atomic_init(&a->last_drop_complaint, 0);
	atomic_init(&a->durable_ticket, 0);
	atomic_init(&a->failed_ticket, 0);
	atomic_init(&a->nwaitq, 0);
	if ((a->chain = logchain_new()) == NULL) {
		free(a);
		return NULL;
	}
	if (strcmp(path, "-") == 0) {
		a->fd = STDOUT_FILENO;
	} else {
		if ((a->path = strdup(path)) == NULL || (a->fd = open_path(a->path, &a->bytes)) < 0) {
			log_warn("access log %s", path);
			logchain_free(a->chain);
			free(a->path);
			free(a);
			return NULL;
		}
		a->owns_fd = true;
		if (!chain_resume(a)) {
			accesslog_close(a);
			return NULL;
		}
	}
	a->digest_seq = logchain_seq(a->chain);
	a->digest_ms = a->sync_ms = mono_ms();
	return a;
}

/* ---- the ring (callers hold mu) ---- */

static void
ring_put(struct accesslog *a, const void *src, size_t len)
{
	size_t first = a->cap - a->head < len ? a->cap - a->head : len;

	memcpy(a->ring + a->head, src, first);
	memcpy(a->ring, (const char *)src + first, len - first);
	a->head = (a->head + len) % a->cap;
}

static void
ring_get(const struct accesslog *a, size_t pos, void *dst, size_t len)
{
	size_t first = a->cap - pos < len ? a->cap - pos : len;

	memcpy(dst, a->ring + pos, first);
	memcpy((char *)dst + first, a->ring, len - first);
}

/*
 * Queues one entry. Returns its ticket (data entries; 1 for markers), or 0,
 * queuing nothing, when the ring lacks room for all of it.
 */
static uint64_t
enqueue(struct accesslog *a, enum entry_type type, const char *buf, size_t len)
{
	struct entry_hdr h = { .len = (uint32_t)len, .type = type };
	uint64_t ticket = 0;

	if (!a->started || len > UINT32_MAX || len + sizeof(h) > ACCESSLOG_BATCH_BYTES)
		return 0;
	pthread_mutex_lock(&a->mu);
	if (!a->stopping && sizeof(h) + len <= a->cap - atomic_load(&a->used)) {
		/*
		 * Wake the writer only when it sleeps (writer_idle, under `mu`);
		 * lingering or busy, it takes everything queued meanwhile in its
		 * next batch: one wake-up per batch, not per record.
		 */
		ring_put(a, &h, sizeof(h));
		ring_put(a, buf, len);
		atomic_fetch_add(&a->used, sizeof(h) + len);
		ticket = type == ENTRY_DATA ? ++a->queued_ticket : 1;
		if (a->writer_idle) {
			a->writer_idle = false; /* one signal wakes it; later records join its batch */
			a->nwakeups++;
			pthread_cond_signal(&a->cv);
		}
	}
	pthread_mutex_unlock(&a->mu);
	return ticket;
}

/* ---- the writer thread ---- */

static void
deadline_after(struct timespec *ts, uint32_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void
writer_failed(struct accesslog *a, int err, const char *what)
{
	bool was_ok;

	atomic_fetch_add_explicit(&a->write_errors, 1, memory_order_relaxed);
	pthread_mutex_lock(&a->mu);
	was_ok = atomic_load(&a->write_ok);
	if (was_ok || a->fail_errno != err) {
		a->fail_errno = err;
		if (was_ok)
			a->fail_since_ms = now_ms();
	}
	atomic_store(&a->write_ok, false);
	pthread_mutex_unlock(&a->mu);
	if (was_ok) {
		errno = err;
		log_warn("access log cannot be %s (retrying every %d ms; records wait in the buffer)", what,
		    ACCESSLOG_RETRY_MS);
	}
}

static void
writer_recovered(struct accesslog *a)
{
	int64_t since;

	pthread_mutex_lock(&a->mu);
	since = a->fail_since_ms;
	atomic_store(&a->write_ok, true);
	pthread_mutex_unlock(&a->mu);
	log_info("access log writable again after %lld ms", (long long)(now_ms() - since));
}

/* Sleeps ACCESSLOG_RETRY_MS unless the daemon gives up waiting; false then. */
static bool
writer_pause(struct accesslog *a)
{
	struct timespec ts;
	bool abandon;

	pthread_mutex_lock(&a->mu);
	deadline_after(&ts, ACCESSLOG_RETRY_MS);
	while (!a->abandon && pthread_cond_timedwait(&a->cv, &a->mu, &ts) != ETIMEDOUT)
		;
	abandon = a->abandon;
	pthread_mutex_unlock(&a->mu);
	return !abandon;
}

/* Every event loop that waits for durable records is woken (once until it has looked). */
static void
wake_loops(struct accesslog *a)
{
	size_t i, n;
	uint64_t one = 1;

	pthread_mutex_lock(&a->mu); /* against accesslog_loop_detach() */
	n = atomic_load(&a->nwaitq);
	for (i = 0; i < n; i++) {
		struct accesslog_waitq *q = a->waitq[i];

		if (q == NULL || !atomic_load(&q->has_waits) || atomic_exchange(&q->notified, true))
			continue;
		if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("access log: waking an event loop");
	}
	pthread_mutex_unlock(&a->mu);
}

/*
 * Writes all of buf, retrying failures until it succeeds. False only when
 * the daemon gave up waiting. `last_ticket`: the batch's tickets, failed (and
 * their waiters told) on the first failure.
 */
static bool
writer_write(struct accesslog *a, const char *buf, size_t len, uint64_t last_ticket)
{
	size_t off = 0;
	ssize_t n;
	int err;

	while (off < len) {
		if ((err = atomic_load(&a->inject_errno)) != 0) {
			n = -1;
			errno = err;
		} else {
			n = write(a->fd, buf + off, len - off);
		}
		if (n > 0) {
			off += (size_t)n;
			a->bytes += (uint64_t)n;
			if (!atomic_load(&a->write_ok))
				writer_recovered(a);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		writer_failed(a, n < 0 ? errno : EIO, "written");
		if (last_ticket > atomic_load(&a->failed_ticket)) {
			atomic_store(&a->failed_ticket, last_ticket);
			wake_loops(a);
		}
		if (!writer_pause(a))
			return false;
	}
	a->unsynced = a->unsynced || len > 0;
	return true;
}

/* fdatasync until it succeeds (a failure fails the batch's waiters). False when the daemon gave up. */
static bool
writer_sync(struct accesslog *a, uint64_t last_ticket)
{
	int err;

	if (!a->unsynced || a->path == NULL)
		return true;
	for (;;) {
		if ((err = atomic_load(&a->inject_errno)) == 0 && fdatasync(a->fd) == 0)
			break;
		if (err == 0)
			err = errno;
		if (err == EINTR)
			continue;
		writer_failed(a, err, "synced");
		if (last_ticket > atomic_load(&a->failed_ticket)) {
			atomic_store(&a->failed_ticket, last_ticket);
			wake_loops(a);
		}
		if (!writer_pause(a))
			return false;
	}
	if (!atomic_load(&a->write_ok))
		writer_recovered(a);
	a->nsyncs++;
	a->unsynced = false;
	a->sync_ms = mono_ms();
	return true;
}

/*
 * every_call: keeps `reserve` bytes allocated past the end of the file, so
 * the records already accepted fit even when the disk fills meanwhile. It is
 * renewed after every batch (one fallocate: the file system allocates only
 * what the batch used up). A renewal that fails turns the log unhealthy (new
 * calls are refused before they are forwarded); one that succeeds again
 * turns it healthy.
 */
static void
writer_reserve(struct accesslog *a)
{
	if (a->reserve == 0 || (a->reserved_to >= a->bytes + a->reserve && atomic_load(&a->space_ok)))
		return;
	if (fallocate(a->fd, FALLOC_FL_KEEP_SIZE, (off_t)a->bytes, (off_t)a->reserve) == 0) {
		a->reserved_to = a->bytes + a->reserve;
		if (!atomic_load(&a->space_ok)) {
			atomic_store(&a->space_ok, true);
			log_info("access log: space reserved again; calls are accepted");
		}
		return;
	}
	if (errno == EOPNOTSUPP || errno == ENOSYS) {
		log_warnx("access log %s: the file system cannot reserve space (fallocate); with sync \"every_call\" a "
			  "full disk is noticed by the first write that fails, after its call was forwarded",
		    a->path);
		a->reserve = 0;
		return;
	}
	if (atomic_load(&a->space_ok)) {
		pthread_mutex_lock(&a->mu);
		a->fail_errno = errno;
		a->fail_since_ms = now_ms();
		pthread_mutex_unlock(&a->mu);
		atomic_store(&a->space_ok, false);
		log_warn("access log: cannot reserve %zu bytes ahead of the file; refusing calls until it can",
		    a->reserve);
	}
}

/* Appends a digest of the chain's state to a->out. */
static void
writer_digest(struct accesslog *a, enum logchain_end end)
{
	size_t len = a->out.len;
	char *key, err[512];

	/* A reload's new signing key (accesslog_set_signing_key): the chain is the writer's. */
	pthread_mutex_lock(&a->key_mu);
	key = a->pending_key;
	a->pending_key = NULL;
	pthread_mutex_unlock(&a->key_mu);
	if (key != NULL && !logchain_load_key(a->chain, key, err, sizeof(err)))
		log_warnx("access log: the reloaded access_log.signing_key: %s (digests keep the previous key)", err);
	free(key);

	a->out.need_comma[0] = false; /* a new line, not a member of the one before */
	a->digest_ms = mono_ms();     /* also after a failure: the next try is an interval later, not at once */
	if (!logchain_digest(a->chain, &a->out, time(NULL), a->digest_every_seconds, end)) {
		a->out.len = len; /* nothing half-written */
		a->out.failed = false;
		log_warnx("access log: could not %s a digest", logchain_has_key(a->chain) ? "sign" : "write");
		return;
	}
	a->digest_seq = logchain_seq(a->chain);
	atomic_fetch_add_explicit(&a->digests, 1, memory_order_relaxed);
}

/* Writes (and syncs, as configured or when `force_sync`) what is in a->out. False: the daemon gave up. */
static bool
writer_flush(struct accesslog *a, uint64_t last_ticket, bool force_sync)
{
	bool sync;

	if (a->out.len > 0 && !writer_write(a, a->out.buf, a->out.len, last_ticket))
		return false;
	jsonw_reset(&a->out);
	sync = force_sync || a->sync == ACCESSLOG_SYNC_EVERY_CALL ||
	       (a->sync == ACCESSLOG_SYNC_INTERVAL && mono_ms() - a->sync_ms >= (int64_t)a->sync_interval_ms);
	if (sync && !writer_sync(a, last_ticket))
		return false;
	if (last_ticket > atomic_load(&a->durable_ticket) &&
	    (a->sync != ACCESSLOG_SYNC_EVERY_CALL || !a->unsynced)) {
		atomic_store(&a->durable_ticket, last_ticket);
		wake_loops(a);
	}
	if (a->sync == ACCESSLOG_SYNC_EVERY_CALL)
		writer_reserve(a);
	return true;
}

/* Between records: opens the path again; on failure keeps writing to the old file. */
static bool
writer_reopen(struct accesslog *a)
{
	uint64_t size;
	int fd = open_path(a->path, &size);

	if (fd < 0) {
		log_warn("access log %s: reopen (still writing to the old file)", a->path);
		return false;
	}
	if (a->reserve != 0 && ftruncate(a->fd, (off_t)a->bytes) < 0)
		log_warn("access log: giving back the space reserved past the end of the old file");
	close(a->fd);
	a->fd = fd;
	a->bytes = size;
	a->reserved_to = 0;
	writer_digest(a, LOGCHAIN_END_NONE); /* the new file starts with a digest, as every file */
	return true;
}

/* max_bytes: the file closes with a digest, is renamed PATH.<time>.<last seq>, and a new one opens. */
static bool
writer_rotate(struct accesslog *a, uint64_t last_ticket)
{
	char stamp[32], *to;
	struct tm tm;
	time_t now = time(NULL);

	writer_digest(a, LOGCHAIN_END_ROTATE);
	if (!writer_flush(a, last_ticket, true))
		return false;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (asprintf(&to, "%s.%s.%llu", a->path, stamp, (unsigned long long)logchain_seq(a->chain)) < 0)
		return true;
	if (rename(a->path, to) < 0) {
		log_warn("access log: rename %s to %s; size rotation stops", a->path, to);
		a->rotate_failed = true;
	} else if (!writer_reopen(a)) {
		a->rotate_failed = true;
	} else {
		log_info("access log rotated to %s", to);
	}
	free(to);
	return true;
}

/*
 * Seals and writes the entries in wbuf[0..blen). Digests, rotation and
 * syncing happen between records. False: the daemon gave up waiting.
 */
static bool
writer_batch(struct accesslog *a, size_t blen, uint64_t first_ticket)
{
	struct entry_hdr h;
	size_t pos = 0, start;
	uint64_t ticket = first_ticket - 1;

	/* a->out may hold a digest for a file just opened: it goes first */
	while (pos < blen) {
		memcpy(&h, a->wbuf + pos, sizeof(h));
		pos += sizeof(h);
		if (h.type == ENTRY_REOPEN) {
			if (a->path == NULL)
				continue;
			writer_digest(a, LOGCHAIN_END_ROTATE);
			if (!writer_flush(a, ticket, true))
				return false;
			if (writer_reopen(a))
				log_info("access log %s reopened", a->path);
			continue;
		}
		ticket++;
		start = a->out.len;
		jsonw_raw(&a->out, a->wbuf + pos, h.len);
		pos += h.len;
		if (!logchain_seal_at(a->chain, &a->out, start)) {
			a->out.len = start; /* cannot happen for a line the loop formatted; never written half */
			a->out.failed = false;
			log_warnx("access log: could not seal a record (out of memory)");
			continue;
		}
		logchain_commit(a->chain);
		a->nwritten++;
		/* The same sealed line to syslog: a non-blocking datagram, never a wait (syslog_sink.h). */
		if (a->syslog != NULL && !syslog_sink_send(a->syslog, a->out.buf + start, a->out.len - start))
			syslog_complain(a);
		if (logchain_seq(a->chain) - a->digest_seq >= a->digest_every_records)
			writer_digest(a, LOGCHAIN_END_NONE);
	}
	if (mono_ms() - a->digest_ms >= (int64_t)a->digest_every_seconds * 1000)
		writer_digest(a, LOGCHAIN_END_NONE);
	if (!writer_flush(a, ticket, false))
		return false;
	if (a->max_bytes != 0 && !a->rotate_failed && a->path != NULL && a->bytes >= a->max_bytes)
		return writer_rotate(a, ticket);
	return true;
}

/* How long the idle writer may sleep: until the next digest, the next interval sync or a space retry. */
static void
writer_deadline(struct accesslog *a, struct timespec *ts)
{
	int64_t now = mono_ms(), until = a->digest_ms + (int64_t)a->digest_every_seconds * 1000;

	if (a->unsynced && a->sync == ACCESSLOG_SYNC_INTERVAL && a->sync_ms + a->sync_interval_ms < until)
		until = a->sync_ms + a->sync_interval_ms;
	if (!atomic_load(&a->space_ok) && now + ACCESSLOG_RETRY_MS < until)
		until = now + ACCESSLOG_RETRY_MS;
	deadline_after(ts, until > now ? (uint32_t)(until - now) : 0);
}

static void *
writer_main(void *arg)
{
	struct accesslog *a = arg;
	struct entry_hdr h;
	struct timespec until;
	size_t pos, taken, blen;
	uint64_t first_ticket, ndata;
	bool ok = true;

	/* Every file starts with a digest: a reviewer can date even a file that holds no record yet. */
	writer_digest(a, LOGCHAIN_END_NONE);
	if (!writer_flush(a, 0, false))
		ok = false;
	pthread_mutex_lock(&a->mu);
	for (; ok;) {
		/*
		 * Linger briefly on an empty ring before sleeping: under load the
		 * next records arrive within the linger and go out as one batch,
		 * with no wake-up per record (producers signal only an idle
		 * writer). A record reaches the file at most ACCESSLOG_LINGER_MS
		 * late. every_call does not linger: a response waits for it, and
		 * records queued during an fdatasync form the next batch anyway.
		 */
		if (atomic_load(&a->used) == 0 && !a->stopping && a->sync != ACCESSLOG_SYNC_EVERY_CALL) {
			deadline_after(&until, ACCESSLOG_LINGER_MS);
			pthread_cond_timedwait(&a->cv, &a->mu, &until);
		}
		if (atomic_load(&a->used) == 0 && !a->stopping) {
			writer_deadline(a, &until);
			a->writer_idle = true;
			pthread_cond_timedwait(&a->cv, &a->mu, &until);
			a->writer_idle = false;
		}
		if (a->abandon || (a->stopping && atomic_load(&a->used) == 0))
			break;
		/* A run of entries up to a batch; they stay in the ring until written. */
		pos = a->tail;
		taken = blen = ndata = 0;
		while (taken < atomic_load(&a->used)) {
			ring_get(a, pos, &h, sizeof(h));
			if (blen > 0 && blen + sizeof(h) + h.len > ACCESSLOG_BATCH_BYTES)
				break;
			ring_get(a, pos, a->wbuf + blen, sizeof(h));
			ring_get(a, (pos + sizeof(h)) % a->cap, a->wbuf + blen + sizeof(h), h.len);
			blen += sizeof(h) + h.len;
			taken += sizeof(h) + h.len;
			pos = (pos + sizeof(h) + h.len) % a->cap;
			ndata += h.type == ENTRY_DATA;
		}
		/* Tickets are handed out in ring order: the batch's first is one past the last one taken. */
		first_ticket = a->taken_ticket + 1;
		a->taken_ticket += ndata;
		pthread_mutex_unlock(&a->mu);
		ok = writer_batch(a, blen, first_ticket);
		pthread_mutex_lock(&a->mu);
		if (!ok)
			break;
		a->tail = (a->tail + taken) % a->cap;
		atomic_fetch_sub(&a->used, taken);
		if (atomic_load(&a->used) == 0)
			pthread_cond_broadcast(&a->drained);
	}
	pthread_mutex_unlock(&a->mu);
	/* A clean stop: the final digest, synced, is the file's last line. */
	if (ok && !a->abandon) {
		writer_digest(a, LOGCHAIN_END_FINAL);
		writer_flush(a, 0, true);
	}
	pthread_mutex_lock(&a->mu);
	a->writer_done = true;
	pthread_cond_broadcast(&a->drained);
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* Starts the writer with a ring of `cap` bytes. */
static bool
writer_start(struct accesslog *a, size_t cap)
{
	pthread_condattr_t ca;

	if (a->started)
		return true;
	if ((a->ring = malloc(cap)) == NULL || (a->wbuf = malloc(ACCESSLOG_BATCH_BYTES)) == NULL) {
		free(a->ring);
		a->ring = NULL;
		return false;
	}
	a->cap = cap;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, &ca);
	pthread_cond_init(&a->drained, &ca);
	pthread_condattr_destroy(&ca);
	if (a->sync == ACCESSLOG_SYNC_EVERY_CALL && a->path != NULL) {
		a->reserve = cap; /* everything the ring can hold fits in the reservation */
		writer_reserve(a);
	}
	if (pthread_create(&a->thread, NULL, writer_main, a) != 0) {
		log_warnx("access log: cannot start the writer thread");
		return false;
	}
	a->started = true;
	return true;
}

/*
 * A line that is not a call: {"ddbguardNotice": {"eventTime", "kind", "message"}, "chain": ...}.
 * configReload notices add "outcome", "oldVersion" and "newVersion" (`reload` non-NULL).
 */
static bool
write_notice_ex(struct accesslog *a, const char *kind, const char *message, const char *const reload[3])
{
	struct timespec ts;
	char buf[40];
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	jsonw_reset(&a->w);
	jsonw_object_begin(&a->w, NULL);
	jsonw_object_begin(&a->w, "ddbguardNotice");
	jsonw_string(&a->w, "eventTime", buf);
	jsonw_string(&a->w, "kind", kind);
	jsonw_string(&a->w, "message", message);
	if (reload != NULL) {
		jsonw_string(&a->w, "outcome", reload[0]);
		jsonw_string(&a->w, "oldVersion", reload[1]);
		jsonw_string(&a->w, "newVersion", reload[2]);
	}
	jsonw_object_end(&a->w);
	jsonw_object_end(&a->w);
	jsonw_raw(&a->w, "\n", 1);
	return !a->w.failed && enqueue(a, ENTRY_DATA, a->w.buf, a->w.len) != 0;
}

static bool
write_notice(struct accesslog *a, const char *kind, const char *message)
{
	return write_notice_ex(a, kind, message, NULL);
}

bool
accesslog_notice_reload(struct accesslog *a, bool accepted, const char *old_version, const char *new_version,
    const char *message)
{
	const char *const reload[3] = { accepted ? "accepted" : "refused", old_version, new_version };

	if (a == NULL || (!a->started && !writer_start(a, ACCESSLOG_DEFAULT_BUFFER)))
		return false;
	return write_notice_ex(a, "configReload", message, reload);
}

bool
accesslog_set_signing_key(struct accesslog *a, const char *path, char *err, size_t errlen)
{
	char *copy;

	if (a == NULL)
		return true;
	if (!a->started) /* no writer yet: the chain is still ours */
		return logchain_load_key(a->chain, path, err, errlen);
	if ((copy = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	/* The writer owns the chain: it loads the key before its next digest (reload.c checked it loads). */
	pthread_mutex_lock(&a->key_mu);
	free(a->pending_key);
	a->pending_key = copy;
	pthread_mutex_unlock(&a->key_mu);
	return true;
}

bool
accesslog_configure(struct accesslog *a, const struct access_log_config *cfg)
{
	char err[512];

	a->max_bytes = a->path ? cfg->max_bytes : 0;
	a->digest_every_records = cfg->digest_every_records ? cfg->digest_every_records : 1000;
	a->digest_every_seconds = cfg->digest_every_seconds ? cfg->digest_every_seconds : 60;
	a->fail_open = cfg->fail_open;
	a->sync_interval_ms = cfg->sync_interval_ms ? cfg->sync_interval_ms : 1000;
	if (cfg->sync == NULL || strcmp(cfg->sync, "interval") == 0)
		a->sync = ACCESSLOG_SYNC_INTERVAL;
	else if (strcmp(cfg->sync, "none") == 0)
		a->sync = ACCESSLOG_SYNC_NONE;
	else if (strcmp(cfg->sync, "every_call") == 0)
		a->sync = ACCESSLOG_SYNC_EVERY_CALL;
	else {
		log_warnx("access_log.sync: \"%s\" is not \"none\", \"interval\" or \"every_call\"", cfg->sync);
		return false;
	}
	if (cfg->syslog != NULL && (a->syslog = syslog_sink_open(cfg->syslog, err, sizeof(err))) == NULL) {
		log_warnx("access_log.syslog: %s", err);
		return false;
	}
	if (cfg->signing_key != NULL && !logchain_load_key(a->chain, cfg->signing_key, err, sizeof(err))) {
		log_warnx("access_log.signing_key: %s", err);
		return false;
	}
	if (!writer_start(a, cfg->buffer_bytes ? cfg->buffer_bytes : ACCESSLOG_DEFAULT_BUFFER))
		return false;
	if (a->fail_open) {
		log_warnx("access_log.fail_open is true: calls are allowed even while the access log cannot be "
			  "written, and their records may be lost");
		if (!write_notice(a, "failOpen",
			"access_log.fail_open is true: calls are allowed while the access log cannot be written; "
			"records that do not fit the buffer meanwhile are lost (counted in guard.logRecovery)"))
			log_warnx("access log: could not queue the fail_open notice");
	}
	return true;
}

enum accesslog_sync
accesslog_sync_mode(const struct accesslog *a)
{
	return a == NULL ? ACCESSLOG_SYNC_NONE : a->sync;
}

void
accesslog_reopen(struct accesslog *a)
{
	if (a == NULL || a->path == NULL)
		return;
	if (enqueue(a, ENTRY_REOPEN, "", 0) == 0) {
		log_warnx("access log %s: the buffer is full; cannot reopen now (send SIGUSR1 again)", a->path);
		return;
	}
	log_info("access log %s: reopen queued; the hash chain continues in the new file", a->path);
}

bool
accesslog_flush(struct accesslog *a, uint32_t timeout_ms)
{
	struct timespec ts;
	bool ok;

	if (a == NULL || !a->started)
		return true;
	deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&a->mu);
	while (atomic_load(&a->used) > 0 && !a->writer_done &&
	    pthread_cond_timedwait(&a->drained, &a->mu, &ts) != ETIMEDOUT)
		;
	ok = atomic_load(&a->used) == 0;
	pthread_mutex_unlock(&a->mu);
	return ok;
}

/* Stops the writer after it drains the ring, waiting at most ACCESSLOG_DRAIN_MS. False: it is still running. */
static bool
writer_stop(struct accesslog *a)
{
	struct timespec ts;
	size_t left;
	bool done;

	pthread_mutex_lock(&a->mu);
	a->stopping = true;
	pthread_cond_signal(&a->cv);
	deadline_after(&ts, ACCESSLOG_DRAIN_MS);
	while (!a->writer_done && pthread_cond_timedwait(&a->drained, &a->mu, &ts) != ETIMEDOUT)
		;
	if (!a->writer_done) {
		left = atomic_load(&a->used);
		a->abandon = true;
		pthread_cond_signal(&a->cv);
		deadline_after(&ts, 500);
		while (!a->writer_done && pthread_cond_timedwait(&a->drained, &a->mu, &ts) != ETIMEDOUT)
			;
		log_warnx("access log: %zu bytes of records could not be written before exit (no final digest)", left);
	}
	done = a->writer_done;
	pthread_mutex_unlock(&a->mu);
	if (!done) {
		pthread_detach(a->thread); /* stuck in write(2): it still uses `a`, which is left allocated */
		return false;
	}
	pthread_join(a->thread, NULL);
	return true;
}

static void waitq_free(struct accesslog_waitq *q);

void
accesslog_close(struct accesslog *a)
{
	size_t i;

	if (a == NULL)
		return;
	if (a->started) {
		if (!writer_stop(a))
			return;
		pthread_mutex_destroy(&a->mu);
		pthread_cond_destroy(&a->cv);
		pthread_cond_destroy(&a->drained);
	}
	for (i = 0; i < atomic_load(&a->nwaitq); i++)
		waitq_free(a->waitq[i]);
	if (a->path != NULL && a->started)
		log_info("access log %s: %llu records, %llu fdatasync, %llu writer wake-ups (sync \"%s\")", a->path,
		    (unsigned long long)a->nwritten, (unsigned long long)a->nsyncs, (unsigned long long)a->nwakeups,
		    a->sync == ACCESSLOG_SYNC_NONE ? "none" : a->sync == ACCESSLOG_SYNC_INTERVAL ? "interval" : "every_call");
	if (a->reserve != 0 && a->fd >= 0 && ftruncate(a->fd, (off_t)a->bytes) < 0)
		log_warn("access log: giving back the space reserved past the end of the file");
	if (a->owns_fd && a->fd >= 0)
		close(a->fd);
	jsonw_release(&a->w);
	jsonw_release(&a->out);
	accesslog_thread_release(); /* the closing thread's record buffer; other loops release theirs */
	logchain_free(a->chain);
	syslog_sink_free(a->syslog);
	free(a->pending_key);
	free(a->ring);
	free(a->wbuf);
	free(a->path);
	free(a);
}

bool
accesslog_healthy(const struct accesslog *a)
{
	struct accesslog *m = (struct accesslog *)a; /* atomics only: loads do not modify */

	if (a == NULL || !a->started)
		return true;
	return atomic_load(&m->write_ok) && atomic_load(&m->space_ok) &&
	       atomic_load(&m->used) < ACCESSLOG_HIGH_WATER(a->cap);
}

bool
accesslog_accepting(const struct accesslog *a)
{
	return a == NULL || a->fail_open || accesslog_healthy(a);
}

void
accesslog_health(struct accesslog *a, struct accesslog_health *h)
{
	memset(h, 0, sizeof(*h));
	h->ok = true;
	if (a == NULL || !a->started)
		return;
	h->fail_open = a->fail_open;
	pthread_mutex_lock(&a->mu);
	if (!atomic_load(&a->write_ok) || !atomic_load(&a->space_ok)) {
		h->ok = false;
		h->since_ms = a->fail_since_ms;
		snprintf(h->reason, sizeof(h->reason), "%s", strerror(a->fail_errno));
	} else if (atomic_load(&a->used) >= ACCESSLOG_HIGH_WATER(a->cap)) {
		h->ok = false;
		h->since_ms = now_ms();
		snprintf(h->reason, sizeof(h->reason), "the access log buffer is over three quarters full");
	}
	pthread_mutex_unlock(&a->mu);
}

void
accesslog_test_fail_writes(struct accesslog *a, int err)
{
	atomic_store(&a->inject_errno, err);
}

/* ---- waiting for durable records (every_call) ---- */

/* On q's loop: completes, in ticket order, every wait the writer has decided. */
static void
waitq_run(struct accesslog_waitq *q)
{
	struct accesslog_wait *w;
	uint64_t durable, failed;

	atomic_store(&q->notified, false); /* before the loads: a later publication wakes us again */
	durable = atomic_load(&q->a->durable_ticket);
	failed = atomic_load(&q->a->failed_ticket);
	while ((w = TAILQ_FIRST(&q->waits)) != NULL && (w->ticket <= durable || w->ticket <= failed)) {
		TAILQ_REMOVE(&q->waits, w, link);
		w->q = NULL;
		w->done(w, w->ticket <= durable);
	}
	atomic_store(&q->has_waits, !TAILQ_EMPTY(&q->waits));
}

static void
waitq_cb(evutil_socket_t fd, short what, void *arg)
{
	struct accesslog_waitq *q = arg;
	uint64_t n;

	if (read(q->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("access log: reading the wake-up eventfd");
	waitq_run(q);
}

static void
waitq_free(struct accesslog_waitq *q)
{
	struct accesslog_wait *w;

	if (q == NULL)
		return;
	while ((w = TAILQ_FIRST(&q->waits)) != NULL) {
		TAILQ_REMOVE(&q->waits, w, link);
		w->q = NULL;
	}
	if (q->ev != NULL)
		event_free(q->ev);
	if (q->efd >= 0)
		close(q->efd);
	free(q);
}

/* The waitq of `base`, registered on first use (on base's own thread). */
static struct accesslog_waitq *
waitq_get(struct accesslog *a, struct event_base *base)
{
	size_t i, n = atomic_load_explicit(&a->nwaitq, memory_order_acquire);
	struct accesslog_waitq *q = NULL;

	for (i = 0; i < n; i++)
		if (a->waitq[i] != NULL && a->waitq[i]->base == base)
			return a->waitq[i];
	pthread_mutex_lock(&a->mu);
	n = atomic_load(&a->nwaitq);
	if (n < ACCESSLOG_MAX_LOOPS && (q = calloc(1, sizeof(*q))) != NULL) {
		q->a = a;
		q->base = base;
		TAILQ_INIT(&q->waits);
		atomic_init(&q->has_waits, false);
		atomic_init(&q->notified, false);
		q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (q->efd < 0 || (q->ev = event_new(base, q->efd, EV_READ | EV_PERSIST, waitq_cb, q)) == NULL ||
		    event_add(q->ev, NULL) < 0) {
			log_warn("access log: cannot set up the durable-record wake-up");
			waitq_free(q);
			q = NULL;
		} else {
			a->waitq[n] = q;
			atomic_store_explicit(&a->nwaitq, n + 1, memory_order_release);
		}
	}
	pthread_mutex_unlock(&a->mu);
	return q;
}

void
accesslog_loop_detach(struct accesslog *a, struct event_base *base)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < atomic_load(&a->nwaitq); i++) {
		if (a->waitq[i] == NULL || a->waitq[i]->base != base)
			continue;
		pthread_mutex_lock(&a->mu);
		waitq_free(a->waitq[i]);
		a->waitq[i] = NULL;
		pthread_mutex_unlock(&a->mu);
	}
}

void
accesslog_wait_cancel(struct accesslog_wait *w)
{
	if (w == NULL || w->q == NULL)
		return;
	TAILQ_REMOVE(&w->q->waits, w, link);
	w->q = NULL;
}

/* ---- formatting (event loop) ---- */

/*
 * eventTime, "YYYY-MM-DDTHH:MM:SS.mmmZ". The text up to the seconds is made
 * once per second per thread (gmtime_r and strftime cost ~2k instructions)
 * and reused; the milliseconds are three digits.
 */
static void
write_time(struct jsonw *w, const struct timespec *ts)
{
	static _Thread_local time_t cached_sec = -1;
	static _Thread_local char cached[24];
	static _Thread_local size_t cached_len;
	char buf[32];
	struct tm tm;
	long ms = ts->tv_nsec / 1000000;

	if (ts->tv_sec != cached_sec) {
		gmtime_r(&ts->tv_sec, &tm);
		cached_len = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = ts->tv_sec;
	}
	memcpy(buf, cached, cached_len);
	buf[cached_len] = '.';
	buf[cached_len + 1] = (char)('0' + ms / 100 % 10);
	buf[cached_len + 2] = (char)('0' + ms / 10 % 10);
	buf[cached_len + 3] = (char)('0' + ms % 10);
	buf[cached_len + 4] = 'Z';
	jsonw_stringn(w, "eventTime", buf, cached_len + 5);
}

static void
write_names(struct jsonw *w, const char *key, const char *const *v, size_t n)
{
	jsonw_array_begin(w, key);
	for (size_t i = 0; i < n; i++)
		jsonw_string(w, NULL, v[i]);
	jsonw_array_end(w);
}

/*
 * userIdentity: CloudTrail's members for who signed the call that reached
 * AWS (type, accountId, arn: the broker's role or user when it re-signed;
 * for calls the client signed, only what its key id says), and a
 * `ddbguard` object for who called the gateway and how that was proved.
 */
static void
write_identity(struct jsonw *w, const struct accesslog_call *r)
{
	jsonw_object_begin(w, "userIdentity");
	jsonw_string(w, "type", r->signer_type != NULL ? r->signer_type : "Unknown");
	if (r->access_key_id != NULL)
		jsonw_string(w, "accessKeyId", r->access_key_id);
	if (r->signer_account != NULL && r->signer_account[0] != '\0')
		jsonw_string(w, "accountId", r->signer_account);
	if (r->signer_arn != NULL && r->signer_arn[0] != '\0')
		jsonw_string(w, "arn", r->signer_arn);
	jsonw_object_begin(w, "ddbguard");
	jsonw_string(w, "identity", r->identity);
	if (r->claimed_identity != NULL)
		jsonw_string(w, "claimedIdentity", r->claimed_identity);
	write_names(w, "matchedBy", r->matched_by, r->nmatched_by);
	jsonw_string(w, "proof", r->proof != NULL ? r->proof : "none");
	jsonw_string(w, "signedBy", r->brokered ? "broker" : "client");
	if (r->has_cert) {
		jsonw_object_begin(w, "clientCertificate");
		jsonw_string(w, "subject", r->cert_subject);
		write_names(w, "dnsNames", r->cert_dns, r->ncert_dns);
		write_names(w, "uris", r->cert_uris, r->ncert_uris);
		jsonw_object_end(w);
	}
	jsonw_object_end(w);
	jsonw_object_end(w);
}

/*
 * requestParameters: CloudTrail's member names (camelCase of the API's), but
 * names only, never a value. See proxy/audit/ACCESS_LOG.md for the shape.
 */
#define ACCESSLOG_HIDDEN "HIDDEN_DUE_TO_SECURITY_REASONS" /* CloudTrail's own spelling for a withheld value */
#define ACCESSLOG_ENUM_MAX 48				  /* longest DynamoDB enum value we copy */
#define ACCESSLOG_CAPACITY_MAX 100			  /* TransactWriteItems touches at most 100 tables */

/* An API enum member (Select, ReturnValues ...): logged only if it looks like one, so no free text gets in. */
static void
write_enum(struct jsonw *w, const cJSON *body, const char *member, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, member);
	size_t i, n;

	if (!cJSON_IsString(v) || (n = strlen(v->valuestring)) == 0 || n > ACCESSLOG_ENUM_MAX)
		return;
	for (i = 0; i < n; i++)
		if (!((v->valuestring[i] >= 'A' && v->valuestring[i] <= 'Z') || v->valuestring[i] == '_'))
			return;
	jsonw_string(w, key, v->valuestring);
}

/* "key": {"pk": "HIDDEN_DUE_TO_SECURITY_REASONS", ...}: CloudTrail's shape, the values withheld. */
static void
write_key_names(struct jsonw *w, const cJSON *map)
{
	const cJSON *m;

	if (!cJSON_IsObject(map))
		return;
	jsonw_object_begin(w, "key");
	cJSON_ArrayForEach(m, map)
	{
		jsonw_string(w, m->string, ACCESSLOG_HIDDEN);
	}
	jsonw_object_end(w);
}

/* "item": ["pk", "sk", "note"]: CloudTrail's PutItem shape (attribute names). */
static void
write_item_names(struct jsonw *w, const cJSON *map)
{
	const cJSON *m;

	if (!cJSON_IsObject(map))
		return;
	jsonw_array_begin(w, "item");
	cJSON_ArrayForEach(m, map)
	{
		jsonw_string(w, NULL, m->string);
	}
	jsonw_array_end(w);
}

/* "expressions": which expression (or legacy condition) members the call used, not their text. */
static void
write_expressions(struct jsonw *w, const cJSON *body)
{
	static const char *const members[] = { "KeyConditionExpression", "FilterExpression", "ProjectionExpression",
		"ConditionExpression", "UpdateExpression", "KeyConditions", "QueryFilter", "ScanFilter", "Expected",
		"AttributesToGet", "AttributeUpdates" };
	bool open = false;
	size_t i;

	for (i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		if (cJSON_GetObjectItemCaseSensitive(body, members[i]) == NULL)
			continue;
		if (!open)
			jsonw_array_begin(w, "expressions");
		open = true;
		jsonw_string(w, NULL, members[i]);
	}
	if (open)
		jsonw_array_end(w);
}

/*
 * "attributes": every attribute name the call reads or writes, as policies
 * see them (dynamodb:Attributes): key, item, projection and update names of
 * every table the call touches. The daemon hands them over (request_log()).
 */
static void
write_attribute_names(struct jsonw *w, const struct accesslog_call *r)
{
	size_t i;
	bool open = false;

	for (i = 0; i < r->nattributes; i++) {
		if (r->attributes[i] == NULL)
			continue; /* a member of the wrong type: nothing to name */
		if (!open)
			jsonw_array_begin(w, "attributes");
		open = true;
		jsonw_string(w, NULL, r->attributes[i]);
	}
	if (open)
		jsonw_array_end(w);
}

static void
write_request_parameters(struct jsonw *w, const struct accesslog_call *r)
{
	const struct inspect_result *in = r->inspect;
	const cJSON *b = r->body;
	const cJSON *v;

	if (in->primary_table == NULL) {
		jsonw_null(w, "requestParameters");
		return;
	}
	jsonw_object_begin(w, "requestParameters");
	jsonw_string(w, "tableName", in->primary_table);
	if (b != NULL) {
		write_key_names(w, cJSON_GetObjectItemCaseSensitive(b, "Key"));
		write_item_names(w, cJSON_GetObjectItemCaseSensitive(b, "Item"));
		v = cJSON_GetObjectItemCaseSensitive(b, "IndexName");
		if (cJSON_IsString(v) && strlen(v->valuestring) <= 255)
			jsonw_string(w, "indexName", v->valuestring);
		write_enum(w, b, "Select", "select");
		write_enum(w, b, "ReturnValues", "returnValues");
		write_enum(w, b, "ReturnConsumedCapacity", "returnConsumedCapacity");
		write_enum(w, b, "ReturnItemCollectionMetrics", "returnItemCollectionMetrics");
		write_enum(w, b, "ReturnValuesOnConditionCheckFailure", "returnValuesOnConditionCheckFailure");
		v = cJSON_GetObjectItemCaseSensitive(b, "ConsistentRead");
		if (cJSON_IsBool(v))
			jsonw_bool(w, "consistentRead", cJSON_IsTrue(v));
		v = cJSON_GetObjectItemCaseSensitive(b, "Limit");
		if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1e9 &&
		    v->valuedouble == (double)(int64_t)v->valuedouble)
			jsonw_int(w, "limit", (int64_t)v->valuedouble);
		write_expressions(w, b);
		write_attribute_names(w, r);
	}
	if (in->partiql_statement != NULL) /* literals redacted, as CloudTrail logs PartiQL */
		jsonw_string(w, "statement", in->partiql_statement);
	jsonw_object_end(w);
}

/* The account field of an ARN (arn:partition:service:region:ACCOUNT:resource), or NULL. */
static void
write_arn_account(struct jsonw *w, const char *arn)
{
	const char *p = arn, *end;
	int i;

	for (i = 0; i < 4 && p != NULL; i++) {
		p = strchr(p, ':');
		if (p != NULL)
			p++;
	}
	if (p == NULL || (end = strchr(p, ':')) == NULL || end == p) {
		jsonw_null(w, "accountId");
		return;
	}
	jsonw_stringn(w, "accountId", p, (size_t)(end - p));
}

static void
write_resources(struct jsonw *w, const struct accesslog_call *r)
{
	const struct inspect_result *in = r->inspect;
	size_t i;

	write_request_parameters(w, r);
	jsonw_null(w, "responseElements"); /* as CloudTrail data events: never the response */
	jsonw_array_begin(w, "resources");
	for (i = 0; i < in->n; i++) {
		jsonw_object_begin(w, NULL);
		write_arn_account(w, in->res[i].arn);
		jsonw_string(w, "type", inspect_type_cloudtrail(in->res[i].type));
		jsonw_string(w, "ARN", in->res[i].arn);
		jsonw_object_end(w);
	}
	jsonw_array_end(w);
}

static void
write_capacity_number(struct jsonw *w, const cJSON *cc, const char *member, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cc, member);

	if (cJSON_IsNumber(v))
		jsonw_double3(w, key, v->valuedouble);
}

/* guard.consumedCapacity: always an array, one entry per table, numbers and table names only. */
static void
write_capacity(struct jsonw *w, const cJSON *cc)
{
	const cJSON *e, *t;
	size_t n = 0;

	if (cc == NULL)
		return;
	jsonw_array_begin(w, "consumedCapacity");
	for (e = cJSON_IsArray(cc) ? cc->child : cc; e != NULL && n < ACCESSLOG_CAPACITY_MAX; e = e->next, n++) {
		if (!cJSON_IsObject(e))
			continue;
		jsonw_object_begin(w, NULL);
		t = cJSON_GetObjectItemCaseSensitive(e, "TableName");
		jsonw_string(w, "tableName", cJSON_IsString(t) && strlen(t->valuestring) <= 2048 ? t->valuestring : NULL);
		write_capacity_number(w, e, "CapacityUnits", "capacityUnits");
		write_capacity_number(w, e, "ReadCapacityUnits", "readCapacityUnits");
		write_capacity_number(w, e, "WriteCapacityUnits", "writeCapacityUnits");
		jsonw_object_end(w);
		if (!cJSON_IsArray(cc))
			break;
	}
	jsonw_array_end(w);
}

/* CloudTrail's tlsDetails, for the client side of the call. */
static void
write_tls(struct jsonw *w, const struct accesslog_call *r)
{
	const char *host;
	size_t len = 0;

	if (r->tls_version == NULL)
		return;
	jsonw_object_begin(w, "tlsDetails");
	jsonw_string(w, "tlsVersion", r->tls_version);
	jsonw_string(w, "cipherSuite", r->tls_cipher);
	host = r->host;
	len = r->host_len;
	if (host != NULL)
		jsonw_stringn(w, "clientProvidedHostHeader", host, len);
	jsonw_object_end(w);
}

/* guard.logRecovery: {"droppedRecords", "unwritableSinceMs"} on the first record after the log recovered. */
static void
write_recovery(struct jsonw *w, const struct accesslog_recovery *rec)
{
	if (rec == NULL || !rec->present)
		return;
	jsonw_object_begin(w, "logRecovery");
	jsonw_uint(w, "droppedRecords", rec->dropped);
	jsonw_int(w, "unwritableSinceMs", rec->since_ms);
	jsonw_object_end(w);
}

/*
 * Where the caller is, when "geoip" is configured: the review tool groups by
 * it, and a reviewer can see why a country condition decided. The daemon
 * looks it up (request_log()).
 */
static void
write_source_geo(struct jsonw *w, const struct accesslog_call *r)
{
	if (r->source_country != NULL && r->source_country[0] != '\0')
		jsonw_string(w, "sourceCountry", r->source_country);
	if (r->source_asn != NULL && r->source_asn[0] != '\0')
		jsonw_string(w, "sourceASN", r->source_asn);
}

static void
write_guard(struct jsonw *w, const struct accesslog_call *r, const struct accesslog_recovery *rec)
{
	jsonw_object_begin(w, "guard");
	jsonw_string(w, "decision", r->decision);
	if (r->reason != NULL && r->reason[0] != '\0')
		jsonw_string(w, "reason", r->reason);
	if (r->policy != NULL) {
		jsonw_string(w, "policy", r->policy);
		jsonw_string(w, "statement", r->statement);
	}
	if (r->policy_version != NULL)
		jsonw_string(w, "policyVersion", r->policy_version);
	if (r->rate_limit_name != NULL) {
		jsonw_object_begin(w, "rateLimit");
		jsonw_string(w, "name", r->rate_limit_name);
		jsonw_string(w, "per", r->rate_limit_per);
		jsonw_double3(w, "rate", r->rate_limit_rate);
		jsonw_uint(w, "burst", r->rate_limit_burst);
		jsonw_object_end(w);
	}
	if (r->shadow_effect != NULL) {
		/* Shadow mode: what everything enforced would have decided (config/README.md). */
		jsonw_object_begin(w, "shadow");
		jsonw_string(w, "decision", "deny");
		jsonw_string(w, "effect", r->shadow_effect);
		if (r->shadow_policy != NULL) {
			jsonw_string(w, "policy", r->shadow_policy);
			jsonw_string(w, "statement", r->shadow_statement);
		}
		jsonw_string(w, "resource", r->shadow_resource);
		jsonw_object_end(w);
	}
	jsonw_string(w, "identity", r->identity);
	if (r->access_key_id != NULL)
		jsonw_string(w, "identityMatch", r->identity_match);
	jsonw_string(w, "listener", r->listener);
	write_source_geo(w, r);
	jsonw_string(w, "mode", r->egress ? "egress" : "reverse");
	if (r->egress && r->connect_target != NULL)
		jsonw_stringn(w, "connectTarget", r->connect_target, r->connect_target_len > 253 ? 253 : r->connect_target_len);
	if (r->event_name != NULL)
		jsonw_string(w, "class", r->action_class);
	else if (r->target != NULL)
		jsonw_stringn(w, "target", r->target, r->target_len > 128 ? 128 : r->target_len);
	jsonw_int(w, "status", r->status);
	if (r->upstream_url != NULL) {
		jsonw_object_begin(w, "upstream");
		jsonw_string(w, "url", r->upstream_url);
		if (r->upstream_peer != NULL && r->upstream_peer[0] != '\0')
			jsonw_string(w, "address", r->upstream_peer);
		if (r->upstream_status)
			jsonw_int(w, "status", r->upstream_status);
		/* The DynamoDB error type the upstream answered (errorCode says the same for an allowed call). */
		if (r->upstream_error_type != NULL)
			jsonw_string(w, "errorType", r->upstream_error_type);
		if (r->upstream_duration_ms > 0)
			jsonw_double3(w, "durationMs", r->upstream_duration_ms);
		jsonw_object_end(w);
	}
	jsonw_double3(w, "durationMs", r->duration_ms);
	jsonw_uint(w, "bytesIn", r->bytes_in);
	jsonw_uint(w, "bytesOut", r->bytes_out);
	write_capacity(w, r->consumed_capacity);
	write_recovery(w, rec);
	jsonw_object_end(w);
}

static void
format_record(struct jsonw *w, const struct accesslog_call *r, const struct accesslog_recovery *rec)
{
	const char *ua;
	size_t ualen = 0;
	char uuid[37];

	jsonw_object_begin(w, NULL);
	jsonw_string(w, "eventVersion", "1.09");
	write_time(w, &r->wall_start);
	jsonw_string(w, "eventSource", "dynamodb.amazonaws.com");
	jsonw_string(w, "eventName", r->event_name);
	jsonw_string(w, "awsRegion", r->region);
	jsonw_string(w, "sourceIPAddress", r->client_ip);
	ua = r->user_agent;
	ualen = r->user_agent_len;
	if (ua != NULL)
		jsonw_stringn(w, "userAgent", ua, ualen > 512 ? 512 : ualen);
	else
		jsonw_null(w, "userAgent");
	write_identity(w, r);
	write_resources(w, r);
	if (r->error_code != NULL && r->error_code[0] != '\0') {
		jsonw_string(w, "errorCode", r->error_code);
		jsonw_string(w, "errorMessage", r->reason != NULL && r->reason[0] ? r->reason : NULL);
	}
	jsonw_string(w, "requestID", r->request_id != NULL && r->request_id[0] ? r->request_id : NULL);
	ids_uuid(uuid);
	jsonw_string(w, "eventID", uuid);
	jsonw_bool(w, "readOnly", r->read_only);
	jsonw_string(w, "eventType", "AwsApiCall");
	jsonw_bool(w, "managementEvent", r->management);
	jsonw_string(w, "eventCategory", r->management ? "Management" : "Data");
	jsonw_string(w, "recipientAccountId", r->account);
	write_tls(w, r);
	write_guard(w, r, rec);
	jsonw_object_end(w);
	jsonw_raw(w, "\n", 1);
}


/* Rate-limited: records the full ring refused. */

/* Rate-limited: records the full ring refused. */
static void
count_drop(struct accesslog *a)
{
	time_t now = time(NULL);
	uint64_t dropped = atomic_fetch_add(&a->dropped, 1) + 1;

	if (atomic_exchange(&a->last_drop_complaint, (int64_t)now) != (int64_t)now)
		log_warnx("access log: the buffer is full; %llu record%s dropped since the log became unwritable",
		    (unsigned long long)dropped, dropped == 1 ? "" : "s");
}

static _Thread_local struct jsonw tl_w; /* per event loop: no allocation once warm, no lock */

void
accesslog_thread_release(void)
{
	jsonw_release(&tl_w);
}

/*
 * Formats r's record into this thread's buffer and queues it. Returns its
 * ticket, 0 when it could not be queued. Any event loop thread may call it.
 */
static uint64_t
submit(struct accesslog *a, const struct accesslog_call *r)
{
	struct jsonw *w = &tl_w;
	struct accesslog_recovery rec = { 0 };
	struct accesslog_health h;
	bool healthy = accesslog_healthy(a);
	int64_t since;
	uint64_t ticket;

	if (!a->started && !writer_start(a, ACCESSLOG_DEFAULT_BUFFER))
		return 0;
	since = atomic_load(&a->degraded_since_ms);
	if (!healthy && since == 0) {
		accesslog_health(a, &h);
		since = h.since_ms ? h.since_ms : now_ms();
		atomic_compare_exchange_strong(&a->degraded_since_ms, &(int64_t){ 0 }, since);
	}
	/* The first record after the log became writable again says what happened meanwhile (one thread wins). */
	if (healthy && since != 0 && atomic_compare_exchange_strong(&a->degraded_since_ms, &since, 0)) {
		rec.present = true;
		rec.dropped = atomic_exchange(&a->dropped, 0);
		rec.since_ms = since;
	}
	jsonw_reset(w);
	format_record(w, r, &rec);
	if (w->failed) {
		log_warnx("access log: could not format a record (out of memory)");
		return 0;
	}
	if ((ticket = enqueue(a, ENTRY_DATA, w->buf, w->len)) == 0) {
		if (rec.present) /* the recovery report goes on the next record that fits */
			atomic_store(&a->degraded_since_ms, rec.since_ms);
		else
			atomic_compare_exchange_strong(&a->degraded_since_ms, &(int64_t){ 0 }, now_ms());
		count_drop(a);
		return 0;
	}
	if (rec.present && rec.dropped > 0)
		log_warnx("access log: writable again; %llu record%s were dropped meanwhile",
		    (unsigned long long)rec.dropped, rec.dropped == 1 ? "" : "s");
	return ticket;
}

void
accesslog_write(struct accesslog *a, const struct accesslog_call *call)
{
	submit(a, call);
}

enum accesslog_queued
accesslog_write_wait(struct accesslog *a, struct event_base *base, const struct accesslog_call *call,
    struct accesslog_wait *w)
{
	struct accesslog_waitq *q;
	uint64_t ticket;

	w->q = NULL;
	if (a->sync != ACCESSLOG_SYNC_EVERY_CALL)
		return submit(a, call) != 0 ? ACCESSLOG_QUEUED : ACCESSLOG_DROPPED;
	if ((q = waitq_get(a, base)) == NULL || (ticket = submit(a, call)) == 0)
		return ACCESSLOG_DROPPED;
	w->ticket = ticket;
	w->q = q;
	TAILQ_INSERT_TAIL(&q->waits, w, link);
	atomic_store(&q->has_waits, true);
	/* Published already (before has_waits was set)? Then no wake-up comes: look on the next loop turn. */
	if (atomic_load(&a->durable_ticket) >= ticket || atomic_load(&a->failed_ticket) >= ticket)
		event_active(q->ev, EV_READ, 0);
	return ACCESSLOG_WAITING;
}

/* Before the writer thread starts (chain_resume): one write(2), retried only on EINTR or a short write. */
static bool
write_all(struct accesslog *a, const char *buf, size_t len)
{
	ssize_t n;
	size_t off = 0;
	time_t now;

	while (off < len) {
		n = write(a->fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			now = time(NULL);
			if (now != a->last_complaint) {
				a->last_complaint = now;
				log_warn("access log write failed");
			}
			a->bytes += off;
			return false;
		}
		off += (size_t)n;
	}
	a->bytes += len;
	return true;
}

void
accesslog_stats(struct accesslog *a, struct accesslog_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (a == NULL)
		return;
	st->queued_bytes = atomic_load_explicit(&a->used, memory_order_relaxed);
	st->buffer_bytes = a->cap;
	st->write_errors = atomic_load_explicit(&a->write_errors, memory_order_relaxed);
	st->digests = atomic_load_explicit(&a->digests, memory_order_relaxed);
	st->healthy = accesslog_healthy(a);
}

#include "proxy/audit/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "proxy/audit/ids.h"
#include "proxy/audit/jsonw.h"
#include "filters/base/log.h"
#include "proxy/audit/syslog_sink.h"
#include "proxy/audit/logchain.h"

/*
 * Threads. The event loop formats and seals every line (cheap, and the chain
 * must follow the order calls finished in) and appends it to a bounded byte
 * ring; one writer thread drains the ring with write(2). Rotation and reopen
 * travel through the same ring as marker entries, so the writer performs them
 * exactly between the records that came before and after: nothing is lost or
 * written twice. The chain advances only for lines the ring accepted.
 *
 * A failing write(2) (ENOSPC, EACCES, EIO ...) keeps its bytes in the ring and
 * is retried every ACCESSLOG_RETRY_MS; meanwhile the log is "unhealthy" and,
 * unless access_log.fail_open, calls are refused (request_decide()).
 */
#define ACCESSLOG_LINGER_MS 1 /* how long the writer waits for more records before sleeping */
#define ACCESSLOG_RETRY_MS 200	     /* between attempts to write after a failure */
#define ACCESSLOG_DRAIN_MS 3000	     /* the longest a graceful stop waits for the ring to drain */
#define ACCESSLOG_BATCH_BYTES 65536  /* the writer writes up to this much per write(2) */
#define ACCESSLOG_DEFAULT_BUFFER 4194304
#define ACCESSLOG_HIGH_WATER(cap) ((cap) / 4 * 3) /* above it the log counts as unhealthy */

enum entry_type {
	ENTRY_DATA,   /* bytes to append */
	ENTRY_REOPEN, /* SIGUSR1: open the path again */
	ENTRY_ROTATE, /* max_bytes: rename the path to the payload, then open the path again */
};

struct entry_hdr {
	uint32_t len;  /* payload bytes that follow */
	uint32_t type; /* enum entry_type */
};

struct accesslog {
	/* Event loop only. */
	bool owns_fd;
	struct jsonw w;	    /* reused for every record: no allocation once warm */
	time_t last_complaint;
	char *path;		/* owned; NULL for standard output */
	struct logchain *chain; /* owned: every record is chained (proxy/audit/logchain.h) */
	uint64_t bytes;		/* bytes queued for the current file, for max_bytes */
	uint64_t max_bytes;	/* 0: no size rotation */
	uint32_t digest_every_records, digest_every_seconds;
	uint64_t digest_seq;	/* last record covered by a digest */
	time_t digest_time;	/* when the last digest was queued (or the log opened) */
	bool fail_open;
	struct syslog_sink *syslog; /* owned; NULL without access_log.syslog */
	time_t last_syslog_complaint;
	uint64_t dropped;	  /* records the full ring refused since the log became unhealthy */
	int64_t degraded_since_ms; /* when this loop first saw the log unhealthy; 0: it has not */
	time_t last_drop_complaint;

	/* Writer thread only (and open/close, before and after it runs). */
	int fd;
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
	_Atomic size_t used;
	_Atomic bool write_ok;	   /* the last write(2) succeeded */
	_Atomic bool rotate_failed; /* the writer could not rename: stop size rotation */
	_Atomic int inject_errno;  /* tests: fail every write(2) with this */
	int fail_errno;		   /* under mu: why the log is unwritable */
	int64_t fail_since_ms;	   /* under mu: since when (Unix ms) */
};

/* What the first record after an unwritable spell reports (guard.logRecovery). */
struct accesslog_recovery {
	bool present;
	uint64_t dropped;
	int64_t since_ms;
};

static bool write_all(struct accesslog *a, const char *buf, size_t len);

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

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
	a->fd = -1;
	a->digest_every_records = 1000;
	a->digest_every_seconds = 60;
	a->digest_time = time(NULL);
	atomic_init(&a->used, 0);
	atomic_init(&a->write_ok, true);
	atomic_init(&a->rotate_failed, false);
	atomic_init(&a->inject_errno, 0);
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

/* Queues one entry. Returns false, queuing nothing, when the ring lacks room for all of it. */
static bool
enqueue(struct accesslog *a, enum entry_type type, const char *buf, size_t len)
{
	struct entry_hdr h = { .len = (uint32_t)len, .type = type };
	bool ok = false;

	if (!a->started || len > UINT32_MAX)
		return false;
	pthread_mutex_lock(&a->mu);
	if (!a->stopping && sizeof(h) + len <= a->cap - atomic_load(&a->used)) {
		/*
		 * Wake the writer only when it sleeps for good (writer_idle, under
		 * `mu`); lingering or busy, it takes everything queued meanwhile in
		 * its next batch. A wake-up per record cost several us per call.
		 */
		ring_put(a, &h, sizeof(h));
		ring_put(a, buf, len);
		atomic_fetch_add(&a->used, sizeof(h) + len);
		if (a->writer_idle)
			pthread_cond_signal(&a->cv);
		ok = true;
	}
	pthread_mutex_unlock(&a->mu);
	return ok;
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
writer_failed(struct accesslog *a, int err)
{
	bool was_ok;

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
		log_warn("access log cannot be written (retrying every %d ms; records wait in the buffer)",
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

/* Writes all of buf, retrying failures until it succeeds. False only when the daemon gave up waiting. */
static bool
writer_write(struct accesslog *a, const char *buf, size_t len)
{
	struct timespec ts;
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
			if (!atomic_load(&a->write_ok))
				writer_recovered(a);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		writer_failed(a, n < 0 ? errno : EIO);
		pthread_mutex_lock(&a->mu);
		deadline_after(&ts, ACCESSLOG_RETRY_MS);
		while (!a->abandon && pthread_cond_timedwait(&a->cv, &a->mu, &ts) != ETIMEDOUT)
			;
		err = a->abandon;
		pthread_mutex_unlock(&a->mu);
		if (err)
			return false;
	}
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
	close(a->fd);
	a->fd = fd;
	return true;
}

static void
writer_rotate(struct accesslog *a, const char *to)
{
	if (rename(a->path, to) < 0) {
		log_warn("access log: rename %s to %s; size rotation stops", a->path, to);
		atomic_store(&a->rotate_failed, true);
	} else if (!writer_reopen(a)) {
		atomic_store(&a->rotate_failed, true);
	} else {
		log_info("access log rotated to %s", to);
	}
}

static void *
writer_main(void *arg)
{
	struct accesslog *a = arg;
	struct entry_hdr h;
	size_t pos, taken, blen;
	enum entry_type type;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		/*
		 * Linger briefly on an empty ring before sleeping for good: under
		 * load the next records arrive within the linger and go out as one
		 * batch, with no wake-up per record (producers signal only an idle
		 * writer). A record reaches the file at most ACCESSLOG_LINGER_MS late.
		 */
		if (atomic_load(&a->used) == 0 && !a->stopping) {
			struct timespec until;

			deadline_after(&until, ACCESSLOG_LINGER_MS);
			pthread_cond_timedwait(&a->cv, &a->mu, &until);
		}
		while (atomic_load(&a->used) == 0 && !a->stopping) {
			a->writer_idle = true;
			pthread_cond_wait(&a->cv, &a->mu);
			a->writer_idle = false;
		}
		if (atomic_load(&a->used) == 0 || a->abandon)
			break;
		/* One marker, or a run of data entries up to a batch; they stay in the ring until written. */
		pos = a->tail;
		taken = blen = 0;
		type = ENTRY_DATA;
		while (taken < atomic_load(&a->used)) {
			ring_get(a, pos, &h, sizeof(h));
			if (h.type != ENTRY_DATA && taken > 0)
				break;
			if (h.type == ENTRY_DATA && blen > 0 && blen + h.len > ACCESSLOG_BATCH_BYTES)
				break;
			ring_get(a, (pos + sizeof(h)) % a->cap, a->wbuf + blen, h.len);
			blen += h.len;
			taken += sizeof(h) + h.len;
			pos = (pos + sizeof(h) + h.len) % a->cap;
			type = h.type;
			if (type != ENTRY_DATA)
				break;
		}
		pthread_mutex_unlock(&a->mu);
		if (type == ENTRY_DATA) {
			if (!writer_write(a, a->wbuf, blen)) {
				pthread_mutex_lock(&a->mu);
				break;
			}
		} else if (a->path != NULL) {
			a->wbuf[blen] = '\0';
			if (type == ENTRY_ROTATE)
				writer_rotate(a, a->wbuf);
			else if (writer_reopen(a))
				log_info("access log %s reopened", a->path);
		}
		pthread_mutex_lock(&a->mu);
		a->tail = (a->tail + taken) % a->cap;
		atomic_fetch_sub(&a->used, taken);
		if (atomic_load(&a->used) == 0)
			pthread_cond_broadcast(&a->drained);
	}
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
	/* +1: a rotate entry's payload gets a NUL in wbuf */
	if ((a->ring = malloc(cap)) == NULL || (a->wbuf = malloc(cap + 1)) == NULL) {
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
	if (pthread_create(&a->thread, NULL, writer_main, a) != 0) {
		log_warnx("access log: cannot start the writer thread");
		return false;
	}
	a->started = true;
	return true;
}

/* A line that is not a call: {"ddbguardNotice": {"eventTime", "kind", "message"}, "chain": ...}. */
static bool
write_notice(struct accesslog *a, const char *kind, const char *message)
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
	jsonw_object_end(&a->w);
	jsonw_object_end(&a->w);
	jsonw_raw(&a->w, "\n", 1);
	if (a->w.failed || !logchain_seal(a->chain, &a->w) || !enqueue(a, ENTRY_DATA, a->w.buf, a->w.len))
		return false;
	logchain_commit(a->chain);
	a->bytes += a->w.len;
	return true;
}

bool
accesslog_configure(struct accesslog *a, const struct access_log_config *cfg)
{
	char err[512];

	a->max_bytes = a->path ? cfg->max_bytes : 0;
	a->digest_every_records = cfg->digest_every_records;
	a->digest_every_seconds = cfg->digest_every_seconds;
	a->fail_open = cfg->fail_open;
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

/* Queues a signed digest for the last record if there is one not yet covered. */
static void
write_digest(struct accesslog *a, time_t now)
{
	if (!logchain_has_key(a->chain) || logchain_seq(a->chain) == a->digest_seq)
		return;
	jsonw_reset(&a->w);
	if (!logchain_digest(a->chain, &a->w, now)) {
		log_warnx("access log: could not sign a digest");
		return;
	}
	if (!a->started ? write_all(a, a->w.buf, a->w.len) : enqueue(a, ENTRY_DATA, a->w.buf, a->w.len)) {
		a->bytes += a->w.len;
		a->digest_seq = logchain_seq(a->chain);
		a->digest_time = now;
	}
}

void
accesslog_tick(struct accesslog *a)
{
	time_t now = time(NULL);

	if (a != NULL && now - a->digest_time >= (time_t)a->digest_every_seconds)
		write_digest(a, now);
}

void
accesslog_reopen(struct accesslog *a)
{
	if (a == NULL || a->path == NULL)
		return;
	write_digest(a, time(NULL));
	if (!enqueue(a, ENTRY_REOPEN, "", 0)) {
		log_warnx("access log %s: the buffer is full; cannot reopen now (send SIGUSR1 again)", a->path);
		return;
	}
	a->bytes = 0;
	log_info("access log %s: reopen queued; the hash chain continues at seq %llu", a->path,
	    (unsigned long long)logchain_seq(a->chain) + 1);
}

static void
rotate(struct accesslog *a)
{
	char stamp[32], *to;
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (asprintf(&to, "%s.%s.%llu", a->path, stamp, (unsigned long long)logchain_seq(a->chain)) < 0)
		return;
	write_digest(a, now);
	if (enqueue(a, ENTRY_ROTATE, to, strlen(to)))
		a->bytes = 0; /* else: tried again after the next record */
	free(to);
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
		log_warnx("access log: %zu bytes of records could not be written before exit", left);
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

void
accesslog_close(struct accesslog *a)
{
	if (a == NULL)
		return;
	if (a->fd >= 0)
		write_digest(a, time(NULL));
	if (a->started) {
		if (!writer_stop(a))
			return;
		pthread_mutex_destroy(&a->mu);
		pthread_cond_destroy(&a->cv);
		pthread_cond_destroy(&a->drained);
	}
	if (a->owns_fd && a->fd >= 0)
		close(a->fd);
	jsonw_release(&a->w);
	logchain_free(a->chain);
	syslog_sink_free(a->syslog);
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
	return atomic_load(&m->write_ok) && atomic_load(&m->used) < ACCESSLOG_HIGH_WATER(a->cap);
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
	if (!atomic_load(&a->write_ok)) {
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

/* ---- formatting (event loop) ---- */

static void
write_time(struct jsonw *w, const struct timespec *ts)
{
	char buf[40];
	struct tm tm;
	size_t n;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03ldZ", ts->tv_nsec / 1000000);
	jsonw_string(w, "eventTime", buf);
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
static void
count_drop(struct accesslog *a)
{
	time_t now = time(NULL);

	a->dropped++;
	if (now != a->last_drop_complaint) {
		a->last_drop_complaint = now;
		log_warnx("access log: the buffer is full; %llu record%s dropped since the log became unwritable",
		    (unsigned long long)a->dropped, a->dropped == 1 ? "" : "s");
	}
}

void
accesslog_write(struct accesslog *a, const struct accesslog_call *r)
{
	struct accesslog_recovery rec = { 0 };
	struct accesslog_health h;
	bool healthy = accesslog_healthy(a);
	time_t now;

	if (!a->started && !writer_start(a, ACCESSLOG_DEFAULT_BUFFER))
		return;
	if (!healthy && a->degraded_since_ms == 0) {
		accesslog_health(a, &h);
		a->degraded_since_ms = h.since_ms ? h.since_ms : now_ms();
	}
	if (healthy && a->degraded_since_ms != 0) {
		/* The first record after the log became writable again says what happened meanwhile. */
		rec.present = true;
		rec.dropped = a->dropped;
		rec.since_ms = a->degraded_since_ms;
	}
	jsonw_reset(&a->w);
	format_record(&a->w, r, &rec);
	if (a->w.failed || !logchain_seal(a->chain, &a->w)) {
		log_warnx("access log: could not format a record (out of memory)");
		return;
	}
	if (!enqueue(a, ENTRY_DATA, a->w.buf, a->w.len)) {
		if (a->degraded_since_ms == 0)
			a->degraded_since_ms = now_ms();
		count_drop(a); /* not committed: the next record links to the last one queued */
		return;
	}
	logchain_commit(a->chain);
	a->bytes += a->w.len;
	/* The same sealed line to syslog: a non-blocking datagram, never a wait (syslog_sink.h). */
	if (a->syslog != NULL && !syslog_sink_send(a->syslog, a->w.buf, a->w.len))
		syslog_complain(a);
	if (rec.present) {
		if (a->dropped > 0)
			log_warnx("access log: writable again; %llu record%s were dropped meanwhile",
			    (unsigned long long)a->dropped, a->dropped == 1 ? "" : "s");
		a->degraded_since_ms = 0;
		a->dropped = 0;
	}
	if (atomic_load(&a->rotate_failed))
		a->max_bytes = 0; /* do not retry on every record */
	now = time(NULL);
	if (logchain_seq(a->chain) - a->digest_seq >= a->digest_every_records ||
	    now - a->digest_time >= (time_t)a->digest_every_seconds)
		write_digest(a, now);
	if (a->max_bytes != 0 && a->bytes >= a->max_bytes)
		rotate(a);
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

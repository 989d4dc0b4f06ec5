#include "proxy/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

/* --- label values ---------------------------------------------------- */

/* Slot i holds an interned string (strdup'd, never freed) or NULL; 0 is never used (0 means "no label"). */
static _Atomic(const char *) labels[METRICS_MAX_LABELS];
static pthread_mutex_t labels_mu = PTHREAD_MUTEX_INITIALIZER;
static const char label_other[] = "(other)";

static uint64_t
fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static unsigned
label_slot(uint64_t h, unsigned i)
{
	return 1 + (unsigned)((h + i) % (METRICS_MAX_LABELS - 1));
}

/* The index of `s` (interned on first sight); "(other)"'s once the table is full. */
static unsigned
label_index(const char *s)
{
	uint64_t h = fnv(s);
	const char *v;
	unsigned i, k;

	for (i = 0; i < METRICS_MAX_LABELS - 1; i++) {
		k = label_slot(h, i);
		v = atomic_load_explicit(&labels[k], memory_order_acquire);
		if (v == NULL)
			break;
		if (strcmp(v, s) == 0)
			return k;
	}
	pthread_mutex_lock(&labels_mu);
	for (i = 0; i < METRICS_MAX_LABELS - 1; i++) {
		k = label_slot(h, i);
		v = atomic_load_explicit(&labels[k], memory_order_acquire);
		if (v != NULL && strcmp(v, s) == 0)
			break;
		if (v == NULL) {
			/* Keep one slot for "(other)" itself. */
			char *copy = strcmp(s, label_other) == 0 || i < METRICS_MAX_LABELS - 2 ? strdup(s) : NULL;

			if (copy == NULL) {
				pthread_mutex_unlock(&labels_mu);
				return strcmp(s, label_other) == 0 ? 0 : label_index(label_other);
			}
			atomic_store_explicit(&labels[k], copy, memory_order_release);
			break;
		}
	}
	pthread_mutex_unlock(&labels_mu);
	return i < METRICS_MAX_LABELS - 1 ? k : label_index(label_other);
}

/*
 * Per thread: the label strings of recent calls by address (identity names,
 * catalog names), checked with strcmp so a reused address cannot mislabel.
 * Saves hashing and probing on nearly every call.
 */
#define LABEL_CACHE 256
static _Thread_local struct {
	const char *p;
	unsigned idx;
} label_cache[LABEL_CACHE];

static unsigned
label_index_cached(const char *s)
{
	unsigned h = (unsigned)(((uintptr_t)s >> 3) & (LABEL_CACHE - 1)), idx;
	const char *v;

	if (label_cache[h].p == s && label_cache[h].idx != 0 &&
	    (v = atomic_load_explicit(&labels[label_cache[h].idx], memory_order_acquire)) != NULL && strcmp(v, s) == 0)
		return label_cache[h].idx;
	idx = label_index(s);
	label_cache[h].p = s;
	label_cache[h].idx = idx;
	return idx;
}

static const char *
label_text(unsigned i)
{
	const char *v = i > 0 && i < METRICS_MAX_LABELS ? atomic_load_explicit(&labels[i], memory_order_acquire) : NULL;

	return v != NULL ? v : "";
}

/* --- shards ------------------------------------------------------------ */

static const double hist_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
	10 };
#define NBOUNDS (sizeof(hist_bounds) / sizeof(hist_bounds[0]))

enum { HIST_CALL, HIST_UPSTREAM, HIST__COUNT };

struct histogram {
	atomic_uint_fast64_t bucket[NBOUNDS + 1]; /* non-cumulative; the last is +Inf */
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_us;
};

struct series {
	atomic_uint_fast64_t key; /* 0: free */
	atomic_uint_fast64_t val; /* counter, or a gauge as two's complement */
};

struct shard {
	struct shard *next;
	struct series s[METRICS_SHARD_SLOTS];
	struct histogram h[HIST__COUNT];
	atomic_uint_fast64_t lost; /* updates that found the table full */
};

static pthread_mutex_t shards_mu = PTHREAD_MUTEX_INITIALIZER;
static struct shard *shards; /* every thread's, newest first */
static _Thread_local struct shard *mine;

static struct shard *
shard_get(void)
{
	if (mine != NULL)
		return mine;
	if ((mine = calloc(1, sizeof(*mine))) == NULL)
		return NULL;
	pthread_mutex_lock(&shards_mu);
	mine->next = shards;
	shards = mine;
	pthread_mutex_unlock(&shards_mu);
	return mine;
}

/* Single writer: a plain relaxed load and store. */
static void
bump(atomic_uint_fast64_t *v, uint64_t n)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n, memory_order_relaxed);
}

static void
series_add(uint64_t key, int64_t n)
{
	struct shard *sh = shard_get();
	uint64_t h = key * 0x9e3779b97f4a7c15ull;
	unsigned i;

	if (sh == NULL)
		return;
	for (i = 0; i < 64; i++) {
		struct series *s = &sh->s[(h + i) & (METRICS_SHARD_SLOTS - 1)];
		uint64_t k = atomic_load_explicit(&s->key, memory_order_relaxed);

		if (k == key) {
			bump(&s->val, (uint64_t)n);
			return;
		}
		if (k == 0) {
			atomic_store_explicit(&s->val, (uint64_t)n, memory_order_relaxed);
			atomic_store_explicit(&s->key, key, memory_order_release); /* publish after the value */
			return;
		}
	}
	bump(&sh->lost, 1);
}

/*
 * Keys: kind (6 bits, never 0) | four 12-bit label indices | a 3-bit small
 * value (status class for calls).
 */
#define KIND_CALLS (METRIC__COUNT + 1)
static uint64_t
key_of(unsigned kind, unsigned a, unsigned b, unsigned c, unsigned d, unsigned small)
{
	return (uint64_t)kind << 58 | (uint64_t)a << 46 | (uint64_t)b << 34 | (uint64_t)c << 22 | (uint64_t)d << 10 |
	    (uint64_t)small << 7;
}

void
metrics_add(enum metric m, const char *l1, const char *l2, const char *l3, int64_t n)
{
	series_add(key_of((unsigned)m + 1, l1 ? label_index_cached(l1) : 0, l2 ? label_index_cached(l2) : 0,
		       l3 ? label_index_cached(l3) : 0, 0, 0),
	    n);
}

static void
observe(int which, double seconds)
{
	struct shard *sh = shard_get();
	struct histogram *h;
	size_t i;

	if (sh == NULL || seconds < 0)
		return;
	h = &sh->h[which];
	for (i = 0; i < NBOUNDS && seconds > hist_bounds[i]; i++)
		;
	bump(&h->bucket[i], 1);
	bump(&h->count, 1);
	bump(&h->sum_us, (uint64_t)(seconds * 1e6 + 0.5));
}

void
metrics_call(const struct metrics_call *c)
{
	unsigned cls = c->status >= 100 && c->status < 600 ? (unsigned)(c->status / 100) : 0;

	series_add(key_of(KIND_CALLS, label_index_cached(c->identity ? c->identity : "(none)"),
		       label_index_cached(c->action ? c->action : "(unknown)"), label_index_cached(c->table ? c->table : "-"),
		       label_index_cached(c->decision ? c->decision : "(none)"), cls),
	    1);
	observe(HIST_CALL, c->duration_s);
	if (c->upstream_s >= 0)
		observe(HIST_UPSTREAM, c->upstream_s);
	if (c->refusal != NULL)
		metrics_count(METRIC_REFUSALS, c->refusal, 1);
	if (c->rate_limit != NULL)
		metrics_count(METRIC_THROTTLED, c->rate_limit, 1);
}

/* --- readiness --------------------------------------------------------- */

static atomic_uint_fast64_t upstream_ok_ns, upstream_fail_ns;

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
metrics_upstream_seen(bool ok)
{
	atomic_store_explicit(ok ? &upstream_ok_ns : &upstream_fail_ns, mono_ns(), memory_order_relaxed);
}

bool
metrics_upstream_ok(void)
{
	uint64_t ok = atomic_load_explicit(&upstream_ok_ns, memory_order_relaxed);
	uint64_t fail = atomic_load_explicit(&upstream_fail_ns, memory_order_relaxed);

	/* Never tried, or the last exchange succeeded: reachable as far as we know. */
	return fail == 0 || ok > fail;
}

/* --- exposition -------------------------------------------------------- */

struct family {
	const char *name, *type, *help;
	const char *labels[3];
};

/* By kind - 1 (enum metric), then calls. */
static const struct family families[METRIC__COUNT + 1] = {
	[METRIC_REFUSALS] = { "ddbguard_refusals_total", "counter",
	    "Calls not answered by the upstream, by reason (bad_http, denied, rate_limited, upstream_failed, ...).", { "reason" } },
	[METRIC_THROTTLED] = { "ddbguard_throttled_calls_total", "counter",
	    "Calls refused with ThrottlingException, by rate_limits rule.", { "limit" } },
	[METRIC_CONNECTIONS] = { "ddbguard_connections_total", "counter", "Client connections accepted, by listener.",
	    { "listener" } },
	[METRIC_OPEN_CONNECTIONS] = { "ddbguard_open_connections", "gauge", "Client connections open, by listener.",
	    { "listener" } },
	[METRIC_TLS_HANDSHAKES] = { "ddbguard_tls_handshakes_total", "counter",
	    "Client TLS handshakes, by listener and result (ok, failed).", { "listener", "result" } },
	[METRIC_UPSTREAM_ERRORS] = { "ddbguard_upstream_errors_total", "counter",
	    "Upstream exchanges that failed, by kind (connect, tls, timeout, bad_response, truncated).", { "kind" } },
	[METRIC_UPSTREAM_IN_FLIGHT] = { "ddbguard_upstream_calls_in_flight", "gauge",
	    "Calls forwarded and waiting for the upstream's answer.", { NULL } },
	[METRIC_EGRESS_TUNNELS] = { "ddbguard_egress_tunnels_total", "counter",
	    "CONNECT requests on egress listeners, by result (allowed, refused, failed).", { "result" } },
	[METRIC_EGRESS_CERTS_MINTED] = { "ddbguard_egress_certificates_minted_total", "counter",
	    "Certificates minted for egress tunnel names.", { NULL } },
	[METRIC__COUNT] = { "ddbguard_calls_total", "counter",
	    "Calls, by identity, action, table (listed in config \"tables\", else -), decision and status class.",
	    { NULL } },
};

struct agg {
	uint64_t key, val;
};

static int
agg_cmp(const void *a, const void *b)
{
	const struct agg *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

static void
put_label(struct evbuffer *out, bool *first, const char *name, const char *v)
{
	evbuffer_add_printf(out, "%s%s=\"", *first ? "{" : ",", name);
	*first = false;
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(out, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, v, 1);
	}
	evbuffer_add(out, "\"", 1);
}

static void
header(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Sums every shard's series into a sorted array (caller frees). */
static struct agg *
collect(size_t *n_out, uint64_t *lost, struct histogram *hs)
{
	struct agg *tab, *out;
	size_t cap = 1024, n = 0, i, j;
	struct shard *sh;

	memset(hs, 0, sizeof(*hs) * HIST__COUNT);
	pthread_mutex_lock(&shards_mu);
	for (sh = shards; sh != NULL; sh = sh->next)
		cap += METRICS_SHARD_SLOTS;
	tab = calloc(cap * 2, sizeof(*tab));
	for (sh = shards; tab != NULL && sh != NULL; sh = sh->next) {
		*lost += atomic_load_explicit(&sh->lost, memory_order_relaxed);
		for (i = 0; i < HIST__COUNT; i++) {
			for (j = 0; j <= NBOUNDS; j++)
				hs[i].bucket[j] += atomic_load_explicit(&sh->h[i].bucket[j], memory_order_relaxed);
			hs[i].count += atomic_load_explicit(&sh->h[i].count, memory_order_relaxed);
			hs[i].sum_us += atomic_load_explicit(&sh->h[i].sum_us, memory_order_relaxed);
		}
		for (i = 0; i < METRICS_SHARD_SLOTS; i++) {
			uint64_t k = atomic_load_explicit(&sh->s[i].key, memory_order_acquire), h;

			if (k == 0)
				continue;
			for (h = (k * 0x9e3779b97f4a7c15ull) % (cap * 2);; h = (h + 1) % (cap * 2))
				if (tab[h].key == 0 || tab[h].key == k)
					break;
			if (tab[h].key == 0)
				n++;
			tab[h].key = k;
			tab[h].val += atomic_load_explicit(&sh->s[i].val, memory_order_relaxed);
		}
	}
	pthread_mutex_unlock(&shards_mu);
	if (tab == NULL || (out = malloc((n ? n : 1) * sizeof(*out))) == NULL) {
		free(tab);
		*n_out = 0;
		return NULL;
	}
	for (i = 0, j = 0; i < cap * 2; i++)
		if (tab[i].key != 0)
			out[j++] = tab[i];
	free(tab);
	qsort(out, n, sizeof(*out), agg_cmp);
	*n_out = n;
	return out;
}

static void
render_hist(struct evbuffer *out, const char *name, const char *help, const struct histogram *h)
{
	uint64_t cum = 0;
	size_t i;

	header(out, name, "histogram", help);
	for (i = 0; i < NBOUNDS; i++) {
		cum += h->bucket[i];
		evbuffer_add_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, hist_bounds[i], (unsigned long long)cum);
	}
	cum += h->bucket[NBOUNDS];
	evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
	    (unsigned long long)cum, name, (double)h->sum_us / 1e6, name, (unsigned long long)h->count);
}

static void
gauge(struct evbuffer *out, const char *name, const char *help, const char *label, const char *value, double v)
{
	header(out, name, "gauge", help);
	if (label != NULL)
		evbuffer_add_printf(out, "%s{%s=\"%s\"} %.17g\n", name, label, value, v);
	else
		evbuffer_add_printf(out, "%s %.17g\n", name, v);
}

void
metrics_render(struct evbuffer *out, const struct metrics_state *st)
{
	static const char *const classes[] = { "none", "1xx", "2xx", "3xx", "4xx", "5xx" };
	struct histogram hs[HIST__COUNT];
	uint64_t lost = 0;
	size_t n, i, f;
	struct agg *a = collect(&n, &lost, hs);

	for (f = 0; f <= METRIC__COUNT; f++) {
		const struct family *fam = &families[f];

		header(out, fam->name, fam->type, fam->help);
		for (i = 0; i < n; i++) {
			uint64_t k = a[i].key;
			unsigned kind = (unsigned)(k >> 58), l[4] = { (unsigned)(k >> 46) & 4095, (unsigned)(k >> 34) & 4095,
								 (unsigned)(k >> 22) & 4095, (unsigned)(k >> 10) & 4095 };
			bool first = true;

			if (kind != f + 1)
				continue;
			evbuffer_add_printf(out, "%s", fam->name);
			if (kind == KIND_CALLS) {
				unsigned cls = (unsigned)(k >> 7) & 7;

				put_label(out, &first, "identity", label_text(l[0]));
				put_label(out, &first, "action", label_text(l[1]));
				put_label(out, &first, "table", label_text(l[2]));
				put_label(out, &first, "decision", label_text(l[3]));
				put_label(out, &first, "status_class", classes[cls < 6 ? cls : 0]);
			} else {
				for (unsigned j = 0; j < 3 && fam->labels[j] != NULL; j++)
					put_label(out, &first, fam->labels[j], label_text(l[j]));
			}
			if (!first)
				evbuffer_add(out, "}", 1);
			if (strcmp(fam->type, "gauge") == 0)
				evbuffer_add_printf(out, " %lld\n", (long long)(int64_t)a[i].val);
			else
				evbuffer_add_printf(out, " %llu\n", (unsigned long long)a[i].val);
		}
	}
	free(a);
	render_hist(out, "ddbguard_call_duration_seconds", "Time from a call's first byte to its record.",
	    &hs[HIST_CALL]);
	render_hist(out, "ddbguard_upstream_duration_seconds",
	    "Time from forwarding a call to the upstream's complete answer.", &hs[HIST_UPSTREAM]);
	gauge(out, "ddbguard_listeners", "Listeners accepting connections.", NULL, NULL, st->listeners);
	header(out, "ddbguard_upstream_idle_connections", "gauge", "Idle keep-alive connections in the upstream pool.");
	evbuffer_add_printf(out, "ddbguard_upstream_idle_connections{upstream=\"dynamodb\"} %u\n",
	    st->upstream_idle_dynamodb);
	if (st->has_streams)
		evbuffer_add_printf(out, "ddbguard_upstream_idle_connections{upstream=\"streams\"} %u\n",
		    st->upstream_idle_streams);
	if (st->has_egress)
		gauge(out, "ddbguard_egress_certificate_cache_entries", "Minted certificates in the egress cache.", NULL,
		    NULL, (double)st->egress_cached_certs);
	gauge(out, "ddbguard_access_log_queue_bytes", "Access-log bytes waiting for the writer thread.", NULL, NULL,
	    (double)st->log_queued_bytes);
	gauge(out, "ddbguard_access_log_buffer_bytes", "Access-log buffer size (access_log.buffer_bytes).", NULL, NULL,
	    (double)st->log_buffer_bytes);
	gauge(out, "ddbguard_access_log_healthy", "1 while the access log is writable and its buffer below 3/4.", NULL,
	    NULL, st->log_healthy ? 1 : 0);
	header(out, "ddbguard_access_log_write_errors_total", "counter", "Failed access-log writes (each is retried).");
	evbuffer_add_printf(out, "ddbguard_access_log_write_errors_total %llu\n", (unsigned long long)st->log_write_errors);
	header(out, "ddbguard_access_log_digests_total", "counter", "Signed access-log digests written.");
	evbuffer_add_printf(out, "ddbguard_access_log_digests_total %llu\n", (unsigned long long)st->log_digests);
	header(out, "ddbguard_config_reloads_total", "counter", "SIGHUP reloads, by outcome.");
	evbuffer_add_printf(out, "ddbguard_config_reloads_total{outcome=\"accepted\"} %llu\n",
	    (unsigned long long)st->reloads_accepted);
	evbuffer_add_printf(out, "ddbguard_config_reloads_total{outcome=\"refused\"} %llu\n",
	    (unsigned long long)st->reloads_refused);
	gauge(out, "ddbguard_config_info", "The config version in force (guard.policyVersion), as a label.", "version",
	    st->config_version ? st->config_version : "", 1);
	header(out, "ddbguard_metrics_lost_updates_total", "counter",
	    "Metric updates dropped because a thread's series table was full.");
	evbuffer_add_printf(out, "ddbguard_metrics_lost_updates_total %llu\n", (unsigned long long)lost);
}

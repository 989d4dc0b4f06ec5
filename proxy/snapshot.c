#include "proxy/snapshot.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "filters/policy/geoip.h"
#include "proxy/ratelimit.h"
#include "proxy/runtime.h"

struct reload_stats reload_stats;

/* The current snapshot: written under `slot_mu`, its generation readable without it. */
static pthread_mutex_t slot_mu = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot *slot_current;
static atomic_uint_fast64_t slot_generation;

/* --- version --------------------------------------------------------- */

#define VERSION_READ_CHUNK 65536

static void
digest_file(EVP_MD_CTX *md, const char *path)
{
	char buf[VERSION_READ_CHUNK];
	ssize_t n;
	int fd;

	if (path == NULL)
		return;
	/* The name too: pointing at another file with the same bytes is still a change worth a version. */
	EVP_DigestUpdate(md, path, strlen(path) + 1);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		EVP_DigestUpdate(md, "missing", 7);
		return;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(md, buf, (size_t)n);
	close(fd);
}

void
config_version(const char *path, const struct config *cfg, char out[SNAPSHOT_VERSION_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hlen = 0, i;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t k;

	memset(out, '0', SNAPSHOT_VERSION_HEX);
	out[SNAPSHOT_VERSION_HEX] = '\0';
	if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return;
	}
	digest_file(md, path);
	if (cfg != NULL) {
		/* Every file the config names, in a fixed order. */
		for (k = 0; k < cfg->npolicy_files; k++)
			digest_file(md, cfg->policy_files[k]);
		for (k = 0; k < cfg->nlisteners; k++) {
			digest_file(md, cfg->listeners[k].tls_cert);
			digest_file(md, cfg->listeners[k].tls_key);
		}
		digest_file(md, cfg->upstream.ca_file);
		digest_file(md, cfg->egress.ca_cert);
		digest_file(md, cfg->egress.ca_key);
		digest_file(md, cfg->geoip.country_database);
		digest_file(md, cfg->geoip.asn_database);
		digest_file(md, cfg->access_log.signing_key);
	}
	EVP_DigestFinal_ex(md, h, &hlen);
	EVP_MD_CTX_free(md);
	for (i = 0; i < hlen && 2 * i < SNAPSHOT_VERSION_HEX; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
}

/* --- snapshots ------------------------------------------------------- */

struct snapshot *
snapshot_new(const char *path, struct config *cfg, char *err, size_t errlen)
{
	const struct geoip_config *geo = &cfg->geoip;
	struct snapshot *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		config_free(cfg);
		return NULL;
	}
	atomic_init(&s->refs, 1);
	s->cfg = cfg;
	config_version(path, cfg, s->version);
	if ((geo->country_database != NULL || geo->asn_database != NULL) &&
	    (s->geoip = geoip_open(geo->country_database, geo->asn_database, err, errlen)) == NULL) {
		snapshot_unref(s);
		return NULL;
	}
	if (cfg->nrate_limits > 0 && (s->rl = ratelimit_new(cfg->rate_limits, cfg->nrate_limits)) == NULL) {
		snprintf(err, errlen, "out of memory for the rate limit buckets");
		snapshot_unref(s);
		return NULL;
	}
	return s;
}

void
snapshot_ref(struct snapshot *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void
snapshot_unref(struct snapshot *s)
{
	if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	geoip_free(s->geoip);
	ratelimit_free(s->rl);
	config_free(s->cfg);
	free(s);
}

void
snapshot_publish(struct snapshot *s)
{
	struct snapshot *old;

	pthread_mutex_lock(&slot_mu);
	old = slot_current;
	s->generation = atomic_load(&slot_generation) + 1;
	slot_current = s;
	atomic_store_explicit(&slot_generation, s->generation, memory_order_release);
	pthread_mutex_unlock(&slot_mu);
	snapshot_unref(old);
}

struct snapshot *
snapshot_current(void)
{
	struct snapshot *s;

	pthread_mutex_lock(&slot_mu);
	if ((s = slot_current) != NULL)
		snapshot_ref(s);
	pthread_mutex_unlock(&slot_mu);
	return s;
}

void
snapshot_shutdown(void)
{
	struct snapshot *s;

	pthread_mutex_lock(&slot_mu);
	s = slot_current;
	slot_current = NULL;
	pthread_mutex_unlock(&slot_mu);
	snapshot_unref(s);
}

void
snapshot_runtime_sync(struct runtime *rt)
{
	struct snapshot *s, *old;

	if (atomic_load_explicit(&slot_generation, memory_order_acquire) == rt->snap_gen)
		return;
	if ((s = snapshot_current()) == NULL)
		return;
	old = rt->snap;
	rt->snap = s; /* the reference snapshot_current() took */
	rt->snap_gen = s->generation;
	rt->geoip = s->geoip;
	if (old == NULL) {
		runtime_prepare(rt, s->cfg);
	} else {
		/*
		 * A reload: only the HTTP limits can differ (the route's scope is
		 * restart-only), and body_json is left alone: a parse thread
		 * (proxy/offload.h) may be reading it.
		 */
		rt->cfg = s->cfg;
		rt->request_limits.max_header_bytes = s->cfg->limits.max_header_bytes;
		rt->request_limits.max_headers = s->cfg->limits.max_headers;
		rt->request_limits.max_body_bytes = s->cfg->limits.max_body_bytes;
		rt->response_limits.max_body_bytes = s->cfg->limits.max_response_bytes;
	}
	snapshot_unref(old);
}

void
snapshot_call_begin(struct runtime *rt, struct snapshot **call)
{
	snapshot_runtime_sync(rt);
	if (*call == rt->snap)
		return; /* the common case: no reload since this connection's last call */
	snapshot_unref(*call);
	if ((*call = rt->snap) != NULL)
		snapshot_ref(*call);
}


/*
 * broker: credential cache, refresher thread and upstream signing (see
 * broker.h). Locking: one mutex guards every entry; the refresher fetches
 * without holding it (a fetch blocks on the network) and swaps the result in.
 */
#include "proxy/broker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "filters/base/log.h"

#define BROKER_RETRY_MAX_S 30
#define BROKER_STATIC_RECHECK_S 3600 /* long-term keys: nothing to renew */
#define BROKER_TAGS_MAX 50

/* One set of credentials: the base ones (id NULL) or one brokered identity's role. */
struct broker_entry {
	const struct identity *id;
	const char *role_arn;
	struct aws_creds creds; /* valid when `have` */
	bool have;
	time_t fetched;
	time_t next; /* when the refresher looks at it again */
	unsigned failures;
	uint64_t refreshes; /* successful fetches, for the log */
};

struct broker {
	const struct config *cfg;
	struct creds_endpoints ep;
	char sts_default[128];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool running, stop;
	struct broker_entry base;
	struct broker_entry *roles;
	size_t nroles;
};

bool
broker_needed(const struct config *cfg)
{
	for (size_t i = 0; i < identity_set_count(cfg->identities); i++) {
		if (identity_brokered(identity_set_at(cfg->identities, i)))
			return true;
	}
	return false;
}

const char *
broker_account_for(const struct config *cfg, const struct identity *id, char buf[13])
{
	const char *role = identity_broker_role(id), *p;

	if (role != NULL && (p = strstr(role, ":iam::")) != NULL && strlen(p) >= 18) {
		memcpy(buf, p + 6, 12);
		buf[12] = '\0';
		return buf;
	}
	if (cfg->credentials.account_id != NULL)
		return cfg->credentials.account_id;
	return cfg->account_id;
}

struct broker *
broker_new(const struct config *cfg)
{
	const struct credentials_config *cc = &cfg->credentials;
	struct broker *b = calloc(1, sizeof(*b));
	size_t n = identity_set_count(cfg->identities);

	if (b == NULL || (b->roles = calloc(n + 1, sizeof(*b->roles))) == NULL) {
		free(b);
		return NULL;
	}
	b->cfg = cfg;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	snprintf(b->sts_default, sizeof(b->sts_default), "https://sts.%s.amazonaws.com%s",
	    cc->sts_region ? cc->sts_region : cfg->upstream.region ? cfg->upstream.region : "us-east-1",
	    cfg->upstream.partition && strcmp(cfg->upstream.partition, "aws-cn") == 0 ? ".cn" : "");
	b->ep = (struct creds_endpoints){
		.shared_file = cc->shared_file,
		.profile = cc->profile,
		.imds = cc->imds_endpoint,
		.sts = cc->sts_endpoint ? cc->sts_endpoint : b->sts_default,
		.sts_region = cc->sts_region ? cc->sts_region : cfg->upstream.region ? cfg->upstream.region : "us-east-1",
		.ca_file = cc->ca_file,
		.timeout_ms = cc->timeout_ms,
	};
	for (size_t i = 0; i < n; i++) {
		const struct identity *id = identity_set_at(cfg->identities, i);

		if (identity_brokered(id) && identity_broker_role(id) != NULL)
			b->roles[b->nroles++] = (struct broker_entry){ .id = id, .role_arn = identity_broker_role(id) };
	}
	return b;
}

/* The base credentials from the first configured source that has them. */
static bool
broker_fetch_base(struct broker *b, struct aws_creds *out, char *why, size_t whylen)
{
	const struct credentials_config *cc = &b->cfg->credentials;
	char one[256];
	size_t n = 0;

	why[0] = '\0';
	for (size_t i = 0; i < cc->nsources; i++) {
		bool ok = false;

		switch (cc->sources[i]) {
		case CREDS_SOURCE_ENVIRONMENT: ok = creds_from_environment(out, one, sizeof(one)); break;
		case CREDS_SOURCE_SHARED_FILE: ok = creds_from_shared_file(&b->ep, out, one, sizeof(one)); break;
		case CREDS_SOURCE_IMDS: ok = creds_from_imds(&b->ep, out, one, sizeof(one)); break;
		}
		if (ok) {
			if (cc->account_id != NULL)
				snprintf(out->account, sizeof(out->account), "%s", cc->account_id);
			return true;
		}
		n += (size_t)snprintf(why + n, n < whylen ? whylen - n : 0, "%s%s", n ? "; " : "", one);
	}
	return false;
}

/* When to look at an entry again: before expiry by refresh_before_s, at most half its lifetime. */
static time_t
broker_next(const struct broker *b, const struct broker_entry *e, time_t now)
{
	time_t life, before;

	if (!e->have) {
		unsigned shift = e->failures < 5 ? e->failures : 5;
		time_t wait = (time_t)1 << shift;

		return now + (wait < BROKER_RETRY_MAX_S ? wait : BROKER_RETRY_MAX_S);
	}
	if (e->creds.expiry == 0)
		return now + BROKER_STATIC_RECHECK_S;
	life = e->creds.expiry - e->fetched;
	before = (time_t)b->cfg->credentials.refresh_before_s;
	if (before > life / 2)
		before = life / 2;
	return e->creds.expiry - before;
}

/* Refreshes `e` (the lock is held on entry and exit, released while fetching). */
static void
broker_refresh(struct broker *b, struct broker_entry *e)
{
	struct aws_creds fresh, base;
	struct creds_tag tags[BROKER_TAGS_MAX];
	char why[1024];
	bool ok;
	time_t now;

	if (e->id != NULL) {
		if (!b->base.have) {
			e->failures++;
			e->next = broker_next(b, e, time(NULL));
			return;
		}
		base = b->base.creds;
	}
	pthread_mutex_unlock(&b->mu);
	if (e->id == NULL) {
		ok = broker_fetch_base(b, &fresh, why, sizeof(why));
	} else {
		size_t nt = identity_tag_count(e->id);

		if (nt > BROKER_TAGS_MAX)
			nt = BROKER_TAGS_MAX;
		for (size_t i = 0; i < nt; i++)
			identity_tag_at(e->id, i, &tags[i].key, &tags[i].value);
		ok = creds_assume_role(&b->ep, &base, e->role_arn, identity_name(e->id), tags, nt,
		    b->cfg->credentials.session_duration_s, &fresh, why, sizeof(why));
		creds_wipe(&base);
	}
	pthread_mutex_lock(&b->mu);
	now = time(NULL);
	if (ok) {
		creds_wipe(&e->creds);
		e->creds = fresh;
		e->have = true;
		e->fetched = now;
		e->failures = 0;
		e->refreshes++;
		log_info("broker: %s%s credentials from %s (key %s, %s %lld s)", e->id ? "identity " : "base",
		    e->id ? identity_name(e->id) : "", fresh.source, fresh.akid,
		    fresh.expiry ? "expiring in" : "not expiring, next look in",
		    (long long)(fresh.expiry ? fresh.expiry - now : BROKER_STATIC_RECHECK_S));
	} else {
		e->failures++;
		/* Keep what we have while it is valid: a failed renewal does not cut calls off early. */
		if (e->have && e->creds.expiry != 0 && now >= e->creds.expiry) {
			creds_wipe(&e->creds);
			e->have = false;
		}
		log_warnx("broker: cannot get %s%s credentials: %s", e->id ? "identity " : "base ",
		    e->id ? identity_name(e->id) : "", why);
	}
	creds_wipe(&fresh);
	OPENSSL_cleanse(why, sizeof(why));
	e->next = broker_next(b, e, now);
}

static void *
broker_thread(void *arg)
{
	struct broker *b = arg;

	pthread_mutex_lock(&b->mu);
	while (!b->stop) {
		time_t now = time(NULL), next = now + BROKER_STATIC_RECHECK_S;
		struct timespec until = { 0 };

		if (b->base.next <= now)
			broker_refresh(b, &b->base);
		for (size_t i = 0; i < b->nroles && !b->stop; i++) {
			/* Roles are signed for with the base credentials: renew them once those are renewed. */
			if (b->roles[i].next <= time(NULL))
				broker_refresh(b, &b->roles[i]);
		}
		if (b->base.next < next)
			next = b->base.next;
		for (size_t i = 0; i < b->nroles; i++) {
			if (b->roles[i].next < next)
				next = b->roles[i].next;
		}
		if (b->stop)
			break;
		until.tv_sec = next > time(NULL) ? next : time(NULL) + 1;
		pthread_cond_timedwait(&b->cv, &b->mu, &until);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

bool
broker_start(struct broker *b)
{
	int rc;

	pthread_mutex_lock(&b->mu);
	broker_refresh(b, &b->base);
	for (size_t i = 0; i < b->nroles; i++)
		broker_refresh(b, &b->roles[i]);
	pthread_mutex_unlock(&b->mu);
	/* pthread_cond_timedwait uses CLOCK_REALTIME by default: the expiries are wall-clock times too. */
	if ((rc = pthread_create(&b->thread, NULL, broker_thread, b)) != 0) {
		log_warnx("broker: cannot start the refresher thread: %s", strerror(rc));
		return false;
	}
	b->running = true;
	return true;
}

void
broker_free(struct broker *b)
{
	if (b == NULL)
		return;
	if (b->running) {
		pthread_mutex_lock(&b->mu);
		b->stop = true;
		pthread_cond_signal(&b->cv);
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->thread, NULL);
	}
	creds_wipe(&b->base.creds);
	for (size_t i = 0; i < b->nroles; i++)
		creds_wipe(&b->roles[i].creds);
	free(b->roles);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

/* Copies the credentials for `id` if valid now (the caller wipes them). */
static bool
broker_copy(struct broker *b, const struct identity *id, struct aws_creds *out)
{
	struct broker_entry *e = &b->base;
	bool ok;
	time_t now = time(NULL);

	pthread_mutex_lock(&b->mu);
	for (size_t i = 0; i < b->nroles; i++) {
		if (b->roles[i].id == id)
			e = &b->roles[i];
	}
	ok = e->have && (e->creds.expiry == 0 || now < e->creds.expiry);
	if (ok)
		*out = e->creds;
	else if (e->have)
		pthread_cond_signal(&b->cv); /* expired and not renewed: wake the refresher */
	pthread_mutex_unlock(&b->mu);
	return ok;
}

static const struct sigv4_header *
broker_find(const struct sigv4_header *h, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++) {
		if (h[i].name_len == len && strncasecmp(h[i].name, name, len) == 0)
			return &h[i];
	}
	return NULL;
}

enum broker_result
broker_sign(struct broker *b, const struct identity *id, const char *host, size_t host_len, const char *region,
    const struct sigv4_header *headers, size_t nheaders, const void *body, size_t body_len,
    struct broker_signature *out, char *why, size_t whylen)
{
	struct aws_creds cr;
	struct sigv4_header h[5];
	const struct sigv4_header *ct = broker_find(headers, nheaders, "content-type");
	const struct sigv4_header *tg = broker_find(headers, nheaders, "x-amz-target");
	struct sigv4_request sr = { .method = "POST", .path = "/", .path_len = 1, .query = "", .headers = h,
		.body = body, .body_len = body_len };
	struct sigv4_credentials sc;
	char amz_date[17], authz[1024], signed_headers[96] = "";
	time_t now = time(NULL);
	int n;

	if (!broker_copy(b, id, &cr)) {
		snprintf(why, whylen, "the credential broker has no valid AWS credentials for %s yet (see the "
		    "gateway's diagnostics)", identity_broker_role(id) ? "this identity's role" : "the gateway");
		return BROKER_NO_CREDENTIALS;
	}
	sigv4_amz_date(now, amz_date);
	/* Sorted by name, as SignedHeaders must be. */
	if (ct != NULL) {
		h[sr.nheaders++] = *ct;
		strcat(signed_headers, "content-type;");
	}
	h[sr.nheaders++] = (struct sigv4_header){ "host", 4, host, host_len };
	strcat(signed_headers, "host;");
	h[sr.nheaders++] = (struct sigv4_header){ "x-amz-date", 10, amz_date, 16 };
	strcat(signed_headers, "x-amz-date");
	if (cr.token[0] != '\0') {
		h[sr.nheaders++] = (struct sigv4_header){ "x-amz-security-token", 20, cr.token, strlen(cr.token) };
		strcat(signed_headers, ";x-amz-security-token");
	}
	if (tg != NULL) {
		h[sr.nheaders++] = *tg;
		strcat(signed_headers, ";x-amz-target");
	}
	sc = (struct sigv4_credentials){ cr.akid, cr.secret, cr.token[0] ? cr.token : NULL };
	if (!sigv4_sign(&sr, signed_headers, &sc, region, "dynamodb", now, authz, sizeof(authz))) {
		creds_wipe(&cr);
		snprintf(why, whylen, "the call could not be signed for the upstream");
		return BROKER_FAILED;
	}
	n = snprintf(out->headers, sizeof(out->headers), "X-Amz-Date: %s\r\n%s%s%sAuthorization: %s\r\n", amz_date,
	    cr.token[0] ? "X-Amz-Security-Token: " : "", cr.token, cr.token[0] ? "\r\n" : "", authz);
	out->len = n > 0 && (size_t)n < sizeof(out->headers) ? (size_t)n : 0;
	out->type = cr.type;
	snprintf(out->arn, sizeof(out->arn), "%s", cr.arn);
	snprintf(out->account, sizeof(out->account), "%s", cr.account);
	creds_wipe(&cr);
	OPENSSL_cleanse(authz, sizeof(authz));
	if (out->len == 0) {
		snprintf(why, whylen, "the call could not be signed for the upstream");
		return BROKER_FAILED;
	}
	return BROKER_OK;
}

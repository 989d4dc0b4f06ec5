/* logchain: hash chain and signed digests over access-log records. See logchain.h for the format. */
#include "proxy/audit/logchain.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "proxy/audit/jsonw.h"

#define CHAIN_MARK      ",\"chain\":{\"seq\":"
#define ED25519_SIG_LEN 64

struct logchain {
	EVP_MD *sha256; /* fetched once (EVP_MD_fetch): no provider lookup per record */
	EVP_MD_CTX *md; /* reused for every record */
	uint64_t seq;   /* last committed record; 0 before the first */
	char hash[LOGCHAIN_HEX_LEN + 1];
	uint64_t pending_seq;
	char pending_hash[LOGCHAIN_HEX_LEN + 1];
	EVP_PKEY *key; /* owned; NULL: digests are written unsigned */
	char key_id[LOGCHAIN_KEYID_HEX_LEN + 1];
	uint64_t dseq;			  /* digests written in this digest chain */
	char dlast[LOGCHAIN_HEX_LEN + 1]; /* digest hash of the last one; zeros before the first */
};

static const char zeros[LOGCHAIN_HEX_LEN + 1] = "0000000000000000000000000000000000000000000000000000000000000000";

struct logchain *
logchain_new(void)
{
	struct logchain *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if ((c->md = EVP_MD_CTX_new()) == NULL || (c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		EVP_MD_CTX_free(c->md);
		free(c);
		return NULL;
	}
	memcpy(c->hash, zeros, sizeof(zeros));
	memcpy(c->dlast, zeros, sizeof(zeros));
	return c;
}

void
logchain_free(struct logchain *c)
{
	if (c == NULL)
		return;
	EVP_MD_CTX_free(c->md);
	EVP_MD_free(c->sha256);
	EVP_PKEY_free(c->key);
	free(c);
}

uint64_t
logchain_seq(const struct logchain *c)
{
	return c->seq;
}

const char *
logchain_last_hash(const struct logchain *c)
{
	return c->hash;
}

void
logchain_set_state(struct logchain *c, uint64_t seq, const char *hash_hex)
{
	c->seq = seq;
	memcpy(c->hash, hash_hex ? hash_hex : zeros, LOGCHAIN_HEX_LEN);
	c->hash[LOGCHAIN_HEX_LEN] = '\0';
}

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool
is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < LOGCHAIN_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* decimal(v) into out (at least 21 bytes, not NUL-terminated); returns its length. */
static size_t
u64_dec(uint64_t v, char *out)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

/* SHA-256(prefix || decimal(seq) || prev) as hex. */
static bool
chain_hash(struct logchain *c, const char *prefix, size_t n, uint64_t seq, const char *prev,
    char out[LOGCHAIN_HEX_LEN + 1])
{
	EVP_MD_CTX *md = c->md;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	char num[24];
	size_t nl = u64_dec(seq, num);

	if (EVP_DigestInit_ex(md, c->sha256, NULL) != 1 || EVP_DigestUpdate(md, prefix, n) != 1 ||
	    EVP_DigestUpdate(md, num, nl) != 1 || EVP_DigestUpdate(md, prev, LOGCHAIN_HEX_LEN) != 1 ||
	    EVP_DigestFinal_ex(md, d, &dlen) != 1 || dlen != 32)
		return false;
	hex(d, 32, out);
	return true;
}

bool
logchain_seal(struct logchain *c, struct jsonw *w)
{
	return logchain_seal_at(c, w, 0);
}

bool
logchain_seal_at(struct logchain *c, struct jsonw *w, size_t start)
{
	static const char k_prev[] = ",\"prev\":\"", k_hash[] = "\",\"hash\":\"", k_end[] = "\"}}\n";
	char tail[64 + 2 * LOGCHAIN_HEX_LEN + 24], *p;
	const char *b = w->buf + start;
	size_t len = w->len - start;

	if (w->failed || w->len < start + 4 || b[0] != '{' || b[len - 1] != '\n' || b[len - 2] != '}' ||
	    b[len - 3] == '{')
		return false;
	w->len -= 2;
	jsonw_raw(w, ",", 1);
	if (w->failed)
		return false;
	c->pending_seq = c->seq + 1;
	if (!chain_hash(c, w->buf + start, w->len - start, c->pending_seq, c->hash, c->pending_hash))
		return false;
	/* "chain":{"seq":N,"prev":"...","hash":"..."}} and '\n', without printf */
	p = tail;
	memcpy(p, "\"chain\":{\"seq\":", 15);
	p += 15;
	p += u64_dec(c->pending_seq, p);
	memcpy(p, k_prev, sizeof(k_prev) - 1);
	p += sizeof(k_prev) - 1;
	memcpy(p, c->hash, LOGCHAIN_HEX_LEN);
	p += LOGCHAIN_HEX_LEN;
	memcpy(p, k_hash, sizeof(k_hash) - 1);
	p += sizeof(k_hash) - 1;
	memcpy(p, c->pending_hash, LOGCHAIN_HEX_LEN);
	p += LOGCHAIN_HEX_LEN;
	memcpy(p, k_end, sizeof(k_end) - 1);
	p += sizeof(k_end) - 1;
	jsonw_raw(w, tail, (size_t)(p - tail));
	return !w->failed;
}

void
logchain_commit(struct logchain *c)
{
	c->seq = c->pending_seq;
	memcpy(c->hash, c->pending_hash, sizeof(c->hash));
}

static const char *
find_last(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle), i;

	if (n < m)
		return NULL;
	for (i = n - m + 1; i-- > 0;)
		if (memcmp(hay + i, needle, m) == 0)
			return hay + i;
	return NULL;
}

bool
logchain_parse_record(struct logchain *c, const char *line, size_t len, struct logchain_link *link)
{
	const char *m, *p, *end = line + len;
	uint64_t seq = 0;

	memset(link, 0, sizeof(*link));
	if (len < 2 || line[0] != '{' || (m = find_last(line, len, CHAIN_MARK)) == NULL)
		return false;
	p = m + strlen(CHAIN_MARK);
	if (p >= end || *p < '1' || *p > '9')
		return false;
	while (p < end && *p >= '0' && *p <= '9') {
		if (seq > (UINT64_MAX - 9) / 10)
			return false;
		seq = seq * 10 + (uint64_t)(*p++ - '0');
	}
	/* ,"prev":"<64>","hash":"<64>"}} */
	if ((size_t)(end - p) != 9 + 64 + 10 + 64 + 3 || memcmp(p, ",\"prev\":\"", 9) != 0 || !is_hex64(p + 9) ||
	    memcmp(p + 73, "\",\"hash\":\"", 10) != 0 || !is_hex64(p + 83) || memcmp(p + 147, "\"}}", 3) != 0)
		return false;
	link->seq = seq;
	memcpy(link->prev, p + 9, 64);
	memcpy(link->hash, p + 83, 64);
	link->chain_start = len > 14 && memcmp(line, "{\"chainStart\":", 14) == 0;
	return chain_hash(c, line, (size_t)(m + 1 - line), seq, link->prev, link->computed);
}

static bool
is_digest_line(const char *line, size_t len)
{
	static const char pfx[] = "{\"ddbguardDigest\":";

	return len >= sizeof(pfx) - 1 && memcmp(line, pfx, sizeof(pfx) - 1) == 0;
}

enum logchain_resume
logchain_resume_fd(struct logchain *c, int fd, bool *partial, char *why, size_t whylen)
{
	struct stat st;
	size_t n, end, start;
	off_t off;
	char *buf;
	ssize_t r;
	struct logchain_link link;
	enum logchain_resume res = LOGCHAIN_RESUME_BROKEN;

	*partial = false;
	if (fstat(fd, &st) < 0) {
		snprintf(why, whylen, "fstat: %s", strerror(errno));
		return LOGCHAIN_RESUME_ERROR;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return LOGCHAIN_RESUME_EMPTY;
	n = (uint64_t)st.st_size > LOGCHAIN_RESUME_MAX ? LOGCHAIN_RESUME_MAX : (size_t)st.st_size;
	off = st.st_size - (off_t)n;
	if ((buf = malloc(n)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return LOGCHAIN_RESUME_ERROR;
	}
	for (size_t got = 0; got < n; got += (size_t)r) {
		r = pread(fd, buf + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR) {
			r = 0;
			continue;
		}
		if (r <= 0) {
			snprintf(why, whylen, "read: %s", r < 0 ? strerror(errno) : "short read");
			free(buf);
			return LOGCHAIN_RESUME_ERROR;
		}
	}
	end = n;
	if (buf[end - 1] != '\n') {
		*partial = true;
		snprintf(why, whylen, "the file ends in a partial line");
		goto out;
	}
	/*
	 * Walk complete lines backwards: the last record sets the record chain,
	 * the last digest line (before or after it) the digest chain.
	 */
	bool have_digest = false, have_record = false;
	struct logchain_digest_fields df;

	while (end > 0 && !(have_record && have_digest)) {
		end--; /* at the '\n' ending the line */
		start = end;
		while (start > 0 && buf[start - 1] != '\n')
			start--;
		if (start == 0 && off > 0)
			break; /* a line cut by the window: unknown */
		if (is_digest_line(buf + start, end - start)) {
			if (!have_digest && logchain_parse_digest(c, buf + start, end - start, &df)) {
				c->dseq = df.dseq;
				memcpy(c->dlast, df.digest_hash, sizeof(c->dlast));
			}
			have_digest = true; /* an unparsable one (older version): the digest chain starts over */
			end = start;
			continue;
		}
		if (have_record) {
			end = start;
			continue;
		}
		have_record = true;
		if (!logchain_parse_record(c, buf + start, end - start, &link)) {
			snprintf(why, whylen, "the last line is not a chained record");
			goto out;
		} else if (memcmp(link.hash, link.computed, LOGCHAIN_HEX_LEN) != 0) {
			snprintf(why, whylen, "the last record (seq %" PRIu64 ") does not match its hash", link.seq);
			goto out;
		}
		logchain_set_state(c, link.seq, link.hash);
		res = LOGCHAIN_RESUME_CONTINUE;
		end = start;
	}
	if (!have_record && off > 0)
		snprintf(why, whylen, "no record in the last %u bytes", LOGCHAIN_RESUME_MAX);
	else if (!have_record)
		res = LOGCHAIN_RESUME_EMPTY; /* only digest lines */
out:
	free(buf);
	return res;
}

/* --- digests ------------------------------------------------------ */

bool
logchain_key_id(EVP_PKEY *key, char out[LOGCHAIN_KEYID_HEX_LEN + 1])
{
	unsigned char raw[64], d[32];
	size_t rawlen = sizeof(raw);

	if (EVP_PKEY_get_raw_public_key(key, raw, &rawlen) != 1 ||
	    EVP_Digest(raw, rawlen, d, NULL, EVP_sha256(), NULL) != 1)
		return false;
	hex(d, 16, out);
	return true;
}

bool
logchain_load_key(struct logchain *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL || EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		snprintf(err, errlen, "%s: not a PEM Ed25519 private key", path);
		EVP_PKEY_free(k);
		ERR_clear_error();
		return false;
	}
	if (!logchain_key_id(k, c->key_id)) {
		snprintf(err, errlen, "%s: cannot derive the public key", path);
		EVP_PKEY_free(k);
		return false;
	}
	EVP_PKEY_free(c->key);
	c->key = k;
	return true;
}

bool
logchain_has_key(const struct logchain *c)
{
	return c->key != NULL;
}

uint64_t
logchain_digest_seq(const struct logchain *c)
{
	return c->dseq;
}

const char *
logchain_digest_last(const struct logchain *c)
{
	return c->dlast;
}

static const char *const end_names[] = { "-", "rotate", "final" };

size_t
logchain_digest_message(char *buf, size_t n, const struct logchain_digest_fields *d)
{
	int r = snprintf(buf, n, LOGCHAIN_DIGEST_PREFIX "%" PRIu64 "\n%" PRIu64 "\n%s\n%s\n%" PRIu32 "\n%s\n%s", d->dseq,
	    d->seq, d->hash, d->time, d->interval, d->prev, end_names[d->end]);

	return r < 0 || (size_t)r >= n ? 0 : (size_t)r;
}

static bool
message_hash(struct logchain *c, const char *msg, size_t mlen, char out[LOGCHAIN_HEX_LEN + 1])
{
	unsigned char d[32];

	if (EVP_Digest(msg, mlen, d, NULL, c->sha256, NULL) != 1)
		return false;
	hex(d, 32, out);
	return true;
}

bool
logchain_digest(struct logchain *c, struct jsonw *w, time_t now, uint32_t interval, enum logchain_end end)
{
	char msg[512], b64[4 * ((ED25519_SIG_LEN + 2) / 3) + 1];
	unsigned char sig[ED25519_SIG_LEN];
	size_t siglen = sizeof(sig), mlen;
	struct logchain_digest_fields d;
	struct tm tm;
	EVP_MD_CTX *sctx;
	bool ok;

	memset(&d, 0, sizeof(d));
	d.dseq = c->dseq + 1;
	d.seq = c->seq;
	d.interval = interval;
	d.end = end;
	memcpy(d.hash, c->hash, sizeof(d.hash));
	memcpy(d.prev, c->dlast, sizeof(d.prev));
	gmtime_r(&now, &tm);
	strftime(d.time, sizeof(d.time), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if ((mlen = logchain_digest_message(msg, sizeof(msg), &d)) == 0 || !message_hash(c, msg, mlen, d.digest_hash))
		return false;
	if (c->key != NULL) {
		/* Ed25519 has no streaming mode: a fresh context per digest (rare: not per record). */
		if ((sctx = EVP_MD_CTX_new()) == NULL)
			return false;
		ok = EVP_DigestSignInit(sctx, NULL, NULL, NULL, c->key) == 1 &&
		     EVP_DigestSign(sctx, sig, &siglen, (const unsigned char *)msg, mlen) == 1 && siglen == sizeof(sig);
		EVP_MD_CTX_free(sctx);
		if (!ok)
			return false;
		EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
	}
	jsonw_object_begin(w, NULL);
	jsonw_object_begin(w, "ddbguardDigest");
	jsonw_uint(w, "digestSeq", d.dseq);
	jsonw_uint(w, "seq", d.seq);
	jsonw_string(w, "hash", d.hash);
	jsonw_string(w, "time", d.time);
	jsonw_uint(w, "interval", d.interval);
	jsonw_string(w, "prevDigest", d.prev);
	jsonw_string(w, "end", end == LOGCHAIN_END_NONE ? NULL : end_names[end]);
	jsonw_string(w, "keyId", c->key ? c->key_id : NULL);
	jsonw_string(w, "signature", c->key ? b64 : NULL);
	jsonw_object_end(w);
	jsonw_object_end(w);
	jsonw_raw(w, "\n", 1);
	if (w->failed)
		return false;
	c->dseq = d.dseq;
	memcpy(c->dlast, d.digest_hash, sizeof(c->dlast));
	return true;
}

static bool
copy_str(const cJSON *o, const char *k, char *out, size_t cap, bool nullable, bool *is_null)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);

	if (nullable && cJSON_IsNull(x)) {
		*is_null = true;
		out[0] = '\0';
		return true;
	}
	if (!cJSON_IsString(x) || strlen(x->valuestring) >= cap)
		return false;
	if (is_null != NULL)
		*is_null = false;
	memcpy(out, x->valuestring, strlen(x->valuestring) + 1);
	return true;
}

static bool
get_u64(const cJSON *o, const char *k, uint64_t *v)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 9007199254740992.0 ||
	    x->valuedouble != (double)(uint64_t)x->valuedouble)
		return false;
	*v = (uint64_t)x->valuedouble;
	return true;
}

bool
logchain_parse_digest(struct logchain *c, const char *line, size_t len, struct logchain_digest_fields *d)
{
	char msg[512], end[16];
	cJSON *root = cJSON_ParseWithLength(line, len);
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "ddbguardDigest");
	bool end_null = false, kid_null = false, sig_null = false, ok = false;
	uint64_t interval;
	struct tm tm;
	size_t mlen;
	char *rest;

	memset(d, 0, sizeof(*d));
	if (!cJSON_IsObject(o) || !get_u64(o, "digestSeq", &d->dseq) || d->dseq == 0 || !get_u64(o, "seq", &d->seq) ||
	    !get_u64(o, "interval", &interval) || interval > UINT32_MAX ||
	    !copy_str(o, "hash", d->hash, sizeof(d->hash), false, NULL) || strlen(d->hash) != LOGCHAIN_HEX_LEN ||
	    !is_hex64(d->hash) || !copy_str(o, "time", d->time, sizeof(d->time), false, NULL) ||
	    !copy_str(o, "prevDigest", d->prev, sizeof(d->prev), false, NULL) || strlen(d->prev) != LOGCHAIN_HEX_LEN ||
	    !is_hex64(d->prev) || !copy_str(o, "end", end, sizeof(end), true, &end_null) ||
	    !copy_str(o, "keyId", d->key_id, sizeof(d->key_id), true, &kid_null) ||
	    !copy_str(o, "signature", d->signature, sizeof(d->signature), true, &sig_null) || kid_null != sig_null)
		goto out;
	d->interval = (uint32_t)interval;
	if (end_null)
		d->end = LOGCHAIN_END_NONE;
	else if (strcmp(end, "rotate") == 0)
		d->end = LOGCHAIN_END_ROTATE;
	else if (strcmp(end, "final") == 0)
		d->end = LOGCHAIN_END_FINAL;
	else
		goto out;
	d->signed_ = !sig_null;
	memset(&tm, 0, sizeof(tm));
	rest = strptime(d->time, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (rest == NULL || *rest != '\0')
		goto out;
	d->t = timegm(&tm);
	if ((mlen = logchain_digest_message(msg, sizeof(msg), d)) == 0 || !message_hash(c, msg, mlen, d->digest_hash))
		goto out;
	ok = true;
out:
	cJSON_Delete(root);
	return ok;
}

bool
logchain_digest_verify(EVP_PKEY *pub, const struct logchain_digest_fields *d)
{
	unsigned char sig[ED25519_SIG_LEN + 3];
	char msg[512];
	size_t mlen, blen = strlen(d->signature);
	EVP_MD_CTX *ctx;
	int n;
	bool ok;

	if (!d->signed_ || blen != 4 * ((ED25519_SIG_LEN + 2) / 3))
		return false;
	n = EVP_DecodeBlock(sig, (const unsigned char *)d->signature, (int)blen);
	/* EVP_DecodeBlock counts padding as zero bytes: 88 chars -> 66, two of them '='. */
	if (n != ED25519_SIG_LEN + 2 || d->signature[blen - 1] != '=' || d->signature[blen - 2] != '=')
		return false;
	if ((mlen = logchain_digest_message(msg, sizeof(msg), d)) == 0)
		return false;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return false;
	ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
	     EVP_DigestVerify(ctx, sig, ED25519_SIG_LEN, (const unsigned char *)msg, mlen) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

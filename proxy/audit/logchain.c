/* logchain: hash chain and signed digests over access-log records. See logchain.h for the format. */
#include "proxy/audit/logchain.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "proxy/audit/jsonw.h"

#define CHAIN_MARK      ",\"chain\":{\"seq\":"
#define ED25519_SIG_LEN 64

struct logchain {
	EVP_MD_CTX *md; /* reused for every record */
	uint64_t seq;   /* last committed record; 0 before the first */
	char hash[LOGCHAIN_HEX_LEN + 1];
	uint64_t pending_seq;
	char pending_hash[LOGCHAIN_HEX_LEN + 1];
	EVP_PKEY *key; /* owned; NULL: no digests */
	char key_id[LOGCHAIN_KEYID_HEX_LEN + 1];
};

static const char zeros[LOGCHAIN_HEX_LEN + 1] = "0000000000000000000000000000000000000000000000000000000000000000";

struct logchain *
logchain_new(void)
{
	struct logchain *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if ((c->md = EVP_MD_CTX_new()) == NULL) {
		free(c);
		return NULL;
	}
	memcpy(c->hash, zeros, sizeof(zeros));
	return c;
}

void
logchain_free(struct logchain *c)
{
	if (c == NULL)
		return;
	EVP_MD_CTX_free(c->md);
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

/* SHA-256(prefix || decimal(seq) || prev) as hex. */
static bool
chain_hash(EVP_MD_CTX *md, const char *prefix, size_t n, uint64_t seq, const char *prev, char out[LOGCHAIN_HEX_LEN + 1])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	char num[24];
	int nl = snprintf(num, sizeof(num), "%" PRIu64, seq);

	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(md, prefix, n) != 1 ||
	    EVP_DigestUpdate(md, num, (size_t)nl) != 1 || EVP_DigestUpdate(md, prev, LOGCHAIN_HEX_LEN) != 1 ||
	    EVP_DigestFinal_ex(md, d, &dlen) != 1 || dlen != 32)
		return false;
	hex(d, 32, out);
	return true;
}

bool
logchain_seal(struct logchain *c, struct jsonw *w)
{
	char tail[64 + 2 * LOGCHAIN_HEX_LEN + 24];
	int n;

	if (w->failed || w->len < 4 || w->buf[0] != '{' || w->buf[w->len - 1] != '\n' || w->buf[w->len - 2] != '}' ||
	    w->buf[w->len - 3] == '{')
		return false;
	w->len -= 2;
	jsonw_raw(w, ",", 1);
	if (w->failed)
		return false;
	c->pending_seq = c->seq + 1;
	if (!chain_hash(c->md, w->buf, w->len, c->pending_seq, c->hash, c->pending_hash))
		return false;
	n = snprintf(tail, sizeof(tail), "\"chain\":{\"seq\":%" PRIu64 ",\"prev\":\"%s\",\"hash\":\"%s\"}}\n",
	             c->pending_seq, c->hash, c->pending_hash);
	jsonw_raw(w, tail, (size_t)n);
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
	return chain_hash(c->md, line, (size_t)(m + 1 - line), seq, link->prev, link->computed);
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
	/* Walk complete lines backwards, skipping digest lines. */
	while (end > 0) {
		end--; /* at the '\n' ending the line */
		start = end;
		while (start > 0 && buf[start - 1] != '\n')
			start--;
		if (start == 0 && off > 0) {
			snprintf(why, whylen, "no record in the last %u bytes", LOGCHAIN_RESUME_MAX);
			goto out;
		}
		if (is_digest_line(buf + start, end - start)) {
			end = start;
			continue;
		}
		if (!logchain_parse_record(c, buf + start, end - start, &link)) {
			snprintf(why, whylen, "the last line is not a chained record");
		} else if (memcmp(link.hash, link.computed, LOGCHAIN_HEX_LEN) != 0) {
			snprintf(why, whylen, "the last record (seq %" PRIu64 ") does not match its hash", link.seq);
		} else {
			logchain_set_state(c, link.seq, link.hash);
			res = LOGCHAIN_RESUME_CONTINUE;
		}
		goto out;
	}
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

size_t
logchain_digest_message(char *buf, size_t n, uint64_t seq, const char *hash, const char *time)
{
	int r = snprintf(buf, n, LOGCHAIN_DIGEST_PREFIX "%" PRIu64 "\n%s\n%s", seq, hash, time);

	return r < 0 || (size_t)r >= n ? 0 : (size_t)r;
}

bool
logchain_digest(struct logchain *c, struct jsonw *w, time_t now)
{
	char tbuf[32], msg[256], b64[4 * ((ED25519_SIG_LEN + 2) / 3) + 1];
	unsigned char sig[ED25519_SIG_LEN];
	size_t siglen = sizeof(sig), mlen;
	struct tm tm;
	EVP_MD_CTX *sctx;
	bool ok;

	if (c->key == NULL)
		return false;
	gmtime_r(&now, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if ((mlen = logchain_digest_message(msg, sizeof(msg), c->seq, c->hash, tbuf)) == 0)
		return false;
	/* Ed25519 has no streaming mode: a fresh context per digest (rare: not per record). */
	if ((sctx = EVP_MD_CTX_new()) == NULL)
		return false;
	ok = EVP_DigestSignInit(sctx, NULL, NULL, NULL, c->key) == 1 &&
	     EVP_DigestSign(sctx, sig, &siglen, (const unsigned char *)msg, mlen) == 1 && siglen == sizeof(sig);
	EVP_MD_CTX_free(sctx);
	if (!ok)
		return false;
	EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
	jsonw_object_begin(w, NULL);
	jsonw_object_begin(w, "ddbguardDigest");
	jsonw_uint(w, "seq", c->seq);
	jsonw_string(w, "hash", c->hash);
	jsonw_string(w, "time", tbuf);
	jsonw_string(w, "keyId", c->key_id);
	jsonw_string(w, "signature", b64);
	jsonw_object_end(w);
	jsonw_object_end(w);
	jsonw_raw(w, "\n", 1);
	return !w->failed;
}

bool
logchain_digest_verify(EVP_PKEY *pub, uint64_t seq, const char *hash, const char *time, const char *sig_b64)
{
	unsigned char sig[ED25519_SIG_LEN + 3];
	char msg[256];
	size_t mlen, blen = strlen(sig_b64);
	EVP_MD_CTX *ctx;
	int n;
	bool ok;

	if (blen != 4 * ((ED25519_SIG_LEN + 2) / 3) || strlen(hash) != LOGCHAIN_HEX_LEN || strlen(time) > 64)
		return false;
	n = EVP_DecodeBlock(sig, (const unsigned char *)sig_b64, (int)blen);
	/* EVP_DecodeBlock counts padding as zero bytes: 88 chars -> 66, two of them '='. */
	if (n != ED25519_SIG_LEN + 2 || sig_b64[blen - 1] != '=' || sig_b64[blen - 2] != '=')
		return false;
	if ((mlen = logchain_digest_message(msg, sizeof(msg), seq, hash, time)) == 0)
		return false;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return false;
	ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
	     EVP_DigestVerify(ctx, sig, ED25519_SIG_LEN, (const unsigned char *)msg, mlen) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

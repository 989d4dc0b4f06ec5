/*
 * sigv4: canonical request, verification and signing (see sigv4.h).
 *
 * Follows AWS General Reference, "Elements of an AWS API request signature"
 * and "Create a signed AWS API request":
 *   CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n
 *                      CanonicalHeaders \n SignedHeaders \n HexSHA256(payload)
 *   StringToSign = "AWS4-HMAC-SHA256" \n X-Amz-Date \n Scope \n HexSHA256(CanonicalRequest)
 *   kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")
 * The canonical URI is each path byte URI-encoded once more (every AWS
 * service but S3 double-encodes); dot segments are not normalised: the
 * gateway's data path only accepts "/" (proxy/http.c).
 */
#include "filters/policy/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_QUERY_PARAMS_MAX 64

/* A growing output buffer that stops (and says so) at its capacity. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool full;
};

static void
sb_add(struct sbuf *b, const void *s, size_t n)
{
	if (b->full || b->len + n + 1 > b->cap) {
		b->full = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void
sb_char(struct sbuf *b, char c)
{
	sb_add(b, &c, 1);
}

static bool
sigv4_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	    c == '_' || c == '.' || c == '~';
}

/* RFC 3986 encoding as SigV4 wants it: unreserved as is, everything else %XX upper case. */
static void
sb_uri_encode(struct sbuf *b, const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (sigv4_unreserved(c) || (keep_slash && c == '/')) {
			sb_char(b, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			sb_add(b, e, 3);
		}
	}
}

static int
sigv4_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s into out (at most cap); returns the length. Invalid escapes stay as they are. */
static size_t
sigv4_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o < cap; i++) {
		int h, l;

		if (s[i] == '%' && i + 2 < n && (h = sigv4_hexval(s[i + 1])) >= 0 &&
		    (l = sigv4_hexval(s[i + 2])) >= 0) {
			out[o++] = (char)(h << 4 | l);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	return o;
}

struct sigv4_param {
	char enc[512]; /* "key=value", both re-encoded */
	size_t len;
};

static int
sigv4_param_cmp(const void *a, const void *b)
{
	const struct sigv4_param *pa = a, *pb = b;

	return strcmp(pa->enc, pb->enc);
}

/* Query parameters decoded, re-encoded, sorted by key then value ('=' sorts before any encoded byte). */
static void
sb_canonical_query(struct sbuf *b, const char *q, size_t n)
{
	struct sigv4_param params[SIGV4_QUERY_PARAMS_MAX];
	size_t np = 0, i = 0;

	while (i < n) {
		const char *start = q + i, *amp = memchr(start, '&', n - i);
		size_t len = amp ? (size_t)(amp - start) : n - i;
		const char *eq = memchr(start, '=', len);
		size_t klen = eq ? (size_t)(eq - start) : len;
		char dec[256];
		struct sbuf pb;
		size_t dl;

		i += len + (amp != NULL);
		if (len == 0)
			continue;
		if (np == SIGV4_QUERY_PARAMS_MAX) {
			b->full = true;
			return;
		}
		pb = (struct sbuf){ params[np].enc, 0, sizeof(params[np].enc), false };
		dl = sigv4_decode(start, klen, dec, sizeof(dec));
		sb_uri_encode(&pb, dec, dl, false);
		sb_char(&pb, '=');
		if (eq != NULL) {
			dl = sigv4_decode(eq + 1, len - klen - 1, dec, sizeof(dec));
			sb_uri_encode(&pb, dec, dl, false);
		}
		if (pb.full) {
			b->full = true;
			return;
		}
		params[np++].len = pb.len;
	}
	qsort(params, np, sizeof(params[0]), sigv4_param_cmp);
	for (i = 0; i < np; i++) {
		if (i > 0)
			sb_char(b, '&');
		sb_add(b, params[i].enc, params[i].len);
	}
}

/* Header value with leading/trailing space removed and inner runs of spaces collapsed to one. */
static void
sb_trimmed(struct sbuf *b, const char *v, size_t n)
{
	size_t s = 0, e = n;
	bool space = false;

	while (s < e && (v[s] == ' ' || v[s] == '\t'))
		s++;
	while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
		e--;
	for (size_t i = s; i < e; i++) {
		if (v[i] == ' ' || v[i] == '\t') {
			space = true;
			continue;
		}
		if (space)
			sb_char(b, ' ');
		space = false;
		sb_char(b, v[i]);
	}
}

/* name:value[,value...]\n for one signed header; false when the request lacks it. */
static bool
sb_canonical_header(struct sbuf *b, const struct sigv4_request *req, const char *name, size_t nlen)
{
	bool found = false;

	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sigv4_header *h = &req->headers[i];

		if (h->name_len != nlen || strncasecmp(h->name, name, nlen) != 0)
			continue;
		if (!found) {
			sb_add(b, name, nlen);
			sb_char(b, ':');
		} else {
			sb_char(b, ',');
		}
		found = true;
		sb_trimmed(b, h->value, h->value_len);
	}
	if (found)
		sb_char(b, '\n');
	return found;
}

void
sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	for (size_t i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

static const struct sigv4_header *
sigv4_find(const struct sigv4_request *req, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < req->nheaders; i++) {
		if (req->headers[i].name_len == n && strncasecmp(req->headers[i].name, name, n) == 0)
			return &req->headers[i];
	}
	return NULL;
}

size_t
sigv4_canonical_request(const struct sigv4_request *req, const char *signed_headers, char *out, size_t cap)
{
	struct sbuf b = { out, 0, cap, cap == 0 };
	const char *p = signed_headers;
	char payload[65];

	if (cap > 0)
		out[0] = '\0';
	sb_str(&b, req->method);
	sb_char(&b, '\n');
	if (req->path_len == 0)
		sb_char(&b, '/');
	else
		sb_uri_encode(&b, req->path, req->path_len, true);
	sb_char(&b, '\n');
	sb_canonical_query(&b, req->query, req->query_len);
	sb_char(&b, '\n');
	while (*p != '\0') {
		const char *semi = strchr(p, ';');
		size_t n = semi ? (size_t)(semi - p) : strlen(p);

		if (!sb_canonical_header(&b, req, p, n))
			return 0;
		p += n + (semi != NULL);
	}
	sb_char(&b, '\n');
	sb_str(&b, signed_headers);
	sb_char(&b, '\n');
	sigv4_sha256_hex(req->body, req->body_len, payload);
	sb_add(&b, payload, 64);
	return b.full ? 0 : b.len;
}

static void
sigv4_hmac(const void *key, size_t klen, const void *data, size_t dlen, unsigned char out[32])
{
	unsigned int olen = 32;

	HMAC(EVP_sha256(), key, (int)klen, data, dlen, out, &olen);
}

/* The signature over `sts` as 64 lower-case hex digits. */
static void
sigv4_signature(const char *secret, const char *date, const char *region, const char *service, const char *sts,
    char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char k[32], sig[32];
	char kdate[4 + 256];
	size_t slen = strlen(secret);

	if (slen > sizeof(kdate) - 5)
		slen = sizeof(kdate) - 5; /* secrets are 40 characters; bounded anyway */
	memcpy(kdate, "AWS4", 4);
	memcpy(kdate + 4, secret, slen);
	sigv4_hmac(kdate, 4 + slen, date, strlen(date), k);
	sigv4_hmac(k, 32, region, strlen(region), k);
	sigv4_hmac(k, 32, service, strlen(service), k);
	sigv4_hmac(k, 32, "aws4_request", 12, k);
	sigv4_hmac(k, 32, sts, strlen(sts), sig);
	for (size_t i = 0; i < 32; i++) {
		out[2 * i] = hex[sig[i] >> 4];
		out[2 * i + 1] = hex[sig[i] & 15];
	}
	out[64] = '\0';
	OPENSSL_cleanse(kdate, sizeof(kdate));
	OPENSSL_cleanse(k, sizeof(k));
}

/* The string to sign; false if it does not fit. */
static bool
sigv4_string_to_sign(const struct sigv4_request *req, const char *signed_headers, const char *amz_date,
    const char *date, const char *region, const char *service, char *sts, size_t cap)
{
	char creq[SIGV4_CANONICAL_MAX], hash[65];
	size_t n = sigv4_canonical_request(req, signed_headers, creq, sizeof(creq));
	int w;

	if (n == 0)
		return false;
	sigv4_sha256_hex(creq, n, hash);
	w = snprintf(sts, cap, SIGV4_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date, region, service,
	    hash);
	return w > 0 && (size_t)w < cap;
}

/* Parses YYYYMMDD'T'HHMMSS'Z' as UTC. */
static bool
sigv4_parse_amz_date(const char *s, size_t n, time_t *out)
{
	struct tm tm = { 0 };
	int v[6], len[6] = { 4, 2, 2, 2, 2, 2 }, off[6] = { 0, 4, 6, 9, 11, 13 };

	if (n != 16 || s[8] != 'T' || s[15] != 'Z')
		return false;
	for (int i = 0; i < 6; i++) {
		v[i] = 0;
		for (int j = 0; j < len[i]; j++) {
			char c = s[off[i] + j];

			if (c < '0' || c > '9')
				return false;
			v[i] = v[i] * 10 + (c - '0');
		}
	}
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
		return false;
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	*out = timegm(&tm);
	return *out != (time_t)-1;
}

static enum sigv4_result
sigv4_fail(const char **why, enum sigv4_result r, const char *msg)
{
	if (why != NULL)
		*why = msg;
	return r;
}

enum sigv4_result
sigv4_verify(const struct sigv4_request *req, const struct sigv4_auth *auth, const char *secret, time_t now,
    unsigned skew_s, const char **why)
{
	const struct sigv4_header *d = sigv4_find(req, "x-amz-date"), *ph;
	char amz_date[17], sts[512], sig[65], hash[65];
	time_t t;

	if (d == NULL || !sigv4_parse_amz_date(d->value, d->value_len, &t))
		return sigv4_fail(why, SIGV4_MALFORMED, "X-Amz-Date is missing or not YYYYMMDD'T'HHMMSS'Z'");
	memcpy(amz_date, d->value, 16);
	amz_date[16] = '\0';
	/* SigV4 requires X-Amz-Date (or Date) to be signed; we accept only X-Amz-Date. */
	if (strstr(auth->signed_headers, "x-amz-date") == NULL)
		return sigv4_fail(why, SIGV4_MALFORMED, "SignedHeaders does not include x-amz-date");
	if (memcmp(amz_date, auth->date, 8) != 0)
		return sigv4_fail(why, SIGV4_SCOPE_MISMATCH,
		    "the credential scope date is not the date of X-Amz-Date");
	if ((t > now && t - now > (time_t)skew_s) || (now > t && now - t > (time_t)skew_s))
		return sigv4_fail(why, SIGV4_EXPIRED,
		    "Signature expired: X-Amz-Date is outside the allowed clock skew of the gateway's time");
	/* A signed X-Amz-Content-Sha256 must be the body's: else the signature would cover a claimed hash only. */
	if ((ph = sigv4_find(req, "x-amz-content-sha256")) != NULL) {
		sigv4_sha256_hex(req->body, req->body_len, hash);
		if (ph->value_len != 64 || memcmp(ph->value, hash, 64) != 0)
			return sigv4_fail(why, SIGV4_PAYLOAD_MISMATCH,
			    "X-Amz-Content-Sha256 is not the SHA-256 of the request body");
	}
	if (!sigv4_string_to_sign(req, auth->signed_headers, amz_date, auth->date, auth->region, auth->service, sts,
		sizeof(sts)))
		return sigv4_fail(why, SIGV4_MALFORMED, "a signed header is missing from the request");
	sigv4_signature(secret, auth->date, auth->region, auth->service, sts, sig);
	if (CRYPTO_memcmp(sig, auth->signature, 64) != 0) {
		OPENSSL_cleanse(sig, sizeof(sig));
		return sigv4_fail(why, SIGV4_BAD_SIGNATURE,
		    "The request signature we calculated does not match the signature you provided");
	}
	OPENSSL_cleanse(sig, sizeof(sig));
	return SIGV4_OK;
}

void
sigv4_amz_date(time_t now, char out[17])
{
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

bool
sigv4_sign(const struct sigv4_request *req, const char *signed_headers, const struct sigv4_credentials *cr,
    const char *region, const char *service, time_t now, char *authz, size_t cap)
{
	char amz_date[17], date[9], sts[512], sig[65];
	int w;

	sigv4_amz_date(now, amz_date);
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	if (!sigv4_string_to_sign(req, signed_headers, amz_date, date, region, service, sts, sizeof(sts)))
		return false;
	sigv4_signature(cr->secret_access_key, date, region, service, sts, sig);
	w = snprintf(authz, cap, SIGV4_ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
	    cr->access_key_id, date, region, service, signed_headers, sig);
	return w > 0 && (size_t)w < cap;
}

static int
sigv4_b32(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

bool
sigv4_akid_account(const char *akid, char out[13])
{
	uint64_t bits = 0;
	int v;

	if (akid == NULL || strlen(akid) != 20 || (strncmp(akid, "AKIA", 4) != 0 && strncmp(akid, "ASIA", 4) != 0))
		return false;
	/* The older format (fifth character A-P, e.g. AKIAI..., AKIAJ...) is random: no account in it. */
	if ((v = sigv4_b32(akid[4])) < 16)
		return false;
	/* 10 base32 characters = 50 bits; the account is in the first 48 (bits 46..7). */
	for (int i = 4; i < 14; i++) {
		if ((v = sigv4_b32(akid[i])) < 0)
			return false;
		bits = bits << 5 | (uint64_t)v;
	}
	bits >>= 2; /* the first 48 bits */
	bits = (bits & 0x7fffffffff80ull) >> 7;
	if (bits > 999999999999ull)
		return false; /* not a 12-digit account: not the format we know */
	snprintf(out, 13, "%012llu", (unsigned long long)bits);
	return true;
}

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

/* ---- the Authorization header (moved from identity.c: both directions use it) ---- */

#define SIGV4_SCHEME "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"
/*
 * IAM issues access key ids of 16-128 characters, but SigV4 test suites,
 * local DynamoDB stand-ins and load tools sign with shorter ones (the AWS
 * suite's own "AKIDEXAMPLE" is 11). AWS refuses those itself; matching is
 * exact, so accepting them here grants nothing.
 */
#define SIGV4_AKID_MIN 4
#define SIGV4_AKID_MAX (sizeof(((struct sigv4_auth *)0)->access_key_id) - 1)
#define SIGV4_DATE_LEN 8
#define SIGV4_SCOPE_MAX (sizeof(((struct sigv4_auth *)0)->region) - 1)
#define SIGV4_SIGNED_HEADERS_MAX (sizeof(((struct sigv4_auth *)0)->signed_headers) - 1)
#define SIGV4_SIGNATURE_LEN (sizeof(((struct sigv4_auth *)0)->signature) - 1)

/* A slice of the header value; the value need not be NUL-terminated. */
struct sigv4_span {
	const char *p;
	size_t len;
};

static bool
sigv4_parse_fail(const char **why, const char *msg)
{
	if (why != NULL)
		*why = msg;
	return false;
}

static bool
sigv4_is_upper_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
sigv4_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
sigv4_is_lower_alnum_dash(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool
sigv4_is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* True when s has min..max bytes, all accepted by `ok`. */
static bool
sigv4_span_is(struct sigv4_span s, size_t min, size_t max, bool (*ok)(char))
{
	if (s.len < min || s.len > max)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		if (!ok(s.p[i]))
			return false;
	}
	return true;
}

static bool
sigv4_span_eq(struct sigv4_span s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* Splits off the part of *rest before the next `sep` (or all of it). */
static struct sigv4_span
sigv4_span_split(struct sigv4_span *rest, char sep, bool *found)
{
	const char *at = memchr(rest->p, sep, rest->len);
	struct sigv4_span head = { rest->p, at != NULL ? (size_t)(at - rest->p) : rest->len };

	*found = at != NULL;
	rest->p += head.len + (at != NULL);
	rest->len -= head.len + (at != NULL);
	return head;
}

/* Caller has checked s.len < size. */
static void
sigv4_span_copy(char *dst, struct sigv4_span s)
{
	memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
}

/* Credential=<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request */
static bool
sigv4_parse_credential(struct sigv4_span v, struct sigv4_auth *out, const char **why)
{
	struct sigv4_span part[5];
	bool more = true;
	size_t n;

	for (n = 0; n < 5 && more; n++)
		part[n] = sigv4_span_split(&v, '/', &more);
	if (n != 5 || more)
		return sigv4_parse_fail(why,
		    "Authorization: Credential is not AKID/date/region/service/aws4_request");
	if (!sigv4_span_is(part[0], SIGV4_AKID_MIN, SIGV4_AKID_MAX, sigv4_is_upper_alnum))
		return sigv4_parse_fail(why, "Authorization: access key id is not 4-128 characters of [A-Z0-9]");
	if (!sigv4_span_is(part[1], SIGV4_DATE_LEN, SIGV4_DATE_LEN, sigv4_is_digit))
		return sigv4_parse_fail(why, "Authorization: credential date is not YYYYMMDD");
	if (!sigv4_span_is(part[2], 1, SIGV4_SCOPE_MAX, sigv4_is_lower_alnum_dash))
		return sigv4_parse_fail(why,
		    "Authorization: credential region is not 1-32 characters of [a-z0-9-]");
	if (!sigv4_span_is(part[3], 1, SIGV4_SCOPE_MAX, sigv4_is_lower_alnum_dash))
		return sigv4_parse_fail(why,
		    "Authorization: credential service is not 1-32 characters of [a-z0-9-]");
	if (!sigv4_span_eq(part[4], SIGV4_TERMINATOR))
		return sigv4_parse_fail(why, "Authorization: credential scope does not end in aws4_request");
	sigv4_span_copy(out->access_key_id, part[0]);
	sigv4_span_copy(out->date, part[1]);
	sigv4_span_copy(out->region, part[2]);
	sigv4_span_copy(out->service, part[3]);
	return true;
}

static int
sigv4_span_cmp(struct sigv4_span a, struct sigv4_span b)
{
	int c = memcmp(a.p, b.p, a.len < b.len ? a.len : b.len);

	if (c != 0)
		return c;
	return a.len < b.len ? -1 : a.len > b.len;
}

/*
 * SignedHeaders: "an alphabetically sorted, semicolon-separated list of
 * lowercase request header names". Host is always signed in SigV4; without
 * it the signature would not bind the request to its endpoint.
 */
static bool
sigv4_parse_signed_headers(struct sigv4_span v, struct sigv4_auth *out, const char **why)
{
	struct sigv4_span rest = v, prev = { NULL, 0 };
	bool more = true, host = false;

	if (v.len == 0 || v.len > SIGV4_SIGNED_HEADERS_MAX)
		return sigv4_parse_fail(why, "Authorization: SignedHeaders is empty or too long");
	while (more) {
		struct sigv4_span h = sigv4_span_split(&rest, ';', &more);

		if (!sigv4_span_is(h, 1, SIGV4_SIGNED_HEADERS_MAX, sigv4_is_lower_alnum_dash))
			return sigv4_parse_fail(why,
			    "Authorization: SignedHeaders is not ';'-separated [a-z0-9-] names");
		if (prev.p != NULL && sigv4_span_cmp(prev, h) >= 0)
			return sigv4_parse_fail(why,
			    "Authorization: SignedHeaders is not sorted or repeats a name");
		host = host || sigv4_span_eq(h, "host");
		prev = h;
	}
	if (!host)
		return sigv4_parse_fail(why, "Authorization: SignedHeaders does not include host");
	sigv4_span_copy(out->signed_headers, v);
	return true;
}

/* Signature: the HMAC-SHA256 as 64 lower-case hex digits. */
static bool
sigv4_parse_signature(struct sigv4_span v, struct sigv4_auth *out, const char **why)
{
	if (!sigv4_span_is(v, SIGV4_SIGNATURE_LEN, SIGV4_SIGNATURE_LEN, sigv4_is_lower_hex))
		return sigv4_parse_fail(why, "Authorization: Signature is not 64 lower-case hex digits");
	sigv4_span_copy(out->signature, v);
	return true;
}

static const struct sigv4_param {
	const char *name;
	bool (*parse)(struct sigv4_span, struct sigv4_auth *, const char **);
} sigv4_params[] = {
	{ "Credential", sigv4_parse_credential },
	{ "SignedHeaders", sigv4_parse_signed_headers },
	{ "Signature", sigv4_parse_signature },
};

#define SIGV4_NPARAMS (sizeof(sigv4_params) / sizeof(sigv4_params[0]))

static bool
sigv4_parse_param(struct sigv4_span item, struct sigv4_auth *out, unsigned *seen, const char **why)
{
	bool has_eq;
	struct sigv4_span name = sigv4_span_split(&item, '=', &has_eq);

	if (!has_eq)
		return sigv4_parse_fail(why, "Authorization: expected name=value parameters");
	for (size_t i = 0; i < SIGV4_NPARAMS; i++) {
		if (!sigv4_span_eq(name, sigv4_params[i].name))
			continue;
		if (*seen & (1u << i))
			return sigv4_parse_fail(why, "Authorization: a parameter appears twice");
		*seen |= 1u << i;
		return sigv4_params[i].parse(item, out, why);
	}
	return sigv4_parse_fail(why, "Authorization: unknown parameter");
}

/*
 * "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." with
 * the scheme spelled exactly, one space after it, parameters separated by a
 * comma and optional whitespace (SDKs send ", "), each exactly once. RFC 9110
 * would let the scheme differ in case; no signer sends that, so we refuse it
 * rather than guess how the service reads it.
 */
bool
sigv4_parse_authorization(const char *value, size_t len, struct sigv4_auth *out, const char **why)
{
	const size_t slen = strlen(SIGV4_SCHEME);
	struct sigv4_span rest;
	unsigned seen = 0;
	bool more = true;

	memset(out, 0, sizeof(*out));
	if (value == NULL || len <= slen || memcmp(value, SIGV4_SCHEME, slen) != 0 || value[slen] != ' ')
		return sigv4_parse_fail(why, "Authorization: scheme is not \"" SIGV4_SCHEME " \"");
	rest.p = value + slen + 1;
	rest.len = len - slen - 1;
	while (more) {
		struct sigv4_span item = sigv4_span_split(&rest, ',', &more);

		if (!sigv4_parse_param(item, out, &seen, why)) {
			memset(out, 0, sizeof(*out));
			return false;
		}
		while (more && rest.len > 0 && (rest.p[0] == ' ' || rest.p[0] == '\t')) {
			rest.p++;
			rest.len--;
		}
	}
	if (seen != (1u << SIGV4_NPARAMS) - 1) {
		memset(out, 0, sizeof(*out));
		return sigv4_parse_fail(why, "Authorization: Credential, SignedHeaders or Signature is missing");
	}
	return true;
}

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

struct sigv4_qparam {
	char enc[512]; /* "key=value", both re-encoded */
	size_t len;
};

static int
sigv4_param_cmp(const void *a, const void *b)
{
	const struct sigv4_qparam *pa = a, *pb = b;

	return strcmp(pa->enc, pb->enc);
}

/* Query parameters decoded, re-encoded, sorted by key then value ('=' sorts before any encoded byte). */
static void
sb_canonical_query(struct sbuf *b, const char *q, size_t n)
{
	struct sigv4_qparam params[SIGV4_QUERY_PARAMS_MAX];
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

/*
 * http: strict HTTP/1.1 head parser and chunked relay for the data path.
 *
 * http.h states the rules; this file says why each one is there. Section
 * numbers are RFC 9112 (HTTP/1.1 messages) unless marked RFC 9110
 * (semantics). Everything here runs once per request or response: nothing
 * allocates, each head is read in one pass, and lookups are table driven.
 */
#include "proxy/http.h"

#include <string.h>

/* Size bound for the trailer section of a chunked response (7.1.2). */
#define HTTP_CHUNKED_MAX_TRAILER 8192
/* 15 hex digits keep a chunk size below 2^60: no overflow, no ambiguity. */
#define HTTP_CHUNKED_MAX_SIZE_DIGITS 15

/* ------------------------------------------------------------------------
 * Character classes
 */

enum {
	C_TCHAR = 1 << 0, /* tchar, RFC 9110 5.6.2 */
	C_FVAL = 1 << 1,  /* field-vchar / obs-text / SP / HTAB, RFC 9110 5.5 */
	C_HEX = 1 << 2,   /* HEXDIG, RFC 5234 B.1 */
	C_DIGIT = 1 << 3, /* DIGIT */
	C_HOST = 1 << 4,  /* what we accept in Host: reg-name / IP-literal / port subset */
	C_OWS = 1 << 5,   /* SP / HTAB, RFC 9110 5.6.3 */
};

#define T C_TCHAR
#define V C_FVAL
/* Every byte not listed is 0: CTLs (but HTAB), DEL and NUL belong to no class. */
static const uint8_t cclass[256] = {
    ['\t'] = V | C_OWS,
    [' '] = V | C_OWS,
    ['!'] = T | V,
    ['"'] = V,
    ['#'] = T | V,
    ['$'] = T | V,
    ['%'] = T | V,
    ['&'] = T | V,
    ['\''] = T | V,
    ['('] = V,
    [')'] = V,
    ['*'] = T | V,
    ['+'] = T | V,
    [','] = V,
    ['-'] = T | V | C_HOST,
    ['.'] = T | V | C_HOST,
    ['/'] = V,
    ['0' ... '9'] = T | V | C_HEX | C_DIGIT | C_HOST,
    [':'] = V | C_HOST,
    [';'] = V,
    ['<'] = V,
    ['='] = V,
    ['>'] = V,
    ['?'] = V,
    ['@'] = V,
    ['A' ... 'F'] = T | V | C_HEX | C_HOST,
    ['G' ... 'Z'] = T | V | C_HOST,
    ['['] = V | C_HOST,
    ['\\'] = V,
    [']'] = V | C_HOST,
    ['^'] = T | V,
    ['_'] = T | V | C_HOST,
    ['`'] = T | V,
    ['a' ... 'f'] = T | V | C_HEX | C_HOST,
    ['g' ... 'z'] = T | V | C_HOST,
    ['{'] = V,
    ['|'] = T | V,
    ['}'] = V,
    ['~'] = T | V | C_HOST,
    [0x80 ... 0xff] = V, /* obs-text */
};
#undef T
#undef V

static inline bool
is_class(unsigned char c, unsigned cls)
{
	return (cclass[c] & cls) != 0;
}

/* ASCII-only case folding: field names and the tokens we compare are ASCII (RFC 9110 5.1), never locale-bound. */
static inline unsigned char
ascii_lower(unsigned char c)
{
	return (unsigned)(c - 'A') < 26u ? (unsigned char)(c | 0x20) : c;
}

/* Exact ASCII case-insensitive equality of any two byte strings. */
static bool
eq_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return false;
	return true;
}

#define FOLD8 0x2020202020202020ull

static inline uint64_t
load8(const char *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
	return w;
}

/*
 * Case-insensitive equality of a validated name or value (no byte below
 * 0x20 but HTAB) with one of our literals, eight bytes at a time. OR 0x20
 * folds A-Z onto a-z; on the literals' other bytes (digits and - . / ; = ")
 * it can only confuse them with a CTL, which validated input does not hold,
 * and HTAB | 0x20 is ')', which no literal holds. So the compare is exact.
 */
static bool
eq_fold(const char *in, const char *lit, size_t n)
{
	if (n < 8) {
		for (size_t i = 0; i < n; i++)
			if ((in[i] | 0x20) != (lit[i] | 0x20))
				return false;
		return true;
	}
	for (size_t i = 0; i + 8 < n; i += 8)
		if ((load8(in + i) | FOLD8) != (load8(lit + i) | FOLD8))
			return false;
	return (load8(in + n - 8) | FOLD8) == (load8(lit + n - 8) | FOLD8);
}

/* A validated value equals the literal `lit` ignoring ASCII case (see eq_fold). */
static inline bool
value_is(const char *v, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	return len == n && eq_fold(v, lit, n);
}

/* ------------------------------------------------------------------------
 * Known header names: a table indexed by enum http_hdr, and a perfect hash
 * on (length, first letter folded) that picks the only candidate to compare.
 * A duplicated slot is a -Woverride-init error, so the hash stays perfect;
 * tests/unit/proxy/test_http.c checks every name resolves to its own id.
 */

struct hdr_name {
	const char *name; /* canonical spelling, used in error messages */
	uint8_t len;
};

#define HDR(id, s) [id] = {s, sizeof(s) - 1}
static const struct hdr_name hdr_names[HTTP_HDR__COUNT] = {
    HDR(HTTP_HDR_OTHER, ""),
    HDR(HTTP_HDR_HOST, "Host"),
    HDR(HTTP_HDR_X_AMZ_TARGET, "X-Amz-Target"),
    HDR(HTTP_HDR_AUTHORIZATION, "Authorization"),
    HDR(HTTP_HDR_CONTENT_LENGTH, "Content-Length"),
    HDR(HTTP_HDR_CONTENT_TYPE, "Content-Type"),
    HDR(HTTP_HDR_CONTENT_ENCODING, "Content-Encoding"),
    HDR(HTTP_HDR_TRANSFER_ENCODING, "Transfer-Encoding"),
    HDR(HTTP_HDR_CONNECTION, "Connection"),
    HDR(HTTP_HDR_KEEP_ALIVE, "Keep-Alive"),
    HDR(HTTP_HDR_PROXY_CONNECTION, "Proxy-Connection"),
    HDR(HTTP_HDR_PROXY_AUTHORIZATION, "Proxy-Authorization"),
    HDR(HTTP_HDR_TE, "TE"),
    HDR(HTTP_HDR_TRAILER, "Trailer"),
    HDR(HTTP_HDR_UPGRADE, "Upgrade"),
    HDR(HTTP_HDR_EXPECT, "Expect"),
    HDR(HTTP_HDR_USER_AGENT, "User-Agent"),
    HDR(HTTP_HDR_X_AMZ_DATE, "X-Amz-Date"),
    HDR(HTTP_HDR_X_AMZ_SECURITY_TOKEN, "X-Amz-Security-Token"),
    HDR(HTTP_HDR_X_AMZN_REQUESTID, "X-Amzn-RequestId"),
    HDR(HTTP_HDR_X_AMZ_CRC32, "X-Amz-Crc32"),
};
#undef HDR

/* Letters fold to the same 5 bits in either case; non-letters just land somewhere and fail the compare. */
#define HK(len, c) ((unsigned)(len) << 5 | ((unsigned)(c)&31u))
#define HK_MAX_LEN 32
static const uint8_t hdr_slot[HK_MAX_LEN << 5] = {
    [HK(2, 't')] = HTTP_HDR_TE,
    [HK(4, 'h')] = HTTP_HDR_HOST,
    [HK(6, 'e')] = HTTP_HDR_EXPECT,
    [HK(7, 't')] = HTTP_HDR_TRAILER,
    [HK(7, 'u')] = HTTP_HDR_UPGRADE,
    [HK(10, 'c')] = HTTP_HDR_CONNECTION,
    [HK(10, 'k')] = HTTP_HDR_KEEP_ALIVE,
    [HK(10, 'u')] = HTTP_HDR_USER_AGENT,
    [HK(10, 'x')] = HTTP_HDR_X_AMZ_DATE,
    [HK(11, 'x')] = HTTP_HDR_X_AMZ_CRC32,
    [HK(12, 'c')] = HTTP_HDR_CONTENT_TYPE,
    [HK(12, 'x')] = HTTP_HDR_X_AMZ_TARGET,
    [HK(13, 'a')] = HTTP_HDR_AUTHORIZATION,
    [HK(14, 'c')] = HTTP_HDR_CONTENT_LENGTH,
    [HK(16, 'c')] = HTTP_HDR_CONTENT_ENCODING,
    [HK(16, 'p')] = HTTP_HDR_PROXY_CONNECTION,
    [HK(16, 'x')] = HTTP_HDR_X_AMZN_REQUESTID,
    [HK(17, 't')] = HTTP_HDR_TRANSFER_ENCODING,
    [HK(19, 'p')] = HTTP_HDR_PROXY_AUTHORIZATION,
    [HK(20, 'x')] = HTTP_HDR_X_AMZ_SECURITY_TOKEN,
};

/* Field names are case-insensitive (RFC 9110 5.1). O(1): one table load, at most one compare. */
static enum http_hdr
hdr_lookup(const char *name, size_t len)
{
	if (len == 0 || len >= HK_MAX_LEN)
		return HTTP_HDR_OTHER;
	enum http_hdr id = hdr_slot[HK(len, (unsigned char)name[0])];
	if (id != HTTP_HDR_OTHER && eq_fold(name, hdr_names[id].name, len))
		return id;
	return HTTP_HDR_OTHER;
}

/*
 * Hop-by-hop fields (RFC 9110 7.6.1): Connection and the fields it may name
 * that carry per-connection meaning (Keep-Alive, Proxy-Connection, TE,
 * Transfer-Encoding, Upgrade, Trailer; Proxy-Authorization is for the proxy
 * itself, RFC 9110 11.7.2). Expect is end-to-end in RFC 9110 10.1.1, but this
 * gateway answers 100-continue itself (it must see the body before it
 * forwards anything), so it is never forwarded either and is listed here.
 */
static const bool hop_by_hop[HTTP_HDR__COUNT] = {
    [HTTP_HDR_CONNECTION] = true,          [HTTP_HDR_KEEP_ALIVE] = true, [HTTP_HDR_PROXY_CONNECTION] = true,
    [HTTP_HDR_PROXY_AUTHORIZATION] = true, [HTTP_HDR_TE] = true,         [HTTP_HDR_TRAILER] = true,
    [HTTP_HDR_TRANSFER_ENCODING] = true,   [HTTP_HDR_UPGRADE] = true,    [HTTP_HDR_EXPECT] = true,
};

bool
http_hdr_is_hop_by_hop(enum http_hdr h)
{
	return (unsigned)h < HTTP_HDR__COUNT && hop_by_hop[h];
}

const char *
http_get(const struct http_message *m, enum http_hdr h, size_t *len)
{
	if (h <= HTTP_HDR_OTHER || h >= HTTP_HDR__COUNT || m->known[h] < 0) {
		*len = 0;
		return NULL;
	}
	const struct http_header *f = &m->headers[m->known[h]];
	*len = f->value_len;
	return f->value;
}

/* ------------------------------------------------------------------------
 * Errors
 */

/* Records a refusal. Only a validated field name (tchars only) may be copied into `field`. */
static enum http_status
fail(struct http_error *err, const char *reason, const char *name, size_t name_len)
{
	if (err == NULL)
		return HTTP_ERROR;
	err->reason = reason;
	if (name_len >= sizeof(err->field))
		name_len = sizeof(err->field) - 1;
	if (name_len > 0)
		memcpy(err->field, name, name_len);
	err->field[name_len] = '\0';
	return HTTP_ERROR;
}

static enum http_status
fail_hdr(struct http_error *err, const char *reason, const struct http_header *h)
{
	return fail(err, reason, h->name, h->name_len);
}

/* ------------------------------------------------------------------------
 * Head end
 */

/* Byte `back` (1..3) positions before offset k of extent p; `win` holds the 3 bytes before p, newest lowest. */
static inline unsigned char
byte_before(const unsigned char *p, size_t k, size_t back, uint32_t win)
{
	return k >= back ? p[k - back] : (unsigned char)(win >> (8 * (back - k - 1)));
}

static uint32_t
window_push(uint32_t win, const unsigned char *p, size_t n)
{
	if (n >= 3)
		return (uint32_t)p[n - 1] | (uint32_t)p[n - 2] << 8 | (uint32_t)p[n - 3] << 16;
	for (size_t i = 0; i < n; i++)
		win = (win << 8 | p[i]) & 0xffffffu;
	return win;
}

/*
 * Looks at every LF of one extent that starts at absolute offset `pos`;
 * LFs before `from` were judged by an earlier call. Returns the head length
 * at "\r\n\r\n", -1 at a bare LF (5.2: no line may end in a bare LF here), or 0.
 */
static ssize_t
scan_extent(const unsigned char *p, size_t n, size_t pos, size_t from, uint32_t *win)
{
	const unsigned char *lf = p;
	while ((lf = memchr(lf, '\n', n - (size_t)(lf - p))) != NULL) {
		size_t k = (size_t)(lf - p);
		if (pos + k >= from) {
			if (byte_before(p, k, 1, *win) != '\r')
				return -1;
			if (byte_before(p, k, 2, *win) == '\n' && byte_before(p, k, 3, *win) == '\r')
				return (ssize_t)(pos + k + 1);
		}
		lf++;
	}
	*win = window_push(*win, p, n);
	return 0;
}

/*
 * One pass over the new bytes only, without copying. Every LF in a head is a
 * line end, so it must follow a CR (2.2); a bare LF anywhere -- not only a
 * bare-LF empty line -- answers -1 at once instead of waiting for the limit
 * or the header timeout. The connection answers 400 to -1 as to a parse
 * error. *scan_from is the first byte not yet judged; the scan re-reads up to
 * 3 bytes before it so a CRLFCRLF split across reads is found. It is reset to
 * 0 when a head (or -1) is returned, ready for the next message once the
 * caller has drained this one.
 */
ssize_t
http_find_head_end(struct evbuffer *buf, size_t max_header_bytes, size_t *scan_from)
{
	size_t avail = evbuffer_get_length(buf);
	size_t limit = avail < max_header_bytes ? avail : max_header_bytes;
	size_t from = *scan_from <= limit ? *scan_from : 0;
	size_t pos = from >= 3 ? from - 3 : 0;
	uint32_t win = 0; /* NUL before the buffer start: neither CR nor LF */
	struct evbuffer_iovec v[8];
	struct evbuffer_ptr ptr;

	while (pos < limit) {
		size_t before = pos;
		if (evbuffer_ptr_set(buf, &ptr, pos, EVBUFFER_PTR_SET) != 0)
			break;
		int n = evbuffer_peek(buf, (ev_ssize_t)(limit - pos), &ptr, v, 8);
		if (n <= 0)
			break;
		for (int i = 0; i < n && i < 8 && pos < limit; i++) {
			size_t len = v[i].iov_len < limit - pos ? v[i].iov_len : limit - pos;
			ssize_t r = scan_extent(v[i].iov_base, len, pos, from, &win);
			if (r != 0) {
				*scan_from = 0;
				return r;
			}
			pos += len;
		}
		if (pos == before)
			break; /* no progress: cannot happen while pos < limit */
	}
	if (limit >= max_header_bytes) {
		*scan_from = 0;
		return -1;
	}
	*scan_from = limit;
	return 0;
}

/* ------------------------------------------------------------------------
 * Lines and fields
 */

/*
 * Any byte < 0x20 or == 0x7f in a little word of eight (exact tests from
 * "Bit Twiddling Hacks": hasless(x, 0x20) and haszero(x ^ 0x7f..)). Bytes >=
 * 0x80 are obs-text and never flagged. HTAB is flagged and sorted out by the
 * byte loop.
 */
static inline bool
word_has_ctl(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t del = x ^ (ones * 0x7f);
	return (((x - ones * 0x20) & ~x) | ((del - ones) & ~del)) & highs;
}

/*
 * End of a run of field-vchar / obs-text / SP / HTAB (RFC 9110 5.5): the
 * first byte that cannot be in a field value, or `end`. Tokens, SigV4
 * signatures and session tokens are long printable runs, so eight bytes are
 * checked at a time and the byte loop only runs around the exceptions.
 */
static const char *
field_value_end(const char *p, const char *end)
{
	for (;;) {
		while (end - p >= 8 && !word_has_ctl(load8(p)))
			p += 8;
		const char *stop = end - p >= 8 ? p + 8 : end;
		for (; p < stop; p++)
			if (!is_class((unsigned char)*p, C_FVAL))
				return p;
		if (p == end)
			return p;
	}
}

/*
 * The line ending at `p`, which is not a field-value byte: CRLF, else the
 * precise reason. 2.2: a bare CR MUST be refused (or replaced); a recipient
 * MAY take a bare LF as a line end, and we do not: two parsers could split
 * the lines differently.
 */
static const char *
line_end_error(const char *p, const char *end, const char *invalid)
{
	if (p == end)
		return "header section is not terminated";
	if (*p == '\n')
		return "bare LF line ending";
	if (*p != '\r')
		return invalid;
	if (end - p < 2)
		return "header section is not terminated";
	if (p[1] != '\n')
		return "bare CR line ending";
	return NULL;
}

/* Why a field line without a valid "name:" start is refused (5.1, 5.2, 2.2). */
static enum http_status
field_name_error(const char *name, const char *p, const char *end, bool first, struct http_error *err)
{
	size_t nlen = (size_t)(p - name);

	if (p == end)
		return fail(err, "header section is not terminated", NULL, 0);
	if (nlen > 0) {
		/* 5.1: no whitespace between name and colon; a server MUST reject it. */
		if (is_class((unsigned char)*p, C_OWS))
			return fail(err, "whitespace before colon in header field", name, nlen);
		if (*p == '\r' || *p == '\n')
			return fail(err, "header field line without colon", name, nlen);
		return fail(err, "invalid character in header field name", NULL, 0);
	}
	if (is_class((unsigned char)*p, C_OWS)) {
		/* 2.2: whitespace before the first field; 5.2: obs-fold. Both may be rejected. */
		if (first)
			return fail(err, "whitespace between start line and first header field", NULL, 0);
		return fail(err, "obs-fold line folding is not accepted", NULL, 0);
	}
	if (*p == ':')
		return fail(err, "empty header field name", NULL, 0);
	if (*p == '\n')
		return fail(err, "bare LF line ending", NULL, 0);
	if (*p == '\r')
		return fail(err, "bare CR line ending", NULL, 0);
	return fail(err, "invalid character in header field name", NULL, 0);
}

/*
 * One field line (5: field-name ":" OWS field-value OWS CRLF) at *pp; on
 * success `h` is filled and *pp moves past the CRLF. RFC 9110 5.5: values
 * with CR, LF or NUL MUST be refused; other CTLs and DEL are refused too.
 */
static enum http_status
parse_field_line(const char **pp, const char *end, bool first, struct http_header *h, struct http_error *err)
{
	const char *name = *pp, *p = *pp;

	while (p < end && is_class((unsigned char)*p, C_TCHAR))
		p++;
	if (p == name || p == end || *p != ':')
		return field_name_error(name, p, end, first, err);
	h->name = name;
	h->name_len = (size_t)(p - name);

	for (p++; p < end && is_class((unsigned char)*p, C_OWS); p++)
		;
	const char *value = p;
	p = field_value_end(p, end);
	const char *why = line_end_error(p, end, "invalid character in header value");
	if (why != NULL)
		return fail_hdr(err, why, h);

	const char *vend = p;
	while (vend > value && is_class((unsigned char)vend[-1], C_OWS))
		vend--;
	h->value = value;
	h->value_len = (size_t)(vend - value);
	h->id = hdr_lookup(h->name, h->name_len);
	*pp = p + 2;
	return HTTP_OK;
}

/*
 * A fingerprint of a field name that names equal but for ASCII case share:
 * each 8-byte word OR 0x20 (the last one overlapping), multiplied in. It
 * is only a filter; eq_nocase decides.
 */
static uint32_t
name_hash(const char *s, size_t n)
{
	const uint64_t k = 0x9e3779b97f4a7c15ull;
	uint64_t h = n * k;

	if (n < 8) {
		uint64_t w = 0;
		for (size_t i = 0; i < n; i++)
			w = w << 8 | ((unsigned char)s[i] | 0x20u);
		h = (h ^ w) * k;
	} else {
		for (size_t i = 0; i + 8 < n; i += 8)
			h = (h ^ (load8(s + i) | FOLD8)) * k;
		h = (h ^ (load8(s + n - 8) | FOLD8)) * k;
	}
	return (uint32_t)(h >> 32);
}

/* Names seen so far that are not in enum http_hdr. */
struct other_names {
	unsigned n;
	uint32_t hash[HTTP_MAX_HEADERS_HARD];
	uint8_t idx[HTTP_MAX_HEADERS_HARD];
};

/*
 * No field name may appear twice, whatever it is (RFC 9110 5.3 lets a
 * recipient combine repeats into a list; two parsers could differ on that, and
 * a signed header must have one reading). Known names: O(1) through known[].
 * Other names: a pairwise check on 32-bit hashes, at most 128*127/2 integer
 * compares, with a byte compare only when hashes match. Records `h` (index
 * m->nheaders) when it is new.
 */
static bool
field_is_duplicate(struct http_message *m, struct other_names *o, const struct http_header *h)
{
	if (h->id != HTTP_HDR_OTHER) {
		if (m->known[h->id] >= 0)
			return true;
		m->known[h->id] = (int16_t)m->nheaders;
		return false;
	}
	uint32_t hash = name_hash(h->name, h->name_len);
	for (unsigned i = 0; i < o->n; i++) {
		const struct http_header *prev = &m->headers[o->idx[i]];
		if (o->hash[i] == hash && prev->name_len == h->name_len && eq_nocase(prev->name, h->name, h->name_len))
			return true;
	}
	o->hash[o->n] = hash;
	o->idx[o->n] = (uint8_t)m->nheaders;
	o->n++;
	return false;
}

/* Field lines from `p` through the empty line, which must end the head exactly (2.1). */
static enum http_status
parse_fields(const char *p, const char *end, unsigned max_headers, struct http_message *m, struct http_error *err)
{
	struct other_names others;

	others.n = 0;
	if (max_headers > HTTP_MAX_HEADERS_HARD)
		max_headers = HTTP_MAX_HEADERS_HARD;
	for (;;) {
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
			if (p + 2 != end)
				return fail(err, "data after the header section", NULL, 0);
			return HTTP_OK;
		}
		if (m->nheaders >= max_headers)
			return fail(err, "too many header fields", NULL, 0);
		struct http_header *h = &m->headers[m->nheaders];
		if (parse_field_line(&p, end, m->nheaders == 0, h, err) != HTTP_OK)
			return HTTP_ERROR;
		if (field_is_duplicate(m, &others, h))
			return fail_hdr(err, "duplicate header field", h);
		m->nheaders++;
	}
}

/* Only headers[0..nheaders) are written; the array is not cleared (it is 5 KiB). */
static void
message_init(struct http_message *m)
{
	m->status = 0;
	m->reason = NULL;
	m->reason_len = 0;
	m->nheaders = 0;
	memset(m->known, 0xff, sizeof(m->known)); /* all -1 */
	m->content_length = 0;
	m->has_content_length = false;
	m->chunked = false;
	m->keep_alive = true; /* 9.3: HTTP/1.1 defaults to persistent connections */
	m->expect_continue = false;
	m->connect_host = NULL;
	m->connect_host_len = 0;
	m->connect_port = 0;
}

/* ------------------------------------------------------------------------
 * Field values
 */

enum decimal { DEC_OK, DEC_SYNTAX, DEC_LEADING_ZERO, DEC_OVERFLOW };

/*
 * Content-Length = 1*DIGIT (RFC 9110 8.6): no sign, no whitespace, no list.
 * Leading zeros are valid there but refused: a number must have one spelling.
 */
static enum decimal
parse_decimal(const char *v, size_t len, uint64_t *out)
{
	uint64_t x = 0;

	if (len == 0)
		return DEC_SYNTAX;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!is_class(c, C_DIGIT))
			return DEC_SYNTAX;
		unsigned d = c - '0';
		if (x > (UINT64_MAX - d) / 10)
			return DEC_OVERFLOW;
		x = x * 10 + d;
	}
	if (len > 1 && v[0] == '0')
		return DEC_LEADING_ZERO;
	*out = x;
	return DEC_OK;
}

/* Reason for a Content-Length value, or NULL with *out set. Overflow is over any limit. */
static const char *
content_length_error(const char *v, size_t len, uint64_t limit, const char *too_large, uint64_t *out)
{
	switch (parse_decimal(v, len, out)) {
	case DEC_OK: return *out > limit ? too_large : NULL;
	case DEC_LEADING_ZERO: return "Content-Length with leading zeros is not accepted";
	case DEC_OVERFLOW: return too_large;
	case DEC_SYNTAX:
	default: return "Content-Length is not a decimal number";
	}
}

/*
 * Connection = #connection-option (RFC 9110 7.6.1): a comma list of tokens,
 * case-insensitive; empty elements are ignored (RFC 9110 5.6.1). Sets
 * *close when "close" is listed (9.6). With `only_ka_close`, any other
 * option is refused: an option names a field to strip, and a client must not
 * be able to make us drop a signed header.
 */
static bool
connection_list_ok(const char *v, size_t len, bool only_ka_close, bool *close)
{
	const char *p = v, *end = v + len;

	while (p < end) {
		while (p < end && (*p == ',' || is_class((unsigned char)*p, C_OWS)))
			p++;
		const char *tok = p;
		while (p < end && is_class((unsigned char)*p, C_TCHAR))
			p++;
		size_t n = (size_t)(p - tok);
		while (p < end && is_class((unsigned char)*p, C_OWS))
			p++;
		if (p < end && *p != ',')
			return false; /* not a token */
		if (n == 0)
			continue;
		if (value_is(tok, n, "close"))
			*close = true;
		else if (only_ka_close && !value_is(tok, n, "keep-alive"))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------------
 * Request rules: one row per field the gateway cares about, checked in order.
 */

enum presence { FIELD_OPTIONAL, FIELD_REQUIRED, FIELD_FORBIDDEN };

/* NULL if the value is acceptable, else the reason; may record what it learnt in `m`. */
typedef const char *(*value_check_fn)(const char *v, size_t len, const struct http_limits *lim, struct http_message *m);

struct field_rule {
	enum http_hdr id;
	enum presence presence;
	const char *reason; /* when missing (REQUIRED) or present (FORBIDDEN) */
	value_check_fn check;
};

static const char *
check_connection(const char *v, size_t len, const struct http_limits *lim, struct http_message *m)
{
	bool close = false;
	if (!connection_list_ok(v, len, true, &close))
		return "Connection may only list keep-alive or close";
	if (close)
		m->keep_alive = false;
	return NULL;
}

/* RFC 9110 10.1.1: the only expectation is 100-continue (case-insensitive); others MAY get 417. */
static const char *
check_expect(const char *v, size_t len, const struct http_limits *lim, struct http_message *m)
{
	if (!value_is(v, len, "100-continue"))
		return "Expect other than 100-continue";
	m->expect_continue = true;
	return NULL;
}

/* RFC 9110 8.4: the filters read the body as JSON, so it must not be encoded. */
static const char *
check_content_encoding(const char *v, size_t len, const struct http_limits *lim, struct http_message *m)
{
	return value_is(v, len, "identity") ? NULL : "Content-Encoding other than identity";
}

/*
 * 3.2: Host = uri-host [ ":" port ], and a server MUST answer 400 to an
 * invalid one. We take the subset real endpoints use (names, IPv4, bracketed
 * IPv6, port): no userinfo, path, percent-encoding or whitespace.
 */
static const char *
check_host(const char *v, size_t len, const struct http_limits *lim, struct http_message *m)
{
	if (len == 0)
		return "invalid Host header";
	for (size_t i = 0; i < len; i++)
		if (!is_class((unsigned char)v[i], C_HOST))
			return "invalid Host header";
	return NULL;
}

static const char *
check_not_empty(const char *v, size_t len, const struct http_limits *lim, struct http_message *m)
{
	return len > 0 ? NULL : "empty value in a required header field";
}

/* 6.3 item 6: Content-Length frames the request body; the limit is checked before any byte is read. */
static const char *
check_request_length(const char *v, size_t len, const struct http_limits *lim, struct http_message *m)
{
	const char *why = content_length_error(v, len, lim->max_body_bytes,
	                                       "request body larger than the configured limit", &m->content_length);
	m->has_content_length = why == NULL;
	return why;
}

/*
 * RFC 9110 8.3: the DynamoDB JSON protocol media type, as every SDK sends
 * it, optionally with a charset=utf-8 parameter (the only charset JSON has,
 * RFC 8259 8.1). Type, subtype and parameter are case-insensitive.
 */
static const char *
check_content_type(const char *v, size_t len, const struct http_limits *lim, struct http_message *m)
{
	static const char type[] = "application/x-amz-json-1.0";
	const size_t tlen = sizeof(type) - 1;
	const char *p, *end = v + len;

	if (len < tlen || !eq_fold(v, type, tlen))
		return "unsupported Content-Type";
	p = v + tlen;
	if (p == end)
		return NULL;
	while (p < end && is_class((unsigned char)*p, C_OWS))
		p++;
	if (p == end || *p != ';')
		return "unsupported Content-Type";
	for (p++; p < end && is_class((unsigned char)*p, C_OWS); p++)
		;
	size_t rest = (size_t)(end - p);
	if (value_is(p, rest, "charset=utf-8") || value_is(p, rest, "charset=\"utf-8\""))
		return NULL;
	return "unsupported Content-Type";
}

static const struct field_rule request_rules[] = {
    /* 6.1: a server MAY refuse Transfer-Encoding in a request; with Content-Length it is the smuggling case (6.3). */
    {HTTP_HDR_TRANSFER_ENCODING, FIELD_FORBIDDEN, "Transfer-Encoding is not accepted; send Content-Length", NULL},
    /* RFC 9110 7.8: the data path never switches protocol. */
    {HTTP_HDR_UPGRADE, FIELD_FORBIDDEN, "Upgrade is not accepted", NULL},
    {HTTP_HDR_CONNECTION, FIELD_OPTIONAL, NULL, check_connection},
    {HTTP_HDR_EXPECT, FIELD_OPTIONAL, NULL, check_expect},
    {HTTP_HDR_CONTENT_ENCODING, FIELD_OPTIONAL, NULL, check_content_encoding},
    {HTTP_HDR_HOST, FIELD_REQUIRED, "missing Host header", check_host},
    {HTTP_HDR_X_AMZ_TARGET, FIELD_REQUIRED, "missing X-Amz-Target header", check_not_empty},
    {HTTP_HDR_AUTHORIZATION, FIELD_REQUIRED, "missing Authorization header", check_not_empty},
    /* RFC 9110 8.6: a POST ought to carry Content-Length; without it there is no framing we accept. */
    {HTTP_HDR_CONTENT_LENGTH, FIELD_REQUIRED, "missing Content-Length header", check_request_length},
    {HTTP_HDR_CONTENT_TYPE, FIELD_REQUIRED, "missing Content-Type header", check_content_type},
};

static enum http_status
apply_rules(const struct field_rule *rules, size_t n, const struct http_limits *lim, struct http_message *m,
            struct http_error *err)
{
	for (size_t i = 0; i < n; i++) {
		const struct field_rule *r = &rules[i];
		int idx = m->known[r->id];
		if (idx < 0) {
			if (r->presence == FIELD_REQUIRED)
				return fail(err, r->reason, hdr_names[r->id].name, hdr_names[r->id].len);
			continue;
		}
		const struct http_header *h = &m->headers[idx];
		if (r->presence == FIELD_FORBIDDEN)
			return fail_hdr(err, r->reason, h);
		const char *why = r->check != NULL ? r->check(h->value, h->value_len, lim, m) : NULL;
		if (why != NULL)
			return fail_hdr(err, why, h);
	}
	return HTTP_OK;
}

/*
 * 3: request-line = method SP request-target SP HTTP-version. The gateway
 * carries one operation shape, so the whole line is compared at once: method
 * is case-sensitive (RFC 9110 9.1), origin-form "/" only (3.2.1), single SP
 * (3: no lenient whitespace), HTTP/1.1 only (2.3).
 */
static const char *
parse_request_line(const char *head, size_t len, struct http_error *err)
{
	static const char line[] = "POST / HTTP/1.1\r\n";
	const size_t n = sizeof(line) - 1;

	if (len >= n && memcmp(head, line, n) == 0)
		return head + n;
	if (len >= n - 1 && memcmp(head, line, n - 2) == 0 && head[n - 2] == '\n')
		fail(err, "bare LF line ending", NULL, 0);
	else
		fail(err, "only POST / HTTP/1.1 is accepted", NULL, 0);
	return NULL;
}

enum http_status
http_parse_request(const char *head, size_t len, const struct http_limits *lim, struct http_message *out,
                   struct http_error *err)
{
	message_init(out);
	if (len > lim->max_header_bytes)
		return fail(err, "header section too large", NULL, 0);
	const char *p = parse_request_line(head, len, err);
	if (p == NULL)
		return HTTP_ERROR;
	if (parse_fields(p, head + len, lim->max_headers, out, err) != HTTP_OK)
		return HTTP_ERROR;
	return apply_rules(request_rules, sizeof(request_rules) / sizeof(request_rules[0]), lim, out, err);
}

/* ------------------------------------------------------------------------
 * CONNECT (egress listener)
 */

static const struct field_rule connect_rules[] = {
    {HTTP_HDR_TRANSFER_ENCODING, FIELD_FORBIDDEN, "a CONNECT request has no body", NULL},
    {HTTP_HDR_CONTENT_LENGTH, FIELD_FORBIDDEN, "a CONNECT request has no body", NULL},
    {HTTP_HDR_UPGRADE, FIELD_FORBIDDEN, "Upgrade is not accepted", NULL},
    {HTTP_HDR_EXPECT, FIELD_FORBIDDEN, "Expect is not accepted on CONNECT", NULL},
    {HTTP_HDR_CONNECTION, FIELD_OPTIONAL, NULL, check_connection},
    /* Python's http.client (botocore, urllib3) sends CONNECT with no Host at all. */
    {HTTP_HDR_HOST, FIELD_OPTIONAL, NULL, check_host},
};

/* Letters, digits, '-' and '.', at least one: what egress_resolve may look at. */
static bool
is_ldh_name(const char *h, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '.'))
			return false;
	}
	return true;
}

/* The inside of "[...]": an IPv6 address (hex digits, ':', '.' for an embedded IPv4), at most 45 octets. */
static bool
is_ip_literal(const char *h, size_t n)
{
	if (n < 2 || n > 45)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
			return false;
	}
	return true;
}

/*
 * "CONNECT host:port HTTP/1.1" CRLF; fills connect_host/port. HTTP/1.0 is
 * accepted too: Python's http.client, under botocore and urllib3, tunnels
 * with it. Nothing after the tunnel depends on the version.
 */
static const char *
parse_connect_line(const char *head, size_t len, struct http_message *m, struct http_error *err)
{
	static const char method[] = "CONNECT ", version[] = " HTTP/1.1\r\n", version10[] = " HTTP/1.0\r\n";
	const char *end = head + len, *t, *sp, *colon;
	uint64_t port;

	if (len < sizeof(method) - 1 || memcmp(head, method, sizeof(method) - 1) != 0) {
		fail(err, "only CONNECT host:443 HTTP/1.1 is accepted on this listener", NULL, 0);
		return NULL;
	}
	t = head + sizeof(method) - 1;
	for (sp = t; sp < end && *sp != ' ' && *sp != '\r' && *sp != '\n'; sp++)
		;
	if ((size_t)(end - sp) < sizeof(version) - 1 ||
	    (memcmp(sp, version, sizeof(version) - 1) != 0 && memcmp(sp, version10, sizeof(version10) - 1) != 0)) {
		fail(err, "only CONNECT host:443 HTTP/1.1 is accepted on this listener", NULL, 0);
		return NULL;
	}
	if (t < sp && *t == '[') {
		/* RFC 3986 3.2.2 IP-literal: well-formed, so the egress policy (not the parser) refuses it with 403. */
		colon = memchr(t, ']', (size_t)(sp - t));
		if (colon == NULL || !is_ip_literal(t + 1, (size_t)(colon - t - 1)) || colon + 1 >= sp ||
		    colon[1] != ':') {
			fail(err, "CONNECT target must be host:port", NULL, 0);
			return NULL;
		}
		colon++;
	} else {
		colon = memchr(t, ':', (size_t)(sp - t));
		if (colon == NULL || memchr(colon + 1, ':', (size_t)(sp - colon - 1)) != NULL) {
			fail(err, "CONNECT target must be host:port", NULL, 0);
			return NULL;
		}
		/*
		 * Only the characters of a DNS name here; label and name lengths are the
		 * egress policy's to refuse (403, logged as a refused name, not a framing error).
		 */
		if (!is_ldh_name(t, (size_t)(colon - t))) {
			fail(err, "CONNECT target must be a DNS name", NULL, 0);
			return NULL;
		}
	}
	if (parse_decimal(colon + 1, (size_t)(sp - colon - 1), &port) != DEC_OK || port == 0 || port > 65535) {
		fail(err, "CONNECT target port is not 1..65535", NULL, 0);
		return NULL;
	}
	m->connect_host = t;
	m->connect_host_len = (size_t)(colon - t);
	m->connect_port = (uint16_t)port;
	return sp + sizeof(version) - 1;
}

enum http_status
http_parse_connect(const char *head, size_t len, const struct http_limits *lim, struct http_message *out,
                   struct http_error *err)
{
	message_init(out);
	if (len > lim->max_header_bytes)
		return fail(err, "header section too large", NULL, 0);
	const char *p = parse_connect_line(head, len, out, err);
	if (p == NULL)
		return HTTP_ERROR;
	if (parse_fields(p, head + len, lim->max_headers, out, err) != HTTP_OK)
		return HTTP_ERROR;
	if (apply_rules(connect_rules, sizeof(connect_rules) / sizeof(connect_rules[0]), lim, out, err) != HTTP_OK)
		return HTTP_ERROR;
	/* RFC 9110 7.2: Host carries the same authority; two names for one tunnel is ambiguity we refuse. */
	if (out->known[HTTP_HDR_HOST] < 0)
		return HTTP_OK;
	const struct http_header *host = &out->headers[out->known[HTTP_HDR_HOST]];
	const size_t line_overhead = (sizeof("CONNECT ") - 1) + (sizeof(" HTTP/1.1\r\n") - 1);
	const char *after_line = head + len; /* recomputed below: the request line ends at the first CRLF */
	for (const char *q = head; q + 1 < head + len; q++)
		if (q[0] == '\r' && q[1] == '\n') {
			after_line = q + 2;
			break;
		}
	size_t alen = (size_t)(after_line - head) - line_overhead; /* "host:port" */
	if (!(host->value_len == alen && eq_nocase(host->value, out->connect_host, alen)) &&
	    !(host->value_len == out->connect_host_len &&
	      eq_nocase(host->value, out->connect_host, out->connect_host_len)))
		return fail_hdr(err, "Host does not match the CONNECT target", host);
	return HTTP_OK;
}

/* ------------------------------------------------------------------------
 * Responses
 */

/*
 * 4: status-line = HTTP-version SP status-code SP [ reason-phrase ], with
 * status-code = 3DIGIT in 100..599 (RFC 9110 15) and reason-phrase of
 * HTAB / SP / VCHAR / obs-text. Only HTTP/1.1: we only ever send 1.1 and
 * its framing rules are the ones checked below.
 */
static const char *
parse_status_line(const char *head, size_t len, struct http_message *m, struct http_error *err)
{
	static const char version[] = "HTTP/1.1 ";
	const size_t vlen = sizeof(version) - 1;
	const char *end = head + len;

	if (len < vlen || memcmp(head, version, vlen) != 0) {
		fail(err, "only HTTP/1.1 responses are accepted", NULL, 0);
		return NULL;
	}
	const char *p = head + vlen;
	if (end - p < 4 || p[0] < '1' || p[0] > '5' || !is_class((unsigned char)p[1], C_DIGIT) ||
	    !is_class((unsigned char)p[2], C_DIGIT) || p[3] != ' ') {
		fail(err, "malformed status line", NULL, 0);
		return NULL;
	}
	m->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	m->reason = p + 4;
	p = field_value_end(m->reason, end);
	const char *why = line_end_error(p, end, "invalid character in reason phrase");
	if (why != NULL) {
		fail(err, why, NULL, 0);
		return NULL;
	}
	m->reason_len = (size_t)(p - m->reason);
	return p + 2;
}

/*
 * Message body length of a response (6.3). Close-delimited bodies (item 8)
 * are refused: they cannot be told from a truncated response. CL with TE is
 * an error (item 3, and 6.1: it may be a smuggling attempt). Only the single
 * coding "chunked" is relayed (7). For 1xx/204/304 the body is empty (item
 * 1) whatever the fields say; a Content-Length there describes the
 * representation, so it is checked for syntax but not against the limit.
 */
static enum http_status
response_framing(const struct http_limits *lim, struct http_message *m, struct http_error *err)
{
	int te = m->known[HTTP_HDR_TRANSFER_ENCODING], cl = m->known[HTTP_HDR_CONTENT_LENGTH];
	bool no_body = m->status < 200 || m->status == 204 || m->status == 304;
	uint64_t n = 0;

	if (te >= 0 && cl >= 0)
		return fail(err, "both Content-Length and Transfer-Encoding", NULL, 0);
	if (te >= 0) {
		const struct http_header *h = &m->headers[te];
		if (!value_is(h->value, h->value_len, "chunked"))
			return fail_hdr(err, "Transfer-Encoding other than chunked", h);
		m->chunked = !no_body;
	} else if (cl >= 0) {
		const struct http_header *h = &m->headers[cl];
		const char *why =
		    content_length_error(h->value, h->value_len, no_body ? UINT64_MAX : lim->max_body_bytes,
		                         "response body larger than the configured limit", &n);
		if (why != NULL)
			return fail_hdr(err, why, h);
		m->has_content_length = true;
		m->content_length = no_body ? 0 : n;
	} else if (!no_body) {
		return fail(err, "response has neither Content-Length nor chunked framing", NULL, 0);
	}
	if (no_body) {
		m->has_content_length = true;
		m->content_length = 0;
	}
	return HTTP_OK;
}

static enum http_status
check_response(const struct http_limits *lim, struct http_message *m, struct http_error *err)
{
	/* RFC 9110 15.2.2: 101 only answers an Upgrade, which we never send. */
	if (m->status == 101)
		return fail(err, "101 Switching Protocols was not requested", NULL, 0);
	int idx = m->known[HTTP_HDR_CONNECTION];
	if (idx >= 0) {
		/*
		 * XXX: options other than close are accepted and not reported;
		 * the fields they name are not stripped by this module.
		 */
		const struct http_header *h = &m->headers[idx];
		bool close = false;
		if (!connection_list_ok(h->value, h->value_len, false, &close))
			return fail_hdr(err, "invalid Connection header", h);
		if (close)
			m->keep_alive = false;
	}
	return response_framing(lim, m, err);
}

enum http_status
http_parse_response(const char *head, size_t len, const struct http_limits *lim, struct http_message *out,
                    struct http_error *err)
{
	message_init(out);
	if (len > lim->max_header_bytes)
		return fail(err, "header section too large", NULL, 0);
	const char *p = parse_status_line(head, len, out, err);
	if (p == NULL)
		return HTTP_ERROR;
	if (parse_fields(p, head + len, lim->max_headers, out, err) != HTTP_OK)
		return HTTP_ERROR;
	return check_response(lim, out, err);
}

/* ------------------------------------------------------------------------
 * Chunked relay (7.1):
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk   = 1*("0") [ chunk-ext ] CRLF
 * Line bytes go through a byte state machine; chunk data is moved in bulk.
 */

enum chunk_state {
	CS_SIZE_FIRST, /* first HEXDIG of chunk-size */
	CS_SIZE,       /* more HEXDIG or CR */
	CS_SIZE_LF,
	CS_DATA, /* `remaining` bytes of chunk-data */
	CS_DATA_CR,
	CS_DATA_LF,
	CS_TRAILER_LINE, /* start of a trailer field line, or CR of the final CRLF */
	CS_TRAILER_NAME,
	CS_TRAILER_VALUE,
	CS_TRAILER_LF,
	CS_FINAL_LF,
	CS_DONE,
	CS_ERROR, /* line_len holds the enum chunk_error */
};

enum chunk_error {
	CE_NONE,
	CE_SIZE,
	CE_SIZE_LONG,
	CE_EXTENSION,
	CE_SIZE_SPACE,
	CE_BARE_LF,
	CE_BARE_CR,
	CE_DATA_CRLF,
	CE_OBS_FOLD,
	CE_TRAILER_NAME,
	CE_TRAILER_EMPTY_NAME,
	CE_TRAILER_SPACE,
	CE_TRAILER_VALUE,
	CE_TRAILER_LARGE,
	CE_INTERNAL,
};

static const char *const chunk_reasons[] = {
    [CE_NONE] = "no error",
    [CE_SIZE] = "invalid chunk size",
    [CE_SIZE_LONG] = "chunk size has more than 15 hex digits",
    [CE_EXTENSION] = "chunk extensions are not accepted",
    [CE_SIZE_SPACE] = "whitespace in chunk size line",
    [CE_BARE_LF] = "bare LF line ending",
    [CE_BARE_CR] = "bare CR line ending",
    [CE_DATA_CRLF] = "missing CRLF after chunk data",
    [CE_OBS_FOLD] = "obs-fold line folding is not accepted",
    [CE_TRAILER_NAME] = "invalid character in trailer field name",
    [CE_TRAILER_EMPTY_NAME] = "empty trailer field name",
    [CE_TRAILER_SPACE] = "whitespace before colon in trailer field",
    [CE_TRAILER_VALUE] = "invalid character in trailer field value",
    [CE_TRAILER_LARGE] = "trailer section too large",
    [CE_INTERNAL] = "chunked body could not be relayed",
};

void
http_chunked_init(struct http_chunked *c)
{
	c->state = CS_SIZE_FIRST;
	c->remaining = 0;
	c->line_len = 0;
	c->body_bytes = 0;
}

static unsigned
hex_value(unsigned char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(ascii_lower(c) - 'a' + 10);
}

/* 7.1: chunk-size = 1*HEXDIG. No leading junk, no extension (7.1.1), no trailing BWS. */
static enum chunk_error
chunk_size_byte(struct http_chunked *c, unsigned char b)
{
	if (is_class(b, C_HEX)) {
		if (++c->line_len > HTTP_CHUNKED_MAX_SIZE_DIGITS)
			return CE_SIZE_LONG;
		c->remaining = c->remaining << 4 | hex_value(b);
		c->state = CS_SIZE;
		return CE_NONE;
	}
	if (c->state == CS_SIZE_FIRST)
		return b == '\n' ? CE_BARE_LF : CE_SIZE;
	switch (b) {
	case '\r': c->state = CS_SIZE_LF; return CE_NONE;
	case '\n': return CE_BARE_LF;
	case ';': return CE_EXTENSION;
	case ' ':
	case '\t': return CE_SIZE_SPACE;
	default: return CE_SIZE;
	}
}

/* 7.1.2: trailer fields follow the field-line rules of 5 (no obs-fold, no space before ':'). */
static enum chunk_error
trailer_byte(struct http_chunked *c, unsigned char b)
{
	switch (c->state) {
	case CS_TRAILER_LINE:
		if (is_class(b, C_TCHAR)) {
			c->state = CS_TRAILER_NAME;
			return CE_NONE;
		}
		if (b == '\r') {
			c->state = CS_FINAL_LF;
			return CE_NONE;
		}
		if (b == '\n')
			return CE_BARE_LF;
		if (is_class(b, C_OWS))
			return CE_OBS_FOLD;
		return b == ':' ? CE_TRAILER_EMPTY_NAME : CE_TRAILER_NAME;
	case CS_TRAILER_NAME:
		if (is_class(b, C_TCHAR))
			return CE_NONE;
		if (b == ':') {
			c->state = CS_TRAILER_VALUE;
			return CE_NONE;
		}
		return is_class(b, C_OWS) ? CE_TRAILER_SPACE : CE_TRAILER_NAME;
	case CS_TRAILER_VALUE:
		if (is_class(b, C_FVAL))
			return CE_NONE;
		if (b == '\r') {
			c->state = CS_TRAILER_LF;
			return CE_NONE;
		}
		return b == '\n' ? CE_BARE_LF : CE_TRAILER_VALUE;
	default: return CE_INTERNAL;
	}
}

/* Advances the line state machine by one byte. */
static enum chunk_error
chunk_byte(struct http_chunked *c, unsigned char b)
{
	switch (c->state) {
	case CS_SIZE_FIRST:
	case CS_SIZE: return chunk_size_byte(c, b);
	case CS_SIZE_LF:
		if (b != '\n')
			return CE_BARE_CR;
		c->line_len = 0;
		c->state = c->remaining == 0 ? CS_TRAILER_LINE : CS_DATA;
		return CE_NONE;
	case CS_DATA_CR:
		if (b != '\r')
			return CE_DATA_CRLF;
		c->state = CS_DATA_LF;
		return CE_NONE;
	case CS_DATA_LF:
		if (b != '\n')
			return CE_DATA_CRLF;
		c->state = CS_SIZE_FIRST;
		c->line_len = 0;
		return CE_NONE;
	case CS_TRAILER_LINE:
	case CS_TRAILER_NAME:
	case CS_TRAILER_VALUE:
		if (++c->line_len > HTTP_CHUNKED_MAX_TRAILER)
			return CE_TRAILER_LARGE;
		return trailer_byte(c, b);
	case CS_TRAILER_LF:
	case CS_FINAL_LF:
		/* line_len counts the whole trailer section, final CRLF included */
		if (++c->line_len > HTTP_CHUNKED_MAX_TRAILER)
			return CE_TRAILER_LARGE;
		if (b != '\n')
			return CE_BARE_CR;
		c->state = c->state == CS_FINAL_LF ? CS_DONE : CS_TRAILER_LINE;
		return CE_NONE;
	default: return CE_INTERNAL;
	}
}

static enum http_chunked_status
chunk_fail(struct http_chunked *c, enum chunk_error e, struct http_error *err)
{
	c->state = CS_ERROR;
	c->line_len = e;
	fail(err, chunk_reasons[e], NULL, 0);
	return HTTP_CHUNKED_ERROR;
}

/*
 * Runs line bytes from the front of `in` through the state machine until it
 * reaches chunk data or the end of the message, then moves them to `out`.
 * Returns the number of bytes moved (0: need more input) or -1 on error.
 * evbuffers only keep empty chains at their tail, so four extents always
 * reach data that is there.
 */
static ssize_t
chunk_relay_line(struct http_chunked *c, struct evbuffer *in, struct evbuffer *out, enum chunk_error *e)
{
	struct evbuffer_iovec v[4];
	int n = evbuffer_peek(in, -1, NULL, v, 4);
	size_t k = 0;
	bool stop = false;

	for (int i = 0; i < n && i < 4 && !stop; i++) {
		const unsigned char *p = v[i].iov_base;
		for (size_t j = 0; j < v[i].iov_len; j++) {
			*e = chunk_byte(c, p[j]);
			if (*e != CE_NONE)
				return -1;
			k++;
			if (c->state == CS_DATA || c->state == CS_DONE) {
				stop = true;
				break;
			}
		}
	}
	if (k > 0 && evbuffer_remove_buffer(in, out, k) != (int)k) {
		*e = CE_INTERNAL;
		return -1;
	}
	return (ssize_t)k;
}

/* Moves up to `remaining` bytes of chunk data, whole chains where possible. */
static bool
chunk_relay_data(struct http_chunked *c, struct evbuffer *in, struct evbuffer *out)
{
	size_t avail = evbuffer_get_length(in);
	size_t n = avail < c->remaining ? avail : (size_t)c->remaining;

	if (n > (1u << 30))
		n = 1u << 30; /* evbuffer_remove_buffer counts in int */
	if (evbuffer_remove_buffer(in, out, n) != (int)n)
		return false;
	c->remaining -= n;
	c->body_bytes += n;
	if (c->remaining == 0)
		c->state = CS_DATA_CR;
	return true;
}

/*
 * Byte-faithful: every byte taken from `in` is appended to `out` as is, and
 * nothing past the final CRLF is taken. The body size limit is the caller's
 * (body_bytes). XXX: trailer fields are relayed verbatim; they are checked
 * for syntax and size only, not for duplicates or hop-by-hop names.
 */
enum http_chunked_status
http_chunked_relay(struct http_chunked *c, struct evbuffer *in, struct evbuffer *out, struct http_error *err)
{
	enum chunk_error e = CE_NONE;

	for (;;) {
		switch (c->state) {
		case CS_DONE: return HTTP_CHUNKED_DONE;
		case CS_ERROR: return chunk_fail(c, (enum chunk_error)c->line_len, err);
		case CS_DATA:
			if (evbuffer_get_length(in) == 0)
				return HTTP_CHUNKED_MORE;
			if (!chunk_relay_data(c, in, out))
				return chunk_fail(c, CE_INTERNAL, err);
			break;
		default: {
			ssize_t k = chunk_relay_line(c, in, out, &e);
			if (k < 0)
				return chunk_fail(c, e, err);
			if (k == 0)
				return HTTP_CHUNKED_MORE;
			break;
		}
		}
	}
}

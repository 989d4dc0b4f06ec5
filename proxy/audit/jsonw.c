#include "proxy/audit/jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
jsonw_init(struct jsonw *w)
{
	memset(w, 0, sizeof(*w));
}

void
jsonw_release(struct jsonw *w)
{
	free(w->buf);
	jsonw_init(w);
}

void
jsonw_reset(struct jsonw *w)
{
	w->len = 0;
	w->failed = false;
	w->depth = 0;
	w->need_comma[0] = false;
}

static bool jsonw_grow(struct jsonw *w, size_t extra);

/* The common case inline: the warm buffer has room. */
static inline bool
jsonw_reserve(struct jsonw *w, size_t extra)
{
	if (__builtin_expect(!w->failed && w->len + extra <= w->cap, 1))
		return true;
	return jsonw_grow(w, extra);
}

static bool
jsonw_grow(struct jsonw *w, size_t extra)
{
	size_t want, cap;
	char *p;

	if (w->failed)
		return false;
	want = w->len + extra;
	if (want <= w->cap)
		return true;
	cap = w->cap ? w->cap : 512;
	while (cap < want)
		cap *= 2;
	if ((p = realloc(w->buf, cap)) == NULL) {
		w->failed = true;
		return false;
	}
	w->buf = p;
	w->cap = cap;
	return true;
}

void
jsonw_raw(struct jsonw *w, const char *s, size_t n)
{
	if (!jsonw_reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void
jsonw_putc(struct jsonw *w, char c)
{
	if (jsonw_reserve(w, 1))
		w->buf[w->len++] = c;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid (RFC 3629 table). */
static size_t
utf8_valid_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (n >= 2 && (s[1] & 0xc0) == 0x80) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = (c == 0xe0) ? 0xa0 : 0x80, hi = (c == 0xed) ? 0x9f : 0xbf;
		return (n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80) ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = (c == 0xf0) ? 0x90 : 0x80, hi = (c == 0xf4) ? 0x8f : 0xbf;
		return (n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
			   (s[3] & 0xc0) == 0x80)
		    ? 4
		    : 0;
	}
	return 0;
}

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/*
 * Nonzero when one of the 8 bytes in x needs more than a copy: below 0x20,
 * '"', '\\' or 0x80 and above (UTF-8 to check). It may flag a clean byte
 * next to one that is flagged (the zero-byte test borrows), never miss one:
 * a flagged word just takes the byte-by-byte path.
 */
static inline uint64_t
needs_escape8(uint64_t x)
{
	uint64_t q = x ^ (0x22 * ONES), b = x ^ (0x5c * ONES);
	uint64_t ctl = (x - 0x20 * ONES) & ~x; /* a byte below 0x20 (exact while no byte has its high bit) */
	uint64_t quote = (q - ONES) & ~q, bslash = (b - ONES) & ~b; /* a zero byte in q, in b */

	return (ctl | quote | bslash | x) & HIGHS;
}

void
jsonw_escape(struct jsonw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;
	uint64_t x;

	/* Worst case every byte becomes \u00XX (6) or U+FFFD escaped (6). */
	if (!jsonw_reserve(w, n * 6))
		return;
	while (i < n) {
		unsigned char c;
		size_t ulen;

		/* The fast path: 8 bytes at a time while none needs escaping (names, ids, ARNs: all of them). */
		while (i + 8 <= n) {
			memcpy(&x, p + i, 8);
			if (needs_escape8(x))
				break;
			i += 8;
			run += 8;
		}
		if (i >= n)
			break;
		if (n - i < 8) { /* the short tail, padded with a clean byte: one test instead of one per byte */
			x = 0x6161616161616161ull;
			memcpy(&x, p + i, n - i);
			if (!needs_escape8(x)) {
				run += n - i;
				i = n;
				break;
			}
		}
		c = p[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			run++;
			continue;
		}
		memcpy(w->buf + w->len, s + i - run, run);
		w->len += run;
		run = 0;
		if (c >= 0x80) {
			ulen = utf8_valid_len(p + i, n - i);
			if (ulen == 0) {
				memcpy(w->buf + w->len, "\\ufffd", 6);
				w->len += 6;
				i++;
			} else {
				memcpy(w->buf + w->len, s + i, ulen);
				w->len += ulen;
				i += ulen;
			}
			continue;
		}
		w->buf[w->len++] = '\\';
		switch (c) {
		case '"': w->buf[w->len++] = '"'; break;
		case '\\': w->buf[w->len++] = '\\'; break;
		case '\n': w->buf[w->len++] = 'n'; break;
		case '\r': w->buf[w->len++] = 'r'; break;
		case '\t': w->buf[w->len++] = 't'; break;
		default:
			w->buf[w->len++] = 'u';
			w->buf[w->len++] = '0';
			w->buf[w->len++] = '0';
			w->buf[w->len++] = hex[c >> 4];
			w->buf[w->len++] = hex[c & 0xf];
		}
		i++;
	}
	memcpy(w->buf + w->len, s + i - run, run);
	w->len += run;
}

/* Writes the separator and the key (if any) before a value. */
static void
jsonw_prefix(struct jsonw *w, const char *key)
{
	size_t n;

	if (w->need_comma[w->depth] && jsonw_reserve(w, 1))
		w->buf[w->len++] = ',';
	w->need_comma[w->depth] = true;
	if (key == NULL)
		return;
	n = strlen(key);
	if (!jsonw_reserve(w, n + 3))
		return;
	w->buf[w->len++] = '"';
	jsonw_escape(w, key, n);
	if (jsonw_reserve(w, 2)) {
		w->buf[w->len++] = '"';
		w->buf[w->len++] = ':';
	}
}

static void
jsonw_open(struct jsonw *w, const char *key, char c)
{
	jsonw_prefix(w, key);
	jsonw_putc(w, c);
	if (w->depth >= JSONW_MAX_DEPTH) {
		w->failed = true;
		return;
	}
	w->depth++;
	w->need_comma[w->depth] = false;
}

static void
jsonw_close(struct jsonw *w, char c)
{
	if (w->depth == 0) {
		w->failed = true;
		return;
	}
	w->depth--;
	jsonw_putc(w, c);
}

void
jsonw_object_begin(struct jsonw *w, const char *key)
{
	jsonw_open(w, key, '{');
}

void
jsonw_object_end(struct jsonw *w)
{
	jsonw_close(w, '}');
}

void
jsonw_array_begin(struct jsonw *w, const char *key)
{
	jsonw_open(w, key, '[');
}

void
jsonw_array_end(struct jsonw *w)
{
	jsonw_close(w, ']');
}

void
jsonw_stringn(struct jsonw *w, const char *key, const char *s, size_t n)
{
	jsonw_prefix(w, key);
	jsonw_putc(w, '"');
	jsonw_escape(w, s, n);
	jsonw_putc(w, '"');
}

void
jsonw_string(struct jsonw *w, const char *key, const char *s)
{
	if (s == NULL)
		jsonw_null(w, key);
	else
		jsonw_stringn(w, key, s, strlen(s));
}

size_t
jsonw_fmt_u64(char *out, uint64_t v)
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

/* Integers without printf: the record has a dozen numbers, printf cost about 1k instructions each. */
void
jsonw_int(struct jsonw *w, const char *key, int64_t v)
{
	char tmp[24];
	size_t n = 0;

	if (v < 0)
		tmp[n++] = '-';
	n += jsonw_fmt_u64(tmp + n, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
	jsonw_prefix(w, key);
	jsonw_raw(w, tmp, n);
}

void
jsonw_uint(struct jsonw *w, const char *key, uint64_t v)
{
	char tmp[24];
	size_t n = jsonw_fmt_u64(tmp, v);

	jsonw_prefix(w, key);
	jsonw_raw(w, tmp, n);
}

/* As "%.3f" without printf: rounded to the nearest thousandth (ties away from zero). */
void
jsonw_double3(struct jsonw *w, const char *key, double v)
{
	char tmp[40];
	size_t n = 0;
	int64_t m;
	uint64_t u;

	if (!(v == v) || v > 1e15 || v < -1e15) /* NaN or absurd: JSON has no spelling for it */
		v = 0;
	m = llround(v * 1000.0);
	if (m < 0)
		tmp[n++] = '-';
	u = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
	n += jsonw_fmt_u64(tmp + n, u / 1000);
	tmp[n++] = '.';
	tmp[n++] = (char)('0' + u / 100 % 10);
	tmp[n++] = (char)('0' + u / 10 % 10);
	tmp[n++] = (char)('0' + u % 10);
	jsonw_prefix(w, key);
	jsonw_raw(w, tmp, n);
}

void
jsonw_bool(struct jsonw *w, const char *key, bool v)
{
	jsonw_prefix(w, key);
	if (v)
		jsonw_raw(w, "true", 4);
	else
		jsonw_raw(w, "false", 5);
}

void
jsonw_null(struct jsonw *w, const char *key)
{
	jsonw_prefix(w, key);
	jsonw_raw(w, "null", 4);
}

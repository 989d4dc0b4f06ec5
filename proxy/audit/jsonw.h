/*
 * jsonw: a small streaming JSON writer into a reusable buffer.
 *
 * Used for access-log records and error bodies: no tree, no allocation per
 * value once the buffer has grown to its working size. Strings are escaped
 * per RFC 8259; bytes that are not valid UTF-8 (header values may carry
 * obs-text) become U+FFFD so the output is always valid JSON.
 */
#ifndef DDBGUARD_PROXY_JSONW_H
#define DDBGUARD_PROXY_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONW_MAX_DEPTH 16

struct jsonw {
	char *buf;
	size_t len;
	size_t cap;
	bool failed; /* an allocation failed; the content is unusable */
	unsigned depth;
	bool need_comma[JSONW_MAX_DEPTH + 1];
};

void jsonw_init(struct jsonw *w);
void jsonw_release(struct jsonw *w); /* frees the buffer */
void jsonw_reset(struct jsonw *w);   /* keeps the buffer */

/* `key` is NULL inside arrays and at the top level. */
void jsonw_object_begin(struct jsonw *w, const char *key);
void jsonw_object_end(struct jsonw *w);
void jsonw_array_begin(struct jsonw *w, const char *key);
void jsonw_array_end(struct jsonw *w);
void jsonw_string(struct jsonw *w, const char *key, const char *s);		/* NULL s writes null */
void jsonw_stringn(struct jsonw *w, const char *key, const char *s, size_t n);
void jsonw_int(struct jsonw *w, const char *key, int64_t v);
void jsonw_uint(struct jsonw *w, const char *key, uint64_t v);
void jsonw_double3(struct jsonw *w, const char *key, double v); /* 3 decimals */
void jsonw_bool(struct jsonw *w, const char *key, bool v);
void jsonw_null(struct jsonw *w, const char *key);
/* Appends raw bytes (no separator logic), e.g. the final newline. */
void jsonw_raw(struct jsonw *w, const char *s, size_t n);

/* decimal(v) into out (at least 20 bytes; not NUL-terminated); returns its length. */
size_t jsonw_fmt_u64(char *out, uint64_t v);

/* Appends the escaped form of s[0..n) (without quotes) to w. Exposed for tests. */
void jsonw_escape(struct jsonw *w, const char *s, size_t n);

#endif

/*
 * condition: IAM Condition blocks, compiled once at load, evaluated per call.
 *
 * Compilation turns every (operator, key) pair into a clause holding the
 * policy values already parsed into what comparison needs: strings sorted for
 * binary search, wildcard patterns apart, decimals split into digit runs,
 * dates as epoch seconds, CIDRs as bytes and a prefix length, ARN patterns
 * split into their six segments. Everything a block owns lives in one chunk
 * list freed at once. Evaluation parses only the request side, on the stack.
 *
 * References (IAM User Guide):
 *   [OPS]   "IAM JSON policy elements: Condition operators"
 *   [MULTI] "Conditions with multiple context keys or values"
 *   [SETS]  "Single-valued vs. multivalued context keys" / "Set operators
 *           for multivalued context keys"
 *   [COND]  "IAM JSON policy elements: Condition" (key names are not
 *           case-sensitive)
 * The choices IAM leaves open are listed in condition.h.
 */
#include "filters/policy/condition.h"
#include "filters/dynamodb/json.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* (operator, key) pairs in one Condition element; IAM's policy size limits keep real ones far below. */
#define COND_MAX_CLAUSES 256
/* Values for one key in a policy. */
#define COND_MAX_VALUES 4096
/* Longest piece of config text echoed back in an error message. */
#define COND_SHOW_MAX 80
/* IAM tag keys: 1-128 characters. */
#define COND_TAG_MAX 128
/* 9999-12-31T23:59:59Z: the last instant a four-digit ISO 8601 year can name. */
#define COND_EPOCH_MAX INT64_C(253402300799)
/*
 * Epoch seconds need 9+ digits (1973 on): "2026" or "20260101" would
 * otherwise be read as 1970 by us and as a year or a date by a person.
 */
#define COND_EPOCH_MIN_DIGITS 9
/* An ARN is arn:partition:service:region:account-id:resource [OPS, ARN condition operators]. */
#define COND_ARN_PARTS 6
/* Enough for any textual IPv6 address, including the dotted IPv4 tail form. */
#define COND_ADDR_TEXT_MAX 46
/* Allocation unit for a block's memory. */
#define COND_CHUNK_BYTES 4096

#define COND_FOR_ALL "ForAllValues:"
#define COND_FOR_ANY "ForAnyValue:"
#define COND_IF_EXISTS "IfExists"

#define COND_NELEM(t) (sizeof(t) / sizeof((t)[0]))

enum cond_family {
	COND_F_STRING,	    /* StringEquals: exact, case-sensitive */
	COND_F_STRING_CI,   /* StringEqualsIgnoreCase: ASCII case folded */
	COND_F_STRING_LIKE, /* StringLike: '*' and '?' anywhere, case-sensitive */
	COND_F_NUMERIC,
	COND_F_DATE,
	COND_F_BOOL,
	COND_F_BINARY,
	COND_F_IP,
	COND_F_ARN, /* ArnEquals and ArnLike: wildcards per segment [OPS] */
	COND_F_NULL,
};

enum cond_rel { COND_EQ, COND_LT, COND_LE, COND_GT, COND_GE };

enum cond_qualifier { COND_Q_NONE, COND_Q_ALL, COND_Q_ANY };

struct cond_operator {
	const char *name;
	enum cond_family family;
	enum cond_rel rel;
	bool negated; /* [MULTI]: values NOR instead of OR; true when the key is absent [OPS] */
};

/* [OPS]: every operator IAM defines. */
static const struct cond_operator cond_operators[] = {
	{ "StringEquals", COND_F_STRING, COND_EQ, false },
	{ "StringNotEquals", COND_F_STRING, COND_EQ, true },
	{ "StringEqualsIgnoreCase", COND_F_STRING_CI, COND_EQ, false },
	{ "StringNotEqualsIgnoreCase", COND_F_STRING_CI, COND_EQ, true },
	{ "StringLike", COND_F_STRING_LIKE, COND_EQ, false },
	{ "StringNotLike", COND_F_STRING_LIKE, COND_EQ, true },
	{ "NumericEquals", COND_F_NUMERIC, COND_EQ, false },
	{ "NumericNotEquals", COND_F_NUMERIC, COND_EQ, true },
	{ "NumericLessThan", COND_F_NUMERIC, COND_LT, false },
	{ "NumericLessThanEquals", COND_F_NUMERIC, COND_LE, false },
	{ "NumericGreaterThan", COND_F_NUMERIC, COND_GT, false },
	{ "NumericGreaterThanEquals", COND_F_NUMERIC, COND_GE, false },
	{ "DateEquals", COND_F_DATE, COND_EQ, false },
	{ "DateNotEquals", COND_F_DATE, COND_EQ, true },
	{ "DateLessThan", COND_F_DATE, COND_LT, false },
	{ "DateLessThanEquals", COND_F_DATE, COND_LE, false },
	{ "DateGreaterThan", COND_F_DATE, COND_GT, false },
	{ "DateGreaterThanEquals", COND_F_DATE, COND_GE, false },
	{ "Bool", COND_F_BOOL, COND_EQ, false },
	{ "BinaryEquals", COND_F_BINARY, COND_EQ, false },
	{ "IpAddress", COND_F_IP, COND_EQ, false },
	{ "NotIpAddress", COND_F_IP, COND_EQ, true },
	{ "ArnEquals", COND_F_ARN, COND_EQ, false },
	{ "ArnLike", COND_F_ARN, COND_EQ, false },
	{ "ArnNotEquals", COND_F_ARN, COND_EQ, true },
	{ "ArnNotLike", COND_F_ARN, COND_EQ, true },
	{ "Null", COND_F_NULL, COND_EQ, false },
};

#define COND_TYPE(t) (1u << (t))

/* Which key types each operator family applies to, and the operators to suggest for a type. */
static const unsigned cond_family_types[] = {
	[COND_F_STRING] = COND_TYPE(COND_T_STRING) | COND_TYPE(COND_T_ARN) | COND_TYPE(COND_T_STRING_NUMERIC),
	[COND_F_STRING_CI] = COND_TYPE(COND_T_STRING) | COND_TYPE(COND_T_ARN) | COND_TYPE(COND_T_STRING_NUMERIC),
	[COND_F_STRING_LIKE] = COND_TYPE(COND_T_STRING) | COND_TYPE(COND_T_ARN) | COND_TYPE(COND_T_STRING_NUMERIC),
	[COND_F_NUMERIC] = COND_TYPE(COND_T_NUMERIC) | COND_TYPE(COND_T_DATE_NUMERIC) | COND_TYPE(COND_T_STRING_NUMERIC),
	[COND_F_DATE] = COND_TYPE(COND_T_DATE) | COND_TYPE(COND_T_DATE_NUMERIC),
	[COND_F_BOOL] = COND_TYPE(COND_T_BOOL),
	[COND_F_BINARY] = 0,
	[COND_F_IP] = COND_TYPE(COND_T_IP),
	[COND_F_ARN] = COND_TYPE(COND_T_ARN),
	[COND_F_NULL] = ~0u,
};

static const struct {
	const char *noun, *operators;
} cond_type_info[] = {
	[COND_T_STRING] = { "a string key", "String... operators" },
	[COND_T_NUMERIC] = { "a numeric key", "Numeric... operators" },
	[COND_T_BOOL] = { "a boolean key", "Bool" },
	[COND_T_DATE] = { "a date key", "Date... operators" },
	[COND_T_IP] = { "an IP address key", "IpAddress or NotIpAddress" },
	[COND_T_ARN] = { "an ARN key", "Arn... or String... operators" },
	[COND_T_DATE_NUMERIC] = { "a date key in epoch seconds", "Date... or Numeric... operators" },
	[COND_T_STRING_NUMERIC] = { "a numeric identifier", "String... or Numeric... operators" },
};

/* A run of bytes in a string owned elsewhere. */
struct cond_slice {
	const char *p;
	size_t len;
};

/* A decimal number as digit runs: no leading zeros in `ip`, no trailing zeros in `fp`; zero is never negative. */
struct cond_decimal {
	struct cond_slice ip, fp;
	bool neg;
};

struct cond_cidr {
	uint8_t addr[16]; /* host bits already cleared */
	uint8_t bits;
	bool v6;
};

struct cond_arn {
	struct cond_slice seg[COND_ARN_PARTS];
	bool wild[COND_ARN_PARTS];
};

/* One (operator, key) pair: all of a block's clauses must hold. */
struct cond_clause {
	const struct cond_operator *op;
	enum cond_qualifier q;
	bool if_exists;
	int key_id;
	const char *tag; /* after the '/' of a prefix key, else NULL */

	bool accept_absent, accept_present; /* Null: "true" accepts absent, "false" present */
	bool accept_true, accept_false;	    /* Bool */
	const char **exact;		    /* sorted (strcmp, or ASCII-folded for _CI) */
	size_t nexact;
	const char **globs; /* StringLike patterns with a wildcard */
	size_t nglobs;
	struct cond_arn *arns; /* Arn patterns with a wildcard */
	size_t narns;
	struct cond_decimal *nums; /* sorted */
	size_t nnums;
	int64_t *times; /* sorted, epoch seconds */
	size_t ntimes;
	struct cond_cidr *cidrs;
	size_t ncidrs;
};

struct cond_chunk {
	struct cond_chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

struct condition_block {
	struct cond_clause *clauses;
	size_t n;
	struct cond_chunk *mem; /* everything above and below it */
};

/* State of one condition_compile() call. */
struct cond_compiler {
	struct diag *d;
	struct diag_path *path;
	const struct condition_key_def *keys;
	size_t nkeys;
	size_t errors; /* counted here: diag_count() stops growing at its limit */
	struct condition_block *b;
};

/* ---- memory ---- */

static void *
cond_alloc(struct condition_block *b, size_t n)
{
	struct cond_chunk *c = b->mem;
	void *p;

	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + 15) & ~(size_t)15;
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > COND_CHUNK_BYTES ? n : COND_CHUNK_BYTES;

		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->next = b->mem;
		c->used = 0;
		c->cap = cap;
		b->mem = c;
	}
	p = c->data + c->used;
	c->used += n;
	return p;
}

static void *
cond_calloc(struct condition_block *b, size_t n, size_t size)
{
	void *p;

	if (size != 0 && n > SIZE_MAX / 2 / size)
		return NULL;
	p = cond_alloc(b, n * size);
	if (p != NULL)
		memset(p, 0, n * size);
	return p;
}

static char *
cond_strdup(struct condition_block *b, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = cond_alloc(b, n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

void
condition_free(struct condition_block *b)
{
	struct cond_chunk *c, *next;

	if (b == NULL)
		return;
	for (c = b->mem; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(b);
}

/* ---- diagnostics ---- */

static void cond_error(struct cond_compiler *cc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
cond_error(struct cond_compiler *cc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cc->errors++;
	diag_error(cc->d, cc->path->text, "%s", msg);
}

/* ---- text helpers (shared by compile and evaluate; none allocates) ---- */

static unsigned char
cond_fold(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* strcmp() with ASCII case folded: IAM's IgnoreCase; ddbguard never calls setlocale. */
static int
cond_strcmp_ci(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;

	while (*x != '\0' && cond_fold(*x) == cond_fold(*y)) {
		x++;
		y++;
	}
	return (int)cond_fold(*x) - (int)cond_fold(*y);
}

static bool
cond_prefix(const char *s, const char *prefix, bool ignore_case)
{
	size_t n = strlen(prefix);

	return ignore_case ? strncasecmp(s, prefix, n) == 0 : strncmp(s, prefix, n) == 0;
}

static bool
cond_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
cond_has_wildcard(const char *s, size_t n)
{
	return memchr(s, '*', n) != NULL || memchr(s, '?', n) != NULL;
}

/* Bytes of the UTF-8 character starting at s[0] (at least 1, at most what is left). */
static size_t
cond_utf8_len(const char *s, size_t left)
{
	size_t n = 1;

	while (n < left && ((unsigned char)s[n] & 0xc0) == 0x80)
		n++;
	return n;
}

/*
 * IAM wildcards [OPS]: '*' any run of characters (incl. none), '?' exactly
 * one character (a whole UTF-8 sequence). Iterative: on a mismatch, retry
 * from the latest '*' with its run one byte longer, so the cost is at most
 * |p| * |s| steps with no recursion.
 */
static bool
cond_glob(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star = SIZE_MAX, retry = 0;

	while (si < sn) {
		if (pi < pn && p[pi] == '*') {
			star = pi++;
			retry = si;
		} else if (pi < pn && p[pi] == '?') {
			pi++;
			si += cond_utf8_len(s + si, sn - si);
		} else if (pi < pn && p[pi] == s[si]) {
			pi++;
			si++;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			si = ++retry;
		} else {
			return false;
		}
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

/* "true" / "false" in any case, as IAM's Bool reads them. */
static bool
cond_parse_bool(const char *s, bool *out)
{
	if (strcasecmp(s, "true") == 0)
		*out = true;
	else if (strcasecmp(s, "false") == 0)
		*out = false;
	else
		return false;
	return true;
}

/*
 * Decimal text: -?[0-9]+(\.[0-9]+)? and nothing else (no '+', exponent,
 * spaces, hex, "inf"). Compared exactly as decimals, never through a double,
 * so 9007199254740993 and 9007199254740992 stay different.
 */
static bool
cond_parse_decimal(const char *s, struct cond_decimal *out)
{
	const char *start;

	out->neg = *s == '-';
	if (out->neg)
		s++;
	for (start = s; cond_is_digit(*s); s++)
		;
	if (s == start)
		return false;
	out->ip.p = start;
	out->ip.len = (size_t)(s - start);
	out->fp.p = s;
	out->fp.len = 0;
	if (*s == '.') {
		for (start = ++s; cond_is_digit(*s); s++)
			;
		if (s == start)
			return false;
		out->fp.p = start;
		out->fp.len = (size_t)(s - start);
	}
	if (*s != '\0')
		return false;
	while (out->ip.len > 0 && out->ip.p[0] == '0') {
		out->ip.p++;
		out->ip.len--;
	}
	while (out->fp.len > 0 && out->fp.p[out->fp.len - 1] == '0')
		out->fp.len--;
	if (out->ip.len == 0 && out->fp.len == 0)
		out->neg = false;
	return true;
}

static int
cond_sign(int c)
{
	return (c > 0) - (c < 0);
}

static int
cond_decimal_cmp(const struct cond_decimal *a, const struct cond_decimal *b)
{
	int mag = 0;

	if (a->neg != b->neg)
		return a->neg ? -1 : 1;
	if (a->ip.len != b->ip.len)
		mag = a->ip.len < b->ip.len ? -1 : 1;
	else if (a->ip.len > 0)
		mag = cond_sign(memcmp(a->ip.p, b->ip.p, a->ip.len));
	for (size_t i = 0; mag == 0 && (i < a->fp.len || i < b->fp.len); i++) {
		char x = i < a->fp.len ? a->fp.p[i] : '0', y = i < b->fp.len ? b->fp.p[i] : '0';

		mag = (x > y) - (x < y);
	}
	return a->neg ? -mag : mag;
}

/* Reads exactly `n` digits; false if any is not a digit. */
static bool
cond_digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!cond_is_digit((*s)[i]))
			return false;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
static int64_t
cond_days_from_civil(int y, int m, int d)
{
	int era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t)era * 146097 + doe - 719468;
}

static int
cond_days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/*
 * [OPS] Date condition operators take "W3C implementations of the ISO 8601
 * date formats" or epoch (UNIX) time. Accepted:
 *   epoch seconds        1767225600            (9 or more digits, up to 9999-12-31)
 *   date                 2026-01-01            (midnight UTC)
 *   date and time        2026-01-01T10:00Z, 2026-01-01T10:00:00Z,
 *                        2026-01-01T10:00:00.5+02:00
 * A time needs its zone (W3C profile). IAM compares "down to the second":
 * fractions are read and dropped. Year-only and year-month forms are refused
 * (all-digit text is epoch time here).
 */
static bool
cond_parse_date(const char *s, int64_t *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, zh = 0, zm = 0, sign = 0;
	int64_t t;

	if (cond_is_digit(*s) && s[strspn(s, "0123456789")] == '\0') {
		if (strlen(s) < COND_EPOCH_MIN_DIGITS)
			return false;
		t = 0;
		for (; *s != '\0'; s++) {
			t = t * 10 + (*s - '0');
			if (t > COND_EPOCH_MAX)
				return false;
		}
		*out = t;
		return true;
	}
	if (!cond_digits(&s, 4, &y) || *s++ != '-' || !cond_digits(&s, 2, &mo) || *s++ != '-' ||
	    !cond_digits(&s, 2, &d))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > cond_days_in_month(y, mo))
		return false;
	if (*s == 'T') {
		s++;
		if (!cond_digits(&s, 2, &h) || *s++ != ':' || !cond_digits(&s, 2, &mi))
			return false;
		if (*s == ':') {
			s++;
			if (!cond_digits(&s, 2, &sec))
				return false;
			if (*s == '.') {
				if (!cond_is_digit(*++s))
					return false;
				while (cond_is_digit(*s))
					s++;
			}
		}
		if (*s == 'Z') {
			s++;
		} else if (*s == '+' || *s == '-') {
			sign = *s++ == '+' ? 1 : -1;
			if (!cond_digits(&s, 2, &zh) || *s++ != ':' || !cond_digits(&s, 2, &zm) || zh > 23 ||
			    zm > 59)
				return false;
		} else {
			return false;
		}
		/* No leap second: IAM's clock (aws:CurrentTime) never shows one. */
		if (h > 23 || mi > 59 || sec > 59)
			return false;
	}
	if (*s != '\0')
		return false;
	t = cond_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= sign * (zh * 3600 + zm * 60);
	if (t > COND_EPOCH_MAX)
		return false; /* past 9999 once the zone is applied */
	*out = t;
	return true;
}

/*
 * A textual IPv4 or IPv6 address (inet_pton: dotted quad without leading
 * zeros, or RFC 4291 text; no zone index). IPv4-mapped IPv6 (::ffff:a.b.c.d)
 * is the IPv4 address: the same peer must not match differently by socket family.
 */
static bool
cond_parse_addr(const char *s, size_t n, uint8_t addr[16], bool *v6)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char buf[COND_ADDR_TEXT_MAX];

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(addr, 0, 16);
	if (memchr(buf, ':', n) == NULL) {
		*v6 = false;
		return inet_pton(AF_INET, buf, addr) == 1;
	}
	if (inet_pton(AF_INET6, buf, addr) != 1)
		return false;
	*v6 = memcmp(addr, mapped, sizeof(mapped)) != 0;
	if (!*v6) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
	}
	return true;
}

/* [OPS] IP address operators: "203.0.113.0/24", "2001:DB8::/32"; a bare address is /32 or /128. */
static bool
cond_parse_cidr(const char *s, struct cond_cidr *out)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	bool text_v6 = memchr(s, ':', alen) != NULL;
	unsigned bits = text_v6 ? 128 : 32;

	if (!cond_parse_addr(s, alen, out->addr, &out->v6))
		return false;
	if (slash != NULL) {
		const char *p = slash + 1;
		unsigned max = bits;

		/* 1-3 digits, no leading zero: "/08" is refused as unclear. */
		if (!cond_is_digit(*p) || (p[0] == '0' && p[1] != '\0') || strlen(p) > 3 ||
		    p[strspn(p, "0123456789")] != '\0')
			return false;
		bits = (unsigned)atoi(p);
		if (bits > max)
			return false;
	}
	if (text_v6 && !out->v6) {
		/* ::ffff:a.b.c.d/n is the IPv4 block a.b.c.d/(n-96); shorter prefixes have no IPv4 meaning. */
		if (bits < 96)
			return false;
		bits -= 96;
	}
	out->bits = (uint8_t)bits;
	/* Clear host bits: "10.1.2.3/8" is 10.0.0.0/8, as IAM reads it. */
	for (unsigned i = 0; i < 16; i++) {
		if (i * 8 >= bits)
			out->addr[i] = 0;
		else if (i * 8 + 8 > bits)
			out->addr[i] &= (uint8_t)(0xff << (8 - (bits - i * 8)));
	}
	return true;
}

static bool
cond_cidr_contains(const struct cond_cidr *c, const uint8_t addr[16], bool v6)
{
	unsigned full = c->bits / 8, rest = c->bits % 8;

	if (c->v6 != v6 || memcmp(c->addr, addr, full) != 0)
		return false;
	return rest == 0 || (addr[full] & (uint8_t)(0xff << (8 - rest))) == c->addr[full];
}

/*
 * The six colon-separated parts of an ARN; the resource part keeps any
 * further colons ("...:function:name:alias").
 */
static bool
cond_arn_split(const char *s, struct cond_slice seg[COND_ARN_PARTS])
{
	for (int i = 0; i < COND_ARN_PARTS - 1; i++) {
		const char *colon = strchr(s, ':');

		if (colon == NULL)
			return false;
		seg[i].p = s;
		seg[i].len = (size_t)(colon - s);
		s = colon + 1;
	}
	seg[COND_ARN_PARTS - 1].p = s;
	seg[COND_ARN_PARTS - 1].len = strlen(s);
	return true;
}

/* [OPS] ARN operators: each of the six parts is matched on its own; a wildcard never spans a colon. */
static bool
cond_arn_match(const struct cond_arn *pat, const struct cond_slice seg[COND_ARN_PARTS])
{
	for (int i = 0; i < COND_ARN_PARTS; i++) {
		if (pat->wild[i]) {
			if (!cond_glob(pat->seg[i].p, pat->seg[i].len, seg[i].p, seg[i].len))
				return false;
		} else if (pat->seg[i].len != seg[i].len || memcmp(pat->seg[i].p, seg[i].p, seg[i].len) != 0) {
			return false;
		}
	}
	return true;
}

/* ---- sorting and searching ---- */

static int
cond_qsort_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
cond_qsort_str_ci(const void *a, const void *b)
{
	return cond_strcmp_ci(*(const char *const *)a, *(const char *const *)b);
}

static int
cond_qsort_decimal(const void *a, const void *b)
{
	return cond_decimal_cmp(a, b);
}

static int
cond_qsort_time(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static bool
cond_find_str(const char *const *v, size_t n, const char *s, bool ignore_case)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = ignore_case ? cond_strcmp_ci(s, v[mid]) : strcmp(s, v[mid]);

		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

/* ---- compile ---- */

struct cond_opname {
	const struct cond_operator *op;
	enum cond_qualifier q;
	bool if_exists;
};

/* "[ForAllValues:|ForAnyValue:]<Operator>[IfExists]" */
static bool
cond_parse_opname(const char *name, bool ignore_case, struct cond_opname *out)
{
	size_t len, sfx = strlen(COND_IF_EXISTS);

	out->q = COND_Q_NONE;
	if (cond_prefix(name, COND_FOR_ALL, ignore_case)) {
		out->q = COND_Q_ALL;
		name += strlen(COND_FOR_ALL);
	} else if (cond_prefix(name, COND_FOR_ANY, ignore_case)) {
		out->q = COND_Q_ANY;
		name += strlen(COND_FOR_ANY);
	}
	len = strlen(name);
	out->if_exists = len > sfx && cond_prefix(name + len - sfx, COND_IF_EXISTS, ignore_case);
	if (out->if_exists)
		len -= sfx;
	for (size_t i = 0; i < COND_NELEM(cond_operators); i++) {
		const char *op = cond_operators[i].name;

		if (strlen(op) == len &&
		    (ignore_case ? strncasecmp(op, name, len) == 0 : strncmp(op, name, len) == 0)) {
			out->op = &cond_operators[i];
			return true;
		}
	}
	return false;
}

static const char *
cond_qualifier_text(enum cond_qualifier q)
{
	return q == COND_Q_ALL ? COND_FOR_ALL : q == COND_Q_ANY ? COND_FOR_ANY : "";
}

static bool
cond_compile_opname(struct cond_compiler *cc, const char *name, struct cond_opname *out)
{
	if (!cond_parse_opname(name, false, out)) {
		/* IAM spells operators one way; say which if only the case differs. */
		if (cond_parse_opname(name, true, out))
			cond_error(cc, "unknown condition operator \"%.*s\" (did you mean \"%s%s%s\"?)",
			    COND_SHOW_MAX, name, cond_qualifier_text(out->q), out->op->name,
			    out->if_exists ? COND_IF_EXISTS : "");
		else
			cond_error(cc, "unknown condition operator \"%.*s\"", COND_SHOW_MAX, name);
		return false;
	}
	if (out->op->family == COND_F_BINARY) {
		/* XXX: request values are C strings; binary keys have no textual form here yet. */
		cond_error(cc, "\"BinaryEquals\" is not supported yet");
		return false;
	}
	if (out->op->family == COND_F_NULL && out->if_exists) {
		/* [OPS]: "...IfExists" exists for every operator "except the Null condition". */
		cond_error(cc, "IfExists does not apply to Null (Null itself tests whether the key is present)");
		return false;
	}
	if (out->op->family == COND_F_NULL && out->q != COND_Q_NONE) {
		cond_error(cc, "set qualifiers (ForAllValues:, ForAnyValue:) do not apply to Null");
		return false;
	}
	if (out->q == COND_Q_ANY && out->if_exists) {
		/*
		 * [OPS] says IfExists makes an absent key true; IAM is observed to
		 * keep ForAnyValue's false instead. Refused rather than guessed.
		 */
		cond_error(cc,
		    "ForAnyValue: with IfExists is ambiguous in IAM (absent key: true per IfExists, false "
		    "per ForAnyValue); use one of them, or a separate Null condition");
		return false;
	}
	return true;
}

/* IAM tag keys: letters, digits, spaces and _ . : / = + - @ (non-ASCII letters included), 1-128 characters. */
static bool
cond_valid_tag(const char *s)
{
	size_t chars = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || cond_is_digit((char)c) ||
				    strchr(" _.:/=+-@", c) != NULL))
			return false;
		if ((c & 0xc0) != 0x80)
			chars++;
	}
	return chars <= COND_TAG_MAX;
}

/* [COND]: key names are not case-sensitive. Exact names first, then prefixes ending in '/'. */
static const struct condition_key_def *
cond_find_key(const struct cond_compiler *cc, const char *name, const char **tag)
{
	*tag = NULL;
	for (size_t i = 0; i < cc->nkeys; i++) {
		size_t n = strlen(cc->keys[i].name);

		if (n > 0 && cc->keys[i].name[n - 1] != '/' && strcasecmp(cc->keys[i].name, name) == 0)
			return &cc->keys[i];
	}
	for (size_t i = 0; i < cc->nkeys; i++) {
		size_t n = strlen(cc->keys[i].name);

		if (n > 0 && cc->keys[i].name[n - 1] == '/' && strncasecmp(cc->keys[i].name, name, n) == 0 &&
		    name[n] != '\0') {
			*tag = name + n;
			return &cc->keys[i];
		}
	}
	return NULL;
}

/*
 * Decimal text for a JSON number, when a double says exactly what was meant:
 * integers up to 2^53, and fractions whose shortest fixed-point form (at most
 * COND_NUMBER_DECIMALS places) reads back as the same double. cJSON keeps
 * only the double, so anything else ("1e300", 0.1e-20) must be written as text.
 */
#define COND_NUMBER_EXACT 9007199254740992.0 /* 2^53 */
#define COND_NUMBER_DECIMALS 17

static const char *
cond_number_text(double x, char *buf, size_t size)
{
	if (!(x >= -COND_NUMBER_EXACT && x <= COND_NUMBER_EXACT))
		return NULL;
	if (x == (double)(int64_t)x) {
		snprintf(buf, size, "%" PRId64, (int64_t)x);
		return buf;
	}
	for (int prec = 1; prec <= COND_NUMBER_DECIMALS; prec++) {
		snprintf(buf, size, "%.*f", prec, x);
		if (strtod(buf, NULL) == x)
			return buf;
	}
	return NULL;
}

/* The text of one policy value, or NULL after reporting why it has none. */
static const char *
cond_value_text(struct cond_compiler *cc, const struct cond_clause *c, const cJSON *e, char *buf, size_t size)
{
	enum cond_family f = c->op->family;
	const char *s;

	/* IAM's grammar allows JSON numbers and booleans as condition values, where their type fits. */
	if (cJSON_IsString(e))
		return e->valuestring;
	if (cJSON_IsNumber(e) && (f == COND_F_NUMERIC || f == COND_F_DATE)) {
		if ((s = cond_number_text(e->valuedouble, buf, size)) == NULL)
			cond_error(cc, "a JSON number this large or this precise is not read exactly: write it "
				       "as decimal text in a string (\"12345678901234567890\", \"0.5\")");
		return s;
	}
	if (cJSON_IsBool(e) && (f == COND_F_BOOL || f == COND_F_NULL))
		return cJSON_IsTrue(e) ? "true" : "false";
	if (f == COND_F_NUMERIC || f == COND_F_DATE)
		cond_error(cc, "expected a string or a number, got %s", json_type_name(e));
	else if (f == COND_F_BOOL || f == COND_F_NULL)
		cond_error(cc, "expected \"true\" or \"false\", got %s", json_type_name(e));
	else
		cond_error(cc, "expected a string, got %s", json_type_name(e));
	return NULL;
}

static void
cond_compile_arn(struct cond_compiler *cc, struct cond_clause *c, const char *s)
{
	struct cond_slice seg[COND_ARN_PARTS];
	struct cond_arn *a;
	char *copy;

	if (strncmp(s, "arn:", 4) != 0 || !cond_arn_split(s, seg) || seg[COND_ARN_PARTS - 1].len == 0) {
		cond_error(cc,
		    "expected an ARN pattern of six colon-separated parts (\"arn:aws:dynamodb:*:*:table/orders*\"), "
		    "got \"%.*s\"",
		    COND_SHOW_MAX, s);
		return;
	}
	if ((copy = cond_strdup(cc->b, s)) == NULL) {
		cond_error(cc, "out of memory");
		return;
	}
	if (!cond_has_wildcard(s, strlen(s))) {
		c->exact[c->nexact++] = copy; /* the whole string decides: same text, same six parts */
		return;
	}
	a = &c->arns[c->narns++];
	cond_arn_split(copy, a->seg);
	for (int i = 0; i < COND_ARN_PARTS; i++)
		a->wild[i] = cond_has_wildcard(a->seg[i].p, a->seg[i].len);
}

static void
cond_compile_value(struct cond_compiler *cc, struct cond_clause *c, const cJSON *e)
{
	char buf[64];
	const char *s = cond_value_text(cc, c, e, buf, sizeof(buf));
	char *copy = NULL;
	bool flag;

	if (s == NULL)
		return;
	if (strstr(s, "${") != NULL) {
		/* XXX: IAM policy variables (${aws:username} ...) are not supported yet. */
		cond_error(cc, "policy variables (\"${...}\") are not supported yet, got \"%.*s\"", COND_SHOW_MAX,
		    s);
		return;
	}
	switch (c->op->family) {
	case COND_F_STRING:
	case COND_F_STRING_CI:
	case COND_F_STRING_LIKE:
		if ((copy = cond_strdup(cc->b, s)) == NULL)
			cond_error(cc, "out of memory");
		else if (c->op->family == COND_F_STRING_LIKE && cond_has_wildcard(s, strlen(s)))
			c->globs[c->nglobs++] = copy;
		else
			c->exact[c->nexact++] = copy;
		break;
	case COND_F_NUMERIC:
		if ((copy = cond_strdup(cc->b, s)) == NULL)
			cond_error(cc, "out of memory");
		else if (cond_parse_decimal(copy, &c->nums[c->nnums]))
			c->nnums++;
		else
			cond_error(cc, "expected a decimal number (\"10\", \"-2.5\"), got \"%.*s\"", COND_SHOW_MAX, s);
		break;
	case COND_F_DATE:
		if (cond_parse_date(s, &c->times[c->ntimes]))
			c->ntimes++;
		else
			cond_error(cc,
			    "expected an ISO 8601 date (\"2026-01-01T00:00:00Z\") or epoch seconds (9+ digits), "
			    "got \"%.*s\"",
			    COND_SHOW_MAX, s);
		break;
	case COND_F_BOOL:
	case COND_F_NULL:
		if (!cond_parse_bool(s, &flag)) {
			cond_error(cc, "expected \"true\" or \"false\", got \"%.*s\"", COND_SHOW_MAX, s);
		} else if (c->op->family == COND_F_BOOL) {
			c->accept_true |= flag;
			c->accept_false |= !flag;
		} else {
			/* [OPS] Null: true means "the key is absent", false "it is present". */
			c->accept_absent |= flag;
			c->accept_present |= !flag;
		}
		break;
	case COND_F_IP:
		if (cond_parse_cidr(s, &c->cidrs[c->ncidrs]))
			c->ncidrs++;
		else
			cond_error(cc,
			    "expected an IPv4 or IPv6 address or CIDR block (\"203.0.113.0/24\", \"2001:db8::/32\"), "
			    "got \"%.*s\"",
			    COND_SHOW_MAX, s);
		break;
	case COND_F_ARN:
		cond_compile_arn(cc, c, s);
		break;
	case COND_F_BINARY:
		break; /* refused with the operator */
	}
}

/* Room for `n` values of the clause's family. */
static bool
cond_reserve(struct condition_block *b, struct cond_clause *c, size_t n)
{
	switch (c->op->family) {
	case COND_F_STRING:
	case COND_F_STRING_CI:
		return (c->exact = cond_calloc(b, n, sizeof(*c->exact))) != NULL;
	case COND_F_STRING_LIKE:
		return (c->exact = cond_calloc(b, n, sizeof(*c->exact))) != NULL &&
		    (c->globs = cond_calloc(b, n, sizeof(*c->globs))) != NULL;
	case COND_F_ARN:
		return (c->exact = cond_calloc(b, n, sizeof(*c->exact))) != NULL &&
		    (c->arns = cond_calloc(b, n, sizeof(*c->arns))) != NULL;
	case COND_F_NUMERIC:
		return (c->nums = cond_calloc(b, n, sizeof(*c->nums))) != NULL;
	case COND_F_DATE:
		return (c->times = cond_calloc(b, n, sizeof(*c->times))) != NULL;
	case COND_F_IP:
		return (c->cidrs = cond_calloc(b, n, sizeof(*c->cidrs))) != NULL;
	case COND_F_BOOL:
	case COND_F_NULL:
	case COND_F_BINARY:
		return true;
	}
	return false;
}

static void
cond_compile_values(struct cond_compiler *cc, struct cond_clause *c, const cJSON *v)
{
	size_t n;

	if (cJSON_IsArray(v)) {
		n = (size_t)cJSON_GetArraySize(v);
		if (n == 0) {
			cond_error(cc, "expected at least one value, got an empty array");
			return;
		}
		if (n > COND_MAX_VALUES) {
			cond_error(cc, "too many values (%zu, at most %d)", n, COND_MAX_VALUES);
			return;
		}
	} else if (cJSON_IsString(v) || cJSON_IsNumber(v) || cJSON_IsBool(v)) {
		n = 1;
	} else {
		cond_error(cc, "expected a value or an array of values, got %s", json_type_name(v));
		return;
	}
	if (!cond_reserve(cc->b, c, n)) {
		cond_error(cc, "out of memory");
		return;
	}
	if (!cJSON_IsArray(v)) {
		cond_compile_value(cc, c, v);
	} else {
		const cJSON *e;
		size_t i = 0;

		cJSON_ArrayForEach(e, v) {
			size_t mark = diag_path_index(cc->path, i++);

			cond_compile_value(cc, c, e);
			diag_path_pop(cc->path, mark);
		}
	}
	if (c->exact != NULL)
		qsort(c->exact, c->nexact, sizeof(*c->exact),
		    c->op->family == COND_F_STRING_CI ? cond_qsort_str_ci : cond_qsort_str);
	if (c->nums != NULL)
		qsort(c->nums, c->nnums, sizeof(*c->nums), cond_qsort_decimal);
	if (c->times != NULL)
		qsort(c->times, c->ntimes, sizeof(*c->times), cond_qsort_time);
}

/* Compiles member `m` (key: values) of an operator object into clause `c`. */
static void
cond_compile_clause(struct cond_compiler *cc, const struct cond_opname *on, const cJSON *m, struct cond_clause *c)
{
	const char *name = m->string != NULL ? m->string : "";
	const struct condition_key_def *def;
	const char *tag;

	c->op = on->op;
	c->q = on->q;
	c->if_exists = on->if_exists;
	def = cond_find_key(cc, name, &tag);
	if (def == NULL) {
		cond_error(cc, "unknown condition key \"%.*s\"", COND_SHOW_MAX, name);
	} else if ((unsigned)def->type >= COND_NELEM(cond_type_info)) {
		cond_error(cc, "condition key \"%s\" has no valid type (a ddbguard bug)", def->name);
	} else if (tag != NULL && !cond_valid_tag(tag)) {
		cond_error(cc,
		    "expected a tag key of 1-%d letters, digits, spaces and _.:/=+-@ after \"%s\", got \"%.*s\"",
		    COND_TAG_MAX, def->name, COND_SHOW_MAX, tag);
	} else if ((cond_family_types[on->op->family] & COND_TYPE(def->type)) == 0) {
		cond_error(cc, "\"%s\" does not apply to \"%.*s\", %s (use %s)", on->op->name, COND_SHOW_MAX,
		    name, cond_type_info[def->type].noun, cond_type_info[def->type].operators);
	} else if (on->q != COND_Q_NONE && !def->multivalued) {
		/* [SETS]: "Do not use condition set operators with single-valued context keys." */
		cond_error(cc,
		    "\"%s\" applies to multivalued keys and \"%.*s\" is single-valued (IAM: it can make a "
		    "policy overly permissive); drop the qualifier",
		    cond_qualifier_text(on->q), COND_SHOW_MAX, name);
	} else {
		c->key_id = def->id;
		if (tag != NULL && (c->tag = cond_strdup(cc->b, tag)) == NULL)
			cond_error(cc, "out of memory");
	}
	/* Values are checked even under a bad key: the operator alone decides how they parse. */
	cond_compile_values(cc, c, m);
}

/* Compiles member `opm` (operator: {keys}) of the Condition object `cond`. */
static void
cond_compile_operator(struct cond_compiler *cc, const cJSON *cond, const cJSON *opm)
{
	const char *name = opm->string != NULL ? opm->string : "";
	struct cond_opname on;
	const cJSON *m;

	/* The strict parser refuses duplicate keys already; this keeps the compiler safe on any tree. */
	for (const cJSON *prev = cond->child; prev != opm; prev = prev->next) {
		if (prev->string != NULL && strcmp(prev->string, name) == 0) {
			cond_error(cc, "duplicate condition operator \"%.*s\"", COND_SHOW_MAX, name);
			return;
		}
	}
	if (!cond_compile_opname(cc, name, &on))
		return;
	if (!cJSON_IsObject(opm)) {
		cond_error(cc, "expected an object of condition keys, got %s", json_type_name(opm));
		return;
	}
	if (opm->child == NULL) {
		cond_error(cc, "expected at least one condition key, got an empty object");
		return;
	}
	cJSON_ArrayForEach(m, opm) {
		const char *key = m->string != NULL ? m->string : "";
		size_t mark = diag_path_member(cc->path, key);
		bool dup = false;

		for (const cJSON *prev = opm->child; prev != m && !dup; prev = prev->next)
			dup = prev->string != NULL && strcasecmp(prev->string, key) == 0;
		if (dup)
			cond_error(cc, "duplicate condition key \"%.*s\" (key names are case-insensitive)",
			    COND_SHOW_MAX, key);
		else
			cond_compile_clause(cc, &on, m, &cc->b->clauses[cc->b->n++]);
		diag_path_pop(cc->path, mark);
	}
}

struct condition_block *
condition_compile(const cJSON *cond, const struct condition_key_def *keys, size_t nkeys, struct diag *d,
    struct diag_path *path)
{
	struct cond_compiler cc = { .d = d, .path = path, .keys = keys, .nkeys = nkeys };
	const cJSON *opm;
	size_t nclauses = 0;

	if (!cJSON_IsObject(cond)) {
		cond_error(&cc, "expected an object of condition operators, got %s", json_type_name(cond));
		return NULL;
	}
	cJSON_ArrayForEach(opm, cond) {
		if (cJSON_IsObject(opm))
			nclauses += (size_t)cJSON_GetArraySize(opm);
	}
	if (nclauses > COND_MAX_CLAUSES) {
		cond_error(&cc, "too many condition keys (%zu, at most %d)", nclauses, COND_MAX_CLAUSES);
		return NULL;
	}
	if ((cc.b = calloc(1, sizeof(*cc.b))) == NULL ||
	    (cc.b->clauses = cond_calloc(cc.b, nclauses + 1, sizeof(*cc.b->clauses))) == NULL) {
		condition_free(cc.b);
		cond_error(&cc, "out of memory");
		return NULL;
	}
	cJSON_ArrayForEach(opm, cond) {
		size_t mark = diag_path_member(path, opm->string != NULL ? opm->string : "");

		cond_compile_operator(&cc, cond, opm);
		diag_path_pop(path, mark);
	}
	if (cc.errors > 0) {
		condition_free(cc.b);
		return NULL;
	}
	return cc.b;
}

/* ---- evaluate ---- */

/*
 * Whether one request value matches at least one policy value under the
 * operator's positive sense (NotIpAddress is asked as IpAddress, and so on).
 * A value that does not parse as the operator's type matches nothing.
 */
static bool
cond_match_value(const struct cond_clause *c, const char *v)
{
	struct cond_slice seg[COND_ARN_PARTS];
	struct cond_decimal dec;
	uint8_t addr[16];
	int64_t t;
	bool flag, v6;
	int cmp = 0;

	if (v == NULL)
		return false;
	switch (c->op->family) {
	case COND_F_STRING:
		return cond_find_str(c->exact, c->nexact, v, false);
	case COND_F_STRING_CI:
		return cond_find_str(c->exact, c->nexact, v, true);
	case COND_F_STRING_LIKE:
		if (cond_find_str(c->exact, c->nexact, v, false))
			return true;
		for (size_t i = 0; i < c->nglobs; i++) {
			if (cond_glob(c->globs[i], strlen(c->globs[i]), v, strlen(v)))
				return true;
		}
		return false;
	case COND_F_NUMERIC:
		if (c->nnums == 0 || !cond_parse_decimal(v, &dec))
			return false;
		if (c->op->rel == COND_EQ) {
			return bsearch(&dec, c->nums, c->nnums, sizeof(*c->nums), cond_qsort_decimal) != NULL;
		}
		/* Values OR [MULTI]: "less than any of them" is "less than the largest", and so on. */
		cmp = cond_decimal_cmp(&dec,
		    (c->op->rel == COND_LT || c->op->rel == COND_LE) ? &c->nums[c->nnums - 1] : &c->nums[0]);
		break;
	case COND_F_DATE:
		if (c->ntimes == 0 || !cond_parse_date(v, &t))
			return false;
		if (c->op->rel == COND_EQ)
			return bsearch(&t, c->times, c->ntimes, sizeof(*c->times), cond_qsort_time) != NULL;
		cmp = cond_qsort_time(&t,
		    (c->op->rel == COND_LT || c->op->rel == COND_LE) ? &c->times[c->ntimes - 1] : &c->times[0]);
		break;
	case COND_F_BOOL:
		return cond_parse_bool(v, &flag) && (flag ? c->accept_true : c->accept_false);
	case COND_F_IP:
		if (!cond_parse_addr(v, strlen(v), addr, &v6))
			return false;
		for (size_t i = 0; i < c->ncidrs; i++) {
			if (cond_cidr_contains(&c->cidrs[i], addr, v6))
				return true;
		}
		return false;
	case COND_F_ARN:
		if (cond_find_str(c->exact, c->nexact, v, false))
			return true;
		if (c->narns == 0 || !cond_arn_split(v, seg))
			return false;
		for (size_t i = 0; i < c->narns; i++) {
			if (cond_arn_match(&c->arns[i], seg))
				return true;
		}
		return false;
	case COND_F_NULL:
	case COND_F_BINARY:
	default:
		return false;
	}
	switch (c->op->rel) {
	case COND_LT: return cmp < 0;
	case COND_LE: return cmp <= 0;
	case COND_GT: return cmp > 0;
	case COND_GE: return cmp >= 0;
	case COND_EQ: return cmp == 0;
	}
	return false;
}

static bool
cond_clause_holds(const struct cond_clause *c, condition_lookup_fn lookup, void *ctx)
{
	struct condition_request_values rv = { 0 };
	bool present;

	lookup(ctx, c->key_id, c->tag, &rv);
	/* [SETS] "a null data set" (no values) is read as absent. */
	present = rv.present && rv.n > 0 && rv.values != NULL;
	if (c->op->family == COND_F_NULL)
		return present ? c->accept_present : c->accept_absent;
	if (!present) {
		if (c->if_exists)
			return true; /* [OPS] ...IfExists: "If the key is not present, ... true" */
		if (c->q == COND_Q_ALL)
			return true; /* [SETS] ForAllValues: true with no key in the request */
		if (c->q == COND_Q_ANY)
			return false; /* [SETS] ForAnyValue: false with no key in the request */
		return c->op->negated; /* [OPS] "Important": negated operators are true */
	}
	switch (c->q) {
	case COND_Q_ALL:
		/* Every request value satisfies the operator (for a negated one: matches none). */
		for (size_t i = 0; i < rv.n; i++) {
			if (cond_match_value(c, rv.values[i]) == c->op->negated)
				return false;
		}
		return true;
	case COND_Q_ANY:
		for (size_t i = 0; i < rv.n; i++) {
			if (cond_match_value(c, rv.values[i]) != c->op->negated)
				return true;
		}
		return false;
	case COND_Q_NONE:
		/* condition.h: any value matching; a negated operator is the exact complement. */
		for (size_t i = 0; i < rv.n; i++) {
			if (cond_match_value(c, rv.values[i]))
				return !c->op->negated;
		}
		return c->op->negated;
	}
	return false;
}

bool
condition_evaluate(const struct condition_block *b, condition_lookup_fn lookup, void *ctx)
{
	if (b == NULL)
		return true;
	for (size_t i = 0; i < b->n; i++) {
		if (!cond_clause_holds(&b->clauses[i], lookup, ctx))
			return false;
	}
	return true;
}

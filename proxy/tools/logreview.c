/*
 * logreview: `ddbguard-log summary | denials | report` over access-log files (see logreview.h).
 *
 * An offline tool: every record in the given files is loaded once (strings interned, so repeated
 * identities, actions and tables cost one copy each), sorted by eventTime, and each subcommand
 * aggregates the records inside the window [--since, --until).
 */
#include "proxy/tools/logreview.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filters/dynamodb/json.h"

#define LR_MAX_LINE             (1u << 20) /* a record longer than this is reported as malformed */
#define LR_TEXT_TOP             20         /* rows per group table in text output (--json has them all) */
#define LR_CHART_MAX_BUCKETS    60         /* calls-over-time bars */
#define LR_CHART_MAX_IDENTITIES 15         /* calls-per-identity bars */
#define LR_HTML_MAX_DENIALS     1000       /* rows of the denials list in the HTML report */

enum lr_dec { DEC_ALLOW, DEC_DENY, DEC_REJECT, DEC_ERROR, DEC_OTHER, DEC__N };

struct rec {
	int64_t t_ms;
	size_t seq; /* load order: ties in eventTime keep it */
	const char *time_s, *identity, *action, *table, *country, *policy, *statement, *reason;
	const char *resource;
	enum lr_dec dec;
	/* guard.shadow: allowed, but would have been denied with every shadow Mode enforced */
	bool shadow;
	const char *shadow_effect, *shadow_policy, *shadow_statement, *shadow_resource;
};

/* Interned strings: open addressing, owned by the table, freed with it. */
struct strtab {
	char **slot;
	size_t cap, n;
};

struct group {
	const char *key;
	const char *a, *b; /* denied statements: policy and Sid */
	uint64_t calls, n[DEC__N];
	int64_t first_ms;
};

/* Groups keyed by interned pointer. */
struct gtab {
	struct group *g;
	size_t *idx; /* open addressing over g[], SIZE_MAX empty */
	size_t n, cap, icap;
};

struct review {
	struct strtab st;
	struct rec *recs;
	size_t n, cap;
	int64_t newest_ms;
	size_t malformed, truncated, digests, files;
	bool has_since, has_until;
	int64_t since_ms, until_ms;
};

struct opts {
	const char *cmd, *out, *since, *until;
	bool json;
	bool shadow; /* denials --shadow: would-be denials of shadow mode instead */
	char **files;
	int nfiles;
};

/* ---- small helpers ---------------------------------------------------------------------------- */

static _Noreturn void
oom(void)
{
	fprintf(stderr, "ddbguard-log: out of memory\n");
	exit(2);
}

static void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom();
	return q;
}

static uint64_t
hash_bytes(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static const char *
intern(struct strtab *t, const char *s)
{
	size_t i;

	if (s == NULL)
		return NULL;
	if (2 * (t->n + 1) > t->cap) {
		size_t ncap = t->cap ? 2 * t->cap : 256, j;
		char **ns = calloc(ncap, sizeof(*ns));

		if (ns == NULL)
			oom();
		for (j = 0; j < t->cap; j++) {
			if (t->slot[j] == NULL)
				continue;
			for (i = hash_bytes(t->slot[j]) & (ncap - 1); ns[i]; i = (i + 1) & (ncap - 1))
				;
			ns[i] = t->slot[j];
		}
		free(t->slot);
		t->slot = ns;
		t->cap = ncap;
	}
	for (i = hash_bytes(s) & (t->cap - 1); t->slot[i]; i = (i + 1) & (t->cap - 1))
		if (strcmp(t->slot[i], s) == 0)
			return t->slot[i];
	t->slot[i] = strdup(s);
	if (t->slot[i] == NULL)
		oom();
	t->n++;
	return t->slot[i];
}

static void
strtab_free(struct strtab *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->slot[i]);
	free(t->slot);
}

static struct group *
gtab_get(struct gtab *t, const char *key)
{
	size_t i, j, h = (size_t)(((uintptr_t)key >> 3) * 0x9E3779B97F4A7C15ull);

	if (2 * (t->n + 1) > t->icap) {
		size_t ncap = t->icap ? 2 * t->icap : 64;

		free(t->idx);
		t->idx = xrealloc(NULL, ncap * sizeof(*t->idx));
		for (j = 0; j < ncap; j++)
			t->idx[j] = SIZE_MAX;
		t->icap = ncap;
		for (j = 0; j < t->n; j++) {
			size_t hh = (size_t)(((uintptr_t)t->g[j].key >> 3) * 0x9E3779B97F4A7C15ull);

			for (i = hh & (ncap - 1); t->idx[i] != SIZE_MAX; i = (i + 1) & (ncap - 1))
				;
			t->idx[i] = j;
		}
	}
	for (i = h & (t->icap - 1); t->idx[i] != SIZE_MAX; i = (i + 1) & (t->icap - 1))
		if (t->g[t->idx[i]].key == key)
			return &t->g[t->idx[i]];
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->g = xrealloc(t->g, t->cap * sizeof(*t->g));
	}
	t->idx[i] = t->n;
	memset(&t->g[t->n], 0, sizeof(t->g[t->n]));
	t->g[t->n].key = key;
	t->g[t->n].first_ms = INT64_MAX;
	return &t->g[t->n++];
}

static void
gtab_free(struct gtab *t)
{
	free(t->g);
	free(t->idx);
	memset(t, 0, sizeof(*t));
}

static void
group_add(struct group *g, const struct rec *r)
{
	g->calls++;
	g->n[r->dec]++;
	if (r->t_ms < g->first_ms)
		g->first_ms = r->t_ms;
}

static int
group_cmp_calls(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	if (x->calls != y->calls)
		return x->calls > y->calls ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int
group_cmp_first(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	if (x->first_ms != y->first_ms)
		return x->first_ms < y->first_ms ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void
fmt_time(char *buf, size_t len, int64_t ms)
{
	time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ms - (int64_t)s * 1000));
}

/* ---- time ------------------------------------------------------------------------------------- */

static int
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return 0;
}

int
logreview_parse_time(const char *s, int64_t newest_ms, int64_t *out_ms)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off = 0;
	struct tm tm;
	char *end;

	if (s == NULL || *s == '\0')
		return -1;
	/* a span back from the newest record: 90s, 30m, 1h, 7d, 2w */
	if (isdigit((unsigned char)*s)) {
		unsigned long long v;

		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno == 0 && end[0] != '\0' && end[1] == '\0' && strchr("smhdw", end[0]) && v <= 1000000000ull) {
			int64_t unit = end[0] == 's'   ? 1000
			               : end[0] == 'm' ? 60000
			               : end[0] == 'h' ? 3600000
			               : end[0] == 'd' ? 86400000
			                               : 604800000;

			*out_ms = newest_ms - (int64_t)v * unit;
			return 0;
		}
	}
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				return -1;
			if (*p == '.' || *p == ',') {
				int n = 0;

				p++;
				if (!isdigit((unsigned char)*p))
					return -1;
				for (; isdigit((unsigned char)*p); p++, n++)
					if (n < 3)
						ms = ms * 10 + (*p - '0');
				for (; n < 3; n++)
					ms *= 10;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;

			if (digits(&p, 2, &oh))
				return -1;
			if (*p == ':')
				p++;
			if (isdigit((unsigned char)*p) && digits(&p, 2, &om))
				return -1;
			if (oh > 23 || om > 59)
				return -1;
			off = sign * (oh * 60 + om);
		}
	} else if (*p == 'Z' || *p == 'z') {
		p++;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out_ms = ((int64_t)timegm(&tm) - (int64_t)off * 60) * 1000 + ms;
	return 0;
}

/* ---- loading ---------------------------------------------------------------------------------- */

static const char *
jstr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Returns 0 for a record or digest line, -1 (with `why`) for anything else. */
static int
load_record(struct review *rv, const cJSON *root, const char **why)
{
	const cJSON *g, *res, *rp;
	const char *t, *dec, *s;
	struct rec r;
	char keybuf[160];

	if (!cJSON_IsObject(root)) {
		*why = "not a JSON object";
		return -1;
	}
	if (cJSON_GetObjectItemCaseSensitive(root, "ddbguardDigest") != NULL) {
		rv->digests++;
		return 0;
	}
	if (cJSON_GetObjectItemCaseSensitive(root, "ddbguardNotice") != NULL)
		return 0; /* a fact about the log (access_log.fail_open), not a call */
	memset(&r, 0, sizeof(r));
	t = jstr(root, "eventTime");
	/* t[4] == '-': a date, not a span like "1h" */
	if (t == NULL || strlen(t) < 10 || t[4] != '-' || logreview_parse_time(t, 0, &r.t_ms) != 0) {
		*why = "no ISO 8601 eventTime";
		return -1;
	}
	g = cJSON_GetObjectItemCaseSensitive(root, "guard");
	dec = jstr(g, "decision");
	r.dec = dec == NULL              ? DEC_OTHER
	        : !strcmp(dec, "allow")  ? DEC_ALLOW
	        : !strcmp(dec, "deny")   ? DEC_DENY
	        : !strcmp(dec, "reject") ? DEC_REJECT
	        : !strcmp(dec, "error")  ? DEC_ERROR
	                                 : DEC_OTHER;
	r.time_s = intern(&rv->st, t);
	s = jstr(g, "identity");
	if (s == NULL) {
		const char *akid = jstr(cJSON_GetObjectItemCaseSensitive(root, "userIdentity"), "accessKeyId");

		/* no identity matched: the access key is what there is to go on */
		if (akid != NULL) {
			snprintf(keybuf, sizeof(keybuf), "key:%.128s", akid);
			s = keybuf;
		} else {
			s = "-";
		}
	}
	r.identity = intern(&rv->st, s);
	s = jstr(root, "eventName");
	r.action = intern(&rv->st, s ? s : "-");
	rp = cJSON_GetObjectItemCaseSensitive(root, "requestParameters");
	s = jstr(rp, "tableName");
	r.table = intern(&rv->st, s ? s : "-");
	s = jstr(g, "sourceCountry");
	r.country = intern(&rv->st, s ? s : "-");
	r.policy = intern(&rv->st, jstr(g, "policy"));
	r.statement = intern(&rv->st, jstr(g, "statement"));
	s = jstr(g, "reason");
	if (s == NULL)
		s = jstr(root, "errorMessage");
	if (s == NULL)
		s = jstr(root, "errorCode");
	r.reason = intern(&rv->st, s);
	res = cJSON_GetObjectItemCaseSensitive(root, "resources");
	s = cJSON_IsArray(res) ? jstr(cJSON_GetArrayItem(res, 0), "ARN") : NULL;
	r.resource = intern(&rv->st, s ? s : (r.table[0] != '-' || r.table[1] ? r.table : NULL));
	if ((rp = cJSON_GetObjectItemCaseSensitive(g, "shadow")) != NULL && cJSON_IsObject(rp)) {
		r.shadow = true;
		r.shadow_effect = intern(&rv->st, jstr(rp, "effect"));
		r.shadow_policy = intern(&rv->st, jstr(rp, "policy"));
		r.shadow_statement = intern(&rv->st, jstr(rp, "statement"));
		r.shadow_resource = intern(&rv->st, jstr(rp, "resource"));
	}
	r.seq = rv->n;
	if (rv->n == rv->cap) {
		rv->cap = rv->cap ? 2 * rv->cap : 1024;
		rv->recs = xrealloc(rv->recs, rv->cap * sizeof(*rv->recs));
	}
	rv->recs[rv->n++] = r;
	if (rv->n == 1 || r.t_ms > rv->newest_ms)
		rv->newest_ms = r.t_ms;
	return 0;
}

static int
load_file(struct review *rv, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;

	if (f == NULL) {
		fprintf(stderr, "ddbguard-log: %s: %s\n", path, strerror(errno));
		return -1;
	}
	rv->files++;
	while ((len = getline(&line, &cap, f)) >= 0) {
		bool complete = len > 0 && line[len - 1] == '\n';
		struct json_error err;
		const char *why = NULL;
		cJSON *root;
		size_t n = (size_t)len;

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (n == 0)
			continue;
		if (n > LR_MAX_LINE) {
			fprintf(stderr, "ddbguard-log: %s:%zu: line longer than %u bytes, skipped\n", path, lineno,
			        LR_MAX_LINE);
			rv->malformed++;
			continue;
		}
		root = json_parse_strict(line, n, NULL, &err);
		if (root == NULL && !complete) {
			/* the writer was cut off (or is still writing): expected at the end of a live log */
			fprintf(stderr, "ddbguard-log: %s:%zu: truncated last line (%zu bytes), skipped\n", path,
			        lineno, n);
			rv->truncated++;
			continue;
		}
		if (root == NULL) {
			fprintf(stderr, "ddbguard-log: %s:%zu:%u: malformed record: %s\n", path, lineno, err.column,
			        err.msg);
			rv->malformed++;
			continue;
		}
		if (load_record(rv, root, &why) != 0) {
			fprintf(stderr, "ddbguard-log: %s:%zu: malformed record: %s\n", path, lineno, why);
			rv->malformed++;
		}
		cJSON_Delete(root);
	}
	if (ferror(f)) {
		fprintf(stderr, "ddbguard-log: %s: read error\n", path);
		free(line);
		if (f != stdin)
			fclose(f);
		return -1;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return 0;
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->t_ms != y->t_ms)
		return x->t_ms < y->t_ms ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool
in_window(const struct review *rv, const struct rec *r)
{
	return (!rv->has_since || r->t_ms >= rv->since_ms) && (!rv->has_until || r->t_ms < rv->until_ms);
}

/* ---- aggregation ------------------------------------------------------------------------------ */

enum { BY_IDENTITY, BY_ACTION, BY_TABLE, BY_COUNTRY, BY__N };
static const char *const by_title[BY__N] = {"identity", "action", "table", "country"};
static const char *const by_json[BY__N] = {"byIdentity", "byAction", "byTable", "byCountry"};

struct summary {
	uint64_t calls, n[DEC__N];
	int64_t first_ms, last_ms;
	struct gtab by[BY__N];
	struct gtab stmts;
	struct gtab new_ident, new_table; /* first seen in the window */
};

static void
summary_build(struct review *rv, struct summary *s)
{
	struct gtab all_ident = {0}, all_table = {0};
	size_t i;

	memset(s, 0, sizeof(*s));
	s->first_ms = INT64_MAX;
	s->last_ms = INT64_MIN;
	for (i = 0; i < rv->n; i++) {
		const struct rec *r = &rv->recs[i];

		/* first appearance over every given file, not only the window */
		group_add(gtab_get(&all_ident, r->identity), r);
		if (strcmp(r->table, "-") != 0)
			group_add(gtab_get(&all_table, r->table), r);
		if (!in_window(rv, r))
			continue;
		s->calls++;
		s->n[r->dec]++;
		if (r->t_ms < s->first_ms)
			s->first_ms = r->t_ms;
		if (r->t_ms > s->last_ms)
			s->last_ms = r->t_ms;
		group_add(gtab_get(&s->by[BY_IDENTITY], r->identity), r);
		group_add(gtab_get(&s->by[BY_ACTION], r->action), r);
		group_add(gtab_get(&s->by[BY_TABLE], r->table), r);
		group_add(gtab_get(&s->by[BY_COUNTRY], r->country), r);
		if (r->dec == DEC_DENY) {
			char key[512];
			struct group *g;

			if (r->policy != NULL)
				snprintf(key, sizeof(key), "%s/%s", r->policy, r->statement ? r->statement : "-");
			else
				snprintf(key, sizeof(key), "(no statement: implicit deny)");
			g = gtab_get(&s->stmts, intern(&rv->st, key));
			g->a = r->policy;
			g->b = r->statement;
			group_add(g, r);
		}
	}
	for (i = 0; i < BY__N; i++)
		qsort(s->by[i].g, s->by[i].n, sizeof(struct group), group_cmp_calls);
	qsort(s->stmts.g, s->stmts.n, sizeof(struct group), group_cmp_calls);
	/* new: seen in the window, and nowhere in the files before --since */
	for (int pass = 0; pass < 2; pass++) {
		struct gtab *all = pass ? &all_table : &all_ident, *out = pass ? &s->new_table : &s->new_ident;
		struct gtab *in = pass ? &s->by[BY_TABLE] : &s->by[BY_IDENTITY];

		for (i = 0; i < in->n; i++) {
			struct group *a = gtab_get(all, in->g[i].key), *g;

			if (pass && strcmp(in->g[i].key, "-") == 0)
				continue;
			if (rv->has_since && a->first_ms < rv->since_ms)
				continue;
			g = gtab_get(out, in->g[i].key);
			*g = in->g[i];
		}
		qsort(out->g, out->n, sizeof(struct group), group_cmp_first);
		/* the index now points at the wrong slots; nothing looks these up again */
		free(out->idx);
		out->idx = NULL;
		out->icap = 0;
	}
	gtab_free(&all_ident);
	gtab_free(&all_table);
}

static void
summary_free(struct summary *s)
{
	for (int i = 0; i < BY__N; i++)
		gtab_free(&s->by[i]);
	gtab_free(&s->stmts);
	gtab_free(&s->new_ident);
	gtab_free(&s->new_table);
}

/* ---- text tables ------------------------------------------------------------------------------ */

#define TT_MAXCOL 8

struct ttable {
	int ncol;
	const char *head[TT_MAXCOL];
	bool right[TT_MAXCOL];
	char **cell; /* rows * ncol, owned */
	size_t rows, cap;
};

/* Terminal-safe copy: control bytes (a log is client input) become '?'. */
static char *
tt_dup(const char *s)
{
	char *d = strdup(s ? s : "-");

	if (d == NULL)
		oom();
	for (char *p = d; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return d;
}

static void
tt_row(struct ttable *t, const char *const *v)
{
	if (t->rows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 32;
		t->cell = xrealloc(t->cell, t->cap * (size_t)t->ncol * sizeof(char *));
	}
	for (int c = 0; c < t->ncol; c++)
		t->cell[t->rows * (size_t)t->ncol + (size_t)c] = tt_dup(v[c]);
	t->rows++;
}

static size_t
u8width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void
tt_print(FILE *f, struct ttable *t, const char *indent)
{
	size_t w[TT_MAXCOL], r;
	int c;

	for (c = 0; c < t->ncol; c++)
		w[c] = u8width(t->head[c]);
	for (r = 0; r < t->rows; r++)
		for (c = 0; c < t->ncol; c++) {
			size_t x = u8width(t->cell[r * (size_t)t->ncol + (size_t)c]);

			if (x > w[c])
				w[c] = x;
		}
	for (r = 0; r <= t->rows; r++) {
		fputs(indent, f);
		for (c = 0; c < t->ncol; c++) {
			const char *v = r == 0 ? t->head[c] : t->cell[(r - 1) * (size_t)t->ncol + (size_t)c];
			size_t pad = w[c] - u8width(v);
			bool last = c == t->ncol - 1;

			if (t->right[c])
				fprintf(f, "%*s%s", (int)pad, "", v);
			else
				fprintf(f, "%s%*s", v, last ? 0 : (int)pad, "");
			if (!last)
				fputs("  ", f);
		}
		fputc('\n', f);
	}
	for (r = 0; r < t->rows * (size_t)t->ncol; r++)
		free(t->cell[r]);
	free(t->cell);
	t->cell = NULL;
	t->rows = t->cap = 0;
}

static void
tt_counts(struct ttable *t, const char *name, uint64_t calls, const uint64_t *n)
{
	char b[5][24];
	const char *v[6] = {name, b[0], b[1], b[2], b[3], b[4]};

	snprintf(b[0], sizeof(b[0]), "%" PRIu64, calls);
	snprintf(b[1], sizeof(b[1]), "%" PRIu64, n[DEC_ALLOW]);
	snprintf(b[2], sizeof(b[2]), "%" PRIu64, n[DEC_DENY]);
	snprintf(b[3], sizeof(b[3]), "%" PRIu64, n[DEC_REJECT]);
	snprintf(b[4], sizeof(b[4]), "%" PRIu64, n[DEC_ERROR]);
	tt_row(t, v);
}

static void
tt_init_counts(struct ttable *t, const char *first)
{
	static const char *const h[6] = {NULL, "CALLS", "ALLOWED", "DENIED", "REJECTED", "ERRORS"};

	memset(t, 0, sizeof(*t));
	t->ncol = 6;
	for (int c = 0; c < 6; c++) {
		t->head[c] = c ? h[c] : first;
		t->right[c] = c > 0;
	}
}

/* ---- summary output --------------------------------------------------------------------------- */

static void
print_window(FILE *f, const struct review *rv, const struct summary *s)
{
	char a[40], b[40];

	fmt_time(a, sizeof(a), rv->since_ms);
	fmt_time(b, sizeof(b), rv->until_ms);
	fprintf(f, "window     %s .. %s\n", rv->has_since ? a : "(start)", rv->has_until ? b : "(end)");
	if (s->calls) {
		fmt_time(a, sizeof(a), s->first_ms);
		fmt_time(b, sizeof(b), s->last_ms);
		fprintf(f, "records    %" PRIu64 " in window, %s .. %s\n", s->calls, a, b);
	} else {
		fprintf(f, "records    none in window\n");
	}
	fprintf(f, "read       %zu records from %zu file(s)", rv->n, rv->files);
	if (rv->digests)
		fprintf(f, ", %zu digest line(s)", rv->digests);
	if (rv->malformed)
		fprintf(f, ", %zu malformed line(s) skipped", rv->malformed);
	if (rv->truncated)
		fprintf(f, ", %zu truncated last line(s) skipped", rv->truncated);
	fputc('\n', f);
}

static void
summary_text(FILE *f, struct review *rv, struct summary *s)
{
	struct ttable t;
	size_t i;

	fputs("ddbguard access log summary\n", f);
	print_window(f, rv, s);
	fputs("\ntotals\n", f);
	tt_init_counts(&t, "");
	tt_counts(&t, "all", s->calls, s->n);
	tt_print(f, &t, "  ");
	for (int by = 0; by < BY__N; by++) {
		fprintf(f, "\nby %s\n", by_title[by]);
		tt_init_counts(&t, by == BY_IDENTITY ? "IDENTITY"
		                   : by == BY_ACTION ? "ACTION"
		                   : by == BY_TABLE  ? "TABLE"
		                                     : "COUNTRY");
		for (i = 0; i < s->by[by].n && i < LR_TEXT_TOP; i++)
			tt_counts(&t, s->by[by].g[i].key, s->by[by].g[i].calls, s->by[by].g[i].n);
		tt_print(f, &t, "  ");
		if (s->by[by].n > LR_TEXT_TOP)
			fprintf(f, "  ... %zu more (--json lists all)\n", s->by[by].n - LR_TEXT_TOP);
	}
	fputs("\ntop denied statements\n", f);
	if (s->stmts.n == 0)
		fputs("  (no denials)\n", f);
	else {
		memset(&t, 0, sizeof(t));
		t.ncol = 2;
		t.head[0] = "DENIALS";
		t.right[0] = true;
		t.head[1] = "POLICY/STATEMENT";
		for (i = 0; i < s->stmts.n && i < LR_TEXT_TOP; i++) {
			char b[24];
			const char *v[2] = {b, s->stmts.g[i].key};

			snprintf(b, sizeof(b), "%" PRIu64, s->stmts.g[i].calls);
			tt_row(&t, v);
		}
		tt_print(f, &t, "  ");
	}
	for (int pass = 0; pass < 2; pass++) {
		struct gtab *g = pass ? &s->new_table : &s->new_ident;

		fprintf(f, "\n%s first seen in the window%s\n", pass ? "tables" : "identities",
		        rv->has_since ? "" : " (no --since: everything is new)");
		if (g->n == 0) {
			fputs("  (none)\n", f);
			continue;
		}
		memset(&t, 0, sizeof(t));
		t.ncol = 3;
		t.head[0] = pass ? "TABLE" : "IDENTITY";
		t.head[1] = "FIRST SEEN";
		t.head[2] = "CALLS";
		t.right[2] = true;
		for (i = 0; i < g->n; i++) {
			char tb[40], cb[24];
			const char *v[3] = {g->g[i].key, tb, cb};

			fmt_time(tb, sizeof(tb), g->g[i].first_ms);
			snprintf(cb, sizeof(cb), "%" PRIu64, g->g[i].calls);
			tt_row(&t, v);
		}
		tt_print(f, &t, "  ");
	}
}

static cJSON *
json_counts(cJSON *o, uint64_t calls, const uint64_t *n)
{
	cJSON_AddNumberToObject(o, "calls", (double)calls);
	cJSON_AddNumberToObject(o, "allowed", (double)n[DEC_ALLOW]);
	cJSON_AddNumberToObject(o, "denied", (double)n[DEC_DENY]);
	cJSON_AddNumberToObject(o, "rejected", (double)n[DEC_REJECT]);
	cJSON_AddNumberToObject(o, "errors", (double)n[DEC_ERROR]);
	return o;
}

static void
json_time(cJSON *o, const char *name, bool has, int64_t ms)
{
	char b[40];

	if (!has) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	fmt_time(b, sizeof(b), ms);
	cJSON_AddStringToObject(o, name, b);
}

static int
summary_json(FILE *f, struct review *rv, struct summary *s)
{
	cJSON *root = cJSON_CreateObject(), *o, *a;
	char *txt;
	size_t i;

	o = cJSON_AddObjectToObject(root, "window");
	json_time(o, "since", rv->has_since, rv->since_ms);
	json_time(o, "until", rv->has_until, rv->until_ms);
	json_time(o, "first", s->calls > 0, s->first_ms);
	json_time(o, "last", s->calls > 0, s->last_ms);
	o = cJSON_AddObjectToObject(root, "input");
	cJSON_AddNumberToObject(o, "files", (double)rv->files);
	cJSON_AddNumberToObject(o, "records", (double)rv->n);
	cJSON_AddNumberToObject(o, "digests", (double)rv->digests);
	cJSON_AddNumberToObject(o, "malformed", (double)rv->malformed);
	cJSON_AddNumberToObject(o, "truncated", (double)rv->truncated);
	json_counts(cJSON_AddObjectToObject(root, "totals"), s->calls, s->n);
	for (int by = 0; by < BY__N; by++) {
		a = cJSON_AddArrayToObject(root, by_json[by]);
		for (i = 0; i < s->by[by].n; i++) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "name", s->by[by].g[i].key);
			json_counts(o, s->by[by].g[i].calls, s->by[by].g[i].n);
			cJSON_AddItemToArray(a, o);
		}
	}
	a = cJSON_AddArrayToObject(root, "deniedStatements");
	for (i = 0; i < s->stmts.n; i++) {
		o = cJSON_CreateObject();
		if (s->stmts.g[i].a)
			cJSON_AddStringToObject(o, "policy", s->stmts.g[i].a);
		else
			cJSON_AddNullToObject(o, "policy");
		if (s->stmts.g[i].b)
			cJSON_AddStringToObject(o, "statement", s->stmts.g[i].b);
		else
			cJSON_AddNullToObject(o, "statement");
		cJSON_AddStringToObject(o, "key", s->stmts.g[i].key);
		cJSON_AddNumberToObject(o, "count", (double)s->stmts.g[i].calls);
		cJSON_AddItemToArray(a, o);
	}
	o = cJSON_AddObjectToObject(root, "firstSeen");
	for (int pass = 0; pass < 2; pass++) {
		struct gtab *g = pass ? &s->new_table : &s->new_ident;

		a = cJSON_AddArrayToObject(o, pass ? "tables" : "identities");
		for (i = 0; i < g->n; i++) {
			cJSON *e = cJSON_CreateObject();

			cJSON_AddStringToObject(e, "name", g->g[i].key);
			json_time(e, "first", true, g->g[i].first_ms);
			cJSON_AddNumberToObject(e, "calls", (double)g->g[i].calls);
			cJSON_AddItemToArray(a, e);
		}
	}
	txt = cJSON_Print(root);
	cJSON_Delete(root);
	if (txt == NULL)
		return -1;
	fprintf(f, "%s\n", txt);
	free(txt);
	return 0;
}

/* ---- denials ---------------------------------------------------------------------------------- */

static bool
is_denial(const struct rec *r)
{
	return r->dec == DEC_DENY || r->dec == DEC_REJECT;
}

static void
stmt_of(char *buf, size_t len, const struct rec *r)
{
	if (r->policy)
		snprintf(buf, len, "%s/%s", r->policy, r->statement ? r->statement : "-");
	else
		snprintf(buf, len, "-");
}

static void
denials_text(FILE *f, struct review *rv)
{
	struct ttable t = {.ncol = 7,
	                   .head = {"TIME", "DECISION", "IDENTITY", "ACTION", "RESOURCE", "STATEMENT", "REASON"}};

	for (size_t i = 0; i < rv->n; i++) {
		const struct rec *r = &rv->recs[i];
		char st[512];

		if (!in_window(rv, r) || !is_denial(r))
			continue;
		stmt_of(st, sizeof(st), r);
		const char *v[7] = {r->time_s,
		                    r->dec == DEC_DENY ? "deny" : "reject",
		                    r->identity,
		                    r->action,
		                    r->resource ? r->resource : "-",
		                    st,
		                    r->reason ? r->reason : "-"};
		tt_row(&t, v);
	}
	if (t.rows == 0)
		fputs("no denied or rejected calls in the window\n", f);
	else
		tt_print(f, &t, "");
}

/*
 * denials --shadow: calls shadow mode let through that everything enforced
 * would have denied, with the statement that would have decided. Reading
 * this list for a week is how a policy in shadow is rolled out.
 */
static void
shadow_text(FILE *f, struct review *rv)
{
	struct ttable t = {.ncol = 6, .head = {"TIME", "WOULD", "IDENTITY", "ACTION", "RESOURCE", "STATEMENT"}};

	for (size_t i = 0; i < rv->n; i++) {
		const struct rec *r = &rv->recs[i];
		char st[512];

		if (!in_window(rv, r) || !r->shadow)
			continue;
		if (r->shadow_policy)
			snprintf(st, sizeof(st), "%s/%s", r->shadow_policy, r->shadow_statement ? r->shadow_statement : "-");
		else
			snprintf(st, sizeof(st), "-");
		const char *v[6] = {r->time_s, r->shadow_effect ? r->shadow_effect : "deny", r->identity, r->action,
		                    r->shadow_resource ? r->shadow_resource : "-", st};
		tt_row(&t, v);
	}
	if (t.rows == 0)
		fputs("no calls that shadow mode would have denied in the window\n", f);
	else
		tt_print(f, &t, "");
}

static int
shadow_json(FILE *f, struct review *rv)
{
	for (size_t i = 0; i < rv->n; i++) {
		const struct rec *r = &rv->recs[i];
		cJSON *o;
		char *txt;

		if (!in_window(rv, r) || !r->shadow)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "eventTime", r->time_s);
		cJSON_AddStringToObject(o, "decision", "allow");
		cJSON_AddStringToObject(o, "wouldBe", r->shadow_effect ? r->shadow_effect : "deny");
		cJSON_AddStringToObject(o, "identity", r->identity);
		cJSON_AddStringToObject(o, "action", r->action);
		if (r->shadow_resource)
			cJSON_AddStringToObject(o, "resource", r->shadow_resource);
		else
			cJSON_AddNullToObject(o, "resource");
		if (r->shadow_policy)
			cJSON_AddStringToObject(o, "policy", r->shadow_policy);
		else
			cJSON_AddNullToObject(o, "policy");
		if (r->shadow_statement)
			cJSON_AddStringToObject(o, "statement", r->shadow_statement);
		else
			cJSON_AddNullToObject(o, "statement");
		txt = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		if (txt == NULL)
			return 1;
		fprintf(f, "%s\n", txt);
		free(txt);
	}
	return 0;
}

static int
denials_json(FILE *f, struct review *rv)
{
	for (size_t i = 0; i < rv->n; i++) {
		const struct rec *r = &rv->recs[i];
		cJSON *o;
		char *txt;

		if (!in_window(rv, r) || !is_denial(r))
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "eventTime", r->time_s);
		cJSON_AddStringToObject(o, "decision", r->dec == DEC_DENY ? "deny" : "reject");
		cJSON_AddStringToObject(o, "identity", r->identity);
		cJSON_AddStringToObject(o, "action", r->action);
		if (r->resource)
			cJSON_AddStringToObject(o, "resource", r->resource);
		else
			cJSON_AddNullToObject(o, "resource");
		if (r->policy)
			cJSON_AddStringToObject(o, "policy", r->policy);
		else
			cJSON_AddNullToObject(o, "policy");
		if (r->statement)
			cJSON_AddStringToObject(o, "statement", r->statement);
		else
			cJSON_AddNullToObject(o, "statement");
		if (r->reason)
			cJSON_AddStringToObject(o, "reason", r->reason);
		else
			cJSON_AddNullToObject(o, "reason");
		txt = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		if (txt == NULL)
			return -1;
		fprintf(f, "%s\n", txt);
		free(txt);
	}
	return 0;
}

/* ---- HTML report ------------------------------------------------------------------------------ */

void
logreview_html_escape(FILE *f, const char *s)
{
	if (s == NULL)
		return;
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			/* control bytes have no business in a page (a log line is client input) */
			if ((unsigned char)*s < 0x20 && *s != '\t')
				fputc('?', f);
			else
				fputc(*s, f);
		}
	}
}

#define H(s) logreview_html_escape(f, (s))

static const char *const dec_color[DEC__N] = {"#3a8f5f", "#c83a3a", "#e8952e", "#7656a8", "#9aa0a6"};
static const char *const dec_label[DEC__N] = {"allowed", "denied", "rejected", "errors", "other"};
/* stacking order, bottom up */
static const int dec_order[] = {DEC_ALLOW, DEC_ERROR, DEC_REJECT, DEC_DENY, DEC_OTHER};

/* A value axis: `*n` gridline steps of a round `*step` (1, 2 or 5 times a power of ten), n <= 6. */
static void
nice_axis(uint64_t maxv, uint64_t *step, int *n)
{
	uint64_t p = 1;

	for (;;) {
		static const uint64_t m[] = {1, 2, 5};

		for (int i = 0; i < 3; i++) {
			if ((maxv + m[i] * p - 1) / (m[i] * p) <= 6) {
				*step = m[i] * p;
				*n = (int)((maxv + *step - 1) / *step);
				if (*n < 1)
					*n = 1;
				return;
			}
		}
		p *= 10;
	}
}

static void
html_legend(FILE *f)
{
	fputs("<div class=\"legend\">", f);
	for (int i = 0; i < 4; i++)
		fprintf(f, "<span><i style=\"background:%s\"></i>%s</span>", dec_color[dec_order[i]],
		        dec_label[dec_order[i]]);
	fputs("</div>\n", f);
}

static void
html_chart_time(FILE *f, struct review *rv, struct summary *s)
{
	static const int64_t steps[] = {1000,    5000,    10000,    30000,    60000,    300000,   600000,   900000,
	                                1800000, 3600000, 10800000, 21600000, 43200000, 86400000, 604800000};
	const int W = 1000, HT = 280, ml = 56, mr = 12, mt = 12, mb = 44;
	int64_t step = steps[0], start, span;
	size_t nb, i, k;
	uint64_t(*b)[DEC__N], maxv = 0, ymax, ystep;
	double bw, ph = HT - mt - mb;
	int ny;
	char lab[40];

	if (s->calls == 0) {
		fputs("<p class=\"empty\">No calls in the window.</p>\n", f);
		return;
	}
	span = s->last_ms - s->first_ms;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		step = steps[i];
		if (span / step < LR_CHART_MAX_BUCKETS)
			break;
	}
	while (span / step >= LR_CHART_MAX_BUCKETS) /* beyond a week a bucket: weeks */
		step += 604800000;
	start = s->first_ms - ((s->first_ms % step) + step) % step;
	nb = (size_t)((s->last_ms - start) / step) + 1;
	if (nb < 12) {
		/* a burst: centre it on a short timeline rather than draw one bar across the whole chart */
		start -= (int64_t)((12 - nb) / 2) * step;
		nb = 12;
	}
	b = calloc(nb, sizeof(*b));
	if (b == NULL)
		oom();
	for (i = 0; i < rv->n; i++) {
		const struct rec *r = &rv->recs[i];

		if (in_window(rv, r))
			b[(r->t_ms - start) / step][r->dec]++;
	}
	for (i = 0; i < nb; i++) {
		uint64_t t = 0;

		for (k = 0; k < DEC__N; k++)
			t += b[i][k];
		if (t > maxv)
			maxv = t;
	}
	nice_axis(maxv, &ystep, &ny);
	ymax = ystep * (uint64_t)ny;
	bw = (double)(W - ml - mr) / (double)nb;
	fprintf(f, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"calls over time\">\n", W, HT);
	for (k = 0; k <= (size_t)ny; k++) {
		double y = mt + ph - ph * (double)k / ny;

		fprintf(f,
		        "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
		        "<text x=\"%d\" y=\"%.1f\" class=\"ylab\">%" PRIu64 "</text>\n",
		        ml, W - mr, y, y, ml - 8, y + 4, ystep * k);
	}
	for (i = 0; i < nb; i++) {
		double x = ml + bw * (double)i, y = mt + ph, gap = bw > 6 ? bw * 0.18 : 0.5;
		uint64_t tot = 0;

		for (k = 0; k < DEC__N; k++)
			tot += b[i][k];
		fmt_time(lab, sizeof(lab), start + (int64_t)i * step);
		fprintf(f,
		        "<g><title>%s: %" PRIu64 " calls, %" PRIu64 " allowed, %" PRIu64 " denied, %" PRIu64
		        " rejected, %" PRIu64 " errors</title>",
		        lab, tot, b[i][DEC_ALLOW], b[i][DEC_DENY], b[i][DEC_REJECT], b[i][DEC_ERROR]);
		for (k = 0; k < DEC__N; k++) {
			int d = dec_order[k];
			double hgt = ph * (double)b[i][d] / (double)ymax;

			if (b[i][d] == 0)
				continue;
			y -= hgt;
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>",
			        x + gap / 2, y, bw - gap, hgt, dec_color[d]);
		}
		fputs("</g>\n", f);
	}
	/* at most 8 time labels; the date only when the chart spans more than a day */
	{
		size_t every = (nb + 7) / 8;
		bool days = (int64_t)nb * step > 86400000;

		for (i = 0; i < nb; i += every) {
			char full[40];
			double x = ml + bw * ((double)i + 0.5);

			fmt_time(full, sizeof(full), start + (int64_t)i * step);
			if (days)
				snprintf(lab, sizeof(lab), "%.5s %.5s", full + 5, full + 11);
			else if (step < 60000)
				snprintf(lab, sizeof(lab), "%.8s", full + 11);
			else
				snprintf(lab, sizeof(lab), "%.5s", full + 11);
			fprintf(f,
			        "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"tick\"/>"
			        "<text x=\"%.1f\" y=\"%.1f\" class=\"xlab\">%s</text>\n",
			        x, x, mt + ph, mt + ph + 5, x, mt + ph + 20, lab);
		}
	}
	fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", ml, W - mr, mt + ph,
	        mt + ph);
	fmt_time(lab, sizeof(lab), start);
	fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"note\">UTC, one bar per %" PRId64 " %s from %s</text>\n", W - mr,
	        HT - 4,
	        step >= 86400000  ? step / 86400000
	        : step >= 3600000 ? step / 3600000
	        : step >= 60000   ? step / 60000
	                          : step / 1000,
	        step >= 86400000  ? "day(s)"
	        : step >= 3600000 ? "hour(s)"
	        : step >= 60000   ? "minute(s)"
	                          : "second(s)",
	        lab);
	fputs("</svg>\n", f);
	free(b);
}

static void
html_chart_identity(FILE *f, struct summary *s)
{
	const struct gtab *g = &s->by[BY_IDENTITY];
	size_t n = g->n < LR_CHART_MAX_IDENTITIES ? g->n : LR_CHART_MAX_IDENTITIES, i;
	const int W = 1000, row = 30, ml = 230, mr = 60, mt = 8;
	int HT = (int)n * row + mt + 26, ny;
	uint64_t maxv = 0, ymax, ystep;
	double pw = W - ml - mr;

	if (n == 0) {
		fputs("<p class=\"empty\">No calls in the window.</p>\n", f);
		return;
	}
	for (i = 0; i < n; i++)
		if (g->g[i].calls > maxv)
			maxv = g->g[i].calls;
	nice_axis(maxv, &ystep, &ny);
	ymax = ystep * (uint64_t)ny;
	fprintf(f, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"calls per identity\">\n", W,
	        HT);
	for (int k = 0; k <= ny; k++) {
		double x = ml + pw * k / ny;

		fprintf(f,
		        "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" class=\"grid\"/>"
		        "<text x=\"%.1f\" y=\"%d\" class=\"xlab\">%" PRIu64 "</text>\n",
		        x, x, mt, HT - 22, x, HT - 6, ystep * (uint64_t)k);
	}
	for (i = 0; i < n; i++) {
		const struct group *e = &g->g[i];
		double y = mt + (double)i * row + 5, x = ml, hgt = row - 10;

		fprintf(f, "<g><title>");
		H(e->key);
		fprintf(f,
		        ": %" PRIu64 " calls, %" PRIu64 " allowed, %" PRIu64 " denied, %" PRIu64 " rejected, %" PRIu64
		        " errors</title>",
		        e->calls, e->n[DEC_ALLOW], e->n[DEC_DENY], e->n[DEC_REJECT], e->n[DEC_ERROR]);
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"ilab\">", ml - 10, y + hgt / 2 + 5);
		/* long names are cut for the axis; the tooltip and the tables have them whole */
		if (u8width(e->key) > 28) {
			char cut[100];

			snprintf(cut, sizeof(cut), "%.26s", e->key);
			while (cut[0] && ((unsigned char)cut[strlen(cut) - 1] & 0xc0) == 0x80)
				cut[strlen(cut) - 1] = '\0';
			if (cut[0] && ((unsigned char)cut[strlen(cut) - 1] & 0xc0) == 0xc0)
				cut[strlen(cut) - 1] = '\0';
			H(cut);
			fputs("\xe2\x80\xa6", f);
		} else {
			H(e->key);
		}
		fputs("</text>", f);
		for (int k = 0; k < DEC__N; k++) {
			int d = dec_order[k];
			double w = pw * (double)e->n[d] / (double)ymax;

			if (e->n[d] == 0)
				continue;
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", x, y, w,
			        hgt, dec_color[d]);
			x += w;
		}
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"vlab\">%" PRIu64 "</text></g>\n", x + 6,
		        y + hgt / 2 + 5, e->calls);
	}
	fputs("</svg>\n", f);
}

static void
html_counts_table(FILE *f, const char *first, const struct gtab *g)
{
	fprintf(
	    f,
	    "<table><thead><tr><th>%s</th><th class=\"n\">calls</th><th class=\"n\">allowed</th>"
	    "<th class=\"n\">denied</th><th class=\"n\">rejected</th><th class=\"n\">errors</th></tr></thead><tbody>\n",
	    first);
	for (size_t i = 0; i < g->n; i++) {
		const struct group *e = &g->g[i];

		fputs("<tr><td>", f);
		H(e->key);
		fprintf(f,
		        "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64 "</td>"
		        "<td class=\"n%s\">%" PRIu64 "</td><td class=\"n%s\">%" PRIu64 "</td>"
		        "<td class=\"n%s\">%" PRIu64 "</td></tr>\n",
		        e->calls, e->n[DEC_ALLOW], e->n[DEC_DENY] ? " bad" : "", e->n[DEC_DENY],
		        e->n[DEC_REJECT] ? " warn" : "", e->n[DEC_REJECT], e->n[DEC_ERROR] ? " err" : "",
		        e->n[DEC_ERROR]);
	}
	fputs("</tbody></table>\n", f);
}

static const char html_css[] =
    "*{box-sizing:border-box}"
    "body{margin:0;background:#f4f5f7;color:#1f2328;font:14px/1.45 system-ui,-apple-system,\"Segoe UI\","
    "Roboto,\"DejaVu Sans\",\"Liberation Sans\",Arial,sans-serif}"
    "main{max-width:1120px;margin:0 auto;padding:28px 28px 48px}"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:0 0 12px}"
    ".meta{color:#57606a;margin:0 0 20px}.meta code{font-size:12.5px}"
    "section{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:18px 20px;margin:0 0 18px}"
    ".cards{display:grid;grid-template-columns:repeat(5,1fr);gap:12px;margin:0 0 18px}"
    ".card{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:12px 16px;border-top:4px solid #57606a}"
    ".card b{display:block;font-size:26px;font-variant-numeric:tabular-nums}.card span{color:#57606a}"
    ".grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px}.grid2 section{margin:0}"
    ".wrap{margin:0 0 18px}"
    ".legend{display:flex;gap:18px;margin:0 0 8px;color:#57606a;font-size:13px}"
    ".legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;vertical-align:-1px}"
    "svg.chart{width:100%;height:auto;display:block}"
    "svg .grid{stroke:#eaeef2;stroke-width:1}svg .axis{stroke:#8c959f;stroke-width:1}"
    "svg .tick{stroke:#8c959f}svg text{font:12px system-ui,\"DejaVu Sans\",sans-serif;fill:#57606a}"
    "svg .ylab{text-anchor:end}svg .xlab{text-anchor:middle}svg .note{text-anchor:end;font-size:11px}"
    "svg .ilab{text-anchor:end;fill:#1f2328;font-size:13px}svg .vlab{fill:#1f2328;font-size:12px}"
    "table{border-collapse:collapse;width:100%;font-size:13px}"
    "th{text-align:left;color:#57606a;font-weight:600;border-bottom:2px solid #d8dee4;padding:6px 8px}"
    "td{border-bottom:1px solid #eaeef2;padding:5px 8px;vertical-align:top;overflow-wrap:break-word}"
    "tbody tr:nth-child(even){background:#f8f9fa}"
    ".n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "td.bad{color:#b42318;font-weight:600}td.warn{color:#b54708;font-weight:600}td.err{color:#6941c6;font-weight:600}"
    "table.denials{table-layout:fixed}.nowrap{white-space:nowrap}.mono{font-family:ui-monospace,\"DejaVu Sans "
    "Mono\",monospace;font-size:12px}"
    ".pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;color:#fff}"
    ".empty{color:#57606a;font-style:italic;margin:4px 0}"
    "footer{color:#8c959f;font-size:12px;text-align:center}";

static void
html_card(FILE *f, const char *label, uint64_t v, const char *color)
{
	fprintf(f, "<div class=\"card\" style=\"border-top-color:%s\"><b>%" PRIu64 "</b><span>%s</span></div>\n", color,
	        v, label);
}

/* "arn:aws:dynamodb:us-east-1:123456789012:table/users" -> "table/users"; anything else as is. */
static const char *
arn_short(const char *arn)
{
	const char *p = arn;

	if (arn == NULL)
		return "-";
	if (strncmp(arn, "arn:", 4) != 0)
		return arn;
	for (int i = 0; i < 5; i++) {
		p = strchr(p, ':');
		if (p == NULL)
			return arn;
		p++;
	}
	return *p ? p : arn;
}

static void
report_html(FILE *f, struct review *rv, struct summary *s, const struct opts *o)
{
	char a[40], b[40];
	size_t i, shown = 0, total = 0;

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
	      "<title>ddbguard access log report</title><style>",
	      f);
	fputs(html_css, f);
	fputs("</style></head><body><main>\n<h1>ddbguard access log report</h1>\n<p class=\"meta\">", f);
	if (s->calls) {
		fmt_time(a, sizeof(a), s->first_ms);
		fmt_time(b, sizeof(b), s->last_ms);
		fprintf(f, "Calls from <b>%s</b> to <b>%s</b>", a, b);
	} else {
		fputs("No calls", f);
	}
	fmt_time(a, sizeof(a), rv->since_ms);
	fmt_time(b, sizeof(b), rv->until_ms);
	fprintf(f, " &middot; window %s &ndash; %s &middot; %zu records read from ", rv->has_since ? a : "start",
	        rv->has_until ? b : "end", rv->n);
	for (int k = 0; k < o->nfiles; k++) {
		fputs(k ? ", <code>" : "<code>", f);
		H(o->files[k]);
		fputs("</code>", f);
	}
	if (rv->malformed || rv->truncated)
		fprintf(f, " &middot; <b>%zu malformed and %zu truncated line(s) skipped</b>", rv->malformed,
		        rv->truncated);
	fputs("</p>\n<div class=\"cards\">\n", f);
	html_card(f, "calls", s->calls, "#57606a");
	html_card(f, "allowed", s->n[DEC_ALLOW], dec_color[DEC_ALLOW]);
	html_card(f, "denied", s->n[DEC_DENY], dec_color[DEC_DENY]);
	html_card(f, "rejected", s->n[DEC_REJECT], dec_color[DEC_REJECT]);
	html_card(f, "errors", s->n[DEC_ERROR], dec_color[DEC_ERROR]);
	fputs("</div>\n<section><h2>Calls over time</h2>\n", f);
	html_legend(f);
	html_chart_time(f, rv, s);
	fputs("</section>\n<section><h2>Calls per identity</h2>\n", f);
	html_legend(f);
	html_chart_identity(f, s);
	fputs("</section>\n", f);
	fputs("<section><h2>By identity</h2>\n", f);
	html_counts_table(f, "identity", &s->by[BY_IDENTITY]);
	fputs("</section>\n<section><h2>By action</h2>\n", f);
	html_counts_table(f, "action", &s->by[BY_ACTION]);
	fputs("</section>\n<div class=\"grid2 wrap\"><section><h2>By table</h2>\n", f);
	html_counts_table(f, "table", &s->by[BY_TABLE]);
	fputs("</section>\n<section><h2>By country</h2>\n", f);
	html_counts_table(f, "country", &s->by[BY_COUNTRY]);
	fputs("</section></div>\n<div class=\"grid2 wrap\"><section><h2>Top denied statements</h2>\n", f);
	if (s->stmts.n == 0) {
		fputs("<p class=\"empty\">No denials.</p>\n", f);
	} else {
		fputs("<table><thead><tr><th>policy / statement</th><th class=\"n\">denials</th></tr></thead><tbody>\n",
		      f);
		for (i = 0; i < s->stmts.n; i++) {
			fputs("<tr><td>", f);
			H(s->stmts.g[i].key);
			fprintf(f, "</td><td class=\"n bad\">%" PRIu64 "</td></tr>\n", s->stmts.g[i].calls);
		}
		fputs("</tbody></table>\n", f);
	}
	fputs("</section>\n<section><h2>First seen in the window</h2>\n", f);
	if (!rv->has_since)
		fputs("<p class=\"empty\">No --since given: every identity and table is new.</p>\n", f);
	if (s->new_ident.n + s->new_table.n == 0) {
		fputs("<p class=\"empty\">No new identities or tables.</p>\n", f);
	} else {
		fputs("<table><thead><tr><th>kind</th><th>name</th><th>first seen</th></tr></thead><tbody>\n", f);
		for (int pass = 0; pass < 2; pass++) {
			const struct gtab *g = pass ? &s->new_table : &s->new_ident;

			for (i = 0; i < g->n; i++) {
				fmt_time(a, sizeof(a), g->g[i].first_ms);
				fprintf(f, "<tr><td>%s</td><td>", pass ? "table" : "identity");
				H(g->g[i].key);
				fprintf(f, "</td><td class=\"nowrap mono\">%s</td></tr>\n", a);
			}
		}
		fputs("</tbody></table>\n", f);
	}
	fputs("</section></div>\n<section><h2>Denied and rejected calls</h2>\n", f);
	for (i = 0; i < rv->n; i++)
		total += in_window(rv, &rv->recs[i]) && is_denial(&rv->recs[i]);
	if (total == 0) {
		fputs("<p class=\"empty\">None in the window.</p>\n", f);
	} else {
		/* fixed layout: long identities or actions must not squeeze the reason into a column of words */
		fputs("<table class=\"denials\"><colgroup><col style=\"width:19%\"><col style=\"width:8%\">"
		      "<col style=\"width:15%\"><col style=\"width:15%\"><col style=\"width:11%\">"
		      "<col style=\"width:13%\"><col style=\"width:19%\"></colgroup><thead><tr><th>time</th>"
		      "<th>decision</th><th>identity</th><th>action</th><th>resource</th><th>statement</th>"
		      "<th>reason</th></tr></thead><tbody>\n",
		      f);
		for (i = 0; i < rv->n && shown < LR_HTML_MAX_DENIALS; i++) {
			const struct rec *r = &rv->recs[i];
			char st[512];

			if (!in_window(rv, r) || !is_denial(r))
				continue;
			shown++;
			stmt_of(st, sizeof(st), r);
			fputs("<tr><td class=\"nowrap mono\">", f);
			H(r->time_s);
			fprintf(f, "</td><td><span class=\"pill\" style=\"background:%s\">%s</span></td><td>",
			        dec_color[r->dec], r->dec == DEC_DENY ? "deny" : "reject");
			H(r->identity);
			fputs("</td><td>", f);
			H(r->action);
			/* the ARN's account and region are the same on every row: show the resource part, keep
			 * the whole ARN in the tooltip */
			fputs("</td><td class=\"mono\" title=\"", f);
			H(r->resource ? r->resource : "-");
			fputs("\">", f);
			H(arn_short(r->resource));
			fputs("</td><td>", f);
			H(st);
			fputs("</td><td>", f);
			H(r->reason ? r->reason : "-");
			fputs("</td></tr>\n", f);
		}
		fputs("</tbody></table>\n", f);
		if (shown < total)
			fprintf(f,
			        "<p class=\"empty\">First %zu of %zu shown; <code>ddbguard-log denials</code> lists "
			        "them all.</p>\n",
			        shown, total);
	}
	fputs("</section>\n<footer>Generated by ddbguard-log report. Self-contained: no scripts, fonts or "
	      "network requests.</footer>\n</main></body></html>\n",
	      f);
}

#undef H

/* ---- command line ----------------------------------------------------------------------------- */

static int
usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "ddbguard-log: %s\n", msg);
	fputs("usage: ddbguard-log summary [--since TIME] [--until TIME] [--json] [-o FILE] FILE...\n"
	      "       ddbguard-log denials [--shadow] [--since TIME] [--until TIME] [--json] [-o FILE] FILE...\n"
	      "       ddbguard-log report  [--since TIME] [--until TIME] --out FILE.html FILE...\n"
	      "TIME is ISO 8601 (2026-05-01, 2026-05-01T12:00:00Z, 2026-05-01T14:00+02:00; no zone is UTC)\n"
	      "or a span back from the newest record in the files: 90s, 30m, 1h, 7d, 2w.\n"
	      "The window is [--since, --until). FILE - reads standard input.\n",
	      stderr);
	return 2;
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	if (argc < 1 || argv[0] == NULL)
		return usage("no subcommand");
	o->cmd = argv[0];
	if (strcmp(o->cmd, "summary") && strcmp(o->cmd, "denials") && strcmp(o->cmd, "report")) {
		fprintf(stderr, "ddbguard-log: unknown subcommand '%s'\n", o->cmd);
		return usage(NULL);
	}
	o->files = xrealloc(NULL, (size_t)argc * sizeof(char *));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq = NULL, *val = NULL;
		const char **slot = NULL;
		size_t nlen;

		if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++)
				o->files[o->nfiles++] = argv[i];
			break;
		}
		if (a[0] != '-' || strcmp(a, "-") == 0) {
			o->files[o->nfiles++] = argv[i];
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(NULL);
			return 1;
		}
		if (strcmp(a, "--shadow") == 0) {
			if (strcmp(o->cmd, "denials") != 0)
				return usage("--shadow is for denials");
			o->shadow = true;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			if (strcmp(o->cmd, "report") == 0)
				return usage("--json is for summary and denials");
			o->json = true;
			continue;
		}
		eq = strchr(a, '=');
		nlen = eq ? (size_t)(eq - a) : strlen(a);
		if (nlen == 7 && strncmp(a, "--since", 7) == 0)
			slot = &o->since;
		else if (nlen == 7 && strncmp(a, "--until", 7) == 0)
			slot = &o->until;
		else if ((nlen == 5 && strncmp(a, "--out", 5) == 0) || (nlen == 2 && strncmp(a, "-o", 2) == 0))
			slot = &o->out;
		if (slot == NULL) {
			fprintf(stderr, "ddbguard-log: unknown option '%s'\n", a);
			return usage(NULL);
		}
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		if (val == NULL || *val == '\0') {
			fprintf(stderr, "ddbguard-log: option '%.*s' needs a value\n", (int)nlen, a);
			return usage(NULL);
		}
		*slot = val;
	}
	if (o->nfiles == 0)
		return usage("no log files given");
	if (strcmp(o->cmd, "report") == 0 && o->out == NULL)
		return usage("report needs --out FILE.html");
	return 0;
}

int
logreview_main(int argc, char **argv)
{
	struct review rv;
	struct summary s;
	struct opts o;
	FILE *out = stdout;
	int rc, i;

	rc = parse_args(argc, argv, &o);
	if (rc != 0) {
		free(o.files);
		return rc == 1 ? 0 : rc;
	}
	memset(&rv, 0, sizeof(rv));
	for (i = 0; i < o.nfiles; i++)
		if (load_file(&rv, o.files[i]) != 0) {
			rc = 2;
			goto done;
		}
	qsort(rv.recs, rv.n, sizeof(*rv.recs), rec_cmp);
	if (o.since) {
		if (logreview_parse_time(o.since, rv.newest_ms, &rv.since_ms) != 0) {
			fprintf(stderr, "ddbguard-log: --since '%s': expected ISO 8601 or a span like 1h\n", o.since);
			rc = usage(NULL);
			goto done;
		}
		rv.has_since = true;
	}
	if (o.until) {
		if (logreview_parse_time(o.until, rv.newest_ms, &rv.until_ms) != 0) {
			fprintf(stderr, "ddbguard-log: --until '%s': expected ISO 8601 or a span like 1h\n", o.until);
			rc = usage(NULL);
			goto done;
		}
		rv.has_until = true;
	}
	if (o.out && strcmp(o.out, "-") != 0) {
		out = fopen(o.out, "w");
		if (out == NULL) {
			fprintf(stderr, "ddbguard-log: %s: %s\n", o.out, strerror(errno));
			rc = 2;
			goto done;
		}
	}
	if (strcmp(o.cmd, "denials") == 0 && o.shadow) {
		if (o.json)
			rc = shadow_json(out, &rv) ? 2 : 0;
		else
			shadow_text(out, &rv);
	} else if (strcmp(o.cmd, "denials") == 0) {
		if (o.json)
			rc = denials_json(out, &rv) ? 2 : 0;
		else
			denials_text(out, &rv);
	} else {
		summary_build(&rv, &s);
		if (strcmp(o.cmd, "report") == 0)
			report_html(out, &rv, &s, &o);
		else if (o.json)
			rc = summary_json(out, &rv, &s) ? 2 : 0;
		else
			summary_text(out, &rv, &s);
		summary_free(&s);
	}
	if (out != stdout) {
		if (fclose(out) != 0) {
			fprintf(stderr, "ddbguard-log: %s: %s\n", o.out, strerror(errno));
			rc = 2;
		}
	} else if (fflush(out) != 0) {
		rc = 2;
	}
done:
	strtab_free(&rv.st);
	free(rv.recs);
	free(o.files);
	return rc;
}

/*
 * ddbguard-log: tools for ddbguard's access log.
 *
 *   ddbguard-log verify [--pubkey FILE] [--allow-restart] [--at TIME] [--margin SECONDS] FILE...
 *
 * Checks the hash chain and the digest chain described in proxy/audit/logchain.h
 * over FILEs taken as one chain, oldest first, and how the log ends: every
 * file but the last ends with its closing digest; in the last, no record
 * follows a final digest, and unless it ends with one (a clean shutdown),
 * its last digest is at most interval + margin before TIME (default: now).
 * What a pass does and does not prove: proxy/audit/ACCESS_LOG.md. Files named like size-rotated logs
 * (PATH.<YYYYmmddTHHMMSSZ>.<seq>) are put in order of their seq suffix, before
 * any other files, which keep the order given; so `verify access.log*` works.
 * Files renamed by the operator (SIGUSR1 rotation) must be given in order.
 *
 * Exit 0: every record verified. 1: the first broken record is named
 * (file:line, seq, what is wrong). 2: usage error or a file cannot be read.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "filters/dynamodb/json.h"
#include "proxy/tools/logreview.h"
#include "proxy/audit/logchain.h"

enum entry_kind { ENTRY_RECORD, ENTRY_DIGEST, ENTRY_BAD };

struct entry {
	enum entry_kind kind;
	size_t file;
	size_t line;
	struct logchain_link link; /* ENTRY_RECORD; link.seq also for ENTRY_DIGEST */
	struct logchain_digest_fields *digest; /* ENTRY_DIGEST; NULL when malformed; owned */
	bool last_in_file;
};

struct verify {
	char **files;
	size_t nfiles;
	struct entry *e;
	size_t n, cap;
	EVP_PKEY *pub;
	char pub_id[LOGCHAIN_KEYID_HEX_LEN + 1];
	bool allow_restart;
	struct logchain *chain;
	time_t at;	 /* the reviewer's time (--at), or now */
	bool at_given;	 /* --at was given: the gap check applies even after a final digest */
	long margin;	 /* seconds allowed past the interval */
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: ddbguard-log verify [--pubkey FILE] [--allow-restart] [--at TIME] [--margin S] FILE...\n"
	           "       ddbguard-log summary [--since TIME] [--until TIME] [--json] [-o FILE] FILE...\n"
	           "       ddbguard-log denials [--since TIME] [--until TIME] [--json] [-o FILE] FILE...\n"
	           "       ddbguard-log report  [--since TIME] [--until TIME] --out FILE.html FILE...\n"
	           "       ddbguard-log --help\n"
	           "\n"
	           "Tools for ddbguard's access log (one JSON record per call, hash-chained).\n"
	           "\n"
	           "  verify    check the hash chain (and, with --pubkey, the signed digests) over FILEs taken\n"
	           "            as one chain; name the first record that was edited, deleted or reordered\n"
	           "  summary   calls by identity, action, table, source country; top denied statements;\n"
	           "            identities and tables first seen in the window\n"
	           "  denials   every denied or rejected call in the window, newest last\n"
	           "  report    a self-contained HTML page (inline SVG charts, no scripts or network)\n"
	           "\n"
	           "  FILE...          access-log files of one chain, oldest first (size-rotated names\n"
	           "                   PATH.<time>.<seq> are sorted by seq; others keep the order given);\n"
	           "                   - reads standard input (summary, denials, report)\n"
	           "  --pubkey FILE    PEM Ed25519 public key (log-signing.pub from certs/mklogkey.sh):\n"
	           "                   check the digest signatures too\n"
	           "  --allow-restart  accept chainStart markers (a new chain after a broken file tail)\n"
	           "  --at TIME        verify: the log must be covered up to TIME (ISO 8601 UTC, or a Unix time);\n"
	           "                   default: now, unless the last file ends with a final digest\n"
	           "  --margin S       verify: seconds allowed past the digest interval (default 10)\n"
	           "  --since TIME     only records at or after TIME; --until TIME: only before TIME.\n"
	           "                   TIME is ISO 8601 (2026-05-01, 2026-05-01T12:00:00Z, 2026-05-01T14:00+02:00;\n"
	           "                   no zone is UTC) or a span back from the newest record: 90s, 30m, 1h, 7d, 2w.\n"
	           "                   Without --since every identity and table counts as first seen\n"
	           "  --json           machine-readable output (summary, denials)\n"
	           "  -o, --out FILE   write to FILE instead of standard output (report: required)\n"
	           "\n"
	           "exit: verify: 0 verified, 1 broken (the first broken record is named), 2 usage or I/O error;\n"
	           "      summary, denials, report: 0 done (malformed lines are reported on stderr and counted),\n"
	           "      2 usage error, unreadable input or unwritable output\n"
	           "See ddbguard-log(1).\n");
}

/* The seq of a size-rotated name PATH.YYYYmmddTHHMMSSZ.<seq>, or -1. */
static long long
rotated_seq(const char *name)
{
	const char *dot = strrchr(name, '.'), *p;
	size_t i;
	long long seq = 0;

	if (dot == NULL || dot[1] == '\0' || dot - name < 17)
		return -1;
	for (p = dot + 1; *p; p++) {
		if (*p < '0' || *p > '9' || seq > 100000000000000000LL)
			return -1;
		seq = seq * 10 + (*p - '0');
	}
	p = dot - 17; /* ".YYYYmmddTHHMMSSZ" */
	if (p[0] != '.' || p[9] != 'T' || p[16] != 'Z')
		return -1;
	for (i = 1; i < 16; i++)
		if (i != 9 && (p[i] < '0' || p[i] > '9'))
			return -1;
	return seq;
}

struct named {
	char *name;
	long long seq;
	size_t pos;
};

static int
cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;

	/* Rotated names first by seq, then the rest in the order given. */
	if ((x->seq < 0) != (y->seq < 0))
		return x->seq < 0 ? 1 : -1;
	if (x->seq >= 0 && x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static bool
add_entry(struct verify *v, const struct entry *e)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 1024;
		struct entry *ne = realloc(v->e, cap * sizeof(*ne));

		if (ne == NULL)
			return false;
		v->e = ne;
		v->cap = cap;
	}
	v->e[v->n++] = *e;
	return true;
}

static bool
is_digest(const char *line, size_t len)
{
	static const char pfx[] = "{\"ddbguardDigest\":";

	return len >= sizeof(pfx) - 1 && memcmp(line, pfx, sizeof(pfx) - 1) == 0;
}

static int
load_file(struct verify *v, size_t fi)
{
	FILE *f = fopen(v->files[fi], "r");
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	struct entry e;

	if (f == NULL) {
		fprintf(stderr, "ddbguard-log: %s: %s\n", v->files[fi], strerror(errno));
		return 2;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		memset(&e, 0, sizeof(e));
		e.file = fi;
		e.line = lineno;
		if (is_digest(line, (size_t)len)) {
			e.kind = ENTRY_DIGEST;
			if ((e.digest = malloc(sizeof(*e.digest))) != NULL &&
			    !logchain_parse_digest(v->chain, line, (size_t)len, e.digest)) {
				free(e.digest);
				e.digest = NULL;
			}
			if (e.digest != NULL)
				e.link.seq = e.digest->seq;
		} else {
			e.kind = logchain_parse_record(v->chain, line, (size_t)len, &e.link) ? ENTRY_RECORD : ENTRY_BAD;
		}
		if (!add_entry(v, &e)) {
			fprintf(stderr, "ddbguard-log: out of memory\n");
			free(line);
			fclose(f);
			return 2;
		}
	}
	free(line);
	fclose(f);
	if (v->n > 0 && v->e[v->n - 1].file == fi)
		v->e[v->n - 1].last_in_file = true;
	return 0;
}

static int broken(const struct verify *v, const struct entry *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
broken(const struct verify *v, const struct entry *e, const char *fmt, ...)
{
	va_list ap;

	if (e->kind == ENTRY_RECORD || e->kind == ENTRY_DIGEST)
		printf("BROKEN: %s:%zu: seq %" PRIu64 ": ", v->files[e->file], e->line, e->link.seq);
	else
		printf("BROKEN: %s:%zu: seq ?: ", v->files[e->file], e->line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return 1;
}

static const char zeros[LOGCHAIN_HEX_LEN + 1] = "0000000000000000000000000000000000000000000000000000000000000000";

/* What verify_all keeps about the digest chain. */
struct dstate {
	const struct entry *last; /* the last good digest */
	size_t verified, unchecked, total;
};

/* Checks digest i against the records before it and the digest before it. */
static int
check_digest(struct verify *v, size_t i, struct dstate *ds, const struct entry *last_record)
{
	struct entry *e = &v->e[i];
	const struct logchain_digest_fields *d = e->digest, *p;

	if (d == NULL)
		return broken(v, e, "digest mismatch: malformed digest line (edited, or written by an older version)");
	/* The record chain: a digest covers the last record before it. */
	if (last_record != NULL && d->seq != last_record->link.seq)
		return broken(v, e,
		    "digest mismatch: it covers record %" PRIu64 " but the record before it is %" PRIu64 " (%s:%zu)",
		    d->seq, last_record->link.seq, v->files[last_record->file], last_record->line);
	if (last_record != NULL && strcmp(d->hash, last_record->link.hash) != 0)
		return broken(v, e, "digest mismatch: its hash is not that of record %" PRIu64 " (%s:%zu)", d->seq,
		    v->files[last_record->file], last_record->line);
	if (last_record == NULL && d->seq == 0 && strcmp(d->hash, zeros) != 0)
		return broken(v, e, "digest mismatch: it covers no record but its hash is not zeros");
	/* Its signature first: with a key, an edited digest is named as such, not by what its edit broke. */
	if (v->pub != NULL) {
		if (!d->signed_)
			return broken(v, e, "bad signature: the digest is not signed (a key was given)");
		if (strcmp(d->key_id, v->pub_id) != 0)
			return broken(v, e, "bad signature: signed with key %s, the given key is %s", d->key_id, v->pub_id);
		if (!logchain_digest_verify(v->pub, d))
			return broken(v, e, "bad signature");
		ds->verified++;
	} else {
		ds->unchecked++;
	}
	/* The digest chain. */
	if ((p = ds->last ? ds->last->digest : NULL) != NULL) {
		bool restart = d->dseq == 1 && strcmp(d->prev, zeros) == 0;

		if (restart && !v->allow_restart)
			return broken(v, e, "digest chain restarted (the daemon found no digest to continue; "
			                    "--allow-restart accepts it)");
		if (!restart && d->dseq > p->dseq + 1) {
			for (size_t k = i + 1; k < v->n; k++)
				if (v->e[k].kind == ENTRY_DIGEST && v->e[k].digest != NULL &&
				    v->e[k].digest->dseq == p->dseq + 1)
					return broken(v, e, "reordered: digest %" PRIu64 " comes later (%s:%zu)", p->dseq + 1,
					    v->files[v->e[k].file], v->e[k].line);
			return broken(v, e, "deleted: digests %" PRIu64 "..%" PRIu64 " are missing before it", p->dseq + 1,
			    d->dseq - 1);
		}
		if (!restart && d->dseq <= p->dseq)
			return broken(v, e, "reordered: digest %" PRIu64 " after digest %" PRIu64 " (%s:%zu)", d->dseq,
			    p->dseq, v->files[ds->last->file], ds->last->line);
		if (!restart && strcmp(d->prev, p->digest_hash) != 0)
			return broken(v, e, "replaced: its prevDigest is not the digest before it (%s:%zu)",
			    v->files[ds->last->file], ds->last->line);
		if (d->seq < p->seq)
			return broken(v, e, "reordered: it covers record %" PRIu64 ", the digest before it %" PRIu64, d->seq,
			    p->seq);
		if (d->t < p->t)
			return broken(v, e, "reordered: its time %s is before the previous digest's %s", d->time, p->time);
	}
	ds->total++;
	ds->last = e;
	return 0;
}

static void
fmt_time(time_t t, char *buf, size_t n)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* How the log ends: closing digests, nothing after a final digest, and the gap to --at. */
static int
check_end(struct verify *v, const struct dstate *ds, size_t since_digest)
{
	const struct entry *L = ds->last, *e;
	char tl[32], ta[32];
	size_t i;

	for (i = 0; i < v->n; i++) {
		e = &v->e[i];
		if (e->last_in_file && e->file + 1 < v->nfiles &&
		    (e->kind != ENTRY_DIGEST || e->digest == NULL || e->digest->end == LOGCHAIN_END_NONE))
			return broken(v, e, "truncated: the file does not end with its closing digest (tail cut?)");
	}
	if (L == NULL) {
		if (v->n == 0)
			return 0;
		return broken(v, &v->e[v->n - 1], "truncated: no digest in the log; its end cannot be checked");
	}
	fmt_time(L->digest->t, tl, sizeof(tl));
	if (L->digest->end == LOGCHAIN_END_FINAL && since_digest > 0)
		return broken(v, &v->e[v->n - 1], "records follow the final digest (%s:%zu) of a log closed cleanly",
		    v->files[L->file], L->line);
	if (L->digest->end == LOGCHAIN_END_FINAL && L == &v->e[v->n - 1] && !v->at_given)
		return 0;
	if ((long long)v->at - (long long)L->digest->t > (long long)L->digest->interval + v->margin) {
		fmt_time(v->at, ta, sizeof(ta));
		return broken(v, L,
		    "truncated: the last digest is at %s, %lld s before %s (interval %u s + margin %ld s): records "
		    "after it may be cut off, or ddbguard stopped without a clean shutdown",
		    tl, (long long)v->at - (long long)L->digest->t, ta, L->digest->interval, v->margin);
	}
	return 0;
}

static int
verify_all(struct verify *v)
{
	size_t i, k, records = 0, since_digest = 0;
	uint64_t expected = 0;
	const char *last = NULL;
	const struct entry *last_record = NULL;
	struct dstate ds = { 0 };
	char tl[32];
	int rc;

	for (i = 0; i < v->n; i++) {
		struct entry *e = &v->e[i];
		struct logchain_link *l = &e->link;

		if (e->kind == ENTRY_BAD)
			return broken(v, e, "edited: not a chained record (no valid \"chain\" member)");
		if (e->kind == ENTRY_DIGEST) {
			if ((rc = check_digest(v, i, &ds, last_record)) != 0)
				return rc;
			since_digest = 0;
			continue;
		}
		if (strcmp(l->hash, l->computed) != 0)
			return broken(v, e, "edited: the record does not match its hash");
		if (l->chain_start && l->seq == 1 && !v->allow_restart)
			return broken(v, e,
			              "chain restarted (chainStart marker: the log's tail was broken when ddbguard "
			              "started; --allow-restart accepts it)");
		if (last != NULL && !(l->chain_start && l->seq == 1)) {
			if (l->seq > expected) {
				for (k = i + 1; k < v->n; k++)
					if (v->e[k].kind == ENTRY_RECORD && v->e[k].link.seq == expected)
						return broken(v, e, "reordered: seq %" PRIu64 " comes later (%s:%zu)",
						              expected, v->files[v->e[k].file], v->e[k].line);
				return broken(v, e, "deleted before: records %" PRIu64 "..%" PRIu64 " are missing",
				              expected, l->seq - 1);
			}
			if (l->seq < expected)
				return broken(v, e, "reordered: seq %" PRIu64 " expected, this seq came already",
				              expected);
			if (strcmp(l->prev, last) != 0)
				return broken(v, e,
				              "reordered: prev does not link to the record before it (replaced?)");
		}
		last = l->hash;
		last_record = e;
		expected = l->seq + 1;
		records++;
		since_digest++;
	}
	if ((rc = check_end(v, &ds, since_digest)) != 0)
		return rc;
	printf("OK: %zu records, %zu digests", records, ds.total);
	if (ds.verified)
		printf(", %zu signatures verified", ds.verified);
	if (ds.unchecked)
		printf(", %zu not checked (no --pubkey: anyone could have written them)", ds.unchecked);
	if (ds.last != NULL) {
		fmt_time(ds.last->digest->t, tl, sizeof(tl));
		printf("; last digest %s%s", tl,
		    ds.last->digest->end == LOGCHAIN_END_FINAL ? " (final: closed cleanly)" : "");
	}
	if (since_digest)
		printf("; the last %zu records are not yet covered by a digest", since_digest);
	printf("\n");
	return 0;
}

static EVP_PKEY *
load_pubkey(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (f == NULL) {
		fprintf(stderr, "ddbguard-log: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (k == NULL) {
		rewind(f);
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	}
	fclose(f);
	if (k == NULL || EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		fprintf(stderr, "ddbguard-log: %s: not a PEM Ed25519 public key\n", path);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

/* --at: ISO 8601 UTC (YYYY-MM-DDTHH:MM:SSZ, fraction allowed) or Unix seconds. */
static bool
parse_at(const char *s, time_t *out)
{
	struct tm tm = {0};
	char *rest, *end;
	long long n;

	if ((rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) != NULL) {
		if (*rest == '.')
			for (rest++; *rest >= '0' && *rest <= '9'; rest++)
				;
		if (strcmp(rest, "Z") != 0)
			return false;
		*out = timegm(&tm);
		return true;
	}
	n = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || n < 0)
		return false;
	*out = (time_t)n;
	return true;
}

static int
cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"pubkey", required_argument, NULL, 'p'},
	    {"allow-restart", no_argument, NULL, 'r'},
	    {"at", required_argument, NULL, 'a'},
	    {"margin", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct verify v = {.at = time(NULL), .margin = 10};
	struct named *nm;
	char *end;
	const char *pubkey = NULL;
	int ch, rc = 0;
	size_t i;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p': pubkey = optarg; break;
		case 'r': v.allow_restart = true; break;
		case 'a':
			if (!parse_at(optarg, &v.at)) {
				fprintf(stderr, "ddbguard-log: --at %s: expected YYYY-MM-DDTHH:MM:SSZ or a Unix time\n", optarg);
				return 2;
			}
			v.at_given = true;
			break;
		case 'm':
			v.margin = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v.margin < 0) {
				fprintf(stderr, "ddbguard-log: --margin %s: expected seconds\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (pubkey != NULL) {
		if ((v.pub = load_pubkey(pubkey)) == NULL || !logchain_key_id(v.pub, v.pub_id)) {
			EVP_PKEY_free(v.pub);
			return 2;
		}
	}
	v.nfiles = (size_t)(argc - optind);
	if ((nm = calloc(v.nfiles, sizeof(*nm))) == NULL || (v.files = calloc(v.nfiles, sizeof(char *))) == NULL ||
	    (v.chain = logchain_new()) == NULL) {
		fprintf(stderr, "ddbguard-log: out of memory\n");
		return 2;
	}
	for (i = 0; i < v.nfiles; i++)
		nm[i] =
		    (struct named){.name = argv[optind + (int)i], .seq = rotated_seq(argv[optind + (int)i]), .pos = i};
	qsort(nm, v.nfiles, sizeof(*nm), cmp_named);
	for (i = 0; i < v.nfiles; i++)
		v.files[i] = nm[i].name;
	for (i = 0; i < v.nfiles && rc == 0; i++)
		rc = load_file(&v, i);
	if (rc == 0)
		rc = verify_all(&v);
	for (i = 0; i < v.n; i++)
		free(v.e[i].digest);
	free(v.e);
	free(v.files);
	free(nm);
	logchain_free(v.chain);
	EVP_PKEY_free(v.pub);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "summary") == 0 || strcmp(argv[1], "denials") == 0 || strcmp(argv[1], "report") == 0) {
		json_init();
		return logreview_main(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}

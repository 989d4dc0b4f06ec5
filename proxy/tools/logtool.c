/*
 * ddbguard-log: tools for ddbguard's access log.
 *
 *   ddbguard-log verify [--pubkey FILE] [--allow-restart] FILE...
 *
 * Checks the hash chain and signed digests described in proxy/audit/logchain.h over
 * FILEs taken as one chain, oldest first. Files named like size-rotated logs
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
	cJSON *digest;             /* ENTRY_DIGEST: the "ddbguardDigest" object's parent; owned */
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
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: ddbguard-log verify [--pubkey FILE] [--allow-restart] FILE...\n"
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
			e.digest = cJSON_ParseWithLength(line, (size_t)len);
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

static const char *
dstr(const cJSON *o, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* Checks digest i against the records before it. */
static int
check_digest(struct verify *v, size_t i, size_t *verified, size_t *unchecked)
{
	struct entry *e = &v->e[i];
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(e->digest, "ddbguardDigest");
	const cJSON *seqj = cJSON_GetObjectItemCaseSensitive(d, "seq");
	const char *hash = dstr(d, "hash"), *time = dstr(d, "time"), *kid = dstr(d, "keyId"),
	           *sig = dstr(d, "signature");
	size_t j;

	if (!cJSON_IsNumber(seqj) || seqj->valuedouble < 1 || hash == NULL || time == NULL || kid == NULL ||
	    sig == NULL)
		return broken(v, e, "digest mismatch: malformed digest line (edited)");
	e->link.seq = (uint64_t)seqj->valuedouble;
	for (j = i; j-- > 0;) {
		if (v->e[j].kind != ENTRY_RECORD)
			continue;
		if (v->e[j].link.seq == e->link.seq)
			break;
		if (v->e[j].link.chain_start)
			j = 0;
	}
	if (j == (size_t)-1 || v->e[j].kind != ENTRY_RECORD || v->e[j].link.seq != e->link.seq)
		return broken(v, e, "digest mismatch: no record with seq %" PRIu64 " before it (deleted?)",
		              e->link.seq);
	if (strcmp(hash, v->e[j].link.hash) != 0)
		return broken(v, e, "digest mismatch: its hash is not that of record %" PRIu64 " (%s:%zu)", e->link.seq,
		              v->files[v->e[j].file], v->e[j].line);
	if (v->pub == NULL) {
		(*unchecked)++;
		return 0;
	}
	if (strcmp(kid, v->pub_id) != 0)
		return broken(v, e, "bad signature: signed with key %s, the given key is %s", kid, v->pub_id);
	if (!logchain_digest_verify(v->pub, e->link.seq, hash, time, sig))
		return broken(v, e, "bad signature");
	(*verified)++;
	return 0;
}

static int
verify_all(struct verify *v)
{
	size_t i, k, records = 0, verified = 0, unchecked = 0, since_digest = 0;
	uint64_t expected = 0;
	const char *last = NULL;
	int rc;

	for (i = 0; i < v->n; i++) {
		struct entry *e = &v->e[i];
		struct logchain_link *l = &e->link;

		if (e->kind == ENTRY_BAD)
			return broken(v, e, "edited: not a chained record (no valid \"chain\" member)");
		if (e->kind == ENTRY_DIGEST) {
			if ((rc = check_digest(v, i, &verified, &unchecked)) != 0)
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
		expected = l->seq + 1;
		records++;
		since_digest++;
	}
	printf("OK: %zu records, %zu digests verified", records, verified);
	if (unchecked)
		printf(", %zu unchecked (no --pubkey)", unchecked);
	if (since_digest && (verified || unchecked))
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

static int
cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"pubkey", required_argument, NULL, 'p'},
	    {"allow-restart", no_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct verify v = {0};
	struct named *nm;
	const char *pubkey = NULL;
	int ch, rc = 0;
	size_t i;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p': pubkey = optarg; break;
		case 'r': v.allow_restart = true; break;
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
		cJSON_Delete(v.e[i].digest);
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

/*
 * geoip: caller country and ASN from MaxMind databases (libmaxminddb).
 *
 * Each database is mmap'ed (MMDB_MODE_MMAP) and identified by the stat of
 * the file it was opened from (device, inode, size, mtime). On lookup, at
 * most once a second, the paths are stat'ed again; a path that now names a
 * different file is opened anew and swapped in, and the old mapping closed.
 * Updates must replace the file by rename(2), as geoipupdate does: a file
 * rewritten in place under a live mapping can fault (SIGBUS) when truncated.
 *
 * A replacement that cannot be opened (or a path that no longer exists)
 * keeps the last good database. geoip.h has no error getter, so the reason
 * is only kept in the handle's `last_error` (readable in a debugger or core
 * dump) and the failed file version is remembered, so it is tried once, not
 * once a second.
 * XXX: surface `last_error` to the operator log (filters/base/log.h is now
 * below this module) or through a getter.
 *
 * Lookups parse the address with inet_pton and call MMDB_lookup_sockaddr:
 * MMDB_lookup_string goes through getaddrinfo, which allocates. Nothing on
 * the lookup path allocates; only a reload does.
 *
 * Not thread-safe: each worker's runtime owns its own handle.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <maxminddb.h>

#include "filters/policy/geoip.h"

#define GEOIP_CHECK_INTERVAL_NS 1000000000LL /* stat the files at most once a second */
#define GEOIP_ERR_MAX		256

/* Which version of a file a database was opened from. */
struct geoip_file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct geoip_db {
	char *path; /* owned; NULL: not configured */
	MMDB_s *mmdb; /* owned; the last good database */
	struct geoip_file_id id; /* of the file `mmdb` was opened from */
	bool failed; /* `failed_id` could not be opened (or stat'ed); do not retry it */
	struct geoip_file_id failed_id;
	char last_error[GEOIP_ERR_MAX];
};

struct geoip {
	struct geoip_db country;
	struct geoip_db asn;
	struct timespec last_check; /* CLOCK_MONOTONIC */
};

static bool
file_id_equal(const struct geoip_file_id *a, const struct geoip_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void
file_id_from_stat(struct geoip_file_id *id, const struct stat *st)
{
	memset(id, 0, sizeof(*id));
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
}

/*
 * Opens `path` into a new handle; NULL with `err` set on failure. The file
 * is stat'ed before it is opened: if it is replaced in between, the next
 * check sees a changed id and opens it again, rather than missing the update.
 */
static MMDB_s *
db_open_file(const char *what, const char *path, struct geoip_file_id *id, char *err, size_t err_len)
{
	struct stat st;
	MMDB_s *mmdb;
	int rc;

	if (stat(path, &st) < 0) {
		snprintf(err, err_len, "%s database %s: %s", what, path, strerror(errno));
		return NULL;
	}
	file_id_from_stat(id, &st);
	if ((mmdb = calloc(1, sizeof(*mmdb))) == NULL) {
		snprintf(err, err_len, "%s database %s: out of memory", what, path);
		return NULL;
	}
	if ((rc = MMDB_open(path, MMDB_MODE_MMAP, mmdb)) != MMDB_SUCCESS) {
		if (rc == MMDB_IO_ERROR)
			snprintf(err, err_len, "%s database %s: %s: %s", what, path, MMDB_strerror(rc),
			    strerror(errno));
		else
			snprintf(err, err_len, "%s database %s: %s", what, path, MMDB_strerror(rc));
		free(mmdb);
		return NULL;
	}
	return mmdb;
}

static void
db_close(struct geoip_db *db)
{
	if (db->mmdb != NULL) {
		MMDB_close(db->mmdb);
		free(db->mmdb);
		db->mmdb = NULL;
	}
	free(db->path);
	db->path = NULL;
}

static bool
db_init(struct geoip_db *db, const char *what, const char *path, char *err, size_t err_len)
{
	if (path == NULL)
		return true;
	if ((db->path = strdup(path)) == NULL) {
		snprintf(err, err_len, "%s database %s: out of memory", what, path);
		return false;
	}
	return (db->mmdb = db_open_file(what, path, &db->id, err, err_len)) != NULL;
}

/* Swaps in a new version of the file if there is one; keeps the old database if it cannot be opened. */
static void
db_check(struct geoip_db *db, const char *what)
{
	struct geoip_file_id now;
	struct stat st;
	MMDB_s *fresh;

	if (db->path == NULL)
		return;
	if (stat(db->path, &st) < 0) {
		/* Gone or unreadable: keep serving the mapping we have (it stays valid after unlink). */
		memset(&now, 0, sizeof(now));
		if (!db->failed || !file_id_equal(&now, &db->failed_id)) {
			snprintf(db->last_error, sizeof(db->last_error), "%s database %s: %s; keeping the loaded one",
			    what, db->path, strerror(errno));
			db->failed = true;
			db->failed_id = now;
		}
		return;
	}
	file_id_from_stat(&now, &st);
	if (file_id_equal(&now, &db->id) || (db->failed && file_id_equal(&now, &db->failed_id)))
		return;
	if ((fresh = db_open_file(what, db->path, &now, db->last_error, sizeof(db->last_error))) == NULL) {
		db->failed = true;
		db->failed_id = now;
		return;
	}
	MMDB_close(db->mmdb);
	free(db->mmdb);
	db->mmdb = fresh;
	db->id = now;
	db->failed = false;
	db->last_error[0] = '\0';
}

static void
geoip_maybe_reload(struct geoip *g)
{
	struct timespec now;
	long long elapsed;

	if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		return;
	elapsed = (long long)(now.tv_sec - g->last_check.tv_sec) * 1000000000LL +
	    (now.tv_nsec - g->last_check.tv_nsec);
	if (elapsed < GEOIP_CHECK_INTERVAL_NS)
		return;
	g->last_check = now;
	db_check(&g->country, "country");
	db_check(&g->asn, "ASN");
}

struct geoip *
geoip_open(const char *country_db, const char *asn_db, char *err, size_t err_len)
{
	struct geoip *g;

	if (err_len > 0)
		err[0] = '\0';
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	if (!db_init(&g->country, "country", country_db, err, err_len) ||
	    !db_init(&g->asn, "ASN", asn_db, err, err_len)) {
		geoip_free(g);
		return NULL;
	}
	if (clock_gettime(CLOCK_MONOTONIC, &g->last_check) < 0)
		memset(&g->last_check, 0, sizeof(g->last_check));
	return g;
}

void
geoip_free(struct geoip *g)
{
	if (g == NULL)
		return;
	db_close(&g->country);
	db_close(&g->asn);
	free(g);
}

/* Parses a textual address; an IPv4-mapped IPv6 address becomes IPv4, so IPv4-only databases answer it. */
static bool
parse_addr(const char *ip, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) != 1)
		return false;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		struct in_addr v4;

		memcpy(&v4, &sin6->sin6_addr.s6_addr[12], sizeof(v4));
		memset(ss, 0, sizeof(*ss));
		sin->sin_family = AF_INET;
		sin->sin_addr = v4;
		return true;
	}
	sin6->sin6_family = AF_INET6;
	return true;
}

static bool
db_find(const struct geoip_db *db, const struct sockaddr *sa, MMDB_entry_s *entry)
{
	MMDB_lookup_result_s r;
	int mmdb_error = MMDB_SUCCESS;

	if (db->mmdb == NULL)
		return false;
	/* An IPv6 address in an IPv4-only database is an error here: it just means "unknown". */
	r = MMDB_lookup_sockaddr(db->mmdb, sa, &mmdb_error);
	if (mmdb_error != MMDB_SUCCESS || !r.found_entry)
		return false;
	*entry = r.entry;
	return true;
}

/* Copies `map`.iso_code, upper-cased, into `out`; false if absent or not two ASCII letters. */
static bool
get_iso_code(MMDB_entry_s *entry, const char *map, char out[3])
{
	MMDB_entry_data_s d;

	if (MMDB_get_value(entry, &d, map, "iso_code", (const char *)NULL) != MMDB_SUCCESS || !d.has_data ||
	    d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size != 2)
		return false;
	for (int i = 0; i < 2; i++) {
		char c = d.utf8_string[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c < 'A' || c > 'Z')
			return false;
		out[i] = c;
	}
	out[2] = '\0';
	return true;
}

void
geoip_lookup(struct geoip *g, const char *ip, char country[3], char asn[11])
{
	struct sockaddr_storage ss;
	MMDB_entry_s entry;
	MMDB_entry_data_s d;

	country[0] = '\0';
	asn[0] = '\0';
	if (g == NULL || ip == NULL)
		return;
	geoip_maybe_reload(g);
	if (!parse_addr(ip, &ss))
		return;
	/* The physical country first; a network only registered to a country (e.g. anycast) falls back to it. */
	if (db_find(&g->country, (const struct sockaddr *)&ss, &entry) && !get_iso_code(&entry, "country", country))
		get_iso_code(&entry, "registered_country", country);
	if (db_find(&g->asn, (const struct sockaddr *)&ss, &entry) &&
	    MMDB_get_value(&entry, &d, "autonomous_system_number", (const char *)NULL) == MMDB_SUCCESS &&
	    d.has_data) {
		if (d.type == MMDB_DATA_TYPE_UINT32)
			snprintf(asn, 11, "%" PRIu32, d.uint32);
		else if (d.type == MMDB_DATA_TYPE_UINT16)
			snprintf(asn, 11, "%u", (unsigned)d.uint16);
	}
}

/*
 * preflight.c: the start-up checks of `ddbguard --check` (see preflight.h).
 *
 * The same files the daemon loads at start are loaded here with the same
 * OpenSSL calls, so a certificate --check accepts is one the listener accepts.
 * Write access is judged for the run-as user: with access(2) when that is who
 * we are, else from the directory's owner, group and mode bits and the user's
 * groups (what the kernel checks, ACLs aside).
 */
#include "proxy/preflight.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "config/config.h"
#include "filters/policy/geoip.h"
#include "proxy/service.h"

static void
preflight_ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, len, "no PEM data");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
}

/* A readable regular file; else an error at `where`. */
static bool
preflight_readable(struct diag *d, const char *where, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		diag_error(d, where, "%s: %s", path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		diag_error(d, where, "%s: not a regular file", path);
		return false;
	}
	if (access(path, R_OK) < 0) {
		diag_error(d, where, "%s: not readable: %s", path, strerror(errno));
		return false;
	}
	return true;
}

static X509 *
preflight_load_cert(struct diag *d, const char *where, const char *path, size_t *count)
{
	X509 *first = NULL, *x;
	FILE *f;

	*count = 0;
	if (!preflight_readable(d, where, path) || (f = fopen(path, "r")) == NULL)
		return NULL;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (first == NULL)
			first = x;
		else
			X509_free(x);
		(*count)++;
	}
	fclose(f);
	ERR_clear_error(); /* the read that ended the loop */
	if (first == NULL)
		diag_error(d, where, "%s: no PEM certificate in it", path);
	return first;
}

static EVP_PKEY *
preflight_load_key(struct diag *d, const char *where, const char *path)
{
	char reason[256];
	EVP_PKEY *k;
	FILE *f;

	if (!preflight_readable(d, where, path) || (f = fopen(path, "r")) == NULL)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL) {
		preflight_ssl_reason(reason, sizeof(reason));
		diag_error(d, where, "%s: not a PEM private key (an encrypted key needs a passphrase ddbguard cannot "
		    "ask for): %s", path, reason);
	}
	return k;
}

/* cert and key both load and belong together. */
static void
preflight_pair(struct diag *d, const char *cert_where, const char *cert, const char *key_where, const char *key,
    bool want_ca)
{
	size_t n;
	X509 *x = preflight_load_cert(d, cert_where, cert, &n);
	EVP_PKEY *k = preflight_load_key(d, key_where, key);

	if (x != NULL && k != NULL && X509_check_private_key(x, k) != 1) {
		ERR_clear_error();
		diag_error(d, key_where, "%s is not the private key of the certificate in %s", key, cert);
	}
	if (x != NULL && want_ca && X509_check_ca(x) == 0)
		diag_error(d, cert_where, "%s is not a CA certificate (basicConstraints CA:TRUE); it cannot sign the "
		    "certificates egress mints", cert);
	if (x != NULL && X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		diag_error(d, cert_where, "%s has expired", cert);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* May `id` create and rename files in directory `dir`? (write + search permission) */
static bool
preflight_dir_writable(const char *dir, const struct service_identity *id, const struct stat *st)
{
	gid_t groups[256];
	int ngroups = (int)(sizeof(groups) / sizeof(groups[0])), i;

	if (id->uid == geteuid())
		return access(dir, W_OK | X_OK) == 0;
	if (id->uid == 0)
		return true;
	if (st->st_uid == id->uid)
		return (st->st_mode & (S_IWUSR | S_IXUSR)) == (S_IWUSR | S_IXUSR);
	if (getgrouplist(id->name, id->gid, groups, &ngroups) < 0)
		ngroups = 0;
	if (st->st_gid == id->gid)
		return (st->st_mode & (S_IWGRP | S_IXGRP)) == (S_IWGRP | S_IXGRP);
	for (i = 0; i < ngroups; i++)
		if (groups[i] == st->st_gid)
			return (st->st_mode & (S_IWGRP | S_IXGRP)) == (S_IWGRP | S_IXGRP);
	return (st->st_mode & (S_IWOTH | S_IXOTH)) == (S_IWOTH | S_IXOTH);
}

static void
preflight_access_log(const struct config *cfg, const struct service_identity *id, bool have_id, struct diag *d)
{
	const char *path = cfg->access_log.path;
	char dir[PATH_MAX];
	const char *slash;
	struct stat st;

	if (path == NULL || strcmp(path, "-") == 0)
		return;
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (stat(dir, &st) < 0) {
		diag_error(d, "$.access_log.path", "directory %s: %s (ddbguard creates the file, not the directory)",
		    dir, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		diag_error(d, "$.access_log.path", "%s is not a directory", dir);
		return;
	}
	/* Rotation (max_bytes, SIGUSR1 after a rename) creates files there as the run-as user. */
	if (have_id && !preflight_dir_writable(dir, id, &st))
		diag_error(d, "$.access_log.path", "directory %s is not writable by user %s (uid %lu), who ddbguard "
		    "runs as", dir, id->name, (unsigned long)id->uid);
	if (stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			diag_error(d, "$.access_log.path", "%s exists and is not a regular file", path);
		else if (have_id && id->uid == geteuid() && access(path, W_OK) < 0)
			diag_error(d, "$.access_log.path", "%s is not writable: %s", path, strerror(errno));
		else if (have_id && id->uid != geteuid() && id->uid != 0 && st.st_uid != id->uid &&
			 (st.st_mode & S_IWOTH) == 0 && !(st.st_gid == id->gid && (st.st_mode & S_IWGRP)))
			diag_error(d, "$.access_log.path", "%s exists and is not writable by user %s", path, id->name);
	}
}

void
preflight_check(const struct config *cfg, struct diag *d)
{
	struct service_identity id;
	char where[96], where2[96], err[256];
	bool have_id;
	size_t i, n;

	have_id = service_identity_resolve(cfg, &id, err, sizeof(err));
	if (!have_id)
		diag_error(d, strncmp(err, "group", 5) == 0 || strncmp(err, "\"group\"", 7) == 0 ? "$.group" : "$.user",
		    "%s", err);
	for (i = 0; i < cfg->nlisteners; i++) {
		const struct listener_config *l = &cfg->listeners[i];

		if (l->tls_cert == NULL)
			continue;
		snprintf(where, sizeof(where), "$.listeners[%zu].tls.cert", i);
		snprintf(where2, sizeof(where2), "$.listeners[%zu].tls.key", i);
		preflight_pair(d, where, l->tls_cert, where2, l->tls_key, false);
	}
	if (cfg->upstream.ca_file != NULL) {
		X509 *x = preflight_load_cert(d, "$.upstream.ca_file", cfg->upstream.ca_file, &n);

		X509_free(x);
	}
	if (cfg->egress.enabled)
		preflight_pair(d, "$.egress.ca_cert", cfg->egress.ca_cert, "$.egress.ca_key", cfg->egress.ca_key, true);
	if (cfg->access_log.signing_key != NULL) {
		EVP_PKEY *k = preflight_load_key(d, "$.access_log.signing_key", cfg->access_log.signing_key);

		if (k != NULL && EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519)
			diag_error(d, "$.access_log.signing_key", "%s is not an Ed25519 key (make one with "
			    "certs/mklogkey.sh)", cfg->access_log.signing_key);
		EVP_PKEY_free(k);
	}
	preflight_access_log(cfg, &id, have_id, d);
	if (cfg->geoip.country_database != NULL &&
	    preflight_readable(d, "$.geoip.country_database", cfg->geoip.country_database)) {
		struct geoip *g = geoip_open(cfg->geoip.country_database, NULL, err, sizeof(err));

		if (g == NULL)
			diag_error(d, "$.geoip.country_database", "%s", err);
		geoip_free(g);
	}
	if (cfg->geoip.asn_database != NULL && preflight_readable(d, "$.geoip.asn_database", cfg->geoip.asn_database)) {
		struct geoip *g = geoip_open(NULL, cfg->geoip.asn_database, err, sizeof(err));

		if (g == NULL)
			diag_error(d, "$.geoip.asn_database", "%s", err);
		geoip_free(g);
	}
}

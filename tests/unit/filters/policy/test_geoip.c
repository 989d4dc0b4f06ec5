/*
 * Tests filters/policy/geoip.c against small databases that tests/data/mkmmdb.pl
 * writes into a temporary directory (Debian's libmaxmind-db-writer-perl;
 * every test is skipped, with a message, when perl or the module is missing).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "filters/policy/geoip.h"

extern char **environ;

static char dir[64];	   /* the temporary directory; "" before setup */
static bool have_dbs;	   /* mkmmdb.pl wrote dir/country.mmdb and dir/asn.mmdb */
static char why_skip[256]; /* why not */

static void
path_in(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < len);
}

/* Runs mkmmdb.pl OUTDIR [COUNTRY ASN]; returns its exit status, 127 if perl cannot be run. */
static int
mkmmdb(const char *outdir, const char *country, const char *asn)
{
	char *argv[] = { "perl", SOURCE_ROOT "/tests/data/mkmmdb.pl", (char *)outdir, (char *)country, (char *)asn,
		NULL };
	pid_t pid;
	int status;

	if (country == NULL)
		argv[3] = NULL;
	if (posix_spawnp(&pid, "perl", NULL, NULL, argv, environ) != 0)
		return 127;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 127;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
copy_file(const char *from, const char *to)
{
	static char buf[1 << 16];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;

	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	assert_false(ferror(in));
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static int
group_setup(void **state)
{
	int rc;

	snprintf(dir, sizeof(dir), "/tmp/ddbguard-geoip.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		snprintf(why_skip, sizeof(why_skip), "mkdtemp: %s", strerror(errno));
		return 0;
	}
	rc = mkmmdb(dir, NULL, NULL);
	if (rc == 0)
		have_dbs = true;
	else if (rc == 127)
		snprintf(why_skip, sizeof(why_skip), "perl not found (apt-get install perl)");
	else if (rc == 2)
		snprintf(why_skip, sizeof(why_skip), "MaxMind::DB::Writer::Tree missing "
						     "(apt-get install libmaxmind-db-writer-perl)");
	else
		snprintf(why_skip, sizeof(why_skip), "tests/data/mkmmdb.pl failed (status %d)", rc);
	return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
group_teardown(void **state)
{
	if (dir[0] != '\0')
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void
need_dbs(void)
{
	if (!have_dbs) {
		print_message("[  SKIPPED ] geoip: %s\n", why_skip);
		skip();
	}
}

static struct geoip *
open_ok(const char *country, const char *asn)
{
	char err[256] = "unset";
	struct geoip *g = geoip_open(country, asn, err, sizeof(err));

	if (g == NULL)
		fail_msg("geoip_open: %s", err);
	return g;
}

static void
expect(struct geoip *g, const char *ip, const char *want_country, const char *want_asn)
{
	/* Poisoned, to see that a miss clears them. */
	char country[3] = "XX", asn[11] = "9999999999";

	geoip_lookup(g, ip, country, asn);
	if (strcmp(country, want_country) != 0 || strcmp(asn, want_asn) != 0)
		fail_msg("%s: got country \"%s\" ASN \"%s\", want \"%s\" \"%s\"", ip != NULL ? ip : "(null)", country,
		    asn, want_country, want_asn);
}

static void
test_lookups(void **state)
{
	static const struct {
		const char *ip, *country, *asn;
	} cases[] = {
		{ "127.0.0.1", "DE", "64512" },
		{ "127.255.255.254", "DE", "64512" },
		{ "::1", "DE", "64512" },
		{ "0:0:0:0:0:0:0:1", "DE", "64512" },
		{ "10.0.0.1", "US", "64513" },
		{ "10.255.1.2", "US", "64513" },
		{ "::ffff:10.0.0.1", "US", "64513" },	 /* IPv4-mapped: the IPv4 record */
		{ "::FFFF:127.0.0.1", "DE", "64512" },
		{ "2001:db8::5", "JP", "64515" },
		{ "2001:DB8:ffff::1", "JP", "64515" },
		{ "192.0.2.7", "FR", "" },		 /* only registered_country; no ASN record */
		{ "8.8.8.8", "", "" },			 /* not in the databases */
		{ "11.0.0.1", "", "" },
		{ "::2", "", "" },
		{ "2001:db9::1", "", "" },
		{ "", "", "" },				 /* not addresses */
		{ "localhost", "", "" },
		{ "127.0.0.1 ", "", "" },
		{ "127.1", "", "" },
		{ "127.0.0.1:8000", "", "" },
		{ "[::1]", "", "" },
		{ "fe80::1%lo", "", "" },
		{ "999.0.0.1", "", "" },
	};
	char country[PATH_MAX], asn[PATH_MAX];
	struct geoip *g;

	need_dbs();
	path_in(country, sizeof(country), "country.mmdb");
	path_in(asn, sizeof(asn), "asn.mmdb");
	g = open_ok(country, asn);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect(g, cases[i].ip, cases[i].country, cases[i].asn);
	geoip_free(g);
}

/* Either database may be absent: its half of the answer is then always "". */
static void
test_partial_config(void **state)
{
	char country[PATH_MAX], asn[PATH_MAX];
	struct geoip *g;

	need_dbs();
	path_in(country, sizeof(country), "country.mmdb");
	path_in(asn, sizeof(asn), "asn.mmdb");

	g = open_ok(country, NULL);
	expect(g, "127.0.0.1", "DE", "");
	expect(g, "2001:db8::1", "JP", "");
	geoip_free(g);

	g = open_ok(NULL, asn);
	expect(g, "127.0.0.1", "", "64512");
	expect(g, "::1", "", "64512");
	geoip_free(g);

	g = open_ok(NULL, NULL);
	expect(g, "127.0.0.1", "", "");
	geoip_free(g);
}

/* A NULL handle (no "geoip" config) or a NULL address answers "", and free accepts NULL. */
static void
test_null(void **state)
{
	char country[PATH_MAX], asn[PATH_MAX];
	struct geoip *g;

	expect(NULL, "127.0.0.1", "", "");
	expect(NULL, NULL, "", "");
	geoip_free(NULL);

	need_dbs();
	path_in(country, sizeof(country), "country.mmdb");
	path_in(asn, sizeof(asn), "asn.mmdb");
	g = open_ok(country, asn);
	expect(g, NULL, "", "");
	geoip_free(g);
}

static void
test_open_errors(void **state)
{
	static const char garbage[] = "this is not a MaxMind database\n";
	char good[PATH_MAX], bad[PATH_MAX], missing[PATH_MAX], empty[PATH_MAX];
	const struct {
		const char *country, *asn;
		const char *needle1, *needle2; /* the error names the database and the reason */
	} cases[] = {
		{ missing, NULL, "country database", "No such file" },
		{ NULL, missing, "ASN database", "No such file" },
		{ bad, NULL, "country database", "metadata" },
		{ good, bad, "ASN database", "metadata" },
		{ empty, good, "country database", "" },
		{ dir, NULL, "country database", "" }, /* a directory */
	};

	need_dbs();
	path_in(good, sizeof(good), "country.mmdb");
	path_in(bad, sizeof(bad), "garbage.mmdb");
	path_in(missing, sizeof(missing), "missing.mmdb");
	path_in(empty, sizeof(empty), "empty.mmdb");
	write_file(bad, garbage, sizeof(garbage) - 1);
	write_file(empty, "", 0);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "";
		const char *path = cases[i].asn != NULL && cases[i].asn != good ? cases[i].asn : cases[i].country;

		if (geoip_open(cases[i].country, cases[i].asn, err, sizeof(err)) != NULL)
			fail_msg("case %zu: opened", i);
		if (strstr(err, cases[i].needle1) == NULL || strstr(err, cases[i].needle2) == NULL ||
		    strstr(err, path) == NULL)
			fail_msg("case %zu: error \"%s\" lacks \"%s\", \"%s\" or \"%s\"", i, err, cases[i].needle1,
			    cases[i].needle2, path);
	}

	/* A short buffer is truncated, not overrun. */
	{
		char err[16];

		memset(err, 'z', sizeof(err));
		assert_null(geoip_open(missing, NULL, err, 8));
		assert_int_equal(strlen(err), 7);
		assert_int_equal(err[8], 'z');
	}
	unlink(bad);
	unlink(empty);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Replacing a database by rename takes effect on a lookup once the 1 s stat
 * throttle has passed; a replacement that cannot be opened, or a file that
 * disappears, keeps the last good data. One handle of each kind, so a single
 * wait covers both.
 */
static void
test_reload(void **state)
{
	static const char garbage[] = "MaxMind.com but not really\n";
	char c0[PATH_MAX], a0[PATH_MAX], next[PATH_MAX], nc[PATH_MAX], na[PATH_MAX];
	char ca[PATH_MAX], aa[PATH_MAX], cb[PATH_MAX], ab[PATH_MAX], tmp[PATH_MAX];
	struct geoip *a, *b;
	double opened;
	int rc;

	need_dbs();
	path_in(c0, sizeof(c0), "country.mmdb");
	path_in(a0, sizeof(a0), "asn.mmdb");
	path_in(ca, sizeof(ca), "reload-a-country.mmdb");
	path_in(aa, sizeof(aa), "reload-a-asn.mmdb");
	path_in(cb, sizeof(cb), "reload-b-country.mmdb");
	path_in(ab, sizeof(ab), "reload-b-asn.mmdb");
	path_in(tmp, sizeof(tmp), "reload-tmp");
	path_in(next, sizeof(next), "next");
	path_in(nc, sizeof(nc), "next/country.mmdb");
	path_in(na, sizeof(na), "next/asn.mmdb");
	copy_file(c0, ca);
	copy_file(a0, aa);
	copy_file(c0, cb);
	copy_file(a0, ab);

	opened = now_s();
	a = open_ok(ca, aa);
	b = open_ok(cb, ab);
	expect(a, "127.0.0.1", "DE", "64512");
	expect(b, "127.0.0.1", "DE", "64512");

	/* a: a new version of both databases, renamed over the old files. */
	assert_int_equal(mkdir(next, 0700), 0);
	if ((rc = mkmmdb(next, "NL", "64999")) != 0)
		fail_msg("mkmmdb.pl %s NL 64999: status %d", next, rc);
	assert_int_equal(rename(nc, ca), 0);
	assert_int_equal(rename(na, aa), 0);
	assert_int_equal(rmdir(next), 0);
	/* b: a corrupt country database renamed over, and the ASN database removed. */
	write_file(tmp, garbage, sizeof(garbage) - 1);
	assert_int_equal(rename(tmp, cb), 0);
	assert_int_equal(unlink(ab), 0);

	/* Within the second after opening, the files are not looked at again (unless this machine is slow). */
	if (now_s() - opened < 0.8) {
		expect(a, "127.0.0.1", "DE", "64512");
		expect(b, "127.0.0.1", "DE", "64512");
	}

	usleep(1100 * 1000); /* the one wait: past the throttle */

	expect(a, "127.0.0.1", "NL", "64999");
	expect(a, "::1", "NL", "64999");
	expect(a, "10.0.0.1", "US", "64513"); /* the rest of the new version */
	expect(a, "8.8.8.8", "", "");
	expect(b, "127.0.0.1", "DE", "64512"); /* the last good data, not "" */
	expect(b, "10.0.0.1", "US", "64513");
	/* And again: the failed version is remembered, not retried into a different answer. */
	expect(a, "127.0.0.1", "NL", "64999");
	expect(b, "::1", "DE", "64512");

	geoip_free(a);
	geoip_free(b);
	unlink(ca);
	unlink(aa);
	unlink(cb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_partial_config),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_reload),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/*
 * geoip: caller country and ASN from MaxMind databases (libmaxminddb), for
 * the ddbguard:SourceCountry and ddbguard:SourceASN condition keys.
 *
 * Databases are opened at start-up and re-opened when their file changes
 * (checked at most once a second, on lookup), so an updated GeoLite2 file
 * takes effect without a restart (replace files by rename, as geoipupdate
 * does: rewriting a mapped file in place can crash the process). A database
 * that cannot be reopened keeps the last good one; that file version is not
 * retried until it changes again. XXX: the reason is kept but not logged
 * (filters/ has no logger); a getter for the daemon to log would close that.
 */
#ifndef DDBGUARD_FILTERS_GEOIP_H
#define DDBGUARD_FILTERS_GEOIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct geoip;

/* Either path may be NULL. Returns NULL (reason logged via `err`) if a given database cannot be opened. */
struct geoip *geoip_open(const char *country_db, const char *asn_db, char *err, size_t err_len);
void geoip_free(struct geoip *g); /* accepts NULL */

/*
 * Looks up a textual IPv4/IPv6 address. `country` gets the ISO 3166-1
 * alpha-2 code ("DE"), or "" when unknown; `asn` the autonomous system
 * number as decimal text ("64512"), or "" when unknown. Never allocates.
 */
void geoip_lookup(struct geoip *g, const char *ip, char country[3], char asn[11]);

#endif

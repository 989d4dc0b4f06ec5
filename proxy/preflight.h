/*
 * preflight: what `ddbguard --check` verifies beyond the config's syntax, so
 * that "valid" means the daemon will start: every certificate and key loads
 * and each pair matches, every file it reads is readable, the access-log
 * directory is writable by the user the daemon will run as, the GeoIP
 * databases open, the run-as user and group exist. It opens files only to
 * read them and creates nothing.
 */
#ifndef DDBGUARD_PROXY_PREFLIGHT_H
#define DDBGUARD_PROXY_PREFLIGHT_H

#include <stdbool.h>

#include "filters/base/diag.h"

struct config;

/* Records one error per problem in `d`, at the JSON path of the key that names it. */
void preflight_check(const struct config *cfg, struct diag *d);

#endif

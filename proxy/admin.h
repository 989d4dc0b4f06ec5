/*
 * admin: the operator's HTTP endpoint (config "admin"), served with libevent's
 * evhttp (fine here: not the data path, STYLE.md 9).
 *
 *   GET /healthz  200 {"status":"ok","log":"ok"}
 *                 503 {"status":"degraded","log":"unwritable","since":"<ISO 8601>","reason":"..."}
 *                 (plus "failOpen": true when access_log.fail_open is on)
 *   anything else 404
 */
#ifndef DDBGUARD_PROXY_ADMIN_H
#define DDBGUARD_PROXY_ADMIN_H

struct admin;
struct admin_config;
struct accesslog;
struct event_base;

/* Listens on cfg->address:cfg->port. `alog` is borrowed and must outlive the admin. NULL (logged) on failure. */
struct admin *admin_new(struct event_base *base, const struct admin_config *cfg, struct accesslog *alog);
void admin_free(struct admin *ad); /* accepts NULL */

#endif

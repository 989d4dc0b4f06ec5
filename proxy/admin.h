/*
 * admin: the operator's HTTP endpoint (config "admin"), served with libevent's
 * evhttp (fine here: not the data path, STYLE.md 9).
 *
 *   GET /healthz  200 {"status":"ok","log":"ok"}
 *                 503 {"status":"degraded","log":"unwritable","since":"<ISO 8601>","reason":"..."}
 *                 (plus "failOpen": true when access_log.fail_open is on)
 *   GET /metrics  Prometheus text format (proxy/metrics.h), from admin_set_hooks()'s metrics hook
 *   GET /readyz   200 or 503 with {"ready": bool, "listeners": ..., "upstream": ..., "log": ...} from the ready hook
 *   anything else 404
 */
#ifndef DDBGUARD_PROXY_ADMIN_H
#define DDBGUARD_PROXY_ADMIN_H

#include <stdbool.h>

struct admin;
struct admin_config;
struct accesslog;
struct event_base;

/* Listens on cfg->address:cfg->port. `alog` is borrowed and must outlive the admin. NULL (logged) on failure. */
struct admin *admin_new(struct event_base *base, const struct admin_config *cfg, struct accesslog *alog);
void admin_free(struct admin *ad); /* accepts NULL */

struct evbuffer;
/*
 * The daemon's answers for GET /metrics (appends the exposition) and GET
 * /readyz (appends a JSON object, returns readiness). Without hooks both are 404.
 */
void admin_set_hooks(struct admin *ad, void (*metrics)(void *arg, struct evbuffer *out),
    bool (*ready)(void *arg, struct evbuffer *out), void *arg);

#endif

/*
 * listener: a bound socket that accepts clients for one configured listener,
 * with its TLS context. Enforces limits.max_connections at accept time.
 */
#ifndef DDBGUARD_PROXY_LISTENER_H
#define DDBGUARD_PROXY_LISTENER_H

#include "config/config.h"

struct runtime;
struct listener;

/* Binds and starts accepting; NULL (with the reason logged) on failure. `lc` must outlive it. */
struct listener *listener_new(struct runtime *rt, const struct listener_config *lc);
void listener_free(struct listener *l); /* accepts NULL; closes the socket */

#endif

/*
 * listener: a bound socket that accepts clients for one configured listener,
 * with its TLS context. Enforces limits.max_connections at accept time.
 */
#ifndef DDBGUARD_PROXY_LISTENER_H
#define DDBGUARD_PROXY_LISTENER_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "config/config.h"

struct runtime;
struct listener;

/* Binds and starts accepting; NULL (with the reason logged) on failure. `lc` must outlive it. */
struct listener *listener_new(struct runtime *rt, const struct listener_config *lc);
void listener_free(struct listener *l); /* accepts NULL; closes the socket */

struct snapshot;
/*
 * Reload: the snapshot `lc` lives in (the listener holds a reference, and
 * each connection it accepts takes one, so `lc` outlives them all).
 */
void listener_set_owner(struct listener *l, struct snapshot *owner);
/* The same socket serves `lc` (same kind, address and port)? */
bool listener_same_socket(const struct listener *l, const struct listener_config *lc);
/* Reload keeps the socket: new config entry, owner and TLS context (taken; the old one is freed). */
void listener_update(struct listener *l, const struct listener_config *lc, struct snapshot *owner, SSL_CTX *tls);
const struct listener_config *listener_config_of(const struct listener *l);

#endif

/*
 * egress: what makes the gateway an egress gateway and nothing more.
 *
 * A client CONNECTs to host:443. Only DynamoDB endpoint names of the
 * configured regions (and, for account-based names, accounts) are tunnelled:
 *
 *   dynamodb.<region>.amazonaws.com            dynamodb-fips.<region>.amazonaws.com
 *   streams.dynamodb.<region>.amazonaws.com    <account>.ddb.<region>.amazonaws.com
 *   <vpce-id>.dynamodb.<region>.vpce.amazonaws.com
 *
 * (".amazonaws.com.cn" for cn- regions.) Anything else, a bare IP, or another
 * port is refused. Inside the tunnel ddbguard terminates TLS with a
 * certificate for exactly that name, minted from the configured CA and cached
 * per name, and checks the client's SNI equals it. Each name gets a route: its
 * own upstream pool (to the name itself, or to the address a configured route
 * sends it to, still verifying and sending the original name), and the
 * region and account its ARNs are built with.
 */
#ifndef DDBGUARD_PROXY_EGRESS_H
#define DDBGUARD_PROXY_EGRESS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config/config.h"

struct runtime;
struct route;
struct egress;

/* Loads the CA and prepares the minting key; NULL (reason logged) on failure. `upstream_tls` is borrowed. */
struct egress *egress_new(struct runtime *rt, const struct config *cfg, SSL_CTX *upstream_tls);
void egress_free(struct egress *e); /* accepts NULL; no tunnel may still use its routes */

enum egress_verdict {
	EGRESS_ALLOWED,
	EGRESS_REFUSED,	 /* not an allowed endpoint: 403 */
	EGRESS_FAILED,	 /* allowed, but the route or certificate could not be set up: 502 */
};

/*
 * Decides a CONNECT target and returns its route (created on first use,
 * owned by `e`). An allowed route is held for the caller until it calls
 * egress_release(); routes nobody holds are evicted, least recently used
 * first, when egress.max_cached_certs names are in use. `why` (>= 160 bytes)
 * says why not.
 */
enum egress_verdict egress_resolve(struct egress *e, const char *host, size_t host_len, uint16_t port,
    const struct route **out, char *why, size_t why_len);
void egress_release(struct egress *e, const struct route *route);

/* A server-side SSL for the tunnel of `route`: minted certificate for its name, SNI checked. NULL on failure. */
SSL *egress_tunnel_ssl(struct egress *e, const struct route *route);

/* Reload: tunnels opened from now on verify the upstream with `tls` (routes already cached keep theirs). */
void egress_set_upstream_tls(struct egress *e, SSL_CTX *tls);

/* Minted certificates held in the cache (metrics). Accepts NULL. */
size_t egress_cached_certs(const struct egress *e);

#endif

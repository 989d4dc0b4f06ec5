/*
 * sourcecap: client connections counted per source, so one address cannot
 * take every connection slot (limits.max_connections_per_source).
 *
 * A source is an IPv4 address or an IPv6 /64 (one host usually owns a whole
 * /64, so counting single IPv6 addresses would cap nothing). IPv4-mapped IPv6
 * addresses count as their IPv4 address. One table per event loop; not
 * thread-safe.
 */
#ifndef DDBGUARD_PROXY_SOURCECAP_H
#define DDBGUARD_PROXY_SOURCECAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct sourcecap;
struct sourcecap_entry;

/* `cap` 0: no cap (sourcecap_take always succeeds and counts nothing). NULL on allocation failure. */
struct sourcecap *sourcecap_new(uint32_t cap);
void sourcecap_free(struct sourcecap *sc); /* accepts NULL; entries still taken are freed too */

/*
 * Counts one more connection from `sa`. Returns its entry, to be handed back
 * to sourcecap_give when the connection closes, or NULL when the source is
 * at its cap (or out of memory): refuse the connection. `*capped` says which
 * (true: at the cap). With no cap it returns a shared placeholder entry.
 */
struct sourcecap_entry *sourcecap_take(struct sourcecap *sc, const struct sockaddr *sa, bool *capped);
void sourcecap_give(struct sourcecap *sc, struct sourcecap_entry *e); /* accepts NULL */

/* Sources currently counted (for tests and diagnostics). */
uint32_t sourcecap_sources(const struct sourcecap *sc);

#endif

#include "proxy/sourcecap.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* Buckets: a power of two; chains stay short for the few thousand sources a gateway sees. */
#define SOURCECAP_BUCKETS 4096u

struct sourcecap_entry {
	struct sourcecap_entry *next;
	uint8_t key[9]; /* family tag + IPv4 address or IPv6 /64 prefix */
	uint32_t count;
	uint32_t bucket;
};

struct sourcecap {
	uint32_t cap;
	uint32_t nsources;
	struct sourcecap_entry placeholder; /* handed out when there is no cap */
	struct sourcecap_entry *buckets[SOURCECAP_BUCKETS];
};

struct sourcecap *
sourcecap_new(uint32_t cap)
{
	struct sourcecap *sc = calloc(1, sizeof(*sc));

	if (sc != NULL)
		sc->cap = cap;
	return sc;
}

void
sourcecap_free(struct sourcecap *sc)
{
	struct sourcecap_entry *e, *next;
	size_t i;

	if (sc == NULL)
		return;
	for (i = 0; i < SOURCECAP_BUCKETS; i++)
		for (e = sc->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(sc);
}

/* Returns false for an address family we do not count (none reach a TCP listener). */
static bool
sourcecap_key(const struct sockaddr *sa, uint8_t key[9])
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(key, 0, 9);
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
			key[0] = 4;
			memcpy(key + 1, a + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a, 8);
		}
		return true;
	}
	return false;
}

static uint32_t
sourcecap_hash(const uint8_t key[9])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	size_t i;

	for (i = 0; i < 9; i++)
		h = (h ^ key[i]) * 16777619u;
	return h & (SOURCECAP_BUCKETS - 1);
}

struct sourcecap_entry *
sourcecap_take(struct sourcecap *sc, const struct sockaddr *sa, bool *capped)
{
	struct sourcecap_entry *e;
	uint8_t key[9];
	uint32_t b;

	*capped = false;
	if (sc->cap == 0 || !sourcecap_key(sa, key))
		return &sc->placeholder;
	b = sourcecap_hash(key);
	for (e = sc->buckets[b]; e != NULL; e = e->next)
		if (memcmp(e->key, key, sizeof(key)) == 0)
			break;
	if (e == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return NULL;
		memcpy(e->key, key, sizeof(key));
		e->bucket = b;
		e->next = sc->buckets[b];
		sc->buckets[b] = e;
		sc->nsources++;
	}
	if (e->count >= sc->cap) {
		*capped = true;
		return NULL;
	}
	e->count++;
	return e;
}

void
sourcecap_give(struct sourcecap *sc, struct sourcecap_entry *e)
{
	struct sourcecap_entry **pp;

	if (e == NULL || e == &sc->placeholder)
		return;
	if (--e->count > 0)
		return;
	/* The last connection from this source: forget it, so the table holds only sources that are connected. */
	for (pp = &sc->buckets[e->bucket]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	sc->nsources--;
	free(e);
}

uint32_t
sourcecap_sources(const struct sourcecap *sc)
{
	return sc->nsources;
}

#include "proxy/audit/ids.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Per thread: every worker draws its own ids with no lock (and no shared state to race on). */
static _Thread_local uint64_t ids_state[4];
static _Thread_local bool ids_seeded;

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static void
ids_seed(void)
{
	struct timespec ts;

	if (getrandom(ids_state, sizeof(ids_state), 0) != (ssize_t)sizeof(ids_state)) {
		/* No entropy source: ids must still differ between processes. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ids_state[0] = (uint64_t)ts.tv_nsec ^ 0x9e3779b97f4a7c15u;
		ids_state[1] = (uint64_t)ts.tv_sec;
		ids_state[2] = (uint64_t)getpid() ^ (uint64_t)(uintptr_t)&ids_seeded; /* differs per thread */
		ids_state[3] = 0x6a09e667f3bcc909u;
	}
	ids_seeded = true;
}

/* xoshiro256** (Blackman and Vigna, 2018). */
static uint64_t
ids_next(void)
{
	uint64_t *s = ids_state, result, t;

	if (!ids_seeded)
		ids_seed();
	result = rotl(s[1] * 5, 7) * 9;
	t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

void
ids_request_id(char *out, size_t len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint64_t bits = 0;
	size_t i, n = len > 52 ? 52 : (len ? len - 1 : 0);

	for (i = 0; i < n; i++) {
		if (i % 12 == 0)
			bits = ids_next();
		out[i] = alphabet[bits & 31];
		bits >>= 5;
	}
	if (len)
		out[n] = '\0';
}

void
ids_uuid(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[16];
	uint64_t a = ids_next(), c = ids_next();
	size_t i, o = 0;

	memcpy(b, &a, 8);
	memcpy(b + 8, &c, 8);
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

#include "proxy/inflight.h"

#include <stdatomic.h>

static _Atomic uint64_t inflight_total;

bool
inflight_reserve(uint64_t n, uint64_t limit)
{
	uint64_t cur = atomic_load_explicit(&inflight_total, memory_order_relaxed);

	/* Compare-and-swap, so the total never exceeds the limit even for a moment. */
	do {
		if (n > limit || cur > limit - n)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&inflight_total, &cur, cur + n, memory_order_relaxed,
	    memory_order_relaxed));
	return true;
}

void
inflight_release(uint64_t n)
{
	atomic_fetch_sub_explicit(&inflight_total, n, memory_order_relaxed);
}

uint64_t
inflight_bytes(void)
{
	return atomic_load_explicit(&inflight_total, memory_order_relaxed);
}

/*
 * inflight: the process-wide budget for request bodies in flight
 * (limits.max_bodies_in_flight_bytes).
 *
 * A call reserves its Content-Length as soon as its head is parsed, before
 * any of its body is buffered, and gives it back when the call ends (its
 * record is written). A call that does not fit is answered with DynamoDB's
 * ThrottlingException, which every SDK retries with backoff. One atomic
 * counter shared by every worker thread: lock-free, never blocks.
 */
#ifndef DDBGUARD_PROXY_INFLIGHT_H
#define DDBGUARD_PROXY_INFLIGHT_H

#include <stdbool.h>
#include <stdint.h>

/* Reserves `n` bytes if the total stays within `limit`; false (nothing reserved) otherwise. */
bool inflight_reserve(uint64_t n, uint64_t limit);
void inflight_release(uint64_t n);
uint64_t inflight_bytes(void); /* reserved now, for /healthz and tests */

#endif

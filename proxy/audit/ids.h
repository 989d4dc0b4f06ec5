/*
 * ids: request ids and event ids for responses and access-log records.
 *
 * Unique, not secret: a xoshiro256** generator seeded once from getrandom().
 * One generator per process for now (a worker per core will get its own).
 */
#ifndef DDBGUARD_PROXY_IDS_H
#define DDBGUARD_PROXY_IDS_H

#include <stddef.h>

/* 52 upper-case base32 characters, as DynamoDB's x-amzn-RequestId; `len` >= 53. */
void ids_request_id(char *out, size_t len);
/* RFC 9562 version 4 UUID, lower-case, 36 characters + NUL. */
void ids_uuid(char out[37]);

#endif

/*
 * offload: parsing large request bodies off the event loop.
 *
 * Building the tree of a 16 MiB body takes about a second of CPU even within
 * the parse-memory bound (filters/dynamodb/json.h): most of it is touching
 * the ~300 MB the nodes need. Done on the event loop, that second is added to
 * every other call the loop serves. So a body of OFFLOAD_MIN_BYTES or more is
 * parsed (recognized, built, duplicate keys checked) on a parse thread owned
 * by the loop's runtime, while the loop goes on serving other connections;
 * the rest of the decision (inspection, identity, policy) stays on the loop
 * and takes a small share of the time. Smaller bodies are parsed inline:
 * for them a thread hop would cost more than it saves.
 *
 * The job's arena, body and options belong to the caller, which must not
 * touch them (nor free them) until `done` runs, on the loop thread.
 */
#ifndef DDBGUARD_PROXY_OFFLOAD_H
#define DDBGUARD_PROXY_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "filters/dynamodb/json.h"

#define OFFLOAD_MIN_BYTES (256u << 10)

struct event_base;
struct offload;

struct offload_job {
	/* in */
	struct json_arena *arena;
	const char *body;
	size_t len;
	const struct json_opts *opts;
	void (*done)(struct offload_job *job); /* on the loop thread */
	/* out */
	cJSON *root; /* in `arena`; NULL: refused, see err */
	struct json_error err;
	/* private */
	struct offload_job *next;
};

/* A parse thread for one event loop; NULL (reason logged) if it cannot be started. */
struct offload *offload_new(struct event_base *base);
/* Joins the thread; jobs not done yet are abandoned (their `done` is not called). Accepts NULL. */
void offload_free(struct offload *o);
/* Queues a job; false (nothing queued) when `o` is NULL: the caller parses inline. */
bool offload_submit(struct offload *o, struct offload_job *job);

#endif

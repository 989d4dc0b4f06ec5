/*
 * Tests for proxy/offload.c: jobs are parsed on the parse thread and handed
 * back on the event loop, in any number, with the same answers as an inline
 * parse (tree or refusal); offload_submit(NULL) refuses so callers parse inline.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/event.h>

#include "filters/dynamodb/json.h"
#include "proxy/offload.h"

#define NJOBS 6

struct ctx {
	struct offload_job job;
	struct json_arena *arena;
	char *body;
	int done_calls;
	pthread_t done_thread;
};

static int remaining;
static struct event_base *base;

static void
job_done(struct offload_job *job)
{
	struct ctx *c = (struct ctx *)((char *)job - offsetof(struct ctx, job));

	c->done_calls++;
	c->done_thread = pthread_self();
	if (--remaining == 0)
		event_base_loopbreak(base);
}

/* A GetItem with `n` attributes to get, or, when `flat`, an array of tiny numbers over the memory bound. */
static char *
make_body(size_t n, bool flat, size_t *len)
{
	size_t cap = n * 16 + 128, i;
	char *b = malloc(cap);

	assert_non_null(b);
	*len = (size_t)snprintf(b, cap, "{\"TableName\":\"t\",\"%s\":[", flat ? "X" : "AttributesToGet");
	for (i = 0; i < n; i++)
		*len += (size_t)snprintf(b + *len, cap - *len, flat ? "%s0" : "%s\"a%zu\"", i ? "," : "", i);
	*len += (size_t)snprintf(b + *len, cap - *len, "]}");
	return b;
}

static void
test_jobs_come_back_on_the_loop(void **state)
{
	static const struct json_opts opts = { .mem_multiple = JSON_BODY_MEM_MULTIPLE };
	struct ctx c[NJOBS];
	struct offload *o;
	struct json_error err;
	size_t len[NJOBS], i;
	struct event *never;

	base = event_base_new();
	assert_non_null(base);
	never = event_new(base, -1, EV_PERSIST, NULL, NULL); /* keeps the loop running while jobs are out */
	assert_non_null(never);
	struct timeval tv = { 3600, 0 };
	event_add(never, &tv);
	o = offload_new(base);
	assert_non_null(o);
	memset(c, 0, sizeof(c));
	remaining = NJOBS;
	for (i = 0; i < NJOBS; i++) {
		c[i].arena = json_arena_new(4096);
		c[i].body = make_body(100000 + i * 1000, i % 3 == 2, &len[i]);
		if (i == 1)
			c[i].body[len[i] - 1] = ','; /* not JSON */
		c[i].job = (struct offload_job){ .arena = c[i].arena, .body = c[i].body, .len = len[i], .opts = &opts,
			.done = job_done };
		assert_true(offload_submit(o, &c[i].job));
	}
	event_base_dispatch(base);
	assert_int_equal(remaining, 0);
	for (i = 0; i < NJOBS; i++) {
		struct json_arena *inline_arena = json_arena_new(4096);
		cJSON *want = json_arena_parse(inline_arena, c[i].body, len[i], &opts, &err);

		assert_int_equal(c[i].done_calls, 1);
		assert_true(pthread_equal(c[i].done_thread, pthread_self())); /* `done` runs on the loop's thread */
		if (want == NULL) {
			assert_null(c[i].job.root);
			assert_string_equal(c[i].job.err.msg, err.msg);
			assert_int_equal(c[i].job.err.offset, err.offset);
		} else {
			assert_non_null(c[i].job.root);
			assert_true(cJSON_Compare(want, c[i].job.root, 1));
		}
		assert_true((i % 3 == 2 || i == 1) == (want == NULL));
		json_arena_free(inline_arena);
		json_arena_free(c[i].arena);
		free(c[i].body);
	}
	offload_free(o);
	offload_free(NULL);
	event_free(never);
	event_base_free(base);
}

static void
test_no_thread_means_inline(void **state)
{
	struct offload_job job = { 0 };

	assert_false(offload_submit(NULL, &job));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs_come_back_on_the_loop),
		cmocka_unit_test(test_no_thread_means_inline),
	};

	json_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}

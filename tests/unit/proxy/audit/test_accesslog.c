/*
 * Tests for proxy/audit/accesslog.c's writer: the bounded queue between the event
 * loop and the writer thread. Order, bound, failure -> unhealthy -> recovery,
 * no duplicated or lost line, rotation between records.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <cmocka.h>
#include <event2/event.h>

#include "config/config.h"
#include "proxy/audit/accesslog.h"
#include "proxy/audit/logchain.h"

struct fixture {
	char dir[64];
	char path[96];
	struct inspect_result in;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_accesslog.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/access.log", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct accesslog *
open_log(struct fixture *f, uint32_t buffer_bytes, uint64_t max_bytes)
{
	struct access_log_config cfg = { .path = f->path, .digest_every_records = 1000000,
		.digest_every_seconds = 86400, .max_bytes = max_bytes, .buffer_bytes = buffer_bytes };
	struct accesslog *a = accesslog_open(f->path);

	assert_non_null(a);
	assert_true(accesslog_configure(a, &cfg));
	return a;
}

/* One call record whose requestID is "req-<n>", so the file's order can be checked. */
static void
log_call(struct accesslog *a, struct fixture *f, int n)
{
	char id[32];
	struct accesslog_call c = { .client_ip = "127.0.0.1", .inspect = &f->in, .decision = "allow",
		.request_id = id, .status = 200 };

	snprintf(id, sizeof(id), "req-%d", n);
	clock_gettime(CLOCK_REALTIME, &c.wall_start);
	accesslog_write(a, &c);
}

static size_t digest_lines, digest_bytes; /* what the last read_lines() skipped */
static size_t chain_bytes;		  /* the writer's ,"chain":{...} members of the records read */

/* Reads every record line of `path` (NULL-terminated array of cJSON, caller frees); digest lines are counted. */
static cJSON **
read_lines(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, len = 0, alloc = 16;
	cJSON **v = calloc(alloc, sizeof(*v));

	assert_non_null(fp);
	digest_lines = digest_bytes = chain_bytes = 0;
	while (getline(&line, &cap, fp) > 0) {
		assert_true(strlen(line) > 0 && line[strlen(line) - 1] == '\n'); /* whole lines only */
		if (strncmp(line, "{\"ddbguardDigest\":", 18) == 0) {
			cJSON *d = cJSON_Parse(line);

			assert_non_null(d);
			cJSON_Delete(d);
			digest_lines++;
			digest_bytes += strlen(line);
			continue;
		}
		if (len + 1 >= alloc)
			v = realloc(v, (alloc *= 2) * sizeof(*v));
		if ((v[len] = cJSON_Parse(line)) == NULL)
			fail_msg("not JSON: %s", line);
		len++;
		if (strstr(line, ",\"chain\":{") != NULL)
			chain_bytes += strlen(strstr(line, ",\"chain\":{")) - 2; /* the loop queued "}\n" in its place */
	}
	v[len] = NULL;
	free(line);
	fclose(fp);
	*n = len;
	return v;
}

static void
free_lines(cJSON **v)
{
	for (size_t i = 0; v[i] != NULL; i++)
		cJSON_Delete(v[i]);
	free(v);
}

static const char *
request_id(const cJSON *rec)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "requestID");

	return cJSON_IsString(v) ? v->valuestring : "";
}

static uint64_t
seq_of(const cJSON *rec)
{
	return (uint64_t)cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "chain"), "seq")
	    ->valuedouble;
}

static void
test_order_and_chain(void **state)
{
	struct fixture *f = *state;
	struct accesslog *a = open_log(f, 1 << 20, 0);
	char want[32];
	cJSON **v;
	size_t n;

	for (int i = 0; i < 200; i++)
		log_call(a, f, i);
	assert_true(accesslog_flush(a, 5000));
	assert_true(accesslog_healthy(a));
	accesslog_close(a);
	v = read_lines(f->path, &n);
	assert_int_equal(n, 200);
	for (size_t i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "req-%zu", i);
		assert_string_equal(request_id(v[i]), want);
		assert_int_equal(seq_of(v[i]), i + 1);
	}
	free_lines(v);
}

static void
test_failure_unhealthy_recovery(void **state)
{
	struct fixture *f = *state;
	struct accesslog *a = open_log(f, 65536, 0);
	struct accesslog_health h;
	const cJSON *g, *rec;
	cJSON **v;
	size_t n, i;
	int sent = 0;

	log_call(a, f, sent++);
	assert_true(accesslog_flush(a, 5000));
	accesslog_test_fail_writes(a, ENOSPC);
	log_call(a, f, sent++);
	/* Until the writer has failed, however long a loaded machine takes (60 s only stops a hang). */
	for (i = 0; i < 6000 && accesslog_healthy(a); i++)
		usleep(10000);
	assert_false(accesslog_healthy(a));
	assert_false(accesslog_accepting(a));
	accesslog_health(a, &h);
	assert_false(h.ok);
	assert_string_equal(h.reason, strerror(ENOSPC));
	assert_true(h.since_ms > 0);
	/* While failing, records wait in the buffer until it is full; then they are dropped and counted. */
	while (sent < 2000)
		log_call(a, f, sent++);
	assert_false(accesslog_flush(a, 300));
	accesslog_test_fail_writes(a, 0);
	assert_true(accesslog_flush(a, 5000));
	assert_true(accesslog_healthy(a));
	accesslog_health(a, &h);
	assert_true(h.ok);
	log_call(a, f, 9999); /* the first record after recovery */
	accesslog_close(a);

	v = read_lines(f->path, &n);
	assert_true(n > 2 && n < 2000); /* the 64 KiB buffer could not hold 2000 records */
	for (i = 0; i < n; i++) {
		char want[32];

		snprintf(want, sizeof(want), "req-%zu", i);
		if (i + 1 < n)
			assert_string_equal(request_id(v[i]), want); /* the queued ones, once each, in order */
		assert_int_equal(seq_of(v[i]), i + 1);		     /* dropped ones never entered the chain */
		g = cJSON_GetObjectItemCaseSensitive(v[i], "guard");
		rec = cJSON_GetObjectItemCaseSensitive(g, "logRecovery");
		if (i + 1 < n) {
			assert_null(rec);
			continue;
		}
		assert_string_equal(request_id(v[i]), "req-9999");
		assert_non_null(rec);
		assert_int_equal(cJSON_GetObjectItemCaseSensitive(rec, "droppedRecords")->valuedouble,
		    (double)(2000 - (n - 1)));
		assert_true(cJSON_GetObjectItemCaseSensitive(rec, "unwritableSinceMs")->valuedouble > 0);
	}
	free_lines(v);
}

static void
test_bounded(void **state)
{
	struct fixture *f = *state;
	struct accesslog *a = open_log(f, 65536, 0);
	cJSON **v;
	size_t n, bytes;
	FILE *fp;

	accesslog_test_fail_writes(a, EIO);
	for (int i = 0; i < 5000; i++)
		log_call(a, f, i);
	accesslog_test_fail_writes(a, 0);
	assert_true(accesslog_flush(a, 5000));
	accesslog_close(a);
	assert_non_null(fp = fopen(f->path, "r"));
	fseek(fp, 0, SEEK_END);
	bytes = (size_t)ftell(fp);
	fclose(fp);
	v = read_lines(f->path, &n);
	/* never more queued than the buffer holds (the writer adds the chain member and the digests) */
	assert_true(bytes - digest_bytes - chain_bytes <= 65536);
	assert_true(n > 10 && n < 5000);
	free_lines(v);
}

static void
test_rotation_between_records(void **state)
{
	struct fixture *f = *state;
	struct accesslog *a = open_log(f, 1 << 20, 4096);
	char cmd[256], name[200];
	size_t total = 0, files = 0, n;
	FILE *ls;
	cJSON **v;
	uint64_t seen[300] = { 0 };

	for (int i = 0; i < 100; i++)
		log_call(a, f, i);
	accesslog_reopen(a); /* SIGUSR1 with the file still in place: reopened, nothing lost */
	for (int i = 100; i < 200; i++)
		log_call(a, f, i);
	assert_true(accesslog_flush(a, 5000));
	accesslog_close(a);
	snprintf(cmd, sizeof(cmd), "ls '%s'", f->dir);
	assert_non_null(ls = popen(cmd, "r"));
	while (fgets(name, sizeof(name), ls) != NULL) {
		char p[300];

		name[strcspn(name, "\n")] = '\0';
		snprintf(p, sizeof(p), "%s/%s", f->dir, name);
		v = read_lines(p, &n);
		for (size_t i = 0; i < n; i++) {
			uint64_t s = seq_of(v[i]);

			assert_true(s >= 1 && s <= 200);
			seen[s]++;
		}
		total += n;
		files++;
		free_lines(v);
	}
	pclose(ls);
	assert_true(files > 2);
	assert_int_equal(total, 200);
	for (int s = 1; s <= 200; s++)
		assert_int_equal(seen[s], 1); /* each record exactly once */
}

/* ---- access_log.sync "every_call": completions on the submitting loop, in order, after the write ---- */

struct waiter {
	struct accesslog_wait w;
	struct fixture *f;
	int n;
	int calls;
	bool durable;
	bool in_file; /* the record was in the file when done ran */
};

static int done_count, done_order_ok = 1, last_done = -1;

static bool
file_has(const char *path, int n)
{
	char want[48], *line = NULL;
	size_t cap = 0;
	bool found = false;
	FILE *fp = fopen(path, "r");

	snprintf(want, sizeof(want), "\"requestID\":\"req-%d\"", n);
	while (fp != NULL && !found && getline(&line, &cap, fp) > 0)
		found = strstr(line, want) != NULL;
	free(line);
	if (fp != NULL)
		fclose(fp);
	return found;
}

static void
waiter_done(struct accesslog_wait *w, bool durable)
{
	struct waiter *x = (struct waiter *)w;

	x->calls++;
	x->durable = durable;
	x->in_file = file_has(x->f->path, x->n);
	if (x->n < last_done)
		done_order_ok = 0;
	last_done = x->n;
	done_count++;
}

static enum accesslog_queued
log_call_wait(struct accesslog *a, struct event_base *base, struct waiter *x)
{
	char id[32];
	struct accesslog_call c = { .client_ip = "127.0.0.1", .inspect = &x->f->in, .decision = "allow",
		.request_id = id, .status = 200 };

	snprintf(id, sizeof(id), "req-%d", x->n);
	clock_gettime(CLOCK_REALTIME, &c.wall_start);
	x->w.done = waiter_done;
	return accesslog_write_wait(a, base, &c, &x->w);
}

static void
run_until(struct event_base *base, int want)
{
	for (int i = 0; i < 50000 && done_count < want; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(100);
}

static void
test_every_call_waits(void **state)
{
	struct fixture *f = *state;
	struct access_log_config cfg = { .path = f->path, .digest_every_records = 1000000, .digest_every_seconds = 86400,
		.buffer_bytes = 1 << 20, .sync = "every_call" };
	struct accesslog *a = accesslog_open(f->path);
	struct event_base *base = event_base_new();
	static struct waiter x[40];

	assert_non_null(a);
	assert_non_null(base);
	assert_true(accesslog_configure(a, &cfg));
	assert_int_equal(accesslog_sync_mode(a), ACCESSLOG_SYNC_EVERY_CALL);
	done_count = 0;
	last_done = -1;
	done_order_ok = 1;
	for (int i = 0; i < 30; i++) {
		x[i] = (struct waiter){ .f = f, .n = i };
		assert_int_equal(log_call_wait(a, base, &x[i]), ACCESSLOG_WAITING);
	}
	/* A cancelled wait is never completed. */
	x[30] = (struct waiter){ .f = f, .n = 30 };
	assert_int_equal(log_call_wait(a, base, &x[30]), ACCESSLOG_WAITING);
	accesslog_wait_cancel(&x[30].w);
	run_until(base, 30);
	assert_true(accesslog_flush(a, 5000));
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(done_count, 30);
	assert_true(done_order_ok);
	for (int i = 0; i < 30; i++) {
		assert_int_equal(x[i].calls, 1);
		assert_true(x[i].durable);
		assert_true(x[i].in_file); /* written before the completion ran */
	}
	assert_int_equal(x[30].calls, 0);

	/* A failing write fails the waits of its batch: their responses must not be released. */
	accesslog_test_fail_writes(a, EIO);
	done_count = 0;
	last_done = -1;
	for (int i = 31; i < 34; i++) {
		x[i] = (struct waiter){ .f = f, .n = i };
		assert_int_equal(log_call_wait(a, base, &x[i]), ACCESSLOG_WAITING);
	}
	run_until(base, 3);
	assert_int_equal(done_count, 3);
	for (int i = 31; i < 34; i++)
		assert_true(x[i].calls == 1 && !x[i].durable);
	accesslog_test_fail_writes(a, 0);
	assert_true(accesslog_flush(a, 5000));
	accesslog_close(a); /* frees the loop's wake-up event before the base goes */
	event_base_free(base);
}

static void
test_not_every_call_does_not_wait(void **state)
{
	struct fixture *f = *state;
	struct accesslog *a = open_log(f, 1 << 20, 0); /* sync: the default, "interval" */
	struct event_base *base = event_base_new();
	struct waiter x = { .f = f, .n = 1 };

	assert_int_equal(log_call_wait(a, base, &x), ACCESSLOG_QUEUED);
	accesslog_close(a);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_and_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_unhealthy_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_between_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_call_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_every_call_does_not_wait, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

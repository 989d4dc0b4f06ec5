#include "proxy/offload.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "filters/base/log.h"

struct offload {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct offload_job *todo, **todo_tail; /* FIFO, taken by the thread */
	struct offload_job *done_list;	       /* finished, handed back to the loop (order does not matter) */
	bool stopping;
	pthread_t thread;
	int efd;		/* eventfd: the thread wakes the loop */
	struct event *wake;	/* on the loop */
};

static void *
offload_main(void *arg)
{
	struct offload *o = arg;
	struct offload_job *job;
	uint64_t one = 1;

	pthread_mutex_lock(&o->mu);
	for (;;) {
		while (o->todo == NULL && !o->stopping)
			pthread_cond_wait(&o->cv, &o->mu);
		if (o->stopping)
			break;
		job = o->todo;
		if ((o->todo = job->next) == NULL)
			o->todo_tail = &o->todo;
		pthread_mutex_unlock(&o->mu);
		/* The arena is the job's alone until `done`: json.c's hooks find it through a thread-local. */
		job->root = json_arena_parse(job->arena, job->body, job->len, job->opts, &job->err);
		pthread_mutex_lock(&o->mu);
		job->next = o->done_list;
		o->done_list = job;
		pthread_mutex_unlock(&o->mu);
		while (write(o->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
		pthread_mutex_lock(&o->mu);
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

static void
offload_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct offload *o = arg;
	struct offload_job *list, *next;
	uint64_t n;

	while (read(o->efd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&o->mu);
	list = o->done_list;
	o->done_list = NULL;
	pthread_mutex_unlock(&o->mu);
	for (; list != NULL; list = next) {
		next = list->next; /* `done` may free the job */
		list->done(list);
	}
}

struct offload *
offload_new(struct event_base *base)
{
	struct offload *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	o->todo_tail = &o->todo;
	o->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (o->efd < 0 || pthread_mutex_init(&o->mu, NULL) != 0 || pthread_cond_init(&o->cv, NULL) != 0) {
		log_warn("offload: cannot set up the parse thread");
		if (o->efd >= 0)
			close(o->efd);
		free(o);
		return NULL;
	}
	if ((o->wake = event_new(base, o->efd, EV_READ | EV_PERSIST, offload_wake_cb, o)) == NULL ||
	    event_add(o->wake, NULL) != 0 || pthread_create(&o->thread, NULL, offload_main, o) != 0) {
		log_warnx("offload: cannot start the parse thread; large bodies are parsed on the event loop");
		if (o->wake != NULL)
			event_free(o->wake);
		close(o->efd);
		pthread_cond_destroy(&o->cv);
		pthread_mutex_destroy(&o->mu);
		free(o);
		return NULL;
	}
	pthread_setname_np(o->thread, "ddbguard-parse"); /* for top -H and the benchmark's per-thread CPU */
	return o;
}

void
offload_free(struct offload *o)
{
	if (o == NULL)
		return;
	pthread_mutex_lock(&o->mu);
	o->stopping = true;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
	pthread_join(o->thread, NULL);
	event_free(o->wake);
	close(o->efd);
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->mu);
	free(o);
}

bool
offload_submit(struct offload *o, struct offload_job *job)
{
	if (o == NULL)
		return false;
	job->root = NULL;
	job->next = NULL;
	pthread_mutex_lock(&o->mu);
	*o->todo_tail = job;
	o->todo_tail = &job->next;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
	return true;
}

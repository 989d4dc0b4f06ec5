#include "proxy/sockio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/event.h>

/* Bytes asked of the kernel per read: a whole ordinary request or response in one readv. */
#define SOCKIO_READ_CHUNK (16u << 10)

struct sockio {
	struct bufferevent *bev;
	evutil_socket_t fd;
	struct event *rd;    /* read interest: armed from start to free unless paused */
	struct event *wr;    /* write interest: armed only while the kernel buffer is full */
	struct event *flush; /* activated (no system call) when output is added; writes at the end of the pass */
	struct evbuffer_cb_entry *out_cb;
	bufferevent_data_cb readcb, writecb;
	bufferevent_event_cb eventcb;
	void *arg;
	struct timeval rtv, wtv;
	bool has_rtv, has_wtv;
	bool reading;	   /* the caller wants input */
	bool read_armed;   /* rd is added */
	bool at_read_max;  /* stopped because the input buffer reached read_max */
	bool write_armed;  /* wr is added */
	bool flush_queued; /* flush is active */
	size_t read_max;
};

static void
sockio_arm_read(struct sockio *s)
{
	bool want = s->reading && !s->at_read_max;

	if (want && !s->read_armed) {
		if (event_add(s->rd, s->has_rtv ? &s->rtv : NULL) == 0)
			s->read_armed = true;
	} else if (!want && s->read_armed) {
		event_del(s->rd);
		s->read_armed = false;
	}
}

/* One writev of what the output holds. Runs the caller's callback last: `s` may be freed by it. */
static void
sockio_write(struct sockio *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	int n;

	if (evbuffer_get_length(out) == 0)
		return;
	n = evbuffer_write(out, s->fd);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		if (s->write_armed) {
			event_del(s->wr);
			s->write_armed = false;
		}
		if (s->eventcb != NULL)
			s->eventcb(s->bev, BEV_EVENT_WRITING | BEV_EVENT_ERROR, s->arg);
		return;
	}
	if (evbuffer_get_length(out) > 0) {
		/* The kernel buffer is full: now, and only now, ask to be told when it has room. */
		if (!s->write_armed && event_add(s->wr, s->has_wtv ? &s->wtv : NULL) == 0)
			s->write_armed = true;
		else if (s->write_armed && n > 0 && s->has_wtv)
			event_add(s->wr, &s->wtv); /* progress: the write timeout starts again */
		return;
	}
	if (s->write_armed) {
		event_del(s->wr);
		s->write_armed = false;
	}
	if (s->writecb != NULL)
		s->writecb(s->bev, s->arg);
}

static void
sockio_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sockio *s = arg;

	s->flush_queued = false;
	sockio_write(s);
}

static void
sockio_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sockio *s = arg;

	if (what & EV_TIMEOUT) {
		event_del(s->wr);
		s->write_armed = false;
		if (s->eventcb != NULL)
			s->eventcb(s->bev, BEV_EVENT_WRITING | BEV_EVENT_TIMEOUT, s->arg);
		return;
	}
	sockio_write(s);
}

/* Output was added: write it once the current pass of the loop is done (one writev for all of it). */
static void
sockio_out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct sockio *s = arg;

	if (info->n_added == 0 || s->flush_queued || s->write_armed)
		return;
	s->flush_queued = true;
	event_active(s->flush, EV_WRITE, 0);
}

static void
sockio_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sockio *s = arg;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	size_t want = SOCKIO_READ_CHUNK, len = evbuffer_get_length(in), left;
	ssize_t n;
	int nv, i;

	if (what & EV_TIMEOUT) {
		if (s->eventcb != NULL)
			s->eventcb(s->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, s->arg);
		return;
	}
	if (s->read_max > 0) {
		if (len >= s->read_max) {
			s->at_read_max = true;
			sockio_arm_read(s);
			return;
		}
		if (s->read_max - len < want)
			want = s->read_max - len;
	}
	if ((nv = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2)) <= 0) {
		if (s->eventcb != NULL)
			s->eventcb(s->bev, BEV_EVENT_READING | BEV_EVENT_ERROR, s->arg);
		return;
	}
	for (i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	n = readv(s->fd, iov, nv);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (s->eventcb != NULL)
			s->eventcb(s->bev, BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR), s->arg);
		return;
	}
	for (left = (size_t)n, i = 0; i < nv; i++) {
		if (v[i].iov_len > left)
			v[i].iov_len = left;
		left -= v[i].iov_len;
	}
	evbuffer_commit_space(in, v, nv);
	if (s->read_max > 0 && evbuffer_get_length(in) >= s->read_max) {
		s->at_read_max = true;
		sockio_arm_read(s);
	}
	if (s->readcb != NULL)
		s->readcb(s->bev, s->arg);
}

struct sockio *
sockio_new(struct bufferevent *bev, bufferevent_data_cb readcb, bufferevent_data_cb writecb,
    bufferevent_event_cb eventcb, void *arg, size_t read_max)
{
	struct event_base *base = bufferevent_get_base(bev);
	struct sockio *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->bev = bev;
	s->fd = bufferevent_getfd(bev);
	s->read_max = read_max;
	s->rd = event_new(base, s->fd, EV_READ | EV_PERSIST, sockio_read_cb, s);
	s->wr = event_new(base, s->fd, EV_WRITE | EV_PERSIST, sockio_write_cb, s);
	s->flush = event_new(base, -1, 0, sockio_flush_cb, s);
	if (s->fd < 0 || s->rd == NULL || s->wr == NULL || s->flush == NULL ||
	    (s->out_cb = evbuffer_add_cb(bufferevent_get_output(bev), sockio_out_cb, s)) == NULL) {
		sockio_free(s);
		return NULL;
	}
	/*
	 * The bufferevent's own events stay off for good; its buffers are ours
	 * to fill and drain (a socket bufferevent freezes them between its own
	 * callbacks, which no longer run).
	 */
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	evbuffer_unfreeze(bufferevent_get_input(bev), 0);
	evbuffer_unfreeze(bufferevent_get_output(bev), 1);
	sockio_setcb(s, readcb, writecb, eventcb, arg);
	s->reading = true;
	sockio_arm_read(s);
	/* Output added before we took over goes out with the first pass. */
	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		s->flush_queued = true;
		event_active(s->flush, EV_WRITE, 0);
	}
	return s;
}

void
sockio_free(struct sockio *s)
{
	if (s == NULL)
		return;
	if (s->out_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(s->bev), s->out_cb);
	if (s->rd != NULL)
		event_free(s->rd);
	if (s->wr != NULL)
		event_free(s->wr);
	if (s->flush != NULL)
		event_free(s->flush);
	free(s);
}

void
sockio_setcb(struct sockio *s, bufferevent_data_cb readcb, bufferevent_data_cb writecb,
    bufferevent_event_cb eventcb, void *arg)
{
	s->readcb = readcb;
	s->writecb = writecb;
	s->eventcb = eventcb;
	s->arg = arg;
}

void
sockio_set_timeouts(struct sockio *s, const struct timeval *read, const struct timeval *write)
{
	s->has_rtv = read != NULL;
	if (read != NULL)
		s->rtv = *read;
	s->has_wtv = write != NULL;
	if (write != NULL)
		s->wtv = *write;
	/* Re-adding a pending event only moves its timeout: no system call. */
	if (s->read_armed)
		event_add(s->rd, s->has_rtv ? &s->rtv : NULL);
	if (s->write_armed)
		event_add(s->wr, s->has_wtv ? &s->wtv : NULL);
}

void
sockio_read_enable(struct sockio *s)
{
	s->reading = true;
	sockio_read_check(s);
}

void
sockio_read_disable(struct sockio *s)
{
	s->reading = false;
	sockio_arm_read(s);
}

void
sockio_read_check(struct sockio *s)
{
	if (s->at_read_max && evbuffer_get_length(bufferevent_get_input(s->bev)) < s->read_max)
		s->at_read_max = false;
	sockio_arm_read(s);
}

void
sockio_flush(struct sockio *s)
{
	if (s->flush_queued) {
		event_del(s->flush);
		s->flush_queued = false;
	}
	sockio_write(s);
}

/*
 * sockio: the hot-path I/O of a plain (non-TLS) socket bufferevent, done the
 * way nginx does it: write first, read without asking first.
 *
 * A bufferevent_socket keeps its buffers and its callbacks' meaning here, but
 * not its own I/O, which costs per call an FIONREAD ioctl before every read
 * and two epoll_ctl around every write (write interest armed when output is
 * added, disarmed when it drains). With sockio:
 *   - output added to the bufferevent's output buffer is written at the end
 *     of the current event-loop pass (one writev for everything added in the
 *     pass: a response head and body go out together); write interest is
 *     registered only when the kernel buffer is full (EAGAIN) and removed
 *     once it drains;
 *   - read interest stays armed (one epoll_ctl at the start), and each read
 *     is one readv into the input buffer, no FIONREAD;
 *   - the caller's read, write and event callbacks run exactly as a
 *     bufferevent would run them: readcb after input arrived, writecb when
 *     the output drained after a write, eventcb with BEV_EVENT_READING or
 *     BEV_EVENT_WRITING plus EOF, ERROR or TIMEOUT.
 *
 * Use sockio_read_enable/disable and sockio_set_timeouts instead of
 * bufferevent_enable/disable/set_timeouts on such a bufferevent. Free the
 * sockio before the bufferevent. Not thread-safe (one event loop).
 */
#ifndef DDBGUARD_PROXY_SOCKIO_H
#define DDBGUARD_PROXY_SOCKIO_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/bufferevent.h>

struct sockio;

/*
 * Takes over the I/O of `bev` (a connected bufferevent_socket with its fd
 * set): disables the bufferevent's own read and write events and starts
 * reading. `read_max` bounds the input buffer (0: no bound): reading stops
 * there until the caller drains it and calls sockio_read_check. NULL when
 * out of memory (the bufferevent is left as it was).
 */
struct sockio *sockio_new(struct bufferevent *bev, bufferevent_data_cb readcb, bufferevent_data_cb writecb,
    bufferevent_event_cb eventcb, void *arg, size_t read_max);
void sockio_free(struct sockio *s); /* accepts NULL; leaves the bufferevent and its fd alone */

/* Changes the callbacks (same meaning as bufferevent_setcb). */
void sockio_setcb(struct sockio *s, bufferevent_data_cb readcb, bufferevent_data_cb writecb,
    bufferevent_event_cb eventcb, void *arg);

/* NULL timeval: no timeout. A read timeout restarts on every read, a write timeout on every write. */
void sockio_set_timeouts(struct sockio *s, const struct timeval *read, const struct timeval *write);

void sockio_read_enable(struct sockio *s);
void sockio_read_disable(struct sockio *s);
/* Resumes reading if it stopped at read_max and the input has since been drained below it. */
void sockio_read_check(struct sockio *s);

/* Writes what the output buffer holds now instead of at the end of the loop pass. */
void sockio_flush(struct sockio *s);

#endif

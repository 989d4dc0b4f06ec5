#include "proxy/admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "config/config.h"
#include "proxy/audit/accesslog.h"
#include "filters/base/log.h"

#define ADMIN_TIMEOUT_S 10 /* a client has this long to send its request */

struct admin {
	struct evhttp *http; /* owned */
	struct accesslog *alog;
};

static void
format_ms(char *buf, size_t len, int64_t ms)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&secs, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct admin *ad = arg;
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct accesslog_health h;
	struct evbuffer *body;
	char since[40];
	int code;

	if (path == NULL || strcmp(path, "/healthz") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "Not Found");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(hdrs, "Allow", "GET");
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	if ((body = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, "Internal Server Error");
		return;
	}
	accesslog_health(ad->alog, &h);
	if (h.ok) {
		evbuffer_add_printf(body, "{\"status\":\"ok\",\"log\":\"ok\"%s}\n", h.fail_open ? ",\"failOpen\":true" : "");
		code = HTTP_OK;
	} else {
		format_ms(since, sizeof(since), h.since_ms);
		/* reason is strerror() text or our own sentence: nothing to escape */
		evbuffer_add_printf(body,
		    "{\"status\":\"degraded\",\"log\":\"unwritable\",\"since\":\"%s\",\"reason\":\"%s\"%s}\n", since,
		    h.reason, h.fail_open ? ",\"failOpen\":true" : "");
		code = HTTP_SERVUNAVAIL;
	}
	evhttp_add_header(hdrs, "Content-Type", "application/json");
	evhttp_add_header(hdrs, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, code == HTTP_OK ? "OK" : "Service Unavailable", body);
	evbuffer_free(body);
}

struct admin *
admin_new(struct event_base *base, const struct admin_config *cfg, struct accesslog *alog)
{
	struct admin *ad = calloc(1, sizeof(*ad));

	if (ad == NULL || (ad->http = evhttp_new(base)) == NULL) {
		free(ad);
		return NULL;
	}
	ad->alog = alog;
	/* Other methods reach on_request so it can answer 405 rather than evhttp's bare 501. */
	evhttp_set_allowed_methods(ad->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						 EVHTTP_REQ_DELETE);
	evhttp_set_gencb(ad->http, on_request, ad);
	evhttp_set_timeout(ad->http, ADMIN_TIMEOUT_S);
	if (evhttp_bind_socket(ad->http, cfg->address, cfg->port) < 0) {
		log_warn("admin endpoint %s port %u", cfg->address, (unsigned)cfg->port);
		admin_free(ad);
		return NULL;
	}
	log_info("admin endpoint on %s port %u (GET /healthz)", cfg->address, (unsigned)cfg->port);
	return ad;
}

void
admin_free(struct admin *ad)
{
	if (ad == NULL)
		return;
	evhttp_free(ad->http);
	free(ad);
}

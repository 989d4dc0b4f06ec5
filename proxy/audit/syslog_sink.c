/* syslog_sink: RFC 5424 access-log messages over UDP (RFC 5426) or a unix datagram socket. See syslog_sink.h. */
#include "proxy/audit/syslog_sink.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* RFC 5424 6.2.1. XXX: make the facility configurable (access_log.syslog_facility). */
#define SYSLOG_FACILITY 16 /* local0 */
#define SYSLOG_SEVERITY 6  /* informational */
#define SYSLOG_APP_NAME "ddbguard"
#define SYSLOG_MSGID    "access"
#define SYSLOG_HOST_MAX 255            /* RFC 5424 6.2.4 */
#define SYSLOG_TS_LEN   27             /* YYYY-MM-DDTHH:MM:SS.ffffffZ */
#define SYSLOG_BOM      "\xEF\xBB\xBF" /* RFC 5424 6.4 */
#define SYSLOG_HDR_MAX  (16 + SYSLOG_TS_LEN + SYSLOG_HOST_MAX + 64)

struct syslog_sink {
	int fd;
	struct sockaddr_storage addr; /* every send goes here (unconnected: survives a receiver restart) */
	socklen_t addrlen;
	size_t max;    /* largest datagram, header included */
	char *buf;     /* max bytes: header, then the record; reused for every message */
	size_t ts_off; /* where the timestamp goes in buf */
	size_t hdr_len;
	unsigned long long dropped;
};

static void seterr(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* "HOST:PORT", HOST possibly "[v6]" or a bare v6 literal (the last ':' splits, as config.c checks). */
static bool
resolve_udp(struct syslog_sink *s, const char *hp, char *err, size_t err_len)
{
	char host[300];
	const char *colon = strrchr(hp, ':'), *port;
	size_t hl;
	struct addrinfo hints = {0}, *res = NULL;
	char *end;
	long p;
	int rc;

	if (colon == NULL || colon == hp) {
		seterr(err, err_len, "syslog target: expected \"udp:HOST:PORT\"");
		return false;
	}
	port = colon + 1;
	errno = 0;
	p = strtol(port, &end, 10);
	if (*port < '0' || *port > '9' || *end != '\0' || errno != 0 || p < 1 || p > 65535) {
		seterr(err, err_len, "syslog target: port must be 1..65535");
		return false;
	}
	hl = (size_t)(colon - hp);
	if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']') {
		hp++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host)) {
		seterr(err, err_len, "syslog target: bad host");
		return false;
	}
	memcpy(host, hp, hl);
	host[hl] = '\0';
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_protocol = IPPROTO_UDP;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		seterr(err, err_len, "syslog target: cannot resolve %s: %s", host, gai_strerror(rc));
		return false;
	}
	/* Resolved once: a DNS change needs a restart. */
	memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
	s->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	s->max = SYSLOG_SINK_UDP_MAX;
	return true;
}

static bool
parse_unix(struct syslog_sink *s, const char *path, char *err, size_t err_len)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&s->addr;
	size_t n = strlen(path);

	if (path[0] != '/') {
		seterr(err, err_len, "syslog target: expected \"unix:/PATH\" (absolute path)");
		return false;
	}
	if (n >= sizeof(sun->sun_path)) {
		seterr(err, err_len, "syslog target: unix socket path longer than %zu bytes",
		       sizeof(sun->sun_path) - 1);
		return false;
	}
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n + 1);
	s->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	s->max = SYSLOG_SINK_UNIX_MAX;
	return true;
}

/* Writes "<PRI>1 " + timestamp slot + " HOSTNAME APP PROCID MSGID - " + BOM into s->buf. */
static void
build_header(struct syslog_sink *s)
{
	char host[SYSLOG_HOST_MAX + 1];
	size_t n;
	int len;

	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	/* RFC 5424 6.2.4: HOSTNAME = NILVALUE / 1*255PRINTUSASCII. */
	for (n = 0; host[n] != '\0'; n++)
		if ((unsigned char)host[n] < 33 || (unsigned char)host[n] > 126)
			host[n] = '_';
	if (n == 0)
		memcpy(host, "-", 2);

	len = snprintf(s->buf, SYSLOG_HDR_MAX, "<%d>1 ", SYSLOG_FACILITY * 8 + SYSLOG_SEVERITY);
	s->ts_off = (size_t)len;
	memset(s->buf + s->ts_off, '0', SYSLOG_TS_LEN);
	len += SYSLOG_TS_LEN;
	/* The pid is taken once: ddbguard does not fork after opening its sinks. */
	len += snprintf(s->buf + len, SYSLOG_HDR_MAX - (size_t)len,
	                " %s " SYSLOG_APP_NAME " %ld " SYSLOG_MSGID " - " SYSLOG_BOM, host, (long)getpid());
	s->hdr_len = (size_t)len;
}

struct syslog_sink *
syslog_sink_open(const char *target, char *err, size_t err_len)
{
	struct syslog_sink *s;
	bool ok;

	if (target == NULL) {
		seterr(err, err_len, "syslog target: missing");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		seterr(err, err_len, "syslog target: out of memory");
		return NULL;
	}
	s->fd = -1;
	if (strncmp(target, "udp:", 4) == 0)
		ok = resolve_udp(s, target + 4, err, err_len);
	else if (strncmp(target, "unix:", 5) == 0)
		ok = parse_unix(s, target + 5, err, err_len);
	else {
		seterr(err, err_len, "syslog target: expected \"udp:HOST:PORT\" or \"unix:/PATH\"");
		ok = false;
	}
	if (!ok)
		goto fail;
	if ((s->buf = malloc(s->max)) == NULL) {
		seterr(err, err_len, "syslog target: out of memory");
		goto fail;
	}
	build_header(s);
	s->fd = socket(s->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd == -1) {
		seterr(err, err_len, "syslog target: socket: %s", strerror(errno));
		goto fail;
	}
	if (s->addr.ss_family == AF_UNIX) {
		/* Room for a largest message; the kernel may cap this (then larger ones fail and count). */
		int sndbuf = SYSLOG_SINK_UNIX_MAX + 4096;

		(void)setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	return s;
fail:
	syslog_sink_free(s);
	return NULL;
}

void
syslog_sink_free(struct syslog_sink *s)
{
	if (s == NULL)
		return;
	if (s->fd != -1)
		close(s->fd);
	free(s->buf);
	free(s);
}

/* RFC 5424 6.2.3 / RFC 3339: full-date "T" full-time with 6-digit secfrac, UTC "Z". */
static bool
format_time(char *dst)
{
	struct timespec ts;
	struct tm tm;
	char tmp[64];
	int n;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL)
		return false;
	n = snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
	             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
	if (n != SYSLOG_TS_LEN) /* year outside 0000..9999 */
		return false;
	memcpy(dst, tmp, SYSLOG_TS_LEN);
	return true;
}

bool
syslog_sink_send(struct syslog_sink *s, const char *line, size_t len)
{
	ssize_t n;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	/* Never truncate: a cut JSON record is worse than a counted drop (see syslog_sink.h). */
	if (len > s->max - s->hdr_len || !format_time(s->buf + s->ts_off)) {
		s->dropped++;
		return false;
	}
	memcpy(s->buf + s->hdr_len, line, len);
	n = sendto(s->fd, s->buf, s->hdr_len + len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&s->addr,
	           s->addrlen);
	if (n < 0 || (size_t)n != s->hdr_len + len) {
		s->dropped++;
		return false;
	}
	return true;
}

unsigned long long
syslog_sink_dropped(const struct syslog_sink *s)
{
	return s->dropped;
}

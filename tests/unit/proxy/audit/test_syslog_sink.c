/* Tests for proxy/audit/syslog_sink.c: RFC 5424 framing over UDP and unix datagram sockets, limits, drops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "proxy/audit/syslog_sink.h"

#define RECV_MAX (SYSLOG_SINK_UNIX_MAX + 1024)

static char rbuf[RECV_MAX];

static const char *records[] = {
    "{\"time\":\"2024-05-01T00:00:00Z\",\"action\":\"GetItem\",\"status\":200}",
    "{\"table\":\"caf\xC3\xA9\",\"note\":\"UTF-8 \xE2\x9C\x93\",\"q\":\"a \\\"b\\\"\"}",
    "{}",
};

/* --- an RFC 5424 parser, strict about exactly what the sink promises ------------------------------ */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One header field: 1*max PRINTUSASCII followed by SP, copied to out; advances *p past the SP. */
static void
field(const char **p, const char *end, size_t max, char *out)
{
	const char *q = *p;

	while (q < end && (unsigned char)*q >= 33 && (unsigned char)*q <= 126)
		q++;
	assert_true(q > *p);
	assert_true((size_t)(q - *p) <= max);
	assert_true(q < end && *q == ' ');
	memcpy(out, *p, (size_t)(q - *p));
	out[q - *p] = '\0';
	*p = q + 1;
}

static void
expected_hostname(char *out)
{
	char h[256];
	size_t i;

	assert_int_equal(gethostname(h, sizeof(h)), 0);
	h[255] = '\0';
	for (i = 0; h[i]; i++)
		if ((unsigned char)h[i] < 33 || (unsigned char)h[i] > 126)
			h[i] = '_';
	strcpy(out, i ? h : "-");
}

static int
digits(const char *p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		assert_true(p[i] >= '0' && p[i] <= '9');
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/*
 * SYSLOG-MSG = HEADER SP STRUCTURED-DATA [SP MSG]
 * HEADER = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
 * Returns the header length (bytes before the JSON).
 */
static size_t
check_message(const char *m, size_t len, const char *json)
{
	const char *p = m, *end = m + len;
	char tok[300], host[300], pid[32];
	struct tm tm = {0};
	double t;

	/* PRI = "<" PRIVAL ">", PRIVAL 1*3DIGIT, no leading zero; 134 = local0.info */
	assert_true(len > 10);
	assert_memory_equal(p, "<134>", 5);
	p += 5;
	/* VERSION = NONZERO-DIGIT 0*2DIGIT: "1" */
	assert_memory_equal(p, "1 ", 2);
	p += 2;
	/* TIMESTAMP: FULL-DATE "T" PARTIAL-TIME "." 6DIGIT "Z" (RFC 3339) */
	assert_true(end - p > 28);
	tm.tm_year = digits(p, 4) - 1900;
	assert_int_equal(p[4], '-');
	tm.tm_mon = digits(p + 5, 2) - 1;
	assert_int_equal(p[7], '-');
	tm.tm_mday = digits(p + 8, 2);
	assert_int_equal(p[10], 'T');
	tm.tm_hour = digits(p + 11, 2);
	assert_int_equal(p[13], ':');
	tm.tm_min = digits(p + 14, 2);
	assert_int_equal(p[16], ':');
	tm.tm_sec = digits(p + 17, 2);
	assert_int_equal(p[19], '.');
	t = (double)timegm(&tm) + digits(p + 20, 6) / 1e6;
	assert_int_equal(p[26], 'Z');
	assert_int_equal(p[27], ' ');
	assert_true(tm.tm_mon >= 0 && tm.tm_mon <= 11 && tm.tm_mday >= 1 && tm.tm_mday <= 31);
	assert_true(tm.tm_hour <= 23 && tm.tm_min <= 59 && tm.tm_sec <= 60);
	assert_true(t <= now_s() + 0.001 && t > now_s() - 10);
	p += 28;
	/* HOSTNAME 1*255PRINTUSASCII */
	field(&p, end, 255, tok);
	expected_hostname(host);
	assert_string_equal(tok, host);
	/* APP-NAME 1*48 */
	field(&p, end, 48, tok);
	assert_string_equal(tok, "ddbguard");
	/* PROCID 1*128 */
	field(&p, end, 128, tok);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	assert_string_equal(tok, pid);
	/* MSGID 1*32 */
	field(&p, end, 32, tok);
	assert_string_equal(tok, "access");
	/* STRUCTURED-DATA = NILVALUE, then SP MSG; MSG-UTF8 = BOM UTF-8-STRING */
	assert_true(end - p >= 5);
	assert_memory_equal(p, "- \xEF\xBB\xBF", 5);
	p += 5;
	assert_int_equal((size_t)(end - p), strlen(json));
	assert_memory_equal(p, json, strlen(json));
	return (size_t)(p - m);
}

/* --- receivers ------------------------------------------------------------------------------------ */

static int
udp_receiver(int family, char *target, size_t tlen)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rcv = 1 << 20;

	if (fd == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sl = sizeof(*sin6);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
		close(fd);
		return -1;
	}
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	if (family == AF_INET)
		snprintf(target, tlen, "udp:127.0.0.1:%u", ntohs(((struct sockaddr_in *)&ss)->sin_port));
	else
		snprintf(target, tlen, "udp:[::1]:%u", ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	return fd;
}

struct unix_rx {
	char dir[48];
	char path[96];
	int fd;
};

static void
unix_receiver(struct unix_rx *u, char *target, size_t tlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	strcpy(u->dir, "/tmp/ddbg-syslog-XXXXXX");
	assert_non_null(mkdtemp(u->dir));
	snprintf(u->path, sizeof(u->path), "%s/log", u->dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", u->path);
	u->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(u->fd >= 0);
	assert_int_equal(bind(u->fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	snprintf(target, tlen, "unix:%s", u->path);
}

static void
unix_receiver_close(struct unix_rx *u)
{
	close(u->fd);
	unlink(u->path);
	rmdir(u->dir);
}

static ssize_t
recv_nowait(int fd)
{
	return recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
}

static ssize_t
recv_wait(int fd)
{
	struct timeval tv = {.tv_sec = 2};

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return recv(fd, rbuf, sizeof(rbuf), 0);
}

static void
send_three_and_check(struct syslog_sink *s, int rx)
{
	for (size_t i = 0; i < 3; i++)
		assert_true(syslog_sink_send(s, records[i], strlen(records[i])));
	for (size_t i = 0; i < 3; i++) {
		ssize_t n = recv_wait(rx);

		assert_true(n > 0);
		check_message(rbuf, (size_t)n, records[i]);
	}
	assert_int_equal(recv_nowait(rx), -1);
	assert_int_equal(syslog_sink_dropped(s), 0);
}

/* --- tests ---------------------------------------------------------------------------------------- */

static void
test_udp_ipv4_three_records(void **state)
{
	char target[64], err[256] = "";
	int rx = udp_receiver(AF_INET, target, sizeof(target));
	struct syslog_sink *s;

	(void)state;
	assert_true(rx >= 0);
	s = syslog_sink_open(target, err, sizeof(err));
	assert_non_null(s);
	send_three_and_check(s, rx);
	syslog_sink_free(s);
	close(rx);
}

static void
test_udp_ipv6(void **state)
{
	char target[64], bare[64], err[256] = "";
	int rx = udp_receiver(AF_INET6, target, sizeof(target));
	struct syslog_sink *s;
	unsigned port;

	(void)state;
	if (rx < 0)
		skip(); /* no IPv6 loopback here */
	s = syslog_sink_open(target, err, sizeof(err));
	assert_non_null(s);
	send_three_and_check(s, rx);
	syslog_sink_free(s);
	/* The bare form config.c also accepts: the last ':' splits host and port. */
	assert_int_equal(sscanf(target, "udp:[::1]:%u", &port), 1);
	snprintf(bare, sizeof(bare), "udp:::1:%u", port);
	s = syslog_sink_open(bare, err, sizeof(err));
	assert_non_null(s);
	send_three_and_check(s, rx);
	syslog_sink_free(s);
	close(rx);
}

static void
test_unix_three_records(void **state)
{
	char target[160], err[256] = "";
	struct unix_rx u;
	struct syslog_sink *s;

	(void)state;
	unix_receiver(&u, target, sizeof(target));
	s = syslog_sink_open(target, err, sizeof(err));
	assert_non_null(s);
	send_three_and_check(s, u.fd);
	syslog_sink_free(s);
	unix_receiver_close(&u);
}

/* The access-log writer's lines end in '\n'; that newline is not part of the message. */
static void
test_trailing_newline_not_sent(void **state)
{
	char target[64], err[256] = "";
	int rx = udp_receiver(AF_INET, target, sizeof(target));
	struct syslog_sink *s = syslog_sink_open(target, err, sizeof(err));
	ssize_t n;

	(void)state;
	assert_non_null(s);
	assert_true(syslog_sink_send(s, "{\"a\":1}\n", 8));
	n = recv_wait(rx);
	assert_true(n > 0);
	check_message(rbuf, (size_t)n, "{\"a\":1}");
	syslog_sink_free(s);
	close(rx);
}

/* Exactly SYSLOG_SINK_UDP_MAX bytes goes out whole; one byte more is dropped, never truncated. */
static void
test_udp_oversize_dropped(void **state)
{
	char target[64], err[256] = "";
	int rx = udp_receiver(AF_INET, target, sizeof(target));
	struct syslog_sink *s = syslog_sink_open(target, err, sizeof(err));
	char *big = malloc(SYSLOG_SINK_UDP_MAX + 2);
	size_t hdr, fit;
	ssize_t n;

	(void)state;
	assert_non_null(s);
	assert_true(syslog_sink_send(s, "{}", 2));
	n = recv_wait(rx);
	assert_true(n > 0);
	hdr = check_message(rbuf, (size_t)n, "{}");
	fit = SYSLOG_SINK_UDP_MAX - hdr;

	/* {"x":"aaaa...a"} of exactly fit bytes */
	memset(big, 'a', fit + 1);
	memcpy(big, "{\"x\":\"", 6);
	memcpy(big + fit - 2, "\"}", 2);
	big[fit] = '\0';
	assert_true(syslog_sink_send(s, big, fit));
	n = recv_wait(rx);
	assert_int_equal(n, SYSLOG_SINK_UDP_MAX);
	check_message(rbuf, (size_t)n, big);
	assert_int_equal(syslog_sink_dropped(s), 0);

	memset(big + fit - 2, 'a', 2);
	memcpy(big + fit - 1, "\"}", 2);
	big[fit + 1] = '\0';
	assert_false(syslog_sink_send(s, big, fit + 1));
	assert_int_equal(syslog_sink_dropped(s), 1);
	assert_int_equal(recv_nowait(rx), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);

	free(big);
	syslog_sink_free(s);
	close(rx);
}

/* unix: takes records well past the UDP limit. */
static void
test_unix_large_record(void **state)
{
	char target[160], err[256] = "";
	struct unix_rx u;
	struct syslog_sink *s;
	size_t len = 100000;
	char *big = malloc(len + 1);
	int rcv = 1 << 20;
	ssize_t n;

	(void)state;
	unix_receiver(&u, target, sizeof(target));
	(void)setsockopt(u.fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	s = syslog_sink_open(target, err, sizeof(err));
	assert_non_null(s);
	memset(big, 'b', len);
	memcpy(big, "{\"x\":\"", 6);
	memcpy(big + len - 2, "\"}", 2);
	big[len] = '\0';
	assert_true(syslog_sink_send(s, big, len));
	n = recv_wait(u.fd);
	assert_true(n > 0);
	check_message(rbuf, (size_t)n, big);

	/* Over the unix limit: dropped whole. */
	free(big);
	len = SYSLOG_SINK_UNIX_MAX;
	big = calloc(1, len + 1);
	memset(big, 'c', len);
	assert_false(syslog_sink_send(s, big, len));
	assert_int_equal(syslog_sink_dropped(s), 1);
	assert_int_equal(recv_nowait(u.fd), -1);

	free(big);
	syslog_sink_free(s);
	unix_receiver_close(&u);
}

static void
test_bad_targets(void **state)
{
	static const char *bad[] = {
	    "",
	    "tcp:127.0.0.1:514",
	    "udp:",
	    "udp:127.0.0.1",
	    "udp::514",
	    "udp:127.0.0.1:",
	    "udp:127.0.0.1:0",
	    "udp:127.0.0.1:65536",
	    "udp:127.0.0.1:51x",
	    "udp:127.0.0.1:-1",
	    "udp:[]:514",
	    "udp:no-such-host.invalid:514",
	    "unix:",
	    "unix:relative/log",
	    "unix:/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "/dev/log",
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(err, "");
		assert_null(syslog_sink_open(bad[i], err, sizeof(err)));
		if (strncmp(err, "syslog target:", 14) != 0)
			fail_msg("%s: err \"%s\"", bad[i], err);
	}
	assert_null(syslog_sink_open(NULL, err, sizeof(err)));
	assert_null(syslog_sink_open("nope", NULL, 0));
	syslog_sink_free(NULL);
}

/* A receiver that has gone away: each send fails fast and counts. */
static void
test_unix_no_receiver(void **state)
{
	char target[160], err[256] = "";
	struct unix_rx u;
	struct syslog_sink *s;

	(void)state;
	unix_receiver(&u, target, sizeof(target));
	unix_receiver_close(&u);
	s = syslog_sink_open(target, err, sizeof(err)); /* the path need not exist at open */
	assert_non_null(s);
	assert_false(syslog_sink_send(s, "{}", 2));
	assert_false(syslog_sink_send(s, "{}", 2));
	assert_int_equal(syslog_sink_dropped(s), 2);
	syslog_sink_free(s);
}

/* A receiver that does not read: sends hit EAGAIN, count drops, and never block; draining recovers. */
static void
test_unix_full_receiver(void **state)
{
	char target[160], err[256] = "";
	struct unix_rx u;
	struct syslog_sink *s;
	char rec[1024];
	unsigned ok = 0, failed = 0;
	double t0;

	(void)state;
	unix_receiver(&u, target, sizeof(target));
	s = syslog_sink_open(target, err, sizeof(err));
	assert_non_null(s);
	memset(rec, 'r', sizeof(rec));
	memcpy(rec, "{\"x\":\"", 6);
	memcpy(rec + sizeof(rec) - 2, "\"}", 2);
	t0 = now_s();
	for (int i = 0; i < 100000 && failed < 50; i++) {
		if (syslog_sink_send(s, rec, sizeof(rec)))
			ok++;
		else
			failed++;
	}
	assert_true(now_s() - t0 < 5.0);
	assert_true(ok > 0);
	assert_int_equal(failed, 50);
	assert_int_equal(syslog_sink_dropped(s), 50);

	/* Every queued message is whole, then the queue is empty; the next send succeeds again. */
	for (unsigned i = 0; i < ok; i++) {
		ssize_t n = recv_nowait(u.fd);

		assert_true(n > (ssize_t)sizeof(rec));
		assert_memory_equal(rbuf + n - sizeof(rec), rec, sizeof(rec));
	}
	assert_int_equal(recv_nowait(u.fd), -1);
	assert_true(syslog_sink_send(s, "{}", 2));
	assert_int_equal(syslog_sink_dropped(s), 50);
	syslog_sink_free(s);
	unix_receiver_close(&u);
}

/* Flooding a UDP receiver that does not read never blocks (loopback drops at the receiver, silently). */
static void
test_udp_flood_never_blocks(void **state)
{
	char target[64], err[256] = "";
	int rx = udp_receiver(AF_INET, target, sizeof(target));
	struct syslog_sink *s = syslog_sink_open(target, err, sizeof(err));
	char rec[8192];
	unsigned long long ok = 0;
	double t0 = now_s();

	(void)state;
	assert_non_null(s);
	memset(rec, 'u', sizeof(rec));
	memcpy(rec, "{\"x\":\"", 6);
	memcpy(rec + sizeof(rec) - 2, "\"}", 2);
	for (int i = 0; i < 20000; i++)
		ok += syslog_sink_send(s, rec, sizeof(rec));
	assert_true(now_s() - t0 < 5.0);
	assert_int_equal(ok + syslog_sink_dropped(s), 20000);
	syslog_sink_free(s);
	close(rx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_udp_ipv4_three_records),
	    cmocka_unit_test(test_udp_ipv6),
	    cmocka_unit_test(test_unix_three_records),
	    cmocka_unit_test(test_trailing_newline_not_sent),
	    cmocka_unit_test(test_udp_oversize_dropped),
	    cmocka_unit_test(test_unix_large_record),
	    cmocka_unit_test(test_bad_targets),
	    cmocka_unit_test(test_unix_no_receiver),
	    cmocka_unit_test(test_unix_full_receiver),
	    cmocka_unit_test(test_udp_flood_never_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * syslog_sink: sends access-log records to a syslog receiver as RFC 5424 messages.
 *
 * Target (access_log.syslog):
 *     "udp:HOST:PORT"  RFC 5426 transport; HOST a name, IPv4 or IPv6 literal (bare or in brackets:
 *                      "udp:[::1]:514" or "udp:::1:514"). Resolved once at open; the first address wins.
 *     "unix:/PATH"     a local SOCK_DGRAM socket, as /dev/log. The path need not exist at open (the
 *                      receiver may start later); sends fail, and count as dropped, until it does.
 *
 * Each record becomes one datagram:
 *
 *     <134>1 2024-05-01T12:34:56.123456Z HOSTNAME ddbguard PID access - BOM{...json...}
 *
 * PRI 134 = facility local0 (16) * 8 + severity info (6); TIMESTAMP is UTC with microseconds;
 * HOSTNAME is gethostname() at open with every byte outside PRINTUSASCII (33..126) replaced by '_',
 * at most 255 bytes, "-" if empty; PROCID is the pid at open; STRUCTURED-DATA is "-"; MSG is the
 * UTF-8 BOM (EF BB BF) followed by the JSON record (RFC 5424 6.4). No trailing newline or NUL.
 *
 * Size limits. A record is never truncated (a cut JSON is worse than none): a message longer than the
 * transport limit is counted as dropped and not sent. Over UDP the limit is SYSLOG_SINK_UDP_MAX (65000,
 * near the IPv4 datagram maximum); RFC 5426 3.2 only guarantees 480 (IPv4) / 1180 (IPv6) bytes and
 * recommends receivers accept 2048, so records above ~2 KiB may be dropped by relays on the way. Large
 * records need "unix:" (limit SYSLOG_SINK_UNIX_MAX) or a future TCP transport with octet counting
 * (RFC 6587). XXX: no TCP/TLS (RFC 5425) transport yet.
 *
 * Sending never blocks the event loop (non-blocking socket, MSG_DONTWAIT): a full socket buffer
 * (EAGAIN) or any other error drops the record and counts it.
 */
#ifndef DDBGUARD_PROXY_SYSLOG_SINK_H
#define DDBGUARD_PROXY_SYSLOG_SINK_H

#include <stdbool.h>
#include <stddef.h>

#define SYSLOG_SINK_UDP_MAX  65000  /* whole datagram, header included; RFC 5426 safe size is 2048 */
#define SYSLOG_SINK_UNIX_MAX 131072 /* whole datagram; below Linux's default unix dgram sndbuf */

struct syslog_sink;

/*
 * Opens a sink for target ("udp:HOST:PORT" or "unix:/PATH"). On error returns NULL and writes a
 * one-line reason to err (err_len may be 0). The caller owns the sink; free with syslog_sink_free().
 */
struct syslog_sink *syslog_sink_open(const char *target, char *err, size_t err_len);

/* Closes the socket and frees s. Accepts NULL. */
void syslog_sink_free(struct syslog_sink *s);

/*
 * Sends one record (line[0..len), a JSON object; one trailing '\n', if present, is not sent).
 * The caller keeps line. Returns false, and counts a drop, if the message is too large for the
 * transport or the send fails for any reason (including EAGAIN). Never blocks; no allocation.
 */
bool syslog_sink_send(struct syslog_sink *s, const char *line, size_t len);

/* Records dropped since open. */
unsigned long long syslog_sink_dropped(const struct syslog_sink *s);

#endif

/*
 * logreview: offline review of ddbguard access logs (`ddbguard-log summary | denials | report`).
 *
 * Reads the JSON-lines access log written by proxy/audit/accesslog.c, skips digest lines
 * ({"ddbguardDigest": ...}) and unknown members, tolerates a truncated last line (it is reported),
 * and prints a summary (text or --json), the list of denied and rejected calls, or a self-contained
 * HTML report with inline SVG charts (no network, no scripts, no external fonts or CSS).
 */
#ifndef DDBGUARD_PROXY_LOGREVIEW_H
#define DDBGUARD_PROXY_LOGREVIEW_H

#include <stdint.h>
#include <stdio.h>

/*
 * argv[0] is the subcommand ("summary", "denials" or "report"), the rest its options and files,
 * i.e. the caller passes (argc - 1, argv + 1) of `ddbguard-log SUBCOMMAND ...`.
 * Returns the process exit status: 0 done (malformed lines are reported on stderr and counted),
 * 2 usage error, unreadable input or unwritable output.
 */
int logreview_main(int argc, char **argv);

/*
 * Parses TIME for --since / --until into milliseconds since the epoch: ISO 8601
 * ("2026-05-01", "2026-05-01T12:00", "2026-05-01T12:00:00.250Z", "...+02:00"; no zone means UTC)
 * or a span back from `newest_ms` ("90s", "30m", "1h", "7d", "2w"). Returns 0, or -1 if malformed.
 */
int logreview_parse_time(const char *s, int64_t newest_ms, int64_t *out_ms);

/* Writes `s` to `f` with & < > " ' escaped for HTML text and attribute values (NULL writes nothing). */
void logreview_html_escape(FILE *f, const char *s);

#endif

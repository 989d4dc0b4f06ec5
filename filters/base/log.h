/*
 * log: diagnostics for operators, on stderr (or syslog later).
 *
 * Not the access log (see accesslog.h): this says what the daemon is doing
 * and what went wrong with it. log_warn() appends strerror(errno);
 * log_warnx() does not. Messages never include request bodies.
 */
#ifndef DDBGUARD_FILTERS_BASE_LOG_H
#define DDBGUARD_FILTERS_BASE_LOG_H

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs and exits(1): only for startup failures, never on the request path. */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif

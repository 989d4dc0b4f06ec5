/*
 * diag: the list of errors found while loading a config file.
 *
 * Messages are formatted once, when recorded, as "file: path: text", so that
 * `ddbguard --check` and the startup log print the same lines. Recording never
 * fails silently: if memory runs out or the list reaches DIAG_MAX_ERRORS, the
 * last message says how many errors were not kept, so diag_count() stays
 * non-zero and a loader that tests it still fails closed.
 */
#include "filters/base/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken file can produce an error per line; nobody reads past the first few hundred. */
#define DIAG_MAX_ERRORS 1000

struct diag {
	char *file;
	char **msgs; /* msgs[0..n), each owned */
	size_t n, cap;
	size_t dropped; /* errors not kept (limit reached or out of memory) */
	char summary[128];
};

struct diag *
diag_new(const char *file)
{
	struct diag *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->file = strdup(file != NULL ? file : "-");
	if (d->file == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

void
diag_free(struct diag *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	free(d->file);
	free(d);
}

/*
 * Config text ends up on a terminal and in syslog: a control byte in a key or
 * value must not be able to forge a line or an escape sequence there.
 */
static void
diag_sanitize(char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			*s = '?';
	}
}

static bool
diag_grow(struct diag *d)
{
	size_t cap;
	char **msgs;

	if (d->n < d->cap)
		return true;
	cap = d->cap == 0 ? 16 : d->cap * 2;
	msgs = realloc(d->msgs, cap * sizeof(*msgs));
	if (msgs == NULL)
		return false;
	d->msgs = msgs;
	d->cap = cap;
	return true;
}

static char *
diag_format(const struct diag *d, const char *path, const char *fmt, va_list ap)
{
	char prefix[DIAG_PATH_MAX + 512];
	va_list ap2;
	int plen, tlen;
	char *msg;

	if (path != NULL && path[0] != '\0')
		plen = snprintf(prefix, sizeof(prefix), "%s: %s: ", d->file, path);
	else
		plen = snprintf(prefix, sizeof(prefix), "%s: ", d->file);
	if (plen < 0)
		return NULL;
	if ((size_t)plen >= sizeof(prefix))
		plen = (int)sizeof(prefix) - 1; /* very long file name: keep what fits */

	va_copy(ap2, ap);
	tlen = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (tlen < 0)
		return NULL;

	msg = malloc((size_t)plen + (size_t)tlen + 1);
	if (msg == NULL)
		return NULL;
	memcpy(msg, prefix, (size_t)plen);
	vsnprintf(msg + plen, (size_t)tlen + 1, fmt, ap);
	diag_sanitize(msg);
	return msg;
}

/* Counts an error that could not be kept; the summary line is what diag_message() shows for it. */
static void
diag_drop(struct diag *d)
{
	d->dropped++;
	snprintf(d->summary, sizeof(d->summary), "%.64s: %zu more error%s not shown", d->file, d->dropped,
	    d->dropped == 1 ? "" : "s");
}

void
diag_error(struct diag *d, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (d->n >= DIAG_MAX_ERRORS || !diag_grow(d)) {
		diag_drop(d);
		return;
	}
	va_start(ap, fmt);
	msg = diag_format(d, path, fmt, ap);
	va_end(ap);
	if (msg == NULL) {
		diag_drop(d);
		return;
	}
	d->msgs[d->n++] = msg;
}

size_t
diag_count(const struct diag *d)
{
	return d->n + (d->dropped > 0 ? 1 : 0);
}

const char *
diag_message(const struct diag *d, size_t i)
{
	if (i < d->n)
		return d->msgs[i];
	if (i == d->n && d->dropped > 0)
		return d->summary;
	return NULL;
}

/*
 * Paths keep DIAG_PATH_ROOM bytes of content; past that the text ends in
 * "..." and further pushes are no-ops. Truncation never rewrites bytes before
 * the current length, so popping back to an earlier length restores the exact
 * earlier text.
 */
#define DIAG_PATH_ELLIPSIS "..."
#define DIAG_PATH_ROOM (DIAG_PATH_MAX - sizeof(DIAG_PATH_ELLIPSIS))

void
diag_path_init(struct diag_path *p)
{
	p->text[0] = '$';
	p->text[1] = '\0';
	p->len = 1;
}

static void
diag_path_append(struct diag_path *p, const char *s, size_t n)
{
	size_t room;

	if (p->len > DIAG_PATH_ROOM)
		return; /* already truncated */
	room = DIAG_PATH_ROOM - p->len;
	if (n <= room) {
		memcpy(p->text + p->len, s, n);
		p->len += n;
	} else {
		memcpy(p->text + p->len, s, room);
		memcpy(p->text + DIAG_PATH_ROOM, DIAG_PATH_ELLIPSIS, sizeof(DIAG_PATH_ELLIPSIS) - 1);
		p->len = DIAG_PATH_MAX - 1;
	}
	p->text[p->len] = '\0';
}

/* JSONPath dot notation only for names that need no quoting. */
static bool
diag_path_is_identifier(const char *name)
{
	if (name[0] == '\0' || (name[0] >= '0' && name[0] <= '9'))
		return false;
	for (const char *c = name; *c != '\0'; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		        *c == '_'))
			return false;
	}
	return true;
}

size_t
diag_path_member(struct diag_path *p, const char *name)
{
	size_t previous = p->len;

	if (diag_path_is_identifier(name)) {
		diag_path_append(p, ".", 1);
		diag_path_append(p, name, strlen(name));
		return previous;
	}
	diag_path_append(p, "[\"", 2);
	for (const char *c = name; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			diag_path_append(p, "\\", 1);
		diag_path_append(p, c, 1);
	}
	diag_path_append(p, "\"]", 2);
	return previous;
}

size_t
diag_path_index(struct diag_path *p, size_t i)
{
	size_t previous = p->len;
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "[%zu]", i);

	diag_path_append(p, buf, (size_t)n);
	return previous;
}

void
diag_path_pop(struct diag_path *p, size_t previous_len)
{
	if (previous_len > p->len)
		return; /* not a length this path ever had since the push */
	p->len = previous_len;
	p->text[p->len] = '\0';
}

/*
 * diag: the list of errors found while loading a config file.
 *
 * Every loader (config/, and the compilers in filters/) reports problems here
 * instead of stopping at the first one, so `ddbguard --check` can print them
 * all. Each message names the file, the JSON path and what was expected:
 *
 *   ddbguard.json: $.policies.app.Statement[1].Effect: expected "Allow" or "Deny", got "allow"
 */
#ifndef DDBGUARD_FILTERS_BASE_DIAG_H
#define DDBGUARD_FILTERS_BASE_DIAG_H

#include <stdbool.h>
#include <stddef.h>

struct diag;

/* Returns NULL on allocation failure. `file` is copied. */
struct diag *diag_new(const char *file);
void diag_free(struct diag *d); /* accepts NULL */

/* Records one error at JSON path `path` ("$.a.b[2]"). */
void diag_error(struct diag *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

size_t diag_count(const struct diag *d);
/* The i-th full message ("file: path: text"); valid until diag_free(). */
const char *diag_message(const struct diag *d, size_t i);

/*
 * A JSON path under construction. Builders push a member or index, recurse,
 * and pop; the text is always NUL-terminated and truncated with "..." if it
 * would exceed its buffer.
 */
#define DIAG_PATH_MAX 256
struct diag_path {
	char text[DIAG_PATH_MAX];
	size_t len;
};

void diag_path_init(struct diag_path *p); /* "$" */
/* Push ".name" (or ["name"] when name is not identifier-like); returns the previous length for pop. */
size_t diag_path_member(struct diag_path *p, const char *name);
/* Push "[i]"; returns the previous length for pop. */
size_t diag_path_index(struct diag_path *p, size_t i);
void diag_path_pop(struct diag_path *p, size_t previous_len);

#endif

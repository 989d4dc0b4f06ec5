/*
 * identity: who is calling, as its own pipeline stage.
 *
 * Two halves: a strict parser for the SigV4 Authorization header (AWS
 * General Reference, "Signature Version 4 signing process", task 4: "Add the
 * signature to the HTTP request"), and the identity table compiled from the
 * config, looked up by access key id with a binary search over keys sorted at
 * load. Matching never allocates.
 *
 * The signature itself is not verified here: ddbguard does not hold the
 * secret keys, DynamoDB verifies it. What the parser guarantees is that the
 * access key id we match on is the one DynamoDB will authenticate, because
 * any header two readers could split differently is refused.
 */
#include "filters/policy/identity.h"
#include "filters/dynamodb/json.h"
#include "filters/policy/policy.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SIGV4_SCHEME "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"
/*
 * IAM issues access key ids of 16-128 characters, but SigV4 test suites,
 * local DynamoDB stand-ins and load tools sign with shorter ones (the AWS
 * suite's own "AKIDEXAMPLE" is 11). AWS refuses those itself; matching is
 * exact, so accepting them here grants nothing.
 */
#define SIGV4_AKID_MIN 4
#define SIGV4_AKID_MAX (sizeof(((struct sigv4_auth *)0)->access_key_id) - 1)
#define SIGV4_DATE_LEN 8
#define SIGV4_SCOPE_MAX (sizeof(((struct sigv4_auth *)0)->region) - 1)
#define SIGV4_SIGNED_HEADERS_MAX (sizeof(((struct sigv4_auth *)0)->signed_headers) - 1)
#define SIGV4_SIGNATURE_LEN (sizeof(((struct sigv4_auth *)0)->signature) - 1)

#define IDENTITY_NAME_MAX 64
#define IDENTITY_DEFAULT "default"
/* Longest piece of config text echoed back in an error message. */
#define IDENTITY_SHOW_MAX 80
/* IAM's limits for tags on a principal (IAM User Guide, "Tagging IAM resources": 50 tags, keys 1-128, values 0-256). */
#define IDENTITY_TAGS_MAX 50
#define IDENTITY_TAG_KEY_MAX 128
#define IDENTITY_TAG_VALUE_MAX 256

/* A slice of the header value; the value need not be NUL-terminated. */
struct sigv4_span {
	const char *p;
	size_t len;
};

static bool
sigv4_fail(const char **why, const char *msg)
{
	if (why != NULL)
		*why = msg;
	return false;
}

static bool
sigv4_is_upper_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
sigv4_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
sigv4_is_lower_alnum_dash(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool
sigv4_is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* True when s has min..max bytes, all accepted by `ok`. */
static bool
sigv4_span_is(struct sigv4_span s, size_t min, size_t max, bool (*ok)(char))
{
	if (s.len < min || s.len > max)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		if (!ok(s.p[i]))
			return false;
	}
	return true;
}

static bool
sigv4_span_eq(struct sigv4_span s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* Splits off the part of *rest before the next `sep` (or all of it). */
static struct sigv4_span
sigv4_span_split(struct sigv4_span *rest, char sep, bool *found)
{
	const char *at = memchr(rest->p, sep, rest->len);
	struct sigv4_span head = { rest->p, at != NULL ? (size_t)(at - rest->p) : rest->len };

	*found = at != NULL;
	rest->p += head.len + (at != NULL);
	rest->len -= head.len + (at != NULL);
	return head;
}

/* Caller has checked s.len < size. */
static void
sigv4_span_copy(char *dst, struct sigv4_span s)
{
	memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
}

/* Credential=<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request */
static bool
sigv4_parse_credential(struct sigv4_span v, struct sigv4_auth *out, const char **why)
{
	struct sigv4_span part[5];
	bool more = true;
	size_t n;

	for (n = 0; n < 5 && more; n++)
		part[n] = sigv4_span_split(&v, '/', &more);
	if (n != 5 || more)
		return sigv4_fail(why,
		    "Authorization: Credential is not AKID/date/region/service/aws4_request");
	if (!sigv4_span_is(part[0], SIGV4_AKID_MIN, SIGV4_AKID_MAX, sigv4_is_upper_alnum))
		return sigv4_fail(why, "Authorization: access key id is not 4-128 characters of [A-Z0-9]");
	if (!sigv4_span_is(part[1], SIGV4_DATE_LEN, SIGV4_DATE_LEN, sigv4_is_digit))
		return sigv4_fail(why, "Authorization: credential date is not YYYYMMDD");
	if (!sigv4_span_is(part[2], 1, SIGV4_SCOPE_MAX, sigv4_is_lower_alnum_dash))
		return sigv4_fail(why,
		    "Authorization: credential region is not 1-32 characters of [a-z0-9-]");
	if (!sigv4_span_is(part[3], 1, SIGV4_SCOPE_MAX, sigv4_is_lower_alnum_dash))
		return sigv4_fail(why,
		    "Authorization: credential service is not 1-32 characters of [a-z0-9-]");
	if (!sigv4_span_eq(part[4], SIGV4_TERMINATOR))
		return sigv4_fail(why, "Authorization: credential scope does not end in aws4_request");
	sigv4_span_copy(out->access_key_id, part[0]);
	sigv4_span_copy(out->date, part[1]);
	sigv4_span_copy(out->region, part[2]);
	sigv4_span_copy(out->service, part[3]);
	return true;
}

static int
sigv4_span_cmp(struct sigv4_span a, struct sigv4_span b)
{
	int c = memcmp(a.p, b.p, a.len < b.len ? a.len : b.len);

	if (c != 0)
		return c;
	return a.len < b.len ? -1 : a.len > b.len;
}

/*
 * SignedHeaders: "an alphabetically sorted, semicolon-separated list of
 * lowercase request header names". Host is always signed in SigV4; without
 * it the signature would not bind the request to its endpoint.
 */
static bool
sigv4_parse_signed_headers(struct sigv4_span v, struct sigv4_auth *out, const char **why)
{
	struct sigv4_span rest = v, prev = { NULL, 0 };
	bool more = true, host = false;

	if (v.len == 0 || v.len > SIGV4_SIGNED_HEADERS_MAX)
		return sigv4_fail(why, "Authorization: SignedHeaders is empty or too long");
	while (more) {
		struct sigv4_span h = sigv4_span_split(&rest, ';', &more);

		if (!sigv4_span_is(h, 1, SIGV4_SIGNED_HEADERS_MAX, sigv4_is_lower_alnum_dash))
			return sigv4_fail(why,
			    "Authorization: SignedHeaders is not ';'-separated [a-z0-9-] names");
		if (prev.p != NULL && sigv4_span_cmp(prev, h) >= 0)
			return sigv4_fail(why,
			    "Authorization: SignedHeaders is not sorted or repeats a name");
		host = host || sigv4_span_eq(h, "host");
		prev = h;
	}
	if (!host)
		return sigv4_fail(why, "Authorization: SignedHeaders does not include host");
	sigv4_span_copy(out->signed_headers, v);
	return true;
}

/* Signature: the HMAC-SHA256 as 64 lower-case hex digits. */
static bool
sigv4_parse_signature(struct sigv4_span v, struct sigv4_auth *out, const char **why)
{
	if (!sigv4_span_is(v, SIGV4_SIGNATURE_LEN, SIGV4_SIGNATURE_LEN, sigv4_is_lower_hex))
		return sigv4_fail(why, "Authorization: Signature is not 64 lower-case hex digits");
	sigv4_span_copy(out->signature, v);
	return true;
}

static const struct sigv4_param {
	const char *name;
	bool (*parse)(struct sigv4_span, struct sigv4_auth *, const char **);
} sigv4_params[] = {
	{ "Credential", sigv4_parse_credential },
	{ "SignedHeaders", sigv4_parse_signed_headers },
	{ "Signature", sigv4_parse_signature },
};

#define SIGV4_NPARAMS (sizeof(sigv4_params) / sizeof(sigv4_params[0]))

static bool
sigv4_parse_param(struct sigv4_span item, struct sigv4_auth *out, unsigned *seen, const char **why)
{
	bool has_eq;
	struct sigv4_span name = sigv4_span_split(&item, '=', &has_eq);

	if (!has_eq)
		return sigv4_fail(why, "Authorization: expected name=value parameters");
	for (size_t i = 0; i < SIGV4_NPARAMS; i++) {
		if (!sigv4_span_eq(name, sigv4_params[i].name))
			continue;
		if (*seen & (1u << i))
			return sigv4_fail(why, "Authorization: a parameter appears twice");
		*seen |= 1u << i;
		return sigv4_params[i].parse(item, out, why);
	}
	return sigv4_fail(why, "Authorization: unknown parameter");
}

/*
 * "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." with
 * the scheme spelled exactly, one space after it, parameters separated by a
 * comma and optional whitespace (SDKs send ", "), each exactly once. RFC 9110
 * would let the scheme differ in case; no signer sends that, so we refuse it
 * rather than guess how the service reads it.
 */
bool
sigv4_parse_authorization(const char *value, size_t len, struct sigv4_auth *out, const char **why)
{
	const size_t slen = strlen(SIGV4_SCHEME);
	struct sigv4_span rest;
	unsigned seen = 0;
	bool more = true;

	memset(out, 0, sizeof(*out));
	if (value == NULL || len <= slen || memcmp(value, SIGV4_SCHEME, slen) != 0 || value[slen] != ' ')
		return sigv4_fail(why, "Authorization: scheme is not \"" SIGV4_SCHEME " \"");
	rest.p = value + slen + 1;
	rest.len = len - slen - 1;
	while (more) {
		struct sigv4_span item = sigv4_span_split(&rest, ',', &more);

		if (!sigv4_parse_param(item, out, &seen, why)) {
			memset(out, 0, sizeof(*out));
			return false;
		}
		while (more && rest.len > 0 && (rest.p[0] == ' ' || rest.p[0] == '\t')) {
			rest.p++;
			rest.len--;
		}
	}
	if (seen != (1u << SIGV4_NPARAMS) - 1) {
		memset(out, 0, sizeof(*out));
		return sigv4_fail(why, "Authorization: Credential, SignedHeaders or Signature is missing");
	}
	return true;
}

/* A tag from the identity's "tags", for ddbguard:IdentityTag/<key>. */
struct identity_tag {
	char *key; /* owned */
	char *value; /* owned */
};

struct identity {
	char *name;
	char **keys; /* owned */
	size_t nkeys;
	struct identity_tag *tags; /* owned */
	size_t ntags;
	const struct policy **policies; /* into the policy set */
	size_t npolicies;
	bool shadow; /* "mode": "shadow": denials are logged (guard.shadow), not enforced */
};

/* One access key, for lookup; `ident` and `pos` place it in the config for error messages. */
struct identity_key {
	const char *key; /* owned by the identity */
	const struct identity *id;
	size_t ident, pos;
};

struct identity_set {
	struct identity *ids;
	size_t n;
	struct identity_key *keys; /* sorted by key (strcmp) */
	size_t nkeys;
	const struct identity *fallback; /* the identity named "default", or NULL */
};

struct identity_compiler {
	struct diag *d;
	struct diag_path *path;
	const struct policy_set *policies;
	size_t errors; /* counted here: diag_count() stops growing at its limit */
};

static void identity_error(struct identity_compiler *ic, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
identity_error(struct identity_compiler *ic, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ic->errors++;
	diag_error(ic->d, ic->path->text, "%s", msg);
}

static bool
identity_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	    c == '.' || c == '@' || c == '-';
}

/* Names show up in access logs and metrics labels: keep them plain. */
static bool
identity_name_valid(const char *name)
{
	struct sigv4_span s = { name, strlen(name) };

	return sigv4_span_is(s, 1, IDENTITY_NAME_MAX, identity_name_char);
}

static void
identity_check_keys(struct identity_compiler *ic, const cJSON *obj)
{
	static const char *const known[] = { "name", "access_key_ids", "policies", "tags", "mode" };
	unsigned seen = 0;
	const cJSON *m;

	cJSON_ArrayForEach(m, obj) {
		const char *key = m->string != NULL ? m->string : "";
		size_t k, mark;

		for (k = 0; k < 5 && strcmp(known[k], key) != 0; k++)
			;
		mark = diag_path_member(ic->path, key);
		if (k == 5)
			identity_error(ic, "unknown key \"%.*s\" (expected name, access_key_ids, policies, tags, mode)",
			    IDENTITY_SHOW_MAX, key);
		else if (seen & (1u << k))
			identity_error(ic, "duplicate key \"%s\"", key);
		else
			seen |= 1u << k;
		diag_path_pop(ic->path, mark);
	}
}

static void
identity_compile_name(struct identity_compiler *ic, const cJSON *js, struct identity *id,
    const struct identity *prev, size_t nprev)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "name");
	size_t mark;

	if (v == NULL) {
		identity_error(ic, "missing \"name\"");
		return;
	}
	mark = diag_path_member(ic->path, "name");
	if (!cJSON_IsString(v)) {
		identity_error(ic, "expected a string, got %s", json_type_name(v));
	} else if (!identity_name_valid(v->valuestring)) {
		identity_error(ic, "expected 1-%d characters of [A-Za-z0-9_.@-], got \"%.*s\"",
		    IDENTITY_NAME_MAX, IDENTITY_SHOW_MAX, v->valuestring);
	} else if ((id->name = strdup(v->valuestring)) == NULL) {
		identity_error(ic, "out of memory");
	} else {
		for (size_t i = 0; i < nprev; i++) {
			if (prev[i].name != NULL && strcmp(prev[i].name, id->name) == 0) {
				identity_error(ic, "identity \"%s\" is already defined (identities[%zu])",
				    id->name, i);
				break;
			}
		}
	}
	diag_path_pop(ic->path, mark);
}

/* Returns the array's size after reporting anything but a non-empty array. */
static size_t
identity_nonempty_array(struct identity_compiler *ic, const cJSON *v)
{
	if (!cJSON_IsArray(v)) {
		identity_error(ic, "expected an array of strings, got %s", json_type_name(v));
		return 0;
	}
	if (cJSON_GetArraySize(v) == 0)
		identity_error(ic, "expected at least one entry, got an empty array");
	return (size_t)cJSON_GetArraySize(v);
}

static void
identity_compile_key(struct identity_compiler *ic, const cJSON *e, struct identity *id)
{
	struct sigv4_span s;

	if (!cJSON_IsString(e)) {
		identity_error(ic, "expected a string, got %s", json_type_name(e));
		return;
	}
	/* The same rule as the parser: a key it would refuse could never match. */
	s = (struct sigv4_span){ e->valuestring, strlen(e->valuestring) };
	if (!sigv4_span_is(s, SIGV4_AKID_MIN, SIGV4_AKID_MAX, sigv4_is_upper_alnum)) {
		identity_error(ic, "expected an access key id (4-128 characters of [A-Z0-9]), got \"%.*s\"",
		    IDENTITY_SHOW_MAX, e->valuestring);
		return;
	}
	if ((id->keys[id->nkeys] = strdup(e->valuestring)) == NULL) {
		identity_error(ic, "out of memory");
		return;
	}
	id->nkeys++;
}

static void
identity_compile_keys(struct identity_compiler *ic, const cJSON *js, struct identity *id)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "access_key_ids");
	bool is_default = id->name != NULL && strcmp(id->name, IDENTITY_DEFAULT) == 0;
	size_t n, mark, i = 0;
	const cJSON *e;

	if (v == NULL) {
		if (!is_default)
			identity_error(ic,
			    "missing \"access_key_ids\" (only the identity named \"" IDENTITY_DEFAULT
			    "\" may have none)");
		return;
	}
	mark = diag_path_member(ic->path, "access_key_ids");
	n = identity_nonempty_array(ic, v);
	if (n > 0 && (id->keys = calloc(n, sizeof(*id->keys))) == NULL)
		identity_error(ic, "out of memory");
	else if (n > 0) {
		cJSON_ArrayForEach(e, v) {
			size_t imark = diag_path_index(ic->path, i++);

			identity_compile_key(ic, e, id);
			diag_path_pop(ic->path, imark);
		}
	}
	diag_path_pop(ic->path, mark);
}

static void
identity_compile_policy(struct identity_compiler *ic, const cJSON *e, struct identity *id)
{
	const struct policy *p;

	if (!cJSON_IsString(e)) {
		identity_error(ic, "expected a policy name, got %s", json_type_name(e));
		return;
	}
	if (ic->policies == NULL)
		return; /* the policies did not compile: their errors are reported already */
	p = policy_set_find(ic->policies, e->valuestring);
	if (p == NULL) {
		identity_error(ic, "no policy named \"%.*s\" in \"policies\"", IDENTITY_SHOW_MAX,
		    e->valuestring);
		return;
	}
	for (size_t i = 0; i < id->npolicies; i++) {
		if (id->policies[i] == p) {
			identity_error(ic, "policy \"%s\" is listed twice", e->valuestring);
			return;
		}
	}
	id->policies[id->npolicies++] = p;
}

static void
identity_compile_policies(struct identity_compiler *ic, const cJSON *js, struct identity *id)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "policies");
	size_t n, mark, i = 0;
	const cJSON *e;

	if (v == NULL) {
		identity_error(ic, "missing \"policies\"");
		return;
	}
	mark = diag_path_member(ic->path, "policies");
	n = identity_nonempty_array(ic, v);
	if (n > 0 && (id->policies = calloc(n, sizeof(*id->policies))) == NULL)
		identity_error(ic, "out of memory");
	else if (n > 0) {
		cJSON_ArrayForEach(e, v) {
			size_t imark = diag_path_index(ic->path, i++);

			identity_compile_policy(ic, e, id);
			diag_path_pop(ic->path, imark);
		}
	}
	diag_path_pop(ic->path, mark);
}

/* IAM tag key characters: letters, digits, spaces are not allowed here, and _ . : / = + - @. */
static bool
identity_tag_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    strchr("_.:/=+@-", c) != NULL;
}

/* Characters, not bytes: the config parser has checked the UTF-8. */
static size_t
identity_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	}
	return n;
}

static void
identity_compile_tag(struct identity_compiler *ic, const cJSON *m, struct identity *id)
{
	const char *key = m->string != NULL ? m->string : "";
	struct sigv4_span s = { key, strlen(key) };

	if (!sigv4_span_is(s, 1, IDENTITY_TAG_KEY_MAX, identity_tag_key_char)) {
		identity_error(ic, "expected a tag key of 1-128 characters of [A-Za-z0-9_.:/=+@-], got \"%.*s\"",
		    IDENTITY_SHOW_MAX, key);
		return;
	}
	for (size_t i = 0; i < id->ntags; i++) {
		/* Condition keys name tags without case (IAM): two that differ in case only are one. */
		if (strcasecmp(id->tags[i].key, key) == 0) {
			identity_error(ic, "tag \"%s\" is listed twice (tag keys are compared without case)", key);
			return;
		}
	}
	if (!cJSON_IsString(m)) {
		identity_error(ic, "expected a string, got %s", json_type_name(m));
		return;
	}
	if (identity_utf8_len(m->valuestring) > IDENTITY_TAG_VALUE_MAX) {
		identity_error(ic, "expected a tag value of at most 256 characters");
		return;
	}
	id->tags[id->ntags].key = strdup(key);
	id->tags[id->ntags].value = strdup(m->valuestring);
	if (id->tags[id->ntags].key == NULL || id->tags[id->ntags].value == NULL) {
		free(id->tags[id->ntags].key);
		free(id->tags[id->ntags].value);
		identity_error(ic, "out of memory");
		return;
	}
	id->ntags++;
}

/* "tags": {"team": "orders", ...}: optional. */
static void
identity_compile_tags(struct identity_compiler *ic, const cJSON *js, struct identity *id)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "tags");
	size_t n, mark;
	const cJSON *m;

	if (v == NULL)
		return;
	mark = diag_path_member(ic->path, "tags");
	n = (size_t)cJSON_GetArraySize(v);
	if (!cJSON_IsObject(v)) {
		identity_error(ic, "expected an object of tag keys to string values, got %s", json_type_name(v));
	} else if (n > IDENTITY_TAGS_MAX) {
		identity_error(ic, "expected at most %d tags, got %zu", IDENTITY_TAGS_MAX, n);
	} else if (n > 0 && (id->tags = calloc(n, sizeof(*id->tags))) == NULL) {
		identity_error(ic, "out of memory");
	} else {
		cJSON_ArrayForEach(m, v) {
			size_t kmark = diag_path_member(ic->path, m->string != NULL ? m->string : "");

			identity_compile_tag(ic, m, id);
			diag_path_pop(ic->path, kmark);
		}
	}
	diag_path_pop(ic->path, mark);
}

/* "mode": "enforce" (default) or "shadow". */
static void
identity_compile_mode(struct identity_compiler *ic, const cJSON *js, struct identity *id)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "mode");
	size_t mark;

	if (v == NULL)
		return;
	mark = diag_path_member(ic->path, "mode");
	if (cJSON_IsString(v) && strcmp(v->valuestring, "shadow") == 0)
		id->shadow = true;
	else if (!cJSON_IsString(v) || strcmp(v->valuestring, "enforce") != 0)
		identity_error(ic, "expected \"enforce\" or \"shadow\"");
	diag_path_pop(ic->path, mark);
}

static void
identity_compile_one(struct identity_compiler *ic, const cJSON *js, struct identity_set *s)
{
	struct identity *id = &s->ids[s->n];

	if (!cJSON_IsObject(js)) {
		identity_error(ic, "expected an identity object, got %s", json_type_name(js));
		return;
	}
	identity_check_keys(ic, js);
	identity_compile_name(ic, js, id, s->ids, s->n);
	identity_compile_keys(ic, js, id);
	identity_compile_policies(ic, js, id);
	identity_compile_tags(ic, js, id);
	identity_compile_mode(ic, js, id);
	if (id->name != NULL && strcmp(id->name, IDENTITY_DEFAULT) == 0)
		s->fallback = id;
}

static int
identity_key_cmp(const void *a, const void *b)
{
	const struct identity_key *ka = a, *kb = b;
	int c = strcmp(ka->key, kb->key);

	if (c != 0)
		return c;
	if (ka->ident != kb->ident)
		return ka->ident < kb->ident ? -1 : 1;
	return ka->pos < kb->pos ? -1 : ka->pos > kb->pos;
}

/* Reports an access key listed twice, at its later place in the config. */
static void
identity_key_duplicate(struct identity_compiler *ic, const struct identity_set *s,
    const struct identity_key *first, const struct identity_key *again)
{
	size_t m1 = diag_path_index(ic->path, again->ident);
	size_t m2 = diag_path_member(ic->path, "access_key_ids");
	size_t m3 = diag_path_index(ic->path, again->pos);

	if (first->ident == again->ident)
		identity_error(ic, "access key id \"%s\" is listed twice", again->key);
	else
		identity_error(ic,
		    "access key id \"%s\" already belongs to identity \"%s\" (identities[%zu])", again->key,
		    s->ids[first->ident].name, first->ident);
	diag_path_pop(ic->path, m3);
	diag_path_pop(ic->path, m2);
	diag_path_pop(ic->path, m1);
}

/* Builds the sorted key index and reports keys that appear more than once. */
static void
identity_index_keys(struct identity_compiler *ic, struct identity_set *s)
{
	size_t total = 0;

	for (size_t i = 0; i < s->n; i++)
		total += s->ids[i].nkeys;
	s->keys = calloc(total + 1, sizeof(*s->keys));
	if (s->keys == NULL) {
		identity_error(ic, "out of memory");
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		for (size_t j = 0; j < s->ids[i].nkeys; j++)
			s->keys[s->nkeys++] = (struct identity_key){ s->ids[i].keys[j], &s->ids[i], i, j };
	}
	qsort(s->keys, s->nkeys, sizeof(*s->keys), identity_key_cmp);
	for (size_t k = 1; k < s->nkeys; k++) {
		size_t first = k - 1;

		if (strcmp(s->keys[k].key, s->keys[k - 1].key) != 0)
			continue;
		while (first > 0 && strcmp(s->keys[first - 1].key, s->keys[k].key) == 0)
			first--;
		identity_key_duplicate(ic, s, &s->keys[first], &s->keys[k]);
	}
}

/*
 * `identities` NULL (absent) gives an empty set: every call is then denied.
 * `policies` NULL means the policies failed to compile; this section is
 * still checked so all errors are reported, and NULL is returned.
 */
struct identity_set *
identity_set_compile(const cJSON *identities, const struct policy_set *policies, struct diag *d,
    struct diag_path *path)
{
	struct identity_compiler ic = { .d = d, .path = path, .policies = policies };
	struct identity_set *s;
	const cJSON *js;

	if (identities != NULL && !cJSON_IsArray(identities)) {
		identity_error(&ic, "expected an array of identities, got %s",
		    json_type_name(identities));
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL ||
	    (s->ids = calloc((size_t)cJSON_GetArraySize(identities) + 1, sizeof(*s->ids))) == NULL) {
		free(s);
		identity_error(&ic, "out of memory");
		return NULL;
	}
	cJSON_ArrayForEach(js, identities) {
		size_t mark = diag_path_index(path, s->n);

		identity_compile_one(&ic, js, s);
		s->n++;
		diag_path_pop(path, mark);
	}
	identity_index_keys(&ic, s);
	if (ic.errors > 0 || policies == NULL) {
		identity_set_free(s);
		return NULL;
	}
	return s;
}

void
identity_set_free(struct identity_set *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct identity *id = &s->ids[i];

		for (size_t j = 0; j < id->nkeys; j++)
			free(id->keys[j]);
		free(id->keys);
		for (size_t j = 0; j < id->ntags; j++) {
			free(id->tags[j].key);
			free(id->tags[j].value);
		}
		free(id->tags);
		free(id->policies);
		free(id->name);
	}
	free(s->keys);
	free(s->ids);
	free(s);
}

static int
identity_find_cmp(const void *key, const void *elem)
{
	const struct identity_key *k = elem;

	return strcmp(key, k->key);
}

/* Access key ids are matched exactly: AWS treats them case-sensitively. */
const struct identity *
identity_set_match(const struct identity_set *s, const struct identity_facts *f, enum identity_match *how)
{
	enum identity_match unused;
	const struct identity_key *k = NULL;

	if (how == NULL)
		how = &unused;
	if (s != NULL && f != NULL && f->access_key_id != NULL)
		k = bsearch(f->access_key_id, s->keys, s->nkeys, sizeof(*s->keys), identity_find_cmp);
	if (k != NULL) {
		*how = IDENTITY_BY_ACCESS_KEY;
		return k->id;
	}
	if (s != NULL && s->fallback != NULL) {
		*how = IDENTITY_BY_DEFAULT;
		return s->fallback;
	}
	*how = IDENTITY_UNKNOWN;
	return NULL;
}

const char *
identity_name(const struct identity *id)
{
	return id->name;
}

const char *
identity_tag(const struct identity *id, const char *key)
{
	if (id == NULL || key == NULL)
		return NULL;
	for (size_t i = 0; i < id->ntags; i++) {
		if (strcasecmp(id->tags[i].key, key) == 0)
			return id->tags[i].value;
	}
	return NULL;
}

const struct policy *const *
identity_policies(const struct identity *id, size_t *n)
{
	*n = id->npolicies;
	return id->policies;
}

const char *
identity_match_name(enum identity_match m)
{
	switch (m) {
	case IDENTITY_BY_ACCESS_KEY:
		return "access-key";
	case IDENTITY_BY_DEFAULT:
		return "default";
	case IDENTITY_UNKNOWN:
		return "none";
	}
	return "unknown";
}

bool
identity_shadow(const struct identity *id)
{
	return id != NULL && id->shadow;
}

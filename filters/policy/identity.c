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
#include "filters/policy/sigv4.h"
#include "filters/dynamodb/json.h"
#include "filters/policy/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>


#define IDENTITY_NAME_MAX 64
#define IDENTITY_DEFAULT "default"
/* Longest piece of config text echoed back in an error message. */
#define IDENTITY_SHOW_MAX 80
/* IAM's limits for tags on a principal (IAM User Guide, "Tagging IAM resources": 50 tags, keys 1-128, values 0-256). */
#define IDENTITY_TAGS_MAX 50
#define IDENTITY_TAG_KEY_MAX 128
#define IDENTITY_TAG_VALUE_MAX 256

#define SIGV4_AKID_MIN 4
#define SIGV4_AKID_MAX (sizeof(((struct sigv4_auth *)0)->access_key_id) - 1)

/* A slice of a config string. */
struct sigv4_span {
	const char *p;
	size_t len;
};

static bool
sigv4_is_upper_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
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

/* A tag from the identity's "tags", for ddbguard:IdentityTag/<key>. */
struct identity_tag {
	char *key; /* owned */
	char *value; /* owned */
};

/* A list of owned strings from the config. */
struct identity_strs {
	char **v;
	size_t n;
};

struct identity_cidr {
	struct identity_addr net;
	unsigned prefix;
};

/* A key pair the gateway issued: the secret never leaves this struct (wiped on free). */
struct identity_issued {
	char *akid;   /* also in keys[] */
	char *secret; /* owned, wiped */
};

struct identity {
	char *name;
	char **keys; /* owned: access_key_ids then the issued keys' ids */
	size_t nkeys;
	struct identity_tag *tags; /* owned */
	size_t ntags;
	const struct policy **policies; /* into the policy set */
	size_t npolicies;
	unsigned criteria;		/* IDENTITY_CRIT_* */
	struct identity_strs subjects, dns, uris; /* client_certificate */
	struct identity_cidr *cidrs;
	size_t ncidrs;
	struct identity_strs listeners;
	struct identity_issued *issued;
	size_t nissued;
	bool brokered;
	char *role_arn; /* broker.role_arn, or NULL */
	bool accepts_foreign;
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
	const struct identity **keyless; /* identities that list no access key, config order */
	size_t nkeyless;
};

struct identity_compiler {
	struct diag *d;
	struct diag_path *path;
	const struct policy_set *policies;
	const struct identity_env *env; /* NULL: listeners and files are not checked */
	size_t errors; /* counted here: diag_count() stops growing at its limit */
};

/* "accept_risk" must say this, word for word: the config accepts the risk in so many words. */
#define IDENTITY_RISK_TEXT "unverified keys may act on same-named tables in other AWS accounts"
#define IDENTITY_SECRET_MIN 16
#define IDENTITY_SECRET_MAX 128
#define IDENTITY_LIST_MAX 256

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
	static const char *const known[] = { "name", "access_key_ids", "policies", "tags", "mode", "issued_keys",
		"client_certificate", "source_cidrs", "listeners", "broker", "accept_risk" };
	const size_t nknown = sizeof(known) / sizeof(known[0]);
	unsigned seen = 0;
	const cJSON *m;

	cJSON_ArrayForEach(m, obj) {
		const char *key = m->string != NULL ? m->string : "";
		size_t k, mark;

		for (k = 0; k < nknown && strcmp(known[k], key) != 0; k++)
			;
		mark = diag_path_member(ic->path, key);
		if (k == nknown)
			identity_error(ic,
			    "unknown key \"%.*s\" (expected name, access_key_ids, policies, tags, mode, issued_keys, "
			    "client_certificate, source_cidrs, listeners, broker, accept_risk)",
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

	(void)is_default; /* "default" may list keys too; it is then also matched by them */
	if (v == NULL)
		return;
	id->criteria |= IDENTITY_CRIT_KEY;
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


/* ---- client certificates, networks, listeners, issued keys, broker ---- */

/* A non-empty array of at most IDENTITY_LIST_MAX strings accepted by `check` (NULL: any non-empty). */
static void
identity_compile_strs(struct identity_compiler *ic, const cJSON *obj, const char *key, struct identity_strs *out,
    const char *(*check)(const char *))
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key), *e;
	size_t n, mark, i = 0;
	const char *why;

	if (v == NULL)
		return;
	mark = diag_path_member(ic->path, key);
	n = identity_nonempty_array(ic, v);
	if (n > IDENTITY_LIST_MAX) {
		identity_error(ic, "expected at most %d entries", IDENTITY_LIST_MAX);
		n = 0;
	}
	if (n > 0 && (out->v = calloc(n, sizeof(*out->v))) == NULL)
		identity_error(ic, "out of memory");
	else if (n > 0) {
		cJSON_ArrayForEach(e, v) {
			size_t imark = diag_path_index(ic->path, i++);

			if (!cJSON_IsString(e) || e->valuestring[0] == '\0')
				identity_error(ic, "expected a non-empty string, got %s", json_type_name(e));
			else if (check != NULL && (why = check(e->valuestring)) != NULL)
				identity_error(ic, "expected %s, got \"%.*s\"", why, IDENTITY_SHOW_MAX, e->valuestring);
			else if ((out->v[out->n] = strdup(e->valuestring)) == NULL)
				identity_error(ic, "out of memory");
			else
				out->n++;
			diag_path_pop(ic->path, imark);
		}
	}
	diag_path_pop(ic->path, mark);
}

static void
identity_strs_free(struct identity_strs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static bool
identity_strs_has(const struct identity_strs *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], s) == 0)
			return true;
	}
	return false;
}

static const char *
identity_check_dns(const char *s)
{
	for (const char *p = s; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return "a lower-case DNS name";
	}
	return NULL;
}

static const char *
identity_check_uri(const char *s)
{
	const char *colon = strchr(s, ':');

	if (colon == NULL || colon == s || strlen(s) > 2048)
		return "an absolute URI such as spiffe://example.org/ns/prod/sa/orders";
	for (const char *p = s; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f)
			return "a URI without spaces or control characters";
	}
	return NULL;
}

static bool
identity_is_spiffe(const char *uri)
{
	return strncmp(uri, "spiffe://", 9) == 0;
}

/* "client_certificate": {"subjects": [...], "dns_names": [...], "uris": [...]}, at least one entry. */
static void
identity_compile_cert(struct identity_compiler *ic, const cJSON *js, struct identity *id)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "client_certificate"), *m;
	size_t mark;

	if (v == NULL)
		return;
	mark = diag_path_member(ic->path, "client_certificate");
	if (!cJSON_IsObject(v)) {
		identity_error(ic, "expected an object with subjects, dns_names and/or uris, got %s",
		    json_type_name(v));
		diag_path_pop(ic->path, mark);
		return;
	}
	cJSON_ArrayForEach(m, v) {
		const char *k = m->string != NULL ? m->string : "";

		if (strcmp(k, "subjects") != 0 && strcmp(k, "dns_names") != 0 && strcmp(k, "uris") != 0) {
			size_t km = diag_path_member(ic->path, k);

			identity_error(ic, "unknown key \"%.*s\" (expected subjects, dns_names, uris)",
			    IDENTITY_SHOW_MAX, k);
			diag_path_pop(ic->path, km);
		}
	}
	identity_compile_strs(ic, v, "subjects", &id->subjects, NULL);
	identity_compile_strs(ic, v, "dns_names", &id->dns, identity_check_dns);
	identity_compile_strs(ic, v, "uris", &id->uris, identity_check_uri);
	if (id->subjects.n + id->dns.n + id->uris.n == 0)
		identity_error(ic, "expected at least one of subjects, dns_names, uris");
	else
		id->criteria |= IDENTITY_CRIT_CERT;
	diag_path_pop(ic->path, mark);
}

bool
identity_addr_parse(const char *text, struct identity_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return false;
	if (inet_pton(AF_INET, text, out->a) == 1) {
		out->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, out->a) == 1) {
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		out->family = AF_INET6;
		if (memcmp(out->a, mapped, 12) == 0) { /* a dual-stack socket's IPv4 client */
			memmove(out->a, out->a + 12, 4);
			memset(out->a + 4, 0, 12);
			out->family = AF_INET;
		}
		return true;
	}
	return false;
}

/* Whether the first `bits` bits of a and b are equal. */
static bool
identity_prefix_eq(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ b[full]) & (0xff << (8 - rest))) == 0;
}

static bool
identity_cidr_parse(const char *s, struct identity_cidr *c)
{
	char buf[64], *slash, *end;
	unsigned long bits;
	unsigned max;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (strchr(buf, ':') == NULL) {
		if (inet_pton(AF_INET, buf, c->net.a) != 1)
			return false;
		c->net.family = AF_INET;
		max = 32;
	} else {
		if (inet_pton(AF_INET6, buf, c->net.a) != 1)
			return false;
		c->net.family = AF_INET6;
		max = 128;
	}
	if (slash == NULL) {
		c->prefix = max;
		return true;
	}
	errno = 0;
	bits = strtoul(slash + 1, &end, 10);
	if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || bits > max)
		return false;
	c->prefix = (unsigned)bits;
	/* Host bits set (10.0.0.1/8) usually mean a typo: refuse rather than guess the intent. */
	{
		unsigned char zero[16] = { 0 }, masked[16];

		memcpy(masked, c->net.a, 16);
		for (unsigned i = c->prefix; i < max; i++)
			masked[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
		(void)zero;
		if (memcmp(masked, c->net.a, 16) != 0)
			return false;
	}
	return true;
}

/* "source_cidrs": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"] */
static void
identity_compile_cidrs(struct identity_compiler *ic, const cJSON *js, struct identity *id)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "source_cidrs"), *e;
	size_t n, mark, i = 0;

	if (v == NULL)
		return;
	mark = diag_path_member(ic->path, "source_cidrs");
	n = identity_nonempty_array(ic, v);
	if (n > IDENTITY_LIST_MAX) {
		identity_error(ic, "expected at most %d entries", IDENTITY_LIST_MAX);
		n = 0;
	}
	if (n > 0 && (id->cidrs = calloc(n, sizeof(*id->cidrs))) == NULL)
		identity_error(ic, "out of memory");
	else if (n > 0) {
		cJSON_ArrayForEach(e, v) {
			size_t imark = diag_path_index(ic->path, i++);

			if (!cJSON_IsString(e) || !identity_cidr_parse(e->valuestring, &id->cidrs[id->ncidrs]))
				identity_error(ic,
				    "expected an address range such as \"10.1.0.0/16\" or \"2001:db8::/32\" (no host "
				    "bits set), got %s%.*s%s",
				    cJSON_IsString(e) ? "\"" : "", IDENTITY_SHOW_MAX,
				    cJSON_IsString(e) ? e->valuestring : json_type_name(e), cJSON_IsString(e) ? "\"" : "");
			else
				id->ncidrs++;
			diag_path_pop(ic->path, imark);
		}
		if (id->ncidrs > 0)
			id->criteria |= IDENTITY_CRIT_SOURCE;
	}
	diag_path_pop(ic->path, mark);
}

static void
identity_compile_listeners(struct identity_compiler *ic, const cJSON *js, struct identity *id)
{
	identity_compile_strs(ic, js, "listeners", &id->listeners, NULL);
	if (id->listeners.n > 0)
		id->criteria |= IDENTITY_CRIT_LISTENER;
}

/* Reads a secret key file: one line of 16-128 printable characters (a trailing newline is allowed). */
static char *
identity_read_secret(struct identity_compiler *ic, const char *path)
{
	char buf[IDENTITY_SECRET_MAX + 3], *out = NULL;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) != 0) {
		identity_error(ic, "cannot open %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		identity_error(ic, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n < IDENTITY_SECRET_MIN || n > IDENTITY_SECRET_MAX) {
		identity_error(ic, "%s: expected one line of %d-%d characters (the secret access key)", path,
		    IDENTITY_SECRET_MIN, IDENTITY_SECRET_MAX);
	} else {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] <= ' ' || buf[i] >= 0x7f) {
				identity_error(ic, "%s: the secret has a space or a non-printable character", path);
				OPENSSL_cleanse(buf, sizeof(buf));
				return NULL;
			}
		}
		if ((st.st_mode & 0007) != 0)
			identity_error(ic, "%s: readable or writable by others; chmod o-rwx it (it holds a secret key)",
			    path);
		else if ((out = strdup(buf)) == NULL)
			identity_error(ic, "out of memory");
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return out;
}

static void
identity_compile_issued_one(struct identity_compiler *ic, const cJSON *e, struct identity *id)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "access_key_id");
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, "secret_file"), *m;
	struct identity_issued *is = &id->issued[id->nissued];
	char *path = NULL;
	size_t mark;

	if (!cJSON_IsObject(e)) {
		identity_error(ic, "expected {\"access_key_id\": ..., \"secret_file\": ...}, got %s", json_type_name(e));
		return;
	}
	cJSON_ArrayForEach(m, e) {
		if (strcmp(m->string, "access_key_id") != 0 && strcmp(m->string, "secret_file") != 0) {
			mark = diag_path_member(ic->path, m->string);
			identity_error(ic, "unknown key \"%.*s\" (expected access_key_id, secret_file)",
			    IDENTITY_SHOW_MAX, m->string);
			diag_path_pop(ic->path, mark);
		}
	}
	mark = diag_path_member(ic->path, "access_key_id");
	if (k == NULL) {
		diag_path_pop(ic->path, mark);
		identity_error(ic, "missing \"access_key_id\"");
		return;
	}
	{
		size_t before = id->nkeys;

		identity_compile_key(ic, k, id);
		diag_path_pop(ic->path, mark);
		if (id->nkeys == before)
			return;
		is->akid = id->keys[id->nkeys - 1];
	}
	mark = diag_path_member(ic->path, "secret_file");
	if (!cJSON_IsString(f) || f->valuestring[0] == '\0') {
		diag_path_pop(ic->path, mark);
		identity_error(ic, "missing \"secret_file\" (a file holding the secret access key)");
		return;
	}
	if (ic->env == NULL) {
		/* Compiled without the rest of the config (unit tests of matching): no file is read. */
		is->secret = strdup("not-read-without-env");
	} else {
		if (f->valuestring[0] != '/' && ic->env->base_dir != NULL) {
			if (asprintf(&path, "%s/%s", ic->env->base_dir, f->valuestring) < 0)
				path = NULL;
		} else {
			path = strdup(f->valuestring);
		}
		if (path == NULL)
			identity_error(ic, "out of memory");
		else
			is->secret = identity_read_secret(ic, path);
		free(path);
	}
	diag_path_pop(ic->path, mark);
	if (is->secret != NULL)
		id->nissued++;
}

/* "issued_keys": [{"access_key_id": "...", "secret_file": "..."}]: keys the gateway verifies itself. */
static void
identity_compile_issued(struct identity_compiler *ic, const cJSON *js, struct identity *id)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "issued_keys"), *e;
	size_t n, mark, i = 0;
	char **grown;

	if (v == NULL)
		return;
	mark = diag_path_member(ic->path, "issued_keys");
	if (!cJSON_IsArray(v) || (n = (size_t)cJSON_GetArraySize(v)) == 0 || n > IDENTITY_LIST_MAX) {
		identity_error(ic, "expected an array of 1-%d {\"access_key_id\", \"secret_file\"} objects",
		    IDENTITY_LIST_MAX);
		diag_path_pop(ic->path, mark);
		return;
	}
	grown = realloc(id->keys, (id->nkeys + n) * sizeof(*id->keys));
	id->issued = calloc(n, sizeof(*id->issued));
	if (grown == NULL || id->issued == NULL) {
		if (grown != NULL)
			id->keys = grown;
		identity_error(ic, "out of memory");
		diag_path_pop(ic->path, mark);
		return;
	}
	id->keys = grown;
	cJSON_ArrayForEach(e, v) {
		size_t imark = diag_path_index(ic->path, i++);

		identity_compile_issued_one(ic, e, id);
		diag_path_pop(ic->path, imark);
	}
	if (id->nissued > 0)
		id->criteria |= IDENTITY_CRIT_KEY | IDENTITY_CRIT_ISSUED_KEY;
	diag_path_pop(ic->path, mark);
}

/* arn:<partition>:iam::<12 digits>:role/<path and name> */
static bool
identity_role_arn_valid(const char *s)
{
	const char *p;

	if (strncmp(s, "arn:", 4) != 0 || (p = strstr(s, ":iam::")) == NULL || strlen(s) > 2048)
		return false;
	p += 6;
	for (int i = 0; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
	}
	return strncmp(p + 12, ":role/", 6) == 0 && p[18] != '\0';
}

/* "broker": {} (sign with the gateway's credentials) or {"role_arn": "..."} (assume that role first). */
static void
identity_compile_broker(struct identity_compiler *ic, const cJSON *js, struct identity *id)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "broker"), *m;
	size_t mark;

	if (v == NULL)
		return;
	mark = diag_path_member(ic->path, "broker");
	if (!cJSON_IsObject(v)) {
		identity_error(ic, "expected an object ({} or {\"role_arn\": ...}), got %s", json_type_name(v));
		diag_path_pop(ic->path, mark);
		return;
	}
	cJSON_ArrayForEach(m, v) {
		size_t km = diag_path_member(ic->path, m->string);

		if (strcmp(m->string, "role_arn") != 0)
			identity_error(ic, "unknown key \"%.*s\" (expected role_arn)", IDENTITY_SHOW_MAX, m->string);
		else if (!cJSON_IsString(m) || !identity_role_arn_valid(m->valuestring))
			identity_error(ic, "expected a role ARN such as arn:aws:iam::123456789012:role/orders-service");
		else if ((id->role_arn = strdup(m->valuestring)) == NULL)
			identity_error(ic, "out of memory");
		diag_path_pop(ic->path, km);
	}
	id->brokered = true;
	diag_path_pop(ic->path, mark);
}

static void
identity_compile_risk(struct identity_compiler *ic, const cJSON *js, struct identity *id)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "accept_risk");
	size_t mark;

	if (v == NULL)
		return;
	mark = diag_path_member(ic->path, "accept_risk");
	if (!cJSON_IsString(v) || strcmp(v->valuestring, IDENTITY_RISK_TEXT) != 0)
		identity_error(ic, "expected exactly \"" IDENTITY_RISK_TEXT "\" (see config/README.md, accept_risk)");
	else
		id->accepts_foreign = true;
	diag_path_pop(ic->path, mark);
}

/* Cross-field rules of one identity, once all its keys are compiled. */
static void
identity_check_one(struct identity_compiler *ic, struct identity *id)
{
	bool is_default = id->name != NULL && strcmp(id->name, IDENTITY_DEFAULT) == 0;
	const struct identity_env *env = ic->env;

	if (id->criteria == 0 && !is_default)
		identity_error(ic,
		    "missing \"access_key_ids\" (only the identity named \"" IDENTITY_DEFAULT "\" may have none) "
		    "or another way to match: issued_keys, client_certificate, source_cidrs, listeners");
	if (is_default && (id->criteria & ~IDENTITY_CRIT_KEY) != 0)
		identity_error(ic, "the identity named \"" IDENTITY_DEFAULT
		    "\" is the fallback for callers no other identity matches; it cannot require a certificate, "
		    "source range, listener or issued key");
	if (id->brokered && !(id->criteria & (IDENTITY_CRIT_ISSUED_KEY | IDENTITY_CRIT_CERT)))
		identity_error(ic, "\"broker\" re-signs calls with the gateway's credentials, so the caller must be "
		    "proved: add issued_keys or client_certificate");
	if (id->brokered && id->nkeys > id->nissued)
		identity_error(ic, "\"broker\": access_key_ids would let an unverified key be re-signed; list the "
		    "keys under issued_keys");
	if (env == NULL)
		return;
	for (size_t i = 0; i < id->listeners.n; i++) {
		size_t j;

		for (j = 0; j < env->nlisteners && strcmp(env->listeners[j], id->listeners.v[i]) != 0; j++)
			;
		if (j == env->nlisteners) {
			size_t m1 = diag_path_member(ic->path, "listeners"), m2 = diag_path_index(ic->path, i);

			identity_error(ic, "no listener named \"%.*s\"", IDENTITY_SHOW_MAX, id->listeners.v[i]);
			diag_path_pop(ic->path, m2);
			diag_path_pop(ic->path, m1);
		} else if ((id->criteria & IDENTITY_CRIT_CERT) && !env->listener_client_cert[j]) {
			size_t m1 = diag_path_member(ic->path, "listeners"), m2 = diag_path_index(ic->path, i);

			identity_error(ic, "listener \"%s\" does not ask for client certificates (tls.client_ca), so "
			    "this identity's client_certificate can never match there", id->listeners.v[i]);
			diag_path_pop(ic->path, m2);
			diag_path_pop(ic->path, m1);
		}
	}
	if ((id->criteria & IDENTITY_CRIT_CERT) && id->listeners.n == 0) {
		bool any = false;

		for (size_t j = 0; j < env->nlisteners; j++)
			any = any || env->listener_client_cert[j];
		if (!any)
			identity_error(ic, "\"client_certificate\": no listener asks for client certificates (set "
			    "tls.client_ca on a TLS listener)");
	}
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
	identity_compile_issued(ic, js, id);
	identity_compile_cert(ic, js, id);
	identity_compile_cidrs(ic, js, id);
	identity_compile_listeners(ic, js, id);
	identity_compile_broker(ic, js, id);
	identity_compile_risk(ic, js, id);
	identity_check_one(ic, id);
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
 * Could one certificate satisfy both identities' client_certificate? A
 * certificate has one subject and (SPIFFE: "an X.509 SVID MUST contain
 * exactly one URI SAN", which identity_cert_matches enforces) at most one
 * SPIFFE ID, but any number of DNS names and other URIs.
 */
static bool
identity_certs_overlap(const struct identity *a, const struct identity *b)
{
	size_t i;
	bool a_multi = a->dns.n > 0, b_multi = b->dns.n > 0, a_spiffe = false, b_spiffe = false;

	for (i = 0; i < a->uris.n; i++) {
		a_multi = a_multi || !identity_is_spiffe(a->uris.v[i]);
		a_spiffe = a_spiffe || identity_is_spiffe(a->uris.v[i]);
	}
	for (i = 0; i < b->uris.n; i++) {
		b_multi = b_multi || !identity_is_spiffe(b->uris.v[i]);
		b_spiffe = b_spiffe || identity_is_spiffe(b->uris.v[i]);
	}
	if (a_multi || b_multi)
		return true;
	/* Only subjects and SPIFFE IDs: a certificate carries one of each. */
	if ((a->subjects.n > 0 && b_spiffe) || (a_spiffe && b->subjects.n > 0))
		return true;
	for (i = 0; i < a->subjects.n; i++) {
		if (identity_strs_has(&b->subjects, a->subjects.v[i]))
			return true;
	}
	for (i = 0; i < a->uris.n; i++) {
		if (identity_strs_has(&b->uris, a->uris.v[i]))
			return true;
	}
	return false;
}

static bool
identity_cidrs_overlap(const struct identity *a, const struct identity *b)
{
	for (size_t i = 0; i < a->ncidrs; i++) {
		for (size_t j = 0; j < b->ncidrs; j++) {
			const struct identity_cidr *x = &a->cidrs[i], *y = &b->cidrs[j];

			if (x->net.family == y->net.family &&
			    identity_prefix_eq(x->net.a, y->net.a, x->prefix < y->prefix ? x->prefix : y->prefix))
				return true;
		}
	}
	return false;
}

static bool
identity_keys_overlap(const struct identity *a, const struct identity *b)
{
	for (size_t i = 0; i < a->nkeys; i++) {
		for (size_t j = 0; j < b->nkeys; j++) {
			if (strcmp(a->keys[i], b->keys[j]) == 0)
				return true;
		}
	}
	return false;
}

/* Whether `id` can match a call on listener `j` of the config: its list, and a certificate needs a client CA. */
static bool
identity_accepts_listener(const struct identity *id, const struct identity_env *env, size_t j)
{
	if ((id->criteria & IDENTITY_CRIT_LISTENER) && !identity_strs_has(&id->listeners, env->listeners[j]))
		return false;
	return !(id->criteria & IDENTITY_CRIT_CERT) || env->listener_client_cert[j];
}

/*
 * Without the rest of the config: whether the listener lists intersect (an
 * identity without one matches on any). With it: whether some listener
 * accepts both, knowing that a certificate is only seen on listeners with
 * tls.client_ca.
 */
static bool
identity_listeners_overlap(const struct identity *a, const struct identity *b, const struct identity_env *env)
{
	if (env != NULL) {
		for (size_t j = 0; j < env->nlisteners; j++) {
			if (identity_accepts_listener(a, env, j) && identity_accepts_listener(b, env, j))
				return true;
		}
		return false;
	}
	if (!(a->criteria & IDENTITY_CRIT_LISTENER) || !(b->criteria & IDENTITY_CRIT_LISTENER))
		return true;
	for (size_t i = 0; i < a->listeners.n; i++) {
		if (identity_strs_has(&b->listeners, a->listeners.v[i]))
			return true;
	}
	return false;
}

/*
 * Two identities could both match one call when, for every criterion, one of
 * them does not ask for it or their values could coincide. The fallback
 * "default" without criteria is not a competitor: it matches only when no
 * other identity does. Access keys listed twice are reported by
 * identity_index_keys already.
 */
static void
identity_check_overlaps(struct identity_compiler *ic, const struct identity_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct identity *a = &s->ids[i];

		if (a->criteria == 0)
			continue;
		for (size_t j = i + 1; j < s->n; j++) {
			const struct identity *b = &s->ids[j];
			unsigned both = a->criteria & b->criteria;
			size_t mark;

			if (b->criteria == 0)
				continue;
			if ((both & IDENTITY_CRIT_KEY) && !identity_keys_overlap(a, b))
				continue;
			if ((both & IDENTITY_CRIT_KEY) && identity_keys_overlap(a, b))
				continue; /* reported as a key in two identities */
			if ((both & IDENTITY_CRIT_CERT) && !identity_certs_overlap(a, b))
				continue;
			if ((both & IDENTITY_CRIT_SOURCE) && !identity_cidrs_overlap(a, b))
				continue;
			if (!identity_listeners_overlap(a, b, ic->env))
				continue;
			mark = diag_path_index(ic->path, j);
			identity_error(ic,
			    "identities \"%s\" (identities[%zu]) and \"%s\" could both match one call; make them "
			    "differ by access key, client certificate (distinct subjects or SPIFFE IDs), source range "
			    "or listener",
			    a->name ? a->name : "?", i, b->name ? b->name : "?");
			diag_path_pop(ic->path, mark);
		}
	}
}

static void
identity_index_keyless(struct identity_compiler *ic, struct identity_set *s)
{
	if ((s->keyless = calloc(s->n + 1, sizeof(*s->keyless))) == NULL) {
		identity_error(ic, "out of memory");
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (s->ids[i].criteria != 0 && !(s->ids[i].criteria & IDENTITY_CRIT_KEY))
			s->keyless[s->nkeyless++] = &s->ids[i];
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
	return identity_set_compile_env(identities, policies, NULL, d, path);
}

struct identity_set *
identity_set_compile_env(const cJSON *identities, const struct policy_set *policies,
    const struct identity_env *env, struct diag *d, struct diag_path *path)
{
	struct identity_compiler ic = { .d = d, .path = path, .policies = policies, .env = env };
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
	identity_index_keyless(&ic, s);
	identity_check_overlaps(&ic, s);
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
		identity_strs_free(&id->subjects);
		identity_strs_free(&id->dns);
		identity_strs_free(&id->uris);
		identity_strs_free(&id->listeners);
		free(id->cidrs);
		for (size_t j = 0; j < id->nissued; j++) {
			OPENSSL_cleanse(id->issued[j].secret, strlen(id->issued[j].secret));
			free(id->issued[j].secret);
		}
		free(id->issued);
		free(id->role_arn);
	}
	free(s->keyless);
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

/*
 * A certificate matches when its subject, one of its DNS SANs or one of its
 * URI SANs is listed. A certificate with a SPIFFE ID must carry exactly one
 * URI SAN (SPIFFE X509-SVID 2): one with more is matched by nothing, so two
 * identities with distinct SPIFFE IDs can never both match it.
 */
static bool
identity_cert_matches(const struct identity *id, const struct identity_cert *c)
{
	size_t i;

	if (c == NULL)
		return false;
	for (i = 0; i < c->nuris; i++) {
		if (identity_is_spiffe(c->uris[i]) && c->nuris != 1)
			return false;
	}
	if (c->subject != NULL && identity_strs_has(&id->subjects, c->subject))
		return true;
	for (i = 0; i < c->ndns; i++) {
		if (identity_strs_has(&id->dns, c->dns[i]))
			return true;
	}
	for (i = 0; i < c->nuris; i++) {
		if (identity_strs_has(&id->uris, c->uris[i]))
			return true;
	}
	return false;
}

static bool
identity_source_matches(const struct identity *id, const struct identity_addr *a)
{
	if (a == NULL || a->family == 0)
		return false;
	for (size_t i = 0; i < id->ncidrs; i++) {
		if (id->cidrs[i].net.family == a->family && identity_prefix_eq(id->cidrs[i].net.a, a->a, id->cidrs[i].prefix))
			return true;
	}
	return false;
}

/* Every criterion but the access key (checked by the caller) holds for `f`. */
static bool
identity_rest_matches(const struct identity *id, const struct identity_facts *f)
{
	if ((id->criteria & IDENTITY_CRIT_CERT) && !identity_cert_matches(id, f->cert))
		return false;
	if ((id->criteria & IDENTITY_CRIT_SOURCE) && !identity_source_matches(id, f->source))
		return false;
	if ((id->criteria & IDENTITY_CRIT_LISTENER) &&
	    (f->listener == NULL || !identity_strs_has(&id->listeners, f->listener)))
		return false;
	return true;
}

static enum identity_match
identity_how(const struct identity *id)
{
	if (id->criteria & IDENTITY_CRIT_KEY)
		return IDENTITY_BY_ACCESS_KEY;
	if (id->criteria & IDENTITY_CRIT_CERT)
		return IDENTITY_BY_CERTIFICATE;
	return IDENTITY_BY_NETWORK;
}

/*
 * Access key ids are matched exactly: AWS treats them case-sensitively. The
 * candidates are the identity owning the key (binary search) and those that
 * list no key; compilation made sure at most one of them can match.
 */
const struct identity *
identity_set_match(const struct identity_set *s, const struct identity_facts *f, enum identity_match *how)
{
	static const struct identity_facts none = { 0 };
	enum identity_match unused;
	const struct identity_key *k = NULL;

	if (how == NULL)
		how = &unused;
	if (f == NULL)
		f = &none;
	if (s != NULL && f->access_key_id != NULL)
		k = bsearch(f->access_key_id, s->keys, s->nkeys, sizeof(*s->keys), identity_find_cmp);
	if (k != NULL && identity_rest_matches(k->id, f)) {
		*how = identity_how(k->id);
		return k->id;
	}
	for (size_t i = 0; s != NULL && i < s->nkeyless; i++) {
		if (identity_rest_matches(s->keyless[i], f)) {
			*how = identity_how(s->keyless[i]);
			return s->keyless[i];
		}
	}
	if (s != NULL && s->fallback != NULL && s->fallback->criteria == 0) {
		*how = IDENTITY_BY_DEFAULT;
		return s->fallback;
	}
	if (s != NULL && s->fallback != NULL) {
		*how = IDENTITY_BY_DEFAULT; /* "default" listing keys: also the fallback */
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

size_t
identity_tag_count(const struct identity *id)
{
	return id != NULL ? id->ntags : 0;
}

void
identity_tag_at(const struct identity *id, size_t i, const char **key, const char **value)
{
	*key = id->tags[i].key;
	*value = id->tags[i].value;
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
	case IDENTITY_BY_CERTIFICATE:
		return "certificate";
	case IDENTITY_BY_NETWORK:
		return "network";
	}
	return "unknown";
}

unsigned
identity_criteria(const struct identity *id)
{
	return id != NULL ? id->criteria : 0;
}

const char *
identity_issued_secret(const struct identity *id, const char *akid)
{
	if (id == NULL || akid == NULL)
		return NULL;
	for (size_t i = 0; i < id->nissued; i++) {
		if (strcmp(id->issued[i].akid, akid) == 0)
			return id->issued[i].secret;
	}
	return NULL;
}

const struct identity *
identity_set_issued_owner(const struct identity_set *s, const char *akid)
{
	const struct identity_key *k;

	if (s == NULL || akid == NULL)
		return NULL;
	k = bsearch(akid, s->keys, s->nkeys, sizeof(*s->keys), identity_find_cmp);
	return k != NULL && identity_issued_secret(k->id, akid) != NULL ? k->id : NULL;
}

const char *
identity_broker_role(const struct identity *id)
{
	return id != NULL ? id->role_arn : NULL;
}

bool
identity_brokered(const struct identity *id)
{
	return id != NULL && id->brokered;
}

bool
identity_accepts_foreign_credentials(const struct identity *id)
{
	return id != NULL && id->accepts_foreign;
}

bool
identity_any_key(const struct identity *id)
{
	return id != NULL && !id->brokered && !(id->criteria & IDENTITY_CRIT_KEY);
}

size_t
identity_set_count(const struct identity_set *s)
{
	return s != NULL ? s->n : 0;
}

const struct identity *
identity_set_at(const struct identity_set *s, size_t i)
{
	return s != NULL && i < s->n ? &s->ids[i] : NULL;
}

/*
 * --check: an identity whose callers sign with their own keys, and that does
 * not pin which keys, passes a key of any AWS account; AWS resolves a bare
 * table name in the signer's account. Listed keys that encode another
 * account (sigv4_akid_account) are reported too.
 */
void
identity_set_lint(const struct identity_set *s, const char *account_id, identity_lint_fn fn, void *arg)
{
	char path[64], msg[512], acct[13];

	for (size_t i = 0; s != NULL && i < s->n; i++) {
		const struct identity *id = &s->ids[i];

		snprintf(path, sizeof(path), "$.identities[%zu]", i);
		if (identity_any_key(id)) {
			snprintf(msg, sizeof(msg),
			    "identity \"%s\" accepts access keys of any AWS account (it lists none and is not "
			    "brokered); calls naming tables without an account are %s",
			    id->name, id->accepts_foreign ? "allowed anyway (accept_risk): they act in the caller's own account"
							  : "refused unless the key encodes account_id");
			fn(arg, path, msg);
		}
		for (size_t k = 0; k < id->nkeys; k++) {
			if (id->brokered || identity_issued_secret(id, id->keys[k]) != NULL)
				continue;
			if (sigv4_akid_account(id->keys[k], acct) && account_id != NULL && strcmp(acct, account_id) != 0) {
				snprintf(msg, sizeof(msg),
				    "access key id %s of identity \"%s\" belongs to AWS account %s, not %s: its calls "
				    "by table name act on that account's tables",
				    id->keys[k], id->name, acct, account_id);
				fn(arg, path, msg);
			}
		}
	}
}

bool
identity_shadow(const struct identity *id)
{
	return id != NULL && id->shadow;
}

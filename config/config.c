/*
 * config.c: the declarative config loader.
 *
 * Each object of the file is described by a table of keys (type, bounds,
 * default, required, validator, where to store it). cfg_object_load() walks
 * a table: unknown keys, wrong types, out-of-range values and missing required
 * keys all become errors with their JSON path. Cross-field checks run after.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filters/dynamodb/arn.h"
#include "filters/dynamodb/catalog.h"
#include "filters/policy/identity.h"
#include "filters/dynamodb/json.h"
#include "filters/policy/policy.h"

#define CONFIG_MAX_FILE_BYTES (16u << 20)
#define CONFIG_MAX_LISTENERS 16

struct cfg_ctx {
	struct diag *d;
	struct diag_path path;
	const char *base_dir;
};

enum cfg_type {
	CFG_STRING, /* char * */
	CFG_PATH,   /* char *, resolved against the config's directory */
	CFG_U32,    /* uint32_t */
	CFG_U64,    /* uint64_t */
	CFG_PORT,   /* uint16_t */
	CFG_BOOL,   /* bool */
	CFG_CUSTOM, /* parse() does everything */
};

struct cfg_key;
typedef bool (*cfg_custom_fn)(struct cfg_ctx *ctx, const cJSON *v, void *dst);
/* Extra validation of a string value; returns NULL when fine, else what was expected. */
typedef const char *(*cfg_check_fn)(const char *s);

struct cfg_key {
	const char *name;
	enum cfg_type type;
	bool required;
	uint64_t min, max;   /* numbers: bounds; strings: length bounds (max 0: none) */
	uint64_t def;	     /* numbers: default when absent */
	const char *def_str; /* strings: default when absent (NULL: none) */
	size_t offset;	     /* where in the destination struct */
	cfg_check_fn check;
	cfg_custom_fn parse;
	bool parse_when_absent; /* CFG_CUSTOM: call parse(NULL) so an absent object gets its defaults */
};

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		abort(); /* config loading happens at startup; no way to continue */
	return p;
}

static char *
cfg_resolve_path(const struct cfg_ctx *ctx, const char *p)
{
	char *out;

	if (p[0] == '/' || strcmp(p, "-") == 0 || ctx->base_dir == NULL)
		return xstrdup(p);
	if (asprintf(&out, "%s/%s", ctx->base_dir, p) < 0)
		abort();
	return out;
}

static bool
cfg_get_uint(struct cfg_ctx *ctx, const cJSON *v, const struct cfg_key *k, uint64_t *out)
{
	double x;

	if (!cJSON_IsNumber(v)) {
		diag_error(ctx->d, ctx->path.text, "expected an integer %llu..%llu, got %s",
		    (unsigned long long)k->min, (unsigned long long)k->max, json_type_name(v));
		return false;
	}
	x = v->valuedouble;
	if (x != (double)(uint64_t)x || x < (double)k->min || x > (double)k->max) {
		diag_error(ctx->d, ctx->path.text, "expected an integer %llu..%llu",
		    (unsigned long long)k->min, (unsigned long long)k->max);
		return false;
	}
	*out = (uint64_t)x;
	return true;
}

static bool
cfg_get_string(struct cfg_ctx *ctx, const cJSON *v, const struct cfg_key *k, const char **out)
{
	size_t n;
	const char *why;

	if (!cJSON_IsString(v)) {
		diag_error(ctx->d, ctx->path.text, "expected a string, got %s", json_type_name(v));
		return false;
	}
	n = strlen(v->valuestring);
	if (n < (k->min ? k->min : 1) || (k->max && n > k->max)) {
		diag_error(ctx->d, ctx->path.text, "expected a string of %llu..%llu characters",
		    (unsigned long long)(k->min ? k->min : 1), (unsigned long long)(k->max ? k->max : 4096));
		return false;
	}
	if (k->check != NULL && (why = k->check(v->valuestring)) != NULL) {
		diag_error(ctx->d, ctx->path.text, "expected %s", why);
		return false;
	}
	*out = v->valuestring;
	return true;
}

static bool
cfg_store(struct cfg_ctx *ctx, const struct cfg_key *k, const cJSON *v, void *dst)
{
	char *field = (char *)dst + k->offset;
	const char *s;
	uint64_t u;

	switch (k->type) {
	case CFG_STRING:
	case CFG_PATH:
		if (!cfg_get_string(ctx, v, k, &s))
			return false;
		*(char **)field = k->type == CFG_PATH ? cfg_resolve_path(ctx, s) : xstrdup(s);
		return true;
	case CFG_U32:
		if (!cfg_get_uint(ctx, v, k, &u))
			return false;
		*(uint32_t *)field = (uint32_t)u;
		return true;
	case CFG_U64:
		if (!cfg_get_uint(ctx, v, k, &u))
			return false;
		*(uint64_t *)field = u;
		return true;
	case CFG_PORT:
		if (!cfg_get_uint(ctx, v, k, &u))
			return false;
		*(uint16_t *)field = (uint16_t)u;
		return true;
	case CFG_BOOL:
		if (!cJSON_IsBool(v)) {
			diag_error(ctx->d, ctx->path.text, "expected true or false, got %s", json_type_name(v));
			return false;
		}
		*(bool *)field = cJSON_IsTrue(v);
		return true;
	case CFG_CUSTOM:
		return k->parse(ctx, v, dst);
	}
	return false;
}

static void
cfg_store_default(struct cfg_ctx *ctx, const struct cfg_key *k, void *dst)
{
	char *field = (char *)dst + k->offset;

	switch (k->type) {
	case CFG_STRING:
		*(char **)field = k->def_str ? xstrdup(k->def_str) : NULL;
		break;
	case CFG_PATH:
		*(char **)field = k->def_str ? cfg_resolve_path(ctx, k->def_str) : NULL;
		break;
	case CFG_U32:
		*(uint32_t *)field = (uint32_t)k->def;
		break;
	case CFG_U64:
		*(uint64_t *)field = k->def;
		break;
	case CFG_PORT:
		*(uint16_t *)field = (uint16_t)k->def;
		break;
	case CFG_BOOL:
		*(bool *)field = k->def != 0;
		break;
	case CFG_CUSTOM:
		if (k->parse_when_absent)
			k->parse(ctx, NULL, dst);
		break;
	}
}

/* Loads `obj` into `dst` following `keys`. Returns false if any error was recorded. */
static bool
cfg_object_load(struct cfg_ctx *ctx, const cJSON *obj, const struct cfg_key *keys, size_t nkeys,
    void *dst)
{
	const cJSON *child;
	bool ok = true;
	size_t i, mark;

	if (!cJSON_IsObject(obj)) {
		diag_error(ctx->d, ctx->path.text, "expected an object, got %s", json_type_name(obj));
		return false;
	}
	cJSON_ArrayForEach(child, obj) {
		for (i = 0; i < nkeys; i++)
			if (strcmp(child->string, keys[i].name) == 0)
				break;
		if (i == nkeys) {
			mark = diag_path_member(&ctx->path, child->string);
			diag_error(ctx->d, ctx->path.text, "unknown key");
			diag_path_pop(&ctx->path, mark);
			ok = false;
		}
	}
	for (i = 0; i < nkeys; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, keys[i].name);

		mark = diag_path_member(&ctx->path, keys[i].name);
		if (v == NULL) {
			if (keys[i].required) {
				diag_error(ctx->d, ctx->path.text, "required key is missing");
				ok = false;
			} else {
				cfg_store_default(ctx, &keys[i], dst);
			}
		} else if (!cfg_store(ctx, &keys[i], v, dst)) {
			ok = false;
		}
		diag_path_pop(&ctx->path, mark);
	}
	return ok;
}

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

/* --- validators ------------------------------------------------------ */

static const char *
check_account_id(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isdigit((unsigned char)s[i]))
			break;
	return (i == 12 && s[i] == '\0') ? NULL : "a 12-digit AWS account id";
}

static const char *
check_listener_name(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return "a name of [A-Za-z0-9_.-]";
	return NULL;
}

static const char *
check_ip_literal(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1)
		return NULL;
	return "a numeric IPv4 or IPv6 address";
}

static const char *
check_region(const char *s)
{
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-')
			return "a region name of [a-z0-9-] such as \"us-east-1\"";
	return NULL;
}

/* "udp:HOST:PORT" or "unix:/PATH": where RFC 5424 access-log messages go. */
static const char *
check_syslog_target(const char *s)
{
	const char *colon;

	if (strncmp(s, "unix:/", 6) == 0 && s[6] != '\0')
		return NULL;
	if (strncmp(s, "udp:", 4) == 0 && (colon = strrchr(s + 4, ':')) != NULL && colon > s + 4 &&
	    strspn(colon + 1, "0123456789") == strlen(colon + 1) && colon[1] != '\0' && atoi(colon + 1) > 0 &&
	    atoi(colon + 1) < 65536)
		return NULL;
	return "\"udp:HOST:PORT\" or \"unix:/PATH\"";
}

static const char *
check_log_sync(const char *s)
{
	if (strcmp(s, "none") == 0 || strcmp(s, "interval") == 0 || strcmp(s, "every_call") == 0)
		return NULL;
	return "\"none\", \"interval\" or \"every_call\"";
}

/* A Host header value: reg-name or IP literal, optional :port; no spaces or controls. */
static const char *
check_host_header(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(".-:[]", *s))
			return "a host name with optional :port";
	return NULL;
}

/* --- URLs ------------------------------------------------------------ */

/*
 * Accepts scheme://host[:port][/]: the DynamoDB endpoint has no path. A URL
 * with user info, query or fragment is a mistake we would rather hear about.
 */
static bool
cfg_parse_url(struct cfg_ctx *ctx, const cJSON *v, struct upstream_url *u)
{
	const char *s, *host, *end, *colon;
	char hostbuf[256];
	size_t hlen;
	long port;
	char *ep;

	if (!cJSON_IsString(v)) {
		diag_error(ctx->d, ctx->path.text, "expected a URL string, got %s", json_type_name(v));
		return false;
	}
	s = v->valuestring;
	if (strncmp(s, "https://", 8) == 0) {
		u->tls = true;
		host = s + 8;
		port = 443;
	} else if (strncmp(s, "http://", 7) == 0) {
		u->tls = false;
		host = s + 7;
		port = 80;
	} else {
		diag_error(ctx->d, ctx->path.text, "expected an https:// (or, for local testing, http://) URL");
		return false;
	}
	end = host + strcspn(host, "/?#@");
	if (*end == '?' || *end == '#' || *end == '@' || (*end == '/' && end[1] != '\0')) {
		diag_error(ctx->d, ctx->path.text, "expected scheme://host[:port] with no path, query or user info");
		return false;
	}
	if (*host == '[') { /* IPv6 literal */
		const char *rb = memchr(host, ']', (size_t)(end - host));

		if (rb == NULL) {
			diag_error(ctx->d, ctx->path.text, "unterminated IPv6 literal");
			return false;
		}
		hlen = (size_t)(rb - host - 1);
		if (hlen >= sizeof(hostbuf))
			hlen = sizeof(hostbuf) - 1;
		memcpy(hostbuf, host + 1, hlen);
		hostbuf[hlen] = '\0';
		colon = (rb + 1 < end && rb[1] == ':') ? rb + 1 : NULL;
		if (rb + 1 < end && colon == NULL) {
			diag_error(ctx->d, ctx->path.text, "unexpected characters after IPv6 literal");
			return false;
		}
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
		hlen = (size_t)((colon ? colon : end) - host);
		if (hlen == 0 || hlen >= sizeof(hostbuf)) {
			diag_error(ctx->d, ctx->path.text, "expected a host name");
			return false;
		}
		memcpy(hostbuf, host, hlen);
		hostbuf[hlen] = '\0';
		for (size_t i = 0; i < hlen; i++)
			if (!isalnum((unsigned char)hostbuf[i]) && hostbuf[i] != '-' && hostbuf[i] != '.') {
				diag_error(ctx->d, ctx->path.text, "invalid character in host name");
				return false;
			}
	}
	if (colon != NULL) {
		errno = 0;
		port = strtol(colon + 1, &ep, 10);
		if (ep != end || colon + 1 == end || port < 1 || port > 65535 || errno != 0) {
			diag_error(ctx->d, ctx->path.text, "expected a port 1..65535");
			return false;
		}
	}
	u->host = xstrdup(hostbuf);
	u->port = (uint16_t)port;
	u->text = xstrdup(s);
	return true;
}

static bool
parse_dynamodb_url(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	if (v == NULL)
		return true;
	return cfg_parse_url(ctx, v, &((struct upstream_config *)dst)->dynamodb);
}

static bool
parse_streams_url(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	struct upstream_config *u = dst;

	if (v == NULL)
		return true;
	u->has_streams = cfg_parse_url(ctx, v, &u->streams);
	return u->has_streams;
}

/* --- listeners ------------------------------------------------------- */

struct tls_files {
	char *cert;
	char *key;
	char *client_ca;
	char *client_cert;
};

static const char *
check_client_cert_mode(const char *s)
{
	return strcmp(s, "require") == 0 || strcmp(s, "optional") == 0 ? NULL : "\"require\" or \"optional\"";
}

static const struct cfg_key tls_keys[] = {
	{ .name = "cert", .type = CFG_PATH, .required = true, .offset = offsetof(struct tls_files, cert) },
	{ .name = "key", .type = CFG_PATH, .required = true, .offset = offsetof(struct tls_files, key) },
	{ .name = "client_ca", .type = CFG_PATH, .offset = offsetof(struct tls_files, client_ca) },
	{ .name = "client_cert", .type = CFG_STRING, .check = check_client_cert_mode,
	    .offset = offsetof(struct tls_files, client_cert) },
};

static bool
parse_listener_tls(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	struct listener_config *l = dst;
	struct tls_files t = { 0 };
	bool ok;

	if (v == NULL)
		return true;
	ok = cfg_object_load(ctx, v, tls_keys, NKEYS(tls_keys), &t);

	l->tls_cert = t.cert;
	l->tls_key = t.key;
	l->client_ca = t.client_ca;
	l->client_cert_required = t.client_cert == NULL || strcmp(t.client_cert, "require") == 0;
	if (t.client_cert != NULL && t.client_ca == NULL) {
		diag_error(ctx->d, ctx->path.text, "\"client_cert\" needs \"client_ca\" (the CAs client certificates chain to)");
		ok = false;
	}
	free(t.client_cert);
	return ok;
}

static bool
parse_listener_kind(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	struct listener_config *l = dst;

	if (v == NULL)
		return true; /* default: reverse */
	if (cJSON_IsString(v) && strcmp(v->valuestring, "reverse") == 0) {
		l->kind = LISTENER_REVERSE;
		return true;
	}
	if (cJSON_IsString(v) && strcmp(v->valuestring, "egress") == 0) {
		l->kind = LISTENER_EGRESS;
		return true;
	}
	diag_error(ctx->d, ctx->path.text, "expected \"reverse\" or \"egress\"");
	return false;
}

static const struct cfg_key listener_keys[] = {
	{ .name = "name", .type = CFG_STRING, .required = true, .max = 32, .check = check_listener_name,
	    .offset = offsetof(struct listener_config, name) },
	{ .name = "kind", .type = CFG_CUSTOM, .parse = parse_listener_kind },
	{ .name = "address", .type = CFG_STRING, .required = true, .max = 64, .check = check_ip_literal,
	    .offset = offsetof(struct listener_config, address) },
	{ .name = "port", .type = CFG_PORT, .required = true, .min = 1, .max = 65535,
	    .offset = offsetof(struct listener_config, port) },
	{ .name = "tls", .type = CFG_CUSTOM, .parse = parse_listener_tls },
};

static bool
parse_listeners(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	struct config *c = dst;
	const cJSON *item;
	size_t i = 0, j, n, mark;
	bool ok = true;

	if (!cJSON_IsArray(v) || (n = (size_t)cJSON_GetArraySize(v)) == 0 || n > CONFIG_MAX_LISTENERS) {
		diag_error(ctx->d, ctx->path.text, "expected an array of 1..%d listeners", CONFIG_MAX_LISTENERS);
		return false;
	}
	if ((c->listeners = calloc(n, sizeof(*c->listeners))) == NULL)
		abort();
	c->nlisteners = n;
	cJSON_ArrayForEach(item, v) {
		mark = diag_path_index(&ctx->path, i);
		if (!cfg_object_load(ctx, item, listener_keys, NKEYS(listener_keys), &c->listeners[i]))
			ok = false;
		for (j = 0; ok && j < i; j++) {
			const struct listener_config *a = &c->listeners[j], *b = &c->listeners[i];

			if (a->name && b->name && strcmp(a->name, b->name) == 0) {
				diag_error(ctx->d, ctx->path.text, "listener name \"%s\" is used twice", b->name);
				ok = false;
			}
			if (a->address && b->address && strcmp(a->address, b->address) == 0 && a->port == b->port) {
				diag_error(ctx->d, ctx->path.text, "address %s port %u is used twice", b->address,
				    b->port);
				ok = false;
			}
		}
		diag_path_pop(&ctx->path, mark);
		i++;
	}
	return ok;
}

/* --- egress ------------------------------------------------------------ */

/* An array of 1..max strings, each passing `check`; stored as a NULL-free owned array. */
static bool
cfg_string_array(struct cfg_ctx *ctx, const cJSON *v, size_t max, cfg_check_fn check, char ***out, size_t *n)
{
	const cJSON *e;
	const char *why;
	size_t i = 0, count, mark;
	bool ok = true;

	if (!cJSON_IsArray(v) || (count = (size_t)cJSON_GetArraySize(v)) == 0 || count > max) {
		diag_error(ctx->d, ctx->path.text, "expected an array of 1..%zu strings", max);
		return false;
	}
	if ((*out = calloc(count, sizeof(**out))) == NULL)
		abort();
	cJSON_ArrayForEach(e, v) {
		mark = diag_path_index(&ctx->path, i);
		if (!cJSON_IsString(e)) {
			diag_error(ctx->d, ctx->path.text, "expected a string, got %s", json_type_name(e));
			ok = false;
		} else if (check != NULL && (why = check(e->valuestring)) != NULL) {
			diag_error(ctx->d, ctx->path.text, "expected %s", why);
			ok = false;
		} else {
			(*out)[(*n)++] = xstrdup(e->valuestring);
		}
		diag_path_pop(&ctx->path, mark);
		i++;
	}
	return ok;
}

static const char *
check_region_nonempty(const char *s)
{
	return (*s == '\0' || strlen(s) > 32) ? "a region name such as \"us-east-1\"" : check_region(s);
}

static bool
parse_egress_regions(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	struct egress_config *e = dst;

	return cfg_string_array(ctx, v, 64, check_region_nonempty, &e->regions, &e->nregions);
}

static bool
parse_egress_accounts(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	struct egress_config *e = dst;

	if (v == NULL)
		return true; /* defaults to account_id, filled in after the walk */
	return cfg_string_array(ctx, v, 1024, check_account_id, &e->account_ids, &e->naccount_ids);
}

/* "host:port" where host is a DNS name or IPv4 literal, or "[v6]:port". */
static bool
cfg_parse_host_port(const char *s, char **host, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	const char *h = s, *hend;
	char *ep;
	long p;

	if (colon == NULL || colon == s)
		return false;
	hend = colon;
	if (*s == '[') {
		if (colon[-1] != ']')
			return false;
		h = s + 1;
		hend = colon - 1;
	}
	for (const char *q = h; q < hend; q++)
		if (!isalnum((unsigned char)*q) && *q != '-' && *q != '.' && !(*s == '[' && *q == ':'))
			return false;
	p = strtol(colon + 1, &ep, 10);
	if (*ep != '\0' || colon[1] == '\0' || p < 1 || p > 65535 || hend == h)
		return false;
	*host = strndup(h, (size_t)(hend - h));
	*port = (uint16_t)p;
	return *host != NULL;
}

static bool
parse_egress_routes(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	struct egress_config *e = dst;
	const cJSON *r, *host, *to;
	size_t i = 0, n, mark;
	bool ok = true;

	if (v == NULL)
		return true;
	if (!cJSON_IsArray(v) || (n = (size_t)cJSON_GetArraySize(v)) > 256) {
		diag_error(ctx->d, ctx->path.text, "expected an array of at most 256 routes");
		return false;
	}
	if (n > 0 && (e->routes = calloc(n, sizeof(*e->routes))) == NULL)
		abort();
	cJSON_ArrayForEach(r, v) {
		mark = diag_path_index(&ctx->path, i++);
		host = cJSON_GetObjectItemCaseSensitive(r, "host");
		to = cJSON_GetObjectItemCaseSensitive(r, "to");
		if (!cJSON_IsObject(r) || cJSON_GetArraySize(r) != 2 || !cJSON_IsString(host) || !cJSON_IsString(to)) {
			diag_error(ctx->d, ctx->path.text, "expected {\"host\": \"<endpoint name>\", \"to\": \"<host>:<port>\"}");
			ok = false;
		} else {
			struct egress_route_config *rc = &e->routes[e->nroutes];

			if (!cfg_parse_host_port(to->valuestring, &rc->to_host, &rc->to_port)) {
				diag_error(ctx->d, ctx->path.text, "\"to\": expected host:port");
				ok = false;
			} else {
				rc->host = xstrdup(host->valuestring);
				for (char *q = rc->host; *q; q++)
					*q = (char)tolower((unsigned char)*q);
				e->nroutes++;
			}
		}
		diag_path_pop(&ctx->path, mark);
	}
	return ok;
}

/* vpce-<id>.dynamodb.<region>.vpce.amazonaws.com[.cn]; egress.c checks the region against egress.regions. */
static const char *
check_vpc_endpoint_name(const char *s)
{
	static const char *const want = "a VPC endpoint name such as "
					"\"vpce-0123456789abcdef0-abcdefgh.dynamodb.us-east-1.vpce.amazonaws.com\"";
	size_t n = strlen(s);

	if (n > 253 || strncasecmp(s, "vpce-", 5) != 0 || strcasestr(s, ".dynamodb.") == NULL ||
	    !((n > 19 && strcasecmp(s + n - 19, ".vpce.amazonaws.com") == 0) ||
		(n > 22 && strcasecmp(s + n - 22, ".vpce.amazonaws.com.cn") == 0)))
		return want;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
			return want;
	return NULL;
}

static bool
parse_egress_vpc_endpoints(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	struct egress_config *e = dst;
	size_t i;

	if (!cfg_string_array(ctx, v, 1024, check_vpc_endpoint_name, &e->vpc_endpoints, &e->nvpc_endpoints))
		return false;
	for (i = 0; i < e->nvpc_endpoints; i++)
		for (char *q = e->vpc_endpoints[i]; *q; q++)
			*q = (char)tolower((unsigned char)*q);
	return true;
}

static const struct cfg_key egress_keys[] = {
	{ .name = "ca_cert", .type = CFG_PATH, .required = true, .offset = offsetof(struct egress_config, ca_cert) },
	{ .name = "ca_key", .type = CFG_PATH, .required = true, .offset = offsetof(struct egress_config, ca_key) },
	{ .name = "regions", .type = CFG_CUSTOM, .required = true, .parse = parse_egress_regions },
	{ .name = "account_ids", .type = CFG_CUSTOM, .parse = parse_egress_accounts, .parse_when_absent = true },
	{ .name = "routes", .type = CFG_CUSTOM, .parse = parse_egress_routes, .parse_when_absent = true },
	{ .name = "vpc_endpoints", .type = CFG_CUSTOM, .parse = parse_egress_vpc_endpoints },
	{ .name = "cert_validity_s", .type = CFG_U32, .min = 3600, .max = 604800, .def = 86400,
	    .offset = offsetof(struct egress_config, cert_validity_s) },
	{ .name = "max_cached_certs", .type = CFG_U32, .min = 1, .max = 100000, .def = 1024,
	    .offset = offsetof(struct egress_config, max_cached_certs) },
};

static bool
parse_egress(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	struct config *c = dst;

	c->egress.enabled = true;
	return cfg_object_load(ctx, v, egress_keys, NKEYS(egress_keys), &c->egress);
}

/* --- upstream, limits, access log ------------------------------------ */

static const struct cfg_key upstream_keys[] = {
	{ .name = "dynamodb", .type = CFG_CUSTOM, .parse = parse_dynamodb_url }, /* required with a reverse listener */
	{ .name = "streams", .type = CFG_CUSTOM, .parse = parse_streams_url },
	{ .name = "region", .type = CFG_STRING, .max = 32, .check = check_region,
	    .offset = offsetof(struct upstream_config, region) },
	{ .name = "ca_file", .type = CFG_PATH, .offset = offsetof(struct upstream_config, ca_file) },
	{ .name = "host_header", .type = CFG_STRING, .max = 255, .check = check_host_header,
	    .offset = offsetof(struct upstream_config, host_header) },
	{ .name = "connect_timeout_ms", .type = CFG_U32, .min = 100, .max = 60000, .def = 3000,
	    .offset = offsetof(struct upstream_config, connect_timeout_ms) },
	{ .name = "response_timeout_ms", .type = CFG_U32, .min = 100, .max = 600000, .def = 30000,
	    .offset = offsetof(struct upstream_config, response_timeout_ms) },
	{ .name = "idle_timeout_ms", .type = CFG_U32, .min = 100, .max = 3600000, .def = 30000,
	    .offset = offsetof(struct upstream_config, idle_timeout_ms) },
	{ .name = "max_idle_connections", .type = CFG_U32, .min = 0, .max = 10000, .def = 64,
	    .offset = offsetof(struct upstream_config, max_idle_connections) },
};

static const struct cfg_key limits_keys[] = {
	{ .name = "max_header_bytes", .type = CFG_U32, .min = 1024, .max = 1048576, .def = 16384,
	    .offset = offsetof(struct limits_config, max_header_bytes) },
	{ .name = "max_headers", .type = CFG_U32, .min = 8, .max = 128, .def = 64,
	    .offset = offsetof(struct limits_config, max_headers) },
	{ .name = "max_body_bytes", .type = CFG_U64, .min = 1024, .max = 67108864, .def = 16777216,
	    .offset = offsetof(struct limits_config, max_body_bytes) },
	{ .name = "max_response_bytes", .type = CFG_U64, .min = 1024, .max = 1073741824, .def = 67108864,
	    .offset = offsetof(struct limits_config, max_response_bytes) },
	{ .name = "max_connections", .type = CFG_U32, .min = 1, .max = 1000000, .def = 4096,
	    .offset = offsetof(struct limits_config, max_connections) },
	{ .name = "client_timeout_ms", .type = CFG_U32, .min = 100, .max = 3600000, .def = 60000,
	    .offset = offsetof(struct limits_config, client_timeout_ms) },
	{ .name = "request_timeout_ms", .type = CFG_U32, .min = 100, .max = 3600000, .def = 30000,
	    .offset = offsetof(struct limits_config, request_timeout_ms) },
	{ .name = "handshake_timeout_ms", .type = CFG_U32, .min = 100, .max = 3600000, .def = 10000,
	    .offset = offsetof(struct limits_config, handshake_timeout_ms) },
	{ .name = "max_connections_per_source", .type = CFG_U32, .min = 0, .max = 1000000, .def = 1024,
	    .offset = offsetof(struct limits_config, max_connections_per_source) },
	{ .name = "max_bodies_in_flight_bytes", .type = CFG_U64, .min = 1024, .max = 17179869184ULL,
	    .def = 67108864, .offset = offsetof(struct limits_config, max_bodies_in_flight_bytes) },
};

static const struct cfg_key access_log_keys[] = {
	{ .name = "path", .type = CFG_PATH, .def_str = "-", .offset = offsetof(struct access_log_config, path) },
	{ .name = "signing_key", .type = CFG_PATH, .offset = offsetof(struct access_log_config, signing_key) },
	{ .name = "digest_every_records", .type = CFG_U32, .min = 1, .max = 1000000, .def = 1000,
	    .offset = offsetof(struct access_log_config, digest_every_records) },
	{ .name = "digest_every_seconds", .type = CFG_U32, .min = 1, .max = 86400, .def = 60,
	    .offset = offsetof(struct access_log_config, digest_every_seconds) },
	{ .name = "max_bytes", .type = CFG_U64, .min = 4096, .max = 1099511627776ull,
	    .offset = offsetof(struct access_log_config, max_bytes) }, /* absent: 0, no size rotation */
	{ .name = "buffer_bytes", .type = CFG_U32, .min = 65536, .max = 268435456, .def = 4194304,
	    .offset = offsetof(struct access_log_config, buffer_bytes) },
	{ .name = "fail_open", .type = CFG_BOOL, .def = 0, .offset = offsetof(struct access_log_config, fail_open) },
	{ .name = "syslog", .type = CFG_STRING, .max = 300, .check = check_syslog_target,
	    .offset = offsetof(struct access_log_config, syslog) },
	{ .name = "sync", .type = CFG_STRING, .max = 16, .def_str = "interval", .check = check_log_sync,
	    .offset = offsetof(struct access_log_config, sync) },
	{ .name = "sync_interval_ms", .type = CFG_U32, .min = 1, .max = 60000, .def = 1000,
	    .offset = offsetof(struct access_log_config, sync_interval_ms) },
};

static const struct cfg_key admin_keys[] = {
	{ .name = "address", .type = CFG_STRING, .required = true, .max = 64, .check = check_ip_literal,
	    .offset = offsetof(struct admin_config, address) },
	{ .name = "port", .type = CFG_PORT, .required = true, .min = 1, .max = 65535,
	    .offset = offsetof(struct admin_config, port) },
};

static bool
parse_admin(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	return cfg_object_load(ctx, v, admin_keys, NKEYS(admin_keys), &((struct config *)dst)->admin);
}

static bool cfg_optional_object(struct cfg_ctx *ctx, const cJSON *v, const struct cfg_key *keys, size_t n,
    void *dst);

static bool
parse_upstream(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	return cfg_optional_object(ctx, v, upstream_keys, NKEYS(upstream_keys), &((struct config *)dst)->upstream);
}

/* An absent optional object still gets its defaults. */
static bool
cfg_optional_object(struct cfg_ctx *ctx, const cJSON *v, const struct cfg_key *keys, size_t n, void *dst)
{
	cJSON empty = { .type = cJSON_Object };

	return cfg_object_load(ctx, v ? v : &empty, keys, n, dst);
}

static bool
parse_limits(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	return cfg_optional_object(ctx, v, limits_keys, NKEYS(limits_keys), &((struct config *)dst)->limits);
}

static bool
parse_access_log(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	return cfg_optional_object(ctx, v, access_log_keys, NKEYS(access_log_keys),
	    &((struct config *)dst)->access_log);
}

/* A user or group name as useradd(8) accepts it: [a-z_][a-z0-9_-]*[$]? (the name must exist at start). */
static const char *
check_account_name(const char *s)
{
	const char *why = "a user or group name of [a-z0-9_-] starting with a letter or '_'";

	if (!(islower((unsigned char)s[0]) || s[0] == '_'))
		return why;
	for (s++; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_' && *s != '-' &&
		    !(*s == '$' && s[1] == '\0'))
			return why;
	return NULL;
}

/* --- tables, geoip, policy files ------------------------------------- */

static const char *
check_table_name(const char *s)
{
	return arn_valid_table_name(s, strlen(s)) ? NULL : "a table name of 3-255 characters of [A-Za-z0-9_.-]";
}

static bool
parse_tables(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	struct config *c = dst;
	const cJSON *t, *pk;
	size_t n, mark, m2;
	bool ok = true;

	if (v == NULL)
		return true;
	if (!cJSON_IsObject(v) || (n = (size_t)cJSON_GetArraySize(v)) > 10000) {
		diag_error(ctx->d, ctx->path.text, "expected an object of at most 10000 tables");
		return false;
	}
	if (n > 0 && (c->tables = calloc(n, sizeof(*c->tables))) == NULL)
		abort();
	cJSON_ArrayForEach(t, v) {
		mark = diag_path_member(&ctx->path, t->string);
		pk = cJSON_GetObjectItemCaseSensitive(t, "partition_key");
		if (check_table_name(t->string) != NULL) {
			diag_error(ctx->d, ctx->path.text, "expected %s as the key", check_table_name(t->string));
			ok = false;
		} else if (!cJSON_IsObject(t) || cJSON_GetArraySize(t) != 1 || !cJSON_IsString(pk) ||
			   pk->valuestring[0] == '\0' || strlen(pk->valuestring) > 255) {
			m2 = diag_path_member(&ctx->path, "partition_key");
			diag_error(ctx->d, ctx->path.text,
			    "expected {\"partition_key\": \"<attribute name>\"} and nothing else");
			diag_path_pop(&ctx->path, m2);
			ok = false;
		} else {
			c->tables[c->ntables].table = xstrdup(t->string);
			c->tables[c->ntables].partition_key = xstrdup(pk->valuestring);
			c->ntables++;
		}
		diag_path_pop(&ctx->path, mark);
	}
	return ok;
}

/* --- rate limits ------------------------------------------------------ */

#define CFG_RATE_LIMITS_MAX 256
#define CFG_RATE_MAX 1000000.0
#define CFG_BURST_MAX 1000000u

static const char *
check_rate_action(const char *s)
{
	size_t i;

	for (i = 0; i < catalog_count(); i++)
		if (policy_glob_match(s, catalog_at(i)->iam_action, true))
			return NULL;
	return "a \"dynamodb:<Operation>\" pattern (with * and ?) matching an operation ddbguard knows";
}

static const char *
check_rate_name(const char *s)
{
	size_t n = strlen(s), i;

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			break;
	return (n == 0 || n > 64 || i < n) ? "1-64 characters of [A-Za-z0-9_.-]" : NULL;
}

static bool
parse_rate_limit(struct cfg_ctx *ctx, const cJSON *v, struct config *c, struct rate_limit_config *r)
{
	static const char *const known[] = { "name", "per", "identity", "actions", "tables", "rate", "burst" };
	const cJSON *m;
	size_t k, mark;
	bool ok = true;

	if (!cJSON_IsObject(v)) {
		diag_error(ctx->d, ctx->path.text, "expected a rate limit object, got %s", json_type_name(v));
		return false;
	}
	cJSON_ArrayForEach(m, v) {
		for (k = 0; k < sizeof(known) / sizeof(known[0]) && strcmp(known[k], m->string) != 0; k++)
			;
		if (k == sizeof(known) / sizeof(known[0])) {
			mark = diag_path_member(&ctx->path, m->string);
			diag_error(ctx->d, ctx->path.text,
			    "unknown key (expected name, per, identity, actions, tables, rate, burst)");
			diag_path_pop(&ctx->path, mark);
			ok = false;
		}
	}
	mark = diag_path_member(&ctx->path, "name");
	m = cJSON_GetObjectItemCaseSensitive(v, "name");
	if (!cJSON_IsString(m) || check_rate_name(m->valuestring) != NULL) {
		diag_error(ctx->d, ctx->path.text, "expected a name of %s", check_rate_name(""));
		ok = false;
	} else {
		for (k = 0; k < c->nrate_limits; k++)
			if (strcmp(c->rate_limits[k].name, m->valuestring) == 0) {
				diag_error(ctx->d, ctx->path.text, "duplicate rate limit name \"%s\"", m->valuestring);
				ok = false;
			}
		r->name = xstrdup(m->valuestring);
	}
	diag_path_pop(&ctx->path, mark);
	mark = diag_path_member(&ctx->path, "per");
	m = cJSON_GetObjectItemCaseSensitive(v, "per");
	if (m != NULL && !(cJSON_IsString(m) && (strcmp(m->valuestring, "identity") == 0 ||
						 strcmp(m->valuestring, "source_address") == 0))) {
		diag_error(ctx->d, ctx->path.text, "expected \"identity\" or \"source_address\"");
		ok = false;
	}
	r->per_source = m != NULL && cJSON_IsString(m) && strcmp(m->valuestring, "source_address") == 0;
	diag_path_pop(&ctx->path, mark);
	mark = diag_path_member(&ctx->path, "identity");
	m = cJSON_GetObjectItemCaseSensitive(v, "identity");
	if (m != NULL && !cJSON_IsString(m)) {
		diag_error(ctx->d, ctx->path.text, "expected an identity name");
		ok = false;
	} else if (m != NULL) {
		r->identity = xstrdup(m->valuestring); /* checked against "identities" after they compile */
	}
	diag_path_pop(&ctx->path, mark);
	mark = diag_path_member(&ctx->path, "actions");
	if ((m = cJSON_GetObjectItemCaseSensitive(v, "actions")) != NULL)
		ok = cfg_string_array(ctx, m, 256, check_rate_action, &r->actions, &r->nactions) && ok;
	diag_path_pop(&ctx->path, mark);
	mark = diag_path_member(&ctx->path, "tables");
	if ((m = cJSON_GetObjectItemCaseSensitive(v, "tables")) != NULL)
		ok = cfg_string_array(ctx, m, 256, check_table_name, &r->tables, &r->ntables) && ok;
	diag_path_pop(&ctx->path, mark);
	mark = diag_path_member(&ctx->path, "rate");
	m = cJSON_GetObjectItemCaseSensitive(v, "rate");
	if (!cJSON_IsNumber(m) || !(m->valuedouble > 0) || m->valuedouble > CFG_RATE_MAX) {
		diag_error(ctx->d, ctx->path.text, "expected calls per second, a number > 0 and <= %.0f", CFG_RATE_MAX);
		ok = false;
	} else {
		r->rate = m->valuedouble;
	}
	diag_path_pop(&ctx->path, mark);
	mark = diag_path_member(&ctx->path, "burst");
	m = cJSON_GetObjectItemCaseSensitive(v, "burst");
	if (m == NULL) {
		r->burst = r->rate >= 1 ? (uint32_t)(r->rate + 0.999999) : 1; /* a second's worth */
	} else if (!cJSON_IsNumber(m) || m->valuedouble < 1 || m->valuedouble > CFG_BURST_MAX ||
		   m->valuedouble != (double)(uint32_t)m->valuedouble) {
		diag_error(ctx->d, ctx->path.text, "expected an integer 1..%u", CFG_BURST_MAX);
		ok = false;
	} else {
		r->burst = (uint32_t)m->valuedouble;
	}
	diag_path_pop(&ctx->path, mark);
	return ok;
}

static bool
parse_rate_limits(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	struct config *c = dst;
	const cJSON *e;
	size_t n, mark, i = 0;
	bool ok = true;

	if (!cJSON_IsArray(v) || (n = (size_t)cJSON_GetArraySize(v)) > CFG_RATE_LIMITS_MAX) {
		diag_error(ctx->d, ctx->path.text, "expected an array of at most %d rate limits", CFG_RATE_LIMITS_MAX);
		return false;
	}
	if (n > 0 && (c->rate_limits = calloc(n, sizeof(*c->rate_limits))) == NULL)
		abort();
	cJSON_ArrayForEach(e, v) {
		mark = diag_path_index(&ctx->path, i++);
		ok = parse_rate_limit(ctx, e, c, &c->rate_limits[c->nrate_limits]) && ok;
		c->nrate_limits++; /* freed by config_free either way */
		diag_path_pop(&ctx->path, mark);
	}
	return ok;
}

/* Cross-field: a rule's identity must be one of "identities". */
static void
cfg_finish_rate_limits(struct cfg_ctx *ctx, struct config *c, const cJSON *ids)
{
	const cJSON *id, *name;
	char where[64];
	size_t i;
	bool found;

	for (i = 0; i < c->nrate_limits; i++) {
		if (c->rate_limits[i].identity == NULL)
			continue;
		found = false;
		cJSON_ArrayForEach(id, ids) {
			name = cJSON_GetObjectItemCaseSensitive(id, "name");
			found = found || (cJSON_IsString(name) && strcmp(name->valuestring, c->rate_limits[i].identity) == 0);
		}
		if (!found) {
			snprintf(where, sizeof(where), "$.rate_limits[%zu].identity", i);
			diag_error(ctx->d, where, "no identity is named \"%s\"", c->rate_limits[i].identity);
		}
	}
}

static const struct cfg_key geoip_keys[] = {
	{ .name = "country_database", .type = CFG_PATH, .offset = offsetof(struct geoip_config, country_database) },
	{ .name = "asn_database", .type = CFG_PATH, .offset = offsetof(struct geoip_config, asn_database) },
};

static bool
parse_geoip(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	struct config *c = dst;

	if (!cfg_object_load(ctx, v, geoip_keys, NKEYS(geoip_keys), &c->geoip))
		return false;
	if (c->geoip.country_database == NULL && c->geoip.asn_database == NULL) {
		diag_error(ctx->d, ctx->path.text, "expected country_database, asn_database or both");
		return false;
	}
	return true;
}

/* Policies are compiled after the walk, once policy_files are merged in. */
static bool
parse_policies(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	if (!cJSON_IsObject(v)) {
		diag_error(ctx->d, ctx->path.text, "expected an object of named policies, got %s", json_type_name(v));
		return false;
	}
	return true;
}

static bool
parse_policy_files(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	const cJSON *e;

	if (v == NULL)
		return true;
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > 64) {
		diag_error(ctx->d, ctx->path.text, "expected an array of at most 64 file names");
		return false;
	}
	cJSON_ArrayForEach(e, v) {
		if (!cJSON_IsString(e) || e->valuestring[0] == '\0') {
			diag_error(ctx->d, ctx->path.text, "expected an array of file names");
			return false;
		}
	}
	return true;
}

static char *cfg_read_file(const char *path, size_t *len, struct diag *d, const char *where);

/* --- policy parameters ------------------------------------------------ */

#define CFG_PARAM_PREFIX "${param:"

static bool
parse_policy_parameters(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	const cJSON *p, *e;
	size_t mark;
	bool ok = true;

	if (v == NULL)
		return true;
	if (!cJSON_IsObject(v)) {
		diag_error(ctx->d, ctx->path.text, "expected an object of named parameters");
		return false;
	}
	cJSON_ArrayForEach(p, v) {
		bool good = cJSON_IsString(p) || (cJSON_IsArray(p) && cJSON_GetArraySize(p) > 0);

		cJSON_ArrayForEach(e, p) good = good && cJSON_IsString(e);
		for (const char *q = p->string; *q && good; q++)
			good = isalnum((unsigned char)*q) || *q == '_' || *q == '-';
		if (!good || p->string[0] == '\0') {
			mark = diag_path_member(&ctx->path, p->string);
			diag_error(ctx->d, ctx->path.text,
			    "expected a [A-Za-z0-9_-] name and a string or a non-empty array of strings");
			diag_path_pop(&ctx->path, mark);
			ok = false;
		}
	}
	return ok;
}

/* The parameter a string names ("${param:NAME}"), NULL if it names none; *unknown if NAME is not defined. */
static const cJSON *
cfg_param_of(const cJSON *params, const char *s, bool *unknown)
{
	size_t plen = strlen(CFG_PARAM_PREFIX), n = strlen(s);
	char name[128];

	*unknown = false;
	if (n <= plen + 1 || strncmp(s, CFG_PARAM_PREFIX, plen) != 0 || s[n - 1] != '}' || n - plen - 1 >= sizeof(name))
		return NULL;
	memcpy(name, s + plen, n - plen - 1);
	name[n - plen - 1] = '\0';
	{
		const cJSON *p = params ? cJSON_GetObjectItemCaseSensitive(params, name) : NULL;

		*unknown = p == NULL;
		return p;
	}
}

/* The values of a parameter as a new array (a single string becomes a one-element array). */
static cJSON *
cfg_param_values(const cJSON *p)
{
	cJSON *arr = cJSON_IsArray(p) ? cJSON_Duplicate(p, true) : cJSON_CreateArray();

	if (arr == NULL || (cJSON_IsString(p) && !cJSON_AddItemToArray(arr, cJSON_CreateString(p->valuestring))))
		abort();
	return arr;
}

/*
 * Replaces every "${param:NAME}" string in a policy tree: inside an array its
 * values are spliced in, elsewhere the string becomes the array of them. This
 * is what lets config/policies/baseline.json be included unchanged.
 */
static void cfg_expand_params(struct cfg_ctx *ctx, cJSON *node, const cJSON *params);

/* A reference to report, or false if `c` is not one; *p gets the parameter when it exists. */
static bool
cfg_param_ref(struct cfg_ctx *ctx, const cJSON *c, const cJSON *params, const cJSON **p)
{
	bool unknown;

	if (!cJSON_IsString(c))
		return false;
	*p = cfg_param_of(params, c->valuestring, &unknown);
	if (unknown)
		diag_error(ctx->d, ctx->path.text, "unknown policy parameter %s (define it in policy_parameters)",
		    c->valuestring);
	return *p != NULL || unknown;
}

static void
cfg_expand_array(struct cfg_ctx *ctx, cJSON *arr, const cJSON *params)
{
	cJSON *out = cJSON_CreateArray(), *c, *v, *vals;
	const cJSON *p;
	size_t i = 0, mark;

	if (out == NULL)
		abort();
	while ((c = arr->child) != NULL) {
		cJSON_DetachItemViaPointer(arr, c);
		mark = diag_path_index(&ctx->path, i++);
		if (cfg_param_ref(ctx, c, params, &p)) {
			if (p != NULL) {
				vals = cfg_param_values(p);
				while ((v = vals->child) != NULL) {
					cJSON_DetachItemViaPointer(vals, v);
					cJSON_AddItemToArray(out, v);
				}
				cJSON_Delete(vals);
			}
			cJSON_Delete(c);
		} else {
			cfg_expand_params(ctx, c, params);
			cJSON_AddItemToArray(out, c);
		}
		diag_path_pop(&ctx->path, mark);
	}
	arr->child = out->child; /* the expanded elements move back, in order */
	out->child = NULL;
	cJSON_Delete(out);
}

static void
cfg_expand_params(struct cfg_ctx *ctx, cJSON *node, const cJSON *params)
{
	const cJSON *p;
	cJSON *c, *next;
	size_t mark;

	if (cJSON_IsArray(node)) {
		cfg_expand_array(ctx, node, params);
		return;
	}
	if (!cJSON_IsObject(node))
		return;
	for (c = node->child; c != NULL; c = next) {
		next = c->next;
		mark = diag_path_member(&ctx->path, c->string);
		if (cfg_param_ref(ctx, c, params, &p)) {
			if (p != NULL)
				cJSON_ReplaceItemInObjectCaseSensitive(node, c->string, cfg_param_values(p));
		} else {
			cfg_expand_params(ctx, c, params);
		}
		diag_path_pop(&ctx->path, mark);
	}
}

/*
 * One object of named policies from the inline "policies" and every file of
 * "policy_files" (each a JSON object of named policies, as config/policies/
 * ships them). A name defined twice is an error: which one applies would
 * otherwise depend on order.
 */
static cJSON *
cfg_merge_policies(struct cfg_ctx *ctx, const cJSON *root, struct config *c)
{
	const cJSON *inline_p = cJSON_GetObjectItemCaseSensitive(root, "policies");
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "policy_files");
	cJSON *merged = cJSON_Duplicate(inline_p, true), *fp, *item;
	const cJSON *f;
	struct json_opts opts = { .max_depth = 64 };
	struct json_error jerr;
	size_t i = 0, len;
	char where[96], *path, *buf;

	if (merged == NULL)
		abort();
	cJSON_ArrayForEach(f, files) {
		snprintf(where, sizeof(where), "$.policy_files[%zu]", i++);
		path = cfg_resolve_path(ctx, f->valuestring);
		if ((c->policy_files = realloc(c->policy_files, (c->npolicy_files + 1) * sizeof(char *))) == NULL)
			abort();
		c->policy_files[c->npolicy_files++] = xstrdup(path);
		buf = cfg_read_file(path, &len, ctx->d, where);
		fp = buf ? json_parse_strict(buf, len, &opts, &jerr) : NULL;
		if (buf != NULL && fp == NULL)
			diag_error(ctx->d, where, "%s: line %u column %u: %s", path, jerr.line, jerr.column, jerr.msg);
		else if (fp != NULL && !cJSON_IsObject(fp))
			diag_error(ctx->d, where, "%s: expected an object of named policies", path);
		else if (fp != NULL)
			while ((item = fp->child) != NULL) {
				cJSON_DetachItemViaPointer(fp, item);
				if (cJSON_GetObjectItemCaseSensitive(merged, item->string) != NULL) {
					diag_error(ctx->d, where, "%s: policy \"%s\" is already defined", path, item->string);
					cJSON_Delete(item);
				} else {
					cJSON_AddItemToObject(merged, item->string, item);
				}
			}
		cJSON_Delete(fp);
		free(buf);
		free(path);
	}
	return merged;
}

struct sigv4_config {
	uint32_t clock_skew_s;
};

static const struct cfg_key sigv4_keys[] = {
	{ .name = "clock_skew_s", .type = CFG_U32, .min = 1, .max = 3600, .def = 900,
	    .offset = offsetof(struct sigv4_config, clock_skew_s) },
};


/* "sigv4": {"clock_skew_s": 900}: how far X-Amz-Date may be from our clock for issued keys (AWS: 15 minutes). */
static bool
parse_sigv4(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	struct config *c = dst;
	struct sigv4_config sc = { 0 };
	bool ok = cfg_optional_object(ctx, v, sigv4_keys, NKEYS(sigv4_keys), &sc);

	c->sigv4_clock_skew_s = sc.clock_skew_s;
	return ok;
}

static bool
parse_credential_sources(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	static const char *const names[] = { "environment", "shared_file", "imds" };
	struct credentials_config *cc = dst;
	const cJSON *e;

	if (v == NULL) { /* default: the usual chain */
		cc->nsources = 3;
		for (size_t i = 0; i < 3; i++)
			cc->sources[i] = (enum credentials_source)i;
		return true;
	}
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > CONFIG_CREDENTIAL_SOURCES_MAX) {
		diag_error(ctx->d, ctx->path.text, "expected an array of 1..3 of \"environment\", \"shared_file\", \"imds\"");
		return false;
	}
	cJSON_ArrayForEach(e, v) {
		size_t k;

		for (k = 0; k < 3 && !(cJSON_IsString(e) && strcmp(e->valuestring, names[k]) == 0); k++)
			;
		for (size_t j = 0; k < 3 && j < cc->nsources; j++) {
			if (cc->sources[j] == (enum credentials_source)k)
				k = 4;
		}
		if (k >= 3) {
			diag_error(ctx->d, ctx->path.text,
			    "expected distinct sources among \"environment\", \"shared_file\", \"imds\"");
			return false;
		}
		cc->sources[cc->nsources++] = (enum credentials_source)k;
	}
	return true;
}

static const char *
check_http_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0 ? NULL : "an http:// or https:// URL";
}

static const char *
check_https_url(const char *s)
{
	/* STS answers with secret keys: only over verified TLS. */
	return strncmp(s, "https://", 8) == 0 ? NULL : "an https:// URL (STS is only spoken over verified TLS)";
}

static const struct cfg_key credentials_keys[] = {
	{ .name = "sources", .type = CFG_CUSTOM, .parse = parse_credential_sources, .parse_when_absent = true },
	{ .name = "shared_file", .type = CFG_PATH, .offset = offsetof(struct credentials_config, shared_file) },
	{ .name = "profile", .type = CFG_STRING, .max = 128, .offset = offsetof(struct credentials_config, profile) },
	{ .name = "imds_endpoint", .type = CFG_STRING, .max = 256, .check = check_http_url,
	    .def_str = "http://169.254.169.254", .offset = offsetof(struct credentials_config, imds_endpoint) },
	{ .name = "sts_endpoint", .type = CFG_STRING, .max = 256, .check = check_https_url,
	    .offset = offsetof(struct credentials_config, sts_endpoint) },
	{ .name = "sts_region", .type = CFG_STRING, .max = 32, .check = check_region,
	    .offset = offsetof(struct credentials_config, sts_region) },
	{ .name = "ca_file", .type = CFG_PATH, .offset = offsetof(struct credentials_config, ca_file) },
	{ .name = "account_id", .type = CFG_STRING, .check = check_account_id,
	    .offset = offsetof(struct credentials_config, account_id) },
	{ .name = "refresh_before_s", .type = CFG_U32, .min = 1, .max = 3600, .def = 300,
	    .offset = offsetof(struct credentials_config, refresh_before_s) },
	{ .name = "session_duration_s", .type = CFG_U32, .min = 900, .max = 43200, .def = 3600,
	    .offset = offsetof(struct credentials_config, session_duration_s) },
	{ .name = "timeout_ms", .type = CFG_U32, .min = 100, .max = 60000, .def = 3000,
	    .offset = offsetof(struct credentials_config, timeout_ms) },
};

static bool
parse_credentials(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	struct config *c = dst;

	return cfg_optional_object(ctx, v, credentials_keys, NKEYS(credentials_keys), &c->credentials);
}

/* Identities refer to policies by name, so they are compiled after the top-level walk. */
static bool
parse_deferred(struct cfg_ctx *ctx, const cJSON *v, void *dst)
{
	return true;
}

static const struct cfg_key top_keys[] = {
	{ .name = "account_id", .type = CFG_STRING, .required = true, .check = check_account_id,
	    .offset = offsetof(struct config, account_id) },
	{ .name = "listeners", .type = CFG_CUSTOM, .required = true, .parse = parse_listeners },
	{ .name = "upstream", .type = CFG_CUSTOM, .parse = parse_upstream, .parse_when_absent = true },
	{ .name = "limits", .type = CFG_CUSTOM, .parse = parse_limits, .parse_when_absent = true },
	{ .name = "access_log", .type = CFG_CUSTOM, .parse = parse_access_log, .parse_when_absent = true },
	{ .name = "egress", .type = CFG_CUSTOM, .parse = parse_egress },
	{ .name = "admin", .type = CFG_CUSTOM, .parse = parse_admin },
	{ .name = "policies", .type = CFG_CUSTOM, .required = true, .parse = parse_policies },
	{ .name = "policy_files", .type = CFG_CUSTOM, .parse = parse_policy_files },
	{ .name = "policy_parameters", .type = CFG_CUSTOM, .parse = parse_policy_parameters },
	{ .name = "tables", .type = CFG_CUSTOM, .parse = parse_tables },
	{ .name = "geoip", .type = CFG_CUSTOM, .parse = parse_geoip },
	{ .name = "rate_limits", .type = CFG_CUSTOM, .parse = parse_rate_limits },
	{ .name = "identities", .type = CFG_CUSTOM, .required = true, .parse = parse_deferred },
	{ .name = "sigv4", .type = CFG_CUSTOM, .parse = parse_sigv4, .parse_when_absent = true },
	{ .name = "credentials", .type = CFG_CUSTOM, .parse = parse_credentials, .parse_when_absent = true },
	{ .name = "user", .type = CFG_STRING, .max = 32, .check = check_account_name,
	    .offset = offsetof(struct config, user) },
	{ .name = "group", .type = CFG_STRING, .max = 32, .check = check_account_name,
	    .offset = offsetof(struct config, group) },
	{ .name = "allow_root", .type = CFG_BOOL, .def = 0, .offset = offsetof(struct config, allow_root) },
};

/* --- cross-field checks ---------------------------------------------- */

/* dynamodb[-fips].<region>.amazonaws.com[.cn] and streams.dynamodb.<region>... */
static char *
cfg_region_from_host(const char *host)
{
	static const char *const prefixes[] = { "dynamodb.", "dynamodb-fips.", "streams.dynamodb." };
	const char *rest = NULL, *dot;
	size_t i;

	for (i = 0; i < NKEYS(prefixes) && rest == NULL; i++)
		if (strncmp(host, prefixes[i], strlen(prefixes[i])) == 0)
			rest = host + strlen(prefixes[i]);
	if (rest == NULL || (dot = strchr(rest, '.')) == NULL || dot == rest)
		return NULL;
	if (strcmp(dot, ".amazonaws.com") != 0 && strcmp(dot, ".amazonaws.com.cn") != 0)
		return NULL;
	return strndup(rest, (size_t)(dot - rest));
}

static void
cfg_finish_upstream(struct cfg_ctx *ctx, struct config *c)
{
	struct upstream_config *u = &c->upstream;
	size_t mark = diag_path_member(&ctx->path, "upstream");

	if (u->dynamodb.host == NULL) {
		if (c->has_reverse_listener) {
			size_t m2 = diag_path_member(&ctx->path, "dynamodb");

			diag_error(ctx->d, ctx->path.text, "required: a reverse listener needs an upstream endpoint");
			diag_path_pop(&ctx->path, m2);
		}
		diag_path_pop(&ctx->path, mark);
		return;
	}
	if (u->region == NULL && (u->region = cfg_region_from_host(u->dynamodb.host)) == NULL) {
		size_t m2 = diag_path_member(&ctx->path, "region");

		diag_error(ctx->d, ctx->path.text,
		    "required: the region cannot be derived from the host name \"%s\"", u->dynamodb.host);
		diag_path_pop(&ctx->path, m2);
	}
	if (u->region != NULL)
		u->partition = xstrdup(arn_partition_for_region(u->region));
	diag_path_pop(&ctx->path, mark);
}

static void
cfg_finish_listeners(struct cfg_ctx *ctx, struct config *c)
{
	bool egress_listener = false;
	size_t i, mark;

	for (i = 0; i < c->nlisteners; i++) {
		if (c->listeners[i].kind == LISTENER_REVERSE)
			c->has_reverse_listener = true;
		if (c->listeners[i].kind != LISTENER_EGRESS)
			continue;
		egress_listener = true;
		if (c->listeners[i].tls_cert != NULL) {
			mark = diag_path_member(&ctx->path, "listeners");
			size_t m2 = diag_path_index(&ctx->path, i);

			diag_error(ctx->d, ctx->path.text,
			    "an egress listener speaks plain HTTP CONNECT (TLS runs inside the tunnel); remove \"tls\"");
			diag_path_pop(&ctx->path, m2);
			diag_path_pop(&ctx->path, mark);
		}
	}
	if (egress_listener && !c->egress.enabled)
		diag_error(ctx->d, "$.egress", "required: a listener has kind \"egress\"");
	if (!egress_listener && c->egress.enabled)
		diag_error(ctx->d, "$.egress", "configured, but no listener has kind \"egress\"");
	if (c->egress.enabled && c->egress.naccount_ids == 0 && c->account_id != NULL) {
		/*
		 * FIX (found by fuzz_config, a leak): an "account_ids" whose every entry was
		 * refused leaves an empty array behind; free it before the default replaces it.
		 */
		free(c->egress.account_ids);
		if ((c->egress.account_ids = calloc(1, sizeof(char *))) == NULL)
			abort();
		c->egress.account_ids[0] = xstrdup(c->account_id);
		c->egress.naccount_ids = 1;
	}
}

/*
 * Condition keys whose values come from a source the config must name: a
 * policy testing ddbguard:SourceCountry without geoip.country_database would
 * see the key absent on every call (StringNotEquals then denies everything,
 * StringEquals never allows). `merged` is the policies object after
 * policy_files and parameters; paths are under $.policies.
 */
static void
cfg_check_condition_sources(struct cfg_ctx *ctx, const struct config *c, const cJSON *merged)
{
	static const struct {
		const char *key, *needs;
		size_t offset; /* of the char * in struct geoip_config that must be set */
	} sources[] = {
		{ "ddbguard:SourceCountry", "geoip.country_database", offsetof(struct geoip_config, country_database) },
		{ "ddbguard:SourceASN", "geoip.asn_database", offsetof(struct geoip_config, asn_database) },
	};
	const cJSON *pol, *stmts, *st, *cond, *op, *key;
	size_t m1, m2, m3, m4, m5, si, i;

	cJSON_ArrayForEach(pol, merged) {
		if ((stmts = cJSON_GetObjectItemCaseSensitive(pol, "Statement")) == NULL)
			continue;
		m1 = diag_path_member(&ctx->path, pol->string);
		m2 = diag_path_member(&ctx->path, "Statement");
		si = 0;
		for (st = cJSON_IsArray(stmts) ? stmts->child : stmts; st != NULL; st = cJSON_IsArray(stmts) ? st->next : NULL) {
			m3 = cJSON_IsArray(stmts) ? diag_path_index(&ctx->path, si++) : ctx->path.len;
			cond = cJSON_GetObjectItemCaseSensitive(st, "Condition");
			if (!cJSON_IsObject(cond))
				cond = NULL;
			m4 = diag_path_member(&ctx->path, "Condition");
			cJSON_ArrayForEach(op, cond) {
				size_t mo = diag_path_member(&ctx->path, op->string);
				const cJSON *keys = cJSON_IsObject(op) ? op : NULL;

				cJSON_ArrayForEach(key, keys) {
					for (i = 0; i < NKEYS(sources); i++) {
						if (strcasecmp(key->string, sources[i].key) != 0 ||
						    *(char *const *)((const char *)&c->geoip + sources[i].offset) != NULL)
							continue;
						m5 = diag_path_member(&ctx->path, key->string);
						diag_error(ctx->d, ctx->path.text,
						    "%s has no source: set %s (a MaxMind .mmdb), or every call sees the key absent",
						    sources[i].key, sources[i].needs);
						diag_path_pop(&ctx->path, m5);
					}
				}
				diag_path_pop(&ctx->path, mo);
			}
			diag_path_pop(&ctx->path, m4);
			diag_path_pop(&ctx->path, m3);
		}
		diag_path_pop(&ctx->path, m2);
		diag_path_pop(&ctx->path, m1);
	}
}

/* --- entry points ---------------------------------------------------- */

static struct config *
config_from_json(struct cfg_ctx *ctx, const char *name, const cJSON *root)
{
	struct config *c;
	size_t mark;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		abort();
	c->file = xstrdup(name);
	cfg_object_load(ctx, root, top_keys, NKEYS(top_keys), c);
	cfg_finish_listeners(ctx, c);
	cfg_finish_upstream(ctx, c);
	/* A body as large as max_body_bytes must fit the in-flight budget, or it would be throttled for ever. */
	if (c->limits.max_bodies_in_flight_bytes < c->limits.max_body_bytes)
		diag_error(ctx->d, "$.limits.max_bodies_in_flight_bytes",
		    "must be at least limits.max_body_bytes (%llu)", (unsigned long long)c->limits.max_body_bytes);
	if (cJSON_IsObject(root) && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "policies"))) {
		cJSON *merged = cfg_merge_policies(ctx, root, c);

		mark = diag_path_member(&ctx->path, "policies");
		cfg_expand_params(ctx, merged, cJSON_GetObjectItemCaseSensitive(root, "policy_parameters"));
		c->policies = policy_set_compile(merged, ctx->d, &ctx->path);
		cfg_check_condition_sources(ctx, c, merged);
		diag_path_pop(&ctx->path, mark);
		cJSON_Delete(merged);
	}
	/* Identities are checked even when policies failed, so --check lists every error at once. */
	if (cJSON_IsObject(root)) {
		const cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "identities");

		if (ids != NULL) {
			const char **names = calloc(c->nlisteners + 1, sizeof(*names));
			bool *ca = calloc(c->nlisteners + 1, sizeof(*ca));
			struct identity_env env = { .base_dir = ctx->base_dir, .listeners = names,
				.listener_client_cert = ca, .nlisteners = c->nlisteners, .account_id = c->account_id };

			if (names == NULL || ca == NULL)
				abort();
			for (size_t i = 0; i < c->nlisteners; i++) {
				names[i] = c->listeners[i].name ? c->listeners[i].name : "";
				ca[i] = c->listeners[i].client_ca != NULL;
			}
			mark = diag_path_member(&ctx->path, "identities");
			c->identities = identity_set_compile_env(ids, c->policies, &env, ctx->d, &ctx->path);
			diag_path_pop(&ctx->path, mark);
			cfg_finish_rate_limits(ctx, c, ids);
			free(names);
			free(ca);
		}
	}
	if (diag_count(ctx->d) > 0) {
		config_free(c);
		return NULL;
	}
	return c;
}

struct config *
config_load_buffer(const char *name, const char *buf, size_t len, const char *base_dir, struct diag *d)
{
	struct cfg_ctx ctx = { .d = d, .base_dir = base_dir };
	struct json_opts opts = { .max_depth = 64 };
	struct json_error jerr;
	struct config *c;
	cJSON *root;

	diag_path_init(&ctx.path);
	if ((root = json_parse_strict(buf, len, &opts, &jerr)) == NULL) {
		char where[64] = "$";

		if (jerr.line > 0) /* syntax errors have a position; duplicate keys name their path instead */
			snprintf(where, sizeof(where), "line %u column %u", jerr.line, jerr.column);
		diag_error(d, where, "%s", jerr.msg);
		return NULL;
	}
	c = config_from_json(&ctx, name, root);
	cJSON_Delete(root);
	return c;
}

static char *
cfg_read_file(const char *path, size_t *len, struct diag *d, const char *where)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		diag_error(d, where, "cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)CONFIG_MAX_FILE_BYTES) {
		diag_error(d, where, "%s: not a regular file of at most %u bytes", path, CONFIG_MAX_FILE_BYTES);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		abort();
	while (got < (size_t)st.st_size && (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	if (got != (size_t)st.st_size) {
		diag_error(d, where, "%s: short read", path);
		goto fail;
	}
	buf[got] = '\0';
	close(fd);
	*len = got;
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

struct config *
config_load(const char *path, struct diag *d)
{
	struct config *c;
	char *buf, *dir, *slash;
	size_t len;

	if ((buf = cfg_read_file(path, &len, d, "$")) == NULL)
		return NULL;
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		strcpy(dir, ".");
	c = config_load_buffer(path, buf, len, dir[0] ? dir : "/", d);
	free(dir);
	free(buf);
	return c;
}

static void
upstream_url_free(struct upstream_url *u)
{
	free(u->host);
	free(u->tls_name);
	free(u->text);
}

static void
egress_config_free(struct egress_config *e)
{
	size_t i;

	free(e->ca_cert);
	free(e->ca_key);
	for (i = 0; i < e->nregions; i++)
		free(e->regions[i]);
	free(e->regions);
	for (i = 0; i < e->naccount_ids; i++)
		free(e->account_ids[i]);
	free(e->account_ids);
	for (i = 0; i < e->nroutes; i++) {
		free(e->routes[i].host);
		free(e->routes[i].to_host);
	}
	free(e->routes);
	for (i = 0; i < e->nvpc_endpoints; i++)
		free(e->vpc_endpoints[i]);
	free(e->vpc_endpoints);
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nlisteners; i++) {
		free(c->listeners[i].name);
		free(c->listeners[i].address);
		free(c->listeners[i].tls_cert);
		free(c->listeners[i].tls_key);
		free(c->listeners[i].client_ca);
	}
	free(c->listeners);
	upstream_url_free(&c->upstream.dynamodb);
	upstream_url_free(&c->upstream.streams);
	free(c->upstream.region);
	free(c->upstream.partition);
	free(c->upstream.ca_file);
	free(c->upstream.host_header);
	free(c->access_log.path);
	free(c->access_log.syslog);
	free(c->access_log.sync);
	free(c->admin.address);
	free(c->access_log.signing_key);
	egress_config_free(&c->egress);
	for (size_t t = 0; t < c->ntables; t++) {
		free(c->tables[t].table);
		free(c->tables[t].partition_key);
	}
	free(c->tables);
	free(c->geoip.country_database);
	free(c->geoip.asn_database);
	for (i = 0; i < c->npolicy_files; i++)
		free(c->policy_files[i]);
	for (i = 0; i < c->nrate_limits; i++) {
		struct rate_limit_config *r = &c->rate_limits[i];

		free(r->name);
		free(r->identity);
		for (size_t k = 0; k < r->nactions; k++)
			free(r->actions[k]);
		free(r->actions);
		for (size_t k = 0; k < r->ntables; k++)
			free(r->tables[k]);
		free(r->tables);
	}
	free(c->rate_limits);
	free(c->policy_files);
	identity_set_free(c->identities);
	policy_set_free(c->policies);
	free(c->credentials.shared_file);
	free(c->credentials.profile);
	free(c->credentials.imds_endpoint);
	free(c->credentials.sts_endpoint);
	free(c->credentials.sts_region);
	free(c->credentials.ca_file);
	free(c->credentials.account_id);
	free(c->user);
	free(c->group);
	free(c->account_id);
	free(c->file);
	free(c);
}

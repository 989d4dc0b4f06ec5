/*
 * credentials: environment, shared credentials file, IMDSv2 and STS
 * AssumeRole (see credentials.h). A small blocking HTTP/1.1 client (one
 * request per connection, Content-Length bodies) with TLS through
 * proxy/tls.c, which verifies the chain and the host name as for upstreams.
 */
#include "proxy/credentials.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "filters/policy/sigv4.h"
#include "proxy/tls.h"

#define CREDS_RESPONSE_MAX (64u << 10)
#define CREDS_IMDS_TOKEN_TTL "21600"
#define CREDS_STS_VERSION "2011-06-15"

void
creds_wipe(struct aws_creds *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
}

static bool
creds_fail(char *why, size_t whylen, const char *fmt, const char *arg)
{
	snprintf(why, whylen, fmt, arg);
	return false;
}

time_t
creds_parse_iso8601(const char *s)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, se;

	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6)
		return 0;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return timegm(&tm);
}

/* ---- a blocking HTTP/1.1 client ---- */

struct creds_url {
	bool tls;
	char host[256];
	char port[8];
	char authority[272]; /* for Host: host[:port] as given */
};

static bool
creds_url_parse(const char *url, struct creds_url *u)
{
	const char *p, *end, *colon;
	size_t hl;

	memset(u, 0, sizeof(*u));
	if (strncmp(url, "https://", 8) == 0) {
		u->tls = true;
		p = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else {
		return false;
	}
	end = p + strcspn(p, "/");
	if (end == p || (size_t)(end - p) >= sizeof(u->authority))
		return false;
	memcpy(u->authority, p, (size_t)(end - p));
	colon = memchr(p, ':', (size_t)(end - p));
	hl = (size_t)((colon ? colon : end) - p);
	if (hl == 0 || hl >= sizeof(u->host))
		return false;
	memcpy(u->host, p, hl);
	if (colon != NULL) {
		if ((size_t)(end - colon - 1) >= sizeof(u->port) || end - colon - 1 == 0)
			return false;
		memcpy(u->port, colon + 1, (size_t)(end - colon - 1));
	} else {
		strcpy(u->port, u->tls ? "443" : "80");
	}
	return *end == '\0' || strcmp(end, "/") == 0;
}

static int
creds_connect(const struct creds_url *u, unsigned timeout_ms, char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	int fd = -1, rc;

	if ((rc = getaddrinfo(u->host, u->port, &hints, &res)) != 0) {
		snprintf(why, whylen, "cannot resolve %s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(why, whylen, "cannot connect to %s: %s", u->authority, strerror(errno));
	return fd;
}

/*
 * Sends one request ("METHOD /path" in `method`) and reads the whole response into resp (NUL-terminated).
 * Returns the HTTP status, or -1 with `why` set. *body points into resp.
 */
static int
creds_http(const struct creds_endpoints *ep, const char *url, const char *method, const char *extra_headers,
    const char *body, size_t blen, char *resp, size_t cap, const char **rbody, char *why, size_t whylen)
{
	struct creds_url u;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	char head[CREDS_TOKEN_MAX + 2048];
	size_t got = 0;
	int fd, status = -1, n;
	char *sep;

	if (!creds_url_parse(url, &u)) {
		snprintf(why, whylen, "not an http(s)://host[:port] URL: %.200s", url);
		return -1;
	}
	n = snprintf(head, sizeof(head),
	    "%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: %zu\r\n%s\r\n", method, u.authority, blen,
	    extra_headers);
	if (n < 0 || (size_t)n >= sizeof(head)) {
		snprintf(why, whylen, "request head too long");
		return -1;
	}
	if ((fd = creds_connect(&u, ep->timeout_ms, why, whylen)) < 0)
		return -1;
	if (u.tls) {
		if ((ctx = tls_client_ctx_new(ep->ca_file)) == NULL || (ssl = tls_client_new(ctx, u.host)) == NULL ||
		    SSL_set_fd(ssl, fd) != 1) {
			snprintf(why, whylen, "cannot set up TLS to %s", u.authority);
			goto out;
		}
		if (SSL_connect(ssl) != 1) {
			tls_describe_error(ssl, ERR_get_error(), why, whylen);
			ERR_clear_error();
			goto out;
		}
	}
	/* write head and body */
	{
		const char *parts[2] = { head, body };
		size_t lens[2] = { (size_t)n, blen };

		for (int i = 0; i < 2; i++) {
			size_t off = 0;

			while (off < lens[i]) {
				int w = ssl ? SSL_write(ssl, parts[i] + off, (int)(lens[i] - off))
					    : (int)write(fd, parts[i] + off, lens[i] - off);
				if (w <= 0) {
					snprintf(why, whylen, "cannot send the request to %s", u.authority);
					goto out;
				}
				off += (size_t)w;
			}
		}
	}
	for (;;) {
		int r = ssl ? SSL_read(ssl, resp + got, (int)(cap - 1 - got)) : (int)read(fd, resp + got, cap - 1 - got);

		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == cap - 1) {
			snprintf(why, whylen, "response from %s is larger than %zu bytes", u.authority, cap - 1);
			goto out;
		}
	}
	resp[got] = '\0';
	if (got < 12 || strncmp(resp, "HTTP/1.", 7) != 0 || (sep = strstr(resp, "\r\n\r\n")) == NULL) {
		snprintf(why, whylen, "no complete HTTP response from %s", u.authority);
		goto out;
	}
	*sep = '\0';
	if (strcasestr(resp, "\r\ntransfer-encoding:") != NULL) {
		snprintf(why, whylen, "%s answered with a transfer coding we do not read", u.authority);
		goto out;
	}
	{
		const char *cl = strcasestr(resp, "\r\ncontent-length:");
		size_t have = got - (size_t)(sep + 4 - resp);

		if (cl != NULL && strtoul(cl + 17, NULL, 10) > have) {
			snprintf(why, whylen, "truncated response from %s", u.authority);
			goto out;
		}
		if (cl != NULL)
			sep[4 + strtoul(cl + 17, NULL, 10)] = '\0';
	}
	status = atoi(resp + 9);
	*rbody = sep + 4;
out:
	if (ssl != NULL) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	SSL_CTX_free(ctx);
	close(fd);
	return status;
}

/* ---- sources ---- */

static bool
creds_copy(char *dst, size_t cap, const char *src, size_t n)
{
	if (src == NULL || n == 0 || n >= cap)
		return false;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return true;
}

static void
creds_note_account(struct aws_creds *c)
{
	if (c->account[0] == '\0' && !sigv4_akid_account(c->akid, c->account))
		c->account[0] = '\0';
}

bool
creds_from_environment(struct aws_creds *out, char *why, size_t whylen)
{
	const char *k = getenv("AWS_ACCESS_KEY_ID"), *s = getenv("AWS_SECRET_ACCESS_KEY");
	const char *t = getenv("AWS_SESSION_TOKEN");

	memset(out, 0, sizeof(*out));
	if (k == NULL || s == NULL || !creds_copy(out->akid, sizeof(out->akid), k, strlen(k)) ||
	    !creds_copy(out->secret, sizeof(out->secret), s, strlen(s)))
		return creds_fail(why, whylen, "%s", "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set");
	if (t != NULL && t[0] != '\0' && !creds_copy(out->token, sizeof(out->token), t, strlen(t))) {
		creds_wipe(out);
		return creds_fail(why, whylen, "%s", "environment: AWS_SESSION_TOKEN is too long");
	}
	out->source = "environment";
	creds_note_account(out);
	return true;
}

/* Trims spaces and tabs at both ends, in place. */
static char *
creds_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

bool
creds_from_shared_file(const struct creds_endpoints *ep, struct aws_creds *out, char *why, size_t whylen)
{
	const char *profile = ep->profile ? ep->profile : getenv("AWS_PROFILE") ? getenv("AWS_PROFILE") : "default";
	char path[1024], line[CREDS_TOKEN_MAX + 64];
	bool in = false, found = false;
	FILE *f;

	memset(out, 0, sizeof(*out));
	if (ep->shared_file != NULL)
		snprintf(path, sizeof(path), "%s", ep->shared_file);
	else if (getenv("AWS_SHARED_CREDENTIALS_FILE") != NULL)
		snprintf(path, sizeof(path), "%s", getenv("AWS_SHARED_CREDENTIALS_FILE"));
	else
		snprintf(path, sizeof(path), "%s/.aws/credentials", getenv("HOME") ? getenv("HOME") : "");
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(why, whylen, "shared_file: cannot open %s: %s", path, strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *l = creds_trim(line), *eq, *k, *v;

		if (*l == '[') {
			char *end = strchr(l, ']');

			if (end != NULL)
				*end = '\0';
			in = strcmp(creds_trim(l + 1), profile) == 0;
			found = found || in;
			continue;
		}
		if (!in || *l == '#' || *l == ';' || (eq = strchr(l, '=')) == NULL)
			continue;
		*eq = '\0';
		k = creds_trim(l);
		v = creds_trim(eq + 1);
		if (strcmp(k, "aws_access_key_id") == 0)
			creds_copy(out->akid, sizeof(out->akid), v, strlen(v));
		else if (strcmp(k, "aws_secret_access_key") == 0)
			creds_copy(out->secret, sizeof(out->secret), v, strlen(v));
		else if (strcmp(k, "aws_session_token") == 0)
			creds_copy(out->token, sizeof(out->token), v, strlen(v));
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	if (out->akid[0] == '\0' || out->secret[0] == '\0') {
		creds_wipe(out);
		snprintf(why, whylen, "shared_file: %s has no profile [%.64s] with aws_access_key_id and "
		    "aws_secret_access_key%s", path, profile, found ? "" : " (no such profile)");
		return false;
	}
	out->source = "shared_file";
	creds_note_account(out);
	return true;
}

/* The text of <tag>...</tag> (first occurrence after `from`) into dst; false if absent or too long. */
static bool
creds_xml(const char *doc, const char *tag, char *dst, size_t cap)
{
	char open[64], close_[64];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close_, sizeof(close_), "</%s>", tag);
	if ((a = strstr(doc, open)) == NULL || (b = strstr(a, close_)) == NULL)
		return false;
	a += strlen(open);
	return creds_copy(dst, cap, a, (size_t)(b - a));
}

/* "Key": "value" of a flat JSON object (IMDS's credential document), without a JSON library round trip. */
static bool
creds_json_str(const char *doc, const char *key, char *dst, size_t cap)
{
	char pat[64];
	const char *a, *b;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	if ((a = strstr(doc, pat)) == NULL || (a = strchr(a + strlen(pat), '"')) == NULL ||
	    (b = strchr(a + 1, '"')) == NULL)
		return false;
	return creds_copy(dst, cap, a + 1, (size_t)(b - a - 1));
}

bool
creds_from_imds(const struct creds_endpoints *ep, struct aws_creds *out, char *why, size_t whylen)
{
	char *resp = malloc(CREDS_RESPONSE_MAX), token[256], role[128], hdr[512], exp[40];
	const char *body = NULL;
	char url[512];
	int st;
	bool ok = false;

	memset(out, 0, sizeof(*out));
	if (resp == NULL)
		return creds_fail(why, whylen, "%s", "imds: out of memory");
	snprintf(url, sizeof(url), "%s", ep->imds);
	/* IMDSv2: a session token first (a PUT, which a misconfigured proxy or SSRF cannot make). */
	st = creds_http(ep, url, "PUT /latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: " CREDS_IMDS_TOKEN_TTL "\r\n",
	    "", 0, resp, CREDS_RESPONSE_MAX, &body, why, whylen);
	if (st != 200 || !creds_copy(token, sizeof(token), body, strcspn(body, "\r\n"))) {
		if (st > 0)
			snprintf(why, whylen, "imds: the token request answered HTTP %d", st);
		goto out;
	}
	snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s\r\n", token);
	st = creds_http(ep, url, "GET /latest/meta-data/iam/security-credentials/", hdr, "", 0, resp, CREDS_RESPONSE_MAX,
	    &body, why, whylen);
	if (st != 200 || !creds_copy(role, sizeof(role), body, strcspn(body, "\r\n/"))) {
		if (st > 0)
			snprintf(why, whylen, "imds: no instance role (HTTP %d)", st);
		goto out;
	}
	{
		char m[256];

		snprintf(m, sizeof(m), "GET /latest/meta-data/iam/security-credentials/%s", role);
		st = creds_http(ep, url, m, hdr, "", 0, resp, CREDS_RESPONSE_MAX, &body, why, whylen);
	}
	if (st != 200 || !creds_json_str(body, "AccessKeyId", out->akid, sizeof(out->akid)) ||
	    !creds_json_str(body, "SecretAccessKey", out->secret, sizeof(out->secret)) ||
	    !creds_json_str(body, "Token", out->token, sizeof(out->token)) ||
	    !creds_json_str(body, "Expiration", exp, sizeof(exp)) || (out->expiry = creds_parse_iso8601(exp)) == 0) {
		if (st > 0)
			snprintf(why, whylen, "imds: the credentials of role %.64s are not usable (HTTP %d)", role, st);
		creds_wipe(out);
		goto out;
	}
	out->source = "imds";
	out->type = "AssumedRole";
	creds_note_account(out);
	ok = true;
out:
	OPENSSL_cleanse(resp, CREDS_RESPONSE_MAX);
	OPENSSL_cleanse(token, sizeof(token));
	free(resp);
	return ok;
}

/* application/x-www-form-urlencoded value (RFC 3986 unreserved kept). */
static void
creds_form_add(char *dst, size_t cap, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(dst);

	n += (size_t)snprintf(dst + n, cap > n ? cap - n : 0, "%s%s=", n ? "&" : "", name);
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0' && n + 4 < cap; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '_' || *p == '.' || *p == '~') {
			dst[n++] = (char)*p;
		} else {
			dst[n++] = '%';
			dst[n++] = hex[*p >> 4];
			dst[n++] = hex[*p & 15];
		}
	}
	dst[n < cap ? n : cap - 1] = '\0';
}

bool
creds_assume_role(const struct creds_endpoints *ep, const struct aws_creds *base, const char *role_arn,
    const char *session_name, const struct creds_tag *tags, size_t ntags, unsigned duration_s,
    struct aws_creds *out, char *why, size_t whylen)
{
	static const char ctype[] = "application/x-www-form-urlencoded; charset=utf-8";
	char form[8192] = "", num[16], name[64], amz_date[17], authz[1024], hdrs[CREDS_TOKEN_MAX + 1536], exp[40];
	char *resp = malloc(CREDS_RESPONSE_MAX);
	struct creds_url u;
	struct sigv4_header h[4];
	struct sigv4_request sr = { .method = "POST", .path = "/", .path_len = 1, .query = "", .headers = h };
	struct sigv4_credentials sc = { base->akid, base->secret, base->token[0] ? base->token : NULL };
	const char *body = NULL;
	time_t now = time(NULL);
	int st;
	bool ok = false;

	memset(out, 0, sizeof(*out));
	if (resp == NULL)
		return creds_fail(why, whylen, "%s", "sts: out of memory");
	if (!creds_url_parse(ep->sts, &u)) {
		snprintf(why, whylen, "sts: not an http(s)://host[:port] URL: %.200s", ep->sts);
		goto out;
	}
	creds_form_add(form, sizeof(form), "Action", "AssumeRole");
	creds_form_add(form, sizeof(form), "Version", CREDS_STS_VERSION);
	creds_form_add(form, sizeof(form), "RoleArn", role_arn);
	creds_form_add(form, sizeof(form), "RoleSessionName", session_name);
	snprintf(num, sizeof(num), "%u", duration_s);
	creds_form_add(form, sizeof(form), "DurationSeconds", num);
	for (size_t i = 0; i < ntags; i++) {
		snprintf(name, sizeof(name), "Tags.member.%zu.Key", i + 1);
		creds_form_add(form, sizeof(form), name, tags[i].key);
		snprintf(name, sizeof(name), "Tags.member.%zu.Value", i + 1);
		creds_form_add(form, sizeof(form), name, tags[i].value);
	}
	sigv4_amz_date(now, amz_date);
	h[0] = (struct sigv4_header){ "content-type", 12, ctype, sizeof(ctype) - 1 };
	h[1] = (struct sigv4_header){ "host", 4, u.authority, strlen(u.authority) };
	h[2] = (struct sigv4_header){ "x-amz-date", 10, amz_date, 16 };
	sr.nheaders = 3;
	if (sc.session_token != NULL)
		h[sr.nheaders++] = (struct sigv4_header){ "x-amz-security-token", 20, sc.session_token,
			strlen(sc.session_token) };
	sr.body = form;
	sr.body_len = strlen(form);
	if (!sigv4_sign(&sr, sc.session_token ? "content-type;host;x-amz-date;x-amz-security-token"
					      : "content-type;host;x-amz-date",
		&sc, ep->sts_region, "sts", now, authz, sizeof(authz))) {
		snprintf(why, whylen, "sts: cannot sign the request");
		goto out;
	}
	snprintf(hdrs, sizeof(hdrs), "Content-Type: %s\r\nX-Amz-Date: %s\r\n%s%s%sAuthorization: %s\r\n", ctype, amz_date,
	    sc.session_token ? "X-Amz-Security-Token: " : "", sc.session_token ? sc.session_token : "",
	    sc.session_token ? "\r\n" : "", authz);
	st = creds_http(ep, ep->sts, "POST /", hdrs, form, strlen(form), resp, CREDS_RESPONSE_MAX, &body, why, whylen);
	OPENSSL_cleanse(hdrs, sizeof(hdrs));
	if (st < 0)
		goto out;
	if (st != 200) {
		char code[96] = "";

		creds_xml(body, "Code", code, sizeof(code));
		snprintf(why, whylen, "sts: AssumeRole %.200s answered HTTP %d %s", role_arn, st, code);
		goto out;
	}
	if (!creds_xml(body, "AccessKeyId", out->akid, sizeof(out->akid)) ||
	    !creds_xml(body, "SecretAccessKey", out->secret, sizeof(out->secret)) ||
	    !creds_xml(body, "SessionToken", out->token, sizeof(out->token)) ||
	    !creds_xml(body, "Expiration", exp, sizeof(exp)) || (out->expiry = creds_parse_iso8601(exp)) == 0) {
		creds_wipe(out);
		snprintf(why, whylen, "sts: AssumeRole %.200s: the answer has no usable Credentials", role_arn);
		goto out;
	}
	{
		const char *aru = strstr(body, "<AssumedRoleUser>");

		if (aru != NULL)
			creds_xml(aru, "Arn", out->arn, sizeof(out->arn));
	}
	/* The account is the role's: arn:<partition>:iam::<account>:role/... */
	{
		const char *p = strstr(role_arn, ":iam::");

		if (p != NULL && strlen(p) > 18) {
			memcpy(out->account, p + 6, 12);
			out->account[12] = '\0';
		}
	}
	out->source = "sts";
	out->type = "AssumedRole";
	ok = true;
out:
	OPENSSL_cleanse(resp, CREDS_RESPONSE_MAX);
	free(resp);
	return ok;
}

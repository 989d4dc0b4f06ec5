/*
 * config: loads and validates ddbguard's JSON config file.
 *
 * Scalar keys are described once, in a declarative table in config.c (type,
 * bounds, default, required); policies and identities are handed to their
 * compilers in filters/. Every error names the file, the JSON path and what
 * was expected; loading collects all of them. The loaded config is immutable
 * and everything the hot path needs is compiled here, once. See
 * config/README.md for every key.
 *
 * The folder config/ owns this loader, README.md (the format), examples/ and
 * policies/ (the baseline guard pack). It sits above filters/: it may include
 * filters/base, filters/dynamodb and filters/policy (it calls their
 * compilers), and nothing in filters/ includes it; the access log (its own
 * section), the daemon and the tools include config.h. tests/check_layers.py
 * checks both directions.
 */
#ifndef DDBGUARD_CONFIG_CONFIG_H
#define DDBGUARD_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filters/base/diag.h"
#include "filters/dynamodb/schema.h"

struct policy_set;
struct identity_set;

enum listener_kind {
	LISTENER_REVERSE, /* clients set an endpoint URL pointing at us */
	LISTENER_EGRESS,  /* clients set HTTPS_PROXY to us and CONNECT to the real endpoint */
};

struct listener_config {
	char *name;
	enum listener_kind kind;
	char *address; /* numeric IPv4/IPv6 literal */
	uint16_t port;
	char *tls_cert; /* NULL: plain HTTP (local use only) */
	char *tls_key;
	char *client_ca;	   /* tls.client_ca: PEM CAs that client certificates must chain to; NULL: none asked */
	bool client_cert_required; /* tls.client_cert "require" (default) or "optional" */
};

/* A parsed upstream URL: https://host[:port] or http://host[:port], path "/" or empty. */
struct upstream_url {
	bool tls;
	char *host;	/* where to connect: DNS name or IP literal (no brackets) */
	char *tls_name; /* name to verify and send as SNI when it differs from host (egress routes); else NULL */
	uint16_t port;
	char *text; /* as configured, for logs */
};

struct upstream_config {
	struct upstream_url dynamodb;
	struct upstream_url streams; /* host == NULL: Streams operations are refused */
	bool has_streams;
	char *region;	     /* from config, or derived from the DynamoDB endpoint name */
	char *partition;     /* derived from region */
	char *ca_file;	     /* NULL: the system trust store */
	char *host_header;   /* NULL: forward the client's Host unchanged */
	uint32_t connect_timeout_ms;
	uint32_t response_timeout_ms;
	uint32_t idle_timeout_ms;
	uint32_t max_idle_connections;
};

struct limits_config {
	uint32_t max_header_bytes;
	uint32_t max_headers;
	uint64_t max_body_bytes;
	uint64_t max_response_bytes;
	uint32_t max_connections;
	uint32_t client_timeout_ms;
	uint32_t request_timeout_ms; /* first byte of a request to its last */
	uint32_t handshake_timeout_ms;	  /* TCP accept (or CONNECT's 200) to the end of the client's TLS handshake */
	uint32_t max_connections_per_source; /* per client IPv4 address or IPv6 /64; 0: no cap */
	uint64_t max_bodies_in_flight_bytes; /* all connections' Content-Lengths reserved at once (proxy/inflight.h) */
};

/* A CONNECT host sent to another address (a VPC endpoint, a test server), keeping its TLS name. */
struct egress_route_config {
	char *host; /* the endpoint name clients CONNECT to, lower case */
	char *to_host;
	uint16_t to_port;
};

struct egress_config {
	bool enabled;		/* the "egress" object is present */
	char *ca_cert;		/* PEM CA certificate that signs minted certificates */
	char *ca_key;		/* its private key */
	char **regions;		/* allowed regions */
	size_t nregions;
	char **account_ids;	/* accounts allowed in account-based endpoint names */
	size_t naccount_ids;
	struct egress_route_config *routes;
	size_t nroutes;
	char **vpc_endpoints;	/* VPC endpoint names that may be tunnelled (lower case); routes' hosts may be too */
	size_t nvpc_endpoints;
	uint32_t cert_validity_s; /* lifetime of a minted certificate */
	uint32_t max_cached_certs;
};

struct geoip_config {
	char *country_database; /* MaxMind country (or city) .mmdb; NULL: ddbguard:SourceCountry absent */
	char *asn_database;	/* MaxMind ASN .mmdb; NULL: ddbguard:SourceASN absent */
};

struct access_log_config {
	char *path; /* "-" means stdout */
	char *signing_key;		/* PEM Ed25519 private key for signed digests; NULL: none */
	uint32_t digest_every_records;	/* a digest after this many records */
	uint32_t digest_every_seconds;	/* or when this long has passed since the last one */
	uint64_t max_bytes;		/* rotate when the file reaches this size; 0: never */
	uint32_t buffer_bytes;		/* records waiting for the writer thread; full: calls fail closed */
	bool fail_open;			/* keep allowing calls while records cannot be written */
	char *syslog;			/* "udp:HOST:PORT" or "unix:PATH" (RFC 5424); NULL: none */
	char *sync;			/* "none", "interval" (default) or "every_call" (proxy/audit/accesslog.h) */
	uint32_t sync_interval_ms;	/* "interval": fsync at most this often */
};

/*
 * One token bucket rule of "rate_limits" (config/README.md#rate-limits): calls
 * per second with a burst, one bucket per identity or per source address,
 * optionally narrowed to one identity, to actions and to tables.
 */
struct rate_limit_config {
	char *name;	     /* unique; logged as guard.rateLimit.name */
	bool per_source;     /* "per": "source_address" (else "identity") */
	char *identity;	     /* only calls of this identity; NULL: every identity */
	char **actions;	     /* IAM action patterns ("dynamodb:Put*"), case-insensitive; none: every action */
	size_t nactions;
	char **tables;	     /* table names; none: every call */
	size_t ntables;
	double rate;	     /* calls per second, > 0 */
	uint32_t burst;	     /* bucket size: calls allowed at once, >= 1 */
};

/* The admin endpoint (GET /healthz); address NULL: none. */
struct admin_config {
	char *address;
	uint16_t port;
};

/* "credentials": the gateway's own AWS credentials for the credential broker (proxy/broker.h). */
enum credentials_source {
	CREDS_SOURCE_ENVIRONMENT,
	CREDS_SOURCE_SHARED_FILE,
	CREDS_SOURCE_IMDS,
};

#define CONFIG_CREDENTIAL_SOURCES_MAX 3

struct credentials_config {
	enum credentials_source sources[CONFIG_CREDENTIAL_SOURCES_MAX]; /* in the order to try */
	size_t nsources;
	char *shared_file;	  /* NULL: $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials */
	char *profile;		  /* NULL: $AWS_PROFILE or "default" */
	char *imds_endpoint;	  /* default http://169.254.169.254 */
	char *sts_endpoint;	  /* NULL: https://sts.<sts_region>.amazonaws.com */
	char *sts_region;	  /* NULL: upstream.region */
	char *ca_file;		  /* STS trust store; NULL: the system's */
	char *account_id;	  /* account of the base credentials, if known in advance */
	uint32_t refresh_before_s; /* renew this long before expiry (at most half the lifetime) */
	uint32_t session_duration_s; /* AssumeRole DurationSeconds */
	uint32_t timeout_ms;	  /* per IMDS/STS request */
};

struct config {
	char *file;
	char *account_id;
	struct listener_config *listeners;
	size_t nlisteners;
	struct upstream_config upstream; /* dynamodb.host NULL when there is no reverse listener */
	struct limits_config limits;
	struct access_log_config access_log;
	struct admin_config admin;
	struct egress_config egress;
	struct table_schema *tables; /* for keys IAM derives from table descriptions (dynamodb:LeadingKeys) */
	size_t ntables;
	struct geoip_config geoip;
	bool has_reverse_listener;
	struct rate_limit_config *rate_limits;
	size_t nrate_limits;
	char **policy_files;		/* resolved paths of "policy_files", in order (for the config version) */
	size_t npolicy_files;
	uint32_t sigv4_clock_skew_s;	/* sigv4.clock_skew_s: allowed X-Amz-Date skew for issued keys */
	struct credentials_config credentials;
	char *user;	 /* run as this user after binding (started as root); NULL: stay who we are */
	char *group;	 /* and this group; NULL: the user's primary group */
	bool allow_root; /* keep running as root (no "user"): refused unless set */
	struct policy_set *policies;	/* owned */
	struct identity_set *identities; /* owned */
};

/*
 * Loads `path`. Returns NULL if any error was found; the errors are in `d`
 * (created by the caller with diag_new(path)). Relative file paths inside the
 * config (certificates, CA file, access log) are resolved against the
 * directory of the config file.
 */
struct config *config_load(const char *path, struct diag *d);
void config_free(struct config *c); /* accepts NULL */

/* Same as config_load, from a buffer (for tests); `base_dir` resolves relative paths. */
struct config *config_load_buffer(const char *name, const char *buf, size_t len, const char *base_dir,
    struct diag *d);

#endif

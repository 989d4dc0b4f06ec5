/*
 * reload: SIGHUP.
 *
 * reload_run() does the work on the main loop: loads and checks the new
 * config off to the side (the same errors --check prints), builds everything
 * it names (snapshot with GeoIP, listener TLS contexts, new listeners,
 * upstream CA, the log signing key), and only if all of that worked publishes
 * it (proxy/snapshot.h). Either way it writes a chained
 * {"ddbguardNotice": {"kind": "configReload", ...}}.
 */
#ifndef DDBGUARD_PROXY_RELOAD_H
#define DDBGUARD_PROXY_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "proxy/snapshot.h"

struct runtime;
struct listener;

/* What SIGHUP changes in the running daemon; main.c owns these. */
struct reload_target {
	struct runtime *rt;
	const char *path;
	struct listener **listeners; /* realloc'd by reload_run */
	size_t nlisteners;
	SSL_CTX *upstream_tls;	     /* current upstream context; replaced when the CA changes */
	SSL_CTX **retired_tls;	     /* superseded upstream contexts, freed at exit (pools may hold them) */
	size_t nretired_tls;
	/* sd_notify hook (helper "service"): "RELOADING=1" before, "READY=1" after. NULL: none. */
	void (*notify)(const char *state);
};

/* SIGHUP. Returns true if the new config is in force. */
bool reload_run(struct reload_target *t);

#endif

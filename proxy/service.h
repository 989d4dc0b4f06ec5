/*
 * service: what running as a system service needs: readiness reported to
 * systemd (sd_notify, Type=notify), and giving up root after the ports are
 * bound.
 *
 * The notify calls do nothing when the process was not started by systemd
 * with NotifyAccess (no $NOTIFY_SOCKET), so they are always safe to call.
 */
#ifndef DDBGUARD_PROXY_SERVICE_H
#define DDBGUARD_PROXY_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct config;

/* READY=1 with a STATUS= line: listeners are bound and the event loop is about to run. */
void service_notify_ready(const char *status);
/* RELOADING=1 (and MONOTONIC_USEC): a SIGHUP reload began; call service_notify_ready() when it is done. */
void service_notify_reloading(void);
/* STOPPING=1: the first SIGTERM/SIGINT, draining. */
void service_notify_stopping(void);
/* STATUS= only (e.g. a failed reload that keeps the old config). */
void service_notify_status(const char *status);

/* The user and group the daemon will run as, resolved from config "user"/"group" (or who we are). */
struct service_identity {
	uid_t uid;
	gid_t gid;
	char name[64];	/* user name, for messages */
	char group[64]; /* group name, for messages */
	bool from_config;
};

/*
 * Resolves cfg->user / cfg->group (by name, from the passwd and group
 * databases); without "user", the current real user and group. false with
 * a message in `err` if a name does not exist.
 */
bool service_identity_resolve(const struct config *cfg, struct service_identity *out, char *err, size_t errlen);

/*
 * After the ports are bound and the files that only root can read are read:
 *  - started as root with "user": setgroups to the user's groups, setgid,
 *    setuid (all of real, effective and saved ids), then checks that root
 *    cannot be regained (setuid(0) must fail);
 *  - root without "user": refused unless cfg->allow_root or `allow_root`
 *    (--allow-root);
 *  - not root: "user", if set, must be who we already are (systemd's User=).
 * false with a message in `err`: the caller must exit.
 */
bool service_drop_privileges(const struct config *cfg, bool allow_root, char *err, size_t errlen);

/* Files created as root before the drop (the access log) handed to the run-as user; no-op when not root. */
bool service_chown_for_user(const struct config *cfg, const char *path, char *err, size_t errlen);

#endif

/*
 * service.c: sd_notify readiness and the privilege drop.
 *
 * The drop follows the order every careful daemon uses (OpenBSD's relayd and
 * httpd, "Secure Programming for Linux and Unix HOWTO" 7.4): supplementary
 * groups first (setgroups needs root), then the group, then the user, with
 * setres[ug]id so the saved ids go too; then prove it by trying to get root
 * back. A process that could regain root after "dropping" it has not dropped it.
 */
#include "proxy/service.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "config/config.h"
#include "filters/base/log.h"

void
service_notify_ready(const char *status)
{
	/* 0 from sd_notifyf: not started by systemd with a notify socket; nothing to do. */
	if (sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%lu", status != NULL ? status : "ready",
		(unsigned long)getpid()) < 0)
		log_warnx("sd_notify READY failed");
}

void
service_notify_reloading(void)
{
	struct timespec ts;

	/* systemd >= 253 matches RELOADING=1 to the reload by MONOTONIC_USEC (Type=notify-reload); older ignore it. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (sd_notifyf(0, "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu",
		(unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000) < 0)
		log_warnx("sd_notify RELOADING failed");
}

void
service_notify_stopping(void)
{
	if (sd_notify(0, "STOPPING=1\nSTATUS=draining connections") < 0)
		log_warnx("sd_notify STOPPING failed");
}

void
service_notify_status(const char *status)
{
	(void)sd_notifyf(0, "STATUS=%s", status);
}

bool
service_identity_resolve(const struct config *cfg, struct service_identity *out, char *err, size_t errlen)
{
	struct passwd *pw;
	struct group *gr;

	memset(out, 0, sizeof(*out));
	if (cfg->user == NULL) {
		out->uid = getuid();
		out->gid = getgid();
		pw = getpwuid(out->uid);
		gr = getgrgid(out->gid);
		snprintf(out->name, sizeof(out->name), "%s", pw != NULL ? pw->pw_name : "?");
		snprintf(out->group, sizeof(out->group), "%s", gr != NULL ? gr->gr_name : "?");
		if (cfg->group != NULL) {
			snprintf(err, errlen, "\"group\" needs \"user\"");
			return false;
		}
		return true;
	}
	errno = 0;
	if ((pw = getpwnam(cfg->user)) == NULL) {
		snprintf(err, errlen, "user \"%s\" does not exist (create it: useradd --system %s, or "
		    "systemd-sysusers with deploy/systemd/ddbguard.sysusers)", cfg->user, cfg->user);
		return false;
	}
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	out->from_config = true;
	snprintf(out->name, sizeof(out->name), "%s", pw->pw_name);
	if (cfg->group != NULL) {
		if ((gr = getgrnam(cfg->group)) == NULL) {
			snprintf(err, errlen, "group \"%s\" does not exist", cfg->group);
			return false;
		}
		out->gid = gr->gr_gid;
	}
	gr = getgrgid(out->gid);
	snprintf(out->group, sizeof(out->group), "%s", gr != NULL ? gr->gr_name : "?");
	if (out->uid == 0) {
		snprintf(err, errlen, "\"user\" is root; name an unprivileged user (or remove it and set allow_root)");
		return false;
	}
	return true;
}

bool
service_chown_for_user(const struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct service_identity id;

	if (geteuid() != 0 || cfg->user == NULL || path == NULL || strcmp(path, "-") == 0)
		return true;
	if (!service_identity_resolve(cfg, &id, err, errlen))
		return false;
	if (chown(path, id.uid, id.gid) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot hand %s to user %s: %s", path, id.name, strerror(errno));
		return false;
	}
	return true;
}

bool
service_drop_privileges(const struct config *cfg, bool allow_root, char *err, size_t errlen)
{
	struct service_identity id;
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (!service_identity_resolve(cfg, &id, err, errlen))
		return false;
	if (geteuid() != 0) {
		if (id.from_config && (geteuid() != id.uid || getegid() != id.gid)) {
			snprintf(err, errlen, "config says user %s group %s, but ddbguard runs as uid %lu gid %lu and "
			    "cannot switch (start it as root or as that user)", id.name, id.group,
			    (unsigned long)geteuid(), (unsigned long)getegid());
			return false;
		}
		return true;
	}
	if (!id.from_config) {
		if (allow_root || cfg->allow_root) {
			log_warnx("running as root (allow_root): set \"user\" to drop privileges after binding");
			return true;
		}
		snprintf(err, errlen, "refusing to run as root: set \"user\" (and \"group\") in the config to drop "
		    "privileges after binding, or \"allow_root\": true (--allow-root) to keep root");
		return false;
	}
	if (initgroups(id.name, id.gid) < 0) {
		snprintf(err, errlen, "initgroups(%s): %s", id.name, strerror(errno));
		return false;
	}
	if (setresgid(id.gid, id.gid, id.gid) < 0) {
		snprintf(err, errlen, "setresgid(%lu): %s", (unsigned long)id.gid, strerror(errno));
		return false;
	}
	if (setresuid(id.uid, id.uid, id.uid) < 0) {
		snprintf(err, errlen, "setresuid(%lu): %s", (unsigned long)id.uid, strerror(errno));
		return false;
	}
	/* Prove it: every id is the user's, and root cannot be had back. */
	if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0 || r != id.uid || e != id.uid ||
	    s != id.uid || rg != id.gid || eg != id.gid || sg != id.gid) {
		snprintf(err, errlen, "privilege drop did not take: ids are not all %lu/%lu", (unsigned long)id.uid,
		    (unsigned long)id.gid);
		return false;
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
		snprintf(err, errlen, "privilege drop failed: root can be regained");
		return false;
	}
	log_info("running as user %s (uid %lu) group %s (gid %lu)", id.name, (unsigned long)id.uid, id.group,
	    (unsigned long)id.gid);
	return true;
}

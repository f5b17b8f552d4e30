#include <sys/prctl.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/privdrop.h"

/* everything that needs files outside the jail, done before chroot */
static void
privdrop_preload(void)
{
	uint8_t seed[16];

	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
		OPENSSL_INIT_LOAD_CRYPTO_STRINGS | OPENSSL_INIT_LOAD_CONFIG,
	    NULL);
	/* seeds the default DRBG while its entropy sources are reachable */
	(void)RAND_bytes(seed, sizeof(seed));
	tzset();
}

static int
privdrop_verify(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1)
		return -1;
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid ||
	    sg != gid)
		return -1;
	/* a dropped process must not be able to climb back */
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1)
		return -1;
	return 0;
}

int
privdrop_jail(const char *dir, const char *user)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		log_warnx("%s: user %s: %s", __func__, user,
		    errno ? strerror(errno) : "no such user");
		return -1;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0) {
		log_warnx("%s: user %s has uid 0: refusing to run as root",
		    __func__, user);
		return -1;
	}
	privdrop_preload();
	if (chroot(dir) == -1) {
		log_warn("%s: chroot %s", __func__, dir);
		return -1;
	}
	if (chdir("/") == -1) {
		log_warn("%s: chdir /", __func__);
		return -1;
	}
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		log_warn("%s: cannot drop privileges to %s", __func__, user);
		return -1;
	}
	if (privdrop_verify(uid, gid) == -1) {
		log_warnx("%s: privileges were not dropped for good", __func__);
		return -1;
	}
	/*
	 * per thread: threads started before this (NNG) get it with the
	 * seccomp filter, which is loaded with TSYNC (seccomp_filter.c)
	 */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("%s: PR_SET_NO_NEW_PRIVS", __func__);
		return -1;
	}
	log_debug("jailed in %s as %s (uid %d, gid %d)", dir, user, (int)uid,
	    (int)gid);
	return 0;
}

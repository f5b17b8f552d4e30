/*
 * Privilege separation of a role process: look the user up while the
 * whole file system is still visible, chroot into the role's directory,
 * drop to the unprivileged user for good, and (later) install the role's
 * seccomp allow-list.
 */
#ifndef COMMON_PRIVDROP_H
#define COMMON_PRIVDROP_H

/*
 * Looks up `user` and initialises OpenSSL before chroot(dir), then
 * chdir("/"), setgroups, setresgid, setresuid, checks that root cannot be
 * regained and sets PR_SET_NO_NEW_PRIVS.  Must run as root.  Returns 0,
 * or -1 after logging the cause (the caller exits).
 */
int privdrop_jail(const char *dir, const char *user);

/*
 * The place for the per-role seccomp allow-list (the Linux stand-in for
 * pledge).  No filter is installed yet: this only logs so at debug level.
 */
void privdrop_seccomp(const char *role);

#endif

/*
 * Privilege separation of a role process: look the user up while the
 * whole file system is still visible, chroot into the role's directory,
 * drop to the unprivileged user for good, and install the role's system
 * call filter.
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
 * Installs the system call filter of a jailed role on every thread of
 * the process (seccomp_filter.c).  Returns 0, or -1 after logging the
 * cause (the caller exits: a role never runs half-jailed).
 */
int privdrop_seccomp(const char *role);

#endif

/*
 * The system call filter of a jailed role (the Linux stand-in for
 * pledge), installed right after the privilege drop.  NNG and RocksDB
 * threads already run by then, so the filter is loaded with TSYNC: every
 * thread of the process gets it, and NoNewPrivs with it.
 *
 * What a role may call is an allow-list: what the roles, libevent, NNG,
 * RocksDB, OpenSSL, json-c and glibc were seen to use, and their close
 * relatives.  Anything else fails with ENOSYS, so a rare library path
 * that was never seen degrades into an error the code already handles
 * instead of a dead process.  Calls that only an attacker would make
 * (running programs, changing identity or the file system view, kernel
 * modules, ...) kill the process at once.  ptrace only fails: the leak
 * checker of sanitizer builds tries it at exit.
 */
#include <errno.h>
#include <stddef.h>

#include <seccomp.h>

#include "common/log.h"
#include "common/privdrop.h"

static const char *const allowed[] = {
	/* memory, threads, signals, time */
	"brk",
	"mmap",
	"munmap",
	"mremap",
	"mprotect",
	"madvise",
	"mincore",
	"msync",
	"mlock",
	"munlock",
	"membarrier",
	"futex",
	"futex_waitv",
	"set_robust_list",
	"get_robust_list",
	"rseq",
	"set_tid_address",
	"clone",
	"clone3",
	"exit",
	"exit_group",
	"gettid",
	"getpid",
	"getppid",
	"tgkill",
	"tkill",
	"rt_sigaction",
	"rt_sigprocmask",
	"rt_sigreturn",
	"rt_sigtimedwait",
	"rt_sigpending",
	"rt_sigsuspend",
	"sigaltstack",
	"restart_syscall",
	"sched_yield",
	"sched_getaffinity",
	"sched_setaffinity",
	"sched_getparam",
	"sched_getscheduler",
	"sched_get_priority_max",
	"sched_get_priority_min",
	"getpriority",
	"setpriority",
	"ioprio_get",
	"ioprio_set",
	"nanosleep",
	"clock_nanosleep",
	"clock_gettime",
	"clock_getres",
	"gettimeofday",
	"time",
	"times",
	"getrusage",
	"getrandom",
	"prctl",
	"arch_prctl",
	"prlimit64",
	"getrlimit",
	"uname",
	"sysinfo",
	"getcpu",
	"getuid",
	"geteuid",
	"getgid",
	"getegid",
	"getresuid",
	"getresgid",
	"getgroups",
	"capget",
	"umask",
	/* files */
	"read",
	"write",
	"readv",
	"writev",
	"pread64",
	"pwrite64",
	"preadv",
	"pwritev",
	"preadv2",
	"pwritev2",
	"open",
	"openat",
	"close",
	"close_range",
	"lseek",
	"fstat",
	"stat",
	"lstat",
	"newfstatat",
	"statx",
	"statfs",
	"fstatfs",
	"access",
	"faccessat",
	"faccessat2",
	"readlink",
	"readlinkat",
	"getdents64",
	"getcwd",
	"chdir",
	"fchdir",
	"mkdir",
	"mkdirat",
	"rmdir",
	"unlink",
	"unlinkat",
	"rename",
	"renameat",
	"renameat2",
	"link",
	"linkat",
	"symlink",
	"symlinkat",
	"truncate",
	"ftruncate",
	"fallocate",
	"fsync",
	"fdatasync",
	"sync_file_range",
	"fadvise64",
	"readahead",
	"copy_file_range",
	"sendfile",
	"splice",
	"fcntl",
	"flock",
	"dup",
	"dup2",
	"dup3",
	"pipe",
	"pipe2",
	"ioctl",
	"fchmod",
	"fchmodat",
	"chmod",
	"utimensat",
	"getxattr",
	"fgetxattr",
	"lgetxattr",
	"listxattr",
	"flistxattr",
	"llistxattr",
	"memfd_create",
	"inotify_init1",
	"inotify_add_watch",
	"inotify_rm_watch",
	/* events and sockets */
	"epoll_create",
	"epoll_create1",
	"epoll_ctl",
	"epoll_wait",
	"epoll_pwait",
	"epoll_pwait2",
	"poll",
	"ppoll",
	"select",
	"pselect6",
	"eventfd",
	"eventfd2",
	"timerfd_create",
	"timerfd_settime",
	"timerfd_gettime",
	"signalfd",
	"signalfd4",
	"socket",
	"socketpair",
	"bind",
	"listen",
	"accept",
	"accept4",
	"connect",
	"shutdown",
	"getsockname",
	"getpeername",
	"getsockopt",
	"setsockopt",
	"sendto",
	"recvfrom",
	"sendmsg",
	"recvmsg",
	"sendmmsg",
	"recvmmsg",
};

/* never needed once jailed: the process ends on the spot */
static const char *const killing[] = {
	"execve",
	"execveat",
	"fork",
	"vfork",
	"process_vm_readv",
	"process_vm_writev",
	"mount",
	"umount2",
	"pivot_root",
	"chroot",
	"setuid",
	"setgid",
	"setreuid",
	"setregid",
	"setresuid",
	"setresgid",
	"setgroups",
	"setfsuid",
	"setfsgid",
	"capset",
	"unshare",
	"setns",
	"init_module",
	"finit_module",
	"delete_module",
	"kexec_load",
	"kexec_file_load",
	"bpf",
	"perf_event_open",
	"reboot",
	"swapon",
	"swapoff",
	"acct",
	"settimeofday",
	"clock_settime",
	"adjtimex",
	"clock_adjtime",
	"keyctl",
	"add_key",
	"request_key",
	"iopl",
	"ioperm",
	"open_by_handle_at",
	"name_to_handle_at",
	"userfaultfd",
	"personality",
	"syslog",
	"quotactl",
	"fanotify_init",
	"kcmp",
};

static int
add_rules(
    scmp_filter_ctx ctx, const char *const *names, size_t n, uint32_t action)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		/* a call this kernel or architecture does not have */
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, action, nr, 0) != 0) {
			log_warnx(
			    "seccomp: cannot add a rule for %s", names[i]);
			return -1;
		}
	}
	return 0;
}

int
privdrop_seccomp(const char *role)
{
	scmp_filter_ctx ctx;
	int rc = -1;

	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS))) == NULL) {
		log_warnx("%s: seccomp_init failed", role);
		return -1;
	}
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0)
		log_warnx("%s: seccomp: no TSYNC", role);
	else if (add_rules(ctx, allowed, sizeof(allowed) / sizeof(allowed[0]),
		     SCMP_ACT_ALLOW) == 0 &&
	    add_rules(ctx, killing, sizeof(killing) / sizeof(killing[0]),
		SCMP_ACT_KILL_PROCESS) == 0) {
		if ((rc = seccomp_load(ctx)) != 0)
			log_warnx("%s: seccomp_load: %d", role, rc);
		else
			log_debug("%s: system call filter installed", role);
	}
	seccomp_release(ctx);
	return rc == 0 ? 0 : -1;
}

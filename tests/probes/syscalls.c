/* syscalls: try every system call vgpu-run's seccomp filter must refuse, through each
 * x86 system-call ABI, and print what happened.
 *
 *   syscalls                  one line per (ABI, call):  "ABI NAME RESULT [NOTE]"
 *   syscalls --abi-available  one line per ABI: "ABI available" or "ABI unavailable: WHY"
 *
 * ABIs: x86_64 (the syscall instruction), x32 (the same with bit 0x40000000 set in the
 * number), i386 (int $0x80 with the i386 numbers).  RESULT is one of
 *   errno=NAME     the call failed with that errno (EPERM, ENOSYS, ...)
 *   ret=N          the call succeeded (a clone's child _exits at once; N is its pid)
 *   killed=SIG     the process making the call was killed (a filter's KILL action)
 *   SKIP (WHY)     not tried as a check: the ABI does not exist on this kernel, or the
 *                  ABI has no such call (x86_64 has no umount, only umount2); the NOTE
 *                  then tells what the call gave anyway.
 * NAMEs are the syscall names of DESIGN.md's list; unshare and clone are tried once per
 * namespace flag ("clone:NEWNS"), clone3 with CLONE_NEWNS ("clone3:NEWNS") and with no
 * flags at all ("clone3:plain").
 *
 * The arguments are chosen so that, with no filter, the kernel refuses the call with
 * something other than EPERM wherever it validates arguments before it checks
 * privilege (NULL paths: EFAULT; fd -1: EBADF; bad flags or sizes: EINVAL).  A
 * filter's EPERM is then told apart from the kernel's own.  pivot_root, move_mount,
 * fsopen, fsmount, fspick and the namespace flags other than NEWUSER check
 * CAP_SYS_ADMIN first, so without that capability their EPERM is the kernel's too.
 *
 * Every call runs in a forked child, so a call that unexpectedly succeeds (a new
 * namespace, a clone) or a filter that kills cannot disturb the next one.
 * Exit status 0 once everything was tried (the test decides what is right), 1 when the
 * probe itself could not run.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define X32_SYSCALL_BIT 0x40000000L

/* Namespace flags (linux/sched.h), spelled out so that old headers do not matter. */
#define F_CLONE_NEWTIME 0x00000080L
#define F_CLONE_NEWNS 0x00020000L
#define F_CLONE_NEWCGROUP 0x02000000L
#define F_CLONE_NEWUTS 0x04000000L
#define F_CLONE_NEWIPC 0x08000000L
#define F_CLONE_NEWUSER 0x10000000L
#define F_CLONE_NEWPID 0x20000000L
#define F_CLONE_NEWNET 0x40000000L

#define F_AT_RECURSIVE 0x8000L

enum abi { ABI_X86_64, ABI_X32, ABI_I386, ABI_COUNT };
static const char *const abi_names[ABI_COUNT] = { "x86_64", "x32", "i386" };

enum kind { PLAIN, CLONE, CLONE3 };

struct call {
	const char *name;
	long nr64;            /* x86_64 and x32 number; -1: none on that ABI */
	long nr32;            /* i386 number; -1: none */
	enum kind kind;
	long args[5];
};

/* struct clone_args, version 0 (64 bytes). */
struct clone_args_v0 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

/* Memory below 4 GiB: i386 and x32 calls see only the low 32 bits of a pointer. */
static struct clone_args_v0 *low_args;

static const struct call calls[] = {
	{ "mount", 165, 21, PLAIN, { 0, 0, 0, 0, 0 } },                 /* NULL target: EFAULT */
	{ "umount", -1, 22, PLAIN, { 0 } },                             /* i386 oldumount: EFAULT */
	{ "umount2", 166, 52, PLAIN, { 0, 0 } },                        /* NULL path: EFAULT */
	{ "pivot_root", 155, 217, PLAIN, { 0, 0 } },                    /* EFAULT with the capability */
	{ "move_mount", 429, 429, PLAIN, { -1, 0, -1, 0, 0x7fffffff } }, /* bad flags: EINVAL */
	{ "open_tree", 428, 428, PLAIN, { -1, 0, F_AT_RECURSIVE } },   /* RECURSIVE w/o CLONE: EINVAL */
	{ "open_tree_attr", 467, 467, PLAIN, { -1, 0, F_AT_RECURSIVE, 0, 0 } }, /* EINVAL (6.15+) */
	{ "fsopen", 430, 430, PLAIN, { 0, 0 } },                        /* NULL name: EFAULT */
	{ "fsconfig", 431, 431, PLAIN, { -1, 0, 0, 0, 0 } },            /* fd -1: EINVAL */
	{ "fsmount", 432, 432, PLAIN, { -1, 0, 0 } },                   /* fd -1: EBADF */
	{ "fspick", 433, 433, PLAIN, { -1, 0, 0 } },                    /* NULL path: EFAULT */
	{ "mount_setattr", 442, 442, PLAIN, { -1, 0, 0, 0, 0 } },       /* size 0: EINVAL */
	{ "setns", 308, 346, PLAIN, { -1, 0 } },                        /* fd -1: EBADF */
	{ "unshare:NEWNS", 272, 310, PLAIN, { F_CLONE_NEWNS } },
	{ "unshare:NEWUTS", 272, 310, PLAIN, { F_CLONE_NEWUTS } },
	{ "unshare:NEWIPC", 272, 310, PLAIN, { F_CLONE_NEWIPC } },
	{ "unshare:NEWUSER", 272, 310, PLAIN, { F_CLONE_NEWUSER } },    /* succeeds unprivileged */
	{ "unshare:NEWPID", 272, 310, PLAIN, { F_CLONE_NEWPID } },
	{ "unshare:NEWNET", 272, 310, PLAIN, { F_CLONE_NEWNET } },
	{ "unshare:NEWCGROUP", 272, 310, PLAIN, { F_CLONE_NEWCGROUP } },
	{ "unshare:NEWTIME", 272, 310, PLAIN, { F_CLONE_NEWTIME } },
	/* clone: x86_64 (flags, stack, parent_tid, child_tid, tls); i386 swaps the last two,
	 * all zero here.  Stack 0: the child runs on a copy of ours, like fork. */
	{ "clone:NEWNS", 56, 120, CLONE, { F_CLONE_NEWNS | SIGCHLD } },
	{ "clone:NEWUTS", 56, 120, CLONE, { F_CLONE_NEWUTS | SIGCHLD } },
	{ "clone:NEWIPC", 56, 120, CLONE, { F_CLONE_NEWIPC | SIGCHLD } },
	{ "clone:NEWUSER", 56, 120, CLONE, { F_CLONE_NEWUSER | SIGCHLD } }, /* succeeds unprivileged */
	{ "clone:NEWPID", 56, 120, CLONE, { F_CLONE_NEWPID | SIGCHLD } },
	{ "clone:NEWNET", 56, 120, CLONE, { F_CLONE_NEWNET | SIGCHLD } },
	{ "clone:NEWCGROUP", 56, 120, CLONE, { F_CLONE_NEWCGROUP | SIGCHLD } },
	/* clone3 (args, size): flags are filled into low_args by the child. */
	{ "clone3:NEWNS", 435, 435, CLONE3, { F_CLONE_NEWNS } },
	{ "clone3:plain", 435, 435, CLONE3, { 0 } },
};

static long raw_syscall64(long nr, const long a[5])
{
	long ret;
	register long r10 __asm__("r10") = a[3];
	register long r8 __asm__("r8") = a[4];
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

static long raw_syscall32(long nr, const long a[5])
{
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4])
			 : "r8", "r9", "r10", "r11", "memory");
	return (int)ret; /* a 32-bit result: -EPERM is 0xffffffff */
}

static long raw_call(enum abi abi, long nr, const long a[5])
{
	switch (abi) {
	case ABI_X86_64:
		return raw_syscall64(nr, a);
	case ABI_X32:
		return raw_syscall64(nr | X32_SYSCALL_BIT, a);
	case ABI_I386:
		return raw_syscall32(nr, a);
	default:
		return -ENOSYS;
	}
}

static const char *errno_name(int e)
{
	static char buf[24];
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case E2BIG: return "E2BIG";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case ENOSYS: return "ENOSYS";
	case EUSERS: return "EUSERS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	}
	snprintf(buf, sizeof buf, "%d", e);
	return buf;
}

static const char *signal_name(int sig)
{
	static char buf[24];
	switch (sig) {
	case SIGSYS: return "SIGSYS";
	case SIGKILL: return "SIGKILL";
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS: return "SIGBUS";
	case SIGILL: return "SIGILL";
	case SIGABRT: return "SIGABRT";
	case SIGALRM: return "SIGALRM";
	case SIGTERM: return "SIGTERM";
	}
	snprintf(buf, sizeof buf, "signal%d", sig);
	return buf;
}

/* What one call did, as the RESULT field. */
struct outcome {
	char text[64];
};

/* Makes call c through abi (number nr) in a forked child, which sends back the raw
 * return value through a pipe; a child killed before it could is reported as such. */
static struct outcome try_in_child(enum abi abi, long nr, const struct call *c)
{
	struct outcome out;
	int fds[2];

	if (pipe(fds) != 0) {
		snprintf(out.text, sizeof out.text, "probe-error=pipe:%s", strerror(errno));
		return out;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(out.text, sizeof out.text, "probe-error=fork:%s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return out;
	}
	if (pid == 0) {
		close(fds[0]);
		alarm(10);
		long args[5];
		memcpy(args, c->args, sizeof args);
		if (c->kind == CLONE3) {
			memset(low_args, 0, sizeof *low_args);
			low_args->flags = (uint64_t)c->args[0];
			low_args->exit_signal = SIGCHLD;
			args[0] = (long)(uintptr_t)low_args;
			args[1] = (long)sizeof *low_args;
		}
		long ret = raw_call(abi, nr, args);
		if (ret == 0 && (c->kind == CLONE || c->kind == CLONE3))
			_exit(0); /* the clone's own child: leave at once */
		if (ret > 0 && (c->kind == CLONE || c->kind == CLONE3))
			waitpid((pid_t)ret, NULL, 0);
		if (write(fds[1], &ret, sizeof ret) != (ssize_t)sizeof ret)
			_exit(3);
		_exit(0);
	}
	close(fds[1]);
	long ret = 0;
	ssize_t got;
	do
		got = read(fds[0], &ret, sizeof ret);
	while (got < 0 && errno == EINTR);
	close(fds[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got == (ssize_t)sizeof ret) {
		if (ret < 0 && ret >= -4095)
			snprintf(out.text, sizeof out.text, "errno=%s", errno_name((int)-ret));
		else
			snprintf(out.text, sizeof out.text, "ret=%ld", ret);
	} else if (WIFSIGNALED(status)) {
		snprintf(out.text, sizeof out.text, "killed=%s", signal_name(WTERMSIG(status)));
	} else {
		snprintf(out.text, sizeof out.text, "probe-error=child-status-%d", status);
	}
	return out;
}

/* Whether an ABI works at all here: getpid through it must give our pid. */
static int abi_available(enum abi abi, char *why, size_t whylen)
{
	static const struct call getpid_call = { "getpid", 39, 20, PLAIN, { 0 } };
	long nr = abi == ABI_I386 ? getpid_call.nr32 : getpid_call.nr64;
	int fds[2];

	if (pipe(fds) != 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return 0;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return 0;
	}
	if (pid == 0) {
		close(fds[0]);
		alarm(10);
		long got = raw_call(abi, nr, getpid_call.args);
		long pair[2] = { got, (long)getpid() };
		_exit(write(fds[1], pair, sizeof pair) == (ssize_t)sizeof pair ? 0 : 3);
	}
	close(fds[1]);
	long pair[2] = { 0, 0 };
	ssize_t got;
	do
		got = read(fds[0], pair, sizeof pair);
	while (got < 0 && errno == EINTR);
	close(fds[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got == (ssize_t)sizeof pair) {
		if (pair[0] == pair[1])
			return 1;
		if (pair[0] < 0 && pair[0] >= -4095)
			snprintf(why, whylen, "getpid through the %s ABI gave %s", abi_names[abi],
				 errno_name((int)-pair[0]));
		else
			snprintf(why, whylen, "getpid through the %s ABI gave %ld, not %ld", abi_names[abi],
				 pair[0], pair[1]);
	} else if (WIFSIGNALED(status)) {
		snprintf(why, whylen, "getpid through the %s ABI killed the process (%s)", abi_names[abi],
			 signal_name(WTERMSIG(status)));
	} else {
		snprintf(why, whylen, "the probe's child failed (status %d)", status);
	}
	if (abi == ABI_X32 && pair[0] == -ENOSYS)
		snprintf(why + strlen(why), whylen - strlen(why), " (kernel without CONFIG_X86_X32_ABI)");
	if (abi == ABI_I386 && pair[0] == -ENOSYS)
		snprintf(why + strlen(why), whylen - strlen(why), " (kernel without IA32 emulation)");
	return 0;
}

int main(int argc, char **argv)
{
	int only_abis = 0;

	if (argc == 2 && strcmp(argv[1], "--abi-available") == 0) {
		only_abis = 1;
	} else if (argc != 1) {
		fprintf(stderr, "usage: syscalls [--abi-available]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	char why[ABI_COUNT][160];
	int available[ABI_COUNT];
	for (int abi = 0; abi < ABI_COUNT; abi++)
		available[abi] = abi_available((enum abi)abi, why[abi], sizeof why[abi]);
	if (only_abis) {
		for (int abi = 0; abi < ABI_COUNT; abi++) {
			if (available[abi])
				printf("%s available\n", abi_names[abi]);
			else
				printf("%s unavailable: %s\n", abi_names[abi], why[abi]);
		}
		return 0;
	}

	low_args = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (low_args == MAP_FAILED) {
		fprintf(stderr, "syscalls: mmap below 4 GiB: %s\n", strerror(errno));
		return 1;
	}

	for (int abi = 0; abi < ABI_COUNT; abi++) {
		for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
			const struct call *c = &calls[i];
			long nr = abi == ABI_I386 ? c->nr32 : c->nr64;
			if (nr < 0) {
				printf("%s %s SKIP (the %s ABI has no such call)\n", abi_names[abi], c->name,
				       abi_names[abi]);
				continue;
			}
			struct outcome out = try_in_child((enum abi)abi, nr, c);
			if (!available[abi])
				printf("%s %s SKIP (%s ABI unavailable: %s; the call gave %s)\n", abi_names[abi],
				       c->name, abi_names[abi], why[abi], out.text);
			else
				printf("%s %s %s\n", abi_names[abi], c->name, out.text);
		}
	}
	return 0;
}

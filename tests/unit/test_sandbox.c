/* The seccomp filter and capability drop of launcher/sandbox.c, checked in a child
 * process that locks itself and then tries what the filter must refuse, through the
 * x86-64 ABI and the i386 one (int 0x80).  The program loaded is the one the build
 * generated (tools/gen_seccomp.c), as in the launcher.  The x32 ABI cannot be tried on kernels
 * built without it (its calls fail with ENOSYS either way), so the filter's x32 rules
 * are checked in its exported text instead. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "launcher/sandbox.h"
#include "launcher/seccomp_filter.h"
#include "tests/unit/check.h"

/* i386 system call numbers (arch/x86/entry/syscalls/syscall_32.tbl). */
#define I386_MOUNT 21
#define I386_UNSHARE 310
#define I386_SETNS 346
#define I386_CLONE3 435
#define I386_GETPID 20
#define NR_OPEN_TREE_ATTR 467

static long i386_syscall1(long nr, long a)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a) : "memory");
	return ret;
}

static int errno_of(long rc)
{
	return rc == -1 ? errno : 0;
}

static void *thread_main(void *arg)
{
	return arg;
}

static void check_exported_filter(void)
{
	scmp_filter_ctx ctx = seccomp_filter_build();
	CHECK(ctx != NULL, "the libseccomp filter builds");
	if (!ctx)
		return;
	FILE *f = tmpfile();
	CHECK(f && seccomp_export_pfc(ctx, fileno(f)) == 0, "the filter exports as text");
	char text[65536] = "";
	if (f) {
		rewind(f);
		text[fread(text, 1, sizeof text - 1, f)] = '\0';
		fclose(f);
	}
	seccomp_release(ctx);
	CHECK(strstr(text, "arch x86_64") != NULL, "the filter covers the x86-64 ABI");
	CHECK(strstr(text, "arch x86 ") != NULL || strstr(text, "arch x86\n") != NULL ||
	      strstr(text, "arch x86 (") != NULL, "the filter covers the i386 ABI");
	CHECK(strstr(text, "arch x32") != NULL, "the filter covers the x32 ABI");
	/* mount is 165 on x86-64, 165 | 0x40000000 = 1073741989 on x32, 21 on i386. */
	CHECK(strstr(text, "== 1073741989") != NULL, "x32 mount (1073741989) is in the filter");
	CHECK(strstr(text, "== 1073742259") != NULL, "x32 clone3 (435 | x32 bit) is in the filter");
	CHECK(strstr(text, "== 21)") != NULL || strstr(text, "== 21 ") != NULL ||
	      strstr(text, "== 21\n") != NULL, "i386 mount (21) is in the filter");
}

/* The program built into the launcher is the one the rules make today (a stale
 * generated file would be a build bug), and it starts with our prefix for the system
 * calls libseccomp does not know. */
static void check_generated_program(void)
{
	static struct sock_filter now[BPF_MAXINSNS];
	size_t n = seccomp_program_build(now, BPF_MAXINSNS);
	CHECK(n > 0, "the program builds (%zu instructions)", n);
	CHECK(n == sandbox_program_len &&
	      memcmp(now, sandbox_program, n * sizeof now[0]) == 0,
	      "the launcher's program (%u instructions) is the one the rules make",
	      (unsigned)sandbox_program_len);
	CHECK(sandbox_program_len < 200, "the program stays small (%u instructions: each "
	      "one runs on every system call of the sandbox)", (unsigned)sandbox_program_len);
}

static int cap_in_bounding(int cap)
{
	return prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1;
}

static int cap_effective(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) != 0)
		return -1;
	return (data[cap / 32].effective >> (cap % 32)) & 1;
}

static void check_locked_child(void)
{
	int root = geteuid() == 0;
	if (root) {
		sandbox_lock(); /* dies with 125 on any failure */
		CHECK(1, "sandbox_lock succeeds as root");
		CHECK(!cap_in_bounding(CAP_SYS_ADMIN), "CAP_SYS_ADMIN left the bounding set");
		CHECK(cap_effective(CAP_SYS_ADMIN) == 0, "CAP_SYS_ADMIN left the effective set");
		CHECK(cap_in_bounding(CAP_CHOWN), "other capabilities stay (CAP_CHOWN)");
	} else {
		CHECK_SKIP("capability drop: needs root (uid %d)", (int)geteuid());
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		CHECK(sandbox_load_filter() == 0, "the filter loads unprivileged");
	}
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "no_new_privs is set");

	CHECK(errno_of(mount("none", "/mnt", "tmpfs", 0, NULL)) == EPERM, "mount: EPERM");
	CHECK(errno_of(umount2("/", MNT_DETACH)) == EPERM, "umount2: EPERM");
	CHECK(errno_of(syscall(SYS_pivot_root, "/", "/")) == EPERM, "pivot_root: EPERM");
	CHECK(errno_of(syscall(SYS_open_tree, -100, "/", 0)) == EPERM, "open_tree: EPERM");
	CHECK(errno_of(syscall(NR_OPEN_TREE_ATTR, -100, "/", 0, NULL, 0)) == EPERM,
	      "open_tree_attr (newer than libseccomp): EPERM");
	CHECK(errno_of(syscall(SYS_fsopen, "tmpfs", 0)) == EPERM, "fsopen: EPERM");
	CHECK(errno_of(syscall(SYS_mount_setattr, -1, "", 0, NULL, 0)) == EPERM, "mount_setattr: EPERM");
	CHECK(errno_of(unshare(CLONE_NEWNS)) == EPERM, "unshare(CLONE_NEWNS): EPERM");
	CHECK(errno_of(unshare(CLONE_NEWUSER)) == EPERM, "unshare(CLONE_NEWUSER): EPERM");
	CHECK(errno_of(setns(0, 0)) == EPERM, "setns: EPERM");
	CHECK(errno_of(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)) == EPERM,
	      "clone(CLONE_NEWUSER): EPERM");
	CHECK(errno_of(syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0)) == EPERM,
	      "clone(CLONE_NEWNET): EPERM");
	CHECK(errno_of(syscall(SYS_clone3, NULL, 0)) == ENOSYS, "clone3: ENOSYS");

	long pid = i386_syscall1(I386_GETPID, 0);
	if (pid == getpid()) {
		CHECK(i386_syscall1(I386_MOUNT, 0) == -EPERM, "i386 mount: EPERM");
		CHECK(i386_syscall1(I386_UNSHARE, CLONE_NEWNS) == -EPERM, "i386 unshare: EPERM");
		CHECK(i386_syscall1(I386_SETNS, 0) == -EPERM, "i386 setns: EPERM");
		CHECK(i386_syscall1(I386_CLONE3, 0) == -ENOSYS, "i386 clone3: ENOSYS");
		CHECK(i386_syscall1(NR_OPEN_TREE_ATTR, -100) == -EPERM, "i386 open_tree_attr: EPERM");
	} else {
		CHECK_SKIP("i386 ABI: int 0x80 getpid gave %ld (kernel without IA32 emulation)", pid);
	}

	/* What must keep working. */
	pthread_t t;
	CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0 && pthread_join(t, NULL) == 0,
	      "threads still start");
	pid_t child = fork();
	if (child == 0)
		_exit(7);
	int status = 0;
	CHECK(child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 7, "fork still works");
}

int main(void)
{
	check_exported_filter();
	check_generated_program();
	fflush(stdout);
	int counts[2] = { 0, 0 }, fds[2];
	if (pipe(fds) != 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		check_locked_child();
		fflush(stdout);
		/* Hand the numbering back, so the plan line counts the child's checks. */
		counts[0] = check_count;
		counts[1] = check_failed;
		_exit(write(fds[1], counts, sizeof counts) == sizeof counts ? 0 : 1);
	}
	close(fds[1]);
	int status = 0;
	ssize_t got = read(fds[0], counts, sizeof counts);
	waitpid(pid, &status, 0);
	if (got == (ssize_t)sizeof counts) {
		check_count = counts[0];
		check_failed = counts[1];
	}
	CHECK(got == (ssize_t)sizeof counts && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the locked child ran to its end (status %d)", status);
	return check_done();
}

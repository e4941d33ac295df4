#include "launcher/seccomp_filter.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <linux/seccomp.h>

/* Named groups, as systemd keeps its seccomp sets: what each one is for is the point. */

/* Changing the mount table in any way: the bind mounts over the driver must stay. */
static const char *const syscalls_mount[] = {
	"mount", "umount", "umount2", "pivot_root", "move_mount", "open_tree",
	"fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", NULL,
};

/* Entering another namespace, or making new ones (where the mounts could be undone
 * with fresh privileges). */
static const char *const syscalls_namespace[] = { "setns", "unshare", NULL };

/* clone is allowed (threads and fork need it) unless a namespace flag is set. */
static const unsigned long clone_namespace_flags[] = {
	CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
};

/* Mount-changing system calls libseccomp 2.5.4 does not know by name (its table ends
 * at Linux 5.17), with their number, which since Linux 5.x is the same in every ABI
 * (x32 adds its bit).  The program's first instructions refuse them. */
static const struct {
	const char *name;
	unsigned nr;
} syscalls_newer[] = {
	{ "open_tree_attr", 467 },
};
#define NEWER_COUNT (sizeof syscalls_newer / sizeof syscalls_newer[0])

#define X32_SYSCALL_BIT 0x40000000u

static int add_group(scmp_filter_ctx ctx, const char *const *names, uint32_t action)
{
	for (const char *const *n = names; *n; n++) {
		int nr = seccomp_syscall_resolve_name(*n);
		if (nr == __NR_SCMP_ERROR)
			return -EINVAL;
		/* A name that exists only on some ABIs (umount: i386 only) resolves to a
		 * pseudo number; libseccomp adds it where it exists. */
		int rc = seccomp_rule_add(ctx, action, nr, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

scmp_filter_ctx seccomp_filter_build(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		errno = ENOMEM;
		return NULL;
	}
	/* A binary tree of system call numbers, not a chain: the kernel runs the filter
	 * for every number of every ABI when it loads it (Linux 5.11+: the cache of
	 * calls it always allows), and the chain cost 0.2 ms there on each launch. */
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (rc == 0)
		rc = seccomp_arch_add(ctx, SCMP_ARCH_X86);
	if (rc == 0 || rc == -EEXIST)
		rc = seccomp_arch_add(ctx, SCMP_ARCH_X32);
	if (rc == -EEXIST)
		rc = 0;
	if (rc == 0)
		rc = add_group(ctx, syscalls_mount, SCMP_ACT_ERRNO(EPERM));
	if (rc == 0)
		rc = add_group(ctx, syscalls_namespace, SCMP_ACT_ERRNO(EPERM));
	for (size_t i = 0; rc == 0 && i < sizeof clone_namespace_flags / sizeof clone_namespace_flags[0]; i++) {
		unsigned long f = clone_namespace_flags[i];
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
	}
	/* clone3 passes its flags in memory, where a filter cannot look.  ENOSYS, not
	 * EPERM: glibc then falls back to clone, which the rules above can inspect, and
	 * threads still start. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0) {
		seccomp_release(ctx);
		errno = -rc;
		return NULL;
	}
	return ctx;
}

/* The prefix: the newer numbers, and their x32 forms, refused whatever the arch (the
 * numbers mean the same call in the x86-64, x32 and i386 ABIs, and an x32-flagged
 * number is no i386 call at all); anything else goes on to libseccomp's program,
 * which loads the arch itself.  No arch check here: the kernel runs the filter once
 * per system call number and ABI when it is loaded (to cache which calls it always
 * allows), so every instruction on the common path costs at load time as well as on
 * every call.  Returns the instructions written, or 0 (E2BIG). */
static size_t newer_syscalls_prefix(struct sock_filter *p, size_t max)
{
	const size_t deny = 1 + 2 * NEWER_COUNT + 1;
	const size_t rest = deny + 1;
	if (rest > max) {
		errno = E2BIG;
		return 0;
	}
	size_t n = 0;
	p[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < NEWER_COUNT; i++) {
		const unsigned nr[2] = { syscalls_newer[i].nr, syscalls_newer[i].nr | X32_SYSCALL_BIT };
		for (int abi = 0; abi < 2; abi++, n++)
			/* Conditional jumps count from the next instruction. */
			p[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr[abi],
							    (unsigned char)(deny - n - 1), 0);
	}
	p[n] = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, (unsigned)(rest - n - 1));
	n++;
	p[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	return n;
}

size_t seccomp_program_build(struct sock_filter *out, size_t max)
{
	size_t n = newer_syscalls_prefix(out, max);
	if (!n)
		return 0;
	scmp_filter_ctx ctx = seccomp_filter_build();
	if (!ctx)
		return 0;
	/* libseccomp 2.5 exports only to a file descriptor. */
	FILE *f = tmpfile();
	int rc = f ? seccomp_export_bpf(ctx, fileno(f)) : -errno;
	seccomp_release(ctx);
	if (rc < 0) {
		if (f)
			fclose(f);
		errno = -rc;
		return 0;
	}
	rewind(f);
	size_t got = fread(out + n, sizeof *out, max - n, f);
	int more = fgetc(f) != EOF;
	fclose(f);
	if (more) {
		errno = E2BIG;
		return 0;
	}
	/* The prefix leaves the system call number in the accumulator: libseccomp's
	 * program must begin by loading the arch, as 2.5 does.  Check, not assume. */
	const struct sock_filter *first = out + n;
	if (got == 0 || first->code != (BPF_LD | BPF_W | BPF_ABS) ||
	    first->k != offsetof(struct seccomp_data, arch)) {
		errno = EPROTO;
		return 0;
	}
	return n + got;
}

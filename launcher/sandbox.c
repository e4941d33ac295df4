#include "launcher/sandbox.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "launcher/log.h"

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

/* System calls libseccomp 2.5.4 does not know by name (its table ends at Linux 5.17),
 * with their number, which since Linux 5.x is the same in every ABI (x32 adds its bit).
 * A small filter of our own covers them; the kernel applies both filters. */
static const struct {
	const char *name;
	unsigned nr;
} syscalls_newer[] = {
	{ "open_tree_attr", 467 },
};

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

scmp_filter_ctx sandbox_filter_build(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		errno = ENOMEM;
		return NULL;
	}
	int rc = seccomp_arch_add(ctx, SCMP_ARCH_X86);
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

int sandbox_load_newer_syscalls_filter(void)
{
	/* arch == x86_64 → check the x86-64 and x32 numbers; arch == i386 → the i386
	 * number; anything else → allow.  2 + per-syscall instructions, built here. */
	struct sock_filter prog[64];
	unsigned n = 0, count = sizeof syscalls_newer / sizeof syscalls_newer[0];
	/* Layout: [0] load arch; [1] is x86_64? ; [2] is i386? ; [3] allow;
	 * [4] load nr; 2*count checks; allow; [..] load nr; count checks; allow; deny. */
	unsigned x86_64_block = 4;
	unsigned i386_block = x86_64_block + 1 + 2 * count + 1;
	unsigned deny = i386_block + 1 + count + 1;
	if (deny + 1 > sizeof prog / sizeof prog[0]) {
		errno = E2BIG;
		return -1;
	}
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, x86_64_block - 2, 0);
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, i386_block - 3, 0);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (unsigned i = 0; i < count; i++) {
		prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, syscalls_newer[i].nr, deny - n - 1, 0);
		n++;
		prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, syscalls_newer[i].nr | X32_SYSCALL_BIT, deny - n - 1, 0);
		n++;
	}
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (unsigned i = 0; i < count; i++) {
		prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, syscalls_newer[i].nr, deny - n - 1, 0);
		n++;
	}
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	struct sock_fprog fprog = { .len = (unsigned short)n, .filter = prog };
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
}

static void drop_sys_admin(void)
{
	/* Bounding first: once gone from it, no exec can bring the capability back. */
	if (CAP_IS_SUPPORTED(CAP_SYS_ADMIN) && cap_drop_bound(CAP_SYS_ADMIN) != 0)
		die_errno("cannot drop CAP_SYS_ADMIN from the bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_SYS_ADMIN, 0, 0) != 0 && errno != EINVAL)
		die_errno("cannot drop CAP_SYS_ADMIN from the ambient set");
	cap_t caps = cap_get_proc();
	if (!caps)
		die_errno("cannot read this process's capabilities");
	cap_value_t sys_admin = CAP_SYS_ADMIN;
	if (cap_set_flag(caps, CAP_EFFECTIVE, 1, &sys_admin, CAP_CLEAR) != 0 ||
	    cap_set_flag(caps, CAP_PERMITTED, 1, &sys_admin, CAP_CLEAR) != 0 ||
	    cap_set_flag(caps, CAP_INHERITABLE, 1, &sys_admin, CAP_CLEAR) != 0 ||
	    cap_set_proc(caps) != 0)
		die_errno("cannot drop CAP_SYS_ADMIN");
	cap_free(caps);
}

void sandbox_load_filters(void)
{
	scmp_filter_ctx ctx = sandbox_filter_build();
	if (!ctx)
		die_errno("cannot build the seccomp filter");
	int rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0) {
		errno = -rc;
		die_errno("cannot load the seccomp filter");
	}
	if (sandbox_load_newer_syscalls_filter() != 0)
		die_errno("cannot load the seccomp filter for newer system calls");
}

void sandbox_lock(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die_errno("cannot set no_new_privs");
	drop_sys_admin();
	sandbox_load_filters();
	verbose("locked: no_new_privs, CAP_SYS_ADMIN dropped, seccomp filter loaded");
}

#include "launcher/sandbox.h"

#include <errno.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <linux/seccomp.h>

#include "launcher/log.h"

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

int sandbox_load_filter(void)
{
	struct sock_fprog prog = {
		.len = sandbox_program_len,
		/* The kernel copies the program and never writes it. */
		.filter = (struct sock_filter *)sandbox_program,
	};
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

void sandbox_lock(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die_errno("cannot set no_new_privs");
	drop_sys_admin();
	if (sandbox_load_filter() != 0)
		die_errno("cannot load the seccomp filter");
	verbose("locked: no_new_privs, CAP_SYS_ADMIN dropped, seccomp filter loaded");
}

#include "launcher/namespace.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "launcher/log.h"

/* CAP_SYS_ADMIN in our effective set: then a mount namespace needs no user namespace. */
static int have_sys_admin(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) != 0)
		return 0;
	return (data[CAP_SYS_ADMIN / 32].effective >> (CAP_SYS_ADMIN % 32)) & 1;
}

int namespace_needs_userns(void)
{
	return !have_sys_admin();
}

static void write_proc_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die_errno("cannot open %s", path);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len)
		die_errno("cannot write '%s' to %s", text, path);
	close(fd);
}

static _Noreturn void no_permission(const char *what)
{
	int err = errno;
	if (err == EPERM || err == EACCES || err == ENOSPC || err == EINVAL)
		die("cannot create a %s: %s; vgpu-run needs root or unprivileged user "
		    "namespaces (sysctl user.max_user_namespaces > 0; not inside another "
		    "vgpu-run or a seccomp sandbox that forbids unshare)",
		    what, strerror(err));
	die("cannot create a %s: %s", what, strerror(err));
}

int namespace_enter(void)
{
	int userns = 0;
	if (have_sys_admin()) {
		if (unshare(CLONE_NEWNS) != 0) {
			/* Root in a container without CAP_SYS_ADMIN over its mount namespace
			 * may still be allowed a user namespace: try that before giving up. */
			if (errno != EPERM)
				no_permission("mount namespace");
			userns = 1;
		}
	} else {
		userns = 1;
	}

	if (userns) {
		uid_t uid = geteuid();
		gid_t gid = getegid();
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
			no_permission("user and mount namespace");
		/* setgroups must be denied before an unprivileged process may map its gid. */
		write_proc_file("/proc/self/setgroups", "deny");
		char map[64];
		snprintf(map, sizeof map, "%u %u 1", (unsigned)uid, (unsigned)uid);
		write_proc_file("/proc/self/uid_map", map);
		snprintf(map, sizeof map, "%u %u 1", (unsigned)gid, (unsigned)gid);
		write_proc_file("/proc/self/gid_map", map);
		verbose("entered a user namespace (uid %u, gid %u mapped to themselves) and a "
			"mount namespace", (unsigned)uid, (unsigned)gid);
	} else {
		verbose("entered a mount namespace");
	}

	/* Nothing mounted from now on may propagate back to the host's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		die_errno("cannot make / private in the new mount namespace");
	return userns;
}

#include "launcher/mounts.h"

#include <stddef.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include "launcher/log.h"

/* statvfs flag → the mount flag that keeps it on a remount. */
static const struct {
	unsigned long st;
	unsigned long ms;
} kept_flags[] = {
	{ ST_NOSUID, MS_NOSUID },
	{ ST_NODEV, MS_NODEV },
	{ ST_NOEXEC, MS_NOEXEC },
	{ ST_NOATIME, MS_NOATIME },
	{ ST_NODIRATIME, MS_NODIRATIME },
	{ ST_RELATIME, MS_RELATIME },
};

void mount_file_readonly(const char *src, const char *dst)
{
	if (mount(src, dst, NULL, MS_BIND, NULL) != 0)
		die_errno("cannot bind-mount %s over %s", src, dst);

	struct statvfs st;
	if (statvfs(dst, &st) != 0)
		die_errno("cannot read the mount flags of %s", dst);
	unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
	for (unsigned i = 0; i < sizeof kept_flags / sizeof kept_flags[0]; i++)
		if (st.f_flag & kept_flags[i].st)
			flags |= kept_flags[i].ms;
	if (mount(NULL, dst, NULL, flags, NULL) != 0)
		die_errno("cannot make the bind mount on %s read-only", dst);
	verbose("mounted %s over %s (read-only)", src, dst);
}

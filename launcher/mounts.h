/* Bind mounts of single files, made read-only. */
#ifndef VGPU_MOUNTS_H
#define VGPU_MOUNTS_H

/* Bind-mounts the file src over the file dst, then remounts that bind read-only,
 * keeping the flags the mount under dst already had (nosuid, nodev, noexec, atime
 * flags): in a user namespace those are locked and a remount that clears them fails. */
void mount_file_readonly(const char *src, const char *dst);

#endif

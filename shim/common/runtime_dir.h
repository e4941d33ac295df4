/* Where the runtime dir is, seen from inside a sandbox: the mount of fstype tmpfs whose
 * source is "vgpu" (the launcher's tag), found in /proc/self/mountinfo.  Used by the
 * shim and the emulator; both are loaded by programs, so this allocates nothing and
 * keeps no state. */
#ifndef VGPU_RUNTIME_DIR_H
#define VGPU_RUNTIME_DIR_H

#include <stddef.h>

/* The lower driver's files in the runtime dir: RUNDIR/driver/lower:<soname>.  The colon
 * is the defence: LD_PRELOAD and LD_LIBRARY_PATH split at colons and have no escape,
 * and no library search finds a file of this name, so no environment can make the
 * loader map the lower driver in place of the shim (docs/shim.md, "Inescapable"). */
#define RUNTIME_LOWER_FILE_PREFIX "driver/lower:"

/* Writes the runtime dir's path into buf.  Returns 0, or -1 when this process is not
 * inside a vgpu-run sandbox (or buf is too small). */
int runtime_dir_find(char *buf, size_t buflen);

#endif

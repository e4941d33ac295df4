/* Step 2 (end) of the flow: the runtime dir, a tmpfs tagged "vgpu" on LIBDIR/run.
 *
 * It holds what every process of the sandbox reads and no process outside can see:
 *   policy          the canonical policy (read-only bind)
 *   accounting      the shared accounting region (shim/common/accounting.h)
 *   driver/         libcuda.so.1 and libnvidia-ml.so.1: read-only binds of the lower
 *                   driver (the real one, or the emulator), taken before the originals
 *                   are covered by the shim
 *   ld.so.cache     the host's loader cache plus our sonames, when the host's lacks them
 * The shim finds it through /proc/self/mountinfo: fstype tmpfs, source "vgpu". */
#ifndef VGPU_RUNTIME_H
#define VGPU_RUNTIME_H

#include <limits.h>

#include "launcher/discover.h"
#include "policy/policy.h"

#define RUNTIME_TAG "vgpu"

struct runtime_plan {
	char lib_dir[PATH_MAX];                /* absolute, canonical */
	char run_dir[PATH_MAX];                /* lib_dir/run */
	char shim[LIB_COUNT][PATH_MAX];        /* lib_dir/libcuda.so.1, ... */
	char lower[LIB_COUNT][PATH_MAX];       /* what driver/ will hold; "" for none */
	int lower_is_emulator;
	/* lib_dir/emulator/<soname> where installed: covered by the shim too, or a
	 * program could load the emulator in its place by LD_LIBRARY_PATH ("" for none). */
	char emulator_copy[LIB_COUNT][PATH_MAX];
	int amend_ldcache;                     /* bind an amended cache over /etc/ld.so.cache */
};

/* Locates LIBDIR (--lib-dir, else next to the executable) and its run/ mount point. */
void runtime_locate(const char *lib_dir_opt, struct runtime_plan *plan);

/* Decides the lower driver of each library and whether the loader cache needs our
 * sonames.  Dies when a file the plan needs is missing. */
void runtime_plan(const struct policy *p, const struct discovery *d, struct runtime_plan *plan);

/* Mounts and fills the runtime dir.  Inside the new mount namespace only. */
void runtime_create(const struct runtime_plan *plan, const struct policy *p,
		    const struct discovery *d);

/* Covers every driver file and the emulator's installed copy with the shim, and the
 * loader cache when planned. */
void runtime_cover_driver(const struct runtime_plan *plan, const struct discovery *d);

#endif

/* Step 1 of the flow: which files are the NVIDIA driver here, and which one each
 * library's lower driver will be.
 *
 * Every libcuda.so* and libnvidia-ml.so* reachable through /etc/ld.so.cache, the
 * standard library directories, the policy's driver-path directories, the globs Ollama
 * uses, and the LD_LIBRARY_PATH vgpu-run was given.  Symlinks are resolved to the file
 * they name and a file found twice (same device and inode) is kept once, under the
 * first rule that found it: all of them get covered by the shim, since a program can
 * name any of them.  Only x86-64 ELF files count: a 32-bit driver library stays as it
 * is (no 32-bit process can use CUDA, and our shim could not serve one). */
#ifndef VGPU_DISCOVER_H
#define VGPU_DISCOVER_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy/policy.h"

enum driver_lib { LIB_CUDA, LIB_NVML, LIB_COUNT };

#define DISCOVERY_MAX_FILES 64

struct driver_file {
	enum driver_lib lib;
	char path[PATH_MAX];   /* the regular file, every symlink resolved */
	char found[PATH_MAX];  /* the name it was first found by */
	const char *rule;      /* which rule found it, for --dry-run */
	int stub;              /* the CUDA toolkit's link stub: covered, never the lower driver */
	dev_t dev;
	ino_t ino;
};

struct discovery {
	unsigned nfiles;
	struct driver_file files[DISCOVERY_MAX_FILES];

	/* The host's /etc/ld.so.cache as read (NULL when it has none), and whether it
	 * already names each library's soname. */
	unsigned char *ldcache;
	size_t ldcache_len;
	int ldcache_has[LIB_COUNT];
};

/* The names everything revolves around, by library. */
extern const char *const driver_soname[LIB_COUNT];   /* "libcuda.so.1", "libnvidia-ml.so.1" */

/* d must be zero-filled (a static variable): it is filled, not cleared. */
void discover_driver(const struct policy *p, const char *lib_dir, struct discovery *d);

/* The file the shim will load as each library's lower driver: the first non-stub
 * file found, in the order of the rules (the loader's order for ld.so.cache first),
 * or NULL when there is none. */
const struct driver_file *discover_lower(const struct discovery *d, enum driver_lib lib);

#endif

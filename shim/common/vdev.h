/* Virtual GPUs: what the policy makes of the lower driver's devices (docs/shim.md,
 * "Virtual devices").  Both shim libraries build the same table from the same policy,
 * so libcuda and libnvidia-ml agree on count, order, UUIDs, names and caps.
 *
 * Virtual GPU v (0 <= v < n, the policy's [gpu] order) is one device of the lower
 * driver: with the emulator, its configuration index (the emulator enumerates the
 * policy's emulated GPUs in order); with the real driver, a physical GPU named by index
 * or UUID, resolved through /proc/driver/nvidia/gpus to its UUID.  v is also the GPU's
 * index in the accounting region.  The program's CUDA_VISIBLE_DEVICES selects among the
 * virtual GPUs (vdev_select); the shim then makes the lower driver enumerate exactly
 * those (vdev_lower_list, set around the lower's cuInit), so a CUDA ordinal of the
 * program is the lower driver's ordinal and needs no translation. */
#ifndef VGPU_SHIM_VDEV_H
#define VGPU_SHIM_VDEV_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

#define VDEV_MAX POLICY_MAX_GPUS
#define VDEV_UUID_TEXT_MAX 48   /* "GPU-" + 36 + NUL, rounded up */
#define VDEV_NO_CAP UINT64_MAX

struct vdev {
	int lower_index;                 /* NVML index in the lower driver (PCI order) */
	char lower_uuid[POLICY_UUID_MAX];/* physical UUID (real driver), else "" */
	char token[POLICY_UUID_MAX];     /* this GPU in the lower's CUDA_VISIBLE_DEVICES */
	unsigned char uuid[16];          /* the virtual UUID: stable, not the physical one */
	char uuid_text[VDEV_UUID_TEXT_MAX]; /* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
	char name[POLICY_NAME_MAX];      /* the policy's name, or "": the lower's */
	struct policy_memory memory;     /* the cap (kind UNSET: none) */
};

struct vdev_table {
	unsigned n;
	int emulated;    /* the lower driver is the emulator */
	/* The real driver, no [gpu] list, and no /proc/driver/nvidia/gpus to name the
	 * physical GPUs by: the lower's own enumeration is used as it is (n = 0; the
	 * program's CUDA_VISIBLE_DEVICES goes to the lower untouched, ordinals and NVML
	 * indexes are the lower's, UUIDs and names unchanged; only the global cap holds,
	 * per ordinal).  Documented as a degraded mode in docs/shim.md. */
	int passthrough;
	struct vdev dev[VDEV_MAX];
};

/* Builds t from a checked policy.  gpus_dir: PHYSICAL_GPUS_DIR (a test may pass
 * another).  0, or -1 with a one-line reason (a policy GPU the machine lacks). */
int vdev_build(struct vdev_table *t, const struct policy *p, const char *gpus_dir,
	       char *why, size_t whylen);

/* The program's CUDA_VISIBLE_DEVICES (NULL: unset) applied to the virtual GPUs as the
 * real driver applies it to physical ones: a comma-separated sequence of indexes or
 * virtual UUIDs (a "GPU-" prefix naming exactly one), blanks around entries ignored;
 * the first invalid entry (out of range, unknown, ambiguous, empty, a physical UUID)
 * ends the list.  Writes the selected virtual indexes to out in enumeration order and
 * returns how many, or VDEV_SELECT_REPEAT when a GPU is named twice before the end
 * (the real driver's cuInit then fails with CUDA_ERROR_INVALID_DEVICE). */
#define VDEV_SELECT_REPEAT (-1)
int vdev_select(const struct vdev_table *t, const char *cvd, unsigned out[VDEV_MAX]);

/* "tok,tok,...": the lower driver's CUDA_VISIBLE_DEVICES for the selection ("" for
 * none).  0, or -1 when buf is too small. */
int vdev_lower_list(const struct vdev_table *t, const unsigned *sel, unsigned nsel,
		    char *buf, size_t buflen);

/* The cap of d in bytes given the physical GPU's total: the policy's size, its percent
 * of physical_total, or VDEV_NO_CAP. */
uint64_t vdev_cap(const struct vdev *d, uint64_t physical_total);

/* The virtual GPU whose UUID text is text (exactly, case-insensitive), or -1. */
int vdev_find_uuid(const struct vdev_table *t, const char *text);

/* The virtual UUID for virtual index v of a GPU known by identity (its physical UUID,
 * or its policy source text): a hash, RFC 9562 version 8 ("custom"). */
void vdev_make_uuid(unsigned v, const char *identity, unsigned char uuid[16]);
void vdev_uuid_format(const unsigned char uuid[16], char text[VDEV_UUID_TEXT_MAX]);

#endif

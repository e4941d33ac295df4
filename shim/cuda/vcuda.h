/* The virtual view of libcuda's shim, for its interceptions (the files of shim/cuda).
 *
 * After the shim's cuInit (vcuda.c) the lower driver enumerates exactly the virtual
 * GPUs the program's CUDA_VISIBLE_DEVICES selected, in its order: a CUdevice / ordinal
 * of the program IS the lower driver's, and needs no translation.  What an ordinal
 * stands for among the policy's virtual GPUs (the accounting index, the cap, the name
 * and UUID) is vcuda_vdev's answer. */
#ifndef VGPU_SHIM_VCUDA_H
#define VGPU_SHIM_VCUDA_H

#include <stdint.h>

#include "shim/common/vdev.h"
#include "shim/cuda/cuda_abi.h"
#include "shim/cuda/shim_cuda.h"

/* The virtual GPU (0..VDEV_MAX-1, its index in the accounting region) of a CUDA
 * ordinal of this process, or -1 (no such ordinal, or cuInit has not succeeded). */
int vcuda_vdev(int ordinal);

/* The current context's device: its ordinal and virtual GPU.  The lower's error when
 * there is no current context. */
CUresult vcuda_current(int *ordinal, unsigned *vdev);

/* The cap of virtual GPU v in bytes, VDEV_NO_CAP when it has none; ordinal is one of
 * its CUDA ordinals (to resolve a percent of the physical memory once per sandbox). */
uint64_t vcuda_cap(unsigned v, int ordinal);

/* This process's view of the sandbox's accounting region. */
static inline struct accounting *vcuda_accounting(void)
{
	return &shim_cuda.acct;
}

#endif

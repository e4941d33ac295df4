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

/* --- on every allocation: inline, the slow paths out of line ----------------------------- */

/* The lower driver's, for SHIM_LOWER. */
CUresult cuCtxGetCurrent(CUcontext *pctx);

/* The current context's device, cached per thread: the lower's cuCtxGetCurrent is a
 * thread-local read, its cuCtxGetDevice may take a lock.  The cache holds while no
 * context has gone away since (a new context may get a destroyed one's address).
 * The shim's thread-locals use TLS descriptors (-mtls-dialect=gnu2, build.zig): a short
 * call that returns the offset, where the default model calls __tls_get_addr each time.
 * Not initial-exec: that marks the library STATIC_TLS, and a dlopen of it (cudart
 * dlopens libcuda) could then fail once other libraries used up glibc's spare static
 * TLS; +6 instructions an allocation pair. */
struct vcuda_current_cache {
	CUcontext ctx;
	unsigned generation;
	int ordinal;
	unsigned vdev;
};
SHIM_HIDDEN extern __thread struct vcuda_current_cache vcuda_current_cache;
SHIM_HIDDEN extern unsigned vcuda_contexts_generation;

/* A context went away (destroyed, its primary context released or reset; or a fork):
 * every thread looks its current context's device up again. */
SHIM_HIDDEN void vcuda_contexts_changed(void);

/* vcuda_current_ctx's cache missed: vcuda_current, cached for ctx.  0, or -1. */
SHIM_HIDDEN int vcuda_current_miss(CUcontext ctx, unsigned gen);

/* The current context (the lower's cuCtxGetCurrent, asked each time: a context can be
 * made current in ways the shim does not see), its ordinal and virtual GPU.  0, or -1
 * when there is none or the shim cannot place its device (the lower will say why). */
static inline __attribute__((always_inline)) int vcuda_current_ctx(CUcontext *ctx, int *ordinal,
								   unsigned *vdev)
{
	CUresult (*get)(CUcontext *) = SHIM_LOWER(shim_cuda, cuCtxGetCurrent);
	CUcontext c = NULL;
	if (!get || get(&c) != CUDA_SUCCESS || !c)
		return -1;
	unsigned gen = __atomic_load_n(&vcuda_contexts_generation, __ATOMIC_ACQUIRE);
	int hit = vcuda_current_cache.ctx == c && vcuda_current_cache.generation == gen;
	if (__builtin_expect(!hit, 0) && vcuda_current_miss(c, gen) != 0)
		return -1;
	*ctx = c;
	*ordinal = vcuda_current_cache.ordinal;
	*vdev = vcuda_current_cache.vdev;
	return 0;
}

/* The cap of each virtual GPU in bytes (VDEV_NO_CAP: none) once it is known for good, 0
 * until then.  The policy's caps do not change, and a percent, once the sandbox
 * resolved it, stays that figure. */
SHIM_HIDDEN extern uint64_t vcuda_caps_known[VDEV_MAX];
SHIM_HIDDEN uint64_t vcuda_cap_resolve(unsigned v, int ordinal);

/* The cap of virtual GPU v in bytes, VDEV_NO_CAP when it has none; ordinal is one of
 * its CUDA ordinals (to resolve a percent of the physical memory once per sandbox). */
static inline uint64_t vcuda_cap(unsigned v, int ordinal)
{
	uint64_t cap = __atomic_load_n(&vcuda_caps_known[v], __ATOMIC_RELAXED);
	return __builtin_expect(cap != 0, 1) ? cap : vcuda_cap_resolve(v, ordinal);
}

/* This process's view of the sandbox's accounting region. */
static inline struct accounting *vcuda_accounting(void)
{
	return &shim_cuda.acct;
}

#endif

/* Memory caps: what the allocation interceptions (alloc.c) and the context ones
 * (context.c) share.  Design: docs/accounting.md, "What counts". */
#ifndef VGPU_SHIM_ALLOC_H
#define VGPU_SHIM_ALLOC_H

#include <stdint.h>

#include "shim/cuda/ptrtable.h"
#include "shim/cuda/vcuda.h"

/* Device memory a context takes before anything is allocated in it, on a physical GPU:
 * CUDA 13 on an H200 with driver 580 showed total 150109880320 and free, right after
 * creating a context, 149557477376 — 527 MiB gone.  Counted as 512 MiB per context
 * (an ordinary one, or a device's primary context while this process retains it).
 * The emulator takes no device memory for a context: 0 for emulated GPUs. */
#define CONTEXT_FOOTPRINT_PHYSICAL (512ull << 20)

static inline uint64_t context_footprint(void)
{
	return shim_cuda.vdevs.emulated ? 0 : CONTEXT_FOOTPRINT_PHYSICAL;
}

/* Everything this process holds through the shim (ptrtable.h). */
SHIM_HIDDEN extern struct ptrtable shim_allocations;

/* Reserve bytes on virtual GPU v against its cap (none: still counted, with cap
 * UINT64_MAX, so the sandbox's usage shows).  0, or -1: it would exceed the cap. */
SHIM_HIDDEN int alloc_reserve(unsigned v, int ordinal, uint64_t bytes);
SHIM_HIDDEN void alloc_unreserve(unsigned v, uint64_t bytes);

/* Records an entry after the lower driver succeeded; a stale entry it replaces is
 * given back.  0, or -1 when the table cannot grow (the caller undoes the allocation). */
SHIM_HIDDEN int alloc_track(const struct ptr_entry *e);

/* Gives back what an entry taken out of the table held (bytes, a handle's mapping). */
SHIM_HIDDEN void alloc_give_back(const struct ptr_entry *e);

/* Puts an entry taken before a lower call back when that call failed. */
SHIM_HIDDEN void alloc_put_back(const struct ptr_entry *e);

/* The driver freed everything context ctx owned (it was destroyed or reset): give
 * back every allocation recorded for it. */
SHIM_HIDDEN void alloc_context_gone(uint64_t ctx);

/* After fork, in the child: nothing of the parent's is this process's. */
SHIM_HIDDEN void context_forget_after_fork(void);

#endif

/* Shared by the memory side of the CUDA emulator (memory.c, copy.c, stream.c, event.c,
 * vmm.c, pool.c, module.c, launch.c, handles.c): the address space, the allocation
 * table, handle validation and stream resolution.
 *
 * Execution model: the emulator has no device that runs behind the host's back.  Every
 * operation, synchronous or "async" on a stream, is carried out completely when it is
 * enqueued, in the calling thread.  That is a legal CUDA schedule (a stream executes its
 * work in order; nothing says when), so streams are always idle, events are complete as
 * soon as they are recorded and host callbacks run inside the call that enqueues them. */
#ifndef VGPU_EMU_MEM_INTERNAL_H
#define VGPU_EMU_MEM_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "emulator/cuda/emu.h"

/* Device attribute numbers used here (CUdevice_attribute). */
#define EMU_ATTR_MAX_THREADS_PER_BLOCK 1
#define EMU_ATTR_MAX_BLOCK_DIM_X 2
#define EMU_ATTR_MAX_BLOCK_DIM_Y 3
#define EMU_ATTR_MAX_BLOCK_DIM_Z 4
#define EMU_ATTR_MAX_GRID_DIM_X 5
#define EMU_ATTR_MAX_GRID_DIM_Y 6
#define EMU_ATTR_MAX_GRID_DIM_Z 7
#define EMU_ATTR_MAX_SHARED_MEMORY_PER_BLOCK 8
#define EMU_ATTR_MAX_REGISTERS_PER_BLOCK 12
#define EMU_ATTR_MULTIPROCESSOR_COUNT 16
#define EMU_ATTR_MAX_THREADS_PER_MULTIPROCESSOR 39
#define EMU_ATTR_COMPUTE_CAPABILITY_MAJOR 75
#define EMU_ATTR_COMPUTE_CAPABILITY_MINOR 76
#define EMU_ATTR_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR 81
#define EMU_ATTR_MAX_REGISTERS_PER_MULTIPROCESSOR 82
#define EMU_ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN 97
#define EMU_ATTR_MAX_BLOCKS_PER_MULTIPROCESSOR 106

/* A profile's attribute, or fallback when the profile does not know it. */
int emu_attr(int device, int attr, int fallback);

/* --- handle sets (handles.c): "is this pointer one of ours and alive?" -------------- */

struct emu_handle_set {
	uintptr_t *slots; /* 0 empty, 1 deleted */
	size_t cap, used, live;
};
/* All under the caller's lock. */
int emu_hset_add(struct emu_handle_set *s, const void *p); /* -1: out of memory */
int emu_hset_has(const struct emu_handle_set *s, const void *p);
void emu_hset_del(struct emu_handle_set *s, const void *p);

/* --- the address space and the allocation table (memory.c) ------------------------- */

/* Free ranges of [base, base+size) (address space, offsets in a file): first fit,
 * aligned, coalescing.  0 means none (so base must not be 0).  Caller's lock. */
struct emu_range_hole {
	uint64_t start, len;
};
struct emu_ranges {
	uint64_t base, size;
	struct emu_range_hole *holes;
	size_t n, cap;
};
int emu_ranges_init(struct emu_ranges *s, uint64_t base, uint64_t size);
uint64_t emu_ranges_alloc(struct emu_ranges *s, uint64_t size, uint64_t align, uint64_t hint);
void emu_ranges_free(struct emu_ranges *s, uint64_t start, uint64_t len);

enum emu_alloc_kind {
	EMU_ALLOC_DEVICE = 1, /* cuMemAlloc, Pitch, Async, pools, module globals */
	EMU_ALLOC_MANAGED,    /* cuMemAllocManaged */
	EMU_ALLOC_HOST,       /* cuMemAllocHost, cuMemHostAlloc: page-locked host memory */
	EMU_ALLOC_REGISTERED, /* cuMemHostRegister: the application's host memory */
	EMU_ALLOC_VMM,        /* cuMemMap: a mapping of a physical allocation */
};

struct emu_phys;
struct emu_reservation;

struct emu_alloc {
	uint64_t start;     /* address the application sees */
	uint64_t size;      /* bytes it asked for (VMM: bytes mapped) */
	uint64_t span;      /* address space taken (arena allocations), >= size */
	int kind;
	int device;         /* ordinal */
	CUcontext ctx;      /* owner; NULL: owned by a module or by VMM */
	unsigned flags;     /* host-alloc / register / attach flags */
	uint64_t counted;   /* bytes counted against the device's capacity */
	uint64_t buffer_id;
	struct emu_mempool *pool;
	/* VMM */
	struct emu_phys *phys;
	uint64_t phys_offset;
	int access;         /* CUmemAccess_flags of the mapping */
	struct emu_reservation *resv;
};

extern pthread_mutex_t emu_mem_mutex;
void emu_mem_lock(void);
void emu_mem_unlock(void);

/* Reserves the device address space on first use.  0, or -1 (then the reason was said). */
int emu_space_init(void);
/* Is addr inside the device address space (allocated or not)? */
int emu_space_contains(uint64_t addr);
/* Address space: size and alignment are multiples of 4 KiB.  0 when none is left. */
uint64_t emu_space_alloc(uint64_t size, uint64_t align, uint64_t hint);
void emu_space_free(uint64_t addr, uint64_t size);
/* Gives a piece of the address space its pages back and makes it inaccessible. */
void emu_space_decommit(uint64_t addr, uint64_t len);

/* The table (locked).  find: the allocation containing addr (or NULL). */
struct emu_alloc *emu_alloc_find(uint64_t addr);
/* The first allocation whose start is >= addr (or NULL). */
struct emu_alloc *emu_alloc_find_from(uint64_t addr);
int emu_alloc_insert(struct emu_alloc *a); /* -1: out of memory */
void emu_alloc_remove(struct emu_alloc *a);
uint64_t emu_next_buffer_id(void);

/* Device memory in the arena, committed lazily, counted against the device's capacity
 * (CUDA_ERROR_OUT_OF_MEMORY past it).  Takes the lock itself. */
CUresult emu_devmem_alloc(CUcontext ctx, int device, uint64_t size, int kind,
			  struct emu_mempool *pool, CUdeviceptr *out);
/* Frees a device allocation (DEVICE or MANAGED) found in the table; locked. */
void emu_devmem_release_locked(struct emu_alloc *a);
/* cuMemFree semantics for dptr (exact start of a DEVICE/MANAGED allocation). */
CUresult emu_devmem_free(CUdeviceptr dptr, int allow_pool);

/* Capacity accounting: 0 on success, -1 when the device has not enough left. */
int emu_capacity_take(int device, uint64_t bytes);
void emu_capacity_give(int device, uint64_t bytes);

/* Validates [addr, addr+n) for a copy or memset.  Inside the device address space it
 * must be covered by live allocations (contiguous ones may be chained: VMM mappings side
 * by side) with the access asked for.  Outside it, an address is host memory: accepted
 * as it is (the caller's responsibility, as with real CUDA) unless EMU_RANGE_DEVICE asks
 * for memory the driver knows (a device allocation, or page-locked host memory, which
 * unified addressing makes a device address too). */
#define EMU_RANGE_WRITE 1  /* a destination */
#define EMU_RANGE_DEVICE 2 /* must be the driver's memory */
CUresult emu_check_range(uint64_t addr, uint64_t n, int flags);
/* Both sides of a copy: emu_check_range(dst, dst_n, dst_flags), then, when that passed,
 * emu_check_range(src, src_n, src_flags).  The common case (buffers the thread used
 * before) takes no lock; see memory.c. */
CUresult emu_check_ranges(uint64_t dst, uint64_t dst_n, int dst_flags, uint64_t src, uint64_t src_n, int src_flags);
/* Call (locked) after changing an allocation's access in place. */
void emu_alloc_changed(void);

/* The context the call acts in: the current one (CUDA_ERROR_INVALID_CONTEXT if none).
 * Remembers, per thread, the context it found live (memory.c): no lock in the common case. */
CUresult emu_current(CUcontext *ctx, int *device);

/* memcpy unless the ranges overlap (glibc's memmove may then copy backwards). */
static inline void emu_move(uint64_t dst, uint64_t src, uint64_t n)
{
	if (dst + n <= src || src + n <= dst)
		memcpy((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
	else
		memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
}

/* A synchronous 1D copy of n > 0 bytes: emu_current(NULL, NULL), then
 * emu_check_ranges(dst, n, dst_flags, src, n, src_flags), then emu_move(), with one look
 * at what the thread remembers (see memory.c). */
CUresult emu_copy_current(uint64_t dst, uint64_t src, uint64_t n, int dst_flags, int src_flags);

/* --- streams (stream.c) -------------------------------------------------------------- */

/* Validates a stream handle the application passed: NULL, CU_STREAM_LEGACY and
 * CU_STREAM_PER_THREAD mean the current context's default stream (a current context is
 * then required); others must be live streams.  *ctx (may be NULL) gets the stream's
 * context. */
CUresult emu_stream_check(CUstream s, CUcontext *ctx);
void emu_streams_context_gone(CUcontext ctx);

/* --- events (event.c) ---------------------------------------------------------------- */
/* CUDA_SUCCESS when e is a live event; *ctx (may be NULL) gets its context. */
CUresult emu_event_check(CUevent e, CUcontext *ctx);

/* --- events, modules, pools: context clean-up ----------------------------------------- */
void emu_events_context_gone(CUcontext ctx);
void emu_modules_context_gone(CUcontext ctx);
void emu_pools_context_gone(CUcontext ctx);

/* --- pools (pool.c) ------------------------------------------------------------------ */
/* Accounting of an allocation made from / returned to a pool; locked. */
/* used: bytes asked for; reserved: address space (and capacity) taken for them. */
void emu_pool_note_alloc(struct emu_mempool *p, uint64_t used, uint64_t reserved);
void emu_pool_note_free(struct emu_mempool *p, uint64_t used, uint64_t reserved);

/* --- VMM (vmm.c) ---------------------------------------------------------------------- */
/* The reservation a mapping lies in: its start and size (locked). */
void emu_vmm_reservation_range(struct emu_reservation *r, uint64_t *start, uint64_t *size);

/* --- modules (module.c) -------------------------------------------------------------- */

struct emu_param {
	uint32_t offset, size;
};

/* One kernel of a module or library.  CUfunction and CUkernel handles both point to this
 * struct (trap 6 of the cudart contract: a CUkernel arrives wherever a CUfunction may). */
struct emu_function {
	uint32_t magic;
	struct emu_module *module;
	char *name;
	int nparams;            /* -1: unknown */
	struct emu_param *params;
	uint32_t param_bytes;
	int num_regs, shared_static, const_bytes, local_bytes, max_threads;
	int binary_version, ptx_version;
	int attr_max_dynamic_shared, attr_carveout, attr_cache_config;
	int attr_non_portable_cluster, attr_cluster_pref;
	int attr_cluster_dim[3];
};

/* The function behind a CUfunction or CUkernel handle, or NULL when it is not one. */
struct emu_function *emu_function_lookup(const void *handle);
/* Locked: module lock. */
void emu_modules_lock(void);
void emu_modules_unlock(void);

/* Blocks of block_size threads with dyn_smem bytes of dynamic shared memory that fit on
 * one multiprocessor of dev at once (launch.c). */
CUresult emu_occupancy(const struct emu_function *f, int dev, int block_size, size_t dyn_smem, int *out);

/* Time in nanoseconds (CLOCK_MONOTONIC). */
uint64_t emu_now_ns(void);

#endif

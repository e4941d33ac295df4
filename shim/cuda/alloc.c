/* Memory caps on every allocating entry point of libcuda (docs/accounting.md).
 *
 * An allocation reserves its bytes in the sandbox's accounting region BEFORE the lower
 * driver is called, and gives them back if the lower fails; a reservation the cap
 * refuses returns CUDA_ERROR_OUT_OF_MEMORY without calling the lower at all.  What
 * succeeded is recorded in shim_allocations (ptrtable.h) so that the free gives back
 * exactly what was reserved, on the GPU it was reserved on.  A free takes its entry out
 * first, calls the lower, then gives the bytes back (or puts the entry back when the
 * lower failed): taking first means that a pointer the driver hands out again the moment
 * it is freed can never be confused with the old one.  A key not in the table (not
 * ours, freed twice, allocated before cuInit) is forwarded unchanged.
 *
 * When the shim cannot tell the virtual GPU (no current context, cuInit not done, a
 * host location) the call goes to the lower unchanged and uncounted: the lower answers
 * with its own error, or the memory is not device memory. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "shim/common/fault.h"
#include "shim/cuda/alloc.h"

/* The lower driver's functions used here, by their real signatures (SHIM_LOWER types
 * its result with these). */
CUresult cuStreamGetCtx(CUstream hStream, CUcontext *pctx);
CUresult cuStreamGetDevice(CUstream hStream, CUdevice *device);
CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize);
CUresult cuMemAlloc(uint32_t *dptr, unsigned int bytesize);
CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,
			    unsigned int ElementSizeBytes);
CUresult cuMemAllocPitch(uint32_t *dptr, unsigned int *pPitch, unsigned int WidthInBytes,
			 unsigned int Height, unsigned int ElementSizeBytes);
CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags);
CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream);
CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream);
CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool, CUstream hStream);
CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
				      CUstream hStream);
CUresult cuMemFree_v2(CUdeviceptr dptr);
CUresult cuMemFree(uint32_t dptr);
CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream);
CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream);
CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop,
		     unsigned long long flags);
CUresult cuMemRelease(CUmemGenericAllocationHandle handle);
CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr);
CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
		  unsigned long long flags);
CUresult cuMemUnmap(CUdeviceptr ptr, size_t size);
CUresult cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *pAllocateArray);
CUresult cuArrayCreate(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR_v1 *pAllocateArray);
CUresult cuArray3DCreate_v2(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *pAllocateArray);
CUresult cuArray3DCreate(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR_v1 *pAllocateArray);
CUresult cuArrayDestroy(CUarray hArray);
CUresult cuMipmappedArrayCreate(CUmipmappedArray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *pMipmappedArrayDesc,
				unsigned int numMipmapLevels);
CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray);
CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *poolProps);
CUresult cuMemPoolDestroy(CUmemoryPool pool);
CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev);
CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev);
CUresult cuMemGetDefaultMemPool(CUmemoryPool *pool_out, CUmemLocation *location, int type);
CUresult cuMemGetMemPool(CUmemoryPool *pool, CUmemLocation *location, int type);

struct ptrtable shim_allocations;

#define KEY(p) ((uint64_t)(uintptr_t)(p))

/* --- reserving and giving back ------------------------------------------------------------- */

/* reserve with an oom-after rule (docs/faults.md): a limit over the whole sandbox that,
 * unlike a cap, no memory query shows.  Out of line: no such rule is the common case. */
static __attribute__((noinline, cold)) int reserve_oom(unsigned v, int ordinal, uint64_t bytes)
{
	if (fault_oom_reserve(&shim_cuda, bytes) != 0)
		return -1;
	if (accounting_reserve(vcuda_accounting(), v, bytes, vcuda_cap(v, ordinal)) != 0) {
		fault_oom_release(&shim_cuda, bytes);
		return -1;
	}
	return 0;
}

/* reserve and unreserve: alloc_reserve and alloc_unreserve, inlined where they are
 * hottest (cuMemAlloc_v2, finish, settle: every allocation and free); everything else
 * calls the functions below. */
static inline __attribute__((always_inline)) int reserve(unsigned v, int ordinal, uint64_t bytes)
{
	if (__builtin_expect(shim_cuda.hook.oom_rule != 0, 0))
		return reserve_oom(v, ordinal, bytes);
	return accounting_reserve(vcuda_accounting(), v, bytes, vcuda_cap(v, ordinal));
}

static inline __attribute__((always_inline)) void unreserve(unsigned v, uint64_t bytes)
{
	accounting_release(vcuda_accounting(), v, bytes);
	if (shim_cuda.hook.oom_rule)
		fault_oom_release(&shim_cuda, bytes);
}

int alloc_reserve(unsigned v, int ordinal, uint64_t bytes)
{
	return reserve(v, ordinal, bytes);
}

void alloc_unreserve(unsigned v, uint64_t bytes)
{
	unreserve(v, bytes);
}

void alloc_give_back(const struct ptr_entry *e)
{
	struct ptr_entry h;
	switch (e->kind) {
	case PTR_DEVICE:
	case PTR_ARRAY:
	case PTR_MIPMAP:
	case PTR_HANDLE:
	case PTR_CONTEXT:
		alloc_unreserve(e->vdev, e->bytes);
		break;
	case PTR_MAPPING:
		/* A mapping keeps its handle's memory alive: the last of them frees it. */
		if (ptrtable_ref(&shim_allocations, PTR_HANDLE, e->owner, -1, &h) == 0)
			alloc_unreserve(h.vdev, h.bytes);
		break;
	default: /* PTR_POOL: holds nothing */
		break;
	}
}

/* alloc_track, inlined where it is hottest (finish: every allocation). */
static inline __attribute__((always_inline)) int track(const struct ptr_entry *e)
{
	struct ptr_entry stale;
	int r = ptrtable_insert(&shim_allocations, e, &stale);
	if (__builtin_expect(r == 1, 0))
		alloc_give_back(&stale);
	return r < 0 ? -1 : 0;
}

int alloc_track(const struct ptr_entry *e)
{
	return track(e);
}

void alloc_put_back(const struct ptr_entry *e)
{
	/* No room to put it back: its bytes stay counted until the sandbox ends (the safe
	 * side: the cap looks fuller, it is never exceeded). */
	(void)alloc_track(e);
}

/* After a free-like lower call (cuMemFree*, cuArrayDestroy, cuMipmappedArrayDestroy):
 * the entry taken before it is given back, or put back when the lower refused.  Those
 * entries (device pointers, arrays) hold their own bytes: alloc_give_back's case for
 * them, without the switch. */
static inline __attribute__((always_inline)) void settle(int taken, const struct ptr_entry *e,
							 CUresult r)
{
	if (!taken)
		return;
	if (r == CUDA_SUCCESS)
		unreserve(e->vdev, e->bytes);
	else
		alloc_put_back(e);
}

/* --- a context's allocations ---------------------------------------------------------------- */

struct context_sweep {
	uint64_t ctx;
	uint64_t bytes[VDEV_MAX];
};

static int owned_by_context(const struct ptr_entry *e, void *arg)
{
	const struct context_sweep *s = arg;
	return e->owner == s->ctx && (e->kind == PTR_DEVICE || e->kind == PTR_ARRAY || e->kind == PTR_MIPMAP);
}

static void add_to_sweep(const struct ptr_entry *e, void *arg)
{
	struct context_sweep *s = arg;
	if (e->vdev < VDEV_MAX)
		s->bytes[e->vdev] += e->bytes;
}

void alloc_context_gone(uint64_t ctx)
{
	vcuda_contexts_changed();
	if (!ctx)
		return;
	struct context_sweep s = { .ctx = ctx };
	if (ptrtable_take_if(&shim_allocations, owned_by_context, add_to_sweep, &s) == 0)
		return;
	for (unsigned v = 0; v < VDEV_MAX; v++)
		if (s.bytes[v])
			alloc_unreserve(v, s.bytes[v]);
}

/* --- where an allocation goes --------------------------------------------------------------- */

struct target {
	unsigned vdev;  /* virtual GPU (accounting index) */
	int ordinal;    /* a CUDA ordinal of it */
	uint64_t ctx;   /* the context whose destruction frees the allocation */
};

/* 0 with *t filled, -1 when the shim cannot tell (the lower will say why). */
static inline __attribute__((always_inline)) int current_target(struct target *t)
{
	CUcontext ctx;
	if (vcuda_current_ctx(&ctx, &t->ordinal, &t->vdev) != 0)
		return -1;
	t->ctx = KEY(ctx);
	return 0;
}

/* A stream's: its context owns the allocation; its device from cuStreamGetDevice
 * (CUDA 12.8) when the lower has it, else the current context's. */
static int stream_target(CUstream s, struct target *t)
{
	CUresult (*get_ctx)(CUstream, CUcontext *) = SHIM_LOWER(shim_cuda, cuStreamGetCtx);
	CUresult (*get_dev)(CUstream, CUdevice *) = SHIM_LOWER(shim_cuda, cuStreamGetDevice);
	CUcontext ctx = NULL;
	if (!get_ctx || get_ctx(s, &ctx) != CUDA_SUCCESS || !ctx)
		return -1;
	if (get_dev) {
		CUdevice d;
		if (get_dev(s, &d) != CUDA_SUCCESS)
			return -1;
		int v = vcuda_vdev(d);
		if (v < 0)
			return -1;
		t->vdev = (unsigned)v;
		t->ordinal = d;
	} else if (current_target(t) != 0) {
		return -1;
	}
	t->ctx = KEY(ctx);
	return 0;
}

/* Pools whose device the shim saw (cuMemPoolCreate, cuDeviceGetDefaultMemPool, ...):
 * PTR_POOL entries, vdev PTR_NO_VDEV for a pool of host memory, owner its ordinal. */
static void record_pool(CUmemoryPool pool, int location_type, int id)
{
	struct ptr_entry e = { .key = KEY(pool), .kind = PTR_POOL, .vdev = PTR_NO_VDEV };
	if (!pool)
		return;
	if (location_type == CU_MEM_LOCATION_TYPE_DEVICE) {
		int v = vcuda_vdev(id);
		if (v < 0)
			return; /* unknown: its allocations fall back to the stream's device */
		e.vdev = (uint8_t)v;
		e.owner = (uint64_t)id;
	}
	(void)alloc_track(&e); /* no room: the same fallback */
}

/* An allocation from pool on stream s: the pool's device when the shim knows it, else
 * the stream's.  -1 also for a pool of host memory (not counted). */
static int pool_target(CUmemoryPool pool, CUstream s, struct target *t)
{
	if (stream_target(s, t) != 0)
		return -1;
	struct ptr_entry p;
	if (ptrtable_find(&shim_allocations, PTR_POOL, KEY(pool), &p)) {
		if (p.vdev == PTR_NO_VDEV)
			return -1;
		t->vdev = p.vdev;
		t->ordinal = (int)p.owner;
	}
	return 0;
}

/* --- the common path ------------------------------------------------------------------------ */

typedef void (*undo_fn)(uint64_t key);

static void undo_device(uint64_t key)
{
	CUresult (*lower)(CUdeviceptr) = SHIM_LOWER(shim_cuda, cuMemFree_v2);
	if (lower)
		(void)lower(key);
}

/* After the lower allocated (r) what t reserved: record it, or give the reservation
 * back when the lower failed.  A table that cannot grow undoes the allocation.  Inlined
 * into each allocating entry point: it is on every allocation's path. */
static inline __attribute__((always_inline)) CUresult finish(CUresult r, const struct target *t,
							     unsigned kind, uint64_t key,
							     uint64_t bytes, undo_fn undo)
{
	if (r != CUDA_SUCCESS) {
		alloc_unreserve(t->vdev, bytes);
		return r;
	}
	struct ptr_entry e = { .key = key, .bytes = bytes, .owner = t->ctx, .kind = (uint8_t)kind,
			       .vdev = (uint8_t)t->vdev };
	if (track(&e) != 0) {
		undo(key);
		alloc_unreserve(t->vdev, bytes);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return r;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	uint64_t p;
	return __builtin_mul_overflow(a, b, &p) ? UINT64_MAX : p;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* --- cuMemAlloc, cuMemAllocManaged ------------------------------------------------------------ */

SHIM_API CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	SHIM_HOOKED(shim_cuda, cuMemAlloc_v2, dptr, bytesize);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUdeviceptr *, size_t) = SHIM_LOWER(shim_cuda, cuMemAlloc_v2);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct target t;
	if (current_target(&t) != 0)
		return lower(dptr, bytesize);
	if (reserve(t.vdev, t.ordinal, bytesize) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult r = lower(dptr, bytesize);
	return finish(r, &t, PTR_DEVICE, r == CUDA_SUCCESS ? *dptr : 0, bytesize, undo_device);
}

/* The CUDA 2.x form: a 32-bit size and pointer (the driver's pointer zero-extended is the
 * same allocation for cuMemFree_v2). */
SHIM_API CUresult cuMemAlloc(uint32_t *dptr, unsigned int bytesize)
{
	SHIM_HOOKED(shim_cuda, cuMemAlloc, dptr, bytesize);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(uint32_t *, unsigned int) = SHIM_LOWER(shim_cuda, cuMemAlloc);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct target t;
	if (current_target(&t) != 0)
		return lower(dptr, bytesize);
	if (alloc_reserve(t.vdev, t.ordinal, bytesize) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult r = lower(dptr, bytesize);
	return finish(r, &t, PTR_DEVICE, r == CUDA_SUCCESS ? *dptr : 0, bytesize, undo_device);
}

/* Managed memory counts on the current context's GPU, all of it, wherever its pages
 * happen to be. */
SHIM_API CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
	SHIM_HOOKED(shim_cuda, cuMemAllocManaged, dptr, bytesize, flags);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUdeviceptr *, size_t, unsigned int) = SHIM_LOWER(shim_cuda, cuMemAllocManaged);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct target t;
	if (current_target(&t) != 0)
		return lower(dptr, bytesize, flags);
	if (alloc_reserve(t.vdev, t.ordinal, bytesize) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult r = lower(dptr, bytesize, flags);
	return finish(r, &t, PTR_DEVICE, r == CUDA_SUCCESS ? *dptr : 0, bytesize, undo_device);
}

/* --- cuMemAllocPitch ----------------------------------------------------------------------------- */

/* The driver rounds each row up to its pitch; 512 bytes is the alignment of the GPUs we
 * know and of the emulator.  Reserved before the call; corrected to pitch * height
 * after it (a larger pitch reserves the difference, or the allocation is undone). */
static uint64_t pitch_estimate(uint64_t width, uint64_t height)
{
	return mul_sat(add_sat(width, 511) & ~511ull, height);
}

/* After a successful pitched allocation of estimate bytes: 0 with *bytes = what it
 * really takes, or -1 (the cap refuses the larger pitch: the caller undoes it). */
static int pitch_correct(const struct target *t, uint64_t estimate, uint64_t pitch, uint64_t height,
			 uint64_t *bytes)
{
	uint64_t actual = mul_sat(pitch, height);
	if (actual > estimate && alloc_reserve(t->vdev, t->ordinal, actual - estimate) != 0) {
		alloc_unreserve(t->vdev, estimate);
		return -1;
	}
	if (actual < estimate)
		alloc_unreserve(t->vdev, estimate - actual);
	*bytes = actual;
	return 0;
}

SHIM_API CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,
				     unsigned int ElementSizeBytes)
{
	SHIM_HOOKED(shim_cuda, cuMemAllocPitch_v2, dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUdeviceptr *, size_t *, size_t, size_t, unsigned int) =
		SHIM_LOWER(shim_cuda, cuMemAllocPitch_v2);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct target t;
	if (current_target(&t) != 0)
		return lower(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
	uint64_t estimate = pitch_estimate(WidthInBytes, Height), bytes;
	if (alloc_reserve(t.vdev, t.ordinal, estimate) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult r = lower(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
	if (r != CUDA_SUCCESS)
		return finish(r, &t, PTR_DEVICE, 0, estimate, undo_device);
	if (pitch_correct(&t, estimate, *pPitch, Height, &bytes) != 0) {
		undo_device(*dptr);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return finish(r, &t, PTR_DEVICE, *dptr, bytes, undo_device);
}

SHIM_API CUresult cuMemAllocPitch(uint32_t *dptr, unsigned int *pPitch, unsigned int WidthInBytes,
				  unsigned int Height, unsigned int ElementSizeBytes)
{
	SHIM_HOOKED(shim_cuda, cuMemAllocPitch, dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(uint32_t *, unsigned int *, unsigned int, unsigned int, unsigned int) =
		SHIM_LOWER(shim_cuda, cuMemAllocPitch);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct target t;
	if (current_target(&t) != 0)
		return lower(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
	uint64_t estimate = pitch_estimate(WidthInBytes, Height), bytes;
	if (alloc_reserve(t.vdev, t.ordinal, estimate) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult r = lower(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
	if (r != CUDA_SUCCESS)
		return finish(r, &t, PTR_DEVICE, 0, estimate, undo_device);
	if (pitch_correct(&t, estimate, *pPitch, Height, &bytes) != 0) {
		undo_device(*dptr);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return finish(r, &t, PTR_DEVICE, *dptr, bytes, undo_device);
}

/* --- cuMemFree ------------------------------------------------------------------------------- */

SHIM_API CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	SHIM_HOOKED(shim_cuda, cuMemFree_v2, dptr);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUdeviceptr) = SHIM_LOWER(shim_cuda, cuMemFree_v2);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct ptr_entry e;
	int taken = ptrtable_take(&shim_allocations, PTR_DEVICE, dptr, &e);
	CUresult r = lower(dptr);
	settle(taken, &e, r);
	return r;
}

SHIM_API CUresult cuMemFree(uint32_t dptr)
{
	SHIM_HOOKED(shim_cuda, cuMemFree, dptr);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(uint32_t) = SHIM_LOWER(shim_cuda, cuMemFree);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct ptr_entry e;
	int taken = ptrtable_take(&shim_allocations, PTR_DEVICE, dptr, &e);
	CUresult r = lower(dptr);
	settle(taken, &e, r);
	return r;
}

/* --- stream-ordered allocation ---------------------------------------------------------------- */

/* Counted from the call that enqueues the allocation to the call that enqueues its
 * free: the driver's own order of reuse within the stream is finer than that. */
static CUresult alloc_async(CUresult (*lower)(CUdeviceptr *, size_t, CUstream), CUdeviceptr *dptr,
			    size_t bytesize, CUstream s)
{
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct target t;
	if (stream_target(s, &t) != 0)
		return lower(dptr, bytesize, s);
	if (alloc_reserve(t.vdev, t.ordinal, bytesize) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult r = lower(dptr, bytesize, s);
	return finish(r, &t, PTR_DEVICE, r == CUDA_SUCCESS ? *dptr : 0, bytesize, undo_device);
}

SHIM_API CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	SHIM_HOOKED(shim_cuda, cuMemAllocAsync, dptr, bytesize, hStream);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	return alloc_async(SHIM_LOWER(shim_cuda, cuMemAllocAsync), dptr, bytesize, hStream);
}

SHIM_API CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	SHIM_HOOKED(shim_cuda, cuMemAllocAsync_ptsz, dptr, bytesize, hStream);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	return alloc_async(SHIM_LOWER(shim_cuda, cuMemAllocAsync_ptsz), dptr, bytesize, hStream);
}

static CUresult alloc_from_pool(CUresult (*lower)(CUdeviceptr *, size_t, CUmemoryPool, CUstream),
				CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool, CUstream s)
{
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct target t;
	if (pool_target(pool, s, &t) != 0)
		return lower(dptr, bytesize, pool, s);
	if (alloc_reserve(t.vdev, t.ordinal, bytesize) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult r = lower(dptr, bytesize, pool, s);
	return finish(r, &t, PTR_DEVICE, r == CUDA_SUCCESS ? *dptr : 0, bytesize, undo_device);
}

SHIM_API CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool, CUstream hStream)
{
	SHIM_HOOKED(shim_cuda, cuMemAllocFromPoolAsync, dptr, bytesize, pool, hStream);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	return alloc_from_pool(SHIM_LOWER(shim_cuda, cuMemAllocFromPoolAsync), dptr, bytesize, pool, hStream);
}

SHIM_API CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
					       CUstream hStream)
{
	SHIM_HOOKED(shim_cuda, cuMemAllocFromPoolAsync_ptsz, dptr, bytesize, pool, hStream);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	return alloc_from_pool(SHIM_LOWER(shim_cuda, cuMemAllocFromPoolAsync_ptsz), dptr, bytesize, pool, hStream);
}

static CUresult free_async(CUresult (*lower)(CUdeviceptr, CUstream), CUdeviceptr dptr, CUstream s)
{
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct ptr_entry e;
	int taken = ptrtable_take(&shim_allocations, PTR_DEVICE, dptr, &e);
	CUresult r = lower(dptr, s);
	settle(taken, &e, r);
	return r;
}

SHIM_API CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
	SHIM_HOOKED(shim_cuda, cuMemFreeAsync, dptr, hStream);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	return free_async(SHIM_LOWER(shim_cuda, cuMemFreeAsync), dptr, hStream);
}

SHIM_API CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
	SHIM_HOOKED(shim_cuda, cuMemFreeAsync_ptsz, dptr, hStream);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	return free_async(SHIM_LOWER(shim_cuda, cuMemFreeAsync_ptsz), dptr, hStream);
}

/* --- pools: which device a pool's memory is on ------------------------------------------------ */

SHIM_API CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *poolProps)
{
	SHIM_HOOKED(shim_cuda, cuMemPoolCreate, pool, poolProps);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUmemoryPool *, const CUmemPoolProps *) = SHIM_LOWER(shim_cuda, cuMemPoolCreate);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = lower(pool, poolProps);
	if (r == CUDA_SUCCESS && pool && poolProps)
		record_pool(*pool, poolProps->location.type, poolProps->location.id);
	return r;
}

/* Allocations still out of a destroyed pool stay valid until they are freed (the
 * driver releases the pool once none is left): they stay counted until then.  Only
 * the pool's record goes, so that a new pool at its address is not taken for it. */
SHIM_API CUresult cuMemPoolDestroy(CUmemoryPool pool)
{
	SHIM_HOOKED(shim_cuda, cuMemPoolDestroy, pool);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUmemoryPool) = SHIM_LOWER(shim_cuda, cuMemPoolDestroy);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = lower(pool);
	struct ptr_entry e;
	if (r == CUDA_SUCCESS)
		(void)ptrtable_take(&shim_allocations, PTR_POOL, KEY(pool), &e);
	return r;
}

SHIM_API CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuDeviceGetDefaultMemPool, pool_out, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUmemoryPool *, CUdevice) = SHIM_LOWER(shim_cuda, cuDeviceGetDefaultMemPool);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = lower(pool_out, dev);
	if (r == CUDA_SUCCESS && pool_out)
		record_pool(*pool_out, CU_MEM_LOCATION_TYPE_DEVICE, dev);
	return r;
}

SHIM_API CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuDeviceGetMemPool, pool, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUmemoryPool *, CUdevice) = SHIM_LOWER(shim_cuda, cuDeviceGetMemPool);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = lower(pool, dev);
	if (r == CUDA_SUCCESS && pool)
		record_pool(*pool, CU_MEM_LOCATION_TYPE_DEVICE, dev);
	return r;
}

SHIM_API CUresult cuMemGetDefaultMemPool(CUmemoryPool *pool_out, CUmemLocation *location, int type)
{
	SHIM_HOOKED(shim_cuda, cuMemGetDefaultMemPool, pool_out, location, type);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUmemoryPool *, CUmemLocation *, int) = SHIM_LOWER(shim_cuda, cuMemGetDefaultMemPool);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = lower(pool_out, location, type);
	if (r == CUDA_SUCCESS && pool_out && location)
		record_pool(*pool_out, location->type, location->id);
	return r;
}

SHIM_API CUresult cuMemGetMemPool(CUmemoryPool *pool, CUmemLocation *location, int type)
{
	SHIM_HOOKED(shim_cuda, cuMemGetMemPool, pool, location, type);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUmemoryPool *, CUmemLocation *, int) = SHIM_LOWER(shim_cuda, cuMemGetMemPool);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = lower(pool, location, type);
	if (r == CUDA_SUCCESS && pool && location)
		record_pool(*pool, location->type, location->id);
	return r;
}

/* --- virtual memory management: physical allocations and their mappings -------------------------- */

/* A handle's bytes are counted from cuMemCreate until its last reference is gone: the
 * handle itself (cuMemRelease drops it; cuMemRetainAllocationHandle adds one) and each
 * mapping of it (cuMemUnmap drops it) — a handle released right after cuMemMap, as
 * NVIDIA's samples and ggml do, keeps its memory while it is mapped. */

static void undo_handle(uint64_t key)
{
	CUresult (*lower)(CUmemGenericAllocationHandle) = SHIM_LOWER(shim_cuda, cuMemRelease);
	if (lower)
		(void)lower(key);
}

SHIM_API CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop,
			      unsigned long long flags)
{
	SHIM_HOOKED(shim_cuda, cuMemCreate, handle, size, prop, flags);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUmemGenericAllocationHandle *, size_t, const CUmemAllocationProp *, unsigned long long) =
		SHIM_LOWER(shim_cuda, cuMemCreate);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	int v = prop && prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE ? vcuda_vdev(prop->location.id) : -1;
	if (v < 0)
		return lower(handle, size, prop, flags); /* host memory, or the lower's error */
	struct target t = { .vdev = (unsigned)v, .ordinal = prop->location.id, .ctx = 0 };
	if (alloc_reserve(t.vdev, t.ordinal, size) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult r = lower(handle, size, prop, flags);
	if (r != CUDA_SUCCESS) {
		alloc_unreserve(t.vdev, size);
		return r;
	}
	struct ptr_entry e = { .key = *handle, .bytes = size, .refs = 1, .kind = PTR_HANDLE, .vdev = (uint8_t)v };
	if (alloc_track(&e) != 0) {
		undo_handle(*handle);
		alloc_unreserve(t.vdev, size);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return r;
}

SHIM_API CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
	SHIM_HOOKED(shim_cuda, cuMemRelease, handle);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUmemGenericAllocationHandle) = SHIM_LOWER(shim_cuda, cuMemRelease);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct ptr_entry e;
	int state = ptrtable_ref(&shim_allocations, PTR_HANDLE, handle, -1, &e);
	CUresult r = lower(handle);
	if (state == 0 && r == CUDA_SUCCESS) {
		alloc_give_back(&e);
	} else if (state == 0) {
		e.refs = 1;
		alloc_put_back(&e);
	} else if (state == 1 && r != CUDA_SUCCESS) {
		(void)ptrtable_ref(&shim_allocations, PTR_HANDLE, handle, +1, &e);
	}
	return r;
}

SHIM_API CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
	SHIM_HOOKED(shim_cuda, cuMemRetainAllocationHandle, handle, addr);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUmemGenericAllocationHandle *, void *) = SHIM_LOWER(shim_cuda, cuMemRetainAllocationHandle);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = lower(handle, addr);
	struct ptr_entry e;
	if (r == CUDA_SUCCESS)
		(void)ptrtable_ref(&shim_allocations, PTR_HANDLE, *handle, +1, &e);
	return r;
}

SHIM_API CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
			   unsigned long long flags)
{
	SHIM_HOOKED(shim_cuda, cuMemMap, ptr, size, offset, handle, flags);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUdeviceptr, size_t, size_t, CUmemGenericAllocationHandle, unsigned long long) =
		SHIM_LOWER(shim_cuda, cuMemMap);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	/* The mapping's reference first: a cuMemRelease racing with this call must not
	 * give the memory back while it is being mapped. */
	struct ptr_entry h;
	int ours = ptrtable_ref(&shim_allocations, PTR_HANDLE, handle, +1, &h) >= 0;
	CUresult r = lower(ptr, size, offset, handle, flags);
	if (!ours)
		return r;
	struct ptr_entry m = { .key = ptr, .bytes = size, .owner = handle, .kind = PTR_MAPPING };
	if (r != CUDA_SUCCESS)
		alloc_give_back(&m); /* drops the reference again */
	else
		(void)alloc_track(&m); /* no room: the reference stays, the memory counted */
	return r;
}

struct unmap_sweep {
	uint64_t start, end;
	struct ptr_entry *taken;
	size_t n, cap;
	int lost;  /* an entry could not be kept for giving back: stays counted */
};

static int mapping_in_range(const struct ptr_entry *e, void *arg)
{
	const struct unmap_sweep *s = arg;
	return e->kind == PTR_MAPPING && e->key >= s->start && e->key < s->end;
}

static void collect_mapping(const struct ptr_entry *e, void *arg)
{
	struct unmap_sweep *s = arg;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct ptr_entry *p = realloc(s->taken, cap * sizeof *p);
		if (!p) {
			s->lost = 1;
			return;
		}
		s->taken = p;
		s->cap = cap;
	}
	s->taken[s->n++] = *e;
}

/* cuMemUnmap takes whole mappings: usually exactly one (found by its address), else
 * every mapping inside the range (a scan of the table: unmapping is rare). */
SHIM_API CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	SHIM_HOOKED(shim_cuda, cuMemUnmap, ptr, size);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUdeviceptr, size_t) = SHIM_LOWER(shim_cuda, cuMemUnmap);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = lower(ptr, size);
	if (r != CUDA_SUCCESS)
		return r;
	struct ptr_entry m;
	if (ptrtable_find(&shim_allocations, PTR_MAPPING, ptr, &m) && m.bytes == size) {
		if (ptrtable_take(&shim_allocations, PTR_MAPPING, ptr, &m))
			alloc_give_back(&m);
		return r;
	}
	struct unmap_sweep s = { .start = ptr, .end = add_sat(ptr, size) };
	ptrtable_take_if(&shim_allocations, mapping_in_range, collect_mapping, &s);
	for (size_t i = 0; i < s.n; i++)
		alloc_give_back(&s.taken[i]);
	free(s.taken);
	return r;
}

/* --- arrays ------------------------------------------------------------------------------------- */

/* Bits per element of an array format: per channel for the eight plain formats, per
 * texel for the packed, block-compressed and video ones (their channels are part of the
 * format).  An unknown (newer) format counts as the largest plain element, 128 bits. */
static uint64_t element_bits(int format, unsigned channels)
{
	unsigned c = channels ? channels : 1;
	switch (format) {
	case CU_AD_FORMAT_UNSIGNED_INT8:
	case CU_AD_FORMAT_SIGNED_INT8:
		return 8ull * c;
	case CU_AD_FORMAT_UNSIGNED_INT16:
	case CU_AD_FORMAT_SIGNED_INT16:
	case CU_AD_FORMAT_HALF:
		return 16ull * c;
	case CU_AD_FORMAT_UNSIGNED_INT32:
	case CU_AD_FORMAT_SIGNED_INT32:
	case CU_AD_FORMAT_FLOAT:
		return 32ull * c;
	case CU_AD_FORMAT_BC1_UNORM:
	case CU_AD_FORMAT_BC1_UNORM_SRGB:
	case CU_AD_FORMAT_BC4_UNORM:
	case CU_AD_FORMAT_BC4_SNORM:
		return 4; /* 8 bytes per 4x4 block */
	case CU_AD_FORMAT_UNORM_INT8X1:
	case CU_AD_FORMAT_SNORM_INT8X1:
	case CU_AD_FORMAT_BC2_UNORM:
	case CU_AD_FORMAT_BC2_UNORM_SRGB:
	case CU_AD_FORMAT_BC3_UNORM:
	case CU_AD_FORMAT_BC3_UNORM_SRGB:
	case CU_AD_FORMAT_BC5_UNORM:
	case CU_AD_FORMAT_BC5_SNORM:
	case CU_AD_FORMAT_BC6H_UF16:
	case CU_AD_FORMAT_BC6H_SF16:
	case CU_AD_FORMAT_BC7_UNORM:
	case CU_AD_FORMAT_BC7_UNORM_SRGB:
		return 8; /* the BCs: 16 bytes per 4x4 block */
	case CU_AD_FORMAT_NV12:
	case CU_AD_FORMAT_UINT8_SEMIPLANAR_420:
	case CU_AD_FORMAT_UINT8_PLANAR_420:
		return 12; /* 8-bit 4:2:0 */
	case CU_AD_FORMAT_UNORM_INT8X2:
	case CU_AD_FORMAT_SNORM_INT8X2:
	case CU_AD_FORMAT_UNORM_INT16X1:
	case CU_AD_FORMAT_SNORM_INT16X1:
	case CU_AD_FORMAT_NV16:
	case CU_AD_FORMAT_YUY2:
	case CU_AD_FORMAT_UINT8_PACKED_422:
	case CU_AD_FORMAT_UINT8_SEMIPLANAR_422:
	case CU_AD_FORMAT_UINT8_PLANAR_422:
		return 16;
	case CU_AD_FORMAT_P010:
	case CU_AD_FORMAT_P016:
	case CU_AD_FORMAT_Y444_PLANAR8:
	case CU_AD_FORMAT_YUV444_8bit_SemiPlanar:
	case CU_AD_FORMAT_UINT16_SEMIPLANAR_420:
	case CU_AD_FORMAT_UINT16_PLANAR_420:
	case CU_AD_FORMAT_UINT8_SEMIPLANAR_444:
	case CU_AD_FORMAT_UINT8_PLANAR_444:
		return 24;
	case CU_AD_FORMAT_UNORM_INT8X4:
	case CU_AD_FORMAT_SNORM_INT8X4:
	case CU_AD_FORMAT_UNORM_INT16X2:
	case CU_AD_FORMAT_SNORM_INT16X2:
	case CU_AD_FORMAT_P210:
	case CU_AD_FORMAT_P216:
	case CU_AD_FORMAT_Y210:
	case CU_AD_FORMAT_Y216:
	case CU_AD_FORMAT_AYUV:
	case CU_AD_FORMAT_Y410:
	case CU_AD_FORMAT_UNORM_INT_101010_2:
	case CU_AD_FORMAT_UINT8_PACKED_444:
	case CU_AD_FORMAT_UINT16_SEMIPLANAR_422:
	case CU_AD_FORMAT_UINT16_PLANAR_422:
		return 32;
	case CU_AD_FORMAT_Y444_PLANAR10:
	case CU_AD_FORMAT_YUV444_16bit_SemiPlanar:
	case CU_AD_FORMAT_UINT16_SEMIPLANAR_444:
	case CU_AD_FORMAT_UINT16_PLANAR_444:
		return 48;
	case CU_AD_FORMAT_UNORM_INT16X4:
	case CU_AD_FORMAT_SNORM_INT16X4:
	case CU_AD_FORMAT_Y416:
		return 64;
	default:
		return 128;
	}
}

/* The estimate of an array: width * max(height, 1) * max(depth, 1) elements (depth:
 * also layers, or 6 faces of a cubemap, times layers) of the format's size, rounded up
 * to whole bytes.  The driver's tiling and alignment come on top and are not counted. */
static uint64_t array_bytes(uint64_t width, uint64_t height, uint64_t depth, int format, unsigned channels)
{
	uint64_t elements = mul_sat(mul_sat(width, height ? height : 1), depth ? depth : 1);
	uint64_t bits = mul_sat(elements, element_bits(format, channels));
	return bits == UINT64_MAX ? UINT64_MAX : (bits + 7) / 8;
}

/* A mipmapped array: the sum over its levels, each half the last in every dimension
 * (at least 1); the depth of a layered or cubemap array is layers, which do not shrink. */
static uint64_t mipmap_bytes(const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned levels)
{
	int fixed_depth = (d->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) != 0;
	uint64_t w = d->Width, h = d->Height, z = d->Depth, sum = 0;
	for (unsigned l = 0; l < levels && l < 64; l++) {
		sum = add_sat(sum, array_bytes(w, h, z, d->Format, d->NumChannels));
		w = w > 1 ? w / 2 : w;
		h = h > 1 ? h / 2 : h;
		if (!fixed_depth)
			z = z > 1 ? z / 2 : z;
	}
	return sum;
}

static void undo_array(uint64_t key)
{
	CUresult (*lower)(CUarray) = SHIM_LOWER(shim_cuda, cuArrayDestroy);
	if (lower)
		(void)lower((CUarray)(uintptr_t)key);
}

static void undo_mipmap(uint64_t key)
{
	CUresult (*lower)(CUmipmappedArray) = SHIM_LOWER(shim_cuda, cuMipmappedArrayDestroy);
	if (lower)
		(void)lower((CUmipmappedArray)(uintptr_t)key);
}

/* Arrays belong to the current context.  No descriptor: the lower's error, uncounted. */
static CUresult array_created(CUresult r, const struct target *t, const CUarray *handle, uint64_t bytes)
{
	return finish(r, t, PTR_ARRAY, r == CUDA_SUCCESS ? KEY(*handle) : 0, bytes, undo_array);
}

SHIM_API CUresult cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *pAllocateArray)
{
	SHIM_HOOKED(shim_cuda, cuArrayCreate_v2, pHandle, pAllocateArray);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUarray *, const CUDA_ARRAY_DESCRIPTOR *) = SHIM_LOWER(shim_cuda, cuArrayCreate_v2);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	const CUDA_ARRAY_DESCRIPTOR *d = pAllocateArray;
	struct target t;
	if (!d || current_target(&t) != 0)
		return lower(pHandle, d);
	uint64_t bytes = array_bytes(d->Width, d->Height, 1, d->Format, d->NumChannels);
	if (alloc_reserve(t.vdev, t.ordinal, bytes) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	return array_created(lower(pHandle, d), &t, pHandle, bytes);
}

SHIM_API CUresult cuArrayCreate(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR_v1 *pAllocateArray)
{
	SHIM_HOOKED(shim_cuda, cuArrayCreate, pHandle, pAllocateArray);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUarray *, const CUDA_ARRAY_DESCRIPTOR_v1 *) = SHIM_LOWER(shim_cuda, cuArrayCreate);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	const CUDA_ARRAY_DESCRIPTOR_v1 *d = pAllocateArray;
	struct target t;
	if (!d || current_target(&t) != 0)
		return lower(pHandle, d);
	uint64_t bytes = array_bytes(d->Width, d->Height, 1, d->Format, d->NumChannels);
	if (alloc_reserve(t.vdev, t.ordinal, bytes) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	return array_created(lower(pHandle, d), &t, pHandle, bytes);
}

SHIM_API CUresult cuArray3DCreate_v2(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *pAllocateArray)
{
	SHIM_HOOKED(shim_cuda, cuArray3DCreate_v2, pHandle, pAllocateArray);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUarray *, const CUDA_ARRAY3D_DESCRIPTOR *) = SHIM_LOWER(shim_cuda, cuArray3DCreate_v2);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	const CUDA_ARRAY3D_DESCRIPTOR *d = pAllocateArray;
	struct target t;
	if (!d || current_target(&t) != 0)
		return lower(pHandle, d);
	uint64_t bytes = array_bytes(d->Width, d->Height, d->Depth, d->Format, d->NumChannels);
	if (alloc_reserve(t.vdev, t.ordinal, bytes) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	return array_created(lower(pHandle, d), &t, pHandle, bytes);
}

SHIM_API CUresult cuArray3DCreate(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR_v1 *pAllocateArray)
{
	SHIM_HOOKED(shim_cuda, cuArray3DCreate, pHandle, pAllocateArray);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUarray *, const CUDA_ARRAY3D_DESCRIPTOR_v1 *) = SHIM_LOWER(shim_cuda, cuArray3DCreate);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	const CUDA_ARRAY3D_DESCRIPTOR_v1 *d = pAllocateArray;
	struct target t;
	if (!d || current_target(&t) != 0)
		return lower(pHandle, d);
	uint64_t bytes = array_bytes(d->Width, d->Height, d->Depth, d->Format, d->NumChannels);
	if (alloc_reserve(t.vdev, t.ordinal, bytes) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	return array_created(lower(pHandle, d), &t, pHandle, bytes);
}

SHIM_API CUresult cuArrayDestroy(CUarray hArray)
{
	SHIM_HOOKED(shim_cuda, cuArrayDestroy, hArray);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUarray) = SHIM_LOWER(shim_cuda, cuArrayDestroy);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct ptr_entry e;
	int taken = ptrtable_take(&shim_allocations, PTR_ARRAY, KEY(hArray), &e);
	CUresult r = lower(hArray);
	settle(taken, &e, r);
	return r;
}

SHIM_API CUresult cuMipmappedArrayCreate(CUmipmappedArray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *pMipmappedArrayDesc,
					 unsigned int numMipmapLevels)
{
	SHIM_HOOKED(shim_cuda, cuMipmappedArrayCreate, pHandle, pMipmappedArrayDesc, numMipmapLevels);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUmipmappedArray *, const CUDA_ARRAY3D_DESCRIPTOR *, unsigned int) =
		SHIM_LOWER(shim_cuda, cuMipmappedArrayCreate);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct target t;
	if (!pMipmappedArrayDesc || current_target(&t) != 0)
		return lower(pHandle, pMipmappedArrayDesc, numMipmapLevels);
	uint64_t bytes = mipmap_bytes(pMipmappedArrayDesc, numMipmapLevels);
	if (alloc_reserve(t.vdev, t.ordinal, bytes) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult r = lower(pHandle, pMipmappedArrayDesc, numMipmapLevels);
	return finish(r, &t, PTR_MIPMAP, r == CUDA_SUCCESS ? KEY(*pHandle) : 0, bytes, undo_mipmap);
}

SHIM_API CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray)
{
	SHIM_HOOKED(shim_cuda, cuMipmappedArrayDestroy, hMipmappedArray);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUmipmappedArray) = SHIM_LOWER(shim_cuda, cuMipmappedArrayDestroy);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct ptr_entry e;
	int taken = ptrtable_take(&shim_allocations, PTR_MIPMAP, KEY(hMipmappedArray), &e);
	CUresult r = lower(hMipmappedArray);
	settle(taken, &e, r);
	return r;
}

/* --- fork ------------------------------------------------------------------------------------------ */

/* CUDA does not survive fork: a child owns none of its parent's allocations or
 * contexts, and must never give back what the parent reserved (accounting.c gives the
 * child a slot of its own on its first reservation). */
static void after_fork_child(void)
{
	ptrtable_forget_all(&shim_allocations);
	context_forget_after_fork();
	vcuda_contexts_changed();
}

__attribute__((constructor)) static void register_fork_handler(void)
{
	pthread_atfork(NULL, NULL, after_fork_child);
}

/* Contexts and the memory caps: each context costs device memory (its footprint,
 * alloc.h), reserved before the lower driver creates it and given back when it goes;
 * a context that goes (destroyed, its primary released for the last time, reset) takes
 * every allocation made in it with it, so they are given back too.
 * Design: docs/accounting.md, "Contexts". */
#include <pthread.h>
#include <string.h>

#include "shim/cuda/alloc.h"

CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev);
CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev);
CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams, unsigned int flags,
			CUdevice dev);
CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams, unsigned int flags, CUdevice dev);
CUresult cuCtxDestroy(CUcontext ctx);
CUresult cuCtxDestroy_v2(CUcontext ctx);
CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev);
CUresult cuDevicePrimaryCtxRelease(CUdevice dev);
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev);
CUresult cuDevicePrimaryCtxReset(CUdevice dev);
CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev);

#define KEY(p) ((uint64_t)(uintptr_t)(p))

/* --- ordinary contexts -------------------------------------------------------------------- */

/* Before the lower creates a context on dev: its footprint reserved, described by *e
 * (kind PTR_FREE when there is nothing to reserve: an emulated GPU, or a device the
 * shim cannot place, which the lower will refuse).  -1: the cap refuses it. */
static int footprint_reserve(CUdevice dev, struct ptr_entry *e)
{
	memset(e, 0, sizeof *e);
	int v = vcuda_vdev(dev);
	uint64_t bytes = context_footprint();
	if (v < 0 || bytes == 0)
		return 0;
	if (alloc_reserve((unsigned)v, dev, bytes) != 0)
		return -1;
	e->kind = PTR_CONTEXT;
	e->vdev = (uint8_t)v;
	e->bytes = bytes;
	return 0;
}

static void undo_context(CUcontext ctx)
{
	CUresult (*lower)(CUcontext) = SHIM_LOWER(shim_cuda, cuCtxDestroy_v2);
	if (lower)
		(void)lower(ctx);
}

/* After the lower's create (r): the footprint recorded under the new context, or
 * given back when the lower failed.  A table that cannot grow undoes the context. */
static CUresult created(CUresult r, CUcontext *pctx, struct ptr_entry *e)
{
	if (e->kind == PTR_FREE)
		return r;
	if (r != CUDA_SUCCESS) {
		alloc_unreserve(e->vdev, e->bytes);
		return r;
	}
	e->key = KEY(*pctx);
	if (alloc_track(e) != 0) {
		undo_context(*pctx);
		alloc_unreserve(e->vdev, e->bytes);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return r;
}

SHIM_API CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuCtxCreate, pctx, flags, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUcontext *, unsigned int, CUdevice) = SHIM_LOWER(shim_cuda, cuCtxCreate);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct ptr_entry e;
	if (footprint_reserve(dev, &e) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	return created(lower(pctx, flags, dev), pctx, &e);
}

SHIM_API CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuCtxCreate_v2, pctx, flags, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUcontext *, unsigned int, CUdevice) = SHIM_LOWER(shim_cuda, cuCtxCreate_v2);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct ptr_entry e;
	if (footprint_reserve(dev, &e) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	return created(lower(pctx, flags, dev), pctx, &e);
}

SHIM_API CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams,
				 unsigned int flags, CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuCtxCreate_v3, pctx, paramsArray, numParams, flags, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUcontext *, CUexecAffinityParam *, int, unsigned int, CUdevice) =
		SHIM_LOWER(shim_cuda, cuCtxCreate_v3);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct ptr_entry e;
	if (footprint_reserve(dev, &e) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	return created(lower(pctx, paramsArray, numParams, flags, dev), pctx, &e);
}

SHIM_API CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams, unsigned int flags,
				 CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuCtxCreate_v4, pctx, ctxCreateParams, flags, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUcontext *, CUctxCreateParams *, unsigned int, CUdevice) =
		SHIM_LOWER(shim_cuda, cuCtxCreate_v4);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct ptr_entry e;
	if (footprint_reserve(dev, &e) != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	return created(lower(pctx, ctxCreateParams, flags, dev), pctx, &e);
}

/* After the lower destroyed ctx: its footprint and its allocations are given back. */
static CUresult destroyed(CUresult r, CUcontext ctx)
{
	if (r != CUDA_SUCCESS)
		return r;
	struct ptr_entry e;
	if (ptrtable_take(&shim_allocations, PTR_CONTEXT, KEY(ctx), &e))
		alloc_give_back(&e);
	alloc_context_gone(KEY(ctx));
	return r;
}

SHIM_API CUresult cuCtxDestroy(CUcontext ctx)
{
	SHIM_HOOKED(shim_cuda, cuCtxDestroy, ctx);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUcontext) = SHIM_LOWER(shim_cuda, cuCtxDestroy);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	return destroyed(lower(ctx), ctx);
}

SHIM_API CUresult cuCtxDestroy_v2(CUcontext ctx)
{
	SHIM_HOOKED(shim_cuda, cuCtxDestroy_v2, ctx);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUcontext) = SHIM_LOWER(shim_cuda, cuCtxDestroy_v2);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	return destroyed(lower(ctx), ctx);
}

/* --- primary contexts ---------------------------------------------------------------------- */

/* This process's retains of each device's primary context, mirroring the driver's
 * count: the footprint is reserved at the first and given back at the last release
 * (or a reset).  The lock is held across the lower's call so that the count and the
 * driver's cannot get out of step; these calls are rare. */
static pthread_mutex_t primary_lock = PTHREAD_MUTEX_INITIALIZER;
static struct primary {
	unsigned retains;
	unsigned vdev;
	uint64_t footprint;  /* reserved while retains > 0 */
	uint64_t ctx;        /* the handle the driver gave (0: never retained here) */
} primary[VDEV_MAX];

/* The device's slot, or NULL when the shim does not place it (the lower decides). */
static struct primary *primary_of(CUdevice dev, unsigned *vdev)
{
	int v = vcuda_vdev(dev);
	if (v < 0 || dev < 0 || dev >= (int)VDEV_MAX)
		return NULL;
	*vdev = (unsigned)v;
	return &primary[dev];
}

SHIM_API CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuDevicePrimaryCtxRetain, pctx, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(CUcontext *, CUdevice) = SHIM_LOWER(shim_cuda, cuDevicePrimaryCtxRetain);
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	unsigned v;
	struct primary *p = primary_of(dev, &v);
	if (!p)
		return lower(pctx, dev);
	pthread_mutex_lock(&primary_lock);
	uint64_t bytes = p->retains == 0 ? context_footprint() : 0;
	if (bytes && alloc_reserve(v, dev, bytes) != 0) {
		pthread_mutex_unlock(&primary_lock);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	CUresult r = lower(pctx, dev);
	if (r == CUDA_SUCCESS) {
		if (p->retains++ == 0) {
			p->vdev = v;
			p->footprint = bytes;
		}
		if (pctx)
			p->ctx = KEY(*pctx);
	} else if (bytes) {
		alloc_unreserve(v, bytes);
	}
	pthread_mutex_unlock(&primary_lock);
	return r;
}

/* After the lower released (reset: all retains at once) the primary context of p:
 * the context handle whose allocations went with it, or 0. */
static uint64_t primary_gone_locked(struct primary *p, int reset)
{
	if (p->retains == 0)
		return reset ? p->ctx : 0;
	if (reset)
		p->retains = 1;
	if (--p->retains > 0)
		return 0;
	if (p->footprint)
		alloc_unreserve(p->vdev, p->footprint);
	p->footprint = 0;
	return p->ctx;
}

static CUresult primary_release(CUresult (*lower)(CUdevice), CUdevice dev, int reset)
{
	if (!lower)
		return CUDA_ERROR_NOT_SUPPORTED;
	unsigned v;
	struct primary *p = primary_of(dev, &v);
	if (!p)
		return lower(dev);
	pthread_mutex_lock(&primary_lock);
	CUresult r = lower(dev);
	uint64_t gone = r == CUDA_SUCCESS ? primary_gone_locked(p, reset) : 0;
	pthread_mutex_unlock(&primary_lock);
	if (gone)
		alloc_context_gone(gone);
	return r;
}

SHIM_API CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuDevicePrimaryCtxRelease, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	return primary_release(SHIM_LOWER(shim_cuda, cuDevicePrimaryCtxRelease), dev, 0);
}

SHIM_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuDevicePrimaryCtxRelease_v2, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	return primary_release(SHIM_LOWER(shim_cuda, cuDevicePrimaryCtxRelease_v2), dev, 0);
}

SHIM_API CUresult cuDevicePrimaryCtxReset(CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuDevicePrimaryCtxReset, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	return primary_release(SHIM_LOWER(shim_cuda, cuDevicePrimaryCtxReset), dev, 1);
}

SHIM_API CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuDevicePrimaryCtxReset_v2, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	return primary_release(SHIM_LOWER(shim_cuda, cuDevicePrimaryCtxReset_v2), dev, 1);
}

/* In a child after fork (one thread; the lock may have been held by another thread of
 * the parent): the parent's retains are not the child's. */
void context_forget_after_fork(void)
{
	pthread_mutex_init(&primary_lock, NULL);
	memset(primary, 0, sizeof primary);
}

/* Stream-ordered allocation (cuMemAllocAsync, cuMemFreeAsync) and memory pools.
 * Allocations happen when they are enqueued and frees likewise (mem_internal.h), so a
 * pool keeps nothing cached: its reserved memory is exactly the address space of what is
 * allocated from it (the real driver reserves 32 MiB at a time and keeps it up to the
 * release threshold), and trimming has nothing to give back.  Each device has a default pool and a current
 * pool (the default until cuDeviceSetMemPool). */
#include <stdlib.h>
#include <string.h>

#include "emulator/cuda/mem_internal.h"

#define POOL_MAGIC 0x504f4f4cU /* "POOL" */

struct emu_mempool {
	uint32_t magic;
	int device;
	int is_default;
	CUmemPoolProps props;
	int reuse[4]; /* by attribute 1..3 */
	uint64_t release_threshold;
	uint64_t used_cur, used_high;         /* bytes asked for */
	uint64_t reserved_cur, reserved_high; /* bytes taken from the device */
	int access[EMU_MAX_DEVICES]; /* CUmemAccess_flags of other devices */
};

static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct emu_handle_set pools;
static struct emu_mempool default_pools[EMU_MAX_DEVICES];
static struct emu_mempool *current_pools[EMU_MAX_DEVICES];

static void pool_defaults(struct emu_mempool *p, int device)
{
	p->magic = POOL_MAGIC;
	p->device = device;
	p->props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
	p->props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	p->props.location.id = device;
	p->reuse[CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES] = 1;
	p->reuse[CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC] = 1;
	p->reuse[CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES] = 1;
	for (int i = 0; i < EMU_MAX_DEVICES; i++)
		p->access[i] = i == device ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE : CU_MEM_ACCESS_FLAGS_PROT_NONE;
}

/* The device's default pool (locked: pool_mutex). */
static struct emu_mempool *default_pool(int device)
{
	struct emu_mempool *p = &default_pools[device];
	if (p->magic != POOL_MAGIC) {
		pool_defaults(p, device);
		p->is_default = 1;
		(void)emu_hset_add(&pools, p);
	}
	return p;
}

static struct emu_mempool *current_pool(int device)
{
	return current_pools[device] ? current_pools[device] : default_pool(device);
}

static CUresult check_device(CUdevice dev)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (dev < 0 || (unsigned)dev >= emu_device_count() || dev >= EMU_MAX_DEVICES)
		return CUDA_ERROR_INVALID_DEVICE;
	return CUDA_SUCCESS;
}

void emu_pool_note_alloc(struct emu_mempool *p, uint64_t used, uint64_t reserved)
{
	pthread_mutex_lock(&pool_mutex);
	if (emu_hset_has(&pools, p)) {
		p->used_cur += used;
		p->reserved_cur += reserved;
		if (p->used_cur > p->used_high)
			p->used_high = p->used_cur;
		if (p->reserved_cur > p->reserved_high)
			p->reserved_high = p->reserved_cur;
	}
	pthread_mutex_unlock(&pool_mutex);
}

void emu_pool_note_free(struct emu_mempool *p, uint64_t used, uint64_t reserved)
{
	pthread_mutex_lock(&pool_mutex);
	if (emu_hset_has(&pools, p)) {
		p->used_cur = p->used_cur >= used ? p->used_cur - used : 0;
		p->reserved_cur = p->reserved_cur >= reserved ? p->reserved_cur - reserved : 0;
	}
	pthread_mutex_unlock(&pool_mutex);
}

void emu_pools_context_gone(CUcontext ctx)
{
	(void)ctx; /* pools belong to devices, not contexts */
}

/* --- pools of a device ------------------------------------------------------------------ */

EMU_API CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev)
{
	CUresult rc = check_device(dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pool_out)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&pool_mutex);
	*pool_out = default_pool(dev);
	pthread_mutex_unlock(&pool_mutex);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev)
{
	CUresult rc = check_device(dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pool)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&pool_mutex);
	*pool = current_pool(dev);
	pthread_mutex_unlock(&pool_mutex);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool)
{
	CUresult rc = check_device(dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	pthread_mutex_lock(&pool_mutex);
	int ok = emu_hset_has(&pools, pool) && pool->device == dev;
	if (ok)
		current_pools[dev] = pool->is_default ? NULL : pool;
	pthread_mutex_unlock(&pool_mutex);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* CUDA 13's location-based forms: device locations only. */
static CUresult location_device(const CUmemLocation *loc, int type, int *dev)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!loc)
		return CUDA_ERROR_INVALID_VALUE;
	if (type != CU_MEM_ALLOCATION_TYPE_PINNED || loc->type != CU_MEM_LOCATION_TYPE_DEVICE)
		return loc->type == CU_MEM_LOCATION_TYPE_INVALID ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_SUPPORTED;
	rc = check_device(loc->id);
	if (rc != CUDA_SUCCESS)
		return rc;
	*dev = loc->id;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemGetDefaultMemPool(CUmemoryPool *pool_out, CUmemLocation *location, int type)
{
	int dev;
	CUresult rc = location_device(location, type, &dev);
	return rc != CUDA_SUCCESS ? rc : cuDeviceGetDefaultMemPool(pool_out, dev);
}

EMU_API CUresult cuMemGetMemPool(CUmemoryPool *pool, CUmemLocation *location, int type)
{
	int dev;
	CUresult rc = location_device(location, type, &dev);
	return rc != CUDA_SUCCESS ? rc : cuDeviceGetMemPool(pool, dev);
}

EMU_API CUresult cuMemSetMemPool(CUmemLocation *location, int type, CUmemoryPool pool)
{
	int dev;
	CUresult rc = location_device(location, type, &dev);
	return rc != CUDA_SUCCESS ? rc : cuDeviceSetMemPool(dev, pool);
}

/* --- explicit pools ------------------------------------------------------------------------ */

EMU_API CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *poolProps)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pool || !poolProps || poolProps->allocType != CU_MEM_ALLOCATION_TYPE_PINNED)
		return CUDA_ERROR_INVALID_VALUE;
	if (poolProps->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_NOT_SUPPORTED;
	rc = check_device(poolProps->location.id);
	if (rc != CUDA_SUCCESS)
		return rc == CUDA_ERROR_INVALID_DEVICE ? CUDA_ERROR_INVALID_VALUE : rc;
	struct emu_mempool *p = calloc(1, sizeof *p);
	if (!p)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pool_defaults(p, poolProps->location.id);
	p->props = *poolProps;
	pthread_mutex_lock(&pool_mutex);
	int bad = emu_hset_add(&pools, p);
	pthread_mutex_unlock(&pool_mutex);
	if (bad) {
		free(p);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*pool = p;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemPoolDestroy(CUmemoryPool pool)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	pthread_mutex_lock(&pool_mutex);
	int ok = emu_hset_has(&pools, pool) && !pool->is_default;
	if (ok) {
		emu_hset_del(&pools, pool);
		if (current_pools[pool->device] == pool)
			current_pools[pool->device] = NULL;
	}
	pthread_mutex_unlock(&pool_mutex);
	if (!ok)
		return CUDA_ERROR_INVALID_VALUE;
	/* Allocations still out live on (CUDA releases them when they are freed). */
	emu_mem_lock();
	for (struct emu_alloc *a = emu_alloc_find_from(1); a; a = emu_alloc_find_from(a->start + 1))
		if (a->pool == pool)
			a->pool = NULL;
	emu_mem_unlock();
	pool->magic = 0;
	free(pool);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	pthread_mutex_lock(&pool_mutex);
	int ok = emu_hset_has(&pools, pool);
	pthread_mutex_unlock(&pool_mutex);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EMU_API CUresult cuMemPoolSetAttribute(CUmemoryPool pool, int attr, void *value)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&pool_mutex);
	if (!emu_hset_has(&pools, pool)) {
		pthread_mutex_unlock(&pool_mutex);
		return CUDA_ERROR_INVALID_VALUE;
	}
	uint64_t v64;
	rc = CUDA_SUCCESS;
	switch (attr) {
	case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
	case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
	case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
		memcpy(&pool->reuse[attr], value, sizeof(int));
		break;
	case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
		memcpy(&pool->release_threshold, value, sizeof(uint64_t));
		break;
	case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH: /* may only be reset */
	case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
		memcpy(&v64, value, sizeof v64);
		if (v64 != 0) {
			rc = CUDA_ERROR_INVALID_VALUE;
			break;
		}
		if (attr == CU_MEMPOOL_ATTR_USED_MEM_HIGH)
			pool->used_high = pool->used_cur;
		else
			pool->reserved_high = pool->reserved_cur;
		break;
	default:
		rc = CUDA_ERROR_INVALID_VALUE;
	}
	pthread_mutex_unlock(&pool_mutex);
	return rc;
}

EMU_API CUresult cuMemPoolGetAttribute(CUmemoryPool pool, int attr, void *value)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&pool_mutex);
	if (!emu_hset_has(&pools, pool)) {
		pthread_mutex_unlock(&pool_mutex);
		return CUDA_ERROR_INVALID_VALUE;
	}
	uint64_t v64 = 0;
	rc = CUDA_SUCCESS;
	switch (attr) {
	case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
	case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
	case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
		memcpy(value, &pool->reuse[attr], sizeof(int));
		break;
	case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
		v64 = pool->release_threshold;
		break;
	case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
		v64 = pool->reserved_cur;
		break;
	case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
		v64 = pool->used_cur;
		break;
	case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
		v64 = pool->reserved_high;
		break;
	case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
		v64 = pool->used_high;
		break;
	default:
		rc = CUDA_ERROR_INVALID_VALUE;
	}
	if (rc == CUDA_SUCCESS && attr >= CU_MEMPOOL_ATTR_RELEASE_THRESHOLD)
		memcpy(value, &v64, sizeof v64);
	pthread_mutex_unlock(&pool_mutex);
	return rc;
}

EMU_API CUresult cuMemPoolSetAccess(CUmemoryPool pool, const CUmemAccessDesc *map, size_t count)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (count && !map)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&pool_mutex);
	if (!emu_hset_has(&pools, pool)) {
		pthread_mutex_unlock(&pool_mutex);
		return CUDA_ERROR_INVALID_VALUE;
	}
	for (size_t i = 0; i < count && rc == CUDA_SUCCESS; i++) {
		if (map[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE || map[i].location.id < 0 ||
		    (unsigned)map[i].location.id >= emu_device_count() || map[i].location.id >= EMU_MAX_DEVICES ||
		    (map[i].flags != 0 && map[i].flags != 1 && map[i].flags != 3))
			rc = CUDA_ERROR_INVALID_VALUE;
		else if (map[i].location.id == pool->device && map[i].flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
			rc = CUDA_ERROR_INVALID_DEVICE; /* the owner keeps read-write access */
	}
	for (size_t i = 0; i < count && rc == CUDA_SUCCESS; i++)
		pool->access[map[i].location.id] = map[i].flags;
	pthread_mutex_unlock(&pool_mutex);
	return rc;
}

EMU_API CUresult cuMemPoolGetAccess(int *flags, CUmemoryPool memPool, CUmemLocation *location)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!flags || !location || location->type != CU_MEM_LOCATION_TYPE_DEVICE || location->id < 0 ||
	    (unsigned)location->id >= emu_device_count() || location->id >= EMU_MAX_DEVICES)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&pool_mutex);
	int ok = emu_hset_has(&pools, memPool);
	if (ok)
		*flags = memPool->access[location->id];
	pthread_mutex_unlock(&pool_mutex);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* --- stream-ordered allocation ------------------------------------------------------------- */

static CUresult alloc_async(CUdeviceptr *dptr, size_t bytesize, struct emu_mempool *pool, CUstream s)
{
	CUcontext ctx;
	CUresult rc = emu_stream_check(s, &ctx);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!dptr || bytesize == 0)
		return CUDA_ERROR_INVALID_VALUE;
	int dev = emu_context_device(ctx);
	if (dev < 0 || dev >= EMU_MAX_DEVICES)
		return CUDA_ERROR_INVALID_CONTEXT;
	pthread_mutex_lock(&pool_mutex);
	if (!pool) {
		pool = current_pool(dev);
	} else if (!emu_hset_has(&pools, pool)) {
		pthread_mutex_unlock(&pool_mutex);
		return CUDA_ERROR_INVALID_VALUE;
	}
	int pool_dev = pool->device;
	pthread_mutex_unlock(&pool_mutex);
	return emu_devmem_alloc(ctx, pool_dev, bytesize, EMU_ALLOC_DEVICE, pool, dptr);
}

EMU_API CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	return alloc_async(dptr, bytesize, NULL, hStream);
}
EMU_API CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	return alloc_async(dptr, bytesize, NULL, hStream);
}
EMU_API CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool, CUstream hStream)
{
	if (!pool)
		return CUDA_ERROR_INVALID_VALUE;
	return alloc_async(dptr, bytesize, pool, hStream);
}
EMU_API CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
					      CUstream hStream)
{
	return cuMemAllocFromPoolAsync(dptr, bytesize, pool, hStream);
}

EMU_API CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
	CUresult rc = emu_stream_check(hStream, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (dptr == 0)
		return CUDA_ERROR_INVALID_VALUE;
	return emu_devmem_free(dptr, 1);
}
EMU_API CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
	return cuMemFreeAsync(dptr, hStream);
}

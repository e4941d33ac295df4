/* libcuda's virtual view: cuInit (which devices the lower driver enumerates), the
 * ordinal → virtual GPU map, and the device and memory queries that show the virtual
 * GPU: cuDeviceGetName, cuDeviceGetUuid(_v2), cuDeviceTotalMem(_v2), cuMemGetInfo(_v2).
 * Design: docs/shim.md, "Virtual devices" and "One view". */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "shim/cuda/vcuda.h"

CUresult cuInit(unsigned int flags);
CUresult cuCtxGetDevice(CUdevice *device);
CUresult cuDeviceGetName(char *name, int len, CUdevice dev);
CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev);
CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev);
CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev);
CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev);
CUresult cuMemGetInfo(unsigned int *free_bytes, unsigned int *total_bytes);
CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes);

/* Set by the first successful cuInit, before `initialized` (release) and never again. */
static int initialized;
static unsigned nselected;
static unsigned selected[VDEV_MAX]; /* ordinal → virtual GPU */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

int vcuda_vdev(int ordinal)
{
	if (!__atomic_load_n(&initialized, __ATOMIC_ACQUIRE) || ordinal < 0)
		return -1;
	if (shim_cuda.vdevs.passthrough)
		return ordinal < (int)VDEV_MAX ? ordinal : -1;
	return (unsigned)ordinal < nselected ? (int)selected[ordinal] : -1;
}

CUresult vcuda_current(int *ordinal, unsigned *vdev)
{
	CUdevice d;
	CUresult (*get)(CUdevice *) = SHIM_LOWER(shim_cuda, cuCtxGetDevice);
	if (!get)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = get(&d);
	if (r != CUDA_SUCCESS)
		return r;
	int v = vcuda_vdev(d);
	if (v < 0)
		return CUDA_ERROR_INVALID_DEVICE;
	*ordinal = d;
	*vdev = (unsigned)v;
	return CUDA_SUCCESS;
}

__thread struct vcuda_current_cache vcuda_current_cache;
unsigned vcuda_contexts_generation = 1;

void vcuda_contexts_changed(void)
{
	__atomic_add_fetch(&vcuda_contexts_generation, 1, __ATOMIC_RELEASE);
}

int vcuda_current_miss(CUcontext ctx, unsigned gen)
{
	int ordinal;
	unsigned v;
	if (vcuda_current(&ordinal, &v) != CUDA_SUCCESS)
		return -1;
	vcuda_current_cache.ctx = ctx;
	vcuda_current_cache.generation = gen;
	vcuda_current_cache.ordinal = ordinal;
	vcuda_current_cache.vdev = v;
	return 0;
}

uint64_t vcuda_caps_known[VDEV_MAX];

/* The cap now: a percent not resolved yet is resolved here (or, when the lower cannot
 * say the physical total, none for now). */
static uint64_t cap_now(unsigned v, int ordinal)
{
	const struct vdev *d = &shim_cuda.vdevs.dev[v];
	if (d->memory.kind != POLICY_MEMORY_PERCENT)
		return vdev_cap(d, 0);
	struct accounting_region *r = shim_cuda.acct.r;
	uint64_t cap = __atomic_load_n(&r->gpu[v].cap_resolved, __ATOMIC_ACQUIRE);
	if (cap)
		return cap;
	size_t total = 0;
	CUresult (*lower_total)(size_t *, CUdevice) = SHIM_LOWER(shim_cuda, cuDeviceTotalMem_v2);
	if (!lower_total || lower_total(&total, ordinal) != CUDA_SUCCESS || total == 0)
		return VDEV_NO_CAP; /* cannot happen on a working device; do not block it */
	uint64_t mine = vdev_cap(d, total), expected = 0;
	if (!mine)
		mine = 1; /* 0 means "not yet": a 1% cap of a tiny device is still a cap */
	/* The first resolver in the sandbox decides; everyone uses that figure. */
	__atomic_compare_exchange_n(&r->gpu[v].cap_resolved, &expected, mine, 0,
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	return expected ? expected : mine;
}

uint64_t vcuda_cap_resolve(unsigned v, int ordinal)
{
	uint64_t cap = cap_now(v, ordinal);
	/* A percent that could not be resolved (no cap for now) is asked again. */
	if (shim_cuda.vdevs.dev[v].memory.kind != POLICY_MEMORY_PERCENT || cap != VDEV_NO_CAP)
		__atomic_store_n(&vcuda_caps_known[v], cap, __ATOMIC_RELAXED);
	return cap;
}

/* setenv / unsetenv: value NULL removes the variable. */
static void put_env(const char *name, const char *value)
{
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
}

static char *copy_env(const char *name)
{
	const char *v = getenv(name);
	return v ? strdup(v) : NULL;
}

/* The lower driver reads CUDA_VISIBLE_DEVICES at its first successful cuInit.  For that
 * one call the shim sets it to the physical GPUs behind the virtual GPUs the program's
 * own value selects (and CUDA_DEVICE_ORDER=PCI_BUS_ID, for GPUs named by index), then
 * puts the program's values back: the program and its children see their environment
 * unchanged.  Changing the environment is not thread-safe against a concurrent getenv
 * in another thread; cuInit is where programs initialise, and the window is one call. */
SHIM_API CUresult cuInit(unsigned int flags)
{
	SHIM_HOOKED(shim_cuda, cuInit, flags);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(unsigned int) = SHIM_LOWER(shim_cuda, cuInit);
	if (!lower)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (__atomic_load_n(&initialized, __ATOMIC_ACQUIRE))
		return lower(flags);

	pthread_mutex_lock(&init_lock);
	CUresult r;
	const struct vdev_table *t = &shim_cuda.vdevs;
	if (__atomic_load_n(&initialized, __ATOMIC_ACQUIRE)) {
		r = lower(flags);
	} else if (t->passthrough) {
		r = lower(flags);
		if (r == CUDA_SUCCESS)
			__atomic_store_n(&initialized, 1, __ATOMIC_RELEASE);
	} else {
		char *program_cvd = copy_env("CUDA_VISIBLE_DEVICES");
		char *program_order = copy_env("CUDA_DEVICE_ORDER");
		unsigned sel[VDEV_MAX];
		int selected_n = vdev_select(t, program_cvd, sel);
		unsigned n = selected_n > 0 ? (unsigned)selected_n : 0;
		static char list[VDEV_MAX * (POLICY_UUID_MAX + 1)]; /* under init_lock */
		if (selected_n == VDEV_SELECT_REPEAT) {
			r = CUDA_ERROR_INVALID_DEVICE; /* the real driver's answer to a repeat */
		} else {
			if (vdev_lower_list(t, sel, n, list, sizeof list) != 0)
				list[0] = '\0'; /* cannot happen: room for every token */
			put_env("CUDA_VISIBLE_DEVICES", list);
			put_env("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
			r = lower(flags);
			put_env("CUDA_VISIBLE_DEVICES", program_cvd);
			put_env("CUDA_DEVICE_ORDER", program_order);
		}
		free(program_cvd);
		free(program_order);
		if (r == CUDA_SUCCESS) {
			memcpy(selected, sel, sizeof sel);
			nselected = n;
			__atomic_store_n(&initialized, 1, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&init_lock);
	return r;
}

/* The virtual GPU of dev when the shim shapes it (not in passthrough), else NULL. */
static const struct vdev *shaped(CUdevice dev)
{
	if (shim_cuda.vdevs.passthrough)
		return NULL;
	int v = vcuda_vdev(dev);
	return v < 0 ? NULL : &shim_cuda.vdevs.dev[v];
}

SHIM_API CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuDeviceGetName, name, len, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult r = SHIM_LOWER(shim_cuda, cuDeviceGetName)(name, len, dev);
	const struct vdev *d = shaped(dev);
	if (r == CUDA_SUCCESS && d && d->name[0] && len > 0)
		snprintf(name, (size_t)len, "%s", d->name);
	return r;
}

static CUresult get_uuid(CUresult r, CUuuid *uuid, CUdevice dev)
{
	const struct vdev *d = shaped(dev);
	if (r == CUDA_SUCCESS && d)
		memcpy(uuid, d->uuid, sizeof d->uuid);
	return r;
}

SHIM_API CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuDeviceGetUuid, uuid, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	return get_uuid(SHIM_LOWER(shim_cuda, cuDeviceGetUuid)(uuid, dev), uuid, dev);
}

SHIM_API CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuDeviceGetUuid_v2, uuid, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	return get_uuid(SHIM_LOWER(shim_cuda, cuDeviceGetUuid_v2)(uuid, dev), uuid, dev);
}

/* The total a virtual GPU shows: its cap, never more than the physical total. */
static size_t shown_total(unsigned v, int ordinal, size_t physical)
{
	uint64_t cap = vcuda_cap(v, ordinal);
	return cap < physical ? (size_t)cap : physical;
}

static CUresult total_mem_view(size_t *bytes, CUdevice dev)
{
	CUresult r = SHIM_LOWER(shim_cuda, cuDeviceTotalMem_v2)(bytes, dev);
	int v = vcuda_vdev(dev);
	if (r == CUDA_SUCCESS && v >= 0)
		*bytes = shown_total((unsigned)v, dev, *bytes);
	return r;
}

SHIM_API CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuDeviceTotalMem_v2, bytes, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	return total_mem_view(bytes, dev);
}

/* The CUDA 2.x forms take 32-bit sizes: saturated, as the driver saturates them. */
static unsigned int saturated(size_t x)
{
	return x > 0xffffffffu ? 0xffffffffu : (unsigned int)x;
}

SHIM_API CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
	SHIM_HOOKED(shim_cuda, cuDeviceTotalMem, bytes, dev);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	size_t total;
	CUresult r = total_mem_view(&total, dev);
	if (r == CUDA_SUCCESS)
		*bytes = saturated(total);
	return r;
}

/* total = the cap (at most the physical total); free = what the lower has free, but
 * never more than the cap minus what the whole sandbox holds on this virtual GPU. */
static CUresult mem_info_view(size_t *free_bytes, size_t *total_bytes)
{
	CUresult r = SHIM_LOWER(shim_cuda, cuMemGetInfo_v2)(free_bytes, total_bytes);
	CUcontext ctx;
	int ordinal;
	unsigned v;
	if (r != CUDA_SUCCESS || vcuda_current_ctx(&ctx, &ordinal, &v) != 0)
		return r;
	uint64_t cap = vcuda_cap(v, ordinal);
	if (cap == VDEV_NO_CAP)
		return r;
	size_t total = cap < *total_bytes ? (size_t)cap : *total_bytes;
	uint64_t used = accounting_used(vcuda_accounting(), v);
	size_t room = used >= total ? 0 : total - (size_t)used;
	*total_bytes = total;
	if (*free_bytes > room)
		*free_bytes = room;
	return r;
}

SHIM_API CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes)
{
	SHIM_HOOKED(shim_cuda, cuMemGetInfo_v2, free_bytes, total_bytes);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!free_bytes || !total_bytes)
		return CUDA_ERROR_INVALID_VALUE;
	return mem_info_view(free_bytes, total_bytes);
}

SHIM_API CUresult cuMemGetInfo(unsigned int *free_bytes, unsigned int *total_bytes)
{
	SHIM_HOOKED(shim_cuda, cuMemGetInfo, free_bytes, total_bytes);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!free_bytes || !total_bytes)
		return CUDA_ERROR_INVALID_VALUE;
	size_t f, t;
	CUresult r = mem_info_view(&f, &t);
	if (r == CUDA_SUCCESS) {
		*free_bytes = saturated(f);
		*total_bytes = saturated(t);
	}
	return r;
}

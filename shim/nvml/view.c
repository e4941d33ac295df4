/* libnvidia-ml's virtual view: what NVML clients (nvidia-smi, pynvml, Ollama, DCGM
 * exporters) see inside vgpu-run.  The same virtual GPUs as libcuda's shim (both build
 * shim_lib.vdevs from the one policy): the same count, order, names, UUIDs and caps.
 * Design: docs/shim.md, "Virtual devices" and "One view".
 *
 * Virtual GPU v is one device of the lower NVML.  At the first successful nvmlInit*
 * the shim looks up the lower's handle of each virtual GPU and from then on hands out
 * the lower's handle pointers themselves: every function the shim does not intercept
 * takes them as they are, with no translation.  What it intercepts:
 *   - count, handles by index / UUID / PCI bus id / serial: only the virtual GPUs,
 *     by virtual index and virtual UUID (a physical UUID finds nothing);
 *   - index, UUID, name: the virtual ones;
 *   - memory info (v1, v2): a capped GPU shows its cap as total and the whole
 *     sandbox's allocations (the accounting region) as used;
 *   - running processes (compute, graphics, MPS; v1, v2, v3, and the detail list that
 *     nvidia-smi reads), accounting pids, process utilization samples (both forms):
 *     the sandbox's only;
 *   - lists of handles (nearest GPUs of a device, GPUs of a CPU, GPUs of a unit): the
 *     view's GPUs only, since every forwarded call on a handle of another GPU would
 *     show a GPU the policy hides.
 * Each interception calls the lower first whenever that decides the error (not
 * initialised, a bad handle, a NULL pointer, a version mismatch), so the errors are
 * NVML's own; then it replaces what the view changes.
 *
 * Passthrough (vdevs.passthrough: the real driver without a GPU list to go by): the
 * lower's count, handles, indexes, UUIDs and names stand; only the global cap applies
 * to memory, by NVML index, and processes are still the sandbox's only. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emulator/nvml/nvml_abi.h"
#include "shim/common/shim.h"

SHIM_HIDDEN extern struct shim_lib shim_nvml;

/* The functions intercepted here, and the lower's used to build the view. */
nvmlReturn_t nvmlInit(void);
nvmlReturn_t nvmlInit_v2(void);
nvmlReturn_t nvmlInitWithFlags(unsigned int flags);
nvmlReturn_t nvmlDeviceGetCount(unsigned int *count);
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count);
nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device);
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device);
nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device);
nvmlReturn_t nvmlDeviceGetHandleByUUIDV(const nvmlUUID_t *uuid, nvmlDevice_t *device);
nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *busId, nvmlDevice_t *device);
nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *busId, nvmlDevice_t *device);
nvmlReturn_t nvmlDeviceGetHandleBySerial(const char *serial, nvmlDevice_t *device);
nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index);
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length);
nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length);
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory);
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory);
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t, unsigned *, nvmlProcessInfo_v1_t *);
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t, unsigned *, nvmlProcessInfo_v2_t *);
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t, unsigned *, nvmlProcessInfo_t *);
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t, unsigned *, nvmlProcessInfo_v1_t *);
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t, unsigned *, nvmlProcessInfo_v2_t *);
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t, unsigned *, nvmlProcessInfo_t *);
nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses(nvmlDevice_t, unsigned *, nvmlProcessInfo_v1_t *);
nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v2(nvmlDevice_t, unsigned *, nvmlProcessInfo_v2_t *);
nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v3(nvmlDevice_t, unsigned *, nvmlProcessInfo_t *);
nvmlReturn_t nvmlDeviceGetRunningProcessDetailList(nvmlDevice_t, nvmlProcessDetailList_t *);
nvmlReturn_t nvmlDeviceGetAccountingPids(nvmlDevice_t, unsigned *, unsigned *);
nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned *,
					     unsigned long long);
nvmlReturn_t nvmlDeviceGetProcessesUtilizationInfo(nvmlDevice_t, nvmlProcessesUtilizationInfo_t *);
nvmlReturn_t nvmlDeviceGetTopologyNearestGpus(nvmlDevice_t, nvmlGpuTopologyLevel_t, unsigned *, nvmlDevice_t *);
nvmlReturn_t nvmlSystemGetTopologyGpuSet(unsigned, unsigned *, nvmlDevice_t *);
nvmlReturn_t nvmlUnitGetDevices(nvmlUnit_t, unsigned *, nvmlDevice_t *);

/* What an interception returns when the lower NVML lacks the function it needs: what
 * a forwarded name the lower lacks returns too (docs/shim.md, error mode). */
#define LACKING NVML_ERROR_NOT_SUPPORTED

/* Every interception starts so. */
#define READY()                                          \
	do {                                             \
		if (!shim_ready(&shim_nvml))             \
			return NVML_ERROR_UNINITIALIZED; \
	} while (0)

static inline const struct vdev_table *vdevs(void)
{
	return &shim_nvml.vdevs;
}

/* --- the lower's handle of each virtual GPU --------------------------------------- */

/* handle[v]: the lower's handle of virtual GPU v, NULL until found; found once per
 * process (a lower NVML keeps its handles valid for the life of the process, across
 * nvmlShutdown and nvmlInit) and never changed, so readers need no lock.  missing[v]:
 * the lower's answer when it could not be found. */
static nvmlDevice_t handle[VDEV_MAX];
static nvmlReturn_t missing[VDEV_MAX];
static int all_found;
static pthread_mutex_t find_lock = PTHREAD_MUTEX_INITIALIZER;

static nvmlReturn_t lower_by_index(unsigned index, nvmlDevice_t *h)
{
	nvmlReturn_t (*v2)(unsigned, nvmlDevice_t *) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetHandleByIndex_v2);
	nvmlReturn_t (*v1)(unsigned, nvmlDevice_t *) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetHandleByIndex);
	return v2 ? v2(index, h) : v1 ? v1(index, h) : LACKING;
}

/* After a successful nvmlInit* of the lower: the handles not found yet.  With the
 * emulator a virtual GPU is the lower's index; with the real driver its physical UUID
 * names it whatever the lower's order (the index only when the UUID is unknown). */
static void find_handles(void)
{
	const struct vdev_table *t = vdevs();
	if (t->passthrough || __atomic_load_n(&all_found, __ATOMIC_ACQUIRE))
		return;
	nvmlReturn_t (*by_uuid)(const char *, nvmlDevice_t *) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetHandleByUUID);
	pthread_mutex_lock(&find_lock);
	int all = 1;
	for (unsigned v = 0; v < t->n; v++) {
		const struct vdev *d = &t->dev[v];
		if (__atomic_load_n(&handle[v], __ATOMIC_ACQUIRE))
			continue;
		nvmlDevice_t h = NULL;
		nvmlReturn_t r;
		if (!t->emulated && d->lower_uuid[0])
			r = by_uuid ? by_uuid(d->lower_uuid, &h) : LACKING;
		else
			r = lower_by_index((unsigned)d->lower_index, &h);
		if (r == NVML_SUCCESS && h) {
			__atomic_store_n(&handle[v], h, __ATOMIC_RELEASE);
		} else {
			__atomic_store_n(&missing[v], r == NVML_SUCCESS ? NVML_ERROR_UNKNOWN : r, __ATOMIC_RELAXED);
			all = 0;
		}
	}
	if (all)
		__atomic_store_n(&all_found, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&find_lock);
}

/* The virtual GPU whose handle h is, or -1.  At most VDEV_MAX compares. */
static int vdev_of(nvmlDevice_t h)
{
	const struct vdev_table *t = vdevs();
	if (!h)
		return -1;
	for (unsigned v = 0; v < t->n; v++)
		if (__atomic_load_n(&handle[v], __ATOMIC_ACQUIRE) == h)
			return (int)v;
	return -1;
}

/* Virtual GPU v's handle into *device. */
static nvmlReturn_t handle_of(unsigned v, nvmlDevice_t *device)
{
	nvmlDevice_t h = __atomic_load_n(&handle[v], __ATOMIC_ACQUIRE);
	if (!h) {
		nvmlReturn_t r = __atomic_load_n(&missing[v], __ATOMIC_RELAXED);
		return r != NVML_SUCCESS ? r : NVML_ERROR_UNINITIALIZED; /* not looked up yet */
	}
	*device = h;
	return NVML_SUCCESS;
}

/* NVML_SUCCESS when the lower is initialised (its own answer otherwise): one cheap
 * call, for interceptions that do not call the lower anyway. */
static nvmlReturn_t lower_ready(void)
{
	nvmlReturn_t (*count)(unsigned *) = SHIM_LOWER(shim_nvml, nvmlDeviceGetCount_v2);
	unsigned n;
	return count ? count(&n) : LACKING;
}

/* A handle the view never hands out: the lower's handle of a GPU outside the policy
 * (a program can only have one from a lower it loaded itself).  Calls that take a
 * device and are intercepted refuse it as nvmlDeviceGetIndex does, with
 * NVML_ERROR_INVALID_ARGUMENT; in passthrough every GPU is in the view. */
static int outside_view(nvmlDevice_t device)
{
	return !vdevs()->passthrough && vdev_of(device) < 0;
}

/* --- nvmlInit* -------------------------------------------------------------------- */

static nvmlReturn_t after_init(nvmlReturn_t r)
{
	if (r == NVML_SUCCESS)
		find_handles();
	return r;
}

SHIM_API nvmlReturn_t nvmlInit(void)
{
	SHIM_HOOKED(shim_nvml, nvmlInit);
	READY();
	nvmlReturn_t (*lower)(void) = SHIM_LOWER(shim_nvml, nvmlInit);
	return lower ? after_init(lower()) : LACKING;
}

SHIM_API nvmlReturn_t nvmlInit_v2(void)
{
	SHIM_HOOKED(shim_nvml, nvmlInit_v2);
	READY();
	nvmlReturn_t (*lower)(void) = SHIM_LOWER(shim_nvml, nvmlInit_v2);
	return lower ? after_init(lower()) : LACKING;
}

SHIM_API nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
	SHIM_HOOKED(shim_nvml, nvmlInitWithFlags, flags);
	READY();
	nvmlReturn_t (*lower)(unsigned) = SHIM_LOWER(shim_nvml, nvmlInitWithFlags);
	return lower ? after_init(lower(flags)) : LACKING;
}

/* --- count and handles ------------------------------------------------------------ */

/* NVML counts every GPU whatever CUDA_VISIBLE_DEVICES says, and so does the view: the
 * virtual GPUs of the policy. */
static nvmlReturn_t count_view(nvmlReturn_t (*lower)(unsigned *), unsigned *count)
{
	if (!lower)
		return LACKING;
	if (vdevs()->passthrough)
		return lower(count);
	unsigned n;
	nvmlReturn_t r = lower(&n);
	if (r != NVML_SUCCESS)
		return r;
	if (!count)
		return NVML_ERROR_INVALID_ARGUMENT;
	*count = vdevs()->n;
	return NVML_SUCCESS;
}

SHIM_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetCount_v2, count);
	READY();
	return count_view(SHIM_LOWER(shim_nvml, nvmlDeviceGetCount_v2), count);
}

SHIM_API nvmlReturn_t nvmlDeviceGetCount(unsigned int *count)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetCount, count);
	READY();
	return count_view(SHIM_LOWER(shim_nvml, nvmlDeviceGetCount), count);
}

static nvmlReturn_t by_index_view(nvmlReturn_t (*lower)(unsigned, nvmlDevice_t *), unsigned index,
				  nvmlDevice_t *device)
{
	if (!lower)
		return LACKING;
	if (vdevs()->passthrough)
		return lower(index, device);
	nvmlReturn_t r = lower_ready();
	if (r != NVML_SUCCESS)
		return r;
	if (!device || index >= vdevs()->n)
		return NVML_ERROR_INVALID_ARGUMENT;
	return handle_of(index, device);
}

SHIM_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetHandleByIndex_v2, index, device);
	READY();
	return by_index_view(SHIM_LOWER(shim_nvml, nvmlDeviceGetHandleByIndex_v2), index, device);
}

SHIM_API nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetHandleByIndex, index, device);
	READY();
	return by_index_view(SHIM_LOWER(shim_nvml, nvmlDeviceGetHandleByIndex), index, device);
}

/* The virtual GPU a UUID text names, or -1.  NVML accepts "GPU-" in any case or not at
 * all; so does the view. */
static int find_virtual_uuid(const char *text)
{
	char full[VDEV_UUID_TEXT_MAX];
	const char *hex = strncasecmp(text, "GPU-", 4) == 0 ? text + 4 : text;
	if (strlen(hex) > sizeof full - 5)
		return -1;
	snprintf(full, sizeof full, "GPU-%s", hex);
	return vdev_find_uuid(vdevs(), full);
}

/* A virtual UUID finds its GPU.  Anything else is the lower's to judge (a malformed
 * UUID is its INVALID_ARGUMENT), but a GPU the lower finds is not found here: the
 * physical UUIDs are not part of the view. */
SHIM_API nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetHandleByUUID, uuid, device);
	READY();
	nvmlReturn_t (*lower)(const char *, nvmlDevice_t *) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetHandleByUUID);
	if (!lower)
		return LACKING;
	if (vdevs()->passthrough)
		return lower(uuid, device);
	nvmlReturn_t r = lower_ready();
	if (r != NVML_SUCCESS)
		return r;
	if (!uuid || !device)
		return NVML_ERROR_INVALID_ARGUMENT;
	int v = find_virtual_uuid(uuid);
	if (v >= 0)
		return handle_of((unsigned)v, device);
	nvmlDevice_t h;
	r = lower(uuid, &h);
	return r == NVML_SUCCESS ? NVML_ERROR_NOT_FOUND : r;
}

SHIM_API nvmlReturn_t nvmlDeviceGetHandleByUUIDV(const nvmlUUID_t *uuid, nvmlDevice_t *device)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetHandleByUUIDV, uuid, device);
	READY();
	nvmlReturn_t (*lower)(const nvmlUUID_t *, nvmlDevice_t *) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetHandleByUUIDV);
	if (!lower)
		return LACKING;
	if (vdevs()->passthrough)
		return lower(uuid, device);
	nvmlReturn_t r = lower_ready();
	if (r != NVML_SUCCESS)
		return r;
	if (!uuid || !device)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (uuid->version == nvmlUUID_v1) {
		int v = -1;
		if (uuid->type == NVML_UUID_TYPE_ASCII) {
			char text[NVML_DEVICE_UUID_ASCII_LEN];
			memcpy(text, uuid->value.str, sizeof text);
			text[sizeof text - 1] = '\0';
			v = find_virtual_uuid(text);
		} else if (uuid->type == NVML_UUID_TYPE_BINARY) {
			for (unsigned k = 0; k < vdevs()->n && v < 0; k++)
				if (memcmp(vdevs()->dev[k].uuid, uuid->value.bytes, NVML_DEVICE_UUID_BINARY_LEN) == 0)
					v = (int)k;
		}
		if (v >= 0)
			return handle_of((unsigned)v, device);
	}
	/* Versions, types and forms are the lower's to refuse. */
	nvmlDevice_t h;
	r = lower(uuid, &h);
	return r == NVML_SUCCESS ? NVML_ERROR_NOT_FOUND : r;
}

/* A lookup the lower answers: a GPU outside the view is not found. */
static nvmlReturn_t lookup_view(nvmlReturn_t (*lower)(const char *, nvmlDevice_t *),
				const char *key, nvmlDevice_t *device)
{
	if (!lower)
		return LACKING;
	if (vdevs()->passthrough)
		return lower(key, device);
	nvmlDevice_t h = NULL;
	nvmlReturn_t r = lower(key, device ? &h : NULL);
	if (r != NVML_SUCCESS)
		return r;
	if (vdev_of(h) < 0)
		return NVML_ERROR_NOT_FOUND;
	*device = h;
	return NVML_SUCCESS;
}

SHIM_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *busId, nvmlDevice_t *device)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetHandleByPciBusId_v2, busId, device);
	READY();
	return lookup_view(SHIM_LOWER(shim_nvml, nvmlDeviceGetHandleByPciBusId_v2), busId, device);
}

SHIM_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *busId, nvmlDevice_t *device)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetHandleByPciBusId, busId, device);
	READY();
	return lookup_view(SHIM_LOWER(shim_nvml, nvmlDeviceGetHandleByPciBusId), busId, device);
}

SHIM_API nvmlReturn_t nvmlDeviceGetHandleBySerial(const char *serial, nvmlDevice_t *device)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetHandleBySerial, serial, device);
	READY();
	return lookup_view(SHIM_LOWER(shim_nvml, nvmlDeviceGetHandleBySerial), serial, device);
}

/* --- identity --------------------------------------------------------------------- */

/* s into buf of length bytes, as NVML writes strings: INVALID_ARGUMENT for no buffer,
 * INSUFFICIENT_SIZE (nothing written) when s and its NUL do not fit. */
static nvmlReturn_t put_string(char *buf, unsigned length, const char *s)
{
	if (!buf)
		return NVML_ERROR_INVALID_ARGUMENT;
	size_t n = strlen(s);
	if (length <= n)
		return NVML_ERROR_INSUFFICIENT_SIZE;
	memcpy(buf, s, n + 1);
	return NVML_SUCCESS;
}

SHIM_API nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetIndex, device, index);
	READY();
	nvmlReturn_t (*lower)(nvmlDevice_t, unsigned *) = SHIM_LOWER(shim_nvml, nvmlDeviceGetIndex);
	if (!lower)
		return LACKING;
	if (vdevs()->passthrough)
		return lower(device, index);
	unsigned physical;
	nvmlReturn_t r = lower(device, &physical); /* initialised, and a handle of the lower's */
	if (r != NVML_SUCCESS)
		return r;
	int v = vdev_of(device);
	if (!index || v < 0)
		return NVML_ERROR_INVALID_ARGUMENT;
	*index = (unsigned)v;
	return NVML_SUCCESS;
}

SHIM_API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetUUID, device, uuid, length);
	READY();
	nvmlReturn_t (*lower)(nvmlDevice_t, char *, unsigned) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetUUID);
	if (!lower)
		return LACKING;
	if (vdevs()->passthrough)
		return lower(device, uuid, length);
	char physical[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	nvmlReturn_t r = lower(device, physical, sizeof physical);
	if (r != NVML_SUCCESS)
		return r;
	int v = vdev_of(device);
	if (v < 0)
		return NVML_ERROR_INVALID_ARGUMENT;
	return put_string(uuid, length, vdevs()->dev[v].uuid_text);
}

SHIM_API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetName, device, name, length);
	READY();
	nvmlReturn_t (*lower)(nvmlDevice_t, char *, unsigned) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetName);
	if (!lower)
		return LACKING;
	if (vdevs()->passthrough)
		return lower(device, name, length);
	int v = vdev_of(device);
	if (v >= 0 && !vdevs()->dev[v].name[0])
		return lower(device, name, length); /* no override: the lower's name */
	char physical[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
	nvmlReturn_t r = lower(device, physical, sizeof physical);
	if (r != NVML_SUCCESS)
		return r;
	if (v < 0)
		return NVML_ERROR_INVALID_ARGUMENT;
	return put_string(name, length, vdevs()->dev[v].name);
}

/* --- memory ----------------------------------------------------------------------- */

/* The accounting index of a handle: the virtual GPU, or in passthrough the lower's
 * NVML index (libcuda's shim counts by CUDA ordinal there, which is the same index
 * unless the program narrows CUDA_VISIBLE_DEVICES: the degraded mode's limit); -1 when
 * the GPU has no place in the accounting region. */
static int accounting_index(nvmlDevice_t device)
{
	int v;
	if (vdevs()->passthrough) {
		nvmlReturn_t (*get)(nvmlDevice_t, unsigned *) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetIndex);
		unsigned i;
		v = get && get(device, &i) == NVML_SUCCESS ? (int)i : -1;
	} else {
		v = vdev_of(device);
	}
	return v >= 0 && v < (int)VDEV_MAX && v < (int)ACCOUNTING_MAX_GPUS ? v : -1;
}

/* The cap of virtual GPU v in bytes (VDEV_NO_CAP: none) given NVML's physical total.
 * A percent is resolved once for the whole sandbox: the first process to need it,
 * through CUDA (shim/cuda/vcuda.c) or here, stores its figure in the region and
 * everyone uses that one. */
static uint64_t cap_of(unsigned v, uint64_t physical_total)
{
	const struct vdev *d = &vdevs()->dev[v];
	if (d->memory.kind != POLICY_MEMORY_PERCENT)
		return vdev_cap(d, physical_total);
	struct accounting_region *region = shim_nvml.acct.r;
	uint64_t cap = __atomic_load_n(&region->gpu[v].cap_resolved, __ATOMIC_ACQUIRE);
	if (cap)
		return cap;
	uint64_t mine = vdev_cap(d, physical_total), expected = 0;
	if (!mine)
		mine = 1; /* 0 means "not yet" */
	__atomic_compare_exchange_n(&region->gpu[v].cap_resolved, &expected, mine, 0,
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	return expected ? expected : mine;
}

struct shown_memory {
	unsigned long long total, used, free;
};

/* What a capped GPU shows, from the lower's total and free; 0 when the GPU has no cap
 * (the lower's figures stand).  total: the cap, never more than the physical total.
 * used: what the whole sandbox holds on the GPU.  free: the cap's room left, never
 * negative, and never more than the lower has free (the physical GPU may be shared
 * beyond the sandbox): the figure cuMemGetInfo shows too. */
static int shown(nvmlDevice_t device, unsigned long long lower_total, unsigned long long lower_free,
		 struct shown_memory *m)
{
	int v = accounting_index(device);
	if (v < 0)
		return 0;
	uint64_t cap = cap_of((unsigned)v, lower_total);
	if (cap == VDEV_NO_CAP)
		return 0;
	m->total = cap < lower_total ? cap : lower_total;
	m->used = accounting_used(&shim_nvml.acct, (unsigned)v);
	m->free = m->used >= m->total ? 0 : m->total - m->used;
	if (m->free > lower_free)
		m->free = lower_free;
	return 1;
}

SHIM_API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetMemoryInfo, device, memory);
	READY();
	nvmlReturn_t (*lower)(nvmlDevice_t, nvmlMemory_t *) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetMemoryInfo);
	if (!lower)
		return LACKING;
	nvmlReturn_t r = lower(device, memory);
	struct shown_memory m;
	if (r == NVML_SUCCESS && shown(device, memory->total, memory->free, &m)) {
		memory->total = m.total;
		memory->used = m.used;
		memory->free = m.free;
	}
	return r;
}

/* v2 has a field of its own for what the driver reserves.  Under a cap it is 0: the
 * cap is what the sandbox may allocate, and the driver's reserve is not part of that
 * (it is outside the cap, as the reserve is outside cuMemGetInfo's total), so total =
 * used + free as far as the sandbox is concerned, and v1, v2 and cuMemGetInfo show the
 * same total and free.  A share of the reserve "in proportion" would be a number that
 * no allocation could ever change and no other interface shows. */
SHIM_API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetMemoryInfo_v2, device, memory);
	READY();
	nvmlReturn_t (*lower)(nvmlDevice_t, nvmlMemory_v2_t *) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetMemoryInfo_v2);
	if (!lower)
		return LACKING;
	nvmlReturn_t r = lower(device, memory); /* also checks the version */
	struct shown_memory m;
	if (r == NVML_SUCCESS && shown(device, memory->total, memory->free, &m)) {
		memory->total = m.total;
		memory->reserved = 0;
		memory->used = m.used;
		memory->free = m.free;
	}
	return r;
}

/* --- running processes ------------------------------------------------------------ */

/* A process is the sandbox's when it lives in this process's mount namespace: vgpu-run
 * gives each sandbox a mount namespace of its own (and no pid namespace, so the pids
 * NVML reports are ours to look up in /proc).  A process we may not inspect is not the
 * sandbox's.  self: stat of /proc/self/ns/mnt, or NULL when that failed (then only
 * this process is known to be ours). */
static int in_sandbox(unsigned pid, const struct stat *self)
{
	if (!self)
		return pid == (unsigned)getpid();
	char path[48];
	struct stat st;
	snprintf(path, sizeof path, "/proc/%u/ns/mnt", pid);
	return pid != 0 && stat(path, &st) == 0 && st.st_dev == self->st_dev && st.st_ino == self->st_ino;
}

/* Keeps the sandbox's entries of n (of size bytes each, the pid at pid_at) in place;
 * returns how many. */
static unsigned keep_sandbox(unsigned char *entries, unsigned n, size_t size, size_t pid_at)
{
	struct stat self_st;
	const struct stat *self = stat("/proc/self/ns/mnt", &self_st) == 0 ? &self_st : NULL;
	unsigned kept = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned pid;
		memcpy(&pid, entries + i * size + pid_at, sizeof pid);
		if (!in_sandbox(pid, self))
			continue;
		if (kept != i)
			memcpy(entries + kept * size, entries + i * size, size);
		kept++;
	}
	return kept;
}

/* One query of the lower's process list: into buf, room for *n entries in, how many
 * (or with INSUFFICIENT_SIZE how many are needed) out. */
struct processes_query {
	nvmlReturn_t (*ask)(const struct processes_query *q, unsigned *n, void *buf);
	nvmlDevice_t device;
	size_t pid_at;     /* where an entry's pid is: 0 but in nvmlProcessUtilizationInfo_v1_t */
	int samples;       /* utilization samples: none of the sandbox's left is NOT_FOUND */
	nvmlReturn_t (*lower)(nvmlDevice_t, unsigned *, void *);          /* the _RunningProcesses */
	nvmlReturn_t (*lower_list)(nvmlDevice_t, nvmlProcessDetailList_t *); /* the detail list */
	const nvmlProcessDetailList_t *list;                             /* the caller's */
	nvmlReturn_t (*lower_util)(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned *, unsigned long long);
	unsigned long long last_seen;                                    /* its lastSeenTimeStamp */
	nvmlReturn_t (*lower_info)(nvmlDevice_t, nvmlProcessesUtilizationInfo_t *);
	const nvmlProcessesUtilizationInfo_t *info;                      /* the caller's */
};

/* Entries read from the lower without allocating: more processes than this on one GPU
 * cost a malloc.  ENTRY_MAX: the largest entry, nvmlProcessUtilizationInfo_v1_t. */
#define PROCESSES_ON_STACK 64
#define ENTRY_MAX 40
_Static_assert(sizeof(nvmlProcessDetail_v1_t) <= ENTRY_MAX && sizeof(nvmlProcessInfo_v2_t) <= ENTRY_MAX &&
		       sizeof(nvmlProcessUtilizationSample_t) <= ENTRY_MAX &&
		       sizeof(nvmlProcessUtilizationInfo_v1_t) <= ENTRY_MAX,
	       "an entry larger than the stack buffer's");

/* The lower's list, filtered, under NVML's protocol: *count in is the room in out;
 * after, how many entries were written, or with INSUFFICIENT_SIZE how many are needed
 * (0 with out NULL asks).  The lower is asked for its whole list in a buffer of the
 * shim's, since the caller's room is for the sandbox's entries only.  Samples: none of
 * the sandbox's is NOT_FOUND, and asking with out NULL is INSUFFICIENT_SIZE with how
 * many there are (the utilization functions' own way to ask). */
static nvmlReturn_t sandbox_processes(const struct processes_query *q, size_t size, unsigned *count,
				      void *out)
{
	_Alignas(8) unsigned char stack[PROCESSES_ON_STACK * ENTRY_MAX];
	unsigned char *buf = stack, *heap = NULL;
	unsigned room = PROCESSES_ON_STACK, n;
	nvmlReturn_t r;
	for (int tries = 0;; tries++) {
		n = room;
		r = q->ask(q, &n, buf);
		if (r != NVML_ERROR_INSUFFICIENT_SIZE || tries == 3)
			break;
		/* Room for what the lower needs and a few processes starting meanwhile. */
		free(heap);
		room = n + 16;
		heap = buf = calloc(room, size);
		if (!heap)
			return NVML_ERROR_MEMORY;
	}
	if (r == NVML_ERROR_INSUFFICIENT_SIZE) {
		/* Still growing after several tries: at most this many, ask again. */
		free(heap);
		*count = n + 16;
		return r;
	}
	if (r != NVML_SUCCESS) {
		free(heap);
		return r;
	}
	unsigned kept = keep_sandbox(buf, n, size, q->pid_at);
	if (kept == 0 && q->samples) {
		/* What the lower answers when it has no sample: the other processes' are not
		 * the sandbox's to see. */
		r = NVML_ERROR_NOT_FOUND;
	} else if (*count < kept) {
		*count = kept;
		r = NVML_ERROR_INSUFFICIENT_SIZE;
	} else if (kept > 0 && !out) {
		if (q->samples)
			*count = kept;
		r = q->samples ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_ERROR_INVALID_ARGUMENT;
	} else {
		if (kept > 0)
			memcpy(out, buf, kept * size);
		*count = kept;
	}
	free(heap);
	return r;
}

static nvmlReturn_t ask_processes(const struct processes_query *q, unsigned *n, void *buf)
{
	return q->lower(q->device, n, buf);
}

static nvmlReturn_t processes_view(nvmlReturn_t (*lower)(nvmlDevice_t, unsigned *, void *),
				   size_t size, nvmlDevice_t device, unsigned *infoCount, void *infos)
{
	if (!lower)
		return LACKING;
	if (!infoCount)
		return lower(device, infoCount, infos); /* the lower's error for it */
	struct processes_query q = { .ask = ask_processes, .device = device, .lower = lower };
	return sandbox_processes(&q, size, infoCount, infos);
}

/* One interception per name: v1 writes nvmlProcessInfo_v1_t, _v2 and _v3 the longer
 * nvmlProcessInfo_t (nvml_abi.h). */
#define PROCESSES(name, type)                                                                   \
	SHIM_API nvmlReturn_t name(nvmlDevice_t device, unsigned int *infoCount, type *infos)    \
	{                                                                                       \
		SHIM_HOOKED(shim_nvml, name, device, infoCount, infos);                         \
		READY();                                                                        \
		return processes_view((nvmlReturn_t(*)(nvmlDevice_t, unsigned *, void *))       \
					      SHIM_LOWER(shim_nvml, name),                      \
				      sizeof(type), device, infoCount, infos);                  \
	}

PROCESSES(nvmlDeviceGetComputeRunningProcesses, nvmlProcessInfo_v1_t)
PROCESSES(nvmlDeviceGetComputeRunningProcesses_v2, nvmlProcessInfo_v2_t)
PROCESSES(nvmlDeviceGetComputeRunningProcesses_v3, nvmlProcessInfo_t)
PROCESSES(nvmlDeviceGetGraphicsRunningProcesses, nvmlProcessInfo_v1_t)
PROCESSES(nvmlDeviceGetGraphicsRunningProcesses_v2, nvmlProcessInfo_v2_t)
PROCESSES(nvmlDeviceGetGraphicsRunningProcesses_v3, nvmlProcessInfo_t)
PROCESSES(nvmlDeviceGetMPSComputeRunningProcesses, nvmlProcessInfo_v1_t)
PROCESSES(nvmlDeviceGetMPSComputeRunningProcesses_v2, nvmlProcessInfo_v2_t)
PROCESSES(nvmlDeviceGetMPSComputeRunningProcesses_v3, nvmlProcessInfo_t)

/* The same list, in the form nvidia-smi 580 asks for it. */
static nvmlReturn_t ask_detail_list(const struct processes_query *q, unsigned *n, void *buf)
{
	nvmlProcessDetailList_t mine = *q->list; /* the caller's version and mode */
	mine.numProcArrayEntries = *n;
	mine.procArray = buf;
	nvmlReturn_t r = q->lower_list(q->device, &mine);
	*n = mine.numProcArrayEntries;
	return r;
}

SHIM_API nvmlReturn_t nvmlDeviceGetRunningProcessDetailList(nvmlDevice_t device,
							     nvmlProcessDetailList_t *plist)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetRunningProcessDetailList, device, plist);
	READY();
	nvmlReturn_t (*lower)(nvmlDevice_t, nvmlProcessDetailList_t *) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetRunningProcessDetailList);
	if (!lower)
		return LACKING;
	if (!plist || plist->version != nvmlProcessDetailList_v1)
		return lower(device, plist); /* the lower's error for it, or a layout not known here */
	struct processes_query q = { .ask = ask_detail_list, .device = device, .lower_list = lower,
				     .list = plist };
	return sandbox_processes(&q, sizeof(nvmlProcessDetail_v1_t), &plist->numProcArrayEntries,
				 plist->procArray);
}

/* --- accounting pids and process utilization ---------------------------------------- */

/* The pids that accounting has records of, on the infoCount protocol: the sandbox's
 * only.  A process that has ended has no mount namespace left to compare, so it is not
 * the sandbox's as far as the view can tell, and is left out (its pid may be another
 * process's by now anyway). */
SHIM_API nvmlReturn_t nvmlDeviceGetAccountingPids(nvmlDevice_t device, unsigned int *count, unsigned int *pids)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetAccountingPids, device, count, pids);
	READY();
	nvmlReturn_t (*lower)(nvmlDevice_t, unsigned *, unsigned *) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetAccountingPids);
	if (!lower)
		return LACKING;
	nvmlReturn_t r = lower_ready();
	if (r != NVML_SUCCESS)
		return r;
	if (outside_view(device))
		return NVML_ERROR_INVALID_ARGUMENT;
	return processes_view((nvmlReturn_t(*)(nvmlDevice_t, unsigned *, void *))lower, sizeof(unsigned), device,
			      count, pids);
}

static nvmlReturn_t ask_utilization(const struct processes_query *q, unsigned *n, void *buf)
{
	return q->lower_util(q->device, buf, n, q->last_seen);
}

/* The samples of the sandbox's processes; which samples are recent enough is the
 * lower's to decide (lastSeenTimeStamp goes to it unchanged). */
SHIM_API nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device,
						      nvmlProcessUtilizationSample_t *utilization,
						      unsigned int *processSamplesCount,
						      unsigned long long lastSeenTimeStamp)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetProcessUtilization, device, utilization, processSamplesCount,
		    lastSeenTimeStamp);
	READY();
	nvmlReturn_t (*lower)(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned *, unsigned long long) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetProcessUtilization);
	if (!lower)
		return LACKING;
	if (!processSamplesCount)
		return lower(device, utilization, processSamplesCount, lastSeenTimeStamp); /* its error */
	nvmlReturn_t r = lower_ready();
	if (r != NVML_SUCCESS)
		return r;
	if (outside_view(device))
		return NVML_ERROR_INVALID_ARGUMENT;
	struct processes_query q = { .ask = ask_utilization, .device = device, .samples = 1,
				     .lower_util = lower, .last_seen = lastSeenTimeStamp };
	return sandbox_processes(&q, sizeof(nvmlProcessUtilizationSample_t), processSamplesCount, utilization);
}

static nvmlReturn_t ask_utilization_info(const struct processes_query *q, unsigned *n, void *buf)
{
	nvmlProcessesUtilizationInfo_t mine = *q->info; /* the caller's version and lastSeenTimeStamp */
	mine.processSamplesCount = *n;
	mine.procUtilArray = buf;
	nvmlReturn_t r = q->lower_info(q->device, &mine);
	*n = mine.processSamplesCount;
	return r;
}

/* The same in the versioned form (driver 550 and later), whose entries have the pid
 * after the time stamp. */
SHIM_API nvmlReturn_t nvmlDeviceGetProcessesUtilizationInfo(nvmlDevice_t device,
							    nvmlProcessesUtilizationInfo_t *procesesUtilInfo)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetProcessesUtilizationInfo, device, procesesUtilInfo);
	READY();
	nvmlProcessesUtilizationInfo_t *info = procesesUtilInfo;
	nvmlReturn_t (*lower)(nvmlDevice_t, nvmlProcessesUtilizationInfo_t *) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetProcessesUtilizationInfo);
	if (!lower)
		return LACKING;
	if (!info || info->version != nvmlProcessesUtilizationInfo_v1)
		return lower(device, info); /* the lower's error for it, or a layout not known here */
	nvmlReturn_t r = lower_ready();
	if (r != NVML_SUCCESS)
		return r;
	if (outside_view(device))
		return NVML_ERROR_INVALID_ARGUMENT;
	struct processes_query q = { .ask = ask_utilization_info, .device = device, .samples = 1,
				     .pid_at = offsetof(nvmlProcessUtilizationInfo_v1_t, pid),
				     .lower_info = lower, .info = info };
	return sandbox_processes(&q, sizeof(nvmlProcessUtilizationInfo_v1_t), &info->processSamplesCount,
				 info->procUtilArray);
}

/* --- lists of handles: topology and units ------------------------------------------- */

/* One query of a lower's list of handles: room for *n in buf in, how many out. */
struct handles_query {
	nvmlReturn_t (*ask)(const struct handles_query *q, unsigned *n, nvmlDevice_t *buf);
	int topology; /* NVML's topology rule: *count 0 asks (SUCCESS); else *count is the room */
	void *lower;
	nvmlDevice_t device;
	nvmlGpuTopologyLevel_t level;
	unsigned cpu;
	nvmlUnit_t unit;
};

/* Handles read from the lower without allocating (a machine has far fewer GPUs). */
#define HANDLES_ON_STACK 64

/* The lower's whole list, with only the view's GPUs kept, answered to the caller:
 *   - *count 0 of a topology query asks: SUCCESS, *count = how many are kept;
 *   - out NULL otherwise: INVALID_ARGUMENT, as NVML documents for both;
 *   - *count smaller than how many are kept: INSUFFICIENT_SIZE, *count = how many
 *     (nothing written; the rule of a unit's list, and what the emulator answers for
 *     topology, whose documentation does not say);
 *   - else the kept handles, *count = how many.
 * So a count query, a too-small buffer and a full query all agree on the number, and a
 * handle of a GPU outside the view is never handed out (every call on it would show a
 * GPU the policy hides).  The lower's errors (not initialised, a bad device, level,
 * CPU or unit) are its own: it is asked first. */
static nvmlReturn_t handles_view(const struct handles_query *q, unsigned *count, nvmlDevice_t *out)
{
	nvmlDevice_t stack[HANDLES_ON_STACK], *buf = stack, *heap = NULL;
	unsigned room = HANDLES_ON_STACK, n;
	nvmlReturn_t r;
	if (q->topology) {
		/* The count first: a topology query given room fills it and may say nothing of
		 * what did not fit. */
		n = 0;
		r = q->ask(q, &n, NULL);
		if (r != NVML_SUCCESS && r != NVML_ERROR_INSUFFICIENT_SIZE) /* the latter: a lower */
			return r;                                           /* that answers so */
		if (n > room) {
			room = n + 16;
			heap = buf = calloc(room, sizeof *buf);
			if (!heap)
				return NVML_ERROR_MEMORY;
		}
	}
	for (int tries = 0;; tries++) {
		n = room;
		r = q->ask(q, &n, buf);
		if (r != NVML_ERROR_INSUFFICIENT_SIZE || n <= room || tries == 3)
			break;
		free(heap);
		room = n + 16;
		heap = buf = calloc(room, sizeof *buf);
		if (!heap)
			return NVML_ERROR_MEMORY;
	}
	if (r != NVML_SUCCESS) {
		free(heap);
		return r == NVML_ERROR_INSUFFICIENT_SIZE ? NVML_ERROR_UNKNOWN : r; /* it kept growing */
	}
	unsigned kept = 0;
	for (unsigned i = 0; i < n && i < room; i++)
		if (vdev_of(buf[i]) >= 0)
			buf[kept++] = buf[i];
	if (q->topology && *count == 0) {
		*count = kept;
	} else if (!out) {
		r = NVML_ERROR_INVALID_ARGUMENT;
	} else if (*count < kept) {
		*count = kept;
		r = NVML_ERROR_INSUFFICIENT_SIZE;
	} else {
		memcpy(out, buf, kept * sizeof *buf);
		*count = kept;
	}
	free(heap);
	return r;
}

static nvmlReturn_t ask_nearest(const struct handles_query *q, unsigned *n, nvmlDevice_t *buf)
{
	return ((nvmlReturn_t(*)(nvmlDevice_t, nvmlGpuTopologyLevel_t, unsigned *, nvmlDevice_t *))q->lower)(
		q->device, q->level, n, buf);
}

SHIM_API nvmlReturn_t nvmlDeviceGetTopologyNearestGpus(nvmlDevice_t device, nvmlGpuTopologyLevel_t level,
						       unsigned int *count, nvmlDevice_t *deviceArray)
{
	SHIM_HOOKED(shim_nvml, nvmlDeviceGetTopologyNearestGpus, device, level, count, deviceArray);
	READY();
	nvmlReturn_t (*lower)(nvmlDevice_t, nvmlGpuTopologyLevel_t, unsigned *, nvmlDevice_t *) =
		SHIM_LOWER(shim_nvml, nvmlDeviceGetTopologyNearestGpus);
	if (!lower)
		return LACKING;
	if (vdevs()->passthrough || !count)
		return lower(device, level, count, deviceArray); /* all the lower's GPUs; or its error */
	nvmlReturn_t r = lower_ready();
	if (r != NVML_SUCCESS)
		return r;
	if (outside_view(device))
		return NVML_ERROR_INVALID_ARGUMENT;
	struct handles_query q = { .ask = ask_nearest, .topology = 1, .lower = (void *)lower, .device = device,
				   .level = level };
	return handles_view(&q, count, deviceArray);
}

static nvmlReturn_t ask_gpu_set(const struct handles_query *q, unsigned *n, nvmlDevice_t *buf)
{
	return ((nvmlReturn_t(*)(unsigned, unsigned *, nvmlDevice_t *))q->lower)(q->cpu, n, buf);
}

SHIM_API nvmlReturn_t nvmlSystemGetTopologyGpuSet(unsigned int cpuNumber, unsigned int *count,
						  nvmlDevice_t *deviceArray)
{
	SHIM_HOOKED(shim_nvml, nvmlSystemGetTopologyGpuSet, cpuNumber, count, deviceArray);
	READY();
	nvmlReturn_t (*lower)(unsigned, unsigned *, nvmlDevice_t *) =
		SHIM_LOWER(shim_nvml, nvmlSystemGetTopologyGpuSet);
	if (!lower)
		return LACKING;
	if (vdevs()->passthrough || !count)
		return lower(cpuNumber, count, deviceArray);
	struct handles_query q = { .ask = ask_gpu_set, .topology = 1, .lower = (void *)lower, .cpu = cpuNumber };
	return handles_view(&q, count, deviceArray);
}

static nvmlReturn_t ask_unit(const struct handles_query *q, unsigned *n, nvmlDevice_t *buf)
{
	return ((nvmlReturn_t(*)(nvmlUnit_t, unsigned *, nvmlDevice_t *))q->lower)(q->unit, n, buf);
}

/* S-class units (the real driver only; the emulator has none, so this filter is not
 * exercised by the tests). */
SHIM_API nvmlReturn_t nvmlUnitGetDevices(nvmlUnit_t unit, unsigned int *deviceCount, nvmlDevice_t *devices)
{
	SHIM_HOOKED(shim_nvml, nvmlUnitGetDevices, unit, deviceCount, devices);
	READY();
	nvmlReturn_t (*lower)(nvmlUnit_t, unsigned *, nvmlDevice_t *) = SHIM_LOWER(shim_nvml, nvmlUnitGetDevices);
	if (!lower)
		return LACKING;
	if (vdevs()->passthrough || !deviceCount)
		return lower(unit, deviceCount, devices);
	struct handles_query q = { .ask = ask_unit, .lower = (void *)lower, .unit = unit };
	return handles_view(&q, deviceCount, devices);
}

/* Memory: framebuffer (v1 and v2), BAR1, and the processes using a device.
 *
 * What is allocated on an emulated GPU is emu_state_used(): the bytes the emulator's
 * CUDA side holds on that device, across the processes of the sandbox.  The figures
 * follow the real driver's definitions:
 *   v2 (nvmlMemory_v2_t): total is NVML's total (CUDA's + reserved), reserved is what
 *      the driver keeps for itself, used is what is allocated, free = total - reserved
 *      - used = CUDA's total - used, so NVML and cuMemGetInfo agree on what is free;
 *   v1 (nvmlMemory_t): has no reserved field; used is "reserved + allocated" as NVML
 *      documents it, free = total - used (the same free as v2).
 * used never exceeds what CUDA can allocate, so free is never negative.
 *
 * The processes of a device are those with a CUDA context on it that are still alive
 * (emu_state_processes: the sandbox's accounting file, or this process's memory).  From
 * them: the compute running processes; the accounting pids (accounting mode reads
 * Enabled, device_state.c; processes that ended are not kept, so the list is the live
 * ones only, and nvmlDeviceGetAccountingStats stays unsupported); and the process
 * utilization samples, one per process with 0 % everywhere (the emulator computes on
 * the CPU: the GPU is never busy) stamped with the time of the query, in microseconds
 * of CLOCK_REALTIME.  A real GPU lists only processes that were busy in the last
 * sampling period; the emulator lists every process on the GPU, so that monitoring
 * clients (and the shim's filter of these lists) see who is there.  Samples not newer
 * than lastSeenTimeStamp are left out; none left is NVML_ERROR_NOT_FOUND, as NVML says
 * when it has no sample. */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "emulator/common/state.h"
#include "emulator/nvml/nvml_internal.h"

static void memory_figures(const struct nvmlDevice_st *d, unsigned long long *total,
			   unsigned long long *reserved, unsigned long long *used, unsigned long long *free_)
{
	unsigned long long cuda_total = d->fb_total - d->fb_reserved;
	unsigned long long u = emu_state_used(d->index);
	if (u > cuda_total)
		u = cuda_total;
	*total = d->fb_total;
	*reserved = d->fb_reserved;
	*used = u;
	*free_ = cuda_total - u;
}

NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
	DEVICE(device);
	if (!memory)
		return NVML_ERROR_INVALID_ARGUMENT;
	unsigned long long total, reserved, used, free_;
	memory_figures(d, &total, &reserved, &used, &free_);
	memory->total = total;
	memory->used = reserved + used;
	memory->free = free_;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
	DEVICE(device);
	if (!memory)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (memory->version != nvmlMemory_v2)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	unsigned long long total, reserved, used, free_;
	memory_figures(d, &total, &reserved, &used, &free_);
	memory->total = total;
	memory->reserved = reserved;
	memory->used = used;
	memory->free = free_;
	return NVML_SUCCESS;
}

/* BAR1: what an idle board shows (1 MiB mapped). */
NVML_API nvmlReturn_t nvmlDeviceGetBAR1MemoryInfo(nvmlDevice_t device, nvmlBAR1Memory_t *bar1Memory)
{
	DEVICE(device);
	if (!bar1Memory)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (!d->np->bar1_total)
		return NVML_ERROR_NOT_SUPPORTED;
	unsigned long long used = 1ull << 20;
	bar1Memory->bar1Total = d->np->bar1_total;
	bar1Memory->bar1Used = used;
	bar1Memory->bar1Free = d->np->bar1_total - used;
	return NVML_SUCCESS;
}

/* --- running processes ------------------------------------------------------------------ */

#define MAX_PROCESSES 4096

enum proc_kind { PROC_COMPUTE, PROC_GRAPHICS, PROC_MPS };

static void fill(void *infos, int version, const pid_t *pids, const uint64_t *used, unsigned n);

/* The two-call protocol of the real library: with *infoCount smaller than the number
 * of processes (0 and infos NULL to ask), INSUFFICIENT_SIZE and *infoCount set to the
 * number needed; else the entries, *infoCount set to how many.  v1 entries are
 * nvmlProcessInfo_v1_t, v2 and v3 nvmlProcessInfo_v2_t (the same layout as v3's). */
static nvmlReturn_t running_processes(nvmlDevice_t device, unsigned *infoCount, void *infos,
				      int version, enum proc_kind kind)
{
	DEVICE(device);
	if (!infoCount)
		return NVML_ERROR_INVALID_ARGUMENT;
	struct {
		pid_t pids[MAX_PROCESSES];
		uint64_t used[MAX_PROCESSES];
	} *list = NULL;
	unsigned n = 0; /* graphics: nothing draws on an emulated GPU; MPS: no server runs */
	if (kind == PROC_COMPUTE) {
		list = malloc(sizeof *list);
		if (!list)
			return NVML_ERROR_MEMORY;
		n = emu_state_processes(d->index, list->pids, list->used, MAX_PROCESSES);
		if (n > MAX_PROCESSES)
			n = MAX_PROCESSES;
	}
	nvmlReturn_t r = NVML_SUCCESS;
	if (*infoCount < n) {
		*infoCount = n;
		r = NVML_ERROR_INSUFFICIENT_SIZE;
	} else if (n > 0 && !infos) {
		r = NVML_ERROR_INVALID_ARGUMENT;
	} else {
		fill(infos, version, list ? list->pids : NULL, list ? list->used : NULL, n);
		*infoCount = n;
	}
	free(list);
	return r;
}

static void fill(void *infos, int version, const pid_t *pids, const uint64_t *used, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (version == 1) {
			nvmlProcessInfo_v1_t *p = (nvmlProcessInfo_v1_t *)infos + i;
			memset(p, 0, sizeof *p);
			p->pid = (unsigned)pids[i];
			p->usedGpuMemory = used[i];
		} else {
			nvmlProcessInfo_v2_t *p = (nvmlProcessInfo_v2_t *)infos + i;
			memset(p, 0, sizeof *p);
			p->pid = (unsigned)pids[i];
			p->usedGpuMemory = used[i];
			p->gpuInstanceId = NVML_VALUE_NOT_AVAILABLE_UINT; /* MIG is disabled */
			p->computeInstanceId = NVML_VALUE_NOT_AVAILABLE_UINT;
		}
	}
}

NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
							   nvmlProcessInfo_v1_t *infos)
{
	return running_processes(device, infoCount, infos, 1, PROC_COMPUTE);
}

NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
							      nvmlProcessInfo_v2_t *infos)
{
	return running_processes(device, infoCount, infos, 2, PROC_COMPUTE);
}

NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
							      nvmlProcessInfo_t *infos)
{
	return running_processes(device, infoCount, infos, 3, PROC_COMPUTE);
}

NVML_API nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
							    nvmlProcessInfo_v1_t *infos)
{
	return running_processes(device, infoCount, infos, 1, PROC_GRAPHICS);
}

NVML_API nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
							       nvmlProcessInfo_v2_t *infos)
{
	return running_processes(device, infoCount, infos, 2, PROC_GRAPHICS);
}

NVML_API nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
							       nvmlProcessInfo_t *infos)
{
	return running_processes(device, infoCount, infos, 3, PROC_GRAPHICS);
}

NVML_API nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
							      nvmlProcessInfo_v1_t *infos)
{
	return running_processes(device, infoCount, infos, 1, PROC_MPS);
}

NVML_API nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
								 nvmlProcessInfo_v2_t *infos)
{
	return running_processes(device, infoCount, infos, 2, PROC_MPS);
}

NVML_API nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
								 nvmlProcessInfo_t *infos)
{
	return running_processes(device, infoCount, infos, 3, PROC_MPS);
}

/* --- accounting pids and process utilization --------------------------------------------- */

/* The device's live processes with a context, into *list (malloc'd; NULL when none). */
static nvmlReturn_t device_pids(const struct nvmlDevice_st *d, pid_t **list, unsigned *n)
{
	*list = malloc(MAX_PROCESSES * sizeof **list);
	if (!*list)
		return NVML_ERROR_MEMORY;
	*n = emu_state_processes(d->index, *list, NULL, MAX_PROCESSES);
	if (*n > MAX_PROCESSES)
		*n = MAX_PROCESSES;
	return NVML_SUCCESS;
}

/* The infoCount protocol: *count 0 (and out NULL) asks; too small is INSUFFICIENT_SIZE
 * with how many; NVML_SUCCESS when the n entries may be written. */
static nvmlReturn_t room_for(unsigned *count, const void *out, unsigned n)
{
	if (*count < n) {
		*count = n;
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	if (n > 0 && !out)
		return NVML_ERROR_INVALID_ARGUMENT;
	*count = n;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetAccountingPids(nvmlDevice_t device, unsigned int *count, unsigned int *pids)
{
	DEVICE(device);
	if (!count)
		return NVML_ERROR_INVALID_ARGUMENT;
	pid_t *list;
	unsigned n;
	nvmlReturn_t r = device_pids(d, &list, &n);
	if (r == NVML_SUCCESS)
		r = room_for(count, pids, n);
	for (unsigned i = 0; r == NVML_SUCCESS && i < n; i++)
		pids[i] = (unsigned)list[i];
	free(list);
	return r;
}

static unsigned long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000ull;
}

/* The samples of the device newer than last_seen: their pids into *list, their time
 * into *stamp; NOT_FOUND when there is none. */
static nvmlReturn_t samples(const struct nvmlDevice_st *d, unsigned long long last_seen, pid_t **list,
			    unsigned *n, unsigned long long *stamp)
{
	nvmlReturn_t r = device_pids(d, list, n);
	if (r != NVML_SUCCESS)
		return r;
	*stamp = now_us();
	if (*stamp <= last_seen)
		*n = 0;
	return *n ? NVML_SUCCESS : NVML_ERROR_NOT_FOUND;
}

/* utilization NULL asks how many (INSUFFICIENT_SIZE with the number), as NVML's
 * documentation has callers do before allocating. */
NVML_API nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device,
						      nvmlProcessUtilizationSample_t *utilization,
						      unsigned int *processSamplesCount,
						      unsigned long long lastSeenTimeStamp)
{
	DEVICE(device);
	if (!processSamplesCount)
		return NVML_ERROR_INVALID_ARGUMENT;
	pid_t *list = NULL;
	unsigned n = 0;
	unsigned long long stamp = 0;
	nvmlReturn_t r = samples(d, lastSeenTimeStamp, &list, &n, &stamp);
	if (r == NVML_SUCCESS && !utilization) {
		*processSamplesCount = n;
		r = NVML_ERROR_INSUFFICIENT_SIZE;
	}
	if (r == NVML_SUCCESS)
		r = room_for(processSamplesCount, utilization, n);
	for (unsigned i = 0; r == NVML_SUCCESS && i < n; i++) {
		memset(&utilization[i], 0, sizeof utilization[i]);
		utilization[i].pid = (unsigned)list[i];
		utilization[i].timeStamp = stamp;
	}
	free(list);
	return r;
}

NVML_API nvmlReturn_t nvmlDeviceGetProcessesUtilizationInfo(nvmlDevice_t device,
							    nvmlProcessesUtilizationInfo_t *procesesUtilInfo)
{
	DEVICE(device);
	nvmlProcessesUtilizationInfo_t *info = procesesUtilInfo;
	if (!info)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (info->version != nvmlProcessesUtilizationInfo_v1)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	pid_t *list = NULL;
	unsigned n = 0;
	unsigned long long stamp = 0;
	nvmlReturn_t r = samples(d, info->lastSeenTimeStamp, &list, &n, &stamp);
	if (r == NVML_SUCCESS && !info->procUtilArray) {
		info->processSamplesCount = n;
		r = NVML_ERROR_INSUFFICIENT_SIZE;
	}
	if (r == NVML_SUCCESS)
		r = room_for(&info->processSamplesCount, info->procUtilArray, n);
	for (unsigned i = 0; r == NVML_SUCCESS && i < n; i++) {
		nvmlProcessUtilizationInfo_v1_t *e = &info->procUtilArray[i];
		memset(e, 0, sizeof *e);
		e->pid = (unsigned)list[i];
		e->timeStamp = stamp;
	}
	free(list);
	return r;
}

/* System queries: driver, NVML and CUDA versions, process names, units, the GPUs near
 * a CPU.
 *
 * The driver version string follows the CUDA version the emulator reports
 * (emu_config()->driver_version, 13000 unless configured otherwise): each CUDA version
 * maps to a release of the driver branch that introduced it, as NVIDIA shipped them:
 *
 *   CUDA 13.1 -> 590.44.01    CUDA 12.6 -> 560.35.03    CUDA 12.2 -> 535.104.05
 *   CUDA 13.0 -> 580.159.04   CUDA 12.5 -> 555.42.06    CUDA 12.1 -> 530.30.02
 *   CUDA 12.9 -> 575.64.05    CUDA 12.4 -> 550.54.15    CUDA 12.0 -> 525.60.13
 *   CUDA 12.8 -> 570.172.08   CUDA 12.3 -> 545.23.08
 *
 * (13.0 is the reference H200's driver.)  A version between two rows takes the row
 * below it (12.7 -> 12.6's driver), one older than all takes the oldest, one newer than
 * all the newest.  The NVML version is "<CUDA major>.<driver>", e.g. "13.580.159.04". */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "emulator/nvml/nvml_internal.h"

static const struct {
	int cuda;
	const char *driver;
} drivers[] = {
	/* newest first */
	{13010, "590.44.01"},
	{13000, "580.159.04"},
	{12090, "575.64.05"},
	{12080, "570.172.08"},
	{12060, "560.35.03"},
	{12050, "555.42.06"},
	{12040, "550.54.15"},
	{12030, "545.23.08"},
	{12020, "535.104.05"},
	{12010, "530.30.02"},
	{12000, "525.60.13"},
};

static const char *driver_string(int cuda)
{
	size_t n = sizeof drivers / sizeof drivers[0];
	for (size_t i = 0; i < n; i++)
		if (cuda >= drivers[i].cuda)
			return drivers[i].driver;
	return drivers[n - 1].driver;
}

NVML_API nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
	nvmlReturn_t r = nvml_ready();
	if (r != NVML_SUCCESS)
		return r;
	return nvml_put_string(version, length, driver_string(emu_config()->driver_version));
}

/* Works before nvmlInit, as the real one does. */
NVML_API nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
	int cuda = emu_config()->driver_version;
	char text[NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE];
	snprintf(text, sizeof text, "%d.%s", cuda / 1000, driver_string(cuda));
	return nvml_put_string(version, length, text);
}

NVML_API nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion)
{
	if (!cudaDriverVersion)
		return NVML_ERROR_INVALID_ARGUMENT;
	*cudaDriverVersion = emu_config()->driver_version;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion)
{
	return nvmlSystemGetCudaDriverVersion(cudaDriverVersion);
}

/* The process's name as nvidia-smi shows it: its first argument (usually the program's
 * path), else its command name; cut to length - 1 bytes. */
NVML_API nvmlReturn_t nvmlSystemGetProcessName(unsigned int pid, char *name, unsigned int length)
{
	nvmlReturn_t r = nvml_ready();
	if (r != NVML_SUCCESS)
		return r;
	if (!name || length == 0 || pid == 0)
		return NVML_ERROR_INVALID_ARGUMENT;
	char path[64], text[4096];
	ssize_t n = -1;
	for (int pass = 0; pass < 2 && n <= 0; pass++) {
		snprintf(path, sizeof path, "/proc/%u/%s", pid, pass ? "comm" : "cmdline");
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, text, sizeof text - 1);
		close(fd);
	}
	if (n <= 0)
		return NVML_ERROR_NOT_FOUND;
	text[n] = '\0';
	text[strcspn(text, "\n")] = '\0'; /* comm ends with a newline; cmdline's argv[0] with NUL */
	size_t len = strlen(text);
	if (len >= length)
		len = length - 1;
	memcpy(name, text, len);
	name[len] = '\0';
	return NVML_SUCCESS;
}

/* S-class units: an emulated machine has none. */
NVML_API nvmlReturn_t nvmlUnitGetCount(unsigned int *unitCount)
{
	nvmlReturn_t r = nvml_ready();
	if (r != NVML_SUCCESS)
		return r;
	if (!unitCount)
		return NVML_ERROR_INVALID_ARGUMENT;
	*unitCount = 0;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlUnitGetHandleByIndex(unsigned int index, nvmlUnit_t *unit)
{
	nvmlReturn_t r = nvml_ready();
	if (r != NVML_SUCCESS)
		return r;
	return NVML_ERROR_INVALID_ARGUMENT; /* there is no unit index that is valid */
}

/* The GPUs of a unit: there is no unit (nvmlUnitGetCount says 0), so no handle names
 * one and every call is INVALID_ARGUMENT, as for an invalid unit.  (The shim's filter of
 * this list cannot be exercised against the emulator.) */
NVML_API nvmlReturn_t nvmlUnitGetDevices(nvmlUnit_t unit, unsigned int *deviceCount, nvmlDevice_t *devices)
{
	(void)unit;
	(void)deviceCount;
	(void)devices;
	nvmlReturn_t r = nvml_ready();
	if (r != NVML_SUCCESS)
		return r;
	return NVML_ERROR_INVALID_ARGUMENT;
}

/* The GPUs with an affinity to a CPU: an emulated GPU is attached to no NUMA node, so
 * every GPU has every CPU of the machine (0 ... configured CPUs - 1); another number is
 * INVALID_ARGUMENT.  The list protocol is nvmlDeviceGetTopologyNearestGpus's (device.c). */
NVML_API nvmlReturn_t nvmlSystemGetTopologyGpuSet(unsigned int cpuNumber, unsigned int *count,
						  nvmlDevice_t *deviceArray)
{
	nvmlReturn_t r = nvml_ready();
	if (r != NVML_SUCCESS)
		return r;
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	if (cpus < 1)
		cpus = 1;
	if (cpuNumber >= (unsigned long)cpus)
		return NVML_ERROR_INVALID_ARGUMENT;
	nvmlDevice_t all[EMU_MAX_DEVICES];
	unsigned n = 0;
	for (unsigned i = 0; i < nvml_count() && n < EMU_MAX_DEVICES; i++)
		if ((all[n] = nvml_at(i)))
			n++;
	return nvml_put_handles(count, deviceArray, all, n);
}

/* Host bridge chips (nvmlSystemGetHicVersion): none. */
NVML_API nvmlReturn_t nvmlSystemGetHicVersion(unsigned int *hwbcCount, void *hwbcEntries)
{
	nvmlReturn_t r = nvml_ready();
	if (r != NVML_SUCCESS)
		return r;
	if (!hwbcCount)
		return NVML_ERROR_INVALID_ARGUMENT;
	*hwbcCount = 0;
	return NVML_SUCCESS;
}

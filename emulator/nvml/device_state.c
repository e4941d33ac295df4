/* What a monitoring tool polls: utilization, temperature, power, clocks, performance
 * state, fans, PCIe link, ECC, modes (compute, MIG, persistence, display, accounting:
 * enabled).
 *
 * An emulated GPU is an idle board: nothing runs on it, so utilization is 0 %, and the
 * sensors read what the real model reads at idle (profiles_nvml.c).  Clocks: max
 * graphics/SM and memory are the CUDA profile's clock rates (attributes 13 and 36),
 * so cudaDeviceProp and NVML agree, unless the NVML profile says otherwise. */
#include <time.h>

#include "emulator/nvml/nvml_internal.h"

#define OUT(p)                                              \
	do {                                                \
		if (!(p))                                   \
			return NVML_ERROR_INVALID_ARGUMENT; \
	} while (0)

/* --- utilization ----------------------------------------------------------------------- */

NVML_API nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization)
{
	DEVICE(device);
	(void)d;
	OUT(utilization);
	utilization->gpu = 0;
	utilization->memory = 0;
	return NVML_SUCCESS;
}

static nvmlReturn_t codec_utilization(nvmlDevice_t device, unsigned *utilization, unsigned *samplingPeriodUs)
{
	DEVICE(device);
	(void)d;
	OUT(utilization);
	OUT(samplingPeriodUs);
	*utilization = 0;
	*samplingPeriodUs = 1000000;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int *utilization,
						      unsigned int *samplingPeriodUs)
{
	return codec_utilization(device, utilization, samplingPeriodUs);
}

NVML_API nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned int *utilization,
						      unsigned int *samplingPeriodUs)
{
	return codec_utilization(device, utilization, samplingPeriodUs);
}

/* --- temperature ----------------------------------------------------------------------- */

NVML_API nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType,
					       unsigned int *temp)
{
	DEVICE(device);
	if (sensorType != NVML_TEMPERATURE_GPU)
		return NVML_ERROR_INVALID_ARGUMENT;
	OUT(temp);
	*temp = (unsigned)d->np->temp_gpu;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetTemperatureV(nvmlDevice_t device, nvmlTemperature_t *temperature)
{
	DEVICE(device);
	OUT(temperature);
	if (temperature->version != nvmlTemperature_v1)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	if (temperature->sensorType != NVML_TEMPERATURE_GPU)
		return NVML_ERROR_INVALID_ARGUMENT;
	temperature->temperature = d->np->temp_gpu;
	return NVML_SUCCESS;
}

/* --- power ------------------------------------------------------------------------------- */

/* A board without power management (none of ours) reports none of these. */
#define POWER_MANAGED()                                      \
	do {                                                 \
		if (!d->np->power_limit_mw)                  \
			return NVML_ERROR_NOT_SUPPORTED;     \
	} while (0)

NVML_API nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)
{
	DEVICE(device);
	OUT(power);
	if (!d->np->power_mw)
		return NVML_ERROR_NOT_SUPPORTED;
	*power = d->np->power_mw;
	return NVML_SUCCESS;
}

/* Millijoules since the machine booted, at the idle draw. */
NVML_API nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy)
{
	DEVICE(device);
	OUT(energy);
	if (!d->np->power_mw)
		return NVML_ERROR_NOT_SUPPORTED;
	struct timespec ts;
	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		return NVML_ERROR_UNKNOWN;
	unsigned long long ms = (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
	*energy = (unsigned long long)d->np->power_mw * ms / 1000ull;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetPowerManagementMode(nvmlDevice_t device, nvmlEnableState_t *mode)
{
	DEVICE(device);
	OUT(mode);
	*mode = d->np->power_limit_mw ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit)
{
	DEVICE(device);
	OUT(limit);
	POWER_MANAGED();
	*limit = d->np->power_limit_mw;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t device, unsigned int *defaultLimit)
{
	DEVICE(device);
	OUT(defaultLimit);
	POWER_MANAGED();
	*defaultLimit = d->np->power_limit_mw;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit)
{
	DEVICE(device);
	OUT(limit);
	POWER_MANAGED();
	*limit = d->np->power_limit_mw;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t device, unsigned int *minLimit,
								   unsigned int *maxLimit)
{
	DEVICE(device);
	OUT(minLimit);
	OUT(maxLimit);
	POWER_MANAGED();
	*minLimit = d->np->power_min_mw;
	*maxLimit = d->np->power_max_mw;
	return NVML_SUCCESS;
}

/* --- performance state ------------------------------------------------------------------- */

NVML_API nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, nvmlPstates_t *pState)
{
	DEVICE(device);
	OUT(pState);
	*pState = d->np->pstate;
	return NVML_SUCCESS;
}

/* The deprecated name of the same query. */
NVML_API nvmlReturn_t nvmlDeviceGetPowerState(nvmlDevice_t device, nvmlPstates_t *pState)
{
	return nvmlDeviceGetPerformanceState(device, pState);
}

/* --- clocks ------------------------------------------------------------------------------ */

static unsigned max_clock(const struct nvmlDevice_st *d, nvmlClockType_t type)
{
	switch (type) {
	case NVML_CLOCK_GRAPHICS:
	case NVML_CLOCK_SM:
		return d->np->max_graphics ? d->np->max_graphics : (unsigned)nvml_attr(d, 13, 0) / 1000;
	case NVML_CLOCK_MEM:
		return (unsigned)nvml_attr(d, 36, 0) / 1000;
	case NVML_CLOCK_VIDEO:
		return d->np->max_video;
	}
	return 0;
}

static unsigned current_clock(const struct nvmlDevice_st *d, nvmlClockType_t type)
{
	unsigned cur = 0;
	switch (type) {
	case NVML_CLOCK_GRAPHICS:
	case NVML_CLOCK_SM: cur = d->np->cur_graphics; break;
	case NVML_CLOCK_MEM: cur = d->np->cur_mem; break;
	case NVML_CLOCK_VIDEO: cur = d->np->cur_video; break;
	}
	return cur ? cur : max_clock(d, type);
}

/* Applications clocks (target and default alike): the max graphics and memory clocks,
 * where the board has them at all. */
static unsigned app_clock(const struct nvmlDevice_st *d, nvmlClockType_t type)
{
	if (!d->np->app_clocks || type == NVML_CLOCK_VIDEO)
		return 0;
	return max_clock(d, type);
}

static unsigned boost_clock(const struct nvmlDevice_st *d, nvmlClockType_t type)
{
	return type == NVML_CLOCK_GRAPHICS || type == NVML_CLOCK_SM ? d->np->customer_boost : 0;
}

static nvmlReturn_t clock_query(nvmlDevice_t device, nvmlClockType_t type, unsigned *clock,
				unsigned (*which)(const struct nvmlDevice_st *, nvmlClockType_t))
{
	DEVICE(device);
	if (type < 0 || type >= NVML_CLOCK_COUNT)
		return NVML_ERROR_INVALID_ARGUMENT;
	OUT(clock);
	unsigned mhz = which(d, type);
	if (!mhz)
		return NVML_ERROR_NOT_SUPPORTED;
	*clock = mhz;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock)
{
	return clock_query(device, type, clock, current_clock);
}

NVML_API nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock)
{
	return clock_query(device, type, clock, max_clock);
}

NVML_API nvmlReturn_t nvmlDeviceGetApplicationsClock(nvmlDevice_t device, nvmlClockType_t clockType,
						     unsigned int *clockMHz)
{
	return clock_query(device, clockType, clockMHz, app_clock);
}

NVML_API nvmlReturn_t nvmlDeviceGetDefaultApplicationsClock(nvmlDevice_t device, nvmlClockType_t clockType,
							    unsigned int *clockMHz)
{
	return clock_query(device, clockType, clockMHz, app_clock);
}

NVML_API nvmlReturn_t nvmlDeviceGetMaxCustomerBoostClock(nvmlDevice_t device, nvmlClockType_t clockType,
							 unsigned int *clockMHz)
{
	return clock_query(device, clockType, clockMHz, boost_clock);
}

NVML_API nvmlReturn_t nvmlDeviceGetClock(nvmlDevice_t device, nvmlClockType_t clockType, nvmlClockId_t clockId,
					 unsigned int *clockMHz)
{
	switch (clockId) {
	case NVML_CLOCK_ID_CURRENT: return clock_query(device, clockType, clockMHz, current_clock);
	case NVML_CLOCK_ID_APP_CLOCK_TARGET:
	case NVML_CLOCK_ID_APP_CLOCK_DEFAULT: return clock_query(device, clockType, clockMHz, app_clock);
	case NVML_CLOCK_ID_CUSTOMER_BOOST_MAX: return clock_query(device, clockType, clockMHz, boost_clock);
	}
	DEVICE(device);
	(void)d;
	return NVML_ERROR_INVALID_ARGUMENT;
}

/* Clocks event (throttle) reasons: an idle board in a low performance state is held
 * down by GpuIdle; one in P0 (the H200 reference) by nothing. */
#define REASONS_SUPPORTED                                                                         \
	(NVML_CLOCKS_EVENT_REASON_GPU_IDLE | NVML_CLOCKS_EVENT_REASON_APPLICATIONS_CLOCKS_SETTING |  \
	 NVML_CLOCKS_EVENT_REASON_SW_POWER_CAP | NVML_CLOCKS_EVENT_REASON_HW_SLOWDOWN |             \
	 NVML_CLOCKS_EVENT_REASON_SYNC_BOOST | NVML_CLOCKS_EVENT_REASON_SW_THERMAL_SLOWDOWN |       \
	 NVML_CLOCKS_EVENT_REASON_HW_THERMAL_SLOWDOWN | NVML_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN | \
	 NVML_CLOCKS_EVENT_REASON_DISPLAY_CLOCK_SETTING)

static nvmlReturn_t event_reasons(nvmlDevice_t device, unsigned long long *reasons, int supported)
{
	DEVICE(device);
	OUT(reasons);
	if (supported)
		*reasons = REASONS_SUPPORTED;
	else
		*reasons = d->np->pstate != 0 ? NVML_CLOCKS_EVENT_REASON_GPU_IDLE : 0;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *reasons)
{
	return event_reasons(device, reasons, 0);
}

NVML_API nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long *reasons)
{
	return event_reasons(device, reasons, 0);
}

NVML_API nvmlReturn_t nvmlDeviceGetSupportedClocksEventReasons(nvmlDevice_t device, unsigned long long *reasons)
{
	return event_reasons(device, reasons, 1);
}

NVML_API nvmlReturn_t nvmlDeviceGetSupportedClocksThrottleReasons(nvmlDevice_t device, unsigned long long *reasons)
{
	return event_reasons(device, reasons, 1);
}

/* --- fans: datacenter boards are passively cooled (nvidia-smi: "Fan Speed: N/A") ------- */

NVML_API nvmlReturn_t nvmlDeviceGetNumFans(nvmlDevice_t device, unsigned int *numFans)
{
	DEVICE(device);
	OUT(numFans);
	if (!d->np->fans)
		return NVML_ERROR_NOT_SUPPORTED;
	*numFans = d->np->fans;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetFanSpeed_v2(nvmlDevice_t device, unsigned int fan, unsigned int *speed)
{
	DEVICE(device);
	OUT(speed);
	if (!d->np->fans)
		return NVML_ERROR_NOT_SUPPORTED;
	if (fan >= d->np->fans)
		return NVML_ERROR_INVALID_ARGUMENT;
	*speed = d->np->fan_percent;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed)
{
	return nvmlDeviceGetFanSpeed_v2(device, 0, speed);
}

NVML_API nvmlReturn_t nvmlDeviceGetTargetFanSpeed(nvmlDevice_t device, unsigned int fan, unsigned int *targetSpeed)
{
	return nvmlDeviceGetFanSpeed_v2(device, fan, targetSpeed);
}

/* --- PCIe link: running at its maximum -------------------------------------------------- */

static nvmlReturn_t link_value(nvmlDevice_t device, unsigned *out, int width)
{
	DEVICE(device);
	OUT(out);
	unsigned v = width ? d->np->pcie_width : d->np->pcie_gen;
	if (!v)
		return NVML_ERROR_NOT_SUPPORTED;
	*out = v;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t device, unsigned int *maxLinkGen)
{
	return link_value(device, maxLinkGen, 0);
}

NVML_API nvmlReturn_t nvmlDeviceGetGpuMaxPcieLinkGeneration(nvmlDevice_t device, unsigned int *maxLinkGenDevice)
{
	return link_value(device, maxLinkGenDevice, 0);
}

NVML_API nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t device, unsigned int *currLinkGen)
{
	return link_value(device, currLinkGen, 0);
}

NVML_API nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t device, unsigned int *maxLinkWidth)
{
	return link_value(device, maxLinkWidth, 1);
}

NVML_API nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t device, unsigned int *currLinkWidth)
{
	return link_value(device, currLinkWidth, 1);
}

/* The current link's transfer rate per lane, Mbps: 2500 (gen 1) ... 32000 (gen 5). */
NVML_API nvmlReturn_t nvmlDeviceGetPcieSpeed(nvmlDevice_t device, unsigned int *pcieSpeed)
{
	static const unsigned mbps[] = {0, 2500, 5000, 8000, 16000, 32000, 64000};
	DEVICE(device);
	OUT(pcieSpeed);
	unsigned gen = d->np->pcie_gen;
	if (!gen || gen >= sizeof mbps / sizeof mbps[0])
		return NVML_ERROR_NOT_SUPPORTED;
	*pcieSpeed = mbps[gen];
	return NVML_SUCCESS;
}

/* --- ECC: the CUDA profile's ECC_ENABLED (attribute 32); no error ever counted ---------- */

NVML_API nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t device, nvmlEnableState_t *current, nvmlEnableState_t *pending)
{
	DEVICE(device);
	OUT(current);
	OUT(pending);
	*current = *pending = nvml_attr(d, 32, 0) ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetDefaultEccMode(nvmlDevice_t device, nvmlEnableState_t *defaultMode)
{
	DEVICE(device);
	OUT(defaultMode);
	*defaultMode = nvml_attr(d, 32, 0) ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t errorType,
						  nvmlEccCounterType_t counterType, unsigned long long *eccCounts)
{
	DEVICE(device);
	if ((errorType != NVML_MEMORY_ERROR_TYPE_CORRECTED && errorType != NVML_MEMORY_ERROR_TYPE_UNCORRECTED) ||
	    (counterType != NVML_VOLATILE_ECC && counterType != NVML_AGGREGATE_ECC))
		return NVML_ERROR_INVALID_ARGUMENT;
	OUT(eccCounts);
	if (!nvml_attr(d, 32, 0))
		return NVML_ERROR_NOT_SUPPORTED;
	*eccCounts = 0;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corrRows, unsigned int *uncRows,
						unsigned int *isPending, unsigned int *failureOccurred)
{
	DEVICE(device);
	OUT(corrRows);
	OUT(uncRows);
	OUT(isPending);
	OUT(failureOccurred);
	if (!d->np->remapped_rows)
		return NVML_ERROR_NOT_SUPPORTED;
	*corrRows = *uncRows = *isPending = *failureOccurred = 0;
	return NVML_SUCCESS;
}

/* --- modes ------------------------------------------------------------------------------- */

NVML_API nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t device, nvmlComputeMode_t *mode)
{
	DEVICE(device);
	OUT(mode);
	*mode = nvml_attr(d, 20, NVML_COMPUTEMODE_DEFAULT); /* CU_DEVICE_ATTRIBUTE_COMPUTE_MODE */
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t device, nvmlEnableState_t *mode)
{
	DEVICE(device);
	OUT(mode);
	*mode = d->np->persistence ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
	return NVML_SUCCESS;
}

/* Driver 580 no longer answers this one: the reference's nvidia-smi -q shows
 * "Display Mode: Requested functionality has been deprecated". */
NVML_API nvmlReturn_t nvmlDeviceGetDisplayMode(nvmlDevice_t device, nvmlEnableState_t *display)
{
	DEVICE(device);
	(void)d;
	OUT(display);
	return NVML_ERROR_DEPRECATED;
}

NVML_API nvmlReturn_t nvmlDeviceGetDisplayActive(nvmlDevice_t device, nvmlEnableState_t *isActive)
{
	DEVICE(device);
	(void)d;
	OUT(isActive);
	*isActive = NVML_FEATURE_DISABLED;
	return NVML_SUCCESS;
}

/* Enabled, unlike the reference H200 (an administrator's setting, off by default): the
 * emulator always knows which processes use a GPU, and answers
 * nvmlDeviceGetAccountingPids with them (device_mem.c), which NVML does only while
 * accounting is on. */
NVML_API nvmlReturn_t nvmlDeviceGetAccountingMode(nvmlDevice_t device, nvmlEnableState_t *mode)
{
	DEVICE(device);
	(void)d;
	OUT(mode);
	*mode = NVML_FEATURE_ENABLED;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetAccountingBufferSize(nvmlDevice_t device, unsigned int *bufferSize)
{
	DEVICE(device);
	(void)d;
	OUT(bufferSize);
	*bufferSize = 4000;
	return NVML_SUCCESS;
}

/* MIG: the models that have it (A100, H100, H200) report it disabled, current and
 * pending; the others do not support it. */
NVML_API nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode)
{
	DEVICE(device);
	OUT(currentMode);
	OUT(pendingMode);
	if (!d->np->mig_capable)
		return NVML_ERROR_NOT_SUPPORTED;
	*currentMode = *pendingMode = 0; /* NVML_DEVICE_MIG_DISABLE */
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t device, unsigned int *isMigDevice)
{
	DEVICE(device);
	(void)d;
	OUT(isMigDevice);
	*isMigDevice = 0;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count)
{
	DEVICE(device);
	OUT(count);
	if (!d->np->mig_capable)
		return NVML_ERROR_NOT_SUPPORTED;
	*count = 7;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index,
							  nvmlDevice_t *migDevice)
{
	DEVICE(device);
	OUT(migDevice);
	if (!d->np->mig_capable)
		return NVML_ERROR_NOT_SUPPORTED;
	return NVML_ERROR_NOT_FOUND; /* MIG is disabled: there is no MIG device */
}

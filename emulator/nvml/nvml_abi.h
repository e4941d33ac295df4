/* NVML's ABI as the emulator's libnvidia-ml.so.1 needs it: return codes, enums, buffer
 * sizes and the layouts of the structures that cross the library boundary.  Written
 * here from NVIDIA's published NVML API reference (the numbers and the layouts are the
 * interface); the emulator does not build against nvml.h.
 *
 * Versioned structures carry their version in their first field, made as NVML does it:
 * the structure's size in the low 24 bits, the version number above (NVML_VERSION).
 * The sizes are checked at compile time at the bottom of this file. */
#ifndef VGPU_NVML_ABI_H
#define VGPU_NVML_ABI_H

#include <stddef.h>

/* --- return codes (nvmlReturn_t) --------------------------------------------------- */
typedef int nvmlReturn_t;
#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NO_PERMISSION 4
#define NVML_ERROR_ALREADY_INITIALIZED 5
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_INSUFFICIENT_POWER 8
#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define NVML_ERROR_TIMEOUT 10
#define NVML_ERROR_IRQ_ISSUE 11
#define NVML_ERROR_LIBRARY_NOT_FOUND 12
#define NVML_ERROR_FUNCTION_NOT_FOUND 13
#define NVML_ERROR_CORRUPTED_INFOROM 14
#define NVML_ERROR_GPU_IS_LOST 15
#define NVML_ERROR_RESET_REQUIRED 16
#define NVML_ERROR_OPERATING_SYSTEM 17
#define NVML_ERROR_LIB_RM_VERSION_MISMATCH 18
#define NVML_ERROR_IN_USE 19
#define NVML_ERROR_MEMORY 20
#define NVML_ERROR_NO_DATA 21
#define NVML_ERROR_VGPU_ECC_NOT_SUPPORTED 22
#define NVML_ERROR_INSUFFICIENT_RESOURCES 23
#define NVML_ERROR_FREQ_NOT_SUPPORTED 24
#define NVML_ERROR_ARGUMENT_VERSION_MISMATCH 25
#define NVML_ERROR_DEPRECATED 26
#define NVML_ERROR_NOT_READY 27
#define NVML_ERROR_GPU_NOT_FOUND 28
#define NVML_ERROR_INVALID_STATE 29
#define NVML_ERROR_RESET_TYPE_NOT_SUPPORTED 30
#define NVML_ERROR_UNKNOWN 999

/* --- nvmlInitWithFlags ------------------------------------------------------------- */
#define NVML_INIT_FLAG_NO_GPUS 0x1u    /* succeed even when there is no GPU */
#define NVML_INIT_FLAG_NO_ATTACH 0x2u  /* do not attach the GPUs */
#define NVML_INIT_FLAG_FORCE_INIT 0x4u /* attach after an earlier NO_GPUS|NO_ATTACH */

/* --- buffer sizes, including the terminating NUL ----------------------------------- */
#define NVML_DEVICE_INFOROM_VERSION_BUFFER_SIZE 16
#define NVML_DEVICE_UUID_BUFFER_SIZE 80
#define NVML_DEVICE_UUID_V2_BUFFER_SIZE 96
#define NVML_DEVICE_UUID_ASCII_LEN 41 /* "GPU-" + 36 + NUL */
#define NVML_DEVICE_UUID_BINARY_LEN 16
#define NVML_DEVICE_PART_NUMBER_BUFFER_SIZE 80
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80
#define NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE 80
#define NVML_DEVICE_NAME_BUFFER_SIZE 64
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96
#define NVML_DEVICE_SERIAL_BUFFER_SIZE 30
#define NVML_DEVICE_VBIOS_VERSION_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE 16
/* Bus id formats: the current one, and the legacy one of busIdLegacy / _v1 / _v2. */
#define NVML_DEVICE_PCI_BUS_ID_FMT "%08X:%02X:%02X.0"
#define NVML_DEVICE_PCI_BUS_ID_LEGACY_FMT "%04X:%02X:%02X.0"

/* "Not available" in a field that has no error of its own (process memory, ids). */
#define NVML_VALUE_NOT_AVAILABLE_UINT 0xFFFFFFFFu
#define NVML_VALUE_NOT_AVAILABLE_ULL 0xFFFFFFFFFFFFFFFFull

#define NVML_VERSION(size, ver) ((unsigned int)(size) | ((unsigned int)(ver) << 24))

/* --- handles ----------------------------------------------------------------------- */
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlUnit_st *nvmlUnit_t;

/* --- enums ------------------------------------------------------------------------- */
typedef int nvmlEnableState_t;
#define NVML_FEATURE_DISABLED 0
#define NVML_FEATURE_ENABLED 1

typedef int nvmlBrandType_t;
#define NVML_BRAND_UNKNOWN 0
#define NVML_BRAND_QUADRO 1
#define NVML_BRAND_TESLA 2
#define NVML_BRAND_NVS 3
#define NVML_BRAND_GRID 4
#define NVML_BRAND_GEFORCE 5
#define NVML_BRAND_TITAN 6
#define NVML_BRAND_NVIDIA_VAPPS 7
#define NVML_BRAND_NVIDIA_VPC 8
#define NVML_BRAND_NVIDIA_VCS 9
#define NVML_BRAND_NVIDIA_VWS 10
#define NVML_BRAND_NVIDIA_CLOUD_GAMING 11
#define NVML_BRAND_QUADRO_RTX 12
#define NVML_BRAND_NVIDIA_RTX 13
#define NVML_BRAND_NVIDIA 14
#define NVML_BRAND_GEFORCE_RTX 15
#define NVML_BRAND_TITAN_RTX 16

typedef unsigned int nvmlDeviceArchitecture_t;
#define NVML_DEVICE_ARCH_KEPLER 2
#define NVML_DEVICE_ARCH_MAXWELL 3
#define NVML_DEVICE_ARCH_PASCAL 4
#define NVML_DEVICE_ARCH_VOLTA 5
#define NVML_DEVICE_ARCH_TURING 6
#define NVML_DEVICE_ARCH_AMPERE 7
#define NVML_DEVICE_ARCH_ADA 8
#define NVML_DEVICE_ARCH_HOPPER 9
#define NVML_DEVICE_ARCH_BLACKWELL 10
#define NVML_DEVICE_ARCH_UNKNOWN 0xffffffffu

typedef int nvmlTemperatureSensors_t;
#define NVML_TEMPERATURE_GPU 0
#define NVML_TEMPERATURE_COUNT 1

typedef int nvmlTemperatureThresholds_t;
#define NVML_TEMPERATURE_THRESHOLD_SHUTDOWN 0
#define NVML_TEMPERATURE_THRESHOLD_SLOWDOWN 1
#define NVML_TEMPERATURE_THRESHOLD_MEM_MAX 2
#define NVML_TEMPERATURE_THRESHOLD_GPU_MAX 3
#define NVML_TEMPERATURE_THRESHOLD_COUNT 8

typedef int nvmlClockType_t;
#define NVML_CLOCK_GRAPHICS 0
#define NVML_CLOCK_SM 1
#define NVML_CLOCK_MEM 2
#define NVML_CLOCK_VIDEO 3
#define NVML_CLOCK_COUNT 4

typedef int nvmlClockId_t;
#define NVML_CLOCK_ID_CURRENT 0
#define NVML_CLOCK_ID_APP_CLOCK_TARGET 1
#define NVML_CLOCK_ID_APP_CLOCK_DEFAULT 2
#define NVML_CLOCK_ID_CUSTOMER_BOOST_MAX 3
#define NVML_CLOCK_ID_COUNT 4

typedef int nvmlPstates_t;
#define NVML_PSTATE_0 0
#define NVML_PSTATE_15 15
#define NVML_PSTATE_UNKNOWN 32

typedef int nvmlComputeMode_t;
#define NVML_COMPUTEMODE_DEFAULT 0
#define NVML_COMPUTEMODE_EXCLUSIVE_THREAD 1
#define NVML_COMPUTEMODE_PROHIBITED 2
#define NVML_COMPUTEMODE_EXCLUSIVE_PROCESS 3

typedef int nvmlMemoryErrorType_t;
#define NVML_MEMORY_ERROR_TYPE_CORRECTED 0
#define NVML_MEMORY_ERROR_TYPE_UNCORRECTED 1

typedef int nvmlEccCounterType_t;
#define NVML_VOLATILE_ECC 0
#define NVML_AGGREGATE_ECC 1

typedef int nvmlInforomObject_t;
#define NVML_INFOROM_OEM 0
#define NVML_INFOROM_ECC 1
#define NVML_INFOROM_POWER 2
#define NVML_INFOROM_DEN 3
#define NVML_INFOROM_COUNT 4

typedef int nvmlUUIDType_t;
#define NVML_UUID_TYPE_NONE 0
#define NVML_UUID_TYPE_ASCII 1
#define NVML_UUID_TYPE_BINARY 2

/* Clocks event reasons (formerly "throttle reasons"): a bit mask. */
#define NVML_CLOCKS_EVENT_REASON_GPU_IDLE 0x1ull
#define NVML_CLOCKS_EVENT_REASON_APPLICATIONS_CLOCKS_SETTING 0x2ull
#define NVML_CLOCKS_EVENT_REASON_SW_POWER_CAP 0x4ull
#define NVML_CLOCKS_EVENT_REASON_HW_SLOWDOWN 0x8ull
#define NVML_CLOCKS_EVENT_REASON_SYNC_BOOST 0x10ull
#define NVML_CLOCKS_EVENT_REASON_SW_THERMAL_SLOWDOWN 0x20ull
#define NVML_CLOCKS_EVENT_REASON_HW_THERMAL_SLOWDOWN 0x40ull
#define NVML_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN 0x80ull
#define NVML_CLOCKS_EVENT_REASON_DISPLAY_CLOCK_SETTING 0x100ull

/* --- structures -------------------------------------------------------------------- */

/* nvmlDeviceGetPciInfo_v3 (and the current nvmlPciInfo_t): 68 bytes. */
typedef struct nvmlPciInfo_st {
	char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE]; /* "%04X:%02X:%02X.0" */
	unsigned int domain;
	unsigned int bus;
	unsigned int device;
	unsigned int pciDeviceId;    /* device id << 16 | vendor id */
	unsigned int pciSubSystemId; /* subsystem id << 16 | subsystem vendor id */
	char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE]; /* "%08X:%02X:%02X.0" */
} nvmlPciInfo_t;

/* What nvmlDeviceGetPciInfo and _v2 write: the layout before busId replaced the
 * reserved words (52 bytes; the first 36 are those of nvmlPciInfo_t). */
typedef struct nvmlPciInfoLegacy_st {
	char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE]; /* legacy format */
	unsigned int domain;
	unsigned int bus;
	unsigned int device;
	unsigned int pciDeviceId;
	unsigned int pciSubSystemId;
	unsigned int reserved0, reserved1, reserved2, reserved3;
} nvmlPciInfoLegacy_t;

/* nvmlDeviceGetPciInfoExt */
typedef struct nvmlPciInfoExt_v1_st {
	unsigned int version; /* nvmlPciInfoExt_v1 */
	unsigned int domain;
	unsigned int bus;
	unsigned int device;
	unsigned int pciDeviceId;
	unsigned int pciSubSystemId;
	unsigned int baseClass;
	unsigned int subClass;
	char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
} nvmlPciInfoExt_t;
#define nvmlPciInfoExt_v1 NVML_VERSION(sizeof(nvmlPciInfoExt_t), 1)

/* nvmlDeviceGetMemoryInfo: used is reserved + allocated. */
typedef struct nvmlMemory_st {
	unsigned long long total;
	unsigned long long free;
	unsigned long long used;
} nvmlMemory_t;

/* nvmlDeviceGetMemoryInfo_v2: used is allocated only; reserved on its own. */
typedef struct nvmlMemory_v2_st {
	unsigned int version; /* nvmlMemory_v2 */
	unsigned long long total;
	unsigned long long reserved;
	unsigned long long free;
	unsigned long long used;
} nvmlMemory_v2_t;
#define nvmlMemory_v2 NVML_VERSION(sizeof(nvmlMemory_v2_t), 2)

typedef struct nvmlBAR1Memory_st {
	unsigned long long bar1Total;
	unsigned long long bar1Free;
	unsigned long long bar1Used;
} nvmlBAR1Memory_t;

typedef struct nvmlUtilization_st {
	unsigned int gpu;    /* percent */
	unsigned int memory; /* percent */
} nvmlUtilization_t;

/* Running processes: the unversioned functions write v1, _v2 and _v3 the longer one. */
typedef struct nvmlProcessInfo_v1_st {
	unsigned int pid;
	unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;

typedef struct nvmlProcessInfo_v2_st {
	unsigned int pid;
	unsigned long long usedGpuMemory;
	unsigned int gpuInstanceId;     /* NVML_VALUE_NOT_AVAILABLE_UINT without MIG */
	unsigned int computeInstanceId; /* likewise */
} nvmlProcessInfo_v2_t;
typedef nvmlProcessInfo_v2_t nvmlProcessInfo_t; /* what _v3 writes: the same layout */

/* nvmlDeviceGetTemperatureV */
typedef struct nvmlTemperature_v1_st {
	unsigned int version; /* nvmlTemperature_v1 */
	nvmlTemperatureSensors_t sensorType;
	int temperature;
} nvmlTemperature_t;
#define nvmlTemperature_v1 NVML_VERSION(sizeof(nvmlTemperature_t), 1)

/* nvmlDeviceGetHandleByUUIDV */
typedef struct nvmlUUID_v1_st {
	unsigned int version; /* nvmlUUID_v1 */
	unsigned int type;    /* nvmlUUIDType_t */
	union {
		char str[NVML_DEVICE_UUID_ASCII_LEN];
		unsigned char bytes[NVML_DEVICE_UUID_BINARY_LEN];
	} value;
} nvmlUUID_t;
#define nvmlUUID_v1 NVML_VERSION(sizeof(nvmlUUID_t), 1)

/* --- the layouts are the interface: check them ------------------------------------- */
#define NVML_ABI_CHECK(cond) _Static_assert(cond, #cond)
NVML_ABI_CHECK(sizeof(nvmlPciInfo_t) == 68);
NVML_ABI_CHECK(sizeof(nvmlPciInfoLegacy_t) == 52);
NVML_ABI_CHECK(offsetof(nvmlPciInfo_t, pciSubSystemId) == offsetof(nvmlPciInfoLegacy_t, pciSubSystemId));
NVML_ABI_CHECK(nvmlPciInfoExt_v1 == 0x1000040);
NVML_ABI_CHECK(sizeof(nvmlMemory_t) == 24);
NVML_ABI_CHECK(nvmlMemory_v2 == 0x2000028);
NVML_ABI_CHECK(offsetof(nvmlMemory_v2_t, total) == 8);
NVML_ABI_CHECK(sizeof(nvmlBAR1Memory_t) == 24);
NVML_ABI_CHECK(sizeof(nvmlUtilization_t) == 8);
NVML_ABI_CHECK(sizeof(nvmlProcessInfo_v1_t) == 16);
NVML_ABI_CHECK(sizeof(nvmlProcessInfo_v2_t) == 24);
NVML_ABI_CHECK(nvmlTemperature_v1 == 0x100000C);
NVML_ABI_CHECK(nvmlUUID_v1 == 0x1000034);

/* --- appended for the shim (shim/nvml/view.c) ---------------------------------------- */

/* nvmlDeviceGetRunningProcessDetailList: one entry (32 bytes), and the list it fills
 * (procArray of numProcArrayEntries entries; the same in/out protocol as infoCount). */
typedef struct nvmlProcessDetail_v1_st {
	unsigned int pid;
	unsigned long long usedGpuMemory;
	unsigned int gpuInstanceId;
	unsigned int computeInstanceId;
	unsigned long long usedGpuCcProtectedMemory;
} nvmlProcessDetail_v1_t;

typedef struct nvmlProcessDetailList_v1_st {
	unsigned int version; /* nvmlProcessDetailList_v1 */
	unsigned int mode;    /* 0 compute, 1 graphics, 2 MPS compute */
	unsigned int numProcArrayEntries;
	nvmlProcessDetail_v1_t *procArray;
} nvmlProcessDetailList_t;
#define nvmlProcessDetailList_v1 NVML_VERSION(sizeof(nvmlProcessDetailList_t), 1)

NVML_ABI_CHECK(sizeof(nvmlProcessDetail_v1_t) == 32);
NVML_ABI_CHECK(nvmlProcessDetailList_v1 == 0x1000018);

/* --- topology, accounting and process utilization (emulator/nvml, shim/nvml/view.c) -- */

/* nvmlGpuTopologyLevel_t: how far apart two GPUs are, nearest first. */
typedef int nvmlGpuTopologyLevel_t;
#define NVML_TOPOLOGY_INTERNAL 0    /* the same board */
#define NVML_TOPOLOGY_SINGLE 10     /* one PCIe switch between them */
#define NVML_TOPOLOGY_MULTIPLE 20   /* several switches, no host bridge */
#define NVML_TOPOLOGY_HOSTBRIDGE 30 /* the same host bridge */
#define NVML_TOPOLOGY_NODE 40       /* the same NUMA node */
#define NVML_TOPOLOGY_SYSTEM 50     /* anywhere in the system */

/* nvmlDeviceGetProcessUtilization: one sample per process, 32 bytes. */
typedef struct nvmlProcessUtilizationSample_st {
	unsigned int pid;
	unsigned long long timeStamp; /* CPU time, microseconds */
	unsigned int smUtil;
	unsigned int memUtil;
	unsigned int encUtil;
	unsigned int decUtil;
} nvmlProcessUtilizationSample_t;

/* nvmlDeviceGetProcessesUtilizationInfo: one entry per process (40 bytes: the pid is
 * not the first field here), and the versioned list it fills (processSamplesCount: the
 * room in procUtilArray in, how many out; the same protocol as infoCount). */
typedef struct nvmlProcessUtilizationInfo_v1_st {
	unsigned long long timeStamp;
	unsigned int pid;
	unsigned int smUtil;
	unsigned int memUtil;
	unsigned int encUtil;
	unsigned int decUtil;
	unsigned int jpgUtil;
	unsigned int ofaUtil;
} nvmlProcessUtilizationInfo_v1_t;

typedef struct nvmlProcessesUtilizationInfo_v1_st {
	unsigned int version; /* nvmlProcessesUtilizationInfo_v1 */
	unsigned int processSamplesCount;
	unsigned long long lastSeenTimeStamp;
	nvmlProcessUtilizationInfo_v1_t *procUtilArray;
} nvmlProcessesUtilizationInfo_t;
#define nvmlProcessesUtilizationInfo_v1 NVML_VERSION(sizeof(nvmlProcessesUtilizationInfo_t), 1)

NVML_ABI_CHECK(sizeof(nvmlProcessUtilizationSample_t) == 32);
NVML_ABI_CHECK(offsetof(nvmlProcessUtilizationSample_t, timeStamp) == 8);
NVML_ABI_CHECK(sizeof(nvmlProcessUtilizationInfo_v1_t) == 40);
NVML_ABI_CHECK(offsetof(nvmlProcessUtilizationInfo_v1_t, pid) == 8);
NVML_ABI_CHECK(nvmlProcessesUtilizationInfo_v1 == 0x1000018);

#endif

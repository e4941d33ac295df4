/* nvml_client MODE: a C client of libnvidia-ml.so.1, as programs built against NVIDIA's
 * nvml.h use it, for tests/bats/emulator_nvml.bats.  It dlopens "libnvidia-ml.so.1"
 * (whatever the loader finds: LD_LIBRARY_PATH points it at the emulator) and declares
 * the few types it needs itself, from NVIDIA's documentation, independently of the
 * emulator's own header.  One line per check, "ok - ..." or "not ok - ...", then exit
 * status 1 when any failed.
 *
 * MODE:
 *   lifecycle   init variants and reference counting; calls before init / after shutdown
 *   errors      invalid handles, indices, NULL outputs, short buffers, bad versions,
 *               lookups by UUID / PCI bus id / serial, structure sizes written
 *   strings     nvmlErrorString for every code
 *   threads     16 threads initialising, querying and shutting down at once
 *   nogpu       (VGPU_EMULATOR_DEVICES=none) NVML_INIT_FLAG_NO_GPUS and its absence
 *   badconfig   (an unusable configuration) nvmlInit fails and says why
 * errors and lifecycle expect the devices "h200,t4". */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int ret_t;
typedef void *dev_t_;

enum {
	SUCCESS = 0, UNINITIALIZED = 1, INVALID_ARGUMENT = 2, NOT_SUPPORTED = 3,
	NOT_FOUND = 6, INSUFFICIENT_SIZE = 7, DRIVER_NOT_LOADED = 9,
	ARGUMENT_VERSION_MISMATCH = 25, DEPRECATED = 26, GPU_NOT_FOUND = 28, UNKNOWN = 999,
};

static void *lib;
static int failed;

static void check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void check(int cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s - ", cond ? "ok" : "not ok");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (!cond)
		failed = 1;
}

static void *sym(const char *name)
{
	void *p = dlsym(lib, name);
	if (!p) {
		printf("not ok - libnvidia-ml.so.1 does not export %s\n", name);
		exit(1);
	}
	return p;
}

/* Function pointers, by signature. */
typedef ret_t (*fn_v)(void);
typedef ret_t (*fn_u)(unsigned);
typedef ret_t (*fn_pu)(unsigned *);
typedef ret_t (*fn_pi)(int *);
typedef ret_t (*fn_str)(char *, unsigned);
typedef ret_t (*fn_idx)(unsigned, dev_t_ *);
typedef ret_t (*fn_key)(const char *, dev_t_ *);
typedef ret_t (*fn_d_pv)(dev_t_, void *);
typedef ret_t (*fn_d_str)(dev_t_, char *, unsigned);
typedef ret_t (*fn_d_i_pv)(dev_t_, int, void *);
typedef ret_t (*fn_d_pv_pv)(dev_t_, void *, void *);
typedef const char *(*fn_errstr)(ret_t);

#define S(type, name) type name = (type)sym(#name)

static const char *H200_UUID_PREFIX = "GPU-";

/* --- lifecycle ------------------------------------------------------------------------- */

static void lifecycle(void)
{
	S(fn_v, nvmlInit);
	S(fn_v, nvmlInit_v2);
	S(fn_u, nvmlInitWithFlags);
	S(fn_v, nvmlShutdown);
	S(fn_pu, nvmlDeviceGetCount_v2);
	S(fn_pu, nvmlDeviceGetCount);
	S(fn_idx, nvmlDeviceGetHandleByIndex_v2);
	S(fn_idx, nvmlDeviceGetHandleByIndex);
	S(fn_d_str, nvmlDeviceGetName);
	S(fn_d_pv, nvmlDeviceGetMemoryInfo);
	S(fn_str, nvmlSystemGetDriverVersion);
	S(fn_str, nvmlSystemGetNVMLVersion);
	S(fn_pi, nvmlSystemGetCudaDriverVersion);
	S(fn_pi, nvmlSystemGetCudaDriverVersion_v2);
	S(fn_key, nvmlDeviceGetHandleByUUID);

	unsigned count = 77;
	dev_t_ h = NULL;
	char buf[96];
	unsigned long long mem[3];
	int cuda = 0;

	check(nvmlDeviceGetCount_v2(&count) == UNINITIALIZED && count == 77,
	      "nvmlDeviceGetCount_v2 before nvmlInit: UNINITIALIZED, count untouched");
	check(nvmlDeviceGetCount(&count) == UNINITIALIZED, "nvmlDeviceGetCount before nvmlInit: UNINITIALIZED");
	check(nvmlDeviceGetHandleByIndex_v2(0, &h) == UNINITIALIZED && h == NULL,
	      "nvmlDeviceGetHandleByIndex_v2 before nvmlInit: UNINITIALIZED");
	check(nvmlDeviceGetHandleByUUID("GPU-00000000-0000-0000-0000-000000000000", &h) == UNINITIALIZED,
	      "nvmlDeviceGetHandleByUUID before nvmlInit: UNINITIALIZED");
	check(nvmlSystemGetDriverVersion(buf, sizeof buf) == UNINITIALIZED,
	      "nvmlSystemGetDriverVersion before nvmlInit: UNINITIALIZED");
	check(nvmlShutdown() == UNINITIALIZED, "nvmlShutdown before nvmlInit: UNINITIALIZED");
	check(nvmlSystemGetNVMLVersion(buf, sizeof buf) == SUCCESS && strcmp(buf, "13.580.159.04") == 0,
	      "nvmlSystemGetNVMLVersion works before nvmlInit: %s", buf);
	check(nvmlSystemGetCudaDriverVersion(&cuda) == SUCCESS && cuda == 13000,
	      "nvmlSystemGetCudaDriverVersion works before nvmlInit: %d", cuda);
	cuda = 0;
	check(nvmlSystemGetCudaDriverVersion_v2(&cuda) == SUCCESS && cuda == 13000,
	      "nvmlSystemGetCudaDriverVersion_v2: %d", cuda);

	/* Three references, three variants. */
	check(nvmlInit() == SUCCESS, "nvmlInit");
	check(nvmlInit_v2() == SUCCESS, "nvmlInit_v2 (second reference)");
	check(nvmlInitWithFlags(0) == SUCCESS, "nvmlInitWithFlags(0) (third reference)");
	check(nvmlDeviceGetCount_v2(&count) == SUCCESS && count == 2, "count after init: %u", count);
	unsigned c1 = 0;
	check(nvmlDeviceGetCount(&c1) == SUCCESS && c1 == 2, "nvmlDeviceGetCount (v1): %u", c1);
	check(nvmlDeviceGetHandleByIndex_v2(0, &h) == SUCCESS && h, "handle of GPU 0");
	dev_t_ h1 = NULL;
	check(nvmlDeviceGetHandleByIndex(0, &h1) == SUCCESS && h1 == h, "nvmlDeviceGetHandleByIndex (v1) gives the same handle");
	check(nvmlDeviceGetName(h, buf, sizeof buf) == SUCCESS && strcmp(buf, "NVIDIA H200") == 0, "name of GPU 0: %s", buf);
	check(nvmlSystemGetDriverVersion(buf, sizeof buf) == SUCCESS && strcmp(buf, "580.159.04") == 0,
	      "driver version: %s", buf);

	check(nvmlShutdown() == SUCCESS, "first nvmlShutdown");
	check(nvmlShutdown() == SUCCESS, "second nvmlShutdown");
	check(nvmlDeviceGetMemoryInfo(h, mem) == SUCCESS, "still initialised with one reference left");
	check(nvmlShutdown() == SUCCESS, "third nvmlShutdown");
	check(nvmlShutdown() == UNINITIALIZED, "a fourth nvmlShutdown: UNINITIALIZED");
	memset(mem, 0xa5, sizeof mem);
	check(nvmlDeviceGetMemoryInfo(h, mem) == UNINITIALIZED && mem[0] == 0xa5a5a5a5a5a5a5a5ull,
	      "an old handle after the last shutdown: UNINITIALIZED, nothing written");
	check(nvmlDeviceGetName(h, buf, sizeof buf) == UNINITIALIZED, "nvmlDeviceGetName after shutdown: UNINITIALIZED");
	check(nvmlDeviceGetCount_v2(&count) == UNINITIALIZED, "count after shutdown: UNINITIALIZED");

	check(nvmlInit_v2() == SUCCESS, "init again");
	check(nvmlDeviceGetName(h, buf, sizeof buf) == SUCCESS && strcmp(buf, "NVIDIA H200") == 0,
	      "the handle works again after a new init");
	check(nvmlShutdown() == SUCCESS, "shutdown");
}

/* --- errors ----------------------------------------------------------------------------- */

struct memory_v2 {
	unsigned version;
	unsigned long long total, reserved, free, used;
};
struct temperature_v1 {
	unsigned version;
	int sensor;
	int temperature;
};
struct uuid_v1 {
	unsigned version;
	unsigned type;
	union {
		char str[41];
		unsigned char bytes[16];
	} value;
};
#define MEMORY_V2 (unsigned)(sizeof(struct memory_v2) | 2u << 24)
#define TEMPERATURE_V1 (unsigned)(sizeof(struct temperature_v1) | 1u << 24)
#define UUID_V1 (unsigned)(sizeof(struct uuid_v1) | 1u << 24)

/* Device getters taking one output pointer: each must refuse a bad handle and a NULL
 * output with INVALID_ARGUMENT, and (on h200) succeed or say NOT_SUPPORTED otherwise. */
static const char *const one_output[] = {
	"nvmlDeviceGetIndex", "nvmlDeviceGetMinorNumber", "nvmlDeviceGetBrand",
	"nvmlDeviceGetArchitecture", "nvmlDeviceGetPciInfo", "nvmlDeviceGetPciInfo_v2",
	"nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetBAR1MemoryInfo",
	"nvmlDeviceGetUtilizationRates", "nvmlDeviceGetPowerUsage",
	"nvmlDeviceGetPowerManagementLimit", "nvmlDeviceGetPowerManagementDefaultLimit",
	"nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetPerformanceState", "nvmlDeviceGetPowerState",
	"nvmlDeviceGetComputeMode", "nvmlDeviceGetPersistenceMode", "nvmlDeviceGetDisplayActive",
	"nvmlDeviceGetNumGpuCores", "nvmlDeviceGetMaxPcieLinkGeneration",
	"nvmlDeviceGetMaxPcieLinkWidth", "nvmlDeviceGetCurrPcieLinkGeneration",
	"nvmlDeviceGetCurrPcieLinkWidth", "nvmlDeviceGetGpuMaxPcieLinkGeneration",
	"nvmlDeviceGetFanSpeed", "nvmlDeviceGetCurrentClocksEventReasons",
	"nvmlDeviceGetCurrentClocksThrottleReasons", "nvmlDeviceGetSupportedClocksEventReasons",
	"nvmlDeviceGetSupportedClocksThrottleReasons", "nvmlDeviceGetBoardId",
	"nvmlDeviceGetMultiGpuBoard", "nvmlDeviceGetDefaultEccMode", "nvmlDeviceGetMemoryBusWidth",
	"nvmlDeviceGetTotalEnergyConsumption", "nvmlDeviceGetPowerManagementMode",
	"nvmlDeviceIsMigDeviceHandle", "nvmlDeviceGetMaxMigDeviceCount", "nvmlDeviceGetAccountingMode",
	"nvmlDeviceGetAccountingBufferSize", "nvmlDeviceGetPcieSpeed", "nvmlDeviceGetNumFans",
	"nvmlDeviceGetDisplayMode", "nvmlDeviceGetTemperatureV", "nvmlDeviceGetMemoryInfo_v2",
	"nvmlDeviceGetPciInfoExt",
};
/* Getters taking two output pointers. */
static const char *const two_outputs[] = {
	"nvmlDeviceGetCudaComputeCapability", "nvmlDeviceGetPowerManagementLimitConstraints",
	"nvmlDeviceGetMigMode", "nvmlDeviceGetEccMode", "nvmlDeviceGetEncoderUtilization",
	"nvmlDeviceGetDecoderUtilization",
};
/* Getters taking a string buffer and its length. */
static const char *const string_outputs[] = {
	"nvmlDeviceGetName", "nvmlDeviceGetUUID", "nvmlDeviceGetSerial",
	"nvmlDeviceGetBoardPartNumber", "nvmlDeviceGetVbiosVersion", "nvmlDeviceGetInforomImageVersion",
};
/* Getters taking (device, enum, output). */
static const char *const enum_outputs[] = {
	"nvmlDeviceGetTemperature", "nvmlDeviceGetClockInfo", "nvmlDeviceGetMaxClockInfo",
	"nvmlDeviceGetApplicationsClock", "nvmlDeviceGetDefaultApplicationsClock",
	"nvmlDeviceGetMaxCustomerBoostClock", "nvmlDeviceGetFanSpeed_v2",
};
static const char *const process_queries[] = {
	"nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetComputeRunningProcesses_v2",
	"nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses",
	"nvmlDeviceGetGraphicsRunningProcesses_v2", "nvmlDeviceGetGraphicsRunningProcesses_v3",
	"nvmlDeviceGetMPSComputeRunningProcesses", "nvmlDeviceGetMPSComputeRunningProcesses_v2",
	"nvmlDeviceGetMPSComputeRunningProcesses_v3",
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void errors(void)
{
	S(fn_v, nvmlInit_v2);
	S(fn_v, nvmlShutdown);
	S(fn_idx, nvmlDeviceGetHandleByIndex_v2);
	S(fn_key, nvmlDeviceGetHandleByUUID);
	S(fn_key, nvmlDeviceGetHandleByPciBusId_v2);
	S(fn_key, nvmlDeviceGetHandleByPciBusId);
	S(fn_key, nvmlDeviceGetHandleBySerial);
	S(fn_d_str, nvmlDeviceGetName);
	S(fn_d_str, nvmlDeviceGetUUID);
	S(fn_d_str, nvmlDeviceGetSerial);
	S(fn_d_pv, nvmlDeviceGetMemoryInfo_v2);
	S(fn_d_pv, nvmlDeviceGetTemperatureV);
	S(fn_d_i_pv, nvmlDeviceGetTemperature);
	S(fn_d_i_pv, nvmlDeviceGetClockInfo);
	S(fn_d_pv, nvmlDeviceGetPciInfo);
	S(fn_d_pv, nvmlDeviceGetPciInfo_v2);
	S(fn_d_pv, nvmlDeviceGetPciInfo_v3);
	S(fn_d_pv, nvmlDeviceGetIndex);
	S(fn_d_pv_pv, nvmlDeviceGetMigMode);
	S(fn_str, nvmlSystemGetDriverVersion);
	typedef ret_t (*fn_byuuidv)(const struct uuid_v1 *, dev_t_ *);
	S(fn_byuuidv, nvmlDeviceGetHandleByUUIDV);
	typedef ret_t (*fn_clock)(dev_t_, int, int, unsigned *);
	S(fn_clock, nvmlDeviceGetClock);
	typedef ret_t (*fn_inforom)(dev_t_, int, char *, unsigned);
	S(fn_inforom, nvmlDeviceGetInforomVersion);

	check(nvmlInit_v2() == SUCCESS, "nvmlInit_v2");
	dev_t_ h200 = NULL, t4 = NULL, h = (dev_t_)0x1;
	check(nvmlDeviceGetHandleByIndex_v2(0, &h200) == SUCCESS, "handle 0");
	check(nvmlDeviceGetHandleByIndex_v2(1, &t4) == SUCCESS && t4 != h200, "handle 1, another one");
	check(nvmlDeviceGetHandleByIndex_v2(2, &h) == INVALID_ARGUMENT && h == (dev_t_)0x1,
	      "index 2 of 2: INVALID_ARGUMENT, handle untouched");
	check(nvmlDeviceGetHandleByIndex_v2(~0u, &h) == INVALID_ARGUMENT, "index 0xffffffff: INVALID_ARGUMENT");
	check(nvmlDeviceGetHandleByIndex_v2(0, NULL) == INVALID_ARGUMENT, "NULL handle output: INVALID_ARGUMENT");

	/* Handles that are not ours. */
	int local;
	dev_t_ bad[] = {NULL, (dev_t_)0x1234, (dev_t_)((char *)h200 + 1), (dev_t_)&local,
			(dev_t_)((char *)t4 + ((char *)t4 - (char *)h200))};
	const char *bad_names[] = {"NULL", "0x1234", "handle + 1", "a stack address", "one past the last"};
	for (size_t i = 0; i < N(bad); i++) {
		char buf[96] = "untouched";
		unsigned long long big[16];
		check(nvmlDeviceGetName(bad[i], buf, sizeof buf) == INVALID_ARGUMENT && strcmp(buf, "untouched") == 0,
		      "nvmlDeviceGetName with handle %s: INVALID_ARGUMENT", bad_names[i]);
		int failures = 0;
		for (size_t k = 0; k < N(one_output); k++) {
			fn_d_pv f = (fn_d_pv)sym(one_output[k]);
			if (f(bad[i], big) != INVALID_ARGUMENT) {
				printf("# %s accepted handle %s\n", one_output[k], bad_names[i]);
				failures++;
			}
		}
		check(failures == 0, "%zu getters refuse handle %s", N(one_output), bad_names[i]);
	}

	/* NULL outputs. */
	int failures = 0;
	for (size_t k = 0; k < N(one_output); k++) {
		fn_d_pv f = (fn_d_pv)sym(one_output[k]);
		ret_t r = f(h200, NULL);
		if (r != INVALID_ARGUMENT) {
			printf("# %s(h200, NULL) returned %d\n", one_output[k], r);
			failures++;
		}
	}
	check(failures == 0, "%zu getters refuse a NULL output", N(one_output));
	failures = 0;
	for (size_t k = 0; k < N(two_outputs); k++) {
		fn_d_pv_pv f = (fn_d_pv_pv)sym(two_outputs[k]);
		unsigned a = 7, b = 7;
		if (f(h200, NULL, &b) != INVALID_ARGUMENT || f(h200, &a, NULL) != INVALID_ARGUMENT ||
		    f(h200, NULL, NULL) != INVALID_ARGUMENT || a != 7 || b != 7) {
			printf("# %s accepted a NULL output or wrote the other one\n", two_outputs[k]);
			failures++;
		}
	}
	check(failures == 0, "%zu two-output getters refuse either output NULL", N(two_outputs));
	failures = 0;
	for (size_t k = 0; k < N(string_outputs); k++) {
		fn_d_str f = (fn_d_str)sym(string_outputs[k]);
		if (f(h200, NULL, 96) != INVALID_ARGUMENT) {
			printf("# %s accepted a NULL buffer\n", string_outputs[k]);
			failures++;
		}
	}
	check(failures == 0, "%zu string getters refuse a NULL buffer", N(string_outputs));
	failures = 0;
	for (size_t k = 0; k < N(enum_outputs); k++) {
		fn_d_i_pv f = (fn_d_i_pv)sym(enum_outputs[k]);
		if (f(h200, 0, NULL) != INVALID_ARGUMENT || f(NULL, 0, &local) != INVALID_ARGUMENT) {
			printf("# %s accepted a NULL output or handle\n", enum_outputs[k]);
			failures++;
		}
	}
	check(failures == 0, "%zu (device, enum, output) getters refuse NULL", N(enum_outputs));
	failures = 0;
	for (size_t k = 0; k < N(process_queries); k++) {
		fn_d_pv_pv f = (fn_d_pv_pv)sym(process_queries[k]);
		unsigned count = 0;
		ret_t r1 = f(h200, NULL, NULL), r2 = f(bad[1], &count, NULL), r3 = f(h200, &count, NULL);
		if (r1 != INVALID_ARGUMENT || r2 != INVALID_ARGUMENT || r3 != SUCCESS || count != 0) {
			printf("# %s: NULL count %d, bad handle %d, size query %d count %u\n",
			       process_queries[k], r1, r2, r3, count);
			failures++;
		}
	}
	check(failures == 0, "%zu process queries: NULL count and bad handle refused; none running here",
	      N(process_queries));
	unsigned inforom_count = 0;
	check(nvmlDeviceGetInforomVersion(h200, 0, NULL, 16) == INVALID_ARGUMENT &&
	      nvmlDeviceGetInforomVersion(h200, 99, (char *)&inforom_count, 4) == INVALID_ARGUMENT,
	      "nvmlDeviceGetInforomVersion: NULL buffer or unknown object: INVALID_ARGUMENT");
	check(nvmlSystemGetDriverVersion(NULL, 80) == INVALID_ARGUMENT, "nvmlSystemGetDriverVersion(NULL): INVALID_ARGUMENT");

	/* Enumerations out of range. */
	unsigned v = 12345;
	check(nvmlDeviceGetTemperature(h200, 1, &v) == INVALID_ARGUMENT && v == 12345,
	      "temperature sensor 1: INVALID_ARGUMENT");
	check(nvmlDeviceGetClockInfo(h200, 4, &v) == INVALID_ARGUMENT && nvmlDeviceGetClockInfo(h200, -1, &v) == INVALID_ARGUMENT,
	      "clock type 4 and -1: INVALID_ARGUMENT");
	check(nvmlDeviceGetClock(h200, 0, 4, &v) == INVALID_ARGUMENT && v == 12345, "clock id 4: INVALID_ARGUMENT");
	check(nvmlDeviceGetClock(h200, 0, 0, &v) == SUCCESS && v == 1980, "current graphics clock: %u MHz", v);
	char inforom[16] = "";
	check(nvmlDeviceGetInforomVersion(h200, 1, inforom, sizeof inforom) == SUCCESS && strcmp(inforom, "7.16") == 0,
	      "infoROM ECC object: %s", inforom);
	check(nvmlDeviceGetInforomVersion(h200, 2, inforom, sizeof inforom) == NOT_SUPPORTED,
	      "infoROM power object: NOT_SUPPORTED (N/A in nvidia-smi -q)");

	/* Versioned structures. */
	struct memory_v2 m;
	memset(&m, 0, sizeof m);
	m.version = 1u << 24 | 40;
	check(nvmlDeviceGetMemoryInfo_v2(h200, &m) == ARGUMENT_VERSION_MISMATCH && m.total == 0,
	      "nvmlDeviceGetMemoryInfo_v2 version 1: ARGUMENT_VERSION_MISMATCH");
	m.version = 0;
	check(nvmlDeviceGetMemoryInfo_v2(h200, &m) == ARGUMENT_VERSION_MISMATCH, "version 0: ARGUMENT_VERSION_MISMATCH");
	m.version = MEMORY_V2;
	check(MEMORY_V2 == 0x02000028 && nvmlDeviceGetMemoryInfo_v2(h200, &m) == SUCCESS &&
	      m.total == 150754820096ull && m.reserved == 644939776ull && m.used == 0 &&
	      m.free == m.total - m.reserved, "nvmlMemory_v2: total %llu reserved %llu free %llu used %llu",
	      m.total, m.reserved, m.free, m.used);
	struct temperature_v1 t = {.version = 0, .sensor = 0, .temperature = -1};
	check(nvmlDeviceGetTemperatureV(h200, &t) == ARGUMENT_VERSION_MISMATCH && t.temperature == -1,
	      "nvmlDeviceGetTemperatureV version 0: ARGUMENT_VERSION_MISMATCH");
	t.version = TEMPERATURE_V1;
	t.sensor = 3;
	check(nvmlDeviceGetTemperatureV(h200, &t) == INVALID_ARGUMENT, "nvmlDeviceGetTemperatureV sensor 3: INVALID_ARGUMENT");
	t.sensor = 0;
	check(nvmlDeviceGetTemperatureV(h200, &t) == SUCCESS && t.temperature == 36, "GPU temperature: %d C", t.temperature);

	/* Short buffers: INSUFFICIENT_SIZE, buffer untouched. */
	char small[41];
	memset(small, 'x', sizeof small);
	check(nvmlDeviceGetName(h200, small, 11) == INSUFFICIENT_SIZE && small[0] == 'x',
	      "name into 11 bytes (\"NVIDIA H200\" needs 12): INSUFFICIENT_SIZE");
	check(nvmlDeviceGetName(h200, small, 12) == SUCCESS && strcmp(small, "NVIDIA H200") == 0, "name into 12 bytes");
	check(nvmlDeviceGetUUID(h200, small, 40) == INSUFFICIENT_SIZE, "UUID into 40 bytes: INSUFFICIENT_SIZE");
	check(nvmlDeviceGetUUID(h200, small, 0) == INSUFFICIENT_SIZE, "UUID into 0 bytes: INSUFFICIENT_SIZE");
	check(nvmlDeviceGetUUID(h200, small, 41) == SUCCESS && strlen(small) == 40 &&
	      strncmp(small, H200_UUID_PREFIX, 4) == 0, "UUID into 41 bytes: %s", small);
	char version[8];
	check(nvmlSystemGetDriverVersion(version, sizeof version) == INSUFFICIENT_SIZE,
	      "driver version into 8 bytes: INSUFFICIENT_SIZE");

	/* Lookups. */
	char uuid[96], upper[96];
	nvmlDeviceGetUUID(t4, uuid, sizeof uuid);
	dev_t_ found = NULL;
	check(nvmlDeviceGetHandleByUUID(uuid, &found) == SUCCESS && found == t4, "by UUID %s", uuid);
	for (size_t i = 0; i <= strlen(uuid); i++)
		upper[i] = (char)(uuid[i] >= 'a' && uuid[i] <= 'f' ? uuid[i] - 32 : uuid[i]);
	found = NULL;
	check(nvmlDeviceGetHandleByUUID(upper, &found) == SUCCESS && found == t4, "by UUID in upper case");
	check(nvmlDeviceGetHandleByUUID("GPU-00000000-0000-0000-0000-000000000000", &found) == NOT_FOUND,
	      "an unknown UUID: NOT_FOUND");
	check(nvmlDeviceGetHandleByUUID("not a uuid", &found) == INVALID_ARGUMENT, "a malformed UUID: INVALID_ARGUMENT");
	check(nvmlDeviceGetHandleByUUID(NULL, &found) == INVALID_ARGUMENT, "a NULL UUID: INVALID_ARGUMENT");
	check(nvmlDeviceGetHandleByUUID(uuid, NULL) == INVALID_ARGUMENT, "by UUID, NULL output: INVALID_ARGUMENT");
	struct uuid_v1 uv;
	memset(&uv, 0, sizeof uv);
	uv.version = UUID_V1;
	uv.type = 1;
	strcpy(uv.value.str, uuid);
	found = NULL;
	check(UUID_V1 == 0x1000034 && nvmlDeviceGetHandleByUUIDV(&uv, &found) == SUCCESS && found == t4,
	      "nvmlDeviceGetHandleByUUIDV, ASCII");
	uv.version = 0;
	check(nvmlDeviceGetHandleByUUIDV(&uv, &found) == ARGUMENT_VERSION_MISMATCH,
	      "nvmlDeviceGetHandleByUUIDV version 0: ARGUMENT_VERSION_MISMATCH");

	/* PCI: h200 is the first emulated GPU, on bus 1. */
	unsigned char pci[128];
	memset(pci, 0xa5, sizeof pci);
	check(nvmlDeviceGetPciInfo_v3(h200, pci) == SUCCESS && pci[68] == 0xa5 && pci[67] == 0 &&
	      strcmp((char *)pci, "0000:01:00.0") == 0 && strcmp((char *)pci + 36, "00000000:01:00.0") == 0,
	      "nvmlDeviceGetPciInfo_v3 writes 68 bytes: busIdLegacy %s, busId %s", (char *)pci, (char *)pci + 36);
	unsigned ids[2];
	memcpy(ids, pci + 28, sizeof ids);
	check(ids[0] == 0x233510DEu && ids[1] == 0x18BF10DEu, "pciDeviceId 0x%08X, pciSubSystemId 0x%08X", ids[0], ids[1]);
	memset(pci, 0xa5, sizeof pci);
	check(nvmlDeviceGetPciInfo_v2(h200, pci) == SUCCESS && pci[52] == 0xa5 && pci[51] == 0 &&
	      strcmp((char *)pci, "0000:01:00.0") == 0, "nvmlDeviceGetPciInfo_v2 writes the 52-byte legacy layout");
	memset(pci, 0xa5, sizeof pci);
	check(nvmlDeviceGetPciInfo(h200, pci) == SUCCESS && pci[52] == 0xa5, "nvmlDeviceGetPciInfo (v1) likewise");
	const char *forms[] = {"00000000:01:00.0", "0000:01:00.0", "01:00.0", "0:1:0", "0000:01:00"};
	for (size_t i = 0; i < N(forms); i++) {
		found = NULL;
		check(nvmlDeviceGetHandleByPciBusId_v2(forms[i], &found) == SUCCESS && found == h200,
		      "by PCI bus id \"%s\"", forms[i]);
	}
	found = NULL;
	check(nvmlDeviceGetHandleByPciBusId("00000000:02:00.0", &found) == SUCCESS && found == t4,
	      "nvmlDeviceGetHandleByPciBusId (v1): the second GPU on bus 2");
	check(nvmlDeviceGetHandleByPciBusId_v2("0000:09:00.0", &found) == NOT_FOUND, "an empty slot: NOT_FOUND");
	check(nvmlDeviceGetHandleByPciBusId_v2("0000:01:00.1", &found) == NOT_FOUND, "function 1: NOT_FOUND");
	const char *junk[] = {"", "zz", "0000:01:00.0x", "0000:100:00.0", "1:2", "0000:01:00.8"};
	for (size_t i = 0; i < N(junk); i++)
		check(nvmlDeviceGetHandleByPciBusId_v2(junk[i], &found) == INVALID_ARGUMENT,
		      "PCI bus id \"%s\": INVALID_ARGUMENT", junk[i]);

	char serial[30];
	check(nvmlDeviceGetSerial(h200, serial, sizeof serial) == SUCCESS && strlen(serial) == 13,
	      "serial of GPU 0: %s", serial);
	found = NULL;
	check(nvmlDeviceGetHandleBySerial(serial, &found) == SUCCESS && found == h200, "by serial");
	check(nvmlDeviceGetHandleBySerial("0000000000000", &found) == NOT_FOUND, "an unknown serial: NOT_FOUND");
	unsigned cur = 9, pend = 9;
	check(nvmlDeviceGetMigMode(t4, &cur, &pend) == NOT_SUPPORTED && cur == 9 && pend == 9,
	      "MIG mode of a T4: NOT_SUPPORTED, outputs untouched");
	check(nvmlDeviceGetMigMode(h200, &cur, &pend) == SUCCESS && cur == 0 && pend == 0, "MIG mode of an H200: disabled");
	unsigned index = 9;
	check(nvmlDeviceGetIndex(t4, &index) == SUCCESS && index == 1, "index of the second handle: %u", index);

	check(nvmlShutdown() == SUCCESS, "nvmlShutdown");
}

/* --- strings ---------------------------------------------------------------------------- */

static void strings(void)
{
	S(fn_errstr, nvmlErrorString);
	const char *seen[32] = {0};
	int bad = 0;
	for (int code = 0; code <= 30; code++) {
		const char *s = nvmlErrorString(code);
		if (!s || !*s || strcmp(s, "Unknown Error") == 0) {
			printf("# code %d: %s\n", code, s ? s : "(null)");
			bad++;
			continue;
		}
		for (int k = 0; k < code; k++)
			if (seen[k] && strcmp(seen[k], s) == 0) {
				printf("# codes %d and %d share \"%s\"\n", k, code, s);
				bad++;
			}
		seen[code] = s;
	}
	check(bad == 0, "nvmlErrorString: a distinct message for each of the codes 0..30");
	check(strcmp(nvmlErrorString(0), "Success") == 0, "0: %s", nvmlErrorString(0));
	check(strcmp(nvmlErrorString(1), "Uninitialized") == 0, "1: %s", nvmlErrorString(1));
	check(strcmp(nvmlErrorString(2), "Invalid Argument") == 0, "2: %s", nvmlErrorString(2));
	check(strcmp(nvmlErrorString(3), "Not Supported") == 0, "3: %s", nvmlErrorString(3));
	check(strcmp(nvmlErrorString(DEPRECATED), "Requested functionality has been deprecated") == 0,
	      "26: %s", nvmlErrorString(DEPRECATED));
	check(strcmp(nvmlErrorString(GPU_NOT_FOUND), "No supported GPUs were found") == 0,
	      "28: %s", nvmlErrorString(GPU_NOT_FOUND));
	check(strcmp(nvmlErrorString(UNKNOWN), "Unknown Error") == 0, "999: %s", nvmlErrorString(UNKNOWN));
	check(strcmp(nvmlErrorString(31), "Unknown Error") == 0 && strcmp(nvmlErrorString(-1), "Unknown Error") == 0 &&
	      strcmp(nvmlErrorString(123456), "Unknown Error") == 0, "unknown codes: Unknown Error");
}

/* --- threads ---------------------------------------------------------------------------- */

static int thread_errors;

static void *worker(void *arg)
{
	S(fn_v, nvmlInit_v2);
	S(fn_v, nvmlShutdown);
	S(fn_pu, nvmlDeviceGetCount_v2);
	S(fn_idx, nvmlDeviceGetHandleByIndex_v2);
	S(fn_d_str, nvmlDeviceGetName);
	S(fn_d_pv, nvmlDeviceGetMemoryInfo);
	S(fn_d_pv_pv, nvmlDeviceGetComputeRunningProcesses_v3);
	(void)arg;
	for (int i = 0; i < 500; i++) {
		unsigned n = 0, procs = 0;
		dev_t_ h;
		char name[64];
		unsigned long long mem[3];
		int e = 0;
		e |= nvmlInit_v2() != SUCCESS;
		e |= nvmlDeviceGetCount_v2(&n) != SUCCESS || n != 2;
		e |= nvmlDeviceGetHandleByIndex_v2((unsigned)i % 2, &h) != SUCCESS;
		e |= nvmlDeviceGetName(h, name, sizeof name) != SUCCESS ||
		     strcmp(name, i % 2 ? "Tesla T4" : "NVIDIA H200") != 0;
		e |= nvmlDeviceGetMemoryInfo(h, mem) != SUCCESS;
		e |= nvmlDeviceGetComputeRunningProcesses_v3(h, &procs, NULL) != SUCCESS;
		e |= nvmlShutdown() != SUCCESS;
		if (e)
			__atomic_add_fetch(&thread_errors, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void threads(void)
{
	S(fn_v, nvmlShutdown);
	pthread_t t[16];
	for (int i = 0; i < 16; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < 16; i++)
		pthread_join(t[i], NULL);
	check(thread_errors == 0, "16 threads x 500 rounds of init, queries, shutdown: %d failed rounds", thread_errors);
	check(nvmlShutdown() == UNINITIALIZED, "every reference given back: nvmlShutdown is UNINITIALIZED");
}

/* --- no GPU, bad configuration ----------------------------------------------------------- */

static void nogpu(void)
{
	S(fn_v, nvmlInit_v2);
	S(fn_v, nvmlInit);
	S(fn_u, nvmlInitWithFlags);
	S(fn_v, nvmlShutdown);
	S(fn_pu, nvmlDeviceGetCount_v2);
	S(fn_idx, nvmlDeviceGetHandleByIndex_v2);
	check(nvmlInit_v2() == GPU_NOT_FOUND, "nvmlInit_v2 without GPUs: GPU_NOT_FOUND");
	check(nvmlInit() == GPU_NOT_FOUND, "nvmlInit without GPUs: GPU_NOT_FOUND");
	check(nvmlInitWithFlags(0) == GPU_NOT_FOUND, "nvmlInitWithFlags(0) without GPUs: GPU_NOT_FOUND");
	check(nvmlShutdown() == UNINITIALIZED, "nothing to shut down");
	check(nvmlInitWithFlags(1) == SUCCESS, "nvmlInitWithFlags(NVML_INIT_FLAG_NO_GPUS): SUCCESS");
	unsigned n = 5;
	check(nvmlDeviceGetCount_v2(&n) == SUCCESS && n == 0, "count: %u", n);
	dev_t_ h;
	check(nvmlDeviceGetHandleByIndex_v2(0, &h) == INVALID_ARGUMENT, "index 0: INVALID_ARGUMENT");
	check(nvmlShutdown() == SUCCESS, "nvmlShutdown");
}

static void badconfig(void)
{
	S(fn_v, nvmlInit_v2);
	S(fn_u, nvmlInitWithFlags);
	S(fn_v, nvmlShutdown);
	S(fn_pu, nvmlDeviceGetCount_v2);
	unsigned n = 5;
	check(nvmlInit_v2() == DRIVER_NOT_LOADED, "nvmlInit_v2 with an unusable configuration: DRIVER_NOT_LOADED");
	check(nvmlInitWithFlags(1) == DRIVER_NOT_LOADED, "even with NVML_INIT_FLAG_NO_GPUS");
	check(nvmlDeviceGetCount_v2(&n) == UNINITIALIZED && n == 5, "count: UNINITIALIZED");
	check(nvmlShutdown() == UNINITIALIZED, "nothing to shut down");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: nvml_client lifecycle|errors|strings|threads|nogpu|badconfig\n");
		return 2;
	}
	lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		printf("not ok - dlopen libnvidia-ml.so.1: %s\n", dlerror());
		return 1;
	}
	const char *mode = argv[1];
	if (strcmp(mode, "lifecycle") == 0)
		lifecycle();
	else if (strcmp(mode, "errors") == 0)
		errors();
	else if (strcmp(mode, "strings") == 0)
		strings();
	else if (strcmp(mode, "threads") == 0)
		threads();
	else if (strcmp(mode, "nogpu") == 0)
		nogpu();
	else if (strcmp(mode, "badconfig") == 0)
		badconfig();
	else {
		fprintf(stderr, "nvml_client: unknown mode %s\n", mode);
		return 2;
	}
	return failed;
}

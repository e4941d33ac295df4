/* nvmlInit*, nvmlShutdown, nvmlErrorString, and the device table.
 *
 * Like the real library, initialisation is reference counted: every successful
 * nvmlInit / nvmlInit_v2 / nvmlInitWithFlags takes a reference, every nvmlShutdown gives
 * one back, and the library is usable while one is held.  The devices come from the
 * emulator's configuration (emulator/common/config.h), read once per process; their
 * table is built once and never freed, so a handle stays a valid pointer for the life
 * of the process (after the last nvmlShutdown it is refused as uninitialised).
 *
 * Failures:
 *   the configuration is unusable (bad VGPU_EMULATOR_DEVICES, unreadable sandbox
 *   policy): NVML_ERROR_DRIVER_NOT_LOADED, and the reason once on stderr, as the
 *   driver would be unusable;
 *   no emulated GPU (VGPU_EMULATOR_DEVICES=none): NVML_ERROR_GPU_NOT_FOUND ("No
 *   supported GPUs were found", what the real library says on a machine whose GPUs
 *   are gone) unless NVML_INIT_FLAG_NO_GPUS asks to succeed anyway. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "emulator/nvml/nvml_internal.h"

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned refs;     /* held references; read without the lock by nvml_ready */
static unsigned ndevices; /* set once, before refs first becomes non-zero */
static struct nvmlDevice_st devices[EMU_MAX_DEVICES];
static int table_built;

static void say_once(const char *why)
{
	static int said;
	if (__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		return;
	char line[400];
	int n = snprintf(line, sizeof line, "vgpu emulator: NVML cannot start: %s\n", why);
	if (n > 0)
		(void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* A serial number of 13 digits like the real boards' ("1653824018162"), derived from
 * the UUID so that every emulated GPU has its own and keeps it across processes. */
static void make_serial(char *out, size_t len, const uint8_t uuid[16])
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (int i = 0; i < 16; i++) {
		h ^= uuid[i];
		h *= 0x100000001b3ULL;
	}
	snprintf(out, len, "1%012" PRIu64, (uint64_t)(h % 1000000000000ULL));
}

static void build_table(const struct emu_config *cfg)
{
	for (unsigned i = 0; i < cfg->ndevices; i++) {
		struct nvmlDevice_st *d = &devices[i];
		const struct emu_device_config *c = &cfg->devices[i];
		const uint8_t *u = c->uuid;
		d->index = i;
		d->cfg = c;
		d->prof = c->profile;
		d->np = nvml_profile_find(c->profile ? c->profile->key : NULL);
		unsigned long long cuda_total = c->profile ? c->profile->total_memory : 0;
		d->fb_total = d->np->fb_total > cuda_total ? d->np->fb_total : cuda_total;
		d->fb_reserved = d->fb_total - cuda_total;
		snprintf(d->uuid, sizeof d->uuid,
			 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
			 u[12], u[13], u[14], u[15]);
		if (d->np->has_serial)
			make_serial(d->serial, sizeof d->serial, u);
		snprintf(d->bus_id, sizeof d->bus_id, NVML_DEVICE_PCI_BUS_ID_FMT,
			 (unsigned)c->pci_domain, (unsigned)c->pci_bus, (unsigned)c->pci_device);
		snprintf(d->bus_id_legacy, sizeof d->bus_id_legacy, NVML_DEVICE_PCI_BUS_ID_LEGACY_FMT,
			 (unsigned)c->pci_domain & 0xffffu, (unsigned)c->pci_bus, (unsigned)c->pci_device);
	}
	ndevices = cfg->ndevices;
}

static nvmlReturn_t init_with(unsigned flags)
{
	const struct emu_config *cfg = emu_config();
	pthread_mutex_lock(&init_lock);
	nvmlReturn_t r = NVML_SUCCESS;
	if (cfg->error[0]) {
		say_once(cfg->error);
		r = NVML_ERROR_DRIVER_NOT_LOADED;
	} else if (cfg->ndevices == 0 && !(flags & NVML_INIT_FLAG_NO_GPUS)) {
		r = NVML_ERROR_GPU_NOT_FOUND;
	} else {
		if (!table_built) {
			build_table(cfg);
			table_built = 1;
		}
		if (refs == UINT32_MAX)
			r = NVML_ERROR_UNKNOWN;
		else
			__atomic_store_n(&refs, refs + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&init_lock);
	return r;
}

NVML_API nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
	return init_with(flags);
}

NVML_API nvmlReturn_t nvmlInit_v2(void)
{
	return init_with(0);
}

/* The first nvmlInit also failed when a GPU could not be attached; every emulated GPU
 * can, so it is nvmlInit_v2. */
NVML_API nvmlReturn_t nvmlInit(void)
{
	return init_with(0);
}

NVML_API nvmlReturn_t nvmlShutdown(void)
{
	pthread_mutex_lock(&init_lock);
	nvmlReturn_t r = NVML_SUCCESS;
	if (refs == 0)
		r = NVML_ERROR_UNINITIALIZED;
	else
		__atomic_store_n(&refs, refs - 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&init_lock);
	return r;
}

nvmlReturn_t nvml_ready(void)
{
	return __atomic_load_n(&refs, __ATOMIC_ACQUIRE) ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
}

unsigned nvml_count(void)
{
	return nvml_ready() == NVML_SUCCESS ? ndevices : 0;
}

struct nvmlDevice_st *nvml_at(unsigned index)
{
	return index < nvml_count() ? &devices[index] : NULL;
}

nvmlReturn_t nvml_device(nvmlDevice_t h, const struct nvmlDevice_st **out)
{
	nvmlReturn_t r = nvml_ready();
	if (r != NVML_SUCCESS)
		return r;
	/* Ours only: an element of the table, exactly (compared as integers: a foreign
	 * pointer is not something to do pointer arithmetic with). */
	uintptr_t p = (uintptr_t)h, base = (uintptr_t)devices;
	if (p < base || p >= base + ndevices * sizeof devices[0] || (p - base) % sizeof devices[0])
		return NVML_ERROR_INVALID_ARGUMENT;
	*out = &devices[(p - base) / sizeof devices[0]];
	return NVML_SUCCESS;
}

nvmlReturn_t nvml_put_string(char *buf, unsigned length, const char *s)
{
	if (!buf)
		return NVML_ERROR_INVALID_ARGUMENT;
	size_t n = strlen(s);
	if (length <= n)
		return NVML_ERROR_INSUFFICIENT_SIZE;
	memcpy(buf, s, n + 1);
	return NVML_SUCCESS;
}

int nvml_attr(const struct nvmlDevice_st *d, int num, int dflt)
{
	if (!d->prof || num < 0 || num >= EMU_ATTRIBUTE_COUNT || !d->prof->attribute_known[num])
		return dflt;
	return d->prof->attributes[num];
}

/* --- nvmlErrorString --------------------------------------------------------------- */

NVML_API const char *nvmlErrorString(nvmlReturn_t result)
{
	switch (result) {
	case NVML_SUCCESS: return "Success";
	case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
	case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
	case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
	case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
	case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
	case NVML_ERROR_NOT_FOUND: return "Not Found";
	case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
	case NVML_ERROR_INSUFFICIENT_POWER: return "Insufficient External Power";
	case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
	case NVML_ERROR_TIMEOUT: return "Timeout";
	case NVML_ERROR_IRQ_ISSUE: return "Interrupt request issue";
	case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
	case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
	case NVML_ERROR_CORRUPTED_INFOROM: return "Corrupted infoROM";
	case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
	case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
	case NVML_ERROR_OPERATING_SYSTEM: return "The operating system has blocked the request.";
	case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
	case NVML_ERROR_IN_USE: return "In use by another client";
	case NVML_ERROR_MEMORY: return "Insufficient Memory";
	case NVML_ERROR_NO_DATA: return "No data";
	case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED:
		return "The requested vgpu operation is not available on target device, because ECC is enabled";
	case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Insufficient resources";
	case NVML_ERROR_FREQ_NOT_SUPPORTED: return "Frequency not supported";
	case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
	case NVML_ERROR_DEPRECATED: return "Requested functionality has been deprecated";
	case NVML_ERROR_NOT_READY: return "Not ready";
	case NVML_ERROR_GPU_NOT_FOUND: return "No supported GPUs were found";
	case NVML_ERROR_INVALID_STATE: return "Invalid state";
	case NVML_ERROR_RESET_TYPE_NOT_SUPPORTED: return "Reset type not supported";
	case NVML_ERROR_UNKNOWN: return "Unknown Error";
	default: return "Unknown Error";
	}
}

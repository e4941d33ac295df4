/* Internal interface of the emulator's libnvidia-ml.so.1 (emulator/nvml/).
 *
 *   init.c          nvmlInit*, nvmlShutdown, nvmlErrorString; the device table and the
 *                   checks every entry point starts with
 *   system.c        driver, NVML and CUDA versions, process names, units, the GPUs
 *                   of a CPU
 *   device.c        count, handles, identity (name, UUID, serial, PCI, board, ...),
 *                   topology
 *   device_mem.c    memory, BAR1, running processes, accounting pids, process
 *                   utilization
 *   device_state.c  clocks, power, temperature, fans, PCIe link, ECC, modes, ...
 *   profiles_nvml.c the NVML-only figures of each profile
 *
 * What the CUDA side reports (name, CUDA total memory, compute capability, SMs, clocks,
 * ECC, PCI ids) comes from emulator/common/profiles.c, so that both libraries agree. */
#ifndef VGPU_NVML_INTERNAL_H
#define VGPU_NVML_INTERNAL_H

#include <stdint.h>

#include "emulator/common/config.h"
#include "emulator/common/profiles.h"
#include "emulator/nvml/nvml_abi.h"

/* Exported and bound inside the library, like EMU_API (emulator/include/cuda_abi.h):
 * the library's calls to its own API must not land in the shim. */
#define NVML_API __attribute__((visibility("protected")))

/* What NVML reports about a model and the CUDA profile does not.  A zero or NULL field
 * means the real board does not report it either: the query is NVML_ERROR_NOT_SUPPORTED. */
struct nvml_profile {
	const char *key;                /* the profile key of profiles.h */
	unsigned long long fb_total;    /* NVML's total memory: CUDA's total + reserved */
	unsigned long long bar1_total;
	int brand;                      /* nvmlBrandType_t */
	unsigned arch;                  /* nvmlDeviceArchitecture_t */
	unsigned cores_per_sm;          /* NumGpuCores = SMs (CUDA attribute 16) x this */
	unsigned pcie_gen, pcie_width;  /* max = current */
	unsigned pci_class, pci_subclass;
	/* Clocks, MHz.  Max graphics/SM and memory come from the CUDA attributes 13 and 36
	 * unless max_graphics says otherwise (GeForce boosts past the CUDA clock rate). */
	unsigned max_graphics, max_video;
	unsigned cur_graphics, cur_mem, cur_video; /* 0: at the max clock */
	unsigned customer_boost;        /* 0: not supported */
	int app_clocks;                 /* applications clocks supported */
	int pstate;                     /* at idle */
	int temp_gpu;                   /* C */
	unsigned power_mw, power_limit_mw, power_min_mw, power_max_mw;
	unsigned fans, fan_percent;     /* 0 fans: passively cooled (NOT_SUPPORTED) */
	int persistence;
	int mig_capable;
	int has_serial;
	int remapped_rows;
	const char *board_part, *vbios;
	const char *inforom_image, *inforom_oem, *inforom_ecc, *inforom_power;
};

/* Never NULL: an unknown key gets a generic entry that supports little. */
const struct nvml_profile *nvml_profile_find(const char *key);

/* One emulated GPU as NVML presents it; nvmlDevice_t points at one of these. */
struct nvmlDevice_st {
	unsigned index;
	const struct emu_device_config *cfg;
	const struct emu_profile *prof;
	const struct nvml_profile *np;
	unsigned long long fb_total;    /* NVML's total */
	unsigned long long fb_reserved; /* the part of it CUDA does not see */
	char uuid[NVML_DEVICE_UUID_ASCII_LEN];
	char serial[NVML_DEVICE_SERIAL_BUFFER_SIZE]; /* "" when the board has none */
	char bus_id[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
	char bus_id_legacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
};

/* NVML_SUCCESS when the library is initialised, else NVML_ERROR_UNINITIALIZED. */
nvmlReturn_t nvml_ready(void);
/* Devices of the initialised library (0 before nvmlInit). */
unsigned nvml_count(void);
struct nvmlDevice_st *nvml_at(unsigned index);
/* The start of every device query: initialised, and h one of our handles. */
nvmlReturn_t nvml_device(nvmlDevice_t h, const struct nvmlDevice_st **out);

/* The first lines of a device query: d is the checked device, or the function
 * returns what nvml_device said. */
#define DEVICE(h)                                       \
	const struct nvmlDevice_st *d;                  \
	do {                                            \
		nvmlReturn_t r_ = nvml_device((h), &d); \
		if (r_ != NVML_SUCCESS)                 \
			return r_;                      \
	} while (0)

/* Copies s into buf of length bytes: INVALID_ARGUMENT for a NULL buf, INSUFFICIENT_SIZE
 * (buf untouched) when s and its NUL do not fit. */
nvmlReturn_t nvml_put_string(char *buf, unsigned length, const char *s);

/* Writes a list of n handles by the protocol of NVML's topology queries (device.c):
 * *count 0 asks how many; too small a *count is INSUFFICIENT_SIZE with how many. */
nvmlReturn_t nvml_put_handles(unsigned *count, nvmlDevice_t *out, nvmlDevice_t const *list, unsigned n);

/* A CUDA attribute of the device's profile, or dflt when the profile does not know it. */
int nvml_attr(const struct nvmlDevice_st *d, int num, int dflt);

#endif

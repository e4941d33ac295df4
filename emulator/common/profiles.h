/* Device profiles: what each emulated GPU model reports through the CUDA driver API.
 * h200 reproduces shared/reference/h200/ (a real H200 on driver 580.159.04); the others
 * come from public specifications.  NVML-only figures (clocks, power, PCIe, ...) live
 * with the NVML emulator, keyed by the same profile key. */
#ifndef VGPU_EMU_PROFILES_H
#define VGPU_EMU_PROFILES_H

#include <stdint.h>

/* Attribute numbers are CUdevice_attribute values; the highest cudart 13.0 asks is
 * 143.  Room for the newer ones. */
#define EMU_ATTRIBUTE_COUNT 192

struct emu_profile {
	const char *key;            /* "h200": what the policy says (emulated:h200) */
	const char *name;           /* "NVIDIA H200": cuDeviceGetName, NVML name */
	uint64_t total_memory;      /* bytes: cuDeviceTotalMem, cudaDeviceProp.totalGlobalMem */
	int attributes[EMU_ATTRIBUTE_COUNT]; /* cuDeviceGetAttribute, by attribute number */
	unsigned char attribute_known[EMU_ATTRIBUTE_COUNT]; /* 0: CUDA_ERROR_INVALID_VALUE */
};

/* NULL when unknown.  Keys are those of policy_profiles[] (policy/policy.c). */
const struct emu_profile *emu_profile_find(const char *key);

#endif

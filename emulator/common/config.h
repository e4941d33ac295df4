/* What hardware the emulator has: which GPUs (profiles, in ordinal order) and which
 * driver version it reports.
 *
 * Inside a vgpu-run sandbox: the emulated GPUs of the canonical policy in the runtime
 * dir (shim/common/runtime_dir.h), so every process of the sandbox sees the same
 * machine whatever its environment (plus, for tests, those of EMU_EXTRA_GPUS_FILE).
 * Loaded directly (tests, ad-hoc use): VGPU_EMULATOR_DEVICES="h200,t4" (default: one
 * h200).  The driver version is 13000 unless VGPU_EMULATOR_DRIVER_VERSION says
 * otherwise (e.g. 12080: test a program against an older driver).  Read once per process, thread-safe. */
#ifndef VGPU_EMU_CONFIG_H
#define VGPU_EMU_CONFIG_H

#include <stdint.h>

#include "emulator/common/profiles.h"

#define EMU_MAX_DEVICES 16

/* In the runtime dir: GPUs of the emulated machine beyond the policy's, for tests of the
 * shim's view ("l4,h200"; config.c, extra_devices).  vgpu-run never writes it. */
#define EMU_EXTRA_GPUS_FILE "emulator-extra-gpus"

struct emu_device_config {
	const struct emu_profile *profile;
	uint8_t uuid[16];        /* stable: derived from the profile and the ordinal */
	int pci_domain, pci_bus, pci_device;
};

struct emu_config {
	unsigned ndevices;
	struct emu_device_config devices[EMU_MAX_DEVICES];
	int driver_version;      /* as cuDriverGetVersion: 13000 */
	int launch_noop;         /* policy `launch = noop`: kernel launches succeed doing nothing */
	char error[256];         /* non-empty: the configuration is unusable, and why */
};

/* The process's configuration (read on first call). */
const struct emu_config *emu_config(void);

#endif

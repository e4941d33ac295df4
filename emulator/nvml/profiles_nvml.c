/* What NVML reports about each emulated model beyond the CUDA profile (nvml_internal.h).
 *
 * h200 is shared/reference/h200/ (nvml-view.json, nvidia-smi-q.txt: a real H200 on
 * driver 580.159.04), but for what reflects the emulator (UUID, serial, PCI location,
 * used and free memory).  The others come from public specifications and from what
 * nvidia-smi shows on such boards (total memory in MiB, BAR1, clocks, power limits).
 * Idle figures (temperature, power draw, performance state) are those of an idle board.
 *
 * NVML's total memory includes what the driver reserves: the real H200 reports
 * 150754820096 bytes to NVML and 150109880320 to cuDeviceTotalMem, the difference being
 * nvmlMemory_v2_t.reserved (616 MiB in nvidia-smi -q).  fb_total here is NVML's figure;
 * the CUDA total is the profile's (emulator/common/profiles.c) and the difference is
 * reported as reserved. */
#include <string.h>

#include "emulator/nvml/nvml_internal.h"

#define MIB(n) ((unsigned long long)(n) << 20)
#define GIB(n) ((unsigned long long)(n) << 30)

static const struct nvml_profile profiles[] = {
	{
		/* NVIDIA H200 SXM 141 GB: the reference board. */
		.key = "h200",
		.fb_total = 150754820096ULL, /* 143771 MiB */
		.bar1_total = GIB(256),
		.brand = NVML_BRAND_NVIDIA,
		.arch = NVML_DEVICE_ARCH_HOPPER,
		.cores_per_sm = 128,
		.pcie_gen = 5, .pcie_width = 16,
		.pci_class = 0x03, .pci_subclass = 0x02,
		.max_video = 1545,
		.customer_boost = 1980,
		.app_clocks = 1,
		.pstate = 0,
		.temp_gpu = 36,
		.power_mw = 119011, .power_limit_mw = 700000, .power_min_mw = 200000, .power_max_mw = 700000,
		.persistence = 1,
		.mig_capable = 1,
		.has_serial = 1,
		.remapped_rows = 1,
		.board_part = "692-2G520-0282-001",
		.vbios = "96.00.A5.00.1A",
		.inforom_image = "G520.0282.02.02",
		.inforom_oem = "2.1",
		.inforom_ecc = "7.16",
	},
	{
		/* NVIDIA H100 SXM5 80 GB HBM3 */
		.key = "h100-80gb",
		.fb_total = MIB(81559),
		.bar1_total = GIB(128),
		.brand = NVML_BRAND_NVIDIA,
		.arch = NVML_DEVICE_ARCH_HOPPER,
		.cores_per_sm = 128,
		.pcie_gen = 5, .pcie_width = 16,
		.pci_class = 0x03, .pci_subclass = 0x02,
		.max_video = 1755,
		.customer_boost = 1980,
		.app_clocks = 1,
		.pstate = 0,
		.temp_gpu = 33,
		.power_mw = 71000, .power_limit_mw = 700000, .power_min_mw = 200000, .power_max_mw = 700000,
		.persistence = 1,
		.mig_capable = 1,
		.has_serial = 1,
		.remapped_rows = 1,
		.board_part = "692-2G520-0200-000",
		.vbios = "96.00.74.00.11",
		.inforom_image = "G520.0200.00.05",
		.inforom_oem = "2.1",
		.inforom_ecc = "7.16",
	},
	{
		/* NVIDIA A100 SXM4 80 GB */
		.key = "a100-80gb",
		.fb_total = MIB(81920),
		.bar1_total = GIB(128),
		.brand = NVML_BRAND_NVIDIA,
		.arch = NVML_DEVICE_ARCH_AMPERE,
		.cores_per_sm = 64,
		.pcie_gen = 4, .pcie_width = 16,
		.pci_class = 0x03, .pci_subclass = 0x02,
		.max_video = 1290,
		.customer_boost = 1410,
		.app_clocks = 1,
		.pstate = 0,
		.temp_gpu = 31,
		.power_mw = 62000, .power_limit_mw = 400000, .power_min_mw = 100000, .power_max_mw = 400000,
		.persistence = 1,
		.mig_capable = 1,
		.has_serial = 1,
		.remapped_rows = 1,
		.board_part = "692-2G506-0210-002",
		.vbios = "92.00.45.00.03",
		.inforom_image = "G506.0210.00.04",
		.inforom_oem = "2.0",
		.inforom_ecc = "6.16",
	},
	{
		/* NVIDIA L4 (PCIe, 24 GB GDDR6, 72 W) */
		.key = "l4",
		.fb_total = MIB(23034),
		.bar1_total = GIB(32),
		.brand = NVML_BRAND_NVIDIA,
		.arch = NVML_DEVICE_ARCH_ADA,
		.cores_per_sm = 128,
		.pcie_gen = 4, .pcie_width = 16,
		.pci_class = 0x03, .pci_subclass = 0x02,
		.max_video = 1770,
		.customer_boost = 2040,
		.app_clocks = 1,
		.pstate = 0,
		.temp_gpu = 38,
		.power_mw = 16000, .power_limit_mw = 72000, .power_min_mw = 40000, .power_max_mw = 72000,
		.persistence = 1,
		.has_serial = 1,
		.remapped_rows = 1,
		.board_part = "900-2G193-0000-001",
		.vbios = "95.04.29.00.06",
		.inforom_image = "G193.0200.00.01",
		.inforom_oem = "2.1",
		.inforom_ecc = "6.16",
	},
	{
		/* Tesla T4 (PCIe, 16 GB GDDR6, 70 W): idles in P8. */
		.key = "t4",
		.fb_total = MIB(15360),
		.bar1_total = MIB(256),
		.brand = NVML_BRAND_NVIDIA,
		.arch = NVML_DEVICE_ARCH_TURING,
		.cores_per_sm = 64,
		.pcie_gen = 3, .pcie_width = 16,
		.pci_class = 0x03, .pci_subclass = 0x02,
		.max_video = 1470,
		.cur_graphics = 300, .cur_mem = 405, .cur_video = 540,
		.customer_boost = 1590,
		.app_clocks = 1,
		.pstate = 8,
		.temp_gpu = 40,
		.power_mw = 9000, .power_limit_mw = 70000, .power_min_mw = 60000, .power_max_mw = 70000,
		.persistence = 1,
		.has_serial = 1,
		.board_part = "900-2G183-0000-001",
		.vbios = "90.04.96.00.02",
		.inforom_image = "G183.0200.00.02",
		.inforom_oem = "1.1",
		.inforom_ecc = "5.0",
	},
	{
		/* NVIDIA GeForce RTX 4090 (24 GB GDDR6X, 450 W, two fans): a desktop card,
		 * idling in P8; GeForce boards report no serial, part number or infoROM, and
		 * have neither applications clocks nor customer boost clocks. */
		.key = "rtx-4090",
		.fb_total = MIB(24564),
		.bar1_total = MIB(256),
		.brand = NVML_BRAND_GEFORCE,
		.arch = NVML_DEVICE_ARCH_ADA,
		.cores_per_sm = 128,
		.pcie_gen = 4, .pcie_width = 16,
		.pci_class = 0x03, .pci_subclass = 0x00,
		.max_graphics = 3105, .max_video = 2415,
		.cur_graphics = 210, .cur_mem = 405, .cur_video = 1185,
		.pstate = 8,
		.temp_gpu = 35,
		.power_mw = 22000, .power_limit_mw = 450000, .power_min_mw = 150000, .power_max_mw = 600000,
		.fans = 2, .fan_percent = 30,
		.persistence = 0,
		.vbios = "95.02.18.80.5F",
	},
};

/* A model added to the CUDA profiles but not here yet: what every board reports. */
static const struct nvml_profile generic = {
	.key = "",
	.brand = NVML_BRAND_UNKNOWN,
	.arch = NVML_DEVICE_ARCH_UNKNOWN,
	.pcie_gen = 4, .pcie_width = 16,
	.pci_class = 0x03, .pci_subclass = 0x02,
	.pstate = 0,
	.temp_gpu = 35,
};

const struct nvml_profile *nvml_profile_find(const char *key)
{
	for (size_t i = 0; key && i < sizeof profiles / sizeof profiles[0]; i++)
		if (strcmp(profiles[i].key, key) == 0)
			return &profiles[i];
	return &generic;
}

/* The machine's physical NVIDIA GPUs as the kernel driver lists them:
 * /proc/driver/nvidia/gpus/<PCI bus id>/information.  Index = position in PCI bus order,
 * as nvidia-smi and NVML number them.  Used by the launcher (to check a policy's GPU
 * indexes and UUIDs) and by the shim (to tell the lower driver which GPUs to
 * enumerate).  Reads only; no state. */
#ifndef VGPU_PHYSICAL_GPUS_H
#define VGPU_PHYSICAL_GPUS_H

#include "policy/policy.h"

#define PHYSICAL_GPUS_DIR "/proc/driver/nvidia/gpus"
#define PHYSICAL_GPUS_MAX 64

struct physical_gpu {
	char bus_id[64];              /* "0000:17:00.0" */
	char uuid[POLICY_UUID_MAX];   /* "GPU-...", empty when the information file lacks it */
};

/* Fills gpus (room for PHYSICAL_GPUS_MAX) from dir, sorted by bus id.  Returns how many,
 * or -1 with errno when dir cannot be listed. */
int physical_gpus_list(const char *dir, struct physical_gpu *gpus);

/* The index of the GPU with this UUID (case-insensitive), or -1. */
int physical_gpus_find_uuid(const struct physical_gpu *gpus, int n, const char *uuid);

#endif

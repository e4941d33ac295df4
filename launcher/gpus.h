/* The machine's physical NVIDIA GPUs, as the kernel driver lists them in
 * /proc/driver/nvidia/gpus/<PCI bus id>/information, so the policy's GPU indexes and
 * UUIDs can be checked before anything is set up.  Index = position in PCI bus order,
 * as nvidia-smi numbers them. */
#ifndef VGPU_GPUS_H
#define VGPU_GPUS_H

#include "policy/policy.h"

/* Dies with one line when the policy names a GPU this machine does not have. */
void gpus_check_policy(const struct policy *p);

#endif

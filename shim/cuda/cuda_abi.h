/* The CUDA driver API's ABI for the shim: the same header as the emulator's (one
 * description of the interface, written from NVIDIA's documentation), so the two
 * cannot drift apart.  EMU_API there is the emulator's; the shim uses SHIM_API. */
#ifndef VGPU_SHIM_CUDA_ABI_H
#define VGPU_SHIM_CUDA_ABI_H

#include "emulator/include/cuda_abi.h"

#endif

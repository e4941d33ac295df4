/* The CUDA shim's state, for the files of shim/cuda. */
#ifndef VGPU_SHIM_CUDA_H
#define VGPU_SHIM_CUDA_H

#include "shim/common/shim.h"

SHIM_HIDDEN extern struct shim_lib shim_cuda;

#endif

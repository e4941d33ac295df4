/* The CUDA driver API as the shim needs it: the types and codes of the functions it
 * defines itself.  Written from NVIDIA's published documentation (the numbers are the
 * interface); the shim does not build against the toolkit's cuda.h, which renames
 * functions with macros.  Append what an interception needs. */
#ifndef VGPU_SHIM_CUDA_ABI_H
#define VGPU_SHIM_CUDA_ABI_H

#include <stdint.h>

typedef int CUresult;
typedef uint64_t cuuint64_t;
/* CUdriverProcAddressQueryResult */
typedef int CUdriverProcAddressQueryResult;

enum {
	CUDA_SUCCESS = 0,
	CUDA_ERROR_INVALID_VALUE = 1,
	CUDA_ERROR_OUT_OF_MEMORY = 2,
	CUDA_ERROR_NOT_INITIALIZED = 3,
	CUDA_ERROR_DEINITIALIZED = 4,
	CUDA_ERROR_NO_DEVICE = 100,
	CUDA_ERROR_INVALID_DEVICE = 101,
	CUDA_ERROR_NOT_FOUND = 500,
	CUDA_ERROR_NOT_SUPPORTED = 801,
	CUDA_ERROR_UNKNOWN = 999,
};

/* CUdriverProcAddressQueryResult */
enum {
	CU_GET_PROC_ADDRESS_SUCCESS = 0,
	CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND = 1,
	CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT = 2,
};

#endif

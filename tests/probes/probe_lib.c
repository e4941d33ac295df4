/* A stand-in for a GPU driver library, for the launcher tests.
 *
 * One source is built six times (build.zig): as our shim, as the emulator and as "the
 * NVIDIA driver", each with its own PROBE_IDENTITY ("shim-cuda", "driver-nvml", ...).
 * A test that loads libcuda.so.1 in some process asks vgpu_probe_identity() which of
 * them it got.  The CUDA and NVML entry points are here only so that the files look
 * like what they stand for (the launcher's discovery and Ollama-style dlsym probing);
 * each answers with a fixed, recognizable code and touches nothing.
 */
#include <stddef.h>
#include <string.h>

#ifndef PROBE_IDENTITY
#error "build with -DPROBE_IDENTITY=\"name\""
#endif

#define EXPORT __attribute__((visibility("default")))

/* Codes the probes return, chosen to be unmistakable in a test log. */
#define PROBE_CU_SUCCESS 0
#define PROBE_CU_NOT_FOUND 500          /* CUDA_ERROR_NOT_FOUND */
#define PROBE_DRIVER_VERSION 58001      /* what cuDriverGetVersion reports */
#define PROBE_NVML_SUCCESS 0
#define PROBE_NVML_INSUFFICIENT_SIZE 7  /* NVML_ERROR_INSUFFICIENT_SIZE */
#define PROBE_NVML_INVALID_ARGUMENT 2   /* NVML_ERROR_INVALID_ARGUMENT */

EXPORT const char *vgpu_probe_identity(void)
{
	return PROBE_IDENTITY;
}

/* --- CUDA driver API ---------------------------------------------------------------- */

EXPORT int cuInit(unsigned flags)
{
	return PROBE_CU_SUCCESS;
}

EXPORT int cuDriverGetVersion(int *version)
{
	if (version == NULL)
		return 1; /* CUDA_ERROR_INVALID_VALUE */
	*version = PROBE_DRIVER_VERSION;
	return PROBE_CU_SUCCESS;
}

EXPORT int cuGetProcAddress(const char *symbol, void **pfn, int version, unsigned long long flags)
{
	if (pfn != NULL)
		*pfn = NULL;
	return PROBE_CU_NOT_FOUND;
}

EXPORT int cuGetProcAddress_v2(const char *symbol, void **pfn, int version, unsigned long long flags,
			       int *status)
{
	if (pfn != NULL)
		*pfn = NULL;
	if (status != NULL)
		*status = 1; /* CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND */
	return PROBE_CU_NOT_FOUND;
}

EXPORT int cuGetExportTable(const void **table, const void *id)
{
	if (table != NULL)
		*table = NULL;
	return PROBE_CU_NOT_FOUND;
}

/* --- NVML ----------------------------------------------------------------------------- */

EXPORT int nvmlInit_v2(void)
{
	return PROBE_NVML_SUCCESS;
}

EXPORT int nvmlShutdown(void)
{
	return PROBE_NVML_SUCCESS;
}

/* Writes "580.0.1 (IDENTITY)", so that even an NVML client tells which library it got. */
EXPORT int nvmlSystemGetDriverVersion(char *version, unsigned length)
{
	static const char text[] = "580.0.1 (" PROBE_IDENTITY ")";

	if (version == NULL)
		return PROBE_NVML_INVALID_ARGUMENT;
	if (length < sizeof text)
		return PROBE_NVML_INSUFFICIENT_SIZE;
	memcpy(version, text, sizeof text);
	return PROBE_NVML_SUCCESS;
}

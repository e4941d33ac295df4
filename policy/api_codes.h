/* The status codes of the two APIs by name: CUresult (CUDA_SUCCESS, CUDA_ERROR_...)
 * and nvmlReturn_t (NVML_SUCCESS, NVML_ERROR_...), as NVIDIA's headers name them.
 * For the trace's "result" (shim) and for fault specs (policy). */
#ifndef VGPU_POLICY_API_CODES_H
#define VGPU_POLICY_API_CODES_H

enum api_kind { API_CUDA, API_NVML };

struct api_code {
	int code;
	const char *name;
};

/* The name of a code, or NULL when the API has no such code. */
const char *api_code_name(enum api_kind api, int code);
/* The code of a name: 0 and *code set, or -1. */
int api_code_parse(enum api_kind api, const char *name, int *code);

#endif

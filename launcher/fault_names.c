#include "launcher/fault_names.h"

#include <stdio.h>

#include "policy/api_codes.h"

extern const char *const vgpu_cuda_names[];
extern const char *const vgpu_nvml_names[];

int fault_names_check(const struct policy_fault *f, char *err, size_t errlen)
{
	if (f->kind != POLICY_FAULT_ERROR && f->kind != POLICY_FAULT_SLOW)
		return 0;
	const char *const *names = f->api == API_NVML ? vgpu_nvml_names : vgpu_cuda_names;
	for (const char *const *n = names; *n; n++)
		if (policy_glob_match(f->function, *n))
			return 0;
	snprintf(err, errlen, "'%s' matches no function %s exports", f->function,
		 f->api == API_NVML ? "libnvidia-ml.so.1" : "libcuda.so.1");
	return -1;
}

/* libcuda.so.1, the shim: its start-up and error mode.  Every exported name is a
 * generated forwarder to the lower driver (tools/gen_forwarders.c) unless a file of
 * shim/cuda defines it (procaddr.c: cuGetProcAddress, cuGetProcAddress_v2). */
#include <stddef.h>

#include "policy/api_codes.h"
#include "shim/common/shim.h"
#include "shim/cuda/cuda_abi.h"
#include "shim/cuda/shim_cuda.h"

SHIM_HIDDEN extern struct shim_forwarding vgpu_cuda_forwarding;

/* Error mode's functions: called through the table with any arguments, they read
 * none.  An int in %eax is what every CUresult-returning caller reads. */
static int not_initialized(void)
{
	return CUDA_ERROR_NOT_INITIALIZED;
}

static int not_supported(void)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}

/* cuGetErrorName / cuGetErrorString work before cuInit on the real driver, and
 * programs print what they return without checking: in error mode they answer for
 * the codes the shim returns (and a few common ones), NULL and CUDA_ERROR_INVALID_VALUE
 * for the rest, as the real driver does for an unknown code. */
static const struct {
	CUresult code;
	const char *name, *text;
} known[] = {
	{ CUDA_SUCCESS, "CUDA_SUCCESS", "no error" },
	{ CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument" },
	{ CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory" },
	{ CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error" },
	{ CUDA_ERROR_DEINITIALIZED, "CUDA_ERROR_DEINITIALIZED", "driver shutting down" },
	{ CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected" },
	{ CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal" },
	{ CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found" },
	{ CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported" },
	{ CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error" },
};

static CUresult error_text(CUresult code, const char **out, int name)
{
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		if (known[i].code == code) {
			*out = name ? known[i].name : known[i].text;
			return CUDA_SUCCESS;
		}
	}
	*out = NULL;
	return CUDA_ERROR_INVALID_VALUE;
}

static CUresult error_mode_get_error_name(CUresult code, const char **name)
{
	return error_text(code, name, 1);
}

static CUresult error_mode_get_error_string(CUresult code, const char **text)
{
	return error_text(code, text, 0);
}

static const struct shim_error_override overrides[] = {
	{ "cuGetErrorName", (void *)error_mode_get_error_name },
	{ "cuGetErrorString", (void *)error_mode_get_error_string },
	{ NULL, NULL },
};

static const char *result_name(int code)
{
	return api_code_name(API_CUDA, code);
}

/* The debugger's entry points return no CUresult. */
static const char *const no_status[] = { "cudbg", NULL };

SHIM_HIDDEN struct shim_lib shim_cuda = {
	.soname = "libcuda.so.1",
	.api = "CUDA",
	.uninit_text = "CUDA_ERROR_NOT_INITIALIZED (3)",
	.unsupported_text = "CUDA_ERROR_NOT_SUPPORTED (801)",
	.uninit_fn = (void *)not_initialized,
	.unsupported_fn = (void *)not_supported,
	.overrides = overrides,
	.fwd = &vgpu_cuda_forwarding,
	.hook = { .tag = "cuda", .api = API_CUDA, .result_name = result_name, .no_status = no_status },
	SHIM_LIB_INIT,
};

/* The lazy stubs' way in (tools/gen_forwarders.c). */
SHIM_HIDDEN void *vgpu_cuda_resolve(unsigned slot)
{
	return shim_resolve(&shim_cuda, slot);
}

/* The hook thunks' way in (tools/gen_forwarders.c, shim/common/hook.c). */
SHIM_HIDDEN struct hook_go vgpu_cuda_hook_enter(unsigned slot, void **where)
{
	return hook_enter(&shim_cuda, slot, where);
}

SHIM_HIDDEN void *vgpu_cuda_hook_exit(int64_t result, void **landing_sp)
{
	return hook_exit(&shim_cuda, result, landing_sp);
}

/* Start-up at load time: the cost lands where loading the real driver's would, and
 * forwarded calls never test anything.  A call that comes first starts up itself. */
__attribute__((constructor)) static void shim_cuda_load(void)
{
	shim_ensure(&shim_cuda);
}

/* At exit (or unload): the trace's buffered records written. */
__attribute__((destructor)) static void shim_cuda_unload(void)
{
	hook_process_exit(&shim_cuda);
}

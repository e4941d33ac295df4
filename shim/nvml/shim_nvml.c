/* libnvidia-ml.so.1, the shim: its start-up and error mode.  Every exported name is a
 * generated forwarder to the lower NVML (tools/gen_forwarders.c) unless a file of
 * shim/nvml defines it. */
#include <stddef.h>

#include "policy/api_codes.h"
#include "shim/common/shim.h"

SHIM_HIDDEN extern struct shim_forwarding vgpu_nvml_forwarding;

typedef int nvmlReturn_t;

enum {
	NVML_SUCCESS = 0,
	NVML_ERROR_UNINITIALIZED = 1,
	NVML_ERROR_INVALID_ARGUMENT = 2,
	NVML_ERROR_NOT_SUPPORTED = 3,
	NVML_ERROR_NOT_FOUND = 6,
	NVML_ERROR_UNKNOWN = 999,
};

/* Error mode's functions: called through the table with any arguments, they read
 * none; an int in %eax is what every nvmlReturn_t-returning caller reads. */
static int not_initialized(void)
{
	return NVML_ERROR_UNINITIALIZED;
}

static int not_supported(void)
{
	return NVML_ERROR_NOT_SUPPORTED;
}

/* nvmlErrorString returns a pointer, which callers print: error mode answers it with
 * text, never with an int. */
static const char *error_mode_error_string(nvmlReturn_t code)
{
	switch (code) {
	case NVML_SUCCESS: return "Success";
	case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
	case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
	case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
	case NVML_ERROR_NOT_FOUND: return "Not Found";
	default: return "Unknown Error";
	}
}

static const struct shim_error_override overrides[] = {
	{ "nvmlErrorString", (void *)error_mode_error_string },
	{ NULL, NULL },
};

static const char *result_name(int code)
{
	return api_code_name(API_NVML, code);
}

/* nvmlErrorString returns text, not a status. */
static const char *const no_status[] = { "nvmlErrorString", NULL };

SHIM_HIDDEN struct shim_lib shim_nvml = {
	.soname = "libnvidia-ml.so.1",
	.api = "NVML",
	.uninit_text = "NVML_ERROR_UNINITIALIZED (1)",
	.unsupported_text = "NVML_ERROR_NOT_SUPPORTED (3)",
	.uninit_fn = (void *)not_initialized,
	.unsupported_fn = (void *)not_supported,
	.overrides = overrides,
	.fwd = &vgpu_nvml_forwarding,
	.hook = { .tag = "nvml", .api = API_NVML, .result_name = result_name, .no_status = no_status },
	SHIM_LIB_INIT,
};

/* The lazy stubs' way in (tools/gen_forwarders.c). */
SHIM_HIDDEN void *vgpu_nvml_resolve(unsigned slot)
{
	return shim_resolve(&shim_nvml, slot);
}

/* The hook thunks' way in (tools/gen_forwarders.c, shim/common/hook.c). */
SHIM_HIDDEN struct hook_go vgpu_nvml_hook_enter(unsigned slot, void **where)
{
	return hook_enter(&shim_nvml, slot, where);
}

SHIM_HIDDEN void *vgpu_nvml_hook_exit(int64_t result, void **landing_sp)
{
	return hook_exit(&shim_nvml, result, landing_sp);
}

/* Start-up at load time, as for libcuda (shim/cuda/shim_cuda.c). */
__attribute__((constructor)) static void shim_nvml_load(void)
{
	shim_ensure(&shim_nvml);
}

/* At exit (or unload): the trace's buffered records written. */
__attribute__((destructor)) static void shim_nvml_unload(void)
{
	hook_process_exit(&shim_nvml);
}

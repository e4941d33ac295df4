/* cuGetExportTable: the private tables NVIDIA's libcudart asks the driver for
 * (cudart-on-a-software-driver.md section 3), with what cudart calls filled in and
 * every other slot answering CUDA_ERROR_NOT_SUPPORTED.  The tables are static: their
 * addresses are part of the integrity hash (section 4). */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "emulator/cuda/core.h"
#include "emulator/cuda/md2.h"

typedef void (*slot_fn)(void);
#define SLOT(f) ((const void *)(slot_fn)(f))

static CUresult slot_unsupported(void)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}

/* --- CUDART_INTERFACE ----------------------------------------------------------------- */

/* cuModuleLoadData of the memory part (or its stub): the exported function. */
extern CUresult cuModuleLoadData(CUmodule *module, const void *image);

/* nvcc's fatbin wrapper: {magic, version, fatbin, ...}. */
struct fatbin_wrapper {
	uint32_t magic, version;
	const void *data;
	const void *unused;
};
#define FATBIN_WRAPPER_MAGIC 0x466243b1u

static const void *wrapped(const void *p)
{
	const struct fatbin_wrapper *w = p;
	return w && w->magic == FATBIN_WRAPPER_MAGIC ? w->data : p;
}

/* [1]: load a module from a fatbin wrapper (runtimes of the CUDA 11 era). */
static CUresult cudart_load_wrapper(CUmodule *out, const void *wrapper)
{
	if (!out || !wrapper)
		return CUDA_ERROR_INVALID_VALUE;
	return cuModuleLoadData(out, wrapped(wrapper));
}

/* [2]: the device's primary context, neither retained nor made current. */
static CUresult cudart_primary_context(CUcontext *out, CUdevice dev)
{
	return emu_primary_context(dev, out);
}

/* [6]: as [1] with options nobody was seen to pass. */
static CUresult cudart_load_wrapper_ex(CUmodule *out, const void *wrapper, void *a, void *b,
				       unsigned n)
{
	if (a || b || n)
		return CUDA_ERROR_NOT_SUPPORTED;
	return cudart_load_wrapper(out, wrapper);
}

static void cudart_noop(size_t n)
{
}

/* [8]: from the fatbin itself. */
static CUresult cudart_load_fatbin(const void *fatbin, CUmodule *out, void *a, void *b,
				   unsigned n)
{
	if (!out || !fatbin)
		return CUDA_ERROR_INVALID_VALUE;
	if (a || b || n)
		return CUDA_ERROR_NOT_SUPPORTED;
	return cuModuleLoadData(out, fatbin);
}

static CUresult cudart_load_compilers(void)
{
	return CUDA_SUCCESS;
}

static const void *const cudart_interface[13] = {
	(const void *)(uintptr_t)(13 * sizeof(void *)),
	SLOT(cudart_load_wrapper),
	SLOT(cudart_primary_context),
	SLOT(slot_unsupported),
	SLOT(slot_unsupported),
	SLOT(slot_unsupported),
	SLOT(cudart_load_wrapper_ex),
	SLOT(cudart_noop),
	SLOT(cudart_load_fatbin),
	SLOT(slot_unsupported),
	NULL,
	SLOT(slot_unsupported),
	SLOT(cudart_load_compilers),
};

/* --- TOOLS_RUNTIME_CALLBACK_HOOKS -------------------------------------------------------- */

/* Zero-filled, never freed; the element size is unknown, so 64 bytes each. */
static uint64_t hooks_buffer_a[1024 * 8];
static uint64_t hooks_buffer_b[14 * 8];

static void hooks_get_a(void **buffer, size_t *count)
{
	if (buffer)
		*buffer = hooks_buffer_a;
	if (count)
		*count = 1024;
}

static void hooks_get_b(void **buffer, size_t *count)
{
	if (buffer)
		*buffer = hooks_buffer_b;
	if (count)
		*count = 14;
}

static const void *const tools_hooks[7] = {
	(const void *)(uintptr_t)(7 * sizeof(void *)), /* cudart wants >= 56 */
	SLOT(slot_unsupported),
	SLOT(hooks_get_a),
	SLOT(slot_unsupported),
	SLOT(slot_unsupported),
	SLOT(slot_unsupported),
	SLOT(hooks_get_b),
};

/* --- TOOLS_TLS, the f8cff951 table ------------------------------------------------------ */

static const void *const tools_tls[3] = {
	(const void *)(uintptr_t)(3 * sizeof(void *)),
	SLOT(slot_unsupported),
	SLOT(slot_unsupported),
};

static const void *const table_f8cff951[3] = {
	(const void *)(uintptr_t)(3 * sizeof(void *)),
	SLOT(slot_unsupported),
	SLOT(slot_unsupported),
};

/* --- CONTEXT_LOCAL_STORAGE_V0301 (no size slot) ----------------------------------------- */

static const void *const context_local_storage[4] = {
	SLOT(emu_cls_put),
	SLOT(emu_cls_delete),
	SLOT(emu_cls_get),
	NULL,
};

/* --- CONTEXT_CHECKS ------------------------------------------------------------------------ */

static CUresult checks_context(CUcontext ctx, uint32_t *flags, void **ptr)
{
	if (flags)
		*flags = 0;
	return CUDA_SUCCESS;
}

static uint32_t checks_zero(void)
{
	return 0;
}

static const void *const context_checks[15] = {
	(const void *)(uintptr_t)(15 * sizeof(void *)),
	SLOT(slot_unsupported),
	SLOT(checks_context),
	SLOT(checks_zero),
	SLOT(slot_unsupported), SLOT(slot_unsupported), SLOT(slot_unsupported),
	SLOT(slot_unsupported), SLOT(slot_unsupported), SLOT(slot_unsupported),
	SLOT(slot_unsupported), SLOT(slot_unsupported), SLOT(slot_unsupported),
	SLOT(slot_unsupported), SLOT(slot_unsupported),
};

/* --- INTEGRITY_CHECK ------------------------------------------------------------------------ */

static CUresult integrity_check(uint32_t version, uint64_t unix_seconds, uint64_t out[2]);

static const void *const integrity[3] = {
	(const void *)(uintptr_t)(3 * sizeof(void *)),
	SLOT(integrity_check),
	SLOT(slot_unsupported),
};

static CUresult integrity_check(uint32_t version, uint64_t unix_seconds, uint64_t out[2])
{
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	/* The devices as cudart enumerates them: the visible ones, in ordinal order. */
	struct integrity_device devs[EMU_MAX_DEVICES];
	unsigned n = emu_device_count();
	for (unsigned i = 0; i < n; i++) {
		const struct emu_device_config *d = emu_device((int)i);
		memcpy(devs[i].uuid, d->uuid, 16);
		devs[i].pci_domain = d->pci_domain;
		devs[i].pci_bus = d->pci_bus;
		devs[i].pci_device = d->pci_device;
	}
	integrity_digest(emu_config()->driver_version, version, (uint32_t)getpid(),
			 (uint32_t)(uintptr_t)pthread_self(), (uint64_t)(uintptr_t)cudart_interface,
			 (uint64_t)(uintptr_t)integrity, (uint64_t)(uintptr_t)integrity[1],
			 unix_seconds, devs, n, out);
	return CUDA_SUCCESS;
}

/* --- the directory ------------------------------------------------------------------------ */

static const struct {
	uint8_t id[16];
	const void *table;
} tables[] = {
	{{0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9},
	 cudart_interface},
	{{0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74, 0x93, 0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a, 0x66},
	 tools_hooks},
	{{0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc},
	 tools_tls},
	{{0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11, 0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93},
	 context_local_storage},
	{{0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43, 0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa, 0x7e},
	 context_checks},
	{{0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b, 0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2},
	 integrity},
	{{0xf8, 0xcf, 0xf9, 0x51, 0x21, 0x46, 0x8b, 0x4e, 0xb9, 0xe2, 0xfb, 0x46, 0x9e, 0x7c, 0x0d, 0xd9},
	 table_f8cff951},
};

EMU_API CUresult cuGetExportTable(const void **ppExportTable, const CUuuid *pExportTableId)
{
	if (!ppExportTable || !pExportTableId)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		if (memcmp(tables[i].id, pExportTableId->bytes, 16) == 0) {
			*ppExportTable = tables[i].table;
			return CUDA_SUCCESS;
		}
	}
	*ppExportTable = NULL;
	return CUDA_ERROR_INVALID_VALUE;
}

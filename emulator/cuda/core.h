/* Shared by the files of the CUDA core (init.c, device.c, context.c, procaddr.c,
 * export_tables.c); the memory part uses emu.h only. */
#ifndef VGPU_EMU_CORE_H
#define VGPU_EMU_CORE_H

#include <pthread.h>

#include "emulator/cuda/emu.h"

/* context.c: sets up the primary contexts (cuInit, once, under its lock). */
void emu_contexts_init(void);
/* The device's primary context handle: exists from cuInit on, retained or not. */
CUresult emu_primary_context(CUdevice dev, CUcontext *out);

/* Context-local storage (the CLS export table): ctx NULL = the calling thread's current
 * context.  Destructors run when the context is reset, released to zero or destroyed. */
typedef void (*emu_cls_dtor)(CUcontext ctx, void *key, void *value);
CUresult emu_cls_put(CUcontext ctx, void *key, void *value, emu_cls_dtor dtor);
CUresult emu_cls_delete(CUcontext ctx, void *key);
CUresult emu_cls_get(void **value, CUcontext ctx, void *key);

/* device.c: CUDA_SUCCESS when cuInit ran and dev is a valid ordinal. */
CUresult emu_device_check(CUdevice dev);

#endif

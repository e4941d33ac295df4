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

/* device.c: the devices CUDA_VISIBLE_DEVICES selects among the configured ones (cvd
 * NULL: unset, all of them), as NVIDIA's driver reads it: writes their configuration
 * indexes to out in enumeration order and returns how many, or EMU_VISIBLE_REPEAT when
 * a device is named twice (cuInit: CUDA_ERROR_INVALID_DEVICE).  Pure: no state. */
#define EMU_VISIBLE_REPEAT (-1)
int emu_visible_parse(const char *cvd, const struct emu_config *c, unsigned out[EMU_MAX_DEVICES]);
/* device.c: called once by cuInit (under its lock): fixes the process's devices from
 * CUDA_VISIBLE_DEVICES; returns how many there are (0: no device) or
 * EMU_VISIBLE_REPEAT. */
int emu_devices_init(void);

#endif

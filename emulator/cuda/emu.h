/* Internal interface between the parts of the CUDA side of the emulator.
 *
 * core   (init.c, device.c, context.c, procaddr.c, export_tables.c, ...): cuInit,
 *        versions, devices, contexts (primary and ordinary, the per-thread stack,
 *        context-local storage), cuGetProcAddress, cuGetExportTable.
 * memory (memory.c, copy.c, stream.c, event.c, vmm.c, pool.c, module.c, ...): the
 *        address space, allocations, copies, memset, streams, events, modules and
 *        libraries, launches.
 * Each side implements what it declares here and calls only what the other declares. */
#ifndef VGPU_EMU_H
#define VGPU_EMU_H

#include "emulator/common/config.h"
#include "emulator/include/cuda_abi.h"

/* --- implemented by core --------------------------------------------------------- */

/* CUDA_SUCCESS once cuInit succeeded in this process, else CUDA_ERROR_NOT_INITIALIZED
 * (or the configuration's error as CUDA_ERROR_INVALID_VALUE... see core). */
CUresult emu_check_init(void);

/* Number of devices this process sees (0 before cuInit); a valid ordinal's
 * configuration (NULL when out of range).  Ordinals are this process's: with
 * CUDA_VISIBLE_DEVICES set, ordinal j is the j-th device it selects. */
unsigned emu_device_count(void);
const struct emu_device_config *emu_device(int ordinal);
/* The configuration index of a valid ordinal (-1 when out of range): what names the
 * device outside this process (emulator-state, NVML), whatever its CUDA_VISIBLE_DEVICES. */
int emu_device_config_index(int ordinal);

/* The calling thread's current context: *out set and CUDA_SUCCESS, or
 * CUDA_ERROR_INVALID_CONTEXT when there is none (and NOT_INITIALIZED before cuInit). */
CUresult emu_context_current(CUcontext *out);
/* A handle the application passed: CUDA_SUCCESS when it is a live context. */
CUresult emu_context_check(CUcontext ctx);
/* The device ordinal a (checked) context belongs to. */
int emu_context_device(CUcontext ctx);
/* Changes (atomically, with release) whenever a context stops being live: a primary
 * released to zero or reset, an ordinary one destroyed.  A context found live while it
 * had one value is still live while it has it.  Starts at 1. */
extern uint64_t emu_context_gen;

/* --- implemented by memory ------------------------------------------------------- */

/* Called by core when a context is destroyed or a primary context reset or released
 * to zero: free everything the context owns (allocations, streams, events, modules). */
void emu_memory_context_gone(CUcontext ctx);

/* Optional (core calls it when it is linked in): the calling thread's current context
 * may have changed (its stack was pushed, popped or its top replaced). */
void emu_memory_current_changed(void);

/* Optional (core calls it when it is linked in, else treats the context as idle):
 * cuCtxSynchronize(_v2) on a (checked) context: wait until all work queued in it is
 * done; returns what the first failed piece of work returned, else CUDA_SUCCESS. */
CUresult emu_memory_context_synchronize(CUcontext ctx);

#endif

/* Memory in use on each emulated GPU, shared by the CUDA and NVML sides of the emulator
 * and by every process of a sandbox: a small file mapped MAP_SHARED in the runtime dir
 * ("emulator-state") when there is one, else memory of this process only. */
#ifndef VGPU_EMU_STATE_H
#define VGPU_EMU_STATE_H

#include <stdint.h>
#include <sys/types.h>

/* Adds delta (may be negative) to this process's used bytes of the device. */
void emu_state_add_used(unsigned device, int64_t delta);
/* Adds bytes unless the device's usage over all live processes would then exceed limit:
 * 0, or -1 (nothing added).  Cheap: liveness of other processes is remembered for up to
 * a millisecond (state.c), and checked again before a refusal. */
int emu_state_take(unsigned device, uint64_t bytes, uint64_t limit);
/* The device's used bytes over all live processes (each one's liveness asked now). */
uint64_t emu_state_used(unsigned device);

/* Processes using a device, for NVML's running-process queries: each process that
 * creates a context registers itself; entries of dead processes are ignored. */
void emu_state_register_process(unsigned device, uint64_t used_bytes);
/* Fills up to max (pid, used bytes) pairs; returns how many there are. */
unsigned emu_state_processes(unsigned device, pid_t *pids, uint64_t *used, unsigned max);

#endif

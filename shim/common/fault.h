/* Fault injection in the shim (docs/faults.md): the policy's rules decide, for each
 * call the hooks see, whether it fails and with which code, or how much slower it is;
 * oom-after refuses allocations in the memory accounting's path.  Counted over the whole
 * sandbox in the fault region (shim/common/fault_region.h). */
#ifndef VGPU_SHIM_FAULT_H
#define VGPU_SHIM_FAULT_H

#include <stddef.h>
#include <stdint.h>

struct shim_lib;

/* Start-up (with the policy's rules): maps RUNDIR/faults and marks the slots each rule
 * matches in l->hook.fault_mask.  0, or -1 with why (a damaged runtime dir). */
int fault_start(struct shim_lib *l, char *why, size_t whylen);

/* The rules that match a function of this library by name (a bit per rule). */
uint32_t fault_mask_for(const struct shim_lib *l, const char *name);

/* For a call of slot (rules mask, non-zero): 1 and *code when it must fail; *delay_ns
 * (added to) when a slow rule matches.  Counts the call for every rule it matches. */
int fault_decide(struct shim_lib *l, uint32_t mask, int *code, uint64_t *delay_ns);

/* oom-after: 0 when bytes more stay within the limit (and are counted), -1 when the
 * allocation must fail; release gives bytes back.  Both do nothing without the rule. */
int fault_oom_reserve(struct shim_lib *l, uint64_t bytes);
void fault_oom_release(struct shim_lib *l, uint64_t bytes);

#endif

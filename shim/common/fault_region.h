/* The fault region: one file in the runtime dir (RUNDIR/faults), mapped MAP_SHARED by
 * every process of a sandbox whose policy has fault rules, so that "the 3rd call" and
 * "after 1s" mean the same for the whole process tree (docs/faults.md).
 *
 * The launcher creates it (zero-filled, FAULT_REGION_SIZE bytes) and writes the header,
 * with the sandbox's start time; the shim owns the counters.  All words after the
 * header are accessed with __atomic builtins only. */
#ifndef VGPU_FAULT_REGION_H
#define VGPU_FAULT_REGION_H

#include <stdint.h>

#define FAULT_FILE "faults"
#define FAULT_MAGIC 0x746c756166757067ull /* "gpufault" */
#define FAULT_VERSION 1u
#define FAULT_MAX_RULES 16u
#define FAULT_REGION_SIZE 4096u

/* One cache line per rule: processes counting different rules do not contend. */
struct fault_rule_state {
	uint64_t calls;        /* matching calls so far, in the whole sandbox */
	uint64_t fired;        /* how many of them failed */
	uint64_t spare[6];
};

struct fault_region {
	uint64_t magic;
	uint32_t version;
	uint32_t nrules;       /* the policy's */
	int64_t start_ns;      /* CLOCK_MONOTONIC when the launcher made the sandbox */
	uint64_t oom_used;     /* bytes allocated and not freed, under oom-after */
	uint64_t spare[4];
	struct fault_rule_state rule[FAULT_MAX_RULES]; /* at 64 */
};

#endif

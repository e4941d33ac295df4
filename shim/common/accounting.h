/* The shared accounting region: one file in the runtime dir, mapped MAP_SHARED by
 * every process of a sandbox, so memory caps hold for the whole process tree.
 *
 * The launcher creates it (zero-filled, ACCOUNTING_REGION_SIZE bytes) and writes the
 * header; the shim (shim issue) owns everything after the header.  A shim that finds
 * another magic or version refuses to start rather than guess. */
#ifndef VGPU_ACCOUNTING_H
#define VGPU_ACCOUNTING_H

#include <stdint.h>

#define ACCOUNTING_FILE "accounting"
#define ACCOUNTING_MAGIC 0x7367707576616363ull /* "ccavupgs": vgpu accounting */
#define ACCOUNTING_VERSION 1u
/* Room for the header, per-GPU totals and per-process shares of a few thousand
 * processes; tmpfs commits only the pages that are touched. */
#define ACCOUNTING_REGION_SIZE (1u << 20)

struct accounting_header {
	uint64_t magic;
	uint32_t version;
	uint32_t ngpus;        /* the policy's GPUs (0: every physical GPU) */
	uint64_t region_size;  /* ACCOUNTING_REGION_SIZE when written */
};

#endif

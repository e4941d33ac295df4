/* The shared accounting region: one file in the runtime dir, mapped MAP_SHARED by
 * every process of a sandbox, so memory caps hold for the whole process tree.
 *
 * The launcher creates it (zero-filled, ACCOUNTING_REGION_SIZE bytes) and writes the
 * header; the shim (shim issue) owns everything after the header.  A shim that finds
 * another magic or version refuses to start rather than guess. */
#ifndef VGPU_ACCOUNTING_H
#define VGPU_ACCOUNTING_H

#include <stddef.h>
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

/* --- after the header: the memory caps (docs/accounting.md) ------------------------
 *
 * Everything below is valid when zero-filled (the launcher's ftruncate), so the launcher
 * writes nothing but the header.  All words are accessed with __atomic builtins only,
 * from every process of the sandbox at once; no locks, no system calls on the hot path
 * (reserve, release). */

#define ACCOUNTING_MAX_GPUS 16u

/* A slot's key: one 64-bit word, so claiming and reclaiming are single CASes.
 *   bits 63..62  state: 0 free, 1 active (owned by a live or not yet reclaimed process),
 *                2 reclaiming (one reclaimer is subtracting its bytes)
 *   bits 61..22  the owner's start time (/proc/PID/stat field 22, clock ticks since
 *                boot), low 40 bits (348 years of uptime at USER_HZ 100)
 *   bits 21..0   the owner's pid (pid_max is at most 2^22) */
#define ACCOUNTING_SLOT_FREE 0ull
#define ACCOUNTING_SLOT_ACTIVE 1ull
#define ACCOUNTING_SLOT_RECLAIMING 2ull
#define ACCOUNTING_KEY_STATE(k) ((k) >> 62)
#define ACCOUNTING_KEY_PID(k) ((uint32_t)((k) & ((1ull << 22) - 1)))
#define ACCOUNTING_KEY_START(k) (((k) >> 22) & ((1ull << 40) - 1))
#define ACCOUNTING_KEY(state, pid, start)                                                 \
	(((uint64_t)(state) << 62) | (((uint64_t)(start) & ((1ull << 40) - 1)) << 22) |   \
	 ((uint64_t)(pid) & ((1ull << 22) - 1)))

/* One cache line per GPU total: processes reserving on different GPUs do not contend. */
struct accounting_gpu {
	uint64_t used;         /* bytes reserved on this virtual GPU by the whole sandbox */
	/* A cap given as a percent of the physical GPU, in bytes, as the first process
	 * that resolved it computed it (0: not yet): one figure for the whole sandbox,
	 * whether CUDA's or NVML's total was at hand (they differ by the driver's reserve). */
	uint64_t cap_resolved;
	uint64_t spare[6];
};

/* One process's share.  Only the owner adds to bytes[]; the owner and (after its death)
 * one reclaimer subtract. */
struct accounting_slot {
	uint64_t key;          /* ACCOUNTING_KEY(...) or 0 */
	uint64_t bytes[ACCOUNTING_MAX_GPUS];
	uint64_t spare[7];     /* 192 bytes: three cache lines */
};

struct accounting_region {
	struct accounting_header header;                  /*    0: the launcher's */
	uint8_t spare0[64 - sizeof(struct accounting_header)];
	uint32_t slot_hwm;     /*   64: slots [0, slot_hwm) have ever been claimed */
	uint8_t spare1[60];
	struct accounting_gpu gpu[ACCOUNTING_MAX_GPUS];   /*  128 */
	struct accounting_slot slot[];                    /* 1152 */
};

#define ACCOUNTING_SLOTS_OFFSET 1152u
#define ACCOUNTING_NSLOTS(region_size)                                                    \
	(((region_size) - ACCOUNTING_SLOTS_OFFSET) / sizeof(struct accounting_slot))

/* One process's view of the region (not shared). */
struct accounting {
	struct accounting_region *r;
	size_t size;           /* the mapping's length */
	uint32_t nslots;
	int mapped;            /* accounting_open mapped it: accounting_close unmaps */
	uint64_t self;         /* (fork generation << 32) | the slot's offset in the region,
				  0: none yet */
	uint64_t last_reclaim_ns; /* CLOCK_MONOTONIC of reserve's last reclaim walk */
};

/* Map the region at path read-write, shared, after checking the launcher's header
 * (magic, version, region_size = the file's size).  0, or -1 with a reason in err. */
int accounting_open(struct accounting *a, const char *path, char *err, size_t errlen);
/* The same from an open fd (not closed). */
int accounting_map_fd(struct accounting *a, int fd, const char *name, char *err, size_t errlen);
/* Use a region the caller already mapped MAP_SHARED and checked (the shim's start-up):
 * size is the mapping's length.  0, or -1 when it is too small to hold any slot. */
int accounting_attach(struct accounting *a, void *map, size_t size);
void accounting_close(struct accounting *a);

/* --- reserve and release: inline, they are on every allocation's and free's path ----
 * (docs/performance.md, the shim's allocation pair).  What they call out of line is
 * accounting.c's: first use in a process, a race lost to another thread or process,
 * the cap reached, warnings. */

/* Bumped in a child after fork: a slot claimed under another generation is the
 * parent's.  Never 0.  Hidden: read with one instruction, not through the GOT. */
extern __attribute__((visibility("hidden"))) uint32_t accounting_fork_generation;
/* The slow path of accounting_self: claim a slot (first use, or first since a fork). */
struct accounting_slot *accounting_claim_self(struct accounting *a, uint64_t gen, uint64_t seen);
/* accounting_reserve when its one try failed: another thread or process changed the
 * total first, or the cap refuses (reclaim, try again).  s: this process's slot. */
int accounting_reserve_retry(struct accounting *a, struct accounting_slot *s, unsigned gpu,
			     uint64_t bytes, uint64_t cap);
/* accounting_sub_clamped when its one try failed: not that much left, or *p changed. */
uint64_t accounting_sub_clamped_retry(uint64_t *p, uint64_t v);
/* Says once on stderr what went wrong: 0 a release of more than this process holds,
 * 1 a total below the shares it holds. */
void accounting_warn(int what);

/* This process's slot, claimed on first use: two loads and one compare on the hot
 * path.  The generation is never 0, so a match is a slot claimed in this process. */
static inline struct accounting_slot *accounting_self(struct accounting *a)
{
	uint32_t gen = __atomic_load_n(&accounting_fork_generation, __ATOMIC_ACQUIRE);
	uint64_t s = __atomic_load_n(&a->self, __ATOMIC_ACQUIRE);
	if (__builtin_expect((uint32_t)(s >> 32) == gen, 1))
		return (struct accounting_slot *)((char *)a->r + (uint32_t)s);
	return accounting_claim_self(a, gen, s);
}

/* Subtract at most v from *p, never below zero; returns what was subtracted.  The
 * common case (that much is there, nobody changes *p at the same time) is one
 * compare-and-swap, without a loop. */
static inline uint64_t accounting_sub_clamped(uint64_t *p, uint64_t v)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
	if (__builtin_expect(cur >= v, 1) &&
	    __builtin_expect(__atomic_compare_exchange_n(p, &cur, cur - v, 0, __ATOMIC_ACQ_REL,
							 __ATOMIC_RELAXED), 1))
		return v;
	return accounting_sub_clamped_retry(p, v);
}

/* Reserve bytes on virtual GPU gpu BEFORE allocating them: 0 when the sandbox's total
 * stays <= cap (the total is raised and this process's share with it); -1 and nothing
 * changed when it would exceed cap (after one attempt to reclaim dead processes' shares,
 * at most one such walk a millisecond per process), when gpu >= ACCOUNTING_MAX_GPUS, or
 * when no process slot is left. */
static inline __attribute__((always_inline)) int
accounting_reserve(struct accounting *a, unsigned gpu, uint64_t bytes, uint64_t cap)
{
	struct accounting_region *r = a->r;
	if (!r || gpu >= ACCOUNTING_MAX_GPUS)
		return -1;
	struct accounting_slot *s = accounting_self(a);
	if (!s)
		return -1;
	uint64_t *used = &r->gpu[gpu].used;
	uint64_t cur = __atomic_load_n(used, __ATOMIC_RELAXED), next;
	/* The common case (room, and nobody changes the total at the same time) is one
	 * compare-and-swap, without a loop. */
	if (__builtin_expect(!__builtin_add_overflow(cur, bytes, &next) && next <= cap, 1) &&
	    __builtin_expect(__atomic_compare_exchange_n(used, &cur, next, 0, __ATOMIC_ACQ_REL,
							 __ATOMIC_RELAXED), 1)) {
		/* Total first, then the share: a process killed in between leaks these
		 * bytes on the safe side (counted, never over-subtracted). */
		__atomic_add_fetch(&s->bytes[gpu], bytes, __ATOMIC_RELAXED);
		return 0;
	}
	return accounting_reserve_retry(a, s, gpu, bytes, cap);
}

/* Give back bytes on gpu after a free (or a failed allocation).  Never more than this
 * process holds there: the excess is a caller bug, clamped and reported once on stderr. */
static inline __attribute__((always_inline)) void
accounting_release(struct accounting *a, unsigned gpu, uint64_t bytes)
{
	struct accounting_region *r = a->r;
	if (!r || gpu >= ACCOUNTING_MAX_GPUS || bytes == 0)
		return;
	struct accounting_slot *s = accounting_self(a);
	uint64_t take = s ? accounting_sub_clamped(&s->bytes[gpu], bytes) : 0;
	if (take < bytes)
		accounting_warn(0);
	/* Share first, then the total: the same safe side as reserve. */
	if (take && accounting_sub_clamped(&r->gpu[gpu].used, take) < take)
		accounting_warn(1);
}

/* The sandbox's total on gpu (0 for an index out of range). */
uint64_t accounting_used(const struct accounting *a, unsigned gpu);
/* What this process holds on gpu (0 before its first reservation). */
uint64_t accounting_mine(struct accounting *a, unsigned gpu);
/* Walk the claimed slots; each whose process is dead (gone, a zombie, or its pid now
 * another process's: other start time) has its bytes subtracted from the totals exactly
 * once and is freed.  Returns how many slots this call reclaimed.  Reads /proc: slow
 * path only (start-up, and reserve at the cap). */
int accounting_reclaim_dead(struct accounting *a);
/* Slots currently claimed (diagnostics, tests). */
unsigned accounting_slots_in_use(const struct accounting *a);
/* A process's start time (/proc/PID/stat field 22, low 40 bits), 0 when unreadable. */
uint64_t accounting_start_time(int pid);

#endif

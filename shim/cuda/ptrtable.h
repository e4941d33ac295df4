/* What this process holds through the shim's allocation calls: a key (a device pointer,
 * an array, a VMM handle, ...) -> (virtual GPU, bytes reserved, owning context) table,
 * so that a free gives back exactly what its allocation reserved (docs/accounting.md).
 *
 * Sharded open addressing: PTRTABLE_SHARDS independent tables, each with its own
 * spinlock, linear probing, backward-shift deletion (no tombstones) and its own growth.
 * A key's hash picks the shard and the slot, so threads working on different
 * allocations rarely meet on one lock, and no operation ever holds two locks.  A
 * critical section is a few probes, never a call out (no allocator call but the
 * growth's calloc, no system call), which is why a spinlock (yielding when it spins
 * long) beats a mutex here: an uncontended pair is two atomic instructions.
 *
 * The table is one process's: after fork the child calls ptrtable_forget_all (CUDA
 * does not survive fork; the child owns none of its parent's allocations). */
#ifndef VGPU_SHIM_PTRTABLE_H
#define VGPU_SHIM_PTRTABLE_H

#include <stddef.h>
#include <stdint.h>

/* What a key names.  The same number may be a key of two kinds (a VMM handle that
 * equals some device pointer): kind and key together are the identity. */
enum ptr_kind {
	PTR_FREE = 0,   /* an empty slot */
	PTR_DEVICE,     /* a device pointer: cuMemAlloc*, pitch, managed, async */
	PTR_ARRAY,      /* a CUarray */
	PTR_MIPMAP,     /* a CUmipmappedArray */
	PTR_HANDLE,     /* a CUmemGenericAllocationHandle; refs = handle references + mappings */
	PTR_MAPPING,    /* a cuMemMap at key: bytes = its size, owner = the handle mapped */
	PTR_CONTEXT,    /* a context's footprint */
	PTR_POOL,       /* a memory pool: vdev = its virtual GPU (PTR_NO_VDEV: host memory) */
};

#define PTR_NO_VDEV 0xffu

struct ptr_entry {
	uint64_t key;
	uint64_t bytes;  /* reserved in the accounting region (PTR_MAPPING: the mapped size) */
	uint64_t owner;  /* the context whose destruction frees it, 0 for none (PTR_MAPPING:
			    the handle; PTR_POOL: the CUDA ordinal of its device) */
	uint32_t refs;   /* PTR_HANDLE: references; unused elsewhere */
	uint8_t kind;    /* enum ptr_kind */
	uint8_t vdev;    /* the virtual GPU the bytes are reserved on */
	uint16_t spare;
};

#define PTRTABLE_SHARDS 64u

struct ptr_shard {
	int lock;                /* 0 free, 1 held */
	struct ptr_entry *slot;  /* cap entries, or NULL while cap is 0 */
	size_t cap;              /* 0 or a power of two */
	size_t n;                /* entries in use; kept <= cap / 2 */
} __attribute__((aligned(64)));  /* one cache line each: no false sharing of locks */

/* All zero is an empty table (static storage needs no initialiser). */
struct ptrtable {
	struct ptr_shard shard[PTRTABLE_SHARDS];
};

/* Adds e (kind != PTR_FREE).  0: added.  1: added, and an entry of the same kind and
 * key was there: it is replaced and copied to *displaced (a stale entry: the driver
 * handed the key out again, so the old one is gone; the caller gives back what it
 * held).  -1: no memory to grow, nothing changed. */
int ptrtable_insert(struct ptrtable *t, const struct ptr_entry *e, struct ptr_entry *displaced);

/* Removes the entry (kind, key) and copies it to *out: 1, or 0 when there is none. */
int ptrtable_take(struct ptrtable *t, unsigned kind, uint64_t key, struct ptr_entry *out);

/* Copies the entry (kind, key) to *out: 1, or 0 when there is none. */
int ptrtable_find(struct ptrtable *t, unsigned kind, uint64_t key, struct ptr_entry *out);

/* Adds delta to the refs of (kind, key).  -1: no such entry.  0: refs reached 0 (or
 * less) and the entry was removed; *out is it.  1: updated; *out is the new state. */
int ptrtable_ref(struct ptrtable *t, unsigned kind, uint64_t key, int delta, struct ptr_entry *out);

/* Removes every entry for which match(e, arg) is true, calling taken(e, arg) for each
 * (under the shard's lock: taken must not use the table).  Returns how many. */
size_t ptrtable_take_if(struct ptrtable *t, int (*match)(const struct ptr_entry *, void *),
			void (*taken)(const struct ptr_entry *, void *), void *arg);

/* Entries in the table (a snapshot; shards are counted one at a time). */
size_t ptrtable_count(struct ptrtable *t);

/* In a child after fork (one thread): the table becomes empty, with its locks free.
 * The parent's arrays are dropped, not freed: another thread of the parent may have
 * been replacing one when fork copied the memory, so no pointer in them is trusted. */
void ptrtable_forget_all(struct ptrtable *t);

/* Frees everything (tests; the shim's table lives as long as the process). */
void ptrtable_destroy(struct ptrtable *t);

#endif

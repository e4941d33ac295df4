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
#include <string.h>

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

/* --- insert and take: inline, they are on every allocation's and free's path -----
 * (docs/performance.md, the allocation pair).  What they call out of line is
 * ptrtable.c's: waiting for a held lock, growing a shard. */

/* Device pointers are aligned to 512 bytes or 2 MiB, handles to 8 or 16: their low bits
 * are zeros.  One multiply (Fibonacci hashing) spreads every bit of key and kind into
 * the high half of the word; folding the high half down gives the low bits the same.
 * The top bits pick the shard, the low bits the slot.  Cheap on purpose: it runs on
 * every allocation and free, and once per entry a removal shifts back. */
static inline uint64_t ptr_hash(unsigned kind, uint64_t key)
{
	uint64_t x = (key ^ ((uint64_t)kind << 56)) * 0x9e3779b97f4a7c15ull;
	return x ^ (x >> 32);
}

static inline struct ptr_shard *ptr_shard_of(struct ptrtable *t, uint64_t h)
{
	return &t->shard[h >> 58]; /* 64 shards: the top 6 bits */
}

/* Held for a few probes at a time; a holder that was preempted is waited for by
 * yielding rather than burning its CPU.  Out of line: the uncontended path is one
 * exchange; preserve_most (clang) spares the callers saving their registers for a
 * call that almost never happens. */
#if defined(__clang__) && defined(__x86_64__) && __has_attribute(preserve_most)
#define PTR_LOCK_WAIT_CC __attribute__((preserve_most))
#else
#define PTR_LOCK_WAIT_CC
#endif
PTR_LOCK_WAIT_CC void ptr_lock_wait(struct ptr_shard *s);

static inline void ptr_lock(struct ptr_shard *s)
{
	if (__builtin_expect(__atomic_exchange_n(&s->lock, 1, __ATOMIC_ACQUIRE) != 0, 0))
		ptr_lock_wait(s);
}

static inline void ptr_unlock(struct ptr_shard *s)
{
	__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

/* Probes for (kind, key) from its home slot (lock held): the index of its entry
 * (*found = 1), or of the free slot that ends its run (*found = 0: where an insert
 * puts it).  The shard has slots (cap > 0) and at least one of them free
 * (n <= cap / 2). */
static inline __attribute__((always_inline)) size_t
ptr_probe(const struct ptr_shard *s, unsigned kind, uint64_t key, uint64_t h, int *found)
{
	size_t mask = s->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct ptr_entry *e = &s->slot[i];
		if (e->kind == PTR_FREE) {
			*found = 0;
			return i;
		}
		if (e->key == key && e->kind == kind) {
			*found = 1;
			return i;
		}
	}
}

/* Doubles the shard (16 slots the first time), lock held.  -1 when out of memory. */
int ptr_grow(struct ptr_shard *s);

/* Backward-shift deletion (lock held): the entries after i in its run move back to
 * fill the hole when that does not put them before their home slot, so every entry
 * stays reachable from its home without tombstones.  Entries only ever move into
 * position i or later positions of the run: a scan at i (ptrtable_take_if) looks at i
 * again and misses nothing.  At most half full, the run usually ends right after i. */
static inline void ptr_remove_at(struct ptr_shard *s, size_t i)
{
	size_t mask = s->cap - 1;
	for (size_t j = (i + 1) & mask; s->slot[j].kind != PTR_FREE; j = (j + 1) & mask) {
		size_t home = ptr_hash(s->slot[j].kind, s->slot[j].key) & mask;
		/* j may move to i when i lies in [home, j) cyclically. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			s->slot[i] = s->slot[j];
			i = j;
		}
	}
	memset(&s->slot[i], 0, sizeof s->slot[i]);
	s->n--;
}

/* Adds e (kind != PTR_FREE).  0: added.  1: added, and an entry of the same kind and
 * key was there: it is replaced and copied to *displaced (a stale entry: the driver
 * handed the key out again, so the old one is gone; the caller gives back what it
 * held).  -1: no memory to grow, nothing changed. */
static inline __attribute__((always_inline)) int
ptrtable_insert(struct ptrtable *t, const struct ptr_entry *e, struct ptr_entry *displaced)
{
	uint64_t h = ptr_hash(e->kind, e->key);
	struct ptr_shard *s = ptr_shard_of(t, h);
	int found;
	ptr_lock(s);
	/* At most half full, with room for one more: probe runs stay short.  (Growing
	 * before the probe may grow for a key that is there: harmless.) */
	if (__builtin_expect((s->n + 1) * 2 > s->cap, 0) && ptr_grow(s) != 0) {
		ptr_unlock(s);
		return -1;
	}
	/* One probe finds the entry, or the free slot where it goes (no tombstones: the
	 * first free slot of its run). */
	size_t i = ptr_probe(s, e->kind, e->key, h, &found);
	if (found)
		*displaced = s->slot[i];
	else
		s->n++;
	s->slot[i] = *e;
	ptr_unlock(s);
	return found;
}

/* Removes the entry (kind, key) and copies it to *out: 1, or 0 when there is none. */
static inline __attribute__((always_inline)) int
ptrtable_take(struct ptrtable *t, unsigned kind, uint64_t key, struct ptr_entry *out)
{
	uint64_t h = ptr_hash(kind, key);
	struct ptr_shard *s = ptr_shard_of(t, h);
	int found = 0;
	ptr_lock(s);
	if (s->cap) {
		size_t i = ptr_probe(s, kind, key, h, &found);
		if (found) {
			*out = s->slot[i];
			ptr_remove_at(s, i);
		}
	}
	ptr_unlock(s);
	return found;
}

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

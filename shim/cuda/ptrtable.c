/* The shim's allocation table: sharded open addressing (see ptrtable.h). */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "shim/cuda/ptrtable.h"

/* --- hashing ------------------------------------------------------------------------- */

/* Device pointers are aligned to 512 bytes or 2 MiB, handles to 8 or 16: their low bits
 * are zeros.  One multiply (Fibonacci hashing) spreads every bit of key and kind into
 * the high half of the word; folding the high half down gives the low bits the same.
 * The top bits pick the shard, the low bits the slot.  Cheap on purpose: it runs on
 * every allocation and free, and once per entry a removal shifts back. */
static inline uint64_t hash(unsigned kind, uint64_t key)
{
	uint64_t x = (key ^ ((uint64_t)kind << 56)) * 0x9e3779b97f4a7c15ull;
	return x ^ (x >> 32);
}

static inline struct ptr_shard *shard_of(struct ptrtable *t, uint64_t h)
{
	return &t->shard[h >> 58]; /* 64 shards: the top 6 bits */
}

/* --- the shard lock ----------------------------------------------------------------- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Held for a few probes at a time; a holder that was preempted is waited for by
 * yielding rather than burning its CPU.  Out of line: the uncontended path is one
 * exchange; preserve_most (clang) spares the callers saving their registers for a
 * call that almost never happens. */
#if defined(__clang__) && defined(__x86_64__) && __has_attribute(preserve_most)
#define LOCK_WAIT_CC __attribute__((preserve_most))
#else
#define LOCK_WAIT_CC
#endif
static __attribute__((noinline, cold)) LOCK_WAIT_CC void lock_wait(struct ptr_shard *s)
{
	for (unsigned spins = 0;; spins++) {
		if (spins < 100)
			cpu_relax();
		else
			sched_yield();
		if (!__atomic_load_n(&s->lock, __ATOMIC_RELAXED) &&
		    !__atomic_exchange_n(&s->lock, 1, __ATOMIC_ACQUIRE))
			return;
	}
}

static inline void lock(struct ptr_shard *s)
{
	if (__builtin_expect(__atomic_exchange_n(&s->lock, 1, __ATOMIC_ACQUIRE) != 0, 0))
		lock_wait(s);
}

static inline void unlock(struct ptr_shard *s)
{
	__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

/* --- one shard (lock held) ---------------------------------------------------------------- */

/* Probes for (kind, key) from its home slot: the index of its entry (*found = 1), or
 * of the free slot that ends its run (*found = 0: where an insert puts it).  The shard
 * has slots (cap > 0) and at least one of them free (n <= cap / 2). */
static inline size_t probe(const struct ptr_shard *s, unsigned kind, uint64_t key, uint64_t h,
			   int *found)
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

/* The index of (kind, key), or -1. */
static inline long find_in(const struct ptr_shard *s, unsigned kind, uint64_t key, uint64_t h)
{
	int found;
	if (!s->cap)
		return -1;
	size_t i = probe(s, kind, key, h, &found);
	return found ? (long)i : -1;
}

/* Puts e into the first free slot of its probe sequence (room is known to exist and the
 * key is known to be absent). */
static void place(struct ptr_entry *slot, size_t cap, const struct ptr_entry *e)
{
	size_t mask = cap - 1;
	size_t i = hash(e->kind, e->key) & mask;
	while (slot[i].kind != PTR_FREE)
		i = (i + 1) & mask;
	slot[i] = *e;
}

/* Doubles the shard (16 slots the first time).  -1 when out of memory. */
static __attribute__((noinline)) int grow(struct ptr_shard *s)
{
	size_t cap = s->cap ? s->cap * 2 : 16;
	struct ptr_entry *slot = calloc(cap, sizeof *slot);
	if (!slot)
		return -1;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i].kind != PTR_FREE)
			place(slot, cap, &s->slot[i]);
	free(s->slot);
	s->slot = slot;
	s->cap = cap;
	return 0;
}

/* Backward-shift deletion: the entries after i in its run move back to fill the hole
 * when that does not put them before their home slot, so every entry stays reachable
 * from its home without tombstones.  Entries only ever move into position i or later
 * positions of the run: a scan at i (ptrtable_take_if) looks at i again and misses
 * nothing. */
static void remove_at(struct ptr_shard *s, size_t i)
{
	size_t mask = s->cap - 1;
	for (size_t j = (i + 1) & mask; s->slot[j].kind != PTR_FREE; j = (j + 1) & mask) {
		size_t home = hash(s->slot[j].kind, s->slot[j].key) & mask;
		/* j may move to i when i lies in [home, j) cyclically. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			s->slot[i] = s->slot[j];
			i = j;
		}
	}
	memset(&s->slot[i], 0, sizeof s->slot[i]);
	s->n--;
}

/* --- the API ------------------------------------------------------------------------------ */

int ptrtable_insert(struct ptrtable *t, const struct ptr_entry *e, struct ptr_entry *displaced)
{
	uint64_t h = hash(e->kind, e->key);
	struct ptr_shard *s = shard_of(t, h);
	int found = 0;
	size_t i = 0;
	lock(s);
	/* One probe finds the entry, or the free slot where it goes (no tombstones: the
	 * first free slot of its run). */
	if (s->cap)
		i = probe(s, e->kind, e->key, h, &found);
	if (found) {
		*displaced = s->slot[i];
		s->slot[i] = *e;
		unlock(s);
		return 1;
	}
	/* At most half full: probe runs stay short.  Growing moves everything: look
	 * again. */
	if ((s->n + 1) * 2 > s->cap) {
		if (grow(s) != 0) {
			unlock(s);
			return -1;
		}
		i = probe(s, e->kind, e->key, h, &found);
	}
	s->slot[i] = *e;
	s->n++;
	unlock(s);
	return 0;
}

int ptrtable_take(struct ptrtable *t, unsigned kind, uint64_t key, struct ptr_entry *out)
{
	uint64_t h = hash(kind, key);
	struct ptr_shard *s = shard_of(t, h);
	lock(s);
	long i = find_in(s, kind, key, h);
	if (i >= 0) {
		*out = s->slot[i];
		remove_at(s, (size_t)i);
	}
	unlock(s);
	return i >= 0;
}

int ptrtable_find(struct ptrtable *t, unsigned kind, uint64_t key, struct ptr_entry *out)
{
	uint64_t h = hash(kind, key);
	struct ptr_shard *s = shard_of(t, h);
	lock(s);
	long i = find_in(s, kind, key, h);
	if (i >= 0)
		*out = s->slot[i];
	unlock(s);
	return i >= 0;
}

int ptrtable_ref(struct ptrtable *t, unsigned kind, uint64_t key, int delta, struct ptr_entry *out)
{
	uint64_t h = hash(kind, key);
	struct ptr_shard *s = shard_of(t, h);
	lock(s);
	long i = find_in(s, kind, key, h);
	if (i < 0) {
		unlock(s);
		return -1;
	}
	int64_t refs = (int64_t)s->slot[i].refs + delta;
	int kept = refs > 0;
	s->slot[i].refs = kept ? (uint32_t)refs : 0;
	*out = s->slot[i];
	if (!kept)
		remove_at(s, (size_t)i);
	unlock(s);
	return kept;
}

size_t ptrtable_take_if(struct ptrtable *t, int (*match)(const struct ptr_entry *, void *),
			void (*taken)(const struct ptr_entry *, void *), void *arg)
{
	size_t n = 0;
	for (unsigned k = 0; k < PTRTABLE_SHARDS; k++) {
		struct ptr_shard *s = &t->shard[k];
		lock(s);
		for (size_t i = 0; i < s->cap;) {
			if (s->slot[i].kind != PTR_FREE && match(&s->slot[i], arg)) {
				if (taken)
					taken(&s->slot[i], arg);
				remove_at(s, i); /* another entry may now be at i: look again */
				n++;
			} else {
				i++;
			}
		}
		unlock(s);
	}
	return n;
}

size_t ptrtable_count(struct ptrtable *t)
{
	size_t n = 0;
	for (unsigned k = 0; k < PTRTABLE_SHARDS; k++) {
		lock(&t->shard[k]);
		n += t->shard[k].n;
		unlock(&t->shard[k]);
	}
	return n;
}

void ptrtable_forget_all(struct ptrtable *t)
{
	for (unsigned k = 0; k < PTRTABLE_SHARDS; k++) {
		struct ptr_shard *s = &t->shard[k];
		s->slot = NULL;
		s->cap = 0;
		s->n = 0;
		__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
	}
}

void ptrtable_destroy(struct ptrtable *t)
{
	for (unsigned k = 0; k < PTRTABLE_SHARDS; k++) {
		free(t->shard[k].slot);
		t->shard[k].slot = NULL;
		t->shard[k].cap = 0;
		t->shard[k].n = 0;
	}
}

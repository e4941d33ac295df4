/* The shim's allocation table: sharded open addressing (see ptrtable.h). */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "shim/cuda/ptrtable.h"

/* --- the shard lock ----------------------------------------------------------------- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* ptr_lock found the lock held (ptrtable.h). */
__attribute__((noinline, cold)) PTR_LOCK_WAIT_CC void ptr_lock_wait(struct ptr_shard *s)
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

/* --- one shard (lock held) ---------------------------------------------------------------- */

/* The index of (kind, key), or -1. */
static inline long find_in(const struct ptr_shard *s, unsigned kind, uint64_t key, uint64_t h)
{
	int found;
	if (!s->cap)
		return -1;
	size_t i = ptr_probe(s, kind, key, h, &found);
	return found ? (long)i : -1;
}

/* Puts e into the first free slot of its probe sequence (room is known to exist and the
 * key is known to be absent). */
static void place(struct ptr_entry *slot, size_t cap, const struct ptr_entry *e)
{
	size_t mask = cap - 1;
	size_t i = ptr_hash(e->kind, e->key) & mask;
	while (slot[i].kind != PTR_FREE)
		i = (i + 1) & mask;
	slot[i] = *e;
}

__attribute__((noinline)) int ptr_grow(struct ptr_shard *s)
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

/* --- the API ------------------------------------------------------------------------------ */

int ptrtable_find(struct ptrtable *t, unsigned kind, uint64_t key, struct ptr_entry *out)
{
	uint64_t h = ptr_hash(kind, key);
	struct ptr_shard *s = ptr_shard_of(t, h);
	ptr_lock(s);
	long i = find_in(s, kind, key, h);
	if (i >= 0)
		*out = s->slot[i];
	ptr_unlock(s);
	return i >= 0;
}

int ptrtable_ref(struct ptrtable *t, unsigned kind, uint64_t key, int delta, struct ptr_entry *out)
{
	uint64_t h = ptr_hash(kind, key);
	struct ptr_shard *s = ptr_shard_of(t, h);
	ptr_lock(s);
	long i = find_in(s, kind, key, h);
	if (i < 0) {
		ptr_unlock(s);
		return -1;
	}
	int64_t refs = (int64_t)s->slot[i].refs + delta;
	int kept = refs > 0;
	s->slot[i].refs = kept ? (uint32_t)refs : 0;
	*out = s->slot[i];
	if (!kept)
		ptr_remove_at(s, (size_t)i);
	ptr_unlock(s);
	return kept;
}

size_t ptrtable_take_if(struct ptrtable *t, int (*match)(const struct ptr_entry *, void *),
			void (*taken)(const struct ptr_entry *, void *), void *arg)
{
	size_t n = 0;
	for (unsigned k = 0; k < PTRTABLE_SHARDS; k++) {
		struct ptr_shard *s = &t->shard[k];
		ptr_lock(s);
		for (size_t i = 0; i < s->cap;) {
			if (s->slot[i].kind != PTR_FREE && match(&s->slot[i], arg)) {
				if (taken)
					taken(&s->slot[i], arg);
				ptr_remove_at(s, i); /* another entry may now be at i: look again */
				n++;
			} else {
				i++;
			}
		}
		ptr_unlock(s);
	}
	return n;
}

size_t ptrtable_count(struct ptrtable *t)
{
	size_t n = 0;
	for (unsigned k = 0; k < PTRTABLE_SHARDS; k++) {
		ptr_lock(&t->shard[k]);
		n += t->shard[k].n;
		ptr_unlock(&t->shard[k]);
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

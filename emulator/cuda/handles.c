/* Sets of live handles (streams, events, modules, ...): an application may pass any
 * pointer, and the emulator must answer CUDA_ERROR_INVALID_HANDLE instead of reading
 * through a stale or made-up one.  Open addressing over the pointer values. */
#include <stdlib.h>

#include "emulator/cuda/mem_internal.h"

#define EMPTY ((uintptr_t)0)
#define DELETED ((uintptr_t)1)

static size_t slot_of(uintptr_t key, size_t cap)
{
	uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 17) & (cap - 1);
}

static int rehash(struct emu_handle_set *s, size_t cap)
{
	uintptr_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; i < s->cap; i++) {
		uintptr_t k = s->slots[i];
		if (k == EMPTY || k == DELETED)
			continue;
		size_t j = slot_of(k, cap);
		while (slots[j] != EMPTY)
			j = (j + 1) & (cap - 1);
		slots[j] = k;
	}
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	s->used = s->live;
	return 0;
}

int emu_hset_add(struct emu_handle_set *s, const void *p)
{
	uintptr_t key = (uintptr_t)p;
	if (key <= DELETED)
		return -1;
	if ((s->used + 1) * 4 >= s->cap * 3) {
		size_t cap = s->cap ? s->cap : 16;
		while ((s->live + 1) * 2 >= cap)
			cap *= 2;
		if (rehash(s, cap) != 0)
			return -1;
	}
	size_t i = slot_of(key, s->cap);
	size_t tomb = (size_t)-1;
	while (s->slots[i] != EMPTY) {
		if (s->slots[i] == key)
			return 0;
		if (s->slots[i] == DELETED && tomb == (size_t)-1)
			tomb = i;
		i = (i + 1) & (s->cap - 1);
	}
	if (tomb != (size_t)-1) {
		i = tomb;
	} else {
		s->used++;
	}
	s->slots[i] = key;
	s->live++;
	return 0;
}

int emu_hset_has(const struct emu_handle_set *s, const void *p)
{
	uintptr_t key = (uintptr_t)p;
	if (key <= DELETED || s->cap == 0)
		return 0;
	size_t i = slot_of(key, s->cap);
	while (s->slots[i] != EMPTY) {
		if (s->slots[i] == key)
			return 1;
		i = (i + 1) & (s->cap - 1);
	}
	return 0;
}

void emu_hset_del(struct emu_handle_set *s, const void *p)
{
	uintptr_t key = (uintptr_t)p;
	if (key <= DELETED || s->cap == 0)
		return;
	size_t i = slot_of(key, s->cap);
	while (s->slots[i] != EMPTY) {
		if (s->slots[i] == key) {
			s->slots[i] = DELETED;
			s->live--;
			return;
		}
		i = (i + 1) & (s->cap - 1);
	}
}

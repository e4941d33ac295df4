/* Device memory of the emulator: an address range of its own, allocations in it, host
 * memory the driver hands out or registers, pointer queries, and the clean-up when a
 * context goes.
 *
 * The address space.  One range is reserved at the first allocation (PROT_NONE,
 * MAP_NORESERVE: it costs neither RAM nor commit), four times the devices' memory
 * rounded up to a power of two, so that allocations, VMM reservations and
 * fragmentation all fit.  The kernel places it, so it never overlaps anything else
 * mapped in the process: a device pointer never aliases a host pointer.  An allocation
 * takes a piece of it (2 MiB aligned from 2 MiB up, 4 KiB below) and makes it
 * read-write; pages become RAM only when something writes them, so an 80 GB device
 * works on a smaller machine until the program touches more than the machine has.  A
 * freed piece is mapped PROT_NONE again, which gives its pages back at once.  The
 * original 32-bit entry points (cuMemAlloc without _v2, ...) get their memory from a
 * small second range below 2 GiB (MAP_32BIT), so their 32-bit pointers are real ones.
 *
 * Capacity: every allocation counts its address-space size against its device's
 * profile memory through emulator/common/state.h (shared with NVML and, inside
 * vgpu-run, with the other processes of the sandbox); past it, OUT_OF_MEMORY. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "emulator/common/state.h"
#include "emulator/cuda/mem_internal.h"

#define KIB 1024ULL
#define MIB (1024ULL * KIB)
#define GIB (1024ULL * MIB)
#define SMALL_ALIGN (4 * KIB)
#define LARGE_ALIGN (2 * MIB)

/* Marks allocations the application did not make itself (module globals). */
#define EMU_ALLOC_F_INTERNAL 0x80000000u
#define EMU_ALLOC_F_SYNC_MEMOPS 0x40000000u

pthread_mutex_t emu_mem_mutex = PTHREAD_MUTEX_INITIALIZER;

void emu_mem_lock(void)
{
	pthread_mutex_lock(&emu_mem_mutex);
}

void emu_mem_unlock(void)
{
	pthread_mutex_unlock(&emu_mem_mutex);
}

uint64_t emu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int emu_attr(int device, int attr, int fallback)
{
	const struct emu_device_config *d = emu_device(device);
	if (!d || !d->profile || attr < 0 || attr >= EMU_ATTRIBUTE_COUNT || !d->profile->attribute_known[attr])
		return fallback;
	return d->profile->attributes[attr];
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* --- address ranges: a sorted list of holes ---------------------------------------- */


static int holes_insert(struct emu_ranges *s, size_t at, uint64_t start, uint64_t len)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct emu_range_hole *h = realloc(s->holes, cap * sizeof *h);
		if (!h)
			return -1;
		s->holes = h;
		s->cap = cap;
	}
	memmove(&s->holes[at + 1], &s->holes[at], (s->n - at) * sizeof *s->holes);
	s->holes[at].start = start;
	s->holes[at].len = len;
	s->n++;
	return 0;
}

static void holes_remove(struct emu_ranges *s, size_t at)
{
	memmove(&s->holes[at], &s->holes[at + 1], (s->n - at - 1) * sizeof *s->holes);
	s->n--;
}

/* Takes [a, a+size) out of hole i (which contains it).  -1 when the list cannot grow. */
static int carve(struct emu_ranges *s, size_t i, uint64_t a, uint64_t size)
{
	struct emu_range_hole h = s->holes[i];
	uint64_t left = a - h.start, right = h.start + h.len - (a + size);
	if (left && right) {
		if (holes_insert(s, i + 1, a + size, right) != 0)
			return -1;
		s->holes[i].len = left;
	} else if (left) {
		s->holes[i].len = left;
	} else if (right) {
		s->holes[i].start = a + size;
		s->holes[i].len = right;
	} else {
		holes_remove(s, i);
	}
	return 0;
}

uint64_t emu_ranges_alloc(struct emu_ranges *s, uint64_t size, uint64_t align, uint64_t hint)
{
	if (size == 0 || s->size == 0)
		return 0;
	if (hint && (hint & (align - 1)) == 0) {
		for (size_t i = 0; i < s->n; i++) {
			struct emu_range_hole h = s->holes[i];
			if (hint >= h.start && hint - h.start <= h.len && size <= h.start + h.len - hint)
				return carve(s, i, hint, size) == 0 ? hint : 0;
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		struct emu_range_hole h = s->holes[i];
		uint64_t a = round_up(h.start, align);
		if (a < h.start || a - h.start > h.len || size > h.len - (a - h.start))
			continue;
		return carve(s, i, a, size) == 0 ? a : 0;
	}
	return 0;
}

void emu_ranges_free(struct emu_ranges *s, uint64_t start, uint64_t len)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->holes[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t at = lo;
	int merged_prev = 0;
	if (at > 0 && s->holes[at - 1].start + s->holes[at - 1].len == start) {
		s->holes[at - 1].len += len;
		merged_prev = 1;
	}
	if (at < s->n && start + len == s->holes[at].start) {
		if (merged_prev) {
			s->holes[at - 1].len += s->holes[at].len;
			holes_remove(s, at);
		} else {
			s->holes[at].start = start;
			s->holes[at].len += len;
		}
		return;
	}
	if (!merged_prev)
		(void)holes_insert(s, at, start, len); /* out of memory: the range is lost */
}

int emu_ranges_init(struct emu_ranges *s, uint64_t base, uint64_t size)
{
	memset(s, 0, sizeof *s);
	s->base = base;
	s->size = size;
	return holes_insert(s, 0, base, size);
}

/* Generations of the table, for the per-thread caches of emu_check_range (below).
 * gone_gen changes whenever an allocation leaves the table or its access changes (a
 * remembered hit may be stale), added_gen whenever one enters it or an address space is
 * set up (a remembered miss may be stale).  Changed under emu_mem_mutex (the spaces: in
 * their pthread_once), atomically; read without a lock.  64 bits: they never wrap, so an
 * equal value means nothing happened in between. */
static uint64_t gone_gen = 1, added_gen = 1;

static void bump(uint64_t *gen)
{
	__atomic_add_fetch(gen, 1, __ATOMIC_RELEASE);
}

void emu_alloc_changed(void)
{
	bump(&gone_gen);
}

static struct emu_ranges space, low_space;
static pthread_once_t space_once = PTHREAD_ONCE_INIT, low_once = PTHREAD_ONCE_INIT;
static int space_ok, low_ok;

static void say(const char *msg)
{
	(void)!write(STDERR_FILENO, msg, strlen(msg));
}

static int reserve(struct emu_ranges *s, uint64_t want, uint64_t min, int flags)
{
	for (; want >= min; want /= 2) {
		void *p = mmap(NULL, want + LARGE_ALIGN, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | flags, -1, 0);
		if (p == MAP_FAILED)
			continue;
		uint64_t raw = (uint64_t)(uintptr_t)p;
		uint64_t base = round_up(raw, LARGE_ALIGN);
		if (base > raw)
			munmap(p, base - raw);
		if (raw + LARGE_ALIGN > base)
			munmap((void *)(uintptr_t)(base + want), raw + LARGE_ALIGN - base);
		s->base = base;
		s->size = want;
		if (holes_insert(s, 0, base, want) != 0) {
			munmap((void *)(uintptr_t)base, want);
			s->size = 0;
			return -1;
		}
		return 0;
	}
	return -1;
}

static void space_setup(void)
{
	uint64_t want = 0;
	unsigned n = emu_device_count();
	for (unsigned i = 0; i < n; i++) {
		const struct emu_device_config *d = emu_device((int)i);
		uint64_t total = d && d->profile ? d->profile->total_memory : 0, per = GIB;
		while (per < total && per < (1ULL << 46))
			per *= 2;
		want += per * 4;
	}
	if (want < 64 * GIB)
		want = 64 * GIB;
	if (want > (1ULL << 46))
		want = 1ULL << 46;
	if (reserve(&space, want, GIB, 0) == 0) {
		space_ok = 1;
		bump(&added_gen); /* addresses that were host memory may now be device ones */
	} else
		say("vgpu emulator: cannot reserve an address range for device memory\n");
}

static void low_setup(void)
{
	if (reserve(&low_space, GIB, 64 * MIB, MAP_32BIT) == 0) {
		low_ok = 1;
		bump(&added_gen);
	}
}

int emu_space_init(void)
{
	pthread_once(&space_once, space_setup);
	return space_ok ? 0 : -1;
}

static int low_init(void)
{
	pthread_once(&low_once, low_setup);
	return low_ok ? 0 : -1;
}

static int in_space(const struct emu_ranges *s, uint64_t addr)
{
	return s->size && addr >= s->base && addr - s->base < s->size;
}

int emu_space_contains(uint64_t addr)
{
	return in_space(&space, addr) || in_space(&low_space, addr);
}

uint64_t emu_space_alloc(uint64_t size, uint64_t align, uint64_t hint)
{
	if (emu_space_init() != 0)
		return 0;
	return emu_ranges_alloc(&space, size, align, hint);
}

void emu_space_free(uint64_t addr, uint64_t size)
{
	emu_ranges_free(in_space(&low_space, addr) ? &low_space : &space, addr, size);
}

/* Gives a piece of the address space its pages back and makes it inaccessible. */
void emu_space_decommit(uint64_t addr, uint64_t len)
{
	void *p = mmap((void *)(uintptr_t)addr, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED) {
		madvise((void *)(uintptr_t)addr, len, MADV_DONTNEED);
		mprotect((void *)(uintptr_t)addr, len, PROT_NONE);
	}
}

/* --- the allocation table: sorted by start address ---------------------------------- */

static struct emu_alloc **table;
static size_t table_n, table_cap;
static uint64_t buffer_ids;

uint64_t emu_next_buffer_id(void)
{
	return __atomic_add_fetch(&buffer_ids, 1, __ATOMIC_RELAXED);
}

static size_t lower_bound(uint64_t addr)
{
	size_t lo = 0, hi = table_n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (table[mid]->start < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct emu_alloc *emu_alloc_find(uint64_t addr)
{
	size_t i = lower_bound(addr);
	if (i < table_n && table[i]->start == addr)
		return table[i];
	if (i == 0)
		return NULL;
	struct emu_alloc *a = table[i - 1];
	return addr - a->start < a->size ? a : NULL;
}

struct emu_alloc *emu_alloc_find_from(uint64_t addr)
{
	size_t i = lower_bound(addr);
	return i < table_n ? table[i] : NULL;
}

int emu_alloc_insert(struct emu_alloc *a)
{
	if (table_n == table_cap) {
		size_t cap = table_cap ? table_cap * 2 : 256;
		struct emu_alloc **t = realloc(table, cap * sizeof *t);
		if (!t)
			return -1;
		table = t;
		table_cap = cap;
	}
	size_t i = lower_bound(a->start);
	memmove(&table[i + 1], &table[i], (table_n - i) * sizeof *table);
	table[i] = a;
	table_n++;
	bump(&added_gen);
	if (!a->buffer_id)
		a->buffer_id = emu_next_buffer_id();
	return 0;
}

void emu_alloc_remove(struct emu_alloc *a)
{
	size_t i = lower_bound(a->start);
	while (i < table_n && table[i]->start == a->start && table[i] != a)
		i++;
	if (i < table_n && table[i] == a) {
		memmove(&table[i], &table[i + 1], (table_n - i - 1) * sizeof *table);
		table_n--;
		bump(&gone_gen);
	}
}

/* --- capacity -------------------------------------------------------------------------- */

/* device: the ordinal.  The shared state (emulator-state, NVML) counts per
 * configuration index: another process may see the same GPU under another ordinal. */
int emu_capacity_take(int device, uint64_t bytes)
{
	const struct emu_device_config *d = emu_device(device);
	int i = emu_device_config_index(device);
	if (!d || !d->profile || i < 0 || bytes > (uint64_t)INT64_MAX)
		return -1;
	return emu_state_take((unsigned)i, bytes, d->profile->total_memory);
}

void emu_capacity_give(int device, uint64_t bytes)
{
	int i = emu_device_config_index(device);
	if (bytes && i >= 0)
		emu_state_add_used((unsigned)i, -(int64_t)bytes);
}

/* --- device allocations ------------------------------------------------------------------ */

static CUresult devmem_alloc_in(struct emu_ranges *s, CUcontext ctx, int device, uint64_t size,
				int kind, struct emu_mempool *pool, unsigned flags, CUdeviceptr *out)
{
	if (size == 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (size > (1ULL << 50))
		return CUDA_ERROR_OUT_OF_MEMORY;
	uint64_t align = size >= LARGE_ALIGN ? LARGE_ALIGN : SMALL_ALIGN;
	uint64_t span = round_up(size, align);
	struct emu_alloc *a = calloc(1, sizeof *a);
	if (!a)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (emu_capacity_take(device, span) != 0) {
		free(a);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	emu_mem_lock();
	uint64_t addr = emu_ranges_alloc(s, span, align, 0);
	if (!addr || mprotect((void *)(uintptr_t)addr, span, PROT_READ | PROT_WRITE) != 0) {
		if (addr)
			emu_ranges_free(s, addr, span);
		emu_mem_unlock();
		emu_capacity_give(device, span);
		free(a);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	a->start = addr;
	a->size = size;
	a->span = span;
	a->kind = kind;
	a->device = device;
	a->ctx = ctx;
	a->flags = flags;
	a->counted = span;
	a->pool = pool;
	a->access = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	if (emu_alloc_insert(a) != 0) {
		emu_space_decommit(addr, span);
		emu_ranges_free(s, addr, span);
		emu_mem_unlock();
		emu_capacity_give(device, span);
		free(a);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (pool)
		emu_pool_note_alloc(pool, size, span);
	emu_mem_unlock();
	*out = addr;
	return CUDA_SUCCESS;
}

CUresult emu_devmem_alloc(CUcontext ctx, int device, uint64_t size, int kind,
			  struct emu_mempool *pool, CUdeviceptr *out)
{
	if (emu_space_init() != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	return devmem_alloc_in(&space, ctx, device, size, kind, pool,
			       ctx ? 0 : EMU_ALLOC_F_INTERNAL, out);
}

void emu_devmem_release_locked(struct emu_alloc *a)
{
	emu_alloc_remove(a);
	emu_space_decommit(a->start, a->span);
	emu_space_free(a->start, a->span);
	if (a->pool)
		emu_pool_note_free(a->pool, a->size, a->span);
	emu_capacity_give(a->device, a->counted);
	free(a);
}

CUresult emu_devmem_free(CUdeviceptr dptr, int allow_pool)
{
	emu_mem_lock();
	struct emu_alloc *a = emu_alloc_find(dptr);
	if (!a || a->start != dptr || (a->kind != EMU_ALLOC_DEVICE && a->kind != EMU_ALLOC_MANAGED) ||
	    (a->flags & EMU_ALLOC_F_INTERNAL) || (!allow_pool && a->pool)) {
		emu_mem_unlock();
		return CUDA_ERROR_INVALID_VALUE;
	}
	emu_devmem_release_locked(a);
	emu_mem_unlock();
	return CUDA_SUCCESS;
}

/* --- what a thread remembers: its current context, the ranges it checked -----------------
 *
 * Every copy and memset checks the current context and its ranges; a small copy must not
 * pay for locks and a search of the table.  Each thread remembers
 *
 *   - the current context it found live (through emu_context_current, which decides),
 *     and its device, tagged with emu_context_gen of that moment; it is used while no
 *     context has stopped being live since (emu_context_gen unchanged) and the thread's
 *     stack has not changed (core calls emu_memory_current_changed, which forgets it);
 *   - what its last locked lookups of ranges found (copies tend to reuse the same
 *     buffers): allocations (hits) and stretches of host addresses with no allocation
 *     (misses), tagged with the table's generation of the moment: gone_gen for hits,
 *     added_gen for misses.  A hit is used while no allocation has gone or changed its
 *     access since (allocations never overlap, so one added since cannot change what an
 *     address inside it finds), a miss while none has been added (one that goes only
 *     widens a stretch).
 *
 * A remembered fact is used only while it is still true.  What the memo cannot answer,
 * and every error, takes the locked path, which answers exactly as before and refreshes
 * the memo. */

#define RANGE_HITS 4
#define RANGE_MISSES 2

struct thread_memo {
	uint64_t ctx_gen;           /* 0: no context known */
	CUcontext ctx;
	int device;
	uint64_t hit_gen, miss_gen; /* 0: nothing remembered (the generations start at 1) */
	struct {
		uint64_t start, end; /* an allocation: [start, end) */
		int rights;          /* CU_MEM_ACCESS_FLAGS_PROT_*: what a copy may do in it */
	} hit[RANGE_HITS];
	struct {
		uint64_t lo, hi;     /* no allocation contains an address of [lo, hi), which
				      * lies outside the device address spaces */
	} miss[RANGE_MISSES];
	unsigned next_hit, next_miss;
};

static __thread struct thread_memo memo;

void emu_memory_current_changed(void)
{
	memo.ctx_gen = 0;
}

/* Asks core (which takes its lock when it must) and remembers a live context. */
static __attribute__((noinline)) CUresult current_slow(struct thread_memo *t)
{
	uint64_t gen = __atomic_load_n(&emu_context_gen, __ATOMIC_ACQUIRE);
	CUcontext c;
	CUresult rc = emu_context_current(&c);
	if (rc != CUDA_SUCCESS)
		return rc;
	t->ctx = c;
	t->device = emu_context_device(c);
	t->ctx_gen = gen; /* live at some moment after gen was read: live while it holds */
	return CUDA_SUCCESS;
}

static inline __attribute__((always_inline)) CUresult current(struct thread_memo *t)
{
	if (t->ctx_gen == __atomic_load_n(&emu_context_gen, __ATOMIC_ACQUIRE))
		return CUDA_SUCCESS;
	return current_slow(t);
}

CUresult emu_current(CUcontext *ctx, int *device)
{
	struct thread_memo *t = &memo;
	CUresult rc = current(t);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (ctx)
		*ctx = t->ctx;
	if (device)
		*device = t->device;
	return CUDA_SUCCESS;
}

/* 1: [addr, end) passes emu_check_range(flags) on what the thread remembers; 0: not
 * known here.  addr != 0 and addr < end.  (A valid hit and a valid miss never hold the
 * same address: one rules the other out, so the order of the two searches is free.) */
static inline __attribute__((always_inline)) int range_known_ok(const struct thread_memo *c, uint64_t addr,
								  uint64_t end, int flags)
{
	if (!(flags & EMU_RANGE_DEVICE) && c->miss_gen == __atomic_load_n(&added_gen, __ATOMIC_ACQUIRE)) {
		for (unsigned i = 0; i < RANGE_MISSES; i++)
			if (addr - c->miss[i].lo < c->miss[i].hi - c->miss[i].lo)
				return end <= c->miss[i].hi; /* host memory all through */
	}
	if (c->hit_gen == __atomic_load_n(&gone_gen, __ATOMIC_ACQUIRE)) {
		int want = (flags & EMU_RANGE_WRITE) ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE
						     : CU_MEM_ACCESS_FLAGS_PROT_READ;
		for (unsigned i = 0; i < RANGE_HITS; i++)
			if (addr - c->hit[i].start < c->hit[i].end - c->hit[i].start)
				return end <= c->hit[i].end && (c->hit[i].rights & want) == want;
	}
	return 0;
}

/* Locked: remembers a (found for an address) or the stretch around addr (found nothing). */
static void range_remember(struct thread_memo *c, uint64_t addr, const struct emu_alloc *a)
{
	if (a) {
		uint64_t gen = __atomic_load_n(&gone_gen, __ATOMIC_RELAXED);
		if (c->hit_gen != gen) {
			memset(c->hit, 0, sizeof c->hit);
			c->hit_gen = gen;
		}
		unsigned i = c->next_hit++ % RANGE_HITS;
		c->hit[i].start = a->start;
		c->hit[i].end = a->start + a->size;
		if (a->kind == EMU_ALLOC_HOST)
			c->hit[i].rights = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
		else if (a->kind == EMU_ALLOC_REGISTERED)
			c->hit[i].rights = (a->flags & CU_MEMHOSTREGISTER_READ_ONLY) ? CU_MEM_ACCESS_FLAGS_PROT_READ
										 : CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
		else
			c->hit[i].rights = a->access;
		return;
	}
	/* emu_alloc_find() finds nothing for any address between the allocation before addr
	 * (which does not contain it) and the next one. */
	size_t at = lower_bound(addr);
	uint64_t lo = 1, hi = at < table_n ? table[at]->start : UINT64_MAX;
	if (at > 0)
		lo = table[at - 1]->start + (table[at - 1]->size ? table[at - 1]->size : 1);
	if (lo > addr || hi <= addr)
		return; /* cannot be: remember nothing */
	/* Only the part outside the device address spaces is host memory. */
	const struct emu_ranges *spaces[2] = { &space, &low_space };
	for (int k = 0; k < 2; k++) {
		const struct emu_ranges *sp = spaces[k];
		if (!sp->size)
			continue;
		if (in_space(sp, addr))
			return; /* an address of the device's: the lookup answers each time */
		if (addr < sp->base && sp->base < hi)
			hi = sp->base;
		else if (addr >= sp->base + sp->size && sp->base + sp->size > lo)
			lo = sp->base + sp->size;
	}
	uint64_t gen = __atomic_load_n(&added_gen, __ATOMIC_RELAXED);
	if (c->miss_gen != gen) {
		memset(c->miss, 0, sizeof c->miss);
		c->miss_gen = gen;
	}
	unsigned i = c->next_miss++ % RANGE_MISSES;
	c->miss[i].lo = lo;
	c->miss[i].hi = hi;
}

/* The locked lookup: the rules of emu_check_range (mem_internal.h). */
static CUresult check_range_locked(uint64_t addr, uint64_t end, int flags)
{
	int need_write = flags & EMU_RANGE_WRITE;
	CUresult rc = CUDA_SUCCESS;
	emu_mem_lock();
	struct emu_alloc *a = emu_alloc_find(addr);
	range_remember(&memo, addr, a);
	if (!a) {
		/* Host memory, unless it lies in the device range (freed or never allocated). */
		if ((flags & EMU_RANGE_DEVICE) || emu_space_contains(addr) || emu_space_contains(end - 1))
			rc = CUDA_ERROR_INVALID_VALUE;
		emu_mem_unlock();
		return rc;
	}
	if (a->kind == EMU_ALLOC_HOST || a->kind == EMU_ALLOC_REGISTERED) {
		/* Host memory the driver knows: as a device address it ends where it ends. */
		if (end - a->start > a->size && (a->kind == EMU_ALLOC_HOST || (flags & EMU_RANGE_DEVICE)))
			rc = CUDA_ERROR_INVALID_VALUE;
		if (need_write && (a->flags & CU_MEMHOSTREGISTER_READ_ONLY) && a->kind == EMU_ALLOC_REGISTERED)
			rc = CUDA_ERROR_INVALID_VALUE;
		emu_mem_unlock();
		return rc;
	}
	for (;;) {
		int want = need_write ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE : CU_MEM_ACCESS_FLAGS_PROT_READ;
		if ((a->access & want) != want) {
			rc = CUDA_ERROR_INVALID_VALUE;
			break;
		}
		uint64_t a_end = a->start + a->size;
		if (end <= a_end)
			break;
		/* Runs on into the next allocation: only when it starts right here. */
		struct emu_alloc *next = emu_alloc_find_from(a_end);
		if (!next || next->start != a_end || next->kind == EMU_ALLOC_HOST ||
		    next->kind == EMU_ALLOC_REGISTERED) {
			rc = CUDA_ERROR_INVALID_VALUE;
			break;
		}
		a = next;
	}
	emu_mem_unlock();
	return rc;
}

CUresult emu_check_range(uint64_t addr, uint64_t n, int flags)
{
	if (addr == 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (n == 0)
		return CUDA_SUCCESS;
	if (addr + n < addr)
		return CUDA_ERROR_INVALID_VALUE;
	if (range_known_ok(&memo, addr, addr + n, flags))
		return CUDA_SUCCESS;
	return check_range_locked(addr, addr + n, flags);
}

static inline __attribute__((always_inline)) int ranges_known_ok(const struct thread_memo *t, uint64_t dst,
								   uint64_t dst_n, int dst_flags, uint64_t src,
								   uint64_t src_n, int src_flags)
{
	return dst && src && dst + dst_n > dst && src + src_n > src && range_known_ok(t, dst, dst + dst_n, dst_flags) &&
	       range_known_ok(t, src, src + src_n, src_flags);
}

CUresult emu_check_ranges(uint64_t dst, uint64_t dst_n, int dst_flags, uint64_t src, uint64_t src_n, int src_flags)
{
	if (ranges_known_ok(&memo, dst, dst_n, dst_flags, src, src_n, src_flags))
		return CUDA_SUCCESS;
	CUresult rc = emu_check_range(dst, dst_n, dst_flags);
	return rc != CUDA_SUCCESS ? rc : emu_check_range(src, src_n, src_flags);
}

CUresult emu_copy_current(uint64_t dst, uint64_t src, uint64_t n, int dst_flags, int src_flags)
{
	struct thread_memo *t = &memo;
	if (t->ctx_gen != __atomic_load_n(&emu_context_gen, __ATOMIC_ACQUIRE) ||
	    !ranges_known_ok(t, dst, n, dst_flags, src, n, src_flags)) {
		CUresult rc = current(t);
		if (rc == CUDA_SUCCESS)
			rc = emu_check_ranges(dst, n, dst_flags, src, n, src_flags);
		if (rc != CUDA_SUCCESS)
			return rc;
	}
	emu_move(dst, src, n);
	return CUDA_SUCCESS;
}

/* --- cuMemAlloc and friends --------------------------------------------------------------- */

EMU_API CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	CUcontext ctx;
	int dev;
	CUresult rc = emu_current(&ctx, &dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	return emu_devmem_alloc(ctx, dev, bytesize, EMU_ALLOC_DEVICE, NULL, dptr);
}

/* The CUDA 2.x form: a 32-bit size and a 32-bit device pointer. */
EMU_API CUresult cuMemAlloc(uint32_t *dptr, unsigned int bytesize)
{
	CUcontext ctx;
	int dev;
	CUresult rc = emu_current(&ctx, &dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	if (low_init() != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUdeviceptr p;
	rc = devmem_alloc_in(&low_space, ctx, dev, bytesize, EMU_ALLOC_DEVICE, NULL, 0, &p);
	if (rc == CUDA_SUCCESS)
		*dptr = (uint32_t)p;
	return rc;
}

static CUresult alloc_pitch(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
			    unsigned elem, int low)
{
	CUcontext ctx;
	int dev;
	CUresult rc = emu_current(&ctx, &dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!dptr || !pitch || width == 0 || height == 0 || (elem != 4 && elem != 8 && elem != 16))
		return CUDA_ERROR_INVALID_VALUE;
	if (width > (1ULL << 40) || height > (1ULL << 40))
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t p = round_up(width, 512);
	if (height > (1ULL << 50) / p)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (low) {
		if (low_init() != 0)
			return CUDA_ERROR_OUT_OF_MEMORY;
		rc = devmem_alloc_in(&low_space, ctx, dev, p * height, EMU_ALLOC_DEVICE, NULL, 0, dptr);
	} else {
		rc = emu_devmem_alloc(ctx, dev, p * height, EMU_ALLOC_DEVICE, NULL, dptr);
	}
	if (rc == CUDA_SUCCESS)
		*pitch = p;
	return rc;
}

EMU_API CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes,
				    size_t Height, unsigned int ElementSizeBytes)
{
	return alloc_pitch(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes, 0);
}

EMU_API CUresult cuMemAllocPitch(uint32_t *dptr, unsigned int *pPitch, unsigned int WidthInBytes,
				 unsigned int Height, unsigned int ElementSizeBytes)
{
	if (!dptr || !pPitch)
		return CUDA_ERROR_INVALID_VALUE;
	CUdeviceptr p;
	size_t pitch;
	CUresult rc = alloc_pitch(&p, &pitch, WidthInBytes, Height, ElementSizeBytes, 1);
	if (rc == CUDA_SUCCESS) {
		*dptr = (uint32_t)p;
		*pPitch = (unsigned int)pitch;
	}
	return rc;
}

EMU_API CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (dptr == 0)
		return CUDA_SUCCESS;
	return emu_devmem_free(dptr, 1);
}

EMU_API CUresult cuMemFree(uint32_t dptr)
{
	return cuMemFree_v2(dptr);
}

EMU_API CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes)
{
	int dev;
	CUresult rc = emu_current(NULL, &dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!free_bytes || !total_bytes)
		return CUDA_ERROR_INVALID_VALUE;
	const struct emu_device_config *d = emu_device(dev);
	int i = emu_device_config_index(dev);
	if (!d || !d->profile || i < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	uint64_t total = d->profile->total_memory, used = emu_state_used((unsigned)i);
	*total_bytes = total;
	*free_bytes = used >= total ? 0 : total - used;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemGetInfo(unsigned int *free_bytes, unsigned int *total_bytes)
{
	if (!free_bytes || !total_bytes)
		return CUDA_ERROR_INVALID_VALUE;
	size_t f, t;
	CUresult rc = cuMemGetInfo_v2(&f, &t);
	if (rc == CUDA_SUCCESS) {
		*free_bytes = f > 0xffffffffu ? 0xffffffffu : (unsigned int)f;
		*total_bytes = t > 0xffffffffu ? 0xffffffffu : (unsigned int)t;
	}
	return rc;
}

EMU_API CUresult cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	emu_mem_lock();
	struct emu_alloc *a = emu_alloc_find(dptr);
	if (!a) {
		emu_mem_unlock();
		return CUDA_ERROR_NOT_FOUND;
	}
	if (pbase)
		*pbase = a->start;
	if (psize)
		*psize = a->size;
	emu_mem_unlock();
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemGetAddressRange(uint32_t *pbase, unsigned int *psize, uint32_t dptr)
{
	CUdeviceptr b;
	size_t s;
	CUresult rc = cuMemGetAddressRange_v2(&b, &s, dptr);
	if (rc == CUDA_SUCCESS) {
		if (pbase)
			*pbase = (uint32_t)b;
		if (psize)
			*psize = (unsigned int)s;
	}
	return rc;
}

EMU_API CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
	CUcontext ctx;
	int dev;
	CUresult rc = emu_current(&ctx, &dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!dptr || bytesize == 0 || (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST))
		return CUDA_ERROR_INVALID_VALUE;
	if (emu_space_init() != 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	return devmem_alloc_in(&space, ctx, dev, bytesize, EMU_ALLOC_MANAGED, NULL, flags, dptr);
}

/* --- host memory ------------------------------------------------------------------------ */

static CUresult host_alloc(void **pp, size_t bytesize, unsigned flags)
{
	CUcontext ctx;
	int dev;
	CUresult rc = emu_current(&ctx, &dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pp || bytesize == 0 || (flags & ~7u))
		return CUDA_ERROR_INVALID_VALUE;
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t span = round_up(bytesize, pg > 0 ? (uint64_t)pg : 4096);
	if (span < bytesize)
		return CUDA_ERROR_OUT_OF_MEMORY;
	struct emu_alloc *a = calloc(1, sizeof *a);
	if (!a)
		return CUDA_ERROR_OUT_OF_MEMORY;
	void *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		free(a);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	a->start = (uint64_t)(uintptr_t)p;
	a->size = bytesize;
	a->span = span;
	a->kind = EMU_ALLOC_HOST;
	a->device = dev;
	a->ctx = ctx;
	a->flags = flags;
	a->access = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	emu_mem_lock();
	int bad = emu_alloc_insert(a);
	emu_mem_unlock();
	if (bad) {
		munmap(p, span);
		free(a);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*pp = p;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemAllocHost_v2(void **pp, size_t bytesize)
{
	return host_alloc(pp, bytesize, 0);
}

EMU_API CUresult cuMemAllocHost(void **pp, unsigned int bytesize)
{
	return host_alloc(pp, bytesize, 0);
}

EMU_API CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
	return host_alloc(pp, bytesize, Flags);
}

static void host_release_locked(struct emu_alloc *a)
{
	emu_alloc_remove(a);
	if (a->kind == EMU_ALLOC_HOST)
		munmap((void *)(uintptr_t)a->start, a->span);
	free(a);
}

EMU_API CUresult cuMemFreeHost(void *p)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	emu_mem_lock();
	struct emu_alloc *a = emu_alloc_find((uint64_t)(uintptr_t)p);
	if (!p || !a || a->kind != EMU_ALLOC_HOST || a->start != (uint64_t)(uintptr_t)p) {
		emu_mem_unlock();
		return CUDA_ERROR_INVALID_VALUE;
	}
	host_release_locked(a);
	emu_mem_unlock();
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags)
{
	CUresult rc = emu_current(NULL, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pdptr || !p || Flags != 0)
		return CUDA_ERROR_INVALID_VALUE;
	emu_mem_lock();
	struct emu_alloc *a = emu_alloc_find((uint64_t)(uintptr_t)p);
	int ok = a && (a->kind == EMU_ALLOC_HOST || a->kind == EMU_ALLOC_REGISTERED);
	emu_mem_unlock();
	if (!ok)
		return CUDA_ERROR_INVALID_VALUE;
	*pdptr = (CUdeviceptr)(uintptr_t)p; /* unified addressing: the same address */
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemHostGetDevicePointer(uint32_t *pdptr, void *p, unsigned int Flags)
{
	if (!pdptr)
		return CUDA_ERROR_INVALID_VALUE;
	CUdeviceptr d;
	CUresult rc = cuMemHostGetDevicePointer_v2(&d, p, Flags);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (d > 0xffffffffu)
		return CUDA_ERROR_INVALID_VALUE; /* not reachable through a 32-bit pointer */
	*pdptr = (uint32_t)d;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemHostGetFlags(unsigned int *pFlags, void *p)
{
	CUresult rc = emu_current(NULL, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pFlags || !p)
		return CUDA_ERROR_INVALID_VALUE;
	emu_mem_lock();
	struct emu_alloc *a = emu_alloc_find((uint64_t)(uintptr_t)p);
	int ok = a && (a->kind == EMU_ALLOC_HOST || a->kind == EMU_ALLOC_REGISTERED);
	unsigned flags = ok ? (a->flags & 0xffffu) : 0;
	emu_mem_unlock();
	if (!ok)
		return CUDA_ERROR_INVALID_VALUE;
	*pFlags = flags;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int Flags)
{
	CUcontext ctx;
	int dev;
	CUresult rc = emu_current(&ctx, &dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	uint64_t start = (uint64_t)(uintptr_t)p;
	if (!p || bytesize == 0 || (Flags & ~0xfu) || start + bytesize < start)
		return CUDA_ERROR_INVALID_VALUE;
	if (emu_space_contains(start) || emu_space_contains(start + bytesize - 1))
		return CUDA_ERROR_INVALID_VALUE;
	struct emu_alloc *a = calloc(1, sizeof *a);
	if (!a)
		return CUDA_ERROR_OUT_OF_MEMORY;
	a->start = start;
	a->size = bytesize;
	a->kind = EMU_ALLOC_REGISTERED;
	a->device = dev;
	a->ctx = ctx;
	a->flags = Flags;
	a->access = (Flags & CU_MEMHOSTREGISTER_READ_ONLY) ? CU_MEM_ACCESS_FLAGS_PROT_READ
							    : CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	emu_mem_lock();
	struct emu_alloc *over = emu_alloc_find(start);
	if (!over) {
		over = emu_alloc_find_from(start);
		if (over && over->start - start >= bytesize)
			over = NULL;
	}
	if (over) {
		emu_mem_unlock();
		free(a);
		return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
	}
	int bad = emu_alloc_insert(a);
	emu_mem_unlock();
	if (bad) {
		free(a);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemHostRegister(void *p, size_t bytesize, unsigned int Flags)
{
	return cuMemHostRegister_v2(p, bytesize, Flags);
}

EMU_API CUresult cuMemHostUnregister(void *p)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	emu_mem_lock();
	struct emu_alloc *a = emu_alloc_find((uint64_t)(uintptr_t)p);
	if (!a || a->kind != EMU_ALLOC_REGISTERED || a->start != (uint64_t)(uintptr_t)p) {
		emu_mem_unlock();
		return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
	}
	host_release_locked(a);
	emu_mem_unlock();
	return CUDA_SUCCESS;
}

/* --- pointer attributes ------------------------------------------------------------------- */

static void put_u32(void *data, unsigned v)
{
	memcpy(data, &v, sizeof v);
}

static void put_u64(void *data, uint64_t v)
{
	memcpy(data, &v, sizeof v);
}

static void put_ptr(void *data, const void *v)
{
	memcpy(data, &v, sizeof v);
}

/* One attribute of ptr, a (NULL: not ours).  lenient: cuPointerGetAttributes, which
 * writes "null" values where cuPointerGetAttribute fails.  Locked. */
static CUresult pointer_attribute(struct emu_alloc *a, uint64_t ptr, int attr, void *data, int lenient)
{
	int host_kind = a && (a->kind == EMU_ALLOC_HOST || a->kind == EMU_ALLOC_REGISTERED);
	switch (attr) {
	case CU_POINTER_ATTRIBUTE_CONTEXT:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_ptr(data, a ? (void *)a->ctx : NULL);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_u32(data, !a ? 0 : host_kind ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_u64(data, a ? ptr : 0);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_HOST_POINTER: {
		int has = a && (host_kind || a->kind == EMU_ALLOC_MANAGED);
		if (!has && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_ptr(data, has ? (void *)(uintptr_t)ptr : NULL);
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_P2P_TOKENS:
		if (!a || a->kind != EMU_ALLOC_DEVICE)
			return CUDA_ERROR_INVALID_VALUE;
		put_u64(data, 0);
		put_u64((char *)data + 8, 0);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_u32(data, a && (a->flags & EMU_ALLOC_F_SYNC_MEMOPS) ? 1 : 0);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_BUFFER_ID:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_u64(data, a ? a->buffer_id : 0);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_IS_MANAGED:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_u32(data, a && a->kind == EMU_ALLOC_MANAGED);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: {
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		int ord = a ? a->device : -2;
		memcpy(data, &ord, sizeof ord);
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_u32(data, 0);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
	case CU_POINTER_ATTRIBUTE_RANGE_SIZE: {
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		uint64_t start = a ? a->start : 0, size = a ? a->size : 0;
		if (a && a->kind == EMU_ALLOC_VMM && a->resv) {
			/* the mappable range: the reservation */
			emu_vmm_reservation_range(a->resv, &start, &size);
		}
		put_u64(data, attr == CU_POINTER_ATTRIBUTE_RANGE_START_ADDR ? start : size);
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_MAPPED:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_u32(data, a != NULL);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_u64(data, 0);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
	case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_u32(data, 0);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_u32(data, a ? (unsigned)a->access : 0);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_ptr(data, a ? (void *)a->pool : NULL);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_MAPPING_SIZE:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_u64(data, a ? a->size : 0);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_u64(data, a ? a->start : 0);
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID:
		if (!a && !lenient)
			return CUDA_ERROR_INVALID_VALUE;
		put_u64(data, a ? (a->phys ? (uint64_t)(uintptr_t)a->phys : a->buffer_id) : 0);
		return CUDA_SUCCESS;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

EMU_API CUresult cuPointerGetAttribute(void *data, int attribute, CUdeviceptr ptr)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!data)
		return CUDA_ERROR_INVALID_VALUE;
	emu_mem_lock();
	rc = pointer_attribute(emu_alloc_find(ptr), ptr, attribute, data, 0);
	emu_mem_unlock();
	return rc;
}

EMU_API CUresult cuPointerGetAttributes(unsigned int numAttributes, int *attributes, void **data,
					CUdeviceptr ptr)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (numAttributes && (!attributes || !data))
		return CUDA_ERROR_INVALID_VALUE;
	emu_mem_lock();
	struct emu_alloc *a = emu_alloc_find(ptr);
	for (unsigned i = 0; i < numAttributes && rc == CUDA_SUCCESS; i++) {
		if (!data[i]) {
			rc = CUDA_ERROR_INVALID_VALUE;
			break;
		}
		rc = pointer_attribute(a, ptr, attributes[i], data[i], 1);
	}
	emu_mem_unlock();
	return rc;
}

EMU_API CUresult cuPointerSetAttribute(const void *value, int attribute, CUdeviceptr ptr)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!value || attribute != CU_POINTER_ATTRIBUTE_SYNC_MEMOPS)
		return CUDA_ERROR_INVALID_VALUE;
	unsigned v;
	memcpy(&v, value, sizeof v);
	emu_mem_lock();
	struct emu_alloc *a = emu_alloc_find(ptr);
	if (!a || (a->kind != EMU_ALLOC_DEVICE && a->kind != EMU_ALLOC_MANAGED)) {
		emu_mem_unlock();
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (v)
		a->flags |= EMU_ALLOC_F_SYNC_MEMOPS;
	else
		a->flags &= ~EMU_ALLOC_F_SYNC_MEMOPS;
	emu_mem_unlock();
	return CUDA_SUCCESS;
}

/* --- unified-memory hints: accepted, nothing to do where host and device are one -------- */

static CUresult check_managed_range(CUdeviceptr p, size_t count)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (count == 0)
		return CUDA_ERROR_INVALID_VALUE;
	return emu_check_range(p, count, EMU_RANGE_DEVICE);
}

EMU_API CUresult cuMemAdvise(CUdeviceptr devPtr, size_t count, int advice, CUdevice device)
{
	if (advice < 1 || advice > 6)
		return CUDA_ERROR_INVALID_VALUE;
	return check_managed_range(devPtr, count);
}

EMU_API CUresult cuMemAdvise_v2(CUdeviceptr devPtr, size_t count, int advice, CUmemLocation location)
{
	if (advice < 1 || advice > 6)
		return CUDA_ERROR_INVALID_VALUE;
	return check_managed_range(devPtr, count);
}

EMU_API CUresult cuMemPrefetchAsync(CUdeviceptr devPtr, size_t count, CUdevice dstDevice, CUstream hStream)
{
	CUresult rc = emu_stream_check(hStream, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	return check_managed_range(devPtr, count);
}

EMU_API CUresult cuMemPrefetchAsync_ptsz(CUdeviceptr devPtr, size_t count, CUdevice dstDevice, CUstream hStream)
{
	return cuMemPrefetchAsync(devPtr, count, dstDevice, hStream);
}

EMU_API CUresult cuMemPrefetchAsync_v2(CUdeviceptr devPtr, size_t count, CUmemLocation location,
				       unsigned int flags, CUstream hStream)
{
	CUresult rc = emu_stream_check(hStream, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	return check_managed_range(devPtr, count);
}

EMU_API CUresult cuMemPrefetchAsync_v2_ptsz(CUdeviceptr devPtr, size_t count, CUmemLocation location,
					    unsigned int flags, CUstream hStream)
{
	return cuMemPrefetchAsync_v2(devPtr, count, location, flags, hStream);
}

/* CU_MEM_RANGE_ATTRIBUTE_*: nothing was advised, nothing prefetched. */
static CUresult range_attribute(void *data, size_t size, int attr)
{
	int none = -2; /* CU_DEVICE_INVALID */
	switch (attr) {
	case 1: /* READ_MOSTLY */
		if (size < 4)
			return CUDA_ERROR_INVALID_VALUE;
		memset(data, 0, 4);
		return CUDA_SUCCESS;
	case 2: /* PREFERRED_LOCATION */
	case 4: /* LAST_PREFETCH_LOCATION */
	case 6: /* PREFERRED_LOCATION_ID */
	case 8: /* LAST_PREFETCH_LOCATION_ID */
		if (size < 4)
			return CUDA_ERROR_INVALID_VALUE;
		memcpy(data, &none, 4);
		return CUDA_SUCCESS;
	case 5: /* PREFERRED_LOCATION_TYPE */
	case 7: /* LAST_PREFETCH_LOCATION_TYPE */
		if (size < 4)
			return CUDA_ERROR_INVALID_VALUE;
		memset(data, 0, 4); /* CU_MEM_LOCATION_TYPE_INVALID */
		return CUDA_SUCCESS;
	case 3: /* ACCESSED_BY: a list of devices, -2 terminated/filled */
		if (size == 0 || size % 4)
			return CUDA_ERROR_INVALID_VALUE;
		for (size_t i = 0; i < size / 4; i++)
			memcpy((char *)data + 4 * i, &none, 4);
		return CUDA_SUCCESS;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

EMU_API CUresult cuMemRangeGetAttribute(void *data, size_t dataSize, int attribute, CUdeviceptr devPtr,
					size_t count)
{
	CUresult rc = check_managed_range(devPtr, count);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!data)
		return CUDA_ERROR_INVALID_VALUE;
	return range_attribute(data, dataSize, attribute);
}

EMU_API CUresult cuMemRangeGetAttributes(void **data, size_t *dataSizes, int *attributes,
					 size_t numAttributes, CUdeviceptr devPtr, size_t count)
{
	CUresult rc = check_managed_range(devPtr, count);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (numAttributes == 0 || !data || !dataSizes || !attributes)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < numAttributes; i++) {
		if (!data[i])
			return CUDA_ERROR_INVALID_VALUE;
		rc = range_attribute(data[i], dataSizes[i], attributes[i]);
		if (rc != CUDA_SUCCESS)
			return rc;
	}
	return CUDA_SUCCESS;
}

/* --- a context goes -------------------------------------------------------------------- */

void emu_memory_context_gone(CUcontext ctx)
{
	if (!ctx)
		return;
	emu_streams_context_gone(ctx);
	emu_events_context_gone(ctx);
	emu_modules_context_gone(ctx);
	emu_pools_context_gone(ctx);
	emu_mem_lock();
	for (size_t i = 0; i < table_n;) {
		struct emu_alloc *a = table[i];
		if (a->ctx != ctx) {
			i++;
			continue;
		}
		if (a->kind == EMU_ALLOC_DEVICE || a->kind == EMU_ALLOC_MANAGED)
			emu_devmem_release_locked(a);
		else if (a->kind == EMU_ALLOC_HOST || a->kind == EMU_ALLOC_REGISTERED)
			host_release_locked(a);
		else
			i++;
	}
	emu_mem_unlock();
}

/* The shared accounting region after the launcher's header: per-GPU totals and
 * per-process shares, lock-free on MAP_SHARED memory.  Layout and rules:
 * shim/common/accounting.h and docs/accounting.md.
 *
 * ISO C + POSIX + Linux only: built for the shim (glibc) and the unit tests (musl). */
#include "shim/common/accounting.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct accounting_gpu) == 64, "one cache line per GPU total");
_Static_assert(sizeof(struct accounting_slot) == 192, "three cache lines per slot");
_Static_assert(__builtin_offsetof(struct accounting_region, slot_hwm) == 64, "layout");
_Static_assert(__builtin_offsetof(struct accounting_region, gpu) == 128, "layout");
_Static_assert(__builtin_offsetof(struct accounting_region, slot) == ACCOUNTING_SLOTS_OFFSET,
	       "layout");

/* --- messages ------------------------------------------------------------------------ */

static __attribute__((noinline, cold)) void say(const char *msg)
{
	char line[512];
	int n = snprintf(line, sizeof line, "vgpu shim (accounting): %s\n", msg);
	if (n > 0)
		(void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void say_once(int *flag, const char *msg)
{
	if (__atomic_exchange_n(flag, 1, __ATOMIC_RELAXED) == 0)
		say(msg);
}

static int warned_release, warned_total, warned_slots;

/* --- fork: a child must not keep using its parent's slot ------------------------------ */

uint32_t accounting_fork_generation = 1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void after_fork_child(void)
{
	/* The child has one thread.  Never 0: accounting_self takes a generation that
	 * matches a self of 0 (none yet) for a claimed slot. */
	uint32_t g = accounting_fork_generation + 1;
	__atomic_store_n(&accounting_fork_generation, g ? g : 1, __ATOMIC_SEQ_CST);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, after_fork_child);
}

/* --- /proc ------------------------------------------------------------------------------ */

/* 0: read (state and start filled), -1: no such process, -2: cannot tell. */
static int proc_stat(int pid, char *state, uint64_t *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -1 : -2;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return e == ESRCH ? -1 : -2;
	buf[n] = '\0';
	/* "pid (comm) S f4 ... f22": comm may hold spaces and parentheses; the last ')'
	 * ends it. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -2;
	p += 2;
	*state = *p;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -2;
		p++;
	}
	uint64_t v = 0;
	if (*p < '0' || *p > '9')
		return -2;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	*start = v & ((1ull << 40) - 1);
	return 0;
}

uint64_t accounting_start_time(int pid)
{
	char state;
	uint64_t start;
	return proc_stat(pid, &state, &start) == 0 ? start : 0;
}

/* Is the owner of key certainly dead?  Gone, a zombie (its driver state is already torn
 * down), or its pid now another process's.  When /proc cannot tell: alive. */
static int owner_dead(uint64_t key)
{
	char state;
	uint64_t start;
	int rc = proc_stat((int)ACCOUNTING_KEY_PID(key), &state, &start);
	if (rc == -1)
		return 1;
	if (rc != 0)
		return 0;
	return state == 'Z' || state == 'X' || start != ACCOUNTING_KEY_START(key);
}

/* --- mapping ------------------------------------------------------------------------- */

int accounting_attach(struct accounting *a, void *map, size_t size)
{
	memset(a, 0, sizeof *a);
	if (!map || size < ACCOUNTING_SLOTS_OFFSET + sizeof(struct accounting_slot))
		return -1;
	size_t n = ACCOUNTING_NSLOTS(size);
	a->r = map;
	a->size = size;
	/* accounting_self finds the slot by its offset in 32 bits: a region beyond 4 GiB
	 * (1 MiB is what the launcher makes) has its further slots left unused. */
	size_t most = (UINT32_MAX - ACCOUNTING_SLOTS_OFFSET) / sizeof(struct accounting_slot);
	a->nslots = (uint32_t)(n < most ? n : most);
	pthread_once(&atfork_once, register_atfork);
	return 0;
}

int accounting_map_fd(struct accounting *a, int fd, const char *name, char *err, size_t errlen)
{
	struct stat st;
	struct accounting_header h;
	memset(a, 0, sizeof *a);
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", name);
	} else if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
		snprintf(err, errlen, "%s: shorter than its header (%lld bytes)", name,
			 (long long)st.st_size);
	} else if (h.magic != ACCOUNTING_MAGIC) {
		snprintf(err, errlen, "%s: not an accounting region", name);
	} else if (h.version != ACCOUNTING_VERSION) {
		snprintf(err, errlen, "%s: accounting format %u, this shim knows %u", name,
			 h.version, ACCOUNTING_VERSION);
	} else if (h.region_size != (uint64_t)st.st_size ||
		   h.region_size < ACCOUNTING_SLOTS_OFFSET + sizeof(struct accounting_slot) ||
		   h.region_size > SIZE_MAX) {
		snprintf(err, errlen, "%s: its header says %llu bytes, the file has %lld", name,
			 (unsigned long long)h.region_size, (long long)st.st_size);
	} else {
		void *m = mmap(NULL, (size_t)h.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			snprintf(err, errlen, "%s: cannot map it: %s", name, strerror(errno));
			return -1;
		}
		accounting_attach(a, m, (size_t)h.region_size);
		a->mapped = 1;
		return 0;
	}
	return -1;
}

int accounting_open(struct accounting *a, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		memset(a, 0, sizeof *a);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	int rc = accounting_map_fd(a, fd, path, err, errlen);
	close(fd);
	return rc;
}

void accounting_close(struct accounting *a)
{
	if (a->mapped && a->r)
		munmap(a->r, a->size);
	memset(a, 0, sizeof *a);
}

/* --- slots --------------------------------------------------------------------------- */

static void raise_hwm(struct accounting_region *r, uint32_t n)
{
	uint32_t cur = __atomic_load_n(&r->slot_hwm, __ATOMIC_RELAXED);
	while (cur < n && !__atomic_compare_exchange_n(&r->slot_hwm, &cur, n, 1, __ATOMIC_ACQ_REL,
						       __ATOMIC_RELAXED))
		;
}

/* Claim a free slot for key; its index, or -1 when none is free. */
static long claim_free(struct accounting *a, uint64_t key)
{
	for (uint32_t i = 0; i < a->nslots; i++) {
		uint64_t *k = &a->r->slot[i].key;
		uint64_t expect = 0;
		if (__atomic_load_n(k, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(k, &expect, key, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			raise_hwm(a->r, i + 1);
			return (long)i;
		}
	}
	return -1;
}

/* The slow path of accounting_self (accounting.h): first use in this process (or since
 * a fork). */
struct accounting_slot *accounting_claim_self(struct accounting *a, uint64_t gen, uint64_t seen)
{
	int pid = (int)getpid();
	uint64_t key = ACCOUNTING_KEY(ACCOUNTING_SLOT_ACTIVE, pid, accounting_start_time(pid));
	long idx = claim_free(a, key);
	if (idx < 0) {
		accounting_reclaim_dead(a);
		idx = claim_free(a, key);
	}
	if (idx < 0) {
		say_once(&warned_slots, "no free process slot in the accounting region (too many "
					"live processes): allocations are refused");
		return NULL;
	}
	/* The offset fits in 32 bits (accounting_attach) and is never 0 (the slots follow
	 * the header). */
	uint64_t mine = (gen << 32) | (uint64_t)((char *)&a->r->slot[idx] - (char *)a->r);
	for (;;) {
		if (__atomic_compare_exchange_n(&a->self, &seen, mine, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return &a->r->slot[idx];
		if ((uint32_t)(seen >> 32) == (uint32_t)gen) {
			/* Another thread of ours claimed one first: ours holds no bytes yet. */
			__atomic_store_n(&a->r->slot[idx].key, 0, __ATOMIC_RELEASE);
			return (struct accounting_slot *)((char *)a->r + (uint32_t)seen);
		}
	}
}

/* Reserve at the cap walks the slots (reading /proc) at most once a millisecond per
 * process: a program probing the cap in a loop must not turn every refusal into
 * system calls. */
#define RECLAIM_INTERVAL_NS 1000000ull

static int reclaim_due(struct accounting *a)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 1;
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	uint64_t last = __atomic_load_n(&a->last_reclaim_ns, __ATOMIC_RELAXED);
	if (last != 0 && now - last < RECLAIM_INTERVAL_NS)
		return 0;
	return __atomic_compare_exchange_n(&a->last_reclaim_ns, &last, now, 0, __ATOMIC_RELAXED,
					   __ATOMIC_RELAXED);
}

/* --- the API ------------------------------------------------------------------------- */

/* Raise the total of gpu by bytes while it stays <= cap, and this process's share with
 * it: 0, or -1 when the cap refuses. */
static int reserve_loop(struct accounting *a, struct accounting_slot *s, unsigned gpu,
			uint64_t bytes, uint64_t cap)
{
	uint64_t *used = &a->r->gpu[gpu].used;
	uint64_t cur = __atomic_load_n(used, __ATOMIC_RELAXED);
	while (bytes <= cap && cur <= cap - bytes) {
		if (__atomic_compare_exchange_n(used, &cur, cur + bytes, 1, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			__atomic_add_fetch(&s->bytes[gpu], bytes, __ATOMIC_RELAXED); /* as reserve */
			return 0;
		}
	}
	return -1;
}

/* accounting_reserve's one try failed: try until the cap refuses; then one walk over
 * dead processes' shares (at most one a millisecond), and one more try. */
int accounting_reserve_retry(struct accounting *a, struct accounting_slot *s, unsigned gpu,
			     uint64_t bytes, uint64_t cap)
{
	if (reserve_loop(a, s, gpu, bytes, cap) == 0)
		return 0;
	if (bytes > cap || !reclaim_due(a) || accounting_reclaim_dead(a) == 0)
		return -1;
	return reserve_loop(a, s, gpu, bytes, cap);
}

uint64_t accounting_sub_clamped_retry(uint64_t *p, uint64_t v)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED), take;
	do {
		take = cur < v ? cur : v;
	} while (!__atomic_compare_exchange_n(p, &cur, cur - take, 1, __ATOMIC_ACQ_REL,
					      __ATOMIC_RELAXED));
	return take;
}

void accounting_warn(int what)
{
	if (what == 0)
		say_once(&warned_release, "released more memory than this process reserved "
					  "(a double free?): clamped, the totals are kept");
	else
		say_once(&warned_total, "a GPU total fell below the shares it holds: clamped at 0");
}

uint64_t accounting_used(const struct accounting *a, unsigned gpu)
{
	if (!a->r || gpu >= ACCOUNTING_MAX_GPUS)
		return 0;
	return __atomic_load_n(&a->r->gpu[gpu].used, __ATOMIC_ACQUIRE);
}

uint64_t accounting_mine(struct accounting *a, unsigned gpu)
{
	if (!a->r || gpu >= ACCOUNTING_MAX_GPUS)
		return 0;
	uint32_t gen = __atomic_load_n(&accounting_fork_generation, __ATOMIC_ACQUIRE);
	uint64_t s = __atomic_load_n(&a->self, __ATOMIC_ACQUIRE);
	if ((uint32_t)(s >> 32) != gen)
		return 0;
	struct accounting_slot *slot = (struct accounting_slot *)((char *)a->r + (uint32_t)s);
	return __atomic_load_n(&slot->bytes[gpu], __ATOMIC_RELAXED);
}

int accounting_reclaim_dead(struct accounting *a)
{
	if (!a->r)
		return 0;
	uint32_t hwm = __atomic_load_n(&a->r->slot_hwm, __ATOMIC_ACQUIRE);
	if (hwm > a->nslots)
		hwm = a->nslots;
	int reclaimed = 0;
	for (uint32_t i = 0; i < hwm; i++) {
		struct accounting_slot *s = &a->r->slot[i];
		uint64_t key = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
		if (ACCOUNTING_KEY_STATE(key) != ACCOUNTING_SLOT_ACTIVE || !owner_dead(key))
			continue;
		/* One reclaimer wins the slot; the key (pid + start time) names one process
		 * ever, so a slot freed and claimed again in between cannot match. */
		uint64_t mine = (key & ~(3ull << 62)) | (ACCOUNTING_SLOT_RECLAIMING << 62);
		if (!__atomic_compare_exchange_n(&s->key, &key, mine, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		for (unsigned g = 0; g < ACCOUNTING_MAX_GPUS; g++) {
			uint64_t b = __atomic_exchange_n(&s->bytes[g], 0, __ATOMIC_ACQ_REL);
			if (b && accounting_sub_clamped(&a->r->gpu[g].used, b) < b)
				say_once(&warned_total,
					 "a GPU total fell below the shares it holds: clamped at 0");
		}
		__atomic_store_n(&s->key, 0, __ATOMIC_RELEASE);
		reclaimed++;
	}
	return reclaimed;
}

unsigned accounting_slots_in_use(const struct accounting *a)
{
	if (!a->r)
		return 0;
	uint32_t hwm = __atomic_load_n(&a->r->slot_hwm, __ATOMIC_ACQUIRE);
	if (hwm > a->nslots)
		hwm = a->nslots;
	unsigned n = 0;
	for (uint32_t i = 0; i < hwm; i++)
		if (__atomic_load_n(&a->r->slot[i].key, __ATOMIC_ACQUIRE) != 0)
			n++;
	return n;
}

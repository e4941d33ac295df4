/* The shim's allocation table (shim/cuda/ptrtable.c): insert, find, take, references,
 * scans, growth, a random sequence checked against a plain model, many threads at once,
 * and a child after fork. */
#include "shim/cuda/ptrtable.h"
#include "tests/unit/check.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024ull * 1024ull)

static struct ptr_entry entry(unsigned kind, uint64_t key, uint64_t bytes, uint64_t owner)
{
	return (struct ptr_entry){ .key = key, .bytes = bytes, .owner = owner, .kind = (uint8_t)kind };
}

/* The shards are cache-line aligned: calloc's 16 bytes would not do. */
static struct ptrtable *new_table(void)
{
	struct ptrtable *t = aligned_alloc(64, sizeof *t);
	if (!t) {
		fprintf(stderr, "test_ptrtable: out of memory\n");
		exit(1);
	}
	memset(t, 0, sizeof *t);
	return t;
}

static int has(struct ptrtable *t, unsigned kind, uint64_t key)
{
	struct ptr_entry e;
	return ptrtable_find(t, kind, key, &e);
}

/* --- basics ------------------------------------------------------------------------------ */

static void test_basics(void)
{
	struct ptrtable *t = new_table();
	struct ptr_entry e, d;
	CHECK(!has(t, PTR_DEVICE, 0x7f0000000000) && ptrtable_count(t) == 0, "an empty table finds nothing");
	CHECK(!ptrtable_take(t, PTR_DEVICE, 0x7f0000000000, &e), "an empty table takes nothing");

	e = entry(PTR_DEVICE, 0x7f0000200000, 4 * MIB, 0x1234);
	e.vdev = 3;
	CHECK(ptrtable_insert(t, &e, &d) == 0, "insert a device pointer");
	struct ptr_entry got;
	CHECK(ptrtable_find(t, PTR_DEVICE, 0x7f0000200000, &got) && got.bytes == 4 * MIB &&
		      got.owner == 0x1234 && got.vdev == 3 && got.kind == PTR_DEVICE,
	      "find gives back what was inserted");
	CHECK(!has(t, PTR_ARRAY, 0x7f0000200000), "the same number as another kind is another key");

	struct ptr_entry other = entry(PTR_ARRAY, 0x7f0000200000, 100, 0);
	CHECK(ptrtable_insert(t, &other, &d) == 0 && ptrtable_count(t) == 2, "both kinds live side by side");

	struct ptr_entry again = entry(PTR_DEVICE, 0x7f0000200000, 8 * MIB, 0x99);
	memset(&d, 0, sizeof d);
	CHECK(ptrtable_insert(t, &again, &d) == 1 && d.bytes == 4 * MIB && d.owner == 0x1234,
	      "inserting a key again replaces the stale entry and hands it back");
	CHECK(ptrtable_count(t) == 2, "a replacement does not add an entry");

	CHECK(ptrtable_take(t, PTR_DEVICE, 0x7f0000200000, &got) && got.bytes == 8 * MIB,
	      "take removes and returns the entry");
	CHECK(!has(t, PTR_DEVICE, 0x7f0000200000) && has(t, PTR_ARRAY, 0x7f0000200000),
	      "after take only the other kind remains");
	CHECK(!ptrtable_take(t, PTR_DEVICE, 0x7f0000200000, &got), "a second take finds nothing (double free)");

	/* References: a VMM handle, retained once. */
	struct ptr_entry h = entry(PTR_HANDLE, 0x5555, 2 * MIB, 0);
	h.refs = 1;
	ptrtable_insert(t, &h, &d);
	CHECK(ptrtable_ref(t, PTR_HANDLE, 0x5555, +1, &got) == 1 && got.refs == 2, "ref +1: 2 references");
	CHECK(ptrtable_ref(t, PTR_HANDLE, 0x5555, -1, &got) == 1 && got.refs == 1, "ref -1: 1 left, kept");
	CHECK(ptrtable_ref(t, PTR_HANDLE, 0x5555, -1, &got) == 0 && got.bytes == 2 * MIB && !has(t, PTR_HANDLE, 0x5555),
	      "the last reference removes the entry and returns it");
	CHECK(ptrtable_ref(t, PTR_HANDLE, 0x5555, -1, &got) == -1, "ref on a missing key: -1");
	ptrtable_destroy(t);
	free(t);
}

/* --- growth ---------------------------------------------------------------------------- */

static void test_growth(void)
{
	struct ptrtable *t = new_table();
	struct ptr_entry d;
	const uint64_t n = 200000;
	int ok = 1;
	/* 2 MiB-aligned keys: the low 21 bits are all zero, as device pointers' are. */
	for (uint64_t i = 0; i < n && ok; i++) {
		struct ptr_entry e = entry(PTR_DEVICE, 0x7f0000000000 + i * 2 * MIB, i + 1, i % 7);
		ok = ptrtable_insert(t, &e, &d) == 0;
	}
	CHECK(ok && ptrtable_count(t) == n, "200000 entries inserted, the table grew (count %zu)", ptrtable_count(t));
	size_t found = 0, right = 0;
	for (uint64_t i = 0; i < n; i++) {
		struct ptr_entry e;
		if (ptrtable_find(t, PTR_DEVICE, 0x7f0000000000 + i * 2 * MIB, &e)) {
			found++;
			right += e.bytes == i + 1;
		}
	}
	CHECK(found == n && right == n, "every entry is found with its own value after growth (%zu, %zu)", found, right);
	size_t max_cap = 0, min_cap = SIZE_MAX;
	for (unsigned k = 0; k < PTRTABLE_SHARDS; k++) {
		if (t->shard[k].cap > max_cap)
			max_cap = t->shard[k].cap;
		if (t->shard[k].cap < min_cap)
			min_cap = t->shard[k].cap;
	}
	CHECK(min_cap > 0 && max_cap <= 4 * min_cap, "the keys spread over all shards (slots per shard %zu..%zu)",
	      min_cap, max_cap);
	for (uint64_t i = 0; i < n; i += 2) {
		struct ptr_entry e;
		ptrtable_take(t, PTR_DEVICE, 0x7f0000000000 + i * 2 * MIB, &e);
	}
	size_t odd = 0, even = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (has(t, PTR_DEVICE, 0x7f0000000000 + i * 2 * MIB))
			*(i % 2 ? &odd : &even) += 1;
	}
	CHECK(odd == n / 2 && even == 0 && ptrtable_count(t) == n / 2,
	      "after taking every other entry exactly the rest remains (%zu, %zu)", odd, even);
	ptrtable_destroy(t);
	free(t);
}

/* --- a random sequence against a model ----------------------------------------------------- */

#define MODEL_KEYS 3000

/* A few thousand keys over three kinds, in one small range: long probe runs, many
 * deletions inside them, growth in between, and scans removing by owner. */
static void test_model(void)
{
	struct ptrtable *t = new_table();
	static uint64_t model[3][MODEL_KEYS]; /* bytes + 1, or 0: absent */
	memset(model, 0, sizeof model);
	unsigned seed = 12345;
	int bad = 0;
	for (int step = 0; step < 400000 && !bad; step++) {
		unsigned r = (unsigned)rand_r(&seed);
		unsigned kind = 1 + r % 3, k = (r >> 2) % MODEL_KEYS;
		uint64_t key = 0x10000 + (uint64_t)k * 512;
		struct ptr_entry got, d;
		if ((r >> 20) % 2) {
			struct ptr_entry e = entry(kind, key, step, k % 5);
			int rc = ptrtable_insert(t, &e, &d);
			if (rc != (model[kind - 1][k] ? 1 : 0) || (rc == 1 && d.bytes + 1 != model[kind - 1][k]))
				bad = 1;
			model[kind - 1][k] = (uint64_t)step + 1;
		} else {
			int rc = ptrtable_take(t, kind, key, &got);
			if (rc != (model[kind - 1][k] != 0) || (rc && got.bytes + 1 != model[kind - 1][k]))
				bad = 1;
			model[kind - 1][k] = 0;
		}
	}
	CHECK(!bad, "400000 random inserts and takes agree with the model, step by step");

	size_t expect = 0, agree = 0;
	for (unsigned kind = 1; kind <= 3; kind++)
		for (unsigned k = 0; k < MODEL_KEYS; k++) {
			struct ptr_entry got;
			int rc = ptrtable_find(t, kind, 0x10000 + (uint64_t)k * 512, &got);
			expect += model[kind - 1][k] != 0;
			agree += rc == (model[kind - 1][k] != 0) && (!rc || got.bytes + 1 == model[kind - 1][k]);
		}
	CHECK(agree == 3 * MODEL_KEYS && ptrtable_count(t) == expect, "the final contents equal the model (%zu entries)", expect);
	ptrtable_destroy(t);
	free(t);
}

/* --- scans ----------------------------------------------------------------------------- */

static int owned_by(const struct ptr_entry *e, void *arg)
{
	return e->owner == *(uint64_t *)arg;
}

static uint64_t scan_sum;

static void add_bytes(const struct ptr_entry *e, void *arg)
{
	(void)arg;
	scan_sum += e->bytes;
}

static void test_take_if(void)
{
	struct ptrtable *t = new_table();
	struct ptr_entry d;
	uint64_t want = 0;
	/* Owners interleaved so that taking one owner's entries deletes inside runs. */
	for (uint64_t i = 0; i < 20000; i++) {
		struct ptr_entry e = entry(PTR_DEVICE, 0x20000000 + i * 512, i, i % 3 == 0 ? 0xa : 0xb);
		if (i % 3 == 0)
			want += i;
		ptrtable_insert(t, &e, &d);
	}
	uint64_t owner = 0xa;
	scan_sum = 0;
	size_t n = ptrtable_take_if(t, owned_by, add_bytes, &owner);
	CHECK(n == 6667 && scan_sum == want, "take_if removes exactly one owner's entries (%zu, sum %llu)", n,
	      (unsigned long long)scan_sum);
	size_t left = 0;
	for (uint64_t i = 0; i < 20000; i++)
		left += has(t, PTR_DEVICE, 0x20000000 + i * 512) == (i % 3 != 0);
	CHECK(left == 20000 && ptrtable_count(t) == 13333, "every other entry is still found after the scan");
	ptrtable_destroy(t);
	free(t);
}

/* --- threads ---------------------------------------------------------------------------- */

#define THREADS 8
#define ROUNDS 200000

static struct ptrtable *shared_table;
static int stop_scanning;

struct worker {
	unsigned id;
	int wrong;        /* an entry came back with another thread's value */
	uint64_t held;    /* entries this thread left in the table */
};

/* Each thread inserts and takes its own keys (interleaved with every other thread's
 * in the same shards), keeping some, and checks every value it gets back is its own. */
static void *worker(void *p)
{
	struct worker *w = p;
	unsigned seed = w->id * 7919u + 1;
	struct ptr_entry d, got;
	for (uint64_t i = 0; i < ROUNDS; i++) {
		uint64_t key = 0x7f0000000000 + (i * THREADS + w->id) * 512;
		struct ptr_entry e = entry(PTR_DEVICE, key, i, 0x100 + w->id);
		if (ptrtable_insert(shared_table, &e, &d) != 0)
			w->wrong++;
		if (rand_r(&seed) % 4 == 0) {
			w->held++;
			continue;
		}
		if (!ptrtable_take(shared_table, PTR_DEVICE, key, &got) || got.bytes != i || got.owner != 0x100 + w->id)
			w->wrong++;
	}
	return NULL;
}

static int never(const struct ptr_entry *e, void *arg)
{
	(void)arg;
	return e->owner == 0xdead;
}

/* Scans all the while, as cuCtxDestroy would, matching nothing. */
static void *scanner(void *p)
{
	(void)p;
	size_t n = 0;
	while (!__atomic_load_n(&stop_scanning, __ATOMIC_ACQUIRE))
		n += ptrtable_take_if(shared_table, never, NULL, NULL);
	return (void *)n;
}

static void test_threads(void)
{
	shared_table = new_table();
	pthread_t th[THREADS], sc;
	struct worker w[THREADS];
	pthread_create(&sc, NULL, scanner, NULL);
	for (unsigned i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .id = i };
		pthread_create(&th[i], NULL, worker, &w[i]);
	}
	uint64_t held = 0;
	int wrong = 0;
	for (unsigned i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		held += w[i].held;
		wrong += w[i].wrong;
	}
	__atomic_store_n(&stop_scanning, 1, __ATOMIC_RELEASE);
	void *scanned;
	pthread_join(sc, &scanned);
	CHECK(wrong == 0, "%d threads x %d inserts and takes: every value came back to its own thread", THREADS, ROUNDS);
	CHECK(ptrtable_count(shared_table) == held && scanned == NULL,
	      "what the threads kept is exactly what is left (%llu), a concurrent scan took nothing",
	      (unsigned long long)held);
	ptrtable_destroy(shared_table);
	free(shared_table);
}

/* --- fork ---------------------------------------------------------------------------------- */

static void test_fork(void)
{
	struct ptrtable *t = new_table();
	struct ptr_entry d;
	for (uint64_t i = 0; i < 1000; i++) {
		struct ptr_entry e = entry(PTR_DEVICE, 0x30000000 + i * 512, 1, 0);
		ptrtable_insert(t, &e, &d);
	}
	t->shard[5].lock = 1; /* as if another thread of the parent held a lock at fork */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		ptrtable_forget_all(t);
		int ok = ptrtable_count(t) == 0 && !has(t, PTR_DEVICE, 0x30000000);
		for (uint64_t i = 0; i < 1000 && ok; i++) {
			struct ptr_entry e = entry(PTR_DEVICE, 0x30000000 + i * 512, 2, 0);
			ok = ptrtable_insert(t, &e, &d) == 0;
		}
		_exit(ok && ptrtable_count(t) == 1000 ? 0 : 1);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "a child after fork: empty table, locks free (one was held), usable again");
	t->shard[5].lock = 0;
	struct ptr_entry got;
	CHECK(ptrtable_count(t) == 1000 && ptrtable_find(t, PTR_DEVICE, 0x30000000, &got) && got.bytes == 1,
	      "the parent's table is untouched by the child");
	ptrtable_destroy(t);
	free(t);
}

/* --- cost (informational: this binary is unoptimised) ------------------------------------------ */

static void test_cost(void)
{
	struct ptrtable *t = new_table();
	struct ptr_entry d, got;
	/* A table with some thousands of live entries, as a real program has. */
	for (uint64_t i = 0; i < 5000; i++) {
		struct ptr_entry e = entry(PTR_DEVICE, 0x40000000 + i * 2 * MIB, 1, 0);
		ptrtable_insert(t, &e, &d);
	}
	const int n = 1000000;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		struct ptr_entry e = entry(PTR_DEVICE, 0x900000000000 + (uint64_t)(i % 64) * 512, 1, 0);
		ptrtable_insert(t, &e, &d);
		ptrtable_take(t, PTR_DEVICE, e.key, &got);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
	printf("# insert+take pair: %.1f ns (unoptimised build)\n", ns);
	CHECK(ptrtable_count(t) == 5000, "a million insert+take pairs leave the table as it was");
	ptrtable_destroy(t);
	free(t);
}

int main(void)
{
	test_basics();
	test_growth();
	test_model();
	test_take_if();
	test_threads();
	test_fork();
	test_cost();
	return check_done();
}

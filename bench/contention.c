/* bench_contention: PROCS processes allocate and free device memory in a loop for
 * SECONDS, all at once, through libcuda.so.1 (inside vgpu-run: the shim, whose caps and
 * accounting they share; outside, with LD_LIBRARY_PATH to the emulator: the driver
 * alone, for reference).
 *
 *   bench_contention PROCS SECONDS SIZE HOLD CAP [LIB]
 *
 * LIB is the library each process dlopens (default libcuda.so.1; inside vgpu-run the
 * lower driver's path RUNDIR/driver/lower:libcuda.so.1 measures the emulator in the
 * sandbox without the shim).
 * Each process keeps up to HOLD allocations of SIZE bytes (cuMemAlloc_v2), freeing all
 * it holds when it has HOLD or, at random, one time in three, like capalloc's threads op.
 * A shared word counts the bytes all of them hold: raised after an allocation succeeded,
 * lowered before its free, so it never exceeds what they really hold; whenever it is
 * above CAP (0: no cap) that is a violation.  Processes are forked before any of them
 * loads CUDA, start together on a shared flag, and stop at the same deadline.
 *
 * Output, one JSON line: {"procs": P, "seconds": S, "calls": C, "allocs": A,
 * "oom": O, "other": E, "max_held": M, "violations": V}, where calls counts every
 * cuMemAlloc_v2 and cuMemFree_v2 and seconds is the measured span. */
#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

struct shared {
	uint64_t held;
	uint64_t max_held;
	uint64_t violations;
	uint64_t ready;
	uint64_t go_ns;  /* 0 until the start */
	uint64_t stop_ns;
	struct {
		uint64_t calls, allocs, oom, other;
		char pad[32];
	} per[256];
};

static struct shared *sh;

typedef CUresult (*alloc_fn)(CUdeviceptr *, size_t);
typedef CUresult (*free_fn)(CUdeviceptr);

static void note_max(uint64_t v)
{
	uint64_t m = __atomic_load_n(&sh->max_held, __ATOMIC_RELAXED);
	while (v > m && !__atomic_compare_exchange_n(&sh->max_held, &m, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static int child(int me, uint64_t size, int hold, uint64_t cap, const char *lib)
{
	void *cuda = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!cuda) {
		fprintf(stderr, "bench_contention: %s\n", dlerror());
		return 1;
	}
	CUcontext ctx;
	if (((CUresult(*)(unsigned))dlsym(cuda, "cuInit"))(0) ||
	    ((CUresult(*)(CUcontext *, CUdevice))dlsym(cuda, "cuDevicePrimaryCtxRetain"))(&ctx, 0) ||
	    ((CUresult(*)(CUcontext))dlsym(cuda, "cuCtxSetCurrent"))(ctx)) {
		fprintf(stderr, "bench_contention: CUDA set-up failed\n");
		return 1;
	}
	alloc_fn alloc = (alloc_fn)dlsym(cuda, "cuMemAlloc_v2");
	free_fn mfree = (free_fn)dlsym(cuda, "cuMemFree_v2");
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	uint64_t go;
	while ((go = __atomic_load_n(&sh->go_ns, __ATOMIC_ACQUIRE)) == 0)
		sched_yield();
	uint64_t stop = sh->stop_ns;
	unsigned seed = (unsigned)me * 2654435761u + 1;
	CUdeviceptr mine[64];
	int n = 0;
	uint64_t calls = 0, allocs = 0, oom = 0, other = 0;
	for (uint64_t k = 0;; k++) {
		if ((k & 15) == 0 && bench_now_ns() >= stop)
			break;
		CUdeviceptr p;
		CUresult rc = alloc(&p, size);
		calls++;
		if (rc == 0) {
			allocs++;
			uint64_t now = __atomic_add_fetch(&sh->held, size, __ATOMIC_SEQ_CST);
			note_max(now);
			if (cap && now > cap)
				__atomic_add_fetch(&sh->violations, 1, __ATOMIC_SEQ_CST);
			mine[n++] = p;
		} else if (rc == 2) {
			oom++;
		} else {
			other++;
		}
		if (n == hold || (n > 0 && rand_r(&seed) % 3 == 0)) {
			while (n > 0) {
				__atomic_sub_fetch(&sh->held, size, __ATOMIC_SEQ_CST);
				if (mfree(mine[--n]))
					other++;
				calls++;
			}
		}
	}
	while (n > 0) {
		__atomic_sub_fetch(&sh->held, size, __ATOMIC_SEQ_CST);
		if (mfree(mine[--n]))
			other++;
	}
	sh->per[me].calls = calls;
	sh->per[me].allocs = allocs;
	sh->per[me].oom = oom;
	sh->per[me].other = other;
	return 0;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);
	switch (*end) {
	case 'K': return v << 10;
	case 'M': return v << 20;
	case 'G': return v << 30;
	default: return v;
	}
}

int main(int argc, char **argv)
{
	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: bench_contention PROCS SECONDS SIZE HOLD CAP [LIB]\n");
		return 2;
	}
	int procs = atoi(argv[1]);
	double seconds = atof(argv[2]);
	uint64_t size = parse_size(argv[3]);
	int hold = atoi(argv[4]);
	uint64_t cap = parse_size(argv[5]);
	const char *lib = argc > 6 ? argv[6] : "libcuda.so.1";
	if (procs < 1 || procs > 256 || hold < 1 || hold > 64) {
		fprintf(stderr, "bench_contention: PROCS 1..256, HOLD 1..64\n");
		return 2;
	}
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("bench_contention: mmap");
		return 1;
	}
	pid_t pids[256];
	for (int i = 0; i < procs; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(child(i, size, hold, cap, lib));
	}
	/* Everyone loaded and initialised, then go. */
	uint64_t wait_until = bench_now_ns() + 30000000000ull;
	while (__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE) < (uint64_t)procs && bench_now_ns() < wait_until)
		usleep(1000);
	uint64_t go = bench_now_ns() + 1000000;
	sh->stop_ns = go + (uint64_t)(seconds * 1e9);
	__atomic_store_n(&sh->go_ns, go, __ATOMIC_RELEASE);
	int failed = 0;
	for (int i = 0; i < procs; i++) {
		int status;
		waitpid(pids[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	uint64_t calls = 0, allocs = 0, oom = 0, other = 0;
	for (int i = 0; i < procs; i++) {
		calls += sh->per[i].calls;
		allocs += sh->per[i].allocs;
		oom += sh->per[i].oom;
		other += sh->per[i].other;
	}
	printf("{\"procs\": %d, \"seconds\": %.3f, \"calls\": %llu, \"allocs\": %llu, \"oom\": %llu, "
	       "\"other\": %llu, \"max_held\": %llu, \"violations\": %llu, \"failed\": %d}\n",
	       procs, (double)(sh->stop_ns - go) / 1e9, (unsigned long long)calls, (unsigned long long)allocs,
	       (unsigned long long)oom, (unsigned long long)other, (unsigned long long)sh->max_held,
	       (unsigned long long)sh->violations, failed);
	return failed ? 1 : 0;
}

/* capalloc [OPTION...] OP...: allocates device memory through libcuda.so.1 as a program
 * would, for the memory-cap tests (tests/bats/shim_caps.bats).  One line on stdout per
 * op, in order.
 *
 * Options (before the ops):
 *   dev=N            the CUDA ordinal (default 0)
 *   ctx=primary      retain the device's primary context and make it current (default)
 *   ctx=create       cuCtxCreate_v2 instead
 *   cap=BYTES        for threads: the cap the sum must never exceed
 *   shared=FILE      for threads: a file (>= 64 bytes) whose first words count, across
 *                    processes, the bytes all of them hold and the violations seen
 *   lower=PATH       for bench: the lower driver, to compare with
 * Sizes take a suffix K, M or G (powers of 1024).  ENTRY is one of
 *   alloc alloc32 pitch pitch32 managed async async_ptsz pool pool_ptsz
 *   vmm (cuMemCreate, cuMemAddressReserve, cuMemMap, then cuMemRelease at once: the
 *        memory lives while it is mapped) vmmh (cuMemCreate alone)
 *   array array32 array3d array3d32 mipmap (8-bit, one channel: SIZE elements)
 * Ops:
 *   info                  "info free=F total=T used=U" (cuMemGetInfo_v2; used = T - F)
 *   alloc:ENTRY:SIZE      one allocation, kept: "alloc ENTRY SIZE rc=R"
 *   fill:ENTRY:SIZE[:MAX] allocations until one fails (or MAX of them), kept:
 *                         "fill ENTRY n=N bytes=B rc=R" (R: the failure, 0 at MAX)
 *   free                  frees everything kept, newest first: "free n=N rc=R" (R: the
 *                         first failure, or 0)
 *   ctx:create ctx:destroy ctx:retain ctx:release ctx:reset
 *                         "ctx OP rc=R" (destroy: the last context created here)
 *   threads:T:N:SIZE      T threads, each N rounds of cuMemAlloc_v2(SIZE) (keeping up
 *                         to 4, then freeing them): "threads ok=A oom=B other=C
 *                         max=M violations=V" (M: the most the shared sum reached)
 *   bench:N               N cuMemAlloc_v2(4096) + cuMemFree_v2 pairs, best of 5 rounds:
 *                         "bench pairs=N ns=X"; with lower=PATH (the lower driver that
 *                         the shim loaded: RUNDIR/driver/lower:libcuda.so.1) the same pairs
 *                         straight into it, rounds interleaved: "... lower_ns=Y"
 *   forkfree              a child (fork) frees everything kept, as copies of the
 *                         parent's: "forkfree child n=N rc=R status=S" (R: the first
 *                         failure, S: the child's exit status); the parent keeps all
 *   hold                  prints "held", then waits until killed
 * Exit status 0, 2 for bad usage, 1 when the library or a setup call fails. */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUstream;
typedef void *CUmemoryPool;
typedef void *CUarray;
typedef unsigned long long CUdeviceptr;
typedef unsigned long long CUhandle;

/* The ABI's structs, as cuda.h has them. */
typedef struct {
	int type, id;
} Location;
typedef struct {
	int type, requestedHandleTypes;
	Location location;
	void *win32HandleMetaData;
	unsigned char allocFlags[8];
} AllocationProp;
typedef struct {
	int allocType, handleTypes;
	Location location;
	void *win32SecurityAttributes;
	size_t maxSize;
	unsigned short usage;
	unsigned char reserved[54];
} PoolProps;
typedef struct {
	size_t Width, Height;
	int Format;
	unsigned NumChannels;
} ArrayDesc;
typedef struct {
	unsigned Width, Height;
	int Format;
	unsigned NumChannels;
} ArrayDesc32;
typedef struct {
	size_t Width, Height, Depth;
	int Format;
	unsigned NumChannels, Flags;
} Array3DDesc;
typedef struct {
	unsigned Width, Height, Depth;
	int Format;
	unsigned NumChannels, Flags;
} Array3DDesc32;

#define FORMAT_U8 1
#define LOCATION_DEVICE 1
#define ALLOCATION_PINNED 1

static void *cuda;

static void *sym(const char *name)
{
	void *p = dlsym(cuda, name);
	if (!p) {
		fprintf(stderr, "capalloc: no %s in libcuda.so.1\n", name);
		exit(1);
	}
	return p;
}

#define CU(name, ...) ((CUresult(*)(__VA_ARGS__))sym(#name))

static int device;
static CUcontext context, created;
static CUmemoryPool pool;

/* --- what is kept ----------------------------------------------------------------------- */

struct held {
	char entry[16];
	uint64_t key;   /* pointer, array, handle */
	uint64_t size;  /* vmm: the reserved and mapped size */
};

static struct held *kept;
static size_t nkept, capkept;

static void keep(const char *entry, uint64_t key, uint64_t size)
{
	if (nkept == capkept) {
		capkept = capkept ? capkept * 2 : 64;
		kept = realloc(kept, capkept * sizeof *kept);
		if (!kept) {
			fprintf(stderr, "capalloc: out of memory\n");
			exit(1);
		}
	}
	snprintf(kept[nkept].entry, sizeof kept[nkept].entry, "%s", entry);
	kept[nkept].key = key;
	kept[nkept].size = size;
	nkept++;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);
	switch (*end) {
	case 'K': return v << 10;
	case 'M': return v << 20;
	case 'G': return v << 30;
	case '\0': return v;
	default:
		fprintf(stderr, "capalloc: bad size '%s'\n", s);
		exit(2);
	}
}

static CUmemoryPool the_pool(void)
{
	if (!pool) {
		PoolProps p;
		memset(&p, 0, sizeof p);
		p.allocType = ALLOCATION_PINNED;
		p.location.type = LOCATION_DEVICE;
		p.location.id = device;
		CUresult r = CU(cuMemPoolCreate, CUmemoryPool *, const PoolProps *)(&pool, &p);
		if (r) {
			fprintf(stderr, "capalloc: cuMemPoolCreate failed: %d\n", r);
			exit(1);
		}
	}
	return pool;
}

/* One allocation of size bytes through entry; kept when it succeeds. */
static CUresult allocate(const char *entry, uint64_t size)
{
	CUresult r;
	CUdeviceptr p = 0;
	if (!strcmp(entry, "alloc")) {
		r = CU(cuMemAlloc_v2, CUdeviceptr *, size_t)(&p, size);
	} else if (!strcmp(entry, "alloc32")) {
		unsigned p32 = 0;
		r = CU(cuMemAlloc, unsigned *, unsigned)(&p32, (unsigned)size);
		p = p32;
	} else if (!strcmp(entry, "pitch")) {
		size_t pitch;
		r = CU(cuMemAllocPitch_v2, CUdeviceptr *, size_t *, size_t, size_t, unsigned)(&p, &pitch, size / 16, 16, 4);
	} else if (!strcmp(entry, "pitch32")) {
		unsigned p32 = 0, pitch;
		r = CU(cuMemAllocPitch, unsigned *, unsigned *, unsigned, unsigned, unsigned)(&p32, &pitch, (unsigned)(size / 16), 16, 4);
		p = p32;
	} else if (!strcmp(entry, "managed")) {
		r = CU(cuMemAllocManaged, CUdeviceptr *, size_t, unsigned)(&p, size, 1);
	} else if (!strcmp(entry, "async")) {
		r = CU(cuMemAllocAsync, CUdeviceptr *, size_t, CUstream)(&p, size, NULL);
	} else if (!strcmp(entry, "async_ptsz")) {
		r = CU(cuMemAllocAsync_ptsz, CUdeviceptr *, size_t, CUstream)(&p, size, NULL);
	} else if (!strcmp(entry, "pool")) {
		r = CU(cuMemAllocFromPoolAsync, CUdeviceptr *, size_t, CUmemoryPool, CUstream)(&p, size, the_pool(), NULL);
	} else if (!strcmp(entry, "pool_ptsz")) {
		r = CU(cuMemAllocFromPoolAsync_ptsz, CUdeviceptr *, size_t, CUmemoryPool, CUstream)(&p, size, the_pool(), NULL);
	} else if (!strcmp(entry, "vmm") || !strcmp(entry, "vmmh")) {
		AllocationProp prop;
		memset(&prop, 0, sizeof prop);
		prop.type = ALLOCATION_PINNED;
		prop.location.type = LOCATION_DEVICE;
		prop.location.id = device;
		CUhandle h;
		r = CU(cuMemCreate, CUhandle *, size_t, const AllocationProp *, unsigned long long)(&h, size, &prop, 0);
		if (r == 0 && !strcmp(entry, "vmm")) {
			CUdeviceptr va;
			if (CU(cuMemAddressReserve, CUdeviceptr *, size_t, size_t, CUdeviceptr, unsigned long long)(&va, size, 0, 0, 0) ||
			    CU(cuMemMap, CUdeviceptr, size_t, size_t, CUhandle, unsigned long long)(va, size, 0, h, 0) ||
			    CU(cuMemRelease, CUhandle)(h)) {
				fprintf(stderr, "capalloc: reserving or mapping a VMM allocation failed\n");
				exit(1);
			}
			p = va;
		} else {
			p = h;
		}
	} else if (!strcmp(entry, "array")) {
		ArrayDesc d = { size, 0, FORMAT_U8, 1 };
		CUarray a = NULL;
		r = CU(cuArrayCreate_v2, CUarray *, const ArrayDesc *)(&a, &d);
		p = (uintptr_t)a;
	} else if (!strcmp(entry, "array32")) {
		ArrayDesc32 d = { (unsigned)size, 0, FORMAT_U8, 1 };
		CUarray a = NULL;
		r = CU(cuArrayCreate, CUarray *, const ArrayDesc32 *)(&a, &d);
		p = (uintptr_t)a;
	} else if (!strcmp(entry, "array3d")) {
		Array3DDesc d = { size / 16, 4, 4, FORMAT_U8, 1, 0 };
		CUarray a = NULL;
		r = CU(cuArray3DCreate_v2, CUarray *, const Array3DDesc *)(&a, &d);
		p = (uintptr_t)a;
	} else if (!strcmp(entry, "array3d32")) {
		Array3DDesc32 d = { (unsigned)(size / 16), 4, 4, FORMAT_U8, 1, 0 };
		CUarray a = NULL;
		r = CU(cuArray3DCreate, CUarray *, const Array3DDesc32 *)(&a, &d);
		p = (uintptr_t)a;
	} else if (!strcmp(entry, "mipmap")) {
		Array3DDesc d = { size, 0, 0, FORMAT_U8, 1, 0 };
		void *m = NULL;
		r = CU(cuMipmappedArrayCreate, void **, const Array3DDesc *, unsigned)(&m, &d, 1);
		p = (uintptr_t)m;
	} else {
		fprintf(stderr, "capalloc: unknown entry point '%s'\n", entry);
		exit(2);
	}
	if (r == 0)
		keep(entry, p, size);
	return r;
}

static CUresult release(const struct held *h)
{
	const char *e = h->entry;
	if (!strcmp(e, "alloc32") || !strcmp(e, "pitch32"))
		return CU(cuMemFree, unsigned)((unsigned)h->key);
	if (!strcmp(e, "async") || !strcmp(e, "pool"))
		return CU(cuMemFreeAsync, CUdeviceptr, CUstream)(h->key, NULL);
	if (!strcmp(e, "async_ptsz") || !strcmp(e, "pool_ptsz"))
		return CU(cuMemFreeAsync_ptsz, CUdeviceptr, CUstream)(h->key, NULL);
	if (!strcmp(e, "vmm")) {
		CUresult r = CU(cuMemUnmap, CUdeviceptr, size_t)(h->key, h->size);
		return r ? r : CU(cuMemAddressFree, CUdeviceptr, size_t)(h->key, h->size);
	}
	if (!strcmp(e, "vmmh"))
		return CU(cuMemRelease, CUhandle)(h->key);
	if (!strncmp(e, "array", 5))
		return CU(cuArrayDestroy, CUarray)((CUarray)(uintptr_t)h->key);
	if (!strcmp(e, "mipmap"))
		return CU(cuMipmappedArrayDestroy, void *)((void *)(uintptr_t)h->key);
	return CU(cuMemFree_v2, CUdeviceptr)(h->key);
}

/* --- threads ------------------------------------------------------------------------------- */

static uint64_t cap = UINT64_MAX;
static uint64_t *shared; /* [0] the bytes held by all, [1] the most seen, [2] violations */
static uint64_t local_words[3];

struct worker {
	int rounds;
	uint64_t size;
	unsigned seed;
	uint64_t ok, oom, other;
};

/* The sum is raised after an allocation succeeded and lowered before its free, so it
 * never exceeds what the processes really hold: a sum above the cap is a real breach. */
static void *worker(void *arg)
{
	struct worker *w = arg;
	CUresult (*alloc)(CUdeviceptr *, size_t) = (CUresult(*)(CUdeviceptr *, size_t))sym("cuMemAlloc_v2");
	CUresult (*mfree)(CUdeviceptr) = (CUresult(*)(CUdeviceptr))sym("cuMemFree_v2");
	if (CU(cuCtxSetCurrent, CUcontext)(context)) {
		w->other++;
		return NULL;
	}
	CUdeviceptr mine[4];
	int n = 0;
	for (int i = 0; i < w->rounds; i++) {
		CUdeviceptr p;
		CUresult r = alloc(&p, w->size);
		if (r == 0) {
			w->ok++;
			uint64_t sum = __atomic_add_fetch(&shared[0], w->size, __ATOMIC_SEQ_CST);
			uint64_t max = __atomic_load_n(&shared[1], __ATOMIC_RELAXED);
			while (sum > max && !__atomic_compare_exchange_n(&shared[1], &max, sum, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
				;
			if (sum > cap)
				__atomic_add_fetch(&shared[2], 1, __ATOMIC_SEQ_CST);
			mine[n++] = p;
		} else if (r == 2) {
			w->oom++;
		} else {
			w->other++;
		}
		if (n == 4 || (n > 0 && rand_r(&w->seed) % 3 == 0)) {
			while (n > 0) {
				__atomic_sub_fetch(&shared[0], w->size, __ATOMIC_SEQ_CST);
				if (mfree(mine[--n]))
					w->other++;
			}
		}
	}
	while (n > 0) {
		__atomic_sub_fetch(&shared[0], w->size, __ATOMIC_SEQ_CST);
		if (mfree(mine[--n]))
			w->other++;
	}
	return NULL;
}

static void run_threads(int nthreads, int rounds, uint64_t size)
{
	pthread_t th[64];
	struct worker w[64];
	if (nthreads > 64)
		nthreads = 64;
	for (int i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .rounds = rounds, .size = size, .seed = (unsigned)getpid() * 31u + (unsigned)i };
		if (pthread_create(&th[i], NULL, worker, &w[i]) != 0) {
			fprintf(stderr, "capalloc: pthread_create failed\n");
			exit(1);
		}
	}
	uint64_t ok = 0, oom = 0, other = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		ok += w[i].ok;
		oom += w[i].oom;
		other += w[i].other;
	}
	printf("threads ok=%llu oom=%llu other=%llu max=%llu violations=%llu\n", (unsigned long long)ok,
	       (unsigned long long)oom, (unsigned long long)other, (unsigned long long)shared[1],
	       (unsigned long long)shared[2]);
}

/* --- the rest ------------------------------------------------------------------------------- */

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef CUresult (*alloc_fn)(CUdeviceptr *, size_t);
typedef CUresult (*free_fn)(CUdeviceptr);

/* ns per pair of one round */
static double pairs(alloc_fn alloc, free_fn mfree, int n)
{
	double t0 = now_ns();
	for (int i = 0; i < n; i++) {
		CUdeviceptr p;
		if (alloc(&p, 4096) || mfree(p)) {
			fprintf(stderr, "capalloc: bench: an allocation failed\n");
			exit(1);
		}
	}
	return (now_ns() - t0) / n;
}

static void bench(int n, const char *lower_path)
{
	alloc_fn alloc = (alloc_fn)sym("cuMemAlloc_v2");
	free_fn mfree = (free_fn)sym("cuMemFree_v2");
	alloc_fn lower_alloc = NULL;
	free_fn lower_free = NULL;
	if (lower_path) {
		void *lower = dlopen(lower_path, RTLD_NOW | RTLD_LOCAL);
		lower_alloc = lower ? (alloc_fn)dlsym(lower, "cuMemAlloc_v2") : NULL;
		lower_free = lower ? (free_fn)dlsym(lower, "cuMemFree_v2") : NULL;
		if (!lower_alloc || !lower_free) {
			fprintf(stderr, "capalloc: cannot use the lower driver %s\n", lower_path);
			exit(1);
		}
	}
	double best = 1e30, lower_best = 1e30;
	for (int round = 0; round < 7; round++) {
		double ns = pairs(alloc, mfree, n);
		if (ns < best)
			best = ns;
		if (lower_alloc) {
			ns = pairs(lower_alloc, lower_free, n);
			if (ns < lower_best)
				lower_best = ns;
		}
	}
	if (lower_alloc)
		printf("bench pairs=%d ns=%.0f lower_ns=%.0f\n", n, best, lower_best);
	else
		printf("bench pairs=%d ns=%.0f\n", n, best);
}

/* CUDA does not survive fork: the child's frees must not give back the parent's
 * reservations.  Whatever the lower makes of them, the parent's count stays. */
static void fork_free(void)
{
	int pipefd[2];
	if (pipe(pipefd) != 0) {
		fprintf(stderr, "capalloc: pipe failed\n");
		exit(1);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "capalloc: fork failed\n");
		exit(1);
	}
	if (pid == 0) {
		CUresult first = 0;
		for (size_t k = nkept; k > 0; k--) {
			CUresult r = release(&kept[k - 1]);
			if (r && !first)
				first = r;
		}
		char line[64];
		int n = snprintf(line, sizeof line, "n=%zu rc=%d", nkept, first);
		if (write(pipefd[1], line, (size_t)n) != n)
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	char line[64] = "";
	ssize_t got = read(pipefd[0], line, sizeof line - 1);
	line[got > 0 ? got : 0] = '\0';
	close(pipefd[0]);
	int status = -1;
	waitpid(pid, &status, 0);
	printf("forkfree child %s status=%d\n", line, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

static void info(void)
{
	size_t f = 0, t = 0;
	CUresult r = CU(cuMemGetInfo_v2, size_t *, size_t *)(&f, &t);
	if (r)
		printf("info rc=%d\n", r);
	else
		printf("info free=%zu total=%zu used=%zu\n", f, t, t - f);
}

static void context_op(const char *op)
{
	CUresult r;
	if (!strcmp(op, "create")) {
		r = CU(cuCtxCreate_v2, CUcontext *, unsigned, CUdevice)(&created, 0, device);
		if (r == 0)
			context = created;
	} else if (!strcmp(op, "destroy")) {
		r = CU(cuCtxDestroy_v2, CUcontext)(created);
	} else if (!strcmp(op, "retain")) {
		r = CU(cuDevicePrimaryCtxRetain, CUcontext *, CUdevice)(&context, device);
		if (r == 0)
			r = CU(cuCtxSetCurrent, CUcontext)(context);
	} else if (!strcmp(op, "release")) {
		r = CU(cuDevicePrimaryCtxRelease_v2, CUdevice)(device);
	} else if (!strcmp(op, "reset")) {
		r = CU(cuDevicePrimaryCtxReset_v2, CUdevice)(device);
	} else {
		fprintf(stderr, "capalloc: unknown context op '%s'\n", op);
		exit(2);
	}
	printf("ctx %s rc=%d\n", op, r);
}

int main(int argc, char **argv)
{
	const char *ctx_kind = "primary", *shared_path = NULL, *lower_path = NULL;
	int i = 1;
	for (; i < argc; i++) {
		if (!strncmp(argv[i], "dev=", 4))
			device = atoi(argv[i] + 4);
		else if (!strncmp(argv[i], "ctx=", 4))
			ctx_kind = argv[i] + 4;
		else if (!strncmp(argv[i], "cap=", 4))
			cap = parse_size(argv[i] + 4);
		else if (!strncmp(argv[i], "shared=", 7))
			shared_path = argv[i] + 7;
		else if (!strncmp(argv[i], "lower=", 6))
			lower_path = argv[i] + 6;
		else
			break;
	}
	if (i == argc) {
		fprintf(stderr, "usage: capalloc [dev=N] [ctx=primary|create] [cap=SIZE] [shared=FILE] [lower=PATH] OP...\n");
		return 2;
	}
	shared = local_words;
	if (shared_path) {
		int fd = open(shared_path, O_RDWR);
		shared = fd < 0 ? MAP_FAILED : mmap(NULL, 64, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (shared == MAP_FAILED) {
			fprintf(stderr, "capalloc: cannot map %s\n", shared_path);
			return 1;
		}
		close(fd);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!cuda) {
		fprintf(stderr, "capalloc: %s\n", dlerror());
		return 1;
	}
	CUresult r = CU(cuInit, unsigned)(0);
	if (r) {
		fprintf(stderr, "capalloc: cuInit failed: %d\n", r);
		return 1;
	}
	context_op(!strcmp(ctx_kind, "create") ? "create" : "retain");

	for (; i < argc; i++) {
		char op[256];
		snprintf(op, sizeof op, "%s", argv[i]);
		char *a = strchr(op, ':'), *b = a ? strchr(a + 1, ':') : NULL, *c = b ? strchr(b + 1, ':') : NULL;
		if (a)
			*a++ = '\0';
		if (b)
			*b++ = '\0';
		if (c)
			*c++ = '\0';
		if (!strcmp(op, "info")) {
			info();
		} else if (!strcmp(op, "alloc") && b) {
			printf("alloc %s %s rc=%d\n", a, b, allocate(a, parse_size(b)));
		} else if (!strcmp(op, "fill") && b) {
			uint64_t size = parse_size(b), max = c ? strtoull(c, NULL, 10) : UINT64_MAX, n = 0;
			r = 0;
			while (n < max && (r = allocate(a, size)) == 0)
				n++;
			printf("fill %s n=%llu bytes=%llu rc=%d\n", a, (unsigned long long)n, (unsigned long long)(n * size), r);
		} else if (!strcmp(op, "free")) {
			size_t n = nkept;
			CUresult first = 0;
			while (nkept > 0) {
				r = release(&kept[--nkept]);
				if (r && !first)
					first = r;
			}
			CU(cuCtxSynchronize, void)();
			printf("free n=%zu rc=%d\n", n, first);
		} else if (!strcmp(op, "ctx") && a) {
			context_op(a);
		} else if (!strcmp(op, "threads") && c) {
			run_threads(atoi(a), atoi(b), parse_size(c));
		} else if (!strcmp(op, "bench") && a) {
			bench(atoi(a), lower_path);
		} else if (!strcmp(op, "forkfree")) {
			fork_free();
		} else if (!strcmp(op, "hold")) {
			printf("held\n");
			for (;;)
				pause();
		} else {
			fprintf(stderr, "capalloc: bad op '%s'\n", argv[i]);
			return 2;
		}
	}
	return 0;
}

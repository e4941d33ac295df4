/* bench_copies: bandwidth of the driver's copies (cuMemcpyHtoD_v2, cuMemcpyDtoH_v2,
 * cuMemcpyDtoD_v2) against host memcpy of the same sizes, through libcuda.so.1 (inside
 * vgpu-run: the shim, which forwards copies to the emulator).  Emulator only: its device
 * memory is host memory, so each copy's reference is memcpy between exactly the same
 * two addresses (glibc's memcpy changes strategy with the distance between source and
 * destination modulo 4 KiB, by up to 2x at 64 KiB here: only the same addresses make
 * the difference the driver's own).  A plain memcpy between two host buffers is
 * measured too, for context.
 *
 *   bench_copies SIZE[,SIZE...] [MIN_BYTES_PER_ROUND] [ROUNDS]
 *
 * Every buffer is allocated once at the largest size and touched first (the emulator
 * commits device memory when it is touched, as the host does), then, round by round,
 * the kinds run in turn (the first kind rotates), each as many times as it takes to
 * move MIN_BYTES_PER_ROUND (default 64 MiB), at least once.
 *
 * Output, one JSON line per size and kind: {"size": B, "kind": K, "gbps": [per round]}
 * with K one of htod, dtoh, dtod (the driver's copies), htod_memcpy, dtoh_memcpy,
 * dtod_memcpy (memcpy between the same addresses), memcpy (host buffer to host buffer);
 * GB/s are 1e9 bytes per second. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench/bench.h"

typedef CUresult (*htod_fn)(CUdeviceptr, const void *, size_t);
typedef CUresult (*dtoh_fn)(void *, CUdeviceptr, size_t);
typedef CUresult (*dtod_fn)(CUdeviceptr, CUdeviceptr, size_t);

static htod_fn htod;
static dtoh_fn dtoh;
static dtod_fn dtod;
static unsigned char *hsrc, *hdst;
static CUdeviceptr d1, d2;

static uint64_t parse_size(const char *s, char **end)
{
	uint64_t v = strtoull(s, end, 10);
	switch (**end) {
	case 'K': (*end)++; return v << 10;
	case 'M': (*end)++; return v << 20;
	case 'G': (*end)++; return v << 30;
	default: return v;
	}
}

static void *host_buffer(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("bench_copies: mmap");
		exit(1);
	}
	memset(p, 0x5a, n);
	return p;
}

static void check(CUresult rc, const char *what)
{
	if (rc) {
		fprintf(stderr, "bench_copies: %s failed (%d)\n", what, rc);
		exit(1);
	}
}

/* One copy of kind k. */
static __attribute__((noinline)) void copy(int k, size_t n)
{
	void *dev1 = (void *)(uintptr_t)d1, *dev2 = (void *)(uintptr_t)d2;
	switch (k) {
	case 0: check(htod(d1, hsrc, n), "cuMemcpyHtoD_v2"); break;
	case 1: check(dtoh(hdst, d1, n), "cuMemcpyDtoH_v2"); break;
	case 2: check(dtod(d2, d1, n), "cuMemcpyDtoD_v2"); break;
	case 3: memcpy(dev1, hsrc, n); break;
	case 4: memcpy(hdst, dev1, n); break;
	case 5: memcpy(dev2, dev1, n); break;
	case 6: memcpy(hdst, hsrc, n); break;
	}
	__asm__ volatile("" ::"r"(hdst), "r"(dev1), "r"(dev2) : "memory"); /* no copy is dead */
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_copies SIZE[,SIZE...] [MIN_BYTES_PER_ROUND] [ROUNDS]\n");
		return 2;
	}
	uint64_t sizes[32];
	int nsizes = 0;
	uint64_t max = 0;
	for (char *p = argv[1]; *p && nsizes < 32;) {
		char *end;
		sizes[nsizes] = parse_size(p, &end);
		if (sizes[nsizes] > max)
			max = sizes[nsizes];
		nsizes++;
		p = *end == ',' ? end + 1 : end;
		if (end == p && *p)
			break;
	}
	char *end;
	uint64_t per_round = argc > 2 ? parse_size(argv[2], &end) : 64ull << 20;
	int rounds = argc > 3 ? atoi(argv[3]) : 7;

	void *cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!cuda) {
		fprintf(stderr, "bench_copies: %s\n", dlerror());
		return 1;
	}
	CUcontext ctx;
	check(((CUresult(*)(unsigned))dlsym(cuda, "cuInit"))(0), "cuInit");
	check(((CUresult(*)(CUcontext *, CUdevice))dlsym(cuda, "cuDevicePrimaryCtxRetain"))(&ctx, 0), "retain");
	check(((CUresult(*)(CUcontext))dlsym(cuda, "cuCtxSetCurrent"))(ctx), "cuCtxSetCurrent");
	CUresult (*alloc)(CUdeviceptr *, size_t) = (CUresult(*)(CUdeviceptr *, size_t))dlsym(cuda, "cuMemAlloc_v2");
	htod = (htod_fn)dlsym(cuda, "cuMemcpyHtoD_v2");
	dtoh = (dtoh_fn)dlsym(cuda, "cuMemcpyDtoH_v2");
	dtod = (dtod_fn)dlsym(cuda, "cuMemcpyDtoD_v2");
	if (!alloc || !htod || !dtoh || !dtod) {
		fprintf(stderr, "bench_copies: libcuda.so.1 lacks a copy function\n");
		return 1;
	}
	hsrc = host_buffer(max);
	hdst = host_buffer(max);
	check(alloc(&d1, max), "cuMemAlloc_v2");
	check(alloc(&d2, max), "cuMemAlloc_v2");
	copy(0, max); /* touch the device buffers */
	copy(2, max);

#define NKINDS 7
	static const char *const kinds[NKINDS] = { "htod", "dtoh", "dtod", "htod_memcpy", "dtoh_memcpy",
						   "dtod_memcpy", "memcpy" };
	for (int s = 0; s < nsizes; s++) {
		size_t n = sizes[s];
		long iters = (long)(per_round / n);
		if (iters < 1)
			iters = 1;
		double *gbps[NKINDS];
		for (int k = 0; k < NKINDS; k++) {
			gbps[k] = calloc((size_t)rounds, sizeof(double));
			copy(k, n); /* warm-up */
		}
		for (int r = 0; r < rounds; r++) {
			for (int j = 0; j < NKINDS; j++) {
				int k = (r + j) % NKINDS;
				uint64_t t0 = bench_now_ns();
				for (long i = 0; i < iters; i++)
					copy(k, n);
				double dt = (double)(bench_now_ns() - t0);
				gbps[k][r] = (double)n * (double)iters / dt;
			}
		}
		for (int k = 0; k < NKINDS; k++) {
			printf("{\"size\": %zu, \"kind\": \"%s\", \"iters\": %ld, \"gbps\": ", n, kinds[k], iters);
			bench_json_array(stdout, gbps[k], (size_t)rounds, "%.3f");
			printf("}\n");
			fflush(stdout);
		}
	}
	return 0;
}

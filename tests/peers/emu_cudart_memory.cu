// NVIDIA's libcudart on the emulator: memory, copies, memset, streams, events,
// stream-ordered allocation, launches and capacity, as a CUDA program sees them.
// Built by tests/bats/emulator_memory.bats with nvcc (cudart 13, shared and static) and
// with g++ against libcudart 12 (whose launch check loads a small PTX module instead).
//
//   emu_cudart_memory CHECK [ARG]
//
// Prints "ok - ..." / "not ok - ..." per check and exits 1 if any failed; exits 77 with
// the reason when cudart does not initialise on the emulator at all.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

static int failed;

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		bool check_ok_ = (cond);                                  \
		printf("%sok - ", check_ok_ ? "" : "not ");               \
		printf(__VA_ARGS__);                                      \
		if (!check_ok_) {                                         \
			failed = 1;                                       \
			printf(" (line %d: %s)", __LINE__, #cond);        \
		}                                                         \
		printf("\n");                                             \
	} while (0)

#define RT(call, want)                                                                            \
	do {                                                                                      \
		cudaError_t e_ = (call);                                                          \
		CHECK(e_ == (want), "%s = %d %s (want %d)", #call, (int)e_, cudaGetErrorName(e_), \
		      (int)(want));                                                               \
	} while (0)

#ifdef __CUDACC__
__global__ void scale(float *p, float f, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] *= f;
}
#endif

static void fill_random(unsigned char *p, size_t n, unsigned seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
}

static void check_meminfo()
{
	size_t f = 0, t = 0;
	RT(cudaMemGetInfo(&f, &t), cudaSuccess);
	cudaDeviceProp prop;
	RT(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
	CHECK(t == prop.totalGlobalMem && f <= t && f > t / 2, "free %zu of total %zu (totalGlobalMem %zu)", f, t,
	      prop.totalGlobalMem);
	printf("device: %s, %zu bytes\n", prop.name, t);
}

static void check_roundtrip()
{
	const size_t n = 3 * 1024 * 1024 + 5;
	unsigned char *a = (unsigned char *)malloc(n), *b = (unsigned char *)malloc(n);
	fill_random(a, n, 42);
	memset(b, 0, n);
	void *d1 = nullptr, *d2 = nullptr;
	RT(cudaMalloc(&d1, n), cudaSuccess);
	RT(cudaMalloc(&d2, n), cudaSuccess);
	RT(cudaMemcpy(d1, a, n, cudaMemcpyHostToDevice), cudaSuccess);
	RT(cudaMemcpy(d2, d1, n, cudaMemcpyDeviceToDevice), cudaSuccess);
	RT(cudaMemcpy(b, d2, n, cudaMemcpyDeviceToHost), cudaSuccess);
	size_t diff = 0;
	for (size_t i = 0; i < n; i++)
		diff += a[i] != b[i];
	CHECK(diff == 0, "%zu random bytes H2D, D2D, D2H: %zu differ", n, diff);
	fill_random(a, n, 43);
	RT(cudaMemcpy(d1, a, n, cudaMemcpyDefault), cudaSuccess);
	RT(cudaMemcpy(b, d1, n, cudaMemcpyDefault), cudaSuccess);
	CHECK(memcmp(a, b, n) == 0, "cudaMemcpyDefault both ways");
	cudaPointerAttributes attr;
	RT(cudaPointerGetAttributes(&attr, d1), cudaSuccess);
	CHECK(attr.type == cudaMemoryTypeDevice && attr.device == 0 && attr.devicePointer == d1,
	      "cudaPointerGetAttributes of device memory: type %d device %d", (int)attr.type, attr.device);
	RT(cudaPointerGetAttributes(&attr, a), cudaSuccess);
	CHECK(attr.type == cudaMemoryTypeUnregistered, "malloc'd memory is unregistered (type %d)", (int)attr.type);
	RT(cudaFree(d1), cudaSuccess);
	RT(cudaFree(d2), cudaSuccess);
	RT(cudaFree(nullptr), cudaSuccess);
	void *pinned;
	RT(cudaMallocHost(&pinned, 1 << 20), cudaSuccess);
	RT(cudaPointerGetAttributes(&attr, pinned), cudaSuccess);
	CHECK(attr.type == cudaMemoryTypeHost, "cudaMallocHost memory is host memory (type %d)", (int)attr.type);
	RT(cudaFreeHost(pinned), cudaSuccess);
	free(a);
	free(b);
}

static void check_memset()
{
	const size_t n = 1 << 20;
	unsigned char *h = (unsigned char *)malloc(n);
	void *d;
	RT(cudaMalloc(&d, n), cudaSuccess);
	RT(cudaMemset(d, 0x3c, n), cudaSuccess);
	RT(cudaMemset((char *)d + 100, 0, 50), cudaSuccess);
	RT(cudaMemcpy(h, d, n, cudaMemcpyDeviceToHost), cudaSuccess);
	bool ok = true;
	for (size_t i = 0; i < n; i++)
		ok &= h[i] == ((i >= 100 && i < 150) ? 0 : 0x3c);
	CHECK(ok, "cudaMemset");
	size_t pitch;
	void *d2;
	RT(cudaMallocPitch(&d2, &pitch, 100, 20), cudaSuccess);
	RT(cudaMemset2D(d2, pitch, 0x7f, 100, 20), cudaSuccess);
	unsigned char img[100 * 20];
	RT(cudaMemcpy2D(img, 100, d2, pitch, 100, 20, cudaMemcpyDeviceToHost), cudaSuccess);
	ok = true;
	for (size_t i = 0; i < sizeof img; i++)
		ok &= img[i] == 0x7f;
	CHECK(ok && pitch >= 100, "cudaMemset2D and cudaMemcpy2D (pitch %zu)", pitch);
	RT(cudaFree(d), cudaSuccess);
	RT(cudaFree(d2), cudaSuccess);
	free(h);
}

static int host_fn_calls;
static void CUDART_CB host_fn(void *arg)
{
	host_fn_calls += arg == &host_fn_calls;
}

static void check_streams()
{
	cudaStream_t s1, s2;
	RT(cudaStreamCreate(&s1), cudaSuccess);
	RT(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking), cudaSuccess);
	unsigned int flags = 99;
	RT(cudaStreamGetFlags(s2, &flags), cudaSuccess);
	CHECK(flags == cudaStreamNonBlocking, "stream flags %u", flags);
	int lo, hi, prio = 99;
	RT(cudaDeviceGetStreamPriorityRange(&lo, &hi), cudaSuccess);
	cudaStream_t s3;
	RT(cudaStreamCreateWithPriority(&s3, cudaStreamDefault, hi), cudaSuccess);
	RT(cudaStreamGetPriority(s3, &prio), cudaSuccess);
	CHECK(prio == hi, "priority %d (range %d..%d)", prio, lo, hi);
	const size_t n = 1 << 20;
	unsigned char *h;
	RT(cudaMallocHost(&h, 2 * n), cudaSuccess);
	fill_random(h, n, 5);
	void *d;
	RT(cudaMalloc(&d, n), cudaSuccess);
	RT(cudaMemcpyAsync(d, h, n, cudaMemcpyHostToDevice, s1), cudaSuccess);
	RT(cudaMemsetAsync(d, 1, 10, s2), cudaSuccess);
	RT(cudaMemcpyAsync(h + n, d, n, cudaMemcpyDeviceToHost, s1), cudaSuccess);
	RT(cudaLaunchHostFunc(s1, host_fn, &host_fn_calls), cudaSuccess);
	RT(cudaStreamSynchronize(s1), cudaSuccess);
	RT(cudaStreamQuery(s2), cudaSuccess);
	CHECK(memcmp(h + 10, h + n + 10, n - 10) == 0 && h[n] == 1, "async copies and memset in stream order");
	CHECK(host_fn_calls == 1, "host function ran");
	RT(cudaMemcpyAsync(h, d, n, cudaMemcpyDeviceToHost, cudaStreamPerThread), cudaSuccess);
	RT(cudaStreamSynchronize(cudaStreamPerThread), cudaSuccess);
	RT(cudaMemcpyAsync(h, d, n, cudaMemcpyDeviceToHost, cudaStreamLegacy), cudaSuccess);
	RT(cudaDeviceSynchronize(), cudaSuccess);
	RT(cudaStreamDestroy(s1), cudaSuccess);
	RT(cudaStreamDestroy(s2), cudaSuccess);
	RT(cudaStreamDestroy(s3), cudaSuccess);
	RT(cudaFree(d), cudaSuccess);
	RT(cudaFreeHost(h), cudaSuccess);
}

static void check_events()
{
	cudaEvent_t a, b, c;
	RT(cudaEventCreate(&a), cudaSuccess);
	RT(cudaEventCreate(&b), cudaSuccess);
	RT(cudaEventCreateWithFlags(&c, cudaEventDisableTiming), cudaSuccess);
	cudaStream_t s;
	RT(cudaStreamCreate(&s), cudaSuccess);
	RT(cudaEventRecord(a, s), cudaSuccess);
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	nanosleep(&ts, nullptr);
	RT(cudaEventRecord(b, s), cudaSuccess);
	RT(cudaEventRecord(c, s), cudaSuccess);
	RT(cudaStreamWaitEvent(s, c, 0), cudaSuccess);
	RT(cudaEventSynchronize(b), cudaSuccess);
	RT(cudaEventQuery(b), cudaSuccess);
	float ms = -1;
	RT(cudaEventElapsedTime(&ms, a, b), cudaSuccess);
	CHECK(ms >= 15 && ms < 5000, "elapsed %.3f ms across a 20 ms sleep", ms);
	RT(cudaEventElapsedTime(&ms, a, c), cudaErrorInvalidResourceHandle);
	RT(cudaEventDestroy(a), cudaSuccess);
	RT(cudaEventDestroy(b), cudaSuccess);
	RT(cudaEventDestroy(c), cudaSuccess);
	RT(cudaStreamDestroy(s), cudaSuccess);
}

static void check_async_alloc()
{
	cudaStream_t s;
	RT(cudaStreamCreate(&s), cudaSuccess);
	size_t f0, f1, t;
	RT(cudaMemGetInfo(&f0, &t), cudaSuccess);
	void *p = nullptr;
	RT(cudaMallocAsync(&p, 10 << 20, s), cudaSuccess);
	RT(cudaMemsetAsync(p, 9, 10 << 20, s), cudaSuccess);
	unsigned char last = 0;
	RT(cudaMemcpyAsync(&last, (char *)p + (10 << 20) - 1, 1, cudaMemcpyDeviceToHost, s), cudaSuccess);
	RT(cudaStreamSynchronize(s), cudaSuccess);
	CHECK(last == 9, "memory from cudaMallocAsync is usable");
	RT(cudaMemGetInfo(&f1, &t), cudaSuccess);
	CHECK(f0 - f1 >= (10u << 20), "cudaMallocAsync counts: free %zu -> %zu", f0, f1);
	RT(cudaFreeAsync(p, s), cudaSuccess);
	RT(cudaStreamSynchronize(s), cudaSuccess);
	cudaMemPool_t pool;
	RT(cudaDeviceGetDefaultMemPool(&pool, 0), cudaSuccess);
	uint64_t threshold = UINT64_MAX;
	RT(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold), cudaSuccess);
	RT(cudaMallocFromPoolAsync(&p, 4096, pool, s), cudaSuccess);
	RT(cudaFreeAsync(p, s), cudaSuccess);
	RT(cudaMemPoolTrimTo(pool, 0), cudaSuccess);
	RT(cudaStreamDestroy(s), cudaSuccess);
}

#ifdef __CUDACC__
static void check_launch(const char *expect)
{
	float *d;
	RT(cudaMalloc(&d, 1024 * sizeof(float)), cudaSuccess);
	scale<<<4, 256>>>(d, 2.0f, 1024);
	cudaError_t want = strcmp(expect, "noop") == 0 ? cudaSuccess : cudaErrorNotSupported;
	cudaError_t e = cudaGetLastError();
	CHECK(e == want, "kernel launch returns %d %s (want %d)", (int)e, cudaGetErrorName(e), (int)want);
	RT(cudaDeviceSynchronize(), cudaSuccess);
	// The error is not sticky: the runtime goes on working.
	RT(cudaMemset(d, 0, 1024 * sizeof(float)), cudaSuccess);
	cudaFuncAttributes fa;
	RT(cudaFuncGetAttributes(&fa, scale), cudaSuccess);
	CHECK(fa.maxThreadsPerBlock == 1024 && fa.numRegs > 0, "cudaFuncGetAttributes: %d threads, %d registers",
	      fa.maxThreadsPerBlock, fa.numRegs);
	int blocks = 0;
	RT(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, scale, 256, 0), cudaSuccess);
	CHECK(blocks > 0, "occupancy: %d blocks of 256 threads per SM", blocks);
	void *args[] = { &d, nullptr, nullptr };
	float f = 3;
	int n = 1024;
	args[1] = &f;
	args[2] = &n;
	e = cudaLaunchKernel((const void *)scale, dim3(4), dim3(256), args, 0, nullptr);
	CHECK(e == want, "cudaLaunchKernel returns %d (want %d)", (int)e, (int)want);
	(void)cudaGetLastError();
	RT(cudaFree(d), cudaSuccess);
}
#else
// Built without nvcc (g++ against libcudart 12): no kernel of our own, so a tiny PTX
// module, loaded through the runtime's library API, supplies one to launch.
static const char scale_ptx[] =
	".version 8.0\n"
	".target sm_90\n"
	".address_size 64\n"
	".visible .entry scale(.param .u64 p, .param .f32 f, .param .u32 n)\n"
	"{\n"
	"\tret;\n"
	"}\n";

static void check_launch(const char *expect)
{
	cudaLibrary_t lib;
	cudaKernel_t k;
	RT(cudaLibraryLoadData(&lib, scale_ptx, nullptr, nullptr, 0, nullptr, nullptr, 0), cudaSuccess);
	RT(cudaLibraryGetKernel(&k, lib, "scale"), cudaSuccess);
	float *d;
	RT(cudaMalloc(&d, 1024 * sizeof(float)), cudaSuccess);
	float f = 3;
	int n = 1024;
	void *args[] = { &d, &f, &n };
	cudaError_t want = strcmp(expect, "noop") == 0 ? cudaSuccess : cudaErrorNotSupported;
	cudaError_t e = cudaLaunchKernel((const void *)k, dim3(4), dim3(256), args, 0, nullptr);
	CHECK(e == want, "kernel launch returns %d %s (want %d)", (int)e, cudaGetErrorName(e), (int)want);
	(void)cudaGetLastError();
	// The error is not sticky: the runtime goes on working.
	RT(cudaMemset(d, 0, 1024 * sizeof(float)), cudaSuccess);
	RT(cudaFree(d), cudaSuccess);
	RT(cudaLibraryUnload(lib), cudaSuccess);
}
#endif

static void check_capacity()
{
	size_t f, t;
	RT(cudaMemGetInfo(&f, &t), cudaSuccess);
	void *p = nullptr;
	RT(cudaMalloc(&p, t + (1 << 20)), cudaErrorMemoryAllocation);
	(void)cudaGetLastError();
	// 60 GB (the profile has more), never touched: it fits whatever RAM the machine has.
	size_t big = 60ULL * 1000 * 1000 * 1000;
	if (big > t / 10 * 9)
		big = t / 10 * 9;
	RT(cudaMalloc(&p, big), cudaSuccess);
	size_t f2;
	RT(cudaMemGetInfo(&f2, &t), cudaSuccess);
	CHECK(f - f2 >= big, "%zu bytes allocated without touching them: free %zu -> %zu", big, f, f2);
	RT(cudaMemset((char *)p + big - 4096, 1, 4096), cudaSuccess);
	void *q = nullptr;
	RT(cudaMalloc(&q, f2 + (1 << 20)), cudaErrorMemoryAllocation);
	(void)cudaGetLastError();
	RT(cudaFree(p), cudaSuccess);
	RT(cudaMemGetInfo(&f2, &t), cudaSuccess);
	CHECK(f2 == f, "all given back");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CHECK [ARG]\n", argv[0]);
		return 2;
	}
	setbuf(stdout, nullptr);
	int count = -1;
	cudaError_t e = cudaGetDeviceCount(&count);
	if (e != cudaSuccess || count < 1) {
		printf("cudart does not initialise on the emulator: cudaGetDeviceCount returned %d (%s), count %d\n",
		       (int)e, cudaGetErrorName(e), count);
		return 77;
	}
	const char *c = argv[1];
	if (!strcmp(c, "meminfo"))
		check_meminfo();
	else if (!strcmp(c, "roundtrip"))
		check_roundtrip();
	else if (!strcmp(c, "memset"))
		check_memset();
	else if (!strcmp(c, "streams"))
		check_streams();
	else if (!strcmp(c, "events"))
		check_events();
	else if (!strcmp(c, "async"))
		check_async_alloc();
	else if (!strcmp(c, "launch") && argc > 2)
		check_launch(argv[2]);
	else if (!strcmp(c, "capacity"))
		check_capacity();
	else {
		fprintf(stderr, "unknown check %s\n", c);
		return 2;
	}
	return failed;
}

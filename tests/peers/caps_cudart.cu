/* caps_cudart CAP_MIB...: what a CUDA runtime program sees of virtual GPUs with memory
 * caps, for tests/bats/shim_peers.bats.  Built with nvcc against NVIDIA's libcudart 13
 * (shared) and with g++ against libcudart 12 (PyPI nvidia-cuda-runtime-cu12); no
 * kernels, so a C++ compiler is enough.
 *
 * CAP_MIB... are the caps the test expects of the visible devices, in ordinal order; they
 * size the allocations only (the program checks nothing itself: the suite compares what
 * it prints with the policy).  For every device J that has a cap C given:
 *   cudaSetDevice(J), cudaMemGetInfo;
 *   cudaMalloc(C - 64 MiB)                      "alloc_below_cap"
 *   cudaMemGetInfo while it is held             "meminfo_held"
 *   cudaMalloc(128 MiB) on top of it            "alloc_beyond_cap"
 *   cudaFree of the first block                 "free"
 *   cudaMalloc(C + 64 MiB) alone                "alloc_over_cap"
 *   cudaMalloc(C - 64 MiB) again, cudaFree      "alloc_again"
 *   cudaMemGetInfo                              "meminfo_after"
 * A failed cudaMalloc's error is taken off with cudaGetLastError, as a program that
 * handles it would.
 *
 * Output, one fact per line:
 *   runtime VERSION / driver VERSION / count N
 *   device J name=NAME / device J total=BYTES (totalGlobalMem) / device J uuid=GPU-...
 *   device J meminfo total=BYTES free=BYTES
 *   device J alloc_below_cap CODE NAME          (e.g. "0 cudaSuccess")
 *   ...
 *   done
 * Exit status 0 when every step ran (whatever the results), 1 when a call the steps
 * depend on failed ("FAIL ..."). */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t MIB = (size_t)1 << 20;

static void result(int dev, const char *what, cudaError_t e)
{
	printf("device %d %s %d %s\n", dev, what, (int)e, cudaGetErrorName(e));
}

static int meminfo(int dev, const char *what)
{
	size_t free_b = 0, total_b = 0;
	cudaError_t e = cudaMemGetInfo(&free_b, &total_b);
	if (e != cudaSuccess) {
		printf("FAIL device %d cudaMemGetInfo (%s): %d %s\n", dev, what, (int)e, cudaGetErrorName(e));
		return -1;
	}
	printf("device %d %s total=%zu free=%zu\n", dev, what, total_b, free_b);
	return 0;
}

/* cudaMalloc of SIZE; the block is freed at once unless KEEP is given. */
static cudaError_t try_malloc(int dev, const char *what, size_t size, void **keep)
{
	void *p = NULL;
	cudaError_t e = cudaMalloc(&p, size);
	result(dev, what, e);
	if (e != cudaSuccess) {
		cudaGetLastError();
		return e;
	}
	if (keep)
		*keep = p;
	else
		cudaFree(p);
	return e;
}

static int caps(int dev, size_t cap)
{
	cudaError_t e = cudaSetDevice(dev);
	if (e != cudaSuccess) {
		printf("FAIL cudaSetDevice(%d): %d %s\n", dev, (int)e, cudaGetErrorName(e));
		return -1;
	}
	if (meminfo(dev, "meminfo") != 0)
		return -1;
	void *block = NULL;
	try_malloc(dev, "alloc_below_cap", cap - 64 * MIB, &block);
	if (meminfo(dev, "meminfo_held") != 0)
		return -1;
	try_malloc(dev, "alloc_beyond_cap", 128 * MIB, NULL);
	if (block)
		result(dev, "free", cudaFree(block));
	else
		printf("device %d free skipped\n", dev);
	try_malloc(dev, "alloc_over_cap", cap + 64 * MIB, NULL);
	try_malloc(dev, "alloc_again", cap - 64 * MIB, NULL);
	return meminfo(dev, "meminfo_after");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int runtime = 0, driver = 0;
	cudaRuntimeGetVersion(&runtime);
	cudaDriverGetVersion(&driver);
	printf("runtime %d\n", runtime);
	printf("driver %d\n", driver);
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess) {
		printf("FAIL cudaGetDeviceCount: %d %s\n", (int)e, cudaGetErrorName(e));
		return 1;
	}
	printf("count %d\n", n);
	int failed = 0;
	for (int dev = 0; dev < n; dev++) {
		cudaDeviceProp p;
		memset(&p, 0, sizeof p);
		e = cudaGetDeviceProperties(&p, dev);
		if (e != cudaSuccess) {
			printf("FAIL cudaGetDeviceProperties(%d): %d %s\n", dev, (int)e, cudaGetErrorName(e));
			failed = 1;
			continue;
		}
		const unsigned char *u = (const unsigned char *)p.uuid.bytes;
		printf("device %d name=%s\n", dev, p.name);
		printf("device %d total=%zu\n", dev, p.totalGlobalMem);
		printf("device %d uuid=GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\n",
		       dev, u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		       u[13], u[14], u[15]);
	}
	for (int dev = 0; dev < n && dev + 1 < argc; dev++) {
		size_t cap = (size_t)strtoull(argv[dev + 1], NULL, 10) * MIB;
		if (cap <= 64 * MIB) {
			printf("FAIL cap %s MiB: must be above 64\n", argv[dev + 1]);
			return 2;
		}
		if (caps(dev, cap) != 0)
			failed = 1;
	}
	if (failed)
		return 1;
	printf("done\n");
	return 0;
}

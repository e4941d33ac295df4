/* emu_copy_checks: what the emulator answers to copies and memsets at the edges — no
 * context, freed and reused pointers, one byte past an allocation, registered and
 * page-locked host memory, VMM mappings and their access flags, a pointer freed by
 * another thread, contexts destroyed, popped, released and reset.  One line per call,
 * "CALL RESULT"; tests/bats/emulator_memory.bats compares them with
 * tests/peers/reference/emu_copy_checks.txt.
 *
 * A characterization test: the reference is the emulator's answers before its copy
 * path took per-thread caches (commit dadcd5a), which gave identical answers.  Links
 * libcuda.so.1 (the toolkit's cuda.h for the declarations). */
#include <cuda.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#define R(x) printf("%-60s %d\n", #x, (int)(x))
static CUdeviceptr shared_d;
static void *freer(void *arg) { CUcontext c = arg; cuCtxSetCurrent(c); printf("thread free %d\n", (int)cuMemFree(shared_d)); return NULL; }
int main(void)
{
	CUcontext p, o, o2; CUdevice dev = 0; CUdeviceptr d1, d2, d3;
	char *h = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	R(cuMemcpyHtoD(0x1000, h, 0));
	R(cuInit(0));
	R(cuMemcpyHtoD(0x1000, h, 16));
	R(cuDevicePrimaryCtxRetain(&p, dev));
	R(cuMemcpyHtoD(0x1000, h, 16));
	R(cuCtxSetCurrent(p));
	R(cuMemcpyHtoD(0, h, 0));
	R(cuMemAlloc(&d1, 8192)); R(cuMemAlloc(&d2, 8192));
	R(cuMemcpyHtoD(d1, h, 4096)); R(cuMemcpyHtoD(d1, h, 4096));
	R(cuMemcpyHtoD(d1 + 4096, h, 4096)); R(cuMemcpyHtoD(d1 + 4096, h, 4097));
	R(cuMemcpyHtoD(d1 + 8192, h, 1)); R(cuMemcpyDtoH(h, d1 + 8191, 2));
	R(cuMemcpyDtoD(d2, d1, 8192)); R(cuMemcpyDtoD(d2, d1, 8193));
	R(cuMemcpyDtoD(d2, (CUdeviceptr)h, 16)); R(cuMemcpyDtoD((CUdeviceptr)h, d1, 16));
	R(cuMemcpy((CUdeviceptr)h, (CUdeviceptr)h + 100, 16)); R(cuMemcpy((CUdeviceptr)h, d1, 16));
	R(cuMemcpyHtoD(d1, (void *)(uintptr_t)d2, 16));
	R(cuMemcpyDtoH(h, d2, 16));
	R(cuMemFree(d1));
	R(cuMemcpyHtoD(d1, h, 16)); R(cuMemcpyDtoH(h, d1, 16)); R(cuMemcpyDtoD(d2, d1, 16)); R(cuMemsetD8(d1, 1, 16));
	R(cuMemcpy(d1, (CUdeviceptr)h, 16));
	R(cuMemAlloc(&d3, 8192));
	R(cuMemcpyHtoD(d3, h, 8192)); R(cuMemcpyHtoD(d3, h, 8193));
	/* registered host memory after the host range was used */
	R(cuMemcpyDtoH(h, d2, 16)); R(cuMemcpyHtoD(d2, h, 16));
	R(cuMemHostRegister(h, 65536, CU_MEMHOSTREGISTER_READ_ONLY));
	R(cuMemcpyDtoH(h, d2, 16)); R(cuMemcpyHtoD(d2, h, 16));
	R(cuMemcpyDtoD(d2, (CUdeviceptr)h, 16)); R(cuMemcpyDtoD(d2, (CUdeviceptr)h, 65537));
	R(cuMemcpyHtoD(d2, h + 65530, 100)); R(cuMemcpyDtoH(h + 65536, d2, 16));
	R(cuMemHostUnregister(h));
	R(cuMemcpyDtoH(h, d2, 16));
	void *ph; R(cuMemAllocHost(&ph, 4096));
	R(cuMemcpyDtoH(ph, d2, 16)); R(cuMemcpyDtoH(ph, d2, 4097)); R(cuMemcpyDtoD((CUdeviceptr)ph, d2, 4096)); R(cuMemcpyDtoD((CUdeviceptr)ph, d2, 4097));
	R(cuMemFreeHost(ph)); R(cuMemcpyDtoD((CUdeviceptr)ph, d2, 16));
	/* VMM */
	CUmemAllocationProp prop = { .type = CU_MEM_ALLOCATION_TYPE_PINNED, .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
	size_t gran = 0; R(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
	CUdeviceptr va; CUmemGenericAllocationHandle mh;
	R(cuMemAddressReserve(&va, 2 * gran, 0, 0, 0)); R(cuMemCreate(&mh, 2 * gran, &prop, 0));
	R(cuMemcpyHtoD(va, h, 16));
	R(cuMemMap(va, 2 * gran, 0, mh, 0));
	R(cuMemcpyHtoD(va, h, 16));
	CUmemAccessDesc ad = { .location = prop.location, .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE };
	R(cuMemSetAccess(va, 2 * gran, &ad, 1));
	R(cuMemcpyHtoD(va, h, 16)); R(cuMemcpyDtoH(h, va, 16));
	ad.flags = CU_MEM_ACCESS_FLAGS_PROT_READ; R(cuMemSetAccess(va, 2 * gran, &ad, 1));
	R(cuMemcpyHtoD(va, h, 16)); R(cuMemcpyDtoH(h, va, 16));
	ad.flags = CU_MEM_ACCESS_FLAGS_PROT_NONE; R(cuMemSetAccess(va, 2 * gran, &ad, 1));
	R(cuMemcpyDtoH(h, va, 16));
	ad.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE; R(cuMemSetAccess(va, 2 * gran, &ad, 1));
	R(cuMemcpyDtoH(h, va, 16)); R(cuMemUnmap(va, 2 * gran)); R(cuMemcpyDtoH(h, va, 16));
	/* another thread frees */
	R(cuMemAlloc(&shared_d, 4096)); R(cuMemcpyHtoD(shared_d, h, 16));
	pthread_t th; pthread_create(&th, NULL, freer, p); pthread_join(th, NULL);
	R(cuMemcpyHtoD(shared_d, h, 16));
	/* contexts */
	R(cuCtxCreate(&o, NULL, 0, dev)); R(cuMemcpyHtoD(d2, h, 16)); R(cuMemAlloc(&d1, 4096)); R(cuMemcpyHtoD(d1, h, 16));
	R(cuCtxCreate(&o2, NULL, 0, dev)); R(cuCtxDestroy(o2)); R(cuMemcpyHtoD(d1, h, 16));
	R(cuCtxPushCurrent(o2)); R(cuMemcpyHtoD(d1, h, 16)); R(cuMemcpyHtoD(d1, h, 0)); CUcontext x; R(cuCtxPopCurrent(&x));
	R(cuMemcpyHtoD(d1, h, 16));
	R(cuCtxDestroy(o)); R(cuMemcpyHtoD(d2, h, 16)); R(cuMemcpyHtoD(d1, h, 16));
	R(cuCtxSetCurrent(NULL)); R(cuMemcpyHtoD(d2, h, 16));
	R(cuCtxSetCurrent(p)); R(cuMemcpyHtoD(d2, h, 16));
	R(cuDevicePrimaryCtxRelease(dev)); R(cuMemcpyHtoD(d2, h, 16)); R(cuMemcpyHtoD(0x1000, h, 16)); R(cuMemcpyHtoD(0x1000, h, 0));
	R(cuDevicePrimaryCtxRetain(&p, dev)); R(cuMemcpyHtoD(d2, h, 16)); R(cuMemAlloc(&d2, 4096)); R(cuMemcpyHtoD(d2, h, 16));
	R(cuDevicePrimaryCtxReset(dev)); R(cuMemcpyHtoD(d2, h, 16));
	R(cuDevicePrimaryCtxRetain(&p, dev)); R(cuMemAlloc(&d2, 4096)); R(cuMemcpyHtoD(d2, h, 16)); R(cuMemsetD32(d2, 7, 1024)); R(cuMemsetD32(d2, 7, 1025));
	CUDA_MEMCPY2D c2 = { .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = h, .srcPitch = 64, .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = d2, .dstPitch = 64, .WidthInBytes = 64, .Height = 64 };
	R(cuMemcpy2D(&c2)); c2.Height = 65; R(cuMemcpy2D(&c2));
	return 0;
}

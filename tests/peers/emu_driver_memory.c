/* Driver-API checks of the emulator's memory side: allocations, copies, memset, host
 * memory, pointer attributes, streams, events, VMM, pools, modules, launches, capacity.
 * A client built against NVIDIA's own cuda.h, so it also checks that the emulator's ABI
 * matches the real one.
 *
 *   emu_driver_memory AREA [ARG...]
 *
 * Prints "ok - what" / "not ok - what (details)" per check; exits 1 if any failed, 77
 * when the emulator cannot even initialise (the caller turns that into a skip with the
 * reason printed). */
#define _GNU_SOURCE
#include <cuda.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failed;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		int check_ok_ = !!(cond);                                  \
		printf("%sok - ", check_ok_ ? "" : "not ");                \
		printf(__VA_ARGS__);                                       \
		if (!check_ok_) {                                          \
			failed = 1;                                        \
			printf(" (line %d: %s)", __LINE__, #cond);         \
		}                                                          \
		printf("\n");                                              \
	} while (0)

#define RC(call, want) CHECK((rc = (call)) == (want), "%s = %d (want %d)", #call, (int)rc, (int)(want))

static CUresult rc;
static CUcontext ctx;
static CUdevice dev;

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

static void setup(void)
{
	CUresult r = cuInit(0);
	if (r != CUDA_SUCCESS) {
		printf("cuInit returned %d\n", (int)r);
		exit(77);
	}
	r = cuDeviceGet(&dev, 0);
	if (r == CUDA_SUCCESS)
		r = cuDevicePrimaryCtxRetain(&ctx, dev);
	if (r == CUDA_SUCCESS)
		r = cuCtxSetCurrent(ctx);
	if (r != CUDA_SUCCESS) {
		printf("no context on device 0: %d\n", (int)r);
		exit(77);
	}
}

static size_t free_mem(void)
{
	size_t f = 0, t = 0;
	cuMemGetInfo(&f, &t);
	return f;
}

/* --- areas ------------------------------------------------------------------------------- */

static void area_alloc(void)
{
	size_t f0, t0, f1, t1;
	RC(cuMemGetInfo(&f0, &t0), CUDA_SUCCESS);
	CHECK(f0 <= t0 && t0 > 0, "free %zu <= total %zu", f0, t0);
	size_t total_mem = 0;
	RC(cuDeviceTotalMem(&total_mem, dev), CUDA_SUCCESS);
	CHECK(t0 == total_mem, "cuMemGetInfo total equals cuDeviceTotalMem (%zu)", total_mem);

	CUdeviceptr p = 0;
	RC(cuMemAlloc(&p, 3 << 20), CUDA_SUCCESS);
	CHECK(p % 256 == 0 && p != 0, "device pointer 0x%llx is 256-byte aligned", (unsigned long long)p);
	RC(cuMemGetInfo(&f1, &t1), CUDA_SUCCESS);
	CHECK(f0 - f1 >= (3u << 20) && f0 - f1 <= (4u << 20), "3 MiB allocation takes 3-4 MiB (%zu)", f0 - f1);

	CUdeviceptr base = 0;
	size_t size = 0;
	RC(cuMemGetAddressRange(&base, &size, p + 12345), CUDA_SUCCESS);
	CHECK(base == p && size == (3u << 20), "address range of an inner pointer: base and size");
	RC(cuMemGetAddressRange(&base, &size, 0x10), CUDA_ERROR_NOT_FOUND);

	/* A device pointer never aliases host memory: the page is not host-mapped elsewhere. */
	void *h = malloc(1 << 20);
	CHECK((uintptr_t)h + (1 << 20) <= p || (uintptr_t)h >= p + (3 << 20), "host malloc does not overlap device memory");
	free(h);

	CUdeviceptr q[64];
	int distinct = 1;
	for (int i = 0; i < 64; i++) {
		RC(cuMemAlloc(&q[i], 1 + i * 1000), CUDA_SUCCESS);
		for (int j = 0; j < i; j++)
			if (q[i] == q[j])
				distinct = 0;
	}
	CHECK(distinct, "64 small allocations are distinct");
	for (int i = 0; i < 64; i++)
		RC(cuMemFree(q[i]), CUDA_SUCCESS);

	RC(cuMemFree(p), CUDA_SUCCESS);
	RC(cuMemFree(p), CUDA_ERROR_INVALID_VALUE);
	RC(cuMemFree(0), CUDA_SUCCESS);
	RC(cuMemAlloc(&p, 0), CUDA_ERROR_INVALID_VALUE);
	RC(cuMemGetInfo(&f1, &t1), CUDA_SUCCESS);
	CHECK(f1 == f0, "all freed: free memory back to %zu", f0);

	size_t pitch = 0;
	RC(cuMemAllocPitch(&p, &pitch, 1000, 10, 4), CUDA_SUCCESS);
	CHECK(pitch >= 1000 && pitch % 256 == 0, "pitch %zu", pitch);
	RC(cuMemFree(p), CUDA_SUCCESS);
	RC(cuMemAllocPitch(&p, &pitch, 1000, 10, 3), CUDA_ERROR_INVALID_VALUE);

	/* The CUDA 2.x entry point: 32-bit pointer and size. */
	CUresult (*alloc32)(unsigned int *, unsigned int) = NULL;
	CUresult (*free32)(unsigned int) = NULL;
	CUdriverProcAddressQueryResult st;
	cuGetProcAddress("cuMemAlloc", (void **)&alloc32, 2000, 0, &st);
	cuGetProcAddress("cuMemFree", (void **)&free32, 2000, 0, &st);
	if (alloc32 && free32) {
		unsigned int p32 = 0;
		RC(alloc32(&p32, 4096), CUDA_SUCCESS);
		unsigned char buf[16] = { 1, 2, 3 }, back[16] = { 0 };
		RC(cuMemcpyHtoD((CUdeviceptr)p32, buf, 16), CUDA_SUCCESS);
		RC(cuMemcpyDtoH(back, (CUdeviceptr)p32, 16), CUDA_SUCCESS);
		CHECK(p32 != 0 && memcmp(buf, back, 16) == 0, "cuMemAlloc (32-bit) gives a usable pointer 0x%x", p32);
		RC(free32(p32), CUDA_SUCCESS);
	} else {
		CHECK(0, "cuGetProcAddress gives cuMemAlloc/cuMemFree at version 2000");
	}
}

static void area_copy(void)
{
	const size_t n = 5 * 1000 * 1000 + 17;
	unsigned char *a = malloc(n), *b = malloc(n);
	fill_random(a, n, 1);
	CUdeviceptr d1, d2;
	RC(cuMemAlloc(&d1, n), CUDA_SUCCESS);
	RC(cuMemAlloc(&d2, n), CUDA_SUCCESS);
	RC(cuMemcpyHtoD(d1, a, n), CUDA_SUCCESS);
	RC(cuMemcpyDtoD(d2, d1, n), CUDA_SUCCESS);
	memset(b, 0, n);
	RC(cuMemcpyDtoH(b, d2, n), CUDA_SUCCESS);
	CHECK(memcmp(a, b, n) == 0, "H2D, D2D, D2H round trip of %zu random bytes", n);

	/* cuMemcpy with unified addresses, both directions. */
	fill_random(a, n, 2);
	RC(cuMemcpy(d1, (CUdeviceptr)(uintptr_t)a, n), CUDA_SUCCESS);
	memset(b, 0, n);
	RC(cuMemcpy((CUdeviceptr)(uintptr_t)b, d1, n), CUDA_SUCCESS);
	CHECK(memcmp(a, b, n) == 0, "cuMemcpy (unified) round trip");

	/* Async on every kind of stream handle. */
	CUstream s;
	RC(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
	CUstream handles[4] = { NULL, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD, s };
	for (int i = 0; i < 4; i++) {
		fill_random(a, 4096, 10 + i);
		RC(cuMemcpyHtoDAsync(d1, a, 4096, handles[i]), CUDA_SUCCESS);
		RC(cuMemcpyDtoDAsync(d2, d1, 4096, handles[i]), CUDA_SUCCESS);
		RC(cuMemcpyDtoHAsync(b, d2, 4096, handles[i]), CUDA_SUCCESS);
		RC(cuStreamSynchronize(handles[i]), CUDA_SUCCESS);
		CHECK(memcmp(a, b, 4096) == 0, "async round trip on stream handle %d", i);
	}
	RC(cuMemcpyAsync(d1, d2, 64, (CUstream)0x1234), CUDA_ERROR_INVALID_HANDLE);

	/* Per-thread default stream variants, as cuGetProcAddress gives them with flag 2. */
	CUresult (*htod_ptds)(CUdeviceptr, const void *, size_t) = NULL;
	CUresult (*dtoh_async_ptsz)(void *, CUdeviceptr, size_t, CUstream) = NULL;
	CUdriverProcAddressQueryResult st;
	cuGetProcAddress("cuMemcpyHtoD", (void **)&htod_ptds, 13000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &st);
	cuGetProcAddress("cuMemcpyDtoHAsync", (void **)&dtoh_async_ptsz, 13000,
			 CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &st);
	CHECK(htod_ptds && dtoh_async_ptsz, "per-thread-stream variants are there");
	if (htod_ptds && dtoh_async_ptsz) {
		fill_random(a, 1000, 7);
		RC(htod_ptds(d1, a, 1000), CUDA_SUCCESS);
		memset(b, 0, 1000);
		RC(dtoh_async_ptsz(b, d1, 1000, NULL), CUDA_SUCCESS);
		CHECK(memcmp(a, b, 1000) == 0, "_ptds / _ptsz round trip");
	}

	/* Invalid device ranges are errors, never crashes. */
	RC(cuMemcpyHtoD(d1 + n - 10, a, 11), CUDA_ERROR_INVALID_VALUE);
	RC(cuMemcpyDtoH(b, d1 - 4096, 16), CUDA_ERROR_INVALID_VALUE);
	RC(cuMemcpyDtoD(d1, 0, 16), CUDA_ERROR_INVALID_VALUE);
	RC(cuMemFree(d2), CUDA_SUCCESS);
	RC(cuMemcpyDtoH(b, d2, 16), CUDA_ERROR_INVALID_VALUE);
	RC(cuMemcpyHtoD(d2, a, 16), CUDA_ERROR_INVALID_VALUE);
	RC(cuMemcpyHtoD(d1, a, 0), CUDA_SUCCESS);

	/* A batch (CUDA 12.8+): host to device and device to host in one call. */
	fill_random(a, 8192, 11);
	memset(b, 0, 8192);
	CUdeviceptr dsts[2] = { d1, (CUdeviceptr)(uintptr_t)b }, srcs[2] = { (CUdeviceptr)(uintptr_t)a, d1 };
	size_t sizes[2] = { 8192, 8192 }, idx = 0;
	CUmemcpyAttributes mattr;
	memset(&mattr, 0, sizeof mattr);
	mattr.srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_STREAM;
	RC(cuMemcpyBatchAsync(dsts, srcs, sizes, 2, &mattr, &idx, 1, s), CUDA_SUCCESS);
	CHECK(memcmp(a, b, 8192) == 0, "cuMemcpyBatchAsync: two copies in order");

	RC(cuStreamDestroy(s), CUDA_SUCCESS);
	RC(cuMemFree(d1), CUDA_SUCCESS);
	free(a);
	free(b);
}

static void area_memset(void)
{
	CUdeviceptr d;
	const size_t n = 1 << 16;
	unsigned char *h = malloc(n);
	RC(cuMemAlloc(&d, n), CUDA_SUCCESS);
	RC(cuMemsetD8(d, 0xab, n), CUDA_SUCCESS);
	RC(cuMemcpyDtoH(h, d, n), CUDA_SUCCESS);
	int ok = 1;
	for (size_t i = 0; i < n; i++)
		ok &= h[i] == 0xab;
	CHECK(ok, "cuMemsetD8");
	RC(cuMemsetD16(d + 2, 0x1234, 100), CUDA_SUCCESS);
	RC(cuMemsetD32Async(d + 1024, 0xdeadbeef, 100, NULL), CUDA_SUCCESS);
	RC(cuMemcpyDtoH(h, d, n), CUDA_SUCCESS);
	uint16_t v16;
	uint32_t v32;
	memcpy(&v16, h + 2 + 99 * 2, 2);
	memcpy(&v32, h + 1024 + 99 * 4, 4);
	CHECK(v16 == 0x1234 && h[0] == 0xab && h[2 + 200] == 0xab, "cuMemsetD16 fills exactly its elements");
	CHECK(v32 == 0xdeadbeef && h[1024 + 400] == 0xab, "cuMemsetD32Async");
	RC(cuMemsetD16(d + 1, 1, 4), CUDA_ERROR_INVALID_VALUE);
	RC(cuMemsetD32(d + 2, 1, 4), CUDA_ERROR_INVALID_VALUE);
	RC(cuMemsetD8(d + n - 4, 0, 5), CUDA_ERROR_INVALID_VALUE);

	/* 2D: 10 rows of 16 bytes in a pitch of 64. */
	RC(cuMemsetD8(d, 0, n), CUDA_SUCCESS);
	RC(cuMemsetD2D8(d, 64, 0x5a, 16, 10), CUDA_SUCCESS);
	RC(cuMemsetD2D32Async(d + 2048, 64, 0x01020304, 4, 10, NULL), CUDA_SUCCESS);
	RC(cuMemcpyDtoH(h, d, n), CUDA_SUCCESS);
	ok = 1;
	for (int y = 0; y < 10; y++)
		for (int x = 0; x < 64; x++)
			ok &= h[y * 64 + x] == (x < 16 ? 0x5a : 0);
	CHECK(ok, "cuMemsetD2D8 fills the rows and leaves the pitch padding");
	memcpy(&v32, h + 2048 + 9 * 64 + 12, 4);
	CHECK(v32 == 0x01020304 && h[2048 + 9 * 64 + 16] == 0, "cuMemsetD2D32Async");
	RC(cuMemFree(d), CUDA_SUCCESS);
	free(h);
}

static void area_2d3d(void)
{
	/* A 100 x 50 byte image: host (pitch 100) -> device (pitch 128) -> host (pitch 120). */
	unsigned char src[100 * 50], dst[120 * 50];
	fill_random(src, sizeof src, 3);
	memset(dst, 0, sizeof dst);
	CUdeviceptr d;
	size_t pitch;
	RC(cuMemAllocPitch(&d, &pitch, 100, 50, 4), CUDA_SUCCESS);
	CUDA_MEMCPY2D c;
	memset(&c, 0, sizeof c);
	c.srcMemoryType = CU_MEMORYTYPE_HOST;
	c.srcHost = src;
	c.srcPitch = 100;
	c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
	c.dstDevice = d;
	c.dstPitch = pitch;
	c.WidthInBytes = 100;
	c.Height = 50;
	RC(cuMemcpy2D(&c), CUDA_SUCCESS);
	memset(&c, 0, sizeof c);
	c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
	c.srcDevice = d;
	c.srcPitch = pitch;
	c.dstMemoryType = CU_MEMORYTYPE_HOST;
	c.dstHost = dst;
	c.dstPitch = 120;
	c.WidthInBytes = 100;
	c.Height = 50;
	RC(cuMemcpy2DAsync(&c, NULL), CUDA_SUCCESS);
	int ok = 1;
	for (int y = 0; y < 50; y++)
		ok &= memcmp(src + y * 100, dst + y * 120, 100) == 0 && dst[y * 120 + 100] == 0;
	CHECK(ok, "2D host -> pitched device -> host");
	c.Height = 100000;
	RC(cuMemcpy2D(&c), CUDA_ERROR_INVALID_VALUE);

	/* 3D: a 8 x 4 x 3 box out of a 16 x 8 x 5 host volume into a packed device one. */
	unsigned char vol[16 * 8 * 5], box[8 * 4 * 3];
	fill_random(vol, sizeof vol, 4);
	CUdeviceptr d3;
	RC(cuMemAlloc(&d3, sizeof box), CUDA_SUCCESS);
	CUDA_MEMCPY3D c3;
	memset(&c3, 0, sizeof c3);
	c3.srcMemoryType = CU_MEMORYTYPE_HOST;
	c3.srcHost = vol;
	c3.srcXInBytes = 2;
	c3.srcY = 1;
	c3.srcZ = 1;
	c3.srcPitch = 16;
	c3.srcHeight = 8;
	c3.dstMemoryType = CU_MEMORYTYPE_DEVICE;
	c3.dstDevice = d3;
	c3.dstPitch = 8;
	c3.dstHeight = 4;
	c3.WidthInBytes = 8;
	c3.Height = 4;
	c3.Depth = 3;
	RC(cuMemcpy3D(&c3), CUDA_SUCCESS);
	RC(cuMemcpyDtoH(box, d3, sizeof box), CUDA_SUCCESS);
	ok = 1;
	for (int z = 0; z < 3; z++)
		for (int y = 0; y < 4; y++)
			ok &= memcmp(box + (z * 4 + y) * 8, vol + ((z + 1) * 8 + (y + 1)) * 16 + 2, 8) == 0;
	CHECK(ok, "3D box copy");
	RC(cuMemFree(d), CUDA_SUCCESS);
	RC(cuMemFree(d3), CUDA_SUCCESS);
}

static void area_host(void)
{
	void *p = NULL;
	RC(cuMemAllocHost(&p, 10000), CUDA_SUCCESS);
	memset(p, 0x11, 10000);
	unsigned int flags = 99;
	RC(cuMemHostGetFlags(&flags, p), CUDA_SUCCESS);
	CUdeviceptr dp = 0;
	RC(cuMemHostGetDevicePointer(&dp, (char *)p + 10, 0), CUDA_SUCCESS);
	CHECK(dp == (CUdeviceptr)(uintptr_t)p + 10, "pinned memory's device pointer is its address (UVA)");
	CUdeviceptr d;
	RC(cuMemAlloc(&d, 10000), CUDA_SUCCESS);
	RC(cuMemcpyHtoD(d, p, 10000), CUDA_SUCCESS);
	RC(cuMemFreeHost(p), CUDA_SUCCESS);
	RC(cuMemFreeHost(p), CUDA_ERROR_INVALID_VALUE);

	RC(cuMemHostAlloc(&p, 5000, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE), CUDA_SUCCESS);
	RC(cuMemHostGetFlags(&flags, p), CUDA_SUCCESS);
	CHECK(flags == (CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE), "cuMemHostGetFlags = %u", flags);
	RC(cuMemcpyDtoH(p, d, 5000), CUDA_SUCCESS);
	CHECK(((unsigned char *)p)[4999] == 0x11, "copy into pinned memory");
	RC(cuMemFreeHost(p), CUDA_SUCCESS);

	char *buf = aligned_alloc(4096, 1 << 16);
	RC(cuMemHostRegister(buf, 1 << 16, 0), CUDA_SUCCESS);
	RC(cuMemHostRegister(buf + 4096, 4096, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
	RC(cuMemHostGetDevicePointer(&dp, buf, 0), CUDA_SUCCESS);
	RC(cuMemcpyDtoH(buf, d, 1000), CUDA_SUCCESS);
	RC(cuMemHostUnregister(buf), CUDA_SUCCESS);
	RC(cuMemHostUnregister(buf), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
	RC(cuMemHostGetDevicePointer(&dp, buf, 0), CUDA_ERROR_INVALID_VALUE);
	RC(cuMemHostRegister((void *)(uintptr_t)d, 4096, 0), CUDA_ERROR_INVALID_VALUE);
	free(buf);

	CUdeviceptr m;
	RC(cuMemAllocManaged(&m, 1 << 20, CU_MEM_ATTACH_GLOBAL), CUDA_SUCCESS);
	((volatile char *)(uintptr_t)m)[12345] = 42; /* managed memory is host-accessible */
	char back = 0;
	RC(cuMemcpyDtoH(&back, m + 12345, 1), CUDA_SUCCESS);
	CHECK(back == 42, "managed memory written by the host reads back through the driver");
	unsigned int managed = 0;
	RC(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, m), CUDA_SUCCESS);
	CHECK(managed == 1, "IS_MANAGED of managed memory");
	RC(cuMemAllocManaged(&m, 16, 7), CUDA_ERROR_INVALID_VALUE);
	RC(cuMemFree(d), CUDA_SUCCESS);
}

static void area_pointer(void)
{
	CUdeviceptr d;
	RC(cuMemAlloc(&d, 1 << 20), CUDA_SUCCESS);
	unsigned int type = 0;
	RC(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d + 100), CUDA_SUCCESS);
	CHECK(type == CU_MEMORYTYPE_DEVICE, "device memory type");
	CUcontext c = NULL;
	RC(cuPointerGetAttribute(&c, CU_POINTER_ATTRIBUTE_CONTEXT, d), CUDA_SUCCESS);
	CHECK(c == ctx, "context of a device pointer");
	int ordinal = -1;
	RC(cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, d), CUDA_SUCCESS);
	CHECK(ordinal == 0, "device ordinal");
	CUdeviceptr start = 0;
	size_t size = 0;
	RC(cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, d + 5000), CUDA_SUCCESS);
	RC(cuPointerGetAttribute(&size, CU_POINTER_ATTRIBUTE_RANGE_SIZE, d + 5000), CUDA_SUCCESS);
	CHECK(start == d && size == (1 << 20), "range start and size");
	void *hp = (void *)1;
	RC(cuPointerGetAttribute(&hp, CU_POINTER_ATTRIBUTE_HOST_POINTER, d), CUDA_ERROR_INVALID_VALUE);
	unsigned long long id1 = 0, id2 = 0;
	CUdeviceptr d2;
	RC(cuMemAlloc(&d2, 4096), CUDA_SUCCESS);
	RC(cuPointerGetAttribute(&id1, CU_POINTER_ATTRIBUTE_BUFFER_ID, d), CUDA_SUCCESS);
	RC(cuPointerGetAttribute(&id2, CU_POINTER_ATTRIBUTE_BUFFER_ID, d2), CUDA_SUCCESS);
	CHECK(id1 && id2 && id1 != id2, "buffer ids are unique");

	int plain;
	RC(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)&plain),
	   CUDA_ERROR_INVALID_VALUE);
	CUpointer_attribute attrs[3] = { CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_CONTEXT,
					 CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL };
	c = (CUcontext)1;
	type = 77;
	ordinal = 5;
	void *data[3] = { &type, &c, &ordinal };
	RC(cuPointerGetAttributes(3, attrs, data, (CUdeviceptr)(uintptr_t)&plain), CUDA_SUCCESS);
	CHECK(type == 0 && c == NULL && ordinal == -2, "cuPointerGetAttributes of unregistered host memory: empty values");
	RC(cuPointerGetAttributes(3, attrs, data, d), CUDA_SUCCESS);
	CHECK(type == CU_MEMORYTYPE_DEVICE && c == ctx && ordinal == 0, "cuPointerGetAttributes of device memory");

	void *pinned;
	RC(cuMemAllocHost(&pinned, 100), CUDA_SUCCESS);
	RC(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)pinned), CUDA_SUCCESS);
	RC(cuPointerGetAttribute(&hp, CU_POINTER_ATTRIBUTE_HOST_POINTER, (CUdeviceptr)(uintptr_t)pinned), CUDA_SUCCESS);
	CHECK(type == CU_MEMORYTYPE_HOST && hp == pinned, "pinned host memory: type host, host pointer itself");
	RC(cuMemFreeHost(pinned), CUDA_SUCCESS);
	RC(cuMemFree(d), CUDA_SUCCESS);
	RC(cuMemFree(d2), CUDA_SUCCESS);
}

static int callback_ran, hostfn_ran;
static void CUDA_CB on_stream(CUstream s, CUresult status, void *arg)
{
	callback_ran = status == CUDA_SUCCESS && arg == &callback_ran;
}
static void CUDA_CB on_host(void *arg)
{
	hostfn_ran = arg == &hostfn_ran;
}

static void area_streams(void)
{
	CUstream s, sp;
	RC(cuStreamCreate(&s, 0), CUDA_SUCCESS);
	int least = 0, greatest = 0;
	RC(cuCtxGetStreamPriorityRange(&least, &greatest), CUDA_SUCCESS);
	RC(cuStreamCreateWithPriority(&sp, CU_STREAM_NON_BLOCKING, greatest), CUDA_SUCCESS);
	int prio = 99;
	unsigned int flags = 99;
	RC(cuStreamGetPriority(sp, &prio), CUDA_SUCCESS);
	RC(cuStreamGetFlags(sp, &flags), CUDA_SUCCESS);
	CHECK(prio == greatest && flags == CU_STREAM_NON_BLOCKING, "priority %d (range %d..%d), flags %u", prio, least,
	      greatest, flags);
	CUcontext c = NULL;
	RC(cuStreamGetCtx(s, &c), CUDA_SUCCESS);
	CHECK(c == ctx, "stream context");
	RC(cuStreamGetCtx(NULL, &c), CUDA_SUCCESS);
	CHECK(c == ctx, "NULL stream's context is the current one");
	unsigned long long id1 = 0, id2 = 0;
	RC(cuStreamGetId(s, &id1), CUDA_SUCCESS);
	RC(cuStreamGetId(sp, &id2), CUDA_SUCCESS);
	CHECK(id1 != id2, "stream ids differ");
	CUdevice sd = -1;
	RC(cuStreamGetDevice(s, &sd), CUDA_SUCCESS);
	CHECK(sd == dev, "stream device");
	RC(cuStreamQuery(s), CUDA_SUCCESS);
	RC(cuStreamSynchronize(CU_STREAM_PER_THREAD), CUDA_SUCCESS);
	RC(cuStreamQuery(CU_STREAM_LEGACY), CUDA_SUCCESS);
	RC(cuStreamAddCallback(s, on_stream, &callback_ran, 0), CUDA_SUCCESS);
	RC(cuLaunchHostFunc(NULL, on_host, &hostfn_ran), CUDA_SUCCESS);
	RC(cuStreamSynchronize(s), CUDA_SUCCESS);
	CHECK(callback_ran && hostfn_ran, "stream callback and host function ran by synchronize");
	CUstreamCaptureStatus cs = 7;
	RC(cuStreamIsCapturing(s, &cs), CUDA_SUCCESS);
	CHECK(cs == CU_STREAM_CAPTURE_STATUS_NONE, "not capturing");
	CUstreamAttrValue av;
	memset(&av, 0, sizeof av);
	av.syncPolicy = CU_SYNC_POLICY_YIELD;
	RC(cuStreamSetAttribute(s, CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY, &av), CUDA_SUCCESS);
	memset(&av, 0, sizeof av);
	RC(cuStreamCopyAttributes(sp, s), CUDA_SUCCESS);
	RC(cuStreamGetAttribute(sp, CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY, &av), CUDA_SUCCESS);
	CHECK(av.syncPolicy == CU_SYNC_POLICY_YIELD, "stream attributes set and copied");
	RC(cuStreamGetAttribute(s, CU_STREAM_ATTRIBUTE_PRIORITY, &av), CUDA_SUCCESS);
	CHECK(av.priority == 0, "priority attribute of a default-priority stream");
	RC(cuStreamDestroy(s), CUDA_SUCCESS);
	RC(cuStreamDestroy(sp), CUDA_SUCCESS);
	RC(cuStreamQuery(s), CUDA_ERROR_INVALID_HANDLE);
	RC(cuStreamDestroy(s), CUDA_ERROR_INVALID_HANDLE);
}

static void area_events(void)
{
	CUevent a, b, nt;
	RC(cuEventCreate(&a, CU_EVENT_DEFAULT), CUDA_SUCCESS);
	RC(cuEventCreate(&b, CU_EVENT_BLOCKING_SYNC), CUDA_SUCCESS);
	RC(cuEventCreate(&nt, CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS);
	float ms = -1;
	RC(cuEventElapsedTime(&ms, a, b), CUDA_ERROR_INVALID_HANDLE); /* not recorded */
	RC(cuEventQuery(a), CUDA_SUCCESS);
	RC(cuEventRecord(a, NULL), CUDA_SUCCESS);
	struct timespec ts = { 0, 30 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	RC(cuEventRecord(b, CU_STREAM_PER_THREAD), CUDA_SUCCESS);
	RC(cuEventSynchronize(b), CUDA_SUCCESS);
	RC(cuEventQuery(b), CUDA_SUCCESS);
	RC(cuEventElapsedTime(&ms, a, b), CUDA_SUCCESS);
	CHECK(ms >= 25 && ms < 5000, "elapsed %.3f ms across a 30 ms sleep", ms);
	RC(cuEventRecord(nt, NULL), CUDA_SUCCESS);
	RC(cuEventElapsedTime(&ms, a, nt), CUDA_ERROR_INVALID_HANDLE);
	CUstream s;
	RC(cuStreamCreate(&s, 0), CUDA_SUCCESS);
	RC(cuStreamWaitEvent(s, b, 0), CUDA_SUCCESS);
	RC(cuStreamDestroy(s), CUDA_SUCCESS);
	RC(cuEventDestroy(a), CUDA_SUCCESS);
	RC(cuEventDestroy(b), CUDA_SUCCESS);
	RC(cuEventDestroy(nt), CUDA_SUCCESS);
	RC(cuEventQuery(a), CUDA_ERROR_INVALID_HANDLE);
}

static void area_vmm(void)
{
	CUmemAllocationProp prop;
	memset(&prop, 0, sizeof prop);
	prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	prop.location.id = dev;
	size_t gran = 0;
	RC(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM), CUDA_SUCCESS);
	CHECK(gran == 2 << 20, "granularity %zu is 2 MiB", gran);
	size_t before = free_mem();
	const size_t chunk = 8 * gran;
	CUdeviceptr va;
	RC(cuMemAddressReserve(&va, 4 * chunk, 0, 0, 0), CUDA_SUCCESS);
	CHECK(free_mem() == before, "a reservation costs no memory");
	CUmemGenericAllocationHandle h1, h2;
	RC(cuMemCreate(&h1, chunk, &prop, 0), CUDA_SUCCESS);
	RC(cuMemCreate(&h2, chunk, &prop, 0), CUDA_SUCCESS);
	CHECK(before - free_mem() == 2 * chunk, "physical allocations count against the device");
	RC(cuMemCreate(&h2, chunk + 1, &prop, 0), CUDA_ERROR_INVALID_VALUE);
	RC(cuMemMap(va, chunk, 0, h1, 0), CUDA_SUCCESS);
	RC(cuMemMap(va + chunk, chunk, 0, h2, 0), CUDA_SUCCESS);
	RC(cuMemMap(va, chunk, 0, h2, 0), CUDA_ERROR_INVALID_VALUE); /* already mapped */
	unsigned char *a = malloc(4096), *b = malloc(4096);
	fill_random(a, 4096, 5);
	RC(cuMemcpyHtoD(va + chunk - 2048, a, 4096), CUDA_ERROR_INVALID_VALUE); /* no access yet */
	CUmemAccessDesc acc;
	acc.location = prop.location;
	acc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	RC(cuMemSetAccess(va, 2 * chunk, &acc, 1), CUDA_SUCCESS);
	unsigned long long fl = 0;
	RC(cuMemGetAccess(&fl, &prop.location, va + 100), CUDA_SUCCESS);
	CHECK(fl == CU_MEM_ACCESS_FLAGS_PROT_READWRITE, "access flags %llu", fl);
	RC(cuMemcpyHtoD(va + chunk - 2048, a, 4096), CUDA_SUCCESS);
	RC(cuMemcpyDtoH(b, va + chunk - 2048, 4096), CUDA_SUCCESS);
	CHECK(memcmp(a, b, 4096) == 0, "a copy across two mappings side by side");
	RC(cuMemcpyHtoD(va + 2 * chunk - 100, a, 200), CUDA_ERROR_INVALID_VALUE); /* past the mapped part */

	/* The same physical memory at a second address shows the same bytes. */
	CUdeviceptr va2;
	RC(cuMemAddressReserve(&va2, chunk, 0, 0, 0), CUDA_SUCCESS);
	RC(cuMemMap(va2, chunk, 0, h2, 0), CUDA_SUCCESS);
	RC(cuMemSetAccess(va2, chunk, &acc, 1), CUDA_SUCCESS);
	memset(b, 0, 4096);
	RC(cuMemcpyDtoH(b, va2, 2048), CUDA_SUCCESS);
	CHECK(memcmp(a + 2048, b, 2048) == 0, "a second mapping of the same allocation aliases it");

	CUmemGenericAllocationHandle h3;
	RC(cuMemRetainAllocationHandle(&h3, (void *)(uintptr_t)(va + chunk + 10)), CUDA_SUCCESS);
	CHECK(h3 == h2, "cuMemRetainAllocationHandle gives the mapped handle");
	RC(cuMemRelease(h3), CUDA_SUCCESS);
	CUmemAllocationProp got;
	memset(&got, 0xff, sizeof got);
	RC(cuMemGetAllocationPropertiesFromHandle(&got, h1), CUDA_SUCCESS);
	CHECK(got.type == CU_MEM_ALLOCATION_TYPE_PINNED && got.location.id == dev, "allocation properties");
	CUdeviceptr rstart = 0;
	size_t rsize = 0;
	RC(cuPointerGetAttribute(&rstart, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, va + chunk + 5), CUDA_SUCCESS);
	RC(cuPointerGetAttribute(&rsize, CU_POINTER_ATTRIBUTE_RANGE_SIZE, va + chunk + 5), CUDA_SUCCESS);
	CHECK(rstart == va && rsize == 4 * chunk, "pointer range of a mapping is its reservation");

	RC(cuMemUnmap(va2, chunk), CUDA_SUCCESS);
	RC(cuMemAddressFree(va2, chunk), CUDA_SUCCESS);
	RC(cuMemUnmap(va, 2 * chunk), CUDA_SUCCESS);
	RC(cuMemcpyDtoH(b, va, 16), CUDA_ERROR_INVALID_VALUE);
	RC(cuMemRelease(h1), CUDA_SUCCESS);
	RC(cuMemRelease(h2), CUDA_SUCCESS);
	RC(cuMemRelease(h2), CUDA_ERROR_INVALID_VALUE);
	RC(cuMemAddressFree(va, 4 * chunk), CUDA_SUCCESS);
	CHECK(free_mem() == before, "everything given back");
	free(a);
	free(b);
}

static void area_pools(void)
{
	CUmemoryPool def = NULL, cur = NULL;
	RC(cuDeviceGetDefaultMemPool(&def, dev), CUDA_SUCCESS);
	RC(cuDeviceGetMemPool(&cur, dev), CUDA_SUCCESS);
	CHECK(def && def == cur, "the current pool is the default one");
	CUstream s;
	RC(cuStreamCreate(&s, 0), CUDA_SUCCESS);
	CUdeviceptr p;
	size_t before = free_mem();
	RC(cuMemAllocAsync(&p, 1 << 20, s), CUDA_SUCCESS);
	cuuint64_t used = 0;
	RC(cuMemPoolGetAttribute(def, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used), CUDA_SUCCESS);
	CHECK(used >= (1 << 20), "pool used memory %llu", (unsigned long long)used);
	CUmemoryPool owner = NULL;
	RC(cuPointerGetAttribute(&owner, CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE, p), CUDA_SUCCESS);
	CHECK(owner == def, "MEMPOOL_HANDLE of an async allocation");
	RC(cuMemsetD8Async(p, 1, 1 << 20, s), CUDA_SUCCESS);
	RC(cuMemFreeAsync(p, s), CUDA_SUCCESS);
	RC(cuStreamSynchronize(s), CUDA_SUCCESS);
	CHECK(free_mem() == before, "freed");
	cuuint64_t threshold = 1 << 30;
	RC(cuMemPoolSetAttribute(def, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold), CUDA_SUCCESS);
	threshold = 0;
	RC(cuMemPoolGetAttribute(def, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold), CUDA_SUCCESS);
	CHECK(threshold == 1 << 30, "release threshold kept");

	CUmemPoolProps props;
	memset(&props, 0, sizeof props);
	props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
	props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	props.location.id = dev;
	CUmemoryPool mine;
	RC(cuMemPoolCreate(&mine, &props), CUDA_SUCCESS);
	RC(cuMemAllocFromPoolAsync(&p, 4096, mine, NULL), CUDA_SUCCESS);
	RC(cuMemPoolTrimTo(mine, 0), CUDA_SUCCESS);
	RC(cuMemFreeAsync(p, NULL), CUDA_SUCCESS);
	RC(cuDeviceSetMemPool(dev, mine), CUDA_SUCCESS);
	RC(cuDeviceGetMemPool(&cur, dev), CUDA_SUCCESS);
	CHECK(cur == mine, "cuDeviceSetMemPool");
	RC(cuMemPoolDestroy(mine), CUDA_SUCCESS);
	RC(cuDeviceGetMemPool(&cur, dev), CUDA_SUCCESS);
	CHECK(cur == def, "destroying the current pool makes the default current again");
	RC(cuMemPoolDestroy(def), CUDA_ERROR_INVALID_VALUE);
	RC(cuStreamDestroy(s), CUDA_SUCCESS);
}

/* --- modules ------------------------------------------------------------------------------- */

static void *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* The kernels of tests/peers/emu_kernels.cu, as the image must describe them. */
static void check_kernels(CUmodule m, const char *what)
{
	unsigned int count = 0;
	RC(cuModuleGetFunctionCount(&count, m), CUDA_SUCCESS);
	CHECK(count == 3, "%s: 3 kernels (got %u)", what, count);
	CUfunction f;
	RC(cuModuleGetFunction(&f, m, "_Z3addPiPKiidc"), CUDA_SUCCESS);
	if (rc != CUDA_SUCCESS)
		return;
	const char *name = NULL;
	RC(cuFuncGetName(&name, f), CUDA_SUCCESS);
	CHECK(name && strcmp(name, "_Z3addPiPKiidc") == 0, "%s: cuFuncGetName", what);
	{
		size_t want_off[5] = { 0, 8, 16, 24, 32 }, want_size[5] = { 8, 8, 4, 8, 1 };
		int ok = 1;
		for (int i = 0; i < 5; i++) {
			size_t off = 99, size = 99;
			ok &= cuFuncGetParamInfo(f, i, &off, &size) == CUDA_SUCCESS && off == want_off[i] &&
			      size == want_size[i];
		}
		CHECK(ok, "%s: parameters of add(int*, const int*, int, double, char)", what);
		size_t off, size;
		RC(cuFuncGetParamInfo(f, 5, &off, &size), CUDA_ERROR_INVALID_VALUE);
		CUfunction g;
		RC(cuModuleGetFunction(&g, m, "_Z3big1Ssx"), CUDA_SUCCESS);
		ok = cuFuncGetParamInfo(g, 0, &off, &size) == CUDA_SUCCESS && off == 0 && size == 24;
		ok &= cuFuncGetParamInfo(g, 2, &off, &size) == CUDA_SUCCESS && off == 32 && size == 8;
		CHECK(ok, "%s: parameters of big(S, short, long long)", what);
	}
	RC(cuModuleGetFunction(&f, m, "no_such_kernel"), CUDA_ERROR_NOT_FOUND);
	CUdeviceptr g;
	size_t bytes = 0;
	RC(cuModuleGetGlobal(&g, &bytes, m, "gvar"), CUDA_SUCCESS);
	CHECK(bytes == 64 && g != 0, "%s: __device__ int gvar[16] is 64 bytes", what);
	RC(cuModuleGetGlobal(&g, &bytes, m, "cvar"), CUDA_SUCCESS);
	CHECK(bytes == 16, "%s: __constant__ float cvar[4] is 16 bytes", what);
	int init = 0;
	RC(cuModuleGetGlobal(&g, &bytes, m, "initialised"), CUDA_SUCCESS);
	if (rc == CUDA_SUCCESS)
		RC(cuMemcpyDtoH(&init, g, sizeof init), CUDA_SUCCESS);
	CHECK(init == 1234, "%s: __device__ int initialised = 1234 reads %d", what, init);
}

static void area_modules(const char *dir)
{
	char path[4096];
	void *zstd = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL); /* what the emulator uses when there */
	const char *images[][2] = { { "emu_kernels.cubin", "cubin" },
				    { "emu_kernels.fatbin", "fatbin" },
				    { "emu_kernels_lz4.fatbin", "fatbin, LZ4-compressed" },
				    { "emu_kernels_zstd.fatbin", "fatbin, zstd-compressed" },
				    { "emu_kernels.ptx", "PTX" } };
	for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, images[i][0]);
		size_t len;
		void *img = read_all(path, &len);
		if (!img) {
			CHECK(0, "read %s", path);
			continue;
		}
		CUmodule m;
		RC(cuModuleLoadData(&m, img), CUDA_SUCCESS);
		if (rc == CUDA_SUCCESS && strstr(images[i][1], "zstd") && !zstd) {
			/* Without the system's libzstd the image cannot be read: it loads anyway,
			 * listing nothing and taking any kernel name to exist. */
			unsigned int count = 99;
			CUfunction f;
			RC(cuModuleGetFunctionCount(&count, m), CUDA_SUCCESS);
			RC(cuModuleGetFunction(&f, m, "_Z3addPiPKiidc"), CUDA_SUCCESS);
			CHECK(count == 0, "%s without libzstd.so.1: loads, lists nothing, any name resolves", images[i][1]);
			RC(cuModuleUnload(m), CUDA_SUCCESS);
		} else if (rc == CUDA_SUCCESS) {
			check_kernels(m, images[i][1]);
			RC(cuModuleUnload(m), CUDA_SUCCESS);
		}
		free(img);
	}
	/* PTX parameters: the declarations' types. */
	snprintf(path, sizeof path, "%s/emu_kernels.ptx", dir);
	CUmodule m;
	RC(cuModuleLoad(&m, path), CUDA_SUCCESS);
	if (rc == CUDA_SUCCESS) {
		CUfunction f;
		size_t off = 0, size = 0;
		RC(cuModuleGetFunction(&f, m, "_Z3addPiPKiidc"), CUDA_SUCCESS);
		RC(cuFuncGetParamInfo(f, 4, &off, &size), CUDA_SUCCESS);
		CHECK(off == 32 && size == 1, "PTX: the char parameter at 32, 1 byte");
		RC(cuModuleUnload(m), CUDA_SUCCESS);
	}
	RC(cuModuleLoad(&m, "/nonexistent/x.cubin"), CUDA_ERROR_FILE_NOT_FOUND);

	/* Libraries, as cudart loads them: the wrapper nvcc emits. */
	snprintf(path, sizeof path, "%s/emu_kernels.fatbin", dir);
	size_t len;
	void *fat = read_all(path, &len);
	struct {
		unsigned int magic, version;
		const void *data, *unused;
	} wrapper = { 0x466243b1, 1, fat, NULL };
	CUlibrary lib;
	CUlibraryOption opt = CU_LIBRARY_BINARY_IS_PRESERVED;
	void *optval = (void *)1;
	RC(cuLibraryLoadData(&lib, &wrapper, NULL, NULL, 0, &opt, &optval, 1), CUDA_SUCCESS);
	if (rc == CUDA_SUCCESS) {
		unsigned int count = 0;
		RC(cuLibraryGetKernelCount(&count, lib), CUDA_SUCCESS);
		CHECK(count == 3, "library: 3 kernels");
		CUkernel k[3];
		RC(cuLibraryEnumerateKernels(k, 3, lib), CUDA_SUCCESS);
		CUkernel kadd;
		RC(cuLibraryGetKernel(&kadd, lib, "_Z3addPiPKiidc"), CUDA_SUCCESS);
		CUfunction f;
		RC(cuKernelGetFunction(&f, kadd), CUDA_SUCCESS);
		size_t off, size;
		RC(cuKernelGetParamInfo(kadd, 3, &off, &size), CUDA_SUCCESS);
		CHECK(off == 24 && size == 8, "cuKernelGetParamInfo");
		int regs = 0, consts = 0;
		RC(cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, f), CUDA_SUCCESS);
		CHECK(regs > 0 && regs <= 255, "registers %d", regs);
		RC(cuFuncGetAttribute(&consts, CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES, f), CUDA_SUCCESS);
		CHECK(consts == 16, "user constants: %d bytes (the real H200 says 16)", consts);
		RC(cuKernelGetAttribute(&regs, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, kadd, dev), CUDA_SUCCESS);
		CHECK(regs == 1024, "max threads per block %d", regs);
		RC(cuKernelSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 100000, kadd, dev), CUDA_SUCCESS);
		CUmodule lm;
		RC(cuLibraryGetModule(&lm, lib), CUDA_SUCCESS);
		CUdeviceptr g;
		size_t bytes;
		RC(cuLibraryGetGlobal(&g, &bytes, lib, "gvar"), CUDA_SUCCESS);
		RC(cuLibraryUnload(lib), CUDA_SUCCESS);
	}
	free(fat);

	/* What is no image at all: cuModuleLoadData refuses it (as the real driver does), a
	 * library still loads (cudart poisons the process otherwise; the real driver, which
	 * loads lazily, accepts it too), and then any kernel name is taken to exist. */
	static const char garbage[] = "\x13\x37 this is not an image";
	RC(cuModuleLoadData(&m, garbage), CUDA_ERROR_INVALID_IMAGE);
	RC(cuLibraryLoadData(&lib, garbage, NULL, NULL, 0, NULL, NULL, 0), CUDA_SUCCESS);
	if (rc == CUDA_SUCCESS) {
		CUkernel k;
		RC(cuLibraryGetKernel(&k, lib, "anything"), CUDA_SUCCESS);
		RC(cuLibraryUnload(lib), CUDA_SUCCESS);
	}
}

static void area_launch(const char *dir, int expect_noop)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/emu_kernels.cubin", dir);
	CUmodule m;
	RC(cuModuleLoad(&m, path), CUDA_SUCCESS);
	if (rc != CUDA_SUCCESS)
		return;
	CUfunction f;
	RC(cuModuleGetFunction(&f, m, "_Z3addPiPKiidc"), CUDA_SUCCESS);
	CUdeviceptr d;
	RC(cuMemAlloc(&d, 4096), CUDA_SUCCESS);
	int n = 16;
	double x = 1;
	char c = 'a';
	void *params[] = { &d, &d, &n, &x, &c };
	CUresult want = expect_noop ? CUDA_SUCCESS : CUDA_ERROR_NOT_SUPPORTED;
	RC(cuLaunchKernel(f, 1, 1, 1, 16, 1, 1, 0, NULL, params, NULL), want);
	RC(cuLaunchKernel(f, 2, 1, 1, 32, 1, 1, 0, CU_STREAM_PER_THREAD, params, NULL), want);
	RC(cuLaunchKernel(f, 0, 1, 1, 16, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
	RC(cuLaunchKernel(f, 1, 1, 1, 2048, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
	RC(cuLaunchKernel((CUfunction)&n, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_HANDLE);
	CUlaunchConfig cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.gridDimX = cfg.gridDimY = cfg.gridDimZ = 1;
	cfg.blockDimX = 64;
	cfg.blockDimY = cfg.blockDimZ = 1;
	RC(cuLaunchKernelEx(&cfg, f, params, NULL), want);
	/* The real H200 answers 8 blocks, 1024 threads and a grid of 264 for this kernel. */
	int blocks = 0;
	RC(cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, f, 256, 0), CUDA_SUCCESS);
	CHECK(blocks == 8, "occupancy at 256 threads: %d blocks", blocks);
	RC(cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, f, 128, 100000), CUDA_SUCCESS);
	CHECK(blocks == 0, "no block fits with more dynamic shared memory than allowed (%d)", blocks);
	int grid = 0, block = 0;
	RC(cuOccupancyMaxPotentialBlockSize(&grid, &block, f, NULL, 0, 0), CUDA_SUCCESS);
	CHECK(block == 1024 && grid == 264, "potential block size %d, grid %d", block, grid);

	/* A CUkernel where a CUfunction is expected, as cudart launches (contract trap 6). */
	snprintf(path, sizeof path, "%s/emu_kernels.fatbin", dir);
	CUlibrary lib;
	RC(cuLibraryLoadFromFile(&lib, path, NULL, NULL, 0, NULL, NULL, 0), CUDA_SUCCESS);
	if (rc == CUDA_SUCCESS) {
		CUkernel k;
		RC(cuLibraryGetKernel(&k, lib, "_Z3addPiPKiidc"), CUDA_SUCCESS);
		RC(cuLaunchKernel((CUfunction)k, 1, 1, 1, 16, 1, 1, 0, NULL, params, NULL), want);
		RC(cuLibraryUnload(lib), CUDA_SUCCESS);
	}
	RC(cuMemFree(d), CUDA_SUCCESS);
	RC(cuModuleUnload(m), CUDA_SUCCESS);
}

static void area_capacity(void)
{
	size_t f, t;
	RC(cuMemGetInfo(&f, &t), CUDA_SUCCESS);
	CUdeviceptr p;
	RC(cuMemAlloc(&p, t + 1), CUDA_ERROR_OUT_OF_MEMORY);
	/* Most of the device, untouched: address space only, so it works on any machine. */
	size_t big = t / 10 * 8;
	RC(cuMemAlloc(&p, big), CUDA_SUCCESS);
	size_t f2, t2;
	RC(cuMemGetInfo(&f2, &t2), CUDA_SUCCESS);
	CHECK(f - f2 >= big, "%zu bytes (%zu GB) allocated: free went from %zu to %zu", big, big / 1000000000, f, f2);
	CUdeviceptr q;
	RC(cuMemAlloc(&q, f2 + 4096), CUDA_ERROR_OUT_OF_MEMORY);
	/* Touch a little of it: pages appear where written. */
	RC(cuMemsetD8(p + big / 2, 7, 1 << 20), CUDA_SUCCESS);
	unsigned char c = 0;
	RC(cuMemcpyDtoH(&c, p + big / 2 + 12345, 1), CUDA_SUCCESS);
	CHECK(c == 7, "written bytes of a huge allocation read back");
	RC(cuMemFree(p), CUDA_SUCCESS);
	RC(cuMemGetInfo(&f2, &t2), CUDA_SUCCESS);
	CHECK(f2 == f, "free memory back after freeing");
}

/* Two devices (VGPU_EMULATOR_DEVICES with two profiles): peer copies, capacity per device. */
static void area_peer(void)
{
	int count = 0;
	RC(cuDeviceGetCount(&count), CUDA_SUCCESS);
	if (count < 2) {
		CHECK(0, "two devices configured (have %d)", count);
		return;
	}
	CUdevice d1;
	CUcontext c1;
	RC(cuDeviceGet(&d1, 1), CUDA_SUCCESS);
	RC(cuDevicePrimaryCtxRetain(&c1, d1), CUDA_SUCCESS);
	CUdeviceptr a, b;
	RC(cuMemAlloc(&a, 1 << 20), CUDA_SUCCESS);
	RC(cuCtxPushCurrent(c1), CUDA_SUCCESS);
	size_t f1a, t1a;
	RC(cuMemGetInfo(&f1a, &t1a), CUDA_SUCCESS);
	RC(cuMemAlloc(&b, 1 << 20), CUDA_SUCCESS);
	int ord = -1;
	RC(cuPointerGetAttribute(&ord, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, b), CUDA_SUCCESS);
	CHECK(ord == 1, "allocation on device 1");
	CUcontext popped;
	RC(cuCtxPopCurrent(&popped), CUDA_SUCCESS);
	size_t f0, t0;
	RC(cuMemGetInfo(&f0, &t0), CUDA_SUCCESS);
	CHECK(t0 != t1a || f0 != f1a - (1 << 20), "devices keep their own accounts");
	unsigned char *h = malloc(1 << 20), *h2 = malloc(1 << 20);
	fill_random(h, 1 << 20, 9);
	RC(cuMemcpyHtoD(a, h, 1 << 20), CUDA_SUCCESS);
	RC(cuMemcpyPeer(b, c1, a, ctx, 1 << 20), CUDA_SUCCESS);
	RC(cuMemcpyDtoH(h2, b, 1 << 20), CUDA_SUCCESS);
	CHECK(memcmp(h, h2, 1 << 20) == 0, "peer copy from device 0 to device 1");
	RC(cuMemcpyPeerAsync(a, ctx, b, (CUcontext)0x1234, 16, NULL), CUDA_ERROR_INVALID_CONTEXT);
	RC(cuMemFree(a), CUDA_SUCCESS);
	RC(cuMemFree(b), CUDA_SUCCESS);
	free(h);
	free(h2);
}

/* The emulator's NVML library in the same process sees this process's allocations
 * (the two libraries share their accounting through a memfd outside vgpu-run). */
static void area_nvml(void)
{
	void *nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW);
	if (!nvml) {
		printf("no libnvidia-ml.so.1: %s\n", dlerror());
		exit(77);
	}
	struct mem {
		unsigned long long total, free, used;
	} m0, m1;
	int (*init)(void) = (int (*)(void))dlsym(nvml, "nvmlInit_v2");
	int (*handle)(unsigned, void **) = (int (*)(unsigned, void **))dlsym(nvml, "nvmlDeviceGetHandleByIndex_v2");
	int (*meminfo)(void *, struct mem *) = (int (*)(void *, struct mem *))dlsym(nvml, "nvmlDeviceGetMemoryInfo");
	int (*procs)(void *, unsigned *, void *) =
		(int (*)(void *, unsigned *, void *))dlsym(nvml, "nvmlDeviceGetComputeRunningProcesses_v3");
	void *h = NULL;
	if (!init || !handle || !meminfo || init() != 0 || handle(0, &h) != 0 || meminfo(h, &m0) != 0) {
		printf("the emulator's NVML does not answer nvmlInit_v2 / handle / memory info\n");
		exit(77);
	}
	CUdeviceptr p;
	RC(cuMemAlloc(&p, 1 << 30), CUDA_SUCCESS);
	CHECK(meminfo(h, &m1) == 0 && m1.used - m0.used == 1 << 30, "NVML's used memory grows by the 1 GiB allocated (%llu -> %llu)",
	      m0.used, m1.used);
	if (procs) {
		struct {
			unsigned pid;
			unsigned long long used;
			unsigned gi, ci;
		} list[8];
		unsigned n = 8;
		int r = procs(h, &n, list);
		CHECK(r == 0 && n == 1 && list[0].pid == (unsigned)getpid() && list[0].used >= (1ULL << 30),
		      "NVML lists this process with its memory (rc %d, %u processes)", r, n);
	}
	RC(cuMemFree(p), CUDA_SUCCESS);
	CHECK(meminfo(h, &m1) == 0 && m1.used == m0.used, "and back after the free");
}

/* Holds an allocation until stdin closes (cross-process accounting). */
static void area_hold(size_t mib)
{
	CUdeviceptr p;
	CUresult r = cuMemAlloc(&p, mib << 20);
	printf(r == CUDA_SUCCESS ? "held\n" : "hold failed: %d\n", (int)r);
	fflush(stdout);
	char buf[16];
	while (read(0, buf, sizeof buf) > 0)
		;
}

static void area_used(void)
{
	size_t f, t;
	RC(cuMemGetInfo(&f, &t), CUDA_SUCCESS);
	printf("used %zu MiB\n", (t - f) >> 20);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s AREA [ARG...]\n", argv[0]);
		return 2;
	}
	setbuf(stdout, NULL);
	setup();
	const char *a = argv[1];
	if (!strcmp(a, "alloc"))
		area_alloc();
	else if (!strcmp(a, "copy"))
		area_copy();
	else if (!strcmp(a, "memset"))
		area_memset();
	else if (!strcmp(a, "2d3d"))
		area_2d3d();
	else if (!strcmp(a, "host"))
		area_host();
	else if (!strcmp(a, "pointer"))
		area_pointer();
	else if (!strcmp(a, "streams"))
		area_streams();
	else if (!strcmp(a, "events"))
		area_events();
	else if (!strcmp(a, "vmm"))
		area_vmm();
	else if (!strcmp(a, "pools"))
		area_pools();
	else if (!strcmp(a, "modules") && argc > 2)
		area_modules(argv[2]);
	else if (!strcmp(a, "launch") && argc > 3)
		area_launch(argv[2], !strcmp(argv[3], "noop"));
	else if (!strcmp(a, "capacity"))
		area_capacity();
	else if (!strcmp(a, "peer"))
		area_peer();
	else if (!strcmp(a, "nvml"))
		area_nvml();
	else if (!strcmp(a, "hold") && argc > 2)
		area_hold((size_t)strtoull(argv[2], NULL, 10));
	else if (!strcmp(a, "used"))
		area_used();
	else {
		fprintf(stderr, "unknown area %s\n", a);
		return 2;
	}
	return failed;
}

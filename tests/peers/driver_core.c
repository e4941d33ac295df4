/* The emulator's CUDA core through the driver API, as a C program built against the
 * toolkit's cuda.h (tests/bats/emulator_core.bats).  Where it states a return code,
 * the real driver gives the same (run on an H200, driver 580.159.04), but for what is
 * ours by design: UUIDs, names of other models, stubs.  Prints "ok - what" or
 * "FAIL - what (details)" per check, then "attr N VALUE|err" for attributes 0..255 and
 * "done"; the suite fails on any FAIL and compares the attributes with the reference. */
#include <cuda.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Older variants cuda.h no longer declares, or renames to the newest. */
#undef cuGetProcAddress
#undef cuDevicePrimaryCtxSetFlags
#undef cuDevicePrimaryCtxRelease
#undef cuDevicePrimaryCtxReset
CUresult CUDAAPI cuGetProcAddress(const char *symbol, void **pfn, int version, cuuint64_t flags);
CUresult CUDAAPI cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags);
CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice dev);
CUresult CUDAAPI cuDevicePrimaryCtxReset(CUdevice dev);
CUresult CUDAAPI cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev);
CUresult CUDAAPI cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *params, int n, unsigned int flags,
				CUdevice dev);

static int failures;

#define CHECK(cond, ...)                                 \
	do {                                             \
		int ok_ = !!(cond);                      \
		if (!ok_)                                \
			failures++;                      \
		printf(ok_ ? "ok - " : "FAIL - ");       \
		printf(__VA_ARGS__);                     \
		printf("%s\n", ok_ ? "" : " (" #cond ")"); \
	} while (0)

static const CUuuid cudart_id = {{(char)0x6b, (char)0xd5, (char)0xfb, (char)0x6c, 0x5b, (char)0xf4,
				  (char)0xe7, 0x4a, (char)0x89, (char)0x87, (char)0xd9, 0x39, 0x12,
				  (char)0xfd, (char)0x9d, (char)0xf9}};
static const CUuuid cls_id = {{(char)0xc6, (char)0x93, 0x33, 0x6e, 0x11, 0x21, (char)0xdf, 0x11,
			       (char)0xa8, (char)0xc3, 0x68, (char)0xf3, 0x55, (char)0xd8,
			       (char)0x95, (char)0x93}};
static const CUuuid hooks_id = {{(char)0xa0, (char)0x94, 0x79, (char)0x8c, 0x2e, 0x74, 0x2e, 0x74,
				 (char)0x93, (char)0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a, 0x66}};

typedef CUresult (*cls_put_t)(CUcontext, void *, void *, void (*)(CUcontext, void *, void *));
typedef CUresult (*cls_delete_t)(CUcontext, void *);
typedef CUresult (*cls_get_t)(void **, CUcontext, void *);

static int dtor_calls;
static CUcontext dtor_ctx;
static void *dtor_key, *dtor_value;

static void dtor(CUcontext ctx, void *key, void *value)
{
	dtor_calls++;
	dtor_ctx = ctx;
	dtor_key = key;
	dtor_value = value;
}

static void *thread_current(void *arg)
{
	CUcontext c = (CUcontext)0x1;
	CUresult r = cuCtxGetCurrent(&c);
	*(int *)arg = r == CUDA_SUCCESS && c == NULL;
	return NULL;
}

int main(void)
{
	int v = 0, count = -1;
	CUresult r;

	/* Before cuInit. */
	CHECK(cuDeviceGetCount(&count) == CUDA_ERROR_NOT_INITIALIZED, "cuDeviceGetCount before cuInit: 3");
	CHECK(cuDriverGetVersion(&v) == CUDA_SUCCESS && v > 0, "cuDriverGetVersion before cuInit: %d", v);
	printf("driver %d\n", v);
	CHECK(cuInit(1) == CUDA_ERROR_INVALID_VALUE, "cuInit(1): invalid value");
	CHECK(cuInit(0) == CUDA_SUCCESS, "cuInit(0)");
	CHECK(cuDeviceGetCount(&count) == CUDA_SUCCESS && count >= 1, "device count %d", count);
	printf("count %d\n", count);

	CUdevice dev = -1;
	CHECK(cuDeviceGet(&dev, count) == CUDA_ERROR_INVALID_DEVICE, "cuDeviceGet past the count: 101");
	CHECK(cuDeviceGet(&dev, 0) == CUDA_SUCCESS && dev == 0, "cuDeviceGet 0");
	for (int d = 0; d < count; d++) {
		char name[256], bus[32];
		size_t total = 0;
		CUuuid u;
		cuDeviceGetName(name, sizeof name, d);
		cuDeviceTotalMem(&total, d);
		cuDeviceGetUuid(&u, d);
		cuDeviceGetPCIBusId(bus, sizeof bus, d);
		printf("device %d name=%s total=%zu bus=%s uuid=", d, name, total, bus);
		for (int i = 0; i < 16; i++)
			printf("%02x", (unsigned char)u.bytes[i]);
		printf("\n");
		CHECK(memcmp(u.bytes, "vgpu", 4) == 0, "device %d UUID starts with 'vgpu'", d);
		CUdevice back = -1;
		CHECK(cuDeviceGetByPCIBusId(&back, bus) == CUDA_SUCCESS && back == d, "cuDeviceGetByPCIBusId(%s)", bus);
		char longform[40];
		snprintf(longform, sizeof longform, "0000%s", bus);
		back = -1;
		CHECK(cuDeviceGetByPCIBusId(&back, longform) == CUDA_SUCCESS && back == d,
		      "cuDeviceGetByPCIBusId(%s)", longform);
		back = -1;
		CHECK(cuDeviceGetByPCIBusId(&back, bus + 5) == CUDA_SUCCESS && back == d,
		      "cuDeviceGetByPCIBusId(%s)", bus + 5);
		int major = 0, minor = 0, amaj = -1, amin = -1;
		cuDeviceComputeCapability(&major, &minor, d);
		cuDeviceGetAttribute(&amaj, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d);
		cuDeviceGetAttribute(&amin, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d);
		CHECK(major == amaj && minor == amin && major >= 7, "device %d compute capability %d.%d", d, major, minor);
		CUdevprop prop;
		CHECK(cuDeviceGetProperties(&prop, d) == CUDA_SUCCESS && prop.maxThreadsPerBlock == 1024 &&
			      prop.SIMDWidth == 32,
		      "cuDeviceGetProperties");
	}
	CUdevice back = -1;
	CHECK(cuDeviceGetByPCIBusId(&back, "0000:7f:00.0") == CUDA_ERROR_INVALID_DEVICE, "unknown bus id: 101");
	CHECK(cuDeviceGetByPCIBusId(&back, "nonsense") == CUDA_ERROR_INVALID_VALUE, "malformed bus id: 1");
	CHECK(cuDeviceGetAttribute(&v, (CUdevice_attribute)148, 0) == CUDA_ERROR_INVALID_VALUE, "attribute 148: invalid value (as the real H200)");
	int mode = 0;
	CHECK(cuModuleGetLoadingMode((CUmoduleLoadingMode *)&mode) == CUDA_SUCCESS && (mode == 1 || mode == 2), "cuModuleGetLoadingMode %d", mode);

	/* Peers. */
	int can = -1;
	CHECK(cuDeviceCanAccessPeer(&can, 0, 0) == CUDA_SUCCESS && can == 0, "a device is not its own peer");
	if (count >= 2) {
		CHECK(cuDeviceCanAccessPeer(&can, 0, 1) == CUDA_SUCCESS && can == 1, "devices 0 and 1 are peers");
		CHECK(cuDeviceGetP2PAttribute(&v, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, 0, 1) == CUDA_SUCCESS && v == 1,
		      "P2P access supported");
	}

	/* Error names. */
	const char *s = NULL;
	CHECK(cuGetErrorName(CUDA_ERROR_NOT_SUPPORTED, &s) == CUDA_SUCCESS && s && strcmp(s, "CUDA_ERROR_NOT_SUPPORTED") == 0, "cuGetErrorName(801)");
	CHECK(cuGetErrorString(CUDA_ERROR_INVALID_VALUE, &s) == CUDA_SUCCESS && s && strcmp(s, "invalid argument") == 0, "cuGetErrorString(1)");
	CHECK(cuGetErrorName(CUDA_ERROR_KEY_ROTATION, &s) == CUDA_SUCCESS && strcmp(s, "CUDA_ERROR_KEY_ROTATION") == 0, "cuGetErrorName(916)");
	s = "x";
	CHECK(cuGetErrorName((CUresult)12345, &s) == CUDA_ERROR_INVALID_VALUE && s == NULL, "cuGetErrorName(unknown): 1, NULL");

	/* Export tables: the primary context handle before any retain. */
	const void **cudart = NULL, **cls = NULL, **hooks = NULL;
	CHECK(cuGetExportTable((const void **)&cudart, &cudart_id) == CUDA_SUCCESS && cudart &&
		      (size_t)cudart[0] == 104,
	      "CUDART_INTERFACE: 104 bytes");
	CHECK(cuGetExportTable((const void **)&hooks, &hooks_id) == CUDA_SUCCESS && (size_t)hooks[0] >= 56,
	      "TOOLS_RUNTIME_CALLBACK_HOOKS: >= 56 bytes");
	CHECK(cuGetExportTable((const void **)&cls, &cls_id) == CUDA_SUCCESS && cls && cls[3] == NULL,
	      "CONTEXT_LOCAL_STORAGE: 3 functions and NULL");
	const void *none = (void *)1;
	CUuuid bogus = {{1, 2, 3}};
	CHECK(cuGetExportTable(&none, &bogus) == CUDA_ERROR_INVALID_VALUE && none == NULL, "unknown export table: 1, NULL");
	CUcontext pctx = NULL, retained = NULL;
	CHECK(((CUresult(*)(CUcontext *, CUdevice))cudart[2])(&pctx, 0) == CUDA_SUCCESS && pctx, "CUDART[2]: primary handle");
	unsigned flags = 99;
	int active = -1;
	CHECK(cuDevicePrimaryCtxGetState(0, &flags, &active) == CUDA_SUCCESS && active == 0 && flags == 0,
	      "primary context inactive before retain");
	CHECK(cuCtxSetCurrent(pctx) == CUDA_SUCCESS, "cuCtxSetCurrent(primary handle) before retain");
	cls_put_t put = (cls_put_t)cls[0];
	cls_delete_t del = (cls_delete_t)cls[1];
	cls_get_t get = (cls_get_t)cls[2];
	void *val = (void *)0x77;
	CHECK(get(&val, NULL, (void *)1) == CUDA_ERROR_INVALID_CONTEXT, "CLS get, current primary not retained: 201");
	CHECK(get(&val, pctx, (void *)1) == CUDA_ERROR_INVALID_HANDLE && val == (void *)0x77,
	      "CLS get miss on the handle: 400, value untouched");
	CHECK(put(NULL, (void *)5, (void *)0x500, dtor) == CUDA_ERROR_CONTEXT_IS_DESTROYED, "CLS put before retain: 709");
	unsigned api = 0;
	CHECK(cuCtxGetApiVersion(NULL, &api) == CUDA_ERROR_CONTEXT_IS_DESTROYED, "cuCtxGetApiVersion before retain: 709");
	CHECK(cuCtxSynchronize() == CUDA_ERROR_CONTEXT_IS_DESTROYED, "cuCtxSynchronize before retain: 709");
	CUdevice cd = -1;
	CHECK(cuCtxGetDevice(&cd) == CUDA_SUCCESS && cd == 0, "cuCtxGetDevice before retain works");
	CHECK(cuDevicePrimaryCtxRetain(&retained, 0) == CUDA_SUCCESS && retained == pctx, "retain gives the same handle");
	CHECK(cuDevicePrimaryCtxGetState(0, &flags, &active) == CUDA_SUCCESS && active == 1, "active after retain");
	CHECK(cuDevicePrimaryCtxSetFlags(0, CU_CTX_SCHED_BLOCKING_SYNC) == CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE, "SetFlags v1 on an active primary: 708");
	CHECK(cuDevicePrimaryCtxSetFlags_v2(0, CU_CTX_SCHED_BLOCKING_SYNC) == CUDA_SUCCESS, "SetFlags v2 on an active primary");
	CHECK(cuDevicePrimaryCtxSetFlags_v2(0, 3) == CUDA_ERROR_INVALID_VALUE, "SetFlags with two schedules: 1");
	CHECK(cuDevicePrimaryCtxGetState(0, &flags, &active) == CUDA_SUCCESS && flags == CU_CTX_SCHED_BLOCKING_SYNC, "flags read back");
	CHECK(cuCtxGetApiVersion(NULL, &api) == CUDA_SUCCESS && api == 3020, "cuCtxGetApiVersion %u", api);
	CHECK(cuCtxGetDevice(&cd) == CUDA_SUCCESS && cd == 0, "cuCtxGetDevice");
	CHECK(cuCtxGetFlags(&flags) == CUDA_SUCCESS && flags == (CU_CTX_SCHED_BLOCKING_SYNC | CU_CTX_MAP_HOST),
	      "cuCtxGetFlags of a primary: its flags and MAP_HOST");

	/* CLS: put, get, overwrite, delete, destructors on reset and release. */
	CHECK(put(NULL, (void *)1, (void *)0x100, dtor) == CUDA_SUCCESS, "CLS put");
	CHECK(get(&val, NULL, (void *)1) == CUDA_SUCCESS && val == (void *)0x100, "CLS get hit");
	CHECK(put(pctx, (void *)1, (void *)0x101, dtor) == CUDA_ERROR_INVALID_HANDLE &&
		      get(&val, pctx, (void *)1) == CUDA_SUCCESS && val == (void *)0x100,
	      "CLS put of a present key: 400, the entry kept");
	CHECK(put(NULL, (void *)2, (void *)0x200, dtor) == CUDA_SUCCESS && del(NULL, (void *)2) == CUDA_SUCCESS &&
		      del(NULL, (void *)2) == CUDA_ERROR_INVALID_HANDLE,
	      "CLS delete, twice: 0 then 400");
	CHECK(cuDevicePrimaryCtxReset(0) == CUDA_SUCCESS && dtor_calls == 1 && dtor_ctx == pctx &&
		      dtor_key == (void *)1 && dtor_value == (void *)0x100,
	      "reset runs the destructor once, (ctx, key, value)");
	CHECK(get(&val, pctx, (void *)1) == CUDA_ERROR_INVALID_HANDLE, "CLS empty after reset");
	CHECK(get(&val, NULL, (void *)1) == CUDA_ERROR_INVALID_CONTEXT, "CLS get on the reset current primary: 201");
	CHECK(cuDevicePrimaryCtxGetState(0, &flags, &active) == CUDA_SUCCESS && active == 0, "inactive after reset");
	CHECK(cuDevicePrimaryCtxRelease(0) == CUDA_SUCCESS, "release (v1) of an inactive primary: 0");
	CHECK(cuDevicePrimaryCtxRelease_v2(0) == CUDA_ERROR_INVALID_CONTEXT, "release (v2) of an inactive primary: 201");
	CHECK(cuDevicePrimaryCtxRetain(&retained, 0) == CUDA_SUCCESS && cuDevicePrimaryCtxRetain(&retained, 0) == CUDA_SUCCESS,
	      "retain twice");
	CHECK(put(NULL, (void *)3, (void *)0x300, dtor) == CUDA_SUCCESS, "CLS put again");
	CHECK(cuDevicePrimaryCtxRelease(0) == CUDA_SUCCESS && dtor_calls == 1, "first release keeps the context");
	CHECK(cuDevicePrimaryCtxRelease_v2(0) == CUDA_SUCCESS && dtor_calls == 2 && dtor_key == (void *)3,
	      "last release runs the destructor");

	/* The stack of current contexts. */
	cuCtxSetCurrent(NULL);
	CUcontext cur = (CUcontext)0x1;
	CHECK(cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == NULL, "SetCurrent(NULL) pops");
	CHECK(put(NULL, (void *)1, NULL, NULL) == CUDA_ERROR_INVALID_CONTEXT, "CLS put without a context: 201");
	CUcontext a = NULL, b = NULL;
	CHECK(cuCtxCreate(&a, NULL, 0, 0) == CUDA_SUCCESS && a && a != pctx, "cuCtxCreate_v4 (NULL params)");
	CHECK(cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == a, "a new context is current");
	CUexecAffinityParam aff = {CU_EXEC_AFFINITY_TYPE_SM_COUNT, {{1}}};
	CHECK(cuCtxCreate_v3(&b, &aff, 1, 0, 0) == CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY, "execution affinity: 224");
	CHECK(cuCtxCreate_v2(&b, CU_CTX_SCHED_SPIN, count - 1) == CUDA_SUCCESS && b != a, "cuCtxCreate_v2");
	CHECK(cuCtxGetDevice(&cd) == CUDA_SUCCESS && cd == count - 1, "its device");
	unsigned long long ida = 0, idb = 0;
	CHECK(cuCtxGetId(a, &ida) == CUDA_SUCCESS && cuCtxGetId(b, &idb) == CUDA_SUCCESS && ida && idb && ida != idb,
	      "context ids differ");
	CHECK(cuCtxGetFlags(&flags) == CUDA_SUCCESS && flags == CU_CTX_SCHED_SPIN, "cuCtxGetFlags");
	CUcontext popped = NULL;
	CHECK(cuCtxPopCurrent(&popped) == CUDA_SUCCESS && popped == b && cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == a,
	      "pop gives b, a is current again");
	CHECK(cuCtxPushCurrent(b) == CUDA_SUCCESS && cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == b, "push b");
	int other = 0;
	pthread_t t;
	pthread_create(&t, NULL, thread_current, &other);
	pthread_join(t, NULL);
	CHECK(other, "another thread has no current context");

	size_t lim = 0;
	CHECK(cuCtxGetLimit(&lim, CU_LIMIT_STACK_SIZE) == CUDA_SUCCESS && lim == 1024, "stack size limit 1024");
	CHECK(cuCtxSetLimit(CU_LIMIT_MALLOC_HEAP_SIZE, 1 << 26) == CUDA_SUCCESS &&
		      cuCtxGetLimit(&lim, CU_LIMIT_MALLOC_HEAP_SIZE) == CUDA_SUCCESS && lim == 1 << 26,
	      "heap limit set and read");
	CHECK(cuCtxGetLimit(&lim, (CUlimit)77) == CUDA_ERROR_INVALID_VALUE, "unknown limit: 1");
	CHECK(cuCtxGetLimit(&lim, CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH) == CUDA_ERROR_UNSUPPORTED_LIMIT, "device runtime sync depth: 215");
	CHECK(cuCtxGetLimit(&lim, CU_LIMIT_MAX_L2_FETCH_GRANULARITY) == CUDA_SUCCESS && lim == 64, "L2 fetch granularity 64");
	CUfunc_cache cc = (CUfunc_cache)9;
	CHECK(cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_L1) == CUDA_SUCCESS && cuCtxGetCacheConfig(&cc) == CUDA_SUCCESS &&
		      cc == CU_FUNC_CACHE_PREFER_L1,
	      "cache config");
	int least = 9, greatest = 9;
	CHECK(cuCtxGetStreamPriorityRange(&least, &greatest) == CUDA_SUCCESS && least == 0 && greatest == -5,
	      "stream priorities 0..-5");
	CHECK(cuCtxSynchronize() == CUDA_SUCCESS, "cuCtxSynchronize");

	/* Destroy: popped from this thread, CLS destructor, later use is an error. */
	CHECK(put(b, (void *)9, (void *)0x900, dtor) == CUDA_SUCCESS, "CLS on an ordinary context");
	CHECK(cuCtxDestroy(b) == CUDA_SUCCESS && dtor_calls == 3 && dtor_ctx == b, "destroy runs the destructor");
	CHECK(cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == a, "destroy pops the context");
	CHECK(cuCtxGetApiVersion(b, &api) == CUDA_ERROR_INVALID_CONTEXT, "a destroyed context: 201");
	CHECK(cuCtxDestroy(b) == CUDA_ERROR_CONTEXT_IS_DESTROYED, "destroy twice: 709");
	CHECK(cuCtxDestroy(pctx) == CUDA_ERROR_INVALID_CONTEXT, "cuCtxDestroy of a primary: 201");
	CHECK(cuCtxDestroy(a) == CUDA_SUCCESS && cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == NULL, "destroy a");
	CHECK(cuCtxPopCurrent(&popped) == CUDA_ERROR_INVALID_CONTEXT, "pop of an empty stack: 201");
	CHECK(cuCtxGetDevice(&cd) == CUDA_ERROR_INVALID_CONTEXT, "cuCtxGetDevice without a context: 201");

	/* cuGetProcAddress: the contract's table. */
	void *self = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
	void *p = (void *)1;
	CUdriverProcAddressQueryResult st = (CUdriverProcAddressQueryResult)7;
	CHECK(cuGetProcAddress_v2("", &p, 0, 0, &st) == CUDA_SUCCESS && st == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND && !p,
	      "empty name: 0, status 1, NULL");
	CHECK(cuGetProcAddress_v2("cuCtxCreate_v2", &p, 13000, 0, &st) == CUDA_SUCCESS && st == 1 && !p,
	      "suffixed name: status 1");
	CHECK(cuGetProcAddress_v2("cuCtxCreate", &p, 1000, 0, &st) == CUDA_SUCCESS && st == 2 && !p,
	      "version before the first variant: status 2");
	st = (CUdriverProcAddressQueryResult)7;
	p = (void *)1;
	CHECK(cuGetProcAddress_v2("cuInit", &p, 99000, 0, &st) == CUDA_ERROR_INVALID_VALUE && st == 7 && p == (void *)1,
	      "version past the driver: 1, outputs untouched");
	static const struct {
		const char *base;
		int version, flags;
		const char *symbol;
	} want[] = {
		{"cuCtxCreate", 2000, 0, "cuCtxCreate"},       {"cuCtxCreate", 3020, 0, "cuCtxCreate_v2"},
		{"cuCtxCreate", 11040, 0, "cuCtxCreate_v3"},   {"cuCtxCreate", 13000, 0, "cuCtxCreate_v4"},
		{"cuCtxCreate", 13000, 2, "cuCtxCreate_v4"},   {"cuCtxCreate", 13000, 1, "cuCtxCreate_v4"},
		{"cuCtxGetDevice", 2000, 0, "cuCtxGetDevice"}, {"cuCtxGetDevice", 13000, 0, "cuCtxGetDevice_v2"},
		{"cuCtxSynchronize", 12090, 0, "cuCtxSynchronize"},
		{"cuCtxSynchronize", 13000, 0, "cuCtxSynchronize_v2"},
		{"cuGetProcAddress", 11030, 0, "cuGetProcAddress"},
		{"cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2"},
		{"cuGetExportTable", 3000, 0, "cuGetExportTable"},
		{"cuDeviceTotalMem", 3020, 0, "cuDeviceTotalMem_v2"},
		{"cuDeviceGetUuid", 9020, 0, "cuDeviceGetUuid"}, {"cuDeviceGetUuid", 11040, 0, "cuDeviceGetUuid_v2"},
		{"cuDevicePrimaryCtxRelease", 11000, 0, "cuDevicePrimaryCtxRelease_v2"},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		p = NULL;
		r = cuGetProcAddress_v2(want[i].base, &p, want[i].version, (cuuint64_t)want[i].flags, &st);
		void *expect = dlsym(self, want[i].symbol);
		CHECK(r == CUDA_SUCCESS && st == 0 && p && p == expect, "%s %d flags %d -> %s", want[i].base,
		      want[i].version, want[i].flags, want[i].symbol);
	}
	/* A name only a generated stub answers: exported, but never handed out. */
	CHECK(dlsym(self, "cuGraphicsGLRegisterBuffer") != NULL, "cuGraphicsGLRegisterBuffer is exported (a stub)");
	p = (void *)1;
	CHECK(cuGetProcAddress_v2("cuGraphicsGLRegisterBuffer", &p, 13000, 0, &st) == CUDA_SUCCESS && st == 1 && !p,
	      "a stub is reported not found");
	p = (void *)1;
	CHECK(cuGetProcAddress("cuNoSuchFunction", &p, 13000, 0) == CUDA_ERROR_NOT_FOUND && p == (void *)1,
	      "v1, unknown name: 500, pfn untouched");
	CHECK(cuGetProcAddress("cuInit", &p, 13000, 0) == CUDA_SUCCESS && p == dlsym(self, "cuInit"), "v1 finds cuInit");

	/* Every attribute, for the suite to compare. */
	for (int d = 0; d < count; d++)
		for (int i = 0; i < 256; i++) {
			v = 0;
			r = cuDeviceGetAttribute(&v, (CUdevice_attribute)i, d);
			if (r == CUDA_SUCCESS)
				printf("attr %d %d %d\n", d, i, v);
			else
				printf("attr %d %d err%d\n", d, i, (int)r);
		}
	printf(failures ? "failures %d\n" : "done\n", failures);
	return failures ? 1 : 0;
}

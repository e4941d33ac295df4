/* ollama_discovery [--soname]: replays how Ollama finds NVIDIA GPUs, for
 * tests/bats/emulator_peers.bats.  Nothing is linked against libcuda or NVML: both are
 * dlopen()ed and every function is looked up by name, as Ollama's server does.
 *
 * 1. Which libcuda (Ollama up to 0.12.3, discover/gpu_linux.go): the candidates are the
 *    matches of "libcuda.so*" in every LD_LIBRARY_PATH directory, then of Ollama's fixed
 *    globs (CUDA toolkit targets, Debian/Ubuntu multiarch dirs, WSL, /opt/cuda,
 *    /usr/local/cuda, /usr/lib*, /usr/local/lib*); each match has its symlinks followed
 *    to the end and duplicates are dropped.  Each candidate is tried in turn; the first
 *    one whose init sequence succeeds with at least one device is used.  With --soname
 *    the only candidate is "libcuda.so.1", resolved by the loader's default search (what
 *    vgpu-run makes work on a machine with no driver, through its ld.so.cache).
 * 2. The init sequence (Ollama's nvcuda_init): dlopen(RTLD_LAZY), every symbol looked up,
 *    cuInit(0), cuDriverGetVersion, cuDeviceGetCount.
 * 3. Per device (nvcuda_bootstrap, then the free-memory refresh): cuDeviceGet,
 *    cuDeviceGetAttribute 75 and 76 (compute capability major, minor), cuDeviceGetUuid
 *    (formatted GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), cuDeviceGetName,
 *    cuCtxCreate_v3 (no affinity parameters), cuMemGetInfo_v2, cuCtxDestroy; and what
 *    Ollama 0.30 adds: cuDeviceTotalMem_v2, cuDeviceGetPCIBusId.
 * 4. NVML (Ollama 0.12.6+ for free memory, 0.30 for the driver version): dlopen
 *    "libnvidia-ml.so.1", nvmlInit_v2, nvmlSystemGetDriverVersion, and per CUDA device
 *    nvmlDeviceGetHandleByUUID with the CUDA UUID string, nvmlDeviceGetMemoryInfo; then
 *    (a check of ours, not an Ollama call) nvmlDeviceGetUUID of that handle, which must
 *    be the same string; nvmlShutdown.
 *
 * Output: one "key value" fact per line (see main), "FAIL <call> ..." for a failed call,
 * and "done" at the end when everything succeeded (exit status 0; 1 otherwise). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The driver API's types, as far as this program needs them (from NVIDIA's
 * documentation; no toolkit header is used). */
typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef struct {
	unsigned char bytes[16];
} CUuuid;

enum { CC_MAJOR = 75, CC_MINOR = 76 };

struct cuda {
	void *lib;
	CUresult (*cuInit)(unsigned);
	CUresult (*cuDriverGetVersion)(int *);
	CUresult (*cuDeviceGetCount)(int *);
	CUresult (*cuDeviceGet)(CUdevice *, int);
	CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
	CUresult (*cuDeviceGetUuid)(CUuuid *, CUdevice);
	CUresult (*cuDeviceGetName)(char *, int, CUdevice);
	CUresult (*cuCtxCreate_v3)(CUcontext *, void *, int, unsigned, CUdevice);
	CUresult (*cuMemGetInfo_v2)(size_t *, size_t *);
	CUresult (*cuCtxDestroy)(CUcontext);
	/* Ollama 0.30+ */
	CUresult (*cuDeviceTotalMem_v2)(size_t *, CUdevice);
	CUresult (*cuDeviceGetPCIBusId)(char *, int, CUdevice);
	int version, count;
};

/* NVML: nvmlMemory_t (v1) is three unsigned long longs: total, free, used. */
typedef void *nvmlDevice_t;
struct nvml_memory {
	unsigned long long total, free, used;
};

static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("FAIL ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failures++;
}

/* --- 1. candidates ------------------------------------------------------------------- */

static char *candidates[256];
static int ncandidates;

/* Follows a symlink chain to its end as Ollama does (a relative target is taken from the
 * link's directory), then keeps the path unless it is already a candidate. */
static void add_candidate(const char *match)
{
	char path[PATH_MAX], target[PATH_MAX], next[PATH_MAX];
	snprintf(path, sizeof path, "%s", match);
	for (int hops = 0; hops < 40; hops++) {
		ssize_t n = readlink(path, target, sizeof target - 1);
		if (n < 0)
			break;
		target[n] = 0;
		int len;
		if (target[0] == '/') {
			len = snprintf(next, sizeof next, "%s", target);
		} else {
			const char *slash = strrchr(path, '/');
			int dirlen = slash ? (int)(slash - path) : 1;
			len = snprintf(next, sizeof next, "%.*s/%s", dirlen, slash ? path : ".", target);
		}
		if (len < 0 || (size_t)len >= sizeof next)
			break;
		memcpy(path, next, (size_t)len + 1);
	}
	for (int i = 0; i < ncandidates; i++)
		if (strcmp(candidates[i], path) == 0)
			return;
	if (ncandidates < (int)(sizeof candidates / sizeof candidates[0]))
		candidates[ncandidates++] = strdup(path);
}

static void glob_candidates(const char *pattern)
{
	if (strstr(pattern, "PhysX")) /* Ollama skips NVIDIA PhysX's directories */
		return;
	glob_t g;
	if (glob(pattern, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			add_candidate(g.gl_pathv[i]);
	}
	globfree(&g);
}

static void find_candidates(void)
{
	static const char *fixed[] = {
		"/usr/local/cuda*/targets/*/lib/libcuda.so*",
		"/usr/lib/*-linux-gnu/nvidia/current/libcuda.so*",
		"/usr/lib/*-linux-gnu/libcuda.so*",
		"/usr/lib/wsl/lib/libcuda.so*",
		"/usr/lib/wsl/drivers/*/libcuda.so*",
		"/opt/cuda/lib*/libcuda.so*",
		"/usr/local/cuda/lib*/libcuda.so*",
		"/usr/lib*/libcuda.so*",
		"/usr/local/lib*/libcuda.so*",
	};
	const char *ld = getenv("LD_LIBRARY_PATH");
	if (ld) {
		char *copy = strdup(ld), *save = NULL;
		for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
			char pattern[PATH_MAX];
			snprintf(pattern, sizeof pattern, "%s/libcuda.so*", dir);
			glob_candidates(pattern);
		}
		free(copy);
	}
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		glob_candidates(fixed[i]);
}

/* --- 2. the init sequence ------------------------------------------------------------- */

#define LOOKUP(c, name)                                                                    \
	do {                                                                               \
		*(void **)&(c)->name = dlsym((c)->lib, #name);                             \
		if (!(c)->name) {                                                          \
			printf("skip %s: no symbol %s\n", path, #name);                     \
			goto bad;                                                          \
		}                                                                          \
	} while (0)

static int cuda_init(const char *path, struct cuda *c)
{
	memset(c, 0, sizeof *c);
	c->lib = dlopen(path, RTLD_LAZY);
	if (!c->lib) {
		printf("skip %s: dlopen: %s\n", path, dlerror());
		return -1;
	}
	LOOKUP(c, cuInit);
	LOOKUP(c, cuDriverGetVersion);
	LOOKUP(c, cuDeviceGetCount);
	LOOKUP(c, cuDeviceGet);
	LOOKUP(c, cuDeviceGetAttribute);
	LOOKUP(c, cuDeviceGetUuid);
	LOOKUP(c, cuDeviceGetName);
	LOOKUP(c, cuCtxCreate_v3);
	LOOKUP(c, cuMemGetInfo_v2);
	LOOKUP(c, cuCtxDestroy);
	LOOKUP(c, cuDeviceTotalMem_v2);
	LOOKUP(c, cuDeviceGetPCIBusId);

	CUresult r = c->cuInit(0);
	if (r != 0) {
		printf("skip %s: cuInit returned %d\n", path, r);
		goto bad;
	}
	r = c->cuDriverGetVersion(&c->version);
	if (r != 0) {
		printf("skip %s: cuDriverGetVersion returned %d\n", path, r);
		goto bad;
	}
	r = c->cuDeviceGetCount(&c->count);
	if (r != 0) {
		printf("skip %s: cuDeviceGetCount returned %d\n", path, r);
		goto bad;
	}
	if (c->count == 0) {
		printf("skip %s: no devices\n", path);
		goto bad;
	}
	return 0;
bad:
	dlclose(c->lib);
	c->lib = NULL;
	return -1;
}

/* --- 3. per device ------------------------------------------------------------------------ */

struct gpu {
	char name[128], uuid[64], pci[32];
	int major, minor;
	size_t total, ctx_total, free1, free2;
};

/* The create / query / destroy round Ollama makes for free memory. */
static int ctx_meminfo(struct cuda *c, CUdevice dev, int i, size_t *free_b, size_t *total_b)
{
	CUcontext ctx = NULL;
	CUresult r = c->cuCtxCreate_v3(&ctx, NULL, 0, 0, dev);
	if (r != 0 || !ctx) {
		fail("cuCtxCreate_v3 device %d: %d (context %p)", i, r, ctx);
		return -1;
	}
	r = c->cuMemGetInfo_v2(free_b, total_b);
	if (r != 0)
		fail("cuMemGetInfo_v2 device %d: %d", i, r);
	CUresult d = c->cuCtxDestroy(ctx);
	if (d != 0)
		fail("cuCtxDestroy device %d: %d", i, d);
	return r == 0 && d == 0 ? 0 : -1;
}

static int bootstrap(struct cuda *c, int i, struct gpu *g)
{
	CUdevice dev = -1;
	CUresult r;
	memset(g, 0, sizeof *g);
	if ((r = c->cuDeviceGet(&dev, i)) != 0) {
		fail("cuDeviceGet %d: %d", i, r);
		return -1;
	}
	g->major = g->minor = -1;
	if ((r = c->cuDeviceGetAttribute(&g->major, CC_MAJOR, dev)) != 0)
		fail("cuDeviceGetAttribute(75) device %d: %d", i, r);
	if ((r = c->cuDeviceGetAttribute(&g->minor, CC_MINOR, dev)) != 0)
		fail("cuDeviceGetAttribute(76) device %d: %d", i, r);
	CUuuid u;
	memset(&u, 0, sizeof u);
	if ((r = c->cuDeviceGetUuid(&u, dev)) != 0)
		fail("cuDeviceGetUuid device %d: %d", i, r);
	const unsigned char *b = u.bytes;
	snprintf(g->uuid, sizeof g->uuid,
		 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
	if ((r = c->cuDeviceGetName(g->name, sizeof g->name, dev)) != 0)
		fail("cuDeviceGetName device %d: %d", i, r);
	if (ctx_meminfo(c, dev, i, &g->free1, &g->ctx_total) != 0)
		return -1;
	/* 0.30+ */
	if ((r = c->cuDeviceTotalMem_v2(&g->total, dev)) != 0)
		fail("cuDeviceTotalMem_v2 device %d: %d", i, r);
	if ((r = c->cuDeviceGetPCIBusId(g->pci, sizeof g->pci, dev)) != 0)
		fail("cuDeviceGetPCIBusId device %d: %d", i, r);
	/* The refresh before a model is scheduled: the same round again. */
	size_t total2 = 0;
	if (ctx_meminfo(c, dev, i, &g->free2, &total2) != 0)
		return -1;
	if (total2 != g->ctx_total)
		fail("cuMemGetInfo_v2 device %d: total %zu, then %zu", i, g->ctx_total, total2);
	return 0;
}

/* --- 4. NVML -------------------------------------------------------------------------------- */

static void nvml(const struct gpu *gpus, int n)
{
	void *lib = dlopen("libnvidia-ml.so.1", RTLD_LAZY);
	if (!lib) {
		fail("dlopen libnvidia-ml.so.1: %s", dlerror());
		return;
	}
	int (*init)(void) = (int (*)(void))dlsym(lib, "nvmlInit_v2");
	int (*shutdown)(void) = (int (*)(void))dlsym(lib, "nvmlShutdown");
	int (*driver)(char *, unsigned) = (int (*)(char *, unsigned))dlsym(lib, "nvmlSystemGetDriverVersion");
	int (*by_uuid)(const char *, nvmlDevice_t *) =
		(int (*)(const char *, nvmlDevice_t *))dlsym(lib, "nvmlDeviceGetHandleByUUID");
	int (*meminfo)(nvmlDevice_t, struct nvml_memory *) =
		(int (*)(nvmlDevice_t, struct nvml_memory *))dlsym(lib, "nvmlDeviceGetMemoryInfo");
	int (*get_uuid)(nvmlDevice_t, char *, unsigned) =
		(int (*)(nvmlDevice_t, char *, unsigned))dlsym(lib, "nvmlDeviceGetUUID");
	if (!init || !shutdown || !driver || !by_uuid || !meminfo || !get_uuid) {
		fail("libnvidia-ml.so.1 lacks one of nvmlInit_v2, nvmlShutdown, nvmlSystemGetDriverVersion, "
		     "nvmlDeviceGetHandleByUUID, nvmlDeviceGetMemoryInfo, nvmlDeviceGetUUID");
		return;
	}
	Dl_info info;
	if (dladdr((void *)init, &info) && info.dli_fname)
		printf("nvml_lib %s\n", info.dli_fname);
	int r = init();
	if (r != 0) {
		fail("nvmlInit_v2: %d", r);
		return;
	}
	char version[80] = "";
	if ((r = driver(version, sizeof version)) != 0)
		fail("nvmlSystemGetDriverVersion: %d", r);
	else
		printf("nvml_driver %s\n", version);
	for (int i = 0; i < n; i++) {
		nvmlDevice_t dev = NULL;
		if ((r = by_uuid(gpus[i].uuid, &dev)) != 0 || !dev) {
			fail("nvmlDeviceGetHandleByUUID(%s): %d", gpus[i].uuid, r);
			continue;
		}
		struct nvml_memory m = {0, 0, 0};
		if ((r = meminfo(dev, &m)) != 0) {
			fail("nvmlDeviceGetMemoryInfo device %d: %d", i, r);
			continue;
		}
		char uuid[96] = "";
		if ((r = get_uuid(dev, uuid, sizeof uuid)) != 0)
			fail("nvmlDeviceGetUUID device %d: %d", i, r);
		printf("nvml %d uuid=%s total=%llu free=%llu used=%llu\n", i, uuid, m.total, m.free, m.used);
		if (strcmp(uuid, gpus[i].uuid) != 0)
			fail("device %d: CUDA UUID %s, NVML UUID %s", i, gpus[i].uuid, uuid);
		if (m.free > m.total || m.used > m.total)
			fail("nvmlDeviceGetMemoryInfo device %d: free %llu / used %llu above total %llu", i,
			     m.free, m.used, m.total);
	}
	if ((r = shutdown()) != 0)
		fail("nvmlShutdown: %d", r);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int soname = argc > 1 && strcmp(argv[1], "--soname") == 0;
	if (soname)
		candidates[ncandidates++] = "libcuda.so.1";
	else
		find_candidates();
	for (int i = 0; i < ncandidates; i++)
		printf("candidate %s\n", candidates[i]);

	struct cuda c;
	int found = 0;
	for (int i = 0; i < ncandidates && !found; i++)
		found = cuda_init(candidates[i], &c) == 0;
	if (!found) {
		fail("no usable libcuda among %d candidates", ncandidates);
		return 1;
	}
	Dl_info info;
	if (dladdr((void *)c.cuInit, &info) && info.dli_fname)
		printf("cuda_lib %s\n", info.dli_fname);
	printf("driver %d (%d.%d)\n", c.version, c.version / 1000, c.version % 1000 / 10);
	printf("count %d\n", c.count);

	struct gpu gpus[16];
	int n = c.count < 16 ? c.count : 16;
	for (int i = 0; i < n; i++) {
		struct gpu *g = &gpus[i];
		if (bootstrap(&c, i, g) != 0)
			continue;
		printf("device %d name=%s\n", i, g->name);
		printf("device %d cc=%d.%d\n", i, g->major, g->minor);
		printf("device %d uuid=%s\n", i, g->uuid);
		printf("device %d pci=%s\n", i, g->pci);
		printf("device %d total=%zu\n", i, g->total);
		printf("device %d ctx_total=%zu free=%zu free_again=%zu\n", i, g->ctx_total, g->free1, g->free2);
		if (g->ctx_total != g->total)
			fail("device %d: cuMemGetInfo_v2 total %zu, cuDeviceTotalMem_v2 %zu", i, g->ctx_total, g->total);
		if (g->free1 == 0 || g->free1 > g->total || g->free2 == 0 || g->free2 > g->total)
			fail("device %d: free memory %zu / %zu out of (0, total %zu]", i, g->free1, g->free2, g->total);
	}
	if (failures == 0)
		nvml(gpus, n);
	if (failures)
		return 1;
	printf("done\n");
	return 0;
}

/* emu_visible [--setenv VALUE] [--alloc ORDINAL] [--busid BUS]: what the emulator's CUDA driver API
 * and its NVML make of CUDA_VISIBLE_DEVICES (tests/bats/emulator_visible.bats).
 *
 * Loads libcuda.so.1 and libnvidia-ml.so.1 by name (LD_LIBRARY_PATH leads to the
 * emulator) and prints, one per line:
 *
 *     cuInit RC
 *     count N                                  (only when cuInit succeeded)
 *     device J name=NAME uuid=GPU-... bus=BUS byid=K board=B
 *     peer J K CAN                              (every pair J != K)
 *     busid BUS rc=RC ordinal=K                 (--busid: cuDeviceGetByPCIBusId(BUS))
 *     after-setenv cuInit RC count N            (--setenv: the variable changed after cuInit)
 *     alloc ORDINAL rc=RC free=F total=T       (--alloc: 256 MiB on that ordinal)
 *     nvml-count N
 *     nvml I uuid=GPU-... used-delta=BYTES ours=0|1
 *
 * byid: the ordinal cuDeviceGetByPCIBusId gives back for the device's bus id.
 * used-delta: NVML's used memory of device I after the allocation minus before;
 * ours: whether NVML lists this process on device I (it does once a context exists).
 * No CUDA headers: the few types needed are declared here as the ABI has them.
 * Exit status 0 when it ran to its end, 1 with a message on stderr otherwise. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef unsigned long long CUdeviceptr;

struct nvml_memory {
	unsigned long long total, free, used;
};

struct nvml_process {
	unsigned int pid;
	unsigned long long used;
	unsigned int gpu_instance, compute_instance;
};

#define MIB (1024ULL * 1024ULL)
#define ALLOC_BYTES (256 * MIB)
#define ATTR_MULTI_GPU_BOARD_GROUP_ID 85
#define MAX_NVML 16

static void *cuda, *nvml;

static void *sym(void *lib, const char *name)
{
	void *p = dlsym(lib, name);
	if (!p) {
		fprintf(stderr, "emu_visible: %s not found in the library\n", name);
		exit(1);
	}
	return p;
}

#define CU(name, ...) ((CUresult(*)(__VA_ARGS__))sym(cuda, #name))
#define NV(name, ...) ((int (*)(__VA_ARGS__))sym(nvml, #name))

static void uuid_text(const unsigned char u[16], char out[48])
{
	snprintf(out, 48, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

/* NVML's devices: count, UUIDs, used bytes, whether this process is listed. */
static unsigned nvml_read(char uuids[MAX_NVML][96], unsigned long long used[MAX_NVML], int ours[MAX_NVML])
{
	unsigned n = 0;
	if (NV(nvmlDeviceGetCount_v2, unsigned *)(&n) != 0) {
		fprintf(stderr, "emu_visible: nvmlDeviceGetCount_v2 failed\n");
		exit(1);
	}
	if (n > MAX_NVML)
		n = MAX_NVML;
	for (unsigned i = 0; i < n; i++) {
		void *dev = NULL;
		struct nvml_memory mem = {0, 0, 0};
		struct nvml_process procs[32];
		unsigned nprocs = 32;
		if (NV(nvmlDeviceGetHandleByIndex_v2, unsigned, void **)(i, &dev) != 0 ||
		    NV(nvmlDeviceGetUUID, void *, char *, unsigned)(dev, uuids[i], 96) != 0 ||
		    NV(nvmlDeviceGetMemoryInfo, void *, struct nvml_memory *)(dev, &mem) != 0) {
			fprintf(stderr, "emu_visible: NVML device %u: a query failed\n", i);
			exit(1);
		}
		used[i] = mem.used;
		ours[i] = 0;
		if (NV(nvmlDeviceGetComputeRunningProcesses_v3, void *, unsigned *, struct nvml_process *)(
			    dev, &nprocs, procs) == 0)
			for (unsigned k = 0; k < nprocs && k < 32; k++)
				if (procs[k].pid == (unsigned)getpid())
					ours[i] = 1;
	}
	return n;
}

int main(int argc, char **argv)
{
	const char *setenv_value = NULL;
	const char *busid = NULL;
	int alloc_ordinal = -1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--setenv") == 0 && i + 1 < argc)
			setenv_value = argv[++i];
		else if (strcmp(argv[i], "--busid") == 0 && i + 1 < argc)
			busid = argv[++i];
		else if (strcmp(argv[i], "--alloc") == 0 && i + 1 < argc)
			alloc_ordinal = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: emu_visible [--setenv VALUE] [--alloc ORDINAL] [--busid BUS]\n");
			return 1;
		}
	}
	cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!cuda || !nvml) {
		fprintf(stderr, "emu_visible: cannot load the emulator: %s\n", dlerror());
		return 1;
	}
	if (NV(nvmlInit_v2, void)() != 0) {
		fprintf(stderr, "emu_visible: nvmlInit_v2 failed\n");
		return 1;
	}
	static char uuids[MAX_NVML][96];
	unsigned long long before[MAX_NVML], after[MAX_NVML];
	int ours[MAX_NVML];
	unsigned nn = nvml_read(uuids, before, ours);

	CUresult r = CU(cuInit, unsigned)(0);
	printf("cuInit %d\n", r);
	if (r == 0) {
		int count = -1;
		CU(cuDeviceGetCount, int *)(&count);
		printf("count %d\n", count);
		for (int d = 0; d < count; d++) {
			char name[256] = "?", bus[32] = "?", text[48];
			unsigned char u[16] = {0};
			int board = -1;
			CUdevice dev = -1, back = -1;
			CU(cuDeviceGet, CUdevice *, int)(&dev, d);
			CU(cuDeviceGetName, char *, int, CUdevice)(name, sizeof name, dev);
			CU(cuDeviceGetUuid, unsigned char *, CUdevice)(u, dev);
			CU(cuDeviceGetPCIBusId, char *, int, CUdevice)(bus, sizeof bus, dev);
			CU(cuDeviceGetByPCIBusId, CUdevice *, const char *)(&back, bus);
			CU(cuDeviceGetAttribute, int *, int, CUdevice)(&board, ATTR_MULTI_GPU_BOARD_GROUP_ID, dev);
			uuid_text(u, text);
			printf("device %d name=%s uuid=%s bus=%s byid=%d board=%d\n", d, name, text, bus, back, board);
		}
		for (int j = 0; j < count; j++)
			for (int k = 0; k < count; k++) {
				int can = -1;
				if (j != k) {
					CU(cuDeviceCanAccessPeer, int *, CUdevice, CUdevice)(&can, j, k);
					printf("peer %d %d %d\n", j, k, can);
				}
			}
		if (busid) {
			CUdevice back = -1;
			CUresult rb = CU(cuDeviceGetByPCIBusId, CUdevice *, const char *)(&back, busid);
			printf("busid %s rc=%d ordinal=%d\n", busid, rb, back);
		}
		if (setenv_value) {
			/* The process's devices were fixed by the first cuInit. */
			setenv("CUDA_VISIBLE_DEVICES", setenv_value, 1);
			count = -1;
			CUresult r2 = CU(cuInit, unsigned)(0);
			CU(cuDeviceGetCount, int *)(&count);
			printf("after-setenv cuInit %d count %d\n", r2, count);
		}
		if (alloc_ordinal >= 0) {
			CUcontext ctx = NULL;
			CUdeviceptr p = 0;
			size_t free_bytes = 0, total = 0;
			CUresult ra = CU(cuCtxCreate_v2, CUcontext *, unsigned, CUdevice)(&ctx, 0, alloc_ordinal);
			if (ra == 0)
				ra = CU(cuMemAlloc_v2, CUdeviceptr *, size_t)(&p, ALLOC_BYTES);
			if (ra == 0)
				ra = CU(cuMemGetInfo_v2, size_t *, size_t *)(&free_bytes, &total);
			printf("alloc %d rc=%d free=%zu total=%zu\n", alloc_ordinal, ra, free_bytes, total);
		}
	}
	printf("nvml-count %u\n", nn);
	nvml_read(uuids, after, ours);
	for (unsigned i = 0; i < nn; i++)
		printf("nvml %u uuid=%s used-delta=%lld ours=%d\n", i, uuids[i],
		       (long long)(after[i] - before[i]), ours[i]);
	return 0;
}

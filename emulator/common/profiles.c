/* Device profiles (profiles.h).
 *
 * h200 is shared/reference/h200/driver-view.json value for value (a real H200 on driver
 * 580.159.04; attributes it refused, 148 and up, are refused here too).  The others take
 * the H200's table and change what differs between the models, from NVIDIA's public
 * specifications and the compute-capability tables of the CUDA programming guide:
 * compute capability, SM count, clocks, memory size and bus width, L2, shared memory and
 * thread/block limits per SM, copy engines, ECC, features that need Hopper (clusters,
 * tensor maps, memory sync domains, fabric handles), the PCI device ids.
 * Attributes 33, 34, 50 (PCI location) and 85 (board group) are per device: device.c
 * answers them from the configuration. */
#include "emulator/common/profiles.h"

#include <pthread.h>
#include <string.h>

struct attr {
	int num, value;
};

/* NVIDIA H200 (GH100, SXM, 141 GB HBM3e), as the real driver answered. */
static const struct attr h200_attrs[] = {
	{  1, 1024}, /* MAX_THREADS_PER_BLOCK */
	{  2, 1024}, /* MAX_BLOCK_DIM_X */
	{  3, 1024}, /* MAX_BLOCK_DIM_Y */
	{  4, 64}, /* MAX_BLOCK_DIM_Z */
	{  5, 2147483647}, /* MAX_GRID_DIM_X */
	{  6, 65535}, /* MAX_GRID_DIM_Y */
	{  7, 65535}, /* MAX_GRID_DIM_Z */
	{  8, 49152}, /* MAX_SHARED_MEMORY_PER_BLOCK */
	{  9, 65536}, /* TOTAL_CONSTANT_MEMORY */
	{ 10, 32}, /* WARP_SIZE */
	{ 11, 2147483647}, /* MAX_PITCH */
	{ 12, 65536}, /* MAX_REGISTERS_PER_BLOCK */
	{ 13, 1980000}, /* CLOCK_RATE */
	{ 14, 512}, /* TEXTURE_ALIGNMENT */
	{ 15, 1}, /* GPU_OVERLAP */
	{ 16, 132}, /* MULTIPROCESSOR_COUNT */
	{ 17, 0}, /* KERNEL_EXEC_TIMEOUT */
	{ 18, 0}, /* INTEGRATED */
	{ 19, 1}, /* CAN_MAP_HOST_MEMORY */
	{ 20, 0}, /* COMPUTE_MODE */
	{ 21, 131072}, /* MAXIMUM_TEXTURE1D_WIDTH */
	{ 22, 131072}, /* MAXIMUM_TEXTURE2D_WIDTH */
	{ 23, 65536}, /* MAXIMUM_TEXTURE2D_HEIGHT */
	{ 24, 16384}, /* MAXIMUM_TEXTURE3D_WIDTH */
	{ 25, 16384}, /* MAXIMUM_TEXTURE3D_HEIGHT */
	{ 26, 16384}, /* MAXIMUM_TEXTURE3D_DEPTH */
	{ 27, 32768}, /* MAXIMUM_TEXTURE2D_LAYERED_WIDTH */
	{ 28, 32768}, /* MAXIMUM_TEXTURE2D_LAYERED_HEIGHT */
	{ 29, 2048}, /* MAXIMUM_TEXTURE2D_LAYERED_LAYERS */
	{ 30, 512}, /* SURFACE_ALIGNMENT */
	{ 31, 1}, /* CONCURRENT_KERNELS */
	{ 32, 1}, /* ECC_ENABLED */
	{ 33, 0}, /* PCI_BUS_ID */
	{ 34, 6}, /* PCI_DEVICE_ID */
	{ 35, 0}, /* TCC_DRIVER */
	{ 36, 3201000}, /* MEMORY_CLOCK_RATE */
	{ 37, 6016}, /* GLOBAL_MEMORY_BUS_WIDTH */
	{ 38, 62914560}, /* L2_CACHE_SIZE */
	{ 39, 2048}, /* MAX_THREADS_PER_MULTIPROCESSOR */
	{ 40, 3}, /* ASYNC_ENGINE_COUNT */
	{ 41, 1}, /* UNIFIED_ADDRESSING */
	{ 42, 32768}, /* MAXIMUM_TEXTURE1D_LAYERED_WIDTH */
	{ 43, 2048}, /* MAXIMUM_TEXTURE1D_LAYERED_LAYERS */
	{ 44, 1}, /* CAN_TEX2D_GATHER */
	{ 45, 32768}, /* MAXIMUM_TEXTURE2D_GATHER_WIDTH */
	{ 46, 32768}, /* MAXIMUM_TEXTURE2D_GATHER_HEIGHT */
	{ 47, 8192}, /* MAXIMUM_TEXTURE3D_WIDTH_ALTERNATE */
	{ 48, 8192}, /* MAXIMUM_TEXTURE3D_HEIGHT_ALTERNATE */
	{ 49, 32768}, /* MAXIMUM_TEXTURE3D_DEPTH_ALTERNATE */
	{ 50, 0}, /* PCI_DOMAIN_ID */
	{ 51, 32}, /* TEXTURE_PITCH_ALIGNMENT */
	{ 52, 32768}, /* MAXIMUM_TEXTURECUBEMAP_WIDTH */
	{ 53, 32768}, /* MAXIMUM_TEXTURECUBEMAP_LAYERED_WIDTH */
	{ 54, 2046}, /* MAXIMUM_TEXTURECUBEMAP_LAYERED_LAYERS */
	{ 55, 32768}, /* MAXIMUM_SURFACE1D_WIDTH */
	{ 56, 131072}, /* MAXIMUM_SURFACE2D_WIDTH */
	{ 57, 65536}, /* MAXIMUM_SURFACE2D_HEIGHT */
	{ 58, 16384}, /* MAXIMUM_SURFACE3D_WIDTH */
	{ 59, 16384}, /* MAXIMUM_SURFACE3D_HEIGHT */
	{ 60, 16384}, /* MAXIMUM_SURFACE3D_DEPTH */
	{ 61, 32768}, /* MAXIMUM_SURFACE1D_LAYERED_WIDTH */
	{ 62, 2048}, /* MAXIMUM_SURFACE1D_LAYERED_LAYERS */
	{ 63, 32768}, /* MAXIMUM_SURFACE2D_LAYERED_WIDTH */
	{ 64, 32768}, /* MAXIMUM_SURFACE2D_LAYERED_HEIGHT */
	{ 65, 2048}, /* MAXIMUM_SURFACE2D_LAYERED_LAYERS */
	{ 66, 32768}, /* MAXIMUM_SURFACECUBEMAP_WIDTH */
	{ 67, 32768}, /* MAXIMUM_SURFACECUBEMAP_LAYERED_WIDTH */
	{ 68, 2046}, /* MAXIMUM_SURFACECUBEMAP_LAYERED_LAYERS */
	{ 69, 268435456}, /* MAXIMUM_TEXTURE1D_LINEAR_WIDTH */
	{ 70, 131072}, /* MAXIMUM_TEXTURE2D_LINEAR_WIDTH */
	{ 71, 65000}, /* MAXIMUM_TEXTURE2D_LINEAR_HEIGHT */
	{ 72, 2097120}, /* MAXIMUM_TEXTURE2D_LINEAR_PITCH */
	{ 73, 32768}, /* MAXIMUM_TEXTURE2D_MIPMAPPED_WIDTH */
	{ 74, 32768}, /* MAXIMUM_TEXTURE2D_MIPMAPPED_HEIGHT */
	{ 75, 9}, /* COMPUTE_CAPABILITY_MAJOR */
	{ 76, 0}, /* COMPUTE_CAPABILITY_MINOR */
	{ 77, 32768}, /* MAXIMUM_TEXTURE1D_MIPMAPPED_WIDTH */
	{ 78, 1}, /* STREAM_PRIORITIES_SUPPORTED */
	{ 79, 1}, /* GLOBAL_L1_CACHE_SUPPORTED */
	{ 80, 1}, /* LOCAL_L1_CACHE_SUPPORTED */
	{ 81, 233472}, /* MAX_SHARED_MEMORY_PER_MULTIPROCESSOR */
	{ 82, 65536}, /* MAX_REGISTERS_PER_MULTIPROCESSOR */
	{ 83, 1}, /* MANAGED_MEMORY */
	{ 84, 0}, /* MULTI_GPU_BOARD */
	{ 85, 0}, /* MULTI_GPU_BOARD_GROUP_ID */
	{ 86, 0}, /* HOST_NATIVE_ATOMIC_SUPPORTED */
	{ 87, 2}, /* SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO */
	{ 88, 0}, /* PAGEABLE_MEMORY_ACCESS */
	{ 89, 1}, /* CONCURRENT_MANAGED_ACCESS */
	{ 90, 1}, /* COMPUTE_PREEMPTION_SUPPORTED */
	{ 91, 1}, /* CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM */
	{ 92, 0}, /* CAN_USE_STREAM_MEM_OPS_V1 */
	{ 93, 0}, /* CAN_USE_64_BIT_STREAM_MEM_OPS_V1 */
	{ 94, 0}, /* CAN_USE_STREAM_WAIT_VALUE_NOR_V1 */
	{ 95, 1}, /* COOPERATIVE_LAUNCH */
	{ 96, 1}, /* COOPERATIVE_MULTI_DEVICE_LAUNCH */
	{ 97, 232448}, /* MAX_SHARED_MEMORY_PER_BLOCK_OPTIN */
	{ 98, 0}, /* CAN_FLUSH_REMOTE_WRITES */
	{ 99, 1}, /* HOST_REGISTER_SUPPORTED */
	{100, 0}, /* PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES */
	{101, 0}, /* DIRECT_MANAGED_MEM_ACCESS_FROM_HOST */
	{102, 1}, /* VIRTUAL_ADDRESS_MANAGEMENT_SUPPORTED */
	{103, 1}, /* HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED */
	{104, 0}, /* HANDLE_TYPE_WIN32_HANDLE_SUPPORTED */
	{105, 0}, /* HANDLE_TYPE_WIN32_KMT_HANDLE_SUPPORTED */
	{106, 32}, /* MAX_BLOCKS_PER_MULTIPROCESSOR */
	{107, 1}, /* GENERIC_COMPRESSION_SUPPORTED */
	{108, 39321600}, /* MAX_PERSISTING_L2_CACHE_SIZE */
	{109, 134217728}, /* MAX_ACCESS_POLICY_WINDOW_SIZE */
	{110, 1}, /* GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED */
	{111, 1024}, /* RESERVED_SHARED_MEMORY_PER_BLOCK */
	{112, 1}, /* SPARSE_CUDA_ARRAY_SUPPORTED */
	{113, 1}, /* READ_ONLY_HOST_REGISTER_SUPPORTED */
	{114, 1}, /* TIMELINE_SEMAPHORE_INTEROP_SUPPORTED */
	{115, 1}, /* MEMORY_POOLS_SUPPORTED */
	{116, 1}, /* GPU_DIRECT_RDMA_SUPPORTED */
	{117, 1}, /* GPU_DIRECT_RDMA_FLUSH_WRITES_OPTIONS */
	{118, 100}, /* GPU_DIRECT_RDMA_WRITES_ORDERING */
	{119, 9}, /* MEMPOOL_SUPPORTED_HANDLE_TYPES */
	{120, 1}, /* CLUSTER_LAUNCH */
	{121, 1}, /* DEFERRED_MAPPING_CUDA_ARRAY_SUPPORTED */
	{122, 1}, /* CAN_USE_64_BIT_STREAM_MEM_OPS */
	{123, 1}, /* CAN_USE_STREAM_WAIT_VALUE_NOR */
	{124, 1}, /* DMA_BUF_SUPPORTED */
	{125, 1}, /* IPC_EVENT_SUPPORTED */
	{126, 4}, /* MEM_SYNC_DOMAIN_COUNT */
	{127, 1}, /* TENSOR_MAP_ACCESS_SUPPORTED */
	{128, 1}, /* HANDLE_TYPE_FABRIC_SUPPORTED */
	{129, 1}, /* UNIFIED_FUNCTION_POINTERS */
	{130, 0}, /* NUMA_CONFIG */
	{131, -1}, /* NUMA_ID */
	{132, 0}, /* MULTICAST_SUPPORTED */
	{133, 0}, /* MPS_ENABLED */
	{134, 0}, /* HOST_NUMA_ID */
	{135, 0}, /* D3D12_CIG_SUPPORTED */
	{136, 0}, /* MEM_DECOMPRESS_ALGORITHM_MASK */
	{137, 0}, /* MEM_DECOMPRESS_MAXIMUM_LENGTH */
	{138, 0}, /* VULKAN_CIG_SUPPORTED */
	{139, 590680286}, /* GPU_PCI_DEVICE_ID */
	{140, 415174878}, /* GPU_PCI_SUBSYSTEM_ID */
	{141, 1}, /* HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED */
	{142, 1}, /* HOST_NUMA_MEMORY_POOLS_SUPPORTED */
	{143, 0}, /* HOST_NUMA_MULTINODE_IPC_SUPPORTED */
	{144, 1}, /* HOST_MEMORY_POOLS_SUPPORTED */
	{145, 1}, /* HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED */
	{146, 0}, /* HOST_ALLOC_DMA_BUF_SUPPORTED */
	{147, 0}, /* ONLY_PARTIAL_HOST_NATIVE_ATOMIC_SUPPORTED */
};

/* NVIDIA H100 80GB HBM3 (SXM5): same die as the H200, 80 GB HBM3 at 2619 MHz, 50 MB L2. */
static const struct attr h100_attrs[] = {
	{13, 1980000},     /* clock rate, kHz */
	{16, 132},         /* SMs */
	{36, 2619000},     /* memory clock, kHz */
	{37, 5120},        /* memory bus width, bits */
	{38, 52428800},    /* L2: 50 MiB */
	{108, 32768000},   /* max persisting L2: 5/8 of L2, as the H200 reports */
	{139, 0x233010de}, /* PCI device id 0x2330 */
	{140, 0x16c110de},
};

/* NVIDIA A100-SXM4-80GB (GA100, compute capability 8.0). */
static const struct attr a100_attrs[] = {
	{75, 8}, {76, 0},
	{13, 1410000},
	{16, 108},
	{36, 1593000},
	{37, 5120},
	{38, 41943040},    /* L2: 40 MiB */
	{81, 167936},      /* shared memory per SM: 164 KiB */
	{97, 166912},      /* per block, opt-in: 163 KiB */
	{108, 31457280},   /* 30 MiB */
	{119, 1},          /* mempool handle types: POSIX fd */
	{120, 0},          /* no clusters before Hopper */
	{126, 1},          /* one memory sync domain */
	{127, 0},          /* no tensor maps */
	{128, 0},          /* no fabric handles */
	{139, 0x20b210de},
	{140, 0x147f10de},
};

/* Ada (compute capability 8.9): what L4 and RTX 4090 share. */
static const struct attr ada_attrs[] = {
	{75, 8}, {76, 9},
	{39, 1536},        /* threads per SM */
	{40, 2},           /* copy engines */
	{81, 102400},      /* 100 KiB shared memory per SM */
	{87, 64},          /* FP32:FP64 */
	{97, 101376},      /* 99 KiB per block, opt-in */
	{106, 24},         /* blocks per SM */
	{119, 1}, {120, 0}, {126, 1}, {127, 0}, {128, 0},
};

/* NVIDIA L4 (AD104, 24 GB GDDR6, 72 W). */
static const struct attr l4_attrs[] = {
	{13, 2040000},
	{16, 58},
	{36, 6251000},
	{37, 192},
	{38, 50331648},    /* 48 MiB */
	{108, 37748736},
	{139, 0x27b810de},
	{140, 0x16ca10de},
};

/* NVIDIA GeForce RTX 4090 (AD102, 24 GB GDDR6X): a GeForce board has no ECC and no
 * GPUDirect RDMA. */
static const struct attr rtx4090_attrs[] = {
	{13, 2520000},
	{16, 128},
	{32, 0},           /* ECC */
	{36, 10501000},
	{37, 384},
	{38, 75497472},    /* 72 MiB */
	{108, 56623104},
	{110, 0}, {116, 0}, {117, 0}, {118, 0}, /* GPUDirect RDMA */
	{139, 0x268410de},
	{140, 0x16f110de},
};

/* Tesla T4 (TU104, compute capability 7.5, 16 GB GDDR6, 70 W). */
static const struct attr t4_attrs[] = {
	{75, 7}, {76, 5},
	{13, 1590000},
	{16, 40},
	{36, 5001000},
	{37, 256},
	{38, 4194304},     /* 4 MiB */
	{39, 1024},
	{81, 65536},
	{87, 32},
	{97, 65536},
	{106, 16},
	{108, 0}, {109, 0}, /* no L2 persistence before Ampere */
	{111, 0},          /* no shared memory reserved per block before Ampere */
	{119, 1}, {120, 0}, {121, 0}, {126, 1}, {127, 0}, {128, 0}, {129, 0},
	{139, 0x1eb810de},
	{140, 0x12a210de},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MIB(n) ((uint64_t)(n) << 20)

static struct emu_profile profiles[] = {
	{.key = "h200", .name = "NVIDIA H200", .total_memory = 150109880320ULL},
	{.key = "h100-80gb", .name = "NVIDIA H100 80GB HBM3", .total_memory = MIB(81008)},
	{.key = "a100-80gb", .name = "NVIDIA A100-SXM4-80GB", .total_memory = MIB(81050)},
	{.key = "l4", .name = "NVIDIA L4", .total_memory = MIB(22491)},
	{.key = "t4", .name = "Tesla T4", .total_memory = MIB(15102)},
	{.key = "rtx-4090", .name = "NVIDIA GeForce RTX 4090", .total_memory = MIB(24217)},
};

static void apply(struct emu_profile *p, const struct attr *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		p->attributes[a[i].num] = a[i].value;
		p->attribute_known[a[i].num] = 1;
	}
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void)
{
	for (size_t i = 0; i < N(profiles); i++)
		apply(&profiles[i], h200_attrs, N(h200_attrs));
	apply(&profiles[1], h100_attrs, N(h100_attrs));
	apply(&profiles[2], a100_attrs, N(a100_attrs));
	apply(&profiles[3], ada_attrs, N(ada_attrs));
	apply(&profiles[3], l4_attrs, N(l4_attrs));
	apply(&profiles[4], t4_attrs, N(t4_attrs));
	apply(&profiles[5], ada_attrs, N(ada_attrs));
	apply(&profiles[5], rtx4090_attrs, N(rtx4090_attrs));
}

const struct emu_profile *emu_profile_find(const char *key)
{
	pthread_once(&once, build);
	if (!key)
		return NULL;
	for (size_t i = 0; i < N(profiles); i++)
		if (strcmp(profiles[i].key, key) == 0)
			return &profiles[i];
	return NULL;
}

/* Kernel launches, function attributes and occupancy.
 *
 * The emulator executes no GPU code.  A launch is checked as the driver checks it
 * (function, stream, dimensions, shared memory) and then either fails with
 * CUDA_ERROR_NOT_SUPPORTED, saying so once per process on stderr, or, under the policy
 * option `launch = noop` (VGPU_EMULATOR_LAUNCH=noop outside vgpu-run), succeeds doing
 * nothing.  Attributes and occupancy answer from the image (registers, shared memory)
 * and the device's profile. */
#include <string.h>
#include <unistd.h>

#include "emulator/cuda/mem_internal.h"

#define EMU_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE 720
#define EMU_ERROR_INVALID_CLUSTER_SIZE 912

static int said_launch;

static void say_not_run(const char *name)
{
	if (__atomic_exchange_n(&said_launch, 1, __ATOMIC_RELAXED))
		return;
	const char *a = "vgpu emulator: kernel ";
	const char *b = " not run: the emulator does not execute GPU code; use `launch = noop` to make launches "
			"succeed doing nothing\n";
	char line[1024];
	size_t la = strlen(a), ln = strnlen(name, 512), lb = strlen(b);
	memcpy(line, a, la);
	memcpy(line + la, name, ln);
	memcpy(line + la + ln, b, lb);
	(void)!write(STDERR_FILENO, line, la + ln + lb);
}

/* --- function attributes ------------------------------------------------------------------- */

static int cc_version(int dev)
{
	return emu_attr(dev, EMU_ATTR_COMPUTE_CAPABILITY_MAJOR, 9) * 10 + emu_attr(dev, EMU_ATTR_COMPUTE_CAPABILITY_MINOR, 0);
}

static int func_regs(const struct emu_function *f)
{
	return f->num_regs > 0 ? f->num_regs : 32;
}

/* Threads per block the function can have on dev. */
static int func_max_threads(const struct emu_function *f, int dev)
{
	int limit = emu_attr(dev, EMU_ATTR_MAX_THREADS_PER_BLOCK, 1024);
	if (f->max_threads && f->max_threads < limit)
		limit = f->max_threads;
	/* Registers are given out per warp, 256 at a time. */
	int per_warp = (func_regs(f) * 32 + 255) / 256 * 256;
	int warps = emu_attr(dev, EMU_ATTR_MAX_REGISTERS_PER_BLOCK, 65536) / per_warp;
	if (warps * 32 < limit)
		limit = warps * 32;
	return limit;
}

static int func_max_dynamic_shared(const struct emu_function *f, int dev)
{
	if (f->attr_max_dynamic_shared >= 0)
		return f->attr_max_dynamic_shared;
	int v = emu_attr(dev, EMU_ATTR_MAX_SHARED_MEMORY_PER_BLOCK, 49152) - f->shared_static;
	return v > 0 ? v : 0;
}

static CUresult func_attribute(const struct emu_function *f, int attr, int dev, int *out)
{
	switch (attr) {
	case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
		*out = func_max_threads(f, dev);
		break;
	case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES:
		*out = f->shared_static;
		break;
	case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES:
		*out = f->const_bytes;
		break;
	case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES:
		*out = f->local_bytes;
		break;
	case CU_FUNC_ATTRIBUTE_NUM_REGS:
		*out = func_regs(f);
		break;
	case CU_FUNC_ATTRIBUTE_PTX_VERSION:
		*out = f->ptx_version ? f->ptx_version : cc_version(dev);
		break;
	case CU_FUNC_ATTRIBUTE_BINARY_VERSION:
		*out = f->binary_version ? f->binary_version : cc_version(dev);
		break;
	case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA:
		*out = 0;
		break;
	case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
		*out = func_max_dynamic_shared(f, dev);
		break;
	case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
		*out = f->attr_carveout;
		break;
	case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET:
		*out = 0;
		break;
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
		*out = f->attr_cluster_dim[attr - CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH];
		break;
	case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
		*out = f->attr_non_portable_cluster;
		break;
	case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
		*out = f->attr_cluster_pref;
		break;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_SUCCESS;
}

static CUresult func_set_attribute(struct emu_function *f, int attr, int value, int dev)
{
	switch (attr) {
	case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: {
		int optin = emu_attr(dev, EMU_ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 49152);
		if (value < 0 || value > optin - f->shared_static)
			return CUDA_ERROR_INVALID_VALUE;
		f->attr_max_dynamic_shared = value;
		return CUDA_SUCCESS;
	}
	case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
		if (value < -1 || value > 100)
			return CUDA_ERROR_INVALID_VALUE;
		f->attr_carveout = value;
		return CUDA_SUCCESS;
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
		if (value < 0 || value > 16)
			return CUDA_ERROR_INVALID_VALUE;
		f->attr_cluster_dim[attr - CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH] = value;
		return CUDA_SUCCESS;
	case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
		if (value != 0 && value != 1)
			return CUDA_ERROR_INVALID_VALUE;
		f->attr_non_portable_cluster = value;
		return CUDA_SUCCESS;
	case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
		if (value < 0 || value > 2)
			return CUDA_ERROR_INVALID_VALUE;
		f->attr_cluster_pref = value;
		return CUDA_SUCCESS;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

static CUresult check_dev(CUdevice dev)
{
	if (dev < 0 || (unsigned)dev >= emu_device_count())
		return CUDA_ERROR_INVALID_DEVICE;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuFuncGetAttribute(int *pi, int attrib, CUfunction hfunc)
{
	int dev;
	CUresult rc = emu_current(NULL, &dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pi)
		return CUDA_ERROR_INVALID_VALUE;
	struct emu_function *f = emu_function_lookup(hfunc);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	emu_modules_lock();
	rc = func_attribute(f, attrib, dev, pi);
	emu_modules_unlock();
	return rc;
}

EMU_API CUresult cuFuncSetAttribute(CUfunction hfunc, int attrib, int value)
{
	int dev;
	CUresult rc = emu_current(NULL, &dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	struct emu_function *f = emu_function_lookup(hfunc);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	emu_modules_lock();
	rc = func_set_attribute(f, attrib, value, dev);
	emu_modules_unlock();
	return rc;
}

EMU_API CUresult cuKernelGetAttribute(int *pi, int attrib, CUkernel kernel, CUdevice dev)
{
	CUresult rc = emu_check_init();
	if (rc == CUDA_SUCCESS)
		rc = check_dev(dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pi)
		return CUDA_ERROR_INVALID_VALUE;
	struct emu_function *f = emu_function_lookup(kernel);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	emu_modules_lock();
	rc = func_attribute(f, attrib, dev, pi);
	emu_modules_unlock();
	return rc;
}

EMU_API CUresult cuKernelSetAttribute(int attrib, int val, CUkernel kernel, CUdevice dev)
{
	CUresult rc = emu_check_init();
	if (rc == CUDA_SUCCESS)
		rc = check_dev(dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	struct emu_function *f = emu_function_lookup(kernel);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	emu_modules_lock();
	rc = func_set_attribute(f, attrib, val, dev);
	emu_modules_unlock();
	return rc;
}

static CUresult set_cache_config(const void *handle, int config)
{
	if (config < CU_FUNC_CACHE_PREFER_NONE || config > CU_FUNC_CACHE_PREFER_EQUAL)
		return CUDA_ERROR_INVALID_VALUE;
	struct emu_function *f = emu_function_lookup(handle);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	emu_modules_lock();
	f->attr_cache_config = config;
	emu_modules_unlock();
	return CUDA_SUCCESS;
}

EMU_API CUresult cuFuncSetCacheConfig(CUfunction hfunc, int config)
{
	CUresult rc = emu_current(NULL, NULL);
	return rc != CUDA_SUCCESS ? rc : set_cache_config(hfunc, config);
}

EMU_API CUresult cuKernelSetCacheConfig(CUkernel kernel, int config, CUdevice dev)
{
	CUresult rc = emu_check_init();
	if (rc == CUDA_SUCCESS)
		rc = check_dev(dev);
	return rc != CUDA_SUCCESS ? rc : set_cache_config(kernel, config);
}

EMU_API CUresult cuFuncSetSharedMemConfig(CUfunction hfunc, int config)
{
	CUresult rc = emu_current(NULL, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (config < 0 || config > 2)
		return CUDA_ERROR_INVALID_VALUE;
	return emu_function_lookup(hfunc) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* --- launches ----------------------------------------------------------------------------- */

static CUresult launch(const void *handle, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
		       unsigned bz, unsigned shared, CUstream stream, void **params, void **extra, int cooperative)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	struct emu_function *f = emu_function_lookup(handle);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	CUcontext ctx;
	rc = emu_stream_check(stream, &ctx);
	if (rc != CUDA_SUCCESS)
		return rc;
	int dev = emu_context_device(ctx);
	if (!gx || !gy || !gz || !bx || !by || !bz)
		return CUDA_ERROR_INVALID_VALUE;
	if ((int64_t)gx > emu_attr(dev, EMU_ATTR_MAX_GRID_DIM_X, 2147483647) ||
	    (int64_t)gy > emu_attr(dev, EMU_ATTR_MAX_GRID_DIM_Y, 65535) ||
	    (int64_t)gz > emu_attr(dev, EMU_ATTR_MAX_GRID_DIM_Z, 65535) ||
	    (int64_t)bx > emu_attr(dev, EMU_ATTR_MAX_BLOCK_DIM_X, 1024) ||
	    (int64_t)by > emu_attr(dev, EMU_ATTR_MAX_BLOCK_DIM_Y, 1024) ||
	    (int64_t)bz > emu_attr(dev, EMU_ATTR_MAX_BLOCK_DIM_Z, 64))
		return CUDA_ERROR_INVALID_VALUE;
	if (params && extra)
		return CUDA_ERROR_INVALID_VALUE;
	emu_modules_lock();
	uint64_t threads = (uint64_t)bx * by * bz;
	int max_threads = func_max_threads(f, dev), max_dyn = func_max_dynamic_shared(f, dev);
	int nparams = f->nparams;
	emu_modules_unlock();
	if (threads > (uint64_t)max_threads)
		return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
	if (shared > (unsigned)max_dyn)
		return CUDA_ERROR_INVALID_VALUE;
	if (nparams > 0 && !params && !extra)
		return CUDA_ERROR_INVALID_VALUE;
	if (cooperative) {
		int per_sm = 0;
		emu_occupancy(f, dev, (int)threads, shared, &per_sm);
		uint64_t max_blocks = (uint64_t)per_sm * (uint64_t)emu_attr(dev, EMU_ATTR_MULTIPROCESSOR_COUNT, 1);
		if ((uint64_t)gx * gy * gz > max_blocks)
			return EMU_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE;
	}
	if (emu_config()->launch_noop)
		return CUDA_SUCCESS;
	say_not_run(f->name);
	return CUDA_ERROR_NOT_SUPPORTED;
}

EMU_API CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
				unsigned int by, unsigned int bz, unsigned int sharedMemBytes, CUstream hStream,
				void **kernelParams, void **extra)
{
	return launch(f, gx, gy, gz, bx, by, bz, sharedMemBytes, hStream, kernelParams, extra, 0);
}

EMU_API CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
				     unsigned int bx, unsigned int by, unsigned int bz, unsigned int sharedMemBytes,
				     CUstream hStream, void **kernelParams, void **extra)
{
	return launch(f, gx, gy, gz, bx, by, bz, sharedMemBytes, hStream, kernelParams, extra, 0);
}

EMU_API CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
					   unsigned int bx, unsigned int by, unsigned int bz,
					   unsigned int sharedMemBytes, CUstream hStream, void **kernelParams)
{
	return launch(f, gx, gy, gz, bx, by, bz, sharedMemBytes, hStream, kernelParams, NULL, 1);
}

EMU_API CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
						unsigned int bx, unsigned int by, unsigned int bz,
						unsigned int sharedMemBytes, CUstream hStream, void **kernelParams)
{
	return launch(f, gx, gy, gz, bx, by, bz, sharedMemBytes, hStream, kernelParams, NULL, 1);
}

EMU_API CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra)
{
	if (!config || (config->numAttrs && !config->attrs))
		return emu_check_init() != CUDA_SUCCESS ? emu_check_init() : CUDA_ERROR_INVALID_VALUE;
	int cooperative = 0;
	for (unsigned i = 0; i < config->numAttrs; i++)
		if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_COOPERATIVE && config->attrs[i].value.cooperative)
			cooperative = 1;
	return launch(f, config->gridDimX, config->gridDimY, config->gridDimZ, config->blockDimX, config->blockDimY,
		      config->blockDimZ, config->sharedMemBytes, config->hStream, kernelParams, extra, cooperative);
}

EMU_API CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra)
{
	return cuLaunchKernelEx(config, f, kernelParams, extra);
}

/* --- occupancy ------------------------------------------------------------------------------ */

/* Blocks of block_size threads with dyn_smem bytes of dynamic shared memory that fit on one
 * multiprocessor of dev at once.  Locked or not: reads fields that only attributes change. */
CUresult emu_occupancy(const struct emu_function *f, int dev, int block_size, size_t dyn_smem, int *out)
{
	*out = 0;
	if (block_size <= 0 || block_size > func_max_threads(f, dev) ||
	    dyn_smem > (size_t)func_max_dynamic_shared(f, dev))
		return CUDA_SUCCESS; /* such a block cannot be launched at all */
	int warp = 32;
	int warps = (block_size + warp - 1) / warp;
	int by_blocks = emu_attr(dev, EMU_ATTR_MAX_BLOCKS_PER_MULTIPROCESSOR, 32);
	int by_threads = emu_attr(dev, EMU_ATTR_MAX_THREADS_PER_MULTIPROCESSOR, 2048) / (warps * warp);
	int per_warp = (func_regs(f) * warp + 255) / 256 * 256;
	int by_regs = emu_attr(dev, EMU_ATTR_MAX_REGISTERS_PER_MULTIPROCESSOR, 65536) / (per_warp * warps);
	int best = by_blocks < by_threads ? by_blocks : by_threads;
	if (by_regs < best)
		best = by_regs;
	uint64_t smem = (uint64_t)f->shared_static + dyn_smem;
	if (smem) {
		/* Each block also holds 1 KiB the system reserves (sm_80 and later). */
		smem = (smem + 1024 + 127) / 128 * 128;
		uint64_t by_smem = (uint64_t)emu_attr(dev, EMU_ATTR_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, 233472) / smem;
		if (by_smem < (uint64_t)best)
			best = (int)by_smem;
	}
	*out = best > 0 ? best : 0;
	return CUDA_SUCCESS;
}

static CUresult occupancy_device(const void *handle, struct emu_function **f, int *dev)
{
	CUresult rc = emu_current(NULL, dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	*f = emu_function_lookup(handle);
	return *f ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EMU_API CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func, int blockSize,
							     size_t dynamicSMemSize)
{
	struct emu_function *f;
	int dev;
	CUresult rc = occupancy_device(func, &f, &dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!numBlocks)
		return CUDA_ERROR_INVALID_VALUE;
	return emu_occupancy(f, dev, blockSize, dynamicSMemSize, numBlocks);
}

EMU_API CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *numBlocks, CUfunction func, int blockSize,
								      size_t dynamicSMemSize, unsigned int flags)
{
	if (flags & ~1u)
		return CUDA_ERROR_INVALID_VALUE;
	return cuOccupancyMaxActiveBlocksPerMultiprocessor(numBlocks, func, blockSize, dynamicSMemSize);
}

EMU_API CUresult cuOccupancyMaxPotentialBlockSizeWithFlags(int *minGridSize, int *blockSize, CUfunction func,
							   CUoccupancyB2DSize blockSizeToDynamicSMemSize,
							   size_t dynamicSMemSize, int blockSizeLimit, unsigned int flags)
{
	struct emu_function *f;
	int dev;
	CUresult rc = occupancy_device(func, &f, &dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!minGridSize || !blockSize || (flags & ~1u))
		return CUDA_ERROR_INVALID_VALUE;
	int limit = func_max_threads(f, dev);
	if (blockSizeLimit > 0 && blockSizeLimit < limit)
		limit = blockSizeLimit;
	int best_size = 0, best_blocks = 0;
	long best_threads = -1;
	for (int bs = (limit + 31) / 32 * 32; bs > 0; bs -= 32) {
		int size = bs > limit ? limit : bs;
		size_t smem = blockSizeToDynamicSMemSize ? blockSizeToDynamicSMemSize(size) : dynamicSMemSize;
		int blocks;
		emu_occupancy(f, dev, size, smem, &blocks);
		long threads = (long)blocks * size;
		if (threads > best_threads) {
			best_threads = threads;
			best_size = size;
			best_blocks = blocks;
		}
	}
	*blockSize = best_size;
	*minGridSize = best_blocks * emu_attr(dev, EMU_ATTR_MULTIPROCESSOR_COUNT, 1);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuOccupancyMaxPotentialBlockSize(int *minGridSize, int *blockSize, CUfunction func,
						  CUoccupancyB2DSize blockSizeToDynamicSMemSize, size_t dynamicSMemSize,
						  int blockSizeLimit)
{
	return cuOccupancyMaxPotentialBlockSizeWithFlags(minGridSize, blockSize, func, blockSizeToDynamicSMemSize,
							 dynamicSMemSize, blockSizeLimit, 0);
}

EMU_API CUresult cuOccupancyAvailableDynamicSMemPerBlock(size_t *dynamicSmemSize, CUfunction func, int numBlocks,
							 int blockSize)
{
	struct emu_function *f;
	int dev;
	CUresult rc = occupancy_device(func, &f, &dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!dynamicSmemSize || numBlocks <= 0 || blockSize <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	int fits;
	emu_occupancy(f, dev, blockSize, 0, &fits);
	if (fits < numBlocks) {
		*dynamicSmemSize = 0;
		return CUDA_SUCCESS;
	}
	int64_t per_sm = emu_attr(dev, EMU_ATTR_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, 233472);
	int64_t per_block = per_sm / numBlocks / 128 * 128 - 1024 - f->shared_static;
	int64_t cap = func_max_dynamic_shared(f, dev);
	if (per_block > cap)
		per_block = cap;
	*dynamicSmemSize = per_block > 0 ? (size_t)per_block : 0;
	return CUDA_SUCCESS;
}

/* --- thread-block clusters (compute capability 9.0 and later) ---------------------------------- */

/* The largest cluster the function may have: 8 blocks (portable), 16 when it allows
 * non-portable sizes; 1 before compute capability 9.0, which has no clusters. */
static int cluster_limit(const struct emu_function *f, int dev)
{
	if (emu_attr(dev, EMU_ATTR_COMPUTE_CAPABILITY_MAJOR, 9) < 9)
		return 1;
	return f->attr_non_portable_cluster ? 16 : 8;
}

/* The cluster size of a launch: its CLUSTER_DIMENSION attribute, else the function's
 * required one, else 1. */
static int launch_cluster_size(const struct emu_function *f, const CUlaunchConfig *config)
{
	for (unsigned i = 0; i < config->numAttrs; i++)
		if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION) {
			uint64_t n = (uint64_t)config->attrs[i].value.clusterDim.x * config->attrs[i].value.clusterDim.y *
				     config->attrs[i].value.clusterDim.z;
			return n > 1024 ? 1024 : (int)n;
		}
	int n = 1;
	for (int d = 0; d < 3; d++)
		if (f->attr_cluster_dim[d] > 0)
			n *= f->attr_cluster_dim[d];
	return n;
}

static CUresult cluster_query(const void *func, const CUlaunchConfig *config, struct emu_function **f, int *dev,
			      int *per_sm)
{
	CUresult rc = occupancy_device(func, f, dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!config || (config->numAttrs && !config->attrs))
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t threads = (uint64_t)config->blockDimX * config->blockDimY * config->blockDimZ;
	if (threads == 0 || threads > 1024)
		return CUDA_ERROR_INVALID_VALUE;
	return emu_occupancy(*f, *dev, (int)threads, config->sharedMemBytes, per_sm);
}

EMU_API CUresult cuOccupancyMaxPotentialClusterSize(int *clusterSize, CUfunction func, const CUlaunchConfig *config)
{
	struct emu_function *f;
	int dev, per_sm;
	CUresult rc = cluster_query(func, config, &f, &dev, &per_sm);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!clusterSize)
		return CUDA_ERROR_INVALID_VALUE;
	*clusterSize = per_sm > 0 ? cluster_limit(f, dev) : 0;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuOccupancyMaxActiveClusters(int *numClusters, CUfunction func, const CUlaunchConfig *config)
{
	struct emu_function *f;
	int dev, per_sm;
	CUresult rc = cluster_query(func, config, &f, &dev, &per_sm);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!numClusters)
		return CUDA_ERROR_INVALID_VALUE;
	int size = launch_cluster_size(f, config);
	if (size > cluster_limit(f, dev))
		return EMU_ERROR_INVALID_CLUSTER_SIZE;
	*numClusters = (int)((int64_t)per_sm * emu_attr(dev, EMU_ATTR_MULTIPROCESSOR_COUNT, 1) / size);
	return CUDA_SUCCESS;
}

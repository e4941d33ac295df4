// Peer test of the emulator's core (tests/bats/emulator_core.bats): what NVIDIA's
// libcudart makes of it.  Prints one JSON object: runtime and driver versions, the
// device count (or the error cudart returned), every device's cudaDeviceProp under the
// names of shared/reference/h200/cudart-view.json (fields that CUDA 13 dropped from
// cudaDeviceProp come from cudaDeviceGetAttribute), and the results of the context
// sequences cudart runs: cudaSetDevice, cudaDeviceSynchronize (also from a second
// thread), cudaDeviceReset and the same again afterwards.
#include <cuda_runtime.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void str(const char *key, const char *s)
{
	printf("\"%s\": \"", key);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	printf("\", ");
}

#define INT(key, v) printf("\"%s\": %lld, ", key, (long long)(v))
#define ARR2(key, a) printf("\"%s\": [%d, %d], ", key, (a)[0], (a)[1])
#define ARR3(key, a) printf("\"%s\": [%d, %d, %d], ", key, (a)[0], (a)[1], (a)[2])

static int attr(enum cudaDeviceAttr a, int dev)
{
	int v = -12345;
	cudaError_t e = cudaDeviceGetAttribute(&v, a, dev);
	return e == cudaSuccess ? v : -100000 - (int)e;
}

static void *sync_thread(void *arg)
{
	*(cudaError_t *)arg = cudaDeviceSynchronize();
	return NULL;
}

int main(void)
{
	int runtime = 0, driver = 0, count = 0;
	cudaRuntimeGetVersion(&runtime);
	cudaError_t drv_rc = cudaDriverGetVersion(&driver);
	cudaError_t rc = cudaGetDeviceCount(&count);
	printf("{\"runtime\": %d, \"driver\": %d, \"driver_rc\": %d, \"count_rc\": %d, \"count\": %d",
	       runtime, driver, (int)drv_rc, (int)rc, rc == cudaSuccess ? count : -1);
	if (rc != cudaSuccess) {
		printf("}\n");
		return 0;
	}
	printf(", \"devices\": [");
	for (int d = 0; d < count; d++) {
		cudaDeviceProp p;
		memset(&p, 0, sizeof p);
		cudaError_t e = cudaGetDeviceProperties(&p, d);
		printf("%s{\"props_rc\": %d, ", d ? ", " : "", (int)e);
		str("name", p.name);
		INT("totalGlobalMem", p.totalGlobalMem);
		INT("sharedMemPerBlock", p.sharedMemPerBlock);
		INT("regsPerBlock", p.regsPerBlock);
		INT("warpSize", p.warpSize);
		INT("maxThreadsPerBlock", p.maxThreadsPerBlock);
		ARR3("maxThreadsDim", p.maxThreadsDim);
		ARR3("maxGridSize", p.maxGridSize);
		INT("clockRate", attr(cudaDevAttrClockRate, d));
		INT("totalConstMem", p.totalConstMem);
		INT("major", p.major);
		INT("minor", p.minor);
		INT("textureAlignment", p.textureAlignment);
		INT("texturePitchAlignment", p.texturePitchAlignment);
		INT("multiProcessorCount", p.multiProcessorCount);
		INT("kernelExecTimeoutEnabled", attr(cudaDevAttrKernelExecTimeout, d));
		INT("integrated", p.integrated);
		INT("canMapHostMemory", p.canMapHostMemory);
		INT("computeMode", attr(cudaDevAttrComputeMode, d));
		INT("maxTexture1D", p.maxTexture1D);
		ARR2("maxTexture2D", p.maxTexture2D);
		ARR3("maxTexture3D", p.maxTexture3D);
		INT("concurrentKernels", p.concurrentKernels);
		INT("ECCEnabled", p.ECCEnabled);
		INT("pciBusID", p.pciBusID);
		INT("pciDeviceID", p.pciDeviceID);
		INT("pciDomainID", p.pciDomainID);
		INT("tccDriver", p.tccDriver);
		INT("memoryClockRate", attr(cudaDevAttrMemoryClockRate, d));
		INT("memoryBusWidth", p.memoryBusWidth);
		INT("l2CacheSize", p.l2CacheSize);
		INT("maxThreadsPerMultiProcessor", p.maxThreadsPerMultiProcessor);
		INT("isMultiGpuBoard", p.isMultiGpuBoard);
		INT("cooperativeLaunch", p.cooperativeLaunch);
		INT("maxTexture1DMipmap", p.maxTexture1DMipmap);
		ARR2("maxTexture1DLayered", p.maxTexture1DLayered);
		ARR2("maxTexture2DMipmap", p.maxTexture2DMipmap);
		ARR3("maxTexture2DLinear", p.maxTexture2DLinear);
		ARR3("maxTexture2DLayered", p.maxTexture2DLayered);
		ARR2("maxTexture2DGather", p.maxTexture2DGather);
		ARR3("maxTexture3DAlt", p.maxTexture3DAlt);
		INT("maxTextureCubemap", p.maxTextureCubemap);
		ARR2("maxTextureCubemapLayered", p.maxTextureCubemapLayered);
		INT("maxSurface1D", p.maxSurface1D);
		ARR2("maxSurface1DLayered", p.maxSurface1DLayered);
		ARR2("maxSurface2D", p.maxSurface2D);
		ARR3("maxSurface2DLayered", p.maxSurface2DLayered);
		ARR3("maxSurface3D", p.maxSurface3D);
		INT("maxSurfaceCubemap", p.maxSurfaceCubemap);
		ARR2("maxSurfaceCubemapLayered", p.maxSurfaceCubemapLayered);
		INT("surfaceAlignment", p.surfaceAlignment);
		INT("asyncEngineCount", p.asyncEngineCount);
		INT("unifiedAddressing", p.unifiedAddressing);
		INT("streamPrioritiesSupported", p.streamPrioritiesSupported);
		INT("globalL1CacheSupported", p.globalL1CacheSupported);
		INT("localL1CacheSupported", p.localL1CacheSupported);
		INT("sharedMemPerMultiprocessor", p.sharedMemPerMultiprocessor);
		INT("regsPerMultiprocessor", p.regsPerMultiprocessor);
		INT("managedMemory", p.managedMemory);
		INT("multiGpuBoardGroupID", p.multiGpuBoardGroupID);
		INT("hostNativeAtomicSupported", p.hostNativeAtomicSupported);
		INT("pageableMemoryAccess", p.pageableMemoryAccess);
		INT("concurrentManagedAccess", p.concurrentManagedAccess);
		INT("computePreemptionSupported", p.computePreemptionSupported);
		INT("canUseHostPointerForRegisteredMem", p.canUseHostPointerForRegisteredMem);
		INT("sharedMemPerBlockOptin", p.sharedMemPerBlockOptin);
		INT("pageableMemoryAccessUsesHostPageTables", p.pageableMemoryAccessUsesHostPageTables);
		INT("directManagedMemAccessFromHost", p.directManagedMemAccessFromHost);
		INT("luidDeviceNodeMask", p.luidDeviceNodeMask);
		INT("persistingL2CacheMaxSize", p.persistingL2CacheMaxSize);
		INT("maxBlocksPerMultiProcessor", p.maxBlocksPerMultiProcessor);
		INT("accessPolicyMaxWindowSize", p.accessPolicyMaxWindowSize);
		INT("reservedSharedMemPerBlock", p.reservedSharedMemPerBlock);
		INT("deviceOverlap", attr(cudaDevAttrGpuOverlap, d));
		INT("maxTexture1DLinear", attr(cudaDevAttrMaxTexture1DLinearWidth, d));
		INT("singleToDoublePrecisionPerfRatio", attr(cudaDevAttrSingleToDoublePrecisionPerfRatio, d));
		char bus[32] = "";
		cudaDeviceGetPCIBusId(bus, sizeof bus, d);
		str("busId", bus);
		printf("\"uuid\": \"");
		for (int i = 0; i < 16; i++)
			printf("%02x", (unsigned char)p.uuid.bytes[i]);
		printf("\"}");
	}
	printf("]");

	// Contexts: first use, synchronize (here and from another thread), reset, again.
	cudaError_t set = cudaSetDevice(count - 1);
	cudaError_t sync = cudaDeviceSynchronize();
	cudaError_t other = cudaErrorUnknown;
	pthread_t t;
	pthread_create(&t, NULL, sync_thread, &other);
	pthread_join(t, NULL);
	int cur = -1;
	cudaGetDevice(&cur);
	cudaError_t reset = cudaDeviceReset();
	cudaError_t again = cudaDeviceSynchronize();
	unsigned flags = 0;
	cudaError_t getflags = cudaGetDeviceFlags(&flags);
	printf(", \"set_rc\": %d, \"sync_rc\": %d, \"thread_sync_rc\": %d, \"current\": %d, "
	       "\"reset_rc\": %d, \"after_reset_rc\": %d, \"getflags_rc\": %d, \"last_error\": %d}\n",
	       (int)set, (int)sync, (int)other, cur, (int)reset, (int)again, (int)getflags,
	       (int)cudaGetLastError());
	return 0;
}

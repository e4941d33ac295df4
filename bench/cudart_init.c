/* cudart_init: the smallest libcudart client that initialises the runtime on GPU 0
 * (cudaGetDeviceCount, then cudaFree(NULL), which creates the primary context).  Built
 * by bench/run.py with nvcc (cudart linked statically, as nvcc does by default) for the
 * start-up rows of docs/performance.md.  Exit status 0 when it worked. */
#include <cuda_runtime_api.h>
#include <stdio.h>

int main(void)
{
	int n = 0;
	cudaError_t rc = cudaGetDeviceCount(&n);
	if (rc != cudaSuccess || n < 1) {
		fprintf(stderr, "cudart_init: cudaGetDeviceCount: %d (count %d)\n", (int)rc, n);
		return 1;
	}
	rc = cudaFree(NULL);
	if (rc != cudaSuccess) {
		fprintf(stderr, "cudart_init: cudaFree(NULL): %d\n", (int)rc);
		return 1;
	}
	return 0;
}

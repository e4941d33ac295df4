/* fault_cudart OP...: a CUDA runtime program under fault injection, for
 * tests/bats/faults.bats.  Built with nvcc against NVIDIA's libcudart 13 (shared); no
 * kernels.  One line per call, "NAME CODE cudaErrorName":
 *
 *   malloc:N:SIZE    N cudaMalloc(SIZE), each kept: "malloc I CODE NAME" (I from 1);
 *                    a failed one's error is taken off with cudaGetLastError, as a
 *                    program that handles it would
 *   free             cudaFree of everything kept: "free CODE NAME" (the first failure)
 *   sleep:MS         sleeps MS milliseconds: "slept MS"
 *   info             cudaMemGetInfo: "info CODE NAME"
 *   sync             cudaDeviceSynchronize: "sync CODE NAME"
 *
 * cudaSetDevice(0) and cudaFree(0) first (the context): "init CODE NAME".  Exit status
 * 0 when every op ran, whatever the results. */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *kept[4096];
static int nkept;

static void say(const char *what, cudaError_t e)
{
	printf("%s %d %s\n", what, (int)e, cudaGetErrorName(e));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	cudaError_t e = cudaSetDevice(0);
	if (e == cudaSuccess)
		e = cudaFree(0);
	say("init", e);
	for (int i = 1; i < argc; i++) {
		int n = 0, ms = 0;
		unsigned long long size = 0;
		if (sscanf(argv[i], "malloc:%d:%llu", &n, &size) == 2) {
			for (int k = 1; k <= n; k++) {
				void *p = NULL;
				char what[32];
				e = cudaMalloc(&p, (size_t)size);
				if (e == cudaSuccess && nkept < 4096)
					kept[nkept++] = p;
				else
					cudaGetLastError();
				snprintf(what, sizeof what, "malloc %d", k);
				say(what, e);
			}
		} else if (strcmp(argv[i], "free") == 0) {
			cudaError_t first = cudaSuccess;
			while (nkept) {
				e = cudaFree(kept[--nkept]);
				if (e != cudaSuccess && first == cudaSuccess)
					first = e;
			}
			say("free", first);
		} else if (sscanf(argv[i], "sleep:%d", &ms) == 1) {
			usleep((useconds_t)ms * 1000);
			printf("slept %d\n", ms);
		} else if (strcmp(argv[i], "info") == 0) {
			size_t f = 0, t = 0;
			say("info", cudaMemGetInfo(&f, &t));
		} else if (strcmp(argv[i], "sync") == 0) {
			say("sync", cudaDeviceSynchronize());
		} else {
			fprintf(stderr, "fault_cudart: unknown op '%s'\n", argv[i]);
			return 2;
		}
	}
	return 0;
}

// Kernels whose images (cubin, fatbin raw/LZ4/zstd, PTX) the emulator's module tests
// load: tests/peers/emu_driver_memory.c checks that each image describes exactly these.
__device__ int gvar[16];
__device__ int initialised = 1234;
__constant__ float cvar[4];

__global__ void add(int *a, const int *b, int n, double x, char c)
{
	int i = threadIdx.x;
	if (i < n)
		a[i] += b[i] + gvar[i] + (int)cvar[0] + initialised + (int)x + c;
}

struct S {
	int a[5];
	char b;
};

__global__ void big(S s, short h, long long q)
{
	if (s.b)
		gvar[0] = s.a[h] + (int)q;
}

template <typename T> __global__ void tk(T *p, T v)
{
	p[0] = v;
}
template __global__ void tk<float>(float *, float);

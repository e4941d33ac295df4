/* bench_shimcalls: the cost of driver calls through the shim against the same calls
 * straight into the lower driver, inside one vgpu-run sandbox (docs/performance.md,
 * section "Shim call overhead").
 *
 *   bench_shimcalls calls LOWER [ROUNDS]      ns per call, rounds interleaved
 *   bench_shimcalls callgrind LOWER [ITERS]   under callgrind: instructions per call
 *   bench_shimcalls init LOWER [N]            load + cuInit in fresh processes
 *   bench_shimcalls init-one shim|lower LOWER (one of those processes)
 *
 * LOWER is the lower driver the shim loaded (RUNDIR/driver/lower:libcuda.so.1).
 * dlopen of that same path returns the library the shim already loaded, so "lower"
 * calls go into the very same driver instance, contexts and allocations, without the
 * shim.  Each operation is called three ways:
 *   dlsym     the pointer dlsym(libcuda.so.1, name) gives: what a program linked
 *             against libcuda gets (the shim's function, or its forwarder);
 *   procaddr  the pointer the shim's cuGetProcAddress_v2 hands out: what cudart gets;
 *   lower     dlsym(LOWER, name): the driver alone.
 * Operations: alloc (cuMemAlloc_v2 of 4 KiB + cuMemFree_v2: a pair, both intercepted),
 * meminfo (cuMemGetInfo_v2, intercepted), attr (cuDeviceGetAttribute, forwarded),
 * launch (cuLaunchKernel of an empty kernel; needs the policy's `launch = noop`).
 *
 * Output, JSON lines:
 *   {"op": O, "path": P, "ns": [per round]}             (calls)
 *   {"op": O, "pointers": {"dlsym": W, "procaddr": W}}  W: "lower" when the pointer is
 *        the lower driver's own function, "shim" when it is the shim's
 *   {"op": O, "path": P, "iters": N}                     (callgrind; the counts are in
 *        callgrind's dump files, labelled "O/P")
 *   {"init": "shim"|"lower", "load_us": [...], "cuInit_us": [...]}  (init) */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

typedef CUresult (*init_fn)(unsigned);
typedef CUresult (*alloc_fn)(CUdeviceptr *, size_t);
typedef CUresult (*free_fn)(CUdeviceptr);
typedef CUresult (*meminfo_fn)(size_t *, size_t *);
typedef CUresult (*attr_fn)(int *, int, CUdevice);
typedef CUresult (*launch_fn)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
			      CUstream, void **, void **);
typedef CUresult (*procaddr_fn)(const char *, void **, int, uint64_t, int *);

#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75

static void *shim, *lower;
static CUfunction kernel;

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_shimcalls: %s failed (%d)\n", what, rc);
	exit(1);
}

static void *must_sym(void *h, const char *name)
{
	void *p = dlsym(h, name);
	if (!p) {
		fprintf(stderr, "bench_shimcalls: no %s\n", name);
		exit(1);
	}
	return p;
}

/* --- the measured loops: one function each, never inlined ------------------------------ */

struct fns {
	alloc_fn alloc;
	free_fn mfree;
	meminfo_fn meminfo;
	attr_fn attr;
	launch_fn launch;
};

static __attribute__((noinline)) void loop_alloc(const struct fns *f, long n)
{
	for (long i = 0; i < n; i++) {
		CUdeviceptr p;
		CUresult rc = f->alloc(&p, 4096);
		if (rc || (rc = f->mfree(p)))
			die("cuMemAlloc_v2 + cuMemFree_v2", rc);
	}
}

static __attribute__((noinline)) void loop_meminfo(const struct fns *f, long n)
{
	for (long i = 0; i < n; i++) {
		size_t fr, t;
		CUresult rc = f->meminfo(&fr, &t);
		if (rc)
			die("cuMemGetInfo_v2", rc);
	}
}

static __attribute__((noinline)) void loop_attr(const struct fns *f, long n)
{
	for (long i = 0; i < n; i++) {
		int v;
		CUresult rc = f->attr(&v, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0);
		if (rc)
			die("cuDeviceGetAttribute", rc);
	}
}

static __attribute__((noinline)) void loop_launch(const struct fns *f, long n)
{
	for (long i = 0; i < n; i++) {
		CUresult rc = f->launch(kernel, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL);
		if (rc)
			die("cuLaunchKernel (is the policy's launch = noop?)", rc);
	}
}

struct op {
	const char *name;
	void (*loop)(const struct fns *, long);
	long iters;
	int unavailable; /* the call fails here (a launch without `launch = noop`) */
};

static struct op ops[] = {
	{ "alloc", loop_alloc, 0, 0 },
	{ "meminfo", loop_meminfo, 0, 0 },
	{ "attr", loop_attr, 0, 0 },
	{ "launch", loop_launch, 0, 0 },
};
#define NOPS (sizeof ops / sizeof ops[0])

static const char *const paths[] = { "dlsym", "procaddr", "lower" };
#define NPATHS 3
static struct fns fns[NPATHS];

static void *procaddr(const char *name)
{
	static procaddr_fn pa;
	if (!pa)
		pa = (procaddr_fn)must_sym(shim, "cuGetProcAddress_v2");
	void *p = NULL;
	int status = -1;
	CUresult rc = pa(name, &p, 13000, 0, &status);
	if (rc || !p)
		die(name, rc ? rc : -1);
	return p;
}

/* Loads the shim and the lower driver, a context, the empty kernel; fills fns. */
static void setup(const char *lower_path)
{
	shim = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!shim) {
		fprintf(stderr, "bench_shimcalls: %s\n", dlerror());
		exit(1);
	}
	CUresult rc = ((init_fn)must_sym(shim, "cuInit"))(0);
	if (rc)
		die("cuInit", rc);
	lower = dlopen(lower_path, RTLD_NOW | RTLD_LOCAL);
	if (!lower) {
		fprintf(stderr, "bench_shimcalls: %s\n", dlerror());
		exit(1);
	}
	CUcontext ctx;
	rc = ((CUresult(*)(CUcontext *, CUdevice))must_sym(shim, "cuDevicePrimaryCtxRetain"))(&ctx, 0);
	if (rc || (rc = ((CUresult(*)(CUcontext))must_sym(shim, "cuCtxSetCurrent"))(ctx)))
		die("retaining the primary context", rc);
	static const char ptx[] = ".version 7.0\n.target sm_50\n.address_size 64\n\n"
				  ".visible .entry noop()\n{\n\tret;\n}\n";
	CUmodule mod;
	rc = ((CUresult(*)(CUmodule *, const void *))must_sym(shim, "cuModuleLoadData"))(&mod, ptx);
	if (rc || (rc = ((CUresult(*)(CUfunction *, CUmodule, const char *))must_sym(shim, "cuModuleGetFunction"))(
			   &kernel, mod, "noop")))
		die("loading the empty kernel", rc);

	static const char *const names[5] = { "cuMemAlloc_v2", "cuMemFree_v2", "cuMemGetInfo_v2",
					      "cuDeviceGetAttribute", "cuLaunchKernel" };
	static const char *const bases[5] = { "cuMemAlloc", "cuMemFree", "cuMemGetInfo", "cuDeviceGetAttribute",
					      "cuLaunchKernel" };
	for (int p = 0; p < NPATHS; p++) {
		void *v[5];
		for (int k = 0; k < 5; k++)
			v[k] = p == 0 ? must_sym(shim, names[k]) : p == 1 ? procaddr(bases[k]) : must_sym(lower, names[k]);
		fns[p] = (struct fns){ (alloc_fn)v[0], (free_fn)v[1], (meminfo_fn)v[2], (attr_fn)v[3], (launch_fn)v[4] };
	}
	rc = fns[2].launch(kernel, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL);
	if (rc) {
		ops[3].unavailable = 1;
		printf("{\"op\": \"launch\", \"error\": \"cuLaunchKernel returned %d (the emulator needs the policy's "
		       "launch = noop)\"}\n", rc);
	}
}

static const char *whose(void *p, const char *name)
{
	if (p == dlsym(lower, name))
		return "lower";
	if (p == dlsym(shim, name))
		return "shim";
	return "other";
}

static void print_pointers(void)
{
	static const char *const names[NOPS] = { "cuMemAlloc_v2", "cuMemGetInfo_v2", "cuDeviceGetAttribute",
						 "cuLaunchKernel" };
	for (size_t o = 0; o < NOPS; o++) {
		void *d = o == 0 ? (void *)fns[0].alloc : o == 1 ? (void *)fns[0].meminfo : o == 2 ? (void *)fns[0].attr : (void *)fns[0].launch;
		void *q = o == 0 ? (void *)fns[1].alloc : o == 1 ? (void *)fns[1].meminfo : o == 2 ? (void *)fns[1].attr : (void *)fns[1].launch;
		printf("{\"op\": \"%s\", \"pointers\": {\"dlsym\": \"%s\", \"procaddr\": \"%s\"}}\n", ops[o].name,
		       whose(d, names[o]), whose(q, names[o]));
	}
}

/* Iterations that take about target_ns, found on the lower path (the fastest). */
static long calibrate(const struct op *o, double target_ns)
{
	long n = 16;
	for (;;) {
		uint64_t t0 = bench_now_ns();
		o->loop(&fns[2], n);
		double dt = (double)(bench_now_ns() - t0);
		if (dt >= target_ns / 4 || n >= (1L << 26))
			return (long)((double)n * target_ns / (dt > 1 ? dt : 1)) + 1;
		n *= 4;
	}
}

static void calls(int rounds)
{
	double *ns[NOPS][NPATHS];
	for (size_t o = 0; o < NOPS; o++) {
		if (ops[o].unavailable)
			continue;
		ops[o].iters = calibrate(&ops[o], 2e6);
		for (int p = 0; p < NPATHS; p++) {
			ns[o][p] = calloc((size_t)rounds, sizeof(double));
			ops[o].loop(&fns[p], ops[o].iters / 4 + 1); /* warm-up */
		}
	}
	for (int r = 0; r < rounds; r++) {
		for (size_t o = 0; o < NOPS; o++) {
			if (ops[o].unavailable)
				continue;
			for (int k = 0; k < NPATHS; k++) {
				int p = (r + k) % NPATHS;
				uint64_t t0 = bench_now_ns();
				ops[o].loop(&fns[p], ops[o].iters);
				ns[o][p][r] = (double)(bench_now_ns() - t0) / (double)ops[o].iters;
			}
		}
	}
	print_pointers();
	for (size_t o = 0; o < NOPS; o++) {
		if (ops[o].unavailable)
			continue;
		for (int p = 0; p < NPATHS; p++) {
			printf("{\"op\": \"%s\", \"path\": \"%s\", \"iters\": %ld, \"ns\": ", ops[o].name, paths[p],
			       ops[o].iters);
			bench_json_array(stdout, ns[o][p], (size_t)rounds, "%.2f");
			printf("}\n");
		}
	}
}

static void callgrind(long iters)
{
	if (!bench_on_valgrind())
		fprintf(stderr, "bench_shimcalls: not running under valgrind: no counts will be written\n");
	for (size_t o = 0; o < NOPS; o++) {
		if (ops[o].unavailable)
			continue;
		long n = o == 0 ? iters / 10 : iters; /* an allocation pair is ~30x the rest */
		for (int p = 0; p < NPATHS; p++) {
			char label[64];
			snprintf(label, sizeof label, "%s/%s", ops[o].name, paths[p]);
			ops[o].loop(&fns[p], n / 4 + 1); /* warm-up: tables grown, caches filled */
			bench_cg_zero();
			ops[o].loop(&fns[p], n);
			bench_cg_dump(label);
			printf("{\"op\": \"%s\", \"path\": \"%s\", \"iters\": %ld}\n", ops[o].name, paths[p], n);
		}
	}
	print_pointers();
}

/* --- start-up: load + cuInit, each in a fresh process ------------------------------------- */

static int init_one(const char *which, const char *lower_path)
{
	uint64_t t0 = bench_now_ns();
	void *h = dlopen(!strcmp(which, "shim") ? "libcuda.so.1" : lower_path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "bench_shimcalls: %s\n", dlerror());
		return 1;
	}
	uint64_t t1 = bench_now_ns();
	CUresult rc = ((init_fn)must_sym(h, "cuInit"))(0);
	uint64_t t2 = bench_now_ns();
	if (rc)
		die("cuInit", rc);
	printf("%.1f %.1f\n", (double)(t1 - t0) / 1e3, (double)(t2 - t1) / 1e3);
	return 0;
}

static int run_child(const char *which, const char *lower_path, double *load_us, double *init_us)
{
	int fd[2];
	if (pipe(fd) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execl("/proc/self/exe", "bench_shimcalls", "init-one", which, lower_path, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	char buf[128];
	ssize_t got = read(fd[0], buf, sizeof buf - 1);
	close(fd[0]);
	int status;
	waitpid(pid, &status, 0);
	buf[got > 0 ? got : 0] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || sscanf(buf, "%lf %lf", load_us, init_us) != 2)
		return -1;
	return 0;
}

static int init_loop(const char *lower_path, int n)
{
	double load[2][256], init[2][256];
	static const char *const which[2] = { "shim", "lower" };
	if (n > 256)
		n = 256;
	for (int w = 0; w < 2; w++) /* warm-up: page cache */
		if (run_child(which[w], lower_path, &load[w][0], &init[w][0]) != 0) {
			fprintf(stderr, "bench_shimcalls: init-one %s failed\n", which[w]);
			return 1;
		}
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 2; k++) {
			int w = (i + k) % 2;
			if (run_child(which[w], lower_path, &load[w][i], &init[w][i]) != 0) {
				fprintf(stderr, "bench_shimcalls: init-one %s failed\n", which[w]);
				return 1;
			}
		}
	for (int w = 0; w < 2; w++) {
		printf("{\"init\": \"%s\", \"load_us\": ", which[w]);
		bench_json_array(stdout, load[w], (size_t)n, "%.1f");
		printf(", \"cuInit_us\": ");
		bench_json_array(stdout, init[w], (size_t)n, "%.1f");
		printf("}\n");
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "init-one"))
		return init_one(argv[2], argv[3]);
	if (argc < 3) {
		fprintf(stderr, "usage: bench_shimcalls calls|callgrind|init LOWER [N]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "init"))
		return init_loop(argv[2], argc > 3 ? atoi(argv[3]) : 20);
	setup(argv[2]);
	if (!strcmp(argv[1], "calls"))
		calls(argc > 3 ? atoi(argv[3]) : 31);
	else if (!strcmp(argv[1], "callgrind"))
		callgrind(argc > 3 ? atol(argv[3]) : 20000);
	else
		return 2;
	return 0;
}

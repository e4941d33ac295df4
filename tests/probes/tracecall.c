/* tracecall OP...: calls into libcuda.so.1 as programs do, for the tracing tests
 * (tests/bats/trace.bats).  cuInit and cuDeviceGet(0) first; one line on stdout per op.
 *
 *   pid             "pid=N"
 *   calls:N         N cuDeviceGetAttribute (through the exported name): "calls n=N"
 *   alloc:SIZE      cuMemAlloc_v2(SIZE) then cuMemFree_v2: "alloc rc=R free=F"
 *   procaddr:N      cuGetProcAddress_v2("cuDeviceGetAttribute", 12000), then N calls
 *                   through the pointer: "procaddr rc=R n=N"
 *   nested          cuLaunchHostFunc whose callback (run in this thread by the emulator)
 *                   calls cuDeviceGetCount and cuLaunchHostFunc again, whose callback
 *                   calls cuDriverGetVersion: "nested rc=R count=C version=V"
 *   longjmp         cuLaunchHostFunc whose callback longjmps out of the driver; then
 *                   cuDeviceGetCount: "longjmp jumped=1 rc=R"
 *                   (nested and longjmp are for the emulator, which runs host functions
 *                   in the calling thread; the real driver runs them in a thread of its
 *                   own, where a longjmp to this thread's stack crashes)
 *   threads:T:N     T threads, N cuDeviceGetAttribute each, joined: "threads T N"
 *   linger:N        a thread that makes N calls and then sleeps until the process
 *                   exits (its records are written at exit): "linger N"
 *   fork            cuDeviceGetCount in a child (which exits), the parent waits:
 *                   "fork child=PID status=S"
 *   time:N          N cuDeviceGetAttribute through the exported name and through
 *                   cuGetProcAddress's pointer, best of 5 rounds: "time fwd_ns=X
 *                   procaddr_ns=Y" (ns per call)
 * Exit status 0, 2 for bad usage, 1 when the library or a setup call fails. */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef int (*init_fn)(unsigned);
typedef int (*get_fn)(int *, int);
typedef int (*attr_fn)(int *, int, int);
typedef int (*count_fn)(int *);
typedef int (*alloc_fn)(unsigned long long *, size_t);
typedef int (*free_fn)(unsigned long long);
typedef int (*procaddr_fn)(const char *, void **, int, unsigned long long, int *);
typedef int (*hostfn_fn)(void *, void (*)(void *), void *);

static init_fn cu_init;
static get_fn cu_device_get;
static attr_fn cu_attr;
static count_fn cu_count, cu_version;
static alloc_fn cu_alloc;
static free_fn cu_free;
static procaddr_fn cu_procaddr;
static hostfn_fn cu_hostfn;
static int dev;

static void *need(void *lib, const char *name)
{
	void *f = dlsym(lib, name);
	if (!f) {
		fprintf(stderr, "tracecall: %s: not in libcuda.so.1\n", name);
		exit(1);
	}
	return f;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void attrs(int n)
{
	int v;
	for (int i = 0; i < n; i++)
		cu_attr(&v, 75 /* CC major */, dev);
}

static int nested_count, nested_version, nested_rc;

static void inner(void *arg)
{
	(void)arg;
	cu_version(&nested_version);
}

static void outer(void *arg)
{
	(void)arg;
	cu_count(&nested_count);
	nested_rc = cu_hostfn(NULL, inner, NULL);
}

static jmp_buf jump;

static void jumper(void *arg)
{
	(void)arg;
	longjmp(jump, 1);
}

static void *thread_calls(void *arg)
{
	attrs((int)(intptr_t)arg);
	return NULL;
}

static void *lingering(void *arg)
{
	attrs((int)(intptr_t)arg);
	printf("linger %d\n", (int)(intptr_t)arg);
	fflush(stdout);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	void *lib = dlopen("libcuda.so.1", RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "tracecall: %s\n", dlerror());
		return 1;
	}
	cu_init = (init_fn)need(lib, "cuInit");
	cu_device_get = (get_fn)need(lib, "cuDeviceGet");
	cu_attr = (attr_fn)need(lib, "cuDeviceGetAttribute");
	cu_count = (count_fn)need(lib, "cuDeviceGetCount");
	cu_version = (count_fn)need(lib, "cuDriverGetVersion");
	cu_alloc = (alloc_fn)need(lib, "cuMemAlloc_v2");
	cu_free = (free_fn)need(lib, "cuMemFree_v2");
	cu_procaddr = (procaddr_fn)need(lib, "cuGetProcAddress_v2");
	cu_hostfn = (hostfn_fn)need(lib, "cuLaunchHostFunc");
	int rc = cu_init(0);
	if (rc == 0)
		rc = cu_device_get(&dev, 0);
	if (rc != 0) {
		fprintf(stderr, "tracecall: cuInit/cuDeviceGet: %d\n", rc);
		return 1;
	}
	/* Allocations need a context: the primary one, current. */
	void *ctx = NULL;
	int (*retain)(void **, int) = (int (*)(void **, int))need(lib, "cuDevicePrimaryCtxRetain");
	int (*set)(void *) = (int (*)(void *))need(lib, "cuCtxSetCurrent");
	if (retain(&ctx, dev) != 0 || set(ctx) != 0) {
		fprintf(stderr, "tracecall: no context\n");
		return 1;
	}

	for (int i = 1; i < argc; i++) {
		const char *op = argv[i];
		int a = 0, b = 0;
		unsigned long long size = 0;
		if (strcmp(op, "pid") == 0) {
			printf("pid=%d\n", (int)getpid());
		} else if (sscanf(op, "calls:%d", &a) == 1) {
			attrs(a);
			printf("calls n=%d\n", a);
		} else if (sscanf(op, "alloc:%llu", &size) == 1) {
			unsigned long long p = 0;
			int r = cu_alloc(&p, (size_t)size);
			int f = r == 0 ? cu_free(p) : -1;
			printf("alloc rc=%d free=%d\n", r, f);
		} else if (sscanf(op, "procaddr:%d", &a) == 1) {
			void *fn = NULL;
			int status = 0;
			int r = cu_procaddr("cuDeviceGetAttribute", &fn, 12000, 0, &status);
			int v;
			for (int k = 0; r == 0 && fn && k < a; k++)
				((attr_fn)fn)(&v, 75, dev);
			printf("procaddr rc=%d n=%d\n", r, a);
		} else if (strcmp(op, "nested") == 0) {
			int r = cu_hostfn(NULL, outer, NULL);
			printf("nested rc=%d inner=%d count=%d version=%d\n", r, nested_rc, nested_count,
			       nested_version);
		} else if (strcmp(op, "longjmp") == 0) {
			volatile int jumped = 0;
			if (setjmp(jump) == 0)
				cu_hostfn(NULL, jumper, NULL);
			else
				jumped = 1;
			int n = 0;
			int r = cu_count(&n);
			printf("longjmp jumped=%d rc=%d\n", jumped, r);
		} else if (sscanf(op, "threads:%d:%d", &a, &b) == 2) {
			pthread_t t[64];
			if (a > 64)
				a = 64;
			for (int k = 0; k < a; k++)
				pthread_create(&t[k], NULL, thread_calls, (void *)(intptr_t)b);
			for (int k = 0; k < a; k++)
				pthread_join(t[k], NULL);
			printf("threads %d %d\n", a, b);
		} else if (sscanf(op, "linger:%d", &a) == 1) {
			pthread_t t;
			pthread_create(&t, NULL, lingering, (void *)(intptr_t)a);
			/* Wait for its calls (it prints when done). */
			usleep(200000);
		} else if (strcmp(op, "fork") == 0) {
			fflush(stdout);
			pid_t pid = fork();
			if (pid == 0) {
				int n = 0;
				cu_count(&n);
				exit(0);
			}
			int status = -1;
			waitpid(pid, &status, 0);
			printf("fork child=%d status=%d\n", (int)pid, status);
		} else if (sscanf(op, "time:%d", &a) == 1) {
			void *fn = NULL;
			int status = 0;
			if (cu_procaddr("cuDeviceGetAttribute", &fn, 12000, 0, &status) != 0 || !fn)
				return 1;
			int64_t best_fwd = INT64_MAX, best_pa = INT64_MAX;
			int v;
			for (int round = 0; round < 5; round++) {
				int64_t t0 = now_ns();
				attrs(a);
				int64_t t1 = now_ns();
				for (int k = 0; k < a; k++)
					((attr_fn)fn)(&v, 75, dev);
				int64_t t2 = now_ns();
				if (t1 - t0 < best_fwd)
					best_fwd = t1 - t0;
				if (t2 - t1 < best_pa)
					best_pa = t2 - t1;
			}
			printf("time fwd_ns=%.1f procaddr_ns=%.1f\n", (double)best_fwd / a, (double)best_pa / a);
		} else {
			fprintf(stderr, "tracecall: unknown op '%s'\n", op);
			return 2;
		}
		fflush(stdout);
	}
	return 0;
}

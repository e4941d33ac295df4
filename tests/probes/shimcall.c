/* shimcall OP...: calls into libcuda.so.1 / libnvidia-ml.so.1 as a program would, for
 * the shim's tests (tests/bats/shim.bats).  One line on stdout per call, in order.
 *
 * Libraries (dlopen RTLD_NOW | RTLD_LOCAL, on first use or when named):
 *   cuda=NAME_OR_PATH     the CUDA library the plain ops use (default libcuda.so.1)
 *   nvml=NAME_OR_PATH     the NVML library (default libnvidia-ml.so.1)
 *   lower=PATH            a second CUDA library, the lower driver, for lower.* ops and
 *                         to classify pointers (inside vgpu-run: RUNDIR/driver/lower:libcuda.so.1)
 *   lowernvml=PATH        the same for NVML
 * Calls (prefix "lower." to call the lower library's function directly):
 *   cuInit                       "cuInit rc=R"
 *   cuDriverGetVersion           "cuDriverGetVersion rc=R version=V" (V -1: not written)
 *   cuGetErrorString:CODE        "cuGetErrorString CODE rc=R text=T"
 *   procaddr:NAME:VER:FLAGS      cuGetProcAddress_v2: "procaddr NAME VER FLAGS rc=R
 *                                status=S ptr=P" with P null, unchanged, shim:SYMBOL (an
 *                                export of the cuda library, by its own dlsym),
 *                                lower:SYMBOL (dlsym of the lower library gives exactly
 *                                it), or other
 *   procaddr1:NAME:VER:FLAGS     the same through cuGetProcAddress (v1, no status)
 *   dlsym:NAME                   "dlsym NAME ptr=P" for dlsym(cuda, NAME)
 *   nvmlInit_v2, nvmlShutdown    "nvmlInit_v2 rc=R"
 *   nvmlErrorString:CODE         "nvmlErrorString CODE text=T"
 *   time-load                    loads the cuda library and calls cuInit, timed:
 *                                "time-load load_us=L cuInit_us=C rc=R"
 * Exit status 0, 2 for bad usage, 1 when a library cannot be loaded or lacks a name.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*init_fn)(unsigned);
typedef int (*version_fn)(int *);
typedef int (*errstr_fn)(int, const char **);
typedef int (*procaddr2_fn)(const char *, void **, int, uint64_t, int *);
typedef int (*procaddr1_fn)(const char *, void **, int, uint64_t);
typedef int (*void_fn)(void);
typedef const char *(*nvmlerr_fn)(int);

static const char *cuda_name = "libcuda.so.1", *nvml_name = "libnvidia-ml.so.1";
static const char *lower_name, *lowernvml_name;
static void *cuda, *nvml, *lower, *lowernvml;

static void *open_lib(void **h, const char *name)
{
	if (!*h) {
		if (!name) {
			fprintf(stderr, "shimcall: no lower library given (lower=PATH)\n");
			exit(2);
		}
		*h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
		if (!*h) {
			fprintf(stderr, "shimcall: %s\n", dlerror());
			exit(1);
		}
	}
	return *h;
}

static void *sym(void *h, const char *name)
{
	void *p = dlsym(h, name);
	if (!p) {
		fprintf(stderr, "shimcall: no %s: %s\n", name, dlerror());
		exit(1);
	}
	return p;
}

/* Where a function pointer leads. */
static void describe(void *p, void *unchanged, char *buf, size_t len)
{
	Dl_info info;
	if (!p) {
		snprintf(buf, len, "null");
		return;
	}
	if (p == unchanged) {
		snprintf(buf, len, "unchanged");
		return;
	}
	if (dladdr(p, &info) && info.dli_sname && info.dli_saddr == p) {
		if (dlsym(open_lib(&cuda, cuda_name), info.dli_sname) == p) {
			snprintf(buf, len, "shim:%s", info.dli_sname);
			return;
		}
		if (lower_name && dlsym(open_lib(&lower, lower_name), info.dli_sname) == p) {
			snprintf(buf, len, "lower:%s", info.dli_sname);
			return;
		}
	}
	snprintf(buf, len, "other");
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: shimcall OP...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		char op[512];
		snprintf(op, sizeof op, "%s", argv[i]);
		if (!strncmp(op, "cuda=", 5)) {
			cuda_name = argv[i] + 5;
			continue;
		}
		if (!strncmp(op, "nvml=", 5)) {
			nvml_name = argv[i] + 5;
			continue;
		}
		if (!strncmp(op, "lower=", 6)) {
			lower_name = argv[i] + 6;
			continue;
		}
		if (!strncmp(op, "lowernvml=", 10)) {
			lowernvml_name = argv[i] + 10;
			continue;
		}
		int use_lower = !strncmp(op, "lower.", 6);
		char *call = use_lower ? op + 6 : op;
		const char *who = use_lower ? "lower." : "";
		char *arg = strchr(call, ':');
		if (arg)
			*arg++ = '\0';

		if (!strcmp(call, "cuInit")) {
			void *h = use_lower ? open_lib(&lower, lower_name) : open_lib(&cuda, cuda_name);
			printf("%scuInit rc=%d\n", who, ((init_fn)sym(h, "cuInit"))(0));
		} else if (!strcmp(call, "cuDriverGetVersion")) {
			void *h = use_lower ? open_lib(&lower, lower_name) : open_lib(&cuda, cuda_name);
			int v = -1;
			int rc = ((version_fn)sym(h, "cuDriverGetVersion"))(&v);
			printf("%scuDriverGetVersion rc=%d version=%d\n", who, rc, v);
		} else if (!strcmp(call, "cuGetErrorString") && arg) {
			void *h = use_lower ? open_lib(&lower, lower_name) : open_lib(&cuda, cuda_name);
			const char *t = "(unset)";
			int rc = ((errstr_fn)sym(h, "cuGetErrorString"))(atoi(arg), &t);
			printf("%scuGetErrorString %s rc=%d text=%s\n", who, arg, rc, t ? t : "(null)");
		} else if ((!strcmp(call, "procaddr") || !strcmp(call, "procaddr1")) && arg) {
			int v1 = !strcmp(call, "procaddr1");
			char *name = arg, *ver = strchr(name, ':'), *flags = ver ? strchr(ver + 1, ':') : NULL;
			if (!ver || !flags) {
				fprintf(stderr, "shimcall: %s: want procaddr:NAME:VERSION:FLAGS\n", argv[i]);
				return 2;
			}
			*ver++ = '\0';
			*flags++ = '\0';
			void *h = use_lower ? open_lib(&lower, lower_name) : open_lib(&cuda, cuda_name);
			static char sentinel;
			void *p = &sentinel;
			int status = -1, rc;
			if (v1)
				rc = ((procaddr1_fn)sym(h, "cuGetProcAddress"))(name, &p, atoi(ver),
										   strtoull(flags, NULL, 0));
			else
				rc = ((procaddr2_fn)sym(h, "cuGetProcAddress_v2"))(name, &p, atoi(ver),
										      strtoull(flags, NULL, 0), &status);
			char d[300];
			describe(p, &sentinel, d, sizeof d);
			if (v1)
				printf("%sprocaddr1 %s %s %s rc=%d ptr=%s\n", who, name, ver, flags, rc, d);
			else
				printf("%sprocaddr %s %s %s rc=%d status=%d ptr=%s\n", who, name, ver, flags,
				       rc, status, d);
		} else if (!strcmp(call, "dlsym") && arg) {
			void *h = use_lower ? open_lib(&lower, lower_name) : open_lib(&cuda, cuda_name);
			char d[300];
			describe(dlsym(h, arg), NULL, d, sizeof d);
			printf("%sdlsym %s ptr=%s\n", who, arg, d);
		} else if (!strcmp(call, "nvmlInit_v2") || !strcmp(call, "nvmlShutdown")) {
			void *h = use_lower ? open_lib(&lowernvml, lowernvml_name) : open_lib(&nvml, nvml_name);
			printf("%s%s rc=%d\n", who, call, ((void_fn)sym(h, call))());
		} else if (!strcmp(call, "nvmlErrorString") && arg) {
			void *h = use_lower ? open_lib(&lowernvml, lowernvml_name) : open_lib(&nvml, nvml_name);
			const char *t = ((nvmlerr_fn)sym(h, "nvmlErrorString"))(atoi(arg));
			printf("%snvmlErrorString %s text=%s\n", who, arg, t ? t : "(null)");
		} else if (!strcmp(call, "time-load") && !use_lower) {
			double t0 = now_us();
			void *h = open_lib(&cuda, cuda_name);
			double t1 = now_us();
			int rc = ((init_fn)sym(h, "cuInit"))(0);
			double t2 = now_us();
			printf("time-load load_us=%.0f cuInit_us=%.0f rc=%d\n", t1 - t0, t2 - t1, rc);
		} else {
			fprintf(stderr, "shimcall: unknown operation %s\n", argv[i]);
			return 2;
		}
		fflush(stdout);
	}
	return 0;
}

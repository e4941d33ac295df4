#include "shim/common/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy/api_codes.h"
#include "shim/common/fault_region.h"
#include "shim/common/shim.h"

/* NVML's code for a lost GPU (nvml.h). */
#define NVML_ERROR_GPU_IS_LOST 15

/* What still answers after the device is lost: functions that do not touch a GPU.
 * The real driver answers these from the library itself. */
static const char *const alive_after_loss[] = {
	"cuGetErrorName", "cuGetErrorString", "cuDriverGetVersion", "cuGetProcAddress",
	"cuGetProcAddress_v2", "cuGetExportTable", "cudbg*",
	"nvmlInit", "nvmlInit_v2", "nvmlInitWithFlags", "nvmlShutdown", "nvmlErrorString",
	"nvmlSystemGetDriverVersion", "nvmlSystemGetNVMLVersion", "nvmlSystemGetCudaDriverVersion",
	"nvmlSystemGetCudaDriverVersion_v2", NULL,
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint32_t fault_mask_for(const struct shim_lib *l, const char *name)
{
	uint32_t mask = 0;
	for (unsigned i = 0; i < l->policy.nfaults && i < FAULT_MAX_RULES; i++) {
		const struct policy_fault *f = &l->policy.faults[i];
		switch (f->kind) {
		case POLICY_FAULT_ERROR:
		case POLICY_FAULT_SLOW:
			if (f->api == l->hook.api && policy_glob_match(f->function, name))
				mask |= 1u << i;
			break;
		case POLICY_FAULT_LOST: {
			int alive = 0;
			for (const char *const *a = alive_after_loss; *a; a++)
				alive |= policy_glob_match(*a, name);
			if (!alive)
				mask |= 1u << i;
			break;
		}
		default: /* POLICY_FAULT_OOM: in the accounting's path */
			break;
		}
	}
	return mask;
}

int fault_start(struct shim_lib *l, char *why, size_t whylen)
{
	struct hook_lib *h = &l->hook;
	struct shim_forwarding *f = l->fwd;
	char path[PATH_MAX + 16];
	struct fault_region hdr;
	struct stat st;

	snprintf(path, sizeof path, "%s/" FAULT_FILE, l->run_dir);
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(why, whylen, "%s: %s (the policy has fault rules)", path, strerror(errno));
		return -1;
	}
	int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == FAULT_REGION_SIZE &&
		 pread(fd, &hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr && hdr.magic == FAULT_MAGIC &&
		 hdr.version == FAULT_VERSION && hdr.nrules == l->policy.nfaults;
	void *m = ok ? mmap(NULL, FAULT_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	close(fd);
	if (!ok || m == MAP_FAILED) {
		snprintf(why, whylen, "%s: not the fault region of this sandbox's policy", path);
		return -1;
	}
	h->faults = m;
	h->fault_mask = calloc(f->nhooks, sizeof *h->fault_mask);
	if (!h->fault_mask) {
		snprintf(why, whylen, "out of memory for the fault rules");
		munmap(m, FAULT_REGION_SIZE);
		h->faults = NULL;
		return -1;
	}
	for (unsigned i = 0; i < f->count; i++)
		h->fault_mask[i] = fault_mask_for(l, f->names[i]);
	for (unsigned i = 0; i < l->policy.nfaults; i++)
		if (l->policy.faults[i].kind == POLICY_FAULT_OOM)
			h->oom_rule = (int)i + 1;
	return 0;
}

/* splitmix64: a well-mixed 64-bit function of (seed, rule, call number), so that a
 * given seed fails the same calls of the same sequence every time. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t sandbox_bytes(struct shim_lib *l)
{
	uint64_t sum = 0;
	for (unsigned v = 0; v < ACCOUNTING_MAX_GPUS; v++)
		sum += accounting_used(&l->acct, v);
	return sum;
}

int fault_decide(struct shim_lib *l, uint32_t mask, int *code, uint64_t *delay_ns)
{
	struct hook_lib *h = &l->hook;
	struct fault_region *r = h->faults;
	int fire_any = 0;
	for (unsigned i = 0; mask && i < FAULT_MAX_RULES; i++) {
		if (!(mask & (1u << i)))
			continue;
		mask &= ~(1u << i);
		const struct policy_fault *f = &l->policy.faults[i];
		uint64_t n = __atomic_add_fetch(&r->rule[i].calls, 1, __ATOMIC_RELAXED);
		int fire = 0;
		switch (f->kind) {
		case POLICY_FAULT_SLOW:
			*delay_ns += f->ns;
			continue;
		case POLICY_FAULT_LOST:
			fire = now_ns() - r->start_ns >= (int64_t)f->ns;
			break;
		case POLICY_FAULT_ERROR:
			switch (f->when) {
			case POLICY_WHEN_ALWAYS: fire = 1; break;
			case POLICY_WHEN_NTH: fire = n == f->n; break;
			case POLICY_WHEN_EVERY: fire = n % f->n == 0; break;
			case POLICY_WHEN_AFTER_BYTES: fire = sandbox_bytes(l) >= f->n; break;
			case POLICY_WHEN_AFTER: fire = now_ns() - r->start_ns >= (int64_t)f->ns; break;
			case POLICY_WHEN_RANDOM: {
				/* ppb / 10^9 of the 64-bit range, without 128-bit division (which
				 * would link compiler_rt's generic memcpy into the library). */
				uint64_t threshold = (UINT64_MAX / 1000000000u) * f->ppb;
				uint64_t x = mix(f->seed ^ mix(i + 1) ^ mix(n));
				fire = f->ppb >= 1000000000u || x < threshold;
				break;
			}
			}
			break;
		default:
			break;
		}
		if (!fire)
			continue;
		__atomic_add_fetch(&r->rule[i].fired, 1, __ATOMIC_RELAXED);
		if (!fire_any) {
			/* The first rule that fires gives the code. */
			fire_any = 1;
			*code = f->kind == POLICY_FAULT_LOST && h->api == API_NVML ? NVML_ERROR_GPU_IS_LOST : f->error;
		}
	}
	return fire_any;
}

int fault_oom_reserve(struct shim_lib *l, uint64_t bytes)
{
	struct hook_lib *h = &l->hook;
	if (!h->oom_rule)
		return 0;
	uint64_t limit = l->policy.faults[h->oom_rule - 1].n;
	uint64_t *used = &h->faults->oom_used;
	uint64_t cur = __atomic_load_n(used, __ATOMIC_RELAXED);
	do {
		if (bytes > limit || cur > limit - bytes) {
			__atomic_add_fetch(&h->faults->rule[h->oom_rule - 1].fired, 1, __ATOMIC_RELAXED);
			return -1;
		}
	} while (!__atomic_compare_exchange_n(used, &cur, cur + bytes, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	__atomic_add_fetch(&h->faults->rule[h->oom_rule - 1].calls, 1, __ATOMIC_RELAXED);
	return 0;
}

void fault_oom_release(struct shim_lib *l, uint64_t bytes)
{
	struct hook_lib *h = &l->hook;
	if (!h->oom_rule)
		return;
	uint64_t *used = &h->faults->oom_used;
	uint64_t cur = __atomic_load_n(used, __ATOMIC_RELAXED);
	/* Never below zero: a free of memory counted before the rule saw it. */
	while (!__atomic_compare_exchange_n(used, &cur, cur > bytes ? cur - bytes : 0, 1, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

/* nvmlview OP...: what a program sees through libnvidia-ml.so.1 and libcuda.so.1, for
 * the NVML view's tests (tests/bats/shim_nvml.bats).  Both libraries are dlopened by
 * name, as programs do; the types are declared here from NVIDIA's documentation, apart
 * from the shim's and the emulator's headers.  One line per result on stdout, in order.
 *
 *   lowernvml=PATH      the NVML library that lower.* ops use (inside vgpu-run:
 *                       RUNDIR/driver/lower:libnvidia-ml.so.1)
 *   init                nvmlInit_v2 (and nvmlInit, nvmlInitWithFlags(0): each once)
 *                       "init rc=R v1=R flags=R"
 *   shutdown            nvmlShutdown: "shutdown rc=R"
 *   count               "count v1=N v2=N" (N: -RC on failure)
 *   handles             "handles rc=R H0,H1,..." (the handle of each index below the
 *                       count, as pointers; after a failure, just rc)
 *   devices             per NVML index I below the count:
 *                       "device I name=NAME uuid=UUID index=J byuuid=K byuuid_nogpu=K
 *                        byuuid_upper=K byuuidv=K byuuidv_bin=K bypci=K bypci_v1=K
 *                        byserial=K"  (K: the index found, or rc=R; the lookups by the
 *                        UUID: as given, without "GPU-", in upper case, nvmlUUID_t
 *                        ASCII and binary; by the PCI bus id (_v2, v1); by the serial)
 *                       "mem I v1 total=T free=F used=U"
 *                       "mem I v2 total=T reserved=R free=F used=U"
 *   byindex:I           "byindex I rc=R"
 *   byuuid:TEXT         "byuuid TEXT rc=R index=K"
 *   uuidlen:I:LEN       nvmlDeviceGetUUID with a buffer of LEN bytes: "uuidlen I LEN rc=R"
 *   namelen:I:LEN       the same for nvmlDeviceGetName: "namelen I LEN rc=R"
 *   lower.uuids         the lower NVML's own UUIDs: "lower.uuid I UUID"
 *   procs:I             every running-process function of device I, by the two-call
 *                       protocol: "procs I FN rc=R count=C proto=ok|bad pids=P,P,..."
 *                       (proto: asking with 0 said INSUFFICIENT_SIZE with C, or success
 *                       with 0; one entry too few gave INSUFFICIENT_SIZE and C again)
 *   lower.procs:I       the lower's compute processes (_v3) of its device I, as procs:I
 *   detail:I            nvmlDeviceGetRunningProcessDetailList of device I, modes 0 (compute),
 *                       1 (graphics), 2 (MPS), as procs:I: "detail I MODE rc=R count=C
 *                       proto=ok|bad pids=..."
 *   lower.detail:I      the same of the lower NVML (compute only)
 *   nearest:I:LEVEL     nvmlDeviceGetTopologyNearestGpus of device I at LEVEL (50 =
 *                       NVML_TOPOLOGY_SYSTEM) by the count protocol (count 0 asks;
 *                       one too few): "nearest I LEVEL rc=R count=C proto=ok|bad idx=K,K"
 *                       (K: each handle's nvmlDeviceGetIndex, or rc=R when refused)
 *   gpuset:CPU          nvmlSystemGetTopologyGpuSet, the same: "gpuset CPU rc=R ..."
 *   units               "units rc=R count=N devices_rc=R": nvmlUnitGetCount, and
 *                       nvmlUnitGetDevices of the first unit (NULL when there is none)
 *   acct:I              nvmlDeviceGetAccountingPids by the infoCount protocol:
 *                       "acct I rc=R count=C proto=ok|bad pids=P,P"
 *   util:I              nvmlDeviceGetProcessUtilization (lastSeenTimeStamp 0), the
 *                       same: "util I rc=R count=C proto=ok|bad zero=yes|no ts=ok|bad
 *                       later=R pids=P,P" (zero: every utilization 0; ts: stamps not 0;
 *                       later: the rc when asked for samples after an hour past the
 *                       newest stamp seen, i.e. none: NOT_FOUND)
 *   utilinfo:I          nvmlDeviceGetProcessesUtilizationInfo, as util:I ("utilinfo ...")
 *   lower.OP            nearest, gpuset, acct, util, utilinfo of the lower NVML (its
 *                       device I; indexes are its own): "lower.nearest ..." and so on
 *   outside:I           the lower's handle of its device I given to the view:
 *                       "outside I index=R nearest=R acct=R util=R utilinfo=R"
 *   cuda                cuInit; per ordinal "cuda J uuid=GPU-... name=NAME total=T"
 *   alloc:ORD:BYTES     cuMemAlloc_v2 in ORD's primary context: "alloc ORD BYTES rc=R"
 *   pid                 "pid P"
 *   ready:FILE          creates FILE (tells a test the ops before it are done)
 *   hold:FILE           waits until FILE exists (60 s at most), keeping what it holds
 * Exit status 0; 2 for bad usage; 1 when a library or a function is missing. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int ret_t;
typedef void *device_t;

enum { SUCCESS = 0, NOT_FOUND = 6, INSUFFICIENT_SIZE = 7 };

struct memory_v1 {
	unsigned long long total, free, used;
};

struct memory_v2 {
	unsigned int version;
	unsigned long long total, reserved, free, used;
};
#define MEMORY_V2_VERSION ((unsigned)sizeof(struct memory_v2) | (2u << 24))

struct process_v1 {
	unsigned int pid;
	unsigned long long used;
};

struct process_v2 {
	unsigned int pid;
	unsigned long long used;
	unsigned int gpu_instance, compute_instance;
};

struct process_detail {
	unsigned int pid;
	unsigned long long used;
	unsigned int gpu_instance, compute_instance;
	unsigned long long used_cc_protected;
};

struct process_detail_list {
	unsigned int version, mode, entries;
	struct process_detail *array;
};
#define DETAIL_LIST_V1_VERSION ((unsigned)sizeof(struct process_detail_list) | (1u << 24))

struct uuid_v1 {
	unsigned int version, type;
	union {
		char str[41];
		unsigned char bytes[16];
	} value;
};
#define UUID_V1_VERSION ((unsigned)sizeof(struct uuid_v1) | (1u << 24))

struct util_sample {
	unsigned int pid;
	unsigned long long time_stamp;
	unsigned int sm, mem, enc, dec;
};

struct util_info {
	unsigned long long time_stamp;
	unsigned int pid, sm, mem, enc, dec, jpg, ofa;
};

struct utils_info {
	unsigned int version, count;
	unsigned long long last_seen;
	struct util_info *array;
};
#define UTILS_INFO_V1_VERSION ((unsigned)sizeof(struct utils_info) | (1u << 24))

struct pci_info {
	char bus_id_legacy[16];
	unsigned int domain, bus, device, pci_device_id, pci_subsystem_id;
	char bus_id[32];
};

static void *nvml, *cuda, *lowernvml;
static const char *lowernvml_name;

static void *open_lib(void **h, const char *name)
{
	if (!*h) {
		*h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
		if (!*h) {
			fprintf(stderr, "nvmlview: %s\n", dlerror());
			exit(1);
		}
	}
	return *h;
}

static void *sym(void *h, const char *name)
{
	void *p = dlsym(h, name);
	if (!p) {
		fprintf(stderr, "nvmlview: no %s\n", name);
		exit(1);
	}
	return p;
}

#define NVML(name) sym(open_lib(&nvml, "libnvidia-ml.so.1"), name)
#define CUDA(name) sym(open_lib(&cuda, "libcuda.so.1"), name)

typedef ret_t (*noarg_fn)(void);
typedef ret_t (*flags_fn)(unsigned);
typedef ret_t (*count_fn)(unsigned *);
typedef ret_t (*by_index_fn)(unsigned, device_t *);
typedef ret_t (*by_text_fn)(const char *, device_t *);
typedef ret_t (*by_uuidv_fn)(const struct uuid_v1 *, device_t *);
typedef ret_t (*index_fn)(device_t, unsigned *);
typedef ret_t (*string_fn)(device_t, char *, unsigned);
typedef ret_t (*mem1_fn)(device_t, struct memory_v1 *);
typedef ret_t (*mem2_fn)(device_t, struct memory_v2 *);
typedef ret_t (*pci_fn)(device_t, struct pci_info *);
typedef ret_t (*procs_fn)(device_t, unsigned *, void *);

/* The NVML index of what a lookup found: "K", or "rc=R". */
static void found(char *buf, size_t len, ret_t r, device_t h)
{
	unsigned i = 0;
	if (r == SUCCESS)
		r = ((index_fn)NVML("nvmlDeviceGetIndex"))(h, &i);
	if (r == SUCCESS)
		snprintf(buf, len, "%u", i);
	else
		snprintf(buf, len, "rc=%d", r);
}

static int count_v2(void)
{
	unsigned n = 0;
	ret_t r = ((count_fn)NVML("nvmlDeviceGetCount_v2"))(&n);
	return r == SUCCESS ? (int)n : -r;
}

static int parse_hex_uuid(const char *text, unsigned char out[16])
{
	const char *p = strncmp(text, "GPU-", 4) == 0 ? text + 4 : text;
	int k = 0;
	for (; *p && k < 16; p++) {
		if (*p == '-')
			continue;
		unsigned x;
		if (sscanf(p, "%2x", &x) != 1)
			return -1;
		out[k++] = (unsigned char)x;
		p++;
	}
	return k == 16 ? 0 : -1;
}

static void devices(void)
{
	int n = count_v2();
	for (int i = 0; i < n; i++) {
		device_t h = NULL, h2;
		ret_t r = ((by_index_fn)NVML("nvmlDeviceGetHandleByIndex_v2"))((unsigned)i, &h);
		if (r != SUCCESS) {
			printf("device %d rc=%d\n", i, r);
			continue;
		}
		char name[96] = "", uuid[96] = "", serial[64] = "";
		unsigned index = 99;
		r = ((string_fn)NVML("nvmlDeviceGetName"))(h, name, sizeof name);
		if (r != SUCCESS)
			snprintf(name, sizeof name, "rc=%d", r);
		r = ((string_fn)NVML("nvmlDeviceGetUUID"))(h, uuid, sizeof uuid);
		if (r != SUCCESS)
			snprintf(uuid, sizeof uuid, "rc=%d", r);
		r = ((index_fn)NVML("nvmlDeviceGetIndex"))(h, &index);
		char byuuid[32], nogpu[32], upper[32], byuuidv[32], byuuidv_bin[32], bypci[32],
			bypci1[32], byserial[32];
		found(byuuid, sizeof byuuid, ((by_text_fn)NVML("nvmlDeviceGetHandleByUUID"))(uuid, &h2), h2);
		found(nogpu, sizeof nogpu, ((by_text_fn)NVML("nvmlDeviceGetHandleByUUID"))(uuid + 4, &h2), h2);
		char upper_text[96];
		for (size_t k = 0; k <= strlen(uuid); k++)
			upper_text[k] = (char)(uuid[k] >= 'a' && uuid[k] <= 'f' ? uuid[k] - 32 : uuid[k]);
		found(upper, sizeof upper, ((by_text_fn)NVML("nvmlDeviceGetHandleByUUID"))(upper_text, &h2), h2);
		struct uuid_v1 u;
		memset(&u, 0, sizeof u);
		u.version = UUID_V1_VERSION;
		u.type = 1; /* ASCII */
		snprintf(u.value.str, sizeof u.value.str, "%s", uuid);
		found(byuuidv, sizeof byuuidv, ((by_uuidv_fn)NVML("nvmlDeviceGetHandleByUUIDV"))(&u, &h2), h2);
		memset(&u, 0, sizeof u);
		u.version = UUID_V1_VERSION;
		u.type = 2; /* binary */
		if (parse_hex_uuid(uuid, u.value.bytes) == 0)
			found(byuuidv_bin, sizeof byuuidv_bin,
			      ((by_uuidv_fn)NVML("nvmlDeviceGetHandleByUUIDV"))(&u, &h2), h2);
		else
			snprintf(byuuidv_bin, sizeof byuuidv_bin, "unparsable");
		struct pci_info pci;
		memset(&pci, 0, sizeof pci);
		r = ((pci_fn)NVML("nvmlDeviceGetPciInfo_v3"))(h, &pci);
		found(bypci, sizeof bypci, r != SUCCESS ? r : ((by_text_fn)NVML("nvmlDeviceGetHandleByPciBusId_v2"))(pci.bus_id, &h2), h2);
		found(bypci1, sizeof bypci1, r != SUCCESS ? r : ((by_text_fn)NVML("nvmlDeviceGetHandleByPciBusId"))(pci.bus_id, &h2), h2);
		r = ((string_fn)NVML("nvmlDeviceGetSerial"))(h, serial, sizeof serial);
		found(byserial, sizeof byserial, r != SUCCESS ? r : ((by_text_fn)NVML("nvmlDeviceGetHandleBySerial"))(serial, &h2), h2);
		printf("device %d name=%s uuid=%s index=%u byuuid=%s byuuid_nogpu=%s byuuid_upper=%s "
		       "byuuidv=%s byuuidv_bin=%s bypci=%s bypci_v1=%s byserial=%s\n",
		       i, name, uuid, index, byuuid, nogpu, upper, byuuidv, byuuidv_bin, bypci, bypci1, byserial);

		struct memory_v1 m1;
		r = ((mem1_fn)NVML("nvmlDeviceGetMemoryInfo"))(h, &m1);
		if (r == SUCCESS)
			printf("mem %d v1 total=%llu free=%llu used=%llu\n", i, m1.total, m1.free, m1.used);
		else
			printf("mem %d v1 rc=%d\n", i, r);
		struct memory_v2 m2;
		memset(&m2, 0, sizeof m2);
		m2.version = MEMORY_V2_VERSION;
		r = ((mem2_fn)NVML("nvmlDeviceGetMemoryInfo_v2"))(h, &m2);
		if (r == SUCCESS)
			printf("mem %d v2 total=%llu reserved=%llu free=%llu used=%llu\n", i, m2.total,
			       m2.reserved, m2.free, m2.used);
		else
			printf("mem %d v2 rc=%d\n", i, r);
	}
}

/* pids=P,P,... of n entries of size bytes. */
static void print_pids(const unsigned char *entries, unsigned n, size_t size)
{
	printf("pids=");
	for (unsigned k = 0; k < n; k++) {
		unsigned pid;
		memcpy(&pid, entries + k * size, sizeof pid);
		printf("%s%u", k ? "," : "", pid);
	}
	printf("\n");
}

static void procs(void *lib, const char *label, unsigned index, const char *fn, size_t size)
{
	device_t h;
	ret_t r = ((by_index_fn)sym(lib, "nvmlDeviceGetHandleByIndex_v2"))(index, &h);
	if (r != SUCCESS) {
		printf("%s %u %s rc=%d\n", label, index, fn, r);
		return;
	}
	procs_fn f = (procs_fn)sym(lib, fn);
	unsigned need = 0;
	r = f(h, &need, NULL);
	int proto = (r == SUCCESS && need == 0) || (r == INSUFFICIENT_SIZE && need > 0);
	unsigned room = need + 8, n = room;
	unsigned char *buf = calloc(room, size);
	if (!buf)
		exit(1);
	r = f(h, &n, buf);
	if (r == SUCCESS && n > 0) {
		/* One entry too few: INSUFFICIENT_SIZE and the count again. */
		unsigned char *small = calloc(n, size);
		unsigned m = n - 1;
		ret_t r2 = f(h, &m, small);
		proto = proto && r2 == INSUFFICIENT_SIZE && m == n && n == need;
		free(small);
	}
	printf("%s %u %s rc=%d count=%u proto=%s ", label, index, fn, r, n, proto ? "ok" : "bad");
	print_pids(buf, r == SUCCESS ? n : 0, size);
	free(buf);
}

/* The detail list's protocol is the infoCount one, through the list's fields. */
static void detail(void *lib, const char *label, unsigned index, unsigned mode)
{
	typedef ret_t (*list_fn)(device_t, struct process_detail_list *);
	device_t h;
	ret_t r = ((by_index_fn)sym(lib, "nvmlDeviceGetHandleByIndex_v2"))(index, &h);
	if (r != SUCCESS) {
		printf("%s %u %u rc=%d\n", label, index, mode, r);
		return;
	}
	list_fn f = (list_fn)sym(lib, "nvmlDeviceGetRunningProcessDetailList");
	struct process_detail_list l = { DETAIL_LIST_V1_VERSION, mode, 0, NULL };
	r = f(h, &l);
	unsigned need = l.entries;
	int proto = (r == SUCCESS && need == 0) || (r == INSUFFICIENT_SIZE && need > 0);
	unsigned room = need + 8;
	struct process_detail *buf = calloc(room, sizeof *buf);
	if (!buf)
		exit(1);
	l.entries = room;
	l.array = buf;
	r = f(h, &l);
	unsigned n = l.entries;
	if (r == SUCCESS && n > 0) {
		struct process_detail_list small = { DETAIL_LIST_V1_VERSION, mode, n - 1, calloc(n, sizeof *buf) };
		ret_t r2 = f(h, &small);
		proto = proto && r2 == INSUFFICIENT_SIZE && small.entries == n && n == need;
		free(small.array);
	}
	printf("%s %u %u rc=%d count=%u proto=%s ", label, index, mode, r, n, proto ? "ok" : "bad");
	print_pids((const unsigned char *)buf, r == SUCCESS ? n : 0, sizeof *buf);
	free(buf);
}

/* --- lists by count protocols: topology, accounting, utilization --------------------- */

/* One call of a list function: room for *n entries in buf in, how many out. */
struct list_call {
	ret_t (*call)(const struct list_call *c, unsigned *n, void *buf);
	void *lib, *fn;
	device_t device;
	unsigned arg;                /* level, CPU */
	unsigned long long last_seen;
};

/* Runs c by its protocol: asking with 0 (and no buffer), then with room, then (with
 * entries) with one too few.  topology: asking is SUCCESS with the number (NVML's
 * topology rule); else INSUFFICIENT_SIZE with it, or SUCCESS with 0 (NOT_FOUND with 0
 * for samples).  Returns the full call's rc; *buf, *count: its entries. */
static ret_t run_list(const struct list_call *c, size_t size, int topology, unsigned char **buf, unsigned *count,
		      int *proto)
{
	unsigned need = 0;
	ret_t r0 = c->call(c, &need, NULL);
	int ok = topology ? r0 == SUCCESS
			  : ((r0 == SUCCESS || r0 == NOT_FOUND) && need == 0) || (r0 == INSUFFICIENT_SIZE && need > 0);
	unsigned room = need + 8, n = room;
	*buf = calloc(room, size);
	if (!*buf)
		exit(1);
	ret_t r = c->call(c, &n, *buf);
	if (r == SUCCESS)
		ok = ok && n == need;
	if (r == SUCCESS && n > (topology ? 1u : 0u)) {
		unsigned char *small = calloc(n, size);
		unsigned m = n - 1;
		ret_t r2 = c->call(c, &m, small);
		ok = ok && r2 == INSUFFICIENT_SIZE && m == n;
		free(small);
	}
	*count = r == SUCCESS ? n : 0;
	*proto = ok;
	return r;
}

static ret_t call_nearest(const struct list_call *c, unsigned *n, void *buf)
{
	return ((ret_t(*)(device_t, int, unsigned *, device_t *))c->fn)(c->device, (int)c->arg, n, buf);
}

static ret_t call_gpuset(const struct list_call *c, unsigned *n, void *buf)
{
	return ((ret_t(*)(unsigned, unsigned *, device_t *))c->fn)(c->arg, n, buf);
}

static ret_t call_acct(const struct list_call *c, unsigned *n, void *buf)
{
	return ((ret_t(*)(device_t, unsigned *, unsigned *))c->fn)(c->device, n, buf);
}

static ret_t call_util(const struct list_call *c, unsigned *n, void *buf)
{
	return ((ret_t(*)(device_t, void *, unsigned *, unsigned long long))c->fn)(c->device, buf, n, c->last_seen);
}

static ret_t call_utilinfo(const struct list_call *c, unsigned *n, void *buf)
{
	struct utils_info info = { UTILS_INFO_V1_VERSION, *n, c->last_seen, buf };
	ret_t r = ((ret_t(*)(device_t, struct utils_info *))c->fn)(c->device, &info);
	*n = info.count;
	return r;
}

/* Device I of lib: its handle, or NULL after printing "LABEL I rc=R". */
static device_t device_of(void *lib, const char *label, unsigned index)
{
	device_t h = NULL;
	ret_t r = ((by_index_fn)sym(lib, "nvmlDeviceGetHandleByIndex_v2"))(index, &h);
	if (r != SUCCESS) {
		printf("%s %u rc=%d\n", label, index, r);
		return NULL;
	}
	return h;
}

/* nearest:I:LEVEL and gpuset:CPU (device NULL): "idx=" by lib's own nvmlDeviceGetIndex. */
static void handle_list(void *lib, const char *label, device_t device, unsigned index, unsigned arg)
{
	struct list_call c = { device ? call_nearest : call_gpuset, lib,
			       sym(lib, device ? "nvmlDeviceGetTopologyNearestGpus" : "nvmlSystemGetTopologyGpuSet"),
			       device, arg, 0 };
	unsigned char *buf;
	unsigned n;
	int proto;
	ret_t r = run_list(&c, sizeof(device_t), 1, &buf, &n, &proto);
	if (device)
		printf("%s %u %u rc=%d count=%u proto=%s idx=", label, index, arg, r, n, proto ? "ok" : "bad");
	else
		printf("%s %u rc=%d count=%u proto=%s idx=", label, arg, r, n, proto ? "ok" : "bad");
	for (unsigned k = 0; k < n; k++) {
		device_t h;
		unsigned i;
		memcpy(&h, buf + k * sizeof h, sizeof h);
		ret_t ri = ((index_fn)sym(lib, "nvmlDeviceGetIndex"))(h, &i);
		if (ri == SUCCESS)
			printf("%s%u", k ? "," : "", i);
		else
			printf("%src=%d", k ? "," : "", ri);
	}
	printf("\n");
	free(buf);
}

static void acct_list(void *lib, const char *label, unsigned index)
{
	device_t h = device_of(lib, label, index);
	if (!h)
		return;
	struct list_call c = { call_acct, lib, sym(lib, "nvmlDeviceGetAccountingPids"), h, 0, 0 };
	unsigned char *buf;
	unsigned n;
	int proto;
	ret_t r = run_list(&c, sizeof(unsigned), 0, &buf, &n, &proto);
	printf("%s %u rc=%d count=%u proto=%s ", label, index, r, n, proto ? "ok" : "bad");
	print_pids(buf, n, sizeof(unsigned));
	free(buf);
}

/* util:I (info 0) and utilinfo:I (info 1). */
static void util_list(void *lib, const char *label, unsigned index, int info)
{
	device_t h = device_of(lib, label, index);
	if (!h)
		return;
	struct list_call c = { info ? call_utilinfo : call_util, lib,
			       sym(lib, info ? "nvmlDeviceGetProcessesUtilizationInfo" : "nvmlDeviceGetProcessUtilization"),
			       h, 0, 0 };
	size_t size = info ? sizeof(struct util_info) : sizeof(struct util_sample);
	unsigned char *buf;
	unsigned n;
	int proto;
	ret_t r = run_list(&c, size, 0, &buf, &n, &proto);
	int zero = 1, ts = 1;
	unsigned long long newest = 0;
	unsigned pids[256];
	for (unsigned k = 0; k < n && k < 256; k++) {
		unsigned long long t;
		if (info) {
			struct util_info *e = (struct util_info *)(buf + k * size);
			zero = zero && !e->sm && !e->mem && !e->enc && !e->dec && !e->jpg && !e->ofa;
			t = e->time_stamp;
			pids[k] = e->pid;
		} else {
			struct util_sample *e = (struct util_sample *)(buf + k * size);
			zero = zero && !e->sm && !e->mem && !e->enc && !e->dec;
			t = e->time_stamp;
			pids[k] = e->pid;
		}
		ts = ts && t > 0;
		if (t > newest)
			newest = t;
	}
	/* lastSeenTimeStamp an hour after the newest stamp: there is no such sample. */
	c.last_seen = newest + 3600ull * 1000000ull;
	unsigned m = 8;
	unsigned char *again = calloc(m, size);
	ret_t later = c.call(&c, &m, again);
	free(again);
	printf("%s %u rc=%d count=%u proto=%s zero=%s ts=%s later=%d ", label, index, r, n, proto ? "ok" : "bad",
	       zero ? "yes" : "no", ts ? "ok" : "bad", later);
	print_pids((const unsigned char *)pids, n < 256 ? n : 256, sizeof pids[0]);
	free(buf);
}

/* outside:I: the lower's handle of its GPU I, given to the view's functions. */
static void outside(unsigned index)
{
	void *lower = open_lib(&lowernvml, lowernvml_name);
	((noarg_fn)sym(lower, "nvmlInit_v2"))();
	device_t h = device_of(lower, "outside", index);
	if (!h)
		return;
	unsigned i, n = 0;
	ret_t ri = ((index_fn)NVML("nvmlDeviceGetIndex"))(h, &i);
	ret_t rn = ((ret_t(*)(device_t, int, unsigned *, device_t *))NVML("nvmlDeviceGetTopologyNearestGpus"))(h, 50, &n, NULL);
	n = 0;
	ret_t ra = ((ret_t(*)(device_t, unsigned *, unsigned *))NVML("nvmlDeviceGetAccountingPids"))(h, &n, NULL);
	n = 0;
	ret_t ru = ((ret_t(*)(device_t, void *, unsigned *, unsigned long long))NVML("nvmlDeviceGetProcessUtilization"))(
		h, NULL, &n, 0);
	struct utils_info info = { UTILS_INFO_V1_VERSION, 0, 0, NULL };
	ret_t rui = ((ret_t(*)(device_t, struct utils_info *))NVML("nvmlDeviceGetProcessesUtilizationInfo"))(h, &info);
	printf("outside %u index=%d nearest=%d acct=%d util=%d utilinfo=%d\n", index, ri, rn, ra, ru, rui);
}

static void units(void)
{
	unsigned n = 0, count = 4;
	ret_t r = ((count_fn)NVML("nvmlUnitGetCount"))(&n);
	void *unit = NULL;
	if (r == SUCCESS && n > 0)
		((ret_t(*)(unsigned, void **))NVML("nvmlUnitGetHandleByIndex"))(0, &unit);
	device_t devs[4];
	ret_t rd = ((ret_t(*)(void *, unsigned *, device_t *))NVML("nvmlUnitGetDevices"))(unit, &count, devs);
	printf("units rc=%d count=%u devices_rc=%d\n", r, n, rd);
}

/* The lower NVML for lower.* ops, initialised. */
static void *lower_lib(void)
{
	if (!lowernvml_name) {
		fprintf(stderr, "nvmlview: lower.* ops need lowernvml=PATH first\n");
		exit(2);
	}
	void *lib = open_lib(&lowernvml, lowernvml_name);
	((noarg_fn)sym(lib, "nvmlInit_v2"))();
	return lib;
}

static void cuda_devices(void)
{
	ret_t r = ((flags_fn)CUDA("cuInit"))(0);
	if (r != SUCCESS) {
		printf("cuda cuInit rc=%d\n", r);
		return;
	}
	int n = 0;
	((ret_t(*)(int *))CUDA("cuDeviceGetCount"))(&n);
	for (int j = 0; j < n; j++) {
		int dev;
		unsigned char u[16];
		char name[128] = "";
		size_t total = 0;
		((ret_t(*)(int *, int))CUDA("cuDeviceGet"))(&dev, j);
		r = ((ret_t(*)(unsigned char *, int))CUDA("cuDeviceGetUuid"))(u, dev);
		((ret_t(*)(char *, int, int))CUDA("cuDeviceGetName"))(name, (int)sizeof name, dev);
		((ret_t(*)(size_t *, int))CUDA("cuDeviceTotalMem_v2"))(&total, dev);
		printf("cuda %d uuid=GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x "
		       "name=%s total=%zu\n", j, u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		       u[10], u[11], u[12], u[13], u[14], u[15], name, total);
	}
}

static void alloc(int ordinal, unsigned long long bytes)
{
	ret_t r = ((flags_fn)CUDA("cuInit"))(0);
	int dev = 0;
	void *ctx = NULL;
	unsigned long long ptr = 0;
	if (r == SUCCESS)
		r = ((ret_t(*)(int *, int))CUDA("cuDeviceGet"))(&dev, ordinal);
	if (r == SUCCESS)
		r = ((ret_t(*)(void **, int))CUDA("cuDevicePrimaryCtxRetain"))(&ctx, dev);
	if (r == SUCCESS)
		r = ((ret_t(*)(void *))CUDA("cuCtxSetCurrent"))(ctx);
	if (r == SUCCESS)
		r = ((ret_t(*)(unsigned long long *, size_t))CUDA("cuMemAlloc_v2"))(&ptr, (size_t)bytes);
	printf("alloc %d %llu rc=%d\n", ordinal, bytes, r);
}

static void wait_for(const char *file)
{
	for (int i = 0; i < 6000 && access(file, F_OK) != 0; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	static const char *const process_fns[] = {
		"nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetComputeRunningProcesses_v2",
		"nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses",
		"nvmlDeviceGetGraphicsRunningProcesses_v2", "nvmlDeviceGetGraphicsRunningProcesses_v3",
		"nvmlDeviceGetMPSComputeRunningProcesses", "nvmlDeviceGetMPSComputeRunningProcesses_v2",
		"nvmlDeviceGetMPSComputeRunningProcesses_v3",
	};
	for (int i = 1; i < argc; i++) {
		const char *op = argv[i];
		char text[256];
		unsigned a, b;
		if (!strncmp(op, "lowernvml=", 10)) {
			lowernvml_name = op + 10;
		} else if (!strcmp(op, "init")) {
			ret_t r2 = ((noarg_fn)NVML("nvmlInit_v2"))();
			ret_t r1 = ((noarg_fn)NVML("nvmlInit"))();
			ret_t rf = ((flags_fn)NVML("nvmlInitWithFlags"))(0);
			printf("init rc=%d v1=%d flags=%d\n", r2, r1, rf);
		} else if (!strcmp(op, "shutdown")) {
			printf("shutdown rc=%d\n", ((noarg_fn)NVML("nvmlShutdown"))());
		} else if (!strcmp(op, "handles")) {
			int n = count_v2();
			ret_t r = n < 0 ? -n : SUCCESS;
			printf("handles rc=%d ", r);
			for (int k = 0; k < n; k++) {
				device_t h = NULL;
				r = ((by_index_fn)NVML("nvmlDeviceGetHandleByIndex_v2"))((unsigned)k, &h);
				printf("%s%p", k ? "," : "", r == SUCCESS ? h : NULL);
			}
			printf("\n");
		} else if (!strcmp(op, "count")) {
			unsigned n1 = 0;
			ret_t r = ((count_fn)NVML("nvmlDeviceGetCount"))(&n1);
			printf("count v1=%d v2=%d\n", r == SUCCESS ? (int)n1 : -r, count_v2());
		} else if (!strcmp(op, "devices")) {
			devices();
		} else if (sscanf(op, "byindex:%u", &a) == 1) {
			device_t h;
			printf("byindex %u rc=%d\n", a, ((by_index_fn)NVML("nvmlDeviceGetHandleByIndex_v2"))(a, &h));
		} else if (!strncmp(op, "byuuid:", 7)) {
			device_t h = NULL;
			ret_t r = ((by_text_fn)NVML("nvmlDeviceGetHandleByUUID"))(op + 7, &h);
			found(text, sizeof text, r, h);
			printf("byuuid %s rc=%d index=%s\n", op + 7, r, r == SUCCESS ? text : "-");
		} else if (sscanf(op, "uuidlen:%u:%u", &a, &b) == 2 || sscanf(op, "namelen:%u:%u", &a, &b) == 2) {
			int is_uuid = op[0] == 'u';
			device_t h;
			ret_t r = ((by_index_fn)NVML("nvmlDeviceGetHandleByIndex_v2"))(a, &h);
			if (r == SUCCESS)
				r = ((string_fn)NVML(is_uuid ? "nvmlDeviceGetUUID" : "nvmlDeviceGetName"))(h, text, b);
			printf("%s %u %u rc=%d\n", is_uuid ? "uuidlen" : "namelen", a, b, r);
		} else if (!strcmp(op, "lower.uuids")) {
			if (!lowernvml_name) {
				fprintf(stderr, "nvmlview: lower.uuids needs lowernvml=PATH first\n");
				return 2;
			}
			void *lib = open_lib(&lowernvml, lowernvml_name);
			((noarg_fn)sym(lib, "nvmlInit_v2"))();
			unsigned n = 0;
			((count_fn)sym(lib, "nvmlDeviceGetCount_v2"))(&n);
			for (unsigned k = 0; k < n; k++) {
				device_t h;
				char u[96] = "";
				((by_index_fn)sym(lib, "nvmlDeviceGetHandleByIndex_v2"))(k, &h);
				((string_fn)sym(lib, "nvmlDeviceGetUUID"))(h, u, sizeof u);
				printf("lower.uuid %u %s\n", k, u);
			}
		} else if (sscanf(op, "procs:%u", &a) == 1) {
			for (size_t k = 0; k < sizeof process_fns / sizeof process_fns[0]; k++)
				procs(open_lib(&nvml, "libnvidia-ml.so.1"), "procs", a, process_fns[k],
				      k % 3 == 0 ? sizeof(struct process_v1) : sizeof(struct process_v2));
		} else if (sscanf(op, "lower.procs:%u", &a) == 1) {
			if (!lowernvml_name) {
				fprintf(stderr, "nvmlview: lower.procs needs lowernvml=PATH first\n");
				return 2;
			}
			void *lib = open_lib(&lowernvml, lowernvml_name);
			((noarg_fn)sym(lib, "nvmlInit_v2"))();
			procs(lib, "lower.procs", a, "nvmlDeviceGetComputeRunningProcesses_v3",
			      sizeof(struct process_v2));
		} else if (sscanf(op, "detail:%u", &a) == 1) {
			for (unsigned mode = 0; mode < 3; mode++)
				detail(open_lib(&nvml, "libnvidia-ml.so.1"), "detail", a, mode);
		} else if (sscanf(op, "lower.detail:%u", &a) == 1) {
			if (!lowernvml_name) {
				fprintf(stderr, "nvmlview: lower.detail needs lowernvml=PATH first\n");
				return 2;
			}
			void *lib = open_lib(&lowernvml, lowernvml_name);
			((noarg_fn)sym(lib, "nvmlInit_v2"))();
			detail(lib, "lower.detail", a, 0);
		} else if (sscanf(op, "nearest:%u:%u", &a, &b) == 2 || sscanf(op, "lower.nearest:%u:%u", &a, &b) == 2) {
			int low = op[0] == 'l';
			void *lib = low ? lower_lib() : open_lib(&nvml, "libnvidia-ml.so.1");
			device_t h = device_of(lib, low ? "lower.nearest" : "nearest", a);
			if (h)
				handle_list(lib, low ? "lower.nearest" : "nearest", h, a, b);
		} else if (sscanf(op, "gpuset:%u", &a) == 1 || sscanf(op, "lower.gpuset:%u", &a) == 1) {
			int low = op[0] == 'l';
			handle_list(low ? lower_lib() : open_lib(&nvml, "libnvidia-ml.so.1"), low ? "lower.gpuset" : "gpuset",
				    NULL, 0, a);
		} else if (sscanf(op, "acct:%u", &a) == 1 || sscanf(op, "lower.acct:%u", &a) == 1) {
			int low = op[0] == 'l';
			acct_list(low ? lower_lib() : open_lib(&nvml, "libnvidia-ml.so.1"), low ? "lower.acct" : "acct", a);
		} else if (sscanf(op, "util:%u", &a) == 1 || sscanf(op, "lower.util:%u", &a) == 1) {
			int low = op[0] == 'l';
			util_list(low ? lower_lib() : open_lib(&nvml, "libnvidia-ml.so.1"), low ? "lower.util" : "util", a, 0);
		} else if (sscanf(op, "utilinfo:%u", &a) == 1 || sscanf(op, "lower.utilinfo:%u", &a) == 1) {
			int low = op[0] == 'l';
			util_list(low ? lower_lib() : open_lib(&nvml, "libnvidia-ml.so.1"), low ? "lower.utilinfo" : "utilinfo",
				  a, 1);
		} else if (sscanf(op, "outside:%u", &a) == 1) {
			lower_lib();
			outside(a);
		} else if (!strcmp(op, "units")) {
			units();
		} else if (!strcmp(op, "cuda")) {
			cuda_devices();
		} else if (!strncmp(op, "alloc:", 6)) {
			int ord;
			unsigned long long bytes;
			if (sscanf(op, "alloc:%d:%llu", &ord, &bytes) != 2) {
				fprintf(stderr, "nvmlview: bad op %s\n", op);
				return 2;
			}
			alloc(ord, bytes);
		} else if (!strcmp(op, "pid")) {
			printf("pid %d\n", (int)getpid());
		} else if (!strncmp(op, "ready:", 6)) {
			int fd = open(op + 6, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
			if (fd >= 0)
				close(fd);
		} else if (!strncmp(op, "hold:", 5)) {
			wait_for(op + 5);
		} else {
			fprintf(stderr, "nvmlview: unknown op %s\n", op);
			return 2;
		}
	}
	return 0;
}

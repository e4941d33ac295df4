/* cuGetProcAddress and cuGetProcAddress_v2 (cudart-on-a-software-driver.md section 2).
 *
 * The variant table says which exported symbol serves (base name, version, class).  It
 * is the data file emulator/data/procaddr.tsv (made from the toolkit's headers by
 * tools/procaddr_table.py), embedded here by the compiler (#embed: the build tracks it
 * like a header) and read on the first lookup.  The symbol is looked up in this library
 * itself: dlsym on our own handle (found with dladdr on one of our functions and
 * dlopen RTLD_NOLOAD), never RTLD_DEFAULT, which would find another libcuda loaded
 * before us.
 *
 * What nobody implemented is reported as not found (status 1, NULL), never handed out.
 * The export surface holds a generated stub for every name of the real driver
 * (tools/gen_stubs.c): weak definitions that return CUDA_ERROR_NOT_SUPPORTED, which an
 * implementation overrides with a strong one.  So a symbol whose dynamic symbol table
 * entry is still STB_WEAK is a stub: cudart must see NULL for it (it then answers 36,
 * "call requires newer driver", only for the calls that need it), not a pointer it
 * would take as an implementation.  The binding is read with dladdr1(RTLD_DL_SYMENT).
 * Exported functions of this library must therefore never be defined weak on purpose.
 *
 * Per-thread-stream variants (_ptds/_ptsz) that are not implemented fall back to the
 * default-stream symbol of the same version when that one is: the emulator runs
 * every stream's work in order anyway, so NULL-as-per-thread-stream and
 * NULL-as-legacy-stream behave alike. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emulator/cuda/core.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wc23-extensions"
static const char procaddr_tsv[] = {
#embed "emulator/data/procaddr.tsv"
	, 0
};
#pragma GCC diagnostic pop

struct variant {
	const char *base;    /* what callers ask for: "cuMemAlloc" */
	int version;         /* introduced in: 1000 * major + 10 * minor */
	int per_thread;      /* 1: the _ptds/_ptsz class */
	const char *symbol;  /* the exported function: "cuMemAlloc_v2" */
	void *resolved;      /* 0 unknown, 1 not found, else the address */
};

/* Sorted by base (strcmp), then class (default first), then version. */
static struct variant *variants;
static unsigned nvariants;

static int variant_cmp(const void *a, const void *b)
{
	const struct variant *x = a, *y = b;
	int c = strcmp(x->base, y->base);
	if (c)
		return c;
	if (x->per_thread != y->per_thread)
		return x->per_thread - y->per_thread;
	return (x->version > y->version) - (x->version < y->version);
}

/* BASE <tab> VERSION <tab> default|per-thread <tab> SYMBOL lines; '#' comments. */
static int table_load(void)
{
	char *text = strdup(procaddr_tsv);
	unsigned cap = 1;
	for (const char *p = procaddr_tsv; *p; p++)
		cap += *p == '\n';
	variants = calloc(cap, sizeof *variants);
	if (!text || !variants)
		return -1;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *f[4], *s2 = NULL;
		int k = 0;
		for (char *t = strtok_r(line, "\t", &s2); t && k < 4; t = strtok_r(NULL, "\t", &s2))
			f[k++] = t;
		if (k != 4 || nvariants >= cap)
			return -1;
		struct variant *v = &variants[nvariants++];
		v->base = f[0];
		v->version = atoi(f[1]);
		v->per_thread = strcmp(f[2], "per-thread") == 0;
		v->symbol = f[3];
	}
	qsort(variants, nvariants, sizeof *variants, variant_cmp);
	return nvariants ? 0 : -1;
}

static void *self;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_open(void)
{
	Dl_info info;
	if (dladdr((void *)&self_open, &info) && info.dli_fname)
		self = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
	if (!self) {
		static const char msg[] = "vgpu emulator: cannot find its own library; cuGetProcAddress finds nothing\n";
		(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
	}
	if (table_load() != 0) {
		nvariants = 0;
		static const char msg[] = "vgpu emulator: cannot read its cuGetProcAddress table; cuGetProcAddress finds nothing\n";
		(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
	}
}

/* An implemented function of ours named name, or NULL. */
static void *implemented(const char *name)
{
	if (!self)
		return NULL;
	void *p = dlsym(self, name);
	if (!p)
		return NULL;
	Dl_info info;
	const ElfW(Sym) *sym = NULL;
	if (!dladdr1(p, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym)
		return NULL;
	if (ELF64_ST_BIND(sym->st_info) == STB_WEAK)
		return NULL; /* a generated stub */
	return p;
}

static void *resolve_variant(unsigned i)
{
	struct variant *v = &variants[i];
	void *p = __atomic_load_n(&v->resolved, __ATOMIC_ACQUIRE);
	if (p)
		return p == (void *)1 ? NULL : p;
	p = implemented(v->symbol);
	if (!p && v->per_thread) {
		/* cuMemcpyHtoD_v2_ptds -> cuMemcpyHtoD_v2 */
		char plain[160];
		size_t n = strlen(v->symbol);
		if (n > 5 && n - 5 < sizeof plain) {
			memcpy(plain, v->symbol, n - 5);
			plain[n - 5] = '\0';
			p = implemented(plain);
		}
	}
	__atomic_store_n(&v->resolved, p ? p : (void *)1, __ATOMIC_RELEASE);
	return p;
}

/* First variant of base, or -1. */
static int find_base(const char *base)
{
	unsigned lo = 0, hi = nvariants;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (strcmp(variants[mid].base, base) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nvariants && strcmp(variants[lo].base, base) == 0 ? (int)lo : -1;
}

/* rc as cuGetProcAddress_v2 returns it; *status and *pfn set when rc is 0. */
static CUresult lookup(const char *symbol, void **pfn, int version, cuuint64_t flags,
		       CUdriverProcAddressQueryResult *status)
{
	if (!symbol || !pfn)
		return CUDA_ERROR_INVALID_VALUE;
	if (flags & ~(cuuint64_t)(CU_GET_PROC_ADDRESS_LEGACY_STREAM |
				  CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM))
		return CUDA_ERROR_INVALID_VALUE;
	if (version > emu_config()->driver_version)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_once(&self_once, self_open);
	*pfn = NULL;
	*status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
	int first = find_base(symbol);
	if (first < 0)
		return CUDA_SUCCESS;
	unsigned end = (unsigned)first;
	int has_per_thread = 0;
	while (end < nvariants && strcmp(variants[end].base, symbol) == 0) {
		has_per_thread |= variants[end].per_thread;
		end++;
	}
	int want_per_thread = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) && has_per_thread;
	int best = -1;
	for (unsigned i = (unsigned)first; i < end; i++)
		if (variants[i].per_thread == want_per_thread &&
		    variants[i].version <= version)
			best = (int)i; /* sorted by version: the last one that fits */
	if (best < 0) {
		*status = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
		return CUDA_SUCCESS;
	}
	void *p = resolve_variant((unsigned)best);
	if (p) {
		*pfn = p;
		*status = CU_GET_PROC_ADDRESS_SUCCESS;
	}
	return CUDA_SUCCESS;
}

EMU_API CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
				     cuuint64_t flags, CUdriverProcAddressQueryResult *symbolStatus)
{
	CUdriverProcAddressQueryResult status;
	CUresult r = lookup(symbol, pfn, cudaVersion, flags, &status);
	if (r == CUDA_SUCCESS && symbolStatus)
		*symbolStatus = status;
	return r;
}

EMU_API CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion,
				  cuuint64_t flags)
{
	/* The v1 entry point leaves *pfn alone when it finds nothing. */
	CUdriverProcAddressQueryResult status;
	void *p = NULL;
	CUresult r = lookup(symbol, pfn ? &p : NULL, cudaVersion, flags, &status);
	if (r != CUDA_SUCCESS)
		return r;
	if (status != CU_GET_PROC_ADDRESS_SUCCESS)
		return CUDA_ERROR_NOT_FOUND;
	*pfn = p;
	return CUDA_SUCCESS;
}

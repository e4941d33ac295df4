#include "shim/common/shim.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim/common/physical_gpus.h"
#include "shim/common/runtime_dir.h"

#define SAY_MAX 1024
#define WHY_MAX (POLICY_ERROR_MAX + PATH_MAX + 256)

void shim_say(const struct shim_lib *l, const char *fmt, ...)
{
	char line[SAY_MAX];
	int n = snprintf(line, sizeof line, "vgpu shim (%s): ", l->soname);
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t len = strlen(line);
	for (size_t i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	if (len == sizeof line - 1)
		len--; /* truncated: keep room for the newline */
	line[len++] = '\n';
	(void)!write(STDERR_FILENO, line, len);
}

int shim_slot(const struct shim_lib *l, const char *name)
{
	return forward_slot(l->fwd, name);
}

void *const *shim_lower_where(const struct shim_lib *l, const char *name, void *const **cache)
{
	static void *const none = NULL;
	int i = shim_slot(l, name);
	void *const *w = i < 0 ? &none : &l->fwd->lower[i];
	__atomic_store_n(cache, w, __ATOMIC_RELAXED);
	return w;
}

void *shim_lower_fn(const struct shim_lib *l, const char *name)
{
	if (__atomic_load_n(&l->state, __ATOMIC_ACQUIRE) != SHIM_READY)
		return NULL;
	int i = shim_slot(l, name);
	return i < 0 ? NULL : l->fwd->lower[i];
}

/* --- start-up ----------------------------------------------------------------------- */

/* The accounting region: the launcher's header checked, the whole file mapped shared.
 * Its content beyond the header belongs to the memory caps (later). */
static int map_accounting(struct shim_lib *l, char *why, size_t whylen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/" ACCOUNTING_FILE, l->run_dir);
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	struct accounting_header h;
	int rc = -1;
	if (fstat(fd, &st) != 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s: not a regular file", path);
	} else if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
		snprintf(why, whylen, "%s: shorter than its header (%lld bytes)", path,
			 (long long)st.st_size);
	} else if (h.magic != ACCOUNTING_MAGIC) {
		snprintf(why, whylen, "%s: not an accounting region (magic 0x%016" PRIx64
			 ", expected 0x%016" PRIx64 ")", path, h.magic, (uint64_t)ACCOUNTING_MAGIC);
	} else if (h.version != ACCOUNTING_VERSION) {
		snprintf(why, whylen, "%s: accounting format %u, this shim knows %u (a vgpu-run of "
			 "another version made it)", path, h.version, ACCOUNTING_VERSION);
	} else if (h.region_size < sizeof h || h.region_size != (uint64_t)st.st_size) {
		snprintf(why, whylen, "%s: its header says %" PRIu64 " bytes, the file has %lld",
			 path, h.region_size, (long long)st.st_size);
	} else if (h.ngpus != l->policy.ngpus) {
		snprintf(why, whylen, "%s: made for %u GPUs, but the policy lists %u", path,
			 h.ngpus, l->policy.ngpus);
	} else {
		void *m = mmap(NULL, (size_t)h.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			snprintf(why, whylen, "%s: cannot map it: %s", path, strerror(errno));
		} else {
			l->accounting = m;
			l->accounting_size = (size_t)h.region_size;
			rc = 0;
		}
	}
	close(fd);
	return rc;
}

/* This very library: its link map, and a handle for dlsym in its own scope (what a
 * name resolves to here, whatever the program or other libraries define).  The
 * handle keeps the library loaded, as the lower driver stays loaded: pointers into
 * both are handed out. */
static void *self_handle(struct link_map **lm, char *why, size_t whylen)
{
	Dl_info info;
	*lm = NULL;
	if (!dladdr1((void *)&shim_ensure, &info, (void **)lm, RTLD_DL_LINKMAP) || !*lm) {
		snprintf(why, whylen, "cannot find the shim's own file in the link map");
		return NULL;
	}
	void *h = dlopen((*lm)->l_name, RTLD_LAZY | RTLD_NOLOAD);
	if (!h) {
		const char *e = dlerror();
		snprintf(why, whylen, "cannot open the shim itself (%s): %s", (*lm)->l_name,
			 e ? e : "unknown error");
	}
	return h;
}

static void set_own(struct shim_forwarding *f, unsigned slot, void *fn)
{
	if (!f->own[slot]) {
		f->own[slot] = fn;
		f->intercepted[f->nintercepted++] = slot;
	}
}

/* Which exported names the shim defines itself: the GLOBAL (strong) function
 * definitions of its own .dynsym, where every forwarder is WEAK.  One pass over the
 * symbol table (DT_HASH gives its length) instead of a dlsym per name; each find is
 * checked with dlsym.  Returns -1 when the table cannot be read this way (the caller
 * then asks dlsym for every name). */
static int find_own_in_dynsym(struct shim_lib *l, struct link_map *lm, void *self)
{
	struct shim_forwarding *f = l->fwd;
	const ElfW(Sym) *symtab = NULL;
	const char *strtab = NULL;
	const ElfW(Word) *hash = NULL;
	for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
		/* glibc relocates these in place on x86-64; an offset is relative to the base. */
		ElfW(Addr) a = d->d_un.d_ptr;
		if (a < lm->l_addr)
			a += lm->l_addr;
		if (d->d_tag == DT_SYMTAB)
			symtab = (const void *)a;
		else if (d->d_tag == DT_STRTAB)
			strtab = (const void *)a;
		else if (d->d_tag == DT_HASH)
			hash = (const void *)a;
	}
	if (!symtab || !strtab || !hash)
		return -1;
	ElfW(Word) nsyms = hash[1]; /* nchain: the number of symbols */
	for (ElfW(Word) i = 1; i < nsyms; i++) {
		const ElfW(Sym) *s = &symtab[i];
		if (ELF64_ST_BIND(s->st_info) != STB_GLOBAL || s->st_shndx == SHN_UNDEF ||
		    ELF64_ST_TYPE(s->st_info) != STT_FUNC)
			continue;
		int slot = shim_slot(l, strtab + s->st_name);
		if (slot < 0)
			continue;
		void *fn = (void *)(lm->l_addr + s->st_value);
		if (dlsym(self, f->names[slot]) != fn)
			return -1;
		set_own(f, (unsigned)slot, fn);
	}
	return 0;
}

static int start(struct shim_lib *l, char *why, size_t whylen)
{
	struct shim_forwarding *f = l->fwd;
	char path[PATH_MAX + 32];

	if (runtime_dir_find(l->run_dir, sizeof l->run_dir) != 0) {
		snprintf(why, whylen, "no vgpu runtime dir (/proc/self/mountinfo lists no tmpfs "
			 "tagged \"vgpu\")");
		return -1;
	}

	char err[POLICY_ERROR_MAX];
	snprintf(path, sizeof path, "%s/policy", l->run_dir);
	if (policy_read_canonical(&l->policy, path, err, sizeof err) != 0) {
		snprintf(why, whylen, "%s", err);
		return -1;
	}
	if (policy_check(&l->policy, err, sizeof err) != 0) {
		snprintf(why, whylen, "%s: %s", path, err);
		return -1;
	}

	if (vdev_build(&l->vdevs, &l->policy, PHYSICAL_GPUS_DIR, err, sizeof err) != 0) {
		snprintf(why, whylen, "%s: %s", path, err);
		return -1;
	}

	if (map_accounting(l, why, whylen) != 0)
		return -1;
	if (accounting_attach(&l->acct, l->accounting, l->accounting_size) != 0) {
		snprintf(why, whylen, "%s/" ACCOUNTING_FILE ": too small to hold a process's share",
			 l->run_dir);
		goto unmap;
	}
	/* Shares of processes that died since the last look: their bytes are free again.
	 * Here (once per process and library) and at the cap, never on the hot path. */
	accounting_reclaim_dead(&l->acct);

	struct link_map *lm;
	void *self = self_handle(&lm, why, whylen);
	if (!self)
		goto unmap;

	snprintf(l->lower_path, sizeof l->lower_path, "%s/" RUNTIME_LOWER_FILE_PREFIX "%s", l->run_dir,
		 l->soname);
	l->lower = dlopen(l->lower_path, RTLD_NOW | RTLD_LOCAL);
	if (!l->lower) {
		const char *e = dlerror();
		snprintf(why, whylen, "cannot load the lower driver: %s", e ? e : l->lower_path);
		dlclose(self);
		goto unmap;
	}

	/* The shim's own functions, then every slot: the lower driver's function. */
	if (find_own_in_dynsym(l, lm, self) != 0) {
		for (unsigned k = 0; k < f->nintercepted; k++)
			f->own[f->intercepted[k]] = NULL;
		f->nintercepted = 0;
		for (unsigned i = 0; i < f->count; i++) {
			void *mine = dlsym(self, f->names[i]);
			if (mine && mine != f->forwarders[i])
				set_own(f, i, mine);
		}
	}
	for (unsigned i = 0; i < f->count; i++)
		f->lower[i] = dlsym(l->lower, f->names[i]);
	/* Tracing and faults: a slot they concern leads through its hook thunk
	 * (docs/tracing.md, docs/faults.md), even one the lower lacks. */
	int hooks = hook_start(l, why, whylen);
	if (hooks < 0)
		goto unmap;
	/* A name the lower lacks keeps its lazy stub: shim_resolve says it once. */
	for (unsigned i = 0; i < f->count; i++) {
		if (hooks == 0 && hook_slot_hooked(l, i))
			__atomic_store_n(&f->table[i], f->hooks[i], __ATOMIC_RELEASE);
		else if (f->lower[i])
			__atomic_store_n(&f->table[i], f->lower[i], __ATOMIC_RELEASE);
	}
	return 0;

unmap:
	munmap(l->accounting, l->accounting_size);
	l->accounting = NULL;
	l->accounting_size = 0;
	return -1;
}

static void *error_fn(const struct shim_lib *l, unsigned slot)
{
	const struct shim_error_override *o = l->overrides;
	for (; o && o->name; o++)
		if (strcmp(o->name, l->fwd->names[slot]) == 0)
			return o->fn;
	return l->uninit_fn;
}

static void enter_error_mode(struct shim_lib *l, const char *why)
{
	shim_say(l, "%s; is this process running under vgpu-run? Every %s call returns %s",
		 why, l->api, l->uninit_text);
	for (unsigned i = 0; i < l->fwd->count; i++)
		__atomic_store_n(&l->fwd->table[i], error_fn(l, i), __ATOMIC_RELEASE);
}

int shim_ensure(struct shim_lib *l)
{
	int s = __atomic_load_n(&l->state, __ATOMIC_ACQUIRE);
	if (s != SHIM_UNSTARTED)
		return s;
	/* Start-up calling back into this library (a lower driver's constructor, say)
	 * must not wait for itself. */
	if (__atomic_load_n(&l->starting, __ATOMIC_ACQUIRE) &&
	    pthread_equal(l->starter, pthread_self()))
		return SHIM_STARTING;

	pthread_mutex_lock(&l->lock);
	if (__atomic_load_n(&l->state, __ATOMIC_ACQUIRE) == SHIM_UNSTARTED) {
		static char why[WHY_MAX]; /* under the lock; no big stack frame */
		l->starter = pthread_self();
		__atomic_store_n(&l->starting, 1, __ATOMIC_RELEASE);
		why[0] = '\0';
		int rc = start(l, why, sizeof why);
		if (rc != 0)
			enter_error_mode(l, why);
		__atomic_store_n(&l->starting, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&l->state, rc == 0 ? SHIM_READY : SHIM_FAILED, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&l->lock);
	return __atomic_load_n(&l->state, __ATOMIC_ACQUIRE);
}

void *shim_resolve(struct shim_lib *l, unsigned slot)
{
	struct shim_forwarding *f = l->fwd;
	if (slot >= f->count) /* cannot happen: the stubs are generated with the table */
		return l->uninit_fn;
	if (shim_ensure(l) != SHIM_READY)
		return error_fn(l, slot);
	if (__atomic_load_n(&l->hook.on, __ATOMIC_ACQUIRE) && hook_slot_hooked(l, slot))
		return f->hooks[slot];
	return shim_target(l, slot);
}

void *shim_target(struct shim_lib *l, unsigned slot)
{
	struct shim_forwarding *f = l->fwd;
	if (f->lower[slot])
		return f->lower[slot];
	if (__atomic_exchange_n(&f->said[slot], 1, __ATOMIC_RELAXED) == 0)
		shim_say(l, "%s is not in the lower driver %s; it returns %s", f->names[slot],
			 l->lower_path, l->unsupported_text);
	return l->unsupported_fn;
}

/* Modules and libraries: images are parsed for what they declare (kernels with their
 * parameters, registers and shared memory; global and constant variables), since the
 * emulator runs none of their code.
 *
 * Images: nvcc's fatbin wrapper {0x466243b1, version, fatbin, ...}; fatbins (0xba55ed50:
 * entries of ELF cubins and PTX, raw, LZ4- or zstd-compressed; zstd through the system's
 * libzstd.so.1 when there is one); ELF cubins (kernels are STT_FUNC symbols marked as
 * entries, parameters from .nv.info.<kernel>'s EIATTR_KPARAM_INFO); PTX text (.entry
 * declarations).  No image is ever rejected (the cudart contract, trap 5): one that
 * cannot be read loads with nothing listed, and then any kernel name asked for is taken
 * to exist (its parameters unknown), so programs whose kernels hide in compressed code
 * still get their handles.
 *
 * CUfunction and CUkernel are the same object (struct emu_function in mem_internal.h),
 * so either handle is accepted wherever the other is.  A library owns one module that
 * belongs to no context; a module loaded with cuModuleLoad* belongs to the current
 * context and goes with it. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/cuda/mem_internal.h"

#define MODULE_MAGIC 0x4d4f444cU   /* "MODL" */
#define FUNCTION_MAGIC 0x46554e43U /* "FUNC" */
#define LIBRARY_MAGIC 0x4c494252U  /* "LIBR" */

#define WRAPPER_MAGIC 0x466243b1U
#define FATBIN_MAGIC 0xba55ed50U
#define FATBIN_KIND_PTX 1
#define FATBIN_KIND_ELF 2
#define FATBIN_FLAG_LZ4 0x2000
#define FATBIN_FLAG_ZSTD 0x8000

/* Largest image we read (a sanity bound: real ones are megabytes). */
#define IMAGE_MAX (1ULL << 32)

struct emu_global {
	char *name;
	uint64_t size;
	unsigned char *init; /* initial bytes (NULL: zeros) */
	CUdeviceptr dptr;    /* device storage, made on first request */
};

struct emu_module {
	uint32_t magic;
	CUcontext ctx;            /* NULL: owned by a library */
	struct emu_library *lib;
	int lenient;              /* the image could not be read: any kernel name exists */
	struct emu_function **funcs;
	size_t nfuncs, capfuncs;
	struct emu_function **index; /* by name hash, open addressing: cuBLAS has thousands */
	size_t index_cap;
	struct emu_global *globals;
	size_t nglobals, capglobals;
};

struct emu_library {
	uint32_t magic;
	struct emu_module *module;
};

static pthread_mutex_t module_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct emu_handle_set modules, functions, libraries;

void emu_modules_lock(void)
{
	pthread_mutex_lock(&module_mutex);
}

void emu_modules_unlock(void)
{
	pthread_mutex_unlock(&module_mutex);
}

struct emu_function *emu_function_lookup(const void *handle)
{
	pthread_mutex_lock(&module_mutex);
	struct emu_function *f = emu_hset_has(&functions, handle) ? (struct emu_function *)handle : NULL;
	pthread_mutex_unlock(&module_mutex);
	return f;
}

/* --- building a module -------------------------------------------------------------------- */

static uint64_t name_hash(const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void index_put(struct emu_function **index, size_t cap, struct emu_function *f)
{
	size_t i = (size_t)name_hash(f->name, strlen(f->name)) & (cap - 1);
	while (index[i])
		i = (i + 1) & (cap - 1);
	index[i] = f;
}

static struct emu_function *module_function(struct emu_module *m, const char *name, size_t len)
{
	if (!m->index_cap)
		return NULL;
	size_t i = (size_t)name_hash(name, len) & (m->index_cap - 1);
	for (struct emu_function *f; (f = m->index[i]); i = (i + 1) & (m->index_cap - 1))
		if (strlen(f->name) == len && memcmp(f->name, name, len) == 0)
			return f;
	return NULL;
}

/* The function called name (len bytes), added when new.  NULL: out of memory. */
static struct emu_function *add_function(struct emu_module *m, const char *name, size_t len)
{
	struct emu_function *f = module_function(m, name, len);
	if (f)
		return f;
	if (m->nfuncs == m->capfuncs) {
		size_t cap = m->capfuncs ? m->capfuncs * 2 : 16;
		struct emu_function **v = realloc(m->funcs, cap * sizeof *v);
		if (!v)
			return NULL;
		m->funcs = v;
		m->capfuncs = cap;
	}
	if ((m->nfuncs + 1) * 2 > m->index_cap) {
		size_t cap = m->index_cap ? m->index_cap * 2 : 32;
		struct emu_function **index = calloc(cap, sizeof *index);
		if (!index)
			return NULL;
		for (size_t i = 0; i < m->nfuncs; i++)
			index_put(index, cap, m->funcs[i]);
		free(m->index);
		m->index = index;
		m->index_cap = cap;
	}
	f = calloc(1, sizeof *f);
	if (!f || !(f->name = strndup(name, len))) {
		free(f);
		return NULL;
	}
	f->magic = FUNCTION_MAGIC;
	f->module = m;
	f->nparams = -1;
	f->attr_carveout = -1;
	f->attr_max_dynamic_shared = -1;
	m->funcs[m->nfuncs++] = f;
	index_put(m->index, m->index_cap, f);
	return f;
}

static struct emu_global *module_global(struct emu_module *m, const char *name)
{
	for (size_t i = 0; i < m->nglobals; i++)
		if (strcmp(m->globals[i].name, name) == 0)
			return &m->globals[i];
	return NULL;
}

static void add_global(struct emu_module *m, const char *name, size_t len, uint64_t size, const void *init)
{
	if (size == 0 || size > (1ULL << 34))
		return;
	for (size_t i = 0; i < m->nglobals; i++)
		if (strlen(m->globals[i].name) == len && memcmp(m->globals[i].name, name, len) == 0)
			return;
	if (m->nglobals == m->capglobals) {
		size_t cap = m->capglobals ? m->capglobals * 2 : 16;
		struct emu_global *v = realloc(m->globals, cap * sizeof *v);
		if (!v)
			return;
		m->globals = v;
		m->capglobals = cap;
	}
	struct emu_global *g = &m->globals[m->nglobals];
	memset(g, 0, sizeof *g);
	if (!(g->name = strndup(name, len)))
		return;
	g->size = size;
	if (init && (g->init = malloc(size)))
		memcpy(g->init, init, size);
	m->nglobals++;
}

static void set_params(struct emu_function *f, struct emu_param *params, int n, uint32_t bytes)
{
	free(f->params);
	f->params = params;
	f->nparams = n;
	f->param_bytes = bytes;
}

/* --- ELF cubins ----------------------------------------------------------------------------- */

static uint16_t rd16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

struct elf_section {
	uint32_t name, type;
	uint64_t offset, size;
	uint32_t link;
};

/* The size of an ELF image from its headers (0: not a 64-bit ELF). */
static uint64_t elf_size(const unsigned char *d)
{
	if (memcmp(d, "\177ELF", 4) != 0 || d[4] != 2)
		return 0;
	uint64_t shoff = rd64(d + 0x28);
	uint16_t shentsize = rd16(d + 0x3a), shnum = rd16(d + 0x3c);
	uint64_t end = shoff + (uint64_t)shentsize * shnum;
	if (shentsize < 64 || end > IMAGE_MAX)
		return 0;
	for (uint16_t i = 0; i < shnum; i++) {
		const unsigned char *s = d + shoff + (uint64_t)i * shentsize;
		uint32_t type = rd32(s + 4);
		uint64_t off = rd64(s + 0x18), size = rd64(s + 0x20);
		if (type != 8 /* SHT_NOBITS */ && off + size > end && off + size <= IMAGE_MAX)
			end = off + size;
	}
	return end;
}

static const char *sec_name(const unsigned char *d, uint64_t len, const struct elf_section *shstr, uint32_t off)
{
	if (!shstr || off >= shstr->size)
		return "";
	const char *s = (const char *)d + shstr->offset + off;
	if (!memchr(s, 0, shstr->size - off))
		return "";
	return s;
}

/* EIATTR codes used here. */
#define EIATTR_MAX_THREADS 0x05
#define EIATTR_FRAME_SIZE 0x11
#define EIATTR_KPARAM_INFO 0x17
#define EIATTR_CBANK_PARAM_SIZE 0x19
#define EIATTR_REGCOUNT 0x2f
#define EIFMT_SVAL 0x04

/* Walks an .nv.info section: cb(attr, payload, payload_len). */
static void nv_info(const unsigned char *p, uint64_t len,
		    void (*cb)(void *, unsigned, const unsigned char *, uint32_t), void *arg)
{
	uint64_t o = 0;
	while (o + 4 <= len) {
		unsigned fmt = p[o], attr = p[o + 1];
		if (fmt == EIFMT_SVAL) {
			uint32_t sz = rd16(p + o + 2);
			if (o + 4 + sz > len)
				return;
			cb(arg, attr, p + o + 4, sz);
			o += 4 + sz;
		} else {
			cb(arg, attr, p + o + 2, 2);
			o += 4;
		}
	}
}

struct kinfo {
	struct emu_param params[1024];
	int n;
	uint32_t bytes;
	int max_threads;
};

static void kernel_info_cb(void *arg, unsigned attr, const unsigned char *pl, uint32_t len)
{
	struct kinfo *k = arg;
	if (attr == EIATTR_KPARAM_INFO && len >= 12) {
		unsigned ordinal = rd16(pl + 4), offset = rd16(pl + 6);
		uint32_t size = (rd32(pl + 8) >> 18) & 0x3fff;
		if (ordinal < 1024) {
			k->params[ordinal].offset = offset;
			k->params[ordinal].size = size;
			if ((int)ordinal + 1 > k->n)
				k->n = (int)ordinal + 1;
		}
	} else if (attr == EIATTR_CBANK_PARAM_SIZE && len >= 2) {
		k->bytes = rd16(pl);
	} else if (attr == EIATTR_MAX_THREADS && len >= 12) {
		uint64_t t = (uint64_t)rd32(pl) * rd32(pl + 4) * rd32(pl + 8);
		if (t && t <= 1024)
			k->max_threads = (int)t;
	}
}

struct ginfo {
	const unsigned char *sym; /* the symbol table */
	uint64_t nsyms;
	struct emu_module *m;
	const unsigned char *d;
	uint64_t len;
	const struct elf_section *strtab;
};

static struct emu_function *function_of_symbol(struct ginfo *g, uint32_t index)
{
	if (index >= g->nsyms || !g->strtab)
		return NULL;
	uint32_t name = rd32(g->sym + (uint64_t)index * 24);
	if (name >= g->strtab->size)
		return NULL;
	const char *s = (const char *)g->d + g->strtab->offset + name;
	size_t n = strnlen(s, g->strtab->size - name);
	return module_function(g->m, s, n);
}

static void global_info_cb(void *arg, unsigned attr, const unsigned char *pl, uint32_t len)
{
	struct ginfo *g = arg;
	if ((attr != EIATTR_REGCOUNT && attr != EIATTR_FRAME_SIZE) || len < 8)
		return;
	struct emu_function *f = function_of_symbol(g, rd32(pl));
	if (!f)
		return;
	if (attr == EIATTR_REGCOUNT)
		f->num_regs = (int)rd32(pl + 4);
	else
		f->local_bytes = (int)rd32(pl + 4);
}

/* Parses one ELF cubin into m.  0 when it could be read. */
static int parse_elf(struct emu_module *m, const unsigned char *d, uint64_t len)
{
	if (len < 64 || elf_size(d) == 0 || elf_size(d) > len)
		return -1;
	uint64_t shoff = rd64(d + 0x28);
	uint32_t eflags = rd32(d + 0x30);
	uint16_t shentsize = rd16(d + 0x3a), shnum = rd16(d + 0x3c), shstrndx = rd16(d + 0x3e);
	if (shnum == 0 || shnum > 65000)
		return -1;
	struct elf_section *sec = calloc(shnum, sizeof *sec);
	if (!sec)
		return -1;
	for (uint16_t i = 0; i < shnum; i++) {
		const unsigned char *s = d + shoff + (uint64_t)i * shentsize;
		sec[i].name = rd32(s);
		sec[i].type = rd32(s + 4);
		sec[i].offset = rd64(s + 0x18);
		sec[i].size = rd64(s + 0x20);
		sec[i].link = rd32(s + 0x28);
		if (sec[i].type != 8 && (sec[i].offset > len || sec[i].size > len - sec[i].offset))
			sec[i].size = 0;
	}
	const struct elf_section *shstr = shstrndx < shnum ? &sec[shstrndx] : NULL;
	int arch = (int)((eflags >> 8) & 0xff);
	if (arch == 0)
		arch = (int)(eflags & 0xff);

	struct ginfo g = { .m = m, .d = d, .len = len };
	for (uint16_t i = 0; i < shnum; i++) {
		if (sec[i].type != 2 /* SHT_SYMTAB */ || sec[i].link >= shnum)
			continue;
		g.sym = d + sec[i].offset;
		g.nsyms = sec[i].size / 24;
		g.strtab = &sec[sec[i].link];
		break;
	}
	if (!g.sym) {
		free(sec);
		return -1;
	}
	/* Kernels: entry functions (st_other bit 0x10); globals: objects in .nv.global*,
	 * .nv.constant<N> (user constants). */
	int any_entry = 0;
	for (uint64_t j = 0; j < g.nsyms; j++)
		if ((g.sym[j * 24 + 4] & 0xf) == 2 && (g.sym[j * 24 + 5] & 0x10))
			any_entry = 1;
	for (uint64_t j = 0; j < g.nsyms; j++) {
		const unsigned char *s = g.sym + j * 24;
		uint32_t name = rd32(s);
		unsigned type = s[4] & 0xf, bind = s[4] >> 4, other = s[5];
		uint16_t shndx = rd16(s + 6);
		uint64_t value = rd64(s + 8), size = rd64(s + 16);
		if (name >= g.strtab->size)
			continue;
		const char *nm = (const char *)d + g.strtab->offset + name;
		size_t nlen = strnlen(nm, g.strtab->size - name);
		if (nlen == 0 || nlen == g.strtab->size - name)
			continue;
		const char *secname = shndx < shnum ? sec_name(d, len, shstr, sec[shndx].name) : "";
		if (type == 2) {
			int entry = any_entry ? (other & 0x10) != 0
					      : (bind == 1 && strncmp(secname, ".text.", 6) == 0 && strcmp(secname + 6, nm) == 0);
			if (!entry)
				continue;
			struct emu_function *f = add_function(m, nm, nlen);
			if (f)
				f->binary_version = arch;
		} else if (type == 1 && shndx < shnum &&
			   (strncmp(secname, ".nv.global", 10) == 0 || strncmp(secname, ".nv.constant", 12) == 0) &&
			   strncmp(secname, ".nv.constant0", 13) != 0) {
			const void *init = NULL;
			if (sec[shndx].type != 8 && value <= sec[shndx].size && size <= sec[shndx].size - value)
				init = d + sec[shndx].offset + value;
			add_global(m, nm, nlen, size, init);
		}
	}
	/* Per kernel: .nv.info.<name> (parameters), .nv.shared.<name> (static shared
	 * memory); the module-wide .nv.info: registers and stack per kernel. */
	for (uint16_t i = 0; i < shnum; i++) {
		const char *sn = sec_name(d, len, shstr, sec[i].name);
		struct emu_function *f;
		if (strcmp(sn, ".nv.info") == 0) {
			nv_info(d + sec[i].offset, sec[i].size, global_info_cb, &g);
		} else if (strncmp(sn, ".nv.info.", 9) == 0 && (f = module_function(m, sn + 9, strlen(sn + 9)))) {
			struct kinfo *k = calloc(1, sizeof *k);
			if (!k)
				continue;
			nv_info(d + sec[i].offset, sec[i].size, kernel_info_cb, k);
			struct emu_param *p = k->n ? calloc((size_t)k->n, sizeof *p) : NULL;
			if (!k->n || p) {
				uint32_t bytes = k->bytes;
				for (int q = 0; q < k->n; q++) {
					p[q] = k->params[q];
					if (p[q].offset + p[q].size > bytes)
						bytes = p[q].offset + p[q].size;
				}
				set_params(f, p, k->n, bytes);
			}
			if (k->max_threads)
				f->max_threads = k->max_threads;
			free(k);
		} else if (strncmp(sn, ".nv.shared.", 11) == 0 && (f = module_function(m, sn + 11, strlen(sn + 11)))) {
			f->shared_static = (int)sec[i].size;
		}
	}
	/* A kernel without .nv.info takes nothing; user constants (bank 3) are the module's. */
	uint64_t consts = 0;
	for (uint16_t i = 0; i < shnum; i++)
		if (strcmp(sec_name(d, len, shstr, sec[i].name), ".nv.constant3") == 0)
			consts = sec[i].size;
	for (size_t i = 0; i < m->nfuncs; i++) {
		if (m->funcs[i]->nparams < 0 && m->funcs[i]->binary_version)
			set_params(m->funcs[i], NULL, 0, 0);
		m->funcs[i]->const_bytes = (int)consts;
	}
	free(sec);
	return 0;
}

/* --- PTX ------------------------------------------------------------------------------------ */

static int is_ident(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
	       c == '.';
}

static unsigned ptx_type_size(const char *t, size_t n)
{
	if (n < 3 || t[0] != '.')
		return 0;
	if (n == 5 && memcmp(t, ".pred", 5) == 0)
		return 1;
	char k = t[1];
	if (k != 'u' && k != 's' && k != 'b' && k != 'f')
		return 0;
	if (n == 3 && t[2] == '8')
		return 1;
	if (n == 4 && memcmp(t + 2, "16", 2) == 0)
		return 2;
	if (n == 4 && memcmp(t + 2, "32", 2) == 0)
		return 4;
	if (n == 4 && memcmp(t + 2, "64", 2) == 0)
		return 8;
	if (n == 5 && memcmp(t + 2, "128", 3) == 0)
		return 16;
	return 0;
}

/* A token: skips blanks; returns its start and sets *n (0 at the end). */
static const char *token(const char *p, const char *end, size_t *n)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	const char *s = p;
	if (p < end && is_ident((unsigned char)*p)) {
		while (p < end && is_ident((unsigned char)*p))
			p++;
	} else if (p < end) {
		p++;
	}
	*n = (size_t)(p - s);
	return s;
}

/* One declaration ".align N .type name[dims]" up to (not including) stop: its size, alignment
 * and name.  0: unreadable. */
static int ptx_decl(const char *p, const char *end, uint64_t *size, uint64_t *align, const char **name,
		    size_t *nlen, uint64_t *elem_size, const char **init)
{
	uint64_t al = 0, elem = 0, count = 1;
	*name = NULL;
	if (init)
		*init = NULL;
	size_t n;
	for (const char *t = token(p, end, &n); n; t = token(t + n, end, &n)) {
		if (n == 6 && memcmp(t, ".align", 6) == 0) {
			const char *v = token(t + n, end, &n);
			al = strtoull(v, NULL, 10);
			t = v;
		} else if (ptx_type_size(t, n)) {
			elem = ptx_type_size(t, n);
		} else if (t[0] == '.') {
			continue; /* .ptr, .global, .const, ... */
		} else if (is_ident((unsigned char)t[0]) && !*name) {
			*name = t;
			*nlen = n;
		} else if (t[0] == '[') {
			const char *v = token(t + n, end, &n);
			uint64_t dim = strtoull(v, NULL, 10);
			count *= dim ? dim : 1;
			t = v;
		} else if (t[0] == '=' || t[0] == ';') {
			if (t[0] == '=' && init)
				*init = t + 1;
			break;
		}
	}
	if (!*name || !elem)
		return 0;
	if (elem_size)
		*elem_size = elem;
	*size = elem * count;
	*align = al > elem ? al : elem;
	return 1;
}

/* "= 5", "= {1, 2, 3}", "= 0f3F800000" (f32 bits), "= 0d3FF0000000000000" (f64 bits):
 * the bytes of a variable of size bytes made of elem-byte values.  NULL: not understood
 * (addresses of other symbols, ...), then the variable starts zeroed. */
static unsigned char *ptx_initializer(const char *p, const char *end, uint64_t elem, uint64_t size)
{
	if (size > (1 << 24))
		return NULL;
	unsigned char *buf = calloc(1, size);
	if (!buf)
		return NULL;
	uint64_t at = 0;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '{' || *p == ','))
			p++;
		if (p >= end || *p == '}' || *p == ';')
			break;
		uint64_t v;
		char *next;
		if (p[0] == '0' && (p[1] == 'f' || p[1] == 'F' || p[1] == 'd' || p[1] == 'D')) {
			v = strtoull(p + 2, &next, 16);
		} else if (*p == '-') {
			v = (uint64_t)strtoll(p, &next, 0);
		} else {
			v = strtoull(p, &next, 0);
		}
		if (next == p || at + elem > size) {
			free(buf);
			return NULL;
		}
		for (uint64_t i = 0; i < elem && i < 8; i++)
			buf[at + i] = (unsigned char)(v >> (8 * i));
		at += elem;
		p = next;
	}
	return buf;
}

/* Parses PTX text.  0 when it looked like PTX. */
static int parse_ptx(struct emu_module *m, const char *text, uint64_t len)
{
	/* A copy with comments blanked out. */
	char *t = malloc(len + 1);
	if (!t)
		return -1;
	memcpy(t, text, len);
	t[len] = '\0';
	for (uint64_t i = 0; i + 1 < len; i++) {
		if (t[i] == '/' && t[i + 1] == '/') {
			while (i < len && t[i] != '\n')
				t[i++] = ' ';
		} else if (t[i] == '/' && t[i + 1] == '*') {
			t[i] = t[i + 1] = ' ';
			for (i += 2; i + 1 < len && !(t[i] == '*' && t[i + 1] == '/'); i++)
				t[i] = ' ';
			if (i + 1 < len)
				t[i] = t[i + 1] = ' ';
		} else if (t[i] == '"') {
			for (i++; i < len && t[i] != '"'; i++)
				;
		}
	}
	const char *end = t + len;
	int depth = 0, seen = 0;
	uint64_t consts = 0; /* bytes of .const variables */
	const char *p = t;
	size_t n;
	for (const char *tok = token(p, end, &n); n; tok = token(tok + n, end, &n)) {
		if (tok[0] == '{') {
			depth++;
			continue;
		}
		if (tok[0] == '}') {
			depth = depth > 0 ? depth - 1 : 0;
			continue;
		}
		if (depth)
			continue;
		if (n == 8 && memcmp(tok, ".version", 8) == 0)
			seen = 1;
		if (n == 6 && memcmp(tok, ".entry", 6) == 0) {
			size_t nn;
			const char *name = token(tok + n, end, &nn);
			if (!nn || !is_ident((unsigned char)name[0]))
				continue;
			struct emu_function *f = add_function(m, name, nn);
			seen = 1;
			size_t pn;
			const char *open = token(name + nn, end, &pn);
			if (!f || pn != 1 || open[0] != '(') {
				if (f && f->nparams < 0)
					set_params(f, NULL, 0, 0);
				tok = name;
				n = nn;
				continue;
			}
			const char *close = memchr(open, ')', (size_t)(end - open));
			if (!close)
				break;
			/* Parameters: ".param ..." separated by commas. */
			struct emu_param *params = NULL;
			int np = 0, cap = 0, ok = 1;
			uint64_t off = 0;
			const char *q = open + 1;
			while (q < close && ok) {
				const char *comma = memchr(q, ',', (size_t)(close - q));
				const char *stop = comma ? comma : close;
				uint64_t size, align;
				const char *pname;
				size_t plen;
				if (ptx_decl(q, stop, &size, &align, &pname, &plen, NULL, NULL)) {
					if (np == cap) {
						cap = cap ? cap * 2 : 8;
						struct emu_param *v = realloc(params, (size_t)cap * sizeof *v);
						if (!v) {
							ok = 0;
							break;
						}
						params = v;
					}
					off = (off + align - 1) / align * align;
					params[np].offset = (uint32_t)off;
					params[np].size = (uint32_t)size;
					np++;
					off += size;
				}
				q = stop + 1;
			}
			if (ok && f->nparams < 0)
				set_params(f, params, np, (uint32_t)off);
			else
				free(params);
			tok = close;
			n = 1;
			continue;
		}
		if ((n == 7 && memcmp(tok, ".global", 7) == 0) || (n == 6 && memcmp(tok, ".const", 6) == 0)) {
			const char *semi = memchr(tok, ';', (size_t)(end - tok));
			if (!semi)
				break;
			uint64_t size, align, elem;
			const char *gname, *init;
			size_t glen;
			if (ptx_decl(tok + n, semi, &size, &align, &gname, &glen, &elem, &init)) {
				if (tok[1] == 'c')
					consts += (consts + align - 1) / align * align - consts + size;
				unsigned char *data = init ? ptx_initializer(init, semi, elem, size) : NULL;
				add_global(m, gname, glen, size, data);
				free(data);
			}
			tok = semi;
			n = 1;
			seen = 1;
		}
	}
	free(t);
	for (size_t i = 0; i < m->nfuncs; i++)
		if (consts > (uint64_t)m->funcs[i]->const_bytes)
			m->funcs[i]->const_bytes = (int)consts;
	return seen ? 0 : -1;
}

/* --- compressed fatbin entries ------------------------------------------------------------ */

/* LZ4 block format.  Returns the bytes written, or -1. */
static int64_t lz4_block(const unsigned char *src, uint64_t slen, unsigned char *dst, uint64_t dlen)
{
	const unsigned char *ip = src, *iend = src + slen;
	unsigned char *op = dst, *oend = dst + dlen;
	while (ip < iend) {
		unsigned token = *ip++;
		uint64_t lit = token >> 4;
		if (lit == 15) {
			unsigned b;
			do {
				if (ip >= iend)
					return -1;
				b = *ip++;
				lit += b;
			} while (b == 255);
		}
		if (lit > (uint64_t)(iend - ip) || lit > (uint64_t)(oend - op))
			return -1;
		memcpy(op, ip, lit);
		op += lit;
		ip += lit;
		if (ip >= iend)
			break; /* the last sequence has no match */
		if (iend - ip < 2)
			return -1;
		uint64_t offset = rd16(ip);
		ip += 2;
		uint64_t mlen = token & 15;
		if (mlen == 15) {
			unsigned b;
			do {
				if (ip >= iend)
					return -1;
				b = *ip++;
				mlen += b;
			} while (b == 255);
		}
		mlen += 4;
		if (offset == 0 || offset > (uint64_t)(op - dst) || mlen > (uint64_t)(oend - op))
			return -1;
		const unsigned char *m = op - offset;
		while (mlen--)
			*op++ = *m++;
	}
	return op - dst;
}

typedef size_t (*zstd_decompress_fn)(void *, size_t, const void *, size_t);
typedef unsigned (*zstd_is_error_fn)(size_t);
static zstd_decompress_fn zstd_decompress;
static zstd_is_error_fn zstd_is_error;
static pthread_once_t zstd_once = PTHREAD_ONCE_INIT;

static void zstd_load(void)
{
	void *h = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return;
	zstd_decompress = (zstd_decompress_fn)dlsym(h, "ZSTD_decompress");
	zstd_is_error = (zstd_is_error_fn)dlsym(h, "ZSTD_isError");
	if (!zstd_decompress || !zstd_is_error)
		zstd_decompress = NULL;
}

/* --- fatbins -------------------------------------------------------------------------------- */

static int parse_image(struct emu_module *m, const unsigned char *d, uint64_t known_len, int depth);

/* One fatbin: its entries.  Returns how many entries could be read (-1: not a fatbin). */
static int parse_fatbin(struct emu_module *m, const unsigned char *d)
{
	if (rd32(d) != FATBIN_MAGIC)
		return -1;
	uint16_t hsize = rd16(d + 6);
	uint64_t size = rd64(d + 8);
	if (hsize < 16 || size > IMAGE_MAX)
		return -1;
	int read = 0;
	/* Entries repeat the same kernels for other architectures: the first readable ELF
	 * says all; PTX is read only when no ELF could be. */
	for (int pass = 0; pass < 2 && !read; pass++) {
	const unsigned char *e = d + hsize, *end = d + hsize + size;
	while (e + 64 <= end && !read) {
		unsigned kind = rd16(e);
		uint32_t ehs = rd32(e + 4);
		uint64_t psize = rd64(e + 8);
		uint32_t csize = rd32(e + 16);
		uint64_t flags = rd64(e + 40), dsize = rd64(e + 56);
		if (ehs < 64 || psize > (uint64_t)(end - e) - ehs)
			break;
		if (kind != (pass == 0 ? FATBIN_KIND_ELF : FATBIN_KIND_PTX)) {
			e += ehs + psize;
			continue;
		}
		const unsigned char *payload = e + ehs;
		unsigned char *buf = NULL;
		uint64_t plen = psize;
		if ((flags & (FATBIN_FLAG_LZ4 | FATBIN_FLAG_ZSTD)) && dsize && dsize <= IMAGE_MAX) {
			uint64_t clen = csize && csize <= psize ? csize : psize;
			buf = malloc(dsize + 1);
			int64_t got = -1;
			if (buf && (flags & FATBIN_FLAG_LZ4)) {
				got = lz4_block(payload, clen, buf, dsize);
			} else if (buf) {
				pthread_once(&zstd_once, zstd_load);
				if (zstd_decompress) {
					size_t r = zstd_decompress(buf, dsize, payload, clen);
					got = zstd_is_error(r) ? -1 : (int64_t)r;
				}
			}
			if (got < 0) {
				free(buf);
				e += ehs + psize;
				continue;
			}
			buf[got] = 0;
			payload = buf;
			plen = (uint64_t)got;
		} else if (flags & (FATBIN_FLAG_LZ4 | FATBIN_FLAG_ZSTD)) {
			e += ehs + psize;
			continue;
		}
		int ok = -1;
		if (kind == FATBIN_KIND_ELF)
			ok = parse_elf(m, payload, plen);
		else if (kind == FATBIN_KIND_PTX)
			ok = parse_ptx(m, (const char *)payload, strnlen((const char *)payload, plen));
		if (ok == 0)
			read++;
		free(buf);
		e += ehs + psize;
	}
	}
	return read;
}

/* What image is and what it declares.  known_len: 0 when the caller did not say.
 * 0: read; -1: an image (wrapper, fatbin, ELF) that could not be read; -2: no image at
 * all (not even text that looks like PTX). */
static int parse_image(struct emu_module *m, const unsigned char *d, uint64_t known_len, int depth)
{
	if (!d || depth > 4)
		return -1;
	uint32_t magic = rd32(d);
	if (magic == WRAPPER_MAGIC) {
		const unsigned char *inner;
		memcpy(&inner, d + 8, sizeof inner);
		return inner && parse_image(m, inner, 0, depth + 1) == 0 ? 0 : -1;
	}
	if (magic == FATBIN_MAGIC) {
		/* Several fatbins may follow one another (relocatable device code). */
		int read = 0, r;
		while ((r = parse_fatbin(m, d)) >= 0) {
			read += r;
			uint64_t next = rd16(d + 6) + rd64(d + 8);
			if (known_len && next >= known_len)
				break;
			if (known_len)
				known_len -= next;
			d += next;
			if (!known_len)
				break; /* unknown extent: never read past the first */
		}
		return read > 0 ? 0 : -1;
	}
	if (memcmp(d, "\177ELF", 4) == 0) {
		uint64_t len = elf_size(d);
		return len ? parse_elf(m, d, len) : -1;
	}
	/* PTX: text up to its terminating NUL. */
	uint64_t len = known_len ? strnlen((const char *)d, known_len) : strnlen((const char *)d, IMAGE_MAX);
	return parse_ptx(m, (const char *)d, len) == 0 ? 0 : -2;
}

/* --- module objects ------------------------------------------------------------------------- */

/* Frees a module (its handles must be out of the sets; no lock needed).  Global storage
 * is given back to the device. */
static void module_destroy(struct emu_module *m)
{
	pthread_mutex_lock(&module_mutex);
	emu_hset_del(&modules, m);
	for (size_t i = 0; i < m->nfuncs; i++)
		emu_hset_del(&functions, m->funcs[i]);
	pthread_mutex_unlock(&module_mutex);
	for (size_t i = 0; i < m->nfuncs; i++) {
		m->funcs[i]->magic = 0;
		free(m->funcs[i]->name);
		free(m->funcs[i]->params);
		free(m->funcs[i]);
	}
	free(m->funcs);
	free(m->index);
	for (size_t i = 0; i < m->nglobals; i++) {
		struct emu_global *g = &m->globals[i];
		if (g->dptr) {
			emu_mem_lock();
			struct emu_alloc *a = emu_alloc_find(g->dptr);
			if (a && a->start == g->dptr)
				emu_devmem_release_locked(a);
			emu_mem_unlock();
		}
		free(g->name);
		free(g->init);
	}
	free(m->globals);
	m->magic = 0;
	free(m);
}

/* Makes a module from an image.  An image that cannot be read loads with nothing listed
 * (lenient); only strict callers (cuModuleLoad*, as the real driver does) refuse input
 * that is no image at all, with CUDA_ERROR_INVALID_IMAGE.  Libraries never refuse
 * (cudart poisons the process when cuLibraryLoadData fails; the real driver, loading
 * lazily, accepts anything there too). */
static CUresult module_create(const void *image, uint64_t len, CUcontext ctx, int strict, struct emu_module **out)
{
	struct emu_module *m = calloc(1, sizeof *m);
	if (!m)
		return CUDA_ERROR_OUT_OF_MEMORY;
	m->magic = MODULE_MAGIC;
	m->ctx = ctx;
	int parsed = parse_image(m, image, len, 0);
	if (parsed == -2 && strict) {
		free(m->funcs);
		free(m->index);
		for (size_t i = 0; i < m->nglobals; i++) {
			free(m->globals[i].name);
			free(m->globals[i].init);
		}
		free(m->globals);
		free(m);
		return CUDA_ERROR_INVALID_IMAGE;
	}
	if (parsed != 0)
		m->lenient = 1;
	pthread_mutex_lock(&module_mutex);
	int bad = emu_hset_add(&modules, m);
	for (size_t i = 0; !bad && i < m->nfuncs; i++)
		bad = emu_hset_add(&functions, m->funcs[i]);
	pthread_mutex_unlock(&module_mutex);
	if (bad) {
		module_destroy(m);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*out = m;
	return CUDA_SUCCESS;
}

void emu_modules_context_gone(CUcontext ctx)
{
	for (;;) {
		struct emu_module *victim = NULL;
		pthread_mutex_lock(&module_mutex);
		for (size_t i = 0; i < modules.cap && !victim; i++) {
			uintptr_t k = modules.slots[i];
			if (k > 1 && ((struct emu_module *)k)->ctx == ctx)
				victim = (struct emu_module *)k;
		}
		pthread_mutex_unlock(&module_mutex);
		if (!victim)
			return;
		module_destroy(victim);
	}
}

/* Writes empty logs and a zero wall time for the JIT options that are outputs. */
static void jit_outputs(unsigned n, const int *options, void **values)
{
	if (!options || !values)
		return;
	for (unsigned i = 0; i < n; i++) {
		if (options[i] == CU_JIT_INFO_LOG_BUFFER || options[i] == CU_JIT_ERROR_LOG_BUFFER) {
			/* Its size is the next option of the pair, when given. */
			for (unsigned j = 0; j < n; j++)
				if (options[j] == options[i] + 1 && (uintptr_t)values[j] > 0 && values[i])
					((char *)values[i])[0] = '\0';
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (options[i] == CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES || options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
			values[i] = (void *)(uintptr_t)0;
		else if (options[i] == CU_JIT_WALL_TIME) {
			float zero = 0;
			values[i] = NULL;
			memcpy(&values[i], &zero, sizeof zero);
		}
	}
}

static CUresult load_module(CUmodule *module, const void *image, uint64_t len)
{
	CUcontext ctx;
	CUresult rc = emu_current(&ctx, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!module || !image)
		return CUDA_ERROR_INVALID_VALUE;
	return module_create(image, len, ctx, 1, module);
}

EMU_API CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
	return load_module(module, image, 0);
}

EMU_API CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions, int *options,
				    void **optionValues)
{
	CUresult rc = load_module(module, image, 0);
	if (rc == CUDA_SUCCESS)
		jit_outputs(numOptions, options, optionValues);
	return rc;
}

EMU_API CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin)
{
	return load_module(module, fatCubin, 0);
}

/* A whole file, NUL-terminated (PTX is text). */
static CUresult read_file(const char *path, unsigned char **data, uint64_t *len)
{
	if (!path)
		return CUDA_ERROR_INVALID_VALUE;
	FILE *f = fopen(path, "rb");
	if (!f)
		return CUDA_ERROR_FILE_NOT_FOUND;
	unsigned char *buf = NULL;
	uint64_t n = 0, cap = 0;
	for (;;) {
		if (n + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			if (cap > IMAGE_MAX) {
				free(buf);
				fclose(f);
				return CUDA_ERROR_INVALID_IMAGE;
			}
			unsigned char *b = realloc(buf, cap);
			if (!b) {
				free(buf);
				fclose(f);
				return CUDA_ERROR_OUT_OF_MEMORY;
			}
			buf = b;
		}
		size_t r = fread(buf + n, 1, 65536, f);
		n += r;
		if (r < 65536)
			break;
	}
	int err = ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		return CUDA_ERROR_FILE_NOT_FOUND;
	}
	buf[n] = 0;
	*data = buf;
	*len = n;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
	CUcontext ctx;
	CUresult rc = emu_current(&ctx, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!module)
		return CUDA_ERROR_INVALID_VALUE;
	unsigned char *data;
	uint64_t len;
	rc = read_file(fname, &data, &len);
	if (rc != CUDA_SUCCESS)
		return rc;
	rc = module_create(data, len ? len : 1, ctx, 1, module);
	free(data);
	return rc;
}

static struct emu_module *module_check(CUmodule m)
{
	pthread_mutex_lock(&module_mutex);
	int ok = emu_hset_has(&modules, m);
	pthread_mutex_unlock(&module_mutex);
	return ok ? m : NULL;
}

EMU_API CUresult cuModuleUnload(CUmodule hmod)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	struct emu_module *m = module_check(hmod);
	if (!m || m->lib)
		return CUDA_ERROR_INVALID_HANDLE;
	module_destroy(m);
	return CUDA_SUCCESS;
}

/* A kernel of m by name; in a lenient module any name is one (made on first request). */
static CUresult find_function(struct emu_module *m, const char *name, struct emu_function **out)
{
	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&module_mutex);
	if (!emu_hset_has(&modules, m)) {
		pthread_mutex_unlock(&module_mutex);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	struct emu_function *f = module_function(m, name, strlen(name));
	CUresult rc = CUDA_SUCCESS;
	if (!f && m->lenient) {
		f = add_function(m, name, strlen(name));
		if (!f || emu_hset_add(&functions, f) != 0)
			rc = CUDA_ERROR_OUT_OF_MEMORY;
	} else if (!f) {
		rc = CUDA_ERROR_NOT_FOUND;
	}
	pthread_mutex_unlock(&module_mutex);
	if (rc == CUDA_SUCCESS)
		*out = f;
	return rc;
}

EMU_API CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
	CUresult rc = emu_current(NULL, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!hfunc)
		return CUDA_ERROR_INVALID_VALUE;
	return find_function(hmod, name, hfunc);
}

EMU_API CUresult cuModuleGetFunctionCount(unsigned int *count, CUmodule mod)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&module_mutex);
	int ok = emu_hset_has(&modules, mod);
	if (ok)
		*count = (unsigned)mod->nfuncs;
	pthread_mutex_unlock(&module_mutex);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EMU_API CUresult cuModuleEnumerateFunctions(CUfunction *funcs, unsigned int numFunctions, CUmodule mod)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!funcs && numFunctions)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&module_mutex);
	int ok = emu_hset_has(&modules, mod);
	if (ok)
		for (size_t i = 0; i < mod->nfuncs && i < numFunctions; i++)
			funcs[i] = mod->funcs[i];
	pthread_mutex_unlock(&module_mutex);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* A global's device address, storage made (and initialised) on first request in the
 * device of the current context. */
static CUresult get_global(struct emu_module *m, const char *name, CUdeviceptr *dptr, size_t *bytes)
{
	int dev;
	CUresult rc = emu_current(NULL, &dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&module_mutex);
	if (!emu_hset_has(&modules, m)) {
		pthread_mutex_unlock(&module_mutex);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	struct emu_global *g = module_global(m, name);
	if (!g) {
		pthread_mutex_unlock(&module_mutex);
		return CUDA_ERROR_NOT_FOUND;
	}
	if (!g->dptr) {
		CUdeviceptr p;
		rc = emu_devmem_alloc(NULL, dev, g->size, EMU_ALLOC_DEVICE, NULL, &p);
		if (rc != CUDA_SUCCESS) {
			pthread_mutex_unlock(&module_mutex);
			return rc;
		}
		if (g->init)
			memcpy((void *)(uintptr_t)p, g->init, g->size);
		g->dptr = p;
	}
	if (dptr)
		*dptr = g->dptr;
	if (bytes)
		*bytes = g->size;
	pthread_mutex_unlock(&module_mutex);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const char *name)
{
	return get_global(hmod, name, dptr, bytes);
}

EMU_API CUresult cuModuleGetGlobal(uint32_t *dptr, unsigned int *bytes, CUmodule hmod, const char *name)
{
	CUdeviceptr p;
	size_t n;
	CUresult rc = get_global(hmod, name, &p, &n);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (p > 0xffffffffu)
		return CUDA_ERROR_NOT_SUPPORTED; /* not reachable through a 32-bit pointer */
	if (dptr)
		*dptr = (uint32_t)p;
	if (bytes)
		*bytes = (unsigned int)n;
	return CUDA_SUCCESS;
}

/* --- libraries ----------------------------------------------------------------------------- */

static CUresult library_create(const void *code, uint64_t len, CUlibrary *out)
{
	struct emu_library *l = calloc(1, sizeof *l);
	if (!l)
		return CUDA_ERROR_OUT_OF_MEMORY;
	struct emu_module *m;
	CUresult rc = module_create(code, len, NULL, 0, &m);
	if (rc != CUDA_SUCCESS) {
		free(l);
		return rc;
	}
	l->magic = LIBRARY_MAGIC;
	l->module = m;
	pthread_mutex_lock(&module_mutex);
	m->lib = l;
	int bad = emu_hset_add(&libraries, l);
	pthread_mutex_unlock(&module_mutex);
	if (bad) {
		module_destroy(m);
		free(l);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*out = l;
	return CUDA_SUCCESS;
}

/* Options are accepted whatever they are (cudart passes CU_LIBRARY_BINARY_IS_PRESERVED;
 * JIT options do not matter where nothing is compiled). */
EMU_API CUresult cuLibraryLoadData(CUlibrary *library, const void *code, int *jitOptions, void **jitOptionsValues,
				   unsigned int numJitOptions, int *libraryOptions, void **libraryOptionValues,
				   unsigned int numLibraryOptions)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!library || !code)
		return CUDA_ERROR_INVALID_VALUE;
	rc = library_create(code, 0, library);
	if (rc == CUDA_SUCCESS)
		jit_outputs(numJitOptions, jitOptions, jitOptionsValues);
	return rc;
}

EMU_API CUresult cuLibraryLoadFromFile(CUlibrary *library, const char *fileName, int *jitOptions,
				       void **jitOptionsValues, unsigned int numJitOptions, int *libraryOptions,
				       void **libraryOptionValues, unsigned int numLibraryOptions)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!library)
		return CUDA_ERROR_INVALID_VALUE;
	unsigned char *data;
	uint64_t len;
	rc = read_file(fileName, &data, &len);
	if (rc != CUDA_SUCCESS)
		return rc;
	rc = library_create(data, len ? len : 1, library);
	free(data);
	if (rc == CUDA_SUCCESS)
		jit_outputs(numJitOptions, jitOptions, jitOptionsValues);
	return rc;
}

static struct emu_library *library_check(CUlibrary l)
{
	pthread_mutex_lock(&module_mutex);
	int ok = emu_hset_has(&libraries, l);
	pthread_mutex_unlock(&module_mutex);
	return ok ? l : NULL;
}

EMU_API CUresult cuLibraryUnload(CUlibrary library)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	pthread_mutex_lock(&module_mutex);
	int ok = emu_hset_has(&libraries, library);
	if (ok)
		emu_hset_del(&libraries, library);
	pthread_mutex_unlock(&module_mutex);
	if (!ok)
		return CUDA_ERROR_INVALID_HANDLE;
	module_destroy(library->module);
	library->magic = 0;
	free(library);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuLibraryGetKernel(CUkernel *pKernel, CUlibrary library, const char *name)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pKernel)
		return CUDA_ERROR_INVALID_VALUE;
	struct emu_library *l = library_check(library);
	if (!l)
		return CUDA_ERROR_INVALID_HANDLE;
	struct emu_function *f;
	rc = find_function(l->module, name, &f);
	if (rc == CUDA_SUCCESS)
		*pKernel = (CUkernel)f;
	return rc;
}

EMU_API CUresult cuLibraryGetKernelCount(unsigned int *count, CUlibrary lib)
{
	struct emu_library *l = library_check(lib);
	if (!l)
		return emu_check_init() != CUDA_SUCCESS ? emu_check_init() : CUDA_ERROR_INVALID_HANDLE;
	return cuModuleGetFunctionCount(count, l->module);
}

EMU_API CUresult cuLibraryEnumerateKernels(CUkernel *kernels, unsigned int numKernels, CUlibrary lib)
{
	struct emu_library *l = library_check(lib);
	if (!l)
		return emu_check_init() != CUDA_SUCCESS ? emu_check_init() : CUDA_ERROR_INVALID_HANDLE;
	return cuModuleEnumerateFunctions((CUfunction *)kernels, numKernels, l->module);
}

EMU_API CUresult cuLibraryGetModule(CUmodule *pMod, CUlibrary library)
{
	CUresult rc = emu_current(NULL, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pMod)
		return CUDA_ERROR_INVALID_VALUE;
	struct emu_library *l = library_check(library);
	if (!l)
		return CUDA_ERROR_INVALID_HANDLE;
	*pMod = l->module;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuLibraryGetGlobal(CUdeviceptr *dptr, size_t *bytes, CUlibrary library, const char *name)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	struct emu_library *l = library_check(library);
	if (!l)
		return CUDA_ERROR_INVALID_HANDLE;
	return get_global(l->module, name, dptr, bytes);
}

EMU_API CUresult cuLibraryGetManaged(CUdeviceptr *dptr, size_t *bytes, CUlibrary library, const char *name)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!library_check(library))
		return CUDA_ERROR_INVALID_HANDLE;
	return CUDA_ERROR_NOT_FOUND; /* __managed__ variables are not read from images */
}

EMU_API CUresult cuLibraryGetUnifiedFunction(void **fptr, CUlibrary library, const char *symbol)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!library_check(library))
		return CUDA_ERROR_INVALID_HANDLE;
	return CUDA_ERROR_NOT_FOUND;
}

/* --- kernels and functions ------------------------------------------------------------------- */

EMU_API CUresult cuKernelGetFunction(CUfunction *pFunc, CUkernel kernel)
{
	CUresult rc = emu_current(NULL, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pFunc)
		return CUDA_ERROR_INVALID_VALUE;
	struct emu_function *f = emu_function_lookup(kernel);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	*pFunc = f;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuKernelGetLibrary(CUlibrary *pLib, CUkernel kernel)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pLib)
		return CUDA_ERROR_INVALID_VALUE;
	struct emu_function *f = emu_function_lookup(kernel);
	if (!f || !f->module->lib)
		return CUDA_ERROR_INVALID_HANDLE;
	*pLib = f->module->lib;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuFuncGetModule(CUmodule *hmod, CUfunction hfunc)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!hmod)
		return CUDA_ERROR_INVALID_VALUE;
	struct emu_function *f = emu_function_lookup(hfunc);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	*hmod = f->module;
	return CUDA_SUCCESS;
}

static CUresult get_name(const char **name, const void *handle)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	struct emu_function *f = emu_function_lookup(handle);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	*name = f->name;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuFuncGetName(const char **name, CUfunction hfunc)
{
	return get_name(name, hfunc);
}

EMU_API CUresult cuKernelGetName(const char **name, CUkernel hfunc)
{
	return get_name(name, hfunc);
}

static CUresult param_info(const void *handle, size_t index, size_t *offset, size_t *size)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	struct emu_function *f = emu_function_lookup(handle);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (f->nparams < 0)
		return CUDA_ERROR_NOT_SUPPORTED; /* the image could not be read */
	if (index >= (size_t)f->nparams || (!offset && !size))
		return CUDA_ERROR_INVALID_VALUE;
	if (offset)
		*offset = f->params[index].offset;
	if (size)
		*size = f->params[index].size;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t *paramOffset, size_t *paramSize)
{
	return param_info(func, paramIndex, paramOffset, paramSize);
}

EMU_API CUresult cuKernelGetParamInfo(CUkernel kernel, size_t paramIndex, size_t *paramOffset, size_t *paramSize)
{
	return param_info(kernel, paramIndex, paramOffset, paramSize);
}

EMU_API CUresult cuFuncIsLoaded(int *state, CUfunction function)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!state)
		return CUDA_ERROR_INVALID_VALUE;
	if (!emu_function_lookup(function))
		return CUDA_ERROR_INVALID_HANDLE;
	*state = CU_FUNCTION_LOADING_STATE_LOADED;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuFuncLoad(CUfunction function)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	return emu_function_lookup(function) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

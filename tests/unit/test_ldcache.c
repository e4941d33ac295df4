/* Unit tests for launcher/ldcache.c.
 *
 * The reference is the host's own ldconfig: caches are built at test time with
 * `ldconfig -C` over a temp dir of libraries (tiny ELF files made here, with the
 * sonames we want, plus copies of real libraries), and what we parse must be
 * what `ldconfig -p -C` prints, entry for entry, in the same order.  The written
 * cache must be read back by ldconfig -p and by the real loader (inside a
 * private mount namespace, bound over /etc/ld.so.cache).  Checks that need
 * something the host lacks (ldconfig, a loader, root) are skipped, with the
 * reason. */
#include "launcher/ldcache.h"
#include "tests/unit/check.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- small helpers ------------------------------------------------------------ */

static char tmpdir[] = "/tmp/test_ldcache.XXXXXX";
static const char *ldconfig;

static unsigned char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < 0) {
		close(fd);
		return NULL;
	}
	size_t n = (size_t)st.st_size, off = 0;
	unsigned char *buf = malloc(n ? n : 1);
	while (buf && off < n) {
		ssize_t r = read(fd, buf + off, n - off);
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	if (!buf || off != n) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static bool write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return false;
	bool ok = write(fd, data, len) == (ssize_t)len;
	return close(fd) == 0 && ok;
}

static bool copy_file(const char *from, const char *to)
{
	size_t len;
	unsigned char *data = read_file(from, &len);
	bool ok = data && write_file(to, data, len);
	free(data);
	return ok;
}

static char *tmp_path(const char *name)
{
	static char paths[8][512];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, sizeof paths[0], "%s/%s", tmpdir, name);
	return p;
}

static const char *find_ldconfig(void)
{
	static const char *const candidates[] = { "/sbin/ldconfig", "/usr/sbin/ldconfig", "/bin/ldconfig",
						  "/usr/bin/ldconfig" };
	for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
		if (access(candidates[i], X_OK) == 0)
			return candidates[i];
	return NULL;
}

/* Builds a cache with ldconfig.  -X: no symlinks touched; -i: no aux cache read
 * or written (so the host's /var/cache/ldconfig is left alone). */
static bool run_ldconfig(const char *format, const char *cache, const char *conf)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "%s -i -X -c %s -C '%s' -f '%s' >/dev/null 2>&1", ldconfig, format, cache, conf);
	return system(cmd) == 0;
}

/* ---- entries ------------------------------------------------------------------ */

struct list {
	struct ldcache_entry *e;
	size_t n, cap;
};

static int collect(const struct ldcache_entry *e, void *ctx)
{
	struct list *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct ldcache_entry *ne = realloc(l->e, cap * sizeof *ne);
		if (!ne)
			return -2;
		l->e = ne;
		l->cap = cap;
	}
	l->e[l->n++] = *e;
	return 0;
}

static int parse_list(const unsigned char *buf, size_t len, struct list *l)
{
	l->n = 0;
	return ldcache_parse(buf, len, collect, l);
}

static bool same_entry(const struct ldcache_entry *a, const struct ldcache_entry *b)
{
	return a->flags == b->flags && a->osversion == b->osversion && a->hwcap == b->hwcap &&
	       strcmp(a->key, b->key) == 0 && strcmp(a->value, b->value) == 0;
}

static bool same_lists(const struct list *a, const struct list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!same_entry(&a->e[i], &b->e[i]))
			return false;
	return true;
}

static bool sorted_for_loader(const struct list *l)
{
	for (size_t i = 1; i < l->n; i++)
		if (ldcache_compare_keys(l->e[i - 1].key, l->e[i].key) < 0)
			return false;
	return true;
}

static const struct ldcache_entry *find_key(const struct list *l, const char *key, int32_t flags)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->e[i].key, key) == 0 && l->e[i].flags == flags)
			return &l->e[i];
	return NULL;
}

/* Writes entries (sorting them) into a fresh buffer. */
static unsigned char *write_cache(struct ldcache_entry *e, size_t n, size_t *len)
{
	size_t need = ldcache_size(e, n);
	unsigned char *buf = need ? malloc(need) : NULL;
	if (!buf || ldcache_write(e, n, buf, need) != (long)need) {
		free(buf);
		return NULL;
	}
	*len = need;
	return buf;
}

/* ---- ldconfig -p ----------------------------------------------------------------- */

struct printed {
	long count;  /* from "N libs found in cache" */
	size_t n;
	char **key, **desc, **value;
};

static void printed_free(struct printed *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->key[i]);
		free(p->desc[i]);
		free(p->value[i]);
	}
	free(p->key);
	free(p->desc);
	free(p->value);
	memset(p, 0, sizeof *p);
}

/* Runs `ldconfig -p -C file` and splits its lines "\tKEY (DESC) => VALUE". */
static bool ldconfig_print(const char *file, struct printed *p)
{
	memset(p, 0, sizeof *p);
	p->count = -1;
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "%s -p -C '%s' 2>&1", ldconfig, file);
	FILE *f = popen(cmd, "r");
	if (!f)
		return false;
	char line[8192];
	size_t cap = 0;
	bool ok = true;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] != '\t') {
			long count;
			if (sscanf(line, "%ld libs found in cache", &count) == 1)
				p->count = count;
			continue;
		}
		char *open = strstr(line, " ("), *arrow = open ? strstr(open, ") => ") : NULL;
		if (!arrow) {
			ok = false;
			continue;
		}
		if (p->n == cap) {
			cap = cap ? 2 * cap : 256;
			p->key = realloc(p->key, cap * sizeof *p->key);
			p->desc = realloc(p->desc, cap * sizeof *p->desc);
			p->value = realloc(p->value, cap * sizeof *p->value);
			if (!p->key || !p->desc || !p->value)
				abort();
		}
		*open = 0;
		*arrow = 0;
		p->key[p->n] = strdup(line + 1);
		p->desc[p->n] = strdup(open + 2);
		p->value[p->n] = strdup(arrow + 5);
		p->n++;
	}
	return pclose(f) == 0 && ok && p->count >= 0;
}

/* The part of ldconfig's description that comes from the flags. */
static void flags_desc(int32_t flags, char *out, size_t len)
{
	static const char *const type[] = { "libc4", "ELF", "libc5", "libc6" };
	const char *t = (flags & LDCACHE_FLAG_TYPE_MASK) <= 3 ? type[flags & LDCACHE_FLAG_TYPE_MASK] : "unknown";
	switch (flags & LDCACHE_FLAG_ARCH_MASK) {
	case 0: snprintf(out, len, "%s", t); break;
	case LDCACHE_FLAG_X8664_LIB64: snprintf(out, len, "%s,x86-64", t); break;
	case 0x0800: snprintf(out, len, "%s,x32", t); break;
	default: snprintf(out, len, "%s,%d", t, flags & LDCACHE_FLAG_ARCH_MASK); break;
	}
}

/* Our entries are exactly what ldconfig -p prints: count, order, keys, paths,
 * flags (the description may go on with hwcap or OS ABI). */
static bool matches_ldconfig(const struct list *l, const struct printed *p, char *why, size_t whylen)
{
	if (p->count != (long)l->n || p->n != l->n) {
		snprintf(why, whylen, "%zu entries, ldconfig says %ld and prints %zu", l->n, p->count, p->n);
		return false;
	}
	for (size_t i = 0; i < l->n; i++) {
		char d[64];
		flags_desc(l->e[i].flags, d, sizeof d);
		size_t dl = strlen(d);
		bool desc_ok = strncmp(p->desc[i], d, dl) == 0 && (p->desc[i][dl] == 0 || p->desc[i][dl] == ',');
		if (strcmp(p->key[i], l->e[i].key) != 0 || strcmp(p->value[i], l->e[i].value) != 0 || !desc_ok) {
			snprintf(why, whylen, "entry %zu: %s (%s) => %s, ldconfig: %s (%s) => %s", i, l->e[i].key, d,
				 l->e[i].value, p->key[i], p->desc[i], p->value[i]);
			return false;
		}
	}
	snprintf(why, whylen, "%zu entries", l->n);
	return true;
}

static bool check_against_ldconfig(const char *file, const struct list *l, char *why, size_t whylen)
{
	struct printed p;
	if (!ldconfig_print(file, &p)) {
		snprintf(why, whylen, "ldconfig -p -C %s failed", file);
		printed_free(&p);
		return false;
	}
	bool ok = matches_ldconfig(l, &p, why, whylen);
	printed_free(&p);
	return ok;
}

/* ---- tiny ELF libraries ------------------------------------------------------- */

/* A shared object with just enough for ldconfig: ELF header, a PT_LOAD over the
 * file, a PT_DYNAMIC with DT_SONAME (and DT_NEEDED libc.so.6, which makes an
 * i386 library "libc6" rather than plain "ELF"), and the string table. */
static bool make_elf(const char *path, const char *soname, bool is64, bool needs_libc)
{
	unsigned char f[1024];
	memset(f, 0, sizeof f);
	size_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	size_t dynsize = is64 ? sizeof(Elf64_Dyn) : sizeof(Elf32_Dyn);
	size_t dyn_off = ehsize + 2 * phsize, ndyn = needs_libc ? 5 : 4;
	size_t str_off = dyn_off + ndyn * dynsize;
	char strtab[256];
	int slen = snprintf(strtab, sizeof strtab, "%clibc.so.6%c%s", 0, 0, soname);
	if (slen < 0 || (size_t)slen + 1 > sizeof strtab || str_off + (size_t)slen + 1 > sizeof f)
		return false;
	size_t total = str_off + (size_t)slen + 1;
	memcpy(f + str_off, strtab, (size_t)slen + 1);
	uint64_t tags[5][2] = { { DT_SONAME, 11 }, { DT_STRTAB, str_off }, { DT_STRSZ, (uint64_t)slen + 1 } };
	size_t k = 3;
	if (needs_libc)
		tags[k][0] = DT_NEEDED, tags[k++][1] = 1;
	tags[k][0] = DT_NULL, tags[k][1] = 0;

	if (is64) {
		Elf64_Ehdr eh = { .e_type = ET_DYN, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
				  .e_phoff = ehsize, .e_ehsize = (Elf64_Half)ehsize,
				  .e_phentsize = (Elf64_Half)phsize, .e_phnum = 2 };
		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS64;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		Elf64_Phdr ph[2] = {
			{ .p_type = PT_LOAD, .p_flags = PF_R, .p_filesz = total, .p_memsz = total, .p_align = 0x1000 },
			{ .p_type = PT_DYNAMIC, .p_flags = PF_R, .p_offset = dyn_off, .p_vaddr = dyn_off,
			  .p_paddr = dyn_off, .p_filesz = ndyn * dynsize, .p_memsz = ndyn * dynsize, .p_align = 8 },
		};
		memcpy(f, &eh, sizeof eh);
		memcpy(f + ehsize, ph, sizeof ph);
		for (size_t i = 0; i < ndyn; i++) {
			Elf64_Dyn d = { .d_tag = (Elf64_Sxword)tags[i][0], .d_un.d_val = tags[i][1] };
			memcpy(f + dyn_off + i * dynsize, &d, sizeof d);
		}
	} else {
		Elf32_Ehdr eh = { .e_type = ET_DYN, .e_machine = EM_386, .e_version = EV_CURRENT,
				  .e_phoff = (Elf32_Off)ehsize, .e_ehsize = (Elf32_Half)ehsize,
				  .e_phentsize = (Elf32_Half)phsize, .e_phnum = 2 };
		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS32;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		Elf32_Phdr ph[2] = {
			{ .p_type = PT_LOAD, .p_flags = PF_R, .p_filesz = (Elf32_Word)total,
			  .p_memsz = (Elf32_Word)total, .p_align = 0x1000 },
			{ .p_type = PT_DYNAMIC, .p_flags = PF_R, .p_offset = (Elf32_Off)dyn_off,
			  .p_vaddr = (Elf32_Addr)dyn_off, .p_paddr = (Elf32_Addr)dyn_off,
			  .p_filesz = (Elf32_Word)(ndyn * dynsize), .p_memsz = (Elf32_Word)(ndyn * dynsize),
			  .p_align = 4 },
		};
		memcpy(f, &eh, sizeof eh);
		memcpy(f + ehsize, ph, sizeof ph);
		for (size_t i = 0; i < ndyn; i++) {
			Elf32_Dyn d = { .d_tag = (Elf32_Sword)tags[i][0], .d_un.d_val = (Elf32_Word)tags[i][1] };
			memcpy(f + dyn_off + i * dynsize, &d, sizeof d);
		}
	}
	return write_file(path, f, total);
}

/* A driver-style install: versioned file, soname symlink to it. */
static bool install_lib(const char *dir, const char *file, const char *soname, bool is64, bool needs_libc)
{
	char path[512], link[512];
	snprintf(path, sizeof path, "%s/%s/%s", tmpdir, dir, file);
	snprintf(link, sizeof link, "%s/%s/%s", tmpdir, dir, soname);
	if (!make_elf(path, soname, is64, needs_libc))
		return false;
	return strcmp(file, soname) == 0 || symlink(file, link) == 0;
}

/* ---- compare_keys ---------------------------------------------------------------- */

static void test_compare_keys(void)
{
	CHECK(ldcache_compare_keys("libfoo.so.10", "libfoo.so.9") > 0, "compare: 10 > 9 (digit runs are numbers)");
	CHECK(ldcache_compare_keys("libfoo.so.9", "libfoo.so.10") < 0, "compare: 9 < 10");
	CHECK(ldcache_compare_keys("libfoo.so.1.10", "libfoo.so.1.9") > 0, "compare: second run 1.10 > 1.9");
	CHECK(ldcache_compare_keys("libc.so.6", "libc.so.6") == 0, "compare: equal strings");
	CHECK(ldcache_compare_keys("", "") == 0, "compare: empty strings");
	CHECK(ldcache_compare_keys("libfoo.so.01", "libfoo.so.1") == 0, "compare: leading zeros do not count");
	CHECK(ldcache_compare_keys("libfoo.so", "libfoo.so.1") < 0, "compare: a prefix sorts first");
	CHECK(ldcache_compare_keys("libfoo.so.1", "libfoo.so") > 0, "compare: longer after its prefix");
	CHECK(ldcache_compare_keys("libfoo", "libfoo1") < 0 && ldcache_compare_keys("libfoo1", "libfoo") > 0,
	      "compare: end of string before a digit");
	CHECK(ldcache_compare_keys("lib1", "liba") > 0 && ldcache_compare_keys("liba", "lib1") < 0,
	      "compare: a digit sorts after any other byte (not ASCII order)");
	CHECK(ldcache_compare_keys("libz3.so.4", "libz.so.1") > 0, "compare: libz3 after libz, as ldconfig lists");
	CHECK(ldcache_compare_keys("libB", "liba") < 0, "compare: other bytes by value");
	CHECK(ldcache_compare_keys("lib\xc3", "liba") < 0 && ldcache_compare_keys("lib\xc3", "lib") < 0,
	      "compare: bytes >= 0x80 are negative chars, as in glibc on x86");
	CHECK(ldcache_compare_keys("x4294967296", "x0") == 0,
	      "compare: numbers wrap at 32 bits like glibc's int (2^32 == 0)");
}

/* ---- ldconfig-made caches ----------------------------------------------------- */

/* The caches ldconfig builds: the three formats over d2, d1, d32, and a new
 * one that also scans dh and its hwcap subdirectories (ldconfig 2.36 crashes
 * writing those into the old formats). */
enum { NCACHES = 4, HWCAPS = 3 };

struct made {
	unsigned char *buf[NCACHES];
	size_t len[NCACHES];
	char path[NCACHES][512];
};

static const char *const format_names[NCACHES] = { "new", "old", "compat", "new" };
static const char *const cache_names[NCACHES] = { "new-format", "old-format", "compat-format",
						  "new-format with hwcaps" };
static const char *const cache_files[NCACHES] = { "ld.so.cache.new", "ld.so.cache.old", "ld.so.cache.compat",
						  "ld.so.cache.hwcaps" };
static const char *const cache_confs[NCACHES] = { "ld.so.conf", "ld.so.conf", "ld.so.conf", "ld.so.conf.hwcaps" };

static bool build_lib_dirs(void)
{
	static const char *const dirs[] = { "d1", "d2", "d32", "dh" };
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		if (mkdir(tmp_path(dirs[i]), 0755) != 0)
			return false;
	/* Names chosen for the ordering rules: numeric runs, prefixes, a digit
	 * right after the name, case, and driver-like versioned files. */
	static const char *const sonames[] = {
		"libvgpu.so.1", "libvgpu.so.2", "libvgpu.so.9", "libvgpu.so.10", "libvgpu.so.1.2", "libvgpu.so",
		"libvgpu9.so.1", "libvgpu10.so.1", "libvgpu-a.so.1", "libvgpu_b.so.1", "libVgpu.so.1",
		"libvgpucuda.so.1", "libvgpu.so.010",
	};
	bool ok = true;
	for (size_t i = 0; i < sizeof sonames / sizeof sonames[0]; i++) {
		char file[128];
		snprintf(file, sizeof file, "%s.580.1", sonames[i]);
		ok = ok && install_lib("d1", file, sonames[i], true, true);
	}
	/* Same sonames in a second dir (ties: ldconfig keeps its scan order), and
	 * i386 ones (lower flags: after the x86-64 entry of the same name). */
	ok = ok && install_lib("d2", "libvgpu.so.1.580.2", "libvgpu.so.1", true, true);
	ok = ok && install_lib("d2", "libvgpu.so.10.580.2", "libvgpu.so.10", true, true);
	ok = ok && install_lib("d32", "libvgpu.so.1.580.1", "libvgpu.so.1", false, true);
	ok = ok && install_lib("d32", "libvgpuelf.so.1", "libvgpuelf.so.1", false, false);
	/* glibc-hwcaps subdirectories (glibc >= 2.33: entries with hwcap bit 62
	 * and an extension section) and legacy hwcap dirs (tls, haswell: hwcap
	 * bits, glibc < 2.37): ldconfig orders these before the plain entry of
	 * the same name.  Versions that ignore them just list fewer entries. */
	static const char *const subdirs[] = { "dh/glibc-hwcaps", "dh/glibc-hwcaps/x86-64-v3",
					       "dh/glibc-hwcaps/x86-64-v2", "dh/tls", "dh/haswell",
					       "dh/haswell/x86_64" };
	for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++)
		ok = ok && mkdir(tmp_path(subdirs[i]), 0755) == 0;
	static const char *const libdirs[] = { "dh", "dh/glibc-hwcaps/x86-64-v3", "dh/glibc-hwcaps/x86-64-v2",
					       "dh/tls", "dh/haswell/x86_64" };
	for (size_t i = 0; i < sizeof libdirs / sizeof libdirs[0]; i++) {
		ok = ok && install_lib(libdirs[i], "libvgpuhw.so.1.580.1", "libvgpuhw.so.1", true, true);
		ok = ok && install_lib(libdirs[i], "libvgpuhw.so.2.580.1", "libvgpuhw.so.2", true, true);
	}
	/* Real libraries from the host too, copied like a driver install. */
	static const char *const real[] = { "/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1",
					    "/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib64/libm.so.6" };
	for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
		char to[512];
		snprintf(to, sizeof to, "%s/d2/libreal%zu.so.580.1", tmpdir, i);
		copy_file(real[i], to);  /* whichever exist */
	}
	/* d2 first: ldconfig scans in the order of the conf file. */
	char conf[1024];
	snprintf(conf, sizeof conf, "%s/d2\n%s/d1\n%s/d32\n", tmpdir, tmpdir, tmpdir);
	ok = ok && write_file(tmp_path("ld.so.conf"), conf, strlen(conf));
	snprintf(conf, sizeof conf, "%s/d2\n%s/d1\n%s/d32\n%s/dh\n", tmpdir, tmpdir, tmpdir, tmpdir);
	return ok && write_file(tmp_path("ld.so.conf.hwcaps"), conf, strlen(conf));
}

static void test_ldconfig_caches(struct made *m)
{
	for (int f = 0; f < NCACHES; f++) {
		snprintf(m->path[f], sizeof m->path[f], "%s/%s", tmpdir, cache_files[f]);
		bool built = run_ldconfig(format_names[f], m->path[f], tmp_path(cache_confs[f]));
		m->buf[f] = built ? read_file(m->path[f], &m->len[f]) : NULL;
		if (!m->buf[f]) {
			CHECK_SKIP("ldconfig -c %s cannot write a cache here", format_names[f]);
			continue;
		}
		struct list l = { 0 };
		int r = parse_list(m->buf[f], m->len[f], &l);
		CHECK(r == 0, "parse the %s cache ldconfig -C wrote (%zu bytes)", cache_names[f], m->len[f]);
		char why[1024];
		CHECK(r == 0 && check_against_ldconfig(m->path[f], &l, why, sizeof why),
		      "%s: same entries, order and paths as ldconfig -p -C (%s)", cache_names[f], why);
		CHECK(sorted_for_loader(&l), "%s: keys in the loader's (descending) order", cache_names[f]);
		if (f == HWCAPS) {
			size_t ext = 0, legacy = 0;
			for (size_t i = 0; i < l.n; i++) {
				if (strncmp(l.e[i].key, "libvgpuhw.so.", 13) != 0)
					continue;
				ext += (l.e[i].hwcap >> 62 & 1) != 0;
				legacy += l.e[i].hwcap != 0 && !(l.e[i].hwcap >> 62 & 1);
			}
			printf("# ldconfig made %zu glibc-hwcaps and %zu legacy hwcap entries\n", ext, legacy);
			CHECK(ext + legacy > 0, "%s: hwcap entries to check the order with", cache_names[f]);
			free(l.e);
			continue;
		}

		/* Our temp-dir libraries are there, with the flags ldconfig gives. */
		const struct ldcache_entry *a = find_key(&l, "libvgpu.so.10", LDCACHE_FLAGS_X86_64);
		const struct ldcache_entry *b = find_key(&l, "libvgpu.so.1", LDCACHE_FLAG_ELF_LIBC6);
		const struct ldcache_entry *c = find_key(&l, "libvgpuelf.so.1", 1);
		char want[600];
		snprintf(want, sizeof want, "%s/d2/libvgpu.so.10", tmpdir);
		CHECK(a && strcmp(a->value, want) == 0 && b && c,
		      "%s: x86-64, i386 libc6 and i386 ELF entries of the temp dir found", cache_names[f]);
		free(l.e);
	}
}

/* Shuffles entries but keeps entries the ordering cannot tell apart in their
 * relative order (what ldconfig sees as its scan order). */
static bool same_sort_key(const struct ldcache_entry *a, const struct ldcache_entry *b)
{
	return ldcache_compare_keys(a->key, b->key) == 0 && a->flags == b->flags && a->hwcap == b->hwcap &&
	       a->osversion == b->osversion;
}

static void shuffle_keeping_ties(struct ldcache_entry *e, size_t n, uint64_t seed)
{
	size_t *orig = malloc(n * sizeof *orig);
	struct ldcache_entry *tmp = malloc(n * sizeof *tmp);
	if (!orig || !tmp)
		abort();
	for (size_t i = 0; i < n; i++)
		orig[i] = i;
	for (size_t i = n; i > 1; i--) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		size_t j = (size_t)(seed >> 33) % i;
		size_t t = orig[i - 1];
		orig[i - 1] = orig[j];
		orig[j] = t;
	}
	/* Within each group of ties, hand the group's slots out in original order. */
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			if (same_sort_key(&e[orig[i]], &e[orig[j]]) && orig[j] < orig[i]) {
				size_t t = orig[i];
				orig[i] = orig[j];
				orig[j] = t;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		tmp[i] = e[orig[i]];
	memcpy(e, tmp, n * sizeof *e);
	free(tmp);
	free(orig);
}

/* The writer sorts exactly as ldconfig does: entries of an ldconfig cache,
 * shuffled (ties kept in their scan order), come out in ldconfig's order. */
static void writer_order_for(const struct made *m, int f)
{
	if (!m->buf[f]) {
		CHECK_SKIP("no ldconfig-made %s cache to compare the writer's order with", cache_names[f]);
		return;
	}
	struct list ref = { 0 }, l = { 0 }, back = { 0 };
	parse_list(m->buf[f], m->len[f], &ref);
	parse_list(m->buf[f], m->len[f], &l);

	size_t ties = 0;
	for (size_t i = 1; i < ref.n; i++)
		ties += same_sort_key(&ref.e[i - 1], &ref.e[i]);
	bool ok = true;
	for (uint64_t seed = 1; seed <= 5 && ok; seed++) {
		shuffle_keeping_ties(l.e, l.n, seed);
		size_t len;
		unsigned char *buf = write_cache(l.e, l.n, &len);
		ok = buf && parse_list(buf, len, &back) == 0 && same_lists(&back, &ref);
		free(buf);
	}
	CHECK(ok, "writer, %s: shuffled entries come out in exactly ldconfig's order (%zu entries, %zu ties)",
	      cache_names[f], ref.n, ties);
	if (f == 0) {
		CHECK(ties >= 2, "the cache has tied entries to check (same soname in d2 and d1)");
		/* The tie order really is the scan order: d2 before d1. */
		const struct ldcache_entry *first = find_key(&ref, "libvgpu.so.1", LDCACHE_FLAGS_X86_64);
		CHECK(first && strstr(first->value, "/d2/") != NULL, "ldconfig lists the d2 entry of a tie first: %s",
		      first ? first->value : "(none)");
	}
	free(ref.e);
	free(l.e);
	free(back.e);
}

static void test_writer_order(const struct made *m)
{
	writer_order_for(m, 0);
	writer_order_for(m, HWCAPS);
}

/* ---- old and combined formats, assembled by hand ------------------------------- */

static void put32(unsigned char *b, size_t off, uint32_t v)
{
	b[off] = (unsigned char)v;
	b[off + 1] = (unsigned char)(v >> 8);
	b[off + 2] = (unsigned char)(v >> 16);
	b[off + 3] = (unsigned char)(v >> 24);
}

static uint32_t rd32_le(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void put64(unsigned char *b, size_t off, uint64_t v)
{
	put32(b, off, (uint32_t)v);
	put32(b, off + 4, (uint32_t)(v >> 32));
}

/* Old format: "ld.so-1.7.0" + pad, count, {flags, key, value} x n, strings
 * (offsets from the end of the table). */
static size_t make_old(unsigned char *b, const char *const (*kv)[2], const int32_t *flags, size_t n)
{
	memset(b, 0, 16);
	memcpy(b, "ld.so-1.7.0", 11);
	put32(b, 12, (uint32_t)n);
	size_t end = 16 + 12 * n, s = 0;
	for (size_t i = 0; i < n; i++) {
		put32(b, 16 + 12 * i, (uint32_t)flags[i]);
		for (int j = 0; j < 2; j++) {
			put32(b, 16 + 12 * i + 4 + 4 * (size_t)j, (uint32_t)s);
			size_t l = strlen(kv[i][j]) + 1;
			memcpy(b + end + s, kv[i][j], l);
			s += l;
		}
	}
	return end + s;
}

/* New header at b + h: magic, count, string length, flags, extension offset,
 * entries, then strings (offsets from the header). */
static size_t make_new(unsigned char *b, size_t h, const char *const (*kv)[2], const int32_t *flags,
		       const uint64_t *hwcap, size_t n)
{
	memset(b + h, 0, 48);
	memcpy(b + h, "glibc-ld.so.cache1.1", 20);
	put32(b, h + 20, (uint32_t)n);
	b[h + 28] = 2;  /* little endian */
	size_t str = 48 + 24 * n, s = str;
	for (size_t i = 0; i < n; i++) {
		size_t e = h + 48 + 24 * i;
		put32(b, e, (uint32_t)flags[i]);
		for (int j = 0; j < 2; j++) {
			put32(b, e + 4 + 4 * (size_t)j, (uint32_t)s);
			size_t l = strlen(kv[i][j]) + 1;
			memcpy(b + h + s, kv[i][j], l);
			s += l;
		}
		put32(b, e + 12, 0);
		put64(b, e + 16, hwcap ? hwcap[i] : 0);
	}
	put32(b, h + 24, (uint32_t)(s - str));
	return h + s;
}

static const char *const hand_kv[3][2] = {
	{ "libvgpu.so.10", "/opt/vgpu/libvgpu.so.10" },
	{ "libvgpu.so.9", "/opt/vgpu/libvgpu.so.9" },
	{ "libc.so.6", "/lib32/libc.so.6" },
};
static const int32_t hand_flags[3] = { LDCACHE_FLAGS_X86_64, LDCACHE_FLAGS_X86_64, LDCACHE_FLAG_ELF_LIBC6 };

static bool list_is_hand(const struct list *l, size_t n)
{
	if (l->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(l->e[i].key, hand_kv[i][0]) || strcmp(l->e[i].value, hand_kv[i][1]) ||
		    l->e[i].flags != hand_flags[i])
			return false;
	return true;
}

static void expect_prefixes_fail(const unsigned char *buf, size_t len, const char *what)
{
	size_t bad = 0, first = 0;
	for (size_t i = 0; i < len; i++) {
		if (ldcache_parse(buf, i, NULL, NULL) != -1) {
			if (!bad++)
				first = i;
		}
	}
	CHECK(bad == 0, "%s: all %zu truncations rejected (%zu accepted, first at %zu)", what, len, bad, first);
}

static void test_hand_made(void)
{
	unsigned char b[4096];
	struct list l = { 0 };
	char why[1024];

	size_t len = make_old(b, hand_kv, hand_flags, 3);
	CHECK(parse_list(b, len, &l) == 0 && list_is_hand(&l, 3), "old format by hand: 3 entries, strings after the table");
	CHECK(l.n == 3 && l.e[0].hwcap == 0 && l.e[0].osversion == 0, "old format: no hwcap, no osversion");
	if (ldconfig) {
		CHECK(write_file(tmp_path("hand.old"), b, len) &&
			      check_against_ldconfig(tmp_path("hand.old"), &l, why, sizeof why),
		      "old format by hand: ldconfig -p agrees (%s)", why);
	}
	expect_prefixes_fail(b, len, "old format by hand");

	/* Combined: old table (1 entry, so 28 bytes: the new header is padded to
	 * 32) with decoy strings, then the new header and table; the new one wins. */
	static const char *const decoy[1][2] = { { "libdecoy.so.1", "/decoy" } };
	memset(b, 0, sizeof b);
	make_old(b, decoy, hand_flags, 1);
	size_t end = 16 + 12, h = 32;
	/* make_old put the decoy strings where the new header goes: clear the
	 * padding, write the new part, then put the decoy strings after it and
	 * point the old entry there (old offsets count from the old table's end). */
	memset(b + end, 0, h - end);
	len = make_new(b, h, hand_kv, hand_flags, NULL, 3);
	size_t decoy_at = len;
	memcpy(b + decoy_at, "libdecoy.so.1\0/decoy", 21);
	len += 21;
	put32(b, 16 + 4, (uint32_t)(decoy_at - end));
	put32(b, 16 + 8, (uint32_t)(decoy_at + 14 - end));
	CHECK(parse_list(b, len, &l) == 0 && list_is_hand(&l, 3),
	      "combined format by hand: the new table (3 entries) is used, not the old (1)");
	if (ldconfig) {
		CHECK(write_file(tmp_path("hand.compat"), b, len) &&
			      check_against_ldconfig(tmp_path("hand.compat"), &l, why, sizeof why),
		      "combined format by hand: ldconfig -p agrees (%s)", why);
	}
	/* Break the new header's count: an error, not a fall back to the old table. */
	put32(b, h + 20, 0xffffffffu);
	CHECK(ldcache_parse(b, len, NULL, NULL) == -1, "combined format with a broken new header: -1");
	put32(b, h + 20, 3);
	/* Without the new magic it is an old file: the decoy entry. */
	b[h] = 'G';
	CHECK(parse_list(b, len, &l) == 0 && l.n == 1 && strcmp(l.e[0].key, "libdecoy.so.1") == 0,
	      "no new magic after the old table: read as the old format");

	/* New format with a glibc-hwcaps extension entry and an OS version. */
	static const uint64_t hw[3] = { 0, (1ull << 62) | 2, 0 };
	len = make_new(b, 0, hand_kv, hand_flags, hw, 3);
	put32(b, 48 + 24 + 12, 0x030200);
	CHECK(parse_list(b, len, &l) == 0 && list_is_hand(&l, 3) && l.e[1].hwcap == ((1ull << 62) | 2) &&
		      l.e[1].osversion == 0x030200,
	      "new format by hand: hwcap and osversion read");
	expect_prefixes_fail(b, len, "new format by hand");
	free(l.e);
}

/* ---- malformed input ---------------------------------------------------------------- */

static int expect_parse(const unsigned char *b, size_t len)
{
	return ldcache_parse(b, len, NULL, NULL);
}

static void test_malformed(const struct made *m)
{
	unsigned char b[4096], c[4096];
	size_t len = make_new(b, 0, hand_kv, hand_flags, NULL, 3);
	CHECK(expect_parse(b, len) == 0, "malformed: the unbroken buffer parses");
	CHECK(ldcache_parse(NULL, 10, NULL, NULL) == -1 && ldcache_parse(b, 0, NULL, NULL) == -1,
	      "malformed: NULL or empty buffer: -1");

#define BROKEN(what, edit)                                                 \
	do {                                                               \
		memcpy(c, b, len);                                         \
		edit;                                                      \
		CHECK(expect_parse(c, len) == -1, "malformed: %s: -1", what); \
	} while (0)
	BROKEN("bad magic", c[3] ^= 1);
	BROKEN("unknown version 1.2", c[19] = '2');
	BROKEN("big-endian flag", c[28] = 3);
	BROKEN("invalid endian flag", c[28] = 1);
	BROKEN("count 0xffffffff", put32(c, 20, 0xffffffffu));
	BROKEN("count whose * 24 wraps 32 bits", put32(c, 20, 0x0aaaaaabu));
	BROKEN("count one past the buffer", put32(c, 20, (uint32_t)(len - 48) / 24 + 1));
	BROKEN("string table longer than the file", put32(c, 24, (uint32_t)len));
	BROKEN("key offset past the end", put32(c, 48 + 4, (uint32_t)len));
	BROKEN("value offset 0xffffffff", put32(c, 48 + 24 + 8, 0xffffffffu));
	BROKEN("unterminated last string", c[len - 1] = 'x');
	BROKEN("extension offset past the end", put32(c, 32, (uint32_t)len + 4));
	BROKEN("misaligned extension offset", put32(c, 32, 2));
	BROKEN("extension with a bad magic", put32(c, 32, 48));
#undef BROKEN
	memcpy(c, b, len);
	c[28] = 0;
	CHECK(expect_parse(c, len) == 0, "malformed: endian flag unset (0) is accepted, as glibc does");

	/* A valid extension directory: magic, one section inside the file. */
	memcpy(c, b, len);
	size_t ext = (len + 3) & ~(size_t)3;
	memset(c + len, 0, ext - len);
	put32(c, ext, 0xeaa42174u);
	put32(c, ext + 4, 1);
	put32(c, ext + 8, 0);
	put32(c, ext + 12, 0);
	put32(c, ext + 16, (uint32_t)ext + 24);
	put32(c, ext + 20, 4);
	memcpy(c + ext + 24, "gen!", 4);
	put32(c, 32, (uint32_t)ext);
	CHECK(expect_parse(c, ext + 28) == 0, "extension directory inside the file: accepted");
	CHECK(expect_parse(c, ext + 27) == -1, "extension section running past the end: -1");
	put32(c, ext + 4, 0x10000000u);
	CHECK(expect_parse(c, ext + 28) == -1, "extension section count past the end: -1");

	/* Old format: counts and offsets. */
	len = make_old(b, hand_kv, hand_flags, 3);
	memcpy(c, b, len);
	put32(c, 12, 0xffffffffu);
	CHECK(expect_parse(c, len) == -1, "malformed old: count 0xffffffff: -1");
	memcpy(c, b, len);
	put32(c, 16 + 4, (uint32_t)len);
	CHECK(expect_parse(c, len) == -1, "malformed old: key offset past the end: -1");
	memcpy(c, b, len);
	c[len - 1] = 'x';
	CHECK(expect_parse(c, len) == -1, "malformed old: unterminated string: -1");

	/* Every prefix of real files. */
	for (int f = 0; f < NCACHES; f++) {
		if (!m->buf[f]) {
			CHECK_SKIP("no %s cache from ldconfig to truncate", cache_names[f]);
			continue;
		}
		char what[64];
		snprintf(what, sizeof what, "ldconfig's %s cache", cache_names[f]);
		expect_prefixes_fail(m->buf[f], m->len[f], what);
	}
}

static int stop_after_two(const struct ldcache_entry *e, void *ctx)
{
	int *seen = ctx;
	return ++*seen == 2 ? 7 : 0;
}

static void test_visit_stops(void)
{
	unsigned char b[1024];
	size_t len = make_new(b, 0, hand_kv, hand_flags, NULL, 3);
	int seen = 0;
	CHECK(ldcache_parse(b, len, stop_after_two, &seen) == 7 && seen == 2,
	      "visit's non-zero return stops the walk and is returned");
	CHECK(ldcache_parse(b, len, NULL, NULL) == 0, "visit NULL: only checks the buffer");
	seen = 0;
	b[len - 1] = 'x';
	CHECK(ldcache_parse(b, len, stop_after_two, &seen) == -1 && seen == 0,
	      "a damaged buffer is refused before any entry is visited");
}

/* ---- writer ----------------------------------------------------------------------- */

static void test_writer_basics(void)
{
	struct ldcache_entry e[2] = {
		{ LDCACHE_FLAGS_X86_64, "libvgpu.so.9", "/a/libvgpu.so.9", 0, 0 },
		{ LDCACHE_FLAGS_X86_64, "libvgpu.so.10", "/a/libvgpu.so.10", 0, 0 },
	};
	size_t need = ldcache_size(e, 2);
	CHECK(need == 48 + 2 * 24 + 13 + 16 + 14 + 17, "ldcache_size: header, entries, strings (%zu)", need);
	unsigned char buf[256];
	errno = 0;
	CHECK(ldcache_write(e, 2, buf, need - 1) == -1 && errno == ERANGE, "a buffer one byte short: -1, ERANGE");
	errno = 0;
	CHECK(ldcache_write(e, 2, NULL, 0) == -1 && errno == ERANGE, "no buffer: -1, ERANGE");
	CHECK(ldcache_write(e, 2, buf, need) == (long)need, "exact size: written");
	CHECK(strcmp(e[0].key, "libvgpu.so.10") == 0, "entries sorted in place (10 before 9)");
	struct list l = { 0 };
	CHECK(parse_list(buf, need, &l) == 0 && l.n == 2 && strcmp(l.e[0].key, "libvgpu.so.10") == 0,
	      "written cache parses, in sorted order");
	CHECK(buf[28] == 2 && rd32_le(buf + 32) == 0, "header: little-endian flag, no extension");

	struct ldcache_entry bad = { LDCACHE_FLAGS_X86_64, NULL, "/x", 0, 0 };
	errno = 0;
	CHECK(ldcache_size(&bad, 1) == 0 && ldcache_write(&bad, 1, buf, sizeof buf) == -1 && errno == EINVAL,
	      "NULL key: size 0, write -1 with EINVAL");

	size_t len = ldcache_size(NULL, 0);
	CHECK(len == 48 && ldcache_write(NULL, 0, buf, sizeof buf) == 48 && parse_list(buf, 48, &l) == 0 && l.n == 0,
	      "an empty cache: 48 bytes, parses to nothing");
	if (ldconfig) {
		struct printed p;
		bool ok = write_file(tmp_path("empty.cache"), buf, 48) && ldconfig_print(tmp_path("empty.cache"), &p) &&
			  p.count == 0;
		CHECK(ok, "ldconfig -p reads the empty cache: 0 libs");
		printed_free(&p);
	}
	free(l.e);
}

/* Runs the real loader with our cache bound over /etc/ld.so.cache, in a private
 * mount namespace of a child, and returns what `ld.so --preload NAME --list
 * /bin/true` prints (or NULL, with *skip set when this host cannot do it). */
static char *loader_sees(const char *cache, const char *name, const char **skip)
{
	static const char *const loaders[] = { "/lib64/ld-linux-x86-64.so.2",
					       "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" };
	const char *ld = NULL;
	for (size_t i = 0; i < 2 && !ld; i++)
		if (access(loaders[i], X_OK) == 0)
			ld = loaders[i];
	if (!ld || access("/bin/true", X_OK) != 0) {
		*skip = "no glibc x86-64 loader or /bin/true";
		return NULL;
	}
	int fds[2];
	if (pipe(fds) != 0) {
		*skip = "pipe failed";
		return NULL;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		if (unshare(CLONE_NEWNS) != 0)
			_exit(3);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
			_exit(3);
		if (cache && mount(cache, "/etc/ld.so.cache", NULL, MS_BIND, NULL) != 0)
			_exit(4);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		execl(ld, ld, "--preload", name, "--list", "/bin/true", (char *)NULL);
		_exit(5);
	}
	close(fds[1]);
	char *out = malloc(65536);
	size_t n = 0;
	ssize_t r;
	while (out && n < 65535 && (r = read(fds[0], out + n, 65535 - n)) > 0)
		n += (size_t)r;
	close(fds[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	if (!out)
		return NULL;
	out[n] = 0;
	if (WIFEXITED(status) && (WEXITSTATUS(status) == 3 || WEXITSTATUS(status) == 4)) {
		*skip = WEXITSTATUS(status) == 3 ? "cannot make a private mount namespace (not root?)"
						 : "cannot bind-mount over /etc/ld.so.cache";
		free(out);
		return NULL;
	}
	return out;
}

/* Splicing (ldcache_insert) gives what rewriting every entry gives (ldcache_write over
 * the parsed entries plus the added ones), and ldconfig -p reads it; an old-format cache
 * is not spliced (0: the launcher rewrites it instead). */
static const struct ldcache_entry splice_add[3] = {
	{ LDCACHE_FLAGS_X86_64, "libvgpu.so.1", "/opt/vgpu/libvgpu.so.1", 0, 0 },   /* ties with d1, d2 */
	{ LDCACHE_FLAGS_X86_64, "libzzz.so.1", "/opt/vgpu/libzzz.so.1", 0, 0 },     /* sorts first */
	{ LDCACHE_FLAGS_X86_64, "lib.so.1", "/opt/vgpu/lib.so.1", 0, 0 },           /* sorts last */
};

static bool splice_matches_rewrite(const unsigned char *buf, size_t len, unsigned char **spliced,
				   size_t *slen, char *why, size_t whylen)
{
	struct list l = { 0 }, a = { 0 }, b = { 0 };
	struct ldcache_entry add[3];
	memcpy(add, splice_add, sizeof add);
	*spliced = NULL;
	bool ok = parse_list(buf, len, &l) == 0;
	size_t need = ok ? ldcache_insert_size(buf, len, add, 3) : 0;
	unsigned char *out = need ? malloc(need) : NULL;
	ok = out && ldcache_insert(buf, len, add, 3, out, need) == (long)need &&
	     parse_list(out, need, &a) == 0;
	if (!ok)
		snprintf(why, whylen, "splice failed (size %zu)", need);
	struct ldcache_entry *all = malloc((l.n + 3) * sizeof *all);
	if (ok && all) {
		memcpy(all, l.e, l.n * sizeof *all);
		memcpy(all + l.n, splice_add, sizeof splice_add);
		size_t rlen;
		unsigned char *rewritten = write_cache(all, l.n + 3, &rlen);
		ok = rewritten && parse_list(rewritten, rlen, &b) == 0 && same_lists(&a, &b);
		if (!ok)
			snprintf(why, whylen, "spliced (%zu entries) and rewritten (%zu) differ", a.n, b.n);
		free(rewritten);
	}
	free(all);
	free(l.e);
	free(a.e);
	free(b.e);
	if (ok) {
		*spliced = out;
		*slen = need;
	} else {
		free(out);
	}
	return ok;
}

/* `ldconfig -p -C file` as it prints, without the first line (the count) and without
 * the lines of the spliced-in entries (their values are under /opt/vgpu/). */
static char *ldconfig_text(const char *file)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "%s -p -C '%s' 2>&1", ldconfig, file);
	FILE *f = popen(cmd, "r");
	if (!f)
		return NULL;
	size_t cap = 1 << 20, n = 0;
	char *text = malloc(cap), line[8192];
	bool first = true;
	while (text && fgets(line, sizeof line, f)) {
		size_t l = strlen(line);
		if (first || strstr(line, "=> /opt/vgpu/") || n + l >= cap) {
			first = false;
			continue;
		}
		memcpy(text + n, line, l);
		n += l;
	}
	if (pclose(f) != 0 || !text) {
		free(text);
		return NULL;
	}
	text[n] = 0;
	return text;
}

/* Spliced, a cache says all it said before to ldconfig -p (its generator line, the
 * glibc-hwcaps subdirectory of each such entry), and the loader picks the same
 * glibc-hwcaps library through it. */
static void check_extension_kept(const struct made *m, int f, const unsigned char *out, size_t len)
{
	char *before = ldconfig_text(m->path[f]);
	char *after = write_file(tmp_path("spliced"), out, len) ? ldconfig_text(tmp_path("spliced")) : NULL;
	CHECK(before && after && strcmp(before, after) == 0,
	      "%s cache + 3 entries: ldconfig -p prints the rest exactly as before (generator, hwcaps)",
	      cache_names[f]);
	if (f == HWCAPS && before) {
		CHECK(strstr(before, "hwcap: \"x86-64-v") != NULL,
		      "%s cache: ldconfig -p names glibc-hwcaps subdirectories to compare", cache_names[f]);
		const char *skip = NULL;
		char *want = loader_sees(m->path[f], "libvgpuhw.so.1", &skip);
		char *got = want ? loader_sees(tmp_path("spliced"), "libvgpuhw.so.1", &skip) : NULL;
		if (!got) {
			CHECK_SKIP("the loader check: %s", skip ? skip : "?");
		} else {
			/* "libvgpuhw.so.1 => PATH (0xADDRESS)": the address differs run to run. */
			const char *w = strstr(want, "libvgpuhw.so.1 =>"), *g = strstr(got, "libvgpuhw.so.1 =>");
			const char *wend = w ? strstr(w, " (0x") : NULL;
			size_t wl = wend ? (size_t)(wend - w) : 0;
			CHECK(wend && g && strncmp(w, g, wl) == 0 && strncmp(g + wl, " (0x", 4) == 0,
			      "the loader resolves libvgpuhw.so.1 to the same file through the spliced "
			      "cache (%.*s)", (int)wl, w ? w : "");
			printf("# the loader's choice: %.*s (%s)\n", (int)wl, w ? w : "",
			       w && strstr(w, "glibc-hwcaps") ? "a glibc-hwcaps subdirectory" : "no subdirectory this CPU takes");
		}
		free(want);
		free(got);
	}
	free(before);
	free(after);
}

static void test_insert(const struct made *m)
{
	char why[1024];
	for (int f = 0; f < NCACHES; f++) {
		if (!m->buf[f])
			continue;
		struct ldcache_entry add[3];
		memcpy(add, splice_add, sizeof add);
		if (f == 1) {
			CHECK(ldcache_insert_size(m->buf[f], m->len[f], add, 3) == 0 &&
			      ldcache_insert(m->buf[f], m->len[f], add, 3, NULL, 0) == -1 && errno == EINVAL,
			      "old-format cache: not spliced (0, EINVAL): rewritten instead");
			continue;
		}
		unsigned char *out;
		size_t len;
		snprintf(why, sizeof why, "ok");
		bool ok = splice_matches_rewrite(m->buf[f], m->len[f], &out, &len, why, sizeof why);
		CHECK(ok, "%s cache + 3 entries: spliced = rewritten (%s)", cache_names[f], why);
		if (ok && ldconfig) {
			struct list l = { 0 };
			parse_list(out, len, &l);
			CHECK(write_file(tmp_path("spliced"), out, len) &&
				      check_against_ldconfig(tmp_path("spliced"), &l, why, sizeof why),
			      "%s cache + 3 entries: ldconfig -p reads the spliced cache (%s)", cache_names[f], why);
			free(l.e);
			/* The combined form's extension is left out (as ldcache_write does). */
			if (f != 2)
				check_extension_kept(m, f, out, len);
		}
		if (ok) {
			errno = 0;
			CHECK(ldcache_insert(m->buf[f], m->len[f], add, 3, out, len - 1) == -1 && errno == ERANGE,
			      "%s cache: a buffer one byte short: -1, ERANGE", cache_names[f]);
		}
		free(out);
	}

	/* An extension with a section of a kind we do not know could hold offsets we
	 * would not move: the splice leaves the extension out (the entries still count). */
	if (m->buf[HWCAPS] && rd32_le(m->buf[HWCAPS] + 32) != 0) {
		size_t hl = m->len[HWCAPS];
		unsigned char *odd = malloc(hl);
		memcpy(odd, m->buf[HWCAPS], hl);
		put32(odd, rd32_le(odd + 32) + 8, 7);  /* the first section's tag */
		struct ldcache_entry add1[1] = { splice_add[0] };
		size_t need = ldcache_insert_size(odd, hl, add1, 1);
		unsigned char *out = need ? malloc(need) : NULL;
		struct list l = { 0 };
		CHECK(out && ldcache_insert(odd, hl, add1, 1, out, need) == (long)need &&
		      rd32_le(out + 32) == 0 && parse_list(out, need, &l) == 0 && l.n > 1,
		      "an extension section of an unknown kind: the splice leaves the extension out "
		      "(%zu entries)", l.n);
		free(l.e);
		free(out);
		free(odd);
	}

	/* Shapes ldconfig does not write: not spliced, so never spliced wrong. */
	unsigned char b[4096];
	size_t n = make_new(b, 0, hand_kv, hand_flags, NULL, 3);
	struct ldcache_entry add[1] = { splice_add[0] };
	CHECK(ldcache_insert_size(b, n, add, 1) == 48 + 4 * 24 + (n - 48 - 3 * 24) + 13 + 23,
	      "hand-made cache: spliced size is the header, 4 entries, both string tables");
	put32(b, 48 + 4, 2);  /* the first key now points into the entry table */
	CHECK(ldcache_parse(b, n, NULL, NULL) == 0 && ldcache_insert_size(b, n, add, 1) == 0,
	      "a key outside the string table: parses, but is not spliced");
	n = make_new(b, 0, hand_kv, hand_flags, NULL, 3);
	put32(b, 24, rd32_le(b + 24) - 1);  /* the string table no longer ends with a NUL */
	CHECK(ldcache_parse(b, n, NULL, NULL) == 0 && ldcache_insert_size(b, n, add, 1) == 0,
	      "a string table that does not end with a NUL: not spliced");
	n = make_new(b, 0, hand_kv, hand_flags, NULL, 3);
	struct ldcache_entry bad = { LDCACHE_FLAGS_X86_64, NULL, "/x", 0, 0 };
	CHECK(ldcache_insert_size(b, n, &bad, 1) == 0, "an added entry without a key: 0");
	CHECK(ldcache_insert_size(b, 20, add, 1) == 0 && ldcache_insert_size(NULL, 0, add, 1) == 0,
	      "a truncated cache, or none: 0");
}

static void test_writer_host(void)
{
	size_t hlen;
	unsigned char *host = read_file("/etc/ld.so.cache", &hlen);
	if (!host) {
		CHECK_SKIP("no /etc/ld.so.cache on this host");
		return;
	}
	struct list l = { 0 }, back = { 0 };
	int r = parse_list(host, hlen, &l);
	CHECK(r == 0 && l.n > 0, "host /etc/ld.so.cache parses (%zu entries)", l.n);
	if (r != 0) {
		free(host);
		return;
	}
	char why[1024];
	if (ldconfig)
		CHECK(check_against_ldconfig("/etc/ld.so.cache", &l, why, sizeof why),
		      "host cache: same entries as ldconfig -p (%s)", why);
	CHECK(sorted_for_loader(&l), "host cache: keys in the loader's order by ldcache_compare_keys");
	expect_prefixes_fail(host, hlen, "host cache");

	/* Round trip: parse, write, parse: the same entries in the same order. */
	struct list orig = { 0 };
	parse_list(host, hlen, &orig);
	size_t len;
	unsigned char *out = write_cache(l.e, l.n, &len);
	CHECK(out && parse_list(out, len, &back) == 0 && same_lists(&back, &orig),
	      "host cache round trip: parse, write, parse gives the same %zu entries in order", orig.n);
	if (ldconfig && out) {
		CHECK(write_file(tmp_path("host.rewritten"), out, len) &&
			      check_against_ldconfig(tmp_path("host.rewritten"), &back, why, sizeof why),
		      "ldconfig -p reads the rewritten host cache (%s)", why);
	}
	free(out);

	/* Add a probe library the way the launcher does: appended, then written. */
	const char *probe_src = NULL;
	for (size_t i = 0; i < l.n && !probe_src; i++)
		if (strcmp(l.e[i].key, "libm.so.6") == 0 && l.e[i].flags == LDCACHE_FLAGS_X86_64)
			probe_src = l.e[i].value;
	char probe[512];
	snprintf(probe, sizeof probe, "%s/probe/libvgpuprobe.so.1", tmpdir);
	mkdir(tmp_path("probe"), 0755);
	bool have_probe = probe_src && copy_file(probe_src, probe);
	struct ldcache_entry *more = malloc((orig.n + 1) * sizeof *more);
	memcpy(more, orig.e, orig.n * sizeof *more);
	more[orig.n] = (struct ldcache_entry){ LDCACHE_FLAGS_X86_64, "libvgpuprobe.so.1", probe, 0, 0 };
	out = write_cache(more, orig.n + 1, &len);
	r = out ? parse_list(out, len, &back) : -1;
	const struct ldcache_entry *found = r == 0 ? find_key(&back, "libvgpuprobe.so.1", LDCACHE_FLAGS_X86_64) : NULL;
	CHECK(found && strcmp(found->value, probe) == 0 && back.n == orig.n + 1,
	      "libvgpuprobe.so.1 added: %zu entries", back.n);
	CHECK(r == 0 && sorted_for_loader(&back), "with libvgpuprobe.so.1 the keys are still in the loader's order");
	if (ldconfig && out) {
		bool ok = write_file(tmp_path("host.probe"), out, len) &&
			  check_against_ldconfig(tmp_path("host.probe"), &back, why, sizeof why);
		CHECK(ok, "ldconfig -p lists the cache with libvgpuprobe.so.1 (%s)", why);
	}

	/* Spliced into the host's cache the way the launcher does it: the same as
	 * rewriting, and read by ldconfig -p. */
	unsigned char *spliced = NULL;
	size_t slen = 0;
	snprintf(why, sizeof why, "ok");
	CHECK(splice_matches_rewrite(host, hlen, &spliced, &slen, why, sizeof why),
	      "host cache + 3 entries: spliced = rewritten (%s)", why);
	free(spliced);

	/* And the real loader finds it through the cache. */
	if (!have_probe) {
		CHECK_SKIP("no x86-64 libm.so.6 in the host cache to copy as the probe library");
	} else if (out && write_file(tmp_path("host.probe"), out, len)) {
		const char *skip = NULL;
		char *without = loader_sees(NULL, "libvgpuprobe.so.1", &skip);
		char *with = without ? loader_sees(tmp_path("host.probe"), "libvgpuprobe.so.1", &skip) : NULL;
		if (!with) {
			CHECK_SKIP("the loader check: %s", skip ? skip : "?");
		} else {
			char want[600];
			snprintf(want, sizeof want, "libvgpuprobe.so.1 => %s", probe);
			CHECK(!strstr(without, want), "without our cache the loader does not find libvgpuprobe.so.1");
			CHECK(strstr(with, want) != NULL, "the glibc loader resolves libvgpuprobe.so.1 through our cache");
			CHECK(strstr(with, "libc.so.6 =>") != NULL, "... and still resolves libc.so.6");
		}
		free(without);
		free(with);
	}
	free(out);
	free(more);
	free(orig.e);
	free(back.e);
	free(l.e);
	free(host);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_compare_keys();
	test_visit_stops();
	test_writer_basics();

	ldconfig = find_ldconfig();
	if (!mkdtemp(tmpdir)) {
		CHECK(0, "mkdtemp %s: %s", tmpdir, strerror(errno));
		return check_done();
	}
	struct made m = { 0 };
	if (!ldconfig) {
		CHECK_SKIP("no ldconfig: caches cannot be built to compare with");
	} else {
		CHECK(build_lib_dirs(), "temp dirs of libraries built in %s", tmpdir);
		test_ldconfig_caches(&m);
		test_writer_order(&m);
	}
	test_hand_made();
	test_insert(&m);
	test_malformed(&m);
	test_writer_host();

	for (int f = 0; f < NCACHES; f++)
		free(m.buf[f]);
	/* TEST_LDCACHE_KEEP=1 leaves the temp dir for a look at what ldconfig saw. */
	if (getenv("TEST_LDCACHE_KEEP")) {
		printf("# kept %s\n", tmpdir);
		return check_done();
	}
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return check_done();
}

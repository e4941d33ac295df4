#include "launcher/discover.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launcher/ldcache.h"
#include "launcher/log.h"

const char *const driver_soname[LIB_COUNT] = { "libcuda.so.1", "libnvidia-ml.so.1" };
/* A file belongs to a library when its name starts so (libcuda.so.580.159.04, ...). */
static const char *const name_prefix[LIB_COUNT] = { "libcuda.so", "libnvidia-ml.so" };

#define LDCACHE_PATH "/etc/ld.so.cache"
#define LDCACHE_MAX_BYTES (64u << 20)

/* Where distributions and NVIDIA's installers put the driver. */
static const char *const standard_dirs[] = {
	"/lib64",
	"/usr/lib64",
	"/lib/x86_64-linux-gnu",
	"/usr/lib/x86_64-linux-gnu",
	"/usr/lib/x86_64-linux-gnu/nvidia/current",
	"/lib",
	"/usr/lib",
	"/usr/local/lib",
	"/usr/local/nvidia/lib64",   /* NVIDIA container toolkit, GKE */
	"/usr/lib/wsl/lib",          /* WSL */
	NULL,
};

/* The places Ollama (up to 0.12.3) globs for libcuda.so* (and we for libnvidia-ml.so*
 * too): it dlopens what they match, so each must be covered.  Only the directory part
 * is a glob here; each matching directory is then read like any other. */
static const char *const ollama_dir_globs[] = {
	"/usr/local/cuda*/targets/*/lib",
	"/usr/lib/*-linux-gnu/nvidia/current",
	"/usr/lib/*-linux-gnu",
	"/usr/lib/wsl/lib",
	"/usr/lib/wsl/drivers/*",
	"/opt/cuda/lib*",
	"/usr/local/cuda/lib*",
	"/usr/lib*",
	"/usr/local/lib*",
	NULL,
};

/* Directories are read once each: /lib and /usr/lib, or a glob and a standard
 * directory, are often the same directory, and the big ones cost the most. */
#define MAX_DIRS_READ 256

struct search {
	struct discovery *d;
	dev_t own_dev[2 * LIB_COUNT]; /* our shim and emulator files: never "the driver" */
	ino_t own_ino[2 * LIB_COUNT];
	unsigned nown;
	dev_t dir_dev[MAX_DIRS_READ];
	ino_t dir_ino[MAX_DIRS_READ];
	unsigned ndirs;
};

static int lib_of_name(const char *name, enum driver_lib *lib)
{
	for (int l = 0; l < LIB_COUNT; l++) {
		if (strncmp(name, name_prefix[l], strlen(name_prefix[l])) == 0) {
			*lib = (enum driver_lib)l;
			return 1;
		}
	}
	return 0;
}

/* An x86-64 ELF shared object (or executable: some drivers are linked as such)? */
static int is_elf_x86_64(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	Elf64_Ehdr eh;
	ssize_t n = pread(fd, &eh, sizeof eh, 0);
	close(fd);
	return n == (ssize_t)sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
	       eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_machine == EM_X86_64;
}

/* A name found by some rule: resolve it, check it, keep it once. */
static void consider(struct search *s, const char *found, const char *rule)
{
	struct discovery *d = s->d;
	enum driver_lib lib;
	const char *base = strrchr(found, '/');
	if (!lib_of_name(base ? base + 1 : found, &lib))
		return;

	struct stat st;
	if (stat(found, &st) != 0 || !S_ISREG(st.st_mode))
		return; /* a dangling link or something that is no file: nothing to cover */
	for (unsigned i = 0; i < s->nown; i++)
		if (st.st_dev == s->own_dev[i] && st.st_ino == s->own_ino[i])
			return;
	for (unsigned i = 0; i < d->nfiles; i++)
		if (d->files[i].dev == st.st_dev && d->files[i].ino == st.st_ino)
			return;

	char real[PATH_MAX];
	if (!realpath(found, real)) {
		verbose("ignoring %s (found by %s): %s", found, rule, strerror(errno));
		return;
	}
	if (!is_elf_x86_64(real)) {
		verbose("ignoring %s (found by %s): not an x86-64 ELF library", real, rule);
		return;
	}
	if (d->nfiles == DISCOVERY_MAX_FILES)
		die("more than %d NVIDIA driver files found (at %s); this is not a driver "
		    "installation vgpu-run understands", DISCOVERY_MAX_FILES, real);

	struct driver_file *f = &d->files[d->nfiles++];
	f->lib = lib;
	snprintf(f->path, sizeof f->path, "%s", real);
	snprintf(f->found, sizeof f->found, "%s", found);
	f->rule = rule;
	f->stub = strstr(real, "/stubs/") != NULL;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	verbose("found %s as %s (%s)", found, real, rule);
}

static int visit_ldcache_entry(const struct ldcache_entry *e, void *ctx)
{
	struct search *s = ctx;
	enum driver_lib lib;
	if ((e->flags & (LDCACHE_FLAG_TYPE_MASK | LDCACHE_FLAG_ARCH_MASK)) != LDCACHE_FLAGS_X86_64)
		return 0;
	if (!lib_of_name(e->key, &lib))
		return 0;
	if (strcmp(e->key, driver_soname[lib]) == 0)
		s->d->ldcache_has[lib] = 1;
	consider(s, e->value, "ld.so.cache");
	return 0;
}

static void search_ldcache(struct search *s)
{
	struct discovery *d = s->d;
	int fd = open(LDCACHE_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		verbose("no %s (%s): no loader cache to search", LDCACHE_PATH, strerror(errno));
		return;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > LDCACHE_MAX_BYTES)
		die("%s is not a loader cache vgpu-run can read (not a regular file of at most "
		    "%u MiB)", LDCACHE_PATH, LDCACHE_MAX_BYTES >> 20);
	size_t len = (size_t)st.st_size;
	unsigned char *buf = malloc(len ? len : 1);
	if (!buf)
		die("out of memory reading %s", LDCACHE_PATH);
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die_errno("cannot read %s", LDCACHE_PATH);
		got += (size_t)n;
	}
	close(fd);
	d->ldcache = buf;
	d->ldcache_len = len;
	if (ldcache_parse(buf, len, visit_ldcache_entry, s) != 0)
		die("%s is damaged (not an ld.so.cache vgpu-run can read); run ldconfig to "
		    "rebuild it", LDCACHE_PATH);
}

/* Linux's directory entry as getdents64 returns it. */
struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static void search_dir(struct search *s, const char *dir, const char *rule)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) == 0) {
		for (unsigned i = 0; i < s->ndirs; i++) {
			if (s->dir_dev[i] == st.st_dev && s->dir_ino[i] == st.st_ino) {
				close(fd);
				return;
			}
		}
		if (s->ndirs < MAX_DIRS_READ) {
			s->dir_dev[s->ndirs] = st.st_dev;
			s->dir_ino[s->ndirs] = st.st_ino;
			s->ndirs++;
		}
	}
	/* getdents64 with a large buffer rather than readdir(3): musl reads 2 KiB at a
	 * time, and the directories worth searching hold thousands of entries, so
	 * the number of system calls is most of vgpu-run's start-up time. */
	static unsigned char buf[64 << 10] __attribute__((aligned(8)));
	char path[PATH_MAX];
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *de = (struct linux_dirent64 *)(buf + off);
			off += de->d_reclen;
			enum driver_lib lib;
			if (!lib_of_name(de->d_name, &lib))
				continue;
			if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
				continue;
			consider(s, path, rule);
		}
	}
	close(fd);
}

static void search_path_list(struct search *s, const char *list, const char *rule)
{
	char dir[PATH_MAX];
	for (const char *p = list; p && *p; ) {
		const char *end = strchrnul(p, ':');
		size_t len = (size_t)(end - p);
		/* An empty entry is the current directory for the loader: search it too. */
		if (len < sizeof dir) {
			memcpy(dir, p, len);
			dir[len] = '\0';
			search_dir(s, len ? dir : ".", rule);
		}
		p = *end ? end + 1 : end;
	}
}

static void search_globs(struct search *s)
{
	for (const char *const *g = ollama_dir_globs; *g; g++) {
		glob_t gl;
		if (glob(*g, GLOB_NOSORT, NULL, &gl) == 0)
			for (size_t i = 0; i < gl.gl_pathc; i++)
				search_dir(s, gl.gl_pathv[i], "Ollama glob"); /* no-op on a file */
		globfree(&gl);
	}
}

static void remember_own(struct search *s, const char *lib_dir, const char *sub, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof path, "%s%s/%s", lib_dir, sub, name);
	if (stat(path, &st) == 0) {
		s->own_dev[s->nown] = st.st_dev;
		s->own_ino[s->nown] = st.st_ino;
		s->nown++;
	}
}

void discover_driver(const struct policy *p, const char *lib_dir, struct discovery *d)
{
	/* d is big (paths of every file) and comes zeroed (static): touching all of it
	 * would cost more page faults than the whole search. */
	d->nfiles = 0;
	static struct search s; /* big: not on the stack */
	memset(&s, 0, sizeof s);
	s.d = d;
	for (int l = 0; l < LIB_COUNT; l++) {
		remember_own(&s, lib_dir, "", driver_soname[l]);
		remember_own(&s, lib_dir, "/emulator", driver_soname[l]);
	}

	/* The order matters for the lower driver: what the loader would pick for a
	 * program with a clean environment comes first. */
	search_ldcache(&s);
	for (const char *const *dir = standard_dirs; *dir; dir++)
		search_dir(&s, *dir, "standard directory");
	for (unsigned i = 0; i < p->nsearch_paths; i++)
		search_dir(&s, p->search_paths[i], "policy driver-path");
	search_globs(&s);
	search_path_list(&s, getenv("LD_LIBRARY_PATH"), "LD_LIBRARY_PATH");
}

const struct driver_file *discover_lower(const struct discovery *d, enum driver_lib lib)
{
	for (unsigned i = 0; i < d->nfiles; i++)
		if (d->files[i].lib == lib && !d->files[i].stub)
			return &d->files[i];
	return NULL;
}

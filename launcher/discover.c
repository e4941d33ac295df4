#include "launcher/discover.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <fnmatch.h>
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
 * is a pattern here ('*' as in glob(3): any run of characters, not a leading dot);
 * each matching directory is then read like any other. */
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

/* Each directory is read once, whatever the rules that lead to it: /lib and /usr/lib,
 * or a pattern's parent and a standard directory, are often the same directory, and
 * reading one costs the kernel about half a microsecond an entry (ext4), which is
 * most of vgpu-run's start-up (docs/performance.md). */
struct listing {
	dev_t dev;
	ino_t ino;
	size_t off, len;  /* its getdents64 records in the search's arena */
	int searched;     /* its driver files are considered */
};

struct search {
	struct discovery *d;
	dev_t own_dev[2 * LIB_COUNT]; /* our shim and emulator files: never "the driver" */
	ino_t own_ino[2 * LIB_COUNT];
	unsigned nown;
	struct listing *dirs;  /* every directory read, however many LD_LIBRARY_PATH names */
	unsigned ndirs, dirs_cap;
	/* Every listing, one after another: one allocation, not one per directory (each
	 * was an mmap and a munmap). */
	unsigned char *arena;
	size_t arena_len, arena_cap;
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

/* The entry at offset off of the arena.  Listings are walked by offset, not pointer:
 * a pattern's listing is walked while deeper directories are read, and reading one
 * may move the arena. */
static const struct linux_dirent64 *dirent_at(const struct search *s, size_t off)
{
	return (const struct linux_dirent64 *)(s->arena + off);
}

/* The directory's listing (an index into s->dirs), read the first time any rule names
 * it; -1 when it cannot be read (missing, not a directory, no permission): nothing to
 * cover there. */
static int list_dir(struct search *s, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return -1;
	}
	for (unsigned i = 0; i < s->ndirs; i++) {
		if (s->dirs[i].dev == st.st_dev && s->dirs[i].ino == st.st_ino) {
			close(fd);
			return (int)i;
		}
	}
	if (s->ndirs == s->dirs_cap) {
		s->dirs_cap = s->dirs_cap ? 2 * s->dirs_cap : 64;
		s->dirs = realloc(s->dirs, s->dirs_cap * sizeof *s->dirs);
		if (!s->dirs)
			die("out of memory reading %s", dir);
	}
	size_t off = s->arena_len;
	/* getdents64 with a large buffer rather than readdir(3), which reads 2 KiB at a
	 * time: the big directories hold thousands of entries. */
	for (;;) {
		if (s->arena_cap - s->arena_len < (32 << 10)) {
			s->arena_cap = s->arena_cap ? 2 * s->arena_cap : 256 << 10;
			s->arena = realloc(s->arena, s->arena_cap);
			if (!s->arena)
				die("out of memory reading %s", dir);
		}
		long n = syscall(SYS_getdents64, fd, s->arena + s->arena_len, s->arena_cap - s->arena_len);
		if (n <= 0)
			break;
		s->arena_len += (size_t)n;
	}
	close(fd);
	s->dirs[s->ndirs] = (struct listing){
		.dev = st.st_dev, .ino = st.st_ino, .off = off, .len = s->arena_len - off,
	};
	return (int)s->ndirs++;
}

static void search_dir(struct search *s, const char *dir, const char *rule)
{
	int i = list_dir(s, dir);
	if (i < 0 || s->dirs[i].searched)
		return;
	s->dirs[i].searched = 1;
	char path[PATH_MAX];
	for (size_t off = s->dirs[i].off, end = off + s->dirs[i].len; off < end;) {
		const struct linux_dirent64 *de = dirent_at(s, off);
		off += de->d_reclen;
		enum driver_lib lib;
		if (!lib_of_name(de->d_name, &lib))
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
			continue;
		consider(s, path, rule);
	}
}

/* Searches every directory the pattern's components match, from dir (a path without
 * patterns) on; rest is what is left of the pattern ("" at its end). */
static void search_pattern(struct search *s, const char *dir, const char *rest)
{
	if (!*rest) {
		search_dir(s, dir, "Ollama glob");
		return;
	}
	const char *end = strchrnul(rest, '/');
	char part[NAME_MAX + 1];
	size_t plen = (size_t)(end - rest);
	if (plen > NAME_MAX)
		return;
	memcpy(part, rest, plen);
	part[plen] = '\0';
	const char *next = *end ? end + 1 : end;
	char path[PATH_MAX];

	if (!strchr(part, '*')) {
		if (snprintf(path, sizeof path, "%s/%s", dir, part) < (int)sizeof path)
			search_pattern(s, path, next);
		return;
	}
	int i = list_dir(s, dir);
	if (i < 0)
		return;
	for (size_t off = s->dirs[i].off, end_off = off + s->dirs[i].len; off < end_off;) {
		const struct linux_dirent64 *de = dirent_at(s, off);
		off += de->d_reclen;
		/* A directory, or what may lead to one (a link; a file system that does
		 * not give types): opening it as one decides. */
		if (de->d_type != DT_DIR && de->d_type != DT_LNK && de->d_type != DT_UNKNOWN)
			continue;
		if (fnmatch(part, de->d_name, FNM_PERIOD) != 0)
			continue;
		/* de is not used past this point: the next level may move the arena. */
		if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path)
			search_pattern(s, path, next);
	}
}

static void search_globs(struct search *s)
{
	for (const char *const *g = ollama_dir_globs; *g; g++)
		search_pattern(s, "", *g + 1); /* the patterns are absolute: "" is / */
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
	free(s.arena);
	free(s.dirs);
}

const struct driver_file *discover_lower(const struct discovery *d, enum driver_lib lib)
{
	for (unsigned i = 0; i < d->nfiles; i++)
		if (d->files[i].lib == lib && !d->files[i].stub)
			return &d->files[i];
	return NULL;
}

#include "launcher/runtime.h"
#include "shim/common/runtime_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "launcher/ldcache.h"
#include "launcher/log.h"
#include "launcher/mounts.h"
#include "shim/common/accounting.h"
#include "shim/common/fault_region.h"

#define LDCACHE_PATH "/etc/ld.so.cache"
/* The development names programs also dlopen (Ollama's globs, some Python bindings). */
static const char *const dev_name[LIB_COUNT] = { "libcuda.so", "libnvidia-ml.so" };

static void need_file(const char *path, const char *why)
{
	struct stat st;
	if (stat(path, &st) != 0)
		die("%s: %s; %s (is vgpu-run installed with `zig build install`, or is "
		    "--lib-dir right?)", path, strerror(errno), why);
	if (!S_ISREG(st.st_mode))
		die("%s: not a regular file; %s", path, why);
}

static void locate_lib_dir(const char *opt, char *out)
{
	char guess[PATH_MAX];
	if (opt) {
		snprintf(guess, sizeof guess, "%s", opt);
	} else {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (n < 0)
			die_errno("cannot find vgpu-run's own path (/proc/self/exe); give --lib-dir");
		exe[n] = '\0';
		snprintf(guess, sizeof guess, "%s/../lib/vgpu", dirname(exe));
	}
	if (!realpath(guess, out))
		die("library directory %s: %s; give --lib-dir DIR (the directory holding "
		    "libcuda.so.1, libnvidia-ml.so.1 and emulator/)", guess, strerror(errno));
}

void runtime_locate(const char *lib_dir_opt, struct runtime_plan *plan)
{
	memset(plan, 0, sizeof *plan);
	locate_lib_dir(lib_dir_opt, plan->lib_dir);
	snprintf(plan->run_dir, sizeof plan->run_dir, "%s/run", plan->lib_dir);
	struct stat st;
	if (stat(plan->run_dir, &st) != 0 || !S_ISDIR(st.st_mode))
		die("%s: missing or not a directory; it is the runtime dir's mount point "
		    "(reinstall vgpu-run, or mkdir it)", plan->run_dir);
}

void runtime_plan(const struct policy *p, const struct discovery *d, struct runtime_plan *plan)
{

	plan->lower_is_emulator = p->lower == POLICY_LOWER_EMULATOR;
	for (int l = 0; l < LIB_COUNT; l++) {
		snprintf(plan->shim[l], PATH_MAX, "%s/%s", plan->lib_dir, driver_soname[l]);
		need_file(plan->shim[l], "the shim covers the driver with it");
		if (plan->lower_is_emulator) {
			snprintf(plan->lower[l], PATH_MAX, "%s/emulator/%s", plan->lib_dir,
				 driver_soname[l]);
			need_file(plan->lower[l], "the emulator is the lower driver");
		} else {
			const struct driver_file *f = discover_lower(d, (enum driver_lib)l);
			if (f)
				snprintf(plan->lower[l], PATH_MAX, "%s", f->path);
		}
	}
	for (int l = 0; l < LIB_COUNT; l++) {
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof path, "%s/emulator/%s", plan->lib_dir, driver_soname[l]);
		plan->emulator_copy[l][0] = '\0';
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			snprintf(plan->emulator_copy[l], PATH_MAX, "%s", path);
	}
	plan->amend_ldcache = d->ldcache && (!d->ldcache_has[LIB_CUDA] || !d->ldcache_has[LIB_NVML]);
}

/* A new file in the runtime dir with exactly this mode (umask is not ours to obey
 * there: every process of the sandbox must be able to use it). */
static int create_file(const char *run_dir, const char *name, mode_t mode)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", run_dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0 || fchmod(fd, mode) != 0)
		die_errno("cannot create %s", path);
	return fd;
}

static void write_all(int fd, const void *buf, size_t len, const char *what)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die_errno("cannot write %s", what);
		p += n;
		len -= (size_t)n;
	}
}

struct entry_list {
	struct ldcache_entry *e;
	size_t n, cap;
};

static int collect_entry(const struct ldcache_entry *e, void *ctx)
{
	struct entry_list *list = ctx;
	if (list->n == list->cap) {
		list->cap = list->cap ? 2 * list->cap : 256;
		list->e = realloc(list->e, list->cap * sizeof *list->e);
		if (!list->e)
			die("out of memory copying " LDCACHE_PATH);
	}
	list->e[list->n++] = *e;
	return 0;
}

/* The host's cache with our sonames added for each library it does not name: then a
 * program finds a libcuda.so.1 by the default search even where no driver is installed.
 * Spliced into the host's cache (a copy and a few binary searches); an old-format cache
 * (ldconfig -c old) has every entry rewritten instead. */
static void write_amended_ldcache(const struct runtime_plan *plan, const struct discovery *d)
{
	struct ldcache_entry add[2 * LIB_COUNT];
	size_t nadd = 0;
	for (int l = 0; l < LIB_COUNT; l++) {
		if (d->ldcache_has[l])
			continue;
		const char *keys[2] = { driver_soname[l], dev_name[l] };
		for (int k = 0; k < 2; k++)
			add[nadd++] = (struct ldcache_entry){
				.flags = LDCACHE_FLAGS_X86_64,
				.key = keys[k],
				.value = plan->shim[l],
			};
	}

	unsigned char *buf;
	long len;
	struct entry_list list = { 0 };
	size_t size = ldcache_insert_size(d->ldcache, d->ldcache_len, add, nadd);
	if (size) {
		buf = malloc(size);
		len = buf ? ldcache_insert(d->ldcache, d->ldcache_len, add, nadd, buf, size) : -1;
	} else {
		if (ldcache_parse(d->ldcache, d->ldcache_len, collect_entry, &list) != 0)
			die(LDCACHE_PATH " changed while vgpu-run read it; try again");
		for (size_t i = 0; i < nadd; i++)
			collect_entry(&add[i], &list);
		size = ldcache_size(list.e, list.n);
		buf = malloc(size);
		len = buf ? ldcache_write(list.e, list.n, buf, size) : -1;
	}
	if (!buf)
		die("out of memory writing the amended loader cache");
	if (len < 0)
		die_errno("cannot build the amended loader cache");
	int fd = create_file(plan->run_dir, "ld.so.cache", 0444);
	write_all(fd, buf, (size_t)len, "the amended loader cache");
	close(fd);
	free(buf);
	free(list.e);
}

void runtime_create(const struct runtime_plan *plan, const struct policy *p,
		    const struct discovery *d)
{
	const char *run = plan->run_dir;
	/* noexec: nothing here is run; the driver/ binds keep their own mounts' flags. */
	if (mount(RUNTIME_TAG, run, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0755,size=16m,nr_inodes=256") != 0)
		die_errno("cannot mount the runtime dir (tmpfs) on %s", run);
	verbose("mounted the runtime dir on %s", run);

	int fd = create_file(run, "policy", 0444);
	if (policy_write_canonical(p, fd) < 0)
		die_errno("cannot write %s/policy", run);
	close(fd);

	fd = create_file(run, ACCOUNTING_FILE, 0666);
	struct accounting_header hdr = {
		.magic = ACCOUNTING_MAGIC,
		.version = ACCOUNTING_VERSION,
		.ngpus = p->ngpus,
		.region_size = ACCOUNTING_REGION_SIZE,
	};
	if (ftruncate(fd, ACCOUNTING_REGION_SIZE) != 0)
		die_errno("cannot size %s/" ACCOUNTING_FILE, run);
	write_all(fd, &hdr, sizeof hdr, "the accounting region");
	close(fd);

	/* Fault rules count calls and time over the whole sandbox (docs/faults.md). */
	if (p->nfaults) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		struct fault_region faults = {
			.magic = FAULT_MAGIC,
			.version = FAULT_VERSION,
			.nrules = p->nfaults,
			.start_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec,
		};
		fd = create_file(run, FAULT_FILE, 0666);
		if (ftruncate(fd, FAULT_REGION_SIZE) != 0)
			die_errno("cannot size %s/" FAULT_FILE, run);
		write_all(fd, &faults, sizeof faults, "the fault region");
		close(fd);
	}

	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/driver", run);
	if (mkdir(path, 0755) != 0)
		die_errno("cannot create %s", path);
	for (int l = 0; l < LIB_COUNT; l++) {
		if (!plan->lower[l][0])
			continue;
		snprintf(path, sizeof path, RUNTIME_LOWER_FILE_PREFIX "%s", driver_soname[l]);
		close(create_file(run, path, 0444));
		snprintf(path, sizeof path, "%s/" RUNTIME_LOWER_FILE_PREFIX "%s", run, driver_soname[l]);
		mount_file_readonly(plan->lower[l], path);
	}

	if (plan->amend_ldcache)
		write_amended_ldcache(plan, d);

	/* The policy is read by the shim of every process; none of them may change it. */
	snprintf(path, sizeof path, "%s/policy", run);
	mount_file_readonly(path, path);
}

void runtime_cover_driver(const struct runtime_plan *plan, const struct discovery *d)
{
	for (unsigned i = 0; i < d->nfiles; i++)
		mount_file_readonly(plan->shim[d->files[i].lib], d->files[i].path);
	/* After driver/ took its bind of the emulator (a bind holds the file, not the
	 * path): the installed copy is a driver like any other inside. */
	for (int l = 0; l < LIB_COUNT; l++)
		if (plan->emulator_copy[l][0])
			mount_file_readonly(plan->shim[l], plan->emulator_copy[l]);
	if (plan->amend_ldcache) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/ld.so.cache", plan->run_dir);
		mount_file_readonly(path, LDCACHE_PATH);
	}
}

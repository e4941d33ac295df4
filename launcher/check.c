#include "launcher/check.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher/discover.h"
#include "launcher/log.h"
#include "launcher/namespace.h"
#include "launcher/runtime.h"
#include "launcher/sandbox.h"
#include "launcher/target.h"
#include "policy/policy.h"
#include "shim/common/physical_gpus.h"

/* Big structs live here, not on the stack (as in main.c). */
static struct policy policy;
static struct discovery discovery;
static struct runtime_plan plan;

static unsigned nfailed;
static char failed_names[512];

/* One line: "ok: NAME: TEXT" or "not ok: NAME: TEXT".  Newlines in TEXT (from a file
 * name, say) become blanks: one check, one line. */
__attribute__((format(printf, 3, 4)))
static void report(int ok, const char *name, const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	for (char *c = text; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	printf("%s: %s: %s\n", ok ? "ok" : "not ok", name, text);
	if (!ok) {
		size_t len = strlen(failed_names);
		snprintf(failed_names + len, sizeof failed_names - len, "%s%s", len ? ", " : "", name);
		nfailed++;
	}
}

/* A sysctl as a number; -1 when this kernel has no such file. */
static long read_sysctl(const char *path)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

#define SYSCTL_USERNS_CLONE "/proc/sys/kernel/unprivileged_userns_clone"
#define SYSCTL_MAX_USERNS "/proc/sys/user/max_user_namespaces"
#define SYSCTL_APPARMOR_USERNS "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"

/* --- files --------------------------------------------------------------------------- */

/* 0 when path is a regular file this user can read; else -1 and why. */
static int usable_file(const char *path, char *why, size_t len)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, len, "%s: not a regular file", path);
		return -1;
	}
	if (access(path, R_OK) != 0) {
		snprintf(why, len, "%s: not readable by uid %u: %s", path, (unsigned)getuid(),
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* The lib dir as runtime_locate finds it, without dying: 0, or -1 and why. */
static int find_lib_dir(const char *opt, char *out, char *why, size_t len)
{
	char guess[PATH_MAX];
	if (opt) {
		snprintf(guess, sizeof guess, "%s", opt);
	} else {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (n < 0) {
			snprintf(why, len, "cannot find vgpu-run's own path (/proc/self/exe): %s; "
				 "give --lib-dir", strerror(errno));
			return -1;
		}
		exe[n] = '\0';
		snprintf(guess, sizeof guess, "%s/../lib/vgpu", dirname(exe));
	}
	if (!realpath(guess, out)) {
		snprintf(why, len, "%s: %s; give --lib-dir DIR (the directory holding "
			 "libcuda.so.1, libnvidia-ml.so.1 and emulator/)", guess, strerror(errno));
		return -1;
	}
	return 0;
}

/* Both libraries of LIBDIR/SUB: "ok" text listing them, or the first problem. */
static int check_pair(const char *lib_dir, const char *sub, char *text, size_t len)
{
	char path[LIB_COUNT][PATH_MAX];
	for (int l = 0; l < LIB_COUNT; l++) {
		snprintf(path[l], PATH_MAX, "%s%s/%s", lib_dir, sub, driver_soname[l]);
		if (usable_file(path[l], text, len) != 0)
			return -1;
	}
	snprintf(text, len, "%s, %s", path[LIB_CUDA], path[LIB_NVML]);
	return 0;
}

/* --- trials in a child ----------------------------------------------------------------- */

/* What a child reported: the markers it wrote ("+namespace user", ...), the last
 * "vgpu-run: ..." line (its die() message, without the prefix), how it ended. */
struct trial {
	char out[16384];
	char error[2048];
	int status;       /* from waitpid */
};

/* A line on stderr of the child (the pipe), in one write. */
static void marker(const char *text)
{
	char buf[PATH_MAX + 32];
	int n = snprintf(buf, sizeof buf, "%s\n", text);
	if (n > 0 && write(2, buf, (size_t)n) < 0)
		_exit(EXIT_VGPU_FAILED);
}

/* Runs fn(arg) in a forked child whose stderr is a pipe to us: what vgpu-run's own
 * code says when it fails (one "vgpu-run: ..." line, exit 125) is caught here. */
static void run_trial(void (*fn)(void *), void *arg, struct trial *t)
{
	memset(t, 0, sizeof *t);
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		die_errno("--check: cannot make a pipe");
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		die_errno("--check: cannot fork");
	if (pid == 0) {
		close(fds[0]);
		if (dup2(fds[1], 2) < 0)
			_exit(EXIT_VGPU_FAILED);
		log_verbose = 0;
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fds[0], t->out + got, sizeof t->out - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof t->out - 1) {
			char sink[512]; /* keep draining, or the child could block */
			while (read(fds[0], sink, sizeof sink) > 0)
				;
			break;
		}
	}
	close(fds[0]);
	t->out[got] = '\0';
	while (waitpid(pid, &t->status, 0) < 0 && errno == EINTR)
		;
	for (char *line = t->out; *line;) {
		char *end = strchrnul(line, '\n');
		if (strncmp(line, "vgpu-run: ", 10) == 0)
			snprintf(t->error, sizeof t->error, "%.*s", (int)(end - line - 10), line + 10);
		line = *end ? end + 1 : end;
	}
}

/* The line MARKER... the child wrote, or NULL; *rest gets what follows the marker. */
static int trial_has(const struct trial *t, const char *name, char *rest, size_t len)
{
	size_t n = strlen(name);
	for (const char *line = t->out; *line;) {
		const char *end = strchrnul(line, '\n');
		if (line[0] == '+' && strncmp(line + 1, name, n) == 0 &&
		    (line[1 + n] == '\n' || line[1 + n] == ' ' || line[1 + n] == '\0')) {
			if (rest) {
				const char *r = line + 1 + n;
				if (*r == ' ')
					r++;
				snprintf(rest, len, "%.*s", (int)(end - r), r);
			}
			return 1;
		}
		line = *end ? end + 1 : end;
	}
	return 0;
}

/* Why the child stopped: its message, or how it died. */
static const char *trial_why(const struct trial *t, char *buf, size_t len)
{
	if (t->error[0])
		return t->error;
	if (WIFSIGNALED(t->status))
		snprintf(buf, len, "killed by signal %d (%s)%s", WTERMSIG(t->status),
			 strsignal(WTERMSIG(t->status)),
			 WTERMSIG(t->status) == SIGSYS ? ": a seccomp filter around vgpu-run "
			 "(a container's profile, systemd's SystemCallFilter=) kills a system call "
			 "it needs" : "");
	else
		snprintf(buf, len, "failed with exit status %d and no message",
			 WIFEXITED(t->status) ? WEXITSTATUS(t->status) : -1);
	return buf;
}

struct rehearsal {
	int have_plan;   /* runtime dir and cover can be tried */
};

/* The launch itself, step by step as main.c does it, short of exec. */
static void rehearse(void *arg)
{
	const struct rehearsal *r = arg;
	int userns = namespace_enter();
	marker(userns ? "+namespace user" : "+namespace mount");
	if (r->have_plan) {
		runtime_create(&plan, &policy, &discovery);
		marker("+runtime");
		runtime_cover_driver(&plan, &discovery);
		marker("+cover");
	}
	sandbox_lock();
	marker("+lock");
}

/* vgpu-run's seccomp filter alone, in this process's namespace, and whether it works:
 * unshare(0) changes nothing and succeeds anywhere, but not under the filter. */
static void seccomp_trial(void *arg)
{
	(void)arg;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die_errno("cannot set no_new_privs");
	if (sandbox_load_filter() != 0)
		die_errno("cannot load the seccomp filter");
	marker("+loaded");
	if (unshare(0) == 0)
		die("the seccomp filter loaded but unshare(2) still succeeds under it");
	if (errno != EPERM)
		die_errno("under the seccomp filter, unshare(2) fails, but not with EPERM");
	marker("+works");
}

struct command_args {
	const char *name;
};

static void command_trial(void *arg)
{
	const struct command_args *c = arg;
	char path[PATH_MAX];
	char line[PATH_MAX + 16];
	target_resolve(c->name, path, sizeof path);
	snprintf(line, sizeof line, "+found %s", path);
	marker(line);
}

/* --- GPUs ------------------------------------------------------------------------------ */

/* The "Model:" of a GPU's information file, or "". */
static void gpu_model(const char *bus_id, char *out, size_t len)
{
	char path[PATH_MAX], buf[4096];
	out[0] = '\0';
	snprintf(path, sizeof path, "%s/%s/information", PHYSICAL_GPUS_DIR, bus_id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *line = buf; *line;) {
		char *end = strchrnul(line, '\n');
		if (strncmp(line, "Model:", 6) == 0) {
			char *v = line + 6;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			char *e = end;
			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			snprintf(out, len, "%.*s", (int)(e - v), v);
			return;
		}
		line = *end ? end + 1 : end;
	}
}

/* A size as a person writes it: 16G, 512M, 1536K, or bytes. */
static const char *size_text(const struct policy_memory *m, char *buf, size_t len)
{
	static const char unit[] = "TGMK";
	if (m->kind == POLICY_MEMORY_UNSET)
		return "all of its memory";
	if (m->kind == POLICY_MEMORY_PERCENT) {
		snprintf(buf, len, "%u%%", m->percent);
		return buf;
	}
	for (int i = 0; i < 4; i++) {
		uint64_t u = 1ull << (10 * (4 - i));
		if (m->bytes >= u && m->bytes % u == 0) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(m->bytes / u), unit[i]);
			return buf;
		}
	}
	snprintf(buf, len, "%llu bytes", (unsigned long long)m->bytes);
	return buf;
}

/* --- the checks ------------------------------------------------------------------------ */

void check_run(const struct cli *cli)
{
	char why[4096], text[4096], lib_dir[PATH_MAX] = "";
	int userns = namespace_needs_userns();

	printf("vgpu-run --check: can vgpu-run run here, as uid %u (gid %u)?\n",
	       (unsigned)getuid(), (unsigned)getgid());

	/* 1. The install: shim, emulator, the runtime mount point. */
	int lib_ok = find_lib_dir(cli->lib_dir, lib_dir, why, sizeof why) == 0;
	int shim_ok = 0, emulator_ok = 0, run_ok = 0;
	if (!lib_ok) {
		report(0, "lib dir", "%s", why);
	} else {
		shim_ok = check_pair(lib_dir, "", text, sizeof text) == 0;
		if (shim_ok)
			report(1, "shim", "%s", text);
		else
			report(0, "shim", "%s; reinstall vgpu-run (zig build install --prefix "
			       "PREFIX) or give the right --lib-dir", text);
		emulator_ok = check_pair(lib_dir, "/emulator", text, sizeof text) == 0;
		if (emulator_ok)
			report(1, "emulator", "%s", text);
		else
			report(0, "emulator", "%s; reinstall vgpu-run (zig build install --prefix "
			       "PREFIX) or give the right --lib-dir", text);
		char run[PATH_MAX + 8];
		struct stat st;
		snprintf(run, sizeof run, "%s/run", lib_dir);
		if (stat(run, &st) != 0)
			report(0, "runtime mount point", "%s: %s; it must exist before vgpu-run "
			       "starts (mkdir -m 755 %s as root, or reinstall)", run, strerror(errno), run);
		else if (!S_ISDIR(st.st_mode))
			report(0, "runtime mount point", "%s: not a directory; remove it and mkdir "
			       "-m 755 %s, or reinstall", run, run);
		else
			run_ok = 1;
	}

	/* 2. The policy, the driver behind it, and the GPUs. */
	char perr[POLICY_ERROR_MAX];
	int policy_ok = cli_policy(cli, &policy, perr, sizeof perr) == 0;
	if (!policy_ok)
		policy_init(&policy); /* the checks below go on with an empty policy */
	discover_driver(&policy, lib_dir, &discovery);
	const struct driver_file *lower_cuda = discover_lower(&discovery, LIB_CUDA);
	const struct driver_file *lower_nvml = discover_lower(&discovery, LIB_NVML);
	int chose_emulator = policy.lower == POLICY_LOWER_EMULATOR;
	if (policy_ok && policy.lower == POLICY_LOWER_AUTO && !lower_cuda) {
		for (unsigned i = 0; i < policy.ngpus; i++)
			if (policy.gpus[i].source != POLICY_SOURCE_EMULATED) {
				snprintf(perr, sizeof perr, "it selects real GPUs, but no NVIDIA "
					 "driver (libcuda.so) was found here; use emulated GPUs "
					 "(--emulate, --gpu emulated:PROFILE)");
				policy_ok = 0;
				break;
			}
		policy.lower = POLICY_LOWER_EMULATOR;
	}
	if (policy_ok && policy_validate(&policy, perr, sizeof perr) != 0)
		policy_ok = 0;
	if (!policy_ok) {
		policy_init(&policy);
		policy.lower = lower_cuda ? POLICY_LOWER_AUTO : POLICY_LOWER_EMULATOR;
		policy_validate(&policy, NULL, 0);
	}
	int emulator_lower = policy.lower == POLICY_LOWER_EMULATOR;

	static struct physical_gpu gpus[PHYSICAL_GPUS_MAX];
	int ngpus = physical_gpus_list(PHYSICAL_GPUS_DIR, gpus);
	int gpus_errno = ngpus < 0 ? errno : 0;
	if (policy_ok) {
		for (unsigned i = 0; i < policy.ngpus && policy_ok; i++) {
			const struct policy_gpu *g = &policy.gpus[i];
			if (g->source == POLICY_SOURCE_INDEX && (ngpus < 0 || g->index >= (unsigned)ngpus)) {
				snprintf(perr, sizeof perr, "GPU %u: no such GPU; this machine has %d "
					 "(nvidia-smi's indexes; /proc/driver/nvidia/gpus lists them)",
					 g->index, ngpus < 0 ? 0 : ngpus);
				policy_ok = 0;
			} else if (g->source == POLICY_SOURCE_UUID &&
				   (ngpus < 0 || physical_gpus_find_uuid(gpus, ngpus, g->uuid) < 0)) {
				snprintf(perr, sizeof perr, "GPU %s: no GPU with this UUID here; "
					 "`nvidia-smi -L` lists them", g->uuid);
				policy_ok = 0;
			}
		}
	}

	/* 3. Rehearse the launch: namespace, runtime dir, cover, lock. */
	int plan_ok = lib_ok && shim_ok && run_ok && (!emulator_lower || emulator_ok);
	if (plan_ok) {
		runtime_locate(lib_dir, &plan);
		runtime_plan(&policy, &discovery, &plan);
	}
	long max_userns = read_sysctl(SYSCTL_MAX_USERNS);
	long userns_clone = read_sysctl(SYSCTL_USERNS_CLONE);
	long apparmor_userns = read_sysctl(SYSCTL_APPARMOR_USERNS);
	char sysctls[256];
	int n = snprintf(sysctls, sizeof sysctls, "user.max_user_namespaces = %ld", max_userns);
	if (userns_clone >= 0)
		n += snprintf(sysctls + n, sizeof sysctls - (size_t)n,
			      ", kernel.unprivileged_userns_clone = %ld", userns_clone);
	if (apparmor_userns >= 0)
		snprintf(sysctls + n, sizeof sysctls - (size_t)n,
			 ", kernel.apparmor_restrict_unprivileged_userns = %ld", apparmor_userns);
	if (!userns)
		report(1, "user namespaces", "not needed: this process has CAP_SYS_ADMIN, a mount "
		       "namespace will do (%s)", sysctls);
	else if (max_userns == 0)
		report(0, "user namespaces", "this user needs one, and user.max_user_namespaces "
		       "is 0; as root: sysctl -w user.max_user_namespaces=15000 (and in "
		       "/etc/sysctl.d/), or run vgpu-run as root");
	else if (userns_clone == 0)
		report(0, "user namespaces", "this user needs one, and "
		       "kernel.unprivileged_userns_clone is 0; as root: sysctl -w "
		       "kernel.unprivileged_userns_clone=1 (and in /etc/sysctl.d/), or run "
		       "vgpu-run as root");
	else
		report(1, "user namespaces", "allowed for this user (%s)", sysctls);

	long seccomp_mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
	struct rehearsal r = { .have_plan = plan_ok };
	struct trial t;
	char rest[256], buf[512];
	run_trial(rehearse, &r, &t);
	const char *hint = "";
	if (userns && geteuid() == 0 && strstr(t.error, "uid_map"))
		hint = "; root without CAP_SYS_ADMIN gets a user namespace, and mapping uid 0 "
		       "into it takes CAP_SETFCAP (Linux 5.12 and later): keep CAP_SYS_ADMIN or "
		       "CAP_SETFCAP in the capability bounding set (systemd: "
		       "CapabilityBoundingSet=CAP_SETFCAP), or run vgpu-run as another user";
	else if (seccomp_mode == 2)
		hint = "; this process already runs under a seccomp filter (a container's "
		       "profile, systemd's RestrictNamespaces= or SystemCallFilter=, or another "
		       "vgpu-run): it must allow unshare and mount (see vgpu-run(1), SERVICES AND "
		       "CONTAINERS)";
	else if (userns && apparmor_userns == 1)
		hint = "; AppArmor restricts unprivileged user namespaces here "
		       "(kernel.apparmor_restrict_unprivileged_userns = 1): give vgpu-run an "
		       "AppArmor profile that allows userns, or run it as root";
	else if (userns)
		hint = "; run vgpu-run as root, or allow unprivileged user namespaces";
	if (trial_has(&t, "namespace", rest, sizeof rest)) {
		if (strcmp(rest, "user") == 0)
			report(1, "namespace", "a user and a mount namespace can be created (uid %u "
			       "and gid %u mapped to themselves)", (unsigned)getuid(), (unsigned)getgid());
		else
			report(1, "namespace", "a mount namespace can be created (CAP_SYS_ADMIN)");
	} else {
		/* Killed by a filter: trial_why says so already. */
		report(0, "namespace", "%s%s", trial_why(&t, buf, sizeof buf),
		       WIFSIGNALED(t.status) ? "" : hint);
	}
	int ns_ok = trial_has(&t, "namespace", NULL, 0);
	if (ns_ok && plan_ok) {
		if (trial_has(&t, "runtime", NULL, 0))
			report(1, "runtime dir", "a tmpfs mounted on %s and filled (policy, "
			       "accounting, driver/)", plan.run_dir);
		else
			report(0, "runtime dir", "%s", trial_why(&t, buf, sizeof buf));
	}
	if (ns_ok && plan_ok && trial_has(&t, "runtime", NULL, 0)) {
		unsigned copies = 0;
		for (int l = 0; l < LIB_COUNT; l++)
			copies += plan.emulator_copy[l][0] != '\0';
		if (trial_has(&t, "cover", NULL, 0))
			report(1, "cover", "the shim mounted over %u driver file%s and the emulator's "
			       "%u installed cop%s%s", discovery.nfiles, discovery.nfiles == 1 ? "" : "s",
			       copies, copies == 1 ? "y" : "ies",
			       plan.amend_ldcache ? ", and over /etc/ld.so.cache a copy naming "
			       "the shim" : "");
		else
			report(0, "cover", "%s", trial_why(&t, buf, sizeof buf));
	}
	if (ns_ok && (!plan_ok || trial_has(&t, "cover", NULL, 0))) {
		if (trial_has(&t, "lock", NULL, 0))
			report(1, "lock", "no_new_privs set, CAP_SYS_ADMIN dropped, the seccomp filter "
			       "loaded, as before COMMAND");
		else
			report(0, "lock", "%s", trial_why(&t, buf, sizeof buf));
	}

	/* 4. Seccomp on its own (even when no namespace can be made). */
	if (seccomp_mode < 0) {
		report(0, "seccomp", "this kernel has no seccomp (prctl PR_GET_SECCOMP: %s); "
		       "vgpu-run needs a kernel built with CONFIG_SECCOMP_FILTER", strerror(errno));
	} else {
		run_trial(seccomp_trial, NULL, &t);
		const char *now = seccomp_mode == 2 ? "this process already runs under a filter, "
						      "ours stacks on it" : "no filter on this process yet";
		if (trial_has(&t, "works", NULL, 0))
			report(1, "seccomp", "available (%s); vgpu-run's filter loads and stops "
			       "unshare(2)", now);
		else
			report(0, "seccomp", "%s (%s); vgpu-run needs a kernel built with "
			       "CONFIG_SECCOMP_FILTER, and seccomp(2) allowed", trial_why(&t, buf, sizeof buf), now);
	}

	/* 5. What is behind the shim. */
	if (chose_emulator) {
		report(1, "driver", "the emulator, as asked (%s/emulator); %s", lib_dir,
		       lower_cuda ? "the NVIDIA driver found here stays unused" : "no NVIDIA driver here");
	} else if (lower_cuda) {
		report(1, "driver", "libcuda.so.1 = %s (found as %s by %s), libnvidia-ml.so.1 = %s%s%s%s; "
		       "%u driver files will be covered",
		       lower_cuda->path, lower_cuda->found, lower_cuda->rule,
		       lower_nvml ? lower_nvml->path : "none (NVML clients such as nvidia-smi will fail)",
		       lower_nvml ? " (found by " : "", lower_nvml ? lower_nvml->rule : "",
		       lower_nvml ? ")" : "", discovery.nfiles);
	} else {
		report(1, "driver", "none: the emulator will be used (%s/emulator)", lib_dir);
	}
	if (ngpus > 0) {
		char list[3072];
		size_t used = 0;
		list[0] = '\0';
		for (int i = 0; i < ngpus && used < sizeof list; i++) {
			char model[128];
			gpu_model(gpus[i].bus_id, model, sizeof model);
			used += (size_t)snprintf(list + used, sizeof list - used, "%s%d = %s %s%s%s",
						 i ? ", " : "", i, gpus[i].bus_id, model[0] ? model : "",
						 model[0] ? " " : "", gpus[i].uuid);
		}
		report(1, "gpus", "%d in %s: %s", ngpus, PHYSICAL_GPUS_DIR, list);
	} else if (!emulator_lower) {
		report(0, "gpus", "the NVIDIA driver libraries are installed but the kernel lists "
		       "no GPU (%s: %s); load the nvidia kernel module, or in a container ask for a "
		       "GPU (docker run --gpus, nvidia.com/gpu); or use --emulate", PHYSICAL_GPUS_DIR,
		       ngpus < 0 ? strerror(gpus_errno) : "empty");
	} else {
		report(1, "gpus", "none (%s: %s): only the emulator's GPUs", PHYSICAL_GPUS_DIR,
		       ngpus < 0 ? strerror(gpus_errno) : "empty");
	}

	/* 6. The policy asked for, and COMMAND. */
	if (!policy_ok) {
		report(0, "policy", "%s", perr);
	} else {
		char list[3072], src[POLICY_UUID_MAX + 32], mem[64];
		size_t used = 0;
		list[0] = '\0';
		for (unsigned i = 0; i < policy.ngpus && used < sizeof list; i++) {
			const struct policy_gpu *g = &policy.gpus[i];
			const struct policy_memory *m = g->memory.kind ? &g->memory : &policy.memory;
			used += (size_t)snprintf(list + used, sizeof list - used, "%s%u = device %s "
						 "with %s%s%s%s", i ? "; " : "", i,
						 policy_source_text(g, src, sizeof src),
						 size_text(m, mem, sizeof mem), g->name[0] ? ", named \"" : "",
						 g->name, g->name[0] ? "\"" : "");
		}
		const char *from = cli->policy_path ? cli->policy_path : "";
		const char *colon = cli->policy_path ? ": " : "";
		int given = cli->policy_path || cli->ngpu_specs || cli->memory || cli->emulate;
		if (policy.ngpus == 0)
			report(1, "policy", "%s%severy GPU of this machine with %s%s", from, colon,
			       size_text(&policy.memory, mem, sizeof mem),
			       given ? "" : " (no policy given: the default)");
		else
			report(1, "policy", "%s%s%u GPU%s: %s%s", from, colon, policy.ngpus,
			       policy.ngpus == 1 ? "" : "s", list,
			       given ? "" : " (no policy given: the default)");
	}
	if (cli->command) {
		struct command_args c = { .name = cli->command[0] };
		run_trial(command_trial, &c, &t);
		if (trial_has(&t, "found", rest, sizeof rest))
			report(1, "command", "%s", rest);
		else
			report(0, "command", "%s", trial_why(&t, buf, sizeof buf));
	}

	if (nfailed == 0) {
		printf("vgpu-run can run here\n");
		fflush(stdout);
		exit(0);
	}
	fflush(stdout);
	die("--check: %u check%s not ok (%s): vgpu-run cannot run here as it is", nfailed,
	    nfailed == 1 ? "" : "s", failed_names);
}

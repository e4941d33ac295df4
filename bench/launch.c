/* bench_launch: whole-process time of commands, fork + exec + wait, timed with
 * CLOCK_MONOTONIC from just before fork to just after waitpid.  Variants run round by
 * round, interleaved (the first variant of each round rotates), so that noise on the
 * machine hits every variant alike.
 *
 *   bench_launch [-r ROUNDS] [-w WARMUP] [-t SECONDS] VARIANT [:: VARIANT]...
 *   VARIANT:  NAME [uid=N] [env=K=V]... [unset=K]... -- PATH [ARG]...
 *
 * PATH is executed as given (execve, no PATH search: give an absolute path).  uid=N
 * runs the command as user and group N with no supplementary groups, set in the child
 * before exec (what `setpriv --reuid=N --regid=N --clear-groups` does, without the cost
 * of exec'ing setpriv).  env= and unset= change the command's environment.  The
 * commands' stdout and stderr go to /dev/null; a first run of each variant, untimed,
 * keeps stderr and must exit 0, else the variant is reported failed with the first line
 * of what it said.  -t stops after that many seconds even if not all rounds ran.
 *
 * Output: one JSON object per variant per line:
 *   {"name": N, "ok": true, "ns": [...]}  or  {"name": N, "ok": false, "error": "..."} */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

extern char **environ;

struct variant {
	const char *name;
	long uid; /* -1: unchanged */
	char **argv;
	char **envp;
	int ok;
	char error[512];
	double *ns;
	size_t n;
};

static void usage(void)
{
	fprintf(stderr, "usage: bench_launch [-r ROUNDS] [-w WARMUP] [-t SECONDS] NAME [uid=N] [env=K=V]... "
			"[unset=K]... -- PATH [ARG]... [:: NAME ...]\n");
	exit(2);
}

/* environ with the changes of one variant. */
static char **make_env(char **sets, size_t nsets, char **unsets, size_t nunsets)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + nsets + 1, sizeof *env);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int drop = 0;
		for (size_t j = 0; j < nunsets && !drop; j++) {
			size_t l = strlen(unsets[j]);
			drop = strncmp(environ[i], unsets[j], l) == 0 && environ[i][l] == '=';
		}
		for (size_t j = 0; j < nsets && !drop; j++) {
			size_t l = (size_t)(strchr(sets[j], '=') - sets[j]);
			drop = strncmp(environ[i], sets[j], l + 1) == 0;
		}
		if (!drop)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < nsets; j++)
		env[k++] = sets[j];
	env[k] = NULL;
	return env;
}

/* Runs the variant once; returns the elapsed ns, or -1 with v->error set. */
static double run_once(struct variant *v, int keep_stderr)
{
	int errpipe[2] = { -1, -1 };
	if (keep_stderr && pipe2(errpipe, O_CLOEXEC) != 0) {
		snprintf(v->error, sizeof v->error, "pipe: %s", strerror(errno));
		return -1;
	}
	uint64_t t0 = bench_now_ns();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(v->error, sizeof v->error, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(keep_stderr ? errpipe[1] : null, 2);
		if (v->uid >= 0) {
			gid_t g = (gid_t)v->uid;
			uid_t u = (uid_t)v->uid;
			if (setgroups(0, NULL) != 0 || setresgid(g, g, g) != 0 || setresuid(u, u, u) != 0) {
				dprintf(2, "cannot become uid %ld: %s\n", v->uid, strerror(errno));
				_exit(125);
			}
		}
		execve(v->argv[0], v->argv, v->envp);
		dprintf(2, "exec %s: %s\n", v->argv[0], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	uint64_t t1 = bench_now_ns();
	if (keep_stderr) {
		close(errpipe[1]);
		char buf[4096];
		size_t got = 0;
		ssize_t r;
		while (got < sizeof buf - 1 && (r = read(errpipe[0], buf + got, sizeof buf - 1 - got)) > 0)
			got += (size_t)r;
		buf[got] = '\0';
		close(errpipe[0]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			char *nl = strchr(buf, '\n');
			if (nl)
				*nl = '\0';
			snprintf(v->error, sizeof v->error, "exit status %d: %s",
				 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), buf);
			return -1;
		}
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(v->error, sizeof v->error, "exit status %d during the timed rounds",
			 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		return -1;
	}
	return (double)(t1 - t0);
}

int main(int argc, char **argv)
{
	int rounds = 100, warmup = 10;
	double limit_s = 1e9;
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1] != '-'; i += 2) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "-r"))
			rounds = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-w"))
			warmup = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-t"))
			limit_s = atof(argv[i + 1]);
		else
			usage();
	}
	struct variant vs[32];
	size_t nv = 0;
	while (i < argc) {
		if (nv == 32)
			usage();
		struct variant *v = &vs[nv++];
		memset(v, 0, sizeof *v);
		v->uid = -1;
		v->name = argv[i++];
		char *sets[32], *unsets[32];
		size_t nsets = 0, nunsets = 0;
		for (; i < argc && strcmp(argv[i], "--"); i++) {
			if (!strncmp(argv[i], "uid=", 4))
				v->uid = atol(argv[i] + 4);
			else if (!strncmp(argv[i], "env=", 4) && strchr(argv[i] + 4, '=') && nsets < 32)
				sets[nsets++] = argv[i] + 4;
			else if (!strncmp(argv[i], "unset=", 6) && nunsets < 32)
				unsets[nunsets++] = argv[i] + 6;
			else
				usage();
		}
		if (i >= argc - 1)
			usage();
		i++; /* -- */
		int start = i;
		while (i < argc && strcmp(argv[i], "::"))
			i++;
		v->argv = calloc((size_t)(i - start + 1), sizeof *v->argv);
		memcpy(v->argv, argv + start, (size_t)(i - start) * sizeof *v->argv);
		v->envp = make_env(sets, nsets, unsets, nunsets);
		v->ns = calloc((size_t)rounds, sizeof *v->ns);
		if (i < argc)
			i++; /* :: */
	}
	if (nv == 0)
		usage();

	for (size_t k = 0; k < nv; k++)
		vs[k].ok = run_once(&vs[k], 1) >= 0;
	uint64_t deadline = bench_now_ns() + (uint64_t)(limit_s * 1e9);
	for (int r = -warmup; r < rounds && bench_now_ns() < deadline; r++) {
		for (size_t j = 0; j < nv; j++) {
			struct variant *v = &vs[((size_t)(r + warmup) + j) % nv];
			if (!v->ok)
				continue;
			double ns = run_once(v, 0);
			if (ns < 0)
				v->ok = 0;
			else if (r >= 0)
				v->ns[v->n++] = ns;
		}
	}
	for (size_t k = 0; k < nv; k++) {
		struct variant *v = &vs[k];
		printf("{\"name\": ");
		bench_json_string(stdout, v->name);
		if (v->ok) {
			printf(", \"ok\": true, \"ns\": ");
			bench_json_array(stdout, v->ns, v->n, "%.0f");
		} else {
			printf(", \"ok\": false, \"error\": ");
			bench_json_string(stdout, v->error);
		}
		printf("}\n");
	}
	return 0;
}

#include "launcher/plan.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void plan_print(const struct runtime_plan *plan, const struct discovery *d,
		const struct policy *p, int userns, const char *command_path, char **argv)
{
	printf("vgpu-run plan (dry run: nothing is changed)\n");
	printf("namespace: %s\n", userns ? "user + mount (unprivileged)" : "mount");
	for (int l = 0; l < LIB_COUNT; l++) {
		const char *lower = plan->lower[l][0] ? plan->lower[l] : "none";
		printf("lower %s: %s%s\n", driver_soname[l], lower,
		       plan->lower_is_emulator ? " (emulator)" : "");
	}
	printf("runtime dir: %s (tmpfs \"%s\")\n", plan->run_dir, RUNTIME_TAG);
	if (d->nfiles == 0)
		printf("driver files: none found\n");
	for (unsigned i = 0; i < d->nfiles; i++) {
		const struct driver_file *f = &d->files[i];
		printf("cover: %s with %s (found as %s by %s%s)\n", f->path, plan->shim[f->lib],
		       f->found, f->rule, f->stub ? "; a CUDA toolkit stub" : "");
	}
	for (int l = 0; l < LIB_COUNT; l++)
		if (plan->emulator_copy[l][0])
			printf("cover: %s with %s (the emulator's installed copy)\n",
			       plan->emulator_copy[l], plan->shim[l]);
	if (plan->amend_ldcache) {
		for (int l = 0; l < LIB_COUNT; l++)
			if (!d->ldcache_has[l])
				printf("cover: /etc/ld.so.cache with a copy naming %s -> %s\n",
				       driver_soname[l], plan->shim[l]);
	}
	printf("lock: no_new_privs, CAP_SYS_ADMIN dropped, seccomp filter (mount and namespace "
	       "system calls)\n");
	printf("exec: %s", command_path);
	for (char **a = argv + 1; *a; a++)
		printf(" %s", *a);
	printf("\npolicy:\n");
	char buf[sizeof(struct policy) * 2];
	int n = policy_format_canonical(p, buf, sizeof buf);
	for (char *line = buf; n > 0 && *line; ) {
		char *end = strchrnul(line, '\n');
		printf("%s%.*s\n", end > line ? "  " : "", (int)(end - line), line);
		line = *end ? end + 1 : end;
	}
	fflush(stdout);
}

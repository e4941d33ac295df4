/* Command line of vgpu-run: options, then COMMAND and its arguments. */
#ifndef VGPU_CLI_H
#define VGPU_CLI_H

#include "policy/policy.h"

struct cli {
	const char *policy_path;                 /* -p/--policy */
	const char *gpu_specs[POLICY_MAX_GPUS];  /* --gpu, in order */
	unsigned ngpu_specs;
	const char *memory;                      /* --memory */
	int emulate;                             /* --emulate[=PROFILE] */
	const char *emulate_profile;
	const char *lib_dir;                     /* --lib-dir; NULL: next to the executable */
	const char *trace;                       /* --trace FILE */
	const char *faults[POLICY_MAX_FAULTS];   /* --fault SPEC, in order */
	unsigned nfaults;
	int dry_run;
	int verbose;
	char **command;                          /* NULL-terminated: COMMAND ARG... */
};

/* Parses argv.  --help and --version print and exit 0; --check runs the checks of
 * check.h and exits; bad usage dies with 125. */
void cli_parse(int argc, char **argv, struct cli *out);

/* What cli_build_policy does, without dying: 0, or -1 with the one-line message (the
 * file:line or option at fault) in err. */
int cli_policy(const struct cli *cli, struct policy *p, char *err, size_t errlen);

/* The policy the command line asks for: the policy file (if any), then --gpu (which
 * replaces the file's [gpu] sections), --memory (every GPU's limit, over the file's),
 * --emulate.  Not yet validated.  Dies with the file:line or option at fault. */
void cli_build_policy(const struct cli *cli, struct policy *p);
#endif

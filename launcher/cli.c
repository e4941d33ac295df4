#include "launcher/cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/check.h"
#include "launcher/fault_names.h"
#include "launcher/log.h"
#include "launcher/trace_report.h"

#ifndef VGPU_VERSION
#define VGPU_VERSION "unknown"
#endif
#ifndef VGPU_COMMIT
#define VGPU_COMMIT "unknown"
#endif

static const char usage_text[] =
	"Usage: vgpu-run [OPTIONS] [--] COMMAND [ARG...]\n"
	"Run COMMAND, and every process it starts, with only the GPUs a policy describes.\n"
	"\n"
	"Options:\n"
	"  -p, --policy FILE      read the policy from FILE (see vgpu-policy(5))\n"
	"      --gpu SPEC         add a GPU; SPEC is SOURCE[,memory=SIZE][,name=NAME] where\n"
	"                         SOURCE is an index, a GPU-... UUID or emulated[:PROFILE];\n"
	"                         repeatable, replaces the policy file's [gpu] sections\n"
	"      --memory SIZE      memory limit of every GPU: 16G, 512M, ... or N% of the GPU\n"
	"      --emulate[=PROFILE]  use the software GPU even where a driver is installed\n"
	"                         (profiles: h200 (default), h100-80gb, a100-80gb, l4, t4,\n"
	"                         rtx-4090)\n"
	"      --lib-dir DIR      where the shim and emulator libraries are\n"
	"                         (default: $(dirname vgpu-run)/../lib/vgpu)\n"
	"      --dry-run          print the plan (driver files, runtime dir, policy) and exit\n"
	"      --check            check that vgpu-run can run here (namespaces, seccomp, driver,\n"
	"                         GPUs, installed files; with the policy options given, that\n"
	"                         policy too), one line each; exit 0 if it can, else 125\n"
	"      --trace FILE       record every CUDA and NVML call of every process in FILE\n"
	"                         (JSON lines; created or emptied first)\n"
	"      --trace-report FILE  print a summary of such a trace (calls, errors, time per\n"
	"                         function and process) and exit\n"
	"      --fault SPEC       make calls fail: FUNCTION:error=NAME[:nth=N|every=N|\n"
	"                         after-bytes=SIZE|after=T|p=P,seed=N], oom-after=SIZE,\n"
	"                         device-lost-after=T or slow=FUNCTION:DURATION; repeatable\n"
	"  -v, --verbose          say what is done, step by step\n"
	"  -h, --help             print this help and exit\n"
	"  -V, --version          print the version and the commit and exit\n"
	"\n"
	"Exit status: COMMAND's own (it replaces vgpu-run, keeping its PID); 125 if vgpu-run\n"
	"failed, 126 if COMMAND is not executable, 127 if COMMAND was not found.\n"
	"\n"
	"Examples:\n"
	"  vgpu-run --memory 16G -- ollama serve\n"
	"  vgpu-run --gpu 1,memory=8G,name=\"Test GPU\" -- python3 train.py\n"
	"  vgpu-run --emulate=t4 -- nvidia-smi\n"
	"  vgpu-run --check -p /etc/vgpu/ollama.conf\n"
	"  vgpu-run --trace calls.jsonl -- python3 app.py; vgpu-run --trace-report calls.jsonl\n"
	"  vgpu-run --fault 'cuMemAlloc*:error=CUDA_ERROR_OUT_OF_MEMORY:nth=3' -- ./app\n";

enum {
	OPT_GPU = 256, OPT_MEMORY, OPT_EMULATE, OPT_LIB_DIR, OPT_DRY_RUN, OPT_CHECK, OPT_TRACE,
	OPT_TRACE_REPORT, OPT_FAULT
};

static const struct option long_options[] = {
	{ "policy", required_argument, NULL, 'p' },
	{ "gpu", required_argument, NULL, OPT_GPU },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "emulate", optional_argument, NULL, OPT_EMULATE },
	{ "lib-dir", required_argument, NULL, OPT_LIB_DIR },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "trace-report", required_argument, NULL, OPT_TRACE_REPORT },
	{ "fault", required_argument, NULL, OPT_FAULT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

void cli_parse(int argc, char **argv, struct cli *out)
{
	int check = 0;
	memset(out, 0, sizeof *out);
	opterr = 0; /* our own messages: one line, with the exit code we document */
	for (;;) {
		int prev = optind;
		/* "+": stop at the first non-option, which is COMMAND (as env(1) does). */
		int c = getopt_long(argc, argv, "+:p:vhV", long_options, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'p':
			if (out->policy_path)
				die("--policy given twice; give one policy file");
			out->policy_path = optarg;
			break;
		case OPT_GPU:
			if (out->ngpu_specs == POLICY_MAX_GPUS)
				die("--gpu '%s': too many GPUs; at most %d", optarg, POLICY_MAX_GPUS);
			out->gpu_specs[out->ngpu_specs++] = optarg;
			break;
		case OPT_MEMORY:
			out->memory = optarg;
			break;
		case OPT_EMULATE:
			out->emulate = 1;
			out->emulate_profile = optarg;
			break;
		case OPT_LIB_DIR:
			out->lib_dir = optarg;
			break;
		case OPT_DRY_RUN:
			out->dry_run = 1;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case OPT_TRACE:
			out->trace = optarg;
			break;
		case OPT_TRACE_REPORT:
			exit(trace_report(optarg));
		case OPT_FAULT:
			if (out->nfaults == POLICY_MAX_FAULTS)
				die("--fault '%s': too many fault rules; at most %d", optarg, POLICY_MAX_FAULTS);
			out->faults[out->nfaults++] = optarg;
			break;
		case 'v':
			out->verbose = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'V':
			printf("vgpu-run %s (commit %s)\n", VGPU_VERSION, VGPU_COMMIT);
			exit(0);
		case ':':
			die("option '%s' needs a value; see vgpu-run --help", argv[prev]);
		default:
			die("unknown option '%s'; see vgpu-run --help", argv[prev]);
		}
	}
	if (check) {
		/* COMMAND is optional here: when given, --check looks it up too. */
		out->command = optind < argc ? argv + optind : NULL;
		check_run(out);
	}
	if (optind >= argc)
		die("no command given; usage: vgpu-run [OPTIONS] [--] COMMAND [ARG...]");
	out->command = argv + optind;
}

int cli_policy(const struct cli *cli, struct policy *p, char *err, size_t errlen)
{
	char why[POLICY_ERROR_MAX];
	policy_init(p);
	if (cli->policy_path && policy_parse_file(p, cli->policy_path, err, errlen) != 0)
		return -1;
	if (cli->memory) {
		struct policy_memory m;
		if (policy_parse_memory(cli->memory, &m, why, sizeof why) != 0) {
			snprintf(err, errlen, "--memory '%s': %s", cli->memory, why);
			return -1;
		}
		p->memory = m;
		/* The command line wins over the file: the file's own GPU limits give way. */
		for (unsigned i = 0; i < p->ngpus; i++)
			p->gpus[i].memory.kind = POLICY_MEMORY_UNSET;
	}
	if (cli->ngpu_specs) {
		p->ngpus = 0;
		for (unsigned i = 0; i < cli->ngpu_specs; i++)
			if (policy_add_gpu_spec(p, cli->gpu_specs[i], err, errlen) != 0)
				return -1;
	}
	if (cli->emulate && policy_set_emulate(p, cli->emulate_profile, why, sizeof why) != 0) {
		snprintf(err, errlen, "--emulate=%s: %s", cli->emulate_profile, why);
		return -1;
	}
	/* Fault rules: the file's, then --fault's; each pattern must name a function. */
	for (unsigned i = 0; i < p->nfaults; i++) {
		if (fault_names_check(&p->faults[i], why, sizeof why) != 0) {
			snprintf(err, errlen, "%s:%u: [fault] function: %s", cli->policy_path, p->faults[i].line, why);
			return -1;
		}
	}
	for (unsigned i = 0; i < cli->nfaults; i++) {
		if (policy_add_fault_spec(p, cli->faults[i], err, errlen) != 0)
			return -1;
		if (fault_names_check(&p->faults[p->nfaults - 1], why, sizeof why) != 0) {
			snprintf(err, errlen, "--fault '%s': %s", cli->faults[i], why);
			return -1;
		}
	}
	if (cli->trace) {
		/* Absolute: the shim of every process opens it, from wherever it runs. */
		char cwd[PATH_MAX], path[PATH_MAX + 8];
		if (cli->trace[0] != '/' && !getcwd(cwd, sizeof cwd)) {
			snprintf(err, errlen, "--trace '%s': cannot find the current directory: %s",
				 cli->trace, strerror(errno));
			return -1;
		}
		if (cli->trace[0] == '/')
			snprintf(path, sizeof path, "%s", cli->trace);
		else
			snprintf(path, sizeof path, "%s/%s", strcmp(cwd, "/") ? cwd : "", cli->trace);
		if (policy_set_trace(p, path, why, sizeof why) != 0) {
			snprintf(err, errlen, "--trace '%s': %s", cli->trace, why);
			return -1;
		}
	}
	return 0;
}

void cli_build_policy(const struct cli *cli, struct policy *p)
{
	char err[POLICY_ERROR_MAX];
	if (cli_policy(cli, p, err, sizeof err) != 0)
		die("%s", err);
}

/* vgpu-run: run COMMAND, and every process it starts, with only the GPUs a policy
 * describes.  One pass, top to bottom, as DESIGN.md's flow:
 *   1. the policy (file + flags) and the driver files; COMMAND found on PATH
 *   2. a private mount namespace and the runtime dir in it
 *   3. the shim over every driver file (and the loader cache when it lacks them)
 *   4. no_new_privs, CAP_SYS_ADMIN dropped, seccomp; exec COMMAND in place
 * Any failure prints one line and exits 125 (126/127 for COMMAND itself); the mount
 * namespace dies with this process, so a failure leaves nothing on the host. */
#include <limits.h>
#include <stdio.h>

#include "launcher/cli.h"
#include "launcher/discover.h"
#include "launcher/gpus.h"
#include "launcher/log.h"
#include "launcher/namespace.h"
#include "launcher/plan.h"
#include "launcher/runtime.h"
#include "launcher/sandbox.h"
#include "launcher/target.h"
#include "launcher/trace_file.h"
#include "policy/policy.h"

/* Big structs live here, not on the stack. */
static struct policy policy;
static struct discovery discovery;
static struct runtime_plan plan;

int main(int argc, char **argv)
{
	struct cli cli;
	char err[POLICY_ERROR_MAX];
	char command[PATH_MAX];

	/* 1. What to do. */
	cli_parse(argc, argv, &cli);
	log_verbose = cli.verbose;
	cli_build_policy(&cli, &policy);
	target_resolve(cli.command[0], command, sizeof command);
	runtime_locate(cli.lib_dir, &plan);
	discover_driver(&policy, plan.lib_dir, &discovery);
	if (policy.lower == POLICY_LOWER_AUTO && !discover_lower(&discovery, LIB_CUDA)) {
		for (unsigned i = 0; i < policy.ngpus; i++)
			if (policy.gpus[i].source != POLICY_SOURCE_EMULATED)
				die("the policy selects real GPUs, but no NVIDIA driver (libcuda.so) "
				    "was found here; use emulated GPUs (--emulate, --gpu emulated:PROFILE)");
		verbose("no NVIDIA driver found: the emulator is the lower driver");
		policy.lower = POLICY_LOWER_EMULATOR;
	}
	if (policy_validate(&policy, err, sizeof err) != 0)
		die("%s", err);
	gpus_check_policy(&policy);
	runtime_plan(&policy, &discovery, &plan);
	if (cli.dry_run) {
		plan_print(&plan, &discovery, &policy, namespace_needs_userns(), command, cli.command);
		return 0;
	}

	/* The trace file: the user's, made before the sandbox begins. */
	if (policy.trace[0])
		trace_file_create(&policy);

	/* 2. A mount namespace of our own, and the runtime dir in it. */
	namespace_enter();
	runtime_create(&plan, &policy, &discovery);

	/* 3. The shim over the driver. */
	runtime_cover_driver(&plan, &discovery);

	/* 4. Lock, and become COMMAND. */
	sandbox_lock();
	target_exec(command, cli.command);
}

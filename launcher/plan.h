/* --dry-run: what vgpu-run would do, in words, on stdout. */
#ifndef VGPU_PLAN_H
#define VGPU_PLAN_H

#include "launcher/discover.h"
#include "launcher/runtime.h"
#include "policy/policy.h"

void plan_print(const struct runtime_plan *plan, const struct discovery *d,
		const struct policy *p, int userns, const char *command_path, char **argv);

#endif

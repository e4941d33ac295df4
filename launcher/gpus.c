#include "launcher/gpus.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "launcher/log.h"
#include "shim/common/physical_gpus.h"

void gpus_check_policy(const struct policy *p)
{
	static struct physical_gpu gpus[PHYSICAL_GPUS_MAX];
	unsigned n = 0;
	int listed = 0;
	for (unsigned i = 0; i < p->ngpus; i++) {
		const struct policy_gpu *g = &p->gpus[i];
		if (g->source == POLICY_SOURCE_EMULATED)
			continue;
		if (!listed) {
			int got = physical_gpus_list(PHYSICAL_GPUS_DIR, gpus);
			if (got < 0)
				die("cannot list this machine's NVIDIA GPUs: %s: %s (is the nvidia "
				    "kernel module loaded?)", PHYSICAL_GPUS_DIR, strerror(errno));
			n = (unsigned)got;
			listed = 1;
		}
		if (g->source == POLICY_SOURCE_INDEX && g->index >= n)
			die("GPU %u: no such GPU; this machine has %u (indexes 0 to %d, as "
			    "nvidia-smi numbers them)", g->index, n, (int)n - 1);
		if (g->source == POLICY_SOURCE_UUID) {
			if (physical_gpus_find_uuid(gpus, (int)n, g->uuid) < 0)
				die("GPU %s: no GPU with this UUID here; `nvidia-smi -L` lists them",
				    g->uuid);
		}
	}
}

#include "launcher/gpus.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "launcher/log.h"

#define GPUS_DIR "/proc/driver/nvidia/gpus"
#define MAX_PHYSICAL_GPUS 64

struct physical_gpu {
	char bus_id[64];
	char uuid[POLICY_UUID_MAX];
};

static int by_bus_id(const void *a, const void *b)
{
	return strcmp(((const struct physical_gpu *)a)->bus_id, ((const struct physical_gpu *)b)->bus_id);
}

/* "GPU UUID: \t GPU-..." → the value, trimmed. */
static void read_uuid(const char *bus_id, char *uuid, size_t len)
{
	char path[512], line[512];
	snprintf(path, sizeof path, GPUS_DIR "/%s/information", bus_id);
	uuid[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "GPU UUID:", 9) != 0)
			continue;
		char *v = line + 9;
		v += strspn(v, " \t");
		v[strcspn(v, " \t\r\n")] = '\0';
		snprintf(uuid, len, "%s", v);
		break;
	}
	fclose(f);
}

static unsigned list_gpus(struct physical_gpu *gpus)
{
	DIR *dp = opendir(GPUS_DIR);
	if (!dp)
		die("cannot list this machine's NVIDIA GPUs: %s: %s (is the nvidia kernel module "
		    "loaded?)", GPUS_DIR, strerror(errno));
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(dp)) && n < MAX_PHYSICAL_GPUS) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(gpus[n].bus_id, sizeof gpus[n].bus_id, "%s", de->d_name);
		read_uuid(gpus[n].bus_id, gpus[n].uuid, sizeof gpus[n].uuid);
		n++;
	}
	closedir(dp);
	qsort(gpus, n, sizeof gpus[0], by_bus_id);
	return n;
}

void gpus_check_policy(const struct policy *p)
{
	static struct physical_gpu gpus[MAX_PHYSICAL_GPUS];
	unsigned n = 0;
	int listed = 0;
	for (unsigned i = 0; i < p->ngpus; i++) {
		const struct policy_gpu *g = &p->gpus[i];
		if (g->source == POLICY_SOURCE_EMULATED)
			continue;
		if (!listed) {
			n = list_gpus(gpus);
			listed = 1;
		}
		if (g->source == POLICY_SOURCE_INDEX && g->index >= n)
			die("GPU %u: no such GPU; this machine has %u (indexes 0 to %d, as "
			    "nvidia-smi numbers them)", g->index, n, (int)n - 1);
		if (g->source == POLICY_SOURCE_UUID) {
			unsigned k = 0;
			while (k < n && strcasecmp(gpus[k].uuid, g->uuid) != 0)
				k++;
			if (k == n)
				die("GPU %s: no GPU with this UUID here; `nvidia-smi -L` lists them",
				    g->uuid);
		}
	}
}

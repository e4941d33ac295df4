#include "shim/common/physical_gpus.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int by_bus_id(const void *a, const void *b)
{
	return strcmp(((const struct physical_gpu *)a)->bus_id,
		      ((const struct physical_gpu *)b)->bus_id);
}

/* "GPU UUID: \t GPU-..." → the value, trimmed; empty when absent. */
static void read_uuid(const char *dir, const char *bus_id, char *uuid, size_t len)
{
	char path[1024], line[512];
	snprintf(path, sizeof path, "%s/%s/information", dir, bus_id);
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

int physical_gpus_list(const char *dir, struct physical_gpu *gpus)
{
	DIR *dp = opendir(dir);
	if (!dp)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(dp)) && n < PHYSICAL_GPUS_MAX) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(gpus[n].bus_id, sizeof gpus[n].bus_id, "%s", de->d_name);
		read_uuid(dir, gpus[n].bus_id, gpus[n].uuid, sizeof gpus[n].uuid);
		n++;
	}
	closedir(dp);
	qsort(gpus, (size_t)n, sizeof gpus[0], by_bus_id);
	return n;
}

int physical_gpus_find_uuid(const struct physical_gpu *gpus, int n, const char *uuid)
{
	for (int k = 0; k < n; k++)
		if (gpus[k].uuid[0] && strcasecmp(gpus[k].uuid, uuid) == 0)
			return k;
	return -1;
}

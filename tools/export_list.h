/* Reading an export list (emulator/data/NAME.exports) for the build-time generators
 * tools/gen_stubs.c and tools/gen_forwarders.c: one C function name a line, # comments
 * and blank lines skipped, no name twice.  Header-only: each generator is one file
 * built for the build host. */
#ifndef VGPU_EXPORT_LIST_H
#define VGPU_EXPORT_LIST_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_LIST_MAX 8192

static int export_list_valid_name(const char *s)
{
	if (!isalpha((unsigned char)s[0]) && s[0] != '_')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

static int export_list_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fills names (EXPORT_LIST_MAX entries) in file order; returns how many, or -1 after
 * saying on stderr what is wrong (file:line). */
static int export_list_read(const char *path, char **names)
{
	FILE *in = fopen(path, "r");
	if (!in) {
		perror(path);
		return -1;
	}
	int n = 0;
	unsigned lineno = 0;
	char line[512];
	while (fgets(line, sizeof line, in)) {
		lineno++;
		line[strcspn(line, " \t\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (!export_list_valid_name(line)) {
			fprintf(stderr, "%s:%u: '%s' is not a C function name\n", path, lineno, line);
			return -1;
		}
		if (n == EXPORT_LIST_MAX) {
			fprintf(stderr, "%s:%u: more than %d names\n", path, lineno, EXPORT_LIST_MAX);
			return -1;
		}
		if (!(names[n++] = strdup(line))) {
			fprintf(stderr, "%s: out of memory\n", path);
			return -1;
		}
	}
	if (ferror(in)) {
		fprintf(stderr, "%s: read error\n", path);
		return -1;
	}
	fclose(in);
	if (n == 0) {
		fprintf(stderr, "%s: no names\n", path);
		return -1;
	}
	/* A name twice would be two definitions of one symbol: say which. */
	static char *sorted[EXPORT_LIST_MAX];
	memcpy(sorted, names, (size_t)n * sizeof *names);
	qsort(sorted, (size_t)n, sizeof *sorted, export_list_cmp);
	for (int i = 1; i < n; i++) {
		if (strcmp(sorted[i - 1], sorted[i]) == 0) {
			fprintf(stderr, "%s: '%s' is listed twice\n", path, sorted[i]);
			return -1;
		}
	}
	return n;
}

#endif

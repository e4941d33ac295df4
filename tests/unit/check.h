/* A tiny TAP producer for the C unit tests: each CHECK prints "ok N - what" or
 * "not ok N - what (file:line)"; check_done() prints the plan and returns the exit
 * status.  tests/run counts the lines of every suite, so one format serves C and bats. */
#ifndef VGPU_CHECK_H
#define VGPU_CHECK_H

#include <stdio.h>

static int check_count, check_failed;

#define CHECK(cond, ...)                                                              \
	do {                                                                          \
		int check_ok_ = !!(cond);                                             \
		check_count++;                                                        \
		if (!check_ok_)                                                       \
			check_failed++;                                               \
		printf("%sok %d - ", check_ok_ ? "" : "not ", check_count);           \
		printf(__VA_ARGS__);                                                  \
		if (!check_ok_)                                                       \
			printf(" (%s:%d: %s)", __FILE__, __LINE__, #cond);            \
		printf("\n");                                                         \
	} while (0)

/* A test that cannot run here: reported as skipped with the reason, never as passed. */
#define CHECK_SKIP(...)                                                               \
	do {                                                                          \
		check_count++;                                                        \
		printf("ok %d # skip ", check_count);                                 \
		printf(__VA_ARGS__);                                                  \
		printf("\n");                                                         \
	} while (0)

static inline int check_done(void)
{
	printf("1..%d\n", check_count);
	fflush(stdout);
	return check_failed ? 1 : 0;
}

#endif

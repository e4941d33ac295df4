/* COMMAND: found before anything is set up (so that a typo costs no namespace),
 * executed in place at the end (so that it keeps vgpu-run's PID). */
#ifndef VGPU_TARGET_H
#define VGPU_TARGET_H

#include <stddef.h>

/* Finds COMMAND as execvp(3) would: a name with a '/' as it is, else the first
 * executable file of that name along PATH.  Dies with 127 (not found) or 126 (found,
 * but not executable). */
void target_resolve(const char *command, char *path, size_t pathlen);

/* execv(path, argv); if that fails, dies with 126 or 127 as env(1) does. */
_Noreturn void target_exec(const char *path, char **argv);

#endif

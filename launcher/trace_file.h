/* The trace file of --trace FILE / trace = FILE (docs/tracing.md). */
#ifndef VGPU_TRACE_FILE_H
#define VGPU_TRACE_FILE_H

#include "policy/policy.h"

/* Creates p->trace, or empties it, as the user running vgpu-run and before the
 * sandbox begins (so it is theirs, made with their umask, outside any namespace),
 * then puts its real path (symlinks resolved) into p.  Dies (125) with one line when
 * it cannot, or when it is not a regular file. */
void trace_file_create(struct policy *p);

#endif

/* Step 4 of the flow: lock the namespace so COMMAND and its children cannot undo it.
 *
 * no_new_privs; CAP_SYS_ADMIN out of every capability set (bounding, effective,
 * permitted, inheritable, ambient); then a seccomp filter that makes every way of
 * changing mounts or entering or making namespaces fail (DESIGN.md, "Seccomp
 * filter"), for the x86-64, x32 and i386 system call ABIs alike.  Everything else is
 * allowed: CUDA programs, Python and Ollama must run unchanged. */
#ifndef VGPU_SANDBOX_H
#define VGPU_SANDBOX_H

#include <seccomp.h>

/* Builds the libseccomp part of the filter (not loaded).  NULL on failure, with the
 * reason in errno. */
scmp_filter_ctx sandbox_filter_build(void);

/* Loads the filters that libseccomp cannot express (system calls newer than its
 * table).  Returns 0 or -1 with errno. */
int sandbox_load_newer_syscalls_filter(void);

/* Both filters, built and loaded (no_new_privs must be set).  Dies with the reason. */
void sandbox_load_filters(void);

/* Everything: no_new_privs, capabilities, both filters.  Dies with the reason. */
void sandbox_lock(void);

#endif

/* Step 4 of the flow: lock the namespace so COMMAND and its children cannot undo it.
 *
 * no_new_privs; CAP_SYS_ADMIN out of every capability set (bounding, effective,
 * permitted, inheritable, ambient); then a seccomp filter that makes every way of
 * changing mounts or entering or making namespaces fail (DESIGN.md, "Seccomp
 * filter"), for the x86-64, x32 and i386 system call ABIs alike.  Everything else is
 * allowed: CUDA programs, Python and Ollama must run unchanged. */
#ifndef VGPU_SANDBOX_H
#define VGPU_SANDBOX_H

#include <linux/filter.h>

/* The filter, made at build time from launcher/seccomp_filter.c (tools/gen_seccomp.c). */
extern const struct sock_filter sandbox_program[];
extern const unsigned short sandbox_program_len;

/* Loads the filter (no_new_privs must be set).  Returns 0 or -1 with errno. */
int sandbox_load_filter(void);

/* Everything: no_new_privs, capabilities, the filter.  Dies with the reason. */
void sandbox_lock(void);

#endif

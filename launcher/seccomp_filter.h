/* The seccomp filter's rules, and the program they make.
 *
 * The rules never change at run time, so the program is made once, at build time:
 * tools/gen_seccomp.c calls seccomp_program_build and writes the instructions into a
 * C file that the launcher loads as they are (launcher/sandbox.c).  Building it with
 * libseccomp on every launch cost about 0.4 ms, a third of the launch budget
 * (docs/performance.md).  The tests build it the same way (tests/unit/test_sandbox.c). */
#ifndef VGPU_SECCOMP_FILTER_H
#define VGPU_SECCOMP_FILTER_H

#include <stddef.h>
#include <linux/filter.h>
#include <seccomp.h>

/* The libseccomp part of the filter (not loaded): the named groups for the x86-64,
 * x32 and i386 ABIs.  NULL on failure, with the reason in errno. */
scmp_filter_ctx seccomp_filter_build(void);

/* The whole program: a few instructions of our own for the system calls libseccomp
 * does not know, then libseccomp's.  Writes at most max instructions to out; returns
 * how many, or 0 with errno (E2BIG: max too small). */
size_t seccomp_program_build(struct sock_filter *out, size_t max);

#endif

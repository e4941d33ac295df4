/* vgpu-run --check: can vgpu-run run here, as this user, with this install?
 *
 * One line per check on stdout, "ok: WHAT: DETAIL" or "not ok: WHAT: WHY; WHAT TO DO":
 *   shim, emulator          the libraries in LIBDIR (present, regular, readable)
 *   runtime mount point     LIBDIR/run
 *   user namespaces         the sysctls that allow them (when this user needs one)
 *   namespace, runtime dir, cover, lock
 *                           a rehearsal of the real launch in a forked child, with the
 *                           same code: the namespace, the runtime dir on LIBDIR/run,
 *                           the shim over every driver file, no_new_privs + capabilities
 *                           + seccomp.  The child's namespace dies with it.
 *   seccomp                 the kernel has it, and vgpu-run's filter loads and works
 *   driver                  the lower driver discovered, or "none: the emulator"
 *   gpus                    /proc/driver/nvidia/gpus
 *   policy                  the policy the options give (--policy, --gpu, --memory,
 *                           --emulate), validated, its GPUs present on this machine
 *   command                 COMMAND, when one is given, found and executable
 * Then "vgpu-run can run here" and exit 0, or one line on stderr naming the checks
 * that failed and exit 125. */
#ifndef VGPU_CHECK_H
#define VGPU_CHECK_H

#include "launcher/cli.h"

_Noreturn void check_run(const struct cli *cli);

#endif

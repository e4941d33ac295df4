/* Whether a --fault / [fault] function pattern names any function of its API: the
 * exported names of libcuda.so.1 and libnvidia-ml.so.1 (generated from their export
 * lists by tools/gen_names.c). */
#ifndef VGPU_FAULT_NAMES_H
#define VGPU_FAULT_NAMES_H

#include "policy/policy.h"

/* 0, or -1 with "'PATTERN' matches no CUDA function (...)" in err. */
int fault_names_check(const struct policy_fault *f, char *err, size_t errlen);

#endif

/* Helpers shared by the policy sources; not part of the policy API. */
#ifndef VGPU_POLICY_INTERNAL_H
#define VGPU_POLICY_INTERNAL_H

#include <stddef.h>

/* vsnprintf into err, when the caller gave a buffer. */
void policy_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* strerror without shared state (the GNU and the XSI strerror_r alike). */
const char *policy_errtext(int e, char *buf, size_t buflen);

#endif

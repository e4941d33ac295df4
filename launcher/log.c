#include "launcher/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int log_verbose;

static void vline(const char *fmt, va_list ap, const char *suffix)
{
	/* One write per line, so that lines of several processes never interleave. */
	char buf[2048];
	int n = snprintf(buf, sizeof buf, "vgpu-run: ");
	n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	if (suffix)
		n += snprintf(buf + n, sizeof buf - (size_t)n, ": %s", suffix);
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	fwrite(buf, 1, (size_t)n, stderr);
	fflush(stderr);
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(fmt, ap, NULL);
	va_end(ap);
	exit(EXIT_VGPU_FAILED);
}

void die_errno(const char *fmt, ...)
{
	const char *reason = strerror(errno);
	va_list ap;
	va_start(ap, fmt);
	vline(fmt, ap, reason);
	va_end(ap);
	exit(EXIT_VGPU_FAILED);
}

void die_with(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(fmt, ap, NULL);
	va_end(ap);
	exit(code);
}

void verbose(const char *fmt, ...)
{
	if (!log_verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	vline(fmt, ap, NULL);
	va_end(ap);
}

void warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(fmt, ap, NULL);
	va_end(ap);
}

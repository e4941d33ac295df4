#include "emulator/common/unsupported.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int emu_unsupported(int *said, const char *name, int code)
{
	/* Several threads may arrive at once: exactly one of them says it. */
	if (__atomic_exchange_n(said, 1, __ATOMIC_RELAXED) == 0) {
		char line[256];
		int n = snprintf(line, sizeof line,
				 "vgpu emulator: %s is not supported (returns %d)\n", name, code);
		if (n > 0)
			(void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	}
	return code;
}

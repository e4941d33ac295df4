#include "launcher/trace_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher/log.h"

void trace_file_create(struct policy *p)
{
	char real[PATH_MAX], err[POLICY_ERROR_MAX];
	struct stat st;
	/* O_NONBLOCK: a FIFO must not hang us (it is refused below). */
	int fd = open(p->trace, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0666);
	if (fd < 0)
		die_errno("trace file %s: cannot create it", p->trace);
	if (fstat(fd, &st) != 0)
		die_errno("trace file %s", p->trace);
	if (!S_ISREG(st.st_mode))
		die("trace file %s: not a regular file; give the name of a file to write", p->trace);
	if (ftruncate(fd, 0) != 0)
		die_errno("trace file %s: cannot empty it", p->trace);
	close(fd);
	if (!realpath(p->trace, real))
		die_errno("trace file %s", p->trace);
	if (policy_set_trace(p, real, err, sizeof err) != 0)
		die("%s", err);
}

#include "shim/common/runtime_dir.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RUNTIME_TAG "vgpu"

/* mountinfo escapes space, tab, newline and backslash as \ooo; undo it in place. */
static void unescape(char *s)
{
	char *out = s;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/* One mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE
 * SOURCE SUPEROPTS".  Is it ours?  Then its mount point goes to buf. */
static int match_line(char *line, char *buf, size_t buflen)
{
	char *fields[6];
	char *save = NULL, *tok = strtok_r(line, " ", &save);
	unsigned n = 0;
	while (tok && n < 6) {
		fields[n++] = tok;
		tok = strtok_r(NULL, " ", &save);
	}
	if (n < 6)
		return -1;
	/* Skip the optional fields up to the separator. */
	while (tok && strcmp(tok, "-") != 0)
		tok = strtok_r(NULL, " ", &save);
	char *fstype = tok ? strtok_r(NULL, " ", &save) : NULL;
	char *source = fstype ? strtok_r(NULL, " ", &save) : NULL;
	/* The root field "/" : the tmpfs itself, not a bind of one file inside it. */
	if (!source || strcmp(fstype, "tmpfs") != 0 || strcmp(source, RUNTIME_TAG) != 0 ||
	    strcmp(fields[3], "/") != 0)
		return -1;
	unescape(fields[4]);
	if (strlen(fields[4]) >= buflen)
		return -1;
	strcpy(buf, fields[4]);
	return 0;
}

int runtime_dir_find(char *buf, size_t buflen)
{
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* Read line by line through a fixed buffer: mountinfo can be long. */
	char chunk[8192];
	size_t have = 0;
	int found = -1;
	for (;;) {
		ssize_t got = read(fd, chunk + have, sizeof chunk - 1 - have);
		if (got < 0)
			break;
		have += (size_t)got;
		chunk[have] = '\0';
		char *start = chunk, *nl;
		while ((nl = strchr(start, '\n'))) {
			*nl = '\0';
			if (found != 0 && match_line(start, buf, buflen) == 0)
				found = 0;
			start = nl + 1;
		}
		size_t rest = have - (size_t)(start - chunk);
		if (got == 0) {
			if (rest && found != 0 && match_line(start, buf, buflen) == 0)
				found = 0;
			break;
		}
		if (rest == sizeof chunk - 1)
			rest = 0; /* a line longer than the buffer is no mount of ours: drop it */
		memmove(chunk, start, rest);
		have = rest;
	}
	close(fd);
	return found;
}

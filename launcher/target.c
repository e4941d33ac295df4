#include "launcher/target.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher/log.h"

/* execvp's default when PATH is unset (glibc and musl agree on the directories). */
static const char default_path[] = "/usr/local/bin:/bin:/usr/bin";

/* 0: an executable regular file; else the errno that exec would meet. */
static int executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (access(path, X_OK) != 0)
		return errno;
	if (!S_ISREG(st.st_mode))
		return EACCES;
	return 0;
}

void target_resolve(const char *command, char *path, size_t pathlen)
{
	if (command[0] == '\0')
		die_with(EXIT_NOT_FOUND, "'': command not found");
	if (strchr(command, '/')) {
		int err = executable(command);
		if (err == ENOENT || err == ENOTDIR)
			die_with(EXIT_NOT_FOUND, "%s: %s", command, strerror(err));
		if (err)
			die_with(EXIT_NOT_EXECUTABLE, "%s: cannot execute: %s", command, strerror(err));
		if (snprintf(path, pathlen, "%s", command) >= (int)pathlen)
			die_with(EXIT_NOT_FOUND, "%s: %s", command, strerror(ENAMETOOLONG));
		return;
	}

	const char *search = getenv("PATH");
	if (!search)
		search = default_path;
	int denied = 0; /* as execvp: a match we may not execute is reported if nothing better */
	char denied_path[4096] = "";
	for (const char *dir = search;; ) {
		const char *end = strchrnul(dir, ':');
		size_t dlen = (size_t)(end - dir);
		/* An empty PATH entry means the current directory. */
		int n = dlen ? snprintf(path, pathlen, "%.*s/%s", (int)dlen, dir, command)
			     : snprintf(path, pathlen, "%s", command);
		if (n > 0 && (size_t)n < pathlen) {
			int err = executable(path);
			if (err == 0)
				return;
			if ((err == EACCES || err == EISDIR) && !denied) {
				denied = err;
				snprintf(denied_path, sizeof denied_path, "%s", path);
			}
		}
		if (*end == '\0')
			break;
		dir = end + 1;
	}
	if (denied)
		die_with(EXIT_NOT_EXECUTABLE, "%s: cannot execute: %s", denied_path, strerror(denied));
	die_with(EXIT_NOT_FOUND, "%s: command not found", command);
}

void target_exec(const char *path, char **argv)
{
	extern char **environ;
	execve(path, argv, environ);
	int err = errno;
	if (err == ENOENT || err == ENOTDIR)
		die_with(EXIT_NOT_FOUND, "%s: %s", path, strerror(err));
	die_with(EXIT_NOT_EXECUTABLE, "%s: cannot execute: %s", path, strerror(err));
}

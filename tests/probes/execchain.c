/* execchain N CMD [ARG...]: run CMD N processes down, each with an empty environment.
 *
 * With N > 0 it forks, and the child execs this same program (/proc/self/exe) as
 * "execchain N-1 CMD..." with envp = { NULL }; the parent waits and exits with the
 * child's status (128 + signal for a child killed by a signal, as shells report it).
 * With N == 0 it execs CMD, again with an empty environment (found through the
 * default search path, since PATH is unset by then).  So `execchain 3 whichlib
 * libcuda.so.1` runs whichlib as a great-grandchild whose ancestors all dropped their
 * environment: nothing but the filesystem can steer what it loads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *empty_env[] = { NULL };

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: execchain N CMD [ARG...]\n");
		return 2;
	}
	char *end;
	errno = 0;
	long n = strtol(argv[1], &end, 10);
	if (errno != 0 || *end != '\0' || end == argv[1] || n < 0 || n > 64) {
		fprintf(stderr, "execchain: bad level '%s'; expected 0..64\n", argv[1]);
		return 2;
	}

	if (n == 0) {
		execvpe(argv[2], argv + 2, empty_env);
		fprintf(stderr, "execchain: exec %s: %s\n", argv[2], strerror(errno));
		return errno == ENOENT ? 127 : 126;
	}

	char level[24];
	snprintf(level, sizeof level, "%ld", n - 1);
	char **child_argv = calloc((size_t)argc + 1, sizeof *child_argv);
	if (child_argv == NULL) {
		perror("execchain: calloc");
		return 1;
	}
	child_argv[0] = argv[0];
	child_argv[1] = level;
	for (int i = 2; i < argc; i++)
		child_argv[i] = argv[i];

	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("execchain: fork");
		return 1;
	}
	if (pid == 0) {
		execve("/proc/self/exe", child_argv, empty_env);
		fprintf(stderr, "execchain: exec /proc/self/exe: %s\n", strerror(errno));
		_exit(126);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("execchain: waitpid");
			return 1;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

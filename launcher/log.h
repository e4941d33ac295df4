/* Messages and exit codes of vgpu-run.
 *
 * Every failure is one line on stderr, "vgpu-run: WHAT: WHY", and one of the exit codes
 * env(1) uses, because vgpu-run execs COMMAND in place and must be told apart from it:
 * 125 vgpu-run itself failed, 126 COMMAND is not executable, 127 COMMAND was not found. */
#ifndef VGPU_LOG_H
#define VGPU_LOG_H

#define EXIT_VGPU_FAILED 125
#define EXIT_NOT_EXECUTABLE 126
#define EXIT_NOT_FOUND 127

extern int log_verbose;

/* "vgpu-run: " + message + newline, then exit(EXIT_VGPU_FAILED). */
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same with ": strerror(errno)" appended. */
_Noreturn void die_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same with a chosen exit code. */
_Noreturn void die_with(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line on stderr only under -v. */
void verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A warning: printed always, does not stop. */
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

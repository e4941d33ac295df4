/* The trace file (docs/tracing.md): one JSON object per call and line, written by every
 * process of the sandbox into the one file the policy names, opened O_APPEND.  Each
 * thread buffers its lines and writes whole lines only, with one write(2) per flush, so
 * lines of different threads and processes never interleave.  A flush happens when the
 * buffer is nearly full, when the thread ends, and when the process exits. */
#ifndef VGPU_SHIM_TRACE_H
#define VGPU_SHIM_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "shim/common/hook.h"

/* Opens the policy's trace file for appending (O_APPEND, O_CLOEXEC): 0, or -1 after
 * saying why in one line. */
int trace_open(struct shim_lib *l, const char *path);

/* One record of a finished call into thread t's buffer (flushed first when it would
 * not fit).  args: the JSON members of "args" (without braces), or NULL. */
void trace_record(struct shim_lib *l, struct hook_thread *t, unsigned slot, int64_t t_real,
		  int64_t ns, int result, int fault, const char *args, size_t argslen);

/* Writes what t has buffered (with one write(2)) and empties the buffer; the caller
 * holds the buffer's lock. */
void trace_flush(struct shim_lib *l, struct hook_thread *t);
/* The buffer's lock: its thread, or the flush at process exit. */
void trace_lock(struct hook_thread *t);
void trace_unlock(struct hook_thread *t);

/* JSON text helpers for the records (and hook.c's arguments): each appends to
 * buf[*len..cap) as much as fits and returns 0, or -1 when it did not fit. */
int trace_put(char *buf, size_t cap, size_t *len, const char *s, size_t n);
int trace_put_u64(char *buf, size_t cap, size_t *len, uint64_t v);
int trace_put_i64(char *buf, size_t cap, size_t *len, int64_t v);
int trace_put_hex(char *buf, size_t cap, size_t *len, uint64_t v);
/* A JSON string: "text" with quotes, backslashes, control characters and bytes above
 * 0x7f escaped as \uXXXX (so any bytes make valid JSON); at most max bytes of s. */
int trace_put_string(char *buf, size_t cap, size_t *len, const char *s, size_t max);

#endif

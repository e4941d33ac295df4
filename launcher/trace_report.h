/* vgpu-run --trace-report FILE (docs/tracing.md). */
#ifndef VGPU_TRACE_REPORT_H
#define VGPU_TRACE_REPORT_H

/* Prints the summary of the trace FILE on stdout (per process: calls, errors, total
 * and mean time per function) and returns 0; dies (125) with one line naming the file
 * (and line) when it cannot be read or is not a trace. */
int trace_report(const char *path);

#endif

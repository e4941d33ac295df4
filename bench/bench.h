/* Shared by the benchmark programs of bench/ (see docs/performance.md): a clock, the
 * few CUDA driver types they use, JSON output helpers, and callgrind's client requests
 * (so that instruction counts can be taken around exactly the measured loops). */
#ifndef VGPU_BENCH_H
#define VGPU_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The driver ABI, as cuda.h has it, for what the benchmarks call. */
typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUstream;
typedef unsigned long long CUdeviceptr;

/* Prints a JSON array of doubles. */
static inline void bench_json_array(FILE *f, const double *v, size_t n, const char *fmt)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		fprintf(f, fmt, v[i]);
	}
	fputc(']', f);
}

/* A JSON string: the characters the benchmarks print need only these escapes. */
static inline void bench_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* --- callgrind client requests (x86-64) ----------------------------------------------------
 * Valgrind recognises a magic no-op sequence (four rotations of %rdi that add up to 128
 * bits, then xchg %rbx,%rbx) and reads the request from the block %rax points at.  Run
 * natively the sequence does nothing and the default (0) comes back.  Request numbers:
 * callgrind's tool base is ('C' << 24 | 'T' << 16); zero-stats is +1, dump-stats-at +3. */
#define BENCH_CG_BASE 0x43540000UL
#define BENCH_CG_ZERO_STATS (BENCH_CG_BASE + 1)
#define BENCH_CG_DUMP_STATS_AT (BENCH_CG_BASE + 3)
#define BENCH_VG_RUNNING_ON_VALGRIND 0x1001UL

static inline unsigned long bench_vg_request(unsigned long request, unsigned long arg1)
{
	volatile unsigned long args[6] = { request, arg1, 0, 0, 0, 0 };
	unsigned long result = 0;
	__asm__ volatile("rolq $3, %%rdi ; rolq $13, %%rdi\n\t"
			 "rolq $61, %%rdi ; rolq $51, %%rdi\n\t"
			 "xchgq %%rbx, %%rbx"
			 : "=d"(result)
			 : "a"(&args[0]), "0"(result)
			 : "cc", "memory");
	return result;
}

static inline int bench_on_valgrind(void)
{
	return bench_vg_request(BENCH_VG_RUNNING_ON_VALGRIND, 0) != 0;
}

/* Counters to zero now; and a dump of what was counted since, labelled. */
static inline void bench_cg_zero(void)
{
	bench_vg_request(BENCH_CG_ZERO_STATS, 0);
}

static inline void bench_cg_dump(const char *label)
{
	bench_vg_request(BENCH_CG_DUMP_STATS_AT, (unsigned long)(uintptr_t)label);
}

#endif

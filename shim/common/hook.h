/* Hooks: every call a program makes through a shim library, seen on its way in and on
 * its way out, for tracing (--trace, docs/tracing.md) and fault injection (--fault,
 * docs/faults.md).  Off unless the policy asks for them: then nothing here runs at all
 * and the slots point at the lower driver as always.  With faults but no trace, only
 * the slots some rule matches are hooked, and only on the way in.
 *
 * Two ways in:
 *   - a forwarded function (slot i) whose slot points at hook thunk i
 *     (tools/gen_forwarders.c): the thunk calls hook_enter, which pushes the caller's
 *     return address on this thread's shadow stack and answers the target; the target
 *     returns to the thunk's landing, which calls hook_exit for the return address.
 *     Any signature passes: the thunk touches no argument.
 *   - an intercepted function (a strong definition of the shim): its first statement is
 *     SHIM_HOOKED(lib, name, parameters...), which records the call around a second
 *     call of the same function (that one runs the body) and names its arguments.
 *
 * Per thread and library: a shadow stack (the calls in progress, nesting allowed: a
 * callback may call in again) and the trace buffer (shim/common/trace.c). */
#ifndef VGPU_SHIM_HOOK_H
#define VGPU_SHIM_HOOK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct shim_lib;

#define HOOK_DEPTH 64          /* calls in progress on one thread, nested */
#define HOOK_ARGS_MAX 6        /* named arguments of an intercepted function */
#define HOOK_ARGS_TEXT 768     /* their JSON text */
#define HOOK_STRING_MAX 128    /* a const char * argument is shown up to this length */
#define TRACE_BUF_SIZE 65536   /* one thread's trace buffer */
#define TRACE_LINE_MAX 2048    /* one record, at most */

struct hook_frame {
	void *ret;             /* the caller's return address */
	void **where;          /* where it was on the caller's stack */
	unsigned slot;
	int64_t t_real;        /* CLOCK_REALTIME at entry, ns */
	int64_t t_mono;        /* CLOCK_MONOTONIC at entry, ns */
	int fault;             /* the call was made to fail */
};

/* One thread's state for one library. */
struct hook_thread {
	struct hook_thread *next;   /* the library's list of threads (under reg_lock) */
	pid_t tid;
	size_t wholen;              /* who: ,"pid":P,"tid":T,"api":"cuda","fn": (0: to make) */
	char who[96];
	int pass_slot;              /* SHIM_HOOKED: slot + 1 of the call that runs its body */
	unsigned depth;
	struct hook_frame frames[HOOK_DEPTH];
	int lock;                   /* the buffer's: this thread, or a flush at exit */
	size_t len;
	char buf[TRACE_BUF_SIZE];
};

/* A library's hook state, in struct shim_lib (.hook).  The first three fields are set
 * by the library; the rest by start-up (hook_start) when the policy asks for hooks. */
struct hook_lib {
	const char *tag;            /* "cuda", "nvml": the records' "api" */
	int api;                    /* enum api_kind: which fault rules are this library's */
	const char *(*result_name)(int code); /* a status code's name, NULL if unknown */
	const char *const *no_status; /* name prefixes of functions that return no status */

	int on;                     /* atomic: 1 when hooks are on (read by SHIM_HOOKED) */
	int trace_on;               /* calls are recorded */
	uint32_t *fault_mask;       /* per hook slot: the fault rules that match it (bits) */
	struct fault_region *faults; /* RUNDIR/faults, mapped shared */
	int oom_rule;               /* 1 + the oom-after rule's index, 0: none */
	int trace_fd;
	char trace_path[4096];
	dev_t trace_dev;            /* the file trace_fd is: checked before each write */
	ino_t trace_ino;
	int exiting;                /* atomic: after the process-exit flush, write at once */
	int write_failed;           /* atomic: said once */
	pid_t pid;
	pthread_key_t key;          /* the thread's struct hook_thread: freed at its exit */
	pthread_mutex_t reg_lock;   /* threads, spare names */
	pthread_mutex_t fd_lock;    /* reopening the trace file (taken under a buffer's lock) */
	struct hook_thread *threads;
	void **target;              /* per hook slot: what the thunk calls */
	const char **name;          /* per hook slot */
	unsigned char *no_status_slot; /* per hook slot: 1 when it returns no status */
	unsigned nspare_used;       /* spare slots given out (after fwd->count) */
};

/* Start-up: hooks on when the policy says so (a trace file, fault rules).  Opens the
 * trace file (a process that cannot, says so once and runs untraced) and the fault
 * region.  0: hooks on; 1: nothing to hook; -1 with why: the fault region is
 * missing or wrong (a damaged runtime dir). */
int hook_start(struct shim_lib *l, char *why, size_t whylen);

/* Whether a slot leads through its hook thunk: tracing, or a fault rule matches it. */
int hook_slot_hooked(const struct shim_lib *l, unsigned slot);

/* The thunk's calls (tools/gen_forwarders.c), through each library's
 * vgpu_<prefix>_hook_enter/exit. */
struct hook_go {
	void *target;               /* %rax: where the thunk jumps */
	uintptr_t hooked;           /* %rdx: 1 when the return comes to the landing */
};
struct hook_go hook_enter(struct shim_lib *l, unsigned slot, void **where);
void *hook_exit(struct shim_lib *l, int64_t result, void **landing_sp);

/* The hook thunk that calls fn under the name of slot (a function of the lower that is
 * none of its exports: cuGetProcAddress may hand one out), allocating a spare thunk
 * for it once; fn itself when the spares are used up. */
void *hook_thunk_for(struct shim_lib *l, int slot, const char *name, void *fn);

/* Everything buffered, written: at process exit (the libraries' destructors), after
 * which every record is written at once. */
void hook_process_exit(struct shim_lib *l);

/* --- SHIM_HOOKED ------------------------------------------------------------------- */

struct hook_call {
	void *fn;                   /* what to call: the intercepted function itself, or the
				       fault's function that returns the code */
	struct hook_thread *t;
	int traced, fault;
	unsigned slot;
	int64_t t_real, t_mono;
	size_t argslen;
	char args[HOOK_ARGS_TEXT];  /* "\"dptr\":\"0x...\",\"bytesize\":1048576" */
};

/* 1: c is set up, call c->fn with the same arguments (it runs the body) and then
 * hook_end; 0: run the body (this is that second call, or the call cannot be hooked).
 * names: the parameters as written ("dptr, bytesize"); kinds: 'p' pointer, 's' signed,
 * 'u' unsigned, 'c' a C string (const char *); vals: the values. */
int hook_begin(struct shim_lib *l, struct hook_call *c, int *slot_cache, const char *fn_name,
	       const char *names, unsigned n, const char *kinds, const uint64_t *vals);
void hook_end(struct shim_lib *l, struct hook_call *c, int result);

/* The kind of a parameter, for hook_begin. */
#define HOOK_KIND(x)                                                                      \
	_Generic((x), const char *: 'c', char: 's', signed char: 's', short: 's', int: 's', \
		 long: 's', long long: 's', unsigned char: 'u', unsigned short: 'u',       \
		 unsigned int: 'u', unsigned long: 'u', unsigned long long: 'u', default: 'p')
/* Its value as 64 bits: integers (sign-extended) and pointers alike. */
#define HOOK_VAL(x) ((uint64_t)(x))

#define HOOK_NARGS(...) HOOK_NARGS_(0, ##__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define HOOK_NARGS_(z, a, b, c, d, e, f, n, ...) n
#define HOOK_CAT(a, b) HOOK_CAT_(a, b)
#define HOOK_CAT_(a, b) a##b
#define HOOK_EACH(m, ...) HOOK_CAT(HOOK_EACH_, HOOK_NARGS(__VA_ARGS__))(m, ##__VA_ARGS__)
#define HOOK_EACH_0(m) 0
#define HOOK_EACH_1(m, a) m(a)
#define HOOK_EACH_2(m, a, b) m(a), m(b)
#define HOOK_EACH_3(m, a, b, c) m(a), m(b), m(c)
#define HOOK_EACH_4(m, a, b, c, d) m(a), m(b), m(c), m(d)
#define HOOK_EACH_5(m, a, b, c, d, e) m(a), m(b), m(c), m(d), m(e)
#define HOOK_EACH_6(m, a, b, c, d, e, f) m(a), m(b), m(c), m(d), m(e), m(f)

/* The first statement of every intercepted function: NAME is the function, then its
 * parameters in order (at most six; integers, pointers or C strings: a struct does
 * not compile).  Costs one relaxed load while hooks are off. */
#define SHIM_HOOKED(l, name, ...)                                                         \
	do {                                                                              \
		if (__builtin_expect(__atomic_load_n(&(l).hook.on, __ATOMIC_RELAXED), 0)) {   \
			static int slot_cache_;                                           \
			struct hook_call c_;                                              \
			const char kinds_[] = { HOOK_EACH(HOOK_KIND, ##__VA_ARGS__) };    \
			const uint64_t vals_[] = { HOOK_EACH(HOOK_VAL, ##__VA_ARGS__) };  \
			if (hook_begin(&(l), &c_, &slot_cache_, #name, #__VA_ARGS__,      \
				       HOOK_NARGS(__VA_ARGS__), kinds_, vals_)) {         \
				__typeof__(name(__VA_ARGS__)) r_ =                        \
					((__typeof__(&name))c_.fn)(__VA_ARGS__);          \
				hook_end(&(l), &c_, (int)r_);                             \
				return r_;                                                \
			}                                                                 \
		}                                                                         \
	} while (0)

#endif

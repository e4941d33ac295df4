/* What both shim libraries (libcuda.so.1, libnvidia-ml.so.1) share: start-up, the
 * forwarding table's resolution, error mode and messages.  Design: docs/shim.md.
 *
 * Start-up runs once per library and process: from the library's constructor, or
 * earlier from the first call if one comes first (see shim_ensure).  It finds the
 * runtime dir (/proc/self/mountinfo), reads and checks the canonical policy, maps
 * the accounting region, dlopens the lower driver from RUNDIR/driver/ and points
 * every forwarding slot at the lower driver's function.  When anything is missing or
 * wrong, it says so in one line on stderr and every function of the library returns
 * the "not initialized" code of its API from then on (error mode). */
#ifndef VGPU_SHIM_H
#define VGPU_SHIM_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "shim/common/accounting.h"
#include "shim/common/forward.h"
#include "shim/common/hook.h"
#include "shim/common/vdev.h"

enum shim_state {
	SHIM_UNSTARTED = 0,
	SHIM_READY,
	SHIM_FAILED,     /* error mode: for good */
	SHIM_STARTING,   /* only as shim_ensure's answer to a call made by start-up itself */
};

/* A function that error mode uses for one name instead of the plain "not
 * initialized" one: where an int result would crash the caller (a function that
 * returns a pointer, or whose output callers use without checking the result). */
struct shim_error_override {
	const char *name;
	void *fn;
};

struct shim_lib {
	/* Fixed, set by the library (shim/cuda, shim/nvml). */
	const char *soname;           /* "libcuda.so.1": the file in RUNDIR/driver/ too */
	const char *api;              /* "CUDA", "NVML" */
	const char *uninit_text;      /* "CUDA_ERROR_NOT_INITIALIZED (3)" */
	const char *unsupported_text; /* "CUDA_ERROR_NOT_SUPPORTED (801)" */
	void *uninit_fn;              /* returns the not-initialized code; takes anything */
	void *unsupported_fn;         /* returns the not-supported code; takes anything */
	const struct shim_error_override *overrides; /* { NULL, NULL }-terminated, or NULL */
	struct shim_forwarding *fwd;  /* generated */

	/* Start-up state: written once, by start-up, before state becomes READY. */
	pthread_mutex_t lock;
	int state;                    /* enum shim_state; atomic */
	int starting;                 /* atomic: start-up is running, in thread starter */
	pthread_t starter;
	char run_dir[PATH_MAX];
	char lower_path[PATH_MAX];
	void *lower;                  /* dlopen handle of the lower driver */
	struct policy policy;
	struct accounting_header *accounting; /* MAP_SHARED, accounting_size bytes */
	size_t accounting_size;
	struct accounting acct;       /* this process's view of the region */
	struct vdev_table vdevs;      /* the virtual GPUs (shim/common/vdev.h) */
	struct hook_lib hook;         /* tracing (shim/common/hook.h); its first fields fixed */
};

#define SHIM_LIB_INIT .lock = PTHREAD_MUTEX_INITIALIZER

/* Runs start-up unless it ran; returns the state (SHIM_READY or SHIM_FAILED, or
 * SHIM_STARTING when called from inside start-up, e.g. by a lower driver that calls
 * back into the shim while it is being loaded).  Thread-safe; other threads wait for
 * a start-up in progress. */
int shim_ensure(struct shim_lib *l);

/* 1 when the library may be used: the test of every intercepting function. */
static inline int shim_ready(struct shim_lib *l)
{
	int s = __atomic_load_n(&l->state, __ATOMIC_ACQUIRE);
	if (__builtin_expect(s == SHIM_READY, 1))
		return 1;
	return s == SHIM_UNSTARTED && shim_ensure(l) == SHIM_READY;
}

/* What slot should run now (the lazy stubs' question, vgpu_<prefix>_resolve):
 * starts up if needed, then the slot's hook thunk while hooks are on, else
 * shim_target's answer; or error mode's function. */
void *shim_resolve(struct shim_lib *l, unsigned slot);

/* What a call of slot reaches, hooks aside (the hook thunks' target; the shim is
 * ready): the lower driver's function, or the not-supported function, saying once
 * that the lower driver lacks the name. */
void *shim_target(struct shim_lib *l, unsigned slot);

/* The slot of an exported name, or -1.  A linear search: for start-up, not per call. */
int shim_slot(const struct shim_lib *l, const char *name);

/* The lower driver's function of an exported name (NULL: it lacks it, or the shim is
 * not ready). */
void *shim_lower_fn(const struct shim_lib *l, const char *name);

/* The lower driver's function NAME of library L (a struct shim_lib), typed as NAME
 * (declare its prototype), or NULL when the lower lacks it or L is not ready.  Where
 * its pointer lives (its slot of fwd->lower) is looked up once per call site (a benign
 * race: every thread stores the same value), so the hot path is two loads: the place,
 * then the pointer (written by start-up before the state became READY). */
#define SHIM_LOWER(l, name)                                                               \
	(__extension__({                                                                  \
		static void *const *where_;                                               \
		void *const *w_ = __atomic_load_n(&where_, __ATOMIC_RELAXED);            \
		if (__builtin_expect(w_ == NULL, 0))                                      \
			w_ = shim_lower_where(&(l), #name, &where_);                      \
		(__typeof__(&name))*w_;                                                   \
	}))

/* SHIM_LOWER's first look at a call site: where the lower's function of name is kept
 * (a word that stays NULL for a name the export list lacks), stored to *cache too. */
__attribute__((cold)) void *const *shim_lower_where(const struct shim_lib *l, const char *name,
						     void *const **cache);

/* One line on stderr, "vgpu shim (SONAME): ...", written with one write(2); newlines
 * in the text become blanks. */
void shim_say(const struct shim_lib *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif

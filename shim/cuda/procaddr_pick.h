/* Which function the shim hands out for a cuGetProcAddress answer of the lower driver
 * (shim/cuda/procaddr.c): the pure decision, apart from start-up and the lower's call,
 * so that tests/unit/test_procaddr_pick.c can feed it a fake lower driver.
 *
 * The variant table is emulator/data/procaddr.tsv (the emulator's, the same file: its
 * format is described in emulator/cuda/procaddr.c): which exported symbol serves
 * (base name, version, default|per-thread). */
#ifndef VGPU_SHIM_PROCADDR_PICK_H
#define VGPU_SHIM_PROCADDR_PICK_H

#include "shim/common/forward.h"

struct pa_variant {
	const char *base;   /* "cuMemAlloc" */
	int version;        /* introduced in: 1000 * major + 10 * minor */
	int per_thread;     /* 1: the _ptds/_ptsz class */
	const char *symbol; /* "cuMemAlloc_v2" */
};

struct pa_table {
	struct pa_variant *v; /* sorted by base (strcmp), class (default first), version */
	unsigned n;
};

/* Parses TEXT (the .tsv's content: BASE<tab>VERSION<tab>CLASS<tab>SYMBOL lines, '#'
 * comments) into t; the table keeps pointers into its own copy of TEXT.  0, or -1
 * (out of memory, a malformed line): then t is empty. */
int pa_table_parse(struct pa_table *t, const char *text);

/* The embedded emulator/data/procaddr.tsv, parsed once (thread-safe); an empty table
 * when it cannot be parsed. */
const struct pa_table *pa_table_builtin(void);

/* The table's answer for a request: the symbol the real driver hands out for
 * (base, version, flags), or NULL (base unknown, or no variant that old).  The driver's
 * own version limit is not checked here: the lower driver's verdict stands. */
const char *pa_table_symbol(const struct pa_table *t, const char *base, int version,
			    unsigned long long flags);

/* The function the shim hands out when the lower driver answered the request
 * (base, version, flags) with lower_fn (non-NULL):
 *   - the variant is identified by pointer identity with the lower's exports
 *     (f->lower[]); when several exports share lower_fn (aliases), the table's
 *     answer for the request wins, else the newest variant of base that the request
 *     allows (never one introduced after the requested version);
 *   - lower_fn that is none of the lower's exports (an internal function): the
 *     table's answer for the request;
 *   - the shim's own function of that variant (f->own[]) where the shim intercepts it,
 *     else lower_fn unchanged;
 *   - when lower_fn is an export of the lower but of no variant the request allows
 *     (a lower that answered with a newer variant, or another function's): the
 *     shim's function of the table's variant if it intercepts that, else of the
 *     intercepted export lower_fn is, else lower_fn — the lower's function of a
 *     variant the shim intercepts is never handed out as such.
 * Uses f->count, names, by_name, lower, own, intercepted, nintercepted. */
void *pa_pick(const struct pa_table *t, const struct shim_forwarding *f, const char *base,
	      int version, unsigned long long flags, void *lower_fn);

#endif

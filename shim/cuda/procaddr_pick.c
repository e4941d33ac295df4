/* The shim's cuGetProcAddress decision: which function to hand out for the lower
 * driver's answer.  See procaddr_pick.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "shim/cuda/procaddr_pick.h"

#define PER_THREAD_FLAG 2ull /* CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM */

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wc23-extensions"
static const char procaddr_tsv[] = {
#embed "emulator/data/procaddr.tsv"
	, 0
};
#pragma GCC diagnostic pop

static int variant_cmp(const void *a, const void *b)
{
	const struct pa_variant *x = a, *y = b;
	int c = strcmp(x->base, y->base);
	if (c)
		return c;
	if (x->per_thread != y->per_thread)
		return x->per_thread - y->per_thread;
	return (x->version > y->version) - (x->version < y->version);
}

int pa_table_parse(struct pa_table *t, const char *text)
{
	t->v = NULL;
	t->n = 0;
	char *copy = strdup(text);
	unsigned cap = 1;
	for (const char *p = text; *p; p++)
		cap += *p == '\n';
	struct pa_variant *v = calloc(cap, sizeof *v);
	if (!copy || !v)
		goto fail;
	unsigned n = 0;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *fld[4], *s2 = NULL;
		int k = 0;
		for (char *tok = strtok_r(line, "\t", &s2); tok && k < 4; tok = strtok_r(NULL, "\t", &s2))
			fld[k++] = tok;
		if (k != 4 || n >= cap)
			goto fail;
		char *end;
		long ver = strtol(fld[1], &end, 10);
		if (*end || ver <= 0 || ver > 1000000 ||
		    (strcmp(fld[2], "default") != 0 && strcmp(fld[2], "per-thread") != 0))
			goto fail;
		v[n++] = (struct pa_variant){ .base = fld[0], .version = (int)ver,
					      .per_thread = strcmp(fld[2], "per-thread") == 0,
					      .symbol = fld[3] };
	}
	qsort(v, n, sizeof *v, variant_cmp);
	t->v = v;
	t->n = n;
	return 0;
fail:
	free(copy);
	free(v);
	return -1;
}

static struct pa_table builtin;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_load(void)
{
	(void)pa_table_parse(&builtin, procaddr_tsv);
}

const struct pa_table *pa_table_builtin(void)
{
	pthread_once(&builtin_once, builtin_load);
	return &builtin;
}

/* The entries of base: [*first, *end); 0 when base is not in the table. */
static int base_range(const struct pa_table *t, const char *base, unsigned *first, unsigned *end)
{
	unsigned lo = 0, hi = t->n;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (strcmp(t->v[mid].base, base) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	unsigned e = lo;
	while (e < t->n && strcmp(t->v[e].base, base) == 0)
		e++;
	*first = lo;
	*end = e;
	return e > lo;
}

const char *pa_table_symbol(const struct pa_table *t, const char *base, int version,
			    unsigned long long flags)
{
	unsigned first, end;
	if (!base || !base_range(t, base, &first, &end))
		return NULL;
	int has_per_thread = 0;
	for (unsigned i = first; i < end; i++)
		has_per_thread |= t->v[i].per_thread;
	int want_pt = (flags & PER_THREAD_FLAG) && has_per_thread;
	const char *best = NULL;
	for (unsigned i = first; i < end; i++)
		if (t->v[i].per_thread == want_pt && t->v[i].version <= version)
			best = t->v[i].symbol; /* sorted by version: the last that fits */
	return best;
}

/* How well the export NAME fits a request for (base, version), the table's answer
 * WANT aside: -1 not at all (another base's variant, or one newer than asked for),
 * 0 base unknown to the table (no way to tell), else 1 + the variant's version. */
static long fit(const struct pa_table *t, const char *base, int version, const char *name)
{
	unsigned first, end;
	if (!base || !base_range(t, base, &first, &end))
		return 0;
	long best = -1;
	for (unsigned i = first; i < end; i++)
		if (t->v[i].version <= version && strcmp(t->v[i].symbol, name) == 0 &&
		    t->v[i].version + 1L > best)
			best = t->v[i].version + 1L;
	return best;
}

void *pa_pick(const struct pa_table *t, const struct shim_forwarding *f, const char *base,
	      int version, unsigned long long flags, void *lower_fn)
{
	if (!lower_fn)
		return lower_fn;
	const char *want = pa_table_symbol(t, base, version, flags);
	int want_slot = want ? forward_slot(f, want) : -1;
	int want_own = want_slot >= 0 && f->own[want_slot];

	/* The usual case, a name the shim does not intercept: lower_fn is no intercepted
	 * export of the lower and the table's variant is not intercepted either. */
	int hit_own = -1;
	for (unsigned k = 0; k < f->nintercepted; k++) {
		unsigned i = f->intercepted[k];
		if (f->lower[i] == lower_fn) {
			hit_own = (int)i;
			break;
		}
	}
	if (hit_own < 0 && !want_own)
		return lower_fn;

	/* Pointer identity: every export of the lower that is lower_fn; the best fit. */
	int best = -1, any = 0;
	long best_rank = -1;
	for (unsigned i = 0; i < f->count; i++) {
		if (f->lower[i] != lower_fn)
			continue;
		any = 1;
		long rank = want && strcmp(f->names[i], want) == 0 ? 0x7fffffffL
								    : fit(t, base, version, f->names[i]);
		if (rank > best_rank) {
			best_rank = rank;
			best = (int)i;
		}
	}
	if (best >= 0)
		return f->own[best] ? f->own[best] : lower_fn;

	/* Not one of the lower's exports (an internal function): the table's answer. */
	if (!any)
		return want_own ? f->own[want_slot] : lower_fn;

	/* An export of the lower, but no variant this request allows (a lower that
	 * answered with a newer variant, or another function's): the variant the request
	 * means where the shim intercepts it; never the lower's intercepted function. */
	if (want_own)
		return f->own[want_slot];
	return hit_own >= 0 ? f->own[hit_own] : lower_fn;
}

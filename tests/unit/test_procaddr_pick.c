/* The shim's cuGetProcAddress decision (shim/cuda/procaddr_pick.c) against a fake
 * lower driver: a forwarding table whose lower[] and own[] are addresses of local
 * objects, so that identity is all that counts. */
#include <stdio.h>
#include <string.h>

#include "shim/cuda/procaddr_pick.h"
#include "tests/unit/check.h"

/* The exported names of the fake shim, sorted (by_name is then the identity). */
static const char *const names[] = {
	"cuCtxGetDevice",        "cuCtxGetDevice_v2",    "cuGetProcAddress",
	"cuGetProcAddress_v2",   "cuInit",               "cuMemAlloc",
	"cuMemAlloc_v2",         "cuMemcpyHtoD",         "cuMemcpyHtoD_v2",
	"cuMemcpyHtoD_v2_ptds",
};
enum { N = sizeof names / sizeof names[0] };
enum { CTXDEV, CTXDEV2, GPA, GPA2, INIT, MALLOC, MALLOC2, HTOD, HTOD2, HTOD2PT };

static unsigned by_name[N];
static void *lower[N], *own[N];
static unsigned intercepted[N];
static char lower_fns[N], own_fns[N], internal[4];
static struct shim_forwarding f = { .count = N, .names = names, .by_name = by_name,
				    .lower = lower, .own = own, .intercepted = intercepted };

/* A fresh fake: every name exported by the lower at its own address, nothing
 * intercepted. */
static void reset(void)
{
	for (unsigned i = 0; i < N; i++) {
		by_name[i] = i;
		lower[i] = &lower_fns[i];
		own[i] = NULL;
	}
	f.nintercepted = 0;
}

static void intercept(unsigned i)
{
	own[i] = &own_fns[i];
	intercepted[f.nintercepted++] = i;
}

static const char *who(void *p)
{
	static char buf[8][64];
	static unsigned k;
	char *b = buf[k++ % 8];
	for (unsigned i = 0; i < N; i++) {
		if (p == lower[i] && p == &lower_fns[i]) {
			snprintf(b, 64, "lower:%s", names[i]);
			return b;
		}
		if (p == &own_fns[i]) {
			snprintf(b, 64, "own:%s", names[i]);
			return b;
		}
	}
	for (unsigned i = 0; i < sizeof internal; i++)
		if (p == &internal[i]) {
			snprintf(b, 64, "internal%u", i);
			return b;
		}
	snprintf(b, 64, p ? "other" : "null");
	return b;
}

#define PICK(base, ver, fl, p) who(pa_pick(t, &f, base, ver, fl, p))
#define EXPECT(got, want) CHECK(strcmp(got, want) == 0, "%s (got %s)", want, got)

int main(void)
{
	const struct pa_table *t = pa_table_builtin();
	CHECK(t->n > 600, "the embedded emulator/data/procaddr.tsv parses (%u variants)", t->n);

	/* The table's answers: the real driver's (cudart-on-a-software-driver.md section 2). */
	const char *s;
	s = pa_table_symbol(t, "cuMemAlloc", 2000, 0);
	CHECK(s && !strcmp(s, "cuMemAlloc"), "table: cuMemAlloc 2000 -> cuMemAlloc");
	s = pa_table_symbol(t, "cuMemAlloc", 3020, 0);
	CHECK(s && !strcmp(s, "cuMemAlloc_v2"), "table: cuMemAlloc 3020 -> cuMemAlloc_v2");
	s = pa_table_symbol(t, "cuMemAlloc", 13000, 2);
	CHECK(s && !strcmp(s, "cuMemAlloc_v2"), "table: cuMemAlloc 13000 flag 2 -> cuMemAlloc_v2 (no per-thread variant)");
	CHECK(!pa_table_symbol(t, "cuMemAlloc", 1000, 0), "table: cuMemAlloc 1000 -> none");
	s = pa_table_symbol(t, "cuMemcpyHtoD", 13000, 2);
	CHECK(s && !strcmp(s, "cuMemcpyHtoD_v2_ptds"), "table: cuMemcpyHtoD 13000 flag 2 -> _v2_ptds");
	s = pa_table_symbol(t, "cuMemcpyHtoD", 13000, 1);
	CHECK(s && !strcmp(s, "cuMemcpyHtoD_v2"), "table: cuMemcpyHtoD 13000 flag 1 -> _v2");
	CHECK(!pa_table_symbol(t, "cuMemcpyHtoD", 6000, 2), "table: cuMemcpyHtoD 6000 flag 2 -> none");
	s = pa_table_symbol(t, "cuCtxGetDevice", 13000, 0);
	CHECK(s && !strcmp(s, "cuCtxGetDevice_v2"), "table: cuCtxGetDevice 13000 -> _v2");
	CHECK(!pa_table_symbol(t, "cuMemAlloc_v2", 13000, 0), "table: a suffixed name -> none");
	CHECK(!pa_table_symbol(t, "", 0, 0), "table: the empty name -> none");

	struct pa_table bad;
	CHECK(pa_table_parse(&bad, "cuX\t2000\tdefault\n") == -1 && bad.n == 0,
	      "a malformed table is refused, and empty");
	CHECK(pa_table_parse(&bad, "# c\ncuX\t2000\tdefault\tcuX\n\ncuX\t3020\tdefault\tcuX_v2\n") == 0 &&
	      bad.n == 2, "a small table parses");

	/* Nothing intercepted: the lower's pointer, whatever it is. */
	reset();
	EXPECT(PICK("cuMemAlloc", 3020, 0, lower[MALLOC2]), "lower:cuMemAlloc_v2");
	EXPECT(PICK("cuInit", 2000, 0, lower[INIT]), "lower:cuInit");
	EXPECT(PICK("cuMemAlloc", 3020, 0, &internal[0]), "internal0");
	CHECK(pa_pick(t, &f, "cuInit", 2000, 0, NULL) == NULL, "NULL stays NULL");

	/* cuMemAlloc_v2 intercepted, the legacy cuMemAlloc not. */
	reset();
	intercept(GPA);
	intercept(GPA2);
	intercept(MALLOC2);
	EXPECT(PICK("cuMemAlloc", 3020, 0, lower[MALLOC2]), "own:cuMemAlloc_v2");
	EXPECT(PICK("cuMemAlloc", 13000, 2, lower[MALLOC2]), "own:cuMemAlloc_v2");
	EXPECT(PICK("cuMemAlloc", 2000, 0, lower[MALLOC]), "lower:cuMemAlloc");
	EXPECT(PICK("cuInit", 2000, 0, lower[INIT]), "lower:cuInit");
	/* A lower that hands out internal functions: the table decides. */
	EXPECT(PICK("cuMemAlloc", 3020, 0, &internal[0]), "own:cuMemAlloc_v2");
	EXPECT(PICK("cuMemAlloc", 2000, 0, &internal[1]), "internal1");
	EXPECT(PICK("cuInit", 2000, 0, &internal[2]), "internal2");
	/* A lower that answers a 2000 request with the newer variant: never handed out as
	 * the lower's; the request's table variant is not intercepted, so the shim's
	 * function of the export it is. */
	EXPECT(PICK("cuMemAlloc", 2000, 0, lower[MALLOC2]), "own:cuMemAlloc_v2");

	/* Both cuMemAlloc variants intercepted: exactly the asked-for one. */
	intercept(MALLOC);
	EXPECT(PICK("cuMemAlloc", 2000, 0, lower[MALLOC]), "own:cuMemAlloc");
	EXPECT(PICK("cuMemAlloc", 3020, 0, lower[MALLOC2]), "own:cuMemAlloc_v2");
	EXPECT(PICK("cuMemAlloc", 2000, 0, &internal[0]), "own:cuMemAlloc");
	/* Newer than asked for, from a misbehaving lower: the asked-for variant. */
	EXPECT(PICK("cuMemAlloc", 2000, 0, lower[MALLOC2]), "own:cuMemAlloc");

	/* Aliases: the lower serves cuMemcpyHtoD_v2_ptds with the _v2 function. */
	reset();
	intercept(HTOD);
	intercept(HTOD2);
	intercept(HTOD2PT);
	lower[HTOD2PT] = lower[HTOD2];
	EXPECT(PICK("cuMemcpyHtoD", 7000, 2, lower[HTOD2]), "own:cuMemcpyHtoD_v2_ptds");
	EXPECT(PICK("cuMemcpyHtoD", 7000, 0, lower[HTOD2]), "own:cuMemcpyHtoD_v2");
	EXPECT(PICK("cuMemcpyHtoD", 13000, 1, lower[HTOD2]), "own:cuMemcpyHtoD_v2");
	EXPECT(PICK("cuMemcpyHtoD", 2000, 0, lower[HTOD]), "own:cuMemcpyHtoD");
	/* ... and when _ptds is a separate (stub) export, while the lower answers the
	 * per-thread request with the plain function (as the emulator does): the shim's
	 * function of what the lower answered with. */
	lower[HTOD2PT] = &lower_fns[HTOD2PT];
	EXPECT(PICK("cuMemcpyHtoD", 7000, 2, lower[HTOD2]), "own:cuMemcpyHtoD_v2");
	EXPECT(PICK("cuMemcpyHtoD", 7000, 2, lower[HTOD2PT]), "own:cuMemcpyHtoD_v2_ptds");
	/* Only _v2 intercepted, _v2_ptds aliased to it: the alias the request means is not
	 * intercepted, so the lower's pointer (the forwarder of _v2_ptds leads there too). */
	reset();
	intercept(HTOD2);
	lower[HTOD2PT] = lower[HTOD2];
	EXPECT(PICK("cuMemcpyHtoD", 7000, 2, lower[HTOD2]), "lower:cuMemcpyHtoD_v2");
	EXPECT(PICK("cuMemcpyHtoD", 7000, 0, lower[HTOD2]), "own:cuMemcpyHtoD_v2");

	/* cuCtxGetDevice (dev*) vs _v2 (dev*, ctx): different ABIs, never swapped. */
	reset();
	intercept(CTXDEV);
	intercept(CTXDEV2);
	EXPECT(PICK("cuCtxGetDevice", 2000, 0, lower[CTXDEV]), "own:cuCtxGetDevice");
	EXPECT(PICK("cuCtxGetDevice", 12000, 0, lower[CTXDEV]), "own:cuCtxGetDevice");
	EXPECT(PICK("cuCtxGetDevice", 13000, 0, lower[CTXDEV2]), "own:cuCtxGetDevice_v2");
	EXPECT(PICK("cuCtxGetDevice", 13000, 0, &internal[3]), "own:cuCtxGetDevice_v2");

	/* A base the table does not know, answered with an export: pointer identity. */
	reset();
	intercept(INIT);
	EXPECT(PICK("cuSomethingNew", 13000, 0, lower[INIT]), "own:cuInit");
	EXPECT(PICK("cuSomethingNew", 13000, 0, &internal[0]), "internal0");
	return check_done();
}

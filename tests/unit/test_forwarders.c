/* The generated forwarders (tools/gen_forwarders.c), built into this program from
 * tests/unit/forwarders_test.exports with prefix "t": every argument and result passes
 * through a forwarder and through the lazy path (first call, before the table is
 * filled) untouched; integer and stack arguments, floating-point ones, varargs, a
 * struct returned through the hidden pointer; a strong definition overrides its
 * forwarder; a filled slot is used without resolving. */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "shim/common/forward.h"
#include "tests/unit/check.h"

extern struct shim_forwarding vgpu_t_forwarding;

/* The forwarders, with the signatures the "lower" functions have. */
long long vgpu_t_ints(int a, long b, short c, char d, unsigned e, long long f, int g, long h);
double vgpu_t_floats(double a, int b, float c, double d, double e, double f, double g,
		     double h, double i, double j, double k);
int vgpu_t_varargs(int n, ...);
struct big {
	long v[5];
};
struct big vgpu_t_bigret(long seed, double scale);
int vgpu_t_direct(int x);

/* A strong definition: the forwarder of this name must lose. */
int vgpu_t_strong(void)
{
	return 4242;
}

static int aligned; /* 1 while every target saw a 16-byte aligned frame */

static void check_alignment(void)
{
	/* At a function's entry %rsp is 8 mod 16, so its frame (after push %rbp) is 0. */
	if (((uintptr_t)__builtin_frame_address(0)) % 16 != 0)
		aligned = 0;
}

static long long target_ints(int a, long b, short c, char d, unsigned e, long long f, int g, long h)
{
	check_alignment();
	if (a != -1 || b != 2000000000000L || c != -3 || d != 'd' || e != 0xfffffffeu ||
	    f != -6000000000000LL || g != 7 || h != 8)
		return -999;
	return a + b + c + d + (long long)e + f + g + h;
}

static double target_floats(double a, int b, float c, double d, double e, double f, double g,
			    double h, double i, double j, double k)
{
	check_alignment();
	return a + b * 10 + c * 100 + d * 1e3 + e * 1e4 + f * 1e5 + g * 1e6 + h * 1e7 + i * 1e8 +
	       j * 1e9 + k * 1e10;
}

static int target_varargs(int n, ...)
{
	check_alignment();
	va_list ap;
	va_start(ap, n);
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += (i % 2) ? (double)va_arg(ap, int) : va_arg(ap, double);
	va_end(ap);
	return (int)sum;
}

static struct big target_bigret(long seed, double scale)
{
	check_alignment();
	struct big r;
	for (int i = 0; i < 5; i++)
		r.v[i] = seed * (i + 1) + (long)scale;
	return r;
}

static int target_direct(int x)
{
	return x * 3;
}

static int resolved[16];

/* The lazy stubs' way in. */
void *vgpu_t_resolve(unsigned slot);
void *vgpu_t_resolve(unsigned slot)
{
	const char *name = vgpu_t_forwarding.names[slot];
	resolved[slot]++;
	/* Clobber what a C call may clobber anyway, as real start-up would. */
	volatile double sink = 0;
	for (int i = 0; i < 8; i++)
		sink += i * 0.5;
	(void)sink;
	if (!strcmp(name, "vgpu_t_ints"))
		return (void *)target_ints;
	if (!strcmp(name, "vgpu_t_floats"))
		return (void *)target_floats;
	if (!strcmp(name, "vgpu_t_varargs"))
		return (void *)target_varargs;
	if (!strcmp(name, "vgpu_t_bigret"))
		return (void *)target_bigret;
	return (void *)target_direct;
}

static int slot_of(const char *name)
{
	for (unsigned i = 0; i < vgpu_t_forwarding.count; i++)
		if (!strcmp(vgpu_t_forwarding.names[i], name))
			return (int)i;
	return -1;
}

int main(void)
{
	struct shim_forwarding *f = &vgpu_t_forwarding;
	aligned = 1;

	CHECK(f->count == 6, "six names generated (%u)", f->count);
	int bad_order = 0;
	for (unsigned k = 1; k < f->count; k++)
		if (strcmp(f->names[f->by_name[k - 1]], f->names[f->by_name[k]]) >= 0)
			bad_order = 1;
	CHECK(!bad_order, "by_name lists the slots in strcmp order");

	int si = slot_of("vgpu_t_ints"), sf = slot_of("vgpu_t_floats"), sv = slot_of("vgpu_t_varargs"),
	    sb = slot_of("vgpu_t_bigret"), ss = slot_of("vgpu_t_strong"), sd = slot_of("vgpu_t_direct");
	CHECK(si >= 0 && sf >= 0 && sv >= 0 && sb >= 0 && ss >= 0 && sd >= 0, "every name has a slot");

	CHECK(f->forwarders[si] == (void *)vgpu_t_ints, "a weak forwarder is the symbol of its name");
	CHECK(f->forwarders[ss] != (void *)vgpu_t_strong,
	      "a strong definition overrides the forwarder of its name");
	CHECK(vgpu_t_strong() == 4242 && resolved[ss] == 0, "the strong definition runs, nothing resolved");

	/* First calls: through the lazy stubs and resolve. */
	long long want_i = -1 + 2000000000000L - 3 + 'd' + 0xfffffffeLL - 6000000000000LL + 7 + 8;
	CHECK(vgpu_t_ints(-1, 2000000000000L, -3, 'd', 0xfffffffeu, -6000000000000LL, 7, 8) == want_i,
	      "lazy path: eight integer arguments (two on the stack) and a 64-bit result");
	CHECK(resolved[si] == 1, "lazy path: resolve called once for the slot");
	double want_f = 1.5 + 2 * 10 + 0.25f * 100 + 4 * 1e3 + 5 * 1e4 + 6 * 1e5 + 7 * 1e6 +
			8 * 1e7 + 9 * 1e8 + 1 * 1e9 + 2 * 1e10;
	CHECK(vgpu_t_floats(1.5, 2, 0.25f, 4, 5, 6, 7, 8, 9, 1, 2) == want_f,
	      "lazy path: ten floating-point arguments (two on the stack) and a double result");
	CHECK(vgpu_t_varargs(5, 1.25, 2, 3.5, 4, 5.25) == 16,
	      "lazy path: varargs with doubles (%%al preserved)");
	struct big r = vgpu_t_bigret(7, 3.0);
	CHECK(r.v[0] == 10 && r.v[4] == 38, "lazy path: a struct result through the hidden pointer");
	CHECK(aligned, "lazy path: targets run on a 16-byte aligned stack");

	/* Still lazy (resolve does not fill the table): resolved again. */
	CHECK(vgpu_t_ints(-1, 2000000000000L, -3, 'd', 0xfffffffeu, -6000000000000LL, 7, 8) == want_i &&
	      resolved[si] == 2, "an unfilled slot resolves on every call");

	/* A filled slot: one indirect jump, no resolve. */
	f->table[sd] = (void *)target_direct;
	CHECK(vgpu_t_direct(14) == 42 && resolved[sd] == 0, "a filled slot jumps to its target directly");
	f->table[si] = (void *)target_ints;
	CHECK(vgpu_t_ints(-1, 2000000000000L, -3, 'd', 0xfffffffeu, -6000000000000LL, 7, 8) == want_i &&
	      resolved[si] == 2, "a filled slot passes every argument");
	return check_done();
}

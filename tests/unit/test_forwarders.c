/* The generated forwarders (tools/gen_forwarders.c), built into this program from
 * tests/unit/forwarders_test.exports with prefix "t": every argument and result passes
 * through a forwarder and through the lazy path (first call, before the table is
 * filled) untouched; integer and stack arguments, floating-point ones, varargs, a
 * struct returned through the hidden pointer; a strong definition overrides its
 * forwarder; a filled slot is used without resolving.  The hook thunks (a slot pointed
 * at hooks[i]): the same arguments and results pass, the call is seen on its way in and
 * out with the caller's return address restored, calls nest (a target that calls
 * through another hook), an unhooked call goes straight through, and a spare thunk. */
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

/* A minimal hook_enter/hook_exit, as shim/common/hook.c does it: a shadow stack of
 * return addresses, and what each call returned. */
struct hook_go {
	void *target;
	uintptr_t hooked;
};
static struct {
	void *ret;
	void **where;
	unsigned slot;
} shadow[8];
static unsigned depth, max_depth, entered, exited, unhooked;
static int64_t last_result;
static unsigned last_slot;
static void *hook_targets[16 + 256];

struct hook_go vgpu_t_hook_enter(unsigned slot, void **where);
struct hook_go vgpu_t_hook_enter(unsigned slot, void **where)
{
	entered++;
	/* Clobber what a C call may clobber anyway. */
	volatile double sink = 0;
	for (int i = 0; i < 8; i++)
		sink += i * 0.25;
	(void)sink;
	if (slot == unhooked)
		return (struct hook_go){ hook_targets[slot], 0 };
	shadow[depth].ret = *where;
	shadow[depth].where = where;
	shadow[depth].slot = slot;
	depth++;
	if (depth > max_depth)
		max_depth = depth;
	return (struct hook_go){ hook_targets[slot], 1 };
}

void *vgpu_t_hook_exit(int64_t result, void **landing_sp);
void *vgpu_t_hook_exit(int64_t result, void **landing_sp)
{
	exited++;
	depth--;
	if (shadow[depth].where != landing_sp - 1)
		return NULL; /* crash: the test fails loudly */
	last_result = result;
	last_slot = shadow[depth].slot;
	return shadow[depth].ret;
}

/* A target that calls another function through its hook: nesting. */
static int target_nested(int x)
{
	check_alignment();
	return ((int (*)(int))vgpu_t_forwarding.hooks[vgpu_t_forwarding.count])(x) + 1;
}

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

	/* Hook thunks: every slot through hooks[i]. */
	CHECK(f->nhooks == f->count + 256, "a hook thunk per slot and 256 spares (%u)", f->nhooks);
	hook_targets[si] = (void *)target_ints;
	hook_targets[sf] = (void *)target_floats;
	hook_targets[sv] = (void *)target_varargs;
	hook_targets[sb] = (void *)target_bigret;
	hook_targets[sd] = (void *)target_nested;
	hook_targets[f->count] = (void *)target_direct; /* the first spare */
	for (unsigned i = 0; i < f->count; i++)
		f->table[i] = f->hooks[i];
	unhooked = 9999;
	aligned = 1;
	CHECK(vgpu_t_ints(-1, 2000000000000L, -3, 'd', 0xfffffffeu, -6000000000000LL, 7, 8) == want_i &&
		      entered == 1 && exited == 1 && depth == 0 && last_slot == (unsigned)si && last_result == want_i,
	      "hook: eight integer arguments (two on the stack), the 64-bit result seen on the way out");
	CHECK(vgpu_t_floats(1.5, 2, 0.25f, 4, 5, 6, 7, 8, 9, 1, 2) == want_f && exited == 2,
	      "hook: ten floating-point arguments (two on the stack) and a double result (%%xmm0 kept)");
	CHECK(vgpu_t_varargs(5, 1.25, 2, 3.5, 4, 5.25) == 16 && last_result == 16,
	      "hook: varargs with doubles (%%al preserved)");
	r = vgpu_t_bigret(9, 1.0);
	CHECK(r.v[0] == 10 && r.v[4] == 46 && last_slot == (unsigned)sb,
	      "hook: a struct result through the hidden pointer");
	CHECK(vgpu_t_direct(5) == 16 && max_depth == 2 && depth == 0 && entered == 6 && exited == 6,
	      "hook: a target calling through another (spare) hook nests, each return finds its caller");
	CHECK(aligned, "hook: targets run on a 16-byte aligned stack");
	unhooked = (unsigned)si;
	CHECK(vgpu_t_ints(-1, 2000000000000L, -3, 'd', 0xfffffffeu, -6000000000000LL, 7, 8) == want_i &&
		      entered == 7 && exited == 6,
	      "hook: a call hook_enter does not hook goes straight to its target");
	return check_done();
}

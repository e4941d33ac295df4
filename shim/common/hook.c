#include "shim/common/hook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim/common/fault.h"
#include "shim/common/fault_region.h"
#include "shim/common/shim.h"
#include "shim/common/trace.h"

/* This library's hooked shim (one per shared object: hook.c is linked into each), for
 * the fork handler, which takes no argument. */
static struct shim_lib *hooked_lib;

/* This thread's state for this library; NULL until its first hooked call. */
static __thread struct hook_thread *me;

/* A failing call goes to fault_ret instead of its target: it reads no argument and
 * returns the code the rule chose (an int in %eax, what every caller of a CUresult or
 * nvmlReturn_t function reads). */
static __thread int fault_code;

static int fault_ret(void)
{
	return fault_code;
}

static void pause_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int64_t now(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* --- threads -------------------------------------------------------------------------- */

/* The thread ends (its pthread key's destructor): its records written, its state freed. */
static void thread_gone(void *p)
{
	struct hook_thread *t = p;
	struct shim_lib *l = hooked_lib;
	if (!t || !l)
		return;
	trace_lock(t);
	trace_flush(l, t);
	trace_unlock(t);
	pthread_mutex_lock(&l->hook.reg_lock);
	for (struct hook_thread **pp = &l->hook.threads; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	pthread_mutex_unlock(&l->hook.reg_lock);
	if (me == t)
		me = NULL;
	free(t);
}

static struct hook_thread *thread_get(struct shim_lib *l)
{
	struct hook_thread *t = me;
	if (__builtin_expect(t != NULL, 1))
		return t;
	t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->tid = gettid_();
	pthread_mutex_lock(&l->hook.reg_lock);
	t->next = l->hook.threads;
	l->hook.threads = t;
	pthread_mutex_unlock(&l->hook.reg_lock);
	pthread_setspecific(l->hook.key, t);
	me = t;
	return t;
}

/* In the child of fork(): the parent's records are the parent's to write, and the
 * other threads do not exist here. */
static void forked_child(void)
{
	struct shim_lib *l = hooked_lib;
	if (!l)
		return;
	struct hook_lib *h = &l->hook;
	pthread_mutex_init(&h->reg_lock, NULL);
	pthread_mutex_init(&h->fd_lock, NULL);
	h->pid = getpid();
	struct hook_thread *t = h->threads, *keep = NULL;
	while (t) {
		struct hook_thread *next = t->next;
		if (t == me) {
			keep = t;
		} else {
			free(t);
		}
		t = next;
	}
	h->threads = keep;
	if (keep) {
		keep->next = NULL;
		keep->lock = 0;
		keep->len = 0;
		keep->tid = gettid_();
		keep->wholen = 0;
	}
}

/* --- start-up ------------------------------------------------------------------------- */

static int no_status(const struct hook_lib *h, const char *name)
{
	for (const char *const *p = h->no_status; p && *p; p++)
		if (strncmp(name, *p, strlen(*p)) == 0)
			return 1;
	return 0;
}

int hook_slot_hooked(const struct shim_lib *l, unsigned slot)
{
	const struct hook_lib *h = &l->hook;
	return h->trace_on || (h->fault_mask && h->fault_mask[slot]);
}

int hook_start(struct shim_lib *l, char *why, size_t whylen)
{
	struct hook_lib *h = &l->hook;
	struct shim_forwarding *f = l->fwd;
	if (!l->policy.trace[0] && !l->policy.nfaults)
		return 1;
	h->trace_fd = -1;
	h->target = calloc(f->nhooks, sizeof *h->target);
	h->name = calloc(f->nhooks, sizeof *h->name);
	h->no_status_slot = calloc(f->nhooks, 1);
	if (!h->target || !h->name || !h->no_status_slot) {
		snprintf(why, whylen, "out of memory for the hooks (--trace, --fault)");
		return -1;
	}
	if (l->policy.nfaults && fault_start(l, why, whylen) != 0)
		return -1;
	pthread_mutex_init(&h->reg_lock, NULL);
	pthread_mutex_init(&h->fd_lock, NULL);
	if (pthread_key_create(&h->key, thread_gone) != 0) {
		snprintf(why, whylen, "no pthread key for the hooks (--trace, --fault)");
		return -1;
	}
	if (l->policy.trace[0] && trace_open(l, l->policy.trace) == 0)
		h->trace_on = 1;
	for (unsigned i = 0; i < f->count; i++) {
		h->target[i] = f->lower[i]; /* NULL: shim_target says what to do */
		h->name[i] = f->names[i];
		h->no_status_slot[i] = (unsigned char)no_status(h, f->names[i]);
	}
	int any = h->trace_on;
	for (unsigned i = 0; i < f->count && !any; i++)
		any = hook_slot_hooked(l, i);
	if (!any)
		return 1; /* oom-after alone works in the accounting's path */
	h->pid = getpid();
	hooked_lib = l;
	pthread_atfork(NULL, NULL, forked_child);
	__atomic_store_n(&h->on, 1, __ATOMIC_RELEASE);
	return 0;
}

void *hook_thunk_for(struct shim_lib *l, int slot, const char *name, void *fn)
{
	struct hook_lib *h = &l->hook;
	struct shim_forwarding *f = l->fwd;
	if (!fn || !__atomic_load_n(&h->on, __ATOMIC_ACQUIRE))
		return fn;
	if (slot >= 0 && (unsigned)slot < f->count && f->lower[slot] == fn)
		return hook_slot_hooked(l, (unsigned)slot) ? f->hooks[slot] : fn;
	const char *nm = slot >= 0 ? f->names[slot] : name;
	uint32_t mask = h->fault_mask ? fault_mask_for(l, nm ? nm : "") : 0;
	if (!h->trace_on && !mask)
		return fn;
	void *thunk = fn;
	pthread_mutex_lock(&h->reg_lock);
	unsigned used = h->nspare_used;
	for (unsigned k = f->count; k < f->count + used; k++) {
		if (h->target[k] == fn) {
			thunk = f->hooks[k];
			goto out;
		}
	}
	if (f->count + used < f->nhooks) {
		unsigned k = f->count + used;
		h->name[k] = strndup(nm ? nm : "?", 128);
		if (h->fault_mask)
			h->fault_mask[k] = mask;
		h->no_status_slot[k] = (unsigned char)no_status(h, h->name[k] ? h->name[k] : "");
		__atomic_store_n(&h->target[k], fn, __ATOMIC_RELEASE);
		h->nspare_used = used + 1;
		thunk = f->hooks[k];
	}
out:
	pthread_mutex_unlock(&h->reg_lock);
	return thunk;
}

void hook_process_exit(struct shim_lib *l)
{
	struct hook_lib *h = &l->hook;
	if (!__atomic_load_n(&h->on, __ATOMIC_ACQUIRE))
		return;
	/* From now on each record is written at once: libraries whose destructors run
	 * after this one may still call in. */
	__atomic_store_n(&h->exiting, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&h->reg_lock);
	for (struct hook_thread *t = h->threads; t; t = t->next) {
		trace_lock(t);
		trace_flush(l, t);
		trace_unlock(t);
	}
	pthread_mutex_unlock(&h->reg_lock);
}

/* --- the thunk's path --------------------------------------------------------------- */

static void *target_of(struct shim_lib *l, unsigned slot)
{
	void *fn = __atomic_load_n(&l->hook.target[slot], __ATOMIC_ACQUIRE);
	return fn ? fn : shim_target(l, slot);
}

/* The fault rules' verdict on a call matching mask: 1 and the code in fault_code when
 * it fails; a slow rule's delay is spent here, inside the call's recorded time. */
static int faulted(struct shim_lib *l, uint32_t mask)
{
	int code = 0;
	uint64_t delay = 0;
	int fail = fault_decide(l, mask, &code, &delay);
	if (delay)
		pause_ns(delay);
	if (fail)
		fault_code = code;
	return fail;
}

struct hook_go hook_enter(struct shim_lib *l, unsigned slot, void **where)
{
	struct hook_lib *h = &l->hook;
	struct hook_go go = { NULL, 0 };
	if (slot >= l->fwd->nhooks) /* cannot happen: the thunks are generated with the table */
		return (struct hook_go){ l->uninit_fn, 0 };
	go.target = target_of(l, slot);
	/* Not tracing, no state, or calls nested deeper than the shadow stack: this call
	 * goes unrecorded to its target (or its fault). */
	struct hook_thread *t = h->trace_on ? thread_get(l) : NULL;
	int traced = t && t->depth < HOOK_DEPTH;
	int64_t t_real = traced ? now(CLOCK_REALTIME) : 0, t_mono = traced ? now(CLOCK_MONOTONIC) : 0;
	uint32_t mask = h->fault_mask ? h->fault_mask[slot] : 0;
	int fault = mask && faulted(l, mask);
	if (fault)
		go.target = (void *)fault_ret;
	if (!traced)
		return go;
	struct hook_frame *fr = &t->frames[t->depth];
	fr->ret = *where;
	fr->where = where;
	fr->slot = slot;
	fr->t_real = t_real;
	fr->t_mono = t_mono;
	fr->fault = fault;
	t->depth++;
	go.hooked = 1;
	return go;
}

void *hook_exit(struct shim_lib *l, int64_t result, void **landing_sp)
{
	int64_t end = now(CLOCK_MONOTONIC);
	struct hook_thread *t = me;
	void **where = landing_sp - 1;
	/* The frame of this return: the topmost one whose return address sat right below
	 * the landing's stack pointer.  Frames above it belong to calls that never
	 * returned here (a longjmp out of a callback): dropped with it. */
	unsigned i = t ? t->depth : 0;
	while (i > 0 && t->frames[i - 1].where != where)
		i--;
	if (i == 0) {
		/* The return address is lost: nothing sane can follow. */
		shim_say(l, "hook: no return address for a call returning at stack %p; aborting",
			 (void *)landing_sp);
		abort();
	}
	struct hook_frame fr = t->frames[i - 1];
	t->depth = i - 1;
	trace_record(l, t, fr.slot, fr.t_real, end - fr.t_mono, (int)result, fr.fault, NULL, 0);
	return fr.ret;
}

/* --- SHIM_HOOKED ------------------------------------------------------------------------ */

/* The i-th name of "a, b, c" (as the preprocessor wrote the parameters). */
static int arg_name(const char *names, unsigned i, const char **s, size_t *n)
{
	const char *p = names;
	for (unsigned k = 0; k < i; k++) {
		p = strchr(p, ',');
		if (!p)
			return -1;
		p++;
	}
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	size_t len = strcspn(p, ",");
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\n'))
		len--;
	*s = p;
	*n = len;
	return 0;
}

static void format_args(struct hook_call *c, const char *names, unsigned n, const char *kinds,
			const uint64_t *vals)
{
	char *b = c->args;
	size_t cap = sizeof c->args, len = 0;
	for (unsigned i = 0; i < n && i < HOOK_ARGS_MAX; i++) {
		const char *nm;
		size_t nl;
		size_t mark = len;
		if (arg_name(names, i, &nm, &nl) != 0)
			break;
		int bad = (i && trace_put(b, cap, &len, ",", 1)) || trace_put(b, cap, &len, "\"", 1) ||
			  trace_put(b, cap, &len, nm, nl) || trace_put(b, cap, &len, "\":", 2);
		switch (kinds[i]) {
		case 's':
			bad = bad || trace_put_i64(b, cap, &len, (int64_t)vals[i]);
			break;
		case 'u':
			bad = bad || trace_put_u64(b, cap, &len, vals[i]);
			break;
		case 'c':
			if (vals[i])
				bad = bad || trace_put_string(b, cap, &len, (const char *)(uintptr_t)vals[i],
							      HOOK_STRING_MAX);
			else
				bad = bad || trace_put(b, cap, &len, "null", 4);
			break;
		default:
			bad = bad || trace_put(b, cap, &len, "\"", 1) || trace_put_hex(b, cap, &len, vals[i]) ||
			      trace_put(b, cap, &len, "\"", 1);
			break;
		}
		if (bad) {
			len = mark;
			break;
		}
	}
	c->argslen = len;
}

int hook_begin(struct shim_lib *l, struct hook_call *c, int *slot_cache, const char *fn_name,
	       const char *names, unsigned n, const char *kinds, const uint64_t *vals)
{
	struct hook_lib *h = &l->hook;
	int s = __atomic_load_n(slot_cache, __ATOMIC_RELAXED);
	if (__builtin_expect(s == 0, 0)) {
		s = shim_slot(l, fn_name) + 1;
		__atomic_store_n(slot_cache, s ? s : -1, __ATOMIC_RELAXED);
	}
	if (s <= 0 || !l->fwd->own[s - 1] || !hook_slot_hooked(l, (unsigned)(s - 1)))
		return 0;
	/* Only a traced call needs this thread's state (faults alone allocate nothing). */
	struct hook_thread *t = h->trace_on ? thread_get(l) : NULL;
	/* The second call, made below: it runs the body. */
	if (t && t->pass_slot == s) {
		t->pass_slot = 0;
		return 0;
	}
	c->t = t;
	c->slot = (unsigned)(s - 1);
	c->traced = t != NULL;
	if (c->traced) {
		format_args(c, names, n, kinds, vals);
		c->t_real = now(CLOCK_REALTIME);
		c->t_mono = now(CLOCK_MONOTONIC);
	}
	uint32_t mask = h->fault_mask ? h->fault_mask[c->slot] : 0;
	c->fault = mask && faulted(l, mask);
	if (c->fault) {
		c->fn = (void *)fault_ret;
		return 1;
	}
	if (!c->traced)
		return 0; /* nothing to record: the body runs now */
	c->fn = l->fwd->own[c->slot];
	t->pass_slot = s;
	return 1;
}

void hook_end(struct shim_lib *l, struct hook_call *c, int result)
{
	int64_t end = now(CLOCK_MONOTONIC);
	if (c->t)
		c->t->pass_slot = 0;
	if (c->traced)
		trace_record(l, c->t, c->slot, c->t_real, end - c->t_mono, result, c->fault, c->args,
			     c->argslen);
}

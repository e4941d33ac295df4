/* Contexts: one primary context per device (its handle exists from cuInit on, retained
 * or not: cudart sets it current before retaining it), ordinary contexts of
 * cuCtxCreate, the per-thread stack of current contexts, and context-local storage
 * (CLS) with destructors that run, outside our lock, when a context goes away.
 *
 * Handles are never freed: a destroyed ordinary context stays in the registry marked
 * destroyed, so any handle an application still holds can be checked without reading
 * freed memory (calls on it return CUDA_ERROR_CONTEXT_IS_DESTROYED). */
#include <stdlib.h>
#include <string.h>

#include "emulator/common/state.h"
#include "emulator/cuda/core.h"

struct cls_entry {
	void *key, *value;
	emu_cls_dtor dtor;
	struct cls_entry *next;
};

struct emu_context {
	int device;
	int primary;
	int refcount;            /* primary: retains; 0 = inactive */
	int destroyed;           /* ordinary: cuCtxDestroy ran */
	unsigned flags;
	unsigned api_version;
	unsigned long long id;
	size_t limits[CU_LIMIT_MAX];
	int cache_config, shmem_config;
	struct cls_entry *cls;
	struct emu_context *next; /* registry of ordinary contexts */
};

/* Optional parts of the library: called when linked in (weak references). */
extern void emu_memory_context_gone(CUcontext ctx) __attribute__((weak));
extern CUresult emu_memory_context_synchronize(CUcontext ctx) __attribute__((weak));
extern void emu_state_register_process(unsigned device, uint64_t used_bytes) __attribute__((weak));
extern void emu_memory_current_changed(void) __attribute__((weak));

uint64_t emu_context_gen = 1;

/* A context stopped being live (lock held). */
static void no_longer_live(void)
{
	__atomic_add_fetch(&emu_context_gen, 1, __ATOMIC_RELEASE);
}

/* The thread's stack changed: the memory side forgets the current context it knew. */
static void current_changed(void)
{
	if (emu_memory_current_changed)
		emu_memory_current_changed();
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct emu_context primaries[EMU_MAX_DEVICES];
static struct emu_context *ordinary;   /* registry, newest first */
static unsigned long long next_id = 1;

/* --- the calling thread's stack ------------------------------------------------------ */

static __thread CUcontext *stack;
static __thread unsigned depth, capacity;
static pthread_key_t stack_key;
static pthread_once_t stack_key_once = PTHREAD_ONCE_INIT;

static void stack_free(void *p)
{
	free(p);
}

static void stack_key_make(void)
{
	(void)pthread_key_create(&stack_key, stack_free);
}

static CUcontext top(void)
{
	return depth ? stack[depth - 1] : NULL;
}

static CUresult push(CUcontext c)
{
	if (depth == capacity) {
		unsigned n = capacity ? capacity * 2 : 8;
		CUcontext *s = realloc(stack, n * sizeof *s);
		if (!s)
			return CUDA_ERROR_OUT_OF_MEMORY;
		stack = s;
		capacity = n;
		pthread_once(&stack_key_once, stack_key_make);
		(void)pthread_setspecific(stack_key, s);
	}
	stack[depth++] = c;
	current_changed();
	return CUDA_SUCCESS;
}

/* --- handles ---------------------------------------------------------------------------- */

static int is_primary(CUcontext c)
{
	return c >= &primaries[0] && c < &primaries[EMU_MAX_DEVICES] &&
	       (size_t)((char *)c - (char *)primaries) % sizeof primaries[0] == 0;
}

static int is_ordinary(CUcontext c)
{
	for (struct emu_context *o = ordinary; o; o = o->next)
		if (o == c)
			return 1;
	return 0;
}

/* A handle an application gave us, whatever its state (call with lock held):
 * CUDA_SUCCESS for any primary handle of a device and any ordinary context not yet
 * destroyed; CUDA_ERROR_CONTEXT_IS_DESTROYED for a destroyed one. */
static CUresult handle_check_locked(CUcontext c)
{
	if (!c)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (is_primary(c))
		return c->device < (int)emu_device_count() ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
	if (!is_ordinary(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	return c->destroyed ? CUDA_ERROR_CONTEXT_IS_DESTROYED : CUDA_SUCCESS;
}

/* ctx, or the calling thread's current context when ctx is NULL, for a call that uses
 * it.  As the real driver answers (checked on an H200, driver 580): no context or a
 * destroyed one, CUDA_ERROR_INVALID_CONTEXT; a primary context that is not retained
 * (set current before cuDevicePrimaryCtxRetain, or after a reset), when the call needs
 * it active, CUDA_ERROR_CONTEXT_IS_DESTROYED; cuCtxGetDevice works on it. */
static CUresult use(CUcontext *ctx, int need_active)
{
	CUresult r = emu_check_init();
	if (r)
		return r;
	if (!*ctx) {
		*ctx = top();
		if (!*ctx)
			return CUDA_ERROR_INVALID_CONTEXT;
	}
	pthread_mutex_lock(&lock);
	r = handle_check_locked(*ctx);
	if (r == CUDA_ERROR_CONTEXT_IS_DESTROYED)
		r = CUDA_ERROR_INVALID_CONTEXT;
	else if (r == CUDA_SUCCESS && need_active && (*ctx)->primary && (*ctx)->refcount == 0)
		r = CUDA_ERROR_CONTEXT_IS_DESTROYED;
	pthread_mutex_unlock(&lock);
	return r;
}

static CUresult resolve(CUcontext *ctx)
{
	return use(ctx, 1);
}

/* Live: can own memory and run work (an active primary, an ordinary one not destroyed). */
CUresult emu_context_check(CUcontext c)
{
	if (!c) {
		CUresult r = emu_check_init();
		return r ? r : CUDA_ERROR_INVALID_CONTEXT;
	}
	return use(&c, 1);
}

/* Every call that acts in the current context starts here (copies, memset, allocations),
 * so the common case takes no lock.  The thread's stack holds only handles we gave out
 * (push() is reached through create() or after known()), and handles are never freed:
 * a primary context of a valid device is live while retained (refcount > 0), an
 * ordinary one until destroyed.  Both fields are written under the lock with atomic
 * stores and read here with atomic loads, so the answer is the one the lock would give
 * at some moment during the call.  Anything else takes the checks of use(), for their
 * exact errors. */
CUresult emu_context_current(CUcontext *out)
{
	/* A context on the stack means cuInit succeeded: push() comes after it. */
	CUcontext c = top();
	if (c && (c->primary ? __atomic_load_n(&c->refcount, __ATOMIC_ACQUIRE) > 0
			     : !__atomic_load_n(&c->destroyed, __ATOMIC_ACQUIRE))) {
		if (out)
			*out = c;
		return CUDA_SUCCESS;
	}
	CUresult r = emu_check_init();
	if (r)
		return r;
	if (!c)
		return CUDA_ERROR_INVALID_CONTEXT;
	r = use(&c, 1);
	if (r == CUDA_SUCCESS && out)
		*out = c;
	return r;
}

int emu_context_device(CUcontext ctx)
{
	return ctx ? ctx->device : -1;
}

/* --- setup ------------------------------------------------------------------------------- */

static void reset_state(struct emu_context *c)
{
	const struct emu_device_config *d = emu_device(c->device);
	c->api_version = 3020;
	c->limits[CU_LIMIT_STACK_SIZE] = 1024;
	/* Defaults as a real H200 reports them (driver 580). */
	c->limits[CU_LIMIT_PRINTF_FIFO_SIZE] = 8650752;
	c->limits[CU_LIMIT_MALLOC_HEAP_SIZE] = 8388608;
	c->limits[CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT] = 2048;
	c->limits[CU_LIMIT_MAX_L2_FETCH_GRANULARITY] = 64;
	/* 30% of the most that can persist: 11796480 of 39321600 on the H200. */
	c->limits[CU_LIMIT_PERSISTING_L2_CACHE_SIZE] = d ? (size_t)d->profile->attributes[108] / 10 * 3 : 0;
	c->limits[CU_LIMIT_SHMEM_SIZE] = d ? (size_t)d->profile->attributes[97] : 0;
	c->limits[CU_LIMIT_CIG_ENABLED] = 0;
	c->cache_config = CU_FUNC_CACHE_PREFER_NONE;
	c->shmem_config = CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE;
	if (!c->id) /* a primary context keeps its id across resets, as the real driver's */
		c->id = next_id++;
}

void emu_contexts_init(void)
{
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < EMU_MAX_DEVICES; i++) {
		primaries[i].device = (int)i;
		primaries[i].primary = 1;
	}
	for (unsigned i = 0; i < emu_device_count(); i++)
		reset_state(&primaries[i]);
	pthread_mutex_unlock(&lock);
}

CUresult emu_primary_context(CUdevice dev, CUcontext *out)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	*out = &primaries[dev];
	return CUDA_SUCCESS;
}

/* The context goes away (primary reset or released to zero, ordinary destroyed):
 * takes its CLS entries (lock held), then, after the caller unlocked, runs their
 * destructors and tells the memory part. */
static struct cls_entry *take_cls_locked(struct emu_context *c)
{
	struct cls_entry *e = c->cls;
	c->cls = NULL;
	return e;
}

static void gone(struct emu_context *c, struct cls_entry *e)
{
	while (e) {
		struct cls_entry *next = e->next;
		if (e->dtor)
			e->dtor(c, e->key, e->value);
		free(e);
		e = next;
	}
	if (emu_memory_context_gone)
		emu_memory_context_gone(c);
}

/* device: the ordinal; the shared state knows devices by configuration index. */
static void registered(int device)
{
	int i = emu_device_config_index(device);
	if (emu_state_register_process && i >= 0)
		emu_state_register_process((unsigned)i, 0);
}

/* --- primary contexts ------------------------------------------------------------------ */

static CUresult check_flags(unsigned flags)
{
	if (flags & ~(unsigned)CU_CTX_FLAGS_MASK)
		return CUDA_ERROR_INVALID_VALUE;
	unsigned sched = flags & CU_CTX_SCHED_MASK;
	if (sched != 0 && sched != CU_CTX_SCHED_SPIN && sched != CU_CTX_SCHED_YIELD &&
	    sched != CU_CTX_SCHED_BLOCKING_SYNC)
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	struct emu_context *c = &primaries[dev];
	pthread_mutex_lock(&lock);
	int first = c->refcount == 0;
	if (first)
		reset_state(c);
	__atomic_store_n(&c->refcount, c->refcount + 1, __ATOMIC_RELEASE); /* active once reset */
	pthread_mutex_unlock(&lock);
	if (first)
		registered(dev);
	*pctx = c;
	return CUDA_SUCCESS;
}

/* Not retained: the v1 entry point says nothing, _v2 CUDA_ERROR_INVALID_CONTEXT (as the
 * real driver). */
static CUresult primary_release(CUdevice dev, int v2)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	struct emu_context *c = &primaries[dev];
	struct cls_entry *e = NULL;
	pthread_mutex_lock(&lock);
	if (c->refcount == 0) {
		pthread_mutex_unlock(&lock);
		return v2 ? CUDA_ERROR_INVALID_CONTEXT : CUDA_SUCCESS;
	}
	int last = __atomic_sub_fetch(&c->refcount, 1, __ATOMIC_RELEASE) == 0;
	if (last) {
		no_longer_live();
		e = take_cls_locked(c);
	}
	pthread_mutex_unlock(&lock);
	if (last)
		gone(c, e);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
	return primary_release(dev, 0);
}

EMU_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	return primary_release(dev, 1);
}

static CUresult primary_reset(CUdevice dev)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	struct emu_context *c = &primaries[dev];
	pthread_mutex_lock(&lock);
	int was_active = c->refcount > 0;
	__atomic_store_n(&c->refcount, 0, __ATOMIC_RELEASE);
	if (was_active)
		no_longer_live();
	struct cls_entry *e = take_cls_locked(c);
	pthread_mutex_unlock(&lock);
	if (was_active || e)
		gone(c, e);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDevicePrimaryCtxReset(CUdevice dev)
{
	return primary_reset(dev);
}

EMU_API CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
	return primary_reset(dev);
}

EMU_API CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if (!flags || !active)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	*flags = primaries[dev].flags;
	*active = primaries[dev].refcount > 0;
	pthread_mutex_unlock(&lock);
	return CUDA_SUCCESS;
}

static CUresult primary_set_flags(CUdevice dev, unsigned int flags, int refuse_active)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if ((r = check_flags(flags)))
		return r;
	pthread_mutex_lock(&lock);
	if (refuse_active && primaries[dev].refcount > 0)
		r = CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE;
	else
		primaries[dev].flags = flags;
	pthread_mutex_unlock(&lock);
	return r;
}

EMU_API CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)
{
	return primary_set_flags(dev, flags, 1);
}

EMU_API CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags)
{
	return primary_set_flags(dev, flags, 0);
}

/* --- ordinary contexts ------------------------------------------------------------------ */

static CUresult create(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = check_flags(flags)))
		return r;
	struct emu_context *c = calloc(1, sizeof *c);
	if (!c)
		return CUDA_ERROR_OUT_OF_MEMORY;
	c->device = dev;
	c->flags = flags;
	if ((r = push(c))) {
		free(c);
		return r;
	}
	pthread_mutex_lock(&lock);
	reset_state(c);
	c->next = ordinary;
	ordinary = c;
	pthread_mutex_unlock(&lock);
	registered(dev);
	*pctx = c;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	return create(pctx, flags, dev);
}

EMU_API CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	return create(pctx, flags, dev);
}

EMU_API CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *params, int nparams,
				unsigned int flags, CUdevice dev)
{
	if (params && nparams > 0) {
		CUresult r = emu_device_check(dev);
		return r ? r : CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY;
	}
	if (nparams < 0)
		return CUDA_ERROR_INVALID_VALUE;
	return create(pctx, flags, dev);
}

EMU_API CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags,
				CUdevice dev)
{
	if (params) {
		if (params->execAffinityParams && params->numExecAffinityParams > 0) {
			CUresult r = emu_device_check(dev);
			return r ? r : CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY;
		}
		if (params->cigParams) {
			CUresult r = emu_device_check(dev);
			return r ? r : CUDA_ERROR_NOT_SUPPORTED;
		}
	}
	return create(pctx, flags, dev);
}

static CUresult destroy(CUcontext c)
{
	CUresult r = emu_check_init();
	if (r)
		return r;
	pthread_mutex_lock(&lock);
	r = handle_check_locked(c);
	if (r == CUDA_SUCCESS && c->primary)
		r = CUDA_ERROR_INVALID_CONTEXT;
	if (r) {
		pthread_mutex_unlock(&lock);
		return r;
	}
	struct cls_entry *e = take_cls_locked(c);
	pthread_mutex_unlock(&lock);
	/* Destructors and the memory part still see a live context. */
	gone(c, e);
	pthread_mutex_lock(&lock);
	__atomic_store_n(&c->destroyed, 1, __ATOMIC_RELEASE);
	no_longer_live();
	pthread_mutex_unlock(&lock);
	if (top() == c) {
		depth--;
		current_changed();
	}
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxDestroy(CUcontext ctx)
{
	return destroy(ctx);
}

EMU_API CUresult cuCtxDestroy_v2(CUcontext ctx)
{
	return destroy(ctx);
}

/* --- the current context ---------------------------------------------------------------- */

/* Push and set-current take any handle we gave out, even a destroyed context (the real
 * driver does; what uses it then fails). */
static CUresult known(CUcontext c)
{
	pthread_mutex_lock(&lock);
	CUresult r = handle_check_locked(c);
	pthread_mutex_unlock(&lock);
	return r == CUDA_ERROR_CONTEXT_IS_DESTROYED ? CUDA_SUCCESS : r;
}

EMU_API CUresult cuCtxPushCurrent_v2(CUcontext ctx)
{
	CUresult r = emu_check_init();
	if (r)
		return r;
	if ((r = known(ctx)))
		return r;
	return push(ctx);
}

EMU_API CUresult cuCtxPushCurrent(CUcontext ctx)
{
	return cuCtxPushCurrent_v2(ctx);
}

EMU_API CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
	CUresult r = emu_check_init();
	if (r)
		return r;
	if (depth == 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	CUcontext c = stack[--depth];
	current_changed();
	if (pctx)
		*pctx = c;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxPopCurrent(CUcontext *pctx)
{
	return cuCtxPopCurrent_v2(pctx);
}

EMU_API CUresult cuCtxSetCurrent(CUcontext ctx)
{
	CUresult r = emu_check_init();
	if (r)
		return r;
	if (!ctx) {
		if (depth) {
			depth--;
			current_changed();
		}
		return CUDA_SUCCESS;
	}
	if ((r = known(ctx)))
		return r;
	if (depth) {
		stack[depth - 1] = ctx;
		current_changed();
		return CUDA_SUCCESS;
	}
	return push(ctx);
}

EMU_API CUresult cuCtxGetCurrent(CUcontext *pctx)
{
	CUresult r = emu_check_init();
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	*pctx = top();
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetDevice(CUdevice *dev)
{
	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	CUcontext c = NULL;
	CUresult r = use(&c, 0);
	if (r)
		return r;
	*dev = c->device;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetDevice_v2(CUdevice *dev, CUcontext ctx)
{
	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = use(&ctx, 0);
	if (r)
		return r;
	*dev = ctx->device;
	return CUDA_SUCCESS;
}

static CUresult synchronize(CUcontext ctx)
{
	CUresult r = resolve(&ctx);
	if (r)
		return r;
	return emu_memory_context_synchronize ? emu_memory_context_synchronize(ctx) : CUDA_SUCCESS;
}

EMU_API CUresult cuCtxSynchronize(void)
{
	return synchronize(NULL);
}

EMU_API CUresult cuCtxSynchronize_v2(CUcontext ctx)
{
	return synchronize(ctx);
}

EMU_API CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)
{
	if (!version)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = resolve(&ctx);
	if (r)
		return r;
	*version = ctx->api_version;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetFlags(unsigned int *flags)
{
	if (!flags)
		return CUDA_ERROR_INVALID_VALUE;
	CUcontext c = NULL;
	CUresult r = resolve(&c);
	if (r)
		return r;
	/* The real driver reports host mapping (always on) for a primary context. */
	*flags = c->flags | (c->primary ? CU_CTX_MAP_HOST : 0);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxSetFlags(unsigned int flags)
{
	CUcontext c = NULL;
	CUresult r = resolve(&c);
	if (r)
		return r;
	if ((r = check_flags(flags)))
		return r;
	pthread_mutex_lock(&lock);
	c->flags = flags;
	pthread_mutex_unlock(&lock);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetId(CUcontext ctx, unsigned long long *id)
{
	if (!id)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = resolve(&ctx);
	if (r)
		return r;
	pthread_mutex_lock(&lock);
	*id = ctx->id;
	pthread_mutex_unlock(&lock);
	return CUDA_SUCCESS;
}

/* Unknown limits are invalid values; the device runtime's synchronize depth (no
 * device-side synchronize since CUDA 12) and the CIG fallback are unsupported. */
static CUresult limit_check(int limit)
{
	if (limit < 0 || limit >= CU_LIMIT_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	if (limit == CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH || limit == CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED)
		return CUDA_ERROR_UNSUPPORTED_LIMIT;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetLimit(size_t *value, int limit)
{
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	CUcontext c = NULL;
	CUresult r = resolve(&c);
	if (r)
		return r;
	if ((r = limit_check(limit)))
		return r;
	pthread_mutex_lock(&lock);
	*value = c->limits[limit];
	pthread_mutex_unlock(&lock);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxSetLimit(int limit, size_t value)
{
	CUcontext c = NULL;
	CUresult r = resolve(&c);
	if (r)
		return r;
	if ((r = limit_check(limit)))
		return r;
	const struct emu_profile *p = emu_device(c->device)->profile;
	switch (limit) {
	case CU_LIMIT_SHMEM_SIZE:
	case CU_LIMIT_CIG_ENABLED:
		return CUDA_ERROR_INVALID_VALUE; /* query only */
	case CU_LIMIT_MAX_L2_FETCH_GRANULARITY:
		if (value > 128)
			return CUDA_ERROR_INVALID_VALUE;
		break;
	case CU_LIMIT_PERSISTING_L2_CACHE_SIZE:
		if (value > (size_t)p->attributes[108])
			value = (size_t)p->attributes[108];
		break;
	default:
		break;
	}
	pthread_mutex_lock(&lock);
	c->limits[limit] = value;
	pthread_mutex_unlock(&lock);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetCacheConfig(int *config)
{
	if (!config)
		return CUDA_ERROR_INVALID_VALUE;
	CUcontext c = NULL;
	CUresult r = resolve(&c);
	if (r)
		return r;
	*config = c->cache_config;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxSetCacheConfig(int config)
{
	CUcontext c = NULL;
	CUresult r = resolve(&c);
	if (r)
		return r;
	if (config < CU_FUNC_CACHE_PREFER_NONE || config > CU_FUNC_CACHE_PREFER_EQUAL)
		return CUDA_ERROR_INVALID_VALUE;
	c->cache_config = config;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetSharedMemConfig(int *config)
{
	if (!config)
		return CUDA_ERROR_INVALID_VALUE;
	CUcontext c = NULL;
	CUresult r = resolve(&c);
	if (r)
		return r;
	*config = c->shmem_config;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxSetSharedMemConfig(int config)
{
	CUcontext c = NULL;
	CUresult r = resolve(&c);
	if (r)
		return r;
	if (config < CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE ||
	    config > CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE)
		return CUDA_ERROR_INVALID_VALUE;
	c->shmem_config = config;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetStreamPriorityRange(int *least, int *greatest)
{
	CUcontext c = NULL;
	CUresult r = resolve(&c);
	if (r)
		return r;
	if (least)
		*least = 0;
	if (greatest)
		*greatest = -5;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxResetPersistingL2Cache(void)
{
	CUcontext c = NULL;
	return resolve(&c);
}

/* --- context-local storage ------------------------------------------------------------- */

/* As the real driver answers: with ctx NULL the current context must be usable (none,
 * destroyed, or a primary not retained: CUDA_ERROR_INVALID_CONTEXT); a handle given
 * explicitly is looked up whatever its state.  put needs an active context
 * (CUDA_ERROR_CONTEXT_IS_DESTROYED for a primary not retained) and never replaces an
 * entry (CUDA_ERROR_INVALID_HANDLE when the key is there); get and delete of an absent
 * key give CUDA_ERROR_INVALID_HANDLE, leaving *value alone. */
static CUresult cls_context(CUcontext *ctx)
{
	if (*ctx) {
		CUresult r = emu_check_init();
		if (r)
			return r;
		pthread_mutex_lock(&lock);
		r = handle_check_locked(*ctx);
		pthread_mutex_unlock(&lock);
		return r == CUDA_ERROR_CONTEXT_IS_DESTROYED ? CUDA_ERROR_INVALID_CONTEXT : r;
	}
	CUresult r = use(ctx, 1);
	return r == CUDA_ERROR_CONTEXT_IS_DESTROYED ? CUDA_ERROR_INVALID_CONTEXT : r;
}

CUresult emu_cls_put(CUcontext ctx, void *key, void *value, emu_cls_dtor dtor)
{
	CUresult r = use(&ctx, 1);
	if (r)
		return r;
	struct cls_entry *fresh = malloc(sizeof *fresh);
	if (!fresh)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&lock);
	for (struct cls_entry *e = ctx->cls; e; e = e->next) {
		if (e->key == key) {
			pthread_mutex_unlock(&lock);
			free(fresh);
			return CUDA_ERROR_INVALID_HANDLE;
		}
	}
	fresh->key = key;
	fresh->value = value;
	fresh->dtor = dtor;
	fresh->next = ctx->cls;
	ctx->cls = fresh;
	pthread_mutex_unlock(&lock);
	return CUDA_SUCCESS;
}

CUresult emu_cls_delete(CUcontext ctx, void *key)
{
	CUresult r = cls_context(&ctx);
	if (r)
		return r;
	pthread_mutex_lock(&lock);
	for (struct cls_entry **p = &ctx->cls; *p; p = &(*p)->next) {
		if ((*p)->key == key) {
			struct cls_entry *e = *p;
			*p = e->next;
			pthread_mutex_unlock(&lock);
			free(e);
			return CUDA_SUCCESS;
		}
	}
	pthread_mutex_unlock(&lock);
	return CUDA_ERROR_INVALID_HANDLE;
}

CUresult emu_cls_get(void **value, CUcontext ctx, void *key)
{
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = cls_context(&ctx);
	if (r)
		return r;
	r = CUDA_ERROR_INVALID_HANDLE;
	pthread_mutex_lock(&lock);
	for (struct cls_entry *e = ctx->cls; e; e = e->next) {
		if (e->key == key) {
			*value = e->value;
			r = CUDA_SUCCESS;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	return r;
}

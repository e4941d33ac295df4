/* cuGetProcAddress and cuGetProcAddress_v2: how cudart (and cuda-bindings, and every
 * program that asks the driver rather than the loader) finds driver functions.
 *
 * The lower driver answers; the shim then hands out its own function where the answer
 * is a variant the shim intercepts (identified by pointer identity with the lower's
 * exports, the variant table emulator/data/procaddr.tsv as tie-break and fallback:
 * procaddr_pick.c), and the lower's pointer everywhere else, so a forwarded function
 * costs nothing at all once looked up.  rc and symbolStatus are the lower's.
 * Asked for "cuGetProcAddress" itself, the answer is always the shim's: v1 for a
 * request below 12000, _v2 from 12000, as the real driver answers.
 * While tracing, a lower function is handed out behind its hook thunk (docs/tracing.md),
 * so that nothing called through the pointer escapes the trace. */
#include <string.h>

#include "shim/cuda/cuda_abi.h"
#include "shim/cuda/procaddr_pick.h"
#include "shim/cuda/shim_cuda.h"

typedef CUresult (*procaddr_v1_fn)(const char *symbol, void **pfn, int version,
				   cuuint64_t flags);
typedef CUresult (*procaddr_v2_fn)(const char *symbol, void **pfn, int version,
				   cuuint64_t flags, CUdriverProcAddressQueryResult *status);

#define FIRST_VERSION 11030 /* cuGetProcAddress came with CUDA 11.3 */
#define V2_VERSION 12000    /* cuGetProcAddress_v2 with 12.0 */

/* The slots of cuGetProcAddress and _v2, found once (the search is not per call). */
static int slot_v1 = -1, slot_v2 = -1;

static void find_slots(void)
{
	if (__atomic_load_n(&slot_v2, __ATOMIC_ACQUIRE) >= 0)
		return;
	int v1 = shim_slot(&shim_cuda, "cuGetProcAddress");
	int v2 = shim_slot(&shim_cuda, "cuGetProcAddress_v2");
	__atomic_store_n(&slot_v1, v1, __ATOMIC_RELEASE);
	__atomic_store_n(&slot_v2, v2, __ATOMIC_RELEASE);
}

/* The shim's own cuGetProcAddress for a request of this version. */
static void *own_procaddr(int version)
{
	int slot = version >= V2_VERSION ? slot_v2 : slot_v1;
	return slot >= 0 ? shim_cuda.fwd->own[slot] : NULL;
}

/* While hooks are on: fn (the answer) behind the hook thunk of the lower's export it is
 * (the table's variant first), or behind a spare thunk named after the variant the
 * request means when it is none of the lower's exports.  The shim's own functions hook
 * themselves (SHIM_HOOKED). */
static void *hooked(const char *symbol, int version, cuuint64_t flags, void *fn)
{
	struct shim_forwarding *f = shim_cuda.fwd;
	for (unsigned k = 0; k < f->nintercepted; k++)
		if (f->own[f->intercepted[k]] == fn)
			return fn;
	const char *want = pa_table_symbol(pa_table_builtin(), symbol, version, flags);
	int want_slot = want ? shim_slot(&shim_cuda, want) : -1;
	if (want_slot >= 0 && f->lower[want_slot] == fn)
		return hook_thunk_for(&shim_cuda, want_slot, NULL, fn);
	for (unsigned i = 0; i < f->count; i++)
		if (f->lower[i] == fn)
			return hook_thunk_for(&shim_cuda, (int)i, NULL, fn);
	return hook_thunk_for(&shim_cuda, want_slot, symbol, fn);
}

static CUresult lookup(int v2, const char *symbol, void **pfn, int version, cuuint64_t flags,
		       CUdriverProcAddressQueryResult *status)
{
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	find_slots();

	/* The lower driver's answer. */
	int slot = v2 ? slot_v2 : slot_v1;
	void *lower = slot >= 0 ? shim_cuda.fwd->lower[slot] : NULL;
	CUresult rc;
	if (lower) {
		rc = v2 ? ((procaddr_v2_fn)lower)(symbol, pfn, version, flags, status)
			: ((procaddr_v1_fn)lower)(symbol, pfn, version, flags);
	} else {
		/* The lower driver lacks it: says so once, like any missing name. */
		if (slot >= 0)
			shim_resolve(&shim_cuda, (unsigned)slot);
		rc = CUDA_ERROR_NOT_SUPPORTED;
	}

	if (symbol && pfn && strcmp(symbol, "cuGetProcAddress") == 0) {
		void *own = own_procaddr(version);
		if (rc == CUDA_SUCCESS && *pfn) {
			if (own)
				*pfn = own;
			return rc;
		}
		/* The lower's verdict on the version (too old: status 2; newer than the
		 * driver: CUDA_ERROR_INVALID_VALUE; v1's not found) stands. */
		if (rc == CUDA_SUCCESS || rc == CUDA_ERROR_INVALID_VALUE || rc == CUDA_ERROR_NOT_FOUND)
			return rc;
		/* The lower cannot answer at all (it lacks cuGetProcAddress or does not
		 * implement it): the shim answers alone, with the real driver's rules. */
		if (version < FIRST_VERSION || !own) {
			*pfn = NULL;
			if (!v2)
				return CUDA_ERROR_NOT_FOUND;
			if (status)
				*status = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
			return CUDA_SUCCESS;
		}
		*pfn = own;
		if (v2 && status)
			*status = CU_GET_PROC_ADDRESS_SUCCESS;
		return CUDA_SUCCESS;
	}

	/* Which variant the lower handed out (pointer identity with its exports, the
	 * variant table where that cannot tell), and the shim's function of it where the
	 * shim intercepts it: procaddr_pick.c.  rc and *status are the lower's.
	 * (cuGetExportTable's tables are forwarded as they are: no interception needs
	 * their functions yet.) */
	if (rc == CUDA_SUCCESS && pfn && *pfn) {
		*pfn = pa_pick(pa_table_builtin(), shim_cuda.fwd, symbol, version, flags, *pfn);
		if (__atomic_load_n(&shim_cuda.hook.on, __ATOMIC_ACQUIRE))
			*pfn = hooked(symbol, version, flags, *pfn);
	}
	return rc;
}

SHIM_API CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion,
				   cuuint64_t flags)
{
	SHIM_HOOKED(shim_cuda, cuGetProcAddress, symbol, pfn, cudaVersion, flags);
	return lookup(0, symbol, pfn, cudaVersion, flags, NULL);
}

SHIM_API CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
				      cuuint64_t flags, CUdriverProcAddressQueryResult *symbolStatus)
{
	SHIM_HOOKED(shim_cuda, cuGetProcAddress_v2, symbol, pfn, cudaVersion, flags, symbolStatus);
	return lookup(1, symbol, pfn, cudaVersion, flags, symbolStatus);
}

/* Streams.  All work is done when it is enqueued (mem_internal.h), so a stream is only a
 * handle with its context, flags, priority and id: always idle, synchronize returns at
 * once, host callbacks run inside the call that enqueues them (in the calling thread,
 * with no emulator lock held).  The handles NULL (the legacy default stream),
 * CU_STREAM_LEGACY and CU_STREAM_PER_THREAD are accepted wherever a stream is, and mean
 * the current context's default stream. */
#include <stdlib.h>
#include <string.h>

#include "emulator/cuda/mem_internal.h"

#define STREAM_MAGIC 0x5354524dU /* "STRM" */
/* Priorities: 0 is the lowest, -5 the highest (as on the H200 and other recent GPUs). */
#define PRIORITY_LEAST 0
#define PRIORITY_GREATEST (-5)

/* Stream attributes (CUstreamAttrValue is CUlaunchAttributeValue: 64 bytes), by id. */
#define STREAM_ATTRS 32
#define STREAM_ATTR_PRIORITY 8

struct emu_stream {
	uint32_t magic;
	CUcontext ctx;
	unsigned flags;
	int priority;
	unsigned long long id;
	unsigned char attrs[STREAM_ATTRS][64];
};

static pthread_mutex_t stream_mutex = PTHREAD_MUTEX_INITIALIZER;
/* The default streams' attributes (one set for the process). */
static unsigned char default_attrs[STREAM_ATTRS][64];
static struct emu_handle_set streams;
static unsigned long long next_id = 16; /* ids below are the default streams' */

static int is_default(CUstream s)
{
	return s == NULL || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD;
}

CUresult emu_stream_check(CUstream s, CUcontext *ctx)
{
	if (is_default(s)) {
		CUcontext c;
		CUresult rc = emu_current(&c, NULL);
		if (rc == CUDA_SUCCESS && ctx)
			*ctx = c;
		return rc;
	}
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	pthread_mutex_lock(&stream_mutex);
	int ok = emu_hset_has(&streams, s);
	if (ok && ctx)
		*ctx = s->ctx;
	pthread_mutex_unlock(&stream_mutex);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

void emu_streams_context_gone(CUcontext ctx)
{
	pthread_mutex_lock(&stream_mutex);
	for (size_t i = 0; i < streams.cap; i++) {
		uintptr_t k = streams.slots[i];
		if (k <= 1)
			continue;
		struct emu_stream *s = (struct emu_stream *)k;
		if (s->ctx == ctx) {
			emu_hset_del(&streams, s);
			s->magic = 0;
			free(s);
		}
	}
	pthread_mutex_unlock(&stream_mutex);
}

static CUresult stream_create(CUstream *ph, unsigned flags, int priority)
{
	CUcontext ctx;
	CUresult rc = emu_current(&ctx, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!ph || (flags & ~(unsigned)CU_STREAM_NON_BLOCKING))
		return CUDA_ERROR_INVALID_VALUE;
	priority = priority > PRIORITY_LEAST ? PRIORITY_LEAST : priority < PRIORITY_GREATEST ? PRIORITY_GREATEST : priority;
	struct emu_stream *s = calloc(1, sizeof *s);
	if (!s)
		return CUDA_ERROR_OUT_OF_MEMORY;
	s->magic = STREAM_MAGIC;
	s->ctx = ctx;
	s->flags = flags;
	s->priority = priority;
	pthread_mutex_lock(&stream_mutex);
	s->id = next_id++;
	int bad = emu_hset_add(&streams, s);
	pthread_mutex_unlock(&stream_mutex);
	if (bad) {
		free(s);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*ph = s;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
	return stream_create(phStream, Flags, PRIORITY_LEAST);
}

EMU_API CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
	return stream_create(phStream, flags, priority);
}

EMU_API CUresult cuStreamDestroy_v2(CUstream hStream)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (is_default(hStream))
		return CUDA_ERROR_INVALID_HANDLE;
	pthread_mutex_lock(&stream_mutex);
	int ok = emu_hset_has(&streams, hStream);
	if (ok) {
		emu_hset_del(&streams, hStream);
		hStream->magic = 0;
		free(hStream);
	}
	pthread_mutex_unlock(&stream_mutex);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EMU_API CUresult cuStreamDestroy(CUstream hStream)
{
	return cuStreamDestroy_v2(hStream);
}

/* Everything enqueued is already done. */
EMU_API CUresult cuStreamSynchronize(CUstream hStream)
{
	return emu_stream_check(hStream, NULL);
}
EMU_API CUresult cuStreamSynchronize_ptsz(CUstream hStream)
{
	return emu_stream_check(hStream, NULL);
}
EMU_API CUresult cuStreamQuery(CUstream hStream)
{
	return emu_stream_check(hStream, NULL);
}
EMU_API CUresult cuStreamQuery_ptsz(CUstream hStream)
{
	return emu_stream_check(hStream, NULL);
}

EMU_API CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
	CUresult rc = emu_stream_check(hStream, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (Flags & ~1u)
		return CUDA_ERROR_INVALID_VALUE;
	return emu_event_check(hEvent, NULL);
}
EMU_API CUresult cuStreamWaitEvent_ptsz(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
	return cuStreamWaitEvent(hStream, hEvent, Flags);
}

/* One property of a stream; default streams answer their defaults. */
static CUresult stream_props(CUstream s, CUcontext *ctx, unsigned *flags, int *priority, unsigned long long *id)
{
	CUcontext c;
	CUresult rc = emu_stream_check(s, &c);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (is_default(s)) {
		if (ctx)
			*ctx = c;
		if (flags)
			*flags = 0;
		if (priority)
			*priority = 0;
		if (id)
			*id = s == CU_STREAM_PER_THREAD ? 2 : 1;
		return CUDA_SUCCESS;
	}
	pthread_mutex_lock(&stream_mutex);
	if (!emu_hset_has(&streams, s)) {
		pthread_mutex_unlock(&stream_mutex);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	if (ctx)
		*ctx = s->ctx;
	if (flags)
		*flags = s->flags;
	if (priority)
		*priority = s->priority;
	if (id)
		*id = s->id;
	pthread_mutex_unlock(&stream_mutex);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuStreamGetPriority(CUstream hStream, int *priority)
{
	if (!priority)
		return CUDA_ERROR_INVALID_VALUE;
	return stream_props(hStream, NULL, NULL, priority, NULL);
}
EMU_API CUresult cuStreamGetPriority_ptsz(CUstream hStream, int *priority)
{
	return cuStreamGetPriority(hStream, priority);
}
EMU_API CUresult cuStreamGetFlags(CUstream hStream, unsigned int *flags)
{
	if (!flags)
		return CUDA_ERROR_INVALID_VALUE;
	return stream_props(hStream, NULL, flags, NULL, NULL);
}
EMU_API CUresult cuStreamGetFlags_ptsz(CUstream hStream, unsigned int *flags)
{
	return cuStreamGetFlags(hStream, flags);
}
EMU_API CUresult cuStreamGetId(CUstream hStream, unsigned long long *streamId)
{
	if (!streamId)
		return CUDA_ERROR_INVALID_VALUE;
	return stream_props(hStream, NULL, NULL, NULL, streamId);
}
EMU_API CUresult cuStreamGetId_ptsz(CUstream hStream, unsigned long long *streamId)
{
	return cuStreamGetId(hStream, streamId);
}
EMU_API CUresult cuStreamGetCtx(CUstream hStream, CUcontext *pctx)
{
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	return stream_props(hStream, pctx, NULL, NULL, NULL);
}
EMU_API CUresult cuStreamGetCtx_ptsz(CUstream hStream, CUcontext *pctx)
{
	return cuStreamGetCtx(hStream, pctx);
}
EMU_API CUresult cuStreamGetCtx_v2(CUstream hStream, CUcontext *pCtx, CUgreenCtx *pGreenCtx)
{
	if (!pCtx || !pGreenCtx)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult rc = stream_props(hStream, pCtx, NULL, NULL, NULL);
	if (rc == CUDA_SUCCESS)
		*pGreenCtx = NULL;
	return rc;
}
EMU_API CUresult cuStreamGetCtx_v2_ptsz(CUstream hStream, CUcontext *pCtx, CUgreenCtx *pGreenCtx)
{
	return cuStreamGetCtx_v2(hStream, pCtx, pGreenCtx);
}
EMU_API CUresult cuStreamGetDevice(CUstream hStream, CUdevice *device)
{
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	CUcontext c;
	CUresult rc = stream_props(hStream, &c, NULL, NULL, NULL);
	if (rc == CUDA_SUCCESS)
		*device = emu_context_device(c);
	return rc;
}
EMU_API CUresult cuStreamGetDevice_ptsz(CUstream hStream, CUdevice *device)
{
	return cuStreamGetDevice(hStream, device);
}

/* Host work: run now, in this thread. */
EMU_API CUresult cuStreamAddCallback(CUstream hStream, CUstreamCallback callback, void *userData, unsigned int flags)
{
	CUresult rc = emu_stream_check(hStream, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!callback || flags != 0)
		return CUDA_ERROR_INVALID_VALUE;
	callback(hStream, CUDA_SUCCESS, userData);
	return CUDA_SUCCESS;
}
EMU_API CUresult cuStreamAddCallback_ptsz(CUstream hStream, CUstreamCallback callback, void *userData,
					  unsigned int flags)
{
	return cuStreamAddCallback(hStream, callback, userData, flags);
}
EMU_API CUresult cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void *userData)
{
	CUresult rc = emu_stream_check(hStream, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!fn)
		return CUDA_ERROR_INVALID_VALUE;
	fn(userData);
	return CUDA_SUCCESS;
}
EMU_API CUresult cuLaunchHostFunc_ptsz(CUstream hStream, CUhostFn fn, void *userData)
{
	return cuLaunchHostFunc(hStream, fn, userData);
}

EMU_API CUresult cuStreamAttachMemAsync(CUstream hStream, CUdeviceptr dptr, size_t length, unsigned int flags)
{
	CUresult rc = emu_stream_check(hStream, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST && flags != CU_MEM_ATTACH_SINGLE)
		return CUDA_ERROR_INVALID_VALUE;
	return emu_check_range(dptr, length ? length : 1, 0);
}
EMU_API CUresult cuStreamAttachMemAsync_ptsz(CUstream hStream, CUdeviceptr dptr, size_t length, unsigned int flags)
{
	return cuStreamAttachMemAsync(hStream, dptr, length, flags);
}

/* Stream capture is not supported (cuStreamBeginCapture says so): never capturing. */
EMU_API CUresult cuStreamIsCapturing(CUstream hStream, int *captureStatus)
{
	CUresult rc = emu_stream_check(hStream, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!captureStatus)
		return CUDA_ERROR_INVALID_VALUE;
	*captureStatus = CU_STREAM_CAPTURE_STATUS_NONE;
	return CUDA_SUCCESS;
}
EMU_API CUresult cuStreamIsCapturing_ptsz(CUstream hStream, int *captureStatus)
{
	return cuStreamIsCapturing(hStream, captureStatus);
}

EMU_API CUresult cuStreamGetCaptureInfo(CUstream hStream, int *status, cuuint64_t *id)
{
	CUresult rc = cuStreamIsCapturing(hStream, status);
	if (rc == CUDA_SUCCESS && id)
		*id = 0;
	return rc;
}
EMU_API CUresult cuStreamGetCaptureInfo_ptsz(CUstream hStream, int *status, cuuint64_t *id)
{
	return cuStreamGetCaptureInfo(hStream, status, id);
}
EMU_API CUresult cuStreamGetCaptureInfo_v2(CUstream hStream, int *status, cuuint64_t *id, void **graph,
					   const void **deps, size_t *ndeps)
{
	CUresult rc = cuStreamGetCaptureInfo(hStream, status, id);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (graph)
		*graph = NULL;
	if (deps)
		*deps = NULL;
	if (ndeps)
		*ndeps = 0;
	return CUDA_SUCCESS;
}
EMU_API CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream hStream, int *status, cuuint64_t *id, void **graph,
						const void **deps, size_t *ndeps)
{
	return cuStreamGetCaptureInfo_v2(hStream, status, id, graph, deps, ndeps);
}
EMU_API CUresult cuStreamGetCaptureInfo_v3(CUstream hStream, int *status, cuuint64_t *id, void **graph,
					   const void **deps, const void **edges, size_t *ndeps)
{
	CUresult rc = cuStreamGetCaptureInfo_v2(hStream, status, id, graph, deps, ndeps);
	if (rc == CUDA_SUCCESS && edges)
		*edges = NULL;
	return rc;
}
EMU_API CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream hStream, int *status, cuuint64_t *id, void **graph,
						const void **deps, const void **edges, size_t *ndeps)
{
	return cuStreamGetCaptureInfo_v3(hStream, status, id, graph, deps, edges, ndeps);
}

/* cuCtxSynchronize (core): a context's work is always done. */
CUresult emu_memory_context_synchronize(CUcontext ctx)
{
	(void)ctx;
	return CUDA_SUCCESS;
}

/* --- attributes ------------------------------------------------------------------------- */

static int clamp_priority(int p)
{
	return p > PRIORITY_LEAST ? PRIORITY_LEAST : p < PRIORITY_GREATEST ? PRIORITY_GREATEST : p;
}

/* The attribute storage of a stream (locked); NULL: not a stream. */
static unsigned char (*attrs_of(CUstream s))[64]
{
	if (is_default(s))
		return default_attrs;
	return emu_hset_has(&streams, s) ? s->attrs : NULL;
}

EMU_API CUresult cuStreamGetAttribute(CUstream hStream, int attr, void *value_out)
{
	CUresult rc = emu_stream_check(hStream, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!value_out || attr <= 0 || attr >= STREAM_ATTRS)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&stream_mutex);
	unsigned char(*a)[64] = attrs_of(hStream);
	if (a) {
		memcpy(value_out, a[attr], 64);
		if (attr == STREAM_ATTR_PRIORITY) {
			int p = is_default(hStream) ? 0 : hStream->priority;
			memcpy(value_out, &p, sizeof p);
		}
	}
	pthread_mutex_unlock(&stream_mutex);
	return a ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
EMU_API CUresult cuStreamGetAttribute_ptsz(CUstream hStream, int attr, void *value_out)
{
	return cuStreamGetAttribute(hStream, attr, value_out);
}

EMU_API CUresult cuStreamSetAttribute(CUstream hStream, int attr, const void *value)
{
	CUresult rc = emu_stream_check(hStream, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!value || attr <= 0 || attr >= STREAM_ATTRS)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&stream_mutex);
	unsigned char(*a)[64] = attrs_of(hStream);
	if (a) {
		memcpy(a[attr], value, 64);
		if (attr == STREAM_ATTR_PRIORITY && !is_default(hStream)) {
			int p;
			memcpy(&p, value, sizeof p);
			hStream->priority = clamp_priority(p);
		}
	}
	pthread_mutex_unlock(&stream_mutex);
	return a ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
EMU_API CUresult cuStreamSetAttribute_ptsz(CUstream hStream, int attr, const void *value)
{
	return cuStreamSetAttribute(hStream, attr, value);
}

EMU_API CUresult cuStreamCopyAttributes(CUstream dst, CUstream src)
{
	CUresult rc = emu_stream_check(dst, NULL);
	if (rc == CUDA_SUCCESS)
		rc = emu_stream_check(src, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	pthread_mutex_lock(&stream_mutex);
	unsigned char(*d)[64] = attrs_of(dst), (*from)[64] = attrs_of(src);
	if (d && from && d != from) {
		memcpy(d, from, sizeof default_attrs);
		if (!is_default(dst))
			dst->priority = is_default(src) ? 0 : src->priority;
	}
	pthread_mutex_unlock(&stream_mutex);
	return d && from ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
EMU_API CUresult cuStreamCopyAttributes_ptsz(CUstream dst, CUstream src)
{
	return cuStreamCopyAttributes(dst, src);
}

/* Events.  The work before a record is already done when the record is enqueued
 * (mem_internal.h), so an event completes as it is recorded: its time is
 * CLOCK_MONOTONIC at that moment, and elapsed time is the difference between two
 * records, in milliseconds. */
#include <stdlib.h>

#include "emulator/cuda/mem_internal.h"

#define EVENT_MAGIC 0x45564e54U /* "EVNT" */

struct emu_event {
	uint32_t magic;
	CUcontext ctx;
	unsigned flags;
	int recorded;
	uint64_t when_ns;
};

static pthread_mutex_t event_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct emu_handle_set events;

CUresult emu_event_check(CUevent e, CUcontext *ctx)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	pthread_mutex_lock(&event_mutex);
	int ok = emu_hset_has(&events, e);
	if (ok && ctx)
		*ctx = e->ctx;
	pthread_mutex_unlock(&event_mutex);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

void emu_events_context_gone(CUcontext ctx)
{
	pthread_mutex_lock(&event_mutex);
	for (size_t i = 0; i < events.cap; i++) {
		uintptr_t k = events.slots[i];
		if (k <= 1)
			continue;
		struct emu_event *e = (struct emu_event *)k;
		if (e->ctx == ctx) {
			emu_hset_del(&events, e);
			e->magic = 0;
			free(e);
		}
	}
	pthread_mutex_unlock(&event_mutex);
}

EMU_API CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
	CUcontext ctx;
	CUresult rc = emu_current(&ctx, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!phEvent || (Flags & ~7u))
		return CUDA_ERROR_INVALID_VALUE;
	if ((Flags & CU_EVENT_INTERPROCESS) && !(Flags & CU_EVENT_DISABLE_TIMING))
		return CUDA_ERROR_INVALID_VALUE;
	struct emu_event *e = calloc(1, sizeof *e);
	if (!e)
		return CUDA_ERROR_OUT_OF_MEMORY;
	e->magic = EVENT_MAGIC;
	e->ctx = ctx;
	e->flags = Flags;
	pthread_mutex_lock(&event_mutex);
	int bad = emu_hset_add(&events, e);
	pthread_mutex_unlock(&event_mutex);
	if (bad) {
		free(e);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*phEvent = e;
	return CUDA_SUCCESS;
}

static CUresult record(CUevent e, CUstream s, unsigned flags)
{
	CUresult rc = emu_stream_check(s, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (flags & ~1u)
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t now = emu_now_ns();
	pthread_mutex_lock(&event_mutex);
	int ok = emu_hset_has(&events, e);
	if (ok) {
		e->recorded = 1;
		e->when_ns = now;
	}
	pthread_mutex_unlock(&event_mutex);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EMU_API CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
	return record(hEvent, hStream, 0);
}
EMU_API CUresult cuEventRecord_ptsz(CUevent hEvent, CUstream hStream)
{
	return record(hEvent, hStream, 0);
}
EMU_API CUresult cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags)
{
	return record(hEvent, hStream, flags);
}
EMU_API CUresult cuEventRecordWithFlags_ptsz(CUevent hEvent, CUstream hStream, unsigned int flags)
{
	return record(hEvent, hStream, flags);
}

/* Complete, recorded or not (an event never recorded counts as complete, as in CUDA). */
EMU_API CUresult cuEventQuery(CUevent hEvent)
{
	return emu_event_check(hEvent, NULL);
}

EMU_API CUresult cuEventSynchronize(CUevent hEvent)
{
	return emu_event_check(hEvent, NULL);
}

EMU_API CUresult cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!pMilliseconds)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&event_mutex);
	if (!emu_hset_has(&events, hStart) || !emu_hset_has(&events, hEnd)) {
		pthread_mutex_unlock(&event_mutex);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	int usable = hStart->recorded && hEnd->recorded && !(hStart->flags & CU_EVENT_DISABLE_TIMING) &&
		     !(hEnd->flags & CU_EVENT_DISABLE_TIMING);
	double ms = usable ? ((double)hEnd->when_ns - (double)hStart->when_ns) / 1e6 : 0;
	pthread_mutex_unlock(&event_mutex);
	if (!usable)
		return CUDA_ERROR_INVALID_HANDLE;
	*pMilliseconds = (float)ms;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
	return cuEventElapsedTime_v2(pMilliseconds, hStart, hEnd);
}

EMU_API CUresult cuEventDestroy_v2(CUevent hEvent)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	pthread_mutex_lock(&event_mutex);
	int ok = emu_hset_has(&events, hEvent);
	if (ok) {
		emu_hset_del(&events, hEvent);
		hEvent->magic = 0;
		free(hEvent);
	}
	pthread_mutex_unlock(&event_mutex);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EMU_API CUresult cuEventDestroy(CUevent hEvent)
{
	return cuEventDestroy_v2(hEvent);
}

/* cuCtxRecordEvent / cuCtxWaitEvent: the context's work is done, like a stream's. */
EMU_API CUresult cuCtxRecordEvent(CUcontext hCtx, CUevent hEvent)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (emu_context_check(hCtx) != CUDA_SUCCESS)
		return CUDA_ERROR_INVALID_CONTEXT;
	uint64_t now = emu_now_ns();
	pthread_mutex_lock(&event_mutex);
	int ok = emu_hset_has(&events, hEvent);
	if (ok) {
		hEvent->recorded = 1;
		hEvent->when_ns = now;
	}
	pthread_mutex_unlock(&event_mutex);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EMU_API CUresult cuCtxWaitEvent(CUcontext hCtx, CUevent hEvent)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (emu_context_check(hCtx) != CUDA_SUCCESS)
		return CUDA_ERROR_INVALID_CONTEXT;
	return emu_event_check(hEvent, NULL);
}

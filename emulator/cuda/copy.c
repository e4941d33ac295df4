/* Copies and memset, every 1D form (sync, async, per-thread-stream, the 32-bit originals),
 * 2D, 3D and peer copies.  Device memory is host memory in the emulator's address range,
 * so a copy is a memcpy after both ranges were checked: a device range outside any
 * allocation is CUDA_ERROR_INVALID_VALUE, never a crash.  Async forms complete before
 * they return (see mem_internal.h); CUDA arrays do not exist in the emulator. */
#include <string.h>

#include "emulator/cuda/mem_internal.h"

/* dst_dev, src_dev: the side must be the driver's memory (EMU_RANGE_DEVICE). */
static CUresult copy_checked(uint64_t dst, uint64_t src, uint64_t n, int dst_dev, int src_dev)
{
	if (n == 0)
		return CUDA_SUCCESS;
	CUresult rc = emu_check_ranges(dst, n, EMU_RANGE_WRITE | (dst_dev ? EMU_RANGE_DEVICE : 0), src, n,
				       src_dev ? EMU_RANGE_DEVICE : 0);
	if (rc != CUDA_SUCCESS)
		return rc;
	emu_move(dst, src, n);
	return CUDA_SUCCESS;
}

/* Which sides of a 1D copy are device pointers (the others may be any host memory). */
#define UU 0 /* cuMemcpy: unified addresses, either may be host memory */
#define HD 1
#define DH 2
#define DD 3

static CUresult copy_sync(uint64_t dst, uint64_t src, uint64_t n, int dirs)
{
	/* emu_current(), then copy_checked(), in one call. */
	if (n == 0)
		return emu_current(NULL, NULL);
	return emu_copy_current(dst, src, n, EMU_RANGE_WRITE | ((dirs & 1) ? EMU_RANGE_DEVICE : 0),
				(dirs & 2) ? EMU_RANGE_DEVICE : 0);
}

static CUresult copy_async(uint64_t dst, uint64_t src, uint64_t n, CUstream s, int dirs)
{
	CUresult rc = emu_stream_check(s, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	return copy_checked(dst, src, n, dirs & 1, dirs & 2);
}

#define P(x) ((uint64_t)(uintptr_t)(x))


/* --- 1D ---------------------------------------------------------------------------------- */

EMU_API CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
	return copy_sync(dst, src, ByteCount, UU);
}
EMU_API CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
	return copy_sync(dst, src, ByteCount, UU);
}
EMU_API CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
	return copy_async(dst, src, ByteCount, hStream, UU);
}
EMU_API CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
	return copy_async(dst, src, ByteCount, hStream, UU);
}

EMU_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
	return copy_sync(dstDevice, P(srcHost), ByteCount, HD);
}
EMU_API CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
	return copy_sync(dstDevice, P(srcHost), ByteCount, HD);
}
EMU_API CUresult cuMemcpyHtoD(uint32_t dstDevice, const void *srcHost, unsigned int ByteCount)
{
	return copy_sync(dstDevice, P(srcHost), ByteCount, HD);
}
EMU_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
				      CUstream hStream)
{
	return copy_async(dstDevice, P(srcHost), ByteCount, hStream, HD);
}
EMU_API CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
					   CUstream hStream)
{
	return copy_async(dstDevice, P(srcHost), ByteCount, hStream, HD);
}
EMU_API CUresult cuMemcpyHtoDAsync(uint32_t dstDevice, const void *srcHost, unsigned int ByteCount,
				   CUstream hStream)
{
	return copy_async(dstDevice, P(srcHost), ByteCount, hStream, HD);
}

EMU_API CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
	return copy_sync(P(dstHost), srcDevice, ByteCount, DH);
}
EMU_API CUresult cuMemcpyDtoH_v2_ptds(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
	return copy_sync(P(dstHost), srcDevice, ByteCount, DH);
}
EMU_API CUresult cuMemcpyDtoH(void *dstHost, uint32_t srcDevice, unsigned int ByteCount)
{
	return copy_sync(P(dstHost), srcDevice, ByteCount, DH);
}
EMU_API CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
{
	return copy_async(P(dstHost), srcDevice, ByteCount, hStream, DH);
}
EMU_API CUresult cuMemcpyDtoHAsync_v2_ptsz(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
					   CUstream hStream)
{
	return copy_async(P(dstHost), srcDevice, ByteCount, hStream, DH);
}
EMU_API CUresult cuMemcpyDtoHAsync(void *dstHost, uint32_t srcDevice, unsigned int ByteCount, CUstream hStream)
{
	return copy_async(P(dstHost), srcDevice, ByteCount, hStream, DH);
}

EMU_API CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
	return copy_sync(dstDevice, srcDevice, ByteCount, DD);
}
EMU_API CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
	return copy_sync(dstDevice, srcDevice, ByteCount, DD);
}
EMU_API CUresult cuMemcpyDtoD(uint32_t dstDevice, uint32_t srcDevice, unsigned int ByteCount)
{
	return copy_sync(dstDevice, srcDevice, ByteCount, DD);
}
EMU_API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
				      CUstream hStream)
{
	return copy_async(dstDevice, srcDevice, ByteCount, hStream, DD);
}
EMU_API CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
					   CUstream hStream)
{
	return copy_async(dstDevice, srcDevice, ByteCount, hStream, DD);
}
EMU_API CUresult cuMemcpyDtoDAsync(uint32_t dstDevice, uint32_t srcDevice, unsigned int ByteCount,
				   CUstream hStream)
{
	return copy_async(dstDevice, srcDevice, ByteCount, hStream, DD);
}

/* --- batches (CUDA 12.8): every copy in order; the attributes (source access order,
 * location hints) change nothing where all is done at once ------------------------------ */

static CUresult copy_batch(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count, size_t *fail_idx,
			   CUstream s)
{
	if (fail_idx)
		*fail_idx = (size_t)-1;
	CUresult rc = emu_stream_check(s, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (count == 0 || !dsts || !srcs || !sizes)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < count; i++) {
		rc = copy_checked(dsts[i], srcs[i], sizes[i], 0, 0);
		if (rc != CUDA_SUCCESS) {
			if (fail_idx)
				*fail_idx = i;
			return rc;
		}
	}
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemcpyBatchAsync_v2(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
				       void *attrs, size_t *attrsIdxs, size_t numAttrs, CUstream hStream)
{
	return copy_batch(dsts, srcs, sizes, count, NULL, hStream);
}
EMU_API CUresult cuMemcpyBatchAsync_v2_ptsz(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
					    void *attrs, size_t *attrsIdxs, size_t numAttrs, CUstream hStream)
{
	return copy_batch(dsts, srcs, sizes, count, NULL, hStream);
}
EMU_API CUresult cuMemcpyBatchAsync(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count, void *attrs,
				    size_t *attrsIdxs, size_t numAttrs, size_t *failIdx, CUstream hStream)
{
	return copy_batch(dsts, srcs, sizes, count, failIdx, hStream);
}
EMU_API CUresult cuMemcpyBatchAsync_ptsz(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
					 void *attrs, size_t *attrsIdxs, size_t numAttrs, size_t *failIdx,
					 CUstream hStream)
{
	return copy_batch(dsts, srcs, sizes, count, failIdx, hStream);
}

/* --- peer --------------------------------------------------------------------------------- */

static CUresult peer_contexts(CUcontext dst, CUcontext src)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (emu_context_check(dst) != CUDA_SUCCESS || emu_context_check(src) != CUDA_SUCCESS)
		return CUDA_ERROR_INVALID_CONTEXT;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemcpyPeer(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
			      CUcontext srcContext, size_t ByteCount)
{
	CUresult rc = peer_contexts(dstContext, srcContext);
	if (rc != CUDA_SUCCESS)
		return rc;
	return copy_checked(dstDevice, srcDevice, ByteCount, 1, 1);
}
EMU_API CUresult cuMemcpyPeer_ptds(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
				   CUcontext srcContext, size_t ByteCount)
{
	return cuMemcpyPeer(dstDevice, dstContext, srcDevice, srcContext, ByteCount);
}
EMU_API CUresult cuMemcpyPeerAsync(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
				   CUcontext srcContext, size_t ByteCount, CUstream hStream)
{
	CUresult rc = peer_contexts(dstContext, srcContext);
	if (rc == CUDA_SUCCESS)
		rc = emu_stream_check(hStream, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	return copy_checked(dstDevice, srcDevice, ByteCount, 1, 1);
}
EMU_API CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
					CUcontext srcContext, size_t ByteCount, CUstream hStream)
{
	return cuMemcpyPeerAsync(dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream);
}

/* --- 2D and 3D -------------------------------------------------------------------------- */

/* One side of a strided copy: where it starts and how it steps. */
struct side {
	int type;
	uint64_t base;
	uint64_t pitch, height; /* bytes per row, rows per slice */
};

static CUresult side_from(int type, const void *host, CUdeviceptr dev, const void *array, uint64_t x,
			  uint64_t y, uint64_t z, uint64_t pitch, uint64_t height, struct side *out)
{
	uint64_t base;
	switch (type) {
	case CU_MEMORYTYPE_HOST:
		base = P(host);
		break;
	case CU_MEMORYTYPE_DEVICE:
	case CU_MEMORYTYPE_UNIFIED:
		base = dev;
		break;
	default: /* CU_MEMORYTYPE_ARRAY: the emulator has no arrays */
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (!base)
		return CUDA_ERROR_INVALID_VALUE;
	out->type = type;
	out->pitch = pitch;
	out->height = height;
	out->base = base + (z * height + y) * pitch + x;
	return CUDA_SUCCESS;
}

static CUresult copy_3d(struct side *dst, struct side *src, uint64_t width, uint64_t height, uint64_t depth)
{
	if (width == 0 || height == 0 || depth == 0)
		return CUDA_SUCCESS;
	if (height > 1 && (dst->pitch < width || src->pitch < width))
		return CUDA_ERROR_INVALID_VALUE;
	if (depth > 1 && (dst->height < height || src->height < height))
		return CUDA_ERROR_INVALID_VALUE;
	if (width > (1ULL << 48) || height > (1ULL << 32) || depth > (1ULL << 32))
		return CUDA_ERROR_INVALID_VALUE;
	/* The extent each side touches, checked once. */
	uint64_t dst_extent = ((depth - 1) * dst->height + (height - 1)) * dst->pitch + width;
	uint64_t src_extent = ((depth - 1) * src->height + (height - 1)) * src->pitch + width;
	CUresult rc = emu_check_ranges(dst->base, dst_extent,
				       EMU_RANGE_WRITE | (dst->type == CU_MEMORYTYPE_DEVICE ? EMU_RANGE_DEVICE : 0),
				       src->base, src_extent, src->type == CU_MEMORYTYPE_DEVICE ? EMU_RANGE_DEVICE : 0);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (depth == 1 && (height == 1 || (dst->pitch == width && src->pitch == width))) {
		emu_move(dst->base, src->base, width * height);
		return CUDA_SUCCESS;
	}
	for (uint64_t z = 0; z < depth; z++)
		for (uint64_t y = 0; y < height; y++)
			emu_move(dst->base + (z * dst->height + y) * dst->pitch,
			     src->base + (z * src->height + y) * src->pitch, width);
	return CUDA_SUCCESS;
}

static CUresult copy_2d(const CUDA_MEMCPY2D *c)
{
	if (!c)
		return CUDA_ERROR_INVALID_VALUE;
	struct side s, d;
	CUresult rc = side_from(c->srcMemoryType, c->srcHost, c->srcDevice, c->srcArray, c->srcXInBytes, c->srcY,
				0, c->srcPitch, 0, &s);
	if (rc == CUDA_SUCCESS)
		rc = side_from(c->dstMemoryType, c->dstHost, c->dstDevice, c->dstArray, c->dstXInBytes, c->dstY, 0,
			       c->dstPitch, 0, &d);
	if (rc != CUDA_SUCCESS)
		return rc;
	return copy_3d(&d, &s, c->WidthInBytes, c->Height, 1);
}

static void widen_2d(const CUDA_MEMCPY2D_v1 *o, CUDA_MEMCPY2D *c)
{
	memset(c, 0, sizeof *c);
	c->srcXInBytes = o->srcXInBytes;
	c->srcY = o->srcY;
	c->srcMemoryType = o->srcMemoryType;
	c->srcHost = o->srcHost;
	c->srcDevice = o->srcDevice;
	c->srcArray = o->srcArray;
	c->srcPitch = o->srcPitch;
	c->dstXInBytes = o->dstXInBytes;
	c->dstY = o->dstY;
	c->dstMemoryType = o->dstMemoryType;
	c->dstHost = o->dstHost;
	c->dstDevice = o->dstDevice;
	c->dstArray = o->dstArray;
	c->dstPitch = o->dstPitch;
	c->WidthInBytes = o->WidthInBytes;
	c->Height = o->Height;
}

static CUresult copy_2d_sync(const CUDA_MEMCPY2D *c)
{
	CUresult rc = emu_current(NULL, NULL);
	return rc != CUDA_SUCCESS ? rc : copy_2d(c);
}

static CUresult copy_2d_async(const CUDA_MEMCPY2D *c, CUstream s)
{
	CUresult rc = emu_stream_check(s, NULL);
	return rc != CUDA_SUCCESS ? rc : copy_2d(c);
}

static CUresult copy_2d_v1(const CUDA_MEMCPY2D_v1 *o, CUstream s, int async)
{
	if (!o)
		return CUDA_ERROR_INVALID_VALUE;
	CUDA_MEMCPY2D c;
	widen_2d(o, &c);
	return async ? copy_2d_async(&c, s) : copy_2d_sync(&c);
}

EMU_API CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *pCopy)
{
	return copy_2d_sync(pCopy);
}
EMU_API CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D *pCopy)
{
	return copy_2d_sync(pCopy);
}
EMU_API CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D *pCopy)
{
	return copy_2d_sync(pCopy);
}
EMU_API CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D *pCopy)
{
	return copy_2d_sync(pCopy);
}
EMU_API CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *pCopy, CUstream hStream)
{
	return copy_2d_async(pCopy, hStream);
}
EMU_API CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D *pCopy, CUstream hStream)
{
	return copy_2d_async(pCopy, hStream);
}
EMU_API CUresult cuMemcpy2D(const CUDA_MEMCPY2D_v1 *pCopy)
{
	return copy_2d_v1(pCopy, NULL, 0);
}
EMU_API CUresult cuMemcpy2DUnaligned(const CUDA_MEMCPY2D_v1 *pCopy)
{
	return copy_2d_v1(pCopy, NULL, 0);
}
EMU_API CUresult cuMemcpy2DAsync(const CUDA_MEMCPY2D_v1 *pCopy, CUstream hStream)
{
	return copy_2d_v1(pCopy, hStream, 1);
}

static CUresult copy_3d_desc(const CUDA_MEMCPY3D *c, int peer)
{
	if (!c)
		return CUDA_ERROR_INVALID_VALUE;
	if (c->srcLOD || c->dstLOD || (!peer && (c->reserved0 || c->reserved1)))
		return CUDA_ERROR_INVALID_VALUE;
	if (peer && (emu_context_check((CUcontext)c->reserved0) != CUDA_SUCCESS ||
		     emu_context_check((CUcontext)c->reserved1) != CUDA_SUCCESS))
		return CUDA_ERROR_INVALID_CONTEXT;
	struct side s, d;
	CUresult rc = side_from(c->srcMemoryType, c->srcHost, c->srcDevice, c->srcArray, c->srcXInBytes, c->srcY,
				c->srcZ, c->srcPitch, c->srcHeight, &s);
	if (rc == CUDA_SUCCESS)
		rc = side_from(c->dstMemoryType, c->dstHost, c->dstDevice, c->dstArray, c->dstXInBytes, c->dstY,
			       c->dstZ, c->dstPitch, c->dstHeight, &d);
	if (rc != CUDA_SUCCESS)
		return rc;
	return copy_3d(&d, &s, c->WidthInBytes, c->Height, c->Depth);
}

static void widen_3d(const CUDA_MEMCPY3D_v1 *o, CUDA_MEMCPY3D *c)
{
	memset(c, 0, sizeof *c);
	c->srcXInBytes = o->srcXInBytes;
	c->srcY = o->srcY;
	c->srcZ = o->srcZ;
	c->srcLOD = o->srcLOD;
	c->srcMemoryType = o->srcMemoryType;
	c->srcHost = o->srcHost;
	c->srcDevice = o->srcDevice;
	c->srcArray = o->srcArray;
	c->reserved0 = o->reserved0;
	c->srcPitch = o->srcPitch;
	c->srcHeight = o->srcHeight;
	c->dstXInBytes = o->dstXInBytes;
	c->dstY = o->dstY;
	c->dstZ = o->dstZ;
	c->dstLOD = o->dstLOD;
	c->dstMemoryType = o->dstMemoryType;
	c->dstHost = o->dstHost;
	c->dstDevice = o->dstDevice;
	c->dstArray = o->dstArray;
	c->reserved1 = o->reserved1;
	c->dstPitch = o->dstPitch;
	c->dstHeight = o->dstHeight;
	c->WidthInBytes = o->WidthInBytes;
	c->Height = o->Height;
	c->Depth = o->Depth;
}

static CUresult copy_3d_call(const CUDA_MEMCPY3D *c, CUstream s, int async, int peer)
{
	CUresult rc = async ? emu_stream_check(s, NULL) : emu_current(NULL, NULL);
	if (rc != CUDA_SUCCESS)
		return rc;
	return copy_3d_desc(c, peer);
}

static CUresult copy_3d_v1(const CUDA_MEMCPY3D_v1 *o, CUstream s, int async)
{
	if (!o)
		return CUDA_ERROR_INVALID_VALUE;
	CUDA_MEMCPY3D c;
	widen_3d(o, &c);
	return copy_3d_call(&c, s, async, 0);
}

EMU_API CUresult cuMemcpy3D_v2(const CUDA_MEMCPY3D *pCopy)
{
	return copy_3d_call(pCopy, NULL, 0, 0);
}
EMU_API CUresult cuMemcpy3D_v2_ptds(const CUDA_MEMCPY3D *pCopy)
{
	return copy_3d_call(pCopy, NULL, 0, 0);
}
EMU_API CUresult cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D *pCopy, CUstream hStream)
{
	return copy_3d_call(pCopy, hStream, 1, 0);
}
EMU_API CUresult cuMemcpy3DAsync_v2_ptsz(const CUDA_MEMCPY3D *pCopy, CUstream hStream)
{
	return copy_3d_call(pCopy, hStream, 1, 0);
}
EMU_API CUresult cuMemcpy3D(const CUDA_MEMCPY3D_v1 *pCopy)
{
	return copy_3d_v1(pCopy, NULL, 0);
}
EMU_API CUresult cuMemcpy3DAsync(const CUDA_MEMCPY3D_v1 *pCopy, CUstream hStream)
{
	return copy_3d_v1(pCopy, hStream, 1);
}
EMU_API CUresult cuMemcpy3DPeer(const CUDA_MEMCPY3D_PEER *pCopy)
{
	return copy_3d_call(pCopy, NULL, 0, 1);
}
EMU_API CUresult cuMemcpy3DPeer_ptds(const CUDA_MEMCPY3D_PEER *pCopy)
{
	return copy_3d_call(pCopy, NULL, 0, 1);
}
EMU_API CUresult cuMemcpy3DPeerAsync(const CUDA_MEMCPY3D_PEER *pCopy, CUstream hStream)
{
	return copy_3d_call(pCopy, hStream, 1, 1);
}
EMU_API CUresult cuMemcpy3DPeerAsync_ptsz(const CUDA_MEMCPY3D_PEER *pCopy, CUstream hStream)
{
	return copy_3d_call(pCopy, hStream, 1, 1);
}

/* --- memset --------------------------------------------------------------------------------- */

static void fill(uint64_t dst, unsigned value, unsigned elem, uint64_t n)
{
	if (elem == 1) {
		memset((void *)(uintptr_t)dst, (int)(value & 0xff), n);
		return;
	}
	if (elem == 2) {
		uint16_t v = (uint16_t)value, *p = (uint16_t *)(uintptr_t)dst;
		if ((v & 0xff) == (v >> 8)) {
			memset(p, v & 0xff, n * 2);
			return;
		}
		for (uint64_t i = 0; i < n; i++)
			p[i] = v;
		return;
	}
	uint32_t v = value, *p = (uint32_t *)(uintptr_t)dst;
	if (v == 0 || v == 0xffffffffu) {
		memset(p, (int)(v & 0xff), n * 4);
		return;
	}
	for (uint64_t i = 0; i < n; i++)
		p[i] = v;
}

/* width and height in elements; pitch in bytes (0: one contiguous run). */
static CUresult memset_2d(uint64_t dst, uint64_t pitch, unsigned value, unsigned elem, uint64_t width,
			  uint64_t height)
{
	if (dst % elem)
		return CUDA_ERROR_INVALID_VALUE;
	if (width == 0 || height == 0)
		return CUDA_SUCCESS;
	if (width > (1ULL << 48) / elem || height > (1ULL << 32))
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t row = width * elem;
	if (height > 1 && (pitch < row || pitch % elem))
		return CUDA_ERROR_INVALID_VALUE;
	CUresult rc = emu_check_range(dst, (height - 1) * pitch + row, EMU_RANGE_WRITE | EMU_RANGE_DEVICE);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (height == 1 || pitch == row) {
		fill(dst, value, elem, width * height);
		return CUDA_SUCCESS;
	}
	for (uint64_t y = 0; y < height; y++)
		fill(dst + y * pitch, value, elem, width);
	return CUDA_SUCCESS;
}

static CUresult memset_sync(uint64_t dst, uint64_t pitch, unsigned value, unsigned elem, uint64_t w, uint64_t h)
{
	CUresult rc = emu_current(NULL, NULL);
	return rc != CUDA_SUCCESS ? rc : memset_2d(dst, pitch, value, elem, w, h);
}

static CUresult memset_async(uint64_t dst, uint64_t pitch, unsigned value, unsigned elem, uint64_t w,
			     uint64_t h, CUstream s)
{
	CUresult rc = emu_stream_check(s, NULL);
	return rc != CUDA_SUCCESS ? rc : memset_2d(dst, pitch, value, elem, w, h);
}

EMU_API CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char uc, size_t N)
{
	return memset_sync(d, 0, uc, 1, N, 1);
}
EMU_API CUresult cuMemsetD8_v2_ptds(CUdeviceptr d, unsigned char uc, size_t N)
{
	return memset_sync(d, 0, uc, 1, N, 1);
}
EMU_API CUresult cuMemsetD8(uint32_t d, unsigned char uc, unsigned int N)
{
	return memset_sync(d, 0, uc, 1, N, 1);
}
EMU_API CUresult cuMemsetD16_v2(CUdeviceptr d, unsigned short us, size_t N)
{
	return memset_sync(d, 0, us, 2, N, 1);
}
EMU_API CUresult cuMemsetD16_v2_ptds(CUdeviceptr d, unsigned short us, size_t N)
{
	return memset_sync(d, 0, us, 2, N, 1);
}
EMU_API CUresult cuMemsetD16(uint32_t d, unsigned short us, unsigned int N)
{
	return memset_sync(d, 0, us, 2, N, 1);
}
EMU_API CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned int ui, size_t N)
{
	return memset_sync(d, 0, ui, 4, N, 1);
}
EMU_API CUresult cuMemsetD32_v2_ptds(CUdeviceptr d, unsigned int ui, size_t N)
{
	return memset_sync(d, 0, ui, 4, N, 1);
}
EMU_API CUresult cuMemsetD32(uint32_t d, unsigned int ui, unsigned int N)
{
	return memset_sync(d, 0, ui, 4, N, 1);
}

EMU_API CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char uc, size_t N, CUstream s)
{
	return memset_async(d, 0, uc, 1, N, 1, s);
}
EMU_API CUresult cuMemsetD8Async_ptsz(CUdeviceptr d, unsigned char uc, size_t N, CUstream s)
{
	return memset_async(d, 0, uc, 1, N, 1, s);
}
EMU_API CUresult cuMemsetD16Async(CUdeviceptr d, unsigned short us, size_t N, CUstream s)
{
	return memset_async(d, 0, us, 2, N, 1, s);
}
EMU_API CUresult cuMemsetD16Async_ptsz(CUdeviceptr d, unsigned short us, size_t N, CUstream s)
{
	return memset_async(d, 0, us, 2, N, 1, s);
}
EMU_API CUresult cuMemsetD32Async(CUdeviceptr d, unsigned int ui, size_t N, CUstream s)
{
	return memset_async(d, 0, ui, 4, N, 1, s);
}
EMU_API CUresult cuMemsetD32Async_ptsz(CUdeviceptr d, unsigned int ui, size_t N, CUstream s)
{
	return memset_async(d, 0, ui, 4, N, 1, s);
}

EMU_API CUresult cuMemsetD2D8_v2(CUdeviceptr d, size_t pitch, unsigned char uc, size_t w, size_t h)
{
	return memset_sync(d, pitch, uc, 1, w, h);
}
EMU_API CUresult cuMemsetD2D8_v2_ptds(CUdeviceptr d, size_t pitch, unsigned char uc, size_t w, size_t h)
{
	return memset_sync(d, pitch, uc, 1, w, h);
}
EMU_API CUresult cuMemsetD2D8(uint32_t d, unsigned int pitch, unsigned char uc, unsigned int w, unsigned int h)
{
	return memset_sync(d, pitch, uc, 1, w, h);
}
EMU_API CUresult cuMemsetD2D16_v2(CUdeviceptr d, size_t pitch, unsigned short us, size_t w, size_t h)
{
	return memset_sync(d, pitch, us, 2, w, h);
}
EMU_API CUresult cuMemsetD2D16_v2_ptds(CUdeviceptr d, size_t pitch, unsigned short us, size_t w, size_t h)
{
	return memset_sync(d, pitch, us, 2, w, h);
}
EMU_API CUresult cuMemsetD2D16(uint32_t d, unsigned int pitch, unsigned short us, unsigned int w, unsigned int h)
{
	return memset_sync(d, pitch, us, 2, w, h);
}
EMU_API CUresult cuMemsetD2D32_v2(CUdeviceptr d, size_t pitch, unsigned int ui, size_t w, size_t h)
{
	return memset_sync(d, pitch, ui, 4, w, h);
}
EMU_API CUresult cuMemsetD2D32_v2_ptds(CUdeviceptr d, size_t pitch, unsigned int ui, size_t w, size_t h)
{
	return memset_sync(d, pitch, ui, 4, w, h);
}
EMU_API CUresult cuMemsetD2D32(uint32_t d, unsigned int pitch, unsigned int ui, unsigned int w, unsigned int h)
{
	return memset_sync(d, pitch, ui, 4, w, h);
}

EMU_API CUresult cuMemsetD2D8Async(CUdeviceptr d, size_t pitch, unsigned char uc, size_t w, size_t h, CUstream s)
{
	return memset_async(d, pitch, uc, 1, w, h, s);
}
EMU_API CUresult cuMemsetD2D8Async_ptsz(CUdeviceptr d, size_t pitch, unsigned char uc, size_t w, size_t h,
					CUstream s)
{
	return memset_async(d, pitch, uc, 1, w, h, s);
}
EMU_API CUresult cuMemsetD2D16Async(CUdeviceptr d, size_t pitch, unsigned short us, size_t w, size_t h,
				    CUstream s)
{
	return memset_async(d, pitch, us, 2, w, h, s);
}
EMU_API CUresult cuMemsetD2D16Async_ptsz(CUdeviceptr d, size_t pitch, unsigned short us, size_t w, size_t h,
					 CUstream s)
{
	return memset_async(d, pitch, us, 2, w, h, s);
}
EMU_API CUresult cuMemsetD2D32Async(CUdeviceptr d, size_t pitch, unsigned int ui, size_t w, size_t h, CUstream s)
{
	return memset_async(d, pitch, ui, 4, w, h, s);
}
EMU_API CUresult cuMemsetD2D32Async_ptsz(CUdeviceptr d, size_t pitch, unsigned int ui, size_t w, size_t h,
					 CUstream s)
{
	return memset_async(d, pitch, ui, 4, w, h, s);
}

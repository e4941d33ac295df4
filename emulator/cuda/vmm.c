/* Virtual memory management as ggml/Ollama use it: reserve an address range, create
 * physical allocations, map them into the range, grant access.
 *
 * Physical memory is one sparse memfd per process: a physical allocation is a range of
 * offsets in it (pages exist only once written, given back by punching a hole when the
 * allocation goes), and a mapping is that range mapped MAP_SHARED at the reserved
 * address, so the same physical allocation can be mapped at several addresses and the
 * data is the same.  Reservations come from the device address range of memory.c.
 * Physical allocations count against the device's capacity from cuMemCreate on;
 * granularity is 2 MiB, as on the H200. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emulator/cuda/mem_internal.h"

#define GRANULARITY (2ULL * 1024 * 1024)
#define PHYS_MAGIC 0x50485953U /* "PHYS" */
#define PHYS_SPACE (1ULL << 46)

struct emu_phys {
	uint32_t magic;
	uint64_t size, offset;
	int device;
	CUmemAllocationProp prop;
	int handle_refs; /* cuMemCreate + cuMemRetainAllocationHandle - cuMemRelease */
	int map_refs;    /* mappings */
};

struct emu_reservation {
	uint64_t start, size;
	struct emu_reservation *next;
};

/* All under emu_mem_mutex. */
static int phys_fd = -1;
static struct emu_ranges phys_offsets;
static struct emu_handle_set physs;
static struct emu_reservation *reservations;

void emu_vmm_reservation_range(struct emu_reservation *r, uint64_t *start, uint64_t *size)
{
	*start = r->start;
	*size = r->size;
}

static int phys_init(void)
{
	if (phys_fd >= 0)
		return 0;
	int fd = memfd_create("vgpu-emulator-vmm", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)PHYS_SPACE) != 0 || emu_ranges_init(&phys_offsets, GRANULARITY, PHYS_SPACE - GRANULARITY) != 0) {
		close(fd);
		return -1;
	}
	phys_fd = fd;
	return 0;
}

static struct emu_phys *phys_from(CUmemGenericAllocationHandle h)
{
	struct emu_phys *p = (struct emu_phys *)(uintptr_t)h;
	return emu_hset_has(&physs, p) ? p : NULL;
}

/* Frees the physical allocation when nothing refers to it any more (locked). */
static void phys_maybe_free(struct emu_phys *p)
{
	if (p->handle_refs > 0 || p->map_refs > 0)
		return;
	emu_hset_del(&physs, p);
#ifdef FALLOC_FL_PUNCH_HOLE
	fallocate(phys_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)p->offset, (off_t)p->size);
#endif
	emu_ranges_free(&phys_offsets, p->offset, p->size);
	emu_capacity_give(p->device, p->size);
	p->magic = 0;
	free(p);
}

static int valid_device_location(const CUmemLocation *loc)
{
	return loc->type == CU_MEM_LOCATION_TYPE_DEVICE && loc->id >= 0 && (unsigned)loc->id < emu_device_count();
}

EMU_API CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop, int option)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!granularity || !prop || (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM &&
				      option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED))
		return CUDA_ERROR_INVALID_VALUE;
	if (prop->type != CU_MEM_ALLOCATION_TYPE_PINNED || !valid_device_location(&prop->location))
		return CUDA_ERROR_INVALID_VALUE;
	*granularity = GRANULARITY;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop,
			     unsigned long long flags)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!handle || !prop || size == 0 || size % GRANULARITY || flags != 0 ||
	    prop->type != CU_MEM_ALLOCATION_TYPE_PINNED)
		return CUDA_ERROR_INVALID_VALUE;
	if (prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!valid_device_location(&prop->location))
		return CUDA_ERROR_INVALID_DEVICE;
	struct emu_phys *p = calloc(1, sizeof *p);
	if (!p)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (emu_capacity_take(prop->location.id, size) != 0) {
		free(p);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	emu_mem_lock();
	uint64_t off = phys_init() == 0 ? emu_ranges_alloc(&phys_offsets, size, GRANULARITY, 0) : 0;
	if (!off || emu_hset_add(&physs, p) != 0) {
		if (off)
			emu_ranges_free(&phys_offsets, off, size);
		emu_mem_unlock();
		emu_capacity_give(prop->location.id, size);
		free(p);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	p->magic = PHYS_MAGIC;
	p->size = size;
	p->offset = off;
	p->device = prop->location.id;
	p->prop = *prop;
	p->handle_refs = 1;
	emu_mem_unlock();
	*handle = (CUmemGenericAllocationHandle)(uintptr_t)p;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	emu_mem_lock();
	struct emu_phys *p = phys_from(handle);
	if (!p || p->handle_refs <= 0) {
		emu_mem_unlock();
		return CUDA_ERROR_INVALID_VALUE;
	}
	p->handle_refs--;
	phys_maybe_free(p);
	emu_mem_unlock();
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp *prop, CUmemGenericAllocationHandle handle)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!prop)
		return CUDA_ERROR_INVALID_VALUE;
	emu_mem_lock();
	struct emu_phys *p = phys_from(handle);
	if (p)
		*prop = p->prop;
	emu_mem_unlock();
	return p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EMU_API CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!handle)
		return CUDA_ERROR_INVALID_VALUE;
	emu_mem_lock();
	struct emu_alloc *a = emu_alloc_find((uint64_t)(uintptr_t)addr);
	if (!a || a->kind != EMU_ALLOC_VMM || !a->phys) {
		emu_mem_unlock();
		return CUDA_ERROR_INVALID_VALUE;
	}
	a->phys->handle_refs++;
	*handle = (CUmemGenericAllocationHandle)(uintptr_t)a->phys;
	emu_mem_unlock();
	return CUDA_SUCCESS;
}

/* --- address reservations --------------------------------------------------------------- */

EMU_API CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
				     unsigned long long flags)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!ptr || size == 0 || size % GRANULARITY || (alignment & (alignment - 1)))
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t align = alignment > GRANULARITY ? alignment : GRANULARITY;
	struct emu_reservation *r = calloc(1, sizeof *r);
	if (!r)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (emu_space_init() != 0) {
		free(r);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	emu_mem_lock();
	uint64_t start = emu_space_alloc(size, align, addr);
	if (!start) {
		emu_mem_unlock();
		free(r);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	r->start = start;
	r->size = size;
	r->next = reservations;
	reservations = r;
	emu_mem_unlock();
	*ptr = start;
	return CUDA_SUCCESS;
}

/* The reservation holding [start, start+size) entirely (locked). */
static struct emu_reservation *reservation_of(uint64_t start, uint64_t size)
{
	for (struct emu_reservation *r = reservations; r; r = r->next)
		if (start >= r->start && start - r->start < r->size && size <= r->start + r->size - start)
			return r;
	return NULL;
}

static void unmap_locked(struct emu_alloc *a)
{
	emu_alloc_remove(a);
	emu_space_decommit(a->start, a->size);
	struct emu_phys *p = a->phys;
	free(a);
	if (p) {
		p->map_refs--;
		phys_maybe_free(p);
	}
}

EMU_API CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	emu_mem_lock();
	struct emu_reservation **pr = &reservations;
	while (*pr && ((*pr)->start != ptr || (*pr)->size != size))
		pr = &(*pr)->next;
	struct emu_reservation *r = *pr;
	if (!r) {
		emu_mem_unlock();
		return CUDA_ERROR_INVALID_VALUE;
	}
	/* Mappings left in it go with it. */
	for (struct emu_alloc *a = emu_alloc_find_from(ptr); a && a->start < ptr + size; a = emu_alloc_find_from(ptr))
		if (a->kind == EMU_ALLOC_VMM)
			unmap_locked(a);
		else
			break;
	*pr = r->next;
	emu_space_free(r->start, r->size);
	free(r);
	emu_mem_unlock();
	return CUDA_SUCCESS;
}

/* --- mapping ---------------------------------------------------------------------------- */

EMU_API CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
			  unsigned long long flags)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (size == 0 || flags != 0 || ptr % GRANULARITY || size % GRANULARITY || offset % GRANULARITY)
		return CUDA_ERROR_INVALID_VALUE;
	struct emu_alloc *a = calloc(1, sizeof *a);
	if (!a)
		return CUDA_ERROR_OUT_OF_MEMORY;
	emu_mem_lock();
	struct emu_phys *p = phys_from(handle);
	struct emu_reservation *r = reservation_of(ptr, size);
	rc = CUDA_SUCCESS;
	if (!p || p->handle_refs <= 0 || offset > p->size || size > p->size - offset || !r) {
		rc = CUDA_ERROR_INVALID_VALUE;
	} else {
		struct emu_alloc *over = emu_alloc_find(ptr);
		if (!over) {
			over = emu_alloc_find_from(ptr);
			if (over && over->start >= ptr + size)
				over = NULL;
		}
		if (over)
			rc = CUDA_ERROR_INVALID_VALUE; /* already mapped */
	}
	if (rc == CUDA_SUCCESS) {
		void *m = mmap((void *)(uintptr_t)ptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, phys_fd,
			       (off_t)(p->offset + offset));
		if (m == MAP_FAILED)
			rc = CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (rc == CUDA_SUCCESS) {
		a->start = ptr;
		a->size = size;
		a->span = size;
		a->kind = EMU_ALLOC_VMM;
		a->device = p->device;
		a->phys = p;
		a->phys_offset = offset;
		a->access = CU_MEM_ACCESS_FLAGS_PROT_NONE; /* until cuMemSetAccess */
		a->resv = r;
		if (emu_alloc_insert(a) != 0) {
			emu_space_decommit(ptr, size);
			rc = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			p->map_refs++;
			a = NULL;
		}
	}
	emu_mem_unlock();
	free(a);
	return rc;
}

/* The mappings of [ptr, ptr+size): each must lie entirely inside; none may be missing
 * when contiguous is asked.  Returns how many (0: invalid).  Locked. */
static size_t mappings_in(uint64_t ptr, uint64_t size, int contiguous)
{
	size_t n = 0;
	uint64_t at = ptr, end = ptr + size;
	if (end < ptr)
		return 0;
	struct emu_alloc *a = emu_alloc_find(ptr);
	if (!a || a->start != ptr)
		return 0;
	while (a && a->start < end) {
		if (a->kind != EMU_ALLOC_VMM || a->start + a->size > end || (contiguous && a->start != at))
			return 0;
		n++;
		at = a->start + a->size;
		a = emu_alloc_find_from(at);
	}
	if (contiguous && at != end)
		return 0;
	return n;
}

EMU_API CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (size == 0)
		return CUDA_ERROR_INVALID_VALUE;
	emu_mem_lock();
	if (!mappings_in(ptr, size, 0)) {
		emu_mem_unlock();
		return CUDA_ERROR_INVALID_VALUE;
	}
	for (struct emu_alloc *a = emu_alloc_find_from(ptr); a && a->start < ptr + size; a = emu_alloc_find_from(ptr))
		unmap_locked(a);
	emu_mem_unlock();
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (size == 0 || !desc || count == 0)
		return CUDA_ERROR_INVALID_VALUE;
	int flags = CU_MEM_ACCESS_FLAGS_PROT_NONE;
	for (size_t i = 0; i < count; i++) {
		if (!valid_device_location(&desc[i].location))
			return CUDA_ERROR_INVALID_DEVICE;
		if (desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_NONE && desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_READ &&
		    desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
			return CUDA_ERROR_INVALID_VALUE;
		flags |= desc[i].flags; /* one address space: the widest access any device has */
	}
	emu_mem_lock();
	if (!mappings_in(ptr, size, 1)) {
		emu_mem_unlock();
		return CUDA_ERROR_INVALID_VALUE;
	}
	for (struct emu_alloc *a = emu_alloc_find(ptr); a && a->start < ptr + size; a = emu_alloc_find_from(a->start + a->size))
		a->access = flags;
	emu_alloc_changed();
	emu_mem_unlock();
	return CUDA_SUCCESS;
}

EMU_API CUresult cuMemGetAccess(unsigned long long *flags, const CUmemLocation *location, CUdeviceptr ptr)
{
	CUresult rc = emu_check_init();
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!flags || !location || !valid_device_location(location))
		return CUDA_ERROR_INVALID_VALUE;
	emu_mem_lock();
	struct emu_alloc *a = emu_alloc_find(ptr);
	int ok = a && a->kind == EMU_ALLOC_VMM;
	if (ok)
		*flags = (unsigned long long)a->access;
	emu_mem_unlock();
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

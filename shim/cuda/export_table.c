/* cuGetExportTable: forwarded, except NVIDIA's INTEGRITY_CHECK table.
 *
 * libcudart checks its driver at initialisation (shared/reference/cudart-on-a-software-
 * driver.md, section 4): it hashes, among other things, every device's UUID as
 * cuDeviceGetUuid returns it, and compares with what the driver's INTEGRITY_CHECK slot 1
 * computes.  Through the shim cudart gets the *virtual* UUIDs while the lower driver
 * hashes the physical ones, so the answers would differ and every cudart call would
 * return 103 (cudaErrorIntegrityCheck).  The shim therefore hands out its own copy of
 * the table whose slot 1 computes the same digest over the devices as the program sees
 * them.  The digest covers the table's and the function's addresses: those of the
 * shim's copy, which is what cudart holds. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "emulator/cuda/md2.h"
#include "shim/cuda/vcuda.h"

CUresult cuGetExportTable(const void **ppExportTable, const CUuuid *pExportTableId);
CUresult cuDriverGetVersion(int *version);
CUresult cuDeviceGetCount(int *count);
CUresult cuDeviceGetAttribute(int *value, int attrib, CUdevice dev);

static const unsigned char integrity_id[16] = { 0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b,
						0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2 };
static const unsigned char cudart_interface_id[16] = { 0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a,
						       0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9 };

enum { ATTR_PCI_BUS_ID = 33, ATTR_PCI_DEVICE_ID = 34, ATTR_PCI_DOMAIN_ID = 50 };
#define TABLE_SLOTS_MAX 8

typedef CUresult (*integrity_fn)(uint32_t version, uint64_t unix_seconds, uint64_t out[2]);

static pthread_mutex_t build_lock = PTHREAD_MUTEX_INITIALIZER;
static int built;                 /* atomic: the copy below is complete */
static const void *table[TABLE_SLOTS_MAX];
static integrity_fn lower_check;
static uint64_t cudart_table;     /* the lower's CUDART_INTERFACE table: part of the digest */

static CUresult integrity_check(uint32_t version, uint64_t unix_seconds, uint64_t out[2])
{
	CUresult r = lower_check(version, unix_seconds, out);
	/* Versions ending in 0 or 1 have fixed answers; passthrough shows physical UUIDs. */
	if (r != CUDA_SUCCESS || version % 10 < 2 || shim_cuda.vdevs.passthrough)
		return r;
	int driver_version = 0, count = 0;
	if (SHIM_LOWER(shim_cuda, cuDriverGetVersion)(&driver_version) != CUDA_SUCCESS ||
	    SHIM_LOWER(shim_cuda, cuDeviceGetCount)(&count) != CUDA_SUCCESS)
		return r;
	struct integrity_device devs[VDEV_MAX];
	if (count > (int)VDEV_MAX)
		count = VDEV_MAX;
	CUresult (*attr)(int *, int, CUdevice) = SHIM_LOWER(shim_cuda, cuDeviceGetAttribute);
	for (int i = 0; i < count; i++) {
		int v = vcuda_vdev(i);
		if (v < 0)
			return r;
		memcpy(devs[i].uuid, shim_cuda.vdevs.dev[v].uuid, 16);
		int domain = 0, bus = 0, device = 0;
		attr(&domain, ATTR_PCI_DOMAIN_ID, i);
		attr(&bus, ATTR_PCI_BUS_ID, i);
		attr(&device, ATTR_PCI_DEVICE_ID, i);
		devs[i].pci_domain = domain;
		devs[i].pci_bus = bus;
		devs[i].pci_device = device;
	}
	integrity_digest(driver_version, version, (uint32_t)getpid(),
			 (uint32_t)(uintptr_t)pthread_self(), cudart_table,
			 (uint64_t)(uintptr_t)table, (uint64_t)(uintptr_t)table[1], unix_seconds,
			 devs, (unsigned)count, out);
	return CUDA_SUCCESS;
}

/* The shim's copy of the lower's INTEGRITY_CHECK table (slot 0 is its size in bytes),
 * slot 1 replaced.  0, or -1 when the lower's table does not look like one. */
static int build_copy(const void *const *lower_table,
		      CUresult (*lower)(const void **, const CUuuid *))
{
	size_t size = (size_t)(uintptr_t)lower_table[0];
	if (size < 2 * sizeof(void *) || size > sizeof table || size % sizeof(void *))
		return -1;
	const void *cudart = NULL;
	CUuuid id;
	memcpy(&id, cudart_interface_id, sizeof id);
	if (lower(&cudart, &id) != CUDA_SUCCESS)
		return -1;
	memcpy(table, lower_table, size);
	lower_check = (integrity_fn)(uintptr_t)lower_table[1];
	table[1] = (const void *)(uintptr_t)integrity_check;
	cudart_table = (uint64_t)(uintptr_t)cudart;
	return 0;
}

SHIM_API CUresult cuGetExportTable(const void **ppExportTable, const CUuuid *pExportTableId)
{
	SHIM_HOOKED(shim_cuda, cuGetExportTable, ppExportTable, pExportTableId);
	if (!shim_ready(&shim_cuda))
		return CUDA_ERROR_NOT_INITIALIZED;
	CUresult (*lower)(const void **, const CUuuid *) = SHIM_LOWER(shim_cuda, cuGetExportTable);
	CUresult r = lower(ppExportTable, pExportTableId);
	if (r != CUDA_SUCCESS || !ppExportTable || !pExportTableId ||
	    memcmp(pExportTableId, integrity_id, 16) != 0 || shim_cuda.vdevs.passthrough)
		return r;
	if (!__atomic_load_n(&built, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&build_lock);
		if (!built && build_copy(*ppExportTable, lower) == 0)
			__atomic_store_n(&built, 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&build_lock);
	}
	/* A table the shim cannot copy is handed out as it is: cudart then fails its check
	 * (103) rather than anything worse. */
	if (__atomic_load_n(&built, __ATOMIC_ACQUIRE))
		*ppExportTable = table;
	return r;
}

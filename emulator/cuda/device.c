/* Devices: count, handles (a CUdevice is the ordinal), name, memory, attributes from
 * the profile, UUID and PCI location from the configuration, peer queries. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/cuda/core.h"

unsigned emu_device_count(void)
{
	return emu_config()->ndevices;
}

const struct emu_device_config *emu_device(int ordinal)
{
	const struct emu_config *c = emu_config();
	if (ordinal < 0 || (unsigned)ordinal >= c->ndevices)
		return NULL;
	return &c->devices[ordinal];
}

CUresult emu_device_check(CUdevice dev)
{
	CUresult r = emu_check_init();
	if (r)
		return r;
	return emu_device(dev) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

EMU_API CUresult cuDeviceGetCount(int *count)
{
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = emu_check_init();
	if (r)
		return r;
	*count = (int)emu_device_count();
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
	CUresult r = emu_check_init();
	if (r)
		return r;
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	if (!emu_device(ordinal))
		return CUDA_ERROR_INVALID_DEVICE;
	*device = ordinal;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if (!name || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	snprintf(name, (size_t)len, "%s", emu_device(dev)->profile->name);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	*bytes = (size_t)emu_device(dev)->profile->total_memory;
	return CUDA_SUCCESS;
}

/* The CUDA 2.x form with a 32-bit size: what fits. */
EMU_API CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t total = emu_device(dev)->profile->total_memory;
	*bytes = total > 0xffffffffULL ? 0xffffffffu : (unsigned int)total;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetAttribute(int *value, int attrib, CUdevice dev)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	const struct emu_device_config *d = emu_device(dev);
	switch (attrib) {
	case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID:
		*value = d->pci_bus;
		return CUDA_SUCCESS;
	case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID:
		*value = d->pci_device;
		return CUDA_SUCCESS;
	case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID:
		*value = d->pci_domain;
		return CUDA_SUCCESS;
	case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD_GROUP_ID:
		*value = dev; /* one board per GPU */
		return CUDA_SUCCESS;
	default:
		break;
	}
	if (attrib < 0 || attrib >= EMU_ATTRIBUTE_COUNT || !d->profile->attribute_known[attrib])
		return CUDA_ERROR_INVALID_VALUE;
	*value = d->profile->attributes[attrib];
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if (!uuid)
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(uuid->bytes, emu_device(dev)->uuid, 16);
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
	return cuDeviceGetUuid(uuid, dev);
}

EMU_API CUresult cuDeviceGetPCIBusId(char *busid, int len, CUdevice dev)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if (!busid || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	const struct emu_device_config *d = emu_device(dev);
	snprintf(busid, (size_t)len, "%04x:%02x:%02x.0", (unsigned)d->pci_domain,
		 (unsigned)d->pci_bus, (unsigned)d->pci_device);
	return CUDA_SUCCESS;
}

/* "[domain:]bus:device[.function]", hexadecimal, any case (NVML's 8-digit domain too). */
static int parse_bus_id(const char *s, unsigned long *domain, unsigned long *bus,
			unsigned long *device)
{
	unsigned long f[3];
	int n = 0;
	const char *p = s;
	for (;;) {
		char *end;
		if (!isxdigit((unsigned char)*p) || n == 3)
			return -1;
		f[n++] = strtoul(p, &end, 16);
		p = end;
		if (*p == ':') {
			p++;
			continue;
		}
		break;
	}
	if (*p == '.') {
		p++;
		if (!isxdigit((unsigned char)*p))
			return -1;
		char *end;
		(void)strtoul(p, &end, 16);
		p = end;
	}
	if (*p != '\0' || n < 2)
		return -1;
	*domain = n == 3 ? f[0] : 0;
	*bus = f[n - 2];
	*device = f[n - 1];
	return 0;
}

EMU_API CUresult cuDeviceGetByPCIBusId(CUdevice *dev, const char *pciBusId)
{
	CUresult r = emu_check_init();
	if (r)
		return r;
	if (!dev || !pciBusId)
		return CUDA_ERROR_INVALID_VALUE;
	unsigned long domain, bus, device;
	if (parse_bus_id(pciBusId, &domain, &bus, &device) != 0)
		return CUDA_ERROR_INVALID_VALUE;
	for (unsigned i = 0; i < emu_device_count(); i++) {
		const struct emu_device_config *d = emu_device((int)i);
		if ((unsigned long)d->pci_domain == domain && (unsigned long)d->pci_bus == bus &&
		    (unsigned long)d->pci_device == device) {
			*dev = (CUdevice)i;
			return CUDA_SUCCESS;
		}
	}
	return CUDA_ERROR_INVALID_DEVICE;
}

EMU_API CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if (!major || !minor)
		return CUDA_ERROR_INVALID_VALUE;
	const struct emu_profile *p = emu_device(dev)->profile;
	*major = p->attributes[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR];
	*minor = p->attributes[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR];
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetProperties(CUdevprop *prop, CUdevice dev)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if (!prop)
		return CUDA_ERROR_INVALID_VALUE;
	const int *a = emu_device(dev)->profile->attributes;
	prop->maxThreadsPerBlock = a[CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK];
	for (int i = 0; i < 3; i++) {
		prop->maxThreadsDim[i] = a[CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X + i];
		prop->maxGridSize[i] = a[CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X + i];
	}
	prop->sharedMemPerBlock = a[CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK];
	prop->totalConstantMemory = a[CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY];
	prop->SIMDWidth = a[CU_DEVICE_ATTRIBUTE_WARP_SIZE];
	prop->memPitch = a[CU_DEVICE_ATTRIBUTE_MAX_PITCH];
	prop->regsPerBlock = a[CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK];
	prop->clockRate = a[CU_DEVICE_ATTRIBUTE_CLOCK_RATE];
	prop->textureAlign = a[CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT];
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetTexture1DLinearMaxWidth(size_t *maxWidth, int format,
						    unsigned numChannels, CUdevice dev)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if (!maxWidth || (numChannels != 1 && numChannels != 2 && numChannels != 4))
		return CUDA_ERROR_INVALID_VALUE;
	*maxWidth = (size_t)emu_device(dev)->profile->attributes[CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LINEAR_WIDTH];
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetExecAffinitySupport(int *pi, int type, CUdevice dev)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if (!pi || type != 0)
		return CUDA_ERROR_INVALID_VALUE;
	*pi = 0;
	return CUDA_SUCCESS;
}

/* Emulated GPUs live in one host's memory: any two distinct ones can reach each other. */
EMU_API CUresult cuDeviceCanAccessPeer(int *canAccessPeer, CUdevice dev, CUdevice peerDev)
{
	CUresult r = emu_device_check(dev);
	if (r)
		return r;
	if ((r = emu_device_check(peerDev)))
		return r;
	if (!canAccessPeer)
		return CUDA_ERROR_INVALID_VALUE;
	*canAccessPeer = dev != peerDev;
	return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetP2PAttribute(int *value, int attrib, CUdevice src, CUdevice dst)
{
	CUresult r = emu_device_check(src);
	if (r)
		return r;
	if ((r = emu_device_check(dst)))
		return r;
	if (!value || src == dst)
		return CUDA_ERROR_INVALID_DEVICE;
	switch (attrib) {
	case CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK:
		*value = 0;
		return CUDA_SUCCESS;
	case CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED:
		*value = 1;
		return CUDA_SUCCESS;
	case CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED:
	case CU_DEVICE_P2P_ATTRIBUTE_CUDA_ARRAY_ACCESS_SUPPORTED:
	case CU_DEVICE_P2P_ATTRIBUTE_ONLY_PARTIAL_NATIVE_ATOMIC_SUPPORTED:
		*value = 0;
		return CUDA_SUCCESS;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

/* Lazy unless CUDA_MODULE_LOADING=EAGER, as the real driver decides since CUDA 12.2. */
EMU_API CUresult cuModuleGetLoadingMode(int *mode)
{
	if (!mode)
		return CUDA_ERROR_INVALID_VALUE;
	const char *e = getenv("CUDA_MODULE_LOADING");
	*mode = e && strcmp(e, "EAGER") == 0 ? CU_MODULE_EAGER_LOADING : CU_MODULE_LAZY_LOADING;
	return CUDA_SUCCESS;
}

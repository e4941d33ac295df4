/* Devices: which configured GPUs this process sees (CUDA_VISIBLE_DEVICES), count,
 * handles (a CUdevice is the ordinal), name, memory, attributes from the profile, UUID
 * and PCI location from the configuration, peer queries. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emulator/cuda/core.h"

/* CUDA ordinal -> configuration index, fixed by cuInit (emu_devices_init).  Until then
 * no device is visible.  nvisible is published with release order before cuInit marks
 * the process initialized, so whoever passed emu_check_init sees the whole table. */
static unsigned visible[EMU_MAX_DEVICES];
static unsigned nvisible;

/* The UUID as nvidia-smi prints it (and our NVML): "GPU-" and lowercase hex. */
static void uuid_text(const uint8_t u[16], char out[48])
{
	snprintf(out, 48, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

/* The configuration index one CUDA_VISIBLE_DEVICES entry (len bytes at s) names, or -1
 * when it names none.  Measured on NVIDIA's driver 580 (docs/gpu-validation.md) where
 * the guide is silent: blanks around an entry are ignored ("0 " and " 0" are index 0);
 * an index is decimal digits (a sign is accepted, as strtol reads it; -1 is invalid);
 * "GPU-" alone names nothing, even with one GPU; a UUID entry is compared without
 * regard to case; "MIG-..." names no device (the emulator has no MIG instances). */
static int visible_entry(const char *s, size_t len, const struct emu_config *c)
{
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	char e[64];
	if (len == 0 || len >= sizeof e)
		return -1; /* empty, or longer than any UUID */
	memcpy(e, s, len);
	e[len] = '\0';
	if (strncasecmp(e, "GPU-", 4) == 0) {
		if (len == 4)
			return -1;
		int found = -1;
		for (unsigned i = 0; i < c->ndevices; i++) {
			char text[48];
			uuid_text(c->devices[i].uuid, text);
			if (strncasecmp(text, e, len) != 0)
				continue; /* e is not a prefix of this UUID */
			if (found >= 0)
				return -1; /* a prefix of two UUIDs: ambiguous */
			found = (int)i;
		}
		return found;
	}
	char *end;
	long v = strtol(e, &end, 10);
	if (end == e || *end != '\0' || v < 0 || v >= (long)c->ndevices)
		return -1;
	return (int)v;
}

int emu_visible_parse(const char *cvd, const struct emu_config *c, unsigned out[EMU_MAX_DEVICES])
{
	unsigned n = 0;
	if (!cvd) {
		/* Unset: every configured device, in configuration order. */
		for (unsigned i = 0; i < c->ndevices && i < EMU_MAX_DEVICES; i++)
			out[n++] = i;
		return (int)n;
	}
	/* Set: the devices its entries name, in its order, up to the first invalid entry
	 * (see visible_entry); the rest is ignored, as the real driver does.  "" is one
	 * empty entry: no device.  A device named twice before that point makes the real
	 * driver's cuInit fail with CUDA_ERROR_INVALID_DEVICE: EMU_VISIBLE_REPEAT. */
	const char *s = cvd;
	for (;;) {
		size_t len = strcspn(s, ",");
		int idx = visible_entry(s, len, c);
		if (idx < 0)
			return (int)n;
		for (unsigned k = 0; k < n; k++)
			if (out[k] == (unsigned)idx)
				return EMU_VISIBLE_REPEAT;
		out[n++] = (unsigned)idx;
		if (s[len] == '\0' || n == EMU_MAX_DEVICES)
			return (int)n;
		s += len + 1;
	}
}

int emu_devices_init(void)
{
	/* Read once, here: later changes to the environment do not change the process's
	 * devices (the real driver reads it at its first successful cuInit). */
	int n = emu_visible_parse(getenv("CUDA_VISIBLE_DEVICES"), emu_config(), visible);
	__atomic_store_n(&nvisible, n > 0 ? (unsigned)n : 0u, __ATOMIC_RELEASE);
	return n;
}

unsigned emu_device_count(void)
{
	return __atomic_load_n(&nvisible, __ATOMIC_ACQUIRE);
}

int emu_device_config_index(int ordinal)
{
	if (ordinal < 0 || (unsigned)ordinal >= emu_device_count())
		return -1;
	return (int)visible[ordinal];
}

const struct emu_device_config *emu_device(int ordinal)
{
	int i = emu_device_config_index(ordinal);
	return i < 0 ? NULL : &emu_config()->devices[i];
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
		/* One board per GPU.  The board's number is a property of the machine, the
		 * same in every process whatever its CUDA_VISIBLE_DEVICES: the config index. */
		*value = emu_device_config_index(dev);
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

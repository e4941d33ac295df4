/* Devices: count, handles (by index, UUID, PCI bus id, serial) and identity (name,
 * UUID, serial, brand, architecture, compute capability, PCI, board, VBIOS, infoROM).
 *
 * Every query checks, in this order: initialised (NVML_ERROR_UNINITIALIZED), a handle
 * of ours (NVML_ERROR_INVALID_ARGUMENT), its output pointers (INVALID_ARGUMENT), then
 * whether the board reports the figure at all (NVML_ERROR_NOT_SUPPORTED).  Nothing is
 * written unless the result is NVML_SUCCESS. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emulator/nvml/nvml_internal.h"

/* --- count and handles --------------------------------------------------------------- */

NVML_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
	nvmlReturn_t r = nvml_ready();
	if (r != NVML_SUCCESS)
		return r;
	if (!deviceCount)
		return NVML_ERROR_INVALID_ARGUMENT;
	*deviceCount = nvml_count();
	return NVML_SUCCESS;
}

/* The first version left out devices the caller had no permission for: none here. */
NVML_API nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount)
{
	return nvmlDeviceGetCount_v2(deviceCount);
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
	nvmlReturn_t r = nvml_ready();
	if (r != NVML_SUCCESS)
		return r;
	struct nvmlDevice_st *d = nvml_at(index);
	if (!d || !device)
		return NVML_ERROR_INVALID_ARGUMENT;
	*device = d;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
	return nvmlDeviceGetHandleByIndex_v2(index, device);
}

static int is_hex_uuid(const char *s)
{
	/* 8-4-4-4-12 hexadecimal digits */
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	for (size_t i = 0; i < sizeof shape - 1; i++) {
		if (shape[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return 0;
	}
	return s[sizeof shape - 1] == '\0';
}

/* "GPU-<uuid>" (any case; the prefix may be left out).  A well-formed UUID of no
 * device of ours (a MIG instance's "MIG-..." included) is NOT_FOUND; anything else is
 * not a UUID: INVALID_ARGUMENT. */
static nvmlReturn_t find_by_uuid_text(const char *uuid, nvmlDevice_t *device)
{
	const char *hex = uuid;
	int mig = 0;
	if (strncasecmp(hex, "GPU-", 4) == 0)
		hex += 4;
	else if (strncasecmp(hex, "MIG-", 4) == 0)
		hex += 4, mig = 1;
	if (!is_hex_uuid(hex))
		return NVML_ERROR_INVALID_ARGUMENT;
	for (unsigned i = 0; !mig && i < nvml_count(); i++) {
		struct nvmlDevice_st *d = nvml_at(i);
		if (d && strcasecmp(d->uuid + 4, hex) == 0) {
			*device = d;
			return NVML_SUCCESS;
		}
	}
	return NVML_ERROR_NOT_FOUND;
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
	nvmlReturn_t r = nvml_ready();
	if (r != NVML_SUCCESS)
		return r;
	if (!uuid || !device)
		return NVML_ERROR_INVALID_ARGUMENT;
	return find_by_uuid_text(uuid, device);
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByUUIDV(const nvmlUUID_t *uuid, nvmlDevice_t *device)
{
	nvmlReturn_t r = nvml_ready();
	if (r != NVML_SUCCESS)
		return r;
	if (!uuid || !device)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (uuid->version != nvmlUUID_v1)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	if (uuid->type == NVML_UUID_TYPE_ASCII) {
		char text[NVML_DEVICE_UUID_ASCII_LEN];
		memcpy(text, uuid->value.str, sizeof text);
		text[sizeof text - 1] = '\0';
		return find_by_uuid_text(text, device);
	}
	if (uuid->type != NVML_UUID_TYPE_BINARY)
		return NVML_ERROR_INVALID_ARGUMENT;
	for (unsigned i = 0; i < nvml_count(); i++) {
		struct nvmlDevice_st *d = nvml_at(i);
		if (d && memcmp(d->cfg->uuid, uuid->value.bytes, NVML_DEVICE_UUID_BINARY_LEN) == 0) {
			*device = d;
			return NVML_SUCCESS;
		}
	}
	return NVML_ERROR_NOT_FOUND;
}

/* One hexadecimal field of at most max: advances *s past it. */
static int hex_field(const char **s, unsigned long max, unsigned long *out)
{
	char *end;
	if (!isxdigit((unsigned char)**s))
		return -1;
	unsigned long v = strtoul(*s, &end, 16);
	if (v > max || end - *s > 8)
		return -1;
	*s = end;
	*out = v;
	return 0;
}

/* The forms NVML accepts, all hexadecimal: domain:bus:device.function,
 * domain:bus:device and bus:device.function ("00000000:01:00.0", "0000:01:00.0",
 * "01:00.0"). */
static int parse_bus_id(const char *s, unsigned long *domain, unsigned long *bus,
			unsigned long *dev, unsigned long *fn)
{
	unsigned long a, b, c;
	*domain = 0;
	*fn = 0;
	if (hex_field(&s, 0xffffffffUL, &a) != 0 || *s++ != ':' || hex_field(&s, 0xffffffffUL, &b) != 0)
		return -1;
	if (*s == ':') { /* domain:bus:device[.function] */
		s++;
		if (hex_field(&s, 0x1f, &c) != 0)
			return -1;
		if (b > 0xff)
			return -1;
		*domain = a, *bus = b, *dev = c;
		if (*s == '.') {
			s++;
			if (hex_field(&s, 7, fn) != 0)
				return -1;
		}
	} else { /* bus:device.function */
		if (a > 0xff || b > 0x1f || *s++ != '.' || hex_field(&s, 7, fn) != 0)
			return -1;
		*bus = a, *dev = b;
	}
	return *s == '\0' ? 0 : -1;
}

static nvmlReturn_t handle_by_pci_bus_id(const char *pciBusId, nvmlDevice_t *device)
{
	nvmlReturn_t r = nvml_ready();
	if (r != NVML_SUCCESS)
		return r;
	unsigned long domain, bus, dev, fn;
	if (!pciBusId || !device || parse_bus_id(pciBusId, &domain, &bus, &dev, &fn) != 0)
		return NVML_ERROR_INVALID_ARGUMENT;
	for (unsigned i = 0; fn == 0 && i < nvml_count(); i++) {
		struct nvmlDevice_st *d = nvml_at(i);
		if (d && (unsigned long)(unsigned)d->cfg->pci_domain == domain &&
		    (unsigned long)d->cfg->pci_bus == bus && (unsigned long)d->cfg->pci_device == dev) {
			*device = d;
			return NVML_SUCCESS;
		}
	}
	return NVML_ERROR_NOT_FOUND;
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId, nvmlDevice_t *device)
{
	return handle_by_pci_bus_id(pciBusId, device);
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *pciBusId, nvmlDevice_t *device)
{
	return handle_by_pci_bus_id(pciBusId, device);
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleBySerial(const char *serial, nvmlDevice_t *device)
{
	nvmlReturn_t r = nvml_ready();
	if (r != NVML_SUCCESS)
		return r;
	if (!serial || !device || !*serial)
		return NVML_ERROR_INVALID_ARGUMENT;
	for (unsigned i = 0; i < nvml_count(); i++) {
		struct nvmlDevice_st *d = nvml_at(i);
		if (d && d->serial[0] && strcmp(d->serial, serial) == 0) {
			*device = d;
			return NVML_SUCCESS;
		}
	}
	return NVML_ERROR_NOT_FOUND;
}

/* --- identity -------------------------------------------------------------------------- */

NVML_API nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
	DEVICE(device);
	if (!index)
		return NVML_ERROR_INVALID_ARGUMENT;
	*index = d->index;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minorNumber)
{
	DEVICE(device);
	if (!minorNumber)
		return NVML_ERROR_INVALID_ARGUMENT;
	*minorNumber = d->index; /* /dev/nvidia<minor>: in index order, as on most machines */
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
	DEVICE(device);
	return nvml_put_string(name, length, d->prof && d->prof->name ? d->prof->name : "NVIDIA GPU");
}

NVML_API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
	DEVICE(device);
	return nvml_put_string(uuid, length, d->uuid);
}

NVML_API nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length)
{
	DEVICE(device);
	if (!serial)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (!d->serial[0])
		return NVML_ERROR_NOT_SUPPORTED;
	return nvml_put_string(serial, length, d->serial);
}

NVML_API nvmlReturn_t nvmlDeviceGetBrand(nvmlDevice_t device, nvmlBrandType_t *type)
{
	DEVICE(device);
	if (!type)
		return NVML_ERROR_INVALID_ARGUMENT;
	*type = d->np->brand;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t device, nvmlDeviceArchitecture_t *arch)
{
	DEVICE(device);
	if (!arch)
		return NVML_ERROR_INVALID_ARGUMENT;
	*arch = d->np->arch;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor)
{
	DEVICE(device);
	if (!major || !minor)
		return NVML_ERROR_INVALID_ARGUMENT;
	int ma = nvml_attr(d, 75, -1), mi = nvml_attr(d, 76, -1);
	if (ma < 0 || mi < 0)
		return NVML_ERROR_NOT_SUPPORTED;
	*major = ma;
	*minor = mi;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetNumGpuCores(nvmlDevice_t device, unsigned int *numCores)
{
	DEVICE(device);
	if (!numCores)
		return NVML_ERROR_INVALID_ARGUMENT;
	int sms = nvml_attr(d, 16, 0);
	if (sms <= 0 || !d->np->cores_per_sm)
		return NVML_ERROR_NOT_SUPPORTED;
	*numCores = (unsigned)sms * d->np->cores_per_sm;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetMemoryBusWidth(nvmlDevice_t device, unsigned int *busWidth)
{
	DEVICE(device);
	if (!busWidth)
		return NVML_ERROR_INVALID_ARGUMENT;
	int bits = nvml_attr(d, 37, 0);
	if (bits <= 0)
		return NVML_ERROR_NOT_SUPPORTED;
	*busWidth = (unsigned)bits;
	return NVML_SUCCESS;
}

/* --- PCI ------------------------------------------------------------------------------- */

static unsigned pci_device_id(const struct nvmlDevice_st *d)
{
	return (unsigned)nvml_attr(d, 139, 0x000010de); /* CU_DEVICE_ATTRIBUTE_GPU_PCI_DEVICE_ID */
}

static unsigned pci_subsystem_id(const struct nvmlDevice_st *d)
{
	return (unsigned)nvml_attr(d, 140, 0x000010de); /* ..._GPU_PCI_SUBSYSTEM_ID */
}

NVML_API nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
	DEVICE(device);
	if (!pci)
		return NVML_ERROR_INVALID_ARGUMENT;
	memset(pci, 0, sizeof *pci);
	memcpy(pci->busIdLegacy, d->bus_id_legacy, sizeof pci->busIdLegacy);
	pci->domain = (unsigned)d->cfg->pci_domain;
	pci->bus = (unsigned)d->cfg->pci_bus;
	pci->device = (unsigned)d->cfg->pci_device;
	pci->pciDeviceId = pci_device_id(d);
	pci->pciSubSystemId = pci_subsystem_id(d);
	memcpy(pci->busId, d->bus_id, sizeof pci->busId);
	return NVML_SUCCESS;
}

/* _v2 and the first version write the 52-byte layout of their time (the legacy bus
 * id, then four reserved words): a caller built against it has no room for more. */
static nvmlReturn_t pci_info_legacy(nvmlDevice_t device, nvmlPciInfoLegacy_t *pci)
{
	DEVICE(device);
	if (!pci)
		return NVML_ERROR_INVALID_ARGUMENT;
	memset(pci, 0, sizeof *pci);
	memcpy(pci->busId, d->bus_id_legacy, sizeof pci->busId);
	pci->domain = (unsigned)d->cfg->pci_domain;
	pci->bus = (unsigned)d->cfg->pci_bus;
	pci->device = (unsigned)d->cfg->pci_device;
	pci->pciDeviceId = pci_device_id(d);
	pci->pciSubSystemId = pci_subsystem_id(d);
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfoLegacy_t *pci)
{
	return pci_info_legacy(device, pci);
}

NVML_API nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfoLegacy_t *pci)
{
	return pci_info_legacy(device, pci);
}

NVML_API nvmlReturn_t nvmlDeviceGetPciInfoExt(nvmlDevice_t device, nvmlPciInfoExt_t *pci)
{
	DEVICE(device);
	if (!pci)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (pci->version != nvmlPciInfoExt_v1)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	memset(pci, 0, sizeof *pci);
	pci->version = nvmlPciInfoExt_v1;
	pci->domain = (unsigned)d->cfg->pci_domain;
	pci->bus = (unsigned)d->cfg->pci_bus;
	pci->device = (unsigned)d->cfg->pci_device;
	pci->pciDeviceId = pci_device_id(d);
	pci->pciSubSystemId = pci_subsystem_id(d);
	pci->baseClass = d->np->pci_class;
	pci->subClass = d->np->pci_subclass;
	memcpy(pci->busId, d->bus_id, sizeof pci->busId);
	return NVML_SUCCESS;
}

/* --- board ------------------------------------------------------------------------------- */

NVML_API nvmlReturn_t nvmlDeviceGetBoardId(nvmlDevice_t device, unsigned int *boardId)
{
	DEVICE(device);
	if (!boardId)
		return NVML_ERROR_INVALID_ARGUMENT;
	/* As the driver derives it from the slot: 0x6 for 00:06.0, 0x100 for 01:00.0. */
	*boardId = ((unsigned)d->cfg->pci_domain << 16) | ((unsigned)d->cfg->pci_bus << 8) |
		   (unsigned)d->cfg->pci_device;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetMultiGpuBoard(nvmlDevice_t device, unsigned int *multiGpuBool)
{
	DEVICE(device);
	if (!multiGpuBool)
		return NVML_ERROR_INVALID_ARGUMENT;
	*multiGpuBool = 0;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceOnSameBoard(nvmlDevice_t device1, nvmlDevice_t device2, int *onSameBoard)
{
	const struct nvmlDevice_st *d2;
	DEVICE(device1);
	nvmlReturn_t r = nvml_device(device2, &d2);
	if (r != NVML_SUCCESS)
		return r;
	if (!onSameBoard)
		return NVML_ERROR_INVALID_ARGUMENT;
	*onSameBoard = d == d2;
	return NVML_SUCCESS;
}

static nvmlReturn_t board_string(nvmlDevice_t device, char *buf, unsigned length, size_t field)
{
	DEVICE(device);
	if (!buf)
		return NVML_ERROR_INVALID_ARGUMENT;
	const char *s = *(const char *const *)((const char *)d->np + field);
	if (!s)
		return NVML_ERROR_NOT_SUPPORTED;
	return nvml_put_string(buf, length, s);
}

NVML_API nvmlReturn_t nvmlDeviceGetBoardPartNumber(nvmlDevice_t device, char *partNumber, unsigned int length)
{
	return board_string(device, partNumber, length, offsetof(struct nvml_profile, board_part));
}

NVML_API nvmlReturn_t nvmlDeviceGetVbiosVersion(nvmlDevice_t device, char *version, unsigned int length)
{
	return board_string(device, version, length, offsetof(struct nvml_profile, vbios));
}

NVML_API nvmlReturn_t nvmlDeviceGetInforomImageVersion(nvmlDevice_t device, char *version, unsigned int length)
{
	return board_string(device, version, length, offsetof(struct nvml_profile, inforom_image));
}

NVML_API nvmlReturn_t nvmlDeviceGetInforomVersion(nvmlDevice_t device, nvmlInforomObject_t object,
						  char *version, unsigned int length)
{
	size_t field;
	switch (object) {
	case NVML_INFOROM_OEM: field = offsetof(struct nvml_profile, inforom_oem); break;
	case NVML_INFOROM_ECC: field = offsetof(struct nvml_profile, inforom_ecc); break;
	case NVML_INFOROM_POWER: field = offsetof(struct nvml_profile, inforom_power); break;
	case NVML_INFOROM_DEN: {
		DEVICE(device);
		(void)d;
		return version ? NVML_ERROR_NOT_SUPPORTED : NVML_ERROR_INVALID_ARGUMENT;
	}
	default: {
		DEVICE(device);
		(void)d;
		return NVML_ERROR_INVALID_ARGUMENT;
	}
	}
	return board_string(device, version, length, field);
}

/* --- topology ---------------------------------------------------------------------------
 *
 * The emulated machine's GPUs sit each on a PCI bus of its own (cfg->pci_bus), with no
 * switch, host bridge or NUMA node known to be shared: any two of them are as far apart
 * as NVML can say, NVML_TOPOLOGY_SYSTEM, and a GPU with itself is INTERNAL.  So the
 * nearest GPUs of a device are every other GPU at SYSTEM, and none at a nearer level.
 *
 * Lists follow NVML's documented protocol: *count 0 asks (set to how many, SUCCESS);
 * otherwise the handles are written when *count has room for them all.  For a nonzero
 * *count that is too small NVML's documentation says nothing; the emulator answers as
 * NVML's other list queries do: INSUFFICIENT_SIZE, nothing written, *count set to how
 * many there are. */

static int topology_level_known(nvmlGpuTopologyLevel_t level)
{
	switch (level) {
	case NVML_TOPOLOGY_INTERNAL:
	case NVML_TOPOLOGY_SINGLE:
	case NVML_TOPOLOGY_MULTIPLE:
	case NVML_TOPOLOGY_HOSTBRIDGE:
	case NVML_TOPOLOGY_NODE:
	case NVML_TOPOLOGY_SYSTEM: return 1;
	}
	return 0;
}

NVML_API nvmlReturn_t nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t device1, nvmlDevice_t device2,
							  nvmlGpuTopologyLevel_t *pathInfo)
{
	const struct nvmlDevice_st *d2;
	DEVICE(device1);
	nvmlReturn_t r = nvml_device(device2, &d2);
	if (r != NVML_SUCCESS)
		return r;
	if (!pathInfo)
		return NVML_ERROR_INVALID_ARGUMENT;
	*pathInfo = d == d2 ? NVML_TOPOLOGY_INTERNAL : NVML_TOPOLOGY_SYSTEM;
	return NVML_SUCCESS;
}

/* Writes the n handles of list under the protocol above. */
nvmlReturn_t nvml_put_handles(unsigned *count, nvmlDevice_t *out, nvmlDevice_t const *list, unsigned n)
{
	if (!count)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (*count == 0) {
		*count = n;
		return NVML_SUCCESS;
	}
	if (!out)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (*count < n) {
		*count = n;
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	for (unsigned i = 0; i < n; i++)
		out[i] = list[i];
	*count = n;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetTopologyNearestGpus(nvmlDevice_t device, nvmlGpuTopologyLevel_t level,
						       unsigned int *count, nvmlDevice_t *deviceArray)
{
	DEVICE(device);
	if (!topology_level_known(level))
		return NVML_ERROR_INVALID_ARGUMENT;
	nvmlDevice_t others[EMU_MAX_DEVICES];
	unsigned n = 0;
	for (unsigned i = 0; level == NVML_TOPOLOGY_SYSTEM && i < nvml_count() && n < EMU_MAX_DEVICES; i++) {
		struct nvmlDevice_st *o = nvml_at(i);
		if (o && o != d)
			others[n++] = o;
	}
	return nvml_put_handles(count, deviceArray, others, n);
}

"""Checks of the emulator's libnvidia-ml.so.1 through pynvml (PyPI nvidia-ml-py), for
tests/bats/emulator_nvml.bats.

    python3 nvml_pynvml.py CHECK

pynvml loads "libnvidia-ml.so.1" the ordinary way; the caller points LD_LIBRARY_PATH at
the emulator and sets EMULATOR_DIR to that directory (checked: the library pynvml loaded
must be the one there), VGPU_EMULATOR_DEVICES and VGPU_EMULATOR_DRIVER_VERSION as each
check expects.  Exit status 0 when every assertion of CHECK held; otherwise the first
one that did not is printed.  Prints what it saw, for the test log.
"""
import ctypes
import os
import re
import sys

import pynvml as N

GIB = 1 << 30

# shared/reference/h200: a real H200 on driver 580.159.04 (nvml-view.json, nvidia-smi -q).
H200 = {
    "name": "NVIDIA H200",
    "total": 150754820096,
    "cuda_total": 150109880320,
    "cc": (9, 0),
    "temp": 36,
    "power_mw": 119011,
    "power_limit_mw": 700000,
    "power_constraints": [200000, 700000],
    "pstate": 0,
    "brand": 14,
    "arch": 9,
    "max_sm": 1980,
    "max_mem": 3201,
    "max_video": 1545,
    "pcie_gen": 5,
    "pcie_width": 16,
    "bar1_total": 274877906944,
    "cores": 16896,
    "pci_device_id": 0x233510DE,
    "pci_subsystem_id": 0x18BF10DE,
    "board_part": "692-2G520-0282-001",
    "vbios": "96.00.A5.00.1A",
}


def eq(what, got, want):
    print(f"{what}: {got!r}")
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, expected {want!r}")


def true(what, cond):
    print(f"{what}: {'yes' if cond else 'NO'}")
    if not cond:
        raise AssertionError(what)


def raises(what, exc, fn, *args):
    try:
        got = fn(*args)
    except exc as e:
        print(f"{what}: {type(e).__name__} ({e})")
        return
    except N.NVMLError as e:
        raise AssertionError(f"{what}: {type(e).__name__} ({e}), expected {exc.__name__}")
    raise AssertionError(f"{what}: returned {got!r}, expected {exc.__name__}")


def s(v):
    return v.decode() if isinstance(v, bytes) else v


def loaded_from():
    with open("/proc/self/maps") as f:
        for line in f:
            if line.rstrip().endswith("/libnvidia-ml.so.1") or "/libnvidia-ml.so" in line:
                return os.path.dirname(os.path.realpath(line.split()[-1]))
    return None


def handles():
    return [N.nvmlDeviceGetHandleByIndex(i) for i in range(N.nvmlDeviceGetCount())]


# --- checks ------------------------------------------------------------------------------

def check_loaded():
    N.nvmlInit()
    eq("loaded from", loaded_from(), os.path.realpath(os.environ["EMULATOR_DIR"]))
    N.nvmlShutdown()


def check_identity():
    """VGPU_EMULATOR_DEVICES=t4,h200"""
    N.nvmlInit()
    eq("count", N.nvmlDeviceGetCount(), 2)
    h = handles()
    eq("name 0", s(N.nvmlDeviceGetName(h[0])), "Tesla T4")
    eq("name 1", s(N.nvmlDeviceGetName(h[1])), "NVIDIA H200")
    uuids = [s(N.nvmlDeviceGetUUID(x)) for x in h]
    for u in uuids:
        true(f"UUID {u} has NVIDIA's form",
             re.fullmatch(r"GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", u) is not None)
    true("the UUIDs differ", uuids[0] != uuids[1])
    for i, u in enumerate(uuids):
        eq(f"index of the handle by UUID {u}", N.nvmlDeviceGetIndex(N.nvmlDeviceGetHandleByUUID(u)), i)
        eq(f"minor number {i}", N.nvmlDeviceGetMinorNumber(h[i]), i)
    serials = [s(N.nvmlDeviceGetSerial(x)) for x in h]
    true(f"serials {serials} are 13 digits and differ",
         all(re.fullmatch(r"\d{13}", x) for x in serials) and serials[0] != serials[1])
    eq("index of the handle by serial", N.nvmlDeviceGetIndex(N.nvmlDeviceGetHandleBySerial(serials[1])), 1)
    eq("compute capability 0", N.nvmlDeviceGetCudaComputeCapability(h[0]), (7, 5))
    eq("compute capability 1", N.nvmlDeviceGetCudaComputeCapability(h[1]), (9, 0))
    eq("architecture 0 (Turing)", N.nvmlDeviceGetArchitecture(h[0]), N.NVML_DEVICE_ARCH_TURING)
    # The same machine in a second process: same UUIDs.
    N.nvmlShutdown()
    N.nvmlInit()
    eq("UUIDs after re-init", [s(N.nvmlDeviceGetUUID(x)) for x in handles()], uuids)
    N.nvmlShutdown()


def check_h200():
    """VGPU_EMULATOR_DEVICES=h200: the reference board's figures."""
    N.nvmlInit()
    eq("count", N.nvmlDeviceGetCount(), 1)
    h = N.nvmlDeviceGetHandleByIndex(0)
    eq("name", s(N.nvmlDeviceGetName(h)), H200["name"])
    eq("compute capability", N.nvmlDeviceGetCudaComputeCapability(h), H200["cc"])
    eq("temperature", N.nvmlDeviceGetTemperature(h, N.NVML_TEMPERATURE_GPU), H200["temp"])
    eq("temperature (V)", N.nvmlDeviceGetTemperatureV(h, N.NVML_TEMPERATURE_GPU), H200["temp"])
    eq("power usage", N.nvmlDeviceGetPowerUsage(h), H200["power_mw"])
    eq("power limit", N.nvmlDeviceGetPowerManagementLimit(h), H200["power_limit_mw"])
    eq("default power limit", N.nvmlDeviceGetPowerManagementDefaultLimit(h), H200["power_limit_mw"])
    eq("enforced power limit", N.nvmlDeviceGetEnforcedPowerLimit(h), H200["power_limit_mw"])
    eq("power limit constraints", N.nvmlDeviceGetPowerManagementLimitConstraints(h), H200["power_constraints"])
    eq("performance state", N.nvmlDeviceGetPerformanceState(h), H200["pstate"])
    eq("power state", N.nvmlDeviceGetPowerState(h), H200["pstate"])
    u = N.nvmlDeviceGetUtilizationRates(h)
    eq("utilization", (u.gpu, u.memory), (0, 0))
    eq("MIG mode", N.nvmlDeviceGetMigMode(h), [0, 0])
    eq("ECC mode", N.nvmlDeviceGetEccMode(h), [1, 1])
    d = N.nvmlDeviceGetDefaultEccMode(h)  # pynvml gives [mode]
    eq("default ECC mode", d[0] if isinstance(d, list) else d, 1)
    eq("volatile uncorrected ECC errors", N.nvmlDeviceGetTotalEccErrors(h, 1, 0), 0)
    eq("persistence mode", N.nvmlDeviceGetPersistenceMode(h), 1)
    eq("compute mode", N.nvmlDeviceGetComputeMode(h), N.NVML_COMPUTEMODE_DEFAULT)
    eq("display active", N.nvmlDeviceGetDisplayActive(h), 0)
    raises("display mode (deprecated in driver 580)", N.NVMLError_Deprecated, N.nvmlDeviceGetDisplayMode, h)
    eq("brand", N.nvmlDeviceGetBrand(h), H200["brand"])
    eq("architecture", N.nvmlDeviceGetArchitecture(h), H200["arch"])
    eq("max SM clock", N.nvmlDeviceGetMaxClockInfo(h, N.NVML_CLOCK_SM), H200["max_sm"])
    eq("max graphics clock", N.nvmlDeviceGetMaxClockInfo(h, N.NVML_CLOCK_GRAPHICS), H200["max_sm"])
    eq("max memory clock", N.nvmlDeviceGetMaxClockInfo(h, N.NVML_CLOCK_MEM), H200["max_mem"])
    eq("max video clock", N.nvmlDeviceGetMaxClockInfo(h, N.NVML_CLOCK_VIDEO), H200["max_video"])
    eq("current SM clock", N.nvmlDeviceGetClockInfo(h, N.NVML_CLOCK_SM), H200["max_sm"])
    eq("current memory clock", N.nvmlDeviceGetClockInfo(h, N.NVML_CLOCK_MEM), H200["max_mem"])
    eq("applications graphics clock", N.nvmlDeviceGetApplicationsClock(h, N.NVML_CLOCK_GRAPHICS), H200["max_sm"])
    eq("applications memory clock", N.nvmlDeviceGetApplicationsClock(h, N.NVML_CLOCK_MEM), H200["max_mem"])
    eq("default applications clock", N.nvmlDeviceGetDefaultApplicationsClock(h, N.NVML_CLOCK_GRAPHICS), H200["max_sm"])
    eq("max customer boost clock", N.nvmlDeviceGetMaxCustomerBoostClock(h, N.NVML_CLOCK_GRAPHICS), H200["max_sm"])
    eq("clock (SM, current)", N.nvmlDeviceGetClock(h, N.NVML_CLOCK_SM, N.NVML_CLOCK_ID_CURRENT), H200["max_sm"])
    eq("clocks event reasons", N.nvmlDeviceGetCurrentClocksEventReasons(h), 0)
    eq("clocks throttle reasons", N.nvmlDeviceGetCurrentClocksThrottleReasons(h), 0)
    eq("supported clocks event reasons", N.nvmlDeviceGetSupportedClocksEventReasons(h), 0x1FF)
    eq("max PCIe generation", N.nvmlDeviceGetMaxPcieLinkGeneration(h), H200["pcie_gen"])
    eq("GPU max PCIe generation", N.nvmlDeviceGetGpuMaxPcieLinkGeneration(h), H200["pcie_gen"])
    eq("current PCIe generation", N.nvmlDeviceGetCurrPcieLinkGeneration(h), H200["pcie_gen"])
    eq("max PCIe width", N.nvmlDeviceGetMaxPcieLinkWidth(h), H200["pcie_width"])
    eq("current PCIe width", N.nvmlDeviceGetCurrPcieLinkWidth(h), H200["pcie_width"])
    eq("BAR1 total", N.nvmlDeviceGetBAR1MemoryInfo(h).bar1Total, H200["bar1_total"])
    b = N.nvmlDeviceGetBAR1MemoryInfo(h)
    eq("BAR1 free + used", b.bar1Free + b.bar1Used, b.bar1Total)
    eq("GPU cores", N.nvmlDeviceGetNumGpuCores(h), H200["cores"])
    raises("fan speed (passively cooled)", N.NVMLError_NotSupported, N.nvmlDeviceGetFanSpeed, h)
    eq("board part number", s(N.nvmlDeviceGetBoardPartNumber(h)), H200["board_part"])
    eq("VBIOS", s(N.nvmlDeviceGetVbiosVersion(h)), H200["vbios"])
    eq("infoROM image", s(N.nvmlDeviceGetInforomImageVersion(h)), "G520.0282.02.02")
    eq("infoROM OEM object", s(N.nvmlDeviceGetInforomVersion(h, N.NVML_INFOROM_OEM)), "2.1")
    p = N.nvmlDeviceGetPciInfo(h)
    eq("PCI device id", p.pciDeviceId, H200["pci_device_id"])
    eq("PCI subsystem id", p.pciSubSystemId, H200["pci_subsystem_id"])
    eq("no graphics processes", N.nvmlDeviceGetGraphicsRunningProcesses(h), [])
    m = N.nvmlDeviceIsMigDeviceHandle(h)  # pynvml gives a c_uint
    eq("MIG device handle", getattr(m, "value", m), 0)
    N.nvmlShutdown()


def check_versions():
    """VGPU_EMULATOR_DRIVER_VERSION as WANT_CUDA (13000 by default)."""
    want = int(os.environ.get("WANT_CUDA", "13000"))
    driver = os.environ["WANT_DRIVER"]
    N.nvmlInit()
    eq("driver version", s(N.nvmlSystemGetDriverVersion()), driver)
    eq("NVML version", s(N.nvmlSystemGetNVMLVersion()), f"{want // 1000}.{driver}")
    eq("CUDA driver version", N.nvmlSystemGetCudaDriverVersion(), want)
    eq("CUDA driver version (v2)", N.nvmlSystemGetCudaDriverVersion_v2(), want)
    N.nvmlShutdown()


def check_pci():
    """VGPU_EMULATOR_DEVICES=t4,h200"""
    N.nvmlInit()
    seen = set()
    for i, h in enumerate(handles()):
        p = N.nvmlDeviceGetPciInfo(h)
        bus_id, legacy = s(p.busId), s(p.busIdLegacy)
        true(f"bus id {bus_id} has the form 00000000:BB:DD.0",
             re.fullmatch(r"[0-9A-F]{8}:[0-9A-F]{2}:[0-9A-F]{2}\.0", bus_id) is not None)
        eq(f"legacy bus id of {bus_id}", legacy, bus_id[4:])
        eq(f"fields of {bus_id}", "%08X:%02X:%02X.0" % (p.domain, p.bus, p.device), bus_id)
        seen.add(bus_id)
        for form in (bus_id, legacy, legacy.lower(), bus_id[9:]):
            eq(f"index of the handle by bus id {form}", N.nvmlDeviceGetIndex(N.nvmlDeviceGetHandleByPciBusId(form)), i)
    eq("distinct bus ids", len(seen), 2)
    eq("T4's PCI device id", N.nvmlDeviceGetPciInfo(handles()[0]).pciDeviceId, 0x1EB810DE)
    raises("an empty slot", N.NVMLError_NotFound, N.nvmlDeviceGetHandleByPciBusId, "0000:7f:00.0")
    raises("a malformed bus id", N.NVMLError_InvalidArgument, N.nvmlDeviceGetHandleByPciBusId, "bus seven")
    N.nvmlShutdown()


def check_memory():
    """VGPU_EMULATOR_DEVICES=h200, nothing allocated."""
    N.nvmlInit()
    h = N.nvmlDeviceGetHandleByIndex(0)
    v1 = N.nvmlDeviceGetMemoryInfo(h)
    v2 = N.nvmlDeviceGetMemoryInfo(h, version=N.nvmlMemory_v2)
    eq("v1 total", v1.total, H200["total"])
    eq("v2 total", v2.total, H200["total"])
    eq("v2 reserved (NVML total - cuDeviceTotalMem)", v2.reserved, H200["total"] - H200["cuda_total"])
    eq("v2 used (nothing allocated)", v2.used, 0)
    eq("v2 free", v2.free, H200["cuda_total"])
    eq("v1 used (reserved + allocated)", v1.used, v2.reserved)
    eq("v1 free", v1.free, v2.free)
    eq("v1 free + used", v1.free + v1.used, v1.total)
    N.nvmlShutdown()


class ProcV1(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint), ("usedGpuMemory", ctypes.c_ulonglong)]


def processes_v1(h):
    """The unversioned nvmlDeviceGetComputeRunningProcesses: 16-byte entries."""
    fn = N._nvmlGetFunctionPointer("nvmlDeviceGetComputeRunningProcesses")
    count = ctypes.c_uint(0)
    r = fn(h, ctypes.byref(count), None)
    if r == N.NVML_SUCCESS:
        return []
    if r != N.NVML_ERROR_INSUFFICIENT_SIZE:
        raise N.NVMLError(r)
    n = count.value
    arr = (ProcV1 * (n + 1))()
    ctypes.memset(arr, 0xA5, ctypes.sizeof(arr))
    count.value = n + 1
    N._nvmlCheckReturn(fn(h, ctypes.byref(count), arr))
    eq("v1 entries written", count.value, n)
    eq("the entry after the last is untouched", arr[n].pid, 0xA5A5A5A5)
    return [(arr[i].pid, arr[i].usedGpuMemory) for i in range(count.value)]


def check_memory_cuda():
    """VGPU_EMULATOR_DEVICES=t4,h200: allocate 1 GiB on GPU 1 through the emulator's
    libcuda.so.1 in this process; NVML sees it on GPU 1 only, and this process in the
    running processes, in every version of the query."""
    cuda = ctypes.CDLL(os.path.join(os.environ["EMULATOR_DIR"], "libcuda.so.1"))
    def cu(name, *args):
        r = getattr(cuda, name)(*args)
        if r != 0:
            raise AssertionError(f"{name} returned CUDA error {r}")
    N.nvmlInit()
    t4, h200 = handles()
    eq("H200 v2 used before any context", N.nvmlDeviceGetMemoryInfo(h200, version=N.nvmlMemory_v2).used, 0)
    cu("cuInit", 0)
    dev = ctypes.c_int()
    cu("cuDeviceGet", ctypes.byref(dev), 1)
    ctx = ctypes.c_void_p()
    cu("cuCtxCreate_v2", ctypes.byref(ctx), 0, dev)
    # A context has a footprint of its own, as on a real GPU: measure from here.
    before = [N.nvmlDeviceGetMemoryInfo(x, version=N.nvmlMemory_v2) for x in (t4, h200)]
    before_v1 = N.nvmlDeviceGetMemoryInfo(h200)
    ptr = ctypes.c_uint64()
    cu("cuMemAlloc_v2", ctypes.byref(ptr), ctypes.c_size_t(GIB))
    after = [N.nvmlDeviceGetMemoryInfo(x, version=N.nvmlMemory_v2) for x in (t4, h200)]
    after_v1 = N.nvmlDeviceGetMemoryInfo(h200)
    eq("H200 v2 used grew by", after[1].used - before[1].used, GIB)
    eq("H200 v2 free shrank by", before[1].free - after[1].free, GIB)
    eq("H200 v1 used grew by", after_v1.used - before_v1.used, GIB)
    eq("H200 v1 used = reserved + v2 used", after_v1.used, after[1].reserved + after[1].used)
    eq("T4 v2 used unchanged", after[0].used, before[0].used)
    pid = os.getpid()
    for name, procs in (("v3", N.nvmlDeviceGetComputeRunningProcesses(h200)),
                        ("v2", N.nvmlDeviceGetComputeRunningProcesses_v2(h200))):
        mine = [p for p in procs if p.pid == pid]
        eq(f"this process among the H200's compute processes ({name})", len(mine), 1)
        true(f"its memory ({name}: {mine[0].usedGpuMemory}) counts the GiB", mine[0].usedGpuMemory >= GIB)
        eq(f"GPU instance id without MIG ({name})", mine[0].gpuInstanceId, 0xFFFFFFFF)
    mine = [p for p in processes_v1(h200) if p[0] == pid]
    eq("this process in the unversioned (v1) query", len(mine), 1)
    true("its memory (v1) counts the GiB", mine[0][1] >= GIB)
    eq("not among the T4's", [p.pid for p in N.nvmlDeviceGetComputeRunningProcesses(t4) if p.pid == pid], [])
    cu("cuMemFree_v2", ptr)
    freed = N.nvmlDeviceGetMemoryInfo(h200, version=N.nvmlMemory_v2)
    eq("H200 v2 used after cuMemFree", freed.used, before[1].used)
    cu("cuCtxDestroy_v2", ctx)
    N.nvmlShutdown()


PROFILES = {
    # key: name, compute capability, architecture, brand, cores, MIG, fans, serial
    "h200": ("NVIDIA H200", (9, 0), 9, 14, 16896, True, False, True),
    "h100-80gb": ("NVIDIA H100 80GB HBM3", (9, 0), 9, 14, 16896, True, False, True),
    "a100-80gb": ("NVIDIA A100-SXM4-80GB", (8, 0), 7, 14, 6912, True, False, True),
    "l4": ("NVIDIA L4", (8, 9), 8, 14, 7424, False, False, True),
    "t4": ("Tesla T4", (7, 5), 6, 14, 2560, False, False, True),
    "rtx-4090": ("NVIDIA GeForce RTX 4090", (8, 9), 8, 5, 16384, False, True, False),
}


def check_profiles():
    """VGPU_EMULATOR_DEVICES=h200,h100-80gb,a100-80gb,l4,t4,rtx-4090"""
    N.nvmlInit()
    hs = handles()
    eq("count", len(hs), len(PROFILES))
    for h, (key, (name, cc, arch, brand, cores, mig, fans, serial)) in zip(hs, PROFILES.items()):
        eq(f"{key} name", s(N.nvmlDeviceGetName(h)), name)
        eq(f"{key} compute capability", N.nvmlDeviceGetCudaComputeCapability(h), cc)
        eq(f"{key} architecture", N.nvmlDeviceGetArchitecture(h), arch)
        eq(f"{key} brand", N.nvmlDeviceGetBrand(h), brand)
        eq(f"{key} cores", N.nvmlDeviceGetNumGpuCores(h), cores)
        m = N.nvmlDeviceGetMemoryInfo(h, version=N.nvmlMemory_v2)
        true(f"{key} reserves memory ({m.reserved} of {m.total})", 0 < m.reserved < m.total // 20)
        eq(f"{key} free = total - reserved", m.free, m.total - m.reserved)
        if mig:
            eq(f"{key} MIG mode", N.nvmlDeviceGetMigMode(h), [0, 0])
        else:
            raises(f"{key} MIG mode", N.NVMLError_NotSupported, N.nvmlDeviceGetMigMode, h)
        if fans:
            eq(f"{key} fan speed", N.nvmlDeviceGetFanSpeed(h), 30)
            eq(f"{key} fans", N.nvmlDeviceGetNumFans(h), 2)
        else:
            raises(f"{key} fan speed", N.NVMLError_NotSupported, N.nvmlDeviceGetFanSpeed, h)
        if serial:
            true(f"{key} serial", re.fullmatch(r"\d{13}", s(N.nvmlDeviceGetSerial(h))) is not None)
        else:
            raises(f"{key} serial", N.NVMLError_NotSupported, N.nvmlDeviceGetSerial, h)
        lo, hi = N.nvmlDeviceGetPowerManagementLimitConstraints(h)
        true(f"{key} power {N.nvmlDeviceGetPowerUsage(h)} mW within its limits [{lo}, {hi}]",
             0 < N.nvmlDeviceGetPowerUsage(h) < hi and lo <= N.nvmlDeviceGetPowerManagementLimit(h) <= hi)
        true(f"{key} clocks: current <= max",
             all(N.nvmlDeviceGetClockInfo(h, t) <= N.nvmlDeviceGetMaxClockInfo(h, t) for t in range(4)))
    N.nvmlShutdown()


def check_errors():
    """VGPU_EMULATOR_DEVICES=h200"""
    raises("count before nvmlInit", N.NVMLError_Uninitialized, N.nvmlDeviceGetCount)
    N.nvmlInit()
    h = N.nvmlDeviceGetHandleByIndex(0)
    raises("index 1 of 1", N.NVMLError_InvalidArgument, N.nvmlDeviceGetHandleByIndex, 1)
    raises("an unknown UUID", N.NVMLError_NotFound, N.nvmlDeviceGetHandleByUUID,
           "GPU-12345678-1234-1234-1234-123456789abc")
    raises("an unknown serial", N.NVMLError_NotFound, N.nvmlDeviceGetHandleBySerial, "1000000000000")
    raises("temperature sensor 7", N.NVMLError_InvalidArgument, N.nvmlDeviceGetTemperature, h, 7)
    raises("memory info v2 with version 1", N.NVMLError_ArgumentVersionMismatch, N.nvmlDeviceGetMemoryInfo,
           h, 0x01000028)
    raises("a MIG device under an H200 without MIG", N.NVMLError_NotFound, N.nvmlDeviceGetMigDeviceHandleByIndex, h, 0)
    N.nvmlInit()
    N.nvmlShutdown()
    eq("one reference left: still initialised", s(N.nvmlDeviceGetName(h)), "NVIDIA H200")
    N.nvmlShutdown()
    raises("name after the last shutdown", N.NVMLError_Uninitialized, N.nvmlDeviceGetName, h)
    raises("a shutdown too many", N.NVMLError_Uninitialized, N.nvmlShutdown)


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) == 2 else ""
    check = globals().get("check_" + name)
    if check is None:
        sys.exit("usage: nvml_pynvml.py " + "|".join(k[6:] for k in globals() if k.startswith("check_")))
    try:
        check()
    except AssertionError as e:
        print(f"FAILED: {e}")
        sys.exit(1)
    print("all held")

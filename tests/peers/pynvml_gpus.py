"""pynvml_gpus.py PROFILE...: PyPI nvidia-ml-py (pynvml) sees the emulated GPUs PROFILE...
(in index order; e.g. t4 h200), for tests/bats/emulator_peers.bats (run under vgpu-run
--gpu emulated:t4 --gpu emulated:h200, or directly against the emulator).

Checks, in one process:
  - nvmlInit_v2; nvmlDeviceGetCount is the number of profiles;
  - per index: the profile's name, total memory (NVML's figure, with the driver's
    reservation: memory info v1 and v2 agree on it), a "GPU-" UUID, distinct from every
    other index's, and the handle found again by that UUID;
  - CUDA and NVML agree: libcuda.so.1 (loaded with ctypes, the ordinary way) lists the
    same UUIDs in the same order;
  - processes: after cuMemAlloc of 256 MiB on the last device (through libcuda),
    nvmlDeviceGetComputeRunningProcesses of that device lists this process with at
    least 256 MiB, its used memory grew by at least that much, and no other device
    lists this process.
Prints what it saw and "done"; exits 77 when pynvml is not installed, 1 with "FAIL ..."
when a check does not hold.
"""
import ctypes
import os
import sys

try:
    import pynvml as N
except ImportError as e:
    print(f"nvidia-ml-py not installed ({e})")
    sys.exit(77)

MIB = 1 << 20
# name, NVML total memory (public figures; h200: shared/reference/h200/nvml-view.json)
PROFILES = {
    "h200": ("NVIDIA H200", 150754820096),
    "h100-80gb": ("NVIDIA H100 80GB HBM3", 81559 * MIB),
    "a100-80gb": ("NVIDIA A100-SXM4-80GB", 81920 * MIB),
    "l4": ("NVIDIA L4", 23034 * MIB),
    "t4": ("Tesla T4", 15360 * MIB),
}
ALLOC = 256 * MIB


def fail(msg):
    print(f"FAIL {msg}", flush=True)
    sys.exit(1)


def s(v):
    return v.decode() if isinstance(v, bytes) else v


want = sys.argv[1:]
if not want or any(p not in PROFILES for p in want):
    print(f"usage: {sys.argv[0]} PROFILE... ({' '.join(PROFILES)})", file=sys.stderr)
    sys.exit(2)

N.nvmlInit()
count = N.nvmlDeviceGetCount()
print(f"count {count}")
if count != len(want):
    fail(f"nvmlDeviceGetCount {count}, expected {len(want)}")

handles, uuids = [], []
for i, key in enumerate(want):
    h = N.nvmlDeviceGetHandleByIndex(i)
    name = s(N.nvmlDeviceGetName(h))
    uuid = s(N.nvmlDeviceGetUUID(h))
    m1 = N.nvmlDeviceGetMemoryInfo(h)
    m2 = N.nvmlDeviceGetMemoryInfo(h, version=N.nvmlMemory_v2)
    print(f"device {i} name={name} uuid={uuid} total={m1.total} free={m1.free} used={m1.used} "
          f"v2_total={m2.total} v2_reserved={m2.reserved} v2_used={m2.used}")
    want_name, want_total = PROFILES[key]
    if name != want_name:
        fail(f"device {i}: name {name!r}, expected {want_name!r}")
    if m1.total != want_total or m2.total != want_total:
        fail(f"device {i}: total memory {m1.total} (v2 {m2.total}), expected {want_total}")
    if not uuid.startswith("GPU-") or len(uuid) != 40:
        fail(f"device {i}: UUID {uuid!r} is not GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    if uuid in uuids:
        fail(f"device {i}: UUID {uuid} already used by device {uuids.index(uuid)}")
    again = N.nvmlDeviceGetHandleByUUID(uuid.encode())
    if N.nvmlDeviceGetIndex(again) != i:
        fail(f"device {i}: nvmlDeviceGetHandleByUUID({uuid}) gave index {N.nvmlDeviceGetIndex(again)}")
    handles.append(h)
    uuids.append(uuid)

# CUDA's view through libcuda.so.1.
cu = ctypes.CDLL("libcuda.so.1")


def call(name, *args):
    r = getattr(cu, name)(*args)
    if r != 0:
        fail(f"{name}: CUresult {r}")


call("cuInit", 0)
n = ctypes.c_int()
call("cuDeviceGetCount", ctypes.byref(n))
cuda_uuids = []
for i in range(n.value):
    dev = ctypes.c_int()
    call("cuDeviceGet", ctypes.byref(dev), i)
    raw = (ctypes.c_ubyte * 16)()
    call("cuDeviceGetUuid_v2", raw, dev)
    h = bytes(raw).hex()
    cuda_uuids.append(f"GPU-{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}")
print(f"cuda uuids {' '.join(cuda_uuids)}")
if cuda_uuids != uuids:
    fail(f"CUDA lists {cuda_uuids}, NVML {uuids}")

last = len(want) - 1
used_before = N.nvmlDeviceGetMemoryInfo(handles[last]).used
dev = ctypes.c_int()
ctx = ctypes.c_void_p()
ptr = ctypes.c_uint64()
call("cuDeviceGet", ctypes.byref(dev), last)
call("cuDevicePrimaryCtxRetain", ctypes.byref(ctx), dev)
call("cuCtxSetCurrent", ctx)
call("cuMemAlloc_v2", ctypes.byref(ptr), ctypes.c_size_t(ALLOC))
used_after = N.nvmlDeviceGetMemoryInfo(handles[last]).used
pid = os.getpid()
for i, h in enumerate(handles):
    mine = [p for p in N.nvmlDeviceGetComputeRunningProcesses(h) if p.pid == pid]
    print(f"device {i} processes: {[(p.pid, p.usedGpuMemory) for p in mine]}")
    if i == last:
        if len(mine) != 1 or mine[0].usedGpuMemory is None or mine[0].usedGpuMemory < ALLOC:
            fail(f"device {i}: this process (pid {pid}) with >= {ALLOC} bytes not listed: {mine}")
    elif mine:
        fail(f"device {i}: lists this process, which allocated nothing there")
print(f"device {last} used {used_before} -> {used_after}")
if used_after - used_before < ALLOC:
    fail(f"device {last}: NVML used memory grew by {used_after - used_before}, allocated {ALLOC}")
call("cuMemFree_v2", ptr)
call("cuDevicePrimaryCtxRelease_v2", dev)
N.nvmlShutdown()
print("done")

"""cuda_python.py bindings|core: NVIDIA's Python CUDA packages (PyPI cuda-bindings and
cuda-core) against whatever libcuda.so.1 the loader finds, for
tests/bats/emulator_peers.bats.

  bindings   cuda.bindings.driver: cuInit, cuDriverGetVersion, cuDeviceGetCount, and per
             device its name, compute capability, multiprocessor count, total memory, UUID
             and PCI bus id; then on every device a memory round trip in its primary
             context: cuMemAlloc twice, cuMemcpyHtoD of random bytes, cuMemcpyDtoD,
             cuMemcpyDtoH, compared byte for byte; cuMemsetD8 read back; cuMemGetInfo
             before, during and after; cuMemFree.
  core       cuda.core: system.get_num_devices, Device(i).name / compute_capability /
             properties.multiprocessor_count / uuid / pci_bus_id, then a stream-ordered
             device buffer and two pinned host buffers: random bytes host -> device ->
             host, compared.

Prints one fact per line ("driver 13000", "device 0 name=... cc=9.0 sms=132 ...",
"roundtrip 0 ok ...", "lib /path/of/libcuda.so.1" for each libcuda mapped) and "done" at
the end.  Exits 77 with the reason when the package is not installed (the suite skips),
1 on any failed check (the failing call and its result on the line "FAIL ...").
"""
import ctypes
import os
import sys

SIZE = 4 << 20


def fail(msg):
    print(f"FAIL {msg}")
    sys.exit(1)


def mapped_libs():
    seen = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and os.path.basename(parts[5]).split(":")[-1].startswith(("libcuda.so", "libnvidia-ml.so")):
                if parts[5] not in seen:
                    seen.append(parts[5])
    for p in seen:
        print(f"lib {p}")


def bindings():
    try:
        from cuda.bindings import driver as d
    except ImportError as e:
        print(f"cuda-bindings not installed ({e})")
        sys.exit(77)

    ok = d.CUresult.CUDA_SUCCESS

    def call(name, *args):
        res = getattr(d, name)(*args)
        if res[0] != ok:
            fail(f"{name}{args!r}: {res[0]!r}")
        return res[1] if len(res) == 2 else res[1:]

    call("cuInit", 0)
    print(f"driver {call('cuDriverGetVersion')}")
    count = call("cuDeviceGetCount")
    print(f"count {count}")
    A = d.CUdevice_attribute
    uuids = set()
    for i in range(count):
        dev = call("cuDeviceGet", i)
        name = call("cuDeviceGetName", 256, dev).split(b"\0", 1)[0].decode()
        major = call("cuDeviceGetAttribute", A.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev)
        minor = call("cuDeviceGetAttribute", A.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev)
        sms = call("cuDeviceGetAttribute", A.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev)
        total = call("cuDeviceTotalMem", dev)
        uuid = bytes(call("cuDeviceGetUuid", dev).bytes).hex()
        pci = call("cuDeviceGetPCIBusId", 32, dev).split(b"\0", 1)[0].decode()
        uuids.add(uuid)
        print(f"device {i} name={name} cc={major}.{minor} sms={sms} total={total} uuid={uuid} pci={pci}")
    if len(uuids) != count:
        fail(f"{count} devices but {len(uuids)} distinct UUIDs")

    for i in range(count):
        dev = call("cuDeviceGet", i)
        ctx = call("cuDevicePrimaryCtxRetain", dev)
        call("cuCtxSetCurrent", ctx)
        free0, total = call("cuMemGetInfo")
        a = call("cuMemAlloc", SIZE)
        b = call("cuMemAlloc", SIZE)
        free1, _ = call("cuMemGetInfo")
        if int(a) == int(b) or abs(int(a) - int(b)) < SIZE:
            fail(f"device {i}: allocations overlap: {int(a):#x}, {int(b):#x}")
        data = os.urandom(SIZE)
        call("cuMemcpyHtoD", a, data, SIZE)
        call("cuMemcpyDtoD", b, a, SIZE)
        out = bytearray(SIZE)
        call("cuMemcpyDtoH", out, b, SIZE)
        if bytes(out) != data:
            bad = next(k for k in range(SIZE) if out[k] != data[k])
            fail(f"device {i}: round trip differs first at byte {bad}")
        call("cuMemsetD8", a, 0x5A, SIZE)
        call("cuMemcpyDtoH", out, a, SIZE)
        if bytes(out) != b"\x5a" * SIZE:
            fail(f"device {i}: cuMemsetD8(0x5a) read back something else")
        call("cuMemFree", a)
        call("cuMemFree", b)
        free2, _ = call("cuMemGetInfo")
        call("cuDevicePrimaryCtxRelease", dev)
        print(f"roundtrip {i} ok bytes={SIZE} total={total} free={free0} free_allocated={free1} free_after={free2}")
        if free0 - free1 < 2 * SIZE:
            fail(f"device {i}: cuMemGetInfo free went {free0} -> {free1} for 2 x {SIZE} bytes allocated")
        if free2 != free0:
            fail(f"device {i}: cuMemGetInfo free {free0} before, {free2} after freeing")
    mapped_libs()
    print("done")


def core():
    try:
        from cuda.core import Device, LegacyPinnedMemoryResource, system
    except ImportError as e:
        print(f"cuda-core not installed ({e})")
        sys.exit(77)

    count = system.get_num_devices()
    print(f"count {count}")
    print(f"driver {system.get_user_mode_driver_version()}")
    pinned = LegacyPinnedMemoryResource()
    for i in range(count):
        dev = Device(i)
        cc = dev.compute_capability
        print(f"device {i} name={dev.name} cc={cc.major}.{cc.minor} arch={dev.arch} "
              f"sms={dev.properties.multiprocessor_count} uuid={dev.uuid} pci={dev.pci_bus_id}")
    for i in range(count):
        dev = Device(i)
        dev.set_current()
        stream = dev.create_stream()
        buf = dev.allocate(SIZE, stream=stream)
        src = pinned.allocate(SIZE)
        dst = pinned.allocate(SIZE)
        data = os.urandom(SIZE)
        ctypes.memmove(int(src.handle), data, SIZE)
        ctypes.memset(int(dst.handle), 0, SIZE)
        buf.copy_from(src, stream=stream)
        buf.copy_to(dst, stream=stream)
        stream.sync()
        if ctypes.string_at(int(dst.handle), SIZE) != data:
            fail(f"device {i}: cuda.core round trip differs")
        buf.close(stream)
        src.close()
        dst.close()
        stream.close()
        print(f"roundtrip {i} ok bytes={SIZE}")
    mapped_libs()
    print("done")


if __name__ == "__main__":
    modes = {"bindings": bindings, "core": core}
    if len(sys.argv) != 2 or sys.argv[1] not in modes:
        print(f"usage: {sys.argv[0]} {'|'.join(modes)}", file=sys.stderr)
        sys.exit(2)
    modes[sys.argv[1]]()

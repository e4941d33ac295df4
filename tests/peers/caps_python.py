"""caps_python.py MODE ARG...: NVIDIA's Python packages, and a process that holds device
memory, against virtual GPUs with memory caps, for tests/bats/shim_peers.bats (run under
vgpu-run; libcuda.so.1 and libnvidia-ml.so.1 are whatever the loader finds).

  bindings CAP_MIB...  PyPI cuda-bindings, cuda.bindings.driver: cuInit, cuDeviceGetCount,
                       per device cuDeviceGetName, cuDeviceTotalMem, cuDeviceGetUuid; then,
                       for every device given a cap C (ordinal order), in its primary
                       context: cuMemGetInfo, cuMemAlloc(C - 64 MiB), cuMemGetInfo while it
                       is held, cuMemAlloc(128 MiB) on top, cuMemFree, cuMemAlloc(C + 64 MiB)
                       alone, cuMemAlloc(C - 64 MiB) again, cuMemGetInfo.
  runtime CAP_MIB...   the same through cuda.bindings.runtime (cudaGetDeviceCount,
                       cudaGetDeviceProperties, cudaSetDevice, cudaMemGetInfo, cudaMalloc,
                       cudaFree; a failed cudaMalloc's error taken off with
                       cudaGetLastError).
  nvml INDEX MIB       PyPI nvidia-ml-py: count, per index the name, UUID (and the handle
                       found again by it), memory info v1 and v2; then a second process of
                       the same sandbox ("hold INDEX MIB") allocates MIB MiB on device INDEX
                       and keeps it: memory info of every device while it holds, and after
                       it has freed and exited; last, libcuda.so.1 (ctypes) lists its
                       devices' UUIDs (cuDeviceGetUuid_v2).
  hold INDEX MIB       libcuda.so.1 through ctypes: cuMemAlloc_v2 of MIB MiB on device INDEX
                       (its primary context), prints "held INDEX BYTES uuid=GPU-...", keeps
                       the memory until its stdin ends, frees it, prints "released INDEX".
  with-hold INDEX MIB CMD...
                       runs "hold INDEX MIB", waits until it holds, runs CMD (its output
                       goes through), then lets the holder free and exit; exits with CMD's
                       status.

The API modes print the lines tests/peers/caps_cudart.cu prints ("count N", "device J
name=NAME", "device J total=BYTES", "device J uuid=GPU-...", "device J meminfo total=T
free=F", "device J alloc_below_cap CODE NAME", "meminfo_held", "alloc_beyond_cap",
"free", "alloc_over_cap", "alloc_again", "meminfo_after"), NVML "device J
memory[_held|_after] total=T free=F used=U"; "done" at the end.  Results are printed, not
judged: the suite compares them with the policy.  Exit status 77 with the reason when a
package is missing (the suite skips), 1 with "FAIL ..." when a call the steps depend on
failed.
"""
import ctypes
import subprocess
import sys

MIB = 1 << 20


def fail(msg):
    print(f"FAIL {msg}", flush=True)
    sys.exit(1)


def uuid_text(raw):
    h = bytes(raw).hex()
    return f"GPU-{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def caps_list(args):
    caps = [int(a) * MIB for a in args]
    if any(c <= 64 * MIB for c in caps):
        print("caps are in MiB and above 64", file=sys.stderr)
        sys.exit(2)
    return caps


# --- the API modes: one sequence, two APIs ------------------------------------------------

def api_sequence(api, caps):
    """api: count(), device(i) -> (name, total, uuid bytes), select(i), meminfo() ->
    (free, total), alloc(size) -> (code, name, ptr), free(ptr) -> (code, name)."""
    n = api.count()
    print(f"count {n}")
    for i in range(n):
        name, total, raw = api.device(i)
        print(f"device {i} name={name}")
        print(f"device {i} total={total}")
        print(f"device {i} uuid={uuid_text(raw)}")
    for i, cap in enumerate(caps[:n]):
        api.select(i)

        def meminfo(what):
            free, total = api.meminfo()
            print(f"device {i} {what} total={total} free={free}")

        def alloc(what, size, keep=False):
            code, name, ptr = api.alloc(size)
            print(f"device {i} {what} {code} {name}")
            if code == 0 and not keep:
                api.free(ptr)
            return ptr if code == 0 else None

        meminfo("meminfo")
        block = alloc("alloc_below_cap", cap - 64 * MIB, keep=True)
        meminfo("meminfo_held")
        alloc("alloc_beyond_cap", 128 * MIB)
        if block is not None:
            code, name = api.free(block)
            print(f"device {i} free {code} {name}")
        else:
            print(f"device {i} free skipped")
        alloc("alloc_over_cap", cap + 64 * MIB)
        alloc("alloc_again", cap - 64 * MIB)
        meminfo("meminfo_after")
    print("done")


class Driver:
    def __init__(self):
        try:
            from cuda.bindings import driver as d
        except ImportError as e:
            print(f"cuda-bindings not installed ({e})")
            sys.exit(77)
        self.d = d
        self.call("cuInit", 0)

    def call(self, name, *args):
        res = getattr(self.d, name)(*args)
        if res[0] != self.d.CUresult.CUDA_SUCCESS:
            fail(f"{name}{args!r}: {res[0]!r}")
        return res[1] if len(res) == 2 else res[1:]

    def count(self):
        return self.call("cuDeviceGetCount")

    def device(self, i):
        dev = self.call("cuDeviceGet", i)
        name = self.call("cuDeviceGetName", 256, dev).split(b"\0", 1)[0].decode()
        return name, self.call("cuDeviceTotalMem", dev), self.call("cuDeviceGetUuid", dev).bytes

    def select(self, i):
        dev = self.call("cuDeviceGet", i)
        self.call("cuCtxSetCurrent", self.call("cuDevicePrimaryCtxRetain", dev))

    def meminfo(self):
        return self.call("cuMemGetInfo")

    def alloc(self, size):
        res = self.d.cuMemAlloc(size)
        return int(res[0]), res[0].name, res[1]

    def free(self, ptr):
        r = self.d.cuMemFree(ptr)[0]
        return int(r), r.name


class Runtime:
    def __init__(self):
        try:
            from cuda.bindings import runtime as r
        except ImportError as e:
            print(f"cuda-bindings not installed ({e})")
            sys.exit(77)
        self.r = r

    def call(self, name, *args):
        res = getattr(self.r, name)(*args)
        if res[0] != self.r.cudaError_t.cudaSuccess:
            fail(f"{name}{args!r}: {res[0]!r}")
        return res[1] if len(res) == 2 else res[1:]

    def count(self):
        return self.call("cudaGetDeviceCount")

    def device(self, i):
        p = self.call("cudaGetDeviceProperties", i)
        name = p.name.split(b"\0", 1)[0].decode() if isinstance(p.name, bytes) else p.name
        return name, p.totalGlobalMem, p.uuid.bytes

    def select(self, i):
        self.call("cudaSetDevice", i)

    def meminfo(self):
        return self.call("cudaMemGetInfo")

    def alloc(self, size):
        res = self.r.cudaMalloc(size)
        if res[0] != self.r.cudaError_t.cudaSuccess:
            self.r.cudaGetLastError()
        return int(res[0]), res[0].name, res[1]

    def free(self, ptr):
        r = self.r.cudaFree(ptr)[0]
        return int(r), r.name


# --- holding memory in another process -------------------------------------------------------

def hold(index, mib):
    cu = ctypes.CDLL("libcuda.so.1")

    def call(name, *args):
        r = getattr(cu, name)(*args)
        if r != 0:
            fail(f"hold: {name}: CUresult {r}")

    dev, ctx, ptr = ctypes.c_int(), ctypes.c_void_p(), ctypes.c_uint64()
    raw = (ctypes.c_ubyte * 16)()
    call("cuInit", 0)
    call("cuDeviceGet", ctypes.byref(dev), index)
    call("cuDeviceGetUuid_v2", raw, dev)
    call("cuDevicePrimaryCtxRetain", ctypes.byref(ctx), dev)
    call("cuCtxSetCurrent", ctx)
    call("cuMemAlloc_v2", ctypes.byref(ptr), ctypes.c_size_t(mib * MIB))
    print(f"held {index} {mib * MIB} uuid={uuid_text(raw)}", flush=True)
    sys.stdin.read()
    call("cuMemFree_v2", ptr)
    call("cuDevicePrimaryCtxRelease_v2", dev)
    print(f"released {index}", flush=True)


class Holder:
    """hold INDEX MIB in a child process; its lines are printed as they are read."""

    def __init__(self, index, mib):
        self.p = subprocess.Popen([sys.executable, __file__, "hold", str(index), str(mib)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().rstrip("\n")
        print(line, flush=True)
        if not line.startswith("held "):
            self.p.kill()
            fail(f"the holder did not hold {mib} MiB on device {index}: {line or self.p.wait()}")

    def release(self):
        self.p.stdin.close()
        for line in self.p.stdout:
            print(line.rstrip("\n"), flush=True)
        if self.p.wait() != 0:
            fail(f"the holder exited with status {self.p.returncode}")


def with_hold(index, mib, cmd):
    h = Holder(index, mib)
    status = subprocess.call(cmd)
    h.release()
    sys.exit(status)


# --- NVML ------------------------------------------------------------------------------------

def nvml(index, mib):
    try:
        import pynvml as N
    except ImportError as e:
        print(f"nvidia-ml-py not installed ({e})")
        sys.exit(77)

    def s(v):
        return v.decode() if isinstance(v, bytes) else v

    N.nvmlInit()
    count = N.nvmlDeviceGetCount()
    print(f"count {count}")
    handles = [N.nvmlDeviceGetHandleByIndex(i) for i in range(count)]

    def memory(what):
        for i, h in enumerate(handles):
            m = N.nvmlDeviceGetMemoryInfo(h)
            print(f"device {i} {what} total={m.total} free={m.free} used={m.used}")

    for i, h in enumerate(handles):
        uuid = s(N.nvmlDeviceGetUUID(h))
        print(f"device {i} name={s(N.nvmlDeviceGetName(h))}")
        print(f"device {i} uuid={uuid}")
        print(f"device {i} by_uuid index={N.nvmlDeviceGetIndex(N.nvmlDeviceGetHandleByUUID(uuid.encode()))}")
        m2 = N.nvmlDeviceGetMemoryInfo(h, version=N.nvmlMemory_v2)
        print(f"device {i} memory_v2 total={m2.total} free={m2.free} used={m2.used} reserved={m2.reserved}")
    memory("memory")
    if 0 <= index < count:
        h = Holder(index, mib)
        memory("memory_held")
        h.release()
        memory("memory_after")
    N.nvmlShutdown()

    cu = ctypes.CDLL("libcuda.so.1")
    n, dev = ctypes.c_int(), ctypes.c_int()
    raw = (ctypes.c_ubyte * 16)()
    if cu.cuInit(0) != 0 or cu.cuDeviceGetCount(ctypes.byref(n)) != 0:
        fail("libcuda.so.1: cuInit or cuDeviceGetCount failed")
    print(f"cuda count {n.value}")
    for i in range(n.value):
        if cu.cuDeviceGet(ctypes.byref(dev), i) != 0 or cu.cuDeviceGetUuid_v2(raw, dev) != 0:
            fail(f"libcuda.so.1: cuDeviceGet or cuDeviceGetUuid_v2 of {i} failed")
        print(f"cuda {i} uuid={uuid_text(raw)}")
    print("done")


def main():
    mode, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if mode == "bindings":
        api_sequence(Driver(), caps_list(args))
    elif mode == "runtime":
        api_sequence(Runtime(), caps_list(args))
    elif mode == "nvml" and len(args) == 2:
        nvml(int(args[0]), int(args[1]))
    elif mode == "hold" and len(args) == 2:
        hold(int(args[0]), int(args[1]))
    elif mode == "with-hold" and len(args) > 2:
        with_hold(int(args[0]), int(args[1]), args[2:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    main()

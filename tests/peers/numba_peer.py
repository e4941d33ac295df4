"""numba_peer.py [launch]: PyPI numba-cuda against whatever libcuda.so.1 the loader
finds, for tests/bats/emulator_peers.bats.  Everything in one process (importing numba
is slow):

  1. numba.cuda.detect(): its report as printed, then "detect True";
  2. per device (cuda.gpus): name, compute capability, and the context's memory info
     ("device 0 name=... cc=9.0 total=... free=...");
  3. round trips on every device: cuda.to_device(array).copy_to_host() for random
     uint8 (4 MiB), float64 2-D and Fortran-ordered int32 arrays, compared element for
     element; a device_array filled by copy_to_device and read back; device-to-device
     through copy_to_device of a device array.  "roundtrip 0 ok ..." per device.

With "launch" instead: a @cuda.jit kernel is compiled (NVVM, from the CUDA toolkit),
loaded and launched on device 0, then synchronised; prints "launch ok" or "launch error
NAME" (the CUresult numba reports), and whether the array changed.  The emulator runs no
GPU code: it must refuse the launch with CUDA_ERROR_NOT_SUPPORTED, or accept it and do
nothing under `launch = noop`; the suite checks which.

"done" at the end; exits 77 with the reason when numba-cuda (or numpy, or NVVM for
"launch") is not there, 1 on a failed check ("FAIL ...").
"""
import os
import sys


def fail(msg):
    print(f"FAIL {msg}", flush=True)
    sys.exit(1)


try:
    import numpy as np
    from numba import cuda
except ImportError as e:
    print(f"numba-cuda not installed ({e})")
    sys.exit(77)


def launch():
    from numba.cuda.cudadrv import nvvm

    if not nvvm.is_available():
        print("no NVVM (CUDA toolkit) for numba-cuda to compile kernels with")
        sys.exit(77)

    @cuda.jit
    def add_one(x):
        i = cuda.grid(1)
        if i < x.size:
            x[i] += 1

    d = cuda.to_device(np.zeros(256, dtype=np.int32))
    try:
        add_one[2, 128](d)
        cuda.synchronize()
        print("launch ok")
    except Exception as e:
        code = getattr(e, "code", None)
        words = [w.rstrip(":") for w in str(e).split() if w.startswith("CUDA_ERROR_")]
        print(f"launch error {words[0] if words else code or type(e).__name__}")
    out = d.copy_to_host()
    print(f"array {'unchanged' if not out.any() else 'changed'}")
    print("done")


if sys.argv[1:] == ["launch"]:
    launch()
    sys.exit(0)
elif sys.argv[1:]:
    print(f"usage: {sys.argv[0]} [launch]", file=sys.stderr)
    sys.exit(2)

if not cuda.detect():
    fail("numba.cuda.detect() returned False")
sys.stdout.flush()
print("detect True")
if not cuda.is_available():
    fail("numba.cuda.is_available() is False")

rng = np.random.default_rng(int.from_bytes(os.urandom(8), "little"))
count = len(cuda.gpus)
print(f"count {count}")
for i in range(count):
    with cuda.gpus[i]:
        dev = cuda.get_current_device()
        free, total = cuda.current_context().get_memory_info()
        name = dev.name.decode() if isinstance(dev.name, bytes) else dev.name
        cc = dev.compute_capability
        print(f"device {i} name={name} cc={cc[0]}.{cc[1]} total={total} free={free}")

        arrays = [
            rng.integers(0, 256, size=4 << 20, dtype=np.uint8),
            rng.standard_normal((512, 384)),
            np.asfortranarray(rng.integers(-(2**31), 2**31, size=(300, 257), dtype=np.int32)),
        ]
        for a in arrays:
            d = cuda.to_device(a)
            if d.shape != a.shape or d.dtype != a.dtype:
                fail(f"device {i}: to_device gave {d.shape} {d.dtype} for {a.shape} {a.dtype}")
            b = d.copy_to_host()
            if b.shape != a.shape or not np.array_equal(a, b):
                fail(f"device {i}: to_device(...).copy_to_host() of {a.dtype} {a.shape} differs")

        a = arrays[1]
        d = cuda.device_array(a.shape, dtype=a.dtype)
        d.copy_to_device(a)
        e = cuda.device_array_like(d)
        e.copy_to_device(d)
        out = np.zeros_like(a)
        e.copy_to_host(out)
        if not np.array_equal(a, out):
            fail(f"device {i}: device_array copy_to_device / device-to-device / copy_to_host differs")
        free_after, _ = cuda.current_context().get_memory_info()
        print(f"roundtrip {i} ok arrays={len(arrays) + 1} free_during={free_after}")

seen = []
with open("/proc/self/maps") as f:
    for line in f:
        parts = line.split()
        if len(parts) >= 6 and os.path.basename(parts[5]).split(":")[-1].startswith("libcuda.so") and parts[5] not in seen:
            seen.append(parts[5])
for p in seen:
    print(f"lib {p}")
print("done")

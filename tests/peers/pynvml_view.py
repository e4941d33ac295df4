"""pynvml_view.py: what PyPI nvidia-ml-py (pynvml) sees of the GPUs, one line each, for
tests/bats/shim_nvml.bats (run under vgpu-run; the test compares with nvmlview's lines).

    count N
    pynvml I name=NAME uuid=UUID byuuid=K total=T free=F used=U v2_total=T
        v2_reserved=R v2_free=F v2_used=U              (one line)
    pynvml I processes PID,PID,...
    done

byuuid: the index of the handle nvmlDeviceGetHandleByUUID finds for UUID.  Exit status
77 when pynvml cannot be imported.
"""
import sys

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
for i in range(count):
    h = N.nvmlDeviceGetHandleByIndex(i)
    name = s(N.nvmlDeviceGetName(h))
    uuid = s(N.nvmlDeviceGetUUID(h))
    byuuid = N.nvmlDeviceGetIndex(N.nvmlDeviceGetHandleByUUID(uuid.encode()))
    m1 = N.nvmlDeviceGetMemoryInfo(h)
    m2 = N.nvmlDeviceGetMemoryInfo(h, version=N.nvmlMemory_v2)
    print(f"pynvml {i} name={name} uuid={uuid} byuuid={byuuid} total={m1.total} free={m1.free} "
          f"used={m1.used} v2_total={m2.total} v2_reserved={m2.reserved} v2_free={m2.free} "
          f"v2_used={m2.used}")
    pids = [p.pid for p in N.nvmlDeviceGetComputeRunningProcesses(h)]
    print(f"pynvml {i} processes {','.join(map(str, pids))}")
N.nvmlShutdown()
print("done")

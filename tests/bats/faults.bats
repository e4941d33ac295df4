#!/usr/bin/env bats
# vgpu-run --fault SPEC and [fault] sections (docs/faults.md): chosen calls fail with a
# chosen code, counted over the whole sandbox.
#
# The lower driver is the emulator (this machine has no driver); vgpu-run runs from the
# install (no --lib-dir).  Clients: NVIDIA's libcudart 13 (tests/peers/fault_cudart.cu,
# built with the toolkit's nvcc in setup_file), numba-cuda, nvidia-ml-py, and the probes
# tracecall and shimcall.  A test that needs a missing one is skipped, saying which.
# Root only, as shim_peers.bats: the Python packages may live where uid 65534 cannot read.

bats_require_minimum_version 1.5.0

OOM='cuMemAlloc*:error=CUDA_ERROR_OUT_OF_MEMORY:nth=3'

setup_file() {
	export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
	export BIN="$BATS_FILE_TMPDIR"
	if [ -x "$CUDA_HOME/bin/nvcc" ]; then
		"$CUDA_HOME/bin/nvcc" -cudart shared -o "$BIN/fault_cudart" \
			"$BATS_TEST_DIRNAME/../peers/fault_cudart.cu" >"$BIN/fault_cudart.log" 2>&1 || true
	fi
}

setup() {
	load helpers
	vgpu_require
	for f in "$PROBES/tracecall" "$PROBES/shimcall"; do
		[ -x "$f" ] || fail "missing $f: build with 'zig build tests'"
	done
	T="$BATS_TEST_TMPDIR/t.jsonl"
	RUN="$VGPU_PREFIX/lib/vgpu/run"
	export T RUN
}

sandboxed() {
	env -u LD_LIBRARY_PATH -u VGPU_EMULATOR_DEVICES -u CUDA_VISIBLE_DEVICES "$VGPU" "$@"
}

need_cudart_peer() {
	[ -x "$BIN/fault_cudart" ] || skip "no libcudart 13 peer (nvcc at $CUDA_HOME/bin/nvcc: $(tail -n 3 "$BIN/fault_cudart.log" 2>/dev/null || echo missing))"
}

# The first Python (VGPU_TEST_PYTHON, python3 on PATH, /usr/bin/python3) with the module.
find_python() { # MODULE
	local py
	for py in ${VGPU_TEST_PYTHON:-} python3 /usr/bin/python3; do
		py=$(command -v "$py") || continue
		if "$py" -c "import $1" 2>/dev/null; then
			echo "$py"
			return 0
		fi
	done
}

@test "libcudart: exactly the 3rd cudaMalloc fails with cudaErrorMemoryAllocation under nth=3, the others succeed" {
	need_cudart_peer
	run --separate-stderr sandboxed --fault "$OOM" -- "$BIN/fault_cudart" malloc:6:1048576 free
	assert_success
	assert_output "init 0 cudaSuccess
malloc 1 0 cudaSuccess
malloc 2 0 cudaSuccess
malloc 3 2 cudaErrorMemoryAllocation
malloc 4 0 cudaSuccess
malloc 5 0 cudaSuccess
malloc 6 0 cudaSuccess
free 0 cudaSuccess"
	# The same rule from a policy file.
	printf '[fault]\nfunction = cuMemAlloc*\nerror = CUDA_ERROR_OUT_OF_MEMORY\nnth = 2\n' >"$BATS_TEST_TMPDIR/p.conf"
	run --separate-stderr sandboxed -p "$BATS_TEST_TMPDIR/p.conf" -- "$BIN/fault_cudart" malloc:3:4096
	assert_success
	assert_line "malloc 1 0 cudaSuccess"
	assert_line "malloc 2 2 cudaErrorMemoryAllocation"
	assert_line "malloc 3 0 cudaSuccess"
}

@test "numba-cuda raises its CUDA error under oom-after; what it allocated before the limit works" {
	py=$(find_python numba.cuda)
	[ -n "$py" ] || skip "numba-cuda is not installed for any Python here"
	run --separate-stderr sandboxed --fault oom-after=3M -- "$py" -c '
import numpy as np
from numba import cuda
from numba.cuda.cudadrv.driver import CudaAPIError
a = cuda.to_device(np.arange(1 << 18, dtype=np.uint8))
print("small ok", int(a.copy_to_host()[5]))
try:
    cuda.device_array(4 << 20, dtype=np.uint8)
    print("big ok")
except CudaAPIError as e:
    print("CudaAPIError", e.code)'
	assert_success
	assert_output "small ok 5
CudaAPIError 2"
}

@test "device-lost-after=1s: later calls fail in a libcudart peer (cudaErrorDevicesUnavailable) and in nvidia-ml-py (GPU is lost)" {
	need_cudart_peer
	run --separate-stderr sandboxed --fault device-lost-after=1s -- "$BIN/fault_cudart" malloc:1:4096 info \
		sleep:1200 malloc:1:4096 info sync
	assert_success
	assert_output "init 0 cudaSuccess
malloc 1 0 cudaSuccess
info 0 cudaSuccess
slept 1200
malloc 1 46 cudaErrorDevicesUnavailable
info 46 cudaErrorDevicesUnavailable
sync 46 cudaErrorDevicesUnavailable"

	py=$(find_python pynvml)
	[ -n "$py" ] || skip "nvidia-ml-py is not installed for any Python here"
	run --separate-stderr sandboxed --fault device-lost-after=1s -- "$py" -c '
import time, pynvml as n
n.nvmlInit()
h = n.nvmlDeviceGetHandleByIndex(0)
print("before", n.nvmlDeviceGetMemoryInfo(h).total > 0)
time.sleep(1.2)
for f in (lambda: n.nvmlDeviceGetMemoryInfo(h), lambda: n.nvmlDeviceGetHandleByIndex(0)):
    try:
        f()
        print("after ok?!")
    except n.NVMLError as e:
        print("after", e.value, e)
print("version", len(n.nvmlSystemGetDriverVersion()) > 0)
n.nvmlShutdown()'
	assert_success
	assert_output "before True
after 15 GPU is lost
after 15 GPU is lost
version True"
}

# The call numbers (1-based) of the failing cuDeviceGetAttribute calls in the trace.
failing_calls() { # FILE
	jq -r 'select(.fn == "cuDeviceGetAttribute") | (.fault // false)' "$1" | awk '$1 == "true" { print NR }' | tr '\n' ' '
}

@test "p with a seed: the same failures twice, other failures with another seed; about p of them" {
	spec='cuDeviceGetAttribute:error=CUDA_ERROR_INVALID_VALUE:p=0.3,seed=42'
	for i in 1 2; do
		run --separate-stderr sandboxed --trace "$T.$i" --fault "$spec" -- "$PROBES/tracecall" calls:400
		assert_success
	done
	first=$(failing_calls "$T.1")
	[ "$first" = "$(failing_calls "$T.2")" ] || fail "seed 42 failed calls $first, then $(failing_calls "$T.2")"
	n=$(wc -w <<<"$first")
	[ "$n" -ge 80 ] && [ "$n" -le 160 ] || fail "$n of 400 calls failed with p=0.3"
	[ "$(jq -r 'select(.fault) | .result' "$T.1" | sort -u)" = CUDA_ERROR_INVALID_VALUE ]
	run --separate-stderr sandboxed --trace "$T.3" --fault "${spec/seed=42/seed=7}" -- "$PROBES/tracecall" calls:400
	assert_success
	[ "$first" != "$(failing_calls "$T.3")" ] || fail "seeds 42 and 7 failed the same calls"
}

@test "counted over the sandbox: every=2 across two processes, after=T from the start, slow, an NVML rule" {
	run --separate-stderr sandboxed --trace "$T" --fault 'cuDeviceGetAttribute:error=CUDA_ERROR_INVALID_VALUE:every=2' \
		-- sh -c '"$1" calls:3; "$1" calls:3' sh "$PROBES/tracecall"
	assert_success
	# Calls 2, 4 and 6 of the sandbox: one in the first process, two in the second.
	[ "$(jq -r 'select(.fn == "cuDeviceGetAttribute") | "\(.pid) \(.fault // false)"' "$T" | uniq -c | awk '{ print $1, $3 }' | tr '\n' ' ')" = \
		"1 false 1 true 1 false 1 true 1 false 1 true " ] || fail "$(jq -c 'select(.fn == "cuDeviceGetAttribute") | [.pid, .result]' "$T")"
	pids=$(jq -r 'select(.fn == "cuDeviceGetAttribute") | .pid' "$T" | uniq | wc -l)
	[ "$pids" = 2 ]

	run --separate-stderr sandboxed --fault 'cuDeviceGetCount:error=CUDA_ERROR_UNKNOWN:after=0.5s' -- sh -c '
		"$1" nested; sleep 0.7; "$1" nested' sh "$PROBES/tracecall"
	assert_success
	assert_output "nested rc=0 inner=0 count=1 version=13000
nested rc=0 inner=0 count=0 version=13000"

	start=$(date +%s%N)
	run --separate-stderr sandboxed --fault 'slow=cuDeviceGetAttribute:20ms' -- "$PROBES/tracecall" calls:10
	assert_success
	elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
	[ "$elapsed" -ge 200 ] || fail "10 calls 20 ms slower took $elapsed ms in all"

	run --separate-stderr sandboxed --fault 'nvmlDeviceGetCount*:error=NVML_ERROR_UNKNOWN:nth=1' -- \
		"$PROBES/nvmlview" init count count
	assert_success
	assert_line --index 1 "count v1=-999 v2=1"
	assert_line --index 2 "count v1=1 v2=1"
}

@test "nothing changes without --fault; with one, only the slots it matches are hooked" {
	local req=procaddr:cuDeviceGetAttribute:12000:0
	run --separate-stderr sandboxed -- sh -c 'ls "$1"' sh "$RUN"
	assert_success
	refute_line faults
	run --separate-stderr sandboxed --fault "$OOM" -- sh -c 'ls "$1"' sh "$RUN"
	assert_success
	assert_line faults
	run --separate-stderr sandboxed --fault "$OOM" -- "$PROBES/shimcall" lower="$RUN/driver/lower:libcuda.so.1" "$req"
	assert_success
	assert_output "procaddr cuDeviceGetAttribute 12000 0 rc=0 status=0 ptr=lower:cuDeviceGetAttribute"
	run --separate-stderr sandboxed --fault 'cuDeviceGetAttribute:error=CUDA_ERROR_UNKNOWN:nth=99' -- \
		"$PROBES/shimcall" lower="$RUN/driver/lower:libcuda.so.1" "$req"
	assert_success
	assert_output "procaddr cuDeviceGetAttribute 12000 0 rc=0 status=0 ptr=other"
}

@test "bad fault specs and rules: one line naming the spec (or file and line), exit 125" {
	run --separate-stderr sandboxed --fault 'cuNoSuchThing*:error=CUDA_ERROR_UNKNOWN' -- true
	assert_one_error_line 125 "--fault 'cuNoSuchThing*:error=CUDA_ERROR_UNKNOWN'" "matches no function libcuda.so.1 exports"
	run --separate-stderr sandboxed --fault 'nvmlNope:error=NVML_ERROR_UNKNOWN' -- true
	assert_one_error_line 125 "--fault 'nvmlNope:error=NVML_ERROR_UNKNOWN'" "libnvidia-ml.so.1"
	run --separate-stderr sandboxed --fault 'cuMemAlloc*:error=CUDA_ERROR_NO_SUCH_ERROR' -- true
	assert_one_error_line 125 "--fault 'cuMemAlloc*:error=CUDA_ERROR_NO_SUCH_ERROR'" "unknown error name 'CUDA_ERROR_NO_SUCH_ERROR'"
	run --separate-stderr sandboxed --fault 'cuMemAlloc*:error=CUDA_ERROR_OUT_OF_MEMORY:nth=-3' -- true
	assert_one_error_line 125 "--fault 'cuMemAlloc*:error=CUDA_ERROR_OUT_OF_MEMORY:nth=-3'" "negative count '-3'"
	run --separate-stderr sandboxed --fault 'oom-after=lots' -- true
	assert_one_error_line 125 "--fault 'oom-after=lots'" "oom-after:"
	run --separate-stderr sandboxed --fault
	assert_one_error_line 125 "option '--fault' needs a value"
	printf '[gpu]\ndevice = emulated\n\n[fault]\nfunction = cuNope\nerror = CUDA_ERROR_UNKNOWN\n' >"$BATS_TEST_TMPDIR/p.conf"
	run --separate-stderr sandboxed -p "$BATS_TEST_TMPDIR/p.conf" -- true
	assert_one_error_line 125 "p.conf:4: [fault] function: 'cuNope' matches no function libcuda.so.1 exports"
	printf '[fault]\nfunction = cuInit\nerror = CUDA_ERROR_UNKNOWN\nevery = -1\n' >"$BATS_TEST_TMPDIR/p.conf"
	run --separate-stderr sandboxed -p "$BATS_TEST_TMPDIR/p.conf" -- true
	assert_one_error_line 125 "p.conf:4: [fault] every: negative count '-1'"
}

@test "examples/adhoc: the three recipes run and say what they found" {
	local ex="$BATS_TEST_DIRNAME/../../examples/adhoc"
	cd "$BATS_TEST_TMPDIR"
	export VGPU_RUN=$VGPU
	run --separate-stderr env OOM_AT=1M "$ex/oom-at-2g.sh" "$PROBES/tracecall" alloc:524288 alloc:2097152
	assert_success
	assert_output "alloc rc=0 free=0
alloc rc=2 free=-1"
	[[ $stderr == *'"fn":"cuMemAlloc_v2","result":"CUDA_ERROR_OUT_OF_MEMORY"'* ]] || fail "stderr: $stderr"
	run --separate-stderr "$ex/startup-calls.sh" "$PROBES/tracecall" calls:2
	assert_success
	assert_line --partial " cuInit CUDA_SUCCESS "
	assert_line --regexp ' 2 +0 cuDeviceGetAttribute$'
	run --separate-stderr env LOST_AFTER=0 "$ex/lost-device.sh" "$PROBES/tracecall" calls:2
	assert_failure 1
	[[ $stderr == *"cuInit"* ]] || fail "stderr: $stderr"
}

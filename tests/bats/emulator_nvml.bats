#!/usr/bin/env bats
#
# The emulator's libnvidia-ml.so.1 under real clients, loaded directly (no vgpu-run):
# LD_LIBRARY_PATH points the loader at $VGPU_PREFIX/lib/vgpu/emulator, and the emulated
# machine comes from VGPU_EMULATOR_DEVICES / VGPU_EMULATOR_DRIVER_VERSION.
#   - pynvml (PyPI nvidia-ml-py): tests/peers/nvml_pynvml.py, one check per test;
#     skipped, never passed, where it is not installed;
#   - a C program loading the library as nvml.h clients do: tests/peers/nvml_client.c,
#     compiled here with the system's C compiler;
#   - tests/probes/nvmlview.c (zig build tests) for topology, accounting pids and process
#     utilization.
# No nvidia-smi is involved: this machine has none, and the emulator ships none.

bats_require_minimum_version 1.5.0

setup_file() {
	load helpers
	export EMULATOR_DIR="$VGPU_PREFIX/lib/vgpu/emulator"
	local top
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export PEERS="$top/tests/peers"
	export NVML_CLIENT="$BATS_FILE_TMPDIR/nvml_client"
	# A compiler failure is reported by the tests that need the program.
	${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -O1 -o "$NVML_CLIENT" "$PEERS/nvml_client.c" \
		-ldl -pthread >"$BATS_FILE_TMPDIR/cc.log" 2>&1 || rm -f "$NVML_CLIENT"
	# The Python that has pynvml: VGPU_TEST_PYTHON, python3 on PATH, /usr/bin/python3.
	export NVML_PYTHON=
	local py
	for py in ${VGPU_TEST_PYTHON:-} python3 /usr/bin/python3; do
		if command -v "$py" >/dev/null && "$py" -c 'import pynvml' 2>/dev/null; then
			NVML_PYTHON=$(command -v "$py")
			break
		fi
	done
}

setup() {
	load helpers
	[ -f "$EMULATOR_DIR/libnvidia-ml.so.1" ] || fail "missing $EMULATOR_DIR/libnvidia-ml.so.1: build with 'zig build'"
}

# emu [VAR=VALUE...] CMD...: runs CMD against the emulator, one H200 and driver 13.0
# unless the assignments say otherwise.
emu() {
	env -u VGPU_EMULATOR_DEVICES -u VGPU_EMULATOR_DRIVER_VERSION \
		LD_LIBRARY_PATH="$EMULATOR_DIR" EMULATOR_DIR="$EMULATOR_DIR" "$@"
}

# pynvml_check CHECK [VAR=VALUE...]: one check of nvml_pynvml.py, which must end "all held".
pynvml_check() {
	local check=$1
	shift
	[ -n "$NVML_PYTHON" ] || skip "nvidia-ml-py not installed"
	run emu "$@" "$NVML_PYTHON" "$PEERS/nvml_pynvml.py" "$check"
	echo "$output"
	[ "$status" -eq 0 ] || fail "nvml_pynvml.py $check failed (status $status)"
	[ "${lines[-1]}" = "all held" ] || fail "nvml_pynvml.py $check did not finish"
}

# client MODE [VAR=VALUE...]: nvml_client MODE; every line "ok - ...", at least one.
client() {
	local mode=$1
	shift
	[ -x "$NVML_CLIENT" ] || fail "tests/peers/nvml_client.c did not compile: $(cat "$BATS_FILE_TMPDIR/cc.log")"
	run --separate-stderr emu "$@" "$NVML_CLIENT" "$mode"
	echo "$output"
	[ "$status" -eq 0 ] || fail "nvml_client $mode failed (status $status); stderr: $stderr"
	[ "${#lines[@]}" -gt 0 ] || fail "nvml_client $mode checked nothing"
	local line
	for line in "${lines[@]}"; do
		case $line in
		'ok - '*) ;;
		*) fail "nvml_client $mode: $line" ;;
		esac
	done
}

# --- pynvml -------------------------------------------------------------------------------

@test "pynvml loads the emulator's libnvidia-ml.so.1" {
	pynvml_check loaded VGPU_EMULATOR_DEVICES=h200
}

@test "pynvml: count, names, UUIDs, serials, handles by UUID and serial (t4 + h200)" {
	pynvml_check identity VGPU_EMULATOR_DEVICES=t4,h200
}

@test "pynvml: the H200 reports what the reference H200 reports" {
	pynvml_check h200 VGPU_EMULATOR_DEVICES=h200
}

@test "pynvml: memory info v1 and v2 (total, reserved, free, used)" {
	pynvml_check memory VGPU_EMULATOR_DEVICES=h200
}

@test "pynvml: CUDA allocations show in NVML's used memory and running processes (v1, v2, v3)" {
	[ -f "$EMULATOR_DIR/libcuda.so.1" ] || fail "missing $EMULATOR_DIR/libcuda.so.1"
	pynvml_check memory_cuda VGPU_EMULATOR_DEVICES=t4,h200
}

@test "pynvml: driver 13.0 is 580.159.04, NVML 13.580.159.04" {
	pynvml_check versions WANT_DRIVER=580.159.04
}

@test "pynvml: driver 12.8 (VGPU_EMULATOR_DRIVER_VERSION=12080) is a 570 driver" {
	pynvml_check versions VGPU_EMULATOR_DRIVER_VERSION=12080 WANT_CUDA=12080 WANT_DRIVER=570.172.08
}

@test "pynvml: PCI info and handles by PCI bus id in every accepted form" {
	pynvml_check pci VGPU_EMULATOR_DEVICES=t4,h200
}

@test "pynvml: every profile (name, compute capability, architecture, brand, cores, MIG, fans, power)" {
	pynvml_check profiles VGPU_EMULATOR_DEVICES=h200,h100-80gb,a100-80gb,l4,t4,rtx-4090
}

@test "pynvml: errors (uninitialised, bad index, unknown UUID and serial, version mismatch)" {
	pynvml_check errors VGPU_EMULATOR_DEVICES=h200
}

# --- the C client ---------------------------------------------------------------------------

@test "C client: nvmlInit, nvmlInit_v2, nvmlInitWithFlags, nvmlShutdown are reference counted" {
	client lifecycle VGPU_EMULATOR_DEVICES=h200,t4
}

@test "C client: invalid handles, indices, NULL outputs, short buffers, versions, lookups" {
	client errors VGPU_EMULATOR_DEVICES=h200,t4
}

@test "C client: nvmlErrorString for every code" {
	client strings
}

@test "C client: 16 threads initialise, query and shut down at once" {
	client threads VGPU_EMULATOR_DEVICES=h200,t4
}

@test "C client: no GPUs: nvmlInit fails with GPU_NOT_FOUND unless NVML_INIT_FLAG_NO_GPUS" {
	client nogpu VGPU_EMULATOR_DEVICES=none
}

@test "C client: an unusable configuration: nvmlInit fails and says why on stderr" {
	client badconfig VGPU_EMULATOR_DEVICES=no-such-gpu
	[ "${#stderr_lines[@]}" -eq 1 ] || fail "expected one line on stderr, got: $stderr"
	[[ $stderr == *"vgpu emulator: NVML cannot start: "*"no-such-gpu"* ]] || fail "stderr: $stderr"
}

# --- topology, accounting pids, process utilization (tests/probes/nvmlview.c) ------------

@test "topology: a GPU's nearest GPUs are all the others at NVML_TOPOLOGY_SYSTEM, none nearer; a CPU's GPUs are all; no units" {
	[ -x "$PROBES/nvmlview" ] || fail "missing $PROBES/nvmlview: build with 'zig build tests'"
	local cpus
	cpus=$(getconf _NPROCESSORS_CONF)
	run --separate-stderr emu VGPU_EMULATOR_DEVICES=h200,t4,l4 "$PROBES/nvmlview" init \
		nearest:0:50 nearest:2:50 nearest:0:40 nearest:0:30 nearest:0:20 nearest:0:10 nearest:0:0 nearest:0:7 \
		gpuset:0 gpuset:$((cpus - 1)) gpuset:$cpus units
	echo "$output"
	assert_success
	[ "${#stderr}" -eq 0 ] || fail "stderr: $stderr"
	# By the count protocol (count 0 asks; one too few is INSUFFICIENT_SIZE with the count).
	assert_line "nearest 0 50 rc=0 count=2 proto=ok idx=1,2"
	assert_line "nearest 2 50 rc=0 count=2 proto=ok idx=0,1"
	local level
	for level in 40 30 20 10 0; do
		assert_line "nearest 0 $level rc=0 count=0 proto=ok idx="
	done
	# Not a topology level: NVML_ERROR_INVALID_ARGUMENT.
	assert_line --regexp '^nearest 0 7 rc=2 '
	assert_line "gpuset 0 rc=0 count=3 proto=ok idx=0,1,2"
	assert_line "gpuset $((cpus - 1)) rc=0 count=3 proto=ok idx=0,1,2"
	assert_line --regexp "^gpuset $cpus rc=2 "
	# No S-class unit: nvmlUnitGetDevices has no valid unit to answer for.
	assert_line "units rc=0 count=0 devices_rc=2"
}

@test "accounting pids and process utilization (both forms): the processes with a context on the GPU, 0 %, stamped; none after lastSeenTimeStamp" {
	[ -f "$EMULATOR_DIR/libcuda.so.1" ] || fail "missing $EMULATOR_DIR/libcuda.so.1"
	[ -x "$PROBES/nvmlview" ] || fail "missing $PROBES/nvmlview: build with 'zig build tests'"
	run --separate-stderr emu VGPU_EMULATOR_DEVICES=t4,h200 "$PROBES/nvmlview" init acct:1 util:1 utilinfo:1 \
		alloc:1:1048576 pid acct:0 acct:1 util:0 util:1 utilinfo:0 utilinfo:1
	echo "$output"
	assert_success
	[ "${#stderr}" -eq 0 ] || fail "stderr: $stderr"
	local pid
	pid=$(sed -n 's/^pid //p' <<<"$output")
	[ -n "$pid" ] || fail "no pid"
	# Before the context: nobody; no sample is NVML_ERROR_NOT_FOUND (6).
	assert_line "acct 1 rc=0 count=0 proto=ok pids="
	assert_line "util 1 rc=6 count=0 proto=ok zero=yes ts=ok later=6 pids="
	assert_line "utilinfo 1 rc=6 count=0 proto=ok zero=yes ts=ok later=6 pids="
	assert_line "alloc 1 1048576 rc=0"
	# After: this process on GPU 1 only, by the infoCount protocol; its sample is 0 %
	# everywhere with a time stamp, and none is newer than an hour after it.
	assert_line "acct 0 rc=0 count=0 proto=ok pids="
	assert_line "acct 1 rc=0 count=1 proto=ok pids=$pid"
	assert_line "util 0 rc=6 count=0 proto=ok zero=yes ts=ok later=6 pids="
	assert_line "util 1 rc=0 count=1 proto=ok zero=yes ts=ok later=6 pids=$pid"
	assert_line "utilinfo 0 rc=6 count=0 proto=ok zero=yes ts=ok later=6 pids="
	assert_line "utilinfo 1 rc=0 count=1 proto=ok zero=yes ts=ok later=6 pids=$pid"
}

@test "the library exports every NVML function of driver 580.159.04, and only those" {
	local want got
	want=$(grep -v '^#' "$BATS_TEST_DIRNAME/../../emulator/data/libnvidia-ml.exports" | grep . | sort)
	got=$(nm -D --defined-only "$EMULATOR_DIR/libnvidia-ml.so.1" | awk '$2 == "T" || $2 == "W" { print $3 }' | sort)
	[ "$got" = "$want" ] || fail "exports differ: $(diff <(echo "$want") <(echo "$got") | head -20)"
}

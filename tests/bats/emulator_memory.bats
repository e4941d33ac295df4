#!/usr/bin/env bats
# The emulator's memory side (allocations, copies, memset, host memory, pointer
# attributes, streams, events, VMM, pools, modules, launches, capacity) used directly:
# LD_LIBRARY_PATH leads to $VGPU_PREFIX/lib/vgpu/emulator/libcuda.so.1.
#
#   - tests/peers/emu_driver_memory.c (C, the toolkit's cuda.h): driver API checks per
#     area; modules are loaded from images nvcc makes of tests/peers/emu_kernels.cu
#     (cubin, fatbin raw / LZ4 / zstd, PTX);
#   - tests/peers/emu_copy_checks.c (C, cuda.h): the answers to copies and memsets at
#     the edges, compared with tests/peers/reference/emu_copy_checks.txt;
#   - tests/peers/emu_cudart_memory.cu with NVIDIA's libcudart 13 (nvcc, shared and
#     static) and libcudart 12 (PyPI nvidia-cuda-runtime-cu12, g++, shared and static):
#     what a CUDA program sees;
#   - under vgpu-run --emulate: memory in use is shared by the processes of a sandbox,
#     and a killed process's share goes with it.
# Each program prints "ok - ..." / "not ok - ..." per check.  Without the CUDA toolkit
# ($CUDA_HOME, default /usr/local/cuda) or cudart 12 the tests that need them skip.

bats_require_minimum_version 1.5.0

setup_file() {
	: "${VGPU_PREFIX:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/zig-out}"
	export VGPU_PREFIX
	export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
	export EMU="$VGPU_PREFIX/lib/vgpu/emulator"
	export BIN="$BATS_FILE_TMPDIR"
	local repo peers
	repo="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	peers="$repo/tests/peers"
	[ -f "$EMU/libcuda.so.1" ] || return 0
	if command -v cc >/dev/null && [ -f "$CUDA_HOME/include/cuda.h" ]; then
		cc -std=gnu11 -O1 -Wall -Wno-deprecated-declarations -I"$CUDA_HOME/include" \
			-o "$BIN/driver_memory" "$peers/emu_driver_memory.c" "$EMU/libcuda.so.1" -ldl \
			2>"$BIN/driver_memory.log" || true
		cc -std=gnu11 -O1 -Wall -Wno-deprecated-declarations -I"$CUDA_HOME/include" \
			-o "$BIN/copy_checks" "$peers/emu_copy_checks.c" "$EMU/libcuda.so.1" -lpthread \
			2>"$BIN/copy_checks.log" || true
	fi
	if [ -z "${CUDART12_DIR:-}" ]; then
		local py
		for py in python3 "${PYTHON:-/usr/bin/python3}"; do
			CUDART12_DIR=$("$py" -c 'import nvidia.cuda_runtime as m; print(list(m.__path__)[0])' 2>/dev/null) && break
		done
	fi
	export CUDART12_DIR
	if [ -n "$CUDART12_DIR" ] && [ -f "$CUDART12_DIR/lib/libcudart.so.12" ] && command -v g++ >/dev/null; then
		local c12=(g++ -x c++ -O1 -I"$CUDART12_DIR/include" -I"$CUDA_HOME/include" -o)
		"${c12[@]}" "$BIN/cudart12_shared" "$peers/emu_cudart_memory.cu" -x none \
			"$CUDART12_DIR/lib/libcudart.so.12" -lpthread 2>"$BIN/cudart12_shared.log" &
		"${c12[@]}" "$BIN/cudart12_static" "$peers/emu_cudart_memory.cu" -x none \
			"$CUDART12_DIR/lib/libcudart_static.a" -lpthread -ldl -lrt 2>"$BIN/cudart12_static.log" &
	fi
	if [ -x "$CUDA_HOME/bin/nvcc" ]; then
		local nvcc="$CUDA_HOME/bin/nvcc" k="$peers/emu_kernels.cu" arch="-gencode arch=compute_90,code=[sm_90,compute_90]"
		mkdir -p "$BIN/images"
		# shellcheck disable=SC2086
		{
			"$nvcc" -cubin -arch=sm_90 -o "$BIN/images/emu_kernels.cubin" "$k" &&
				"$nvcc" -ptx -arch=sm_90 -o "$BIN/images/emu_kernels.ptx" "$k" &&
				"$nvcc" -fatbin $arch -o "$BIN/images/emu_kernels.fatbin" "$k" &&
				"$nvcc" -fatbin $arch --compress-mode=speed -Xfatbin -compress-all \
					-o "$BIN/images/emu_kernels_lz4.fatbin" "$k" &&
				"$nvcc" -fatbin $arch -Xfatbin -compress-all -o "$BIN/images/emu_kernels_zstd.fatbin" "$k"
		} 2>"$BIN/images.log" || rm -f "$BIN/images/emu_kernels.cubin" &
		"$nvcc" -cudart shared -o "$BIN/cudart13_shared" "$peers/emu_cudart_memory.cu" 2>"$BIN/cudart13_shared.log" &
		"$nvcc" -cudart static -o "$BIN/cudart13_static" "$peers/emu_cudart_memory.cu" 2>"$BIN/cudart13_static.log" &
	fi
	wait
}

setup() {
	load helpers
	[ -f "$EMU/libcuda.so.1" ] || fail "missing $EMU/libcuda.so.1: build with 'zig build'"
}

# Runs a built program against the emulator (and the toolkits' libcudart).
emu() {
	env LD_LIBRARY_PATH="$EMU:$CUDA_HOME/lib64${CUDART12_DIR:+:$CUDART12_DIR/lib}" "$@"
}

need() { # PROGRAM: built in setup_file, or skip / fail
	local p=$1
	if [ -x "$BIN/$p" ]; then return 0; fi
	case $p in
	cudart12_*)
		[ -n "$CUDART12_DIR" ] && [ -f "$CUDART12_DIR/lib/libcudart.so.12" ] ||
			skip "no libcudart 12 (PyPI nvidia-cuda-runtime-cu12; or set CUDART12_DIR)"
		command -v g++ >/dev/null || skip "no C++ compiler (g++)"
		;;
	cudart13_*) [ -x "$CUDA_HOME/bin/nvcc" ] || skip "no nvcc at $CUDA_HOME/bin (CUDA toolkit 13 not installed)" ;;
	driver_memory | copy_checks)
		[ -f "$CUDA_HOME/include/cuda.h" ] || skip "no cuda.h at $CUDA_HOME/include (CUDA toolkit not installed)"
		command -v cc >/dev/null || skip "no C compiler (cc)"
		;;
	esac
	fail "building $p failed: $(cat "$BIN/$p.log" 2>/dev/null)"
}

need_images() {
	[ -x "$CUDA_HOME/bin/nvcc" ] || skip "no nvcc at $CUDA_HOME/bin: no kernel images to load"
	[ -f "$BIN/images/emu_kernels.cubin" ] || fail "nvcc could not make the kernel images: $(cat "$BIN/images.log")"
}

# Runs PROGRAM ARG... and asserts that its checks ran and all passed.  Exit status 77
# (the emulator, or cudart on it, does not initialise) is a failure: on this machine
# nothing else can be missing once the program was built.
# Under vgpu-run with the installed shim in front of the emulator; LD_LIBRARY_PATH
# only finds the cudart libraries (the driver is found the ordinary way).
in_sandbox() {
	"$VGPU" --emulate=h200 -- env LD_LIBRARY_PATH="$CUDA_HOME/lib64${CUDART12_DIR:+:$CUDART12_DIR/lib}" "$@"
}

checks() { # [RUNNER=emu|in_sandbox] PROGRAM CHECK...
	run --separate-stderr "${RUNNER:-emu}" "$@"
	if [ "$status" -eq 77 ]; then
		fail "it does not initialise: $(printf '%s' "$output" | tail -n 1)"
	fi
	if [ "$status" -ne 0 ] || grep -q '^not ok' <<<"$output"; then
		fail "$(printf 'status %s\n%s\nstderr: %s' "$status" "$(grep -v '^ok' <<<"$output")" "$stderr")"
	fi
	local n
	n=$(grep -c '^ok - ' <<<"$output" || true)
	[ "$n" -ge 3 ] || fail "only $n checks ran: $output"
}

# --- driver API -------------------------------------------------------------------------------

@test "driver: cuMemAlloc (v2 and the 32-bit original), free, pitch, info, address ranges" {
	need driver_memory
	checks "$BIN/driver_memory" alloc
}

@test "driver: copies and memsets at the edges answer as recorded (freed, past the end, registered, VMM access, other threads, contexts gone)" {
	need copy_checks
	run --separate-stderr emu "$BIN/copy_checks"
	assert_success
	diff <(printf '%s\n' "$output") "$BATS_TEST_DIRNAME/../peers/reference/emu_copy_checks.txt" ||
		fail "the emulator's answers changed (left: now, right: tests/peers/reference/emu_copy_checks.txt)"
}

@test "driver: random bytes round trip H2D/D2D/D2H, sync and async on every stream handle; bad ranges fail cleanly" {
	need driver_memory
	checks "$BIN/driver_memory" copy
}

@test "driver: memset 8/16/32, async and 2D, alignment and range checks" {
	need driver_memory
	checks "$BIN/driver_memory" memset
}

@test "driver: 2D and 3D copies with pitches" {
	need driver_memory
	checks "$BIN/driver_memory" 2d3d
}

@test "driver: page-locked host memory, registration, managed memory" {
	need driver_memory
	checks "$BIN/driver_memory" host
}

@test "driver: pointer attributes of device, pinned and unknown memory" {
	need driver_memory
	checks "$BIN/driver_memory" pointer
}

@test "driver: streams (priorities, flags, ids, callbacks, default handles)" {
	need driver_memory
	checks "$BIN/driver_memory" streams
}

@test "driver: events and elapsed time" {
	need driver_memory
	checks "$BIN/driver_memory" events
}

@test "driver: VMM as ggml uses it (reserve, create, map side by side, access, alias, unmap, release)" {
	need driver_memory
	checks "$BIN/driver_memory" vmm
}

@test "driver: stream-ordered allocation and memory pools" {
	need driver_memory
	checks "$BIN/driver_memory" pools
}

@test "driver: capacity is the profile's memory; most of an H200 allocates untouched on this machine" {
	need driver_memory
	checks "$BIN/driver_memory" capacity
}

@test "driver: an 80 GB profile (h100-80gb) allocates 64 GB untouched, and not more than 80 GB" {
	need driver_memory
	checks env VGPU_EMULATOR_DEVICES=h100-80gb "$BIN/driver_memory" capacity
	assert_output --regexp 'ok - [0-9]+ bytes \(6[0-9] GB\) allocated' 
}

@test "driver: two devices (t4,h200): own accounts, peer copies" {
	need driver_memory
	checks env VGPU_EMULATOR_DEVICES=t4,h200 "$BIN/driver_memory" peer
}

@test "driver: modules and libraries from cubin, fatbins (raw, LZ4, zstd) and PTX list kernels, parameters, globals" {
	need driver_memory
	need_images
	checks "$BIN/driver_memory" modules "$BIN/images"
}

@test "driver: a launch fails with CUDA_ERROR_NOT_SUPPORTED and one message per process" {
	need driver_memory
	need_images
	checks "$BIN/driver_memory" launch "$BIN/images" error
	[ "$(grep -c 'not run: the emulator does not execute GPU code' <<<"$stderr")" -eq 1 ] ||
		fail "expected the launch message exactly once on stderr, got: $stderr"
	assert_equal "$(grep 'not run' <<<"$stderr")" \
		'vgpu emulator: kernel _Z3addPiPKiidc not run: the emulator does not execute GPU code; use `launch = noop` to make launches succeed doing nothing'
}

@test "driver: under launch = noop (VGPU_EMULATOR_LAUNCH=noop) launches succeed silently" {
	need driver_memory
	need_images
	checks env VGPU_EMULATOR_LAUNCH=noop "$BIN/driver_memory" launch "$BIN/images" noop
	[ -z "$stderr" ] || fail "unexpected stderr: $stderr"
}

@test "driver + NVML in one process (outside vgpu-run): NVML sees the process's allocations" {
	need driver_memory
	checks "$BIN/driver_memory" nvml
}

# --- NVIDIA's libcudart ---------------------------------------------------------------------

cudart_checks() { # PROGRAM
	local c
	for c in meminfo roundtrip memset streams events async capacity; do
		checks "$BIN/$1" "$c"
	done
}

@test "cudart 13 (shared): meminfo, round trip, memset, streams, events, cudaMallocAsync, capacity" {
	need cudart13_shared
	cudart_checks cudart13_shared
}

@test "cudart 13 (static): meminfo, round trip, memset, streams, events, cudaMallocAsync, capacity" {
	need cudart13_static
	cudart_checks cudart13_static
}

@test "cudart 12 (shared): meminfo, round trip, memset, streams, events, cudaMallocAsync, capacity" {
	need cudart12_shared
	cudart_checks cudart12_shared
}

@test "cudart 12 (static): meminfo, round trip, memset, streams, events, cudaMallocAsync, capacity" {
	need cudart12_static
	cudart_checks cudart12_static
}

@test "cudart 13 and 12: a kernel launch returns cudaErrorNotSupported (801), and succeeds under launch = noop" {
	local p
	for p in cudart13_shared cudart13_static cudart12_shared cudart12_static; do
		need "$p"
		checks "$BIN/$p" launch error
		assert_output --partial "kernel launch returns 801 cudaErrorNotSupported"
		[ "$(grep -c 'not run: the emulator' <<<"$stderr")" -eq 1 ] || fail "$p: launch message not once: $stderr"
		checks env VGPU_EMULATOR_LAUNCH=noop "$BIN/$p" launch noop
		assert_output --partial "kernel launch returns 0 cudaSuccess"
	done
}

# --- inside vgpu-run -------------------------------------------------------------------------

@test "under vgpu-run --emulate=h200 (shim, then emulator): cudart 13 and 12, shared and static, the same checks" {
	[ -x "$VGPU" ] || fail "missing $VGPU: build with 'zig build'"
	local p ran=0
	for p in cudart13_shared cudart13_static cudart12_shared cudart12_static; do
		[ -x "$BIN/$p" ] || continue
		RUNNER=in_sandbox cudart_checks "$p"
		ran=$((ran + 1))
	done
	[ "$ran" -gt 0 ] || skip "no cudart program could be built (toolkit or PyPI cudart 12 missing)"
}

@test "under vgpu-run: a launch fails with 801, and succeeds with launch = noop in the policy (cudart 13 and 12)" {
	local p
	printf 'emulate = yes\nlaunch = noop\n' >"$BIN/noop.conf"
	for p in cudart13_shared cudart12_static; do
		need "$p"
		RUNNER=in_sandbox checks "$BIN/$p" launch error
		assert_output --partial "kernel launch returns 801 cudaErrorNotSupported"
		run --separate-stderr "$VGPU" -p "$BIN/noop.conf" -- \
			env LD_LIBRARY_PATH="$CUDA_HOME/lib64${CUDART12_DIR:+:$CUDART12_DIR/lib}" VGPU_EMULATOR_LAUNCH=error \
			"$BIN/$p" launch noop
		assert_success
		assert_output --partial "kernel launch returns 0 cudaSuccess"
	done
}

# Runs inside the sandbox: a holder process keeps 1 GiB, another sees it in use; the
# holder is killed with SIGKILL, and its share is gone.
SANDBOX_SCRIPT='
	prog=$1
	coproc H { exec "$prog" hold 1024; }
	read -r line <&"${H[0]}"
	echo "holder: $line"
	"$prog" used | grep "^used"
	kill -9 "$H_PID"
	wait "$H_PID" 2>/dev/null
	"$prog" used | grep "^used"
'

@test "vgpu-run --emulate: memory in use is shared by a sandbox's processes; a killed process's share goes" {
	need driver_memory
	[ -x "$VGPU" ] || fail "missing $VGPU: build with 'zig build'"
	# stderr apart: bash may report the holder's death ("Killed") at any moment.
	run --separate-stderr "$VGPU" --emulate=h200 -- bash -c "$SANDBOX_SCRIPT" sandbox "$BIN/driver_memory"
	assert_success
	assert_line --index 0 --partial "holder: held"
	assert_line --index 1 "used 1024 MiB"
	assert_line --index 2 "used 0 MiB"
}

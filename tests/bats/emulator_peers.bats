#!/usr/bin/env bats
# Real clients that nobody here wrote, against the emulator: directly (LD_LIBRARY_PATH
# leads the loader to $VGPU_PREFIX/lib/vgpu/emulator, VGPU_EMULATOR_DEVICES picks the
# GPUs) and under vgpu-run (its own shim in front, the emulator as the lower driver, the
# GPUs from the policy: --emulate=h200, --gpu emulated:t4 --gpu emulated:h200; no
# LD_LIBRARY_PATH, the loader's default search finds libcuda.so.1).
#
#   - PyPI cuda-bindings and cuda-core: tests/peers/cuda_python.py (device discovery,
#     attributes, memory round trips);
#   - PyPI numba-cuda: tests/peers/numba_peer.py (numba.cuda.detect(), to_device /
#     copy_to_host round trips; no kernels);
#   - PyPI nvidia-ml-py: tests/peers/pynvml_gpus.py (count, names, UUIDs, memory,
#     processes, agreement with CUDA);
#   - Ollama's discovery sequences replayed in C: tests/peers/ollama_discovery.c, built
#     here with cc (dlopen only, no link against libcuda or NVML).
# The Python packages are what tools/setup installs; a test whose package is missing
# skips and says which.  Under vgpu-run each test also checks which libraries the client
# really mapped (the emulator behind the shim), and that outside vgpu-run the same
# program finds no GPU at all on this machine.

bats_require_minimum_version 1.5.0

# The profiles' figures: name, compute capability, multiprocessors, CUDA total memory
# (cuDeviceTotalMem), NVML total memory (with the driver's reservation).  h200 is the
# real H200 of shared/reference/h200; t4 the public Tesla T4 figures.
H200_NAME="NVIDIA H200" H200_CC=9.0 H200_SMS=132 H200_TOTAL=150109880320 H200_NVML_TOTAL=150754820096
T4_NAME="Tesla T4" T4_CC=7.5 T4_SMS=40 T4_TOTAL=15835594752 T4_NVML_TOTAL=16106127360

# The first Python (VGPU_TEST_PYTHON, python3 on PATH, /usr/bin/python3) that has all
# the modules named; empty when none has.  find_spec only: importing numba is slow.
find_python() { # MODULE...
	local py mods
	mods=$(printf '"%s",' "$@")
	for py in ${VGPU_TEST_PYTHON:-} python3 /usr/bin/python3; do
		py=$(command -v "$py") || continue
		if "$py" -c "import importlib.util as u, sys
sys.exit(0 if all(u.find_spec(m) for m in ($mods)) else 1)" 2>/dev/null; then
			echo "$py"
			return 0
		fi
	done
}

setup_file() {
	load helpers
	export EMU="$VGPU_PREFIX/lib/vgpu/emulator"
	# Paths as /proc/self/maps shows them.
	EMU_REAL=$(readlink -f "$EMU") PREFIX_REAL=$(readlink -f "$VGPU_PREFIX")
	export EMU_REAL PREFIX_REAL
	export BIN="$BATS_FILE_TMPDIR"
	export PEERS
	PEERS="$(cd "$BATS_TEST_DIRNAME/../peers" && pwd)"
	if command -v "${CC:-cc}" >/dev/null; then
		"${CC:-cc}" -std=gnu11 -Wall -Wextra -Werror -O1 -o "$BIN/ollama_discovery" \
			"$PEERS/ollama_discovery.c" -ldl >"$BIN/ollama_discovery.log" 2>&1 || rm -f "$BIN/ollama_discovery"
	fi
	BINDINGS_PY=$(find_python cuda.bindings)
	CORE_PY=$(find_python cuda.core cuda.bindings numpy)
	NUMBA_PY=$(find_python numba numba_cuda numpy cuda.bindings)
	NVML_PY=$(find_python pynvml)
	export BINDINGS_PY CORE_PY NUMBA_PY NVML_PY
	# Does this machine have an NVIDIA driver of its own?  (Then "no GPU outside
	# vgpu-run" cannot be checked, and the shim sits over that driver's path.)
	HOST_DRIVER=
	if ldconfig -p 2>/dev/null | grep -Eq 'lib(cuda|nvidia-ml)\.so'; then HOST_DRIVER=1; fi
	export HOST_DRIVER
}

setup() {
	load helpers
	[ -f "$EMU/libcuda.so.1" ] && [ -f "$EMU/libnvidia-ml.so.1" ] ||
		fail "missing the emulator in $EMU: build with 'zig build'"
}

# emu [VAR=VALUE...] CMD...: CMD against the emulator directly, one H200 and driver 13.0
# unless the assignments say otherwise.
emu() {
	env -u VGPU_EMULATOR_DEVICES -u VGPU_EMULATOR_DRIVER_VERSION -u VGPU_EMULATOR_LAUNCH \
		LD_LIBRARY_PATH="$EMU" "$@"
}

# sandboxed VGPU-RUN-OPTION... -- CMD...: CMD under vgpu-run (the installed shim and
# emulator), with no LD_LIBRARY_PATH and no emulator variables.
sandboxed() {
	[ -x "$VGPU" ] || fail "missing $VGPU: build with 'zig build'"
	env -u LD_LIBRARY_PATH -u VGPU_EMULATOR_DEVICES -u VGPU_EMULATOR_DRIVER_VERSION \
		-u VGPU_EMULATOR_LAUNCH "$VGPU" "$@"
}

# need_python VAR PACKAGE: skips unless find_python found a Python for it (in VAR).
need_python() {
	[ -n "${!1}" ] || skip "$2 not installed (PyPI; tools/setup installs it)"
}

# After `run` of a peer script: it ran to "done" with no failed check; its exit status 77
# (an import failed) skips with the script's reason.
ran_to_done() {
	echo "$output"
	if [ "$status" -eq 77 ]; then skip "$output"; fi
	[ "$status" -eq 0 ] || fail "exit status $status"
	assert_line "done"
	refute_line --partial "FAIL"
}

# The client mapped the emulator's libcuda itself (direct runs).
mapped_direct() {
	assert_line "lib $EMU_REAL/libcuda.so.1"
	[ "$(grep -c '^lib .*/libcuda\.so' <<<"$output")" -eq 1 ] || fail "more than one libcuda mapped"
}

# Under vgpu-run: the emulator is mapped from the runtime dir's driver/, behind a shim
# (a second libcuda), and never from the emulator's install dir.
mapped_sandboxed() {
	assert_line "lib $PREFIX_REAL/lib/vgpu/run/driver/lower:libcuda.so.1"
	refute_line "lib $EMU_REAL/libcuda.so.1"
	# (the runtime dir's copy is named lower:libcuda.so.1)
	[ "$(grep -c '^lib .*[/:]libcuda\.so' <<<"$output")" -eq 2 ] ||
		fail "expected the shim and the emulator mapped, two libcuda"
}

# The discovery facts of cuda_python.py for device INDEX of a profile.
bindings_device() { # INDEX PROFILE PCI
	local p=${2^^}
	local name=${p}_NAME cc=${p}_CC sms=${p}_SMS total=${p}_TOTAL
	assert_line --regexp "^device $1 name=${!name} cc=${!cc} sms=${!sms} total=${!total} uuid=[0-9a-f]{32} pci=$3\$"
	assert_line --regexp "^roundtrip $1 ok bytes=4194304 total=${!total} "
}

# --- cuda-bindings ------------------------------------------------------------------------

@test "cuda-bindings, emulator directly: one H200 (name, cc 9.0, 132 SMs, memory), memory round trip" {
	need_python BINDINGS_PY cuda-bindings
	run emu VGPU_EMULATOR_DEVICES=h200 "$BINDINGS_PY" "$PEERS/cuda_python.py" bindings
	ran_to_done
	assert_line "driver 13000"
	assert_line "count 1"
	bindings_device 0 h200 0000:01:00.0
	mapped_direct
}

@test "cuda-bindings, vgpu-run --emulate=h200: the same H200 through the shim; none outside" {
	need_python BINDINGS_PY cuda-bindings
	run sandboxed --emulate=h200 -- "$BINDINGS_PY" "$PEERS/cuda_python.py" bindings
	ran_to_done
	assert_line "driver 13000"
	assert_line "count 1"
	bindings_device 0 h200 0000:01:00.0
	mapped_sandboxed
	if [ -z "$HOST_DRIVER" ]; then
		run env -u LD_LIBRARY_PATH "$BINDINGS_PY" "$PEERS/cuda_python.py" bindings
		assert_failure
		refute_line "done"
	fi
}

@test "cuda-bindings, vgpu-run --gpu emulated:t4 --gpu emulated:h200: each with its profile, round trips on both" {
	need_python BINDINGS_PY cuda-bindings
	run sandboxed --gpu emulated:t4 --gpu emulated:h200 -- "$BINDINGS_PY" "$PEERS/cuda_python.py" bindings
	ran_to_done
	assert_line "count 2"
	bindings_device 0 t4 0000:01:00.0
	bindings_device 1 h200 0000:02:00.0
	mapped_sandboxed
}

# --- cuda-core ----------------------------------------------------------------------------

@test "cuda.core, emulator directly: Device(0) is the H200, stream-ordered buffer round trip" {
	need_python CORE_PY cuda-core
	run emu VGPU_EMULATOR_DEVICES=h200 "$CORE_PY" "$PEERS/cuda_python.py" core
	ran_to_done
	assert_line "count 1"
	assert_line "driver (13, 0)"
	assert_line --regexp "^device 0 name=$H200_NAME cc=$H200_CC arch=90 sms=$H200_SMS uuid=[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12} pci=0000:01:00\.0\$"
	assert_line "roundtrip 0 ok bytes=4194304"
	mapped_direct
}

@test "cuda.core, vgpu-run --emulate=h200: Device(0) is the H200, stream-ordered buffer round trip" {
	need_python CORE_PY cuda-core
	run sandboxed --emulate=h200 -- "$CORE_PY" "$PEERS/cuda_python.py" core
	ran_to_done
	assert_line "count 1"
	assert_line "driver (13, 0)"
	assert_line --regexp "^device 0 name=$H200_NAME cc=$H200_CC arch=90 sms=$H200_SMS uuid=[0-9a-f-]{36} pci=0000:01:00\.0\$"
	assert_line "roundtrip 0 ok bytes=4194304"
	mapped_sandboxed
}

# --- numba-cuda ---------------------------------------------------------------------------

# What numba.cuda.detect() prints for one supported device.
detected() { # INDEX NAME CC
	assert_line --regexp "^id $1 +$2 +\[SUPPORTED\]\$"
	assert_line --regexp "^ +Compute Capability: $3\$"
}

@test "numba-cuda, emulator directly: detect() lists the H200 (cc 9.0); to_device().copy_to_host() round-trips" {
	need_python NUMBA_PY numba-cuda
	run emu VGPU_EMULATOR_DEVICES=h200 "$NUMBA_PY" "$PEERS/numba_peer.py"
	ran_to_done
	assert_line "Found 1 CUDA devices"
	detected 0 "$H200_NAME" 9.0
	assert_line --regexp $'^\t?1/1 devices are supported$'
	assert_line "detect True"
	assert_line --regexp "^device 0 name=$H200_NAME cc=9\.0 total=$H200_TOTAL free=[0-9]+\$"
	assert_line --regexp "^roundtrip 0 ok arrays=4 "
	mapped_direct
}

@test "numba-cuda, vgpu-run --emulate=h200 and with t4 + h200: detect() and round trips on every device" {
	need_python NUMBA_PY numba-cuda
	run sandboxed --emulate=h200 -- "$NUMBA_PY" "$PEERS/numba_peer.py"
	ran_to_done
	assert_line "Found 1 CUDA devices"
	detected 0 "$H200_NAME" 9.0
	assert_line "detect True"
	assert_line --regexp "^device 0 name=$H200_NAME cc=9\.0 total=$H200_TOTAL free=[0-9]+\$"
	assert_line --regexp "^roundtrip 0 ok arrays=4 "
	mapped_sandboxed

	run sandboxed --gpu emulated:t4 --gpu emulated:h200 -- "$NUMBA_PY" "$PEERS/numba_peer.py"
	ran_to_done
	assert_line "Found 2 CUDA devices"
	detected 0 "$T4_NAME" 7.5
	detected 1 "$H200_NAME" 9.0
	assert_line --regexp $'^\t?2/2 devices are supported$'
	assert_line --regexp "^device 0 name=$T4_NAME cc=7\.5 total=$T4_TOTAL free=[0-9]+\$"
	assert_line --regexp "^device 1 name=$H200_NAME cc=9\.0 total=$H200_TOTAL free=[0-9]+\$"
	assert_line --regexp "^roundtrip 0 ok "
	assert_line --regexp "^roundtrip 1 ok "
	mapped_sandboxed
}

@test "numba-cuda: a @cuda.jit kernel compiles and loads; its launch is refused (NOT_SUPPORTED), or a no-op under launch = noop" {
	need_python NUMBA_PY numba-cuda
	run --separate-stderr emu VGPU_EMULATOR_DEVICES=h200 "$NUMBA_PY" "$PEERS/numba_peer.py" launch
	ran_to_done
	assert_line "launch error CUDA_ERROR_NOT_SUPPORTED"
	assert_line "array unchanged"
	[ "$(grep -c 'not run: the emulator does not execute GPU code' <<<"$stderr")" -eq 1 ] ||
		fail "the emulator's launch message, once, on stderr; got: $stderr"

	printf 'launch = noop\n' >"$BIN/noop.policy"
	run --separate-stderr sandboxed --policy "$BIN/noop.policy" --emulate=h200 -- \
		"$NUMBA_PY" "$PEERS/numba_peer.py" launch
	ran_to_done
	assert_line "launch ok"
	assert_line "array unchanged"
}

# --- Ollama's discovery -------------------------------------------------------------------

need_ollama() {
	command -v "${CC:-cc}" >/dev/null || skip "no C compiler (cc)"
	[ -x "$BIN/ollama_discovery" ] ||
		fail "tests/peers/ollama_discovery.c did not compile: $(cat "$BIN/ollama_discovery.log")"
}

# ollama_device INDEX PROFILE PCI: what ollama_discovery printed for that device, and its
# NVML view found by the CUDA UUID.
ollama_device() {
	local i=$1 p=${2^^} pci=$3
	local name=${p}_NAME cc=${p}_CC total=${p}_TOTAL nvml_total=${p}_NVML_TOTAL
	assert_line "device $i name=${!name}"
	assert_line "device $i cc=${!cc}"
	assert_line "device $i pci=$pci"
	assert_line "device $i total=${!total}"
	assert_line --regexp "^device $i ctx_total=${!total} free=[1-9][0-9]* free_again=[1-9][0-9]*\$"
	local uuid
	uuid=$(sed -n "s/^device $i uuid=//p" <<<"$output")
	[[ $uuid =~ ^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] ||
		fail "device $i: CUDA UUID '$uuid' is not GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
	assert_line --regexp "^nvml $i uuid=$uuid total=${!nvml_total} free=[0-9]+ used=[0-9]+\$"
}

@test "Ollama's discovery, emulator directly: libcuda found by its LD_LIBRARY_PATH glob, the H200, NVML by UUID" {
	need_ollama
	run emu VGPU_EMULATOR_DEVICES=h200 "$BIN/ollama_discovery"
	echo "$output"
	assert_success
	assert_line "done"
	assert_line "candidate $EMU_REAL/libcuda.so.1"
	assert_line "cuda_lib $EMU_REAL/libcuda.so.1"
	assert_line "nvml_lib $EMU_REAL/libnvidia-ml.so.1"
	assert_line "driver 13000 (13.0)"
	assert_line "count 1"
	ollama_device 0 h200 0000:01:00.0
	assert_line "nvml_driver 580.159.04"
}

@test "Ollama's discovery, vgpu-run --emulate=h200: libcuda.so.1 by soname is the shim, the H200, NVML agrees" {
	need_ollama
	run sandboxed --emulate=h200 -- "$BIN/ollama_discovery" --soname
	echo "$output"
	assert_success
	assert_line "done"
	assert_line --regexp '^cuda_lib /.*/libcuda\.so'
	refute_line "cuda_lib $EMU_REAL/libcuda.so.1"
	refute_line "nvml_lib $EMU_REAL/libnvidia-ml.so.1"
	assert_line "driver 13000 (13.0)"
	assert_line "count 1"
	ollama_device 0 h200 0000:01:00.0
	assert_line "nvml_driver 580.159.04"
	if [ -z "$HOST_DRIVER" ]; then
		# Outside vgpu-run this machine has no libcuda.so.1 at all.
		run env -u LD_LIBRARY_PATH "$BIN/ollama_discovery" --soname
		assert_failure
		assert_line --partial "skip libcuda.so.1: dlopen:"
	fi
}

@test "Ollama's discovery, vgpu-run with t4 + h200 (and driver-version 12.8): both GPUs, each found in NVML by its UUID" {
	need_ollama
	run sandboxed --gpu emulated:t4 --gpu emulated:h200 -- "$BIN/ollama_discovery" --soname
	echo "$output"
	assert_success
	assert_line "done"
	assert_line "count 2"
	ollama_device 0 t4 0000:01:00.0
	ollama_device 1 h200 0000:02:00.0
	[ "$(sed -n 's/^device 0 uuid=//p' <<<"$output")" != "$(sed -n 's/^device 1 uuid=//p' <<<"$output")" ] ||
		fail "both devices have the same UUID"
	# An older driver, as Ollama meets on many machines: a policy file.
	printf 'driver-version = 12.8\n' >"$BIN/driver12.policy"
	run sandboxed --policy "$BIN/driver12.policy" --emulate=h200 -- "$BIN/ollama_discovery" --soname
	echo "$output"
	assert_success
	assert_line "driver 12080 (12.8)"
	assert_line --regexp '^nvml_driver 570\.'
	ollama_device 0 h200 0000:01:00.0
}

# --- nvidia-ml-py -------------------------------------------------------------------------

@test "pynvml, vgpu-run --gpu emulated:t4 --gpu emulated:h200: count, names, distinct UUIDs, memory, processes" {
	need_python NVML_PY nvidia-ml-py
	run sandboxed --gpu emulated:t4 --gpu emulated:h200 -- "$NVML_PY" "$PEERS/pynvml_gpus.py" t4 h200
	ran_to_done
	assert_line "count 2"
	assert_line --regexp "^device 0 name=$T4_NAME uuid=GPU-[0-9a-f-]{36} total=$T4_NVML_TOTAL "
	assert_line --regexp "^device 1 name=$H200_NAME uuid=GPU-[0-9a-f-]{36} total=$H200_NVML_TOTAL "
	assert_line "device 0 processes: []"
	assert_line --regexp '^device 1 processes: \[\([0-9]+, [0-9]+\)\]$'
}

@test "pynvml, emulator directly (t4,h200): the same checks" {
	need_python NVML_PY nvidia-ml-py
	run emu VGPU_EMULATOR_DEVICES=t4,h200 "$NVML_PY" "$PEERS/pynvml_gpus.py" t4 h200
	ran_to_done
	assert_line "count 2"
	assert_line --regexp "^device 0 name=$T4_NAME uuid=GPU-[0-9a-f-]{36} total=$T4_NVML_TOTAL "
	assert_line --regexp "^device 1 name=$H200_NAME uuid=GPU-[0-9a-f-]{36} total=$H200_NVML_TOTAL "
}

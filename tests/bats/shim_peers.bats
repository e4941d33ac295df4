#!/usr/bin/env bats
# Real clients that nobody here wrote see the virtual view under caps (docs/shim.md,
# "Virtual devices" and "One view"): under vgpu-run with two emulated GPUs of different
# names and caps (the policy below; the emulator is the lower driver), every client
# must see two GPUs named as the policy says, each with its cap as total memory, the
# same virtual UUIDs (not the emulator's own), allocations up to the cap and none past
# it, and memory used by another process of the sandbox.
#
#   - NVIDIA's libcudart 13 (the toolkit's nvcc, shared) and 12 (PyPI
#     nvidia-cuda-runtime-cu12, g++, shared): tests/peers/caps_cudart.cu;
#   - PyPI cuda-bindings, cuda.bindings.driver and cuda.bindings.runtime:
#     tests/peers/caps_python.py bindings / runtime;
#   - PyPI nvidia-ml-py: tests/peers/caps_python.py nvml, with a second process of the
#     sandbox holding 512 MiB (caps_python.py hold: ctypes, cuMemAlloc_v2);
#   - Ollama's discovery replay (tests/peers/ollama_discovery.c --soname), alone and
#     while another process holds memory.
# Programs are built once, in setup_file.  A missing toolkit, compiler or Python package
# skips the tests that need it and says which.  Root only (no vgpu-test-users line), as
# emulator_peers.bats: the Python packages may live where uid 65534 cannot read.

bats_require_minimum_version 1.5.0

MIB=1048576
# The policy: memory as the policy file says it, and in MiB (the peers' arguments).
T4_MEMORY=1G H200_MEMORY=3G
T4_CAP_MIB=1024 H200_CAP_MIB=3072
T4_CAP=$((T4_CAP_MIB * MIB)) H200_CAP=$((H200_CAP_MIB * MIB))
T4_NAME="Small T4" H200_NAME="Capped H200"
HOLD_MIB=512
# The prefix every physical UUID of the emulator has (seen: GPU-76677075-8392-...).
EMU_UUID_PREFIX=GPU-76677075-

# The first Python (VGPU_TEST_PYTHON, python3 on PATH, /usr/bin/python3) that has all
# the modules named; empty when none has.
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

# Prints the UUID of every CUDA device libcuda.so.1 lists, one per line (ctypes only).
UUIDS_PY='
import ctypes
c = ctypes.CDLL("libcuda.so.1")
n, d, raw = ctypes.c_int(), ctypes.c_int(), (ctypes.c_ubyte * 16)()
assert c.cuInit(0) == 0 and c.cuDeviceGetCount(ctypes.byref(n)) == 0
for i in range(n.value):
    assert c.cuDeviceGet(ctypes.byref(d), i) == 0 and c.cuDeviceGetUuid_v2(raw, d) == 0
    h = bytes(raw).hex()
    print(f"GPU-{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}")
'

setup_file() {
	load helpers
	export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
	export EMU="$VGPU_PREFIX/lib/vgpu/emulator"
	EMU_REAL=$(readlink -f "$EMU")
	export EMU_REAL
	export BIN="$BATS_FILE_TMPDIR"
	export PEERS
	PEERS="$(cd "$BATS_TEST_DIRNAME/../peers" && pwd)"
	export POLICY="$BIN/caps.conf"
	printf '%s\n' "[gpu]" "device = emulated:t4" "memory = $T4_MEMORY" "name = $T4_NAME" \
		"[gpu]" "device = emulated:h200" "memory = $H200_MEMORY" "name = $H200_NAME" >"$POLICY"

	# libcudart 12 from its PyPI wheel (nvidia/cuda_runtime/{include,lib}).
	if [ -z "${CUDART12_DIR:-}" ]; then
		local py
		for py in python3 "$PYTHON"; do
			CUDART12_DIR=$("$py" -c 'import nvidia.cuda_runtime as m; print(list(m.__path__)[0])' 2>/dev/null) && break
		done
	fi
	export CUDART12_DIR
	if [ -n "$CUDART12_DIR" ] && [ -f "$CUDART12_DIR/lib/libcudart.so.12" ] && command -v g++ >/dev/null; then
		g++ -x c++ -O1 -Wall -I"$CUDART12_DIR/include" -I"$CUDA_HOME/include" -o "$BIN/caps12" \
			"$PEERS/caps_cudart.cu" -x none "$CUDART12_DIR/lib/libcudart.so.12" -lpthread \
			>"$BIN/caps12.log" 2>&1 &
	fi
	if [ -x "$CUDA_HOME/bin/nvcc" ]; then
		"$CUDA_HOME/bin/nvcc" -cudart shared -o "$BIN/caps13" "$PEERS/caps_cudart.cu" >"$BIN/caps13.log" 2>&1 &
	fi
	if command -v "${CC:-cc}" >/dev/null; then
		"${CC:-cc}" -std=gnu11 -Wall -Wextra -Werror -O1 -o "$BIN/ollama_discovery" \
			"$PEERS/ollama_discovery.c" -ldl >"$BIN/ollama_discovery.log" 2>&1 &
	fi
	BINDINGS_PY=$(find_python cuda.bindings)
	NVML_PY=$(find_python pynvml)
	export BINDINGS_PY NVML_PY

	# The emulator's own UUIDs of these two GPUs (directly, no shim), and the virtual ones
	# through the shim (ctypes): what every client must agree on.
	env LD_LIBRARY_PATH="$EMU" VGPU_EMULATOR_DEVICES=t4,h200 "$PYTHON" -c "$UUIDS_PY" \
		>"$BIN/physical.uuids" 2>&1 || true
	sandboxed "$PYTHON" -c "$UUIDS_PY" >"$BIN/virtual.uuids" 2>&1 || true
	wait
}

setup() {
	load helpers
	[ -x "$VGPU" ] || fail "missing $VGPU: build with 'zig build'"
	[ -f "$EMU/libcuda.so.1" ] && [ -f "$EMU/libnvidia-ml.so.1" ] ||
		fail "missing the emulator in $EMU: build with 'zig build'"
}

# sandboxed CMD...: CMD under vgpu-run with the policy, no LD_LIBRARY_PATH and no
# emulator variables (the loader's default search finds libcuda.so.1: the shim).
sandboxed() {
	env -u LD_LIBRARY_PATH -u VGPU_EMULATOR_DEVICES -u VGPU_EMULATOR_DRIVER_VERSION \
		-u VGPU_EMULATOR_LAUNCH -u CUDA_VISIBLE_DEVICES "$VGPU" --policy "$POLICY" -- "$@"
}

# The virtual UUID of GPU J (policy order), the emulator's of profile J.
virtual_uuid() { sed -n "$(($1 + 1))p" "$BIN/virtual.uuids"; }
physical_uuid() { sed -n "$(($1 + 1))p" "$BIN/physical.uuids"; }

# The value of KEY=N on the line of $output that starts with "PREFIX " (first one).
value() { # PREFIX KEY
	awk -v p="$1 " -v k="$2=" 'index($0, p) == 1 {
		for (i = 1; i <= NF; i++) if (index($i, k) == 1) { print substr($i, length(k) + 1); exit }
	}' <<<"$output"
}

# Fails unless the integer A OP B (OP: -eq -le -ge -lt -gt), with WHAT in the message.
check() { # WHAT A OP B
	[[ $2 =~ ^[0-9]+$ ]] || fail "$1: '$2' is not a number"
	test "$2" "$3" "$4" || fail "$1: $2, expected $3 $4"
}

# The UUID a client printed (WHAT: the line, e.g. "device 0 uuid") is virtual GPU V's:
# the one the shim gives in CUDA, not the emulator's own.
is_virtual_uuid() { # WHAT V
	local got want phys
	got=$(sed -n "s/^$1=//p" <<<"$output" | head -n 1)
	want=$(virtual_uuid "$2")
	phys=$(physical_uuid "$2")
	[[ $want =~ ^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] ||
		fail "no virtual UUID of GPU $2 from the shim (ctypes, in setup_file): $(cat "$BIN/virtual.uuids")"
	[[ $phys == "$EMU_UUID_PREFIX"* ]] ||
		fail "no physical UUID of GPU $2 from the emulator (in setup_file): $(cat "$BIN/physical.uuids")"
	[[ $got != "$EMU_UUID_PREFIX"* && $got != "$phys" ]] || fail "$1: the emulator's own UUID $got"
	[ "$got" = "$want" ] || fail "$1: $got, expected GPU $2's virtual UUID $want"
}

# The facts of caps_cudart.cu / caps_python.py bindings|runtime for ordinal J, showing
# virtual GPU V (NAME, CAP bytes); OK and OOM: the API's names of success and of
# out-of-memory.
capped_device() { # J V NAME CAP OK OOM
	local j=$1 v=$2 name=$3 cap=$4 ok=$5 oom=$6
	assert_line "device $j name=$name"
	assert_line "device $j total=$cap"
	is_virtual_uuid "device $j uuid" "$v"
	assert_line --regexp "^device $j meminfo total=$cap free=[0-9]+\$"
	local free0
	free0=$(value "device $j meminfo" free)
	check "device $j: free memory at start" "$free0" -le "$cap"
	check "device $j: free memory at start" "$free0" -gt $((cap - 64 * MIB))
	assert_line "device $j alloc_below_cap 0 $ok"
	assert_line --regexp "^device $j meminfo_held total=$cap free=[0-9]+\$"
	check "device $j: free memory while cap - 64 MiB is allocated" "$(value "device $j meminfo_held" free)" -le $((64 * MIB))
	assert_line "device $j alloc_beyond_cap 2 $oom"
	assert_line "device $j free 0 $ok"
	assert_line "device $j alloc_over_cap 2 $oom"
	assert_line "device $j alloc_again 0 $ok"
	assert_line "device $j meminfo_after total=$cap free=$free0"
}

# After `run` of a peer: it ran to "done" with no FAIL line; exit status 77 (a package
# is missing, said on the last line) skips.
ran_to_done() {
	echo "$output"
	if [ "$status" -eq 77 ]; then skip "$(tail -n 1 <<<"$output")"; fi
	[ "$status" -eq 0 ] || fail "exit status $status"
	refute_line --partial "FAIL"
	assert_line "done"
}

# Built in setup_file, or skip (missing tool) / fail (it did not build).
need() { # PROGRAM
	local p=$1
	if [ -x "$BIN/$p" ]; then return 0; fi
	case $p in
	caps12)
		[ -n "$CUDART12_DIR" ] && [ -f "$CUDART12_DIR/lib/libcudart.so.12" ] ||
			skip "no libcudart 12 (PyPI nvidia-cuda-runtime-cu12; or set CUDART12_DIR)"
		command -v g++ >/dev/null || skip "no C++ compiler (g++)"
		;;
	caps13) [ -x "$CUDA_HOME/bin/nvcc" ] || skip "no nvcc at $CUDA_HOME/bin (CUDA toolkit 13 not installed)" ;;
	ollama_discovery) command -v "${CC:-cc}" >/dev/null || skip "no C compiler (cc)" ;;
	esac
	fail "building $p failed: $(cat "$BIN/$p.log" 2>/dev/null)"
}

need_python() { # VAR PACKAGE
	[ -n "${!1}" ] || skip "$2 not installed (PyPI; tools/setup installs it)"
}

# A cudart program under vgpu-run; LD_LIBRARY_PATH finds libcudart only.
cudart() { # [VAR=VALUE...] PROGRAM ARG...
	sandboxed env LD_LIBRARY_PATH="$CUDA_HOME/lib64${CUDART12_DIR:+:$CUDART12_DIR/lib}" "$@"
}

# --- NVIDIA's libcudart --------------------------------------------------------------------------

cudart_two_gpus() { # PROGRAM
	run cudart "$BIN/$1" "$T4_CAP_MIB" "$H200_CAP_MIB"
	ran_to_done
	assert_line "count 2"
	capped_device 0 0 "$T4_NAME" "$T4_CAP" cudaSuccess cudaErrorMemoryAllocation
	capped_device 1 1 "$H200_NAME" "$H200_CAP" cudaSuccess cudaErrorMemoryAllocation
}

cudart_visible_1() { # PROGRAM
	run cudart CUDA_VISIBLE_DEVICES=1 "$BIN/$1" "$H200_CAP_MIB"
	ran_to_done
	assert_line "count 1"
	capped_device 0 1 "$H200_NAME" "$H200_CAP" cudaSuccess cudaErrorMemoryAllocation
}

@test "cudart 13 (nvcc, shared): 2 GPUs, policy names, totalGlobalMem and cudaMemGetInfo = cap, cudaMalloc up to the cap, not past it, again after cudaFree" {
	need caps13
	cudart_two_gpus caps13
	assert_line "runtime 13000"
}

@test "cudart 12 (PyPI wheel, g++, shared): 2 GPUs, policy names, totalGlobalMem and cudaMemGetInfo = cap, cudaMalloc up to the cap, not past it, again after cudaFree" {
	need caps12
	cudart_two_gpus caps12
	assert_line --regexp '^runtime 12[0-9]{3}$'
}

@test "cudart 13 and 12, CUDA_VISIBLE_DEVICES=1: one device, Capped H200, its 3 GiB cap" {
	local p ran=()
	for p in caps13 caps12; do
		# Not built: tests 1 and 2 say why (a skip, or the build's failure).
		[ -x "$BIN/$p" ] || continue
		cudart_visible_1 "$p"
		ran+=("$p")
	done
	[ ${#ran[@]} -gt 0 ] || skip "neither cudart 13 (nvcc) nor cudart 12 (PyPI wheel + g++) program was built"
}

# --- cuda-bindings ------------------------------------------------------------------------------

@test "cuda-bindings, driver API: 2 GPUs, names, cuDeviceTotalMem and cuMemGetInfo = cap, cuMemAlloc past the cap CUDA_ERROR_OUT_OF_MEMORY; CUDA_VISIBLE_DEVICES=1" {
	need_python BINDINGS_PY cuda-bindings
	run sandboxed "$BINDINGS_PY" "$PEERS/caps_python.py" bindings "$T4_CAP_MIB" "$H200_CAP_MIB"
	ran_to_done
	assert_line "count 2"
	capped_device 0 0 "$T4_NAME" "$T4_CAP" CUDA_SUCCESS CUDA_ERROR_OUT_OF_MEMORY
	capped_device 1 1 "$H200_NAME" "$H200_CAP" CUDA_SUCCESS CUDA_ERROR_OUT_OF_MEMORY

	run sandboxed env CUDA_VISIBLE_DEVICES=1 "$BINDINGS_PY" "$PEERS/caps_python.py" bindings "$H200_CAP_MIB"
	ran_to_done
	assert_line "count 1"
	capped_device 0 1 "$H200_NAME" "$H200_CAP" CUDA_SUCCESS CUDA_ERROR_OUT_OF_MEMORY
}

@test "cuda-bindings, runtime API: 2 GPUs, names, totalGlobalMem and cudaMemGetInfo = cap, cudaMalloc past the cap cudaErrorMemoryAllocation" {
	need_python BINDINGS_PY cuda-bindings
	run sandboxed "$BINDINGS_PY" "$PEERS/caps_python.py" runtime "$T4_CAP_MIB" "$H200_CAP_MIB"
	ran_to_done
	assert_line "count 2"
	capped_device 0 0 "$T4_NAME" "$T4_CAP" cudaSuccess cudaErrorMemoryAllocation
	capped_device 1 1 "$H200_NAME" "$H200_CAP" cudaSuccess cudaErrorMemoryAllocation
}

# --- nvidia-ml-py -------------------------------------------------------------------------------

@test "pynvml: 2 GPUs, names, total = cap; used grows by what another process of the sandbox holds, on its GPU only; UUIDs = CUDA's, virtual" {
	need_python NVML_PY nvidia-ml-py
	run sandboxed "$NVML_PY" "$PEERS/caps_python.py" nvml 1 "$HOLD_MIB"
	ran_to_done
	assert_line "count 2"
	assert_line "cuda count 2"
	local j name cap what
	for j in 0 1; do
		if [ "$j" = 0 ]; then name=$T4_NAME cap=$T4_CAP; else name=$H200_NAME cap=$H200_CAP; fi
		assert_line "device $j name=$name"
		is_virtual_uuid "device $j uuid" "$j"
		is_virtual_uuid "cuda $j uuid" "$j"
		assert_line "device $j by_uuid index=$j"
		assert_line --regexp "^device $j memory_v2 total=$cap "
		# Nothing allocated yet: used 0, free = total.
		assert_line "device $j memory total=$cap free=$cap used=0"
		for what in memory_held memory_after; do
			assert_line --regexp "^device $j $what total=$cap free=[0-9]+ used=[0-9]+\$"
			check "device $j $what: free + used" \
				$(($(value "device $j $what" free) + $(value "device $j $what" used))) -eq "$cap"
		done
		# The holder has freed and gone: as at the start.
		assert_line "device $j memory_after total=$cap free=$cap used=0"
	done
	# The holder's 512 MiB on the H200, nothing more on the T4.
	assert_line --regexp "^held 1 $((HOLD_MIB * MIB)) uuid="
	is_virtual_uuid "held 1 $((HOLD_MIB * MIB)) uuid" 1
	check "device 1 (Capped H200) used while another process holds $HOLD_MIB MiB" \
		"$(value "device 1 memory_held" used)" -ge $((HOLD_MIB * MIB))
	check "device 1 (Capped H200) free while another process holds $HOLD_MIB MiB" \
		"$(value "device 1 memory_held" free)" -le $((H200_CAP - HOLD_MIB * MIB))
	assert_line "device 0 memory_held total=$T4_CAP free=$T4_CAP used=0"
	assert_line "released 1"
}

# --- Ollama's discovery -------------------------------------------------------------------------

# What ollama_discovery printed for ordinal J = virtual GPU J (NAME, CAP); free memory in
# CUDA and NVML at most FREE_MAX.
ollama_capped() { # J NAME CAP FREE_MAX
	local j=$1 name=$2 cap=$3 max=$4 f
	assert_line "device $j name=$name"
	is_virtual_uuid "device $j uuid" "$j"
	assert_line "device $j total=$cap"
	assert_line --regexp "^device $j ctx_total=$cap free=[0-9]+ free_again=[0-9]+\$"
	for f in free free_again; do
		check "device $j: cuMemGetInfo_v2 $f" "$(value "device $j ctx_total=$cap" "$f")" -le "$max"
		check "device $j: cuMemGetInfo_v2 $f" "$(value "device $j ctx_total=$cap" "$f")" -gt 0
	done
	local uuid
	uuid=$(sed -n "s/^device $j uuid=//p" <<<"$output")
	assert_line --regexp "^nvml $j uuid=$uuid total=$cap free=[0-9]+ used=[0-9]+\$"
	local nfree nused
	nfree=$(value "nvml $j" free) nused=$(value "nvml $j" used)
	check "nvml $j: free" "$nfree" -le "$max"
	check "nvml $j: free + used" $((nfree + nused)) -eq "$cap"
}

@test "Ollama's discovery (libcuda.so.1 by soname): 2 GPUs with the policy's names, virtual UUIDs found in NVML, total = cap in CUDA and NVML" {
	need ollama_discovery
	run sandboxed "$BIN/ollama_discovery" --soname
	echo "$output"
	assert_success
	assert_line "done"
	refute_line "cuda_lib $EMU_REAL/libcuda.so.1"
	refute_line "nvml_lib $EMU_REAL/libnvidia-ml.so.1"
	assert_line "count 2"
	ollama_capped 0 "$T4_NAME" "$T4_CAP" "$T4_CAP"
	ollama_capped 1 "$H200_NAME" "$H200_CAP" "$H200_CAP"
	# Nothing held: free is the whole cap.
	assert_line "device 1 ctx_total=$H200_CAP free=$H200_CAP free_again=$H200_CAP"
	assert_line "nvml 1 uuid=$(virtual_uuid 1) total=$H200_CAP free=$H200_CAP used=0"
}

@test "Ollama's discovery while another process of the sandbox holds 512 MiB of the H200: free <= cap - 512 MiB there, in CUDA and NVML; the T4 untouched" {
	need ollama_discovery
	run sandboxed "$PYTHON" "$PEERS/caps_python.py" with-hold 1 "$HOLD_MIB" "$BIN/ollama_discovery" --soname
	echo "$output"
	assert_success
	assert_line "done"
	assert_line --regexp "^held 1 $((HOLD_MIB * MIB)) "
	assert_line "released 1"
	assert_line "count 2"
	ollama_capped 0 "$T4_NAME" "$T4_CAP" "$T4_CAP"
	ollama_capped 1 "$H200_NAME" "$H200_CAP" $((H200_CAP - HOLD_MIB * MIB))
	assert_line "device 0 ctx_total=$T4_CAP free=$T4_CAP free_again=$T4_CAP"
	check "nvml 1: used while another process holds $HOLD_MIB MiB" "$(value "nvml 1" used)" -ge $((HOLD_MIB * MIB))
}

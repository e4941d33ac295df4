#!/usr/bin/env bats
# The emulator's CUDA core (init, devices, profiles, contexts, cuGetProcAddress,
# export tables) used directly, without vgpu-run's shim: LD_LIBRARY_PATH leads to
# $VGPU_PREFIX/lib/vgpu/emulator/libcuda.so.1.
#
#   - tests/peers/driver_core.c (C, the toolkit's cuda.h): driver API checks, and every
#     attribute of every profile;
#   - tests/peers/cudart_props.cu (nvcc, NVIDIA's libcudart 13, shared and static):
#     cudaGetDeviceCount, cudaGetDeviceProperties against the real H200 reference
#     (tests/peers/reference/h200/), the context sequences of cudaSetDevice,
#     cudaDeviceSynchronize and cudaDeviceReset, driver versions;
#   - the same program built with g++ against libcudart 12 (PyPI nvidia-cuda-runtime-cu12:
#     its headers and libraries; $CUDART12_DIR, else found through python3), shared
#     and static;
#   - tests/unit/test_md2.c: MD2 and the integrity answer against known vectors.
# Programs are built once per run into $BATS_FILE_TMPDIR.  Without the CUDA toolkit
# (nvcc, cuda.h: $CUDA_HOME, default /usr/local/cuda) or cudart 12 the tests that need
# them skip.

bats_require_minimum_version 1.5.0

setup_file() {
	export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
	export EMU="$VGPU_PREFIX/lib/vgpu/emulator"
	export BIN="$BATS_FILE_TMPDIR"
	export REF
	REF="$(cd "$BATS_TEST_DIRNAME/../peers/reference/h200" && pwd)"
	local repo
	repo="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	[ -f "$EMU/libcuda.so.1" ] || return 0
	if command -v cc >/dev/null; then
		cc -std=gnu11 -O1 -I"$repo" -o "$BIN/test_md2" "$repo/tests/unit/test_md2.c" \
			"$repo/emulator/cuda/md2.c" 2>"$BIN/test_md2.log" || true
		if [ -f "$CUDA_HOME/include/cuda.h" ]; then
			cc -std=gnu11 -O1 -Wall -Wno-deprecated-declarations -I"$CUDA_HOME/include" \
				-o "$BIN/driver_core" "$repo/tests/peers/driver_core.c" "$EMU/libcuda.so.1" \
				-ldl -lpthread 2>"$BIN/driver_core.log" || true
		fi
	fi
	# libcudart 12 from its PyPI wheel (nvidia/cuda_runtime/{include,lib}).
	if [ -z "${CUDART12_DIR:-}" ]; then
		local py
		for py in python3 "$PYTHON"; do
			CUDART12_DIR=$("$py" -c 'import nvidia.cuda_runtime as m; print(list(m.__path__)[0])' 2>/dev/null) && break
		done
	fi
	export CUDART12_DIR
	if [ -n "$CUDART12_DIR" ] && [ -f "$CUDART12_DIR/lib/libcudart.so.12" ] && command -v g++ >/dev/null; then
		local c12=(g++ -x c++ -O1 -I"$CUDART12_DIR/include" -I"$CUDA_HOME/include" -o)
		"${c12[@]}" "$BIN/props12_shared" "$repo/tests/peers/cudart_props.cu" -x none \
			"$CUDART12_DIR/lib/libcudart.so.12" -lpthread 2>"$BIN/props12_shared.log" || true
		"${c12[@]}" "$BIN/props12_static" "$repo/tests/peers/cudart_props.cu" -x none \
			"$CUDART12_DIR/lib/libcudart_static.a" -lpthread -ldl -lrt 2>"$BIN/props12_static.log" || true
	fi
	if [ -x "$CUDA_HOME/bin/nvcc" ]; then
		"$CUDA_HOME/bin/nvcc" -cudart shared -o "$BIN/props_shared" \
			"$repo/tests/peers/cudart_props.cu" 2>"$BIN/props_shared.log" || true
		"$CUDA_HOME/bin/nvcc" -cudart static -o "$BIN/props_static" \
			"$repo/tests/peers/cudart_props.cu" 2>"$BIN/props_static.log" || true
	fi
}

setup() {
	load helpers
	[ -f "$EMU/libcuda.so.1" ] || fail "missing $EMU/libcuda.so.1: build with 'zig build'"
}

# Runs a built program against the emulator (and the toolkit's libcudart).
emu() {
	env LD_LIBRARY_PATH="$EMU:$CUDA_HOME/lib64:$CUDA_HOME/lib${CUDART12_DIR:+:$CUDART12_DIR/lib}" "$@"
}

need() { # PROGRAM: built in setup_file, or skip / fail
	local p=$1
	case $p in props*) command -v jq >/dev/null || skip "no jq (Debian package jq)" ;; esac
	if [ -x "$BIN/$p" ]; then return 0; fi
	case $p in
	props12_*)
		[ -n "$CUDART12_DIR" ] && [ -f "$CUDART12_DIR/lib/libcudart.so.12" ] ||
			skip "no libcudart 12 (PyPI nvidia-cuda-runtime-cu12; or set CUDART12_DIR)"
		command -v g++ >/dev/null || skip "no C++ compiler (g++)"
		;;
	props_*) [ -x "$CUDA_HOME/bin/nvcc" ] || skip "no nvcc at $CUDA_HOME/bin (CUDA toolkit 13 not installed)" ;;
	driver_core) [ -f "$CUDA_HOME/include/cuda.h" ] || skip "no cuda.h at $CUDA_HOME/include (CUDA toolkit not installed)" ;;
	esac
	command -v cc >/dev/null || skip "no C compiler (cc)"
	fail "building $p failed: $(cat "$BIN/$p.log" 2>/dev/null)"
}

# Compares a cudart_props.cu device object with the reference cudaDeviceProp.
# Fields that may differ: uuid and luid (ours are our own), the PCI location (ours:
# 0000:01:00.0 ...), the board group of a second GPU (its ordinal), and
# cooperativeMultiDeviceLaunch, which CUDA 13 removed from cudaDeviceProp and from
# cudaDeviceAttr (the reference's 'false' is its tool's default).
compare_props() { # JSON-FILE DEVICE-INDEX
	"$PYTHON" - "$1" "$2" "$REF/cudart-view.json" <<'EOF'
import json, sys
got = json.load(open(sys.argv[1]))["devices"][int(sys.argv[2])]
ref = json.load(open(sys.argv[3]))
skip = {"uuid", "luid", "pciBusID", "pciDeviceID", "pciDomainID", "cooperativeMultiDeviceLaunch"}
if int(sys.argv[2]) > 0:
    skip.add("multiGpuBoardGroupID")
bad = [f"{k}: got {got.get(k)!r}, real H200 {v!r}" for k, v in ref.items()
       if k not in skip and got.get(k) != v]
checked = len([k for k in ref if k not in skip])
print(f"{checked} fields compared")
if bad or checked < 70 or got.get("props_rc") != 0:
    print("\n".join(bad) or f"props_rc {got.get('props_rc')}")
    sys.exit(1)
EOF
}

@test "MD2, HMAC-MD2 and the integrity answer: known vectors (tests/unit/test_md2.c)" {
	command -v cc >/dev/null || skip "no C compiler (cc)"
	[ -x "$BIN/test_md2" ] || fail "building test_md2 failed: $(cat "$BIN/test_md2.log")"
	run "$BIN/test_md2"
	assert_success
	refute_output --partial "not ok"
	assert_line "1..13"
}

@test "driver API: init, devices, contexts, CLS, export tables, cuGetProcAddress (driver_core.c)" {
	need driver_core
	run emu "$BIN/driver_core"
	assert_success
	refute_line --partial "FAIL"
	assert_line "done"
	assert_line "driver 13000"
	assert_line "count 1"
	assert_line --regexp '^device 0 name=NVIDIA H200 total=150109880320 bus=0000:01:00\.0 uuid=76677075[0-9a-f]{24}$'
}

@test "h200: every cuDeviceGetAttribute 0..255 as the real H200 answered (but the PCI location)" {
	need driver_core
	run emu "$BIN/driver_core"
	assert_success
	printf '%s\n' "$output" >"$BIN/attrs_h200"
	run "$PYTHON" - "$BIN/attrs_h200" "$REF/driver-view.json" <<'EOF'
import json, sys
ref = json.load(open(sys.argv[2]))["attributes"]
got = {}
for line in open(sys.argv[1]):
    f = line.split()
    if f[:1] == ["attr"] and f[1] == "0":
        got[f[2]] = f[3]
bad = []
for k, v in ref.items():
    want = "err1" if v == "err1" else str(v)
    if k in ("33", "34", "50"):  # PCI bus, device, domain: ours
        continue
    if got.get(k) != want:
        bad.append(f"attribute {k}: got {got.get(k)}, real {want}")
if got.get("0") != "err1":
    bad.append(f"attribute 0: got {got.get('0')}, expected err1")
print(f"{len(ref)} attributes compared")
print("\n".join(bad))
sys.exit(1 if bad or len(ref) < 255 else 0)
EOF
	assert_success
}

@test "every profile answers every attribute cudart 13 asks at init, with its own model's values" {
	need driver_core
	# The attributes of cudart-on-a-software-driver.md section 5 step 4.
	local asked="75 76 40 16 18 19 21 77 22 23 73 74 70 71 72 45 46 24 25 26 47 48 49 52 42 43 27 28 29 53 54
		55 56 57 58 59 60 61 62 63 64 65 66 67 68 31 32 33 34 50 35 41 37 38 108 39 30 51 8 97 81 12 82 10 11
		1 2 3 4 5 6 7 9 14 78 79 80 83 84 85 86 88 89 90 91 95 100 101 106 109 111 99 112 113 114 115 116 117
		118 119 120 121 125 129 130 131 133 134 139 140 143 13 36 17 20 69 15 87 96"
	local p key name cc sms missing
	for p in "h200:NVIDIA H200:9.0:132" "h100-80gb:NVIDIA H100 80GB HBM3:9.0:132" \
		"a100-80gb:NVIDIA A100-SXM4-80GB:8.0:108" "l4:NVIDIA L4:8.9:58" "t4:Tesla T4:7.5:40" \
		"rtx-4090:NVIDIA GeForce RTX 4090:8.9:128"; do
		IFS=: read -r key name cc sms <<<"$p"
		run emu env VGPU_EMULATOR_DEVICES="$key" "$BIN/driver_core"
		assert_success
		assert_line --regexp "^device 0 name=$name total=[0-9]+ "
		assert_line "attr 0 75 ${cc%.*}"
		assert_line "attr 0 76 ${cc#*.}"
		assert_line "attr 0 16 $sms"
		missing=$(awk -v asked="$asked" '
			$1 == "attr" && $2 == 0 && $4 ~ /^-?[0-9]+$/ { ok[$3] = 1 }
			END { n = split(asked, a, /[ \t\n]+/); for (i = 1; i <= n; i++) if (a[i] != "" && !ok[a[i]]) printf "%s ", a[i] }
		' <<<"$output")
		[ -z "$missing" ] || fail "$key does not answer attributes: $missing"
	done
}

@test "two emulated GPUs (t4,h200): both listed in order with their own names, UUIDs and PCI ids" {
	need driver_core
	run emu env VGPU_EMULATOR_DEVICES=t4,h200 "$BIN/driver_core"
	assert_success
	assert_line "count 2"
	assert_line --regexp '^device 0 name=Tesla T4 total=15835594752 bus=0000:01:00\.0 uuid=76677075'
	assert_line --regexp '^device 1 name=NVIDIA H200 total=150109880320 bus=0000:02:00\.0 uuid=76677075'
	assert_line "ok - devices 0 and 1 are peers"
	assert_line "attr 1 33 2"
	assert_line "attr 0 75 7"
	assert_line "done"
	# The same configuration gives the same UUIDs in every process.
	local first=$output
	run emu env VGPU_EMULATOR_DEVICES=t4,h200 "$BIN/driver_core"
	[ "$(grep '^device' <<<"$output")" = "$(grep '^device' <<<"$first")" ]
}

@test "an unknown profile or a bad driver version: cuInit fails with a message naming it" {
	need driver_core
	run --separate-stderr emu env VGPU_EMULATOR_DEVICES=h200,nosuchgpu "$BIN/driver_core"
	assert_failure
	assert_line "FAIL - cuInit(0) (cuInit(0) == CUDA_SUCCESS)"
	[[ $stderr == *"unknown GPU profile 'nosuchgpu'"* ]] || fail "stderr: $stderr"
	run --separate-stderr emu env VGPU_EMULATOR_DRIVER_VERSION=twelve "$BIN/driver_core"
	assert_failure
	[[ $stderr == *"VGPU_EMULATOR_DRIVER_VERSION='twelve'"* ]] || fail "stderr: $stderr"
	run emu env VGPU_EMULATOR_DEVICES=none "$BIN/driver_core"
	assert_failure
	assert_line "FAIL - cuInit(0) (cuInit(0) == CUDA_SUCCESS)"
}

@test "libcudart 13 (shared): one device, cudaDeviceProp equal to the real H200's, contexts work" {
	need props_shared
	run emu "$BIN/props_shared"
	assert_success
	printf '%s\n' "$output" >"$BIN/shared.json"
	run jq -e '.runtime == 13000 and .driver == 13000 and .count_rc == 0 and .count == 1
		and .set_rc == 0 and .sync_rc == 0 and .thread_sync_rc == 0 and .reset_rc == 0
		and .after_reset_rc == 0 and .getflags_rc == 0 and .last_error == 0
		and .devices[0].busId == "0000:01:00.0"' "$BIN/shared.json"
	assert_success
	run compare_props "$BIN/shared.json" 0
	assert_success
}

@test "libcudart 13 (static): one device, cudaDeviceProp equal to the real H200's, contexts work" {
	need props_static
	run emu "$BIN/props_static"
	assert_success
	printf '%s\n' "$output" >"$BIN/static.json"
	run jq -e '.count_rc == 0 and .count == 1 and .set_rc == 0 and .sync_rc == 0
		and .thread_sync_rc == 0 and .reset_rc == 0 and .after_reset_rc == 0' "$BIN/static.json"
	assert_success
	run compare_props "$BIN/static.json" 0
	assert_success
}

@test "libcudart 13: VGPU_EMULATOR_DEVICES=t4,h200 gives two devices with the right names" {
	need props_shared
	need props_static
	local p
	for p in props_shared props_static; do
		run emu env VGPU_EMULATOR_DEVICES=t4,h200 "$BIN/$p"
		assert_success
		printf '%s\n' "$output" >"$BIN/two.json"
		run jq -e '.count == 2 and .devices[0].name == "Tesla T4" and .devices[0].major == 7
			and .devices[0].minor == 5 and .devices[1].name == "NVIDIA H200"
			and .devices[1].busId == "0000:02:00.0" and .set_rc == 0 and .current == 1
			and .reset_rc == 0 and .after_reset_rc == 0' "$BIN/two.json"
		assert_success
		run compare_props "$BIN/two.json" 1
		assert_success
	done
}

@test "libcudart 13 accepts every profile (static and shared)" {
	need props_shared
	need props_static
	local key p
	for key in h200 h100-80gb a100-80gb l4 t4 rtx-4090; do
		for p in props_shared props_static; do
			run emu env VGPU_EMULATOR_DEVICES=$key "$BIN/$p"
			assert_success
			jq -e '.count_rc == 0 and .count == 1 and .set_rc == 0 and .reset_rc == 0
				and .after_reset_rc == 0' <<<"$output" >/dev/null ||
				fail "$key, $p: $output"
		done
	done
}

@test "libcudart 12 (shared and static): one device, cudaDeviceProp equal to the real H200's, contexts work" {
	need props12_shared
	need props12_static
	local p
	for p in props12_shared props12_static; do
		run emu "$BIN/$p"
		assert_success
		printf '%s\n' "$output" >"$BIN/$p.json"
		jq -e '(.runtime / 1000 | floor) == 12 and .count_rc == 0 and .count == 1 and .set_rc == 0
			and .sync_rc == 0 and .thread_sync_rc == 0 and .reset_rc == 0 and .after_reset_rc == 0
			and .last_error == 0' "$BIN/$p.json" >/dev/null || fail "$p: $output"
		run compare_props "$BIN/$p.json" 0
		assert_success
		# A 12.x runtime works on a 12.x driver too; two devices.
		run emu env VGPU_EMULATOR_DRIVER_VERSION=12080 VGPU_EMULATOR_DEVICES=t4,h200 "$BIN/$p"
		assert_success
		jq -e '.driver == 12080 and .count == 2 and .devices[0].name == "Tesla T4" and .set_rc == 0' \
			<<<"$output" >/dev/null || fail "$p on 12.8 with two devices: $output"
	done
}

@test "libcudart 13 on a driver that says 12.8: cudaErrorInsufficientDriver (35), as with a real old driver" {
	need props_shared
	need props_static
	local p
	for p in props_shared props_static; do
		run emu env VGPU_EMULATOR_DRIVER_VERSION=12080 "$BIN/$p"
		assert_success
		jq -e '.driver == 12080 and .count_rc == 35' <<<"$output" >/dev/null || fail "$p: $output"
		run emu env VGPU_EMULATOR_DRIVER_VERSION=12.8 "$BIN/$p"
		jq -e '.driver == 12080 and .count_rc == 35' <<<"$output" >/dev/null || fail "$p (12.8): $output"
	done
}

@test "inside vgpu-run, the GPUs come from the sandbox policy, whatever the environment says" {
	need driver_core
	need props_static
	[ -x "$VGPU" ] || fail "missing $VGPU: build with 'zig build'"
	[ -f "$VGPU_PREFIX/lib/vgpu/libcuda.so.1" ] || fail "missing the shim: build with 'zig build'"
	# The installed layout: the shim covers libcuda.so.1, the emulator is the lower
	# driver (this machine has none); the environment asks for other GPUs in vain.
	run "$VGPU" --gpu emulated:l4 --gpu emulated:a100-80gb -- \
		env VGPU_EMULATOR_DEVICES=t4 "$BIN/driver_core"
	# Behind the shim, cuGetProcAddress hands out the lower driver's own functions
	# (no cost per call), not the addresses dlsym gives for libcuda.so.1 (the shim's
	# forwarders): driver_core's pointer-identity checks differ there by design.  And
	# the shim shows virtual UUIDs, not the emulator's own ("vgpu..." ones).
	local other
	other=$(grep '^FAIL' <<<"$output" | grep -v -e ' -> .*p == expect' -e 'p == dlsym(self, ' \
		-e "UUID starts with 'vgpu'" || true)
	[ "$(grep -c "^FAIL - device [01] UUID starts with 'vgpu'" <<<"$output")" = 2 ] ||
		fail "under vgpu-run the UUIDs must be the shim's virtual ones: $output"
	[ -z "$other" ] || fail "driver_core under vgpu-run: $other"
	assert_line "count 2"
	assert_line --regexp '^device 0 name=NVIDIA L4 '
	assert_line --regexp '^device 1 name=NVIDIA A100-SXM4-80GB '
	assert_line --regexp '^(done|failures [0-9]+)$' # it ran to its end
	run "$VGPU" --emulate=rtx-4090 -- env LD_LIBRARY_PATH="$CUDA_HOME/lib64" "$BIN/props_static"
	assert_success
	jq -e '.count == 1 and .devices[0].name == "NVIDIA GeForce RTX 4090" and .set_rc == 0' <<<"$output" >/dev/null ||
		fail "$output"
}

@test "under vgpu-run --emulate=h200: libcudart 13 and 12 see cudaDeviceProp equal to the real H200's" {
	[ -x "$VGPU" ] || fail "missing $VGPU: build with 'zig build'"
	local p ran=0
	for p in props_shared props_static props12_shared props12_static; do
		[ -x "$BIN/$p" ] || continue
		run "$VGPU" --emulate=h200 -- \
			env LD_LIBRARY_PATH="$CUDA_HOME/lib64${CUDART12_DIR:+:$CUDART12_DIR/lib}" "$BIN/$p"
		assert_success
		printf '%s\n' "$output" >"$BIN/sandboxed.json"
		jq -e '.count == 1 and .set_rc == 0 and .last_error == 0' "$BIN/sandboxed.json" >/dev/null ||
			fail "$p under vgpu-run: $output"
		run compare_props "$BIN/sandboxed.json" 0
		assert_success
		ran=$((ran + 1))
	done
	[ "$ran" -gt 0 ] || skip "no cudart program could be built"
}

@test "the emulator's calls to its own API bind inside it (as the real driver's, linked -Bsymbolic)" {
	command -v readelf >/dev/null || skip "no readelf (binutils)"
	local lib own
	for lib in "$EMU/libcuda.so.1" "$EMU/libnvidia-ml.so.1"; do
		# A PLT or GOT relocation against a cu*/nvml* name would send the call to
		# whatever libcuda.so.1 comes first in the process: in a sandbox, the shim.
		own=$(readelf -rW "$lib" | awk '/JUMP_SLOT|GLOB_DAT/ {print $5}' | grep -E '^(cu|nvml)[A-Z]' || true)
		[ -z "$own" ] || fail "$lib calls its own API through the PLT: $own"
	done
}

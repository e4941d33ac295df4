#!/usr/bin/env bats
# CUDA_VISIBLE_DEVICES in the emulator's CUDA driver API, used directly (no vgpu-run):
# LD_LIBRARY_PATH leads to $VGPU_PREFIX/lib/vgpu/emulator.  The rules are NVIDIA's
# (CUDA programming guide, environment variables), and driver 580's where it is silent
# (measured on an H200: docs/gpu-validation.md; emulator/cuda/device.c, visible_entry):
#   - unset: every configured GPU in configuration order; set: the GPUs its entries name
#     (decimal indexes, or "GPU-" UUIDs and unique prefixes of them, any case; blanks
#     around an entry ignored; "GPU-" alone names nothing), in its order, up to the first
#     invalid entry; a GPU named twice before that: cuInit 101; no GPU at all: cuInit 100;
#   - read at the first cuInit, never again; NVML ignores it.
# The machine is VGPU_EMULATOR_DEVICES=t4,h200,l4 unless a test says otherwise.
#
#   - tests/probes/emu_visible.c (built by `zig build tests`): cuInit, the devices the
#     driver API lists, peers, bus ids, memory and process accounting through NVML;
#   - tests/peers/cudart_props.cu (nvcc, NVIDIA's libcudart 13, shared): what cudart sees.
#     Without the CUDA toolkit that test skips.

bats_require_minimum_version 1.5.0

setup_file() {
	export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
	export EMU="$VGPU_PREFIX/lib/vgpu/emulator"
	export BIN="$BATS_FILE_TMPDIR"
	local repo
	repo="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	if [ -x "$CUDA_HOME/bin/nvcc" ] && [ -f "$EMU/libcuda.so.1" ]; then
		"$CUDA_HOME/bin/nvcc" -cudart shared -o "$BIN/props_shared" \
			"$repo/tests/peers/cudart_props.cu" 2>"$BIN/props_shared.log" || true
	fi
}

setup() {
	load helpers
	[ -f "$EMU/libcuda.so.1" ] || fail "missing $EMU/libcuda.so.1: build with 'zig build'"
	[ -f "$EMU/libnvidia-ml.so.1" ] || fail "missing $EMU/libnvidia-ml.so.1: build with 'zig build'"
	[ -x "$PROBES/emu_visible" ] || fail "missing $PROBES/emu_visible: build with 'zig build tests'"
}

# probe CVD [PROBE-ARG...]: runs emu_visible on the t4,h200,l4 machine with
# CUDA_VISIBLE_DEVICES=CVD ("unset": not in the environment at all).
probe() {
	local cvd=$1
	shift
	local env=(env -u CUDA_VISIBLE_DEVICES LD_LIBRARY_PATH="$EMU" VGPU_EMULATOR_DEVICES="${DEVICES:-t4,h200,l4}")
	[ "$cvd" = unset ] || env+=(CUDA_VISIBLE_DEVICES="$cvd")
	run "${env[@]}" "$PROBES/emu_visible" "$@" </dev/null
	assert_success
}

# What the last probe saw, in one line: the devices' names in ordinal order as profile
# keys ("l4 t4"), or "cuInit N" when cuInit failed.  Checks on the way that the count
# matches the device lines and that NVML still has every configured GPU.
seen() { # NVML-COUNT
	local nvml=${1:-3}
	grep -qx "nvml-count $nvml" <<<"$output" || fail "NVML does not list $nvml GPUs: $output"
	awk '
		$1 == "cuInit" && $2 != 0 { print "cuInit " $2; done = 1; exit }
		$1 == "count" { count = $2 }
		$1 == "device" {
			name = $0; sub(/^device [0-9]+ name=/, "", name); sub(/ uuid=.*/, "", name)
			key = name == "Tesla T4" ? "t4" : name == "NVIDIA H200" ? "h200" : name == "NVIDIA L4" ? "l4" : "?" name
			list = list (n++ ? " " : "") key
		}
		END {
			if (done) exit
			if (count != n) { print "count " count " but " n " device lines"; exit }
			print list
		}' <<<"$output"
}

# The UUID of the device the unset run lists at ORDINAL (0 t4, 1 h200, 2 l4).
uuid_of() { # ORDINAL
	probe unset
	sed -n "s/^device $1 name=.* uuid=\(GPU-[0-9a-f-]*\) .*/\1/p" <<<"$output"
}

@test "a table of CUDA_VISIBLE_DEVICES values: indexes, order, invalid entries, no device" {
	# VALUE|WHAT THE DRIVER API LISTS.  The value is taken as written, blanks included.
	local table="unset|t4 h200 l4
0,1,2|t4 h200 l4
1|h200
2,0|l4 t4
1,2,0|h200 l4 t4
0,5,1|t4
3|cuInit 100
1,1|cuInit 101
2,0,2,1|cuInit 101
-1|cuInit 100
-1,0|cuInit 100
0,-1,1|t4
|cuInit 100
,0|cuInit 100
x|cuInit 100
garbage|cuInit 100
1x|cuInit 100
0x1|cuInit 100
0,,1|t4
0,|t4
2,x,0|l4
 1|h200
0, 2|t4 l4
1 |h200
0,1 ,2|t4 h200 l4
MIG-0,1|cuInit 100
1,MIG-0|h200
1,MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee,0|h200"
	local value want got bad=
	while IFS='|' read -r value want; do
		probe "$value"
		got=$(seen 3)
		[ "$got" = "$want" ] || bad+="
CUDA_VISIBLE_DEVICES='$value': got '$got', expected '$want'"
	done <<<"$table"
	[ -z "$bad" ] || fail "$bad"
}

@test "UUIDs: whole, as a unique prefix, in any case; an ambiguous or unknown one ends the list" {
	local t4 h200 l4
	t4=$(uuid_of 0)
	h200=$(uuid_of 1)
	l4=$(uuid_of 2)
	[[ $l4 =~ ^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || fail "l4's UUID: '$l4'"
	# Our UUIDs all start GPU-76677075- ("vgpu"): that prefix is ambiguous; 20
	# characters of l4's are unique (checked here, not assumed).
	local common=GPU-76677075- unique=${l4:0:20}
	[[ $t4 == "$common"* && $h200 == "$common"* && $l4 == "$common"* ]] || fail "UUIDs: $t4 $h200 $l4"
	[[ $t4 != "$unique"* && $h200 != "$unique"* ]] || fail "$unique is not unique: $t4 $h200 $l4"
	local upper
	upper=GPU-$(tr a-f A-F <<<"${h200#GPU-}")
	local table="$l4|l4
$l4,0|l4 t4
1,$l4|h200 l4
$unique|l4
$unique,1|l4 h200
$upper|h200
$(tr A-Z a-z <<<"$upper")|h200
gpu-${unique#GPU-}|l4
${l4}0|cuInit 100
${l4} |l4
 $l4|l4
${l4#GPU-}|cuInit 100
$l4,2|cuInit 101
2,$unique|cuInit 101
GPU-|cuInit 100
$common|cuInit 100
0,$common,1|t4
GPU-00000000-0000-0000-0000-000000000000|cuInit 100
GPU-0|cuInit 100
2,GPU-00000000,0|l4"
	local value want got bad=
	while IFS='|' read -r value want; do
		probe "$value"
		got=$(seen 3)
		[ "$got" = "$want" ] || bad+="
CUDA_VISIBLE_DEVICES='$value': got '$got', expected '$want'"
	done <<<"$table"
	[ -z "$bad" ] || fail "$bad"
	# "GPU-" alone names nothing, even with one GPU configured (driver 580 does so).
	DEVICES=l4 probe GPU-
	[ "$(seen 1)" = "cuInit 100" ] || fail "one GPU, CUDA_VISIBLE_DEVICES=GPU-: $output"
}

@test "ordinal j is the j-th selected GPU everywhere: name, UUID, bus id and back, peers, board" {
	local t4 h200 l4
	t4=$(uuid_of 0)
	h200=$(uuid_of 1)
	l4=$(uuid_of 2)
	probe 2,1 --busid 0000:01:00.0
	assert_line "count 2"
	assert_line "device 0 name=NVIDIA L4 uuid=$l4 bus=0000:03:00.0 byid=0 board=2"
	assert_line "device 1 name=NVIDIA H200 uuid=$h200 bus=0000:02:00.0 byid=1 board=1"
	assert_line "peer 0 1 1"
	assert_line "peer 1 0 1"
	# The T4 is not visible: its bus id names no device of this process.
	assert_line "busid 0000:01:00.0 rc=101 ordinal=-1"
	refute_output --partial "name=Tesla T4"
	# NVML ignores CUDA_VISIBLE_DEVICES: all three, in configuration order.
	assert_line "nvml 0 uuid=$t4 used-delta=0 ours=0"
	assert_line "nvml 1 uuid=$h200 used-delta=0 ours=0"
	assert_line "nvml 2 uuid=$l4 used-delta=0 ours=0"
	probe 2,1 --busid 02:00.0
	assert_line "busid 02:00.0 rc=0 ordinal=1"
}

@test "memory and processes are counted on the selected GPU, not on the one at that ordinal" {
	local t4 h200 l4
	t4=$(uuid_of 0)
	h200=$(uuid_of 1)
	l4=$(uuid_of 2)
	# The H200 is configuration index 1: ordinal 1 under "2,1", ordinal 0 under "1".
	# A context and 256 MiB on it must show in NVML on the H200, and only there.
	local sel ord
	for sel in 2,1:1 1:0; do
		ord=${sel#*:}
		probe "${sel%:*}" --alloc "$ord"
		assert_line "alloc $ord rc=0 free=$((150109880320 - 268435456)) total=150109880320"
		assert_line "nvml 0 uuid=$t4 used-delta=0 ours=0"
		assert_line "nvml 1 uuid=$h200 used-delta=268435456 ours=1"
		assert_line "nvml 2 uuid=$l4 used-delta=0 ours=0"
	done
}

@test "read once, at cuInit: setting CUDA_VISIBLE_DEVICES afterwards changes nothing" {
	probe 2 --setenv 0,1
	[ "$(seen 3)" = l4 ] || fail "$output"
	assert_line "after-setenv cuInit 0 count 1"
	probe 1,0 --setenv ""
	assert_line "after-setenv cuInit 0 count 2"
}

@test "VGPU_EMULATOR_DEVICES configures the machine, CUDA_VISIBLE_DEVICES selects among it" {
	DEVICES=t4,h200 probe 1
	[ "$(seen 2)" = h200 ] || fail "t4,h200 with CUDA_VISIBLE_DEVICES=1: $output"
	DEVICES=t4,h200 probe 2
	[ "$(seen 2)" = "cuInit 100" ] || fail "t4,h200 with CUDA_VISIBLE_DEVICES=2: $output"
	DEVICES=h200 probe unset
	[ "$(seen 1)" = h200 ] || fail "h200 alone: $output"
}

@test "libcudart 13 (shared): CUDA_VISIBLE_DEVICES=1,0 gives two devices, names swapped" {
	[ -x "$CUDA_HOME/bin/nvcc" ] || skip "no nvcc at $CUDA_HOME/bin (CUDA toolkit 13 not installed)"
	command -v jq >/dev/null || skip "no jq (Debian package jq)"
	[ -x "$BIN/props_shared" ] || fail "building props_shared failed: $(cat "$BIN/props_shared.log")"
	local emu=(env LD_LIBRARY_PATH="$EMU:$CUDA_HOME/lib64:$CUDA_HOME/lib" VGPU_EMULATOR_DEVICES=t4,h200)
	run "${emu[@]}" CUDA_VISIBLE_DEVICES=1,0 "$BIN/props_shared"
	assert_success
	jq -e '.count_rc == 0 and .count == 2 and .devices[0].name == "NVIDIA H200"
		and .devices[0].busId == "0000:02:00.0" and .devices[1].name == "Tesla T4"
		and .devices[1].major == 7 and .set_rc == 0 and .reset_rc == 0' <<<"$output" >/dev/null ||
		fail "$output"
	run "${emu[@]}" CUDA_VISIBLE_DEVICES=-1 "$BIN/props_shared"
	assert_success
	# cudaErrorNoDevice (100), as with a real driver and no visible GPU.
	jq -e '.count_rc == 100' <<<"$output" >/dev/null || fail "$output"
}

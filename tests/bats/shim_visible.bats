#!/usr/bin/env bats
# vgpu-test-users: root nobody
#
# Virtual GPUs through the shim (docs/shim.md, "Virtual devices" and "Inescapable"):
# inside vgpu-run, the program's CUDA_VISIBLE_DEVICES selects among the policy's GPUs
# exactly as the real driver's selects among physical ones (the rules are NVIDIA's,
# CUDA programming guide, environment variables: indexes or UUIDs and unique "GPU-"
# prefixes, in order, the first invalid entry ending the list, no device → cuInit 100;
# measured on driver 580: blanks around entries ignored, a repeat → cuInit 101, "GPU-"
# alone names nothing);
# physical UUIDs select nothing; the program's environment is left as it was; and
# neither env -i, LD_LIBRARY_PATH nor LD_PRELOAD reaches the lower driver.
#
# Lower driver: the emulator (no driver in the fixture), three GPUs t4, h200, l4.
# The probe is tests/probes/emu_visible.c: cuInit, then one line per CUDA device
# ("device J name=NAME uuid=UUID ..."), then NVML's count.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	vgpu_require
	[ -x "$PROBES/emu_visible" ] || fail "missing $PROBES/emu_visible: build with 'zig build tests'"
	export SHIM_LIB="$VGPU_PREFIX/lib/vgpu"
	export RUN="$SHIM_LIB/run"
}

# In the fixture: the policy, and vgpu-run of the real install with it.
SANDBOX='
	printf "%s\n" "[gpu]" "device = emulated:t4" "[gpu]" "device = emulated:h200" \
		"[gpu]" "device = emulated:l4" >"$SCRATCH/three.conf"
	chmod 644 "$SCRATCH/three.conf"
	in_sandbox() { as_user "$VGPU" --policy "$SCRATCH/three.conf" "$@"; }
	# show VALUE: the probe with CUDA_VISIBLE_DEVICES=VALUE ("unset": absent), one block.
	show() {
		echo "== $1"
		if [ "$1" = unset ]; then
			in_sandbox -- env -u CUDA_VISIBLE_DEVICES "$PROBES/emu_visible"
		else
			in_sandbox -- env CUDA_VISIBLE_DEVICES="$1" "$PROBES/emu_visible"
		fi
	}
'

# The (first) block of one value in $output, as "t4 h200" (profile keys in ordinal order) or
# "cuInit N"; checks that NVML still lists the 3 virtual GPUs.
seen_in() { # VALUE
	awk -v want="== $1" '
		$0 == want { if (seen++) exit; on = 1; next }
		/^== / { on = 0 }
		on' <<<"$output" | awk '
		$1 == "nvml-count" { nvml = $2 }
		$1 == "cuInit" && $2 != 0 { failed = "cuInit " $2 }
		$1 == "device" {
			name = $0; sub(/^device [0-9]+ name=/, "", name); sub(/ uuid=.*/, "", name)
			key = name == "Tesla T4" ? "t4" : name == "NVIDIA H200" ? "h200" : name == "NVIDIA L4" ? "l4" : "?" name
			list = list (n++ ? " " : "") key
		}
		END {
			if (nvml != 3) { print "NVML count " nvml; exit }
			print failed != "" ? failed : list
		}'
}

# UUID of ORDINAL in the block of VALUE.
uuid_in() { # VALUE ORDINAL
	awk -v want="== $1" '$0 == want { if (seen++) exit; on = 1; next } /^== / { on = 0 } on' <<<"$output" |
		sed -n "s/^device $2 name=.* uuid=\(GPU-[0-9a-f-]*\) .*/\1/p"
}

@test "virtual UUIDs: stable, distinct, not the emulator's physical ones" {
	# The emulator's own UUIDs of the same machine, outside vgpu-run.
	run env LD_LIBRARY_PATH="$SHIM_LIB/emulator" VGPU_EMULATOR_DEVICES=t4,h200,l4 "$PROBES/emu_visible"
	assert_success
	local physical
	physical=$(sed -n 's/^device [0-9] name=.* uuid=\(GPU-[0-9a-f-]*\) .*/\1/p' <<<"$output" | sort)
	[ "$(wc -l <<<"$physical")" = 3 ] || fail "the emulator alone: $output"
	run in_fixture none "$SANDBOX"'show unset; show unset'
	assert_success
	local virtual
	virtual=$(sed -n 's/^device [0-9] name=.* uuid=\(GPU-[0-9a-f-]*\) .*/\1/p' <<<"$output")
	[ "$(wc -l <<<"$virtual")" = 6 ] || fail "two runs, three GPUs each: $output"
	[ "$(sort -u <<<"$virtual" | wc -l)" = 3 ] || fail "not stable across runs, or not distinct: $virtual"
	[ -z "$(comm -12 <(sort -u <<<"$virtual") <(echo "$physical"))" ] || fail "a physical UUID shows: $virtual"
	[ "$(seen_in unset)" = "t4 h200 l4" ] || fail "$output"
}

@test "CUDA_VISIBLE_DEVICES among the virtual GPUs: a table of cases, as the real driver's rules" {
	run in_fixture none "$SANDBOX"'
		show unset
		for v in "1" "2,0" "1,2,0" "0,5,1" "3" "1,1" "" "-1" "0,-1,1" "x" "0,,1" " 1" "1 " "MIG-0"; do
			show "$v"
		done'
	assert_success
	local table="unset|t4 h200 l4
1|h200
2,0|l4 t4
1,2,0|h200 l4 t4
0,5,1|t4
3|cuInit 100
1,1|cuInit 101
|cuInit 100
-1|cuInit 100
0,-1,1|t4
x|cuInit 100
0,,1|t4
 1|h200
1 |h200
MIG-0|cuInit 100"
	local value want got bad=
	while IFS='|' read -r value want; do
		got=$(seen_in "$value")
		[ "$got" = "$want" ] || bad+="
CUDA_VISIBLE_DEVICES='$value': got '$got', expected '$want'"
	done <<<"$table"
	[ -z "$bad" ] || fail "$bad"
}

@test "CUDA_VISIBLE_DEVICES with UUIDs: virtual ones select (whole, prefix, sequence); physical ones select nothing" {
	run env LD_LIBRARY_PATH="$SHIM_LIB/emulator" VGPU_EMULATOR_DEVICES=t4,h200,l4 "$PROBES/emu_visible"
	local phys_h200
	phys_h200=$(sed -n 's/^device 1 name=.* uuid=\(GPU-[0-9a-f-]*\) .*/\1/p' <<<"$output")
	[ -n "$phys_h200" ] || fail "no physical UUID: $output"
	run in_fixture none "$SANDBOX"'show unset'
	local t4 h200 l4
	t4=$(uuid_in unset 0)
	h200=$(uuid_in unset 1)
	l4=$(uuid_in unset 2)
	[ -n "$t4" ] && [ -n "$h200" ] && [ -n "$l4" ] || fail "$output"
	local prefix=${l4:0:16}
	[[ $t4 != "$prefix"* && $h200 != "$prefix"* ]] || fail "$prefix is not unique: $t4 $h200 $l4"
	export TABLE="$l4|l4
$l4,0|l4 t4
$prefix,$h200|l4 h200
$(tr a-f A-F <<<"${h200#GPU-}" | sed 's/^/GPU-/')|h200
$phys_h200|cuInit 100
0,$phys_h200,2|t4
GPU-|cuInit 100"
	run in_fixture none "$SANDBOX"'
		while IFS="|" read -r v want; do show "$v"; done <<<"$TABLE"'
	assert_success
	local value want got bad=
	while IFS='|' read -r value want; do
		got=$(seen_in "$value")
		[ "$got" = "$want" ] || bad+="
CUDA_VISIBLE_DEVICES='$value': got '$got', expected '$want'"
	done <<<"$TABLE"
	[ -z "$bad" ] || fail "$bad"
}

@test "the program's CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER are as it set them after cuInit, for it and its children" {
	run in_fixture none "$SANDBOX"'
		in_sandbox -- env CUDA_VISIBLE_DEVICES=2,0 CUDA_DEVICE_ORDER=FASTEST_FIRST python3 -c "
import ctypes, os
c = ctypes.CDLL(\"libcuda.so.1\")
print(\"cuInit\", c.cuInit(0))
libc = ctypes.CDLL(None); libc.getenv.restype = ctypes.c_char_p
print(\"self\", libc.getenv(b\"CUDA_VISIBLE_DEVICES\").decode(), libc.getenv(b\"CUDA_DEVICE_ORDER\").decode())
os.system(\"echo child \$CUDA_VISIBLE_DEVICES \$CUDA_DEVICE_ORDER\")"
		in_sandbox -- env -u CUDA_VISIBLE_DEVICES -u CUDA_DEVICE_ORDER python3 -c "
import ctypes, os
c = ctypes.CDLL(\"libcuda.so.1\")
print(\"cuInit\", c.cuInit(0))
os.system(\"echo unset-child \${CUDA_VISIBLE_DEVICES-unset} \${CUDA_DEVICE_ORDER-unset}\")"'
	assert_success
	assert_line "self 2,0 FASTEST_FIRST"
	assert_line "child 2,0 FASTEST_FIRST"
	assert_line "unset-child unset unset"
	[ "$(grep -c '^cuInit 0$' <<<"$output")" = 2 ] || fail "$output"
}

@test "env -i, LD_LIBRARY_PATH to the runtime dir or to the emulator's install, LD_PRELOAD: the view stays virtual" {
	run in_fixture none "$SANDBOX"'
		show unset
		echo "== env -i"
		in_sandbox -- env -i CUDA_VISIBLE_DEVICES=1 "$PROBES/emu_visible"
		echo "== LD_LIBRARY_PATH=driver/"
		in_sandbox -- env LD_LIBRARY_PATH="$RUN/driver" "$PROBES/emu_visible"
		echo "== LD_LIBRARY_PATH=emulator/"
		in_sandbox -- env LD_LIBRARY_PATH="$SHIM_LIB/emulator" "$PROBES/emu_visible"
		echo "== LD_PRELOAD=stash"
		in_sandbox -- env LD_PRELOAD="$RUN/driver/lower:libcuda.so.1" "$PROBES/emu_visible" 2>/dev/null
		echo "== LD_PRELOAD=libcuda.so.1"
		in_sandbox -- env LD_PRELOAD=libcuda.so.1 "$PROBES/emu_visible"
		echo "== LD_PRELOAD=emulator"
		in_sandbox -- env LD_PRELOAD="$SHIM_LIB/emulator/libcuda.so.1" "$PROBES/emu_visible"'
	assert_success
	local virtual_h200 case
	virtual_h200=$(uuid_in unset 1)
	[ -n "$virtual_h200" ] || fail "$output"
	[ "$(seen_in "env -i")" = h200 ] || fail "env -i: $(seen_in "env -i")"
	[ "$(uuid_in "env -i" 0)" = "$virtual_h200" ] || fail "env -i: not the virtual UUID: $output"
	for case in "LD_LIBRARY_PATH=driver/" "LD_LIBRARY_PATH=emulator/" "LD_PRELOAD=stash" \
		"LD_PRELOAD=libcuda.so.1" "LD_PRELOAD=emulator"; do
		[ "$(seen_in "$case")" = "t4 h200 l4" ] || fail "$case: $(seen_in "$case")"
		[ "$(uuid_in "$case" 1)" = "$virtual_h200" ] || fail "$case: the lower driver answered directly: $output"
	done
}

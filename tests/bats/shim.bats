#!/usr/bin/env bats
# vgpu-test-users: root nobody
#
# The shim's foundation (docs/shim.md): lib/vgpu/libcuda.so.1 and libnvidia-ml.so.1 of
# the real install (no --lib-dir), with the emulator as the lower driver (the fixture
# has no driver).  Calls reach the lower driver through the generated forwarders;
# cuGetProcAddress hands out the shim's own cuGetProcAddress and the lower's pointer
# for everything else; outside vgpu-run, or with a damaged runtime dir, the shim says
# so in one line and every call returns "not initialized" — never a crash.
#
# The probe is tests/probes/shimcall.c: one line per call on stdout.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	vgpu_require
	SHIM_LIB="$VGPU_PREFIX/lib/vgpu"
	SHIMCALL="$PROBES/shimcall"
	for f in "$SHIM_LIB/libcuda.so.1" "$SHIM_LIB/libnvidia-ml.so.1" \
		"$SHIM_LIB/emulator/libcuda.so.1" "$SHIM_LIB/emulator/libnvidia-ml.so.1" "$SHIMCALL"; do
		[ -f "$f" ] || fail "missing $f: build with 'zig build tests'"
	done
	[ -d "$SHIM_LIB/run" ] || fail "missing $SHIM_LIB/run: build with 'zig build'"
	export SHIM_LIB SHIMCALL
	export RUN="$SHIM_LIB/run"
}

# Inside the fixture: vgpu-run of the real install (lib dir found from the executable).
REAL='
	vgpu_real() { as_user "$VGPU" "$@"; }
'

# The names a list file exports, sorted.
list_names() { # FILE
	grep -v '^#' "$1" | grep -v '^[[:space:]]*$' | sort
}

# --- the export surface ---------------------------------------------------------------------

@test "nm -D: each shim exports exactly the driver's names (forwarders weak, interceptions the shim's own)" {
	local lib list
	for lib in cuda nvidia-ml; do
		list=$BATS_TEST_DIRNAME/../../emulator/data/lib$lib.exports
		diff <(list_names "$list") \
			<(nm -D --defined-only "$SHIM_LIB/lib$lib.so.1" | awk '{print $3}' | sort) ||
			fail "lib$lib.so.1 does not export exactly the names of $list"
		# Every forwarder is weak: only interceptions are strong.
		nm -D --defined-only "$SHIM_LIB/lib$lib.so.1" | awk '$2 != "W" && $2 != "T" {print; bad=1} END {exit bad}' ||
			fail "lib$lib.so.1 exports something that is neither a weak forwarder nor a function"
	done
	# Interceptions (strong) and plain forwarders (weak), a few of each.
	run -0 bash -c "nm -D --defined-only '$SHIM_LIB/libcuda.so.1' | awk '{print \$2, \$3}'"
	for fn in cuGetProcAddress cuGetProcAddress_v2 cuInit cuMemGetInfo_v2 cuDeviceTotalMem_v2 \
		cuDeviceGetUuid_v2 cuGetExportTable cuMemAlloc_v2 cuMemFree_v2; do
		assert_line "T $fn"
	done
	for fn in cuLaunchKernel cuDriverGetVersion cuDeviceGetAttribute cuMemcpyHtoD_v2 cuModuleLoadData; do
		assert_line "W $fn"
	done
	[ "$(readelf -d "$SHIM_LIB/libcuda.so.1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" = libcuda.so.1 ] ||
		fail "libcuda.so.1 has the wrong soname"
	[ "$(readelf -d "$SHIM_LIB/libnvidia-ml.so.1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" = libnvidia-ml.so.1 ] ||
		fail "libnvidia-ml.so.1 has the wrong soname"
}

@test "every library uses glibc's memcpy and memset, not compiler_rt's generic ones" {
	# 128-bit division anywhere in a library's sources links zig's compiler_rt, whose
	# memcpy then replaces glibc's: the emulator's copies fell to about 0.6x of memcpy.
	local lib
	for lib in "$SHIM_LIB/libcuda.so.1" "$SHIM_LIB/libnvidia-ml.so.1" \
		"$SHIM_LIB/emulator/libcuda.so.1" "$SHIM_LIB/emulator/libnvidia-ml.so.1"; do
		nm -D "$lib" | grep -q ' U memcpy@GLIBC' || fail "$lib does not import memcpy from glibc"
		nm -D "$lib" | grep -q ' U memset@GLIBC' || fail "$lib does not import memset from glibc"
	done
}

@test "a forwarded function is one indirect jump (endbr64; jmp *table(%rip))" {
	local fn
	for fn in cuMemcpyHtoD_v2 cuLaunchKernel cuDriverGetVersion; do
		run -0 bash -c "objdump -d --no-show-raw-insn --disassemble=$fn '$SHIM_LIB/libcuda.so.1' | sed -n '/<$fn>:/,/^\$/p' | grep -E '^[[:space:]]+[0-9a-f]+:' | grep -v nop"
		[ "${#lines[@]}" -eq 2 ] || fail "$fn: expected two instructions, got: $output"
		[[ ${lines[0]} == *endbr64* ]] || fail "$fn: $output"
		[[ ${lines[1]} =~ jmp[[:space:]]+\*0x[0-9a-f]+\(%rip\).*vgpu_cuda_table ]] || fail "$fn: $output"
	done
}

# --- inside vgpu-run: calls reach the emulator -----------------------------------------------

@test "inside vgpu-run: cuDriverGetVersion and cuInit through libcuda.so.1 reach the emulator" {
	run --separate-stderr in_fixture none "$REAL"'
		vgpu_real -- "$SHIMCALL" lower="$RUN/driver/lower:libcuda.so.1" dlsym:cuInit \
			cuDriverGetVersion lower.cuDriverGetVersion cuInit lower.cuInit
	'
	assert_success
	# The program got the shim (its forwarder), not the emulator.
	assert_line "dlsym cuInit ptr=shim:cuInit"
	local via_shim direct
	for fn in cuDriverGetVersion cuInit; do
		via_shim=$(printf '%s\n' "$output" | sed -n "s/^$fn //p")
		direct=$(printf '%s\n' "$output" | sed -n "s/^lower\\.$fn //p")
		[ -n "$via_shim" ] && [ "$via_shim" = "$direct" ] ||
			fail "$fn through the shim ($via_shim) differs from the emulator's own answer ($direct)"
		# The emulator answered: with success, or with its "not supported" line.
		case $via_shim in
		rc=0*) ;;
		*) [[ $stderr == *"vgpu emulator: $fn is not supported"* ]] ||
			fail "$fn: $via_shim, and no word from the emulator: $stderr" ;;
		esac
	done
	[[ $via_shim != rc=3* ]] || fail "cuInit returned CUDA_ERROR_NOT_INITIALIZED through the shim"
	[[ $stderr != *"vgpu shim"* ]] || fail "the shim complained inside vgpu-run: $stderr"
}

@test "inside vgpu-run: nvmlInit_v2 through libnvidia-ml.so.1 reaches the emulator" {
	run --separate-stderr in_fixture none "$REAL"'
		vgpu_real -- "$SHIMCALL" lowernvml="$RUN/driver/lower:libnvidia-ml.so.1" \
			nvmlInit_v2 lower.nvmlInit_v2 nvmlShutdown lower.nvmlShutdown nvmlErrorString:1
	'
	assert_success
	local via_shim direct
	for fn in nvmlInit_v2 nvmlShutdown; do
		via_shim=$(printf '%s\n' "$output" | sed -n "s/^$fn //p")
		direct=$(printf '%s\n' "$output" | sed -n "s/^lower\\.$fn //p")
		[ -n "$via_shim" ] && [ "$via_shim" = "$direct" ] ||
			fail "$fn through the shim ($via_shim) differs from the emulator's own answer ($direct)"
		case $via_shim in
		rc=0) ;;
		*) [[ $stderr == *"vgpu emulator: $fn is not supported"* ]] ||
			fail "$fn: $via_shim, and no word from the emulator: $stderr" ;;
		esac
	done
	[[ $(printf '%s\n' "$output" | sed -n 's/^nvmlInit_v2 //p') != rc=1 ]] ||
		fail "nvmlInit_v2 returned NVML_ERROR_UNINITIALIZED through the shim"
	[[ $stderr != *"vgpu shim"* ]] || fail "the shim complained inside vgpu-run: $stderr"
}

@test "inside vgpu-run: the shim works 3 processes down, with the environment emptied (execchain)" {
	run --separate-stderr in_fixture none "$REAL"'
		vgpu_real -- "$PROBES/execchain" 3 "$SHIMCALL" lower="$RUN/driver/lower:libcuda.so.1" \
			cuDriverGetVersion lower.cuDriverGetVersion nvmlInit_v2
	'
	assert_success
	local via_shim direct
	via_shim=$(printf '%s\n' "$output" | sed -n "s/^cuDriverGetVersion //p")
	direct=$(printf '%s\n' "$output" | sed -n "s/^lower\\.cuDriverGetVersion //p")
	[ -n "$via_shim" ] && [ "$via_shim" = "$direct" ] || fail "through the shim: $via_shim; direct: $direct"
	refute_line "nvmlInit_v2 rc=1"
	[[ $stderr != *"vgpu shim"* ]] || fail "the shim complained inside vgpu-run: $stderr"
}

# --- cuGetProcAddress ------------------------------------------------------------------------

@test "cuGetProcAddress(_v2) for \"cuGetProcAddress\": the shim's own, v1 below 12000, _v2 from 12000" {
	run --separate-stderr in_fixture none "$REAL"'
		vgpu_real -- "$SHIMCALL" lower="$RUN/driver/lower:libcuda.so.1" \
			procaddr:cuGetProcAddress:12000:0 procaddr:cuGetProcAddress:13000:0 \
			procaddr:cuGetProcAddress:11030:0 procaddr:cuGetProcAddress:12000:2 \
			procaddr1:cuGetProcAddress:12000:0 procaddr1:cuGetProcAddress:11030:0 \
			procaddr:cuGetProcAddress:10000:0
	'
	assert_success
	assert_line "procaddr cuGetProcAddress 12000 0 rc=0 status=0 ptr=shim:cuGetProcAddress_v2"
	assert_line "procaddr cuGetProcAddress 13000 0 rc=0 status=0 ptr=shim:cuGetProcAddress_v2"
	assert_line "procaddr cuGetProcAddress 11030 0 rc=0 status=0 ptr=shim:cuGetProcAddress"
	assert_line "procaddr cuGetProcAddress 12000 2 rc=0 status=0 ptr=shim:cuGetProcAddress_v2"
	assert_line "procaddr1 cuGetProcAddress 12000 0 rc=0 ptr=shim:cuGetProcAddress_v2"
	assert_line "procaddr1 cuGetProcAddress 11030 0 rc=0 ptr=shim:cuGetProcAddress"
	# Older than cuGetProcAddress itself (11.3): not there for that version.
	assert_line "procaddr cuGetProcAddress 10000 0 rc=0 status=2 ptr=null"
}

@test "cuGetProcAddress(_v2) for names the shim does not implement: exactly the lower driver's answer and pointer" {
	run --separate-stderr in_fixture none "$REAL"'
		ops=()
		for req in cuDeviceGetAttribute:2000:0 cuDriverGetVersion:2020:0 cuDeviceGet:2000:0 \
			cuModuleLoadData:2000:0 cuMemcpyDtoH:3020:0 cuMemcpyHtoD:7000:2 \
			cuStreamCreate:2000:0 cuNoSuchFunction:12000:0 "":0:0; do
			ops+=("procaddr:$req" "lower.procaddr:$req" "procaddr1:$req" "lower.procaddr1:$req")
		done
		vgpu_real -- "$SHIMCALL" lower="$RUN/driver/lower:libcuda.so.1" "${ops[@]}"
	'
	assert_success
	local line mine theirs lowerptrs=0
	while IFS= read -r line; do
		case $line in
		procaddr*)
			mine=$line
			theirs=$(printf '%s\n' "$output" | grep -F -x -- "lower.$line" || true)
			[ -n "$theirs" ] || fail "the shim answered '$line'; the lower driver: $(printf '%s\n' "$output" | grep -F -- "lower.${line%% rc=*} rc=")"
			case $mine in *ptr=lower:*) lowerptrs=$((lowerptrs + 1)) ;; esac
			case $mine in *ptr=shim:*) fail "the shim handed out its own function: $mine" ;; esac
			;;
		esac
	done <<<"$output"
	# The emulator implements cuGetProcAddress: some of these are its exported functions.
	[ "$lowerptrs" -gt 0 ] || fail "no answer was a pointer into the lower driver: $output"
	assert_line "procaddr cuDeviceGetAttribute 2000 0 rc=0 status=0 ptr=lower:cuDeviceGetAttribute"
}

# --- outside vgpu-run, and damaged runtime dirs ----------------------------------------------

# A probe run that loads the shim by path and calls into it.
ERROR_CALLS='
	error_calls() {
		as_user "$SHIMCALL" cuda="$SHIM_LIB/libcuda.so.1" nvml="$SHIM_LIB/libnvidia-ml.so.1" \
			cuInit cuDriverGetVersion procaddr:cuGetProcAddress:12000:0 procaddr:cuInit:2000:0 \
			cuGetErrorString:3 cuGetErrorString:801 nvmlInit_v2 nvmlErrorString:1 "$@"
	}
'

# assert_error_mode NEEDLE...: the calls of error_calls all said "not initialized", and
# each library said so in exactly one line on stderr that names every NEEDLE.
assert_error_mode() {
	assert_success
	assert_line "cuInit rc=3"
	assert_line "cuDriverGetVersion rc=3 version=-1"
	assert_line "procaddr cuGetProcAddress 12000 0 rc=3 status=-1 ptr=unchanged"
	assert_line "procaddr cuInit 2000 0 rc=3 status=-1 ptr=unchanged"
	assert_line "cuGetErrorString 3 rc=0 text=initialization error"
	assert_line "cuGetErrorString 801 rc=0 text=operation not supported"
	assert_line "nvmlInit_v2 rc=1"
	assert_line "nvmlErrorString 1 text=Uninitialized"
	[ "${#stderr_lines[@]}" -eq 2 ] || fail "expected one line per library on stderr, got: $stderr"
	local lib line needle
	for lib in libcuda.so.1 libnvidia-ml.so.1; do
		line=$(printf '%s\n' "${stderr_lines[@]}" | grep -F "vgpu shim ($lib): ") ||
			fail "no line from the $lib shim: $stderr"
		[[ $line == *"is this process running under vgpu-run?"* ]] || fail "$line"
		for needle in "$@"; do
			[[ $line == *"$needle"* ]] || fail "the line does not name '$needle': $line"
		done
	done
	[[ $stderr == *"returns CUDA_ERROR_NOT_INITIALIZED (3)"* ]] || fail "$stderr"
	[[ $stderr == *"returns NVML_ERROR_UNINITIALIZED (1)"* ]] || fail "$stderr"
}

@test "outside vgpu-run: one line per library, cuInit 3, nvmlInit_v2 1, error strings still answer" {
	run --separate-stderr in_fixture none "$ERROR_CALLS"'error_calls'
	assert_error_mode "mountinfo" 'tmpfs tagged "vgpu"'
}

# Inside the fixture (root, its own mount namespace): a runtime dir of our making,
# $SCRATCH/fake, a tmpfs tagged vgpu, filled from what vgpu-run itself writes.  The
# shim is loaded from the install by path, outside vgpu-run.
FAKE_RUN="$REAL$ERROR_CALLS"'
	vgpu_real -- /bin/cat "$RUN/policy" >"$SCRATCH/policy"
	vgpu_real -- /bin/cat "$RUN/accounting" >"$SCRATCH/accounting"
	FAKE=$SCRATCH/fake
	mkdir -p "$FAKE"
	mount -t tmpfs -o mode=755 vgpu "$FAKE"
	fake_complete() {
		cp "$SCRATCH/policy" "$FAKE/policy"
		cp "$SCRATCH/accounting" "$FAKE/accounting"
		chmod 644 "$FAKE/policy"
		chmod 666 "$FAKE/accounting"
		mkdir -p "$FAKE/driver"
		cp "$SHIM_LIB/emulator/libcuda.so.1" "$FAKE/driver/lower:libcuda.so.1"
		cp "$SHIM_LIB/emulator/libnvidia-ml.so.1" "$FAKE/driver/lower:libnvidia-ml.so.1"
	}
'

@test "a runtime dir made by hand: the shim finds it and forwards to its driver/ (the control for the damaged ones)" {
	run --separate-stderr in_fixture none "$FAKE_RUN"'
		fake_complete
		as_user "$SHIMCALL" cuda="$SHIM_LIB/libcuda.so.1" nvml="$SHIM_LIB/libnvidia-ml.so.1" lower="$FAKE/driver/lower:libcuda.so.1" \
			cuDriverGetVersion lower.cuDriverGetVersion procaddr:cuGetProcAddress:12000:0 nvmlInit_v2
	'
	assert_success
	local via_shim direct
	via_shim=$(printf '%s\n' "$output" | sed -n "s/^cuDriverGetVersion //p")
	direct=$(printf '%s\n' "$output" | sed -n "s/^lower\\.cuDriverGetVersion //p")
	[ -n "$via_shim" ] && [ "$via_shim" = "$direct" ] || fail "through the shim: $via_shim; direct: $direct"
	assert_line "procaddr cuGetProcAddress 12000 0 rc=0 status=0 ptr=shim:cuGetProcAddress_v2"
	refute_line "nvmlInit_v2 rc=1"
	[[ $stderr != *"vgpu shim"* ]] || fail "the shim complained: $stderr"
}

@test "damaged runtime dir: a garbled policy is named, with its line" {
	run --separate-stderr in_fixture none "$FAKE_RUN"'
		fake_complete
		printf "# vgpu-run canonical policy, format 1\nthis is not a policy\n# end\n" >"$FAKE/policy"
		error_calls
	'
	assert_error_mode "/fake/policy:2"
}

@test "damaged runtime dir: a truncated policy (no end line) is refused" {
	run --separate-stderr in_fixture none "$FAKE_RUN"'
		fake_complete
		head -n 2 "$SCRATCH/policy" >"$FAKE/policy"
		error_calls
	'
	assert_error_mode "/fake/policy"
}

@test "damaged runtime dir: no policy file" {
	run --separate-stderr in_fixture none "$FAKE_RUN"'
		fake_complete
		rm "$FAKE/policy"
		error_calls
	'
	assert_error_mode "/fake/policy" "No such file"
}

@test "damaged runtime dir: an accounting region with the wrong magic" {
	run --separate-stderr in_fixture none "$FAKE_RUN"'
		fake_complete
		printf "XXXXXXXX" | dd of="$FAKE/accounting" conv=notrunc status=none
		error_calls
	'
	assert_error_mode "/fake/accounting" "magic"
}

@test "damaged runtime dir: an accounting region of the wrong size, and none at all" {
	run --separate-stderr in_fixture none "$FAKE_RUN"'
		fake_complete
		truncate -s 4096 "$FAKE/accounting"
		error_calls
	'
	assert_error_mode "/fake/accounting" "4096"
	run --separate-stderr in_fixture none "$FAKE_RUN"'
		fake_complete
		rm "$FAKE/accounting"
		error_calls
	'
	assert_error_mode "/fake/accounting" "No such file"
}

@test "damaged runtime dir: no driver/" {
	run --separate-stderr in_fixture none "$FAKE_RUN"'
		fake_complete
		rm -r "$FAKE/driver"
		error_calls
	'
	assert_error_mode "/fake/driver/lower:lib" "lower driver"
}

@test "a lower driver without some of the names: they return 801 and say so once each; the rest forward" {
	# The fake driver of the launcher tests exports only a handful of functions.
	run --separate-stderr in_fixture none "$FAKE_RUN"'
		fake_complete
		cp "$FAKE_DRIVER/libcuda.so.$DRIVER_VERSION" "$FAKE/driver/lower:libcuda.so.1"
		as_user "$SHIMCALL" cuda="$SHIM_LIB/libcuda.so.1" cuDriverGetVersion cuDriverGetVersion \
			cuGetErrorString:0 cuGetErrorString:0 procaddr:cuGetProcAddress:12000:0 procaddr:cuInit:2000:0
	'
	assert_success
	# The fake driver answers cuDriverGetVersion with 58001.
	assert_line "cuDriverGetVersion rc=0 version=58001"
	# It lacks cuGetErrorString: 801, output untouched, one line.
	assert_line "cuGetErrorString 0 rc=801 text=(unset)"
	[ "$(printf '%s\n' "$stderr" | grep -c "cuGetErrorString is not in the lower driver")" -eq 1 ] ||
		fail "expected one line about cuGetErrorString: $stderr"
	[[ $stderr == *"/fake/driver/lower:libcuda.so.1; it returns CUDA_ERROR_NOT_SUPPORTED (801)"* ]] || fail "$stderr"
	# Its cuGetProcAddress_v2 knows no name: its verdict stands, for cuGetProcAddress too.
	assert_line "procaddr cuGetProcAddress 12000 0 rc=500 status=1 ptr=null"
	assert_line "procaddr cuInit 2000 0 rc=500 status=1 ptr=null"
}

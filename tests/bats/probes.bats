#!/usr/bin/env bats
# The test probes themselves, without vgpu-run: if these are wrong, the launcher suites
# prove nothing.  (Runs once, as root, in the fixture.)

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	vgpu_require
}

@test "probe libraries: each tells its own identity, by path" {
	run in_fixture none '
		"$PROBES/whichlib" "$LIBDIR/libcuda.so.1" "$LIBDIR/libnvidia-ml.so.1" \
			"$LIBDIR/emulator/libcuda.so.1" "$LIBDIR/emulator/libnvidia-ml.so.1" \
			"$FAKE_DRIVER/libcuda.so.$DRIVER_VERSION" "$FAKE_DRIVER/libnvidia-ml.so.$DRIVER_VERSION"
	'
	assert_success
	assert_line "$LIBDIR/libcuda.so.1 identity=shim-cuda file=$LIBDIR/libcuda.so.1"
	assert_line "$LIBDIR/libnvidia-ml.so.1 identity=shim-nvml file=$LIBDIR/libnvidia-ml.so.1"
	assert_line "$LIBDIR/emulator/libcuda.so.1 identity=emulator-cuda file=$LIBDIR/emulator/libcuda.so.1"
	assert_line "$LIBDIR/emulator/libnvidia-ml.so.1 identity=emulator-nvml file=$LIBDIR/emulator/libnvidia-ml.so.1"
	assert_line "$FAKE_DRIVER/libcuda.so.$DRIVER_VERSION identity=driver-cuda file=$FAKE_DRIVER/libcuda.so.$DRIVER_VERSION"
	assert_line "$FAKE_DRIVER/libnvidia-ml.so.$DRIVER_VERSION identity=driver-nvml file=$FAKE_DRIVER/libnvidia-ml.so.$DRIVER_VERSION"
}

@test "probe libraries: sonames libcuda.so.1 / libnvidia-ml.so.1, the CUDA and NVML entry points exported" {
	local f
	for f in "$LIBDIR/libcuda.so.1" "$FAKE_DRIVER/libcuda.so.$DRIVER_VERSION"; do
		run objdump -p "$f"
		assert_line --regexp 'SONAME +libcuda\.so\.1$'
	done
	for f in "$LIBDIR/libnvidia-ml.so.1" "$FAKE_DRIVER/libnvidia-ml.so.$DRIVER_VERSION"; do
		run objdump -p "$f"
		assert_line --regexp 'SONAME +libnvidia-ml\.so\.1$'
	done
	run "$PYTHON" -c '
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
v = ctypes.c_int(0)
print("cuInit", lib.cuInit(0))
print("cuDriverGetVersion", lib.cuDriverGetVersion(ctypes.byref(v)), v.value)
p = ctypes.c_void_p(1)
print("cuGetProcAddress_v2", lib.cuGetProcAddress_v2(b"cuInit", ctypes.byref(p), 12000, 0, None), p.value)
buf = ctypes.create_string_buffer(80)
print("nvmlInit_v2", lib.nvmlInit_v2())
print("nvmlSystemGetDriverVersion", lib.nvmlSystemGetDriverVersion(buf, 80), buf.value.decode())
for name in ("cuGetProcAddress", "cuGetExportTable", "nvmlShutdown"):
    getattr(lib, name)
' "$FAKE_DRIVER/libcuda.so.$DRIVER_VERSION"
	assert_success
	assert_line "cuInit 0"
	assert_line "cuDriverGetVersion 0 58001"
	assert_line "cuGetProcAddress_v2 500 None"
	assert_line "nvmlInit_v2 0"
	assert_line "nvmlSystemGetDriverVersion 0 580.0.1 (driver-cuda)"
}

@test "fixture: the fake driver is what loads there, by soname, outside vgpu-run" {
	run in_fixture standard '"$PROBES/whichlib" libcuda.so.1 libnvidia-ml.so.1 libcuda.so'
	assert_success
	assert_line --regexp '^libcuda\.so\.1 identity=driver-cuda '
	assert_line --regexp '^libnvidia-ml\.so\.1 identity=driver-nvml '
	assert_line --regexp '^libcuda\.so identity=driver-cuda '
	run in_fixture nonstandard '"$PROBES/whichlib" libcuda.so.1'
	assert_success
	assert_line "libcuda.so.1 identity=driver-cuda file=$NONSTD_DRIVER_DIR/libcuda.so.1"
}

@test "fixture: without LD_LIBRARY_PATH the ldpath driver is not found, with it it is" {
	run in_fixture ldpath '
		"$PROBES/whichlib" libcuda.so.1 2>&1
		LD_LIBRARY_PATH=$DRIVER_DIR "$PROBES/whichlib" libcuda.so.1
	'
	assert_line --partial "dlopen libcuda.so.1 failed"
	assert_line "libcuda.so.1 identity=driver-cuda file=$LDPATH_DRIVER_DIR/libcuda.so.1"
}

@test "fixture: the host is left alone (no driver in the host's cache or /usr/lib, no fake GPUs in the host's /proc)" {
	run in_fixture standard '"$PROBES/whichlib" libcuda.so.1'
	assert_success
	run ldconfig -p
	refute_line --regexp 'libcuda\.so|libnvidia-ml\.so'
	[ ! -e "$STD_DRIVER_DIR/libcuda.so.$DRIVER_VERSION" ] || fail "the fake driver is in the host's $STD_DRIVER_DIR"
	[ ! -e /proc/driver/nvidia/gpus/$GPU0_BUS ] || fail "the fake GPU is in the host's /proc/driver"
	[ ! -e "$NONSTD_DRIVER_DIR" ] || fail "$NONSTD_DRIVER_DIR exists on the host"
}

@test "fixture: fake GPUs readable in /proc/driver/nvidia/gpus, as uid 65534 too" {
	run in_fixture none 'VGPU_TEST_USER=nobody as_user cat "/proc/driver/nvidia/gpus/$GPU1_BUS/information"'
	assert_success
	assert_line --regexp $'^GPU UUID: \t '"$GPU1_UUID"'$'
	assert_line --regexp $'^Bus Location: \t '"$GPU1_BUS"'$'
	assert_line --regexp $'^Model: \t\t NVIDIA H200$'
}

@test "execchain: the command runs three levels below the top one, every level below the top with an empty environment" {
	run in_fixture none '
		FOO=bar "$PROBES/execchain" 3 /bin/sh -c "
			echo env=\$(/usr/bin/env | tr \"\\n\" \" \")
			p=\$PPID
			for i in 1 2 3 4; do
				echo \"ancestor \$i: \$(readlink /proc/\$p/exe) env=\$(tr \"\\0\" \" \" </proc/\$p/environ | wc -c)\"
				p=\$(awk \"{ print \\\$4 }\" /proc/\$p/stat)
			done
		"
	'
	assert_success
	# sh itself adds PWD (and maybe SHLVL, _) to an empty environment; FOO must be gone.
	refute_output --partial FOO
	# The command replaced "execchain 0"; above it "execchain 1" and "execchain 2", started
	# with nothing, and the top "execchain 3" with this shell's environment.
	assert_line "ancestor 1: $PROBES/execchain env=0"
	assert_line "ancestor 2: $PROBES/execchain env=0"
	assert_line --regexp "^ancestor 3: $PROBES/execchain env=[1-9][0-9]*$"
	refute_line --regexp "^ancestor 4: $PROBES/execchain"
}

@test "execchain: passes exit status and death by signal up" {
	run in_fixture none '"$PROBES/execchain" 3 /bin/sh -c "exit 42"'
	assert_failure 42
	run in_fixture none '"$PROBES/execchain" 2 /bin/sh -c "kill -9 \$\$"'
	assert_failure 137
	run -127 in_fixture none '"$PROBES/execchain" 1 /no/such/command'
}

@test "syscalls --abi-available: reports each ABI; x86_64 available" {
	run "$PROBES/syscalls" --abi-available
	assert_success
	assert_line "x86_64 available"
	assert_line --regexp '^x32 (available|unavailable: .+)$'
	assert_line --regexp '^i386 (available|unavailable: .+)$'
}

@test "syscalls: an unavailable ABI is reported as SKIP with the reason, never as a result" {
	run "$PROBES/syscalls" --abi-available
	if [[ ! $output =~ x32\ unavailable ]]; then
		skip "x32 works on this kernel: nothing to skip"
	fi
	run in_fixture none '"$PROBES/syscalls"'
	assert_success
	refute_line --regexp '^x32 [^ ]+ (errno|ret|killed)='
	assert_line --regexp '^x32 mount SKIP \(x32 ABI unavailable: getpid through the x32 ABI gave ENOSYS'
}

@test "threads: runs 8 threads outside vgpu-run" {
	run "$PROBES/threads"
	assert_success
	assert_output "threads: 8 started, 8 finished correctly"
}

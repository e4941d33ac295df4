#!/usr/bin/env bats
# vgpu-test-users: root nobody
#
# Which libcuda.so.1 / libnvidia-ml.so.1 do the target and its descendants get?
# Ours (the probe library with identity shim-cuda / shim-nvml), however they ask for it:
# by soname, by the development name, by the driver file's absolute path, with
# LD_LIBRARY_PATH pointing at the driver's directory, with the driver file in
# LD_PRELOAD, under env -i; the target itself and its great-grandchildren through a
# shell, Python, and a C program that empties the environment at every level.  Outside
# vgpu-run (in the same fixture) the fake driver is still what loads.

setup() {
	load helpers
	vgpu_require
}

# Runs inside the fixture.  $1: cuda | nvml, $2: direct | shell | python | execchain.
# Prints "LABEL: <whichlib line>" per variant, "LABEL: FAILED (status N)" when one failed,
# and "outside: <whichlib line>" for the same soname outside vgpu-run.
LOADING_SCRIPT='
	case $1 in
	cuda) base=libcuda ;;
	nvml) base=libnvidia-ml ;;
	esac
	so=$base.so.1
	W=$PROBES/whichlib
	case $2 in
	direct) chain=() ;;
	shell) chain=(/bin/sh -c "$SH3" sh) ;;
	python) chain=("$PYTHON" -c "$PY_SPAWN" "$PYTHON" -c "$PY_SPAWN" "$PYTHON" -c "$PY_SPAWN") ;;
	execchain) chain=("$PROBES/execchain" 3) ;;
	esac
	# try LABEL ENV-ASSIGNMENT|- NAME: env for the whole chain, or (execchain, which
	# empties it at every level) for the last process only.
	try() {
		local label=$1 assign=$2 name=$3 out st
		local envtop=(/usr/bin/env) envleaf=()
		if [ "$assign" = "-i" ]; then
			envtop=(/usr/bin/env -i)
		elif [ "$assign" != - ]; then
			if [ "${chain[0]:-}" = "$PROBES/execchain" ]; then
				envleaf=(/usr/bin/env "$assign")
			else
				envtop=(/usr/bin/env "$assign")
			fi
		fi
		out=$(vgpu -- "${envtop[@]}" "${chain[@]}" "${envleaf[@]}" "$W" "$name" 2>&1)
		st=$?
		if [ $st -eq 0 ]; then
			echo "$label: $out"
		else
			echo "$label: FAILED (status $st): $out"
		fi
	}
	try soname - "$so"
	try devname - "$base.so"
	try driver-file - "$DRIVER_DIR/$base.so.$DRIVER_VERSION"
	try driver-link - "$DRIVER_DIR/$so"
	try ld-library-path "LD_LIBRARY_PATH=$DRIVER_DIR" "$so"
	try ld-preload "LD_PRELOAD=$DRIVER_DIR/$base.so.$DRIVER_VERSION" "$so"
	try env-i -i "$so"
	echo "outside: $("$W" "$so" 2>&1)"
'

# loads_ours MODE LIB CHAIN
loads_ours() {
	local mode=$1 lib=$2 chain=$3 ours theirs label
	case $lib in
	cuda) ours=shim-cuda theirs=driver-cuda ;;
	nvml) ours=shim-nvml theirs=driver-nvml ;;
	esac
	run in_fixture "$mode" "$LOADING_SCRIPT" "$lib" "$chain"
	assert_success
	for label in soname devname driver-file driver-link ld-library-path ld-preload env-i; do
		assert_line --regexp "^$label: [^ ]+ identity=$ours file="
	done
	refute_line --partial FAILED
	assert_line --regexp "^outside: [^ ]+ identity=$theirs file="
}

@test "standard driver dir: libcuda, target itself: ours by soname, dev name, path, LD_LIBRARY_PATH, LD_PRELOAD, env -i" {
	loads_ours standard cuda direct
}

@test "standard driver dir: libcuda, 3 levels down through sh: ours every way" {
	loads_ours standard cuda shell
}

@test "standard driver dir: libcuda, 3 levels down through Python: ours every way" {
	loads_ours standard cuda python
}

@test "standard driver dir: libcuda, 3 levels down, environment emptied at each level (execchain): ours every way" {
	loads_ours standard cuda execchain
}

@test "standard driver dir: libnvidia-ml, target itself: ours every way" {
	loads_ours standard nvml direct
}

@test "standard driver dir: libnvidia-ml, 3 levels down through sh: ours every way" {
	loads_ours standard nvml shell
}

@test "standard driver dir: libnvidia-ml, 3 levels down through Python: ours every way" {
	loads_ours standard nvml python
}

@test "standard driver dir: libnvidia-ml, 3 levels down, environment emptied at each level (execchain): ours every way" {
	loads_ours standard nvml execchain
}

@test "driver only in ld.so.cache (/usr/local/nvidia/lib64): libcuda, target itself: ours every way" {
	loads_ours nonstandard cuda direct
}

@test "driver only in ld.so.cache (/usr/local/nvidia/lib64): libcuda, 3 levels down through sh: ours every way" {
	loads_ours nonstandard cuda shell
}

@test "driver only in ld.so.cache (/usr/local/nvidia/lib64): libcuda, 3 levels down through Python: ours every way" {
	loads_ours nonstandard cuda python
}

@test "driver only in ld.so.cache (/usr/local/nvidia/lib64): libcuda, 3 levels down (execchain): ours every way" {
	loads_ours nonstandard cuda execchain
}

@test "driver only in ld.so.cache (/usr/local/nvidia/lib64): libnvidia-ml, target itself: ours every way" {
	loads_ours nonstandard nvml direct
}

@test "driver only in ld.so.cache (/usr/local/nvidia/lib64): libnvidia-ml, 3 levels down through sh: ours every way" {
	loads_ours nonstandard nvml shell
}

@test "driver only in ld.so.cache (/usr/local/nvidia/lib64): libnvidia-ml, 3 levels down through Python: ours every way" {
	loads_ours nonstandard nvml python
}

@test "driver only in ld.so.cache (/usr/local/nvidia/lib64): libnvidia-ml, 3 levels down (execchain): ours every way" {
	loads_ours nonstandard nvml execchain
}

@test "driver only on LD_LIBRARY_PATH: found there, and ours loads with and without that LD_LIBRARY_PATH" {
	run in_fixture ldpath '
		echo "with: $(LD_LIBRARY_PATH=$DRIVER_DIR vgpu -- "$PROBES/whichlib" libcuda.so.1 libnvidia-ml.so.1 2>&1 | tr "\n" " ")"
		echo "dropped: $(LD_LIBRARY_PATH=$DRIVER_DIR vgpu -- /usr/bin/env -u LD_LIBRARY_PATH "$PROBES/whichlib" "$DRIVER_DIR/libcuda.so.1" 2>&1)"
		echo "outside: $(LD_LIBRARY_PATH=$DRIVER_DIR "$PROBES/whichlib" libcuda.so.1 2>&1)"
	'
	assert_success
	assert_line --regexp "^with: libcuda.so.1 identity=shim-cuda file=[^ ]+ libnvidia-ml.so.1 identity=shim-nvml file="
	assert_line --regexp "^dropped: [^ ]+ identity=shim-cuda file="
	assert_line --regexp "^outside: libcuda.so.1 identity=driver-cuda file="
}

@test "a Python program loading libcuda.so.1 and libnvidia-ml.so.1 with ctypes gets ours" {
	run in_fixture standard '
		vgpu -- "$PYTHON" -c "
import ctypes, sys
for name in sys.argv[1:]:
    lib = ctypes.CDLL(name)
    f = lib.vgpu_probe_identity
    f.restype = ctypes.c_char_p
    print(name, \"identity=\" + f().decode())
" libcuda.so.1 libnvidia-ml.so.1
	'
	assert_success
	assert_line "libcuda.so.1 identity=shim-cuda"
	assert_line "libnvidia-ml.so.1 identity=shim-nvml"
}

@test "no driver installed: libcuda.so.1 and libnvidia-ml.so.1 resolve to ours by the default search, also 3 levels down with no environment" {
	run in_fixture none '
		echo "target: $(vgpu -- "$PROBES/whichlib" libcuda.so.1 libnvidia-ml.so.1 2>&1 | tr "\n" " ")"
		echo "execchain: $(vgpu -- "$PROBES/execchain" 3 "$PROBES/whichlib" libcuda.so.1 libnvidia-ml.so.1 2>&1 | tr "\n" " ")"
		echo "outside: $("$PROBES/whichlib" libcuda.so.1 2>&1)"
	'
	assert_success
	assert_line --regexp "^target: libcuda.so.1 identity=shim-cuda file=[^ ]+ libnvidia-ml.so.1 identity=shim-nvml file="
	assert_line --regexp "^execchain: libcuda.so.1 identity=shim-cuda file=[^ ]+ libnvidia-ml.so.1 identity=shim-nvml file="
	assert_line --regexp "^outside: whichlib: dlopen libcuda.so.1 failed"
}

@test "no driver installed: ldconfig -p inside lists libcuda.so.1, libcuda.so, libnvidia-ml.so.1, libnvidia-ml.so as ours" {
	local libdir
	libdir=$(realpath "$LIBDIR")
	run in_fixture none 'vgpu -- /sbin/ldconfig -p'
	assert_success
	assert_line --regexp "^[[:space:]]+libcuda\.so\.1 \(libc6,x86-64\) => $libdir/libcuda\.so\.1\$"
	assert_line --regexp "^[[:space:]]+libnvidia-ml\.so\.1 \(libc6,x86-64\) => $libdir/libnvidia-ml\.so\.1\$"
	assert_line --regexp "^[[:space:]]+libcuda\.so \(libc6,x86-64\) => $libdir/libcuda\.so\.1\$"
	assert_line --regexp "^[[:space:]]+libnvidia-ml\.so \(libc6,x86-64\) => $libdir/libnvidia-ml\.so\.1\$"
	# ...and the rest of the cache is still there.
	assert_line --regexp "^[[:space:]]+libc\.so\.6 \(libc6,x86-64"
}

@test "no driver installed: outside vgpu-run ldconfig -p still lists no libcuda" {
	run in_fixture none 'vgpu -- true && /sbin/ldconfig -p'
	assert_success
	refute_line --regexp 'libcuda\.so|libnvidia-ml\.so'
	assert_line --regexp "^[[:space:]]+libc\.so\.6 \(libc6,x86-64"
}

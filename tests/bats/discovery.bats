#!/usr/bin/env bats
# vgpu-test-users: root nobody
#
# Driver installations other than the plain one of loading.bats, as real machines have
# them; in each the driver files must be covered (whichlib by the file's path gets ours)
# and driver/ of the runtime dir must hold the real driver:
#   Debian's packages    the files in /usr/lib/x86_64-linux-gnu/nvidia/current, the
#                        soname links in /usr/lib/x86_64-linux-gnu pointing there
#   WSL                  /usr/lib/wsl/lib/libcuda.so.1.1, not in ld.so.cache
#   container toolkit    /usr/local/nvidia/lib64 (in ld.so.cache), with links in /usr/lib
#                        pointing there (seen on the GPU machines this project uses)
#   Arch (Ollama glob)   /opt/cuda/lib64, not in ld.so.cache
#   a CUDA toolkit dir   /usr/local/cuda-*/targets/*/lib (an Ollama pattern with two
#                        '*' components); '*' matches no leading dot (targets/.hidden)
#   policy driver-path   a directory nothing else names
#   two copies           the distribution's and a vendor copy on LD_LIBRARY_PATH
#   a toolkit stub       libcuda.so from .../stubs on LD_LIBRARY_PATH, no driver: it is
#                        covered too (else a program finds the stub, not the emulator)

setup() {
	load helpers
	vgpu_require
}

# Puts the fake libcuda/libnvidia-ml into DIR as FILE names (VERSIONED), with the
# links the layout has.  Runs in the fixture.
INSTALL_AS='
	install_as() { # DIR VERSIONED-SUFFIX
		local dir=$1 v=$2 lib
		mkdir -p "$dir"
		for lib in libcuda libnvidia-ml; do
			cp "$FAKE_DRIVER/$lib.so.$DRIVER_VERSION" "$dir/$lib.so.$v"
			chmod 755 "$dir/$lib.so.$v"
			[ "$v" = 1 ] || ln -sf "$lib.so.$v" "$dir/$lib.so.1"
			ln -sf "$lib.so.1" "$dir/$lib.so"
		done
	}
'

# Checks, inside vgpu-run, that each PATH loads ours and driver/ holds the driver.
covered() { # PATH...
	local p
	for p in "$@"; do
		case $p in
		*nvidia-ml*) assert_line --regexp "^$p identity=shim-nvml " ;;
		*) assert_line --regexp "^$p identity=shim-cuda " ;;
		esac
	done
}

@test "Debian layout (nvidia/current + links): every path of the driver loads ours; driver/ is the driver" {
	run in_fixture none "$INSTALL_AS"'
		fixture_overlay "$STD_DRIVER_DIR" stdlib
		install_as "$STD_DRIVER_DIR/nvidia/current" "$DRIVER_VERSION"
		for lib in libcuda libnvidia-ml; do
			ln -sf "nvidia/current/$lib.so.1" "$STD_DRIVER_DIR/$lib.so.1"
		done
		ldconfig -X -C "$FIX/ld.so.cache" 2>/dev/null
		mount --bind "$FIX/ld.so.cache" /etc/ld.so.cache
		D=$STD_DRIVER_DIR/nvidia/current
		vgpu -- "$PROBES/whichlib" libcuda.so.1 libnvidia-ml.so.1 "$D/libcuda.so.$DRIVER_VERSION" \
			"$D/libnvidia-ml.so.$DRIVER_VERSION" "$D/libcuda.so" "$STD_DRIVER_DIR/libcuda.so.1"
		vgpu -- "$PROBES/whichlib" "$LIBDIR/run/driver/lower:libcuda.so.1"
	'
	assert_success
	local d=$STD_DRIVER_DIR/nvidia/current
	covered libcuda.so.1 libnvidia-ml.so.1 "$d/libcuda.so.$DRIVER_VERSION" "$d/libnvidia-ml.so.$DRIVER_VERSION" \
		"$d/libcuda.so" "$STD_DRIVER_DIR/libcuda.so.1"
	assert_line --regexp '/run/driver/lower:libcuda\.so\.1 identity=driver-cuda '
}

@test "WSL layout (/usr/lib/wsl/lib, not in ld.so.cache): covered, with and without LD_LIBRARY_PATH" {
	run in_fixture none "$INSTALL_AS"'
		fixture_overlay /usr/lib usrlib
		install_as /usr/lib/wsl/lib 1.1
		vgpu -- "$PROBES/whichlib" /usr/lib/wsl/lib/libcuda.so.1 /usr/lib/wsl/lib/libcuda.so.1.1 /usr/lib/wsl/lib/libnvidia-ml.so.1
		LD_LIBRARY_PATH=/usr/lib/wsl/lib vgpu -- "$PROBES/whichlib" libcuda.so.1 libnvidia-ml.so.1
		vgpu -- "$PROBES/whichlib" "$LIBDIR/run/driver/lower:libcuda.so.1"
	'
	assert_success
	covered /usr/lib/wsl/lib/libcuda.so.1 /usr/lib/wsl/lib/libcuda.so.1.1 /usr/lib/wsl/lib/libnvidia-ml.so.1 \
		libcuda.so.1 libnvidia-ml.so.1
	assert_line --regexp '/run/driver/lower:libcuda\.so\.1 identity=driver-cuda '
}

@test "container toolkit layout (/usr/local/nvidia/lib64 + links in /usr/lib pointing there): every path covered" {
	run in_fixture nonstandard '
		fixture_overlay /usr/lib usrlib
		for f in libcuda.so libcuda.so.1 libnvidia-ml.so libnvidia-ml.so.1; do
			ln -s "$NONSTD_DRIVER_DIR/$f" "/usr/lib/$f"
		done
		vgpu -- "$PROBES/whichlib" /usr/lib/libcuda.so.1 /lib/libcuda.so /usr/lib/libnvidia-ml.so.1 \
			"$NONSTD_DRIVER_DIR/libcuda.so.'"$DRIVER_VERSION"'" libcuda.so.1
		vgpu -- /usr/bin/env LD_LIBRARY_PATH=/usr/lib "$PROBES/whichlib" libnvidia-ml.so.1
	'
	assert_success
	covered /usr/lib/libcuda.so.1 /lib/libcuda.so /usr/lib/libnvidia-ml.so.1 \
		"$NONSTD_DRIVER_DIR/libcuda.so.$DRIVER_VERSION" libcuda.so.1 libnvidia-ml.so.1
}

@test "Arch layout (/opt/cuda/lib64, one of Ollama's globs, not in ld.so.cache): covered" {
	run in_fixture none "$INSTALL_AS"'
		fixture_overlay /opt opt
		install_as /opt/cuda/lib64 "$DRIVER_VERSION"
		vgpu -- "$PROBES/whichlib" /opt/cuda/lib64/libcuda.so.1 /opt/cuda/lib64/libcuda.so "/opt/cuda/lib64/libnvidia-ml.so.$DRIVER_VERSION"
		vgpu -- "$PROBES/whichlib" "$LIBDIR/run/driver/lower:libcuda.so.1"
	'
	assert_success
	covered /opt/cuda/lib64/libcuda.so.1 /opt/cuda/lib64/libcuda.so "/opt/cuda/lib64/libnvidia-ml.so.$DRIVER_VERSION"
	assert_line --regexp '/run/driver/lower:libcuda\.so\.1 identity=driver-cuda '
}

@test "Ollama's patterns match as glob(3) does: /usr/local/cuda*/targets/*/lib covered, a hidden targets/.x directory not" {
	run in_fixture none "$INSTALL_AS"'
		fixture_overlay /usr/local usrlocal
		install_as /usr/local/cuda-99.9/targets/x86_64-linux/lib "$DRIVER_VERSION"
		install_as /usr/local/cuda-99.9/targets/.hidden/lib "$DRIVER_VERSION"
		vgpu -- "$PROBES/whichlib" /usr/local/cuda-99.9/targets/x86_64-linux/lib/libcuda.so.1 /usr/local/cuda-99.9/targets/x86_64-linux/lib/libnvidia-ml.so.1 /usr/local/cuda-99.9/targets/.hidden/lib/libcuda.so.1
		vgpu --dry-run -- true
	'
	assert_success
	covered /usr/local/cuda-99.9/targets/x86_64-linux/lib/libcuda.so.1 /usr/local/cuda-99.9/targets/x86_64-linux/lib/libnvidia-ml.so.1
	assert_line --regexp "/usr/local/cuda-99\.9/targets/x86_64-linux/lib/libcuda\.so\.$DRIVER_VERSION.*Ollama glob"
	assert_line --regexp "^/usr/local/cuda-99\\.9/targets/\\.hidden/lib/libcuda\\.so\\.1 identity=driver-cuda "
	refute_line --partial "targets/.hidden/lib/libcuda.so.$DRIVER_VERSION"
}

@test "a pattern's directories hold thousands of other files: discovery still reads them all (its buffer grows mid-walk)" {
	run in_fixture none "$INSTALL_AS"'
		fixture_overlay /usr/local usrlocal
		for v in 99.8 99.9; do
			lib=/usr/local/cuda-$v/targets/x86_64-linux/lib
			install_as "$lib" "$DRIVER_VERSION"
			(cd "$lib" && seq -f "libfiller-with-a-long-name-%05g.so" 1 6000 | xargs touch)
		done
		vgpu --dry-run -- true
	'
	assert_success
	assert_line --regexp "/usr/local/cuda-99\.8/targets/x86_64-linux/lib/libcuda\.so\.$DRIVER_VERSION.*Ollama glob"
	assert_line --regexp "/usr/local/cuda-99\.9/targets/x86_64-linux/lib/libcuda\.so\.$DRIVER_VERSION.*Ollama glob"
}

@test "policy driver-path: a directory only the policy names is covered, and is the lower driver" {
	run in_fixture ldpath '
		printf "driver-path = %s\n" "$DRIVER_DIR" >"$SCRATCH/p.conf"
		vgpu -p "$SCRATCH/p.conf" -- "$PROBES/whichlib" "$DRIVER_DIR/libcuda.so.1" "$DRIVER_DIR/libnvidia-ml.so.1"
		vgpu -p "$SCRATCH/p.conf" -- "$PROBES/whichlib" "$LIBDIR/run/driver/lower:libcuda.so.1"
		vgpu -p "$SCRATCH/p.conf" --dry-run -- true
	'
	assert_success
	covered "$LDPATH_DRIVER_DIR/libcuda.so.1" "$LDPATH_DRIVER_DIR/libnvidia-ml.so.1"
	assert_line --regexp '/run/driver/lower:libcuda\.so\.1 identity=driver-cuda '
	assert_line --regexp "$LDPATH_DRIVER_DIR/libcuda\.so\.$DRIVER_VERSION.*driver-path"
}

@test "two copies of the driver (the distribution's, and a vendor copy on LD_LIBRARY_PATH): both covered" {
	run in_fixture standard "$INSTALL_AS"'
		fixture_overlay /opt opt
		install_as "$LDPATH_DRIVER_DIR" "$DRIVER_VERSION"
		LD_LIBRARY_PATH=$LDPATH_DRIVER_DIR vgpu -- /usr/bin/env -u LD_LIBRARY_PATH "$PROBES/whichlib" \
			"$STD_DRIVER_DIR/libcuda.so.1" "$LDPATH_DRIVER_DIR/libcuda.so.1" \
			"$STD_DRIVER_DIR/libnvidia-ml.so.1" "$LDPATH_DRIVER_DIR/libnvidia-ml.so.1"
	'
	assert_success
	covered "$STD_DRIVER_DIR/libcuda.so.1" "$LDPATH_DRIVER_DIR/libcuda.so.1" \
		"$STD_DRIVER_DIR/libnvidia-ml.so.1" "$LDPATH_DRIVER_DIR/libnvidia-ml.so.1"
}

@test "a CUDA toolkit stub on LD_LIBRARY_PATH and no driver: the stub is covered, the emulator is the lower driver" {
	run in_fixture none '
		fixture_overlay /opt opt
		mkdir -p /opt/vgpu-test-toolkit/lib64/stubs
		cp "$FAKE_DRIVER/libcuda.so.$DRIVER_VERSION" /opt/vgpu-test-toolkit/lib64/stubs/libcuda.so
		LD_LIBRARY_PATH=/opt/vgpu-test-toolkit/lib64/stubs vgpu -- "$PROBES/whichlib" libcuda.so
		LD_LIBRARY_PATH=/opt/vgpu-test-toolkit/lib64/stubs vgpu -- "$PROBES/whichlib" "$LIBDIR/run/driver/lower:libcuda.so.1"
	'
	assert_success
	covered libcuda.so
	assert_line --regexp '/run/driver/lower:libcuda\.so\.1 identity=emulator-cuda '
}

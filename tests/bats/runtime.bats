#!/usr/bin/env bats
# vgpu-test-users: root nobody
#
# The runtime dir as the target sees it: one tmpfs tagged "vgpu" on LIBDIR/run holding
# the canonical policy, the accounting region and driver/ (the lower driver: the real one,
# or the emulator); the covered files and the runtime dir's contents read-only; none of
# it visible outside, not even while the target runs.
#
# Tests that try to write run with a copy of the lib dir (--lib-dir $SCRATCH/lib), so
# that a launcher bug cannot damage the build's files.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	vgpu_require
}

# A copy of the lib dir in the fixture's scratch space, readable by uid 65534.
COPY_LIBDIR='
	mkdir -p "$SCRATCH/lib/emulator" "$SCRATCH/lib/run"
	cp "$LIBDIR"/libcuda.so.1 "$LIBDIR"/libnvidia-ml.so.1 "$SCRATCH/lib/"
	cp "$LIBDIR"/emulator/libcuda.so.1 "$LIBDIR"/emulator/libnvidia-ml.so.1 "$SCRATCH/lib/emulator/"
	chmod -R a+rX "$SCRATCH/lib"
	LIBDIR=$SCRATCH/lib
'

@test "runtime dir: exactly one tmpfs with source 'vgpu', on LIBDIR/run, holding policy, accounting and driver/" {
	local libdir
	libdir=$(realpath "$LIBDIR")
	run in_fixture standard 'vgpu -- /bin/sh -c "grep \" - tmpfs vgpu \" /proc/self/mountinfo | cut -d\" \" -f5 | sed \"s/^/mount /\"; ls \"$LIBDIR/run\" \"$LIBDIR/run/driver\""'
	assert_success
	assert_line "mount $libdir/run"
	assert_line "mount $libdir/run/policy"
	assert_line "policy"
	assert_line "accounting"
	assert_line "lower:libcuda.so.1"
	assert_line "lower:libnvidia-ml.so.1"
	# The tmpfs and the read-only bind of its policy file; nothing else tagged vgpu.
	[ "$(printf '%s\n' "$output" | grep -c "^mount ")" -eq 2 ] || fail "unexpected vgpu mounts: $output"
}

@test "runtime dir: driver/ holds the real driver when one is installed" {
	run in_fixture standard 'vgpu -- "$PROBES/whichlib" "$LIBDIR/run/driver/lower:libcuda.so.1"; vgpu -- "$PROBES/whichlib" "$LIBDIR/run/driver/lower:libnvidia-ml.so.1"'
	assert_success
	assert_line --regexp '/run/driver/lower:libcuda\.so\.1 identity=driver-cuda '
	assert_line --regexp '/run/driver/lower:libnvidia-ml\.so\.1 identity=driver-nvml '
}

@test "runtime dir: driver/ holds the real driver found only in ld.so.cache" {
	run in_fixture nonstandard 'vgpu -- "$PROBES/whichlib" "$LIBDIR/run/driver/lower:libcuda.so.1"'
	assert_success
	assert_line --regexp '/run/driver/lower:libcuda\.so\.1 identity=driver-cuda '
}

@test "runtime dir: driver/ holds the emulator when no driver is installed" {
	run in_fixture none 'vgpu -- "$PROBES/whichlib" "$LIBDIR/run/driver/lower:libcuda.so.1"; vgpu -- "$PROBES/whichlib" "$LIBDIR/run/driver/lower:libnvidia-ml.so.1"'
	assert_success
	assert_line --regexp '/run/driver/lower:libcuda\.so\.1 identity=emulator-cuda '
	assert_line --regexp '/run/driver/lower:libnvidia-ml\.so\.1 identity=emulator-nvml '
}

@test "runtime dir: --emulate with a driver installed puts the emulator in driver/, and the driver files still load ours" {
	run in_fixture standard '
		vgpu --emulate -- "$PROBES/whichlib" "$LIBDIR/run/driver/lower:libcuda.so.1"
		vgpu --emulate -- "$PROBES/whichlib" libcuda.so.1
		vgpu --emulate=t4 -- "$PROBES/whichlib" "$DRIVER_DIR/libnvidia-ml.so.1"
	'
	assert_success
	assert_line --regexp '/run/driver/lower:libcuda\.so\.1 identity=emulator-cuda '
	assert_line --regexp '^libcuda\.so\.1 identity=shim-cuda '
	assert_line --regexp 'libnvidia-ml\.so\.1 identity=shim-nvml '
}

@test "runtime dir: the policy file is the effective canonical policy (as --dry-run prints it)" {
	run in_fixture standard '
		printf "memory = 6G\n" >"$SCRATCH/p.conf"
		echo "== dry-run"
		vgpu --dry-run -p "$SCRATCH/p.conf" --gpu 1,name=Second -- true
		echo "== file"
		vgpu -p "$SCRATCH/p.conf" --gpu 1,name=Second -- cat "$LIBDIR/run/policy"
	'
	assert_success
	local plan file line
	plan=$(printf '%s\n' "$output" | sed -n '/^== dry-run$/,/^== file$/p')
	file=$(printf '%s\n' "$output" | sed -n '/^== file$/,$p' | tail -n +2)
	[ -n "$file" ] || fail "the runtime dir's policy is empty: $output"
	printf '%s\n' "$file" | grep -q 6442450944 || fail "the policy lacks the memory (6G = 6442450944): $file"
	printf '%s\n' "$file" | grep -q Second || fail "the policy lacks the GPU's name: $file"
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		printf '%s\n' "$plan" | grep -qF -- "$line" ||
			fail "the policy line '$line' is not in the --dry-run plan: $plan"
	done <<<"$file"
}

@test "read-only inside: the covered driver file, the runtime policy and driver/ cannot be written; the shim is unchanged" {
	run in_fixture standard "$COPY_LIBDIR"'
		before=$(sha256sum <"$LIBDIR/libcuda.so.1")
		vgpu -- /bin/sh -c "
			for f in \"$DRIVER_DIR/libcuda.so.$DRIVER_VERSION\" \"$DRIVER_DIR/libnvidia-ml.so.1\" \
				\"$LIBDIR/run/policy\" \"$LIBDIR/run/driver/lower:libcuda.so.1\"; do
				if (: >>\"\$f\") 2>/dev/null; then echo \"WRITABLE \$f\"; else echo \"refused \$f\"; fi
			done
		"
		after=$(sha256sum <"$LIBDIR/libcuda.so.1")
		[ "$before" = "$after" ] && echo "shim unchanged"
		echo "driver outside: $("$PROBES/whichlib" libcuda.so.1)"
	'
	assert_success
	refute_line --partial WRITABLE
	assert_line "refused $STD_DRIVER_DIR/libcuda.so.$DRIVER_VERSION"
	assert_line "refused $STD_DRIVER_DIR/libnvidia-ml.so.1"
	assert_line "shim unchanged"
	assert_line --regexp "^driver outside: libcuda.so.1 identity=driver-cuda "
}

@test "read-only inside: with no driver, the amended /etc/ld.so.cache cannot be written" {
	run in_fixture none "$COPY_LIBDIR"'
		sum=$(sha256sum </etc/ld.so.cache)
		vgpu -- /bin/sh -c "if (: >>/etc/ld.so.cache) 2>/dev/null; then echo WRITABLE; else echo refused; fi"
		[ "$sum" = "$(sha256sum </etc/ld.so.cache)" ] && echo "host cache unchanged"
	'
	assert_success
	assert_line refused
	assert_line "host cache unchanged"
}

@test "while the target runs, the fixture (vgpu-run's parent namespace) sees none of its mounts" {
	run in_fixture standard '
		(vgpu_exec -- /bin/sh -c "echo >\"\$SCRATCH/running\"; sleep 2") &
		pid=$!
		i=0
		while [ ! -e "$SCRATCH/running" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
		echo "vgpu mounts outside: $(grep -c " - tmpfs vgpu " /proc/self/mountinfo)"
		echo "covered outside: $(grep -c "$LIBDIR" /proc/self/mountinfo)"
		echo "driver outside: $("$PROBES/whichlib" libcuda.so.1)"
		kill "$pid"
		wait "$pid"
		true
	'
	assert_success
	assert_line "vgpu mounts outside: 0"
	assert_line "covered outside: 0"
	assert_line --regexp "^driver outside: libcuda.so.1 identity=driver-cuda "
}

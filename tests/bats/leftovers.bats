#!/usr/bin/env bats
# vgpu-test-users: root nobody
#
# Nothing left behind: the mount tables (the fixture's namespace, where vgpu-run is
# started, and PID 1's) and the files vgpu-run could touch (the lib dir, the loader
# cache, the driver directories, /tmp) are the same before and after vgpu-run, whether
# it succeeded, failed to launch, or its target was killed.  The fixture's mounts are
# shared, as on a systemd host, so a mount vgpu-run failed to keep private would show.

setup() {
	load helpers
	vgpu_require
}

# Runs SCRIPT (the scenario) between two snapshots in a fixture of MODE; prints
# "identical" or the diff, then the scenario's own output.
unchanged_after() { # MODE SCRIPT
	run in_fixture "$1" '
		snapshot >"$SCRATCH/before" 2>&1
		( eval "$1" ) >"$SCRATCH/scenario" 2>&1
		echo "scenario status=$?" >>"$SCRATCH/scenario"
		snapshot >"$SCRATCH/after" 2>&1
		if diff -u "$SCRATCH/before" "$SCRATCH/after"; then echo identical; fi
		cat "$SCRATCH/scenario"
	' "$2"
	assert_success
	assert_line identical
}

@test "no driver: nothing changed after a successful run" {
	unchanged_after none 'vgpu -- "$PROBES/whichlib" libcuda.so.1'
	assert_line "scenario status=0"
	assert_line --regexp "identity=shim-cuda"
}

@test "standard driver: nothing changed after a successful run" {
	unchanged_after standard 'vgpu -- "$PROBES/whichlib" libcuda.so.1'
	assert_line "scenario status=0"
	assert_line --regexp "identity=shim-cuda"
}

@test "driver only in ld.so.cache: nothing changed after a successful run" {
	unchanged_after nonstandard 'vgpu -- "$PROBES/whichlib" libnvidia-ml.so.1'
	assert_line "scenario status=0"
	assert_line --regexp "identity=shim-nvml"
}

@test "no driver: nothing changed after a failed launch (bad policy)" {
	unchanged_after none 'printf "memory = lots\n" >"$SCRATCH/bad.conf"; vgpu -p "$SCRATCH/bad.conf" -- true'
	assert_line "scenario status=125"
}

@test "standard driver: nothing changed after a failed launch (bad policy)" {
	unchanged_after standard 'printf "[gpu]\nmemroy = 8G\n" >"$SCRATCH/bad.conf"; vgpu -p "$SCRATCH/bad.conf" -- true'
	assert_line "scenario status=125"
}

@test "no driver: nothing changed after a failed launch (command not found)" {
	unchanged_after none 'vgpu -- /nonexistent/vgpu-no-such-command'
	assert_line "scenario status=127"
}

@test "standard driver: nothing changed after a failed launch (command not found)" {
	unchanged_after standard 'vgpu -- vgpu-no-such-command'
	assert_line "scenario status=127"
}

@test "standard driver: nothing changed after a failed launch (command not executable)" {
	unchanged_after standard 'printf "#!/bin/sh\n" >"$SCRATCH/noexec"; chmod 644 "$SCRATCH/noexec"; vgpu -- "$SCRATCH/noexec"'
	assert_line "scenario status=126"
}

@test "no driver: nothing changed after the target killed itself with SIGKILL" {
	unchanged_after none 'vgpu -- /bin/sh -c "kill -9 \$\$"'
	assert_line "scenario status=137"
}

@test "standard driver: nothing changed after the target was SIGKILLed from outside while running" {
	unchanged_after standard '
		(vgpu_exec -- /bin/sh -c "echo >\"\$SCRATCH/running\"; exec sleep 30") &
		pid=$!
		i=0
		while [ ! -e "$SCRATCH/running" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
		kill -KILL "$pid"
		wait "$pid"
	'
	assert_line "scenario status=137"
}

@test "standard driver: nothing changed after --dry-run" {
	unchanged_after standard 'vgpu --dry-run --memory 8G -- true >/dev/null'
	assert_line "scenario status=0"
}

@test "no driver: nothing changed after --dry-run" {
	unchanged_after none 'vgpu --dry-run -- true >/dev/null'
	assert_line "scenario status=0"
}

@test "the fixture's own check works: a mount made in the fixture is seen as a change" {
	# Guards the test above against a snapshot that cannot see anything.
	run in_fixture standard '
		snapshot >"$SCRATCH/before" 2>&1
		mount -t tmpfs vgpu-test-change /mnt
		snapshot >"$SCRATCH/after" 2>&1
		if diff -q "$SCRATCH/before" "$SCRATCH/after" >/dev/null; then echo identical; else echo changed; fi
	'
	assert_success
	assert_output changed
}

@test "the fixture's own check works: a file left in /tmp is seen as a change" {
	run in_fixture none '
		snapshot >"$SCRATCH/before" 2>&1
		touch /tmp/vgpu-test-leftover
		snapshot >"$SCRATCH/after" 2>&1
		if diff -q "$SCRATCH/before" "$SCRATCH/after" >/dev/null; then echo identical; else echo changed; fi
	'
	assert_success
	assert_output changed
}

@test "the fixture's own check works: a mount made in a child namespace that is not private propagates and is seen" {
	# What a vgpu-run that forgot to make / private would do to a systemd host.
	run in_fixture none '
		snapshot >"$SCRATCH/before" 2>&1
		unshare --mount --propagation unchanged mount -t tmpfs vgpu-test-leak /mnt
		snapshot >"$SCRATCH/after" 2>&1
		if diff -q "$SCRATCH/before" "$SCRATCH/after" >/dev/null; then echo identical; else echo changed; fi
	'
	assert_success
	assert_output changed
}

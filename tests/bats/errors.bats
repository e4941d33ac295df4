#!/usr/bin/env bats
# vgpu-test-users: root nobody
#
# Every bad input: exactly one line on stderr, starting "vgpu-run: " and naming the bad
# input (the file and line, the option, the value), nothing on stdout, and the
# documented exit status: 125 for vgpu-run's own failures, 126 for a COMMAND that is not
# executable, 127 for one that is not found.  Each runs in a fixture with the standard
# fake driver and two fake GPUs.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	vgpu_require
}

# fails_with STATUS SCRIPT NEEDLE...: runs SCRIPT in the standard fixture, keeping its
# stderr apart, and checks the one error line.
fails_with() {
	local want=$1 script=$2
	shift 2
	run -"$want" --separate-stderr in_fixture standard "$script"
	assert_one_error_line "$want" "$@"
}

S=/tmp/.vgpu-fixture/scratch   # $SCRATCH inside the fixture, for the needles

# --- the policy file ----------------------------------------------------------------------

@test "missing policy file: 125, names the file" {
	fails_with 125 'vgpu -p "$SCRATCH/missing.conf" -- true' "$S/missing.conf" "No such file"
}

@test "missing policy file given as --policy=FILE: 125, names the file" {
	fails_with 125 'vgpu --policy="$SCRATCH/missing.conf" -- true' "$S/missing.conf"
}

@test "policy path is a directory: 125, names it" {
	fails_with 125 'vgpu --policy "$SCRATCH" -- true' "$S"
}

@test "unreadable policy file (mode 000): 125, names the file" {
	if [ "$VGPU_TEST_USER" = root ]; then
		skip "root reads a mode-000 file; the directory case above covers an unopenable policy for root"
	fi
	fails_with 125 'printf "memory = 8G\n" >"$SCRATCH/secret.conf"; chmod 000 "$SCRATCH/secret.conf"
		vgpu -p "$SCRATCH/secret.conf" -- true' "$S/secret.conf" "Permission denied"
}

@test "policy syntax error: 125, names FILE:LINE" {
	fails_with 125 'printf "# a comment\nmemory = 8G\nthis is not a setting\n" >"$SCRATCH/syntax.conf"
		vgpu -p "$SCRATCH/syntax.conf" -- true' "$S/syntax.conf:3:"
}

@test "policy syntax error (unclosed section header): 125, names FILE:LINE" {
	fails_with 125 'printf "memory = 8G\n\n[gpu\ndevice = 0\n" >"$SCRATCH/header.conf"
		vgpu -p "$SCRATCH/header.conf" -- true' "$S/header.conf:3:"
}

@test "policy unknown key: 125, FILE:LINE: unknown key 'memroy' in [gpu]" {
	fails_with 125 'printf "[gpu]\ndevice = 0\nmemroy = 8G\n" >"$SCRATCH/key.conf"
		vgpu -p "$SCRATCH/key.conf" -- true' "$S/key.conf:3:" "unknown key 'memroy' in [gpu]" "expected"
}

@test "policy unknown global key: 125, names FILE:LINE and the key" {
	fails_with 125 'printf "emulate = no\ngpus = 2\n" >"$SCRATCH/gkey.conf"
		vgpu -p "$SCRATCH/gkey.conf" -- true' "$S/gkey.conf:2:" "'gpus'"
}

@test "policy bad size: 125, names FILE:LINE and the size" {
	fails_with 125 'printf "memory = 8Q\n" >"$SCRATCH/size.conf"
		vgpu -p "$SCRATCH/size.conf" -- true' "$S/size.conf:1:" "8Q"
}

@test "policy bad percent: 125, names FILE:LINE and the percent" {
	fails_with 125 'printf "[gpu]\ndevice = 0\nmemory = 150%%\n" >"$SCRATCH/pct.conf"
		vgpu -p "$SCRATCH/pct.conf" -- true' "$S/pct.conf:3:" "150%"
}

@test "policy unknown GPU index: 125, names the index" {
	fails_with 125 'printf "[gpu]\ndevice = 37\n" >"$SCRATCH/idx.conf"
		vgpu -p "$SCRATCH/idx.conf" -- true' "37"
}

# --- options -------------------------------------------------------------------------------

@test "--memory with a bad size: 125, names the option and the size" {
	fails_with 125 'vgpu --memory 8Q -- true' "--memory" "8Q"
}

@test "--memory with a bad percent: 125, names the option and the percent" {
	fails_with 125 'vgpu --memory 0% -- true' "--memory" "0%"
}

@test "--gpu with a bad percent: 125, names the spec" {
	fails_with 125 'vgpu --gpu 0,memory=101% -- true' "--gpu" "101%"
}

@test "--gpu unknown index: 125, names the index" {
	fails_with 125 'vgpu --gpu 37 -- true' "37"
}

@test "--gpu index one past the last GPU (2 of 2): 125, names the index" {
	fails_with 125 'vgpu --gpu 0 --gpu 2 -- true' "2"
}

@test "--gpu unknown UUID: 125, names the UUID" {
	fails_with 125 'vgpu --gpu GPU-00000000-1111-2222-3333-444444444444 -- true' \
		"GPU-00000000-1111-2222-3333-444444444444"
}

@test "--gpu with the fake GPUs' index and UUID is accepted (the checks above read /proc/driver/nvidia)" {
	run --separate-stderr in_fixture standard '
		vgpu --gpu 1 -- true && echo index-ok
		vgpu --gpu "$GPU0_UUID" -- true && echo uuid-ok
		vgpu --gpu "$GPU1_UUID",memory=50% -- true && echo uuid-percent-ok
	'
	assert_success
	assert_output "index-ok
uuid-ok
uuid-percent-ok"
	[ -z "$stderr" ] || fail "unexpected stderr: $stderr"
}

@test "--gpu with an unknown emulator profile: 125, names the profile" {
	fails_with 125 'vgpu --gpu emulated:nosuchprofile -- true' "nosuchprofile"
}

@test "--gpu without its value: 125, names the option" {
	fails_with 125 'vgpu --gpu' "--gpu"
}

@test "unknown option: 125, names it" {
	fails_with 125 'vgpu --bogus -- true' "--bogus"
}

@test "unknown short option: 125, names it" {
	fails_with 125 'vgpu -Z -- true' "-Z"
}

# --- the command ---------------------------------------------------------------------------

@test "no command: 125, one line" {
	fails_with 125 'vgpu' "command"
}

@test "no command after --: 125, one line" {
	fails_with 125 'vgpu --memory 8G --' "command"
}

@test "command not found on PATH: 127, names it" {
	fails_with 127 'vgpu -- vgpu-no-such-command' "vgpu-no-such-command"
}

@test "command not found by path: 127, names it" {
	fails_with 127 'vgpu -- "$SCRATCH/no-such-file"' "$S/no-such-file"
}

@test "command not executable (mode 644): 126, names it" {
	fails_with 126 'printf "#!/bin/sh\n" >"$SCRATCH/plain"; chmod 644 "$SCRATCH/plain"; vgpu -- "$SCRATCH/plain"' \
		"$S/plain"
}

@test "command is a directory: 126, names it" {
	fails_with 126 'vgpu -- "$SCRATCH"' "$S"
}

# --- the namespace ---------------------------------------------------------------------------

@test "no namespace permission (vgpu-run inside vgpu-run, whose filter forbids unshare): 125, one line" {
	fails_with 125 'vgpu -- "$VGPU" --lib-dir "$LIBDIR" -- true' "namespace"
}

@test "--lib-dir that does not exist: 125, names it" {
	fails_with 125 'vgpu --lib-dir /nonexistent/vgpu-lib -- true' "/nonexistent/vgpu-lib"
}

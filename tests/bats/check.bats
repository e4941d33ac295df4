#!/usr/bin/env bats
# vgpu-test-users: root nobody
#
# Diagnostics: `vgpu-run --check` (can vgpu-run run here, as this user, with this
# install: one "ok:" or "not ok:" line per check, exit 0 or 125 with one line on
# stderr), and `--dry-run`, whose every covered file names the rule that found it.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	vgpu_require
}

# After `run --separate-stderr ... vgpu --check`: the report's shape.  The first line
# is the header, the last the verdict; every line between is one check.
assert_report_shape() {
	[ "${#lines[@]}" -ge 3 ] || fail "too short a report: $output"
	[[ ${lines[0]} == "vgpu-run --check: "* ]] || fail "no header line: ${lines[0]}"
	local i
	for ((i = 1; i < ${#lines[@]} - 1; i++)); do
		[[ ${lines[i]} =~ ^(ok|not\ ok):\ [a-z][a-z\ ]*:\ . ]] ||
			fail "line $i is not 'ok: WHAT: ...' or 'not ok: WHAT: ...': ${lines[i]}"
	done
}

# Every check passed: exit 0, the verdict, nothing on stderr.
assert_all_ok() {
	assert_report_shape
	[ "$status" -eq 0 ] || fail "exit status $status; stdout: $output; stderr: $stderr"
	[ -z "$stderr" ] || fail "stderr: $stderr"
	refute_line --regexp '^not ok'
	[ "${lines[${#lines[@]} - 1]}" = "vgpu-run can run here" ] || fail "verdict: ${lines[-1]}"
}

@test "--check, no driver: every check ok, exit 0; the emulator named as the driver" {
	run --separate-stderr in_fixture none 'vgpu --check'
	assert_all_ok
	local check
	for check in shim emulator "user namespaces" namespace "runtime dir" cover lock seccomp driver gpus policy; do
		assert_line --regexp "^ok: $check: "
	done
	assert_line --regexp "^ok: driver: none: the emulator will be used"
	assert_line --regexp "^ok: gpus: 2 in /proc/driver/nvidia/gpus"
	# The namespace this user gets: root has CAP_SYS_ADMIN, nobody a user namespace.
	if [ "$VGPU_TEST_USER" = root ]; then
		assert_line --regexp "^ok: namespace: a mount namespace can be created"
		assert_line --regexp "^ok: user namespaces: not needed"
	else
		assert_line --regexp "^ok: namespace: a user and a mount namespace can be created \(uid 65534 "
		assert_line --regexp "^ok: user namespaces: allowed for this user \(user.max_user_namespaces = [1-9]"
	fi
}

@test "--check with the installed lib dir (no --lib-dir): every check ok" {
	run --separate-stderr in_fixture none 'as_user "$VGPU" --check'
	assert_all_ok
	assert_line "ok: shim: $(realpath "$VGPU_PREFIX/lib/vgpu")/libcuda.so.1, $(realpath "$VGPU_PREFIX/lib/vgpu")/libnvidia-ml.so.1"
}

@test "--check, standard driver: the lower driver and the rule that found it, the GPUs in index order" {
	run --separate-stderr in_fixture standard 'vgpu --check'
	assert_all_ok
	assert_line --regexp "^ok: driver: libcuda.so.1 = $STD_DRIVER_DIR/libcuda\.so\.$DRIVER_VERSION \(found as .* by ld\.so\.cache\), libnvidia-ml.so.1 = $STD_DRIVER_DIR/libnvidia-ml\.so\.$DRIVER_VERSION"
	assert_line --partial "ok: gpus: 2 in /proc/driver/nvidia/gpus: 0 = $GPU0_BUS NVIDIA H100 80GB HBM3 $GPU0_UUID, 1 = $GPU1_BUS NVIDIA H200 $GPU1_UUID"
	assert_line --regexp "^ok: cover: the shim mounted over 2 driver files"
}

@test "--check changes nothing: mount tables, lib dir, loader cache, /tmp as before" {
	run in_fixture standard '
		snapshot >"$SCRATCH/before" 2>&1
		vgpu --check >"$SCRATCH/out" 2>&1
		echo "status=$?"
		snapshot >"$SCRATCH/after" 2>&1
		diff -u "$SCRATCH/before" "$SCRATCH/after" && echo identical
	'
	assert_success
	assert_line "status=0"
	assert_line identical
}

@test "--check, a lib dir without the shim: 'not ok: shim', what to do, exit 125 with one line on stderr" {
	run --separate-stderr in_fixture none '
		cp -a "$LIBDIR" "$SCRATCH/lib"
		rm "$SCRATCH/lib/libcuda.so.1"
		vgpu --check --lib-dir "$SCRATCH/lib"
	'
	assert_report_shape
	[ "$status" -eq 125 ] || fail "exit status $status, expected 125"
	assert_line "not ok: shim: $SCRATCH/lib/libcuda.so.1: No such file or directory; reinstall vgpu-run (zig build install --prefix PREFIX) or give the right --lib-dir"
	# Only the shim: the rest of the machine is fine.
	[ "$(grep -c '^not ok' <<<"$output")" -eq 1 ] || fail "more than one check failed: $output"
	refute_line "vgpu-run can run here"
	[ "${#stderr_lines[@]}" -eq 1 ] || fail "expected one line on stderr: $stderr"
	[ "${stderr_lines[0]}" = "vgpu-run: --check: 1 check not ok (shim): vgpu-run cannot run here as it is" ] ||
		fail "stderr: $stderr"
}

@test "--check, a lib dir without the emulator or run/: each named, exit 125" {
	run --separate-stderr in_fixture none '
		cp -a "$LIBDIR" "$SCRATCH/lib"
		rm -r "$SCRATCH/lib/emulator" "$SCRATCH/lib/run"
		vgpu --check --lib-dir "$SCRATCH/lib"
	'
	assert_report_shape
	[ "$status" -eq 125 ] || fail "exit status $status, expected 125"
	assert_line "not ok: emulator: $SCRATCH/lib/emulator/libcuda.so.1: No such file or directory; reinstall vgpu-run (zig build install --prefix PREFIX) or give the right --lib-dir"
	assert_line --regexp "^not ok: runtime mount point: $SCRATCH/lib/run: No such file or directory; it must exist"
	assert_line --regexp "^ok: shim: "
	[ "${stderr_lines[0]}" = "vgpu-run: --check: 2 checks not ok (emulator, runtime mount point): vgpu-run cannot run here as it is" ] ||
		fail "stderr: $stderr"
}

@test "--check, no such lib dir: 'not ok: lib dir', exit 125" {
	run --separate-stderr in_fixture none 'vgpu --check --lib-dir /nonexistent/vgpu-lib'
	assert_report_shape
	[ "$status" -eq 125 ] || fail "exit status $status, expected 125"
	assert_line --regexp "^not ok: lib dir: /nonexistent/vgpu-lib: No such file or directory; give --lib-dir DIR"
}

@test "--check inside a seccomp filter that forbids unshare (here: vgpu-run itself): 'not ok: namespace' says why, exit 125" {
	# What a systemd unit with RestrictNamespaces=yes, or a container under its
	# runtime's default seccomp profile, gets: unshare fails with EPERM.
	run --separate-stderr in_fixture none 'vgpu -- "$VGPU" --lib-dir "$LIBDIR" --check'
	assert_report_shape
	[ "$status" -eq 125 ] || fail "exit status $status, expected 125"
	assert_line --regexp "^not ok: namespace: cannot create a user and mount namespace: Operation not permitted; .*this process already runs under a seccomp filter"
	assert_line --regexp "^ok: seccomp: available \(this process already runs under a filter"
	[[ ${stderr_lines[0]} == "vgpu-run: --check: 1 check not ok (namespace): "* ]] || fail "stderr: $stderr"
}

@test "--check, a driver but no GPU listed by the kernel: 'not ok: gpus' with what to do" {
	run --separate-stderr in_fixture standard 'rm -r /proc/driver/nvidia; vgpu --check'
	[ "$status" -eq 125 ] || fail "exit status $status, expected 125: $output"
	assert_line --regexp "^not ok: gpus: the NVIDIA driver libraries are installed but the kernel lists no GPU \(/proc/driver/nvidia/gpus: No such file or directory\); load the nvidia kernel module"
}

@test "--check with a policy: its GPUs and memory; a GPU this machine lacks and a bad file are 'not ok: policy'" {
	run --separate-stderr in_fixture standard '
		printf "memory = 16G\n\n[gpu]\ndevice = 0\nname = Ollama GPU\n" >"$SCRATCH/ok.conf"
		vgpu --check -p "$SCRATCH/ok.conf"; echo "status=$?"
		vgpu --check --gpu 5; echo "status=$?"
		printf "[gpu]\nmemroy = 8G\n" >"$SCRATCH/bad.conf"
		vgpu --check -p "$SCRATCH/bad.conf"; echo "status=$?"
	'
	assert_line "ok: policy: $SCRATCH/ok.conf: 1 GPU: 0 = device 0 with 16G, named \"Ollama GPU\""
	assert_line "not ok: policy: GPU 5: no such GPU; this machine has 2 (nvidia-smi's indexes; /proc/driver/nvidia/gpus lists them)"
	assert_line --regexp "^not ok: policy: $SCRATCH/bad\.conf:2: .*memroy"
	[ "$(grep -c '^status=' <<<"$output")" -eq 3 ] || fail "$output"
	assert_line --index 0 --regexp "^vgpu-run --check: "
	[ "$(sed -n 's/^status=//p' <<<"$output" | tr '\n' ' ')" = "0 125 125 " ] || fail "statuses: $output"
}

@test "--check with a policy of real GPUs where there is no driver: 'not ok: policy'" {
	run --separate-stderr in_fixture none 'vgpu --check --gpu 0'
	[ "$status" -eq 125 ] || fail "exit status $status, expected 125"
	assert_line --regexp "^not ok: policy: it selects real GPUs, but no NVIDIA driver \(libcuda.so\) was found here"
}

@test "--check COMMAND: the command is looked up too" {
	run --separate-stderr in_fixture none '
		vgpu --check -- sh -c true; echo "status=$?"
		vgpu --check -- vgpu-no-such-command; echo "status=$?"
	'
	assert_line "ok: command: /usr/bin/sh"
	assert_line "not ok: command: vgpu-no-such-command: command not found"
	[ "$(sed -n 's/^status=//p' <<<"$output" | tr '\n' ' ')" = "0 125 " ] || fail "statuses: $output"
}

@test "--check runs no command and needs none" {
	run --separate-stderr in_fixture none 'vgpu --check -- touch "$SCRATCH/ran"; [ -e "$SCRATCH/ran" ] && echo RAN; true'
	refute_line RAN
	assert_line "vgpu-run can run here"
}

@test "--check is in --help and in the man page's OPTIONS" {
	run --separate-stderr in_fixture none 'vgpu --help'
	assert_success
	assert_line --regexp '^      --check  '
	sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$BATS_TEST_DIRNAME/../../docs/vgpu-run.1" | grep -q -- '^\.B \\-\\-check$' ||
		fail "docs/vgpu-run.1 OPTIONS has no .B \\-\\-check"
}

@test "--dry-run: every covered file names the rule that found it, in every kind of installation" {
	run --separate-stderr in_fixture standard '
		vgpu --dry-run -- true
		LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu vgpu --dry-run -- true
	'
	assert_success
	local n=0 line
	for line in "${lines[@]}"; do
		[[ $line == cover:* ]] || continue
		n=$((n + 1))
		[[ $line =~ \(found\ as\ .+\ by\ (ld\.so\.cache|standard\ directory|policy\ driver-path|Ollama\ glob|LD_LIBRARY_PATH)(\;\ a\ CUDA\ toolkit\ stub)?\)$ ||
			$line =~ \(the\ emulator\'s\ installed\ copy\)$ ||
			$line =~ ^cover:\ /etc/ld\.so\.cache\ with\ a\ copy\ naming ]] ||
			fail "a cover line that names no rule: $line"
	done
	[ "$n" -ge 4 ] || fail "expected at least 4 cover lines: $output"
	local mode
	for mode in nonstandard ldpath none; do
		run --separate-stderr in_fixture "$mode" 'LD_LIBRARY_PATH=$DRIVER_DIR vgpu --dry-run -- true'
		assert_success
		for line in "${lines[@]}"; do
			[[ $line == cover:* ]] || continue
			[[ $line =~ \(found\ as\ .+\ by\ (ld\.so\.cache|standard\ directory|policy\ driver-path|Ollama\ glob|LD_LIBRARY_PATH)(\;\ a\ CUDA\ toolkit\ stub)?\)$ ||
				$line =~ \(the\ emulator\'s\ installed\ copy\)$ ||
				$line =~ ^cover:\ /etc/ld\.so\.cache\ with\ a\ copy\ naming ]] ||
				fail "$mode: a cover line that names no rule: $line"
		done
	done
}

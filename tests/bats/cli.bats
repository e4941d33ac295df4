#!/usr/bin/env bats
# vgpu-test-users: root nobody
#
# The command line itself: --help, --version, an unknown option, and --dry-run, which
# prints the plan (the lower driver, each file covered and why it was found, the
# runtime dir, the effective canonical policy), runs nothing and changes nothing.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	vgpu_require
}

OPTIONS="-p --policy --gpu --memory --emulate --lib-dir --dry-run -v -h --help -V --version"

@test "--help: exit 0, usage on stdout naming every option, nothing on stderr" {
	run --separate-stderr in_fixture none 'vgpu --help'
	assert_success
	[ -z "$stderr" ] || fail "stderr: $stderr"
	assert_line --partial "Usage: vgpu-run"
	local opt
	for opt in $OPTIONS; do
		# The option as a word: "-p," "--gpu " "--emulate[=PROFILE]".
		printf '%s\n' "$output" | grep -Eq -- "(^|[[:space:],])$opt([[:space:],=[]|$)" ||
			fail "--help does not mention $opt: $output"
	done
}

@test "-h: the same as --help" {
	run --separate-stderr in_fixture none 'vgpu --help >"$SCRATCH/long"; vgpu -h >"$SCRATCH/short"; echo $?; cmp "$SCRATCH/long" "$SCRATCH/short" && echo same'
	assert_success
	assert_output "0
same"
}

@test "--help wins over a missing command and runs nothing" {
	run --separate-stderr in_fixture none 'vgpu --help -- touch "$SCRATCH/ran"; echo status=$?; [ -e "$SCRATCH/ran" ] && echo ran; true'
	assert_success
	assert_line "status=0"
	refute_line "ran"
}

@test "--version: exit 0, prints the version" {
	run --separate-stderr in_fixture none 'vgpu --version'
	assert_success
	[ -z "$stderr" ] || fail "stderr: $stderr"
	assert_output --regexp '^vgpu-run [0-9]+\.[0-9]+\.[0-9]+'
	[ "${#lines[@]}" -eq 1 ] || fail "expected one line: $output"
}

@test "-V: the same as --version" {
	run --separate-stderr in_fixture none 'diff <(vgpu --version) <(vgpu -V) && echo same'
	assert_success
	assert_output same
}

@test "unknown option: 125, one line naming it" {
	run -125 --separate-stderr in_fixture none 'vgpu --no-such-option -- true'
	assert_one_error_line 125 "--no-such-option"
}

@test "--dry-run, standard driver: the plan names the lower driver, each covered file and why, the runtime dir, the policy; COMMAND not run" {
	local libdir
	libdir=$(realpath "$LIBDIR")
	run --separate-stderr in_fixture standard '
		vgpu --dry-run --memory 8G -- touch "$SCRATCH/ran"
		echo "status=$?"
		[ ! -e "$SCRATCH/ran" ] || echo "COMMAND RAN"
	'
	assert_success
	[ -z "$stderr" ] || fail "stderr: $stderr"
	assert_line "status=0"
	refute_line "COMMAND RAN"
	# The lower driver: the real files behind the links.
	assert_line --partial "$STD_DRIVER_DIR/libcuda.so.$DRIVER_VERSION"
	assert_line --partial "$STD_DRIVER_DIR/libnvidia-ml.so.$DRIVER_VERSION"
	# Each covered file, with what covers it and how it was found.
	assert_line --regexp "$STD_DRIVER_DIR/libcuda\.so\.$DRIVER_VERSION.*$libdir/libcuda\.so\.1.*ld\.so\.cache"
	assert_line --regexp "$STD_DRIVER_DIR/libnvidia-ml\.so\.$DRIVER_VERSION.*$libdir/libnvidia-ml\.so\.1.*ld\.so\.cache"
	# The runtime dir.
	assert_line --partial "$libdir/run"
	# The effective policy, canonical: 8G spelled out in bytes.
	assert_line --partial "8589934592"
}

@test "--dry-run, driver found only through LD_LIBRARY_PATH: the plan says so" {
	run --separate-stderr in_fixture ldpath '
		LD_LIBRARY_PATH=$DRIVER_DIR vgpu --dry-run -- true
	'
	assert_success
	assert_line --regexp "$LDPATH_DRIVER_DIR/libcuda\.so\.$DRIVER_VERSION.*LD_LIBRARY_PATH"
	assert_line --regexp "$LDPATH_DRIVER_DIR/libnvidia-ml\.so\.$DRIVER_VERSION.*LD_LIBRARY_PATH"
}

@test "--dry-run, no driver: the plan names the emulator as the lower driver and the loader cache it covers" {
	local libdir
	libdir=$(realpath "$LIBDIR")
	run --separate-stderr in_fixture none 'vgpu --dry-run --memory 3G -- true'
	assert_success
	[ -z "$stderr" ] || fail "stderr: $stderr"
	assert_line --partial "$libdir/emulator/libcuda.so.1"
	assert_line --partial "$libdir/emulator/libnvidia-ml.so.1"
	assert_line --partial "/etc/ld.so.cache"
	assert_line --partial "$libdir/run"
	assert_line --partial "3221225472"
}

@test "--dry-run with a policy file and --gpu: the effective policy shows the GPU and its memory" {
	run --separate-stderr in_fixture standard '
		printf "memory = 4G\n\n[gpu]\ndevice = 0\nname = From File\n" >"$SCRATCH/p.conf"
		vgpu --dry-run -p "$SCRATCH/p.conf" --gpu "$GPU1_UUID,memory=2G,name=Test GPU" -- true
	'
	assert_success
	[ -z "$stderr" ] || fail "stderr: $stderr"
	assert_line --partial "$GPU1_UUID"
	assert_line --partial "2147483648"
	assert_line --partial "Test GPU"
	# --gpu replaces the file's [gpu] sections.
	refute_line --partial "From File"
}

@test "--dry-run with a bad policy still fails: 125, one line" {
	run -125 --separate-stderr in_fixture standard '
		printf "memory = lots\n" >"$SCRATCH/bad.conf"
		vgpu --dry-run -p "$SCRATCH/bad.conf" -- true
	'
	assert_one_error_line 125 "$(printf '%s' /tmp/.vgpu-fixture/scratch/bad.conf):1:" "lots"
}

@test "options end at COMMAND: what follows it is COMMAND's, with or without --" {
	run --separate-stderr in_fixture none '
		vgpu /bin/echo --bogus -x --memory 3G
		vgpu -- /bin/echo a --version
		vgpu /bin/echo -- a
	'
	assert_success
	assert_output "--bogus -x --memory 3G
a --version
-- a"
}

@test "--opt=value forms: --memory=SIZE, --gpu=SPEC, --policy=FILE, --lib-dir=DIR" {
	run --separate-stderr in_fixture none '
		printf "memory = 1G\n" >"$SCRATCH/p.conf"
		vgpu --dry-run --policy="$SCRATCH/p.conf" --lib-dir="$LIBDIR" --gpu=emulated:t4 --memory=2G -- true
	'
	assert_success
	assert_line --partial "2147483648"
	assert_line --partial "emulated:t4"
}

@test "the man page vgpu-run(1) and --help name the same long options" {
	man_page="$BATS_TEST_DIRNAME/../../docs/vgpu-run.1"
	[ -f "$man_page" ] || fail "no $man_page"
	from_help=$(in_fixture none 'vgpu --help' | grep -oE -- '--[a-z][a-z-]+' | sort -u)
	# The man page writes a dash as \-; only the OPTIONS section lists options.
	from_man=$(sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$man_page" | sed 's/\\-/-/g' |
		grep -oE -- '--[a-z][a-z-]+' | sort -u)
	[ -n "$from_help" ] || fail "no option found in --help"
	[ "$from_help" = "$from_man" ] || fail "--help: $(echo $from_help) / man page: $(echo $from_man)"
}

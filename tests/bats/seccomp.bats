#!/usr/bin/env bats
# vgpu-test-users: root nobody
#
# The lock on the sandbox: inside vgpu-run every mount and namespace system call of
# DESIGN.md's list fails with EPERM through every x86 ABI, clone3 with ENOSYS, while
# threads (glibc falls back from clone3 to clone on ENOSYS) and Python threads still
# start; the everyday tools that would undo the sandbox fail; and the target runs with
# no_new_privs, a seccomp filter, and without CAP_SYS_ADMIN.

setup() {
	load helpers
	vgpu_require
}

# What the syscalls probe tries (tests/probes/syscalls.c), in its order.
EPERM_CALLS="mount umount umount2 pivot_root move_mount open_tree open_tree_attr fsopen
	fsconfig fsmount fspick mount_setattr setns
	unshare:NEWNS unshare:NEWUTS unshare:NEWIPC unshare:NEWUSER unshare:NEWPID
	unshare:NEWNET unshare:NEWCGROUP unshare:NEWTIME
	clone:NEWNS clone:NEWUTS clone:NEWIPC clone:NEWUSER clone:NEWPID clone:NEWNET
	clone:NEWCGROUP"
ENOSYS_CALLS="clone3:NEWNS clone3:plain"

# Whether ABI works on this kernel, as the probe finds it outside vgpu-run (inside, a
# filter that killed or refused the ABI would look like a kernel without it).  Sets
# abi_reason to the probe's explanation when it does not.
abi_available() { # ABI
	local line
	run in_fixture none 'as_user "$PROBES/syscalls" --abi-available'
	assert_success
	line=$(printf '%s\n' "$output" | grep "^$1 ")
	[ -n "$line" ] || fail "the probe said nothing about the $1 ABI: $output"
	abi_reason=${line#"$1 unavailable: "}
	[ "$line" = "$1 available" ]
}

# Checks every line of one ABI in the probe's output ($output).  NOCALL: calls the ABI
# does not have (the probe reports them SKIP).
check_abi() { # ABI [NOCALL...]
	local abi=$1 call want
	shift
	for call in $EPERM_CALLS $ENOSYS_CALLS; do
		want=EPERM
		case " $ENOSYS_CALLS " in *" $call "*) want=ENOSYS ;; esac
		case " $* " in *" $call "*) want="SKIP (the $abi ABI has no such call)" ;; esac
		if [ "$want" = EPERM ] || [ "$want" = ENOSYS ]; then
			assert_line "$abi $call errno=$want"
		else
			assert_line "$abi $call $want"
		fi
	done
}

@test "the syscalls probe tells the filter's errors apart: without vgpu-run (own user namespace) no call gets EPERM or ENOSYS" {
	run in_fixture none 'as_user unshare --user --map-root-user --mount "$PROBES/syscalls"'
	assert_success
	assert_line --regexp '^x86_64 mount errno='
	refute_line --regexp '^(x86_64|i386) .* (errno=EPERM|errno=ENOSYS|killed=)'
}

@test "seccomp, x86_64 ABI: every listed call fails with EPERM (clone, unshare per namespace flag), clone3 with ENOSYS" {
	run in_fixture none 'vgpu -- "$PROBES/syscalls"'
	assert_success
	check_abi x86_64 umount
}

@test "seccomp, i386 ABI (int 0x80): every listed call fails with EPERM, clone3 with ENOSYS" {
	if ! abi_available i386; then
		skip "the i386 ABI does not work on this kernel: $abi_reason"
	fi
	run in_fixture none 'vgpu -- "$PROBES/syscalls"'
	assert_success
	check_abi i386
}

@test "seccomp, x32 ABI: every listed call fails with EPERM, clone3 with ENOSYS" {
	if ! abi_available x32; then
		skip "the x32 ABI does not work on this kernel: $abi_reason (the filter's x32 rules are checked by unit/test_sandbox)"
	fi
	run in_fixture none 'vgpu -- "$PROBES/syscalls"'
	assert_success
	check_abi x32 umount
}

@test "seccomp: the same with a real driver installed (standard dir), x86_64 and i386" {
	run in_fixture standard 'vgpu -- "$PROBES/syscalls"'
	assert_success
	check_abi x86_64 umount
	if abi_available i386; then
		run in_fixture standard 'vgpu -- "$PROBES/syscalls"'
		check_abi i386
	fi
}

@test "seccomp: the filter holds three levels down, with the environment emptied (execchain)" {
	run in_fixture none 'vgpu -- "$PROBES/execchain" 3 "$PROBES/syscalls"'
	assert_success
	check_abi x86_64 umount
}

@test "threads start under the filter (glibc tries clone3, falls back to clone on ENOSYS)" {
	run in_fixture none 'vgpu -- "$PROBES/threads"'
	assert_success
	assert_output "threads: 8 started, 8 finished correctly"
}

@test "Python threads start under the filter" {
	run in_fixture none 'vgpu -- "$PYTHON" -c "
import threading
out = []
lock = threading.Lock()
def work(i):
    s = sum(range(i * 10000))
    with lock:
        out.append((i, s))
ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print(len(out), \"threads done\", sorted(i for i, _ in out) == list(range(8)))
"'
	assert_success
	assert_output "8 threads done True"
}

@test "unshare -m true fails inside" {
	run in_fixture none 'vgpu -- unshare -m true'
	assert_failure
	assert_output --partial "Operation not permitted"
}

@test "unshare -Ur true (a new user namespace, which needs no privilege) fails inside" {
	run in_fixture none 'vgpu -- unshare --user --map-root-user true'
	assert_failure
	assert_output --partial "Operation not permitted"
}

@test "mount -t tmpfs x /mnt fails inside, and nothing is mounted" {
	run in_fixture none 'vgpu -- /bin/sh -c "mount -t tmpfs x /mnt; echo status=\$?; grep -c \" /mnt \" /proc/self/mountinfo; exit 0"'
	assert_success
	refute_line "status=0"
	assert_line --regexp "^status=[1-9][0-9]*$"
	assert_line "0"
}

@test "umount / fails inside" {
	run in_fixture none 'vgpu -- umount /'
	assert_failure
}

@test "umount of the runtime dir (to reach the real driver) fails inside" {
	run in_fixture standard 'vgpu -- umount -l "$(realpath "$LIBDIR")/run"'
	assert_failure
	run in_fixture standard 'vgpu -- umount -l "$DRIVER_DIR/libcuda.so.'"$DRIVER_VERSION"'"'
	assert_failure
}

@test "nsenter -t 1 -m true fails inside" {
	run in_fixture none 'vgpu -- nsenter -t 1 -m true'
	assert_failure
}

@test "the target runs with no_new_privs, a seccomp filter, and CAP_SYS_ADMIN in none of its capability sets" {
	run in_fixture none 'vgpu -- cat /proc/self/status'
	assert_success
	assert_line --regexp $'^NoNewPrivs:\t1$'
	assert_line --regexp $'^Seccomp:\t2$'
	local set mask
	for set in CapInh CapPrm CapEff CapBnd CapAmb; do
		mask=$(printf '%s\n' "$output" | sed -n "s/^$set:\t//p")
		[ -n "$mask" ] || fail "no $set line in /proc/self/status"
		# CAP_SYS_ADMIN is capability 21.
		if (((0x$mask >> 21) & 1)); then
			fail "$set is $mask: CAP_SYS_ADMIN is still in it"
		fi
	done
}

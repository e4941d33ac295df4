#!/usr/bin/env bats
# vgpu-test-users: root nobody
#
# NVML's virtual view (shim/nvml/view.c): lib/vgpu/libnvidia-ml.so.1 of the real install
# shows the policy's virtual GPUs, as libcuda's shim does: count, order, names, virtual
# UUIDs, lookups, memory caps and usage, only the sandbox's processes (running,
# accounting, utilization), only the view's GPUs in topology lists.  The emulator is the
# lower driver (the fixture has no driver).  Policy of most tests:
#   GPU 0: emulated t4, 1 GiB, named "Small T4";   GPU 1: emulated h200, 3 GiB.
#
# The probe is tests/probes/nvmlview.c (one line per result); nvidia-ml-py, where some
# Python has it, runs tests/peers/pynvml_view.py.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	vgpu_require
	NVMLVIEW="$PROBES/nvmlview"
	[ -x "$NVMLVIEW" ] || fail "missing $NVMLVIEW: build with 'zig build tests'"
	export NVMLVIEW
	export SHIM_LIB="$VGPU_PREFIX/lib/vgpu"
	export RUN="$SHIM_LIB/run"
	export LOWER_NVML="$RUN/driver/lower:libnvidia-ml.so.1"
	export PEERS="$BATS_TEST_DIRNAME/../peers"
}

export GIB=1073741824 MIB=1048576
H200_NAME="NVIDIA H200" H200_NVML_TOTAL=150754820096

# Inside the fixture: vgpu-run of the real install, and the two-GPU policy in $P.
PRELUDE='
	vgpu_real() { as_user "$VGPU" "$@"; }
	P=$SCRATCH/two.policy
	printf "%s\n" "[gpu]" "device = emulated:t4" "memory = 1G" "name = Small T4" \
		"[gpu]" "device = emulated:h200" "memory = 3G" >"$P"
'

# The value of KEY=VALUE on the output line starting with PREFIX (values without blanks).
field() { # PREFIX KEY
	printf '%s\n' "$output" | grep -m1 "^$1 " | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# Inside the fixture (after PRELUDE): A, a process of the sandbox, holds 1 MiB on GPU 1
# and prints its pid; B, a process of another mount namespace with the same runtime dir
# and libraries (a copy of the sandbox's mounts), does the same; then a process of the
# sandbox asks NVML the queries given (nvmlview's arguments, "lowernvml" set to the
# lower's path).  Prints A's and B's output after the queries.
A_AND_B='
	a_and_b() { # QUERY...
		local S=$SCRATCH user sandbox status b
		case $VGPU_TEST_USER in
		root) user=() ;;
		*) user=(setpriv --reuid=65534 --regid=65534 --clear-groups --) ;;
		esac
		vgpu_real --policy "$P" -- sh -c "
			\"\$0\" alloc:1:$MIB pid ready:$S/a.ready hold:$S/a.release >$S/a.out &
			echo \$! >$S/a.pid
			\"\$0\" hold:$S/b.ready lowernvml=\"\$1\" init \$2
			: >$S/a.release
			wait" "$NVMLVIEW" "$LOWER_NVML" "$*" &
		sandbox=$!
		"$NVMLVIEW" hold:$S/a.ready
		nsenter --mount=/proc/$(cat $S/a.pid)/ns/mnt unshare --mount -- "${user[@]}" \
			"$NVMLVIEW" alloc:1:$MIB pid ready:$S/b.ready hold:$S/b.release >$S/b.out &
		b=$!
		wait $sandbox
		status=$?
		: >$S/b.release
		wait $b
		cat $S/a.out $S/b.out
		return $status
	}
'

# After a_and_b: both allocated; their pids in $a and $b.
a_and_b_pids() {
	[ "$(grep -c '^alloc 1 1048576 rc=0$' <<<"$output")" -eq 2 ] || fail "A and B did not both allocate"
	a=$(grep -m1 '^pid ' <<<"$output" | cut -d' ' -f2)
	b=$(grep '^pid ' <<<"$output" | sed -n 2p | cut -d' ' -f2)
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ] || fail "no pids of A and B"
}

@test "count: the policy's two GPUs (nvmlDeviceGetCount and _v2); CUDA_VISIBLE_DEVICES narrows CUDA, not NVML" {
	run --separate-stderr in_fixture none "$PRELUDE"'
		vgpu_real --policy "$P" -- "$NVMLVIEW" init count byindex:1 byindex:2 devices cuda
		echo "== CUDA_VISIBLE_DEVICES=1"
		vgpu_real --policy "$P" -- env CUDA_VISIBLE_DEVICES=1 "$NVMLVIEW" init count cuda
	'
	echo "$output"
	assert_success
	[ "${#stderr}" -eq 0 ] || fail "stderr: $stderr"
	assert_line "init rc=0 v1=0 flags=0"
	[ "$(grep -c '^count v1=2 v2=2$' <<<"$output")" -eq 2 ] || fail "NVML does not count 2 GPUs in both runs"
	assert_line "byindex 1 rc=0"
	assert_line "byindex 2 rc=2" # NVML_ERROR_INVALID_ARGUMENT
	# CUDA sees one GPU with CUDA_VISIBLE_DEVICES=1: virtual GPU 1 (the H200, 3 GiB).
	local after=${output#*== CUDA_VISIBLE_DEVICES=1} u1
	u1=$(field 'device 1' uuid)
	[ "$(grep -c '^cuda ' <<<"$after")" -eq 1 ] || fail "CUDA_VISIBLE_DEVICES=1: not one CUDA device"
	[[ $after == *"cuda 0 uuid=$u1 name=$H200_NAME total=$((3 * GIB))"* ]] ||
		fail "CUDA_VISIBLE_DEVICES=1: CUDA's device 0 is not virtual GPU 1 ($u1)"
}

@test "nvmlShutdown: after the last one every view call is UNINITIALIZED; a new nvmlInit gives the same handles" {
	run --separate-stderr in_fixture none "$PRELUDE"'
		vgpu_real --policy "$P" -- "$NVMLVIEW" count init handles shutdown shutdown count \
			shutdown count byindex:0 byuuid:GPU-00000000-0000-0000-0000-000000000000 init handles
	'
	echo "$output"
	assert_success
	# "init" takes three references (nvmlInit_v2, nvmlInit, nvmlInitWithFlags): after
	# two nvmlShutdown NVML still counts 2; after the third, as before any nvmlInit,
	# NVML_ERROR_UNINITIALIZED (1).
	assert_equal "$(grep '^count ' <<<"$output")" "count v1=-1 v2=-1
count v1=2 v2=2
count v1=-1 v2=-1"
	assert_line "byindex 0 rc=1"
	assert_line "byuuid GPU-00000000-0000-0000-0000-000000000000 rc=1 index=-"
	local handles
	handles=$(grep '^handles ' <<<"$output")
	[ "$(wc -l <<<"$handles")" -eq 2 ] || fail "expected two handle lines"
	[[ $(sed -n 1p <<<"$handles") =~ ^handles\ rc=0\ 0x[0-9a-f]+,0x[0-9a-f]+$ ]] || fail "no handles after nvmlInit"
	[ "$(sed -n 1p <<<"$handles")" = "$(sed -n 2p <<<"$handles")" ] || fail "the handles changed after a new nvmlInit"
}

@test "names: the policy's name where it gives one, the lower's otherwise; short buffers are INSUFFICIENT_SIZE" {
	run --separate-stderr in_fixture none "$PRELUDE"'
		vgpu_real --policy "$P" -- "$NVMLVIEW" init devices cuda namelen:0:9 namelen:0:8 namelen:1:12 namelen:1:11
	'
	echo "$output"
	assert_success
	assert_line --regexp '^device 0 name=Small T4 uuid='
	assert_line --regexp "^device 1 name=$H200_NAME uuid="
	assert_line --regexp '^cuda 0 .*name=Small T4 '
	assert_line --regexp "^cuda 1 .*name=$H200_NAME "
	assert_line "namelen 0 9 rc=0"
	assert_line "namelen 0 8 rc=7"
	assert_line "namelen 1 12 rc=0"
	assert_line "namelen 1 11 rc=7"
}

@test "UUIDs: virtual (not the emulator's), distinct, stable across runs, the same as CUDA's cuDeviceGetUuid" {
	run --separate-stderr in_fixture none "$PRELUDE"'
		vgpu_real --policy "$P" -- "$NVMLVIEW" lowernvml="$LOWER_NVML" init devices cuda lower.uuids uuidlen:0:41 uuidlen:0:40
		echo "== second run"
		vgpu_real --policy "$P" -- "$NVMLVIEW" init devices
	'
	echo "$output"
	assert_success
	local u0 u1 p0 p1 first=${output%%== second run*} second=${output#*== second run}
	u0=$(output=$first field 'device 0' uuid)
	u1=$(output=$first field 'device 1' uuid)
	p0=$(sed -n 's/^lower\.uuid 0 //p' <<<"$output")
	p1=$(sed -n 's/^lower\.uuid 1 //p' <<<"$output")
	[[ $u0 =~ ^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || fail "device 0 UUID '$u0'"
	[[ $u1 =~ ^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || fail "device 1 UUID '$u1'"
	[ "$u0" != "$u1" ] || fail "both GPUs have UUID $u0"
	# The emulator's own (physical) UUIDs start GPU-76677075-; the view's are others.
	[[ $p0 == GPU-76677075-* && $p1 == GPU-76677075-* ]] || fail "the lower NVML's UUIDs: '$p0' '$p1'"
	[ "$u0" != "$p0" ] && [ "$u0" != "$p1" ] && [ "$u1" != "$p0" ] && [ "$u1" != "$p1" ] ||
		fail "NVML shows a physical UUID"
	# libcuda's shim: the same UUIDs, in the same order.
	assert_line --regexp "^cuda 0 uuid=$u0 "
	assert_line --regexp "^cuda 1 uuid=$u1 "
	# The next run: the same.
	[ "$(output=$second field 'device 0' uuid)" = "$u0" ] || fail "device 0's UUID changed between runs"
	[ "$(output=$second field 'device 1' uuid)" = "$u1" ] || fail "device 1's UUID changed between runs"
	# "GPU-" + 36 + NUL = 41 bytes; one fewer is NVML_ERROR_INSUFFICIENT_SIZE.
	assert_line "uuidlen 0 41 rc=0"
	assert_line "uuidlen 0 40 rc=7"
}

@test "lookups: a virtual UUID (every form), PCI bus id and serial find the GPU by its virtual index; physical UUIDs are NOT_FOUND" {
	run --separate-stderr in_fixture none "$PRELUDE"'
		out=$(vgpu_real --policy "$P" -- "$NVMLVIEW" lowernvml="$LOWER_NVML" lower.uuids)
		echo "$out"
		set -- $(printf "%s\n" "$out" | sed -n "s/^lower\.uuid [0-9]* /byuuid:/p")
		vgpu_real --policy "$P" -- "$NVMLVIEW" init devices "$@" byuuid:GPU-nonsense
	'
	echo "$output"
	assert_success
	local i
	for i in 0 1; do
		assert_line --regexp "^device $i .* index=$i byuuid=$i byuuid_nogpu=$i byuuid_upper=$i byuuidv=$i byuuidv_bin=$i bypci=$i bypci_v1=$i byserial=$i\$"
	done
	# Both of the emulator's physical UUIDs: NVML_ERROR_NOT_FOUND (6).
	[ "$(grep -c '^byuuid GPU-76677075-[0-9a-f-]* rc=6 index=-$' <<<"$output")" -eq 2 ] ||
		fail "the physical UUIDs are not NOT_FOUND"
	# Not a UUID at all: the lower's NVML_ERROR_INVALID_ARGUMENT, as NVML answers.
	assert_line "byuuid GPU-nonsense rc=2 index=-"
}

@test "memory info v1 and v2: total = each GPU's cap, nothing used, reserved 0; CUDA's total agrees" {
	run --separate-stderr in_fixture none "$PRELUDE"'
		vgpu_real --policy "$P" -- "$NVMLVIEW" init devices cuda
	'
	echo "$output"
	assert_success
	assert_line "mem 0 v1 total=$GIB free=$GIB used=0"
	assert_line "mem 0 v2 total=$GIB reserved=0 free=$GIB used=0"
	assert_line "mem 1 v1 total=$((3 * GIB)) free=$((3 * GIB)) used=0"
	assert_line "mem 1 v2 total=$((3 * GIB)) reserved=0 free=$((3 * GIB)) used=0"
	assert_line --regexp "^cuda 0 .* total=$GIB\$"
	assert_line --regexp "^cuda 1 .* total=$((3 * GIB))\$"
}

@test "memory info: while another process of the sandbox holds 256 MiB on GPU 1, used and free show it" {
	run --separate-stderr in_fixture none "$PRELUDE"'
		S=$SCRATCH
		vgpu_real --policy "$P" -- sh -c "
			\"\$0\" alloc:1:$((256 * MIB)) ready:$S/held hold:$S/release &
			\"\$0\" hold:$S/held init devices
			: >$S/release
			wait" "$NVMLVIEW"
	'
	echo "$output"
	assert_success
	assert_line "alloc 1 $((256 * MIB)) rc=0"
	assert_line "mem 0 v1 total=$GIB free=$GIB used=0"
	assert_line "mem 1 v1 total=$((3 * GIB)) free=$((3 * GIB - 256 * MIB)) used=$((256 * MIB))"
	assert_line "mem 1 v2 total=$((3 * GIB)) reserved=0 free=$((3 * GIB - 256 * MIB)) used=$((256 * MIB))"
}

@test "running processes: only the sandbox's (not a process of another mount namespace on the same GPUs), v1/v2/v3, by the infoCount protocol" {
	run --separate-stderr in_fixture none "$PRELUDE$A_AND_B"'
		a_and_b procs:0 procs:1 lower.procs:1 detail:1 lower.detail:1
	'
	echo "$output"
	echo "stderr: $stderr"
	assert_success
	local a b
	a_and_b_pids
	# The lower (the emulator, shared by both) lists both: the filter is what leaves B out.
	assert_line --regexp "^lower\\.procs 1 nvmlDeviceGetComputeRunningProcesses_v3 rc=0 count=2 proto=ok pids=($a,$b|$b,$a)\$"
	local fn
	for fn in nvmlDeviceGetComputeRunningProcesses nvmlDeviceGetComputeRunningProcesses_v2 nvmlDeviceGetComputeRunningProcesses_v3; do
		assert_line "procs 1 $fn rc=0 count=1 proto=ok pids=$a"
		assert_line "procs 0 $fn rc=0 count=0 proto=ok pids="
	done
	for fn in Graphics MPSCompute; do
		for v in "" _v2 _v3; do
			assert_line "procs 1 nvmlDeviceGet${fn}RunningProcesses$v rc=0 count=0 proto=ok pids="
		done
	done
	# nvmlDeviceGetRunningProcessDetailList: filtered the same way where the lower has it
	# (the real driver's; checked on an H200), else the lower's error unchanged.
	local lower_rc
	lower_rc=$(sed -n 's/^lower\.detail 1 0 rc=\([0-9]*\) .*/\1/p' <<<"$output")
	if [ "$lower_rc" = 0 ]; then
		assert_line "detail 1 0 rc=0 count=1 proto=ok pids=$a"
	else
		assert_line --regexp "^detail 1 0 rc=$lower_rc "
	fi
}

# The emulator's machine has two GPUs more than the policy lists ($RUN/emulator-extra-gpus,
# emulator/common/config.c: an L4 and an H200 as its GPUs 2 and 3), as a real machine has
# GPUs a policy leaves out; the view's GPUs 0 and 1 are still the emulator's 0 and 1.
export EXTRA='echo l4,h200 >"$0/emulator-extra-gpus" && exec "$@"'

@test "topology lists (nearest GPUs, GPUs of a CPU): only the view's GPUs, though the lower hands out two more; their handles are refused" {
	run --separate-stderr in_fixture none "$PRELUDE"'
		vgpu_real --policy "$P" -- sh -c "$EXTRA" "$RUN" "$NVMLVIEW" lowernvml="$LOWER_NVML" init count \
			lower.nearest:0:50 lower.gpuset:0 nearest:0:50 nearest:1:50 nearest:0:40 nearest:0:0 gpuset:0 \
			outside:0 outside:2 outside:3 units
	'
	echo "$output"
	assert_success
	[ "${#stderr}" -eq 0 ] || fail "stderr: $stderr"
	assert_line "count v1=2 v2=2"
	# The control: the lower (the emulator, four GPUs) lists the GPUs outside the view.
	assert_line "lower.nearest 0 50 rc=0 count=3 proto=ok idx=1,2,3"
	assert_line "lower.gpuset 0 rc=0 count=4 proto=ok idx=0,1,2,3"
	# Through the view: the other view GPU only, by every form of the count protocol
	# (count 0 asks, one too few is INSUFFICIENT_SIZE with the count); every handle
	# is one nvmlDeviceGetIndex accepts.  Nearer than NVML_TOPOLOGY_SYSTEM: none.
	assert_line "nearest 0 50 rc=0 count=1 proto=ok idx=1"
	assert_line "nearest 1 50 rc=0 count=1 proto=ok idx=0"
	assert_line "nearest 0 40 rc=0 count=0 proto=ok idx="
	assert_line "nearest 0 0 rc=0 count=0 proto=ok idx="
	assert_line "gpuset 0 rc=0 count=2 proto=ok idx=0,1"
	# A handle of a GPU outside the view (from the lower, loaded by path) is
	# NVML_ERROR_INVALID_ARGUMENT (2) for the view; one of a view GPU is accepted.
	assert_line "outside 2 index=2 nearest=2 acct=2 util=2 utilinfo=2"
	assert_line "outside 3 index=2 nearest=2 acct=2 util=2 utilinfo=2"
	assert_line --regexp "^outside 0 index=0 nearest=0 acct=0 util=6 utilinfo=6\$"
	# Units: the emulator has none, so nvmlUnitGetDevices is the lower's
	# INVALID_ARGUMENT (the view's filter of a unit's GPUs is not exercised here).
	assert_line "units rc=0 count=0 devices_rc=2"
}

@test "accounting pids and process utilization (both forms): only the sandbox's (not a process of another mount namespace on the same GPU)" {
	run --separate-stderr in_fixture none "$PRELUDE$A_AND_B"'
		a_and_b acct:0 acct:1 util:0 util:1 utilinfo:0 utilinfo:1 lower.acct:1 lower.util:1 lower.utilinfo:1
	'
	echo "$output"
	echo "stderr: $stderr"
	assert_success
	local a b
	a_and_b_pids
	# The lower lists both: the filter is what leaves B out.
	assert_line --regexp "^lower\\.acct 1 rc=0 count=2 proto=ok pids=($a,$b|$b,$a)\$"
	assert_line --regexp "^lower\\.util 1 rc=0 count=2 proto=ok zero=yes ts=ok later=6 pids=($a,$b|$b,$a)\$"
	assert_line --regexp "^lower\\.utilinfo 1 rc=0 count=2 proto=ok zero=yes ts=ok later=6 pids=($a,$b|$b,$a)\$"
	assert_line "acct 1 rc=0 count=1 proto=ok pids=$a"
	assert_line "util 1 rc=0 count=1 proto=ok zero=yes ts=ok later=6 pids=$a"
	assert_line "utilinfo 1 rc=0 count=1 proto=ok zero=yes ts=ok later=6 pids=$a"
	# GPU 0: nobody; no sample is NVML_ERROR_NOT_FOUND (6), as NVML answers.
	assert_line "acct 0 rc=0 count=0 proto=ok pids="
	assert_line "util 0 rc=6 count=0 proto=ok zero=yes ts=ok later=6 pids="
	assert_line "utilinfo 0 rc=6 count=0 proto=ok zero=yes ts=ok later=6 pids="
}

@test "--memory 2G --emulate=h200 (a global cap): total 2 GiB in NVML v1, v2 and CUDA" {
	run --separate-stderr in_fixture none "$PRELUDE"'
		vgpu_real --memory 2G --emulate=h200 -- "$NVMLVIEW" init count devices cuda
	'
	echo "$output"
	assert_success
	assert_line "count v1=1 v2=1"
	assert_line --regexp "^device 0 name=$H200_NAME "
	assert_line "mem 0 v1 total=$((2 * GIB)) free=$((2 * GIB)) used=0"
	assert_line "mem 0 v2 total=$((2 * GIB)) reserved=0 free=$((2 * GIB)) used=0"
	assert_line --regexp "^cuda 0 .* total=$((2 * GIB))\$"
}

@test "no cap: memory info is the lower's own (the H200's total and reserve)" {
	run --separate-stderr in_fixture none "$PRELUDE"'
		vgpu_real --emulate=h200 -- "$NVMLVIEW" init devices
	'
	echo "$output"
	assert_success
	assert_line --regexp "^mem 0 v1 total=$H200_NVML_TOTAL free=[0-9]+ used=[1-9][0-9]*\$"
	assert_line --regexp "^mem 0 v2 total=$H200_NVML_TOTAL reserved=[1-9][0-9]* free=[0-9]+ used=0\$"
}

@test "nvidia-ml-py (pynvml) sees the same GPUs: count, names, UUIDs, memory, lookups" {
	# The Python that has pynvml; the module (one file) is copied where the test user
	# can read it, for /usr/bin/python3.
	local py mod=
	for py in ${VGPU_TEST_PYTHON:-} python3 /usr/bin/python3; do
		mod=$(command -v "$py" >/dev/null && "$py" -c 'import pynvml; print(pynvml.__file__)' 2>/dev/null) && break
		mod=
	done
	[ -n "$mod" ] || skip "nvidia-ml-py not installed (PyPI; tools/setup installs it)"
	export PYNVML_FILE=$mod
	run --separate-stderr in_fixture none "$PRELUDE"'
		mkdir -p "$SCRATCH/py"
		cp "$PYNVML_FILE" "$SCRATCH/py/pynvml.py"
		cp "$PEERS/pynvml_view.py" "$SCRATCH/py/"
		chmod -R a+rX "$SCRATCH/py"
		vgpu_real --policy "$P" -- env PYTHONPATH="$SCRATCH/py" "$PYTHON" "$SCRATCH/py/pynvml_view.py"
		vgpu_real --policy "$P" -- "$NVMLVIEW" init devices
	'
	echo "$output"
	echo "$stderr"
	assert_success
	assert_line "done"
	assert_line "count 2"
	local i
	for i in 0 1; do
		local uuid name
		uuid=$(field "device $i" uuid)
		[ -n "$uuid" ] || fail "no UUID of device $i from nvmlview"
		assert_line --regexp "^pynvml $i name=.* uuid=$uuid byuuid=$i "
	done
	assert_line --regexp "^pynvml 0 name=Small T4 uuid=.* total=$GIB free=$GIB used=0 v2_total=$GIB v2_reserved=0 v2_free=$GIB v2_used=0\$"
	assert_line --regexp "^pynvml 1 name=$H200_NAME uuid=.* total=$((3 * GIB)) free=$((3 * GIB)) used=0 v2_total=$((3 * GIB)) v2_reserved=0 v2_free=$((3 * GIB)) v2_used=0\$"
	assert_line "pynvml 0 processes "
	assert_line "pynvml 1 processes "
}

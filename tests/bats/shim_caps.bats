#!/usr/bin/env bats
# vgpu-test-users: root nobody
#
# Memory caps (docs/accounting.md): every allocating entry point of the shim's
# libcuda.so.1 reserves in the sandbox's accounting region before the lower driver (the
# emulator) allocates, and the cap holds for the whole sandbox — all processes, all
# threads.  The emulated GPUs have far more memory than the caps here (t4: 15 GiB,
# h200: 141 GiB), so every CUDA_ERROR_OUT_OF_MEMORY (2) seen is the cap's.
#
# The probe is tests/probes/capalloc.c: one line per op on stdout.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	vgpu_require
	SHIM_LIB="$VGPU_PREFIX/lib/vgpu"
	CAPALLOC="$PROBES/capalloc"
	for f in "$SHIM_LIB/libcuda.so.1" "$SHIM_LIB/emulator/libcuda.so.1" "$CAPALLOC"; do
		[ -f "$f" ] || fail "missing $f: build with 'zig build tests'"
	done
	export SHIM_LIB CAPALLOC
	export RUN="$SHIM_LIB/run"
}

# Inside the fixture: vgpu-run of the real install (lib dir found from the executable).
REAL='
	vgpu_real() { as_user "$VGPU" "$@"; }
'

G=1073741824
M=1048576

# --- one process --------------------------------------------------------------------------

@test "allocations up to the cap succeed, the next gets CUDA_ERROR_OUT_OF_MEMORY (2), a free makes room again" {
	run --separate-stderr in_fixture none "$REAL"'
		vgpu_real --emulate=t4 --memory 1G -- "$CAPALLOC" info fill:alloc:256M info free info \
			fill:alloc:300M alloc:alloc:124M alloc:alloc:1 info free info
	'
	assert_success
	assert_line --index 1 "info free=$G total=$G used=0"
	assert_line --index 2 "fill alloc n=4 bytes=$G rc=2"
	assert_line --index 3 "info free=0 total=$G used=$G"
	assert_line --index 4 "free n=4 rc=0"
	assert_line --index 5 "info free=$G total=$G used=0"
	# Exactly the cap, not a byte more.
	assert_line --index 6 "fill alloc n=3 bytes=$((900 * M)) rc=2"
	assert_line --index 7 "alloc alloc 124M rc=0"
	assert_line --index 8 "alloc alloc 1 rc=2"
	assert_line --index 9 "info free=0 total=$G used=$G"
	assert_line --index 10 "free n=4 rc=0"
	assert_line --index 11 "info free=$G total=$G used=0"
	[ -z "$stderr" ] || fail "unexpected messages: $stderr"
}

@test "every allocating entry point is capped, and its free gives the bytes back" {
	run --separate-stderr in_fixture none "$REAL"'
		for e in alloc pitch managed async async_ptsz pool pool_ptsz vmm vmmh; do
			vgpu_real --emulate=t4 --memory 1G -- "$CAPALLOC" fill:$e:256M free info
		done
		# The CUDA 2.x forms: 32-bit pointers, in the emulator'\''s low 4 GiB.
		for e in alloc32 pitch32; do
			vgpu_real --emulate=t4 --memory 256M -- "$CAPALLOC" fill:$e:64M free info
		done
	'
	assert_success
	local e
	for e in alloc pitch managed async async_ptsz pool pool_ptsz vmm vmmh; do
		assert_line "fill $e n=4 bytes=$G rc=2"
	done
	for e in alloc32 pitch32; do
		assert_line "fill $e n=4 bytes=$((256 * M)) rc=2"
	done
	[ "$(grep -c '^free n=4 rc=0$' <<<"$output")" -eq 11 ] || fail "a free failed: $output"
	[ "$(grep -c "^info free=$G total=$G used=0\$" <<<"$output")" -eq 9 ] || fail "bytes were not given back: $output"
	[ "$(grep -c "^info free=$((256 * M)) total=$((256 * M)) used=0\$" <<<"$output")" -eq 2 ] ||
		fail "bytes were not given back (32-bit forms): $output"
	[ -z "$stderr" ] || fail "unexpected messages: $stderr"
}

@test "arrays and mipmapped arrays: an estimate over the cap is refused before the driver sees it" {
	run --separate-stderr in_fixture none "$REAL"'
		for e in array array32 array3d array3d32 mipmap; do
			vgpu_real --emulate=t4 --memory 1G -- "$CAPALLOC" alloc:$e:2G alloc:$e:1M info
		done
	'
	assert_success
	local e line
	for e in array array32 array3d array3d32 mipmap; do
		assert_line "alloc $e 2G rc=2"
		# Under the cap the lower driver answers: the emulator has no arrays (801); a
		# driver that has them succeeds and the estimate (1 MiB of 8-bit texels) counts.
		line=$(grep "^alloc $e 1M " <<<"$output")
		case $line in
		*rc=801) ;;
		*rc=0) ;;
		*) fail "$e under the cap: $line" ;;
		esac
	done
	# 801: nothing stays reserved; 0: the array's 1 MiB.
	while IFS= read -r line; do
		case $line in
		"info free=$G total=$G used=0" | "info free=$((1023 * M)) total=$G used=$M") ;;
		info*) fail "unexpected usage after one small array: $line" ;;
		esac
	done <<<"$output"
}

@test "cuMemAllocPitch counts pitch x height, as the driver allocated it" {
	# 1000000 / 16 = 62500 bytes a row, the pitch 62976 (512-byte rows): 16 rows.
	run --separate-stderr in_fixture none "$REAL"'
		vgpu_real --emulate=t4 --memory 1G -- "$CAPALLOC" alloc:pitch:1000000 info free info
	'
	assert_success
	assert_line --index 1 "alloc pitch 1000000 rc=0"
	assert_line --index 2 "info free=$((G - 62976 * 16)) total=$G used=$((62976 * 16))"
	assert_line --index 4 "info free=$G total=$G used=0"
}

@test "a VMM handle released right after cuMemMap stays counted until cuMemUnmap" {
	# The vmm entry of the probe releases each handle as soon as it is mapped (as
	# NVIDIA's samples and ggml do): the memory is still the process's.
	run --separate-stderr in_fixture none "$REAL"'
		vgpu_real --emulate=t4 --memory 1G -- "$CAPALLOC" fill:vmm:256M:3 info alloc:alloc:512M free info
	'
	assert_success
	assert_line --index 1 "fill vmm n=3 bytes=$((768 * M)) rc=0"
	assert_line --index 2 "info free=$((256 * M)) total=$G used=$((768 * M))"
	assert_line --index 3 "alloc alloc 512M rc=2"
	assert_line --index 5 "info free=$G total=$G used=0"
}

@test "no cap: allocations are still counted in the sandbox's accounting region" {
	# gpu[0].used: the first word of the per-GPU totals, at offset 128 of the region.
	run --separate-stderr in_fixture none "$REAL"'
		vgpu_real --emulate=t4 -- sh -c '\''
			"$CAPALLOC" fill:alloc:256M:3 hold >"$SCRATCH/holder.out" & h=$!
			i=0
			until grep -q "^held" "$SCRATCH/holder.out" 2>/dev/null; do
				i=$((i + 1)); [ $i -lt 500 ] || { echo "holder never got ready"; exit 1; }; sleep 0.02
			done
			echo "used $(od -An -t u8 -j 128 -N 8 "$RUN/accounting" | tr -d " ")"
			kill $h; wait $h 2>/dev/null
			exit 0
		'\''
	'
	assert_success
	assert_line "used $((768 * M))"
}

# --- contexts ------------------------------------------------------------------------------

@test "cuCtxDestroy gives back the context's allocations; so do the last primary release and a reset" {
	run --separate-stderr in_fixture none "$REAL"'
		vgpu_real --emulate=t4 --memory 1G -- "$CAPALLOC" ctx=create fill:alloc:256M info ctx:destroy \
			ctx:retain info fill:alloc:256M
		vgpu_real --emulate=t4 --memory 1G -- "$CAPALLOC" fill:alloc:256M:3 fill:async:128M:1 ctx:release \
			ctx:retain info
		vgpu_real --emulate=t4 --memory 1G -- "$CAPALLOC" fill:alloc:256M:3 ctx:retain ctx:reset ctx:retain info
	'
	assert_success
	# An ordinary context, destroyed with 1 GiB in it.
	assert_line --index 0 "ctx create rc=0"
	assert_line --index 1 "fill alloc n=4 bytes=$G rc=2"
	assert_line --index 2 "info free=0 total=$G used=$G"
	assert_line --index 3 "ctx destroy rc=0"
	assert_line --index 4 "ctx retain rc=0"
	assert_line --index 5 "info free=$G total=$G used=0"
	assert_line --index 6 "fill alloc n=4 bytes=$G rc=2"
	# The primary context, released by its only retainer.
	assert_line --index 7 "ctx retain rc=0"
	assert_line --index 10 "ctx release rc=0"
	assert_line --index 11 "ctx retain rc=0"
	assert_line --index 12 "info free=$G total=$G used=0"
	# Retained twice, then reset: everything goes at once.
	assert_line --index 16 "ctx reset rc=0"
	assert_line --index 17 "ctx retain rc=0"
	assert_line --index 18 "info free=$G total=$G used=0"
	[ -z "$stderr" ] || fail "unexpected messages: $stderr"
}

# --- the sandbox: processes, threads, fork, kill -------------------------------------------

@test "3 processes x 4 threads allocating and freeing at once never hold more than the cap together" {
	# Each thread raises a shared sum (a file all three map) after an allocation
	# succeeded and lowers it before freeing: the sum never exceeds what is really held,
	# so a sum over the cap is a real breach.  Demand (12 threads x up to 4 x 288 MiB)
	# is far over the cap, and one thread alone reaches it (4 x 288 MiB > 1 GiB): the
	# cap is met even when a loaded machine runs the threads one after another.
	run --separate-stderr in_fixture none "$REAL"'
		truncate -s 64 "$SCRATCH/sum"
		chmod 666 "$SCRATCH/sum"
		vgpu_real --emulate=t4 --memory 1G -- sh -c '\''
			for i in 1 2 3; do
				"$CAPALLOC" cap=1G shared="$SCRATCH/sum" threads:4:300:288M &
			done
			wait
			"$CAPALLOC" info
		'\''
	'
	assert_success
	local line n=0 ok=0 oom=0
	while IFS= read -r line; do
		[[ $line == threads* ]] || continue
		n=$((n + 1))
		[[ $line =~ ok=([0-9]+)\ oom=([0-9]+)\ other=0\ max=([0-9]+)\ violations=0$ ]] || fail "$line"
		[ "${BASH_REMATCH[3]}" -le "$G" ] || fail "the processes held more than the cap: $line"
		ok=$((ok + BASH_REMATCH[1]))
		oom=$((oom + BASH_REMATCH[2]))
	done <<<"$output"
	[ "$n" -eq 3 ] || fail "expected 3 processes' results: $output"
	# A process may be starved: a refusal at the cap costs no driver call, so its 300
	# rounds can pass in microseconds while another holds the cap.  The sum counts.
	[ "$ok" -gt 0 ] || fail "no allocation succeeded: $output"
	[ "$oom" -gt 0 ] || fail "the cap was never reached, the test proves nothing: $output"
	# After they exited: nothing is counted any more.
	assert_line "info free=$G total=$G used=0"
}

@test "while one process holds memory, another sees total = the cap and free = the cap minus it" {
	run --separate-stderr in_fixture none "$REAL"'
		vgpu_real --emulate=t4 --memory 1G -- sh -c '\''
			"$CAPALLOC" alloc:alloc:768M hold >"$SCRATCH/holder.out" & h=$!
			i=0
			until grep -q "^held" "$SCRATCH/holder.out" 2>/dev/null; do
				i=$((i + 1)); [ $i -lt 500 ] || { echo "holder never got ready"; exit 1; }; sleep 0.02
			done
			"$CAPALLOC" info alloc:alloc:512M alloc:alloc:256M info
			kill $h; wait $h 2>/dev/null
			exit 0
		'\''
	'
	assert_success
	assert_line --index 1 "info free=$((256 * M)) total=$G used=$((768 * M))"
	assert_line --index 2 "alloc alloc 512M rc=2"
	assert_line --index 3 "alloc alloc 256M rc=0"
	assert_line --index 4 "info free=0 total=$G used=$G"
}

@test "a process SIGKILLed while holding memory: its share is reclaimed, the next one gets the whole cap" {
	run --separate-stderr in_fixture none "$REAL"'
		vgpu_real --emulate=t4 --memory 1G -- sh -c '\''
			"$CAPALLOC" fill:alloc:256M:3 hold >"$SCRATCH/holder.out" & h=$!
			i=0
			until grep -q "^held" "$SCRATCH/holder.out" 2>/dev/null; do
				i=$((i + 1)); [ $i -lt 500 ] || { echo "holder never got ready"; exit 1; }; sleep 0.02
			done
			"$CAPALLOC" info
			kill -9 $h; wait $h 2>/dev/null
			"$CAPALLOC" info fill:alloc:256M
		'\''
	'
	assert_success
	assert_line --index 1 "info free=$((256 * M)) total=$G used=$((768 * M))"
	assert_line --index 3 "info free=$G total=$G used=0"
	assert_line --index 4 "fill alloc n=4 bytes=$G rc=2"
}

@test "fork: a child's frees of its parent's allocations give back nothing of the parent's" {
	run --separate-stderr in_fixture none "$REAL"'
		vgpu_real --emulate=t4 --memory 1G -- "$CAPALLOC" fill:alloc:256M:2 fill:vmm:256M:1 forkfree info free info
	'
	assert_success
	assert_line --index 3 "forkfree child n=3 rc=0 status=0"
	assert_line --index 4 "info free=$((256 * M)) total=$G used=$((768 * M))"
	assert_line --index 5 "free n=3 rc=0"
	assert_line --index 6 "info free=$G total=$G used=0"
	[[ $stderr != *"released more memory"* ]] || fail "a process gave back what it did not reserve: $stderr"
}

@test "two GPUs, each with its own cap ([gpu] sections): allocations count on their own GPU" {
	run --separate-stderr in_fixture none "$REAL"'
		printf "[gpu]\ndevice = emulated:t4\nmemory = 1G\n\n[gpu]\ndevice = emulated:h200\nmemory = 2G\n" >"$SCRATCH/two.conf"
		vgpu_real --policy "$SCRATCH/two.conf" -- sh -c '\''
			"$CAPALLOC" dev=0 fill:alloc:256M hold >"$SCRATCH/holder.out" & h=$!
			i=0
			until grep -q "^held" "$SCRATCH/holder.out" 2>/dev/null; do
				i=$((i + 1)); [ $i -lt 500 ] || { echo "holder never got ready"; exit 1; }; sleep 0.02
			done
			cat "$SCRATCH/holder.out"
			"$CAPALLOC" dev=1 info fill:alloc:256M info
			kill $h; wait $h 2>/dev/null
			exit 0
		'\''
	'
	assert_success
	assert_line "fill alloc n=4 bytes=$G rc=2"
	assert_line "info free=$((2 * G)) total=$((2 * G)) used=0"
	assert_line "fill alloc n=8 bytes=$((2 * G)) rc=2"
	assert_line "info free=0 total=$((2 * G)) used=$((2 * G))"
}

#!/usr/bin/env bats
# vgpu-test-users: root nobody
#
# cuGetProcAddress(_v2) through the shim, variant-exact (docs/shim.md, issue 4 item 5):
# for every request the shim's answer is the lower driver's — same rc, same status, the
# same pointer, or the shim's own function of exactly the same variant where the shim
# intercepts it (today cuGetProcAddress and _v2 only).  The requests are every variant
# of the variant table (emulator/data/procaddr.tsv, at its introduction version, flag
# 2 for per-thread variants) — a superset of what cudart 13.0 asks (the project's
# reference cudart-13.0-procaddr-requests.txt, but for three names it also asks at
# 13000, added here) — plus the edge cases of cudart-on-a-software-driver.md section 2.
# The unit test of the decision itself, with a fake lower driver that aliases and hands
# out internal functions: tests/unit/test_procaddr_pick.c.
#
# The lower driver is the emulator (the fixture has no driver); the probe is
# tests/probes/shimcall.c.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	vgpu_require
	SHIM_LIB="$VGPU_PREFIX/lib/vgpu"
	SHIMCALL="$PROBES/shimcall"
	TSV="$BATS_TEST_DIRNAME/../../emulator/data/procaddr.tsv"
	for f in "$SHIM_LIB/libcuda.so.1" "$SHIM_LIB/emulator/libcuda.so.1" "$SHIMCALL" "$TSV"; do
		[ -f "$f" ] || fail "missing $f: build with 'zig build tests'"
	done
	export SHIM_LIB SHIMCALL
	export RUN="$SHIM_LIB/run"
}

REAL='
	vgpu_real() { as_user "$VGPU" "$@"; }
'

# The requests: NAME:VERSION:FLAGS words.
requests() {
	awk -F'\t' '!/^#/ && NF == 4 { print $1 ":" $2 ":" ($3 == "per-thread" ? 2 : 0) }' "$TSV"
	# cudart 13.0 asks these at 13000 too.
	printf '%s\n' cuDeviceGet:13000:0 cuDeviceGetAttribute:13000:0 cuDeviceGetName:13000:0
	# Edge cases: an older variant at a later version, flag 1, flag 2 without per-thread
	# variants or before them, too old, newer than the driver, suffixed, unknown, empty.
	printf '%s\n' cuMemAlloc:2000:0 cuMemAlloc:12000:0 cuMemAlloc:13000:2 cuMemAlloc:1000:0 \
		cuMemcpyHtoD:13000:1 cuMemcpyHtoD:13000:2 cuMemcpyHtoD:6000:2 cuCtxGetDevice:12000:0 \
		cuCtxGetDevice:13000:0 cuCtxCreate:12000:0 cuLibraryLoadData:11080:0 \
		cuInit:99000:0 cuMemAlloc:99000:0 cuGetProcAddress:99000:0 cuMemAlloc_v2:13000:0 \
		cuMemcpyHtoD_v2_ptds:13000:2 cuGetProcAddress_v2:13000:0 cuNoSuchFunction:12000:0 \
		:0:0 :13000:0 cuGetProcAddress:11030:0 cuGetProcAddress:12000:0 \
		cuGetProcAddress:12000:2 cuGetProcAddress:10000:0 cuGetExportTable:3000:0
}

@test "cuGetProcAddress(_v2) for every variant of the table and the edge cases: the lower's rc, status and variant" {
	PA_OPS=$(requests | while IFS= read -r r; do
		printf '%s ' "procaddr:$r" "lower.procaddr:$r" "procaddr1:$r" "lower.procaddr1:$r"
	done)
	export PA_OPS
	run --separate-stderr in_fixture none "$REAL"'
		vgpu_real -- "$SHIMCALL" lower="$RUN/driver/lower:libcuda.so.1" $PA_OPS
	'
	assert_success
	local line theirs want n=0 own=0 lowerptrs=0
	while IFS= read -r line; do
		case $line in
		procaddr*) ;;
		*) continue ;;
		esac
		n=$((n + 1))
		theirs=$(printf '%s\n' "$output" | grep -F -x -m1 -- "lower.${line%% rc=*} rc=${line#* rc=}" || true)
		if [ -z "$theirs" ]; then
			# Not the same line: only the shim's own function of the very variant the
			# lower handed out may differ.
			case $line in
			*ptr=shim:*) want="lower.${line/ptr=shim:/ptr=lower:}" ;;
			*) want="(identical)" ;;
			esac
			theirs=$(printf '%s\n' "$output" | grep -F -x -m1 -- "$want" || true)
			[ -n "$theirs" ] || fail "the shim answered '$line'; the lower driver: $(printf '%s\n' "$output" | grep -F -- "lower.${line%% rc=*} rc=")"
			own=$((own + 1))
		fi
		case $line in *ptr=lower:*) lowerptrs=$((lowerptrs + 1)) ;; esac
	done <<<"$output"
	local want_n=$(($(requests | wc -l) * 2))
	[ "$n" -eq "$want_n" ] || fail "$n answers through the shim, $want_n requests: $output"
	[ "$lowerptrs" -gt 300 ] || fail "only $lowerptrs answers were the lower driver's exports"
	[ "$own" -ge 5 ] || fail "only $own answers were the shim's own function"
	# The shim's own: cuGetProcAddress (v1 at 11030, _v2 from 12000), and each variant it
	# intercepts, exactly the variant the request gets from the lower driver.
	assert_line "procaddr cuGetProcAddress 11030 0 rc=0 status=0 ptr=shim:cuGetProcAddress"
	assert_line "procaddr1 cuGetProcAddress 11030 0 rc=0 ptr=shim:cuGetProcAddress"
	assert_line "procaddr cuGetProcAddress 12000 0 rc=0 status=0 ptr=shim:cuGetProcAddress_v2"
	assert_line "procaddr cuGetProcAddress 12000 2 rc=0 status=0 ptr=shim:cuGetProcAddress_v2"
	assert_line "procaddr1 cuGetProcAddress 12000 0 rc=0 ptr=shim:cuGetProcAddress_v2"
	# An older variant stays the older variant (both are intercepted: the caps).
	assert_line "procaddr cuMemAlloc 2000 0 rc=0 status=0 ptr=shim:cuMemAlloc"
	assert_line "procaddr cuMemAlloc 12000 0 rc=0 status=0 ptr=shim:cuMemAlloc_v2"
	assert_line "procaddr cuCtxGetDevice 12000 0 rc=0 status=0 ptr=lower:cuCtxGetDevice"
	# rc and status passed through: too old, newer than the driver, suffixed, unknown, empty.
	assert_line "procaddr cuMemAlloc 1000 0 rc=0 status=2 ptr=null"
	assert_line "procaddr cuMemcpyHtoD 6000 2 rc=0 status=2 ptr=null"
	assert_line "procaddr cuMemAlloc 99000 0 rc=1 status=-1 ptr=unchanged"
	assert_line "procaddr cuInit 99000 0 rc=1 status=-1 ptr=unchanged"
	assert_line "procaddr cuGetProcAddress 99000 0 rc=1 status=-1 ptr=unchanged"
	assert_line "procaddr cuMemAlloc_v2 13000 0 rc=0 status=1 ptr=null"
	assert_line "procaddr cuGetProcAddress_v2 13000 0 rc=0 status=1 ptr=null"
	assert_line "procaddr cuNoSuchFunction 12000 0 rc=0 status=1 ptr=null"
	assert_line "procaddr  0 0 rc=0 status=1 ptr=null"
	assert_line "procaddr1 cuNoSuchFunction 12000 0 rc=500 ptr=unchanged"
	[[ $stderr != *"vgpu shim"* ]] || fail "the shim complained: $stderr"
}

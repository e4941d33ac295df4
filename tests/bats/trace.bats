#!/usr/bin/env bats
# vgpu-run --trace FILE and --trace-report FILE (docs/tracing.md): every CUDA and NVML
# call of every process of the sandbox, one JSON object per line; the summary table.
#
# The lower driver is the emulator (this machine has no driver); vgpu-run runs from the
# install as users run it (no --lib-dir).  Probes: tests/probes/tracecall.c (calls of
# every kind: exported names, cuGetProcAddress pointers, intercepted functions, threads,
# fork, callbacks that call in again, a longjmp out of a callback), shimcall (pointers
# cuGetProcAddress hands out).  numba-cuda and nvidia-ml-py are real clients; a test
# that needs a missing one is skipped, saying which.  Root only (the Python packages
# may live where uid 65534 cannot read); one test runs vgpu-run as uid 65534 itself.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	vgpu_require
	for f in "$PROBES/tracecall" "$PROBES/shimcall"; do
		[ -x "$f" ] || fail "missing $f: build with 'zig build tests'"
	done
	command -v jq >/dev/null || fail "jq is needed (tools/setup installs it)"
	T="$BATS_TEST_TMPDIR/t.jsonl"
	RUN="$VGPU_PREFIX/lib/vgpu/run"
	export T RUN
}

teardown() {
	if [ -n "${SHARED:-}" ]; then rm -rf "$SHARED"; fi
}

# The first Python (VGPU_TEST_PYTHON, python3 on PATH, /usr/bin/python3) that has the
# module; empty when none has.
find_python() { # MODULE
	local py
	for py in ${VGPU_TEST_PYTHON:-} python3 /usr/bin/python3; do
		py=$(command -v "$py") || continue
		if "$py" -c "import $1" 2>/dev/null; then
			echo "$py"
			return 0
		fi
	done
}

# sandboxed ARG...: vgpu-run from the install, without emulator variables.
sandboxed() {
	env -u LD_LIBRARY_PATH -u VGPU_EMULATOR_DEVICES -u CUDA_VISIBLE_DEVICES "$VGPU" "$@"
}

# Every line of FILE parses as a JSON object with the fields of a record.
valid_trace() { # FILE
	"$PYTHON" - "$1" <<'EOF'
import json, sys
n = 0
for i, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    r = json.loads(line)
    assert isinstance(r, dict), f"line {i}: not an object"
    for k, t in (("t", int), ("pid", int), ("tid", int), ("ns", int), ("api", str), ("fn", str)):
        assert isinstance(r.get(k), t), f"line {i}: {k} is {r.get(k)!r}"
    assert r["api"] in ("cuda", "nvml"), f"line {i}: api {r['api']}"
    assert r["ns"] >= 0 and r["t"] > 1e18, f"line {i}: times {r['t']} {r['ns']}"
    assert "result" in r and (r["result"] is None or isinstance(r["result"], (str, int))), f"line {i}: result"
    if "args" in r:
        assert isinstance(r["args"], dict), f"line {i}: args"
    n += 1
print(n)
EOF
}

# The (process, function) → calls table of --trace-report, as "PID FN CALLS ERRORS"
# lines, sorted; and the same counted from the trace with jq.
report_counts() { # FILE
	sandboxed --trace-report "$1" | awk '
		/^process / { pid = $2; sub(":", "", pid); next }
		/^ *[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+ [^ ]+$/ && $6 != "total" { print pid, $6, $4, $5 }
	' | sort
}
jq_counts() { # FILE
	jq -r '[.pid, .fn, (if .result == null or ((.result | type) == "string" and (.result | endswith("_SUCCESS"))) then 0 else 1 end)] | @tsv' "$1" |
		awk '{ k = $1 " " $2; calls[k]++; errors[k] += $3 } END { for (k in calls) print k, calls[k], errors[k] }' | sort
}

@test "numba-cuda's detect() under --trace: valid JSON Lines, first cuInit or cuGetProcAddress, report counts match" {
	py=$(find_python numba.cuda)
	[ -n "$py" ] || skip "numba-cuda is not installed for any Python here"
	cd "$BATS_TEST_TMPDIR"
	run --separate-stderr sandboxed --trace t.jsonl -- "$py" -c 'import numba.cuda; numba.cuda.detect()'
	assert_success
	assert_output --partial "Found 1 CUDA devices"
	run valid_trace "$T"
	assert_success
	local nrec=$output
	[ "$nrec" -gt 20 ] || fail "only $nrec records"
	# The first call, by start time.
	first=$(jq -s -r 'sort_by(.t) | .[0].fn' "$T")
	case $first in
	cuInit | cuGetProcAddress | cuGetProcAddress_v2) ;;
	*) fail "the first call is $first" ;;
	esac
	# One thread made them all: the file is in call order too.
	[ "$(head -n 1 "$T" | jq -r .fn)" = "$first" ] || fail "the file starts with $(head -n 1 "$T")"
	# Every call through cuGetProcAddress's pointers is there too: numba asks for its
	# functions that way and calls cuDeviceGetAttribute through them.
	[ "$(jq -r 'select(.fn == "cuDeviceGetAttribute") | .fn' "$T" | wc -l)" -gt 0 ] ||
		fail "no cuDeviceGetAttribute: calls through cuGetProcAddress's pointers escaped"
	run report_counts "$T"
	assert_success
	local from_report=$output
	[ "$from_report" = "$(jq_counts "$T")" ] || fail "report: $from_report; trace: $(jq_counts "$T")"
	run sandboxed --trace-report "$T"
	assert_success
	assert_line "$nrec calls in 1 processes"
}

@test "a shell pipeline: both CUDA processes of 'sh -c \"prog1 | prog2\"' are in the trace, whole lines each" {
	run --separate-stderr sandboxed --trace "$T" -- sh -c \
		'"$1" pid calls:500 | { cat; "$1" pid calls:300; }' sh "$PROBES/tracecall"
	assert_success
	pids=$(printf '%s\n' "$output" | sed -n 's/^pid=//p')
	[ "$(printf '%s\n' "$pids" | wc -l)" = 2 ] || fail "expected two pids: $output"
	run valid_trace "$T"
	assert_success
	[ "$(jq -r .pid "$T" | sort -u)" = "$(printf '%s\n' $pids | sort -u)" ] ||
		fail "pids in the trace: $(jq -r .pid "$T" | sort -u | tr '\n' ' '); the processes: $pids"
	p1=$(printf '%s\n' "$pids" | head -1)
	p2=$(printf '%s\n' "$pids" | tail -1)
	[ "$(jq -r "select(.pid == $p1 and .fn == \"cuDeviceGetAttribute\") | .fn" "$T" | wc -l)" = 500 ]
	[ "$(jq -r "select(.pid == $p2 and .fn == \"cuDeviceGetAttribute\") | .fn" "$T" | wc -l)" = 300 ]
	run sandboxed --trace-report "$T"
	assert_success
	assert_line "$(wc -l <"$T") calls in 2 processes"
}

@test "intercepted functions have named arguments; forwarded ones none; NVML too" {
	run --separate-stderr sandboxed --trace "$T" -- "$PROBES/tracecall" alloc:1048576 procaddr:4
	assert_success
	assert_line "alloc rc=0 free=0"
	[ "$(jq -c 'select(.fn == "cuMemAlloc_v2") | [.result, .args.bytesize, (.args.dptr | test("^0x[0-9a-f]+$"))]' "$T")" = '["CUDA_SUCCESS",1048576,true]' ]
	[ "$(jq -c 'select(.fn == "cuInit") | .args' "$T")" = '{"flags":0}' ]
	[ "$(jq -c 'select(.fn == "cuGetProcAddress_v2") | [.args.symbol, .args.cudaVersion, .args.flags]' "$T")" = '["cuDeviceGetAttribute",12000,0]' ]
	[ "$(jq -r 'select(.fn == "cuDeviceGetAttribute") | has("args")' "$T" | sort -u)" = false ]
	# The four calls through the pointer cuGetProcAddress handed out.
	[ "$(jq -r 'select(.fn == "cuDeviceGetAttribute") | .fn' "$T" | wc -l)" = 4 ]

	py=$(find_python pynvml)
	[ -n "$py" ] || skip "nvidia-ml-py is not installed for any Python here"
	run --separate-stderr sandboxed --trace "$T" -- "$py" -c '
import pynvml as n
n.nvmlInit()
n.nvmlDeviceGetHandleByIndex(0)
try:
    n.nvmlDeviceGetHandleByIndex(7)
except n.NVMLError as e:
    print("error", e.value)
n.nvmlShutdown()'
	assert_success
	assert_output "error 2"
	[ "$(jq -c 'select(.fn == "nvmlDeviceGetHandleByIndex_v2") | [.api, .result, .args.index]' "$T" | tr '\n' ' ')" = \
		'["nvml","NVML_SUCCESS",0] ["nvml","NVML_ERROR_INVALID_ARGUMENT",7] ' ]
	run sandboxed --trace-report "$T"
	assert_success
	assert_line --regexp '^ *[0-9.]+ +[0-9.]+ +[0-9.]+ +2 +1 nvmlDeviceGetHandleByIndex_v2$'
}

@test "threads, a thread alive at exit, a forked child, callbacks calling in again, a longjmp out of one" {
	run --separate-stderr sandboxed --trace "$T" -- "$PROBES/tracecall" pid threads:8:50 nested longjmp fork linger:7
	assert_success
	assert_line "nested rc=0 inner=0 count=1 version=13000"
	assert_line "longjmp jumped=1 rc=0"
	pid=$(printf '%s\n' "$output" | sed -n 's/^pid=//p')
	child=$(printf '%s\n' "$output" | sed -n 's/^fork child=\([0-9]*\) status=0$/\1/p')
	[ -n "$child" ] || fail "no child: $output"
	run valid_trace "$T"
	assert_success
	# 8 threads x 50 and the lingering thread's 7, each thread its own tid.
	[ "$(jq -r "select(.pid == $pid and .fn == \"cuDeviceGetAttribute\") | .fn" "$T" | wc -l)" = 407 ]
	[ "$(jq -r "select(.pid == $pid and .tid != $pid) | .tid" "$T" | sort -u | wc -l)" = 9 ]
	# The callbacks' calls, nested inside cuLaunchHostFunc: inside its time.
	jq -s -e '
		(map(select(.fn == "cuLaunchHostFunc")) | sort_by(.t)) as $h |
		(map(select(.fn == "cuDriverGetVersion"))[0]) as $v |
		($h | length) == 2 and $h[0].t <= $v.t and $v.t <= $h[0].t + $h[0].ns' "$T" >/dev/null ||
		fail "nested calls: $(jq -c 'select(.fn == "cuLaunchHostFunc" or .fn == "cuDriverGetVersion")' "$T")"
	# The child's one call, once (the parent's buffer was not copied into it).
	[ "$(jq -c "select(.pid == $child) | .fn" "$T")" = '"cuDeviceGetCount"' ]
	# After the longjmp the calls still return where they should (the count above), and
	# the jumped-out call is not recorded: two cuLaunchHostFunc, not three.
}

@test "nothing is traced without --trace: cuGetProcAddress hands out the lower's pointers; with it, hook thunks" {
	local req=procaddr:cuDeviceGetAttribute:12000:0
	run --separate-stderr sandboxed -- "$PROBES/shimcall" lower="$RUN/driver/lower:libcuda.so.1" "$req"
	assert_success
	assert_output "procaddr cuDeviceGetAttribute 12000 0 rc=0 status=0 ptr=lower:cuDeviceGetAttribute"
	run --separate-stderr sandboxed --dry-run -- true
	assert_success
	refute_output --partial "trace"
	run --separate-stderr sandboxed --trace "$T" -- "$PROBES/shimcall" lower="$RUN/driver/lower:libcuda.so.1" "$req"
	assert_success
	assert_output "procaddr cuDeviceGetAttribute 12000 0 rc=0 status=0 ptr=other"
}

@test "the trace file: created or emptied as the user, made absolute, the same from the policy" {
	cd "$BATS_TEST_TMPDIR"
	echo "old content" >t.jsonl
	run --separate-stderr sandboxed --dry-run --trace t.jsonl -- true
	assert_success
	assert_output --partial "trace = \"$BATS_TEST_TMPDIR/t.jsonl\""
	[ "$(cat t.jsonl)" = "old content" ] || fail "--dry-run changed the file"
	run --separate-stderr sandboxed --trace t.jsonl -- true
	assert_success
	[ -f t.jsonl ] && [ ! -s t.jsonl ] || fail "not emptied: $(cat t.jsonl)"
	# As uid 65534, in a directory it may write: the file is its own.
	SHARED=$(mktemp -d /tmp/vgpu-trace.XXXXXX)
	chmod 1777 "$SHARED"
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups -- \
		"$VGPU" --trace "$SHARED/n.jsonl" -- "$PROBES/tracecall" calls:2
	assert_success
	[ "$(stat -c %u:%g "$SHARED/n.jsonl")" = 65534:65534 ] || fail "owner $(stat -c %u:%g "$SHARED/n.jsonl")"
	[ "$(jq -r 'select(.fn == "cuDeviceGetAttribute") | .fn' "$SHARED/n.jsonl" | wc -l)" = 2 ]
	# trace = FILE in a policy file.
	printf 'trace = %s\n' "$BATS_TEST_TMPDIR/p.jsonl" >policy.conf
	run --separate-stderr sandboxed -p policy.conf -- "$PROBES/tracecall" calls:3
	assert_success
	[ "$(jq -r 'select(.fn == "cuDeviceGetAttribute") | .fn' p.jsonl | wc -l)" = 3 ]
}

@test "bad trace files and reports: one line, exit 125" {
	cd "$BATS_TEST_TMPDIR"
	mkdir adir
	run --separate-stderr sandboxed --trace adir -- true
	assert_one_error_line 125 "trace file $BATS_TEST_TMPDIR/adir"
	run --separate-stderr sandboxed --trace /nonexistent/dir/t.jsonl -- true
	assert_one_error_line 125 "/nonexistent/dir/t.jsonl" "No such file or directory"
	printf 'trace = relative.jsonl\n' >policy.conf
	run --separate-stderr sandboxed -p policy.conf -- true
	assert_one_error_line 125 "policy.conf:1:" "trace 'relative.jsonl' is not absolute"
	run --separate-stderr sandboxed --trace-report missing.jsonl
	assert_one_error_line 125 "--trace-report missing.jsonl" "No such file or directory"
	run --separate-stderr sandboxed --trace-report adir
	assert_one_error_line 125 "--trace-report adir"
	printf '{"t":1,"pid":1,"tid":1,"api":"cuda","fn":"cuInit","result":"CUDA_SUCCESS","ns":5}\nnot json\n' >bad.jsonl
	run --separate-stderr sandboxed --trace-report bad.jsonl
	assert_one_error_line 125 "bad.jsonl:2:" "not a trace record"
	printf '{"t":1,"pid":1,"fn":"cuInit","result":"CUDA_SUCCESS"}\n' >nons.jsonl
	run --separate-stderr sandboxed --trace-report nons.jsonl
	assert_one_error_line 125 'nons.jsonl:1: no "ns"'
	: >empty.jsonl
	run --separate-stderr sandboxed --trace-report empty.jsonl
	assert_success
	assert_output "0 calls in 0 processes"
}

@test "a timed loop of 20000 calls under --trace: every call has its line (the cost is measured by zig build bench)" {
	# Speed is a benchmark's business (zig build bench, section trace: < 1 us a call),
	# not a timed test's: here only that nothing of a long loop is lost.
	run --separate-stderr sandboxed --trace "$T" -- "$PROBES/tracecall" time:20000
	assert_success
	assert_output --regexp '^time fwd_ns=[0-9.]+ procaddr_ns=[0-9.]+$'
	[ "$(jq -r 'select(.fn == "cuDeviceGetAttribute") | .fn' "$T" | wc -l)" = 200000 ]
}

#!/usr/bin/env bats
# vgpu-test-users: root nobody
#
# Exec in place: COMMAND becomes vgpu-run's process (same PID, no supervisor left),
# so signals sent to that PID reach it, and its exit status or death by a signal is
# what the parent sees.

setup() {
	load helpers
	vgpu_require
}

@test "exec in place: the target's PID is vgpu-run's PID" {
	run in_fixture standard '
		(vgpu_exec -- /bin/sh -c "echo \$\$" >"$SCRATCH/pid") &
		pid=$!
		wait "$pid"
		echo "status=$?"
		echo "started=$pid"
		echo "target=$(cat "$SCRATCH/pid")"
	'
	assert_success
	assert_line "status=0"
	local started target
	started=$(printf '%s\n' "$output" | sed -n 's/^started=//p')
	target=$(printf '%s\n' "$output" | sed -n 's/^target=//p')
	[ -n "$target" ] || fail "the target printed no PID: $output"
	[ "$started" = "$target" ] || fail "vgpu-run was PID $started, the target PID $target"
}

@test "exec in place: the target's parent is vgpu-run's parent, and nothing of vgpu-run stays running" {
	run in_fixture standard '
		echo "shell=$$"
		vgpu -- /bin/sh -c "echo parent=\$PPID; cat /proc/\$PPID/comm"
	'
	assert_success
	local shell parent
	shell=$(printf '%s\n' "$output" | sed -n 's/^shell=//p')
	parent=$(printf '%s\n' "$output" | sed -n 's/^parent=//p')
	# As root, vgpu is a function that runs vgpu-run as a child of this shell; as nobody
	# setpriv runs in between but exec()s vgpu-run, so the parent is the shell too.
	[ "$parent" = "$shell" ] || fail "the target's parent is $parent, not the shell $shell that ran vgpu-run"
	refute_line "vgpu-run"
}

@test "SIGTERM sent to vgpu-run's PID reaches the target (which traps it)" {
	run in_fixture standard '
		(vgpu_exec -- /bin/sh -c "
			trap \"echo got-TERM; exit 3\" TERM
			echo ready >\"\$SCRATCH/ready\"
			i=0
			while [ \$i -lt 200 ]; do sleep 0.05; i=\$((i + 1)); done
			echo not-signalled
		" >"$SCRATCH/out") &
		pid=$!
		i=0
		while [ ! -e "$SCRATCH/ready" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
		kill -TERM "$pid"
		wait "$pid"
		echo "status=$?"
		cat "$SCRATCH/out"
	'
	assert_success
	assert_line "got-TERM"
	assert_line "status=3"
	refute_line "not-signalled"
}

@test "exit status passes through: exit 42 gives 42" {
	run in_fixture standard 'vgpu -- /bin/sh -c "exit 42"'
	assert_failure 42
	assert_output ""
}

@test "exit status passes through: exit 0 gives 0, exit 1 gives 1" {
	run in_fixture standard 'vgpu -- /bin/sh -c "exit 0"'
	assert_success
	run in_fixture standard 'vgpu -- /bin/sh -c "exit 1"'
	assert_failure 1
}

@test "death by signal passes through: kill -9 \$\$ gives 137 in the shell, and a real SIGKILL death to waitpid" {
	run in_fixture standard '
		vgpu -- /bin/sh -c "kill -9 \$\$"
		echo "shell=$?"
		# Popen.returncode is -N only when the child was killed by signal N (a
		# supervisor exiting with 137 would give 137).
		"$PYTHON" -c "
import subprocess, sys
p = subprocess.run(sys.argv[1:])
print(\"waitpid=%d\" % p.returncode)
" bash -c "source \"\$VGPU_HELPERS\"; vgpu_exec -- /bin/sh -c \"kill -9 \\\$\\\$\""
	'
	assert_success
	assert_line "shell=137"
	assert_line "waitpid=-9"
}

@test "death by SIGTERM from outside passes through as a signal death" {
	run in_fixture standard '
		"$PYTHON" -c "
import os, signal, subprocess, sys, time
p = subprocess.Popen(sys.argv[1:])
ready = os.environ[\"SCRATCH\"] + \"/ready2\"
for _ in range(200):
    if os.path.exists(ready): break
    time.sleep(0.05)
p.send_signal(signal.SIGTERM)
print(\"waitpid=%d\" % p.wait())
" bash -c "source \"\$VGPU_HELPERS\"; vgpu_exec -- /bin/sh -c \"echo >\\\$SCRATCH/ready2; exec sleep 10\""
	'
	assert_success
	assert_line "waitpid=-15"
}

@test "the environment reaches the target unchanged: nothing added, nothing removed" {
	run in_fixture standard '
		export VGPU_TEST_MARKER="a b=c" LD_LIBRARY_PATH=/nowhere
		# "_" is what bash sets to the path of the command it runs: not the environment.
		/usr/bin/env | grep -v "^_=" | sort >"$SCRATCH/outside"
		vgpu -- /usr/bin/env | grep -v "^_=" | sort >"$SCRATCH/inside"
		diff "$SCRATCH/outside" "$SCRATCH/inside" && echo same
		grep -c "^VGPU_TEST_MARKER=a b=c$" "$SCRATCH/inside"
	'
	assert_success
	assert_line same
	assert_line 1
}

@test "the working directory, stdin, stdout, stderr and inherited descriptors reach the target" {
	run in_fixture standard '
		echo "from fd 3" >"$SCRATCH/fd3"
		cd "$SCRATCH"
		echo "from stdin" | vgpu -- /bin/sh -c "pwd; cat; cat <&3; echo to-stderr >&2" 3<"$SCRATCH/fd3" 2>"$SCRATCH/err"
		echo "status=$?"
		cat "$SCRATCH/err"
	'
	assert_success
	assert_output "/tmp/.vgpu-fixture/scratch
from stdin
from fd 3
status=0
to-stderr"
}

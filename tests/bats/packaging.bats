#!/usr/bin/env bats
#
# Where users run vgpu-run: Ollama's systemd unit with the drop-in of examples/ollama,
# containers (examples/docker, examples/kubernetes), and an install made with
# `zig build install --prefix`.  No systemd runs here, so the unit's files are checked
# with `systemd-analyze verify` and the drop-in's ExecStart= line is run the way the
# unit's settings would run it: as uid 65534 (User=), with no_new_privs already set
# (NoNewPrivileges=yes), few or no capabilities (CapabilityBoundingSet=), / read-only
# (ProtectSystem=strict), inside a user namespace (PrivateUsers=yes), under a seccomp
# filter (SystemCallFilter=, RestrictNamespaces=, a container's profile).  The suite
# runs as root; each test says which user it runs vgpu-run as.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	vgpu_require
	TOP="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	EXAMPLES="$TOP/examples"
	PREFIX_REAL=$(realpath "$VGPU_PREFIX")
	export TOP EXAMPLES PREFIX_REAL
}

# --- programs the tests run under vgpu-run (Python's ctypes: no package needed) ---------

# NVML as nvidia-smi uses it: every GPU's name and memory, then the libnvidia-ml files
# this process mapped.
export NVML_PY='
import ctypes
nvml = ctypes.CDLL("libnvidia-ml.so.1")
assert nvml.nvmlInit_v2() == 0, "nvmlInit"
n = ctypes.c_uint()
assert nvml.nvmlDeviceGetCount_v2(ctypes.byref(n)) == 0
class Mem(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]
for i in range(n.value):
    h = ctypes.c_void_p()
    assert nvml.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(h)) == 0
    name = ctypes.create_string_buffer(96)
    assert nvml.nvmlDeviceGetName(h, name, 96) == 0
    m = Mem()
    assert nvml.nvmlDeviceGetMemoryInfo(h, ctypes.byref(m)) == 0
    print("gpu", i, name.value.decode(), m.total >> 20, "MiB, used", m.used >> 20, "MiB")
for path in sorted({l.split()[-1] for l in open("/proc/self/maps") if "libnvidia-ml" in l}):
    print("lib", path)
'

# Holds 1 GiB of GPU memory (CUDA driver API) until the file DIR/done appears; says
# "allocated" in DIR/allocated first.
export ALLOC_PY='
import ctypes, os, sys, time
d = sys.argv[1]
cu = ctypes.CDLL("libcuda.so.1")
assert cu.cuInit(0) == 0
dev, ctx, ptr = ctypes.c_int(), ctypes.c_void_p(), ctypes.c_ulonglong()
assert cu.cuDeviceGet(ctypes.byref(dev), 0) == 0
assert cu.cuCtxCreate_v2(ctypes.byref(ctx), 0, dev) == 0
assert cu.cuMemAlloc_v2(ctypes.byref(ptr), ctypes.c_size_t(1 << 30)) == 0
open(os.path.join(d, "allocated"), "w").write("allocated\n")
for _ in range(600):
    if os.path.exists(os.path.join(d, "done")):
        break
    time.sleep(0.05)
'

# A seccomp filter of our own, as systemd's SystemCallFilter= / RestrictNamespaces= or
# a container runtime's profile would install around vgpu-run: "python3 -c
# $SYSFILTER_PY kill|eperm NAMES COMMAND..." sets no_new_privs, makes the x86-64 system
# calls NAMES (comma-separated, or @FILE: the names a Docker seccomp profile refuses)
# kill the process with SIGSYS or fail with EPERM, and execs COMMAND.  Exit 77 when
# this machine has no asm/unistd_64.h to take the numbers from.
export SYSFILTER_PY='
import ctypes, json, os, re, struct, sys
action, spec, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
if spec.startswith("@"):
    profile = json.load(open(spec[1:]))
    names = [n for r in profile["syscalls"] if r["action"] != "SCMP_ACT_ALLOW" for n in r["names"]]
else:
    names = spec.split(",")
numbers = {}
for header in ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"):
    if os.path.exists(header):
        numbers = {m.group(1): int(m.group(2)) for m in re.finditer(r"#define __NR_(\w+) (\d+)", open(header).read())}
        break
if not numbers:
    print("sysfilter: no asm/unistd_64.h (linux-libc-dev)")
    sys.exit(77)
nrs = sorted({numbers[n] for n in names if n in numbers})
ALLOW, KILL, ERRNO_EPERM = 0x7FFF0000, 0x80000000, 0x00050001
deny = KILL if action == "kill" else ERRNO_EPERM
op = lambda code, jt, jf, k: struct.pack("HBBI", code, jt, jf, k)
prog = [op(0x20, 0, 0, 4), op(0x15, 1, 0, 0xC000003E), op(0x06, 0, 0, ALLOW), op(0x20, 0, 0, 0)]
prog += [op(0x15, len(nrs) - i, 0, nr) for i, nr in enumerate(nrs)]
prog += [op(0x06, 0, 0, ALLOW), op(0x06, 0, 0, deny)]
code = b"".join(prog)
buf = ctypes.create_string_buffer(code, len(code))
class Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
fprog = Fprog(len(prog), ctypes.addressof(buf))
libc = ctypes.CDLL(None, use_errno=True)
ul = ctypes.c_ulong
if libc.prctl(38, ul(1), ul(0), ul(0), ul(0)) != 0 or libc.prctl(22, ul(2), ctypes.byref(fprog), ul(0), ul(0)) != 0:
    sys.exit("sysfilter: prctl: " + os.strerror(ctypes.get_errno()))
os.execv(cmd[0], cmd)
'

# sysfs(2) (the number of file system types): what it returns, or its errno.
export SYSFS_PY='
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall(139, 3)
print("sysfs:", os.strerror(ctypes.get_errno()) if r < 0 else r)
'

# After `run` of a script that used SYSFILTER_PY: skip where it could not build a filter.
skip_without_sysfilter() {
	if [[ $output == *"sysfilter: no asm/unistd_64.h"* ]]; then
		skip "no /usr/include/.../asm/unistd_64.h to build a seccomp filter from (linux-libc-dev)"
	fi
}

# The unit's user (User=ollama) and its NoNewPrivileges=yes, as setpriv sets them.
export AS_SERVICE='setpriv --no-new-privs --reuid=65534 --regid=65534 --clear-groups --'
# The environment systemd gives the unit: nothing but its Environment= line.
export UNIT_ENV='env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

# --- systemd-analyze ---------------------------------------------------------------------

# A root for `systemd-analyze verify --root`: the system's units (the targets every
# service pulls in), Ollama's unit with the drop-ins given, and stand-ins for the
# programs its ExecStart= names (verify checks that they are executable).  Skips when
# systemd-analyze is missing or cannot verify even a plain service here.
systemd_root() { # DIR DROP-IN...
	local root=$1 units f out
	shift
	command -v systemd-analyze >/dev/null ||
		skip "systemd-analyze is not installed (Debian package systemd; tools/setup installs it)"
	for units in /usr/lib/systemd/system /lib/systemd/system; do
		[ -f "$units/sysinit.target" ] && break
	done
	[ -f "$units/sysinit.target" ] || skip "no systemd units (sysinit.target) to verify against"
	mkdir -p "$root/usr/lib/systemd" "$root/etc/systemd/system/ollama.service.d" "$root/usr/local/bin"
	cp -a "$units" "$root/usr/lib/systemd/system"
	printf '#!/bin/sh\nexit 0\n' >"$root/usr/local/bin/ollama"
	cp "$root/usr/local/bin/ollama" "$root/usr/local/bin/vgpu-run"
	chmod 755 "$root/usr/local/bin/ollama" "$root/usr/local/bin/vgpu-run"
	printf '[Service]\nExecStart=/usr/local/bin/ollama serve\n' >"$root/etc/systemd/system/vgpu-probe.service"
	if ! out=$(systemd-analyze verify --man=no --root="$root" vgpu-probe.service 2>&1); then
		skip "systemd-analyze verify cannot verify a plain service here: $out"
	fi
	rm "$root/etc/systemd/system/vgpu-probe.service"
	cp "$EXAMPLES/ollama/ollama.service" "$root/etc/systemd/system/"
	for f in "$@"; do
		cp "$f" "$root/etc/systemd/system/ollama.service.d/"
	done
}

@test "systemd: Ollama's unit with vgpu.conf passes systemd-analyze verify, and the command it starts is vgpu-run" {
	local root=$BATS_TEST_TMPDIR/root
	systemd_root "$root" "$EXAMPLES/ollama/vgpu.conf"
	run systemd-analyze verify --man=no --root="$root" ollama.service
	[ "$status" -eq 0 ] && [ -z "$output" ] || fail "systemd-analyze verify: status $status: $output"
	# The ExecStart= in force is the drop-in's: without vgpu-run the unit is refused.
	rm "$root/usr/local/bin/vgpu-run"
	run systemd-analyze verify --man=no --root="$root" ollama.service
	[ "$status" -ne 0 ] || fail "verify passed without /usr/local/bin/vgpu-run: $output"
	assert_output --partial "/usr/local/bin/vgpu-run is not executable"
}

@test "systemd: the empty ExecStart= of vgpu.conf is needed (a second ExecStart= is refused)" {
	local root=$BATS_TEST_TMPDIR/root
	systemd_root "$root"
	grep -v '^ExecStart=$' "$EXAMPLES/ollama/vgpu.conf" >"$root/etc/systemd/system/ollama.service.d/vgpu.conf"
	run systemd-analyze verify --man=no --root="$root" ollama.service
	[ "$status" -ne 0 ] || fail "verify passed with two ExecStart= lines: $output"
	assert_output --partial "more than one ExecStart="
}

@test "systemd: with hardening.conf too, the unit passes systemd-analyze verify without a word" {
	local root=$BATS_TEST_TMPDIR/root
	systemd_root "$root" "$EXAMPLES/ollama/vgpu.conf" "$EXAMPLES/ollama/hardening.conf"
	run systemd-analyze verify --man=no --root="$root" ollama.service
	[ "$status" -eq 0 ] && [ -z "$output" ] || fail "systemd-analyze verify: status $status: $output"
	# What README.md promises hardening.conf holds.
	local setting
	for setting in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes ProtectHome=yes \
		CapabilityBoundingSet= 'RestrictNamespaces=user mnt'; do
		grep -qxF -- "$setting" "$EXAMPLES/ollama/hardening.conf" || fail "hardening.conf lacks $setting"
	done
}

@test "systemd: the drop-in's ExecStart= line is the one README.md and the issue describe" {
	run grep -c '^ExecStart=' "$EXAMPLES/ollama/vgpu.conf"
	assert_output 2
	run grep -x 'ExecStart=/usr/local/bin/vgpu-run --policy /etc/vgpu/ollama.conf -- /usr/local/bin/ollama serve' "$EXAMPLES/ollama/vgpu.conf"
	assert_success
	run grep -xE '(User=ollama|Group=ollama|Restart=always|ExecStart=/usr/local/bin/ollama serve)' "$EXAMPLES/ollama/ollama.service"
	[ "${#lines[@]}" -eq 4 ] || fail "ollama.service lacks User=, Group=, Restart= or ExecStart=: $output"
}

# --- the example policy -----------------------------------------------------------------

@test "examples/ollama/ollama.conf: one GPU, device 0, 16 GiB; --check passes with it where GPU 0 exists" {
	run --separate-stderr in_fixture standard '
		vgpu --check --policy "$EXAMPLES/ollama/ollama.conf"; echo "status=$?"
		vgpu --dry-run --policy "$EXAMPLES/ollama/ollama.conf" -- true
	'
	assert_line "ok: policy: $EXAMPLES/ollama/ollama.conf: 1 GPU: 0 = device 0 with 16G"
	assert_line "status=0"
	assert_line "  device = 0"
	assert_line "  memory = 17179869184"
}

# --- the drop-in's command, run as the unit would run it -------------------------------

# In a fixture with the fake driver: vgpu-run installed where the drop-in names it
# (/usr/local/bin/vgpu-run, the probe lib dir as /usr/local/lib/vgpu), the example
# policy as /etc/vgpu/ollama.conf, and a stand-in /usr/local/bin/ollama that reports
# what it was given.  Overlays: the host's /usr/local and /etc are untouched.  Then
# EXEC_START is the drop-in's command line.
export OLLAMA_SETUP='
	fixture_overlay /usr/local usrlocal
	fixture_overlay /etc etc
	mount --bind "$FIX/ld.so.cache" /etc/ld.so.cache
	mkdir -p /usr/local/bin /usr/local/lib /etc/vgpu
	cp "$VGPU" /usr/local/bin/vgpu-run
	cp -a "$LIBDIR" /usr/local/lib/vgpu
	cp "$EXAMPLES/ollama/ollama.conf" /etc/vgpu/ollama.conf
	cat >/usr/local/bin/ollama <<EOF
#!/bin/sh
echo "ollama \$*"
echo "uid=\$(id -u) gid=\$(id -g)"
grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status
cap=\$(sed -n "s/^CapEff:[[:space:]]*//p" /proc/self/status)
echo "sys_admin=\$(( (0x\$cap >> 21) & 1 ))"
"$PROBES/whichlib" libcuda.so.1 libnvidia-ml.so.1
echo "write /usr/local: \$(touch /usr/local/.vgpu-test 2>&1 && echo ok || true)"
EOF
	chmod 755 /usr/local/bin/ollama
	EXEC_START=$(sed -n "s/^ExecStart=\(..*\)\$/\1/p" "$EXAMPLES/ollama/vgpu.conf")
	[ -n "$EXEC_START" ] || { echo "no ExecStart= in vgpu.conf"; exit 99; }
'

# ProtectSystem=strict: every mount read-only but /dev, /proc, /sys (and the fixture's
# private /tmp, as PrivateTmp=yes would give).
export READ_ONLY='
	findmnt -rn -o TARGET | while read -r t; do
		case $t in /proc | /proc/* | /sys | /sys/* | /dev | /dev/* | /tmp | /tmp/*) continue ;; esac
		mount -o remount,bind,ro "$t" 2>/dev/null || true
	done
'

# What the stand-in ollama reports when it ran under vgpu-run with the shim in front.
assert_ran_as_ollama() { # UID
	assert_line "ollama serve"
	assert_line "uid=$1 gid=$1"
	assert_line --regexp '^NoNewPrivs:[[:space:]]+1$'
	assert_line --regexp '^Seccomp:[[:space:]]+2$'
	assert_line "sys_admin=0"
	assert_line --regexp '^libcuda\.so\.1 identity=shim-cuda '
	assert_line --regexp '^libnvidia-ml\.so\.1 identity=shim-nvml '
	assert_line "status=0"
}

@test "the drop-in's ExecStart as the unit runs it: User= (uid 65534), NoNewPrivileges=yes, the unit's environment" {
	run in_fixture standard "$OLLAMA_SETUP"'
		$UNIT_ENV $AS_SERVICE $EXEC_START
		echo "status=$?"
	'
	assert_ran_as_ollama 65534
}

@test "... with hardening.conf: ProtectSystem=strict (/ read-only), PrivateTmp=yes, CapabilityBoundingSet= (none)" {
	run in_fixture standard "$OLLAMA_SETUP$READ_ONLY"'
		$UNIT_ENV setpriv --no-new-privs --bounding-set=-all --inh-caps=-all \
			--reuid=65534 --regid=65534 --clear-groups -- $EXEC_START
		echo "status=$?"
	'
	assert_ran_as_ollama 65534
	assert_line "write /usr/local: touch: cannot touch '/usr/local/.vgpu-test': Read-only file system"
}

@test "... as a root service (no User=) with ProtectSystem=strict: a mount namespace, CAP_SYS_ADMIN gone before ollama" {
	run in_fixture standard "$OLLAMA_SETUP$READ_ONLY"'
		$UNIT_ENV setpriv --no-new-privs -- $EXEC_START
		echo "status=$?"
	'
	assert_ran_as_ollama 0
	assert_line "write /usr/local: touch: cannot touch '/usr/local/.vgpu-test': Read-only file system"
}

@test "... as a root service with CapabilityBoundingSet=CAP_SETFCAP (no CAP_SYS_ADMIN): the user-namespace path, as uid 0" {
	run in_fixture standard "$OLLAMA_SETUP"'
		$UNIT_ENV setpriv --no-new-privs --bounding-set=-all,+setfcap --inh-caps=-all -- $EXEC_START
		echo "status=$?"
	'
	assert_ran_as_ollama 0
}

@test "... as a root service with CapabilityBoundingSet= (none): uid 0 cannot be mapped; the error, and --check says what to do" {
	run --separate-stderr in_fixture standard "$OLLAMA_SETUP"'
		$UNIT_ENV setpriv --no-new-privs --bounding-set=-all --inh-caps=-all -- $EXEC_START
	'
	assert_one_error_line 125 "cannot write '0 0 1' to /proc/self/uid_map: Operation not permitted"
	run --separate-stderr in_fixture standard "$OLLAMA_SETUP"'
		$UNIT_ENV setpriv --no-new-privs --bounding-set=-all --inh-caps=-all -- /usr/local/bin/vgpu-run --check
	'
	[ "$status" -eq 125 ] || fail "status $status: $output"
	assert_line --regexp "^not ok: namespace: cannot write '0 0 1' to /proc/self/uid_map: Operation not permitted; .*keep CAP_SYS_ADMIN or CAP_SETFCAP in the capability bounding set"
}

@test "... with PrivateUsers=yes: vgpu-run's user namespace nests in the unit's" {
	run in_fixture standard "$OLLAMA_SETUP"'
		$UNIT_ENV $AS_SERVICE unshare --user --map-current-user -- $EXEC_START
		echo "status=$?"
	'
	assert_ran_as_ollama 65534
}

# --- the real shim and the emulator, as the unit's user ----------------------------------

@test "uid 65534 with no_new_privs set: the shim loads and NVML shows the policy's 16 GiB GPU (what nvidia-smi shows)" {
	run --separate-stderr in_fixture none '
		$AS_SERVICE "$VGPU" --memory 16G -- "$PYTHON" -c "$NVML_PY"
	'
	[ "$status" -eq 0 ] || fail "status $status: $output $stderr"
	assert_line "gpu 0 NVIDIA H200 16384 MiB, used 0 MiB"
	assert_line "lib $PREFIX_REAL/lib/vgpu/libnvidia-ml.so.1"
	assert_line "lib $PREFIX_REAL/lib/vgpu/run/driver/lower:libnvidia-ml.so.1"
}

@test "... and with / read-only and no capabilities (hardening.conf)" {
	run --separate-stderr in_fixture none "$READ_ONLY"'
		touch /usr/.vgpu-test 2>/dev/null && echo "/usr is writable"
		setpriv --no-new-privs --bounding-set=-all --inh-caps=-all --reuid=65534 --regid=65534 \
			--clear-groups -- "$VGPU" --memory 16G -- "$PYTHON" -c "$NVML_PY"
	'
	[ "$status" -eq 0 ] || fail "status $status: $output $stderr"
	refute_line "/usr is writable"
	assert_line "gpu 0 NVIDIA H200 16384 MiB, used 0 MiB"
	assert_line "lib $PREFIX_REAL/lib/vgpu/libnvidia-ml.so.1"
}

@test "nsenter into a running sandbox's mount namespace sees its GPU and what it holds (README's look from inside)" {
	run --separate-stderr in_fixture none '
		$AS_SERVICE "$VGPU" --memory 16G -- "$PYTHON" -c "$ALLOC_PY" "$SCRATCH" &
		pid=$!
		i=0
		while [ ! -e "$SCRATCH/allocated" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
		echo "inside: $(nsenter --target "$pid" --mount "$PYTHON" -c "$NVML_PY" | grep ^gpu)"
		echo "apart: $("$VGPU" --memory 16G -- "$PYTHON" -c "$NVML_PY" | grep ^gpu)"
		touch "$SCRATCH/done"
		wait "$pid"
		echo "status=$?"
	'
	assert_line "inside: gpu 0 NVIDIA H200 16384 MiB, used 1024 MiB"
	assert_line "apart: gpu 0 NVIDIA H200 16384 MiB, used 0 MiB"
	assert_line "status=0"
}

# --- settings that stop vgpu-run, and what the user sees -------------------------------

@test "SystemCallFilter= without @mount: killed by SIGSYS (status 31/SYS), and --check says so" {
	run --separate-stderr in_fixture none '
		$AS_SERVICE "$PYTHON" -c "$SYSFILTER_PY" kill mount "$VGPU" -- true
		echo "status=$?"
		$AS_SERVICE "$PYTHON" -c "$SYSFILTER_PY" kill mount "$VGPU" --check
		echo "status=$?"
	'
	skip_without_sysfilter
	assert_line "status=159"
	assert_line --regexp "^not ok: namespace: killed by signal 31 \(Bad system call\): a seccomp filter around vgpu-run"
	assert_line "status=125"
}

@test "SystemCallFilter= without @mount, SystemCallErrorNumber=EPERM: one line naming the mount, 125" {
	run --separate-stderr in_fixture none '
		$AS_SERVICE "$PYTHON" -c "$SYSFILTER_PY" eperm mount "$VGPU" -- true
	'
	skip_without_sysfilter
	assert_one_error_line 125 "cannot make / private in the new mount namespace: Operation not permitted"
}

@test "RestrictNamespaces=yes (unshare refused, as a container's default profile does): one line, 125" {
	run --separate-stderr in_fixture none '
		$AS_SERVICE "$PYTHON" -c "$SYSFILTER_PY" eperm unshare "$VGPU" -- true
	'
	skip_without_sysfilter
	assert_one_error_line 125 "cannot create a user and mount namespace: Operation not permitted"
}

# --- containers ------------------------------------------------------------------------

@test "docker: seccomp-vgpu.json is a Docker profile that allows what vgpu-run needs" {
	run "$PYTHON" -c '
import json, sys
p = json.load(open(sys.argv[1]))
assert p["defaultAction"] == "SCMP_ACT_ALLOW", p["defaultAction"]
assert "SCMP_ARCH_X86_64" in p["architectures"]
denied = set()
for rule in p["syscalls"]:
    assert rule["action"] in ("SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW"), rule["action"]
    assert isinstance(rule["names"], list) and rule["names"]
    if rule["action"] == "SCMP_ACT_ERRNO":
        denied.update(rule["names"])
needed = {"unshare", "mount", "clone", "clone3", "prctl", "seccomp", "execve", "openat", "ioctl", "mmap"}
assert not (needed & denied), sorted(needed & denied)
print("denied", len(denied))
' "$EXAMPLES/docker/seccomp-vgpu.json"
	assert_success
	assert_output --regexp '^denied [0-9]+$'
}

@test "docker: under a filter made of seccomp-vgpu.json, vgpu-run runs as uid 65534 and NVML sees the GPU; the profile does refuse" {
	run --separate-stderr in_fixture none '
		$AS_SERVICE "$PYTHON" -c "$SYSFILTER_PY" eperm "@$EXAMPLES/docker/seccomp-vgpu.json" \
			"$VGPU" --memory 8G -- "$PYTHON" -c "$NVML_PY"
		echo "status=$?"
		# sysfs(2), harmless, is on the deny list: it must fail with EPERM.
		"$PYTHON" -c "$SYSFILTER_PY" eperm "@$EXAMPLES/docker/seccomp-vgpu.json" "$PYTHON" -c "$SYSFS_PY"
	'
	skip_without_sysfilter
	assert_line "gpu 0 NVIDIA H200 8192 MiB, used 0 MiB"
	assert_line "status=0"
	assert_line "sysfs: Operation not permitted"
}

@test "docker: the Dockerfile's entrypoint runs vgpu-run with the policy it copies in; the policy passes --check" {
	local df=$EXAMPLES/docker/Dockerfile
	run "$PYTHON" -c '
import json, sys
lines = [l.strip() for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
entry = [json.loads(l[len("ENTRYPOINT "):]) for l in lines if l.startswith("ENTRYPOINT ")]
assert len(entry) == 1, entry
assert entry[0] == ["/usr/local/bin/vgpu-run", "--policy", "/etc/vgpu/policy.conf", "--"], entry
assert "COPY policy.conf /etc/vgpu/policy.conf" in lines
assert "COPY vgpu/ /usr/local/" in lines
user = [l for l in lines if l.startswith("USER ")]
assert user and not user[-1].split()[1].startswith("0"), user
print("ok")
' "$df"
	assert_success
	run --separate-stderr in_fixture standard 'vgpu --check --policy "$EXAMPLES/docker/policy.conf"'
	assert_success
	assert_line "ok: policy: $EXAMPLES/docker/policy.conf: 1 GPU: 0 = device 0 with 8G"
}

@test "kubernetes: vgpu-pod.yaml is two YAML documents of the right shape (no parser needed)" {
	local y=$EXAMPLES/kubernetes/vgpu-pod.yaml
	if grep -nP '\t' "$y"; then fail "tabs in $y"; fi
	[ "$(grep -c '^---$' "$y")" -eq 1 ] || fail "expected two documents"
	[ "$(grep -c '^apiVersion: v1$' "$y")" -eq 2 ] || fail "expected apiVersion: v1 twice"
	grep -qx 'kind: ConfigMap' "$y" && grep -qx 'kind: Pod' "$y" || fail "expected a ConfigMap and a Pod"
	# Indentation in steps of two, outside comments.
	if grep -nvE '^( {2})*([^ ]|$)|^ *#' "$y"; then fail "odd indentation"; fi
	# The flow sequences are JSON too.
	run "$PYTHON" -c '
import json, sys
for l in open(sys.argv[1]):
    l = l.strip()
    for key in ("command: ", "args: ", "drop: "):
        if l.startswith(key):
            print(key.strip(), json.loads(l[len(key):]))
' "$y"
	assert_success
	assert_line "command: ['/usr/local/bin/vgpu-run', '--policy', '/etc/vgpu/policy.conf', '--']"
	assert_line "drop: ['ALL']"
}

@test "kubernetes: vgpu-pod.yaml parsed (PyYAML): the policy from the ConfigMap, the privileges stated; the policy passes --check" {
	"$PYTHON" -c 'import yaml' 2>/dev/null || skip "PyYAML is not installed for $PYTHON (python3-yaml); the structural test above still runs"
	run "$PYTHON" -c '
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
cm, pod = docs
assert cm["kind"] == "ConfigMap" and pod["kind"] == "Pod"
spec = pod["spec"]
assert spec["securityContext"]["runAsNonRoot"] is True
c, = spec["containers"]
cmd = c["command"]
assert cmd[0] == "/usr/local/bin/vgpu-run" and cmd[-1] == "--", cmd
policy = cmd[cmd.index("--policy") + 1]
mount, = [m for m in c["volumeMounts"] if policy.startswith(m["mountPath"] + "/")]
vol, = [v for v in spec["volumes"] if v["name"] == mount["name"]]
assert vol["configMap"]["name"] == cm["metadata"]["name"]
key = policy[len(mount["mountPath"]) + 1:]
sc = c["securityContext"]
assert sc["privileged"] is False and sc["allowPrivilegeEscalation"] is False
assert sc["capabilities"] == {"drop": ["ALL"]}
assert sc["seccompProfile"]["type"] in ("Localhost", "Unconfined")
assert sc["appArmorProfile"]["type"] in ("Localhost", "Unconfined")
assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
sys.stdout.write(cm["data"][key])
' "$EXAMPLES/kubernetes/vgpu-pod.yaml"
	assert_success
	local policy=$output
	run --separate-stderr in_fixture standard 'printf "%s\n" "$1" >"$SCRATCH/policy.conf"; vgpu --check --policy "$SCRATCH/policy.conf"' "$policy"
	assert_success
	assert_line --regexp "^ok: policy: .*: 1 GPU: 0 = device 0 with 8G$"
}

# --- install ---------------------------------------------------------------------------

# The install layout of DESIGN.md, as `find . | sort` lists it.
INSTALL_LAYOUT='.
./bin
./bin/vgpu-run
./lib
./lib/vgpu
./lib/vgpu/emulator
./lib/vgpu/emulator/libcuda.so.1
./lib/vgpu/emulator/libnvidia-ml.so.1
./lib/vgpu/libcuda.so.1
./lib/vgpu/libnvidia-ml.so.1
./lib/vgpu/run
./share
./share/man
./share/man/man1
./share/man/man1/vgpu-run.1
./share/man/man5
./share/man/man5/vgpu-policy.5'

zig_install() { # PREFIX [VAR=VALUE...]: zig build install into PREFIX, from the checkout
	local prefix=$1
	shift
	command -v zig >/dev/null || skip "zig is not on PATH (tools/setup installs it)"
	(cd "$TOP" && env "$@" zig build install --prefix "$prefix") || fail "zig build install --prefix $prefix failed"
}

@test "install: zig build install --prefix DIR gives the layout of DESIGN.md, and the README's quick start runs from there" {
	local prefix=$BATS_TEST_TMPDIR/prefix
	zig_install "$prefix"
	run bash -c 'cd "$1" && find . | sort' _ "$prefix"
	assert_output "$INSTALL_LAYOUT"
	[ -x "$prefix/bin/vgpu-run" ] || fail "bin/vgpu-run is not executable"
	[ -z "$(ls -A "$prefix/lib/vgpu/run")" ] || fail "lib/vgpu/run is not empty"

	# The quick start, exactly as README.md writes it, but for the installed binary.
	local rest
	rest=$(sed -n 's|^tools/setup && zig build && zig-out/bin/vgpu-run ||p' "$TOP/README.md")
	[ -n "$rest" ] || fail "README.md has no quick-start line 'tools/setup && zig build && zig-out/bin/vgpu-run ...'"
	python3 -c 'import pynvml' 2>/dev/null || skip "nvidia-ml-py (pynvml) is not installed for python3 (tools/setup installs it)"
	cd "$BATS_TEST_TMPDIR"
	run --separate-stderr eval "\"\$prefix/bin/vgpu-run\" $rest"
	assert_success
	assert_output "NVIDIA H200 143771 MiB, driver 580.159.04"
	run --separate-stderr "$prefix/bin/vgpu-run" --check
	assert_success
	assert_line "vgpu-run can run here"
	assert_line "ok: shim: $(realpath "$prefix")/lib/vgpu/libcuda.so.1, $(realpath "$prefix")/lib/vgpu/libnvidia-ml.so.1"
}

@test "install: DESTDIR=DIR puts the same layout under DIR/PREFIX and nothing else, and it runs from there" {
	local dest=$BATS_TEST_TMPDIR/dest
	zig_install /usr/local DESTDIR="$dest"
	run bash -c 'cd "$1" && find . -mindepth 1 | sort' _ "$dest"
	assert_output "$(printf './usr\n'; printf '%s\n' "$INSTALL_LAYOUT" | sed -e 's|^\.$|./usr/local|;t' -e 's|^\./|./usr/local/|')"
	run --separate-stderr "$dest/usr/local/bin/vgpu-run" --check
	assert_success
	assert_line "ok: shim: $(realpath "$dest")/usr/local/lib/vgpu/libcuda.so.1, $(realpath "$dest")/usr/local/lib/vgpu/libnvidia-ml.so.1"
}

@test "install: --version prints the version of build.zig and the commit built" {
	local prefix=$BATS_TEST_TMPDIR/prefix version commit
	zig_install "$prefix"
	version=$(sed -n 's/^const version = "\(.*\)";$/\1/p' "$TOP/build.zig")
	[ -n "$version" ] || fail "no version in build.zig"
	commit=$(git -C "$TOP" rev-parse --short=12 HEAD 2>/dev/null) || commit=unknown
	run --separate-stderr "$prefix/bin/vgpu-run" --version
	assert_success
	assert_output --regexp "^vgpu-run $version \(commit ([0-9a-f]{12}|unknown)\)\$"
	[ "$output" = "vgpu-run $version (commit $commit)" ] ||
		fail "just built at HEAD $commit, --version says: $output (a stale commit: zig's cached configure phase did not run git rev-parse again)"
}

@test "install: the man pages render with man -l, without a warning" {
	command -v man >/dev/null || skip "man is not installed (Debian package man-db)"
	local prefix=$BATS_TEST_TMPDIR/prefix page
	zig_install "$prefix"
	for page in man1/vgpu-run.1 man5/vgpu-policy.5; do
		run --separate-stderr env MANWIDTH=80 man --warnings -l "$prefix/share/man/$page"
		assert_success
		[ -z "$stderr" ] || fail "$page: $stderr"
		assert_line --index 0 --regexp '^VGPU-(RUN\(1\)|POLICY\(5\))'
	done
	run env MANWIDTH=80 man -l "$prefix/share/man/man1/vgpu-run.1"
	assert_line --regexp '^ +--check$'
	assert_line --regexp '^SERVICES AND CONTAINERS$'
	assert_line --regexp '^INSTALLATION$'
}

@test "uninstall: the commands of the README and of the man page each remove every file the install made" {
	local prefix=$BATS_TEST_TMPDIR/prefix cmds from
	for from in README.md docs/vgpu-run.1; do
		if [ "$from" = README.md ]; then
			cmds=$(sed -n '/^## Install/,/^## /p' "$TOP/README.md" | grep -E '^rm .*PREFIX')
		else
			# The .nf block of INSTALLATION, roff escapes undone.
			cmds=$(sed -n '/^\.SH INSTALLATION/,/^\.SH /p' "$TOP/docs/vgpu-run.1" |
				sed -n '/^\.RS/,/^\.RE/p' | grep -v '^\.' | sed -e 's/\\-/-/g' -e 's/\\e/\\/g')
		fi
		[ -n "$cmds" ] || fail "$from: no uninstall commands (rm ... PREFIX/...) found"
		rm -rf "$prefix"
		zig_install "$prefix"
		(cd "$BATS_TEST_TMPDIR" && eval "${cmds//PREFIX/\"\$prefix\"}") || fail "$from: the uninstall commands failed: $cmds"
		run find "$prefix" -not -type d
		[ -z "$output" ] || fail "$from: left behind: $output"
		run find "$prefix" -name vgpu
		[ -z "$output" ] || fail "$from: left behind: $output"
	done
}

# Shared by the bats suites of vgpu-run (load 'helpers' from a .bats file).
#
# The tests run as root and never change the host: everything that looks like an NVIDIA
# installation is built inside a throwaway mount namespace, the *fixture*:
#
#   in_fixture MODE SCRIPT [ARG...]
#       runs bash SCRIPT (with these helpers sourced, ARGs as $1...) in a new mount
#       namespace (unshare -m, propagation private) prepared for MODE:
#         none         no driver at all (the machine must have none: vgpu_require
#                      skips every test on a machine with a real driver)
#         standard     the fake driver installed as the NVIDIA packages do it, in
#                      /usr/lib/x86_64-linux-gnu (an overlayfs with a tmpfs upper layer):
#                      libcuda.so.580.0.1, libcuda.so.1 -> it, libcuda.so -> libcuda.so.1,
#                      the same for libnvidia-ml; /etc/ld.so.cache regenerated for it
#         nonstandard  the same in /usr/local/nvidia/lib64 (as in GPU containers), a
#                      directory only /etc/ld.so.cache leads to
#         ldpath       the driver in /opt/vgpu-test-vendor/lib64 (an overlay on /opt), a
#                      directory no search of the loader or of Ollama knows: only
#                      LD_LIBRARY_PATH=$DRIVER_DIR leads to it
#       DRIVER_DIR is the driver's directory (empty for none).
#       In every mode: a private tmpfs on /tmp (so that the tests see exactly what
#       vgpu-run leaves there, and nothing of other users of the machine), two fake GPUs
#       in /proc/driver/nvidia/gpus/*/information (a tmpfs over /proc/driver), and the
#       namespace's mounts made shared again (peer groups of its own, like a systemd
#       host's /), so that a vgpu-run that forgot to make / private would leak mounts
#       back into the fixture, where the tests look for them.
#   vgpu ARG...        runs vgpu-run --lib-dir $LIBDIR ARG... as $VGPU_TEST_USER
#   as_user CMD...     runs CMD as $VGPU_TEST_USER (root, or nobody = uid/gid 65534)
#   vgpu_exec ARG...   like vgpu, but exec()s: `(vgpu_exec -- cmd) & pid=$!` is its PID
#
# VGPU_PREFIX is the install tested (zig-out, absolute); tests/run sets it, and the
# tests fall back to the checkout's zig-out when run alone:
#   VGPU_PREFIX=$PWD/zig-out VGPU_TEST_USER=nobody bats tests/bats/loading.bats

: "${VGPU_PREFIX:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/zig-out}"
: "${VGPU_TEST_USER:=root}"
export VGPU_PREFIX VGPU_TEST_USER
export VGPU="$VGPU_PREFIX/bin/vgpu-run"
export LIBDIR="$VGPU_PREFIX/tests/lib-dir"
export PROBES="$VGPU_PREFIX/tests/bin"
export FAKE_DRIVER="$VGPU_PREFIX/tests/fake-driver"
export VGPU_HELPERS
VGPU_HELPERS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/helpers.bash"
# Python by absolute path: uid 65534 cannot reach a python under /root (pyenv).
export PYTHON=/usr/bin/python3

# The standard driver directory of this distribution, and the container-style one.
export STD_DRIVER_DIR=/usr/lib/x86_64-linux-gnu
export NONSTD_DRIVER_DIR=/usr/local/nvidia/lib64
export LDPATH_DRIVER_DIR=/opt/vgpu-test-vendor/lib64
export DRIVER_VERSION=580.0.1

# The fake GPUs of the fixture: bus id, model, UUID, minor.  Index order is PCI bus
# order, so index 0 is 0000:01:00.0 although it is listed second.
export GPU0_BUS=0000:01:00.0 GPU0_UUID=GPU-0f0e0d0c-0b0a-0908-0706-050403020100
export GPU1_BUS=0000:41:00.0 GPU1_UUID=GPU-bf513a4d-6675-3a05-0707-d68f202d173d

# Chains of processes, each waiting for the next, that run CMD three levels below the
# first: `sh -c "$SH3" sh CMD...` (three shells) and `python3 -c "$PY_SPAWN" python3 -c
# "$PY_SPAWN" python3 -c "$PY_SPAWN" CMD...` (three Pythons).
export SH3='/bin/sh -c '\''/bin/sh -c "\"\$@\"; exit \$?" sh "$@"; exit $?'\'' sh "$@"; exit $?'
export PY_SPAWN='import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))'

# Where the fixture keeps its files (inside its own /tmp tmpfs), and scratch space for
# the tests' own files (left out of the snapshots of /tmp).
export FIX=/tmp/.vgpu-fixture
export SCRATCH=$FIX/scratch

if [ -n "${BATS_TEST_FILENAME:-}" ] && [ -z "${VGPU_IN_FIXTURE:-}" ]; then
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
fi

# --- running vgpu-run as the test user ---------------------------------------------------

as_user() {
	case $VGPU_TEST_USER in
	root) "$@" ;;
	nobody) setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@" ;;
	*)
		echo "helpers: VGPU_TEST_USER must be root or nobody, not '$VGPU_TEST_USER'" >&2
		return 99
		;;
	esac
}

vgpu() {
	as_user "$VGPU" --lib-dir "$LIBDIR" "$@"
}

vgpu_exec() {
	case $VGPU_TEST_USER in
	root) exec "$VGPU" --lib-dir "$LIBDIR" "$@" ;;
	nobody) exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$VGPU" --lib-dir "$LIBDIR" "$@" ;;
	*) exit 99 ;;
	esac
}

# --- preconditions -------------------------------------------------------------------------

# Every suite's setup: what the tests need must be there; a missing piece fails (it is
# a build or machine problem, never a reason to pass).
vgpu_require() {
	local f
	[ "$(id -u)" = 0 ] || fail "the bats suites must run as root (they build mount namespaces); tests/run does"
	for f in "$VGPU" "$PROBES/whichlib" "$PROBES/execchain" "$PROBES/syscalls" "$PROBES/threads"; do
		[ -x "$f" ] || fail "missing $f: build with 'zig build tests'"
	done
	for f in "$LIBDIR/libcuda.so.1" "$LIBDIR/libnvidia-ml.so.1" \
		"$LIBDIR/emulator/libcuda.so.1" "$LIBDIR/emulator/libnvidia-ml.so.1" \
		"$FAKE_DRIVER/libcuda.so.$DRIVER_VERSION" "$FAKE_DRIVER/libnvidia-ml.so.$DRIVER_VERSION"; do
		[ -f "$f" ] || fail "missing $f: build with 'zig build tests'"
	done
	command -v unshare >/dev/null && command -v setpriv >/dev/null || fail "util-linux unshare and setpriv are needed"
	# The fixture fakes a driver where there is none; on a machine with a real one it
	# would test that one as much as ours.  (tests/gpu is for such machines.)
	if ldconfig -p | grep -Eq 'lib(cuda|nvidia-ml)\.so'; then
		skip "this machine has an NVIDIA driver in its loader cache; these tests need one without (as CI)"
	fi
}

# --- the fixture -----------------------------------------------------------------------------

in_fixture() {
	local mode=$1 script=$2
	shift 2
	# A PATH that root and uid 65534 can both search (root's may hold /root/...: a
	# command looked up there would fail with EACCES, 126, for nobody).
	unshare --mount --propagation private -- env VGPU_IN_FIXTURE=1 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c '
		source "$VGPU_HELPERS" || exit 99
		set -E
		trap '\''echo "in_fixture: setting up the fixture ($1) failed at: $BASH_COMMAND" >&2; exit 99'\'' ERR
		fixture_setup "$1"
		trap - ERR
		set +E
		script=$2
		shift 2
		eval "$script"
	' vgpu-fixture "$mode" "$script" "$@"
}

# The /proc/driver/nvidia/gpus/BUS/information file of one fake GPU, in the layout of
# the real driver's.
fixture_gpu() { # BUS MODEL UUID MINOR
	local dir=/proc/driver/nvidia/gpus/$1
	mkdir -p "$dir"
	printf '%s\n' \
		"Model: 		 $2" \
		"IRQ:   		 0" \
		"GPU UUID: 	 $3" \
		"Video BIOS: 	 96.00.99.00.01" \
		"Bus Type: 	 PCIe" \
		"DMA Size: 	 52 bits" \
		"DMA Mask: 	 0xfffffffffffff" \
		"Bus Location: 	 $1" \
		"Device Minor: 	 $4" \
		"GPU Firmware: 	 $DRIVER_VERSION" \
		"GPU Excluded:	 No" >"$dir/information"
}

# Puts the fake driver into DIR as the NVIDIA installer does: the versioned files and
# the soname and development links.
fixture_install_driver() { # DIR
	local dir=$1 lib
	mkdir -p "$dir"
	for lib in libcuda libnvidia-ml; do
		cp "$FAKE_DRIVER/$lib.so.$DRIVER_VERSION" "$dir/"
		chmod 755 "$dir/$lib.so.$DRIVER_VERSION"
		ln -sf "$lib.so.$DRIVER_VERSION" "$dir/$lib.so.1"
		ln -sf "$lib.so.1" "$dir/$lib.so"
	done
}

# An overlayfs over DIR whose upper layer lives in the fixture's tmpfs: DIR can then be
# written in this namespace while the host's DIR stays as it is.
fixture_overlay() { # DIR NAME
	mkdir -p "$FIX/overlay/$2/upper" "$FIX/overlay/$2/work"
	mount -t overlay "vgpu-test-$2" \
		-o "lowerdir=$1,upperdir=$FIX/overlay/$2/upper,workdir=$FIX/overlay/$2/work" "$1"
}

# Runs under an ERR trap (in_fixture): any command that fails aborts the test, status 99.
fixture_setup() { # MODE
	local mode=$1
	case $mode in none | standard | nonstandard | ldpath) ;; *) echo "fixture: unknown mode $mode" >&2; return 1 ;; esac
	# The host must not have a driver of its own: the tests would not mean anything.
	if ldconfig -p | grep -Eq 'lib(cuda|nvidia-ml)\.so'; then
		echo "fixture: this machine has an NVIDIA driver installed; these tests need one without" >&2
		return 1
	fi

	# A checkout or prefix under /tmp (CI may clone there) stays reachable: each is
	# bound back in place over the fixture's own /tmp.
	local repo keep=() fd=8 d
	repo=$(cd "$(dirname "$VGPU_HELPERS")/../.." && pwd)
	for d in "$repo" "$VGPU_PREFIX"; do
		case $d/ in
		/tmp/*)
			case $d/ in "$repo"/*) [ "$d" != "$repo" ] && continue ;; esac
			eval "exec $fd<\"\$d\""
			keep+=("$fd:$d")
			fd=$((fd + 1))
			;;
		esac
	done
	mount -t tmpfs -o mode=1777 vgpu-test-tmp /tmp
	for d in "${keep[@]}"; do
		mkdir -p "${d#*:}"
		mount --no-canonicalize --bind "/proc/self/fd/${d%%:*}" "${d#*:}"
		eval "exec ${d%%:*}<&-"
	done
	mkdir -m 755 "$FIX"
	mkdir -m 1777 "$SCRATCH"

	if [ ! -d /proc/driver ]; then
		echo "fixture: no /proc/driver to cover" >&2
		return 1
	fi
	mount -t tmpfs -o mode=755 vgpu-test-proc /proc/driver
	fixture_gpu "$GPU1_BUS" "NVIDIA H200" "$GPU1_UUID" 1
	fixture_gpu "$GPU0_BUS" "NVIDIA H100 80GB HBM3" "$GPU0_UUID" 0

	# ldconfig may write its aux cache: into this namespace only.
	if [ -d /var/cache/ldconfig ]; then
		mount -t tmpfs -o mode=700 vgpu-test-ldconfig /var/cache/ldconfig
	fi

	case $mode in
	standard)
		fixture_overlay "$STD_DRIVER_DIR" stdlib
		fixture_install_driver "$STD_DRIVER_DIR"
		ldconfig -X -C "$FIX/ld.so.cache" 2>"$FIX/ldconfig.log"
		mount --bind "$FIX/ld.so.cache" /etc/ld.so.cache
		export DRIVER_DIR=$STD_DRIVER_DIR
		;;
	nonstandard)
		fixture_overlay /usr/local usrlocal
		fixture_install_driver "$NONSTD_DRIVER_DIR"
		ldconfig -X -C "$FIX/ld.so.cache" "$NONSTD_DRIVER_DIR" 2>"$FIX/ldconfig.log"
		mount --bind "$FIX/ld.so.cache" /etc/ld.so.cache
		export DRIVER_DIR=$NONSTD_DRIVER_DIR
		;;
	ldpath)
		fixture_overlay /opt opt
		fixture_install_driver "$LDPATH_DRIVER_DIR"
		export DRIVER_DIR=$LDPATH_DRIVER_DIR
		;;
	none)
		export DRIVER_DIR=
		;;
	esac

	# Shared again, in peer groups of this namespace alone.
	mount --make-rshared /
}

# --- inside the fixture: what to compare before and after ---------------------------------

# Everything vgpu-run might leave behind: the mount tables of this namespace and of
# PID 1's, the lib dir, the loader cache, the driver directories, and /tmp (the
# fixture's, but for the tests' scratch files).  Mount ids are kept: a mount taken down
# and put up again is a change too.
snapshot() {
	echo "== mountinfo (fixture namespace)"
	cat /proc/self/mountinfo
	echo "== mountinfo (PID 1)"
	cat /proc/1/mountinfo
	echo "== lib dir"
	find "$LIBDIR" -printf '%p %M %U:%G %s %T@ %i\n' | sort
	echo "== ld.so.cache"
	sha256sum /etc/ld.so.cache
	echo "== driver dirs"
	ls -la --time-style=full-iso "$STD_DRIVER_DIR" | grep -E 'libcuda|libnvidia-ml' || true
	local dir
	for dir in "$NONSTD_DRIVER_DIR" "$LDPATH_DRIVER_DIR"; do
		if [ -d "$dir" ]; then ls -la --time-style=full-iso "$dir"; fi
	done
	echo "== /tmp"
	find /tmp -path "$SCRATCH" -prune -o -printf '%p %M %U:%G %s %T@\n' | sort
	echo "== /proc/driver"
	find /proc/driver -printf '%p %M %s\n' | sort
}

# The identity of the library a name loads, outside vgpu-run (in the fixture).
identity_of() { # NAME
	"$PROBES/whichlib" "$1" | sed -n 's/.* identity=\([^ ]*\) .*/\1/p'
}

# --- in the bats process: checking what vgpu-run printed ----------------------------------

# After `run --separate-stderr ...`: vgpu-run failed with STATUS, printed nothing on
# stdout and exactly one line on stderr, starting "vgpu-run: " and containing every
# NEEDLE given (the bad input it must name).
assert_one_error_line() { # STATUS NEEDLE...
	local want=$1 needle
	shift
	if [ "$status" -ne "$want" ]; then
		fail "exit status $status, expected $want; stderr: $stderr; stdout: $output"
	fi
	if [ "${#stderr_lines[@]}" -ne 1 ]; then
		fail "expected exactly one line on stderr, got ${#stderr_lines[@]}:
$stderr"
	fi
	case ${stderr_lines[0]} in
	'vgpu-run: '*) ;;
	*) fail "the error line does not start with 'vgpu-run: ': ${stderr_lines[0]}" ;;
	esac
	for needle in "$@"; do
		case ${stderr_lines[0]} in
		*"$needle"*) ;;
		*) fail "the error line does not name '$needle': ${stderr_lines[0]}" ;;
		esac
	done
	if [ -n "$output" ]; then
		fail "expected nothing on stdout, got: $output"
	fi
}

#!/usr/bin/env python3
"""bench/run.py: vgpu-run against the alternatives, every ratio measured in one run.

    python3 bench/run.py [PREFIX] [--quick] [--only SECTION[,SECTION...]] [--no-save]
                         [--wait-quiet SECONDS]

`zig build bench` runs it with the install prefix (zig-out) after building the drivers
of bench/ into PREFIX/bench/bin; `zig build bench -- --quick` passes options.  Sections:
launch, shim, contention, copies, startup.  Prints one table and writes it, with every
sample, to bench/results/<date>-<commit>.json.  Each row is the median of its samples
(after warm-up) with min and max, and its ratio to its reference row; a budget row
(DESIGN.md, "Performance budgets") says met or missed.  What each row means:
docs/performance.md.
"""
import datetime
import json
import os
import re
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOBODY = 65534


def die(msg):
    print("bench: " + msg, file=sys.stderr)
    sys.exit(1)


# --- rows ------------------------------------------------------------------------------

class Table:
    def __init__(self):
        self.rows = []
        self.skipped = []

    def add(self, section, name, unit, samples, ref=None, better="lower", budget=None, met=None,
            note="", **extra):
        """One row.  samples: the measurements (unit); ref: the name of the reference row
        of the same section; better: which way is faster, for the ratio's reading."""
        row = {"section": section, "name": name, "unit": unit, "n": len(samples),
               "median": statistics.median(samples) if samples else None,
               "min": min(samples) if samples else None, "max": max(samples) if samples else None,
               "ref": ref, "better": better, "ratio": None, "budget": budget, "met": met,
               "note": note, "samples": samples}
        if ref is not None:
            r = self.find(section, ref)
            if r and r["median"]:
                row["ratio"] = row["median"] / r["median"]
        row.update(extra)
        self.rows.append(row)
        return row

    def find(self, section, name):
        for r in self.rows:
            if r["section"] == section and r["name"] == name:
                return r
        return None

    def skip(self, section, name, why):
        self.skipped.append({"section": section, "name": name, "why": why})
        print("bench: skipped %s / %s: %s" % (section, name, why), file=sys.stderr)


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "ms":
        return "%.2f" % v if v < 100 else "%.0f" % v
    if unit in ("ns", "ns/call", "ns/pair"):
        return "%.1f" % v if v < 100 else "%.0f" % v
    if unit == "GB/s":
        return "%.2f" % v if v < 10 else "%.1f" % v
    if unit in ("pairs/s",):
        return "%.0f" % v
    return "%.3g" % v


def print_table(t, meta):
    print()
    print("vgpu-run benchmarks  %s  commit %s  %s, %s CPUs, load %s" % (
        meta["date"], meta["commit"], meta["machine"]["cpu"], meta["machine"]["nproc"],
        " ".join("%.2f" % x for x in meta["load_before"])))
    head = ("row", "median", "min", "max", "unit", "n", "ratio", "budget")
    widths = [52, 9, 9, 9, 8, 4, 7, 0]
    section = None
    for r in t.rows:
        if r["section"] != section:
            section = r["section"]
            print()
            print("== " + section)
            print("  ".join(h.ljust(w) if w else h for h, w in zip(head, widths)))
        if r["budget"]:
            verdict = ("met" if r["met"] else "MISSED") + ": " + r["budget"]
        else:
            verdict = ""
        ratio = ("%.2fx" % r["ratio"]) if r["ratio"] is not None else "-"
        cells = (r["name"], fmt(r["median"], r["unit"]), fmt(r["min"], r["unit"]),
                 fmt(r["max"], r["unit"]), r["unit"], str(r["n"]), ratio, verdict)
        print("  ".join(c.ljust(w) if w else c for c, w in zip(cells, widths)).rstrip())
        if r["note"]:
            print(" " * 4 + r["note"])
    if t.skipped:
        print()
        print("== skipped")
        for s in t.skipped:
            print("%s / %s: %s" % (s["section"], s["name"], s["why"]))
    budgets = [r for r in t.rows if r["budget"]]
    print()
    print("budgets: %d met, %d missed" % (sum(1 for r in budgets if r["met"]),
                                          sum(1 for r in budgets if not r["met"])))


# --- helpers ---------------------------------------------------------------------------

class Env:
    def __init__(self, prefix, quick):
        self.prefix = prefix
        self.quick = quick
        self.vgpu = os.path.join(prefix, "bin", "vgpu-run")
        self.libdir = os.path.join(prefix, "lib", "vgpu")
        self.emulator = os.path.join(self.libdir, "emulator")
        self.lower = os.path.join(self.libdir, "run", "driver", "lower:libcuda.so.1")
        self.bin = os.path.join(prefix, "bench", "bin")
        self.tmp = tempfile.mkdtemp(prefix="vgpu-bench.")
        os.chmod(self.tmp, 0o755)
        self.root = os.geteuid() == 0

    def tool(self, name):
        return os.path.join(self.bin, name)

    def policy(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        return path


def run_json(cmd, timeout=300, env=None):
    """Runs cmd; returns its stdout's JSON lines (a list), or raises with its stderr."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, env=env)
    if p.returncode != 0:
        err = (p.stderr.strip().splitlines() or ["exit status %d" % p.returncode])[-1]
        raise RuntimeError("%s: %s" % (os.path.basename(cmd[0]), err))
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


def launch(e, variants, rounds, warmup, limit_s=120):
    """bench_launch over variants [(name, opts, argv)]: {name: result}."""
    cmd = [e.tool("bench_launch"), "-r", str(rounds), "-w", str(warmup), "-t", str(limit_s)]
    for i, (name, opts, argv) in enumerate(variants):
        if i:
            cmd.append("::")
        cmd += [name] + list(opts) + ["--"] + list(argv)
    return {d["name"]: d for d in run_json(cmd, timeout=limit_s + 120)}


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


# --- 1. launch -------------------------------------------------------------------------

def bench_launch(e, t):
    S = "launch: exec to exit of COMMAND=/bin/true"
    true = shutil.which("true") or "/bin/true"
    true = "/bin/true" if os.path.exists("/bin/true") else true
    unshare = shutil.which("unshare")
    bwrap = shutil.which("bwrap")
    v = [("/bin/true", [], [true])]
    if unshare:
        v.append(("unshare -m", [], [unshare, "-m", true]))
    else:
        t.skip(S, "unshare -m", "no unshare(1) here (util-linux)")
    if bwrap:
        v.append(("bwrap --bind / /", [], [bwrap, "--bind", "/", "/", true]))
    else:
        t.skip(S, "bwrap --bind / /", "no bwrap here (tools/setup installs bubblewrap)")
    v.append(("vgpu-run", [], [e.vgpu, "--", true]))
    v.append(("vgpu-run --dry-run (discovery only)", [], [e.vgpu, "--dry-run", "--", true]))
    who = ["uid=%d" % NOBODY] if e.root else []
    user = "uid %d" % NOBODY if e.root else "uid %d" % os.getuid()
    if unshare:
        v.append(("unshare -Urm (%s)" % user, who, [unshare, "-Urm", true]))
    v.append(("vgpu-run (%s)" % user, who, [e.vgpu, "--", true]))
    rounds, warmup = (60, 5) if e.quick else (300, 20)
    res = launch(e, v, rounds, warmup)

    def ms(name):
        d = res.get(name)
        if not d:
            return None
        if not d["ok"]:
            t.skip(S, name, d["error"])
            return None
        return [x / 1e6 for x in d["ns"]]

    def own(name, base="/bin/true"):
        a, b = t.find(S, name), t.find(S, base)
        return a["median"] - b["median"] if a and b else None

    base = ms("/bin/true")
    if base:
        t.add(S, "/bin/true", "ms", base, note="fork + exec + exit + wait of the driver: in every row below")
    for name, ref in (("unshare -m", "/bin/true"), ("bwrap --bind / /", "unshare -m")):
        s = ms(name)
        if s:
            t.add(S, name, "ms", s, ref=ref if t.find(S, ref) else None)
    s = ms("vgpu-run")
    if s:
        r = t.add(S, "vgpu-run", "ms", s, ref="unshare -m", budget="<= unshare -m (ratio <= 1.00)")
        r["met"] = r["ratio"] is not None and r["ratio"] <= 1.0
        a, b = own("vgpu-run"), own("unshare -m")
        if a is not None and b:
            r["note"] = "own time (minus /bin/true): %.2f ms vs unshare -m %.2f ms = %.2fx" % (a, b, a / b)
            r["own_ratio"] = a / b
    s = ms("vgpu-run --dry-run (discovery only)")
    if s:
        r = t.add(S, "vgpu-run --dry-run (discovery only)", "ms", s, ref="vgpu-run",
                  note="policy, driver discovery, plan; no namespace, no mounts, no exec")
        a, b = own("vgpu-run --dry-run (discovery only)"), own("vgpu-run")
        if a is not None and b:
            r["note"] += ": %.0f%% of vgpu-run's own time" % (100 * a / b)
    uref = "unshare -Urm (%s)" % user
    s = ms(uref)
    if s:
        t.add(S, uref, "ms", s, ref="unshare -m" if t.find(S, "unshare -m") else None,
              note="user + mount namespace, as an unprivileged user")
    name = "vgpu-run (%s)" % user
    s = ms(name)
    if s:
        r = t.add(S, name, "ms", s, ref=uref if t.find(S, uref) else None,
                  budget="<= unshare -Urm (ratio <= 1.00)")
        r["met"] = r["ratio"] is not None and r["ratio"] <= 1.0
        a, b = own(name), own(uref)
        if a is not None and b:
            r["note"] = "own time: %.2f ms vs unshare -Urm %.2f ms = %.2fx" % (a, b, a / b)
            r["own_ratio"] = a / b


# --- 2. shim call overhead ---------------------------------------------------------------

OPS = {
    "alloc": ("cuMemAlloc_v2+cuMemFree_v2 (4 KiB)", "ns/pair", "intercepted"),
    "meminfo": ("cuMemGetInfo_v2", "ns/call", "intercepted"),
    "attr": ("cuDeviceGetAttribute", "ns/call", "forwarded"),
    "launch": ("cuLaunchKernel (launch = noop)", "ns/call", "forwarded"),
}


def bench_shim(e, t):
    S = "shim: ns per call, through the shim vs straight into the emulator (same process)"
    pol = e.policy("shim.conf", "emulate = yes\nlaunch = noop\n")
    rounds = 15 if e.quick else 61
    res = run_json([e.vgpu, "-p", pol, "--", e.tool("bench_shimcalls"), "calls", e.lower, str(rounds)])
    ir = {}
    valgrind = shutil.which("valgrind")
    if valgrind:
        cgdir = os.path.join(e.tmp, "callgrind")
        os.mkdir(cgdir)
        try:
            run_json([e.vgpu, "-p", pol, "--", valgrind, "--tool=callgrind",
                      "--callgrind-out-file=" + os.path.join(cgdir, "cg.%p"),
                      e.tool("bench_shimcalls"), "callgrind", e.lower, "2000" if e.quick else "20000"],
                     timeout=600)
            for f in os.listdir(cgdir):
                label, total = None, None
                with open(os.path.join(cgdir, f)) as fh:
                    for line in fh:
                        prefix = "desc: Trigger: Client Request: "
                        if line.startswith(prefix):
                            label = line[len(prefix):].strip()
                        elif line.startswith("summary:") or line.startswith("totals:"):
                            total = int(line.split()[1])
                if label and total is not None:
                    ir[label] = total
        except (RuntimeError, subprocess.TimeoutExpired) as x:
            t.skip(S, "instructions per call (callgrind)", str(x))
            ir = {}
    else:
        t.skip(S, "instructions per call (callgrind)",
               "valgrind is not installed (tools/setup installs it); perf has no hardware counters in this VM")
    pointers = {d["op"]: d["pointers"] for d in res if "pointers" in d}
    ns = {(d["op"], d["path"]): d for d in res if "ns" in d}
    cg_iters = {"alloc": (200 if e.quick else 2000)}

    def ir_per_call(op, path):
        n = cg_iters.get(op, 2000 if e.quick else 20000)
        v = ir.get("%s/%s" % (op, path))
        return v / n if v is not None else None

    for op, (label, unit, kind) in OPS.items():
        lower_name = "%s: lower" % label
        lo = ns[(op, "lower")]["ns"]
        t.add(S, lower_name, unit, lo, note="the emulator's own function (dlsym of the lower driver)",
              ir=ir_per_call(op, "lower"))
        for path, how in (("dlsym", "dlsym(libcuda.so.1)"), ("procaddr", "cuGetProcAddress_v2")):
            mine = ns[(op, path)]["ns"]
            r = t.add(S, "%s: shim, %s" % (label, path), unit, mine, ref=lower_name)
            # The delta is the median of the rounds' paired differences (both measured
            # back to back in the same round): drift between rounds cancels out.
            delta = statistics.median([a - b for a, b in zip(mine, lo)])
            r["delta"] = delta
            r["ir"] = ir_per_call(op, path)
            ir_lo = ir_per_call(op, "lower")
            who = pointers.get(op, {}).get(path)
            notes = ["delta %+.1f ns (median of paired rounds)" % delta]
            if r["ir"] is not None and ir_lo is not None:
                notes.append("instructions %.0f vs %.0f (%+.0f)" % (r["ir"], ir_lo, r["ir"] - ir_lo))
            notes.append("pointer: %s's" % who)
            r["pointer"] = who
            if kind == "intercepted" and op == "alloc":
                r["budget"] = "intercepted allocation adds < 100 ns a call (< 200 ns a pair)"
                r["met"] = delta < 200
            elif kind == "forwarded" and path == "procaddr":
                r["budget"] = "forwarded: +0 (cuGetProcAddress hands out the lower's pointer)"
                r["met"] = who == "lower"
            elif kind == "forwarded":
                notes.append("one indirect jump (the forwarder)")
            r["note"] = "; ".join(notes)

    # Start-up: dlopen + cuInit in fresh processes, the shim vs the emulator directly.
    n = 10 if e.quick else 30
    res = run_json([e.vgpu, "-p", pol, "--", e.tool("bench_shimcalls"), "init", e.lower, str(n)])
    by = {d["init"]: d for d in res}
    tot = {w: [a + b for a, b in zip(by[w]["load_us"], by[w]["cuInit_us"])] for w in by}
    t.add(S, "load + cuInit: lower", "us", tot["lower"],
          note="dlopen of the emulator + cuInit, fresh process (median load %.0f us, cuInit %.0f us)" % (
              statistics.median(by["lower"]["load_us"]), statistics.median(by["lower"]["cuInit_us"])))
    r = t.add(S, "load + cuInit: shim", "us", tot["shim"], ref="load + cuInit: lower",
              budget="cuInit through the shim adds < 1 ms")
    r["delta"] = r["median"] - statistics.median(tot["lower"])
    r["met"] = r["delta"] < 1000
    r["note"] = "delta %+.0f us (median load %.0f us, cuInit %.0f us; the shim's start-up loads the lower too)" % (
        r["delta"], statistics.median(by["shim"]["load_us"]), statistics.median(by["shim"]["cuInit_us"]))


# --- 3. accounting under contention --------------------------------------------------------

def bench_contention(e, t):
    S = "contention: processes allocating and freeing 1 MiB, up to 4 held each, one sandbox"
    cap = "24M"
    capb = 24 << 20
    pol = e.policy("cap.conf", "emulate = yes\nmemory = %s\n" % cap)
    counts = [1, 2, 4, 8] if e.quick else [1, 2, 4, 8, 16]
    seconds = "0.3" if e.quick else "0.4"
    repeats = 2 if e.quick else 3
    direct_env = dict(os.environ, LD_LIBRARY_PATH=e.emulator)
    prog = e.tool("bench_contention")
    cmds = {
        "alone": ([prog], "0", None, direct_env),
        "sandbox": ([e.vgpu, "-p", pol, "--", prog], "0", e.lower, None),
        "shim": ([e.vgpu, "-p", pol, "--", prog], cap, None, None),
    }
    runs = {}
    for rep in range(repeats):
        for n in counts:
            order = list(cmds) if rep % 2 == 0 else list(reversed(list(cmds)))
            for kind in order:
                head, c, lib, env = cmds[kind]
                cmd = head + [str(n), seconds, "1M", "4", c] + ([lib] if lib else [])
                d = run_json(cmd, env=env)[0]
                if d["failed"]:
                    raise RuntimeError("bench_contention: %d of %d processes failed" % (d["failed"], n))
                runs.setdefault((kind, n), []).append(d)
    violations = max_held = 0
    cap_name = "cap 24 MiB"
    for n in counts:
        alone = "%d procs: emulator alone" % n
        t.add(S, alone, "pairs/s", [d["allocs"] / d["seconds"] for d in runs[("alone", n)]], better="higher",
              note="outside any sandbox, LD_LIBRARY_PATH to the emulator: no shim, no cap")
        lower = "%d procs: emulator in the sandbox" % n
        r = t.add(S, lower, "pairs/s", [d["allocs"] / d["seconds"] for d in runs[("sandbox", n)]], ref=alone,
                  better="higher")
        r["note"] = "vgpu-run, each process dlopens the lower driver's path: no shim, no cap"
        ss = runs[("shim", n)]
        r = t.add(S, "%d procs: shim, %s" % (n, cap_name), "pairs/s", [d["allocs"] / d["seconds"] for d in ss],
                  ref=lower, better="higher")
        refused = statistics.median([d["oom"] / d["seconds"] for d in ss])
        one = t.find(S, "1 procs: shim, %s" % cap_name)
        scale = r["median"] / one["median"] if one and one["median"] else None
        r["refused_per_s"] = refused
        r["scaling"] = scale
        r["max_held"] = max(d["max_held"] for d in ss)
        r["violations"] = sum(d["violations"] for d in ss)
        r["note"] = "x%.2f of 1 process; refused at the cap %.0f/s; most held at once %d MiB" % (
            scale or 0, refused, r["max_held"] >> 20)
        violations += r["violations"]
        max_held = max(max_held, r["max_held"])
    r = t.add(S, "cap never exceeded (all runs)", "MiB", [max_held / (1 << 20)],
              budget="held <= cap (24 MiB) at every moment, 0 violations")
    r["met"] = violations == 0 and max_held <= capb
    r["note"] = "most held at once %d MiB of %d MiB; %d violations seen" % (max_held >> 20, capb >> 20, violations)


# --- 4. emulator copies ----------------------------------------------------------------------

def size_name(n):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return "%d %s" % (n >> shift, unit)
    return "%d B" % n


def bench_copies(e, t):
    S = "copies: emulator bandwidth vs memcpy between the same addresses"
    avail_gib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                avail_gib = int(line.split()[1]) / (1 << 20)
    sizes = ["4K", "64K", "1M", "16M", "256M", "1G"]
    if e.quick or avail_gib < 8:
        sizes = sizes[:-1]  # 4 buffers of the largest size: 1 GiB wants 4 GiB
        if not e.quick:
            t.skip(S, "1 GiB", "%.1f GiB available: 4 buffers of 1 GiB need 4 GiB and room" % avail_gib)
    rounds = "3" if e.quick else "5"
    res = run_json([e.vgpu, "--", e.tool("bench_copies"), ",".join(sizes), "64M", rounds], timeout=600)
    by = {(d["size"], d["kind"]): d["gbps"] for d in res}
    for size in sorted({d["size"] for d in res}):
        sn = size_name(size)
        for kind, label in (("htod", "HtoD"), ("dtoh", "DtoH"), ("dtod", "DtoD")):
            ref = "%s %s: memcpy" % (label, sn)
            t.add(S, ref, "GB/s", by[(size, kind + "_memcpy")], better="higher",
                  note="memcpy between the same two addresses")
            r = t.add(S, "%s %s: cuMemcpy%s_v2" % (label, sn, label), "GB/s", by[(size, kind)], ref=ref,
                      better="higher", budget=">= 80% of memcpy")
            r["met"] = r["ratio"] is not None and r["ratio"] >= 0.8
            hh = statistics.median(by[(size, "memcpy")])
            r["note"] = "host-to-host memcpy (other buffers) %.2f GB/s" % hh
            if size <= 64 << 10 and r["median"]:
                per_call = size / r["median"] - size / t.find(S, ref)["median"]
                r["note"] = "%+.0f ns a call over memcpy; " % per_call + r["note"]


# --- 5. start-up of real clients ----------------------------------------------------------

def cudart_program(e):
    """The nvcc-built libcudart client, or (None, why)."""
    nvcc = shutil.which("nvcc") or ("/usr/local/cuda/bin/nvcc" if os.path.exists("/usr/local/cuda/bin/nvcc") else None)
    if not nvcc:
        return None, "no nvcc (CUDA toolkit at /usr/local/cuda) to build the libcudart client"
    src = os.path.join(TOP, "bench", "cudart_init.c")
    out = os.path.join(e.bin, "cudart_init")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        p = subprocess.run([nvcc, "-O2", "-o", out, src], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if p.returncode != 0:
            return None, "nvcc failed: " + (p.stdout.strip().splitlines() or ["?"])[-1]
    return out, None


def bench_startup(e, t):
    S = "start-up of a real client: whole process, emulator alone vs under vgpu-run"
    py = sys.executable
    code = "import sys; from cuda.bindings import driver; sys.exit(int(driver.cuInit(0)[0]))"
    v = []
    env_plain = ["env=LD_LIBRARY_PATH=" + e.emulator]
    check = subprocess.run([py, "-c", "import cuda.bindings.driver"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if check.returncode == 0:
        v += [("python3 cuda.bindings cuInit: emulator", env_plain, [py, "-c", code]),
              ("python3 cuda.bindings cuInit: vgpu-run", [], [e.vgpu, "--", py, "-c", code])]
    else:
        t.skip(S, "python3 cuda.bindings", "%s cannot import cuda.bindings (tools/setup installs it)" % py)
    prog, why = cudart_program(e)
    if prog:
        v += [("libcudart cudaFree(0): emulator", env_plain, [prog]),
              ("libcudart cudaFree(0): vgpu-run", [], [e.vgpu, "--", prog])]
    else:
        t.skip(S, "libcudart client", why)
    if not v:
        return
    rounds = 4 if e.quick else 20
    res = launch(e, v, rounds, 2, limit_s=150)
    for i in range(0, len(v), 2):
        a, b = res[v[i][0]], res[v[i + 1][0]]
        for d in (a, b):
            if not d["ok"]:
                t.skip(S, d["name"], d["error"])
        if a["ok"] and b["ok"]:
            t.add(S, a["name"], "ms", [x / 1e6 for x in a["ns"]],
                  note="LD_LIBRARY_PATH to zig-out/lib/vgpu/emulator: no launcher, no shim")
            r = t.add(S, b["name"], "ms", [x / 1e6 for x in b["ns"]], ref=a["name"])
            r["note"] = "%+.1f ms: the launcher and the shim's start-up" % (
                r["median"] - t.find(S, a["name"])["median"])


# --- 6. tracing --------------------------------------------------------------------------------

def bench_trace(e, t):
    S = "trace: ns per call with --trace vs without (docs/tracing.md)"
    probe = os.path.join(e.prefix, "tests", "bin", "tracecall")
    if not os.access(probe, os.X_OK):
        t.skip(S, "traced call", "no %s: build it with 'zig build tests'" % probe)
        return
    pol = e.policy("trace.conf", "emulate = yes\n")
    out = os.path.join(e.tmp, "trace.jsonl")
    n = "5000" if e.quick else "20000"
    plain = {"fwd": [], "procaddr": []}
    traced = {"fwd": [], "procaddr": []}
    for _ in range(3 if e.quick else 7):  # interleaved: noise hits both alike
        for dest, extra in ((plain, []), (traced, ["--trace", out])):
            r = subprocess.run([e.vgpu, "-p", pol] + extra + ["--", probe, "time:" + n],
                               capture_output=True, text=True, timeout=300)
            m = re.search(r"^time fwd_ns=([0-9.]+) procaddr_ns=([0-9.]+)$", r.stdout, re.M)
            if r.returncode != 0 or not m:
                t.skip(S, "traced call", "tracecall failed: %s" % (r.stderr.strip() or r.stdout.strip()))
                return
            dest["fwd"].append(float(m.group(1)))
            dest["procaddr"].append(float(m.group(2)))
    for key, how in (("fwd", "exported name"), ("procaddr", "cuGetProcAddress pointer")):
        ref = "cuDeviceGetAttribute, %s: no --trace" % how
        t.add(S, ref, "ns", plain[key], note="forwarded: the lower's function")
        r = t.add(S, "cuDeviceGetAttribute, %s: --trace" % how, "ns", traced[key], ref=ref,
                  budget="a traced call costs < 1 us extra")
        r["delta"] = r["median"] - statistics.median(plain[key])
        r["met"] = r["delta"] < 1000
        r["note"] = "delta %+.0f ns (one JSON line buffered per call)" % r["delta"]


# --- main ----------------------------------------------------------------------------------

SECTIONS = {"launch": bench_launch, "shim": bench_shim, "contention": bench_contention,
            "copies": bench_copies, "startup": bench_startup, "trace": bench_trace}


def git(*args):
    try:
        return subprocess.run(["git", "-C", TOP] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout.strip()
    except OSError:
        return ""


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / (1 << 20)
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(), "mem_gib": round(mem, 1)}


def main(argv):
    prefix, quick, only, save, wait = os.path.join(TOP, "zig-out"), False, list(SECTIONS), True, 0
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--quick":
            quick = True
        elif a == "--no-save":
            save = False
        elif a == "--only" and i + 1 < len(argv):
            only = argv[i + 1].split(",")
            i += 1
        elif a == "--wait-quiet" and i + 1 < len(argv):
            wait = float(argv[i + 1])
            i += 1
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        elif not a.startswith("-"):
            prefix = a
        else:
            die("unknown option %s (see --help)" % a)
        i += 1
    for s in only:
        if s not in SECTIONS:
            die("unknown section %s (%s)" % (s, ", ".join(SECTIONS)))
    e = Env(os.path.abspath(prefix), quick)
    for f in [e.vgpu] + [e.tool(n) for n in ("bench_launch", "bench_shimcalls", "bench_contention", "bench_copies")]:
        if not os.access(f, os.X_OK):
            die("no %s: build with `zig build bench`" % f)

    deadline = time.time() + wait
    while loadavg()[0] > 1.5 and time.time() < deadline:
        time.sleep(10)
    load = loadavg()
    if load[0] > 1.5:
        print("bench: the machine is busy (load %.2f): numbers will be noisier" % load[0], file=sys.stderr)
    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += "-dirty"
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "commit": commit,
            "machine": machine(), "load_before": load, "quick": quick, "prefix": e.prefix,
            "python": sys.executable}
    t = Table()
    started = time.time()
    for s in only:
        t0 = time.time()
        try:
            SECTIONS[s](e, t)
        except (RuntimeError, subprocess.TimeoutExpired, KeyError) as x:
            t.skip(s, "(whole section)", "failed: %s" % x)
        print("bench: %s took %.0f s" % (s, time.time() - t0), file=sys.stderr)
    meta["seconds"] = round(time.time() - started, 1)
    meta["load_after"] = loadavg()
    print_table(t, meta)
    print("(%.0f s; load before %.2f, after %.2f)" % (meta["seconds"], load[0], meta["load_after"][0]))
    if save:
        out_dir = os.path.join(TOP, "bench", "results")
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, "%s-%s.json" % (datetime.date.today().isoformat(), commit))
        with open(path + ".tmp", "w") as f:
            json.dump({"meta": meta, "rows": t.rows, "skipped": t.skipped}, f, indent=1)
        os.replace(path + ".tmp", path)
        print("wrote " + os.path.relpath(path, TOP))
    shutil.rmtree(e.tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

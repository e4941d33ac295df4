// One build for vgpu-run (Zig 0.17.0, from PyPI `ziglang`; tools/setup installs it).
//
//   zig build            the install layout of DESIGN.md in zig-out/ (or --prefix P)
//   zig build test       every test suite (C unit, fuzz replay, bats); ends "N passed, N failed"
//
// The launcher is static musl and links libcap built for musl by tools/setup into
// .deps/musl; libseccomp (built there too) makes its seccomp program at build time.
// The libraries that programs load (shim, emulator, and for now the test probes) are
// shared objects for glibc, which CUDA programs use.
const std = @import("std");

const version = "0.1.0";

const c_flags = [_][]const u8{
    "-std=gnu11",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-unused-parameter",
    "-D_GNU_SOURCE",
    "-fno-strict-aliasing",
};

const policy_sources = [_][]const u8{
    "policy/policy.c",
    "policy/policy_parse.c",
    "policy/policy_canonical.c",
    "policy/api_codes.c",
    "policy/policy_fault.c",
};

const launcher_sources = [_][]const u8{
    "launcher/check.c",
    "launcher/discover.c",
    "launcher/gpus.c",
    "launcher/ldcache.c",
    "launcher/log.c",
    "launcher/mounts.c",
    "launcher/namespace.c",
    "launcher/plan.c",
    "launcher/runtime.c",
    "launcher/sandbox.c",
    "launcher/target.c",
    "launcher/trace_file.c",
    "launcher/trace_report.c",
    "launcher/fault_names.c",
    "shim/common/physical_gpus.c",
};

// The emulator's sources.  Each list belongs to one part of the emulator; add a file to
// its list when you add it to the tree.
const emulator_common_sources = [_][]const u8{
    "emulator/common/unsupported.c",
    "shim/common/runtime_dir.c",
    "emulator/common/config.c",
    "emulator/common/profiles.c",
    "emulator/common/state.c",
};
const emulator_cuda_core_sources = [_][]const u8{
    "emulator/cuda/init.c",
    "emulator/cuda/device.c",
    "emulator/cuda/context.c",
    "emulator/cuda/procaddr.c",
    "emulator/cuda/export_tables.c",
    "emulator/cuda/md2.c",
};
const emulator_cuda_memory_sources = [_][]const u8{
    "emulator/cuda/memory.c",
    "emulator/cuda/copy.c",
    "emulator/cuda/stream.c",
    "emulator/cuda/event.c",
    "emulator/cuda/vmm.c",
    "emulator/cuda/pool.c",
    "emulator/cuda/module.c",
    "emulator/cuda/launch.c",
    "emulator/cuda/handles.c",
};
const emulator_nvml_sources = [_][]const u8{
    "emulator/nvml/init.c",
    "emulator/nvml/system.c",
    "emulator/nvml/device.c",
    "emulator/nvml/device_mem.c",
    "emulator/nvml/device_state.c",
    "emulator/nvml/profiles_nvml.c",
};

pub fn build(b: *std.Build) void {
    // Release with safety checks unless asked otherwise: this is what users run.
    const optimize = b.option(std.builtin.Optimize, "optimize", "debug, safe (default), fast or small") orelse .safe;
    const musl = b.resolveTargetQuery(.{ .cpu_arch = .x86_64, .os_tag = .linux, .abi = .musl });
    // glibc 2.28 (2018) as the floor for what our shared objects need from the C library.
    const glibc = b.resolveTargetQuery(.{
        .cpu_arch = .x86_64,
        .os_tag = .linux,
        .abi = .gnu,
        .glibc_version = .{ .major = 2, .minor = 28, .patch = 0 },
    });

    const deps = b.path(".deps/musl");
    const commit = gitCommit(b);
    const version_flags = [_][]const u8{
        b.fmt("-DVGPU_VERSION=\"{s}\"", .{version}),
        b.fmt("-DVGPU_COMMIT=\"{s}\"", .{commit}),
    };

    // --- the launcher ------------------------------------------------------------------
    const launcher = b.addExecutable(.{
        .name = "vgpu-run",
        .linkage = .static,
        .root_module = muslModule(b, musl, optimize, deps),
    });
    launcher.root_module.strip = optimize != .debug;
    launcher.root_module.addCSourceFiles(.{ .files = &launcher_sources, .flags = &c_flags });
    launcher.root_module.addCSourceFiles(.{ .files = &policy_sources, .flags = &c_flags });
    launcher.root_module.addCSourceFiles(.{ .files = &.{ "launcher/main.c", "launcher/cli.c" }, .flags = &(c_flags ++ version_flags) });
    // The exported names, for checking --fault function patterns (tools/gen_names.c).
    const gen_names = b.addExecutable(.{ .name = "gen_names", .root_module = b.createModule(.{
        .target = b.graph.host,
        .optimize = .debug,
        .link_libc = true,
    }) });
    gen_names.root_module.addCSourceFile(.{ .file = b.path("tools/gen_names.c"), .flags = &c_flags });
    for ([_][2][]const u8{ .{ "emulator/data/libcuda.exports", "vgpu_cuda_names" }, .{ "emulator/data/libnvidia-ml.exports", "vgpu_nvml_names" } }) |list| {
        const gen = b.addRunArtifact(gen_names);
        gen.addFileArg(b.path(list[0]));
        const names = gen.addOutputFileArg(b.fmt("{s}.c", .{list[1]}));
        gen.addArg(list[1]);
        launcher.root_module.addCSourceFile(.{ .file = names, .flags = &c_flags });
    }
    // The seccomp filter, made by libseccomp at build time (tools/gen_seccomp.c): the
    // rules are fixed, and building them on every launch cost a third of its budget.
    const gen_seccomp = b.addExecutable(.{
        .name = "gen_seccomp",
        .linkage = .static,
        .root_module = muslModule(b, musl, .debug, deps),
    });
    gen_seccomp.root_module.addCSourceFiles(.{ .files = &.{ "tools/gen_seccomp.c", "launcher/seccomp_filter.c" }, .flags = &c_flags });
    const gen_seccomp_run = b.addRunArtifact(gen_seccomp);
    const seccomp_program = gen_seccomp_run.addOutputFileArg("seccomp_program.c");
    launcher.root_module.addCSourceFile(.{ .file = seccomp_program, .flags = &c_flags });
    b.installArtifact(launcher);

    b.installFile("docs/vgpu-run.1", "share/man/man1/vgpu-run.1");
    b.installFile("docs/vgpu-policy.5", "share/man/man5/vgpu-policy.5");

    // lib/vgpu/run: the runtime dir's mount point, empty in the install.
    const run_dir = b.addSystemCommand(&.{ "mkdir", "-p", "--" });
    run_dir.addDirectoryArg(.{ .relative = .{ .base = .install_lib, .sub_path = "vgpu/run" } });
    run_dir.has_side_effects = true;
    b.getInstallStep().dependOn(&run_dir.step);

    // --- the emulator: lib/vgpu/emulator/{libcuda.so.1,libnvidia-ml.so.1} -------------------
    // Every exported name of the real driver gets a generated stub (tools/gen_stubs.c)
    // that an implementation in the sources overrides.
    const gen_stubs = b.addExecutable(.{ .name = "gen_stubs", .root_module = b.createModule(.{
        .target = b.graph.host,
        .optimize = .debug,
        .link_libc = true,
    }) });
    gen_stubs.root_module.addCSourceFile(.{ .file = b.path("tools/gen_stubs.c"), .flags = &c_flags });
    const emulator_libs = [_]struct { name: []const u8, exports: []const u8, unsupported: []const u8, sources: []const []const u8 }{
        .{ .name = "cuda", .exports = "emulator/data/libcuda.exports", .unsupported = "801", .sources = &(emulator_cuda_core_sources ++ emulator_cuda_memory_sources) },
        .{ .name = "nvidia-ml", .exports = "emulator/data/libnvidia-ml.exports", .unsupported = "3", .sources = &emulator_nvml_sources },
    };
    for (emulator_libs) |e| {
        const gen = b.addRunArtifact(gen_stubs);
        gen.addFileArg(b.path(e.exports));
        const stubs = gen.addOutputFileArg(b.fmt("{s}_stubs.c", .{e.name}));
        gen.addArg(e.unsupported);
        const lib = b.addLibrary(.{
            .name = e.name,
            .version = .{ .major = 1, .minor = 0, .patch = 0 },
            .linkage = .dynamic,
            .root_module = b.createModule(.{ .target = glibc, .optimize = optimize, .link_libc = true }),
        });
        const emu_flags = c_flags ++ .{ "-fvisibility=hidden", "-pthread" };
        lib.root_module.addIncludePath(b.path("."));
        lib.root_module.addCSourceFile(.{ .file = stubs, .flags = &emu_flags });
        lib.root_module.addCSourceFiles(.{ .files = e.sources, .flags = &emu_flags });
        lib.root_module.addCSourceFiles(.{ .files = &emulator_common_sources, .flags = &emu_flags });
        lib.root_module.addCSourceFiles(.{ .files = &policy_sources, .flags = &emu_flags });
        lib.root_module.linkSystemLibrary("pthread", .{});
        lib.root_module.linkSystemLibrary("dl", .{});
        // An unresolved symbol is a build error, not a library that fails to load.
        lib.link_z_defs = true;
        const file = b.fmt("lib{s}.so.1", .{e.name});
        const inst = b.addInstallFileWithDir(lib.getEmittedBin(), .lib, b.fmt("vgpu/emulator/{s}", .{file}));
        b.getInstallStep().dependOn(&inst.step);
    }

    // --- tests ---------------------------------------------------------------------------
    const test_step = b.step("test", "Run every test suite; ends with 'N passed, N failed'");
    const tests_install = b.step("tests", "Build the test programs and probe libraries into zig-out/tests");

    const unit_tests = [_]struct { name: []const u8, files: []const []const u8 }{
        .{ .name = "test_policy", .files = &(.{"tests/unit/test_policy.c"} ++ policy_sources) },
        .{ .name = "test_ldcache", .files = &.{ "tests/unit/test_ldcache.c", "launcher/ldcache.c" } },
        .{ .name = "fuzz_ldcache", .files = &.{ "tests/fuzz/fuzz_ldcache.c", "tests/fuzz/fuzz_replay.c", "launcher/ldcache.c" } },
        .{ .name = "test_sandbox", .files = &.{ "tests/unit/test_sandbox.c", "launcher/sandbox.c", "launcher/seccomp_filter.c", "launcher/log.c" } },
        .{ .name = "test_md2", .files = &.{ "tests/unit/test_md2.c", "emulator/cuda/md2.c" } },
        .{ .name = "test_procaddr_pick", .files = &.{ "tests/unit/test_procaddr_pick.c", "shim/cuda/procaddr_pick.c" } },
        .{ .name = "test_accounting", .files = &.{ "tests/unit/test_accounting.c", "shim/common/accounting.c" } },
        .{ .name = "test_ptrtable", .files = &.{ "tests/unit/test_ptrtable.c", "shim/cuda/ptrtable.c" } },
        .{ .name = "test_vdev", .files = &(.{ "tests/unit/test_vdev.c", "shim/common/vdev.c", "shim/common/physical_gpus.c" } ++ policy_sources) },
    };
    for (unit_tests) |t| {
        const exe = b.addExecutable(.{
            .name = t.name,
            .linkage = .static,
            .root_module = muslModule(b, musl, .debug, deps),
        });
        exe.root_module.addCSourceFiles(.{ .files = t.files, .flags = &c_flags });
        exe.root_module.addIncludePath(b.path("."));
        // The program the launcher loads, checked by what it refuses.
        if (std.mem.eql(u8, t.name, "test_sandbox"))
            exe.root_module.addCSourceFile(.{ .file = seccomp_program, .flags = &c_flags });
        const inst = b.addInstallArtifact(exe, .{ .dest_dir = .{ .override = .{ .custom = "tests/unit" } } });
        tests_install.dependOn(&inst.step);
    }

    // Programs run inside the sandbox by the bats tests: glibc, dynamic, like the CUDA
    // programs vgpu-run is for.
    const probe_programs = [_]struct { name: []const u8, src: []const u8 }{
        .{ .name = "whichlib", .src = "tests/probes/whichlib.c" },
        .{ .name = "execchain", .src = "tests/probes/execchain.c" },
        .{ .name = "syscalls", .src = "tests/probes/syscalls.c" },
        .{ .name = "threads", .src = "tests/probes/threads.c" },
        .{ .name = "emu_visible", .src = "tests/probes/emu_visible.c" },
        .{ .name = "capalloc", .src = "tests/probes/capalloc.c" },
        .{ .name = "nvmlview", .src = "tests/probes/nvmlview.c" },
        .{ .name = "tracecall", .src = "tests/probes/tracecall.c" },
    };
    for (probe_programs) |p| {
        const exe = b.addExecutable(.{ .name = p.name, .root_module = glibcModule(b, glibc, .debug) });
        exe.root_module.addCSourceFile(.{ .file = b.path(p.src), .flags = &c_flags });
        const inst = b.addInstallArtifact(exe, .{ .dest_dir = .{ .override = .{ .custom = "tests/bin" } } });
        tests_install.dependOn(&inst.step);
    }

    // Probe libraries: one source, built as each library a test needs, each telling
    // which one it is.  tests/lib-dir is a --lib-dir layout (shim + emulator);
    // tests/fake-driver holds what the tests install as "the NVIDIA driver".
    const probe_libs = [_]struct { dir: []const u8, file: []const u8, identity: []const u8 }{
        .{ .dir = "tests/lib-dir", .file = "libcuda.so.1", .identity = "shim-cuda" },
        .{ .dir = "tests/lib-dir", .file = "libnvidia-ml.so.1", .identity = "shim-nvml" },
        .{ .dir = "tests/lib-dir/emulator", .file = "libcuda.so.1", .identity = "emulator-cuda" },
        .{ .dir = "tests/lib-dir/emulator", .file = "libnvidia-ml.so.1", .identity = "emulator-nvml" },
        .{ .dir = "tests/fake-driver", .file = "libcuda.so.580.0.1", .identity = "driver-cuda" },
        .{ .dir = "tests/fake-driver", .file = "libnvidia-ml.so.580.0.1", .identity = "driver-nvml" },
    };
    for (probe_libs) |l| {
        // Named so that zig gives the soname the real library has: libcuda.so.1, ...
        const is_cuda = std.mem.startsWith(u8, l.file, "libcuda");
        const lib = b.addLibrary(.{
            .name = if (is_cuda) "cuda" else "nvidia-ml",
            .version = .{ .major = 1, .minor = 0, .patch = 0 },
            .linkage = .dynamic,
            .root_module = glibcModule(b, glibc, .debug),
        });
        lib.root_module.addCSourceFile(.{
            .file = b.path("tests/probes/probe_lib.c"),
            .flags = &(c_flags ++ .{ "-fvisibility=default", b.fmt("-DPROBE_IDENTITY=\"{s}\"", .{l.identity}) }),
        });
        lib.setVersionScript(b.path("tests/probes/probe_lib.map"));
        const inst = b.addInstallFileWithDir(lib.getEmittedBin(), .{ .custom = l.dir }, l.file);
        tests_install.dependOn(&inst.step);
    }
    // The probe lib-dir needs the runtime dir's mount point as an install does.
    const probe_run_dir = b.addSystemCommand(&.{ "mkdir", "-p", "--" });
    probe_run_dir.addDirectoryArg(.{ .relative = .{ .base = .install_prefix, .sub_path = "tests/lib-dir/run" } });
    probe_run_dir.has_side_effects = true;
    tests_install.dependOn(&probe_run_dir.step);
    tests_install.dependOn(b.getInstallStep());

    const run_tests = b.addSystemCommand(&.{ "bash", "tests/run" });
    run_tests.addDirectoryArg(.{ .relative = .{ .base = .install_prefix } });
    run_tests.has_side_effects = true;
    run_tests.stdio = .inherit;
    run_tests.step.dependOn(tests_install);
    test_step.dependOn(&run_tests.step);

    // --- the shim: lib/vgpu/{libcuda.so.1,libnvidia-ml.so.1} ---
    // Every exported name of the real driver gets a generated weak forwarder
    // (tools/gen_forwarders.c: one indirect jump through a table that start-up fills
    // with the lower driver's functions); a strong definition in the shim's sources
    // intercepts the name.  Design: docs/shim.md.  (After the tests section: the
    // shim's test probe joins the `tests` step.)
    {
        const shim_common_sources = [_][]const u8{
            "shim/common/shim.c",
            "shim/common/runtime_dir.c",
            "shim/common/accounting.c",
            "shim/common/vdev.c",
            "shim/common/physical_gpus.c",
            "shim/common/hook.c",
            "shim/common/trace.c",
            "shim/common/fault.c",
        };
        const shim_cuda_sources = [_][]const u8{
            "shim/cuda/shim_cuda.c",
            "shim/cuda/procaddr.c",
            "shim/cuda/procaddr_pick.c",
            "shim/cuda/vcuda.c",
            "shim/cuda/alloc.c",
            "shim/cuda/context.c",
            "shim/cuda/ptrtable.c",
            "shim/cuda/export_table.c",
            "emulator/cuda/md2.c",
        };
        const shim_nvml_sources = [_][]const u8{
            "shim/nvml/shim_nvml.c",
            "shim/nvml/view.c",
        };
        const gen_forwarders = b.addExecutable(.{ .name = "gen_forwarders", .root_module = b.createModule(.{
            .target = b.graph.host,
            .optimize = .debug,
            .link_libc = true,
        }) });
        gen_forwarders.root_module.addCSourceFile(.{ .file = b.path("tools/gen_forwarders.c"), .flags = &c_flags });
        const shim_libs = [_]struct { name: []const u8, prefix: []const u8, exports: []const u8, sources: []const []const u8 }{
            .{ .name = "cuda", .prefix = "cuda", .exports = "emulator/data/libcuda.exports", .sources = &shim_cuda_sources },
            .{ .name = "nvidia-ml", .prefix = "nvml", .exports = "emulator/data/libnvidia-ml.exports", .sources = &shim_nvml_sources },
        };
        for (shim_libs) |s| {
            const gen = b.addRunArtifact(gen_forwarders);
            gen.addFileArg(b.path(s.exports));
            const forwarders = gen.addOutputFileArg(b.fmt("{s}_forwarders.c", .{s.prefix}));
            gen.addArg(s.prefix);
            const lib = b.addLibrary(.{
                .name = s.name,
                .version = .{ .major = 1, .minor = 0, .patch = 0 },
                .linkage = .dynamic,
                .root_module = b.createModule(.{ .target = glibc, .optimize = optimize, .link_libc = true }),
            });
            // Hidden by default: the library exports exactly the driver's names.  No
            // function-type sanitizer: the shim calls the lower driver's functions
            // through its own declarations of them, which no other library shares.
            // No UBSan traps in the shim: it sits on every intercepted call of every CUDA
            // program (budget: < 100 ns a call), and the checks cost a third of its
            // instructions on cuMemAlloc+cuMemFree (bench, section shim: +1055 -> +769).
            const shim_flags = c_flags ++ .{ "-fvisibility=hidden", "-pthread", "-fno-sanitize=function", "-fno-sanitize=undefined", "-mtls-dialect=gnu2" };
            lib.root_module.addIncludePath(b.path("."));
            lib.root_module.addCSourceFile(.{ .file = forwarders, .flags = &shim_flags });
            lib.root_module.addCSourceFiles(.{ .files = s.sources, .flags = &shim_flags });
            lib.root_module.addCSourceFiles(.{ .files = &shim_common_sources, .flags = &shim_flags });
            lib.root_module.addCSourceFiles(.{ .files = &policy_sources, .flags = &shim_flags });
            lib.root_module.linkSystemLibrary("pthread", .{});
            lib.root_module.linkSystemLibrary("dl", .{});
            lib.link_z_defs = true;
            const file = b.fmt("lib{s}.so.1", .{s.name});
            const inst = b.addInstallFileWithDir(lib.getEmittedBin(), .lib, b.fmt("vgpu/{s}", .{file}));
            b.getInstallStep().dependOn(&inst.step);
        }
        // The shim's test probe (tests/bats/shim.bats): glibc, dynamic.
        const shimcall = b.addExecutable(.{ .name = "shimcall", .root_module = glibcModule(b, glibc, .debug) });
        shimcall.root_module.addCSourceFile(.{ .file = b.path("tests/probes/shimcall.c"), .flags = &(c_flags ++ .{"-fno-sanitize=function"}) });
        shimcall.root_module.linkSystemLibrary("dl", .{});
        const shimcall_inst = b.addInstallArtifact(shimcall, .{ .dest_dir = .{ .override = .{ .custom = "tests/bin" } } });
        tests_install.dependOn(&shimcall_inst.step);
        // The generator's own unit test: its output for a small list, built into a
        // program that calls through the forwarders and the lazy path.
        const gen_test = b.addRunArtifact(gen_forwarders);
        gen_test.addFileArg(b.path("tests/unit/forwarders_test.exports"));
        const test_fwd = gen_test.addOutputFileArg("t_forwarders.c");
        gen_test.addArg("t");
        const fwd_test = b.addExecutable(.{ .name = "test_forwarders", .root_module = glibcModule(b, glibc, .debug) });
        fwd_test.root_module.addCSourceFile(.{ .file = test_fwd, .flags = &c_flags });
        fwd_test.root_module.addCSourceFile(.{ .file = b.path("tests/unit/test_forwarders.c"), .flags = &c_flags });
        const fwd_test_inst = b.addInstallArtifact(fwd_test, .{ .dest_dir = .{ .override = .{ .custom = "tests/unit" } } });
        tests_install.dependOn(&fwd_test_inst.step);
    }

    // --- benchmarks: `zig build bench` (docs/performance.md) ---------------------------------
    // The drivers in bench/ (glibc, dynamic, optimised: their own loops must cost
    // nothing) go to zig-out/bench/bin; bench/run.py runs them against the install and
    // prints the table (and writes it to bench/results/).  `zig build bench -- --quick`
    // for a short run; the libraries measured are the install's, built as users get them.
    {
        const bench_step = b.step("bench", "Benchmark vgpu-run against the alternatives (docs/performance.md)");
        const bench_programs = [_]struct { name: []const u8, src: []const u8 }{
            .{ .name = "bench_launch", .src = "bench/launch.c" },
            .{ .name = "bench_shimcalls", .src = "bench/shimcalls.c" },
            .{ .name = "bench_contention", .src = "bench/contention.c" },
            .{ .name = "bench_copies", .src = "bench/copies.c" },
        };
        const run_bench = b.addSystemCommand(&.{ "python3", "bench/run.py" });
        run_bench.addDirectoryArg(.{ .relative = .{ .base = .install_prefix } });
        run_bench.addPassthruArgs();
        run_bench.has_side_effects = true;
        run_bench.stdio = .inherit;
        run_bench.step.dependOn(b.getInstallStep());
        for (bench_programs) |p| {
            const exe = b.addExecutable(.{ .name = p.name, .root_module = glibcModule(b, glibc, .ReleaseFast) });
            exe.root_module.addCSourceFile(.{ .file = b.path(p.src), .flags = &c_flags });
            exe.root_module.linkSystemLibrary("dl", .{});
            const inst = b.addInstallArtifact(exe, .{ .dest_dir = .{ .override = .{ .custom = "bench/bin" } } });
            run_bench.step.dependOn(&inst.step);
        }
        bench_step.dependOn(&run_bench.step);
    }
}

fn muslModule(b: *std.Build, target: std.Build.ResolvedTarget, optimize: std.builtin.OptimizeMode, deps: std.Build.LazyPath) *std.Build.Module {
    const m = b.createModule(.{ .target = target, .optimize = optimize, .link_libc = true });
    m.addIncludePath(deps.path(b, "include"));
    m.addIncludePath(b.path("."));
    m.addObjectFile(deps.path(b, "lib/libseccomp.a"));
    m.addObjectFile(deps.path(b, "lib/libcap.a"));
    return m;
}

fn glibcModule(b: *std.Build, target: std.Build.ResolvedTarget, optimize: std.builtin.OptimizeMode) *std.Build.Module {
    // Stripped: the probes are tiny, and tests/gpu/run carries them to another machine.
    const m = b.createModule(.{ .target = target, .optimize = optimize, .link_libc = true, .strip = true });
    m.addIncludePath(b.path("."));
    return m;
}

// The commit vgpu-run --version reports: from git when building from a checkout.
fn gitCommit(b: *std.Build) []const u8 {
    // The configure phase is cached; without this a new commit would keep the old
    // hash in `vgpu-run --version` until build.zig itself changed.  The reflog's
    // metadata changes with every commit and checkout.
    b.dependOnFileMetadata(b.path(".git/logs/HEAD"));
    return switch (b.runFallible(&.{ "git", "rev-parse", "--short=12", "HEAD" }, .{ .stderr_behavior = .ignore })) {
        .success => |out| std.mem.trim(u8, out, " \n\r\t"),
        else => "unknown",
    };
}

//! `cargo xtask bench --instructions`: user-space instructions and syscalls per echoed message.
//!
//! Wall-clock numbers are noisy on a shared machine; instruction counts are not. Each server
//! runs with `--exit-after-messages M` (a clean exit, so callgrind writes its profile) under
//! `valgrind --tool=callgrind`, built for x86-64-v3 into `target/callgrind` (valgrind cannot
//! decode AVX-512, and the run-time SIMD dispatch sees valgrind's CPUID), while the generator
//! sends exactly M ping-pong messages. Two counts per load shape; the difference of the total
//! `Ir` divided by the difference of the counts cancels start-up, handshakes and exit.
//! Syscalls are counted the same way on the native build, with perf's `raw_syscalls`
//! tracepoints (cheap), or `strace -c -f` where perf cannot.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use super::{Bench, Server, cargo_build};
use crate::Error;
use crate::process::{self, ChildGuard};

/// The two message counts whose difference is measured.
const COUNTS: [u64; 2] = [20_000, 120_000];
/// The load shapes: (name, connections, payload bytes).
const SHAPES: [(&str, usize, usize); 2] = [("512B-x100", 100, 512), ("1KiB-x500", 500, 1024)];
/// Syscalls broken out in the perf counts (the total counts every syscall).
const SYSCALLS: [&str; 9] = [
    "read",
    "write",
    "readv",
    "writev",
    "recvfrom",
    "sendto",
    "epoll_wait",
    "epoll_pwait",
    "epoll_ctl",
];
/// How long a profiled server may take to serve its messages after the generator is done.
const EXIT_WAIT: Duration = Duration::from_secs(120);
/// How many functions of the profile to show.
const TOP_FUNCTIONS: usize = 15;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tracer {
    Perf,
    Strace,
}

/// Syscall counts of one run: the total and some by name.
#[derive(Clone, Debug, Default, PartialEq)]
struct Syscalls {
    total: f64,
    by_name: Vec<(String, f64)>,
}

pub(super) fn run(bench: &Bench, servers: &[Server], build: bool) -> Result<ExitCode, Error> {
    let valgrind = process::find_program("valgrind").ok_or_else(|| {
        Error::Failed("valgrind is not installed (Debian: apt-get install valgrind)".to_owned())
    })?;
    let tracer = pick_tracer();
    let callgrind_target = bench.target.join("callgrind");
    if build {
        let mut args = vec![
            "build",
            "--release",
            "-p",
            "sockudo-ws-benches",
            "--bin",
            "loadgen",
        ];
        for s in servers {
            args.extend(["--example", s.example]);
        }
        cargo_build(&bench.root, &args, &[])?;
        let dir = callgrind_target.to_string_lossy().into_owned();
        let mut args = vec![
            "build",
            "--release",
            "--target-dir",
            dir.as_str(),
            "-p",
            "sockudo-ws-benches",
        ];
        for s in servers {
            args.extend(["--example", s.example]);
        }
        cargo_build(
            &bench.root,
            &args,
            &[("RUSTFLAGS", "-C target-cpu=x86-64-v3")],
        )?;
    }
    let profiles = bench.out.join("callgrind");
    fs::create_dir_all(&profiles)
        .map_err(|e| format!("cannot create {}: {e}", profiles.display()))?;

    let mut md = format!(
        "# Instructions and syscalls per echoed message\n\n\
         Ping-pong echo of M messages with `--exit-after-messages M`, for M = {} and {}; the \
         difference of the two runs divided by {} messages, so start-up, handshakes and exit \
         cancel. Instructions: user space only (callgrind `Ir`, x86-64-v3 build). Syscalls: \
         {}.\n\n\
         | server | load | Ir / message | syscalls / message | of which |\n|---|---|--:|--:|---|\n",
        COUNTS[0],
        COUNTS[1],
        COUNTS[1] - COUNTS[0],
        match tracer {
            Some(Tracer::Perf) => "perf `raw_syscalls:sys_enter`, native build",
            Some(Tracer::Strace) => "`strace -c -f`, native build",
            None => "not measured (neither perf tracepoints nor strace available)",
        }
    );
    let mut failed = false;
    // The profile of the larger count of the first load shape, per server.
    let mut to_annotate = Vec::new();
    for server in servers {
        for (shape, connections, size) in SHAPES {
            println!("\n=== {} {shape}: callgrind ===", server.name);
            let mut irs = Vec::new();
            for m in COUNTS {
                let file = profiles.join(format!("callgrind.out.{}.{shape}.{m}", server.name));
                let server_bin = Bench::server_bin(&callgrind_target, server);
                let args = [
                    "--tool=callgrind".to_owned(),
                    format!("--callgrind-out-file={}", file.display()),
                    server_bin.to_string_lossy().into_owned(),
                    "--exit-after-messages".to_owned(),
                    m.to_string(),
                ];
                let cmd = bench.command(0, &valgrind, &args);
                let label = format!("callgrind-{}-{shape}-{m}", server.name);
                let ir = profile_run(bench, server, &label, cmd, connections, size, m)
                    .and_then(|()| total_ir(&file));
                match ir {
                    Ok(ir) => {
                        println!("  {m} messages: {} Ir", super::report::thousands(ir));
                        irs.push(ir);
                    }
                    Err(e) => {
                        println!("  {m} messages: FAILED: {e}");
                        failed = true;
                    }
                }
                if shape == SHAPES[0].0 && m == COUNTS[1] && irs.len() == 2 {
                    to_annotate.push((server.name, shape, file));
                }
            }
            let per_message =
                (irs.len() == 2).then(|| (irs[1] - irs[0]) / (COUNTS[1] - COUNTS[0]) as f64);

            let mut syscalls = Vec::new();
            if let Some(tracer) = tracer {
                println!("=== {} {shape}: syscalls ({tracer:?}) ===", server.name);
                for m in COUNTS {
                    let label = format!("syscalls-{}-{shape}-{m}", server.name);
                    match syscall_run(bench, tracer, server, &label, connections, size, m) {
                        Ok(s) => {
                            println!(
                                "  {m} messages: {} syscalls",
                                super::report::thousands(s.total)
                            );
                            syscalls.push(s);
                        }
                        Err(e) => {
                            println!("  {m} messages: FAILED: {e}");
                            failed = true;
                        }
                    }
                }
            }
            let dm = (COUNTS[1] - COUNTS[0]) as f64;
            let (per_msg_sys, breakdown) = if syscalls.len() == 2 {
                let names: Vec<String> = syscalls[1]
                    .by_name
                    .iter()
                    .filter_map(|(name, after)| {
                        let before = syscalls[0]
                            .by_name
                            .iter()
                            .find(|(n, _)| n == name)
                            .map_or(0.0, |(_, c)| *c);
                        let per = (after - before) / dm;
                        (per >= 0.005).then(|| format!("{name} {per:.2}"))
                    })
                    .collect();
                (
                    format!("{:.2}", (syscalls[1].total - syscalls[0].total) / dm),
                    names.join(", "),
                )
            } else {
                ("-".to_owned(), String::new())
            };
            let line = format!(
                "| {} | {shape} ({connections} x {size} B) | {} | {per_msg_sys} | {breakdown} |",
                server.name,
                per_message.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}")),
            );
            println!("{line}");
            md.push_str(&line);
            md.push('\n');
        }
    }

    for (server, shape, file) in to_annotate {
        match annotate(&file) {
            Ok((full, top)) => {
                let path = profiles.join(format!("annotate.{server}.{shape}.txt"));
                fs::write(&path, &full)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                let _ = write!(
                    md,
                    "\n## Top {TOP_FUNCTIONS} functions by Ir (self): {server}, {shape}, {} \
                     messages\n\n(`callgrind_annotate {}`; the whole listing is in {})\n\n```\n{}\n```\n",
                    COUNTS[1],
                    file.display(),
                    path.display(),
                    top.join("\n")
                );
            }
            Err(e) => {
                let _ = writeln!(md, "\ncallgrind_annotate failed: {e}");
                failed = true;
            }
        }
    }
    let path = bench.out.join("instructions.md");
    fs::write(&path, &md).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("\n{md}\nwritten to {}", path.display());
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// perf if its syscall tracepoints work here, else strace if installed.
fn pick_tracer() -> Option<Tracer> {
    let perf_works = process::find_program("perf").is_some()
        && Command::new("perf")
            .args([
                "stat",
                "-x",
                ",",
                "-e",
                "raw_syscalls:sys_enter",
                "--",
                "true",
            ])
            .output()
            .is_ok_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stderr).contains("sys_enter")
            });
    if perf_works {
        Some(Tracer::Perf)
    } else if process::find_program("strace").is_some() {
        Some(Tracer::Strace)
    } else {
        println!("note: syscalls not counted: no working perf tracepoints and no strace");
        None
    }
}

/// Starts the server command `cmd` (which must exit after `m` messages), sends it `m`
/// ping-pong messages over `connections` connections and waits for it to exit cleanly.
fn profile_run(
    bench: &Bench,
    server: &Server,
    label: &str,
    cmd: Command,
    connections: usize,
    size: usize,
    m: u64,
) -> Result<(), String> {
    let server_log = bench.logs.join(format!("{label}.server.log"));
    let (mut guard, _pid, addr) = bench.start_server(label, cmd, &server_log)?;
    let mut args = [
        "--port",
        &addr.port().to_string(),
        "--mode",
        "count",
        "--messages",
        &m.to_string(),
        "--connections",
        &connections.to_string(),
        "--size",
        &size.to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(server.transport.loadgen_args());
    // Only that it ran to the end counts, not its figures.
    bench.loadgen::<serde::de::IgnoredAny>(
        &args,
        &bench.logs.join(format!("{label}.loadgen.log")),
        Duration::from_secs(900),
    )?;
    wait_exit(&mut guard, &server_log)
}

fn wait_exit(guard: &mut ChildGuard, log: &Path) -> Result<(), String> {
    match guard.wait_timeout(EXIT_WAIT, EXIT_WAIT, |_| {})? {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(format!(
            "the server exited with {status}\n{}",
            process::tail(log, 10)
        )),
        None => Err(format!(
            "the server did not exit within {}s of the last message",
            EXIT_WAIT.as_secs()
        )),
    }
}

fn syscall_run(
    bench: &Bench,
    tracer: Tracer,
    server: &Server,
    label: &str,
    connections: usize,
    size: usize,
    m: u64,
) -> Result<Syscalls, String> {
    let out = bench
        .logs
        .join(format!("{label}.{tracer:?}.txt").to_lowercase());
    let bin = Bench::server_bin(&bench.target, server);
    let mut args: Vec<String> = Vec::new();
    let program = match tracer {
        Tracer::Perf => {
            args.extend(["stat", "-x", ",", "-o"].map(str::to_owned));
            args.push(out.to_string_lossy().into_owned());
            args.extend(["-e".to_owned(), "raw_syscalls:sys_enter".to_owned()]);
            for name in SYSCALLS {
                args.extend(["-e".to_owned(), format!("syscalls:sys_enter_{name}")]);
            }
            args.push("--".to_owned());
            PathBuf::from("perf")
        }
        Tracer::Strace => {
            args.extend(["-c", "-f", "-o"].map(str::to_owned));
            args.push(out.to_string_lossy().into_owned());
            PathBuf::from("strace")
        }
    };
    args.push(bin.to_string_lossy().into_owned());
    args.extend(["--exit-after-messages".to_owned(), m.to_string()]);
    let cmd = bench.command(0, &program, &args);
    profile_run(bench, server, label, cmd, connections, size, m)?;
    // The tracer writes its file as it exits, just after the server.
    let mut text = String::new();
    for _ in 0..50 {
        text = fs::read_to_string(&out).unwrap_or_default();
        if !text.trim().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let parsed = match tracer {
        Tracer::Perf => parse_perf(&text),
        Tracer::Strace => parse_strace(&text),
    };
    parsed.ok_or_else(|| format!("cannot read the counts in {}", out.display()))
}

/// `perf stat -x,` output: `count,unit,event,...` per line.
fn parse_perf(text: &str) -> Option<Syscalls> {
    let mut s = Syscalls::default();
    let mut found = false;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(',').collect();
        let (Some(count), Some(event)) = (fields.first(), fields.get(2)) else {
            continue;
        };
        let Ok(count) = count.trim().parse::<f64>() else {
            continue;
        };
        if *event == "raw_syscalls:sys_enter" {
            s.total = count;
            found = true;
        } else if let Some(name) = event.strip_prefix("syscalls:sys_enter_") {
            s.by_name.push((name.to_owned(), count));
        }
    }
    found.then_some(s)
}

/// `strace -c` output: a table whose rows end in the syscall name, `calls` the fourth column.
fn parse_strace(text: &str) -> Option<Syscalls> {
    let mut s = Syscalls::default();
    let mut found = false;
    for line in text.lines() {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        if tokens.len() < 5 {
            continue;
        }
        let Ok(calls) = tokens[3].parse::<f64>() else {
            continue;
        };
        let name = tokens[tokens.len() - 1];
        if name == "total" {
            s.total = calls;
            found = true;
        } else {
            s.by_name.push((name.to_owned(), calls));
        }
    }
    s.by_name.sort_by(|a, b| b.1.total_cmp(&a.1));
    s.by_name.truncate(8);
    found.then_some(s)
}

/// The total `Ir` of a callgrind profile (its `summary:` or `totals:` line).
fn total_ir(file: &Path) -> Result<f64, String> {
    let text =
        fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    parse_total_ir(&text).ok_or_else(|| format!("no summary line in {}", file.display()))
}

fn parse_total_ir(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// `callgrind_annotate FILE`: the whole output and its top function lines.
fn annotate(file: &Path) -> Result<(String, Vec<String>), String> {
    let out = Command::new("callgrind_annotate")
        .arg(file)
        .output()
        .map_err(|e| format!("cannot run callgrind_annotate: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "callgrind_annotate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let top = top_functions(&text, TOP_FUNCTIONS);
    Ok((text, top))
}

/// The first `n` lines of the function table (after the `file:function` header and its rule,
/// up to the blank line that ends it).
fn top_functions(text: &str, n: usize) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.contains("file:function"))
        .skip(1)
        .skip_while(|l| l.starts_with('-'))
        .take_while(|l| !l.trim().is_empty())
        .take(n)
        .map(|l| {
            // Drop the `[/path/to/object]` suffix: long and the same for most lines.
            let l = l.trim_end();
            let l = match l.rfind(" [") {
                Some(i) if l.ends_with(']') => &l[..i],
                _ => l,
            };
            shorten_path(l)
        })
        .collect()
}

/// `.../.cargo/registry/src/index.crates.io-HASH/tokio-1.0/src/x.rs` as `tokio-1.0/src/x.rs`,
/// and paths in the workspace relative to it.
fn shorten_path(line: &str) -> String {
    const REGISTRY: &str = "/registry/src/";
    let mut out = line.to_owned();
    if let Some(at) = out.find(REGISTRY) {
        let start = out[..at].rfind(' ').map_or(0, |i| i + 1);
        if let Some(end) = out[at + REGISTRY.len()..].find('/') {
            out.replace_range(start..at + REGISTRY.len() + end + 1, "");
        }
    }
    let root = format!("{}/", crate::workspace_root().display());
    out.replace(&root, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tool_outputs() {
        let perf = "\n# started on x\n\n123456,,raw_syscalls:sys_enter,1000,100.00,,\n\
                    40000,,syscalls:sys_enter_read,1000,100.00,,\n\
                    <not supported>,,syscalls:sys_enter_readv,0,100.00,,\n";
        let s = parse_perf(perf).unwrap();
        assert_eq!(s.total, 123_456.0);
        assert_eq!(s.by_name, [("read".to_owned(), 40_000.0)]);
        assert!(parse_perf("nothing").is_none());

        let strace = "% time     seconds  usecs/call     calls    errors syscall\n\
                      ------ ----------- ----------- --------- --------- ----------------\n\
                       60.00    0.600000           3    200000     50000 read\n\
                       40.00    0.400000           2    200000           write\n\
                      ------ ----------- ----------- --------- --------- ----------------\n\
                      100.00    1.000000           2    400000     50000 total\n";
        let s = parse_strace(strace).unwrap();
        assert_eq!(s.total, 400_000.0);
        assert_eq!(s.by_name.len(), 2);

        assert_eq!(
            parse_total_ir("events: Ir\nsummary: 123456789\n"),
            Some(123_456_789.0)
        );
        assert_eq!(parse_total_ir("totals: 42 7\n"), Some(42.0));

        let ann = "----\nIr                   file:function\n----\n\
                   1,000 (50.00%)  src/a.rs:a::f [/bin/x]\n\
                   500  ???:memcpy [/lib/libc.so.6]\n\n-- Auto-annotated source\n\
                   400 (20.00%)     match self\n";
        let root = crate::workspace_root().display().to_string();
        assert_eq!(
            shorten_path(
                "9 (1%)  /root/.cargo/registry/src/index.crates.io-1949/tokio-1.54.1/src/a.rs:f"
            ),
            "9 (1%)  tokio-1.54.1/src/a.rs:f"
        );
        assert_eq!(
            shorten_path(&format!("9  {root}/crates/x.rs:g")),
            "9  crates/x.rs:g"
        );
        assert_eq!(
            top_functions(ann, 15),
            ["1,000 (50.00%)  src/a.rs:a::f", "500  ???:memcpy"]
        );
    }
}

//! `cargo xtask fuzz`: builds the libFuzzer targets in `fuzz/` with cargo-fuzz and runs each
//! for a bounded time, then prints executions per second and coverage per target.
//!
//! Only stable Rust is on these machines: `RUSTC_BOOTSTRAP=1` lets cargo-fuzz pass the
//! sanitizer and coverage flags it needs. Committed seeds (`fuzz/corpus/<target>/seed-*`) are
//! copied into a work corpus under `target/fuzz/`, so the repository stays small.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use lexopt::Arg::{Long, Short};

use crate::process::{ChildGuard, fmt_duration, tail};
use crate::{Error, cli, workspace_root};

/// Every target, with its dictionary (relative to `fuzz/`), if any.
const TARGETS: &[(&str, Option<&str>)] = &[
    ("frame_header", Some("dict/frame.dict")),
    ("connection", Some("dict/frame.dict")),
    ("handshake_request", Some("dict/handshake.dict")),
    ("handshake_response", Some("dict/handshake.dict")),
    ("utf8", None),
    ("inflate", None),
    ("deflate_connection", Some("dict/frame.dict")),
];

pub(crate) const USAGE: &str = "\
cargo xtask fuzz [OPTIONS]
    Builds the fuzz targets in fuzz/ (cargo-fuzz, installed if missing) and runs each for a
    bounded time; fails if any target finds a crash (the input is kept in fuzz/artifacts/).

    --target T,...            Targets to run (default: all: frame_header, connection,
                              handshake_request, handshake_response, utf8, inflate,
                              deflate_connection)
    --seconds N               Time per target (default: 60)
";

struct Options {
    targets: Vec<&'static str>,
    seconds: u64,
}

fn parse(args: &[String]) -> Result<Options, Error> {
    let mut options = Options {
        targets: TARGETS.iter().map(|(t, _)| *t).collect(),
        seconds: 60,
    };
    let mut parser = cli::parser(args);
    while let Some(arg) = cli::next(&mut parser)? {
        match arg {
            Long("target" | "targets") => {
                let list = cli::value(&mut parser)?;
                options.targets = list
                    .split(',')
                    .map(|t| {
                        TARGETS
                            .iter()
                            .map(|(name, _)| *name)
                            .find(|name| *name == t.trim())
                            .ok_or_else(|| Error::Usage(format!("unknown fuzz target '{t}'")))
                    })
                    .collect::<Result<_, _>>()?;
            }
            Long("seconds") => {
                options.seconds = cli::value(&mut parser)?
                    .parse()
                    .map_err(|_| Error::Usage("--seconds takes a whole number".to_owned()))?;
            }
            Short('h') | Long("help") => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => {
                let typed = cli::typed(other);
                let typed = cli::with_attached(&mut parser, typed);
                return Err(Error::Usage(format!("unknown option '{typed}'")));
            }
        }
    }
    Ok(options)
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cmd.env("RUSTC_BOOTSTRAP", "1");
    cmd
}

fn ensure_cargo_fuzz() -> Result<(), Error> {
    let installed = cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if installed {
        return Ok(());
    }
    println!("cargo-fuzz is missing: cargo install cargo-fuzz --locked (a few minutes, once)");
    let status = cargo()
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .map_err(|e| format!("cargo install cargo-fuzz: {e}"))?;
    if !status.success() {
        return Err(Error::Failed("cargo install cargo-fuzz failed".to_owned()));
    }
    Ok(())
}

/// The figures libFuzzer prints at the end of a run.
#[derive(Debug, Default, PartialEq)]
struct Stats {
    runs: u64,
    exec_per_sec: u64,
    cov: u64,
    features: u64,
    corpus: u64,
}

/// Reads the last status line (`#N DONE cov: C ft: F corp: K/... exec/s: E ...`).
fn parse_stats(log: &str) -> Option<Stats> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.starts_with('#') && l.contains("cov:"))?;
    let mut stats = Stats::default();
    let mut words = line.split_whitespace();
    stats.runs = words.next()?.trim_start_matches('#').parse().ok()?;
    let rest: Vec<&str> = words.collect();
    for pair in rest.windows(2) {
        let number = |s: &str| {
            s.split('/')
                .next()
                .and_then(|n| n.trim_end_matches(['b', 'k', 'M']).parse().ok())
        };
        match pair[0] {
            "cov:" => stats.cov = number(pair[1])?,
            "ft:" => stats.features = number(pair[1])?,
            "corp:" => stats.corpus = number(pair[1])?,
            "exec/s:" => stats.exec_per_sec = number(pair[1])?,
            _ => {}
        }
    }
    Some(stats)
}

fn copy_seeds(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() {
            let dest = to.join(entry.file_name());
            std::fs::copy(&path, &dest).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

fn artifacts(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

pub(crate) fn run(args: &[String]) -> Result<ExitCode, Error> {
    let options = parse(args)?;
    let root = workspace_root();
    let fuzz_dir = root.join("fuzz");
    ensure_cargo_fuzz()?;

    let start = Instant::now();
    println!("building fuzz targets (cargo fuzz build, release + debug assertions, ASan)");
    let status = cargo()
        .current_dir(&root)
        .args(["fuzz", "build"])
        .status()
        .map_err(|e| format!("cargo fuzz build: {e}"))?;
    if !status.success() {
        return Err(Error::Failed("cargo fuzz build failed".to_owned()));
    }
    println!("built in {}", fmt_duration(start.elapsed()));

    let work = root.join("target").join("fuzz");
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for target in &options.targets {
        let dict = TARGETS
            .iter()
            .find(|(t, _)| t == target)
            .and_then(|(_, d)| *d);
        let corpus = work.join("corpus").join(target);
        copy_seeds(&fuzz_dir.join("corpus").join(target), &corpus)?;
        let artifact_dir = fuzz_dir.join("artifacts").join(target);
        std::fs::create_dir_all(&artifact_dir).map_err(|e| e.to_string())?;
        let before = artifacts(&artifact_dir).len();
        let log = work.join(format!("{target}.log"));

        let mut cmd = cargo();
        cmd.current_dir(&root)
            .args(["fuzz", "run", target])
            .arg(&corpus);
        cmd.arg("--");
        cmd.arg(format!("-max_total_time={}", options.seconds));
        cmd.arg("-print_final_stats=1");
        cmd.arg("-timeout=10");
        cmd.arg("-rss_limit_mb=2048");
        if let Some(dict) = dict {
            cmd.arg(format!("-dict={}", fuzz_dir.join(dict).display()));
        }
        println!("\n=== fuzz {target} for {}s ===", options.seconds);
        let mut child = ChildGuard::spawn(target, &mut cmd, &log)?;
        let limit = Duration::from_secs(options.seconds + 300);
        let status = child.wait_timeout(limit, Duration::from_secs(60), |elapsed| {
            println!(
                "  ... {target} still running after {}",
                fmt_duration(elapsed)
            );
        })?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let stats = parse_stats(&text);
        let found = artifacts(&artifact_dir).len() > before;
        let ok = status.is_some_and(|s| s.success()) && !found;
        if !ok {
            println!("{}", tail(&log, 40));
            failed.push(target.to_string());
        }
        rows.push((target.to_string(), stats, ok));
    }

    println!("\n  target               runs  exec/s     cov      ft  corpus  result");
    for (target, stats, ok) in &rows {
        let s = stats.as_ref();
        println!(
            "  {:<18} {:>8} {:>7} {:>7} {:>7} {:>7}  {}",
            target,
            s.map_or(0, |s| s.runs),
            s.map_or(0, |s| s.exec_per_sec),
            s.map_or(0, |s| s.cov),
            s.map_or(0, |s| s.features),
            s.map_or(0, |s| s.corpus),
            if *ok { "ok" } else { "FAILED" }
        );
    }
    println!("(total {})", fmt_duration(start.elapsed()));
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Error::Failed(format!(
            "fuzzing failed for {} (crash inputs are in fuzz/artifacts/<target>/; pin each as a \
             regression test named after what it found)",
            failed.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_final_status() {
        let log = "INFO: seed\n#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb\n\
                   #65536\tpulse  cov: 400 ft: 900 corp: 50/2k lim: 600 exec/s: 32768 rss: 40Mb\n\
                   #120000\tDONE   cov: 412 ft: 1020 corp: 61/3456b lim: 4096 exec/s: 40000 rss: 41Mb\n\
                   Done 120000 runs in 3 second(s)\n";
        assert_eq!(
            parse_stats(log),
            Some(Stats {
                runs: 120000,
                exec_per_sec: 40000,
                cov: 412,
                features: 1020,
                corpus: 61,
            })
        );
        assert_eq!(parse_stats("nothing here"), None);
    }

    #[test]
    fn options() {
        let o = parse(&[
            "--target".into(),
            "utf8,connection".into(),
            "--seconds".into(),
            "5".into(),
        ])
        .unwrap();
        assert_eq!(o.targets, vec!["utf8", "connection"]);
        assert_eq!(o.seconds, 5);
        assert!(parse(&["--target".into(), "nope".into()]).is_err());
        let o = parse(&["--targets=inflate".into()]).unwrap();
        assert_eq!(o.targets, vec!["inflate"]);
        for bad in [
            &["--seconds", "x"][..],
            &["--seconds"],
            &["--bogus"],
            &["word"],
        ] {
            let args: Vec<String> = bad.iter().map(|s| (*s).to_owned()).collect();
            assert!(matches!(parse(&args), Err(Error::Usage(_))), "{bad:?}");
        }
    }
}

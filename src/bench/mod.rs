//! `mica bench`: the benchmark runner. It runs benchmarks — Mica's own
//! suite (built into the binary as a mini-image), an Are We Fast Yet style
//! directory or a `.som` file — under the interpreter, the JIT and eager
//! compilation (and other SOM VMs), each run a fresh process, and shows
//! times, speed-ups, warm-up, compile times, inline-cache hit rates,
//! deoptimisations, collector time and memory side by side.
//!
//! ```text
//!  options ─> targets (benchmarks × columns) ─> process (one run each:
//!             output files, time limit, harness lines, stats channel)
//!          ─> model::Results ─> stats::summarize ─> table | report (HTML)
//! ```
//!
//! Runs take turns round by round — every benchmark in every column, then
//! the next round — so that a noisy machine slows every column alike.

pub mod channel;
pub mod model;
pub mod options;
mod process;
mod report;
pub mod stats;
mod table;
mod targets;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use model::{Benchmark, Machine, Results, Settings, Status};
use options::{Format, Options};

/// Runs `mica bench ARGS`.
pub fn main(args: &[String]) -> ExitCode {
    let usage_error = |message: String| {
        eprintln!("mica bench: {message}");
        ExitCode::from(2)
    };
    let o = match options::parse(args) {
        Ok(o) => o,
        Err(e) => return usage_error(e),
    };
    if o.help {
        print!("{}", options::USAGE);
        return ExitCode::SUCCESS;
    }
    let outcome = match &o.compare {
        Some((old, new)) => compare(&o, Path::new(old), Path::new(new)),
        None => bench(&o, args),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => usage_error(e),
    }
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch() -> Result<Scratch, String> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("mica-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: cannot make a scratch directory: {e}", dir.display()))?;
    Ok(Scratch(dir))
}

/// Runs the benchmarks; whether all of them ran and verified.
fn bench(o: &Options, args: &[String]) -> Result<bool, String> {
    let mica = std::env::current_exe().map_err(|e| format!("cannot find this program's file: {e}"))?;
    let work = scratch()?;
    let columns = targets::columns(&mica, &o.modes, &o.vms)?;
    let mut specs = targets::plan(&o.targets, &o.only, &work.0, &mica)?;
    if let Some(size) = o.size {
        for s in &mut specs {
            s.size = size;
        }
    }
    if specs.is_empty() {
        return Err("no benchmarks to run".to_string());
    }
    let mut benchmarks: Vec<Benchmark> = specs
        .iter()
        .map(|s| Benchmark { name: s.name.clone(), suite: s.suite(), size: s.size, runs: Vec::new() })
        .collect();
    let total = specs.len() as u64 * columns.len() as u64 * o.rounds as u64;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} {msg:32} {elapsed} elapsed, about {eta} left")
            .map_err(|e| e.to_string())?,
    );
    let timeout = Duration::from_secs(o.timeout);
    for round in 0..o.rounds {
        for (spec, results) in specs.iter().zip(benchmarks.iter_mut()) {
            for column in &columns {
                bar.set_message(format!("{} {} (round {}/{})", spec.name, column.name, round + 1, o.rounds));
                let run = process::run(spec, column, round, o.iterations, timeout, &work.0);
                if let Status::Failed { message } = &run.status {
                    let line = format!("mica bench: {} ({}) failed: {}", spec.name, column.name, message);
                    if bar.is_hidden() { eprintln!("{line}") } else { bar.println(line) }
                }
                results.runs.push(run);
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    let results = Results {
        format: model::FORMAT,
        mica_version: env!("CARGO_PKG_VERSION").to_string(),
        started: utc_now(),
        machine: machine(),
        settings: Settings {
            command: std::iter::once("mica bench".to_string()).chain(args.iter().cloned()).collect(),
            targets: o.targets.clone(),
            columns,
            iterations: o.iterations,
            rounds: o.rounds,
            size: o.size,
            only: o.only.clone(),
        },
        benchmarks,
    };
    let summary = stats::summarize(&results);
    if o.format == Format::Json {
        let both = serde_json::json!({ "summary": summary, "results": results });
        println!("{}", serde_json::to_string_pretty(&both).map_err(|e| e.to_string())?);
    } else {
        print!("{}", table::summary(&summary, o.format));
    }
    if let Some(dir) = &o.report {
        let dir = Path::new(dir);
        write_file(&dir.join("results.json"), &serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?)?;
        write_file(&dir.join("report.html"), &report::html_report(&results, &summary)?)?;
        eprintln!("mica bench: wrote {} and {}", dir.join("results.json").display(), dir.join("report.html").display());
    }
    let ok = results.benchmarks.iter().all(|b| b.runs.iter().all(|r| r.status == Status::Ok));
    Ok(ok)
}

/// `--compare OLD NEW`.
fn compare(o: &Options, old: &Path, new: &Path) -> Result<bool, String> {
    let read = |p: &Path| -> Result<Results, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let results: Results = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a results.json of mica bench: {e}", p.display()))?;
        if results.format != model::FORMAT {
            return Err(format!(
                "{}: results format {} (this Mica reads {})",
                p.display(),
                results.format,
                model::FORMAT
            ));
        }
        Ok(results)
    };
    let (a, b) = (read(old)?, read(new)?);
    let cmp = stats::compare(&a, &b, &old.display().to_string(), &new.display().to_string());
    if cmp.entries.is_empty() {
        return Err("the two runs have no benchmark and mode in common".to_string());
    }
    if o.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&cmp).map_err(|e| e.to_string())?);
    } else {
        print!("{}", table::comparison(&cmp, o.format));
    }
    if let Some(dir) = &o.report {
        let path = Path::new(dir).join("compare.html");
        write_file(&path, &report::html_comparison(&cmp)?)?;
        eprintln!("mica bench: wrote {}", path.display());
    }
    Ok(true)
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// The machine this runs on.
fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |names: &[&str]| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            names.contains(&k.trim()).then(|| v.trim().to_string())
        })
    };
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Machine {
        os: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model: field(&["model name", "Model", "Hardware"]).unwrap_or_default(),
        memory_bytes: memory_kib * 1024,
    }
}

/// Now, in UTC, as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// The date of a day counted from 1970-01-01 (the proleptic Gregorian
/// calendar, by eras of 400 years).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_become_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(super::civil_from_days(20_788), (2026, 12, 1));
    }
}

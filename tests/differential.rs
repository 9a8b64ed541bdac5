//! Differential testing: random, terminating SOM programs run under the
//! interpreter (`mica --jit=off`, the oracle) and under every other
//! execution mode; any difference in output, any crash, error exit or
//! time-out is a failure. Nothing expected is stored: the interpreter's
//! output is the expectation.
//!
//! Programs are made by `differential/generator.rs` from a seed. They run in
//! batches: one directory holds the classes of [`BATCH`] programs and a main
//! class that runs them in turn, printing `program N` before each one's
//! output, so each mode starts once per batch.
//!
//! Knobs (environment variables):
//!
//! - `MICA_DIFF_PROGRAMS`: how many programs (default [`PROGRAMS`]: 8 in
//!   a debug build, 300 in a release build);
//! - `MICA_DIFF_SEED`: the run's seed (default `20261202`);
//! - `MICA_DIFF_MODES`: the modes compared with the interpreter, by name,
//!   separated by commas (default all of [`MODES`]);
//! - `MICA_DIFF_BATCH`: programs per batch (default [`BATCH`]: 4 in a
//!   debug build, 40 in a release build);
//! - `MICA_DIFF_GC_EVERY`: `gc-stress` runs the programs whose number is a
//!   multiple of this (default [`GC_EVERY`]; 1 runs them all);
//! - `MICA_DIFF_JOBS`: batches run at once (default: the number of CPUs);
//! - `MICA_DIFF_TIMEOUT`: seconds one mode may take over one batch
//!   (default [`TIME_LIMIT`]: 60, 300 in a debug build);
//! - `MICA_DIFF_FIRST`: the first program's number (default 0), to rerun
//!   one program: `MICA_DIFF_FIRST=1234 MICA_DIFF_PROGRAMS=1`;
//! - `MICA_DIFF_KEEP`: when set, batches that pass are kept too (under
//!   `target/PROFILE/differential/work/`), to look at what the generator
//!   makes.
//!
//! A failing batch is kept under `target/PROFILE/differential/` (its path
//! is in the report, with the command that runs it); so is the failing
//! program alone, with a main class that runs only it.
//!
//! The long run: `MICA_DIFF_PROGRAMS=100000 MICA_DIFF_BATCH=100
//! MICA_DIFF_TIMEOUT=300 cargo test --release --test
//! differential -- --nocapture`.

#[path = "differential/generator.rs"]
mod generator;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use generator::Program;

/// How long one run of one batch may take, in seconds, unless
/// `MICA_DIFF_TIMEOUT` says otherwise (a debug build's JIT compiles some
/// fifteen times slower).
const TIME_LIMIT: u64 = if cfg!(debug_assertions) { 300 } else { 60 };

fn time_limit() -> Duration {
    Duration::from_secs(env_u64("MICA_DIFF_TIMEOUT", TIME_LIMIT))
}

/// Programs per batch, unless `MICA_DIFF_BATCH` says otherwise.
const BATCH: u64 = if cfg!(debug_assertions) { 4 } else { 40 };

/// Programs in all, unless `MICA_DIFF_PROGRAMS` says otherwise: a debug
/// build (plain `cargo test`) runs few, a release build more.
const PROGRAMS: u64 = if cfg!(debug_assertions) { 8 } else { 300 };

/// The seed, unless `MICA_DIFF_SEED` says otherwise.
const DEFAULT_SEED: u64 = 20261202;

/// The oracle.
const INTERPRETER: &[&str] = &["--jit=off"];

/// The modes compared with the interpreter: name and options. The
/// collector stress mode is slow (a collection and a heap check at every
/// allocation), so it runs one program in [`GC_EVERY`] only.
const MODES: &[(&str, &[&str])] = &[
    ("jit", &["--jit=on", "--jit-threshold=2", "--jit-loop-threshold=10", "--jit-background=off"]),
    ("jit-background", &["--jit=on", "--jit-threshold=2", "--jit-loop-threshold=10"]),
    ("eager", &["--jit=eager"]),
    ("gc-stress", &["--gc-stress", "--jit=on", "--jit-threshold=2", "--jit-loop-threshold=10", "--jit-background=off"]),
    (
        "deopt-stress",
        &["--jit=on", "--jit-threshold=2", "--jit-loop-threshold=10", "--jit-background=off", "--jit-deopt-every=3"],
    ),
];

/// `gc-stress` runs the programs whose number is a multiple of this,
/// unless `MICA_DIFF_GC_EVERY` says otherwise.
const GC_EVERY: u64 = 8;

/// At most this many failures are reported; the run stops after them.
const MAX_FAILURES: usize = 5;

/// The name of every batch's main class, and of the one running the
/// programs the slow modes run.
const MAIN: &str = "DiffMain";
const GC_MAIN: &str = "DiffMainSome";

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

/// The modes chosen by `MICA_DIFF_MODES`.
fn modes() -> Vec<(&'static str, &'static [&'static str])> {
    let Ok(names) = std::env::var("MICA_DIFF_MODES") else {
        return MODES.to_vec();
    };
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            *MODES.iter().find(|(name, _)| *name == n).unwrap_or_else(|| {
                let known: Vec<&str> = MODES.iter().map(|m| m.0).collect();
                panic!("MICA_DIFF_MODES: unknown mode {n:?}; the modes are {}", known.join(", "))
            })
        })
        .collect()
}

/// Where generated programs are written: `differential` next to the
/// `mica` binary under test (`target/debug/differential`,
/// `target/release/differential`).
fn out_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_mica"));
    bin.parent().unwrap_or(Path::new(".")).join("differential")
}

/// What one run of a batch produced.
struct Outcome {
    status: Option<i32>,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

impl Outcome {
    /// What went wrong with the process itself, if anything.
    fn failure(&self) -> Option<String> {
        if self.timed_out {
            Some(format!("did not finish within {} s", time_limit().as_secs()))
        } else if self.status != Some(0) {
            Some(match self.status {
                Some(code) => format!("exit status {code}"),
                None => "killed by a signal".to_string(),
            })
        } else {
            None
        }
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    let mut pipe = pipe.expect("piped");
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs `mica OPTIONS -cp DIR MAIN`, stopping it after [`time_limit`].
fn run(options: &[&str], dir: &Path, main: &str) -> Outcome {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mica"))
        .arg("--live=off")
        .args(options)
        .arg("-cp")
        .arg(dir)
        .arg(main)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mica starts");
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait for mica") {
            break (status.code(), false);
        }
        if start.elapsed() > time_limit() {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        thread::sleep(Duration::from_millis(2));
    };
    Outcome {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        timed_out,
    }
}

/// Writes the classes of `programs` and a main class running them into
/// `dir`; and, when `gc_every` is given, a second main class running the
/// programs whose number is a multiple of it.
fn write_batch(dir: &Path, programs: &[&Program], gc_every: Option<u64>) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for program in programs {
        for (name, source) in &program.classes {
            let path = dir.join(format!("{name}.som"));
            std::fs::write(&path, source).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    let path = dir.join(format!("{MAIN}.som"));
    std::fs::write(&path, generator::batch_main(MAIN, programs)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if let Some(every) = gc_every {
        let some: Vec<&Program> = programs.iter().copied().filter(|p| p.index % every == 0).collect();
        let path = dir.join(format!("{GC_MAIN}.som"));
        std::fs::write(&path, generator::batch_main(GC_MAIN, &some))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// The program whose output contains line `line` (0-based) of `output`:
/// the last `program N` header at or before it.
fn program_at(output: &[&str], line: usize) -> Option<u64> {
    output.iter().take(line + 1).filter_map(|l| l.strip_prefix("program ")?.parse().ok()).next_back()
}

/// The lines of `program`'s output in `output` (header excluded).
fn program_lines(output: &str, program: u64) -> Vec<&str> {
    let header = format!("program {program}");
    output
        .lines()
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| !(l.starts_with("program ") && l[8..].parse::<u64>().is_ok()))
        .collect()
}

/// The expected and actual lines of one program next to each other, the
/// differing ones marked; at most a screenful around the first difference.
fn side_by_side(expected: &[&str], actual: &[&str]) -> String {
    let first = (0..expected.len().max(actual.len())).find(|&i| expected.get(i) != actual.get(i)).unwrap_or(0);
    let from = first.saturating_sub(5);
    let to = (first + 10).min(expected.len().max(actual.len()));
    let width = expected[from.min(expected.len())..to.min(expected.len())]
        .iter()
        .map(|l| l.len())
        .max()
        .unwrap_or(0)
        .clamp(8, 60);
    let mut text = format!("    line  {:width$} | actual\n", "interpreter");
    for i in from..to {
        let want = expected.get(i).copied();
        let got = actual.get(i).copied();
        let mark = if want == got { ' ' } else { '*' };
        let show = |line: Option<&str>| line.unwrap_or("<none>").to_string();
        text += &format!("  {mark} {:4}  {:width$} | {}\n", i + 1, show(want), show(got));
    }
    text
}

fn stderr_tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let tail = &lines[lines.len().saturating_sub(12)..];
    if tail.is_empty() { String::new() } else { format!("  stderr (last lines):\n    {}\n", tail.join("\n    ")) }
}

/// Keeps `program` alone, with a main class that runs only it, under
/// `differential/seed-S-program-N` in [`out_dir`]; answers the directory.
fn keep_program(seed: u64, program: &Program) -> PathBuf {
    let dir = out_dir().join(format!("seed-{seed}-program-{}", program.index));
    write_batch(&dir, &[program], None);
    dir
}

/// Compares every mode with the interpreter on one batch; answers the
/// failures, each a report.
fn check_batch(seed: u64, batch: u64, programs: &[Program], modes: &[(&str, &[&str])], gc_every: u64) -> Vec<String> {
    let refs: Vec<&Program> = programs.iter().collect();
    let dir = out_dir().join("work").join(format!("seed-{seed}-batch-{batch}"));
    write_batch(&dir, &refs, Some(gc_every));
    let kept = || {
        let kept = out_dir().join(format!("seed-{seed}-batch-{batch}"));
        let _ = std::fs::remove_dir_all(&kept);
        let _ = std::fs::rename(&dir, &kept);
        kept
    };
    let find = |index: u64| programs.iter().find(|p| p.index == index);
    let oracle = run(INTERPRETER, &dir, MAIN);
    if let Some(problem) = oracle.failure() {
        let lines: Vec<&str> = oracle.stdout.lines().collect();
        let at = program_at(&lines, lines.len().saturating_sub(1));
        let alone = at.and_then(find).map(|p| keep_program(seed, p));
        let kept = kept();
        return vec![format!(
            "the interpreter failed on batch {batch} (seed {seed}): {problem}, in program {at:?}\n  batch: {}\n  \
             program alone: {alone:?}\n{}",
            kept.display(),
            stderr_tail(&oracle.stderr)
        )];
    }
    let mut problems = Vec::new();
    // Every program printed its header and something after it.
    for p in programs {
        if program_lines(&oracle.stdout, p.index).is_empty() {
            problems.push(format!("program {} (seed {seed}) printed nothing under the interpreter", p.index));
        }
    }
    let all: Vec<&str> = oracle.stdout.lines().collect();
    let mut some = Vec::new();
    for p in programs.iter().filter(|p| p.index % gc_every == 0) {
        some.push(format!("program {}", p.index));
        some.extend(program_lines(&oracle.stdout, p.index).into_iter().map(String::from));
    }
    let some: Vec<&str> = some.iter().map(String::as_str).collect();
    for (name, options) in modes {
        let (main, expected) = if *name == "gc-stress" { (GC_MAIN, &some) } else { (MAIN, &all) };
        if expected.is_empty() {
            continue;
        }
        let outcome = run(options, &dir, main);
        let actual: Vec<&str> = outcome.stdout.lines().collect();
        let differs = (0..expected.len().max(actual.len())).find(|&i| expected.get(i) != actual.get(i));
        if outcome.failure().is_none() && differs.is_none() {
            continue;
        }
        let line = differs.unwrap_or(actual.len().saturating_sub(1));
        let index = program_at(&actual, line).or_else(|| program_at(expected, line));
        let (detail, alone) = match index.and_then(find) {
            Some(p) => {
                let want = program_lines(&oracle.stdout, p.index);
                let got = program_lines(&outcome.stdout, p.index);
                (side_by_side(&want, &got), Some(keep_program(seed, p)))
            }
            None => (side_by_side(expected, &actual), None),
        };
        let what = outcome.failure().unwrap_or_else(|| "output differs".to_string());
        problems.push(format!(
            "mode {name} (`mica {}`) on program {} of seed {seed}: {what}\n{detail}{}  program alone: {}\n  \
             run it: mica {} -cp {} {MAIN}\n  (the interpreter: mica --jit=off -cp ... {MAIN})\n",
            options.join(" "),
            index.map_or("?".to_string(), |i| i.to_string()),
            stderr_tail(&outcome.stderr),
            alone.as_ref().map_or("-".to_string(), |d| d.display().to_string()),
            options.join(" "),
            alone.as_ref().map_or(dir.display().to_string(), |d| d.display().to_string()),
        ));
    }
    if problems.is_empty() {
        if std::env::var_os("MICA_DIFF_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    } else {
        let kept = kept();
        problems.push(format!("  the whole batch {batch} is kept in {}", kept.display()));
    }
    problems
}

#[test]
fn modes_agree_with_the_interpreter() {
    let total = env_u64("MICA_DIFF_PROGRAMS", PROGRAMS);
    let seed = env_u64("MICA_DIFF_SEED", DEFAULT_SEED);
    let first = env_u64("MICA_DIFF_FIRST", 0);
    let batch_size = env_u64("MICA_DIFF_BATCH", BATCH).max(1);
    let gc_every = env_u64("MICA_DIFF_GC_EVERY", GC_EVERY).max(1);
    let jobs = env_u64("MICA_DIFF_JOBS", thread::available_parallelism().map_or(2, |n| n.get() as u64)).max(1);
    let modes = modes();
    let batches = total.div_ceil(batch_size);
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let failures = Mutex::new(Vec::new());
    let start = Instant::now();
    let names: Vec<&str> = modes.iter().map(|m| m.0).collect();
    eprintln!(
        "differential: {total} programs from {first}, seed {seed}, batches of {batch_size}, {jobs} at once; \
         the interpreter against {}",
        names.join(", ")
    );
    thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let batch = next.fetch_add(1, Ordering::SeqCst);
                    if batch >= batches || stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let from = first + batch * batch_size;
                    let to = (from + batch_size).min(first + total);
                    let programs: Vec<Program> = (from..to).map(|i| generator::program(seed, i)).collect();
                    let problems = check_batch(seed, batch, &programs, &modes, gc_every);
                    let count = done.fetch_add(to - from, Ordering::SeqCst) + (to - from);
                    if !problems.is_empty() {
                        let report = problems.join("\n");
                        eprintln!("\n{report}\n");
                        let mut failures = failures.lock().expect("failures");
                        failures.push(report);
                        if failures.len() >= MAX_FAILURES {
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                    if batch % 10 == 9 {
                        eprintln!("differential: {count} programs in {:.0?}", start.elapsed());
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().expect("failures");
    eprintln!(
        "differential: {} programs checked in {:.1?}, {} failing batches",
        done.load(Ordering::SeqCst),
        start.elapsed(),
        failures.len()
    );
    assert!(failures.is_empty(), "{} batches failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// The generator makes varied programs: the default seed's programs use
/// every construct the differential test is meant to exercise, and differ
/// from one another.
#[test]
fn generator_is_varied() {
    let programs: Vec<Program> = (0..60).map(|i| generator::program(DEFAULT_SEED, i)).collect();
    let sources: Vec<String> = programs.iter().map(Program::source).collect();
    let all = sources.join("\n");
    let wanted = [
        ("a polymorphic send", " val: "),
        ("a super send", "super val: n"),
        ("a class hierarchy", "A ("),
        ("a block with an argument", "[ :x"),
        ("a block stored and valued later", "kept value"),
        ("a non-local return from a block", "ifTrue: [ ^"),
        ("a non-local return from a block valued in a callee", "self each: [ :v | ^"),
        ("an edit while running", " compile: 'hot: x"),
        ("an edit in the hierarchy", " compile: 'val: n"),
        ("a method removed", "removeSelector:"),
        ("a SmallInteger edge", "4611686018427387903"),
        ("a large integer", "18446744073709551616"),
        ("a shift", " << "),
        ("integer division", " / "),
        ("modulo", " % "),
        ("rem:", " rem: "),
        ("bit operations", " bitXor: "),
        ("a double", "3.14159"),
        ("Integer // (a Double)", " // "),
        ("whileTrue:", "whileTrue:"),
        ("to:do:", " to: "),
        ("timesRepeat:", "timesRepeat:"),
        ("do: over an array", "#("),
        ("a string", "concatenate:"),
        ("recursion", "self rec: n - 1"),
        ("a cascade", "; printNewline"),
    ];
    let missing: Vec<&str> = wanted.iter().filter(|(_, text)| !all.contains(text)).map(|(what, _)| *what).collect();
    assert!(missing.is_empty(), "the default seed's programs lack: {}", missing.join(", "));
    let mut distinct = sources.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), sources.len(), "some generated programs are the same");
    let short = sources.iter().filter(|s| s.lines().count() < 30).count();
    assert!(short < sources.len() / 10, "{short} of {} programs are under 30 lines", sources.len());
    // Made again from the same seed, a program is the same.
    assert_eq!(generator::program(DEFAULT_SEED, 7).source(), sources[7]);
}

//! Language tests: every `tests/lang/*.som` file is a SOM program that
//! carries its own expectations in its leading comment, and this harness
//! runs each one with `mica -cp tests/lang FILE [ARGS]` and checks them.
//!
//! The header reads:
//!
//! ```text
//! "
//! status: 1
//! args: a b c
//! stdout:
//!     line one
//!     line two
//! stderr contains: some text
//! "
//! ```
//!
//! - `status:` the exact exit code (0 when absent);
//! - `args:` words passed to the program after the file (none when absent);
//! - `stdout:` the lines that follow, up to the next key or the closing
//!   quote, with their common indentation removed and trailing blank lines
//!   dropped, must be exactly the program's output; text on the key's own
//!   line is the first line. An empty or absent `stdout:` means no output;
//! - `stderr contains:` a piece of text that must appear in the program's
//!   error output (the key may repeat).
//!
//! Keys start at the beginning of a line; expected output lines are
//! indented. Lines before the first key describe the test (they must not
//! contain a colon, or they would read as a key).
//!
//! The same files run in every execution mode with the same expectations:
//! `interpreter` (`--jit=off`), `jit_tiered` (the default, with low
//! thresholds), `jit_baseline` (the same without inlining),
//! `jit_tiered_waiting` (the program waiting for each method's code),
//! `jit_eager` (every method compiled), `deopt_stress`
//! (low thresholds, every third guard of native code failing) and `gc_stress`
//! (`--gc-stress` with the JIT on: a collection at every allocation and a
//! heap check) and `gc_stress_interpreter` (the same, interpreter only). A file may be a helper that other tests
//! load from the class path; it is still run on its own, so it has a `run`
//! method and a header too. Files under `tests/lang/pending/` are not run:
//! their expectations are right but Mica does not meet them yet. Every
//! failure is reported, with the file, what was expected and what happened,
//! before the test fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long one program may run before it is stopped and counted as failed.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// What a test file expects of its run.
#[derive(Debug, Default)]
struct Expectation {
    status: i32,
    args: Vec<String>,
    stdout: Vec<String>,
    stderr_contains: Vec<String>,
}

/// What a run produced.
struct Outcome {
    status: Option<i32>,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

/// Reads the expectations from the comment that opens `source`.
fn parse_header(source: &str) -> Result<Expectation, String> {
    let body = source.trim_start().strip_prefix('"').ok_or("the file does not open with a comment")?;
    let end = body.find('"').ok_or("the opening comment is not closed")?;
    let mut expect = Expectation::default();
    let mut stdout_block: Option<Vec<&str>> = None;
    let mut stdout_seen = false;
    let mut keys_seen = false;
    for line in body[..end].lines() {
        let key = if line.starts_with(char::is_whitespace) { None } else { line.split_once(':') };
        let Some((key, value)) = key else {
            match stdout_block.as_mut() {
                Some(block) => block.push(line),
                None if line.trim().is_empty() || !keys_seen => {}
                None => return Err(format!("a line outside any key: {line:?}")),
            }
            continue;
        };
        keys_seen = true;
        if let Some(block) = stdout_block.take() {
            expect.stdout.extend(dedent(&block));
        }
        let value = value.trim();
        match key {
            "status" => expect.status = value.parse().map_err(|_| format!("status is not a number: {value:?}"))?,
            "args" => expect.args = value.split_whitespace().map(String::from).collect(),
            "stderr contains" if value.is_empty() => return Err("`stderr contains:` needs some text".into()),
            "stderr contains" => expect.stderr_contains.push(value.to_string()),
            "stdout" if stdout_seen => return Err("`stdout:` is given twice".into()),
            "stdout" => {
                stdout_seen = true;
                if !value.is_empty() {
                    expect.stdout.push(value.to_string());
                }
                stdout_block = Some(Vec::new());
            }
            _ => return Err(format!("unknown key {key:?}")),
        }
    }
    if let Some(block) = stdout_block {
        expect.stdout.extend(dedent(&block));
    }
    Ok(expect)
}

/// The lines with their common indentation (spaces and tabs) removed and
/// trailing blank lines dropped.
fn dedent(lines: &[&str]) -> Vec<String> {
    let end = lines.iter().rposition(|l| !l.trim().is_empty()).map_or(0, |i| i + 1);
    let lines = &lines[..end];
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    lines.iter().map(|l| if l.trim().is_empty() { String::new() } else { l[indent..].to_string() }).collect()
}

/// The test files, sorted by name.
fn test_files(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "som"))
        .collect();
    files.sort();
    files
}

/// Reads all of a child's pipe on a thread, so that a chatty program cannot
/// block on a full pipe while the harness waits for it.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    let mut pipe = pipe.expect("piped");
    thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes).expect("read from mica");
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Waits for `child`, stopping it once it has run longer than [`TIME_LIMIT`].
fn wait(mut child: Child) -> (Option<i32>, bool) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for mica") {
            return (status.code(), false);
        }
        if start.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return (None, true);
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `mica MODE -cp DIR FILE ARGS` from the package's directory.
fn run(mode: &[&str], dir: &Path, file: &Path, args: &[String]) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mica"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(mode)
        .arg("-cp")
        .arg(dir)
        .arg(file)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mica starts");
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let (status, timed_out) = wait(child);
    Outcome {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        timed_out,
    }
}

/// What is wrong with `outcome`, or nothing.
fn check(expect: &Expectation, outcome: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    if outcome.timed_out {
        problems.push(format!("did not finish within {} s", TIME_LIMIT.as_secs()));
    } else if outcome.status != Some(expect.status) {
        let actual = outcome.status.map_or("killed by a signal".to_string(), |s| s.to_string());
        problems.push(format!("status: expected {}, got {actual}", expect.status));
    }
    let actual: Vec<&str> = outcome.stdout.lines().collect();
    if actual != expect.stdout {
        problems.push(format!("stdout:\n{}", side_by_side(&expect.stdout, &actual)));
    }
    for text in &expect.stderr_contains {
        if !outcome.stderr.contains(text.as_str()) {
            problems.push(format!("stderr does not contain {text:?}"));
        }
    }
    if !problems.is_empty() && !outcome.stderr.is_empty() {
        let tail: Vec<&str> = outcome.stderr.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        problems.push(format!("stderr (last lines):\n        {}", tail.join("\n        ")));
    }
    problems
}

/// Expected and actual lines next to each other, the differing ones marked.
fn side_by_side(expected: &[String], actual: &[&str]) -> String {
    let width = expected.iter().map(|l| l.len()).max().unwrap_or(0).max(8);
    let mut text = format!("      {:width$} | actual\n", "expected");
    for i in 0..expected.len().max(actual.len()) {
        let want = expected.get(i).map(String::as_str);
        let got = actual.get(i).copied();
        let mark = if want == got { ' ' } else { '*' };
        let show = |line: Option<&str>| line.map_or("<none>".to_string(), |l| l.to_string());
        text += &format!("    {mark} {:width$} | {}\n", show(want), show(got));
    }
    text
}

/// Runs every test file in `mode` and fails with a report of every failure.
fn run_all(mode: &[&str]) {
    let dir = Path::new("tests/lang");
    let files = test_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir));
    assert!(!files.is_empty(), "no .som files in {}", dir.display());
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().expect("file name").to_string_lossy().into_owned();
        let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let problems = match parse_header(&source) {
            Ok(expect) => check(&expect, &run(mode, dir, &dir.join(&name), &expect.args)),
            Err(e) => vec![format!("bad header: {e}")],
        };
        if !problems.is_empty() {
            failures.push(format!("{name}:\n  {}", problems.join("\n  ")));
        }
    }
    let command = ["mica"].iter().chain(mode).copied().collect::<Vec<_>>().join(" ");
    assert!(
        failures.is_empty(),
        "{} of {} language tests failed under `{command}`:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn interpreter() {
    run_all(&["--jit=off"]);
}

/// The default: methods are compiled when they get hot (low thresholds here,
/// so that the tests do reach native code, loop entry included), on another
/// thread, and their code comes in whenever it is ready.
#[test]
fn jit_tiered() {
    run_all(&["--jit=on", "--jit-threshold=2", "--jit-loop-threshold=3"]);
}

/// The baseline tier alone (low thresholds): compiled methods inline no
/// callee and no block, so every send is the baseline's call.
#[test]
fn jit_baseline() {
    run_all(&["--jit=baseline", "--jit-threshold=2", "--jit-loop-threshold=3"]);
}

/// Tiered, with the program waiting for each method's code: the code comes
/// in at the very activation or loop iteration that made the method hot.
#[test]
fn jit_tiered_waiting() {
    run_all(&["--jit=on", "--jit-threshold=2", "--jit-loop-threshold=3", "--jit-background=off"]);
}

/// Every method compiled before it first runs.
#[test]
fn jit_eager() {
    run_all(&["--jit=eager"]);
}

/// Deoptimisation stress: methods compiled early (low thresholds, the
/// program waiting for the code), and every third guard of native code
/// fails as if its check had, so the code leaves to the interpreter where
/// it would on a real miss.
#[test]
fn deopt_stress() {
    run_all(&[
        "--jit=on",
        "--jit-threshold=2",
        "--jit-loop-threshold=3",
        "--jit-background=off",
        "--jit-deopt-every=3",
    ]);
}

/// Collection at every allocation, with native code running.
#[test]
fn gc_stress() {
    run_all(&["--gc-stress", "--jit=eager"]);
}

/// Collection at every allocation, interpreter only: the interpreter's own
/// roots and barriers, with no native code to hide them.
#[test]
fn gc_stress_interpreter() {
    run_all(&["--gc-stress", "--jit=off"]);
}

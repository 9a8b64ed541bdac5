//! One run: a fresh process, its output read back from files (so a
//! chatty benchmark cannot block on a full pipe), a time limit, the
//! harness's per-iteration lines parsed and Mica's stats channel read.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::channel;
use super::model::{Column, ColumnKind, Run, Status};
use super::targets::Spec;

/// The per-iteration times (µs) the harness printed for `name`: lines
/// `NAME: iterations=1 runtime: Tus`.
pub fn iteration_times(output: &str, name: &str) -> Vec<f64> {
    let prefix = format!("{name}: iterations=");
    output
        .lines()
        .filter_map(|l| l.trim().strip_prefix(&prefix))
        .filter_map(|rest| rest.split_once("runtime: "))
        .filter_map(|(_, t)| t.trim().strip_suffix("us"))
        .filter_map(|t| t.trim().parse::<f64>().ok())
        .collect()
}

/// The last lines of `text`, for a failure's message.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs `spec` in `column` for `iterations` iterations, with scratch
/// files in `work`.
pub fn run(spec: &Spec, column: &Column, round: u32, iterations: u32, timeout: Duration, work: &Path) -> Run {
    let stats_path = work.join("stats.json");
    let (out_path, err_path) = (work.join("stdout"), work.join("stderr"));
    let _ = std::fs::remove_file(&stats_path);
    let failed = |message: String, wall_ms: f64| Run {
        column: column.name.clone(),
        round,
        status: Status::Failed { message },
        wall_ms,
        iterations_us: Vec::new(),
        stats: None,
    };
    let mut cmd: Command = match spec.command(column, iterations, &stats_path) {
        Ok(c) => c,
        Err(e) => return failed(e, 0.0),
    };
    let (out, err) = match (std::fs::File::create(&out_path), std::fs::File::create(&err_path)) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            return failed(format!("cannot make scratch files in {}: {e}", work.display()), 0.0);
        }
    };
    let start = Instant::now();
    let mut child = match cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn() {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot start {}: {e}", column.command.join(" ")), 0.0),
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return failed(format!("cannot wait for the run: {e}"), 0.0),
        }
    };
    let wall_ms = start.elapsed().as_secs_f64() * 1e3;
    let stdout = String::from_utf8_lossy(&std::fs::read(&out_path).unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default()).into_owned();
    let Some(status) = status else {
        return failed(format!("took longer than {} s (--timeout)", timeout.as_secs()), wall_ms);
    };
    let times = iteration_times(&stdout, &spec.name);
    let problem = if !status.success() {
        Some(match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => "was killed by a signal".to_string(),
        })
    } else if times.len() != iterations as usize {
        Some(format!("printed {} of {iterations} iteration times", times.len()))
    } else {
        None
    };
    if let Some(problem) = problem {
        let output = tail(&format!("{stdout}\n{stderr}"), 6);
        return failed(if output.is_empty() { problem } else { format!("{problem}: {output}") }, wall_ms);
    }
    let stats = match column.kind {
        ColumnKind::Mica => match channel::read(&stats_path) {
            Ok(s) => Some(s),
            Err(e) => return failed(format!("no stats from the run: {e}"), wall_ms),
        },
        ColumnKind::OtherVm => None,
    };
    Run { column: column.name.clone(), round, status: Status::Ok, wall_ms, iterations_us: times, stats }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_harness_lines_are_read_and_nothing_else() {
        let out = "Starting Sieve benchmark ...\nSieve: iterations=1 runtime: 1200us\nSieve: iterations=1 runtime: 900us\n\
                   Other: iterations=1 runtime: 5us\nSieve: iterations=1 average: 1050us total: 2100us\nTotal Runtime: 2100us\n";
        assert_eq!(iteration_times(out, "Sieve"), [1200.0, 900.0]);
        assert!(iteration_times("garbage\n", "Sieve").is_empty());
    }
}

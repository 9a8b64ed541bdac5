//! The cost of the language's run-time machinery, in every execution
//! mode: signalling and handling exceptions, handlers and unwind blocks on
//! paths that do not signal, and process switches.
//!
//! Runs the programs in `benches/programs/` (each prints `name count ms`
//! lines) with `--jit=off`, `on` and `eager`, interleaved round by round
//! so that machine noise falls on every mode alike, keeps each
//! measurement's best round, and prints a table of rates.
//!
//! `cargo bench --bench language [-- ROUNDS]` (3 rounds by default).

use std::collections::BTreeMap;
use std::process::Command;

const PROGRAMS: [&str; 2] = ["benches/programs/ExceptionsBench.som", "benches/programs/PingPong.som"];
const MODES: [&str; 3] = ["off", "on", "eager"];

/// One run: `(measure, count, milliseconds)` for each line printed.
fn run(mode: &str, program: &str) -> Vec<(String, u64, f64)> {
    let out = Command::new(env!("CARGO_BIN_EXE_mica"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg(format!("--jit={mode}"))
        .arg(program)
        .output()
        .expect("mica runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{program} --jit={mode} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?.to_string();
            let count = words.next()?.parse().ok()?;
            let ms = words.next()?.parse().ok()?;
            Some((name, count, ms))
        })
        .collect()
}

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(3);
    // (measure, mode) -> (count, best ms); measures in the order printed.
    let mut best: BTreeMap<(String, &str), (u64, f64)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for _ in 0..rounds {
        for program in PROGRAMS {
            for mode in MODES {
                for (name, count, ms) in run(mode, program) {
                    if !order.contains(&name) {
                        order.push(name.clone());
                    }
                    let entry = best.entry((name, mode)).or_insert((count, f64::INFINITY));
                    entry.1 = entry.1.min(ms.max(0.001));
                }
            }
        }
    }
    println!("best of {rounds} rounds; rates in millions per second (and ns each)");
    print!("{:<20}{:>12}", "measure", "count");
    for mode in MODES {
        print!("{:>22}", format!("--jit={mode}"));
    }
    println!();
    for name in &order {
        let count = best.get(&(name.clone(), MODES[0])).map_or(0, |e| e.0);
        print!("{name:<20}{count:>12}");
        for mode in MODES {
            match best.get(&(name.clone(), mode)) {
                Some(&(count, ms)) => {
                    let per_second = count as f64 / (ms / 1000.0);
                    let ns = ms * 1e6 / count as f64;
                    print!("{:>22}", format!("{:.2} M/s ({ns:.0} ns)", per_second / 1e6));
                }
                None => print!("{:>22}", "-"),
            }
        }
        println!();
    }
}

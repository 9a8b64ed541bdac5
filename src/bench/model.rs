//! What a benchmark run measured (`results.json`, every raw measurement)
//! and the figures made from it: per benchmark and column, the
//! steady-state median with its confidence interval, the first iteration,
//! the speed-up over the interpreter and the VM's own counters; and the
//! change between two runs.
//!
//! A *column* is one way of running the benchmarks: a JIT mode of this
//! Mica (`off`, `on`, `eager`) or another VM given with `--vm NAME=COMMAND`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The version of the `results.json` layout.
pub const FORMAT: u32 = 1;

/// Everything one `mica bench` run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// [`FORMAT`].
    pub format: u32,
    /// The version of the Mica that ran the benchmarks.
    pub mica_version: String,
    /// When the run began (UTC, `YYYY-MM-DDTHH:MM:SSZ`).
    pub started: String,
    /// The machine it ran on.
    pub machine: Machine,
    /// How it was run.
    pub settings: Settings,
    /// One entry per benchmark, in the order run.
    pub benchmarks: Vec<Benchmark>,
}

/// The machine a run was made on.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Machine {
    /// `linux`, ...
    pub os: String,
    /// `x86_64`, `aarch64`, ...
    pub arch: String,
    /// Processors available to the run.
    pub cpus: usize,
    /// The processor's model name, when the system tells it.
    pub cpu_model: String,
    /// Memory of the machine in bytes (0 if unknown).
    pub memory_bytes: u64,
}

/// The options of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    /// The command line of `mica bench`.
    pub command: Vec<String>,
    /// The targets (empty: Mica's own suite).
    pub targets: Vec<String>,
    /// The columns, in the order shown.
    pub columns: Vec<Column>,
    /// Iterations per process.
    pub iterations: u32,
    /// Fresh processes per benchmark and column.
    pub rounds: u32,
    /// `--size`, when given (else each benchmark's own).
    pub size: Option<u64>,
    /// `--only`, when given.
    pub only: Vec<String>,
}

/// One way of running the benchmarks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// `off`, `on`, `eager` or the name given to `--vm`.
    pub name: String,
    /// A JIT mode of this Mica, or another VM.
    pub kind: ColumnKind,
    /// The command a run starts with (benchmark arguments follow).
    pub command: Vec<String>,
}

/// What a column runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// This Mica in one JIT mode; its runs carry [`VmStats`].
    Mica,
    /// Another VM (`--vm`), run on the same harness; times only.
    OtherVm,
}

/// One benchmark's runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Benchmark {
    /// The benchmark's name (its class).
    pub name: String,
    /// Where it comes from: `mica` (the built-in suite), `awfy:DIR` or the
    /// `.som` file.
    pub suite: String,
    /// The size it ran at (the harness's inner iterations or problem size).
    pub size: u64,
    /// Every process run, in the order run.
    pub runs: Vec<Run>,
}

/// One process: a benchmark in one column, one round.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    /// The column's name.
    pub column: String,
    /// The round (from 0).
    pub round: u32,
    /// Whether it ran and verified.
    pub status: Status,
    /// The process's wall-clock time, start-up included (ms).
    pub wall_ms: f64,
    /// Each iteration's time as the harness measured it (µs), in order.
    pub iterations_us: Vec<f64>,
    /// The VM's counters at exit (Mica columns only).
    pub stats: Option<VmStats>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// It ran every iteration and verified its result.
    Ok,
    /// It failed: a wrong result, an error, a crash, a timeout.
    Failed {
        /// What went wrong (the last lines of its output).
        message: String,
    },
}

/// The counters a Mica process reports at exit through its stats channel
/// (`--stats-json=FILE`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VmStats {
    /// Time spent compiling to native code (ms).
    pub compile_ms: f64,
    /// Methods compiled to native code.
    pub methods_compiled: u64,
    /// Bytes of native code.
    pub code_bytes: u64,
    /// Inline-cache hits and misses, by the state each send site ended in.
    pub ic: IcStats,
    /// Deoptimisations by reason.
    pub deopts: BTreeMap<String, u64>,
    /// Young-generation collections.
    pub gc_young: u64,
    /// Full collections.
    pub gc_full: u64,
    /// Time spent collecting (ms).
    pub gc_ms: f64,
    /// Bytes allocated.
    pub bytes_allocated: u64,
    /// The process's peak resident set (bytes).
    pub peak_rss_bytes: u64,
}

/// Inline-cache lookups, by the state their send site ended in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IcStats {
    /// Hits at monomorphic sites.
    pub mono_hits: u64,
    /// Misses at monomorphic sites.
    pub mono_misses: u64,
    /// Hits at polymorphic sites.
    pub poly_hits: u64,
    /// Misses at polymorphic sites.
    pub poly_misses: u64,
    /// Hits at megamorphic sites.
    pub mega_hits: u64,
    /// Misses at megamorphic sites.
    pub mega_misses: u64,
}

impl IcStats {
    /// The share of lookups that hit, over every site (`None` if there
    /// were none).
    pub fn hit_rate(&self) -> Option<f64> {
        let hits = self.mono_hits + self.poly_hits + self.mega_hits;
        let all = hits + self.mono_misses + self.poly_misses + self.mega_misses;
        (all > 0).then(|| hits as f64 / all as f64)
    }

    /// The hit rates at monomorphic, polymorphic and megamorphic sites.
    pub fn hit_rates(&self) -> [Option<f64>; 3] {
        let rate = |h: u64, m: u64| (h + m > 0).then(|| h as f64 / (h + m) as f64);
        [
            rate(self.mono_hits, self.mono_misses),
            rate(self.poly_hits, self.poly_misses),
            rate(self.mega_hits, self.mega_misses),
        ]
    }
}

impl VmStats {
    /// Deoptimisations of every reason.
    pub fn deopt_count(&self) -> u64 {
        self.deopts.values().sum()
    }
}

/// A time with its 95% confidence interval (ms).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The median.
    pub median: f64,
    /// The interval's lower end.
    pub lo: f64,
    /// The interval's upper end.
    pub hi: f64,
    /// Measurements it is made from.
    pub n: usize,
    /// Too noisy (or too few measurements) to trust: see
    /// [`super::stats::NOISY`].
    pub noisy: bool,
}

/// A ratio with its interval (a speed-up, or new time over old).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// The ratio of the medians.
    pub value: f64,
    /// The smallest ratio the intervals allow.
    pub lo: f64,
    /// The largest.
    pub hi: f64,
}

/// The figures of a run: one row per benchmark, one cell per column.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// The column names, in order.
    pub columns: Vec<String>,
    /// One row per benchmark.
    pub rows: Vec<Row>,
    /// Per column: the geometric mean over the benchmarks every column ran.
    pub geomean: Vec<GeoMean>,
}

/// One benchmark's figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// The benchmark.
    pub benchmark: String,
    /// One per column, in [`Summary::columns`]' order.
    pub cells: Vec<Cell>,
}

/// One benchmark in one column.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Cell {
    /// Why it has no figures (the first failed run's message).
    pub failed: Option<String>,
    /// Steady state: the iterations of the second half of every run
    /// (all of them when a run has one), over all rounds.
    pub steady: Option<Estimate>,
    /// The first iteration (compilation included): median over rounds (ms).
    pub first_ms: Option<f64>,
    /// The interpreter's (`off`) steady median over this one's.
    pub speedup: Option<Ratio>,
    /// Compile time, median over rounds (ms).
    pub compile_ms: Option<f64>,
    /// Methods compiled (median over rounds).
    pub methods_compiled: Option<u64>,
    /// Inline-cache hit rate over all sites, and by site state
    /// (mono/poly/mega), from the last round.
    pub ic_hit_rate: Option<f64>,
    /// Hit rates at monomorphic, polymorphic and megamorphic sites.
    pub ic_hit_rates: [Option<f64>; 3],
    /// Deoptimisations (median over rounds).
    pub deopts: Option<u64>,
    /// Collector time, median over rounds (ms).
    pub gc_ms: Option<f64>,
    /// Peak resident set, largest over rounds (bytes).
    pub peak_rss_bytes: Option<u64>,
}

/// A column's geometric means.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GeoMean {
    /// The column.
    pub column: String,
    /// Of the steady medians (ms).
    pub steady_ms: Option<f64>,
    /// Of the speed-ups over `off`.
    pub speedup: Option<f64>,
    /// Benchmarks it is over.
    pub n: usize,
}

/// The change between two runs (`mica bench --compare OLD NEW`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Comparison {
    /// Where the old run was read from.
    pub old_name: String,
    /// Where the new one was.
    pub new_name: String,
    /// One entry per benchmark and column both runs have.
    pub entries: Vec<Change>,
    /// Per column: the geometric mean of new over old.
    pub geomean: Vec<(String, f64)>,
}

/// One benchmark in one column, old against new.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Change {
    /// The benchmark.
    pub benchmark: String,
    /// The column.
    pub column: String,
    /// The old run's steady state.
    pub old: Estimate,
    /// The new run's.
    pub new: Estimate,
    /// New over old (below 1: faster).
    pub ratio: Ratio,
    /// What the intervals say.
    pub verdict: Verdict,
}

/// Whether a change is real.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The new interval lies wholly below the old one.
    Faster,
    /// Wholly above.
    Slower,
    /// The intervals overlap: no change shown.
    Same,
}

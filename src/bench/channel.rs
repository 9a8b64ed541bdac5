//! The stats channel: what a Mica process run with `--stats-json=FILE`
//! writes at exit, and what the benchmark runner reads back — the
//! [`VmStats`] of the model, one JSON object, written whole (to a
//! temporary file renamed into place) so a reader never sees half of it.

use std::path::Path;

use interp::Interpreter;
use vm::runtime::IcState;

use super::model::{IcStats, VmStats};

/// The counters of `interp` now.
pub fn collect(interp: &Interpreter) -> VmStats {
    let ic = interp.ic_counts();
    let state = |s: IcState| ic[s as usize];
    let (mono, poly, mega) = (state(IcState::Monomorphic), state(IcState::Polymorphic), state(IcState::Megamorphic));
    let gc = interp.u.gc_stats();
    let jit = interp.jit_figures().unwrap_or_default();
    VmStats {
        compile_ms: jit.compile_time.as_secs_f64() * 1e3,
        methods_compiled: jit.compiled,
        code_bytes: jit.code_bytes,
        ic: IcStats {
            mono_hits: mono.0,
            mono_misses: mono.1,
            poly_hits: poly.0,
            poly_misses: poly.1,
            mega_hits: mega.0,
            mega_misses: mega.1,
        },
        deopts: interp.u.deoptimizations.nonzero().map(|(r, n)| (r.text().to_string(), n)).collect(),
        gc_young: gc.young_collections,
        gc_full: gc.full_collections,
        gc_ms: gc.gc_time.as_secs_f64() * 1e3,
        bytes_allocated: gc.bytes_allocated,
        peak_rss_bytes: peak_rss(),
    }
}

/// The peak resident set of this process (bytes; 0 where the system does
/// not tell).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Writes the counters of `interp` to `path`.
pub fn write(path: &Path, interp: &Interpreter) -> Result<(), String> {
    let text = serde_json::to_string(&collect(interp)).map_err(|e| e.to_string())?;
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text + "\n")
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| format!("{}: cannot write the stats: {e}", path.display()))
}

/// Reads what a process wrote to `path`.
pub fn read(path: &Path) -> Result<VmStats, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not a stats file: {e}", path.display()))
}

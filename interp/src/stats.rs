//! `--stats`: the hottest methods with their counters, and inline-cache
//! states, printed at exit.

use std::fmt::Write;

use vm::runtime::IcState;

use crate::Interpreter;

impl Interpreter {
    /// A report of the `top` hottest methods and of every inline cache.
    pub fn stats_report(&self, top: usize) -> String {
        let mut out = String::new();
        let mut rts: Vec<_> = self.u.runtimes.iter().collect();
        rts.sort_by_key(|rt| std::cmp::Reverse(rt.invocations + rt.backedges));
        let _ = writeln!(out, "hottest methods (invocations, loop back-edges, send sites: mono/poly/mega/unused):");
        for rt in rts.iter().take(top) {
            let mut sites = [0usize; 4];
            for ic in rt.ics.iter() {
                sites[ic.state() as usize] += 1;
            }
            let _ = writeln!(
                out,
                "  {:>12} {:>12}  {}/{}/{}/{}  {}",
                rt.invocations,
                rt.backedges,
                sites[IcState::Monomorphic as usize],
                sites[IcState::Polymorphic as usize],
                sites[IcState::Megamorphic as usize],
                sites[IcState::Empty as usize],
                self.method_name(rt.method)
            );
        }
        let mut counts = [0usize; 4];
        let (mut hits, mut misses) = (0u64, 0u64);
        for rt in &self.u.runtimes {
            for ic in rt.ics.iter() {
                counts[ic.state() as usize] += 1;
                hits += ic.hits;
                misses += ic.misses;
            }
        }
        let total = (hits + misses).max(1);
        let _ = writeln!(
            out,
            "inline caches: {} empty, {} monomorphic, {} polymorphic, {} megamorphic; {hits} hits, {misses} misses ({:.2}% hits)",
            counts[IcState::Empty as usize],
            counts[IcState::Monomorphic as usize],
            counts[IcState::Polymorphic as usize],
            counts[IcState::Megamorphic as usize],
            100.0 * hits as f64 / total as f64
        );
        let total = self.u.deoptimizations.total();
        let reasons: Vec<String> = self.u.deoptimizations.nonzero().map(|(r, n)| format!("{n} because {r}")).collect();
        let _ = writeln!(
            out,
            "deoptimisations: {total}{}",
            if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) }
        );
        // Where: the methods whose code was thrown away most often.
        const SITES_SHOWN: usize = 10;
        let sites = self.u.deoptimizations.sites();
        for &(reason, rt, n) in sites.iter().take(SITES_SHOWN) {
            let name = self.method_name(self.u.runtime(rt).method);
            let _ = writeln!(out, "  {n:>6} {name} ({reason})");
        }
        if sites.len() > SITES_SHOWN {
            let _ = writeln!(out, "  ... and {} more", sites.len() - SITES_SHOWN);
        }
        let gc = self.u.gc_stats();
        let _ = writeln!(
            out,
            "gc: {} young, {} full collections, {:.1} ms, {} bytes allocated, {} promoted",
            gc.young_collections,
            gc.full_collections,
            gc.gc_time.as_secs_f64() * 1e3,
            gc.bytes_allocated,
            gc.bytes_promoted
        );
        if let Some(line) = self.process_report() {
            let _ = writeln!(out, "{line}");
        }
        out
    }

    /// Inline-cache hits and misses summed by the state each send site
    /// is in now, indexed by `IcState as usize`. Counted by the
    /// interpreter's sends (native code's sends that miss its inline
    /// guards come back to the interpreter and count; its hits do not).
    pub fn ic_counts(&self) -> [(u64, u64); 4] {
        let mut counts = [(0u64, 0u64); 4];
        for rt in &self.u.runtimes {
            for ic in rt.ics.iter() {
                let c = &mut counts[ic.state() as usize];
                c.0 += ic.hits;
                c.1 += ic.misses;
            }
        }
        counts
    }
}

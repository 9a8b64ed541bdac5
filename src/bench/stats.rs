//! From raw measurements to figures: medians with distribution-free 95%
//! confidence intervals, speed-ups, geometric means, and the comparison of
//! two runs.
//!
//! The interval of a median is the one given by order statistics (the
//! ranks `n/2 ± 0.98·√n` of the sorted sample), which assumes nothing of
//! the distribution — benchmark times are skewed, with a long tail of slow
//! iterations. Below six measurements it is the whole range.

use super::model::{
    Cell, Change, Column, ColumnKind, Comparison, Estimate, GeoMean, Ratio, Results, Row, Run, Status, Summary, Verdict,
};

/// An estimate is marked noisy when its interval is wider than this share
/// of its median (±5%), or when it rests on fewer than three measurements.
pub const NOISY: f64 = 0.10;

/// The median of `xs` (not empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// The median of `xs` (ms) with its 95% interval; `None` if empty.
pub fn estimate(xs: &[f64]) -> Option<Estimate> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let m = median(&v);
    let (lo, hi) = if n < 6 {
        (v[0], v[n - 1])
    } else {
        let half = 0.98 * (n as f64).sqrt();
        let lo = ((n as f64 / 2.0 - half).floor() as usize).clamp(1, n) - 1;
        let hi = ((n as f64 / 2.0 + half).ceil() as usize).clamp(1, n) - 1;
        (v[lo], v[hi])
    };
    let noisy = n < 3 || m <= 0.0 || (hi - lo) / m > NOISY;
    Some(Estimate { median: m, lo, hi, n, noisy })
}

/// `a` over `b`, the interval from the extremes the two intervals allow.
pub fn ratio(a: &Estimate, b: &Estimate) -> Ratio {
    let div = |x: f64, y: f64| if y > 0.0 { x / y } else { f64::NAN };
    Ratio { value: div(a.median, b.median), lo: div(a.lo, b.hi), hi: div(a.hi, b.lo) }
}

/// The geometric mean of positive `xs`; `None` if there are none.
pub fn geomean(xs: &[f64]) -> Option<f64> {
    let good: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite() && *x > 0.0).collect();
    (!good.is_empty()).then(|| (good.iter().map(|x| x.ln()).sum::<f64>() / good.len() as f64).exp())
}

/// The steady-state iterations of one run (ms): the second half, or the
/// only one.
pub fn steady_iterations(run: &Run) -> &[f64] {
    let n = run.iterations_us.len();
    if n <= 1 { &run.iterations_us } else { &run.iterations_us[n / 2..] }
}

fn median_of<T: Copy + Into<f64>>(xs: impl Iterator<Item = T>) -> Option<f64> {
    let v: Vec<f64> = xs.map(Into::into).collect();
    (!v.is_empty()).then(|| median(&v))
}

/// One benchmark's figures in one column.
fn cell(runs: &[&Run]) -> Cell {
    if let Some(Status::Failed { message }) = runs.iter().map(|r| &r.status).find(|s| **s != Status::Ok) {
        return Cell { failed: Some(message.clone()), ..Cell::default() };
    }
    if runs.is_empty() {
        return Cell { failed: Some("not run".to_string()), ..Cell::default() };
    }
    let steady: Vec<f64> = runs.iter().flat_map(|r| steady_iterations(r).iter().map(|us| us / 1000.0)).collect();
    let stats: Vec<_> = runs.iter().filter_map(|r| r.stats.as_ref()).collect();
    let last = stats.last();
    Cell {
        failed: None,
        steady: estimate(&steady),
        first_ms: median_of(runs.iter().filter_map(|r| r.iterations_us.first().map(|us| us / 1000.0))),
        speedup: None,
        compile_ms: median_of(stats.iter().map(|s| s.compile_ms)),
        methods_compiled: median_of(stats.iter().map(|s| s.methods_compiled as f64)).map(|m| m.round() as u64),
        ic_hit_rate: last.and_then(|s| s.ic.hit_rate()),
        ic_hit_rates: last.map(|s| s.ic.hit_rates()).unwrap_or_default(),
        deopts: median_of(stats.iter().map(|s| s.deopt_count() as f64)).map(|m| m.round() as u64),
        gc_ms: median_of(stats.iter().map(|s| s.gc_ms)),
        peak_rss_bytes: stats.iter().map(|s| s.peak_rss_bytes).max(),
    }
}

/// The column speed-ups are measured against: `off` if the run has it.
fn baseline(columns: &[Column]) -> Option<usize> {
    columns.iter().position(|c| c.kind == ColumnKind::Mica && c.name == "off")
}

/// The figures of `results`.
pub fn summarize(results: &Results) -> Summary {
    let columns = &results.settings.columns;
    let base = baseline(columns);
    let rows: Vec<Row> = results
        .benchmarks
        .iter()
        .map(|b| {
            let mut cells: Vec<Cell> = columns
                .iter()
                .map(|c| cell(&b.runs.iter().filter(|r| r.column == c.name).collect::<Vec<_>>()))
                .collect();
            if let Some(base_steady) = base.and_then(|i| cells[i].steady) {
                for c in cells.iter_mut() {
                    c.speedup = c.steady.map(|s| ratio(&base_steady, &s));
                }
            }
            Row { benchmark: b.name.clone(), cells }
        })
        .collect();
    // Over the benchmarks that every column ran, so the means compare.
    let complete: Vec<&Row> = rows.iter().filter(|r| r.cells.iter().all(|c| c.steady.is_some())).collect();
    let geomean = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let steady: Vec<f64> = complete.iter().filter_map(|r| r.cells[i].steady.map(|s| s.median)).collect();
            let speedup: Vec<f64> = complete.iter().filter_map(|r| r.cells[i].speedup.map(|s| s.value)).collect();
            GeoMean {
                column: c.name.clone(),
                steady_ms: geomean(&steady),
                speedup: geomean(&speedup),
                n: complete.len(),
            }
        })
        .collect();
    Summary { columns: columns.iter().map(|c| c.name.clone()).collect(), rows, geomean }
}

/// What the intervals of `old` and `new` say of the change.
pub fn verdict(old: &Estimate, new: &Estimate) -> Verdict {
    if new.hi < old.lo {
        Verdict::Faster
    } else if new.lo > old.hi {
        Verdict::Slower
    } else {
        Verdict::Same
    }
}

/// The change from `old` to `new`, over the benchmarks and columns both
/// have figures for.
pub fn compare(old: &Results, new: &Results, old_name: &str, new_name: &str) -> Comparison {
    let (so, sn) = (summarize(old), summarize(new));
    let mut entries = Vec::new();
    for rn in &sn.rows {
        let Some(ro) = so.rows.iter().find(|r| r.benchmark == rn.benchmark) else { continue };
        for (i, column) in sn.columns.iter().enumerate() {
            let Some(j) = so.columns.iter().position(|c| c == column) else { continue };
            if let (Some(o), Some(n)) = (ro.cells[j].steady, rn.cells[i].steady) {
                entries.push(Change {
                    benchmark: rn.benchmark.clone(),
                    column: column.clone(),
                    old: o,
                    new: n,
                    ratio: ratio(&n, &o),
                    verdict: verdict(&o, &n),
                });
            }
        }
    }
    let geomean = sn
        .columns
        .iter()
        .filter_map(|c| {
            let rs: Vec<f64> = entries.iter().filter(|e| &e.column == c).map(|e| e.ratio.value).collect();
            geomean(&rs).map(|g| (c.clone(), g))
        })
        .collect();
    Comparison { old_name: old_name.to_string(), new_name: new_name.to_string(), entries, geomean }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_their_intervals() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let e = estimate(&[10.0, 10.0]).unwrap();
        assert!(e.noisy, "two measurements are too few to trust");
        let flat: Vec<f64> = (0..20).map(|i| 100.0 + (i % 3) as f64).collect();
        let e = estimate(&flat).unwrap();
        assert!(!e.noisy && e.lo <= e.median && e.median <= e.hi && e.n == 20);
        let wild: Vec<f64> = (0..20).map(|i| if i % 2 == 0 { 50.0 } else { 150.0 }).collect();
        assert!(estimate(&wild).unwrap().noisy);
        assert_eq!(estimate(&[]), None);
    }

    #[test]
    fn geometric_means_and_verdicts() {
        assert!((geomean(&[2.0, 8.0]).unwrap() - 4.0).abs() < 1e-12);
        assert_eq!(geomean(&[]), None);
        let e = |m: f64| Estimate { median: m, lo: m - 1.0, hi: m + 1.0, n: 10, noisy: false };
        assert_eq!(verdict(&e(10.0), &e(5.0)), Verdict::Faster);
        assert_eq!(verdict(&e(10.0), &e(20.0)), Verdict::Slower);
        assert_eq!(verdict(&e(10.0), &e(10.5)), Verdict::Same);
        let r = ratio(&e(10.0), &e(5.0));
        assert!((r.value - 2.0).abs() < 1e-12 && r.lo < 2.0 && r.hi > 2.0);
    }
}

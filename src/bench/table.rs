//! The summary and the comparison as text: an aligned table, Markdown or
//! CSV (JSON is the model serialised).

use std::fmt::Write as _;

use super::model::{Cell, Comparison, Summary, Verdict};
use super::options::Format;
use super::stats::NOISY;

/// A table: a header and rows of cells, the first `left` columns
/// left-aligned and the rest right-aligned.
struct Grid {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    left: usize,
}

impl Grid {
    fn render(&self, format: Format) -> String {
        let mut out = String::new();
        match format {
            Format::Markdown => {
                let _ = writeln!(out, "| {} |", self.header.join(" | "));
                let rule: Vec<&str> =
                    (0..self.header.len()).map(|i| if i < self.left { ":---" } else { "---:" }).collect();
                let _ = writeln!(out, "| {} |", rule.join(" | "));
                for r in &self.rows {
                    let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
                    let _ = writeln!(out, "| {} |", cells.join(" | "));
                }
            }
            Format::Csv => {
                let _ = writeln!(out, "{}", self.header.join(","));
                for r in &self.rows {
                    let cells: Vec<String> = r.iter().map(|c| csv_field(c)).collect();
                    let _ = writeln!(out, "{}", cells.join(","));
                }
            }
            Format::Table | Format::Json => {
                let widths: Vec<usize> = (0..self.header.len())
                    .map(|i| {
                        self.rows.iter().map(|r| r[i].chars().count()).chain([self.header[i].len()]).max().unwrap_or(0)
                    })
                    .collect();
                let line = |cells: &[String]| {
                    let padded: Vec<String> = cells
                        .iter()
                        .enumerate()
                        .map(|(i, c)| {
                            if i < self.left {
                                format!("{c:<w$}", w = widths[i])
                            } else {
                                format!("{c:>w$}", w = widths[i])
                            }
                        })
                        .collect();
                    padded.join("  ").trim_end().to_string()
                };
                let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
                let _ = writeln!(out, "{}", line(&header));
                for r in &self.rows {
                    let _ = writeln!(out, "{}", line(r));
                }
            }
        }
        out
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| "-".to_string(), f)
}

fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 1.0 || x <= 0.0 {
        format!("{x:.2}")
    } else {
        // Three significant digits.
        let digits = (2.0 - x.log10().floor()).clamp(2.0, 9.0) as usize;
        format!("{x:.digits$}")
    }
}

/// The figures of one cell, as shown in a table.
fn cell_texts(c: &Cell) -> Vec<String> {
    if c.failed.is_some() {
        let mut v = vec!["failed".to_string()];
        v.resize(10, "-".to_string());
        return v;
    }
    let noisy = |n: bool| if n { "~" } else { "" };
    vec![
        opt(c.steady, |s| format!("{}{}", noisy(s.noisy), ms(s.median))),
        opt(c.steady, |s| format!("{}-{}", ms(s.lo), ms(s.hi))),
        opt(c.first_ms, ms),
        opt(c.speedup, |r| format!("{}{:.2}x", noisy(c.steady.is_some_and(|s| s.noisy)), r.value)),
        opt(c.compile_ms, |x| format!("{x:.1}")),
        opt(c.methods_compiled, |n| n.to_string()),
        opt(c.ic_hit_rate, |r| format!("{:.1}%", 100.0 * r)),
        opt(c.deopts, |n| n.to_string()),
        opt(c.gc_ms, |x| format!("{x:.1}")),
        opt(c.peak_rss_bytes, |b| format!("{:.1}", b as f64 / (1 << 20) as f64)),
    ]
}

/// The raw figures of one cell, for CSV.
fn cell_values(c: &Cell) -> Vec<String> {
    let num = |v: Option<f64>| opt(v, |x| format!("{x}"));
    let int = |v: Option<u64>| opt(v, |x| x.to_string());
    vec![
        if c.failed.is_some() { "failed" } else { "ok" }.to_string(),
        num(c.steady.map(|s| s.median)),
        num(c.steady.map(|s| s.lo)),
        num(c.steady.map(|s| s.hi)),
        opt(c.steady.map(|s| s.n), |n| n.to_string()),
        opt(c.steady.map(|s| s.noisy), |n| n.to_string()),
        num(c.first_ms),
        num(c.speedup.map(|r| r.value)),
        num(c.speedup.map(|r| r.lo)),
        num(c.speedup.map(|r| r.hi)),
        num(c.compile_ms),
        int(c.methods_compiled),
        num(c.ic_hit_rate),
        num(c.ic_hit_rates[0]),
        num(c.ic_hit_rates[1]),
        num(c.ic_hit_rates[2]),
        int(c.deopts),
        num(c.gc_ms),
        int(c.peak_rss_bytes),
        c.failed.clone().unwrap_or_default(),
    ]
}

/// The summary in `format` (not JSON), with its legend and failures.
pub fn summary(s: &Summary, format: Format) -> String {
    if format == Format::Csv {
        let header = vec![
            "benchmark",
            "column",
            "status",
            "median_ms",
            "ci_lo_ms",
            "ci_hi_ms",
            "n",
            "noisy",
            "first_ms",
            "speedup",
            "speedup_lo",
            "speedup_hi",
            "compile_ms",
            "methods_compiled",
            "ic_hit_rate",
            "ic_mono_hit_rate",
            "ic_poly_hit_rate",
            "ic_mega_hit_rate",
            "deopts",
            "gc_ms",
            "peak_rss_bytes",
            "failure",
        ];
        let mut rows = Vec::new();
        for r in &s.rows {
            for (column, c) in s.columns.iter().zip(&r.cells) {
                rows.push([vec![r.benchmark.clone(), column.clone()], cell_values(c)].concat());
            }
        }
        return Grid { header, rows, left: 3 }.render(format);
    }
    let header = vec![
        "benchmark",
        "mode",
        "median ms",
        "95% CI",
        "first ms",
        "speed-up",
        "compile ms",
        "compiled",
        "IC hits",
        "deopts",
        "GC ms",
        "RSS MiB",
    ];
    let mut rows = Vec::new();
    for r in &s.rows {
        for (i, (column, c)) in s.columns.iter().zip(&r.cells).enumerate() {
            let name = if i == 0 { r.benchmark.clone() } else { String::new() };
            rows.push([vec![name, column.clone()], cell_texts(c)].concat());
        }
    }
    for (i, g) in s.geomean.iter().enumerate() {
        let mut row = vec![if i == 0 { format!("geomean ({})", g.n) } else { String::new() }, g.column.clone()];
        row.push(opt(g.steady_ms, ms));
        row.extend(["", ""].map(String::from));
        row.push(opt(g.speedup, |x| format!("{x:.2}x")));
        row.resize(header.len(), String::new());
        rows.push(row);
    }
    let mut out = Grid { header, rows, left: 2 }.render(format);
    let _ = writeln!(
        out,
        "\nmedian and 95% CI: of the second half of each run's iterations; first: the first iteration, compilation \
         included; speed-up: over off; ~: noisy (CI wider than {:.0}% of the median, or under 3 iterations)",
        NOISY * 100.0
    );
    let failures: Vec<String> = s
        .rows
        .iter()
        .flat_map(|r| {
            s.columns.iter().zip(&r.cells).filter_map(move |(column, c)| {
                c.failed.as_ref().map(|m| format!("  {} ({column}): {}", r.benchmark, m.replace('\n', "\n      ")))
            })
        })
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\nfailed:\n{}", failures.join("\n"));
    }
    out
}

/// A comparison in `format` (not JSON).
pub fn comparison(c: &Comparison, format: Format) -> String {
    let header = vec!["benchmark", "mode", "old ms", "new ms", "new/old", "95% CI", "change"];
    let mut rows: Vec<Vec<String>> = c
        .entries
        .iter()
        .map(|e| {
            vec![
                e.benchmark.clone(),
                e.column.clone(),
                ms(e.old.median),
                ms(e.new.median),
                format!("{:.3}", e.ratio.value),
                format!("{:.3}-{:.3}", e.ratio.lo, e.ratio.hi),
                match e.verdict {
                    Verdict::Faster => "faster",
                    Verdict::Slower => "slower",
                    Verdict::Same => "same",
                }
                .to_string(),
            ]
        })
        .collect();
    for (column, g) in &c.geomean {
        let mut row = vec!["geomean".into(), column.clone(), String::new(), String::new(), format!("{g:.3}")];
        row.resize(header.len(), String::new());
        rows.push(row);
    }
    let mut out = Grid { header, rows, left: 2 }.render(format);
    if format != Format::Csv {
        let _ = writeln!(
            out,
            "\nold: {}, new: {}; new/old below 1 is faster; 'same' when the 95% intervals overlap",
            c.old_name, c.new_name
        );
    }
    out
}

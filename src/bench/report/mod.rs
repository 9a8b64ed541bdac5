//! The HTML pages of a benchmark run (`report.html`) and of the comparison
//! of two runs: self-contained (inline CSS and SVG, no scripts, nothing
//! fetched), the plots drawn with `plotters`' SVG backend.
//!
//! Every plot is an inline `<svg>` inside a `<figure class="plot">` with a
//! stable id, so that tests (and scripts) can find them:
//!
//! - `speedup-COLUMN`: the speed-up over `off` of each column but `off`,
//!   one horizontal bar per benchmark that has a speed-up in that column
//!   (a failed benchmark is named on the axis, with no bar), error bars from
//!   the ratio's interval, a dashed line at 1 and the geometric mean;
//! - `warmup-BENCHMARK`: iteration time against iteration number, one line
//!   per column (the median over rounds of each iteration);
//! - `compile-vs-run`: compile time against the process's run time, one
//!   point per benchmark and JIT column;
//! - `change-COLUMN` (comparison page): new over old per benchmark.
//!
//! In the bar charts each benchmark's bar is the only `<rect>` with
//! `class="bar"`, and carries `data-benchmark="NAME"` and a `<title>`; the
//! geometric mean's bar has `class="geomean"` instead. Ids and attributes
//! hold the names escaped, as does all text. A column has one colour in
//! every plot, the table and the legends.

mod plots;

use plotters::style::RGBColor;

use plots::{Bar, compile_svg, ratio_chart, speedup_plots, warmup_svg};

use super::model::{Column, ColumnKind, Comparison, Estimate, Ratio, Results, Status, Summary, Verdict};
use super::stats::{NOISY, median};

/// The colours of the columns, in order (Tableau 10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0xba, 0xb0, 0xac),
];
/// The geometric mean's bar.
const GEO_COLOUR: RGBColor = RGBColor(0x44, 0x44, 0x44);
/// The opacity of benchmark bars and of the geometric mean's: no other
/// element uses these, which is how [`mark_bars`] finds the bars.
const BAR_ALPHA: f64 = 0.8125;
const GEO_ALPHA: f64 = 0.6875;
const GREY: RGBColor = RGBColor(0x33, 0x33, 0x33);
const FONT: &str = "sans-serif";
const WIDTH: u32 = 820;

const CSS: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1300px}\
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:0.9em}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}\
th{background:#f4f4f4}td.name,th.name{text-align:left}tr.first td,tr.first th{border-top:2px solid #888}\
td.failed{color:#b00;text-align:center;cursor:help}.noisy{color:#c60;font-weight:bold}\
dl.meta{display:grid;grid-template-columns:max-content auto;gap:2px 1em}dt{font-weight:bold}dd{margin:0}\
.swatch{display:inline-block;width:0.9em;height:0.9em;margin-right:0.4em;vertical-align:middle}\
.plots{display:flex;flex-wrap:wrap;gap:1em}figure.plot{margin:0}figure.plot svg{max-width:100%;height:auto}\
.faster{color:#1b7a2b;font-weight:bold}.slower{color:#b3261e;font-weight:bold}.same{color:#666}\
p.note{color:#555;font-size:0.9em}";

/// The self-contained HTML report of a run (inline SVG plots, inline CSS,
/// no scripts or external resources needed).
pub fn html_report(results: &Results, summary: &Summary) -> Result<String, String> {
    if summary.rows.iter().any(|r| r.cells.len() != summary.columns.len()) {
        return Err("the summary's rows do not match its columns".to_string());
    }
    let mut h = page_start(&format!("Mica benchmarks, {}", results.started));
    h += &header(results, summary);
    h += "<h2>Results</h2>\n";
    h += &table(summary);
    h += "<h2>Speed-up over the interpreter</h2>\n<div class=\"plots\">\n";
    h += &speedup_plots(results, summary)?;
    h += "</div>\n<h2>Warm-up</h2>\n<p class=\"note\">Iteration time against iteration number, the median over \
          rounds of each iteration.</p>\n<div class=\"plots\">\n";
    for (i, b) in results.benchmarks.iter().enumerate() {
        h += &figure(&format!("warmup-{}", b.name), &warmup_svg(results, summary, i)?);
    }
    h += "</div>\n<h2>Compile time against run time</h2>\n";
    h += &figure("compile-vs-run", &compile_svg(results, summary)?);
    h += "</body>\n</html>\n";
    Ok(h)
}

/// The HTML page of a comparison of two runs.
pub fn html_comparison(cmp: &Comparison) -> Result<String, String> {
    let mut columns: Vec<&str> = Vec::new();
    for e in &cmp.entries {
        if !columns.contains(&e.column.as_str()) {
            columns.push(&e.column);
        }
    }
    let mut h = page_start(&format!("Mica benchmarks: {} against {}", cmp.new_name, cmp.old_name));
    h += &format!(
        "<h1>Mica benchmarks: new against old</h1>\n<dl class=\"meta\"><dt>Old</dt><dd>{}</dd><dt>New</dt>\
         <dd>{}</dd></dl>\n<p class=\"note\">Steady-state medians (ms) with their 95% intervals. A change is shown \
         only when the intervals do not overlap.</p>\n",
        esc(&cmp.old_name),
        esc(&cmp.new_name)
    );
    h += "<table><thead><tr><th class=\"name\">Benchmark</th><th class=\"name\">Column</th><th>old ms</th>\
          <th>new ms</th><th>new / old</th><th>verdict</th></tr></thead><tbody>\n";
    for e in &cmp.entries {
        let v = verdict_name(e.verdict);
        h += &format!(
            "<tr><td class=\"name\">{}</td><td class=\"name\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"{v}\">{v}</td></tr>\n",
            esc(&e.benchmark),
            esc(&e.column),
            estimate(&e.old),
            estimate(&e.new),
            ratio(&e.ratio)
        );
    }
    for (i, (c, g)) in cmp.geomean.iter().enumerate() {
        h += &format!(
            "<tr class=\"geomean{}\"><th class=\"name\">geomean</th><td class=\"name\">{}</td><td></td><td></td>\
             <td>{}×</td><td></td></tr>\n",
            if i == 0 { " first" } else { "" },
            esc(c),
            num(*g, 3)
        );
    }
    h += "</tbody></table>\n<h2>New over old</h2>\n<div class=\"plots\">\n";
    for c in columns {
        let bars: Vec<Bar> = cmp
            .entries
            .iter()
            .filter(|e| e.column == c)
            .map(|e| Bar {
                name: &e.benchmark,
                value: Some(e.ratio),
                colour: match e.verdict {
                    Verdict::Faster => RGBColor(0x2e, 0x7d, 0x32),
                    Verdict::Slower => RGBColor(0xc6, 0x28, 0x28),
                    Verdict::Same => RGBColor(0x90, 0x90, 0x90),
                },
                missing: "",
            })
            .collect();
        let geo = cmp.geomean.iter().find(|(g, _)| g == c).map(|(_, g)| *g);
        let title = format!("{c}: new / old (below 1: faster)");
        h += &figure(&format!("change-{c}"), &ratio_chart(&title, "new time / old time (log scale)", &bars, geo)?);
    }
    h += "</div>\n</body>\n</html>\n";
    Ok(h)
}

/// `s` escaped for HTML and SVG text and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `v` with `digits` significant digits (at least none after the point).
fn num(v: f64, digits: i32) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    let magnitude = if v == 0.0 { 0 } else { v.abs().log10().floor() as i32 };
    format!("{:.*}", (digits - 1 - magnitude).max(0) as usize, v)
}

/// A tick label: `v` without trailing zeros.
fn tick(v: f64) -> String {
    let s = num(v, 3);
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

fn estimate(e: &Estimate) -> String {
    let mark = if e.noisy { "<span class=\"noisy\" title=\"noisy\">~</span>" } else { "" };
    format!("{mark}{} ({}–{})", num(e.median, 3), num(e.lo, 3), num(e.hi, 3))
}

fn ratio(r: &Ratio) -> String {
    format!("{}× ({}–{})", num(r.value, 3), num(r.lo, 3), num(r.hi, 3))
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| "–".to_string())
}

fn percent(v: Option<f64>) -> String {
    opt(v, |v| format!("{:.1}%", v * 100.0))
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Faster => "faster",
        Verdict::Slower => "slower",
        Verdict::Same => "same",
    }
}

/// The colour of the column at `index`.
fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

fn swatch(index: usize) -> String {
    let RGBColor(r, g, b) = colour(index);
    format!("<span class=\"swatch\" style=\"background:#{r:02x}{g:02x}{b:02x}\"></span>")
}

fn page_start(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n\
         <style>{CSS}</style>\n</head>\n<body>\n",
        esc(title)
    )
}

fn figure(id: &str, content: &str) -> String {
    format!("<figure class=\"plot\" id=\"{}\">\n{content}</figure>\n", esc(id))
}

/// A column of the run, by name.
fn column<'a>(results: &'a Results, name: &str) -> Option<&'a Column> {
    results.settings.columns.iter().find(|c| c.name == name)
}

/// Whether `name` is a JIT column of this Mica (not the interpreter).
fn is_jit(results: &Results, name: &str) -> bool {
    column(results, name).is_some_and(|c| c.kind == ColumnKind::Mica && c.name != "off")
}

fn header(results: &Results, summary: &Summary) -> String {
    let m = &results.machine;
    let s = &results.settings;
    let memory = if m.memory_bytes == 0 {
        "memory unknown".to_string()
    } else {
        format!("{:.1} GiB", m.memory_bytes as f64 / (1u64 << 30) as f64)
    };
    let list = |xs: &[String]| if xs.is_empty() { "–".to_string() } else { esc(&xs.join(", ")) };
    let mut h = format!(
        "<h1>Mica benchmarks</h1>\n<dl class=\"meta\">\n<dt>Mica</dt><dd>{}</dd>\n<dt>Started</dt><dd>{}</dd>\n\
         <dt>Machine</dt><dd>{} {}, {} cpus, {}, {}</dd>\n<dt>Command</dt><dd><code>{}</code></dd>\n\
         <dt>Iterations</dt><dd>{} per process</dd>\n<dt>Rounds</dt><dd>{} per benchmark and column (a fresh process each)</dd>\n\
         <dt>Size</dt><dd>{}</dd>\n<dt>Targets</dt><dd>{}</dd>\n<dt>Only</dt><dd>{}</dd>\n</dl>\n",
        esc(&results.mica_version),
        esc(&results.started),
        esc(&m.os),
        esc(&m.arch),
        m.cpus,
        if m.cpu_model.is_empty() { "cpu model unknown".to_string() } else { esc(&m.cpu_model) },
        memory,
        esc(&s.command.join(" ")),
        s.iterations,
        s.rounds,
        s.size.map_or_else(|| "each benchmark's own".to_string(), |n| n.to_string()),
        list(&s.targets),
        list(&s.only),
    );
    h += "<table><thead><tr><th class=\"name\">Column</th><th class=\"name\">Kind</th>\
          <th class=\"name\">Command</th></tr></thead><tbody>\n";
    for (i, name) in summary.columns.iter().enumerate() {
        let c = column(results, name);
        let kind = match c.map(|c| c.kind) {
            Some(ColumnKind::Mica) => "Mica",
            Some(ColumnKind::OtherVm) => "other VM",
            None => "–",
        };
        let command = c.map(|c| c.command.join(" ")).unwrap_or_default();
        h += &format!(
            "<tr><td class=\"name\">{}{}</td><td class=\"name\">{kind}</td><td class=\"name\"><code>{}</code></td>\
             </tr>\n",
            swatch(i),
            esc(name),
            esc(&command)
        );
    }
    h + "</tbody></table>\n"
}

/// The table of figures: one row per benchmark and column, then the
/// geometric means.
fn table(summary: &Summary) -> String {
    let mut h = "<table class=\"results\"><thead><tr><th class=\"name\">Benchmark</th><th class=\"name\">Column\
                 </th><th>steady ms (95% CI)</th><th>first ms</th><th>speed-up over off</th><th>compile ms</th>\
                 <th>methods</th><th>IC hits (mono/poly/mega)</th><th>deopts</th><th>GC ms</th>\
                 <th>peak RSS MiB</th></tr></thead><tbody>\n"
        .to_string();
    let span = summary.columns.len();
    for row in &summary.rows {
        for (i, (name, c)) in summary.columns.iter().zip(&row.cells).enumerate() {
            h += "<tr>";
            if i == 0 {
                h += &format!("<th class=\"name\" rowspan=\"{span}\">{}</th>", esc(&row.benchmark));
            }
            h += &format!("<td class=\"name\">{}{}</td>", swatch(i), esc(name));
            if let Some(message) = &c.failed {
                h += &format!("<td class=\"failed\" colspan=\"9\" title=\"{}\">failed</td></tr>\n", esc(message));
                continue;
            }
            let [mono, poly, mega] = c.ic_hit_rates;
            let ic = match c.ic_hit_rate {
                Some(_) => {
                    format!("{} ({}/{}/{})", percent(c.ic_hit_rate), percent(mono), percent(poly), percent(mega))
                }
                None => "–".to_string(),
            };
            let cells = [
                opt(c.steady.as_ref(), estimate),
                opt(c.first_ms, |v| num(v, 3)),
                opt(c.speedup.as_ref(), ratio),
                opt(c.compile_ms, |v| num(v, 3)),
                opt(c.methods_compiled, |v| v.to_string()),
                ic,
                opt(c.deopts, |v| v.to_string()),
                opt(c.gc_ms, |v| num(v, 3)),
                opt(c.peak_rss_bytes, |v| format!("{:.1}", v as f64 / (1u64 << 20) as f64)),
            ];
            for x in cells {
                h += &format!("<td>{x}</td>");
            }
            h += "</tr>\n";
        }
    }
    for (i, g) in summary.geomean.iter().enumerate() {
        h += if i == 0 { "<tr class=\"geomean first\">" } else { "<tr class=\"geomean\">" };
        if i == 0 {
            h += &format!("<th class=\"name\" rowspan=\"{}\">geomean ({} benchmarks)</th>", summary.geomean.len(), g.n);
        }
        h += &format!(
            "<td class=\"name\">{}{}</td><td>{}</td><td></td><td>{}</td><td colspan=\"7\"></td></tr>\n",
            swatch(i),
            esc(&g.column),
            opt(g.steady_ms, |v| num(v, 3)),
            opt(g.speedup, |v| format!("{}×", num(v, 3)))
        );
    }
    h += "</tbody></table>\n";
    h + &format!(
        "<p class=\"note\"><span class=\"noisy\">~</span> marks a noisy estimate: its 95% interval is wider than \
         ±{}% of the median, or it rests on fewer than three measurements. Hover over “failed” for the message. \
         The geometric means are over the benchmarks every column ran.</p>\n",
        tick(NOISY * 50.0)
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::model::{Benchmark, IcStats, Machine, Run, Settings, VmStats};
    use super::super::stats::{compare, summarize};
    use super::plots::ticks;
    use super::*;

    const FIB: &str = "Fib<&\"x\">";
    const FAILURE: &str = "wrong result: <nil> & \"oops\"";

    fn run(column: &str, round: u32, ms: &[f64], failed: bool) -> Run {
        let stats = VmStats {
            compile_ms: if column == "off" { 0.0 } else { 3.0 + f64::from(round) },
            methods_compiled: 12,
            ic: IcStats { mono_hits: 90, mono_misses: 10, poly_hits: 5, poly_misses: 5, ..IcStats::default() },
            deopts: BTreeMap::from([("class changed".to_string(), 1)]),
            gc_ms: 0.5,
            peak_rss_bytes: 40 << 20,
            ..VmStats::default()
        };
        Run {
            column: column.to_string(),
            round,
            status: if failed { Status::Failed { message: FAILURE.to_string() } } else { Status::Ok },
            wall_ms: ms.iter().sum::<f64>() + 20.0,
            iterations_us: ms.iter().map(|m| m * 1000.0).collect(),
            stats: Some(stats),
        }
    }

    /// `n` iterations of `steady` ms after a first one of `first`, with a
    /// spread of `spread` (a share of `steady`).
    fn times(first: f64, steady: f64, spread: f64) -> Vec<f64> {
        let mut v = vec![first];
        v.extend((1..8).map(|i| steady * (1.0 + spread * if i % 2 == 0 { 1.0 } else { -1.0 })));
        v
    }

    fn bench(name: &str, off: f64, on: f64, noisy_on: bool, eager_fails: bool) -> Benchmark {
        let mut runs = Vec::new();
        for round in 0..3 {
            runs.push(run("off", round, &times(off, off, 0.01), false));
            runs.push(run("on", round, &times(on * 3.0, on, if noisy_on { 0.5 } else { 0.01 }), false));
            runs.push(run("eager", round, &times(on * 5.0, on * 0.8, 0.01), eager_fails));
        }
        Benchmark { name: name.to_string(), suite: "mica".to_string(), size: 10, runs }
    }

    fn results(on_fib: f64) -> Results {
        let column = |name: &str| Column {
            name: name.to_string(),
            kind: ColumnKind::Mica,
            command: vec!["mica".to_string(), format!("--jit={name}"), "a<b&\"c\"".to_string()],
        };
        Results {
            format: 1,
            mica_version: "0.1.0".to_string(),
            started: "2026-01-02T03:04:05Z".to_string(),
            machine: Machine {
                os: "linux".into(),
                arch: "x86_64".into(),
                cpus: 2,
                cpu_model: "Test <CPU>".into(),
                memory_bytes: 8 << 30,
            },
            settings: Settings {
                command: vec!["mica".to_string(), "bench".to_string(), "--only=<x>".to_string()],
                targets: vec![],
                columns: vec![column("off"), column("on"), column("eager")],
                iterations: 8,
                rounds: 3,
                size: None,
                only: vec![],
            },
            benchmarks: vec![
                bench(FIB, 100.0, on_fib, false, false),
                bench("Noisy", 50.0, 10.0, true, false),
                bench("Broken", 30.0, 3.0, false, true),
            ],
        }
    }

    fn svgs(html: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = html;
        while let (Some(a), Some(b)) = (rest.find("<svg"), rest.find("</svg>")) {
            out.push(&rest[a..b + 6]);
            rest = &rest[b + 6..];
        }
        out
    }

    /// The SVG of the figure with id `id` (as written in the HTML).
    fn figure_svg<'a>(html: &'a str, id: &str) -> Option<&'a str> {
        let at = html.find(&format!("<figure class=\"plot\" id=\"{id}\">"))?;
        svgs(&html[at..]).first().copied()
    }

    /// The `data-benchmark` of each `rect.bar`, and the number of `rect.geomean`.
    fn bars(svg: &str) -> (Vec<String>, usize) {
        let doc = roxmltree::Document::parse(svg).expect("an SVG that parses");
        let rects: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("rect")).collect();
        let names = rects
            .iter()
            .filter(|n| n.attribute("class") == Some("bar"))
            .map(|n| n.attribute("data-benchmark").unwrap_or_default().to_string())
            .collect();
        (names, rects.iter().filter(|n| n.attribute("class") == Some("geomean")).count())
    }

    #[test]
    fn report_plots_parse_and_have_one_bar_per_benchmark() {
        let r = results(10.0);
        let html = html_report(&r, &summarize(&r)).expect("a report");
        let all = svgs(&html);
        assert_eq!(all.len(), 2 + 3 + 1, "two speed-up plots, three warm-up plots, one scatter");
        for svg in &all {
            roxmltree::Document::parse(svg).expect("every SVG parses");
        }
        assert!(figure_svg(&html, "speedup-off").is_none());
        let on = figure_svg(&html, "speedup-on").expect("the speed-up of on");
        assert_eq!(bars(on), (vec![FIB.to_string(), "Noisy".to_string(), "Broken".to_string()], 1));
        let eager = figure_svg(&html, "speedup-eager").expect("the speed-up of eager");
        assert_eq!(bars(eager), (vec![FIB.to_string(), "Noisy".to_string()], 1), "no bar for a failed run");
        let warmup = figure_svg(&html, "warmup-Fib&lt;&amp;&quot;x&quot;&gt;").expect("Fib's warm-up");
        assert_eq!(bars(warmup), (vec![], 0));
        assert!(figure_svg(&html, "warmup-Broken").is_some() && figure_svg(&html, "compile-vs-run").is_some());
    }

    #[test]
    fn report_escapes_text_and_marks_failures_and_noise() {
        let r = results(10.0);
        let html = html_report(&r, &summarize(&r)).expect("a report");
        for raw in [FIB, "<nil>", "a<b&\"c\"", "<CPU>", "--only=<x>"] {
            assert!(!html.contains(raw), "{raw} unescaped");
        }
        assert!(html.contains(&format!("title=\"{}\">failed</td>", esc(FAILURE))));
        assert!(html.contains("a&lt;b&amp;&quot;c&quot;") && html.contains("Test &lt;CPU&gt;"));
        assert!(html.contains("<span class=\"noisy\" title=\"noisy\">~</span>"));
        assert!(html.contains("geomean (2 benchmarks)"));
    }

    #[test]
    fn report_without_an_interpreter_column_says_so() {
        let mut r = results(10.0);
        r.settings.columns.remove(0);
        let html = html_report(&r, &summarize(&r)).expect("a report");
        assert!(html.contains("no <code>off</code>") && figure_svg(&html, "speedup-on").is_none());
        for svg in svgs(&html) {
            roxmltree::Document::parse(svg).expect("every SVG parses");
        }
    }

    #[test]
    fn comparison_has_a_bar_per_change() {
        let (old, new) = (results(10.0), results(5.0));
        let cmp = compare(&old, &new, "old<.json", "new&.json");
        let html = html_comparison(&cmp).expect("a comparison");
        assert!(!html.contains("old<.json") && html.contains("old&lt;.json"));
        assert!(html.contains("<td class=\"faster\">faster</td>") && html.contains("<td class=\"same\">same</td>"));
        for svg in svgs(&html) {
            roxmltree::Document::parse(svg).expect("every SVG parses");
        }
        for (column, n) in [("off", 3), ("on", 3), ("eager", 2)] {
            let svg = figure_svg(&html, &format!("change-{column}")).expect("a chart per column");
            let (names, geo) = bars(svg);
            assert_eq!((names.len(), geo), (n, 1), "{column}");
            assert_eq!(names[0], FIB);
        }
    }

    #[test]
    fn one_iteration_of_one_round_is_drawn() {
        let mut r = results(10.0);
        for b in &mut r.benchmarks {
            b.runs.retain(|run| run.round == 0);
            for run in &mut b.runs {
                run.iterations_us.truncate(1);
            }
        }
        let html = html_report(&r, &summarize(&r)).expect("a report");
        assert_eq!(bars(figure_svg(&html, "speedup-on").expect("a plot")).0.len(), 3);
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.9, 12.0, true), vec![1.0, 2.0, 5.0, 10.0]);
        assert_eq!(ticks(95.0, 105.0, true), vec![96.0, 98.0, 100.0, 102.0, 104.0]);
        assert_eq!(ticks(3.0, 3.0, false), vec![3.0]);
        assert_eq!(tick(2.50), "2.5");
        assert_eq!(num(1234.5, 3), "1234");
        assert_eq!(esc("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    }
}

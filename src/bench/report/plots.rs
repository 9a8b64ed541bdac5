//! The plots of the report: ratio bar charts (speed-ups, changes), warm-up
//! curves and compile time against run time, drawn with `plotters` into
//! SVG strings, and the marking of benchmark bars (see the parent module).

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::*;

/// One bar of a ratio chart.
pub(super) struct Bar<'a> {
    /// The benchmark.
    pub(super) name: &'a str,
    /// `None`: no bar, `missing` is shown instead.
    pub(super) value: Option<Ratio>,
    pub(super) colour: RGBColor,
    pub(super) missing: &'a str,
}

/// One speed-up chart per column but `off`.
pub(super) fn speedup_plots(results: &Results, summary: &Summary) -> Result<String, String> {
    if !summary.columns.iter().any(|c| c == "off" && column(results, c).is_some_and(|c| c.kind == ColumnKind::Mica)) {
        return Ok(
            "<p class=\"note\">No speed-ups: the run has no <code>off</code> (interpreter) column.</p>\n".to_string()
        );
    }
    let mut h = String::new();
    for (i, name) in summary.columns.iter().enumerate().filter(|(_, c)| *c != "off") {
        let bars: Vec<Bar> = summary
            .rows
            .iter()
            .map(|r| Bar {
                name: &r.benchmark,
                value: r.cells[i].speedup,
                colour: colour(i),
                missing: if r.cells[i].failed.is_some() { "failed" } else { "n/a" },
            })
            .collect();
        let geo = summary.geomean.get(i).and_then(|g| g.speedup);
        let title = format!("Speed-up of {name} over off (above 1: faster)");
        let svg = ratio_chart(&title, "off time / column time (log scale)", &bars, geo)?;
        h += &figure(&format!("speedup-{name}"), &svg);
    }
    Ok(h)
}

/// A padded log-scale range holding the positive finite `values`.
pub(super) fn log_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold(None, |acc: Option<(f64, f64)>, v| Some(acc.map_or((v, v), |(a, b)| (a.min(v), b.max(v)))))?;
    let pad = ((hi / lo).powf(0.06)).max(1.05);
    Some((lo / pad, hi * pad))
}

/// A tick step of about `span / 5`: 1, 2 or 5 times a power of ten.
pub(super) fn nice_step(span: f64) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / 5.0;
    let p = 10f64.powf(raw.log10().floor());
    let f = raw / p;
    p * if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    }
}

/// Ticks between `lo` and `hi`: evenly spaced ones for a narrow range, the
/// 1-2-5 sequence for a wide one on a log scale.
pub(super) fn ticks(lo: f64, hi: f64, log: bool) -> Vec<f64> {
    let mut t = Vec::new();
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return vec![lo];
    }
    if log && hi / lo >= 4.0 {
        let mut e = lo.log10().floor() as i32;
        while 10f64.powi(e) <= hi {
            t.extend([1.0, 2.0, 5.0].iter().map(|m| m * 10f64.powi(e)).filter(|v| *v >= lo && *v <= hi));
            e += 1;
        }
        if t.len() > 10 {
            t.retain(|v| (v.log10() - v.log10().round()).abs() < 1e-9);
        }
    } else {
        let step = nice_step(hi - lo);
        let first = (lo / step).ceil() as i64;
        t.extend((first..).map(|k| k as f64 * step).take_while(|v| *v <= hi));
    }
    t
}

fn err(e: impl std::fmt::Display) -> String {
    format!("drawing a plot: {e}")
}

fn text_style(size: u32, c: &'static RGBColor) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).color(c)
}

/// A linear axis with the given ticks (plotters' own numeric axes take no
/// ticks of ours and keep their labels).
struct Linear {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for Linear {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let share = (v - self.range.start) / (self.range.end - self.range.start);
        limit.0 + (f64::from(limit.1 - limit.0) * share).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() { Vec::new() } else { self.ticks.clone() }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// A horizontal bar chart of ratios on a log scale, one row per bar (top to
/// bottom), then the geometric mean, with a dashed line at 1.
pub(super) fn ratio_chart(title: &str, x_desc: &str, bars: &[Bar], geomean: Option<f64>) -> Result<String, String> {
    let rows = bars.len() + usize::from(geomean.is_some());
    let values = bars.iter().filter_map(|b| b.value).flat_map(|r| [r.lo, r.value, r.hi]);
    let (lo, hi) = log_range(values.chain(geomean).chain([1.0])).unwrap_or((0.5, 2.0));
    let labels: Vec<String> = bars
        .iter()
        .map(|b| match b.value {
            Some(r) if r.value.is_finite() && r.value > 0.0 => format!("{}  {}×", b.name, num(r.value, 3)),
            _ => format!("{}  {}", b.name, b.missing),
        })
        .chain(geomean.map(|g| format!("geomean  {}×", num(g, 3))))
        .collect();
    let label_width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32 * 8 + 16;
    let y_of = |i: usize| (rows - 1 - i) as f64;
    let height = 90 + 24 * rows as u32;
    let mut svg = String::new();
    let mut drawn = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let y_label = |y: &f64| {
            let i = rows as f64 - 1.0 - y.round();
            if i >= 0.0 { labels.get(i as usize).cloned().unwrap_or_default() } else { String::new() }
        };
        let x_ticks = ticks(lo, hi, true);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 19))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(label_width.clamp(80, 360))
            .build_cartesian_2d(
                (lo..hi).log_scale().with_key_points(x_ticks),
                Linear { range: -0.6..rows as f64 - 0.4, ticks: (0..rows).map(|i| i as f64).collect() },
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(x_desc)
            .x_label_formatter(&|x| tick(*x))
            .y_label_formatter(&y_label)
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(err)?;
        for (i, b) in bars.iter().enumerate() {
            let Some(r) = b.value.filter(|r| r.value.is_finite() && r.value > 0.0) else { continue };
            let y = y_of(i);
            let rect = Rectangle::new([(1.0, y - 0.32), (r.value, y + 0.32)], b.colour.mix(BAR_ALPHA).filled());
            chart.draw_series([rect]).map_err(err)?;
            drawn.push((b.name, format!("{}: {}", b.name, ratio(&r))));
            if r.lo.is_finite() && r.hi.is_finite() && r.lo > 0.0 {
                let style = BLACK.stroke_width(1);
                let whisker = |x: f64| PathElement::new(vec![(x, y - 0.15), (x, y + 0.15)], style);
                let line = PathElement::new(vec![(r.lo, y), (r.hi, y)], style);
                chart.draw_series([line, whisker(r.lo), whisker(r.hi)]).map_err(err)?;
            }
        }
        if let Some(g) = geomean {
            let rect = Rectangle::new([(1.0, -0.32), (g, 0.32)], GEO_COLOUR.mix(GEO_ALPHA).filled());
            chart.draw_series([rect]).map_err(err)?;
        }
        let one = [(1.0, -0.6), (1.0, rows as f64 - 0.4)];
        chart.draw_series(DashedLineSeries::new(one, 5, 4, BLACK.stroke_width(1))).map_err(err)?;
        root.present().map_err(err)?;
    }
    mark_bars(&svg, &drawn, geomean.is_some())
}

/// Marks the rects drawn with [`BAR_ALPHA`] (in order, one per `bars`
/// entry: name and tooltip) as `class="bar"` and the one drawn with
/// [`GEO_ALPHA`] as `class="geomean"`.
pub(super) fn mark_bars(svg: &str, bars: &[(&str, String)], geomean: bool) -> Result<String, String> {
    let bar_mark = format!(" opacity=\"{BAR_ALPHA}\"");
    let geo_mark = format!(" opacity=\"{GEO_ALPHA}\"");
    let mut out = String::with_capacity(svg.len() + 100 * bars.len());
    let (mut rest, mut next, mut geo) = (svg, 0, 0);
    while let Some(start) = rest.find("<rect ") {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail.find("/>").ok_or("an unterminated <rect> in a plot")?;
        let (tag, attrs) = (&tail[..end + 2], tail["<rect ".len()..end].trim_end());
        if tag.contains(&bar_mark) {
            let (name, title) = bars.get(next).ok_or("more bars in a plot than drawn")?;
            next += 1;
            out.push_str(&format!(
                "<rect class=\"bar\" data-benchmark=\"{}\" {attrs}><title>{}</title></rect>",
                esc(name),
                esc(title)
            ));
        } else if tag.contains(&geo_mark) {
            geo += 1;
            out.push_str(&format!("<rect class=\"geomean\" {attrs}><title>geometric mean</title></rect>"));
        } else {
            out.push_str(tag);
        }
        rest = &tail[end + 2..];
    }
    out.push_str(rest);
    if next != bars.len() || geo != usize::from(geomean) {
        return Err(format!("a plot has {next} bars and {geo} means, not {} and {}", bars.len(), u8::from(geomean)));
    }
    Ok(out)
}

/// A legend on the right of a plot: a line (or dot) and the name of each
/// `(column index, name)`.
fn legend(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    items: &[(usize, &str)],
    dots: bool,
) -> Result<(), String> {
    for (k, (i, name)) in items.iter().enumerate() {
        let y = 44 + 22 * k as i32;
        let c = colour(*i);
        if dots {
            area.draw(&Circle::new((18, y), 4, c.filled())).map_err(err)?;
        } else {
            area.draw(&PathElement::new(vec![(6, y), (30, y)], c.stroke_width(2))).map_err(err)?;
        }
        let style = text_style(15, &BLACK).pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(name.to_string(), (36, y), style)).map_err(err)?;
    }
    Ok(())
}

fn legend_width(names: &[(usize, &str)]) -> u32 {
    (names.iter().map(|(_, n)| n.chars().count()).max().unwrap_or(0) as u32 * 8 + 50).clamp(90, 260)
}

/// The warm-up curve of one column: the median over the rounds that ran of
/// each iteration (ms), by iteration number from 1.
pub(super) fn warmup_curve(results: &Results, bench: usize, column: &str) -> Vec<(f64, f64)> {
    let runs: Vec<_> =
        results.benchmarks[bench].runs.iter().filter(|r| r.column == column && r.status == Status::Ok).collect();
    let len = runs.iter().map(|r| r.iterations_us.len()).max().unwrap_or(0);
    (0..len)
        .filter_map(|k| {
            let xs: Vec<f64> = runs.iter().filter_map(|r| r.iterations_us.get(k).map(|us| us / 1000.0)).collect();
            (!xs.is_empty()).then(|| ((k + 1) as f64, median(&xs)))
        })
        .filter(|p| p.1 > 0.0 && p.1.is_finite())
        .collect()
}

/// A column's warm-up curve: its index, name and points.
type Curve<'a> = (usize, &'a str, Vec<(f64, f64)>);

pub(super) fn warmup_svg(results: &Results, summary: &Summary, bench: usize) -> Result<String, String> {
    let name = &results.benchmarks[bench].name;
    let curves: Vec<Curve> = summary
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.as_str(), warmup_curve(results, bench, c)))
        .filter(|(_, _, v)| !v.is_empty())
        .collect();
    let Some((lo, hi)) = log_range(curves.iter().flat_map(|(_, _, v)| v.iter().map(|p| p.1))) else {
        return Ok(format!("<p class=\"note\">{}: no successful runs.</p>\n", esc(name)));
    };
    let n = curves.iter().map(|(_, _, v)| v.len()).max().unwrap_or(1) as f64;
    let items: Vec<(usize, &str)> = curves.iter().map(|(i, c, _)| (*i, *c)).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (600, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (left, right) = root.split_horizontally(600 - legend_width(&items));
        let mut x_ticks = ticks(1.0, n, false);
        x_ticks.retain(|x| x.fract() == 0.0);
        let mut chart = ChartBuilder::on(&left)
            .caption(format!("Warm-up: {name}"), (FONT, 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(
                Linear { range: 0.5..n + 0.5, ticks: x_ticks },
                (lo..hi).log_scale().with_key_points(ticks(lo, hi, true)),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("iteration")
            .y_desc("ms (log scale)")
            .x_label_formatter(&|x| tick(*x))
            .y_label_formatter(&|y| tick(*y))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(err)?;
        for (i, _, points) in &curves {
            let c = colour(*i);
            chart.draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2))).map_err(err)?;
            if points.len() <= 40 {
                chart.draw_series(points.iter().map(|p| Circle::new(*p, 2, c.filled()))).map_err(err)?;
            }
        }
        legend(&right, &items, false)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Compile time against the process's run time (median over rounds), one
/// point per benchmark and JIT column.
pub(super) fn compile_svg(results: &Results, summary: &Summary) -> Result<String, String> {
    let mut points: Vec<(usize, &str, f64, f64)> = Vec::new();
    for (i, c) in summary.columns.iter().enumerate().filter(|(_, c)| is_jit(results, c)) {
        for (row, b) in summary.rows.iter().zip(&results.benchmarks) {
            let walls: Vec<f64> =
                b.runs.iter().filter(|r| &r.column == c && r.status == Status::Ok).map(|r| r.wall_ms).collect();
            if let (Some(compile), false) = (row.cells[i].compile_ms, walls.is_empty()) {
                points.push((i, &row.benchmark, median(&walls), compile));
            }
        }
    }
    points.retain(|p| p.2 > 0.0 && p.3 > 0.0 && p.2.is_finite() && p.3.is_finite());
    let (Some((xlo, xhi)), Some((ylo, yhi))) =
        (log_range(points.iter().map(|p| p.2)), log_range(points.iter().map(|p| p.3)))
    else {
        return Ok("<p class=\"note\">No JIT column with compile times.</p>\n".to_string());
    };
    let mut items: Vec<(usize, &str)> = points.iter().map(|p| (p.0, summary.columns[p.0].as_str())).collect();
    items.dedup();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 460)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (left, right) = root.split_horizontally(WIDTH - legend_width(&items));
        let mut chart = ChartBuilder::on(&left)
            .caption("Compile time against run time", (FONT, 19))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (xlo..xhi).log_scale().with_key_points(ticks(xlo, xhi, true)),
                (ylo..yhi).log_scale().with_key_points(ticks(ylo, yhi, true)),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("process run time, ms (median over rounds, log scale)")
            .y_desc("compile ms (log scale)")
            .x_label_formatter(&|x| tick(*x))
            .y_label_formatter(&|y| tick(*y))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(points.iter().map(|(i, name, x, y)| {
                EmptyElement::at((*x, *y))
                    + Circle::new((0, 0), 4, colour(*i).filled())
                    + Text::new(name.to_string(), (6, -12), text_style(13, &GREY))
            }))
            .map_err(err)?;
        legend(&right, &items, true)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

//! `mica bench`: the runner on tiny benchmarks — every column of the
//! table, JSON with positive times in every mode, the report's plots,
//! comparing two runs, a failing benchmark, other VMs, an Are We Fast Yet
//! style directory — and the built-in suite verifying in every mode.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn mica(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mica")).args(args).output().expect("mica runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A directory for one test, removed when the test ends (kept, to look
/// at, when it fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("mica-bench-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn write(&self, file: &str, source: &str) -> String {
        let path = self.0.join(file);
        std::fs::write(&path, source).expect("write");
        path.display().to_string()
    }

    fn path(&self, file: &str) -> String {
        self.0.join(file).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Two tiny benchmarks that verify, and one that does not.
fn tiny(dir: &Scratch) -> (String, String, String) {
    let sum = dir.write(
        "TinySum.som",
        "TinySum = ( benchmark = ( | s | s := 0. 1 to: 2000 do: [ :i | s := s + i ]. ^s )
                     verify: r = ( ^r = 2001000 ) )",
    );
    let fib = dir.write(
        "TinyFib.som",
        "TinyFib = ( fib: n = ( ^n < 2 ifTrue: [ n ] ifFalse: [ (self fib: n - 1) + (self fib: n - 2) ] )
                     benchmark = ( ^self fib: 15 ) )",
    );
    let wrong = dir.write("TinyWrong.som", "TinyWrong = ( benchmark = ( ^3 + 4 ) verify: r = ( ^r = 8 ) )");
    (sum, fib, wrong)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

#[test]
fn the_table_has_every_column_and_json_has_positive_times_in_every_mode() {
    let dir = Scratch::new("table");
    let (sum, fib, _) = tiny(&dir);
    let out = mica(&["bench", &sum, &fib, "--iterations", "1", "--rounds", "1"]);
    let table = text(&out.stdout);
    assert!(out.status.success(), "{table}{}", text(&out.stderr));
    let header = table.lines().next().unwrap_or_default();
    for column in [
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
    ] {
        assert!(header.contains(column), "no '{column}' column in: {header}");
    }
    for row in ["TinySum", "TinyFib", "geomean"] {
        assert!(table.lines().any(|l| l.starts_with(row)), "no row {row}:\n{table}");
    }
    for mode in ["off", "baseline", "on", "eager"] {
        assert_eq!(table.lines().filter(|l| l.split_whitespace().any(|w| w == mode)).count(), 3, "{table}");
    }

    let out = mica(&["bench", &sum, &fib, "--iterations", "1", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = json(&out);
    let columns = v["summary"]["columns"].as_array().expect("columns");
    assert_eq!(columns.len(), 4);
    for row in v["summary"]["rows"].as_array().expect("rows") {
        for (cell, column) in row["cells"].as_array().expect("cells").iter().zip(columns) {
            let median = cell["steady"]["median"].as_f64().unwrap_or(0.0);
            assert!(median > 0.0, "{} in {column}: no positive time: {cell}", row["benchmark"]);
        }
    }
    let runs = v["results"]["benchmarks"][0]["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 4, "one run per mode");
    let eager = runs.iter().find(|r| r["column"] == "eager").expect("an eager run");
    assert!(eager["stats"]["methods_compiled"].as_u64().unwrap_or(0) > 0, "eager compiles: {eager}");
    assert!(eager["stats"]["peak_rss_bytes"].as_u64().unwrap_or(0) > 0, "{eager}");
    for format in ["markdown", "csv"] {
        let out = mica(&["bench", &sum, "--modes", "off", "--iterations", "1", "--format", format]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let first = text(&out.stdout).lines().next().unwrap_or_default().to_string();
        let expected = if format == "csv" { "benchmark,column,status" } else { "| benchmark | mode |" };
        assert!(first.starts_with(expected), "{format}: {first}");
    }
}

/// The `<svg>` elements of an HTML page, parsed.
fn svgs(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        let end = rest[start..].find("</svg>").expect("a closed svg") + start + "</svg>".len();
        found.push(rest[start..end].to_string());
        rest = &rest[end..];
    }
    found
}

/// The benchmarks of the bars of the speed-up plot of `mode`.
fn bars(html: &str, mode: &str) -> Vec<String> {
    let figure = html.find(&format!("id=\"speedup-{mode}\"")).unwrap_or_else(|| panic!("no speed-up plot of {mode}"));
    let svg = &svgs(&html[figure..])[0];
    let doc = roxmltree::Document::parse(svg).expect("the plot parses");
    doc.descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("class") == Some("bar"))
        .map(|n| n.attribute("data-benchmark").unwrap_or_default().to_string())
        .collect()
}

#[test]
fn the_report_plots_a_bar_per_benchmark_and_two_runs_compare() {
    let dir = Scratch::new("report");
    let (sum, fib, _) = tiny(&dir);
    let (old, new) = (dir.path("old"), dir.path("new"));
    for report in [&old, &new] {
        let out = mica(&["bench", &sum, &fib, "--iterations", "2", "--report", report]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let html = std::fs::read_to_string(Path::new(&new).join("report.html")).expect("report.html");
    let plots = svgs(&html);
    assert!(plots.len() >= 4, "speed-ups, warm-up curves, compile time: {} plots", plots.len());
    for svg in &plots {
        roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("an SVG that is not XML ({e}): {svg}"));
    }
    for mode in ["baseline", "on", "eager"] {
        let mut names = bars(&html, mode);
        names.sort();
        assert_eq!(names, ["TinyFib", "TinySum"], "one bar per benchmark for {mode}");
    }
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(&old).join("results.json")).expect("results.json"))
            .expect("results.json parses");
    assert_eq!(results["settings"]["iterations"], 2);
    assert_eq!(results["benchmarks"][0]["runs"][0]["iterations_us"].as_array().map(Vec::len), Some(2));

    let (old_json, new_json) = (format!("{old}/results.json"), format!("{new}/results.json"));
    let out = mica(&["bench", "--compare", &old_json, &new_json, "--report", &new]);
    let table = text(&out.stdout);
    assert!(out.status.success(), "{table}{}", text(&out.stderr));
    assert!(table.lines().next().unwrap_or_default().contains("new/old"), "{table}");
    assert_eq!(table.lines().filter(|l| l.starts_with("TinySum") || l.starts_with("TinyFib")).count(), 8, "{table}");
    let compare = std::fs::read_to_string(Path::new(&new).join("compare.html")).expect("compare.html");
    for svg in svgs(&compare) {
        roxmltree::Document::parse(&svg).expect("the comparison's plot parses");
    }
    let out = mica(&["bench", "--compare", &old_json, &sum]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a results.json"), "{}", text(&out.stderr));
}

#[test]
fn a_failing_benchmark_is_reported_and_the_others_run() {
    let dir = Scratch::new("failing");
    let (sum, _, wrong) = tiny(&dir);
    let out = mica(&["bench", &wrong, &sum, "--iterations", "1", "--modes", "off,on"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.lines().any(|l| l.starts_with("TinyWrong") && l.contains("failed")), "{stdout}");
    assert!(stdout.contains("the result is wrong"), "the failure says why: {stdout}");
    let sum_row = stdout.lines().find(|l| l.starts_with("TinySum")).expect("TinySum ran");
    assert!(!sum_row.contains("failed"), "{sum_row}");
}

#[test]
fn other_vms_are_columns_and_a_missing_one_is_a_clear_error() {
    let dir = Scratch::new("vms");
    let (sum, _, _) = tiny(&dir);
    let out = mica(&["bench", &sum, "--modes", "off", "--vm", "ghost=no-such-som-vm -c lib"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("--vm ghost: no-such-som-vm: no such program"), "{err}");
    assert!(out.stdout.is_empty(), "nothing ran");

    // Mica itself, interpreting, stands in for another SOM VM.
    let vm = format!("again={} --jit=off", env!("CARGO_BIN_EXE_mica"));
    let out = mica(&["bench", &sum, "--modes", "off", "--vm", &vm, "--iterations", "2", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(v["summary"]["columns"], serde_json::json!(["off", "again"]));
    let cell = &v["summary"]["rows"][0]["cells"][1];
    assert!(cell["steady"]["median"].as_f64().unwrap_or(0.0) > 0.0, "{cell}");
    assert!(cell["compile_ms"].is_null(), "another VM has no Mica counters: {cell}");
}

#[test]
fn an_awfy_style_directory_runs_at_its_sizes_with_its_class_path() {
    let dir = Scratch::new("awfy");
    // A harness speaking the Are We Fast Yet protocol, and a benchmark in
    // a folder of its own (found through the class path).
    dir.write(
        "Harness.som",
        "Harness = ( run: args = ( | name n size b t |
            name := args at: 2. n := (args at: 3) asInteger. size := (args at: 4) asInteger.
            b := (system resolve: name asSymbol) new.
            n timesRepeat: [ t := system ticks.
                (b run: size) = (size * (size + 1) / 2) ifFalse: [ system errorPrintln: 'wrong'. system exit: 1 ].
                (name + ': iterations=1 runtime: ' + (system ticks - t) asString + 'us') println ] ) )",
    );
    std::fs::create_dir_all(dir.0.join("Sieve")).expect("folder");
    dir.write("Sieve/Sieve.som", "Sieve = ( run: size = ( | s | s := 0. 1 to: size do: [ :i | s := s + i ]. ^s ) )");
    let awfy = dir.0.display().to_string();
    let out = mica(&["bench", &awfy, "--modes", "off,eager", "--iterations", "2", "--format", "json"]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let v = json(&out);
    let b = &v["results"]["benchmarks"][0];
    assert_eq!((b["name"].as_str(), b["size"].as_u64()), (Some("Sieve"), Some(1000)), "the standard size");
    assert_eq!(v["results"]["benchmarks"].as_array().map(Vec::len), Some(1));

    let out = mica(&["bench", &awfy, "--only", "Bounce"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--only Bounce: no such benchmark"), "{}", text(&out.stderr));
    let out = mica(&["bench", &dir.path("Sieve")]);
    assert!(text(&out.stderr).contains("needs a Harness.som"), "{}", text(&out.stderr));
}

#[test]
fn the_built_in_suite_verifies_in_every_mode() {
    let out = mica(&["bench", "--size", "1", "--iterations", "1", "--format", "json"]);
    let v = json(&out);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = v["summary"]["rows"].as_array().expect("rows");
    assert!(rows.len() >= 12, "about a dozen benchmarks: {}", rows.len());
    for row in rows {
        for cell in row["cells"].as_array().expect("cells") {
            assert!(cell["failed"].is_null(), "{}: {}", row["benchmark"], cell["failed"]);
        }
    }
}

#[test]
fn bad_arguments_say_what_is_wrong() {
    let out = mica(&["bench", "--modes", "turbo"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown mode 'turbo'"), "{}", text(&out.stderr));
    let out = mica(&["bench", "/no/such/place"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/no/such/place: no such file or directory"), "{}", text(&out.stderr));
    let out = mica(&["bench", "--help"]);
    assert!(out.status.success() && text(&out.stdout).contains("--iterations N"));
}

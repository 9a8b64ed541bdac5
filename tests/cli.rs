//! The `mica` command line: dumping bytecode, errors with positions, help,
//! and clear messages for bad arguments.

use std::path::PathBuf;
use std::process::{Command, Output};

fn mica(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mica")).args(args).output().expect("mica runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A directory for one test, removed when the test ends (but kept, to look
/// at, when it fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("mica-cli-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Writes `name.som` into a new scratch directory; answers the directory
/// (keep it alive while the file is used) and the file.
fn scratch(name: &str, source: &str) -> (Scratch, PathBuf) {
    let dir = Scratch::new(name);
    let path = dir.0.join(format!("{name}.som"));
    std::fs::write(&path, source).expect("write source");
    (dir, path)
}

/// Runs the REPL on `input` (not a terminal), without a history file.
fn repl(input: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mica"))
        .env_remove("HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mica starts");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write");
    child.wait_with_output().expect("mica ends")
}

#[test]
fn dumps_the_example() {
    let out = mica(&["--dump=bytecode", "examples/Hello.som"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Hello>>run"), "{stdout}");
    assert!(stdout.contains("'Hello, World from Mica!'"), "{stdout}");
    assert!(stdout.contains("SendLe"), "to:do: is inlined: {stdout}");
    assert!(stdout.contains("JumpBack"), "{stdout}");
}

#[test]
fn finds_classes_by_name_on_the_class_path() {
    let out = mica(&["--dump=bytecode", "-cp", "tests/bytecode", "Sends"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("class Sends = Fields"), "{stdout}");
    assert!(stdout.contains("fields: 0:^inherited 1:^other 2:own"), "{stdout}");
}

#[test]
fn syntax_error_shows_position_and_caret() {
    let (_dir, path) = scratch("Broken", "Broken = (\n    run = ( ^ 3 + )\n)\n");
    let out = mica(&["--dump=bytecode", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Broken.som:2:19: error: expected an argument but found ')'"), "{stderr}");
    assert!(stderr.contains("2 |     run = ( ^ 3 + )"), "{stderr}");
    assert!(stderr.contains("  |                   ^"), "{stderr}");
    assert!(text(&out.stdout).is_empty());
}

#[test]
fn missing_superclass_is_reported() {
    let (_dir, path) = scratch("Orphan", "Orphan = NoSuchClass ( run = ( ^ 1 ) )\n");
    let out = mica(&["--dump=bytecode", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Orphan.som:1:10: error: cannot find superclass NoSuchClass"), "{stderr}");
}

#[test]
fn other_files_still_dump_when_one_fails() {
    let (_dir, bad) = scratch("AlsoBroken", "AlsoBroken = ( run = ( ^ 'open ) )\n");
    let out = mica(&["--dump=bytecode", bad.to_str().expect("utf-8 path"), "examples/Hello.som"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("string is not closed"));
    assert!(text(&out.stdout).contains("Hello>>run"));
}

#[test]
fn missing_file_and_class_are_clear() {
    let out = mica(&["--dump=bytecode", "no/such/File.som"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no/such/File.som: no such file"));
    let out = mica(&["--dump=bytecode", "-cp", "tests/bytecode", "Nowhere"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("class Nowhere not found on the class path (tests/bytecode)"));
}

#[test]
fn binary_input_is_an_error_not_a_crash() {
    let dir = Scratch::new("bin");
    let path = dir.0.join("Bin.som");
    std::fs::write(&path, [0xff, 0xfe, 0x00, 0x41]).expect("write");
    let out = mica(&["--dump=bytecode", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not UTF-8"), "{}", text(&out.stderr));
}

#[test]
fn repl_evaluates_lines_and_survives_errors() {
    let out = repl("3 + 4\nx := 6 * 7\n1 / 0\nx + 1\n'a' , 'b'\n#(1 $a 'it''s' #(2) #foo nil)\nObject new\n");
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(lines, ["7", "42", "43", "a Vector('a' 'b')", "#(1 $a 'it''s' #(2) #foo nil)", "an Object"], "{stdout}");
    assert!(text(&out.stderr).contains("Division by zero."));
}

#[test]
fn repl_assignments_to_undeclared_names_make_globals() {
    // Each line is compiled on its own: `counter` is a global (StoreGlobal,
    // then PushGlobal), not a temporary. The REPL prints each line's value,
    // after its banner.
    let out = repl("counter := 41.\ncounter := counter + 1.\ncounter println.\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(lines, ["41", "42", "42", "42"], "{stdout}");
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
}

#[test]
fn edits_under_the_jit_deoptimise() {
    // Waiting for the code, so that it is in place before the edits.
    let out = mica(&[
        "--jit=on",
        "--jit-threshold=2",
        "--jit-loop-threshold=3",
        "--jit-background=off",
        "--stats",
        "tests/lang/EditUnderJit.som",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "4501\ndone\n");
    let stderr = text(&out.stderr);
    let line = stderr.lines().find(|l| l.starts_with("deoptimisations: ")).expect("a deoptimisation line");
    let count: u64 = line["deoptimisations: ".len()..].split(' ').next().and_then(|n| n.parse().ok()).expect("a count");
    assert!(count > 0, "{stderr}");
    assert!(stderr.contains("methods compiled"), "{stderr}");
}

#[test]
fn outgrown_inline_caches_recompile() {
    let out =
        mica(&["--jit=on", "--jit-threshold=2", "--jit-background=off", "--stats", "tests/lang/GrowingCache.som"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "6100\n");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("1 because inline caches learnt classes after it was compiled"), "{stderr}");
    // And where: the method whose code was made again.
    let site = stderr.lines().find(|l| l.contains("GrowingCache>>describe: (inline caches learnt"));
    let site = site.unwrap_or_else(|| panic!("no deoptimisation site in:\n{stderr}"));
    assert_eq!(site.split_whitespace().next(), Some("1"), "{site}");
}

#[test]
fn an_inlined_callee_meeting_new_classes_recompiles_its_caller() {
    let file = "tests/lang/InlinedGrowingCache.som";
    let expected = "#Integer #String #Double #Symbol\n";
    // Where the exits are counted: against the caller whose code holds the
    // inlined copy; with inlining off, against the callee's own code.
    for (inline, site) in [("48", "InlinedGrowingCache>>run"), ("0", "InlinedGrowingCache>>describe:")] {
        let flag = format!("--jit-inline-bytes={inline}");
        let out = mica(&["--jit=on", "--jit-background=off", &flag, "--stats", "--dump=sends", file]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.ends_with(expected), "{stdout}");
        assert_eq!(stdout.contains("inlined: InlinedGrowingCache>>describe:"), inline != "0", "{stdout}");
        let stderr = text(&out.stderr);
        let wanted = format!("{site} (inline caches learnt");
        let line = stderr.lines().find(|l| l.contains(&wanted));
        let line = line.unwrap_or_else(|| panic!("no deoptimisation of {site} in:\n{stderr}"));
        assert_eq!(line.split_whitespace().next(), Some("1"), "{line}");
        assert!(stderr.contains(&format!("--jit-inline-bytes={inline} ")), "{stderr}");
    }
}

/// The language test of inlined blocks reaches the code it is about: with
/// low thresholds, the blocks its methods make are inlined where the short
/// methods they are passed to value them, passed on one more level with a
/// deeper limit, and not at all with inlining off or in the baseline tier;
/// the answers are the same.
#[test]
fn blocks_passed_to_inlined_callees_are_inlined_where_they_are_valued() {
    let file = "tests/lang/InlinedBlocks.som";
    let low = ["--jit=on", "--jit-threshold=2", "--jit-loop-threshold=3", "--jit-background=off", "--dump=sends"];
    let run = |extra: &str| {
        let out = mica(&[&low[..], &[extra, file]].concat());
        assert!(out.status.success(), "{extra}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let reference = text(&mica(&["--jit=off", file]).stdout);
    assert!(reference.starts_with("sums 20100 200\n"), "{reference}");
    let default = run("--jit-inline-depth=2");
    for block in ["sums", "fields", "find:", "closures", "kepts", "handled", "edits", "fact:", "pairs"] {
        let line = format!("block inlined: InlinedBlocks>>{block} (block)");
        assert!(default.contains(&line), "no '{line}' in:\n{default}");
    }
    assert!(!default.contains("block inlined: InlinedBlocks>>throughs (block)"), "{default}");
    let deeper = run("--jit-inline-depth=3");
    assert!(deeper.contains("block inlined: InlinedBlocks>>throughs (block)"), "{deeper}");
    let none = run("--jit-inline-bytes=0");
    assert!(!none.contains("inlined:"), "{none}");
    // The baseline tier alone compiles the same methods and inlines nothing.
    let baseline = run("--jit=baseline");
    assert!(!baseline.contains("inlined:"), "{baseline}");
    assert!(baseline.contains("InlinedBlocks>>sums"), "the baseline compiled nothing:\n{baseline}");
    // The program's own lines, between those of the dump.
    for out in [default, deeper, none, baseline] {
        let own: Vec<&str> =
            out.lines().filter(|l| !l.is_empty() && !l.starts_with(';') && !l.starts_with(' ')).collect();
        assert_eq!(own, reference.lines().collect::<Vec<_>>(), "{out}");
    }
}

/// Code compiled while its arithmetic had met only SmallIntegers keeps no
/// unboxed doubles; when it meets a SmallFloat it is compiled again with
/// them. Under eager compilation a method waits for the first receivers of
/// its ordinary sends only (its special sends may never fill their caches).
#[test]
fn code_compiled_for_integers_is_compiled_again_when_it_meets_doubles() {
    let file = "tests/programs/FloatsLate.som";
    let floats = "(its arithmetic met Doubles after it was compiled)";
    let feedback = "(it was compiled before its sends had run)";
    let run = |args: &[&str]| {
        let out = mica(&[args, &["--stats", file]].concat());
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "12.5\n55.5\n55\n", "{args:?}");
        text(&out.stderr)
    };
    run(&["--jit=off"]);
    let on = run(&["--jit=on", "--jit-threshold=2", "--jit-loop-threshold=3", "--jit-background=off"]);
    for method in ["halves:", "sum:from:"] {
        assert!(on.contains(&format!("FloatsLate>>{method} {floats}")), "{method}:\n{on}");
    }
    let eager = run(&["--jit=eager"]);
    assert!(eager.contains(&format!("FloatsLate>>halves: {floats}")), "{eager}");
    assert!(eager.contains(&format!("FloatsLate>>sum:from: {feedback}")), "{eager}");
    assert!(eager.contains(&format!("FloatsLate>>sum:from: {floats}")), "{eager}");
}

#[test]
fn help_and_bad_arguments() {
    let out = mica(&["--help"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("Usage:"));
    let out = mica(&["--dump=nonsense", "x.som"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown --dump kind 'nonsense'"));
    let out = mica(&["--dump=bytecode"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no class or file given"), "{}", text(&out.stderr));
    let out = mica(&["--version"]);
    assert!(text(&out.stdout).starts_with("mica "));
}

#[test]
fn ten_thousand_processes() {
    for mode in ["--jit=off", "--jit=on", "--jit=eager"] {
        let out = mica(&[mode, "tests/programs/ManyProcesses.som"]);
        assert!(out.status.success(), "{mode}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "10000 waiting\n10000 finished, sum 50005000\n", "{mode}");
    }
}

#[test]
fn running_out_of_the_heap_is_an_error_a_handler_can_catch() {
    for mode in ["--jit=off", "--jit=on"] {
        let out = mica(&[mode, "--max-heap=32m", "tests/programs/HeapLimit.som"]);
        assert_eq!(out.status.code(), Some(1), "{mode}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "caught: OutOfMemory\nallocating again works\n", "{mode}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("Out of memory: the heap reached its limit of 32 MiB (--max-heap)"),
            "{mode}: {stderr}"
        );
        assert!(stderr.contains("HeapLimit>>run"), "a stack trace: {stderr}");
    }
}

#[test]
fn heap_limits_are_checked() {
    let out = mica(&["--max-heap=1m", "examples/Hello.som"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("too small"), "{}", text(&out.stderr));
    let out = mica(&["--max-heap=lots", "examples/Hello.som"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("needs a size"), "{}", text(&out.stderr));
    let out = mica(&["--max-heap=64m", "examples/Hello.som"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Every tunable of the JIT's table is an option `mica --help` shows with
/// its default, that the design page lists, and that refuses a bad value.
#[test]
fn every_jit_tunable_is_documented_and_checked() {
    let help = text(&mica(&["--help"]).stdout);
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/design/jit.md")).expect("jit.md");
    let defaults = interp::JitConfig::default();
    for t in interp::JitConfig::TUNABLES {
        let default = defaults.shown(t.field).expect("a field");
        assert!(help.contains(&format!("{}={}", t.flag, t.metavar)), "--help lacks {}:\n{help}", t.flag);
        let row = page.lines().find(|l| l.starts_with('|') && l.contains(&format!("`{}=", t.flag)));
        let row = row.unwrap_or_else(|| panic!("docs/design/jit.md lists no {}", t.flag));
        assert!(row.contains(&format!("| {default} |")), "docs/design/jit.md gives {} another default: {row}", t.flag);
        let out = mica(&[&format!("{}=bad", t.flag), "examples/Hello.som"]);
        assert_eq!(out.status.code(), Some(2), "{}=bad", t.flag);
        assert!(text(&out.stderr).contains(t.flag), "{}", text(&out.stderr));
    }
}

/// `--dump=sends` says, for each send site of each compiled method, the
/// classes its code guards for and what it runs for each; a method compiled
/// again after its cache grew says so again with the new classes.
#[test]
fn dump_sends_shows_each_sites_guards_and_targets() {
    let out =
        mica(&["--jit=on", "--jit-threshold=2", "--jit-background=off", "--dump=sends", "tests/lang/GrowingCache.som"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let first = stdout.find("; sends of GrowingCache>>describe:").unwrap_or_else(|| panic!("{stdout}"));
    let again = stdout[first + 1..].find("; sends of GrowingCache>>describe:").map(|i| i + first + 1);
    let again = again.unwrap_or_else(|| panic!("compiled once only:\n{stdout}"));
    assert!(stdout[first..again].contains("#asString: guards for 1 class; Integer -> primitive"), "{stdout}");
    assert!(stdout[again..].contains("#asString: guards for 4 classes;"), "{stdout}");
    assert!(stdout[again..].contains("Double -> primitive"), "{stdout}");
    assert!(stdout.ends_with("6100\n"), "{stdout}");
}

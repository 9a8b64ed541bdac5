//! Start-up and memory of mapped images.
//!
//! - Time from exec to the first line printed, and peak RSS, for a program
//!   whose image is tiny versus one of ~100 MB (thousands of classes with
//!   large literals, none of them touched): loading must cost the same.
//! - Mica's hello world from source (its kernel mapped from the binary),
//!   and som-rs's (which parses its core library at every start) when
//!   `SOMRS=path/to/som-interpreter-bc` and
//!   `SOMRS_CORE=path/to/core-lib/Smalltalk` are set.
//! - Resident memory before and after a full collection with the 100 MB
//!   image loaded and one image object written.
//!
//! Runs are interleaved. `cargo bench --bench images [-- ROUNDS]`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CLASSES: usize = 3000;
const LITERAL_BYTES: usize = 32_000;

fn mica() -> &'static str {
    env!("CARGO_BIN_EXE_mica")
}

fn write_package(dir: &Path, name: &str, classes: usize) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("package directory");
    let manifest = format!("[package]\nname = \"{name}\"\nversion = \"1.0.0\"\nmain = \"Main\"\n");
    std::fs::write(dir.join("mica.toml"), manifest).expect("manifest");
    let literal = "x".repeat(LITERAL_BYTES);
    for i in 0..classes {
        let source = format!("C{i} = (\n  data = ( ^'{literal}{i}' )\n  more = ( ^#(1 2 3 'abc' #s{i}) )\n)\n");
        std::fs::write(dir.join(format!("C{i}.som")), source).expect("class");
    }
    std::fs::write(
        dir.join("Main.som"),
        "Main = (
    run: args = (
        | before after |
        'hello' println.
        args size > 1 ifTrue: [
            Main probe: (Array new: 10).
            before := system imageStats.
            system fullGC.
            after := system imageStats.
            ('rss ' + (before at: 6) asString + ' ' + (after at: 6) asString
                + ' written ' + (after at: 4) asString + ' objects ' + (after at: 5) asString
                + ' imageResident ' + (before at: 3) asString + ' ' + (after at: 3) asString) println ]
    )
    ----
    | probe |
    probe: x = ( probe := x )
)
",
    )
    .expect("main");
}

fn build(dir: &Path, out: &Path) {
    let status = Command::new(mica()).arg("build").arg(dir).arg("-o").arg(out).status().expect("mica runs");
    assert!(status.success(), "building {}", dir.display());
}

/// Runs `cmd`, answering the time until its first line of output and its
/// peak resident memory in KiB. (The child is reaped with `wait4`, which
/// also gives its peak memory, rather than `Child::wait`.)
#[allow(clippy::zombie_processes)]
fn measure(cmd: &mut Command) -> (Duration, u64, String) {
    let start = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawns");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    out.read_line(&mut first).expect("reads");
    let elapsed = start.elapsed();
    let mut rest = String::new();
    for line in out.lines() {
        rest.push_str(&line.expect("reads"));
        rest.push('\n');
    }
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid for wait4 to fill; `pid` is our
    // child, not yet waited for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    (elapsed, usage.ru_maxrss as u64, first.trim().to_string() + "\n" + &rest)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20);
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-images");
    std::fs::create_dir_all(&work).expect("work directory");
    let (tiny_dir, big_dir) = (work.join("tiny"), work.join("big"));
    let (tiny, big) = (work.join("tiny.mimg"), work.join("big.mimg"));
    write_package(&tiny_dir, "Tiny", 0);
    write_package(&big_dir, "Big", CLASSES);
    let t = Instant::now();
    build(&tiny_dir, &tiny);
    build(&big_dir, &big);
    let big_size = std::fs::metadata(&big).expect("image").len();
    println!(
        "built the images in {} (tiny {} bytes, big {} bytes)",
        ms(t.elapsed()),
        std::fs::metadata(&tiny).expect("image").len(),
        big_size
    );
    let hello = work.join("Hello.som");
    std::fs::write(&hello, "Hello = ( run = ( 'hello' println ) )\n").expect("hello");
    let somrs = std::env::var("SOMRS").ok().zip(std::env::var("SOMRS_CORE").ok());
    let (mut t_tiny, mut t_big, mut t_hello, mut t_somrs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut rss_tiny, mut rss_big, mut rss_hello, mut rss_somrs) = (0, 0, 0, 0);
    for _ in 0..rounds {
        let (d, rss, out) = measure(Command::new(mica()).arg("run").arg(&tiny));
        assert_eq!(out, "hello\n");
        t_tiny.push(d);
        rss_tiny = rss_tiny.max(rss);
        let (d, rss, out) = measure(Command::new(mica()).arg("run").arg(&big));
        assert_eq!(out, "hello\n");
        t_big.push(d);
        rss_big = rss_big.max(rss);
        let (d, rss, out) = measure(Command::new(mica()).arg(&hello));
        assert_eq!(out, "hello\n");
        t_hello.push(d);
        rss_hello = rss_hello.max(rss);
        if let Some((bin, core)) = &somrs {
            let (d, rss, out) =
                measure(Command::new(bin).current_dir(&work).arg("-cp").arg(format!(".:{core}")).arg("Hello.som"));
            if out.starts_with("hello") {
                t_somrs.push(d);
                rss_somrs = rss_somrs.max(rss);
            }
        }
    }
    let (mt, mb) = (median(t_tiny.clone()), median(t_big.clone()));
    println!("exec to first line, median of {rounds} interleaved runs:");
    println!("  tiny image      {:>10}   peak RSS {rss_tiny} KiB", ms(mt));
    println!("  100 MB image    {:>10}   peak RSS {rss_big} KiB   (image {} MiB)", ms(mb), big_size >> 20);
    println!("  ratio big/tiny  {:.3}", mb.as_secs_f64() / mt.as_secs_f64());
    println!("  hello (source)  {:>10}   peak RSS {rss_hello} KiB", ms(median(t_hello)));
    if !t_somrs.is_empty() {
        println!("  som-rs hello    {:>10}   peak RSS {rss_somrs} KiB", ms(median(t_somrs)));
    }
    for (label, image) in [("100 MB image", &big), ("tiny image", &tiny)] {
        let (_, _, out) = measure(Command::new(mica()).arg("run").arg(image).arg("--").arg("gc"));
        let words: Vec<&str> = out.lines().nth(1).unwrap_or_default().split_whitespace().collect();
        if let [_, before, after, _, written, _, objects, _, image_before, image_after] = words[..] {
            let kib = |s: &str| s.parse::<i64>().unwrap_or(0) / 1024;
            println!(
                "full GC with the {label} loaded: process RSS {} KiB before, {} KiB after ({:+} KiB); \
                 image pages resident {} KiB before, {} KiB after; image bytes written {written}, image objects written {objects}",
                kib(before),
                kib(after),
                kib(after) - kib(before),
                kib(image_before),
                kib(image_after)
            );
        } else {
            println!("full GC probe printed: {out}");
        }
    }
}

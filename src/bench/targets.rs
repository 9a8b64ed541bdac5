//! What to run: the benchmarks of a target and the command line of each
//! run.
//!
//! Three kinds of target, one harness protocol: a run is a process given
//! `NAME ITERATIONS SIZE`, which prints `NAME: iterations=1 runtime: Tus`
//! per iteration and exits 0 if the result verified.
//! - Mica's own suite, a mini-image built into this binary (`benches/suite`);
//!   its harness lists the benchmarks and their sizes (`list`).
//! - A directory laid out as the Are We Fast Yet SOM benchmarks are
//!   (`Harness.som`, a folder per larger benchmark), at its standard sizes.
//! - A `.som` file whose class answers `benchmark`, run by the suite's
//!   harness from source.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::model::{Column, ColumnKind};

/// The built-in suite, as a mini-image (built by `build.rs`).
const SUITE_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bench-suite.mimg"));
/// The suite's source files (names and texts), for running its harness
/// from source: on a `.som` file, or in another VM.
const SUITE_SOURCES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/bench-suite.rs"));

/// The Are We Fast Yet benchmarks and their standard sizes (inner
/// iterations), as its own configuration runs them.
const AWFY: [(&str, u64); 14] = [
    ("Bounce", 1000),
    ("CD", 100),
    ("DeltaBlue", 12000),
    ("Havlak", 1),
    ("Json", 100),
    ("List", 1000),
    ("Mandelbrot", 500),
    ("NBody", 250000),
    ("Permute", 500),
    ("Queens", 500),
    ("Richards", 20),
    ("Sieve", 1000),
    ("Storage", 1000),
    ("Towers", 600),
];

/// Where a target's benchmarks come from, and how a run starts.
#[derive(Clone, Debug)]
pub enum Source {
    /// The built-in suite, written out as this image file and as sources
    /// (for other VMs).
    Suite { image: PathBuf, sources: PathBuf },
    /// An Are We Fast Yet style directory and its class path.
    Awfy { dir: PathBuf, class_path: String },
    /// A `.som` file, run by the suite's harness written to `harness`.
    File { harness: PathBuf, dir: PathBuf },
}

/// One benchmark to run.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Its name (the class the harness runs).
    pub name: String,
    /// The size passed to the harness.
    pub size: u64,
    /// Where it comes from.
    pub source: Source,
}

impl Spec {
    /// The `suite` field of its results.
    pub fn suite(&self) -> String {
        match &self.source {
            Source::Suite { .. } => "mica".to_string(),
            Source::Awfy { dir, .. } => format!("awfy:{}", dir.display()),
            Source::File { dir, .. } => dir.join(format!("{}.som", self.name)).display().to_string(),
        }
    }

    /// The process that runs it `iterations` times in `column`, writing
    /// Mica's counters to `stats`.
    pub fn command(&self, column: &Column, iterations: u32, stats: &Path) -> Result<Command, String> {
        let (program, fixed) = column.command.split_first().ok_or("a column without a command")?;
        let mut cmd = Command::new(program);
        let args = [self.name.clone(), iterations.to_string(), self.size.to_string()];
        let mica_flags = || vec!["--live=off".to_string(), format!("--stats-json={}", stats.display())];
        match (&self.source, column.kind) {
            (Source::Suite { image, .. }, ColumnKind::Mica) => {
                cmd.arg("run").args(fixed).args(mica_flags()).arg(image).arg("--").args(args);
            }
            (Source::Suite { sources, .. }, kind) => {
                other_vm_args(&mut cmd, fixed, kind, &sources.display().to_string(), &mica_flags);
                cmd.arg(sources.join("BenchHarness.som")).args(args);
            }
            (Source::Awfy { dir, class_path }, kind) => {
                cmd.current_dir(dir);
                other_vm_args(&mut cmd, fixed, kind, class_path, &mica_flags);
                cmd.arg("Harness.som").args(args);
            }
            (Source::File { harness, dir }, kind) => {
                // The file's folder first: its class shadows any of the suite's.
                let class_path = format!("{}:{}", dir.display(), harness.display());
                other_vm_args(&mut cmd, fixed, kind, &class_path, &mica_flags);
                cmd.arg(harness.join("BenchHarness.som")).args(args);
            }
        }
        Ok(cmd)
    }
}

/// The fixed arguments of a column and the class path: Mica's flags, or
/// another VM's command with `{classpath}` replaced (or `-cp` appended).
fn other_vm_args(
    cmd: &mut Command,
    fixed: &[String],
    kind: ColumnKind,
    class_path: &str,
    mica: &dyn Fn() -> Vec<String>,
) {
    let placeholder = fixed.iter().any(|a| a.contains("{classpath}"));
    cmd.args(fixed.iter().map(|a| a.replace("{classpath}", class_path)));
    if kind == ColumnKind::Mica {
        cmd.args(mica());
    }
    if !placeholder {
        cmd.arg("-cp").arg(class_path);
    }
}

/// Writes the suite's sources into `dir`.
fn write_sources(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (file, text) in SUITE_SOURCES {
        std::fs::write(dir.join(file), text).map_err(|e| format!("{}: cannot write: {e}", dir.display()))?;
    }
    Ok(())
}

/// Writes the built-in suite's image (and sources) into `work` and lists
/// its benchmarks (by running its harness with `list`).
pub fn suite(work: &Path, mica: &Path) -> Result<Vec<Spec>, String> {
    let image = work.join("bench-suite.mimg");
    std::fs::write(&image, SUITE_IMAGE).map_err(|e| format!("{}: cannot write: {e}", image.display()))?;
    let sources = work.join("suite");
    write_sources(&sources)?;
    let out = Command::new(mica)
        .args(["run", "--live=off"])
        .arg(&image)
        .args(["--", "list"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", mica.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "the built-in suite does not list its benchmarks: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut specs = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        let (Some(name), Some(size), None) = (words.next(), words.next().and_then(|s| s.parse().ok()), words.next())
        else {
            return Err(format!("the built-in suite lists '{line}', not NAME SIZE"));
        };
        let source = Source::Suite { image: image.clone(), sources: sources.clone() };
        specs.push(Spec { name: name.to_string(), size, source });
    }
    Ok(specs)
}

/// The benchmarks of an Are We Fast Yet style directory: the standard ones
/// it has, at their standard sizes, and any other class named in `only`.
pub fn awfy(dir: &Path, only: &[String]) -> Result<Vec<Spec>, String> {
    let dir = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    // The directory itself first, then Core (its own collection classes
    // shadow the kernel's), then the other folders holding classes.
    let mut folders: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir() && has_classes(&e.path()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    folders.sort_by_key(|f| (f != "Core", f.clone()));
    let class_path = std::iter::once(".".to_string()).chain(folders.iter().cloned()).collect::<Vec<_>>().join(":");
    let defines = |name: &str| {
        std::iter::once(dir.clone())
            .chain(folders.iter().map(|f| dir.join(f)))
            .any(|d| d.join(format!("{name}.som")).is_file())
    };
    let source = Source::Awfy { dir: dir.clone(), class_path };
    let mut specs: Vec<Spec> = AWFY
        .iter()
        .filter(|(name, _)| defines(name))
        .map(|&(name, size)| Spec { name: name.to_string(), size, source: source.clone() })
        .collect();
    for name in only {
        if !specs.iter().any(|s| &s.name == name) && defines(name) {
            specs.push(Spec { name: name.clone(), size: 1, source: source.clone() });
        }
    }
    if specs.is_empty() {
        return Err(format!("{}: has Harness.som but none of the Are We Fast Yet benchmarks", dir.display()));
    }
    Ok(specs)
}

fn has_classes(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()).any(|e| e.path().extension().is_some_and(|x| x == "som")))
        .unwrap_or(false)
}

/// A `.som` file's class, run by the suite's harness (written into `work`).
pub fn file(path: &Path, work: &Path) -> Result<Spec, String> {
    let path = path.canonicalize().map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.file_stem().and_then(|s| s.to_str()).ok_or_else(|| format!("{}: no class name", path.display()))?;
    let dir = path.parent().ok_or_else(|| format!("{}: no directory", path.display()))?.to_path_buf();
    let harness = work.join("suite");
    write_sources(&harness)?;
    // Size 0: the class's own (or none).
    Ok(Spec { name: name.to_string(), size: 0, source: Source::File { harness, dir } })
}

/// The benchmarks of every target (the built-in suite if none).
pub fn plan(targets: &[String], only: &[String], work: &Path, mica: &Path) -> Result<Vec<Spec>, String> {
    let mut specs = Vec::new();
    if targets.is_empty() {
        specs = suite(work, mica)?;
    }
    for t in targets {
        let path = Path::new(t);
        if path.is_dir() {
            if !path.join("Harness.som").is_file() {
                return Err(format!("{t}: a directory target needs a Harness.som (Are We Fast Yet's layout)"));
            }
            specs.extend(awfy(path, only)?);
        } else if path.extension().is_some_and(|x| x == "som") {
            if !path.is_file() {
                return Err(format!("{t}: no such file"));
            }
            specs.push(file(path, work)?);
        } else if !path.exists() {
            return Err(format!("{t}: no such file or directory"));
        } else {
            return Err(format!("{t}: a target is a directory with Harness.som or a .som file"));
        }
    }
    if !only.is_empty() {
        if let Some(missing) = only.iter().find(|n| !specs.iter().any(|s| &s.name == *n)) {
            let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            return Err(format!("--only {missing}: no such benchmark (there are: {})", names.join(", ")));
        }
        specs.retain(|s| only.contains(&s.name));
    }
    Ok(specs)
}

/// The columns: this Mica in each mode, then the other VMs (checked to
/// exist, so that a typo fails before anything runs).
pub fn columns(mica: &Path, modes: &[String], vms: &[(String, String)]) -> Result<Vec<Column>, String> {
    let mut columns: Vec<Column> = modes
        .iter()
        .map(|m| Column {
            name: m.clone(),
            kind: ColumnKind::Mica,
            command: vec![mica.display().to_string(), format!("--jit={m}")],
        })
        .collect();
    for (name, command) in vms {
        let words = shlex::split(command).ok_or_else(|| format!("--vm {name}: cannot split '{command}' into words"))?;
        let Some(program) = words.first() else { return Err(format!("--vm {name}: an empty command")) };
        if find_program(program).is_none() {
            return Err(format!("--vm {name}: {program}: no such program (not a file, nor found on PATH)"));
        }
        columns.push(Column { name: name.clone(), kind: ColumnKind::OtherVm, command: words });
    }
    Ok(columns)
}

/// Where `program` is: a path as given, or found on `PATH`.
fn find_program(program: &str) -> Option<PathBuf> {
    let executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.is_file() && p.metadata().is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|d| d.join(program)).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|p| executable(p))
}

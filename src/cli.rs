//! Command-line parsing: SOM-style options (`-cp`), `--dump=...`, help,
//! and the image commands (`build`, `info`, `verify`, `run`, `link`,
//! `bundle`).

use std::fmt;

/// What to print with `--dump`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpKind {
    /// Bytecode listings of every method.
    Bytecode,
    /// Cranelift IR of every method the JIT compiles (while running).
    Ir,
    /// Machine code of every method the JIT compiles (while running).
    Asm,
    /// What each send site of every method the JIT compiles does: the
    /// classes it guards for and what it runs for each (while running).
    Sends,
}

impl DumpKind {
    const ALL: &'static [(&'static str, DumpKind)] =
        &[("bytecode", DumpKind::Bytecode), ("ir", DumpKind::Ir), ("asm", DumpKind::Asm), ("sends", DumpKind::Sends)];

    fn parse(s: &str) -> Result<DumpKind, CliError> {
        DumpKind::ALL.iter().find(|(n, _)| *n == s).map(|&(_, k)| k).ok_or_else(|| {
            let known: Vec<&str> = DumpKind::ALL.iter().map(|(n, _)| *n).collect();
            CliError(format!("unknown --dump kind '{s}' (known: {})", known.join(", ")))
        })
    }
}

/// The JIT mode asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JitChoice {
    /// Interpreter only.
    Off,
    /// Compile hot methods with the baseline tier only: no inlining.
    Baseline,
    /// Compile hot methods, inlining with their feedback (default).
    #[default]
    On,
    /// Compile every method before it first runs.
    Eager,
}

/// What the command line asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Command {
    /// Run a class from source, SOM-style (or the REPL, or a bytecode dump).
    #[default]
    Source,
    /// `mica build DIR -o FILE`
    Build,
    /// `mica info FILE`
    Info,
    /// `mica verify FILE`
    Verify,
    /// `mica run FILE... [-- ARGS]`
    Run,
    /// `mica link FILE... -o FILE`
    Link,
    /// `mica bundle FILE -o EXE [--sealed]`
    Bundle,
}

impl JitChoice {
    /// The mode's name, as `--jit=` takes it.
    pub fn name(self) -> &'static str {
        match self {
            JitChoice::Off => "off",
            JitChoice::Baseline => "baseline",
            JitChoice::On => "on",
            JitChoice::Eager => "eager",
        }
    }
}

impl Command {
    const NAMES: &'static [(&'static str, Command)] = &[
        ("build", Command::Build),
        ("info", Command::Info),
        ("verify", Command::Verify),
        ("run", Command::Run),
        ("link", Command::Link),
        ("bundle", Command::Bundle),
    ];

    /// The command's name.
    pub fn name(&self) -> &'static str {
        Command::NAMES.iter().find(|(_, c)| c == self).map_or("", |(n, _)| n)
    }
}

/// A parsed command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// The command.
    pub command: Command,
    /// `-o FILE` (build, link, bundle).
    pub output: Option<String>,
    /// `-L PATH` library paths (build, run): image files or directories.
    pub lib_paths: Vec<String>,
    /// `--sealed` (bundle).
    pub sealed: bool,
    /// Image files, or the package directory (the image commands).
    pub files: Vec<String>,
    /// `-cp` / `--classpath` directories, in order.
    pub class_path: Vec<String>,
    /// `--dump=` kinds.
    pub dump: Vec<DumpKind>,
    /// `--help`
    pub help: bool,
    /// `--version`
    pub version: bool,
    /// `--stats`: print counters and cache states at exit.
    pub stats: bool,
    /// `--stats-json=FILE`: write the counters to FILE at exit, as JSON.
    pub stats_json: Option<String>,
    /// `--gc-stress`: collect at every allocation and verify the heap.
    pub gc_stress: bool,
    /// `--max-heap=SIZE`: the most bytes the heap may hold.
    pub max_heap: Option<usize>,
    /// `--live=off`: open no live connection endpoint.
    pub live_off: bool,
    /// `--load FILE`: files of live edits to apply before the program runs.
    pub load: Vec<String>,
    /// `--listen=HOST:PORT`: a TCP endpoint for live connections too.
    pub listen: Option<String>,
    /// `--tls-cert FILE`: the TCP endpoint's certificate chain (PEM).
    pub tls_cert: Option<String>,
    /// `--tls-key FILE`: the private key of `--tls-cert` (PEM).
    pub tls_key: Option<String>,
    /// `--jit=off|baseline|on|eager`.
    pub jit: JitChoice,
    /// The first `--jit-inline-*` option given, if any (`--jit=baseline`
    /// does not inline, so it refuses them).
    pub inline_option: Option<String>,
    /// `--jit-threshold=N` and the other tunables of the JIT's table
    /// (`interp::JitConfig::TUNABLES`); its mode is not used (see `jit`).
    pub jit_tunables: interp::JitConfig,
    /// The class or file to run (or files to dump), then its arguments.
    pub rest: Vec<String>,
}

/// A bad command line.
#[derive(Debug, PartialEq, Eq)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The text of `mica --help` (the JIT's tunables come from their table).
pub fn usage() -> String {
    USAGE_TEMPLATE.replace("{tunables}", &interp::JitConfig::help())
}

const USAGE_TEMPLATE: &str = "\
Mica: a Smalltalk virtual machine (SOM dialect)

Usage:
  mica [options] [-cp DIR:DIR...] MainClass|path/File.som [args...]
  mica [options] [-cp DIR:DIR...]              (no class: read-eval-print loop)
  mica --dump=bytecode [-cp DIR:DIR...] FILE.som|Class...
  mica build|info|verify|run|link|bundle ...   mini-images (mica build --help)
  mica bench [TARGET...]                       benchmarks, interpreter vs JIT (mica bench --help)

Runs MainClass (found on the class path, or given as a file): makes an
instance and sends it run: with the arguments (element 1 is the class name),
or run if it does not understand run:.

Options:
  -cp, --classpath DIRS  directories (separated by ':') searched for classes,
                         in order; a file's own directory is searched after them
  --dump=KINDS           print compiled code (KINDS, comma-separated):
                         bytecode (instead of running), ir and asm (of each
                         method the JIT compiles, while running), sends (what
                         each send site of a compiled method does: the
                         classes it guards for and what it runs for each)
  --jit=MODE             on (default: compile hot methods, inlining what
                         their inline caches found), baseline (compile hot
                         methods without inlining), off (interpreter only),
                         eager (compile every method before it runs, then
                         again with its first feedback)
{tunables}  --stats                at exit, print the hottest methods, inline-cache
                         states and collector figures on standard error
  --stats-json=FILE      at exit, write the counters (compile time, code
                         size, inline caches, deoptimisations, collector,
                         peak memory) to FILE as one JSON object
  --max-heap=SIZE        the most memory the heap may hold (bytes, or with k,
                         m, g: 512m, 2g); past it, allocating signals
                         OutOfMemory (default: half the machine's memory,
                         at most 4g)
  --load FILE            apply a file of live edits (mica connect PID --save
                         FILE) before the program runs
  --live=on|off          on (default): the same user may connect to the
                         running program with mica connect PID; off: no
                         connection endpoint is opened
  --listen=HOST:PORT     also accept live connections over TCP from clients
                         that give the token (written to a file only you may
                         read; its path is printed): mica connect HOST:PORT
                         --token-file FILE. Port 0 picks a free port. Only a
                         loopback address (127.0.0.1, [::1]) without TLS
  --tls-cert FILE        with --listen: speak TLS, with this certificate
  --tls-key FILE         chain and its private key (PEM files); needed to
                         listen on an address other machines reach
  --gc-stress            collect at every allocation and verify the heap
                         (slow; for testing the VM)
  -h, --help             print this help
  -V, --version          print the version

  mica connect PID ...   connect to a running program (mica connect --help)
  mica connect HOST:PORT --token-file FILE ...
                         connect over TCP to a program started with --listen
  mica dap               a debug adapter (DAP) for editors (docs/dap.md)
";

/// The smallest heap `--max-heap` accepts.
pub const MIN_HEAP: usize = 16 << 20;

/// A size in bytes: a whole number with an optional k, m or g (powers of
/// 1024; `KiB`, `MB`... read the same).
fn parse_size(text: &str) -> Result<usize, CliError> {
    let lower = text.trim().to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &lower[digits.len()..];
    if digits.is_empty() {
        return Err(CliError(format!("--max-heap needs a size such as 512m or 2g, not '{text}'")));
    }
    let shift = match unit {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(CliError(format!("--max-heap: unknown unit '{unit}' in '{text}' (k, m or g)"))),
    };
    let n: usize =
        digits.parse().map_err(|_| CliError(format!("--max-heap needs a size such as 512m or 2g, not '{text}'")))?;
    let bytes = n.checked_mul(1 << shift).ok_or_else(|| CliError(format!("--max-heap={text} is too large")))?;
    if bytes < MIN_HEAP {
        return Err(CliError(format!("--max-heap={text} is too small: the heap needs at least 16m")));
    }
    Ok(bytes)
}

/// The options of the TCP endpoint, which take a value (after `=` or as
/// the next argument).
const REMOTE_OPTIONS: &[&str] = &["--listen", "--tls-cert", "--tls-key"];

/// Sets the TCP endpoint's option `name` to `value`.
fn remote_option(o: &mut Options, name: &str, value: &str) -> Result<(), CliError> {
    if value.is_empty() {
        return Err(CliError(format!("{name} needs a value")));
    }
    match name {
        "--listen" => {
            crate::live::remote::Address::parse(value).map_err(|e| CliError(format!("--listen: {e}")))?;
            o.listen = Some(value.to_string());
        }
        "--tls-cert" => o.tls_cert = Some(value.to_string()),
        _ => o.tls_key = Some(value.to_string()),
    }
    Ok(())
}

/// Whether the JIT's options go together.
fn check_jit(o: &Options) -> Result<(), CliError> {
    match &o.inline_option {
        Some(flag) if o.jit == JitChoice::Baseline && !o.help => {
            Err(CliError(format!("--jit=baseline does not inline: {flag} goes with --jit=on or --jit=eager")))
        }
        _ => Ok(()),
    }
}

/// Whether the TCP endpoint's options go together.
fn check_remote(o: &Options) -> Result<(), CliError> {
    if o.help {
        return Ok(());
    }
    if o.tls_cert.is_some() != o.tls_key.is_some() {
        return Err(CliError("--tls-cert and --tls-key go together: a certificate chain and its private key".into()));
    }
    if o.listen.is_none() {
        return match o.tls_cert {
            Some(_) => Err(CliError("--tls-cert and --tls-key go with --listen=HOST:PORT".into())),
            None => Ok(()),
        };
    }
    if o.live_off {
        return Err(CliError("--listen opens a live connection: it cannot go with --live=off".into()));
    }
    if o.command == Command::Source && (o.rest.is_empty() || o.dump.contains(&DumpKind::Bytecode)) {
        return Err(CliError("--listen needs a program to run (a class, or mica run IMAGE)".into()));
    }
    Ok(())
}

/// Reads `arg` if it is an option of running a program (`--stats`,
/// `--jit=...`, ...): whether it was one.
fn run_option(o: &mut Options, arg: &str) -> Result<bool, CliError> {
    let value = |prefix: &str| arg.strip_prefix(prefix);
    if let Some((name, v)) = arg.split_once('=')
        && REMOTE_OPTIONS.contains(&name)
    {
        remote_option(o, name, v)?;
    } else if arg == "--stats" {
        o.stats = true;
    } else if let Some(file) = value("--stats-json=") {
        if file.is_empty() {
            return Err(CliError("--stats-json needs a file: --stats-json=FILE".to_string()));
        }
        o.stats_json = Some(file.to_string());
    } else if arg == "--gc-stress" {
        o.gc_stress = true;
    } else if let Some(size) = value("--max-heap=") {
        o.max_heap = Some(parse_size(size)?);
    } else if let Some(file) = value("--load=") {
        o.load.push(file.to_string());
    } else if let Some(choice) = value("--live=") {
        o.live_off = match choice {
            "on" => false,
            "off" => true,
            other => return Err(CliError(format!("--live is on or off, not '{other}'"))),
        };
    } else if let Some(mode) = value("--jit=") {
        o.jit = [JitChoice::Off, JitChoice::Baseline, JitChoice::On, JitChoice::Eager]
            .into_iter()
            .find(|j| j.name() == mode)
            .ok_or_else(|| CliError(format!("unknown --jit mode '{mode}' (off, baseline, on, eager)")))?;
    } else if let Some(set) = o.jit_tunables.set(arg) {
        set.map_err(CliError)?;
        if arg.starts_with("--jit-inline-") && o.inline_option.is_none() {
            o.inline_option = Some(arg.split('=').next().unwrap_or(arg).to_string());
        }
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// The help of the image commands.
pub const IMAGE_USAGE: &str = "\
Mini-images: compiled code and objects, mapped rather than loaded.

  mica build DIR -o FILE [-L PATH]...
      compile the package in DIR (its .som files and mica.toml) into a
      mini-image; the images it imports are found on the library paths
      (image files, or directories of *.mimg files)
  mica info FILE
      header, sections and sizes, namespaces and versions, imports,
      exports; works on a bundled executable too, and says if it is sealed
  mica verify FILE
      a deep check of every checksum, object, reference and method
  mica run [options] FILE... [-L PATH]... [-- ARGS...]
      map the images, bind their imports, and send run: (with the
      arguments, element 1 the class name) or run to the main class of the
      last image that names one (to the class if its class side defines
      it, else to a new instance); the run options (--jit, --stats, ...)
      apply
  mica link FILE... -o FILE
      one image from several, references between them resolved
  mica bundle FILE -o EXE [--sealed]
      an executable: this VM with the image appended, which runs with no
      other files; --sealed marks the program as refusing live connections

A package's mica.toml:
  [package]
  name = \"Geometry\"
  version = \"1.2.0\"
  main = \"App\"          # optional
  [imports]
  Json = \"^1.0\"
";

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Options, CliError> {
    if let Some(first) = args.first()
        && let Some(&(_, command)) = Command::NAMES.iter().find(|(n, _)| n == first)
    {
        return parse_image_command(command, &args[1..]);
    }
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if !o.rest.is_empty() && o.dump.is_empty() {
            // Everything after the main class belongs to the program.
            o.rest.push(arg.clone());
            i += 1;
            continue;
        }
        match arg.as_str() {
            "-h" | "--help" => o.help = true,
            "-V" | "--version" => o.version = true,
            s if run_option(&mut o, s)? => {}
            "--load" => {
                i += 1;
                let value = args.get(i).ok_or_else(|| CliError("--load needs a file of live edits".into()))?;
                o.load.push(value.clone());
            }
            s if REMOTE_OPTIONS.contains(&s) => {
                i += 1;
                remote_option(&mut o, s, args.get(i).map_or("", String::as_str))?;
            }
            "-cp" | "--classpath" | "-classpath" => {
                i += 1;
                let value =
                    args.get(i).ok_or_else(|| CliError(format!("{arg} needs a value: a list of directories")))?;
                o.class_path.extend(value.split(':').filter(|s| !s.is_empty()).map(str::to_string));
            }
            s if s.starts_with("--dump=") => {
                for kind in s["--dump=".len()..].split(',') {
                    let k = DumpKind::parse(kind)?;
                    if !o.dump.contains(&k) {
                        o.dump.push(k);
                    }
                }
            }
            "--dump" => {
                return Err(CliError("--dump needs a value, as in --dump=bytecode".into()));
            }
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(CliError(format!("unknown option '{s}' (see mica --help)")));
            }
            _ => o.rest.push(arg.clone()),
        }
        i += 1;
    }
    check_remote(&o)?;
    check_jit(&o)?;
    Ok(o)
}

/// Parses the arguments of an image command.
fn parse_image_command(command: Command, args: &[String]) -> Result<Options, CliError> {
    let mut o = Options { command, ..Options::default() };
    let name = command.name();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let mut value = |what: &str| -> Result<String, CliError> {
            i += 1;
            args.get(i).cloned().ok_or_else(|| CliError(format!("{arg} needs a value: {what}")))
        };
        match arg {
            "--" if command == Command::Run => {
                o.rest.extend(args[i + 1..].iter().cloned());
                break;
            }
            "-h" | "--help" => o.help = true,
            "-o" | "--output" if matches!(command, Command::Build | Command::Link | Command::Bundle) => {
                if o.output.is_some() {
                    return Err(CliError(format!("mica {name}: -o given twice")));
                }
                o.output = Some(value("the file to write")?);
            }
            "-L" | "--lib" if matches!(command, Command::Build | Command::Run) => {
                o.lib_paths.push(value("an image or a directory of images")?)
            }
            "--sealed" if command == Command::Bundle => o.sealed = true,
            s if command == Command::Run && REMOTE_OPTIONS.contains(&s) => {
                let v = value("see mica --help")?;
                remote_option(&mut o, s, &v)?;
            }
            s if command == Command::Run && run_option(&mut o, s)? => {}
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(CliError(format!("mica {name}: unknown option '{s}' (see mica {name} --help)")));
            }
            _ => o.files.push(arg.to_string()),
        }
        i += 1;
    }
    if o.help {
        return Ok(o);
    }
    let (min, max, what) = match command {
        Command::Build => (1, 1, "a package directory"),
        Command::Info | Command::Verify | Command::Bundle => (1, 1, "an image file"),
        Command::Run | Command::Link => (1, usize::MAX, "image files"),
        Command::Source => unreachable!("not an image command"),
    };
    if o.files.len() < min {
        return Err(CliError(format!("mica {name} needs {what} (see mica {name} --help)")));
    }
    if o.files.len() > max {
        return Err(CliError(format!("mica {name} takes one file, not {} ({})", o.files.len(), o.files.join(", "))));
    }
    if matches!(command, Command::Build | Command::Link | Command::Bundle) && o.output.is_none() {
        return Err(CliError(format!("mica {name} needs -o FILE: where to write")));
    }
    check_remote(&o)?;
    check_jit(&o)?;
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn som_style_command_line() {
        let o = parse(&args(&["-cp", "a:b", "Main", "-x", "3"])).expect("parses");
        assert_eq!(o.class_path, ["a", "b"]);
        assert_eq!(o.rest, ["Main", "-x", "3"]);
    }

    #[test]
    fn dump_takes_several_files() {
        let o = parse(&args(&["--dump=bytecode", "A.som", "-cp", "lib", "B.som"])).expect("parses");
        assert_eq!(o.dump, [DumpKind::Bytecode]);
        assert_eq!(o.rest, ["A.som", "B.som"]);
        assert_eq!(o.class_path, ["lib"]);
    }

    #[test]
    fn jit_options() {
        let o = parse(&args(&["--jit=eager", "--jit-threshold=5", "--dump=ir,asm", "Main"])).expect("parses");
        assert_eq!(o.jit, JitChoice::Eager);
        assert_eq!(o.jit_tunables.invocation_threshold, 5);
        assert_eq!(o.dump, [DumpKind::Ir, DumpKind::Asm]);
        assert_eq!(parse(&args(&["Main"])).expect("parses").jit, JitChoice::On);
        let o = parse(&args(&["--jit-background=off", "Main"])).expect("parses");
        assert!(!o.jit_tunables.background);
        let o = parse(&args(&["run", "--jit-background=on", "a.mimg"])).expect("parses");
        assert!(o.jit_tunables.background);
        let o = parse(&args(&["--jit-recompile-after=7", "--jit-max-recompiles=0", "Main"])).expect("parses");
        assert_eq!((o.jit_tunables.recompile_exits, o.jit_tunables.max_recompilations), (7, 0));
        let e = parse(&args(&["--jit-background=maybe", "Main"])).expect_err("a bad choice");
        assert!(e.0.contains("neither on nor off"), "{e}");
        let o = parse(&args(&["--jit=baseline", "--jit-threshold=9", "Main"])).expect("parses");
        assert_eq!((o.jit, o.jit.name()), (JitChoice::Baseline, "baseline"));
        let o = parse(&args(&["--jit-inline-depth=3", "--jit=eager", "Main"])).expect("parses");
        assert_eq!((o.jit, o.jit_tunables.inline_depth), (JitChoice::Eager, 3));
        for line in [
            &["--jit=baseline", "--jit-inline-bytes=9", "Main"][..],
            &["run", "--jit-inline-depth=2", "--jit=baseline", "a.mimg"],
        ] {
            let e = parse(&args(line)).expect_err("baseline does not inline");
            assert!(e.0.contains("--jit=baseline does not inline: --jit-inline-"), "{e}");
        }
    }

    #[test]
    fn image_commands() {
        let o = parse(&args(&["build", "pkg", "-o", "out.mimg", "-L", "libs"])).expect("parses");
        assert_eq!(
            (o.command, o.files, o.output, o.lib_paths),
            (Command::Build, args(&["pkg"]), Some("out.mimg".into()), args(&["libs"]))
        );
        let o = parse(&args(&["run", "--jit=off", "a.mimg", "b.mimg", "--", "x", "--y"])).expect("parses");
        assert_eq!((o.command, o.jit), (Command::Run, JitChoice::Off));
        assert_eq!((o.files, o.rest), (args(&["a.mimg", "b.mimg"]), args(&["x", "--y"])));
        let o = parse(&args(&["bundle", "a.mimg", "-o", "app", "--sealed"])).expect("parses");
        assert!(o.sealed);
        assert!(parse(&args(&["build", "pkg"])).unwrap_err().0.contains("needs -o FILE"));
        assert!(parse(&args(&["info"])).unwrap_err().0.contains("needs an image file"));
        assert!(parse(&args(&["info", "a", "b"])).unwrap_err().0.contains("takes one file"));
        assert!(
            parse(&args(&["link", "a", "--sealed", "-o", "x"])).unwrap_err().0.contains("unknown option '--sealed'")
        );
        assert!(parse(&args(&["bundle", "a", "-o"])).unwrap_err().0.contains("-o needs a value"));
        assert!(parse(&args(&["info", "--help"])).expect("parses").help);
    }

    #[test]
    fn errors_are_clear() {
        assert!(parse(&args(&["--dump=deopt"])).unwrap_err().0.contains("unknown --dump kind 'deopt'"));
        assert!(parse(&args(&["--jit=fast"])).unwrap_err().0.contains("unknown --jit mode 'fast'"));
        assert!(parse(&args(&["--jit-threshold=x"])).unwrap_err().0.contains("not a whole number"));
        assert!(parse(&args(&["-cp"])).unwrap_err().0.contains("needs a value"));
        assert!(parse(&args(&["--frobnicate"])).unwrap_err().0.contains("unknown option"));
    }

    #[test]
    fn remote_options() {
        let o = parse(&args(&["--listen=127.0.0.1:0", "--tls-cert", "c.pem", "--tls-key=k.pem", "Main"])).unwrap();
        assert_eq!(o.listen.as_deref(), Some("127.0.0.1:0"));
        assert_eq!((o.tls_cert.as_deref(), o.tls_key.as_deref()), (Some("c.pem"), Some("k.pem")));
        let o = parse(&args(&["run", "--listen", "[::1]:7000", "app.mimg"])).unwrap();
        assert_eq!(o.listen.as_deref(), Some("[::1]:7000"));
        let e = |a: &[&str]| parse(&args(a)).unwrap_err().0;
        assert!(e(&["--listen=nowhere", "Main"]).contains("HOST:PORT"), "{}", e(&["--listen=nowhere", "Main"]));
        assert!(e(&["--listen"]).contains("needs a value"));
        assert!(e(&["--listen=127.0.0.1:1", "--tls-cert=c", "Main"]).contains("go together"));
        assert!(e(&["--tls-cert=c", "--tls-key=k", "Main"]).contains("go with --listen"));
        assert!(e(&["--listen=127.0.0.1:1", "--live=off", "Main"]).contains("--live=off"));
        assert!(e(&["--listen=127.0.0.1:1"]).contains("needs a program"));
        assert!(e(&["run", "--listen=:1", "a.mimg"]).contains("no host"));
    }

    #[test]
    fn heap_sizes() {
        let size = |s: &str| parse(&args(&[&format!("--max-heap={s}"), "Main"])).map(|o| o.max_heap);
        assert_eq!(size("64m"), Ok(Some(64 << 20)));
        assert_eq!(size("2G"), Ok(Some(2 << 30)));
        assert_eq!(size("65536k"), Ok(Some(64 << 20)));
        assert_eq!(size("17000000"), Ok(Some(17_000_000)));
        assert!(size("1m").unwrap_err().0.contains("too small"));
        assert!(size("12x").unwrap_err().0.contains("unknown unit"));
        assert!(size("lots").unwrap_err().0.contains("needs a size"));
        assert!(size("99999999999999g").unwrap_err().0.contains("too large"));
    }
}

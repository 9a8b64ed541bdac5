//! Command-line parsing: SOM-style options (`-cp`), `--dump=...`, help.

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
}

impl DumpKind {
    const ALL: &'static [(&'static str, DumpKind)] =
        &[("bytecode", DumpKind::Bytecode), ("ir", DumpKind::Ir), ("asm", DumpKind::Asm)];

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
    /// Compile hot methods (default).
    #[default]
    On,
    /// Compile every method before it first runs.
    Eager,
}

/// A parsed command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
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
    /// `--gc-stress`: collect at every allocation and verify the heap.
    pub gc_stress: bool,
    /// `--jit=off|on|eager`.
    pub jit: JitChoice,
    /// `--jit-threshold=N`: activations before a method is compiled.
    pub jit_threshold: Option<u64>,
    /// `--jit-loop-threshold=N`: loop iterations before a method is compiled.
    pub jit_loop_threshold: Option<u64>,
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

/// The text of `mica --help`.
pub const USAGE: &str = "\
Mica: a Smalltalk virtual machine (SOM dialect)

Usage:
  mica [options] [-cp DIR:DIR...] MainClass|path/File.som [args...]
  mica [options] [-cp DIR:DIR...]              (no class: read-eval-print loop)
  mica --dump=bytecode [-cp DIR:DIR...] FILE.som|Class...

Runs MainClass (found on the class path, or given as a file): makes an
instance and sends it run: with the arguments (element 1 is the class name),
or run if it does not understand run:.

Options:
  -cp, --classpath DIRS  directories (separated by ':') searched for classes,
                         in order; a file's own directory is searched after them
  --dump=KINDS           print compiled code (KINDS, comma-separated):
                         bytecode (instead of running), ir and asm (of each
                         method the JIT compiles, while running)
  --jit=MODE             on (default: compile hot methods), off (interpreter
                         only), eager (compile every method before it runs)
  --jit-threshold=N      activations before a method is compiled (1000)
  --jit-loop-threshold=N loop iterations before a method is compiled and its
                         running activation moves to native code (5000)
  --stats                at exit, print the hottest methods, inline-cache
                         states and collector figures on standard error
  --gc-stress            collect at every allocation and verify the heap
                         (slow; for testing the VM)
  -h, --help             print this help
  -V, --version          print the version
";

fn number(arg: &str, prefix: &str) -> Result<u64, CliError> {
    arg[prefix.len()..]
        .parse()
        .map_err(|_| CliError(format!("{prefix} needs a whole number, not '{}'", &arg[prefix.len()..])))
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Options, CliError> {
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
            "--stats" => o.stats = true,
            "--gc-stress" => o.gc_stress = true,
            s if s.starts_with("--jit=") => {
                o.jit = match &s["--jit=".len()..] {
                    "off" => JitChoice::Off,
                    "on" => JitChoice::On,
                    "eager" => JitChoice::Eager,
                    other => return Err(CliError(format!("unknown --jit mode '{other}' (off, on, eager)"))),
                }
            }
            s if s.starts_with("--jit-threshold=") => o.jit_threshold = Some(number(s, "--jit-threshold=")?),
            s if s.starts_with("--jit-loop-threshold=") => {
                o.jit_loop_threshold = Some(number(s, "--jit-loop-threshold=")?)
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
        assert_eq!(o.jit_threshold, Some(5));
        assert_eq!(o.dump, [DumpKind::Ir, DumpKind::Asm]);
        assert_eq!(parse(&args(&["Main"])).expect("parses").jit, JitChoice::On);
    }

    #[test]
    fn errors_are_clear() {
        assert!(parse(&args(&["--dump=deopt"])).unwrap_err().0.contains("unknown --dump kind 'deopt'"));
        assert!(parse(&args(&["--jit=fast"])).unwrap_err().0.contains("unknown --jit mode 'fast'"));
        assert!(parse(&args(&["--jit-threshold=x"])).unwrap_err().0.contains("needs a whole number"));
        assert!(parse(&args(&["-cp"])).unwrap_err().0.contains("needs a value"));
        assert!(parse(&args(&["--frobnicate"])).unwrap_err().0.contains("unknown option"));
    }
}

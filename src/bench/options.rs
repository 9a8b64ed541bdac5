//! The command line of `mica bench`.

/// The text of `mica bench --help`.
pub const USAGE: &str = "\
mica bench: time benchmarks under the interpreter, the JIT and eager
compilation, side by side

Usage:
  mica bench [OPTIONS]                    Mica's own suite (built in)
  mica bench [OPTIONS] DIR                an Are We Fast Yet style directory
                                          (Harness.som; e.g. are-we-fast-yet/
                                          benchmarks/SOM), standard sizes
  mica bench [OPTIONS] FILE.som           a class answering benchmark (and,
                                          if it can, verify: aResult)
  mica bench --compare OLD.json NEW.json  the change between two runs
                                          (results.json of --report)

Options:
  --modes LIST        JIT modes to run, comma-separated (off,baseline,on,
                      eager: all); baseline is the JIT without inlining
  --iterations N      iterations in each process, to see warm-up (10); the
                      steady state is the second half of them
  --rounds R          fresh processes per benchmark and mode (1); the modes
                      take turns, round by round, so that machine noise falls
                      on all of them alike
  --only NAMES        only these benchmarks (comma-separated)
  --size N            the size (inner iterations or problem size) of every
                      benchmark, instead of each one's standard size
  --vm NAME=COMMAND   another SOM VM as an extra column, run on the same
                      harness (any number): COMMAND gets -cp CLASSPATH
                      Harness.som NAME ITERATIONS SIZE appended, or, if it
                      holds {classpath}, that is replaced and -cp is left out
  --format FORMAT     table (default), markdown, csv or json
  --report DIR        also write DIR/results.json (every measurement) and
                      DIR/report.html (tables and plots)
  --timeout SECONDS   a run taking longer fails (600)
  -h, --help          print this help

Each run is its own process. For each benchmark and mode it shows the
steady-state median with its 95% confidence interval, the first iteration
(compilation included), the speed-up over the interpreter (off), compile
time, inline-cache hit rate, deoptimisations, collector time and peak
memory, and a geometric mean. '~' marks a figure too noisy to trust. A
benchmark that fails (a wrong result, an error) is reported and the others
go on; the status is then 1.
";

/// How the results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// A Markdown table.
    Markdown,
    /// Comma-separated values, one line per benchmark and column.
    Csv,
    /// The summary and every measurement as one JSON object.
    Json,
}

/// The JIT modes, in the order they are shown.
pub const MODES: [&str; 4] = ["off", "baseline", "on", "eager"];

/// What `mica bench` was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// Directories or files; empty: the built-in suite.
    pub targets: Vec<String>,
    /// JIT modes, in [`MODES`] order.
    pub modes: Vec<String>,
    /// Iterations per process.
    pub iterations: u32,
    /// Processes per benchmark and column.
    pub rounds: u32,
    /// Benchmarks to run (empty: all).
    pub only: Vec<String>,
    /// A size for every benchmark.
    pub size: Option<u64>,
    /// Other VMs: name and command.
    pub vms: Vec<(String, String)>,
    /// How to print.
    pub format: Format,
    /// Where to write the report.
    pub report: Option<String>,
    /// Seconds a run may take.
    pub timeout: u64,
    /// `--compare OLD NEW`.
    pub compare: Option<(String, String)>,
    /// `--help`.
    pub help: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            targets: Vec::new(),
            modes: MODES.iter().map(|m| m.to_string()).collect(),
            iterations: 10,
            rounds: 1,
            only: Vec::new(),
            size: None,
            vms: Vec::new(),
            format: Format::Table,
            report: None,
            timeout: 600,
            compare: None,
            help: false,
        }
    }
}

fn positive(option: &str, text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{option} needs a positive whole number, not '{text}'")),
    }
}

fn list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

/// Parses the arguments after `bench`.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        // `--name=value` or `--name value`.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg, None),
        };
        let takes_value = matches!(
            name,
            "--modes"
                | "--iterations"
                | "--rounds"
                | "--only"
                | "--size"
                | "--vm"
                | "--format"
                | "--report"
                | "--timeout"
        );
        let value = if takes_value {
            match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i).cloned().ok_or_else(|| format!("{name} needs a value"))?
                }
            }
        } else if inline.is_some() {
            return Err(format!("{name} takes no value"));
        } else {
            String::new()
        };
        match name {
            "-h" | "--help" => o.help = true,
            "--modes" => {
                let modes = list(&value);
                if let Some(bad) = modes.iter().find(|m| !MODES.contains(&m.as_str())) {
                    return Err(format!("unknown mode '{bad}' in --modes (off, baseline, on, eager)"));
                }
                if modes.is_empty() {
                    return Err("--modes needs at least one of off, baseline, on, eager".to_string());
                }
                o.modes = MODES.iter().filter(|m| modes.iter().any(|x| x == *m)).map(|m| m.to_string()).collect();
            }
            "--iterations" => o.iterations = positive(name, &value)?.min(u32::MAX as u64) as u32,
            "--rounds" => o.rounds = positive(name, &value)?.min(u32::MAX as u64) as u32,
            "--only" => o.only.extend(list(&value)),
            "--size" => o.size = Some(positive(name, &value)?),
            "--timeout" => o.timeout = positive(name, &value)?,
            "--vm" => {
                let Some((vm, command)) = value.split_once('=') else {
                    return Err(format!("--vm needs NAME=COMMAND, not '{value}'"));
                };
                let vm = vm.trim();
                if vm.is_empty() || command.trim().is_empty() {
                    return Err(format!("--vm needs NAME=COMMAND, not '{value}'"));
                }
                if MODES.contains(&vm) || o.vms.iter().any(|(n, _)| n == vm) {
                    return Err(format!("--vm {vm}: that name is already a column"));
                }
                o.vms.push((vm.to_string(), command.to_string()));
            }
            "--format" => {
                o.format = match value.as_str() {
                    "table" => Format::Table,
                    "markdown" => Format::Markdown,
                    "csv" => Format::Csv,
                    "json" => Format::Json,
                    other => return Err(format!("unknown --format '{other}' (table, markdown, csv, json)")),
                }
            }
            "--report" => o.report = Some(value),
            "--compare" => {
                let (Some(old), Some(new)) = (args.get(i + 1), args.get(i + 2)) else {
                    return Err("--compare needs two results files: --compare OLD.json NEW.json".to_string());
                };
                o.compare = Some((old.clone(), new.clone()));
                i += 2;
            }
            s if s.starts_with('-') => return Err(format!("unknown option '{s}' (see mica bench --help)")),
            target => o.targets.push(target.to_string()),
        }
        i += 1;
    }
    if o.compare.is_some() && !o.targets.is_empty() {
        return Err("--compare reads two results files and runs nothing: give it no target".to_string());
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_are_read_in_both_spellings() {
        let o = parse(&args(&["--modes", "eager,off", "--iterations=3", "--only", "A,B", "--vm", "x=som -c lib", "d"]))
            .unwrap();
        assert_eq!(o.modes, ["off", "eager"], "modes keep their fixed order");
        assert_eq!((o.iterations, o.rounds), (3, 1));
        assert_eq!(o.only, ["A", "B"]);
        assert_eq!(o.vms, [("x".to_string(), "som -c lib".to_string())]);
        assert_eq!(o.targets, ["d"]);
        let o = parse(&args(&["--compare", "a.json", "b.json", "--format=csv"])).unwrap();
        assert_eq!(o.compare, Some(("a.json".into(), "b.json".into())));
        assert_eq!(o.format, Format::Csv);
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        let err = |a: &[&str]| parse(&args(a)).unwrap_err();
        assert!(err(&["--modes", "fast"]).contains("unknown mode 'fast'"));
        assert!(err(&["--iterations", "0"]).contains("positive"));
        assert!(err(&["--rounds"]).contains("needs a value"));
        assert!(err(&["--vm", "nocommand"]).contains("NAME=COMMAND"));
        assert!(err(&["--vm", "on=x"]).contains("already a column"));
        assert!(err(&["--format", "xml"]).contains("unknown --format"));
        assert!(err(&["--compare", "a.json"]).contains("two results files"));
        assert!(err(&["--frobnicate"]).contains("unknown option"));
    }
}

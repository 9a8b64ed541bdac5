//! `mica`: the command-line program.
#![forbid(unsafe_code)]

mod bench;
mod cli;
mod dap;
mod images;
mod kernel;
mod live;
mod repl;
mod signals;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use interp::{InterpConfig, Interpreter, JitConfig, JitMode};
use vm::bytecode::{disassemble_class, verify_class};
use vm::compiler::{ClassPath, compile_file};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "connect") && !images::is_bundle() {
        return live::client::main(&args[1..]);
    }
    if args.first().is_some_and(|a| a == "bench") && !images::is_bundle() {
        return bench::main(&args[1..]);
    }
    if args.first().is_some_and(|a| a == "dap") && !images::is_bundle() {
        return dap::main(&args[1..]);
    }
    if let Some(status) = images::run_bundled(&args) {
        return status;
    }
    let options = match cli::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("mica: {e}");
            return ExitCode::from(2);
        }
    };
    if options.help {
        print!("{}", if options.command == cli::Command::Source { cli::usage() } else { cli::IMAGE_USAGE.to_string() });
        return ExitCode::SUCCESS;
    }
    match options.command {
        cli::Command::Source => {}
        cli::Command::Build => return images::build(&options),
        cli::Command::Info => return images::info(&options),
        cli::Command::Verify => return images::verify(&options),
        cli::Command::Run => return images::run(&options),
        cli::Command::Link => return images::link(&options),
        cli::Command::Bundle => return images::bundle(&options),
    }
    if options.version {
        println!("mica {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if options.rest.is_empty() && options.dump.is_empty() {
        return run_repl(&options);
    }
    if options.rest.is_empty() {
        eprint!("mica: no class or file given\n\n{}", cli::usage());
        return ExitCode::from(2);
    }
    let class_path = ClassPath::new(options.class_path.iter().map(PathBuf::from).collect());
    if options.dump.contains(&cli::DumpKind::Bytecode) {
        if options.dump.len() > 1 {
            eprintln!("mica: --dump=bytecode does not run the program; ir and asm dumps need a run");
            return ExitCode::from(2);
        }
        return dump_bytecode(&class_path, &options.rest);
    }
    run(&options)
}

pub(crate) fn make_interpreter(options: &cli::Options) -> Result<Interpreter, ExitCode> {
    let mut config =
        InterpConfig { class_path: options.class_path.iter().map(PathBuf::from).collect(), ..Default::default() };
    config.universe.heap.stress = options.gc_stress;
    if let Some(max) = options.max_heap {
        config.universe.heap.max_bytes = max;
        // The nursery counts against the limit: at most an eighth of it.
        config.universe.heap.nursery_bytes = config.universe.heap.nursery_bytes.min(max / 8);
    }
    let mut interp =
        kernel::universe(config.universe).and_then(|u| Interpreter::with_universe(u, config)).map_err(|e| {
            eprintln!("mica: cannot start: {e}");
            ExitCode::FAILURE
        })?;
    let jit_config = JitConfig {
        mode: match options.jit {
            cli::JitChoice::Off => JitMode::Off,
            cli::JitChoice::Baseline | cli::JitChoice::On => JitMode::Tiered,
            cli::JitChoice::Eager => JitMode::Eager,
        },
        // The baseline tier alone: no callee or block is inlined.
        inline_bytes: if options.jit == cli::JitChoice::Baseline { 0 } else { options.jit_tunables.inline_bytes },
        ..options.jit_tunables
    };
    if jit_config.mode != JitMode::Off {
        let dump = jit::DumpOptions {
            ir: options.dump.contains(&cli::DumpKind::Ir),
            asm: options.dump.contains(&cli::DumpKind::Asm),
            sends: options.dump.contains(&cli::DumpKind::Sends),
        };
        let generator = jit::Jit::new(
            dump,
            jit_config.deopt_every,
            jit::Inlining { bytes: jit_config.inline_bytes, depth: jit_config.inline_depth },
        )
        .map_err(|e| {
            eprintln!("mica: cannot start the JIT: {e}");
            ExitCode::FAILURE
        })?;
        interp.set_jit(Some(Box::new(generator)), jit_config);
    }
    Ok(interp)
}

fn run_repl(options: &cli::Options) -> ExitCode {
    let mut interp = match make_interpreter(options) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let status = repl::run(&mut interp);
    ExitCode::from(status.clamp(0, 255) as u8)
}

fn run(options: &cli::Options) -> ExitCode {
    let mut interp = match make_interpreter(options) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let (main, args) = options.rest.split_first().expect("rest is not empty");
    let endpoint = match go_live(options, &mut interp, main, false) {
        Ok(e) => e,
        Err(code) => return code,
    };
    if !options.load.is_empty() {
        // The main class's file may be given by path: its directory is
        // searched for the classes the edits change.
        if let Some(dir) = Path::new(main).parent().filter(|d| main.ends_with(".som") && !d.as_os_str().is_empty()) {
            interp.add_class_path(dir.to_path_buf());
        }
        for file in &options.load {
            if let Err(e) = apply_edits_file(&mut interp, Path::new(file)) {
                eprintln!("mica: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let status = interp.run_main(main, args);
    interp.disable_live();
    print_stats(options, &interp);
    if let Some(e) = endpoint {
        e.close(status);
    }
    ExitCode::from(status.clamp(0, 255) as u8)
}

/// Applies the live edits in `path` (see [`Interpreter::apply_edits`]).
pub(crate) fn apply_edits_file(interp: &mut Interpreter, path: &Path) -> Result<usize, String> {
    let prepared = vm::image::loader::Prepared::open(path).map_err(|e| e.to_string())?;
    interp.apply_edits(prepared)
}

/// Before a program runs: SIGINT and SIGTERM flush its output and end it,
/// and (unless `--live=off` or `sealed`) the same user may connect to it;
/// with `--listen`, over TCP too (a failure to listen ends the program
/// before it starts, with this status).
pub(crate) fn go_live(
    options: &cli::Options,
    interp: &mut Interpreter,
    program: &str,
    sealed: bool,
) -> Result<Option<live::Endpoint>, ExitCode> {
    let interrupts = std::sync::Arc::clone(&interp.u.interrupts);
    let socket = (!options.live_off && !sealed).then(|| live::socket_path(std::process::id()));
    let remote = match &options.listen {
        None => None,
        Some(_) if sealed => {
            eprintln!("mica: --listen: the program is sealed: it accepts no live connection");
            return Err(ExitCode::FAILURE);
        }
        Some(address) => {
            let tls = options.tls_cert.as_deref().zip(options.tls_key.as_deref());
            match live::remote::Listener::open(address, tls.map(|(c, k)| (Path::new(c), Path::new(k)))) {
                Ok(listener) => {
                    eprintln!("{}", listener.announcement());
                    Some(listener)
                }
                Err(e) => {
                    eprintln!("mica: {}", e.message);
                    return Err(if e.usage { ExitCode::from(2) } else { ExitCode::FAILURE });
                }
            }
        }
    };
    // Off the program's thread: the signal handlers and the timer thread
    // (which flushes output), on the endpoint's thread when there is one.
    let setup = {
        let files: Vec<PathBuf> =
            socket.iter().cloned().chain(remote.as_ref().map(|r| r.token_file().to_path_buf())).collect();
        move || {
            interrupts.start_timer_thread();
            signals::install(interrupts, files);
        }
    };
    if socket.is_some() {
        let info = live::ProgramInfo {
            program: program.to_string(),
            jit: options.jit.name().into(),
            started: std::time::Instant::now(),
        };
        Ok(Some(live::Endpoint::open(interp.enable_live(), info, remote, setup)))
    } else {
        let _ = std::thread::Builder::new().name("mica-signals".into()).spawn(setup);
        Ok(None)
    }
}

/// With `--stats`, prints the counters, the JIT's figures and the images';
/// with `--stats-json=FILE`, writes the counters to FILE.
pub(crate) fn print_stats(options: &cli::Options, interp: &Interpreter) {
    if let Some(file) = &options.stats_json
        && let Err(e) = bench::channel::write(Path::new(file), interp)
    {
        eprintln!("mica: {e}");
    }
    if !options.stats {
        return;
    }
    eprint!("{}", interp.stats_report(20));
    let edits = interp.live_edits();
    if !edits.is_empty() {
        eprintln!("live edits: {}", edits.len());
        for e in &edits {
            eprintln!("  {} ({} compiled methods invalidated)", e.what, e.invalidated);
        }
    }
    if let Some(report) = interp.jit_report() {
        eprint!("{report}");
        let exits = interp.native_exits();
        if !exits.is_empty() {
            let total: u64 = exits.iter().map(|e| e.1).sum();
            let top: Vec<String> = exits.iter().take(8).map(|(n, c)| format!("{n} {c}")).collect();
            eprintln!("native code left {total} bytecodes to the interpreter: {}", top.join(", "));
        }
    }
    let m = vm::image::memory(&interp.u);
    eprintln!(
        "images: {} mapped ({} KiB), {} KiB resident, {} KiB written, {} image objects written",
        m.images,
        m.mapped / 1024,
        m.resident / 1024,
        m.dirty / 1024,
        m.written_objects
    );
    for img in &interp.u.images {
        let names: Vec<String> = img.namespaces.iter().map(|&n| interp.u.namespace(n).display_name()).collect();
        let how = if img.relocated { "relocated" } else { "at its preferred base" };
        eprintln!("  {} ({}): {how}", img.name, names.join(", "));
    }
}

/// Where the class a command-line word names is: a path to a `.som` file,
/// or a class name looked up on the class path.
fn locate(word: &str, class_path: &ClassPath) -> Result<PathBuf, String> {
    let path = Path::new(word);
    if word.ends_with(".som") || path.components().count() > 1 {
        return if path.is_file() { Ok(path.to_path_buf()) } else { Err(format!("{word}: no such file")) };
    }
    class_path.find_file(word, None).ok_or_else(|| {
        let dirs: Vec<String> = class_path.dirs().iter().map(|d| d.display().to_string()).collect();
        format!(
            "class {word} not found on the class path ({})",
            if dirs.is_empty() { "empty".into() } else { dirs.join(":") }
        )
    })
}

fn dump_bytecode(class_path: &ClassPath, words: &[String]) -> ExitCode {
    let mut failed = false;
    let mut first = true;
    for word in words {
        let result = locate(word, class_path).and_then(|path| {
            let class = compile_file(&path, class_path).map_err(|e| e.to_string())?;
            verify_class(&class).map_err(|e| format!("{}: bytecode verification failed: {e}", path.display()))?;
            Ok(class)
        });
        match result {
            Ok(class) => {
                if !first {
                    println!();
                }
                first = false;
                print!("{}", disassemble_class(&class));
            }
            Err(message) => {
                eprintln!("{message}");
                failed = true;
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

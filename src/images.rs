//! The image commands: `build`, `info`, `verify`, `run`, `link`, `bundle`,
//! and running the image appended to a bundled executable.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use image_format::{Flags, ImageMeta, SectionKind};
use vm::image::loader::{self, Prepared};
use vm::image::package;

use crate::cli::Options;

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("mica: {message}");
    ExitCode::FAILURE
}

fn paths(list: &[String]) -> Vec<PathBuf> {
    list.iter().map(PathBuf::from).collect()
}

/// `mica build DIR -o FILE [-L PATH]...`
pub fn build(options: &Options) -> ExitCode {
    let dir = Path::new(&options.files[0]);
    let output = Path::new(options.output.as_deref().expect("checked by the parser"));
    if !dir.is_dir() {
        return fail(format!("{}: not a directory (a package is a directory with mica.toml)", dir.display()));
    }
    let mut u = match crate::kernel::universe(Default::default()) {
        Ok(u) => u,
        Err(e) => return fail(format!("cannot start: {e}")),
    };
    let bytes = match package::build(&mut u, dir, &paths(&options.lib_paths)) {
        Ok(b) => b,
        Err(e) if e.file.is_empty() => return fail(e.problem),
        Err(e) => return fail(e),
    };
    if let Err(e) = image_format::write_atomically(output, &[&bytes], None) {
        return fail(format!("{}: cannot write: {e}", output.display()));
    }
    ExitCode::SUCCESS
}

/// Reads a whole image (from an image file or a bundle) into memory.
fn read_image(path: &Path) -> Result<(Vec<u8>, image_format::Located), String> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: cannot open: {e}"))?;
    let at = image_format::locate(&file).map_err(|e| format!("{name}: {e}"))?;
    let mut bytes = vec![0u8; at.len as usize];
    std::os::unix::fs::FileExt::read_exact_at(&file, &mut bytes, at.offset)
        .map_err(|e| format!("{name}: cannot read: {e}"))?;
    Ok((bytes, at))
}

/// `mica info FILE`
pub fn info(options: &Options) -> ExitCode {
    let path = Path::new(&options.files[0]);
    let name = path.display().to_string();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return fail(format!("{name}: cannot open: {e}")),
    };
    let at = match image_format::locate(&file) {
        Ok(at) => at,
        Err(e) => return fail(format!("{name}: {e}")),
    };
    let meta = match ImageMeta::read_from(&file, at) {
        Ok(m) => m,
        Err(e) => return fail(format!("{name}: {e}")),
    };
    let mut out = String::new();
    let h = &meta.layout.header;
    let _ = writeln!(out, "file:           {name}");
    if at.bundled {
        let _ = writeln!(
            out,
            "bundled:        yes: an executable of {} bytes with the image at offset {:#x}",
            at.offset, at.offset
        );
    }
    let _ = writeln!(out, "format:         version {}, {}-bit little-endian", h.version, h.word_size as u32 * 8);
    let _ = writeln!(out, "sealed:         {}", if h.flags.contains(Flags::SEALED) { "yes" } else { "no" });
    let _ = writeln!(out, "size:           {} bytes", h.file_size);
    let _ = writeln!(
        out,
        "runtime area:   {} bytes ({} method cells)",
        h.runtime_size,
        h.runtime_size / vm::runtime::METHOD_CELL_BYTES as u64
    );
    let _ = writeln!(out, "preferred base: {:#x}", h.preferred_base);
    let _ = writeln!(out, "build:          {:#018x}", h.build_id);
    let abi = if h.abi == vm::image::abi() { "this VM's" } else { "NOT this VM's: rebuild the image" };
    let _ = writeln!(out, "object layout:  {:#018x} ({abi})", h.abi);
    let _ = writeln!(out, "sections:");
    let mut sections = meta.layout.sections.clone();
    sections.sort_by_key(|s| s.file_offset);
    for s in &sections {
        let _ = writeln!(out, "  {:<12} at {:#10x}  {:>10} bytes", s.kind.name(), s.file_offset.get(), s.size);
    }
    let _ = writeln!(out, "namespaces:");
    for ns in &meta.namespaces {
        let main = ns.main.as_ref().map(|m| format!(", main class {m}")).unwrap_or_default();
        let _ = writeln!(out, "  {} {}{main}", ns.name, ns.version);
    }
    let _ = writeln!(out, "imports:");
    if meta.imports.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for (k, imp) in meta.imports.iter().enumerate() {
        let refs = meta.outside.iter().filter(|o| o.import == k as u32).count();
        let built =
            if imp.build_id == 0 { "found by name".to_string() } else { format!("built against {}", imp.version) };
        let _ = writeln!(out, "  {} {} ({built}; {refs} objects referred to)", imp.name, imp.requirement);
    }
    // The exports are read from the file (not mapped for execution).
    let exports = (|| -> Result<Vec<image_format::tables::ExportEntry>, String> {
        let s = meta.layout.section(SectionKind::Exports);
        let mut bytes = vec![0u8; s.size as usize];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut bytes, at.offset + s.file_offset.get())
            .map_err(|e| e.to_string())?;
        let table = image_format::tables::Exports::new(&bytes).map_err(|e| e.to_string())?;
        table.all().map_err(|e| e.to_string())
    })();
    match exports {
        Ok(all) => {
            let _ = writeln!(out, "exports:        {} globals", all.len());
            for (i, ns) in meta.namespaces.iter().enumerate() {
                let names: Vec<&str> =
                    all.iter().filter(|e| e.namespace as usize == i).map(|e| e.name.as_str()).collect();
                let _ = writeln!(out, "  {}: {}", ns.name, names.join(" "));
            }
        }
        Err(e) => {
            let _ = writeln!(out, "exports:        unreadable: {e}");
        }
    }
    print!("{out}");
    ExitCode::SUCCESS
}

/// `mica verify FILE`
pub fn verify(options: &Options) -> ExitCode {
    let path = Path::new(&options.files[0]);
    let name = path.display().to_string();
    let (bytes, _) = match read_image(path) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    match vm::image::verify::verify_image(&bytes, &name) {
        Ok(report) if report.problems.is_empty() => {
            println!(
                "{name}: ok ({} objects, {} methods, {} references checked)",
                report.objects, report.methods, report.references
            );
            ExitCode::SUCCESS
        }
        Ok(report) => {
            for p in &report.problems {
                eprintln!("mica: {name}: {p}");
            }
            if report.problems.len() == vm::image::verify::MAX_PROBLEMS {
                eprintln!("mica: {name}: (and maybe more)");
            }
            ExitCode::FAILURE
        }
        Err(e) => fail(e),
    }
}

/// `mica link FILE... -o FILE`
pub fn link(options: &Options) -> ExitCode {
    let mut images = Vec::new();
    for f in &options.files {
        match read_image(Path::new(f)) {
            Ok((bytes, _)) => images.push((f.clone(), bytes)),
            Err(e) => return fail(e),
        }
    }
    let inputs: Vec<vm::image::link::Input> =
        images.iter().map(|(name, bytes)| vm::image::link::Input { name: name.clone(), bytes }).collect();
    let linked = match vm::image::link::link(&inputs) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let output = Path::new(options.output.as_deref().expect("checked by the parser"));
    match image_format::write_atomically(output, &[&linked], None) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("{}: cannot write: {e}", output.display())),
    }
}

/// The VM part of this executable (without an appended image, if it is a
/// bundle itself).
fn own_vm() -> Result<Vec<u8>, String> {
    let exe = std::fs::read("/proc/self/exe").map_err(|e| format!("cannot read this executable: {e}"))?;
    let file = std::fs::File::open("/proc/self/exe").map_err(|e| format!("cannot read this executable: {e}"))?;
    match image_format::read_trailer(&file, exe.len() as u64) {
        Ok(Some(at)) => Ok(exe[..at.offset as usize].to_vec()),
        _ => Ok(exe),
    }
}

/// `mica bundle FILE -o EXE [--sealed]`
pub fn bundle(options: &Options) -> ExitCode {
    let path = Path::new(&options.files[0]);
    let name = path.display().to_string();
    let mut image = match read_image(path) {
        Ok((b, _)) => b.to_vec(),
        Err(e) => return fail(e),
    };
    match vm::image::verify::verify_image(&image, &name) {
        Ok(r) if r.problems.is_empty() => {}
        Ok(r) => return fail(format!("{name}: {} (mica verify lists the problems)", r.problems[0])),
        Err(e) => return fail(e),
    }
    let meta = ImageMeta::parse(&image).expect("verified");
    let kernel_version = vm::universe::kernel_version();
    for imp in &meta.imports {
        let ok = imp.name == "Kernel"
            && semver::VersionReq::parse(&imp.requirement).is_ok_and(|r| r.matches(&kernel_version));
        if !ok {
            return fail(format!(
                "{name}: it imports {} {}, which a bundle cannot carry; link it into the image first (mica link)",
                imp.name, imp.requirement
            ));
        }
    }
    if !meta.namespaces.iter().any(|n| n.main.is_some()) {
        return fail(format!("{name}: no namespace of it names a main class, so the bundle would have nothing to run"));
    }
    if options.sealed {
        let mut header = meta.layout.header;
        header.flags |= Flags::SEALED;
        if let Err(e) = image_format::rewrite_header(&mut image, &header) {
            return fail(format!("{name}: {e}"));
        }
    }
    let vm_bytes = match own_vm() {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let offset = (vm_bytes.len() as u64).next_multiple_of(image_format::CHUNK_SIZE);
    let padding = vec![0u8; (offset - vm_bytes.len() as u64) as usize];
    let trailer = image_format::encode_trailer(offset, image.len() as u64);
    let output = Path::new(options.output.as_deref().expect("checked by the parser"));
    match image_format::write_atomically(output, &[&vm_bytes, &padding, &image, &trailer], Some(0o755)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("{}: cannot write: {e}", output.display())),
    }
}

/// `mica run [options] FILE... [-L PATH]... [-- ARGS]`
pub fn run(options: &Options) -> ExitCode {
    let mut images = Vec::new();
    let mut edits = Vec::new();
    for f in &options.files {
        match Prepared::open(Path::new(f)) {
            // Files of live edits apply once the program is loaded.
            Ok(p) if p.meta.namespaces.iter().any(|n| n.name == interp::live::EDITS_NAMESPACE) => edits.push(p),
            Ok(p) => images.push(p),
            Err(e) => return fail(e),
        }
    }
    if images.is_empty() && !edits.is_empty() {
        return fail("a file of live edits needs the images it edits before it (mica run app.mimg edits.mimg)");
    }
    run_prepared_with(options, images, edits, &options.rest)
}

/// Loads `images` (and what they import from the library paths), then runs
/// the main class of the last one that names one.
fn run_prepared(options: &Options, images: Vec<Prepared>, args: &[String]) -> ExitCode {
    run_prepared_with(options, images, Vec::new(), args)
}

/// [`run_prepared`], applying files of live edits before the main class
/// runs.
fn run_prepared_with(options: &Options, images: Vec<Prepared>, edits: Vec<Prepared>, args: &[String]) -> ExitCode {
    let mut interp = match crate::make_interpreter(options) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let order: Vec<String> = images.iter().map(|p| p.name.clone()).collect();
    // Imports not among the images given come from the library paths.
    let mut wanted = Vec::new();
    for p in &images {
        for imp in &p.meta.imports {
            let provided = images.iter().any(|q| q.meta.namespaces.iter().any(|n| n.name == imp.name));
            if !provided && let Ok(r) = semver::VersionReq::parse(&imp.requirement) {
                wanted.push((imp.name.clone(), r));
            }
        }
    }
    let mut all = images;
    if !options.lib_paths.is_empty() {
        let libraries = package::library_images(&paths(&options.lib_paths))
            .and_then(|c| package::select_libraries(&interp.u, &wanted, c, "mica run"));
        match libraries {
            Ok(l) => all.extend(l),
            Err(e) => return fail(e),
        }
    }
    let sealed = all.iter().any(|p| p.meta.layout.header.flags.contains(Flags::SEALED));
    let indices = match loader::load_all(&mut interp.u, all) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    // The main class of the last image (in command-line order) naming one.
    let mut main = None;
    for (position, name) in order.iter().enumerate().rev() {
        let img = &interp.u.images[indices[position]];
        let found = img.namespaces.iter().rev().find_map(|&ns| interp.u.namespace(ns).main.clone().map(|m| (ns, m)));
        if let Some(found) = found {
            main = Some((name.clone(), found));
            break;
        }
    }
    let Some((image_name, (ns, main_name))) = main else {
        return fail("no image names a main class (set main in the package's mica.toml)");
    };
    let class = interp.u.own_binding(ns, &main_name).map(|b| b.slot(vm::layout::BINDING_VALUE));
    let Some(class) = class.filter(|&c| interp.u.is_class(c)) else {
        return fail(format!("{image_name}: its main class {main_name} is not defined"));
    };
    interp.set_eval_namespace(ns);
    let endpoint = match crate::go_live(options, &mut interp, &main_name, sealed) {
        Ok(e) => e,
        Err(code) => return code,
    };
    for p in edits {
        if let Err(e) = interp.apply_edits(p) {
            return fail(e);
        }
    }
    let status = interp.run_class(class, args);
    interp.disable_live();
    crate::print_stats(options, &interp);
    if let Some(e) = endpoint {
        e.close(status);
    }
    ExitCode::from(status.clamp(0, 255) as u8)
}

/// If this executable is a bundle, runs its image with `args` (all of the
/// command line) and answers the exit status.
pub fn run_bundled(args: &[String]) -> Option<ExitCode> {
    let file = std::fs::File::open("/proc/self/exe").ok()?;
    let len = file.metadata().ok()?.len();
    let at = match image_format::read_trailer(&file, len) {
        Ok(Some(at)) => at,
        Ok(None) => return None,
        Err(e) => return Some(fail(format!("this executable's bundled image: {e}"))),
    };
    let prepared = match Prepared::from_source("<bundled image>".into(), loader::Source::File { file, at }) {
        Ok(p) => p,
        Err(e) => return Some(fail(e)),
    };
    Some(run_prepared(&Options::default(), vec![prepared], args))
}

/// Whether the executable at `path` is a Mica bundle whose image is
/// sealed (such a program never opens the live connection).
pub fn is_sealed_bundle(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else { return false };
    let Ok(len) = file.metadata().map(|m| m.len()) else { return false };
    match image_format::read_trailer(&file, len) {
        Ok(Some(at)) => ImageMeta::read_from(&file, at).is_ok_and(|m| m.layout.header.flags.contains(Flags::SEALED)),
        _ => false,
    }
}

/// Whether this executable is a bundle (an image follows the VM).
pub fn is_bundle() -> bool {
    let Ok(file) = std::fs::File::open("/proc/self/exe") else { return false };
    let Ok(len) = file.metadata().map(|m| m.len()) else { return false };
    matches!(image_format::read_trailer(&file, len), Ok(Some(_)))
}

//! Builds the kernel image from the kernel sources, to be carried inside
//! the `mica` binary and mapped (not parsed) at every start; and the
//! benchmark suite (`benches/suite`, a package) as a mini-image against
//! that kernel, with a table of its sources, for `mica bench`.

use std::path::{Path, PathBuf};

const SUITE: &str = "benches/suite";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={SUITE}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let image = match vm::image::build_kernel_image() {
        Ok(bytes) => bytes,
        Err(e) => panic!("cannot build the kernel image: {e}"),
    };
    std::fs::write(out.join("kernel.mimg"), &image).expect("writes the kernel image");
    if let Err(e) = build_suite(image, &out) {
        panic!("cannot build the benchmark suite ({SUITE}): {e}");
    }
}

/// The suite's image, compiled against the kernel image just built (as
/// `mica build` does against the carried one), and `bench-suite.rs`: an
/// array of its source files' names and texts.
fn build_suite(kernel: Vec<u8>, out: &Path) -> Result<(), String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(SUITE)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "som" || x == "toml"))
        .collect();
    files.sort();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let kernel: &'static [u8] = Box::leak(kernel.into_boxed_slice());
    let prepared =
        vm::image::loader::Prepared::from_source("<kernel>".to_string(), vm::image::loader::Source::Bytes(kernel))
            .map_err(|e| e.to_string())?;
    let mut u = vm::universe::Universe::from_kernel_image(Default::default(), prepared)?;
    let bytes = vm::image::package::build(&mut u, Path::new(SUITE), &[]).map_err(|e| e.to_string())?;
    std::fs::write(out.join("bench-suite.mimg"), bytes).map_err(|e| e.to_string())?;
    let root = std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?;
    let mut table = String::from("&[\n");
    for f in files.iter().filter(|f| f.extension().is_some_and(|x| x == "som")) {
        let name = f.file_name().and_then(|n| n.to_str()).ok_or("a file name that is not UTF-8")?;
        table.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            Path::new(&root).join(f).display().to_string()
        ));
    }
    table.push(']');
    std::fs::write(out.join("bench-suite.rs"), table).map_err(|e| e.to_string())
}

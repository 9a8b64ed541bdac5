//! Builds the kernel image from the kernel sources, to be carried inside
//! the `mica` binary and mapped (not parsed) at every start.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let image = match vm::image::build_kernel_image() {
        Ok(bytes) => bytes,
        Err(e) => panic!("cannot build the kernel image: {e}"),
    };
    std::fs::write(out.join("kernel.mimg"), image).expect("writes the kernel image");
}

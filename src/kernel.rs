//! The kernel image carried inside the binary (built from the kernel
//! sources by `build.rs`), and the universe made from it: the image is
//! mapped from the executable's own file at the kernel's base, not parsed.

use vm::image::loader::{Prepared, Source};
use vm::universe::{Universe, UniverseConfig};

const KERNEL_BYTES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kernel.mimg"));

/// The image, aligned so that it starts on a chunk boundary of the
/// executable file (the file offset of data in a loaded segment is its
/// address modulo the segment alignment), which lets it be mapped from
/// the file.
#[repr(C, align(65536))]
struct Aligned<const N: usize>([u8; N]);

static KERNEL: Aligned<{ KERNEL_BYTES.len() }> = Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/kernel.mimg")));

/// The kernel image's bytes.
pub fn bytes() -> &'static [u8] {
    &KERNEL.0
}

/// The kernel image, ready to map: from the executable file when its bytes
/// can be found there, else from memory (copied).
pub fn prepared() -> Result<Prepared, String> {
    let bytes = bytes();
    let source = match image_format::map::find_in_own_executable(bytes.as_ptr() as usize, bytes.len()) {
        Some((file, offset)) => {
            Source::File { file, at: image_format::Located { offset, len: bytes.len() as u64, bundled: false } }
        }
        None => Source::Bytes(bytes),
    };
    Prepared::from_source("<kernel>".to_string(), source).map_err(|e| e.to_string())
}

/// A universe whose kernel is the carried image.
pub fn universe(config: UniverseConfig) -> Result<Universe, String> {
    Universe::from_kernel_image(config, prepared()?)
}

//! Finding an image in a file (a plain image, or one appended to an
//! executable), reading its metadata without touching its objects, writing
//! files atomically, and the bundle trailer.
//!
//! A bundled executable is the VM's own file, zero padding up to a
//! [`CHUNK_SIZE`] boundary, the image, and a 32-byte trailer at the very end:
//!
//! ```text
//!  offset  size  field
//!       0     8  magic        "MICABNDL"
//!       8     8  image_offset where the image starts (a multiple of CHUNK_SIZE)
//!      16     8  image_size   its length
//!      24     8  checksum     checksum::fast64 of the 24 bytes before
//! ```

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::checksum::fast64;
use crate::error::{ImageError, Result};
use crate::header::{CHUNK_SIZE, MAGIC, PAGE_SIZE};
use crate::layout::{Layout, parse_layout_prefix};
use crate::section::SectionKind;
use crate::tables::{self, ImportEntry, NamespaceEntry, OutsideEntry};

/// The magic of a bundle trailer.
pub const TRAILER_MAGIC: [u8; 8] = *b"MICABNDL";
/// Bytes of a bundle trailer.
pub const TRAILER_SIZE: u64 = 32;

/// Where an image lies in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Located {
    /// Its first byte.
    pub offset: u64,
    /// Its length.
    pub len: u64,
    /// Whether it is appended to an executable.
    pub bundled: bool,
}

fn io(e: std::io::Error) -> ImageError {
    ImageError::Io { detail: e.to_string() }
}

/// The bytes of a bundle trailer for an image of `len` bytes at `offset`.
pub fn encode_trailer(offset: u64, len: u64) -> [u8; TRAILER_SIZE as usize] {
    let mut out = [0u8; TRAILER_SIZE as usize];
    out[..8].copy_from_slice(&TRAILER_MAGIC);
    out[8..16].copy_from_slice(&offset.to_le_bytes());
    out[16..24].copy_from_slice(&len.to_le_bytes());
    let sum = fast64(&out[..24]);
    out[24..].copy_from_slice(&sum.to_le_bytes());
    out
}

/// Finds the image in `file`: the whole file if it starts with the image
/// magic, else the one a bundle trailer points to.
pub fn locate(file: &File) -> Result<Located> {
    let len = file.metadata().map_err(io)?.len();
    let mut magic = [0u8; 8];
    if len >= 8 {
        file.read_exact_at(&mut magic, 0).map_err(io)?;
        if magic == MAGIC {
            return Ok(Located { offset: 0, len, bundled: false });
        }
    }
    match read_trailer(file, len)? {
        Some(l) => Ok(l),
        None if len < 8 => Err(ImageError::Truncated { needed: 8, got: len }),
        None => Err(ImageError::NotAnImage {
            detail: format!("it starts with {} and has no bundle trailer", magic.escape_ascii()),
        }),
    }
}

/// The image a bundle trailer at the end of `file` (of `len` bytes) points
/// to, if there is a trailer.
pub fn read_trailer(file: &File, len: u64) -> Result<Option<Located>> {
    if len < TRAILER_SIZE {
        return Ok(None);
    }
    let mut t = [0u8; TRAILER_SIZE as usize];
    file.read_exact_at(&mut t, len - TRAILER_SIZE).map_err(io)?;
    if t[..8] != TRAILER_MAGIC {
        return Ok(None);
    }
    let word = |at: usize| u64::from_le_bytes(t[at..at + 8].try_into().expect("8 bytes"));
    if fast64(&t[..24]) != word(24) {
        return Err(ImageError::NotAnImage { detail: "its bundle trailer is corrupt".into() });
    }
    let (offset, size) = (word(8), word(16));
    if !offset.is_multiple_of(CHUNK_SIZE) || offset.checked_add(size).is_none_or(|end| end > len - TRAILER_SIZE) {
        return Err(ImageError::NotAnImage {
            detail: format!("its bundle trailer places a {size}-byte image at {offset:#x}, outside the file"),
        });
    }
    Ok(Some(Located { offset, len: size, bundled: true }))
}

/// The metadata of an image read eagerly: header, sections, namespaces,
/// imports and chunk checksums, each checked against its checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageMeta {
    /// Header and section table.
    pub layout: Layout,
    /// The namespaces defined.
    pub namespaces: Vec<NamespaceEntry>,
    /// The namespaces imported.
    pub imports: Vec<ImportEntry>,
    /// The outside objects referred to.
    pub outside: Vec<OutsideEntry>,
    /// The chunk checksums.
    pub chunks: Vec<u64>,
}

impl ImageMeta {
    /// Checks and decodes the metadata, reading sections with `read(offset,
    /// len)` (offsets within the image).
    fn read(prefix: &[u8], len: u64, read: &mut dyn FnMut(u64, u64) -> Result<Vec<u8>>) -> Result<ImageMeta> {
        let layout = parse_layout_prefix(prefix, len)?;
        let mut section = |kind: SectionKind| -> Result<Vec<u8>> {
            let s = layout.section(kind);
            let bytes = read(s.file_offset.get(), s.size)?;
            let computed = fast64(&bytes);
            if computed != s.checksum {
                return Err(ImageError::SectionChecksum { kind, stored: s.checksum, computed });
            }
            Ok(bytes)
        };
        let namespaces = tables::decode_namespaces(&section(SectionKind::Namespaces)?)?;
        let (imports, outside) = tables::decode_imports(&section(SectionKind::Imports)?)?;
        let chunks = tables::decode_chunks(&section(SectionKind::Chunks)?, layout.covered())?;
        Ok(ImageMeta { layout, namespaces, imports, outside, chunks })
    }

    /// Reads the metadata of the image at `at` in `file` (pread: the
    /// objects are not touched).
    pub fn read_from(file: &File, at: Located) -> Result<ImageMeta> {
        let mut prefix = vec![0u8; at.len.min(u64::from(PAGE_SIZE)) as usize];
        file.read_exact_at(&mut prefix, at.offset).map_err(io)?;
        ImageMeta::read(&prefix, at.len, &mut |offset, len| {
            let mut buf =
                vec![0u8; usize::try_from(len).map_err(|_| ImageError::Io { detail: "section too large".into() })?];
            file.read_exact_at(&mut buf, at.offset + offset).map_err(io)?;
            Ok(buf)
        })
    }

    /// The metadata of an image held in memory.
    pub fn parse(image: &[u8]) -> Result<ImageMeta> {
        let prefix = &image[..image.len().min(PAGE_SIZE as usize)];
        ImageMeta::read(prefix, image.len() as u64, &mut |offset, len| {
            let start = offset as usize;
            Ok(image[start..start + len as usize].to_vec())
        })
    }

    /// Checks every chunk of `image` (the whole file in memory); answers
    /// the first that does not match.
    pub fn verify_chunks(&self, image: &[u8]) -> Result<()> {
        let covered = self.layout.covered();
        for (i, &sum) in self.chunks.iter().enumerate() {
            let r = tables::chunk_range(i as u64, covered);
            let bytes = image
                .get(r.start as usize..r.end as usize)
                .ok_or(ImageError::Truncated { needed: r.end, got: image.len() as u64 })?;
            if fast64(bytes) != sum {
                return Err(ImageError::ChunkChecksum { offset: r.start, len: r.end - r.start });
            }
        }
        Ok(())
    }

    /// Checks the checksum of every section of `image`.
    pub fn verify_sections(&self, image: &[u8]) -> Result<()> {
        for s in &self.layout.sections {
            let bytes = self
                .layout
                .section_bytes(image, s.kind)
                .ok_or(ImageError::Truncated { needed: s.file_offset.get() + s.size, got: image.len() as u64 })?;
            let computed = fast64(bytes);
            if computed != s.checksum {
                return Err(ImageError::SectionChecksum { kind: s.kind, stored: s.checksum, computed });
            }
        }
        Ok(())
    }

    /// The bytes of the file the image occupies.
    pub fn file_size(&self) -> u64 {
        self.layout.header.file_size
    }
}

/// Maps the image `at` in `file` read-only, for the tools that read a whole
/// image (`info`, `verify`, `link`, `bundle`): the pages are read as they
/// are used, and nothing is copied. (Images that run are mapped by
/// [`crate::map::map_image`], at their preferred base.)
pub fn map_readonly(file: &File, at: Located) -> Result<memmap2::Mmap> {
    let len = usize::try_from(at.len).map_err(|_| ImageError::Io { detail: "the image is too large to map".into() })?;
    // SAFETY: the mapping is read-only and private to this process; if
    // another process truncates the file meanwhile, reads fault (SIGBUS),
    // which the tools accept as they accept any I/O failure.
    unsafe { memmap2::MmapOptions::new().offset(at.offset).len(len).map(file) }.map_err(io)
}

/// Writes `parts` to `path` atomically: into a temporary file beside it,
/// flushed to disk, then renamed over `path` (and the directory flushed), so
/// that a crash leaves either the old file or the complete new one. With
/// `mode`, the file gets those permission bits.
pub fn write_atomically(path: &Path, parts: &[&[u8]], mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("image");
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        for part in parts {
            f.write_all(part)?;
        }
        if let Some(mode) = mode {
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

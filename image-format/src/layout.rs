//! Reading and writing the header and section table together.
//!
//! A file opens with the header, then the section table, both inside the
//! first page; the sections follow, each on a page boundary, objects first
//! (at [`OBJECTS_OFFSET`]) and chunk checksums last:
//!
//! ```text
//!  0        96        96 + 32 * n   4096          objects end  ...   chunks
//!  +--------+-------------------+---+-------------+--+--------+---+--------+
//!  | Header | SectionEntry 0..n | 0 | Objects     |0 | tables |   | Chunks |
//!  +--------+-------------------+---+-------------+--+--------+---+--------+
//!  \ covered by the header checksum/ \___ covered by chunk checksums ___/
//! ```

use crate::checksum::Fnv1a;
use crate::error::{ImageError, Result};
use crate::header::{CHECKSUM_AT, HEADER_SIZE, Header, PAGE_SIZE};
use crate::section::{SECTION_ENTRY_SIZE, SectionEntry, SectionKind, table_end, validate_sections};

/// Where the objects section starts: the first page after the header's.
pub const OBJECTS_OFFSET: u64 = PAGE_SIZE as u64;

/// The checked header and section table of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The header.
    pub header: Header,
    /// The section table, in file order of its entries.
    pub sections: Vec<SectionEntry>,
}

impl Layout {
    /// The section of `kind` (every kind is present in a checked layout).
    pub fn section(&self, kind: SectionKind) -> &SectionEntry {
        self.sections.iter().find(|section| section.kind == kind).expect("checked layouts have every section")
    }

    /// The file offset just past the section table.
    pub fn table_end(&self) -> u64 {
        table_end(self.sections.len() as u64)
    }

    /// The bytes of the section of `kind` within `image`, the file this
    /// layout was parsed from; `None` if they do not lie within `image`.
    pub fn section_bytes<'a>(&self, image: &'a [u8], kind: SectionKind) -> Option<&'a [u8]> {
        let section = self.section(kind);
        let start = usize::try_from(section.file_offset.get()).ok()?;
        let end = usize::try_from(section.end()?.get()).ok()?;
        image.get(start..end)
    }

    /// The part of the file the chunk checksums cover: up to the chunks
    /// section.
    pub fn covered(&self) -> u64 {
        self.section(SectionKind::Chunks).file_offset.get()
    }
}

/// Parses and fully checks the header and section table of `bytes`, the
/// whole image file. See [`parse_layout_prefix`].
pub fn parse_layout(bytes: &[u8]) -> Result<Layout> {
    parse_layout_prefix(bytes, bytes.len() as u64)
}

/// Parses and checks the header and section table from `prefix`, the start
/// of an image file of `file_len` bytes (at least its first page, or the
/// whole file if shorter).
///
/// Checks, in order: the header fields (see [`Header::from_bytes`]), that
/// the section table is present and fits in the first page, the checksum,
/// that the file is exactly `file_size` bytes long, each section table
/// entry, the placement of the sections (see [`validate_sections`]), that
/// every kind is present, objects first at [`OBJECTS_OFFSET`] and chunks
/// last. Never panics.
pub fn parse_layout_prefix(prefix: &[u8], file_len: u64) -> Result<Layout> {
    let header = Header::from_bytes(prefix)?;
    let table_len = table_end(u64::from(header.section_count));
    if table_len > u64::from(PAGE_SIZE) {
        return Err(ImageError::TableTooLarge { table_end: table_len });
    }
    let table = usize::try_from(table_len)
        .ok()
        .and_then(|len| prefix.get(..len))
        .ok_or(ImageError::Truncated { needed: table_len, got: file_len.min(prefix.len() as u64) })?;
    let computed = layout_checksum(table);
    if computed != header.checksum {
        return Err(ImageError::HeaderChecksum { stored: header.checksum, computed });
    }
    if file_len < header.file_size {
        return Err(ImageError::Truncated { needed: header.file_size, got: file_len });
    }
    if file_len > header.file_size {
        return Err(ImageError::TrailingBytes { expected: header.file_size, got: file_len });
    }
    let sections = table
        .get(HEADER_SIZE..)
        .unwrap_or_default()
        .chunks(SECTION_ENTRY_SIZE)
        .enumerate()
        .map(|(index, entry)| SectionEntry::from_bytes(entry, index))
        .collect::<Result<Vec<_>>>()?;
    validate_sections(&sections, header.file_size)?;
    for kind in SectionKind::ALL {
        if !sections.iter().any(|s| s.kind == kind) {
            return Err(ImageError::MissingSection { kind });
        }
    }
    let layout = Layout { header, sections };
    let objects = layout.section(SectionKind::Objects).file_offset.get();
    if objects != OBJECTS_OFFSET {
        return Err(ImageError::SectionOrder {
            detail: format!("objects start at {objects:#x}, not {OBJECTS_OFFSET:#x}"),
        });
    }
    let chunks = layout.section(SectionKind::Chunks);
    if let Some(after) =
        layout.sections.iter().find(|s| s.kind != SectionKind::Chunks && s.file_offset > chunks.file_offset)
    {
        return Err(ImageError::SectionOrder {
            detail: format!("the {} section follows the chunks section", after.kind),
        });
    }
    Ok(layout)
}

/// Encodes `header` followed by the section table for `sections`.
///
/// The header is written as given except for `section_count`, which is set
/// to `sections.len()`, and `checksum`, which is computed. Nothing is
/// checked: run [`parse_layout`] on the finished file to do that.
///
/// # Panics
///
/// If there are more than `u32::MAX` sections.
pub fn write_layout(header: &Header, sections: &[SectionEntry]) -> Vec<u8> {
    let mut header = *header;
    header.section_count = u32::try_from(sections.len()).expect("at most u32::MAX sections");
    header.checksum = 0;
    let mut out = Vec::with_capacity(HEADER_SIZE + sections.len() * SECTION_ENTRY_SIZE);
    out.extend_from_slice(&header.to_bytes());
    for section in sections {
        out.extend_from_slice(&section.to_bytes());
    }
    let checksum = layout_checksum(&out);
    out[CHECKSUM_AT..CHECKSUM_AT + 8].copy_from_slice(&checksum.to_le_bytes());
    out
}

/// Rewrites the header of a finished image in place (to seal it): the
/// checksum is recomputed. `image` must start with a valid layout.
pub fn rewrite_header(image: &mut [u8], header: &Header) -> Result<()> {
    let layout = parse_layout(image)?;
    let bytes = write_layout(header, &layout.sections);
    image[..bytes.len()].copy_from_slice(&bytes);
    parse_layout(image).map(|_| ())
}

/// FNV-1a 64 of the header and section table in `bytes`, with the
/// checksum field read as zero.
pub(crate) fn layout_checksum(bytes: &[u8]) -> u64 {
    let field = CHECKSUM_AT..CHECKSUM_AT + 8;
    let mut hash = Fnv1a::new();
    for (at, &byte) in bytes.iter().enumerate() {
        hash.write_u8(if field.contains(&at) { 0 } else { byte });
    }
    hash.finish()
}

//! Reading and writing the header and section table together.
//!
//! A file opens with the header, then the section table, then (from the
//! first page boundary at or after the table) the sections:
//!
//! ```text
//!  0          64         64 + 24 * n        k * PAGE_SIZE
//!  +----------+-----------------------------+--...--+-----------+--...
//!  |  Header  | SectionEntry 0 .. n-1       |  pad  | section   |
//!  +----------+-----------------------------+--...--+-----------+--...
//!  \______ covered by the header checksum __/
//! ```

use crate::checksum::Fnv1a;
use crate::error::{ImageError, Result};
use crate::header::{CHECKSUM_AT, HEADER_SIZE, Header};
use crate::section::{SECTION_ENTRY_SIZE, SectionEntry, SectionKind, table_end, validate_sections};

/// The checked header and section table of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The header.
    pub header: Header,
    /// The section table, in file order of its entries.
    pub sections: Vec<SectionEntry>,
}

impl Layout {
    /// The section of `kind`, if the image has one.
    pub fn section(&self, kind: SectionKind) -> Option<&SectionEntry> {
        self.sections.iter().find(|section| section.kind == kind)
    }

    /// The file offset just past the section table.
    pub fn table_end(&self) -> u64 {
        table_end(self.sections.len() as u64)
    }

    /// The bytes of the section of `kind` within `image`, the file this
    /// layout was parsed from; `None` if there is no such section or it
    /// does not lie within `image`.
    pub fn section_bytes<'a>(&self, image: &'a [u8], kind: SectionKind) -> Option<&'a [u8]> {
        let section = self.section(kind)?;
        let start = usize::try_from(section.file_offset.get()).ok()?;
        let end = usize::try_from(section.end()?.get()).ok()?;
        image.get(start..end)
    }
}

/// Parses and fully checks the header and section table of `bytes`, the
/// whole image file.
///
/// Checks, in order: the header fields (see [`Header::from_bytes`]), that
/// the section table is present, the checksum, that the file is exactly
/// `file_size` bytes long, each section table entry, and the placement of
/// the sections (see [`validate_sections`]). Never panics.
pub fn parse_layout(bytes: &[u8]) -> Result<Layout> {
    let header = Header::from_bytes(bytes)?;
    let got = bytes.len() as u64;
    let table_len = table_end(u64::from(header.section_count));
    let table = usize::try_from(table_len)
        .ok()
        .and_then(|len| bytes.get(..len))
        .ok_or(ImageError::Truncated { needed: table_len, got })?;
    let computed = layout_checksum(table);
    if computed != header.checksum {
        return Err(ImageError::HeaderChecksum { stored: header.checksum, computed });
    }
    if got < header.file_size {
        return Err(ImageError::Truncated { needed: header.file_size, got });
    }
    if got > header.file_size {
        return Err(ImageError::TrailingBytes { expected: header.file_size, got });
    }
    let sections = table
        .get(HEADER_SIZE..)
        .unwrap_or_default()
        .chunks(SECTION_ENTRY_SIZE)
        .enumerate()
        .map(|(index, entry)| SectionEntry::from_bytes(entry, index))
        .collect::<Result<Vec<_>>>()?;
    validate_sections(&sections, header.file_size)?;
    Ok(Layout { header, sections })
}

/// Encodes `header` followed by the section table for `sections`.
///
/// The header is written as given except for `section_count`, which is set
/// to `sections.len()`, and `checksum`, which is computed. Nothing is
/// checked: run [`parse_layout`] on the finished file to do that. The
/// caller pads the result to the first section and appends the sections.
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

//! The section table: which kinds of data the image holds, and where.
//!
//! The table starts at [`HEADER_SIZE`] and holds `section_count` entries
//! of [`SECTION_ENTRY_SIZE`] bytes each:
//!
//! ```text
//!  offset  size  field        value
//!  ------  ----  -----------  --------------------------------------------
//!       0     4  kind         SectionKind code (1 = Objects ... 7 = Chunks)
//!       4     4  reserved     0
//!       8     8  file_offset  start of the section; a multiple of PAGE_SIZE,
//!                             at or after the end of the section table
//!      16     8  size         length of the section in bytes
//!      24     8  checksum     `checksum::fast64` of the section's bytes
//!      32        (next entry)
//! ```
//!
//! All fields are little-endian. Sections lie inside the file, do not
//! overlap each other, and each kind appears at most once.

use std::fmt;

use crate::error::{ImageError, Result};
use crate::header::{HEADER_SIZE, PAGE_SIZE};

/// The encoded size of a [`SectionEntry`] in bytes.
pub const SECTION_ENTRY_SIZE: usize = 32;

const KIND_AT: usize = 0;
const RESERVED_AT: usize = 4;
const OFFSET_AT: usize = 8;
const SIZE_AT: usize = 16;
const CHECKSUM_AT: usize = 24;

const _: () = assert!(SECTION_ENTRY_SIZE == 32);
const _: () = assert!(CHECKSUM_AT + 8 == SECTION_ENTRY_SIZE);
const _: () = assert!(OFFSET_AT.is_multiple_of(8) && SIZE_AT.is_multiple_of(8));
const _: () = assert!(HEADER_SIZE.is_multiple_of(8) && SECTION_ENTRY_SIZE.is_multiple_of(8));

/// A byte offset within an image file, kept apart from memory addresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageOffset(u64);

impl ImageOffset {
    /// The offset `bytes` from the start of the file.
    pub const fn new(bytes: u64) -> Self {
        Self(bytes)
    }

    /// The offset in bytes from the start of the file.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Whether the offset is a multiple of `align`; `align` must not be 0.
    pub const fn is_aligned_to(self, align: u64) -> bool {
        self.0.is_multiple_of(align)
    }

    /// The offset `bytes` further on, or `None` on overflow.
    pub const fn checked_add(self, bytes: u64) -> Option<Self> {
        match self.0.checked_add(bytes) {
            Some(sum) => Some(Self(sum)),
            None => None,
        }
    }
}

impl fmt::Display for ImageOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// What a section holds. The codes are stable parts of the format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SectionKind {
    /// The objects of the image, in the shared disk and memory encoding.
    Objects,
    /// The symbols the image defines or uses.
    Symbols,
    /// The names the image needs from other images.
    Imports,
    /// The names the image offers to other images.
    Exports,
    /// Where words must be patched if the image is not mapped at its
    /// preferred base.
    Relocations,
    /// The namespaces the image defines, at their versions.
    Namespaces,
    /// The checksum of each chunk of the file, for lazy verification.
    Chunks,
}

impl SectionKind {
    /// Every kind, in code order.
    pub const ALL: [Self; 7] =
        [Self::Objects, Self::Symbols, Self::Imports, Self::Exports, Self::Relocations, Self::Namespaces, Self::Chunks];

    /// The stable code stored in the section table. Code 0 is never used,
    /// so a zeroed entry is always rejected.
    pub const fn code(self) -> u32 {
        match self {
            Self::Objects => 1,
            Self::Symbols => 2,
            Self::Imports => 3,
            Self::Exports => 4,
            Self::Relocations => 5,
            Self::Namespaces => 6,
            Self::Chunks => 7,
        }
    }

    /// The kind with the given code, if any.
    pub const fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(Self::Objects),
            2 => Some(Self::Symbols),
            3 => Some(Self::Imports),
            4 => Some(Self::Exports),
            5 => Some(Self::Relocations),
            6 => Some(Self::Namespaces),
            7 => Some(Self::Chunks),
            _ => None,
        }
    }

    /// A lowercase name for messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Objects => "objects",
            Self::Symbols => "symbols",
            Self::Imports => "imports",
            Self::Exports => "exports",
            Self::Relocations => "relocations",
            Self::Namespaces => "namespaces",
            Self::Chunks => "chunks",
        }
    }

    /// Position of the kind in [`SectionKind::ALL`].
    const fn slot(self) -> usize {
        self.code() as usize - 1
    }
}

impl fmt::Display for SectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One entry of the section table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SectionEntry {
    /// What the section holds.
    pub kind: SectionKind,
    /// Where the section starts in the file.
    pub file_offset: ImageOffset,
    /// Length of the section in bytes.
    pub size: u64,
    /// `checksum::fast64` of the section's bytes.
    pub checksum: u64,
}

impl SectionEntry {
    /// A section of `kind` holding `size` bytes at `file_offset` (checksum
    /// 0 until set).
    pub const fn new(kind: SectionKind, file_offset: ImageOffset, size: u64) -> Self {
        Self { kind, file_offset, size, checksum: 0 }
    }

    /// The offset just past the section, or `None` if that overflows.
    pub const fn end(&self) -> Option<ImageOffset> {
        self.file_offset.checked_add(self.size)
    }

    /// Encodes the entry.
    pub fn to_bytes(&self) -> [u8; SECTION_ENTRY_SIZE] {
        let mut out = [0u8; SECTION_ENTRY_SIZE];
        out[KIND_AT..RESERVED_AT].copy_from_slice(&self.kind.code().to_le_bytes());
        out[OFFSET_AT..SIZE_AT].copy_from_slice(&self.file_offset.get().to_le_bytes());
        out[SIZE_AT..CHECKSUM_AT].copy_from_slice(&self.size.to_le_bytes());
        out[CHECKSUM_AT..].copy_from_slice(&self.checksum.to_le_bytes());
        out
    }

    /// Decodes the entry at position `index` of the table from the start of
    /// `bytes`. Checks the kind code and the reserved field only; where the
    /// section lies is checked by [`validate_sections`].
    pub fn from_bytes(bytes: &[u8], index: usize) -> Result<Self> {
        let entry_at = table_end(index as u64);
        let Some(b) = bytes.first_chunk::<SECTION_ENTRY_SIZE>() else {
            return Err(ImageError::Truncated {
                needed: entry_at + SECTION_ENTRY_SIZE as u64,
                got: entry_at + bytes.len() as u64,
            });
        };
        let code = u32::from_le_bytes(field(b, KIND_AT));
        let kind = SectionKind::from_code(code).ok_or(ImageError::UnknownSectionKind { index, code })?;
        if u32::from_le_bytes(field(b, RESERVED_AT)) != 0 {
            return Err(ImageError::ReservedNotZero { offset: entry_at + RESERVED_AT as u64 });
        }
        Ok(Self {
            kind,
            file_offset: ImageOffset::new(u64::from_le_bytes(field(b, OFFSET_AT))),
            size: u64::from_le_bytes(field(b, SIZE_AT)),
            checksum: u64::from_le_bytes(field(b, CHECKSUM_AT)),
        })
    }
}

/// The `N` bytes of an entry at offset `at`; the offsets used are constants
/// inside the entry.
fn field<const N: usize>(b: &[u8; SECTION_ENTRY_SIZE], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&b[at..at + N]);
    out
}

/// The file offset just past a section table of `section_count` entries.
pub const fn table_end(section_count: u64) -> u64 {
    (HEADER_SIZE as u64).saturating_add(section_count.saturating_mul(SECTION_ENTRY_SIZE as u64))
}

/// Checks that `sections` fit a file of `file_size` bytes.
///
/// Each section must start on a [`PAGE_SIZE`] boundary at or after the end
/// of the section table, end within the file, and share no byte with any
/// other section; no kind may appear twice. Empty sections obey the same
/// placement rules but overlap nothing.
pub fn validate_sections(sections: &[SectionEntry], file_size: u64) -> Result<()> {
    let table_end = table_end(sections.len() as u64);
    let mut seen: [Option<usize>; SectionKind::ALL.len()] = [None; SectionKind::ALL.len()];
    for (index, section) in sections.iter().enumerate() {
        let offset = section.file_offset;
        if let Some(first) = seen[section.kind.slot()] {
            return Err(ImageError::DuplicateSection { kind: section.kind, first, second: index });
        }
        seen[section.kind.slot()] = Some(index);
        if !offset.is_aligned_to(u64::from(PAGE_SIZE)) {
            return Err(ImageError::SectionMisaligned { index, offset });
        }
        if section.end().is_none_or(|end| end.get() > file_size) {
            return Err(ImageError::SectionOutOfBounds { index, offset, size: section.size, file_size });
        }
        if offset.get() < table_end {
            return Err(ImageError::SectionOverlapsTable { index, offset, table_end });
        }
    }
    // Sorted by start, non-empty sections overlap if and only if some
    // neighbouring pair does.
    let mut order: Vec<usize> = (0..sections.len()).filter(|&index| sections[index].size != 0).collect();
    order.sort_by_key(|&index| sections[index].file_offset);
    for pair in order.windows(2) {
        let (a, b) = (&sections[pair[0]], &sections[pair[1]]);
        if a.file_offset.get() + a.size > b.file_offset.get() {
            return Err(ImageError::SectionsOverlap { first: pair[0], second: pair[1] });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: u64 = PAGE_SIZE as u64;

    fn entry(kind: SectionKind, pages: u64, size: u64) -> SectionEntry {
        SectionEntry::new(kind, ImageOffset::new(pages * PAGE), size)
    }

    #[test]
    fn kind_codes_are_stable_and_round_trip() {
        let codes: Vec<u32> = SectionKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7]);
        for kind in SectionKind::ALL {
            assert_eq!(SectionKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(SectionKind::from_code(0), None);
        assert_eq!(SectionKind::from_code(8), None);
    }

    #[test]
    fn entry_round_trips() {
        let mut section = entry(SectionKind::Exports, 3, 12345);
        section.checksum = 0xabcd;
        let bytes = section.to_bytes();
        assert_eq!(SectionEntry::from_bytes(&bytes, 0), Ok(section));
        assert_eq!(
            SectionEntry::from_bytes(&bytes[..31], 1),
            Err(ImageError::Truncated { needed: 96 + 64, got: 96 + 32 + 31 })
        );
    }

    #[test]
    fn unknown_kind_and_reserved_bits_are_rejected() {
        let mut bytes = entry(SectionKind::Objects, 1, 8).to_bytes();
        bytes[0] = 9;
        assert_eq!(SectionEntry::from_bytes(&bytes, 2), Err(ImageError::UnknownSectionKind { index: 2, code: 9 }));
        let mut bytes = entry(SectionKind::Objects, 1, 8).to_bytes();
        bytes[7] = 1;
        assert_eq!(SectionEntry::from_bytes(&bytes, 2), Err(ImageError::ReservedNotZero { offset: 96 + 64 + 4 }));
    }

    #[test]
    fn placement_rules() {
        use SectionKind::*;
        let file = 4 * PAGE;
        let ok = [entry(Objects, 1, PAGE + 1), entry(Symbols, 3, PAGE)];
        assert_eq!(validate_sections(&ok, file), Ok(()));

        let misaligned = [SectionEntry::new(Objects, ImageOffset::new(PAGE + 8), 1)];
        assert!(matches!(validate_sections(&misaligned, file), Err(ImageError::SectionMisaligned { index: 0, .. })));

        let past_end = [entry(Objects, 3, PAGE + 1)];
        assert!(matches!(validate_sections(&past_end, file), Err(ImageError::SectionOutOfBounds { index: 0, .. })));

        let overflowing = [entry(Objects, 1, u64::MAX)];
        assert!(matches!(validate_sections(&overflowing, file), Err(ImageError::SectionOutOfBounds { index: 0, .. })));

        let over_table = [entry(Objects, 0, 0)];
        assert_eq!(
            validate_sections(&over_table, file),
            Err(ImageError::SectionOverlapsTable { index: 0, offset: ImageOffset::new(0), table_end: 128 })
        );

        let overlapping = [entry(Symbols, 2, PAGE), entry(Objects, 1, PAGE + 1)];
        assert_eq!(validate_sections(&overlapping, file), Err(ImageError::SectionsOverlap { first: 1, second: 0 }));

        let duplicate = [entry(Objects, 1, 1), entry(Objects, 2, 1)];
        assert_eq!(
            validate_sections(&duplicate, file),
            Err(ImageError::DuplicateSection { kind: Objects, first: 0, second: 1 })
        );
    }

    #[test]
    fn empty_sections_do_not_hide_overlaps() {
        use SectionKind::*;
        let sections = [entry(Objects, 1, 2 * PAGE), entry(Imports, 2, 0), entry(Symbols, 2, PAGE)];
        assert_eq!(validate_sections(&sections, 4 * PAGE), Err(ImageError::SectionsOverlap { first: 0, second: 2 }));
        let touching = [entry(Objects, 1, PAGE), entry(Imports, 4, 0)];
        assert_eq!(validate_sections(&touching, 4 * PAGE), Ok(()));
    }
}

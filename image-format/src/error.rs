//! The crate's error type: every way a mini-image layout can be rejected.

use std::fmt;

use crate::section::{ImageOffset, SectionKind};

/// Why a mini-image was rejected.
///
/// Every variant carries the values needed to say exactly what was wrong and
/// where. Offsets and sizes are byte counts within the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// The file ends before a part that must be present.
    Truncated {
        /// Bytes the file must have for the part being read.
        needed: u64,
        /// Bytes the file has.
        got: u64,
    },
    /// The file is longer than the size its header records.
    TrailingBytes {
        /// The file size recorded in the header.
        expected: u64,
        /// Bytes the file has.
        got: u64,
    },
    /// The file does not start with [`MAGIC`](crate::MAGIC).
    BadMagic {
        /// The first eight bytes of the file.
        found: [u8; 8],
    },
    /// The image was written in a format version this crate does not read.
    UnsupportedVersion {
        /// The version recorded in the header.
        found: u32,
        /// The version this crate reads.
        supported: u32,
    },
    /// The image was written for a machine with another word size.
    WrongWordSize {
        /// The word size, in bytes, recorded in the header.
        found: u8,
        /// The word size this crate reads.
        expected: u8,
    },
    /// The image was written for another byte order.
    WrongEndianness {
        /// The byte-order code recorded in the header.
        found: u8,
    },
    /// The image was laid out for another page size.
    UnsupportedPageSize {
        /// The page size recorded in the header.
        found: u32,
        /// The page size this crate reads.
        expected: u32,
    },
    /// The header sets flag bits this format version does not define.
    UnknownFlags {
        /// The undefined bits that are set.
        bits: u32,
    },
    /// The preferred base address is not a multiple of the page size.
    BaseMisaligned {
        /// The preferred base address recorded in the header.
        base: u64,
    },
    /// A reserved field is not zero.
    ReservedNotZero {
        /// File offset of the reserved field.
        offset: u64,
    },
    /// The checksum over the header and section table does not match.
    HeaderChecksum {
        /// The checksum recorded in the header.
        stored: u64,
        /// The checksum of the bytes as found.
        computed: u64,
    },
    /// A section table entry names a kind this format version does not define.
    UnknownSectionKind {
        /// Position of the entry in the section table.
        index: usize,
        /// The kind code found.
        code: u32,
    },
    /// Two section table entries name the same kind.
    DuplicateSection {
        /// The kind named twice.
        kind: SectionKind,
        /// Position of the first entry.
        first: usize,
        /// Position of the second entry.
        second: usize,
    },
    /// A section does not start on a page boundary.
    SectionMisaligned {
        /// Position of the entry in the section table.
        index: usize,
        /// Where the section starts.
        offset: ImageOffset,
    },
    /// A section extends past the end of the file.
    SectionOutOfBounds {
        /// Position of the entry in the section table.
        index: usize,
        /// Where the section starts.
        offset: ImageOffset,
        /// Length of the section in bytes.
        size: u64,
        /// The file size recorded in the header.
        file_size: u64,
    },
    /// A section starts inside the header or the section table.
    SectionOverlapsTable {
        /// Position of the entry in the section table.
        index: usize,
        /// Where the section starts.
        offset: ImageOffset,
        /// Where the section table ends.
        table_end: u64,
    },
    /// Two sections share bytes.
    SectionsOverlap {
        /// Position of the earlier-starting section in the table.
        first: usize,
        /// Position of the section that starts inside it.
        second: usize,
    },
    /// A section every image has is missing.
    MissingSection {
        /// The kind that is missing.
        kind: SectionKind,
    },
    /// The header and section table do not fit in the first page.
    TableTooLarge {
        /// Where the table ends.
        table_end: u64,
    },
    /// The objects section is not the first section, or the chunks section
    /// not the last.
    SectionOrder {
        /// What is wrong.
        detail: String,
    },
    /// A section's bytes do not match the checksum in the section table.
    SectionChecksum {
        /// The section.
        kind: SectionKind,
        /// The checksum the table records.
        stored: u64,
        /// The checksum of the bytes as found.
        computed: u64,
    },
    /// A chunk of the file does not match its checksum.
    ChunkChecksum {
        /// Where the chunk starts in the file.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// A table inside a section is malformed.
    BadTable {
        /// The section.
        section: SectionKind,
        /// What is wrong.
        detail: String,
    },
    /// The file is neither an image nor an executable with one appended.
    NotAnImage {
        /// What was found.
        detail: String,
    },
    /// Reading or mapping the file failed.
    Io {
        /// The operating system's message.
        detail: String,
    },
}

/// The result of reading or checking a mini-image.
pub type Result<T> = std::result::Result<T, ImageError>;

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, got } => {
                write!(f, "image is truncated: it needs at least {needed} bytes but has {got}")
            }
            Self::TrailingBytes { expected, got } => {
                write!(f, "image has trailing bytes: its header records {expected} bytes but the file has {got}")
            }
            Self::BadMagic { found } => {
                write!(f, "not a Mica image: expected magic \"MICAIMG\\0\", found {}", found.escape_ascii())
            }
            Self::UnsupportedVersion { found, supported } => {
                write!(f, "image format version {found} is not supported (this build reads version {supported})")
            }
            Self::WrongWordSize { found, expected } => {
                write!(f, "image was written for {found}-byte words, this machine uses {expected}-byte words")
            }
            Self::WrongEndianness { found } => write!(f, "image byte order code {found} is not little-endian (code 1)"),
            Self::UnsupportedPageSize { found, expected } => {
                write!(f, "image page size {found} is not supported (expected {expected})")
            }
            Self::UnknownFlags { bits } => {
                write!(f, "image header sets undefined flag bits {bits:#x}")
            }
            Self::BaseMisaligned { base } => write!(f, "image preferred base address {base:#x} is not page-aligned"),
            Self::ReservedNotZero { offset } => {
                write!(f, "reserved field at offset {offset:#x} is not zero")
            }
            Self::HeaderChecksum { stored, computed } => write!(
                f,
                "image header or section table is corrupt: checksum is {computed:#018x}, header records {stored:#018x}"
            ),
            Self::UnknownSectionKind { index, code } => {
                write!(f, "section {index} has unknown kind code {code}")
            }
            Self::DuplicateSection { kind, first, second } => {
                write!(f, "sections {first} and {second} are both {kind} sections")
            }
            Self::SectionMisaligned { index, offset } => {
                write!(f, "section {index} starts at {offset}, which is not page-aligned")
            }
            Self::SectionOutOfBounds { index, offset, size, file_size } => write!(
                f,
                "section {index} ({size} bytes at {offset}) extends past the end of the {file_size}-byte file"
            ),
            Self::SectionOverlapsTable { index, offset, table_end } => write!(
                f,
                "section {index} starts at {offset}, inside the header and section table (which end at {table_end:#x})"
            ),
            Self::SectionsOverlap { first, second } => {
                write!(f, "sections {first} and {second} overlap")
            }
            Self::MissingSection { kind } => write!(f, "image has no {kind} section"),
            Self::TableTooLarge { table_end } => {
                write!(f, "the header and section table end at {table_end}, past the first page")
            }
            Self::SectionOrder { detail } => write!(f, "sections are out of order: {detail}"),
            Self::SectionChecksum { kind, stored, computed } => write!(
                f,
                "the {kind} section is corrupt: its checksum is {computed:#018x}, the section table records {stored:#018x}"
            ),
            Self::ChunkChecksum { offset, len } => {
                write!(f, "the {len} bytes at offset {offset:#x} are corrupt: they do not match their checksum")
            }
            Self::BadTable { section, detail } => write!(f, "the {section} table is malformed: {detail}"),
            Self::NotAnImage { detail } => write!(f, "not a Mica image: {detail}"),
            Self::Io { detail } => f.write_str(detail),
        }
    }
}

impl std::error::Error for ImageError {}

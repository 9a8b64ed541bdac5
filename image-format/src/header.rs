//! The fixed-size header at offset 0 of every mini-image.
//!
//! ```text
//!  offset  size  field           value
//!  ------  ----  --------------  -----------------------------------------
//!       0     8  magic           "MICAIMG\0"
//!       8     4  version         FORMAT_VERSION (1)
//!      12     1  word_size       WORD_SIZE (8)
//!      13     1  endianness      ENDIAN_LITTLE (1)
//!      14     2  reserved        0
//!      16     4  flags           Flags bits (SEALED = 1)
//!      20     4  page_size       PAGE_SIZE (4096)
//!      24     8  preferred_base  page-aligned address to map at, 0 = any
//!      32     8  file_size       length of the whole file in bytes
//!      40     4  section_count   entries in the section table
//!      44     4  reserved        0
//!      48     8  checksum        FNV-1a 64 of header + section table,
//!                                taken with this field read as zero
//!      56     8  runtime_size    bytes of zeroed memory the image needs
//!                                for method cells, ending where the file
//!                                begins (starting runtime_size rounded
//!                                up to CHUNK_SIZE below the base)
//!      64     8  abi             hash of the object layout and bytecode set
//!                                the objects are encoded for
//!      72     8  build_id        hash identifying this exact build (its
//!                                objects, base and tables); importers
//!                                record it to know whether their
//!                                pre-resolved addresses still hold
//!      80    16  reserved        0
//!      96        (section table follows)
//! ```
//!
//! All fields are little-endian.

use std::ops::{BitOr, BitOrAssign};

use crate::error::{ImageError, Result};

/// The eight bytes that open every mini-image.
pub const MAGIC: [u8; 8] = *b"MICAIMG\0";

/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The machine word size, in bytes, that images are laid out for.
pub const WORD_SIZE: u8 = 8;

/// The `endianness` code for little-endian, the only byte order supported.
pub const ENDIAN_LITTLE: u8 = 1;

/// The page size, in bytes, to which sections are aligned.
pub const PAGE_SIZE: u32 = 4096;

/// The unit of lazy verification: the file after its first page is checked
/// in chunks of this many bytes, each when first touched. A multiple of
/// every page size Linux uses (4, 16, 64 KiB), so a chunk can be protected
/// on its own; images start at multiples of it in bundles.
pub const CHUNK_SIZE: u64 = 64 << 10;

/// The encoded size of a [`Header`] in bytes.
pub const HEADER_SIZE: usize = 96;

const MAGIC_AT: usize = 0;
const VERSION_AT: usize = 8;
const WORD_SIZE_AT: usize = 12;
const ENDIANNESS_AT: usize = 13;
const RESERVED_A_AT: usize = 14;
const FLAGS_AT: usize = 16;
const PAGE_SIZE_AT: usize = 20;
const BASE_AT: usize = 24;
const FILE_SIZE_AT: usize = 32;
const SECTION_COUNT_AT: usize = 40;
const RESERVED_B_AT: usize = 44;
/// File offset of the checksum field.
pub(crate) const CHECKSUM_AT: usize = 48;
const RUNTIME_SIZE_AT: usize = 56;
const ABI_AT: usize = 64;
const BUILD_ID_AT: usize = 72;
const RESERVED_C_AT: usize = 80;

const _: () = assert!(HEADER_SIZE == 96);
const _: () = assert!(HEADER_SIZE.is_multiple_of(8));
const _: () = assert!(RESERVED_C_AT + 16 == HEADER_SIZE);
const _: () = assert!(CHECKSUM_AT.is_multiple_of(8) && CHECKSUM_AT + 8 <= HEADER_SIZE);
const _: () = assert!(PAGE_SIZE.is_power_of_two());
const _: () = assert!(WORD_SIZE as usize == size_of::<u64>());
const _: () = assert!(MAGIC.len() == VERSION_AT - MAGIC_AT);

/// Image-wide flags stored in the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u32);

impl Flags {
    /// The program is sealed: it refuses live connections (deployment is
    /// link, bundle, seal).
    pub const SEALED: Self = Self(1);

    /// Every flag this format version defines.
    pub const ALL: Self = Self::SEALED;

    /// No flags set.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The flags for `bits`, or `None` if a bit outside [`Flags::ALL`] is set.
    pub const fn from_bits(bits: u32) -> Option<Self> {
        if bits & !Self::ALL.0 == 0 { Some(Self(bits)) } else { None }
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag in `other` is also set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flags set in either `self` or `other`.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Sets the flags in `other`.
    pub const fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }

    /// Clears the flags in `other`.
    pub const fn remove(&mut self, other: Self) {
        self.0 &= !other.0;
    }
}

impl BitOr for Flags {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        self.union(other)
    }
}

impl BitOrAssign for Flags {
    fn bitor_assign(&mut self, other: Self) {
        self.insert(other);
    }
}

/// The decoded header of a mini-image.
///
/// The fields mirror the encoding drawn in the module documentation. A
/// header returned by [`Header::from_bytes`] has the identity fields
/// (`magic`, `version`, `word_size`, `endianness`, `page_size`) equal to
/// this crate's constants; a header built by hand may hold anything, and is
/// written as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Identifies the file as a mini-image: [`MAGIC`].
    pub magic: [u8; 8],
    /// The format version: [`FORMAT_VERSION`].
    pub version: u32,
    /// The machine word size in bytes: [`WORD_SIZE`].
    pub word_size: u8,
    /// The byte-order code: [`ENDIAN_LITTLE`].
    pub endianness: u8,
    /// Image-wide flags.
    pub flags: Flags,
    /// The page size sections are aligned to: [`PAGE_SIZE`].
    pub page_size: u32,
    /// The page-aligned address the image prefers to be mapped at, or 0 for
    /// no preference.
    pub preferred_base: u64,
    /// Length of the whole file in bytes.
    pub file_size: u64,
    /// Number of entries in the section table.
    pub section_count: u32,
    /// FNV-1a 64 of the header and section table, taken with this field
    /// read as zero.
    pub checksum: u64,
    /// Bytes of zeroed memory the image needs below its base.
    pub runtime_size: u64,
    /// Hash of the object layout and bytecode set the objects use.
    pub abi: u64,
    /// Hash identifying this exact build.
    pub build_id: u64,
}

impl Header {
    /// A header for the current format with the given flags, preferred base
    /// and file size; the section count and checksum are zero until
    /// [`write_layout`](crate::write_layout) fills them in.
    pub const fn new(flags: Flags, preferred_base: u64, file_size: u64) -> Self {
        Self {
            magic: MAGIC,
            version: FORMAT_VERSION,
            word_size: WORD_SIZE,
            endianness: ENDIAN_LITTLE,
            flags,
            page_size: PAGE_SIZE,
            preferred_base,
            file_size,
            section_count: 0,
            checksum: 0,
            runtime_size: 0,
            abi: 0,
            build_id: 0,
        }
    }

    /// Encodes the header exactly as its fields say.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut out = [0u8; HEADER_SIZE];
        out[MAGIC_AT..VERSION_AT].copy_from_slice(&self.magic);
        put(&mut out, VERSION_AT, &self.version.to_le_bytes());
        out[WORD_SIZE_AT] = self.word_size;
        out[ENDIANNESS_AT] = self.endianness;
        put(&mut out, FLAGS_AT, &self.flags.bits().to_le_bytes());
        put(&mut out, PAGE_SIZE_AT, &self.page_size.to_le_bytes());
        put(&mut out, BASE_AT, &self.preferred_base.to_le_bytes());
        put(&mut out, FILE_SIZE_AT, &self.file_size.to_le_bytes());
        put(&mut out, SECTION_COUNT_AT, &self.section_count.to_le_bytes());
        put(&mut out, CHECKSUM_AT, &self.checksum.to_le_bytes());
        put(&mut out, RUNTIME_SIZE_AT, &self.runtime_size.to_le_bytes());
        put(&mut out, ABI_AT, &self.abi.to_le_bytes());
        put(&mut out, BUILD_ID_AT, &self.build_id.to_le_bytes());
        out
    }

    /// Decodes and checks the header at the start of `bytes`.
    ///
    /// Checks, in order: length, magic, version, word size, byte order,
    /// page size, reserved fields, flags, base alignment. The checksum is
    /// not checked here, since it also covers the section table; see
    /// [`parse_layout`](crate::parse_layout).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let Some(b) = bytes.first_chunk::<HEADER_SIZE>() else {
            return Err(ImageError::Truncated { needed: HEADER_SIZE as u64, got: bytes.len() as u64 });
        };
        let magic = get::<8>(b, MAGIC_AT);
        if magic != MAGIC {
            return Err(ImageError::BadMagic { found: magic });
        }
        let version = u32::from_le_bytes(get(b, VERSION_AT));
        if version != FORMAT_VERSION {
            return Err(ImageError::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
        }
        let word_size = b[WORD_SIZE_AT];
        if word_size != WORD_SIZE {
            return Err(ImageError::WrongWordSize { found: word_size, expected: WORD_SIZE });
        }
        let endianness = b[ENDIANNESS_AT];
        if endianness != ENDIAN_LITTLE {
            return Err(ImageError::WrongEndianness { found: endianness });
        }
        let page_size = u32::from_le_bytes(get(b, PAGE_SIZE_AT));
        if page_size != PAGE_SIZE {
            return Err(ImageError::UnsupportedPageSize { found: page_size, expected: PAGE_SIZE });
        }
        check_zero(b, RESERVED_A_AT, 2)?;
        check_zero(b, RESERVED_B_AT, 4)?;
        check_zero(b, RESERVED_C_AT, 16)?;
        let bits = u32::from_le_bytes(get(b, FLAGS_AT));
        let flags = Flags::from_bits(bits).ok_or(ImageError::UnknownFlags { bits: bits & !Flags::ALL.bits() })?;
        let preferred_base = u64::from_le_bytes(get(b, BASE_AT));
        if !preferred_base.is_multiple_of(u64::from(PAGE_SIZE)) {
            return Err(ImageError::BaseMisaligned { base: preferred_base });
        }
        Ok(Self {
            magic,
            version,
            word_size,
            endianness,
            flags,
            page_size,
            preferred_base,
            file_size: u64::from_le_bytes(get(b, FILE_SIZE_AT)),
            section_count: u32::from_le_bytes(get(b, SECTION_COUNT_AT)),
            checksum: u64::from_le_bytes(get(b, CHECKSUM_AT)),
            runtime_size: u64::from_le_bytes(get(b, RUNTIME_SIZE_AT)),
            abi: u64::from_le_bytes(get(b, ABI_AT)),
            build_id: u64::from_le_bytes(get(b, BUILD_ID_AT)),
        })
    }
}

/// Copies `field` into `out` at offset `at`.
fn put(out: &mut [u8; HEADER_SIZE], at: usize, field: &[u8]) {
    out[at..at + field.len()].copy_from_slice(field);
}

/// The `N` bytes of `b` at offset `at`; the offsets used are constants
/// inside the header.
fn get<const N: usize>(b: &[u8; HEADER_SIZE], at: usize) -> [u8; N] {
    let mut field = [0u8; N];
    field.copy_from_slice(&b[at..at + N]);
    field
}

/// Fails unless the `len` bytes at `at` are zero.
fn check_zero(b: &[u8; HEADER_SIZE], at: usize, len: usize) -> Result<()> {
    if b[at..at + len].iter().all(|&byte| byte == 0) {
        Ok(())
    } else {
        Err(ImageError::ReservedNotZero { offset: at as u64 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        let mut header = Header::new(Flags::SEALED, 0x7f00_0000_0000, 3 * 4096);
        header.section_count = 2;
        header.checksum = 0x0123_4567_89ab_cdef;
        header.runtime_size = 4000;
        header.abi = 7;
        header.build_id = 0xfeed;
        header
    }

    #[test]
    fn round_trips() {
        let header = sample();
        let bytes = header.to_bytes();
        assert_eq!(&bytes[..8], b"MICAIMG\0");
        assert_eq!(Header::from_bytes(&bytes), Ok(header));
    }

    #[test]
    fn truncated_header_is_rejected_at_every_length() {
        let bytes = sample().to_bytes();
        for len in 0..HEADER_SIZE {
            assert_eq!(Header::from_bytes(&bytes[..len]), Err(ImageError::Truncated { needed: 96, got: len as u64 }));
        }
    }

    #[test]
    fn identity_fields_are_checked() {
        let mut header = sample();
        header.magic = *b"MICAIMG1";
        assert!(matches!(
            Header::from_bytes(&header.to_bytes()),
            Err(ImageError::BadMagic { found }) if found == *b"MICAIMG1"
        ));

        let mut header = sample();
        header.version = 2;
        assert_eq!(
            Header::from_bytes(&header.to_bytes()),
            Err(ImageError::UnsupportedVersion { found: 2, supported: 1 })
        );

        let mut header = sample();
        header.word_size = 4;
        assert_eq!(Header::from_bytes(&header.to_bytes()), Err(ImageError::WrongWordSize { found: 4, expected: 8 }));

        let mut header = sample();
        header.endianness = 2;
        assert_eq!(Header::from_bytes(&header.to_bytes()), Err(ImageError::WrongEndianness { found: 2 }));

        let mut header = sample();
        header.page_size = 16384;
        assert_eq!(
            Header::from_bytes(&header.to_bytes()),
            Err(ImageError::UnsupportedPageSize { found: 16384, expected: 4096 })
        );

        let mut header = sample();
        header.preferred_base = 0x1000_0800;
        assert_eq!(Header::from_bytes(&header.to_bytes()), Err(ImageError::BaseMisaligned { base: 0x1000_0800 }));
    }

    #[test]
    fn reserved_bytes_and_unknown_flags_are_rejected() {
        for at in (14..16).chain(44..48).chain(80..96) {
            let mut bytes = sample().to_bytes();
            bytes[at] = 1;
            assert!(matches!(Header::from_bytes(&bytes), Err(ImageError::ReservedNotZero { .. })));
        }
        let mut bytes = sample().to_bytes();
        bytes[FLAGS_AT] = 0b110;
        assert_eq!(Header::from_bytes(&bytes), Err(ImageError::UnknownFlags { bits: 0b110 }));
    }

    #[test]
    fn flags_behave_as_a_set() {
        let mut flags = Flags::empty();
        assert!(flags.is_empty());
        flags |= Flags::SEALED;
        assert!(flags.contains(Flags::SEALED));
        assert_eq!(flags.bits(), 1);
        assert_eq!(Flags::empty() | Flags::SEALED, Flags::SEALED);
        flags.remove(Flags::SEALED);
        assert_eq!(flags, Flags::empty());
        assert_eq!(Flags::from_bits(1), Some(Flags::SEALED));
        assert_eq!(Flags::from_bits(2), None);
    }
}

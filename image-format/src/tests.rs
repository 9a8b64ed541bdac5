//! Whole-layout tests: round trips, and every kind of corruption.

use crate::layout::layout_checksum;
use crate::*;

const PAGE: u64 = PAGE_SIZE as u64;
const HEADER_AND_TABLE: usize = HEADER_SIZE + 3 * SECTION_ENTRY_SIZE;

fn sample_sections() -> Vec<SectionEntry> {
    vec![
        SectionEntry::new(SectionKind::Objects, ImageOffset::new(PAGE), PAGE + 904),
        SectionEntry::new(SectionKind::Symbols, ImageOffset::new(3 * PAGE), 100),
        SectionEntry::new(SectionKind::Exports, ImageOffset::new(4 * PAGE), 0),
    ]
}

fn sample_header() -> Header {
    Header::new(Flags::SEALED, 0x7f00_0000_0000, 4 * PAGE)
}

/// A complete four-page image whose section bytes are a counting pattern.
fn image_with(header: &Header, sections: &[SectionEntry]) -> Vec<u8> {
    let mut bytes = write_layout(header, sections);
    let table = bytes.len();
    bytes.extend((table..header.file_size as usize).map(|i| i as u8));
    bytes
}

fn sample_image() -> Vec<u8> {
    image_with(&sample_header(), &sample_sections())
}

/// Recomputes the checksum of an image edited in place, over as much of
/// the section table as the file holds.
fn reseal(bytes: &mut [u8]) {
    let count = u32::from_le_bytes(bytes[40..44].try_into().unwrap()) as usize;
    let end = (HEADER_SIZE + count * SECTION_ENTRY_SIZE).min(bytes.len());
    let checksum = layout_checksum(&bytes[..end]);
    bytes[48..56].copy_from_slice(&checksum.to_le_bytes());
}

#[test]
fn round_trips() {
    let bytes = sample_image();
    let layout = parse_layout(&bytes).unwrap();
    let mut expected = sample_header();
    expected.section_count = 3;
    expected.checksum = layout.header.checksum;
    assert_eq!(layout.header, expected);
    assert_ne!(layout.header.checksum, 0);
    assert_eq!(layout.sections, sample_sections());
    assert_eq!(layout.table_end(), HEADER_AND_TABLE as u64);
    assert_eq!(write_layout(&layout.header, &layout.sections), bytes[..HEADER_AND_TABLE]);
}

#[test]
fn finds_sections_and_their_bytes() {
    let bytes = sample_image();
    let layout = parse_layout(&bytes).unwrap();
    let symbols = layout.section_bytes(&bytes, SectionKind::Symbols).unwrap();
    assert_eq!(symbols.len(), 100);
    assert_eq!(symbols[0], (3 * PAGE) as u8);
    assert_eq!(layout.section_bytes(&bytes, SectionKind::Exports), Some(&[][..]));
    assert_eq!(layout.section(SectionKind::Imports), None);
    assert_eq!(layout.section_bytes(&bytes, SectionKind::Imports), None);
}

#[test]
fn an_image_without_sections_is_valid() {
    let header = Header::new(Flags::empty(), 0, HEADER_SIZE as u64);
    let bytes = write_layout(&header, &[]);
    let layout = parse_layout(&bytes).unwrap();
    assert!(layout.sections.is_empty());
    assert_eq!(layout.header.flags, Flags::empty());
}

#[test]
fn truncation_at_every_length_is_reported() {
    let bytes = sample_image();
    for len in 0..bytes.len() {
        let needed = if len < HEADER_SIZE {
            HEADER_SIZE as u64
        } else if len < HEADER_AND_TABLE {
            HEADER_AND_TABLE as u64
        } else {
            bytes.len() as u64
        };
        assert_eq!(parse_layout(&bytes[..len]), Err(ImageError::Truncated { needed, got: len as u64 }), "length {len}");
    }
}

#[test]
fn trailing_bytes_are_reported() {
    let mut bytes = sample_image();
    bytes.push(0);
    assert_eq!(parse_layout(&bytes), Err(ImageError::TrailingBytes { expected: 4 * PAGE, got: 4 * PAGE + 1 }));
}

#[test]
fn every_byte_of_header_and_table_is_protected() {
    let original = sample_image();
    for at in 0..HEADER_AND_TABLE {
        for mask in (0..8).map(|bit| 1u8 << bit).chain([0xff]) {
            let mut bytes = original.clone();
            bytes[at] ^= mask;
            let result = parse_layout(&bytes);
            assert!(result.is_err(), "byte {at} mask {mask:#x} accepted");
            if (48..56).contains(&at) {
                assert!(matches!(result, Err(ImageError::HeaderChecksum { .. })));
            }
        }
    }
}

#[test]
fn section_contents_are_not_covered_by_the_checksum() {
    let mut bytes = sample_image();
    bytes[PAGE as usize + 10] ^= 0xff;
    assert!(parse_layout(&bytes).is_ok());
}

#[test]
fn corrupt_table_fails_the_checksum() {
    let mut bytes = sample_image();
    bytes[HEADER_SIZE + 8 + 1] ^= 0x10;
    assert!(matches!(
        parse_layout(&bytes),
        Err(ImageError::HeaderChecksum { stored, computed }) if stored != computed
    ));
}

/// A change made to a header before it is written.
type HeaderEdit = fn(&mut Header);

#[test]
fn foreign_headers_are_rejected() {
    let cases: [(HeaderEdit, ImageError); 5] = [
        (|h| h.magic = *b"MICAIMGX", ImageError::BadMagic { found: *b"MICAIMGX" }),
        (|h| h.version = 2, ImageError::UnsupportedVersion { found: 2, supported: 1 }),
        (|h| h.word_size = 4, ImageError::WrongWordSize { found: 4, expected: 8 }),
        (|h| h.endianness = 2, ImageError::WrongEndianness { found: 2 }),
        (|h| h.preferred_base = 0x100, ImageError::BaseMisaligned { base: 0x100 }),
    ];
    for (edit, error) in cases {
        let mut header = sample_header();
        edit(&mut header);
        let bytes = image_with(&header, &sample_sections());
        assert_eq!(parse_layout(&bytes), Err(error));
    }
}

#[test]
fn resealed_field_corruption_gets_its_own_error() {
    let mut bytes = sample_image();
    bytes[16] = 0x80;
    reseal(&mut bytes);
    assert_eq!(parse_layout(&bytes), Err(ImageError::UnknownFlags { bits: 0x80 }));

    let mut bytes = sample_image();
    bytes[HEADER_SIZE + SECTION_ENTRY_SIZE] = 0;
    reseal(&mut bytes);
    assert_eq!(parse_layout(&bytes), Err(ImageError::UnknownSectionKind { index: 1, code: 0 }));

    let mut bytes = sample_image();
    bytes[HEADER_SIZE + 2 * SECTION_ENTRY_SIZE + 5] = 1;
    reseal(&mut bytes);
    assert_eq!(
        parse_layout(&bytes),
        Err(ImageError::ReservedNotZero { offset: (HEADER_SIZE + 2 * SECTION_ENTRY_SIZE + 4) as u64 })
    );
}

#[test]
fn bad_section_placement_is_rejected() {
    let place = |edit: fn(&mut Vec<SectionEntry>)| {
        let mut sections = sample_sections();
        edit(&mut sections);
        parse_layout(&image_with(&sample_header(), &sections))
    };
    assert_eq!(
        place(|s| s[1].file_offset = ImageOffset::new(3 * PAGE + 64)),
        Err(ImageError::SectionMisaligned { index: 1, offset: ImageOffset::new(3 * PAGE + 64) })
    );
    assert_eq!(
        place(|s| s[1].size = PAGE + 1),
        Err(ImageError::SectionOutOfBounds {
            index: 1,
            offset: ImageOffset::new(3 * PAGE),
            size: PAGE + 1,
            file_size: 4 * PAGE
        })
    );
    assert_eq!(
        place(|s| s[2].file_offset = ImageOffset::new(5 * PAGE)),
        Err(ImageError::SectionOutOfBounds {
            index: 2,
            offset: ImageOffset::new(5 * PAGE),
            size: 0,
            file_size: 4 * PAGE
        })
    );
    assert_eq!(place(|s| s[0].size = 2 * PAGE + 1), Err(ImageError::SectionsOverlap { first: 0, second: 1 }));
    assert_eq!(
        place(|s| s[2].file_offset = ImageOffset::new(0)),
        Err(ImageError::SectionOverlapsTable {
            index: 2,
            offset: ImageOffset::new(0),
            table_end: HEADER_AND_TABLE as u64
        })
    );
    assert_eq!(
        place(|s| s[2].kind = SectionKind::Objects),
        Err(ImageError::DuplicateSection { kind: SectionKind::Objects, first: 0, second: 2 })
    );
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn arbitrary_input_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let original = sample_image();
    for _ in 0..5_000 {
        let len = rng.below(300);
        let noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = parse_layout(&noise);

        let mut bytes = original.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(HEADER_AND_TABLE);
            bytes[at] = rng.next() as u8;
        }
        reseal(&mut bytes);
        let cut = rng.below(bytes.len() + 1);
        if let Err(error) = parse_layout(&bytes[..cut]) {
            assert!(!error.to_string().is_empty());
        }
    }
}

#[test]
fn huge_section_counts_are_truncation_not_allocation() {
    let mut bytes = sample_image();
    bytes[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        parse_layout(&bytes),
        Err(ImageError::Truncated { needed: 64 + 24 * u64::from(u32::MAX), got: 4 * PAGE })
    );
}

#[test]
fn messages_name_the_problem() {
    let error = ImageError::Truncated { needed: 4096, got: 10 };
    assert_eq!(error.to_string(), "image is truncated: it needs at least 4096 bytes but has 10");
    let error = ImageError::BadMagic { found: *b"\x7fELF\x02\x01\x01\0" };
    assert!(error.to_string().contains("\\x7fELF"));
    let error = ImageError::SectionMisaligned { index: 1, offset: ImageOffset::new(0x1040) };
    assert_eq!(error.to_string(), "section 1 starts at 0x1040, which is not page-aligned");
}

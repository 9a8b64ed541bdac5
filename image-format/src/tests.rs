//! Whole-image tests: building, round trips, and every kind of corruption.

use crate::layout::layout_checksum;
use crate::tables::*;
use crate::*;

const PAGE: u64 = PAGE_SIZE as u64;

/// A small image: 20 000 bytes of counting-pattern "objects" and one entry
/// in every table.
fn sample_builder() -> ImageBuilder {
    ImageBuilder {
        flags: Flags::empty(),
        preferred_base: window::base_for(b"Sample 1.0.0"),
        runtime_size: 400,
        abi: 42,
        objects: (0..20_000u32).map(|i| (i * 31 + 7) as u8).collect(),
        namespaces: vec![NamespaceEntry {
            name: "Sample".into(),
            version: "1.0.0".into(),
            main: Some("App".into()),
            descriptor: OBJECTS_OFFSET,
            exports: 0..1,
            imports: vec![NamespaceImport::External(0)],
        }],
        imports: vec![ImportEntry {
            name: "Kernel".into(),
            requirement: "^0.1".into(),
            version: "0.1.0".into(),
            build_id: 1,
            base: window::KERNEL_BASE,
            span: 1 << 20,
            abi: 42,
        }],
        outside: vec![OutsideEntry {
            import: 0,
            kind: OutsideKind::Value,
            name: "Object".into(),
            offset: 0,
            address: window::KERNEL_BASE + 4096,
        }],
        exports: vec![ExportEntry { namespace: 0, name: "App".into(), offset: OBJECTS_OFFSET + 16 }],
        symbols: vec![SymbolEntry { hash: 3, len: 4, offset: OBJECTS_OFFSET + 32 }],
        relocations: Relocations { pointers: vec![512, 514], cells: vec![516] },
    }
}

fn sample_image() -> Vec<u8> {
    sample_builder().finish()
}

/// Recomputes the header checksum of an image edited in place.
fn reseal(bytes: &mut [u8]) {
    let count = u32::from_le_bytes(bytes[40..44].try_into().unwrap()) as usize;
    let end = (HEADER_SIZE + count * SECTION_ENTRY_SIZE).min(bytes.len());
    let checksum = layout_checksum(&bytes[..end]);
    bytes[48..56].copy_from_slice(&checksum.to_le_bytes());
}

#[test]
fn built_images_parse_back() {
    let builder = sample_builder();
    let bytes = builder.finish();
    let meta = ImageMeta::parse(&bytes).expect("parses");
    let header = meta.layout.header;
    assert_eq!(header.preferred_base, builder.preferred_base);
    assert_eq!(header.file_size, bytes.len() as u64);
    assert_eq!((header.runtime_size, header.abi), (400, 42));
    assert_ne!(header.build_id, 0);
    assert_eq!(meta.namespaces, builder.namespaces);
    assert_eq!(meta.imports, builder.imports);
    assert_eq!(meta.outside, builder.outside);
    assert_eq!(meta.layout.section(SectionKind::Objects).file_offset.get(), OBJECTS_OFFSET);
    let objects = meta.layout.section_bytes(&bytes, SectionKind::Objects).unwrap();
    assert_eq!(objects, &builder.objects[..]);
    let exports = Exports::new(meta.layout.section_bytes(&bytes, SectionKind::Exports).unwrap()).unwrap();
    assert_eq!(exports.find(0, "App"), Ok(Some(OBJECTS_OFFSET + 16)));
    let relocations = decode_relocations(meta.layout.section_bytes(&bytes, SectionKind::Relocations).unwrap());
    assert_eq!(relocations, Ok(builder.relocations.clone()));
    assert_eq!(meta.verify_sections(&bytes), Ok(()));
    assert_eq!(meta.verify_chunks(&bytes), Ok(()));
    for s in &meta.layout.sections {
        assert!(s.file_offset.is_aligned_to(PAGE), "{} is page-aligned", s.kind);
    }
}

#[test]
fn the_build_id_identifies_contents_not_flags() {
    let a = sample_image();
    let mut sealed = a.clone();
    let mut header = parse_layout(&a).unwrap().header;
    header.flags = Flags::SEALED;
    rewrite_header(&mut sealed, &header).unwrap();
    let (ma, ms) = (ImageMeta::parse(&a).unwrap(), ImageMeta::parse(&sealed).unwrap());
    assert!(ms.layout.header.flags.contains(Flags::SEALED));
    assert_eq!(ma.layout.header.build_id, ms.layout.header.build_id);
    assert_eq!(ms.verify_chunks(&sealed), Ok(()), "sealing leaves the chunks alone");
    let mut other = sample_builder();
    other.objects[5] ^= 1;
    assert_ne!(ImageMeta::parse(&other.finish()).unwrap().layout.header.build_id, ma.layout.header.build_id);
}

#[test]
fn truncation_at_every_length_is_an_error() {
    let bytes = sample_image();
    for len in (0..bytes.len()).step_by(97).chain([bytes.len() - 1, 95, 96, 100]) {
        let result = ImageMeta::parse(&bytes[..len]);
        assert!(result.is_err(), "length {len} accepted");
    }
    assert!(matches!(ImageMeta::parse(&bytes[..bytes.len() - 1]), Err(ImageError::Truncated { .. })));
}

#[test]
fn trailing_bytes_are_reported() {
    let mut bytes = sample_image();
    let len = bytes.len() as u64;
    bytes.push(0);
    assert_eq!(parse_layout(&bytes), Err(ImageError::TrailingBytes { expected: len, got: len + 1 }));
}

#[test]
fn every_byte_of_header_and_table_is_protected() {
    let original = sample_image();
    let table_end = parse_layout(&original).unwrap().table_end() as usize;
    for at in 0..table_end {
        for mask in [1u8, 0x10, 0x80, 0xff] {
            let mut bytes = original.clone();
            bytes[at] ^= mask;
            assert!(ImageMeta::parse(&bytes).is_err(), "byte {at} mask {mask:#x} accepted");
        }
    }
}

#[test]
fn flipped_bytes_anywhere_else_are_caught_by_a_section_or_chunk_checksum() {
    let original = sample_image();
    let meta = ImageMeta::parse(&original).unwrap();
    let table_end = meta.layout.table_end() as usize;
    for at in (table_end..original.len()).step_by(131) {
        let mut bytes = original.clone();
        bytes[at] ^= 0x40;
        let eager = ImageMeta::parse(&bytes);
        let caught = match eager {
            Err(e) => !e.to_string().is_empty(),
            Ok(m) => m.verify_chunks(&bytes).is_err() || m.verify_sections(&bytes).is_err() || at < PAGE as usize,
        };
        assert!(caught, "flip at {at} went unnoticed");
    }
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
        let mut bytes = sample_image();
        let mut header = parse_layout(&bytes).unwrap().header;
        edit(&mut header);
        bytes[..HEADER_SIZE].copy_from_slice(&header.to_bytes());
        reseal(&mut bytes);
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
    bytes[HEADER_SIZE + 2 * SECTION_ENTRY_SIZE] = 1;
    reseal(&mut bytes);
    assert!(matches!(parse_layout(&bytes), Err(ImageError::DuplicateSection { .. })));

    // A table entry whose checksum no longer matches its section.
    let mut bytes = sample_image();
    bytes[HEADER_SIZE + SECTION_ENTRY_SIZE * 3 + 24] ^= 1;
    reseal(&mut bytes);
    assert!(parse_layout(&bytes).is_ok());
    assert!(matches!(ImageMeta::parse(&bytes), Err(ImageError::SectionChecksum { .. })));
}

#[test]
fn bundle_trailers_round_trip_and_are_checked() {
    let dir = std::env::temp_dir().join(format!("mica-trailer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let image = sample_image();
    let exe = b"\x7fELF pretend executable".to_vec();
    let offset = (exe.len() as u64).next_multiple_of(CHUNK_SIZE);
    let mut bundle = exe.clone();
    bundle.resize(offset as usize, 0);
    bundle.extend_from_slice(&image);
    bundle.extend_from_slice(&encode_trailer(offset, image.len() as u64));
    let path = dir.join("bundle");
    write_atomically(&path, &[&bundle], Some(0o755)).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let at = locate(&file).unwrap();
    assert_eq!(at, Located { offset, len: image.len() as u64, bundled: true });
    let meta = ImageMeta::read_from(&file, at).unwrap();
    assert_eq!(meta, ImageMeta::parse(&image).unwrap());

    let plain = dir.join("plain.mimg");
    write_atomically(&plain, &[&image], None).unwrap();
    let at = locate(&std::fs::File::open(&plain).unwrap()).unwrap();
    assert_eq!(at, Located { offset: 0, len: image.len() as u64, bundled: false });

    let mut broken = bundle.clone();
    let n = broken.len();
    broken[n - 20] ^= 1;
    write_atomically(&path, &[&broken], None).unwrap();
    assert!(matches!(locate(&std::fs::File::open(&path).unwrap()), Err(ImageError::NotAnImage { .. })));
    write_atomically(&path, &[b"just text, not an image at all, nothing here"], None).unwrap();
    assert!(matches!(locate(&std::fs::File::open(&path).unwrap()), Err(ImageError::NotAnImage { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mapped_images_verify_chunks_when_touched() {
    let dir = std::env::temp_dir().join(format!("mica-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let image = sample_image();
    let path = dir.join("sample.mimg");
    write_atomically(&path, &[&image], None).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let at = locate(&file).unwrap();
    let meta = ImageMeta::read_from(&file, at).unwrap();
    let mapped = map::map_image(&file, at, &meta, "sample.mimg", true).unwrap();
    assert_eq!(mapped.file_size, image.len());
    // SAFETY: the mapping stays alive for the test; nothing else uses it.
    let bytes = unsafe { mapped.bytes() };
    assert_eq!(bytes[OBJECTS_OFFSET as usize + 3], image[OBJECTS_OFFSET as usize + 3], "first touch opens the chunk");
    assert_eq!(&bytes[..], &image[..], "every byte reads back");
    bytes[OBJECTS_OFFSET as usize] ^= 0xff;
    assert_eq!(std::fs::read(&path).unwrap(), image, "writes stay private to the process");
    // The runtime area is zeroed and writable.
    // SAFETY: the runtime area is at least `runtime_size` bytes.
    let runtime = unsafe { std::slice::from_raw_parts_mut(mapped.runtime_start as *mut u8, 400) };
    assert!(runtime.iter().all(|&b| b == 0));
    runtime[0] = 1;
    // A second mapping of the same image cannot take the preferred base.
    let second = map::map_image(&file, at, &meta, "sample.mimg", false).unwrap();
    assert!(mapped.at_preferred && !second.at_preferred);
    // SAFETY: nothing refers to the second mapping.
    unsafe { second.unmap() };
    std::fs::remove_dir_all(&dir).unwrap();
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
    let table_end = parse_layout(&original).unwrap().table_end() as usize;
    for _ in 0..3_000 {
        let len = rng.below(300);
        let noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = ImageMeta::parse(&noise);

        let mut bytes = original.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(table_end);
            bytes[at] = rng.next() as u8;
        }
        reseal(&mut bytes);
        let cut = rng.below(bytes.len() + 1);
        if let Err(error) = ImageMeta::parse(&bytes[..cut]) {
            assert!(!error.to_string().is_empty());
        }
    }
}

#[test]
fn messages_name_the_problem() {
    let error = ImageError::Truncated { needed: 4096, got: 10 };
    assert_eq!(error.to_string(), "image is truncated: it needs at least 4096 bytes but has 10");
    let error = ImageError::BadMagic { found: *b"\x7fELF\x02\x01\x01\0" };
    assert!(error.to_string().contains("\\x7fELF"));
    let error = ImageError::ChunkChecksum { offset: 0x10000, len: 65536 };
    assert!(error.to_string().contains("corrupt"));
}

//! Fuzz target: reading an image must never panic, whatever the bytes.
//! Each input is checked as it is (the checksums reject most damage), and
//! again with its checksums recomputed, so that the checks behind them —
//! tables, object headers, references, methods, relocations, linking —
//! see the damage too.
#![no_main]

use image_format::tables::{Exports, Symbols, decode_relocations};
use image_format::{ImageMeta, SectionKind};
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8]) {
    if let Ok(meta) = ImageMeta::parse(bytes) {
        let _ = meta.verify_sections(bytes);
        let _ = meta.verify_chunks(bytes);
        if let Some(e) = meta.layout.section_bytes(bytes, SectionKind::Exports)
            && let Ok(table) = Exports::new(e)
        {
            let _ = table.all();
            let _ = table.find(0, "Main");
        }
        if let Some(s) = meta.layout.section_bytes(bytes, SectionKind::Symbols)
            && let Ok(table) = Symbols::new(s)
        {
            let _ = table.candidates(0x1234, 3);
        }
        if let Some(r) = meta.layout.section_bytes(bytes, SectionKind::Relocations) {
            let _ = decode_relocations(r);
        }
    }
    let _ = vm::image::verify::verify_image(bytes, "fuzz");
    let _ = vm::image::link::link(&[vm::image::link::Input { name: "fuzz".into(), bytes }]);
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(resealed) = image_format::reseal(data) {
        check(&resealed);
    }
});

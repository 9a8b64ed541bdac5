//! Fuzz target: reading an image must never panic, whatever the bytes.
//! Each input is checked as it is (the checksums reject most damage), and
//! again with its checksums recomputed, so that the checks behind them —
//! tables, object headers, references, methods, relocations, linking —
//! see the damage too. Each version is also loaded into a running
//! universe as `mica run` and `loadGraph:` do: mapped from a file, its
//! imports bound, relocated when needed.
#![no_main]

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

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
    load(bytes);
}

thread_local! {
    /// One universe for the whole run: images that load stay loaded, so
    /// later inputs also meet names and versions already taken.
    static UNIVERSE: RefCell<Option<vm::universe::Universe>> = const { RefCell::new(None) };
}

/// Loads `bytes` from a file, as an image and as an object graph.
fn load(bytes: &[u8]) {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("mica-fuzz-{}-{n}.mimg", std::process::id()));
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    UNIVERSE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let u = slot.get_or_insert_with(|| {
            vm::universe::Universe::new(vm::universe::UniverseConfig::default()).expect("a universe")
        });
        let _ = vm::image::graph::load(u, &path, &[]);
        if let Ok(p) = vm::image::loader::Prepared::open(&path) {
            let _ = vm::image::loader::load(u, p, true);
        }
    });
    // A mapping outlives its file's name.
    let _ = std::fs::remove_file(&path);
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(resealed) = image_format::reseal(data) {
        check(&resealed);
    }
});

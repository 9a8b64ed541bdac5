//! Linking: one image from several (`mica link`), with the references
//! between them resolved and no Smalltalk code run.
//!
//! The objects sections are concatenated and every pointer the relocation
//! tables list is rewritten for the new base: pointers into an input move
//! with it; references to an outside object that another input provides
//! (an import it satisfies) become references to that object; the rest
//! stay outside references of the linked image. Method cells are renumbered
//! into one runtime area. Each input's namespaces keep their names,
//! versions, exports and main class; imports satisfied inside become
//! internal.

use std::collections::HashMap;

use image_format::tables::{
    ExportEntry, Exports, ImportEntry, NamespaceEntry, NamespaceImport, OutsideEntry, OutsideKind, Relocations,
    SymbolEntry, Symbols, decode_relocations,
};
use image_format::{Flags, ImageBuilder, ImageMeta, OBJECTS_OFFSET, SectionKind};

use super::{ImageError, Result};
use crate::layout::BINDING_VALUE;
use crate::object::HEADER_WORDS;
use crate::runtime::METHOD_CELL_BYTES;

/// An input: its name (for messages) and its bytes.
pub struct Input<'a> {
    /// The file name.
    pub name: String,
    /// The image's bytes.
    pub bytes: &'a [u8],
}

struct Parsed<'a> {
    name: String,
    bytes: &'a [u8],
    meta: ImageMeta,
    /// Where its objects go in the linked objects section.
    objects_at: u64,
    objects_len: u64,
    /// Its first method cell in the linked runtime area.
    cells_at: u64,
    /// Its first namespace in the linked namespace table.
    namespaces_at: u32,
}

impl Parsed<'_> {
    /// The word at `offset` (0 past the end).
    fn word(&self, offset: u64) -> u64 {
        let at = offset as usize;
        at.checked_add(8)
            .and_then(|end| self.bytes.get(at..end))
            .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn base(&self) -> u64 {
        self.meta.layout.header.preferred_base
    }

    /// Whether `p` points into this input's objects.
    fn holds(&self, p: u64) -> bool {
        let start = self.base().saturating_add(OBJECTS_OFFSET);
        p >= start && p < start.saturating_add(self.objects_len)
    }
}

/// Links `inputs` into one image.
pub fn link(inputs: &[Input]) -> Result<Vec<u8>> {
    if inputs.is_empty() {
        return Err(ImageError::new("link", "no images to link"));
    }
    let mut parsed = Vec::new();
    let (mut objects_at, mut cells_at, mut namespaces_at) = (0u64, 0u64, 0u32);
    for input in inputs {
        let err = |e: image_format::ImageError| ImageError::new(&input.name, e.to_string());
        let meta = ImageMeta::parse(input.bytes).map_err(err)?;
        meta.verify_sections(input.bytes).map_err(err)?;
        meta.verify_chunks(input.bytes).map_err(err)?;
        if meta.layout.header.abi != super::abi() {
            return Err(ImageError::new(&input.name, "it was built by a Mica with another object layout"));
        }
        if meta.outside.iter().any(|o| o.kind == OutsideKind::Shared) {
            return Err(ImageError::new(
                &input.name,
                "it is an object graph that refers to objects of the program that saved it; it cannot be linked",
            ));
        }
        let objects_len = meta.layout.section(SectionKind::Objects).size;
        let runtime_size = meta.layout.header.runtime_size;
        if !runtime_size.is_multiple_of(METHOD_CELL_BYTES as u64) || runtime_size > image_format::window::IN_SLOT {
            return Err(ImageError::new(
                &input.name,
                format!("its runtime area of {runtime_size} bytes is not one of method cells"),
            ));
        }
        let cells = runtime_size / METHOD_CELL_BYTES as u64;
        let count = meta.namespaces.len() as u32;
        let in_objects =
            |off: u64| off >= OBJECTS_OFFSET && off < OBJECTS_OFFSET + objects_len && off.is_multiple_of(8);
        for ns in &meta.namespaces {
            if !in_objects(ns.descriptor) {
                return Err(ImageError::new(&input.name, format!("namespace {} has a bad descriptor offset", ns.name)));
            }
            let bad_import = ns.imports.iter().any(|i| match *i {
                NamespaceImport::Internal(k) => k >= count,
                NamespaceImport::External(k) => k as usize >= meta.imports.len(),
            });
            if bad_import {
                return Err(ImageError::new(
                    &input.name,
                    format!("namespace {} imports one that does not exist", ns.name),
                ));
            }
        }
        if meta.layout.header.preferred_base < image_format::runtime_below(runtime_size) {
            return Err(ImageError::new(&input.name, "its preferred base leaves no room for its runtime area"));
        }
        parsed.push(Parsed {
            name: input.name.clone(),
            bytes: input.bytes,
            meta,
            objects_at,
            objects_len,
            cells_at,
            namespaces_at,
        });
        objects_at += objects_len;
        cells_at += cells;
        namespaces_at += count;
    }
    // Every namespace once.
    let mut seen: HashMap<(String, String), String> = HashMap::new();
    for p in &parsed {
        for ns in &p.meta.namespaces {
            if let Some(other) = seen.insert((ns.name.clone(), ns.version.clone()), p.name.clone()) {
                return Err(ImageError::new(&p.name, format!("{} {} is also in {other}", ns.name, ns.version)));
            }
        }
    }
    let key: Vec<String> =
        parsed.iter().flat_map(|p| p.meta.namespaces.iter().map(|n| format!("{}@{}", n.name, n.version))).collect();
    let base = image_format::window::base_for(format!("link {}", key.join(" ")).as_bytes());
    let runtime_size = cells_at * METHOD_CELL_BYTES as u64;
    if runtime_size > image_format::window::IN_SLOT {
        return Err(ImageError::new("link", "the images have too many methods to link into one"));
    }
    let runtime_start = base - image_format::runtime_below(runtime_size);
    // Which input namespace satisfies each import, if one does.
    let mut internal: Vec<Vec<Option<(usize, usize)>>> = Vec::new();
    for p in &parsed {
        let mut row = Vec::new();
        for imp in &p.meta.imports {
            let req = semver::VersionReq::parse(&imp.requirement)
                .map_err(|e| ImageError::new(&p.name, format!("bad requirement of {}: {e}", imp.name)))?;
            let mut best: Option<(usize, usize, semver::Version, bool)> = None;
            for (qi, q) in parsed.iter().enumerate() {
                for (ni, ns) in q.meta.namespaces.iter().enumerate() {
                    let Ok(v) = semver::Version::parse(&ns.version) else { continue };
                    if ns.name != imp.name || !req.matches(&v) {
                        continue;
                    }
                    let exact = q.meta.layout.header.build_id == imp.build_id;
                    let better = best.as_ref().is_none_or(|(_, _, bv, bexact)| (exact, &v) > (*bexact, bv));
                    if better {
                        best = Some((qi, ni, v, exact));
                    }
                }
            }
            row.push(best.map(|(qi, ni, _, _)| (qi, ni)));
        }
        internal.push(row);
    }
    let linked_address = |q: &Parsed, p: u64| base + OBJECTS_OFFSET + q.objects_at + (p - q.base() - OBJECTS_OFFSET);
    // Imports and outside objects of the linked image.
    let mut imports: Vec<ImportEntry> = Vec::new();
    let mut outside: Vec<OutsideEntry> = Vec::new();
    let mut translations: Vec<HashMap<u64, u64>> = Vec::new();
    let mut import_maps: Vec<Vec<Option<u32>>> = Vec::new();
    for (pi, p) in parsed.iter().enumerate() {
        let mut map = HashMap::new();
        let mut import_map = Vec::new();
        for (k, imp) in p.meta.imports.iter().enumerate() {
            match internal[pi][k] {
                Some(_) => import_map.push(None),
                None => {
                    let existing = imports.iter().position(|i| i == imp);
                    let index = existing.unwrap_or_else(|| {
                        imports.push(imp.clone());
                        imports.len() - 1
                    });
                    import_map.push(Some(index as u32));
                }
            }
        }
        for o in &p.meta.outside {
            let k = o.import as usize;
            let new = match (internal[pi][k], import_map[k]) {
                (Some((qi, ni)), _) => {
                    let q = &parsed[qi];
                    let same_build = q.meta.layout.header.build_id == p.meta.imports[k].build_id;
                    resolve_inside(q, ni, o, same_build, linked_address).map_err(|e| ImageError::new(&p.name, e))?
                }
                (None, Some(index)) => {
                    let same = |e: &&OutsideEntry| {
                        e.import == index && e.kind == o.kind && e.name == o.name && e.offset == o.offset
                    };
                    if let Some(e) = outside.iter().find(same) {
                        e.address
                    } else {
                        // Addresses always resolved by name are placeholders:
                        // each gets a fresh one.
                        let address = if imports[index as usize].build_id == 0 {
                            0x1000_0000_0000 + 16 * outside.len() as u64
                        } else {
                            o.address
                        };
                        outside.push(OutsideEntry { import: index, address, ..o.clone() });
                        address
                    }
                }
                (None, None) => unreachable!("an import is internal or external"),
            };
            map.insert(o.address, new);
        }
        translations.push(map);
        import_maps.push(import_map);
    }
    // Objects, relocated.
    let mut objects = Vec::with_capacity(objects_at as usize);
    let mut relocations = Relocations::default();
    let mut symbols = Vec::new();
    let mut exports = Vec::new();
    let mut namespaces = Vec::new();
    for (pi, p) in parsed.iter().enumerate() {
        let section = p.meta.layout.section(SectionKind::Objects);
        let start = objects.len();
        objects.extend_from_slice(
            &p.bytes[section.file_offset.get() as usize..(section.file_offset.get() + section.size) as usize],
        );
        let rel_bytes = p.meta.layout.section_bytes(p.bytes, SectionKind::Relocations).unwrap_or_default();
        let rel = decode_relocations(rel_bytes).map_err(|e| ImageError::new(&p.name, e.to_string()))?;
        let shift = |w: u32| -> std::result::Result<(usize, u32), String> {
            let file_at = u64::from(w) * 8;
            if file_at < OBJECTS_OFFSET || file_at + 8 > OBJECTS_OFFSET + p.objects_len {
                return Err(format!("its relocation table lists word {w}, outside its objects"));
            }
            let at = start + (file_at - OBJECTS_OFFSET) as usize;
            Ok((at, ((OBJECTS_OFFSET + at as u64) / 8) as u32))
        };
        for &w in &rel.pointers {
            let (at, new_index) = shift(w).map_err(|e| ImageError::new(&p.name, e))?;
            let old = u64::from_le_bytes(objects[at..at + 8].try_into().expect("8 bytes"));
            let new = if p.holds(old) {
                linked_address(p, old)
            } else if let Some(&n) = translations[pi].get(&old) {
                n
            } else {
                return Err(ImageError::new(&p.name, format!("the pointer {old:#x} at word {w} points nowhere known")));
            };
            objects[at..at + 8].copy_from_slice(&new.to_le_bytes());
            relocations.pointers.push(new_index);
        }
        let old_runtime = p.base() - image_format::runtime_below(p.meta.layout.header.runtime_size);
        for &w in &rel.cells {
            let (at, new_index) = shift(w).map_err(|e| ImageError::new(&p.name, e))?;
            let old = u64::from_le_bytes(objects[at..at + 8].try_into().expect("8 bytes")) & !1;
            let k = (old.wrapping_sub(old_runtime)) / METHOD_CELL_BYTES as u64;
            if old < old_runtime || k >= p.meta.layout.header.runtime_size / METHOD_CELL_BYTES as u64 {
                return Err(ImageError::new(
                    &p.name,
                    format!("a method cell address {old:#x} lies outside its runtime area"),
                ));
            }
            let new = (runtime_start + (p.cells_at + k) * METHOD_CELL_BYTES as u64) | 1;
            objects[at..at + 8].copy_from_slice(&new.to_le_bytes());
            relocations.cells.push(new_index);
        }
        let in_objects = |off: u64| off >= OBJECTS_OFFSET && off < OBJECTS_OFFSET + p.objects_len;
        let moved = |off: u64| off + p.objects_at;
        let sym_bytes = p.meta.layout.section_bytes(p.bytes, SectionKind::Symbols).unwrap_or_default();
        let table = Symbols::new(sym_bytes).map_err(|e| ImageError::new(&p.name, e.to_string()))?;
        for i in 0..table.len() {
            let e = table.get(i).map_err(|e| ImageError::new(&p.name, e.to_string()))?;
            if !in_objects(e.offset) {
                return Err(ImageError::new(&p.name, format!("symbol table entry {i} lies outside its objects")));
            }
            symbols.push(SymbolEntry { offset: moved(e.offset), ..e });
        }
        let exp_bytes = p.meta.layout.section_bytes(p.bytes, SectionKind::Exports).unwrap_or_default();
        let table = Exports::new(exp_bytes).map_err(|e| ImageError::new(&p.name, e.to_string()))?;
        for e in table.all().map_err(|e| ImageError::new(&p.name, e.to_string()))? {
            exports.push(ExportEntry {
                namespace: e.namespace + p.namespaces_at,
                name: e.name,
                offset: moved(e.offset),
            });
        }
        for ns in &p.meta.namespaces {
            let imports = ns
                .imports
                .iter()
                .map(|i| match *i {
                    NamespaceImport::Internal(k) => NamespaceImport::Internal(k + p.namespaces_at),
                    NamespaceImport::External(k) => match (internal[pi][k as usize], import_maps[pi][k as usize]) {
                        (Some((qi, ni)), _) => NamespaceImport::Internal(parsed[qi].namespaces_at + ni as u32),
                        (None, Some(index)) => NamespaceImport::External(index),
                        (None, None) => unreachable!("an import is internal or external"),
                    },
                })
                .collect();
            namespaces.push(NamespaceEntry { descriptor: moved(ns.descriptor), exports: 0..0, imports, ..ns.clone() });
        }
    }
    // Export ranges follow the sorted order the builder writes.
    exports.sort_by(|a, b| (a.namespace, a.name.as_bytes()).cmp(&(b.namespace, b.name.as_bytes())));
    for (i, ns) in namespaces.iter_mut().enumerate() {
        let first = exports.iter().position(|e| e.namespace as usize == i).unwrap_or(exports.len()) as u32;
        let count = exports.iter().filter(|e| e.namespace as usize == i).count() as u32;
        ns.exports = first..first + count;
    }
    let builder = ImageBuilder {
        flags: Flags::empty(),
        preferred_base: base,
        runtime_size,
        abi: super::abi(),
        objects,
        namespaces,
        imports,
        outside,
        exports,
        symbols,
        relocations,
    };
    Ok(builder.finish())
}

/// Where the outside object `o` is found in input `q`'s namespace `ni`, as
/// a linked address.
fn resolve_inside(
    q: &Parsed,
    ni: usize,
    o: &OutsideEntry,
    same_build: bool,
    linked_address: impl Fn(&Parsed, u64) -> u64,
) -> std::result::Result<u64, String> {
    let ns = &q.meta.namespaces[ni];
    if o.kind == OutsideKind::Shared {
        return Err("it is an object graph that refers to objects of the program that saved it".into());
    }
    if o.kind == OutsideKind::Offset {
        if !same_build || !q.holds(q.base().wrapping_add(o.offset)) {
            return Err(format!(
                "it refers to an object inside {} {} by position, and {} is not the build it was made with",
                ns.name, ns.version, q.name
            ));
        }
        return Ok(linked_address(q, q.base().wrapping_add(o.offset)));
    }
    let exp_bytes = q.meta.layout.section_bytes(q.bytes, SectionKind::Exports).unwrap_or_default();
    let table = Exports::new(exp_bytes).map_err(|e| e.to_string())?;
    let offset = table.find(ni as u32, &o.name).map_err(|e| e.to_string())?.ok_or_else(|| {
        format!("it needs the global {} of {} {}, which {} does not define", o.name, ns.name, ns.version, q.name)
    })?;
    let binding = q.base().wrapping_add(offset);
    if !q.holds(binding) || !offset.is_multiple_of(8) {
        return Err(format!("{} exports {} at a bad offset", q.name, o.name));
    }
    let value_at = offset + 8 * (HEADER_WORDS + BINDING_VALUE) as u64;
    if value_at + 8 > OBJECTS_OFFSET + q.objects_len {
        return Err(format!("{} exports {} at a bad offset", q.name, o.name));
    }
    let value = q.word(value_at);
    let resolved = match o.kind {
        OutsideKind::Binding => binding,
        OutsideKind::Value => value,
        OutsideKind::Metaclass => {
            if !q.holds(value) || !value.is_multiple_of(8) {
                return Err(format!("{} of {} is not a class of it", o.name, ns.name));
            }
            q.word(value - q.base())
        }
        OutsideKind::Offset | OutsideKind::Shared => unreachable!("handled above"),
    };
    if q.holds(resolved) {
        Ok(linked_address(q, resolved))
    } else {
        Err(format!("{} of {} is not an object of {}", o.name, ns.name, q.name))
    }
}

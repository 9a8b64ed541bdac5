//! Mapping images into the running program and binding them.
//!
//! Loading an image reads its header and tables (never its objects),
//! binds each import to a loaded namespace that satisfies the version
//! requirement, maps the file at its preferred base and registers its
//! namespaces, whose globals are looked up in its export table when first
//! asked for. So loading costs time in proportion to the header and import
//! table, not to the object count.
//!
//! The pointers inside an image hold as written when it lies at its
//! preferred base and every import is the build it was linked against at
//! that build's preferred base. Otherwise (an address clash, a newer build
//! of an import, a namespace with no image) the loader relocates: it opens
//! and verifies the whole image and rewrites every pointer the relocation
//! table lists, translating references to other images by name.

use std::collections::{HashMap, HashSet};
use std::fs::File;

use image_format::map::{self, Mapped};
use image_format::tables::{Exports, OutsideKind, decode_relocations};
use image_format::{ImageMeta, Located, SectionKind};

use super::{ImageError, LoadedImage, Result};
use crate::layout::*;
use crate::universe::{NamespaceData, NamespaceId, Universe};
use crate::value::Value;

/// Where an image's bytes are.
pub enum Source {
    /// A file (a plain image, or an executable with one appended).
    File {
        /// The open file.
        file: File,
        /// Where the image lies in it.
        at: Located,
    },
    /// Bytes in memory (copied into place when mapped).
    Bytes(&'static [u8]),
}

/// An image about to be loaded: its bytes and its checked metadata.
pub struct Prepared {
    /// A name for messages (the path).
    pub name: String,
    /// Its bytes.
    pub source: Source,
    /// Its metadata.
    pub meta: ImageMeta,
}

impl Prepared {
    /// Opens `path` (an image, or a bundled executable) and reads its
    /// metadata.
    pub fn open(path: &std::path::Path) -> Result<Prepared> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| ImageError::new(&name, format!("cannot open: {e}")))?;
        let at = image_format::locate(&file).map_err(|e| ImageError::new(&name, e.to_string()))?;
        Prepared::from_source(name, Source::File { file, at })
    }

    /// Reads the metadata of an image in `source`.
    pub fn from_source(name: String, source: Source) -> Result<Prepared> {
        let meta = match &source {
            Source::File { file, at } => ImageMeta::read_from(file, *at),
            Source::Bytes(bytes) => ImageMeta::parse(bytes),
        }
        .map_err(|e| ImageError::new(&name, e.to_string()))?;
        let abi = super::abi();
        if meta.layout.header.abi != abi {
            return Err(ImageError::new(
                &name,
                "it was built by a Mica whose object layout or bytecode set differs from this one's; rebuild it",
            ));
        }
        for ns in &meta.namespaces {
            if semver::Version::parse(&ns.version).is_err() {
                return Err(ImageError::new(
                    &name,
                    format!("namespace {} has a bad version {:?}", ns.name, ns.version),
                ));
            }
        }
        Ok(Prepared { name, source, meta })
    }

    /// The namespaces it defines, as `Name@version`.
    pub fn defines(&self) -> Vec<String> {
        self.meta.namespaces.iter().map(|n| format!("{}@{}", n.name, n.version)).collect()
    }
}

/// The loaded namespace `name` that best satisfies `requirement`: the
/// highest version that does, the build `build_id` if it is among them.
pub fn resolve_import(
    u: &Universe,
    name: &str,
    requirement: &str,
    build_id: u64,
) -> std::result::Result<NamespaceId, String> {
    let req = semver::VersionReq::parse(requirement)
        .map_err(|e| format!("the import of {name} has a bad version requirement {requirement:?}: {e}"))?;
    let named: Vec<(NamespaceId, &NamespaceData)> = u.namespaces().filter(|(_, n)| n.name == name).collect();
    if named.is_empty() {
        return Err(format!("it imports {name} {requirement}, which no loaded image provides"));
    }
    let matching: Vec<&(NamespaceId, &NamespaceData)> =
        named.iter().filter(|(_, n)| req.matches(&n.version) || n.image.is_none() && requirement == "*").collect();
    let exact = matching.iter().find(|(_, n)| n.image.is_some_and(|i| u.images[i].build_id() == build_id));
    if let Some((id, _)) = exact {
        return Ok(*id);
    }
    match matching.iter().max_by(|a, b| a.1.version.cmp(&b.1.version)) {
        Some((id, _)) => Ok(*id),
        None => {
            let have: Vec<String> = named.iter().map(|(_, n)| n.version.to_string()).collect();
            Err(format!("it imports {name} {requirement}, but only {name} {} is loaded", have.join(", ")))
        }
    }
}

/// Loads several images, ordering them so that each comes after the images
/// that define what it imports; answers their indices in `u.images`.
pub fn load_all(u: &mut Universe, images: Vec<Prepared>) -> Result<Vec<usize>> {
    let defines: Vec<Vec<String>> =
        images.iter().map(|p| p.meta.namespaces.iter().map(|n| n.name.clone()).collect()).collect();
    let deps: Vec<Vec<usize>> = images
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (0..images.len())
                .filter(|&j| j != i && p.meta.imports.iter().any(|imp| defines[j].contains(&imp.name)))
                .collect()
        })
        .collect();
    // Depth-first topological order; a grey node met again is a cycle.
    let mut state = vec![0u8; images.len()];
    let mut order = Vec::new();
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        state: &mut [u8],
        order: &mut Vec<usize>,
        path: &mut Vec<usize>,
    ) -> std::result::Result<(), Vec<usize>> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let start = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(i);
                return Err(cycle);
            }
            _ => {}
        }
        state[i] = 1;
        path.push(i);
        for &d in &deps[i] {
            visit(d, deps, state, order, path)?;
        }
        path.pop();
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    for i in 0..images.len() {
        let mut path = Vec::new();
        if let Err(cycle) = visit(i, &deps, &mut state, &mut order, &mut path) {
            let names: Vec<String> =
                cycle.iter().map(|&k| format!("{} ({})", images[k].defines().join(", "), images[k].name)).collect();
            return Err(ImageError::new(
                &images[cycle[0]].name,
                format!("cyclic imports: {}", names.join(" imports ")),
            ));
        }
    }
    let mut slots: Vec<Option<Prepared>> = images.into_iter().map(Some).collect();
    let mut loaded = vec![0; slots.len()];
    for i in order {
        let p = slots[i].take().expect("each image is ordered once");
        loaded[i] = load(u, p, true)?;
    }
    Ok(loaded)
}

/// Loads one image whose imports are loaded; with `register`, its
/// namespaces join the universe's (an object graph's do not). Answers its
/// index in `u.images`.
pub fn load(u: &mut Universe, p: Prepared, register: bool) -> Result<usize> {
    load_with_shared(u, p, register, &[])
}

/// Like [`load`], binding the image's shared objects (object graphs) to
/// `shared`, by position. Nothing may allocate between the caller reading
/// `shared` and this call.
pub fn load_with_shared(u: &mut Universe, p: Prepared, register: bool, shared: &[Value]) -> Result<usize> {
    let name = p.name.clone();
    let err = |problem: String| ImageError::new(&name, problem);
    let meta = &p.meta;
    let mut resolved = Vec::with_capacity(meta.imports.len());
    for imp in &meta.imports {
        resolved.push(resolve_import(u, &imp.name, &imp.requirement, imp.build_id).map_err(err)?);
    }
    if register {
        for ns in &meta.namespaces {
            if let Some((_, other)) =
                u.namespaces().find(|(_, n)| n.name == ns.name && n.version.to_string() == ns.version)
            {
                let from = other.image.map_or("source".to_string(), |i| u.images[i].name.clone());
                return Err(err(format!("{} {} is already loaded (from {from})", ns.name, ns.version)));
            }
        }
    }
    let mapped = match &p.source {
        Source::File { file, at } => map::map_image(file, *at, meta, &name, true),
        Source::Bytes(bytes) => map::map_image_from_bytes(bytes, meta),
    }
    .map_err(|e| err(e.to_string()))?;
    let holders = match relocate_if_needed(u, meta, &mapped, &resolved, shared) {
        Ok(holders) => holders,
        Err(problem) => {
            // SAFETY: nothing refers to the image yet: no namespace or object
            // of it was handed out.
            unsafe { mapped.unmap() };
            return Err(err(problem));
        }
    };
    let relocated = !mapped.at_preferred || !prelinked_imports_hold(u, meta, &resolved) || !holders.is_empty();
    let base = mapped.base;
    let index = u.images.len();
    u.heap.add_image_range(base, base + meta.file_size() as usize);
    // Image objects that now point at heap objects are remembered, as if
    // the program had stored those pointers: the collector keeps the
    // shared objects alive and updates the pointers when it moves them.
    for (holder, value) in holders {
        u.heap.write_barrier(holder, value);
    }
    let first_id = u.namespaces().count() as u32;
    let exports_at = meta.layout.section(SectionKind::Exports);
    let (exports_addr, exports_len) = (base + exports_at.file_offset.get() as usize, exports_at.size as usize);
    let file_size = meta.file_size();
    let mut ids = Vec::new();
    if register {
        for (j, entry) in meta.namespaces.iter().enumerate() {
            let version = semver::Version::parse(&entry.version).map_err(|e| err(e.to_string()))?;
            let descriptor = object_at(base, file_size, entry.descriptor).expect("checked when prepared");
            let mut data = NamespaceData::new(&entry.name, version, descriptor);
            data.imports = entry
                .imports
                .iter()
                .map(|i| match *i {
                    image_format::tables::NamespaceImport::Internal(k) => NamespaceId(first_id + k),
                    image_format::tables::NamespaceImport::External(k) => resolved[k as usize],
                })
                .collect();
            data.main = entry.main.clone();
            data.image = Some(index);
            let ns = j as u32;
            data.exports = Some(Box::new(move |name: &str| {
                let offset = export_table(exports_addr, exports_len).find(ns, name).ok()??;
                object_at(base, file_size, offset)
            }));
            let range = entry.exports.clone();
            data.all_exports = Some(Box::new(move || {
                let table = export_table(exports_addr, exports_len);
                range
                    .clone()
                    .filter_map(|i| table.get(i).ok())
                    .filter_map(|e| Some((e.name, object_at(base, file_size, e.offset)?)))
                    .collect()
            }));
            ids.push(u.add_namespace_with(data));
        }
    }
    u.images.push(LoadedImage {
        name,
        meta: p.meta,
        base,
        runtime_start: mapped.runtime_start,
        relocated,
        namespaces: ids,
        mapping: mapped,
    });
    Ok(index)
}

/// The export table of a loaded image.
fn export_table(addr: usize, len: usize) -> Exports<'static> {
    // SAFETY: the exports section lies inside the image's file mapping,
    // which stays mapped for the process's lifetime.
    let bytes = unsafe { std::slice::from_raw_parts(addr as *const u8, len) };
    Exports::new(bytes).unwrap_or_else(|_| Exports::new(&[0u8; 8]).expect("an empty table"))
}

/// The object at file offset `offset` of an image at `base`, if the offset
/// can be one.
fn object_at(base: usize, file_size: u64, offset: u64) -> Option<Value> {
    (offset.is_multiple_of(8) && offset >= image_format::OBJECTS_OFFSET && offset.saturating_add(16) <= file_size)
        .then(|| Value::from_addr(base + offset as usize))
}

/// Whether every import is the build the image was linked against, at
/// that build's preferred base.
fn prelinked_imports_hold(u: &Universe, meta: &ImageMeta, resolved: &[NamespaceId]) -> bool {
    meta.imports.iter().zip(resolved).all(|(imp, &ns)| import_holds(u, imp, ns))
}

fn import_holds(u: &Universe, imp: &image_format::tables::ImportEntry, ns: NamespaceId) -> bool {
    match u.namespace(ns).image {
        Some(i) => {
            let img = &u.images[i];
            imp.build_id != 0 && img.build_id() == imp.build_id && img.base as u64 == imp.base
        }
        None => false,
    }
}

/// Rewrites the image's pointers when it is not where it was linked to be,
/// or its imports are not, or it has shared objects to bind. Answers the
/// image objects that were given pointers to shared objects, each with one
/// such pointer.
fn relocate_if_needed(
    u: &mut Universe,
    meta: &ImageMeta,
    mapped: &Mapped,
    resolved: &[NamespaceId],
    shared: &[Value],
) -> std::result::Result<Vec<(Value, Value)>, String> {
    let holds: Vec<bool> = meta.imports.iter().zip(resolved).map(|(imp, &ns)| import_holds(u, imp, ns)).collect();
    let mut by_address: HashMap<u64, u64> = HashMap::new();
    let mut shared_addresses: HashSet<u64> = HashSet::new();
    for o in meta.outside.iter().filter(|o| o.kind == OutsideKind::Shared) {
        let value = usize::try_from(o.offset)
            .ok()
            .and_then(|i| shared.get(i))
            .ok_or_else(|| format!("it refers to shared object {} and {} were given", o.offset + 1, shared.len()))?;
        by_address.insert(o.address, value.bits());
        shared_addresses.insert(value.bits());
    }
    if mapped.at_preferred && holds.iter().all(|&h| h) && by_address.is_empty() {
        return Ok(Vec::new());
    }
    // References to imports that moved (same build) shift with them; those
    // to other builds or to namespaces without images are found by name.
    let mut shifts: Vec<(u64, u64, i64)> = Vec::new();
    for (k, imp) in meta.imports.iter().enumerate() {
        if holds[k] {
            continue;
        }
        let ns = resolved[k];
        // The base of the import, if it is the same build (moved).
        let same_build: Option<usize> = u
            .namespace(ns)
            .image
            .map(|i| &u.images[i])
            .filter(|img| img.build_id() == imp.build_id && imp.build_id != 0)
            .map(|img| img.base);
        if let Some(img_base) = same_build {
            shifts.push((imp.base, imp.base.saturating_add(imp.span), img_base as i64 - imp.base as i64));
        }
        let ns_name = u.namespace(ns).display_name();
        for o in meta.outside.iter().filter(|o| o.import == k as u32 && o.kind != OutsideKind::Shared) {
            let value = match o.kind {
                OutsideKind::Offset => match same_build {
                    Some(img_base) => {
                        let img = u.namespace(ns).image.map(|i| &u.images[i]).expect("same build means an image");
                        object_at(img_base, img.meta.file_size(), o.offset)
                            .ok_or_else(|| format!("it refers to a position outside {ns_name}"))?
                    }
                    None => {
                        return Err(format!(
                            "it refers to an object inside {ns_name} by position, but that is not the build it was made with"
                        ));
                    }
                },
                kind => {
                    let binding = u.own_binding(ns, &o.name).ok_or_else(|| {
                        format!("it needs the global {} of {ns_name}, which is not defined there", o.name)
                    })?;
                    match kind {
                        OutsideKind::Binding => binding,
                        _ => {
                            let v = binding.slot(BINDING_VALUE);
                            if v == Value::UNBOUND {
                                return Err(format!("it needs the value of {} in {ns_name}, which has none", o.name));
                            }
                            if kind == OutsideKind::Metaclass {
                                if !u.is_class(v) {
                                    return Err(format!("it needs {} of {ns_name} to be a class", o.name));
                                }
                                v.class_word()
                            } else {
                                v
                            }
                        }
                    }
                }
            };
            by_address.insert(o.address, value.bits());
        }
    }
    mapped.verify_now(meta).map_err(|e| e.to_string())?;
    // SAFETY: the image was just opened and verified; nothing else refers
    // to it yet, and the relocation pass is its only writer.
    let bytes = unsafe { mapped.bytes() };
    let section = meta.layout.section(SectionKind::Relocations);
    let (start, size) = (section.file_offset.get() as usize, section.size as usize);
    let relocations = decode_relocations(&bytes[start..start + size]).map_err(|e| e.to_string())?;
    let header = &meta.layout.header;
    let preferred = header.preferred_base;
    let file_size = header.file_size;
    let below = image_format::runtime_below(header.runtime_size);
    let delta = mapped.base as i64 - preferred as i64;
    let word = |bytes: &mut [u8], w: u32| -> std::result::Result<(usize, u64), String> {
        let at = w as usize * 8;
        if (at as u64) < image_format::OBJECTS_OFFSET || at as u64 + 8 > file_size {
            return Err(format!("its relocation table lists word {w}, outside its objects"));
        }
        Ok((at, u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))))
    };
    let mut shared_words: Vec<usize> = Vec::new();
    for &w in &relocations.pointers {
        let (at, old) = word(bytes, w)?;
        let new = if (preferred..preferred.saturating_add(file_size)).contains(&old) {
            old.wrapping_add_signed(delta)
        } else if let Some(&v) = by_address.get(&old) {
            v
        } else if let Some(&(_, _, d)) = shifts.iter().find(|(lo, hi, _)| (*lo..*hi).contains(&old)) {
            old.wrapping_add_signed(d)
        } else if meta
            .imports
            .iter()
            .zip(&holds)
            .any(|(imp, &h)| h && (imp.base..imp.base.saturating_add(imp.span)).contains(&old))
        {
            old
        } else {
            return Err(format!("the pointer at offset {at:#x} ({old:#x}) points outside the image and its imports"));
        };
        if shared_addresses.contains(&new) {
            shared_words.push(at);
        }
        bytes[at..at + 8].copy_from_slice(&new.to_le_bytes());
    }
    for &w in &relocations.cells {
        let (at, old) = word(bytes, w)?;
        let cell = old & !1;
        if !(preferred.saturating_sub(below)..preferred).contains(&cell) {
            return Err(format!("the method cell address at offset {at:#x} lies outside its runtime area"));
        }
        bytes[at..at + 8].copy_from_slice(&(cell.wrapping_add_signed(delta) | 1).to_le_bytes());
    }
    Ok(holders_of(meta, mapped.base, bytes, shared_words))
}

/// The objects (of an image mapped at `base`) that hold the words at the
/// file offsets `words`, each with the value of one such word: a walk over
/// the objects section's headers, done only for graphs with shared objects.
fn holders_of(meta: &ImageMeta, base: usize, bytes: &[u8], mut words: Vec<usize>) -> Vec<(Value, Value)> {
    if words.is_empty() {
        return Vec::new();
    }
    words.sort_unstable();
    let section = meta.layout.section(SectionKind::Objects);
    let (start, end) = (section.file_offset.get() as usize, (section.file_offset.get() + section.size) as usize);
    let mut holders = Vec::new();
    let mut next = words.iter().peekable();
    let mut at = start;
    while at < end {
        let object = Value::from_addr(base + at);
        let size = object.total_words() * 8;
        let mut holds = None;
        while let Some(&&w) = next.peek() {
            if w >= at + size {
                break;
            }
            let word = u64::from_le_bytes(bytes[w..w + 8].try_into().expect("8 bytes"));
            holds = Some(Value::from_bits(word));
            next.next();
        }
        if let Some(value) = holds {
            holders.push((object, value));
        }
        if next.peek().is_none() || size == 0 {
            break;
        }
        at += size;
    }
    holders
}

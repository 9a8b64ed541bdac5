//! Object graphs saved as mini-images (what Squeak's ImageSegment and
//! Pharo's Fuel do, done by mapping). `system saveGraph: root to: path`
//! writes an image whose global `root` holds the root, and `system
//! loadGraph: path` maps it back and answers the root — no per-object
//! decoding, the objects are used where they lie.
//!
//! What goes in ([`Sharing::Exclude`], ImageSegment's rule): the roots and
//! the objects reachable only through them. What stays out: classes,
//! global bindings and their values (by name, found again on load),
//! objects of mapped images (by name, or by position in that exact build),
//! and the objects the rest of the program also reaches — *shared*
//! objects, listed by position. Saving answers them; loading binds them to
//! the objects it is given (the same ones, in the same program, or
//! stand-ins). With [`Sharing::Copy`] (Fuel's rule) shared objects are
//! copied in instead, so the file stands alone. Instances of kernel and
//! image classes map with no further work; a graph whose objects are
//! instances of classes loaded from source (which have no fixed address),
//! or that has shared objects, is relocated when loaded.

use std::collections::HashSet;
use std::path::Path;

use image_format::tables::OutsideKind;

use super::loader::{self, Prepared};
use super::writer::{EmitNamespace, WriteSpec};
use super::{ImageError, Result};
use crate::layout::*;
use crate::object::{Format, HEADER_WORDS};
use crate::universe::Universe;
use crate::value::Value;

/// The namespace name a graph image has.
pub const GRAPH_NAMESPACE: &str = "Graph";

/// What happens to objects a graph shares with the rest of the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sharing {
    /// They stay outside, listed by position (ImageSegment).
    Exclude,
    /// They are copied in (Fuel).
    Copy,
}

/// Saves `root` and what it reaches as an image at `path` (written
/// atomically). The graph's roots are `root` itself and, when
/// `several_roots`, the elements of the Array `root`. Answers the shared
/// objects the image refers to, in the order of their positions (none with
/// [`Sharing::Copy`]).
pub fn save(u: &mut Universe, root: Value, several_roots: bool, path: &Path, sharing: Sharing) -> Result<Vec<Value>> {
    save_as(u, GRAPH_NAMESPACE, root, several_roots, path, sharing)
}

/// [`save`], the image's namespace named `namespace` (what it holds: a
/// graph, a live session's edits).
pub fn save_as(
    u: &mut Universe,
    namespace: &str,
    root: Value,
    several_roots: bool,
    path: &Path,
    sharing: Sharing,
) -> Result<Vec<Value>> {
    let file = path.display().to_string();
    let err = |e: crate::universe::VmError| ImageError::new(&file, e.to_string());
    let mark = u.handle_mark();
    let h = u.handle(root);
    let descriptor = u.alloc_old(u.known.array, Format::Array, 2).map_err(err)?;
    let name = u.new_old_string(namespace).map_err(err)?;
    descriptor.set_slot_raw(0, name);
    let version = u.new_old_string("0.0.0").map_err(err)?;
    descriptor.set_slot_raw(1, version);
    let binding = u.alloc_old(u.known.binding_class, Format::Fields, BINDING_SIZE).map_err(err)?;
    let key = u.intern("root").map_err(err)?;
    binding.set_slot_raw(BINDING_KEY, key);
    let root = u.get(h);
    u.heap.store(binding, BINDING_VALUE, root);
    u.release_handles(mark);
    // No allocation from here on: the objects found by address stay put.
    let shared = match sharing {
        Sharing::Exclude => {
            let mut roots: HashSet<u64> = HashSet::from([root.bits()]);
            if several_roots && root.is_pointer() && root.format() == Format::Array {
                roots.extend((0..root.size()).map(|i| root.slot(i).bits()));
            }
            u.reachable_avoiding(&roots)
        }
        Sharing::Copy => HashSet::new(),
    };
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let spec = WriteSpec {
        namespaces: vec![EmitNamespace {
            id: None,
            name: namespace.into(),
            version: "0.0.0".into(),
            main: None,
            descriptor,
            bindings: vec![("root".into(), binding)],
            imports: Vec::new(),
        }],
        requirements: Default::default(),
        base: image_format::window::base_for(format!("{file} {stamp}").as_bytes()),
        flags: image_format::Flags::empty(),
        shared,
    };
    let (bytes, shared) = super::writer::write_with_shared(u, &spec).map_err(|e| ImageError::new(&file, e))?;
    image_format::write_atomically(path, &[&bytes], None)
        .map_err(|e| ImageError::new(&file, format!("cannot write: {e}")))?;
    Ok(shared)
}

/// Maps the graph image at `path` and answers its root, binding its
/// shared objects to `shared` (by position).
pub fn load(u: &mut Universe, path: &Path, shared: &[Value]) -> Result<Value> {
    load_as(u, GRAPH_NAMESPACE, "an object graph", Prepared::open(path)?, shared)
}

/// [`load`] of an image opened already whose namespace must be named
/// `namespace` (`what` it is, for the error if it is not).
pub fn load_as(u: &mut Universe, namespace: &str, what: &str, p: Prepared, shared: &[Value]) -> Result<Value> {
    let file = p.name.clone();
    if p.meta.namespaces.len() != 1 || p.meta.namespaces[0].name != namespace {
        return Err(ImageError::new(&file, format!("not {what} (it defines {})", p.defines().join(", "))));
    }
    let needed = p.meta.outside.iter().filter(|o| o.kind == OutsideKind::Shared).count();
    if needed != shared.len() {
        let saying = if needed == 1 { "object" } else { "objects" };
        return Err(ImageError::new(
            &file,
            format!(
                "the graph shares {needed} {saying} with the program that saved it, and {} were given \
                 (loadGraph:with: takes them, in the order saveGraph:to: answered them)",
                shared.len()
            ),
        ));
    }
    let index = loader::load_with_shared(u, p, false, shared)?;
    let img = &u.images[index];
    let table = image_format::tables::Exports::new(img.section(image_format::SectionKind::Exports))
        .map_err(|e| ImageError::new(&file, e.to_string()))?;
    let offset = table
        .find(0, "root")
        .map_err(|e| ImageError::new(&file, e.to_string()))?
        .ok_or_else(|| ImageError::new(&file, "the graph has no root"))?;
    // The root's binding must be an object of the image's objects section,
    // and a binding: checked before it is read.
    let objects = img.meta.layout.section(image_format::SectionKind::Objects);
    let end = objects.file_offset.get() + objects.size;
    let words = (HEADER_WORDS + BINDING_SIZE) as u64 * 8;
    if !offset.is_multiple_of(8) || offset < objects.file_offset.get() || offset.saturating_add(words) > end {
        return Err(ImageError::new(&file, "its root is not an object of the graph"));
    }
    let binding = Value::from_addr(img.address_of(offset));
    if binding.class_word() != u.known.binding_class || binding.size() != BINDING_SIZE {
        return Err(ImageError::new(&file, "its root is not held by a global binding"));
    }
    Ok(binding.slot(BINDING_VALUE))
}

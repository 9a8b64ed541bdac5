//! Object graphs saved as mini-images (what Squeak's ImageSegment and
//! Pharo's Fuel do, done by mapping): `system saveGraph: root to: path`
//! writes `root` and the objects it reaches as an image, and `system
//! loadGraph: path` maps it back and answers the root — no per-object
//! decoding, the objects are used where they lie.
//!
//! What goes in: the root and every object it reaches, except classes,
//! global bindings and their values (which go out by name, and are found
//! again on load), and objects of mapped images (by name, or by position in
//! that exact build). Objects the graph shares with the rest of the heap
//! are copied: the loaded graph is a copy, as with Fuel. Instances of
//! kernel and image classes map with no further work; the image of a graph
//! whose objects are instances of classes loaded from source (which have no
//! fixed address) is relocated when loaded.

use std::path::Path;

use super::loader::{self, Prepared};
use super::writer::{EmitNamespace, WriteSpec};
use super::{ImageError, Result};
use crate::layout::*;
use crate::object::Format;
use crate::universe::Universe;
use crate::value::Value;

/// The namespace name a graph image has.
pub const GRAPH_NAMESPACE: &str = "Graph";

/// Saves `root` and what it reaches as an image at `path` (written
/// atomically).
pub fn save(u: &mut Universe, root: Value, path: &Path) -> Result<()> {
    let file = path.display().to_string();
    let err = |e: crate::universe::VmError| ImageError::new(&file, e.to_string());
    let mark = u.handle_mark();
    let h = u.handle(root);
    let descriptor = u.alloc_old(u.known.array, Format::Array, 2).map_err(err)?;
    let name = u.new_old_string(GRAPH_NAMESPACE).map_err(err)?;
    descriptor.set_slot_raw(0, name);
    let version = u.new_old_string("0.0.0").map_err(err)?;
    descriptor.set_slot_raw(1, version);
    let binding = u.alloc_old(u.known.binding_class, Format::Fields, BINDING_SIZE).map_err(err)?;
    let key = u.intern("root").map_err(err)?;
    binding.set_slot_raw(BINDING_KEY, key);
    let root = u.get(h);
    u.heap.store(binding, BINDING_VALUE, root);
    u.release_handles(mark);
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let spec = WriteSpec {
        namespaces: vec![EmitNamespace {
            id: None,
            name: GRAPH_NAMESPACE.into(),
            version: "0.0.0".into(),
            main: None,
            descriptor,
            bindings: vec![("root".into(), binding)],
            imports: Vec::new(),
        }],
        requirements: Default::default(),
        base: image_format::window::base_for(format!("{file} {stamp}").as_bytes()),
        flags: image_format::Flags::empty(),
    };
    let bytes = super::writer::write(u, &spec).map_err(|e| ImageError::new(&file, e))?;
    image_format::write_atomically(path, &[&bytes], None)
        .map_err(|e| ImageError::new(&file, format!("cannot write: {e}")))
}

/// Maps the graph image at `path` and answers its root.
pub fn load(u: &mut Universe, path: &Path) -> Result<Value> {
    let p = Prepared::open(path)?;
    let file = p.name.clone();
    if p.meta.namespaces.len() != 1 || p.meta.namespaces[0].name != GRAPH_NAMESPACE {
        return Err(ImageError::new(&file, format!("not an object graph (it defines {})", p.defines().join(", "))));
    }
    let index = loader::load(u, p, false)?;
    let img = &u.images[index];
    let table = image_format::tables::Exports::new(img.section(image_format::SectionKind::Exports))
        .map_err(|e| ImageError::new(&file, e.to_string()))?;
    let offset = table
        .find(0, "root")
        .map_err(|e| ImageError::new(&file, e.to_string()))?
        .ok_or_else(|| ImageError::new(&file, "the graph has no root"))?;
    let binding = Value::from_addr(img.address_of(offset));
    Ok(binding.slot(BINDING_VALUE))
}

//! Encoding heap objects as a mini-image.
//!
//! The writer starts from the globals of the namespaces being written (or
//! from the roots of an object graph), takes in every heap object they
//! reach, and encodes each one exactly as it lies in memory, with its
//! pointers rewritten for the image's preferred base. What belongs
//! elsewhere goes out by reference, recorded in the import table:
//!
//! - objects of mapped images: by name when they are a global binding, a
//!   class or metaclass, or a global's value (`nil`, `true`...); otherwise
//!   by their offset in that exact build (symbols are copied instead:
//!   they are values, identified by their bytes);
//! - globals, classes and their values of namespaces not being written that
//!   have no image (the program's classes loaded from source): by name,
//!   always resolved again at load;
//! - for an object graph, the objects [`WriteSpec::shared`] lists (those the
//!   rest of the program also reaches): by their position in the list of
//!   shared objects, bound to objects the loader is given.
//!
//! Objects are laid out root by root (a class, its methods and their
//! literals stay together), so running one class touches few pages of a
//! large image. Methods get cells in the runtime area below the base.

use std::collections::{HashMap, HashSet, VecDeque};

use image_format::tables::{
    ExportEntry, ImportEntry, NamespaceEntry, NamespaceImport, OutsideEntry, OutsideKind, Relocations, SymbolEntry,
};
use image_format::{Flags, ImageBuilder, OBJECTS_OFFSET};

use crate::layout::*;
use crate::object::{FLAG_IMAGE, FLAGS_MASK, Format, HEADER_WORDS};
use crate::runtime::METHOD_CELL_BYTES;
use crate::universe::{NamespaceId, Universe};
use crate::value::Value;

/// A namespace to write.
#[derive(Clone, Debug)]
pub struct EmitNamespace {
    /// The universe's namespace, if it is one (graphs make their own).
    pub id: Option<NamespaceId>,
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The class `mica run` starts.
    pub main: Option<String>,
    /// Its descriptor object.
    pub descriptor: Value,
    /// Its bindings, by name (all exported).
    pub bindings: Vec<(String, Value)>,
    /// The namespaces it imports, in order.
    pub imports: Vec<NamespaceId>,
}

impl EmitNamespace {
    /// The universe's namespace `id`, with every binding it has.
    pub fn of(u: &mut Universe, id: NamespaceId) -> EmitNamespace {
        let bindings = u.all_bindings(id);
        let ns = u.namespace(id);
        EmitNamespace {
            id: Some(id),
            name: ns.name.clone(),
            version: ns.version.to_string(),
            main: ns.main.clone(),
            descriptor: ns.descriptor,
            bindings,
            imports: ns.imports.clone(),
        }
    }
}

/// What to write.
#[derive(Clone, Debug)]
pub struct WriteSpec {
    /// The namespaces (one for a package, several for a linked image).
    pub namespaces: Vec<EmitNamespace>,
    /// Version requirements to record for imported namespaces, by name
    /// (others get `^` of the version present).
    pub requirements: HashMap<String, String>,
    /// Where the image prefers to be mapped.
    pub base: u64,
    /// Header flags.
    pub flags: Flags,
    /// Heap objects (by bits) that stay outside as shared objects instead
    /// of going in (object graphs; empty for packages).
    pub shared: HashSet<u64>,
}

/// Where an outside reference points.
#[derive(Clone, Copy)]
enum Target {
    Inside(u64),
    Outside(u64),
}

struct Writer<'a> {
    u: &'a mut Universe,
    emitted: HashSet<NamespaceId>,
    /// Object bits to where they go.
    targets: HashMap<u64, Target>,
    /// Included objects in layout order, with their offsets in the objects
    /// section.
    order: Vec<(Value, u64)>,
    size: u64,
    methods: u64,
    queue: VecDeque<Value>,
    outside: Vec<OutsideEntry>,
    imports: Vec<ImportEntry>,
    import_of: HashMap<NamespaceId, u32>,
    requirements: HashMap<String, String>,
    /// Heap objects that belong to namespaces not written and have no
    /// image: (namespace, name, kind).
    by_name: HashMap<u64, (NamespaceId, String, OutsideKind)>,
    /// Objects to leave outside as shared objects.
    shared: &'a HashSet<u64>,
    /// The shared objects referred to, in the order of their positions.
    shared_out: Vec<Value>,
}

/// Placeholder addresses for references always resolved at load (to
/// namespaces with no image): one 16-byte step per reference, below the
/// image window.
const UNRESOLVED_BASE: u64 = 0x1000_0000_0000;

impl Writer<'_> {
    fn import_for(&mut self, ns: NamespaceId) -> u32 {
        if let Some(&i) = self.import_of.get(&ns) {
            return i;
        }
        let data = self.u.namespace(ns);
        let (build_id, base, span, abi) = match data.image {
            Some(i) => {
                let img = &self.u.images[i];
                let h = &img.meta.layout.header;
                (h.build_id, h.preferred_base, image_format::span(h.file_size, h.runtime_size), h.abi)
            }
            None => (0, 0, 0, super::abi()),
        };
        let requirement = self
            .requirements
            .get(&data.name)
            .cloned()
            .unwrap_or_else(|| if data.image.is_some() { format!("^{}", data.version) } else { "*".to_string() });
        self.imports.push(ImportEntry {
            name: data.name.clone(),
            requirement,
            version: data.version.to_string(),
            build_id,
            base,
            span,
            abi,
        });
        let i = self.imports.len() as u32 - 1;
        self.import_of.insert(ns, i);
        i
    }

    fn add_outside(&mut self, v: Value, ns: NamespaceId, kind: OutsideKind, name: String, offset: u64, address: u64) {
        let import = self.import_for(ns);
        self.outside.push(OutsideEntry { import, kind, name, offset, address });
        self.targets.insert(v.bits(), Target::Outside(address));
    }

    /// Decides where `v` goes, queueing it if it is to be included.
    fn visit(&mut self, v: Value) -> Result<(), String> {
        if !v.is_pointer() || self.targets.contains_key(&v.bits()) {
            return Ok(());
        }
        // Symbols are values (identified by their bytes): an image carries
        // its own rather than depend on another image's by position.
        if self.u.heap.in_image(v) && v.format() != Format::Symbol {
            return self.visit_image_object(v);
        }
        if let Some((ns, name, kind)) = self.by_name.get(&v.bits()).cloned() {
            let address = UNRESOLVED_BASE + 16 * self.outside.len() as u64;
            self.add_outside(v, ns, kind, name, 0, address);
            return Ok(());
        }
        if self.shared.contains(&v.bits()) && v.format() != Format::Symbol {
            let address = UNRESOLVED_BASE + 16 * self.outside.len() as u64;
            let position = self.shared_out.len() as u64;
            self.shared_out.push(v);
            self.add_outside(v, NamespaceId::KERNEL, OutsideKind::Shared, String::new(), position, address);
            return Ok(());
        }
        if v.format() == Format::Free {
            return Err(format!("a reference to a freed object {v:?}"));
        }
        let offset = self.size;
        self.size += (v.total_words() * 8) as u64;
        if v.format() == Format::Method {
            self.methods += 1;
        }
        self.targets.insert(v.bits(), Target::Inside(offset));
        self.order.push((v, offset));
        self.queue.push_back(v);
        Ok(())
    }

    fn visit_image_object(&mut self, v: Value) -> Result<(), String> {
        let index = self.u.images.iter().position(|i| i.contains(v.addr())).ok_or("an image object of no image")?;
        let img_namespaces = self.u.images[index].namespaces.clone();
        let address = self.u.images[index].preferred_address(v.addr());
        let offset = (v.addr() - self.u.images[index].base) as u64;
        let named = self.name_of_image_object(v, &img_namespaces);
        match named {
            Some((ns, name, kind)) => self.add_outside(v, ns, kind, name, 0, address),
            None => self.add_outside(v, img_namespaces[0], OutsideKind::Offset, String::new(), offset, address),
        }
        Ok(())
    }

    /// The name an image object is known by, if it has one: a global
    /// binding, a global's value, or the metaclass of a class.
    fn name_of_image_object(&mut self, v: Value, spaces: &[NamespaceId]) -> Option<(NamespaceId, String, OutsideKind)> {
        let u = &mut *self.u;
        if v.class_word() == u.known.binding_class {
            let name = u.string_value(v.slot(BINDING_KEY))?;
            return spaces
                .iter()
                .find(|&&ns| u.own_binding(ns, &name) == Some(v))
                .map(|&ns| (ns, name, OutsideKind::Binding));
        }
        if u.is_class(v) {
            let is_meta = v.class_word() == u.known.metaclass;
            let class = if is_meta { v.slot(CLASS_COMPANION) } else { v };
            let name = u.string_value(class.slot(CLASS_NAME))?;
            let kind = if is_meta { OutsideKind::Metaclass } else { OutsideKind::Value };
            return spaces
                .iter()
                .find(|&&ns| u.own_binding(ns, &name).is_some_and(|b| b.slot(BINDING_VALUE) == class))
                .map(|&ns| (ns, name, kind));
        }
        let k = &u.known;
        let name = [(k.nil, "nil"), (k.true_, "true"), (k.false_, "false"), (k.system, "system")]
            .iter()
            .find(|(o, _)| *o == v)
            .map(|(_, n)| n.to_string())?;
        spaces
            .iter()
            .find(|&&ns| u.own_binding(ns, &name).is_some_and(|b| b.slot(BINDING_VALUE) == v))
            .map(|&ns| (ns, name, OutsideKind::Value))
    }

    /// Takes in everything `root` reaches.
    fn close_over(&mut self, root: Value) -> Result<(), String> {
        self.visit(root)?;
        while let Some(obj) = self.queue.pop_front() {
            self.visit(obj.class_word())?;
            if obj.format().has_pointers() {
                for i in 0..obj.size() {
                    if obj.format() == Format::Context && i == CONTEXT_HOME_FRAME {
                        self.visit(self.u.known.nil)?;
                        continue;
                    }
                    self.visit(obj.slot(i))?;
                }
            }
        }
        Ok(())
    }

    fn address(&self, v: Value, base: u64) -> u64 {
        match self.targets.get(&v.bits()) {
            Some(Target::Inside(off)) => base + OBJECTS_OFFSET + off,
            Some(Target::Outside(address)) => *address,
            None => unreachable!("every reachable object was visited"),
        }
    }

    /// Encodes the included objects for `base`.
    fn encode(&self, base: u64, runtime_start: u64) -> (Vec<u8>, Relocations, Vec<SymbolEntry>) {
        let mut out = vec![0u8; self.size as usize];
        let mut relocations = Relocations::default();
        let mut symbols = Vec::new();
        let mut cells = 0u64;
        let nil = self.u.known.nil;
        for &(obj, offset) in &self.order {
            let word_index = |i: usize| ((OBJECTS_OFFSET + offset) / 8) as u32 + i as u32;
            let mut put = |i: usize, w: u64| {
                let at = offset as usize + 8 * i;
                out[at..at + 8].copy_from_slice(&w.to_le_bytes());
            };
            put(0, self.address(obj.class_word(), base));
            relocations.pointers.push(word_index(0));
            put(1, (obj.header_bits() & !FLAGS_MASK) | FLAG_IMAGE);
            let format = obj.format();
            if format.has_pointers() {
                for i in 0..obj.size() {
                    let mut v = obj.slot(i);
                    if format == Format::Method && i == METHOD_CELL {
                        let cell = runtime_start + cells * METHOD_CELL_BYTES as u64;
                        cells += 1;
                        put(HEADER_WORDS + i, cell | 1);
                        relocations.cells.push(word_index(HEADER_WORDS + i));
                        continue;
                    }
                    if format == Format::Context && i == CONTEXT_HOME_FRAME {
                        v = nil;
                    }
                    if v.is_pointer() {
                        put(HEADER_WORDS + i, self.address(v, base));
                        relocations.pointers.push(word_index(HEADER_WORDS + i));
                    } else {
                        put(HEADER_WORDS + i, v.bits());
                    }
                }
            } else {
                let bytes = obj.bytes();
                let at = offset as usize + 8 * HEADER_WORDS;
                out[at..at + bytes.len()].copy_from_slice(bytes);
                if format == Format::Symbol {
                    symbols.push(SymbolEntry {
                        hash: obj.identity_hash(),
                        len: bytes.len() as u32,
                        offset: OBJECTS_OFFSET + offset,
                    });
                }
            }
        }
        (out, relocations, symbols)
    }
}

/// Encodes what `spec` names as an image file.
pub fn write(u: &mut Universe, spec: &WriteSpec) -> Result<Vec<u8>, String> {
    write_with_shared(u, spec).map(|(bytes, _)| bytes)
}

/// Encodes what `spec` names as an image file; also answers the shared
/// objects the image refers to, in the order of their positions.
pub fn write_with_shared(u: &mut Universe, spec: &WriteSpec) -> Result<(Vec<u8>, Vec<Value>), String> {
    let emitted: HashSet<NamespaceId> = spec.namespaces.iter().filter_map(|n| n.id).collect();
    let mut by_name = HashMap::new();
    let others: Vec<NamespaceId> =
        u.namespaces().filter(|(id, n)| !emitted.contains(id) && n.image.is_none()).map(|(id, _)| id).collect();
    for ns in others {
        for (name, b) in u.all_bindings(ns) {
            by_name.entry(b.bits()).or_insert((ns, name.clone(), OutsideKind::Binding));
            let value = b.slot(BINDING_VALUE);
            if value.is_pointer() && !u.heap.in_image(value) {
                by_name.entry(value.bits()).or_insert((ns, name.clone(), OutsideKind::Value));
                if u.is_class(value) {
                    by_name.entry(value.class_word().bits()).or_insert((ns, name, OutsideKind::Metaclass));
                }
            }
        }
    }
    let mut w = Writer {
        u,
        emitted: emitted.clone(),
        targets: HashMap::new(),
        order: Vec::new(),
        size: 0,
        methods: 0,
        queue: VecDeque::new(),
        outside: Vec::new(),
        imports: Vec::new(),
        import_of: HashMap::new(),
        requirements: spec.requirements.clone(),
        by_name,
        shared: &spec.shared,
        shared_out: Vec::new(),
    };
    for ns in &spec.namespaces {
        w.close_over(ns.descriptor)?;
        // The main class first, then by name.
        let main = ns.main.clone().unwrap_or_default();
        let mut bindings = ns.bindings.clone();
        bindings.sort_by(|a, b| (a.0 != main, &a.0).cmp(&(b.0 != main, &b.0)));
        for (_, b) in &bindings {
            w.close_over(*b)?;
        }
    }
    // Declared imports are recorded even when no object refers to them:
    // globals resolve through them at run time.
    let mut namespace_entries = Vec::new();
    let mut exports = Vec::new();
    let position: HashMap<NamespaceId, u32> =
        spec.namespaces.iter().enumerate().filter_map(|(i, n)| n.id.map(|id| (id, i as u32))).collect();
    for (index, ns) in spec.namespaces.iter().enumerate() {
        let imports = ns
            .imports
            .iter()
            .map(|id| match position.get(id) {
                Some(&i) => NamespaceImport::Internal(i),
                None => NamespaceImport::External(w.import_for(*id)),
            })
            .collect();
        let first = exports.len() as u32;
        for (name, b) in &ns.bindings {
            let Some(Target::Inside(off)) = w.targets.get(&b.bits()).copied() else {
                return Err(format!("the binding of {name} in {} is not part of the image", ns.name));
            };
            exports.push(ExportEntry { namespace: index as u32, name: name.clone(), offset: OBJECTS_OFFSET + off });
        }
        let Some(Target::Inside(descriptor)) = w.targets.get(&ns.descriptor.bits()).copied() else {
            return Err(format!("the descriptor of {} is not part of the image", ns.name));
        };
        namespace_entries.push(NamespaceEntry {
            name: ns.name.clone(),
            version: ns.version.clone(),
            main: ns.main.clone(),
            descriptor: OBJECTS_OFFSET + descriptor,
            exports: first..exports.len() as u32,
            imports,
        });
    }
    if !w.emitted.contains(&NamespaceId::KERNEL) {
        w.import_for(NamespaceId::KERNEL);
    }
    let runtime_size = w.methods * METHOD_CELL_BYTES as u64;
    let runtime_start = spec.base - image_format::runtime_below(runtime_size);
    let (objects, relocations, symbols) = w.encode(spec.base, runtime_start);
    let builder = ImageBuilder {
        flags: spec.flags,
        preferred_base: spec.base,
        runtime_size,
        abi: super::abi(),
        objects,
        namespaces: namespace_entries,
        imports: w.imports,
        outside: w.outside,
        exports,
        symbols,
        relocations,
    };
    Ok((builder.finish(), w.shared_out))
}

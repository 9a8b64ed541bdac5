//! Namespaces: every class belongs to one namespace at one version, and a
//! global in a method resolves in the method's own namespace, then in the
//! namespaces it imports (each at the version it asked for), then in the
//! kernel.
//!
//! Namespace 0 is the kernel; namespace 1 is the program's default one
//! (classes loaded from source, globals the program defines). Mapped images
//! add one namespace each (a linked image several). A namespace's globals
//! are bindings: those made at run time live in `globals`; those of a
//! mapped image are found in the image's export table when first asked for
//! (and then remembered in `globals`), so mapping an image costs nothing per
//! global.

use std::collections::HashMap;

use super::{Result, Universe};
use crate::layout::*;
use crate::object::Format;
use crate::value::Value;

/// A namespace: an index into the universe's namespace table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamespaceId(pub u32);

impl NamespaceId {
    /// The kernel library.
    pub const KERNEL: NamespaceId = NamespaceId(0);
    /// The default namespace: classes loaded from source and the globals
    /// the program defines.
    pub const PROGRAM: NamespaceId = NamespaceId(1);

    /// The index in the namespace table.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a namespace's image-defined globals are looked up: a function of
/// the name answering the binding, provided by the image loader.
pub type ExportLookup = Box<dyn Fn(&str) -> Option<Value>>;

/// Enumerates every binding an image defines for a namespace.
pub type ExportList = Box<dyn Fn() -> Vec<(String, Value)>>;

/// One namespace.
pub struct NamespaceData {
    /// Its name (`Kernel`, `Program`, `Geometry`).
    pub name: String,
    /// Its version.
    pub version: semver::Version,
    /// The object its classes point to (slot `CLASS_NAMESPACE`): an Array
    /// of the name and the version as Strings.
    pub descriptor: Value,
    /// The namespaces it imports, in the order they were declared.
    pub imports: Vec<NamespaceId>,
    /// Bindings by name: made at run time, or found in the image's exports
    /// and remembered.
    pub globals: HashMap<Box<str>, Value>,
    /// The bindings of the image that defines it, if any.
    pub exports: Option<ExportLookup>,
    /// The image that defines it (an index into `Universe::images`).
    pub image: Option<usize>,
    /// Enumerates every binding of its image (for compiling against it,
    /// writing images that import it, and `info`).
    pub all_exports: Option<ExportList>,
    /// The class `mica run` starts, if the package names one.
    pub main: Option<String>,
}

impl NamespaceData {
    /// A namespace with no globals.
    pub fn new(name: &str, version: semver::Version, descriptor: Value) -> NamespaceData {
        NamespaceData {
            name: name.to_string(),
            version,
            descriptor,
            imports: Vec::new(),
            globals: HashMap::new(),
            exports: None,
            image: None,
            all_exports: None,
            main: None,
        }
    }

    /// `Name@version`, as messages show it.
    pub fn display_name(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

impl std::fmt::Debug for NamespaceData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamespaceData")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("imports", &self.imports)
            .field("globals", &self.globals.len())
            .field("image", &self.exports.is_some())
            .finish()
    }
}

impl Universe {
    /// Adds a namespace (its descriptor is made here) and answers its id.
    pub fn add_namespace(&mut self, name: &str, version: semver::Version) -> Result<NamespaceId> {
        let descriptor = self.alloc_old(self.known.array, Format::Array, 2)?;
        let n = self.new_old_string(name)?;
        descriptor.set_slot_raw(0, n);
        let v = self.new_old_string(&version.to_string())?;
        descriptor.set_slot_raw(1, v);
        Ok(self.add_namespace_with(NamespaceData::new(name, version, descriptor)))
    }

    /// Adds a namespace whose data (descriptor included) the caller made.
    pub fn add_namespace_with(&mut self, data: NamespaceData) -> NamespaceId {
        let id = NamespaceId(self.namespaces.len() as u32);
        self.namespace_ids.insert(data.descriptor, id);
        self.namespaces.push(data);
        id
    }

    /// The namespace `id`.
    pub fn namespace(&self, id: NamespaceId) -> &NamespaceData {
        &self.namespaces[id.index()]
    }

    /// The namespace `id`, writable.
    pub fn namespace_mut(&mut self, id: NamespaceId) -> &mut NamespaceData {
        &mut self.namespaces[id.index()]
    }

    /// Every namespace, by id.
    pub fn namespaces(&self) -> impl Iterator<Item = (NamespaceId, &NamespaceData)> {
        self.namespaces.iter().enumerate().map(|(i, n)| (NamespaceId(i as u32), n))
    }

    /// The namespace a class (or metaclass) belongs to; the program's for a
    /// class that names none.
    pub fn namespace_of(&self, class: Value) -> NamespaceId {
        if !self.is_class(class) {
            return NamespaceId::PROGRAM;
        }
        let descriptor = class.slot(CLASS_NAMESPACE);
        self.namespace_ids.get(&descriptor).copied().unwrap_or(NamespaceId::PROGRAM)
    }

    /// The binding `ns` itself defines for `name` (not its imports').
    pub fn own_binding(&mut self, ns: NamespaceId, name: &str) -> Option<Value> {
        let data = &self.namespaces[ns.index()];
        if let Some(&b) = data.globals.get(name) {
            return Some(b);
        }
        let b = data.exports.as_ref().and_then(|lookup| lookup(name))?;
        self.namespaces[ns.index()].globals.insert(name.into(), b);
        Some(b)
    }

    /// The binding `name` resolves to from code in `ns`: its own, then its
    /// imports', then the kernel's; `None` if no namespace defines it.
    pub fn resolve_binding(&mut self, ns: NamespaceId, name: &str) -> Option<Value> {
        if let Some(b) = self.own_binding(ns, name) {
            return Some(b);
        }
        let imports = self.namespaces[ns.index()].imports.clone();
        for import in imports {
            if let Some(b) = self.own_binding(import, name) {
                return Some(b);
            }
        }
        if ns != NamespaceId::KERNEL { self.own_binding(NamespaceId::KERNEL, name) } else { None }
    }

    /// The binding of `name` (a Symbol) in `ns` itself, made unbound if new.
    pub fn binding(&mut self, ns: NamespaceId, name: Value) -> Result<Value> {
        let text = self.text_or_describe(name);
        if let Some(b) = self.own_binding(ns, &text) {
            return Ok(b);
        }
        let b = self.alloc_old(self.known.binding_class, Format::Fields, BINDING_SIZE)?;
        b.set_slot_raw(BINDING_KEY, name);
        b.set_slot_raw(BINDING_VALUE, Value::UNBOUND);
        self.namespaces[ns.index()].globals.insert(text.into(), b);
        Ok(b)
    }

    /// The binding a global literal `name` in code of `ns` refers to: the
    /// one it resolves to, or a new unbound one in `ns`. The program's
    /// namespace always gets its own binding: its classes are loaded from
    /// the class path when first used, so a kernel class of the same name
    /// must not be bound early (the interpreter falls back to the kernel's
    /// value when the class path has none).
    pub fn binding_for_code(&mut self, ns: NamespaceId, name: Value) -> Result<Value> {
        if ns == NamespaceId::PROGRAM {
            return self.binding(ns, name);
        }
        let text = self.text_or_describe(name);
        match self.resolve_binding(ns, &text) {
            Some(b) => Ok(b),
            None => self.binding(ns, name),
        }
    }

    /// Sets global `name` in `ns`.
    pub fn set_global(&mut self, ns: NamespaceId, name: Value, value: Value) -> Result<()> {
        let b = self.binding(ns, name)?;
        self.heap.store(b, BINDING_VALUE, value);
        Ok(())
    }

    /// The value of global `name` as code of `ns` sees it (unbound globals
    /// of `ns` give way to its imports' and the kernel's).
    pub fn global_from(&mut self, ns: NamespaceId, name: Value) -> Option<Value> {
        let text = self.text_or_describe(name);
        let mut spaces = vec![ns];
        spaces.extend(self.namespaces[ns.index()].imports.iter().copied());
        if ns != NamespaceId::KERNEL {
            spaces.push(NamespaceId::KERNEL);
        }
        spaces.into_iter().find_map(|space| {
            let b = self.own_binding(space, &text)?;
            let v = b.slot(BINDING_VALUE);
            (v != Value::UNBOUND).then_some(v)
        })
    }

    /// The value of global `name` as the program sees it: its main
    /// class's namespace (with its imports), then `Program`, then the
    /// kernel's.
    pub fn global(&mut self, name: Value) -> Option<Value> {
        let main = self.main_namespace;
        if main != NamespaceId::PROGRAM
            && let Some(v) = self.global_from(main, name)
        {
            return Some(v);
        }
        self.global_from(NamespaceId::PROGRAM, name)
    }

    /// The value of global `name` in `ns` only.
    pub fn global_in(&mut self, ns: NamespaceId, name: Value) -> Option<Value> {
        let text = self.text_or_describe(name);
        self.own_binding(ns, &text).map(|b| b.slot(BINDING_VALUE)).filter(|v| *v != Value::UNBOUND)
    }

    /// Every binding `ns` defines (an image's exports and the bindings made
    /// since), by name.
    pub fn all_bindings(&self, ns: NamespaceId) -> Vec<(String, Value)> {
        let data = &self.namespaces[ns.index()];
        let mut map: std::collections::BTreeMap<String, Value> =
            data.all_exports.as_ref().map(|all| all().into_iter().collect()).unwrap_or_default();
        for (k, &v) in &data.globals {
            map.insert(k.to_string(), v);
        }
        map.into_iter().collect()
    }
}

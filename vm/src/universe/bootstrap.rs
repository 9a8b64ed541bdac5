//! Making a universe: the classes the VM itself needs (with their
//! metaclasses, wired as in SOM: `Object class class == Metaclass`,
//! `Metaclass class class == Metaclass`, `Object class superclass == Class`),
//! nil, true, false and `system`; then the kernel library compiled from its
//! sources and installed.

use std::collections::HashMap;

use super::{NamespaceId, Result, Universe, UniverseConfig};
use crate::heap::Heap;
use crate::layout::*;
use crate::object::Format;
use crate::value::Value;

/// The objects the VM refers to directly.
#[derive(Clone, Debug)]
pub struct Known {
    /// nil
    pub nil: Value,
    /// true
    pub true_: Value,
    /// false
    pub false_: Value,
    /// The `system` global.
    pub system: Value,
    /// Object
    pub object: Value,
    /// Class
    pub class: Value,
    /// Metaclass
    pub metaclass: Value,
    /// Nil
    pub nil_class: Value,
    /// Boolean
    pub boolean: Value,
    /// True
    pub true_class: Value,
    /// False
    pub false_class: Value,
    /// Integer (SmallIntegers and LargeIntegers alike)
    pub integer: Value,
    /// Double
    pub double: Value,
    /// Character
    pub character: Value,
    /// String
    pub string: Value,
    /// Symbol
    pub symbol: Value,
    /// Array
    pub array: Value,
    /// Block
    pub block: Value,
    /// Block1: blocks of no argument.
    pub block1: Value,
    /// Block2: one argument.
    pub block2: Value,
    /// Block3: two arguments.
    pub block3: Value,
    /// Block4: three arguments (Mica's own).
    pub block4: Value,
    /// Method
    pub method: Value,
    /// Primitive
    pub primitive: Value,
    /// System
    pub system_class: Value,
    /// Context (VM-internal)
    pub context_class: Value,
    /// GlobalBinding (VM-internal)
    pub binding_class: Value,
    /// ByteArray (VM-internal)
    pub byte_array: Value,
    /// ObjectExtensions: methods every object understands after Object's
    /// own (see `Universe::lookup_uncached`).
    pub object_extensions: Value,
}

/// The global names of the known objects, in the order of
/// `Known::all_mut`.
const KNOWN_NAMES: [&str; 29] = [
    "nil",
    "true",
    "false",
    "system",
    "Object",
    "Class",
    "Metaclass",
    "Nil",
    "Boolean",
    "True",
    "False",
    "Integer",
    "Double",
    "Character",
    "String",
    "Symbol",
    "Array",
    "Block",
    "Block1",
    "Block2",
    "Block3",
    "Block4",
    "Method",
    "Primitive",
    "System",
    "Context",
    "GlobalBinding",
    "ByteArray",
    "ObjectExtensions",
];

impl Known {
    fn all_mut(&mut self) -> [&mut Value; 29] {
        [
            &mut self.nil,
            &mut self.true_,
            &mut self.false_,
            &mut self.system,
            &mut self.object,
            &mut self.class,
            &mut self.metaclass,
            &mut self.nil_class,
            &mut self.boolean,
            &mut self.true_class,
            &mut self.false_class,
            &mut self.integer,
            &mut self.double,
            &mut self.character,
            &mut self.string,
            &mut self.symbol,
            &mut self.array,
            &mut self.block,
            &mut self.block1,
            &mut self.block2,
            &mut self.block3,
            &mut self.block4,
            &mut self.method,
            &mut self.primitive,
            &mut self.system_class,
            &mut self.context_class,
            &mut self.binding_class,
            &mut self.byte_array,
            &mut self.object_extensions,
        ]
    }

    /// Shows the collector every known object.
    pub fn visit(&mut self, visit: &mut dyn FnMut(&mut Value)) {
        for v in self.all_mut() {
            visit(v);
        }
    }

    /// The block class for closures of `args` arguments.
    pub fn block_class(&self, args: u32) -> Value {
        match args {
            0 => self.block1,
            1 => self.block2,
            2 => self.block3,
            _ => self.block4,
        }
    }
}

/// How instances of a class are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Their format.
    pub format: Format,
    /// Their number of named fields.
    pub fields: usize,
}

impl Spec {
    /// Encodes the spec for the class's spec slot.
    pub fn encode(self) -> Value {
        Value::small(self.format as i64 | ((self.fields as i64) << 8))
    }

    /// Decodes a spec slot.
    pub fn decode(v: Value) -> Spec {
        let bits = v.int_value();
        Spec { format: Format::from_bits((bits & 0xff) as u8).unwrap_or(Format::Fields), fields: (bits >> 8) as usize }
    }
}

/// The classes the VM makes before any source is compiled: name,
/// superclass, instance format.
const VM_CLASSES: &[(&str, Option<&str>, Format)] = &[
    ("Object", None, Format::Fields),
    ("Class", Some("Object"), Format::Class),
    ("Metaclass", Some("Class"), Format::Class),
    ("Nil", Some("Object"), Format::Fields),
    ("Boolean", Some("Object"), Format::Fields),
    ("True", Some("Boolean"), Format::Fields),
    ("False", Some("Boolean"), Format::Fields),
    ("Integer", Some("Object"), Format::LargeInt),
    ("Double", Some("Object"), Format::Double),
    ("Character", Some("Object"), Format::Fields),
    ("String", Some("Object"), Format::Bytes),
    ("Symbol", Some("String"), Format::Symbol),
    ("Array", Some("Object"), Format::Array),
    ("Block", Some("Object"), Format::Closure),
    ("Block1", Some("Block"), Format::Closure),
    ("Block2", Some("Block"), Format::Closure),
    ("Block3", Some("Block"), Format::Closure),
    ("Block4", Some("Block"), Format::Closure),
    ("Method", Some("Object"), Format::Method),
    ("Primitive", Some("Object"), Format::Method),
    ("System", Some("Object"), Format::Fields),
    ("Context", Some("Object"), Format::Context),
    ("GlobalBinding", Some("Object"), Format::Fields),
    ("ByteArray", Some("Object"), Format::ByteArray),
    ("ObjectExtensions", Some("Object"), Format::Fields),
];

/// Whether `name` is one of the classes the VM itself defines (their
/// instances have VM-defined shapes, so a class file of that name on the
/// class path — SOM's own library, say — does not replace them).
pub fn is_vm_class_name(name: &str) -> bool {
    VM_CLASSES.iter().any(|(n, _, _)| *n == name)
}

impl Universe {
    /// A universe with the VM's classes and the kernel library.
    pub fn new(config: UniverseConfig) -> std::result::Result<Universe, String> {
        let mut u = Universe::bare(config).map_err(|e| e.to_string())?;
        super::install::install_kernel(&mut u)?;
        Ok(u)
    }

    /// A universe with only the VM's classes (no kernel methods).
    pub fn bare(config: UniverseConfig) -> Result<Universe> {
        let mut heap = Heap::new(config.heap);
        let none = Value::from_bits(crate::heap::NIL_PLACEHOLDER);
        let nil =
            heap.alloc_old(none, Format::Fields, 0).map_err(|e| super::VmError::OutOfMemory { bytes: e.bytes })?;
        heap.set_nil(nil);
        let mut u = Universe::empty(config, heap, nil);
        u.make_vm_classes()?;
        Ok(u)
    }

    /// A universe with a heap and nothing else; every known object is
    /// `placeholder` until set.
    fn empty(config: UniverseConfig, heap: Heap, placeholder: Value) -> Universe {
        let p = placeholder;
        let known = Known {
            nil: p,
            true_: p,
            false_: p,
            system: p,
            object: p,
            class: p,
            metaclass: p,
            nil_class: p,
            boolean: p,
            true_class: p,
            false_class: p,
            integer: p,
            double: p,
            character: p,
            string: p,
            symbol: p,
            array: p,
            block: p,
            block1: p,
            block2: p,
            block3: p,
            block4: p,
            method: p,
            primitive: p,
            system_class: p,
            context_class: p,
            binding_class: p,
            byte_array: p,
            object_extensions: p,
        };
        let interrupts = crate::interrupts::Interrupts::new();
        Universe {
            heap,
            stack: zeroed_stack(config.stack_words.max(1024)),
            sp: 0,
            handles: Vec::new(),
            pins: Vec::new(),
            free_pins: Vec::new(),
            symbols: HashMap::new(),
            namespaces: Vec::new(),
            namespace_ids: HashMap::new(),
            known,
            runtimes: Vec::new(),
            cells: Default::default(),
            images: Vec::new(),
            lookup_cache: vec![(p, p, p); super::LOOKUP_CACHE_SIZE],
            method_epoch: 0,
            deoptimizations: Default::default(),
            main_namespace: NamespaceId::PROGRAM,
            jit_fp: 0,
            native_depth: 0,
            output: crate::primitives::Output::Std(crate::primitives::StdOutput::new(std::sync::Arc::clone(
                &interrupts,
            ))),
            interrupts,
            in_memory_reserve: false,
        }
    }

    /// A universe whose kernel is the image `kernel`, mapped (not compiled
    /// from source): the known objects are found among its globals.
    pub fn from_kernel_image(
        config: UniverseConfig,
        kernel: crate::image::loader::Prepared,
    ) -> std::result::Result<Universe, String> {
        let placeholder = Value::from_bits(crate::heap::NIL_PLACEHOLDER);
        let mut u = Universe::empty(config, Heap::new(config.heap), placeholder);
        let name = kernel.name.clone();
        crate::image::loader::load(&mut u, kernel, true).map_err(|e| e.to_string())?;
        if u.namespaces.first().is_none_or(|n| n.name != "Kernel") {
            return Err(format!("{name}: not a kernel image (its first namespace is not Kernel)"));
        }
        let mut found = Vec::with_capacity(KNOWN_NAMES.len());
        for name in KNOWN_NAMES {
            let binding = u.own_binding(NamespaceId::KERNEL, name);
            match binding.map(|b| b.slot(BINDING_VALUE)).filter(|v| v.is_pointer()) {
                Some(v) => found.push(v),
                None => return Err(format!("the kernel image does not define {name}")),
            }
        }
        for (slot, v) in u.known.all_mut().into_iter().zip(found) {
            *slot = v;
        }
        u.heap.set_nil(u.known.nil);
        u.flush_lookup_cache();
        let program = u.add_namespace("Program", semver::Version::new(0, 0, 0)).map_err(|e| e.to_string())?;
        debug_assert_eq!(program, NamespaceId::PROGRAM);
        Ok(u)
    }

    fn make_vm_classes(&mut self) -> Result<()> {
        let nil = self.nil();
        // Phase 1: bare class and metaclass objects (class words fixed below).
        let mut classes: HashMap<&str, (Value, Value)> = HashMap::new();
        for &(name, superclass, format) in VM_CLASSES {
            let class_fields = CLASS_FIXED_FIELDS;
            let meta = self.alloc_old(nil, Format::Class, CLASS_FIXED_FIELDS)?;
            let class = self.alloc_old(meta, Format::Class, class_fields)?;
            let fields = if format == Format::Class { CLASS_FIXED_FIELDS } else { 0 };
            class.set_slot_raw(CLASS_SPEC, Spec { format, fields }.encode());
            meta.set_slot_raw(CLASS_SPEC, Spec { format: Format::Class, fields: CLASS_FIXED_FIELDS }.encode());
            meta.set_slot_raw(CLASS_COMPANION, class);
            if let Some(sup) = superclass {
                let (sup_class, sup_meta) = classes[sup];
                class.set_slot_raw(CLASS_SUPERCLASS, sup_class);
                meta.set_slot_raw(CLASS_SUPERCLASS, sup_meta);
            }
            classes.insert(name, (class, meta));
        }
        let get = |n: &str| classes[n].0;
        let k = &mut self.known;
        k.object = get("Object");
        k.class = get("Class");
        k.metaclass = get("Metaclass");
        k.nil_class = get("Nil");
        k.boolean = get("Boolean");
        k.true_class = get("True");
        k.false_class = get("False");
        k.integer = get("Integer");
        k.double = get("Double");
        k.character = get("Character");
        k.string = get("String");
        k.symbol = get("Symbol");
        k.array = get("Array");
        k.block = get("Block");
        k.block1 = get("Block1");
        k.block2 = get("Block2");
        k.block3 = get("Block3");
        k.block4 = get("Block4");
        k.method = get("Method");
        k.primitive = get("Primitive");
        k.system_class = get("System");
        k.context_class = get("Context");
        k.binding_class = get("GlobalBinding");
        k.byte_array = get("ByteArray");
        k.object_extensions = get("ObjectExtensions");
        // Phase 2: wiring. `Object class superclass == Class`; every
        // metaclass is an instance of Metaclass.
        let (_, object_meta) = classes["Object"];
        object_meta.set_slot_raw(CLASS_SUPERCLASS, self.known.class);
        for &(_, meta) in classes.values() {
            meta.set_class_word(self.known.metaclass);
        }
        nil.set_class_word(self.known.nil_class);
        let kernel = self.add_namespace("Kernel", kernel_version())?;
        let program = self.add_namespace("Program", semver::Version::new(0, 0, 0))?;
        debug_assert!(kernel == NamespaceId::KERNEL && program == NamespaceId::PROGRAM);
        let kernel_descriptor = self.namespace(kernel).descriptor;
        // Phase 3: names, field lists, empty method lists; then the globals.
        let hidden: Vec<String> = CLASS_FIELD_NAMES.iter().map(|n| format!("<{n}>")).collect();
        for &(name, _, format) in VM_CLASSES {
            let (class, meta) = classes[name];
            let fields: Vec<String> = if format == Format::Class { hidden.clone() } else { Vec::new() };
            self.init_class_slots(class, name, &fields)?;
            self.init_class_slots(meta, &format!("{name} class"), &hidden)?;
            class.set_slot_raw(CLASS_NAMESPACE, kernel_descriptor);
            meta.set_slot_raw(CLASS_NAMESPACE, kernel_descriptor);
            let sym = self.intern(name)?;
            self.set_global(NamespaceId::KERNEL, sym, class)?;
        }
        let t = self.alloc_old(self.known.true_class, Format::Fields, 0)?;
        let f = self.alloc_old(self.known.false_class, Format::Fields, 0)?;
        let system = self.alloc_old(self.known.system_class, Format::Fields, 0)?;
        self.known.true_ = t;
        self.known.false_ = f;
        self.known.system = system;
        for (name, v) in [("nil", nil), ("true", t), ("false", f), ("system", system)] {
            let sym = self.intern(name)?;
            self.set_global(NamespaceId::KERNEL, sym, v)?;
        }
        Ok(())
    }

    /// Sets the name, instance-field names and an empty method list.
    pub(super) fn init_class_slots(&mut self, class: Value, name: &str, fields: &[String]) -> Result<()> {
        let sym = self.intern(name)?;
        class.set_slot_raw(CLASS_NAME, sym);
        let names = self.alloc_old(self.known.array, Format::Array, fields.len())?;
        for (i, f) in fields.iter().enumerate() {
            let s = self.intern(f)?;
            names.set_slot_raw(i, s);
        }
        class.set_slot_raw(CLASS_INSTANCE_FIELDS, names);
        let list = self.alloc_old(self.known.array, Format::Array, 0)?;
        class.set_slot_raw(CLASS_METHOD_LIST, list);
        Ok(())
    }
}

/// The version of the kernel namespace: this VM's version.
pub fn kernel_version() -> semver::Version {
    semver::Version::parse(env!("CARGO_PKG_VERSION")).expect("the crate version is a semantic version")
}

/// Frame stack memory, zeroed by the allocator so that the pages are only
/// touched when the stack grows into them (words above `sp` are never read).
fn zeroed_stack(words: usize) -> Box<[Value]> {
    let raw: Box<[u64]> = vec![0u64; words].into_boxed_slice();
    let len = raw.len();
    let ptr = Box::into_raw(raw) as *mut Value;
    // SAFETY: `Value` is `repr(transparent)` over `u64`, so a `[u64]` of
    // `len` elements is a valid `[Value]` of `len` elements with the same
    // layout; the pointer came from `Box::into_raw` of that allocation.
    unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) }
}

//! Classes: method dictionaries, defining classes, adding and removing
//! methods.
//!
//! A method dictionary is an Array of `(selector, method)` pairs with
//! open addressing on the selector's identity hash (for a Symbol, a hash of
//! its bytes); the class also keeps its
//! methods in definition order (`Object methods at: 1` is its first method).

use super::bootstrap::Spec;

use super::{Result, Universe};
use crate::deopt::DeoptReason;
use crate::layout::*;
use crate::object::Format;
use crate::value::Value;

/// The method for `selector` in dictionary `dict` (nil if absent).
#[inline]
pub(super) fn dict_lookup(dict: Value, selector: Value, nil: Value) -> Value {
    if dict == nil {
        return nil;
    }
    let cap = dict.size() / 2;
    let mask = cap - 1;
    let mut i = selector.identity_hash() as usize & mask;
    loop {
        let key = dict.slot(2 * i);
        if key.same_selector(selector) {
            return dict.slot(2 * i + 1);
        }
        if key == nil {
            return nil;
        }
        i = (i + 1) & mask;
    }
}

impl Universe {
    /// Gives `class`, a class no lookup has seen yet (just made, not yet
    /// bound to its name), the methods `methods` (in definition order): no
    /// cache can hold what it changes.
    pub fn set_methods_of_new_class(&mut self, class: Value, methods: &[Value]) -> Result<()> {
        let nil = self.nil();
        let list = self.alloc_old(self.known.array, Format::Array, methods.len())?;
        for (i, &m) in methods.iter().enumerate() {
            list.set_slot_raw(i, m);
        }
        let dict = if methods.is_empty() {
            nil
        } else {
            let cap = (methods.len() * 2).next_power_of_two().max(4);
            let dict = self.alloc_old(self.known.array, Format::Array, cap * 2)?;
            for &m in methods {
                let sel = m.slot(METHOD_SELECTOR);
                let mut i = sel.identity_hash() as usize & (cap - 1);
                while dict.slot(2 * i) != nil && !dict.slot(2 * i).same_selector(sel) {
                    i = (i + 1) & (cap - 1);
                }
                dict.set_slot_raw(2 * i, sel);
                dict.set_slot_raw(2 * i + 1, m);
            }
            dict
        };
        // Through the barrier: the class may be an image object.
        self.heap.store(class, CLASS_METHOD_LIST, list);
        self.heap.store(class, CLASS_METHOD_DICT, dict);
        Ok(())
    }

    /// Replaces the methods of `class` (in definition order) and rebuilds its
    /// dictionary; what depended on the lookups that changed is invalidated
    /// (see [`Universe::invalidate_lookups`]).
    pub fn set_methods(&mut self, class: Value, methods: &[Value]) -> Result<()> {
        let old = self.methods_of(class);
        self.set_methods_of_new_class(class, methods)?;
        // The selectors whose method in `class` is not the one it was.
        let find =
            |list: &[Value], sel: Value| list.iter().copied().find(|m| m.slot(METHOD_SELECTOR).same_selector(sel));
        let mut changed: Vec<Value> = Vec::new();
        for m in old.iter().chain(methods) {
            let sel = m.slot(METHOD_SELECTOR);
            if find(&old, sel) != find(methods, sel) && !changed.iter().any(|c| c.same_selector(sel)) {
                changed.push(sel);
            }
        }
        self.invalidate_lookups(class, &changed);
        Ok(())
    }

    /// What lookups of `selectors` from `class` and its subclasses find
    /// changed: the inline caches that hold such a lookup (or a failed
    /// one) are cleared, and the native code that inlined one is thrown
    /// away. Everything else stays.
    pub fn invalidate_lookups(&mut self, class: Value, selectors: &[Value]) {
        if selectors.is_empty() {
            // The same methods: every lookup finds what it found.
            return;
        }
        self.flush_lookup_cache();
        self.method_epoch += 1;
        let nil = self.nil();
        // Methods of ObjectExtensions are found after Object's.
        let class = if class == self.known.object_extensions { self.known.object } else { class };
        let inherits = |mut c: Value| {
            while c.is_pointer() && c != nil {
                if c == class {
                    return true;
                }
                c = c.slot(CLASS_SUPERCLASS);
            }
            false
        };
        let affected =
            |sel: Value, receiver: Value| selectors.iter().any(|s| s.same_selector(sel)) && inherits(receiver);
        let mut discarded = Vec::new();
        for (i, rt) in self.runtimes.iter_mut().enumerate() {
            for ic in rt.ics.iter_mut() {
                let stale = ic.entries[..ic.len as usize]
                    .iter()
                    .any(|e| e.method == nil || affected(e.method.slot(METHOD_SELECTOR), e.class));
                if stale {
                    ic.clear();
                }
            }
            if rt.native_deps.iter().any(|&(s, c)| affected(s, c)) && rt.discard_speculative() {
                discarded.push(i);
            }
        }
        for rt in discarded {
            self.deoptimizations.record(DeoptReason::MethodsChanged, rt);
        }
    }

    /// The methods of `class`, in definition order.
    pub fn methods_of(&self, class: Value) -> Vec<Value> {
        let list = class.slot(CLASS_METHOD_LIST);
        if list == self.nil() { Vec::new() } else { (0..list.size()).map(|i| list.slot(i)).collect() }
    }

    /// Adds `method` to `class`, replacing the one with the same selector
    /// (which keeps its place in the definition order).
    pub fn add_method(&mut self, class: Value, method: Value) -> Result<()> {
        let sel = method.slot(METHOD_SELECTOR);
        let mut methods = self.methods_of(class);
        match methods.iter_mut().find(|m| m.slot(METHOD_SELECTOR).same_selector(sel)) {
            Some(slot) => *slot = method,
            None => methods.push(method),
        }
        self.set_methods(class, &methods)
    }

    /// Removes the method for `selector` from `class`; answers whether there
    /// was one.
    pub fn remove_method(&mut self, class: Value, selector: Value) -> Result<bool> {
        let mut methods = self.methods_of(class);
        let before = methods.len();
        methods.retain(|m| !m.slot(METHOD_SELECTOR).same_selector(selector));
        if methods.len() == before {
            return Ok(false);
        }
        self.set_methods(class, &methods)?;
        Ok(true)
    }

    /// The method `class` itself (not a superclass) has for `selector`.
    pub fn local_method(&self, class: Value, selector: Value) -> Value {
        dict_lookup(class.slot(CLASS_METHOD_DICT), selector, self.nil())
    }

    /// Forgets every inline cache and lookup-cache entry.
    /// Native code that inlined lookup results is discarded (its methods
    /// go back to the interpreter and may be compiled again once hot).
    pub fn invalidate_caches(&mut self) {
        self.flush_lookup_cache();
        self.method_epoch += 1;
        let mut discarded = Vec::new();
        for (i, rt) in self.runtimes.iter_mut().enumerate() {
            for ic in rt.ics.iter_mut() {
                ic.clear();
            }
            if rt.discard_speculative() {
                discarded.push(i);
            }
        }
        for rt in discarded {
            self.deoptimizations.record(DeoptReason::MethodsChanged, rt);
        }
    }

    /// Gives `class` the instance fields `fields` (its superclass's first,
    /// as now) and migrates its instances: each is replaced, everywhere it
    /// is referred to, by a new one whose fields of the same name keep their
    /// values (new ones are nil, dropped ones go). The class keeps its
    /// identity. Subclasses are not re-laid out: callers refuse classes that
    /// have any. Answers how many instances were migrated.
    pub fn migrate_instances(&mut self, class: Value, fields: &[String]) -> Result<usize> {
        let old_names = self.field_names(class);
        // A field kept as a hidden slot (`<name>`) keeps its value too.
        let from: Vec<Option<usize>> = fields
            .iter()
            .map(|f| {
                let bare = f.strip_prefix('<').and_then(|g| g.strip_suffix('>'));
                old_names.iter().position(|o| o == f || Some(o.as_str()) == bare)
            })
            .collect();
        // Everything in old space: the instances are found by a walk.
        self.collect_full()?;
        let instances = self.heap.instances_of(class);
        let mark = self.handle_mark();
        let olds: Vec<crate::universe::Handle> = instances.iter().map(|&o| self.handle(o)).collect();
        let mut news = Vec::with_capacity(olds.len());
        for &h in &olds {
            let n = self.alloc_old(class, Format::Fields, fields.len());
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    self.release_handles(mark);
                    return Err(e);
                }
            };
            let old = self.get(h);
            for (j, src) in from.iter().enumerate() {
                let v = src.map_or(self.nil(), |i| old.slot(i));
                n.set_slot_raw(j, v);
            }
            news.push(self.handle(n));
        }
        let map: std::collections::HashMap<u64, Value> =
            olds.iter().zip(&news).map(|(&o, &n)| (self.get(o).bits(), self.get(n))).collect();
        self.release_handles(mark);
        // The new shape, then the references.
        let names = self.alloc_old(self.known.array, Format::Array, fields.len())?;
        for (i, f) in fields.iter().enumerate() {
            let sym = self.intern(f)?;
            names.set_slot_raw(i, sym);
        }
        let spec = Spec { format: Format::Fields, fields: fields.len() };
        self.heap.store(class, CLASS_SPEC, spec.encode());
        self.heap.store(class, CLASS_INSTANCE_FIELDS, names);
        let (heap, mut roots) = self.split();
        heap.forward(&mut roots, &map);
        // Native code and caches may know the old layout.
        self.invalidate_caches();
        Ok(map.len())
    }

    /// Makes a class and its metaclass. `fields` are the new instance fields
    /// (the superclass's come first), `class_fields` the new class-side
    /// fields.
    pub fn define_class(
        &mut self,
        name: &str,
        superclass: Value,
        fields: &[String],
        class_fields: &[String],
    ) -> std::result::Result<Value, String> {
        let nil = self.nil();
        let (super_spec, super_fields, super_meta, super_class_fields) = if superclass == nil {
            let hidden: Vec<String> = CLASS_FIELD_NAMES.iter().map(|n| format!("<{n}>")).collect();
            (Spec { format: Format::Fields, fields: 0 }, Vec::new(), self.known.class, hidden)
        } else {
            let meta = superclass.class_word();
            (Spec::decode(superclass.slot(CLASS_SPEC)), self.field_names(superclass), meta, self.field_names(meta))
        };
        let format = match super_spec.format {
            Format::Fields => Format::Fields,
            Format::Array | Format::Bytes | Format::Class if fields.is_empty() => super_spec.format,
            other => {
                return Err(format!(
                    "class {name} cannot add fields to a superclass whose instances are {other:?} objects"
                ));
            }
        };
        let mut all_fields = super_fields;
        all_fields.extend(fields.iter().cloned());
        let mut all_class_fields = super_class_fields;
        all_class_fields.extend(class_fields.iter().cloned());
        let err = |e: super::VmError| e.to_string();
        let meta = self.alloc_old(self.known.metaclass, Format::Class, CLASS_FIXED_FIELDS).map_err(err)?;
        let class = self.alloc_old(meta, Format::Class, all_class_fields.len()).map_err(err)?;
        meta.set_slot_raw(CLASS_SUPERCLASS, super_meta);
        meta.set_slot_raw(CLASS_SPEC, Spec { format: Format::Class, fields: all_class_fields.len() }.encode());
        meta.set_slot_raw(CLASS_COMPANION, class);
        class.set_slot_raw(CLASS_SUPERCLASS, superclass);
        class.set_slot_raw(CLASS_SPEC, Spec { format, fields: all_fields.len() }.encode());
        self.init_class_slots(class, name, &all_fields).map_err(err)?;
        self.init_class_slots(meta, &format!("{name} class"), &all_class_fields).map_err(err)?;
        Ok(class)
    }

    /// The names of all instance fields of `class`, inherited first.
    pub fn field_names(&self, class: Value) -> Vec<String> {
        let names = class.slot(CLASS_INSTANCE_FIELDS);
        if names == self.nil() {
            return Vec::new();
        }
        (0..names.size()).map(|i| self.text_or_describe(names.slot(i))).collect()
    }

    /// The name of a class as text (`Foo`, `Foo class`).
    pub fn class_name(&self, class: Value) -> String {
        if class.is_pointer() && class.format() == Format::Class {
            self.text_or_describe(class.slot(CLASS_NAME))
        } else {
            format!("{class:?}")
        }
    }

    /// `Class>>selector` of a method, or `Class>>selector (block)` for a
    /// block of that method.
    pub fn method_name(&self, method: Value) -> String {
        let holder = self.class_name(method.slot(METHOD_HOLDER));
        let outer = method.slot(METHOD_OUTER);
        if outer != self.nil() {
            let sel = self.text_or_describe(outer.slot(METHOD_SELECTOR));
            return format!("{holder}>>{sel} (block)");
        }
        format!("{holder}>>{}", self.text_or_describe(method.slot(METHOD_SELECTOR)))
    }

    /// Whether `v` is a class or metaclass.
    pub fn is_class(&self, v: Value) -> bool {
        v.is_pointer() && v.format() == Format::Class
    }

    /// The instance spec of `class`.
    pub fn spec(&self, class: Value) -> Spec {
        Spec::decode(class.slot(CLASS_SPEC))
    }
}

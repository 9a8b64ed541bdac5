//! Installing compiled code: method objects from `CompiledCode`, classes
//! from `CompiledClass`, and the kernel library from its sources.

use std::collections::HashMap;
use std::fmt;

use num_bigint::BigInt;

use super::{NamespaceId, Universe};
use crate::bytecode::{CodeFlags, CompiledClass, CompiledCode, Literal, verify_class};
use crate::compiler::{ClassPath, ClassShape, compile_class_source};
use crate::layout::*;
use crate::object::Format;
use crate::value::Value;

/// Why a class could not be installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallError(pub String);

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InstallError {}

impl From<super::VmError> for InstallError {
    fn from(e: super::VmError) -> Self {
        InstallError(e.to_string())
    }
}

/// The kernel library: `(class name, source)`, superclasses first.
pub const KERNEL_SOURCES: &[(&str, &str)] = &[
    ("Object", include_str!("../../kernel/Object.som")),
    ("Class", include_str!("../../kernel/Class.som")),
    ("Metaclass", include_str!("../../kernel/Metaclass.som")),
    ("Nil", include_str!("../../kernel/Nil.som")),
    ("Boolean", include_str!("../../kernel/Boolean.som")),
    ("True", include_str!("../../kernel/True.som")),
    ("False", include_str!("../../kernel/False.som")),
    ("Integer", include_str!("../../kernel/Integer.som")),
    ("Double", include_str!("../../kernel/Double.som")),
    ("Character", include_str!("../../kernel/Character.som")),
    ("String", include_str!("../../kernel/String.som")),
    ("Symbol", include_str!("../../kernel/Symbol.som")),
    ("Array", include_str!("../../kernel/Array.som")),
    ("Block", include_str!("../../kernel/Block.som")),
    ("Block1", include_str!("../../kernel/Block1.som")),
    ("Block2", include_str!("../../kernel/Block2.som")),
    ("Block3", include_str!("../../kernel/Block3.som")),
    ("Block4", include_str!("../../kernel/Block4.som")),
    ("Method", include_str!("../../kernel/Method.som")),
    ("Primitive", include_str!("../../kernel/Primitive.som")),
    ("System", include_str!("../../kernel/System.som")),
    ("Vector", include_str!("../../kernel/Vector.som")),
    ("Pair", include_str!("../../kernel/Pair.som")),
    ("Dictionary", include_str!("../../kernel/Dictionary.som")),
    ("Hashtable", include_str!("../../kernel/Hashtable.som")),
    ("Set", include_str!("../../kernel/Set.som")),
    ("Exception", include_str!("../../kernel/Exception.som")),
    ("Error", include_str!("../../kernel/Error.som")),
    ("Notification", include_str!("../../kernel/Notification.som")),
    ("Warning", include_str!("../../kernel/Warning.som")),
    ("ArithmeticError", include_str!("../../kernel/ArithmeticError.som")),
    ("ZeroDivide", include_str!("../../kernel/ZeroDivide.som")),
    ("MessageNotUnderstood", include_str!("../../kernel/MessageNotUnderstood.som")),
    ("Message", include_str!("../../kernel/Message.som")),
    ("SubscriptOutOfBounds", include_str!("../../kernel/SubscriptOutOfBounds.som")),
    ("PrimitiveFailed", include_str!("../../kernel/PrimitiveFailed.som")),
    ("OutOfMemory", include_str!("../../kernel/OutOfMemory.som")),
    ("IllegalResumeAttempt", include_str!("../../kernel/IllegalResumeAttempt.som")),
    ("Halt", include_str!("../../kernel/Halt.som")),
    ("ExceptionSet", include_str!("../../kernel/ExceptionSet.som")),
    ("PositionableStream", include_str!("../../kernel/PositionableStream.som")),
    ("ReadStream", include_str!("../../kernel/ReadStream.som")),
    ("WriteStream", include_str!("../../kernel/WriteStream.som")),
    ("ReadWriteStream", include_str!("../../kernel/ReadWriteStream.som")),
    ("Process", include_str!("../../kernel/Process.som")),
    ("ProcessorScheduler", include_str!("../../kernel/ProcessorScheduler.som")),
    ("Semaphore", include_str!("../../kernel/Semaphore.som")),
    ("Delay", include_str!("../../kernel/Delay.som")),
    ("SharedQueue", include_str!("../../kernel/SharedQueue.som")),
    ("ObjectExtensions", include_str!("../../kernel/ObjectExtensions.som")),
    ("LiveEvaluation", include_str!("../../kernel/LiveEvaluation.som")),
];

/// Kernel methods whose frames the VM recognises: exception handlers,
/// unwind blocks, running handlers, and signalling helpers left out of
/// stack traces (see `CodeFlags`). `(holder, selector, marks)`.
pub const KERNEL_MARKS: &[(&str, &str, CodeFlags)] = &[
    ("Block", "on:do:", CodeFlags::HANDLER),
    ("Block", "ensure:", CodeFlags::UNWIND),
    ("Block", "ifCurtailed:", CodeFlags::UNWIND),
    ("Exception", "handle:resumeAt:", CodeFlags::HANDLING),
    ("Object", "error:", CodeFlags::HIDDEN),
    ("Object", "halt", CodeFlags::HIDDEN),
    ("Exception class", "signal", CodeFlags::HIDDEN),
    ("Exception class", "signal:", CodeFlags::HIDDEN),
    ("Exception class", "vmSignal:", CodeFlags::HIDDEN),
];

/// The marks of kernel method `holder>>selector`.
pub fn kernel_marks(holder: &str, selector: &str) -> CodeFlags {
    KERNEL_MARKS
        .iter()
        .find(|(h, s, _)| *h == holder && *s == selector)
        .map_or(CodeFlags::empty(), |&(_, _, marks)| marks)
}

/// Compiles and installs the kernel sources into the kernel namespace.
pub(super) fn install_kernel(u: &mut Universe) -> Result<(), String> {
    let mut class_path = ClassPath::new(Vec::new());
    for &(name, source) in KERNEL_SOURCES {
        class_path.set_kernel_shapes(u.class_shapes(NamespaceId::KERNEL));
        let file = format!("kernel/{name}.som");
        let compiled = compile_class_source(&file, source, None, &class_path).map_err(|e| e.to_string())?;
        u.install_class(&compiled, NamespaceId::KERNEL).map_err(|e| format!("{file}: {e}"))?;
    }
    // The scheduler global: its state is the VM's, so it has no fields.
    let scheduler = u.intern("ProcessorScheduler").map_err(|e| e.to_string())?;
    let class = u.global_in(NamespaceId::KERNEL, scheduler).ok_or("the kernel has no ProcessorScheduler")?;
    let processor = u.alloc_old(class, Format::Fields, 0).map_err(|e| e.to_string())?;
    let name = u.intern("Processor").map_err(|e| e.to_string())?;
    u.set_global(NamespaceId::KERNEL, name, processor).map_err(|e| e.to_string())?;
    Ok(())
}

impl Universe {
    /// The shapes of every class code in `ns` can see (the kernel's, its
    /// imports', its own; later ones shadow earlier ones), for compiling
    /// against the running classes. Only bindings already known count (an
    /// image's are looked up by name, see `class_shape`).
    pub fn class_shapes(&self, ns: NamespaceId) -> HashMap<String, ClassShape> {
        let mut out = HashMap::new();
        let mut spaces = vec![NamespaceId::KERNEL];
        spaces.extend(self.namespace(ns).imports.iter().copied());
        spaces.push(ns);
        for space in spaces {
            for (name, binding) in self.all_bindings(space) {
                if let Some(shape) = self.shape_of(binding.slot(BINDING_VALUE)) {
                    out.insert(name, shape);
                }
            }
        }
        out
    }

    /// The shape of `class` if it is a class (not a metaclass).
    pub fn shape_of(&self, class: Value) -> Option<ClassShape> {
        // Classes only: a metaclass's class is Metaclass itself.
        if class == Value::UNBOUND || !self.is_class(class) || class.class_word().class_word() != self.known.metaclass {
            return None;
        }
        let sup = class.slot(CLASS_SUPERCLASS);
        Some(ClassShape {
            superclass: if sup == self.nil() { None } else { Some(self.class_name(sup)) },
            fields: self.field_names(class),
            class_fields: self.field_names(class.class_word()),
        })
    }

    /// Installs a compiled class into `ns` and binds its name there. A class
    /// of that name already in `ns` with the same fields gets the new methods;
    /// otherwise a new class is made.
    pub fn install_class(&mut self, compiled: &CompiledClass, ns: NamespaceId) -> Result<Value, InstallError> {
        verify_class(compiled).map_err(|e| InstallError(format!("bytecode verification failed: {e}")))?;
        let nil = self.nil();
        let superclass = match &compiled.superclass {
            None => nil,
            Some(name) => {
                let sym = self.intern(name)?;
                let found = self.global_from(ns, sym);
                match found {
                    Some(c) if self.is_class(c) => c,
                    _ => return Err(InstallError(format!("superclass {name} of {} is not loaded", compiled.name))),
                }
            }
        };
        let name_sym = self.intern(&compiled.name)?;
        let all_fields: Vec<String> = compiled.inherited_fields.iter().chain(&compiled.fields).cloned().collect();
        let all_class_fields: Vec<String> =
            compiled.inherited_class_fields.iter().chain(&compiled.class_fields).cloned().collect();
        // Class and Metaclass have the VM's class fields, which their source
        // cannot name: it declares none.
        let existing = self.global_in(ns, name_sym).filter(|&c| {
            self.is_class(c)
                && c.slot(CLASS_SUPERCLASS) == superclass
                && (self.field_names(c) == all_fields
                    || (self.spec(c).format == Format::Class && compiled.fields.is_empty()))
                && self.field_names(c.class_word()) == all_class_fields
        });
        let fresh = existing.is_none();
        let class = match existing {
            Some(c) => c,
            None => {
                let c = self
                    .define_class(&compiled.name, superclass, &compiled.fields, &compiled.class_fields)
                    .map_err(InstallError)?;
                let descriptor = self.namespace(ns).descriptor;
                c.set_slot_raw(CLASS_NAMESPACE, descriptor);
                c.class_word().set_slot_raw(CLASS_NAMESPACE, descriptor);
                c
            }
        };
        let file = self.new_old_string(&compiled.file)?;
        let mut methods = Vec::with_capacity(compiled.methods.len());
        for code in &compiled.methods {
            methods.push(self.make_method(code, class, ns, nil, file, &compiled.name)?);
        }
        if fresh {
            self.set_methods_of_new_class(class, &methods)?;
        } else {
            self.set_methods(class, &methods)?;
        }
        let meta = class.class_word();
        let mut class_methods = Vec::with_capacity(compiled.class_methods.len());
        let meta_name = format!("{} class", compiled.name);
        for code in &compiled.class_methods {
            class_methods.push(self.make_method(code, meta, ns, nil, file, &meta_name)?);
        }
        if fresh {
            self.set_methods_of_new_class(meta, &class_methods)?;
        } else {
            self.set_methods(meta, &class_methods)?;
        }
        self.set_global(ns, name_sym, class)?;
        Ok(class)
    }

    /// Makes the method object for `code`, installed in `holder`. Primitive
    /// methods get their primitive number by `holder_name` and selector.
    pub fn make_method(
        &mut self,
        code: &CompiledCode,
        holder: Value,
        ns: NamespaceId,
        outer: Value,
        file: Value,
        holder_name: &str,
    ) -> Result<Value, InstallError> {
        let nil = self.nil();
        for (what, n) in
            [("arguments", code.num_args), ("temporaries", code.num_temps), ("stack slots", code.max_stack)]
        {
            if n > METHOD_INFO_MAX_COUNT {
                return Err(InstallError(format!(
                    "{holder_name}>>{}: {n} {what} (at most {METHOD_INFO_MAX_COUNT})",
                    code.selector().unwrap_or("block")
                )));
            }
        }
        let class = if code.is_primitive() { self.known.primitive } else { self.known.method };
        let m = self.alloc_old(class, Format::Method, METHOD_SIZE)?;
        let selector = match code.selector() {
            Some(s) => self.intern(s)?,
            None => nil,
        };
        m.set_slot_raw(METHOD_SELECTOR, selector);
        m.set_slot_raw(METHOD_HOLDER, holder);
        let mut flags = code.flags;
        if ns == NamespaceId::KERNEL && outer == nil {
            flags.insert(kernel_marks(holder_name, code.selector().unwrap_or("")));
        }
        let info = (i64::from(code.num_args) << METHOD_INFO_ARGS_SHIFT)
            | (i64::from(code.num_temps) << METHOD_INFO_TEMPS_SHIFT)
            | (i64::from(code.max_stack) << METHOD_INFO_STACK_SHIFT)
            | (i64::from(flags.bits()) << METHOD_INFO_FLAGS_SHIFT);
        m.set_slot_raw(METHOD_INFO, Value::small(info));
        m.set_slot_raw(METHOD_NUM_ICS, Value::small(i64::from(code.num_ics)));
        let cell = self.new_method_cell();
        m.set_slot_raw(METHOD_CELL, cell);
        m.set_slot_raw(METHOD_OUTER, outer);
        m.set_slot_raw(METHOD_LINE, Value::small(i64::from(code.line)));
        m.set_slot_raw(METHOD_FILE, file);
        m.set_slot_raw(METHOD_NAMES, nil);
        if code.names.iter().any(|n| !n.is_empty()) {
            let names = self.alloc_old(self.known.array, Format::Array, code.names.len())?;
            for (i, n) in code.names.iter().enumerate() {
                let sym = self.intern(n)?;
                names.set_slot_raw(i, sym);
            }
            m.set_slot_raw(METHOD_NAMES, names);
        }
        let bytecode = self.alloc_old(self.known.byte_array, Format::ByteArray, code.code.len())?;
        bytecode.bytes_mut().copy_from_slice(&code.code);
        m.set_slot_raw(METHOD_BYTECODE, bytecode);
        let entries = code.lines.entries();
        let lines = self.alloc_old(self.known.byte_array, Format::ByteArray, entries.len() * 8)?;
        for (i, &(pc, line)) in entries.iter().enumerate() {
            lines.bytes_mut()[i * 8..i * 8 + 4].copy_from_slice(&pc.to_le_bytes());
            lines.bytes_mut()[i * 8 + 4..i * 8 + 8].copy_from_slice(&line.to_le_bytes());
        }
        m.set_slot_raw(METHOD_LINES, lines);
        let literals = self.alloc_old(self.known.array, Format::Array, code.literals.len())?;
        m.set_slot_raw(METHOD_LITERALS, literals);
        let home = if outer == nil { m } else { outer };
        for (i, lit) in code.literals.iter().enumerate() {
            let v = self.make_literal(lit, holder, ns, home, file, holder_name)?;
            literals.set_slot_raw(i, v);
        }
        Ok(m)
    }

    fn make_literal(
        &mut self,
        lit: &Literal,
        holder: Value,
        ns: NamespaceId,
        home: Value,
        file: Value,
        holder_name: &str,
    ) -> Result<Value, InstallError> {
        Ok(match lit {
            Literal::Integer(i) => self.new_old_integer(&BigInt::from(*i))?,
            Literal::LargeInteger(text) => {
                let big: BigInt = text.parse().map_err(|_| InstallError(format!("bad integer literal {text}")))?;
                self.new_old_integer(&big)?
            }
            Literal::Double(d) => self.new_old_double(*d)?,
            Literal::String(s) => self.new_old_string(s)?,
            Literal::Symbol(s) => self.intern(s)?,
            Literal::Character(c) => Value::char(*c),
            Literal::Array(items) => {
                let a = self.alloc_old(self.known.array, Format::Array, items.len())?;
                for (i, item) in items.iter().enumerate() {
                    let v = self.make_literal(item, holder, ns, home, file, holder_name)?;
                    a.set_slot_raw(i, v);
                }
                a
            }
            Literal::Nil => self.nil(),
            Literal::True => self.known.true_,
            Literal::False => self.known.false_,
            Literal::Global(name) => {
                let sym = self.intern(name)?;
                self.binding_for_code(ns, sym)?
            }
            Literal::Block(code) => self.make_method(code, holder, ns, home, file, holder_name)?,
        })
    }

    /// The `(pc, line)` table of a method object.
    pub fn method_lines(&self, method: Value) -> Vec<(u32, u32)> {
        let lines = method.slot(METHOD_LINES);
        if lines == self.nil() {
            return Vec::new();
        }
        lines
            .bytes()
            .chunks_exact(8)
            .map(|c| (u32::from_le_bytes([c[0], c[1], c[2], c[3]]), u32::from_le_bytes([c[4], c[5], c[6], c[7]])))
            .collect()
    }

    /// The source line of `pc` in `method`.
    pub fn line_at(&self, method: Value, pc: usize) -> u32 {
        let mut line = method.slot(METHOD_LINE).int_value() as u32;
        for (p, l) in self.method_lines(method) {
            if p as usize > pc {
                break;
            }
            line = l;
        }
        line
    }
}

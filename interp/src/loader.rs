//! Loading classes from the class path: at start, by `system load:`, and
//! when the program reads an unbound global (class-path classes come before
//! the kernel's for the program's own code).

use std::path::Path;

use vm::compiler::compile_file;
use vm::layout::*;
use vm::universe::NamespaceId;
use vm::value::Value;

use crate::{Interpreter, Step};

impl Interpreter {
    /// Loads class `name` (a class name, or a path to a `.som` file) into the
    /// program namespace. `Ok(None)`: no such file on the class path.
    pub fn load_class(&mut self, name: &str) -> Result<Option<Value>, String> {
        let path = if name.ends_with(".som") || name.contains('/') {
            let p = Path::new(name);
            if !p.is_file() {
                return Err(format!("{name}: no such file"));
            }
            // The file's own directory ("." for a bare file name) is searched
            // after the class path.
            let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            self.add_class_path(dir.to_path_buf());
            p.to_path_buf()
        } else if vm::universe::is_vm_class_name(name) {
            return Ok(None);
        } else {
            match self.class_path.find_file(name, None) {
                Some(p) => p,
                None => return Ok(None),
            }
        };
        let class_name = path.file_stem().and_then(|s| s.to_str()).unwrap_or(name).to_string();
        if self.loading.contains(&class_name) {
            return Err(format!("class {class_name} is needed to load itself (cyclic superclasses)"));
        }
        self.loading.push(class_name.clone());
        let result = self.load_file(&path);
        self.loading.pop();
        result.map(Some)
    }

    fn load_file(&mut self, path: &Path) -> Result<Value, String> {
        let compiled = compile_file(path, &self.class_path).map_err(|e| e.to_string())?;
        // The superclass comes from the class path first (and is loaded if
        // it is not yet), then from the kernel.
        if let Some(sup) = &compiled.superclass {
            let sym = self.u.intern(sup).map_err(|e| e.to_string())?;
            if self.u.global_in(NamespaceId::PROGRAM, sym).is_none() && self.class_path.find_file(sup, None).is_some() {
                self.load_class(sup)?;
            }
        }
        self.class_path.forget(&compiled.name);
        let class =
            self.u.install_class(&compiled, NamespaceId::PROGRAM).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(class)
    }

    /// A global read found its binding unbound: for the program's code, load
    /// a class of that name from the class path; otherwise take the global
    /// as the method's namespace sees it (its imports', the kernel's), or
    /// send `unknownGlobal:` to `self`.
    pub(crate) fn unbound_global(&mut self, binding: Value) -> Step {
        let name = binding.slot(BINDING_KEY);
        let text = self.u.text_or_describe(name);
        let ns = self.u.namespace_of(self.method.slot(METHOD_HOLDER));
        let is_program = ns == NamespaceId::PROGRAM;
        if is_program && text.starts_with(|c: char| c.is_uppercase()) {
            match self.load_class(&text) {
                Ok(Some(class)) => {
                    self.push(class);
                    return Ok(());
                }
                Ok(None) => {}
                Err(message) => return self.raise(vm::primitives::ErrorKind::Error, message, 0),
            }
        }
        let value = binding.slot(BINDING_VALUE);
        if value != Value::UNBOUND {
            self.push(value);
            return Ok(());
        }
        if let Some(v) = self.u.global_from(ns, name) {
            if is_program {
                self.u.heap.store(binding, BINDING_VALUE, v);
            }
            self.push(v);
            return Ok(());
        }
        let receiver = self.frame(crate::frame::FRAME_SELF);
        self.push(receiver);
        self.push(name);
        let sel = self.intern("unknownGlobal:");
        self.send_uncached(sel, 1)
    }
}

//! Class layouts that change under live edits: the new slots of a class
//! whose fields change, re-laying out its subclasses, and what code of
//! theirs is running.

use super::*;

impl Interpreter {
    /// The slots of `class` after a definition that changes its fields
    /// (`compiled`, from `source`), and the class compiled for them: every
    /// slot it has keeps its place (a field the definition drops stays as
    /// a hidden slot, `<name>`, so that activations of the old methods
    /// still find their fields), new fields come after. Refused for
    /// classes with subclasses (they would have to be re-laid out too).
    pub(super) fn new_layout(
        &mut self,
        class: Value,
        compiled: &vm::bytecode::CompiledClass,
        source: &str,
    ) -> Result<(vm::bytecode::CompiledClass, Vec<String>), LiveFailure> {
        let name = compiled.name.clone();
        if self.u.namespace_of(class) == NamespaceId::KERNEL {
            return Err(failure(FailureKind::Refused, format!("{name} is a kernel class: its fields cannot change")));
        }
        if self.u.spec(class).format != Format::Fields {
            return Err(failure(
                FailureKind::Refused,
                format!("{name}: only classes of named fields can change their fields"),
            ));
        }
        let now = self.u.field_names(class);
        let inherited = compiled.inherited_fields.len();
        let mut layout: Vec<String> = now[..inherited.min(now.len())].to_vec();
        for f in &now[inherited.min(now.len())..] {
            let kept = f.starts_with('<') || compiled.fields.contains(f);
            layout.push(if kept { f.clone() } else { format!("<{f}>") });
        }
        for f in &compiled.fields {
            if !layout.contains(f) {
                layout.push(f.clone());
            }
        }
        let recompiled = self.compile_for_layout(compiled, source, &layout)?;
        Ok((recompiled, layout))
    }

    /// `compiled` (from `source`) compiled again with the instance slots
    /// `layout` (inherited ones first).
    pub(super) fn compile_for_layout(
        &mut self,
        compiled: &vm::bytecode::CompiledClass,
        source: &str,
        layout: &[String],
    ) -> Result<vm::bytecode::CompiledClass, LiveFailure> {
        let compile = |e: vm::compiler::CompileError| failure(FailureKind::Compile, e.to_string());
        let mut def = vm::compiler::parse_class("<live>", source).map_err(compile)?;
        let span = def.name.span;
        def.fields = layout[compiled.inherited_fields.len()..]
            .iter()
            .map(|n| vm::compiler::ast::Ident { name: n.clone(), span })
            .collect();
        let out = vm::compiler::compile_class_def("<live>", source, &def, None, &self.running()).map_err(compile)?;
        vm::bytecode::verify_class(&out).map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
        Ok(out)
    }

    /// The classes bound in some namespace whose superclass chain passes
    /// `class`, each after its superclass.
    pub(super) fn subclasses_of(&mut self, class: Value) -> Vec<Value> {
        let ids: Vec<NamespaceId> = self.u.namespaces().map(|(id, _)| id).collect();
        let nil = self.u.nil();
        let mut found: Vec<(usize, Value)> = Vec::new();
        for ns in ids {
            for (_, binding) in self.u.all_bindings(ns) {
                let v = binding.slot(BINDING_VALUE);
                if v == class || !self.u.is_class(v) || found.iter().any(|&(_, f)| f == v) {
                    continue;
                }
                let (mut c, mut depth) = (v.slot(CLASS_SUPERCLASS), 1);
                while c.is_pointer() && c != nil {
                    if c == class {
                        found.push((depth, v));
                        break;
                    }
                    c = c.slot(CLASS_SUPERCLASS);
                    depth += 1;
                }
            }
        }
        found.sort_by_key(|&(depth, _)| depth);
        found.into_iter().map(|(_, v)| v).collect()
    }

    /// The subclasses of `class` compiled again for its new slots `layout`
    /// (their own slots come after it, as before). Refused if one's source
    /// is not known, no longer matches it, or one of its methods is running
    /// or has a block kept: those would find their fields moved.
    pub(super) fn relay_subclasses(&mut self, class: Value, layout: &[String]) -> Result<Vec<Relaid>, LiveFailure> {
        let subs = self.subclasses_of(class);
        if subs.is_empty() {
            return Ok(Vec::new());
        }
        let refused = |m: String| failure(FailureKind::Refused, m);
        let mut shapes = self.u.class_shapes(NamespaceId::PROGRAM);
        let shape = |u: &vm::universe::Universe, c: Value, fields: Vec<String>| vm::compiler::ClassShape {
            superclass: {
                let s = c.slot(CLASS_SUPERCLASS);
                (s != u.nil()).then(|| u.class_name(s))
            },
            fields,
            class_fields: u.field_names(c.class_word()),
        };
        let base_name = self.u.class_name(class);
        shapes.insert(base_name.clone(), shape(&self.u, class, layout.to_vec()));
        let busy = self.code_in_use(&subs);
        let mut out = Vec::new();
        for sub in subs {
            let name = self.u.class_name(sub);
            if busy.contains(&sub) {
                return Err(refused(format!(
                    "{base_name}'s fields cannot change now: a method of its subclass {name} is running (or a block of one is kept), and its fields would move under it"
                )));
            }
            let (file, source) = self.class_source(sub).ok_or_else(|| {
                refused(format!(
                    "{base_name}'s fields cannot change: the source of its subclass {name} is not known, so it cannot be re-laid out"
                ))
            })?;
            let sup_name = self.u.class_name(sub.slot(CLASS_SUPERCLASS));
            let sup_fields = shapes.get(&sup_name).map(|s| s.fields.clone()).unwrap_or_default();
            let old_sup_len = self.u.field_names(sub.slot(CLASS_SUPERCLASS)).len();
            let own: Vec<String> = self.u.field_names(sub)[old_sup_len..].to_vec();
            let compile =
                |e: vm::compiler::CompileError| failure(FailureKind::Compile, format!("re-laying out {name}: {e}"));
            let mut def = vm::compiler::parse_class(&file, &source).map_err(compile)?;
            let declared: Vec<&str> = def.fields.iter().map(|f| f.name.as_str()).collect();
            let visible: Vec<&str> = own.iter().filter(|f| !f.starts_with('<')).map(String::as_str).collect();
            if declared != visible {
                return Err(refused(format!(
                    "{base_name}'s fields cannot change: the source of its subclass {name} declares the fields ({}), the running class has ({})",
                    declared.join(" "),
                    visible.join(" ")
                )));
            }
            let span = def.name.span;
            def.fields = own.iter().map(|n| vm::compiler::ast::Ident { name: n.clone(), span }).collect();
            let running = Running { shapes: shapes.clone(), path: &self.class_path };
            let compiled = vm::compiler::compile_class_def(&file, &source, &def, None, &running).map_err(compile)?;
            vm::bytecode::verify_class(&compiled).map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
            let mut sub_layout = sup_fields;
            sub_layout.extend(own);
            shapes.insert(name.clone(), shape(&self.u, sub, sub_layout.clone()));
            let client_methods = self.client_methods_of(sub);
            let pin = self.u.pin(sub);
            out.push(Relaid { class: pin, compiled, layout: sub_layout, client_methods });
        }
        Ok(out)
    }

    /// The source of `class` as a class file: the last one a client
    /// defined, the file its methods were compiled from, or, for a class
    /// without methods, one written from its fields.
    pub(super) fn class_source(&mut self, class: Value) -> Option<(String, String)> {
        let name = self.u.class_name(class);
        let logged = self.live.as_ref().and_then(|l| {
            l.log.iter().rev().find(|e| e.kind == SavedKind::Class && e.class == name).map(|e| e.source.clone())
        });
        if let Some(text) = logged {
            return Some(("<live>".into(), text));
        }
        let methods: Vec<Value> =
            self.u.methods_of(class).into_iter().chain(self.u.methods_of(class.class_word())).collect();
        for m in &methods {
            let file = self.u.text_or_describe(m.slot(METHOD_FILE));
            if let Ok(text) = std::fs::read_to_string(&file)
                && vm::compiler::parse_class(&file, &text).is_ok_and(|d| d.name.name == name)
            {
                return Some((file, text));
            }
        }
        if !methods.is_empty() {
            return None;
        }
        let sup = self.u.class_name(class.slot(CLASS_SUPERCLASS));
        let sup_len = self.u.field_names(class.slot(CLASS_SUPERCLASS)).len();
        let own: Vec<String> =
            self.u.field_names(class)[sup_len..].iter().filter(|f| !f.starts_with('<')).cloned().collect();
        let meta_sup_len = self.u.field_names(class.slot(CLASS_SUPERCLASS).class_word()).len();
        let class_own: Vec<String> = self.u.field_names(class.class_word())[meta_sup_len..].to_vec();
        Some(("<live>".into(), format!("{name} = {sup} ( | {} | ---- | {} | )", own.join(" "), class_own.join(" "))))
    }

    /// The sources of the methods clients defined in `class` (either side)
    /// that are still in place, in the order defined.
    pub(super) fn client_methods_of(&self, class: Value) -> Vec<(bool, String)> {
        let Some(live) = self.live.as_ref() else { return Vec::new() };
        let name = self.u.class_name(class);
        live.log
            .iter()
            .filter(|e| e.kind == SavedKind::Method && e.class == name)
            .filter(|e| {
                let target = if e.class_side { class.class_word() } else { class };
                e.installed.is_some_and(|p| {
                    let m = self.u.pinned(p);
                    self.u.local_method(target, m.slot(METHOD_SELECTOR)) == m
                })
            })
            .map(|e| (e.class_side, e.source.clone()))
            .collect()
    }

    /// Which of `classes` have code in use: an activation of one of their
    /// methods (or blocks) on any process's frames, or a block of one kept
    /// in the heap.
    pub(super) fn code_in_use(&mut self, classes: &[Value]) -> Vec<Value> {
        let _ = self.u.collect_full();
        let of = |v: Value| -> Option<Value> {
            (v.is_pointer() && v.format() == Format::Method)
                .then(|| v.slot(METHOD_HOLDER))
                .filter(|h| classes.contains(h))
        };
        let mut busy: Vec<Value> = Vec::new();
        // The running process's frames: any word naming such a method.
        for i in 0..self.u.sp {
            if let Some(c) = of(self.u.stack[i]) {
                busy.push(c);
            }
        }
        let process = self.kernel.process;
        let frames_at = crate::process::fields::FRAMES;
        self.u.heap.for_each_old_object(|o| {
            if o.format() == Format::Closure
                && let Some(c) = of(o.slot(CLOSURE_CODE))
            {
                busy.push(c);
            }
            if o.class_word() == process {
                let frames = o.slot(frames_at);
                if frames.is_pointer() && frames.format() == Format::Array {
                    for i in 0..frames.size() {
                        if let Some(c) = of(frames.slot(i)) {
                            busy.push(c);
                        }
                    }
                }
            }
        });
        busy
    }
}

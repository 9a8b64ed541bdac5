//! Definitions: methods and whole classes, compiled whole before anything
//! is installed; removing methods and classes; reverting edits.

use super::*;

impl Interpreter {
    /// The class a request names (in the program's namespace, then the
    /// kernel's), or its metaclass.
    pub(super) fn named_class(&mut self, name: &str, class_side: bool) -> Result<Value, LiveFailure> {
        let bare = name.strip_suffix(" class").unwrap_or(name);
        let class_side = class_side || bare.len() != name.len();
        let sym = self.u.intern(bare).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        let class = match self.u.global_from(NamespaceId::PROGRAM, sym) {
            Some(c) if self.u.is_class(c) => c,
            _ => match self.load_class(bare) {
                Ok(Some(c)) => c,
                Ok(None) => {
                    // A class of an image's namespace the program does not
                    // import.
                    let ids: Vec<NamespaceId> = self.u.namespaces().map(|(id, _)| id).collect();
                    let found = ids.into_iter().find_map(|ns| {
                        self.u.own_binding(ns, bare).map(|b| b.slot(BINDING_VALUE)).filter(|&c| self.u.is_class(c))
                    });
                    found.ok_or_else(|| failure(FailureKind::NotFound, format!("no class named {bare}")))?
                }
                Err(e) => return Err(failure(FailureKind::Compile, e)),
            },
        };
        Ok(if class_side { class.class_word() } else { class })
    }

    pub(super) fn define_method(
        &mut self,
        class_name: &str,
        class_side: bool,
        source: &str,
    ) -> Result<LiveAnswer, LiveFailure> {
        let class = self.named_class(class_name, class_side)?;
        self.define_method_on(class, source)
    }

    pub(super) fn define_method_on(&mut self, class: Value, source: &str) -> Result<LiveAnswer, LiveFailure> {
        let name = self.u.class_name(class);
        let fields = self.u.field_names(class);
        let file = format!("<live {name}>");
        let code = vm::compiler::compile_method_source(&file, source, &fields, Default::default())
            .map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
        vm::bytecode::verify_method(&code, fields.len() as u32)
            .map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
        let selector = code.selector().unwrap_or_default().to_string();
        if let Some(why) = self.u.edit_refusal(class, &selector) {
            return Err(failure(FailureKind::Refused, why));
        }
        let ns = self.u.namespace_of(class);
        let nil = self.u.nil();
        let err = |e: String| failure(FailureKind::Error, e);
        let file = self.u.new_old_string(&file).map_err(|e| err(e.to_string()))?;
        let method = self.u.make_method(&code, class, ns, nil, file, &name).map_err(|e| err(e.to_string()))?;
        let what = format!("defined {name}>>{selector}");
        self.record_undo(class, None, &name, &what);
        let before = self.discarded();
        self.u.add_method(class, method).map_err(|e| err(e.to_string()))?;
        self.log_edit(SavedKind::Method, class, &selector, source, Some(method));
        Ok(self.record_edit(what, vec![format!("{name}>>{selector}")], before))
    }

    pub(super) fn define_class(&mut self, source: &str) -> Result<LiveAnswer, LiveFailure> {
        let compile = |e: vm::compiler::CompileError| failure(FailureKind::Compile, e.to_string());
        // Compiled whole first: any error and nothing changed. The
        // superclass is the running one (loaded from the class path first
        // if it is not yet).
        let mut compiled =
            vm::compiler::compile_class_source("<live>", source, None, &self.running()).map_err(compile)?;
        if let Some(sup) = compiled.superclass.clone() {
            let sym = self.u.intern(&sup).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
            if self.u.global_from(NamespaceId::PROGRAM, sym).is_none() {
                self.load_class(&sup).map_err(|e| failure(FailureKind::Compile, e))?;
                compiled =
                    vm::compiler::compile_class_source("<live>", source, None, &self.running()).map_err(compile)?;
            }
        }
        vm::bytecode::verify_class(&compiled).map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
        let name = compiled.name.clone();
        let sym = self.u.intern(&name).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        let existing = match self.u.global_from(NamespaceId::PROGRAM, sym) {
            Some(c) if self.u.is_class(c) => Some(c),
            _ => self.load_class(&name).ok().flatten(),
        };
        let mut methods: Vec<String> = Vec::new();
        for (side, list) in [("", &compiled.methods), (" class", &compiled.class_methods)] {
            for code in list.iter() {
                methods.push(format!("{name}{side}>>{}", code.selector().unwrap_or_default()));
            }
        }
        let mut migrate: Option<Vec<String>> = None;
        let mut subclasses: Vec<Relaid> = Vec::new();
        let ns = match existing {
            Some(class) => {
                let ns = self.u.namespace_of(class);
                let superclass = class.slot(CLASS_SUPERCLASS);
                let same_super = match &compiled.superclass {
                    None => superclass == self.u.nil(),
                    Some(s) => self.u.is_class(superclass) && self.u.class_name(superclass) == *s,
                };
                if !same_super {
                    return Err(failure(
                        FailureKind::Refused,
                        format!("{name} cannot change its superclass while the program runs (not supported yet)"),
                    ));
                }
                let all_class_fields: Vec<String> =
                    compiled.inherited_class_fields.iter().chain(&compiled.class_fields).cloned().collect();
                if self.u.field_names(class.class_word()) != all_class_fields {
                    return Err(failure(
                        FailureKind::Refused,
                        format!(
                            "{name} cannot change its class-side fields while the program runs (not supported yet)"
                        ),
                    ));
                }
                let all_fields: Vec<String> =
                    compiled.inherited_fields.iter().chain(&compiled.fields).cloned().collect();
                let now = self.u.field_names(class);
                let visible: Vec<String> = now.iter().filter(|f| !f.starts_with('<')).cloned().collect();
                if visible != all_fields {
                    let layout = self.new_layout(class, &compiled, source)?;
                    compiled = layout.0;
                    if layout.1 != now {
                        subclasses = self.relay_subclasses(class, &layout.1)?;
                        migrate = Some(layout.1);
                    }
                } else if now != all_fields {
                    // Same fields, some slots kept hidden: compiled for the
                    // slots as they are.
                    compiled = self.compile_for_layout(&compiled, source, &now)?;
                }
                for (list, target) in [(&compiled.methods, class), (&compiled.class_methods, class.class_word())] {
                    for code in list.iter() {
                        if let Some(why) = code.selector().and_then(|s| self.u.edit_refusal(target, s)) {
                            return Err(failure(FailureKind::Refused, why));
                        }
                    }
                }
                let what = format!("defined class {name}");
                self.record_undo(class, None, &name, &what);
                let meta = class.class_word();
                self.record_undo(meta, None, &name, &what);
                for sub in &subclasses {
                    let (class, meta) = (self.u.pinned(sub.class), self.u.pinned(sub.class).class_word());
                    self.record_undo(class, None, &name, &what);
                    self.record_undo(meta, None, &name, &what);
                }
                ns
            }
            None => NamespaceId::PROGRAM,
        };
        let before = self.discarded();
        let mut migrated = 0;
        let internal = |e: String| failure(FailureKind::Error, e);
        if let (Some(class), Some(layout)) = (existing, &migrate) {
            migrated = self.u.migrate_instances(class, layout).map_err(|e| internal(e.to_string()))?;
            for sub in &subclasses {
                let c = self.u.pinned(sub.class);
                migrated += self.u.migrate_instances(c, &sub.layout).map_err(|e| internal(e.to_string()))?;
            }
        }
        let binding = self.u.binding(ns, sym).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        let old_value = binding.slot(BINDING_VALUE);
        let class = self.u.install_class(&compiled, ns).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        for sub in std::mem::take(&mut subclasses) {
            let c = self.u.pinned(sub.class);
            let sub_ns = self.u.namespace_of(c);
            self.u.unpin(sub.class);
            self.u.install_class(&sub.compiled, sub_ns).map_err(|e| internal(e.to_string()))?;
            // Methods clients defined in it since, compiled again for the
            // new layout.
            for (class_side, source) in sub.client_methods {
                let target = if class_side { c.class_word() } else { c };
                self.define_method_on(target, &source)?;
            }
            methods.push(format!("{} (re-laid out)", sub.compiled.name));
        }
        let what = match &migrate {
            Some(_) => format!("defined class {name} ({migrated} instances migrated)"),
            None => format!("defined class {name}"),
        };
        if existing.is_none() {
            self.record_undo(class, Some((binding, old_value)), &name, &what);
        }
        self.log_edit(SavedKind::Class, class, "", source, None);
        Ok(self.record_edit(what, methods, before))
    }

    pub(super) fn remove_live_method(
        &mut self,
        class_name: &str,
        class_side: bool,
        selector: &str,
    ) -> Result<LiveAnswer, LiveFailure> {
        let class = self.named_class(class_name, class_side)?;
        self.remove_method_on(class, selector)
    }

    pub(super) fn remove_method_on(&mut self, class: Value, selector: &str) -> Result<LiveAnswer, LiveFailure> {
        let name = self.u.class_name(class);
        if let Some(why) = self.u.edit_refusal(class, selector) {
            return Err(failure(FailureKind::Refused, why));
        }
        let sym = self.u.intern(selector).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        if self.u.local_method(class, sym) == self.u.nil() {
            return Err(failure(FailureKind::NotFound, format!("{name} has no method {selector}")));
        }
        let what = format!("removed {name}>>{selector}");
        self.record_undo(class, None, &name, &what);
        let before = self.discarded();
        self.u.remove_method(class, sym).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        self.log_edit(SavedKind::RemoveMethod, class, selector, "", None);
        Ok(self.record_edit(what, vec![format!("{name}>>{selector}")], before))
    }

    pub(super) fn remove_live_class(&mut self, class_name: &str) -> Result<LiveAnswer, LiveFailure> {
        let class = self.named_class(class_name, false)?;
        let ns = self.u.namespace_of(class);
        if ns == NamespaceId::KERNEL {
            return Err(failure(FailureKind::Refused, format!("{class_name} is a kernel class and cannot be removed")));
        }
        let sym = self.u.intern(class_name).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        let binding = self.u.binding(ns, sym).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        let what = format!("removed class {class_name}");
        self.record_undo(class, Some((binding, class)), class_name, &what);
        let before = self.discarded();
        self.log_edit(SavedKind::RemoveClass, class, "", "", None);
        let nil = self.u.nil();
        self.u.heap.store(binding, BINDING_VALUE, nil);
        // Sends cached for its instances stay right; the globals that named
        // it are read again.
        self.u.invalidate_caches();
        Ok(self.record_edit(what, Vec::new(), before))
    }

    pub(super) fn revert(&mut self, class: Option<&str>) -> Result<LiveAnswer, LiveFailure> {
        let live = self.live.as_mut().expect("live requests are enabled");
        let picked: Vec<Undo> = match class {
            None => {
                let Some(last) = live.undo.last() else {
                    return Err(failure(FailureKind::NotFound, "there is no edit to revert"));
                };
                // The last edit may have recorded the class and its
                // metaclass: take every record with its description.
                let what = last.what.clone();
                let name = last.class_name.clone();
                let mut out = Vec::new();
                while live.undo.last().is_some_and(|u| u.what == what && u.class_name == name) {
                    out.push(live.undo.pop().expect("checked"));
                }
                out
            }
            Some(name) => {
                let bare = name.strip_suffix(" class").unwrap_or(name);
                let (mine, rest): (Vec<Undo>, Vec<Undo>) =
                    std::mem::take(&mut live.undo).into_iter().partition(|u| u.class_name == bare);
                live.undo = rest;
                if mine.is_empty() {
                    return Err(failure(FailureKind::NotFound, format!("no edit of {bare} to revert")));
                }
                mine.into_iter().rev().collect()
            }
        };
        let what = match class {
            Some(c) => format!("reverted the edits of {c}"),
            None => format!("reverted: {}", picked[0].what),
        };
        let before = self.discarded();
        let mut result = Ok(());
        for undo in picked {
            let class = self.u.pinned(undo.class);
            let list = self.u.pinned(undo.methods);
            let methods: Vec<Value> =
                if list == self.u.nil() { Vec::new() } else { (0..list.size()).map(|i| list.slot(i)).collect() };
            if result.is_ok() {
                result = self.u.set_methods(class, &methods).map_err(|e| e.to_string());
            }
            if let Some((b, v)) = undo.binding {
                let (binding, value) = (self.u.pinned(b), self.u.pinned(v));
                self.u.heap.store(binding, BINDING_VALUE, value);
                self.u.unpin(b);
                self.u.unpin(v);
            }
            self.u.unpin(undo.class);
            self.u.unpin(undo.methods);
        }
        self.u.invalidate_caches();
        result.map_err(|e| failure(FailureKind::Error, e))?;
        Ok(self.record_edit(what, Vec::new(), before))
    }

    pub(super) fn record_undo(&mut self, class: Value, binding: Option<(Value, Value)>, class_name: &str, what: &str) {
        let list = class.slot(CLASS_METHOD_LIST);
        let class = self.u.pin(class);
        let methods = self.u.pin(list);
        let binding = binding.map(|(b, v)| (self.u.pin(b), self.u.pin(v)));
        let undo = Undo { class, methods, binding, class_name: class_name.into(), what: what.into() };
        match self.live.as_mut() {
            Some(live) => live.undo.push(undo),
            None => {
                // Edits applied with no live session (mica --load) are not
                // undone.
                self.u.unpin(undo.class);
                self.u.unpin(undo.methods);
                if let Some((b, v)) = undo.binding {
                    self.u.unpin(b);
                    self.u.unpin(v);
                }
            }
        }
    }

    /// Native code thrown away so far because a method dictionary changed.
    pub(super) fn discarded(&self) -> u64 {
        self.u.deoptimizations.get(vm::deopt::DeoptReason::MethodsChanged)
    }

    pub(super) fn record_edit(&mut self, what: String, methods: Vec<String>, before: u64) -> LiveAnswer {
        let record = EditRecord { what, methods, invalidated: self.discarded() - before };
        match self.live.as_mut() {
            Some(live) => live.edits.push(record.clone()),
            None => self.past_edits.push(record.clone()),
        }
        LiveAnswer::Edited(record)
    }
}

//! Saving the session's edits as a mini-image and applying such a file at
//! the next start.

use super::*;

impl Interpreter {
    pub(super) fn log_edit(
        &mut self,
        kind: SavedKind,
        class: Value,
        selector: &str,
        source: &str,
        installed: Option<Value>,
    ) {
        if self.live.is_none() {
            return;
        }
        let meta = !kind.of_class() && self.u.class_of(class) == self.u.known.metaclass;
        let base = if meta { class.slot(CLASS_COMPANION) } else { class };
        let namespace = self.u.namespace(self.u.namespace_of(base)).name.clone();
        let installed = installed.map(|m| self.u.pin(m));
        let logged = Logged {
            kind,
            namespace,
            class: self.u.class_name(base),
            class_side: meta,
            selector: selector.into(),
            source: source.into(),
            installed,
        };
        self.live_mut().log.push(logged);
    }

    /// The class `name` of namespace `namespace` (the program's are loaded
    /// from the class path if need be), or its metaclass.
    pub(super) fn class_in(&mut self, namespace: &str, name: &str, class_side: bool) -> Result<Value, String> {
        let ns =
            self.u.namespaces().find(|(_, n)| n.name == namespace).map(|(id, _)| id).ok_or_else(|| {
                format!("it changes {name} of namespace {namespace}, which this program does not have")
            })?;
        let mut class = self.u.own_binding(ns, name).map(|b| b.slot(BINDING_VALUE)).filter(|&c| self.u.is_class(c));
        if class.is_none() && ns == NamespaceId::PROGRAM {
            class = self.load_class(name)?;
        }
        let class = class.ok_or_else(|| format!("it changes class {name}, which {namespace} does not define"))?;
        Ok(if class_side { class.class_word() } else { class })
    }

    /// The edits `save` writes: of each method (and class) edited, the
    /// last edit whose effect is still there (a reverted edit is not).
    pub(super) fn net_edits(&mut self) -> Vec<Logged> {
        let log = self.live.as_ref().map(|l| l.log.clone()).unwrap_or_default();
        let nil = self.u.nil();
        let key =
            |l: &Logged| (l.kind.of_class(), l.namespace.clone(), l.class.clone(), l.class_side, l.selector.clone());
        let mut keys: Vec<_> = Vec::new();
        for l in &log {
            if !keys.contains(&key(l)) {
                keys.push(key(l));
            }
        }
        let mut out: Vec<(usize, Logged)> = Vec::new();
        for k in keys {
            for (i, l) in log.iter().enumerate().rev().filter(|(_, l)| key(l) == k) {
                let Ok(class) = self.class_in(&l.namespace, &l.class, l.class_side) else {
                    if l.kind == SavedKind::RemoveClass {
                        out.push((i, l.clone()));
                    }
                    break;
                };
                let holds = match l.kind {
                    SavedKind::Method | SavedKind::RemoveMethod => {
                        let Ok(sel) = self.u.intern(&l.selector) else { break };
                        let now = self.u.local_method(class, sel);
                        match l.installed {
                            Some(pin) => now == self.u.pinned(pin),
                            None => now == nil,
                        }
                    }
                    SavedKind::Class => true,
                    SavedKind::RemoveClass => false,
                };
                if holds {
                    out.push((i, l.clone()));
                    break;
                }
                if l.kind.of_class() {
                    break;
                }
            }
        }
        // Classes first, then the methods, each group in the order made.
        out.sort_by_key(|(i, l)| (!l.kind.of_class(), *i));
        out.into_iter().map(|(_, l)| l).collect()
    }

    pub(super) fn save_edits(&mut self, path: &str) -> Result<LiveAnswer, LiveFailure> {
        let edits = self.net_edits();
        let err = |e: String| failure(FailureKind::Error, e);
        let mut rows: Vec<[String; 5]> = Vec::new();
        let mut flags: Vec<bool> = Vec::new();
        let mut shapes: Vec<Vec<String>> = Vec::new();
        for e in &edits {
            let fields = match self.class_in(&e.namespace, &e.class, e.class_side) {
                Ok(c) => self.u.field_names(c),
                Err(_) => Vec::new(),
            };
            rows.push([
                e.kind.name().into(),
                e.namespace.clone(),
                e.class.clone(),
                e.selector.clone(),
                e.source.clone(),
            ]);
            flags.push(e.class_side);
            shapes.push(fields);
        }
        let mark = self.u.handle_mark();
        let result = (|| {
            let table = self.u.new_array(rows.len()).map_err(|e| err(e.to_string()))?;
            let ht = self.u.handle(table);
            for (i, row) in rows.iter().enumerate() {
                let entry = self.u.new_array(7).map_err(|e| err(e.to_string()))?;
                let he = self.u.handle(entry);
                for (j, text) in row.iter().enumerate() {
                    let s = self.u.new_string(text).map_err(|e| err(e.to_string()))?;
                    let entry = self.u.get(he);
                    self.u.heap.store(entry, [0, 1, 2, 4, 5][j], s);
                }
                let flag = self.u.boolean(flags[i]);
                let entry = self.u.get(he);
                self.u.heap.store(entry, 3, flag);
                let fields = self.u.new_array(shapes[i].len()).map_err(|e| err(e.to_string()))?;
                let hf = self.u.handle(fields);
                for (j, f) in shapes[i].iter().enumerate() {
                    let s = self.u.new_string(f).map_err(|e| err(e.to_string()))?;
                    let fields = self.u.get(hf);
                    self.u.heap.store(fields, j, s);
                }
                let (entry, fields, table) = (self.u.get(he), self.u.get(hf), self.u.get(ht));
                self.u.heap.store(entry, 6, fields);
                self.u.heap.store(table, i, entry);
            }
            let root = self.u.new_array(3).map_err(|e| err(e.to_string()))?;
            let hr = self.u.handle(root);
            let tag = self.u.new_string(EDITS_NAMESPACE).map_err(|e| err(e.to_string()))?;
            let (root, table) = (self.u.get(hr), self.u.get(ht));
            self.u.heap.store(root, 0, tag);
            self.u.heap.store(root, 1, Value::small(EDITS_FORMAT));
            self.u.heap.store(root, 2, table);
            let root = self.u.get(hr);
            vm::image::graph::save_as(
                &mut self.u,
                EDITS_NAMESPACE,
                root,
                false,
                std::path::Path::new(path),
                vm::image::graph::Sharing::Copy,
            )
            .map_err(|e| err(e.to_string()))
        })();
        self.u.release_handles(mark);
        result?;
        Ok(LiveAnswer::Saved { path: path.into(), edits: edits.len() })
    }

    /// Applies a file of edits saved by a live session (`mica --load`,
    /// `mica run app.mimg edits.mimg`): each method and class as it was
    /// saved, compiled again here. Refused whole, before anything changes,
    /// if a class it edits has other fields than when it was saved.
    pub fn apply_edits(&mut self, prepared: vm::image::loader::Prepared) -> Result<usize, String> {
        let file = prepared.name.clone();
        let what = "a file of live edits (mica connect PID --save FILE makes one)";
        let root =
            vm::image::graph::load_as(&mut self.u, EDITS_NAMESPACE, what, prepared, &[]).map_err(|e| e.to_string())?;
        let bad = || format!("{file}: not {what}: its contents are not laid out as one");
        let text = |u: &vm::universe::Universe, v: Value| u.string_value(v).ok_or_else(bad);
        if !(root.is_pointer() && root.format() == Format::Array && root.size() == 3) {
            return Err(bad());
        }
        if text(&self.u, root.slot(0))? != EDITS_NAMESPACE {
            return Err(bad());
        }
        if root.slot(1) != Value::small(EDITS_FORMAT) {
            return Err(format!(
                "{file}: its edits are in format {:?}, and this Mica reads format {EDITS_FORMAT}",
                root.slot(1)
            ));
        }
        let table = root.slot(2);
        if !(table.is_pointer() && table.format() == Format::Array) {
            return Err(bad());
        }
        let mut entries = Vec::new();
        for i in 0..table.size() {
            let e = table.slot(i);
            if !(e.is_pointer() && e.format() == Format::Array && e.size() == 7) {
                return Err(bad());
            }
            let kind = text(&self.u, e.slot(0))?;
            let kind = SavedKind::NAMES.iter().find(|(n, _)| *n == kind).map(|(_, k)| *k).ok_or_else(bad)?;
            let fields = e.slot(6);
            if !(fields.is_pointer() && fields.format() == Format::Array) {
                return Err(bad());
            }
            let fields: Vec<String> =
                (0..fields.size()).map(|j| text(&self.u, fields.slot(j))).collect::<Result<_, _>>()?;
            let class_side = e.slot(3) == self.u.known.true_;
            let logged = Logged {
                kind,
                namespace: text(&self.u, e.slot(1))?,
                class: text(&self.u, e.slot(2))?,
                class_side,
                selector: text(&self.u, e.slot(4))?,
                source: text(&self.u, e.slot(5))?,
                installed: None,
            };
            entries.push((logged, fields));
        }
        // Every class it changes must have the fields it was saved with.
        for (e, fields) in &entries {
            if e.kind == SavedKind::Method
                && let Ok(class) = self.class_in(&e.namespace, &e.class, e.class_side)
                && self.u.field_names(class) != *fields
            {
                let side = if e.class_side { " class" } else { "" };
                return Err(format!(
                    "{file}: {}{side}>>{} was saved against {}{side} with the fields ({}), but here it has ({}): the edits do not fit this version of the class",
                    e.class,
                    e.selector,
                    e.class,
                    fields.join(" "),
                    self.u.field_names(class).join(" ")
                ));
            }
        }
        let n = entries.len();
        for (e, _) in entries {
            let side = if e.class_side { " class" } else { "" };
            let done = match e.kind {
                SavedKind::Class => self.define_class(&e.source).map(|_| ()),
                SavedKind::Method => self
                    .class_in(&e.namespace, &e.class, e.class_side)
                    .map_err(|m| failure(FailureKind::NotFound, m))
                    .and_then(|class| self.define_method_on(class, &e.source).map(|_| ())),
                SavedKind::RemoveMethod => self
                    .class_in(&e.namespace, &e.class, e.class_side)
                    .map_err(|m| failure(FailureKind::NotFound, m))
                    .and_then(|class| match self.remove_method_on(class, &e.selector) {
                        Err(f) if f.kind == FailureKind::NotFound => Ok(()),
                        other => other.map(|_| ()),
                    }),
                SavedKind::RemoveClass => match self.remove_live_class(&e.class) {
                    Err(f) if f.kind == FailureKind::NotFound => Ok(()),
                    other => other.map(|_| ()),
                },
            };
            done.map_err(|f| format!("{file}: {} of {}{side}: {}", e.kind.name(), e.class, f.message))?;
        }
        Ok(n)
    }
}

//! Browsing: namespaces, classes, a class's definition, implementors,
//! senders and a method's source.

use super::*;

impl Interpreter {
    /// Every class bound in a namespace (each once: the first namespace
    /// binding it), with that namespace.
    pub(super) fn all_classes(&mut self) -> Vec<(NamespaceId, String, Value)> {
        let ids: Vec<NamespaceId> = self.u.namespaces().map(|(id, _)| id).collect();
        let mut out: Vec<(NamespaceId, String, Value)> = Vec::new();
        for ns in ids {
            for (name, binding) in self.u.all_bindings(ns) {
                let v = binding.slot(BINDING_VALUE);
                if self.u.shape_of(v).is_some() && self.u.namespace_of(v) == ns && !out.iter().any(|(_, _, c)| *c == v)
                {
                    out.push((ns, name, v));
                }
            }
        }
        out
    }

    pub(super) fn list_namespaces(&mut self) -> LiveAnswer {
        let classes = self.all_classes();
        let items = self
            .u
            .namespaces()
            .map(|(id, n)| {
                let count = classes.iter().filter(|(ns, _, _)| *ns == id).count();
                ListItem { name: n.name.clone(), detail: format!("{} ({count} classes)", n.version) }
            })
            .collect();
        LiveAnswer::List { of: "namespaces", items }
    }

    pub(super) fn list_classes(&mut self, namespace: Option<&str>) -> Result<LiveAnswer, LiveFailure> {
        let wanted = match namespace {
            None => None,
            Some(name) => Some(
                self.u
                    .namespaces()
                    .find(|(_, n)| n.name == name)
                    .map(|(id, _)| id)
                    .ok_or_else(|| failure(FailureKind::NotFound, format!("no namespace named {name}")))?,
            ),
        };
        let nil = self.u.nil();
        let mut items: Vec<ListItem> = self
            .all_classes()
            .into_iter()
            .filter(|(ns, _, _)| wanted.is_none_or(|w| w == *ns))
            .map(|(ns, name, class)| {
                let sup = class.slot(CLASS_SUPERCLASS);
                let sup = if sup == nil { "nil".to_string() } else { self.u.class_name(sup) };
                ListItem { name, detail: format!("{sup} subclass, in {}", self.u.namespace(ns).name) }
            })
            .collect();
        items.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(LiveAnswer::List { of: "classes", items })
    }

    pub(super) fn describe_class(&mut self, name: &str) -> Result<LiveAnswer, LiveFailure> {
        let class = self.named_class(name, false)?;
        let nil = self.u.nil();
        let sup = class.slot(CLASS_SUPERCLASS);
        let own = |u: &vm::universe::Universe, c: Value, s: Value| -> Vec<String> {
            let inherited = if s == nil || !u.is_class(s) { 0 } else { u.field_names(s).len() };
            u.field_names(c).into_iter().skip(inherited).filter(|f| !f.starts_with('<')).collect()
        };
        let selectors = |u: &vm::universe::Universe, c: Value| -> Vec<String> {
            u.methods_of(c).iter().map(|m| u.text_or_describe(m.slot(METHOD_SELECTOR))).collect()
        };
        let meta_sup = if sup == nil { self.u.known.class } else { sup.class_word() };
        let subclasses = self
            .all_classes()
            .into_iter()
            .filter(|(_, _, c)| c.slot(CLASS_SUPERCLASS) == class)
            .map(|(_, n, _)| n)
            .collect();
        Ok(LiveAnswer::Class(ClassDescription {
            name: self.u.class_name(class),
            superclass: if sup == nil { String::new() } else { self.u.class_name(sup) },
            namespace: self.u.namespace(self.u.namespace_of(class)).name.clone(),
            fields: own(&self.u, class, sup),
            class_fields: own(&self.u, class.class_word(), meta_sup),
            methods: selectors(&self.u, class),
            class_methods: selectors(&self.u, class.class_word()),
            subclasses,
        }))
    }

    /// `Class>>selector` and where, for a listing.
    pub(super) fn method_item(&self, method: Value) -> ListItem {
        let holder = self.u.class_name(method.slot(METHOD_HOLDER));
        let selector = self.u.text_or_describe(method.slot(METHOD_SELECTOR));
        let file = self.u.text_or_describe(method.slot(METHOD_FILE));
        let line = method.slot(METHOD_LINE).as_int().unwrap_or(0);
        ListItem { name: format!("{holder}>>{selector}"), detail: format!("{file}:{line}") }
    }

    /// Every method of every class, both sides.
    pub(super) fn all_methods(&mut self) -> Vec<Value> {
        let classes = self.all_classes();
        classes
            .iter()
            .flat_map(|(_, _, c)| self.u.methods_of(*c).into_iter().chain(self.u.methods_of(c.class_word())))
            .collect()
    }

    pub(super) fn implementors(&mut self, selector: &str) -> LiveAnswer {
        let methods = self.all_methods();
        let mut items: Vec<ListItem> = methods
            .into_iter()
            .filter(|m| self.u.string_value(m.slot(METHOD_SELECTOR)).is_some_and(|s| s == selector))
            .map(|m| self.method_item(m))
            .collect();
        items.sort_by(|a, b| a.name.cmp(&b.name));
        LiveAnswer::List { of: "implementors", items }
    }

    /// The methods whose code sends `selector`: it is among their literals
    /// (or their blocks'), or a special-selector bytecode sends it. Sends
    /// the compiler inlines (`ifTrue:` with literal blocks) are not sends.
    pub(super) fn senders(&mut self, selector: &str) -> LiveAnswer {
        let special = vm::bytecode::Opcode::for_special_selector(selector);
        let methods = self.all_methods();
        let mut items: Vec<ListItem> = Vec::new();
        for m in methods {
            if self.sends(m, selector, special, 0) {
                items.push(self.method_item(m));
            }
        }
        items.sort_by(|a, b| a.name.cmp(&b.name));
        LiveAnswer::List { of: "senders", items }
    }

    pub(super) fn sends(
        &self,
        code: Value,
        selector: &str,
        special: Option<vm::bytecode::Opcode>,
        depth: usize,
    ) -> bool {
        let literals = code.slot(METHOD_LITERALS);
        if literals.is_pointer() && literals.format() == Format::Array {
            for i in 0..literals.size() {
                let l = literals.slot(i);
                if !l.is_pointer() {
                    continue;
                }
                if l.format() == Format::Method && depth < 64 && self.sends(l, selector, special, depth + 1) {
                    return true;
                }
                if self.u.is_symbol(l) && self.u.string_value(l).is_some_and(|s| s == selector) {
                    return true;
                }
            }
        }
        if let Some(op) = special {
            let bytes = code.slot(METHOD_BYTECODE);
            if bytes.is_pointer() && matches!(bytes.format(), Format::Bytes | Format::ByteArray) {
                let code = bytes.bytes();
                let mut pc = 0;
                while let Ok(d) = vm::bytecode::decode(code, pc) {
                    if d.insn.opcode() == op {
                        return true;
                    }
                    pc += d.len;
                }
            }
        }
        false
    }

    pub(super) fn method_source(
        &mut self,
        class_name: &str,
        class_side: bool,
        selector: &str,
    ) -> Result<LiveAnswer, LiveFailure> {
        let class = self.named_class(class_name, class_side)?;
        let sym = self.u.intern(selector).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        let method = self.u.lookup(class, sym);
        let shown = self.u.class_name(class);
        if method == self.u.nil() {
            return Err(failure(FailureKind::NotFound, format!("{shown} has no method {selector}")));
        }
        let holder = method.slot(METHOD_HOLDER);
        let holder_name = self.u.class_name(holder);
        let file = self.u.text_or_describe(method.slot(METHOD_FILE));
        let line = method.slot(METHOD_LINE).as_int().unwrap_or(0) as u32;
        let meta = self.u.class_of(holder) == self.u.known.metaclass;
        // Defined by a client: the source it sent.
        let logged = self.live.as_ref().and_then(|l| {
            l.log.iter().rev().find_map(|e| match e.kind {
                SavedKind::Method if e.installed.is_some_and(|p| self.u.pinned(p) == method) => Some(e.source.clone()),
                _ => None,
            })
        });
        let text = match logged {
            Some(text) => Some(text),
            None => {
                // From a class file: the file read again, or the source of
                // a class a client defined.
                let kernel = file.strip_prefix("kernel/").and_then(|f| f.strip_suffix(".som")).and_then(|name| {
                    vm::universe::KERNEL_SOURCES.iter().find(|(n, _)| *n == name).map(|(_, t)| t.to_string())
                });
                let class_text = kernel.or_else(|| std::fs::read_to_string(&file).ok()).or_else(|| {
                    let bare = holder_name.strip_suffix(" class").unwrap_or(&holder_name).to_string();
                    self.live.as_ref().and_then(|l| {
                        l.log
                            .iter()
                            .rev()
                            .find(|e| e.kind == SavedKind::Class && e.class == bare)
                            .map(|e| e.source.clone())
                    })
                });
                class_text.and_then(|t| method_text(&t, meta, selector))
            }
        };
        match text {
            Some(text) => Ok(LiveAnswer::Source { text, holder: holder_name, file, line }),
            None => Err(failure(
                FailureKind::NotFound,
                format!("no source is kept for {holder_name}>>{selector} (compiled from {file})"),
            )),
        }
    }
}

/// The text of method `selector` (class side if `meta`) in the class file
/// `source`: from its first token to its closing parenthesis.
fn method_text(source: &str, meta: bool, selector: &str) -> Option<String> {
    let def = vm::compiler::parse_class("<source>", source).ok()?;
    let list = if meta { &def.class_methods } else { &def.methods };
    let m = list.iter().find(|m| m.selector == selector)?;
    let mut at = 0;
    for (i, l) in source.split_inclusive('\n').enumerate() {
        if i + 1 == m.span.line as usize {
            at += l.char_indices().nth(m.span.col.saturating_sub(1) as usize).map_or(l.len(), |(b, _)| b);
            break;
        }
        at += l.len();
    }
    let text = &source[at..];
    // The body: the first `=` followed by `(` or `primitive`.
    let bytes = text.as_bytes();
    let mut i = 0;
    let open = loop {
        let eq = i + text[i..].find('=')?;
        let rest = text[eq + 1..].trim_start();
        let skipped = text.len() - rest.len();
        if rest.starts_with("primitive") {
            return Some(text[..skipped + "primitive".len()].to_string());
        }
        if rest.starts_with('(') && bytes.get(eq + 1) != Some(&b'=') {
            break skipped;
        }
        i = eq + 1;
    };
    // Its closing parenthesis, past strings, comments and characters.
    let mut depth = 0;
    let mut chars = text[open..].char_indices().peekable();
    while let Some((k, c)) = chars.next() {
        match c {
            '\'' => {
                while let Some((_, d)) = chars.next() {
                    if d == '\'' && chars.peek().is_none_or(|&(_, e)| e != '\'') {
                        break;
                    }
                    if d == '\'' {
                        chars.next();
                    }
                }
            }
            '"' => {
                for (_, d) in chars.by_ref() {
                    if d == '"' {
                        break;
                    }
                }
            }
            '$' => {
                chars.next();
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(text[..open + k + 1].to_string());
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::method_text;

    #[test]
    fn method_text_is_cut_from_the_class_file() {
        let source = "Foo = (\n    | a |\n    \"one\"\n    one = ( ^1 )\n    \"two, with ) in it\"\n    two: x = (\n        ^x + (a ifNil: [ 0 ])\n    )\n    prim = primitive\n    ----\n    make = ( ^self new )\n)\n";
        assert_eq!(method_text(source, false, "one").as_deref(), Some("one = ( ^1 )"));
        assert_eq!(
            method_text(source, false, "two:").as_deref(),
            Some("two: x = (\n        ^x + (a ifNil: [ 0 ])\n    )")
        );
        assert_eq!(method_text(source, false, "prim").as_deref(), Some("prim = primitive"));
        assert_eq!(method_text(source, true, "make").as_deref(), Some("make = ( ^self new )"));
        assert_eq!(method_text(source, false, "make"), None);
        let one_line =
            "C = ( | n | bump = ( n := n + 1 ) = other = ( ^'=(' = other ) ---- | made | new = ( ^super new ) )";
        assert_eq!(method_text(one_line, false, "bump").as_deref(), Some("bump = ( n := n + 1 )"));
        assert_eq!(method_text(one_line, false, "=").as_deref(), Some("= other = ( ^'=(' = other )"));
        assert_eq!(method_text(one_line, true, "new").as_deref(), Some("new = ( ^super new )"));
    }
}

//! Handles and inspection: every value a client is shown (an evaluation's
//! result, an object's fields and elements) gets a handle, a number that
//! keeps the object alive (a pinned root, so it survives and follows every
//! collection) until the client releases it or leaves. `inspect` shows an
//! object's class, named fields and a page of its indexed elements, each
//! with its printString — computed by a process of the client's, like an
//! evaluation, so a slow or failing printString hurts no one else; `set`
//! stores the value of an expression into a field or element.

use super::*;

impl Interpreter {
    /// A new handle of `client` for `v`.
    pub(super) fn hold(&mut self, client: u64, v: Value) -> u64 {
        let pin = self.u.pin(v);
        let live = self.live_mut();
        live.next_handle += 1;
        let handle = live.next_handle;
        live.handles.insert(handle, Held { client, pin });
        handle
    }

    /// The object of `client`'s handle.
    pub(super) fn held(&self, client: u64, handle: u64) -> Result<Value, LiveFailure> {
        match self.live.as_ref().and_then(|l| l.handles.get(&handle)) {
            Some(h) if h.client == client => Ok(self.u.pinned(h.pin)),
            _ => Err(failure(FailureKind::NotFound, format!("no handle {handle} (never given, or released)"))),
        }
    }

    /// Forgets `handles` of `client` (all of them if None); answers how
    /// many it had.
    pub(super) fn release(&mut self, client: u64, handles: Option<&[u64]>) -> usize {
        let Some(live) = self.live.as_mut() else { return 0 };
        let gone: Vec<u64> = live
            .handles
            .iter()
            .filter(|(h, held)| held.client == client && handles.is_none_or(|list| list.contains(h)))
            .map(|(&h, _)| h)
            .collect();
        for h in &gone {
            if let Some(held) = live.handles.remove(h) {
                self.u.unpin(held.pin);
            }
        }
        gone.len()
    }

    /// `v` as `client` is shown it: its printString (`print`, whole: an
    /// evaluation's value), class and a new handle.
    pub(super) fn show(&mut self, client: u64, v: Value, print: String) -> Shown {
        let class = self.u.class_name(self.u.class_of(v));
        Shown { print, class, handle: self.hold(client, v) }
    }

    /// The named fields of `obj` (names, slot indices) and its indexed
    /// elements (first slot, count) as inspection shows them.
    fn layout_of(&self, obj: Value) -> (Vec<String>, usize, usize) {
        if !obj.is_pointer() {
            return (Vec::new(), 0, 0);
        }
        let named = |n: Vec<String>| n.into_iter().take(obj.size()).collect::<Vec<_>>();
        match obj.format() {
            Format::Fields | Format::Class => (named(self.u.field_names(self.u.class_of(obj))), 0, 0),
            Format::Array => {
                let fields = named(self.u.field_names(self.u.class_of(obj)));
                let first = fields.len();
                (fields, first, obj.size() - first)
            }
            Format::Context => (Vec::new(), 0, obj.size()),
            _ => (Vec::new(), 0, 0),
        }
    }

    /// Starts printing the object of `handle`, its fields and elements
    /// `offset..offset + count` for `client`.
    pub(super) fn start_inspect(
        &mut self,
        request: (u64, u64, &Sender<LiveReply>),
        handle: u64,
        offset: usize,
        count: usize,
    ) -> Result<(), LiveFailure> {
        let (id, client, reply) = request;
        let obj = self.held(client, handle)?;
        let (fields, first, size) = self.layout_of(obj);
        let shown = offset.min(size)..(offset.saturating_add(count)).min(size);
        let mut values: Vec<Value> = (0..fields.len()).map(|i| obj.slot(i)).collect();
        values.extend(shown.clone().map(|i| obj.slot(first + i)));
        let mut handles = vec![handle];
        handles.extend(values.iter().map(|&v| self.hold(client, v)));
        let then = Then::Inspect { handles, fields, size, elements: shown.map(|i| i + 1).collect() };
        self.start_printing(id, client, reply.clone(), then)
    }

    /// The slot `name` of `obj` names, if `set` may store into it.
    fn settable_slot(&self, obj: Value, name: &SlotName) -> Result<usize, LiveFailure> {
        let refused = |m: String| Err(failure(FailureKind::Refused, m));
        let class = self.u.class_of(obj);
        let class_name = self.u.class_name(class);
        if !obj.is_pointer() || !matches!(obj.format(), Format::Fields | Format::Array) {
            return refused(format!("a {class_name} has no fields or elements to set"));
        }
        if class == self.kernel.process || class_name == "Semaphore" {
            return refused(format!(
                "the scheduler owns the fields of a {class_name}; use suspend, resume or terminate"
            ));
        }
        let (fields, first, size) = self.layout_of(obj);
        match name {
            SlotName::Field(f) => match fields.iter().position(|n| n == f) {
                Some(i) => Ok(i),
                None => Err(failure(
                    FailureKind::NotFound,
                    format!("a {class_name} has no field {f} (its fields: {})", fields.join(" ")),
                )),
            },
            SlotName::Index(i) if (1..=size).contains(i) => Ok(first + i - 1),
            SlotName::Index(i) => Err(failure(FailureKind::NotFound, format!("index {i} is out of 1 to {size}"))),
        }
    }

    /// Starts evaluating `source` for `client`, to store its value into
    /// `slot` of the object of `handle`.
    pub(super) fn start_set(
        &mut self,
        request: (u64, u64, &Sender<LiveReply>),
        handle: u64,
        slot: &SlotName,
        source: &str,
    ) -> Result<(), LiveFailure> {
        let (id, client, reply) = request;
        let obj = self.held(client, handle)?;
        let index = self.settable_slot(obj, slot)?;
        self.start_eval_then(id, client, source, reply.clone(), Then::Store { target: handle, index })
    }

    /// Stores `v` into slot `index` of the object of `client`'s `target`.
    pub(super) fn store_slot(&mut self, client: u64, target: u64, index: usize, v: Value) -> Result<(), LiveFailure> {
        let obj = self.held(client, target)?;
        if index >= obj.size() {
            return Err(failure(FailureKind::Refused, "the object changed shape meanwhile"));
        }
        self.u.heap.store(obj, index, v);
        Ok(())
    }

    /// The inspection `then` describes, from the printStrings of its
    /// values (`prints`, in order).
    pub(super) fn inspection(&self, then: Then, prints: Vec<String>) -> Result<LiveAnswer, LiveFailure> {
        let Then::Inspect { handles, fields, size, elements } = then else {
            return Err(failure(FailureKind::Error, "printStrings answered to an evaluation"));
        };
        if prints.len() != handles.len() {
            return Err(failure(FailureKind::Error, "the printStrings do not match the values"));
        }
        let client_of = |h: u64| self.live.as_ref().and_then(|l| l.handles.get(&h)).map(|held| held.pin);
        let shown = |k: usize| -> Shown {
            let v = client_of(handles[k]).map_or(self.u.nil(), |p| self.u.pinned(p));
            Shown { print: cut(prints[k].clone()), class: self.u.class_name(self.u.class_of(v)), handle: handles[k] }
        };
        let n = fields.len();
        Ok(LiveAnswer::Inspection(Inspection {
            object: shown(0),
            fields: fields.into_iter().enumerate().map(|(i, f)| (f, shown(1 + i))).collect(),
            size,
            elements: elements.into_iter().enumerate().map(|(i, index)| (index, shown(1 + n + i))).collect(),
        }))
    }
}

/// `print` cut to [`PRINT_LIMIT`] characters.
pub(super) fn cut(print: String) -> String {
    match print.char_indices().nth(PRINT_LIMIT) {
        Some((at, _)) => format!("{}...", &print[..at]),
        None => print,
    }
}

//! Frames, scopes, variables and evaluation. A stack frame's id stands
//! for (process, frame index) while its thread stays stopped; a variables
//! reference stands for a frame's arguments or temporaries, or for an
//! object by its live handle (all of its fields and elements, or a page of
//! its elements).
//!
//! ```text
//!  stackTrace ─▶ stack {process,count}  frame id ─▶ (process, index, the frame as shown)
//!  scopes     ─▶ Arguments, Temporaries (the frame's), Receiver (an object)
//!  variables  ─▶ a frame's names, or inspect {handle,offset,count}: fields,
//!                then elements (pages of PAGE for big ones)
//!  setVariable ─▶ set {handle, field | index, source}
//! ```

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::{Value, json};

use super::session::{Handled, Session, body, stale_frame, thread_id};
use crate::live::client::has_insides;

/// The frames fetched when the editor asks for all of them.
const MAX_FRAMES: u64 = 200;

/// The most frames fetched for one request.
const MAX_LEVELS: u64 = 1000;

/// Elements shown at once; a bigger object is shown as pages of this many.
const PAGE: u64 = 100;

struct Frame {
    process: u64,
    index: u64,
    /// The frame as `stack` answered it.
    shown: Value,
}

/// The frames shown, by id.
#[derive(Default)]
pub(super) struct Frames {
    next: i64,
    by_id: HashMap<i64, Frame>,
    ids: HashMap<(u64, u64), i64>,
    /// Something was set since the frames were fetched: their values are
    /// fetched again before they are shown.
    stale: bool,
    /// Methods whose text the editor reads from the program, by source
    /// reference (kept for the whole session).
    sources: Vec<String>,
}

impl Frames {
    /// The id of `process`'s frame `index` (the same while it stays
    /// stopped), keeping `shown` as its contents.
    fn remember(&mut self, process: u64, index: u64, shown: Value) -> i64 {
        let id = *self.ids.entry((process, index)).or_insert_with(|| {
            self.next += 1;
            self.next
        });
        self.by_id.insert(id, Frame { process, index, shown });
        id
    }

    /// Where frame `id` is: its process and index.
    pub(super) fn place(&self, id: i64) -> Option<(u64, u64)> {
        self.by_id.get(&id).map(|f| (f.process, f.index))
    }

    /// Forgets the frames of `process`; answers their ids.
    pub(super) fn forget(&mut self, process: u64) -> Vec<i64> {
        let gone: Vec<i64> = self.by_id.iter().filter(|(_, f)| f.process == process).map(|(id, _)| *id).collect();
        for id in &gone {
            self.by_id.remove(id);
        }
        self.ids.retain(|(p, _), _| *p != process);
        gone
    }

    fn source_reference(&mut self, method: &str) -> i64 {
        let at = self.sources.iter().position(|m| m == method).unwrap_or_else(|| {
            self.sources.push(method.to_string());
            self.sources.len() - 1
        });
        at as i64 + 1
    }
}

/// What a variables reference stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Target {
    /// A frame's arguments.
    Arguments(i64),
    /// A frame's temporaries.
    Temporaries(i64),
    /// An object: its fields and elements.
    Object(u64),
    /// `count` elements of an object from `offset` (from 0).
    Page { handle: u64, offset: u64, count: u64 },
}

/// The variables references given out, and the handles seen.
#[derive(Default)]
pub(super) struct Refs {
    next: i64,
    by_ref: HashMap<i64, Target>,
    by_target: HashMap<Target, i64>,
    pub(super) handles: HashSet<u64>,
}

impl Refs {
    fn reference(&mut self, target: Target) -> i64 {
        if let Some(r) = self.by_target.get(&target) {
            return *r;
        }
        self.next += 1;
        self.by_ref.insert(self.next, target);
        self.by_target.insert(target, self.next);
        self.next
    }

    /// The reference of a value as the program shows it
    /// (`{value, class, handle}`): 0 for one without insides.
    pub(super) fn of_value(&mut self, shown: &Value) -> i64 {
        let Some(handle) = shown["handle"].as_u64() else { return 0 };
        self.handles.insert(handle);
        if has_insides(shown["class"].as_str().unwrap_or("")) { self.reference(Target::Object(handle)) } else { 0 }
    }

    /// Forgets the scopes of frames that are gone.
    pub(super) fn forget_frames(&mut self, frames: &[i64]) {
        self.by_ref.retain(|_, t| !matches!(t, Target::Arguments(f) | Target::Temporaries(f) if frames.contains(f)));
        self.by_target.retain(|t, _| !matches!(t, Target::Arguments(f) | Target::Temporaries(f) if frames.contains(f)));
    }

    /// Forgets every reference; answers the handles to release.
    pub(super) fn clear(&mut self) -> Vec<u64> {
        self.by_ref.clear();
        self.by_target.clear();
        self.handles.drain().collect()
    }
}

/// `Class>>selector (block)` as (class, class side, selector).
fn method_parts(method: &str) -> Option<(String, bool, String)> {
    let mut m = method.trim();
    while let Some(inner) = m.strip_suffix(" (block)") {
        m = inner;
    }
    let (class, selector) = m.split_once(">>")?;
    let (class, side) = match class.strip_suffix(" class") {
        Some(c) => (c, true),
        None => (class, false),
    };
    Some((class.trim().to_string(), side, selector.trim().to_string()))
}

pub(super) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Session {
    pub(super) fn stack_trace(&self, args: &Value) -> Handled {
        let process = thread_id(args)?;
        let start = args["startFrame"].as_u64().unwrap_or(0);
        let levels = args["levels"].as_u64().filter(|l| *l > 0).map_or(MAX_FRAMES, |l| l.min(MAX_LEVELS));
        let link = self.link()?;
        let reply = link
            .call(json!({ "op": "stack", "process": process, "count": start.saturating_add(levels) }))
            .map_err(|e| e.to_string())?;
        let mut state = self.state();
        let cwd = state.cwd.clone();
        let mut frames = Vec::new();
        for (i, f) in reply["frames"].as_array().into_iter().flatten().enumerate() {
            let index = f["index"].as_u64().unwrap_or(i as u64);
            if index < start {
                continue;
            }
            let method = f["method"].as_str().unwrap_or("?");
            let id = state.frames.remember(process, index, f.clone());
            let mut frame = json!({ "id": id, "name": method, "line": f["line"].as_u64().unwrap_or(0), "column": 1 });
            let file = f["file"].as_str().unwrap_or("");
            if !file.is_empty() {
                let name = Path::new(file).file_name().map(|n| n.to_string_lossy().into_owned());
                let name = name.unwrap_or_else(|| file.to_string());
                let path = match &cwd {
                    _ if Path::new(file).is_absolute() => Some(Path::new(file).to_path_buf()),
                    Some(dir) => Some(dir.join(file)),
                    None => None,
                };
                frame["source"] = match path.filter(|p| p.is_file()) {
                    Some(path) => json!({ "name": name, "path": path.display().to_string() }),
                    // Not on this machine (the kernel's, or a remote
                    // program's): the editor asks for the method's text.
                    None if method_parts(method).is_some() => json!({
                        "name": name,
                        "sourceReference": state.frames.source_reference(method),
                        "origin": "from the program",
                        "presentationHint": "deemphasize",
                    }),
                    None => json!({ "name": name }),
                };
            }
            frames.push(frame);
        }
        state.frames.stale = false;
        body(json!({ "stackFrames": frames, "totalFrames": reply["depth"].as_u64().unwrap_or(frames.len() as u64) }))
    }

    /// The frame `id` as shown, fetched again if something was set since.
    pub(super) fn frame(&self, id: i64) -> Result<Value, String> {
        let (stale, place) = {
            let state = self.state();
            (state.frames.stale, state.frames.place(id))
        };
        let (process, index) = place.ok_or_else(|| stale_frame(id))?;
        if stale {
            let reply = self
                .link()?
                .call(json!({ "op": "stack", "process": process, "count": index + 1 }))
                .map_err(|e| e.to_string())?;
            let mut state = self.state();
            for (i, f) in reply["frames"].as_array().into_iter().flatten().enumerate() {
                if let Some(frame) = state.frames.ids.get(&(process, i as u64)).copied() {
                    state.frames.by_id.insert(frame, Frame { process, index: i as u64, shown: f.clone() });
                }
            }
        }
        let state = self.state();
        state.frames.by_id.get(&id).map(|f| f.shown.clone()).ok_or_else(|| stale_frame(id))
    }

    pub(super) fn scopes(&self, args: &Value) -> Handled {
        let id = args["frameId"].as_i64().ok_or("scopes needs \"frameId\"")?;
        let frame = self.frame(id)?;
        let mut state = self.state();
        let count = |k: &str| frame[k].as_array().map_or(0, Vec::len);
        let arguments = state.refs.reference(Target::Arguments(id));
        let temporaries = state.refs.reference(Target::Temporaries(id));
        let mut scopes = vec![
            json!({ "name": "Arguments", "presentationHint": "arguments", "variablesReference": arguments,
                    "namedVariables": count("arguments"), "expensive": false }),
            json!({ "name": "Temporaries", "presentationHint": "locals", "variablesReference": temporaries,
                    "namedVariables": count("temporaries"), "expensive": false }),
        ];
        if let Some(handle) = frame["receiver"]["handle"].as_u64() {
            state.refs.handles.insert(handle);
            let receiver = state.refs.reference(Target::Object(handle));
            scopes.push(json!({ "name": "Receiver", "variablesReference": receiver, "expensive": false }));
        }
        body(json!({ "scopes": scopes }))
    }

    pub(super) fn variables(&self, args: &Value) -> Handled {
        let reference = args["variablesReference"].as_i64().ok_or("variables needs \"variablesReference\"")?;
        let target = self.target(reference)?;
        let variables = match target {
            Target::Arguments(frame) | Target::Temporaries(frame) => {
                let key = if matches!(target, Target::Arguments(_)) { "arguments" } else { "temporaries" };
                let shown = self.frame(frame)?;
                let mut state = self.state();
                let mut list = Vec::new();
                for v in shown[key].as_array().into_iter().flatten() {
                    let name = v["name"].as_str().unwrap_or("?");
                    let mut variable = variable(&mut state.refs, name, v);
                    if let Some(first) = name.split('/').next().filter(|n| is_identifier(n)) {
                        variable["evaluateName"] = json!(first);
                    }
                    list.push(variable);
                }
                list
            }
            Target::Object(handle) => {
                let filter = args["filter"].as_str();
                let start = args["start"].as_u64().unwrap_or(0);
                let (offset, count) = match filter {
                    Some("named") => (0, 0),
                    Some("indexed") => (start, args["count"].as_u64().filter(|c| *c > 0).unwrap_or(PAGE)),
                    _ => (0, PAGE),
                };
                let reply = self.inspect(handle, offset, count)?;
                let size = reply["size"].as_u64().unwrap_or(0);
                let mut state = self.state();
                let mut list = Vec::new();
                if filter != Some("indexed") {
                    for f in reply["fields"].as_array().into_iter().flatten() {
                        list.push(variable(&mut state.refs, f["name"].as_str().unwrap_or("?"), f));
                    }
                }
                if filter.is_none() && size > PAGE {
                    // Pages, opened one at a time.
                    for offset in (0..size).step_by(PAGE as usize) {
                        let count = PAGE.min(size - offset);
                        let page = state.refs.reference(Target::Page { handle, offset, count });
                        list.push(json!({
                            "name": format!("[{}..{}]", offset + 1, offset + count),
                            "value": format!("{count} elements"),
                            "variablesReference": page,
                            "indexedVariables": count,
                        }));
                    }
                } else if filter != Some("named") {
                    for e in reply["elements"].as_array().into_iter().flatten() {
                        list.push(variable(&mut state.refs, &format!("[{}]", e["index"]), e));
                    }
                }
                list
            }
            Target::Page { handle, offset, count } => {
                let start = offset + args["start"].as_u64().unwrap_or(0).min(count);
                let count = args["count"].as_u64().filter(|c| *c > 0).unwrap_or(count).min(offset + count - start);
                let reply = self.inspect(handle, start, count)?;
                let mut state = self.state();
                let elements = reply["elements"].as_array().into_iter().flatten();
                elements.map(|e| variable(&mut state.refs, &format!("[{}]", e["index"]), e)).collect()
            }
        };
        body(json!({ "variables": variables }))
    }

    fn target(&self, reference: i64) -> Result<Target, String> {
        self.state().refs.by_ref.get(&reference).copied().ok_or_else(|| {
            format!("variables reference {reference} is no longer valid (its thread went on); ask for them again")
        })
    }

    pub(super) fn inspect(&self, handle: u64, offset: u64, count: u64) -> Result<Value, String> {
        let request = json!({ "op": "inspect", "handle": handle, "offset": offset, "count": count });
        self.link()?.call(request).map_err(|e| e.to_string())
    }

    pub(super) fn set_variable(&self, args: &Value) -> Handled {
        let reference = args["variablesReference"].as_i64().ok_or("setVariable needs \"variablesReference\"")?;
        let name = args["name"].as_str().ok_or("setVariable needs \"name\"")?;
        let source = args["value"].as_str().ok_or("setVariable needs \"value\" (an expression)")?;
        let handle = match self.target(reference)? {
            Target::Object(handle) | Target::Page { handle, .. } => handle,
            Target::Arguments(frame) | Target::Temporaries(frame) => {
                let (process, index) = self.state().frames.place(frame).ok_or_else(|| stale_frame(frame))?;
                let request =
                    json!({ "op": "set", "process": process, "frame": index, "name": name, "source": source });
                let reply = self.link()?.call(request).map_err(|e| e.to_string())?;
                let mut state = self.state();
                state.frames.stale = true;
                let reference = state.refs.of_value(&reply);
                return body(
                    json!({ "value": reply["value"], "type": reply["class"], "variablesReference": reference }),
                );
            }
        };
        let mut request = json!({ "op": "set", "handle": handle, "source": source });
        match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')).map(str::parse::<u64>) {
            Some(Ok(index)) => request["index"] = json!(index),
            Some(Err(_)) => return Err(format!("{name}: an element is [N], N from 1")),
            None => request["field"] = json!(name),
        }
        let reply = self.link()?.call(request).map_err(|e| e.to_string())?;
        let mut state = self.state();
        state.frames.stale = true;
        let reference = state.refs.of_value(&reply);
        body(json!({ "value": reply["value"], "type": reply["class"], "variablesReference": reference }))
    }

    pub(super) fn source(&self, args: &Value) -> Handled {
        let reference = args["sourceReference"].as_i64().or_else(|| args["source"]["sourceReference"].as_i64());
        let reference = reference.filter(|r| *r > 0).ok_or("source needs \"sourceReference\"")?;
        let method = self.state().frames.sources.get(reference as usize - 1).cloned();
        let method = method.ok_or_else(|| format!("no source has reference {reference}"))?;
        let (class, class_side, selector) = method_parts(&method).ok_or_else(|| format!("{method}: no source"))?;
        let request = json!({ "op": "source", "class": class, "classSide": class_side, "selector": selector });
        let reply = self.link()?.call(request).map_err(|e| format!("{method}: {e}"))?;
        // The method's text on the lines it has in its file, so that the
        // frames' lines point into it.
        let line = reply["line"].as_u64().unwrap_or(1).max(1) as usize;
        let content = format!("{}{}", "\n".repeat(line - 1), reply["source"].as_str().unwrap_or(""));
        body(json!({ "content": content, "mimeType": "text/x-smalltalk" }))
    }
}

/// A DAP variable of a value as the program shows it.
fn variable(refs: &mut Refs, name: &str, shown: &Value) -> Value {
    let reference = refs.of_value(shown);
    json!({ "name": name, "value": shown["value"], "type": shown["class"], "variablesReference": reference })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_split_into_class_side_and_selector() {
        assert_eq!(method_parts("Workers>>work:"), Some(("Workers".into(), false, "work:".into())));
        assert_eq!(method_parts("Delay class>>forSeconds:"), Some(("Delay".into(), true, "forSeconds:".into())));
        assert_eq!(method_parts("A>>b (block) (block)"), Some(("A".into(), false, "b".into())));
        assert_eq!(method_parts("doIt"), None);
    }

    #[test]
    fn references_are_shared_and_forgotten_with_their_frames() {
        let mut refs = Refs::default();
        let a = refs.reference(Target::Arguments(1));
        assert_eq!(refs.reference(Target::Arguments(1)), a);
        let o = refs.of_value(&json!({ "value": "a Pair", "class": "Pair", "handle": 9 }));
        assert_ne!(o, 0);
        assert_eq!(refs.of_value(&json!({ "value": "3", "class": "Integer", "handle": 10 })), 0);
        refs.forget_frames(&[1]);
        assert!(!refs.by_ref.contains_key(&a));
        assert!(refs.by_ref.contains_key(&o));
        let mut released = refs.clear();
        released.sort();
        assert_eq!(released, vec![9, 10]);
    }

    #[test]
    fn frames_keep_their_ids_while_stopped() {
        let mut frames = Frames::default();
        let a = frames.remember(4, 0, json!({}));
        let b = frames.remember(4, 1, json!({}));
        assert_eq!(frames.remember(4, 0, json!({})), a);
        assert_eq!(frames.place(b), Some((4, 1)));
        assert_eq!(frames.forget(4).len(), 2);
        assert_eq!(frames.place(a), None);
        assert_ne!(frames.remember(4, 0, json!({})), a, "a new stop, new ids");
    }
}

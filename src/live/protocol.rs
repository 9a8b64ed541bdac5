//! The live protocol, version 1: one JSON object per line (UTF-8, `\n`
//! ended, at most [`MAX_LINE`] bytes) each way. `docs/live-protocol.md`
//! is the reference; this module decodes requests and encodes replies and
//! events.

use interp::live::{
    DEFAULT_FRAMES, DEFAULT_PAGE, LiveAnswer, LiveEvent, LiveFailure, LiveOp, LiveReply, ProcessAction, ProcessInfo,
    Shown, SlotName, StepKind,
};
use serde_json::{Map, Value, json};

/// The protocol's version.
pub const VERSION: u64 = 1;

/// The longest line accepted (a whole class file fits many times over).
pub const MAX_LINE: usize = 4 << 20;

/// The operations a server of this version supports.
pub const OPERATIONS: &[&str] = &[
    "describe",
    "eval",
    "interrupt",
    "define",
    "remove",
    "revert",
    "source",
    "stats",
    "save",
    "namespaces",
    "classes",
    "class",
    "implementors",
    "senders",
    "inspect",
    "set",
    "release",
    "processes",
    "suspend",
    "resume",
    "terminate",
    "stack",
    "pause",
    "continue",
    "restart",
    "return",
    "step",
];

/// A decoded request.
#[derive(Debug, PartialEq)]
pub enum Request {
    /// `describe`: answered by the connection itself.
    Describe,
    /// What the program's thread serves.
    Program(LiveOp),
}

/// A request that cannot be served: the error reply says why.
#[derive(Debug, PartialEq, Eq)]
pub struct BadRequest(pub String);

fn text(obj: &Map<String, Value>, key: &str) -> Result<String, BadRequest> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(BadRequest(format!("\"{key}\" must be a string"))),
        None => Err(BadRequest(format!("\"{key}\" is missing"))),
    }
}

fn optional_text(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, BadRequest> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(BadRequest(format!("\"{key}\" must be a string"))),
    }
}

fn number(obj: &Map<String, Value>, key: &str) -> Result<Option<u64>, BadRequest> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| BadRequest(format!("\"{key}\" must be a whole number"))),
    }
}

fn required_number(obj: &Map<String, Value>, key: &str) -> Result<u64, BadRequest> {
    number(obj, key)?.ok_or_else(|| BadRequest(format!("\"{key}\" is missing")))
}

fn flag(obj: &Map<String, Value>, key: &str) -> Result<bool, BadRequest> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(BadRequest(format!("\"{key}\" must be true or false"))),
    }
}

/// The id of a request line, if it has a usable one (a number or a
/// string), for the error reply of a bad request.
pub fn id_of(line: &str) -> Value {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(o)) => match o.get("id") {
            Some(v @ (Value::Number(_) | Value::String(_))) => v.clone(),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

/// Decodes one line: the request's id and what it asks.
pub fn decode(line: &str) -> Result<(Value, Request), BadRequest> {
    let value: Value = serde_json::from_str(line).map_err(|e| BadRequest(format!("not JSON: {e}")))?;
    let Value::Object(obj) = value else { return Err(BadRequest("a request must be a JSON object".into())) };
    let id = match obj.get("id") {
        Some(v @ (Value::Number(_) | Value::String(_))) => v.clone(),
        Some(_) => return Err(BadRequest("\"id\" must be a number or a string".into())),
        None => return Err(BadRequest("\"id\" is missing".into())),
    };
    let op = text(&obj, "op")?;
    let request = match op.as_str() {
        "describe" => Request::Describe,
        "save" => Request::Program(LiveOp::Save { path: text(&obj, "path")? }),
        "eval" => match number(&obj, "process")? {
            None => Request::Program(LiveOp::Eval { source: text(&obj, "source")? }),
            Some(process) => Request::Program(LiveOp::EvalInFrame {
                source: text(&obj, "source")?,
                process,
                frame: number(&obj, "frame")?.unwrap_or(0) as usize,
            }),
        },
        "interrupt" => Request::Program(LiveOp::Interrupt { target: None }),
        "define" => match optional_text(&obj, "class")? {
            Some(class) => Request::Program(LiveOp::DefineMethod {
                class,
                class_side: flag(&obj, "classSide")?,
                source: text(&obj, "source")?,
            }),
            None => Request::Program(LiveOp::DefineClass { source: text(&obj, "source")? }),
        },
        "remove" => {
            let class = text(&obj, "class")?;
            match optional_text(&obj, "selector")? {
                Some(selector) => {
                    Request::Program(LiveOp::RemoveMethod { class, class_side: flag(&obj, "classSide")?, selector })
                }
                None => Request::Program(LiveOp::RemoveClass { class }),
            }
        }
        "revert" => Request::Program(LiveOp::Revert { class: optional_text(&obj, "class")? }),
        "source" => Request::Program(LiveOp::Source {
            class: text(&obj, "class")?,
            class_side: flag(&obj, "classSide")?,
            selector: text(&obj, "selector")?,
        }),
        "stats" => Request::Program(LiveOp::Stats),
        "namespaces" => Request::Program(LiveOp::Namespaces),
        "classes" => Request::Program(LiveOp::Classes { namespace: optional_text(&obj, "namespace")? }),
        "class" => Request::Program(LiveOp::ClassInfo { class: text(&obj, "class")? }),
        "implementors" => Request::Program(LiveOp::Implementors { selector: text(&obj, "selector")? }),
        "senders" => Request::Program(LiveOp::Senders { selector: text(&obj, "selector")? }),
        "inspect" => Request::Program(LiveOp::Inspect {
            handle: required_number(&obj, "handle")?,
            offset: number(&obj, "offset")?.unwrap_or(0) as usize,
            count: number(&obj, "count")?.map_or(DEFAULT_PAGE, |c| c as usize),
        }),
        "set" if obj.get("process").is_some_and(|p| !p.is_null()) => Request::Program(LiveOp::SetInFrame {
            process: required_number(&obj, "process")?,
            frame: number(&obj, "frame")?.unwrap_or(0) as usize,
            name: text(&obj, "name")?,
            source: text(&obj, "source")?,
        }),
        "set" => {
            let slot = match (optional_text(&obj, "field")?, number(&obj, "index")?) {
                (Some(f), None) => SlotName::Field(f),
                (None, Some(i)) => SlotName::Index(i as usize),
                _ => return Err(BadRequest("set needs either \"field\" (a name) or \"index\" (from 1)".into())),
            };
            Request::Program(LiveOp::Set {
                handle: required_number(&obj, "handle")?,
                slot,
                source: text(&obj, "source")?,
            })
        }
        "processes" => Request::Program(LiveOp::Processes),
        "pause" => Request::Program(LiveOp::Pause { process: required_number(&obj, "process")? }),
        "continue" => Request::Program(LiveOp::Continue { process: required_number(&obj, "process")? }),
        "restart" => Request::Program(LiveOp::Restart {
            process: required_number(&obj, "process")?,
            frame: required_number(&obj, "frame")? as usize,
        }),
        "return" => Request::Program(LiveOp::Return {
            process: required_number(&obj, "process")?,
            frame: required_number(&obj, "frame")? as usize,
            source: text(&obj, "source")?,
        }),
        "step" => {
            let kind = text(&obj, "kind")?;
            let Some(kind) = StepKind::from_name(&kind) else {
                return Err(BadRequest(format!("\"kind\" is over, into or out, not \"{kind}\"")));
            };
            Request::Program(LiveOp::Step { process: required_number(&obj, "process")?, kind })
        }
        "suspend" | "resume" | "terminate" => Request::Program(LiveOp::Control {
            process: required_number(&obj, "process")?,
            action: ProcessAction::from_name(&op).expect("one of the three"),
        }),
        "stack" => Request::Program(LiveOp::Stack {
            process: required_number(&obj, "process")?,
            count: number(&obj, "count")?.map_or(DEFAULT_FRAMES, |c| c as usize),
        }),
        "release" => {
            let handles = match obj.get("handles") {
                None | Some(Value::Null) => None,
                Some(Value::Array(a)) => Some(
                    a.iter()
                        .map(|h| h.as_u64().ok_or_else(|| BadRequest("\"handles\" must be whole numbers".into())))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                Some(_) => return Err(BadRequest("\"handles\" must be an array of handles".into())),
            };
            Request::Program(LiveOp::Release { handles })
        }
        other => {
            return Err(BadRequest(format!("unknown op \"{other}\" (this server knows: {})", OPERATIONS.join(", "))));
        }
    };
    Ok((id, request))
}

/// The `target` of an `interrupt` request (the id of the evaluation to
/// stop), if it names one.
pub fn interrupt_target(line: &str) -> Option<Value> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(o)) => o.get("target").filter(|v| !v.is_null()).cloned(),
        _ => None,
    }
}

/// The line of an error reply.
pub fn error_line(id: &Value, kind: &str, message: &str, trace: &str) -> String {
    let mut error = json!({ "kind": kind, "message": message });
    if !trace.is_empty() {
        error["trace"] = Value::String(trace.to_string());
    }
    json!({ "id": id, "ok": false, "error": error }).to_string()
}

/// The line of an event.
pub fn event_line(event: &LiveEvent) -> String {
    match event {
        LiveEvent::Stopped { process, reason, message, trace } => {
            let mut e = json!({ "event": "stopped", "process": process, "reason": reason });
            if !message.is_empty() {
                e["message"] = json!(message);
            }
            if !trace.is_empty() {
                e["trace"] = json!(trace);
            }
            e.to_string()
        }
    }
}

/// The line of a reply from the program (or of an event it sent).
pub fn reply_line(id: &Value, reply: &LiveReply) -> String {
    if let Ok(LiveAnswer::Event(event)) = &reply.outcome {
        return event_line(event);
    }
    match &reply.outcome {
        Ok(answer) => {
            let mut out = json!({ "id": id, "ok": true });
            match answer {
                LiveAnswer::Value(shown) => {
                    out["value"] = json!(shown.print);
                    out["class"] = json!(shown.class);
                    out["handle"] = json!(shown.handle);
                }
                LiveAnswer::Inspection(i) => {
                    out["object"] = shown_json(&i.object);
                    let fields: Vec<Value> = i
                        .fields
                        .iter()
                        .map(|(name, v)| {
                            let mut f = shown_json(v);
                            f["name"] = json!(name);
                            f
                        })
                        .collect();
                    out["fields"] = Value::Array(fields);
                    out["size"] = json!(i.size);
                    let elements: Vec<Value> = i
                        .elements
                        .iter()
                        .map(|(index, v)| {
                            let mut e = shown_json(v);
                            e["index"] = json!(index);
                            e
                        })
                        .collect();
                    out["elements"] = Value::Array(elements);
                }
                LiveAnswer::Released { count } => out["released"] = json!(count),
                LiveAnswer::Event(_) => {}
                LiveAnswer::Processes(list) => out["processes"] = Value::Array(list.iter().map(process_json).collect()),
                LiveAnswer::Stack { process, frames, depth } => {
                    let named = |list: &[(String, Shown)]| -> Value {
                        Value::Array(
                            list.iter()
                                .map(|(name, v)| {
                                    let mut j = shown_json(v);
                                    j["name"] = json!(name);
                                    j
                                })
                                .collect(),
                        )
                    };
                    let frames: Vec<Value> = frames
                        .iter()
                        .enumerate()
                        .map(|(i, f)| {
                            json!({
                                "index": i,
                                "method": f.method,
                                "file": f.file,
                                "line": f.line,
                                "receiver": shown_json(&f.receiver),
                                "arguments": named(&f.arguments),
                                "temporaries": named(&f.temporaries),
                                "hidden": f.hidden,
                            })
                        })
                        .collect();
                    out["process"] = json!(process);
                    out["frames"] = Value::Array(frames);
                    out["depth"] = json!(depth);
                }
                LiveAnswer::Edited(edit) => {
                    out["edit"] = json!(edit.what);
                    out["methods"] = json!(edit.methods);
                    out["invalidated"] = json!(edit.invalidated);
                }
                LiveAnswer::Interrupted { evaluations } => out["interrupted"] = json!(evaluations),
                LiveAnswer::Source { text, holder, file, line } => {
                    out["source"] = json!(text);
                    out["holder"] = json!(holder);
                    out["file"] = json!(file);
                    out["line"] = json!(line);
                }
                LiveAnswer::List { of, items } => {
                    let items: Vec<Value> =
                        items.iter().map(|i| json!({ "name": i.name, "detail": i.detail })).collect();
                    out[*of] = Value::Array(items);
                }
                LiveAnswer::Class(c) => {
                    out["class"] = json!({
                        "name": c.name,
                        "superclass": c.superclass,
                        "namespace": c.namespace,
                        "fields": c.fields,
                        "classFields": c.class_fields,
                        "methods": c.methods,
                        "classMethods": c.class_methods,
                        "subclasses": c.subclasses,
                    });
                }
                LiveAnswer::Saved { path, edits } => {
                    out["saved"] = json!(path);
                    out["edits"] = json!(edits);
                }
                LiveAnswer::Stats(stats) => {
                    let edits: Vec<Value> = stats
                        .edits
                        .iter()
                        .map(|e| json!({ "edit": e.what, "methods": e.methods, "invalidated": e.invalidated }))
                        .collect();
                    out["edits"] = Value::Array(edits);
                    out["nativeMethods"] = json!(stats.native_methods);
                    out["evaluations"] = json!(stats.evaluations);
                    out["revertible"] = json!(stats.revertible);
                }
            }
            out.to_string()
        }
        Err(LiveFailure { kind, message, trace }) => error_line(id, kind.name(), message, trace),
    }
}

/// A value as the protocol shows it.
fn shown_json(s: &Shown) -> Value {
    json!({ "value": s.print, "class": s.class, "handle": s.handle })
}

/// A process as the protocol lists it.
fn process_json(p: &ProcessInfo) -> Value {
    let mut j = json!({
        "id": p.id,
        "name": p.name,
        "priority": p.priority,
        "state": p.state,
        "top": p.top,
        "evaluation": p.evaluation,
    });
    if !p.message.is_empty() {
        j["message"] = json!(p.message);
    }
    j
}

/// Every error kind a reply may carry (the protocol page lists them).
pub const ERROR_KINDS: &[&str] =
    &["badRequest", "unsupported", "compile", "error", "interrupted", "refused", "notFound"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_operation() {
        let (id, r) = decode(r#"{"id":1,"op":"eval","source":"3 + 4"}"#).unwrap();
        assert_eq!(id, json!(1));
        assert_eq!(r, Request::Program(LiveOp::Eval { source: "3 + 4".into() }));
        let (_, r) =
            decode(r#"{"id":"a","op":"define","class":"Foo","classSide":true,"source":"x = ( ^1 )"}"#).unwrap();
        assert_eq!(
            r,
            Request::Program(LiveOp::DefineMethod {
                class: "Foo".into(),
                class_side: true,
                source: "x = ( ^1 )".into()
            })
        );
        let (_, r) = decode(r#"{"id":2,"op":"define","source":"Foo = ()"}"#).unwrap();
        assert_eq!(r, Request::Program(LiveOp::DefineClass { source: "Foo = ()".into() }));
        let (_, r) = decode(r#"{"id":2,"op":"remove","class":"Foo","selector":"x"}"#).unwrap();
        assert!(matches!(r, Request::Program(LiveOp::RemoveMethod { .. })));
        let (_, r) = decode(r#"{"id":2,"op":"remove","class":"Foo"}"#).unwrap();
        assert!(matches!(r, Request::Program(LiveOp::RemoveClass { .. })));
        let (_, r) = decode(r#"{"id":2,"op":"senders","selector":"at:put:"}"#).unwrap();
        assert_eq!(r, Request::Program(LiveOp::Senders { selector: "at:put:".into() }));
        let (_, r) = decode(r#"{"id":2,"op":"classes"}"#).unwrap();
        assert_eq!(r, Request::Program(LiveOp::Classes { namespace: None }));
        let (_, r) = decode(r#"{"id":2,"op":"revert"}"#).unwrap();
        assert_eq!(r, Request::Program(LiveOp::Revert { class: None }));
        assert_eq!(decode(r#"{"id":3,"op":"describe"}"#).unwrap().1, Request::Describe);
        assert_eq!(
            decode(r#"{"id":3,"op":"save","path":"/tmp/e.mimg"}"#).unwrap().1,
            Request::Program(LiveOp::Save { path: "/tmp/e.mimg".into() })
        );
        assert_eq!(interrupt_target(r#"{"id":4,"op":"interrupt","target":1}"#), Some(json!(1)));
    }

    #[test]
    fn every_failure_kind_is_a_documented_error_kind() {
        use interp::live::FailureKind::*;
        for k in [Compile, Error, Interrupted, Refused, NotFound, Unsupported] {
            assert!(ERROR_KINDS.contains(&k.name()), "{}", k.name());
        }
    }

    #[test]
    fn bad_requests_say_why() {
        for (line, why) in [
            ("nonsense", "not JSON"),
            ("[1,2]", "JSON object"),
            (r#"{"op":"eval","source":"1"}"#, "\"id\" is missing"),
            (r#"{"id":[1],"op":"eval"}"#, "\"id\" must be"),
            (r#"{"id":1}"#, "\"op\" is missing"),
            (r#"{"id":1,"op":"fly"}"#, "unknown op \"fly\""),
            (r#"{"id":1,"op":"eval"}"#, "\"source\" is missing"),
            (r#"{"id":1,"op":"eval","source":3}"#, "must be a string"),
            (r#"{"id":1,"op":"define","class":"A","classSide":"yes","source":"x = ()"}"#, "true or false"),
        ] {
            let e = decode(line).unwrap_err();
            assert!(e.0.contains(why), "{line}: {}", e.0);
        }
        assert_eq!(id_of(r#"{"id":7,"op":"fly"}"#), json!(7));
        assert_eq!(id_of("garbage"), Value::Null);
    }
}

//! Evaluation: `evaluate` answers a frame's variable (or `self`) as the
//! stack showed it, and evaluates anything else in the program: in the
//! frame (`eval {source, process, frame}`) when the editor names one, as a
//! plain `eval` otherwise or when the program cannot evaluate in a frame.
//! Each evaluation runs on a thread of its own, so that `cancel` (an
//! `interrupt` of it) and other requests are served meanwhile.

use std::sync::Arc;

use serde_json::{Value, json};

use super::Request;
use super::inspect::is_identifier;
use super::link::LiveError;
use super::session::{Session, stale_frame};

impl Session {
    /// Evaluates on a thread of its own (a `cancel` may stop it meanwhile).
    pub(super) fn evaluate(self: &Arc<Self>, request: Request) {
        // Known from now on, so that a cancel that comes before its thread
        // runs is not lost.
        self.state().evaluations.insert(request.seq, None);
        let session = Arc::clone(self);
        let seq = request.seq;
        let spawned = std::thread::Builder::new().name("dap-evaluate".into()).spawn(move || {
            let answer = session.evaluate_now(&request);
            session.forget_evaluation(request.seq);
            session.out.respond(&request, answer);
        });
        if let Err(e) = spawned {
            self.forget_evaluation(seq);
            self.out.output("stderr", &format!("mica dap: cannot evaluate: {e}"));
        }
    }

    fn forget_evaluation(&self, seq: i64) {
        let mut state = self.state();
        state.evaluations.remove(&seq);
        state.cancelled.retain(|s| *s != seq);
    }

    fn is_cancelled(&self, seq: i64) -> bool {
        self.state().cancelled.contains(&seq)
    }

    fn evaluate_now(&self, request: &Request) -> Result<Value, String> {
        let args = &request.arguments;
        let expression = args["expression"].as_str().ok_or("evaluate needs \"expression\"")?.trim();
        let frame = args["frameId"].as_i64();
        let context = args["context"].as_str().unwrap_or("repl");
        if let Some(frame) = frame
            && (expression == "self" || is_identifier(expression))
        {
            let shown = self.frame(frame)?;
            let named = |key: &str| {
                shown[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|v| v["name"].as_str().is_some_and(|n| n.split('/').any(|part| part == expression)))
            };
            let found = if expression == "self" {
                Some(&shown["receiver"])
            } else {
                named("arguments").or_else(|| named("temporaries"))
            };
            if let Some(v) = found {
                let reference = self.state().refs.of_value(v);
                return Ok(json!({ "result": v["value"], "type": v["class"], "variablesReference": reference }));
            }
        }
        if context == "hover" && !is_identifier(expression) {
            return Err("hovering shows variables and globals; select an expression and evaluate it instead".into());
        }
        let place = match frame {
            Some(f) => Some(self.state().frames.place(f).ok_or_else(|| stale_frame(f))?),
            None => None,
        };
        let mut eval = json!({ "op": "eval", "source": expression });
        if let Some((process, index)) = place {
            eval["process"] = json!(process);
            eval["frame"] = json!(index);
        }
        let mut note = None;
        let reply = match self.run_eval(request.seq, eval) {
            Err(e) if place.is_some() && (e.unknown_op() || e.kind() == "badRequest") => {
                let why = "evaluated outside the frame (self is nil, the frame's variables are not seen): this \
                           program cannot evaluate in a frame";
                if !std::mem::replace(&mut self.state().frame_eval_refused, true) {
                    self.out.output("console", &format!("mica dap: {why}"));
                }
                note = Some(why);
                self.run_eval(request.seq, json!({ "op": "eval", "source": expression }))
            }
            other => other,
        };
        let reply = match reply {
            Ok(r) => r,
            Err(LiveError::Failed { kind, .. }) if kind == "interrupted" && self.is_cancelled(request.seq) => {
                return Err("cancelled".into());
            }
            Err(LiveError::Failed { message, trace, .. }) => {
                if !trace.is_empty() && context == "repl" {
                    self.out.output("stderr", &trace);
                }
                return Err(message);
            }
            Err(e) => return Err(e.to_string()),
        };
        let reference = self.state().refs.of_value(&reply);
        let mut answer = json!({ "result": reply["value"], "type": reply["class"], "variablesReference": reference });
        if reference != 0
            && let Some(handle) = reply["handle"].as_u64()
            && let Ok(inside) = self.inspect(handle, 0, 0)
        {
            let fields = inside["fields"].as_array().map_or(0, Vec::len);
            answer["namedVariables"] = json!(fields);
            answer["indexedVariables"] = inside["size"].clone();
            let mut state = self.state();
            for f in inside["fields"].as_array().into_iter().flatten() {
                if let Some(h) = f["handle"].as_u64() {
                    state.refs.handles.insert(h);
                }
            }
            if let Some(h) = inside["object"]["handle"].as_u64() {
                state.refs.handles.insert(h);
            }
        }
        if let Some(note) = note {
            answer["message"] = json!(note);
        }
        Ok(answer)
    }

    /// Runs one `eval`, known as the evaluation of request `seq` meanwhile;
    /// one cancelled before it was sent is interrupted at once.
    fn run_eval(&self, seq: i64, eval: Value) -> Result<Value, LiveError> {
        let link = self.link().map_err(|_| LiveError::Closed)?;
        if self.is_cancelled(seq) {
            return Err(LiveError::Failed {
                kind: "interrupted".into(),
                message: "cancelled".into(),
                trace: String::new(),
            });
        }
        let pending = link.send(eval)?;
        let cancelled = {
            let mut state = self.state();
            state.evaluations.insert(seq, Some(pending.id));
            state.cancelled.contains(&seq)
        };
        if cancelled {
            // The reply is not waited for: the evaluation's answers.
            let _ = link.send(json!({ "op": "interrupt", "target": pending.id }));
        }
        let reply = pending.wait();
        self.state().evaluations.insert(seq, None);
        reply
    }
}

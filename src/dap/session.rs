//! One debugging session: requests are dispatched here, and the session's
//! life is kept here (initialize, attach, configurationDone, threads,
//! disconnect) together with the program's events (`stopped`, `exit`).
//! A process is a thread: its live `id` is the thread id, and processes
//! that are clients' evaluations are not shown.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

use super::inspect::{Frames, Refs};
use super::link::{Link, LiveError};
use super::{Incoming, Out, Request};

/// Why a thread stopped.
#[derive(Clone, Debug)]
pub(super) struct Stop {
    /// The DAP reason (`pause`, `step`, `exception`, `restart`...).
    pub reason: String,
    /// The error's message (for `exception`).
    pub message: String,
    /// The error's stack (for `exception`).
    pub trace: String,
    /// Stopped by `suspend` (a program without `pause`): `resume` ends it.
    pub suspended: bool,
}

/// What the session knows; locked briefly, never across a request to the
/// program.
#[derive(Default)]
pub(super) struct State {
    configured: bool,
    attached: bool,
    /// `terminated` was sent.
    ended: bool,
    /// The program's working directory, for the files of frames.
    pub cwd: Option<PathBuf>,
    /// The operations the program's `describe` listed.
    operations: Vec<String>,
    /// The stopped threads.
    pub stopped: HashMap<u64, Stop>,
    /// The frames shown while their threads are stopped.
    pub frames: Frames,
    /// The variable references given out.
    pub refs: Refs,
    /// Evaluations running: the request's seq, the live request's id.
    /// From the request's arrival: its live request, once sent.
    pub evaluations: HashMap<i64, Option<u64>>,
    /// Evaluations the editor cancelled.
    pub cancelled: Vec<i64>,
    /// The program refused an evaluation in a frame once (said once).
    pub frame_eval_refused: bool,
}

/// What a request answers, and the events that go after the answer.
pub(super) type Handled = Result<(Value, Vec<(&'static str, Value)>), String>;

/// An answer with no events after it.
pub(super) fn body(value: Value) -> Handled {
    Ok((value, Vec::new()))
}

/// A debugging session.
pub(crate) struct Session {
    pub(super) out: Arc<Out>,
    events: Sender<Incoming>,
    link: Mutex<Option<Arc<Link>>>,
    state: Mutex<State>,
}

impl Session {
    pub(super) fn new(out: Arc<Out>, events: Sender<Incoming>) -> Session {
        Session { out, events, link: Mutex::new(None), state: Mutex::default() }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The connection to the program.
    pub(super) fn link(&self) -> Result<Arc<Link>, String> {
        let link = self.link.lock().unwrap_or_else(|p| p.into_inner());
        link.clone().ok_or_else(|| "not attached to a program (send attach first)".to_string())
    }

    /// Handles one message from the editor; `false` when the session ends.
    pub(super) fn message(self: &Arc<Self>, message: Value) -> bool {
        if message["type"] == "response" || message["type"] == "event" {
            // Answers to requests of the adapter's: it sends none.
            return true;
        }
        let (Some(seq), Some(command)) = (message["seq"].as_i64(), message["command"].as_str()) else {
            self.out.output("stderr", &format!("mica dap: a request needs \"seq\" and \"command\": {message}"));
            return true;
        };
        let request = Request { seq, command: command.to_string(), arguments: message["arguments"].clone() };
        let args = &request.arguments;
        let handled = match request.command.as_str() {
            "initialize" => {
                self.out.respond(&request, Ok(capabilities()));
                self.out.event("initialized", Value::Null);
                return true;
            }
            "evaluate" => {
                self.evaluate(request);
                return true;
            }
            "disconnect" => {
                self.leave();
                self.out.respond(&request, Ok(Value::Null));
                return false;
            }
            "attach" => self.attach(args),
            "launch" => Err("mica dap attaches to a running program: start it yourself (mica -cp src Main) and \
                             use an attach configuration with \"pid\" (or \"host\", \"port\", \"tokenFile\")"
                .into()),
            "configurationDone" => self.configuration_done(),
            "setBreakpoints" => set_breakpoints(args),
            "setExceptionBreakpoints" => body(json!({ "breakpoints": [] })),
            "threads" => self.threads(),
            "pause" => self.pause(args),
            "continue" => self.resume(args),
            "next" => self.step(args, "over"),
            "stepIn" => self.step(args, "into"),
            "stepOut" => self.step(args, "out"),
            "restartFrame" => self.restart_frame(args),
            "terminateThreads" => self.terminate_threads(args),
            "cancel" => self.cancel(args),
            "exceptionInfo" => self.exception_info(args),
            "stackTrace" => self.stack_trace(args),
            "scopes" => self.scopes(args),
            "variables" => self.variables(args),
            "setVariable" => self.set_variable(args),
            "source" => self.source(args),
            other => Err(format!("mica dap does not support the '{other}' request")),
        };
        match handled {
            Ok((answer, events)) => {
                self.out.respond(&request, Ok(answer));
                for (event, body) in events {
                    self.out.event(event, body);
                }
            }
            Err(why) => self.out.respond(&request, Err(why)),
        }
        true
    }

    fn attach(&self, args: &Value) -> Handled {
        if self.link().is_ok() {
            return Err("already attached".into());
        }
        let whole = |v: &Value| v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
        let given_cwd = args["cwd"].as_str().filter(|s| !s.is_empty()).map(PathBuf::from);
        let (link, cwd) = if let Some(pid) = whole(&args["pid"]) {
            let pid = u32::try_from(pid).map_err(|_| format!("{pid} is not a process id"))?;
            let link = Link::open_pid(pid, self.events.clone())?;
            (link, given_cwd.or_else(|| std::fs::read_link(format!("/proc/{pid}/cwd")).ok()))
        } else if let (Some(host), Some(port)) = (args["host"].as_str(), whole(&args["port"])) {
            if args["tls"] == json!(true) {
                return Err("mica dap speaks plain TCP only; for a program that listens with TLS, connect \
                            through a tunnel (ssh -L) to a listener without TLS"
                    .into());
            }
            let port = u16::try_from(port).map_err(|_| format!("{port} is not a port number"))?;
            let Some(token) = args["tokenFile"].as_str() else {
                return Err("attach over TCP needs \"tokenFile\" (the file the program wrote its token to)".into());
            };
            (Link::open_tcp(host, port, std::path::Path::new(token), self.events.clone())?, given_cwd)
        } else {
            return Err("attach needs {\"pid\": N} (a program of yours on this machine), or \
                        {\"host\", \"port\", \"tokenFile\"} (a program started with --listen)"
                .into());
        };
        let link = Arc::new(link);
        let described = link.call(json!({ "op": "describe" })).ok();
        let hello = &link.hello;
        let operations: Vec<String> = described
            .as_ref()
            .and_then(|d| d["operations"].as_array())
            .map(|ops| ops.iter().filter_map(|o| o.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let mut events = vec![(
            "output",
            json!({
                "category": "console",
                "output": format!(
                    "Attached to {} (pid {}, mica {}{}).\n",
                    hello["program"].as_str().unwrap_or("?"),
                    hello["pid"],
                    hello["mica"].as_str().unwrap_or("?"),
                    described.as_ref().and_then(|d| d["jit"].as_str()).map(|j| format!(", JIT {j}")).unwrap_or_default(),
                ),
            }),
        )];
        if !operations.is_empty() && !operations.iter().any(|o| o == "restart") {
            events.insert(0, ("capabilities", json!({ "capabilities": { "supportsRestartFrame": false } })));
        }
        *self.link.lock().unwrap_or_else(|p| p.into_inner()) = Some(link);
        let ready = {
            let mut state = self.state();
            state.attached = true;
            state.cwd = cwd;
            state.operations = operations;
            state.configured
        };
        if ready {
            events.extend(self.already_stopped());
        }
        Ok((Value::Null, events))
    }

    fn configuration_done(&self) -> Handled {
        let attached = {
            let mut state = self.state();
            state.configured = true;
            state.attached
        };
        let events = if attached { self.already_stopped() } else { Vec::new() };
        Ok((Value::Null, events))
    }

    /// `stopped` events for the processes that were stopped before the
    /// session began (at an error, or paused by another client).
    fn already_stopped(&self) -> Vec<(&'static str, Value)> {
        let Ok(link) = self.link() else { return Vec::new() };
        let Ok(reply) = link.call(json!({ "op": "processes" })) else { return Vec::new() };
        let mut events = Vec::new();
        let mut state = self.state();
        for p in reply["processes"].as_array().into_iter().flatten() {
            let (Some(id), Some(s)) = (p["id"].as_u64(), p["state"].as_str()) else { continue };
            let reason = match s {
                "paused" => "pause",
                "stopped" => "exception",
                _ => continue,
            };
            if p["evaluation"] == json!(true) || state.stopped.contains_key(&id) {
                continue;
            }
            let stop = Stop { reason: reason.into(), message: String::new(), trace: String::new(), suspended: false };
            state.stopped.insert(id, stop);
            events.push(("stopped", json!({ "reason": reason, "threadId": id, "allThreadsStopped": false })));
        }
        events
    }

    fn threads(&self) -> Handled {
        let Ok(link) = self.link() else { return body(json!({ "threads": [] })) };
        let reply = match link.call(json!({ "op": "processes" })) {
            Ok(r) => r,
            // The program has ended.
            Err(LiveError::Closed) => return body(json!({ "threads": [] })),
            Err(e) => return Err(e.to_string()),
        };
        let threads: Vec<Value> = reply["processes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["evaluation"] != json!(true) && p["state"] != "terminated")
            .filter_map(|p| {
                let id = p["id"].as_u64()?;
                let name = format!("{} ({})", p["name"].as_str().unwrap_or("?"), p["state"].as_str().unwrap_or("?"));
                Some(json!({ "id": id, "name": name }))
            })
            .collect();
        body(json!({ "threads": threads }))
    }

    /// Leaves the program: the processes the session paused or stepped go
    /// on (those stopped at an error stay, for the program to decide), and
    /// the connection closes.
    pub(super) fn leave(&self) {
        let Ok(link) = self.link() else { return };
        let ours: Vec<u64> = {
            let state = self.state();
            state.stopped.iter().filter(|(_, s)| s.reason != "exception").map(|(id, _)| *id).collect()
        };
        for process in ours {
            let _ = self.continue_process(&link, process);
        }
        link.close();
    }

    /// An event of the program.
    pub(super) fn live_event(&self, event: &Value) {
        match event["event"].as_str() {
            Some("stopped") => {
                let Some(process) = event["process"].as_u64() else { return };
                let text = |k: &str| event[k].as_str().unwrap_or("").to_string();
                let reason = match event["reason"].as_str().unwrap_or("pause") {
                    "error" => "exception".to_string(),
                    other => other.to_string(),
                };
                let (message, trace) = (text("message"), text("trace"));
                let stop =
                    Stop { reason: reason.clone(), message: message.clone(), trace: trace.clone(), suspended: false };
                self.stopped(process, stop);
                let mut body = json!({ "reason": reason, "threadId": process, "allThreadsStopped": false });
                if reason == "exception" {
                    body["description"] = json!(message);
                    body["text"] = json!(message);
                    let mut shown = format!("Process {process} stopped at an error: {message}\n");
                    shown.push_str(&trace);
                    self.out.output("stderr", &shown);
                }
                self.out.event("stopped", body);
            }
            Some("exit") => {
                let first = !std::mem::replace(&mut self.state().ended, true);
                if first {
                    self.out.event("exited", json!({ "exitCode": event["status"].as_i64().unwrap_or(0) }));
                    self.out.event("terminated", Value::Null);
                }
            }
            _ => {}
        }
    }

    /// The program's connection ended (after its `exit` event, or without).
    pub(super) fn live_ended(&self) {
        let first = !std::mem::replace(&mut self.state().ended, true);
        if first {
            self.out.output("console", "The program's connection closed.");
            self.out.event("terminated", Value::Null);
        }
    }
}

impl State {
    /// Forgets the frames of `process` and the scopes of them.
    pub(super) fn forget_frames(&mut self, process: u64) {
        let gone = self.frames.forget(process);
        self.refs.forget_frames(&gone);
    }
}

/// What the adapter offers (only what works).
fn capabilities() -> Value {
    json!({
        "supportsConfigurationDoneRequest": true,
        "supportsRestartFrame": true,
        "supportsSetVariable": true,
        "supportsEvaluateForHovers": true,
        "supportsTerminateThreadsRequest": true,
        "supportsCancelRequest": true,
        "supportsExceptionInfoRequest": true,
        "supportsDelayedStackTraceLoading": true,
        "supportTerminateDebuggee": false,
        "supportsRestartRequest": false,
        "supportsStepBack": false,
        "supportsConditionalBreakpoints": false,
        "supportsFunctionBreakpoints": false,
        "exceptionBreakpointFilters": [],
    })
}

/// Breakpoints are not offered by the live protocol: each is answered as
/// not verified, saying so.
fn set_breakpoints(args: &Value) -> Handled {
    let breakpoints: Vec<Value> = args["breakpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            json!({ "verified": false, "line": b["line"],
                "message": "Mica programs stop at errors, on pause and after steps; breakpoints are not supported yet" })
        })
        .collect();
    body(json!({ "breakpoints": breakpoints }))
}

pub(super) fn thread_id(args: &Value) -> Result<u64, String> {
    args["threadId"].as_u64().ok_or_else(|| "the request needs \"threadId\"".to_string())
}

pub(super) fn stale_frame(frame: i64) -> String {
    format!("frame {frame} is no longer shown (its thread went on); ask for the stack again")
}

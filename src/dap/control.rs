//! Running and stopping threads: pause (or, in a program without it,
//! suspend), continue (or resume), step, restart a frame, terminate. A
//! thread stops on the program's `stopped` event (or on the adapter's own,
//! after a suspend) and goes on when it is continued, stepped or
//! terminated; its frames and, once no thread is stopped, the handles
//! shown are forgotten then.

use serde_json::{Value, json};

use super::link::{Link, LiveError};
use super::session::{Handled, Session, Stop, body, stale_frame, thread_id};

impl Session {
    pub(super) fn pause(&self, args: &Value) -> Handled {
        let process = thread_id(args)?;
        let link = self.link()?;
        match link.call(json!({ "op": "pause", "process": process })) {
            // The program's stopped event follows.
            Ok(_) => body(Value::Null),
            Err(e) if e.unknown_op() => {
                let reply = link.call(json!({ "op": "suspend", "process": process })).map_err(|e| e.to_string())?;
                let state = reply["processes"][0]["state"].as_str().unwrap_or("");
                if state != "suspended" {
                    return Err(format!("process {process} could not be suspended (it is {state})"));
                }
                let stop =
                    Stop { reason: "pause".into(), message: String::new(), trace: String::new(), suspended: true };
                self.stopped(process, stop);
                let event = json!({ "reason": "pause", "threadId": process, "allThreadsStopped": false,
                    "description": "Paused (suspended: this program has no pause)" });
                Ok((Value::Null, vec![("stopped", event)]))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Records that `process` stopped: its old frames are forgotten.
    pub(super) fn stopped(&self, process: u64, stop: Stop) {
        let mut state = self.state();
        state.forget_frames(process);
        state.stopped.insert(process, stop);
    }

    /// Records that `process` goes on; when no thread stays stopped, the
    /// handles shown are released.
    pub(super) fn goes_on(&self, process: u64) {
        let release = {
            let mut state = self.state();
            state.stopped.remove(&process);
            state.forget_frames(process);
            if state.stopped.is_empty() { state.refs.clear() } else { Vec::new() }
        };
        if !release.is_empty()
            && let Ok(link) = self.link()
        {
            // The reply is not waited for.
            let _ = link.send(json!({ "op": "release", "handles": release }));
        }
    }

    pub(super) fn resume(&self, args: &Value) -> Handled {
        let process = thread_id(args)?;
        let link = self.link()?;
        self.continue_process(&link, process).map_err(|e| e.to_string())?;
        body(json!({ "allThreadsContinued": false }))
    }

    /// Lets a stopped process go on: `continue`, or `resume` for one that
    /// was suspended or a program without `continue`.
    pub(super) fn continue_process(&self, link: &Link, process: u64) -> Result<(), LiveError> {
        let suspended = self.state().stopped.get(&process).is_some_and(|s| s.suspended);
        let resume = json!({ "op": "resume", "process": process });
        if suspended {
            link.call(resume)?;
        } else {
            match link.call(json!({ "op": "continue", "process": process })) {
                Err(e) if e.unknown_op() => {
                    link.call(resume)?;
                }
                other => {
                    other?;
                }
            }
        }
        self.goes_on(process);
        Ok(())
    }

    pub(super) fn step(&self, args: &Value, kind: &str) -> Handled {
        let process = thread_id(args)?;
        let link = self.link()?;
        match link.call(json!({ "op": "step", "process": process, "kind": kind })) {
            // A stopped event with reason step follows.
            Ok(_) => {
                self.goes_on(process);
                body(Value::Null)
            }
            Err(e) if e.unknown_op() => Err(needs_newer("stepping", "step")),
            Err(e) => Err(e.to_string()),
        }
    }

    pub(super) fn restart_frame(&self, args: &Value) -> Handled {
        let frame = args["frameId"].as_i64().ok_or("restartFrame needs \"frameId\"")?;
        let (process, index) = self.state().frames.place(frame).ok_or_else(|| stale_frame(frame))?;
        let link = self.link()?;
        let reply = match link.call(json!({ "op": "restart", "process": process, "frame": index })) {
            Ok(r) => r,
            Err(e) if e.unknown_op() => return Err(needs_newer("restarting a frame", "restart")),
            Err(e) => return Err(e.to_string()),
        };
        let state = reply["processes"][0]["state"].as_str().unwrap_or("paused").to_string();
        if matches!(state.as_str(), "running" | "ready" | "waiting") {
            self.goes_on(process);
            return Ok((
                Value::Null,
                vec![("continued", json!({ "threadId": process, "allThreadsContinued": false }))],
            ));
        }
        let suspended = self.state().stopped.get(&process).is_some_and(|s| s.suspended);
        let stop = Stop { reason: "restart".into(), message: String::new(), trace: String::new(), suspended };
        self.stopped(process, stop);
        let event = json!({ "reason": "restart", "threadId": process, "allThreadsStopped": false });
        Ok((Value::Null, vec![("stopped", event)]))
    }

    pub(super) fn terminate_threads(&self, args: &Value) -> Handled {
        let link = self.link()?;
        let mut failed = Vec::new();
        for id in args["threadIds"].as_array().into_iter().flatten().filter_map(Value::as_u64) {
            match link.call(json!({ "op": "terminate", "process": id })) {
                Ok(_) => self.goes_on(id),
                Err(e) => failed.push(format!("thread {id}: {e}")),
            }
        }
        if failed.is_empty() { body(Value::Null) } else { Err(failed.join("; ")) }
    }

    pub(super) fn cancel(&self, args: &Value) -> Handled {
        let Some(seq) = args["requestId"].as_i64() else { return body(Value::Null) };
        // An evaluation not sent yet is interrupted by its own thread once
        // it is sent (see `run_eval`).
        let target = {
            let mut state = self.state();
            let Some(target) = state.evaluations.get(&seq).copied() else { return body(Value::Null) };
            state.cancelled.push(seq);
            target
        };
        if let Some(target) = target {
            self.link()?.call(json!({ "op": "interrupt", "target": target })).map_err(|e| e.to_string())?;
        }
        body(Value::Null)
    }

    pub(super) fn exception_info(&self, args: &Value) -> Handled {
        let process = thread_id(args)?;
        let stop = self.state().stopped.get(&process).cloned();
        match stop {
            Some(s) if s.reason == "exception" => body(json!({
                "exceptionId": "Error",
                "description": s.message,
                "breakMode": "unhandled",
                "details": { "message": s.message, "stackTrace": s.trace },
            })),
            _ => Err(format!("thread {process} did not stop at an error")),
        }
    }
}

fn needs_newer(what: &str, op: &str) -> String {
    format!("{what} needs the live operation '{op}', which this program does not offer (it runs an older mica)")
}

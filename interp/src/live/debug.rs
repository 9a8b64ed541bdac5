//! Debugging: while a client is connected, a process that hits an error
//! nobody handles stops (suspended with its frames, inside the kernel's
//! `Exception>>unhandled`) instead of ending, and every client gets a
//! `stopped` event. A client may pause a process, look at its stack,
//! evaluate in its frames, restart a frame (in its method's current
//! version: edit the method, then restart), return a value from a frame,
//! and let it go on (`continue`) or end it. When the last client leaves,
//! stopped processes end as they would have with nobody connected.
//!
//! Frames are changed only in suspended processes, whose frames lie in
//! their `Process` object: a process that runs again goes on in the
//! interpreter, which enters native code again at the next method entry,
//! so no native activation ever sees a changed frame.

use super::*;
use crate::frame::*;

impl Interpreter {
    /// Sends `event` to every connected client.
    pub(super) fn broadcast(&mut self, event: LiveEvent) {
        let Some(live) = self.live.as_mut() else { return };
        live.subscribers
            .retain(|_, tx| tx.send(LiveReply { id: 0, outcome: Ok(LiveAnswer::Event(event.clone())) }).is_ok());
    }

    /// An error nobody handled, in `Exception primUnhandled:text:stdout:`
    /// (`argc` arguments): with a client connected, the active process
    /// stops (answers whether it did; the primitive has then answered).
    pub(crate) fn stop_for_client(&mut self, argc: usize, text: &str, trace: &str) -> Result<bool, Flow> {
        if self.live.as_ref().is_none_or(|l| l.subscribers.is_empty()) || !self.kernel.processes_ok {
            return Ok(false);
        }
        let index = self.active_index()?;
        if self.live.as_ref().is_some_and(|l| l.evals.contains_key(&index)) {
            return Ok(false);
        }
        let Some(process) = self.active_process_value() else { return Ok(false) };
        let id = self.process_id(process);
        self.live_mut().stopped.insert(id, Stopped { message: text.to_string(), trace: trace.to_string() });
        self.broadcast(LiveEvent::Stopped { process: id, reason: "error", message: text.into(), trace: trace.into() });
        let nil = self.u.nil();
        self.finish_primitive(argc, nil)?;
        self.suspend_active()?;
        Ok(true)
    }

    fn live_ref_subscribers_empty(&self) -> bool {
        self.live.as_ref().is_none_or(|l| l.subscribers.is_empty())
    }

    /// The process of `id` if it is suspended (its frames may be changed).
    fn suspended_process(&self, id: u64) -> Result<Value, LiveFailure> {
        let process = self.process_of(id)?;
        if !self.is_suspended(process) {
            let state = self.process_state_name(process);
            return Err(failure(FailureKind::Refused, format!("process {id} is {state}: pause or suspend it first")));
        }
        Ok(process)
    }

    /// `continue`: a stopped process goes on past its error (the signal
    /// answers nil), a paused or suspended one goes on.
    pub(super) fn continue_process(&mut self, id: u64) -> Result<LiveAnswer, LiveFailure> {
        if self.live_mut().stepping.as_ref().is_some_and(|s| s.id == id) {
            self.end_stepping();
        }
        self.go_on(id)
    }

    /// The top word of a suspended process's operand stack becomes `v`.
    fn set_top_word(&mut self, process: Value, v: Value) -> Result<(), LiveFailure> {
        let frames = process.slot(crate::process::fields::FRAMES);
        if !frames.is_pointer() || frames.size() == 0 {
            return Err(failure(FailureKind::Error, "the stopped process has no frames"));
        }
        self.u.heap.store(frames, frames.size() - 1, v);
        Ok(())
    }

    /// What a stopped process becomes when no client is left: what it
    /// would have been with none connected (the main process ends the
    /// program with the report; another reports and ends). Paused ones go
    /// on.
    pub(super) fn release_stopped(&mut self) -> Result<(), Flow> {
        if !self.live_ref_subscribers_empty() {
            return Ok(());
        }
        self.end_stepping();
        for id in std::mem::take(&mut self.live_mut().paused) {
            if let Ok(process) = self.process_of(id) {
                self.resume_suspended(process);
            }
        }
        let stopped: Vec<(u64, Stopped)> = self.live_mut().stopped.drain().collect();
        for (id, s) in stopped {
            let Ok(process) = self.process_of(id) else { continue };
            if self.is_main_process(process) {
                return Err(Flow::Stop(Box::new(Stop::Error { message: s.message, trace: s.trace, on_stdout: false })));
            }
            let (name, _) = self.process_label(process);
            self.u
                .output
                .write_err(format!("Unhandled error in process {name}:\n{}{}\n", s.trace, s.message).as_bytes());
            // `primUnhandled:...` answers nil: the kernel ends the process.
            self.resume_suspended(process);
        }
        Ok(())
    }

    /// The frame `frame` (0: innermost) of a suspended process: its index
    /// in the process's frames and the bytecode index it is at.
    fn frame_at(&self, process: Value, frame: usize) -> Result<(Vec<(usize, usize)>, usize), LiveFailure> {
        let (frames, words) = self.process_frames(process);
        if words.is_none() || frame >= frames.len() {
            return Err(failure(FailureKind::NotFound, format!("no frame {frame} (the process has {})", frames.len())));
        }
        Ok((frames, frame))
    }

    /// `restart`: frame `frame` of process `id` begins again from its first
    /// bytecode, in the current version of its method.
    pub(super) fn restart_process_frame(&mut self, id: u64, frame: usize) -> Result<LiveAnswer, LiveFailure> {
        let process = self.suspended_process(id)?;
        let (frames, k) = self.frame_at(process, frame)?;
        let words = process.slot(crate::process::fields::FRAMES);
        let (fp, _) = frames[k];
        let mut method = words.slot(fp + FRAME_METHOD);
        let nil = self.u.nil();
        // A method (not a block) runs in its current version.
        if method.slot(METHOD_OUTER) == nil {
            let holder = method.slot(METHOD_HOLDER);
            let current = self.u.lookup(holder, method.slot(METHOD_SELECTOR));
            if current != nil && current.slot(METHOD_HOLDER) == holder {
                method = current;
            }
        }
        let (args, temps, stack) = method_info_counts(method.slot(METHOD_INFO).as_int().unwrap_or(0));
        let old_args = method_info_counts(words.slot(fp + FRAME_METHOD).slot(METHOD_INFO).as_int().unwrap_or(0)).0;
        if args != old_args {
            return Err(failure(FailureKind::Refused, "the method's new version takes other arguments"));
        }
        let top = fp + FRAME_HEADER + temps;
        if top + stack + STACK_RESERVE > self.u.stack.len() {
            return Err(failure(FailureKind::Refused, "the frame stack has no room for the restarted frame"));
        }
        // A block keeps its context (its outer variables); a method makes
        // its own again from its first bytecode.
        let closure = words.slot(fp + FRAME_CLOSURE);
        let context = if closure == nil { nil } else { closure.slot(CLOSURE_CONTEXT) };
        let overrides = vec![(fp + FRAME_METHOD, method), (fp + FRAME_CONTEXT, context)];
        let tail = vec![nil; temps];
        self.replace_frames(process, fp + FRAME_HEADER, &overrides, &tail, fp as i64, 0)?;
        self.live_mut().stopped.remove(&id);
        self.live_mut().step_stopped.retain(|p| *p != id);
        Ok(LiveAnswer::Processes(vec![self.process_info(id)]))
    }

    /// Gives a suspended `process` new frames: the first `prefix` words of
    /// its frames, with `overrides` (index, value) written over them, then
    /// `tail`; it runs frame `fp` at bytecode index `pc`.
    fn replace_frames(
        &mut self,
        process: Value,
        prefix: usize,
        overrides: &[(usize, Value)],
        tail: &[Value],
        fp: i64,
        pc: usize,
    ) -> Result<(), LiveFailure> {
        use crate::process::fields;
        let mark = self.u.handle_mark();
        // Rooted: the allocation may move what they point to.
        let hp = self.u.handle(process);
        let ho: Vec<_> = overrides.iter().map(|&(i, v)| (i, self.u.handle(v))).collect();
        let ht: Vec<_> = tail.iter().map(|&v| self.u.handle(v)).collect();
        let array = self.u.new_array(prefix + tail.len());
        let process = self.u.get(hp);
        let result = array.map(|array| {
            let old = process.slot(fields::FRAMES);
            for i in 0..prefix {
                self.u.heap.store(array, i, old.slot(i));
            }
            for &(i, h) in &ho {
                let v = self.u.get(h);
                self.u.heap.store(array, i, v);
            }
            for (k, h) in ht.iter().enumerate() {
                let v = self.u.get(*h);
                self.u.heap.store(array, prefix + k, v);
            }
            self.u.heap.store(process, fields::FRAMES, array);
            self.u.heap.store(process, fields::FP, Value::small(fp));
            self.u.heap.store(process, fields::PC, Value::small(pc as i64));
        });
        self.u.release_handles(mark);
        result.map_err(|e| failure(FailureKind::Error, e.to_string()))
    }

    /// Starts evaluating `source` for `client`, to return its value from
    /// frame `frame` of process `id`.
    pub(super) fn start_return(
        &mut self,
        request: (u64, u64, &Sender<LiveReply>),
        id: u64,
        frame: usize,
        source: &str,
    ) -> Result<(), LiveFailure> {
        let process = self.suspended_process(id)?;
        let (frames, k) = self.frame_at(process, frame)?;
        if k + 1 >= frames.len() {
            return Err(failure(FailureKind::Refused, "the outermost frame has no caller to return to"));
        }
        let (rid, client, reply) = request;
        self.start_eval_then(rid, client, source, reply.clone(), Then::Return { process: id, frame })
    }

    /// Returns `v` from frame `frame` of process `id`.
    pub(super) fn return_from_frame(&mut self, id: u64, frame: usize, v: Value) -> Result<(), LiveFailure> {
        let process = self.suspended_process(id)?;
        let (frames, k) = self.frame_at(process, frame)?;
        let words = process.slot(crate::process::fields::FRAMES);
        let (fp, _) = frames[k];
        let (caller_fp, caller_pc) = frames[k + 1];
        let args = method_info_counts(words.slot(fp + FRAME_METHOD).slot(METHOD_INFO).as_int().unwrap_or(0)).0;
        // The result takes the receiver's place on the caller's stack.
        let at = fp - args - 1;
        self.replace_frames(process, at, &[], &[v], caller_fp as i64, caller_pc)?;
        self.live_mut().stopped.remove(&id);
        self.live_mut().step_stopped.retain(|p| *p != id);
        Ok(())
    }

    /// Where variable `name` of frame `frame` of the suspended process `id`
    /// lives: a word of its frames, or a slot of the frame's context.
    fn variable_place(&self, id: u64, frame: usize, name: &str) -> Result<(Value, usize), LiveFailure> {
        let process = self.suspended_process(id)?;
        let (frames, k) = self.frame_at(process, frame)?;
        let words = process.slot(crate::process::fields::FRAMES);
        let (fp, _) = frames[k];
        let method = words.slot(fp + FRAME_METHOD);
        let (args, temps, _) = method_info_counts(method.slot(METHOD_INFO).as_int().unwrap_or(0));
        let names = method.slot(METHOD_NAMES);
        let named = |i: usize| names.is_pointer() && i < names.size() && self.u.text_or_describe(names.slot(i)) == name;
        if let Some(i) = (0..args).find(|&i| named(i)) {
            return Ok((words, fp - args + i));
        }
        if let Some(i) = (0..temps).find(|&i| named(args + i)) {
            return Ok((words, fp + FRAME_HEADER + i));
        }
        let context = words.slot(fp + FRAME_CONTEXT);
        if context.is_pointer()
            && context.format() == Format::Context
            && context.size() >= CONTEXT_FIXED
            && let Some(slot) = (0..context.size() - CONTEXT_FIXED).find(|&s| named(args + temps + s))
        {
            return Ok((context, CONTEXT_FIXED + slot));
        }
        Err(failure(FailureKind::NotFound, format!("frame {frame} has no variable {name} of its own")))
    }

    /// Starts evaluating `source` for `client`, to store its value into
    /// variable `name` of frame `frame` of process `id`.
    pub(super) fn start_set_in_frame(
        &mut self,
        request: (u64, u64, &Sender<LiveReply>),
        id: u64,
        frame: usize,
        name: String,
        source: &str,
    ) -> Result<(), LiveFailure> {
        self.variable_place(id, frame, &name)?;
        let (rid, client, reply) = request;
        self.start_eval_then(rid, client, source, reply.clone(), Then::StoreFrame { process: id, frame, name })
    }

    /// Stores `v` into variable `name` of frame `frame` of process `id`.
    pub(super) fn store_in_frame(&mut self, id: u64, frame: usize, name: &str, v: Value) -> Result<(), LiveFailure> {
        let (holder, index) = self.variable_place(id, frame, name)?;
        self.u.heap.store(holder, index, v);
        Ok(())
    }

    /// Starts evaluating `source` in frame `frame` of process `id`: a
    /// method of the frame's receiver's class whose arguments are the
    /// frame's variables, run on its receiver.
    pub(super) fn start_eval_in_frame(
        &mut self,
        request: (u64, u64, &Sender<LiveReply>),
        id: u64,
        frame: usize,
        source: &str,
    ) -> Result<(), LiveFailure> {
        let process = self.suspended_process(id)?;
        let (frames, k) = self.frame_at(process, frame)?;
        let words = process.slot(crate::process::fields::FRAMES);
        let (fp, _) = frames[k];
        let (names, values) = self.frame_variables(words, fp);
        let receiver = words.slot(fp + FRAME_SELF);
        let class = self.u.class_of(receiver);
        let fields = self.u.field_names(class);
        // Only names a method may bind: distinct identifiers, not fields.
        let mut params: Vec<(String, Value)> = Vec::new();
        for (n, v) in names.into_iter().zip(values) {
            let ok = !n.is_empty()
                && n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !fields.contains(&n)
                && !["self", "super", "nil", "true", "false", "thisContext"].contains(&n.as_str());
            if ok && !params.iter().any(|(p, _)| *p == n) {
                params.push((n, v));
            }
        }
        let header = if params.is_empty() {
            "doIt".to_string()
        } else {
            params
                .iter()
                .enumerate()
                .map(|(i, (n, _))| format!("{} {n}", if i == 0 { "doIt:" } else { "with:" }))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let text = format!("{header} = ( ^[\n{source}\n] value )");
        let options = vm::compiler::CompileOptions { allow_global_assignment: true };
        let code = vm::compiler::compile_method_source("<live>", &text, &fields, options)
            .map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
        vm::bytecode::verify_method(&code, fields.len() as u32)
            .map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
        let mark = self.u.handle_mark();
        let held: Vec<_> = params.iter().map(|(_, v)| self.u.handle(*v)).collect();
        let hr = self.u.handle(receiver);
        let made = (|| {
            let file = self.u.new_old_string("<live>").map_err(|e| e.to_string())?;
            let holder_name = self.u.class_name(class);
            let ns = self.eval_namespace;
            let nil = self.u.nil();
            let method = self.u.make_method(&code, class, ns, nil, file, &holder_name).map_err(|e| e.to_string())?;
            let hm = self.u.handle(method);
            let args = self.u.new_array(held.len()).map_err(|e| e.to_string())?;
            for (i, h) in held.iter().enumerate() {
                let v = self.u.get(*h);
                self.u.heap.store(args, i, v);
            }
            Ok::<_, String>((self.u.get(hm), args, self.u.get(hr)))
        })();
        self.u.release_handles(mark);
        let (method, args, receiver) = made.map_err(|e| failure(FailureKind::Error, e))?;
        let (rid, client, reply) = request;
        let pending = PendingEval { id: rid, client, reply: reply.clone(), then: Then::Value };
        self.start_live_process(pending, method, args, receiver)
    }

    /// The names and values of the arguments, temporaries and captured
    /// variables of the frame at `fp` in `words`.
    fn frame_variables(&self, words: Value, fp: usize) -> (Vec<String>, Vec<Value>) {
        let method = words.slot(fp + FRAME_METHOD);
        let (args, temps, _) = method_info_counts(method.slot(METHOD_INFO).as_int().unwrap_or(0));
        let names = method.slot(METHOD_NAMES);
        let name = |i: usize| {
            if names.is_pointer() && i < names.size() { self.u.text_or_describe(names.slot(i)) } else { String::new() }
        };
        let mut out_names = Vec::new();
        let mut values = Vec::new();
        for i in 0..args {
            out_names.push(name(i));
            values.push(words.slot(fp - args + i));
        }
        for i in 0..temps {
            // A temporary several variables share has no one name.
            let n = name(args + i);
            out_names.push(if n.contains('/') { String::new() } else { n });
            values.push(words.slot(fp + FRAME_HEADER + i));
        }
        let context = words.slot(fp + FRAME_CONTEXT);
        if context.is_pointer() && context.format() == Format::Context && context.size() >= CONTEXT_FIXED {
            for slot in 0..context.size() - CONTEXT_FIXED {
                out_names.push(name(args + temps + slot));
                values.push(context.slot(CONTEXT_FIXED + slot));
            }
        }
        (out_names, values)
    }
}

/// A process a client steps: where it stood when the step began.
pub(crate) struct Stepping {
    /// The process's id.
    id: u64,
    /// The process.
    process: PinId,
    kind: StepKind,
    /// The frame it stood in, and its method and line.
    fp: usize,
    method: PinId,
    line: u32,
}

impl Interpreter {
    /// `step`: process `id`, suspended, goes on in the interpreter until
    /// the next line (`kind`), then stops again.
    pub(super) fn start_step(&mut self, id: u64, kind: StepKind) -> Result<LiveAnswer, LiveFailure> {
        let process = self.suspended_process(id)?;
        let (frames, words) = self.process_frames(process);
        let Some(&(fp, pc)) = frames.first() else {
            return Err(failure(FailureKind::Refused, format!("process {id} has not started: resume it instead")));
        };
        let method = self.frame_word(words, fp + FRAME_METHOD).unwrap_or(self.u.nil());
        let line = self.u.line_at(method, pc);
        self.end_stepping();
        let (process, method) = (self.u.pin(process), self.u.pin(method));
        self.live_mut().stepping = Some(Stepping { id, process, kind, fp, method, line });
        // Every bytecode now passes the interpreter's epoch check.
        self.native_epoch = u64::MAX;
        self.go_on(id)
    }

    /// Lets process `id` go on: no longer paused, past its error if it
    /// stopped at one (`primUnhandled:...` answers true: the kernel lets
    /// it go on), stepped still if it is.
    fn go_on(&mut self, id: u64) -> Result<LiveAnswer, LiveFailure> {
        let process = self.process_of(id)?;
        self.live_mut().paused.retain(|p| *p != id);
        self.live_mut().step_stopped.retain(|p| *p != id);
        if self.live_mut().stopped.remove(&id).is_some() {
            self.set_top_word(process, self.u.known.true_)?;
        }
        self.resume_suspended(process);
        Ok(LiveAnswer::Processes(vec![self.process_info(id)]))
    }

    /// Forgets the stepped process.
    pub(super) fn end_stepping(&mut self) {
        if let Some(s) = self.live.as_mut().and_then(|l| l.stepping.take()) {
            self.u.unpin(s.process);
            self.u.unpin(s.method);
        }
    }

    /// Before each bytecode while a process is stepped: if it is the
    /// running one, it stays in the interpreter, and stops (answers true,
    /// another process running) once it reaches where the step goes.
    pub(crate) fn step_check(&mut self) -> Result<bool, Flow> {
        let Some(s) = self.live.as_ref().and_then(|l| l.stepping.as_ref()) else { return Ok(false) };
        self.native_epoch = u64::MAX;
        if self.fp == NO_FRAME || self.active_process_value() != Some(self.u.pinned(s.process)) {
            return Ok(false);
        }
        self.native = None;
        let here = self.u.line_at(self.method, self.pc);
        let same_frame = self.fp == s.fp && self.method == self.u.pinned(s.method);
        let arrived = match s.kind {
            StepKind::Over => self.fp < s.fp || (same_frame && here != s.line),
            StepKind::Into => self.fp < s.fp || !same_frame || here != s.line,
            StepKind::Out => self.fp < s.fp,
        };
        if !arrived {
            return Ok(false);
        }
        let id = s.id;
        self.end_stepping();
        if self.live.is_none() {
            return Ok(false);
        }
        self.live_mut().paused.push(id);
        self.live_mut().step_stopped.push(id);
        self.broadcast(LiveEvent::Stopped {
            process: id,
            reason: "step",
            message: String::new(),
            trace: String::new(),
        });
        self.suspend_active()?;
        Ok(true)
    }
}

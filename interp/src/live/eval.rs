//! Evaluations: each a process of its own above the program's priority,
//! answering its value, its error or its interruption to the client.

use super::*;

fn internal(message: String) -> LiveFailure {
    failure(FailureKind::Error, message)
}

impl Interpreter {
    /// Starts evaluating `source` for `client`: the value is answered
    /// under a new handle.
    pub(super) fn start_eval(
        &mut self,
        id: u64,
        client: u64,
        source: &str,
        reply: Sender<LiveReply>,
    ) -> Result<(), LiveFailure> {
        self.start_eval_then(id, client, source, reply, Then::Value)
    }

    /// Starts evaluating `source` for `client`; `then` says what becomes
    /// of the value.
    pub(super) fn start_eval_then(
        &mut self,
        id: u64,
        client: u64,
        source: &str,
        reply: Sender<LiveReply>,
        then: Then,
    ) -> Result<(), LiveFailure> {
        let method = self.live_method(&format!("doIt = ( ^[\n{source}\n] value )"))?;
        let nil = self.u.nil();
        self.start_live_process(PendingEval { id, client, reply, then }, method, nil, nil)
    }

    /// A method of UndefinedObject compiled from `text` (never installed).
    pub(super) fn live_method(&mut self, text: &str) -> Result<Value, LiveFailure> {
        self.live_kernel_ok()?;
        let nil = self.u.nil();
        let options = vm::compiler::CompileOptions { allow_global_assignment: true };
        let code = vm::compiler::compile_method_source("<live>", text, &[], options)
            .map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
        vm::bytecode::verify_method(&code, 0).map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
        let holder = self.u.class_of(nil);
        let file = self.u.new_old_string("<live>").map_err(|e| internal(e.to_string()))?;
        let ns = self.eval_namespace;
        self.u.make_method(&code, holder, ns, nil, file, "UndefinedObject").map_err(|e| internal(e.to_string()))
    }

    /// Starts printing the values `then` holds handles of, for `client`.
    pub(super) fn start_printing(
        &mut self,
        id: u64,
        client: u64,
        reply: Sender<LiveReply>,
        then: Then,
    ) -> Result<(), LiveFailure> {
        self.live_kernel_ok()?;
        let Some(handles) = then.printed().map(<[u64]>::to_vec) else {
            return Err(internal("nothing to print".into()));
        };
        let values = self.u.new_array(handles.len()).map_err(|e| internal(e.to_string()))?;
        for (i, h) in handles.iter().enumerate() {
            let v = self.held(client, *h)?;
            self.u.heap.store(values, i, v);
        }
        let nil = self.u.nil();
        self.start_live_process(PendingEval { id, client, reply, then }, nil, values, nil)
    }

    fn live_kernel_ok(&self) -> Result<(), LiveFailure> {
        if self.kernel.live_evaluation == self.u.nil() || !self.kernel.processes_ok {
            return Err(failure(FailureKind::Refused, "this kernel cannot run evaluations (no LiveEvaluation)"));
        }
        Ok(())
    }

    /// A process of priority [`EVAL_PRIORITY`] running a `LiveEvaluation`
    /// of `method` on `receiver` with arguments `values` (or, without a
    /// method, printing `values`), answering `pending`.
    pub(super) fn start_live_process(
        &mut self,
        pending: PendingEval,
        method: Value,
        values: Value,
        receiver: Value,
    ) -> Result<(), LiveFailure> {
        let class = self.kernel.live_evaluation;
        let id = pending.id;
        let mark = self.u.handle_mark();
        let (hm, hv, hr) = (self.u.handle(method), self.u.handle(values), self.u.handle(receiver));
        let made = (|| {
            // The program's process exists before another is made.
            self.active_index().map_err(|_| internal("cannot make the main process".into()))?;
            let eval = self.u.alloc(class, Format::Fields, 3).map_err(|e| internal(e.to_string()))?;
            eval.set_slot_raw(0, self.u.get(hm));
            eval.set_slot_raw(1, self.u.get(hv));
            eval.set_slot_raw(2, self.u.get(hr));
            let he = self.u.handle(eval);
            let name = self.u.new_string(&format!("live evaluation {id}")).map_err(|e| internal(e.to_string()))?;
            let hn = self.u.handle(name);
            let process = self.new_process_object().map_err(internal)?;
            let (eval, name) = (self.u.get(he), self.u.get(hn));
            Ok::<_, LiveFailure>(self.schedule_new_process(process, eval, name, EVAL_PRIORITY))
        })();
        self.u.release_handles(mark);
        let index = made?;
        self.live_mut().evals.insert(index, pending);
        Ok(())
    }

    /// `LiveEvaluation>>answer: anObject print: printString`: the
    /// evaluation's reply.
    pub(crate) fn live_answer(&mut self, argc: usize) -> Step {
        let value = self.peek(1);
        let print = self.u.text_or_describe(self.peek(0));
        if let Some(pending) = self.scheduler_active().and_then(|i| self.live.as_mut()?.evals.remove(&i)) {
            let client = pending.client;
            let outcome = match pending.then {
                Then::Value => Ok(LiveAnswer::Value(self.show(client, value, print))),
                Then::Store { target, index } => self
                    .store_slot(client, target, index, value)
                    .map(|()| LiveAnswer::Value(self.show(client, value, print))),
                Then::Process(process) => Ok(LiveAnswer::Processes(vec![self.process_info(process)])),
                Then::Paused(process) => {
                    self.live_mut().paused.push(process);
                    let event =
                        LiveEvent::Stopped { process, reason: "pause", message: String::new(), trace: String::new() };
                    self.broadcast(event);
                    Ok(LiveAnswer::Processes(vec![self.process_info(process)]))
                }
                Then::StoreFrame { process, frame, name } => self
                    .store_in_frame(process, frame, &name, value)
                    .map(|()| LiveAnswer::Value(self.show(client, value, print))),
                Then::Return { process, frame } => self
                    .return_from_frame(process, frame, value)
                    .map(|()| LiveAnswer::Value(self.show(client, value, print))),
                Then::Inspect { .. } | Then::Stack { .. } => Err(internal("an evaluation answered a printing".into())),
            };
            let _ = pending.reply.send(LiveReply { id: pending.id, outcome });
        }
        let receiver = self.peek(argc);
        self.finish_primitive(argc, receiver)
    }

    /// `LiveEvaluation>>answerPrints: anArray`: the printStrings an
    /// inspection asked for.
    pub(crate) fn live_prints(&mut self, argc: usize) -> Step {
        let prints = self.peek(0);
        if let Some(pending) = self.scheduler_active().and_then(|i| self.live.as_mut()?.evals.remove(&i)) {
            let texts: Vec<String> = if prints.is_pointer() && prints.format() == Format::Array {
                (0..prints.size()).map(|i| self.u.text_or_describe(prints.slot(i))).collect()
            } else {
                Vec::new()
            };
            let outcome = match pending.then {
                then @ Then::Stack { .. } => self.stack_answer(then, texts),
                then => self.inspection(then, texts),
            };
            let _ = pending.reply.send(LiveReply { id: pending.id, outcome });
        }
        let receiver = self.peek(argc);
        self.finish_primitive(argc, receiver)
    }

    /// An error nobody handled in process `index`: if it is an evaluation,
    /// its client gets the report (answers whether it was).
    pub(crate) fn live_eval_failed(&mut self, index: u32, message: &str, trace: &str) -> bool {
        let Some(pending) = self.live.as_mut().and_then(|l| l.evals.remove(&index)) else { return false };
        let outcome = Err(LiveFailure { kind: FailureKind::Error, message: message.into(), trace: trace.into() });
        let _ = pending.reply.send(LiveReply { id: pending.id, outcome });
        true
    }

    /// Process `index` ended or was forgotten: an evaluation that did not
    /// answer answers that it was interrupted.
    pub(crate) fn live_process_gone(&mut self, index: u32) {
        if let Some(pending) = self.live.as_mut().and_then(|l| l.evals.remove(&index)) {
            let outcome = Err(failure(FailureKind::Interrupted, "the evaluation was interrupted"));
            let _ = pending.reply.send(LiveReply { id: pending.id, outcome });
        }
    }

    /// A flow that would stop the program, in an evaluation's process:
    /// the client gets it and only that process ends. Answers the flow to
    /// go on with (`None`: go on running).
    pub(crate) fn live_contain(&mut self, flow: Flow) -> Option<Flow> {
        let Some(index) = self.scheduler_active() else { return Some(flow) };
        if !self.live.as_ref().is_some_and(|l| l.evals.contains_key(&index)) {
            return Some(flow);
        }
        let (message, trace) = match &flow {
            Flow::Stop(stop) => match &**stop {
                Stop::Error { message, trace, .. } => (message.clone(), trace.clone()),
                Stop::Fatal(message) => (message.clone(), String::new()),
                Stop::Exit(_) => return Some(flow),
            },
            Flow::Raise(r) => (r.message.clone(), self.stack_trace()),
            Flow::Return(_) => return Some(flow),
        };
        self.live_eval_failed(index, &message, &trace);
        self.end_active_process().err()
    }

    pub(super) fn interrupt_evals(&mut self, client: u64, target: Option<u64>, idle: bool) -> Result<usize, Flow> {
        let Some(live) = self.live.as_ref() else { return Ok(0) };
        let victims: Vec<u32> = live
            .evals
            .iter()
            .filter(|(_, p)| p.client == client && target.is_none_or(|t| t == p.id))
            .map(|(&i, _)| i)
            .collect();
        let active = self.scheduler_active();
        for &index in &victims {
            if Some(index) != active {
                self.live_process_gone(index);
                self.kill_process(index);
            }
        }
        // The running one last: ending it switches to another process.
        if let Some(a) = active.filter(|a| victims.contains(a)) {
            self.live_process_gone(a);
            if idle {
                // It waits, its frames on the stack: the scheduler drops
                // them when it switches.
                self.kill_process(a);
            } else if self.fp != NO_FRAME {
                self.end_active_process()?;
            }
        }
        Ok(victims.len())
    }
}

//! Processes for live clients: listing them (each with an id that stays
//! the same while the program runs), suspending, resuming and terminating
//! them — by a process of the client's sending `suspend`, `resume` or
//! `terminate`, so the language's own semantics hold (a terminated process
//! runs its unwind blocks) — and their stacks: per frame the method, file
//! and line, and the receiver, arguments and temporaries by name, each
//! shown with its printString and a handle.

use super::*;

impl Interpreter {
    /// The id of `process` (given the first time it is shown).
    pub(super) fn process_id(&mut self, process: Value) -> u64 {
        if let Some(&(id, _)) = self.live_ref().processes.iter().find(|(_, pin)| self.u.pinned(*pin) == process) {
            return id;
        }
        let pin = self.u.pin(process);
        let live = self.live_mut();
        let id = live.next_process;
        live.next_process += 1;
        live.processes.push((id, pin));
        id
    }

    /// The instruction frame `k` (0: innermost) of process `id` stands at,
    /// when it goes on at `pc`: the one before (a send, a primitive that
    /// suspended it), except where a step stopped it, before `pc`.
    fn instruction_at(&self, id: u64, k: usize, pc: usize) -> usize {
        if k == 0 && self.live_ref().step_stopped.contains(&id) { pc } else { pc.saturating_sub(1) }
    }

    /// Whether `v` is an Exception (of the kernel's class or a subclass).
    fn is_exception(&self, v: Value) -> bool {
        let exception = self.kernel.exception;
        let mut class = self.u.class_of(v);
        let nil = self.u.nil();
        while class != nil && class.is_pointer() {
            if class == exception {
                return true;
            }
            class = class.slot(CLASS_SUPERCLASS);
        }
        false
    }

    fn live_ref(&self) -> &LiveState {
        self.live.as_ref().expect("live requests are enabled")
    }

    /// The process of `id`.
    pub(super) fn process_of(&self, id: u64) -> Result<Value, LiveFailure> {
        self.live_ref()
            .processes
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, pin)| self.u.pinned(*pin))
            .ok_or_else(|| failure(FailureKind::NotFound, format!("no process {id} (see processes)")))
    }

    /// What `processes` says of the process of `id`.
    pub(super) fn process_info(&self, id: u64) -> ProcessInfo {
        let Ok(process) = self.process_of(id) else {
            return ProcessInfo {
                id,
                name: String::new(),
                priority: 0,
                state: "terminated",
                top: String::new(),
                evaluation: false,
                message: String::new(),
            };
        };
        let (name, priority) = self.process_label(process);
        let (frames, words) = self.process_frames(process);
        let top = frames
            .first()
            .and_then(|&(fp, pc)| self.frame_word(words, fp + crate::frame::FRAME_METHOD).map(|m| (m, pc)))
            .map_or(String::new(), |(m, pc)| self.frame_description(m, self.instruction_at(id, 0, pc)));
        let index = process.slot(crate::process::fields::INDEX).as_int();
        let evaluation = index.is_some_and(|i| self.live_ref().evals.contains_key(&(i as u32)));
        // Suspended at an error nobody handled: "stopped", with the message.
        let stopped = self.live_ref().stopped.get(&id).map(|s| s.message.clone());
        let state = if stopped.is_some() { "stopped" } else { self.process_state_name(process) };
        ProcessInfo { id, name, priority, state, top, evaluation, message: stopped.unwrap_or_default() }
    }

    /// Every process the scheduler knows, and those clients were shown
    /// that have not ended (a suspended one included).
    pub(super) fn list_processes(&mut self) -> Vec<ProcessInfo> {
        // The main process exists once anything asks about processes.
        let _ = self.active_index();
        for p in self.scheduled_processes() {
            self.process_id(p);
        }
        let ended: Vec<u64> = self
            .live_ref()
            .processes
            .iter()
            .filter(|(_, pin)| self.process_state_name(self.u.pinned(*pin)) == "terminated")
            .map(|(id, _)| *id)
            .collect();
        let mut list: Vec<ProcessInfo> =
            self.live_ref().processes.iter().map(|(id, _)| self.process_info(*id)).collect();
        // An ended process is listed once, then forgotten.
        let live = self.live_mut();
        let mut gone = Vec::new();
        live.processes.retain(|(id, pin)| {
            let keep = !ended.contains(id);
            if !keep {
                gone.push(*pin);
            }
            keep
        });
        for pin in gone {
            self.u.unpin(pin);
        }
        list.sort_by_key(|p| p.id);
        list
    }

    /// Starts a process of the client's that sends `action` to the
    /// process of `id`.
    pub(super) fn start_control(
        &mut self,
        request: (u64, u64, &Sender<LiveReply>),
        id: u64,
        action: ProcessAction,
    ) -> Result<(), LiveFailure> {
        self.start_control_then(request, id, action, Then::Process(id))
    }

    /// [`Interpreter::start_control`], answering as `then` says.
    pub(super) fn start_control_then(
        &mut self,
        request: (u64, u64, &Sender<LiveReply>),
        id: u64,
        action: ProcessAction,
        then: Then,
    ) -> Result<(), LiveFailure> {
        let (request_id, client, reply) = request;
        let process = self.process_of(id)?;
        let method = self.live_method(&format!("doIt: p = ( p {}. ^p )", action.name()))?;
        let mark = self.u.handle_mark();
        let hm = self.u.handle(method);
        let args = self.u.new_array(1).map_err(|e| failure(FailureKind::Error, e.to_string()));
        let method = self.u.get(hm);
        self.u.release_handles(mark);
        let args = args?;
        let process = self.process_of(id).unwrap_or(process);
        self.u.heap.store(args, 0, process);
        let nil = self.u.nil();
        if action == ProcessAction::Terminate {
            self.live_mut().stopped.remove(&id);
        }
        if action != ProcessAction::Suspend {
            self.live_mut().step_stopped.retain(|p| *p != id);
        }
        let pending = PendingEval { id: request_id, client, reply: reply.clone(), then };
        self.start_live_process(pending, method, args, nil)
    }

    /// Starts printing the receivers, arguments and temporaries of the
    /// innermost `count` frames of the process of `id`.
    pub(super) fn start_stack(
        &mut self,
        request: (u64, u64, &Sender<LiveReply>),
        id: u64,
        count: usize,
    ) -> Result<(), LiveFailure> {
        let (request_id, client, reply) = request;
        let process = self.process_of(id)?;
        let (frames, words) = self.process_frames(process);
        let depth = frames.len();
        let mut values = Vec::new();
        let mut shapes = Vec::new();
        for (k, &(fp, pc)) in frames.iter().take(count).enumerate() {
            let word = |i: usize| self.frame_word(words, i).unwrap_or(self.u.nil());
            let method = word(fp + crate::frame::FRAME_METHOD);
            let (args, temps, _) = method_info_counts(method.slot(METHOD_INFO).as_int().unwrap_or(0));
            let names = method.slot(METHOD_NAMES);
            let name = |i: usize, fallback: String| {
                let n = if names.is_pointer() && i < names.size() {
                    self.u.text_or_describe(names.slot(i))
                } else {
                    String::new()
                };
                if n.is_empty() { fallback } else { n }
            };
            values.push(word(fp + crate::frame::FRAME_SELF));
            let arguments: Vec<String> = (0..args).map(|i| name(i, format!("arg{}", i + 1))).collect();
            values.extend((0..args).map(|i| word(fp - args + i)));
            let mut temporaries: Vec<String> =
                (0..temps).map(|i| name(args + i, format!("(temporary {})", i + 1))).collect();
            values.extend((0..temps).map(|i| word(fp + crate::frame::FRAME_HEADER + i)));
            // The captured variables of the activation's own context.
            let context = word(fp + crate::frame::FRAME_CONTEXT);
            if context.is_pointer() && context.format() == Format::Context && context.size() >= CONTEXT_FIXED {
                for slot in 0..context.size() - CONTEXT_FIXED {
                    temporaries.push(name(args + temps + slot, format!("(captured {})", slot + 1)));
                    values.push(context.slot(CONTEXT_FIXED + slot));
                }
            }
            let line = self.u.line_at(method, self.instruction_at(id, k, pc));
            let file = self.u.text_or_describe(method.slot(METHOD_FILE));
            // The kernel's own part of signalling an error (and of other
            // machinery it marks hidden).
            let flags = vm::bytecode::CodeFlags::from_bits(
                (method.slot(METHOD_INFO).as_int().unwrap_or(0) >> METHOD_INFO_FLAGS_SHIFT) as u8,
            );
            let receiver = word(fp + crate::frame::FRAME_SELF);
            let hidden = flags.contains(vm::bytecode::CodeFlags::HIDDEN) || self.is_exception(receiver);
            shapes.push(FrameShape { method: self.method_name(method), file, line, arguments, temporaries, hidden });
        }
        let handles: Vec<u64> = values.into_iter().map(|v| self.hold(client, v)).collect();
        let then = Then::Stack { process: id, handles, frames: shapes, depth };
        self.start_printing(request_id, client, reply.clone(), then)
    }

    /// The stack `then` describes, from the printStrings of its values.
    pub(super) fn stack_answer(&self, then: Then, prints: Vec<String>) -> Result<LiveAnswer, LiveFailure> {
        let Then::Stack { process, handles, frames, depth } = then else {
            return Err(failure(FailureKind::Error, "printStrings of something else answered to a stack"));
        };
        if prints.len() != handles.len() {
            return Err(failure(FailureKind::Error, "the printStrings do not match the values"));
        }
        let mut k = 0;
        let mut next = || {
            let h = handles[k];
            let v = self.live_ref().handles.get(&h).map_or(self.u.nil(), |held| self.u.pinned(held.pin));
            let shown = Shown {
                print: inspect::cut(prints[k].clone()),
                class: self.u.class_name(self.u.class_of(v)),
                handle: h,
            };
            k += 1;
            shown
        };
        let frames = frames
            .into_iter()
            .map(|f| {
                let receiver = next();
                let arguments = f.arguments.into_iter().map(|n| (n, next())).collect();
                let temporaries = f.temporaries.into_iter().map(|n| (n, next())).collect();
                FrameInfo {
                    method: f.method,
                    file: f.file,
                    line: f.line,
                    receiver,
                    arguments,
                    temporaries,
                    hidden: f.hidden,
                }
            })
            .collect();
        Ok(LiveAnswer::Stack { process, frames, depth })
    }
}

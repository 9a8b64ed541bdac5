//! Live requests: what a client connected to the running program asks of
//! it (evaluate, define, remove, revert, interrupt, statistics), served by
//! the program's own thread at safepoints.
//!
//! ```text
//!  connection threads (the mica crate)        program's thread
//!  LiveRequest --mpsc--> inbox, then LIVE     safepoint (method entry or
//!  raised in the interrupt word  ---------->  loop back-edge, interpreted
//!                                             or native; or while idle):
//!                                             drains the inbox
//!  LiveReply <--mpsc-- (per connection) <---  a definition: at once
//!                                             an evaluation: a process of
//!                                             priority 50, which answers
//!                                             when it ends
//! ```
//!
//! Requests never run on another thread: the heap, the method
//! dictionaries and native code belong to the program's thread. An
//! evaluation runs as a process of its own (a kernel `LiveEvaluation` as
//! its block), above the program's priority, so it preempts the program at
//! once, may wait on a Delay or a Semaphore like any process, and an
//! error nobody handles ends only it (the client gets the message and the
//! trace). Interrupting it terminates that process. A definition is
//! compiled whole before anything is installed, so a compile error changes
//! nothing; every change keeps the method list it replaced, for `revert`.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender};

use vm::layout::*;
use vm::object::Format;
use vm::universe::{NamespaceId, PinId};
use vm::value::Value;

use crate::call::NO_FRAME;
use crate::error::Stop;
use crate::{Flow, Interpreter, Step};

mod browse;
mod debug;
mod edits;
mod eval;
mod inspect;
mod processes;
mod relayout;
mod requests;
mod saved;

pub use requests::*;

pub(crate) use debug::Stepping;

fn failure(kind: FailureKind, message: impl Into<String>) -> LiveFailure {
    LiveFailure { kind, message: message.into(), trace: String::new() }
}

/// An evaluation (or an inspection) waiting for its process to answer.
struct PendingEval {
    id: u64,
    client: u64,
    reply: Sender<LiveReply>,
    then: Then,
}

/// What the answer of a live process becomes.
enum Then {
    /// An evaluation's value, shown under a new handle.
    Value,
    /// Stored into slot `index` of the object of handle `target`, then
    /// shown.
    Store { target: u64, index: usize },
    /// The printStrings of the objects of `handles` (the object, its
    /// fields, then elements) make an inspection.
    Inspect { handles: Vec<u64>, fields: Vec<String>, size: usize, elements: Vec<usize> },
    /// A process was suspended, resumed or terminated: its state is the
    /// answer.
    Process(u64),
    /// A process was paused: its state is the answer, and every client
    /// gets a `stopped` event.
    Paused(u64),
    /// The value is returned from frame `frame` of process `process`.
    Return { process: u64, frame: usize },
    /// The value is stored into variable `name` of frame `frame` of process
    /// `process`.
    StoreFrame { process: u64, frame: usize, name: String },
    /// The printStrings of the objects of `handles` (per frame: receiver,
    /// arguments, temporaries) make a stack.
    Stack { process: u64, handles: Vec<u64>, frames: Vec<FrameShape>, depth: usize },
}

impl Then {
    /// The handles of the values to print, if it prints.
    fn printed(&self) -> Option<&[u64]> {
        match self {
            Then::Inspect { handles, .. } | Then::Stack { handles, .. } => Some(handles),
            _ => None,
        }
    }
}

/// A frame of a stack, waiting for the printStrings of its values.
struct FrameShape {
    method: String,
    file: String,
    line: u32,
    arguments: Vec<String>,
    temporaries: Vec<String>,
    hidden: bool,
}

/// A process stopped at an error nobody handled.
struct Stopped {
    message: String,
    trace: String,
}

/// An object a client holds a handle to.
struct Held {
    client: u64,
    pin: PinId,
}

/// A subclass re-laid out because its superclass's fields changed.
struct Relaid {
    class: PinId,
    compiled: vm::bytecode::CompiledClass,
    layout: Vec<String>,
    /// Methods clients defined in it (class side?, source), to compile
    /// again.
    client_methods: Vec<(bool, String)>,
}

/// What `revert` restores: the method list a class had before an edit.
struct Undo {
    class: PinId,
    /// The class's method list before (an Array, or nil).
    methods: PinId,
    /// For a new class or a removed one: the binding and its value before.
    binding: Option<(PinId, PinId)>,
    class_name: String,
    what: String,
}

/// What one edit changed, as `save` writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SavedKind {
    Method,
    RemoveMethod,
    Class,
    RemoveClass,
}

impl SavedKind {
    const NAMES: [(&'static str, SavedKind); 4] = [
        ("method", SavedKind::Method),
        ("removeMethod", SavedKind::RemoveMethod),
        ("class", SavedKind::Class),
        ("removeClass", SavedKind::RemoveClass),
    ];

    fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, k)| *k == self).map_or("", |(n, _)| n)
    }

    fn of_class(self) -> bool {
        matches!(self, SavedKind::Class | SavedKind::RemoveClass)
    }
}

/// One edit of the session, kept for `save`.
#[derive(Clone, Debug)]
struct Logged {
    kind: SavedKind,
    /// The namespace of the class (by name).
    namespace: String,
    class: String,
    class_side: bool,
    selector: String,
    /// The method's or the class's source.
    source: String,
    /// The method the edit installed.
    installed: Option<PinId>,
}

/// The version of the edits file's layout.
const EDITS_FORMAT: i64 = 1;
/// The namespace name of an edits file.
pub const EDITS_NAMESPACE: &str = "MicaEdits";

/// Class shapes for compiling against the running program: its classes
/// as they are now, then the class path.
struct Running<'a> {
    shapes: HashMap<String, vm::compiler::ClassShape>,
    path: &'a vm::compiler::ClassPath,
}

impl vm::compiler::ClassResolver for Running<'_> {
    fn shape(&self, name: &str, from_dir: Option<&std::path::Path>) -> vm::compiler::Result<vm::compiler::ClassShape> {
        match self.shapes.get(name) {
            Some(shape) => Ok(shape.clone()),
            None => self.path.shape(name, from_dir),
        }
    }
}

/// The live state of the interpreter.
pub(crate) struct LiveState {
    inbox: Receiver<LiveRequest>,
    /// Running evaluations, by scheduler slot of their process.
    evals: HashMap<u32, PendingEval>,
    undo: Vec<Undo>,
    edits: Vec<EditRecord>,
    log: Vec<Logged>,
    /// Objects clients hold, by handle.
    handles: HashMap<u64, Held>,
    /// The last handle given.
    next_handle: u64,
    /// Processes clients were shown, by id (kept, so a suspended process
    /// stays listed).
    processes: Vec<(u64, PinId)>,
    /// The next process id.
    next_process: u64,
    /// Where each connected client's events go.
    subscribers: HashMap<u64, Sender<LiveReply>>,
    /// Processes stopped at errors, by id.
    stopped: HashMap<u64, Stopped>,
    /// Processes clients paused (they go on when the last client leaves).
    paused: Vec<u64>,
    /// Processes a step stopped: before the instruction they go on at.
    step_stopped: Vec<u64>,
    /// The process a client steps, if any.
    pub(crate) stepping: Option<Stepping>,
}

impl Interpreter {
    /// Lets live requests reach this interpreter: the connection threads
    /// send them through the answer's `requests` and raise
    /// [`vm::interrupts::LIVE`] in its `interrupts`.
    pub fn enable_live(&mut self) -> LiveHandle {
        let (tx, rx) = std::sync::mpsc::channel();
        self.live = Some(Box::new(LiveState {
            inbox: rx,
            evals: HashMap::new(),
            undo: Vec::new(),
            edits: Vec::new(),
            log: Vec::new(),
            handles: HashMap::new(),
            next_handle: 0,
            processes: Vec::new(),
            next_process: 1,
            subscribers: HashMap::new(),
            stopped: HashMap::new(),
            paused: Vec::new(),
            step_stopped: Vec::new(),
            stepping: None,
        }));
        LiveHandle {
            requests: tx,
            clients: std::sync::Arc::clone(&self.live_clients),
            interrupts: std::sync::Arc::clone(&self.u.interrupts),
        }
    }

    /// Makes live evaluations and `system global:` see the globals of `ns`
    /// (the namespace of the program's main class; the program's own by
    /// default).
    pub fn set_eval_namespace(&mut self, ns: NamespaceId) {
        self.eval_namespace = ns;
        self.u.main_namespace = ns;
    }

    /// Stops taking live requests (the program ends): evaluations that
    /// did not answer never will, and requests still waiting are dropped.
    pub fn disable_live(&mut self) {
        if let Some(live) = self.live.take() {
            self.past_edits = live.edits;
        }
    }

    /// The edits of the session, for `--stats`.
    pub fn live_edits(&self) -> Vec<EditRecord> {
        self.live.as_ref().map(|l| l.edits.clone()).unwrap_or_else(|| self.past_edits.clone())
    }

    /// Serves the requests waiting, at a safepoint (`idle`: while no
    /// process can run, inside the scheduler). Definitions take effect at
    /// once; evaluations become ready processes; interrupts end them.
    /// Answers whether a process was made ready or ended.
    pub(crate) fn serve_live(&mut self, idle: bool) -> Result<bool, Flow> {
        let mut scheduled = false;
        loop {
            let Some(live) = self.live.as_ref() else { return Ok(false) };
            let Ok(request) = live.inbox.try_recv() else { break };
            let LiveRequest { id, client, op, reply } = request;
            let outcome = match op {
                LiveOp::Eval { source } => match self.start_eval(id, client, &source, reply.clone()) {
                    Ok(()) => {
                        scheduled = true;
                        continue;
                    }
                    Err(f) => Err(f),
                },
                LiveOp::Interrupt { target } => {
                    let n = self.interrupt_evals(client, target, idle)?;
                    scheduled |= n > 0;
                    if target.is_some() && n == 0 {
                        Err(failure(FailureKind::NotFound, "no evaluation of this client with that id is running"))
                    } else {
                        Ok(LiveAnswer::Interrupted { evaluations: n })
                    }
                }
                LiveOp::Connected => {
                    self.live_mut().subscribers.insert(client, reply.clone());
                    continue;
                }
                LiveOp::Disconnected => {
                    self.interrupt_evals(client, None, idle)?;
                    self.release(client, None);
                    self.live_mut().subscribers.remove(&client);
                    self.release_stopped()?;
                    scheduled = true;
                    continue;
                }
                LiveOp::EvalInFrame { source, process, frame } => {
                    match self.start_eval_in_frame((id, client, &reply), process, frame, &source) {
                        Ok(()) => {
                            scheduled = true;
                            continue;
                        }
                        Err(f) => Err(f),
                    }
                }
                LiveOp::SetInFrame { process, frame, name, source } => {
                    match self.start_set_in_frame((id, client, &reply), process, frame, name, &source) {
                        Ok(()) => {
                            scheduled = true;
                            continue;
                        }
                        Err(f) => Err(f),
                    }
                }
                LiveOp::Pause { process } => {
                    match self.start_control_then(
                        (id, client, &reply),
                        process,
                        ProcessAction::Suspend,
                        Then::Paused(process),
                    ) {
                        Ok(()) => {
                            scheduled = true;
                            continue;
                        }
                        Err(f) => Err(f),
                    }
                }
                LiveOp::Continue { process } => {
                    scheduled = true;
                    self.continue_process(process)
                }
                LiveOp::Restart { process, frame } => self.restart_process_frame(process, frame),
                LiveOp::Return { process, frame, source } => {
                    match self.start_return((id, client, &reply), process, frame, &source) {
                        Ok(()) => {
                            scheduled = true;
                            continue;
                        }
                        Err(f) => Err(f),
                    }
                }
                LiveOp::Step { process, kind } => {
                    scheduled = true;
                    self.start_step(process, kind)
                }
                LiveOp::Inspect { handle, offset, count } => {
                    match self.start_inspect((id, client, &reply), handle, offset, count) {
                        Ok(()) => {
                            scheduled = true;
                            continue;
                        }
                        Err(f) => Err(f),
                    }
                }
                LiveOp::Set { handle, slot, source } => {
                    match self.start_set((id, client, &reply), handle, &slot, &source) {
                        Ok(()) => {
                            scheduled = true;
                            continue;
                        }
                        Err(f) => Err(f),
                    }
                }
                LiveOp::Processes => Ok(LiveAnswer::Processes(self.list_processes())),
                LiveOp::Control { process, action } => {
                    match self.start_control((id, client, &reply), process, action) {
                        Ok(()) => {
                            scheduled = true;
                            continue;
                        }
                        Err(f) => Err(f),
                    }
                }
                LiveOp::Stack { process, count } => match self.start_stack((id, client, &reply), process, count) {
                    Ok(()) => {
                        scheduled = true;
                        continue;
                    }
                    Err(f) => Err(f),
                },
                LiveOp::Release { handles } => {
                    Ok(LiveAnswer::Released { count: self.release(client, handles.as_deref()) })
                }
                LiveOp::DefineMethod { class, class_side, source } => self.define_method(&class, class_side, &source),
                LiveOp::DefineClass { source } => self.define_class(&source),
                LiveOp::RemoveMethod { class, class_side, selector } => {
                    self.remove_live_method(&class, class_side, &selector)
                }
                LiveOp::RemoveClass { class } => self.remove_live_class(&class),
                LiveOp::Revert { class } => self.revert(class.as_deref()),
                LiveOp::Stats => Ok(LiveAnswer::Stats(self.live_stats())),
                LiveOp::Save { path } => self.save_edits(&path),
                LiveOp::Namespaces => Ok(self.list_namespaces()),
                LiveOp::Classes { namespace } => self.list_classes(namespace.as_deref()),
                LiveOp::ClassInfo { class } => self.describe_class(&class),
                LiveOp::Implementors { selector } => Ok(self.implementors(&selector)),
                LiveOp::Senders { selector } => Ok(self.senders(&selector)),
                LiveOp::Source { class, class_side, selector } => self.method_source(&class, class_side, &selector),
            };
            let _ = reply.send(LiveReply { id, outcome });
        }
        Ok(scheduled)
    }

    fn running(&self) -> Running<'_> {
        Running { shapes: self.u.class_shapes(NamespaceId::PROGRAM), path: &self.class_path }
    }

    fn live_mut(&mut self) -> &mut LiveState {
        self.live.as_mut().expect("live requests are enabled")
    }

    fn live_stats(&self) -> LiveStats {
        let live = self.live.as_ref().expect("live requests are enabled");
        LiveStats {
            edits: live.edits.clone(),
            native_methods: self.u.runtimes.iter().filter(|rt| rt.info.native.is_some()).count(),
            evaluations: live.evals.len(),
            revertible: live.undo.len(),
        }
    }
}

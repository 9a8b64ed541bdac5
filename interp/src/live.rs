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

/// The priority of a live evaluation's process (the program's is 40).
pub const EVAL_PRIORITY: i64 = 50;

/// What the connection threads need to reach the program's thread.
#[derive(Clone, Debug)]
pub struct LiveHandle {
    /// Where requests go.
    pub requests: Sender<LiveRequest>,
    /// Clients connected now (counted by the endpoint; while one is, a
    /// program whose processes all wait is not deadlocked).
    pub clients: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// The interrupt word to raise LIVE in.
    pub interrupts: std::sync::Arc<vm::interrupts::Interrupts>,
}

impl LiveHandle {
    /// Hands `request` to the program; false if the program is gone.
    pub fn send(&self, request: LiveRequest) -> bool {
        let ok = self.requests.send(request).is_ok();
        self.interrupts.request(vm::interrupts::LIVE);
        ok
    }
}

/// A request, as the connection threads hand it to the program.
pub struct LiveRequest {
    /// The client's request id (echoed in the reply).
    pub id: u64,
    /// Which connection it came from.
    pub client: u64,
    /// What it asks.
    pub op: LiveOp,
    /// Where the reply goes.
    pub reply: Sender<LiveReply>,
}

/// What a request asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveOp {
    /// Evaluate statements; answer the last one's `printString`.
    Eval {
        /// The statements.
        source: String,
    },
    /// Stop running evaluations: the one with request id `target` of this
    /// client, or all of this client's.
    Interrupt {
        /// The request id of the evaluation.
        target: Option<u64>,
    },
    /// Define (add or replace) one method.
    DefineMethod {
        /// The class's name.
        class: String,
        /// On the class side.
        class_side: bool,
        /// The method in class-file syntax (`selector = ( ... )`).
        source: String,
    },
    /// Define a whole class in class-file syntax.
    DefineClass {
        /// The class file's text.
        source: String,
    },
    /// Remove a method.
    RemoveMethod {
        /// The class's name.
        class: String,
        /// On the class side.
        class_side: bool,
        /// The selector.
        selector: String,
    },
    /// Remove a class (its global becomes nil).
    RemoveClass {
        /// The class's name.
        class: String,
    },
    /// Undo the last edit, or every edit of one class.
    Revert {
        /// The class whose edits to undo (None: the last edit).
        class: Option<String>,
    },
    /// The edits so far and what they invalidated.
    Stats,
    /// The source of a method.
    Source {
        /// The class's name.
        class: String,
        /// On the class side.
        class_side: bool,
        /// The selector.
        selector: String,
    },
    /// The namespaces loaded.
    Namespaces,
    /// The classes of one namespace (all, without one).
    Classes {
        /// The namespace's name.
        namespace: Option<String>,
    },
    /// A class's definition: superclass, fields, selectors.
    ClassInfo {
        /// The class's name.
        class: String,
    },
    /// The methods that define a selector.
    Implementors {
        /// The selector.
        selector: String,
    },
    /// The methods that send a selector.
    Senders {
        /// The selector.
        selector: String,
    },
    /// Save the session's edits (their net effect) as a file of edits.
    Save {
        /// Where (a path the program can write; absolute is best).
        path: String,
    },
    /// The client left: its evaluations are interrupted.
    Disconnected,
}

/// A reply to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveReply {
    /// The request id.
    pub id: u64,
    /// What came of it.
    pub outcome: Result<LiveAnswer, LiveFailure>,
}

/// A request's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveAnswer {
    /// An evaluation's value.
    Value {
        /// Its `printString`.
        print: String,
        /// Its class's name.
        class: String,
    },
    /// An edit took effect.
    Edited(EditRecord),
    /// Evaluations stopped.
    Interrupted {
        /// How many.
        evaluations: usize,
    },
    /// The statistics.
    Stats(LiveStats),
    /// A method's source.
    Source {
        /// The text, from its selector to its closing parenthesis.
        text: String,
        /// The class it was found in (the class asked or a superclass).
        holder: String,
        /// Its file (or `<live>` for one defined by a client).
        file: String,
        /// Its first line there.
        line: u32,
    },
    /// Names, one per line of a listing (namespaces, classes, methods).
    List {
        /// What the list is of (`namespaces`, `classes`, `implementors`,
        /// `senders`).
        of: &'static str,
        /// The entries.
        items: Vec<ListItem>,
    },
    /// A class's definition.
    Class(ClassDescription),
    /// The edits were saved.
    Saved {
        /// Where.
        path: String,
        /// How many edits the file holds.
        edits: usize,
    },
}

/// An entry of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListItem {
    /// Its name (`Kernel`, `Point`, `Point>>x`).
    pub name: String,
    /// A detail: a namespace's version, a class's superclass, a method's
    /// file and line.
    pub detail: String,
}

/// What `class` answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassDescription {
    /// The class's name.
    pub name: String,
    /// Its superclass's name (empty for none).
    pub superclass: String,
    /// Its namespace's name.
    pub namespace: String,
    /// Its own instance fields (the superclass's not included).
    pub fields: Vec<String>,
    /// Its own class-side fields.
    pub class_fields: Vec<String>,
    /// Its instance-side selectors, in definition order.
    pub methods: Vec<String>,
    /// Its class-side selectors.
    pub class_methods: Vec<String>,
    /// Its direct subclasses.
    pub subclasses: Vec<String>,
}

/// One edit, as `stats` and `--stats` show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditRecord {
    /// `defined Foo>>bar`, `removed class Foo`, `reverted Foo>>bar` ...
    pub what: String,
    /// The selectors defined or removed (`Foo>>bar`, `Foo class>>new`).
    pub methods: Vec<String>,
    /// Compiled methods whose native code it threw away.
    pub invalidated: u64,
}

/// The edits of the session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Every edit, oldest first.
    pub edits: Vec<EditRecord>,
    /// Methods with native code now.
    pub native_methods: usize,
    /// Evaluations running or waiting.
    pub evaluations: usize,
    /// Edits `revert` can still undo.
    pub revertible: usize,
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The source did not compile (nothing changed).
    Compile,
    /// The evaluation raised an error nobody handled.
    Error,
    /// The evaluation was interrupted (or its process ended without an
    /// answer).
    Interrupted,
    /// The edit would not take effect, or may not be made.
    Refused,
    /// No such class or method.
    NotFound,
}

impl FailureKind {
    /// The name the protocol uses.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Compile => "compile",
            FailureKind::Error => "error",
            FailureKind::Interrupted => "interrupted",
            FailureKind::Refused => "refused",
            FailureKind::NotFound => "notFound",
        }
    }
}

/// A failed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveFailure {
    /// The kind.
    pub kind: FailureKind,
    /// What went wrong.
    pub message: String,
    /// A stack trace, for errors of evaluations (else empty).
    pub trace: String,
}

fn failure(kind: FailureKind, message: impl Into<String>) -> LiveFailure {
    LiveFailure { kind, message: message.into(), trace: String::new() }
}

/// An evaluation waiting for its process to answer.
struct PendingEval {
    id: u64,
    client: u64,
    reply: Sender<LiveReply>,
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
                LiveOp::Disconnected => {
                    scheduled |= self.interrupt_evals(client, None, idle)? > 0;
                    continue;
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

    // ---- evaluations ---------------------------------------------------------

    fn start_eval(&mut self, id: u64, client: u64, source: &str, reply: Sender<LiveReply>) -> Result<(), LiveFailure> {
        let class = self.kernel.live_evaluation;
        let nil = self.u.nil();
        if class == nil || !self.kernel.processes_ok {
            return Err(failure(FailureKind::Refused, "this kernel cannot run evaluations (no LiveEvaluation)"));
        }
        let text = format!("doIt = ( ^[\n{source}\n] value )");
        let options = vm::compiler::CompileOptions { allow_global_assignment: true };
        let code = vm::compiler::compile_method_source("<live>", &text, &[], options)
            .map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
        vm::bytecode::verify_method(&code, 0).map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
        let holder = self.u.class_of(nil);
        let internal = |e: String| failure(FailureKind::Error, e);
        let file = self.u.new_old_string("<live>").map_err(|e| internal(e.to_string()))?;
        let ns = self.eval_namespace;
        let method =
            self.u.make_method(&code, holder, ns, nil, file, "UndefinedObject").map_err(|e| internal(e.to_string()))?;
        let mark = self.u.handle_mark();
        let hm = self.u.handle(method);
        let made = (|| {
            // The program's process exists before another is made.
            self.active_index().map_err(|_| internal("cannot make the main process".into()))?;
            let eval = self.u.alloc(class, Format::Fields, 1).map_err(|e| internal(e.to_string()))?;
            let method = self.u.get(hm);
            eval.set_slot_raw(0, method);
            let he = self.u.handle(eval);
            let name = self.u.new_string(&format!("live evaluation {id}")).map_err(|e| internal(e.to_string()))?;
            let hn = self.u.handle(name);
            let process = self.new_process_object().map_err(internal)?;
            let (eval, name) = (self.u.get(he), self.u.get(hn));
            Ok::<_, LiveFailure>(self.schedule_new_process(process, eval, name, EVAL_PRIORITY))
        })();
        self.u.release_handles(mark);
        let index = made?;
        self.live_mut().evals.insert(index, PendingEval { id, client, reply });
        Ok(())
    }

    /// `LiveEvaluation>>answer: printString class: className`: the
    /// evaluation's reply.
    pub(crate) fn live_answer(&mut self, argc: usize) -> Step {
        let print = self.u.text_or_describe(self.peek(1));
        let class = self.u.text_or_describe(self.peek(0));
        if let Some(pending) = self.scheduler_active().and_then(|i| self.live.as_mut()?.evals.remove(&i)) {
            let _ = pending.reply.send(LiveReply { id: pending.id, outcome: Ok(LiveAnswer::Value { print, class }) });
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

    fn interrupt_evals(&mut self, client: u64, target: Option<u64>, idle: bool) -> Result<usize, Flow> {
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

    // ---- definitions ---------------------------------------------------------------

    /// The class a request names (in the program's namespace, then the
    /// kernel's), or its metaclass.
    fn named_class(&mut self, name: &str, class_side: bool) -> Result<Value, LiveFailure> {
        let bare = name.strip_suffix(" class").unwrap_or(name);
        let class_side = class_side || bare.len() != name.len();
        let sym = self.u.intern(bare).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        let class = match self.u.global_from(NamespaceId::PROGRAM, sym) {
            Some(c) if self.u.is_class(c) => c,
            _ => match self.load_class(bare) {
                Ok(Some(c)) => c,
                Ok(None) => {
                    // A class of an image's namespace the program does not
                    // import.
                    let ids: Vec<NamespaceId> = self.u.namespaces().map(|(id, _)| id).collect();
                    let found = ids.into_iter().find_map(|ns| {
                        self.u.own_binding(ns, bare).map(|b| b.slot(BINDING_VALUE)).filter(|&c| self.u.is_class(c))
                    });
                    found.ok_or_else(|| failure(FailureKind::NotFound, format!("no class named {bare}")))?
                }
                Err(e) => return Err(failure(FailureKind::Compile, e)),
            },
        };
        Ok(if class_side { class.class_word() } else { class })
    }

    fn define_method(&mut self, class_name: &str, class_side: bool, source: &str) -> Result<LiveAnswer, LiveFailure> {
        let class = self.named_class(class_name, class_side)?;
        self.define_method_on(class, source)
    }

    fn define_method_on(&mut self, class: Value, source: &str) -> Result<LiveAnswer, LiveFailure> {
        let name = self.u.class_name(class);
        let fields = self.u.field_names(class);
        let file = format!("<live {name}>");
        let code = vm::compiler::compile_method_source(&file, source, &fields, Default::default())
            .map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
        vm::bytecode::verify_method(&code, fields.len() as u32)
            .map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
        let selector = code.selector().unwrap_or_default().to_string();
        if let Some(why) = self.u.edit_refusal(class, &selector) {
            return Err(failure(FailureKind::Refused, why));
        }
        let ns = self.u.namespace_of(class);
        let nil = self.u.nil();
        let err = |e: String| failure(FailureKind::Error, e);
        let file = self.u.new_old_string(&file).map_err(|e| err(e.to_string()))?;
        let method = self.u.make_method(&code, class, ns, nil, file, &name).map_err(|e| err(e.to_string()))?;
        let what = format!("defined {name}>>{selector}");
        self.record_undo(class, None, &name, &what);
        let before = self.discarded();
        self.u.add_method(class, method).map_err(|e| err(e.to_string()))?;
        self.log_edit(SavedKind::Method, class, &selector, source, Some(method));
        Ok(self.record_edit(what, vec![format!("{name}>>{selector}")], before))
    }

    fn define_class(&mut self, source: &str) -> Result<LiveAnswer, LiveFailure> {
        let compile = |e: vm::compiler::CompileError| failure(FailureKind::Compile, e.to_string());
        // Compiled whole first: any error and nothing changed. The
        // superclass is the running one (loaded from the class path first
        // if it is not yet).
        let mut compiled =
            vm::compiler::compile_class_source("<live>", source, None, &self.running()).map_err(compile)?;
        if let Some(sup) = compiled.superclass.clone() {
            let sym = self.u.intern(&sup).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
            if self.u.global_from(NamespaceId::PROGRAM, sym).is_none() {
                self.load_class(&sup).map_err(|e| failure(FailureKind::Compile, e))?;
                compiled =
                    vm::compiler::compile_class_source("<live>", source, None, &self.running()).map_err(compile)?;
            }
        }
        vm::bytecode::verify_class(&compiled).map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
        let name = compiled.name.clone();
        let sym = self.u.intern(&name).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        let existing = match self.u.global_from(NamespaceId::PROGRAM, sym) {
            Some(c) if self.u.is_class(c) => Some(c),
            _ => self.load_class(&name).ok().flatten(),
        };
        let mut methods: Vec<String> = Vec::new();
        for (side, list) in [("", &compiled.methods), (" class", &compiled.class_methods)] {
            for code in list.iter() {
                methods.push(format!("{name}{side}>>{}", code.selector().unwrap_or_default()));
            }
        }
        let mut migrate: Option<Vec<String>> = None;
        let mut subclasses: Vec<Relaid> = Vec::new();
        let ns = match existing {
            Some(class) => {
                let ns = self.u.namespace_of(class);
                let superclass = class.slot(CLASS_SUPERCLASS);
                let same_super = match &compiled.superclass {
                    None => superclass == self.u.nil(),
                    Some(s) => self.u.is_class(superclass) && self.u.class_name(superclass) == *s,
                };
                if !same_super {
                    return Err(failure(
                        FailureKind::Refused,
                        format!("{name} cannot change its superclass while the program runs (not supported yet)"),
                    ));
                }
                let all_class_fields: Vec<String> =
                    compiled.inherited_class_fields.iter().chain(&compiled.class_fields).cloned().collect();
                if self.u.field_names(class.class_word()) != all_class_fields {
                    return Err(failure(
                        FailureKind::Refused,
                        format!(
                            "{name} cannot change its class-side fields while the program runs (not supported yet)"
                        ),
                    ));
                }
                let all_fields: Vec<String> =
                    compiled.inherited_fields.iter().chain(&compiled.fields).cloned().collect();
                let now = self.u.field_names(class);
                let visible: Vec<String> = now.iter().filter(|f| !f.starts_with('<')).cloned().collect();
                if visible != all_fields {
                    let layout = self.new_layout(class, &compiled, source)?;
                    compiled = layout.0;
                    if layout.1 != now {
                        subclasses = self.relay_subclasses(class, &layout.1)?;
                        migrate = Some(layout.1);
                    }
                } else if now != all_fields {
                    // Same fields, some slots kept hidden: compiled for the
                    // slots as they are.
                    compiled = self.compile_for_layout(&compiled, source, &now)?;
                }
                for (list, target) in [(&compiled.methods, class), (&compiled.class_methods, class.class_word())] {
                    for code in list.iter() {
                        if let Some(why) = code.selector().and_then(|s| self.u.edit_refusal(target, s)) {
                            return Err(failure(FailureKind::Refused, why));
                        }
                    }
                }
                let what = format!("defined class {name}");
                self.record_undo(class, None, &name, &what);
                let meta = class.class_word();
                self.record_undo(meta, None, &name, &what);
                for sub in &subclasses {
                    let (class, meta) = (self.u.pinned(sub.class), self.u.pinned(sub.class).class_word());
                    self.record_undo(class, None, &name, &what);
                    self.record_undo(meta, None, &name, &what);
                }
                ns
            }
            None => NamespaceId::PROGRAM,
        };
        let before = self.discarded();
        let mut migrated = 0;
        let internal = |e: String| failure(FailureKind::Error, e);
        if let (Some(class), Some(layout)) = (existing, &migrate) {
            migrated = self.u.migrate_instances(class, layout).map_err(|e| internal(e.to_string()))?;
            for sub in &subclasses {
                let c = self.u.pinned(sub.class);
                migrated += self.u.migrate_instances(c, &sub.layout).map_err(|e| internal(e.to_string()))?;
            }
        }
        let binding = self.u.binding(ns, sym).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        let old_value = binding.slot(BINDING_VALUE);
        let class = self.u.install_class(&compiled, ns).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        for sub in std::mem::take(&mut subclasses) {
            let c = self.u.pinned(sub.class);
            let sub_ns = self.u.namespace_of(c);
            self.u.unpin(sub.class);
            self.u.install_class(&sub.compiled, sub_ns).map_err(|e| internal(e.to_string()))?;
            // Methods clients defined in it since, compiled again for the
            // new layout.
            for (class_side, source) in sub.client_methods {
                let target = if class_side { c.class_word() } else { c };
                self.define_method_on(target, &source)?;
            }
            methods.push(format!("{} (re-laid out)", sub.compiled.name));
        }
        let what = match &migrate {
            Some(_) => format!("defined class {name} ({migrated} instances migrated)"),
            None => format!("defined class {name}"),
        };
        if existing.is_none() {
            self.record_undo(class, Some((binding, old_value)), &name, &what);
        }
        self.log_edit(SavedKind::Class, class, "", source, None);
        Ok(self.record_edit(what, methods, before))
    }

    /// The slots of `class` after a definition that changes its fields
    /// (`compiled`, from `source`), and the class compiled for them: every
    /// slot it has keeps its place (a field the definition drops stays as
    /// a hidden slot, `<name>`, so that activations of the old methods
    /// still find their fields), new fields come after. Refused for
    /// classes with subclasses (they would have to be re-laid out too).
    fn new_layout(
        &mut self,
        class: Value,
        compiled: &vm::bytecode::CompiledClass,
        source: &str,
    ) -> Result<(vm::bytecode::CompiledClass, Vec<String>), LiveFailure> {
        let name = compiled.name.clone();
        if self.u.namespace_of(class) == NamespaceId::KERNEL {
            return Err(failure(FailureKind::Refused, format!("{name} is a kernel class: its fields cannot change")));
        }
        if self.u.spec(class).format != Format::Fields {
            return Err(failure(
                FailureKind::Refused,
                format!("{name}: only classes of named fields can change their fields"),
            ));
        }
        let now = self.u.field_names(class);
        let inherited = compiled.inherited_fields.len();
        let mut layout: Vec<String> = now[..inherited.min(now.len())].to_vec();
        for f in &now[inherited.min(now.len())..] {
            let kept = f.starts_with('<') || compiled.fields.contains(f);
            layout.push(if kept { f.clone() } else { format!("<{f}>") });
        }
        for f in &compiled.fields {
            if !layout.contains(f) {
                layout.push(f.clone());
            }
        }
        let recompiled = self.compile_for_layout(compiled, source, &layout)?;
        Ok((recompiled, layout))
    }

    /// `compiled` (from `source`) compiled again with the instance slots
    /// `layout` (inherited ones first).
    fn compile_for_layout(
        &mut self,
        compiled: &vm::bytecode::CompiledClass,
        source: &str,
        layout: &[String],
    ) -> Result<vm::bytecode::CompiledClass, LiveFailure> {
        let compile = |e: vm::compiler::CompileError| failure(FailureKind::Compile, e.to_string());
        let mut def = vm::compiler::parse_class("<live>", source).map_err(compile)?;
        let span = def.name.span;
        def.fields = layout[compiled.inherited_fields.len()..]
            .iter()
            .map(|n| vm::compiler::ast::Ident { name: n.clone(), span })
            .collect();
        let out = vm::compiler::compile_class_def("<live>", source, &def, None, &self.running()).map_err(compile)?;
        vm::bytecode::verify_class(&out).map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
        Ok(out)
    }

    /// The classes bound in some namespace whose superclass chain passes
    /// `class`, each after its superclass.
    fn subclasses_of(&mut self, class: Value) -> Vec<Value> {
        let ids: Vec<NamespaceId> = self.u.namespaces().map(|(id, _)| id).collect();
        let nil = self.u.nil();
        let mut found: Vec<(usize, Value)> = Vec::new();
        for ns in ids {
            for (_, binding) in self.u.all_bindings(ns) {
                let v = binding.slot(BINDING_VALUE);
                if v == class || !self.u.is_class(v) || found.iter().any(|&(_, f)| f == v) {
                    continue;
                }
                let (mut c, mut depth) = (v.slot(CLASS_SUPERCLASS), 1);
                while c.is_pointer() && c != nil {
                    if c == class {
                        found.push((depth, v));
                        break;
                    }
                    c = c.slot(CLASS_SUPERCLASS);
                    depth += 1;
                }
            }
        }
        found.sort_by_key(|&(depth, _)| depth);
        found.into_iter().map(|(_, v)| v).collect()
    }

    /// The subclasses of `class` compiled again for its new slots `layout`
    /// (their own slots come after it, as before). Refused if one's source
    /// is not known, no longer matches it, or one of its methods is running
    /// or has a block kept: those would find their fields moved.
    fn relay_subclasses(&mut self, class: Value, layout: &[String]) -> Result<Vec<Relaid>, LiveFailure> {
        let subs = self.subclasses_of(class);
        if subs.is_empty() {
            return Ok(Vec::new());
        }
        let refused = |m: String| failure(FailureKind::Refused, m);
        let mut shapes = self.u.class_shapes(NamespaceId::PROGRAM);
        let shape = |u: &vm::universe::Universe, c: Value, fields: Vec<String>| vm::compiler::ClassShape {
            superclass: {
                let s = c.slot(CLASS_SUPERCLASS);
                (s != u.nil()).then(|| u.class_name(s))
            },
            fields,
            class_fields: u.field_names(c.class_word()),
        };
        let base_name = self.u.class_name(class);
        shapes.insert(base_name.clone(), shape(&self.u, class, layout.to_vec()));
        let busy = self.code_in_use(&subs);
        let mut out = Vec::new();
        for sub in subs {
            let name = self.u.class_name(sub);
            if busy.contains(&sub) {
                return Err(refused(format!(
                    "{base_name}'s fields cannot change now: a method of its subclass {name} is running (or a block of one is kept), and its fields would move under it"
                )));
            }
            let (file, source) = self.class_source(sub).ok_or_else(|| {
                refused(format!(
                    "{base_name}'s fields cannot change: the source of its subclass {name} is not known, so it cannot be re-laid out"
                ))
            })?;
            let sup_name = self.u.class_name(sub.slot(CLASS_SUPERCLASS));
            let sup_fields = shapes.get(&sup_name).map(|s| s.fields.clone()).unwrap_or_default();
            let old_sup_len = self.u.field_names(sub.slot(CLASS_SUPERCLASS)).len();
            let own: Vec<String> = self.u.field_names(sub)[old_sup_len..].to_vec();
            let compile =
                |e: vm::compiler::CompileError| failure(FailureKind::Compile, format!("re-laying out {name}: {e}"));
            let mut def = vm::compiler::parse_class(&file, &source).map_err(compile)?;
            let declared: Vec<&str> = def.fields.iter().map(|f| f.name.as_str()).collect();
            let visible: Vec<&str> = own.iter().filter(|f| !f.starts_with('<')).map(String::as_str).collect();
            if declared != visible {
                return Err(refused(format!(
                    "{base_name}'s fields cannot change: the source of its subclass {name} declares the fields ({}), the running class has ({})",
                    declared.join(" "),
                    visible.join(" ")
                )));
            }
            let span = def.name.span;
            def.fields = own.iter().map(|n| vm::compiler::ast::Ident { name: n.clone(), span }).collect();
            let running = Running { shapes: shapes.clone(), path: &self.class_path };
            let compiled = vm::compiler::compile_class_def(&file, &source, &def, None, &running).map_err(compile)?;
            vm::bytecode::verify_class(&compiled).map_err(|e| failure(FailureKind::Compile, e.to_string()))?;
            let mut sub_layout = sup_fields;
            sub_layout.extend(own);
            shapes.insert(name.clone(), shape(&self.u, sub, sub_layout.clone()));
            let client_methods = self.client_methods_of(sub);
            let pin = self.u.pin(sub);
            out.push(Relaid { class: pin, compiled, layout: sub_layout, client_methods });
        }
        Ok(out)
    }

    /// The source of `class` as a class file: the last one a client
    /// defined, the file its methods were compiled from, or, for a class
    /// without methods, one written from its fields.
    fn class_source(&mut self, class: Value) -> Option<(String, String)> {
        let name = self.u.class_name(class);
        let logged = self.live.as_ref().and_then(|l| {
            l.log.iter().rev().find(|e| e.kind == SavedKind::Class && e.class == name).map(|e| e.source.clone())
        });
        if let Some(text) = logged {
            return Some(("<live>".into(), text));
        }
        let methods: Vec<Value> =
            self.u.methods_of(class).into_iter().chain(self.u.methods_of(class.class_word())).collect();
        for m in &methods {
            let file = self.u.text_or_describe(m.slot(METHOD_FILE));
            if let Ok(text) = std::fs::read_to_string(&file)
                && vm::compiler::parse_class(&file, &text).is_ok_and(|d| d.name.name == name)
            {
                return Some((file, text));
            }
        }
        if !methods.is_empty() {
            return None;
        }
        let sup = self.u.class_name(class.slot(CLASS_SUPERCLASS));
        let sup_len = self.u.field_names(class.slot(CLASS_SUPERCLASS)).len();
        let own: Vec<String> =
            self.u.field_names(class)[sup_len..].iter().filter(|f| !f.starts_with('<')).cloned().collect();
        let meta_sup_len = self.u.field_names(class.slot(CLASS_SUPERCLASS).class_word()).len();
        let class_own: Vec<String> = self.u.field_names(class.class_word())[meta_sup_len..].to_vec();
        Some(("<live>".into(), format!("{name} = {sup} ( | {} | ---- | {} | )", own.join(" "), class_own.join(" "))))
    }

    /// The sources of the methods clients defined in `class` (either side)
    /// that are still in place, in the order defined.
    fn client_methods_of(&self, class: Value) -> Vec<(bool, String)> {
        let Some(live) = self.live.as_ref() else { return Vec::new() };
        let name = self.u.class_name(class);
        live.log
            .iter()
            .filter(|e| e.kind == SavedKind::Method && e.class == name)
            .filter(|e| {
                let target = if e.class_side { class.class_word() } else { class };
                e.installed.is_some_and(|p| {
                    let m = self.u.pinned(p);
                    self.u.local_method(target, m.slot(METHOD_SELECTOR)) == m
                })
            })
            .map(|e| (e.class_side, e.source.clone()))
            .collect()
    }

    /// Which of `classes` have code in use: an activation of one of their
    /// methods (or blocks) on any process's frames, or a block of one kept
    /// in the heap.
    fn code_in_use(&mut self, classes: &[Value]) -> Vec<Value> {
        let _ = self.u.collect_full();
        let of = |v: Value| -> Option<Value> {
            (v.is_pointer() && v.format() == Format::Method)
                .then(|| v.slot(METHOD_HOLDER))
                .filter(|h| classes.contains(h))
        };
        let mut busy: Vec<Value> = Vec::new();
        // The running process's frames: any word naming such a method.
        for i in 0..self.u.sp {
            if let Some(c) = of(self.u.stack[i]) {
                busy.push(c);
            }
        }
        let process = self.kernel.process;
        let frames_at = crate::process::fields::FRAMES;
        self.u.heap.for_each_old_object(|o| {
            if o.format() == Format::Closure
                && let Some(c) = of(o.slot(CLOSURE_CODE))
            {
                busy.push(c);
            }
            if o.class_word() == process {
                let frames = o.slot(frames_at);
                if frames.is_pointer() && frames.format() == Format::Array {
                    for i in 0..frames.size() {
                        if let Some(c) = of(frames.slot(i)) {
                            busy.push(c);
                        }
                    }
                }
            }
        });
        busy
    }

    fn remove_live_method(
        &mut self,
        class_name: &str,
        class_side: bool,
        selector: &str,
    ) -> Result<LiveAnswer, LiveFailure> {
        let class = self.named_class(class_name, class_side)?;
        self.remove_method_on(class, selector)
    }

    fn remove_method_on(&mut self, class: Value, selector: &str) -> Result<LiveAnswer, LiveFailure> {
        let name = self.u.class_name(class);
        if let Some(why) = self.u.edit_refusal(class, selector) {
            return Err(failure(FailureKind::Refused, why));
        }
        let sym = self.u.intern(selector).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        if self.u.local_method(class, sym) == self.u.nil() {
            return Err(failure(FailureKind::NotFound, format!("{name} has no method {selector}")));
        }
        let what = format!("removed {name}>>{selector}");
        self.record_undo(class, None, &name, &what);
        let before = self.discarded();
        self.u.remove_method(class, sym).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        self.log_edit(SavedKind::RemoveMethod, class, selector, "", None);
        Ok(self.record_edit(what, vec![format!("{name}>>{selector}")], before))
    }

    fn remove_live_class(&mut self, class_name: &str) -> Result<LiveAnswer, LiveFailure> {
        let class = self.named_class(class_name, false)?;
        let ns = self.u.namespace_of(class);
        if ns == NamespaceId::KERNEL {
            return Err(failure(FailureKind::Refused, format!("{class_name} is a kernel class and cannot be removed")));
        }
        let sym = self.u.intern(class_name).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        let binding = self.u.binding(ns, sym).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        let what = format!("removed class {class_name}");
        self.record_undo(class, Some((binding, class)), class_name, &what);
        let before = self.discarded();
        self.log_edit(SavedKind::RemoveClass, class, "", "", None);
        let nil = self.u.nil();
        self.u.heap.store(binding, BINDING_VALUE, nil);
        // Sends cached for its instances stay right; the globals that named
        // it are read again.
        self.u.invalidate_caches();
        Ok(self.record_edit(what, Vec::new(), before))
    }

    fn revert(&mut self, class: Option<&str>) -> Result<LiveAnswer, LiveFailure> {
        let live = self.live.as_mut().expect("live requests are enabled");
        let picked: Vec<Undo> = match class {
            None => {
                let Some(last) = live.undo.last() else {
                    return Err(failure(FailureKind::NotFound, "there is no edit to revert"));
                };
                // The last edit may have recorded the class and its
                // metaclass: take every record with its description.
                let what = last.what.clone();
                let name = last.class_name.clone();
                let mut out = Vec::new();
                while live.undo.last().is_some_and(|u| u.what == what && u.class_name == name) {
                    out.push(live.undo.pop().expect("checked"));
                }
                out
            }
            Some(name) => {
                let bare = name.strip_suffix(" class").unwrap_or(name);
                let (mine, rest): (Vec<Undo>, Vec<Undo>) =
                    std::mem::take(&mut live.undo).into_iter().partition(|u| u.class_name == bare);
                live.undo = rest;
                if mine.is_empty() {
                    return Err(failure(FailureKind::NotFound, format!("no edit of {bare} to revert")));
                }
                mine.into_iter().rev().collect()
            }
        };
        let what = match class {
            Some(c) => format!("reverted the edits of {c}"),
            None => format!("reverted: {}", picked[0].what),
        };
        let before = self.discarded();
        let mut result = Ok(());
        for undo in picked {
            let class = self.u.pinned(undo.class);
            let list = self.u.pinned(undo.methods);
            let methods: Vec<Value> =
                if list == self.u.nil() { Vec::new() } else { (0..list.size()).map(|i| list.slot(i)).collect() };
            if result.is_ok() {
                result = self.u.set_methods(class, &methods).map_err(|e| e.to_string());
            }
            if let Some((b, v)) = undo.binding {
                let (binding, value) = (self.u.pinned(b), self.u.pinned(v));
                self.u.heap.store(binding, BINDING_VALUE, value);
                self.u.unpin(b);
                self.u.unpin(v);
            }
            self.u.unpin(undo.class);
            self.u.unpin(undo.methods);
        }
        self.u.invalidate_caches();
        result.map_err(|e| failure(FailureKind::Error, e))?;
        Ok(self.record_edit(what, Vec::new(), before))
    }

    fn record_undo(&mut self, class: Value, binding: Option<(Value, Value)>, class_name: &str, what: &str) {
        let list = class.slot(CLASS_METHOD_LIST);
        let class = self.u.pin(class);
        let methods = self.u.pin(list);
        let binding = binding.map(|(b, v)| (self.u.pin(b), self.u.pin(v)));
        let undo = Undo { class, methods, binding, class_name: class_name.into(), what: what.into() };
        match self.live.as_mut() {
            Some(live) => live.undo.push(undo),
            None => {
                // Edits applied with no live session (mica --load) are not
                // undone.
                self.u.unpin(undo.class);
                self.u.unpin(undo.methods);
                if let Some((b, v)) = undo.binding {
                    self.u.unpin(b);
                    self.u.unpin(v);
                }
            }
        }
    }

    /// Native code thrown away so far because a method dictionary changed.
    fn discarded(&self) -> u64 {
        self.u.deoptimizations.iter().find(|(r, _)| r == vm::universe::METHODS_CHANGED).map_or(0, |(_, n)| *n)
    }

    fn record_edit(&mut self, what: String, methods: Vec<String>, before: u64) -> LiveAnswer {
        let record = EditRecord { what, methods, invalidated: self.discarded() - before };
        match self.live.as_mut() {
            Some(live) => live.edits.push(record.clone()),
            None => self.past_edits.push(record.clone()),
        }
        LiveAnswer::Edited(record)
    }

    // ---- browsing ----------------------------------------------------------------

    /// Every class bound in a namespace (each once: the first namespace
    /// binding it), with that namespace.
    fn all_classes(&mut self) -> Vec<(NamespaceId, String, Value)> {
        let ids: Vec<NamespaceId> = self.u.namespaces().map(|(id, _)| id).collect();
        let mut out: Vec<(NamespaceId, String, Value)> = Vec::new();
        for ns in ids {
            for (name, binding) in self.u.all_bindings(ns) {
                let v = binding.slot(BINDING_VALUE);
                if self.u.shape_of(v).is_some() && self.u.namespace_of(v) == ns && !out.iter().any(|(_, _, c)| *c == v)
                {
                    out.push((ns, name, v));
                }
            }
        }
        out
    }

    fn list_namespaces(&mut self) -> LiveAnswer {
        let classes = self.all_classes();
        let items = self
            .u
            .namespaces()
            .map(|(id, n)| {
                let count = classes.iter().filter(|(ns, _, _)| *ns == id).count();
                ListItem { name: n.name.clone(), detail: format!("{} ({count} classes)", n.version) }
            })
            .collect();
        LiveAnswer::List { of: "namespaces", items }
    }

    fn list_classes(&mut self, namespace: Option<&str>) -> Result<LiveAnswer, LiveFailure> {
        let wanted = match namespace {
            None => None,
            Some(name) => Some(
                self.u
                    .namespaces()
                    .find(|(_, n)| n.name == name)
                    .map(|(id, _)| id)
                    .ok_or_else(|| failure(FailureKind::NotFound, format!("no namespace named {name}")))?,
            ),
        };
        let nil = self.u.nil();
        let mut items: Vec<ListItem> = self
            .all_classes()
            .into_iter()
            .filter(|(ns, _, _)| wanted.is_none_or(|w| w == *ns))
            .map(|(ns, name, class)| {
                let sup = class.slot(CLASS_SUPERCLASS);
                let sup = if sup == nil { "nil".to_string() } else { self.u.class_name(sup) };
                ListItem { name, detail: format!("{sup} subclass, in {}", self.u.namespace(ns).name) }
            })
            .collect();
        items.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(LiveAnswer::List { of: "classes", items })
    }

    fn describe_class(&mut self, name: &str) -> Result<LiveAnswer, LiveFailure> {
        let class = self.named_class(name, false)?;
        let nil = self.u.nil();
        let sup = class.slot(CLASS_SUPERCLASS);
        let own = |u: &vm::universe::Universe, c: Value, s: Value| -> Vec<String> {
            let inherited = if s == nil || !u.is_class(s) { 0 } else { u.field_names(s).len() };
            u.field_names(c).into_iter().skip(inherited).filter(|f| !f.starts_with('<')).collect()
        };
        let selectors = |u: &vm::universe::Universe, c: Value| -> Vec<String> {
            u.methods_of(c).iter().map(|m| u.text_or_describe(m.slot(METHOD_SELECTOR))).collect()
        };
        let meta_sup = if sup == nil { self.u.known.class } else { sup.class_word() };
        let subclasses = self
            .all_classes()
            .into_iter()
            .filter(|(_, _, c)| c.slot(CLASS_SUPERCLASS) == class)
            .map(|(_, n, _)| n)
            .collect();
        Ok(LiveAnswer::Class(ClassDescription {
            name: self.u.class_name(class),
            superclass: if sup == nil { String::new() } else { self.u.class_name(sup) },
            namespace: self.u.namespace(self.u.namespace_of(class)).name.clone(),
            fields: own(&self.u, class, sup),
            class_fields: own(&self.u, class.class_word(), meta_sup),
            methods: selectors(&self.u, class),
            class_methods: selectors(&self.u, class.class_word()),
            subclasses,
        }))
    }

    /// `Class>>selector` and where, for a listing.
    fn method_item(&self, method: Value) -> ListItem {
        let holder = self.u.class_name(method.slot(METHOD_HOLDER));
        let selector = self.u.text_or_describe(method.slot(METHOD_SELECTOR));
        let file = self.u.text_or_describe(method.slot(METHOD_FILE));
        let line = method.slot(METHOD_LINE).as_int().unwrap_or(0);
        ListItem { name: format!("{holder}>>{selector}"), detail: format!("{file}:{line}") }
    }

    /// Every method of every class, both sides.
    fn all_methods(&mut self) -> Vec<Value> {
        let classes = self.all_classes();
        classes
            .iter()
            .flat_map(|(_, _, c)| self.u.methods_of(*c).into_iter().chain(self.u.methods_of(c.class_word())))
            .collect()
    }

    fn implementors(&mut self, selector: &str) -> LiveAnswer {
        let methods = self.all_methods();
        let mut items: Vec<ListItem> = methods
            .into_iter()
            .filter(|m| self.u.string_value(m.slot(METHOD_SELECTOR)).is_some_and(|s| s == selector))
            .map(|m| self.method_item(m))
            .collect();
        items.sort_by(|a, b| a.name.cmp(&b.name));
        LiveAnswer::List { of: "implementors", items }
    }

    /// The methods whose code sends `selector`: it is among their literals
    /// (or their blocks'), or a special-selector bytecode sends it. Sends
    /// the compiler inlines (`ifTrue:` with literal blocks) are not sends.
    fn senders(&mut self, selector: &str) -> LiveAnswer {
        let special = vm::bytecode::Opcode::for_special_selector(selector);
        let methods = self.all_methods();
        let mut items: Vec<ListItem> = Vec::new();
        for m in methods {
            if self.sends(m, selector, special, 0) {
                items.push(self.method_item(m));
            }
        }
        items.sort_by(|a, b| a.name.cmp(&b.name));
        LiveAnswer::List { of: "senders", items }
    }

    fn sends(&self, code: Value, selector: &str, special: Option<vm::bytecode::Opcode>, depth: usize) -> bool {
        let literals = code.slot(METHOD_LITERALS);
        if literals.is_pointer() && literals.format() == Format::Array {
            for i in 0..literals.size() {
                let l = literals.slot(i);
                if !l.is_pointer() {
                    continue;
                }
                if l.format() == Format::Method && depth < 64 && self.sends(l, selector, special, depth + 1) {
                    return true;
                }
                if self.u.is_symbol(l) && self.u.string_value(l).is_some_and(|s| s == selector) {
                    return true;
                }
            }
        }
        if let Some(op) = special {
            let bytes = code.slot(METHOD_BYTECODE);
            if bytes.is_pointer() && matches!(bytes.format(), Format::Bytes | Format::ByteArray) {
                let code = bytes.bytes();
                let mut pc = 0;
                while let Ok(d) = vm::bytecode::decode(code, pc) {
                    if d.insn.opcode() == op {
                        return true;
                    }
                    pc += d.len;
                }
            }
        }
        false
    }

    fn method_source(&mut self, class_name: &str, class_side: bool, selector: &str) -> Result<LiveAnswer, LiveFailure> {
        let class = self.named_class(class_name, class_side)?;
        let sym = self.u.intern(selector).map_err(|e| failure(FailureKind::Error, e.to_string()))?;
        let method = self.u.lookup(class, sym);
        let shown = self.u.class_name(class);
        if method == self.u.nil() {
            return Err(failure(FailureKind::NotFound, format!("{shown} has no method {selector}")));
        }
        let holder = method.slot(METHOD_HOLDER);
        let holder_name = self.u.class_name(holder);
        let file = self.u.text_or_describe(method.slot(METHOD_FILE));
        let line = method.slot(METHOD_LINE).as_int().unwrap_or(0) as u32;
        let meta = self.u.class_of(holder) == self.u.known.metaclass;
        // Defined by a client: the source it sent.
        let logged = self.live.as_ref().and_then(|l| {
            l.log.iter().rev().find_map(|e| match e.kind {
                SavedKind::Method if e.installed.is_some_and(|p| self.u.pinned(p) == method) => Some(e.source.clone()),
                _ => None,
            })
        });
        let text = match logged {
            Some(text) => Some(text),
            None => {
                // From a class file: the file read again, or the source of
                // a class a client defined.
                let kernel = file.strip_prefix("kernel/").and_then(|f| f.strip_suffix(".som")).and_then(|name| {
                    vm::universe::KERNEL_SOURCES.iter().find(|(n, _)| *n == name).map(|(_, t)| t.to_string())
                });
                let class_text = kernel.or_else(|| std::fs::read_to_string(&file).ok()).or_else(|| {
                    let bare = holder_name.strip_suffix(" class").unwrap_or(&holder_name).to_string();
                    self.live.as_ref().and_then(|l| {
                        l.log
                            .iter()
                            .rev()
                            .find(|e| e.kind == SavedKind::Class && e.class == bare)
                            .map(|e| e.source.clone())
                    })
                });
                class_text.and_then(|t| method_text(&t, meta, selector))
            }
        };
        match text {
            Some(text) => Ok(LiveAnswer::Source { text, holder: holder_name, file, line }),
            None => Err(failure(
                FailureKind::NotFound,
                format!("no source is kept for {holder_name}>>{selector} (compiled from {file})"),
            )),
        }
    }

    fn log_edit(&mut self, kind: SavedKind, class: Value, selector: &str, source: &str, installed: Option<Value>) {
        if self.live.is_none() {
            return;
        }
        let meta = !kind.of_class() && self.u.class_of(class) == self.u.known.metaclass;
        let base = if meta { class.slot(CLASS_COMPANION) } else { class };
        let namespace = self.u.namespace(self.u.namespace_of(base)).name.clone();
        let installed = installed.map(|m| self.u.pin(m));
        let logged = Logged {
            kind,
            namespace,
            class: self.u.class_name(base),
            class_side: meta,
            selector: selector.into(),
            source: source.into(),
            installed,
        };
        self.live_mut().log.push(logged);
    }

    /// The class `name` of namespace `namespace` (the program's are loaded
    /// from the class path if need be), or its metaclass.
    fn class_in(&mut self, namespace: &str, name: &str, class_side: bool) -> Result<Value, String> {
        let ns =
            self.u.namespaces().find(|(_, n)| n.name == namespace).map(|(id, _)| id).ok_or_else(|| {
                format!("it changes {name} of namespace {namespace}, which this program does not have")
            })?;
        let mut class = self.u.own_binding(ns, name).map(|b| b.slot(BINDING_VALUE)).filter(|&c| self.u.is_class(c));
        if class.is_none() && ns == NamespaceId::PROGRAM {
            class = self.load_class(name)?;
        }
        let class = class.ok_or_else(|| format!("it changes class {name}, which {namespace} does not define"))?;
        Ok(if class_side { class.class_word() } else { class })
    }

    /// The edits `save` writes: of each method (and class) edited, the
    /// last edit whose effect is still there (a reverted edit is not).
    fn net_edits(&mut self) -> Vec<Logged> {
        let log = self.live.as_ref().map(|l| l.log.clone()).unwrap_or_default();
        let nil = self.u.nil();
        let key =
            |l: &Logged| (l.kind.of_class(), l.namespace.clone(), l.class.clone(), l.class_side, l.selector.clone());
        let mut keys: Vec<_> = Vec::new();
        for l in &log {
            if !keys.contains(&key(l)) {
                keys.push(key(l));
            }
        }
        let mut out: Vec<(usize, Logged)> = Vec::new();
        for k in keys {
            for (i, l) in log.iter().enumerate().rev().filter(|(_, l)| key(l) == k) {
                let Ok(class) = self.class_in(&l.namespace, &l.class, l.class_side) else {
                    if l.kind == SavedKind::RemoveClass {
                        out.push((i, l.clone()));
                    }
                    break;
                };
                let holds = match l.kind {
                    SavedKind::Method | SavedKind::RemoveMethod => {
                        let Ok(sel) = self.u.intern(&l.selector) else { break };
                        let now = self.u.local_method(class, sel);
                        match l.installed {
                            Some(pin) => now == self.u.pinned(pin),
                            None => now == nil,
                        }
                    }
                    SavedKind::Class => true,
                    SavedKind::RemoveClass => false,
                };
                if holds {
                    out.push((i, l.clone()));
                    break;
                }
                if l.kind.of_class() {
                    break;
                }
            }
        }
        // Classes first, then the methods, each group in the order made.
        out.sort_by_key(|(i, l)| (!l.kind.of_class(), *i));
        out.into_iter().map(|(_, l)| l).collect()
    }

    fn save_edits(&mut self, path: &str) -> Result<LiveAnswer, LiveFailure> {
        let edits = self.net_edits();
        let err = |e: String| failure(FailureKind::Error, e);
        let mut rows: Vec<[String; 5]> = Vec::new();
        let mut flags: Vec<bool> = Vec::new();
        let mut shapes: Vec<Vec<String>> = Vec::new();
        for e in &edits {
            let fields = match self.class_in(&e.namespace, &e.class, e.class_side) {
                Ok(c) => self.u.field_names(c),
                Err(_) => Vec::new(),
            };
            rows.push([
                e.kind.name().into(),
                e.namespace.clone(),
                e.class.clone(),
                e.selector.clone(),
                e.source.clone(),
            ]);
            flags.push(e.class_side);
            shapes.push(fields);
        }
        let mark = self.u.handle_mark();
        let result = (|| {
            let table = self.u.new_array(rows.len()).map_err(|e| err(e.to_string()))?;
            let ht = self.u.handle(table);
            for (i, row) in rows.iter().enumerate() {
                let entry = self.u.new_array(7).map_err(|e| err(e.to_string()))?;
                let he = self.u.handle(entry);
                for (j, text) in row.iter().enumerate() {
                    let s = self.u.new_string(text).map_err(|e| err(e.to_string()))?;
                    let entry = self.u.get(he);
                    self.u.heap.store(entry, [0, 1, 2, 4, 5][j], s);
                }
                let flag = self.u.boolean(flags[i]);
                let entry = self.u.get(he);
                self.u.heap.store(entry, 3, flag);
                let fields = self.u.new_array(shapes[i].len()).map_err(|e| err(e.to_string()))?;
                let hf = self.u.handle(fields);
                for (j, f) in shapes[i].iter().enumerate() {
                    let s = self.u.new_string(f).map_err(|e| err(e.to_string()))?;
                    let fields = self.u.get(hf);
                    self.u.heap.store(fields, j, s);
                }
                let (entry, fields, table) = (self.u.get(he), self.u.get(hf), self.u.get(ht));
                self.u.heap.store(entry, 6, fields);
                self.u.heap.store(table, i, entry);
            }
            let root = self.u.new_array(3).map_err(|e| err(e.to_string()))?;
            let hr = self.u.handle(root);
            let tag = self.u.new_string(EDITS_NAMESPACE).map_err(|e| err(e.to_string()))?;
            let (root, table) = (self.u.get(hr), self.u.get(ht));
            self.u.heap.store(root, 0, tag);
            self.u.heap.store(root, 1, Value::small(EDITS_FORMAT));
            self.u.heap.store(root, 2, table);
            let root = self.u.get(hr);
            vm::image::graph::save_as(
                &mut self.u,
                EDITS_NAMESPACE,
                root,
                false,
                std::path::Path::new(path),
                vm::image::graph::Sharing::Copy,
            )
            .map_err(|e| err(e.to_string()))
        })();
        self.u.release_handles(mark);
        result?;
        Ok(LiveAnswer::Saved { path: path.into(), edits: edits.len() })
    }

    /// Applies a file of edits saved by a live session (`mica --load`,
    /// `mica run app.mimg edits.mimg`): each method and class as it was
    /// saved, compiled again here. Refused whole, before anything changes,
    /// if a class it edits has other fields than when it was saved.
    pub fn apply_edits(&mut self, prepared: vm::image::loader::Prepared) -> Result<usize, String> {
        let file = prepared.name.clone();
        let what = "a file of live edits (mica connect PID --save FILE makes one)";
        let root =
            vm::image::graph::load_as(&mut self.u, EDITS_NAMESPACE, what, prepared, &[]).map_err(|e| e.to_string())?;
        let bad = || format!("{file}: not {what}: its contents are not laid out as one");
        let text = |u: &vm::universe::Universe, v: Value| u.string_value(v).ok_or_else(bad);
        if !(root.is_pointer() && root.format() == Format::Array && root.size() == 3) {
            return Err(bad());
        }
        if text(&self.u, root.slot(0))? != EDITS_NAMESPACE {
            return Err(bad());
        }
        if root.slot(1) != Value::small(EDITS_FORMAT) {
            return Err(format!(
                "{file}: its edits are in format {:?}, and this Mica reads format {EDITS_FORMAT}",
                root.slot(1)
            ));
        }
        let table = root.slot(2);
        if !(table.is_pointer() && table.format() == Format::Array) {
            return Err(bad());
        }
        let mut entries = Vec::new();
        for i in 0..table.size() {
            let e = table.slot(i);
            if !(e.is_pointer() && e.format() == Format::Array && e.size() == 7) {
                return Err(bad());
            }
            let kind = text(&self.u, e.slot(0))?;
            let kind = SavedKind::NAMES.iter().find(|(n, _)| *n == kind).map(|(_, k)| *k).ok_or_else(bad)?;
            let fields = e.slot(6);
            if !(fields.is_pointer() && fields.format() == Format::Array) {
                return Err(bad());
            }
            let fields: Vec<String> =
                (0..fields.size()).map(|j| text(&self.u, fields.slot(j))).collect::<Result<_, _>>()?;
            let class_side = e.slot(3) == self.u.known.true_;
            let logged = Logged {
                kind,
                namespace: text(&self.u, e.slot(1))?,
                class: text(&self.u, e.slot(2))?,
                class_side,
                selector: text(&self.u, e.slot(4))?,
                source: text(&self.u, e.slot(5))?,
                installed: None,
            };
            entries.push((logged, fields));
        }
        // Every class it changes must have the fields it was saved with.
        for (e, fields) in &entries {
            if e.kind == SavedKind::Method
                && let Ok(class) = self.class_in(&e.namespace, &e.class, e.class_side)
                && self.u.field_names(class) != *fields
            {
                let side = if e.class_side { " class" } else { "" };
                return Err(format!(
                    "{file}: {}{side}>>{} was saved against {}{side} with the fields ({}), but here it has ({}): the edits do not fit this version of the class",
                    e.class,
                    e.selector,
                    e.class,
                    fields.join(" "),
                    self.u.field_names(class).join(" ")
                ));
            }
        }
        let n = entries.len();
        for (e, _) in entries {
            let side = if e.class_side { " class" } else { "" };
            let done = match e.kind {
                SavedKind::Class => self.define_class(&e.source).map(|_| ()),
                SavedKind::Method => self
                    .class_in(&e.namespace, &e.class, e.class_side)
                    .map_err(|m| failure(FailureKind::NotFound, m))
                    .and_then(|class| self.define_method_on(class, &e.source).map(|_| ())),
                SavedKind::RemoveMethod => self
                    .class_in(&e.namespace, &e.class, e.class_side)
                    .map_err(|m| failure(FailureKind::NotFound, m))
                    .and_then(|class| match self.remove_method_on(class, &e.selector) {
                        Err(f) if f.kind == FailureKind::NotFound => Ok(()),
                        other => other.map(|_| ()),
                    }),
                SavedKind::RemoveClass => match self.remove_live_class(&e.class) {
                    Err(f) if f.kind == FailureKind::NotFound => Ok(()),
                    other => other.map(|_| ()),
                },
            };
            done.map_err(|f| format!("{file}: {} of {}{side}: {}", e.kind.name(), e.class, f.message))?;
        }
        Ok(n)
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

/// The text of method `selector` (class side if `meta`) in the class file
/// `source`: from its first token to its closing parenthesis.
fn method_text(source: &str, meta: bool, selector: &str) -> Option<String> {
    let def = vm::compiler::parse_class("<source>", source).ok()?;
    let list = if meta { &def.class_methods } else { &def.methods };
    let m = list.iter().find(|m| m.selector == selector)?;
    let mut at = 0;
    for (i, l) in source.split_inclusive('\n').enumerate() {
        if i + 1 == m.span.line as usize {
            at += l.char_indices().nth(m.span.col.saturating_sub(1) as usize).map_or(l.len(), |(b, _)| b);
            break;
        }
        at += l.len();
    }
    let text = &source[at..];
    // The body: the first `=` followed by `(` or `primitive`.
    let bytes = text.as_bytes();
    let mut i = 0;
    let open = loop {
        let eq = i + text[i..].find('=')?;
        let rest = text[eq + 1..].trim_start();
        let skipped = text.len() - rest.len();
        if rest.starts_with("primitive") {
            return Some(text[..skipped + "primitive".len()].to_string());
        }
        if rest.starts_with('(') && bytes.get(eq + 1) != Some(&b'=') {
            break skipped;
        }
        i = eq + 1;
    };
    // Its closing parenthesis, past strings, comments and characters.
    let mut depth = 0;
    let mut chars = text[open..].char_indices().peekable();
    while let Some((k, c)) = chars.next() {
        match c {
            '\'' => {
                while let Some((_, d)) = chars.next() {
                    if d == '\'' && chars.peek().is_none_or(|&(_, e)| e != '\'') {
                        break;
                    }
                    if d == '\'' {
                        chars.next();
                    }
                }
            }
            '"' => {
                for (_, d) in chars.by_ref() {
                    if d == '"' {
                        break;
                    }
                }
            }
            '$' => {
                chars.next();
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(text[..open + k + 1].to_string());
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::method_text;

    #[test]
    fn method_text_is_cut_from_the_class_file() {
        let source = "Foo = (\n    | a |\n    \"one\"\n    one = ( ^1 )\n    \"two, with ) in it\"\n    two: x = (\n        ^x + (a ifNil: [ 0 ])\n    )\n    prim = primitive\n    ----\n    make = ( ^self new )\n)\n";
        assert_eq!(method_text(source, false, "one").as_deref(), Some("one = ( ^1 )"));
        assert_eq!(
            method_text(source, false, "two:").as_deref(),
            Some("two: x = (\n        ^x + (a ifNil: [ 0 ])\n    )")
        );
        assert_eq!(method_text(source, false, "prim").as_deref(), Some("prim = primitive"));
        assert_eq!(method_text(source, true, "make").as_deref(), Some("make = ( ^self new )"));
        assert_eq!(method_text(source, false, "make"), None);
        let one_line =
            "C = ( | n | bump = ( n := n + 1 ) = other = ( ^'=(' = other ) ---- | made | new = ( ^super new ) )";
        assert_eq!(method_text(one_line, false, "bump").as_deref(), Some("bump = ( n := n + 1 )"));
        assert_eq!(method_text(one_line, false, "=").as_deref(), Some("= other = ( ^'=(' = other )"));
        assert_eq!(method_text(one_line, true, "new").as_deref(), Some("new = ( ^super new )"));
    }
}

//! The requests the connection threads hand to the program's thread and
//! the replies they get back.

use std::sync::mpsc::Sender;

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
    /// An object's class, fields and (a page of) indexed elements, each
    /// with its printString and a handle.
    Inspect {
        /// The object's handle.
        handle: u64,
        /// The first indexed element shown (from 0).
        offset: usize,
        /// How many indexed elements at most.
        count: usize,
    },
    /// Store the value of an expression into a field or an element.
    Set {
        /// The object's handle.
        handle: u64,
        /// Which slot.
        slot: SlotName,
        /// The expression.
        source: String,
    },
    /// Store the value of an expression into an argument or temporary of a
    /// frame of a suspended (or stopped) process.
    SetInFrame {
        /// The process's id.
        process: u64,
        /// The frame (0: innermost).
        frame: usize,
        /// The variable's name.
        name: String,
        /// The expression.
        source: String,
    },
    /// Let the program forget handles (all of this client's if None).
    Release {
        /// The handles.
        handles: Option<Vec<u64>>,
    },
    /// A client connected: it gets the events from now on.
    Connected,
    /// Evaluate statements in a frame of a suspended (or stopped) process:
    /// its receiver is `self`, its arguments and temporaries are in scope
    /// (assigning them changes only the evaluation's copies).
    EvalInFrame {
        /// The statements.
        source: String,
        /// The process's id.
        process: u64,
        /// The frame (0: innermost).
        frame: usize,
    },
    /// Stop a process at its next safepoint (a `stopped` event tells every
    /// client).
    Pause {
        /// The process's id.
        process: u64,
    },
    /// Let a paused, suspended or stopped process go on (a process stopped
    /// at an error goes on as if the error's signal had answered nil).
    Continue {
        /// The process's id.
        process: u64,
    },
    /// Start a frame of a suspended (or stopped) process again from its
    /// first bytecode, in its method's current version (the frames above
    /// it are dropped, their unwind blocks not run); the process stays
    /// stopped until `continue`.
    Restart {
        /// The process's id.
        process: u64,
        /// The frame (0: innermost).
        frame: usize,
    },
    /// Return the value of an expression from a frame of a suspended (or
    /// stopped) process: the frames from it up are dropped and its caller
    /// gets the value.
    Return {
        /// The process's id.
        process: u64,
        /// The frame (0: innermost).
        frame: usize,
        /// The expression.
        source: String,
    },
    /// Let a suspended (or stopped) process run to its next source line
    /// (in the interpreter), then stop it again with a `stopped` event.
    Step {
        /// The process's id.
        process: u64,
        /// How far.
        kind: StepKind,
    },
    /// The processes.
    Processes,
    /// Suspend, resume or terminate a process (as `aProcess suspend`
    /// would: a waiting process stops waiting).
    Control {
        /// The process's id.
        process: u64,
        /// What to do.
        action: ProcessAction,
    },
    /// A process's frames, innermost first.
    Stack {
        /// The process's id.
        process: u64,
        /// At most this many frames.
        count: usize,
    },
    /// The client left: its evaluations are interrupted and its handles
    /// released.
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
    Value(Shown),
    /// An inspected object.
    Inspection(Inspection),
    /// An event for every connected client (not a reply).
    Event(LiveEvent),
    /// Processes (one, after `Control`).
    Processes(Vec<ProcessInfo>),
    /// A process's frames, innermost first.
    Stack {
        /// The process.
        process: u64,
        /// The frames.
        frames: Vec<FrameInfo>,
        /// How many frames it has in all.
        depth: usize,
    },
    /// Handles released.
    Released {
        /// How many.
        count: usize,
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

/// What the program tells every connected client unasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveEvent {
    /// A process stopped: at an error nobody handled (while a client was
    /// connected), or because a client paused it.
    Stopped {
        /// The process's id.
        process: u64,
        /// `error`, `pause` or `step`.
        reason: &'static str,
        /// The error's message (empty for a pause).
        message: String,
        /// The stack where it was signalled (empty for a pause).
        trace: String,
    },
}

/// How far `step` goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// To the next line of the same frame, or wherever it returns to.
    Over,
    /// To the next line, in a frame it calls too.
    Into,
    /// Until the frame returns.
    Out,
}

impl StepKind {
    /// The kind a protocol name stands for.
    pub fn from_name(name: &str) -> Option<StepKind> {
        match name {
            "over" => Some(StepKind::Over),
            "into" => Some(StepKind::Into),
            "out" => Some(StepKind::Out),
            _ => None,
        }
    }
}

/// What `Control` does to a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessAction {
    /// `suspend`.
    Suspend,
    /// `resume`.
    Resume,
    /// `terminate` (its unwind blocks run).
    Terminate,
}

impl ProcessAction {
    /// The protocol's (and Smalltalk's) name.
    pub fn name(self) -> &'static str {
        match self {
            ProcessAction::Suspend => "suspend",
            ProcessAction::Resume => "resume",
            ProcessAction::Terminate => "terminate",
        }
    }

    /// The action of a name.
    pub fn from_name(name: &str) -> Option<ProcessAction> {
        [ProcessAction::Suspend, ProcessAction::Resume, ProcessAction::Terminate].into_iter().find(|a| a.name() == name)
    }
}

/// A process as `processes` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Its id (stable while the program runs).
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its priority.
    pub priority: i64,
    /// `running`, `ready`, `waiting`, `suspended`, `stopped` (at an error
    /// nobody handled, see `message`) or `terminated`.
    pub state: &'static str,
    /// Its innermost frame: `Class>>selector (file:line)`, or empty.
    pub top: String,
    /// Whether it is a live client's evaluation.
    pub evaluation: bool,
    /// For a stopped process, the error's message (else empty).
    pub message: String,
}

/// One frame of `stack`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    /// `Class>>selector` (with ` (block)` for a block).
    pub method: String,
    /// Its source file.
    pub file: String,
    /// The line it is at.
    pub line: u32,
    /// `self`.
    pub receiver: Shown,
    /// Its arguments, by name.
    pub arguments: Vec<(String, Shown)>,
    /// Its temporaries (frame temporaries, then captured variables), by
    /// name.
    pub temporaries: Vec<(String, Shown)>,
    /// Whether it is the kernel's own machinery (signalling an error), which
    /// a debugger may leave out.
    pub hidden: bool,
}

/// A slot of an object, by field name or by index (from 1, as `at:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotName {
    /// A named field.
    Field(String),
    /// An indexed element.
    Index(usize),
}

/// A value as a client sees it: its printString, its class and the handle
/// that keeps it alive in the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    /// Its `printString` (whole for an evaluation's value; cut to
    /// [`PRINT_LIMIT`] characters in inspections and stacks).
    pub print: String,
    /// Its class's name.
    pub class: String,
    /// Its handle.
    pub handle: u64,
}

/// Frames `stack` shows when a request does not say how many.
pub const DEFAULT_FRAMES: usize = 50;

/// Elements `inspect` shows when a request does not say how many.
pub const DEFAULT_PAGE: usize = 100;

/// The longest printString an inspection or a stack shows (longer ones
/// end with `...`).
pub const PRINT_LIMIT: usize = 1000;

/// What `inspect` answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// The object.
    pub object: Shown,
    /// Its named fields, in order: name and value.
    pub fields: Vec<(String, Shown)>,
    /// How many indexed elements it has.
    pub size: usize,
    /// The page of elements shown: index (from 1) and value.
    pub elements: Vec<(usize, Shown)>,
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
    /// This server does not do that yet.
    Unsupported,
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
            FailureKind::Unsupported => "unsupported",
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

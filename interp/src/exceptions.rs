//! Exceptions: the frame primitives the kernel's `Exception` is written
//! with, raising the VM's own errors as exceptions, and the report of an
//! unhandled one.
//!
//! The protocol itself (search, handlers, resumption, retry, pass, outer)
//! is Smalltalk, in `vm/kernel/Exception.som`. The VM contributes what
//! needs the frames:
//!
//! ```text
//!  frame stack (callers below)        marks on the kernel's methods
//!  +--------------------------+
//!  | handler block ...        |
//!  | Exception>>handle:resumeAt:  HANDLING  (self: the exception;
//!  |                          |             arg 1: the on:do: frame,
//!  |                          |             arg 2: where resumption returns)
//!  | Exception>>signal ...    |  <- resumption returns from here
//!  | ... the signalling code  |
//!  | Block>>ensure:           |  UNWIND    (temp 0: whether arg 1 has run)
//!  | ...                      |
//!  | Block>>on:do:            |  HANDLER   (arg 1: exception selector,
//!  | ...                      |             arg 2: handler block)
//!  +--------------------------+
//! ```
//!
//! Frames are named by their index in the frame stack (a SmallInteger);
//! every primitive checks that an index it is given is a frame on the
//! running chain, so a wrong or stale one is an error, never a wild cut.
//! Unwinding is Smalltalk's loop over [`Control::NextUnwindBlock`], then
//! one cut ([`Control::ReturnFromFrame`]). A cut made while native code is
//! below sets `left_native`, so that the native activations in between
//! unwind too (their frames are the interpreter's, so nothing is lost).

use vm::bytecode::CodeFlags;
use vm::layout::*;
use vm::primitives::{Control, ErrorKind};
use vm::universe::NamespaceId;
use vm::value::Value;

use crate::call::NO_FRAME;
use crate::error::Stop;
use crate::frame::*;
use crate::{Flow, Interpreter, Step};

/// The kernel classes and selectors the VM uses for exceptions and
/// processes, found once at start (nil when a kernel lacks one: the VM
/// then stops on its errors, as it did before exceptions).
#[derive(Clone, Debug)]
pub(crate) struct KernelRefs {
    /// `Exception`.
    pub exception: Value,
    /// `ExceptionSet`.
    pub exception_set: Value,
    /// The class of each [`ErrorKind`], in `ErrorKind::ALL` order.
    pub errors: [Value; ErrorKind::ALL.len()],
    /// `Process`.
    pub process: Value,
    /// Whether `Process` and `Semaphore` have the fields the scheduler
    /// uses, in its order.
    pub processes_ok: bool,
    /// `Process>>startUp`: the bottom frame of a forked process.
    pub start_up_method: Value,
    /// `Process>>terminateHere`: run on top of a process terminated by
    /// another.
    pub terminate_here_method: Value,
    /// `#vmSignal:`.
    pub vm_signal: Value,
    /// `#return:from:`.
    pub return_from: Value,
    /// `#handles:`.
    pub handles: Value,
    /// `Exception class>>handles:` (a kind test the VM can make itself).
    pub handles_method: Value,
    /// `LiveEvaluation`: the block of a live client's evaluation.
    pub live_evaluation: Value,
}

impl KernelRefs {
    /// Finds them in the kernel namespace of `interp`'s universe.
    pub fn find(u: &mut vm::universe::Universe) -> KernelRefs {
        let nil = u.nil();
        let mut class = |name: &str| {
            u.own_binding(NamespaceId::KERNEL, name)
                .map(|b| b.slot(BINDING_VALUE))
                .filter(|v| v.is_pointer() && *v != Value::UNBOUND)
                .unwrap_or(nil)
        };
        let exception = class("Exception");
        let exception_set = class("ExceptionSet");
        let process = class("Process");
        let semaphore = class("Semaphore");
        let live_evaluation = class("LiveEvaluation");
        let errors = ErrorKind::ALL.map(|k| class(k.class_name()));
        let fields_are =
            |u: &vm::universe::Universe, class: Value, names: &[&str]| class != nil && u.field_names(class) == names;
        let mut method = |class: Value, selector: &str| match u.intern(selector) {
            Ok(sel) if class != nil => u.lookup_uncached(class, sel),
            _ => nil,
        };
        let start_up_method = method(process, "startUp");
        let handles_method = if exception == nil { nil } else { method(exception.class_word(), "handles:") };
        let terminate_here_method = method(process, "terminateHere");
        let processes_ok = fields_are(u, process, &crate::process::fields::NAMES)
            && fields_are(u, semaphore, &crate::process::SEMAPHORE_FIELDS)
            && start_up_method != nil
            && terminate_here_method != nil;
        let mut sym = |s: &str| u.intern(s).unwrap_or(nil);
        KernelRefs {
            exception,
            exception_set,
            errors,
            process,
            processes_ok,
            start_up_method,
            terminate_here_method,
            vm_signal: sym("vmSignal:"),
            return_from: sym("return:from:"),
            handles: sym("handles:"),
            handles_method,
            live_evaluation,
        }
    }

    fn error_class(&self, kind: ErrorKind) -> Value {
        let i = ErrorKind::ALL.iter().position(|&k| k == kind).unwrap_or(0);
        self.errors[i]
    }
}

/// An error to raise as an exception where the failing send's receiver
/// and arguments are known (a control primitive's helpers answer it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raise {
    /// The kernel class.
    pub kind: ErrorKind,
    /// The message text.
    pub message: String,
}

impl Interpreter {
    // ---- raising -------------------------------------------------------------

    /// A [`Flow`] that raises `kind` with `message` at the send being run
    /// (converted by [`Interpreter::control`] and [`Interpreter::invoke`],
    /// which know the send's arguments).
    pub(crate) fn failure(&self, kind: ErrorKind, message: impl Into<String>) -> Flow {
        Flow::Raise(Box::new(Raise { kind, message: message.into() }))
    }

    /// Raises `kind` with `message` as a Smalltalk exception in place of
    /// the `pop` values on top of the stack (a failed send's receiver and
    /// arguments): `ErrorClass vmSignal: message` is sent there, so the
    /// value a handler resumes with is the value of the failed operation.
    /// Without the kernel's exception classes, the program stops.
    pub(crate) fn raise(&mut self, kind: ErrorKind, message: String, pop: usize) -> Step {
        let class = self.kernel.error_class(kind);
        let nil = self.u.nil();
        if class == nil {
            return Err(self.error(message));
        }
        if kind == ErrorKind::OutOfMemory {
            if self.u.in_memory_reserve {
                // Its handler ran out of the reserve too.
                return Err(self.error(format!("{message} (The reserve for handling it is used up too.)")));
            }
            // The handler runs in the reserve above the limit.
            self.u.in_memory_reserve = true;
        }
        self.u.sp -= pop;
        self.push(class);
        self.push(nil);
        let text = self.u.new_string(&message);
        match text {
            Ok(t) => self.set_top(t),
            Err(_) if kind == ErrorKind::OutOfMemory => {}
            Err(e) => return Err(self.error(format!("{message} (and then {e})"))),
        }
        let sel = self.kernel.vm_signal;
        self.send_uncached(sel, 1)
    }

    /// Raises a [`Flow::Raise`] left by a helper, for the send of `argc`
    /// arguments being run; other flows pass.
    pub(crate) fn raise_flow(&mut self, flow: Flow, argc: usize) -> Step {
        match flow {
            Flow::Raise(r) => {
                let Raise { kind, message } = *r;
                self.raise(kind, message, argc + 1)
            }
            other => Err(other),
        }
    }

    fn set_top(&mut self, v: Value) {
        let sp = self.u.sp;
        self.u.stack[sp - 1] = v;
    }

    // ---- frames ----------------------------------------------------------------

    /// The `CodeFlags` of the method running in frame `fp`.
    pub(crate) fn frame_flags(&self, fp: usize) -> CodeFlags {
        let method = self.u.stack[fp + FRAME_METHOD];
        CodeFlags::from_bits((method.slot(METHOD_INFO).int_value() >> METHOD_INFO_FLAGS_SHIFT) as u8)
    }

    /// The number of arguments of the method running in frame `fp`.
    fn frame_args(&self, fp: usize) -> usize {
        let method = self.u.stack[fp + FRAME_METHOD];
        method_info_counts(method.slot(METHOD_INFO).int_value()).0
    }

    /// The number of temporaries of the method running in frame `fp`.
    fn frame_temps(&self, fp: usize) -> usize {
        let method = self.u.stack[fp + FRAME_METHOD];
        method_info_counts(method.slot(METHOD_INFO).int_value()).1
    }

    /// Argument `n` (from 1) of frame `fp`.
    fn frame_arg(&self, fp: usize, n: usize) -> Value {
        let args = self.frame_args(fp);
        self.u.stack[fp - args - 1 + n]
    }

    /// Whether `fp` is a frame of the running chain (the running frame or
    /// one of its callers).
    pub(crate) fn on_chain(&self, fp: usize) -> bool {
        let mut f = self.fp;
        while f != NO_FRAME && f > fp {
            f = self.caller_fp(f).unwrap_or(NO_FRAME);
        }
        f == fp && f != NO_FRAME
    }

    /// A frame index given to a primitive: a frame of the running chain,
    /// `Ok(None)` for nil, or an error.
    fn frame_operand(&self, v: Value) -> Result<Option<usize>, Flow> {
        if v == self.u.nil() {
            return Ok(None);
        }
        match v.as_int() {
            Some(i) if i >= 0 && self.on_chain(i as usize) => Ok(Some(i as usize)),
            _ => Err(self.failure(
                ErrorKind::PrimitiveFailed,
                format!("{} is not a frame of the running process.", self.describe(v)),
            )),
        }
    }

    fn frame_value(&self, fp: Option<usize>) -> Value {
        fp.map_or(self.u.nil(), |f| Value::small(f as i64))
    }

    /// Whether `selector` can select exceptions: a class that is
    /// `Exception` or inherits from it, or an `ExceptionSet`.
    fn is_exception_selector(&self, selector: Value) -> bool {
        let k = &self.kernel;
        let nil = self.u.nil();
        let inherits = |mut c: Value, from: Value| {
            while c != nil {
                if c == from {
                    return true;
                }
                c = c.slot(CLASS_SUPERCLASS);
            }
            false
        };
        (self.u.is_class(selector) && inherits(selector, k.exception))
            || (k.exception_set != nil && inherits(self.u.class_of(selector), k.exception_set))
    }

    /// Whether exception selector `selector` takes `exception`, when the VM
    /// can tell: a class whose class side has the kernel's `handles:` (a
    /// kind test). `None`: Smalltalk must ask it (an ExceptionSet, a
    /// `handles:` of its own).
    fn selector_takes(&mut self, selector: Value, exception: Value) -> Option<bool> {
        if !self.u.is_class(selector) {
            return None;
        }
        let sel = self.kernel.handles;
        if self.u.lookup(selector.class_word(), sel) != self.kernel.handles_method {
            return None;
        }
        let nil = self.u.nil();
        let mut c = self.u.class_of(exception);
        while c != nil {
            if c == selector {
                return Some(true);
            }
            c = c.slot(CLASS_SUPERCLASS);
        }
        Some(false)
    }

    /// The next `on:do:` frame at or below `start` that takes `exception`
    /// (`(frame, true)`), or whose selector Smalltalk must ask
    /// (`(frame, false)`), going past the `on:do:` of every handler running
    /// on the way (a signal inside a handler is looked for outside it).
    fn next_handler(&mut self, start: usize, exception: Value) -> Option<(usize, bool)> {
        let mut fp = start;
        // While set: the on:do: frame of a running handler, which the
        // search skips to and goes on below.
        let mut past: Option<usize> = None;
        while fp != NO_FRAME {
            let caller = self.caller_fp(fp).unwrap_or(NO_FRAME);
            match past {
                Some(p) if fp > p => {
                    fp = caller;
                    continue;
                }
                Some(p) if fp == p => {
                    past = None;
                    fp = caller;
                    continue;
                }
                // Not on the chain after all: search on from here.
                Some(_) => past = None,
                None => {}
            }
            let flags = self.frame_flags(fp);
            if flags.contains(CodeFlags::HANDLER) && self.is_exception_selector(self.frame_arg(fp, 1)) {
                let selector = self.frame_arg(fp, 1);
                match self.selector_takes(selector, exception) {
                    Some(true) => return Some((fp, true)),
                    Some(false) => {}
                    None => return Some((fp, false)),
                }
            }
            if flags.contains(CodeFlags::HANDLING)
                && let Some(h) = self.frame_arg(fp, 1).as_int()
                && h >= 0
                && (h as usize) < fp
            {
                past = Some(h as usize);
            }
            fp = caller;
        }
        None
    }

    /// Ends every activation above `target`, which becomes the running
    /// frame (home contexts of the ended ones are marked dead, so their
    /// blocks can no longer return to them).
    fn cut_to(&mut self, target: usize) {
        let mut fp = self.fp;
        while fp != target && fp != NO_FRAME {
            if self.frame_flags(fp).contains(CodeFlags::HOME_CONTEXT) {
                self.mark_home_dead(fp);
            }
            fp = self.caller_fp(fp).unwrap_or(NO_FRAME);
        }
        self.fp = target;
        let method = self.u.stack[target + FRAME_METHOD];
        self.set_method(method);
        self.left_native = true;
    }

    /// Whether an unwind frame (`ensure:`, `ifCurtailed:`) whose block has
    /// not run lies above `target` on the running chain.
    pub(crate) fn pending_unwind_above(&self, target: usize) -> bool {
        let mut fp = self.fp;
        while fp != NO_FRAME && fp > target {
            if self.frame_flags(fp).contains(CodeFlags::UNWIND) && self.unwind_pending(fp) {
                return true;
            }
            fp = self.caller_fp(fp).unwrap_or(NO_FRAME);
        }
        false
    }

    /// Whether `target` is a frame of the running chain with no unwind
    /// block still to run above it (one walk).
    fn clear_path_to(&self, target: usize) -> bool {
        let mut fp = self.fp;
        while fp != NO_FRAME && fp > target {
            if self.frame_flags(fp).contains(CodeFlags::UNWIND) && self.unwind_pending(fp) {
                return false;
            }
            fp = self.caller_fp(fp).unwrap_or(NO_FRAME);
        }
        fp == target
    }

    fn unwind_pending(&self, fp: usize) -> bool {
        self.frame_temps(fp) > 0 && self.u.stack[fp + FRAME_HEADER] == self.u.nil()
    }

    // ---- the primitives ----------------------------------------------------------

    /// The exception primitives (see [`Control`]).
    pub(crate) fn exception_primitive(&mut self, c: Control, argc: usize) -> Step {
        let nil = self.u.nil();
        let result = match c {
            Control::Frame => self.frame_value((self.fp != NO_FRAME).then_some(self.fp)),
            Control::FrameCaller => {
                let fp = self.frame_operand(self.peek(0))?;
                self.frame_value(fp.and_then(|f| self.caller_fp(f)))
            }
            Control::FrameArgument => {
                let n = self.peek(1).as_int();
                let Some(fp) = self.frame_operand(self.peek(0))? else { return self.finish_primitive(argc, nil) };
                match n {
                    Some(n) if n >= 1 && n as usize <= self.frame_args(fp) => self.frame_arg(fp, n as usize),
                    _ => {
                        let n = self.describe(self.peek(1));
                        return Err(self.failure(ErrorKind::Index, format!("The frame has no argument {n}.")));
                    }
                }
            }
            Control::NextHandler => {
                let exception = self.peek(0);
                match self.frame_operand(self.peek(1))?.and_then(|fp| self.next_handler(fp, exception)) {
                    Some((fp, true)) => Value::small(fp as i64),
                    Some((fp, false)) => Value::small(-1 - fp as i64),
                    None => nil,
                }
            }
            Control::Handling => self.frame_value(self.handling_frame(self.peek(0))),
            Control::NextUnwindBlock => {
                let target = self.frame_operand(self.peek(0))?;
                let mut fp = self.fp;
                let mut block = nil;
                while fp != NO_FRAME && target.is_none_or(|t| fp > t) {
                    if self.frame_flags(fp).contains(CodeFlags::UNWIND) && self.unwind_pending(fp) {
                        self.u.stack[fp + FRAME_HEADER] = self.u.known.true_;
                        block = self.frame_arg(fp, 1);
                        break;
                    }
                    fp = self.caller_fp(fp).unwrap_or(NO_FRAME);
                }
                block
            }
            Control::ReturnFromFrame => {
                let value = self.peek(1);
                let Some(fp) = self.frame_operand(self.peek(0))? else {
                    return Err(self.failure(ErrorKind::PrimitiveFailed, "primReturn:from: needs a frame."));
                };
                self.cut_to(fp);
                return self.return_value(value);
            }
            Control::RestartFrame => {
                let block = self.peek(0);
                let Some(fp) = self.frame_operand(self.peek(1))? else {
                    return Err(self.failure(ErrorKind::PrimitiveFailed, "primRestart:with: needs a frame."));
                };
                self.cut_to(fp);
                self.restart_frame(fp, block);
                return Ok(());
            }
            Control::Unhandled => return self.unhandled(argc),
            _ => unreachable!("not an exception primitive: {c:?}"),
        };
        self.finish_primitive(argc, result)
    }

    /// `Exception return: value from: fp` and `anException return: value`
    /// (from its handler) when no unwind block lies on the way: the frame
    /// returns at once. Otherwise, and for anything out of the ordinary, the
    /// method's Smalltalk code runs (it unwinds, or reports the misuse).
    pub(crate) fn quick_return(&mut self, c: Control, method: Value, argc: usize) -> Step {
        let target = match c {
            Control::QuickReturnFromFrame => self.peek(0).as_int(),
            _ => {
                let exception = self.peek(1);
                self.handling_frame(exception).and_then(|h| self.frame_arg(h, 1).as_int())
            }
        };
        let value = self.peek(argc - 1);
        match target.filter(|&fp| fp >= 0).map(|fp| fp as usize) {
            Some(fp) if self.clear_path_to(fp) => {
                self.cut_to(fp);
                self.return_value(value)
            }
            _ => {
                let rt = self.u.runtime_index(method);
                self.run_fallback(method, rt, argc)
            }
        }
    }

    /// The frame of the innermost handler running for `exception`.
    fn handling_frame(&self, exception: Value) -> Option<usize> {
        let mut fp = self.fp;
        while fp != NO_FRAME {
            if self.frame_flags(fp).contains(CodeFlags::HANDLING) && self.u.stack[fp + FRAME_SELF] == exception {
                return Some(fp);
            }
            fp = self.caller_fp(fp).unwrap_or(NO_FRAME);
        }
        None
    }

    /// Starts the running frame `fp` again from its first bytecode, with
    /// `block` (unless nil) as its receiver.
    fn restart_frame(&mut self, fp: usize, block: Value) {
        let nil = self.u.nil();
        let args = self.frame_args(fp);
        if block != nil {
            self.u.stack[fp - args - 1] = block;
            self.u.stack[fp + FRAME_SELF] = block;
        }
        if self.home {
            self.mark_home_dead(fp);
        }
        let closure = self.u.stack[fp + FRAME_CLOSURE];
        let context = if closure == nil { nil } else { closure.slot(CLOSURE_CONTEXT) };
        self.u.stack[fp + FRAME_CONTEXT] = context;
        let temps = self.frame_temps(fp);
        for i in 0..temps {
            self.u.stack[fp + FRAME_HEADER + i] = nil;
        }
        self.u.sp = fp + FRAME_HEADER + temps;
        self.pc = 0;
    }

    /// `Exception primUnhandled: anException text: aString stdout: aBoolean`:
    /// in the main process the program stops with the report (the
    /// message, and a stack trace from where the exception was signalled);
    /// in another process the report goes to standard error and the
    /// primitive answers nil (the kernel then ends the process).
    fn unhandled(&mut self, argc: usize) -> Step {
        let exception = self.peek(2);
        let text = self.u.text_or_describe(self.peek(1));
        let on_stdout = self.peek(0) == self.u.known.true_;
        let (top, pc) = self.signal_point(exception);
        let trace = self.stack_trace_from(top, pc);
        if self.stop_for_client(argc, &text, &trace)? {
            return Ok(());
        }
        if self.in_main_process() {
            return Err(Flow::Stop(Box::new(Stop::Error { message: text, trace, on_stdout })));
        }
        if let Some(index) = self.scheduler_active()
            && self.live_eval_failed(index, &text, &trace)
        {
            return self.finish_primitive(argc, self.u.nil());
        }
        let name = self.active_process_name();
        let report = format!("Unhandled error in process {name}:\n{trace}{text}\n");
        self.u.output.write_err(report.as_bytes());
        self.finish_primitive(argc, self.u.nil())
    }

    /// The frame an exception was signalled from, and its bytecode index:
    /// the first frame below the top that is neither an activation of the
    /// exception itself nor a signalling helper of the kernel.
    fn signal_point(&self, exception: Value) -> (usize, usize) {
        let mut fp = self.fp;
        let mut pc = self.pc;
        while fp != NO_FRAME {
            let hidden = self.u.stack[fp + FRAME_SELF] == exception || self.frame_flags(fp).contains(CodeFlags::HIDDEN);
            let caller = self.caller_fp(fp);
            if !hidden || caller.is_none() {
                break;
            }
            pc = self.u.stack[fp + FRAME_CALLER_PC].int_value().max(0) as usize;
            fp = caller.unwrap_or(NO_FRAME);
        }
        (fp, pc)
    }

    // ---- non-local return ------------------------------------------------------

    /// A non-local return to frame `home` with unwind blocks in between:
    /// `Exception return: value from: home` runs them, innermost first, and
    /// then returns from the home frame.
    pub(crate) fn unwinding_return(&mut self, value: Value, home: usize) -> Step {
        let exception = self.kernel.exception;
        self.push(exception);
        self.push(value);
        self.push(Value::small(home as i64));
        let sel = self.kernel.return_from;
        self.send_uncached(sel, 2)
    }
}

//! The baseline interpreter: runs verified bytecode on frames in VM memory
//! (see [`frame`]), with inline caches at every send site, non-local
//! returns through home contexts, primitives from `vm`, and per-method
//! counters and receiver-class feedback for the JIT.
//!
//! A Smalltalk send costs no Rust stack: calls and returns switch frames
//! inside one loop, so recursion depth is bounded by the frame stack only,
//! and running out of it is a Smalltalk error.

mod call;
mod control;
mod error;
mod exceptions;
pub mod frame;
pub mod live;
mod loader;
pub mod native;
mod ops;
mod process;
mod stats;
mod tiering;
mod tunables;

pub use tiering::{CodeGenerator, Compiled, Finished, JitConfig, JitFigures, JitMode, Tunable};

use std::path::PathBuf;

use vm::bytecode::{Opcode, SPECIAL_SELECTORS, dispatch_verified};
use vm::compiler::ClassPath;
use vm::universe::{Universe, UniverseConfig};
use vm::value::Value;

pub use error::Stop;
use frame::*;

/// How a handler ends: go on, or leave the loop.
pub enum Flow {
    /// The bottom frame returned this value.
    Return(Value),
    /// The program stops (boxed, so that handlers return small values).
    Stop(Box<Stop>),
    /// An error to raise as an exception in place of the send being run
    /// (the primitive that answers it leaves the send's receiver and
    /// arguments on the stack; see `exceptions.rs`).
    Raise(Box<exceptions::Raise>),
}

/// What handlers return.
pub type Step = Result<(), Flow>;

/// Interpreter settings.
#[derive(Clone, Debug, Default)]
pub struct InterpConfig {
    /// Class-path directories.
    pub class_path: Vec<PathBuf>,
    /// Universe (heap, stack) settings.
    pub universe: UniverseConfig,
}

/// The interpreter: a universe and the registers of the running frame.
pub struct Interpreter {
    /// The universe.
    pub u: Universe,
    fp: usize,
    pc: usize,
    method: Value,
    literals: Value,
    code: *const u8,
    code_len: usize,
    num_args: usize,
    home: bool,
    rt: usize,
    special: Vec<Value>,
    class_path: ClassPath,
    loading: Vec<String>,
    /// Native code of the running method, if it has some.
    native: Option<vm::runtime::NativeFn>,
    jit: Option<Box<dyn CodeGenerator>>,
    jit_config: JitConfig,
    /// The lowest native stack address a callee may be run natively from
    /// inside the interpreter (see `native::NATIVE_STACK_BUDGET`); 0 until
    /// the interpreter loop first runs.
    native_stack_floor: usize,
    /// The method epoch `native` was read in: when an edit discards native
    /// code, the running activation continues in the interpreter. While a
    /// process is stepped it is kept different, so that every bytecode
    /// passes the check (see `live::debug`).
    native_epoch: u64,
    /// Times native code left a bytecode to the interpreter, by opcode.
    native_exits: Vec<u64>,
    /// What a runtime function called from native code could not hand
    /// back directly (an error, the bottom frame's return).
    pending: Option<Flow>,
    /// The kernel classes and selectors of exceptions and processes.
    kernel: exceptions::KernelRefs,
    /// Set when the running chain changed other than by a call or return
    /// (a cut by an exception, a process switch): native code below must
    /// not go on, and leaves at once.
    left_native: bool,
    /// Processes, when the program has made any.
    scheduler: process::Scheduler,
    /// Live requests, once a connection endpoint is open.
    live: Option<Box<live::LiveState>>,
    /// Clients connected now (the endpoint counts them).
    live_clients: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// The edits of a live session that ended (for `--stats`).
    past_edits: Vec<live::EditRecord>,
    /// The namespace live evaluations are compiled in.
    eval_namespace: vm::universe::NamespaceId,
}

impl Interpreter {
    /// A new interpreter with the kernel compiled from its sources.
    pub fn new(config: InterpConfig) -> Result<Interpreter, String> {
        let u = Universe::new(config.universe)?;
        Interpreter::with_universe(u, config)
    }

    /// A new interpreter on a universe made by the caller (with its kernel
    /// mapped from an image, say).
    pub fn with_universe(mut u: Universe, config: InterpConfig) -> Result<Interpreter, String> {
        let mut special = vec![u.nil(); Opcode::COUNT];
        for &(op, sel) in SPECIAL_SELECTORS {
            special[op as usize] = u.intern(sel).map_err(|e| e.to_string())?;
        }
        let mut class_path = ClassPath::new(config.class_path);
        class_path.set_kernel_shapes(u.class_shapes(vm::universe::NamespaceId::KERNEL));
        let nil = u.nil();
        let kernel = exceptions::KernelRefs::find(&mut u);
        u.interrupts.set_depth_bound(native::MAX_NATIVE_DEPTH as u64);
        Ok(Interpreter {
            u,
            fp: 0,
            pc: 0,
            method: nil,
            literals: nil,
            code: std::ptr::null(),
            code_len: 0,
            num_args: 0,
            home: false,
            rt: 0,
            special,
            class_path,
            loading: Vec::new(),
            native: None,
            jit: None,
            jit_config: JitConfig { mode: JitMode::Off, ..JitConfig::default() },
            native_stack_floor: 0,
            native_epoch: 0,
            native_exits: vec![0; Opcode::COUNT],
            pending: None,
            kernel,
            left_native: false,
            scheduler: process::Scheduler::default(),
            live: None,
            live_clients: Default::default(),
            past_edits: Vec::new(),
            eval_namespace: vm::universe::NamespaceId::PROGRAM,
        })
    }

    /// Adds a directory to the end of the class path.
    pub fn add_class_path(&mut self, dir: PathBuf) {
        let mut dirs = self.class_path.dirs().to_vec();
        if !dirs.contains(&dir) {
            dirs.push(dir);
            let mut cp = ClassPath::new(dirs);
            cp.set_kernel_shapes(self.u.class_shapes(vm::universe::NamespaceId::KERNEL));
            self.class_path = cp;
        }
    }

    /// Makes `method` the running method (after a call or return).
    #[inline(always)]
    fn set_method(&mut self, method: Value) {
        let rt = self.u.runtime_index(method);
        self.set_method_rt(method, rt);
    }

    /// Makes `method`, whose runtime record is `rt`, the running method.
    #[inline(always)]
    fn set_method_rt(&mut self, method: Value, rt: usize) {
        let info = self.u.runtime(rt).info;
        self.method = method;
        self.rt = rt;
        self.literals = info.literals;
        self.code = info.code;
        self.code_len = info.code_len;
        self.num_args = info.num_args as usize;
        self.home = info.flags & vm::bytecode::CodeFlags::HOME_CONTEXT.bits() != 0;
        self.native = info.native;
    }

    /// The interpreter loop: runs until the bottom frame returns or the
    /// program stops.
    fn execute(&mut self) -> Result<Value, Stop> {
        if self.native_stack_floor == 0 {
            let here = 0u8;
            let here = std::ptr::addr_of!(here) as usize;
            self.native_stack_floor = here.saturating_sub(native::NATIVE_STACK_BUDGET);
        }
        loop {
            if self.u.method_epoch != self.native_epoch {
                self.native_epoch = self.u.method_epoch;
                self.native = self.u.runtime(self.rt).info.native;
                if self.live.as_ref().is_some_and(|l| l.stepping.is_some())
                    && let Some(outcome) = self.step_here()
                {
                    match outcome {
                        Some(r) => return r,
                        None => continue,
                    }
                }
            }
            if let Some(native) = self.native
                && self.u.runtime(self.rt).native_entry(self.pc)
            {
                if self.u.interrupts.is_pending() {
                    // Before native code runs (it would only come back).
                    if let Err(flow) = self.safepoint() {
                        match self.leave_or_contain(flow) {
                            Some(r) => return r,
                            None => continue,
                        }
                    }
                    if self.left_native {
                        self.left_native = false;
                        continue;
                    }
                }
                self.left_native = false;
                let entered = self.fp;
                let context = self as *mut Interpreter as *mut std::ffi::c_void;
                // The frame's address, with the provenance of the whole stack
                // (native code reaches the arguments below it, and callers').
                let frame = self.u.stack.as_mut_ptr().wrapping_add(self.fp);
                // SAFETY: native code was compiled from this method's verified
                // bytecode for this universe; it runs the frame at `fp` (at
                // `frame`) from `pc` (a bytecode boundary), keeps frames
                // consistent, stores `sp` (and the frame to go on with) and
                // answers the next bytecode for the interpreter, that the frame
                // returned, or that the interpreter's registers were set for it.
                let next = unsafe { native(context, self.fp as u64, self.pc as u64, frame) };
                if next == vm::runtime::NATIVE_LEFT {
                    // A runtime function set the registers (or left a flow).
                    if let Some(flow) = self.pending.take() {
                        match self.leave_or_contain(flow) {
                            Some(r) => return r,
                            None => continue,
                        }
                    }
                    continue;
                }
                if next == vm::runtime::NATIVE_RETURNED {
                    // The frame native code was entered with returned (runtime
                    // functions deeper down may have moved the registers).
                    self.fp = entered;
                    if let Err(flow) = self.after_native_return() {
                        match self.leave_or_contain(flow) {
                            Some(r) => return r,
                            None => continue,
                        }
                    }
                    continue;
                }
                // Native code left a bytecode to the interpreter, in the
                // frame it stored (a native callee's, maybe).
                self.fp = self.u.jit_fp;
                let method = self.frame(FRAME_METHOD);
                self.set_method(method);
                self.pc = next as usize;
                self.count_exit();
            }
            // SAFETY: `code` points to the bytecode of the running method,
            // verified before it was installed (and so before it first ran),
            // and `pc` is always the start of one of its instructions: the
            // dispatch moves it past the instruction, jumps and returns set it
            // to verified targets. The bytecode lives in old space, which
            // never moves, and stays alive while a frame refers to its method.
            let step = unsafe { dispatch_verified(self, self.code, self.pc) };
            if let Err(flow) = step {
                match self.leave_or_contain(flow) {
                    Some(r) => return r,
                    None => continue,
                }
            }
        }
    }

    /// While a process is stepped, before each bytecode: `None` to run it,
    /// `Some(None)` when the loop goes on elsewhere (the stepped process
    /// stopped), `Some(Some(r))` when it ends. Kept out of line: the loop
    /// pays for it only while a process is stepped.
    #[cold]
    #[inline(never)]
    fn step_here(&mut self) -> Option<Option<Result<Value, Stop>>> {
        match self.step_check() {
            Ok(false) => None,
            Ok(true) => Some(None),
            Err(flow) => Some(self.leave_or_contain(flow)),
        }
    }

    /// A flow that ends the loop, unless it stops a live evaluation's
    /// process only (`None`: the loop goes on with the next process).
    #[cold]
    fn leave_or_contain(&mut self, flow: Flow) -> Option<Result<Value, Stop>> {
        let flow = if self.live.is_some() { self.live_contain(flow)? } else { flow };
        Some(self.leave_loop(flow))
    }

    /// What `execute` answers for a flow that ends the loop. A raise that
    /// reached the loop unconverted stops the program with its message.
    #[cold]
    fn leave_loop(&mut self, flow: Flow) -> Result<Value, Stop> {
        match flow {
            Flow::Return(v) => Ok(v),
            Flow::Stop(s) => Err(*s),
            Flow::Raise(r) => Err(Stop::Error { message: r.message, trace: self.stack_trace(), on_stdout: false }),
        }
    }

    /// Counts a bytecode native code left to the interpreter.
    #[inline(always)]
    pub(crate) fn count_exit(&mut self) {
        // SAFETY: `code` and `code_len` describe the running method's
        // bytecode, which the method keeps alive.
        let code = unsafe { std::slice::from_raw_parts(self.code, self.code_len) };
        // A wide prefix is followed by the opcode.
        let byte = match code.get(self.pc) {
            Some(&b) if b < vm::bytecode::FIRST_OPCODE => code.get(self.pc + 1).copied(),
            b => b.copied(),
        };
        let row = byte.and_then(|b| b.checked_sub(vm::bytecode::FIRST_OPCODE));
        if let Some(slot) = row.and_then(|r| self.native_exits.get_mut(usize::from(r))) {
            *slot += 1;
        }
    }

    /// The bytecodes native code left to the interpreter, most frequent
    /// first: (opcode name, count).
    pub fn native_exits(&self) -> Vec<(&'static str, u64)> {
        let mut out: Vec<(&'static str, u64)> = Opcode::ALL
            .iter()
            .zip(&self.native_exits)
            .filter(|(_, n)| **n > 0)
            .map(|(op, n)| (op.name(), *n))
            .collect();
        out.sort_by_key(|e| std::cmp::Reverse(e.1));
        out
    }

    /// Native code ran the frame at `fp` to its return: its value is where
    /// its receiver was and `sp` is just above it. Continue in the caller.
    fn after_native_return(&mut self) -> Step {
        // The returned frame's header lies above `sp` now, untouched.
        let caller = self.u.stack[self.fp + FRAME_CALLER_FP].int_value();
        let caller_pc = self.u.stack[self.fp + FRAME_CALLER_PC].int_value() as usize;
        if caller < 0 {
            self.fp = call::NO_FRAME;
            let v = self.top();
            return Err(Flow::Return(v));
        }
        self.fp = caller as usize;
        self.pc = caller_pc;
        let method = self.frame(FRAME_METHOD);
        self.set_method(method);
        Ok(())
    }

    // ---- stack access --------------------------------------------------------
    //
    // The handlers access the frame stack without bounds checks: `push_frame`
    // makes sure `max_stack + STACK_RESERVE` words are free above a new
    // frame's temporaries, the verifier bounds every method's operand stack
    // by its `max_stack`, control primitives check before they push more,
    // and frame slots lie below `sp`.

    #[inline(always)]
    fn push(&mut self, v: Value) {
        debug_assert!(self.u.sp < self.u.stack.len());
        // SAFETY: see above: `sp` is below the stack's length.
        unsafe { *self.u.stack.get_unchecked_mut(self.u.sp) = v };
        self.u.sp += 1;
    }

    #[inline(always)]
    fn pop(&mut self) -> Value {
        self.u.sp -= 1;
        // SAFETY: the verified stack depth never goes below the frame.
        unsafe { *self.u.stack.get_unchecked(self.u.sp) }
    }

    #[inline(always)]
    fn top(&self) -> Value {
        self.peek(0)
    }

    #[inline(always)]
    fn peek(&self, depth: usize) -> Value {
        debug_assert!(depth < self.u.sp);
        // SAFETY: the verified stack holds more than `depth` values.
        unsafe { *self.u.stack.get_unchecked(self.u.sp - 1 - depth) }
    }

    #[inline(always)]
    fn frame(&self, slot: usize) -> Value {
        debug_assert!(self.fp + slot < self.u.sp);
        // SAFETY: frame header and temporaries lie below `sp`.
        unsafe { *self.u.stack.get_unchecked(self.fp + slot) }
    }

    #[inline(always)]
    fn set_frame(&mut self, slot: usize, v: Value) {
        debug_assert!(self.fp + slot < self.u.sp);
        // SAFETY: as in `frame`.
        unsafe { *self.u.stack.get_unchecked_mut(self.fp + slot) = v };
    }

    // ---- entry points ----------------------------------------------------------

    /// Sends `selector` to `receiver` with `args` from Rust, running until
    /// it returns.
    pub fn send(&mut self, receiver: Value, selector: &str, args: &[Value]) -> Result<Value, Stop> {
        let sel = self.u.intern(selector).map_err(|e| Stop::Fatal(e.to_string()))?;
        let saved = (self.fp, self.pc, self.method);
        let base = self.u.sp;
        self.push(receiver);
        for &a in args {
            self.push(a);
        }
        let class = self.u.class_of(receiver);
        let method = self.u.lookup(class, sel);
        let result = if method == self.u.nil() {
            Err(Stop::Fatal(format!("{} does not understand {selector}", self.u.class_name(class))))
        } else {
            match self.invoke_from_rust(method, args.len()) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => self.execute(),
                Err(flow) => self.leave_loop(flow),
            }
        };
        self.u.sp = base;
        let (fp, pc, method) = saved;
        self.fp = fp;
        self.pc = pc;
        if method != self.u.nil() {
            self.set_method(method);
        }
        result
    }

    /// Runs a program SOM-style: loads `class_name`, makes an instance and
    /// sends it `run:` with `args` (element 1 is the class name) if it
    /// understands it, else `run`. Answers the exit status.
    pub fn run_main(&mut self, class_name: &str, args: &[String]) -> i32 {
        let status = match self.run_main_inner(class_name, args) {
            Ok(_) => 0,
            Err(stop) => self.report(stop),
        };
        self.u.output.flush();
        status
    }

    fn run_main_inner(&mut self, class_name: &str, args: &[String]) -> Result<Value, Stop> {
        // Loaded already (a file of live edits changed it): as it is.
        let stem = std::path::Path::new(class_name).file_stem().and_then(|s| s.to_str()).unwrap_or(class_name);
        let loaded = self
            .u
            .own_binding(vm::universe::NamespaceId::PROGRAM, stem)
            .map(|b| b.slot(vm::layout::BINDING_VALUE))
            .filter(|&c| self.u.is_class(c));
        if let Some(class) = loaded {
            return self.start(class, stem, args, false);
        }
        let class = self.load_class(class_name).map_err(Stop::Fatal)?.ok_or_else(|| {
            let dirs: Vec<String> = self.class_path.dirs().iter().map(|d| d.display().to_string()).collect();
            Stop::Fatal(format!("class {class_name} not found on the class path ({})", dirs.join(":")))
        })?;
        let class_name = std::path::Path::new(class_name).file_stem().and_then(|s| s.to_str()).unwrap_or(class_name);
        self.start(class, class_name, args, false)
    }

    /// Runs the main class of an image: sends `run:` with the arguments
    /// (element 1 is the class name), or `run`, to the class itself if its
    /// class side defines one, else to a new instance (as SOM programs
    /// expect). Answers the exit status.
    pub fn run_class(&mut self, class: Value, args: &[String]) -> i32 {
        let name = self.u.class_name(class);
        let status = match self.start(class, &name, args, true) {
            Ok(_) => 0,
            Err(stop) => self.report(stop),
        };
        self.u.output.flush();
        status
    }

    fn start(&mut self, class: Value, class_name: &str, args: &[String], class_side: bool) -> Result<Value, Stop> {
        let array = self.u.new_array(args.len() + 1).map_err(|e| Stop::Fatal(e.to_string()))?;
        let ha = self.u.handle(array);
        for (i, text) in std::iter::once(class_name).chain(args.iter().map(String::as_str)).enumerate() {
            let s = self.u.new_string(text).map_err(|e| Stop::Fatal(e.to_string()))?;
            let array = self.u.get(ha);
            self.u.heap.store(array, i, s);
        }
        let run_colon = self.u.intern("run:").map_err(|e| Stop::Fatal(e.to_string()))?;
        let run = self.u.intern("run").map_err(|e| Stop::Fatal(e.to_string()))?;
        let meta = self.u.class_of(class);
        let nil = self.u.nil();
        let receiver = if class_side && (self.u.lookup(meta, run_colon) != nil || self.u.lookup(meta, run) != nil) {
            class
        } else {
            self.send(class, "new", &[])?
        };
        let array = self.u.get(ha);
        let receiver_class = self.u.class_of(receiver);
        if self.u.lookup(receiver_class, run_colon) != nil {
            self.send(receiver, "run:", &[array])
        } else {
            self.send(receiver, "run", &[])
        }
    }

    /// Evaluates statements typed at the REPL and answers the printed value
    /// (`printString` of the last statement's value). Undeclared names
    /// assigned to become globals.
    pub fn evaluate(&mut self, source: &str) -> Result<String, Stop> {
        let nil = self.u.nil();
        let name = self.u.intern("MicaRepl").map_err(|e| Stop::Fatal(e.to_string()))?;
        let class = match self.u.global_in(vm::universe::NamespaceId::PROGRAM, name) {
            Some(c) => c,
            None => {
                let object = self.u.known.object;
                let c = self.u.define_class("MicaRepl", object, &[], &[]).map_err(Stop::Fatal)?;
                self.u
                    .set_global(vm::universe::NamespaceId::PROGRAM, name, c)
                    .map_err(|e| Stop::Fatal(e.to_string()))?;
                c
            }
        };
        let text = format!("doIt = ( ^[\n{source}\n] value )");
        let options = vm::compiler::CompileOptions { allow_global_assignment: true };
        let code = vm::compiler::compile_method_source("<repl>", &text, &[], options).map_err(|e| Stop::Error {
            message: e.to_string(),
            trace: String::new(),
            on_stdout: false,
        })?;
        vm::bytecode::verify_method(&code, 0).map_err(|e| Stop::Fatal(e.to_string()))?;
        let file = self.u.new_old_string("<repl>").map_err(|e| Stop::Fatal(e.to_string()))?;
        let method = self
            .u
            .make_method(&code, class, vm::universe::NamespaceId::PROGRAM, nil, file, "MicaRepl")
            .map_err(|e| Stop::Fatal(e.to_string()))?;
        self.u.add_method(class, method).map_err(|e| Stop::Fatal(e.to_string()))?;
        let instance = self.send(class, "new", &[])?;
        let value = self.send(instance, "doIt", &[])?;
        let text = self.send(value, "printString", &[])?;
        Ok(self.u.text_or_describe(text))
    }

    /// Reads the frame's caller fp.
    fn caller_fp(&self, fp: usize) -> Option<usize> {
        let v = self.u.stack[fp + FRAME_CALLER_FP].int_value();
        (v >= 0).then_some(v as usize)
    }
}

/// The class of a value, by name (for tests and tools).
pub fn class_name_of(interp: &Interpreter, v: Value) -> String {
    interp.u.class_name(interp.u.class_of(v))
}

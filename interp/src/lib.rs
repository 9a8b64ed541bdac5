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
pub mod frame;
mod loader;
mod ops;
mod stats;

use std::path::PathBuf;

use vm::bytecode::{EXTRA_WIDE_PREFIX, FIRST_OPCODE, Insn, Opcode, SPECIAL_SELECTORS};
use vm::compiler::ClassPath;
use vm::layout::*;
use vm::universe::{Universe, UniverseConfig};
use vm::value::Value;

pub use error::Stop;
use frame::*;

/// How a handler ends: go on, or leave the loop.
pub enum Flow {
    /// The bottom frame returned this value.
    Return(Value),
    /// The program stops.
    Stop(Stop),
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
}

impl Interpreter {
    /// A new interpreter with the kernel loaded.
    pub fn new(config: InterpConfig) -> Result<Interpreter, String> {
        let mut u = Universe::new(config.universe)?;
        let mut special = vec![u.nil(); Opcode::COUNT];
        for &(op, sel) in SPECIAL_SELECTORS {
            special[op as usize] = u.intern(sel).map_err(|e| e.to_string())?;
        }
        let mut class_path = ClassPath::new(config.class_path);
        class_path.set_kernel_shapes(u.class_shapes(vm::universe::Namespace::Kernel));
        let nil = u.nil();
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
        })
    }

    /// Adds a directory to the end of the class path.
    pub fn add_class_path(&mut self, dir: PathBuf) {
        let mut dirs = self.class_path.dirs().to_vec();
        if !dirs.contains(&dir) {
            dirs.push(dir);
            let mut cp = ClassPath::new(dirs);
            cp.set_kernel_shapes(self.u.class_shapes(vm::universe::Namespace::Kernel));
            self.class_path = cp;
        }
    }

    /// Makes `method` the running method (after a call or return).
    #[inline(always)]
    fn set_method(&mut self, method: Value) {
        self.method = method;
        self.literals = method.slot(METHOD_LITERALS);
        let code = method.slot(METHOD_BYTECODE);
        let bytes = code.bytes();
        self.code = bytes.as_ptr();
        self.code_len = bytes.len();
        let info = method.slot(METHOD_INFO).int_value();
        self.num_args = ((info >> METHOD_INFO_ARGS_SHIFT) & 0xffff) as usize;
        self.home = (info >> METHOD_INFO_FLAGS_SHIFT) as u8 & vm::bytecode::CodeFlags::HOME_CONTEXT.bits() != 0;
        self.rt = self.u.runtime_index(method);
    }

    #[inline(always)]
    fn code(&self) -> &[u8] {
        // SAFETY: `code` and `code_len` describe the bytes of the running
        // method's bytecode object, which lives in old space (never moved or
        // freed while a frame refers to its method, frames being roots).
        unsafe { std::slice::from_raw_parts(self.code, self.code_len) }
    }

    /// The interpreter loop: runs until the bottom frame returns or the
    /// program stops.
    fn execute(&mut self) -> Result<Value, Stop> {
        loop {
            let code = self.code();
            let pc = self.pc;
            let byte = code[pc];
            let (opcode_byte, width, ops) = if byte >= FIRST_OPCODE {
                (byte, 1, pc + 1)
            } else {
                (code[pc + 1], if byte == EXTRA_WIDE_PREFIX { 4 } else { 2 }, pc + 2)
            };
            let Some(opcode) = Opcode::from_byte(opcode_byte) else {
                return Err(Stop::Fatal(format!("bad opcode {opcode_byte} at {pc}")));
            };
            let insn = Insn::decode_operands(opcode, &code[ops..], width);
            self.pc = ops + opcode.operand_kinds().len() * width;
            if let Err(flow) = insn.visit(self) {
                match flow {
                    Flow::Return(v) => return Ok(v),
                    Flow::Stop(s) => return Err(s),
                }
            }
        }
    }

    // ---- stack access --------------------------------------------------------

    #[inline(always)]
    fn push(&mut self, v: Value) {
        self.u.push(v);
    }

    #[inline(always)]
    fn pop(&mut self) -> Value {
        self.u.pop()
    }

    #[inline(always)]
    fn top(&self) -> Value {
        self.u.peek(0)
    }

    #[inline(always)]
    fn frame(&self, slot: usize) -> Value {
        self.u.stack[self.fp + slot]
    }

    #[inline(always)]
    fn set_frame(&mut self, slot: usize, v: Value) {
        self.u.stack[self.fp + slot] = v;
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
                Err(Flow::Return(v)) => Ok(v),
                Err(Flow::Stop(s)) => Err(s),
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
        let class = self.load_class(class_name).map_err(Stop::Fatal)?.ok_or_else(|| {
            let dirs: Vec<String> = self.class_path.dirs().iter().map(|d| d.display().to_string()).collect();
            Stop::Fatal(format!("class {class_name} not found on the class path ({})", dirs.join(":")))
        })?;
        let class_name = std::path::Path::new(class_name).file_stem().and_then(|s| s.to_str()).unwrap_or(class_name);
        let instance = self.send(class, "new", &[])?;
        let h = self.u.handle(instance);
        let array = self.u.new_array(args.len() + 1).map_err(|e| Stop::Fatal(e.to_string()))?;
        let ha = self.u.handle(array);
        for (i, text) in std::iter::once(class_name).chain(args.iter().map(String::as_str)).enumerate() {
            let s = self.u.new_string(text).map_err(|e| Stop::Fatal(e.to_string()))?;
            let array = self.u.get(ha);
            self.u.heap.store(array, i, s);
        }
        let (instance, array) = (self.u.get(h), self.u.get(ha));
        let run_colon = self.u.intern("run:").map_err(|e| Stop::Fatal(e.to_string()))?;
        let class = self.u.class_of(instance);
        if self.u.lookup(class, run_colon) != self.u.nil() {
            self.send(instance, "run:", &[array])
        } else {
            self.send(instance, "run", &[])
        }
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

//! The code-generation thread: Cranelift's compilation of translated
//! methods to machine code, off the thread that runs the program.
//!
//! The program's thread translates a method's bytecode to Cranelift IR (it
//! reads the heap and the inline caches, so it must) and hands the IR to
//! this thread, which owns the `JITModule` and so all native code. The
//! program's thread collects finished code at its next chance and publishes
//! it through the method's cell. Compilation, the expensive half, so runs
//! on another core while the method goes on in the interpreter.

use std::io::Write as _;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use cranelift_codegen::Context;
use cranelift_codegen::ir::{self, UserFuncName};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module, default_libcall_names};

use crate::translate;

/// The runtime functions native code calls, in the order the module
/// declares them: their index is the user external name translated code
/// refers to them by.
pub(crate) const IMPORTS: [(&str, Import); 4] = [
    ("mica_step", Import::Step),
    ("mica_barrier", Import::Barrier),
    ("mica_primitive", Import::Primitive),
    ("mica_bytes_equal", Import::BytesEqual),
];

/// A runtime function native code calls.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Import {
    Step,
    Barrier,
    Primitive,
    BytesEqual,
}

impl Import {
    fn address(self) -> *const u8 {
        match self {
            Import::Step => interp::native::mica_step as *const u8,
            Import::Barrier => interp::native::mica_barrier as *const u8,
            Import::Primitive => interp::native::mica_primitive as *const u8,
            Import::BytesEqual => interp::native::mica_bytes_equal as *const u8,
        }
    }

    pub(crate) fn signature(self, call_conv: cranelift_codegen::isa::CallConv) -> ir::Signature {
        match self {
            Import::Step | Import::Primitive => translate::step_signature(call_conv),
            Import::Barrier => translate::barrier_signature(call_conv),
            Import::BytesEqual => translate::bytes_equal_signature(call_conv),
        }
    }

    /// The external name translated code uses for the function.
    pub(crate) fn index(self) -> u32 {
        IMPORTS.iter().position(|&(_, i)| i == self).expect("every import is listed") as u32
    }
}

/// A translated method to compile.
pub(crate) struct Job {
    /// The method's runtime record.
    pub rt: usize,
    /// `Universe::method_epoch` when it was translated.
    pub epoch: u64,
    /// Whether the translation inlined lookup results.
    pub speculative: bool,
    /// `Class>>selector`, for the perf map and errors.
    pub name: String,
    pub func: ir::Function,
    /// Whether to keep the machine code's text.
    pub asm: bool,
}

/// Machine code in the module.
pub(crate) struct Code {
    pub address: usize,
    pub size: usize,
    /// The disassembly, when asked for.
    pub asm: Option<String>,
}

/// A compiled (or failed) job.
pub(crate) struct Done {
    pub rt: usize,
    pub epoch: u64,
    pub speculative: bool,
    pub name: String,
    pub result: Result<Code, String>,
    /// Time spent compiling it on the code-generation thread.
    pub time: Duration,
}

/// The handle of the code-generation thread.
pub(crate) struct Worker {
    jobs: Sender<Job>,
    done: Receiver<Done>,
    /// Jobs sent and not yet received back.
    in_flight: usize,
}

const STOPPED: &str = "the code generator thread stopped";

impl Worker {
    /// Starts the thread with a module for `isa`.
    pub(crate) fn start(isa: OwnedTargetIsa, perf_map: bool) -> Result<Worker, String> {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel::<Done>();
        let (ready_tx, ready) = mpsc::channel::<Result<(), String>>();
        std::thread::Builder::new()
            .name("mica-jit".into())
            .spawn(move || {
                let mut generator = match Generator::new(isa, perf_map) {
                    Ok(g) => {
                        let _ = ready_tx.send(Ok(()));
                        g
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                for Job { rt, epoch, speculative, name, func, asm } in job_rx {
                    let start = Instant::now();
                    let result = generator.compile(rt, &name, func, asm);
                    let done = Done { rt, epoch, speculative, name, result, time: start.elapsed() };
                    if done_tx.send(done).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| format!("cannot start the code generator thread: {e}"))?;
        ready.recv().map_err(|_| STOPPED.to_string())??;
        Ok(Worker { jobs, done, in_flight: 0 })
    }

    /// Queues a job.
    pub(crate) fn send(&mut self, job: Job) -> Result<(), String> {
        self.jobs.send(job).map_err(|_| STOPPED.to_string())?;
        self.in_flight += 1;
        Ok(())
    }

    /// A finished job, if one is ready.
    pub(crate) fn try_done(&mut self) -> Option<Done> {
        if self.in_flight == 0 {
            return None;
        }
        let done = self.done.try_recv().ok()?;
        self.in_flight -= 1;
        Some(done)
    }

    /// The next finished job, waiting for it.
    pub(crate) fn wait_done(&mut self) -> Result<Done, String> {
        let done = self.done.recv().map_err(|_| STOPPED.to_string())?;
        self.in_flight -= 1;
        Ok(done)
    }
}

/// What the thread owns: the module holding all native code.
struct Generator {
    module: JITModule,
    ctx: Context,
    count: u64,
    /// With `MICA_PERF_MAP` set: the map `perf` reads to name JIT code.
    perf_map: Option<std::fs::File>,
}

impl Generator {
    fn new(isa: OwnedTargetIsa, perf_map: bool) -> Result<Generator, String> {
        let call_conv = isa.default_call_conv();
        let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
        for (name, import) in IMPORTS {
            builder.symbol(name, import.address());
        }
        let mut module = JITModule::new(builder);
        for (name, import) in IMPORTS {
            let id = module
                .declare_function(name, Linkage::Import, &import.signature(call_conv))
                .map_err(|e| e.to_string())?;
            if id.as_u32() != import.index() {
                return Err(format!("{name} was declared as function {}", id.as_u32()));
            }
        }
        let perf_map =
            perf_map.then(|| std::fs::File::create(format!("/tmp/perf-{}.map", std::process::id())).ok()).flatten();
        Ok(Generator { module, ctx: Context::new(), count: 0, perf_map })
    }

    fn compile(&mut self, rt: usize, name: &str, func: ir::Function, asm: bool) -> Result<Code, String> {
        // A failure inside Cranelift is a method left to the interpreter,
        // never a crash.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.compile_function(rt, name, func, asm)))
            .unwrap_or_else(|p| {
                let message = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "the code generator failed".into());
                // The module may hold a half-defined function: start afresh.
                self.module.clear_context(&mut self.ctx);
                Err(format!("code generation failed: {message}"))
            })
    }

    fn compile_function(&mut self, rt: usize, name: &str, func: ir::Function, asm: bool) -> Result<Code, String> {
        self.module.clear_context(&mut self.ctx);
        self.ctx.func = func;
        self.ctx.func.name = UserFuncName::user(0, rt as u32);
        self.ctx.set_disasm(asm);
        self.count += 1;
        let id = self
            .module
            .declare_function(&format!("m{rt}_{}", self.count), Linkage::Local, &self.ctx.func.signature)
            .map_err(|e| e.to_string())?;
        self.module.define_function(id, &mut self.ctx).map_err(|e| format!("{e:?}"))?;
        let (size, asm) = match self.ctx.compiled_code() {
            Some(code) => (code.code_buffer().len(), code.vcode.clone().filter(|_| asm)),
            None => (0, None),
        };
        self.module.finalize_definitions().map_err(|e| e.to_string())?;
        let address = self.module.get_finalized_function(id) as usize;
        if let Some(map) = &mut self.perf_map {
            let _ = writeln!(map, "{address:x} {size:x} {name}");
        }
        Ok(Code { address, size, asm })
    }
}

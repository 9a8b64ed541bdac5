//! Mica's baseline JIT: translates a method's bytecode to native code
//! through Cranelift (x86-64 or AArch64, whichever the host is), one
//! bytecode at a time on the interpreter's frame (see [`translate`]).
//!
//! Every frame is the interpreter's frame, written back at every
//! safepoint: native code calls native code, allocates, and sends through
//! inline caches it reads at run time, and hands a bytecode it does not
//! finish to the interpreter for that one bytecode (`interp::native`). So
//! on-stack replacement is entering native code at a loop head, and
//! deoptimisation is the interpreter resuming a frame at a bytecode.
//! Short callees the inline caches found, and the blocks their callers
//! made and passed to them, are translated into their callers on the
//! frames a call or a `value` would give them, so that this stays true of
//! inlined code (`docs/design/optimizing-tier.md`).

pub mod coverage;
mod translate;
mod worker;

use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use cranelift_codegen::ir::{self, UserFuncName};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::FunctionBuilderContext;
use interp::{CodeGenerator, Compiled, Finished, JitFigures};
use vm::runtime::NativeFn;
use vm::universe::Universe;
use vm::value::Value;
use worker::{Done, Import, Job, Worker};

/// What to print while compiling.
#[derive(Clone, Copy, Debug, Default)]
pub struct DumpOptions {
    /// The Cranelift IR of each compiled method.
    pub ir: bool,
    /// The machine code of each compiled method.
    pub asm: bool,
    /// What each send site of each compiled method does.
    pub sends: bool,
}

/// What the code generator inlines (`--jit-inline-bytes`,
/// `--jit-inline-depth`).
#[derive(Clone, Copy, Debug)]
pub struct Inlining {
    /// The longest callee with a frame inlined, in bytes of bytecode (0:
    /// none).
    pub bytes: usize,
    /// Levels of callees inlined into inlined callees.
    pub depth: usize,
}

/// The code generator: translates on the program's thread, compiles on
/// its own (see [`worker`]).
pub struct Jit {
    isa: OwnedTargetIsa,
    worker: Worker,
    fctx: FunctionBuilderContext,
    dump: DumpOptions,
    /// The deoptimisation stress mode's N (0: off) and its countdown, which
    /// the guards of native code decrement (see `Translator::guard`).
    deopt_every: u64,
    countdown: Box<AtomicU64>,
    /// What is inlined.
    inlining: Inlining,
    primitives: translate::NativePrimitives,
    /// Finished jobs received while waiting for another.
    early: VecDeque<Done>,
    compiled: u64,
    failed: Vec<(String, String)>,
    translate_time: Duration,
    generate_time: Duration,
    code_bytes: usize,
    /// Callees and blocks inlined.
    inlined: translate::Inlined,
}

impl Jit {
    /// A code generator for the host machine that dumps what `dump` asks
    /// for and inlines as `inlining` says; with `deopt_every` N > 0, every
    /// Nth guard its code evaluates fails (a stress mode for testing the
    /// exits to the interpreter).
    pub fn new(dump: DumpOptions, deopt_every: u64, inlining: Inlining) -> Result<Jit, String> {
        let mut flags = settings::builder();
        flags.set("use_colocated_libcalls", "false").map_err(|e| e.to_string())?;
        flags.set("is_pic", "false").map_err(|e| e.to_string())?;
        flags.set("opt_level", "speed").map_err(|e| e.to_string())?;
        flags.set("preserve_frame_pointers", "true").map_err(|e| e.to_string())?;
        // The verifier costs compile time: on in debug builds only.
        flags
            .set("enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" })
            .map_err(|e| e.to_string())?;
        let isa_builder = cranelift_native::builder().map_err(|e| e.to_string())?;
        let isa = isa_builder.finish(settings::Flags::new(flags)).map_err(|e| e.to_string())?;
        let worker = Worker::start(isa.clone(), std::env::var_os("MICA_PERF_MAP").is_some())?;
        Ok(Jit {
            isa,
            worker,
            fctx: FunctionBuilderContext::new(),
            dump,
            deopt_every,
            countdown: Box::new(AtomicU64::new(deopt_every)),
            inlining,
            primitives: translate::NativePrimitives::new(),
            early: VecDeque::new(),
            compiled: 0,
            failed: Vec::new(),
            translate_time: Duration::ZERO,
            generate_time: Duration::ZERO,
            code_bytes: 0,
            inlined: translate::Inlined::default(),
        })
    }

    /// The target the code is generated for.
    pub fn target(&self) -> String {
        self.isa.triple().to_string()
    }

    /// Translates the method of runtime record `rt` and queues it for the
    /// code-generation thread.
    fn translate(&mut self, u: &mut Universe, rt: usize) -> Result<(), String> {
        let start = Instant::now();
        let result = self.translate_method(u, rt);
        self.translate_time += start.elapsed();
        result.inspect_err(|reason| self.failed.push((method_name(u, u.runtime(rt).method), reason.clone())))
    }

    fn translate_method(&mut self, u: &mut Universe, rt: usize) -> Result<(), String> {
        let name = method_name(u, u.runtime(rt).method);
        let call_conv = self.isa.default_call_conv();
        let mut func =
            ir::Function::with_name_signature(UserFuncName::user(0, rt as u32), translate::signature(call_conv));
        let (nursery_start, nursery_end) = u.heap.nursery_bounds();
        let frontend = self.isa.frontend_config();
        let known = u.known.clone();
        let stack_base = u.stack.as_ptr() as u64;
        let interrupts = u.interrupts.flag_address();
        let native_limit = u.interrupts.native_limit_address();
        let stack_words = u.stack.len() as u64;
        let no_inline_allocation = u.heap.config().stress;
        let constants = |func: &mut ir::Function| translate::Constants {
            stack_base,
            interrupts,
            native_limit,
            stack_words,
            layout: interp::Interpreter::native_layout(),
            nil: known.nil.bits(),
            true_: known.true_.bits(),
            false_: known.false_.bits(),
            classes: classes(&known),
            nursery_start: nursery_start as u64,
            nursery_len: (nursery_end - nursery_start) as u64,
            no_inline_allocation,
            step: import(func, Import::Step, call_conv),
            barrier: import(func, Import::Barrier, call_conv),
            primitive: import(func, Import::Primitive, call_conv),
            bytes_equal: import(func, Import::BytesEqual, call_conv),
            primitives: self.primitives,
            native_sig: func.import_signature(translate::signature(call_conv)),
            symbolic: false,
            deopt_every: (self.deopt_every > 0).then_some((self.countdown.as_ptr() as u64, self.deopt_every)),
            describe_sends: self.dump.sends,
            inline_bytes: self.inlining.bytes,
            inline_depth: self.inlining.depth,
        };
        // Cranelift's frontend may panic on a translation bug: the method
        // stays interpreted.
        let translated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            translate::translate(u, rt, &mut func, &mut self.fctx, frontend, constants)
        }))
        .map_err(|_| {
            self.fctx = FunctionBuilderContext::new();
            "translation failed".to_string()
        })??;
        if self.dump.ir {
            println!("; {name}\n{}", func.display());
        }
        if self.dump.sends {
            println!("; sends of {name}\n{}", translated.sends);
        }
        self.inlined.callees += translated.inlined.callees;
        self.inlined.blocks += translated.inlined.blocks;
        self.inlined.bytes += translated.inlined.bytes;
        let speculative = translated.speculative;
        self.worker.send(Job { rt, epoch: u.method_epoch, speculative, name, func, asm: self.dump.asm })
    }

    /// Accounts for a finished job and makes its result.
    fn receive(&mut self, done: Done) -> Finished {
        self.generate_time += done.time;
        let result = match done.result {
            Ok(code) => {
                self.compiled += 1;
                self.code_bytes += code.size;
                if let Some(text) = code.asm {
                    println!("; {}\n{text}", done.name);
                }
                // SAFETY: the function was compiled with
                // `translate::signature`, which is the C ABI of `NativeFn`
                // on this target, and the module holding it lives as long
                // as the code-generation thread, which is never stopped.
                let code = unsafe { std::mem::transmute::<usize, NativeFn>(code.address) };
                Ok(Compiled { code, speculative: done.speculative })
            }
            Err(reason) => {
                self.failed.push((done.name, reason.clone()));
                Err(reason)
            }
        };
        Finished { rt: done.rt, epoch: done.epoch, result }
    }
}

/// Imports runtime function `which` into `func`, under the name the
/// code-generation thread's module declared it with.
fn import(func: &mut ir::Function, which: Import, call_conv: CallConv) -> ir::FuncRef {
    let signature = func.import_signature(which.signature(call_conv));
    let name = func.declare_imported_user_function(ir::UserExternalName { namespace: 0, index: which.index() });
    func.import_function(ir::ExtFuncData {
        name: ir::ExternalName::user(name),
        signature,
        colocated: false,
        patchable: false,
    })
}

fn classes(known: &vm::universe::Known) -> translate::Classes {
    translate::Classes {
        integer: known.integer.bits(),
        double: known.double.bits(),
        character: known.character.bits(),
        array: known.array.bits(),
        string: known.string.bits(),
        context: known.context_class.bits(),
        blocks: [known.block1.bits(), known.block2.bits(), known.block3.bits(), known.block4.bits()],
    }
}

/// The Cranelift IR of the method of runtime record `rt`, with addresses
/// replaced by fixed placeholders so that the text is the same from run to
/// run (for golden tests and documentation).
pub fn ir_text(u: &mut Universe, rt: usize) -> Result<String, String> {
    let isa_builder = cranelift_native::builder().map_err(|e| e.to_string())?;
    let isa = isa_builder.finish(settings::Flags::new(settings::builder())).map_err(|e| e.to_string())?;
    let mut func = ir::Function::with_name_signature(UserFuncName::user(0, 0), translate::signature(CallConv::SystemV));
    let mut fctx = FunctionBuilderContext::new();
    let cc = CallConv::SystemV;
    let constants = |func: &mut ir::Function| {
        let mut import = |name: &str, sig: ir::Signature| {
            let sig_ref = func.import_signature(sig);
            func.import_function(ir::ExtFuncData {
                name: ir::ExternalName::testcase(name),
                signature: sig_ref,
                colocated: false,
                patchable: false,
            })
        };
        let step = import("mica_step", translate::step_signature(cc));
        let barrier = import("mica_barrier", translate::barrier_signature(cc));
        let primitive = import("mica_primitive", translate::step_signature(cc));
        let bytes_equal = import("mica_bytes_equal", translate::bytes_equal_signature(cc));
        translate::Constants {
            stack_base: 0x1000_0000,
            interrupts: 0x1800_0000,
            native_limit: 0x1800_0008,
            stack_words: 0x100_0000,
            layout: interp::native::NativeLayout {
                sp: 0x40,
                jit_fp: 0x48,
                native_depth: 0x50,
                method_epoch: 0x58,
                heap_top: 0x60,
                heap_end: 0x68,
                next_hash: 0x70,
            },
            nil: 0x2000_0000,
            true_: 0x2000_0010,
            false_: 0x2000_0020,
            classes: translate::Classes {
                integer: 0x3000_0010,
                double: 0x3000_0018,
                character: 0x3000_0020,
                array: 0x3000_0000,
                string: 0x3000_0060,
                context: 0x3000_0030,
                blocks: [0x3000_0040, 0x3000_0048, 0x3000_0050, 0x3000_0058],
            },
            nursery_start: 0x4000_0000,
            nursery_len: 0x80_0000,
            no_inline_allocation: false,
            step,
            barrier,
            primitive,
            bytes_equal,
            primitives: translate::NativePrimitives::new(),
            native_sig: func.import_signature(translate::signature(cc)),
            symbolic: true,
            deopt_every: None,
            describe_sends: false,
            inline_bytes: interp::JitConfig::default().inline_bytes,
            inline_depth: interp::JitConfig::default().inline_depth,
        }
    };
    translate::translate(u, rt, &mut func, &mut fctx, isa.frontend_config(), constants)?;
    Ok(func.display().to_string())
}

impl CodeGenerator for Jit {
    fn compile(&mut self, u: &mut Universe, rt: usize) -> Result<Compiled, String> {
        self.translate(u, rt)?;
        loop {
            let done = self.worker.wait_done()?;
            if done.rt == rt {
                return self.receive(done).result;
            }
            self.early.push_back(done);
        }
    }

    fn start(&mut self, u: &mut Universe, rt: usize) -> Result<(), String> {
        self.translate(u, rt)
    }

    fn finished(&mut self) -> Option<Finished> {
        let done = self.early.pop_front().or_else(|| self.worker.try_done())?;
        Some(self.receive(done))
    }

    fn figures(&self) -> JitFigures {
        JitFigures {
            compiled: self.compiled,
            failed: self.failed.len() as u64,
            compile_time: self.translate_time + self.generate_time,
            code_bytes: self.code_bytes as u64,
        }
    }

    fn report(&self) -> String {
        let total = self.translate_time + self.generate_time;
        let mut out = format!(
            "jit ({}): {} methods compiled, {} left to the interpreter, {:.1} ms compiling ({:.1} ms translating, {:.1} ms generating code), {} bytes of code\n",
            self.target(),
            self.compiled,
            self.failed.len(),
            total.as_secs_f64() * 1e3,
            self.translate_time.as_secs_f64() * 1e3,
            self.generate_time.as_secs_f64() * 1e3,
            self.code_bytes
        );
        out.push_str(&format!(
            "  {} callees inlined at send sites and {} blocks where they are valued ({} bytes of bytecode; --jit-inline-bytes={} --jit-inline-depth={})\n",
            self.inlined.callees, self.inlined.blocks, self.inlined.bytes, self.inlining.bytes, self.inlining.depth
        ));
        for (name, reason) in &self.failed {
            out.push_str(&format!("  not compiled: {name}: {reason}\n"));
        }
        out
    }
}

fn method_name(u: &Universe, method: Value) -> String {
    use vm::layout::*;
    let holder = u.class_name(method.slot(METHOD_HOLDER));
    let selector = method.slot(METHOD_SELECTOR);
    if selector == u.nil() {
        let outer = method.slot(METHOD_OUTER);
        return format!("{holder}>>{} (block)", u.text_or_describe(outer.slot(METHOD_SELECTOR)));
    }
    format!("{holder}>>{}", u.text_or_describe(selector))
}

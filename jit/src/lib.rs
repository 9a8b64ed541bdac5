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

mod translate;

use std::io::Write as _;
use std::time::{Duration, Instant};

use cranelift_codegen::Context;
use cranelift_codegen::ir::{self, UserFuncName};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::FunctionBuilderContext;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module, default_libcall_names};
use interp::{CodeGenerator, Compiled};
use vm::runtime::NativeFn;
use vm::universe::Universe;
use vm::value::Value;

/// What to print while compiling.
#[derive(Clone, Copy, Debug, Default)]
pub struct DumpOptions {
    /// The Cranelift IR of each compiled method.
    pub ir: bool,
    /// The machine code of each compiled method.
    pub asm: bool,
}

/// The code generator.
pub struct Jit {
    module: JITModule,
    ctx: Context,
    fctx: FunctionBuilderContext,
    step: cranelift_module::FuncId,
    barrier: cranelift_module::FuncId,
    primitive: cranelift_module::FuncId,
    dump: DumpOptions,
    compiled: u64,
    failed: Vec<(String, String)>,
    compile_time: Duration,
    code_bytes: usize,
    /// With `MICA_PERF_MAP` set: the map `perf` reads to name JIT code.
    perf_map: Option<std::fs::File>,
}

impl Jit {
    /// A JIT for the host machine.
    pub fn new(dump: DumpOptions) -> Result<Jit, String> {
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
        let call_conv = isa.default_call_conv();
        let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
        builder.symbol("mica_step", interp::native::mica_step as *const u8);
        builder.symbol("mica_barrier", interp::native::mica_barrier as *const u8);
        builder.symbol("mica_primitive", interp::native::mica_primitive as *const u8);
        let mut module = JITModule::new(builder);
        let step = module
            .declare_function("mica_step", Linkage::Import, &translate::step_signature(call_conv))
            .map_err(|e| e.to_string())?;
        let barrier = module
            .declare_function("mica_barrier", Linkage::Import, &translate::barrier_signature(call_conv))
            .map_err(|e| e.to_string())?;
        let primitive = module
            .declare_function("mica_primitive", Linkage::Import, &translate::step_signature(call_conv))
            .map_err(|e| e.to_string())?;
        Ok(Jit {
            module,
            ctx: Context::new(),
            fctx: FunctionBuilderContext::new(),
            step,
            barrier,
            primitive,
            dump,
            compiled: 0,
            failed: Vec::new(),
            compile_time: Duration::ZERO,
            code_bytes: 0,
            perf_map: std::env::var_os("MICA_PERF_MAP")
                .and_then(|_| std::fs::File::create(format!("/tmp/perf-{}.map", std::process::id())).ok()),
        })
    }

    /// The target the code is generated for.
    pub fn target(&self) -> String {
        self.module.isa().triple().to_string()
    }

    fn compile_method(&mut self, u: &mut Universe, rt: usize) -> Result<Compiled, String> {
        let name = method_name(u, u.runtime(rt).method);
        self.module.clear_context(&mut self.ctx);
        let call_conv = self.module.isa().default_call_conv();
        self.ctx.func.signature = translate::signature(call_conv);
        self.ctx.func.name = UserFuncName::user(0, rt as u32);
        let (nursery_start, nursery_end) = u.heap.nursery_bounds();
        let (step_id, barrier_id, primitive_id) = (self.step, self.barrier, self.primitive);
        let module = &mut self.module;
        let frontend = module.isa().frontend_config();
        let known = u.known.clone();
        let stack_base = u.stack.as_ptr() as u64;
        let stack_words = u.stack.len() as u64;
        let no_inline_allocation = u.heap.config().stress;
        let constants = |func: &mut ir::Function| translate::Constants {
            stack_base,
            stack_words,
            layout: interp::Interpreter::native_layout(),
            nil: known.nil.bits(),
            true_: known.true_.bits(),
            false_: known.false_.bits(),
            classes: classes(&known),
            nursery_start: nursery_start as u64,
            nursery_len: (nursery_end - nursery_start) as u64,
            no_inline_allocation,
            step: module.declare_func_in_func(step_id, func),
            barrier: module.declare_func_in_func(barrier_id, func),
            primitive: module.declare_func_in_func(primitive_id, func),
            native_sig: func.import_signature(translate::signature(call_conv)),
            symbolic: false,
        };
        let speculative = translate::translate(u, rt, &mut self.ctx.func, &mut self.fctx, frontend, constants)?;
        if self.dump.ir {
            println!("; {name}\n{}", self.ctx.func.display());
        }
        self.ctx.set_disasm(self.dump.asm);
        let id = self
            .module
            .declare_function(
                &format!("m{rt}_{}", self.compiled + self.failed.len() as u64),
                Linkage::Local,
                &self.ctx.func.signature,
            )
            .map_err(|e| e.to_string())?;
        self.module.define_function(id, &mut self.ctx).map_err(|e| format!("{e:?}"))?;
        if let Some(code) = self.ctx.compiled_code() {
            self.code_bytes += code.code_buffer().len();
            if self.dump.asm
                && let Some(text) = &code.vcode
            {
                println!("; {name}\n{text}");
            }
        }
        self.module.finalize_definitions().map_err(|e| e.to_string())?;
        let ptr = self.module.get_finalized_function(id);
        if let Some(map) = &mut self.perf_map {
            // `perf` names JIT code from /tmp/perf-PID.map.
            let size = self.ctx.compiled_code().map_or(0, |c| c.code_buffer().len());
            let _ = writeln!(map, "{:x} {size:x} {name}", ptr as usize);
        }
        // SAFETY: the function was compiled with `translate::signature`,
        // which is the C ABI of `NativeFn` on this target.
        let code = unsafe { std::mem::transmute::<*const u8, NativeFn>(ptr) };
        Ok(Compiled { code, speculative })
    }
}

fn classes(known: &vm::universe::Known) -> translate::Classes {
    translate::Classes {
        integer: known.integer.bits(),
        double: known.double.bits(),
        character: known.character.bits(),
        array: known.array.bits(),
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
    let mut func = ir::Function::with_name_signature(
        UserFuncName::user(0, 0),
        translate::signature(cranelift_codegen::isa::CallConv::SystemV),
    );
    let mut fctx = FunctionBuilderContext::new();
    let cc = cranelift_codegen::isa::CallConv::SystemV;
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
        translate::Constants {
            stack_base: 0x1000_0000,
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
                context: 0x3000_0030,
                blocks: [0x3000_0040, 0x3000_0048, 0x3000_0050, 0x3000_0058],
            },
            nursery_start: 0x4000_0000,
            nursery_len: 0x80_0000,
            no_inline_allocation: false,
            step,
            barrier,
            primitive,
            native_sig: func.import_signature(translate::signature(cc)),
            symbolic: true,
        }
    };
    translate::translate(u, rt, &mut func, &mut fctx, isa.frontend_config(), constants)?;
    Ok(func.display().to_string())
}

impl CodeGenerator for Jit {
    fn compile(&mut self, u: &mut Universe, rt: usize) -> Result<Compiled, String> {
        let start = Instant::now();
        // A failure inside Cranelift is a method left to the interpreter,
        // never a crash.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.compile_method(u, rt)))
            .unwrap_or_else(|p| {
                let message = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "the code generator failed".into());
                // The module may hold a half-defined function: start afresh.
                self.module.clear_context(&mut self.ctx);
                Err(format!("code generation failed: {message}"))
            });
        self.compile_time += start.elapsed();
        match &result {
            Ok(_) => self.compiled += 1,
            Err(reason) => {
                let name = method_name(u, u.runtime(rt).method);
                self.failed.push((name, reason.clone()));
            }
        }
        result
    }

    fn report(&self) -> String {
        let mut out = format!(
            "jit ({}): {} methods compiled, {} left to the interpreter, {:.1} ms compiling, {} bytes of code\n",
            self.target(),
            self.compiled,
            self.failed.len(),
            self.compile_time.as_secs_f64() * 1e3,
            self.code_bytes
        );
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

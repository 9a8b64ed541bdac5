//! Mica's baseline JIT: translates a method's bytecode to native code
//! through Cranelift (x86-64 or AArch64, whichever the host is), one
//! bytecode at a time on the interpreter's frame (see [`translate`]).
//!
//! The interpreter stays in charge of calls, returns, allocation and
//! unwinding: native code runs the bytecodes between them and hands every
//! other bytecode back. So every frame is always the interpreter's frame,
//! on-stack replacement is entering native code at a loop head, and leaving
//! native code (for a send, or when a fast path does not apply) is resuming
//! the interpreter at that bytecode.

mod translate;

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

/// The write barrier's slow path, called from native code.
///
/// # Safety
/// `universe` must be the universe the native code runs in; `target` an
/// object of it.
unsafe extern "C" fn write_barrier(universe: *mut Universe, target: u64, value: u64) {
    // SAFETY: native code passes the universe pointer the interpreter gave
    // it; no other reference to the universe is in use while it runs.
    let u = unsafe { &mut *universe };
    u.heap.write_barrier(Value::from_bits(target), Value::from_bits(value));
}

/// The code generator.
pub struct Jit {
    module: JITModule,
    ctx: Context,
    fctx: FunctionBuilderContext,
    barrier: cranelift_module::FuncId,
    dump: DumpOptions,
    compiled: u64,
    failed: Vec<(String, String)>,
    compile_time: Duration,
    code_bytes: usize,
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
        let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
        builder.symbol("mica_write_barrier", write_barrier as *const u8);
        let mut module = JITModule::new(builder);
        let mut sig = module.make_signature();
        for _ in 0..3 {
            sig.params.push(ir::AbiParam::new(ir::types::I64));
        }
        let barrier =
            module.declare_function("mica_write_barrier", Linkage::Import, &sig).map_err(|e| e.to_string())?;
        Ok(Jit {
            module,
            ctx: Context::new(),
            fctx: FunctionBuilderContext::new(),
            barrier,
            dump,
            compiled: 0,
            failed: Vec::new(),
            compile_time: Duration::ZERO,
            code_bytes: 0,
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
        let barrier_id = self.barrier;
        let module = &mut self.module;
        let frontend = module.isa().frontend_config();
        let known = &u.known;
        let constants = |func: &mut ir::Function| translate::Constants {
            stack_base: u.stack.as_ptr() as u64,
            sp_offset: std::mem::offset_of!(Universe, sp) as i32,
            nil: known.nil.bits(),
            true_: known.true_.bits(),
            false_: known.false_.bits(),
            array_class: known.array.bits(),
            nursery_start: nursery_start as u64,
            nursery_len: (nursery_end - nursery_start) as u64,
            barrier: module.declare_func_in_func(barrier_id, func),
            integer_class: known.integer.bits(),
            symbolic: false,
            jit_fp_offset: std::mem::offset_of!(Universe, jit_fp) as i32,
            depth_offset: std::mem::offset_of!(Universe, native_depth) as i32,
            stack_words: u.stack.len() as u64,
            native_sig: func.import_signature(translate::signature(call_conv)),
            block_classes: [known.block1.bits(), known.block2.bits(), known.block3.bits()],
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
        // SAFETY: the function was compiled with `translate::signature`,
        // which is the C ABI of `NativeFn` on this target.
        let code = unsafe { std::mem::transmute::<*const u8, NativeFn>(ptr) };
        Ok(Compiled { code, speculative })
    }
}

/// The Cranelift IR of the method of runtime record `rt`, with addresses
/// replaced by fixed placeholders so that the text is the same from run to
/// run (for golden tests and documentation).
pub fn ir_text(u: &Universe, rt: usize) -> Result<String, String> {
    let isa_builder = cranelift_native::builder().map_err(|e| e.to_string())?;
    let isa = isa_builder.finish(settings::Flags::new(settings::builder())).map_err(|e| e.to_string())?;
    let mut func = ir::Function::with_name_signature(
        UserFuncName::user(0, 0),
        translate::signature(cranelift_codegen::isa::CallConv::SystemV),
    );
    let mut fctx = FunctionBuilderContext::new();
    let mut sig = ir::Signature::new(cranelift_codegen::isa::CallConv::SystemV);
    for _ in 0..3 {
        sig.params.push(ir::AbiParam::new(ir::types::I64));
    }
    let constants = |func: &mut ir::Function| {
        let sig_ref = func.import_signature(sig);
        let barrier = func.import_function(ir::ExtFuncData {
            name: ir::ExternalName::testcase("mica_write_barrier"),
            signature: sig_ref,
            colocated: false,
            patchable: false,
        });
        translate::Constants {
            stack_base: 0x1000_0000,
            sp_offset: 0x40,
            nil: 0x2000_0000,
            true_: 0x2000_0010,
            false_: 0x2000_0020,
            array_class: 0x3000_0000,
            nursery_start: 0x4000_0000,
            nursery_len: 0x80_0000,
            barrier,
            integer_class: 0x3000_0010,
            symbolic: true,
            jit_fp_offset: 0x48,
            depth_offset: 0x50,
            stack_words: 0x100_0000,
            native_sig: func.import_signature(translate::signature(cranelift_codegen::isa::CallConv::SystemV)),
            block_classes: [0x3000_0020, 0x3000_0028, 0x3000_0030],
        }
    };
    translate::translate(u, rt, &mut func, &mut fctx, isa.frontend_config(), constants)?;
    Ok(func.display().to_string())
}

impl CodeGenerator for Jit {
    fn compile(&mut self, u: &mut Universe, rt: usize) -> Result<Compiled, String> {
        let start = Instant::now();
        let result = self.compile_method(u, rt);
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

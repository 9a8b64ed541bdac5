//! Tiering: when methods are compiled to native code, and the interface the
//! JIT implements (the interpreter cannot depend on the JIT crate, so the
//! JIT plugs in through [`CodeGenerator`]).

use vm::deopt::DeoptReason;
use vm::runtime::{JitState, NativeFn};

use vm::universe::Universe;

use crate::Interpreter;
pub use crate::tunables::{JitConfig, Tunable};

/// How the JIT is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JitMode {
    /// Interpreter only.
    Off,
    /// Compile methods that get hot (the default).
    Tiered,
    /// Compile every method before its first activation.
    Eager,
}

/// Native code for a method.
#[derive(Clone, Copy, Debug)]
pub struct Compiled {
    /// The code.
    pub code: NativeFn,
    /// Whether it inlined what sends found through the inline caches (so
    /// it depends on the method dictionaries).
    pub speculative: bool,
}

/// Native code finished in the background.
#[derive(Debug)]
pub struct Finished {
    /// The method's runtime record.
    pub rt: usize,
    /// `Universe::method_epoch` when the method was translated: speculative
    /// code from an older epoch may have inlined what has changed since.
    pub epoch: u64,
    /// The code, or why there is none.
    pub result: Result<Compiled, String>,
}

/// Makes native code for methods. Implemented by the `jit` crate.
pub trait CodeGenerator {
    /// Compiles the method of runtime record `rt`, waiting for the code.
    fn compile(&mut self, u: &mut Universe, rt: usize) -> Result<Compiled, String>;

    /// Starts compiling the method of runtime record `rt` in the
    /// background; its code comes later from [`CodeGenerator::finished`].
    fn start(&mut self, u: &mut Universe, rt: usize) -> Result<(), String>;

    /// Code finished in the background since the last call, if any.
    fn finished(&mut self) -> Option<Finished>;

    /// Figures for `--stats`.
    fn report(&self) -> String;

    /// The same figures as numbers, for the stats channel.
    fn figures(&self) -> JitFigures;
}

/// What the code generator has done so far.
#[derive(Clone, Copy, Debug, Default)]
pub struct JitFigures {
    /// Methods compiled to native code.
    pub compiled: u64,
    /// Methods it could not compile (left to the interpreter).
    pub failed: u64,
    /// Time spent translating and generating code.
    pub compile_time: std::time::Duration,
    /// Bytes of native code.
    pub code_bytes: u64,
}

impl Interpreter {
    /// Installs a code generator and the JIT configuration.
    pub fn set_jit(&mut self, generator: Option<Box<dyn CodeGenerator>>, config: JitConfig) {
        self.jit = generator;
        self.jit_config = config;
        self.u.interrupts.set_depth_bound(config.native_depth);
    }

    /// The JIT configuration.
    pub fn jit_config(&self) -> JitConfig {
        self.jit_config
    }

    /// Compiles the method of runtime record `rt` if its counters say so.
    #[inline(always)]
    pub(crate) fn maybe_compile(&mut self, rt: usize) {
        if self.jit_config.mode == JitMode::Off {
            return;
        }
        let record = self.u.runtime(rt);
        match record.info.jit {
            JitState::Interpreted => {}
            JitState::Queued => return self.install_finished(),
            JitState::Compiled | JitState::Failed => return,
        }
        let hot = match self.jit_config.mode {
            JitMode::Eager => true,
            _ => {
                record.invocations >= self.jit_config.invocation_threshold
                    || record.backedges >= self.jit_config.backedge_threshold
            }
        };
        if hot {
            self.compile(rt);
        }
    }

    #[cold]
    fn compile(&mut self, rt: usize) {
        let Some(generator) = self.jit.as_mut() else { return };
        if self.u.runtime(rt).info.code_len > self.jit_config.max_method_bytes {
            self.u.runtime_mut(rt).info.jit = JitState::Failed;
            return;
        }
        if self.jit_config.background && self.jit_config.mode == JitMode::Tiered {
            match generator.start(&mut self.u, rt) {
                Ok(()) => self.u.runtime_mut(rt).info.jit = JitState::Queued,
                Err(_) => self.u.runtime_mut(rt).info.jit = JitState::Failed,
            }
            return;
        }
        let result = generator.compile(&mut self.u, rt);
        self.install(rt, result);
    }

    /// Publishes the code finished in the background.
    #[cold]
    fn install_finished(&mut self) {
        while let Some(finished) = self.jit.as_mut().and_then(|g| g.finished()) {
            let stale = self.u.method_epoch != finished.epoch
                && finished.result.as_ref().is_ok_and(|compiled| compiled.speculative);
            if stale {
                // It may have inlined what an edit since replaced: drop it
                // and let the method get hot again.
                let record = self.u.runtime_mut(finished.rt);
                record.info.jit = JitState::Interpreted;
                record.invocations = 0;
                record.backedges = 0;
                self.u.deoptimizations.record(DeoptReason::ChangedWhileCompiling, finished.rt);
                continue;
            }
            self.install(finished.rt, finished.result);
        }
    }

    fn install(&mut self, rt: usize, result: Result<Compiled, String>) {
        let eager = self.jit_config.mode == JitMode::Eager && self.jit_config.max_recompilations > 0;
        let record = self.u.runtime_mut(rt);
        match result {
            Ok(compiled) => {
                record.set_native(Some(compiled.code));
                record.info.speculative = compiled.speculative;
                record.info.jit = JitState::Compiled;
                // Compiled before its sends had run (eager compilation),
                // or again before all had: once half of its sites that wait
                // for feedback have met their first receivers, it is
                // compiled again with that feedback (inlining, targets
                // called directly), within the recompilation limit.
                let more = record.recompilations < self.jit_config.max_recompilations;
                record.awaiting_feedback = if eager && more { awaiting_sites(record).div_ceil(2) } else { 0 };
                if rt == self.rt {
                    self.native = Some(compiled.code);
                }
            }
            Err(_) => record.info.jit = JitState::Failed,
        }
    }

    /// Native code left a send at `pc` of the running method to the
    /// interpreter: if that site's inline cache has learnt classes since the
    /// code was made, and that keeps happening, the code is thrown away so
    /// that the method is compiled again, with what the caches know now.
    pub(crate) fn note_native_send_exit(&mut self, pc: usize) {
        // SAFETY: `code` and `code_len` describe the running method's
        // bytecode, which the method keeps alive.
        let code = unsafe { std::slice::from_raw_parts(self.code, self.code_len) };
        let Ok(decoded) = vm::bytecode::decode(code, pc) else { return };
        let Some(ic) = decoded.insn.ic_index() else { return };
        if self.note_first_float(self.rt, ic, decoded.insn.opcode()) {
            return;
        }
        let record = self.u.runtime_mut(self.rt);
        if !record.ics_outgrown && record.awaiting_feedback == 0 {
            return;
        }
        if record.awaiting_feedback > 0 && record.ics.get(ic as usize).is_some_and(|c| c.len == 0 && !c.megamorphic) {
            // A site compiled without feedback meets its first receiver.
            record.awaiting_feedback -= 1;
            if record.awaiting_feedback == 0 {
                self.compile_again(self.rt, DeoptReason::FirstFeedback);
            }
            return;
        }
        if self.u.runtime(self.rt).ics.get(ic as usize).is_some_and(|c| c.outgrown()) {
            self.count_feedback_exit(self.rt);
        }
    }

    /// Native code inlined into the method of record `owner` left a send at
    /// `pc` of the running method (an inlined callee, on its own frame) to
    /// the interpreter: the inlined copy knows only the classes the
    /// callee's cache knew when the owner was compiled, so if that keeps
    /// happening the owner is compiled again with what the cache knows now.
    /// Megamorphic sites do not count (compiling again would not help).
    pub(crate) fn note_inlined_send_exit(&mut self, owner: usize, pc: usize) {
        // SAFETY: as in `note_native_send_exit`.
        let code = unsafe { std::slice::from_raw_parts(self.code, self.code_len) };
        let Ok(decoded) = vm::bytecode::decode(code, pc) else { return };
        let Some(ic) = decoded.insn.ic_index() else { return };
        if self.note_first_float(owner, ic, decoded.insn.opcode()) {
            return;
        }
        if self.u.runtime(self.rt).ics.get(ic as usize).is_some_and(|c| !c.megamorphic) {
            self.count_feedback_exit(owner);
        }
    }

    /// Native code of record `owner` left special send `op` at site `ic` of
    /// the running method: if it is arithmetic meeting a SmallFloat and no
    /// site of the method had met one, the code keeps no unboxed doubles
    /// (see `Translator::first_float_leaves`), so the site is marked and
    /// `owner` compiled again with them, unless it waits for its first
    /// feedback (eager compilation), which will have them. Whether it was
    /// such an exit.
    fn note_first_float(&mut self, owner: usize, ic: u32, op: vm::bytecode::Opcode) -> bool {
        if vm::arith::ArithOp::for_opcode(op).is_none() || self.u.sp < 2 {
            return false;
        }
        let (a, b) = (self.peek(1), self.peek(0));
        if !a.is_small_float() && !b.is_small_float() {
            return false;
        }
        let record = self.u.runtime_mut(self.rt);
        let had_floats = record.ics.iter().any(|c| c.saw_float);
        let Some(cache) = record.ics.get_mut(ic as usize).filter(|c| !c.saw_float) else { return false };
        cache.saw_float = true;
        if !had_floats && self.u.runtime(owner).awaiting_feedback == 0 {
            self.compile_again(owner, DeoptReason::FirstFloats);
        }
        true
    }

    /// One more exit of the native code of record `rt` that compiling it
    /// again, with what the caches know now, would avoid: past
    /// `recompile_exits` of them the code is thrown away (at most
    /// `max_recompilations` times).
    fn count_feedback_exit(&mut self, rt: usize) {
        let config = self.jit_config;
        let record = self.u.runtime_mut(rt);
        if record.info.jit != JitState::Compiled {
            return;
        }
        record.outgrown_exits += 1;
        if record.outgrown_exits >= config.recompile_exits {
            self.compile_again(rt, DeoptReason::CachesOutgrown);
        }
    }

    /// Throws the native code of record `rt` away, so that the method is
    /// compiled again with what its caches know now (unless it was
    /// `max_recompilations` times already).
    fn compile_again(&mut self, rt: usize, reason: DeoptReason) {
        let config = self.jit_config;
        let record = self.u.runtime_mut(rt);
        if record.info.jit != JitState::Compiled || record.recompilations >= config.max_recompilations {
            return;
        }
        record.outgrown_exits = 0;
        record.recompilations += 1;
        record.set_native(None);
        record.info.jit = JitState::Interpreted;
        record.info.speculative = false;
        // Hot already: compiled again at its next activation or loop turn.
        record.invocations = config.invocation_threshold;
        record.backedges = config.backedge_threshold;
        if rt == self.rt {
            self.native = None;
        }
        self.u.deoptimizations.record(reason, rt);
    }

    /// What the JIT reports for `--stats`.
    pub fn jit_report(&self) -> Option<String> {
        self.jit.as_ref().map(|g| g.report())
    }

    /// The JIT's figures (`None` with the JIT off).
    pub fn jit_figures(&self) -> Option<JitFigures> {
        self.jit.as_ref().map(|g| g.figures())
    }
}

/// The sites of a method that its code, compiled without feedback, leaves
/// to the interpreter when they first run: the ordinary sends whose caches
/// are empty. A special-selector send is left out: its native fast path
/// (SmallInteger and Double arithmetic, `at:` of an Array, `value` of a
/// block...) runs without feedback and may never fill its cache, so it
/// would keep the method waiting for good (Mandelbrot's loop has 27 such
/// sites and 4 ordinary ones). One that does fill its cache still counts
/// on its first exit, and is otherwise recompiled for as any outgrown
/// cache is.
fn awaiting_sites(record: &vm::runtime::MethodRuntime) -> u32 {
    // SAFETY: `code` and `code_len` describe the method's bytecode, which
    // its method object (kept by the record) keeps alive.
    let code = unsafe { std::slice::from_raw_parts(record.info.code, record.info.code_len) };
    let ordinary_empty = |d: &vm::bytecode::Decoded| {
        d.insn.opcode().special_selector().is_none()
            && d.insn.ic_index().and_then(|i| record.ics.get(i as usize)).is_some_and(|c| c.len == 0 && !c.megamorphic)
    };
    vm::bytecode::instructions(code).map_while(Result::ok).filter(|(_, d)| ordinary_empty(d)).count() as u32
}

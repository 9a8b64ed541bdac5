//! Native calls: pushing a callee's frame (the interpreter's layout) over
//! the receiver and arguments and calling its native code. Every call site
//! of a method shares one call sequence (the call stub): a site writes its
//! operands back, puts the callee's code and frame sizes and the frame's
//! contents into variables and jumps to it; after a native return the stub
//! goes on at the site's next bytecode through the method's entry switch.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, InstBuilder, Value, types};
use cranelift_frontend::Variable;
use interp::frame::*;
use interp::native::MAX_NATIVE_DEPTH;
use vm::runtime::code_cell;

use super::{FRESH, LEFT, RETURNED, Translator, W};

/// What the callee's frame gets besides its method.
pub(super) struct CalleeFrame {
    /// The method (or block code).
    pub method: Value,
    /// `self`.
    pub receiver: Value,
    /// The context (a block's), or nil.
    pub context: Value,
    /// The closure (a block activation's), or nil.
    pub closure: Value,
}

/// The variables a call site hands the call stub.
#[derive(Clone, Copy)]
pub(super) struct CallVars {
    code: Variable,
    cell: Variable,
    method: Variable,
    receiver: Variable,
    context: Variable,
    closure: Variable,
    /// The site packed in one word (see [`site_word`]).
    site: Variable,
}

impl CallVars {
    pub(super) fn declare(b: &mut cranelift_frontend::FunctionBuilder) -> CallVars {
        let mut v = || b.declare_var(types::I64);
        CallVars { code: v(), cell: v(), method: v(), receiver: v(), context: v(), closure: v(), site: v() }
    }
}

/// A call site in one word: its bytecode offset (bits 0..24), the next
/// bytecode's (24..48), its operand depth before (48..56) and after
/// (56..64) the send. (Methods are at most 64 KiB of bytecode; depths are
/// checked when compiling.)
fn site_word(pc: usize, next_pc: usize, depth: u32, after: u32) -> u64 {
    pc as u64 | (next_pc as u64) << 24 | u64::from(depth) << 48 | u64::from(after) << 56
}

/// Whether a site fits [`site_word`].
pub(super) fn site_fits(pc: usize, depth: u32) -> bool {
    pc < (1 << 24) && depth < 255
}

impl Translator<'_, '_> {
    /// Calls the method whose cell is at `cell` on the receiver and
    /// arguments on top of the operand stack, natively if it has native
    /// code; else branches to `slow`. (Too deep, or short of frame stack:
    /// the interpreter makes the send.) On a native return the result is in
    /// the receiver's slot and execution goes on at the next bytecode. The
    /// current block ends.
    pub(super) fn call_cell(&mut self, cell: Value, frame: CalleeFrame, slow: ir::Block) {
        let code = self.load(cell, code_cell::CODE);
        let no_code = self.b.ins().icmp_imm_s(IntCC::Equal, code, 0);
        self.branch_or_continue(no_code, slow);
        self.call_with_code(cell, code, frame);
    }

    /// As [`call_cell`](Self::call_cell), and a data primitive without
    /// native code runs through `mica_primitive` (the send of `argc`
    /// arguments goes to `slow` if it fails).
    pub(super) fn call_cell_or_primitive(&mut self, cell: Value, frame: CalleeFrame, argc: u32, slow: ir::Block) {
        let code = self.load(cell, code_cell::CODE);
        let native = self.b.create_block();
        let other = self.b.create_block();
        self.b.ins().brif(code, native, &[], other, &[]);
        self.b.switch_to_block(other);
        let primitive = self.load(cell, code_cell::PRIMITIVE);
        let none = self.b.ins().icmp_imm_s(IntCC::Equal, primitive, 0);
        self.branch_or_continue(none, slow);
        self.call_primitive(primitive, argc, slow);
        self.b.switch_to_block(native);
        self.call_with_code(cell, code, frame);
    }

    /// Runs data primitive `n` (known at compile time) on the receiver and
    /// `argc` arguments; the send goes to `slow` if it fails. The current
    /// block ends.
    pub(super) fn run_primitive(&mut self, n: u64, argc: u32, slow: ir::Block) {
        let n = self.konst(n);
        self.call_primitive(n, argc, slow);
    }

    /// Calls `mica_primitive` with primitive number `primitive`.
    fn call_primitive(&mut self, primitive: Value, argc: u32, slow: ir::Block) {
        let cur = self.cur;
        self.flush(cur.depth);
        let sp = self.b.ins().iadd_imm_s(self.fp, (FRAME_HEADER as i32 + self.temps + cur.depth as i32) as i64);
        self.store(sp, self.interp, self.k.layout.sp);
        let n = self.konst(u64::from(argc));
        let call = self.b.ins().call(self.k.primitive, &[self.interp, primitive, n]);
        let r = self.b.inst_results(call)[0];
        let answered = self.b.ins().icmp_imm_s(IntCC::Equal, r, 1);
        let done = self.b.create_block();
        let not_answered = self.b.create_block();
        self.b.ins().brif(answered, done, &[], not_answered, &[]);
        self.b.switch_to_block(not_answered);
        let left = self.b.ins().icmp_imm_s(IntCC::Equal, r, LEFT as i64);
        let leave = self.b.create_block();
        self.b.ins().brif(left, leave, &[], slow, &[]);
        self.b.switch_to_block(leave);
        self.b.ins().return_(&[r]);
        self.b.switch_to_block(done);
        let base = cur.depth - argc - 1;
        let off = self.slot(base);
        let value = self.load(self.frame, off);
        self.put(base, value);
        let next = self.cur.next.expect("a send has a successor");
        self.b.ins().jump(next, &[]);
    }

    fn call_with_code(&mut self, cell: Value, code: Value, frame: CalleeFrame) {
        let cur = self.cur;
        self.flush(cur.depth);
        let v = self.call_vars;
        let site = self.konst(site_word(cur.pc, cur.next_pc, cur.depth, cur.after));
        let defs = [
            (v.code, code),
            (v.cell, cell),
            (v.method, frame.method),
            (v.receiver, frame.receiver),
            (v.context, frame.context),
            (v.closure, frame.closure),
            (v.site, site),
        ];
        for (var, value) in defs {
            self.b.def_var(var, value);
        }
        self.b.ins().jump(self.call_stub, &[]);
    }

    /// The shared call sequence (see the module documentation).
    pub(super) fn emit_call_stub(&mut self, resume_pc: Variable, resume: ir::Block) {
        let v = self.call_vars;
        self.b.switch_to_block(self.call_stub);
        let use_ = |t: &mut Self, var: Variable| t.b.use_var(var);
        let depth = self.load(self.interp, self.k.layout.native_depth);
        let site = use_(self, v.site);
        let field = |t: &mut Self, shift: i64, bits: i64| {
            let shifted = t.b.ins().ushr_imm_u(site, shift);
            t.b.ins().band_imm_u(shifted, (1 << bits) - 1)
        };
        let pc = field(self, 0, 24);
        let next_pc = field(self, 24, 24);
        let operands = field(self, 48, 8);
        let after = self.b.ins().ushr_imm_u(site, 56);
        // Too deep, or short of frame stack: the interpreter's send.
        let to_slow = self.b.create_block();
        let too_deep = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, depth, MAX_NATIVE_DEPTH as i64);
        self.branch_or_continue(too_deep, to_slow);
        let header = self.b.ins().iadd_imm_s(self.fp, (FRAME_HEADER as i32 + self.temps) as i64);
        let callee_fp = self.b.ins().iadd(header, operands);
        let cell = use_(self, v.cell);
        let temps = self.load(cell, code_cell::NUM_TEMPS);
        let max_stack = self.load(cell, code_cell::MAX_STACK);
        let sizes = self.b.ins().iadd(temps, max_stack);
        let need = self.b.ins().iadd(callee_fp, sizes);
        let need = self.b.ins().iadd_imm_s(need, (FRAME_HEADER + STACK_RESERVE) as i64);
        let short = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, need, self.k.stack_words as i64);
        self.branch_or_continue(short, to_slow);
        let callee = {
            let base = self.konst(self.k.stack_base);
            let off = self.b.ins().ishl_imm_u(callee_fp, 3);
            self.b.ins().iadd(base, off)
        };
        let method = use_(self, v.method);
        self.store(method, callee, FRAME_METHOD as i32 * W);
        let caller = self.tag(self.fp);
        self.store(caller, callee, FRAME_CALLER_FP as i32 * W);
        let resume_at = self.tag(next_pc);
        self.store(resume_at, callee, FRAME_CALLER_PC as i32 * W);
        for (var, slot) in [(v.receiver, FRAME_SELF), (v.context, FRAME_CONTEXT), (v.closure, FRAME_CLOSURE)] {
            let value = use_(self, var);
            self.store(value, callee, slot as i32 * W);
        }
        let deeper = self.b.ins().iadd_imm_s(depth, 1);
        self.store(deeper, self.interp, self.k.layout.native_depth);
        let code = use_(self, v.code);
        let fresh = self.konst(FRESH);
        let call = self.b.ins().call_indirect(self.k.native_sig, code, &[self.interp, callee_fp, fresh]);
        let result = self.b.inst_results(call)[0];
        self.store(depth, self.interp, self.k.layout.native_depth);
        let returned = self.b.ins().icmp_imm_s(IntCC::Equal, result, RETURNED as i64);
        let back = self.b.create_block();
        let pass = self.b.create_block();
        self.b.ins().brif(returned, back, &[], pass, &[]);
        // The callee left native code (the interpreter took over, or it left
        // a bytecode to it): leave with it; this frame is written back.
        self.b.switch_to_block(pass);
        self.b.ins().return_(&[result]);
        self.b.switch_to_block(back);
        // An edit while the callee ran may have invalidated this code.
        let epoch = self.load(self.interp, self.k.layout.method_epoch);
        let changed = self.b.ins().icmp(IntCC::NotEqual, epoch, self.epoch);
        let stale = self.b.create_block();
        let fine = self.b.create_block();
        self.b.ins().brif(changed, stale, &[], fine, &[]);
        self.b.switch_to_block(stale);
        self.b.def_var(self.stub_pc, next_pc);
        self.b.def_var(self.stub_depth, after);
        self.b.ins().jump(self.exit_stub, &[]);
        self.b.switch_to_block(fine);
        self.b.def_var(resume_pc, next_pc);
        self.b.ins().jump(resume, &[]);
        // The slow path of the site.
        self.b.switch_to_block(to_slow);
        self.b.def_var(self.stub_pc, pc);
        self.b.def_var(self.stub_depth, operands);
        self.b.ins().jump(self.slow_stub, &[]);
    }
}

//! Native calls: pushing a callee's frame (the interpreter's layout) over
//! the receiver and arguments and calling its native code. Each call site
//! has its own call sequence: it writes the operands back, checks the
//! native depth (against a limit that drops to 0 while an interrupt is
//! pending, which makes every native call a safepoint) and the room left
//! on the frame stack, writes the callee's
//! frame header and calls; after a native return it reads the operands
//! back (a collection may have moved what they point to) and the result
//! from the receiver's slot, and goes on at the next bytecode.

use std::rc::Rc;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, InstBuilder, Value, types};
use interp::frame::*;
use vm::runtime::code_cell;

use super::{FRESH, InlineExit, LEFT, RETURNED, Scope, Survey, Translator};

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

/// A callee frame's temporaries plus operand slots: known when compiling,
/// or read from its cell at run time.
#[derive(Clone, Copy)]
enum FrameWords {
    Known(i64),
    Loaded(Value),
}

/// The callee's cell: known when compiling (with the callee's frame size),
/// or read at run time.
#[derive(Clone, Copy)]
pub(super) enum Cell {
    Known {
        address: u64,
        /// Temporaries plus operand slots.
        frame_words: u64,
    },
    Loaded(Value),
}

impl Translator<'_> {
    fn cell_address(&mut self, cell: Cell) -> Value {
        match cell {
            Cell::Known { address, .. } => self.konst(address),
            Cell::Loaded(v) => v,
        }
    }

    /// Calls the method whose cell is `cell` on the receiver and arguments
    /// on top of the operand stack, natively if it has native code; else
    /// branches to `slow`. (Too deep, or short of frame stack: `slow`
    /// too.) On a native return the result is in the receiver's slot and
    /// execution goes on at the next bytecode. The current block ends.
    pub(super) fn call_cell(&mut self, cell: Cell, frame: CalleeFrame, slow: ir::Block) {
        let address = self.cell_address(cell);
        let code = self.load(address, code_cell::CODE);
        let no_code = self.b.ins().icmp_imm_s(IntCC::Equal, code, 0);
        self.branch_or_continue(no_code, slow);
        self.call_with_code(cell, code, frame, slow);
    }

    /// As [`call_cell`](Self::call_cell), and a data primitive without
    /// native code runs through `mica_primitive` (the send of `argc`
    /// arguments goes to `slow` if it fails).
    pub(super) fn call_cell_or_primitive(&mut self, cell: Cell, frame: CalleeFrame, argc: u32, slow: ir::Block) {
        let address = self.cell_address(cell);
        let code = self.load(address, code_cell::CODE);
        let native = self.b.create_block();
        let other = self.b.create_block();
        self.b.ins().brif(code, native, &[], other, &[]);
        self.b.switch_to_block(other);
        let primitive = self.load(address, code_cell::PRIMITIVE);
        let none = self.b.ins().icmp_imm_s(IntCC::Equal, primitive, 0);
        self.branch_or_continue(none, slow);
        self.call_primitive(primitive, argc, slow);
        self.b.switch_to_block(native);
        self.call_with_code(cell, code, frame, slow);
    }

    /// Calls `mica_primitive` with primitive number `primitive`.
    pub(super) fn call_primitive(&mut self, primitive: Value, argc: u32, slow: ir::Block) {
        let cur = self.m.cur;
        self.flush(cur.depth);
        let fp = self.fp();
        let sp = self.b.ins().iadd_imm_s(fp, (FRAME_HEADER as i32 + self.m.temps + cur.depth as i32) as i64);
        self.store(sp, self.interp, self.k.layout.sp);
        // The frame the primitive runs in (leaf control primitives read it).
        self.store(fp, self.interp, self.k.layout.jit_fp);
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
        self.after_call(cur.depth - argc - 1);
    }

    /// After a call that may have collected: the operands below `base` and
    /// the result in slot `base` from the frame, then the next bytecode.
    fn after_call(&mut self, base: u32) {
        self.reload(base + 1);
        self.reload_locals();
        let next = self.m.cur.next.expect("a send has a successor");
        self.b.ins().jump(next, &[]);
    }

    /// Writes the header of a callee's frame, which starts where the
    /// operands of the current bytecode end, as a send does; short of
    /// frame stack for its `words` (temporaries plus operand slots), goes
    /// to `slow` instead. Answers the callee's fp and the byte offset of
    /// its frame from this one's.
    fn push_frame(&mut self, words: FrameWords, frame: &CalleeFrame, slow: ir::Block) -> (Value, i32) {
        let cur = self.m.cur;
        let callee_words = FRAME_HEADER as i64 + i64::from(self.m.temps) + i64::from(cur.depth);
        let fp = self.fp();
        let callee_fp = self.b.ins().iadd_imm_s(fp, callee_words);
        let reserve = (FRAME_HEADER + STACK_RESERVE) as i64;
        let need = match words {
            FrameWords::Known(n) => self.b.ins().iadd_imm_s(callee_fp, n + reserve),
            FrameWords::Loaded(n) => {
                let need = self.b.ins().iadd(callee_fp, n);
                self.b.ins().iadd_imm_s(need, reserve)
            }
        };
        let short = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, need, self.k.stack_words as i64);
        self.branch_or_continue(short, slow);
        let at = offsets::word(callee_words as i32);
        self.store(frame.method, self.m.frame, at + offsets::METHOD);
        let caller = self.tag(fp);
        self.store(caller, self.m.frame, at + offsets::CALLER_FP);
        let resume_at = self.konst(((cur.next_pc as u64) << 1) | 1);
        self.store(resume_at, self.m.frame, at + offsets::CALLER_PC);
        self.store(frame.receiver, self.m.frame, at + offsets::SELF);
        self.store(frame.context, self.m.frame, at + offsets::CONTEXT);
        self.store(frame.closure, self.m.frame, at + offsets::CLOSURE);
        (callee_fp, at)
    }

    /// The call sequence of the current site.
    fn call_with_code(&mut self, cell: Cell, code: Value, frame: CalleeFrame, slow: ir::Block) {
        let cur = self.m.cur;
        self.flush(cur.depth);
        // The depth limit drops to 0 while an interrupt is pending: the
        // call is then a safepoint, through the interpreter.
        let depth = self.load(self.interp, self.k.layout.native_depth);
        let limit_at = self.konst(self.k.native_limit);
        let limit = self.b.ins().atomic_load(types::I64, Self::flags(), limit_at);
        let too_deep = self.b.ins().icmp(IntCC::SignedGreaterThanOrEqual, depth, limit);
        self.branch_or_continue(too_deep, slow);
        let words = match cell {
            Cell::Known { frame_words, .. } => FrameWords::Known(frame_words as i64),
            Cell::Loaded(address) => {
                let temps = self.load(address, code_cell::NUM_TEMPS);
                let max_stack = self.load(address, code_cell::MAX_STACK);
                FrameWords::Loaded(self.b.ins().iadd(temps, max_stack))
            }
        };
        let (callee_fp, at) = self.push_frame(words, &frame, slow);
        let deeper = self.b.ins().iadd_imm_s(depth, 1);
        self.store(deeper, self.interp, self.k.layout.native_depth);
        let fresh = self.konst(FRESH);
        let callee_frame = self.b.ins().iadd_imm_s(self.m.frame, i64::from(at));
        // An edit while the callee runs may invalidate this code.
        let epoch = self.load(self.interp, self.k.layout.method_epoch);
        let call = self.b.ins().call_indirect(self.k.native_sig, code, &[self.interp, callee_fp, fresh, callee_frame]);
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
        let epoch_now = self.load(self.interp, self.k.layout.method_epoch);
        let changed = self.b.ins().icmp(IntCC::NotEqual, epoch_now, epoch);
        let stale = self.b.create_block();
        let fine = self.b.create_block();
        self.b.ins().brif(changed, stale, &[], fine, &[]);
        self.b.switch_to_block(stale);
        let next_pc = self.konst(cur.next_pc as u64);
        self.b.def_var(self.m.stub_pc, next_pc);
        let after = self.konst(u64::from(cur.after));
        self.b.def_var(self.m.stub_depth, after);
        self.b.ins().jump(self.m.exit_stub, &[]);
        self.b.switch_to_block(fine);
        self.after_call(cur.after - 1);
    }

    /// Runs `callee` (the method found for the receiver, or the block
    /// `value`d) inline, translated into this code on the frame a call
    /// would give it (whose header is `header`), which is written as a call
    /// writes it: so at every safepoint in the callee
    /// the frame stack holds the interpreter's frames, and the callee's
    /// slow paths and exits are those of the callee's own baseline code,
    /// on its frame. Short of frame stack, the send goes to `slow`. On a
    /// return the answer replaces the receiver and execution goes on at the
    /// next bytecode. The current block ends.
    pub(super) fn inline_call(&mut self, callee: &Rc<Survey>, header: CalleeFrame, argc: u32, slow: ir::Block) {
        let cur = self.m.cur;
        let base = cur.depth - argc - 1;
        let receiver = header.receiver;
        // The callee's arguments are read where its frame expects them.
        self.flush(cur.depth);
        let words = FrameWords::Known(i64::from(callee.num_temps) + i64::from(callee.max_stack));
        let (_, at) = self.push_frame(words, &header, slow);
        let args: Vec<Value> = (0..argc).map(|i| self.get(base + 1 + i)).collect();
        let frame = self.b.ins().iadd_imm_s(self.m.frame, i64::from(at));
        let exit = InlineExit {
            result: self.b.declare_var(types::I64),
            join: self.b.create_block(),
            returned: self.b.create_block(),
        };
        let scope = Scope::new(&mut self.b, callee, frame, Some(exit));
        let caller = std::mem::replace(&mut self.m, scope);
        let resume = self.b.create_block();
        let resume_pc = self.b.declare_var(types::I64);
        let zero = self.konst(0);
        self.b.def_var(resume_pc, zero);
        self.start_fresh(Some((receiver, &args)));
        self.emit_body(resume, resume_pc);
        self.m = caller;
        self.b.seal_block(exit.join);
        self.b.seal_block(exit.returned);
        // The callee may have collected: the operands below the receiver
        // and the locals are read again, as after a call.
        self.b.switch_to_block(exit.join);
        let result = self.b.use_var(exit.result);
        self.reload(base);
        self.reload_locals();
        self.put(base, result);
        let next = self.m.cur.next.expect("a send has a successor");
        self.b.ins().jump(next, &[]);
        self.b.switch_to_block(exit.returned);
        self.after_call(base);
    }
}

//! Jump family: unconditional jumps and loop back-edges (which poll for
//! interrupts), Boolean and nil branches. A non-Boolean condition is the interpreter's
//! (`mustBeBoolean`).

use cranelift_codegen::ir::InstBuilder;
use cranelift_codegen::ir::condcodes::IntCC;

use crate::translate::{Next, Translator};

impl Translator<'_> {
    /// `Jump`, `JumpBack`: to the bytecode at `target`.
    pub(super) fn op_jump(&mut self, target: usize) -> Next {
        let block = self.m.blocks[&target];
        self.b.ins().jump(block, &[]);
        Next::Done
    }

    /// `JumpBack`: a loop back-edge, which is a safepoint: with an
    /// interrupt pending (a timer, a request) the interpreter runs it, and
    /// acts on the interrupt first.
    pub(super) fn op_jump_back(&mut self, target: usize) -> Next {
        let slow = self.slow_block();
        let pending = self.poll_interrupts();
        let block = self.m.blocks[&target];
        self.b.ins().brif(pending, slow, &[], block, &[]);
        Next::Done
    }

    /// `JumpIfTrue`/`JumpIfFalse offset`. Stack: b →.
    pub(super) fn op_jump_if_boolean(&mut self, offset: u32, when_true: bool) -> Next {
        let cur = self.m.cur;
        let slow = self.slow_block();
        let v = self.get(cur.depth - 1);
        let t = self.konst(self.k.true_);
        let f = self.konst(self.k.false_);
        let is_t = self.b.ins().icmp(IntCC::Equal, v, t);
        let is_f = self.b.ins().icmp(IntCC::Equal, v, f);
        let is_bool = self.b.ins().bor(is_t, is_f);
        self.branch_or_continue_unless(is_bool, slow);
        let target = self.m.blocks[&(cur.next_pc + offset as usize)];
        let fall = cur.next.expect("a branch has a successor");
        let take = if when_true { is_t } else { is_f };
        self.b.ins().brif(take, target, &[], fall, &[]);
        Next::Done
    }

    /// `JumpIfNil`/`JumpIfNotNil offset`. Stack: v →.
    pub(super) fn op_jump_if_nil(&mut self, offset: u32, when_nil: bool) -> Next {
        let cur = self.m.cur;
        let v = self.get(cur.depth - 1);
        let is_nil = self.b.ins().icmp_imm_s(IntCC::Equal, v, self.k.nil as i64);
        let target = self.m.blocks[&(cur.next_pc + offset as usize)];
        let fall = cur.next.expect("a branch has a successor");
        if when_nil {
            self.b.ins().brif(is_nil, target, &[], fall, &[]);
        } else {
            self.b.ins().brif(is_nil, fall, &[], target, &[]);
        }
        Next::Done
    }
}

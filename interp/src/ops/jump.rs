//! Jump family: branches and loop back-edges.

use vm::value::Value;

use crate::{Interpreter, Step};

impl Interpreter {
    /// `Jump offset`: jump forward.
    #[inline(always)]
    pub(crate) fn op_jump(&mut self, offset: u32) -> Step {
        self.pc += offset as usize;
        Ok(())
    }

    /// `JumpBack offset`: a loop back-edge; counts iterations.
    #[inline(always)]
    pub(crate) fn op_jump_back(&mut self, offset: u32) -> Step {
        self.pc -= offset as usize;
        self.u.runtime_mut(self.rt).backedges += 1;
        // A hot loop gets compiled; the loop head is where the next iteration
        // enters the native code (on-stack replacement).
        self.maybe_compile(self.rt);
        // A back-edge is a safepoint.
        if self.u.interrupts.is_pending() {
            return self.safepoint();
        }
        Ok(())
    }

    /// `JumpIfTrue`/`JumpIfFalse offset`: pop a Boolean, jump forward if it
    /// is `when`. A non-Boolean is sent `mustBeBoolean`. Stack: b →.
    #[inline(always)]
    pub(crate) fn op_jump_if_boolean(&mut self, offset: u32, when: bool) -> Step {
        let b = self.pop();
        let (t, f) = (self.u.known.true_, self.u.known.false_);
        if b == t || b == f {
            if (b == t) == when {
                self.pc += offset as usize;
            }
            return Ok(());
        }
        self.push(b);
        let sel = self.intern("mustBeBoolean");
        self.send_uncached(sel, 0)
    }

    /// `JumpIfNil`/`JumpIfNotNil offset`: pop, jump forward if it is (not)
    /// nil. Stack: v →.
    #[inline(always)]
    pub(crate) fn op_jump_if_nil(&mut self, offset: u32, when_nil: bool) -> Step {
        let v: Value = self.pop();
        if (v == self.u.known.nil) == when_nil {
            self.pc += offset as usize;
        }
        Ok(())
    }
}

//! Return family: local returns and non-local returns through the home
//! context.

use vm::layout::*;
use vm::value::Value;

use crate::call::NO_FRAME;
use crate::frame::*;
use crate::{Interpreter, Step};

impl Interpreter {
    /// `Return`: return the top of stack from this activation. Stack: v →.
    #[inline(always)]
    pub(crate) fn op_return_top(&mut self) -> Step {
        let v = self.pop();
        self.return_value(v)
    }

    /// `ReturnSelf`: return `self` from this method.
    #[inline(always)]
    pub(crate) fn op_return_self(&mut self) -> Step {
        let v = self.frame(FRAME_SELF);
        self.return_value(v)
    }

    /// `ReturnNonLocal level`: return the top of stack from the home method,
    /// whose context is `level` steps out; if that method has returned,
    /// send `escapedBlock:` to `self` instead (its answer is the block's
    /// value). Stack: v →.
    pub(crate) fn op_return_non_local(&mut self, level: u32) -> Step {
        let v = self.pop();
        let home_ctx = self.context_at(level);
        let home = home_ctx.slot(CONTEXT_HOME_FRAME);
        let nil = self.u.nil();
        let home_fp = home.as_int().map(|i| i as usize);
        // The home frame must still be on this chain of callers.
        let mut fp = self.fp;
        let mut found = false;
        if let Some(target) = home_fp {
            while fp != NO_FRAME && fp >= target {
                if fp == target {
                    found = true;
                    break;
                }
                fp = self.caller_fp(fp).unwrap_or(NO_FRAME);
            }
        }
        // And it must be the activation the context belongs to (another
        // process's frames take the same indices).
        if home == nil || !found || !self.context_in_frame(home_ctx, fp) {
            return self.escaped_block();
        }
        let target = home_fp.unwrap_or(0);
        // ensure: and ifCurtailed: blocks on the way run first (Smalltalk
        // does the unwinding, then returns from the home frame).
        if self.pending_unwind_above(target) {
            return self.unwinding_return(v, target);
        }
        // Unwind: activations between here and home end now.
        let mut fp = self.fp;
        while fp != target {
            let method = self.u.stack[fp + FRAME_METHOD];
            let flags = (method.slot(METHOD_INFO).int_value() >> METHOD_INFO_FLAGS_SHIFT) as u8;
            if flags & vm::bytecode::CodeFlags::HOME_CONTEXT.bits() != 0 {
                self.mark_home_dead(fp);
            }
            fp = self.caller_fp(fp).unwrap_or(NO_FRAME);
        }
        self.fp = target;
        let method = self.u.stack[target + FRAME_METHOD];
        self.set_method(method);
        self.return_value(v)
    }

    /// Whether `ctx` is the current context of frame `fp` or one of its
    /// parents.
    fn context_in_frame(&self, ctx: Value, fp: usize) -> bool {
        let nil = self.u.nil();
        let mut c = self.u.stack[fp + FRAME_CONTEXT];
        while c != nil {
            if c == ctx {
                return true;
            }
            c = c.slot(CONTEXT_PARENT);
        }
        false
    }

    /// The block's home has returned: the block returns the value of
    /// `self escapedBlock: theBlock` to its caller.
    fn escaped_block(&mut self) -> Step {
        let self_value = self.frame(FRAME_SELF);
        let closure = self.frame(FRAME_CLOSURE);
        // Return from the block with a placeholder, then send in the
        // caller, so that the answer lands where the block's value would.
        self.return_value(Value::small(0))?;
        self.u.sp -= 1;
        self.push(self_value);
        self.push(closure);
        let sel = self.intern("escapedBlock:");
        self.send_uncached(sel, 1)
    }
}

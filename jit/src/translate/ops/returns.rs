//! Return family: a method or block returns natively (its value goes where
//! its receiver was); a method with non-local returns (whose home context
//! must be marked dead) and non-local returns are the interpreter's.

use cranelift_codegen::ir::InstBuilder;
use interp::frame::offsets;

use crate::translate::{Next, RETURNED, Translator};

impl Translator<'_> {
    /// `Return` (`self_value` false: the top of stack) or `ReturnSelf`.
    /// Stack: v → (the frame ends).
    pub(super) fn op_return(&mut self, return_self: bool) -> Next {
        if self.m.s.home {
            return self.step();
        }
        let value = if return_self { self.self_value() } else { self.get(self.m.cur.depth - 1) };
        if let Some(exit) = self.m.inline {
            // Inlined: the caller goes on with the value.
            self.b.def_var(exit.result, value);
            self.b.ins().jump(exit.join, &[]);
            return Next::Done;
        }
        self.store(value, self.m.frame, offsets::word(-(self.m.num_args + 1)));
        let fp = self.fp();
        let sp = self.b.ins().iadd_imm_s(fp, -(self.m.num_args as i64));
        self.store(sp, self.interp, self.k.layout.sp);
        let marker = self.konst(RETURNED);
        self.b.ins().return_(&[marker]);
        Next::Done
    }
}

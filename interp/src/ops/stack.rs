//! Stack family.

use crate::{Interpreter, Step};

impl Interpreter {
    /// `Pop`: discard the top. Stack: v →.
    #[inline(always)]
    pub(crate) fn op_pop(&mut self) -> Step {
        self.u.sp -= 1;
        Ok(())
    }

    /// `Dup`: duplicate the top. Stack: v → v v.
    #[inline(always)]
    pub(crate) fn op_dup(&mut self) -> Step {
        let v = self.top();
        self.push(v);
        Ok(())
    }
}

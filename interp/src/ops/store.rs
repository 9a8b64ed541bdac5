//! Store family: variables, fields, captured variables, globals.

use vm::layout::*;

use crate::frame::*;
use crate::{Interpreter, Step};

impl Interpreter {
    /// `StoreArg`/`PopArg index`: assign an argument. Stack: v → v (or →).
    #[inline(always)]
    pub(crate) fn op_store_arg(&mut self, index: u32, pop: bool) -> Step {
        let v = if pop { self.pop() } else { self.top() };
        let slot = self.fp - self.num_args + index as usize;
        self.u.stack[slot] = v;
        Ok(())
    }

    /// `StoreTemp`/`PopTemp index`: assign a temporary. Stack: v → v (or →).
    #[inline(always)]
    pub(crate) fn op_store_temp(&mut self, index: u32, pop: bool) -> Step {
        let v = if pop { self.pop() } else { self.top() };
        self.set_frame(FRAME_HEADER + index as usize, v);
        Ok(())
    }

    /// `StoreField`/`PopField index`: assign a field of `self`, with the
    /// write barrier. Stack: v → v (or →).
    #[inline(always)]
    pub(crate) fn op_store_field(&mut self, index: u32, pop: bool) -> Step {
        let v = if pop { self.pop() } else { self.top() };
        let receiver = self.frame(FRAME_SELF);
        // SAFETY: as for `PushField`: `self` has more than `index` slots.
        unsafe { receiver.set_slot_unchecked(index as usize, v) };
        self.u.heap.write_barrier(receiver, v);
        Ok(())
    }

    /// `StoreOuter`/`PopOuter level index`: assign a captured variable.
    /// Stack: v → v (or →).
    #[inline(always)]
    pub(crate) fn op_store_outer(&mut self, level: u32, index: u32, pop: bool) -> Step {
        let v = if pop { self.pop() } else { self.top() };
        let ctx = self.context_at(level);
        self.u.heap.store(ctx, CONTEXT_FIXED + index as usize, v);
        Ok(())
    }

    /// `StoreGlobal binding`: assign a global. Stack: v → v.
    #[inline(always)]
    pub(crate) fn op_store_global(&mut self, binding: u32) -> Step {
        let v = self.top();
        let b = self.literals.slot(binding as usize);
        self.u.heap.store(b, BINDING_VALUE, v);
        Ok(())
    }
}

//! Store family: arguments, temporaries, fields, context variables and
//! globals, with the write barrier where the target is an object.

use vm::layout::*;

use crate::translate::{Next, Translator};

impl Translator<'_> {
    /// `StoreArg`/`PopArg index`: the frame's argument slot. Stack: v → v
    /// (or →).
    pub(super) fn op_store_arg(&mut self, index: u32) -> Next {
        let v = self.get(self.m.cur.depth - 1);
        let f = self.slot_shadow(self.m.cur.depth - 1);
        self.put_local_shadowed(Self::arg_local(index), v, f);
        Next::FallThrough
    }

    /// `StoreTemp`/`PopTemp index`. Stack: v → v (or →).
    pub(super) fn op_store_temp(&mut self, index: u32) -> Next {
        let v = self.get(self.m.cur.depth - 1);
        let f = self.slot_shadow(self.m.cur.depth - 1);
        let local = self.temp_local(index);
        self.put_local_shadowed(local, v, f);
        Next::FallThrough
    }

    /// `StoreField`/`PopField index`: a field of the receiver, with the
    /// barrier. Stack: v → v (or →).
    pub(super) fn op_store_field(&mut self, index: u32) -> Next {
        let v = self.get(self.m.cur.depth - 1);
        let receiver = self.self_value();
        self.store(v, receiver, Self::field_offset(index as usize));
        self.barrier(receiver, v);
        Next::FallThrough
    }

    /// `StoreOuter`/`PopOuter level index`. Stack: v → v (or →).
    pub(super) fn op_store_outer(&mut self, level: u32, index: u32) -> Next {
        let v = self.get(self.m.cur.depth - 1);
        let ctx = self.context(level);
        self.store(v, ctx, Self::field_offset(CONTEXT_FIXED + index as usize));
        self.barrier(ctx, v);
        Next::FallThrough
    }

    /// `StoreGlobal binding`: the binding's value. Stack: v → v.
    pub(super) fn op_store_global(&mut self, binding: u32) -> Next {
        let v = self.get(self.m.cur.depth - 1);
        let b = self.konst(self.m.s.literals[binding as usize]);
        self.store(v, b, Self::field_offset(BINDING_VALUE));
        self.barrier(b, v);
        Next::FallThrough
    }
}

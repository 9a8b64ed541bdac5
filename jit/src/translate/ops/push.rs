//! Push family: the receiver, constants, arguments, temporaries, fields,
//! globals (through their bindings) and variables of enclosing contexts.

use cranelift_codegen::ir::InstBuilder;
use cranelift_codegen::ir::condcodes::IntCC;
use interp::frame::*;
use vm::layout::*;

use crate::translate::{Next, Translator};

impl Translator<'_> {
    /// `PushSelf`. Stack: → self.
    pub(super) fn op_push_self(&mut self) -> Next {
        let v = self.self_value();
        self.put(self.m.cur.depth, v);
        Next::FallThrough
    }

    /// `PushNil`, `PushTrue`, `PushFalse`, `PushLiteral`, `PushInteger`:
    /// a value known at compile time. Stack: → value.
    pub(super) fn op_push_constant(&mut self, bits: u64) -> Next {
        let v = self.konst(bits);
        self.put(self.m.cur.depth, v);
        Next::FallThrough
    }

    /// `PushArg index`: from the caller's operand stack, below the frame.
    /// Stack: → argument.
    pub(super) fn op_push_arg(&mut self, index: u32) -> Next {
        let local = Self::arg_local(index);
        let v = self.get_local(local);
        let f = self.local_shadow(local);
        self.put_shadowed(self.m.cur.depth, v, f);
        Next::FallThrough
    }

    /// `PushTemp index`. Stack: → temporary.
    pub(super) fn op_push_temp(&mut self, index: u32) -> Next {
        let local = self.temp_local(index);
        let v = self.get_local(local);
        let f = self.local_shadow(local);
        self.put_shadowed(self.m.cur.depth, v, f);
        Next::FallThrough
    }

    /// `PushField index` (the verifier checked the index against the
    /// receiver's class). Stack: → field.
    pub(super) fn op_push_field(&mut self, index: u32) -> Next {
        let receiver = self.self_value();
        let v = self.load(receiver, Self::field_offset(index as usize));
        self.put(self.m.cur.depth, v);
        Next::FallThrough
    }

    /// `PushGlobal binding`: the binding's value; an unbound global is the
    /// interpreter's (it loads a class or sends `unknownGlobal:`).
    /// Stack: → value.
    pub(super) fn op_push_global(&mut self, binding: u32) -> Next {
        let slow = self.slow_block();
        let b = self.konst(self.m.s.literals[binding as usize]);
        let v = self.load(b, Self::field_offset(BINDING_VALUE));
        let unbound = self.b.ins().icmp_imm_s(IntCC::Equal, v, vm::value::Value::UNBOUND.bits() as i64);
        self.branch_or_continue(unbound, slow);
        self.put(self.m.cur.depth, v);
        Next::FallThrough
    }

    /// The context `level` steps out from the frame's.
    pub(super) fn context(&mut self, level: u32) -> cranelift_codegen::ir::Value {
        let mut ctx = self.load(self.m.frame, offsets::CONTEXT);
        for _ in 0..level {
            ctx = self.load(ctx, Self::field_offset(CONTEXT_PARENT));
        }
        ctx
    }

    /// `PushOuter level index`. Stack: → variable.
    pub(super) fn op_push_outer(&mut self, level: u32, index: u32) -> Next {
        let ctx = self.context(level);
        let v = self.load(ctx, Self::field_offset(CONTEXT_FIXED + index as usize));
        self.put(self.m.cur.depth, v);
        Next::FallThrough
    }

    /// `Dup`. Stack: v → v v.
    pub(super) fn op_dup(&mut self) -> Next {
        let v = self.get(self.m.cur.depth - 1);
        let f = self.slot_shadow(self.m.cur.depth - 1);
        self.put_shadowed(self.m.cur.depth, v, f);
        Next::FallThrough
    }
}

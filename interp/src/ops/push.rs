//! Push family: constants, variables, literals, globals.

use vm::layout::*;
use vm::value::Value;

use crate::frame::*;
use crate::{Interpreter, Step};

impl Interpreter {
    /// `PushSelf`: push `self`. Stack: → self.
    #[inline(always)]
    pub(crate) fn op_push_self(&mut self) -> Step {
        let v = self.frame(FRAME_SELF);
        self.push(v);
        Ok(())
    }

    /// `PushNil`/`PushTrue`/`PushFalse`: push a constant. Stack: → v.
    #[inline(always)]
    pub(crate) fn op_push_constant(&mut self, v: Value) -> Step {
        self.push(v);
        Ok(())
    }

    /// `PushArg index`: push an argument. Stack: → arg.
    #[inline(always)]
    pub(crate) fn op_push_arg(&mut self, index: u32) -> Step {
        debug_assert!((index as usize) < self.num_args);
        // SAFETY: the verifier checked `index` against the method's argument
        // count; the arguments lie just below the frame.
        let v = unsafe { *self.u.stack.get_unchecked(self.fp - self.num_args + index as usize) };
        self.push(v);
        Ok(())
    }

    /// `PushTemp index`: push a frame temporary. Stack: → temp.
    #[inline(always)]
    pub(crate) fn op_push_temp(&mut self, index: u32) -> Step {
        let v = self.frame(FRAME_HEADER + index as usize);
        self.push(v);
        Ok(())
    }

    /// `PushField index`: push a field of `self`. Stack: → field.
    #[inline(always)]
    pub(crate) fn op_push_field(&mut self, index: u32) -> Step {
        // SAFETY: the verifier checked `index` against the field count of the
        // method's class, and `self` is an instance of that class or a
        // subclass (sends, `perform:inSuperclass:` and `invokeOn:with:`
        // guarantee it), so it has more than `index` slots.
        let v = unsafe { self.frame(FRAME_SELF).slot_unchecked(index as usize) };
        self.push(v);
        Ok(())
    }

    /// `PushLiteral index`: push a literal. Stack: → literal.
    #[inline(always)]
    pub(crate) fn op_push_literal(&mut self, index: u32) -> Step {
        // SAFETY: the verifier checked the literal index.
        let v = unsafe { self.literals.slot_unchecked(index as usize) };
        self.push(v);
        Ok(())
    }

    /// `PushInteger value`: push a SmallInteger. Stack: → value.
    #[inline(always)]
    pub(crate) fn op_push_integer(&mut self, value: i32) -> Step {
        self.push(Value::small(i64::from(value)));
        Ok(())
    }

    /// `PushGlobal binding`: push a global's value; an unbound global is
    /// loaded from the class path, found in the kernel, or reported with
    /// `unknownGlobal:`. Stack: → value.
    #[inline(always)]
    pub(crate) fn op_push_global(&mut self, binding: u32) -> Step {
        // SAFETY: the verifier checked the literal is a binding, which has
        // BINDING_SIZE slots.
        let (b, v) = unsafe {
            let b = self.literals.slot_unchecked(binding as usize);
            (b, b.slot_unchecked(BINDING_VALUE))
        };
        if v != Value::UNBOUND {
            self.push(v);
            return Ok(());
        }
        self.unbound_global(b)
    }

    /// `PushOuter level index`: push a captured variable. Stack: → value.
    #[inline(always)]
    pub(crate) fn op_push_outer(&mut self, level: u32, index: u32) -> Step {
        let ctx = self.context_at(level);
        // SAFETY: the verifier checked level and slot against the static
        // context chain, which the frame's chain matches.
        let v = unsafe { ctx.slot_unchecked(CONTEXT_FIXED + index as usize) };
        self.push(v);
        Ok(())
    }

    /// The context `level` steps out from the frame's current context.
    #[inline(always)]
    pub(crate) fn context_at(&self, level: u32) -> Value {
        let mut ctx = self.frame(FRAME_CONTEXT);
        for _ in 0..level {
            // SAFETY: the verifier checked the chain is `level` deep; every
            // context has its fixed slots.
            ctx = unsafe { ctx.slot_unchecked(CONTEXT_PARENT) };
        }
        ctx
    }
}

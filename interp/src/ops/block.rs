//! Blocks and contexts: closures, brace arrays, context push and pop.

use vm::layout::*;
use vm::object::Format;
use vm::primitives::ErrorKind;
use vm::value::Value;

use crate::frame::*;
use crate::{Interpreter, Step};

impl Interpreter {
    /// `MakeBlock block`: a closure over `self` and the current context.
    /// Stack: → closure.
    pub(crate) fn op_make_block(&mut self, block: u32) -> Step {
        let code = self.literals.slot(block as usize);
        let arity = method_info_counts(code.slot(METHOD_INFO).int_value()).0 as i64;
        let class = self.u.known.block_class(arity as u32);
        let closure = match self.u.alloc(class, Format::Closure, CLOSURE_SIZE) {
            Ok(c) => c,
            Err(e) => return self.raise(ErrorKind::OutOfMemory, e.to_string(), 0),
        };
        // Fresh young object: no barrier needed for these stores.
        closure.set_slot_raw(CLOSURE_CODE, self.literals.slot(block as usize));
        closure.set_slot_raw(CLOSURE_RECEIVER, self.frame(FRAME_SELF));
        closure.set_slot_raw(CLOSURE_CONTEXT, self.frame(FRAME_CONTEXT));
        self.push(closure);
        Ok(())
    }

    /// `MakeArray count`: an Array of the top `count` values.
    /// Stack: v1 .. vn → array.
    pub(crate) fn op_make_array(&mut self, count: u32) -> Step {
        let n = count as usize;
        let array = match self.u.new_array(n) {
            Ok(a) => a,
            Err(e) => return self.raise(ErrorKind::OutOfMemory, e.to_string(), n),
        };
        for i in 0..n {
            array.set_slot_raw(i, self.peek(n - 1 - i));
        }
        self.u.sp -= n;
        self.push(array);
        Ok(())
    }

    /// `PushContext size`: a new context whose parent is the current one
    /// becomes current. The first context of a home-context method records
    /// its frame (for non-local returns).
    pub(crate) fn op_push_context(&mut self, size: u32) -> Step {
        let ctx = match self.u.alloc(self.u.known.context_class, Format::Context, CONTEXT_FIXED + size as usize) {
            Ok(c) => c,
            Err(e) => return Err(self.error(e.to_string())),
        };
        let parent = self.frame(FRAME_CONTEXT);
        ctx.set_slot_raw(CONTEXT_PARENT, parent);
        if self.home && parent == self.u.nil() {
            ctx.set_slot_raw(CONTEXT_HOME_FRAME, Value::small(self.fp as i64));
        }
        self.set_frame(FRAME_CONTEXT, ctx);
        Ok(())
    }

    /// `PopContext`: the parent context becomes current.
    pub(crate) fn op_pop_context(&mut self) -> Step {
        let parent = self.frame(FRAME_CONTEXT).slot(CONTEXT_PARENT);
        self.set_frame(FRAME_CONTEXT, parent);
        Ok(())
    }

    /// Activates `closure` on the `argc` arguments above it.
    pub(crate) fn call_block(&mut self, closure: Value, argc: usize) -> Step {
        let code = closure.slot(CLOSURE_CODE);
        let arity = method_info_counts(code.slot(METHOD_INFO).int_value()).0;
        if arity != argc {
            let message = format!("Wrong number of arguments: a block of {arity} called with {argc}.");
            return Err(self.failure(ErrorKind::PrimitiveFailed, message));
        }
        self.push_frame(code, closure.slot(CLOSURE_RECEIVER), closure.slot(CLOSURE_CONTEXT), closure)
    }
}

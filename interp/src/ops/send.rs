//! Send family: ordinary and super sends, and the special selectors with
//! their fast paths (which fall back to a real send through the same
//! inline cache).

use vm::arith::{self, ArithOp, Outcome};
use vm::bytecode::Opcode;
use vm::layout::*;
use vm::object::Format;

use crate::{Interpreter, Step};

impl Interpreter {
    /// `Send selector argc ic`: a send. Stack: rcv args → result.
    #[inline(always)]
    pub(crate) fn op_send(&mut self, selector: u32, argc: u32, ic: u32) -> Step {
        let sel = self.literals.slot(selector as usize);
        self.send_cached(sel, argc as usize, ic)
    }

    /// `SuperSend selector argc ic`: lookup starts above the method's holder.
    /// Stack: rcv args → result.
    #[inline(always)]
    pub(crate) fn op_super_send(&mut self, selector: u32, argc: u32, _ic: u32) -> Step {
        let sel = self.literals.slot(selector as usize);
        let holder = self.method.slot(METHOD_HOLDER);
        let start = holder.slot(CLASS_SUPERCLASS);
        self.send_from_class(start, sel, argc as usize)
    }

    /// A special-selector send without a fast path: the real send.
    #[inline(always)]
    pub(crate) fn op_special(&mut self, op: Opcode, ic: u32, argc: usize) -> Step {
        let sel = self.special[op as usize];
        self.send_cached(sel, argc, ic)
    }

    /// `+ - * / // % < > <= >= = ~=`: the immediate cases of
    /// `vm::arith` (SmallIntegers, SmallFloats, mixed), else the send
    /// (which reaches the primitive for an overflow, a boxed Double result,
    /// a division by zero). Stack: a b → r.
    #[inline(always)]
    pub(crate) fn op_arith(&mut self, op: ArithOp, ic: u32) -> Step {
        let (a, b) = (self.peek(1), self.peek(0));
        let outcome = if a.is_int() && b.is_int() {
            arith::int_int(op, a.int_value(), b.int_value())
        } else {
            if a.is_small_float() || b.is_small_float() {
                self.saw_float(ic);
            }
            arith::mixed(op, a, b)
        };
        let r = match outcome {
            Outcome::Value(v) => v,
            Outcome::Bool(r) => self.u.boolean(r),
            _ => return self.op_special(op.opcode(), ic, 1),
        };
        self.u.sp -= 1;
        self.u.stack[self.u.sp - 1] = r;
        Ok(())
    }

    /// Notes that special send site `ic` met a SmallFloat operand (native
    /// code keeps unboxed doubles in methods that have such sites).
    #[inline(always)]
    fn saw_float(&mut self, ic: u32) {
        let rt = self.rt;
        if let Some(cache) = self.u.runtime_mut(rt).ics.get_mut(ic as usize) {
            cache.saw_float = true;
        }
    }

    /// `==`: identity, never a send. Stack: a b → Boolean.
    #[inline(always)]
    pub(crate) fn op_identical(&mut self) -> Step {
        let b = self.pop();
        let a = self.pop();
        let r = self.u.boolean(vm::primitives::same(&self.u, a, b));
        self.push(r);
        Ok(())
    }

    /// `at:` with an Array fast path. Stack: rcv index → element.
    #[inline(always)]
    pub(crate) fn op_at(&mut self, ic: u32) -> Step {
        let (a, i) = (self.peek(1), self.peek(0));
        if i.is_int() && a.is_pointer() && a.format() == Format::Array && a.class_word() == self.u.known.array {
            let index = i.int_value();
            if index >= 1 && (index as usize) <= a.size() {
                self.u.sp -= 1;
                self.u.stack[self.u.sp - 1] = a.slot(index as usize - 1);
                return Ok(());
            }
        }
        self.op_special(Opcode::SendAt, ic, 1)
    }

    /// `at:put:` with an Array fast path (answering the Array, as the
    /// primitive does). Stack: rcv index value → rcv.
    #[inline(always)]
    pub(crate) fn op_at_put(&mut self, ic: u32) -> Step {
        let (a, i, v) = (self.peek(2), self.peek(1), self.peek(0));
        if i.is_int() && a.is_pointer() && a.format() == Format::Array && a.class_word() == self.u.known.array {
            let index = i.int_value();
            if index >= 1 && (index as usize) <= a.size() {
                self.u.heap.store(a, index as usize - 1, v);
                self.u.sp -= 2;
                return Ok(());
            }
        }
        self.op_special(Opcode::SendAtPut, ic, 2)
    }

    /// `value`, `value:`, `value:with:`: a block of that arity runs
    /// directly. Stack: block args → result.
    #[inline(always)]
    pub(crate) fn op_value(&mut self, op: Opcode, ic: u32, argc: usize) -> Step {
        let receiver = self.peek(argc);
        if receiver.is_pointer() && receiver.format() == Format::Closure {
            let code = receiver.slot(CLOSURE_CODE);
            let arity = method_info_counts(code.slot(METHOD_INFO).int_value()).0 as i64;
            if arity as usize == argc {
                return self.call_block(receiver, argc);
            }
        }
        self.op_special(op, ic, argc)
    }

    /// `not` with a Boolean fast path. Stack: b → Boolean.
    #[inline(always)]
    pub(crate) fn op_not(&mut self, ic: u32) -> Step {
        let b = self.top();
        let k = &self.u.known;
        let r = if b == k.true_ {
            k.false_
        } else if b == k.false_ {
            k.true_
        } else {
            return self.op_special(Opcode::SendNot, ic, 0);
        };
        self.u.stack[self.u.sp - 1] = r;
        Ok(())
    }
}

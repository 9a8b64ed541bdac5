//! Bytecode handlers, one per bytecode, grouped by family. The `Visitor`
//! implementation below only routes each bytecode to its handler.

mod block;
mod jump;
mod push;
mod returns;
mod send;
mod stack;
mod store;

use vm::arith::ArithOp;
use vm::bytecode::{Interpret, Opcode, Visitor};

use crate::{Interpreter, Step};

impl Interpret for Interpreter {
    #[inline(always)]
    fn set_pc(&mut self, pc: usize) {
        self.pc = pc;
    }
}

impl Visitor for Interpreter {
    type Output = Step;

    #[inline(always)]
    fn push_self(&mut self) -> Step {
        self.op_push_self()
    }
    #[inline(always)]
    fn push_nil(&mut self) -> Step {
        self.op_push_constant(self.u.known.nil)
    }
    #[inline(always)]
    fn push_true(&mut self) -> Step {
        self.op_push_constant(self.u.known.true_)
    }
    #[inline(always)]
    fn push_false(&mut self) -> Step {
        self.op_push_constant(self.u.known.false_)
    }
    #[inline(always)]
    fn push_arg(&mut self, index: u32) -> Step {
        self.op_push_arg(index)
    }
    #[inline(always)]
    fn push_temp(&mut self, index: u32) -> Step {
        self.op_push_temp(index)
    }
    #[inline(always)]
    fn push_field(&mut self, index: u32) -> Step {
        self.op_push_field(index)
    }
    #[inline(always)]
    fn push_literal(&mut self, index: u32) -> Step {
        self.op_push_literal(index)
    }
    #[inline(always)]
    fn push_integer(&mut self, value: i32) -> Step {
        self.op_push_integer(value)
    }
    #[inline(always)]
    fn push_global(&mut self, binding: u32) -> Step {
        self.op_push_global(binding)
    }
    #[inline(always)]
    fn push_outer(&mut self, level: u32, index: u32) -> Step {
        self.op_push_outer(level, index)
    }
    #[inline(always)]
    fn store_arg(&mut self, index: u32) -> Step {
        self.op_store_arg(index, false)
    }
    #[inline(always)]
    fn pop_arg(&mut self, index: u32) -> Step {
        self.op_store_arg(index, true)
    }
    #[inline(always)]
    fn store_temp(&mut self, index: u32) -> Step {
        self.op_store_temp(index, false)
    }
    #[inline(always)]
    fn pop_temp(&mut self, index: u32) -> Step {
        self.op_store_temp(index, true)
    }
    #[inline(always)]
    fn store_field(&mut self, index: u32) -> Step {
        self.op_store_field(index, false)
    }
    #[inline(always)]
    fn pop_field(&mut self, index: u32) -> Step {
        self.op_store_field(index, true)
    }
    #[inline(always)]
    fn store_outer(&mut self, level: u32, index: u32) -> Step {
        self.op_store_outer(level, index, false)
    }
    #[inline(always)]
    fn pop_outer(&mut self, level: u32, index: u32) -> Step {
        self.op_store_outer(level, index, true)
    }
    #[inline(always)]
    fn store_global(&mut self, binding: u32) -> Step {
        self.op_store_global(binding)
    }
    #[inline(always)]
    fn pop(&mut self) -> Step {
        self.op_pop()
    }
    #[inline(always)]
    fn dup(&mut self) -> Step {
        self.op_dup()
    }
    #[inline(always)]
    fn send(&mut self, selector: u32, argc: u32, ic: u32) -> Step {
        self.op_send(selector, argc, ic)
    }
    #[inline(always)]
    fn super_send(&mut self, selector: u32, argc: u32, ic: u32) -> Step {
        self.op_super_send(selector, argc, ic)
    }
    #[inline(always)]
    fn send_add(&mut self, ic: u32) -> Step {
        self.op_arith(ArithOp::Add, ic)
    }
    #[inline(always)]
    fn send_sub(&mut self, ic: u32) -> Step {
        self.op_arith(ArithOp::Sub, ic)
    }
    #[inline(always)]
    fn send_mul(&mut self, ic: u32) -> Step {
        self.op_arith(ArithOp::Mul, ic)
    }
    #[inline(always)]
    fn send_div(&mut self, ic: u32) -> Step {
        self.op_arith(ArithOp::Div, ic)
    }
    #[inline(always)]
    fn send_floor_div(&mut self, ic: u32) -> Step {
        self.op_arith(ArithOp::FloatDiv, ic)
    }
    #[inline(always)]
    fn send_mod(&mut self, ic: u32) -> Step {
        self.op_arith(ArithOp::Mod, ic)
    }
    #[inline(always)]
    fn send_lt(&mut self, ic: u32) -> Step {
        self.op_arith(ArithOp::Lt, ic)
    }
    #[inline(always)]
    fn send_gt(&mut self, ic: u32) -> Step {
        self.op_arith(ArithOp::Gt, ic)
    }
    #[inline(always)]
    fn send_le(&mut self, ic: u32) -> Step {
        self.op_arith(ArithOp::Le, ic)
    }
    #[inline(always)]
    fn send_ge(&mut self, ic: u32) -> Step {
        self.op_arith(ArithOp::Ge, ic)
    }
    #[inline(always)]
    fn send_eq(&mut self, ic: u32) -> Step {
        self.op_arith(ArithOp::Eq, ic)
    }
    #[inline(always)]
    fn send_ne(&mut self, ic: u32) -> Step {
        self.op_arith(ArithOp::Ne, ic)
    }
    #[inline(always)]
    fn send_identical(&mut self) -> Step {
        self.op_identical()
    }
    #[inline(always)]
    fn send_at(&mut self, ic: u32) -> Step {
        self.op_at(ic)
    }
    #[inline(always)]
    fn send_at_put(&mut self, ic: u32) -> Step {
        self.op_at_put(ic)
    }
    #[inline(always)]
    fn send_size(&mut self, ic: u32) -> Step {
        self.op_special(Opcode::SendSize, ic, 0)
    }
    #[inline(always)]
    fn send_value(&mut self, ic: u32) -> Step {
        self.op_value(Opcode::SendValue, ic, 0)
    }
    #[inline(always)]
    fn send_value1(&mut self, ic: u32) -> Step {
        self.op_value(Opcode::SendValue1, ic, 1)
    }
    #[inline(always)]
    fn send_value2(&mut self, ic: u32) -> Step {
        self.op_value(Opcode::SendValue2, ic, 2)
    }
    #[inline(always)]
    fn send_class(&mut self, ic: u32) -> Step {
        self.op_special(Opcode::SendClass, ic, 0)
    }
    #[inline(always)]
    fn send_is_nil(&mut self, ic: u32) -> Step {
        self.op_special(Opcode::SendIsNil, ic, 0)
    }
    #[inline(always)]
    fn send_not_nil(&mut self, ic: u32) -> Step {
        self.op_special(Opcode::SendNotNil, ic, 0)
    }
    #[inline(always)]
    fn send_not(&mut self, ic: u32) -> Step {
        self.op_not(ic)
    }
    #[inline(always)]
    fn make_block(&mut self, block: u32) -> Step {
        self.op_make_block(block)
    }
    #[inline(always)]
    fn make_array(&mut self, count: u32) -> Step {
        self.op_make_array(count)
    }
    #[inline(always)]
    fn push_context(&mut self, size: u32) -> Step {
        self.op_push_context(size)
    }
    #[inline(always)]
    fn pop_context(&mut self) -> Step {
        self.op_pop_context()
    }
    #[inline(always)]
    fn jump(&mut self, offset: u32) -> Step {
        self.op_jump(offset)
    }
    #[inline(always)]
    fn jump_back(&mut self, offset: u32) -> Step {
        self.op_jump_back(offset)
    }
    #[inline(always)]
    fn jump_if_true(&mut self, offset: u32) -> Step {
        self.op_jump_if_boolean(offset, true)
    }
    #[inline(always)]
    fn jump_if_false(&mut self, offset: u32) -> Step {
        self.op_jump_if_boolean(offset, false)
    }
    #[inline(always)]
    fn jump_if_nil(&mut self, offset: u32) -> Step {
        self.op_jump_if_nil(offset, true)
    }
    #[inline(always)]
    fn jump_if_not_nil(&mut self, offset: u32) -> Step {
        self.op_jump_if_nil(offset, false)
    }
    #[inline(always)]
    fn return_top(&mut self) -> Step {
        self.op_return_top()
    }
    #[inline(always)]
    fn return_self(&mut self) -> Step {
        self.op_return_self()
    }
    #[inline(always)]
    fn return_non_local(&mut self, level: u32) -> Step {
        self.op_return_non_local(level)
    }
}

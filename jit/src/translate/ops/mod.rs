//! Translators, one per bytecode, grouped by family (as the interpreter's
//! handlers are). The `Visitor` implementation below only routes each
//! bytecode to its translator; each one emits the bytecode's fast path and
//! falls back to the interpreter (`Translator::step`) where it does not
//! apply.

mod block;
mod jump;
mod primitives;
mod push;
mod returns;
mod send;
mod special;
mod store;

pub use primitives::NativePrimitives;
use vm::arith::ArithOp;
use vm::bytecode::Visitor;

use super::{Next, Translator};

impl Visitor for Translator<'_> {
    type Output = Next;

    fn push_self(&mut self) -> Next {
        self.op_push_self()
    }
    fn push_nil(&mut self) -> Next {
        self.op_push_constant(self.k.nil)
    }
    fn push_true(&mut self) -> Next {
        self.op_push_constant(self.k.true_)
    }
    fn push_false(&mut self) -> Next {
        self.op_push_constant(self.k.false_)
    }
    fn push_arg(&mut self, index: u32) -> Next {
        self.op_push_arg(index)
    }
    fn push_temp(&mut self, index: u32) -> Next {
        self.op_push_temp(index)
    }
    fn push_field(&mut self, index: u32) -> Next {
        self.op_push_field(index)
    }
    fn push_literal(&mut self, index: u32) -> Next {
        self.op_push_constant(self.m.s.literals[index as usize])
    }
    fn push_integer(&mut self, value: i32) -> Next {
        self.op_push_constant(((i64::from(value) << 1) | 1) as u64)
    }
    fn push_global(&mut self, binding: u32) -> Next {
        self.op_push_global(binding)
    }
    fn push_outer(&mut self, level: u32, index: u32) -> Next {
        self.op_push_outer(level, index)
    }
    fn store_arg(&mut self, index: u32) -> Next {
        self.op_store_arg(index)
    }
    fn pop_arg(&mut self, index: u32) -> Next {
        self.op_store_arg(index)
    }
    fn store_temp(&mut self, index: u32) -> Next {
        self.op_store_temp(index)
    }
    fn pop_temp(&mut self, index: u32) -> Next {
        self.op_store_temp(index)
    }
    fn store_field(&mut self, index: u32) -> Next {
        self.op_store_field(index)
    }
    fn pop_field(&mut self, index: u32) -> Next {
        self.op_store_field(index)
    }
    fn store_outer(&mut self, level: u32, index: u32) -> Next {
        self.op_store_outer(level, index)
    }
    fn pop_outer(&mut self, level: u32, index: u32) -> Next {
        self.op_store_outer(level, index)
    }
    fn store_global(&mut self, binding: u32) -> Next {
        self.op_store_global(binding)
    }
    fn pop(&mut self) -> Next {
        Next::FallThrough
    }
    fn dup(&mut self) -> Next {
        self.op_dup()
    }
    fn send(&mut self, _selector: u32, argc: u32, ic: u32) -> Next {
        self.op_send(argc, ic)
    }
    fn super_send(&mut self, _selector: u32, argc: u32, _ic: u32) -> Next {
        self.op_super_send(argc)
    }
    fn send_add(&mut self, ic: u32) -> Next {
        self.op_arith(ArithOp::Add, ic)
    }
    fn send_sub(&mut self, ic: u32) -> Next {
        self.op_arith(ArithOp::Sub, ic)
    }
    fn send_mul(&mut self, ic: u32) -> Next {
        self.op_arith(ArithOp::Mul, ic)
    }
    fn send_div(&mut self, ic: u32) -> Next {
        self.op_arith(ArithOp::Div, ic)
    }
    fn send_floor_div(&mut self, ic: u32) -> Next {
        self.op_arith(ArithOp::FloatDiv, ic)
    }
    fn send_mod(&mut self, ic: u32) -> Next {
        self.op_arith(ArithOp::Mod, ic)
    }
    fn send_lt(&mut self, ic: u32) -> Next {
        self.op_arith(ArithOp::Lt, ic)
    }
    fn send_gt(&mut self, ic: u32) -> Next {
        self.op_arith(ArithOp::Gt, ic)
    }
    fn send_le(&mut self, ic: u32) -> Next {
        self.op_arith(ArithOp::Le, ic)
    }
    fn send_ge(&mut self, ic: u32) -> Next {
        self.op_arith(ArithOp::Ge, ic)
    }
    fn send_eq(&mut self, ic: u32) -> Next {
        self.op_arith(ArithOp::Eq, ic)
    }
    fn send_ne(&mut self, ic: u32) -> Next {
        self.op_arith(ArithOp::Ne, ic)
    }
    fn send_identical(&mut self) -> Next {
        self.op_identical()
    }
    fn send_at(&mut self, ic: u32) -> Next {
        self.op_at(false, ic)
    }
    fn send_at_put(&mut self, ic: u32) -> Next {
        self.op_at(true, ic)
    }
    fn send_size(&mut self, ic: u32) -> Next {
        self.generic_send(0, ic)
    }
    fn send_value(&mut self, ic: u32) -> Next {
        self.op_value(0, ic)
    }
    fn send_value1(&mut self, ic: u32) -> Next {
        self.op_value(1, ic)
    }
    fn send_value2(&mut self, ic: u32) -> Next {
        self.op_value(2, ic)
    }
    fn send_class(&mut self, ic: u32) -> Next {
        self.generic_send(0, ic)
    }
    fn send_is_nil(&mut self, ic: u32) -> Next {
        self.generic_send(0, ic)
    }
    fn send_not_nil(&mut self, ic: u32) -> Next {
        self.generic_send(0, ic)
    }
    fn send_not(&mut self, ic: u32) -> Next {
        self.op_not(ic)
    }
    fn make_block(&mut self, block: u32) -> Next {
        self.op_make_block(block)
    }
    fn make_array(&mut self, count: u32) -> Next {
        self.op_make_array(count)
    }
    fn push_context(&mut self, size: u32) -> Next {
        self.op_push_context(size)
    }
    fn pop_context(&mut self) -> Next {
        self.op_pop_context()
    }
    fn jump(&mut self, offset: u32) -> Next {
        self.op_jump(self.m.cur.next_pc + offset as usize)
    }
    fn jump_back(&mut self, offset: u32) -> Next {
        self.op_jump_back(self.m.cur.next_pc - offset as usize)
    }
    fn jump_if_true(&mut self, offset: u32) -> Next {
        self.op_jump_if_boolean(offset, true)
    }
    fn jump_if_false(&mut self, offset: u32) -> Next {
        self.op_jump_if_boolean(offset, false)
    }
    fn jump_if_nil(&mut self, offset: u32) -> Next {
        self.op_jump_if_nil(offset, true)
    }
    fn jump_if_not_nil(&mut self, offset: u32) -> Next {
        self.op_jump_if_nil(offset, false)
    }
    fn return_top(&mut self) -> Next {
        self.op_return(false)
    }
    fn return_self(&mut self) -> Next {
        self.op_return(true)
    }
    fn return_non_local(&mut self, _level: u32) -> Next {
        self.step()
    }
}

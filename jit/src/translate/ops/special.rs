//! Special selectors with native fast paths: SmallInteger and SmallFloat
//! arithmetic and comparisons for the operand classes `crate::coverage`
//! names (the semantics are `vm::arith`'s), `==`, `not`, and Array
//! `at:`/`at:put:`. Where a fast path does not apply the send
//! goes on as any other send (inline caches, then the interpreter).

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, InstBuilder, Value, types};
use vm::arith::{ArithOp, Operands};
use vm::object::{BITS_OFFSET, BODY_OFFSET, CLASS_OFFSET, FORMAT_SHIFT, Format, HASH_MASK, HASH_SHIFT, SIZE_SHIFT};

use crate::coverage::{covers, covers_floats};
use crate::translate::{Next, Translator};

impl Translator<'_> {
    /// A block that makes the current special send as an ordinary send of
    /// `argc` arguments through inline cache `ic`.
    fn send_block(&mut self, argc: u32, ic: u32) -> ir::Block {
        let here = self.b.current_block().expect("translating inside a block");
        let block = self.b.create_block();
        self.b.switch_to_block(block);
        self.generic_send(argc, ic);
        self.b.switch_to_block(here);
        block
    }

    fn jump_next(&mut self) {
        let next = self.m.cur.next.expect("a special send has a successor");
        self.b.ins().jump(next, &[]);
    }

    /// `+ - * / // %`: the operand classes `coverage::covers` names (the
    /// SmallInteger ones overflow-checked), else the interpreter's (which
    /// evaluates `vm::arith`). Stack: a b → result.
    pub(super) fn op_arith(&mut self, op: ArithOp, ic: u32) -> Next {
        if op.is_comparison() {
            return self.op_compare(op, ic);
        }
        let d = self.m.cur.depth;
        // Rare (large integers, other receivers): the interpreter's.
        let send = self.slow_block();
        self.stress_exit(send);
        let (a, bv) = (self.get(d - 2), self.get(d - 1));
        let ints = self.both_int(a, bv);
        let int_block = self.b.create_block();
        let not_ints = self.b.create_block();
        self.b.ins().brif(ints, int_block, &[], not_ints, &[]);
        self.b.switch_to_block(not_ints);
        if covers_floats(op) {
            self.first_float_leaves(ic, send);
            self.float_arith(op, a, bv, send);
        } else {
            self.b.ins().jump(send, &[]);
        }
        self.b.switch_to_block(int_block);
        if covers(op, Operands::IntInt) {
            self.int_arith(op, a, bv, send);
        } else {
            self.b.ins().jump(send, &[]);
        }
        Next::Done
    }

    /// In a method compiled without unboxed doubles (no site had met a
    /// SmallFloat), the first time site `ic` meets operands that are not
    /// both SmallIntegers, it leaves to `slow` (the interpreter, which
    /// marks the cache and has the method compiled again with doubles
    /// unboxed); after that it reads the cache's mark and goes on. Nothing
    /// in a method that keeps doubles unboxed.
    fn first_float_leaves(&mut self, ic: u32, slow: ir::Block) {
        if self.m.s.shadows {
            return;
        }
        let cache = self.konst(self.m.s.ics[ic as usize]);
        let seen = self.b.ins().uload8(types::I64, Self::flags(), cache, vm::runtime::ic_layout::SAW_FLOAT);
        self.branch_or_continue_unless(seen, slow);
    }

    /// SmallInteger arithmetic on the tagged words `a` and `bv`, for the
    /// operations `coverage::covers` says have it. The current block ends.
    fn int_arith(&mut self, op: ArithOp, a: Value, bv: Value, send: ir::Block) {
        let d = self.m.cur.depth;
        match op {
            ArithOp::Add | ArithOp::Sub | ArithOp::Mul => {
                let (r, overflow) = match op {
                    ArithOp::Add => {
                        let b1 = self.b.ins().iadd_imm_s(bv, -1);
                        self.b.ins().sadd_overflow(a, b1)
                    }
                    ArithOp::Sub => {
                        let (diff, of) = self.b.ins().ssub_overflow(a, bv);
                        (self.b.ins().iadd_imm_s(diff, 1), of)
                    }
                    _ => {
                        let x = self.untag(a);
                        let y = self.b.ins().iadd_imm_s(bv, -1);
                        let (p, of) = self.b.ins().smul_overflow(x, y);
                        (self.b.ins().iadd_imm_s(p, 1), of)
                    }
                };
                self.branch_or_continue(overflow, send);
                self.put(d - 2, r);
                self.jump_next();
            }
            ArithOp::Div | ArithOp::Mod => {
                // Division by zero, and MIN / -1, go to the send.
                let x = self.untag(a);
                let y = self.untag(bv);
                let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
                self.branch_or_continue(zero, send);
                let minus_one = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                self.branch_or_continue(minus_one, send);
                let r = if op == ArithOp::Div {
                    self.b.ins().sdiv(x, y)
                } else {
                    // Floored: the remainder takes the divisor's sign.
                    let r = self.b.ins().srem(x, y);
                    let signs = self.b.ins().bxor(r, y);
                    let differ = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, signs, 0);
                    let nonzero = self.b.ins().icmp_imm_s(IntCC::NotEqual, r, 0);
                    let adjust = self.b.ins().band(differ, nonzero);
                    let sum = self.b.ins().iadd(r, y);
                    self.b.ins().select(adjust, sum, r)
                };
                let r = self.tag(r);
                self.put(d - 2, r);
                self.jump_next();
            }
            _ => unreachable!("no inline SmallInteger {op:?}: coverage::covers must not claim it"),
        }
    }

    /// As a double, the value `v` in operand slot `depth`, if it is a
    /// SmallFloat, or (when `int` is set) a SmallInteger, branching to
    /// `other` otherwise.
    fn float_operand(&mut self, v: Value, depth: u32, int: bool, other: ir::Block) -> Value {
        if !int {
            let is_float = self.is_small_float(v);
            self.branch_or_continue_unless(is_float, other);
            return self.float_in(depth, v);
        }
        let var = self.b.declare_var(types::F64);
        let is_float = self.is_small_float(v);
        let float_block = self.b.create_block();
        let not_float = self.b.create_block();
        let int_block = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().brif(is_float, float_block, &[], not_float, &[]);
        self.b.switch_to_block(float_block);
        let f = self.float_in(depth, v);
        self.b.def_var(var, f);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(not_float);
        let is_int = self.is_int(v);
        self.b.ins().brif(is_int, int_block, &[], other, &[]);
        self.b.switch_to_block(int_block);
        let i = self.untag(v);
        let f = self.b.ins().fcvt_from_sint(types::F64, i);
        self.b.def_var(var, f);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
        self.b.use_var(var)
    }

    /// The two operands as doubles, for the classes with a SmallFloat that
    /// `coverage::covers` names for `op` (the operands are not both
    /// SmallIntegers here), branching to `other` for the rest.
    fn float_operands(&mut self, op: ArithOp, a: Value, bv: Value, other: ir::Block) -> (Value, Value) {
        debug_assert!(covers(op, Operands::FloatFloat));
        let d = self.m.cur.depth;
        let x = self.float_operand(a, d - 2, covers(op, Operands::IntFloat), other);
        let y = self.float_operand(bv, d - 1, covers(op, Operands::FloatInt), other);
        (x, y)
    }

    /// SmallFloat arithmetic (IEEE, as `vm::arith::float_float`; a result
    /// that is not a SmallFloat goes to `send`). The current block ends.
    fn float_arith(&mut self, op: ArithOp, a: Value, bv: Value, send: ir::Block) {
        let d = self.m.cur.depth;
        let (x, y) = self.float_operands(op, a, bv, send);
        let f = match op {
            ArithOp::Add => self.b.ins().fadd(x, y),
            ArithOp::Sub => self.b.ins().fsub(x, y),
            ArithOp::Mul => self.b.ins().fmul(x, y),
            // By Integer zero: an infinity or NaN, never a SmallFloat, so
            // the primitive raises.
            ArithOp::Div | ArithOp::FloatDiv => self.b.ins().fdiv(x, y),
            _ => unreachable!("no inline SmallFloat {op:?}: coverage::covers must not claim it"),
        };
        let (v, ok) = self.box_float(f);
        self.branch_or_continue_unless(ok, send);
        self.put_shadowed(d - 2, v, Some(f));
        self.jump_next();
    }

    /// `< > <= >= = ~=`: the operand classes `coverage::covers` names (as
    /// doubles when one is a SmallFloat). Stack: a b → Boolean.
    fn op_compare(&mut self, op: ArithOp, ic: u32) -> Next {
        let d = self.m.cur.depth;
        // `=` and `~=` are sent to all kinds of objects: through the inline
        // caches;
        // other comparisons of other receivers are rare: the interpreter's.
        let send = if matches!(op, ArithOp::Eq | ArithOp::Ne) { self.send_block(1, ic) } else { self.slow_block() };
        self.stress_exit(send);
        let (a, bv) = (self.get(d - 2), self.get(d - 1));
        let ints = self.both_int(a, bv);
        let int_block = self.b.create_block();
        let not_ints = self.b.create_block();
        self.b.ins().brif(ints, int_block, &[], not_ints, &[]);
        self.b.switch_to_block(not_ints);
        let (fcc, icc) = match op {
            ArithOp::Lt => (FloatCC::LessThan, IntCC::SignedLessThan),
            ArithOp::Gt => (FloatCC::GreaterThan, IntCC::SignedGreaterThan),
            ArithOp::Le => (FloatCC::LessThanOrEqual, IntCC::SignedLessThanOrEqual),
            ArithOp::Ge => (FloatCC::GreaterThanOrEqual, IntCC::SignedGreaterThanOrEqual),
            ArithOp::Eq => (FloatCC::Equal, IntCC::Equal),
            ArithOp::Ne => (FloatCC::NotEqual, IntCC::NotEqual),
            _ => unreachable!("{op:?} is not a comparison"),
        };
        if covers_floats(op) {
            if !matches!(op, ArithOp::Eq | ArithOp::Ne) {
                self.first_float_leaves(ic, send);
            }
            let (x, y) = self.float_operands(op, a, bv, send);
            let c = self.b.ins().fcmp(fcc, x, y);
            self.answer_boolean(c, d - 2);
        } else {
            self.b.ins().jump(send, &[]);
        }
        self.b.switch_to_block(int_block);
        if covers(op, Operands::IntInt) {
            let c = self.b.ins().icmp(icc, a, bv);
            self.answer_boolean(c, d - 2);
        } else {
            self.b.ins().jump(send, &[]);
        }
        Next::Done
    }

    /// The format of object `v` (a pointer).
    pub(super) fn format_of(&mut self, v: Value) -> Value {
        let bits = self.load(v, BITS_OFFSET as i32);
        let format = self.b.ins().ushr_imm_u(bits, i64::from(FORMAT_SHIFT));
        self.b.ins().band_imm_s(format, 0xf)
    }

    /// `==`: equal bits are identical; otherwise two values are not, unless
    /// both may compare by value: two symbols of the same hash (copies of
    /// one symbol from different images), or numbers (`1 == 1.0`), which
    /// the interpreter decides. Stack: a b → Boolean.
    pub(super) fn op_identical(&mut self) -> Next {
        let d = self.m.cur.depth;
        let slow = self.slow_block();
        let (a, bv) = (self.get(d - 2), self.get(d - 1));
        let same = self.b.ins().icmp(IntCC::Equal, a, bv);
        let yes = self.b.create_block();
        let differ = self.b.create_block();
        self.b.ins().brif(same, yes, &[], differ, &[]);
        self.b.switch_to_block(yes);
        let true_ = self.b.ins().iconst(types::I8, 1);
        self.answer_boolean(true_, d - 2);
        self.b.switch_to_block(differ);
        // Different bits: decided false when either side is a value that
        // never compares by value (nil, true, false, ordinary objects,
        // Characters, or two SmallIntegers).
        let no = self.b.create_block();
        let symbol = self.b.create_block();
        for v in [a, bv] {
            let is_ptr = self.is_pointer(v);
            let ptr_block = self.b.create_block();
            let imm_block = self.b.create_block();
            self.b.ins().brif(is_ptr, ptr_block, &[], imm_block, &[]);
            self.b.switch_to_block(ptr_block);
            let format = self.format_of(v);
            let is_symbol = self.b.ins().icmp_imm_s(IntCC::Equal, format, Format::Symbol as i64);
            let not_symbol = self.b.create_block();
            self.b.ins().brif(is_symbol, symbol, &[], not_symbol, &[]);
            self.b.switch_to_block(not_symbol);
            // A boxed Double or a LargeInteger: maybe equal to a number.
            let is_double = self.b.ins().icmp_imm_s(IntCC::Equal, format, Format::Double as i64);
            let is_large = self.b.ins().icmp_imm_s(IntCC::Equal, format, Format::LargeInt as i64);
            let by_value = self.b.ins().bor(is_double, is_large);
            self.b.ins().brif(by_value, slow, &[], no, &[]);
            self.b.switch_to_block(imm_block);
            // A SmallFloat or SmallInteger may equal a number on the other
            // side: look at that side first.
            let is_char = {
                let tag = self.b.ins().band_imm_s(v, 7);
                self.b.ins().icmp_imm_s(IntCC::Equal, tag, vm::value::TAG_CHARACTER as i64)
            };
            let next = self.b.create_block();
            self.b.ins().brif(is_char, no, &[], next, &[]);
            self.b.switch_to_block(next);
        }
        // Both are numbers (SmallIntegers or SmallFloats) with different
        // bits: two SmallIntegers differ; anything with a float is the
        // interpreter's.
        let ints = self.both_int(a, bv);
        self.b.ins().brif(ints, no, &[], slow, &[]);
        // A symbol on one side: only a symbol of the same hash may be the
        // same symbol.
        self.b.switch_to_block(symbol);
        let tags = self.b.ins().bor(a, bv);
        let tags = self.b.ins().band_imm_s(tags, vm::value::TAG_MASK as i64);
        let both_ptr = self.b.ins().icmp_imm_s(IntCC::Equal, tags, 0);
        let both_block = self.b.create_block();
        self.b.ins().brif(both_ptr, both_block, &[], no, &[]);
        self.b.switch_to_block(both_block);
        let bits_a = self.load(a, BITS_OFFSET as i32);
        let bits_b = self.load(bv, BITS_OFFSET as i32);
        let diff = self.b.ins().bxor(bits_a, bits_b);
        let mask = (HASH_MASK << HASH_SHIFT) | (0xf << FORMAT_SHIFT);
        let diff = self.b.ins().band_imm_s(diff, mask as i64);
        let alike = self.b.ins().icmp_imm_s(IntCC::Equal, diff, 0);
        self.b.ins().brif(alike, slow, &[], no, &[]);
        self.b.switch_to_block(no);
        let false_ = self.b.ins().iconst(types::I8, 0);
        self.answer_boolean(false_, d - 2);
        Next::Done
    }

    /// `not`: on a Boolean. Stack: b → Boolean.
    pub(super) fn op_not(&mut self, ic: u32) -> Next {
        let d = self.m.cur.depth;
        let send = self.send_block(0, ic);
        let v = self.get(d - 1);
        let t = self.konst(self.k.true_);
        let f = self.konst(self.k.false_);
        let is_t = self.b.ins().icmp(IntCC::Equal, v, t);
        let is_f = self.b.ins().icmp(IntCC::Equal, v, f);
        let is_bool = self.b.ins().bor(is_t, is_f);
        self.branch_or_continue_unless(is_bool, send);
        let r = self.b.ins().select(is_t, f, t);
        self.put(d - 1, r);
        Next::FallThrough
    }

    /// `at:`/`at:put:` on an Array with an index in range (the Array is
    /// answered by `at:put:`, as the primitive does). Stack: a i → v, or
    /// a i v → a.
    pub(super) fn op_at(&mut self, put: bool, ic: u32) -> Next {
        let d = self.m.cur.depth;
        let base = if put { d - 3 } else { d - 2 };
        let send = self.send_block(if put { 2 } else { 1 }, ic);
        let (array, index) = (self.get(base), self.get(base + 1));
        let is_ptr = self.is_pointer(array);
        self.branch_or_continue_unless(is_ptr, send);
        let class = self.load(array, CLASS_OFFSET as i32);
        let is_array = self.b.ins().icmp_imm_s(IntCC::Equal, class, self.k.classes.array as i64);
        let is_int = self.is_int(index);
        let ok = self.b.ins().band(is_array, is_int);
        self.branch_or_continue_unless(ok, send);
        let bits = self.load(array, BITS_OFFSET as i32);
        let size = self.b.ins().ushr_imm_u(bits, i64::from(SIZE_SHIFT));
        let i = self.untag(index);
        let i0 = self.b.ins().iadd_imm_s(i, -1);
        let in_range = self.b.ins().icmp(IntCC::UnsignedLessThan, i0, size);
        self.branch_or_continue_unless(in_range, send);
        let byte = self.b.ins().ishl_imm_u(i0, 3);
        let addr = self.b.ins().iadd(array, byte);
        if put {
            let v = self.get(d - 1);
            self.store(v, addr, BODY_OFFSET as i32);
            self.barrier(array, v);
            self.put(base, array);
        } else {
            let v = self.load(addr, BODY_OFFSET as i32);
            self.put(base, v);
        }
        Next::FallThrough
    }
}

//! Value tests and conversions in IR: tags, SmallIntegers, SmallFloats,
//! Booleans, the class of a value, the write barrier.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, types};
use vm::object::{BITS_OFFSET, CLASS_OFFSET, FLAG_IMAGE, FLAG_REMEMBERED};

use cranelift_frontend::FunctionBuilder;

use super::Translator;

impl Translator<'_> {
    pub(super) fn is_int(&mut self, v: Value) -> Value {
        let tag = self.b.ins().band_imm_s(v, 1);
        self.b.ins().icmp_imm_s(IntCC::NotEqual, tag, 0)
    }

    pub(super) fn both_int(&mut self, a: Value, b: Value) -> Value {
        let both = self.b.ins().band(a, b);
        self.is_int(both)
    }

    pub(super) fn is_pointer(&mut self, v: Value) -> Value {
        let tag = self.b.ins().band_imm_s(v, 7);
        self.b.ins().icmp_imm_s(IntCC::Equal, tag, 0)
    }

    pub(super) fn is_small_float(&mut self, v: Value) -> Value {
        let tag = self.b.ins().band_imm_s(v, 7);
        self.b.ins().icmp_imm_s(IntCC::Equal, tag, 4)
    }

    /// The SmallInteger's value (arithmetic shift of the tag away).
    pub(super) fn untag(&mut self, v: Value) -> Value {
        self.b.ins().sshr_imm_s(v, 1)
    }

    /// The SmallInteger for `i` (which must fit).
    pub(super) fn tag(&mut self, i: Value) -> Value {
        let shifted = self.b.ins().ishl_imm_u(i, 1);
        self.b.ins().bor_imm_s(shifted, 1)
    }

    /// The f64 a SmallFloat holds (see `vm::value`).
    pub(super) fn unbox_float(&mut self, v: Value) -> Value {
        unbox_float(&mut self.b, v)
    }

    /// The SmallFloat for `f`, and whether it has one.
    pub(super) fn box_float(&mut self, f: Value) -> (Value, Value) {
        let bits = self.b.ins().bitcast(types::I64, MemFlagsData::new(), f);
        let rotated = self.b.ins().rotl_imm_s(bits, 1);
        let rel = self.b.ins().iadd_imm_s(rotated, vm::value::FLOAT_LOWEST.wrapping_neg() as i64);
        let in_range = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, rel, vm::value::FLOAT_SPAN as i64);
        let zero = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThanOrEqual, rotated, 1);
        let ok = self.b.ins().bor(in_range, zero);
        let rebased = self.b.ins().iadd_imm_s(rotated, vm::value::FLOAT_BIAS.wrapping_neg() as i64);
        let payload = self.b.ins().select(zero, rotated, rebased);
        let v = self.b.ins().ishl_imm_u(payload, 3);
        let v = self.b.ins().bor_imm_s(v, vm::value::TAG_FLOAT as i64);
        (v, ok)
    }

    /// Answers the Boolean `cond` in operand slot `slot` (the current
    /// block ends): when the next bytecode branches on it, this branches
    /// on `cond` straight away, else it goes on at the next bytecode.
    pub(super) fn answer_boolean(&mut self, cond: Value, slot: u32) {
        if let Some(br) = self.m.cur.branch {
            let (yes, no) = if br.when_true { (br.target, br.fall) } else { (br.fall, br.target) };
            self.b.ins().brif(cond, yes, &[], no, &[]);
            return;
        }
        let r = self.boolean(cond);
        self.put(slot, r);
        let next = self.m.cur.next.expect("a Boolean is used");
        self.b.ins().jump(next, &[]);
    }

    pub(super) fn boolean(&mut self, cond: Value) -> Value {
        let t = self.konst(self.k.true_);
        let f = self.konst(self.k.false_);
        self.b.ins().select(cond, t, f)
    }

    /// The class of any value: Integer, Double and Character for the
    /// immediates, the class word for objects.
    pub(super) fn class_of(&mut self, v: Value) -> Value {
        let var = self.b.declare_var(types::I64);
        let ptr_block = self.b.create_block();
        let imm_block = self.b.create_block();
        let done = self.b.create_block();
        let is_ptr = self.is_pointer(v);
        self.b.ins().brif(is_ptr, ptr_block, &[], imm_block, &[]);
        self.b.switch_to_block(ptr_block);
        let c = self.load(v, CLASS_OFFSET as i32);
        self.b.def_var(var, c);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(imm_block);
        let is_int = self.is_int(v);
        let is_float = self.is_small_float(v);
        let integer = self.konst(self.k.classes.integer);
        let double = self.konst(self.k.classes.double);
        let character = self.konst(self.k.classes.character);
        let other = self.b.ins().select(is_float, double, character);
        let c = self.b.ins().select(is_int, integer, other);
        self.b.def_var(var, c);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
        self.b.use_var(var)
    }

    /// Calls the write barrier if `value` may be a young object, or if
    /// `target` is an image object not yet remembered (the collector does
    /// not trace image objects the program has not written to).
    pub(super) fn barrier(&mut self, target: Value, value: Value) {
        let rel = self.b.ins().iadd_imm_s(value, -(self.k.nursery_start as i64));
        let young = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, rel, self.k.nursery_len as i64);
        let target_rel = self.b.ins().iadd_imm_s(target, -(self.k.nursery_start as i64));
        let old_target =
            self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, target_rel, self.k.nursery_len as i64);
        let old_to_young = self.b.ins().band(young, old_target);
        let header = self.load(target, BITS_OFFSET as i32);
        let remembered = self.b.ins().band_imm_s(header, FLAG_REMEMBERED as i64);
        let not_remembered = self.b.ins().icmp_imm_s(IntCC::Equal, remembered, 0);
        let old_to_young = self.b.ins().band(old_to_young, not_remembered);
        let flags = self.b.ins().band_imm_s(header, (FLAG_IMAGE | FLAG_REMEMBERED) as i64);
        let unremembered_image = self.b.ins().icmp_imm_s(IntCC::Equal, flags, FLAG_IMAGE as i64);
        let needed = self.b.ins().bor(old_to_young, unremembered_image);
        let call = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().brif(needed, call, &[], done, &[]);
        self.b.switch_to_block(call);
        self.b.ins().call(self.k.barrier, &[self.interp, target, value]);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
    }
}

/// The f64 SmallFloat `v` holds (see `vm::value`): the payload, its
/// exponent rebased unless it is ±0.0, rotated back. (Meaningless, and
/// harmless, for other values.)
pub(super) fn unbox_float(b: &mut FunctionBuilder<'_>, v: Value) -> Value {
    let p = b.ins().ushr_imm_u(v, 3);
    let nonzero = b.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, p, 1);
    let biased = b.ins().iadd_imm_s(p, vm::value::FLOAT_BIAS as i64);
    let rotated = b.ins().select(nonzero, biased, p);
    let bits = b.ins().rotr_imm_s(rotated, 1);
    b.ins().bitcast(types::F64, MemFlagsData::new(), bits)
}

//! Primitive family: native fast paths of the data primitives hot programs
//! send most (bit operations and shifts of SmallIntegers, `Double>>sqrt`,
//! `Array>>length`, `String>>length`, `=` and `charAt:`, `Class>>new`, also
//! for a class known only at run time, and `new:`), for a send whose inline
//! cache found the primitive when the method was compiled, or a super send.
//! Where a fast path does not apply the primitive runs through
//! `mica_primitive` (and its failure is the send's slow path), as for every
//! other data primitive.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, InstBuilder, MemFlagsData, Value, types};
use vm::layout::*;
use vm::object::{BITS_OFFSET, BODY_OFFSET, Format, SIZE_SHIFT};
use vm::primitives::find;
use vm::value::Value as VmValue;

use crate::translate::Translator;

/// The data primitives with a native fast path, by number.
#[derive(Clone, Copy, Debug)]
pub struct NativePrimitives {
    and: [u64; 2],
    or: u64,
    xor: u64,
    shift_left: u64,
    shift_right_unsigned: u64,
    sqrt: u64,
    array_length: u64,
    string_length: u64,
    string_equal: u64,
    string_char_at: u64,
    class_new: u64,
    class_new_indexed: [u64; 2],
}

impl NativePrimitives {
    /// Looks the primitives up in the primitive table.
    pub fn new() -> NativePrimitives {
        let n = |class: &str, selector: &str| find(class, selector).map_or(0, u64::from);
        NativePrimitives {
            and: [n("Integer", "&"), n("Integer", "bitAnd:")],
            or: n("Integer", "bitOr:"),
            xor: n("Integer", "bitXor:"),
            shift_left: n("Integer", "<<"),
            shift_right_unsigned: n("Integer", ">>>"),
            sqrt: n("Double", "sqrt"),
            array_length: n("Array", "length"),
            string_length: n("String", "length"),
            string_equal: n("String", "="),
            string_char_at: n("String", "charAt:"),
            class_new: n("Class", "new"),
            class_new_indexed: [n("Class", "new:"), n("Array class", "new:")],
        }
    }
}

impl Default for NativePrimitives {
    fn default() -> Self {
        NativePrimitives::new()
    }
}

/// Arrays up to this many slots are made natively by `new:`.
const MAX_NATIVE_NEW: i64 = 64;

impl Translator<'_> {
    /// Runs data primitive `n` on the receiver and `argc` arguments, whose
    /// receiver is an instance of `class` (the class the inline cache
    /// held; `None`: not known): its native fast path where it has one,
    /// else (and where the fast path does not apply) `mica_primitive`; a
    /// failure is `slow`. The current block ends.
    pub(in crate::translate) fn run_primitive(&mut self, n: u64, argc: u32, class: Option<VmValue>, slow: ir::Block) {
        let general = self.b.create_block();
        if self.primitive_fast_path(n, argc, class, general) {
            self.b.switch_to_block(general);
        } else {
            self.b.ins().jump(general, &[]);
            self.b.switch_to_block(general);
        }
        let n = self.konst(n);
        self.call_primitive(n, argc, slow);
    }

    /// Emits the fast path of primitive `n` if it has one (answering true):
    /// its result goes to the receiver's slot and execution to the next
    /// bytecode; where it does not apply it branches to `general`.
    fn primitive_fast_path(&mut self, n: u64, argc: u32, class: Option<VmValue>, general: ir::Block) -> bool {
        let p = self.k.primitives;
        let base = self.m.cur.depth - argc - 1;
        let receiver = self.get(base);
        let result = if p.and.contains(&n) || n == p.or || n == p.xor {
            let arg = self.get(base + 1);
            let ints = self.both_int(receiver, arg);
            self.branch_or_continue_unless(ints, general);
            // On tagged SmallIntegers: the tag bit survives `&` and `|`.
            if n == p.or {
                self.b.ins().bor(receiver, arg)
            } else if n == p.xor {
                let x = self.b.ins().bxor(receiver, arg);
                self.b.ins().bor_imm_s(x, 1)
            } else {
                self.b.ins().band(receiver, arg)
            }
        } else if n == p.shift_left || n == p.shift_right_unsigned {
            let arg = self.get(base + 1);
            let ints = self.both_int(receiver, arg);
            self.branch_or_continue_unless(ints, general);
            let x = self.untag(receiver);
            let s = self.untag(arg);
            // Shifts by 0..=61 of non-negative receivers (others: the
            // primitive's business).
            let small = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, s, 62);
            let non_negative = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, x, 0);
            let ok = self.b.ins().band(small, non_negative);
            self.branch_or_continue_unless(ok, general);
            if n == p.shift_left {
                // No bit may be lost, tag included.
                let r = self.b.ins().ishl(x, s);
                let tagged = self.tag(r);
                let back = self.b.ins().sshr_imm_s(tagged, 1);
                let back = self.b.ins().sshr(back, s);
                let exact = self.b.ins().icmp(IntCC::Equal, back, x);
                self.branch_or_continue_unless(exact, general);
                tagged
            } else {
                let r = self.b.ins().ushr(x, s);
                self.tag(r)
            }
        } else if n == p.sqrt {
            let is_float = self.is_small_float(receiver);
            self.branch_or_continue_unless(is_float, general);
            let x = self.float_in(base, receiver);
            let r = self.b.ins().sqrt(x);
            let (v, ok) = self.box_float(r);
            self.branch_or_continue_unless(ok, general);
            self.put_shadowed(base, v, Some(r));
            let next = self.m.cur.next.expect("a send has a successor");
            self.b.ins().jump(next, &[]);
            return true;
        } else if n == p.array_length || n == p.string_length {
            let is_ptr = self.is_pointer(receiver);
            self.branch_or_continue_unless(is_ptr, general);
            let format = self.format_of(receiver);
            // Arrays, and strings known to be ASCII, count their size.
            let expected = if n == p.array_length { Format::Array } else { Format::Ascii };
            let ok = self.b.ins().icmp_imm_s(IntCC::Equal, format, expected as i64);
            self.branch_or_continue_unless(ok, general);
            let bits = self.load(receiver, BITS_OFFSET as i32);
            let size = self.b.ins().ushr_imm_u(bits, i64::from(SIZE_SHIFT));
            self.tag(size)
        } else if n == p.string_char_at {
            // An ASCII string's character: a new one-byte String.
            let index = self.get(base + 1);
            let is_ptr = self.is_pointer(receiver);
            let is_int = self.is_int(index);
            let ok = self.b.ins().band(is_ptr, is_int);
            self.branch_or_continue_unless(ok, general);
            let format = self.format_of(receiver);
            let ascii = self.b.ins().icmp_imm_s(IntCC::Equal, format, Format::Ascii as i64);
            self.branch_or_continue_unless(ascii, general);
            let bits = self.load(receiver, BITS_OFFSET as i32);
            let size = self.b.ins().ushr_imm_u(bits, i64::from(SIZE_SHIFT));
            let i = self.untag(index);
            let at = self.b.ins().iadd_imm_s(i, -1);
            // 1 <= i <= size, as one unsigned comparison.
            let inside = self.b.ins().icmp(IntCC::UnsignedLessThan, at, size);
            self.branch_or_continue_unless(inside, general);
            let address = self.b.ins().iadd(receiver, at);
            let byte = self.b.ins().uload8(types::I64, MemFlagsData::trusted(), address, BODY_OFFSET as i32);
            let class = self.konst(self.k.classes.string);
            let one = self.konst(1);
            let s = self.alloc_sized(class, Format::Ascii, one, general);
            // The byte and zero padding in the one body word.
            self.store(byte, s, BODY_OFFSET as i32);
            s
        } else if n == p.string_equal {
            return self.string_equal(receiver, base, general);
        } else if n == p.class_new && class.is_none() {
            // A class known only at run time (`super new` in a class
            // method): the primitive was found through the receiver's
            // class, so the receiver is a class; its spec gives the shape.
            let is_ptr = self.is_pointer(receiver);
            self.branch_or_continue_unless(is_ptr, general);
            let spec = self.load(receiver, Self::field_offset(CLASS_SPEC));
            let bits = self.untag(spec);
            let format = self.b.ins().band_imm_u(bits, 0xff);
            let fields = self.b.ins().ushr_imm_u(bits, 8);
            let is_fields = self.b.ins().icmp_imm_s(IntCC::Equal, format, Format::Fields as i64);
            let small = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThanOrEqual, fields, MAX_NATIVE_NEW);
            let ok = self.b.ins().band(is_fields, small);
            self.branch_or_continue_unless(ok, general);
            let object = self.alloc_sized(receiver, Format::Fields, fields, general);
            self.fill_nil(object, fields);
            object
        } else if n == p.class_new || p.class_new_indexed.contains(&n) {
            // The receiver is the one instance of the metaclass the cache
            // held: the class is known, and so are its instances' shape.
            let Some(class) = class.map(|meta| meta.slot(CLASS_COMPANION)).filter(|c| c.is_pointer()) else {
                return false;
            };
            let spec = vm::universe::Spec::decode(class.slot(CLASS_SPEC));
            // (Golden IR prints a placeholder for the class's address.)
            let class_value = self.konst(if self.k.symbolic { 0x6c00_0000 } else { class.bits() });
            if n == p.class_new && spec.format == Format::Fields {
                let object = self.alloc(class_value, Format::Fields, spec.fields, general);
                let nil = self.konst(self.k.nil);
                for i in 0..spec.fields {
                    self.store(nil, object, Self::field_offset(i));
                }
                object
            } else if p.class_new_indexed.contains(&n) && spec.format == Format::Array {
                let count = self.get(base + 1);
                let is_int = self.is_int(count);
                self.branch_or_continue_unless(is_int, general);
                let count = self.untag(count);
                let fits = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThanOrEqual, count, MAX_NATIVE_NEW);
                self.branch_or_continue_unless(fits, general);
                let array = self.alloc_sized(class_value, Format::Array, count, general);
                self.fill_nil(array, count);
                array
            } else {
                return false;
            }
        } else {
            return false;
        };
        self.put(base, result);
        let next = self.m.cur.next.expect("a send has a successor");
        self.b.ins().jump(next, &[]);
        true
    }

    /// `String>>=` on a string: identical, or both strings of one size
    /// and the same bytes (a leaf call, which cannot collect).
    fn string_equal(&mut self, receiver: Value, base: u32, general: ir::Block) -> bool {
        let arg = self.get(base + 1);
        let is_ptr = self.is_pointer(receiver);
        self.branch_or_continue_unless(is_ptr, general);
        let bytes_format = |t: &mut Self, v: Value| {
            let format = t.format_of(v);
            let ascii = t.b.ins().icmp_imm_s(IntCC::Equal, format, Format::Ascii as i64);
            let bytes = t.b.ins().icmp_imm_s(IntCC::Equal, format, Format::Bytes as i64);
            let symbol = t.b.ins().icmp_imm_s(IntCC::Equal, format, Format::Symbol as i64);
            let either = t.b.ins().bor(ascii, bytes);
            t.b.ins().bor(either, symbol)
        };
        let is_string = bytes_format(self, receiver);
        self.branch_or_continue_unless(is_string, general);
        let result = self.b.declare_var(types::I64);
        let done = self.b.create_block();
        let f = self.konst(self.k.false_);
        self.b.def_var(result, f);
        // Not a string: false (as the primitive answers).
        let arg_ptr = self.is_pointer(arg);
        let arg_block = self.b.create_block();
        self.b.ins().brif(arg_ptr, arg_block, &[], done, &[]);
        self.b.switch_to_block(arg_block);
        let arg_string = bytes_format(self, arg);
        let sizes_block = self.b.create_block();
        self.b.ins().brif(arg_string, sizes_block, &[], done, &[]);
        self.b.switch_to_block(sizes_block);
        let size_a = self.load(receiver, BITS_OFFSET as i32);
        let size_a = self.b.ins().ushr_imm_u(size_a, i64::from(SIZE_SHIFT));
        let size_b = self.load(arg, BITS_OFFSET as i32);
        let size_b = self.b.ins().ushr_imm_u(size_b, i64::from(SIZE_SHIFT));
        let same_size = self.b.ins().icmp(IntCC::Equal, size_a, size_b);
        let compare = self.b.create_block();
        self.b.ins().brif(same_size, compare, &[], done, &[]);
        self.b.switch_to_block(compare);
        // Up to a word: the first words, compared over `size` bytes (the
        // body is whole words).
        let t = self.konst(self.k.true_);
        let short = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThanOrEqual, size_a, 8);
        let word = self.b.create_block();
        let long = self.b.create_block();
        self.b.ins().brif(short, word, &[], long, &[]);
        self.b.switch_to_block(word);
        let wa = self.load(receiver, BODY_OFFSET as i32);
        let wb = self.load(arg, BODY_OFFSET as i32);
        let diff = self.b.ins().bxor(wa, wb);
        // The low `size` bytes: all ones shifted right by 64 - 8 * size
        // (for size 0, a shift by 64 would wrap: no bytes, equal).
        let bits = self.b.ins().ishl_imm_u(size_a, 3);
        let sixty_four = self.konst(64);
        let unused = self.b.ins().isub(sixty_four, bits);
        let ones = self.konst(u64::MAX);
        let mask = self.b.ins().ushr(ones, unused);
        let empty = self.b.ins().icmp_imm_s(IntCC::Equal, size_a, 0);
        let zero = self.konst(0);
        let mask = self.b.ins().select(empty, zero, mask);
        let diff = self.b.ins().band(diff, mask);
        let equal = self.b.ins().icmp_imm_s(IntCC::Equal, diff, 0);
        let r = self.b.ins().select(equal, t, f);
        self.b.def_var(result, r);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(long);
        let call = self.b.ins().call(self.k.bytes_equal, &[receiver, arg]);
        let equal = self.b.inst_results(call)[0];
        let r = self.b.ins().select(equal, t, f);
        self.b.def_var(result, r);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
        let r = self.b.use_var(result);
        self.put(base, r);
        let next = self.m.cur.next.expect("a send has a successor");
        self.b.ins().jump(next, &[]);
        true
    }

    /// Stores nil in the first `count` slots of `object`.
    fn fill_nil(&mut self, object: Value, count: Value) {
        let nil = self.konst(self.k.nil);
        let head = self.b.create_block();
        let body = self.b.create_block();
        let exit = self.b.create_block();
        let i = self.b.append_block_param(head, types::I64);
        let zero = self.konst(0);
        self.b.ins().jump(head, &[zero.into()]);
        self.b.switch_to_block(head);
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, i, count);
        self.b.ins().brif(more, body, &[], exit, &[]);
        self.b.switch_to_block(body);
        let offset = self.b.ins().ishl_imm_u(i, vm::object::WORD_SHIFT);
        let address = self.b.ins().iadd(object, offset);
        self.store(nil, address, Self::field_offset(0));
        let next = self.b.ins().iadd_imm_s(i, 1);
        self.b.ins().jump(head, &[next.into()]);
        self.b.switch_to_block(exit);
    }
}

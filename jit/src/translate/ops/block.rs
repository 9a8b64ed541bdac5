//! Blocks and contexts: closures, brace arrays and contexts are allocated
//! natively (the memory manager's bump-pointer fast path, inlined); when
//! the nursery is full the interpreter allocates (and may collect).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, InstBuilder, MemFlagsData, Value};
use interp::frame::*;
use vm::layout::*;
use vm::object::{BITS_OFFSET, CLASS_OFFSET, FORMAT_SHIFT, Format, HASH_SHIFT, HEADER_WORDS, SIZE_SHIFT};

use crate::translate::{Next, Translator};

impl Translator<'_> {
    /// Allocates a pointer object of `size` slots (known at compile time)
    /// of `class` and `format` in the nursery, header written, slots not
    /// yet; branches to `slow` when the nursery has no room (or inline
    /// allocation is off).
    pub(super) fn alloc(&mut self, class: Value, format: Format, size: usize, slow: ir::Block) -> Value {
        let size = self.konst(size as u64);
        self.alloc_sized(class, format, size, slow)
    }

    /// As [`alloc`](Self::alloc), of `size` slots known at run time (small
    /// enough for the nursery: the caller bounds it).
    pub(super) fn alloc_sized(&mut self, class: Value, format: Format, size: Value, slow: ir::Block) -> Value {
        if self.k.no_inline_allocation {
            self.b.ins().jump(slow, &[]);
            let dead = self.b.create_block();
            self.b.switch_to_block(dead);
            return self.konst(0);
        }
        let l = self.k.layout;
        let words = self.b.ins().iadd_imm_s(size, HEADER_WORDS as i64);
        let bytes = self.b.ins().ishl_imm_u(words, vm::object::WORD_SHIFT);
        let top = self.load(self.interp, l.heap_top);
        let new_top = self.b.ins().iadd(top, bytes);
        let end = self.load(self.interp, l.heap_end);
        let full = self.b.ins().icmp(IntCC::UnsignedGreaterThan, new_top, end);
        self.branch_or_continue(full, slow);
        self.store(new_top, self.interp, l.heap_top);
        // The identity hash: the heap's xorshift32 generator.
        let flags = MemFlagsData::trusted();
        let x = self.b.ins().uload32(flags, self.interp, l.next_hash);
        let x = {
            let s = self.b.ins().ishl_imm_u(x, 13);
            let x = self.b.ins().bxor(x, s);
            let x = self.b.ins().band_imm_u(x, 0xffff_ffff);
            let s = self.b.ins().ushr_imm_u(x, 17);
            let x = self.b.ins().bxor(x, s);
            let s = self.b.ins().ishl_imm_u(x, 5);
            let x = self.b.ins().bxor(x, s);
            self.b.ins().band_imm_u(x, 0xffff_ffff)
        };
        self.b.ins().istore32(flags, x, self.interp, l.next_hash);
        let hash = self.b.ins().band_imm_u(x, 0xff_ffff);
        let hash = self.b.ins().ishl_imm_u(hash, i64::from(HASH_SHIFT));
        let size_bits = self.b.ins().ishl_imm_u(size, i64::from(SIZE_SHIFT));
        let bits = self.b.ins().bor(hash, size_bits);
        let bits = self.b.ins().bor_imm_u(bits, ((format as u64) << FORMAT_SHIFT) as i64);
        self.store(class, top, CLASS_OFFSET as i32);
        self.store(bits, top, BITS_OFFSET as i32);
        top
    }

    /// `MakeBlock block`: a closure over `self` and the current context.
    /// Stack: → closure.
    pub(super) fn op_make_block(&mut self, block: u32) -> Next {
        let slow = self.slow_block();
        let arity = self.m.s.block_arities[&block] as usize;
        let class = self.konst(self.k.classes.blocks[arity.min(3)]);
        let closure = self.alloc(class, Format::Closure, CLOSURE_SIZE, slow);
        let code = self.konst(self.m.s.literals[block as usize]);
        self.store(code, closure, Self::field_offset(CLOSURE_CODE));
        let receiver = self.self_value();
        self.store(receiver, closure, Self::field_offset(CLOSURE_RECEIVER));
        let context = self.load(self.m.frame, offsets::CONTEXT);
        self.store(context, closure, Self::field_offset(CLOSURE_CONTEXT));
        self.put(self.m.cur.depth, closure);
        Next::FallThrough
    }

    /// `MakeArray count`: an Array of the top `count` values, the deepest
    /// first. Stack: v1 .. vn → array.
    pub(super) fn op_make_array(&mut self, count: u32) -> Next {
        let d = self.m.cur.depth;
        let slow = self.slow_block();
        let class = self.konst(self.k.classes.array);
        let array = self.alloc(class, Format::Array, count as usize, slow);
        for i in 0..count {
            let v = self.get(d - count + i);
            self.store(v, array, Self::field_offset(i as usize));
        }
        self.put(d - count, array);
        Next::FallThrough
    }

    /// `PushContext size`: a context of `size` nil slots whose parent is
    /// the current one becomes current; the first context of a method with
    /// non-local returns records its frame.
    pub(super) fn op_push_context(&mut self, size: u32) -> Next {
        let slow = self.slow_block();
        let class = self.konst(self.k.classes.context);
        let ctx = self.alloc(class, Format::Context, CONTEXT_FIXED + size as usize, slow);
        let parent = self.load(self.m.frame, offsets::CONTEXT);
        self.store(parent, ctx, Self::field_offset(CONTEXT_PARENT));
        let nil = self.konst(self.k.nil);
        let home_frame = if self.m.s.home {
            let top = self.b.ins().icmp_imm_s(IntCC::Equal, parent, self.k.nil as i64);
            let fp = self.fp();
            let fp = self.tag(fp);
            self.b.ins().select(top, fp, nil)
        } else {
            nil
        };
        self.store(home_frame, ctx, Self::field_offset(CONTEXT_HOME_FRAME));
        for i in 0..size as usize {
            self.store(nil, ctx, Self::field_offset(CONTEXT_FIXED + i));
        }
        self.store(ctx, self.m.frame, offsets::CONTEXT);
        Next::FallThrough
    }

    /// `PopContext`: the parent context becomes current.
    pub(super) fn op_pop_context(&mut self) -> Next {
        let ctx = self.load(self.m.frame, offsets::CONTEXT);
        let parent = self.load(ctx, Self::field_offset(CONTEXT_PARENT));
        self.store(parent, self.m.frame, offsets::CONTEXT);
        Next::FallThrough
    }
}

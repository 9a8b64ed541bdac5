//! Send family: sends through the targets the inline cache held at compile
//! time (frameless methods inline, natively implemented primitives inline,
//! other methods called natively), then through the inline cache itself,
//! read at run time (its entries are data: class, method, cell; hits are
//! counted), then through the interpreter (`mica_step`, which also calls a
//! compiled callee natively). Super sends call the method the lookup found
//! at compile time. `value`, `value:`, `value:with:` on a closure call its
//! block natively.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value, types};
use vm::layout::*;
use vm::runtime::{Trivial, code_cell, ic_layout, trivial_kind};

use crate::translate::calls::{CalleeFrame, Cell};
use crate::translate::{InlineTarget, Next, TargetKind, Translator};

/// Inline-cache entries native code compares: all of them (megamorphic
/// sites are the interpreter's).
const NATIVE_PROBES: i32 = vm::runtime::IC_POLYMORPHIC_LIMIT as i32;

impl Translator<'_> {
    /// `Send selector argc ic`. Stack: rcv args → result.
    pub(super) fn op_send(&mut self, argc: u32, ic: u32) -> Next {
        self.generic_send(argc, ic)
    }

    /// A send of `argc` arguments through inline cache `ic` (see the module
    /// documentation); its slow path is the interpreter's.
    pub(super) fn generic_send(&mut self, argc: u32, ic: u32) -> Next {
        let cur = self.m.cur;
        let base = cur.depth - argc - 1;
        let slow = self.slow_block();
        let receiver = self.get(base);
        // One call sequence per site, for every method found: the cell and
        // method arrive in variables.
        let cell_var = self.b.declare_var(types::I64);
        let method_var = self.b.declare_var(types::I64);
        let call = self.b.create_block();
        let class = self.class_of(receiver);
        let targets: Vec<InlineTarget> = self.m.s.targets.get(&cur.pc).cloned().unwrap_or_default();
        let mut calls = false;
        let targets_known = targets.len();
        for (index, target) in targets.into_iter().enumerate() {
            let hit = self.b.ins().icmp_imm_s(IntCC::Equal, class, target.class as i64);
            let hit = self.guard(hit);
            let run = self.b.create_block();
            let next = self.b.create_block();
            self.b.ins().brif(hit, run, &[], next, &[]);
            self.b.switch_to_block(run);
            match target.kind {
                TargetKind::Trivial(trivial) => self.run_trivial(trivial, receiver, base),
                TargetKind::Primitive(n) => self.run_primitive(n, argc, Some(target.keep[0]), slow),
                TargetKind::Call { method, .. } if self.m.s.inlines.contains_key(&(cur.pc, index)) => {
                    self.count_hit(ic);
                    let callee = self.m.s.inlines[&(cur.pc, index)].clone();
                    let frame = self.method_frame(method, receiver);
                    self.inline_call(&callee, frame, argc, slow);
                }
                TargetKind::Call { method, cell, frame_words } => {
                    // Called straight: the cell is known, so is the frame.
                    self.count_hit(ic);
                    let method = self.konst(method);
                    let nil = self.konst(self.k.nil);
                    let frame = CalleeFrame { method, receiver, context: nil, closure: nil };
                    self.call_cell(Cell::Known { address: cell, frame_words }, frame, slow);
                }
            }
            self.b.switch_to_block(next);
        }
        // A site the cache knew when this was compiled leaves other classes
        // to the interpreter (which compiles the method again if that keeps
        // happening: `Interpreter::note_native_send_exit`); a site not run
        // before reads the inline cache at run time; misses and megamorphic
        // sites are the interpreter's.
        let cache = self.konst(self.m.s.ics[ic as usize]);
        let probe = targets_known == 0 && !self.m.s.megamorphic.contains(&cur.pc);
        if probe {
            // A hit passes the entry's offset to one block that reads it.
            let found = self.b.create_block();
            let offset = self.b.append_block_param(found, types::I64);
            for i in 0..NATIVE_PROBES {
                let entry = ic_layout::ENTRIES + i * ic_layout::ENTRY;
                let c = self.load(cache, entry + ic_layout::CLASS);
                let hit = self.b.ins().icmp(IntCC::Equal, c, class);
                let hit = self.guard(hit);
                let next = self.b.create_block();
                let at = self.konst(entry as u64);
                self.b.ins().brif(hit, found, &[at.into()], next, &[]);
                self.b.switch_to_block(next);
            }
            self.b.ins().jump(slow, &[]);
            self.b.switch_to_block(found);
            let address = self.b.ins().iadd(cache, offset);
            let cell = self.load(address, ic_layout::CELL);
            self.b.def_var(cell_var, cell);
            let method = self.load(address, ic_layout::METHOD);
            self.b.def_var(method_var, method);
            self.b.ins().jump(call, &[]);
            calls = true;
        } else {
            self.b.ins().jump(slow, &[]);
        }
        if !calls {
            return Next::Done;
        }
        self.b.switch_to_block(call);
        self.count_hit(ic);
        let cell = self.b.use_var(cell_var);
        let no_cell = self.b.ins().icmp_imm_s(IntCC::Equal, cell, 0);
        self.branch_or_continue(no_cell, slow);
        self.run_trivial_cell(cell, receiver, argc, base, slow);
        let method = self.b.use_var(method_var);
        let nil = self.konst(self.k.nil);
        let frame = CalleeFrame { method, receiver, context: nil, closure: nil };
        self.call_cell_or_primitive(Cell::Loaded(cell), frame, argc, slow);
        Next::Done
    }

    /// Counts a hit of inline cache `ic`.
    fn count_hit(&mut self, ic: u32) {
        let cache = self.konst(self.m.s.ics[ic as usize]);
        let hits = self.load(cache, ic_layout::HITS);
        let more = self.b.ins().iadd_imm_s(hits, 1);
        self.store(more, cache, ic_layout::HITS);
    }

    /// A frameless method, inline, for the receiver in slot `base` (the
    /// current block ends).
    fn run_trivial(&mut self, trivial: Trivial, receiver: Value, base: u32) {
        let cur = self.m.cur;
        let result = match trivial {
            Trivial::Getter(i) => self.load(receiver, Self::field_offset(i as usize)),
            Trivial::Setter(i) => {
                let v = self.get(cur.depth - 1);
                self.store(v, receiver, Self::field_offset(i as usize));
                self.barrier(receiver, v);
                receiver
            }
            Trivial::ReturnSelf => receiver,
            Trivial::Constant(c) => self.konst(c.bits()),
            Trivial::No => unreachable!("only frameless targets are trivial"),
        };
        self.put(base, result);
        let next = self.m.cur.next.expect("a send has a successor");
        self.b.ins().jump(next, &[]);
    }

    /// A frameless method found at run time, inline, as its cell describes
    /// it (see `vm::runtime::Trivial::word`); other methods continue in a
    /// fresh block.
    fn run_trivial_cell(
        &mut self,
        cell: Value,
        receiver: Value,
        argc: u32,
        base: u32,
        slow: cranelift_codegen::ir::Block,
    ) {
        let word = self.load(cell, code_cell::TRIVIAL);
        let frame_needed = self.b.create_block();
        let frameless = self.b.create_block();
        self.b.ins().brif(word, frameless, &[], frame_needed, &[]);
        self.b.switch_to_block(frameless);
        let kind = self.b.ins().band_imm_s(word, 0xff);
        let result = self.b.declare_var(types::I64);
        let done = self.b.create_block();
        let not_self = self.b.create_block();
        self.b.def_var(result, receiver);
        let is_self = self.b.ins().icmp_imm_s(IntCC::Equal, kind, trivial_kind::RETURN_SELF as i64);
        self.b.ins().brif(is_self, done, &[], not_self, &[]);
        self.b.switch_to_block(not_self);
        let constant = self.load(cell, code_cell::CONSTANT);
        self.b.def_var(result, constant);
        let is_constant = self.b.ins().icmp_imm_s(IntCC::Equal, kind, trivial_kind::CONSTANT as i64);
        let field_block = self.b.create_block();
        self.b.ins().brif(is_constant, done, &[], field_block, &[]);
        self.b.switch_to_block(field_block);
        // A getter or setter: the field's offset in the receiver. The kind
        // says which: a getter may take arguments (`at: i = ( ^f )`), which
        // it ignores.
        let index = self.b.ins().ushr_imm_u(word, 8);
        let offset = self.b.ins().ishl_imm_u(index, vm::object::WORD_SHIFT);
        let address = self.b.ins().iadd(receiver, offset);
        let getter = self.b.create_block();
        let setter = self.b.create_block();
        let is_getter = self.b.ins().icmp_imm_s(IntCC::Equal, kind, trivial_kind::GETTER as i64);
        self.b.ins().brif(is_getter, getter, &[], setter, &[]);
        self.b.switch_to_block(getter);
        let value = self.load(address, Self::field_offset(0));
        self.b.def_var(result, value);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(setter);
        if argc == 1 {
            let value = self.get(base + 1);
            self.store(value, address, Self::field_offset(0));
            self.barrier(receiver, value);
            self.b.def_var(result, receiver);
            self.b.ins().jump(done, &[]);
        } else {
            // A setter takes exactly one argument (this is not reached).
            self.b.ins().jump(slow, &[]);
        }
        self.b.switch_to_block(done);
        let value = self.b.use_var(result);
        self.put(base, value);
        let next = self.m.cur.next.expect("a send has a successor");
        self.b.ins().jump(next, &[]);
        self.b.switch_to_block(frame_needed);
    }

    /// `SuperSend selector argc ic`: calls the method the lookup above the
    /// holder found at compile time. Stack: rcv args → result.
    pub(super) fn op_super_send(&mut self, argc: u32) -> Next {
        let cur = self.m.cur;
        let Some((kind, _)) = self.m.s.supers.get(&cur.pc).copied() else { return self.step() };
        let base = cur.depth - argc - 1;
        let slow = self.slow_block();
        let receiver = self.get(base);
        match kind {
            TargetKind::Trivial(trivial) => self.run_trivial(trivial, receiver, base),
            TargetKind::Primitive(n) => self.run_primitive(n, argc, None, slow),
            TargetKind::Call { method, .. } if self.m.s.inlines.contains_key(&(cur.pc, 0)) => {
                let callee = self.m.s.inlines[&(cur.pc, 0)].clone();
                let frame = self.method_frame(method, receiver);
                self.inline_call(&callee, frame, argc, slow);
            }
            TargetKind::Call { method, cell, frame_words } => {
                let frame = self.method_frame(method, receiver);
                self.call_cell(Cell::Known { address: cell, frame_words }, frame, slow);
            }
        }
        Next::Done
    }

    /// The frame header of method `method` sent to `receiver`.
    fn method_frame(&mut self, method: u64, receiver: Value) -> CalleeFrame {
        let method = self.konst(method);
        let nil = self.konst(self.k.nil);
        CalleeFrame { method, receiver, context: nil, closure: nil }
    }

    /// The frame header of the block of `closure`, as `value` gives it.
    fn block_frame(&mut self, closure: Value) -> CalleeFrame {
        let method = self.load(closure, Self::field_offset(CLOSURE_CODE));
        let receiver = self.load(closure, Self::field_offset(CLOSURE_RECEIVER));
        let context = self.load(closure, Self::field_offset(CLOSURE_CONTEXT));
        CalleeFrame { method, receiver, context, closure }
    }

    /// `value`, `value:`, `value:with:`: a closure the code saw made (see
    /// `Survey::block_inlines`) runs its block inline; another closure of
    /// that arity calls its block natively once the block has native code;
    /// otherwise the send goes on as any other. Stack: closure args →
    /// result.
    pub(super) fn op_value(&mut self, argc: u32, ic: u32) -> Next {
        let cur = self.m.cur;
        let base = cur.depth - argc - 1;
        if let Some(block) = self.m.s.block_inlines.get(&cur.pc).cloned() {
            // The closure is one the code saw made (`Origin`): its block
            // runs inline, no test needed. (The slow block is made before
            // the current block has code.)
            let slow = self.slow_block();
            let closure = self.get(base);
            let frame = self.block_frame(closure);
            self.inline_call(&block, frame, argc, slow);
            return Next::Done;
        }
        let closure = self.get(base);
        let send = self.b.create_block();
        let is_ptr = self.is_pointer(closure);
        self.branch_or_continue_unless(is_ptr, send);
        let class = self.load(closure, vm::object::CLASS_OFFSET as i32);
        let is_block = self.b.ins().icmp_imm_s(IntCC::Equal, class, self.k.classes.blocks[argc as usize] as i64);
        self.branch_or_continue_unless(is_block, send);
        let frame = self.block_frame(closure);
        let tagged_cell = self.load(frame.method, Self::field_offset(METHOD_CELL));
        let cell = self.b.ins().band_imm_s(tagged_cell, -2);
        self.call_cell(Cell::Loaded(cell), frame, send);
        self.b.switch_to_block(send);
        self.generic_send(argc, ic)
    }

    /// Continues in a fresh block if `cond`, else branches to `other`.
    pub(in crate::translate) fn branch_or_continue_unless(&mut self, cond: Value, other: cranelift_codegen::ir::Block) {
        let cont = self.b.create_block();
        self.b.ins().brif(cond, cont, &[], other, &[]);
        self.b.switch_to_block(cont);
        // Its one predecessor is known.
        self.b.seal_block(cont);
    }
}

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
use vm::runtime::{Trivial, ic_layout};

use crate::translate::calls::{CalleeFrame, Cell};
use crate::translate::{InlineTarget, Next, TargetKind, Translator};

/// Inline-cache entries native code compares (monomorphic and two-way
/// polymorphic sites; the interpreter takes the others).
const NATIVE_PROBES: i32 = 2;

impl Translator<'_, '_> {
    /// `Send selector argc ic`. Stack: rcv args → result.
    pub(super) fn op_send(&mut self, argc: u32, ic: u32) -> Next {
        self.generic_send(argc, ic)
    }

    /// A send of `argc` arguments through inline cache `ic` (see the module
    /// documentation); its slow path is the interpreter's.
    pub(super) fn generic_send(&mut self, argc: u32, ic: u32) -> Next {
        let cur = self.cur;
        let base = cur.depth - argc - 1;
        let slow = self.slow_block();
        let receiver = self.get(base);
        // One call sequence per site, for every method found: the cell and
        // method arrive in variables.
        let cell_var = self.b.declare_var(types::I64);
        let method_var = self.b.declare_var(types::I64);
        let call = self.b.create_block();
        let class = self.class_of(receiver);
        let targets: Vec<InlineTarget> = self.targets.get(&cur.pc).cloned().unwrap_or_default();
        let warm = !targets.is_empty();
        let mut calls = false;
        for target in targets {
            let hit = self.b.ins().icmp_imm_s(IntCC::Equal, class, target.class as i64);
            let run = self.b.create_block();
            let next = self.b.create_block();
            self.b.ins().brif(hit, run, &[], next, &[]);
            self.b.switch_to_block(run);
            match target.kind {
                TargetKind::Trivial(trivial) => self.run_trivial(trivial, receiver, base),
                TargetKind::Primitive(n) => self.run_primitive(n, argc, slow),
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
        // A site the cache knew when this was compiled (or found
        // megamorphic) leaves other classes to the interpreter; a site not
        // run yet reads the inline cache at run time: its first entries
        // (more classes than that, and misses, are the interpreter's).
        let cache = self.konst(self.ics[ic as usize]);
        let probe = !warm && !self.megamorphic.contains(&cur.pc);
        for i in 0..if probe { NATIVE_PROBES } else { 0 } {
            let entry = ic_layout::ENTRIES + i * ic_layout::ENTRY;
            let c = self.load(cache, entry + ic_layout::CLASS);
            let hit = self.b.ins().icmp(IntCC::Equal, c, class);
            let run = self.b.create_block();
            let next = self.b.create_block();
            self.b.ins().brif(hit, run, &[], next, &[]);
            self.b.switch_to_block(run);
            let cell = self.load(cache, entry + ic_layout::CELL);
            self.b.def_var(cell_var, cell);
            let method = self.load(cache, entry + ic_layout::METHOD);
            self.b.def_var(method_var, method);
            self.b.ins().jump(call, &[]);
            self.b.switch_to_block(next);
            calls = true;
        }
        self.b.ins().jump(slow, &[]);
        if !calls {
            return Next::Done;
        }
        self.b.switch_to_block(call);
        self.count_hit(ic);
        let cell = self.b.use_var(cell_var);
        let no_cell = self.b.ins().icmp_imm_s(IntCC::Equal, cell, 0);
        self.branch_or_continue(no_cell, slow);
        let method = self.b.use_var(method_var);
        let nil = self.konst(self.k.nil);
        let frame = CalleeFrame { method, receiver, context: nil, closure: nil };
        self.call_cell_or_primitive(Cell::Loaded(cell), frame, argc, slow);
        Next::Done
    }

    /// Counts a hit of inline cache `ic`.
    fn count_hit(&mut self, ic: u32) {
        let cache = self.konst(self.ics[ic as usize]);
        let hits = self.load(cache, ic_layout::HITS);
        let more = self.b.ins().iadd_imm_s(hits, 1);
        self.store(more, cache, ic_layout::HITS);
    }

    /// A frameless method, inline, for the receiver in slot `base` (the
    /// current block ends).
    fn run_trivial(&mut self, trivial: Trivial, receiver: Value, base: u32) {
        let cur = self.cur;
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
        let next = self.cur.next.expect("a send has a successor");
        self.b.ins().jump(next, &[]);
    }

    /// `SuperSend selector argc ic`: calls the method the lookup above the
    /// holder found at compile time. Stack: rcv args → result.
    pub(super) fn op_super_send(&mut self, argc: u32) -> Next {
        let cur = self.cur;
        let Some(kind) = self.supers.get(&cur.pc).copied() else { return self.step() };
        let base = cur.depth - argc - 1;
        let slow = self.slow_block();
        let receiver = self.get(base);
        match kind {
            TargetKind::Trivial(trivial) => self.run_trivial(trivial, receiver, base),
            TargetKind::Primitive(n) => self.run_primitive(n, argc, slow),
            TargetKind::Call { method, cell, frame_words } => {
                let method = self.konst(method);
                let nil = self.konst(self.k.nil);
                let frame = CalleeFrame { method, receiver, context: nil, closure: nil };
                self.call_cell(Cell::Known { address: cell, frame_words }, frame, slow);
            }
        }
        Next::Done
    }

    /// `value`, `value:`, `value:with:`: a closure of that arity calls its
    /// block natively once the block has native code; otherwise the send
    /// goes on as any other. Stack: closure args → result.
    pub(super) fn op_value(&mut self, argc: u32, ic: u32) -> Next {
        let cur = self.cur;
        let base = cur.depth - argc - 1;
        let closure = self.get(base);
        let send = self.b.create_block();
        let is_ptr = self.is_pointer(closure);
        self.branch_or_continue_unless(is_ptr, send);
        let class = self.load(closure, vm::object::CLASS_OFFSET as i32);
        let is_block = self.b.ins().icmp_imm_s(IntCC::Equal, class, self.k.classes.blocks[argc as usize] as i64);
        self.branch_or_continue_unless(is_block, send);
        let method = self.load(closure, Self::field_offset(CLOSURE_CODE));
        let tagged_cell = self.load(method, Self::field_offset(METHOD_CELL));
        let cell = self.b.ins().band_imm_s(tagged_cell, -2);
        let receiver = self.load(closure, Self::field_offset(CLOSURE_RECEIVER));
        let context = self.load(closure, Self::field_offset(CLOSURE_CONTEXT));
        let frame = CalleeFrame { method, receiver, context, closure };
        self.call_cell(Cell::Loaded(cell), frame, send);
        self.b.switch_to_block(send);
        self.generic_send(argc, ic)
    }

    /// Continues in a fresh block if `cond`, else branches to `other`.
    pub(in crate::translate) fn branch_or_continue_unless(&mut self, cond: Value, other: cranelift_codegen::ir::Block) {
        let cont = self.b.create_block();
        self.b.ins().brif(cond, cont, &[], other, &[]);
        self.b.switch_to_block(cont);
    }
}

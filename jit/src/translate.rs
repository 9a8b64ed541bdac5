//! Translation of one method's bytecode to Cranelift IR, one bytecode at a
//! time, on the interpreter's frame.
//!
//! The native function runs the activation at frame `fp` from any bytecode
//! offset: its entry block switches on the offset to the block of that
//! bytecode (so calls, returns and on-stack replacement all enter the same
//! way). Each bytecode reads and writes the frame in VM memory, at slots
//! whose positions are known statically (the verifier fixed every stack
//! depth), so the frame is the interpreter's at every bytecode boundary.
//! Bytecodes with a native fast path (arithmetic, comparisons, variables,
//! fields, globals, jumps, Array access) run natively; for all others — and
//! when a fast path does not apply — the code stores the stack pointer and
//! returns the bytecode's offset: the interpreter runs that bytecode (a
//! send, an allocation, a return) and comes back through the entry switch.

use std::collections::{BTreeMap, HashMap};

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, AbiParam, InstBuilder, JumpTableData, MemFlagsData, TrapCode, Value, types};
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use vm::bytecode::{Insn, instructions};
use vm::layout::*;
use vm::object::BODY_OFFSET;
use vm::universe::Universe;
use vm::value::Value as VmValue;

use interp::frame::*;

/// Addresses and constants the native code embeds.
pub struct Constants {
    /// The frame stack's first word.
    pub stack_base: u64,
    /// Offset of `Universe::sp`.
    pub sp_offset: i32,
    /// nil, true, false.
    pub nil: u64,
    /// true
    pub true_: u64,
    /// false
    pub false_: u64,
    /// The Array class.
    pub array_class: u64,
    /// Nursery bounds, for the write barrier's "is young" test.
    pub nursery_start: u64,
    /// Nursery size in bytes.
    pub nursery_len: u64,
    /// The write barrier's slow path.
    pub barrier: ir::FuncRef,
    /// The Integer class (the class of SmallIntegers).
    pub integer_class: u64,
    /// Offset of `Universe::jit_fp`.
    pub jit_fp_offset: i32,
    /// Offset of `Universe::native_depth`.
    pub depth_offset: i32,
    /// Words of frame stack.
    pub stack_words: u64,
    /// The signature of native code, for native calls.
    pub native_sig: ir::SigRef,
    /// Block1, Block2, Block3: the classes of closures of 0, 1, 2 arguments.
    pub block_classes: [u64; 3],
    /// Print-stable placeholders instead of addresses (for golden IR).
    pub symbolic: bool,
}

/// One bytecode: offset, decoded instruction, encoded length, stack depth
/// before it.
struct Op {
    pc: usize,
    insn: Insn,
    len: usize,
    depth: u32,
}

/// Decodes the method and computes the stack depth before each bytecode.
fn analyse(code: &[u8]) -> Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    let mut index = HashMap::new();
    for item in instructions(code) {
        let (pc, d) = item.map_err(|e| e.to_string())?;
        index.insert(pc, ops.len());
        ops.push(Op { pc, insn: d.insn, len: d.len, depth: u32::MAX });
    }
    if ops.is_empty() {
        return Err("no bytecode".into());
    }
    let mut work = vec![(0usize, 0u32)];
    while let Some((i, depth)) = work.pop() {
        if ops[i].depth != u32::MAX {
            continue;
        }
        ops[i].depth = depth;
        let op = &ops[i];
        let (pops, pushes) = op.insn.stack_effect();
        let after = depth.checked_sub(pops).ok_or("stack underflow")? + pushes;
        let flags = op.insn.opcode().flags();
        if let Some(target) = op.insn.jump_target(op.pc, op.len) {
            work.push((*index.get(&target).ok_or("bad jump")?, after));
        }
        let falls = !flags.contains(vm::bytecode::Flags::RETURN)
            && !matches!(op.insn, Insn::Jump { .. } | Insn::JumpBack { .. });
        if falls && i + 1 < ops.len() {
            work.push((i + 1, after));
        }
    }
    Ok(ops)
}

/// Native code returns this instead of a bytecode offset when the
/// activation it ran returned (its value is where its receiver was).
pub const RETURNED: u64 = vm::runtime::NATIVE_RETURNED;

/// Most native calls in progress at once; deeper sends go through the
/// interpreter, so native code cannot exhaust the native stack.
pub const MAX_NATIVE_DEPTH: i64 = 2000;

/// What a cached method is, for the code at its send site.
#[derive(Clone, Copy)]
enum TargetKind {
    /// Frameless: runs inline.
    Trivial(vm::runtime::Trivial),
    /// A method with a frame: called natively once it has native code.
    Call {
        /// The method.
        method: u64,
        /// Address of its native-code cell.
        cell: u64,
        /// Its temporaries.
        temps: u32,
        /// Its operand stack.
        max_stack: u32,
    },
}

/// A receiver class cached at a send site and what it found.
#[derive(Clone, Copy)]
struct InlineTarget {
    class: u64,
    kind: TargetKind,
}

/// The inline-cache targets of send site `ic` of record `rt` that can run
/// inline (all of them, or none).
fn inline_targets(u: &Universe, rt: usize, ic: u32, symbolic: bool) -> Vec<InlineTarget> {
    use vm::runtime::Trivial;
    let Some(cache) = u.runtime(rt).ics.get(ic as usize) else { return Vec::new() };
    if cache.megamorphic {
        return Vec::new();
    }
    let mut out = Vec::new();
    for entry in &cache.entries[..cache.len as usize] {
        if entry.method == u.nil() {
            return Vec::new();
        }
        // SAFETY: a cached method is a live method object, whose cell slot
        // holds the address of its cell.
        let index = unsafe { (*vm::runtime::cell_of_slot(entry.method.slot(METHOD_CELL))).runtime.get() };
        if index == 0 {
            return Vec::new();
        }
        let record = u.runtime(index as usize - 1);
        let info = record.info;
        let home = info.flags & vm::bytecode::CodeFlags::HOME_CONTEXT.bits() != 0;
        if info.primitive != 0 || info.missing_primitive || (info.trivial == Trivial::No && home) {
            return Vec::new();
        }
        let class = if symbolic { 0x6000_0000 + 8 * out.len() as u64 } else { entry.class.bits() };
        let kind = match info.trivial {
            Trivial::Constant(c) if symbolic && c.is_pointer() => {
                TargetKind::Trivial(Trivial::Constant(VmValue::from_bits(0x6800_0000)))
            }
            Trivial::No => TargetKind::Call {
                method: if symbolic { 0x6900_0000 } else { entry.method.bits() },
                cell: if symbolic { 0x6a00_0000 } else { record.cell.as_ptr() as u64 },
                temps: info.num_temps,
                max_stack: info.max_stack,
            },
            t => TargetKind::Trivial(t),
        };
        out.push(InlineTarget { class, kind });
    }
    out
}

/// Builds the function body for the method whose runtime record is `rt`;
/// answers whether it inlined send targets (and so depends on the method
/// dictionaries).
pub fn translate(
    u: &Universe,
    rt: usize,
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
    frontend: TargetFrontendConfig,
    make_constants: impl FnOnce(&mut ir::Function) -> Constants,
) -> Result<bool, String> {
    let info = u.runtime(rt).info;
    // SAFETY: `code` and `code_len` describe the method's bytecode (an
    // old-space ByteArray the method keeps alive).
    let code = unsafe { std::slice::from_raw_parts(info.code, info.code_len) };
    let ops = analyse(code)?;
    let k = make_constants(func);
    let targets: HashMap<usize, Vec<InlineTarget>> = ops
        .iter()
        .filter_map(|op| match op.insn {
            Insn::Send { ic, .. } => Some((op.pc, inline_targets(u, rt, ic, k.symbolic))),
            _ => None,
        })
        .filter(|(_, t)| !t.is_empty())
        .collect();
    let speculative = !targets.is_empty();
    let literals: Vec<u64> = (0..info.literals.size())
        .map(|i| {
            let v = info.literals.slot(i);
            if k.symbolic && v.is_pointer() { 0x7000_0000 + 8 * i as u64 } else { v.bits() }
        })
        .collect();
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    let blocks: BTreeMap<usize, ir::Block> = ops.iter().map(|op| (op.pc, b.create_block())).collect();
    let trap = b.create_block();

    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let (universe, fp, pc) = (params[0], params[1], params[2]);
    let frame = {
        let base = b.ins().iconst(types::I64, k.stack_base as i64);
        let offset = b.ins().ishl_imm_u(fp, 3);
        b.ins().iadd(base, offset)
    };
    // Temporaries and operand-stack slots live in SSA variables inside
    // native code (so values stay in registers across bytecodes); they are
    // read from the frame on entry and written back at every exit.
    let temp_vars: Vec<Variable> = (0..info.num_temps).map(|_| b.declare_var(types::I64)).collect();
    let slot_vars: Vec<Variable> = (0..info.max_stack).map(|_| b.declare_var(types::I64)).collect();
    for (i, &var) in temp_vars.iter().enumerate() {
        let v = b.ins().load(types::I64, MemFlagsData::trusted(), frame, ((FRAME_HEADER + i) * 8) as i32);
        b.def_var(var, v);
    }
    for (i, &var) in slot_vars.iter().enumerate() {
        let off = ((FRAME_HEADER + info.num_temps as usize + i) * 8) as i32;
        let v = b.ins().load(types::I64, MemFlagsData::trusted(), frame, off);
        b.def_var(var, v);
    }
    let trap_call = b.func.dfg.block_call(trap, &[]);
    let table: Vec<ir::BlockCall> = (0..code.len())
        .map(|p| {
            let target = blocks.get(&p).copied().unwrap_or(trap);
            b.func.dfg.block_call(target, &[])
        })
        .collect();
    let jt = b.create_jump_table(JumpTableData::new(trap_call, &table));
    let pc32 = b.ins().ireduce(types::I32, pc);
    b.ins().br_table(pc32, jt);

    b.switch_to_block(trap);
    b.ins().trap(TrapCode::unwrap_user(1));

    let temps = info.num_temps as i32;
    let num_args = info.num_args as i32;
    let mut t = Translator {
        b,
        k,
        universe,
        fp,
        frame,
        temps,
        num_args,
        blocks: &blocks,
        literals,
        pending_exits: Vec::new(),
        temp_vars,
        slot_vars,
        targets,
        home: info.flags & vm::bytecode::CodeFlags::HOME_CONTEXT.bits() != 0,
    };
    for (i, op) in ops.iter().enumerate() {
        let block = blocks[&op.pc];
        t.b.switch_to_block(block);
        if op.depth == u32::MAX {
            // Unreachable bytecode: leave it to the interpreter.
            t.exit(op.pc, 0);
            continue;
        }
        let next = ops.get(i + 1).map(|n| blocks[&n.pc]);
        t.op(op, next);
    }
    for (block, pc, depth) in std::mem::take(&mut t.pending_exits) {
        t.b.switch_to_block(block);
        t.exit(pc, depth);
    }
    t.b.seal_all_blocks();
    t.b.finalize(frontend);
    Ok(speculative)
}

struct Translator<'a, 'f> {
    b: FunctionBuilder<'f>,
    k: Constants,
    universe: Value,
    fp: Value,
    frame: Value,
    temps: i32,
    num_args: i32,
    blocks: &'a BTreeMap<usize, ir::Block>,
    literals: Vec<u64>,
    pending_exits: Vec<(ir::Block, usize, u32)>,
    temp_vars: Vec<Variable>,
    slot_vars: Vec<Variable>,
    targets: HashMap<usize, Vec<InlineTarget>>,
    /// The method makes a home context (its returns are the interpreter's).
    home: bool,
}

const W: i32 = 8;

impl Translator<'_, '_> {
    fn flags() -> MemFlagsData {
        MemFlagsData::trusted()
    }

    fn load(&mut self, addr: Value, offset: i32) -> Value {
        self.b.ins().load(types::I64, Self::flags(), addr, offset)
    }

    fn store(&mut self, v: Value, addr: Value, offset: i32) {
        self.b.ins().store(Self::flags(), v, addr, offset);
    }

    fn konst(&mut self, bits: u64) -> Value {
        self.b.ins().iconst(types::I64, bits as i64)
    }

    /// Byte offset from the frame of operand-stack slot `depth`.
    fn slot(&self, depth: u32) -> i32 {
        (FRAME_HEADER as i32 + self.temps + depth as i32) * W
    }

    fn get(&mut self, depth: u32) -> Value {
        self.b.use_var(self.slot_vars[depth as usize])
    }

    fn put(&mut self, depth: u32, v: Value) {
        self.b.def_var(self.slot_vars[depth as usize], v);
    }

    fn get_temp(&mut self, index: u32) -> Value {
        self.b.use_var(self.temp_vars[index as usize])
    }

    fn put_temp(&mut self, index: u32, v: Value) {
        self.b.def_var(self.temp_vars[index as usize], v);
    }

    fn field_offset(index: usize) -> i32 {
        BODY_OFFSET as i32 + index as i32 * W
    }

    /// Leaves the bytecode at `pc` to the interpreter: stores `sp` (the
    /// frame plus `depth` operands) and returns `pc`.
    fn exit(&mut self, pc: usize, depth: u32) {
        self.flush(depth);
        self.store(self.fp, self.universe, self.k.jit_fp_offset);
        let sp = self.b.ins().iadd_imm_s(self.fp, (FRAME_HEADER as i32 + self.temps + depth as i32) as i64);
        self.store(sp, self.universe, self.k.sp_offset);
        let pcv = self.konst(pc as u64);
        self.b.ins().return_(&[pcv]);
    }

    /// A block that exits at `pc` with `depth` operands (filled in at the
    /// end, so that no block is left half-filled).
    fn exit_block(&mut self, pc: usize, depth: u32) -> ir::Block {
        let block = self.b.create_block();
        self.pending_exits.push((block, pc, depth));
        block
    }

    fn goto(&mut self, target: Option<ir::Block>, pc: usize, depth: u32) {
        match target {
            Some(block) => {
                self.b.ins().jump(block, &[]);
            }
            // Falling off the end cannot happen in verified code; be safe.
            None => self.exit(pc, depth),
        }
    }

    /// Branches to `then` if `cond`, else continues in a fresh block.
    fn branch_or_continue(&mut self, cond: Value, then: ir::Block) {
        let cont = self.b.create_block();
        self.b.ins().brif(cond, then, &[], cont, &[]);
        self.b.switch_to_block(cont);
    }

    fn is_int(&mut self, v: Value) -> Value {
        let tag = self.b.ins().band_imm_s(v, 1);
        self.b.ins().icmp_imm_s(IntCC::NotEqual, tag, 0)
    }

    fn both_int(&mut self, a: Value, b: Value) -> Value {
        let both = self.b.ins().band(a, b);
        self.is_int(both)
    }

    fn is_small_float(&mut self, v: Value) -> Value {
        let tag = self.b.ins().band_imm_s(v, 7);
        self.b.ins().icmp_imm_s(IntCC::Equal, tag, 4)
    }

    /// The f64 a SmallFloat holds (see `vm::value`).
    fn unbox_float(&mut self, v: Value) -> Value {
        let p = self.b.ins().ushr_imm_u(v, 3);
        let sign = self.b.ins().ushr_imm_u(p, 60);
        let sign = self.b.ins().ishl_imm_u(sign, 63);
        let e8 = self.b.ins().ushr_imm_u(p, 52);
        let e8 = self.b.ins().band_imm_s(e8, 0xff);
        let m = self.b.ins().band_imm_u(p, (1 << 52) - 1);
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, e8, 0);
        let biased = self.b.ins().iadd_imm_s(e8, 896);
        let zero_c = self.konst(0);
        let e = self.b.ins().select(zero, zero_c, biased);
        let e = self.b.ins().ishl_imm_u(e, 52);
        let bits = self.b.ins().bor(sign, e);
        let bits = self.b.ins().bor(bits, m);
        self.b.ins().bitcast(types::F64, MemFlagsData::new(), bits)
    }

    /// The SmallFloat for `f`, and whether it has one.
    fn box_float(&mut self, f: Value) -> (Value, Value) {
        let bits = self.b.ins().bitcast(types::I64, MemFlagsData::new(), f);
        let sign = self.b.ins().ushr_imm_u(bits, 63);
        let e = self.b.ins().ushr_imm_u(bits, 52);
        let e = self.b.ins().band_imm_s(e, 0x7ff);
        let m = self.b.ins().band_imm_u(bits, (1 << 52) - 1);
        let e_zero = self.b.ins().icmp_imm_s(IntCC::Equal, e, 0);
        let m_zero = self.b.ins().icmp_imm_s(IntCC::Equal, m, 0);
        let zero = self.b.ins().band(e_zero, m_zero);
        let above = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, e, 896);
        let below = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, e, 896 + 255);
        let in_range = self.b.ins().band(above, below);
        let ok = self.b.ins().bor(zero, in_range);
        let e8 = self.b.ins().iadd_imm_s(e, -896);
        let zero_c = self.konst(0);
        let e8 = self.b.ins().select(zero, zero_c, e8);
        let sign = self.b.ins().ishl_imm_u(sign, 60);
        let e8 = self.b.ins().ishl_imm_u(e8, 52);
        let p = self.b.ins().bor(sign, e8);
        let p = self.b.ins().bor(p, m);
        let v = self.b.ins().ishl_imm_u(p, 3);
        let v = self.b.ins().bor_imm_s(v, 4);
        (v, ok)
    }

    /// Float fast path of a binary special send: when both operands are
    /// SmallFloats, computes `compute(x, y)` and jumps to `done` with it.
    /// Falls through (to the caller's exit) otherwise.
    fn float_path(&mut self, a: Value, bv: Value, result_depth: u32, done: ir::Block, out: ir::Block, insn: Insn) {
        let fa = self.is_small_float(a);
        let fb = self.is_small_float(bv);
        let both = self.b.ins().band(fa, fb);
        let floats = self.b.create_block();
        self.b.ins().brif(both, floats, &[], out, &[]);
        self.b.switch_to_block(floats);
        let x = self.unbox_float(a);
        let y = self.unbox_float(bv);
        let result = match insn {
            Insn::SendAdd { .. } => Some(self.b.ins().fadd(x, y)),
            Insn::SendSub { .. } => Some(self.b.ins().fsub(x, y)),
            Insn::SendMul { .. } => Some(self.b.ins().fmul(x, y)),
            Insn::SendDiv { .. } | Insn::SendFloorDiv { .. } => Some(self.b.ins().fdiv(x, y)),
            _ => None,
        };
        match result {
            Some(f) => {
                let (v, ok) = self.box_float(f);
                let store = self.b.create_block();
                self.b.ins().brif(ok, store, &[], out, &[]);
                self.b.switch_to_block(store);
                self.put(result_depth, v);
            }
            None => {
                use cranelift_codegen::ir::condcodes::FloatCC;
                let cc = match insn {
                    Insn::SendLt { .. } => FloatCC::LessThan,
                    Insn::SendGt { .. } => FloatCC::GreaterThan,
                    Insn::SendLe { .. } => FloatCC::LessThanOrEqual,
                    Insn::SendGe { .. } => FloatCC::GreaterThanOrEqual,
                    Insn::SendEq { .. } => FloatCC::Equal,
                    _ => FloatCC::NotEqual,
                };
                let c = self.b.ins().fcmp(cc, x, y);
                let r = self.boolean(c);
                self.put(result_depth, r);
            }
        }
        self.b.ins().jump(done, &[]);
    }

    fn boolean(&mut self, cond: Value) -> Value {
        let t = self.konst(self.k.true_);
        let f = self.konst(self.k.false_);
        self.b.ins().select(cond, t, f)
    }

    /// Calls the write barrier if `value` may be a young object, or if
    /// `target` is an image object not yet remembered (the collector does
    /// not trace image objects the program has not written to).
    fn barrier(&mut self, target: Value, value: Value) {
        use vm::object::{BITS_OFFSET, FLAG_IMAGE, FLAG_REMEMBERED};
        let rel = self.b.ins().iadd_imm_s(value, -(self.k.nursery_start as i64));
        let young = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, rel, self.k.nursery_len as i64);
        let header = self.load(target, BITS_OFFSET as i32);
        let flags = self.b.ins().band_imm_s(header, (FLAG_IMAGE | FLAG_REMEMBERED) as i64);
        let unremembered_image = self.b.ins().icmp_imm_s(IntCC::Equal, flags, FLAG_IMAGE as i64);
        let young = self.b.ins().bor(young, unremembered_image);
        let call = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().brif(young, call, &[], done, &[]);
        self.b.switch_to_block(call);
        self.b.ins().call(self.k.barrier, &[self.universe, target, value]);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
    }

    /// A send whose inline cache found only frameless methods: test the
    /// receiver's class against each cached class and run the method
    /// inline; any other class leaves the send to the interpreter.
    fn inline_send(&mut self, pc: usize, next_pc: usize, d: u32, argc: u32) {
        use vm::runtime::Trivial;
        let targets = self.targets[&pc].clone();
        let base = d - argc - 1;
        let receiver = self.get(base);
        let out = self.exit_block(pc, d);
        let done = self.b.create_block();
        // The receiver's class: SmallIntegers answer Integer; other
        // immediates are left to the interpreter.
        let is_int = self.is_int(receiver);
        let tag = self.b.ins().band_imm_s(receiver, 7);
        let is_ptr = self.b.ins().icmp_imm_s(IntCC::Equal, tag, 0);
        let class_var = self.b.declare_var(types::I64);
        let int_block = self.b.create_block();
        let check_ptr = self.b.create_block();
        let ptr_block = self.b.create_block();
        let dispatch = self.b.create_block();
        self.b.ins().brif(is_int, int_block, &[], check_ptr, &[]);
        self.b.switch_to_block(int_block);
        let ic = self.konst(self.k.integer_class);
        self.b.def_var(class_var, ic);
        self.b.ins().jump(dispatch, &[]);
        self.b.switch_to_block(check_ptr);
        self.b.ins().brif(is_ptr, ptr_block, &[], out, &[]);
        self.b.switch_to_block(ptr_block);
        let class = self.load(receiver, vm::object::CLASS_OFFSET as i32);
        self.b.def_var(class_var, class);
        self.b.ins().jump(dispatch, &[]);
        self.b.switch_to_block(dispatch);
        let class = self.b.use_var(class_var);
        for target in targets {
            let hit = self.b.ins().icmp_imm_s(IntCC::Equal, class, target.class as i64);
            let run = self.b.create_block();
            let next = self.b.create_block();
            self.b.ins().brif(hit, run, &[], next, &[]);
            self.b.switch_to_block(run);
            let trivial = match target.kind {
                TargetKind::Trivial(t) => t,
                TargetKind::Call { method, cell, temps, max_stack } => {
                    self.native_call(pc, next_pc, d, argc, receiver, method, cell, temps, max_stack, done);
                    self.b.switch_to_block(next);
                    continue;
                }
            };
            let result = match trivial {
                Trivial::Getter(i) => self.load(receiver, Self::field_offset(i as usize)),
                Trivial::Setter(i) => {
                    let v = self.get(d - 1);
                    self.store(v, receiver, Self::field_offset(i as usize));
                    self.barrier(receiver, v);
                    receiver
                }
                Trivial::ReturnSelf => receiver,
                Trivial::Constant(c) => self.konst(c.bits()),
                Trivial::No => unreachable!("only frameless targets are inlined"),
            };
            self.put(base, result);
            self.b.ins().jump(done, &[]);
            self.b.switch_to_block(next);
        }
        self.b.ins().jump(out, &[]);
        self.b.switch_to_block(done);
    }

    /// Calls a method natively: pushes its frame (the interpreter's layout)
    /// over the receiver and arguments and calls its native code at offset
    /// 0. If the callee returns natively, its value is in the receiver's
    /// slot and execution goes on at `done`; if it leaves native code (to
    /// send, allocate, ...), so does this method — the interpreter then runs
    /// the callee's frame and, when it returns, resumes this frame after the
    /// send. Without native code for the callee, too deep, or short of
    /// stack, the send is left to the interpreter.
    #[allow(clippy::too_many_arguments)]
    fn native_call(
        &mut self,
        pc: usize,
        next_pc: usize,
        d: u32,
        argc: u32,
        receiver: Value,
        method: u64,
        cell: u64,
        temps: u32,
        max_stack: u32,
        done: ir::Block,
    ) {
        let base = d - argc - 1;
        let out = self.exit_block(pc, d);
        self.flush(d);
        let depth = self.load(self.universe, self.k.depth_offset);
        let too_deep = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, depth, MAX_NATIVE_DEPTH);
        let c1 = self.b.create_block();
        self.b.ins().brif(too_deep, out, &[], c1, &[]);
        self.b.switch_to_block(c1);
        let cell_addr = self.konst(cell);
        let code = self.load(cell_addr, vm::runtime::code_cell::CODE);
        let no_code = self.b.ins().icmp_imm_s(IntCC::Equal, code, 0);
        let c2 = self.b.create_block();
        self.b.ins().brif(no_code, out, &[], c2, &[]);
        self.b.switch_to_block(c2);
        // The callee's frame starts at this frame's stack pointer.
        let callee_fp = self.b.ins().iadd_imm_s(self.fp, (FRAME_HEADER as i32 + self.temps + d as i32) as i64);
        let need =
            self.b.ins().iadd_imm_s(callee_fp, (FRAME_HEADER as u32 + temps + max_stack) as i64 + STACK_RESERVE as i64);
        let short = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, need, self.k.stack_words as i64);
        let c3 = self.b.create_block();
        self.b.ins().brif(short, out, &[], c3, &[]);
        self.b.switch_to_block(c3);
        let callee_frame = {
            let base_addr = self.konst(self.k.stack_base);
            let off = self.b.ins().ishl_imm_u(callee_fp, 3);
            self.b.ins().iadd(base_addr, off)
        };
        let tagged = |t: &mut Self, v: Value| {
            let shifted = t.b.ins().ishl_imm_u(v, 1);
            t.b.ins().bor_imm_s(shifted, 1)
        };
        let m = self.konst(method);
        self.store(m, callee_frame, FRAME_METHOD as i32 * W);
        let caller = tagged(self, self.fp);
        self.store(caller, callee_frame, FRAME_CALLER_FP as i32 * W);
        // The caller resumes after the send.
        let resume = self.konst(((next_pc as u64) << 1) | 1);
        self.store(resume, callee_frame, FRAME_CALLER_PC as i32 * W);
        self.store(receiver, callee_frame, FRAME_SELF as i32 * W);
        let nil = self.konst(self.k.nil);
        self.store(nil, callee_frame, FRAME_CONTEXT as i32 * W);
        self.store(nil, callee_frame, FRAME_CLOSURE as i32 * W);
        for i in 0..temps {
            self.store(nil, callee_frame, (FRAME_HEADER as i32 + i as i32) * W);
        }
        self.call_and_continue(code, callee_fp, base, done);
    }

    /// Calls native `code` on the frame at `callee_fp` (already written) and,
    /// if it returns natively, continues at `done` with its value in slot
    /// `base`; otherwise leaves with it.
    fn call_and_continue(&mut self, code: Value, callee_fp: Value, base: u32, done: ir::Block) {
        let depth = self.load(self.universe, self.k.depth_offset);
        let deeper = self.b.ins().iadd_imm_s(depth, 1);
        self.store(deeper, self.universe, self.k.depth_offset);
        let zero = self.konst(0);
        let call = self.b.ins().call_indirect(self.k.native_sig, code, &[self.universe, callee_fp, zero]);
        let result = self.b.inst_results(call)[0];
        let depth = self.load(self.universe, self.k.depth_offset);
        let shallower = self.b.ins().iadd_imm_s(depth, -1);
        self.store(shallower, self.universe, self.k.depth_offset);
        let returned = self.b.ins().icmp_imm_s(IntCC::Equal, result, RETURNED as i64);
        let back = self.b.create_block();
        let pass = self.b.create_block();
        self.b.ins().brif(returned, back, &[], pass, &[]);
        // Left native code inside the callee: leave with it (this frame is
        // already written back; the callee stored sp and its fp).
        self.b.switch_to_block(pass);
        self.b.ins().return_(&[result]);
        self.b.switch_to_block(back);
        let off = self.slot(base);
        let value = self.load(self.frame, off);
        self.put(base, value);
        self.b.ins().jump(done, &[]);
    }

    /// `value`, `value:`, `value:with:` on a closure of that arity whose
    /// block has native code: a native call with the closure's receiver and
    /// context in the new frame.
    fn native_block_call(&mut self, pc: usize, next_pc: usize, d: u32, argc: u32, done: ir::Block) {
        use vm::runtime::code_cell;
        let base = d - argc - 1;
        let out = self.exit_block(pc, d);
        self.flush(d);
        let closure = self.get(base);
        let tag = self.b.ins().band_imm_s(closure, 7);
        let is_ptr = self.b.ins().icmp_imm_s(IntCC::Equal, tag, 0);
        let c1 = self.b.create_block();
        self.b.ins().brif(is_ptr, c1, &[], out, &[]);
        self.b.switch_to_block(c1);
        let class = self.load(closure, vm::object::CLASS_OFFSET as i32);
        let is_block = self.b.ins().icmp_imm_s(IntCC::Equal, class, self.k.block_classes[argc as usize] as i64);
        let depth = self.load(self.universe, self.k.depth_offset);
        let shallow = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, depth, MAX_NATIVE_DEPTH);
        let ok = self.b.ins().band(is_block, shallow);
        let c2 = self.b.create_block();
        self.b.ins().brif(ok, c2, &[], out, &[]);
        self.b.switch_to_block(c2);
        let method = self.load(closure, Self::field_offset(CLOSURE_CODE));
        let tagged_cell = self.load(method, Self::field_offset(METHOD_CELL));
        let cell = self.b.ins().band_imm_s(tagged_cell, -2);
        let code = self.load(cell, code_cell::CODE);
        let no_code = self.b.ins().icmp_imm_s(IntCC::Equal, code, 0);
        let c4 = self.b.create_block();
        self.b.ins().brif(no_code, out, &[], c4, &[]);
        self.b.switch_to_block(c4);
        let temps = self.load(cell, code_cell::NUM_TEMPS);
        let max_stack = self.load(cell, code_cell::MAX_STACK);
        let callee_fp = self.b.ins().iadd_imm_s(self.fp, (FRAME_HEADER as i32 + self.temps + d as i32) as i64);
        let sizes = self.b.ins().iadd(temps, max_stack);
        let need = self.b.ins().iadd(callee_fp, sizes);
        let need = self.b.ins().iadd_imm_s(need, (FRAME_HEADER + STACK_RESERVE) as i64);
        let short = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, need, self.k.stack_words as i64);
        let c5 = self.b.create_block();
        self.b.ins().brif(short, out, &[], c5, &[]);
        self.b.switch_to_block(c5);
        let callee_frame = {
            let base_addr = self.konst(self.k.stack_base);
            let off = self.b.ins().ishl_imm_u(callee_fp, 3);
            self.b.ins().iadd(base_addr, off)
        };
        self.store(method, callee_frame, FRAME_METHOD as i32 * W);
        let shifted = self.b.ins().ishl_imm_u(self.fp, 1);
        let caller = self.b.ins().bor_imm_s(shifted, 1);
        self.store(caller, callee_frame, FRAME_CALLER_FP as i32 * W);
        let resume = self.konst(((next_pc as u64) << 1) | 1);
        self.store(resume, callee_frame, FRAME_CALLER_PC as i32 * W);
        let receiver = self.load(closure, Self::field_offset(CLOSURE_RECEIVER));
        self.store(receiver, callee_frame, FRAME_SELF as i32 * W);
        let context = self.load(closure, Self::field_offset(CLOSURE_CONTEXT));
        self.store(context, callee_frame, FRAME_CONTEXT as i32 * W);
        self.store(closure, callee_frame, FRAME_CLOSURE as i32 * W);
        // Temporaries start nil: a loop over the callee's count.
        let nil = self.konst(self.k.nil);
        let index = self.b.declare_var(types::I64);
        let zero = self.konst(0);
        self.b.def_var(index, zero);
        let head = self.b.create_block();
        let body = self.b.create_block();
        let filled = self.b.create_block();
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(head);
        let i = self.b.use_var(index);
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, i, temps);
        self.b.ins().brif(more, body, &[], filled, &[]);
        self.b.switch_to_block(body);
        let byte = self.b.ins().ishl_imm_u(i, 3);
        let addr = self.b.ins().iadd(callee_frame, byte);
        self.store(nil, addr, FRAME_HEADER as i32 * W);
        let next_i = self.b.ins().iadd_imm_s(i, 1);
        self.b.def_var(index, next_i);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(filled);
        self.call_and_continue(code, callee_fp, base, done);
    }

    /// Writes temporaries and operand slots below `depth` back to the frame.
    fn flush(&mut self, depth: u32) {
        for i in 0..self.temp_vars.len() {
            let v = self.b.use_var(self.temp_vars[i]);
            self.store(v, self.frame, (FRAME_HEADER as i32 + i as i32) * W);
        }
        for d in 0..depth {
            let v = self.get(d);
            let off = self.slot(d);
            self.store(v, self.frame, off);
        }
    }

    fn context(&mut self, level: u32) -> Value {
        let mut ctx = self.load(self.frame, FRAME_CONTEXT as i32 * W);
        for _ in 0..level {
            ctx = self.load(ctx, Self::field_offset(CONTEXT_PARENT));
        }
        ctx
    }

    fn op(&mut self, op: &Op, next: Option<ir::Block>) {
        let d = op.depth;
        let pc = op.pc;
        let next_pc = pc + op.len;
        match op.insn {
            Insn::PushSelf {} => {
                let v = self.load(self.frame, FRAME_SELF as i32 * W);
                self.put(d, v);
            }
            Insn::PushNil {} => {
                let v = self.konst(self.k.nil);
                self.put(d, v);
            }
            Insn::PushTrue {} => {
                let v = self.konst(self.k.true_);
                self.put(d, v);
            }
            Insn::PushFalse {} => {
                let v = self.konst(self.k.false_);
                self.put(d, v);
            }
            Insn::PushArg { index } => {
                let v = self.load(self.frame, (index as i32 - self.num_args) * W);
                self.put(d, v);
            }
            Insn::PushTemp { index } => {
                let v = self.get_temp(index);
                self.put(d, v);
            }
            Insn::PushField { index } => {
                let receiver = self.load(self.frame, FRAME_SELF as i32 * W);
                let v = self.load(receiver, Self::field_offset(index as usize));
                self.put(d, v);
            }
            Insn::PushLiteral { index } => {
                let v = self.konst(self.literals[index as usize]);
                self.put(d, v);
            }
            Insn::PushInteger { value } => {
                let v = self.konst(((i64::from(value) << 1) | 1) as u64);
                self.put(d, v);
            }
            Insn::PushGlobal { binding } => {
                let b = self.konst(self.literals[binding as usize]);
                let v = self.load(b, Self::field_offset(BINDING_VALUE));
                let unbound = self.b.ins().icmp_imm_s(IntCC::Equal, v, vm::value::Value::UNBOUND.bits() as i64);
                let out = self.exit_block(pc, d);
                self.branch_or_continue(unbound, out);
                self.put(d, v);
            }
            Insn::PushOuter { level, index } => {
                let ctx = self.context(level);
                let v = self.load(ctx, Self::field_offset(CONTEXT_FIXED + index as usize));
                self.put(d, v);
            }
            Insn::StoreArg { index } | Insn::PopArg { index } => {
                let v = self.get(d - 1);
                self.store(v, self.frame, (index as i32 - self.num_args) * W);
            }
            Insn::StoreTemp { index } | Insn::PopTemp { index } => {
                let v = self.get(d - 1);
                self.put_temp(index, v);
            }
            Insn::StoreField { index } | Insn::PopField { index } => {
                let v = self.get(d - 1);
                let receiver = self.load(self.frame, FRAME_SELF as i32 * W);
                self.store(v, receiver, Self::field_offset(index as usize));
                self.barrier(receiver, v);
            }
            Insn::StoreOuter { level, index } | Insn::PopOuter { level, index } => {
                let v = self.get(d - 1);
                let ctx = self.context(level);
                self.store(v, ctx, Self::field_offset(CONTEXT_FIXED + index as usize));
                self.barrier(ctx, v);
            }
            Insn::Pop {} => {}
            Insn::Dup {} => {
                let v = self.get(d - 1);
                self.put(d, v);
            }
            Insn::SendDiv { .. } => {
                let (a, bv) = (self.get(d - 2), self.get(d - 1));
                let out = self.exit_block(pc, d);
                let done = self.b.create_block();
                self.float_path(a, bv, d - 2, done, out, op.insn);
                self.b.switch_to_block(done);
            }
            Insn::SendAdd { .. } | Insn::SendSub { .. } | Insn::SendMul { .. } => {
                let (a, bv) = (self.get(d - 2), self.get(d - 1));
                let ints = self.both_int(a, bv);
                let out = self.exit_block(pc, d);
                let fast = self.b.create_block();
                let not_ints = self.b.create_block();
                let done = self.b.create_block();
                self.b.ins().brif(ints, fast, &[], not_ints, &[]);
                self.b.switch_to_block(not_ints);
                self.float_path(a, bv, d - 2, done, out, op.insn);
                self.b.switch_to_block(fast);
                let (r, overflow) = match op.insn {
                    Insn::SendAdd { .. } => {
                        let b1 = self.b.ins().iadd_imm_s(bv, -1);
                        self.b.ins().sadd_overflow(a, b1)
                    }
                    Insn::SendSub { .. } => {
                        let (diff, of) = self.b.ins().ssub_overflow(a, bv);
                        (self.b.ins().iadd_imm_s(diff, 1), of)
                    }
                    _ => {
                        let x = self.b.ins().sshr_imm_s(a, 1);
                        let y = self.b.ins().iadd_imm_s(bv, -1);
                        let (p, of) = self.b.ins().smul_overflow(x, y);
                        (self.b.ins().iadd_imm_s(p, 1), of)
                    }
                };
                self.branch_or_continue(overflow, out);
                self.put(d - 2, r);
                self.b.ins().jump(done, &[]);
                self.b.switch_to_block(done);
            }
            Insn::SendLt { .. }
            | Insn::SendGt { .. }
            | Insn::SendLe { .. }
            | Insn::SendGe { .. }
            | Insn::SendEq { .. }
            | Insn::SendNe { .. } => {
                let (a, bv) = (self.get(d - 2), self.get(d - 1));
                let ints = self.both_int(a, bv);
                let out = self.exit_block(pc, d);
                let fast = self.b.create_block();
                let not_ints = self.b.create_block();
                let done = self.b.create_block();
                self.b.ins().brif(ints, fast, &[], not_ints, &[]);
                self.b.switch_to_block(not_ints);
                self.float_path(a, bv, d - 2, done, out, op.insn);
                self.b.switch_to_block(fast);
                let cc = match op.insn {
                    Insn::SendLt { .. } => IntCC::SignedLessThan,
                    Insn::SendGt { .. } => IntCC::SignedGreaterThan,
                    Insn::SendLe { .. } => IntCC::SignedLessThanOrEqual,
                    Insn::SendGe { .. } => IntCC::SignedGreaterThanOrEqual,
                    Insn::SendEq { .. } => IntCC::Equal,
                    _ => IntCC::NotEqual,
                };
                let c = self.b.ins().icmp(cc, a, bv);
                let r = self.boolean(c);
                self.put(d - 2, r);
                self.b.ins().jump(done, &[]);
                self.b.switch_to_block(done);
            }
            Insn::SendIdentical {} => {
                let (a, bv) = (self.get(d - 2), self.get(d - 1));
                // Equal bits are identical; two different SmallIntegers are
                // not; anything else (numbers compare by value) goes to the
                // interpreter.
                let same = self.b.ins().icmp(IntCC::Equal, a, bv);
                let ints = self.both_int(a, bv);
                let decided = self.b.ins().bor(same, ints);
                let out = self.exit_block(pc, d);
                let fast = self.b.create_block();
                self.b.ins().brif(decided, fast, &[], out, &[]);
                self.b.switch_to_block(fast);
                let r = self.boolean(same);
                self.put(d - 2, r);
            }
            Insn::SendNot { .. } => {
                let v = self.get(d - 1);
                let t = self.konst(self.k.true_);
                let f = self.konst(self.k.false_);
                let is_t = self.b.ins().icmp(IntCC::Equal, v, t);
                let is_f = self.b.ins().icmp(IntCC::Equal, v, f);
                let is_bool = self.b.ins().bor(is_t, is_f);
                let out = self.exit_block(pc, d);
                let fast = self.b.create_block();
                self.b.ins().brif(is_bool, fast, &[], out, &[]);
                self.b.switch_to_block(fast);
                let r = self.b.ins().select(is_t, f, t);
                self.put(d - 1, r);
            }
            Insn::SendAt { .. } | Insn::SendAtPut { .. } => {
                let put = matches!(op.insn, Insn::SendAtPut { .. });
                let base = if put { d - 3 } else { d - 2 };
                let (array, index) = (self.get(base), self.get(base + 1));
                let out = self.exit_block(pc, d);
                // An Array (a pointer whose class is Array) ...
                let tag = self.b.ins().band_imm_s(array, 7);
                let is_ptr = self.b.ins().icmp_imm_s(IntCC::Equal, tag, 0);
                let c1 = self.b.create_block();
                self.b.ins().brif(is_ptr, c1, &[], out, &[]);
                self.b.switch_to_block(c1);
                let class = self.load(array, vm::object::CLASS_OFFSET as i32);
                let is_array = self.b.ins().icmp_imm_s(IntCC::Equal, class, self.k.array_class as i64);
                let is_int = self.is_int(index);
                let ok = self.b.ins().band(is_array, is_int);
                let c2 = self.b.create_block();
                self.b.ins().brif(ok, c2, &[], out, &[]);
                self.b.switch_to_block(c2);
                // ... and 1 <= index <= size.
                let bits = self.load(array, vm::object::BITS_OFFSET as i32);
                let size = self.b.ins().ushr_imm_u(bits, i64::from(vm::object::SIZE_SHIFT));
                let i = self.b.ins().sshr_imm_s(index, 1);
                let i0 = self.b.ins().iadd_imm_s(i, -1);
                let in_range = self.b.ins().icmp(IntCC::UnsignedLessThan, i0, size);
                let c3 = self.b.create_block();
                self.b.ins().brif(in_range, c3, &[], out, &[]);
                self.b.switch_to_block(c3);
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
            }
            Insn::Return {} | Insn::ReturnSelf {} if !self.home => {
                // The frame ends: its value goes where its receiver was.
                let value = if matches!(op.insn, Insn::Return {}) {
                    self.get(d - 1)
                } else {
                    self.load(self.frame, FRAME_SELF as i32 * W)
                };
                self.store(value, self.frame, -(self.num_args + 1) * W);
                let sp = self.b.ins().iadd_imm_s(self.fp, -(self.num_args as i64));
                self.store(sp, self.universe, self.k.sp_offset);
                let marker = self.konst(RETURNED);
                self.b.ins().return_(&[marker]);
                return;
            }
            Insn::PopContext {} => {
                let ctx = self.load(self.frame, FRAME_CONTEXT as i32 * W);
                let parent = self.load(ctx, Self::field_offset(CONTEXT_PARENT));
                self.store(parent, self.frame, FRAME_CONTEXT as i32 * W);
            }
            Insn::Jump { offset } => {
                let target = self.blocks[&(next_pc + offset as usize)];
                self.b.ins().jump(target, &[]);
                return;
            }
            Insn::JumpBack { offset } => {
                let target = self.blocks[&(next_pc - offset as usize)];
                self.b.ins().jump(target, &[]);
                return;
            }
            Insn::JumpIfTrue { offset } | Insn::JumpIfFalse { offset } => {
                let when_true = matches!(op.insn, Insn::JumpIfTrue { .. });
                let v = self.get(d - 1);
                let t = self.konst(self.k.true_);
                let f = self.konst(self.k.false_);
                let is_t = self.b.ins().icmp(IntCC::Equal, v, t);
                let is_f = self.b.ins().icmp(IntCC::Equal, v, f);
                let is_bool = self.b.ins().bor(is_t, is_f);
                let out = self.exit_block(pc, d);
                let fast = self.b.create_block();
                self.b.ins().brif(is_bool, fast, &[], out, &[]);
                self.b.switch_to_block(fast);
                let target = self.blocks[&(next_pc + offset as usize)];
                let take = if when_true { is_t } else { is_f };
                match next {
                    Some(fall) => {
                        self.b.ins().brif(take, target, &[], fall, &[]);
                    }
                    None => {
                        let end = self.exit_block(next_pc, d - 1);
                        self.b.ins().brif(take, target, &[], end, &[]);
                    }
                }
                return;
            }
            Insn::JumpIfNil { offset } | Insn::JumpIfNotNil { offset } => {
                let when_nil = matches!(op.insn, Insn::JumpIfNil { .. });
                let v = self.get(d - 1);
                let is_nil = self.b.ins().icmp_imm_s(IntCC::Equal, v, self.k.nil as i64);
                let target = self.blocks[&(next_pc + offset as usize)];
                let fall = match next {
                    Some(fall) => fall,
                    None => self.exit_block(next_pc, d - 1),
                };
                if when_nil {
                    self.b.ins().brif(is_nil, target, &[], fall, &[]);
                } else {
                    self.b.ins().brif(is_nil, fall, &[], target, &[]);
                }
                return;
            }
            Insn::Send { argc, .. } if self.targets.contains_key(&pc) => {
                self.inline_send(pc, next_pc, d, argc);
            }
            Insn::SendValue { .. } | Insn::SendValue1 { .. } | Insn::SendValue2 { .. } => {
                let argc = match op.insn {
                    Insn::SendValue { .. } => 0,
                    Insn::SendValue1 { .. } => 1,
                    _ => 2,
                };
                let done = self.b.create_block();
                self.native_block_call(pc, next_pc, d, argc, done);
                self.b.switch_to_block(done);
            }
            // Everything else runs in the interpreter.
            _ => {
                self.exit(pc, d);
                return;
            }
        }
        let (pops, pushes) = op.insn.stack_effect();
        self.goto(next, next_pc, d - pops + pushes);
    }
}

/// The native signature: `(universe, fp, pc) -> next pc`.
pub fn signature(call_conv: cranelift_codegen::isa::CallConv) -> ir::Signature {
    let mut sig = ir::Signature::new(call_conv);
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(types::I64));
    sig
}

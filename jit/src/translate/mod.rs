//! Translation of one method's bytecode to Cranelift IR, one bytecode at a
//! time, on the interpreter's frame.
//!
//! The native function `(interp, fp, pc, frame) -> result` runs the
//! activation at frame `fp` (whose address is `frame`). Entered fresh (`pc`
//! = [`FRESH`], a native call), it starts at offset 0 with its temporaries
//! nil; entered at a bytecode offset (from the interpreter: a call, a return
//! into it, or on-stack replacement at a loop head), it reads its locals and
//! operand stack from the frame and switches to that bytecode. Only leaders
//! (offset 0, jump targets, bytecodes after sends) are entry points, so the
//! code between them is straight.
//!
//! Operand-stack slots and locals are SSA variables, so values stay in
//! registers between bytecodes; stores to locals are written through, and
//! operands are written back to the frame before anything that may look at
//! it (a runtime call, a native call); both are read again after (a
//! collection may have moved what they point to). So at every safepoint
//! the frame is the interpreter's. Methods whose arithmetic has met doubles
//! keep an unboxed `f64` shadow beside each value.
//!
//! Each bytecode has a native fast path where it pays (see `ops/`); its
//! slow path is a call of the runtime function `mica_step`, which runs that
//! one bytecode in the interpreter and comes back. Sends go through the
//! targets the inline cache held when the method was compiled (frameless
//! methods inline, hot primitives natively, others called natively), then
//! through the inline cache itself, read at run time, then leave to the
//! interpreter. See `docs/design/jit.md`.

mod calls;
mod ops;
mod values;

pub use ops::NativePrimitives;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, AbiParam, InstBuilder, JumpTableData, MemFlagsData, TrapCode, Value, types};
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use interp::frame::*;
use interp::native::NativeLayout;
use vm::bytecode::{Insn, instructions};
use vm::layout::*;
use vm::object::WORD_SHIFT;
use vm::runtime::Trivial;
use vm::universe::Universe;
use vm::value::Value as VmValue;

/// The `pc` a native call passes: a new activation, temporaries nil.
pub const FRESH: u64 = u64::MAX - 2;

/// Native code answers this when the activation returned.
pub const RETURNED: u64 = vm::runtime::NATIVE_RETURNED;

/// Native code answers this when the interpreter took over.
pub const LEFT: u64 = vm::runtime::NATIVE_LEFT;

/// The classes native code tests for.
#[derive(Clone, Copy, Debug)]
pub struct Classes {
    /// Integer (the class of SmallIntegers).
    pub integer: u64,
    /// Double (the class of SmallFloats).
    pub double: u64,
    /// Character.
    pub character: u64,
    /// Array.
    pub array: u64,
    /// String.
    pub string: u64,
    /// Context (VM-internal).
    pub context: u64,
    /// Block1..Block4: closures of 0..3 arguments.
    pub blocks: [u64; 4],
}

/// Addresses, offsets and constants the native code embeds.
pub struct Constants {
    /// The frame stack's first word.
    pub stack_base: u64,
    /// The address of the interrupt word native code polls at loop
    /// back-edges (`vm::interrupts`).
    pub interrupts: u64,
    /// The address of the native call depth limit, which drops to 0 while
    /// an interrupt is pending (so native calls are safepoints too).
    pub native_limit: u64,
    /// Words of frame stack.
    pub stack_words: u64,
    /// Offsets from the interpreter pointer.
    pub layout: NativeLayout,
    /// nil
    pub nil: u64,
    /// true
    pub true_: u64,
    /// false
    pub false_: u64,
    /// Classes native code tests for.
    pub classes: Classes,
    /// Nursery bounds, for the write barrier's "is young" test.
    pub nursery_start: u64,
    /// Nursery size in bytes.
    pub nursery_len: u64,
    /// Allocate through the runtime only (the collector's stress mode).
    pub no_inline_allocation: bool,
    /// `mica_step(interp, fp, pc) -> result`.
    pub step: ir::FuncRef,
    /// `mica_barrier(interp, target, value)`.
    pub barrier: ir::FuncRef,
    /// `mica_primitive(interp, n, argc) -> 1 | 0 | LEFT`.
    pub primitive: ir::FuncRef,
    /// `mica_bytes_equal(a, b) -> 1 | 0`: two byte objects of one size.
    pub bytes_equal: ir::FuncRef,
    /// The primitives with native fast paths.
    pub primitives: NativePrimitives,
    /// The signature of native code, for native calls.
    pub native_sig: ir::SigRef,
    /// Print-stable placeholders instead of addresses (for golden IR).
    pub symbolic: bool,
    /// The deoptimisation stress mode (`--jit-deopt-every=N`): the address
    /// of the countdown every guard decrements, and N. `None` when off.
    pub deopt_every: Option<(u64, u64)>,
    /// Say what each send site's code does (`--dump=sends`).
    pub describe_sends: bool,
    /// Callees with frames of at most this many bytes of bytecode are
    /// inlined at monomorphic and polymorphic send sites (0: none).
    pub inline_bytes: usize,
    /// Levels of callees inlined into callees (1: only the method's own
    /// sends).
    pub inline_depth: usize,
}

/// What translating a method made, besides the function.
pub struct Translated {
    /// Whether the code depends on what method lookups found (inline-cache
    /// targets, super sends), and so must be thrown away when a method
    /// dictionary changes.
    pub speculative: bool,
    /// With `describe_sends`: a line per send site, what its code does.
    pub sends: String,
    /// What was translated into the method.
    pub inlined: Inlined,
}

/// Callees and blocks translated into a method (at every level).
#[derive(Clone, Copy, Debug, Default)]
pub struct Inlined {
    /// Methods inlined at send sites.
    pub callees: usize,
    /// Blocks inlined where they are `value`d.
    pub blocks: usize,
    /// Their bytes of bytecode.
    pub bytes: usize,
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

/// The bytecodes native code can be entered at (see
/// `MethodRuntime::native_entries`): the first, every jump
/// target, and every bytecode after a send (where a callee the interpreter
/// ran returns to). Between them the code runs straight, so values flow
/// from bytecode to bytecode in registers; a slow path that ends elsewhere
/// leaves the frame to the interpreter, which enters the native code again
/// at the next of these.
fn leaders(ops: &[Op]) -> std::collections::BTreeSet<usize> {
    let mut out = std::collections::BTreeSet::new();
    out.insert(0);
    for op in ops.iter().filter(|op| op.depth != u32::MAX) {
        if let Some(target) = op.insn.jump_target(op.pc, op.len) {
            out.insert(target);
        }
        let send = matches!(
            op.insn,
            Insn::Send { .. }
                | Insn::SuperSend { .. }
                | Insn::SendValue { .. }
                | Insn::SendValue1 { .. }
                | Insn::SendValue2 { .. }
        );
        if send {
            out.insert(op.pc + op.len);
        }
    }
    out
}

/// What a cached method is, for the code at its send site.
#[derive(Clone, Copy)]
enum TargetKind {
    /// Frameless: runs inline.
    Trivial(Trivial),
    /// A data primitive: called through `mica_primitive`.
    Primitive(u64),
    /// A method with a frame: called natively once it has native code.
    Call {
        /// The method.
        method: u64,
        /// Address of its cell.
        cell: u64,
        /// Its temporaries plus operand slots.
        frame_words: u64,
    },
}

/// A receiver class cached at a send site and what it found.
#[derive(Clone, Copy)]
struct InlineTarget {
    class: u64,
    kind: TargetKind,
    /// The class and method, which the code refers to: kept alive while it
    /// is installed (see `MethodRuntime::native_refs`).
    keep: [VmValue; 2],
}

/// Above this many locals (self, arguments, temporaries) a method keeps
/// them in its frame rather than in registers.
const MAX_REGISTER_LOCALS: usize = 64;

/// Above this operand-stack depth a method keeps its operands in its frame.
const MAX_REGISTER_SLOTS: usize = 64;

/// What native code can do with `method` at a send site, if anything.
fn target_kind(u: &Universe, method: VmValue, symbolic: bool, slot: usize) -> Option<TargetKind> {
    if method == u.nil() {
        return None;
    }
    // SAFETY: a method object's cell slot holds the address of its cell.
    let index = unsafe { (*vm::runtime::cell_of_slot(method.slot(METHOD_CELL))).runtime.get() };
    if index == 0 {
        // Never run: its kind is not known yet.
        return None;
    }
    let record = u.runtime(index as usize - 1);
    let info = record.info;
    if info.missing_primitive {
        return None;
    }
    if info.primitive != 0 {
        let callable = vm::primitives::native_callable(info.primitive as usize);
        return callable.then_some(TargetKind::Primitive(u64::from(info.primitive)));
    }
    let home = info.flags & vm::bytecode::CodeFlags::HOME_CONTEXT.bits() != 0;
    Some(match info.trivial {
        Trivial::No => TargetKind::Call {
            method: if symbolic { 0x6900_0000 + 0x100 * slot as u64 } else { method.bits() },
            cell: if symbolic { 0x6a00_0000 + 0x100 * slot as u64 } else { record.cell.as_ptr() as u64 },
            frame_words: u64::from(info.num_temps) + u64::from(info.max_stack),
        },
        _ if home => return None,
        Trivial::Constant(c) if symbolic && c.is_pointer() => {
            TargetKind::Trivial(Trivial::Constant(VmValue::from_bits(0x6800_0000)))
        }
        t => TargetKind::Trivial(t),
    })
}

/// The inline-cache targets of send site `ic` of record `rt` native code
/// can use (all of them, or none).
fn inline_targets(u: &Universe, rt: usize, ic: u32, symbolic: bool) -> Vec<InlineTarget> {
    let Some(cache) = u.runtime(rt).ics.get(ic as usize) else { return Vec::new() };
    if cache.megamorphic {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, entry) in cache.entries[..cache.len as usize].iter().enumerate() {
        let Some(kind) = target_kind(u, entry.method, symbolic, i) else { return Vec::new() };
        let class = if symbolic { 0x6000_0000 + 8 * out.len() as u64 } else { entry.class.bits() };
        out.push(InlineTarget { class, kind, keep: [entry.class, entry.method] });
    }
    out
}

/// One line of `--dump=sends` for the bytecode `op` of record `rt`, if it
/// is a send: what the code compiled now does there, from what its inline
/// cache holds.
fn describe_site(u: &mut Universe, rt: usize, op: &Op, out: &mut String) {
    use std::fmt::Write as _;
    let info = u.runtime(rt).info;
    let name = |u: &Universe, m: VmValue| {
        let holder = m.slot(METHOD_HOLDER);
        let class = if holder.is_pointer() { u.class_name(holder) } else { "?".to_string() };
        format!("{class}>>{}", u.text_or_describe(m.slot(METHOD_SELECTOR)))
    };
    let what = |u: &Universe, m: VmValue, kind: Option<TargetKind>| match kind {
        None => "to the interpreter (not run yet, or not native-callable)".to_string(),
        Some(TargetKind::Trivial(t)) => format!("inline {t:?} of {}", name(u, m)),
        Some(TargetKind::Primitive(n)) => format!("primitive {n} ({})", name(u, m)),
        Some(TargetKind::Call { .. }) => format!("call {}", name(u, m)),
    };
    let line = match op.insn {
        Insn::SuperSend { selector, .. } => {
            let sel = info.literals.slot(selector as usize);
            let holder = u.runtime(rt).method.slot(METHOD_HOLDER);
            match super_target(u, holder, sel, false) {
                Some((kind, found)) => format!("super #{}: {}", u.text_or_describe(sel), what(u, found, Some(kind))),
                None => format!("super #{}: to the interpreter", u.text_or_describe(sel)),
            }
        }
        insn => {
            let Some(ic) = insn.ic_index() else { return };
            let selector = match insn {
                Insn::Send { selector, .. } => {
                    format!("#{}", u.text_or_describe(info.literals.slot(selector as usize)))
                }
                other => format!("{:?}", other.opcode()),
            };
            let Some(cache) = u.runtime(rt).ics.get(ic as usize) else { return };
            let entries: Vec<_> = cache.entries[..cache.len as usize].to_vec();
            if cache.megamorphic {
                format!("{selector}: megamorphic, to the interpreter")
            } else if entries.is_empty() {
                format!("{selector}: not run yet, reads the inline cache at run time")
            } else {
                let inline = !inline_targets(u, rt, ic, false).is_empty();
                let parts: Vec<String> = entries
                    .iter()
                    .map(|e| {
                        let class = u.class_name(e.class);
                        let kind = if inline { target_kind(u, e.method, false, 0) } else { None };
                        if e.method == u.nil() {
                            format!("{class} -> doesNotUnderstand: (the interpreter)")
                        } else {
                            format!("{class} -> {}", what(u, e.method, kind))
                        }
                    })
                    .collect();
                let guards = match (inline, parts.len()) {
                    (false, _) => "not inlined, reads the inline cache at run time".to_string(),
                    (true, 1) => "guards for 1 class".to_string(),
                    (true, n) => format!("guards for {n} classes"),
                };
                format!("{selector}: {guards}; {}", parts.join("; "))
            }
        }
    };
    let _ = writeln!(out, "  pc {:>4}: {line}", op.pc);
}

/// The method a super send at `selector` finds, looked up from the
/// superclass of `holder` (what it is for native code).
fn super_target(u: &mut Universe, holder: VmValue, selector: VmValue, symbolic: bool) -> Option<(TargetKind, VmValue)> {
    let sup = holder.slot(CLASS_SUPERCLASS);
    if sup == u.nil() {
        return None;
    }
    let method = u.lookup(sup, selector);
    Some((target_kind(u, method, symbolic, 0)?, method))
}

/// A method as translation sees it: its bytecode and shape, what its
/// inline caches held when it was compiled, and the callees inlined into
/// it.
struct Survey {
    ops: Vec<Op>,
    code_len: usize,
    num_args: i32,
    num_temps: i32,
    max_stack: u32,
    /// The method makes a home context.
    home: bool,
    /// Its arithmetic has met SmallFloats: it keeps an unboxed shadow of
    /// every value next to it.
    shadows: bool,
    literals: Vec<u64>,
    /// Addresses of its inline caches.
    ics: Vec<u64>,
    targets: HashMap<usize, Vec<InlineTarget>>,
    megamorphic: HashSet<usize>,
    /// Super sends: what the lookup found, and the method.
    supers: HashMap<usize, (TargetKind, VmValue)>,
    /// Arguments of the blocks `MakeBlock` makes, by literal.
    block_arities: HashMap<u32, u32>,
    /// Callees translated into the method at its send sites, by the site's
    /// offset and the index of the cached target they were found for.
    inlines: HashMap<(usize, usize), Rc<Survey>>,
    /// Blocks translated into the method where it `value`s them, by the
    /// offset of the `SendValue`: the block is one whose creation the
    /// code compiled sees (see [`Origin`]).
    block_inlines: HashMap<usize, Rc<Survey>>,
    /// Where each send's receiver and arguments came from, by its offset.
    origins: HashMap<usize, Vec<Origin>>,
    /// Its runtime record.
    rt: usize,
}

impl Survey {
    /// How many callees and blocks are inlined into the method, at every
    /// level, and their bytes of bytecode.
    fn inlined(&self) -> Inlined {
        let mut all = Inlined::default();
        for (c, block) in
            self.inlines.values().map(|c| (c, false)).chain(self.block_inlines.values().map(|c| (c, true)))
        {
            let inner = c.inlined();
            all.callees += inner.callees + usize::from(!block);
            all.blocks += inner.blocks + usize::from(block);
            all.bytes += inner.bytes + c.code_len;
        }
        all
    }
}

/// What surveying collects for the compiled method's record: the objects
/// its code refers to, the lookups it relied on, and (`--dump=sends`) what
/// each site does.
#[derive(Default)]
struct Kept {
    refs: Vec<VmValue>,
    deps: Vec<(VmValue, VmValue)>,
    sends: String,
}

/// Surveys the method of record `rt`. `own`: it is the method compiled
/// (not a callee inlined into it), whose caches learn what its code
/// covers.
fn survey(u: &mut Universe, rt: usize, k: &Constants, own: bool, kept: &mut Kept) -> Result<Survey, String> {
    let info = u.runtime(rt).info;
    let method = u.runtime(rt).method;
    // SAFETY: `code` and `code_len` describe the method's bytecode (an
    // old-space or image ByteArray the method keeps alive).
    let code = unsafe { std::slice::from_raw_parts(info.code, info.code_len) };
    let ops = analyse(code)?;
    let mut targets: HashMap<usize, Vec<InlineTarget>> = HashMap::new();
    let mut megamorphic = HashSet::new();
    let mut supers: HashMap<usize, (TargetKind, VmValue)> = HashMap::new();
    let holder = method.slot(METHOD_HOLDER);
    for op in &ops {
        if own && k.describe_sends {
            describe_site(u, rt, op, &mut kept.sends);
        }
        match op.insn {
            Insn::SuperSend { selector, .. } => {
                let sel = info.literals.slot(selector as usize);
                if let Some((t, found)) = super_target(u, holder, sel, k.symbolic) {
                    supers.insert(op.pc, (t, found));
                    kept.refs.push(found);
                    kept.deps.push((sel, holder.slot(CLASS_SUPERCLASS)));
                }
            }
            insn => {
                if let Some(ic) = insn.ic_index() {
                    if u.runtime(rt).ics.get(ic as usize).is_some_and(|c| c.megamorphic) {
                        megamorphic.insert(op.pc);
                    }
                    let t = inline_targets(u, rt, ic, k.symbolic);
                    if own && let Some(cache) = u.runtime_mut(rt).ics.get_mut(ic as usize) {
                        cache.compiled_len = t.len() as u8;
                    }
                    kept.refs.extend(t.iter().flat_map(|t| t.keep));
                    // The method found names the selector; the class is
                    // the receiver's.
                    kept.deps.extend(t.iter().map(|t| (t.keep[1].slot(METHOD_SELECTOR), t.keep[0])));
                    if !t.is_empty() {
                        targets.insert(op.pc, t);
                    }
                }
            }
        }
    }
    let literals: Vec<u64> = (0..info.literals.size())
        .map(|i| {
            let v = info.literals.slot(i);
            if k.symbolic && v.is_pointer() { 0x7000_0000 + 8 * i as u64 } else { v.bits() }
        })
        .collect();
    let ics: Vec<u64> = u
        .runtime(rt)
        .ics
        .iter()
        .enumerate()
        .map(|(i, ic)| if k.symbolic { 0x7800_0000 + 0x100 * i as u64 } else { ic as *const _ as u64 })
        .collect();
    let block_arities: HashMap<u32, u32> = ops
        .iter()
        .filter_map(|op| match op.insn {
            Insn::MakeBlock { block } => {
                let code = info.literals.slot(block as usize);
                let bits = code.slot(METHOD_INFO).int_value();
                Some((block, method_info_counts(bits).0 as u32))
            }
            _ => None,
        })
        .collect();
    // Only planning inlining reads them.
    let origins = if k.inline_bytes > 0 { stack_origins(&ops) } else { HashMap::new() };
    Ok(Survey {
        ops,
        code_len: code.len(),
        num_args: info.num_args as i32,
        num_temps: info.num_temps as i32,
        max_stack: info.max_stack,
        home: info.flags & vm::bytecode::CodeFlags::HOME_CONTEXT.bits() != 0,
        shadows: u.runtime(rt).ics.iter().any(|c| c.saw_float),
        literals,
        ics,
        targets,
        megamorphic,
        supers,
        block_arities,
        inlines: HashMap::new(),
        block_inlines: HashMap::new(),
        origins,
        rt,
    })
}

/// Where an operand-stack value came from, as far as the compiler can
/// tell without running the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Unknown,
    /// Argument `index` of the activation, never assigned in the method (so
    /// the value is the one the caller passed).
    Arg(u32),
    /// The closure `MakeBlock` made of block literal `index`.
    Block(u32),
}

/// The origin of every operand at each send of `ops` (by offset), found by
/// running the method's stack effects over its control flow: a slot has an
/// origin at a bytecode only if it has that origin on every path there.
fn stack_origins(ops: &[Op]) -> HashMap<usize, Vec<Origin>> {
    let index: HashMap<usize, usize> = ops.iter().enumerate().map(|(i, op)| (op.pc, i)).collect();
    let assigned: HashSet<u32> = ops
        .iter()
        .filter_map(|op| match op.insn {
            Insn::StoreArg { index } | Insn::PopArg { index } => Some(index),
            _ => None,
        })
        .collect();
    let mut state: Vec<Option<Vec<Origin>>> = vec![None; ops.len()];
    let mut work = vec![(0usize, Vec::new())];
    while let Some((i, incoming)) = work.pop() {
        let merged = match &state[i] {
            None => incoming,
            Some(old) if old.len() != incoming.len() => continue,
            Some(old) => {
                let m: Vec<Origin> =
                    old.iter().zip(&incoming).map(|(&a, &b)| if a == b { a } else { Origin::Unknown }).collect();
                if &m == old {
                    continue;
                }
                m
            }
        };
        state[i] = Some(merged.clone());
        let op = &ops[i];
        let mut stack = merged;
        let (pops, pushes) = op.insn.stack_effect();
        let pushed = match op.insn {
            Insn::PushArg { index } if !assigned.contains(&index) => Origin::Arg(index),
            Insn::MakeBlock { block } => Origin::Block(block),
            Insn::Dup {} => *stack.last().unwrap_or(&Origin::Unknown),
            _ => Origin::Unknown,
        };
        let Some(keep) = stack.len().checked_sub(pops as usize) else { continue };
        stack.truncate(keep);
        stack.extend((0..pushes).map(|_| pushed));
        if let Some(target) = op.insn.jump_target(op.pc, op.len)
            && let Some(&t) = index.get(&target)
        {
            work.push((t, stack.clone()));
        }
        let falls = !op.insn.opcode().flags().contains(vm::bytecode::Flags::RETURN)
            && !matches!(op.insn, Insn::Jump { .. } | Insn::JumpBack { .. });
        if falls && i + 1 < ops.len() {
            work.push((i + 1, stack));
        }
    }
    ops.iter()
        .zip(state)
        .filter(|(op, _)| op.insn.ic_index().is_some() || matches!(op.insn, Insn::SuperSend { .. }))
        .filter_map(|(op, st)| Some((op.pc, st?)))
        .collect()
}

/// The record of `method` if the second tier's first slice inlines it: it
/// has run, it has a frame (frameless methods and primitives are inlined
/// by kind already) and its bytecode is at most `max_bytes` long. A method
/// must also make no closures or contexts and have no non-local return
/// (so that the one frame it is translated on is all it needs); a `block`
/// may, since its frame is the one its closure's `value` would give it
/// (its context is the closure's, and a non-local return leaves it to the
/// interpreter, as from the block's own code).
fn inlinable(u: &Universe, method: VmValue, max_bytes: usize, block: bool) -> Option<usize> {
    // SAFETY: a method object's cell slot holds the address of its cell.
    let index = unsafe { (*vm::runtime::cell_of_slot(method.slot(METHOD_CELL))).runtime.get() };
    if index == 0 {
        return None;
    }
    let rt = index as usize - 1;
    let info = u.runtime(rt).info;
    let home = info.flags & vm::bytecode::CodeFlags::HOME_CONTEXT.bits() != 0;
    if info.primitive != 0 || info.missing_primitive || info.trivial != Trivial::No || home || info.code_len > max_bytes
    {
        return None;
    }
    if block {
        return Some(rt);
    }
    // SAFETY: as in `survey`.
    let code = unsafe { std::slice::from_raw_parts(info.code, info.code_len) };
    let ops = analyse(code).ok()?;
    let plain = ops.iter().all(|op| {
        !matches!(
            op.insn,
            Insn::MakeBlock { .. }
                | Insn::PushContext { .. }
                | Insn::PopContext { .. }
                | Insn::PushOuter { .. }
                | Insn::StoreOuter { .. }
                | Insn::PopOuter { .. }
                | Insn::ReturnNonLocal { .. }
        )
    });
    plain.then_some(rt)
}

/// The block method a value of origin `origin` in `s` is a closure of, if
/// the compiler knows: one `s` makes, or one its caller passed as an
/// argument (`known`, by argument).
fn known_block(u: &Universe, s: &Survey, origin: Origin, known: &[Option<VmValue>]) -> Option<VmValue> {
    match origin {
        Origin::Block(literal) => Some(u.runtime(s.rt).info.literals.slot(literal as usize)),
        Origin::Arg(index) => known.get(index as usize).copied().flatten(),
        Origin::Unknown => None,
    }
}

/// The number of arguments of a method or block.
fn arity(method: VmValue) -> usize {
    method_info_counts(method.slot(METHOD_INFO).int_value()).0
}

/// A callee that is passed a block its caller makes may be this many times
/// `--jit-inline-bytes` long: inlined, the block's `value` inlines too.
const BLOCK_ARGUMENT_BONUS: usize = 2;

/// One line of `--dump=sends` about a method or block inlined at `pc`.
fn describe_inlined(u: &Universe, kept: &mut Kept, depth: usize, pc: usize, what: &str, method: VmValue, len: usize) {
    use std::fmt::Write as _;
    let name = u.method_name(method);
    let indent = "  ".repeat(depth);
    let _ = writeln!(kept.sends, "  {indent}pc {pc:>4}: {what} inlined: {name} ({len} bytes)");
}

/// Chooses the callees and blocks inlined into `s`, `depth` levels below
/// the method compiled: the methods with frames its send sites' caches
/// found, and the blocks it `value`s whose creation it sees (made in `s`,
/// or passed to it as argument `i` when `known[i]` is their method), in
/// bytecode order, then theirs (up to `k.inline_depth` levels), while
/// `budget` (bytes of bytecode for the whole method) lasts.
fn plan_inlining(
    u: &mut Universe,
    s: &mut Survey,
    k: &Constants,
    kept: &mut Kept,
    depth: usize,
    budget: &mut usize,
    known: &[Option<VmValue>],
) {
    if k.inline_bytes == 0 || depth >= k.inline_depth {
        return;
    }
    // Each target a send's cache held, and the method a super send found
    // (as the site's target 0).
    let cached = s
        .targets
        .iter()
        .flat_map(|(&pc, ts)| ts.iter().enumerate().map(move |(i, t)| (pc, Some(i), t.kind, t.keep[1])));
    let supers = s.supers.iter().map(|(&pc, &(kind, method))| (pc, Some(0), kind, method));
    let mut sites: Vec<(usize, Option<usize>, VmValue)> = cached
        .chain(supers)
        .filter(|(_, _, kind, _)| matches!(kind, TargetKind::Call { .. }))
        .map(|(pc, i, _, method)| (pc, i, method))
        .collect();
    // The blocks `value`d: no target index.
    for op in &s.ops {
        let argc = match op.insn {
            Insn::SendValue { .. } => 0,
            Insn::SendValue1 { .. } => 1,
            Insn::SendValue2 { .. } => 2,
            _ => continue,
        };
        let Some(origins) = s.origins.get(&op.pc) else { continue };
        let Some(&receiver) = origins.len().checked_sub(argc + 1).and_then(|i| origins.get(i)) else { continue };
        if let Some(block) = known_block(u, s, receiver, known)
            && arity(block) == argc
        {
            sites.push((op.pc, None, block));
        }
    }
    sites.sort_by_key(|&(pc, i, _)| (pc, i));
    for (pc, i, callee) in sites {
        // The blocks the callee is passed, by argument.
        let passed: Vec<Option<VmValue>> = match (i, s.origins.get(&pc)) {
            (Some(_), Some(origins)) => {
                let argc = arity(callee);
                let args = &origins[origins.len().saturating_sub(argc)..];
                args.iter().map(|&o| known_block(u, s, o, known)).collect()
            }
            _ => Vec::new(),
        };
        let bonus = if passed.iter().any(Option::is_some) { BLOCK_ARGUMENT_BONUS } else { 1 };
        let Some(rt) = inlinable(u, callee, k.inline_bytes * bonus, i.is_none()) else { continue };
        let len = u.runtime(rt).info.code_len;
        if len > *budget {
            continue;
        }
        let Ok(mut inlined) = survey(u, rt, k, false, kept) else { continue };
        *budget -= len;
        if k.describe_sends {
            let what = match i {
                Some(i) => format!("target {}", i + 1),
                None => "block".to_string(),
            };
            describe_inlined(u, kept, depth, pc, &what, callee, len);
        }
        plan_inlining(u, &mut inlined, k, kept, depth + 1, budget, &passed);
        match i {
            Some(i) => s.inlines.insert((pc, i), Rc::new(inlined)),
            None => s.block_inlines.insert(pc, Rc::new(inlined)),
        };
    }
}

/// A method inlines callees of at most this many times `--jit-inline-bytes`
/// bytes of bytecode in all.
const INLINE_BUDGET_FACTOR: usize = 8;

/// Builds the function body for the method whose runtime record is `rt`.
pub fn translate(
    u: &mut Universe,
    rt: usize,
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
    frontend: TargetFrontendConfig,
    make_constants: impl FnOnce(&mut ir::Function) -> Constants,
) -> Result<Translated, String> {
    let k = make_constants(func);
    let mut kept = Kept::default();
    let mut s = survey(u, rt, &k, true, &mut kept)?;
    let mut budget = k.inline_bytes * INLINE_BUDGET_FACTOR;
    plan_inlining(u, &mut s, &k, &mut kept, 0, &mut budget, &[]);
    let s = Rc::new(s);
    // Speculative: it relied on a lookup somewhere, in the method itself
    // or in a callee or block inlined into it (a block valued where it is
    // made, inlined, may hold the only super send), so an edit must be
    // able to throw it away.
    let speculative = !kept.deps.is_empty();
    u.runtime_mut(rt).native_refs = kept.refs;
    u.runtime_mut(rt).native_deps = kept.deps;
    // The code knows what every cache knows now.
    u.runtime_mut(rt).ics_outgrown = false;
    let entries = leaders(&s.ops);
    let mut bits = vec![0u64; s.code_len.div_ceil(64)];
    for &pc in &entries {
        bits[pc / 64] |= 1 << (pc % 64);
    }
    u.runtime_mut(rt).native_entries = bits.into_boxed_slice();

    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    let fresh = b.create_block();
    let resume = b.create_block();
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    // The frame's index is derived from its address where needed, so that
    // only the address stays live.
    let (interp, pc, frame) = (params[0], params[2], params[3]);
    let scope = Scope::new(&mut b, &s, frame, None);
    // Where `resume` switches to: the entry's offset, or where the shared
    // slow path goes on.
    let resume_pc = b.declare_var(types::I64);
    b.def_var(resume_pc, pc);
    let is_fresh = b.ins().icmp_imm_s(IntCC::Equal, pc, FRESH as i64);
    b.ins().brif(is_fresh, fresh, &[], resume, &[]);
    b.seal_block(entry);
    b.seal_block(fresh);

    let mut t = Translator { b, k, interp, m: scope, owner: rt };
    // A new activation (its caller wrote the header): temporaries nil, no
    // operands.
    t.b.switch_to_block(fresh);
    t.start_fresh(None);
    t.emit_body(resume, resume_pc);
    t.b.seal_all_blocks();
    t.b.finalize(frontend);
    let inlined = s.inlined();
    Ok(Translated { speculative, sends: kept.sends, inlined })
}

/// What the caller of an inlined callee goes on with.
#[derive(Clone, Copy)]
struct InlineExit {
    /// The callee's answer, at `join`.
    result: Variable,
    /// Where the caller goes on with `result` when the callee returned in
    /// its inlined code.
    join: ir::Block,
    /// Where the caller goes on when the interpreter ran the callee's
    /// return (the answer is where the receiver was, in the caller's
    /// frame).
    returned: ir::Block,
}

/// The method (or inlined callee) being translated: its frame, where its
/// values live and what its send sites found.
struct Scope {
    /// The frame's address.
    frame: Value,
    temps: i32,
    num_args: i32,
    /// The block of each bytecode.
    blocks: BTreeMap<usize, ir::Block>,
    /// The method's bytecode and what its send sites found.
    s: Rc<Survey>,
    slot_vars: Vec<Variable>,
    locals: Locals,
    /// `self`, the arguments and the temporaries, kept in registers: every
    /// store also writes the frame, and they are read from the frame again
    /// after anything that may have collected.
    local_vars: Vec<Variable>,
    /// With doubles about: each operand slot's and local's value unboxed
    /// (meaningful when it holds a SmallFloat), so that arithmetic on
    /// doubles passes unboxed values along and boxes only for the frame.
    slot_f64: Vec<Variable>,
    local_f64: Vec<Variable>,
    cur: Cur,
    /// The bytecode offset and operand depth the shared stubs act on.
    stub_pc: Variable,
    stub_depth: Variable,
    /// The shared slow path: writes the operands back, runs the bytecode at
    /// `stub_pc` in the interpreter, and goes on where it says.
    slow_stub: ir::Block,
    /// The shared exit: leaves the bytecode at `stub_pc` to the interpreter
    /// (everything already written back).
    exit_stub: ir::Block,
    /// Inlined: where its returns go.
    inline: Option<InlineExit>,
}

impl Scope {
    /// The scope of the method `s` on the frame at address `frame`.
    fn new(b: &mut FunctionBuilder, s: &Rc<Survey>, frame: Value, inline: Option<InlineExit>) -> Scope {
        // Operand slots in registers, unless there are very many (a brace
        // array of hundreds of elements).
        let slot_vars: Vec<Variable> = if s.max_stack as usize <= MAX_REGISTER_SLOTS {
            (0..s.max_stack).map(|_| b.declare_var(types::I64)).collect()
        } else {
            Vec::new()
        };
        let locals = Locals { num_args: s.num_args, num_temps: s.num_temps };
        // Locals live in SSA variables (registers) unless there are so many
        // that re-reading them all at every entry point and after every call
        // would make the code grow with locals x sends: then each use reads
        // the frame (they are written through anyway).
        let local_vars: Vec<Variable> = if locals.count() <= MAX_REGISTER_LOCALS {
            (0..locals.count()).map(|_| b.declare_var(types::I64)).collect()
        } else {
            Vec::new()
        };
        let shadow_count = |n: usize| if s.shadows { n } else { 0 };
        let slot_f64 = (0..shadow_count(slot_vars.len())).map(|_| b.declare_var(types::F64)).collect();
        let local_f64 = (0..shadow_count(local_vars.len())).map(|_| b.declare_var(types::F64)).collect();
        Scope {
            frame,
            temps: s.num_temps,
            num_args: s.num_args,
            blocks: s.ops.iter().map(|op| (op.pc, b.create_block())).collect(),
            s: s.clone(),
            slot_vars,
            locals,
            local_vars,
            slot_f64,
            local_f64,
            cur: Cur::default(),
            stub_pc: b.declare_var(types::I64),
            stub_depth: b.declare_var(types::I64),
            slow_stub: b.create_block(),
            exit_stub: b.create_block(),
            inline,
        }
    }
}

/// The bytecode being translated.
#[derive(Clone, Copy, Default)]
struct Cur {
    pc: usize,
    next_pc: usize,
    /// Operand stack depth before it.
    depth: u32,
    /// Operand stack depth after it.
    after: u32,
    /// The block of the next bytecode.
    next: Option<ir::Block>,
    /// The next bytecode's branch, when it is a conditional jump (on the
    /// Boolean this one pushes, if it pushes one).
    branch: Option<Branch>,
}

/// A conditional jump's destinations.
#[derive(Clone, Copy)]
struct Branch {
    when_true: bool,
    target: ir::Block,
    fall: ir::Block,
}

/// Whether a bytecode's code ended its block, or falls through to the next
/// bytecode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    FallThrough,
    Done,
}

struct Translator<'f> {
    b: FunctionBuilder<'f>,
    k: Constants,
    interp: Value,
    /// The method, or the callee inlined into it, being translated.
    m: Scope,
    /// The runtime record of the method compiled.
    owner: usize,
}

/// Where a frame keeps its locals: local 0 is `self`, then the arguments
/// (below the frame, in the caller's operand stack), then the temporaries.
#[derive(Clone, Copy)]
struct Locals {
    num_args: i32,
    num_temps: i32,
}

impl Locals {
    fn count(self) -> usize {
        (1 + self.num_args + self.num_temps) as usize
    }

    fn is_temp(self, i: usize) -> bool {
        i as i32 > self.num_args
    }

    /// Byte offset of local `i` from the frame.
    fn offset(self, i: usize) -> i32 {
        let i = i as i32;
        if i == 0 {
            offsets::SELF
        } else if i <= self.num_args {
            offsets::word(i - 1 - self.num_args)
        } else {
            offsets::TEMPS + offsets::word(i - 1 - self.num_args)
        }
    }
}

impl Translator<'_> {
    fn flags() -> MemFlagsData {
        MemFlagsData::trusted()
    }

    fn load(&mut self, addr: Value, offset: i32) -> Value {
        self.b.ins().load(types::I64, Self::flags(), addr, offset)
    }

    fn store(&mut self, v: Value, addr: Value, offset: i32) {
        self.b.ins().store(Self::flags(), v, addr, offset);
    }

    /// The frame's index in the frame stack.
    fn fp(&mut self) -> Value {
        let base = self.konst(self.k.stack_base);
        let bytes = self.b.ins().isub(self.m.frame, base);
        self.b.ins().ushr_imm_u(bytes, WORD_SHIFT)
    }

    /// A guard's condition `hit`, as the code tests it: in the stress mode
    /// every Nth guard evaluated fails (the countdown reaches 0 and starts
    /// again at N), so the code takes the path a real failure takes.
    fn guard(&mut self, hit: Value) -> Value {
        let Some((address, every)) = self.k.deopt_every else { return hit };
        let at = self.konst(address);
        let left = self.load(at, 0);
        let left = self.b.ins().iadd_imm_s(left, -1);
        let go_on = self.b.ins().icmp_imm_s(IntCC::NotEqual, left, 0);
        let again = self.konst(every);
        let next = self.b.ins().select(go_on, left, again);
        self.store(next, at, 0);
        self.b.ins().band(hit, go_on)
    }

    /// In the stress mode, a guard of its own before a fast path whose
    /// checks are not all guards of a failing kind (arithmetic: a failed
    /// SmallInteger check there tries Doubles): every Nth time the code goes
    /// to `exit`, the path a failed check takes.
    fn stress_exit(&mut self, exit: ir::Block) {
        if self.k.deopt_every.is_none() {
            return;
        }
        let yes = self.b.ins().iconst(types::I8, 1);
        let go_on = self.guard(yes);
        let next = self.b.create_block();
        self.b.ins().brif(go_on, next, &[], exit, &[]);
        self.b.switch_to_block(next);
    }

    fn konst(&mut self, bits: u64) -> Value {
        self.b.ins().iconst(types::I64, bits as i64)
    }

    /// Byte offset from the frame of operand-stack slot `depth`.
    fn slot(&self, depth: u32) -> i32 {
        offsets::TEMPS + offsets::word(self.m.temps + depth as i32)
    }

    fn get(&mut self, depth: u32) -> Value {
        match self.m.slot_vars.get(depth as usize) {
            Some(&var) => self.b.use_var(var),
            None => self.load(self.m.frame, self.slot(depth)),
        }
    }

    fn put(&mut self, depth: u32, v: Value) {
        let f = self.shadow_of(v);
        self.put_shadowed(depth, v, f);
    }

    /// Sets operand slot `depth` to `v`, whose unboxed double (if it is
    /// one) is `f`.
    fn put_shadowed(&mut self, depth: u32, v: Value, f: Option<Value>) {
        match self.m.slot_vars.get(depth as usize) {
            Some(&var) => self.b.def_var(var, v),
            None => {
                let off = self.slot(depth);
                self.store(v, self.m.frame, off);
            }
        }
        if let (Some(&var), Some(f)) = (self.m.slot_f64.get(depth as usize), f) {
            self.b.def_var(var, f);
        }
    }

    /// The unboxed double of `v` for a shadow, if shadows are kept.
    fn shadow_of(&mut self, v: Value) -> Option<Value> {
        if self.m.slot_f64.is_empty() { None } else { Some(self.unbox_float(v)) }
    }

    /// The double in operand slot `depth`, which holds SmallFloat `v`.
    fn float_in(&mut self, depth: u32, v: Value) -> Value {
        match self.m.slot_f64.get(depth as usize) {
            Some(&var) => self.b.use_var(var),
            None => self.unbox_float(v),
        }
    }

    /// The shadow of operand slot `depth`, if shadows are kept.
    fn slot_shadow(&mut self, depth: u32) -> Option<Value> {
        self.m.slot_f64.get(depth as usize).copied().map(|var| self.b.use_var(var))
    }

    /// Local `i` (see [`Locals`]).
    fn get_local(&mut self, i: usize) -> Value {
        match self.m.local_vars.get(i) {
            Some(&var) => self.b.use_var(var),
            None => self.load(self.m.frame, self.m.locals.offset(i)),
        }
    }

    /// The shadow of local `i`, if shadows are kept.
    fn local_shadow(&mut self, i: usize) -> Option<Value> {
        self.m.local_f64.get(i).copied().map(|var| self.b.use_var(var))
    }

    /// Sets local `i` to `v`, whose unboxed double is `f`.
    fn put_local_shadowed(&mut self, i: usize, v: Value, f: Option<Value>) {
        let off = self.m.locals.offset(i);
        self.store(v, self.m.frame, off);
        if let Some(&var) = self.m.local_vars.get(i) {
            self.b.def_var(var, v);
        }
        if let (Some(&var), Some(f)) = (self.m.local_f64.get(i), f) {
            self.b.def_var(var, f);
        }
    }

    /// The local of temporary `index`.
    fn temp_local(&self, index: u32) -> usize {
        1 + self.m.num_args as usize + index as usize
    }

    /// The local of argument `index`.
    fn arg_local(index: u32) -> usize {
        1 + index as usize
    }

    /// Reads every local from the frame again (after a call, which may
    /// have moved what they point to).
    fn reload_locals(&mut self) {
        for i in 0..self.m.local_vars.len() {
            let v = self.load(self.m.frame, self.m.locals.offset(i));
            self.b.def_var(self.m.local_vars[i], v);
            if let Some(&var) = self.m.local_f64.get(i) {
                let f = self.unbox_float(v);
                self.b.def_var(var, f);
            }
        }
    }

    fn field_offset(index: usize) -> i32 {
        vm::object::slot_offset(index) as i32
    }

    fn self_value(&mut self) -> Value {
        self.get_local(0)
    }

    /// Branches to `then` if `cond`, else continues in a fresh block.
    fn branch_or_continue(&mut self, cond: Value, then: ir::Block) {
        let cont = self.b.create_block();
        self.b.ins().brif(cond, then, &[], cont, &[]);
        self.b.switch_to_block(cont);
        // Its one predecessor is known.
        self.b.seal_block(cont);
    }

    /// Writes the operand slots below `depth` back to the frame (the
    /// temporaries are there already).
    fn flush(&mut self, depth: u32) {
        // Slots kept in the frame are there already.
        for d in 0..depth.min(self.m.slot_vars.len() as u32) {
            let v = self.get(d);
            let off = self.slot(d);
            self.store(v, self.m.frame, off);
        }
    }

    /// Reads the operand slots below `depth` from the frame (after a call,
    /// which may have moved what they point to).
    fn reload(&mut self, depth: u32) {
        for d in 0..depth.min(self.m.slot_vars.len() as u32) {
            let off = self.slot(d);
            let v = self.load(self.m.frame, off);
            self.put(d, v);
        }
    }

    /// Whether an interrupt is pending (an atomic load, so that it is read
    /// again on every pass).
    fn poll_interrupts(&mut self) -> Value {
        let at = self.konst(self.k.interrupts);
        self.b.ins().atomic_load(types::I64, Self::flags(), at)
    }

    /// The slow path of the current bytecode: its operands go back to the
    /// frame and the shared slow stub runs it in the interpreter (and goes
    /// on at the next bytecode, returns, or leaves).
    fn step(&mut self) -> Next {
        let cur = self.m.cur;
        self.flush(cur.depth);
        let pc = self.konst(cur.pc as u64);
        self.b.def_var(self.m.stub_pc, pc);
        let depth = self.konst(u64::from(cur.depth));
        self.b.def_var(self.m.stub_depth, depth);
        self.b.ins().jump(self.m.slow_stub, &[]);
        Next::Done
    }

    /// A block that runs the current bytecode's slow path (for fast paths
    /// to branch to); the fast path continues where it is.
    fn slow_block(&mut self) -> ir::Block {
        let here = self.b.current_block().expect("translating inside a block");
        let slow = self.b.create_block();
        self.b.switch_to_block(slow);
        self.step();
        self.b.switch_to_block(here);
        slow
    }

    /// A new activation of the scope's method, from the current block (its
    /// frame's header is written): temporaries nil, no operands; `self` and
    /// the arguments are `given` (an inlined call's values) or else read
    /// from the frame. Goes on at the first bytecode.
    fn start_fresh(&mut self, given: Option<(Value, &[Value])>) {
        let nil = self.konst(self.k.nil);
        let zero = self.konst(0);
        for i in 0..self.m.temps {
            self.store(nil, self.m.frame, offsets::TEMPS + offsets::word(i));
        }
        for i in 0..self.m.local_vars.len() {
            let v = match given {
                _ if self.m.locals.is_temp(i) => nil,
                Some((receiver, _)) if i == 0 => receiver,
                Some((_, args)) => args[i - 1],
                None => self.load(self.m.frame, self.m.locals.offset(i)),
            };
            self.b.def_var(self.m.local_vars[i], v);
        }
        for i in 0..self.m.slot_vars.len() {
            self.b.def_var(self.m.slot_vars[i], zero);
        }
        if !self.m.slot_f64.is_empty() || !self.m.local_f64.is_empty() {
            let zero_f = self.b.ins().f64const(0.0);
            for i in 0..self.m.slot_f64.len() {
                self.b.def_var(self.m.slot_f64[i], zero_f);
            }
            // Arguments and self may be doubles.
            for i in 0..self.m.local_f64.len() {
                let f = if self.m.locals.is_temp(i) {
                    zero_f
                } else {
                    let v = self.b.use_var(self.m.local_vars[i]);
                    values::unbox_float(&mut self.b, v)
                };
                self.b.def_var(self.m.local_f64[i], f);
            }
        }
        let first = self.m.blocks[&0];
        self.b.ins().jump(first, &[]);
    }

    /// The code of the scope's method: the entry points `resume`
    /// switches to (by `resume_pc`), each bytecode, and the shared stubs.
    fn emit_body(&mut self, resume: ir::Block, resume_pc: Variable) {
        let s = self.m.s.clone();
        let ops = &s.ops;
        // Resuming at a bytecode: a landing block per bytecode reads the
        // operands live there from the frame and goes to it (so the switch's
        // edges carry no values).
        self.b.switch_to_block(resume);
        let entries = leaders(ops);
        let mut landings: HashMap<usize, ir::Block> = HashMap::new();
        for op in ops.iter().filter(|op| op.depth != u32::MAX && entries.contains(&op.pc)) {
            let landing = self.b.create_block();
            landings.insert(op.pc, landing);
        }
        let starts: HashSet<usize> = ops.iter().map(|op| op.pc).collect();
        // Another bytecode: the interpreter goes on there (its frame is
        // written back).
        let elsewhere = self.b.create_block();
        let trap = self.b.create_block();
        let trap_call = self.b.func.dfg.block_call(trap, &[]);
        let table: Vec<ir::BlockCall> = (0..s.code_len)
            .map(|p| {
                let target = match landings.get(&p) {
                    Some(&landing) => landing,
                    None if starts.contains(&p) => elsewhere,
                    None => trap,
                };
                self.b.func.dfg.block_call(target, &[])
            })
            .collect();
        let jt = self.b.create_jump_table(JumpTableData::new(trap_call, &table));
        let target = self.b.use_var(resume_pc);
        let pc32 = self.b.ins().ireduce(types::I32, target);
        self.b.ins().br_table(pc32, jt);

        for op in ops.iter().filter(|op| landings.contains_key(&op.pc)) {
            self.b.switch_to_block(landings[&op.pc]);
            for i in 0..self.m.local_vars.len() {
                let v = self.load(self.m.frame, self.m.locals.offset(i));
                self.b.def_var(self.m.local_vars[i], v);
                if let Some(&var) = self.m.local_f64.get(i) {
                    let f = values::unbox_float(&mut self.b, v);
                    self.b.def_var(var, f);
                }
            }
            for i in 0..self.m.slot_vars.len().min(op.depth as usize) {
                let off = offsets::TEMPS + offsets::word(self.m.temps + i as i32);
                let v = self.load(self.m.frame, off);
                self.b.def_var(self.m.slot_vars[i], v);
                if let Some(&var) = self.m.slot_f64.get(i) {
                    let f = values::unbox_float(&mut self.b, v);
                    self.b.def_var(var, f);
                }
            }
            let block = self.m.blocks[&op.pc];
            self.b.ins().jump(block, &[]);
        }

        self.b.switch_to_block(elsewhere);
        let at = self.b.use_var(resume_pc);
        let fp = self.fp();
        self.store(fp, self.interp, self.k.layout.jit_fp);
        self.b.ins().return_(&[at]);

        self.b.switch_to_block(trap);
        self.b.ins().trap(TrapCode::unwrap_user(1));
        // Blocks whose predecessors are all known are sealed before they are
        // filled, so that values flow into them without block parameters.
        self.b.seal_block(trap);
        self.b.seal_block(elsewhere);
        for &landing in landings.values() {
            self.b.seal_block(landing);
        }
        let loop_heads: HashSet<usize> =
            ops.iter().filter_map(|op| op.insn.jump_target(op.pc, op.len).filter(|&t| t <= op.pc)).collect();

        for (i, op) in ops.iter().enumerate() {
            let block = self.m.blocks[&op.pc];
            self.b.switch_to_block(block);
            if !loop_heads.contains(&op.pc) {
                self.b.seal_block(block);
            }
            if op.depth == u32::MAX {
                // Unreachable from the method's start, so from anywhere.
                self.b.ins().trap(TrapCode::unwrap_user(2));
                continue;
            }
            let (pops, pushes) = op.insn.stack_effect();
            let branch = match ops.get(i + 1).map(|n| (n, n.insn)) {
                Some((n, Insn::JumpIfTrue { offset } | Insn::JumpIfFalse { offset })) => {
                    ops.get(i + 2).map(|after| Branch {
                        when_true: matches!(n.insn, Insn::JumpIfTrue { .. }),
                        target: self.m.blocks[&(n.pc + n.len + offset as usize)],
                        fall: self.m.blocks[&after.pc],
                    })
                }
                _ => None,
            };
            self.m.cur = Cur {
                pc: op.pc,
                next_pc: op.pc + op.len,
                depth: op.depth,
                after: op.depth - pops + pushes,
                next: ops.get(i + 1).map(|n| self.m.blocks[&n.pc]),
                branch,
            };
            if op.insn.visit(self) == Next::FallThrough {
                match self.m.cur.next {
                    Some(next) => {
                        self.b.ins().jump(next, &[]);
                    }
                    // Verified code does not fall off its end.
                    None => {
                        self.b.ins().trap(TrapCode::unwrap_user(3));
                    }
                }
            }
        }
        self.emit_stubs(resume_pc, resume, s.code_len);
    }

    /// The shared stubs (see the fields).
    fn emit_stubs(&mut self, resume_pc: Variable, resume: ir::Block, code_len: usize) {
        self.b.switch_to_block(self.m.slow_stub);
        self.store_stub_sp();
        let mut pc = self.b.use_var(self.m.stub_pc);
        if self.m.inline.is_some() {
            // Inlined: whose code this is (see `STEP_OWNER_SHIFT`).
            let owner = (self.owner as u64 + 1) << vm::runtime::STEP_OWNER_SHIFT;
            pc = self.b.ins().bor_imm_s(pc, owner as i64);
        }
        let fp = self.fp();
        let call = self.b.ins().call(self.k.step, &[self.interp, fp, pc]);
        let r = self.b.inst_results(call)[0];
        let in_frame = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, r, code_len as i64);
        let go_on = self.b.create_block();
        let other = self.b.create_block();
        self.b.ins().brif(in_frame, go_on, &[], other, &[]);
        self.b.switch_to_block(other);
        let returned = self.b.ins().icmp_imm_s(IntCC::Equal, r, RETURNED as i64);
        let left = self.konst(LEFT);
        if let Some(exit) = self.m.inline {
            // An inlined callee that returned goes on in its caller; LEFT
            // is handed on.
            let leave = self.b.create_block();
            self.b.ins().brif(returned, exit.returned, &[], leave, &[]);
            self.b.switch_to_block(leave);
            self.b.ins().return_(&[left]);
        } else {
            // RETURNED or LEFT: hand it on.
            let ret = self.konst(RETURNED);
            let result = self.b.ins().select(returned, ret, left);
            self.b.ins().return_(&[result]);
        }
        // Goes on in this frame: everything from the frame again, at the
        // offset the interpreter answered.
        self.b.switch_to_block(go_on);
        self.b.def_var(resume_pc, r);
        self.b.ins().jump(resume, &[]);

        self.b.switch_to_block(self.m.exit_stub);
        let fp = self.fp();
        self.store(fp, self.interp, self.k.layout.jit_fp);
        self.store_stub_sp();
        let pc = self.b.use_var(self.m.stub_pc);
        self.b.ins().return_(&[pc]);
    }

    /// Sets the interpreter's `sp` to the top of the operands the stubs'
    /// bytecode has (`stub_depth` above the temporaries).
    fn store_stub_sp(&mut self) {
        let depth = self.b.use_var(self.m.stub_depth);
        let fp = self.fp();
        let header = self.b.ins().iadd_imm_s(fp, (FRAME_HEADER as i32 + self.m.temps) as i64);
        let sp = self.b.ins().iadd(header, depth);
        self.store(sp, self.interp, self.k.layout.sp);
    }
}

/// A signature of `params` machine words and, if `returns`, a word result.
fn word_signature(call_conv: cranelift_codegen::isa::CallConv, params: usize, returns: bool) -> ir::Signature {
    let mut sig = ir::Signature::new(call_conv);
    sig.params.extend((0..params).map(|_| AbiParam::new(types::I64)));
    if returns {
        sig.returns.push(AbiParam::new(types::I64));
    }
    sig
}

/// The native signature: `(interp, fp, pc, frame) -> result`.
pub fn signature(call_conv: cranelift_codegen::isa::CallConv) -> ir::Signature {
    word_signature(call_conv, 4, true)
}

/// The signature of `mica_step` and `mica_primitive`.
pub fn step_signature(call_conv: cranelift_codegen::isa::CallConv) -> ir::Signature {
    word_signature(call_conv, 3, true)
}

/// The signature of `mica_bytes_equal`.
pub fn bytes_equal_signature(call_conv: cranelift_codegen::isa::CallConv) -> ir::Signature {
    word_signature(call_conv, 2, true)
}

/// The signature of `mica_barrier`.
pub fn barrier_signature(call_conv: cranelift_codegen::isa::CallConv) -> ir::Signature {
    word_signature(call_conv, 3, false)
}

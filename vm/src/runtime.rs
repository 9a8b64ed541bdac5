//! Per-method runtime data: inline caches (which are also the receiver-class
//! feedback the JIT reads) and invocation and back-edge counters.
//!
//! A method object points (slot `METHOD_CELL`) to a [`MethodCell`] in
//! writable memory outside it: the cell holds the index of the method's
//! runtime record, made on its first activation, and its native code. So
//! running, profiling and compiling a method never write into the method
//! object, and the pages of a mapped image stay clean.

use crate::value::Value;

/// How many receiver classes a polymorphic cache holds before it goes
/// megamorphic.
pub const IC_POLYMORPHIC_LIMIT: usize = 4;

/// One receiver class and the method it found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct IcEntry {
    /// The receiver class.
    pub class: Value,
    /// The method the lookup found (nil when the class does not understand
    /// the selector).
    pub method: Value,
    /// The address of the method's cell (0 for nil), so that native code
    /// reaches the method's code with one load.
    pub cell: u64,
    /// The method's runtime record (0 for nil), so that the interpreter
    /// reaches what a send needs without going through the method.
    pub rt: u64,
}

/// The state of one send site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcState {
    /// Never executed.
    Empty,
    /// One receiver class.
    Monomorphic,
    /// Two to [`IC_POLYMORPHIC_LIMIT`] classes.
    Polymorphic,
    /// More: sends go through the global lookup cache.
    Megamorphic,
}

/// An inline cache: the classes seen at one send site. Native code reads it
/// at run time (its entries are data, never patched code), so its layout is
/// fixed (`ic_layout`); entries past `len` hold a class word that is no
/// class, so native code may compare all of them.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct InlineCache {
    /// Number of valid entries.
    pub len: u8,
    /// Set once more than [`IC_POLYMORPHIC_LIMIT`] classes were seen.
    pub megamorphic: bool,
    /// Entries when the method's native code was made (it knows those
    /// classes; a cache that learnt more since makes the site go to the
    /// interpreter for them, until the method is compiled again).
    pub compiled_len: u8,
    /// A special arithmetic or comparison site that has seen SmallFloats
    /// (so native code keeps unboxed doubles for it).
    pub saw_float: bool,
    /// Sends that found their class in the cache.
    pub hits: u64,
    /// Sends that did not.
    pub misses: u64,
    /// Entries, most recent last; only the first `len` are valid. (After
    /// the counts, so that a monomorphic hit reads and writes one cache
    /// line: the cache is aligned to one.)
    pub entries: [IcEntry; IC_POLYMORPHIC_LIMIT],
}

/// Byte offsets in an [`InlineCache`] and its entries, for native code.
pub mod ic_layout {
    use super::{IcEntry, InlineCache};
    /// Bytes per entry.
    pub const ENTRY: i32 = size_of::<IcEntry>() as i32;
    /// The first entry.
    pub const ENTRIES: i32 = std::mem::offset_of!(InlineCache, entries) as i32;
    /// An entry's class.
    pub const CLASS: i32 = std::mem::offset_of!(IcEntry, class) as i32;
    /// An entry's method.
    pub const METHOD: i32 = std::mem::offset_of!(IcEntry, method) as i32;
    /// An entry's cell address.
    pub const CELL: i32 = std::mem::offset_of!(IcEntry, cell) as i32;
    /// The hit count.
    pub const HITS: i32 = std::mem::offset_of!(InlineCache, hits) as i32;
    /// The `saw_float` byte.
    pub const SAW_FLOAT: i32 = std::mem::offset_of!(InlineCache, saw_float) as i32;
}

/// The class word of an unused cache entry: a special value, never a class.
const NO_CLASS: Value = Value::UNBOUND;

impl InlineCache {
    fn new(nil: Value) -> InlineCache {
        InlineCache {
            entries: [IcEntry { class: NO_CLASS, method: nil, cell: 0, rt: 0 }; IC_POLYMORPHIC_LIMIT],
            len: 0,
            megamorphic: false,
            compiled_len: 0,
            saw_float: false,
            hits: 0,
            misses: 0,
        }
    }

    /// An empty cache (for tests of the transitions).
    pub fn new_for_tests(placeholder: Value) -> InlineCache {
        InlineCache::new(placeholder)
    }

    /// The cache state.
    pub fn state(&self) -> IcState {
        match (self.megamorphic, self.len) {
            (true, _) => IcState::Megamorphic,
            (false, 0) => IcState::Empty,
            (false, 1) => IcState::Monomorphic,
            _ => IcState::Polymorphic,
        }
    }

    /// The method cached for `class`, if any, with its runtime record.
    #[inline(always)]
    pub fn find(&self, class: Value) -> Option<(Value, usize)> {
        self.entries[..self.len as usize].iter().find(|e| e.class == class).map(|e| (e.method, e.rt as usize))
    }

    /// Records a lookup result: monomorphic, then polymorphic, then
    /// megamorphic (which keeps no entries). `cell` is the method's cell
    /// address and `rt` its runtime record (0 for nil).
    pub fn record(&mut self, class: Value, method: Value, cell: u64, rt: usize) {
        if self.megamorphic {
            return;
        }
        if (self.len as usize) < IC_POLYMORPHIC_LIMIT {
            self.entries[self.len as usize] = IcEntry { class, method, cell, rt: rt as u64 };
            self.len += 1;
        } else {
            self.megamorphic = true;
            self.reset_entries();
        }
    }

    fn reset_entries(&mut self) {
        self.len = 0;
        for e in &mut self.entries {
            e.class = NO_CLASS;
            e.cell = 0;
        }
    }

    /// Forgets everything (after a method dictionary changed).
    pub fn clear(&mut self) {
        self.reset_entries();
        self.megamorphic = false;
        self.compiled_len = 0;
    }

    /// Whether native code compiled with this cache's first
    /// `compiled_len` entries misses classes it has learnt since.
    pub fn outgrown(&self) -> bool {
        self.compiled_len > 0 && self.len > self.compiled_len && !self.megamorphic
    }
}

/// A method simple enough to run without a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trivial {
    /// Needs a frame.
    No,
    /// `^self`
    ReturnSelf,
    /// `^field`
    Getter(u32),
    /// `field := argument` (answers self)
    Setter(u32),
    /// `^literal` (a literal or small constant)
    Constant(Value),
}

/// [`Trivial::word`] kinds (the low byte; a field index above it).
pub mod trivial_kind {
    /// Needs a frame.
    pub const NO: u64 = 0;
    /// `^self`
    pub const RETURN_SELF: u64 = 1;
    /// `^field`
    pub const GETTER: u64 = 2;
    /// `field := argument`
    pub const SETTER: u64 = 3;
    /// `^constant` (the value in the cell's `constant`)
    pub const CONSTANT: u64 = 4;
}

impl Trivial {
    /// The kind in the low byte, a field index above it, for native code.
    pub fn word(self) -> u64 {
        match self {
            Trivial::No => trivial_kind::NO,
            Trivial::ReturnSelf => trivial_kind::RETURN_SELF,
            Trivial::Getter(i) => trivial_kind::GETTER | u64::from(i) << 8,
            Trivial::Setter(i) => trivial_kind::SETTER | u64::from(i) << 8,
            Trivial::Constant(_) => trivial_kind::CONSTANT,
        }
    }

    /// Recognises trivial bytecode (narrow encodings only).
    pub fn of(code: &[u8], literals: Value, nil: Value, true_: Value, false_: Value) -> Trivial {
        use crate::bytecode::Opcode as O;
        let b = |op: O| op.byte();
        match code {
            [x] if *x == b(O::ReturnSelf) => Trivial::ReturnSelf,
            [p, i, r] if *p == b(O::PushField) && *r == b(O::Return) => Trivial::Getter(u32::from(*i)),
            [a, 0, p, i, r] if *a == b(O::PushArg) && *p == b(O::PopField) && *r == b(O::ReturnSelf) => {
                Trivial::Setter(u32::from(*i))
            }
            [p, i, r] if *p == b(O::PushLiteral) && *r == b(O::Return) && (*i as usize) < literals.size() => {
                Trivial::Constant(literals.slot(*i as usize))
            }
            [p, v, r] if *p == b(O::PushInteger) && *r == b(O::Return) => {
                Trivial::Constant(Value::small(i64::from(*v as i8)))
            }
            [p, r] if *r == b(O::Return) && *p == b(O::PushNil) => Trivial::Constant(nil),
            [p, r] if *r == b(O::Return) && *p == b(O::PushTrue) => Trivial::Constant(true_),
            [p, r] if *r == b(O::Return) && *p == b(O::PushFalse) => Trivial::Constant(false_),
            _ => Trivial::No,
        }
    }
}

/// Native code of a method: runs the method's activation at frame `fp`
/// (whose first word is at `frame`) from bytecode offset `pc`. `context` is
/// the interpreter (opaque to this crate), which native code passes to the
/// runtime functions it calls.
/// Answers [`NATIVE_RETURNED`], [`NATIVE_LEFT`], or the offset of a
/// bytecode it leaves to the interpreter (having stored the stack pointer
/// and its frame in the universe).
pub type NativeFn = unsafe extern "C" fn(context: *mut std::ffi::c_void, fp: u64, pc: u64, frame: *mut Value) -> u64;

/// What native code answers when the activation it ran has returned.
pub const NATIVE_RETURNED: u64 = u64::MAX;

/// What native code answers when the interpreter has taken over: a runtime
/// function it called set the interpreter's registers (a frame was pushed
/// or popped, an error is pending, or an edit invalidated the code).
pub const NATIVE_LEFT: u64 = u64::MAX - 1;

/// The bits above this in the offset native code passes to the runtime's
/// one-bytecode step: 0 for a method's own code, or 1 + the runtime index
/// of the method whose code the bytecode's method was inlined into (so
/// that exits from inlined code count against the code that has them).
pub const STEP_OWNER_SHIFT: u32 = 32;

/// Where a method stands with the JIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JitState {
    /// Not compiled (yet).
    Interpreted,
    /// Being compiled in the background; interpreted until the code comes.
    Queued,
    /// Has native code.
    Compiled,
    /// Compilation was tried and failed; stays interpreted.
    Failed,
}

/// What the interpreter needs of a method at every call, read once from the
/// method object.
#[derive(Clone, Copy, Debug)]
pub struct MethodInfo {
    /// The bytecode (bytes of an old-space ByteArray the method keeps alive;
    /// old space never moves).
    pub code: *const u8,
    /// Bytecode length.
    pub code_len: usize,
    /// The literal Array.
    pub literals: Value,
    /// Arguments.
    pub num_args: u32,
    /// Temporaries.
    pub num_temps: u32,
    /// Operand stack slots.
    pub max_stack: u32,
    /// `CodeFlags` bits.
    pub flags: u8,
    /// Primitive number (0: none).
    pub primitive: u32,
    /// A `primitive` method with no implementation.
    pub missing_primitive: bool,
    /// Whether it can run without a frame.
    pub trivial: Trivial,
    /// Native code, once compiled.
    pub native: Option<NativeFn>,
    /// Whether the native code inlined what sends found (and so must be
    /// thrown away when any method dictionary changes).
    pub speculative: bool,
    /// JIT state.
    pub jit: JitState,
}

/// Runtime data of one method or block. What a send and a frame push read
/// (the info, the activation count, the caches) comes first, from a cache
/// line's start.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct MethodRuntime {
    /// Its metadata.
    pub info: MethodInfo,
    /// Activations so far.
    pub invocations: u64,
    /// Loop back-edges taken so far.
    pub backedges: u64,
    /// One cache per send site.
    pub ics: Box<[InlineCache]>,
    /// The method.
    pub method: Value,
    /// Sends native code left to the interpreter at sites whose inline
    /// cache learnt classes after the code was made.
    pub outgrown_exits: u64,
    /// Whether some inline cache may have learnt classes since the native
    /// code was made (so that an exit from native code looks at its site;
    /// most exits need not decode their bytecode).
    pub ics_outgrown: bool,
    /// Code compiled before its send sites had run (eager compilation):
    /// how many of the sites whose caches were empty then must still meet
    /// their first receiver before the method is compiled again with that
    /// feedback (0: not waiting).
    pub awaiting_feedback: u32,
    /// Times the native code was thrown away to be made again with what
    /// the inline caches learnt.
    pub recompilations: u32,
    /// Classes and methods the native code refers to (what its inline
    /// caches held when it was made): kept alive for it, so that no other
    /// object takes their address while the code may compare with it.
    pub native_refs: Vec<Value>,
    /// The lookups the native code relied on (selector, receiver class):
    /// it inlined what they found, so a change of what one of them would
    /// find throws the code away (and nothing else does).
    pub native_deps: Vec<(Value, Value)>,
    /// The bytecode offsets native code can be entered at, one bit each (a
    /// slow path that ends between them leaves the frame to the
    /// interpreter, which enters the code again at the next one).
    pub native_entries: Box<[u64]>,
    /// The method's cell, whose address never changes, so that native
    /// callers can read the code address and frame sizes at run time.
    pub cell: std::ptr::NonNull<MethodCell>,
}

/// What the VM keeps for a method outside the method object, at a fixed
/// address: all zero until the method first runs (which is what the runtime
/// area of a freshly mapped image holds).
///
/// ```text
///  +0  code       native code address (0: none)
///  +8  runtime    index of the runtime record + 1 (0: none yet)
/// +16  num_args   \
/// +24  num_temps   > copied from the method when the record is made
/// +32  max_stack  /
/// +40  primitive  the primitive number (0: none), likewise
/// +48  trivial    a frameless method's kind and field (see `trivial_word`)
/// +56  constant   the value a `^constant` method answers
/// ```
#[derive(Debug, Default)]
#[repr(C)]
pub struct MethodCell {
    /// The native code (0: none).
    pub code: std::cell::Cell<usize>,
    /// The runtime record's index + 1 (0: not made yet).
    pub runtime: std::cell::Cell<u64>,
    /// Arguments.
    pub num_args: std::cell::Cell<u64>,
    /// Temporaries.
    pub num_temps: std::cell::Cell<u64>,
    /// Operand stack slots.
    pub max_stack: std::cell::Cell<u64>,
    /// The primitive number (0: not a primitive).
    pub primitive: std::cell::Cell<u64>,
    /// What a frameless method does (see [`Trivial::word`]), so that native
    /// code that finds it in an inline cache at run time runs it inline.
    pub trivial: std::cell::Cell<u64>,
    /// The value of a [`Trivial::Constant`] method.
    pub constant: std::cell::Cell<u64>,
}

/// Bytes per [`MethodCell`] (the image writer lays cells out at this pitch).
pub const METHOD_CELL_BYTES: usize = 64;
const _: () = assert!(size_of::<MethodCell>() == METHOD_CELL_BYTES && align_of::<MethodCell>() == 8);

/// Byte offsets in a [`MethodCell`], for native code.
pub mod code_cell {
    /// The code address.
    pub const CODE: i32 = std::mem::offset_of!(super::MethodCell, code) as i32;
    /// The runtime index + 1.
    pub const RUNTIME: i32 = std::mem::offset_of!(super::MethodCell, runtime) as i32;
    /// The argument count.
    pub const NUM_ARGS: i32 = std::mem::offset_of!(super::MethodCell, num_args) as i32;
    /// The temporary count.
    pub const NUM_TEMPS: i32 = std::mem::offset_of!(super::MethodCell, num_temps) as i32;
    /// The operand stack size.
    pub const MAX_STACK: i32 = std::mem::offset_of!(super::MethodCell, max_stack) as i32;
    /// The primitive number.
    pub const PRIMITIVE: i32 = std::mem::offset_of!(super::MethodCell, primitive) as i32;
    /// The frameless kind.
    pub const TRIVIAL: i32 = std::mem::offset_of!(super::MethodCell, trivial) as i32;
    /// The constant a frameless method answers.
    pub const CONSTANT: i32 = std::mem::offset_of!(super::MethodCell, constant) as i32;
}

/// Cells for methods made at run time: fixed addresses, never freed (like
/// the runtime records).
#[derive(Debug, Default)]
pub struct CellArena {
    chunks: Vec<Box<[MethodCell]>>,
    used: usize,
}

const CELLS_PER_CHUNK: usize = 1024;

impl CellArena {
    /// A fresh zeroed cell.
    pub fn alloc(&mut self) -> std::ptr::NonNull<MethodCell> {
        if self.chunks.is_empty() || self.used == CELLS_PER_CHUNK {
            self.chunks.push((0..CELLS_PER_CHUNK).map(|_| MethodCell::default()).collect());
            self.used = 0;
        }
        let chunk = self.chunks.last().expect("a chunk was just ensured");
        let cell = std::ptr::NonNull::from(&chunk[self.used]);
        self.used += 1;
        cell
    }
}

/// The tagged value a method's `METHOD_CELL` slot holds for `cell`.
pub fn cell_slot_value(cell: std::ptr::NonNull<MethodCell>) -> Value {
    // Cells are 8-aligned: `address | 1` is a SmallInteger.
    Value::from_bits(cell.as_ptr() as u64 | 1)
}

/// The cell a `METHOD_CELL` slot value points to.
pub fn cell_of_slot(v: Value) -> *const MethodCell {
    (v.bits() & !1) as *const MethodCell
}

impl MethodRuntime {
    /// The method's cell.
    pub fn cell(&self) -> &MethodCell {
        // SAFETY: cells live as long as the VM (arena cells are never freed,
        // image runtime areas stay mapped), and the VM is single-threaded.
        unsafe { self.cell.as_ref() }
    }

    /// Publishes (or, with `None`, withdraws) native code.
    pub fn set_native(&mut self, code: Option<NativeFn>) {
        self.info.native = code;
        self.cell().code.set(code.map_or(0, |f| f as usize));
    }

    /// Fresh data for `method` with `num_ics` send sites and cell `cell`
    /// (which gets the frame sizes and, by the caller, the record's index).
    pub fn new(method: Value, info: MethodInfo, num_ics: usize, cell: std::ptr::NonNull<MethodCell>) -> MethodRuntime {
        // Entries start as the method itself: any non-class value works as
        // "no class", and it needs no nil at hand.
        let record = MethodRuntime {
            method,
            info,
            ics: vec![InlineCache::new(method); num_ics].into_boxed_slice(),
            invocations: 0,
            backedges: 0,
            outgrown_exits: 0,
            awaiting_feedback: 0,
            ics_outgrown: false,
            recompilations: 0,
            native_refs: Vec::new(),
            native_deps: Vec::new(),
            native_entries: Box::new([]),
            cell,
        };
        let c = record.cell();
        c.code.set(0);
        c.num_args.set(u64::from(info.num_args));
        c.num_temps.set(u64::from(info.num_temps));
        c.max_stack.set(u64::from(info.max_stack));
        // Native code calls the primitive through `mica_primitive` when it
        // can; the others it leaves to the interpreter's send at once.
        let callable = crate::primitives::native_callable(info.primitive as usize);
        c.primitive.set(if callable { u64::from(info.primitive) } else { 0 });
        let home = info.flags & crate::bytecode::CodeFlags::HOME_CONTEXT.bits() != 0;
        c.trivial.set(if home || info.missing_primitive || info.primitive != 0 { 0 } else { info.trivial.word() });
        if let Trivial::Constant(v) = info.trivial {
            c.constant.set(v.bits());
        }
        record
    }

    /// Throws away native code that inlined lookup results (the method
    /// goes back to the interpreter and may be compiled again once hot);
    /// answers whether there was such code.
    pub fn discard_speculative(&mut self) -> bool {
        if !(self.info.speculative && self.info.native.is_some()) {
            return false;
        }
        self.set_native(None);
        self.info.speculative = false;
        self.info.jit = JitState::Interpreted;
        self.invocations = 0;
        self.backedges = 0;
        true
    }

    /// Whether native code can be entered at bytecode offset `pc`.
    #[inline(always)]
    pub fn native_entry(&self, pc: usize) -> bool {
        self.native_entries.get(pc / 64).is_some_and(|w| w >> (pc % 64) & 1 != 0)
    }

    /// Shows the collector every value held.
    pub fn visit(&mut self, visit: &mut dyn FnMut(&mut Value)) {
        visit(&mut self.method);
        visit(&mut self.info.literals);
        for v in &mut self.native_refs {
            visit(v);
        }
        for (selector, class) in &mut self.native_deps {
            visit(selector);
            visit(class);
        }
        if let Trivial::Constant(v) = &mut self.info.trivial {
            visit(v);
            let bits = v.bits();
            self.cell().constant.set(bits);
        }
        for ic in self.ics.iter_mut() {
            for e in ic.entries.iter_mut() {
                if e.class != NO_CLASS {
                    visit(&mut e.class);
                }
                visit(&mut e.method);
            }
        }
    }
}

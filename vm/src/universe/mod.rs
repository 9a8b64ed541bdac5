//! The universe: the heap with everything that roots it — the frame stack,
//! handles, symbols, globals, the well-known objects and the runtime tables
//! — and the operations every tier shares: allocation, interning, class
//! lookup, method installation.

mod bootstrap;
mod classes;
mod edits;
mod install;
mod namespaces;
mod numbers;
mod strings;

use std::collections::{HashMap, HashSet};

use crate::heap::{GcStats, Heap, HeapConfig, Roots};
use crate::layout::*;
use crate::object::Format;
use crate::runtime::{MethodInfo, MethodRuntime, Trivial};
use crate::value::Value;
pub use bootstrap::Spec;
pub use edits::INLINED_SELECTORS;
pub use install::KERNEL_SOURCES;

pub use bootstrap::{Known, is_vm_class_name, kernel_version};
pub use install::InstallError;
pub use namespaces::{ExportLookup, NamespaceData, NamespaceId};

/// Errors of the universe's operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmError {
    /// The heap cannot grow.
    OutOfMemory {
        /// Bytes asked for.
        bytes: usize,
    },
    /// The heap reached its limit (`--max-heap`), even after a full
    /// collection.
    HeapLimit {
        /// Bytes asked for.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
}

impl std::fmt::Display for VmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VmError::OutOfMemory { bytes } => write!(f, "Out of memory (allocating {bytes} bytes)."),
            VmError::HeapLimit { bytes, limit } => write!(
                f,
                "Out of memory: the heap reached its limit of {} (--max-heap) while allocating {bytes} bytes.",
                show_bytes(*limit)
            ),
        }
    }
}

/// `n` bytes for people: `512 KiB`, `64 MiB`, `1.5 GiB`.
pub fn show_bytes(n: usize) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 { format!("{value} {}", UNITS[unit]) } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// Bytes above the heap limit that a program may use once it has been
/// told it is out of memory, so that its handler can run; the limit holds
/// again once a collection brings the heap below it.
pub fn memory_reserve(limit: usize) -> usize {
    (limit / 8).clamp(1 << 20, 64 << 20)
}

impl std::error::Error for VmError {}

/// Result of universe operations.
pub type Result<T> = std::result::Result<T, VmError>;

/// A rooted value: an index into the handle stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle(usize);

/// A long-lived root, kept until unpinned (a process the scheduler knows,
/// say): an index into the pin table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PinId(u32);

/// Configuration of a universe.
#[derive(Clone, Copy, Debug)]
pub struct UniverseConfig {
    /// Heap sizes and stress mode.
    pub heap: HeapConfig,
    /// Words of frame stack.
    pub stack_words: usize,
}

impl Default for UniverseConfig {
    fn default() -> Self {
        UniverseConfig { heap: HeapConfig::default(), stack_words: 64 << 20 }
    }
}

const LOOKUP_CACHE_SIZE: usize = 4096;

/// Everything a running program's objects hang from.
pub struct Universe {
    /// The heap.
    pub heap: Heap,
    /// Frame stack memory: every word below `sp` is a valid value.
    pub stack: Box<[Value]>,
    /// Number of live words of `stack`.
    pub sp: usize,
    handles: Vec<Value>,
    /// Pinned values (free entries hold nil).
    pins: Vec<Value>,
    free_pins: Vec<u32>,
    symbols: HashMap<Box<str>, Value>,
    /// Namespaces, by `NamespaceId`.
    namespaces: Vec<NamespaceData>,
    /// Namespace descriptors (what classes point to) to their ids.
    namespace_ids: HashMap<Value, NamespaceId>,
    /// The well-known objects.
    pub known: Known,
    /// Per-method runtime data (inline caches, counters), by runtime index.
    pub runtimes: Vec<MethodRuntime>,
    /// Cells of methods made at run time.
    cells: crate::runtime::CellArena,
    /// The mapped images, in the order they were loaded.
    pub images: Vec<crate::image::LoadedImage>,
    lookup_cache: Vec<(Value, Value, Value)>,
    /// Bumped whenever a method dictionary changes.
    pub method_epoch: u64,
    /// Native code thrown away because what it assumed changed, by reason.
    pub deoptimizations: crate::deopt::DeoptCounts,
    /// The namespace of the program's main class (`Program` for a program
    /// from source, its image's namespace under `mica run`): `system
    /// global:` looks there before `Program`.
    pub main_namespace: NamespaceId,
    /// Set by native code when it leaves: the frame the interpreter goes on
    /// with (a callee's, when a native call did not finish natively).
    pub jit_fp: usize,
    /// Native calls in progress (bounded, so native code never exhausts the
    /// native stack).
    pub native_depth: usize,
    /// Where the program's output goes.
    pub output: crate::primitives::Output,
    /// Requests for the program's thread (timers), polled at safepoints.
    pub interrupts: std::sync::Arc<crate::interrupts::Interrupts>,
    /// Whether the program may use the reserve above the heap limit (it
    /// was told it is out of memory, and its handler runs).
    pub in_memory_reserve: bool,
}

impl Universe {
    /// Pushes a root; it stays valid (and is updated by collections) until
    /// released.
    pub fn handle(&mut self, v: Value) -> Handle {
        self.handles.push(v);
        Handle(self.handles.len() - 1)
    }

    /// The value of a handle.
    pub fn get(&self, h: Handle) -> Value {
        self.handles[h.0]
    }

    /// Overwrites a handle.
    pub fn set(&mut self, h: Handle, v: Value) {
        self.handles[h.0] = v;
    }

    /// The handle mark to release to later.
    pub fn handle_mark(&self) -> usize {
        self.handles.len()
    }

    /// Releases every handle made since `mark`.
    pub fn release_handles(&mut self, mark: usize) {
        self.handles.truncate(mark);
    }

    /// Pins `v`: it stays alive, and is updated by collections, until
    /// unpinned.
    pub fn pin(&mut self, v: Value) -> PinId {
        match self.free_pins.pop() {
            Some(i) => {
                self.pins[i as usize] = v;
                PinId(i)
            }
            None => {
                self.pins.push(v);
                PinId(self.pins.len() as u32 - 1)
            }
        }
    }

    /// The value of a pin.
    pub fn pinned(&self, id: PinId) -> Value {
        self.pins[id.0 as usize]
    }

    /// Releases a pin (its id may be handed out again).
    pub fn unpin(&mut self, id: PinId) {
        self.pins[id.0 as usize] = self.known.nil;
        self.free_pins.push(id.0);
    }

    /// Pushes a value on the frame stack.
    #[inline]
    pub fn push(&mut self, v: Value) {
        self.stack[self.sp] = v;
        self.sp += 1;
    }

    /// Pops a value from the frame stack.
    #[inline]
    pub fn pop(&mut self) -> Value {
        self.sp -= 1;
        self.stack[self.sp]
    }

    /// The value `depth` below the top of the frame stack (0: the top).
    #[inline]
    pub fn peek(&self, depth: usize) -> Value {
        self.stack[self.sp - 1 - depth]
    }

    /// nil.
    #[inline(always)]
    pub fn nil(&self) -> Value {
        self.known.nil
    }

    /// true or false.
    #[inline(always)]
    pub fn boolean(&self, b: bool) -> Value {
        if b { self.known.true_ } else { self.known.false_ }
    }

    /// The class of any value.
    #[inline(always)]
    pub fn class_of(&self, v: Value) -> Value {
        if v.is_int() {
            self.known.integer
        } else if v.is_pointer() {
            v.class_word()
        } else if v.is_small_float() {
            self.known.double
        } else {
            self.known.character
        }
    }

    /// Allocates an object of `size` (slots or bytes) of `class`, with
    /// pointer slots nil and bytes zero. May collect: every unrooted value
    /// the caller holds is stale afterwards.
    #[inline]
    pub fn alloc(&mut self, class: Value, format: Format, size: usize) -> Result<Value> {
        match self.heap.try_alloc_young(class, format, size) {
            Some(v) => Ok(v),
            None => self.alloc_slow(class, format, size),
        }
    }

    #[cold]
    fn alloc_slow(&mut self, class: Value, format: Format, size: usize) -> Result<Value> {
        let mark = self.handle_mark();
        let h = self.handle(class);
        let bytes = (crate::object::HEADER_WORDS + format.body_words(size)) * 8;
        let large = bytes >= self.heap.config().large_object_bytes;
        if !large {
            self.collect_young()?;
        }
        let mut full = false;
        if self.heap.full_collection_due() {
            self.collect_full()?;
            full = true;
        }
        let limited = self.check_limit(if large { bytes } else { 0 }, bytes, full);
        let class = self.get(h);
        self.release_handles(mark);
        limited?;
        if !large && let Some(v) = self.heap.try_alloc_young(class, format, size) {
            return Ok(v);
        }
        self.heap.alloc_old(class, format, size).map_err(|e| VmError::OutOfMemory { bytes: e.bytes })
    }

    /// Allocates in old space (classes, methods, literals): never moves and
    /// never collects.
    pub fn alloc_old(&mut self, class: Value, format: Format, size: usize) -> Result<Value> {
        let bytes = (crate::object::HEADER_WORDS + format.body_words(size)) * 8;
        if self.heap.held_bytes() + bytes > self.heap_limit() {
            return Err(VmError::HeapLimit { bytes, limit: self.heap.config().max_bytes });
        }
        self.heap.alloc_old(class, format, size).map_err(|e| VmError::OutOfMemory { bytes: e.bytes })
    }

    /// The bytes the heap may hold now: its limit, and the reserve above it
    /// while a program handles running out of memory.
    fn heap_limit(&self) -> usize {
        let max = self.heap.config().max_bytes;
        if self.in_memory_reserve { max.saturating_add(memory_reserve(max)) } else { max }
    }

    /// Fails if the heap, with `bytes` more in old space, would pass its
    /// limit even after a full collection (made unless `collected` says
    /// one just was); `asked` is the allocation's size, for the message.
    /// Leaves the reserve once the heap is below its limit again.
    fn check_limit(&mut self, bytes: usize, asked: usize, collected: bool) -> Result<()> {
        let max = self.heap.config().max_bytes;
        if self.heap.held_bytes() + bytes <= max {
            self.in_memory_reserve = false;
            return Ok(());
        }
        if !collected {
            self.collect_full()?;
            if self.heap.held_bytes() + bytes <= max {
                self.in_memory_reserve = false;
                return Ok(());
            }
        }
        if self.heap.held_bytes() + bytes <= self.heap_limit() {
            return Ok(());
        }
        Err(VmError::HeapLimit { bytes: asked, limit: max })
    }

    /// Every heap object the program reaches — from the roots, and from
    /// image objects it wrote into — without passing through an object of
    /// `barrier` (as bits). Object graphs use it to tell the objects
    /// reachable only through their roots from those shared with the rest
    /// of the program.
    pub fn reachable_avoiding(&mut self, barrier: &HashSet<u64>) -> HashSet<u64> {
        let mut seen: HashSet<u64> = HashSet::new();
        let mut stack: Vec<Value> = Vec::new();
        let (heap, mut roots) = self.split();
        let heap = &*heap;
        let reach = |v: Value, seen: &mut HashSet<u64>, stack: &mut Vec<Value>| {
            if v.is_pointer() && !heap.in_image(v) && !barrier.contains(&v.bits()) && seen.insert(v.bits()) {
                stack.push(v);
            }
        };
        roots.visit_roots(&mut |slot| reach(*slot, &mut seen, &mut stack));
        // Image objects the program has not written into refer only to
        // image objects.
        for &obj in heap.written_image_object_list() {
            for i in 0..if obj.format().has_pointers() { obj.size() } else { 0 } {
                reach(Value::from_bits(obj.body_word(i)), &mut seen, &mut stack);
            }
        }
        while let Some(obj) = stack.pop() {
            reach(obj.class_word(), &mut seen, &mut stack);
            if obj.format().has_pointers() {
                for i in 0..obj.size() {
                    reach(Value::from_bits(obj.body_word(i)), &mut seen, &mut stack);
                }
            }
        }
        seen
    }

    fn split(&mut self) -> (&mut Heap, UniverseRoots<'_>) {
        let roots = UniverseRoots {
            stack: &mut self.stack[..self.sp],
            handles: &mut self.handles,
            pins: &mut self.pins,
            symbols: &mut self.symbols,
            namespaces: &mut self.namespaces,
            known: &mut self.known,
            runtimes: &mut self.runtimes,
        };
        (&mut self.heap, roots)
    }

    /// Collects the nursery.
    pub fn collect_young(&mut self) -> Result<()> {
        let (heap, mut roots) = self.split();
        let result = heap.collect_young(&mut roots);
        self.after_collection(false);
        result.map_err(|e| VmError::OutOfMemory { bytes: e.bytes })
    }

    /// Collects everything.
    pub fn collect_full(&mut self) -> Result<()> {
        let (heap, mut roots) = self.split();
        let result = heap.collect_full(&mut roots);
        self.after_collection(true);
        // Freed classes and methods may be reused at the same address.
        self.flush_lookup_cache();
        result.map_err(|e| VmError::OutOfMemory { bytes: e.bytes })
    }

    /// In stress mode, checks the roots after every collection and the
    /// whole heap after full ones.
    fn after_collection(&mut self, full: bool) {
        if !self.heap.config().stress {
            return;
        }
        let result = if full {
            self.verify_heap()
        } else {
            let (heap, mut roots) = self.split();
            heap.verify_roots(&mut roots)
        };
        if let Err(problem) = result {
            panic!("heap verification failed after a collection: {problem}");
        }
    }

    /// Verifies the heap and its roots.
    pub fn verify_heap(&mut self) -> std::result::Result<(), String> {
        let (heap, mut roots) = self.split();
        heap.verify(&mut roots)
    }

    /// Collection counters.
    pub fn gc_stats(&self) -> GcStats {
        self.heap.stats()
    }

    // ---- method lookup ------------------------------------------------------

    /// The method `class` (or a superclass) has for `selector`, or nil.
    pub fn lookup(&mut self, class: Value, selector: Value) -> Value {
        let slot = ((class.addr() >> 3) ^ (selector.addr() >> 3).wrapping_mul(31)) & (LOOKUP_CACHE_SIZE - 1);
        let (c, s, m) = self.lookup_cache[slot];
        if c == class && s == selector {
            return m;
        }
        let m = self.lookup_uncached(class, selector);
        self.lookup_cache[slot] = (class, selector, m);
        m
    }

    /// Method lookup without the cache: the class and its superclasses,
    /// then, for a chain through Object, `ObjectExtensions` (the methods
    /// every object understands beyond SOM's Object protocol, which SOM's
    /// suites count).
    pub fn lookup_uncached(&self, mut class: Value, selector: Value) -> Value {
        let nil = self.nil();
        let mut passed_object = false;
        while class != nil {
            let m = classes::dict_lookup(class.slot(CLASS_METHOD_DICT), selector, nil);
            if m != nil {
                return m;
            }
            passed_object |= class == self.known.object;
            class = class.slot(CLASS_SUPERCLASS);
        }
        if passed_object {
            return classes::dict_lookup(self.known.object_extensions.slot(CLASS_METHOD_DICT), selector, nil);
        }
        nil
    }

    /// Empties the global lookup cache (after any method dictionary change,
    /// and after a full collection, which may free what it refers to).
    pub fn flush_lookup_cache(&mut self) {
        let nil = self.known.nil;
        self.lookup_cache.iter_mut().for_each(|e| *e = (nil, nil, nil));
    }

    /// The runtime data of a method, made on first use.
    #[inline(always)]
    pub fn runtime_index(&mut self, method: Value) -> usize {
        // SAFETY: `method` is a method object, which has METHOD_SIZE slots;
        // its cell slot holds the address of a live cell (see
        // `MethodRuntime::cell`).
        let r = unsafe { (*crate::runtime::cell_of_slot(method.slot_unchecked(METHOD_CELL))).runtime.get() };
        if r != 0 {
            return (r - 1) as usize;
        }
        self.new_runtime(method)
    }

    /// A cell for a method made at run time.
    pub fn new_method_cell(&mut self) -> Value {
        crate::runtime::cell_slot_value(self.cells.alloc())
    }

    #[cold]
    fn new_runtime(&mut self, method: Value) -> usize {
        let index = self.runtimes.len();
        let num_ics = method.slot(METHOD_NUM_ICS).int_value() as usize;
        let bits = method.slot(METHOD_INFO).int_value();
        let code = method.slot(METHOD_BYTECODE).bytes();
        let flags = (bits >> METHOD_INFO_FLAGS_SHIFT) as u8;
        let is_primitive = flags & crate::bytecode::CodeFlags::PRIMITIVE.bits() != 0;
        // Primitives are found by holder and selector when the method first
        // runs, so an image does not depend on this VM's primitive numbering.
        let primitive = if is_primitive {
            let holder = self.class_name(method.slot(METHOD_HOLDER));
            let selector = self.text_or_describe(method.slot(METHOD_SELECTOR));
            crate::primitives::find(&holder, &selector).map_or(0, u32::from)
        } else {
            0
        };
        let info = MethodInfo {
            code: code.as_ptr(),
            code_len: code.len(),
            literals: method.slot(METHOD_LITERALS),
            num_args: method_info_counts(bits).0 as u32,
            num_temps: method_info_counts(bits).1 as u32,
            max_stack: method_info_counts(bits).2 as u32,
            flags,
            primitive,
            // A primitive with a fallback runs the fallback when this VM
            // has no such primitive.
            missing_primitive: primitive == 0 && is_primitive && code.is_empty(),
            trivial: if is_primitive {
                Trivial::No
            } else {
                Trivial::of(code, method.slot(METHOD_LITERALS), self.known.nil, self.known.true_, self.known.false_)
            },
            native: None,
            speculative: false,
            jit: crate::runtime::JitState::Interpreted,
        };
        let cell = std::ptr::NonNull::new(crate::runtime::cell_of_slot(method.slot(METHOD_CELL)) as *mut _)
            .expect("every method has a cell");
        let record = MethodRuntime::new(method, info, num_ics, cell);
        record.cell().runtime.set(index as u64 + 1);
        self.runtimes.push(record);
        index
    }

    /// The runtime record at `index` (from [`runtime_index`](Self::runtime_index)).
    #[inline(always)]
    pub fn runtime(&self, index: usize) -> &MethodRuntime {
        debug_assert!(index < self.runtimes.len());
        // SAFETY: runtime indices come from `runtime_index`, which only hands
        // out indices of existing records; records are never removed.
        unsafe { self.runtimes.get_unchecked(index) }
    }

    /// The runtime record at `index`, writable.
    #[inline(always)]
    pub fn runtime_mut(&mut self, index: usize) -> &mut MethodRuntime {
        debug_assert!(index < self.runtimes.len());
        // SAFETY: as in `runtime`.
        unsafe { self.runtimes.get_unchecked_mut(index) }
    }
}

/// The universe's roots, borrowed apart from its heap.
struct UniverseRoots<'a> {
    stack: &'a mut [Value],
    handles: &'a mut Vec<Value>,
    pins: &'a mut Vec<Value>,
    symbols: &'a mut HashMap<Box<str>, Value>,
    namespaces: &'a mut Vec<NamespaceData>,
    known: &'a mut Known,
    runtimes: &'a mut Vec<MethodRuntime>,
}

impl Roots for UniverseRoots<'_> {
    fn visit_roots(&mut self, visit: &mut dyn FnMut(&mut Value)) {
        for v in self.stack.iter_mut() {
            visit(v);
        }
        for v in self.handles.iter_mut() {
            visit(v);
        }
        for v in self.pins.iter_mut() {
            visit(v);
        }
        for v in self.symbols.values_mut() {
            visit(v);
        }
        for ns in self.namespaces.iter_mut() {
            // Descriptors and bindings are old (or image) objects: they never
            // move, but a full collection must mark them.
            visit(&mut ns.descriptor);
            for b in ns.globals.values_mut() {
                visit(b);
            }
        }
        self.known.visit(visit);
        for rt in self.runtimes.iter_mut() {
            rt.visit(visit);
        }
    }
}

#[cfg(test)]
mod tests;

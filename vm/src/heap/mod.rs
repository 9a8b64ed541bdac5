//! The heap: a bump-allocated nursery, a non-moving old space, a remembered
//! set filled by the write barrier, and the collectors.
//!
//! ```text
//!  nursery   [start ......... top ......... end)   bump allocation; a young
//!                                                  collection copies the
//!                                                  survivors to old space
//!  old space chunks of 1 MiB (and one chunk per large object): bump, then
//!            exact-size free lists refilled by the full collection's sweep
//! ```
//!
//! A young collection costs what survives: roots, remembered old objects
//! and the promoted objects are scanned, nothing else. A full collection
//! empties the nursery, marks from the roots and sweeps old space. See
//! `docs/design/memory.md` for why this is not MMTk (yet).
//!
//! The heap does not know where the roots are: every collection takes a
//! [`Roots`] that visits them (the universe: frame stack, handles, globals,
//! runtime tables).

mod old;
mod verify;

use std::time::{Duration, Instant};

use crate::object::{FLAG_FORWARDED, FLAG_IMAGE, FLAG_MARK, FLAG_REMEMBERED, Format, HEADER_WORDS, header_bits};
use crate::value::Value;
use old::OldSpace;

/// Something that can show the collector every root slot.
pub trait Roots {
    /// Calls `visit` on every slot that may hold a pointer into the heap;
    /// the collector may rewrite the slot.
    fn visit_roots(&mut self, visit: &mut dyn FnMut(&mut Value));
}

/// Heap sizes and modes.
#[derive(Clone, Copy, Debug)]
pub struct HeapConfig {
    /// Nursery size in bytes.
    pub nursery_bytes: usize,
    /// Objects of at least this many bytes go straight to old space.
    pub large_object_bytes: usize,
    /// Collect at every allocation and verify the heap after each
    /// collection.
    pub stress: bool,
    /// The most bytes the heap (nursery and old space) may hold; an
    /// allocation past it, after a full collection, fails (`--max-heap`).
    pub max_bytes: usize,
}

impl Default for HeapConfig {
    fn default() -> Self {
        HeapConfig {
            nursery_bytes: 8 << 20,
            large_object_bytes: 64 << 10,
            stress: false,
            max_bytes: default_max_heap(),
        }
    }
}

/// The default heap limit: half the machine's memory, at most 4 GiB (4 GiB
/// where the machine's memory cannot be read), so that a runaway program
/// gets an out-of-memory error rather than the system's killer.
pub fn default_max_heap() -> usize {
    const CAP: usize = 4 << 30;
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    total.map_or(CAP, |t| (t / 2).clamp(64 << 20, CAP))
}

/// Collection counters, as `system gcStats` reports them.
#[derive(Clone, Copy, Debug, Default)]
pub struct GcStats {
    /// Young collections.
    pub young_collections: u64,
    /// Full collections.
    pub full_collections: u64,
    /// Time spent collecting.
    pub gc_time: Duration,
    /// Bytes allocated since start (nursery and old space).
    pub bytes_allocated: u64,
    /// Bytes promoted from the nursery.
    pub bytes_promoted: u64,
    /// Old-space bytes live after the last full collection.
    pub live_after_full: u64,
}

/// The heap.
pub struct Heap {
    nursery: Box<[u64]>,
    nursery_start: usize,
    nursery_end: usize,
    top: usize,
    old: OldSpace,
    remembered: Vec<Value>,
    /// Image objects the program wrote into: roots of every collection
    /// (they stay remembered).
    image_remembered: Vec<Value>,
    /// Address ranges of mapped images, and their bounding box: pointers
    /// into them are never traced, marked or moved.
    images: Vec<(usize, usize)>,
    images_lo: usize,
    images_hi: usize,
    config: HeapConfig,
    stats: GcStats,
    next_hash: u32,
    /// Old-space bytes at which the next full collection is due.
    full_threshold: usize,
    /// What new pointer slots are filled with (nil, once it exists).
    fill: u64,
}

/// See [`Heap::native_offsets`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapOffsets {
    /// `top` (usize): the next free nursery byte.
    pub top: i32,
    /// `nursery_end` (usize): where the nursery ends.
    pub end: i32,
    /// `next_hash` (u32): the identity-hash generator's state.
    pub next_hash: i32,
}

const _: () = assert!(size_of::<usize>() == 8);

/// Why an allocation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory {
    /// The bytes asked for.
    pub bytes: usize,
}

impl Heap {
    /// A heap with `config`.
    pub fn new(config: HeapConfig) -> Heap {
        let words = (config.nursery_bytes / 8).max(1024);
        let nursery = vec![0u64; words].into_boxed_slice();
        let nursery_start = nursery.as_ptr() as usize;
        let nursery_end = nursery_start + words * 8;
        Heap {
            nursery,
            nursery_start,
            nursery_end,
            top: nursery_start,
            old: OldSpace::new(),
            remembered: Vec::new(),
            image_remembered: Vec::new(),
            images: Vec::new(),
            images_lo: usize::MAX,
            images_hi: 0,
            config,
            stats: GcStats::default(),
            next_hash: 0x9e37,
            full_threshold: 64 << 20,
            fill: NIL_PLACEHOLDER,
        }
    }

    /// Sets what new pointer slots hold: nil.
    pub fn set_nil(&mut self, nil: Value) {
        self.fill = nil.bits();
    }

    /// The configuration.
    pub fn config(&self) -> HeapConfig {
        self.config
    }

    /// Collection counters. Bytes allocated count old-space allocations as
    /// they happen and nursery ones by the nursery's use (native code bumps
    /// the nursery pointer itself).
    pub fn stats(&self) -> GcStats {
        let mut s = self.stats;
        s.bytes_allocated += (self.top - self.nursery_start) as u64;
        s
    }

    /// Where the nursery starts and ends (native code checks "is young"
    /// with these).
    pub fn nursery_bounds(&self) -> (usize, usize) {
        (self.nursery_start, self.nursery_end)
    }

    /// Whether `v` points into the nursery.
    #[inline(always)]
    pub fn is_young(&self, v: Value) -> bool {
        v.is_pointer() && v.addr().wrapping_sub(self.nursery_start) < self.nursery_end - self.nursery_start
    }

    /// Registers the address range of a mapped image: the collector leaves
    /// objects there alone (no marking, tracing or moving) unless the program
    /// wrote into them.
    pub fn add_image_range(&mut self, start: usize, end: usize) {
        self.images.push((start, end));
        self.images_lo = self.images_lo.min(start);
        self.images_hi = self.images_hi.max(end);
    }

    /// Whether `v` points into a mapped image (by address: the object's
    /// page is not touched).
    #[inline(always)]
    pub fn in_image(&self, v: Value) -> bool {
        let a = v.addr();
        v.is_pointer() && a >= self.images_lo && a < self.images_hi && self.images.iter().any(|&(s, e)| a >= s && a < e)
    }

    /// Image objects the program has written into so far.
    pub fn written_image_objects(&self) -> usize {
        self.image_remembered.len()
    }

    /// The image objects the program has written into.
    pub fn written_image_object_list(&self) -> &[Value] {
        &self.image_remembered
    }

    /// Old-space bytes in use.
    pub fn old_bytes(&self) -> usize {
        self.old.used_bytes()
    }

    /// Bytes the heap holds against its limit: old space in use and the
    /// whole nursery.
    pub fn held_bytes(&self) -> usize {
        self.old.used_bytes() + (self.nursery_end - self.nursery_start)
    }

    fn next_hash(&mut self) -> u32 {
        // xorshift32: cheap, well spread identity hashes.
        let mut x = self.next_hash;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.next_hash = x;
        x & 0xff_ffff
    }

    fn init_object(&mut self, addr: usize, class: Value, format: Format, size: usize, words: usize) -> Value {
        let obj = Value::from_addr(addr);
        let hash = self.next_hash();
        obj.set_class_word(class);
        obj.set_header_bits(header_bits(format, hash, size));
        let fill = if format.has_pointers() { self.fill } else { 0 };
        for i in 0..words - HEADER_WORDS {
            obj.set_body_word(i, fill);
        }
        obj
    }

    /// Byte offsets of the nursery's allocation pointer, its end and the
    /// identity-hash state within a `Heap`, for native code that allocates
    /// (bump `top` up to `end`; hashes are xorshift32 of the state).
    pub fn native_offsets() -> HeapOffsets {
        HeapOffsets {
            top: std::mem::offset_of!(Heap, top) as i32,
            end: std::mem::offset_of!(Heap, nursery_end) as i32,
            next_hash: std::mem::offset_of!(Heap, next_hash) as i32,
        }
    }

    /// Allocates in the nursery without collecting; `None` when it is full
    /// (or the object is large, or stress mode asks for a collection).
    /// Pointer slots are nil, bytes zero.
    #[inline]
    pub fn try_alloc_young(&mut self, class: Value, format: Format, size: usize) -> Option<Value> {
        let words = HEADER_WORDS + format.body_words(size);
        let bytes = words * 8;
        if self.config.stress || bytes >= self.config.large_object_bytes || self.top + bytes > self.nursery_end {
            return None;
        }
        let addr = self.top;
        self.top += bytes;
        Some(self.init_object(addr, class, format, size, words))
    }

    /// Allocates directly in old space (never collects). Used for large
    /// objects and for long-lived VM objects (classes, methods, symbols).
    pub fn alloc_old(&mut self, class: Value, format: Format, size: usize) -> Result<Value, OutOfMemory> {
        let words = HEADER_WORDS + format.body_words(size);
        let addr = self.old.alloc(words).ok_or(OutOfMemory { bytes: words * 8 })?;
        self.stats.bytes_allocated += (words * 8) as u64;
        Ok(self.init_object(addr, class, format, size, words))
    }

    /// Whether a full collection is due (old space grew past its budget;
    /// in stress mode, every 64th young collection).
    pub fn full_collection_due(&self) -> bool {
        (self.config.stress && self.stats.young_collections.is_multiple_of(64))
            || self.old.used_bytes() >= self.full_threshold
    }

    /// Records that `target` (any object) now holds `value`: an old object
    /// that gets a reference to a young one joins the remembered set; an
    /// image object that gets any reference joins it for good (the collector
    /// never traces image objects otherwise).
    #[inline(always)]
    pub fn write_barrier(&mut self, target: Value, value: Value) {
        if !value.is_pointer() || self.is_young(target) {
            return;
        }
        let flags = target.flags();
        if flags & FLAG_REMEMBERED == 0 && (flags & FLAG_IMAGE != 0 || self.is_young(value)) {
            self.remember(target, flags);
        }
    }

    #[cold]
    fn remember(&mut self, target: Value, flags: u64) {
        target.set_header_bits(target.header_bits() | FLAG_REMEMBERED);
        if flags & FLAG_IMAGE != 0 {
            self.image_remembered.push(target);
        } else {
            self.remembered.push(target);
        }
    }

    /// Stores `value` into slot `index` of `target`, with the write barrier.
    #[inline(always)]
    pub fn store(&mut self, target: Value, index: usize, value: Value) {
        target.set_slot_raw(index, value);
        self.write_barrier(target, value);
    }

    /// Collects the nursery: every object reachable from `roots` or from a
    /// remembered old object is copied to old space.
    pub fn collect_young(&mut self, roots: &mut dyn Roots) -> Result<(), OutOfMemory> {
        let start = Instant::now();
        self.stats.bytes_allocated += (self.top - self.nursery_start) as u64;
        let mut queue: Vec<Value> = Vec::new();
        let mut failed = None;
        roots.visit_roots(&mut |slot| self.evacuate_slot(slot, &mut queue, &mut failed));
        let remembered = std::mem::take(&mut self.remembered);
        for obj in &remembered {
            obj.set_header_bits(obj.header_bits() & !FLAG_REMEMBERED);
            self.scan_object(*obj, &mut queue, &mut failed);
        }
        let image_remembered = std::mem::take(&mut self.image_remembered);
        for obj in &image_remembered {
            self.scan_object(*obj, &mut queue, &mut failed);
        }
        self.image_remembered = image_remembered;
        while let Some(obj) = queue.pop() {
            self.scan_object(obj, &mut queue, &mut failed);
        }
        if let Some(e) = failed {
            return Err(e);
        }
        if cfg!(debug_assertions) || self.config.stress {
            // Poison the used part of the nursery so that a stale pointer
            // fails loudly.
            let used = (self.top - self.nursery_start) / 8;
            self.nursery[..used].fill(POISON);
        }
        self.top = self.nursery_start;
        self.stats.young_collections += 1;
        self.stats.gc_time += start.elapsed();
        Ok(())
    }

    fn evacuate_slot(&mut self, slot: &mut Value, queue: &mut Vec<Value>, failed: &mut Option<OutOfMemory>) {
        if self.is_young(*slot) {
            match self.evacuate(*slot, queue) {
                Ok(moved) => *slot = moved,
                Err(e) => *failed = Some(e),
            }
        }
    }

    fn scan_object(&mut self, obj: Value, queue: &mut Vec<Value>, failed: &mut Option<OutOfMemory>) {
        let mut class = obj.class_word();
        self.evacuate_slot(&mut class, queue, failed);
        obj.set_class_word(class);
        if !obj.format().has_pointers() {
            return;
        }
        for i in 0..obj.size() {
            let mut v = Value::from_bits(obj.body_word(i));
            if self.is_young(v) {
                self.evacuate_slot(&mut v, queue, failed);
                obj.set_body_word(i, v.bits());
            }
        }
    }

    /// Copies a young object to old space (once) and answers its new address.
    fn evacuate(&mut self, obj: Value, queue: &mut Vec<Value>) -> Result<Value, OutOfMemory> {
        let bits = obj.header_bits();
        if bits & FLAG_FORWARDED != 0 {
            return Ok(obj.class_word());
        }
        let words = obj.total_words();
        let addr = self.old.alloc(words).ok_or(OutOfMemory { bytes: words * 8 })?;
        // SAFETY: `obj` is a live nursery object of `words` words and `addr`
        // a fresh old-space cell of the same size; they do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(obj.addr() as *const u64, addr as *mut u64, words) };
        let moved = Value::from_addr(addr);
        obj.set_class_word(moved);
        obj.set_header_bits(bits | FLAG_FORWARDED);
        self.stats.bytes_promoted += (words * 8) as u64;
        queue.push(moved);
        Ok(moved)
    }

    /// Collects everything: empties the nursery, marks from `roots`, sweeps
    /// old space.
    pub fn collect_full(&mut self, roots: &mut dyn Roots) -> Result<(), OutOfMemory> {
        self.collect_young(roots)?;
        let start = Instant::now();
        let mut stack: Vec<Value> = Vec::new();
        roots.visit_roots(&mut |slot| self.mark(*slot, &mut stack));
        // Image objects are never marked: those the program wrote into are
        // roots, the others refer only to image objects.
        stack.extend(self.image_remembered.iter().copied());
        while let Some(obj) = stack.pop() {
            self.mark(obj.class_word(), &mut stack);
            if obj.format().has_pointers() {
                for i in 0..obj.size() {
                    self.mark(Value::from_bits(obj.body_word(i)), &mut stack);
                }
            }
        }
        self.old.sweep();
        let live = self.old.used_bytes();
        self.stats.live_after_full = live as u64;
        self.full_threshold = (live * 2).max(64 << 20);
        self.stats.full_collections += 1;
        self.stats.gc_time += start.elapsed();
        Ok(())
    }

    /// Calls `f` on every object of old space.
    pub fn for_each_old_object(&self, f: impl FnMut(Value)) {
        self.old.for_each_object(f);
    }

    /// The objects of old space whose class is `class` (call with the
    /// nursery empty, after a full collection, to have them all).
    pub fn instances_of(&self, class: Value) -> Vec<Value> {
        let mut out = Vec::new();
        self.old.for_each_object(|o| {
            if o.class_word() == class {
                out.push(o);
            }
        });
        out
    }

    /// Replaces every reference to a key of `map` by its value: in the
    /// roots, in every object of old space and in the image objects the
    /// program wrote into (Smalltalk's `become`, one way). Call with the
    /// nursery empty; the objects forwarded from become garbage.
    pub fn forward(&mut self, roots: &mut dyn Roots, map: &std::collections::HashMap<u64, Value>) {
        let swap = |v: &mut Value| {
            if let Some(&to) = map.get(&v.bits()) {
                *v = to;
            }
        };
        roots.visit_roots(&mut |slot| swap(slot));
        let rewrite = |obj: Value| {
            if obj.format().has_pointers() {
                for i in 0..obj.size() {
                    if let Some(&to) = map.get(&obj.body_word(i)) {
                        obj.set_slot_raw(i, to);
                    }
                }
            }
        };
        self.old.for_each_object(rewrite);
        for &obj in &self.image_remembered {
            rewrite(obj);
        }
    }

    /// Marks `v` (if it is an unmarked heap object) and queues it for
    /// scanning; image objects are left alone.
    #[inline]
    fn mark(&self, v: Value, stack: &mut Vec<Value>) {
        if v.is_pointer() && !self.in_image(v) && v.flags() & FLAG_MARK == 0 {
            v.set_header_bits(v.header_bits() | FLAG_MARK);
            stack.push(v);
        }
    }

    /// Checks every object of old space and every root: headers are valid,
    /// pointer slots address valid objects, nothing points into the
    /// (empty) nursery. Returns a description of the first problem.
    pub fn verify(&self, roots: &mut dyn Roots) -> Result<(), String> {
        verify::verify(self, roots, true)
    }

    /// Checks the roots only (cheap enough for every young collection of
    /// the stress mode).
    pub fn verify_roots(&self, roots: &mut dyn Roots) -> Result<(), String> {
        verify::verify(self, roots, false)
    }
}

/// What fresh pointer slots hold before nil exists: SmallInteger 0 (always
/// safe for the collector to see).
pub const NIL_PLACEHOLDER: u64 = 1;

/// What a collected nursery is filled with in debug builds and stress mode.
const POISON: u64 = 0xdead_beef_dead_bee8;

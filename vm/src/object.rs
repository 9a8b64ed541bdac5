//! Object layout: the two-word header every heap object starts with, the
//! formats, and raw access to slots and bytes.
//!
//! ```text
//!           63                     32 31            8 7     4 3     0
//!          +-------------------------+---------------+-------+-------+
//! word 0   |               class (pointer Value)                     |
//!          +-------------------------+---------------+-------+-------+
//! word 1   |   size                  | identity hash | format| flags |
//!          +-------------------------+---------------+-------+-------+
//! word 2.. |   body: `size` slots (pointer formats) or `size` bytes  |
//!          |   rounded up to whole words (raw formats)               |
//!          +---------------------------------------------------------+
//! ```
//!
//! The same layout is used in the heap, in mapped images and by native code
//! (the offsets are constants below). See `docs/design/object-layout.md`.
//!
//! # The validity invariant
//!
//! Every pointer [`Value`] the VM holds refers to the header of a live
//! object: pointers are made only by the allocator (and, later, the image
//! loader), the garbage collector updates every root it is shown, and Rust
//! code keeps values across an allocation only in rooted places (the frame
//! stack, handles). The accessors below rely on it, and check indices
//! against the object's size, so that they are safe to call.

use crate::value::Value;

/// Size of the header in bytes.
pub const HEADER_BYTES: usize = 16;
/// Size of the header in words.
pub const HEADER_WORDS: usize = 2;
/// Byte offset of the class word.
pub const CLASS_OFFSET: usize = 0;
/// Byte offset of the header bits word.
pub const BITS_OFFSET: usize = 8;
/// Byte offset of the first body slot.
pub const BODY_OFFSET: usize = 16;
/// Bytes per word: a slot, a header word, a frame word.
pub const WORD_BYTES: usize = 8;
/// `WORD_BYTES` as a shift: words to bytes and back.
pub const WORD_SHIFT: i64 = WORD_BYTES.trailing_zeros() as i64;

/// Byte offset from an object's address of its body slot `index`.
#[inline(always)]
pub const fn slot_offset(index: usize) -> usize {
    BODY_OFFSET + WORD_BYTES * index
}

/// Flag: marked by the current full collection.
pub const FLAG_MARK: u64 = 1;
/// Flag: moved; word 0 holds the new address.
pub const FLAG_FORWARDED: u64 = 1 << 1;
/// Flag: an old object in the remembered set.
pub const FLAG_REMEMBERED: u64 = 1 << 2;
/// Flag: lives in a mapped image.
pub const FLAG_IMAGE: u64 = 1 << 3;
/// Mask of the flag bits.
pub const FLAGS_MASK: u64 = 0xf;
/// Shift of the format field.
pub const FORMAT_SHIFT: u32 = 4;
/// Shift of the identity hash.
pub const HASH_SHIFT: u32 = 8;
/// Mask of the identity hash (after shifting).
pub const HASH_MASK: u64 = 0xff_ffff;
/// Shift of the size field.
pub const SIZE_SHIFT: u32 = 32;

const _: () = assert!(HEADER_BYTES == HEADER_WORDS * 8);
const _: () = assert!(BODY_OFFSET == HEADER_BYTES);
const _: () = assert!(FORMAT_SHIFT == 4 && HASH_SHIFT == 8 && SIZE_SHIFT == 32);

/// What an object's body holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Format {
    /// Named fields (pointer slots): instances of ordinary classes.
    Fields = 0,
    /// Indexable pointer slots: Array.
    Array = 1,
    /// Bytes: String.
    Bytes = 2,
    /// Bytes: Symbol (interned).
    Symbol = 3,
    /// One raw f64: a Double that is not a SmallFloat.
    Double = 4,
    /// Raw bytes: sign byte then little-endian magnitude (LargeInteger).
    LargeInt = 5,
    /// Pointer slots: a compiled method or block.
    Method = 6,
    /// Pointer slots: a block closure.
    Closure = 7,
    /// Pointer slots: a context (captured variables).
    Context = 8,
    /// Pointer slots: a class or metaclass.
    Class = 9,
    /// Raw bytes: bytecode and other VM data.
    ByteArray = 10,
    /// Bytes: a String known to be all ASCII (character and byte indices
    /// agree), which strings get when they are made.
    Ascii = 11,
    /// A free cell in old space (no class).
    Free = 15,
}

impl Format {
    /// The format encoded in `bits`, if valid.
    pub const fn from_bits(bits: u8) -> Option<Format> {
        Some(match bits {
            0 => Format::Fields,
            1 => Format::Array,
            2 => Format::Bytes,
            3 => Format::Symbol,
            4 => Format::Double,
            5 => Format::LargeInt,
            6 => Format::Method,
            7 => Format::Closure,
            8 => Format::Context,
            9 => Format::Class,
            10 => Format::ByteArray,
            11 => Format::Ascii,
            15 => Format::Free,
            _ => return None,
        })
    }

    /// Whether every body slot is a [`Value`] the collector must trace.
    pub const fn has_pointers(self) -> bool {
        matches!(
            self,
            Format::Fields | Format::Array | Format::Method | Format::Closure | Format::Context | Format::Class
        )
    }

    /// Body size in words for a `size` field of this format.
    pub const fn body_words(self, size: usize) -> usize {
        if self.has_pointers() || matches!(self, Format::Free) { size } else { size.div_ceil(8) }
    }
}

/// The identity hash of a Symbol: a hash of its bytes, so that equal
/// symbols made apart (in different images, or at run time) hash alike.
/// Symbols are identical when their bytes are equal (see `same_symbol`).
pub const fn symbol_hash(bytes: &[u8]) -> u32 {
    // FNV-1a 32, folded to the header's 24 bits.
    let mut h: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u32;
        h = h.wrapping_mul(0x0100_0193);
        i += 1;
    }
    (h ^ (h >> 24)) & HASH_MASK as u32
}

/// Builds header word 1.
pub const fn header_bits(format: Format, hash: u32, size: usize) -> u64 {
    ((size as u64) << SIZE_SHIFT) | (((hash as u64) & HASH_MASK) << HASH_SHIFT) | ((format as u64) << FORMAT_SHIFT)
}

/// Reads a word of memory.
///
/// # Safety
/// `addr` must be the address of a readable, aligned word of a live object.
#[inline(always)]
unsafe fn read_word(addr: usize) -> u64 {
    // SAFETY: the caller guarantees `addr` is a readable aligned word.
    unsafe { *(addr as *const u64) }
}

/// Writes a word of memory.
///
/// # Safety
/// `addr` must be the address of a writable, aligned word of a live object.
#[inline(always)]
unsafe fn write_word(addr: usize, value: u64) {
    // SAFETY: the caller guarantees `addr` is a writable aligned word.
    unsafe { *(addr as *mut u64) = value }
}

impl Value {
    /// Header word 1 of a pointer value.
    #[inline(always)]
    pub fn header_bits(self) -> u64 {
        debug_assert!(self.is_pointer());
        // SAFETY: by the validity invariant a pointer value addresses a live
        // object, whose header is two readable words.
        unsafe { read_word(self.addr() + BITS_OFFSET) }
    }

    /// Overwrites header word 1 (the collector and the allocator only).
    #[inline(always)]
    pub(crate) fn set_header_bits(self, bits: u64) {
        debug_assert!(self.is_pointer());
        // SAFETY: as in `header_bits`; the header is writable (heap objects
        // and copy-on-write image pages).
        unsafe { write_word(self.addr() + BITS_OFFSET, bits) }
    }

    /// The class word of a pointer value.
    #[inline(always)]
    pub fn class_word(self) -> Value {
        debug_assert!(self.is_pointer());
        // SAFETY: as in `header_bits`.
        Value::from_bits(unsafe { read_word(self.addr() + CLASS_OFFSET) })
    }

    /// Overwrites the class word (allocation, `become`-like class changes
    /// and forwarding).
    #[inline(always)]
    pub(crate) fn set_class_word(self, class: Value) {
        debug_assert!(self.is_pointer());
        // SAFETY: as in `set_header_bits`.
        unsafe { write_word(self.addr() + CLASS_OFFSET, class.bits()) }
    }

    /// The object's format.
    #[inline(always)]
    pub fn format(self) -> Format {
        let bits = ((self.header_bits() >> FORMAT_SHIFT) & 0xf) as u8;
        Format::from_bits(bits).unwrap_or(Format::Free)
    }

    /// The object's size field: slots for pointer formats, bytes otherwise.
    #[inline(always)]
    pub fn size(self) -> usize {
        (self.header_bits() >> SIZE_SHIFT) as usize
    }

    /// The identity hash stored in the header.
    #[inline(always)]
    pub fn identity_hash(self) -> u32 {
        ((self.header_bits() >> HASH_SHIFT) & HASH_MASK) as u32
    }

    /// Overwrites the identity hash (symbols get the hash of their bytes).
    pub(crate) fn set_identity_hash(self, hash: u32) {
        let bits = self.header_bits() & !(HASH_MASK << HASH_SHIFT);
        self.set_header_bits(bits | ((u64::from(hash) & HASH_MASK) << HASH_SHIFT));
    }

    /// Whether `self` and `other` are the same Symbol: symbols are values
    /// identified by their bytes (an image carries its own symbols, and
    /// mapping it must not re-intern them), so two symbol objects with equal
    /// bytes are identical under `==`. False unless both are Symbols.
    #[inline]
    pub fn same_symbol(self, other: Value) -> bool {
        self.is_pointer()
            && other.is_pointer()
            && self.format() == Format::Symbol
            && other.format() == Format::Symbol
            && self.identity_hash() == other.identity_hash()
            && self.bytes() == other.bytes()
    }

    /// Whether two selectors (or other symbol keys) are the same: equal
    /// bits, or equal symbols.
    #[inline(always)]
    pub fn same_selector(self, other: Value) -> bool {
        self == other || self.same_symbol(other)
    }

    /// The header flags.
    #[inline(always)]
    pub fn flags(self) -> u64 {
        self.header_bits() & FLAGS_MASK
    }

    /// Total size of the object in words, header included.
    #[inline(always)]
    pub fn total_words(self) -> usize {
        HEADER_WORDS + self.format().body_words(self.size())
    }

    /// Slot `index` of a pointer-format object.
    ///
    /// Panics if the index is out of range (a VM bug, never a user error:
    /// primitives check indices first).
    #[inline(always)]
    pub fn slot(self, index: usize) -> Value {
        assert!(index < self.size() && self.format().has_pointers(), "slot {index} out of range");
        // SAFETY: validity invariant, and `index` is within the body.
        Value::from_bits(unsafe { read_word(self.addr() + slot_offset(index)) })
    }

    /// Slot `index` without the range check.
    ///
    /// # Safety
    /// `self` must be a pointer-format object with more than `index` slots
    /// (for instance a VM object of a known layout, or a field index the
    /// verifier checked against the receiver's class).
    #[inline(always)]
    pub unsafe fn slot_unchecked(self, index: usize) -> Value {
        debug_assert!(index < self.size() && self.format().has_pointers());
        // SAFETY: the caller guarantees `index` is within the body.
        Value::from_bits(unsafe { read_word(self.addr() + slot_offset(index)) })
    }

    /// Writes slot `index` without the range check or a write barrier.
    ///
    /// # Safety
    /// As for [`slot_unchecked`](Self::slot_unchecked); the caller also
    /// records the store with the write barrier if it may create an
    /// old-to-young reference.
    #[inline(always)]
    pub unsafe fn set_slot_unchecked(self, index: usize, value: Value) {
        debug_assert!(index < self.size() && self.format().has_pointers());
        // SAFETY: the caller guarantees `index` is within the body.
        unsafe { write_word(self.addr() + slot_offset(index), value.bits()) }
    }

    /// Writes slot `index` without a write barrier: only for objects that
    /// were just allocated, or when the caller records the store itself
    /// (see `Heap::write_barrier`).
    #[inline(always)]
    pub fn set_slot_raw(self, index: usize, value: Value) {
        assert!(index < self.size() && self.format().has_pointers(), "slot {index} out of range");
        // SAFETY: validity invariant, and `index` is within the body.
        unsafe { write_word(self.addr() + slot_offset(index), value.bits()) }
    }

    /// The bytes of a raw-format object.
    #[inline(always)]
    pub fn bytes<'a>(self) -> &'a [u8] {
        assert!(!self.format().has_pointers(), "bytes of a pointer object");
        let len = self.size();
        // SAFETY: validity invariant: the body holds `len` bytes. The slice
        // must not be held across an allocation (which may move the object);
        // callers copy out or use it immediately.
        unsafe { std::slice::from_raw_parts((self.addr() + BODY_OFFSET) as *const u8, len) }
    }

    /// The bytes of a raw-format object, writable.
    pub fn bytes_mut<'a>(self) -> &'a mut [u8] {
        assert!(!self.format().has_pointers(), "bytes of a pointer object");
        let len = self.size();
        // SAFETY: as in `bytes`; raw formats hold no references, so no
        // barrier is needed, and the VM is single-threaded.
        unsafe { std::slice::from_raw_parts_mut((self.addr() + BODY_OFFSET) as *mut u8, len) }
    }

    /// The raw word at body word `index` of any object (the collector).
    #[inline(always)]
    pub(crate) fn body_word(self, index: usize) -> u64 {
        debug_assert!(index < self.format().body_words(self.size()));
        // SAFETY: validity invariant; index within the body.
        unsafe { read_word(self.addr() + slot_offset(index)) }
    }

    /// Overwrites body word `index` of any object (the collector).
    #[inline(always)]
    pub(crate) fn set_body_word(self, index: usize, word: u64) {
        debug_assert!(index < self.format().body_words(self.size()));
        // SAFETY: validity invariant; index within the body.
        unsafe { write_word(self.addr() + slot_offset(index), word) }
    }
}

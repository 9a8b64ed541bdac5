//! The on-disk layout of Mica mini-images.
//!
//! A mini-image is a file, mapped into memory, that holds compiled classes
//! and objects in the very encoding the VM uses in memory. This crate owns
//! its byte layout: what each byte means, how it is written (atomically),
//! how a file is checked before anything in it is used, and how it is
//! mapped. It knows nothing of execution: no values, no heap, no
//! interpreter (the `vm` crate encodes and decodes the objects).
//!
//! - [`Header`] and the section table ([`SectionEntry`]): identity, word
//!   size and byte order, flags (sealed), preferred base, checksums;
//!   [`parse_layout`] checks them completely.
//! - The tables inside the sections ([`tables`]): namespaces, imports and
//!   outside objects, exports, symbols, relocations, chunk checksums.
//! - [`ImageBuilder`] lays out a new image; [`ImageMeta`] reads the parts
//!   of one that loading needs, without touching its objects;
//!   [`write_atomically`] writes files; [`locate`] finds an image in a file
//!   or in a bundled executable (trailer).
//! - [`map::map_image`] maps an image at its preferred base, copy-on-write,
//!   with chunks verified lazily on first touch.
//!
//! All multi-byte fields are little-endian. Parsing never panics: every
//! malformed input yields an [`ImageError`]. See
//! `docs/design/image-format.md`.

#![deny(unsafe_code)]
#![deny(missing_docs)]

mod builder;
mod checksum;
mod error;
#[allow(unsafe_code)]
mod file;
mod header;
mod layout;
#[allow(unsafe_code)]
pub mod map;
mod section;
pub mod tables;

#[cfg(test)]
#[allow(unsafe_code)]
mod tests;

pub use builder::{ImageBuilder, reseal, runtime_below, span};
pub use checksum::fast64;
pub use error::{ImageError, Result};
pub use file::{
    ImageMeta, Located, TRAILER_SIZE, encode_trailer, locate, map_readonly, read_trailer, write_atomically,
};
pub use header::{CHUNK_SIZE, ENDIAN_LITTLE, FORMAT_VERSION, Flags, HEADER_SIZE, Header, MAGIC, PAGE_SIZE, WORD_SIZE};
pub use layout::{Layout, OBJECTS_OFFSET, parse_layout, parse_layout_prefix, rewrite_header, write_layout};
pub use section::{ImageOffset, SECTION_ENTRY_SIZE, SectionEntry, SectionKind, table_end, validate_sections};

/// Where images prefer to be mapped: a window of the address space that
/// the system does not hand out on its own (it places mappings near the
/// top of the user address space), so preferred bases are usually free.
/// The kernel image takes the first slot; others take a slot chosen by a
/// hash of their namespace, version and contents.
pub mod window {
    /// The start of the window (32 TiB).
    pub const START: u64 = 0x2000_0000_0000;
    /// Bytes per slot (4 GiB); a larger image takes several.
    pub const SLOT: u64 = 1 << 32;
    /// Slots in the window (16 TiB in all).
    pub const SLOTS: u64 = 4096;
    /// Where in its slot an image's file starts: its runtime area (method
    /// cells) lies below, in the same slot.
    pub const IN_SLOT: u64 = 1 << 30;
    /// The kernel image's base.
    pub const KERNEL_BASE: u64 = START + IN_SLOT;

    /// The preferred base for an image keyed by `key` (slot 1 and up).
    pub fn base_for(key: &[u8]) -> u64 {
        START + SLOT * (1 + crate::checksum::fast64(key) % (SLOTS - 1)) + IN_SLOT
    }
}

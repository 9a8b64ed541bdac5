//! The on-disk layout of Mica mini-images.
//!
//! A mini-image is a file, mapped into memory, that holds compiled classes
//! and objects. This crate owns its byte layout: what each byte means, how
//! it is written, and how a file is checked before anything in it is used.
//! It knows nothing of execution: no values, no heap, no interpreter.
//!
//! So far the crate defines the two fixed parts that open every image:
//!
//! - the [`Header`] ([`HEADER_SIZE`] bytes at offset 0), which identifies the
//!   file, records the target word size and byte order, and carries a
//!   checksum over itself and the section table;
//! - the section table that follows it, one [`SectionEntry`] per section,
//!   each naming a [`SectionKind`] and a page-aligned byte range of the file.
//!
//! [`parse_layout`] checks both completely and returns a [`Layout`];
//! [`write_layout`] produces their bytes with the checksum filled in. The
//! contents of the sections (objects, symbols, imports, exports,
//! relocations) are specified by later work.
//!
//! All multi-byte fields are little-endian. Parsing never panics: every
//! malformed input yields an [`ImageError`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod checksum;
mod error;
mod header;
mod layout;
mod section;

#[cfg(test)]
mod tests;

pub use error::{ImageError, Result};
pub use header::{ENDIAN_LITTLE, FORMAT_VERSION, Flags, HEADER_SIZE, Header, MAGIC, PAGE_SIZE, WORD_SIZE};
pub use layout::{Layout, parse_layout, write_layout};
pub use section::{ImageOffset, SECTION_ENTRY_SIZE, SectionEntry, SectionKind, table_end, validate_sections};

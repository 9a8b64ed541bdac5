//! The Mica VM core: what every execution tier shares.
//!
//! - [`arith`]: the special arithmetic and comparison sends (`+ - * / // %
//!   < > <= >= = ~=`) on immediate operands, defined once for every tier.
//! - [`bytecode`]: the instruction set (declared once, in one table), its
//!   encoder and decoder, the disassembler and the verifier, and the
//!   compiled forms of methods, blocks and classes.
//! - [`compiler`]: lexer, parser, capture analysis, code generator and
//!   assembler; superclass layouts through the class path.
//! - [`value`], [`object`], [`layout`]: tagged values, the object header and
//!   the slot layout of the VM's own objects.
//! - [`heap`]: nursery, old space, write barrier, collectors.
//! - [`universe`]: the heap with its roots, symbols, globals, classes,
//!   method installation and the kernel library (`vm/kernel/*.som`).
//! - [`primitives`]: the primitives, implemented once for every tier.
//! - [`runtime`]: inline caches and counters per method.
//! - [`deopt`]: why native code was thrown away, counted by reason.
//! - [`image`]: mini-images: writing heap objects as an image, mapping and
//!   binding images, checking, linking, packages, object graphs.
//! - [`interrupts`]: requests for the program's thread to act at its next
//!   safepoint (expired timers), and the timer thread.
//!
//! The interpreter and the JIT build on this crate.

#![deny(missing_docs)]

pub mod arith;
pub mod bytecode;
pub mod compiler;
pub mod deopt;
pub mod heap;
pub mod image;
pub mod interrupts;
pub mod layout;
pub mod object;
pub mod primitives;
pub mod runtime;
pub mod universe;
pub mod value;

/// Runs `f` with at least 64 KiB of native stack left, switching to a new
/// 4 MiB segment when less remains. The parser, capture analysis, code
/// generator, verifier and disassembler recurse once per nesting level of
/// the source (which the parser bounds), and a thread's stack may be small.
pub(crate) fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, f)
}

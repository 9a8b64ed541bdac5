//! The Mica VM core: bytecode and the compiler from SOM Smalltalk source to
//! bytecode.
//!
//! - [`bytecode`]: the instruction set (declared once, in one table), its
//!   encoder and decoder, the disassembler and the verifier, and the
//!   compiled forms of methods, blocks and classes.
//! - [`compiler`]: lexer, parser, capture analysis, code generator and
//!   assembler; superclass layouts through the class path.
//!
//! Values, objects, the heap and primitives will live here too; the
//! interpreter and the JIT build on this crate.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bytecode;
pub mod compiler;

/// Runs `f` with at least 64 KiB of native stack left, switching to a new
/// 4 MiB segment when less remains. The parser, capture analysis, code
/// generator, verifier and disassembler recurse once per nesting level of
/// the source (which the parser bounds), and a thread's stack may be small.
pub(crate) fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, f)
}

//! The frame layout, shared by the interpreter and native code.
//!
//! Frames live on the universe's frame stack (VM memory, a root of the
//! collector: every word is a valid value). Word indices grow upwards; `fp`
//! is the index of the frame's first header word.
//!
//! ```text
//!            +---------------------------+
//!  fp-n-1    | receiver (a closure for   |  pushed by the caller:
//!            |  a block activation)      |  they were its operand stack
//!  fp-n      | argument 1                |
//!   ...      | ...                       |
//!  fp-1      | argument n                |
//!            +---------------------------+
//!  fp+0      | method (or block code)    |  FRAME_METHOD
//!  fp+1      | caller fp    (SmallInt)   |  FRAME_CALLER_FP   (-1: none)
//!  fp+2      | caller pc    (SmallInt)   |  FRAME_CALLER_PC
//!  fp+3      | self                      |  FRAME_SELF
//!  fp+4      | current context or nil    |  FRAME_CONTEXT
//!  fp+5      | closure or nil            |  FRAME_CLOSURE
//!            +---------------------------+
//!  fp+6      | temporary 0               |  FRAME_HEADER + i
//!   ...      | ...                       |
//!            +---------------------------+
//!            | operand stack ...         |  grows up to `sp`
//! ```
//!
//! Returning pops the frame with its receiver and arguments and pushes the
//! result where the receiver was. The `pc` of a suspended frame is stored
//! in its callee's `FRAME_CALLER_PC`; the running frame's `pc` lives in the
//! interpreter (or native code) until the next call.

/// Method (or block code) of the activation.
pub const FRAME_METHOD: usize = 0;
/// The caller's frame index (a SmallInteger; -1 for the bottom frame).
pub const FRAME_CALLER_FP: usize = 1;
/// Where the caller resumes (a SmallInteger bytecode offset).
pub const FRAME_CALLER_PC: usize = 2;
/// `self`.
pub const FRAME_SELF: usize = 3;
/// The current context (captured variables) or nil.
pub const FRAME_CONTEXT: usize = 4;
/// The closure of a block activation, nil for a method.
pub const FRAME_CLOSURE: usize = 5;
/// Header words; temporaries follow.
pub const FRAME_HEADER: usize = 6;

/// Byte offsets of the header words from the frame's first word, for
/// native code.
pub mod offsets {
    use super::*;
    /// Bytes per word.
    pub const WORD: i32 = vm::object::WORD_BYTES as i32;
    /// `FRAME_METHOD` in bytes.
    pub const METHOD: i32 = FRAME_METHOD as i32 * WORD;
    /// `FRAME_CALLER_FP` in bytes.
    pub const CALLER_FP: i32 = FRAME_CALLER_FP as i32 * WORD;
    /// `FRAME_CALLER_PC` in bytes.
    pub const CALLER_PC: i32 = FRAME_CALLER_PC as i32 * WORD;
    /// `FRAME_SELF` in bytes.
    pub const SELF: i32 = FRAME_SELF as i32 * WORD;
    /// `FRAME_CONTEXT` in bytes.
    pub const CONTEXT: i32 = FRAME_CONTEXT as i32 * WORD;
    /// `FRAME_CLOSURE` in bytes.
    pub const CLOSURE: i32 = FRAME_CLOSURE as i32 * WORD;
    /// First temporary in bytes.
    pub const TEMPS: i32 = FRAME_HEADER as i32 * WORD;

    /// Byte offset from a frame of its word `index` (negative: the
    /// arguments, in the caller's operand stack).
    pub const fn word(index: i32) -> i32 {
        index * WORD
    }
}

/// Words kept free above the deepest frame for primitives and the error
/// path.
pub const STACK_RESERVE: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_is_fixed() {
        assert_eq!(
            [FRAME_METHOD, FRAME_CALLER_FP, FRAME_CALLER_PC, FRAME_SELF, FRAME_CONTEXT, FRAME_CLOSURE],
            [0, 1, 2, 3, 4, 5]
        );
        assert_eq!(FRAME_HEADER, 6);
        assert_eq!(offsets::TEMPS, 48);
        assert_eq!(offsets::CONTEXT, 32);
    }
}

//! Mica bytecode: the instruction set, its encoding, disassembly and
//! verification.
//!
//! The set is declared once, in [`table`](self) (`for_each_bytecode!`); the
//! generator below turns the table into the [`Opcode`] enum, the decoded
//! [`Insn`] form and the [`Visitor`] trait. See `docs/design/bytecode.md`.
//!
//! Encoding of one instruction:
//!
//! ```text
//!   [prefix] opcode operand*
//!
//!   prefix   none        -> every operand is 1 byte
//!            WIDE (0)    -> every operand is 2 bytes, little-endian
//!            EXTRA (1)   -> every operand is 4 bytes, little-endian
//!   opcode   FIRST_OPCODE + row of the table
//!   operand  unsigned, except `Int` operands (two's complement)
//! ```
//!
//! Jump offsets count bytes from the end of the jump instruction (prefix
//! included) to the target.

use std::fmt;

mod code;
mod decode;
mod disasm;
mod encode;
mod special;
mod table;
mod verify;

pub use code::{CodeFlags, CodeKind, CompiledClass, CompiledCode, LineTable, Literal};
pub use decode::{DecodeError, Decoded, decode, instructions};
pub use disasm::{disassemble, disassemble_class};
pub use encode::{encode, encode_at_width, encoded_len};
pub use special::SPECIAL_SELECTORS;
pub use verify::{VerifyError, selector_arity, verify_class, verify_method};

/// The prefix byte that makes the next instruction's operands 16 bits wide.
pub const WIDE_PREFIX: u8 = 0;
/// The prefix byte that makes the next instruction's operands 32 bits wide.
pub const EXTRA_WIDE_PREFIX: u8 = 1;
/// The byte value of the first opcode of the table.
pub const FIRST_OPCODE: u8 = 2;
/// The most operands any instruction has.
pub const MAX_OPERANDS: usize = 3;

/// What an operand means; decides how it is displayed and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperandKind {
    /// An argument index of the current activation.
    Arg,
    /// A frame temporary index.
    Temp,
    /// A field index of the receiver.
    Field,
    /// A literal index.
    Lit,
    /// A signed immediate integer.
    Int,
    /// A number of steps out along the context chain.
    Level,
    /// A slot index inside a context.
    Slot,
    /// A count (arguments, elements, slots).
    Count,
    /// An inline-cache slot index.
    Ic,
    /// A forward jump distance in bytes.
    Forward,
    /// A backward jump distance in bytes.
    Backward,
}

impl OperandKind {
    /// Whether the operand is encoded as a signed number.
    pub const fn is_signed(self) -> bool {
        matches!(self, OperandKind::Int)
    }
}

/// Properties of an opcode that the interpreter, the JIT and the verifier
/// need to know without looking at its handler.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u16);

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Flags::SEND, "SEND"),
            (Flags::SPECIAL, "SPECIAL"),
            (Flags::JUMP, "JUMP"),
            (Flags::BRANCH, "BRANCH"),
            (Flags::RETURN, "RETURN"),
            (Flags::SAFEPOINT, "SAFEPOINT"),
            (Flags::ALLOC, "ALLOC"),
            (Flags::BARRIER, "BARRIER"),
        ];
        let set: Vec<&str> = names.iter().filter(|(flag, _)| self.contains(*flag)).map(|&(_, n)| n).collect();
        if set.is_empty() { f.write_str("-") } else { f.write_str(&set.join("|")) }
    }
}

impl Flags {
    /// No flag.
    pub const NONE: Flags = Flags(0);
    /// The instruction performs a message send (or may fall back to one).
    pub const SEND: Flags = Flags(1);
    /// A special-selector send with a fast path.
    pub const SPECIAL: Flags = Flags(1 << 1);
    /// The instruction transfers control to an offset operand.
    pub const JUMP: Flags = Flags(1 << 2);
    /// A conditional jump (it may also fall through).
    pub const BRANCH: Flags = Flags(1 << 3);
    /// The instruction ends the activation.
    pub const RETURN: Flags = Flags(1 << 4);
    /// GC, process switches and deoptimisation may happen here.
    pub const SAFEPOINT: Flags = Flags(1 << 5);
    /// The instruction allocates.
    pub const ALLOC: Flags = Flags(1 << 6);
    /// The instruction stores a reference into a heap object (write barrier).
    pub const BARRIER: Flags = Flags(1 << 7);

    /// The union of two flag sets.
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Converts a decoded operand to its field type.
pub trait FromOperand {
    /// Converts `value`, which the decoder has range-checked.
    fn from_operand(value: i64) -> Self;
}

impl FromOperand for u32 {
    fn from_operand(value: i64) -> Self {
        value as u32
    }
}

impl FromOperand for i32 {
    fn from_operand(value: i64) -> Self {
        value as i32
    }
}

/// Reads one operand of a given width.
pub trait ReadOperand {
    /// The operand at byte `at` of `ops`, `width` bytes wide.
    fn read(ops: &[u8], at: usize, width: usize) -> Self;

    /// The narrow operand at byte `at` of `code`.
    ///
    /// # Safety
    /// `code.add(at)` must be readable.
    unsafe fn read_raw(code: *const u8, at: usize, width: usize) -> Self;
}

/// A visitor that executes: it keeps a bytecode position that
/// [`dispatch_verified`] moves past each instruction before its handler.
pub trait Interpret: Visitor {
    /// Sets the position of the next instruction.
    fn set_pc(&mut self, pc: usize);
}

impl ReadOperand for u32 {
    #[inline(always)]
    unsafe fn read_raw(code: *const u8, at: usize, _width: usize) -> u32 {
        // SAFETY: the caller guarantees the byte is readable.
        u32::from(unsafe { *code.add(at) })
    }

    #[inline(always)]
    fn read(ops: &[u8], at: usize, width: usize) -> u32 {
        match width {
            1 => u32::from(ops[at]),
            2 => u32::from(u16::from_le_bytes([ops[at], ops[at + 1]])),
            _ => u32::from_le_bytes([ops[at], ops[at + 1], ops[at + 2], ops[at + 3]]),
        }
    }
}

impl ReadOperand for i32 {
    #[inline(always)]
    unsafe fn read_raw(code: *const u8, at: usize, _width: usize) -> i32 {
        // SAFETY: the caller guarantees the byte is readable.
        i32::from(unsafe { *code.add(at) } as i8)
    }

    #[inline(always)]
    fn read(ops: &[u8], at: usize, width: usize) -> i32 {
        match width {
            1 => i32::from(ops[at] as i8),
            2 => i32::from(i16::from_le_bytes([ops[at], ops[at + 1]])),
            _ => i32::from_le_bytes([ops[at], ops[at + 1], ops[at + 2], ops[at + 3]]),
        }
    }
}

/// The operands of one instruction, in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operands {
    values: [i64; MAX_OPERANDS],
    len: usize,
}

impl Operands {
    fn from_slice(values: &[i64]) -> Operands {
        let mut out = Operands { values: [0; MAX_OPERANDS], len: values.len() };
        out.values[..values.len()].copy_from_slice(values);
        out
    }

    /// The operand values.
    pub fn as_slice(&self) -> &[i64] {
        &self.values[..self.len]
    }
}

macro_rules! count_operands {
    () => { 0 };
    ($head:ident $($tail:ident)*) => { 1 + count_operands!($($tail)*) };
}

macro_rules! operand_ty {
    (Int) => {
        i32
    };
    ($other:ident) => {
        u32
    };
}

macro_rules! define_bytecodes {
    ($(
        $name:ident $method:ident ( $($op:ident : $kind:ident),* )
        $pops:tt => $pushes:tt [ $($flag:ident)|* ] $doc:literal ;
    )*) => {
        /// An opcode: one row of the bytecode table.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Opcode {
            $( #[doc = $doc] $name, )*
        }

        impl Opcode {
            /// Every opcode, in table order.
            pub const ALL: &'static [Opcode] = &[ $( Opcode::$name, )* ];
            /// The number of opcodes.
            pub const COUNT: usize = Opcode::ALL.len();

            /// The byte that encodes this opcode.
            pub const fn byte(self) -> u8 {
                self as u8 + FIRST_OPCODE
            }

            /// The opcode a byte encodes, if any.
            pub fn from_byte(byte: u8) -> Option<Opcode> {
                let row = byte.checked_sub(FIRST_OPCODE)?;
                Opcode::ALL.get(usize::from(row)).copied()
            }

            /// The opcode's name, as the disassembler prints it.
            pub const fn name(self) -> &'static str {
                match self { $( Opcode::$name => stringify!($name), )* }
            }

            /// The name of the [`Visitor`] method that handles this opcode.
            pub const fn visitor_method(self) -> &'static str {
                match self { $( Opcode::$name => stringify!($method), )* }
            }

            /// One sentence on what the opcode does.
            pub const fn doc(self) -> &'static str {
                match self { $( Opcode::$name => $doc, )* }
            }

            /// The opcode's flags.
            pub const fn flags(self) -> Flags {
                match self { $( Opcode::$name => Flags::NONE $( .union(Flags::$flag) )*, )* }
            }

            /// The kinds of the opcode's operands, in encoding order.
            pub const fn operand_kinds(self) -> &'static [OperandKind] {
                match self { $( Opcode::$name => &[ $( OperandKind::$kind, )* ], )* }
            }

            /// The names of the opcode's operands, in encoding order.
            pub const fn operand_names(self) -> &'static [&'static str] {
                match self { $( Opcode::$name => &[ $( stringify!($op), )* ], )* }
            }
        }

        /// A decoded instruction.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Insn {
            $( #[doc = $doc] $name { $( #[allow(missing_docs)] $op: operand_ty!($kind), )* }, )*
        }

        impl Insn {
            /// The instruction's opcode.
            pub const fn opcode(&self) -> Opcode {
                match self { $( Insn::$name { .. } => Opcode::$name, )* }
            }

            /// How many values the instruction pops and pushes.
            #[allow(unused_variables)]
            pub fn stack_effect(&self) -> (u32, u32) {
                match *self {
                    $( Insn::$name { $($op),* } => ($pops as u32, $pushes as u32), )*
                }
            }

            /// The operand values, in encoding order.
            pub fn operands(&self) -> Operands {
                match *self {
                    $( Insn::$name { $($op),* } => Operands::from_slice(&[ $( i64::from($op) ),* ]), )*
                }
            }

            /// Builds an instruction from its opcode and operand values, which
            /// must be as many as the opcode has and in range for their type.
            #[allow(unused_mut, unused_variables)]
            pub fn from_operands(opcode: Opcode, values: &[i64]) -> Insn {
                let mut it = values.iter().copied();
                match opcode {
                    $( Opcode::$name => Insn::$name {
                        $( $op: <operand_ty!($kind) as FromOperand>::from_operand(it.next().unwrap_or(0)), )*
                    }, )*
                }
            }

            /// Decodes the operands that follow an opcode: `ops` starts at
            /// the first operand byte, each `width` bytes wide (1, 2 or 4).
            /// For verified code only: panics if `ops` is too short.
            #[inline(always)]
            #[allow(unused_mut, unused_variables, unused_assignments)]
            pub fn decode_operands(opcode: Opcode, ops: &[u8], width: usize) -> Insn {
                let mut at = 0;
                match opcode {
                    $( Opcode::$name => Insn::$name {
                        $( $op: {
                            let v = <operand_ty!($kind) as ReadOperand>::read(ops, at, width);
                            at += width;
                            v
                        }, )*
                    }, )*
                }
            }

            /// Calls the visitor method for this instruction.
            pub fn visit<V: Visitor + ?Sized>(&self, visitor: &mut V) -> V::Output {
                match *self {
                    $( Insn::$name { $($op),* } => visitor.$method($($op),*), )*
                }
            }
        }

        /// Number of operands of each opcode, by row.
        pub const OPERAND_COUNTS: [u8; Opcode::COUNT] = [ $( count_operands!($($op)*), )* ];

        /// Decodes the operands of the instruction with opcode row `row`
        /// (`ops` starts at its first operand, each `width` bytes wide) and
        /// calls the visitor's handler: the interpreter's dispatch, with no
        /// intermediate [`Insn`]. Panics if `row` is not a row of the table
        /// or `ops` is too short (verified code never does).
        #[inline(always)]
        #[allow(unused_mut, unused_variables, unused_assignments, non_upper_case_globals)]
        pub fn dispatch<V: Visitor + ?Sized>(visitor: &mut V, row: u8, ops: &[u8], width: usize) -> V::Output {
            mod rows {
                #[allow(non_camel_case_types, dead_code)]
                #[repr(u8)]
                pub enum Row { $( $name, )* }
                $( pub const $name: u8 = Row::$name as u8; )*
            }
            let mut at = 0;
            match row {
                $( rows::$name => visitor.$method($( {
                    let v = <operand_ty!($kind) as ReadOperand>::read(ops, at, width);
                    at += width;
                    v
                } ),*), )*
                _ => panic!("opcode row {row} out of range"),
            }
        }

        /// The opcode byte of each row, as constants (for matching on bytes).
        #[allow(non_upper_case_globals, missing_docs)]
        pub mod opcode_bytes {
            #[allow(non_camel_case_types, dead_code)]
            #[repr(u8)]
            enum Row { $( $name, )* }
            $( pub const $name: u8 = Row::$name as u8 + super::FIRST_OPCODE; )*
        }

        /// Decodes the instruction at `pc` of verified bytecode, moves the
        /// visitor's pc past it and calls the handler: the interpreter's
        /// dispatch, one jump on the opcode byte, operands read in place.
        ///
        /// # Safety
        /// `code` must point to bytecode that passed [`verify_method`], and
        /// `pc` must be the start of one of its instructions.
        #[inline(always)]
        #[allow(unused_mut, unused_variables, unused_assignments)]
        pub unsafe fn dispatch_verified<V: Interpret + ?Sized>(visitor: &mut V, code: *const u8, pc: usize) -> V::Output {
            // SAFETY: the caller guarantees `pc` starts an instruction of
            // verified code, so the opcode and its operands are in bounds.
            let byte = unsafe { *code.add(pc) };
            match byte {
                $( opcode_bytes::$name => {
                    let mut at = pc + 1;
                    $(
                        // SAFETY: as above.
                        let $op = unsafe { <operand_ty!($kind) as ReadOperand>::read_raw(code, at, 1) };
                        at += 1;
                    )*
                    visitor.set_pc(at);
                    visitor.$method($($op),*)
                } )*
                WIDE_PREFIX => {
                    // SAFETY: as above; the prefix is followed by an opcode.
                    let row = unsafe { *code.add(pc + 1) } - FIRST_OPCODE;
                    let ops_at = pc + 2;
                    let next = ops_at + 2 * OPERAND_COUNTS[row as usize] as usize;
                    // SAFETY: as above.
                    let ops = unsafe { std::slice::from_raw_parts(code.add(ops_at), next - ops_at) };
                    visitor.set_pc(next);
                    dispatch(visitor, row, ops, 2)
                }
                EXTRA_WIDE_PREFIX => {
                    // SAFETY: as above.
                    let row = unsafe { *code.add(pc + 1) } - FIRST_OPCODE;
                    let ops_at = pc + 2;
                    let next = ops_at + 4 * OPERAND_COUNTS[row as usize] as usize;
                    // SAFETY: as above.
                    let ops = unsafe { std::slice::from_raw_parts(code.add(ops_at), next - ops_at) };
                    visitor.set_pc(next);
                    dispatch(visitor, row, ops, 4)
                }
                // SAFETY: verified code holds only valid opcodes and prefixes.
                _ => unsafe { std::hint::unreachable_unchecked() },
            }
        }

        /// One method per bytecode: the shape of the interpreter's handlers
        /// and the JIT's translators.
        pub trait Visitor {
            /// What a handler returns.
            type Output;
            $(
                #[doc = $doc]
                fn $method(&mut self $(, $op: operand_ty!($kind))*) -> Self::Output;
            )*
        }
    };
}

crate::for_each_bytecode!(define_bytecodes);

const fn max_operand_count() -> usize {
    let mut i = 0;
    let mut max = 0;
    while i < Opcode::COUNT {
        let n = Opcode::ALL[i].operand_kinds().len();
        if n > max {
            max = n;
        }
        i += 1;
    }
    max
}

// The encoding is locked in: prefixes below the opcodes, every opcode fits a
// byte, no instruction has more operands than `Operands` holds.
const _: () = assert!(WIDE_PREFIX < FIRST_OPCODE && EXTRA_WIDE_PREFIX < FIRST_OPCODE);
const _: () = assert!(WIDE_PREFIX != EXTRA_WIDE_PREFIX);
const _: () = assert!(Opcode::COUNT + FIRST_OPCODE as usize <= 256);
const _: () = assert!(max_operand_count() == MAX_OPERANDS);
const _: () = assert!(Opcode::PushSelf.byte() == FIRST_OPCODE);
const _: () = assert!(size_of::<Opcode>() == 1);

impl Insn {
    /// The target of a jump at `pc` whose encoding is `len` bytes long, or
    /// `None` if this is not a jump (or the target would be negative).
    pub fn jump_target(&self, pc: usize, len: usize) -> Option<usize> {
        let end = pc + len;
        match *self {
            Insn::Jump { offset }
            | Insn::JumpIfTrue { offset }
            | Insn::JumpIfFalse { offset }
            | Insn::JumpIfNil { offset }
            | Insn::JumpIfNotNil { offset } => end.checked_add(offset as usize),
            Insn::JumpBack { offset } => end.checked_sub(offset as usize),
            _ => None,
        }
    }

    /// The inline cache a send uses, if this is a send.
    pub fn ic_index(&self) -> Option<u32> {
        let kinds = self.opcode().operand_kinds();
        let at = kinds.iter().position(|k| *k == OperandKind::Ic)?;
        self.operands().as_slice().get(at).map(|&v| v as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_bytes_round_trip() {
        for &op in Opcode::ALL {
            assert_eq!(Opcode::from_byte(op.byte()), Some(op));
        }
        assert_eq!(Opcode::from_byte(WIDE_PREFIX), None);
        assert_eq!(Opcode::from_byte(EXTRA_WIDE_PREFIX), None);
        assert_eq!(Opcode::from_byte(255), None);
    }

    #[test]
    fn operand_names_match_kinds() {
        for &op in Opcode::ALL {
            assert_eq!(op.operand_names().len(), op.operand_kinds().len(), "{}", op.name());
        }
    }

    #[test]
    fn stack_effects_use_operands() {
        let send = Insn::Send { selector: 0, argc: 2, ic: 0 };
        assert_eq!(send.stack_effect(), (3, 1));
        assert_eq!(Insn::MakeArray { count: 4 }.stack_effect(), (4, 1));
        assert_eq!(Insn::Dup {}.stack_effect(), (1, 2));
    }

    #[test]
    fn from_operands_inverts_operands() {
        let insns = [
            Insn::PushInteger { value: -5 },
            Insn::Send { selector: 3, argc: 1, ic: 9 },
            Insn::PushOuter { level: 2, index: 7 },
            Insn::ReturnSelf {},
        ];
        for insn in insns {
            let ops = insn.operands();
            assert_eq!(Insn::from_operands(insn.opcode(), ops.as_slice()), insn);
        }
    }

    #[test]
    fn every_jump_is_flagged() {
        for &op in Opcode::ALL {
            let zeros = vec![0; op.operand_kinds().len()];
            let insn = Insn::from_operands(op, &zeros);
            assert_eq!(insn.jump_target(0, 2).is_some(), op.flags().contains(Flags::JUMP), "{}", op.name());
        }
    }
}

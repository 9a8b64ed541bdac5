//! Bytecode decoder: bytes to [`Insn`]s, rejecting every malformed encoding.

use std::fmt;

use super::{EXTRA_WIDE_PREFIX, Insn, MAX_OPERANDS, Opcode, WIDE_PREFIX};

/// Why bytes do not decode to an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The code ends inside an instruction.
    Truncated {
        /// Where the instruction starts.
        pc: usize,
    },
    /// A byte that is neither an opcode nor a prefix.
    UnknownOpcode {
        /// Where it is.
        pc: usize,
        /// The byte.
        byte: u8,
    },
    /// A prefix followed by a prefix or by an instruction without operands.
    BadPrefix {
        /// Where the prefix is.
        pc: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { pc } => {
                write!(f, "instruction at {pc} runs past the end of the code")
            }
            DecodeError::UnknownOpcode { pc, byte } => write!(f, "unknown opcode {byte} at {pc}"),
            DecodeError::BadPrefix { pc } => {
                write!(f, "width prefix at {pc} is not followed by an instruction with operands")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// One decoded instruction and its encoded length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The instruction.
    pub insn: Insn,
    /// Its length in bytes, prefix included.
    pub len: usize,
}

/// Decodes the instruction that starts at `pc`.
pub fn decode(code: &[u8], pc: usize) -> Result<Decoded, DecodeError> {
    let mut at = pc;
    let first = *code.get(at).ok_or(DecodeError::Truncated { pc })?;
    let width = match first {
        WIDE_PREFIX => 2,
        EXTRA_WIDE_PREFIX => 4,
        _ => 1,
    };
    if width > 1 {
        at += 1;
    }
    let byte = *code.get(at).ok_or(DecodeError::Truncated { pc })?;
    if byte == WIDE_PREFIX || byte == EXTRA_WIDE_PREFIX {
        return Err(DecodeError::BadPrefix { pc });
    }
    let opcode = Opcode::from_byte(byte).ok_or(DecodeError::UnknownOpcode { pc: at, byte })?;
    at += 1;
    let kinds = opcode.operand_kinds();
    if width > 1 && kinds.is_empty() {
        return Err(DecodeError::BadPrefix { pc });
    }
    let mut values = [0i64; MAX_OPERANDS];
    for (slot, kind) in values.iter_mut().zip(kinds) {
        let bytes = code.get(at..at + width).ok_or(DecodeError::Truncated { pc })?;
        let mut raw = [0u8; 4];
        raw[..width].copy_from_slice(bytes);
        let unsigned = u32::from_le_bytes(raw);
        *slot = if kind.is_signed() {
            // Sign-extend from `width` bytes.
            let shift = 32 - 8 * width as u32;
            i64::from(((unsigned << shift) as i32) >> shift)
        } else {
            i64::from(unsigned)
        };
        at += width;
    }
    Ok(Decoded { insn: Insn::from_operands(opcode, &values[..kinds.len()]), len: at - pc })
}

/// Iterates over `(pc, decoded)` pairs of a whole method, stopping at the
/// first error (which it yields).
pub fn instructions(code: &[u8]) -> impl Iterator<Item = Result<(usize, Decoded), DecodeError>> + '_ {
    let mut pc = 0;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pc >= code.len() {
            return None;
        }
        match decode(code, pc) {
            Ok(d) => {
                let at = pc;
                pc += d.len;
                Some(Ok((at, d)))
            }
            Err(e) => {
                failed = true;
                Some(Err(e))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::encode;

    #[test]
    fn rejects_malformed_bytes() {
        assert_eq!(decode(&[], 0), Err(DecodeError::Truncated { pc: 0 }));
        assert_eq!(decode(&[255], 0), Err(DecodeError::UnknownOpcode { pc: 0, byte: 255 }));
        assert_eq!(decode(&[WIDE_PREFIX, WIDE_PREFIX], 0), Err(DecodeError::BadPrefix { pc: 0 }));
        assert_eq!(decode(&[WIDE_PREFIX, Opcode::Pop.byte()], 0), Err(DecodeError::BadPrefix { pc: 0 }));
        assert_eq!(decode(&[Opcode::PushTemp.byte()], 0), Err(DecodeError::Truncated { pc: 0 }));
        assert_eq!(decode(&[WIDE_PREFIX, Opcode::PushTemp.byte(), 1], 0), Err(DecodeError::Truncated { pc: 0 }));
    }

    #[test]
    fn never_panics_on_any_short_input() {
        for a in 0..=255u8 {
            for b in [0u8, 1, 2, 7, 128, 255] {
                for c in [0u8, 1, 255] {
                    let bytes = [a, b, c];
                    for pc in 0..4 {
                        let _ = decode(&bytes, pc);
                    }
                    let _ = instructions(&bytes).count();
                }
            }
        }
    }

    #[test]
    fn iterates_over_a_sequence() {
        let mut code = Vec::new();
        for insn in [Insn::PushSelf {}, Insn::PushTemp { index: 1000 }, Insn::Return {}] {
            encode(&insn, &mut code);
        }
        let pcs: Vec<usize> = instructions(&code).map(|r| r.expect("valid").0).collect();
        assert_eq!(pcs, [0, 1, 5]);
    }
}

//! Bytecode encoder: one instruction to bytes, with the narrowest prefix
//! that holds its operands.

use super::{EXTRA_WIDE_PREFIX, Insn, WIDE_PREFIX};

/// The operand width (1, 2 or 4 bytes) that holds every operand of `insn`.
fn operand_width(insn: &Insn) -> usize {
    let kinds = insn.opcode().operand_kinds();
    let operands = insn.operands();
    let mut width = 1;
    for (&kind, &value) in kinds.iter().zip(operands.as_slice()) {
        let needed = if kind.is_signed() {
            if i8::try_from(value).is_ok() {
                1
            } else if i16::try_from(value).is_ok() {
                2
            } else {
                4
            }
        } else if u8::try_from(value).is_ok() {
            1
        } else if u16::try_from(value).is_ok() {
            2
        } else {
            4
        };
        width = width.max(needed);
    }
    width
}

/// The number of bytes `encode` writes for `insn`.
pub fn encoded_len(insn: &Insn) -> usize {
    let count = insn.opcode().operand_kinds().len();
    if count == 0 {
        return 1;
    }
    let width = operand_width(insn);
    let prefix = usize::from(width > 1);
    prefix + 1 + count * width
}

/// Appends the encoding of `insn` to `out`.
pub fn encode(insn: &Insn, out: &mut Vec<u8>) {
    encode_at_width(insn, 1, out);
}

/// Appends the encoding of `insn` with operands at least `min_width` bytes
/// wide (1, 2 or 4) — for jumps whose size was fixed before their offset.
pub fn encode_at_width(insn: &Insn, min_width: usize, out: &mut Vec<u8>) {
    let opcode = insn.opcode();
    let operands = insn.operands();
    if operands.as_slice().is_empty() {
        out.push(opcode.byte());
        return;
    }
    let width = match operand_width(insn).max(min_width) {
        1 => 1,
        2 => 2,
        _ => 4,
    };
    match width {
        2 => out.push(WIDE_PREFIX),
        4 => out.push(EXTRA_WIDE_PREFIX),
        _ => {}
    }
    out.push(opcode.byte());
    for &value in operands.as_slice() {
        // Operands are u32 or i32 in `Insn`, so the low `width` bytes of
        // the two's-complement form hold the whole value.
        out.extend_from_slice(&value.to_le_bytes()[..width]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::{Opcode, decode};

    #[test]
    fn narrow_wide_and_extra_wide() {
        let mut out = Vec::new();
        encode(&Insn::PushTemp { index: 3 }, &mut out);
        assert_eq!(out, [Opcode::PushTemp.byte(), 3]);
        out.clear();
        encode(&Insn::PushTemp { index: 300 }, &mut out);
        assert_eq!(out, [WIDE_PREFIX, Opcode::PushTemp.byte(), 44, 1]);
        out.clear();
        encode(&Insn::PushTemp { index: 70_000 }, &mut out);
        assert_eq!(out.len(), 6);
        assert_eq!(out[0], EXTRA_WIDE_PREFIX);
    }

    #[test]
    fn signed_operands_pick_their_width() {
        for (value, len) in [(0, 2), (-128, 2), (127, 2), (128, 4), (-129, 4), (40_000, 6), (i32::MIN, 6)] {
            let insn = Insn::PushInteger { value };
            assert_eq!(encoded_len(&insn), len, "{value}");
            let mut out = Vec::new();
            encode(&insn, &mut out);
            assert_eq!(out.len(), len);
            let decoded = decode(&out, 0).expect("decodes");
            assert_eq!(decoded.insn, insn);
            assert_eq!(decoded.len, len);
        }
    }

    #[test]
    fn one_wide_operand_widens_all() {
        let insn = Insn::Send { selector: 1, argc: 2, ic: 1000 };
        let mut out = Vec::new();
        encode(&insn, &mut out);
        assert_eq!(out.len(), 1 + 1 + 3 * 2);
        assert_eq!(decode(&out, 0).expect("decodes").insn, insn);
    }
}

//! The special selectors: sends that have their own opcode and a fast path.

use super::Opcode;

/// `(opcode, selector)` for every special-selector send.
pub const SPECIAL_SELECTORS: &[(Opcode, &str)] = &[
    (Opcode::SendAdd, "+"),
    (Opcode::SendSub, "-"),
    (Opcode::SendMul, "*"),
    (Opcode::SendDiv, "/"),
    (Opcode::SendFloorDiv, "//"),
    (Opcode::SendMod, "%"),
    (Opcode::SendLt, "<"),
    (Opcode::SendGt, ">"),
    (Opcode::SendLe, "<="),
    (Opcode::SendGe, ">="),
    (Opcode::SendEq, "="),
    (Opcode::SendNe, "~="),
    (Opcode::SendIdentical, "=="),
    (Opcode::SendAt, "at:"),
    (Opcode::SendAtPut, "at:put:"),
    (Opcode::SendSize, "size"),
    (Opcode::SendValue, "value"),
    (Opcode::SendValue1, "value:"),
    (Opcode::SendValue2, "value:with:"),
    (Opcode::SendClass, "class"),
    (Opcode::SendIsNil, "isNil"),
    (Opcode::SendNotNil, "notNil"),
    (Opcode::SendNot, "not"),
];

impl Opcode {
    /// The selector a special-selector opcode sends when its fast path does
    /// not apply.
    pub fn special_selector(self) -> Option<&'static str> {
        SPECIAL_SELECTORS.iter().find(|&&(op, _)| op == self).map(|&(_, s)| s)
    }

    /// The special-selector opcode for `selector`, if it has one.
    pub fn for_special_selector(selector: &str) -> Option<Opcode> {
        SPECIAL_SELECTORS.iter().find(|&&(_, s)| s == selector).map(|&(op, _)| op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::verify::selector_arity;
    use crate::bytecode::{Flags, OperandKind};

    #[test]
    fn special_flag_matches_the_table() {
        for &op in Opcode::ALL {
            let listed = op.special_selector().is_some();
            let special = op.flags().contains(Flags::SPECIAL) || op == Opcode::SendIdentical;
            assert_eq!(listed, special, "{}", op.name());
        }
    }

    #[test]
    fn stack_effect_matches_arity() {
        for &(op, selector) in SPECIAL_SELECTORS {
            let zeros = vec![0; op.operand_kinds().len()];
            let insn = crate::bytecode::Insn::from_operands(op, &zeros);
            assert_eq!(insn.stack_effect(), (selector_arity(selector) as u32 + 1, 1), "{selector}");
            let has_ic = op.operand_kinds() == [OperandKind::Ic];
            assert_eq!(has_ic, op != Opcode::SendIdentical, "{selector}");
        }
    }
}

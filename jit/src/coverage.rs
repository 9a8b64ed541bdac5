//! Which special arithmetic and comparison sends native code finishes
//! inline, by operand classes: the one place that decides it.
//!
//! Their semantics are defined once, in `vm::arith`; native code cannot
//! call that Rust on its fast path, so the translator emits Cranelift
//! instructions for the `(operation, operand classes)` pairs [`covers`]
//! names, and everything else (other classes, and the outcomes that are
//! not an immediate: an overflow, a Double that is not a SmallFloat, a
//! division by zero) takes the slow path, the interpreter, which evaluates
//! `vm::arith`. The match below is exhaustive, so a new operation does not
//! compile until its coverage is decided; `tests/special_sends.rs` runs
//! every operation on a table of edge operands under the interpreter and
//! under native code and checks both against `vm::arith`.
//!
//! Within a covered pair some operands still take the slow path: a
//! SmallInteger divisor of 0 or -1 for `/` and `%` (division by zero, and
//! the one quotient that overflows), and a Double result that does not fit
//! a SmallFloat (so a Double divided by Integer zero, an infinity or NaN,
//! reaches the primitive, which raises `ZeroDivide`).

use vm::arith::{ArithOp, Operands};

/// Whether native code finishes `op` on operands of classes `operands`
/// inline.
pub const fn covers(op: ArithOp, operands: Operands) -> bool {
    use Operands::*;
    match op {
        ArithOp::Add | ArithOp::Sub | ArithOp::Mul => true,
        // An Integer quotient of a Double (truncated, maybe a
        // LargeInteger): the primitive's.
        ArithOp::Div => !matches!(operands, IntFloat),
        // Integer receivers (`//` converts both and checks for a zero
        // divisor): the primitive's.
        ArithOp::FloatDiv => matches!(operands, FloatInt | FloatFloat),
        // Cranelift has no floating-point remainder.
        ArithOp::Mod => matches!(operands, IntInt),
        ArithOp::Lt | ArithOp::Gt | ArithOp::Le | ArithOp::Ge | ArithOp::Eq | ArithOp::Ne => true,
    }
}

/// Whether native code finishes `op` inline for some operand classes
/// that include a SmallFloat.
pub const fn covers_floats(op: ArithOp) -> bool {
    covers(op, Operands::IntFloat) || covers(op, Operands::FloatInt) || covers(op, Operands::FloatFloat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vm::arith::{Outcome, eval};
    use vm::value::Value;

    /// The translator's float path converts a SmallInteger operand to a
    /// double where a mixed class is covered and takes two doubles
    /// otherwise: it needs SmallFloat × SmallFloat whenever it has a
    /// float path at all.
    #[test]
    fn a_float_path_covers_two_floats() {
        for &op in ArithOp::ALL {
            if covers_floats(op) {
                assert!(covers(op, Operands::FloatFloat), "{op:?}");
            }
        }
    }

    /// Every covered pair is one the definition answers without a send,
    /// for operands where it answers an immediate.
    #[test]
    fn covered_pairs_are_immediate_cases() {
        let sample = |o: Operands| match o {
            Operands::IntInt => (Value::small(7), Value::small(2)),
            Operands::IntFloat => (Value::small(7), Value::small_float(2.0).expect("SmallFloat")),
            Operands::FloatInt => (Value::small_float(7.5).expect("SmallFloat"), Value::small(2)),
            Operands::FloatFloat => {
                (Value::small_float(7.5).expect("SmallFloat"), Value::small_float(2.0).expect("SmallFloat"))
            }
        };
        for &op in ArithOp::ALL {
            for o in Operands::ALL {
                let (a, b) = sample(o);
                assert_eq!(Operands::of(a, b), Some(o));
                let outcome = eval(op, a, b);
                assert!(matches!(outcome, Outcome::Value(_) | Outcome::Bool(_)), "{op:?} {o:?}: {outcome:?}");
                // Comparisons are covered whole: their outcomes are always
                // Booleans.
                if op.is_comparison() {
                    assert!(covers(op, o), "{op:?} {o:?}");
                }
            }
        }
    }
}

//! The special arithmetic and comparison sends, defined once.
//!
//! `+ - * / // % < > <= >= = ~=` have their own bytecodes (see
//! [`crate::bytecode::SPECIAL_SELECTORS`]) and fast paths in every tier.
//! This module is the one definition of what they answer when both
//! operands are immediates — a SmallInteger or a SmallFloat, so four
//! operand classes ([`Operands`]) — as a typed [`Outcome`]: the answer, or
//! what the primitive (or a real send) must do instead. The interpreter's
//! fast paths call [`eval`]; the Integer and Double primitives call it for
//! immediate operands and the scalar functions below ([`int_float`],
//! [`float_float`], [`int_div_float`]) for a LargeInteger or a boxed
//! Double, so the arithmetic is written once. Native code cannot call Rust
//! on its fast path; the JIT declares which `(operation, operand classes)`
//! pairs it covers inline (`jit::coverage`) and the test
//! `tests/special_sends.rs` checks every tier against this module.
//!
//! The rules (SOM's, see `docs/design/special-sends.md`):
//!
//! - SmallIntegers overflow into LargeIntegers ([`Outcome::Overflow`]).
//! - `/` of Integers truncates towards zero; an Integer divided by a Double
//!   answers the truncated quotient as an Integer; a Double receiver
//!   divides as IEEE doubles.
//! - `//` answers a Double (the quotient as doubles).
//! - `%` of two Integers is floored (the sign of the divisor); with a
//!   Double on either side it is the truncated IEEE remainder (the sign of
//!   the dividend), as SOM's `Double>>%`.
//! - Dividing (`/ // %`) an Integer by Integer zero, `//` by Double zero
//!   and a Double by Integer zero raise `ZeroDivide`
//!   ([`Outcome::ZeroDivide`]); a Double receiver divided by a Double zero
//!   gives an infinity or NaN.
//! - Mixed Integer/Double operations convert the Integer to a Double
//!   (rounding to nearest) and then work on doubles, comparisons included.
//! - A Double result that is not a SmallFloat must be boxed
//!   ([`Outcome::Boxed`]); allocating is the primitive's business.

use crate::bytecode::Opcode;
use crate::value::{SMALL_INT_MAX, SMALL_INT_MIN, Value};

/// Calls `$m!` with the table of the special arithmetic and comparison
/// operations: `Variant Opcode "selector" "doc"`.
macro_rules! for_each_arith_op {
    ($m:ident) => {
        $m! {
            Add SendAdd "+" "Sum.";
            Sub SendSub "-" "Difference.";
            Mul SendMul "*" "Product.";
            Div SendDiv "/" "Quotient: truncated for Integers (an Integer even with a Double argument), IEEE for a Double receiver.";
            FloatDiv SendFloorDiv "//" "Quotient as a Double.";
            Mod SendMod "%" "Modulo: floored for two Integers, the truncated IEEE remainder with a Double.";
            Lt SendLt "<" "Less than.";
            Gt SendGt ">" "Greater than.";
            Le SendLe "<=" "Less than or equal.";
            Ge SendGe ">=" "Greater than or equal.";
            Eq SendEq "=" "Equal (by value).";
            Ne SendNe "~=" "Not equal (by value).";
        }
    };
}

macro_rules! define_arith_ops {
    ($($name:ident $opcode:ident $selector:literal $doc:literal;)*) => {
        /// A special arithmetic or comparison send.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ArithOp {
            $(
                #[doc = concat!("`", $selector, "`: ", $doc)]
                $name,
            )*
        }

        impl ArithOp {
            /// Every operation, in bytecode order.
            pub const ALL: &'static [ArithOp] = &[$(ArithOp::$name),*];

            /// The bytecode that sends it.
            pub const fn opcode(self) -> Opcode {
                match self {
                    $(ArithOp::$name => Opcode::$opcode,)*
                }
            }

            /// The operation a special-send bytecode performs, if it is an
            /// arithmetic or comparison one.
            pub const fn for_opcode(op: Opcode) -> Option<ArithOp> {
                match op {
                    $(Opcode::$opcode => Some(ArithOp::$name),)*
                    _ => None,
                }
            }

            /// The selector sent when the fast path does not apply.
            pub const fn selector(self) -> &'static str {
                match self {
                    $(ArithOp::$name => $selector,)*
                }
            }
        }
    };
}

for_each_arith_op!(define_arith_ops);

impl ArithOp {
    /// Whether it answers a Boolean.
    pub const fn is_comparison(self) -> bool {
        matches!(self, ArithOp::Lt | ArithOp::Gt | ArithOp::Le | ArithOp::Ge | ArithOp::Eq | ArithOp::Ne)
    }
}

/// The classes of two immediate operands (receiver first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operands {
    /// SmallInteger × SmallInteger.
    IntInt,
    /// SmallInteger × SmallFloat.
    IntFloat,
    /// SmallFloat × SmallInteger.
    FloatInt,
    /// SmallFloat × SmallFloat.
    FloatFloat,
}

impl Operands {
    /// Every pair of classes.
    pub const ALL: [Operands; 4] = [Operands::IntInt, Operands::IntFloat, Operands::FloatInt, Operands::FloatFloat];

    /// The classes of `a` and `b`, if both are immediate numbers.
    #[inline]
    pub fn of(a: Value, b: Value) -> Option<Operands> {
        match (a.is_int(), a.is_small_float(), b.is_int(), b.is_small_float()) {
            (true, _, true, _) => Some(Operands::IntInt),
            (true, _, _, true) => Some(Operands::IntFloat),
            (_, true, true, _) => Some(Operands::FloatInt),
            (_, true, _, true) => Some(Operands::FloatFloat),
            _ => None,
        }
    }
}

/// What a special send answers on immediate operands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// The answer, an immediate number (SmallInteger or SmallFloat).
    Value(Value),
    /// The answer, a Boolean.
    Bool(bool),
    /// The answer is this Double, which is not a SmallFloat (an infinity,
    /// a NaN, a subnormal, an exponent out of range): the primitive boxes
    /// it.
    Boxed(f64),
    /// The answer is an Integer outside the SmallInteger range: the
    /// LargeInteger primitive computes it.
    Overflow,
    /// Division by zero: the primitive raises `ZeroDivide`.
    ZeroDivide,
    /// Not an immediate case: a real send.
    Send,
}

/// `op` on two values: the definition for immediates, [`Outcome::Send`]
/// for anything else.
#[inline(always)]
pub fn eval(op: ArithOp, a: Value, b: Value) -> Outcome {
    if a.is_int() && b.is_int() { int_int(op, a.int_value(), b.int_value()) } else { mixed(op, a, b) }
}

/// [`eval`] when the operands are not both SmallIntegers.
#[inline]
pub fn mixed(op: ArithOp, a: Value, b: Value) -> Outcome {
    if a.is_small_float() {
        let x = a.small_float_value();
        if b.is_small_float() {
            float_float(op, x, b.small_float_value())
        } else if b.is_int() {
            float_int(op, x, b.int_value())
        } else {
            Outcome::Send
        }
    } else if a.is_int() && b.is_small_float() {
        int_float(op, a.int_value() as f64, b.small_float_value())
    } else {
        Outcome::Send
    }
}

/// A Double answer: a SmallFloat if it is one, else to be boxed.
#[inline(always)]
fn double(d: f64) -> Outcome {
    match Value::small_float(d) {
        Some(v) => Outcome::Value(v),
        None => Outcome::Boxed(d),
    }
}

/// An Integer answer: a SmallInteger if it is one, else a LargeInteger.
#[inline(always)]
fn integer(i: Option<i64>) -> Outcome {
    match i.and_then(Value::int) {
        Some(v) => Outcome::Value(v),
        None => Outcome::Overflow,
    }
}

/// `op` on two SmallInteger values.
#[inline(always)]
pub fn int_int(op: ArithOp, x: i64, y: i64) -> Outcome {
    match op {
        ArithOp::Add => integer(x.checked_add(y)),
        ArithOp::Sub => integer(x.checked_sub(y)),
        ArithOp::Mul => integer(x.checked_mul(y)),
        ArithOp::Div if y == 0 => Outcome::ZeroDivide,
        ArithOp::Div => integer(x.checked_div(y)),
        ArithOp::FloatDiv if y == 0 => Outcome::ZeroDivide,
        ArithOp::FloatDiv => double(x as f64 / y as f64),
        ArithOp::Mod if y == 0 => Outcome::ZeroDivide,
        ArithOp::Mod => Outcome::Value(Value::small(floored_mod(x, y))),
        ArithOp::Lt | ArithOp::Gt | ArithOp::Le | ArithOp::Ge | ArithOp::Eq | ArithOp::Ne => compare(op, x, y),
    }
}

/// A comparison `op` of two numbers of one kind (IEEE for doubles: NaN
/// is unordered and unequal to everything).
#[inline(always)]
fn compare<T: PartialOrd>(op: ArithOp, x: T, y: T) -> Outcome {
    Outcome::Bool(match op {
        ArithOp::Lt => x < y,
        ArithOp::Gt => x > y,
        ArithOp::Le => x <= y,
        ArithOp::Ge => x >= y,
        ArithOp::Eq => x == y,
        ArithOp::Ne => x != y,
        _ => unreachable!("only comparisons are compared"),
    })
}

/// `x % y` with the sign of `y` (`y` non-zero, not both `i64::MIN` and
/// -1; SmallIntegers never are).
#[inline(always)]
pub fn floored_mod(x: i64, y: i64) -> i64 {
    let r = x % y;
    if r != 0 && (r ^ y) < 0 { r + y } else { r }
}

/// `op` with an Integer receiver, converted to the double `x`, and a
/// Double argument `y`.
#[inline]
pub fn int_float(op: ArithOp, x: f64, y: f64) -> Outcome {
    match op {
        ArithOp::Div => match int_div_float(x, y) {
            None => Outcome::ZeroDivide,
            // Integral, so exact when in range.
            Some(q) if q >= SMALL_INT_MIN as f64 && q < -(SMALL_INT_MIN as f64) => {
                debug_assert!(q as i64 <= SMALL_INT_MAX);
                Outcome::Value(Value::small(q as i64))
            }
            Some(_) => Outcome::Overflow,
        },
        ArithOp::FloatDiv if y == 0.0 => Outcome::ZeroDivide,
        _ => float_float(op, x, y),
    }
}

/// The quotient of an Integer (converted to the double `x`) divided by the
/// Double `y`, truncated towards zero; `None` when it is not finite (a
/// division by zero).
#[inline]
pub fn int_div_float(x: f64, y: f64) -> Option<f64> {
    let q = (x / y).trunc();
    q.is_finite().then_some(q)
}

/// `op` with a Double receiver `x` and a SmallInteger argument `y`.
#[inline]
pub fn float_int(op: ArithOp, x: f64, y: i64) -> Outcome {
    match op {
        ArithOp::Div | ArithOp::FloatDiv if y == 0 => Outcome::ZeroDivide,
        _ => float_float(op, x, y as f64),
    }
}

/// `op` on two doubles (a Double receiver; a Double argument, or an
/// Integer one converted), in IEEE arithmetic.
#[inline]
pub fn float_float(op: ArithOp, x: f64, y: f64) -> Outcome {
    match op {
        ArithOp::Add => double(x + y),
        ArithOp::Sub => double(x - y),
        ArithOp::Mul => double(x * y),
        ArithOp::Div | ArithOp::FloatDiv => double(x / y),
        ArithOp::Mod => double(x % y),
        ArithOp::Lt | ArithOp::Gt | ArithOp::Le | ArithOp::Ge | ArithOp::Eq | ArithOp::Ne => compare(op, x, y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::Flags;

    #[test]
    fn every_arithmetic_special_send_is_in_the_table() {
        for &(op, selector) in crate::bytecode::SPECIAL_SELECTORS {
            if let Some(a) = ArithOp::for_opcode(op) {
                assert_eq!(a.opcode(), op);
                assert_eq!(a.selector(), selector);
                assert!(op.flags().contains(Flags::SPECIAL));
            }
        }
        for &a in ArithOp::ALL {
            assert_eq!(ArithOp::for_opcode(a.opcode()), Some(a));
            assert_eq!(a.opcode().special_selector(), Some(a.selector()));
        }
    }

    fn int(v: Outcome) -> i64 {
        match v {
            Outcome::Value(v) if v.is_int() => v.int_value(),
            other => panic!("not a SmallInteger: {other:?}"),
        }
    }

    fn float(v: Outcome) -> f64 {
        match v {
            Outcome::Value(v) if v.is_small_float() => v.small_float_value(),
            Outcome::Boxed(d) => d,
            other => panic!("not a Double: {other:?}"),
        }
    }

    #[test]
    fn integer_rules() {
        assert_eq!(int(int_int(ArithOp::Div, -17, 5)), -3);
        assert_eq!(int(int_int(ArithOp::Mod, -17, 5)), 3);
        assert_eq!(int(int_int(ArithOp::Mod, 17, -5)), -3);
        assert_eq!(int(int_int(ArithOp::Mod, -17, -5)), -2);
        assert_eq!(int(int_int(ArithOp::Mod, SMALL_INT_MIN, -1)), 0);
        assert_eq!(int_int(ArithOp::Add, SMALL_INT_MAX, 1), Outcome::Overflow);
        assert_eq!(int_int(ArithOp::Sub, SMALL_INT_MIN, 1), Outcome::Overflow);
        assert_eq!(int_int(ArithOp::Mul, 1 << 31, 1 << 31), Outcome::Overflow);
        assert_eq!(int_int(ArithOp::Div, SMALL_INT_MIN, -1), Outcome::Overflow);
        for op in [ArithOp::Div, ArithOp::FloatDiv, ArithOp::Mod] {
            assert_eq!(int_int(op, 1, 0), Outcome::ZeroDivide);
        }
        assert_eq!(float(int_int(ArithOp::FloatDiv, 1, 2)), 0.5);
    }

    #[test]
    fn double_rules() {
        assert_eq!(float(float_float(ArithOp::Mod, -7.5, 2.0)), -1.5);
        assert_eq!(float(int_float(ArithOp::Mod, -7.0, 2.0)), -1.0);
        assert_eq!(int(int_float(ArithOp::Div, 10.0, 4.0)), 2);
        assert_eq!(int_float(ArithOp::Div, 1.0, 0.0), Outcome::ZeroDivide);
        assert_eq!(int_float(ArithOp::Div, 1.0, 1e-300), Outcome::Overflow);
        assert_eq!(int_float(ArithOp::FloatDiv, 1.0, -0.0), Outcome::ZeroDivide);
        assert_eq!(float_int(ArithOp::Div, 1.0, 0), Outcome::ZeroDivide);
        assert!(float(float_float(ArithOp::Div, 1.0, 0.0)).is_infinite());
        assert!(float(float_int(ArithOp::Mod, 1.0, 0)).is_nan());
        assert_eq!(float_float(ArithOp::Ne, f64::NAN, f64::NAN), Outcome::Bool(true));
        assert_eq!(float_float(ArithOp::Eq, 0.0, -0.0), Outcome::Bool(true));
        assert!(matches!(float_float(ArithOp::Mul, 1e38, 1e38), Outcome::Boxed(d) if d == 1e38 * 1e38));
    }

    #[test]
    fn only_immediates_are_defined() {
        let one = Value::small(1);
        let half = Value::small_float(0.5).expect("a SmallFloat");
        assert_eq!(Operands::of(one, half), Some(Operands::IntFloat));
        assert_eq!(Operands::of(half, one), Some(Operands::FloatInt));
        assert_eq!(Operands::of(one, Value::char('a')), None);
        for &op in ArithOp::ALL {
            assert_eq!(eval(op, one, Value::char('a')), Outcome::Send);
            assert_eq!(eval(op, Value::UNBOUND, half), Outcome::Send);
            assert_ne!(eval(op, one, half), Outcome::Send);
        }
    }
}

//! Integer primitives: SmallIntegers with overflow into LargeIntegers, and
//! mixed arithmetic with Doubles (which coerces to Double, except `/`, which
//! stays an integer division as in SOM). The special arithmetic and
//! comparison operations follow their one definition in [`crate::arith`].

use num_bigint::BigInt;
use num_integer::Integer as _;
use num_traits::{Signed, ToPrimitive, Zero};

use super::{ErrorKind, Prim, answer, arg, receiver};
use crate::arith::{self, ArithOp};
use crate::universe::Universe;
use crate::value::Value;

/// An operand of integer arithmetic.
enum Num {
    Small(i64),
    Big(BigInt),
    Float(f64),
}

fn num(u: &Universe, v: Value) -> Option<Num> {
    if v.is_int() {
        Some(Num::Small(v.int_value()))
    } else if let Some(d) = u.double_value(v) {
        Some(Num::Float(d))
    } else {
        u.integer_value(v).map(Num::Big)
    }
}

fn big(n: &Num) -> BigInt {
    match n {
        Num::Small(i) => BigInt::from(*i),
        Num::Big(b) => b.clone(),
        Num::Float(d) => BigInt::from(*d as i64),
    }
}

/// The receiver and argument of a binary integer primitive.
fn operands(u: &Universe) -> Option<(Num, Num)> {
    let r = num(u, receiver(u, 1))?;
    if matches!(r, Num::Float(_)) {
        return None;
    }
    Some((r, num(u, arg(u, 1, 0))?))
}

/// Converts a LargeInteger (or SmallInteger) to f64, failing for values a
/// Double cannot represent.
pub(super) fn big_to_f64(b: &BigInt) -> Result<f64, Prim> {
    match b.to_f64() {
        Some(d) if d.is_finite() => Ok(d),
        _ => Err(Prim::Raise(ErrorKind::Arithmetic, "Can't represent as double.".into())),
    }
}

fn to_f64(n: &Num) -> Result<f64, Prim> {
    match n {
        Num::Small(i) => Ok(*i as f64),
        Num::Big(b) => big_to_f64(b),
        Num::Float(d) => Ok(*d),
    }
}

fn int_result(u: &mut Universe, b: BigInt) -> Prim {
    match u.new_integer(&b) {
        Ok(v) => Prim::Ok(v),
        Err(e) => e.into(),
    }
}

fn double_result(u: &mut Universe, d: f64) -> Prim {
    match u.new_double(d) {
        Ok(v) => Prim::Ok(v),
        Err(e) => e.into(),
    }
}

macro_rules! try_prim {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(p) => return p,
        }
    };
}

/// The Integer primitive of special operation `op`: the definition in
/// [`arith`] for immediate operands (and for a Double argument), the
/// LargeInteger arithmetic beyond it.
fn special(u: &mut Universe, op: ArithOp) -> Prim {
    let (r, b) = (receiver(u, 1), arg(u, 1, 0));
    if r.is_int()
        && let Some(p) = answer(u, arith::eval(op, r, b))
    {
        return p;
    }
    if num(u, b).is_none() {
        // An Integer is never equal to a non-number.
        match op {
            ArithOp::Eq => return Prim::Ok(u.boolean(false)),
            ArithOp::Ne => return Prim::Ok(u.boolean(true)),
            _ => return Prim::Fail,
        }
    }
    let Some((a, b)) = operands(u) else { return Prim::Fail };
    match (&a, &b) {
        (_, Num::Float(y)) => {
            let x = try_prim!(to_f64(&a));
            if let Some(p) = answer(u, arith::int_float(op, x, *y)) {
                return p;
            }
            // Only `/` overflows here: its quotient is a LargeInteger.
            match arith::int_div_float(x, *y) {
                Some(q) => int_result(u, float_to_big(q)),
                None => division_by_zero(),
            }
        }
        _ => large(u, op, big(&a), big(&b)),
    }
}

/// Special operation `op` on Integers of any size.
fn large(u: &mut Universe, op: ArithOp, x: BigInt, y: BigInt) -> Prim {
    let r = match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div | ArithOp::Mod if y.is_zero() => return division_by_zero(),
        // Truncating.
        ArithOp::Div => x / y,
        ArithOp::Mod => x.mod_floor(&y),
        ArithOp::FloatDiv => {
            let (x, y) = (try_prim!(big_to_f64(&x)), try_prim!(big_to_f64(&y)));
            return answer(u, arith::int_float(op, x, y)).unwrap_or(Prim::Fail);
        }
        ArithOp::Lt => return Prim::Ok(u.boolean(x < y)),
        ArithOp::Gt => return Prim::Ok(u.boolean(x > y)),
        ArithOp::Le => return Prim::Ok(u.boolean(x <= y)),
        ArithOp::Ge => return Prim::Ok(u.boolean(x >= y)),
        ArithOp::Eq => return Prim::Ok(u.boolean(x == y)),
        ArithOp::Ne => return Prim::Ok(u.boolean(x != y)),
    };
    int_result(u, r)
}

/// `+`
pub fn add(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::Add)
}

/// `-`
pub fn sub(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::Sub)
}

/// `*`
pub fn mul(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::Mul)
}

fn division_by_zero() -> Prim {
    Prim::Raise(ErrorKind::ZeroDivide, "Division by zero.".into())
}

/// `/`: integer division, truncating (a Double argument divides as Doubles
/// and truncates the quotient to an Integer).
pub fn div(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::Div)
}

/// An integral f64 as a BigInt, exactly.
fn float_to_big(d: f64) -> BigInt {
    if let Some(i) = d.to_i64() {
        return BigInt::from(i);
    }
    let bits = d.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64 - 1075;
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    let magnitude =
        if exp >= 0 { BigInt::from(mantissa) << exp as usize } else { BigInt::from(mantissa >> (-exp) as u32) };
    if d < 0.0 { -magnitude } else { magnitude }
}

/// `//`: division answering a Double.
pub fn double_div(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::FloatDiv)
}

/// `%`: modulo, with the sign of the divisor (of the dividend with a Double
/// argument).
pub fn modulo(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::Mod)
}

/// `rem:`: remainder, with the sign of the dividend.
pub fn rem(u: &mut Universe, _argc: usize) -> Prim {
    let Some((a, b)) = operands(u) else { return Prim::Fail };
    match (&a, &b) {
        (_, Num::Small(0)) => division_by_zero(),
        (Num::Small(x), Num::Small(y)) => Prim::Ok(Value::small(x.wrapping_rem(*y))),
        (_, Num::Float(_)) => Prim::Fail,
        _ => {
            let divisor = big(&b);
            if divisor.is_zero() {
                return division_by_zero();
            }
            int_result(u, big(&a) % divisor)
        }
    }
}

fn bitwise(u: &mut Universe, small: fn(i64, i64) -> i64, large: fn(&BigInt, &BigInt) -> BigInt) -> Prim {
    let Some((a, b)) = operands(u) else { return Prim::Fail };
    match (&a, &b) {
        (Num::Small(x), Num::Small(y)) => Prim::Ok(Value::small(small(*x, *y))),
        (_, Num::Float(_)) => Prim::Fail,
        _ => int_result(u, large(&big(&a), &big(&b))),
    }
}

/// `&`, `bitAnd:`
pub fn bit_and(u: &mut Universe, _argc: usize) -> Prim {
    bitwise(u, |a, b| a & b, |a, b| a & b)
}

/// `bitOr:`
pub fn bit_or(u: &mut Universe, _argc: usize) -> Prim {
    bitwise(u, |a, b| a | b, |a, b| a | b)
}

/// `bitXor:`
pub fn bit_xor(u: &mut Universe, _argc: usize) -> Prim {
    bitwise(u, |a, b| a ^ b, |a, b| a ^ b)
}

/// `<<`
pub fn shift_left(u: &mut Universe, _argc: usize) -> Prim {
    let Some((a, Num::Small(n))) = operands(u) else { return Prim::Fail };
    if n < 0 {
        return Prim::Raise(ErrorKind::Arithmetic, "Negative shift.".into());
    }
    if n > 1 << 24 {
        return Prim::Raise(ErrorKind::Arithmetic, format!("shift by {n} is too large"));
    }
    if let Num::Small(x) = a
        && n < 62
        && let Some(v) = x.checked_mul(1 << n).and_then(Value::int)
    {
        return Prim::Ok(v);
    }
    int_result(u, big(&a) << n as usize)
}

fn shift_by(u: &mut Universe, a: Num, n: i64) -> Prim {
    match a {
        Num::Small(x) => Prim::Ok(Value::small(if n >= 64 { if x < 0 { -1 } else { 0 } } else { x >> n })),
        other => int_result(u, big(&other) >> n.min(1 << 30) as usize),
    }
}

/// `>>>`: logical shift right of the 64-bit two's complement form (for
/// SmallIntegers; LargeIntegers shift arithmetically).
pub fn unsigned_shift_right(u: &mut Universe, _argc: usize) -> Prim {
    let Some((a, Num::Small(n))) = operands(u) else { return Prim::Fail };
    match a {
        Num::Small(x) if n == 0 => Prim::Ok(Value::small(x)),
        Num::Small(x) if (1..64).contains(&n) => int_result(u, BigInt::from((x as u64) >> n)),
        Num::Small(_) if n >= 64 => Prim::Ok(Value::small(0)),
        _ if n < 0 => Prim::Fail,
        other => shift_by(u, other, n),
    }
}

/// `>>`: arithmetic shift right.
pub fn shift_right(u: &mut Universe, _argc: usize) -> Prim {
    let Some((a, Num::Small(n))) = operands(u) else { return Prim::Fail };
    if n < 0 {
        return Prim::Fail;
    }
    shift_by(u, a, n)
}

/// `=` (an Integer is never equal to a non-number).
pub fn eq(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::Eq)
}

/// `~=`
pub fn ne(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::Ne)
}

/// `<`
pub fn lt(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::Lt)
}

/// `>`
pub fn gt(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::Gt)
}

/// `<=`
pub fn le(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::Le)
}

/// `>=`
pub fn ge(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::Ge)
}

fn receiver_big(u: &Universe, argc: usize) -> Option<BigInt> {
    u.integer_value(receiver(u, argc))
}

/// `sqrt`: an Integer for perfect squares, else a Double.
pub fn sqrt(u: &mut Universe, argc: usize) -> Prim {
    let Some(n) = receiver_big(u, argc) else { return Prim::Fail };
    if n.is_negative() {
        return Prim::Raise(ErrorKind::Arithmetic, "Domain error.".into());
    }
    // The square root of the value as a Double; an Integer when that is
    // whole (exact for perfect squares, which covers every result a Double
    // cannot hold exactly).
    let root = n.sqrt();
    if &root * &root == n {
        return int_result(u, root);
    }
    let d = try_prim!(big_to_f64(&n)).sqrt();
    if d.fract() == 0.0 { int_result(u, float_to_big(d)) } else { double_result(u, d) }
}

/// `asString`
pub fn as_string(u: &mut Universe, argc: usize) -> Prim {
    let Some(n) = receiver_big(u, argc) else { return Prim::Fail };
    match u.new_string(&n.to_string()) {
        Ok(v) => Prim::Ok(v),
        Err(e) => e.into(),
    }
}

/// `asDouble`
pub fn as_double(u: &mut Universe, argc: usize) -> Prim {
    let Some(n) = receiver_big(u, argc) else { return Prim::Fail };
    let d = try_prim!(big_to_f64(&n));
    double_result(u, d)
}

fn low_32(n: &BigInt) -> u32 {
    let (_, digits) = (n & BigInt::from(u32::MAX)).to_u32_digits();
    digits.first().copied().unwrap_or(0)
}

/// `as32BitSignedValue`
pub fn as_32_signed(u: &mut Universe, argc: usize) -> Prim {
    let Some(n) = receiver_big(u, argc) else { return Prim::Fail };
    Prim::Ok(Value::small(i64::from(low_32(&n) as i32)))
}

/// `as32BitUnsignedValue`
pub fn as_32_unsigned(u: &mut Universe, argc: usize) -> Prim {
    let Some(n) = receiver_big(u, argc) else { return Prim::Fail };
    Prim::Ok(Value::small(i64::from(low_32(&n))))
}

/// `hashcode`
pub fn hashcode(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    if r.is_int() {
        return Prim::Ok(r);
    }
    let Some(n) = receiver_big(u, argc) else { return Prim::Fail };
    // Every byte of the magnitude counts (FNV-1a), so large integers that
    // differ only above their low bits hash apart.
    let (sign, magnitude) = n.to_bytes_le();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(sign == num_bigint::Sign::Minus);
    for b in magnitude {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    Prim::Ok(Value::small((h >> 2) as i64))
}

/// `atRandom`: a random Integer from 1 to the receiver.
pub fn at_random(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    let Some(n) = r.as_int().filter(|&n| n > 0) else { return Prim::Fail };
    use std::cell::Cell;
    thread_local!(static STATE: Cell<u64> = const { Cell::new(0x2545_f491_4f6c_dd1d) });
    let x = STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    });
    Prim::Ok(Value::small((x % n as u64) as i64 + 1))
}

/// `asCharacter`
pub fn as_character(u: &mut Universe, argc: usize) -> Prim {
    match receiver(u, argc).as_int().and_then(|i| u32::try_from(i).ok()).and_then(char::from_u32) {
        Some(c) => Prim::Ok(Value::char(c)),
        None => Prim::Fail,
    }
}

/// `Integer fromString: 'digits'`
pub fn from_string(u: &mut Universe, argc: usize) -> Prim {
    let Some(text) = u.string_value(arg(u, argc, 0)) else { return Prim::Fail };
    match text.trim().parse::<BigInt>() {
        Ok(n) => int_result(u, n),
        Err(_) => Prim::Error(format!("'{text}' cannot be converted to an Integer.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_convert_exactly() {
        assert_eq!(float_to_big(3.0), BigInt::from(3));
        assert_eq!(float_to_big(-1e20), "-100000000000000000000".parse::<BigInt>().expect("parses"));
        assert_eq!(float_to_big(2f64.powi(70)), BigInt::from(1) << 70usize);
    }
}

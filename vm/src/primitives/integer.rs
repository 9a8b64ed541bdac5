//! Integer primitives: SmallIntegers with overflow into LargeIntegers, and
//! mixed arithmetic with Doubles (which coerces to Double, except `/`, which
//! stays an integer division as in SOM).

use num_bigint::BigInt;
use num_integer::Integer as _;
use num_traits::{Signed, ToPrimitive, Zero};

use super::{ErrorKind, Prim, arg, receiver};
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

fn arith(
    u: &mut Universe,
    small: fn(i64, i64) -> Option<i64>,
    large: fn(&BigInt, &BigInt) -> BigInt,
    float: fn(f64, f64) -> f64,
) -> Prim {
    let Some((a, b)) = operands(u) else { return Prim::Fail };
    match (&a, &b) {
        (Num::Small(x), Num::Small(y)) => match small(*x, *y).and_then(Value::int) {
            Some(v) => Prim::Ok(v),
            None => int_result(u, large(&BigInt::from(*x), &BigInt::from(*y))),
        },
        (_, Num::Float(y)) => {
            let x = try_prim!(to_f64(&a));
            double_result(u, float(x, *y))
        }
        _ => int_result(u, large(&big(&a), &big(&b))),
    }
}

/// `+`
pub fn add(u: &mut Universe, _argc: usize) -> Prim {
    arith(u, i64::checked_add, |a, b| a + b, |a, b| a + b)
}

/// `-`
pub fn sub(u: &mut Universe, _argc: usize) -> Prim {
    arith(u, i64::checked_sub, |a, b| a - b, |a, b| a - b)
}

/// `*`
pub fn mul(u: &mut Universe, _argc: usize) -> Prim {
    arith(u, i64::checked_mul, |a, b| a * b, |a, b| a * b)
}

fn division_by_zero() -> Prim {
    Prim::Raise(ErrorKind::ZeroDivide, "Division by zero.".into())
}

/// `/`: integer division, truncating (a Double argument divides as Doubles
/// and truncates the quotient to an Integer).
pub fn div(u: &mut Universe, _argc: usize) -> Prim {
    let Some((a, b)) = operands(u) else { return Prim::Fail };
    match (&a, &b) {
        (_, Num::Small(0)) => division_by_zero(),
        (Num::Small(x), Num::Small(y)) => match x.checked_div(*y).and_then(Value::int) {
            Some(v) => Prim::Ok(v),
            None => int_result(u, BigInt::from(*x) / BigInt::from(*y)),
        },
        (_, Num::Float(y)) => {
            let x = try_prim!(to_f64(&a));
            let q = (x / y).trunc();
            if !q.is_finite() {
                return Prim::Raise(ErrorKind::ZeroDivide, "Division by zero.".into());
            }
            int_result(u, float_to_big(q))
        }
        _ => {
            let divisor = big(&b);
            if divisor.is_zero() {
                return division_by_zero();
            }
            int_result(u, big(&a) / divisor)
        }
    }
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
    let Some((a, b)) = operands(u) else { return Prim::Fail };
    let x = try_prim!(to_f64(&a));
    let y = try_prim!(to_f64(&b));
    if y == 0.0 {
        return division_by_zero();
    }
    double_result(u, x / y)
}

/// `%`: modulo, with the sign of the divisor.
pub fn modulo(u: &mut Universe, _argc: usize) -> Prim {
    let Some((a, b)) = operands(u) else { return Prim::Fail };
    match (&a, &b) {
        (_, Num::Small(0)) => division_by_zero(),
        (Num::Small(x), Num::Small(y)) => Prim::Ok(Value::small(x.mod_floor(y))),
        (_, Num::Float(y)) => {
            let x = try_prim!(to_f64(&a));
            let r = x % y;
            double_result(u, if r != 0.0 && (r < 0.0) != (*y < 0.0) { r + y } else { r })
        }
        _ => {
            let divisor = big(&b);
            if divisor.is_zero() {
                return division_by_zero();
            }
            int_result(u, big(&a).mod_floor(&divisor))
        }
    }
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

fn compare(u: &mut Universe, test: fn(std::cmp::Ordering) -> bool) -> Prim {
    let Some((a, b)) = operands(u) else { return Prim::Fail };
    let ord = match (&a, &b) {
        (Num::Small(x), Num::Small(y)) => x.cmp(y),
        (_, Num::Float(y)) => {
            let x = try_prim!(to_f64(&a));
            match x.partial_cmp(y) {
                Some(o) => o,
                None => return Prim::Ok(u.boolean(false)),
            }
        }
        _ => big(&a).cmp(&big(&b)),
    };
    Prim::Ok(u.boolean(test(ord)))
}

/// `=` (an Integer is never equal to a non-number).
pub fn eq(u: &mut Universe, argc: usize) -> Prim {
    if num(u, arg(u, argc, 0)).is_none() {
        return Prim::Ok(u.boolean(false));
    }
    compare(u, |o| o.is_eq())
}

/// `~=`
pub fn ne(u: &mut Universe, argc: usize) -> Prim {
    if num(u, arg(u, argc, 0)).is_none() {
        return Prim::Ok(u.boolean(true));
    }
    compare(u, |o| o.is_ne())
}

/// `<`
pub fn lt(u: &mut Universe, _argc: usize) -> Prim {
    compare(u, |o| o.is_lt())
}

/// `>`
pub fn gt(u: &mut Universe, _argc: usize) -> Prim {
    compare(u, |o| o.is_gt())
}

/// `<=`
pub fn le(u: &mut Universe, _argc: usize) -> Prim {
    compare(u, |o| o.is_le())
}

/// `>=`
pub fn ge(u: &mut Universe, _argc: usize) -> Prim {
    compare(u, |o| o.is_ge())
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

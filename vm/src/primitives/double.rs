//! Double primitives (the receiver is a Double; Integer arguments coerce).

use super::integer::big_to_f64;
use super::{ErrorKind, Prim, arg, receiver};
use crate::universe::Universe;
use crate::value::Value;

fn operand(u: &Universe, v: Value) -> Option<Result<f64, Prim>> {
    if let Some(d) = u.double_value(v) {
        return Some(Ok(d));
    }
    u.integer_value(v).map(|b| big_to_f64(&b))
}

fn operands(u: &Universe) -> Option<Result<(f64, f64), Prim>> {
    let a = u.double_value(receiver(u, 1))?;
    Some(operand(u, arg(u, 1, 0))?.map(|b| (a, b)))
}

fn result(u: &mut Universe, d: f64) -> Prim {
    match u.new_double(d) {
        Ok(v) => Prim::Ok(v),
        Err(e) => e.into(),
    }
}

fn arith(u: &mut Universe, f: fn(f64, f64) -> f64) -> Prim {
    match operands(u) {
        Some(Ok((a, b))) => result(u, f(a, b)),
        Some(Err(p)) => p,
        None => Prim::Fail,
    }
}

fn compare(u: &mut Universe, f: fn(f64, f64) -> bool) -> Prim {
    match operands(u) {
        Some(Ok((a, b))) => Prim::Ok(u.boolean(f(a, b))),
        Some(Err(p)) => p,
        None => Prim::Fail,
    }
}

/// `+`
pub fn add(u: &mut Universe, _argc: usize) -> Prim {
    arith(u, |a, b| a + b)
}

/// `-`
pub fn sub(u: &mut Universe, _argc: usize) -> Prim {
    arith(u, |a, b| a - b)
}

/// `*`
pub fn mul(u: &mut Universe, _argc: usize) -> Prim {
    arith(u, |a, b| a * b)
}

/// `/` and `//`: IEEE division by a Double (a zero Double divisor gives an
/// infinity or NaN, which AWFY's CD relies on); dividing by Integer zero is
/// an error.
pub fn div(u: &mut Universe, argc: usize) -> Prim {
    if arg(u, argc, 0) == Value::small(0) {
        return Prim::Raise(ErrorKind::ZeroDivide, "Division by zero.".into());
    }
    arith(u, |a, b| a / b)
}

/// `%`: the remainder of truncated division (the sign of the receiver).
pub fn modulo(u: &mut Universe, _argc: usize) -> Prim {
    arith(u, |a, b| a % b)
}

/// `=` (false for non-numbers)
pub fn eq(u: &mut Universe, argc: usize) -> Prim {
    if operand(u, arg(u, argc, 0)).is_none() {
        return Prim::Ok(u.boolean(false));
    }
    compare(u, |a, b| a == b)
}

/// `<`
pub fn lt(u: &mut Universe, _argc: usize) -> Prim {
    compare(u, |a, b| a < b)
}

/// `>`
pub fn gt(u: &mut Universe, _argc: usize) -> Prim {
    compare(u, |a, b| a > b)
}

/// `<=`
pub fn le(u: &mut Universe, _argc: usize) -> Prim {
    compare(u, |a, b| a <= b)
}

/// `>=`
pub fn ge(u: &mut Universe, _argc: usize) -> Prim {
    compare(u, |a, b| a >= b)
}

fn unary(u: &mut Universe, argc: usize, f: fn(f64) -> f64) -> Prim {
    match u.double_value(receiver(u, argc)) {
        Some(d) => result(u, f(d)),
        None => Prim::Fail,
    }
}

/// `sqrt`
pub fn sqrt(u: &mut Universe, argc: usize) -> Prim {
    unary(u, argc, f64::sqrt)
}

/// `cos`
pub fn cos(u: &mut Universe, argc: usize) -> Prim {
    unary(u, argc, f64::cos)
}

/// `sin`
pub fn sin(u: &mut Universe, argc: usize) -> Prim {
    unary(u, argc, f64::sin)
}

fn to_integer(u: &mut Universe, d: f64) -> Prim {
    if !d.is_finite() {
        return Prim::Raise(ErrorKind::Arithmetic, format!("{} cannot be converted to an Integer.", format_double(d)));
    }
    let Ok(big) = format!("{d:.0}").parse::<num_bigint::BigInt>() else { return Prim::Fail };
    match u.new_integer(&big) {
        Ok(v) => Prim::Ok(v),
        Err(e) => e.into(),
    }
}

/// `round`: the nearest Integer (halves away from zero).
pub fn round(u: &mut Universe, argc: usize) -> Prim {
    match u.double_value(receiver(u, argc)) {
        Some(d) => to_integer(u, d.round()),
        None => Prim::Fail,
    }
}

/// `asInteger`: truncation towards zero.
pub fn as_integer(u: &mut Universe, argc: usize) -> Prim {
    match u.double_value(receiver(u, argc)) {
        Some(d) => to_integer(u, d.trunc()),
        None => Prim::Fail,
    }
}

/// A Double as SOM prints it: the shortest text that reads back exactly,
/// with `.0` for integral values and an exponent for very large or small
/// magnitudes (`1.0`, `0.1`, `1.152921504606847e18`).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let text = format!("{d:?}");
    match text.split_once('e') {
        Some((mantissa, exp)) if !mantissa.contains('.') => format!("{mantissa}.0e{exp}"),
        _ => text,
    }
}

/// `asString`
pub fn as_string(u: &mut Universe, argc: usize) -> Prim {
    let Some(d) = u.double_value(receiver(u, argc)) else { return Prim::Fail };
    match u.new_string(&format_double(d)) {
        Ok(v) => Prim::Ok(v),
        Err(e) => e.into(),
    }
}

/// `hashcode`
pub fn hashcode(u: &mut Universe, argc: usize) -> Prim {
    let Some(d) = u.double_value(receiver(u, argc)) else { return Prim::Fail };
    let bits = d.to_bits();
    Prim::Ok(Value::small(((bits ^ (bits >> 32)) & 0x7fff_ffff) as i64))
}

/// `Double PositiveInfinity`
pub fn positive_infinity(u: &mut Universe, _argc: usize) -> Prim {
    result(u, f64::INFINITY)
}

/// `Double fromString: 'text'`
pub fn from_string(u: &mut Universe, argc: usize) -> Prim {
    let Some(text) = u.string_value(arg(u, argc, 0)) else { return Prim::Fail };
    match text.trim().parse::<f64>() {
        Ok(d) => result(u, d),
        Err(_) => Prim::Error(format!("'{text}' cannot be converted to a Double.")),
    }
}

#[cfg(test)]
mod tests {
    use super::format_double;

    #[test]
    fn som_double_printing() {
        assert_eq!(format_double(1.0), "1.0");
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(2.1), "2.1");
        assert_eq!(format_double(1.152921504606847e18), "1.152921504606847e18");
        assert_eq!(format_double(1e20), "1.0e20");
        assert_eq!(format_double(-0.09999999999999987), "-0.09999999999999987");
        assert_eq!(format_double(100000.19879879123), "100000.19879879123");
    }
}

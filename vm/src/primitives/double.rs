//! Double primitives (the receiver is a Double; Integer arguments coerce).
//! The special arithmetic and comparison operations follow their one
//! definition in [`crate::arith`].

use super::integer::big_to_f64;
use super::{ErrorKind, Prim, answer, arg, receiver};
use crate::arith::{self, ArithOp};
use crate::universe::Universe;
use crate::value::Value;

macro_rules! try_prim {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(p) => return p,
        }
    };
}

fn result(u: &mut Universe, d: f64) -> Prim {
    match u.new_double(d) {
        Ok(v) => Prim::Ok(v),
        Err(e) => e.into(),
    }
}

/// The Double primitive of special operation `op`: the definition in
/// [`arith`], for a SmallFloat or a boxed Double receiver and a Double or
/// Integer argument.
fn special(u: &mut Universe, op: ArithOp) -> Prim {
    let (r, b) = (receiver(u, 1), arg(u, 1, 0));
    if r.is_small_float()
        && let Some(p) = answer(u, arith::mixed(op, r, b))
    {
        return p;
    }
    let Some(x) = u.double_value(r) else { return Prim::Fail };
    let outcome = if b.is_int() {
        arith::float_int(op, x, b.int_value())
    } else if let Some(y) = u.double_value(b) {
        arith::float_float(op, x, y)
    } else if let Some(y) = u.integer_value(b) {
        arith::float_float(op, x, try_prim!(big_to_f64(&y)))
    } else if op == ArithOp::Eq {
        // A Double is never equal to a non-number.
        arith::Outcome::Bool(false)
    } else {
        return Prim::Fail;
    };
    answer(u, outcome).unwrap_or(Prim::Fail)
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

/// `/`: IEEE division by a Double (a zero Double divisor gives an
/// infinity or NaN, which AWFY's CD relies on); dividing by Integer zero is
/// an error.
pub fn div(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::Div)
}

/// `//`: as `/`.
pub fn float_div(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::FloatDiv)
}

/// `%`: the remainder of truncated division (the sign of the receiver).
pub fn modulo(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::Mod)
}

/// `=` (false for non-numbers)
pub fn eq(u: &mut Universe, _argc: usize) -> Prim {
    special(u, ArithOp::Eq)
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

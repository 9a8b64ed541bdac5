//! Doubles and LargeIntegers: boxing, unboxing and normalising.

use num_bigint::{BigInt, Sign};
use num_traits::ToPrimitive;

use super::{Result, Universe};
use crate::object::Format;
use crate::value::Value;

impl Universe {
    /// A Double: a SmallFloat when it has an immediate form, else a boxed
    /// object (may collect).
    pub fn new_double(&mut self, d: f64) -> Result<Value> {
        if let Some(v) = Value::small_float(d) {
            return Ok(v);
        }
        let v = self.alloc(self.known.double, Format::Double, 8)?;
        v.bytes_mut().copy_from_slice(&d.to_le_bytes());
        Ok(v)
    }

    /// A boxed Double in old space (literals).
    pub fn new_old_double(&mut self, d: f64) -> Result<Value> {
        if let Some(v) = Value::small_float(d) {
            return Ok(v);
        }
        let v = self.alloc_old(self.known.double, Format::Double, 8)?;
        v.bytes_mut().copy_from_slice(&d.to_le_bytes());
        Ok(v)
    }

    /// The value of a Double (SmallFloat or boxed), if `v` is one.
    #[inline]
    pub fn double_value(&self, v: Value) -> Option<f64> {
        if v.is_small_float() {
            Some(v.small_float_value())
        } else if v.is_pointer() && v.format() == Format::Double {
            let mut b = [0u8; 8];
            b.copy_from_slice(v.bytes());
            Some(f64::from_le_bytes(b))
        } else {
            None
        }
    }

    /// Whether `v` is a LargeInteger object.
    pub fn is_large_int(&self, v: Value) -> bool {
        v.is_pointer() && v.format() == Format::LargeInt
    }

    /// The value of an Integer (small or large), if `v` is one.
    pub fn integer_value(&self, v: Value) -> Option<BigInt> {
        if v.is_int() {
            return Some(BigInt::from(v.int_value()));
        }
        if !self.is_large_int(v) {
            return None;
        }
        let bytes = v.bytes();
        let sign = if bytes.first() == Some(&1) { Sign::Minus } else { Sign::Plus };
        Some(BigInt::from_bytes_le(sign, &bytes[1..]))
    }

    /// An Integer: a SmallInteger when it fits, else a LargeInteger object
    /// (may collect).
    pub fn new_integer(&mut self, i: &BigInt) -> Result<Value> {
        self.make_integer(i, false)
    }

    /// An Integer whose object (if large) lives in old space (literals).
    pub fn new_old_integer(&mut self, i: &BigInt) -> Result<Value> {
        self.make_integer(i, true)
    }

    fn make_integer(&mut self, i: &BigInt, old: bool) -> Result<Value> {
        if let Some(v) = i.to_i64().and_then(Value::int) {
            return Ok(v);
        }
        let (sign, magnitude) = i.to_bytes_le();
        let size = magnitude.len() + 1;
        let v = if old {
            self.alloc_old(self.known.integer, Format::LargeInt, size)?
        } else {
            self.alloc(self.known.integer, Format::LargeInt, size)?
        };
        let bytes = v.bytes_mut();
        bytes[0] = u8::from(sign == Sign::Minus);
        bytes[1..].copy_from_slice(&magnitude);
        Ok(v)
    }

    /// An Integer from an `i64` (may collect when it does not fit a
    /// SmallInteger).
    pub fn new_int(&mut self, i: i64) -> Result<Value> {
        match Value::int(i) {
            Some(v) => Ok(v),
            None => self.new_integer(&BigInt::from(i)),
        }
    }
}

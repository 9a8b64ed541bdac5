//! Tagged 64-bit values.
//!
//! ```text
//!  63                                                  3  2  1  0
//! +-----------------------------------------------------+--+--+--+
//! |            signed 63-bit integer                       |  |1 |  SmallInteger
//! +-----------------------------------------------------+--+--+--+
//! |            object address (8-byte aligned)          | 0| 0| 0|  pointer
//! +-----------------------------------------------------+--+--+--+
//! |            Unicode scalar value                     | 0| 1| 0|  Character
//! +-----------------------------------------------------+--+--+--+
//! | exponent - 896 (8 bits) | 52-bit mantissa | sign   | 1| 0| 0|  SmallFloat
//! +-----------------------------------------------------+--+--+--+
//! |            VM-internal marker                       | 1| 1| 0|  special
//! +-----------------------------------------------------+--+--+--+
//! ```
//!
//! SmallIntegers cover −2⁶² … 2⁶²−1; larger results overflow into
//! LargeInteger objects. Doubles whose exponent lies in 2⁻¹²⁶ … 2¹²⁷ (and
//! ±0.0) are immediates (the SmallFloat64 scheme of the Spur VM); others —
//! infinities, NaNs, very large or small magnitudes — are boxed Double
//! objects. `nil`, `true` and `false` are objects. The one special value,
//! [`Value::UNBOUND`], marks a global binding that has no value; it never
//! reaches Smalltalk code.

use std::fmt;

/// A Smalltalk value: an immediate or a pointer to a heap object.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Value(u64);

/// Mask of the tag bits.
pub const TAG_MASK: u64 = 0b111;
/// Tag of a pointer.
pub const TAG_POINTER: u64 = 0b000;
/// Tag of a Character.
pub const TAG_CHARACTER: u64 = 0b010;
/// Tag of a SmallFloat.
pub const TAG_FLOAT: u64 = 0b100;
/// Tag of a VM-internal special value.
pub const TAG_SPECIAL: u64 = 0b110;
/// The SmallInteger tag bit.
pub const TAG_INT: u64 = 0b1;

/// The largest SmallInteger.
pub const SMALL_INT_MAX: i64 = (1 << 62) - 1;
/// The smallest SmallInteger.
pub const SMALL_INT_MIN: i64 = -(1 << 62);

/// Exponent bias shift for SmallFloats: exponents 897..=1150 are immediates.
const FLOAT_EXP_OFFSET: u64 = 896;

const _: () = assert!(size_of::<Value>() == 8);
const _: () = assert!(TAG_CHARACTER & TAG_INT == 0 && TAG_FLOAT & TAG_INT == 0 && TAG_SPECIAL & TAG_INT == 0);

impl Value {
    /// The binding marker: a global that has no value yet.
    pub const UNBOUND: Value = Value(TAG_SPECIAL | (1 << 3));

    /// The raw bits.
    #[inline(always)]
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// A value from raw bits (which must be a valid encoding).
    #[inline(always)]
    pub const fn from_bits(bits: u64) -> Value {
        Value(bits)
    }

    /// A SmallInteger, if `i` is in range.
    #[inline(always)]
    pub const fn int(i: i64) -> Option<Value> {
        if i >= SMALL_INT_MIN && i <= SMALL_INT_MAX { Some(Value(((i as u64) << 1) | TAG_INT)) } else { None }
    }

    /// A SmallInteger from a value known to be in range.
    #[inline(always)]
    pub const fn small(i: i64) -> Value {
        debug_assert!(i >= SMALL_INT_MIN && i <= SMALL_INT_MAX);
        Value(((i as u64) << 1) | TAG_INT)
    }

    /// Whether this is a SmallInteger.
    #[inline(always)]
    pub const fn is_int(self) -> bool {
        self.0 & TAG_INT != 0
    }

    /// The SmallInteger's value (meaningless for other values).
    #[inline(always)]
    pub const fn int_value(self) -> i64 {
        (self.0 as i64) >> 1
    }

    /// The SmallInteger's value, if this is one.
    #[inline(always)]
    pub const fn as_int(self) -> Option<i64> {
        if self.is_int() { Some(self.int_value()) } else { None }
    }

    /// Whether this is a pointer to a heap object.
    #[inline(always)]
    pub const fn is_pointer(self) -> bool {
        self.0 & TAG_MASK == TAG_POINTER && self.0 != 0
    }

    /// A value pointing at the object at `addr` (8-byte aligned, non-zero).
    #[inline(always)]
    pub fn from_addr(addr: usize) -> Value {
        debug_assert!(addr != 0 && addr as u64 & TAG_MASK == 0);
        Value(addr as u64)
    }

    /// The address of the object (meaningless for immediates).
    #[inline(always)]
    pub const fn addr(self) -> usize {
        self.0 as usize
    }

    /// A Character.
    #[inline(always)]
    pub const fn char(c: char) -> Value {
        Value(((c as u64) << 3) | TAG_CHARACTER)
    }

    /// Whether this is a Character.
    #[inline(always)]
    pub const fn is_char(self) -> bool {
        self.0 & TAG_MASK == TAG_CHARACTER
    }

    /// The Character, if this is one.
    pub fn as_char(self) -> Option<char> {
        if self.is_char() { char::from_u32((self.0 >> 3) as u32) } else { None }
    }

    /// Whether this is a SmallFloat.
    #[inline(always)]
    pub const fn is_small_float(self) -> bool {
        self.0 & TAG_MASK == TAG_FLOAT
    }

    /// The immediate encoding of `d`, if it has one: its bits rotated left
    /// by one (the sign to bit 0), the exponent rebased by
    /// [`FLOAT_EXP_OFFSET`], shifted over the tag. (±0.0 keep a zero
    /// exponent.) Native code boxes and unboxes with the same few steps.
    #[inline(always)]
    pub const fn small_float(d: f64) -> Option<Value> {
        let rotated = d.to_bits().rotate_left(1);
        if rotated <= 1 {
            return Some(Value((rotated << 3) | TAG_FLOAT));
        }
        if rotated.wrapping_sub(FLOAT_LOWEST) < FLOAT_SPAN {
            Some(Value(((rotated - FLOAT_BIAS) << 3) | TAG_FLOAT))
        } else {
            None
        }
    }

    /// The Double a SmallFloat holds (meaningless for other values).
    #[inline(always)]
    pub const fn small_float_value(self) -> f64 {
        let payload = self.0 >> 3;
        let rotated = if payload > 1 { payload + FLOAT_BIAS } else { payload };
        f64::from_bits(rotated.rotate_right(1))
    }
}

/// The exponent offset in a rotated double (exponent in bits 53..64).
pub const FLOAT_BIAS: u64 = FLOAT_EXP_OFFSET << 53;
/// The smallest rotated double with an immediate exponent (897)...
pub const FLOAT_LOWEST: u64 = (FLOAT_EXP_OFFSET + 1) << 53;
/// ... and the span of the immediate exponents (897..=1150).
pub const FLOAT_SPAN: u64 = 254 << 53;

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_int() {
            write!(f, "{}", self.int_value())
        } else if let Some(c) = self.as_char() {
            write!(f, "${c}")
        } else if self.is_small_float() {
            write!(f, "{:?}", self.small_float_value())
        } else if *self == Value::UNBOUND {
            f.write_str("<unbound>")
        } else {
            write!(f, "@{:#x}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_integers_round_trip() {
        for i in [0, 1, -1, 42, SMALL_INT_MAX, SMALL_INT_MIN, 1 << 40, -(1 << 40)] {
            let v = Value::int(i).expect("in range");
            assert!(v.is_int() && !v.is_pointer() && !v.is_char() && !v.is_small_float());
            assert_eq!(v.int_value(), i);
        }
        assert_eq!(Value::int(SMALL_INT_MAX + 1), None);
        assert_eq!(Value::int(SMALL_INT_MIN - 1), None);
    }

    #[test]
    fn characters_round_trip() {
        for c in ['a', '\0', 'é', '✓', '\u{10ffff}'] {
            let v = Value::char(c);
            assert!(v.is_char() && !v.is_int() && !v.is_pointer());
            assert_eq!(v.as_char(), Some(c));
        }
    }

    #[test]
    fn small_floats_round_trip_where_representable() {
        for d in [0.0, -0.0, 1.0, -1.5, 0.1, 2.5e-7, 1e38, -1e-37, 123456.789, f64::EPSILON] {
            let v = Value::small_float(d).unwrap_or_else(|| panic!("{d} is immediate"));
            assert!(v.is_small_float() && !v.is_int() && !v.is_pointer());
            assert_eq!(v.small_float_value().to_bits(), d.to_bits(), "{d}");
        }
        for d in [f64::INFINITY, f64::NAN, 1e300, 1e-300, f64::MIN_POSITIVE, 5e-324] {
            assert_eq!(Value::small_float(d), None, "{d} is boxed");
        }
    }

    #[test]
    fn pointers() {
        let v = Value::from_addr(0x1000);
        assert!(v.is_pointer() && !v.is_int());
        assert_eq!(v.addr(), 0x1000);
        assert!(!Value::UNBOUND.is_pointer());
    }
}

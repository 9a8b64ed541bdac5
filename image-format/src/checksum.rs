//! FNV-1a 64: the checksum that protects the header and section table.
//!
//! FNV-1a detects every change of a single byte in an input of fixed
//! length: each step xors in one byte and multiplies by an odd prime, both
//! bijections of the running state, so states that differ once stay
//! different to the end.

/// The FNV-1a 64 offset basis.
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// The FNV-1a 64 prime.
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// An FNV-1a 64 hash being computed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    /// A hash of no bytes yet.
    pub(crate) const fn new() -> Self {
        Self(OFFSET_BASIS)
    }

    /// Feeds one byte.
    pub(crate) const fn write_u8(&mut self, byte: u8) {
        self.0 = (self.0 ^ byte as u64).wrapping_mul(PRIME);
    }

    /// Feeds a run of bytes.
    #[cfg(test)]
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u8(byte);
        }
    }

    /// The hash of everything fed so far.
    pub(crate) const fn finish(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Fnv1a;

    fn fnv(bytes: &[u8]) -> u64 {
        let mut hash = Fnv1a::new();
        hash.write(bytes);
        hash.finish()
    }

    #[test]
    fn matches_reference_vectors() {
        assert_eq!(fnv(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv(b"foobar"), 0x8594_4171_f739_67e8);
    }
}

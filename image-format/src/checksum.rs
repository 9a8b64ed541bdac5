//! Checksums: FNV-1a 64 protects the header and section table; [`fast64`],
//! a word-at-a-time relative of it, protects sections and chunks, which
//! can be large.
//!
//! Both detect every change of a single byte in an input of fixed length:
//! each step xors in its input and multiplies by an odd constant, both
//! bijections of the running state, so states that differ once stay
//! different to the end. They guard against damage, not tampering.

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

const LANE_PRIMES: [u64; 4] =
    [0x9e37_79b9_7f4a_7c15 | 1, 0xc2b2_ae3d_27d4_eb4f, 0x1656_67b1_9e37_79f9, 0x27d4_eb2f_1656_67c5];

/// A fast 64-bit checksum of `bytes`: four independent lanes of
/// `(h ^ word) * odd`, folded together the same way, then the tail and the
/// length. Several gigabytes per second, so that checking a 64 KiB chunk
/// when it is first touched costs microseconds.
pub fn fast64(bytes: &[u8]) -> u64 {
    let mut lanes = [OFFSET_BASIS, OFFSET_BASIS ^ 1, OFFSET_BASIS ^ 2, OFFSET_BASIS ^ 3];
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        for (i, lane) in lanes.iter_mut().enumerate() {
            let word = u64::from_le_bytes(block[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            *lane = (*lane ^ word).wrapping_mul(LANE_PRIMES[i]);
        }
    }
    let mut h = OFFSET_BASIS;
    for (i, lane) in lanes.iter().enumerate() {
        h = (h ^ lane).wrapping_mul(LANE_PRIMES[i]);
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for word in &mut words {
        h = (h ^ u64::from_le_bytes(word.try_into().expect("8 bytes"))).wrapping_mul(PRIME);
    }
    for &byte in words.remainder() {
        h = (h ^ u64::from(byte)).wrapping_mul(PRIME);
    }
    (h ^ bytes.len() as u64).wrapping_mul(LANE_PRIMES[0])
}

#[cfg(test)]
mod tests {
    use super::{Fnv1a, fast64};

    #[test]
    fn fast64_sees_every_single_byte_change() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        let base = fast64(&data);
        for at in 0..data.len() {
            for bit in 0..8 {
                let mut copy = data.clone();
                copy[at] ^= 1 << bit;
                assert_ne!(fast64(&copy), base, "flip of bit {bit} at {at}");
            }
        }
        assert_ne!(fast64(&data[..199]), base);
        assert_ne!(fast64(b""), fast64(b"\0"));
    }

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

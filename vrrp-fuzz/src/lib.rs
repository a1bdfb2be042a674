//! The fuzz harnesses: one function per target, each taking arbitrary bytes and panicking
//! (with a message saying which property broke) only when the code under test is wrong.
//!
//! Two drivers call them: cargo-fuzz (`fuzz/fuzz_targets/*.rs`, `cargo xtask fuzz`), which
//! searches for inputs, and the plain tests in `tests/corpus.rs` (part of `cargo xtask
//! test`), which replay the committed corpora and a bounded number of fresh random inputs,
//! so that a regression fails CI without cargo-fuzz.
//!
//! - [`config`]: bytes as a keepalived.conf (and as a file it includes);
//! - [`wire`]: VRRP v2/v3 messages, whole frames, gratuitous ARP and NA;
//! - [`election`]: input sequences for a few routers on one simulated link, fake clock;
//! - [`xdp`]: frames through the real XDP program and through the agent's model of it
//!   (needs root).
pub mod config;
pub mod election;
pub mod wire;
pub mod xdp;

/// Reads bytes off the front of a fuzz input; yields zeros once it runs out, so every
/// input, however short, is a complete (if dull) case.
pub struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes(data)
    }

    /// The next byte (0 at the end).
    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    /// The next two bytes, big-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// One of `items`, chosen by the next byte.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::from(self.u8()) % items.len()]
    }

    /// Whether anything is left.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The fuzz targets, by the names `cargo xtask fuzz` and the corpus directories use.
pub const TARGETS: [&str; 4] = ["config", "wire", "election", "xdp_vs_agent"];

/// A tiny xorshift64* generator for the bounded random cases of the plain tests.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `base` with a few random byte changes, insertions, deletions or splices: the same
    /// kind of mutation libFuzzer starts with.
    pub fn mutate(&mut self, base: &[u8]) -> Vec<u8> {
        let mut v = base.to_vec();
        for _ in 0..=self.below(4) {
            match self.below(5) {
                0 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v[i] = self.next_u64() as u8;
                }
                1 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v[i] ^= 1 << self.below(8);
                }
                2 => {
                    let i = self.below(v.len() + 1);
                    v.insert(i, self.next_u64() as u8);
                }
                3 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v.remove(i);
                }
                _ => {
                    let n = self.below(8);
                    for _ in 0..n {
                        v.push(self.next_u64() as u8);
                    }
                }
            }
        }
        v
    }
}

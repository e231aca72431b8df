//! The fuzz suite (tests only): seeded, bounded property tests that damage every kind of file
//! cellstream reads — the store's chunk files, manifest and per-cell result files, and MTX,
//! 10x HDF5 and h5ad inputs — by bit flips, truncation, lying headers and shapes, out-of-range
//! indices and bad names, and assert that each read ends in a clear error or, where the damage
//! left the content valid, in exactly the right data; never in a panic. Each file here covers
//! one family: `store_files`, `inputs`. Case counts are fixed by seeds, so a failure repeats.

mod inputs;
mod store_files;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A reproducible damage to a file's bytes, and what it was, for messages.
pub(crate) fn damage(bytes: &[u8], rng: &mut Xoshiro256PlusPlus) -> (Vec<u8>, String) {
    let mut out = bytes.to_vec();
    let at = rng.random_range(0..bytes.len());
    match rng.random_range(0..4) {
        0 | 1 => {
            let bit = rng.random_range(0..8);
            out[at] ^= 1 << bit;
            (out, format!("bit {bit} of byte {at} flipped"))
        }
        2 => {
            out.truncate(at);
            (out, format!("truncated to {at} bytes"))
        }
        _ => {
            let n = rng.random_range(1..=8).min(bytes.len() - at);
            (at..at + n).for_each(|i| out[i] = rng.random());
            (out, format!("{n} random bytes at {at}"))
        }
    }
}

pub(crate) fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// Runs `read` on damaged input; fails the test on a panic (naming `case`), and returns its
/// outcome otherwise.
pub(crate) fn no_panic<T>(case: &str, read: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(read)) {
        Ok(outcome) => outcome,
        Err(panic) => panic!("{case}: panicked: {}", crate::error::panic_message(&*panic)),
    }
}

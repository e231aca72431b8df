//! One chunk: the non-zeros of one cell (cell-major file) or one gene (gene-major file).
//!
//! Uncompressed payload, little-endian (see inst/FORMAT.md):
//! `nnz: u32, count_width: u8 (2 or 4), 3 zero bytes, index deltas: nnz x u32,
//!  counts: nnz x u16|u32, normalised: nnz x f16`.
//! Indices are strictly increasing and stored as deltas (first one absolute), which lz4
//! compresses far better than absolute positions. Counts use u16 unless one exceeds 65,535.

use crate::error::{Error, Result};
use half::f16;

const HEADER_LEN: usize = 8;

/// The decoded non-zeros of one chunk, indices absolute and ascending.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chunk {
    pub indices: Vec<u32>,
    pub counts: Vec<u32>,
    pub norm: Vec<f16>,
}

impl Chunk {
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }
}

/// Width in bytes of the raw counts of a chunk: 2 unless a count needs 4.
pub fn count_width(counts: &[u32]) -> u8 {
    if counts.iter().any(|&c| c > u16::MAX as u32) {
        4
    } else {
        2
    }
}

/// Size of the uncompressed payload of a chunk with `nnz` non-zeros.
pub fn payload_len(nnz: usize, width: u8) -> usize {
    HEADER_LEN + nnz * (4 + width as usize + 2)
}

/// Serialises a chunk into `out` (cleared first). Indices must be strictly increasing.
pub fn encode(indices: &[u32], counts: &[u32], norm: &[f16], out: &mut Vec<u8>) {
    debug_assert!(indices.len() == counts.len() && counts.len() == norm.len());
    debug_assert!(indices.windows(2).all(|w| w[0] < w[1]));
    let width = count_width(counts);
    out.clear();
    out.reserve(payload_len(indices.len(), width));
    out.extend_from_slice(&(indices.len() as u32).to_le_bytes());
    out.extend_from_slice(&[width, 0, 0, 0]);
    let mut previous = 0u32;
    for &i in indices {
        out.extend_from_slice(&(i - previous).to_le_bytes());
        previous = i;
    }
    if width == 2 {
        counts.iter().for_each(|&c| out.extend_from_slice(&(c as u16).to_le_bytes()));
    } else {
        counts.iter().for_each(|&c| out.extend_from_slice(&c.to_le_bytes()));
    }
    norm.iter().for_each(|v| out.extend_from_slice(&v.to_bits().to_le_bytes()));
}

/// Parses a payload written by [`encode`], checking every length and that indices stay
/// below `n_minor` (so a damaged chunk is an error, never an out-of-range index).
pub fn decode(payload: &[u8], n_minor: u64, into: &mut Chunk) -> Result<()> {
    let bad = |what: &str| Error::Corrupt(format!("damaged chunk: {what}"));
    if payload.len() < HEADER_LEN {
        return Err(bad("shorter than its header"));
    }
    let nnz = u32::from_le_bytes(payload[0..4].try_into().unwrap()) as usize;
    let width = payload[4];
    if width != 2 && width != 4 {
        return Err(bad("unknown count width"));
    }
    if payload.len() != payload_len(nnz, width) {
        return Err(bad("length does not match its number of non-zeros"));
    }
    let (idx_bytes, rest) = payload[HEADER_LEN..].split_at(nnz * 4);
    let (count_bytes, norm_bytes) = rest.split_at(nnz * width as usize);

    into.indices.clear();
    let mut position = 0u64;
    for (k, b) in idx_bytes.chunks_exact(4).enumerate() {
        let delta = u32::from_le_bytes(b.try_into().unwrap()) as u64;
        if k > 0 && delta == 0 {
            return Err(bad("indices not strictly increasing"));
        }
        position += delta;
        if position >= n_minor {
            return Err(bad("index out of range"));
        }
        into.indices.push(position as u32);
    }
    into.counts.clear();
    if width == 2 {
        into.counts.extend(count_bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]) as u32));
    } else {
        into.counts.extend(count_bytes.chunks_exact(4).map(|b| u32::from_le_bytes(b.try_into().unwrap())));
    }
    into.norm.clear();
    into.norm.extend(norm_bytes.chunks_exact(2).map(|b| f16::from_bits(u16::from_le_bytes([b[0], b[1]]))));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(indices: Vec<u32>, counts: Vec<u32>) -> (Chunk, Vec<u8>) {
        let norm: Vec<f16> = counts.iter().map(|&c| f16::from_f32(c as f32 / 7.0)).collect();
        let mut buf = Vec::new();
        encode(&indices, &counts, &norm, &mut buf);
        let mut chunk = Chunk::default();
        decode(&buf, 1 << 20, &mut chunk).unwrap();
        assert_eq!(chunk, Chunk { indices, counts, norm });
        (chunk, buf)
    }

    #[test]
    fn u16_counts_use_two_bytes() {
        let (_, buf) = roundtrip(vec![0, 5, 9], vec![1, 65_535, 3]);
        assert_eq!(buf[4], 2);
        assert_eq!(buf.len(), payload_len(3, 2));
    }

    #[test]
    fn a_count_above_u16_switches_to_u32_without_truncation() {
        let (chunk, buf) = roundtrip(vec![3, 4], vec![65_536, 1]);
        assert_eq!(buf[4], 4);
        assert_eq!(chunk.counts, vec![65_536, 1]);
    }

    #[test]
    fn empty_chunk_roundtrips() {
        let (chunk, _) = roundtrip(vec![], vec![]);
        assert_eq!(chunk.nnz(), 0);
    }

    #[test]
    fn decode_rejects_truncated_or_out_of_range_payloads() {
        let mut buf = Vec::new();
        encode(&[1, 7], &[2, 3], &[f16::ONE, f16::ONE], &mut buf);
        let mut chunk = Chunk::default();
        assert!(decode(&buf[..buf.len() - 1], 100, &mut chunk).is_err());
        assert!(decode(&buf, 7, &mut chunk).is_err(), "index 7 must be out of range for 7 minors");
        let mut bad_width = buf.clone();
        bad_width[4] = 3;
        assert!(decode(&bad_width, 100, &mut chunk).is_err());
    }
}

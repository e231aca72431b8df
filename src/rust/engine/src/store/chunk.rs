//! One chunk: the non-zeros of one cell (cell-major file) or one gene (gene-major file).
//!
//! Uncompressed payload (see inst/FORMAT.md): `nnz: u32 LE, count_width: u8 (2 or 4),
//! 3 zero bytes`, then three arrays, each stored as byte planes (all bytes 0 of the array's
//! little-endian values, then all bytes 1, ...): index deltas (u32; first one absolute),
//! counts (u16, or u32 if one exceeds 65,535), normalised values (f16). Deltas and planes
//! turn the mostly-zero high bytes into long runs that lz4 compresses well.

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
    let deltas = indices.iter().scan(0u32, |previous, &i| {
        let d = i - *previous;
        *previous = i;
        Some(d)
    });
    push_planes(out, deltas, 4);
    push_planes(out, counts.iter().copied(), width as usize);
    push_planes(out, norm.iter().map(|v| v.to_bits() as u32), 2);
}

/// Appends the low `width` little-endian bytes of each value, one byte plane after another.
fn push_planes(out: &mut Vec<u8>, values: impl Iterator<Item = u32> + Clone, width: usize) {
    for plane in 0..width {
        out.extend(values.clone().map(|v| (v >> (8 * plane)) as u8));
    }
}

/// Reassembles `n` values of `width` bytes from their byte planes.
fn read_planes(bytes: &[u8], n: usize, width: usize, into: &mut Vec<u32>) {
    into.clear();
    into.extend(bytes[..n].iter().map(|&b| b as u32));
    for plane in 1..width {
        let src = &bytes[plane * n..(plane + 1) * n];
        into.iter_mut()
            .zip(src)
            .for_each(|(v, &b)| *v |= (b as u32) << (8 * plane));
    }
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

    read_planes(idx_bytes, nnz, 4, &mut into.indices);
    if into.indices.iter().skip(1).any(|&d| d == 0) {
        return Err(bad("indices not strictly increasing"));
    }
    // Positions only grow, so the last one is the largest; summed in u64, they cannot wrap.
    let mut position = 0u64;
    for i in into.indices.iter_mut() {
        position += *i as u64;
        *i = position as u32;
    }
    if nnz > 0 && position >= n_minor {
        return Err(bad("index out of range"));
    }
    read_planes(count_bytes, nnz, width as usize, &mut into.counts);
    let (low, high) = norm_bytes.split_at(nnz);
    into.norm.clear();
    into.norm.extend(
        low.iter()
            .zip(high)
            .map(|(&lo, &hi)| f16::from_bits(u16::from_le_bytes([lo, hi]))),
    );
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
        assert_eq!(
            chunk,
            Chunk {
                indices,
                counts,
                norm
            }
        );
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
        assert!(
            decode(&buf, 7, &mut chunk).is_err(),
            "index 7 must be out of range for 7 minors"
        );
        let mut bad_width = buf.clone();
        bad_width[4] = 3;
        assert!(decode(&bad_width, 100, &mut chunk).is_err());
    }
}

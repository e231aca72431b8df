//! A cell embedding on disk (`pca.embedding` in the store): the 64-byte header
//! `magic "CSEMBED1", n_rows u64, n_cols u64, 40 zero bytes`, then the 0-based store index of
//! each row's cell (u32 LE each), then the values row by row (f32 LE). Written to a temporary
//! name and renamed, so a reader sees the old embedding or the new one, never a mix.

use super::kernels::Dense;
use crate::error::{Error, IoContext, Result};
use std::io::{BufWriter, Read, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"CSEMBED1";
const HEADER_LEN: usize = 64;

pub fn write_embedding(path: &Path, cells: &[usize], values: &Dense<f32>) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut out = BufWriter::new(std::fs::File::create(&tmp).ctx("cannot create", &tmp)?);
    let mut header = [0u8; HEADER_LEN];
    header[..8].copy_from_slice(MAGIC);
    header[8..16].copy_from_slice(&(values.rows as u64).to_le_bytes());
    header[16..24].copy_from_slice(&(values.k as u64).to_le_bytes());
    out.write_all(&header).ctx("cannot write", &tmp)?;
    for &c in cells {
        out.write_all(&(c as u32).to_le_bytes()).ctx("cannot write", &tmp)?;
    }
    for v in &values.data {
        out.write_all(&v.to_le_bytes()).ctx("cannot write", &tmp)?;
    }
    out.into_inner().map_err(|e| Error::io("cannot flush", e.into_error()))?.sync_all().ctx("cannot sync", &tmp)?;
    std::fs::rename(&tmp, path).ctx("cannot rename", &tmp)
}

/// The cells (0-based store indices) and values of an embedding file.
pub fn read_embedding(path: &Path) -> Result<(Vec<u32>, Dense<f32>)> {
    let mut bytes = Vec::new();
    std::fs::File::open(path).ctx("cannot open", path)?.read_to_end(&mut bytes).ctx("cannot read", path)?;
    let corrupt = || Error::Corrupt(format!("'{}' is not a complete cellstream embedding; rerun the step that wrote it", path.display()));
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(corrupt());
    }
    let rows = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
    let k = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
    if bytes.len() != HEADER_LEN + rows * 4 + rows * k * 4 {
        return Err(corrupt());
    }
    let words = |from: usize, n: usize| bytes[from..from + 4 * n].chunks_exact(4).map(|b| <[u8; 4]>::try_from(b).unwrap()).collect::<Vec<_>>();
    let cells = words(HEADER_LEN, rows).into_iter().map(u32::from_le_bytes).collect();
    let data = words(HEADER_LEN + 4 * rows, rows * k).into_iter().map(f32::from_le_bytes).collect();
    Ok((cells, Dense { rows, k, data }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_roundtrip_and_truncation_is_detected() {
        let dir = crate::testdir::TestDir::new();
        let path = dir.path().join("pca.embedding");
        let values = Dense { rows: 3, k: 2, data: vec![1.0, -2.5, 3.0, 4.0, f32::MIN_POSITIVE, 6.0] };
        write_embedding(&path, &[0, 7, 9], &values).unwrap();
        let (cells, back) = read_embedding(&path).unwrap();
        assert_eq!((cells, back), (vec![0, 7, 9], values));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert!(read_embedding(&path).is_err());
    }
}

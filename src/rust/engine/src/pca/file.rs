//! A cell embedding on disk (`pca.embedding` in the store; see `cellfile` for the header
//! and the cells): magic "CSEMBED1", m = the number of columns, then the values row by row
//! (f32).

use super::kernels::Dense;
use crate::error::Result;
use crate::store::cellfile::{put, read, take, write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"CSEMBED1";

pub fn write_embedding(path: &Path, cells: &[usize], values: &Dense<f32>) -> Result<()> {
    let cells: Vec<u32> = cells.iter().map(|&c| c as u32).collect();
    write(path, MAGIC, &cells, values.k as u64, |out| put(out, &values.data))
}

/// The cells (0-based store indices) and values of an embedding file.
pub fn read_embedding(path: &Path) -> Result<(Vec<u32>, Dense<f32>)> {
    read(
        path,
        MAGIC,
        |rows, k| 4 * rows * k,
        "run_pca(x)",
        |input, rows, k| {
            let data = take::<f32>(input, rows * k as usize)?;
            Ok(Dense {
                rows,
                k: k as usize,
                data,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_roundtrip_and_truncation_is_detected() {
        let dir = crate::testdir::TestDir::new();
        let path = dir.path().join("pca.embedding");
        let values = Dense {
            rows: 3,
            k: 2,
            data: vec![1.0, -2.5, 3.0, 4.0, f32::MIN_POSITIVE, 6.0],
        };
        write_embedding(&path, &[0, 7, 9], &values).unwrap();
        let (cells, back) = read_embedding(&path).unwrap();
        assert_eq!((cells, back), (vec![0, 7, 9], values));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert!(read_embedding(&path).is_err());
    }
}
